"""rustdl.models.densenet and rustdl.models.inception against torchvision's DenseNet / Inception v3.

Parameter counts, state-dict key digests (sha256 of ``key:shape`` in order) and the few keys
and shapes below were taken once from torchvision 0.29 (torch 2.15); torch is not needed here.
Blocks are checked against numpy references; whole models for shapes, determinism, training,
save/load, initialisation and argument errors.
"""

import hashlib
import io

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn
from rustdl.models import densenet as dn
from rustdl.models import inception as inc

DENSENET_PARAMS = {
    "densenet121": 7_978_856,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
}
# (number of state-dict entries, first 16 hex digits of sha256 over "key:shape;...")
DENSENET_KEYS = {
    "densenet121": (727, "844021af13a63ae4"),
    "densenet161": (967, "51d8e6c47e2cac9e"),
    "densenet169": (1015, "784f20f76bbaceb7"),
    "densenet201": (1207, "e8371bfe769a7604"),
}
INCEPTION_PARAMS = {True: 27_161_264, False: 23_834_568}  # by aux_logits
INCEPTION_KEYS = {True: (580, "8ccb8a7bcf42cfd0"), False: (566, "e329f410377fb0ad")}


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def key_digest(model) -> tuple:
    sd = model.state_dict()
    text = ";".join(k + ":" + "x".join(str(d) for d in v.shape) for k, v in sd.items())
    return len(sd), hashlib.sha256(text.encode()).hexdigest()[:16]


def shapes(model) -> dict:
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def tiny_densenet(**kw):
    cfg = dict(growth_rate=4, block_config=(2, 2, 2, 2), num_init_features=8, bn_size=2, num_classes=3)
    return dn.DenseNet(**{**cfg, **kw})


@pytest.fixture
def no_init(monkeypatch):
    """Random initialisation skipped (weights left as allocated): keys, shapes and counts do
    not depend on it, and drawing ~30M numbers per model is most of the construction time."""
    for fn in ("kaiming_uniform_", "kaiming_normal_", "trunc_normal_", "uniform_"):
        monkeypatch.setattr(nn.init, fn, lambda tensor, *args, **kwargs: tensor)


@pytest.fixture
def inception_default(no_init):
    return inc.inception_v3()  # aux_logits=True


# ---------------------------------------------------------------------------------------------
# DenseNet
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DENSENET_PARAMS))
def test_densenet_params_and_keys_match_torchvision(name, no_init):
    model = getattr(dn, name)()
    assert n_params(model) == DENSENET_PARAMS[name]
    assert key_digest(model) == DENSENET_KEYS[name]


def test_densenet121_representative_keys_and_num_classes(no_init):
    model = dn.densenet121(num_classes=10)
    assert n_params(model) == 6_964_106  # torchvision's densenet121(num_classes=10)
    sd = shapes(model)
    assert list(sd)[:2] == ["features.conv0.weight", "features.norm0.weight"]
    assert list(sd)[-2:] == ["classifier.weight", "classifier.bias"]
    assert sd["features.conv0.weight"] == [64, 3, 7, 7]
    assert sd["features.denseblock1.denselayer1.norm1.weight"] == [64]
    assert sd["features.denseblock3.denselayer24.norm1.running_mean"] == [992]
    assert sd["features.denseblock4.denselayer16.conv2.weight"] == [32, 128, 3, 3]
    assert sd["features.transition3.conv.weight"] == [512, 1024, 1, 1]
    assert sd["features.norm5.num_batches_tracked"] == []
    assert sd["classifier.weight"] == [10, 1024]


