"""A character-level LSTM language model on Shakespeare's complete works.

The text is cut into a training part and a held-out validation part (its last ``--val-frac``).
The training part is read as ``--batch`` contiguous streams; each step takes the next
``--seq-len`` characters of every stream, and the LSTM state is carried over (detached) from one
step to the next, so gradients are truncated at ``--seq-len`` but the model sees long context
(truncated backpropagation through time). Adam with gradient clipping trains for ``--minutes``
of wall time (or ``--steps`` steps), the learning rate decaying along a cosine to a tenth. The
script reports the validation cross-entropy in nats and bits per character and prints a sample
drawn with temperature sampling from a prompt.

With the defaults (384 units, one layer, 64-character chunks, 32 streams, lr 3e-3) the validation
cross-entropy reaches 1.41 nats/char (2.03 bits) after 8 minutes on one thread of a 2-core AMD
EPYC (below 1.6 nats after 2 minutes); the unigram entropy of the text is 3.33 nats.

Run it with::

    python -m rustdl.examples.char_lm [--minutes M] [--hidden H] [--temperature T] [--device gpu]

The text comes from :func:`rustdl.datasets.shakespeare` (``make data`` downloads it).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import rustdl
from rustdl import nn, optim
from rustdl.nn import functional as F


class CharLSTM(nn.Module):
    """Embedding → LSTM → linear read-out over the character vocabulary.

    Shape:
        ``x (N, L)`` int64 and an optional state ``(h, c)``, each ``(layers, N, hidden)``
        → logits ``(N, L, vocab)`` and the new state.
    """

    def __init__(self, vocab: int, hidden: int = 256, layers: int = 1, embed: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def build_vocab(text: str) -> str:
    """The distinct characters of ``text``, sorted."""
    return "".join(sorted(set(text)))


def encode(text: str, vocab: str) -> np.ndarray:
    """Character ids: positions in ``vocab``."""
    codes = np.frombuffer(vocab.encode("utf-32-le"), dtype=np.uint32)  # sorted, as vocab is
    chars = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    ids = np.searchsorted(codes, chars)
    if len(chars) and (ids.max() >= len(codes) or (codes[ids] != chars).any()):
        raise ValueError("encode: the text holds characters outside the vocabulary")
    return ids.astype(np.int64)


def streams(ids: np.ndarray, batch: int) -> np.ndarray:
    """``ids`` cut into ``batch`` contiguous rows of equal length (the tail is dropped)."""
    n = len(ids) // batch
    return ids[: n * batch].reshape(batch, n)


def detach(state):
    return None if state is None else tuple(s.detach() for s in state)


def evaluate(
    model: CharLSTM, ids: np.ndarray, batch: int = 32, seq_len: int = 256, device: str = "cpu"
) -> float:
    """Mean cross-entropy (nats per character) of predicting ``ids[1:]`` from what precedes it.

    The text is read as ``batch`` contiguous streams with the state carried along each, so every
    prediction but the first of a stream sees all of its stream before it."""
    model.eval()
    rows = streams(ids, max(1, min(batch, len(ids) // 2)))
    total, count, state = 0.0, 0, None
    with rustdl.no_grad():
        for s in range(0, rows.shape[1] - 1, seq_len):
            x = rows[:, s : s + seq_len]
            y = rows[:, s + 1 : s + 1 + seq_len]
            x = x[:, : y.shape[1]]
            logits, state = model(rustdl.tensor(x, device=device), state)
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), rustdl.tensor(y.reshape(-1), device=device)
            )
            total += loss.item() * y.size
            count += y.size
    model.train()
    return total / max(count, 1)


def generate(
    model: CharLSTM,
    vocab: str,
    prompt: str = "ROMEO:",
    length: int = 400,
    temperature: float = 0.8,
    seed: int = 0,
    device: str = "cpu",
) -> str:
    """``length`` characters continuing ``prompt``, each drawn from ``softmax(logits / temperature)``
    with :func:`rustdl.multinomial` (seeded with ``seed``); ``temperature`` 0 takes the most likely
    character every time. The prompt's characters must be in ``vocab``."""
    index = {c: i for i, c in enumerate(vocab)}
    rustdl.manual_seed(seed)
    model.eval()
    out = []
    with rustdl.no_grad():
        x = rustdl.tensor([[index[c] for c in prompt]], device=device)
        state = None
        for _ in range(length):
            logits, state = model(x, state)
            last = logits[0, -1]
            if temperature <= 0:
                nxt = int(last.argmax().item())
            else:
                probs = F.softmax(last / temperature, dim=-1).cpu()  # the seeded CPU sampler
                nxt = int(rustdl.multinomial(probs, 1).item())
            out.append(vocab[nxt])
            x = rustdl.tensor([[nxt]], device=device)
    model.train()
    return "".join(out)


