"""rustdl.models.efficientnet and rustdl.models.convnext against torchvision 0.29's EfficientNet
(B0–B7, V2 S/M/L) and ConvNeXt (tiny/small/base/large).

The parameter counts, state-dict key counts and key/shape digests below were taken from
torchvision 0.29 (the counts are torchvision's documented ``num_params``); torch is not needed
to run these tests. The blocks (MBConv, FusedMBConv, CNBlock, LayerNorm2d) are checked against
an independent numpy implementation.
"""

import contextlib
import hashlib
import math

import numpy as np
import pytest
import rustdl
from rustdl import nn
from rustdl.models import convnext as cnx
from rustdl.models import efficientnet as eff
from rustdl.models._misc import StochasticDepth

# name: (parameters, state-dict entries, sha256 of "key:shape" lines [:16]) at 1000 classes
TORCHVISION = {
    "efficientnet_b0": (5288548, 360, "e1f159b97ca4b202"),
    "efficientnet_b1": (7794184, 508, "989a43fdb89753c2"),
    "efficientnet_b2": (9109994, 508, "f8562fea91f98ae8"),
    "efficientnet_b3": (12233232, 574, "ddbc48d0e5f9ddc6"),
    "efficientnet_b4": (19341616, 706, "247b4546c18f3d80"),
    "efficientnet_b5": (30389784, 854, "2ade86b0b939e121"),
    "efficientnet_b6": (43040704, 986, "fb07994073c93883"),
    "efficientnet_b7": (66347960, 1200, "c6f5daf9dfaea933"),
    "efficientnet_v2_s": (21458488, 782, "a87c1d49fa49687b"),
    "efficientnet_v2_m": (54139356, 1120, "abb272347120782c"),
    "efficientnet_v2_l": (118515272, 1548, "593fbcc6ed20dc41"),
    "convnext_tiny": (28589128, 182, "5c1934c7e7f217f7"),
    "convnext_small": (50223688, 344, "6a36145375c3f253"),
    "convnext_base": (88591464, 344, "e5bd5a734f947aba"),
    "convnext_large": (197767336, 344, "818db6c924916d7b"),
}


def builder(name):
    return getattr(cnx if name.startswith("convnext") else eff, name)


@contextlib.contextmanager
def no_random_init():
    """Turns the initialisers into no-ops while building: structure-only tests of the large
    variants would otherwise spend seconds drawing random numbers."""
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(nn.init, n) for n in names}
    for n in names:
        setattr(nn.init, n, lambda t, *a, **k: t)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(nn.init, n, f)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def digest(model) -> str:
    text = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_np(t) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def to_t(a: np.ndarray):
    return rustdl.tensor(np.asarray(a, dtype=np.float32))


def randomize_norms(model, seed: int) -> None:
    """Non-trivial norm affine parameters and running statistics (and ConvNeXt layer scales)."""
    rng = np.random.default_rng(seed)
    with rustdl.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                n = m.weight.shape[0]
                m.weight.copy_(to_t(rng.uniform(0.5, 1.5, n)))
                m.bias.copy_(to_t(rng.normal(0, 0.2, n)))
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(to_t(rng.normal(0, 0.2, n)))
                m.running_var.copy_(to_t(rng.uniform(0.5, 2.0, n)))
            if isinstance(m, cnx.CNBlock):
                m.layer_scale.copy_(to_t(rng.uniform(0.2, 1.0, m.layer_scale.shape)))


# ---------------------------------------------------------------- numpy references


def np_conv2d(x, w, b=None, stride=1, padding=0, groups=1):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]
            if groups == c == o:  # depthwise
                out += patch * w[None, :, 0, i, j, None, None]
            else:
                for g in range(groups):
                    out[:, g * og : (g + 1) * og] += np.einsum(
                        "nchw,oc->nohw", patch[:, g * cg : (g + 1) * cg], w[g * og : (g + 1) * og, :, i, j]
                    )
    if b is not None:
        out += b[None, :, None, None]
    return out


def np_bn_eval(x, bn):
    scale = to_np(bn.weight) / np.sqrt(to_np(bn.running_var) + bn.eps)
    return (x - to_np(bn.running_mean)[None, :, None, None]) * scale[None, :, None, None] + to_np(bn.bias)[
        None, :, None, None
    ]


def np_silu(x):
    return x / (1.0 + np.exp(-x))


