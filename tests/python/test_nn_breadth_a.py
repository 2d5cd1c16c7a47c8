"""Activations, losses, containers, dropouts, Bilinear/LazyLinear and lr schedulers added for
PyTorch parity: forwards against independent numpy formulas, gradients against gradcheck
(float64), reductions, argument errors, state-dict keys and closed-form lr sequences."""

import math

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn, optim
from rustdl.autograd import gradcheck
from rustdl.nn import functional as F
from rustdl.optim import lr_scheduler as L

F64 = rustdl.float64


def t(a, dtype=rustdl.float32, device="cpu", requires_grad=False):
    return rustdl.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=requires_grad)


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# (module, numpy reference); the input is a 3x4x5 standard normal scaled by 3
ACTIVATIONS = [
    (lambda: nn.Hardtanh(-0.5, 2.0), lambda x: np.clip(x, -0.5, 2.0)),
    (lambda: nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (lambda: nn.Mish(), lambda x: x * np.tanh(np_softplus(x))),
    (lambda: nn.Softplus(beta=2.0, threshold=5.0), lambda x: np_softplus(x, 2.0, 5.0)),
    (lambda: nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (lambda: nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (lambda: nn.Hardsigmoid(), lambda x: np.clip(x + 3, 0, 6) / 6),
    (lambda: nn.SELU(), lambda x: SELU_S * np.where(x > 0, x, SELU_A * (np.exp(x) - 1))),
    (lambda: nn.CELU(0.7), lambda x: np.maximum(x, 0) + np.minimum(0, 0.7 * (np.exp(x / 0.7) - 1))),
    (lambda: nn.GLU(1), lambda x: x[:, :2] * np_sigmoid(x[:, 2:])),
    (lambda: nn.Threshold(0.3, -0.1), lambda x: np.where(x > 0.3, x, -0.1)),
    (lambda: nn.Softmin(dim=2), lambda x: np_softmax(-x, 2)),
    (lambda: nn.Softmax2d(), lambda x: np_softmax(x, 0)),
    (lambda: nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    (lambda: nn.Softshrink(0.7), lambda x: np.where(x > 0.7, x - 0.7, np.where(x < -0.7, x + 0.7, 0))),
    (lambda: nn.Hardshrink(0.7), lambda x: np.where(np.abs(x) > 0.7, x, 0)),
    (lambda: nn.RReLU(0.1, 0.3).eval(), lambda x: np.where(x >= 0, x, 0.2 * x)),
    (lambda: nn.PReLU(), lambda x: np.where(x >= 0, x, 0.25 * x)),
]
IDS = [
    "Hardtanh", "ReLU6", "Mish", "Softplus", "Softsign", "Hardswish", "Hardsigmoid", "SELU",
    "CELU", "GLU", "Threshold", "Softmin", "Softmax2d", "Tanhshrink", "Softshrink", "Hardshrink",
    "RReLU", "PReLU",
]  # fmt: skip


@pytest.mark.parametrize("make,ref", ACTIVATIONS, ids=IDS)
def test_activation_forward_matches_numpy(make, ref):
    x = rnd(3, 4, 5) * 3
    assert_close(make()(t(x)), ref(x), rtol=1e-5, atol=1e-5)
    assert_close(make().double()(t(x, F64)), ref(x), rtol=1e-10, atol=1e-12)


def _away_from_kinks(x):
    """Moves entries off the piecewise functions' kinks (0, ±0.5, ±0.7, ±1, ±3, 6, 0.3) by at least 0.05."""
    kinks = np.array([0, 0.3, 0.5, -0.5, 0.7, -0.7, 1, -1, 3, -3, 6, 2.0])
    for k in kinks:
        near = np.abs(x - k) < 0.05
        x = np.where(near, k + 0.1, x)
    return x


@pytest.mark.parametrize("make,ref", ACTIVATIONS[:-2], ids=IDS[:-2])
def test_activation_gradcheck(make, ref):
    x = t(_away_from_kinks(rnd(2, 4, 3, seed=1) * 2.5), F64, requires_grad=True)
    m = make().double()
    assert gradcheck(m, [x])


def test_prelu_per_channel_weight_and_gradcheck():
    m = nn.PReLU(3, init=0.1).double()
    assert tuple(m.weight.shape) == (3,) and list(m.state_dict()) == ["weight"]
    with rustdl.no_grad():
        m.weight.copy_(t([0.1, 0.2, 0.3], F64))
    x = _away_from_kinks(rnd(2, 3, 4))
    w = np.array([0.1, 0.2, 0.3]).reshape(1, 3, 1)
    assert_close(m(t(x, F64)), np.where(x >= 0, x, w * x))
    xt = t(x, F64, requires_grad=True)
    assert gradcheck(lambda a, b: F.prelu(a, b), [xt, t([0.1, 0.2, 0.3], F64, requires_grad=True)])
    with pytest.raises(ValueError, match="prelu"):
        m(rustdl.zeros(2, 4, 4, dtype=F64))


def test_functional_aliases_and_inplace():
    x = rnd(4, 5) * 4
    assert_close(F.relu6(t(x)), np.clip(x, 0, 6))
    assert_close(F.hardtanh(t(x), -2.0, 2.0), np.clip(x, -2, 2))
    assert_close(F.silu(t(x)), x * np_sigmoid(x), atol=1e-5)
    assert_close(F.softplus(t(x), 1.0, 20.0), np_softplus(x), atol=1e-5)
    for fn, ref in [
        (lambda a: F.hardtanh(a, inplace=True), lambda v: np.clip(v, -1, 1)),
        (lambda a: F.relu6(a, inplace=True), lambda v: np.clip(v, 0, 6)),
        (lambda a: F.mish(a, inplace=True), lambda v: v * np.tanh(np_softplus(v))),
        (lambda a: F.selu(a, inplace=True), lambda v: SELU_S * np.where(v > 0, v, SELU_A * np.expm1(v))),
        (lambda a: F.threshold(a, 0.0, 9.0, inplace=True), lambda v: np.where(v > 0, v, 9.0)),
        (lambda a: F.hardtanh_(a), lambda v: np.clip(v, -1, 1)),
    ]:
        a = t(x)
        out = fn(a)
        assert out is a
        assert_close(a, ref(x), atol=1e-5)
    # in-place on a non-leaf keeps the graph usable
    leaf = t(x, F64, requires_grad=True)
    y = leaf * 1.0
    nn.Hardswish(inplace=True)(y)
    y.sum().backward()
    ref = np.where(x < -3, 0, np.where(x > 3, 1, (2 * x + 3) / 6))
    assert_close(leaf.grad, ref)


def test_gradients_at_the_kinks_follow_pytorch():
    def grad(fn, values):
        x = t(values, F64, requires_grad=True)
        fn(x).sum().backward()
        return x.grad.numpy()

    # hardtanh/relu6/hardsigmoid: 0 at the bounds; hardswish: x/3 + 1/2 strictly inside
    # (-3, 3), 0 at -3 and 1 at 3 (PyTorch 2.15)
    assert_close(grad(F.relu6, [-1.0, 0.0, 3.0, 6.0, 7.0]), [0, 0, 1, 0, 0])
    assert_close(grad(F.hardtanh, [-1.0, 0.0, 1.0]), [0, 1, 0])
    assert_close(grad(F.hardsigmoid, [-3.0, 0.0, 3.0]), [0, 1 / 6, 0])
    assert_close(grad(F.hardswish, [-3.0, 0.0, 3.0]), [0.0, 0.5, 1.0])
    assert_close(grad(F.hardshrink, [-0.5, 0.5, 0.6]), [0, 0, 1])


def test_rrelu_training_draws_slopes_in_range():
    x = -np.abs(rnd(200)) - 0.1
    m = nn.RReLU(0.1, 0.3)
    y = m(t(x, F64)).numpy()
    slopes = y / x
    assert slopes.min() >= 0.1 - 1e-12 and slopes.max() <= 0.3 + 1e-12
    assert slopes.std() > 0.01  # not a fixed slope
    pos = np.abs(rnd(10)) + 0.1
    assert_close(m(t(pos, F64)), pos)


def test_activation_bad_inputs():
    with pytest.raises(ValueError, match="glu"):
        F.glu(rustdl.zeros(3, 5))
    with pytest.raises(ValueError, match="softshrink"):
        F.softshrink(rustdl.zeros(3), -1.0)
    with pytest.raises(ValueError, match="Softmax2d"):
        nn.Softmax2d()(rustdl.zeros(3, 4))
    with pytest.raises(ValueError, match="Hardtanh"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="rrelu"):
        F.rrelu(rustdl.zeros(2), 0.5, 0.1)
    with pytest.raises(TypeError, match="mish"):
        F.mish([1.0, 2.0])
    with pytest.raises(TypeError, match="relu6"):
        F.relu6(np.zeros(3))
    with pytest.raises(ValueError, match="celu"):
        F.celu(rustdl.zeros(2), 0.0)


# ---------------- losses ----------------


def _reduce(v, reduction):
    return {"none": v, "mean": np.mean(v), "sum": np.sum(v)}[reduction]


def np_cos_emb(x1, x2, y, margin):
    cos = (x1 * x2).sum(1) / np.sqrt(((x1 * x1).sum(1) + 1e-12) * ((x2 * x2).sum(1) + 1e-12))
    return np.where(y == 1, 1 - cos, np.maximum(0, cos - margin))


def np_triplet(a, p, n, margin, norm, eps, swap):
    d = lambda u, v: (np.abs(u - v + eps) ** norm).sum(-1) ** (1 / norm)  # noqa: E731
    dn = d(a, n)
    if swap:
        dn = np.minimum(dn, d(p, n))
    return np.maximum(d(a, p) - dn + margin, 0)


def np_multi_margin(x, y, p, margin, w):
    n, c = x.shape
    out = np.zeros(n)
    for i in range(n):
        for j in range(c):
            if j != y[i]:
                z = max(0.0, margin - x[i, y[i]] + x[i, j]) ** p
                out[i] += z * (w[y[i]] if w is not None else 1.0)
    return out / c


def np_poisson(x, y, log_input, full, eps):
    loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    if full:
        ys = np.where(y > 1, y, 1.0)
        loss = loss + np.where(y > 1, ys * np.log(ys) - ys + 0.5 * np.log(2 * np.pi * ys), 0)
    return loss


def np_multilabel_margin(x, y):
    n, c = x.shape
    out = np.zeros(n)
    for i in range(n):
        targets = []
        for v in y[i]:
            if v == -1:
                break
            targets.append(v)
        for j in targets:
            for k in range(c):
                if k not in targets:
                    out[i] += max(0.0, 1 - (x[i, j] - x[i, k]))
    return out / c


X, Y, Z = rnd(6, 4, seed=1), rnd(6, 4, seed=2), rnd(6, 4, seed=3)
SIGNS = np.where(rnd(6, seed=4) > 0, 1.0, -1.0)
SIGNS_4 = np.where(rnd(6, 4, seed=5) > 0, 1.0, -1.0)
LABELS = (rnd(6, 4, seed=6) > 0).astype(np.float64)
CLASSES = np.array([0, 3, 1, 2, 3, 0])
POS = np.abs(Z) + 0.2
CW = np.array([0.5, 1.0, 2.0, 1.5])
ML_TARGETS = np.array(
    [[3, 0, -1, 1], [1, -1, 2, 2], [0, 1, 2, 3], [-1, 0, 0, 0], [2, 2, -1, 0], [1, 3, 0, -1]]
)

# name -> (module factory, inputs as numpy arrays (targets not differentiated), reference without reduction)
LOSSES = {
    "CosineEmbeddingLoss": (
        lambda r: nn.CosineEmbeddingLoss(margin=0.2, reduction=r),
        [X, Y, SIGNS],
        lambda: np_cos_emb(X, Y, SIGNS, 0.2),
    ),
    "MarginRankingLoss": (
        lambda r: nn.MarginRankingLoss(margin=0.3, reduction=r),
        [X[:, 0], Y[:, 0], SIGNS],
        lambda: np.maximum(0, -SIGNS * (X[:, 0] - Y[:, 0]) + 0.3),
    ),
    "TripletMarginLoss": (
        lambda r: nn.TripletMarginLoss(margin=1.5, p=2, reduction=r),
        [X, Y, Z],
        lambda: np_triplet(X, Y, Z, 1.5, 2, 1e-6, False),
    ),
    "TripletMarginLoss_swap_p1": (
        lambda r: nn.TripletMarginLoss(margin=1.0, p=1, swap=True, reduction=r),
        [X, Y, Z],
        lambda: np_triplet(X, Y, Z, 1.0, 1, 1e-6, True),
    ),
    "HingeEmbeddingLoss": (
        lambda r: nn.HingeEmbeddingLoss(margin=0.8, reduction=r),
        [X, SIGNS_4],
        lambda: np.where(SIGNS_4 == 1, X, np.maximum(0, 0.8 - X)),
    ),
    "MultiLabelSoftMarginLoss": (
        lambda r: nn.MultiLabelSoftMarginLoss(weight=t(CW, F64), reduction=r),
        [X, LABELS],
        lambda: (-(LABELS * np.log(np_sigmoid(X)) + (1 - LABELS) * np.log(np_sigmoid(-X))) * CW).mean(1),
    ),
    "MultiMarginLoss": (
        lambda r: nn.MultiMarginLoss(reduction=r),
        [X, CLASSES],
        lambda: np_multi_margin(X, CLASSES, 1, 1.0, None),
    ),
    "MultiMarginLoss_p2_weight": (
        lambda r: nn.MultiMarginLoss(p=2, margin=0.5, weight=t(CW, F64), reduction=r),
        [X, CLASSES],
        lambda: np_multi_margin(X, CLASSES, 2, 0.5, CW),
    ),
    "PoissonNLLLoss": (
        lambda r: nn.PoissonNLLLoss(reduction=r),
        [X, POS * 2],
        lambda: np_poisson(X, POS * 2, True, False, 1e-8),
    ),
    "PoissonNLLLoss_full_rate": (
        lambda r: nn.PoissonNLLLoss(log_input=False, full=True, reduction=r),
        [POS, POS * 3],
        lambda: np_poisson(POS, POS * 3, False, True, 1e-8),
    ),
    "GaussianNLLLoss": (
        lambda r: nn.GaussianNLLLoss(reduction=r),
        [X, Y, POS],
        lambda: 0.5 * (np.log(POS) + (X - Y) ** 2 / POS),
    ),
    "GaussianNLLLoss_full_homoscedastic": (
        lambda r: nn.GaussianNLLLoss(full=True, reduction=r),
        [X, Y, POS[:, 0]],
        lambda: 0.5 * (np.log(POS[:, :1]) + (X - Y) ** 2 / POS[:, :1]) + 0.5 * np.log(2 * np.pi),
    ),
    "MultiLabelMarginLoss": (
        lambda r: nn.MultiLabelMarginLoss(reduction=r),
        [X, ML_TARGETS],
        lambda: np_multilabel_margin(X, ML_TARGETS),
    ),
    "TripletMarginWithDistanceLoss": (
        lambda r: nn.TripletMarginWithDistanceLoss(
            distance_function=lambda a, b: ((a - b) ** 2).sum(-1), margin=2.0, swap=True, reduction=r
        ),
        [X, Y, Z],
        lambda: np.maximum(
            ((X - Y) ** 2).sum(-1) - np.minimum(((X - Z) ** 2).sum(-1), ((Y - Z) ** 2).sum(-1)) + 2.0, 0
        ),
    ),
    "SoftMarginLoss": (
        lambda r: nn.SoftMarginLoss(reduction=r),
        [X, SIGNS_4],
        lambda: np.log1p(np.exp(-SIGNS_4 * X)),
    ),
}
# which inputs are differentiable (the rest are targets)
DIFF = {
    "CosineEmbeddingLoss": 2,
    "MarginRankingLoss": 2,
    "TripletMarginLoss": 3,
    "TripletMarginLoss_swap_p1": 3,
    "HingeEmbeddingLoss": 1,
    "MultiLabelSoftMarginLoss": 1,
    "MultiMarginLoss": 1,
    "MultiMarginLoss_p2_weight": 1,
    "PoissonNLLLoss": 1,
    "PoissonNLLLoss_full_rate": 1,
    "GaussianNLLLoss": 3,
    "GaussianNLLLoss_full_homoscedastic": 3,
    "MultiLabelMarginLoss": 1,
    "TripletMarginWithDistanceLoss": 3,
    "SoftMarginLoss": 1,
}


def _inputs(arrays, n_diff, requires_grad=False):
    out = []
    for i, a in enumerate(arrays):
        if a.dtype.kind == "i":
            out.append(t(a, rustdl.int64))
        else:
            out.append(t(a, F64, requires_grad=requires_grad and i < n_diff))
    return out


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_loss_forward_matches_numpy(name, reduction):
    make, arrays, ref = LOSSES[name]
    out = make(reduction)(*_inputs(arrays, DIFF[name]))
    assert_close(out, _reduce(ref(), reduction), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradcheck(name):
    make, arrays, _ = LOSSES[name]
    n = DIFF[name]
    ins = _inputs(arrays, n, requires_grad=True)
    m = make("sum")
    assert gradcheck(lambda *d: m(*d, *ins[n:]), ins[:n])


def test_loss_float32_and_functional_forms():
    y32 = F.soft_margin_loss(t(X), t(SIGNS_4))
    assert y32.dtype == rustdl.float32
    assert_close(y32, np.log1p(np.exp(-SIGNS_4 * X)).mean(), rtol=1e-5)
    assert_close(
        F.margin_ranking_loss(t(X[:, 0]), t(Y[:, 0]), t(SIGNS)),
        np.maximum(0, -SIGNS * (X[:, 0] - Y[:, 0])).mean(),
    )
    # legacy size_average / reduce
    assert_close(
        F.hinge_embedding_loss(t(X), t(SIGNS_4), reduce=False),
        np.where(SIGNS_4 == 1, X, np.maximum(0, 1 - X)),
    )
    assert_close(
        F.soft_margin_loss(t(X), t(SIGNS_4), size_average=False),
        np.log1p(np.exp(-SIGNS_4 * X)).sum(),
        rtol=1e-5,
    )
    # unbatched inputs
    assert_close(
        F.cosine_embedding_loss(t(X[0]), t(Y[0]), t(1.0)), np_cos_emb(X[:1], Y[:1], np.array([1.0]), 0)[0]
    )
    assert_close(
        F.multi_margin_loss(t(X[0]), t(np.array(2), rustdl.int64)),
        np_multi_margin(X[:1], [2], 1, 1.0, None)[0],
    )
    assert_close(
        F.triplet_margin_loss(t(X[0]), t(Y[0]), t(Z[0])), np_triplet(X[0], Y[0], Z[0], 1.0, 2, 1e-6, False)
    )


def test_multilabel_margin_loss_pytorch_example_and_errors():
    x = t([[0.1, 0.2, 0.4, 0.8]])
    assert_close(nn.MultiLabelMarginLoss()(x, rustdl.tensor([[3, 0, -1, 1]])), 0.85)
    assert_close(F.multilabel_margin_loss(x[0], rustdl.tensor([3, 0, -1, 1])), 0.85)
    with pytest.raises(ValueError, match="multilabel_margin_loss"):
        F.multilabel_margin_loss(x, rustdl.tensor([[3, 0, -1]]))
    with pytest.raises(TypeError, match="multilabel_margin_loss"):
        F.multilabel_margin_loss(x, x)
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss"):
        nn.TripletMarginWithDistanceLoss(margin=0.0)


def test_inplace_functional_aliases():
    x = rnd(3, 4)
    for fn, ref in [
        (F.relu_, lambda v: np.maximum(v, 0)),
        (F.elu_, lambda v: np.where(v > 0, v, np.expm1(v))),
        (lambda a: F.leaky_relu_(a, 0.2), lambda v: np.where(v >= 0, v, 0.2 * v)),
        (lambda a: F.celu_(a, 2.0), lambda v: np.where(v > 0, v, 2.0 * np.expm1(v / 2.0))),
        (F.selu_, lambda v: SELU_S * np.where(v > 0, v, SELU_A * np.expm1(v))),
        (lambda a: F.threshold_(a, 0.5, 0.0), lambda v: np.where(v > 0.5, v, 0.0)),
        (lambda a: F.rrelu_(a, 0.1, 0.3), lambda v: np.where(v >= 0, v, 0.2 * v)),
    ]:
        a = t(x, F64)
        assert fn(a) is a
        assert_close(a, ref(x))


def test_losses_broadcast_as_pytorch():
    # a (N, 1) target against an (N, C) input broadcasts, as in PyTorch
    y = np.where(rnd(6, 1, seed=7) > 0, 1.0, -1.0)
    assert_close(F.soft_margin_loss(t(X, F64), t(y, F64), reduction="none"), np.log1p(np.exp(-y * X)))
    assert_close(
        F.hinge_embedding_loss(t(X, F64), t(y, F64)), np.where(y == 1, X, np.maximum(0, 1 - X)).mean()
    )
    # gaussian_nll_loss takes a float variance
    assert_close(
        F.gaussian_nll_loss(t(X, F64), t(Y, F64), 0.5), (0.5 * (np.log(0.5) + (X - Y) ** 2 / 0.5)).mean()
    )


def test_gaussian_nll_var_gradient_flows_through_the_clamp():
    var = t([1e-9, 0.5], F64, requires_grad=True)
    F.gaussian_nll_loss(t([0.0, 0.0], F64), t([0.0, 1.0], F64), var, reduction="sum").backward()
    eps = 1e-6
    assert_close(var.grad, [0.5 / eps, 0.5 * (1 / 0.5 - 1 / 0.25)])


def test_loss_bad_inputs():
    a = rustdl.zeros(3, 4)
    with pytest.raises(ValueError, match="reduction"):
        nn.SoftMarginLoss(reduction="avg")
    with pytest.raises(ValueError, match="soft_margin_loss"):
        F.soft_margin_loss(a, a, reduction="avg")
    with pytest.raises(ValueError, match="margin_ranking_loss"):
        F.margin_ranking_loss(rustdl.zeros(3), rustdl.zeros(4), rustdl.zeros(3))
    with pytest.raises(ValueError, match="cosine_embedding_loss"):
        F.cosine_embedding_loss(a, a, rustdl.zeros(4))
    with pytest.raises(ValueError, match="multi_margin_loss"):
        F.multi_margin_loss(a, rustdl.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match="multi_margin_loss"):
        F.multi_margin_loss(a, rustdl.tensor([0, 1, 2]), p=3)
    with pytest.raises(TypeError, match="multi_margin_loss"):
        F.multi_margin_loss(a, rustdl.zeros(3))
    with pytest.raises(ValueError, match="gaussian_nll_loss"):
        F.gaussian_nll_loss(a, a, rustdl.ones(2, 4))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(a, a, -rustdl.ones(3, 4))
    with pytest.raises(ValueError, match="triplet_margin_loss"):
        F.triplet_margin_loss(a, a, rustdl.zeros(4))
    with pytest.raises(ValueError, match="soft_margin_loss"):
        F.soft_margin_loss(a, rustdl.zeros(3, 5))
    with pytest.raises(ValueError, match="margin_ranking_loss"):
        F.margin_ranking_loss(rustdl.zeros(3), rustdl.zeros(3), rustdl.zeros(1, 3))
    with pytest.raises(TypeError, match="hinge_embedding_loss"):
        F.hinge_embedding_loss(np.zeros(3), a)


# ---------------- containers, dropout, Bilinear, LazyLinear ----------------


def test_parameter_list_registers_and_state_dict_keys():
    pl = nn.ParameterList([nn.Parameter(rustdl.randn(3)), rustdl.randn(2, 2)])
    pl.append(nn.Parameter(rustdl.zeros(1)))
    assert len(pl) == 3 and isinstance(pl[1], nn.Parameter)
    assert list(pl.state_dict()) == ["0", "1", "2"]
    assert [tuple(p.shape) for p in pl] == [(3,), (2, 2), (1,)]
    model = nn.Module()
    model.ws = pl
    assert list(model.state_dict()) == ["ws.0", "ws.1", "ws.2"]
    assert len(list(model.parameters())) == 3
    pl[-1] = nn.Parameter(rustdl.ones(4))
    assert tuple(pl[2].shape) == (4,) and tuple(pl.state_dict()["2"].shape) == (4,)
    pl += [rustdl.ones(5)]
    assert len(pl) == 4 and len(pl[1:]) == 3
    with pytest.raises(IndexError):
        pl[4]
    # parameters train through an optimizer
    opt = optim.SGD(pl.parameters(), lr=0.5)
    sum(p.sum() for p in pl).backward()
    opt.step()
    assert_close(pl[3], np.full(5, 0.5))


def test_parameter_dict_registers_and_state_dict_keys():
    pd = nn.ParameterDict({"beta": rustdl.zeros(2), "alpha": nn.Parameter(rustdl.ones(3))})
    assert list(pd.state_dict()) == ["alpha", "beta"]  # a plain dict is taken in key order
    pd["gamma"] = nn.Parameter(rustdl.ones(1))
    assert "gamma" in pd and len(pd) == 3 and list(pd.keys()) == ["alpha", "beta", "gamma"]
    assert isinstance(pd["beta"], nn.Parameter)
    popped = pd.pop("beta")
    assert tuple(popped.shape) == (2,) and list(pd.state_dict()) == ["alpha", "gamma"]
    m = nn.Module()
    m.extra = pd
    assert list(m.state_dict()) == ["extra.alpha", "extra.gamma"]
    sd = {k: v * 0 + 3 for k, v in m.state_dict().items()}
    m.load_state_dict(sd)
    assert_close(pd["alpha"], np.full(3, 3.0))
    with pytest.raises(KeyError):
        pd["missing"]
    with pytest.raises(TypeError, match="ParameterDict"):
        pd[1] = rustdl.ones(1)


@pytest.mark.parametrize(
    "cls,shape", [(nn.Dropout1d, (4, 6, 50)), (nn.Dropout1d, (6, 50)), (nn.Dropout3d, (2, 6, 3, 4, 5))]
)
def test_channel_dropout(cls, shape):
    m = cls(0.5)
    y = m(rustdl.ones(*shape)).numpy()
    lead = 2 if len(shape) in (3, 5) else 1
    flat = y.reshape(*shape[:lead], -1)
    # each channel is all zero or all 2
    assert np.all((flat.min(-1) == flat.max(-1)) & np.isin(flat[..., 0], [0.0, 2.0]))
    assert 0 < (flat[..., 0] == 0).sum() < flat[..., 0].size
    assert_close(m.eval()(rustdl.ones(*shape)), np.ones(shape))
    if cls is nn.Dropout1d:
        with pytest.raises(ValueError, match="dropout1d"):
            m.train()(rustdl.ones(2))
    else:
        with pytest.warns(UserWarning, match="dropout3d"):
            y = m.train()(rustdl.ones(6, 20, 30)).numpy()
        assert np.all(y.reshape(6, -1).min(1) == y.reshape(6, -1).max(1))


def test_alpha_dropout_keeps_selu_statistics_and_eval_identity():
    x = t(rnd(400, 250), F64)
    m = nn.AlphaDropout(0.2)
    y = m(x).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    # dropped entries all take one value: a·(−alpha') + b
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha**2 * 0.2 + 1) * 0.8)
    dropped = -alpha * a + alpha * a * 0.2
    frac = np.isclose(y, dropped).mean()
    assert 0.18 < frac < 0.22
    assert_close(m.eval()(x), x.numpy())
    fm = nn.FeatureAlphaDropout(0.5)
    yf = fm(t(rnd(8, 16, 10), F64)).numpy()
    chan = np.isclose(yf, -alpha / math.sqrt((alpha**2 * 0.5 + 1) * 0.5) * 0.5).all(-1)
    assert chan.any() and not chan.all()
    assert_close(fm.eval()(t(np.ones((2, 3, 4)))), np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="AlphaDropout"):
        nn.AlphaDropout(1.5)


def test_bilinear_forward_init_keys_and_gradcheck():
    m = nn.Bilinear(3, 4, 5)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {"weight": (5, 3, 4), "bias": (5,)}
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= 1 / math.sqrt(3) and np.abs(m.bias.detach().numpy()).max() <= 1 / math.sqrt(3)
    x1, x2 = rnd(2, 7, 3), rnd(2, 7, 4, seed=1)
    ref = np.einsum("...i,oij,...j->...o", x1, w, x2) + m.bias.detach().numpy()
    assert_close(m(t(x1), t(x2)), ref, rtol=1e-5, atol=1e-5)
    assert list(nn.Bilinear(2, 2, 2, bias=False).state_dict()) == ["weight"]
    m = m.double()
    a, b = t(x1[0, :3], F64, requires_grad=True), t(x2[0, :3], F64, requires_grad=True)
    assert gradcheck(lambda u, v, wt, bs: F.bilinear(u, v, wt, bs), [a, b, m.weight, m.bias])
    with pytest.raises(ValueError, match="bilinear"):
        m(t(rnd(2, 4), F64), t(rnd(2, 4), F64))


def test_lazy_linear_materializes_on_first_call():
    m = nn.LazyLinear(6)
    assert m.in_features == 0 and m.has_uninitialized_params()
    x = rnd(5, 9)
    y = m(t(x))
    assert tuple(y.shape) == (5, 6) and m.in_features == 9
    assert isinstance(m, nn.Linear) and not isinstance(m, nn.LazyLinear)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {"weight": (6, 9), "bias": (6,)}
    assert np.abs(m.weight.detach().numpy()).max() <= 1 / 3
    assert_close(y, x @ m.weight.detach().numpy().T + m.bias.detach().numpy(), atol=1e-5)
    # in a Sequential, and loading a state dict into a fresh lazy module
    seq = nn.Sequential(nn.LazyLinear(4, bias=False), nn.ReLU())
    assert tuple(seq(rustdl.randn(2, 3)).shape) == (2, 4) and list(seq.state_dict()) == ["0.weight"]
    fresh = nn.LazyLinear(6)
    fresh.load_state_dict(m.state_dict())
    assert_close(fresh(t(x)), y.detach().numpy(), atol=1e-6)


# ---------------- lr schedulers ----------------


def make_opt(lr=1.0, groups=1, **kw):
    ps = [{"params": [nn.Parameter(rustdl.zeros(1))], "lr": lr * (i + 1)} for i in range(groups)]
    return optim.SGD(ps, lr=lr, momentum=0.9, **kw)


def lrs(opt, sched, n, group=0):
    out = [opt.param_groups[group]["lr"]]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(opt.param_groups[group]["lr"])
    assert sched.get_last_lr()[group] == out[-1]
    return out


def test_lambda_and_multiplicative_lr():
    opt = make_opt(0.5, groups=2)
    s = L.LambdaLR(opt, [lambda e: 0.9**e, lambda e: 1.0 / (e + 1)])
    assert lrs(opt, s, 5) == pytest.approx([0.5 * 0.9**e for e in range(6)])
    opt = make_opt(0.5, groups=2)
    s = L.LambdaLR(opt, [lambda e: 0.9**e, lambda e: 1.0 / (e + 1)])
    assert lrs(opt, s, 5, group=1) == pytest.approx([1.0 / (e + 1) for e in range(6)])
    opt = make_opt(2.0)
    s = L.MultiplicativeLR(opt, lambda e: 0.5 if e % 2 else 0.9)
    expect = [2.0]
    for e in range(1, 7):
        expect.append(expect[-1] * (0.5 if e % 2 else 0.9))
    assert lrs(opt, s, 6) == pytest.approx(expect)
    with pytest.raises(ValueError, match="LambdaLR"):
        L.LambdaLR(make_opt(groups=2), [lambda e: 1.0])
    with pytest.raises(TypeError, match="LambdaLR"):
        L.LambdaLR(make_opt(), 0.5)


def test_lambda_state_dict_keeps_callable_object_state():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, e):
            return self.rate**e

    opt = make_opt()
    s = L.LambdaLR(opt, Decay())
    s.step()
    s.lr_lambdas[0].rate = 0.25
    sd = s.state_dict()
    assert sd["last_epoch"] == 1 and sd["lr_lambdas"] == [{"rate": 0.25}]
    s2 = L.LambdaLR(make_opt(), Decay())
    s2.load_state_dict(sd)
    assert s2.lr_lambdas[0].rate == 0.25 and s2.last_epoch == 1
    assert L.LambdaLR(make_opt(), lambda e: 1.0).state_dict()["lr_lambdas"] == [None]


def test_constant_and_polynomial_lr():
    opt = make_opt(0.05)
    assert lrs(opt, L.ConstantLR(opt, factor=0.5, total_iters=4), 6) == pytest.approx(
        [0.025] * 4 + [0.05] * 3
    )
    opt = make_opt(0.001)
    s = L.PolynomialLR(opt, total_iters=4, power=2.0)
    assert lrs(opt, s, 6) == pytest.approx([0.001 * (1 - min(e, 4) / 4) ** 2 for e in range(7)])
    with pytest.raises(ValueError, match="ConstantLR"):
        L.ConstantLR(make_opt(), factor=1.5)
    with pytest.raises(ValueError, match="PolynomialLR"):
        L.PolynomialLR(make_opt(), total_iters=0)


def test_cosine_annealing_warm_restarts():
    opt = make_opt(1.0)
    s = L.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.1)
    # periods 3, 6, 12: T_cur restarts at epochs 3 and 9
    expect = []
    for e in range(14):
        if e < 3:
            tc, ti = e, 3
        elif e < 9:
            tc, ti = e - 3, 6
        else:
            tc, ti = e - 9, 12
        expect.append(0.1 + 0.9 * (1 + math.cos(math.pi * tc / ti)) / 2)
    assert lrs(opt, s, 13) == pytest.approx(expect)
    # an explicit (fractional) epoch lands on the same curve
    s.step(10.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 1.5 / 12)) / 2)
    opt = make_opt(1.0)
    s = L.CosineAnnealingWarmRestarts(opt, T_0=4)
    assert lrs(opt, s, 9) == pytest.approx([(1 + math.cos(math.pi * (e % 4) / 4)) / 2 for e in range(10)])
    with pytest.raises(ValueError, match="T_0"):
        L.CosineAnnealingWarmRestarts(make_opt(), T_0=0)
    with pytest.raises(ValueError, match="T_mult"):
        L.CosineAnnealingWarmRestarts(make_opt(), T_0=2, T_mult=0)