def test_densenet_init_scheme():
    rustdl.manual_seed(0)
    model = tiny_densenet(growth_rate=16, num_init_features=32, bn_size=4, num_classes=50)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            w = m.weight.detach().numpy()
            fan_in = w[0].size
            # He normal, fan in, gain sqrt(2)
            assert abs(w.std() / np.sqrt(2.0 / fan_in) - 1) < 0.15
            assert abs(w.mean()) < 0.2 * w.std()
        elif isinstance(m, nn.BatchNorm2d):
            assert np.all(m.weight.detach().numpy() == 1) and np.all(m.bias.detach().numpy() == 0)
    assert np.all(model.classifier.bias.detach().numpy() == 0)
    # the classifier weight keeps nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w = model.classifier.weight.detach().numpy()
    bound = 1 / np.sqrt(w.shape[1])
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound


def _bn_eval(x, bn):
    g, b = bn.weight.detach().numpy(), bn.bias.detach().numpy()
    mu, var = bn.running_mean.numpy(), bn.running_var.numpy()
    g, b, mu, var = (a.reshape(1, -1, 1, 1) for a in (g, b, mu, var))
    return (x - mu) / np.sqrt(var + bn.eps) * g + b


def _randomise_bn(module):
    with rustdl.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


def test_transition_matches_numpy():
    rustdl.manual_seed(1)
    t = dn._Transition(6, 3)
    assert list(dict(t.named_children())) == ["norm", "relu", "conv", "pool"]
    _randomise_bn(t)
    t.eval()
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 8)).astype(np.float32)
    y = np.maximum(_bn_eval(x, t.norm), 0)
    y = np.einsum("nchw,oc->nohw", y, t.conv.weight.detach().numpy()[:, :, 0, 0])
    y = y.reshape(2, 3, 3, 2, 4, 2).mean(axis=(3, 5))
    assert_close(t(rustdl.from_numpy(x)), y, rtol=1e-5, atol=1e-5)


def test_dense_block_concatenates_input_and_layer_outputs():
    rustdl.manual_seed(2)
    block = dn._DenseBlock(num_layers=3, num_input_features=5, bn_size=2, growth_rate=4, drop_rate=0.0)
    _randomise_bn(block)
    block.eval()
    x = rustdl.randn(2, 5, 6, 6)
    out = block(x)
    assert out.shape == (2, 5 + 3 * 4, 6, 6)
    # the block input passes through untouched, then each layer's output in order
    assert_close(out[:, :5], x.numpy(), rtol=0, atol=0)
    l1 = block.denselayer1(x)
    l2 = block.denselayer2([x, l1])
    assert_close(out[:, 5:9], l1.detach().numpy(), rtol=0, atol=0)
    assert_close(out[:, 9:13], l2.detach().numpy(), rtol=0, atol=0)
    # layer 1 by hand: BN → ReLU → 1×1 conv → BN → ReLU → 3×3 conv (padding 1)
    layer = block.denselayer1
    h = np.maximum(_bn_eval(x.numpy(), layer.norm1), 0)
    h = np.einsum("nchw,oc->nohw", h, layer.conv1.weight.detach().numpy()[:, :, 0, 0])
    h = np.pad(np.maximum(_bn_eval(h, layer.norm2), 0), ((0, 0), (0, 0), (1, 1), (1, 1)))
    w2 = layer.conv2.weight.detach().numpy()
    ref = np.zeros((2, 4, 6, 6))
    for i in range(3):
        for j in range(3):
            ref += np.einsum("nchw,oc->nohw", h[:, :, i : i + 6, j : j + 6], w2[:, :, i, j])
    assert_close(l1, ref, rtol=1e-4, atol=1e-5)


def test_densenet_forward_shape_and_eval_determinism():
    rustdl.manual_seed(3)
    model = dn.densenet121(num_classes=7).eval()
    x = rustdl.randn(1, 3, 32, 32)
    with rustdl.no_grad():
        a = model(x)
        b = model(x)
    assert a.shape == (1, 7)
    assert np.array_equal(a.numpy(), b.numpy())
    assert np.all(np.isfinite(a.numpy()))


