"""The mobile torchvision families in rustdl.models: MobileNet V2, MobileNet V3, SqueezeNet,
ShuffleNet V2 and MNASNet.

Parameter counts are torchvision 0.29's (checked against it when the models were written, and
its documented ``num_params``); blocks are checked against numpy forward passes; every family
trains, round-trips its state dict and refuses pretrained weights and bad arguments with
torchvision's exception types. Layout and outputs against torchvision itself are in
test_models_zoo.py. torch is not needed.
"""

from functools import partial

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn
from rustdl.models import mnasnet, mobilenetv2, mobilenetv3, shufflenetv2, squeezenet
from rustdl.nn import functional as F

# torchvision 0.29, 1000 classes
PARAMS = {
    (mobilenetv2, "mobilenet_v2"): 3_504_872,
    (mobilenetv3, "mobilenet_v3_large"): 5_483_032,
    (mobilenetv3, "mobilenet_v3_small"): 2_542_856,
    (squeezenet, "squeezenet1_0"): 1_248_424,
    (squeezenet, "squeezenet1_1"): 1_235_496,
    (shufflenetv2, "shufflenet_v2_x0_5"): 1_366_792,
    (shufflenetv2, "shufflenet_v2_x1_0"): 2_278_604,
    (shufflenetv2, "shufflenet_v2_x1_5"): 3_503_624,
    (shufflenetv2, "shufflenet_v2_x2_0"): 7_393_996,
    (mnasnet, "mnasnet0_5"): 2_218_512,
    (mnasnet, "mnasnet0_75"): 3_170_208,
    (mnasnet, "mnasnet1_0"): 4_383_312,
    (mnasnet, "mnasnet1_3"): 6_282_256,
}

# constructor arguments other than the defaults, with torchvision's counts
VARIANT_PARAMS = [
    (mobilenetv2.mobilenet_v2, {"width_mult": 0.5}, 1_968_680),
    (mobilenetv2.mobilenet_v2, {"width_mult": 1.4, "num_classes": 10}, 4_333_706),
    (mobilenetv2.mobilenet_v2, {"width_mult": 0.35, "round_nearest": 1}, 1_670_588),
    (mobilenetv3.mobilenet_v3_large, {"width_mult": 0.75}, 3_377_576),
    (mobilenetv3.mobilenet_v3_large, {"reduced_tail": True, "dilated": True}, 2_569_352),
    (mobilenetv3.mobilenet_v3_small, {"width_mult": 1.25, "reduced_tail": True}, 1_567_008),
    (squeezenet.squeezenet1_1, {"num_classes": 10}, 727_626),
    (mnasnet.mnasnet1_0, {"num_classes": 10}, 3_115_122),
]

# the smallest member of each family, 10 classes, no dropout (deterministic training)
SMALL = {
    "mobilenet_v2": lambda **kw: mobilenetv2.mobilenet_v2(num_classes=10, width_mult=0.35, **kw),
    "mobilenet_v3_small": lambda **kw: mobilenetv3.mobilenet_v3_small(num_classes=10, **kw),
    "squeezenet1_1": lambda **kw: squeezenet.squeezenet1_1(num_classes=10, **kw),
    "shufflenet_v2_x0_5": lambda **kw: shufflenetv2.shufflenet_v2_x0_5(num_classes=10, **kw),
    "mnasnet0_5": lambda **kw: mnasnet.mnasnet0_5(num_classes=10, **kw),
}
NO_DROPOUT = {"shufflenet_v2_x0_5": {}}  # ShuffleNet V2 has no dropout


def small(name):
    return SMALL[name](**NO_DROPOUT.get(name, {"dropout": 0.0}))


def batch(n=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rustdl.from_numpy(rng.standard_normal((n, 3, size, size)).astype(np.float32))
    y = rustdl.from_numpy(rng.integers(0, 10, n).astype(np.int64))
    return x, y


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "name"), list(PARAMS), ids=[n for _, n in PARAMS])
def test_parameter_counts_match_torchvision(module, name):
    assert n_params(getattr(module, name)()) == PARAMS[module, name]


@pytest.mark.parametrize(("fn", "kwargs", "count"), VARIANT_PARAMS)
def test_constructor_arguments_change_the_model_as_torchvision(fn, kwargs, count):
    assert n_params(fn(**kwargs)) == count


