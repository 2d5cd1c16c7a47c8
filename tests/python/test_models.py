"""rustdl.models: torchvision's names, state dict keys/shapes and parameter counts; shapes,
backward, GPU, and loading torchvision-keyed safetensors.

The reference key lists, shapes and parameter counts in data/torchvision_models.json were
extracted once from torchvision 0.29.2 (torch 2.15); torch is not needed to run these tests.
"""

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import rustdl
import rustdl.models as models
from conftest import assert_close
from rustdl import nn

TV = json.loads((Path(__file__).parent / "data" / "torchvision_models.json").read_text())

# Parameter counts as torchvision documents them (and as its models count them, see TV).
STATED = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "googlenet": 6_624_904,  # aux_logits=False
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
}
# Skipping torchvision's (slow, 100M-draw) re-initialisation where the model offers it.
FAST = {"init_weights": False}
BUILD_KW = {name: FAST for name in STATED if name.startswith(("vgg", "googlenet"))}


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def keys_shapes(model) -> list:
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def build(name, **kw):
    return getattr(models, name)(**{**BUILD_KW.get(name, {}), **kw})


# ---------------------------------------------------------------------------------------------
# torchvision equivalence: keys, shapes, parameter counts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STATED))
def test_state_dict_and_params_match_torchvision(name):
    model = build(name)
    assert TV[name]["params"] == STATED[name]
    assert n_params(model) == STATED[name]
    # same keys, same order, same shapes (buffers included: running stats, num_batches_tracked)
    assert keys_shapes(model) == TV[name]["state_dict"]


@pytest.mark.parametrize("name", ["alexnet", "vgg11", "googlenet", "resnet18", "resnet50"])
def test_num_classes_10_params_match_torchvision(name):
    model = build(name, num_classes=10)
    assert n_params(model) == TV[name + "_nc10"]["params"]
    sd = dict(keys_shapes(model))
    last_w, last_b = TV[name]["state_dict"][-2:]
    assert sd[last_w[0]] == [10, last_w[1][1]]
    assert sd[last_b[0]] == [10]


def test_num_classes_10_params_vgg_family_by_head():
    # Only the last Linear depends on num_classes: 4096·(1000 − 10) + (1000 − 10) fewer parameters.
    for name in ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn"):
        assert TV[name + "_nc10"]["params"] == STATED[name] - 4097 * 990


def test_googlenet_aux_logits_keys_match_torchvision():
    model = models.googlenet(aux_logits=True, init_weights=False)
    assert n_params(model) == TV["googlenet_aux"]["params"] == 13_004_888
    aux = [kv for kv in keys_shapes(model) if kv[0].startswith("aux")]
    assert aux == TV["googlenet_aux"]["aux_keys"]
    rest = [kv for kv in keys_shapes(model) if not kv[0].startswith("aux")]
    assert rest == TV["googlenet"]["state_dict"]


def test_names_exported():
    for name in [
        "LeNet5",
        "AlexNet",
        "VGG",
        "GoogLeNet",
        "Inception",
        "InceptionAux",
        "BasicConv2d",
        "ResNet",
        "BasicBlock",
        "Bottleneck",
        "SEBlock",
        "SqueezeExcitation",
        "mlp",
        *STATED,
        "se_resnet18",
    ]:
        assert hasattr(models, name), name
        assert name in models.__all__
    assert rustdl.models is models


# ---------------------------------------------------------------------------------------------
# documented counts of the models torchvision lacks, computed by formula
# ---------------------------------------------------------------------------------------------


def conv_p(cin, cout, k, bias=False):
    return cin * cout * k * k + (cout if bias else 0)


def bn_p(c):
    return 2 * c


def resnet18_params(num_classes=1000, se_reduction=None):
    total = conv_p(3, 64, 7) + bn_p(64)
    cin = 64
    for c in (64, 128, 256, 512):
        for i in range(2):
            total += conv_p(cin, c, 3) + bn_p(c) + conv_p(c, c, 3) + bn_p(c)
            if i == 0 and cin != c:
                total += conv_p(cin, c, 1) + bn_p(c)
            if se_reduction:
                s = c // se_reduction
                total += conv_p(c, s, 1, bias=True) + conv_p(s, c, 1, bias=True)
            cin = c
    return total + 512 * num_classes + num_classes


