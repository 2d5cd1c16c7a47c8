"""rustdl.models.vision_transformer and rustdl.models.regnet: torchvision's constructors, keys,
shapes, parameter counts, initialisation and forward computation.

The parameter counts are the ones torchvision documents (and its models count, checked once
against torchvision 0.29); the RegNet stage tables are what torchvision's
``BlockParams.from_init_params`` gives for each variant. torch is not needed to run these tests.
"""

import math
from collections import OrderedDict

import numpy as np
import pytest
import rustdl
from rustdl import nn
from rustdl.models import regnet as rg
from rustdl.models import vision_transformer as vt


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def tiny_vit(**kw):
    cfg = dict(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, num_classes=10
    )
    cfg.update(kw)
    return vt.VisionTransformer(**cfg)


def tiny_regnet(**kw):
    params = rg.BlockParams(
        depths=[1, 2],
        widths=[16, 32],
        group_widths=[8, 8],
        bottleneck_multipliers=[1.0, 1.0],
        strides=[2, 2],
        se_ratio=0.25,
    )
    return rg.RegNet(params, stem_width=8, **{"num_classes": 5, **kw})


def randomise_(model, seed=3):
    """Gives every parameter and BatchNorm statistic a generic random value (no zero heads,
    unit norms or empty statistics), so that forward checks exercise every term."""
    g = np.random.default_rng(seed)
    with rustdl.no_grad():
        for k, v in model.state_dict().items():
            if not v.dtype.is_floating_point:
                continue
            if k.endswith("running_var"):
                a = g.uniform(0.5, 1.5, v.shape)
            else:
                a = g.normal(0.0, 0.2, v.shape)
            v.copy_(rustdl.tensor(a.astype(np.float32)))


# ---------------------------------------------------------------------------------------------
# Vision Transformer
# ---------------------------------------------------------------------------------------------

VIT = {  # (patch, layers, heads, hidden, mlp), parameters for 1000 classes at 224×224
    "vit_b_16": ((16, 12, 12, 768, 3072), 86_567_656),
    "vit_b_32": ((32, 12, 12, 768, 3072), 88_224_232),
    "vit_l_16": ((16, 24, 16, 1024, 4096), 304_326_632),
    "vit_l_32": ((32, 24, 16, 1024, 4096), 306_535_400),
    "vit_h_14": ((14, 32, 16, 1280, 5120), 632_045_800),
}


def test_vit_b_16_parameters_and_keys():
    model = vt.vit_b_16()
    assert n_params(model) == 86_567_656
    sd = model.state_dict()
    assert len(sd) == 152
    keys = list(sd)
    assert keys[:4] == ["class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding"]
    assert keys[-4:] == ["encoder.ln.weight", "encoder.ln.bias", "heads.head.weight", "heads.head.bias"]
    assert tuple(sd["class_token"].shape) == (1, 1, 768)
    assert tuple(sd["conv_proj.weight"].shape) == (768, 3, 16, 16)
    assert tuple(sd["encoder.pos_embedding"].shape) == (1, 197, 768)
    blk = "encoder.layers.encoder_layer_11."
    assert tuple(sd[blk + "self_attention.in_proj_weight"].shape) == (2304, 768)
    assert tuple(sd[blk + "self_attention.in_proj_bias"].shape) == (2304,)
    assert tuple(sd[blk + "self_attention.out_proj.weight"].shape) == (768, 768)
    assert tuple(sd[blk + "mlp.0.weight"].shape) == (3072, 768)
    assert tuple(sd[blk + "mlp.3.weight"].shape) == (768, 3072)
    assert tuple(sd["heads.head.weight"].shape) == (1000, 768)


@pytest.mark.parametrize("name", sorted(VIT))
def test_vit_variant_parameter_counts(name, monkeypatch):
    """The constructor's configuration (recorded), and the parameter count of the model it
    builds: a 0-layer and a 1-layer model with that configuration give the count for
    ``num_layers`` blocks without building all of them."""
    seen = {}
    real = vt.VisionTransformer

    def record(**kw):
        seen.update(kw)
        return None

    monkeypatch.setattr(vt, "VisionTransformer", record)
    getattr(vt, name)()
    monkeypatch.setattr(vt, "VisionTransformer", real)
    (patch, layers, heads, hidden, mlp), stated = VIT[name]
    assert seen == dict(
        image_size=224, patch_size=patch, num_layers=layers, num_heads=heads, hidden_dim=hidden, mlp_dim=mlp
    )
    base = n_params(real(**{**seen, "num_layers": 0}))
    block = n_params(vt.EncoderBlock(heads, hidden, mlp, 0.0, 0.0))
    assert base + layers * block == stated