def test_representative_state_dict_keys_and_shapes():
    cases = {
        mobilenetv2.mobilenet_v2: {
            "features.0.0.weight": (32, 3, 3, 3),
            "features.1.conv.0.0.weight": (32, 1, 3, 3),  # expand_ratio 1: no expansion conv
            "features.1.conv.1.weight": (16, 32, 1, 1),
            "features.2.conv.0.0.weight": (96, 16, 1, 1),
            "features.17.conv.2.weight": (320, 960, 1, 1),
            "features.18.1.running_var": (1280,),
            "classifier.1.weight": (1000, 1280),
        },
        mobilenetv3.mobilenet_v3_large: {
            "features.0.1.num_batches_tracked": (),
            "features.1.block.0.0.weight": (16, 1, 3, 3),
            "features.4.block.2.fc1.weight": (24, 72, 1, 1),
            "features.4.block.3.0.weight": (40, 72, 1, 1),
            "features.16.0.weight": (960, 160, 1, 1),
            "classifier.0.weight": (1280, 960),
            "classifier.3.weight": (1000, 1280),
        },
        mobilenetv3.mobilenet_v3_small: {
            "features.1.block.1.fc1.weight": (8, 16, 1, 1),
            "features.12.0.weight": (576, 96, 1, 1),
            "classifier.0.weight": (1024, 576),
        },
        squeezenet.squeezenet1_0: {
            "features.0.weight": (96, 3, 7, 7),
            "features.3.squeeze.weight": (16, 96, 1, 1),
            "features.12.expand3x3.weight": (256, 64, 3, 3),
            "classifier.1.weight": (1000, 512, 1, 1),
        },
        squeezenet.squeezenet1_1: {"features.0.weight": (64, 3, 3, 3), "features.12.expand1x1.bias": (256,)},
        shufflenetv2.shufflenet_v2_x1_0: {
            "conv1.0.weight": (24, 3, 3, 3),
            "stage2.0.branch1.0.weight": (24, 1, 3, 3),
            "stage2.0.branch1.2.weight": (58, 24, 1, 1),
            "stage2.1.branch2.0.weight": (58, 58, 1, 1),
            "stage4.3.branch2.3.weight": (232, 1, 3, 3),
            "conv5.0.weight": (1024, 464, 1, 1),
            "fc.weight": (1000, 1024),
        },
        mnasnet.mnasnet1_0: {
            "layers.0.weight": (32, 3, 3, 3),
            "layers.3.weight": (32, 1, 3, 3),
            "layers.8.0.layers.0.weight": (48, 16, 1, 1),
            "layers.9.0.layers.3.weight": (72, 1, 5, 5),
            "layers.14.weight": (1280, 320, 1, 1),
            "classifier.1.weight": (1000, 1280),
        },
    }
    for fn, expected in cases.items():
        sd = fn().state_dict()
        for key, shape in expected.items():
            assert tuple(sd[key].shape) == shape, (fn.__name__, key)
    # no stray keys: the stride-1 ShuffleNet unit has an empty branch1
    sd = shufflenetv2.shufflenet_v2_x0_5().state_dict()
    assert not any(k.startswith("stage2.1.branch1") for k in sd)
    assert next(iter(sd)) == "conv1.0.weight" and list(sd)[-1] == "fc.bias"


def test_channel_rounding_helpers():
    assert mnasnet._get_depths(0.5) == [16, 8, 16, 24, 40, 48, 96, 160]
    assert mnasnet._get_depths(0.75) == [24, 16, 24, 32, 64, 72, 144, 240]
    assert mnasnet._get_depths(1.3) == [40, 24, 32, 56, 104, 128, 248, 416]
    assert mnasnet._round_to_multiple_of(83, 8) == 80 and mnasnet._round_to_multiple_of(84, 8) == 88
    setting, last = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.75)
    assert [(c.input_channels, c.expanded_channels, c.out_channels) for c in setting[:4]] == [
        (16, 16, 16),
        (16, 56, 24),
        (24, 64, 24),
        (24, 72, 32),
    ]
    assert last == 768