def test_se_resnet18_param_count_by_formula():
    assert resnet18_params() == 11_689_512  # the formula reproduces torchvision's resnet18
    documented = 11_778_592
    assert resnet18_params(se_reduction=16) == documented
    assert n_params(models.se_resnet18()) == documented
    # keys: resnet18's, plus se.fc{1,2} in every block
    keys = list(models.se_resnet18().state_dict())
    plain = [k for k in keys if ".se." not in k]
    assert plain == [k for k, _ in TV["resnet18"]["state_dict"]]
    assert sum(".se." in k for k in keys) == 8 * 4


def test_lenet5_param_count_by_formula():
    documented = 61_706
    formula = (
        conv_p(1, 6, 5, bias=True)
        + conv_p(6, 16, 5, bias=True)
        + (16 * 5 * 5 * 120 + 120)
        + (120 * 84 + 84)
        + (84 * 10 + 10)
    )
    assert formula == documented
    assert n_params(models.LeNet5()) == documented
    assert n_params(models.LeNet5(small_input=True)) == documented
    assert n_params(models.LeNet5(num_classes=5, in_channels=3)) == documented + 2 * 6 * 25 - 5 * 85


# ---------------------------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["alexnet", "vgg11_bn", "googlenet", "resnet18", "resnet50"])
def test_default_input_224(name):
    model = build(name).eval()
    with rustdl.no_grad():
        y = model(rustdl.randn(1, 3, 224, 224))
    assert y.shape == (1, 1000)
    assert np.isfinite(y.numpy()).all()


def test_lenet5_default_input_32():
    assert models.LeNet5()(rustdl.randn(2, 1, 32, 32)).shape == (2, 10)
    assert models.lenet5(small_input=True)(rustdl.randn(2, 1, 28, 28)).shape == (2, 10)


SMALL = [
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg16_bn",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "se_resnet18",
]


@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("name", SMALL)
def test_small_input_shapes(name, size):
    model = getattr(models, name)(num_classes=10, in_channels=1, small_input=True).eval()
    with rustdl.no_grad():
        y = model(rustdl.randn(2, 1, size, size))
    assert y.shape == (2, 10)


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "alexnet", "vgg11"])
def test_small_input_keeps_keys(name):
    # small_input changes some shapes but never the key names
    big = [k for k, _ in keys_shapes(build(name, num_classes=10))]
    small = [k for k, _ in keys_shapes(build(name, num_classes=10, small_input=True))]
    assert big == small


def test_resnet_small_stem():
    m = models.resnet18(num_classes=10, small_input=True)
    assert m.conv1.weight.shape == (64, 3, 3, 3)
    assert m.conv1.stride == (1, 1)
    assert isinstance(m.maxpool, nn.Identity)


def test_googlenet_aux_outputs_in_training_only():
    m = models.googlenet(num_classes=10, aux_logits=True, small_input=True)
    out = m(rustdl.randn(2, 3, 32, 32))
    assert isinstance(out, models.GoogLeNetOutputs)
    assert [t.shape for t in out] == [(2, 10)] * 3
    m.eval()
    assert m(rustdl.randn(2, 3, 32, 32)).shape == (2, 10)


def test_inception_block_channels():
    blk = models.Inception(192, 64, 96, 128, 16, 32, 32)
    assert blk(rustdl.randn(1, 192, 7, 7)).shape == (1, 256, 7, 7)


def test_se_block():
    se = models.SEBlock(64, reduction=16)
    assert se.fc1.weight.shape == (4, 64, 1, 1)
    x = rustdl.randn(2, 64, 5, 5)
    with rustdl.no_grad():
        y = se(x)
    assert y.shape == x.shape
    # the gate is in (0, 1) per (sample, channel): y / x is constant over H×W
    ratio = y.numpy() / x.numpy()
    assert np.allclose(ratio, ratio[:, :, :1, :1], atol=1e-5)
    assert ((ratio > 0) & (ratio < 1)).all()


def test_mlp():
    m = models.mlp(20, [32, 16], 3, dropout=0.1, activation=nn.Tanh)
    kinds = [type(c).__name__ for c in m]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert m(rustdl.randn(5, 20)).shape == (5, 3)
    plain = models.mlp(4, [], 2)
    assert [type(c).__name__ for c in plain] == ["Linear"]
    assert [type(c).__name__ for c in models.mlp(4, [8], 2)] == ["Linear", "ReLU", "Linear"]
    assert n_params(models.mlp(4, [8], 2)) == 4 * 8 + 8 + 8 * 2 + 2
    with pytest.raises(ValueError):
        models.mlp(4, [8], 2, dropout=1.5)


