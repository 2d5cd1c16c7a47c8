"""Behaviour that real PyTorch programs relied on and rustdl lacked (found by running them
through ``python -m rustdl.torchcompat``); each case checks values against closed forms or
references written out in numpy."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F


def _np(t):
    return t.detach().numpy()


# --- the deprecated size_average / reduce arguments of the classification losses


def test_classification_losses_take_size_average_and_reduce():
    logp = rustdl.tensor([[-0.1, -2.0, -3.0], [-1.0, -0.5, -2.5]])
    t = rustdl.tensor([0, 2])
    picked = np.array([0.1, 2.5])
    assert F.nll_loss(logp, t, size_average=False).item() == pytest.approx(picked.sum())
    assert F.nll_loss(logp, t, reduce=False).tolist() == pytest.approx(picked.tolist())
    assert F.nll_loss(logp, t, size_average=True).item() == pytest.approx(picked.mean())
    # the older rustdl positional order (weight, ignore_index, reduction) still works
    assert F.nll_loss(logp, t, None, 2, "sum").item() == pytest.approx(0.1)
    logits = rustdl.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    lse = np.log(np.exp(_np(logits)).sum(1))
    ce = lse - _np(logits)[[0, 1], [0, 2]]
    assert F.cross_entropy(logits, t, size_average=False).item() == pytest.approx(ce.sum(), rel=1e-5)
    assert F.cross_entropy(logits, t, None, None, -100, False).tolist() == pytest.approx(
        ce.tolist(), rel=1e-5
    )
    p = rustdl.tensor([0.2, 0.9])
    y = rustdl.tensor([0.0, 1.0])
    bce = -np.log([0.8, 0.9])
    assert F.binary_cross_entropy(p, y, size_average=False).item() == pytest.approx(bce.sum(), rel=1e-5)
    z = rustdl.tensor([0.3, -0.4])
    bcel = np.log1p(np.exp([0.3, 0.4]))
    assert F.binary_cross_entropy_with_logits(z, y, reduce=False).tolist() == pytest.approx(bcel, rel=1e-5)
    q = rustdl.tensor([[0.25, 0.75]])
    lq = rustdl.tensor([[np.log(0.5), np.log(0.5)]])
    kl = (0.25 * np.log(0.5) + 0.75 * np.log(1.5)).item()
    assert F.kl_div(lq, q, size_average=False).item() == pytest.approx(kl, rel=1e-5)
    assert F.kl_div(lq, q, reduction="sum").item() == pytest.approx(kl, rel=1e-5)


def test_loss_modules_take_size_average_and_reduce():
    logp = rustdl.tensor([[-0.1, -2.0], [-1.0, -0.5]])
    t = rustdl.tensor([0, 1])
    assert nn.NLLLoss(size_average=False)(logp, t).item() == pytest.approx(0.6)
    assert nn.NLLLoss(None, None, -100, False)(logp, t).tolist() == pytest.approx([0.1, 0.5])
    assert nn.CrossEntropyLoss(reduce=False)(logp, t).shape == (2,)
    assert nn.CrossEntropyLoss(ignore_index=1, reduction="sum")(logp, t).item() == pytest.approx(
        np.log(np.exp([-0.1, -2.0]).sum()) + 0.1, rel=1e-5
    )
    a, b = rustdl.tensor([1.0, 2.0]), rustdl.tensor([0.0, 0.0])
    assert nn.MSELoss(size_average=False)(a, b).item() == pytest.approx(5.0)
    assert nn.L1Loss(reduce=False)(a, b).tolist() == [1.0, 2.0]
    assert nn.SmoothL1Loss(size_average=False, beta=0.5)(a, b).item() == pytest.approx(0.75 + 1.75)
    assert nn.BCELoss(size_average=False)(rustdl.tensor([0.5]), rustdl.tensor([1.0])).item() == pytest.approx(
        np.log(2)
    )
    assert nn.BCEWithLogitsLoss(reduce=False)(b, a * 0).tolist() == pytest.approx([np.log(2)] * 2)
    assert nn.KLDivLoss(size_average=False)(rustdl.zeros(1, 2), rustdl.ones(1, 2)).item() == 0.0
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


# --- grid_sample bicubic


def _cubic(t, a=-0.75):
    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _np_bicubic(img, gx, gy, padding, align):
    """PyTorch's documented bicubic sampling of one (H, W) image at one normalised point."""
    h, w = img.shape

    def unnorm(c, size):
        return (c + 1) / 2 * (size - 1) if align else ((c + 1) * size - 1) / 2

    def fold(i, size):
        if padding == "border":
            return min(max(i, 0), size - 1)
        if padding == "reflection":
            lo, hi = (0, 2 * (size - 1)) if align else (-1, 2 * size - 1)
            low, span = lo / 2, (hi - lo) / 2
            d = abs(i - low)
            flips = int(d // span)
            extra = d - flips * span
            r = extra + low if flips % 2 == 0 else span - extra + low
            return min(max(r, 0), size - 1)
        return i

    def val(xi, yi):
        xi, yi = fold(xi, w), fold(yi, h)
        if 0 <= xi <= w - 1 and 0 <= yi <= h - 1:
            return img[int(yi), int(xi)]
        return 0.0

    ix, iy = unnorm(gx, w), unnorm(gy, h)
    x0, y0 = np.floor(ix), np.floor(iy)
    wx, wy = _cubic(ix - x0), _cubic(iy - y0)
    return sum(wy[j] * wx[i] * val(x0 - 1 + i, y0 - 1 + j) for j in range(4) for i in range(4))


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_bicubic_matches_reference(padding, align):
    rng = np.random.default_rng(0)
    img = rng.standard_normal((4, 5))
    grid = rng.uniform(-1.3, 1.3, size=(1, 3, 6, 2))
    out = F.grid_sample(
        rustdl.tensor(img[None, None]),
        rustdl.tensor(grid),
        mode="bicubic",
        padding_mode=padding,
        align_corners=align,
    )
    ref = [[_np_bicubic(img, gx, gy, padding, align) for gx, gy in row] for row in grid[0]]
    np.testing.assert_allclose(_np(out)[0, 0], ref, atol=1e-10)


def test_grid_sample_bicubic_keeps_constants_and_has_the_grid_gradient():
    # the cubic-convolution weights sum to one: a constant image samples to itself inside
    img = rustdl.full((1, 1, 5, 6), 2.5, dtype=rustdl.float64)
    g = rustdl.tensor([[[[0.1, -0.2], [-0.3, 0.25]]]], dtype=rustdl.float64)
    np.testing.assert_allclose(
        _np(F.grid_sample(img, g, mode="bicubic", align_corners=True)), 2.5, atol=1e-12
    )
    # the grid gradient is the derivative of the sampled surface (central differences)
    rng = np.random.default_rng(1)
    img = rustdl.tensor(rng.standard_normal((1, 1, 5, 6)))
    g0 = rng.uniform(-0.9, 0.9, size=(1, 2, 2, 2))
    g = rustdl.tensor(g0, requires_grad=True)
    F.grid_sample(img, g, mode="bicubic", padding_mode="border").sum().backward()
    eps = 1e-6
    num = np.zeros_like(g0)
    for idx in np.ndindex(g0.shape):
        hi, lo = g0.copy(), g0.copy()
        hi[idx] += eps
        lo[idx] -= eps
        f = [
            F.grid_sample(img, rustdl.tensor(v), mode="bicubic", padding_mode="border").sum().item()
            for v in (hi, lo)
        ]
        num[idx] = (f[0] - f[1]) / (2 * eps)
    np.testing.assert_allclose(_np(g.grad), num, rtol=1e-5, atol=1e-6)


def test_grid_sample_rejects_bad_modes_and_dtypes():
    x = rustdl.zeros(1, 1, 2, 2)
    g = rustdl.zeros(1, 1, 1, 2)
    with pytest.raises(ValueError, match="grid_sample"):
        F.grid_sample(x, g, mode="lanczos")
    with pytest.raises(TypeError, match="grid_sample"):
        F.grid_sample(x.long(), g)
    with pytest.raises(ValueError, match="grid_sample"):
        F.grid_sample(x, rustdl.zeros(1, 1, 2))


# --- torch.sparse on dense storage


def test_sparse_coo_tensor_sums_duplicates_and_multiplies_as_dense():
    i = rustdl.tensor([[0, 1, 1, 2], [2, 0, 0, 1]])
    v = rustdl.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    s = rustdl.sparse_coo_tensor(i, v, (3, 3))
    expect = np.array([[0, 0, 1.0], [5.0, 0, 0], [0, 4.0, 0]])
    np.testing.assert_array_equal(_np(s.to_dense()), expect)
    d = rustdl.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(_np(rustdl.sparse.mm(s, d)), expect @ _np(d))
    np.testing.assert_array_equal(_np(rustdl.spmm(s, d)), expect @ _np(d))
    rustdl.sparse.sum(s).backward()
    assert v.grad.tolist() == [1.0, 1.0, 1.0, 1.0]
    # size inferred from the indices; hybrid values (nnz, k) give trailing dense dims
    assert rustdl.sparse_coo_tensor(i, rustdl.ones(4)).shape == (3, 3)
    hyb = rustdl.sparse_coo_tensor(rustdl.tensor([[0, 2]]), rustdl.ones(2, 3), (4, 3))
    np.testing.assert_array_equal(_np(hyb).sum(1), [3, 0, 3, 0])
    assert (
        rustdl.sparse_coo_tensor(rustdl.zeros(2, 0, dtype=rustdl.int64), rustdl.zeros(0), (2, 2)).sum() == 0
    )
    assert s.coalesce().indices().tolist() == [[0, 1, 2], [2, 0, 1]]
    assert s.coalesce().values().tolist() == [1.0, 5.0, 4.0]


def test_sparse_coo_tensor_rejects_bad_input():
    i = rustdl.tensor([[0, 3]])
    with pytest.raises(IndexError, match="sparse_coo_tensor"):
        rustdl.sparse_coo_tensor(i, rustdl.ones(2), (3,))
    with pytest.raises(IndexError, match="sparse_coo_tensor"):
        rustdl.sparse_coo_tensor(rustdl.tensor([[-1, 0]]), rustdl.ones(2), (3,))
    with pytest.raises(TypeError, match="sparse_coo_tensor"):
        rustdl.sparse_coo_tensor(i.float(), rustdl.ones(2), (4,))
    with pytest.raises(ValueError, match="sparse_coo_tensor"):
        rustdl.sparse_coo_tensor(i, rustdl.ones(3), (4,))
    with pytest.raises(ValueError, match="sparse_coo_tensor"):
        rustdl.sparse_coo_tensor(i, rustdl.ones(2), (4, 4))
    with pytest.raises(ValueError, match="sparse_coo_tensor"):
        rustdl.sparse_coo_tensor(rustdl.zeros(1, 0, dtype=rustdl.int64), rustdl.ones(0))
    with pytest.raises(ValueError, match="sparse_coo_tensor"):
        rustdl.sparse_coo_tensor(i, rustdl.ones(2), (-4,))


# --- scatter with repeated indices


def test_scatter_repeated_index_writes_once_last_wins():
    idx = rustdl.tensor([[1, 1, 3], [0, 2, 0]])
    # a number is written, not summed: the multi-hot idiom
    out = rustdl.zeros(2, 4).scatter_(1, idx, 1.0)
    np.testing.assert_array_equal(_np(out), [[0, 1, 0, 1], [1, 0, 1, 0]])
    # with a tensor the last write in the index's row-major order wins
    src = rustdl.tensor([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]], requires_grad=True)
    base = rustdl.full((2, 4), -1.0, requires_grad=True)
    out = base.scatter(1, idx, src)
    np.testing.assert_array_equal(_np(out), [[-1, 20, -1, 30], [60, -1, 50, -1]])
    (out * rustdl.arange(1.0, 9.0).reshape(2, 4)).sum().backward()
    # every write gets the gradient at the position it wrote to, an overwritten one too
    # (PyTorch's scatter backward: grad.gather(dim, index)); overwritten base entries get none
    np.testing.assert_array_equal(_np(src.grad), [[2, 2, 4], [5, 7, 5]])
    np.testing.assert_array_equal(_np(base.grad), [[1, 0, 3, 0], [0, 6, 0, 8]])
    # dim 0, and the empty index
    col = rustdl.zeros(3, 2).scatter(
        0, rustdl.tensor([[2, 2], [2, 0]]), rustdl.tensor([[1.0, 2.0], [3.0, 4.0]])
    )
    np.testing.assert_array_equal(_np(col), [[0, 4], [0, 0], [3, 2]])
    assert rustdl.ones(2, 2).scatter(1, rustdl.zeros(2, 0, dtype=rustdl.int64), 5.0).tolist() == [
        [1, 1],
        [1, 1],
    ]