def test_vit_small_keys_and_shapes():
    model = tiny_vit(num_layers=1)
    got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    p = "encoder.layers.encoder_layer_0."
    assert got == [
        ("class_token", (1, 1, 32)),
        ("conv_proj.weight", (32, 3, 8, 8)),
        ("conv_proj.bias", (32,)),
        ("encoder.pos_embedding", (1, 17, 32)),
        (p + "ln_1.weight", (32,)),
        (p + "ln_1.bias", (32,)),
        (p + "self_attention.in_proj_weight", (96, 32)),
        (p + "self_attention.in_proj_bias", (96,)),
        (p + "self_attention.out_proj.weight", (32, 32)),
        (p + "self_attention.out_proj.bias", (32,)),
        (p + "ln_2.weight", (32,)),
        (p + "ln_2.bias", (32,)),
        (p + "mlp.0.weight", (64, 32)),
        (p + "mlp.0.bias", (64,)),
        (p + "mlp.3.weight", (32, 64)),
        (p + "mlp.3.bias", (32,)),
        ("encoder.ln.weight", (32,)),
        ("encoder.ln.bias", (32,)),
        ("heads.head.weight", (10, 32)),
        ("heads.head.bias", (10,)),
    ]
    assert model.encoder.layers.encoder_layer_0.ln_1.eps == 1e-6
    assert model.encoder.layers.encoder_layer_0.self_attention.batch_first


def test_vit_image_size_argument():
    model = vt.vit_b_16(image_size=32, num_classes=7)
    assert tuple(model.encoder.pos_embedding.shape) == (1, 5, 768)
    assert n_params(model) == 86_567_656 - (197 - 5) * 768 - 993 * 768 - 993
    rustdl.manual_seed(0)
    assert tuple(model(rustdl.randn(1, 3, 32, 32)).shape) == (1, 7)


def test_vit_forward_shape_and_eval_determinism():
    rustdl.manual_seed(0)
    model = tiny_vit()
    randomise_(model)
    model.eval()
    x = rustdl.randn(2, 3, 32, 32)
    with rustdl.no_grad():
        a, b = model(x).numpy(), model(x).numpy()
    assert a.shape == (2, 10)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all() and np.abs(a).max() > 0