def test_densenet_memory_efficient_same_outputs_and_grads():
    rustdl.manual_seed(4)
    plain = tiny_densenet()
    efficient = tiny_densenet(memory_efficient=True)
    efficient.load_state_dict(plain.state_dict())
    x = rustdl.randn(2, 3, 40, 40)
    outs = []
    for model in (plain, efficient):
        model.train()
        y = model(x)
        (y * rustdl.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
        outs.append((y.detach().numpy(), {k: p.grad.numpy() for k, p in model.named_parameters()}))
    assert_close(outs[1][0], outs[0][0], rtol=1e-5, atol=1e-6)
    assert outs[0][1].keys() == outs[1][1].keys()
    for k in outs[0][1]:
        g = outs[0][1][k]
        assert_close(outs[1][1][k], g, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(g).max()))
    # both updated the running statistics (the recomputation does it once more, as in PyTorch)
    assert efficient.features.norm5.num_batches_tracked.item() >= 1


def test_densenet_drop_rate_only_in_training():
    rustdl.manual_seed(5)
    model = tiny_densenet(drop_rate=0.5)
    x = rustdl.randn(2, 3, 32, 32)
    model.train()
    rustdl.manual_seed(6)
    a = model(x).detach().numpy()
    rustdl.manual_seed(7)
    b = model(x).detach().numpy()
    assert not np.allclose(a, b)  # different dropout masks
    model.eval()
    with rustdl.no_grad():
        assert np.array_equal(model(x).numpy(), model(x).numpy())


def test_densenet_sgd_lowers_loss():
    rustdl.manual_seed(8)
    model = tiny_densenet()
    x = rustdl.randn(4, 3, 32, 32)
    target = rustdl.tensor([0, 1, 2, 1])
    opt = rustdl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_densenet_state_dict_round_trip():
    rustdl.manual_seed(9)
    a = tiny_densenet()
    _randomise_bn(a)
    buf = io.BytesIO()
    rustdl.save(a.state_dict(), buf)
    buf.seek(0)
    rustdl.manual_seed(10)
    b = tiny_densenet()
    b.load_state_dict(rustdl.load(buf))
    a.eval()
    b.eval()
    x = rustdl.randn(2, 3, 32, 32)
    with rustdl.no_grad():
        assert np.array_equal(a(x).numpy(), b(x).numpy())


def test_densenet_errors():
    with pytest.raises(NotImplementedError):
        dn.densenet121(weights="DEFAULT")
    with pytest.raises(NotImplementedError):
        dn.densenet169(pretrained=True)
    with pytest.raises(TypeError):
        dn.densenet121(aux_logits=True)  # not a DenseNet argument


# ---------------------------------------------------------------------------------------------
# Inception v3
# ---------------------------------------------------------------------------------------------


def test_inception_params_and_keys_match_torchvision(inception_default):
    assert n_params(inception_default) == INCEPTION_PARAMS[True]
    assert key_digest(inception_default) == INCEPTION_KEYS[True]
    plain = inc.inception_v3(aux_logits=False, init_weights=False)
    assert plain.AuxLogits is None
    assert n_params(plain) == INCEPTION_PARAMS[False]
    assert key_digest(plain) == INCEPTION_KEYS[False]
    assert n_params(inc.Inception3(num_classes=10)) == 24_371_444


def test_inception_representative_keys(inception_default):
    sd = shapes(inception_default)
    top = list(dict.fromkeys(k.split(".")[0] for k in sd))
    assert top == [
        *["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"],
        *["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d"],
        *["Mixed_6e", "AuxLogits", "Mixed_7a", "Mixed_7b", "Mixed_7c", "fc"],
    ]
    assert sd["Conv2d_1a_3x3.conv.weight"] == [32, 3, 3, 3]
    assert sd["Conv2d_1a_3x3.bn.num_batches_tracked"] == []
    assert sd["Mixed_5b.branch_pool.conv.weight"] == [32, 192, 1, 1]
    assert sd["Mixed_6b.branch7x7dbl_2.conv.weight"] == [128, 128, 7, 1]
    assert sd["Mixed_7b.branch3x3_2b.conv.weight"] == [384, 384, 3, 1]
    assert sd["AuxLogits.conv1.conv.weight"] == [768, 128, 5, 5]
    assert sd["AuxLogits.fc.weight"] == [1000, 768]
    assert sd["fc.weight"] == [1000, 2048]
    assert inception_default.Conv2d_1a_3x3.bn.eps == 0.001


