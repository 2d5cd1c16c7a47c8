"""A decoder-only character Transformer language model on Shakespeare's complete works.

The companion of :mod:`rustdl.examples.char_lm` (the LSTM): the same text, the same split (the
last ``--val-frac`` held out), the same metric (validation cross-entropy in nats per character)
and the same flags where they mean the same thing, so the two can be compared at equal wall time.

The model: character embedding plus positions (``--pos learned`` or ``sinusoidal``), ``--layers``
pre-norm blocks (:class:`rustdl.nn.TransformerEncoderLayer` with ``norm_first=True``, a causal
mask from :meth:`rustdl.nn.Transformer.generate_square_subsequent_mask`), a final
LayerNorm and a linear read-out (``--tie`` shares it with the embedding). Each step trains on
``--batch`` windows of ``--seq-len + 1`` characters drawn at random from the training part, every
position predicting the next character. AdamW (weight decay on the matrices only) with gradient
clipping trains for ``--minutes`` of wall time (or ``--steps`` steps); the learning rate rises
linearly over ``--warmup`` steps, then decays along a cosine to a tenth of the peak.

The defaults (d_model 128, 4 heads, 4 layers, 0.82M parameters, 64-character context, batch 32: the
characters per step of the LSTM example) are sized for one CPU thread: a training step takes
0.18 s there. With dropout 0.1 it takes 0.21 s, with a 128-character context as well 0.56 s, and
with GELU in place of ReLU on top of that 0.72 s (GELU's erf costs a quarter of the step, hence
``--activation relu``). In 8 minutes (about 2,700 steps) the model sees each training character
about once, so dropout would only slow it down: ``--dropout`` is 0 unless asked.

The validation text is cut into consecutive windows of ``--seq-len + 1`` characters (overlapping by
one, so every character after the first is predicted once); unlike the LSTM, which carries its
state along, a prediction sees at most the ``--seq-len`` characters of its own window before it.

Run it with::

    python -m rustdl.examples.transformer_lm [--minutes M] [--layers N] [--pos sinusoidal]
        [--temperature T] [--top-k K] [--device gpu]

Full-run result with the defaults: to be measured. The text comes from
:func:`rustdl.datasets.shakespeare` (``make data`` downloads it). Nothing is saved.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import rustdl
from rustdl import nn, optim
from rustdl.examples.char_lm import build_vocab, encode
from rustdl.nn import functional as F

__all__ = ["CharTransformer", "build_vocab", "encode", "evaluate", "generate", "main", "train"]


def sinusoidal_positions(length: int, d_model: int) -> np.ndarray:
    """The ``(length, d_model)`` sine/cosine position table of "Attention Is All You Need"."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    freq = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    table = np.zeros((length, d_model), dtype=np.float64)
    table[:, 0::2] = np.sin(pos * freq)
    table[:, 1::2] = np.cos(pos * freq[: d_model // 2])
    return table.astype(np.float32)


class CharTransformer(nn.Module):
    """Embedding + positions → causal pre-norm Transformer blocks → LayerNorm → linear read-out.

    Shape:
        ``x (N, L)`` int64 with ``L ≤ context`` → logits ``(N, L, vocab)``; position ``i`` sees
        positions ``0..i`` only.
    """

    def __init__(
        self,
        vocab: int,
        d_model: int = 128,
        nhead: int = 4,
        layers: int = 4,
        context: int = 64,
        ff_mult: int = 4,
        dropout: float = 0.0,
        pos: str = "learned",
        tie: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if pos not in ("learned", "sinusoidal"):
            raise ValueError(f"CharTransformer: pos must be 'learned' or 'sinusoidal', got {pos!r}")
        self.context = context
        self.d_model = d_model
        self.pos_kind = pos
        self.embed = nn.Embedding(vocab, d_model)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)
        if pos == "learned":
            self.pos = nn.Embedding(context, d_model)
            nn.init.normal_(self.pos.weight, 0.0, 0.02)
        else:
            self.register_buffer("pos_table", rustdl.tensor(sinusoidal_positions(context, d_model)))
        self.drop = nn.Dropout(dropout)
        block = nn.TransformerEncoderLayer(
            d_model,
            nhead,
            dim_feedforward=ff_mult * d_model,
            dropout=dropout,
            activation=activation,
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(
            block, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )
        self.head = nn.Linear(d_model, vocab, bias=not tie)
        if tie:
            self.head.weight = self.embed.weight
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(context))

    def forward(self, x):
        n, length = x.shape
        if length > self.context:
            raise ValueError(f"CharTransformer: {length} positions, the context is {self.context}")
        h = self.embed(x)
        if self.pos_kind == "learned":
            h = h + self.pos(rustdl.arange(length, device=x.device))
        else:
            h = h * math.sqrt(self.d_model) + self.pos_table[:length]
        mask = self.mask[:length, :length]
        h = self.blocks(self.drop(h), mask=mask, is_causal=True)
        return self.head(h)


def windows(ids: np.ndarray, seq_len: int) -> np.ndarray:
    """``ids`` as consecutive ``(seq_len + 1)``-character rows that overlap by one character, so
    that the targets ``rows[:, 1:]`` cover every character after the first exactly once; the last
    row is shorter if need be (returned separately)."""
    n = (len(ids) - 1) // seq_len
    starts = np.arange(n) * seq_len
    rows = ids[starts[:, None] + np.arange(seq_len + 1)] if n else np.zeros((0, seq_len + 1), np.int64)
    tail = ids[n * seq_len :]
    return rows, (tail if len(tail) > 1 else None)


def evaluate(model: CharTransformer, ids: np.ndarray, batch: int = 64, device: str = "cpu") -> float:
    """Mean cross-entropy (nats per character) of predicting ``ids[1:]`` from what precedes it
    within windows of ``model.context`` characters (see :func:`windows`)."""
    model.eval()
    rows, tail = windows(ids, model.context)
    total, count = 0.0, 0

    def score(block: np.ndarray) -> None:
        nonlocal total, count
        x = rustdl.tensor(np.ascontiguousarray(block[:, :-1]), device=device)
        y = block[:, 1:]
        logits = model(x)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), rustdl.tensor(y.reshape(-1), device=device)
        )
        total += loss.item() * y.size
        count += y.size

    with rustdl.no_grad():
        for s in range(0, len(rows), batch):
            score(rows[s : s + batch])
        if tail is not None:
            score(tail[None, :])
    model.train()
    return total / max(count, 1)


