"""Gaps found by running PyTorch tutorial programs (forward-mode AD, ``torch.func``, pruning,
parametrizations, sequence tagging) under PyTorch and ``rustdl.torchcompat`` side by side.
References: closed-form derivatives, numpy and finite differences."""

import numpy as np
import pytest
import rustdl
import rustdl.autograd.forward_ad as fwad
from rustdl.autograd import Function, gradcheck

# ------------------------------------------------------------------------------------------
# custom Functions with a forward-mode rule (jvp), and gradcheck(check_forward_ad=True)
# ------------------------------------------------------------------------------------------


class ExpJvp(Function):
    """exp with only a forward-mode rule, as in the forward-mode AD tutorial."""

    @staticmethod
    def forward(ctx, x):
        ctx.result = x.exp()
        return ctx.result

    @staticmethod
    def jvp(ctx, tx):
        return tx * ctx.result


def _a(seed, shape=(3, 4)):
    return np.random.default_rng(seed).standard_normal(shape)


def test_function_jvp_gives_the_tangent_and_chains_on():
    x, t = _a(0), _a(1)
    with fwad.dual_level():
        d = fwad.make_dual(rustdl.tensor(x, requires_grad=True), rustdl.tensor(t))
        out = ExpJvp.apply(d)
        np.testing.assert_allclose(fwad.unpack_dual(out).tangent.numpy(), np.exp(x) * t, rtol=1e-12)
        # ops before and after the Function: d/dx sin(exp(2x)) = cos(exp(2x)) exp(2x) 2
        chained = ExpJvp.apply(d * 2).sin()
        expect = np.cos(np.exp(2 * x)) * np.exp(2 * x) * 2 * t
        np.testing.assert_allclose(fwad.unpack_dual(chained).tangent.detach().numpy(), expect, rtol=1e-10)
    # outside a dual level the Function is plain
    np.testing.assert_allclose(ExpJvp.apply(rustdl.tensor(x)).numpy(), np.exp(x))