def _np_layer_norm(x, w, b, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _np_vit(model, x):
    """The whole ViT forward in float64 numpy, from the model's parameters."""
    sd = {k: v.numpy().astype(np.float64) for k, v in model.state_dict().items()}
    n, p, d = x.shape[0], model.patch_size, model.hidden_dim
    g = model.image_size // p
    patches = x.reshape(n, 3, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(n, g * g, 3 * p * p)
    tok = patches @ sd["conv_proj.weight"].reshape(d, -1).T + sd["conv_proj.bias"]
    h = np.concatenate([np.broadcast_to(sd["class_token"], (n, 1, d)), tok], 1) + sd["encoder.pos_embedding"]
    erf = np.vectorize(math.erf)
    for i in range(len(model.encoder.layers)):
        q = f"encoder.layers.encoder_layer_{i}."
        heads = model.encoder.layers[i].num_heads
        y = _np_layer_norm(h, sd[q + "ln_1.weight"], sd[q + "ln_1.bias"])
        qkv = y @ sd[q + "self_attention.in_proj_weight"].T + sd[q + "self_attention.in_proj_bias"]
        qq, kk, vv = (a.reshape(n, -1, heads, d // heads).transpose(0, 2, 1, 3) for a in np.split(qkv, 3, -1))
        s = qq @ kk.transpose(0, 1, 3, 2) / math.sqrt(d // heads)
        s = np.exp(s - s.max(-1, keepdims=True))
        att = (s / s.sum(-1, keepdims=True)) @ vv
        att = att.transpose(0, 2, 1, 3).reshape(n, -1, d)
        h = h + att @ sd[q + "self_attention.out_proj.weight"].T + sd[q + "self_attention.out_proj.bias"]
        y = _np_layer_norm(h, sd[q + "ln_2.weight"], sd[q + "ln_2.bias"])
        y = y @ sd[q + "mlp.0.weight"].T + sd[q + "mlp.0.bias"]
        y = 0.5 * y * (1.0 + erf(y / math.sqrt(2.0)))
        h = h + y @ sd[q + "mlp.3.weight"].T + sd[q + "mlp.3.bias"]
    h = _np_layer_norm(h, sd["encoder.ln.weight"], sd["encoder.ln.bias"])
    return h[:, 0] @ sd["heads.head.weight"].T + sd["heads.head.bias"]


def test_vit_matches_numpy_reference():
    rustdl.manual_seed(1)
    model = tiny_vit(num_heads=4)
    randomise_(model)
    x = np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32)
    model.eval()
    with rustdl.no_grad():
        out = model(rustdl.tensor(x)).numpy()
    np.testing.assert_allclose(out, _np_vit(model, x.astype(np.float64)), rtol=1e-4, atol=1e-4)


def test_vit_init_scheme():
    rustdl.manual_seed(0)
    model = vt.VisionTransformer(
        image_size=64, patch_size=8, num_layers=2, num_heads=4, hidden_dim=128, mlp_dim=256
    )
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    assert not sd["class_token"].any()
    assert not sd["heads.head.weight"].any() and not sd["heads.head.bias"].any()
    assert not sd["conv_proj.bias"].any()
    w = sd["conv_proj.weight"]
    assert abs(w.std() - math.sqrt(1 / (3 * 64))) < 0.004  # truncated normal, std sqrt(1/fan_in)
    assert abs(sd["encoder.pos_embedding"].std() - 0.02) < 0.002
    p = "encoder.layers.encoder_layer_1."
    assert not sd[p + "self_attention.in_proj_bias"].any()
    assert not sd[p + "self_attention.out_proj.bias"].any()
    bound = math.sqrt(6 / (128 + 384))  # Xavier-uniform in_proj (3E, E)
    a = sd[p + "self_attention.in_proj_weight"]
    assert np.abs(a).max() <= bound and abs(a.std() - bound / math.sqrt(3)) < 0.003
    bound = math.sqrt(6 / (128 + 256))  # Xavier-uniform MLP weights
    assert np.abs(sd[p + "mlp.0.weight"]).max() <= bound
    assert abs(sd[p + "mlp.3.weight"].std() - bound / math.sqrt(3)) < 0.003
    assert 0 < sd[p + "mlp.0.bias"].std() < 3e-6  # N(0, 1e-6²)
    np.testing.assert_array_equal(sd[p + "ln_1.weight"], 1.0)


def test_vit_sgd_lowers_loss():
    rustdl.manual_seed(0)
    model = tiny_vit(num_layers=1)
    x = rustdl.randn(8, 3, 32, 32)
    y = rustdl.tensor(np.arange(8) % 10)
    opt = rustdl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[0] == pytest.approx(math.log(10), rel=1e-5)  # zero-initialised head
    assert losses[-1] < 0.7 * losses[0]


def test_vit_state_dict_round_trip(tmp_path):
    rustdl.manual_seed(0)
    model = tiny_vit(representation_size=16)
    randomise_(model)
    model.eval()
    x = rustdl.randn(2, 3, 32, 32)
    with rustdl.no_grad():
        expected = model(x).numpy()
    rustdl.save(model.state_dict(), tmp_path / "vit.safetensors")
    rustdl.manual_seed(5)
    fresh = tiny_vit(representation_size=16)
    fresh.load_state_dict(rustdl.load(tmp_path / "vit.safetensors"))
    fresh.eval()
    with rustdl.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), expected)


def test_vit_representation_size_and_conv_stem():
    stem = [vt.ConvStemConfig(8, 3, 2), vt.ConvStemConfig(16, 3, 2), vt.ConvStemConfig(24, 3, 2)]
    model = tiny_vit(num_classes=7, representation_size=16, conv_stem_configs=stem)
    sd = model.state_dict()
    assert tuple(sd["conv_proj.conv_bn_relu_0.0.weight"].shape) == (8, 3, 3, 3)
    assert tuple(sd["conv_proj.conv_bn_relu_2.1.running_var"].shape) == (24,)
    assert tuple(sd["conv_proj.conv_last.weight"].shape) == (32, 24, 1, 1)
    assert tuple(sd["heads.pre_logits.weight"].shape) == (16, 32)
    assert tuple(sd["heads.head.weight"].shape) == (7, 16)
    assert isinstance(model.heads.act, nn.Tanh)
    assert "conv_proj.weight" not in sd
    assert n_params(model) == 24_095  # torchvision's count for this configuration
    assert abs(sd["conv_proj.conv_last.weight"].numpy().std() - math.sqrt(2 / 32)) < 0.03
    rustdl.manual_seed(0)
    assert tuple(model(rustdl.randn(2, 3, 32, 32)).shape) == (2, 7)


def test_vit_mlp_block_loads_old_keys():
    block = vt.MLPBlock(8, 16, 0.0)
    new = {k: v.clone() + 1.0 for k, v in block.state_dict().items()}
    old = {k.replace("0.", "linear_1.").replace("3.", "linear_2."): v for k, v in new.items()}
    assert sorted(old) == ["linear_1.bias", "linear_1.weight", "linear_2.bias", "linear_2.weight"]
    block.load_state_dict(old)
    for k, v in block.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), new[k].numpy())