def np_cyclic(it, base, top, up, down, mode, gamma):
    total = up + down
    cycle = math.floor(1 + it / total)
    x = 1 + it / total - cycle
    sf = x / (up / total) if x <= up / total else (x - 1) / (up / total - 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**it}[mode]
    return base + (top - base) * sf * scale


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr(mode):
    opt = make_opt(123.0)
    s = L.CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=3, step_size_down=2, mode=mode, gamma=0.9)
    got = lrs(opt, s, 16)
    assert got == pytest.approx([np_cyclic(i, 0.1, 1.0, 3, 2, mode, 0.9) for i in range(17)])
    # momentum moves inversely: max_momentum at base_lr, base_momentum at max_lr
    opt = make_opt()
    s = L.CyclicLR(opt, 0.1, 1.0, step_size_up=2)
    moms = [opt.param_groups[0]["momentum"]]
    for _ in range(4):
        s.step()
        moms.append(opt.param_groups[0]["momentum"])
    assert moms == pytest.approx([0.9, 0.85, 0.8, 0.85, 0.9])
    adam = optim.Adam([nn.Parameter(rustdl.zeros(1))])
    L.CyclicLR(adam, 0.1, 1.0, step_size_up=2).step()
    assert adam.param_groups[0]["betas"][0] == pytest.approx(0.85)
    with pytest.raises(ValueError, match="CyclicLR"):
        L.CyclicLR(make_opt(), 0.1, 1.0, mode="sawtooth")
    with pytest.raises(ValueError, match="CyclicLR"):
        L.CyclicLR(optim.Adagrad([nn.Parameter(rustdl.zeros(1))]), 0.1, 1.0)
    custom = L.CyclicLR(make_opt(), 0.1, 1.0, step_size_up=2, scale_fn=lambda c: 0.5, cycle_momentum=False)
    custom.step()
    assert custom.get_last_lr() == pytest.approx([0.1 + 0.9 * 0.5 * 0.5])
    assert custom.state_dict()["_scale_fn_custom"] is None  # a function is not kept, as PyTorch