def np_gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def np_layer_norm_last(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def np_conv_bn_act(x, cna, act=True):
    conv, bn = cna[0], cna[1]
    y = np_conv2d(x, to_np(conv.weight), None, conv.stride[0], conv.padding[0], conv.groups)
    y = np_bn_eval(y, bn)
    return np_silu(y) if act else y


def np_se(x, se):
    s = x.mean(axis=(2, 3), keepdims=True)
    s = np_silu(np_conv2d(s, to_np(se.fc1.weight), to_np(se.fc1.bias)))
    s = np_conv2d(s, to_np(se.fc2.weight), to_np(se.fc2.bias))
    return x / (1.0 + np.exp(-s))


def np_mbconv(x, blk, cnf):
    layers = list(blk.block)
    y = x
    if len(layers) == 4:
        y = np_conv_bn_act(y, layers.pop(0))
    y = np_conv_bn_act(y, layers[0])
    y = np_se(y, layers[1])
    y = np_conv_bn_act(y, layers[2], act=False)
    return y + x if cnf.stride == 1 and cnf.input_channels == cnf.out_channels else y


def np_fused_mbconv(x, blk, cnf):
    layers = list(blk.block)
    y = np_conv_bn_act(x, layers[0])
    if len(layers) == 2:
        y = np_conv_bn_act(y, layers[1], act=False)
    return y + x if cnf.stride == 1 and cnf.input_channels == cnf.out_channels else y


def np_cnblock(x, blk):
    conv, ln, fc1, fc2 = blk.block[0], blk.block[2], blk.block[3], blk.block[5]
    y = np_conv2d(x, to_np(conv.weight), to_np(conv.bias), 1, 3, conv.groups).transpose(0, 2, 3, 1)
    y = np_layer_norm_last(y, to_np(ln.weight), to_np(ln.bias), ln.eps)
    y = np_gelu(y @ to_np(fc1.weight).T + to_np(fc1.bias)) @ to_np(fc2.weight).T + to_np(fc2.bias)
    return to_np(blk.layer_scale)[None] * y.transpose(0, 3, 1, 2) + x


# ---------------------------------------------------------------- small models


def tiny_efficientnet(**kwargs):
    setting = [
        eff.FusedMBConvConfig(1, 3, 1, 8, 8, 1),
        eff.FusedMBConvConfig(2, 3, 2, 8, 16, 1),
        eff.MBConvConfig(2, 3, 2, 16, 24, 2),
    ]
    return eff.EfficientNet(setting, kwargs.pop("dropout", 0.0), last_channel=32, **kwargs)


def tiny_convnext(**kwargs):
    setting = [cnx.CNBlockConfig(16, 32, 2), cnx.CNBlockConfig(32, None, 2)]
    return cnx.ConvNeXt(setting, **kwargs)


def batch(seed: int, n: int = 4, size: int = 32):
    rng = np.random.default_rng(seed)
    return to_t(rng.normal(size=(n, 3, size, size))), rustdl.tensor(rng.integers(0, 5, n).astype(np.int64))


# ---------------------------------------------------------------- layouts (every variant)


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_params_and_state_dict_layout_match_torchvision(name):
    params, n_keys, sha = TORCHVISION[name]
    with no_random_init():
        model = builder(name)()
    assert n_params(model) == params
    assert len(model.state_dict()) == n_keys
    assert digest(model) == sha
    with no_random_init():
        small = builder(name)(num_classes=7)
    last = model.classifier[-1].in_features
    assert n_params(small) == params - (1000 - 7) * (last + 1)


def test_efficientnet_b0_keys_and_shapes():
    with no_random_init():
        sd = eff.efficientnet_b0().state_dict()
    keys = list(sd)
    assert keys[:6] == [
        "features.0.0.weight",
        "features.0.1.weight",
        "features.0.1.bias",
        "features.0.1.running_mean",
        "features.0.1.running_var",
        "features.0.1.num_batches_tracked",
    ]
    assert keys[-2:] == ["classifier.1.weight", "classifier.1.bias"]
    shapes = {
        "features.0.0.weight": (32, 3, 3, 3),
        "features.1.0.block.0.0.weight": (32, 1, 3, 3),  # expand ratio 1: depthwise first
        "features.1.0.block.1.fc1.weight": (8, 32, 1, 1),
        "features.1.0.block.1.fc2.bias": (32,),
        "features.1.0.block.2.0.weight": (16, 32, 1, 1),
        "features.2.0.block.0.0.weight": (96, 16, 1, 1),
        "features.2.0.block.1.0.weight": (96, 1, 3, 3),
        "features.2.0.block.2.fc1.weight": (4, 96, 1, 1),  # squeeze = input_channels // 4
        "features.3.0.block.1.0.weight": (144, 1, 5, 5),
        "features.7.0.block.3.0.weight": (320, 1152, 1, 1),
        "features.8.0.weight": (1280, 320, 1, 1),
        "classifier.1.weight": (1000, 1280),
    }
    for k, s in shapes.items():
        assert tuple(sd[k].shape) == s, k
    assert "features.1.0.block.3.0.weight" not in sd


def test_efficientnet_v2_s_fused_blocks():
    with no_random_init():
        model = eff.efficientnet_v2_s()
    sd = model.state_dict()
    assert tuple(sd["features.0.0.weight"].shape) == (24, 3, 3, 3)
    assert tuple(sd["features.1.0.block.0.0.weight"].shape) == (24, 24, 3, 3)  # fused, ratio 1
    assert "features.1.0.block.1.0.weight" not in sd
    assert tuple(sd["features.2.0.block.0.0.weight"].shape) == (96, 24, 3, 3)  # fused expand
    assert tuple(sd["features.2.0.block.1.0.weight"].shape) == (48, 96, 1, 1)
    assert tuple(sd["features.4.0.block.2.fc1.weight"].shape) == (16, 256, 1, 1)
    assert tuple(sd["features.7.0.weight"].shape) == (1280, 256, 1, 1)
    kinds = [type(stage[0]).__name__ for stage in list(model.features)[1:-1]]
    assert kinds == ["FusedMBConv"] * 3 + ["MBConv"] * 3
    assert [len(stage) for stage in list(model.features)[1:-1]] == [2, 4, 4, 6, 9, 15]


def test_convnext_tiny_keys_and_shapes():
    with no_random_init():
        sd = cnx.convnext_tiny().state_dict()
    keys = list(sd)
    assert keys[:4] == [
        "features.0.0.weight",
        "features.0.0.bias",
        "features.0.1.weight",
        "features.0.1.bias",
    ]
    # a block's own parameter comes before its children's, as in PyTorch
    assert keys[4:7] == [
        "features.1.0.layer_scale",
        "features.1.0.block.0.weight",
        "features.1.0.block.0.bias",
    ]
    assert keys[-4:] == [
        "classifier.0.weight",
        "classifier.0.bias",
        "classifier.2.weight",
        "classifier.2.bias",
    ]
    shapes = {
        "features.0.0.weight": (96, 3, 4, 4),
        "features.1.0.layer_scale": (96, 1, 1),
        "features.1.0.block.0.weight": (96, 1, 7, 7),
        "features.1.0.block.2.weight": (96,),
        "features.1.0.block.3.weight": (384, 96),
        "features.1.0.block.5.weight": (96, 384),
        "features.2.0.weight": (96,),
        "features.2.1.weight": (192, 96, 2, 2),
        "features.5.8.block.3.weight": (1536, 384),
        "features.7.2.layer_scale": (768, 1, 1),
        "classifier.0.weight": (768,),
        "classifier.2.weight": (1000, 768),
    }
    for k, s in shapes.items():
        assert tuple(sd[k].shape) == s, k
    assert "features.7.3.layer_scale" not in sd and "features.8.0.weight" not in sd


# ---------------------------------------------------------------- hyper-parameters


def sd_probs(model):
    return [m.p for m in model.modules() if isinstance(m, StochasticDepth)]


@pytest.mark.parametrize(
    ("name", "eps", "momentum", "dropout", "blocks"),
    [
        ("efficientnet_b0", 1e-5, 0.1, 0.2, 16),
        ("efficientnet_b2", 1e-5, 0.1, 0.3, 23),
        ("efficientnet_b5", 1e-3, 0.01, 0.4, 39),
        ("efficientnet_b7", 1e-3, 0.01, 0.5, 55),
        ("efficientnet_v2_s", 1e-3, 0.1, 0.2, 40),
        ("efficientnet_v2_l", 1e-3, 0.1, 0.4, 79),
    ],
)
def test_efficientnet_norm_dropout_and_stochastic_depth(name, eps, momentum, dropout, blocks):
    with no_random_init():
        model = builder(name)()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.eps == eps and m.momentum == momentum for m in bns)
    assert isinstance(model.classifier[0], nn.Dropout) and model.classifier[0].p == dropout
    # block i of n drops with probability 0.2 * i / n
    assert sd_probs(model) == pytest.approx([0.2 * i / blocks for i in range(blocks)])
    assert all(m.mode == "row" for m in model.modules() if isinstance(m, StochasticDepth))