def test_vit_errors():
    with pytest.raises(NotImplementedError):
        vt.vit_b_16(weights="DEFAULT")
    with pytest.raises(NotImplementedError):
        vt.vit_h_14(pretrained=True)
    with pytest.raises(AssertionError):  # image size not a multiple of the patch size
        tiny_vit(image_size=30)
    with pytest.raises(AssertionError):  # hidden_dim not divisible by num_heads
        tiny_vit(num_heads=3)
    with pytest.raises(AssertionError):  # wrong input size
        tiny_vit()(rustdl.randn(1, 3, 16, 16))
    with pytest.raises(TypeError):
        vt.vit_b_32(patch_size=8)
    with pytest.raises(TypeError):
        vt.vit_l_16(foo=1)


# ---------------------------------------------------------------------------------------------
# RegNet
# ---------------------------------------------------------------------------------------------

# variant: (stage depths, stage widths, group width(s), SE), parameters for 1000 classes
REGNET = {
    "regnet_y_400mf": ([1, 3, 6, 6], [48, 104, 208, 440], 8, True, 4_344_144),
    "regnet_y_800mf": ([1, 3, 8, 2], [64, 144, 320, 784], 16, True, 6_432_512),
    "regnet_y_1_6gf": ([2, 6, 17, 2], [48, 120, 336, 888], 24, True, 11_202_430),
    "regnet_y_3_2gf": ([2, 5, 13, 1], [72, 216, 576, 1512], 24, True, 19_436_338),
    "regnet_y_8gf": ([2, 4, 10, 1], [224, 448, 896, 2016], 56, True, 39_381_472),
    "regnet_y_16gf": ([2, 4, 11, 1], [224, 448, 1232, 3024], 112, True, 83_590_140),
    "regnet_y_32gf": ([2, 5, 12, 1], [232, 696, 1392, 3712], 232, True, 145_046_770),
    "regnet_y_128gf": ([2, 7, 17, 1], [528, 1056, 2904, 7392], 264, True, 644_812_894),
    "regnet_x_400mf": ([1, 2, 7, 12], [32, 64, 160, 400], 16, False, 5_495_976),
    "regnet_x_800mf": ([1, 3, 7, 5], [64, 128, 288, 672], 16, False, 7_259_656),
    "regnet_x_1_6gf": ([2, 4, 10, 2], [72, 168, 408, 912], 24, False, 9_190_136),
    "regnet_x_3_2gf": ([2, 6, 15, 2], [96, 192, 432, 1008], 48, False, 15_296_552),
    "regnet_x_8gf": ([2, 5, 15, 1], [80, 240, 720, 1920], [80, 120, 120, 120], False, 39_572_648),
    "regnet_x_16gf": ([2, 6, 13, 1], [256, 512, 896, 2048], 128, False, 54_278_536),
    "regnet_x_32gf": ([2, 7, 13, 1], [336, 672, 1344, 2520], 168, False, 107_811_560),
}
# small enough to build in a test
REGNET_BUILT = ["regnet_y_400mf", "regnet_x_400mf", "regnet_y_800mf", "regnet_x_800mf"]