def test_sequential_lr():
    opt = make_opt(1.0)
    warm = L.ConstantLR(opt, factor=0.1, total_iters=2)
    decay = L.ExponentialLR(opt, gamma=0.9)
    s = L.SequentialLR(opt, [warm, decay], milestones=[2])
    # ConstantLR for epochs 0, 1; then ExponentialLR restarted at its epoch 0
    assert lrs(opt, s, 5) == pytest.approx([0.1, 0.1, 1.0, 0.9, 0.81, 0.729])
    opt = make_opt(1.0)
    lin = L.LinearLR(opt, start_factor=0.25, total_iters=3)
    cos = L.CosineAnnealingLR(opt, T_max=4)
    s = L.SequentialLR(opt, [lin, cos], milestones=[3])
    expect = [0.25 + 0.75 * e / 3 for e in range(3)] + [(1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    assert lrs(opt, s, 7) == pytest.approx(expect)
    sd = s.state_dict()
    assert sd["last_epoch"] == 7 and len(sd["_schedulers"]) == 2
    with pytest.raises(ValueError, match="SequentialLR"):
        L.SequentialLR(opt, [lin, cos], milestones=[])
    other = make_opt()
    with pytest.raises(ValueError, match="SequentialLR"):
        L.SequentialLR(opt, [lin, L.StepLR(other, 2)], milestones=[3])


def test_chained_scheduler_multiplies_effects():
    opt = make_opt(1.0)
    s = L.ChainedScheduler([L.ConstantLR(opt, factor=0.1, total_iters=2), L.ExponentialLR(opt, gamma=0.9)])
    # PyTorch's recursive result: 1·0.1, then ·0.9 per step, the 0.1 undone at epoch 2
    assert lrs(opt, s, 5) == pytest.approx([0.1, 0.09, 0.81, 0.729, 0.6561, 0.59049])
    opt = make_opt(1.0)
    s = L.ChainedScheduler(
        [L.StepLR(opt, step_size=2, gamma=0.5), L.MultiplicativeLR(opt, lambda e: 0.9)], optimizer=opt
    )
    assert lrs(opt, s, 5) == pytest.approx([0.5 ** (e // 2) * 0.9**e for e in range(6)])
    with pytest.raises(ValueError, match="ChainedScheduler"):
        L.ChainedScheduler([])


def test_new_schedulers_state_dict_round_trip():
    opt = make_opt(1.0)
    s = L.PolynomialLR(opt, total_iters=10, power=0.5)
    for _ in range(3):
        s.step()
    opt2 = make_opt(1.0)
    s2 = L.PolynomialLR(opt2, total_iters=10, power=0.5)
    # a resume loads both: the scheduler steps the optimizer's current lr (chainable, as PyTorch)
    opt2.load_state_dict(opt.state_dict())
    s2.load_state_dict(s.state_dict())
    s.step()
    s2.step()
    assert s2.get_last_lr() == pytest.approx(s.get_last_lr())
    assert s2.get_last_lr()[0] == pytest.approx((1 - 4 / 10) ** 0.5)


# ---------------- device ----------------


def test_activations_and_losses_on_device(device):
    x = rnd(3, 4, 6) * 3
    for m, ref in [
        (nn.Hardswish(), lambda v: v * np.clip(v + 3, 0, 6) / 6),
        (nn.Mish(), lambda v: v * np.tanh(np_softplus(v))),
        (nn.GLU(), lambda v: v[..., :3] * np_sigmoid(v[..., 3:])),
        (nn.Softshrink(0.5), lambda v: np.where(v > 0.5, v - 0.5, np.where(v < -0.5, v + 0.5, 0))),
        (nn.SELU(), lambda v: SELU_S * np.where(v > 0, v, SELU_A * np.expm1(v))),
    ]:
        xt = t(x, device=device, requires_grad=True)
        y = m.to(device)(xt)
        assert y.device == xt.device
        assert_close(y, ref(x), rtol=1e-4, atol=1e-4)
        y.sum().backward()
        assert xt.grad is not None and tuple(xt.grad.shape) == x.shape
    out = nn.SoftMarginLoss()(t(X, device=device), t(SIGNS_4, device=device))
    assert_close(out, np.log1p(np.exp(-SIGNS_4 * X)).mean(), rtol=1e-4)


# ---------------- Rprop and ASGD ----------------


def np_rprop(p, grads, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    prev, size = np.zeros_like(p), np.full_like(p, lr)
    for g in grads:
        g = -g if maximize else g.copy()
        s = np.sign(g * prev)
        size = np.clip(size * np.where(s > 0, etas[1], np.where(s < 0, etas[0], 1.0)), *step_sizes)
        g[s < 0] = 0
        p = p - np.sign(g) * size
        prev = g
    return p


def np_asgd(p, grad_fn, n, lr=0.01, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0):
    # eta and mu are held as float32 scalars (PyTorch's state tensors), read back as floats
    f32 = lambda v: float(np.float32(v))  # noqa: E731
    eta, mu, ax = f32(lr), 1.0, np.zeros_like(p)
    for step in range(1, n + 1):
        g = grad_fn(p) + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax) if mu != 1 else p.copy()
        eta = f32(lr / (1 + lambd * lr * step) ** alpha)
        mu = f32(1 / max(1, step - t0))
    return p, ax


def _run(opt_cls, p0, target, n, **kw):
    p = nn.Parameter(t(p0, F64))
    opt = opt_cls([p], **kw)
    grads = []
    for _ in range(n):
        opt.zero_grad()
        ((p - t(target, F64)) ** 3).sum().backward()  # gradients change sign around the target
        grads.append(p.grad.numpy().copy())
        opt.step()
    return p, opt, grads


@pytest.mark.parametrize(
    "kw", [{}, {"lr": 0.3, "etas": (0.3, 1.5), "step_sizes": (0.01, 0.4)}, {"maximize": True}]
)
def test_rprop_matches_numpy(kw):
    p0, target = rnd(5), rnd(5, seed=9) * 0.1
    p, opt, grads = _run(optim.Rprop, p0, target, 12, **kw)
    assert_close(p, np_rprop(p0, grads, **kw), rtol=1e-12, atol=1e-12)
    assert set(opt.state[p]) == {"step", "prev", "step_size"} and opt.state[p]["step"] == 12
    with pytest.raises(ValueError, match="eta"):
        optim.Rprop([nn.Parameter(rustdl.zeros(1))], etas=(1.2, 0.5))
    with pytest.raises(ValueError, match="learning rate"):
        optim.Rprop([nn.Parameter(rustdl.zeros(1))], lr=-1.0)


@pytest.mark.parametrize("kw", [{}, {"lr": 0.05, "t0": 3, "weight_decay": 0.1, "lambd": 0.01, "alpha": 0.5}])
def test_asgd_matches_numpy(kw):
    p0, target = rnd(5), rnd(5, seed=9)
    p, opt, _ = _run(optim.ASGD, p0, target, 10, **kw)
    ref_p, ref_ax = np_asgd(p0, lambda v: 3 * (v - target) ** 2, 10, **kw)
    assert_close(p, ref_p, rtol=1e-12, atol=1e-12)
    assert_close(opt.state[p]["ax"], ref_ax, rtol=1e-12, atol=1e-12)
    # the state round-trips and the run continues identically
    q = nn.Parameter(p.detach().clone())
    opt2 = optim.ASGD([q], **kw)
    opt2.load_state_dict(opt.state_dict())
    for o, v in ((opt, p), (opt2, q)):
        o.zero_grad()
        ((v - t(target, F64)) ** 3).sum().backward()
        o.step()
    assert_close(q, p.detach().numpy(), rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="weight_decay"):
        optim.ASGD([nn.Parameter(rustdl.zeros(1))], weight_decay=-1.0)