def test_stochastic_depth_and_dropout_overrides():
    with no_random_init():
        m = eff.efficientnet_b0(stochastic_depth_prob=0.5, dropout=0.1)
        c = cnx.convnext_tiny(stochastic_depth_prob=0.34, layer_scale=0.5)
    assert sd_probs(m) == pytest.approx([0.5 * i / 16 for i in range(16)])
    assert m.classifier[0].p == 0.1
    probs = [b.stochastic_depth.p for b in c.modules() if isinstance(b, cnx.CNBlock)]
    assert probs == pytest.approx([0.34 * i / 17 for i in range(18)])


@pytest.mark.parametrize(
    ("name", "p_last", "n_blocks"),
    [("convnext_tiny", 0.1, 18), ("convnext_small", 0.4, 36), ("convnext_large", 0.5, 36)],
)
def test_convnext_stochastic_depth_and_norms(name, p_last, n_blocks):
    with no_random_init():
        model = builder(name)()
    blocks = [m for m in model.modules() if isinstance(m, cnx.CNBlock)]
    # linear from 0 (first block) to stochastic_depth_prob (last block)
    assert [b.stochastic_depth.p for b in blocks] == pytest.approx(
        [p_last * i / (n_blocks - 1) for i in range(n_blocks)]
    )
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert all(m.eps == 1e-6 for m in norms)
    ln2d = [m for m in norms if isinstance(m, cnx.LayerNorm2d)]
    assert len(ln2d) == 5  # stem, three downsampling layers, classifier
    assert all(type(b.block[2]) is nn.LayerNorm for b in blocks)
    assert isinstance(model.classifier[1], nn.Flatten)