def test_inception_init_scheme(monkeypatch):
    calls = {}
    real = nn.init.trunc_normal_

    def record(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, **kwargs):
        calls[id(tensor)] = (mean, std, a, b)
        return tensor

    monkeypatch.setattr(nn.init, "trunc_normal_", record)
    m = inc.inception_v3(num_classes=10)
    for name, mod in m.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            # N(0, 0.1²) cut at ±2 everywhere but AuxLogits.fc (0.001); AuxLogits.conv1's 0.01
            # tag sits on its BasicConv2d, which torchvision's init never reads
            std = 0.001 if name == "AuxLogits.fc" else 0.1
            assert calls.pop(id(mod.weight)) == (0.0, std, -2, 2), name
        elif isinstance(mod, nn.BatchNorm2d):
            assert np.all(mod.weight.detach().numpy() == 1) and np.all(mod.bias.detach().numpy() == 0)
    assert not calls  # nothing else drawn from it
    assert m.AuxLogits.conv1.stddev == 0.01 and m.AuxLogits.fc.stddev == 0.001
    # no init at all with init_weights=False; the default (None) means True
    monkeypatch.setattr(nn.init, "trunc_normal_", real)
    rustdl.manual_seed(0)
    head = inc.Inception3(num_classes=10, init_weights=False).fc.weight.detach().numpy()
    assert np.abs(head).max() <= 1 / np.sqrt(2048)  # nn.Linear's default U(±1/sqrt(fan_in))


def test_inception_eval_forward_shape_and_determinism():
    rustdl.manual_seed(11)
    model = inc.inception_v3(num_classes=10, init_weights=False).eval()
    x = rustdl.randn(2, 3, 75, 75)  # the smallest input torchvision accepts
    with rustdl.no_grad():
        a = model(x)
        b = model(x)
    assert isinstance(a, rustdl.Tensor) and a.shape == (2, 10)  # a plain tensor in eval mode
    assert np.array_equal(a.numpy(), b.numpy())
    assert np.all(np.isfinite(a.numpy()))


def test_inception_train_mode_outputs():
    rustdl.manual_seed(12)
    model = inc.inception_v3(num_classes=4, init_weights=False, dropout=0.0).train()
    with rustdl.no_grad():
        out = model(rustdl.randn(2, 3, 299, 299))  # the auxiliary head needs the full size
    assert isinstance(out, inc.InceptionOutputs)
    assert out.logits.shape == (2, 4) and out.aux_logits.shape == (2, 4)
    model.aux_logits = False  # torchvision's way of silencing the head after loading
    model.AuxLogits = None
    with rustdl.no_grad():
        assert isinstance(model(rustdl.randn(2, 3, 80, 80)), rustdl.Tensor)


def test_inception_aux_matches_numpy():
    rustdl.manual_seed(13)
    aux = inc.InceptionAux(16, 5)
    _randomise_bn(aux)
    aux.eval()
    x = np.random.default_rng(1).standard_normal((2, 16, 17, 17)).astype(np.float32)
    # 5×5 average pool, stride 3: 17×17 → 5×5
    pooled = np.stack(
        [
            np.stack([x[:, :, 3 * i : 3 * i + 5, 3 * j : 3 * j + 5].mean(axis=(2, 3)) for j in range(5)], -1)
            for i in range(5)
        ],
        -2,
    )
    h = np.einsum("nchw,oc->nohw", pooled, aux.conv0.conv.weight.detach().numpy()[:, :, 0, 0])
    h = np.maximum(_bn_eval(h, aux.conv0.bn), 0)
    h = np.einsum("nchw,ochw->no", h, aux.conv1.conv.weight.detach().numpy())[:, :, None, None]
    h = np.maximum(_bn_eval(h, aux.conv1.bn), 0)[:, :, 0, 0]
    ref = h @ aux.fc.weight.detach().numpy().T + aux.fc.bias.detach().numpy()
    assert_close(aux(rustdl.from_numpy(x)), ref, rtol=1e-4, atol=1e-4)