# --- StepLR / MultiStepLR / ExponentialLR chain from the current learning rate


def _opt(lr=1.0):
    return rustdl.optim.SGD([rustdl.zeros(1, requires_grad=True)], lr=lr)


def test_step_schedulers_chain_from_the_current_lr():
    sched_cls = rustdl.optim.lr_scheduler
    opt = _opt()
    s = sched_cls.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        s.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt.param_groups[0]["lr"] = 0.1  # changed by hand: the schedule carries on from it
    s.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    # resuming: the optimizer's restored lr survives constructing a fresh scheduler
    opt2 = _opt()
    opt2.load_state_dict(opt.state_dict())
    s2 = sched_cls.StepLR(opt2, step_size=2, gamma=0.5)
    s2.load_state_dict(s.state_dict())
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.05)
    s2.step()
    s2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.025)
    opt = _opt()
    m = sched_cls.MultiStepLR(opt, milestones=[1, 3, 3], gamma=0.1)
    got = []
    for _ in range(4):
        m.step()
        got.append(opt.param_groups[0]["lr"])
    assert got == pytest.approx([0.1, 0.1, 0.001, 0.001])
    opt = _opt(2.0)
    e = sched_cls.ExponentialLR(opt, gamma=0.5)
    assert opt.param_groups[0]["lr"] == 2.0
    e.step()
    e.step(5)  # an explicit epoch uses the closed form
    assert opt.param_groups[0]["lr"] == pytest.approx(2.0 * 0.5**5)
    opt = _opt(0.3)
    opt.param_groups[0]["initial_lr"] = 1.0
    sched_cls.CosineAnnealingLR(opt, T_max=4)
    assert opt.param_groups[0]["lr"] == 0.3