def test_mbconv_config_scaling():
    c = eff.MBConvConfig(6, 5, 2, 40, 80, 3, width_mult=1.4, depth_mult=1.8)
    assert (c.input_channels, c.out_channels, c.num_layers, c.block) == (56, 112, 6, eff.MBConv)
    c = eff.MBConvConfig(6, 3, 2, 16, 24, 2, 1.1, 1.2)
    assert (c.input_channels, c.out_channels, c.num_layers) == (16, 24, 3)
    assert (
        eff.MBConvConfig.adjust_channels(32, 1.1) == 32 and eff.MBConvConfig.adjust_channels(320, 2.0) == 640
    )
    assert eff.MBConvConfig.adjust_depth(4, 3.1) == 13
    f = eff.FusedMBConvConfig(4, 3, 2, 24, 48, 4)
    assert (f.input_channels, f.out_channels, f.num_layers, f.block) == (24, 48, 4, eff.FusedMBConv)
    assert eff.MBConvConfig(6, 3, 2, 16, 24, 2) == eff.MBConvConfig(6, 3, 2, 16, 24, 2)
    assert "FusedMBConvConfig(expand_ratio=4, kernel=3, stride=2" in repr(f)
    assert (
        repr(cnx.CNBlockConfig(8, None, 2))
        == "CNBlockConfig(input_channels=8, out_channels=None, num_layers=2)"
    )


# ---------------------------------------------------------------- blocks against numpy


@pytest.mark.parametrize(
    "cnf",
    [
        eff.MBConvConfig(4, 5, 1, 8, 8, 1),
        eff.MBConvConfig(6, 3, 2, 8, 16, 1),
        eff.MBConvConfig(1, 3, 1, 8, 8, 1),
    ],
)
def test_mbconv_matches_numpy(cnf):
    rustdl.manual_seed(1)
    blk = eff.MBConv(cnf, 0.3, nn.BatchNorm2d).eval()
    randomize_norms(blk, 2)
    x = np.random.default_rng(3).normal(size=(2, 8, 9, 9))
    with rustdl.no_grad():
        y = blk(to_t(x))
    np.testing.assert_allclose(to_np(y), np_mbconv(x, blk, cnf), rtol=1e-4, atol=1e-5)
    assert blk.use_res_connect == (cnf.stride == 1)