def regnet_count(bp, num_classes=1000, stem_width=32):
    """Parameters of a RegNet with BatchNorm, counted from its :class:`BlockParams` alone."""
    total = 3 * stem_width * 9 + 2 * stem_width
    w_in = stem_width
    for w_out, stride, depth, gw, mult in bp._get_expanded_params():
        for i in range(depth):
            wi, s = (w_in, stride) if i == 0 else (w_out, 1)
            wb = int(round(w_out * mult))
            total += wi * wb + 2 * wb  # a
            total += wb * gw * 9 + 2 * wb  # b: grouped 3×3, wb // gw groups
            if bp.se_ratio:
                sq = int(round(bp.se_ratio * wi))
                total += 2 * wb * sq + sq + wb
            total += wb * w_out + 2 * w_out  # c
            if wi != w_out or s != 1:
                total += wi * w_out + 2 * w_out  # proj
        w_in = w_out
    return total + w_in * num_classes + num_classes


def _captured_params(name, monkeypatch):
    """The BlockParams a constructor passes to RegNet (without building the model)."""
    seen = {}

    def record(params, **kw):
        seen["params"], seen["kw"] = params, kw

    monkeypatch.setattr(rg, "RegNet", record)
    getattr(rg, name)()
    return seen["params"], seen["kw"]


@pytest.mark.parametrize("name", sorted(REGNET))
def test_regnet_block_params_and_parameter_counts(name, monkeypatch):
    depths, widths, gw, se, stated = REGNET[name]
    bp, kw = _captured_params(name, monkeypatch)
    assert bp.depths == depths and bp.widths == widths
    assert bp.group_widths == (gw if isinstance(gw, list) else [gw] * 4)
    assert bp.strides == [2, 2, 2, 2] and bp.bottleneck_multipliers == [1.0] * 4
    assert bp.se_ratio == (0.25 if se else None)
    assert kw["norm_layer"](4).eps == 1e-5 and kw["norm_layer"](4).momentum == 0.1
    assert regnet_count(bp) == stated


@pytest.mark.parametrize("name", REGNET_BUILT)
def test_regnet_built_parameter_counts(name):
    model = getattr(rg, name)()
    assert n_params(model) == REGNET[name][-1]
    assert regnet_count(_block_params_of(model)) == REGNET[name][-1]


