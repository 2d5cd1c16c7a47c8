"""Gaps found by running PyTorch-shaped programs (style transfer, language model, DCGAN, seq2seq,
VAE, actor-critic, time-series LSTM) against PyTorch: scheduler bookkeeping and
``ReduceLROnPlateau`` as an ``LRScheduler``, the ``bias=`` switch of the norm layers and the lazy
instance norms' defaults. References: numpy and closed forms."""

import numpy as np
import pytest
import rustdl
from rustdl import nn
from rustdl.optim import lr_scheduler as S


def _opt(lr=0.1):
    p = nn.Parameter(rustdl.zeros(1))
    return rustdl.optim.SGD([p], lr=lr, momentum=0.9)


# ------------------------------------------------------------------------------------------
# schedulers
# ------------------------------------------------------------------------------------------


def test_scheduler_counts_its_steps_and_saves_the_count():
    o = _opt()
    s = S.StepLR(o, step_size=2, gamma=0.5)
    assert s._step_count == 1 and s._is_initial is False
    lrs = []
    for _ in range(5):
        o.step()
        s.step()
        lrs.append(o.param_groups[0]["lr"])
    assert s._step_count == 6
    np.testing.assert_allclose(lrs, [0.1 * 0.5 ** ((e + 1) // 2) for e in range(5)])
    sd = s.state_dict()
    assert {"_step_count", "_is_initial", "_get_lr_called_within_step", "last_epoch"} <= set(sd)
    s2 = S.StepLR(_opt(), step_size=2, gamma=0.5)
    s2.load_state_dict(sd)
    assert s2._step_count == 6 and s2.last_epoch == 5


def test_reduce_on_plateau_is_an_lr_scheduler_and_takes_an_epoch():
    o = _opt(1.0)
    s = S.ReduceLROnPlateau(o, patience=1, factor=0.5, min_lr=0.3)
    assert isinstance(s, S.LRScheduler)
    assert s.mode_worse == float("inf") and s.default_min_lr == 0.3
    for e, metric in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        s.step(metric, e + 10)
    assert s.last_epoch == 15
    # bad epochs 1, 2 -> halve (0.5); 3, 4 -> 0.25 clipped to the floor 0.3; then stays
    assert s.get_last_lr() == [0.3]
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["best"] == 1.0
    mx = S.ReduceLROnPlateau(_opt(), mode="max", min_lr=[0.01])
    assert mx.mode_worse == float("-inf") and mx.default_min_lr is None and mx.min_lrs == [0.01]


# ------------------------------------------------------------------------------------------
# norm layers: bias=
# ------------------------------------------------------------------------------------------


def _x(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("cls", [nn.BatchNorm1d, nn.InstanceNorm1d, nn.SyncBatchNorm])
def test_norm_without_bias_scales_only(cls):
    x = _x(0, (4, 3, 5))
    m = cls(3, affine=True, bias=False)
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    assert "bias=False" in repr(m)
    with rustdl.no_grad():
        m.weight.copy_(rustdl.tensor([0.5, 2.0, -1.0]))
    m.train()
    y = m(rustdl.tensor(x, dtype=rustdl.float32)).detach().numpy()
    axes = (0, 2) if cls is not nn.InstanceNorm1d else (2,)
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    ref = (x - mu) / np.sqrt(var + 1e-5) * np.array([0.5, 2.0, -1.0])[None, :, None]
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    m.reset_parameters()
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.ones(3))


def test_group_and_layer_norm_without_bias():
    x = _x(1, (2, 4, 3))
    g = nn.GroupNorm(2, 4, bias=False)
    assert g.bias is None and repr(g) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=False)"
    xs = x.reshape(2, 2, 6)
    ref = ((xs - xs.mean(-1, keepdims=True)) / np.sqrt(xs.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(
        g(rustdl.tensor(x, dtype=rustdl.float32)).detach().numpy(), ref, rtol=1e-4, atol=1e-5
    )
    assert repr(nn.LayerNorm(3)) == "LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(nn.RMSNorm(3)) == "RMSNorm((3,), eps=None, elementwise_affine=True)"


def test_convert_sync_batchnorm_keeps_a_missing_bias():
    bn = nn.BatchNorm1d(3, bias=False)
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(bn))[0]
    assert isinstance(sync, nn.SyncBatchNorm) and sync.bias is None and sync.weight is bn.weight


def test_lazy_norms_take_bias_and_lazy_instance_norm_defaults_as_pytorch():
    lb = nn.LazyBatchNorm1d(bias=False)
    lb(rustdl.randn(4, 3))
    assert type(lb) is nn.BatchNorm1d and lb.bias is None and tuple(lb.weight.shape) == (3,)
    li = nn.LazyInstanceNorm1d()
    li(rustdl.randn(2, 3, 4))
    # PyTorch's lazy instance norms default to affine and running statistics
    assert type(li) is nn.InstanceNorm1d and li.affine and li.track_running_stats
    assert tuple(li.running_mean.shape) == (3,) and li.bias is not None