# ---------------------------------------------------------------------------------------------
# training: forward + backward
# ---------------------------------------------------------------------------------------------


def first_conv_weight(model):
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d)).weight


@pytest.mark.parametrize("name", ["lenet5", *SMALL[:2], "googlenet", "resnet18", "resnet50", "se_resnet18"])
def test_backward_small_cpu(name):
    in_ch = 1
    model = getattr(models, name)(num_classes=10, in_channels=in_ch, small_input=True)
    x = rustdl.randn(2, in_ch, 28, 28)
    y = model(x)
    loss = nn.CrossEntropyLoss()(y, rustdl.tensor([1, 7]))
    loss.backward()
    g = first_conv_weight(model).grad
    assert g is not None
    g = g.numpy()
    assert np.isfinite(g).all() and np.abs(g).sum() > 0
    assert all(p.grad is not None for p in model.parameters())


def _gpu_matches_cpu(model, x, atol=1e-4):
    ref = model(x)
    (ref * ref).sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    model.to("gpu")
    out = model(x.to("gpu"))
    (out * out).sum().backward()
    assert_close(out, ref.detach().numpy(), rtol=1e-4, atol=atol)
    for p, g in zip(model.parameters(), grads):
        assert p.grad.device.type == "gpu"
        assert_close(p.grad, g, rtol=1e-3, atol=atol)


def test_gpu_lenet5(gpu):
    _gpu_matches_cpu(models.LeNet5(small_input=True), rustdl.randn(2, 1, 28, 28))


def test_gpu_blocks(gpu):
    # tiny versions of each building block (full models are too slow on lavapipe)
    _gpu_matches_cpu(models.Inception(8, 4, 4, 4, 2, 4, 4), rustdl.randn(2, 8, 5, 5))
    down = nn.Sequential(models.resnet.conv1x1(8, 16, 2), nn.BatchNorm2d(16))
    _gpu_matches_cpu(models.SEBasicBlock(8, 16, stride=2, downsample=down), rustdl.randn(2, 8, 6, 6))
    down = nn.Sequential(models.resnet.conv1x1(8, 16), nn.BatchNorm2d(16))
    _gpu_matches_cpu(models.Bottleneck(8, 4, downsample=down), rustdl.randn(2, 8, 4, 4))


def test_gpu_small_resnet(gpu):
    model = models.ResNet(models.BasicBlock, [1, 1, 1, 1], num_classes=3, in_channels=1, small_input=True)
    model.to("gpu")
    y = model(rustdl.randn(2, 1, 8, 8, device="gpu"))
    y.sum().backward()
    g = model.conv1.weight.grad
    assert g.device.type == "gpu"
    assert np.isfinite(g.cpu().numpy()).all()


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    model = models.se_resnet18(num_classes=10, small_input=True)
    model.train()
    model(rustdl.randn(4, 3, 32, 32))  # non-trivial running stats
    model.eval()
    x = rustdl.randn(2, 3, 32, 32)
    with rustdl.no_grad():
        expected = model(x).numpy()
    rustdl.save(model.state_dict(), tmp_path / "m.safetensors")
    rustdl.manual_seed(123)
    fresh = models.se_resnet18(num_classes=10, small_input=True).eval()
    res = fresh.load_state_dict(rustdl.load(tmp_path / "m.safetensors"))
    assert not res.missing_keys and not res.unexpected_keys
    with rustdl.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), expected)