def test_inception_blocks_output_channels():
    rustdl.manual_seed(14)
    x35 = rustdl.randn(1, 8, 9, 9)
    with rustdl.no_grad():
        assert inc.InceptionA(8, pool_features=5).eval()(x35).shape == (1, 64 + 64 + 96 + 5, 9, 9)
        assert inc.InceptionB(8).eval()(x35).shape == (1, 384 + 96 + 8, 4, 4)
        assert inc.InceptionC(8, channels_7x7=4).eval()(x35).shape == (1, 768, 9, 9)
        assert inc.InceptionD(8).eval()(x35).shape == (1, 320 + 192 + 8, 4, 4)
        assert inc.InceptionE(8).eval()(x35).shape == (1, 2048, 9, 9)


def test_inception_transform_input():
    rustdl.manual_seed(15)
    plain = inc.inception_v3(num_classes=3, aux_logits=False, init_weights=False).eval()
    tf = inc.inception_v3(num_classes=3, aux_logits=False, init_weights=False, transform_input=True).eval()
    tf.load_state_dict(plain.state_dict())
    x = np.random.default_rng(2).standard_normal((1, 3, 75, 75)).astype(np.float32)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    s = (slice(None), None, None)
    x_manual = ((x * std[s] + mean[s]) - 0.5) / 0.5  # undo ImageNet normalisation, map to [-1, 1]
    with rustdl.no_grad():
        a = tf(rustdl.from_numpy(x))
        b = plain(rustdl.from_numpy(x_manual.astype(np.float32)))
    assert_close(a, b.numpy(), rtol=1e-4, atol=1e-4)


def test_inception_sgd_lowers_loss():
    rustdl.manual_seed(16)
    model = inc.inception_v3(num_classes=3, aux_logits=False, init_weights=False, dropout=0.0)
    x = rustdl.randn(2, 3, 75, 75)
    target = rustdl.tensor([0, 2])
    # training mode: every parameter gets a finite, non-zero gradient
    nn.functional.cross_entropy(model(x), target).backward()
    for name, p in model.named_parameters():
        g = p.grad.numpy()
        assert np.all(np.isfinite(g)) and np.any(g != 0), name
    # steps with frozen BatchNorm statistics (batch statistics of two 1×1 maps are too noisy)
    model.eval()
    opt = rustdl.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.85 * losses[0]


def test_inception_state_dict_round_trip():
    rustdl.manual_seed(17)
    a = inc.inception_v3(num_classes=3, aux_logits=False, init_weights=False)
    _randomise_bn(a)
    buf = io.BytesIO()
    rustdl.save(a.state_dict(), buf)
    buf.seek(0)
    b = inc.inception_v3(num_classes=3, aux_logits=False, init_weights=False)
    b.load_state_dict(rustdl.load(buf))
    a.eval()
    b.eval()
    x = rustdl.randn(1, 3, 75, 75)
    with rustdl.no_grad():
        assert np.array_equal(a(x).numpy(), b(x).numpy())


def test_inception_errors():
    with pytest.raises(NotImplementedError):
        inc.inception_v3(weights="DEFAULT")
    with pytest.raises(NotImplementedError):
        inc.inception_v3(pretrained=True)
    with pytest.raises(ValueError, match="inception_blocks"):
        inc.Inception3(inception_blocks=[inc.BasicConv2d] * 6, init_weights=False)
    with pytest.raises(TypeError):
        inc.inception_v3(growth_rate=32)  # not an Inception3 argument