@pytest.mark.parametrize(
    "cnf", [eff.FusedMBConvConfig(4, 3, 1, 8, 8, 1), eff.FusedMBConvConfig(1, 3, 2, 8, 16, 1)]
)
def test_fused_mbconv_matches_numpy(cnf):
    rustdl.manual_seed(1)
    blk = eff.FusedMBConv(cnf, 0.3, nn.BatchNorm2d).eval()
    randomize_norms(blk, 2)
    assert len(blk.block) == (2 if cnf.expand_ratio != 1 else 1)
    x = np.random.default_rng(3).normal(size=(2, 8, 9, 9))
    with rustdl.no_grad():
        y = blk(to_t(x))
    np.testing.assert_allclose(to_np(y), np_fused_mbconv(x, blk, cnf), rtol=1e-4, atol=1e-5)


def test_residual_branch_dropped_by_stochastic_depth():
    x = to_t(np.random.default_rng(0).normal(size=(3, 8, 6, 6)))
    rustdl.manual_seed(0)
    blk = eff.MBConv(eff.MBConvConfig(4, 3, 1, 8, 8, 1), 1.0, nn.BatchNorm2d).train()
    np.testing.assert_array_equal(blk(x).detach().numpy(), x.numpy())  # p = 1: only the shortcut
    blk.stochastic_depth.p = 0.0
    assert np.abs(blk(x).detach().numpy() - x.numpy()).max() > 1e-3
    cn = cnx.CNBlock(8, 1.0, 1.0).train()
    np.testing.assert_array_equal(cn(x).detach().numpy(), x.numpy())
    cn.eval()  # evaluation ignores stochastic depth
    assert np.abs(cn(x).detach().numpy() - x.numpy()).max() > 1e-3


def test_layer_norm_2d_matches_numpy():
    ln = cnx.LayerNorm2d(6, eps=1e-6)
    randomize_norms(ln, 4)
    x = np.random.default_rng(5).normal(size=(2, 6, 4, 5)) * 3 + 1
    ref = np_layer_norm_last(x.transpose(0, 2, 3, 1), to_np(ln.weight), to_np(ln.bias), 1e-6)
    np.testing.assert_allclose(to_np(ln(to_t(x))), ref.transpose(0, 3, 1, 2), rtol=1e-4, atol=1e-5)
    assert isinstance(ln, nn.LayerNorm) and ln.normalized_shape == (6,)


def test_cnblock_matches_numpy():
    rustdl.manual_seed(2)
    blk = cnx.CNBlock(8, 1e-6, 0.2).eval()
    assert np.all(blk.layer_scale.detach().numpy() == np.float32(1e-6))
    assert tuple(blk.layer_scale.shape) == (8, 1, 1) and blk.layer_scale.requires_grad
    randomize_norms(blk, 6)
    x = np.random.default_rng(7).normal(size=(2, 8, 9, 9))
    with rustdl.no_grad():
        y = blk(to_t(x))
    np.testing.assert_allclose(to_np(y), np_cnblock(x, blk), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- full models


@pytest.fixture(scope="module")
def b0():
    rustdl.manual_seed(0)
    return eff.efficientnet_b0(num_classes=10)


def test_efficientnet_b0_forward_and_init(b0):
    assert n_params(b0) == 5288548 - 990 * 1281
    b0.eval()
    x = batch(0, n=1)[0]
    with rustdl.no_grad():
        y1, y2 = b0(x), b0(x)
    assert tuple(y1.shape) == (1, 10)
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    sd = b0.state_dict()
    # conv weights: kaiming normal, fan_out mode (std sqrt(2 / (out_channels * k * k)))
    for key, fan_out in [("features.6.0.block.0.0.weight", 672), ("features.7.0.block.1.0.weight", 1152 * 9)]:
        std = float(sd[key].numpy().std())
        assert std == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.05), key
    # linear: uniform in ±1/sqrt(out_features), zero bias
    w = sd["classifier.1.weight"].numpy()
    bound = 1.0 / math.sqrt(10)
    assert np.abs(w).max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert not sd["classifier.1.bias"].numpy().any() and not sd["features.1.0.block.1.fc1.bias"].numpy().any()
    assert np.all(sd["features.0.1.weight"].numpy() == 1) and not sd["features.0.1.bias"].numpy().any()