def write_plain_safetensors(path, arrays: dict) -> None:
    """A safetensors file as ``safetensors.torch.save_file`` writes it (no rustdl metadata)."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for k, a in arrays.items():
        a = np.asarray(a)  # (not ascontiguousarray: it makes 0-d arrays 1-d)
        dt = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}[a.dtype]
        header[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def test_load_torchvision_keyed_safetensors(tmp_path):
    # A file with exactly torchvision resnet18's keys, shapes and dtypes loads strictly.
    rng = np.random.default_rng(0)
    arrays = {}
    for k, shape in TV["resnet18"]["state_dict"]:
        if k.endswith("num_batches_tracked"):
            arrays[k] = np.array(7, dtype=np.int64)
        elif k.endswith("running_var"):
            arrays[k] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            arrays[k] = (rng.standard_normal(shape) * 0.05).astype(np.float32)
    path = tmp_path / "resnet18_torchvision.safetensors"
    write_plain_safetensors(path, arrays)
    model = models.resnet18().eval()
    res = model.load_state_dict(rustdl.load(path))
    assert not res.missing_keys and not res.unexpected_keys
    sd = model.state_dict()
    for k in ("conv1.weight", "layer3.0.downsample.1.running_var", "fc.bias"):
        np.testing.assert_array_equal(sd[k].numpy(), arrays[k])
    assert int(sd["bn1.num_batches_tracked"].item()) == 7
    x = rustdl.randn(1, 3, 64, 64)
    with rustdl.no_grad():
        y1 = model(x).numpy()
    # ... and survives a rustdl.save / rustdl.load round trip bit for bit
    rustdl.save(model.state_dict(), tmp_path / "again.safetensors")
    other = models.resnet18().eval()
    other.load_state_dict(rustdl.load(tmp_path / "again.safetensors"))
    with rustdl.no_grad():
        np.testing.assert_array_equal(other(x).numpy(), y1)
    assert math.isfinite(float(y1.sum()))


# ---------------------------------------------------------------------------------------------
# numerics: the same outputs as torchvision for the same weights
# ---------------------------------------------------------------------------------------------

OUT = json.loads((Path(__file__).parent / "data" / "torchvision_outputs.json").read_text())


def det(shape, seed):
    """Deterministic values in [-0.5, 0.5) (a multiplicative hash; no RNG, so version-proof)."""
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(seed * 40503 + 1)) % np.uint64(2**32)
    return (h.astype(np.float64) / 2**32 - 0.5).reshape(shape)


def det_state(model) -> dict:
    """The weights torchvision's outputs in data/torchvision_outputs.json were computed with."""
    out = {}
    for j, (k, v) in enumerate(model.state_dict().items()):
        shape = list(v.shape)
        u = det(shape, j)
        if k.endswith("num_batches_tracked"):
            out[k] = rustdl.tensor(0, dtype=rustdl.int64)
            continue
        if k.endswith("running_var"):
            a = 1.0 + np.abs(u)
        elif k.endswith("running_mean"):
            a = 0.2 * u
        elif len(shape) == 1 and ("bn" in k or k.endswith("weight")):
            a = 1.0 + 0.2 * u if k.endswith("weight") else 0.2 * u
        elif len(shape) == 1:
            a = 0.2 * u
        else:
            a = u * math.sqrt(12.0 / int(np.prod(shape[1:])))
        out[k] = rustdl.from_numpy(a.astype(np.float32))
    return out


def _downsample(cin, cout, stride):
    return nn.Sequential(models.resnet.conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))


NUMERIC = {
    "Inception": (lambda: models.Inception(8, 4, 4, 6, 2, 4, 4), (2, 8, 5, 5), 999),
    "BasicBlock": (lambda: models.BasicBlock(8, 16, 2, _downsample(8, 16, 2)), (2, 8, 5, 5), 999),
    "Bottleneck": (lambda: models.Bottleneck(8, 4, 1, _downsample(8, 16, 1)), (2, 8, 5, 5), 999),
    "resnet18": (lambda: models.resnet18(num_classes=10), (2, 3, 64, 64), 998),
    "googlenet": (
        lambda: models.googlenet(num_classes=10, init_weights=False, dropout=0.0),
        (2, 3, 96, 96),
        996,
    ),
    "alexnet": (lambda: models.alexnet(num_classes=10, dropout=0.0), (1, 3, 80, 80), 997),
}


@pytest.mark.parametrize("name", sorted(NUMERIC))
def test_outputs_match_torchvision(name):
    make, xshape, seed = NUMERIC[name]
    model = make()
    res = model.load_state_dict(det_state(model))
    assert not res.missing_keys and not res.unexpected_keys
    x = rustdl.from_numpy(det(xshape, seed).astype(np.float32))
    ref = OUT[name]
    with rustdl.no_grad():
        ev = model.eval()(x)
        tr = model.train()(x)  # BatchNorm on batch statistics
    assert list(ev.shape) == ref["shape"]
    # Batch statistics over few values (2×2 or 3×3 maps at batch 2) amplify float32 rounding:
    # torch's own float32 train-mode googlenet output is 1e-3 (relative) off its float64 one.
    for got, key, tol in ((ev, "eval", 2e-5), (tr, "train", 2e-3)):
        want = np.asarray(ref[key]).reshape(ref["shape"])
        assert_close(got, want, rtol=1e-4, atol=tol * np.abs(want).max())
