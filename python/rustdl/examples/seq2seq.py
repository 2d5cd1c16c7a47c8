"""An encoder–decoder that translates dates written in many human formats into ISO ``YYYY-MM-DD``.

Inputs such as ``"Tuesday, March 3, 1998"``, ``"3 mar 1998"``, ``"03.03.1998"`` or
``"1998 March 03"`` are generated (dates from 1900 to 2099); a GRU encoder reads the characters,
its final state starts a GRU decoder trained with teacher forcing, and at test time the decoder
runs greedily, feeding back its own characters. The script reports the exact-match accuracy on
held-out inputs.

Run it with::

    python -m rustdl.examples.seq2seq [--epochs N] [--train N] [--device gpu]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

import rustdl
from rustdl import nn, optim
from rustdl.nn import functional as F

FORMATS = (
    "%d %B %Y",
    "%B %d, %Y",
    "%A, %B %d, %Y",
    "%d %b %Y",
    "%b %d %Y",
    "%d.%m.%Y",
    "%m/%d/%Y",
    "%Y %B %d",
    "%a %d %b %Y",
    "%d-%b-%Y",
)
PAD, SOS = 0, 1
OUT_CHARS = "0123456789-"
IN_CHARS = " ,./-0123456789abcdefghijklmnopqrstuvwxyz"


def human_dates(n: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """``n`` random dates as (human text, ISO text); a third are upper- or lower-cased."""
    start = dt.date(1900, 1, 1).toordinal()
    days = rng.integers(0, dt.date(2099, 12, 31).toordinal() - start + 1, size=n)
    fmts = rng.integers(0, len(FORMATS), size=n)
    case = rng.integers(0, 3, size=n)
    src, tgt = [], []
    for d, f, c in zip(days, fmts, case):
        date = dt.date.fromordinal(start + int(d))
        text = date.strftime(FORMATS[f])
        src.append(text.lower() if c == 0 else text.upper() if c == 1 else text)
        tgt.append(date.isoformat())
    return src, tgt


def encode(texts: list[str], chars: str, length: int, offset: int) -> np.ndarray:
    """Character ids (``offset`` + position in ``chars``), right-padded with PAD to ``length``."""
    table = {c: i + offset for i, c in enumerate(chars)}
    out = np.full((len(texts), length), PAD, dtype=np.int64)
    for r, t in enumerate(texts):
        ids = [table[c] for c in t.lower()[:length]]
        out[r, : len(ids)] = ids
    return out


class DateTranslator(nn.Module):
    """GRU encoder over input characters; GRU decoder over output characters.

    Shape:
        ``src (N, S)`` and ``tgt_in (N, T)`` int64 → logits ``(N, T, len(OUT_CHARS) + 2)``.
    """

    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.src_emb = nn.Embedding(len(IN_CHARS) + 1, 32, padding_idx=PAD)
        self.encoder = nn.GRU(32, hidden, batch_first=True)
        self.tgt_emb = nn.Embedding(len(OUT_CHARS) + 2, 16)
        self.decoder = nn.GRU(16, hidden, batch_first=True)
        self.head = nn.Linear(hidden, len(OUT_CHARS) + 2)

    def encode(self, src):
        _, h = self.encoder(self.src_emb(src))
        return h

    def forward(self, src, tgt_in):
        out, _ = self.decoder(self.tgt_emb(tgt_in), self.encode(src))
        return self.head(out)

    def greedy(self, src, steps: int = 10):
        """The decoder fed its own most likely characters, ``steps`` of them."""
        h = self.encode(src)
        tok = rustdl.full((src.shape[0], 1), SOS, dtype=rustdl.int64, device=src.device)
        picks = []
        for _ in range(steps):
            out, h = self.decoder(self.tgt_emb(tok), h)
            tok = self.head(out).argmax(-1)
            picks.append(tok)
        return rustdl.cat(picks, dim=1)


def decode(ids: np.ndarray) -> list[str]:
    return ["".join(OUT_CHARS[i - 2] if i >= 2 else "" for i in row) for row in ids]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Dates in human formats → ISO, with a GRU encoder-decoder.")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--test", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    rustdl.manual_seed(args.seed)
    src_txt, tgt_txt = human_dates(args.train + args.test, rng)
    src = encode(src_txt, IN_CHARS, 32, offset=1)
    tgt = encode(tgt_txt, OUT_CHARS, 10, offset=2)
    tgt_in = np.concatenate([np.full((len(tgt), 1), SOS), tgt[:, :-1]], axis=1)
    n = args.train
    model = DateTranslator().to(args.device)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    dev = args.device
    for epoch in range(args.epochs):
        order = rng.permutation(n)
        total = 0.0
        for b in range(0, n, args.batch_size):
            i = order[b : b + args.batch_size]
            s, ti, t = (rustdl.tensor(a[i], device=dev) for a in (src, tgt_in, tgt))
            opt.zero_grad()
            logits = model(s, ti)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t.reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(i)
        print(f"epoch {epoch + 1}: train cross-entropy {total / n:.4f}")
    model.eval()
    with rustdl.no_grad():
        pred = model.greedy(rustdl.tensor(src[n:], device=dev)).cpu().numpy()
    got = decode(pred)
    acc = float(np.mean([g == w for g, w in zip(got, tgt_txt[n:])]))
    chars = float(np.mean([a == b for g, w in zip(got, tgt_txt[n:]) for a, b in zip(g.ljust(10), w)]))
    for k in range(3):
        print(f"  {src_txt[n + k]!r} -> {got[k]}")
    print(f"exact match on {args.test} held-out dates: {acc:.4f} (characters right: {chars:.4f})")
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    return {"accuracy": acc, "char_accuracy": chars}


if __name__ == "__main__":
    main()