def test_batchnorm_settings_and_initialisation():
    torch_default = mobilenetv3.mobilenet_v3_small()
    bn = torch_default.features[0][1]
    assert (bn.eps, bn.momentum) == (0.001, 0.01)
    m = mnasnet.mnasnet0_5()
    assert abs(m.layers[1].momentum - 0.0003) < 1e-12 and m.layers[1].eps == 1e-5
    # kaiming normal, fan_out: std sqrt(2 / (out_channels * k * k))
    w = mobilenetv2.mobilenet_v2().features[18][0].weight.detach().numpy()  # 1280×320×1×1
    assert abs(w.std() - np.sqrt(2 / 1280)) < 0.02 * np.sqrt(2 / 1280)
    lin = mobilenetv2.mobilenet_v2().classifier[1]
    assert abs(lin.weight.detach().numpy().std() - 0.01) < 0.001 and not lin.bias.detach().numpy().any()
    # SqueezeNet's final conv is N(0, 0.01); the others kaiming uniform (bound sqrt(6 / fan_in))
    sq = squeezenet.squeezenet1_1()
    assert abs(sq.classifier[1].weight.detach().numpy().std() - 0.01) < 0.001
    w = sq.features[12].expand3x3.weight.detach().numpy()
    assert np.abs(w).max() <= np.sqrt(6 / (64 * 9)) and np.abs(w).max() > 0.95 * np.sqrt(6 / (64 * 9))
    # MNASNet's Linear: kaiming uniform, fan_out, gain 1 -> bound sqrt(3 / out_features)
    lw = mnasnet.mnasnet0_5(num_classes=10).classifier[1].weight.detach().numpy()
    assert np.abs(lw).max() <= np.sqrt(3 / 10) and np.abs(lw).max() > 0.9 * np.sqrt(3 / 10)


# ---------------------------------------------------------------------------------------------
# blocks against numpy
# ---------------------------------------------------------------------------------------------