def _block_params_of(model):
    stages = list(model.trunk_output.children())
    widths = [s[0].f.c[0].out_channels for s in stages]
    groups = [s[0].f.b[0].out_channels // s[0].f.b[0].groups for s in stages]
    se = 0.25 if hasattr(stages[0][0].f, "se") else None
    return rg.BlockParams(
        [len(s) for s in stages], widths, groups, [1.0] * len(stages), [2] * len(stages), se
    )


def test_regnet_y_400mf_keys_and_shapes():
    sd = rg.regnet_y_400mf().state_dict()
    assert len(sd) == 384
    keys = list(sd)
    assert keys[:6] == [
        "stem.0.weight",
        "stem.1.weight",
        "stem.1.bias",
        "stem.1.running_mean",
        "stem.1.running_var",
        "stem.1.num_batches_tracked",
    ]
    assert keys[6] == "trunk_output.block1.block1-0.proj.0.weight"
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    b = "trunk_output.block1.block1-0."
    shapes = {
        "stem.0.weight": (32, 3, 3, 3),
        b + "proj.0.weight": (48, 32, 1, 1),
        b + "f.a.0.weight": (48, 32, 1, 1),
        b + "f.b.0.weight": (48, 8, 3, 3),  # 6 groups of 8
        b + "f.se.fc1.weight": (8, 48, 1, 1),  # round(0.25 · 32)
        b + "f.se.fc1.bias": (8,),
        b + "f.se.fc2.weight": (48, 8, 1, 1),
        b + "f.c.0.weight": (48, 48, 1, 1),
        b + "f.c.1.running_var": (48,),
        "trunk_output.block4.block4-5.f.b.0.weight": (440, 8, 3, 3),
        "fc.weight": (1000, 440),
    }
    for k, s in shapes.items():
        assert tuple(sd[k].shape) == s, k
    assert "trunk_output.block4.block4-1.proj.0.weight" not in sd
    assert "trunk_output.block4.block4-6.f.a.0.weight" not in sd


def test_regnet_x_400mf_has_no_se():
    sd = rg.regnet_x_400mf(num_classes=10).state_dict()
    assert not any(".se." in k for k in sd)
    assert tuple(sd["trunk_output.block2.block2-0.f.b.0.weight"].shape) == (64, 16, 3, 3)
    assert tuple(sd["fc.weight"].shape) == (10, 400)


def test_regnet_forward_shape_and_eval_determinism():
    rustdl.manual_seed(0)
    model = rg.regnet_y_400mf(num_classes=10)
    model.eval()
    x = rustdl.randn(2, 3, 64, 64)
    with rustdl.no_grad():
        a, b = model(x).numpy(), model(x).numpy()
    assert a.shape == (2, 10)
    np.testing.assert_array_equal(a, b)
    model.train()
    with rustdl.no_grad():
        t = model(x).numpy()
    assert not np.allclose(t, a)  # batch statistics in training
    assert int(model.stem[1].num_batches_tracked.item()) == 1


def _np_conv(x, w, b=None, stride=1, groups=1):
    """float64 grouped 2-D convolution with 'same' padding for odd kernels."""
    n, c, h, wd = x.shape
    o, cg, k, _ = w.shape
    p = (k - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = (h + 2 * p - k) // stride + 1, (wd + 2 * p - k) // stride + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg : (g + 1) * cg]
        ws = w[g * og : (g + 1) * og]
        for i in range(k):
            for j in range(k):
                patch = xs[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]
                out[:, g * og : (g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def _np_bn(x, sd, key, eps=1e-5):
    s = lambda n: sd[f"{key}.{n}"].reshape(1, -1, 1, 1)  # noqa: E731
    return (x - s("running_mean")) / np.sqrt(s("running_var") + eps) * s("weight") + s("bias")


def test_regnet_block_matches_numpy_reference():
    rustdl.manual_seed(0)
    block = rg.ResBottleneckBlock(8, 16, 2, nn.BatchNorm2d, nn.ReLU, group_width=4, se_ratio=0.25)
    randomise_(block)
    block.eval()
    x = np.random.default_rng(1).normal(size=(2, 8, 6, 6))
    with rustdl.no_grad():
        out = block(rustdl.tensor(x.astype(np.float32))).numpy()
    sd = {k: v.numpy().astype(np.float64) for k, v in block.state_dict().items()}
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    h = relu(_np_bn(_np_conv(x, sd["f.a.0.weight"]), sd, "f.a.1"))
    h = relu(_np_bn(_np_conv(h, sd["f.b.0.weight"], stride=2, groups=4), sd, "f.b.1"))
    s = h.mean((2, 3), keepdims=True)
    s = relu(_np_conv(s, sd["f.se.fc1.weight"], sd["f.se.fc1.bias"]))
    s = 1.0 / (1.0 + np.exp(-_np_conv(s, sd["f.se.fc2.weight"], sd["f.se.fc2.bias"])))
    h = _np_bn(_np_conv(h * s, sd["f.c.0.weight"]), sd, "f.c.1")
    shortcut = _np_bn(_np_conv(x, sd["proj.0.weight"], stride=2), sd, "proj.1")
    np.testing.assert_allclose(out, relu(h + shortcut), rtol=1e-4, atol=1e-4)


def test_regnet_init_scheme():
    rustdl.manual_seed(0)
    model = rg.regnet_y_400mf()
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    b = "trunk_output.block3.block3-0."
    for key, fan_out in [
        ("stem.0.weight", 9 * 32),
        (b + "f.a.0.weight", 208),
        (b + "f.b.0.weight", 9 * 208),
        (b + "f.c.0.weight", 208),
        (b + "proj.0.weight", 208),
        (b + "f.se.fc2.weight", 208),
    ]:
        assert abs(sd[key].std() / math.sqrt(2 / fan_out) - 1) < 0.1, key
    np.testing.assert_array_equal(sd[b + "f.b.1.weight"], 1.0)
    np.testing.assert_array_equal(sd[b + "f.b.1.bias"], 0.0)
    assert abs(sd["fc.weight"].std() - 0.01) < 0.0005 and not sd["fc.bias"].any()
    # SE biases keep Conv2d's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    se_bias = sd[b + "f.se.fc1.bias"]
    assert se_bias.any() and np.abs(se_bias).max() <= 1 / math.sqrt(208)


def test_regnet_sgd_lowers_loss():
    rustdl.manual_seed(0)
    model = tiny_regnet()
    x = rustdl.randn(8, 3, 16, 16)
    y = rustdl.tensor(np.arange(8) % 5)
    opt = rustdl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.7 * losses[0]


def test_regnet_state_dict_round_trip(tmp_path):
    rustdl.manual_seed(0)
    model = tiny_regnet()
    randomise_(model)
    model.eval()
    x = rustdl.randn(2, 3, 16, 16)
    with rustdl.no_grad():
        expected = model(x).numpy()
    rustdl.save(model.state_dict(), tmp_path / "regnet.safetensors")
    rustdl.manual_seed(5)
    fresh = tiny_regnet()
    fresh.load_state_dict(rustdl.load(tmp_path / "regnet.safetensors"))
    fresh.eval()
    with rustdl.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), expected)


def test_block_params_rule():
    bp = rg.BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25)
    assert (bp.depths, bp.widths, bp.group_widths, bp.se_ratio) == (
        [1, 3, 6, 6],
        [48, 104, 208, 440],
        [8, 8, 8, 8],
        0.25,
    )
    # group widths are capped at the bottleneck width, which is rounded to a multiple of them
    bp = rg.BlockParams.from_init_params(
        depth=6, w_0=16, w_a=10.0, w_m=2.0, group_width=24, bottleneck_multiplier=0.5
    )
    # (bottlenecks 8, 16, 32; 32 is rounded to a multiple of 24 and widened back to 96)
    assert (bp.depths, bp.widths, bp.group_widths) == ([1, 2, 3], [16, 32, 96], [8, 16, 24])


def test_regnet_errors():
    with pytest.raises(NotImplementedError):
        rg.regnet_y_400mf(weights="DEFAULT")
    with pytest.raises(NotImplementedError):
        rg.regnet_x_32gf(pretrained=True)
    for bad in (dict(w_0=12), dict(w_0=0), dict(w_a=-1.0), dict(w_m=1.0)):
        with pytest.raises(ValueError):
            rg.BlockParams.from_init_params(
                **{"depth": 4, "w_0": 16, "w_a": 8.0, "w_m": 2.0, "group_width": 8, **bad}
            )
    with pytest.raises(TypeError):
        rg.regnet_x_400mf(depth=3)
    with pytest.raises(TypeError):
        rg.regnet_y_400mf(foo=1)


def test_regnet_custom_norm_and_activation():
    model = tiny_regnet(norm_layer=lambda c: nn.GroupNorm(2, c), activation=nn.SiLU)
    assert isinstance(model.stem[1], nn.GroupNorm) and isinstance(model.stem[2], nn.SiLU)
    assert isinstance(model.trunk_output.block2[1].activation, nn.SiLU)
    rustdl.manual_seed(0)
    assert tuple(model(rustdl.randn(2, 3, 16, 16)).shape) == (2, 5)


def test_state_dict_loads_by_key_into_fresh_model():
    rustdl.manual_seed(0)
    src = rg.regnet_x_400mf(num_classes=3)
    randomise_(src)
    dst = rg.regnet_x_400mf(num_classes=3)
    dst.load_state_dict(OrderedDict((k, v.clone()) for k, v in src.state_dict().items()))
    src.eval()
    dst.eval()
    x = rustdl.randn(1, 3, 32, 32)
    with rustdl.no_grad():
        np.testing.assert_array_equal(src(x).numpy(), dst(x).numpy())
