"""nn.utils.parametrize / parametrizations.orthogonal and nn.utils.prune, checked against numpy
and closed-form math (masks and counts on fixed weights, state-dict keys, gradients)."""

import json

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
from conftest import compat_report, run_compat_file
from rustdl.nn.utils import parametrizations, parametrize, prune

W = np.array([[0.5, -0.1, 2.0, -3.0], [0.05, 1.5, -0.7, 0.2], [-2.5, 0.3, 0.0, 1.1]], dtype=np.float32)


def _np(t):
    return t.detach().cpu().numpy()


def _linear(w=W, bias=True):
    layer = nn.Linear(w.shape[1], w.shape[0], bias=bias)
    with rustdl.no_grad():
        layer.weight.copy_(rustdl.tensor(w))
        if bias:
            layer.bias.copy_(rustdl.tensor(np.arange(w.shape[0], dtype=np.float32) * 0.1))
    return layer


def _smallest_mask(scores, k):
    """Mask zeroing the k smallest scores (ties: lower flat index first)."""
    mask = np.ones(scores.size, dtype=np.float32)
    mask[np.argsort(scores.reshape(-1), kind="stable")[:k]] = 0
    return mask.reshape(scores.shape)


# ---------------------------------------------------------------- parametrize


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)


class Scale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return x * self.c

    def right_inverse(self, x):
        return x / self.c


class Split(nn.Module):
    def forward(self, a, b):
        return a + b

    def right_inverse(self, x):
        return x * 0.25, x * 0.75