def test_scatter_rejects_bad_indices_naming_scatter():
    x = rustdl.zeros(2, 3)
    with pytest.raises(IndexError, match="scatter: index 5 is out of bounds"):
        x.scatter_(1, rustdl.tensor([[5], [0]]), 1.0)
    with pytest.raises(IndexError, match="scatter: index -1"):
        x.scatter(1, rustdl.tensor([[-1], [0]]), 1.0)
    with pytest.raises(IndexError, match="scatter: dim 5"):
        x.scatter(5, rustdl.zeros(2, 1, dtype=rustdl.int64), 1.0)
    with pytest.raises(RuntimeError, match="scatter: expected index"):
        x.scatter(1, rustdl.zeros(2, 2, dtype=rustdl.int64), rustdl.ones(1, 1))
    with pytest.raises(RuntimeError, match="scatter: expected index"):
        x.scatter(1, rustdl.zeros(5, 1, dtype=rustdl.int64), 1.0)
    assert x.tolist() == [[0, 0, 0], [0, 0, 0]]  # nothing written by the failed calls
    assert x.scatter(-1, rustdl.tensor([[2], [1]]), 3.0).tolist() == [[0, 0, 3], [0, 3, 0]]


def test_grid_sample_rejects_empty_spatial_input():
    with pytest.raises(ValueError, match="grid_sample: expected input to have non-empty spatial"):
        F.grid_sample(rustdl.zeros(1, 1, 0, 3), rustdl.zeros(1, 2, 2, 2), mode="bicubic")
    # an empty batch is fine
    assert F.grid_sample(rustdl.zeros(0, 1, 3, 3), rustdl.zeros(0, 2, 2, 2)).shape == (0, 1, 2, 2)