def train(
    train_ids: np.ndarray,
    val_ids: np.ndarray,
    vocab_size: int,
    hidden: int = 256,
    layers: int = 1,
    embed: int = 64,
    seq_len: int = 64,
    batch: int = 32,
    lr: float = 3e-3,
    clip: float = 1.0,
    minutes: float = 8.0,
    steps: int = 0,
    eval_every: float = 1.0,
    eval_chars: int = 50_000,
    seed: int = 0,
    device: str = "cpu",
    log=print,
) -> tuple[CharLSTM, list[tuple[int, float, float, float]]]:
    """Trains a :class:`CharLSTM` for ``minutes`` of wall time (or exactly ``steps`` steps when
    ``steps`` > 0). Every ``eval_every`` minutes (or ``steps / 8`` steps) it logs the training loss
    and the loss on the first ``eval_chars`` validation characters.

    Returns the model and the curve: (step, minutes, train loss, validation loss) rows; the
    minutes count training only, not the evaluations."""
    rustdl.manual_seed(seed)
    model = CharLSTM(vocab_size, hidden, layers, embed).to(device)
    opt = optim.Adam(model.parameters(), lr=lr)
    rows = streams(train_ids, batch)
    budget = minutes * 60.0
    probe = val_ids[: eval_chars + 1]
    curve: list[tuple[int, float, float, float]] = []
    state, pos, step, trained, running, seen = None, 0, 0, 0.0, 0.0, 0
    next_eval = eval_every * 60.0 if not steps else -(-steps // 8)
    while True:
        progress = step / steps if steps else trained / budget
        if progress >= 1.0:
            break
        t0 = time.perf_counter()
        if pos + seq_len + 1 > rows.shape[1]:
            pos, state = 0, None  # a new pass over the text
        for g in opt.param_groups:  # cosine decay to a tenth of the peak
            g["lr"] = lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))
        x = rustdl.tensor(rows[:, pos : pos + seq_len], device=device)
        y = rustdl.tensor(rows[:, pos + 1 : pos + seq_len + 1].reshape(-1), device=device)
        pos += seq_len
        logits, state = model(x, detach(state))
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        running += loss.item()
        seen += 1
        step += 1
        trained += time.perf_counter() - t0
        due = step >= next_eval if steps else trained >= next_eval
        if due or (steps and step == steps):
            val = evaluate(model, probe, device=device)
            curve.append((step, trained / 60.0, running / seen, val))
            log(
                f"step {step} ({trained / 60.0:.2f} min): train {running / seen:.3f}, "
                f"val {val:.3f} nats/char on {len(probe) - 1} chars"
            )
            running, seen = 0.0, 0
            next_eval += -(-steps // 8) if steps else eval_every * 60.0
    return model, curve


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description="Character-level LSTM language model on Shakespeare with rustdl."
    )
    parser.add_argument("--minutes", type=float, default=8.0, help="training wall-time budget")
    parser.add_argument("--steps", type=int, default=0, help="train exactly this many steps instead")
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--val-frac", type=float, default=0.05, help="the last part of the text held out")
    parser.add_argument("--max-chars", type=int, default=0, help="train on at most N characters")
    parser.add_argument("--max-val-chars", type=int, default=0, help="validate on at most N characters")
    parser.add_argument("--eval-every", type=float, default=1.0, help="minutes between validation probes")
    parser.add_argument("--prompt", default="ROMEO:")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--sample-len", type=int, default=400)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    text = rustdl.datasets.shakespeare()
    vocab = build_vocab(text)
    ids = encode(text, vocab)
    split = int(len(ids) * (1.0 - args.val_frac))
    train_ids, val_ids = ids[:split], ids[split:]
    if args.max_chars:
        train_ids = train_ids[: args.max_chars]
    if args.max_val_chars:
        val_ids = val_ids[: args.max_val_chars]
    print(
        f"{len(text)} characters, vocabulary {len(vocab)}; train {len(train_ids)}, validation {len(val_ids)}"
    )
    model, curve = train(
        train_ids,
        val_ids,
        len(vocab),
        hidden=args.hidden,
        layers=args.layers,
        embed=args.embed,
        seq_len=args.seq_len,
        batch=args.batch,
        lr=args.lr,
        clip=args.clip,
        minutes=args.minutes,
        steps=args.steps,
        eval_every=args.eval_every,
        seed=args.seed,
        device=args.device,
    )
    val = evaluate(model, val_ids, device=args.device)
    print(f"validation cross-entropy: {val:.4f} nats/char = {val / math.log(2):.4f} bits/char")
    sample = generate(model, vocab, args.prompt, args.sample_len, args.temperature, args.seed, args.device)
    print(f"sample (temperature {args.temperature}):\n{args.prompt}{sample}")
    wall = time.perf_counter() - start
    print(f"wall time: {wall:.1f} s")
    return {
        "val_nats": val,
        "val_bits": val / math.log(2),
        "curve": curve,
        "vocab": vocab,
        "sample": sample,
        "wall_s": wall,
        "model": model,
    }


if __name__ == "__main__":
    main()