def generate(
    model: CharTransformer,
    vocab: str,
    prompt: str = "ROMEO:",
    length: int = 400,
    temperature: float = 0.8,
    seed: int = 0,
    device: str = "cpu",
    top_k: int = 0,
) -> str:
    """``length`` characters continuing ``prompt``, each drawn from ``softmax(logits / temperature)``
    (restricted to the ``top_k`` most likely characters when ``top_k`` > 0) with
    :func:`rustdl.multinomial` (seeded with ``seed``); ``temperature`` 0 takes the most likely
    character every time. The model sees the last ``model.context`` characters. The prompt's
    characters must be in ``vocab``."""
    index = {c: i for i, c in enumerate(vocab)}
    rustdl.manual_seed(seed)
    model.eval()
    ids = [index[c] for c in prompt]
    out = []
    with rustdl.no_grad():
        for _ in range(length):
            x = rustdl.tensor([ids[-model.context :]], device=device)
            last = model(x)[0, -1]
            if temperature <= 0:
                nxt = int(last.argmax().item())
            else:
                logits = (last / temperature).cpu()
                if 0 < top_k < logits.shape[0]:
                    kth = rustdl.topk(logits, top_k).values[-1]
                    logits = rustdl.where(logits < kth, rustdl.full_like(logits, -math.inf), logits)
                probs = F.softmax(logits, dim=-1)  # the seeded CPU sampler
                nxt = int(rustdl.multinomial(probs, 1).item())
            ids.append(nxt)
            out.append(vocab[nxt])
    model.train()
    return "".join(out)


def lr_at(step: int, progress: float, lr: float, warmup: int) -> float:
    """Linear warmup over ``warmup`` steps, then a cosine from ``lr`` down to ``lr / 10`` as the
    run's ``progress`` goes from 0 to 1."""
    cosine = lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * min(progress, 1.0))))
    return cosine * min(1.0, (step + 1) / warmup) if warmup > 0 else cosine


