"""The torchvision model zoo in rustdl.models: every classification model's parameter count and
state-dict layout (keys, order, shapes) against torchvision's, one model per family computing
torchvision's outputs under deterministic weights, the shared ``torchvision.ops.misc`` blocks
against numpy, and the torchvision shim's model API (weights enums, get_model, list_models).

data/torchvision_zoo.json was extracted once from torchvision 0.29.2 / torch 2.15 by
data/make_torchvision_zoo_refs.py; torch is not needed to run these tests.
"""

import contextlib
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import rustdl
import rustdl.models as models
from conftest import assert_close
from rustdl import nn
from rustdl.models import _misc
from test_models import det, det_state

ZOO = json.loads((Path(__file__).parent / "data" / "torchvision_zoo.json").read_text())
NAMES = sorted(k for k in ZOO if not k.startswith("_"))
OUTPUTS = ZOO["_outputs"]


def digest(model) -> str:
    text = "".join(f"{k}:{','.join(map(str, v.shape))};" for k, v in model.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def no_random_init():
    """Skips the random initialisers while a model is built: the layout test reads shapes
    only, and drawing 600M normal samples for vit_h_14 or regnet_y_128gf would dominate CI."""
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(nn.init, n) for n in names}
    for n in names:
        setattr(nn.init, n, lambda t, *a, **k: t)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(nn.init, n, f)


@pytest.mark.parametrize("name", NAMES)
def test_params_and_state_dict_layout_match_torchvision(name):
    kw = {"init_weights": False} if name == "inception_v3" else {}
    with no_random_init():
        model = getattr(models, name)(**kw)
    n = sum(p.numel() for p in model.parameters())
    assert n == ZOO[name]["params"]
    assert len(model.state_dict()) == ZOO[name]["n_keys"]
    assert digest(model) == ZOO[name]["sha256"]
    del model


# Inception v3 at 75×75 ends on 1×1 maps: train-mode BatchNorm over 2 values is so ill-conditioned
# that torch's own float32 output is 0.29 (of 0.70) away from its float64 one. Eval mode only.
TRAIN_ILL_CONDITIONED = {"inception_v3"}


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_outputs_match_torchvision(name):
    ref = OUTPUTS[name]
    rustdl.manual_seed(0)
    model = getattr(models, name)(num_classes=10, **ref["kwargs"])
    assert [[k, list(v.shape)] for k, v in model.state_dict().items()] == ref["state_dict"]
    res = model.load_state_dict(det_state(model))
    assert not res.missing_keys and not res.unexpected_keys
    shape, seed = ref["input"]
    x = rustdl.from_numpy(det(shape, seed).astype(np.float32))
    with rustdl.no_grad():
        ev = model.eval()(x)
        tr = model.train()(x)  # BatchNorm on batch statistics
    assert list(ev.shape) == [shape[0], 10]
    checks = [(ev, "eval", 2e-5), (tr, "train", 2e-3)]
    if name in TRAIN_ILL_CONDITIONED:
        checks = checks[:1]
    for got, key, tol in checks:
        want = np.asarray(ref[key]).reshape(shape[0], 10)
        assert_close(got, want, rtol=1e-4, atol=tol * np.abs(want).max())


# ---------------------------------------------------------------------------------------------
# torchvision.ops.misc blocks
# ---------------------------------------------------------------------------------------------