def test_mean_takes_dtype():
    t = rustdl.tensor([[1, 2], [3, 5]])
    out = t.mean(dtype=rustdl.float64)
    assert out.dtype == rustdl.float64 and out.item() == 2.75
    assert rustdl.mean(t, 1, keepdim=True, dtype=rustdl.float32).tolist() == [[1.5], [4.0]]
    assert rustdl.tensor([1.0, 2.0]).mean(0).item() == 1.5
    with pytest.raises(TypeError, match="mean"):
        t.mean()


def test_default_collate_container_types_as_pytorch():
    from collections import namedtuple

    from rustdl.data import default_collate

    # tuples collate into a list; strings come back as the container they were gathered in
    out = default_collate([(1, "a"), (2, "b")])
    assert isinstance(out, list) and out[0].tolist() == [1, 2] and out[1] == ("a", "b")
    assert default_collate(["x", "y"]) == ["x", "y"]
    nested = default_collate([({"k": [1, 2]}, "s"), ({"k": [3, 4]}, "t")])
    assert [v.tolist() for v in nested[0]["k"]] == [[1, 3], [2, 4]] and nested[1] == ("s", "t")
    P = namedtuple("P", "x s")
    p = default_collate([P(1, "a"), P(2, "b")])
    assert isinstance(p, P) and p.x.tolist() == [1, 2] and p.s == ("a", "b")
    with pytest.raises(ValueError, match="default_collate"):
        default_collate([(1, 2), (3,)])
    with pytest.raises(ValueError, match="default_collate"):
        default_collate([])