def np_conv(x, w, b=None, stride=1, padding=0, groups=1, dilation=1):
    """Direct convolution, NCHW."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg : (g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[
                    :,
                    :,
                    i * dilation : i * dilation + stride * ho : stride,
                    j * dilation : j * dilation + stride * wo : stride,
                ]
                out[:, g * og : (g + 1) * og] += np.einsum(
                    "nchw,oc->nohw", patch, w[g * og : (g + 1) * og, :, i, j]
                )
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def np_bn(x, bn):
    mean, var = bn.running_mean.detach().numpy(), bn.running_var.detach().numpy()
    return (x - mean.reshape(1, -1, 1, 1)) / np.sqrt(
        var.reshape(1, -1, 1, 1) + bn.eps
    ) * bn.weight.detach().numpy().reshape(1, -1, 1, 1) + bn.bias.detach().numpy().reshape(1, -1, 1, 1)


def randomise_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    with rustdl.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(rustdl.from_numpy(rng.uniform(-0.3, 0.3, c).astype(np.float32)))
                m.running_var.copy_(rustdl.from_numpy(rng.uniform(0.5, 1.5, c).astype(np.float32)))
                m.weight.copy_(rustdl.from_numpy(rng.normal(1.0, 0.2, c).astype(np.float32)))
                m.bias.copy_(rustdl.from_numpy(rng.normal(0.0, 0.2, c).astype(np.float32)))
    return model.eval()


def relu6(x):
    return np.clip(x, 0, 6)


def hardswish(x):
    return x * relu6(x + 3) / 6


def test_mobilenet_v2_block_against_numpy():
    rustdl.manual_seed(0)
    blk = randomise_bn(mobilenetv2.InvertedResidual(8, 8, 1, expand_ratio=6))
    assert blk.use_res_connect
    x = np.random.default_rng(1).standard_normal((2, 8, 5, 5)).astype(np.float32)
    c = blk.conv
    h = relu6(np_bn(np_conv(x, c[0][0].weight.detach().numpy()), c[0][1]))
    h = relu6(np_bn(np_conv(h, c[1][0].weight.detach().numpy(), padding=1, groups=48), c[1][1]))
    want = x + np_bn(np_conv(h, c[2].weight.detach().numpy()), c[3])
    assert_close(blk(rustdl.from_numpy(x)), want, rtol=1e-4, atol=1e-5)
    down = randomise_bn(mobilenetv2.InvertedResidual(8, 16, 2, expand_ratio=1))
    assert not down.use_res_connect and len(down.conv) == 3
    assert tuple(down(rustdl.from_numpy(x)).shape) == (2, 16, 3, 3)


def test_mobilenet_v3_block_with_squeeze_excitation_against_numpy():
    rustdl.manual_seed(0)
    cnf = mobilenetv3.InvertedResidualConfig(8, 5, 24, 8, True, "HS", 1, 1, 1.0)
    blk = randomise_bn(mobilenetv3.InvertedResidual(cnf, partial(nn.BatchNorm2d, eps=0.001)))
    b = blk.block
    assert b[2].fc1.out_channels == 8  # make_divisible(24 // 4, 8)
    x = np.random.default_rng(2).standard_normal((2, 8, 6, 6)).astype(np.float32)
    h = hardswish(np_bn(np_conv(x, b[0][0].weight.detach().numpy()), b[0][1]))
    h = hardswish(np_bn(np_conv(h, b[1][0].weight.detach().numpy(), padding=2, groups=24), b[1][1]))
    s = h.mean(axis=(2, 3), keepdims=True)
    s = np.maximum(np_conv(s, b[2].fc1.weight.detach().numpy(), b[2].fc1.bias.detach().numpy()), 0)
    s = (
        relu6(np_conv(s, b[2].fc2.weight.detach().numpy(), b[2].fc2.bias.detach().numpy()) + 3) / 6
    )  # hard sigmoid
    want = x + np_bn(np_conv(h * s, b[3][0].weight.detach().numpy()), b[3][1])
    assert_close(blk(rustdl.from_numpy(x)), want, rtol=1e-4, atol=1e-5)
    # dilation replaces the stride of the depthwise conv
    dil = mobilenetv3.InvertedResidual(
        mobilenetv3.InvertedResidualConfig(8, 5, 24, 16, False, "RE", 2, 2, 1.0), nn.BatchNorm2d
    )
    dw = dil.block[1][0]
    assert (dw.stride, dw.dilation, dw.padding) == ((1, 1), (2, 2), (4, 4))


def test_fire_module_against_numpy():
    rustdl.manual_seed(0)
    fire = squeezenet.Fire(6, 3, 4, 5)
    x = np.random.default_rng(3).standard_normal((2, 6, 5, 4)).astype(np.float32)
    s = np.maximum(np_conv(x, fire.squeeze.weight.detach().numpy(), fire.squeeze.bias.detach().numpy()), 0)
    e1 = np.maximum(
        np_conv(s, fire.expand1x1.weight.detach().numpy(), fire.expand1x1.bias.detach().numpy()), 0
    )
    e3 = np.maximum(
        np_conv(s, fire.expand3x3.weight.detach().numpy(), fire.expand3x3.bias.detach().numpy(), padding=1), 0
    )
    assert_close(fire(rustdl.from_numpy(x)), np.concatenate([e1, e3], axis=1), rtol=1e-4, atol=1e-5)


def test_channel_shuffle_and_shufflenet_unit_against_numpy():
    x = np.arange(2 * 6 * 2 * 3, dtype=np.float32).reshape(2, 6, 2, 3)
    got = shufflenetv2.channel_shuffle(rustdl.from_numpy(x), 3).detach().numpy()
    np.testing.assert_array_equal(got, x.reshape(2, 3, 2, 2, 3).transpose(0, 2, 1, 3, 4).reshape(2, 6, 2, 3))
    np.testing.assert_array_equal(got[:, :3, 0, 0], x[:, [0, 2, 4], 0, 0])

    rustdl.manual_seed(0)
    unit = randomise_bn(shufflenetv2.InvertedResidual(8, 8, 1))
    xin = np.random.default_rng(4).standard_normal((2, 8, 4, 4)).astype(np.float32)
    b = unit.branch2
    h = np.maximum(np_bn(np_conv(xin[:, 4:], b[0].weight.detach().numpy()), b[1]), 0)
    h = np_bn(np_conv(h, b[3].weight.detach().numpy(), padding=1, groups=4), b[4])
    h = np.maximum(np_bn(np_conv(h, b[5].weight.detach().numpy()), b[6]), 0)
    cat = np.concatenate([xin[:, :4], h], axis=1)
    want = cat.reshape(2, 2, 4, 4, 4).transpose(0, 2, 1, 3, 4).reshape(2, 8, 4, 4)
    assert_close(unit(rustdl.from_numpy(xin)), want, rtol=1e-4, atol=1e-5)


def test_mnasnet_block_residual_rule():
    blk = mnasnet._InvertedResidual(8, 8, 5, 1, 3)
    assert blk.apply_residual and blk.layers[3].kernel_size == (5, 5) and blk.layers[3].padding == (2, 2)
    blk.eval()
    x = rustdl.randn(1, 8, 4, 4)
    with rustdl.no_grad():
        assert_close(blk(x), (blk.layers(x) + x).detach().numpy(), rtol=1e-6, atol=1e-6)
    assert not mnasnet._InvertedResidual(8, 16, 3, 1, 3).apply_residual
    assert not mnasnet._InvertedResidual(8, 8, 3, 2, 3).apply_residual


# ---------------------------------------------------------------------------------------------
# whole models
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SMALL))
def test_forward_shape_and_eval_determinism(name):
    rustdl.manual_seed(0)
    model = SMALL[name]().eval()
    x, _ = batch(2)
    with rustdl.no_grad():
        a, b = model(x), model(x)
    assert tuple(a.shape) == (2, 10)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert np.isfinite(a.detach().numpy()).all()


@pytest.mark.parametrize("name", list(SMALL))
def test_training_steps_lower_the_loss(name):
    # 8 images of 48×48: the last BatchNorm layers see 2×2 maps (batch statistics of 32 values)
    rustdl.manual_seed(0)
    model = small(name).train()
    x, y = batch(8, 48)
    opt = rustdl.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    # SqueezeNet's classifier (a ReLU'd 1×1 conv, then pooling) starts slowest: 12 steps
    for _ in range(12 if name.startswith("squeezenet") else 8):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1", "mnasnet0_5"])
def test_training_with_default_dropout_backpropagates(name):
    rustdl.manual_seed(0)
    model = SMALL[name]().train()  # torchvision's dropout (in place in V3 and MNASNet)
    x, y = batch(2)
    F.cross_entropy(model(x), y).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and np.isfinite(g.detach().numpy()).all() for g in grads)
    assert any(np.abs(g.detach().numpy()).max() > 0 for g in grads)


@pytest.mark.parametrize("name", list(SMALL))
def test_state_dict_round_trip(name, tmp_path):
    rustdl.manual_seed(0)
    model = small(name).train()
    x, _ = batch(2)
    model(x)  # move the BatchNorm running statistics away from their defaults
    model.eval()
    rustdl.save(model.state_dict(), tmp_path / "m.pt")
    rustdl.manual_seed(1)
    other = small(name).eval()
    with rustdl.no_grad():
        assert np.abs(other(x).detach().numpy() - model(x).detach().numpy()).max() > 0
        res = other.load_state_dict(rustdl.load(tmp_path / "m.pt"))
        assert not res.missing_keys and not res.unexpected_keys
        np.testing.assert_array_equal(other(x).detach().numpy(), model(x).detach().numpy())


def test_in_channels_and_small_inputs():
    x1 = rustdl.randn(1, 1, 40, 40)
    for model in (
        mobilenetv2.mobilenet_v2(num_classes=3, width_mult=0.35, in_channels=1),
        mobilenetv3.mobilenet_v3_small(num_classes=3, in_channels=1),
        squeezenet.squeezenet1_0(num_classes=3, in_channels=1),
        shufflenetv2.shufflenet_v2_x0_5(num_classes=3, in_channels=1),
        mnasnet.mnasnet0_5(num_classes=3, in_channels=1),
    ):
        with rustdl.no_grad():
            assert tuple(model.eval()(x1).shape) == (1, 3)
    # SqueezeNet's smallest inputs (as torchvision): 21×21 for 1.0, 17×17 for 1.1
    with rustdl.no_grad():
        assert tuple(squeezenet.squeezenet1_0(num_classes=3).eval()(rustdl.randn(1, 3, 21, 21)).shape) == (
            1,
            3,
        )
        assert tuple(squeezenet.squeezenet1_1(num_classes=3).eval()(rustdl.randn(1, 3, 17, 17)).shape) == (
            1,
            3,
        )
        out = squeezenet.squeezenet1_1(num_classes=3).eval()(rustdl.randn(2, 3, 32, 32))
    assert (out.detach().numpy() >= 0).all()  # ReLU after the final conv


def test_mnasnet_version_1_checkpoints_rebuild_the_stem():
    m = mnasnet.mnasnet0_5()
    assert tuple(m.layers[0].weight.shape) == (16, 3, 3, 3)
    with pytest.warns(UserWarning, match="version-1"):
        m._load_from_state_dict({}, "", {"version": 1}, False, [], [], [])
    assert tuple(m.layers[0].weight.shape) == (32, 3, 3, 3)
    assert tuple(m.layers[6].weight.shape) == (16, 32, 1, 1)
    assert tuple(m.layers[8][0].layers[0].weight.shape) == (48, 16, 1, 1)
    assert n_params(m) == 2_220_824  # torchvision's converted model
    with pytest.raises(ValueError, match="version"):
        mnasnet.mnasnet0_5()._load_from_state_dict({}, "", {"version": 3}, False, [], [], [])


# ---------------------------------------------------------------------------------------------
# errors (torchvision's exception types)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        mobilenetv2.mobilenet_v2,
        mobilenetv3.mobilenet_v3_large,
        mobilenetv3.mobilenet_v3_small,
        squeezenet.squeezenet1_0,
        squeezenet.squeezenet1_1,
        shufflenetv2.shufflenet_v2_x1_0,
        mnasnet.mnasnet1_0,
    ],
)
def test_pretrained_weights_are_refused(fn):
    with pytest.raises(NotImplementedError, match="pretrained"):
        fn(weights="DEFAULT")
    with pytest.raises(NotImplementedError):
        fn(pretrained=True)
    assert n_params(fn(pretrained=False, num_classes=2)) > 0


BAD = {
    "v2 empty setting": (ValueError, lambda: mobilenetv2.MobileNetV2(inverted_residual_setting=[])),
    "v2 3-column setting": (
        ValueError,
        lambda: mobilenetv2.MobileNetV2(inverted_residual_setting=[[1, 16, 1]]),
    ),
    "v2 stride 3": (ValueError, lambda: mobilenetv2.InvertedResidual(8, 8, 3, 1)),
    "v2 unknown argument": (TypeError, lambda: mobilenetv2.mobilenet_v2(foo=1)),
    "v3 empty setting": (ValueError, lambda: mobilenetv3.MobileNetV3([], 10)),
    "v3 setting of ints": (TypeError, lambda: mobilenetv3.MobileNetV3([1, 2], 10)),
    "v3 unknown arch": (ValueError, lambda: mobilenetv3._mobilenet_v3_conf("mobilenet_v3_tiny")),
    "v3 stride 3": (
        ValueError,
        lambda: mobilenetv3.InvertedResidual(
            mobilenetv3.InvertedResidualConfig(16, 3, 16, 16, False, "RE", 3, 1, 1.0), nn.BatchNorm2d
        ),
    ),
    "squeezenet version": (ValueError, lambda: squeezenet.SqueezeNet("2_0")),
    "squeezenet unknown argument": (TypeError, lambda: squeezenet.squeezenet1_0(foo=1)),
    "shufflenet 2 repeats": (ValueError, lambda: shufflenetv2.ShuffleNetV2([4, 8], [24, 48, 96, 192, 1024])),
    "shufflenet 4 widths": (ValueError, lambda: shufflenetv2.ShuffleNetV2([4, 8, 4], [24, 48, 96, 192])),
    "shufflenet stride-1 width change": (ValueError, lambda: shufflenetv2.InvertedResidual(24, 48, 1)),
    "shufflenet stride 4": (ValueError, lambda: shufflenetv2.InvertedResidual(24, 48, 4)),
    "mnasnet alpha 0": (ValueError, lambda: mnasnet.MNASNet(0.0)),
    "mnasnet kernel 7": (ValueError, lambda: mnasnet._InvertedResidual(8, 8, 7, 1, 3)),
    "mnasnet stride 3": (ValueError, lambda: mnasnet._InvertedResidual(8, 8, 3, 3, 3)),
    "mnasnet 0 repeats": (ValueError, lambda: mnasnet._stack(8, 8, 3, 1, 3, 0, 0.1)),
    "mnasnet round-up bias 1": (ValueError, lambda: mnasnet._round_to_multiple_of(10, 8, 1.0)),
    "mnasnet unknown argument": (TypeError, lambda: mnasnet.mnasnet0_5(foo=1)),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_arguments_raise_torchvisions_exception_types(case):
    exc, fn = BAD[case]
    with pytest.raises(exc):
        fn()


def test_mobilenet_v3_ignores_unknown_keywords_as_torchvision():
    # torchvision's MobileNetV3 takes **kwargs (the builders pass width_mult etc. to it as well)
    assert n_params(mobilenetv3.mobilenet_v3_small(foo=1)) == 2_542_856
