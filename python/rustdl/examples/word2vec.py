"""Word embeddings by skip-gram with negative sampling (word2vec) on Shakespeare's complete works.

Every word predicts the words around it (a window of random width up to ``--window``); each
true (center, context) pair is scored against ``--negatives`` words drawn from the unigram
distribution raised to 3/4, and frequent words are subsampled. Two embedding tables are trained
with ``-log σ(u·v) - Σ log σ(-u·v')``; the input table is the embedding. The script prints the
loss per epoch and the nearest neighbours (cosine similarity) of a few words.

Run it with::

    python -m rustdl.examples.word2vec [--epochs N] [--max-chars N] [--device gpu]

The text comes from :func:`rustdl.datasets.shakespeare` (``make data`` downloads it).
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter

import numpy as np

import rustdl
from rustdl import nn, optim
from rustdl.nn import functional as F

PROBE_WORDS = ("king", "love", "night", "sword", "father", "heaven")


def tokenize(text: str) -> list[str]:
    """Lower-case words (letters and inner apostrophes)."""
    return re.findall(r"[a-z]+(?:'[a-z]+)*", text.lower())


def build_vocab(words: list[str], min_count: int, max_size: int) -> tuple[list[str], np.ndarray]:
    """The most frequent words (at least ``min_count`` uses), and their counts."""
    common = [(w, c) for w, c in Counter(words).most_common(max_size) if c >= min_count]
    return [w for w, _ in common], np.array([c for _, c in common], dtype=np.float64)


def skipgram_pairs(ids: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(center, context) index pairs: the word at position i predicts every word within
    ``width[i]`` positions of it."""
    centers, contexts = [], []
    for off in range(1, int(width.max(initial=0)) + 1):
        keep = width[: len(ids) - off] >= off  # the left word's window reaches its right neighbour
        keep_back = width[off:] >= off  # and the right word's window reaches back
        centers += [ids[:-off][keep], ids[off:][keep_back]]
        contexts += [ids[off:][keep], ids[:-off][keep_back]]
    return np.concatenate(centers), np.concatenate(contexts)


class SkipGram(nn.Module):
    """Input and output embedding tables; ``forward`` is the negative-sampling loss.

    Shape:
        ``center (B)``, ``context (B)``, ``negatives (B, K)`` int64 → scalar loss.
    """

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.inp = nn.Embedding(vocab, dim)
        self.out = nn.Embedding(vocab, dim)
        nn.init.uniform_(self.inp.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.out.weight)

    def forward(self, center, context, negatives):
        v = self.inp(center).unsqueeze(1)  # (B, 1, D)
        words = rustdl.cat([context.unsqueeze(1), negatives], dim=1)  # (B, 1 + K)
        score = (self.out(words) * v).sum(-1)  # (B, 1 + K)
        sign = rustdl.ones(score.shape[1], device=score.device)
        sign[1:] = -1.0
        return -F.logsigmoid(score * sign).sum(-1).mean()


def train(
    ids: np.ndarray,
    counts: np.ndarray,
    dim: int = 100,
    window: int = 5,
    negatives: int = 5,
    epochs: int = 5,
    batch_size: int = 1024,
    lr: float = 3e-3,
    subsample: float = 1e-4,
    seed: int = 0,
    device: str = "cpu",
    log=print,
) -> tuple[SkipGram, list[float]]:
    """Trains a :class:`SkipGram` on the token ids ``ids``; returns it and the mean loss per epoch."""
    rng = np.random.default_rng(seed)
    rustdl.manual_seed(seed)
    model = SkipGram(len(counts), dim).to(device)
    opt = optim.Adam(model.parameters(), lr=lr)
    freq = counts / counts.sum()
    keep_p = np.minimum(1.0, np.sqrt(subsample / freq) + subsample / freq)
    noise = counts**0.75
    noise_cdf = np.cumsum(noise / noise.sum())
    losses = []
    for epoch in range(epochs):
        kept = ids[rng.random(len(ids)) < keep_p[ids]]
        centers, contexts = skipgram_pairs(kept, rng.integers(1, window + 1, size=len(kept)))
        order = rng.permutation(len(centers))
        total, n = 0.0, 0
        for start in range(0, len(order), batch_size):
            b = order[start : start + batch_size]
            neg = np.searchsorted(noise_cdf, rng.random((len(b), negatives)))
            neg = np.minimum(neg, len(counts) - 1)
            c, o, k = (
                rustdl.tensor(a.astype(np.int64), device=device) for a in (centers[b], contexts[b], neg)
            )
            opt.zero_grad()
            loss = model(c, o, k)
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
            n += len(b)
        losses.append(total / max(n, 1))
        log(f"epoch {epoch + 1}: {len(centers)} pairs, mean loss {losses[-1]:.4f}")
    return model, losses


def nearest(model: SkipGram, vocab: list[str], word: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words whose embeddings are closest to ``word``'s by cosine similarity."""
    index = {w: i for i, w in enumerate(vocab)}
    with rustdl.no_grad():
        e = F.normalize(model.inp.weight, dim=1)
        sims = (e @ e[index[word]]).cpu().numpy()
    sims[index[word]] = -np.inf
    best = np.argsort(-sims)[:k]
    return [(vocab[i], float(sims[i])) for i in best]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Skip-gram word2vec on Shakespeare with rustdl.")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--vocab", type=int, default=10_000)
    parser.add_argument("--max-chars", type=int, default=0, help="use only the first N characters")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    text = rustdl.datasets.shakespeare()
    if args.max_chars:
        text = text[: args.max_chars]
    words = tokenize(text)
    vocab, counts = build_vocab(words, min_count=5, max_size=args.vocab)
    index = {w: i for i, w in enumerate(vocab)}
    ids = np.array([index[w] for w in words if w in index], dtype=np.int64)
    print(f"{len(words)} words, vocabulary {len(vocab)}, {len(ids)} tokens in it")
    model, losses = train(ids, counts, dim=args.dim, epochs=args.epochs, seed=args.seed, device=args.device)
    neighbours = {}
    for w in PROBE_WORDS:
        if w in index:
            neighbours[w] = nearest(model, vocab, w)
            print(f"{w:>8}: " + ", ".join(f"{n} ({s:.2f})" for n, s in neighbours[w]))
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    return {"losses": losses, "neighbours": neighbours}


if __name__ == "__main__":
    main()