def test_linspace_counts_up_then_down_as_pytorch():
    # a float32 step; the first half start + i*step, the second end - (n-1-i)*step, each rounded
    # once: symmetric about the middle, the middle of (-1, 1, 7) the float32 residue of 1 - 3*step
    step = np.float32(2) / np.float32(6)
    expect = [
        np.float32(-1 + np.float64(step) * i) if i < 3 else np.float32(1 - np.float64(step) * (6 - i))
        for i in range(7)
    ]
    got = rustdl.linspace(-1, 1, 7)
    assert got.tolist() == [float(v) for v in expect]
    assert got.tolist()[3] == float(np.float32(1 - 3 * np.float64(step))) != 0.0
    x = rustdl.linspace(-3.0, 3.0, 50).numpy()
    np.testing.assert_array_equal(x, -x[::-1])
    assert x[-1] == 3.0 and x[0] == -3.0
    d = rustdl.linspace(0, 1, 11, dtype=rustdl.float64).numpy()
    assert d[-1] == 1.0 and d[5] == 0.5
    assert rustdl.linspace(0, 10, 5, dtype=rustdl.int64).tolist() == [0, 2, 5, 7, 10]
    assert rustdl.linspace(2, 5, 1).tolist() == [2.0] and rustdl.linspace(0, 1, 0).shape == (0,)
    with pytest.raises(ValueError, match="linspace"):
        rustdl.linspace(0, 1, -1)


def test_mixture_same_family_log_prob_moments_and_samples():
    import rustdl.distributions as D

    w = np.array([0.3, 0.7])
    mu, sd = np.array([-1.0, 1.0]), np.array([0.5, 2.0])
    gmm = D.MixtureSameFamily(
        D.Categorical(probs=rustdl.tensor(w, dtype=rustdl.float64)),
        D.Normal(rustdl.tensor(mu), rustdl.tensor(sd)),
    )
    x = np.array([-2.0, 0.2, 3.0])
    dens = (w * np.exp(-0.5 * ((x[:, None] - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))).sum(1)
    np.testing.assert_allclose(_np(gmm.log_prob(rustdl.tensor(x))), np.log(dens), rtol=1e-10)
    m = (w * mu).sum()
    assert gmm.mean.item() == pytest.approx(m)
    assert gmm.variance.item() == pytest.approx((w * (sd**2 + mu**2)).sum() - m**2)
    s = gmm.sample((4000,))
    assert tuple(s.shape) == (4000,) and abs(s.mean().item() - m) < 0.15
    # batched mixtures of 2-D components (event dims) via Independent
    comp = D.Independent(
        D.Normal(rustdl.zeros(3, 2, 4, dtype=rustdl.float64), rustdl.ones(3, 2, 4, dtype=rustdl.float64)), 1
    )
    mix = D.MixtureSameFamily(D.Categorical(logits=rustdl.zeros(3, 2, dtype=rustdl.float64)), comp)
    assert tuple(mix.batch_shape) == (3,) and tuple(mix.event_shape) == (4,)
    assert tuple(mix.sample((5,)).shape) == (5, 3, 4)
    np.testing.assert_allclose(
        _np(mix.log_prob(rustdl.zeros(3, 4, dtype=rustdl.float64))), -2 * np.log(2 * np.pi)
    )
    with pytest.raises(ValueError, match="MixtureSameFamily"):
        D.MixtureSameFamily(
            D.Categorical(probs=rustdl.tensor([0.5, 0.5])), D.Normal(rustdl.zeros(3), rustdl.ones(3))
        )
    with pytest.raises(ValueError, match="MixtureSameFamily"):
        D.MixtureSameFamily(D.Normal(0.0, 1.0), D.Normal(rustdl.zeros(2), rustdl.ones(2)))


def test_torchcompat_distribution_shapes_are_torch_sizes():
    import rustdl.distributions as D
    from rustdl.torchcompat import install, uninstall

    d = D.Independent(D.Normal(rustdl.zeros(2, 3), rustdl.ones(2, 3)), 1)
    install()
    try:
        assert repr(d.batch_shape) == "torch.Size([2])" and repr(d.event_shape) == "torch.Size([3])"
        assert d.batch_shape == (2,)
    finally:
        uninstall()
    assert type(d.batch_shape) is tuple and d.event_shape == (3,)


def test_saved_state_dict_loads_back_as_an_ordered_dict(tmp_path):
    import collections
    import io

    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    buf = io.BytesIO()
    rustdl.save({"model": m.state_dict(), "meta": {"epoch": 2}}, buf)
    buf.seek(0)
    ck = rustdl.load(buf)
    assert type(ck) is dict and type(ck["meta"]) is dict
    assert isinstance(ck["model"], collections.OrderedDict) and list(ck["model"]) == list(m.state_dict())
    path = tmp_path / "sd.pt"
    rustdl.save(m.state_dict(), str(path))
    sd = rustdl.load(str(path), weights_only=True)
    assert isinstance(sd, collections.OrderedDict)
    m.load_state_dict(sd)