def test_conv_norm_activation_layout_and_padding():
    m = _misc.Conv2dNormActivation(3, 8, kernel_size=5, stride=2, dilation=2)
    assert [k for k, _ in m.state_dict().items()] == [
        "0.weight",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    assert m[0].padding == (4, 4) and m[0].bias is None and m.out_channels == 8
    assert m(rustdl.randn(2, 3, 9, 9)).shape == (2, 8, 5, 5)
    bare = _misc.Conv2dNormActivation(3, 4, 3, norm_layer=None, activation_layer=None)
    assert len(bare) == 1 and bare[0].bias is not None
    k3 = _misc.Conv3dNormActivation(2, 4, kernel_size=(3, 1, 5))
    assert k3[0].padding == (1, 0, 2) and isinstance(k3[1], nn.BatchNorm3d)
    assert isinstance(_misc.Conv2dNormActivation(3, 4, activation_layer=nn.Hardswish)[2], nn.Hardswish)


def test_conv_norm_activation_matches_its_parts():
    rustdl.manual_seed(1)
    m = _misc.Conv2dNormActivation(3, 4, 3, groups=1, activation_layer=nn.ReLU6).eval()
    x = rustdl.randn(2, 3, 6, 6)
    conv, bn = m[0], m[1]
    bn.running_mean.copy_(rustdl.tensor([0.1, -0.2, 0.3, 0.0]))
    bn.running_var.copy_(rustdl.tensor([1.5, 0.5, 2.0, 1.0]))
    ref = conv(x).detach().numpy()
    ref = (ref - bn.running_mean.numpy()[:, None, None]) / np.sqrt(
        bn.running_var.numpy()[:, None, None] + 1e-5
    )
    ref = ref * bn.weight.detach().numpy()[:, None, None] + bn.bias.detach().numpy()[:, None, None]
    assert_close(m(x).detach(), np.clip(ref, 0.0, 6.0), rtol=1e-5, atol=1e-5)


def test_squeeze_excitation_against_numpy():
    rustdl.manual_seed(2)
    se = _misc.SqueezeExcitation(6, 3, activation=nn.ReLU, scale_activation=nn.Hardsigmoid)
    x = rustdl.randn(2, 6, 4, 5)
    w1, b1 = se.fc1.weight.detach().numpy()[:, :, 0, 0], se.fc1.bias.detach().numpy()
    w2, b2 = se.fc2.weight.detach().numpy()[:, :, 0, 0], se.fc2.bias.detach().numpy()
    xn = x.numpy()
    s = xn.mean(axis=(2, 3))
    s = np.maximum(s @ w1.T + b1, 0) @ w2.T + b2
    s = np.clip(s / 6 + 0.5, 0, 1)
    assert_close(se(x).detach(), xn * s[:, :, None, None], rtol=1e-5, atol=1e-6)


def test_mlp_layout():
    m = _misc.MLP(4, [8, 8, 3], norm_layer=nn.LayerNorm, activation_layer=nn.GELU, dropout=0.1)
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Linear", "LayerNorm", "GELU", "Dropout"] * 2 + ["Linear", "Dropout"]
    assert m(rustdl.randn(5, 4)).shape == (5, 3)
    with pytest.raises(ValueError):
        _misc.MLP(4, [])


def test_frozen_batchnorm_matches_eval_batchnorm_and_loads_its_checkpoint():
    rustdl.manual_seed(3)
    bn = nn.BatchNorm2d(5)
    bn.train()(rustdl.randn(8, 5, 3, 3) * 2 + 1)  # non-trivial running statistics
    with rustdl.no_grad():
        bn.weight.copy_(rustdl.randn(5))
        bn.bias.copy_(rustdl.randn(5))
    frozen = _misc.FrozenBatchNorm2d(5)
    frozen.load_state_dict(bn.state_dict())  # num_batches_tracked is dropped
    assert sorted(k for k, _ in frozen.named_buffers()) == ["bias", "running_mean", "running_var", "weight"]
    assert list(frozen.parameters()) == []
    x = rustdl.randn(2, 5, 4, 4)
    assert_close(frozen.train()(x), bn.eval()(x).detach(), rtol=1e-5, atol=1e-5)


def test_stochastic_depth_statistics_and_errors():
    rustdl.manual_seed(4)
    x = rustdl.ones(4000, 3)
    y = _misc.stochastic_depth(x, 0.25, "row")
    rows = y.numpy()
    kept = rows[:, 0] != 0
    assert np.all(rows[kept] == pytest.approx(1 / 0.75))
    assert np.all(rows == rows[:, :1])  # whole rows
    assert abs(kept.mean() - 0.75) < 0.03
    batch = _misc.stochastic_depth(x, 0.5, "batch").numpy()
    assert np.all(batch == 0) or np.all(batch == 2.0)
    assert _misc.stochastic_depth(x, 0.9, "row", training=False) is x
    m = _misc.StochasticDepth(0.3, "row").eval()
    assert m(x) is x
    with pytest.raises(ValueError):
        _misc.stochastic_depth(x, 1.5, "row")
    with pytest.raises(ValueError):
        _misc.stochastic_depth(x, 0.5, "col")


def test_make_divisible_and_permute():
    assert [_misc.make_divisible(v, 8) for v in (32 * 0.75, 3, 91.0, 100.0, 12.0)] == [24, 8, 88, 104, 16]
    assert _misc.make_divisible(10, 8, min_value=16) == 16
    p = _misc.Permute([0, 2, 3, 1])
    assert p(rustdl.zeros(2, 3, 4, 5)).shape == (2, 4, 5, 3)


# ---------------------------------------------------------------------------------------------
# the torchvision shim's model API
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def tv():
    from rustdl.torchcompat.torchvision import models as tvm

    return tvm


def test_weights_refused_with_instructions(tv, tmp_path, monkeypatch):
    # torchvision's builders fetch published weights through the hub (cache, else download);
    # here the download fails, and that error reaches the caller
    import rustdl.hub

    def no_network(url, dst, *args, **kwargs):
        raise OSError(f"no network for {url}")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(rustdl.hub, "download_url_to_file", no_network)
    for w in (tv.ResNet18_Weights.DEFAULT, "DEFAULT", "IMAGENET1K_V1"):
        with pytest.raises(OSError, match="resnet18-f37072fd.pth"):
            tv.resnet18(weights=w)
    # rustdl's own model builders have no weights to offer
    with pytest.raises(NotImplementedError):
        models.mobilenet_v2(weights="DEFAULT")
    with pytest.raises(NotImplementedError):
        models.vgg19(pretrained=True)
    assert tv.resnet18(weights=None, num_classes=3).fc.out_features == 3


def test_weights_enums_names_and_transforms(tv):
    assert tv.ResNet18_Weights.DEFAULT is tv.ResNet18_Weights.IMAGENET1K_V1
    for name in (
        "MobileNet_V3_Large_Weights",
        "EfficientNet_V2_S_Weights",
        "ConvNeXt_Tiny_Weights",
        "ViT_B_16_Weights",
        "RegNet_Y_400MF_Weights",
        "ResNeXt50_32X4D_Weights",
        "Wide_ResNet50_2_Weights",
        "SqueezeNet1_1_Weights",
        "DenseNet121_Weights",
        "Inception_V3_Weights",
    ):
        assert getattr(tv, name).__name__ == name
    assert tv.get_model_weights("resnet50") is tv.ResNet50_Weights
    assert tv.get_weight("ResNet50_Weights.IMAGENET1K_V1") is tv.ResNet50_Weights.IMAGENET1K_V1
    pre = tv.ResNet18_Weights.DEFAULT.transforms()
    img = rustdl.rand(3, 300, 400)
    out = pre(img)
    assert out.shape == (3, 224, 224)
    # normalised with ImageNet's mean/std: a constant image maps to (c - mean) / std
    flat = pre(rustdl.full((3, 256, 256), 0.5))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    assert_close(flat[:, 100, 100], (0.5 - mean) / std, rtol=1e-5, atol=1e-5)
    assert tv.Inception_V3_Weights.DEFAULT.transforms().crop_size == [299]


def test_get_model_and_list_models(tv):
    m = tv.get_model("mobilenet_v3_small", weights=None, num_classes=7)
    assert m.classifier[-1].out_features == 7
    names = tv.list_models()
    assert names == sorted(names) and {"resnet18", "vit_b_16", "efficientnet_b0", "regnet_x_400mf"} <= set(
        names
    )
    assert tv.list_models(include="mobilenet*") == [
        "mobilenet_v2",
        "mobilenet_v3_large",
        "mobilenet_v3_small",
    ]
    with pytest.raises(ValueError):
        tv.get_model("not_a_model")
    with pytest.raises(AttributeError, match="not supported"):
        tv.fasterrcnn_resnet50_fpn  # noqa: B018


def test_googlenet_defaults_to_aux_logits_as_torchvision(tv):
    g = tv.googlenet(num_classes=5, init_weights=False)
    out = g.train()(rustdl.randn(2, 3, 64, 64))
    assert type(out).__name__ == "GoogLeNetOutputs" and out.logits.shape == (2, 5)
    assert g.eval()(rustdl.randn(1, 3, 64, 64)).shape == (1, 5)


def test_torchvision_submodules_import_under_torchcompat():
    code = (
        "from torchvision.models.resnet import BasicBlock, resnet18\n"
        "from torchvision.models.mobilenetv2 import MobileNetV2\n"
        "from torchvision.ops.misc import Conv2dNormActivation, SqueezeExcitation\n"
        "from torchvision.ops import StochasticDepth, MLP\n"
        "import torchvision\n"
        "m = torchvision.models.resnet18(num_classes=4)\n"
        "assert isinstance(m.layer1[0], BasicBlock)\n"
        "assert Conv2dNormActivation(3, 4)[0].out_channels == 4\n"
        "print('ok')\n"
    )
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-c", f"import rustdl.torchcompat as c; c.install(); exec({code!r})"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("ok")


def test_resnext_and_wide_resnet_arguments():
    m = models.resnext50_32x4d(num_classes=3)
    conv = m.layer1[0].conv2
    assert conv.groups == 32 and conv.in_channels == 128
    w = models.wide_resnet50_2(num_classes=3)
    assert w.layer1[0].conv2.in_channels == 128 and w.layer1[0].conv2.groups == 1
    with pytest.raises(ValueError, match="groups"):
        models.resnext50_32x4d(groups=4)
    x = rustdl.randn(2, 3, 32, 32)
    loss = nn.functional.cross_entropy(m(x), rustdl.tensor([0, 2]))
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