def test_symmetric_parametrization_survives_sgd_steps():
    w = np.arange(9, dtype=np.float32).reshape(3, 3) / 10
    layer = _linear(w)
    original = layer.weight
    parametrize.register_parametrization(layer, "weight", Symmetric())
    assert type(layer).__name__ == "ParametrizedLinear"
    assert parametrize.type_before_parametrizations(layer) is nn.Linear
    assert isinstance(layer, nn.Linear)
    assert sorted(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    # the Parameter object is kept as `original` (an optimizer built earlier still updates it)
    assert layer.parametrizations.weight.original is original
    assert isinstance(layer.parametrizations, nn.ModuleDict)
    assert isinstance(layer.parametrizations.weight, parametrize.ParametrizationList)
    np.testing.assert_allclose(_np(layer.weight), np.triu(w) + np.triu(w, 1).T)
    opt = rustdl.optim.SGD(layer.parameters(), lr=0.1)
    x = rustdl.tensor(np.random.RandomState(0).randn(5, 3).astype(np.float32))
    for _ in range(4):
        opt.zero_grad()
        layer(x).square().sum().backward()
        opt.step()
        cur = _np(layer.weight)
        np.testing.assert_allclose(cur, cur.T)
    assert not np.allclose(_np(layer.parametrizations.weight.original), w)
    # each access recomputes from `original`, with history
    assert layer.weight is not layer.weight and layer.weight.requires_grad


def test_gradient_reaches_original_through_the_parametrization():
    w = np.arange(9, dtype=np.float32).reshape(3, 3)
    layer = _linear(w, bias=False)
    parametrize.register_parametrization(layer, "weight", Symmetric())
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    layer(rustdl.tensor(x)).sum().backward()
    g_w = np.ones((1, 3)).T @ x  # d(sum xW^T)/dW
    # W = triu(X) + triu(X, 1)^T: dX = triu(gW) + triu(gW^T, 1)
    expect = np.triu(g_w) + np.triu(g_w.T, 1)
    np.testing.assert_allclose(_np(layer.parametrizations.weight.original.grad), expect)


def test_right_inverse_chaining_and_assignment():
    layer = _linear(W)
    parametrize.register_parametrization(layer, "weight", Scale(2.0))
    np.testing.assert_allclose(_np(layer.parametrizations.weight.original), W / 2)
    np.testing.assert_allclose(_np(layer.weight), W, rtol=1e-6)
    parametrize.register_parametrization(layer, "weight", Scale(3.0))
    assert len(layer.parametrizations.weight) == 2
    assert sorted(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    np.testing.assert_allclose(_np(layer.weight), 3 * W, rtol=1e-6)
    # assignment goes through the right inverses, last first
    layer.weight = rustdl.full((3, 4), 12.0)
    np.testing.assert_allclose(_np(layer.parametrizations.weight.original), np.full((3, 4), 2.0))
    np.testing.assert_allclose(_np(layer.weight), np.full((3, 4), 12.0))
    with pytest.raises(RuntimeError, match="right_inverse"):
        sym = _linear(np.eye(3, dtype=np.float32))
        parametrize.register_parametrization(sym, "weight", Symmetric())
        sym.weight = rustdl.ones(3, 3)


def test_right_inverse_returning_several_tensors():
    layer = _linear(W)
    parametrize.register_parametrization(layer, "weight", Split())
    assert sorted(layer.state_dict()) == [
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ]
    np.testing.assert_allclose(_np(layer.parametrizations.weight.original0), W * 0.25)
    np.testing.assert_allclose(_np(layer.weight), W, rtol=1e-6)
    assert sum(1 for _ in layer.parameters()) == 3
    with pytest.raises(ValueError, match="sequence of tensors"):
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(_np(layer.weight), W, rtol=1e-6)


def test_cached_computes_once():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x * 2.0

    layer = _linear(W)
    parametrize.register_parametrization(layer, "weight", Counting())
    calls.clear()
    with parametrize.cached():
        a, b = layer.weight, layer.weight
        layer(rustdl.ones(2, 4))
        assert a is b and len(calls) == 1
    c = layer.weight
    assert c is not a and len(calls) == 2


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations_both_ways(leave):
    layer = _linear(W)
    parametrize.register_parametrization(layer, "weight", Scale(2.0))
    with rustdl.no_grad():
        layer.parametrizations.weight.original.fill_(1.0)
    original = layer.parametrizations.weight.original
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=leave)
    assert type(layer) is nn.Linear and not parametrize.is_parametrized(layer)
    assert "parametrizations" not in layer._modules
    assert layer.weight is original and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(_np(layer.weight), np.full((3, 4), 2.0 if leave else 1.0))
    assert sorted(layer.state_dict()) == ["bias", "weight"]


def test_parametrize_errors_and_buffers():
    layer = _linear(W)
    assert not parametrize.is_parametrized(layer)
    with pytest.raises(ValueError, match="nope"):
        parametrize.register_parametrization(layer, "nope", Symmetric())
    with pytest.raises(ValueError, match="does not have a parametrization"):
        parametrize.remove_parametrizations(layer, "weight")

    class Shrink(nn.Module):
        def forward(self, x):
            return x[:1]

    with pytest.raises(ValueError, match="shape"):
        parametrize.register_parametrization(layer, "weight", Shrink())
    assert not parametrize.is_parametrized(layer)
    parametrize.register_parametrization(layer, "weight", Shrink(), unsafe=True)
    assert tuple(layer.weight.shape) == (1, 4)
    # a buffer can be parametrized, and stays a buffer
    bn = nn.BatchNorm1d(3)
    parametrize.register_parametrization(bn, "running_var", Scale(2.0))
    assert "parametrizations.running_var.original" in bn.state_dict()
    assert not any(p is bn.parametrizations.running_var.original for p in bn.parameters())
    np.testing.assert_allclose(_np(bn.running_var), np.ones(3))


def test_deepcopy_and_load_state_dict_of_parametrized_module():
    import copy

    layer = _linear(W)
    parametrize.register_parametrization(layer, "weight", Scale(2.0))
    twin = copy.deepcopy(layer)
    np.testing.assert_allclose(_np(twin.weight), W, rtol=1e-6)
    other = _linear(np.zeros_like(W))
    parametrize.register_parametrization(other, "weight", Scale(2.0))
    other.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(_np(other.weight), W, rtol=1e-6)


@pytest.mark.parametrize(
    "shape,kind",
    [
        ((4, 4), None),
        ((4, 4), "cayley"),
        ((4, 4), "householder"),
        ((6, 3), None),
        ((3, 6), None),
        ((5, 2), "matrix_exp"),
    ],
)
def test_orthogonal_stays_orthogonal(shape, kind):
    rs = np.random.RandomState(1)
    w = rs.randn(*shape).astype(np.float32)
    layer = _linear(w)
    parametrizations.orthogonal(layer, orthogonal_map=kind)
    q = _np(layer.weight)
    tall = q if shape[0] >= shape[1] else q.T
    # at registration: the Q of w's QR decomposition with R's diagonal positive
    src = w if shape[0] >= shape[1] else w.T
    qr_q, qr_r = np.linalg.qr(src)
    np.testing.assert_allclose(tall, qr_q * np.sign(np.diag(qr_r)), atol=1e-5)
    assert "parametrizations.weight.0.base" in layer.state_dict()
    opt = rustdl.optim.SGD(layer.parameters(), lr=0.2)
    x = rustdl.tensor(rs.randn(8, shape[1]).astype(np.float32))
    target = rustdl.tensor(rs.randn(8, shape[0]).astype(np.float32))
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = (layer(x) - target).square().mean()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    q = _np(layer.weight)
    tall = q if shape[0] >= shape[1] else q.T
    np.testing.assert_allclose(tall.T @ tall, np.eye(tall.shape[1]), atol=2e-5)
    assert not np.allclose(tall, qr_q * np.sign(np.diag(qr_r)), atol=1e-4)  # it did move
    assert losses[-1] < losses[0]


def test_orthogonal_without_trivialization_and_errors():
    w = np.random.RandomState(2).randn(5, 3).astype(np.float32)
    layer = parametrizations.orthogonal(_linear(w), use_trivialization=False)
    assert sorted(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    q = _np(layer.weight)
    qr_q, qr_r = np.linalg.qr(w)
    np.testing.assert_allclose(q, qr_q * np.sign(np.diag(qr_r)), atol=1e-5)
    with pytest.raises(ValueError, match="orthogonal_map"):
        parametrizations.orthogonal(_linear(w), orthogonal_map="nope")
    with pytest.raises(ValueError, match="matrix"):
        parametrizations.orthogonal(_linear(w), "bias")
    with pytest.raises(ValueError, match="no parameter or buffer"):
        parametrizations.orthogonal(_linear(w), "nope")
    # matrix_exp cannot be inverted without trivialization: registering keeps the weight as
    # `original`, assigning raises
    sq = parametrizations.orthogonal(_linear(np.eye(3, dtype=np.float32)), use_trivialization=False)
    np.testing.assert_allclose(_np(sq.weight).T @ _np(sq.weight), np.eye(3), atol=1e-6)
    with pytest.raises(NotImplementedError):
        sq.weight = rustdl.eye(3)


def test_weight_norm_and_spectral_norm_are_parametrizations():
    layer = parametrizations.weight_norm(_linear(W))
    assert parametrize.is_parametrized(layer, "weight")
    np.testing.assert_allclose(
        _np(layer.parametrizations.weight.original0), np.linalg.norm(W, axis=1, keepdims=True), rtol=1e-6
    )
    np.testing.assert_allclose(_np(layer.weight), W, rtol=1e-5, atol=1e-6)
    parametrize.remove_parametrizations(layer, "weight")
    np.testing.assert_allclose(_np(layer.weight), W, rtol=1e-5, atol=1e-6)
    sn = parametrizations.spectral_norm(_linear(W))
    assert type(sn).__name__ == "ParametrizedLinear"
    np.testing.assert_allclose(_np(sn.weight), W / np.linalg.svd(W)[1][0], rtol=1e-4)


# ---------------------------------------------------------------- prune


def test_l1_unstructured_mask_keys_and_forward():
    layer = _linear(W)
    orig = layer.weight
    prune.l1_unstructured(layer, "weight", amount=0.25)  # round(0.25 * 12) = 3 entries
    expect = _smallest_mask(np.abs(W), 3)
    np.testing.assert_array_equal(_np(layer.weight_mask), expect)
    # |w| smallest: 0.0 at (2, 2), 0.05 at (1, 0), 0.1 at (0, 1)
    np.testing.assert_array_equal(expect, [[1, 0, 1, 1], [0, 1, 1, 1], [1, 1, 0, 1]])
    assert list(layer.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    assert [n for n, _ in layer.named_parameters()] == ["bias", "weight_orig"]
    assert layer.weight_orig is orig and not isinstance(layer.weight, nn.Parameter)
    assert prune.is_pruned(nn.Sequential(layer))
    assert [type(h) for h in layer._forward_pre_hooks.values()] == [prune.L1Unstructured]
    x = np.array([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 0.0, 2.0]], dtype=np.float32)
    y = layer(rustdl.tensor(x))
    np.testing.assert_allclose(_np(y), x @ (W * expect).T + _np(layer.bias), rtol=1e-6)
    # the gradient reaches weight_orig only where the mask is one
    y.sum().backward()
    np.testing.assert_allclose(
        _np(layer.weight_orig.grad), np.ones((3, 1)) @ x.sum(0, keepdims=True) * expect
    )


def test_forward_pre_hook_recomputes_after_an_update():
    layer = _linear(W)
    prune.l1_unstructured(layer, "weight", amount=4)
    mask = _np(layer.weight_mask)
    with rustdl.no_grad():
        layer.weight_orig.add_(1.0)
    layer(rustdl.ones(1, 4))
    np.testing.assert_allclose(_np(layer.weight), (W + 1.0) * mask)


def test_repeated_pruning_composes_masks():
    layer = _linear(W)
    prune.l1_unstructured(layer, "weight", amount=0.25)
    first = _np(layer.weight_mask).copy()
    prune.l1_unstructured(layer, "weight", amount=2)
    # the second method sees only the 9 entries still there and prunes 2 more of them
    alive = first.reshape(-1) == 1
    scores = np.abs(W).reshape(-1)[alive]
    sub = _smallest_mask(scores, 2)
    expect = first.reshape(-1).copy()
    expect[alive] = sub
    np.testing.assert_array_equal(_np(layer.weight_mask).reshape(-1), expect)
    assert _np(layer.weight_mask).sum() == 12 - 3 - 2
    hooks = list(layer._forward_pre_hooks.values())
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer)
    assert [type(m) for m in hooks[0]] == [prune.L1Unstructured, prune.L1Unstructured]
    # then a structured method on what is left: rows by their L1 norm among live rows
    prune.ln_structured(layer, "weight", amount=1, n=1, dim=0)
    masked = W * expect.reshape(3, 4)
    drop = np.argmin(np.abs(masked).sum(1))
    expect2 = expect.reshape(3, 4).copy()
    expect2[drop] = 0
    np.testing.assert_array_equal(_np(layer.weight_mask), expect2)
    assert len(layer._forward_pre_hooks[next(iter(layer._forward_pre_hooks))]) == 3


def test_structured_pruning_masks():
    layer = _linear(W)
    prune.ln_structured(layer, "weight", amount=1, n=2, dim=0)
    norms = np.linalg.norm(W, axis=1)
    expect = np.ones_like(W)
    expect[np.argmin(norms)] = 0
    np.testing.assert_array_equal(_np(layer.weight_mask), expect)
    layer = _linear(W)
    prune.ln_structured(layer, "weight", amount=0.5, n=float("inf"), dim=1)  # 2 of 4 columns
    cols = np.abs(W).max(0)
    expect = np.ones_like(W)
    expect[:, np.argsort(cols, kind="stable")[:2]] = 0
    np.testing.assert_array_equal(_np(layer.weight_mask), expect)
    conv = nn.Conv2d(2, 4, 3)
    prune.random_structured(conv, "weight", amount=2, dim=0)
    per_channel = _np(conv.weight_mask).reshape(4, -1)
    assert sorted(per_channel.sum(1).tolist()) == [0, 0, 18, 18]
    assert set(np.unique(per_channel).tolist()) == {0.0, 1.0}


def test_random_unstructured_counts():
    conv = nn.Conv2d(3, 4, 3)
    prune.random_unstructured(conv, "weight", amount=0.3)
    mask = _np(conv.weight_mask)
    assert mask.sum() == 108 - round(0.3 * 108)
    assert set(np.unique(mask).tolist()) == {0.0, 1.0}
    prune.random_unstructured(conv, "weight", amount=10)
    assert _np(conv.weight_mask).sum() == 108 - 32 - 10
    assert ((_np(conv.weight_mask) == 1) <= (mask == 1)).all()  # pruned entries stay pruned
    np.testing.assert_allclose(_np(conv.weight), _np(conv.weight_orig) * _np(conv.weight_mask))


def test_amount_rounds_like_python_and_zero_amount():
    layer = _linear(np.arange(1, 11, dtype=np.float32).reshape(2, 5))
    prune.l1_unstructured(layer, "weight", amount=0.25)  # round(2.5) == 2
    assert _np(layer.weight_mask).sum() == 8
    layer = _linear(W)
    prune.l1_unstructured(layer, "weight", amount=0)
    np.testing.assert_array_equal(_np(layer.weight_mask), np.ones_like(W))
    layer = _linear(W)
    prune.identity(layer, "weight")
    np.testing.assert_array_equal(_np(layer.weight_mask), np.ones_like(W))


def test_global_unstructured_pools_layers():
    a = _linear(W)
    b = _linear(np.array([[0.4, -0.01], [0.02, 5.0]], dtype=np.float32))
    prune.global_unstructured([(a, "weight"), (b, "weight")], pruning_method=prune.L1Unstructured, amount=5)
    pooled = np.concatenate([np.abs(W).reshape(-1), np.abs(_np(b.weight_orig)).reshape(-1)])
    expect = _smallest_mask(pooled, 5)
    np.testing.assert_array_equal(_np(a.weight_mask).reshape(-1), expect[:12])
    np.testing.assert_array_equal(_np(b.weight_mask).reshape(-1), expect[12:])
    assert _np(a.weight_mask).sum() == 9 and _np(b.weight_mask).sum() == 2  # uneven per layer
    # again: the fraction applies to the entries still alive (11 of 16)
    prune.global_unstructured([(a, "weight"), (b, "weight")], pruning_method=prune.L1Unstructured, amount=0.2)
    total = _np(a.weight_mask).sum() + _np(b.weight_mask).sum()
    assert total == 11 - round(0.2 * 11)
    with pytest.raises(TypeError, match="unstructured"):
        prune.global_unstructured([(a, "weight")], prune.LnStructured, amount=1, n=2, dim=0)


def test_importance_scores_and_custom_mask():
    layer = _linear(W)
    scores = rustdl.arange(12.0).reshape(3, 4)
    prune.l1_unstructured(layer, "weight", amount=0.5, importance_scores=scores)
    np.testing.assert_array_equal(_np(layer.weight_mask), (np.arange(12) >= 6).reshape(3, 4))
    mask = np.array([[1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 1, 0]], dtype=np.float32)
    layer = _linear(W)
    prune.custom_from_mask(layer, "weight", rustdl.tensor(mask))
    np.testing.assert_allclose(_np(layer.weight), W * mask)
    with pytest.raises(ValueError, match="same shape"):
        prune.l1_unstructured(_linear(W), "weight", 0.5, importance_scores=rustdl.ones(2, 2))


def test_remove_makes_pruning_permanent():
    layer = _linear(W)
    orig = layer.weight
    prune.l1_unstructured(layer, "weight", amount=3)
    prune.identity(layer, "bias")
    mask = _np(layer.weight_mask)
    prune.remove(layer, "weight")
    assert layer.weight is orig and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(_np(layer.weight), W * mask)
    assert list(layer.state_dict()) == ["bias_orig", "weight", "bias_mask"]
    assert prune.is_pruned(layer)
    prune.remove(layer, "bias")
    assert list(layer.state_dict()) == ["weight", "bias"] and not prune.is_pruned(layer)
    assert not layer._forward_pre_hooks
    # the weight trains freely again
    rustdl.optim.SGD(layer.parameters(), lr=1.0)
    layer(rustdl.ones(1, 4)).sum().backward()
    assert (_np(layer.weight.grad) != 0).all()


def test_pruned_state_dict_round_trip():
    a = _linear(W)
    prune.l1_unstructured(a, "weight", amount=0.5)
    b = _linear(np.zeros_like(W))
    prune.identity(b, "weight")
    b.load_state_dict(a.state_dict())
    b(rustdl.ones(1, 4))
    np.testing.assert_allclose(_np(b.weight), _np(a.weight))


def test_prune_errors_are_typed():
    with pytest.raises(ValueError, match="range"):
        prune.l1_unstructured(_linear(W), "weight", amount=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        prune.l1_unstructured(_linear(W), "weight", amount=-1)
    with pytest.raises(ValueError, match="number of parameters"):
        prune.l1_unstructured(_linear(W), "weight", amount=13)
    with pytest.raises(TypeError, match="amount"):
        prune.random_unstructured(_linear(W), "weight", amount="half")
    with pytest.raises(AttributeError, match="nope"):
        prune.l1_unstructured(_linear(W), "nope", amount=0.5)
    with pytest.raises(ValueError, match="has to be pruned"):
        prune.remove(_linear(W), "weight")
    with pytest.raises(ValueError, match="multidimensional"):
        prune.ln_structured(_linear(W), "bias", amount=1, n=2, dim=0)
    with pytest.raises(IndexError):
        prune.ln_structured(_linear(W), "weight", amount=1, n=2, dim=2)
    bn = nn.BatchNorm1d(3)
    with pytest.raises(TypeError):
        prune.l1_unstructured(bn, "running_mean", amount=1)
    # a failed pruning leaves the module as it was
    layer = _linear(W)
    with pytest.raises(ValueError):
        prune.l1_unstructured(layer, "weight", amount=20)
    assert sorted(layer.state_dict()) == ["bias", "weight"] and not prune.is_pruned(layer)


def test_custom_pruning_method():
    class EveryOther(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            mask = default_mask.clone()
            mask.view(-1)[::2] = 0
            return mask

    layer = _linear(W)
    EveryOther.apply(layer, "weight")
    np.testing.assert_array_equal(_np(layer.weight_mask).reshape(-1), np.arange(12) % 2)
    # composed: applied to the 6 live entries, it prunes 3 of them
    EveryOther.apply(layer, "weight")
    assert _np(layer.weight_mask).sum() == 3


# ---------------------------------------------------------------- a PyTorch pruning script

PRUNING_SCRIPT = """
import json
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as prune

torch.manual_seed(0)

class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 3)
        self.fc1 = nn.Linear(3 * 3 * 3, 10)
        self.fc2 = nn.Linear(10, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc2(F.relu(self.fc1(x)))

def fill(model):
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            n = p.numel()
            p.copy_((torch.arange(n, dtype=torch.float32).reshape(p.shape) * 0.37 + i).sin() * 0.5)

model = LeNet()
fill(model)
module = model.conv1
prune.l1_unstructured(module, name="weight", amount=0.3)
prune.l1_unstructured(module, name="bias", amount=1)
names = [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers()]
for hook in module._forward_pre_hooks.values():
    if hook._tensor_name == "weight":
        break
prune.remove(module, "weight")
prune.ln_structured(model.fc1, name="weight", amount=0.5, n=2, dim=0)
parameters_to_prune = ((model.conv1, "weight"), (model.fc1, "weight"), (model.fc2, "weight"))
prune.global_unstructured(parameters_to_prune, pruning_method=prune.L1Unstructured, amount=0.2)
zeros = {name: float(torch.sum(m.weight == 0)) for name, m in model.named_children()}
x = (torch.arange(2 * 64, dtype=torch.float32).reshape(2, 1, 8, 8) * 0.11).cos()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    opt.zero_grad()
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
for m, name in parameters_to_prune:
    prune.remove(m, name)
print(json.dumps({
    "names": names, "hook": type(hook).__name__, "zeros": zeros, "loss": float(loss),
    "keys": list(model.state_dict().keys()), "out": model(x).tolist(),
    "pruned": prune.is_pruned(model),
}))
"""


def test_pytorch_pruning_script_runs_through_the_compat_runner(tmp_path):
    script = tmp_path / "prune_tutorial.py"
    script.write_text(PRUNING_SCRIPT)
    proc = run_compat_file(script, env={"RUSTDL_NUM_THREADS": "1"}, timeout=120)
    out = compat_report(proc)
    # the reference: the same script run on rustdl directly (no shim), with its names
    ref_src = PRUNING_SCRIPT.replace(
        "import torch.nn.utils.prune as prune", "import rustdl.nn.utils.prune as prune"
    )
    ref_src = ref_src.replace("import torch.nn.functional as F", "import rustdl.nn.functional as F")
    ref_src = ref_src.replace("import torch.nn as nn", "import rustdl.nn as nn").replace(
        "import torch\n", "import rustdl as torch\n"
    )
    ns: dict = {}
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(ref_src, "prune_reference", "exec"), ns)  # noqa: S102
    ref = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert out["names"] == ["weight_orig", "bias_orig", "weight_mask", "bias_mask"] == ref["names"]
    assert out["hook"] == "L1Unstructured"
    # keys as PyTorch gives them (parameters, then buffers; conv1.bias is still pruned)
    assert (
        out["keys"]
        == ref["keys"]
        == [
            "conv1.bias_orig",
            "conv1.weight",
            "conv1.bias_mask",
            "fc1.bias",
            "fc1.weight",
            "fc2.bias",
            "fc2.weight",
        ]
    )
    assert out["pruned"] and ref["pruned"]
    # the shim run matches the direct one number for number
    assert out["zeros"] == ref["zeros"]
    assert out["loss"] == pytest.approx(ref["loss"], rel=1e-6)
    np.testing.assert_allclose(out["out"], ref["out"], rtol=1e-6, atol=1e-7)
    # counts: conv1 loses round(0.3 * 27) = 8 by L1 (then made permanent: its zeros count as
    # live for the global step, which picks them again as smallest); fc1 5 of 10 rows (135) by
    # their L2 norms; the global 20% takes round(0.2 * live) of the masks' live entries
    live = 27 + (270 - 135) + 40
    assert sum(out["zeros"].values()) == 135 + round(0.2 * live)
    # and the same numbers PyTorch 2 printed for this script (recorded by hand)
    assert out["zeros"] == {"conv1": 8.0, "fc1": 159.0, "fc2": 8.0}
    np.testing.assert_allclose(
        out["out"],
        [[-0.609253, -0.002541, -0.223347, -0.138725], [-0.374130, -0.234233, -0.362187, 0.149578]],
        atol=2e-5,
    )


def test_pruning_and_orthogonal_on_each_device(device):
    layer = _linear(W).to(device)
    prune.l1_unstructured(layer, "weight", amount=3)
    prune.ln_structured(layer, "weight", amount=1, n=2, dim=0)
    assert str(layer.weight_mask.device).startswith(device)
    first = _smallest_mask(np.abs(W), 3)
    expect = first.copy()
    expect[np.argmin(np.linalg.norm(W * first, axis=1))] = 0
    np.testing.assert_array_equal(_np(layer.weight_mask), expect)
    layer(rustdl.ones(2, 4, device=device)).sum().backward()
    np.testing.assert_allclose(_np(layer.weight_orig.grad), 2 * expect)
    prune.remove(layer, "weight")
    np.testing.assert_allclose(_np(layer.weight), W * expect)
    orth = parametrizations.orthogonal(
        _linear(np.random.RandomState(3).randn(5, 3).astype(np.float32)).to(device)
    )
    opt = rustdl.optim.SGD(orth.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        orth(rustdl.ones(4, 3, device=device)).square().sum().backward()
        opt.step()
    q = _np(orth.weight)
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=2e-5)


def test_shape_changing_parametrization_with_unsafe_and_transfer():
    class Flat(nn.Module):
        def forward(self, x):
            return x.reshape(3, 4)

        def right_inverse(self, w):
            return w.reshape(-1)

    layer = _linear(W)
    weight_object = layer.weight  # an optimizer built before would hold this object
    parametrize.register_parametrization(layer, "weight", Flat(), unsafe=True)
    original = layer.parametrizations.weight.original
    assert tuple(original.shape) == (12,) and isinstance(original, nn.Parameter)
    assert original is weight_object  # reshaped in place, as PyTorch's set_
    np.testing.assert_allclose(_np(original), W.reshape(-1))
    np.testing.assert_allclose(_np(layer.weight), W)
    layer.weight = rustdl.ones(3, 4)
    np.testing.assert_allclose(_np(layer.parametrizations.weight.original), np.ones(12))
    parametrize.remove_parametrizations(layer, "weight")
    assert tuple(layer.weight.shape) == (3, 4) and isinstance(layer.weight, nn.Parameter)
    # transfer: the same parametrization and original values on another module
    src = _linear(W)
    parametrize.register_parametrization(src, "weight", Scale(2.0))
    dst = _linear(np.zeros_like(W))
    parametrize.transfer_parametrizations_and_params(src, dst)
    assert parametrize.is_parametrized(dst, "weight")
    np.testing.assert_allclose(_np(dst.weight), W, rtol=1e-6)
    assert dst.parametrizations.weight.original is not src.parametrizations.weight.original


def test_hostile_arguments_are_refused_with_typed_errors():
    from rustdl.nn.utils import parametrizations as PZ
    from rustdl.nn.utils import prune as P

    # a dim outside the weight's dims was wrapped around silently
    with pytest.raises(IndexError, match="weight_norm"):
        PZ.weight_norm(nn.Linear(3, 3), dim=5)
    with pytest.raises(IndexError, match="spectral_norm"):
        PZ.spectral_norm(nn.Linear(3, 3), dim=-3)
    # an integer weight cannot be orthogonal (it was turned into a float one)
    lin = nn.Linear(3, 3)
    lin.weight = nn.Parameter(rustdl.ones(3, 3, dtype=rustdl.int64), requires_grad=False)
    with pytest.raises(TypeError, match="floating point"):
        PZ.orthogonal(lin)
    assert lin.weight.dtype == rustdl.int64 and not hasattr(lin, "parametrizations")
    with pytest.raises(TypeError, match="ln_structured"):
        P.ln_structured(nn.Linear(4, 3), "weight", amount=1, n="foo", dim=0)
    # in range: the same as dim=0 / dim=-2
    m = PZ.weight_norm(nn.Linear(3, 2), dim=-2)
    w = m.weight.detach().numpy()
    np.testing.assert_allclose(w, m.parametrizations.weight.original1.detach().numpy(), rtol=1e-5)
