"""nn.AdaptiveLogSoftmaxWithLoss against the same model written out in numpy."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn


def _np(t):
    return t.detach().cpu().numpy()


def _log_softmax(z):
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def _reference_log_prob(asm, x):
    """Every class's log-probability: the head for the shortlist, head(cluster) + cluster's own
    log-softmax for the rest."""
    head = _log_softmax(x @ _np(asm.head.weight).T)
    cols = [head[:, : asm.shortlist_size]]
    for i, proj in enumerate(asm.tail):
        hidden = x @ _np(proj[0].weight).T
        local = _log_softmax(hidden @ _np(proj[1].weight).T)
        cols.append(local + head[:, asm.shortlist_size + i : asm.shortlist_size + i + 1])
    return np.concatenate(cols, 1)


def _model():
    rustdl.manual_seed(0)
    return nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[4, 10], div_value=2.0)


def test_structure_and_parameter_names():
    asm = _model()
    assert asm.shortlist_size == 4 and asm.n_clusters == 2 and asm.head_size == 6
    assert asm.cutoffs == [4, 10, 20]
    names = [n for n, _ in asm.named_parameters()]
    assert names == [
        "head.weight",
        "tail.0.0.weight",
        "tail.0.1.weight",
        "tail.1.0.weight",
        "tail.1.1.weight",
    ]
    assert [tuple(p.shape) for p in asm.parameters()] == [(6, 8), (4, 8), (6, 4), (2, 8), (10, 2)]
    assert [n for n, _ in nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4], head_bias=True).named_parameters()][
        :2
    ] == [
        "head.weight",
        "head.bias",
    ]


def test_forward_log_prob_and_predict_match_numpy():
    asm = _model()
    xs = np.cos(np.arange(48, dtype=np.float32).reshape(6, 8) * 0.07)
    t = np.array([0, 5, 12, 3, 19, 9])
    x = rustdl.tensor(xs, requires_grad=True)
    out, loss = asm(x, rustdl.tensor(t))
    full = _reference_log_prob(asm, xs)
    np.testing.assert_allclose(_np(out), full[np.arange(6), t], rtol=1e-5, atol=1e-6)
    assert float(loss.item()) == pytest.approx(-full[np.arange(6), t].mean(), rel=1e-5)
    res = asm(x, rustdl.tensor(t))
    assert res.output is res[0] and res._fields == ("output", "loss")
    lp = _np(asm.log_prob(x))
    np.testing.assert_allclose(lp, full, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.exp(lp).sum(1), np.ones(6), rtol=1e-5)
    for scale in (1.0, 3.0, -5.0):
        np.testing.assert_array_equal(
            _np(asm.predict(x * scale)), _reference_log_prob(asm, xs * scale).argmax(1)
        )
    # unbatched
    single = asm(x[2], rustdl.tensor(12))
    assert single.output.dim() == 0
    assert float(single.output.item()) == pytest.approx(full[2, 12], rel=1e-5)
    assert tuple(asm.log_prob(x[0]).shape) == (20,) and asm.predict(x[0]).dim() == 0


def test_gradient_matches_finite_differences():
    asm = _model()
    asm.double()
    xs = np.cos(np.arange(24, dtype=np.float64).reshape(3, 8) * 0.3)
    t = rustdl.tensor([1, 7, 15])
    x = rustdl.tensor(xs, requires_grad=True)
    asm(x, t).loss.backward()
    g = _np(x.grad)
    eps = 1e-6
    for i, j in [(0, 0), (1, 3), (2, 7)]:
        hi, lo = xs.copy(), xs.copy()
        hi[i, j] += eps
        lo[i, j] -= eps
        num = (asm(rustdl.tensor(hi), t).loss.item() - asm(rustdl.tensor(lo), t).loss.item()) / (2 * eps)
        assert g[i, j] == pytest.approx(num, rel=1e-5, abs=1e-8)
    # a tail projection that no target reaches gets no gradient
    asm.zero_grad()
    asm(x, rustdl.tensor([0, 1, 2])).loss.backward()
    assert asm.tail[0][0].weight.grad is None or not _np(asm.tail[0][0].weight.grad).any()


def test_errors():
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 20, [10, 4])
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 20])
    with pytest.raises(ValueError, match="length"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 20, [])
    asm = _model()
    x = rustdl.randn(6, 8)
    with pytest.raises(RuntimeError, match="Target values"):
        asm(x, rustdl.tensor([0, 1, 2, 3, 4, 20]))
    with pytest.raises(RuntimeError, match="batch dimension"):
        asm(x, rustdl.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="multi-target"):
        asm(x, rustdl.zeros(2, 3, dtype=rustdl.int64))