def test_full_size_forward_shapes():
    x = batch(1, n=1)[0]
    for name in ("efficientnet_v2_s", "convnext_tiny"):
        with no_random_init():
            model = builder(name)(num_classes=3).eval()
        with rustdl.no_grad():
            assert tuple(model(x).shape) == (1, 3), name


def test_convnext_init():
    rustdl.manual_seed(0)
    model = tiny_convnext(num_classes=5)
    for name, p in model.named_parameters():
        a = p.detach().numpy()
        if name.endswith("layer_scale"):
            assert np.all(a == np.float32(1e-6)), name
        elif p.ndim == 1 and (
            "block.2" in name or name.startswith(("features.0.1", "features.2.0", "classifier.0"))
        ):
            assert np.all(a == (1.0 if name.endswith("weight") else 0.0)), name  # LayerNorms
        elif name.endswith("bias"):
            assert not a.any(), name
        else:  # conv and linear weights: truncated normal, std 0.02
            assert a.std() == pytest.approx(0.02, rel=0.2) and np.abs(a).max() < 0.15, name


@pytest.mark.parametrize("make", [tiny_efficientnet, tiny_convnext])
def test_train_steps_lower_the_loss(make):
    rustdl.manual_seed(0)
    model = make(num_classes=5)
    x, t = batch(2)
    opt = rustdl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("make", [tiny_efficientnet, tiny_convnext])
def test_state_dict_round_trip(make, tmp_path):
    rustdl.manual_seed(0)
    model = make(num_classes=5)
    randomize_norms(model, 9)
    path = tmp_path / "m.safetensors"
    rustdl.save(model.state_dict(), path)
    rustdl.manual_seed(1)
    other = make(num_classes=5)
    x = batch(3, n=2)[0]
    model.eval()
    other.eval()
    with rustdl.no_grad():
        y = model(x).numpy()
        assert np.abs(other(x).numpy() - y).max() > 1e-4
        other.load_state_dict(rustdl.load(path))
        np.testing.assert_array_equal(other(x).numpy(), y)
        assert tuple(y.shape) == (2, 5)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_v2_s", "convnext_tiny"])
def test_pretrained_weights_refused(name):
    with pytest.raises(NotImplementedError):
        builder(name)(weights="DEFAULT")
    with pytest.raises(NotImplementedError):
        builder(name)(pretrained=True)


def test_bad_efficientnet_arguments():
    with pytest.raises(ValueError):
        eff.EfficientNet([], 0.2)
    with pytest.raises(TypeError):
        eff.EfficientNet([1], 0.2)
    with pytest.raises(ValueError):
        eff.MBConv(eff.MBConvConfig(1, 3, 3, 8, 8, 1), 0.0, nn.BatchNorm2d)
    with pytest.raises(ValueError):
        eff.FusedMBConv(eff.FusedMBConvConfig(1, 3, 0, 8, 8, 1), 0.0, nn.BatchNorm2d)
    with no_random_init():
        with pytest.raises(TypeError):  # B5–B7 and V2 fix their norm layer
            eff.efficientnet_b5(norm_layer=nn.BatchNorm2d)
        with pytest.raises(TypeError):
            eff.efficientnet_v2_s(norm_layer=nn.BatchNorm2d)
        with pytest.raises(TypeError):
            eff.efficientnet_b0(last_channel=10)
        with pytest.raises(TypeError):
            eff.efficientnet_b0(width_mult=2.0)
        with pytest.raises(ValueError):
            eff.efficientnet_b0(dropout=1.5)


def test_bad_convnext_arguments():
    with pytest.raises(ValueError):
        cnx.ConvNeXt([])
    with pytest.raises(TypeError):
        cnx.ConvNeXt([1])
    with pytest.raises(ZeroDivisionError):  # one block in all: torchvision divides by n - 1
        cnx.ConvNeXt([cnx.CNBlockConfig(8, None, 1)])
    # unknown keyword arguments are accepted and ignored, as torchvision does
    model = cnx.ConvNeXt([cnx.CNBlockConfig(8, None, 2)], num_classes=3, foo=1)
    assert tuple(model.classifier[2].weight.shape) == (3, 8)
    with pytest.raises(ValueError):
        tiny_convnext(stochastic_depth_prob=1.5)(batch(0, n=1)[0])