class SquareWrongJvp(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_forward(x)
        return x * x

    @staticmethod
    def jvp(ctx, tx):
        (x,) = ctx.saved_tensors
        return 3 * x * tx  # should be 2 x tx


class MulAdd(Function):
    """Two outputs, both a backward and a jvp, tensors saved for each."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        ctx.save_for_forward(x, y)
        return x * y, x + y

    @staticmethod
    def backward(ctx, g1, g2):
        x, y = ctx.saved_tensors
        return g1 * y + g2, g1 * x + g2

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y = ctx.saved_tensors
        return tx * y + ty * x, tx + ty


@pytest.mark.parametrize("fast", [False, True])
def test_gradcheck_checks_forward_mode_rules(fast):
    x = rustdl.tensor(_a(2), requires_grad=True)
    y = rustdl.tensor(_a(3), requires_grad=True)
    kw = dict(check_forward_ad=True, check_backward_ad=False, check_undefined_grad=False, fast_mode=fast)
    assert gradcheck(ExpJvp.apply, (x,), **kw)
    assert gradcheck(SquareWrongJvp.apply, (x,), raise_exception=False, **kw) is False
    with pytest.raises(rustdl.autograd.GradcheckError, match="forward-mode"):
        gradcheck(SquareWrongJvp.apply, (x,), **kw)
    assert gradcheck(MulAdd.apply, (x, y), check_forward_ad=True, fast_mode=fast)
    assert gradcheck(lambda a: a @ a.t() + a.sum(), (x,), check_forward_ad=True, fast_mode=fast)


def test_function_without_forward_or_jvp_rule_raises_clearly():
    class NoRules(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    x = rustdl.tensor(_a(4), requires_grad=True)
    with pytest.raises(NotImplementedError, match="backward"):
        NoRules.apply(x).sum().backward()
    with pytest.raises(NotImplementedError, match="jvp"):
        Function.jvp(None, x)


def test_function_jvp_checks_its_result():
    class TwoForOne(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def jvp(ctx, tx):
            return tx, tx

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def jvp(ctx, tx):
            return tx.sum()

    with fwad.dual_level():
        d = fwad.make_dual(rustdl.tensor(_a(5)), rustdl.tensor(_a(6)))
        with pytest.raises(RuntimeError, match="incorrect number of forward gradients"):
            TwoForOne.apply(d)
        with pytest.raises(RuntimeError, match="jvp.*shape"):
            WrongShape.apply(d)


# ------------------------------------------------------------------------------------------
# creation keywords: pin_memory=, layout=, out=, memory_format= as PyTorch's factories take them
# ------------------------------------------------------------------------------------------

FACTORIES = {
    "zeros": (lambda **k: rustdl.zeros(2, 3, **k), np.zeros((2, 3))),
    "ones": (lambda **k: rustdl.ones(2, 3, **k), np.ones((2, 3))),
    "full": (lambda **k: rustdl.full((2, 3), 1.5, **k), np.full((2, 3), 1.5)),
    "arange": (lambda **k: rustdl.arange(1, 7, 2, **k), np.arange(1, 7, 2)),
    "linspace": (lambda **k: rustdl.linspace(0, 1, 5, **k), np.linspace(0, 1, 5)),
    "logspace": (lambda **k: rustdl.logspace(0, 2, 3, **k), np.logspace(0, 2, 3)),
    "eye": (lambda **k: rustdl.eye(3, **k), np.eye(3)),
    "tensor": (lambda **k: rustdl.tensor([[1.0, 2.0]], **k), np.array([[1.0, 2.0]])),
    "zeros_like": (lambda **k: rustdl.zeros_like(rustdl.ones(4), **k), np.zeros(4)),
    "full_like": (lambda **k: rustdl.full_like(rustdl.ones(4), 7.0, **k), np.full(4, 7.0)),
    "new_ones": (lambda **k: rustdl.ones(1).new_ones(2, 2, **k), np.ones((2, 2))),
    "new_full": (lambda **k: rustdl.ones(1).new_full((3,), 2.0, **k), np.full(3, 2.0)),
    "hann_window": (lambda **k: rustdl.hann_window(4, **k), 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(4) / 4)),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_take_pin_memory_and_layout(name):
    make, expect = FACTORIES[name]
    for kw in ({"pin_memory": True}, {"pin_memory": False}, {"layout": rustdl.strided}):
        if name == "tensor" and "layout" in kw:
            continue
        np.testing.assert_allclose(make(**kw).numpy(), expect, rtol=1e-6)
    with pytest.raises(TypeError, match="pin_memory"):
        make(pin_memory="yes")
    if name != "tensor":
        with pytest.raises(NotImplementedError, match="strided layout"):
            make(layout=rustdl.sparse_coo)
        with pytest.raises(TypeError, match="layout"):
            make(layout="strided")


def test_factories_write_into_out():
    out = rustdl.empty(2, 3)
    assert rustdl.ones(2, 3, out=out) is out
    np.testing.assert_array_equal(out.numpy(), np.ones((2, 3)))
    # out's dtype is the result's, and out takes the result's size
    idx = rustdl.zeros(1, dtype=rustdl.int64)
    assert rustdl.arange(5, out=idx) is idx
    assert idx.dtype == rustdl.int64 and idx.tolist() == [0, 1, 2, 3, 4]
    e = rustdl.empty(0)
    rustdl.eye(2, out=e)
    np.testing.assert_array_equal(e.numpy(), np.eye(2))
    g = rustdl.Generator().manual_seed(3)
    r = rustdl.empty(4)
    rustdl.rand(4, out=r, generator=g)
    assert ((r.numpy() >= 0) & (r.numpy() < 1)).all() and len(set(r.tolist())) == 4
    with pytest.raises(TypeError, match="out"):
        rustdl.zeros(2, out=[0, 0])
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        rustdl.zeros(2, out=rustdl.ones(2, requires_grad=True))


def test_empty_strided_has_the_strides_asked_for():
    t = rustdl.empty_strided((2, 3), (1, 2))
    assert tuple(t.shape) == (2, 3) and tuple(t.stride()) == (1, 2)
    t.copy_(rustdl.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(t.numpy(), np.arange(6.0).reshape(2, 3))
    assert not t.is_contiguous()
    assert tuple(rustdl.empty_strided((0, 3), (3, 1)).shape) == (0, 3)
    assert rustdl.empty_strided((2,), (1,), requires_grad=True).requires_grad
    s = rustdl.ones(1).new_empty_strided((3, 2), (1, 3))
    assert tuple(s.stride()) == (1, 3)
    with pytest.raises(RuntimeError, match="mismatch in length"):
        rustdl.empty_strided((2, 3), (1,))
    with pytest.raises(RuntimeError, match="non-negative"):
        rustdl.empty_strided((2, 3), (-1, 1))


def test_memory_format_on_conversions_and_empty():
    cl = rustdl.channels_last
    x = rustdl.randn(2, 3, 4, 5)
    for conv, dtype in (("float", "float32"), ("double", "float64"), ("long", "int64"), ("int", "int32"),
                        ("bool", "bool"), ("short", "int16"), ("byte", "uint8"), ("char", "int8"), ("cpu", "float32")):  # fmt: skip
        y = getattr(x, conv)(memory_format=cl)
        assert str(y.dtype).endswith(dtype) and tuple(y.shape) == (2, 3, 4, 5)
        with pytest.raises(RuntimeError, match="required rank 4"):
            getattr(rustdl.ones(3), conv)(memory_format=cl)
        with pytest.raises(TypeError):
            getattr(x, conv)(memory_format="channels_last")
    np.testing.assert_array_equal(
        x.to(rustdl.float64, memory_format=cl).numpy(), x.numpy().astype(np.float64)
    )
    with pytest.raises(RuntimeError, match="required rank 4"):
        rustdl.ones(2, 3).to(memory_format=cl)
    assert tuple(rustdl.empty(2, 3, 4, 5, memory_format=cl).shape) == (2, 3, 4, 5)
    assert tuple(rustdl.empty((1, 2, 3, 4, 5), memory_format=rustdl.channels_last_3d).shape) == (
        1,
        2,
        3,
        4,
        5,
    )
    with pytest.raises(RuntimeError, match="required rank 4"):
        rustdl.empty(3, memory_format=cl)
    with pytest.raises(RuntimeError, match="unsupported memory format"):
        rustdl.empty(3, memory_format=rustdl.preserve_format)


# ------------------------------------------------------------------------------------------
# torchvision.ops: RoI Align / RoI pooling against per-sample numpy loops, paired-box losses
# against the closed forms, DropBlock
# ------------------------------------------------------------------------------------------


def _bilinear(img, y, x):
    """One sample of (C, H, W) at (y, x): 0 beyond a pixel outside, the border within it."""
    h, w = img.shape[1:]
    if y < -1 or y > h or x < -1 or x > w:
        return np.zeros(img.shape[0])
    y, x = min(max(y, 0.0), h - 1), min(max(x, 0.0), w - 1)
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    ly, lx = y - y0, x - x0
    return (
        img[:, y0, x0] * (1 - ly) * (1 - lx) + img[:, y0, x1] * (1 - ly) * lx
        + img[:, y1, x0] * ly * (1 - lx) + img[:, y1, x1] * ly * lx
    )  # fmt: skip


def _roi_align_ref(feat, rois, ph, pw, scale, ratio, aligned):
    out = np.zeros((len(rois), feat.shape[1], ph, pw))
    off = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        sx, sy = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sx, y2 * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        gh = ratio if ratio > 0 else max(int(np.ceil(rh / ph)), 1)
        gw = ratio if ratio > 0 else max(int(np.ceil(rw / pw)), 1)
        for i in range(ph):
            for j in range(pw):
                acc = 0.0
                for a in range(gh):
                    for c in range(gw):
                        y = sy + i * rh / ph + (a + 0.5) * rh / ph / gh
                        x = sx + j * rw / pw + (c + 0.5) * rw / pw / gw
                        acc = acc + _bilinear(feat[int(b)], y, x)
                out[k, :, i, j] = acc / (gh * gw)
    return out


def _roi_pool_ref(feat, rois, ph, pw, scale):
    out = np.zeros((len(rois), feat.shape[1], ph, pw))
    h, w = feat.shape[2:]
    for k, (b, *box) in enumerate(rois):
        x1, y1, x2, y2 = (int(np.sign(v) * np.floor(abs(v) + 0.5)) for v in np.array(box) * scale)
        rh, rw = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
        for i in range(ph):
            for j in range(pw):
                hs = min(max(int(np.floor(i * rh / ph)) + y1, 0), h)
                he = min(max(int(np.ceil((i + 1) * rh / ph)) + y1, 0), h)
                ws = min(max(int(np.floor(j * rw / pw)) + x1, 0), w)
                we = min(max(int(np.ceil((j + 1) * rw / pw)) + x1, 0), w)
                if he > hs and we > ws:
                    out[k, :, i, j] = feat[int(b), :, hs:he, ws:we].max(axis=(1, 2))
    return out


BOXES = [
    [[0, 0, 4, 4], [1, 2, 7, 6.5], [-3, -2, 5, 12], [8.2, 7.1, 15, 13]],
    [[2.5, 1.5, 3.0, 2.0], [0.3, 0.6, 10.7, 8.9]],
]


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("ratio", [-1, 2, 3])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_roi_align_matches_bilinear_sampling(aligned, ratio, scale):
    from rustdl.torchcompat.torchvision import ops

    feat = np.random.default_rng(1).standard_normal((2, 3, 9, 11))
    rois = np.array([[i, *b] for i, bs in enumerate(BOXES) for b in bs])
    ref = _roi_align_ref(feat, rois, 3, 2, scale, ratio, aligned)
    boxes = [rustdl.tensor(np.array(b, dtype=np.float32)) for b in BOXES]
    got = ops.roi_align(rustdl.tensor(feat), boxes, (3, 2), scale, ratio, aligned)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-6)
    # the (K, 5) form and the module give the same
    mod = ops.RoIAlign((3, 2), scale, ratio, aligned)
    np.testing.assert_allclose(
        mod(rustdl.tensor(feat), rustdl.tensor(rois)).numpy(), ref, rtol=1e-5, atol=1e-6
    )


def test_roi_align_and_roi_pool_gradients_are_their_adjoints():
    from rustdl.torchcompat.torchvision import ops

    rng = np.random.default_rng(2)
    feat = rng.standard_normal((2, 3, 9, 11))
    rois = np.array([[i, *b] for i, bs in enumerate(BOXES) for b in bs])
    for fn, ref in (
        (lambda t: ops.roi_align(t, rustdl.tensor(rois), 3, 0.7, -1, True), lambda f: _roi_align_ref(f, rois, 3, 3, 0.7, -1, True)),
        (lambda t: ops.roi_pool(t, rustdl.tensor(rois), 2, 0.6), lambda f: _roi_pool_ref(f, rois, 2, 2, 0.6)),
    ):  # fmt: skip
        x = rustdl.tensor(feat, requires_grad=True)
        out = fn(x)
        g = rng.standard_normal(tuple(out.shape))
        (out * rustdl.tensor(g)).sum().backward()
        # <g, d out / d feat · e> by central differences along a random direction e
        e = rng.standard_normal(feat.shape)
        num = ((ref(feat + 1e-6 * e) - ref(feat - 1e-6 * e)) * g).sum() / 2e-6
        np.testing.assert_allclose((x.grad.numpy() * e).sum(), num, rtol=1e-5)


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.3])
def test_roi_pool_matches_quantized_bins(scale):
    from rustdl.torchcompat.torchvision import ops

    feat = np.random.default_rng(3).standard_normal((2, 3, 9, 11))
    rois = np.array([[i, *b] for i, bs in enumerate(BOXES) for b in bs])
    got = ops.roi_pool(rustdl.tensor(feat), [rustdl.tensor(np.array(b)) for b in BOXES], (3, 2), scale)
    np.testing.assert_allclose(got.numpy(), _roi_pool_ref(feat, rois, 3, 2, scale), rtol=1e-6)
    assert tuple(ops.RoIPool(2, scale)(rustdl.tensor(feat), rustdl.tensor(rois)).shape) == (6, 3, 2, 2)


def test_roi_ops_reject_bad_boxes():
    from rustdl.torchcompat.torchvision import ops

    x = rustdl.randn(1, 2, 5, 5)
    with pytest.raises(ValueError, match="roi_align.*\\(K, 5\\)"):
        ops.roi_align(x, rustdl.ones(3, 4), 2)
    with pytest.raises(IndexError, match="roi_pool.*batch index"):
        ops.roi_pool(x, rustdl.tensor([[1.0, 0, 0, 2, 2]]), 2)
    with pytest.raises(ValueError, match="roi_align.*finite"):
        ops.roi_align(x, [rustdl.tensor([[0.0, 0, float("nan"), 2]])], 2)
    with pytest.raises(ValueError, match="input of shape"):
        ops.roi_pool(rustdl.randn(2, 5, 5), [rustdl.ones(1, 4)], 2)
    assert tuple(ops.roi_align(x, [rustdl.zeros(0, 4)], (2, 3)).shape) == (0, 2, 2, 3)


def test_paired_box_losses_match_closed_forms():
    from rustdl.torchcompat.torchvision import ops

    b1 = np.array([[0, 0, 10, 10], [1, 2, 5, 9], [3, 3, 4, 4.5]])
    b2 = np.array([[1, 1, 11, 12], [20, 20, 25, 30], [3, 3, 4, 4.5]])
    eps = 1e-7
    iw = np.clip(np.minimum(b1[:, 2], b2[:, 2]) - np.maximum(b1[:, 0], b2[:, 0]), 0, None)
    ih = np.clip(np.minimum(b1[:, 3], b2[:, 3]) - np.maximum(b1[:, 1], b2[:, 1]), 0, None)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    inter = iw * ih
    union = area(b1) + area(b2) - inter
    iou = inter / (union + eps)
    cw = np.maximum(b1[:, 2], b2[:, 2]) - np.minimum(b1[:, 0], b2[:, 0])
    ch = np.maximum(b1[:, 3], b2[:, 3]) - np.minimum(b1[:, 1], b2[:, 1])
    giou = 1 - iou + (cw * ch - union) / (cw * ch + eps)
    d2 = ((b1[:, 0] + b1[:, 2] - b2[:, 0] - b2[:, 2]) / 2) ** 2 + (
        (b1[:, 1] + b1[:, 3] - b2[:, 1] - b2[:, 3]) / 2
    ) ** 2
    diou = 1 - iou + d2 / (cw**2 + ch**2 + eps)
    v = (
        4
        / np.pi**2
        * (
            np.arctan((b2[:, 2] - b2[:, 0]) / (b2[:, 3] - b2[:, 1]))
            - np.arctan((b1[:, 2] - b1[:, 0]) / (b1[:, 3] - b1[:, 1]))
        )
        ** 2
    )
    ciou = diou + v / (1 - iou + v + eps) * v
    t1, t2 = rustdl.tensor(b1), rustdl.tensor(b2)
    for fn, ref in (
        (ops.generalized_box_iou_loss, giou),
        (ops.distance_box_iou_loss, diou),
        (ops.complete_box_iou_loss, ciou),
    ):
        np.testing.assert_allclose(fn(t1, t2).numpy(), ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(fn(t1, t2, reduction="mean").item(), ref.mean(), rtol=1e-10)
        np.testing.assert_allclose(fn(t1, t2, reduction="sum").item(), ref.sum(), rtol=1e-10)
        assert abs(fn(t1[2:], t2[2:]).item()) < 1e-6  # identical boxes
        with pytest.raises(ValueError, match="reduction"):
            fn(t1, t2, reduction="avg")
    x = rustdl.tensor(b1, requires_grad=True)
    ops.generalized_box_iou_loss(x, t2, reduction="sum").backward()
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()


def test_drop_block_drops_blocks_at_the_rate_asked():
    from rustdl.torchcompat.torchvision import ops

    rustdl.manual_seed(0)
    x = rustdl.ones(8, 8, 32, 32)
    y = ops.drop_block2d(x, 0.2, 3)
    dropped = (y.numpy() == 0).mean()
    assert 0.12 < dropped < 0.28
    kept = y.numpy()[y.numpy() != 0]
    np.testing.assert_allclose(kept, 1 / (1 - dropped), rtol=1e-5)  # the rest rescaled
    assert ops.drop_block2d(x, 0.2, 3, training=False) is x
    assert ops.DropBlock2d(0.5, 3).eval()(x) is x
    assert tuple(ops.drop_block3d(rustdl.ones(2, 2, 5, 6, 7), 0.1, 3).shape) == (2, 2, 5, 6, 7)
    with pytest.raises(ValueError, match="odd"):
        ops.drop_block2d(x, 0.2, 4)
    with pytest.raises(ValueError, match="between 0 and 1"):
        ops.drop_block2d(x, 1.5, 3)


# ------------------------------------------------------------------------------------------
# optim.Muon against a numpy transcription of its update
# ------------------------------------------------------------------------------------------


def _ns_np(g, steps=5, coef=(3.4445, -4.775, 2.0315), eps=1e-7):
    a, b, c = coef
    x = g.T if g.shape[0] > g.shape[1] else g
    x = x / max(np.linalg.norm(x), eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if g.shape[0] > g.shape[1] else x


@pytest.mark.parametrize(
    "kw",
    [{}, {"nesterov": False}, {"adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.0},
     {"adjust_lr_fn": "spectral_unclamped", "momentum": 0.5}],
)  # fmt: skip
def test_muon_matches_its_update_rule(kw):
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal((7, 4))
    grads = [rng.standard_normal((7, 4)) for _ in range(4)]
    w = rustdl.tensor(w0, requires_grad=True)
    opt = rustdl.optim.Muon([w], lr=0.02, **kw)
    ref, buf = w0.copy(), np.zeros_like(w0)
    mu, wd = kw.get("momentum", 0.95), kw.get("weight_decay", 0.1)
    scale = {
        None: np.sqrt(max(1, 7 / 4)),
        "match_rms_adamw": 0.2 * np.sqrt(7),
        "spectral_unclamped": np.sqrt(7 / 4),
    }
    for g in grads:
        w.grad = rustdl.tensor(g)
        opt.step()
        buf = mu * buf + (1 - mu) * g
        u = (1 - mu) * g + mu * buf if kw.get("nesterov", True) else buf
        ref = ref * (1 - 0.02 * wd) - 0.02 * scale[kw.get("adjust_lr_fn")] * _ns_np(u)
        np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"].numpy(), buf, rtol=1e-12)


def test_muon_orthogonalizes_and_trains_with_adamw_beside_it():
    from rustdl.optim.muon import _orthogonalize

    g = rustdl.tensor(np.random.default_rng(5).standard_normal((16, 8)))
    s = np.linalg.svd(_orthogonalize(g, (3.4445, -4.775, 2.0315), 5, 1e-7).numpy(), compute_uv=False)
    assert 0.5 < s.min() and s.max() < 1.5  # singular values pushed towards 1
    rustdl.manual_seed(0)
    net = rustdl.nn.Sequential(rustdl.nn.Linear(6, 16), rustdl.nn.Tanh(), rustdl.nn.Linear(16, 2))
    x = rustdl.randn(64, 6)
    y = x[:, :2] * 2 - x[:, 2:4]
    opts = [
        rustdl.optim.Muon([p for p in net.parameters() if p.ndim == 2], lr=0.02),
        rustdl.optim.AdamW([p for p in net.parameters() if p.ndim != 2], lr=0.01),
    ]
    first = None
    for _ in range(100):
        for o in opts:
            o.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        for o in opts:
            o.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.2 * first


def test_muon_rejects_what_pytorch_rejects():
    with pytest.raises(ValueError, match="only supports 2D parameters"):
        rustdl.optim.Muon(rustdl.nn.Linear(3, 2).parameters())
    w = [rustdl.nn.Parameter(rustdl.randn(3, 2))]
    with pytest.raises(ValueError, match="not supported"):
        rustdl.optim.Muon(w, adjust_lr_fn="cosine")
    with pytest.raises(ValueError, match="Learning rate"):
        rustdl.optim.Muon(w, lr=-1.0)
    with pytest.raises(ValueError, match="ns_steps"):
        opt = rustdl.optim.Muon(w, ns_steps=100)
        w[0].grad = rustdl.ones(3, 2)
        opt.step()


# ------------------------------------------------------------------------------------------
# torch.* forms with ATen's positional signatures, and the *_copy variants
# ------------------------------------------------------------------------------------------


def test_aten_order_functional_forms():
    rng = np.random.default_rng(6)
    w = rng.standard_normal((10, 3))
    idx = np.array([[1, 2, 0], [9, 2, 2]])
    np.testing.assert_array_equal(rustdl.embedding(rustdl.tensor(w), rustdl.tensor(idx)).numpy(), w[idx])
    x = rng.standard_normal((4, 3, 5))
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    bn = rustdl.batch_norm(rustdl.tensor(x), None, None, None, None, True, 0.1, 1e-5, False)
    np.testing.assert_allclose(
        bn.numpy(), (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-5), rtol=1e-6, atol=1e-9
    )
    rm, rv = rustdl.zeros(3, dtype=rustdl.float64), rustdl.ones(3, dtype=rustdl.float64)
    rustdl.batch_norm(rustdl.tensor(x), None, None, rm, rv, True, 0.1, 1e-5, True)
    np.testing.assert_allclose(rm.numpy(), 0.1 * mean, rtol=1e-10)  # running stats updated
    inorm = rustdl.instance_norm(rustdl.tensor(x), None, None, None, None, True, 0.1, 1e-5, False)
    ref = (x - x.mean(2, keepdims=True)) / np.sqrt(x.var(2, keepdims=True) + 1e-5)
    np.testing.assert_allclose(inorm.numpy(), ref, rtol=1e-6, atol=1e-9)
    rms = rustdl.rms_norm(rustdl.tensor(x), (5,), rustdl.arange(5.0, dtype=rustdl.float64), 1e-6)
    np.testing.assert_allclose(
        rms.numpy(), x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * np.arange(5.0), rtol=1e-10
    )
    # in-place activations write into their input
    t = rustdl.tensor(x)
    assert rustdl.threshold_(t, 0.1, -3.0) is t
    np.testing.assert_array_equal(t.numpy(), np.where(x > 0.1, x, -3.0))
    t = rustdl.tensor(x)
    rustdl.celu_(t, 0.7)
    np.testing.assert_allclose(
        t.numpy(), np.maximum(x, 0) + np.minimum(0, 0.7 * np.expm1(x / 0.7)), rtol=1e-12
    )
    np.testing.assert_array_equal(rustdl.dropout_(rustdl.tensor(x), 0.5, False).numpy(), x)
    np.testing.assert_array_equal(
        rustdl.constant_pad_nd(rustdl.tensor(x), [1, 2], 3.5).numpy(),
        np.pad(x, ((0, 0), (0, 0), (1, 2)), constant_values=3.5),
    )
    vals, where = rustdl.max_pool1d_with_indices(rustdl.tensor(x), 2)
    np.testing.assert_array_equal(vals.numpy(), x[..., :4].reshape(4, 3, 2, 2).max(-1))
    np.testing.assert_array_equal(
        where.numpy(), x[..., :4].reshape(4, 3, 2, 2).argmax(-1) + np.arange(0, 4, 2)
    )
    np.testing.assert_array_equal(rustdl.fill(rustdl.tensor(x), 2.5).numpy(), np.full(x.shape, 2.5))
    np.testing.assert_allclose(
        rustdl.norm_except_dim(rustdl.tensor(w), 2, 0).numpy(), np.linalg.norm(w, axis=1, keepdims=True)
    )
    np.testing.assert_allclose(
        rustdl.frobenius_norm(rustdl.tensor(x), [1, 2]).numpy(), np.sqrt((x**2).sum((1, 2)))
    )
    np.testing.assert_allclose(
        rustdl.nuclear_norm(rustdl.tensor(w)).item(), np.linalg.norm(w, "nuc"), rtol=1e-10
    )


def test_aten_losses_take_integer_reductions():
    import rustdl.nn.functional as F

    rng = np.random.default_rng(7)
    a, b = rustdl.tensor(rng.standard_normal((4, 6))), rustdl.tensor(rng.standard_normal((4, 6)))
    logp, p = F.log_softmax(a, 1), F.softmax(b, 1)
    ref = p.numpy() * (np.log(p.numpy()) - logp.numpy())
    np.testing.assert_allclose(rustdl.kl_div(logp, p, 0).numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(rustdl.kl_div(logp, p, 1).item(), ref.mean(), rtol=1e-10)
    np.testing.assert_allclose(rustdl.kl_div(logp, p, 2).item(), ref.sum(), rtol=1e-10)
    y = (b > 0).double()
    z, yy = a.numpy(), y.numpy()
    bce = -(2.0 * yy * np.log(1 / (1 + np.exp(-z))) + (1 - yy) * np.log(1 - 1 / (1 + np.exp(-z))))
    got = rustdl.binary_cross_entropy_with_logits(a, y, None, rustdl.full((6,), 2.0, dtype=rustdl.float64), 1)
    np.testing.assert_allclose(got.item(), bce.mean(), rtol=1e-10)
    t = rustdl.tensor([1.0, -1, 1, -1], dtype=rustdl.float64)
    cos = (
        (a.numpy() * b.numpy()).sum(1) / np.linalg.norm(a.numpy(), axis=1) / np.linalg.norm(b.numpy(), axis=1)
    )
    ref = np.where(t.numpy() > 0, 1 - cos, np.maximum(0, cos - 0.1))
    np.testing.assert_allclose(rustdl.cosine_embedding_loss(a, b, t, 0.1, 0).numpy(), ref, rtol=1e-8)
    with pytest.raises(ValueError, match="kl_div: reduction"):
        rustdl.kl_div(logp, p, 5)


def test_copy_variants_are_copies_of_the_views():
    x = rustdl.arange(24.0).reshape(2, 3, 4)
    ref = x.numpy().copy()
    for name, args, view in (
        ("view_copy", ([6, 4],), lambda a: a.reshape(6, 4)),
        ("transpose_copy", (0, 2), lambda a: a.transpose(2, 1, 0)),
        ("permute_copy", ([2, 0, 1],), lambda a: a.transpose(2, 0, 1)),
        ("select_copy", (1, 2), lambda a: a[:, 2]),
        ("diagonal_copy", (), lambda a: np.diagonal(a)),
        ("expand_copy", ([5, 2, 3, 4],), lambda a: np.broadcast_to(a, (5, 2, 3, 4))),
        ("unsqueeze_copy", (1,), lambda a: a[:, None]),
        ("as_strided_copy", ((2, 2), (1, 2)), lambda a: np.lib.stride_tricks.as_strided(a.reshape(-1), (2, 2), (a.itemsize, 2 * a.itemsize))),
    ):  # fmt: skip
        c = getattr(rustdl, name)(x, *args)
        np.testing.assert_array_equal(c.numpy(), view(ref), err_msg=name)
        c.add_(1)  # a copy: the source is unchanged
        np.testing.assert_array_equal(x.numpy(), ref, err_msg=name)
    parts = rustdl.split_copy(x, 1, 1)
    assert len(parts) == 3 and all(tuple(p.shape) == (2, 1, 4) for p in parts)
    parts[0].add_(5)
    np.testing.assert_array_equal(x.numpy(), ref)


def test_old_init_names_warn_and_initialize():
    from rustdl.nn import init

    w = rustdl.empty(3, 3)
    with pytest.warns(FutureWarning, match="nn.init.eye_"):
        init.eye(w)
    np.testing.assert_array_equal(w.numpy(), np.eye(3))
    with pytest.warns(FutureWarning, match="orthogonal_"):
        init.orthogonal(w)
    np.testing.assert_allclose(w.numpy() @ w.numpy().T, np.eye(3), atol=1e-5)
    k = rustdl.empty(2, 2, 3)
    with pytest.warns(FutureWarning, match="dirac_"):
        init.dirac(k)
    np.testing.assert_array_equal(k.numpy()[:, :, 1], np.eye(2))
    s = rustdl.empty(10, 4)
    with pytest.warns(FutureWarning, match="sparse_"):
        init.sparse(s, 0.5)
    assert ((s.numpy() == 0).sum(0) == 5).all()


def test_roi_ops_and_muon_on_the_gpu(gpu):
    from rustdl.torchcompat.torchvision import ops

    feat = np.random.default_rng(8).standard_normal((2, 3, 9, 11)).astype(np.float32)
    rois = np.array([[i, *b] for i, bs in enumerate(BOXES) for b in bs])
    x = rustdl.tensor(feat, device=gpu, requires_grad=True)
    out = ops.roi_align(x, rustdl.tensor(rois, device=gpu), (3, 2), 1.0, 2, True)
    assert out.device.type == "gpu"
    np.testing.assert_allclose(
        out.detach().cpu().numpy(), _roi_align_ref(feat, rois, 3, 2, 1.0, 2, True), rtol=1e-4, atol=1e-5
    )
    out.sum().backward()
    assert x.grad.device.type == "gpu"
    pooled = ops.roi_pool(x, rustdl.tensor(rois, device=gpu), 2, 0.5)
    np.testing.assert_allclose(pooled.detach().cpu().numpy(), _roi_pool_ref(feat, rois, 2, 2, 0.5), rtol=1e-6)
    w = rustdl.nn.Parameter(rustdl.tensor(feat[0, 0], device=gpu))
    opt = rustdl.optim.Muon([w], lr=0.02, weight_decay=0.0)
    w.grad = rustdl.ones(9, 11, device=gpu)
    opt.step()
    ref = feat[0, 0] - 0.02 * _ns_np(np.ones((9, 11)) * 0.05 + 0.95 * 0.05 * np.ones((9, 11)))
    np.testing.assert_allclose(w.detach().cpu().numpy(), ref, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------
# diagonal() is a view of any strided input: writes through it reach the input, gradients flow
# ------------------------------------------------------------------------------------------


def _diag_np(m, off=0):
    """numpy's diagonal as a writable view (numpy's own is read-only)."""
    m = m[-off:] if off < 0 else m[:, off:]
    n = max(min(m.shape), 0)
    return np.lib.stride_tricks.as_strided(m, (n,), (m.strides[0] + m.strides[1],))


@pytest.mark.parametrize(
    "view,ref",
    [
        (lambda t: t.select(1, 3).diagonal(), lambda b: _diag_np(b[:, 3])),
        (lambda t: t[0][::2, ::2].diagonal(), lambda b: _diag_np(b[0][::2, ::2])),
        (lambda t: t[:, :, 1].diagonal(), lambda b: _diag_np(b[:, :, 1])),
        (lambda t: t[1].t().diagonal(1), lambda b: _diag_np(b[1].T, 1)),
        (lambda t: t[:, 1].diagonal(-2), lambda b: _diag_np(b[:, 1], -2)),
        (lambda t: t.narrow(0, 1, 3)[:, 2].diagonal(), lambda b: _diag_np(b[1:4, 2])),
    ],
)
def test_diagonal_of_a_strided_tensor_is_a_view(view, ref):
    a = np.arange(64.0).reshape(4, 4, 4)
    t = rustdl.tensor(a)
    d = view(t)
    np.testing.assert_array_equal(d.numpy(), ref(a.copy()))
    d.mul_(-1)
    b = a.copy()
    ref(b)[...] *= -1
    np.testing.assert_array_equal(t.numpy(), b)
    # through autograd: an in-place op on the diagonal of a view of an intermediate
    x = rustdl.tensor(a, requires_grad=True)
    y = x * 1.0
    view(y).mul_(3)
    g = np.random.default_rng(9).standard_normal(a.shape)
    (y * rustdl.tensor(g)).sum().backward()
    expect = g.copy()
    ref(expect)[...] *= 3
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-12)


def test_diagonal_views_of_more_dims_and_expanded_inputs():
    a = np.arange(60.0).reshape(3, 4, 5)
    t = rustdl.tensor(a)
    for args in ((0, 0, 2), (1, 2, 0), (-1, 1, 2), (2, -1, -3), (9, 0, 1), (-9, 1, 2)):
        np.testing.assert_array_equal(t.diagonal(*args).numpy(), np.diagonal(a, *args))
    e = rustdl.arange(3.0).expand(3, 3)
    np.testing.assert_array_equal(e.diagonal().numpy(), [0.0, 1.0, 2.0])


# ------------------------------------------------------------------------------------------
# pooling and transposed convolution edge configurations (found by random configurations
# run against PyTorch), against direct loops
# ------------------------------------------------------------------------------------------


def _avg_pool2d_ref(x, k, s, p, ceil, include_pad, divisor):
    n, c, h, w = x.shape

    def size(L, kk, ss, pp):
        o = (L + 2 * pp - kk + (ss - 1 if ceil else 0)) // ss + 1
        return o - 1 if ceil and (o - 1) * ss >= L + pp else o

    oh, ow = size(h, k[0], s[0], p[0]), size(w, k[1], s[1], p[1])
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = min(h0 + k[0], h + p[0]), min(w0 + k[1], w + p[1])
            pool = (h1 - h0) * (w1 - w0)
            a0, b0, a1, b1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            total = x[:, :, a0:a1, b0:b1].sum(axis=(2, 3))
            d = divisor or (pool if include_pad else (a1 - a0) * (b1 - b0))
            out[:, :, i, j] = total / d
    return out


@pytest.mark.parametrize(
    "k,s,p", [((2, 2), (2, 2), (0, 0)), ((3, 2), (2, 3), (1, 1)), ((3, 3), (2, 2), (1, 0))]
)
@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool2d_divisor_override_with_ceil_mode(k, s, p, include_pad):
    import rustdl.nn.functional as F

    x = np.random.default_rng(10).standard_normal((2, 3, 7, 6))
    t = rustdl.tensor(x, requires_grad=True)
    out = F.avg_pool2d(t, k, s, p, ceil_mode=True, count_include_pad=include_pad, divisor_override=3)
    np.testing.assert_allclose(
        out.detach().numpy(), _avg_pool2d_ref(x, k, s, p, True, include_pad, 3), rtol=1e-12
    )
    out.sum().backward()
    # each element's gradient: the number of windows holding it, over 3
    ones = (
        _avg_pool2d_ref(np.eye(42).reshape(42, 1, 7, 6), k, s, p, True, include_pad, 3).reshape(42, -1).sum(1)
    )
    np.testing.assert_allclose(t.grad.numpy()[0, 0].reshape(-1), ones, rtol=1e-12)
    with pytest.raises(ValueError, match="half of kernel"):
        F.avg_pool2d(t, 2, 2, 2, ceil_mode=True, divisor_override=3)


def test_max_pool3d_ceil_mode_windows_past_the_input():
    import rustdl.nn.functional as F

    x = np.random.default_rng(11).standard_normal((2, 2, 7, 4, 2))
    # dilated kernel 5 over 4 elements: with ceil_mode one window starts inside and runs past
    out = F.max_pool3d(rustdl.tensor(x), (2, 3, 1), (2, 2, 1), 0, (2, 2, 1), ceil_mode=True)
    assert tuple(out.shape) == (2, 2, 3, 1, 2)
    ref = np.stack([x[:, :, 2 * i : 2 * i + 3 : 2, 0:4:2, :].max(axis=(2, 3)) for i in range(3)], axis=2)
    np.testing.assert_allclose(out.numpy()[:, :, :, 0], ref)
    with pytest.raises(ValueError, match="smaller than the"):
        F.max_pool3d(rustdl.tensor(x), (2, 3, 1), (2, 2, 1), 0, (2, 2, 1), ceil_mode=False)


@pytest.mark.parametrize("dilation", [(2, 1), (1, 2), (2, 2)])
def test_conv_transpose2d_output_padding_with_dilation_and_stride_one(dilation):
    import rustdl.nn.functional as F

    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((2, 3, 3, 4)), rng.standard_normal((3, 2, 2, 3))
    op = tuple(1 if d > 1 else 0 for d in dilation)
    out = F.conv_transpose2d(rustdl.tensor(x), rustdl.tensor(w), None, 1, 0, op, 1, dilation)
    # scatter definition: every input element adds its weighted kernel at its dilated taps
    oh = (3 - 1) + dilation[0] * 1 + 1 + op[0]
    ow = (4 - 1) + dilation[1] * 2 + 1 + op[1]
    ref = np.zeros((2, 2, oh, ow))
    for i in range(3):
        for j in range(4):
            for a in range(2):
                for b in range(3):
                    ref[:, :, i + a * dilation[0], j + b * dilation[1]] += x[:, :, i, j] @ w[:, :, a, b]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)


# ------------------------------------------------------------------------------------------
# type promotion (found by random operand kinds run against PyTorch): a Python number never
# widens a tensor of its category, a 0-d tensor of a higher category decides, and a dimensioned
# tensor beats a 0-d one of the same category
# ------------------------------------------------------------------------------------------


def test_a_number_beside_a_narrow_int_tensor_keeps_its_dtype():
    i32 = rustdl.tensor(3, dtype=rustdl.int32)
    i8 = rustdl.tensor(-6, dtype=rustdl.int8)
    u8 = rustdl.tensor([1, 2, 5], dtype=rustdl.uint8)
    cases = [
        (rustdl.mul(2, i32), rustdl.int32, 6),
        (rustdl.sub(2, i8), rustdl.int8, 8),
        (rustdl.pow(2, rustdl.tensor(3, dtype=rustdl.int16)), rustdl.int16, 8),
        (i32 & 7, rustdl.int32, 3),
        (i8 | 2, rustdl.int8, -6),
        (7 ^ i32, rustdl.int32, 4),
        (rustdl.bitwise_left_shift(rustdl.tensor(3, dtype=rustdl.int16), 2), rustdl.int16, 12),
        (rustdl.where(i32 > 0, i32, 2), rustdl.int32, 3),
        (rustdl.where(i8 > 0, 2, i8), rustdl.int8, -6),
        (rustdl.remainder(7, i32), rustdl.int32, 1),
        (rustdl.floor_divide(-7, i32), rustdl.int32, -3),
        (rustdl.fmod(-7, i32), rustdl.int32, -1),
    ]
    for got, dtype, value in cases:
        assert got.dtype == dtype and got.item() == value, (got, dtype, value)
    # a float number beside an integer tensor gives the default float
    got = rustdl.remainder(2.5, u8)
    assert got.dtype == rustdl.float32
    np.testing.assert_allclose(got.numpy(), np.remainder(2.5, [1.0, 2.0, 5.0]))
    got = rustdl.true_divide(3, u8)
    assert got.dtype == rustdl.float32
    np.testing.assert_allclose(got.numpy(), 3 / np.array([1.0, 2.0, 5.0]), rtol=1e-6)


def test_add_with_alpha_scales_a_bool_tensor_in_the_result_dtype():
    i8 = rustdl.tensor(1, dtype=rustdl.int8)
    mask = rustdl.tensor([True, False])
    got = rustdl.add(i8, mask, alpha=2)
    assert got.dtype == rustdl.int8 and got.tolist() == [3, 1]
    got = rustdl.add(mask, rustdl.tensor(True), alpha=2)
    assert got.dtype == rustdl.bool and got.tolist() == [True, True]
    got = rustdl.tensor([1, 2]).sub(mask, alpha=3)
    assert got.dtype == rustdl.int64 and got.tolist() == [-2, 2]
    x = rustdl.tensor([1.0, 2.0])
    x.add_(mask, alpha=-1.5)
    assert x.tolist() == [-0.5, 2.0]


def test_zero_dim_tensors_decide_only_across_categories():
    u8 = rustdl.tensor([1, 2, 3], dtype=rustdl.uint8)
    f64 = rustdl.tensor(0.5, dtype=rustdl.float64)
    assert rustdl.clamp(u8, min=f64).dtype == rustdl.float64  # a higher category: its dtype
    assert u8.clip(max=rustdl.tensor(2.5, dtype=rustdl.float64)).dtype == rustdl.float64
    assert rustdl.clamp(u8, min=0.5).dtype == rustdl.float32  # a Python float: the default
    f32 = rustdl.tensor([1.0, 2.0, 0.0])
    assert rustdl.clamp(f32, min=f64).dtype == rustdl.float32  # same category: dims win
    got = rustdl.xlogy(f32, rustdl.tensor(2.0, dtype=rustdl.float64))
    assert got.dtype == rustdl.float32
    np.testing.assert_allclose(got.numpy(), [np.log(2.0), 2 * np.log(2.0), 0.0], rtol=1e-6)
    assert rustdl.xlogy(f64, u8).dtype == rustdl.float64


def test_trunc_division_of_bools_and_inplace_casts_into_bool():
    got = rustdl.div(rustdl.tensor([True, False]), -3, rounding_mode="trunc")
    assert got.dtype == rustdl.int64 and got.tolist() == [0, 0]
    m = rustdl.tensor([True, False])
    with pytest.raises(rustdl.DTypeError, match="can't be cast to the desired output type"):
        m.add_(1)
    assert m.tolist() == [True, False]  # untouched
    m.logical_and_(rustdl.tensor([True, True]))
    with pytest.raises(rustdl.DTypeError, match="can't be cast"):
        m &= rustdl.tensor([1, 0])
    m &= rustdl.tensor([True, True])  # bool with bool stays bool
    m.copy_(rustdl.tensor([0, 1]))  # copy_ converts any dtype
    assert m.tolist() == [False, True]
    i8 = rustdl.tensor([6, 3], dtype=rustdl.int8)
    i8 &= rustdl.tensor([3, 1])  # an int64 result narrows into int8, as PyTorch allows
    assert i8.dtype == rustdl.int8 and i8.tolist() == [2, 1]


# ------------------------------------------------------------------------------------------
# hostile sizes (found by calling the namespace with random arguments): a clear MemoryError or
# ValueError at once, never the process killed for memory or hours of work
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: rustdl.kaiser_window(2**31),
        lambda: rustdl.blackman_window(2**40),
        lambda: rustdl.signal.windows.hann(2**31),
        lambda: rustdl.fft.fftfreq(2**31),
        lambda: rustdl.fft.rfftfreq(2**40, 2.0),
    ],
)
def test_huge_window_and_frequency_lengths_are_memory_errors(make):
    with pytest.raises(MemoryError, match="do not fit in memory"):
        make()


def test_chebyshev_polynomials_of_huge_degree_use_their_closed_forms():
    from rustdl import special

    x = np.array([-1.5, -1.0, -0.7, -0.2, 0.0, 0.3, 0.99, 1.0, 1.3])
    t = rustdl.tensor(x)
    n = 2**31 + 3  # odd
    th = np.arccos(np.clip(x, -1, 1))
    inside = np.abs(x) < 1
    got = special.chebyshev_polynomial_t(t, n).numpy()
    np.testing.assert_allclose(got[inside], np.cos(n * th[inside]), rtol=1e-6, atol=1e-6)
    assert got[1] == -1.0 and got[7] == 1.0 and got[0] == -np.inf and got[8] == np.inf
    got = special.chebyshev_polynomial_u(t, n).numpy()
    np.testing.assert_allclose(
        got[inside], np.sin((n + 1) * th[inside]) / np.sin(th[inside]), rtol=1e-6, atol=1e-6
    )
    assert got[7] == n + 1 and got[1] == -(n + 1)
    # below the switch the recurrence and the closed forms agree
    for kind in "tuvw":
        fn = getattr(special, f"chebyshev_polynomial_{kind}")
        rec = fn(t, 999).numpy()  # all below the switch: the recurrence
        closed = fn(t, rustdl.tensor([999] * 8 + [1000])).numpy()  # one at it: the closed forms
        np.testing.assert_allclose(rec[1:8], closed[1:8], rtol=1e-9, atol=1e-9)  # |x| <= 1
    with pytest.raises(ValueError, match="degree n = 10000000"):
        special.legendre_polynomial_p(t, 10**7)
    with pytest.raises(ValueError, match="integer values"):
        special.hermite_polynomial_h(t, float("inf"))


def test_zero_dim_tensors_have_no_dims_to_size_or_classify():
    import rustdl.nn.functional as F

    s = rustdl.tensor(2.0)
    for call in (lambda: s.size(0), lambda: s.size(-1), lambda: s.stride(0)):
        with pytest.raises(IndexError, match="has no dimensions"):
            call()
    assert s.size() == () and s.stride() == ()
    for loss in (F.cross_entropy, F.nll_loss):
        with pytest.raises(rustdl.ShapeError, match="at least 1 dimension"):
            loss(s, rustdl.tensor(0))


# ------------------------------------------------------------------------------------------
# linalg.eigh's eigenvector gradient (found by random linalg programs run against PyTorch)
# ------------------------------------------------------------------------------------------


def test_eigh_eigenvector_gradient_is_the_symmetric_one():
    rng = np.random.default_rng(13)
    q = rng.standard_normal((2, 4, 4))
    s0 = q @ np.swapaxes(q, -1, -2) + np.eye(4)
    g = rng.standard_normal((2, 4, 4))
    s = rustdl.tensor(s0, requires_grad=True)
    w, v = rustdl.linalg.eigh(s)
    # V diag(w) Vᵀ is the input itself: its gradient is the symmetric part of g
    ((v @ rustdl.diag_embed(w) @ v.mT) * rustdl.tensor(g)).sum().backward()
    np.testing.assert_allclose(s.grad.numpy(), (g + np.swapaxes(g, -1, -2)) / 2, rtol=1e-8, atol=1e-10)
    # a loss of the eigenvectors alone: a symmetric gradient whose directional derivatives
    # along symmetric perturbations match finite differences
    s.grad = None
    w, v = rustdl.linalg.eigh(s)
    gv = rng.standard_normal((2, 4, 4))
    (v * rustdl.tensor(gv)).sum().backward()
    grad = s.grad.numpy()
    np.testing.assert_allclose(grad, np.swapaxes(grad, -1, -2), atol=1e-10)
    d = rng.standard_normal((2, 4, 4))
    d = d + np.swapaxes(d, -1, -2)

    def loss(a):
        vals, vecs = np.linalg.eigh(a)
        vecs = vecs * np.sign(np.sum(vecs * v.detach().numpy(), axis=-2, keepdims=True))  # same signs
        return float((vecs * gv).sum())

    num = (loss(s0 + 1e-6 * d) - loss(s0 - 1e-6 * d)) / 2e-6
    np.testing.assert_allclose((grad * d).sum(), num, rtol=1e-5)


# ------------------------------------------------------------------------------------------
# torchvision.ops: feature pyramid and multi-scale RoI Align (wiring checked against the
# primitives, which are checked against numpy above and in test_nn_layers)
# ------------------------------------------------------------------------------------------


def test_feature_pyramid_network_composes_laterals_top_down_and_smoothing():
    import collections

    import rustdl.nn.functional as F
    from rustdl.torchcompat.torchvision import ops

    rng = np.random.default_rng(14)
    x = collections.OrderedDict(
        [("c3", rustdl.tensor(rng.standard_normal((2, 3, 16, 12)))), ("c4", rustdl.tensor(rng.standard_normal((2, 4, 8, 6)))),
         ("c5", rustdl.tensor(rng.standard_normal((2, 5, 4, 3))))]
    )  # fmt: skip
    fpn = ops.FeaturePyramidNetwork([3, 4, 5], 6, extra_blocks=ops.LastLevelMaxPool()).double()
    out = fpn(x)
    assert list(out) == ["c3", "c4", "c5", "pool"]
    assert [n for n, _ in fpn.named_parameters()][:2] == ["inner_blocks.0.0.weight", "inner_blocks.0.0.bias"]

    def conv(block, t, pad):
        return F.conv2d(t, block[0].weight, block[0].bias, padding=pad)

    inner = [conv(fpn.inner_blocks[i], t, 0) for i, t in enumerate(x.values())]
    top = inner[2]
    expect = [conv(fpn.layer_blocks[2], top, 1)]
    for i in (1, 0):
        top = inner[i] + F.interpolate(top, size=tuple(inner[i].shape[-2:]), mode="nearest")
        expect.insert(0, conv(fpn.layer_blocks[i], top, 1))
    for name, e in zip(["c3", "c4", "c5"], expect):
        np.testing.assert_allclose(out[name].detach().numpy(), e.detach().numpy(), rtol=1e-10)
    np.testing.assert_array_equal(out["pool"].detach().numpy(), expect[2].detach().numpy()[:, :, ::2, ::2])
    assert not fpn.inner_blocks[0][0].bias.detach().numpy().any()  # zero biases, as torchvision
    p6p7 = ops.FeaturePyramidNetwork([3, 4, 5], 6, extra_blocks=ops.LastLevelP6P7(5, 6)).double()(x)
    assert list(p6p7) == ["c3", "c4", "c5", "p6", "p7"] and tuple(p6p7["p7"].shape) == (2, 6, 1, 1)
    with pytest.raises(TypeError, match="ExtraFPNBlock"):
        ops.FeaturePyramidNetwork([3], 2, extra_blocks=rustdl.nn.ReLU())


def test_multiscale_roi_align_pools_each_box_from_its_level():
    import collections

    from rustdl.torchcompat.torchvision import ops

    rng = np.random.default_rng(15)
    sizes = {"p2": 32, "p3": 16, "p4": 8, "p5": 4}
    feats = collections.OrderedDict(
        (k, rustdl.tensor(rng.standard_normal((2, 3, n, n)))) for k, n in sizes.items()
    )
    b0 = np.array([[0, 0, 20, 30], [5, 5, 100, 120], [10, 12, 400, 380.0]])
    b1 = np.array([[50, 60, 51, 61.0], [0, 0, 127, 127]])
    pool = ops.MultiScaleRoIAlign(list(sizes), 3, 2)
    out = pool(feats, [rustdl.tensor(b0), rustdl.tensor(b1)], [(128, 128), (120, 128)])
    boxes = np.concatenate([b0, b1])
    images = [0, 0, 0, 1, 1]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    levels = np.clip(np.floor(4 + np.log2(np.sqrt(area) / 224) + 1e-6), 2, 5).astype(int) - 2
    for k in range(5):
        name = list(sizes)[levels[k]]
        scale = sizes[name] / 128
        roi = rustdl.tensor(np.array([[images[k], *boxes[k]]]))
        ref = ops.roi_align(feats[name], roi, 3, scale, 2)
        np.testing.assert_allclose(out[k].numpy(), ref[0].numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="images list should not be empty"):
        pool(feats, [rustdl.tensor(b0)], [])


# ------------------------------------------------------------------------------------------
# distributions: within-family KL divergences against numerical integration / summation, and
# Gamma.cdf (found by random distribution programs run against PyTorch)
# ------------------------------------------------------------------------------------------


def _kl_numeric(logp, logq, grid):
    p = np.exp(logp(grid))
    with np.errstate(invalid="ignore"):  # outside the support both logs are -inf
        integrand = np.where(p > 0, p * (logp(grid) - logq(grid)), 0.0)
    return np.trapezoid(integrand, grid) if grid.dtype.kind == "f" else integrand.sum()


def test_within_family_kl_divergences_match_numerical_integrals():
    from scipy import stats

    D = rustdl.distributions
    x = np.linspace(-60, 60, 400001)
    pos = np.linspace(1e-9, 80, 400001)
    cases = [
        (D.Laplace(0.3, 1.2), D.Laplace(-0.5, 0.7), stats.laplace(0.3, 1.2), stats.laplace(-0.5, 0.7), x),
        (
            D.Cauchy(0.3, 1.2),
            D.Cauchy(-0.5, 0.7),
            stats.cauchy(0.3, 1.2),
            stats.cauchy(-0.5, 0.7),
            np.linspace(-4000, 4000, 2000001),
        ),
        (
            D.LogNormal(0.1, 0.5),
            D.LogNormal(0.3, 0.8),
            stats.lognorm(0.5, scale=np.exp(0.1)),
            stats.lognorm(0.8, scale=np.exp(0.3)),
            pos,
        ),
        (D.HalfNormal(0.9), D.HalfNormal(1.7), stats.halfnorm(scale=0.9), stats.halfnorm(scale=1.7), pos),
        (
            D.Pareto(1.5, 2.5),
            D.Pareto(1.0, 1.5),
            stats.pareto(2.5, scale=1.5),
            stats.pareto(1.5, scale=1.0),
            np.linspace(1.5, 5000, 2000001),
        ),
    ]
    for p, q, sp, sq, grid in cases:
        num = _kl_numeric(sp.logpdf, sq.logpdf, grid)
        got = float(D.kl_divergence(p, q))
        np.testing.assert_allclose(got, num, rtol=2e-3, err_msg=type(p).__name__)
    k = np.arange(0, 400)
    for p, q, sp, sq in (
        (
            D.Binomial(12, rustdl.tensor(0.3, dtype=rustdl.float64)),
            D.Binomial(12, rustdl.tensor(0.55, dtype=rustdl.float64)),
            stats.binom(12, 0.3),
            stats.binom(12, 0.55),
        ),
        (
            D.Geometric(rustdl.tensor(0.3, dtype=rustdl.float64)),
            D.Geometric(rustdl.tensor(0.1, dtype=rustdl.float64)),
            stats.geom(0.3, loc=-1),
            stats.geom(0.1, loc=-1),
        ),
    ):
        np.testing.assert_allclose(
            float(D.kl_divergence(p, q)), _kl_numeric(sp.logpmf, sq.logpmf, k), rtol=1e-8
        )
    # continuous Bernoulli: log density x·logit − softplus(logit) + log C
    p, q = D.ContinuousBernoulli(rustdl.tensor(0.3)), D.ContinuousBernoulli(rustdl.tensor(0.8))
    u = np.linspace(0, 1, 200001)

    def cb_logpdf(d):
        return lambda v: d.log_prob(rustdl.tensor(v)).numpy()

    np.testing.assert_allclose(
        float(D.kl_divergence(p, q)), _kl_numeric(cb_logpdf(p), cb_logpdf(q), u), rtol=1e-6
    )
    # KL(p, p) is zero for every family, batch-shaped
    t = rustdl.tensor([0.4, 1.3])
    for d in (D.Laplace(t, t), D.Cauchy(t, t), D.HalfCauchy(t), D.LogisticNormal(t, t), D.Weibull(t, t + 1),
              D.Kumaraswamy(t, t + 1), D.InverseGamma(t, t + 1)):  # fmt: skip
        kl = D.kl_divergence(d, d)
        assert tuple(kl.shape) == tuple(d.batch_shape) and np.abs(kl.detach().numpy()).max() < 1e-6, type(
            d
        ).__name__
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Weibull(t, t + 1), D.Weibull(t, t + 2))
    assert float(D.kl_divergence(D.Pareto(1.0, 2.0), D.Pareto(1.5, 2.0))) == np.inf  # support mismatch


def test_gamma_cdf_is_the_regularized_incomplete_gamma():
    from scipy import stats

    D = rustdl.distributions
    a, b = np.array([0.7, 2.5, 4.0]), np.array([1.3, 0.4, 2.0])
    v = np.array([0.5, 3.0, 1.7])
    x = rustdl.tensor(v, requires_grad=True)
    got = D.Gamma(rustdl.tensor(a), rustdl.tensor(b)).cdf(x)
    np.testing.assert_allclose(got.detach().numpy(), stats.gamma.cdf(v, a, scale=1 / b), rtol=1e-8)
    got.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), stats.gamma.pdf(v, a, scale=1 / b), rtol=1e-6)
    np.testing.assert_allclose(
        D.Chi2(rustdl.tensor(3.0)).cdf(rustdl.tensor(2.0)).item(), stats.chi2.cdf(2.0, 3), rtol=1e-6
    )
    ig = D.InverseGamma(rustdl.tensor(2.0), rustdl.tensor(1.5)).cdf(rustdl.tensor(0.8)).item()
    np.testing.assert_allclose(ig, stats.invgamma.cdf(0.8, 2.0, scale=1.5), rtol=1e-6)


def test_integer_arange_linspace_logspace_truncate_fractional_bounds_as_pytorch():
    # the length from the values as given, the elements from the truncated start and step
    cases = {(-2.5, 2, 2): [-2, 0, 2], (0.5, 3, 0.7): [0, 0, 0, 0], (0.3, 4.9, 1.5): [0, 1, 2, 3],
             (-0.7, 3, 1.2): [0, 1, 2, 3], (-2.5, 3, 1): [-2, -1, 0, 1, 2, 3], (2.9,): [0, 1, 2]}  # fmt: skip
    for args, expect in cases.items():
        got = rustdl.arange(*args, dtype=rustdl.int64)
        assert got.dtype == rustdl.int64 and got.tolist() == expect, args
    assert rustdl.arange(-2.5, 2, 2, dtype=rustdl.int32).dtype == rustdl.int32
    with pytest.raises(rustdl.ArgumentError, match="inconsistent"):
        rustdl.arange(2, -2.5, dtype=rustdl.int64)
    # linspace / logspace: the ends truncated to integers first
    assert rustdl.linspace(1.7, 5.2, 4, dtype=rustdl.int64).tolist() == [1, 2, 3, 5]
    assert rustdl.linspace(-1.9, 1.9, 5, dtype=rustdl.int64).tolist() == [-1, 0, 0, 0, 1]
    assert rustdl.logspace(0.5, 2.5, 3, dtype=rustdl.int64).tolist() == [1, 10, 100]
    assert rustdl.logspace(0.5, 2.5, 3, base=2.5, dtype=rustdl.int64).tolist() == [1, 2, 6]
    # floating dtypes are untouched
    np.testing.assert_allclose(rustdl.arange(0.5, 3, 0.7).numpy(), np.arange(0.5, 3, 0.7), rtol=1e-6)
    np.testing.assert_allclose(rustdl.linspace(1.7, 5.2, 4).numpy(), np.linspace(1.7, 5.2, 4), rtol=1e-6)


def test_sinc_gradient_near_zero_has_no_cancellation():
    x = np.array([0.0, 1e-8, -1e-6, 1e-4, 0.01, 0.0318, 0.0319, 0.3, -2.5, 3.0])
    # d/dx sinc(x) = (cos(πx) − sinc(x)) / x, and −π²x/3 + π⁴x³/30 near 0 (its series)
    series = -(np.pi**2) * x / 3 + np.pi**4 * x**3 / 30
    with np.errstate(invalid="ignore", divide="ignore"):
        exact = np.where(np.abs(x) < 0.05, series, (np.cos(np.pi * x) - np.sinc(x)) / x)
    for dtype, tol in ((rustdl.float64, 1e-9), (rustdl.float32, 1e-5)):
        t = rustdl.tensor(x, dtype=dtype, requires_grad=True)
        y = rustdl.special.sinc(t)
        np.testing.assert_allclose(y.detach().numpy(), np.sinc(x), rtol=tol, atol=tol)
        y.sum().backward()
        np.testing.assert_allclose(t.grad.numpy(), exact, rtol=1e-4, atol=tol)