def train(
    train_ids: np.ndarray,
    val_ids: np.ndarray,
    vocab_size: int,
    d_model: int = 128,
    nhead: int = 4,
    layers: int = 4,
    seq_len: int = 64,
    batch: int = 32,
    dropout: float = 0.0,
    pos: str = "learned",
    tie: bool = False,
    activation: str = "relu",
    lr: float = 3e-3,
    weight_decay: float = 0.1,
    warmup: int = 100,
    clip: float = 1.0,
    minutes: float = 8.0,
    steps: int = 0,
    eval_every: float = 1.0,
    eval_chars: int = 50_000,
    seed: int = 0,
    device: str = "cpu",
    log=print,
) -> tuple[CharTransformer, list[tuple[int, float, float, float]]]:
    """Trains a :class:`CharTransformer` for ``minutes`` of wall time (or exactly ``steps`` steps
    when ``steps`` > 0). Every ``eval_every`` minutes (or ``steps / 8`` steps) it logs the
    training loss and the loss on the first ``eval_chars`` validation characters.

    Returns the model and the curve: (step, minutes, train loss, validation loss) rows; the
    minutes count training only, not the evaluations."""
    rustdl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CharTransformer(
        vocab_size, d_model, nhead, layers, seq_len, dropout=dropout, pos=pos, tie=tie, activation=activation
    ).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=(0.9, 0.99),
    )
    if len(train_ids) < seq_len + 2:
        raise ValueError(f"train: {len(train_ids)} training characters, need more than {seq_len + 1}")
    offsets = np.arange(seq_len + 1)
    budget = minutes * 60.0
    probe = val_ids[: eval_chars + 1]
    curve: list[tuple[int, float, float, float]] = []
    step, trained, running, seen = 0, 0.0, 0.0, 0
    next_eval = eval_every * 60.0 if not steps else -(-steps // 8)
    while True:
        progress = step / steps if steps else trained / budget
        if progress >= 1.0:
            break
        t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, progress, lr, warmup)
        starts = rng.integers(0, len(train_ids) - seq_len, size=batch)
        chunk = train_ids[starts[:, None] + offsets]
        x = rustdl.tensor(np.ascontiguousarray(chunk[:, :-1]), device=device)
        y = rustdl.tensor(chunk[:, 1:].reshape(-1), device=device)
        logits = model(x)
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
    log(f"{step} steps of {batch} x {seq_len} characters in {trained / 60.0:.2f} min")
    return model, curve


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description="Decoder-only character Transformer language model on Shakespeare with rustdl."
    )
    parser.add_argument("--minutes", type=float, default=8.0, help="training wall-time budget")
    parser.add_argument("--steps", type=int, default=0, help="train exactly this many steps instead")
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=64, help="the context length")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--pos", choices=("learned", "sinusoidal"), default="learned")
    parser.add_argument("--tie", action="store_true", help="share the read-out with the embedding")
    parser.add_argument(
        "--activation", choices=("relu", "gelu"), default="relu", help="the feed-forward non-linearity"
    )
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=100, help="linear warmup steps")
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--val-frac", type=float, default=0.05, help="the last part of the text held out")
    parser.add_argument("--max-chars", type=int, default=0, help="train on at most N characters")
    parser.add_argument("--max-val-chars", type=int, default=0, help="validate on at most N characters")
    parser.add_argument("--eval-every", type=float, default=1.0, help="minutes between validation probes")
    parser.add_argument("--prompt", default="ROMEO:")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=0, help="sample from the K most likely (0: all)")
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
        d_model=args.d_model,
        nhead=args.heads,
        layers=args.layers,
        seq_len=args.seq_len,
        batch=args.batch,
        dropout=args.dropout,
        pos=args.pos,
        tie=args.tie,
        activation=args.activation,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup=args.warmup,
        clip=args.clip,
        minutes=args.minutes,
        steps=args.steps,
        eval_every=args.eval_every,
        seed=args.seed,
        device=args.device,
    )
    print(f"{sum(p.numel() for p in model.parameters())} parameters")
    val = evaluate(model, val_ids, device=args.device)
    print(f"validation cross-entropy: {val:.4f} nats/char = {val / math.log(2):.4f} bits/char")
    sample = generate(
        model, vocab, args.prompt, args.sample_len, args.temperature, args.seed, args.device, args.top_k
    )
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
