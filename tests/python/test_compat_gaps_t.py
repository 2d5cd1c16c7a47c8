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


# ------------------------------------------------------------------------------------------
# in-place writes and autograd's saved tensors
# ------------------------------------------------------------------------------------------


def _leaf(seed, *shape):
    return rustdl.tensor(
        np.random.default_rng(seed).standard_normal(shape), dtype=rustdl.float64
    ).requires_grad_()


def test_cumsum_output_can_be_modified_before_backward():
    a = _leaf(0, 5)
    b = a.cumsum(0)
    b[2:] *= 0.5
    (b**2).sum().backward()
    x = a.detach().numpy()
    c = np.cumsum(x)
    scale = np.array([1, 1, 0.5, 0.5, 0.5])
    # d/dx_j sum_k (s_k c_k)^2 = sum_{k >= j} 2 s_k^2 c_k
    ref = np.cumsum((2 * scale**2 * c)[::-1])[::-1]
    np.testing.assert_allclose(a.grad.numpy(), ref, rtol=1e-12)
    # cumprod still reads its output: modifying it is refused, as in PyTorch
    p = _leaf(1, 4).cumprod(0)
    p.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        p.sum().backward()


def test_writes_through_data_are_not_seen_by_autograd_checks():
    # PyTorch: `.data` has a version counter of its own, so the backward runs and reads the
    # new values; the same write through detach() is refused
    a = _leaf(2, 3)
    b = a.sigmoid()
    b.data.mul_(0.5)
    (b * a).sum().backward()
    x = a.detach().numpy()
    s = 0.5 / (1 + np.exp(-x))  # b after the write, which the sigmoid rule reads
    np.testing.assert_allclose(a.grad.numpy(), s + x * s * (1 - s), rtol=1e-12)
    assert b._version == 0
    a2 = _leaf(2, 3)
    b2 = a2.sigmoid()
    b2.detach().mul_(0.5)
    assert b2._version == 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        (b2 * a2).sum().backward()


def test_parameter_data_written_between_forward_and_backward():
    lin = nn.Linear(3, 2).double()
    w0 = np.random.default_rng(3).standard_normal((2, 3))
    with rustdl.no_grad():
        lin.weight.copy_(rustdl.tensor(w0))
        lin.bias.zero_()
    x = _leaf(4, 4, 3)
    y = lin(x).pow(2).sum()
    lin.weight.data.mul_(2)
    y.backward()
    xn = x.detach().numpy()
    out = xn @ w0.T
    # the input's gradient reads the weight as it is now (2 w0), as PyTorch's does
    np.testing.assert_allclose(x.grad.numpy(), 2 * out @ (2 * w0), rtol=1e-12)
    np.testing.assert_allclose(lin.weight.grad.numpy(), 2 * out.T @ xn, rtol=1e-12)


def test_to_pil_image_truncates_like_torchvision():
    from rustdl.torchcompat.torchvision.transforms import functional as TF

    img = TF.to_pil_image(rustdl.full((3, 2, 2), 0.5))
    np.testing.assert_array_equal(np.asarray(img), np.full((2, 2, 3), 127, dtype=np.uint8))
    np.testing.assert_array_equal(np.asarray(TF.to_pil_image(np.full((2, 2), 0.999, np.float32))), 254)


# ------------------------------------------------------------------------------------------
# empty inputs with impossible results
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.sum(1),
        lambda t: t.mean(1),
        lambda t: t.prod(1),
        lambda t: t.std(1),
        lambda t: t.logsumexp(1),
        lambda t: t.norm(dim=1),
        lambda t: t.count_nonzero(1),
        lambda t: nn.functional.normalize(t, dim=1),
        lambda t: rustdl.einsum("ij->i", t),
    ],
)
def test_reducing_an_empty_dim_into_an_impossible_result_is_a_memory_error(op):
    # (2^40, 0) holds nothing, but reducing its empty dim asks for 2^40 results: a MemoryError
    # naming the sizes, as PyTorch's failed allocation is a catchable error, not an abort
    t = rustdl.zeros(1 << 40, 0)
    with pytest.raises(MemoryError, match="cannot allocate"):
        op(t)
    # the same op on a holdable shape still gives the empty-dim value
    small = rustdl.zeros(3, 0)
    assert tuple(small.sum(1).shape) == (3,) and float(small.sum(1).abs().sum()) == 0.0


def test_chunking_an_empty_dim_into_too_many_pieces_is_a_memory_error():
    assert len(rustdl.zeros(3, 0).chunk(5, 1)) == 5
    with pytest.raises(MemoryError, match="chunk"):
        rustdl.zeros(3, 0).chunk(1 << 40, 1)


def test_too_many_pieces_is_a_memory_error_and_empty_gathers_are_immediate():
    huge = rustdl.zeros(1 << 40, 0)
    for op, name in [
        (lambda: huge.unbind(0), "unbind"),
        (lambda: huge.split(1), "split"),
        (lambda: huge.repeat_interleave(1, 0), "repeat_interleave"),
    ]:
        with pytest.raises(MemoryError, match=name):
            op()
    # nothing to gather: the result is made without walking the 2^40 empty rows
    empty_idx = rustdl.tensor([], dtype=rustdl.int64)
    assert tuple(huge.index_select(1, empty_idx).shape) == (1 << 40, 0)
    assert tuple(huge.repeat_interleave(0, 1).shape) == (1 << 40, 0)
    assert tuple(huge.argsort(0).shape) == (1 << 40, 0)
    # iterating is lazy: the first row comes at once
    it = iter(huge)
    assert tuple(next(it).shape) == (0,) and it.__length_hint__() == (1 << 40) - 1
    assert [r.tolist() for r in rustdl.arange(4.0).view(2, 2)] == [[0.0, 1.0], [2.0, 3.0]]


@pytest.mark.parametrize(
    "call",
    [
        lambda t: rustdl.cat(t),
        lambda t: rustdl.stack(t),
        lambda t: rustdl.zeros(t),
        lambda t: rustdl.ones(t),
        lambda t: rustdl.randn(t),
        lambda t: rustdl.randint(5, t),
        lambda t: rustdl.linalg.multi_dot(t),
    ],
)
def test_a_tensor_where_a_list_of_tensors_or_sizes_goes_is_a_type_error(call):
    # as PyTorch ("must be tuple of ints, not Tensor"), and never an endless walk of its rows
    with pytest.raises(TypeError):
        call(rustdl.zeros(1 << 40, 0))
    with pytest.raises(TypeError):
        call(rustdl.tensor([2, 3]))
    # a 0-d integer tensor is still one size
    assert tuple(rustdl.zeros(rustdl.tensor(3)).shape) == (3,)


def test_broadcast_shapes_takes_ints_and_sequences_only():
    assert tuple(rustdl.broadcast_shapes((2, 1), [3], 1)) == (2, 3)
    with pytest.raises(RuntimeError, match="broadcast_shapes"):
        rustdl.broadcast_shapes(rustdl.zeros(1 << 40, 0))


# ------------------------------------------------------------------------------------------
# optimizers' defaults and LBFGS(maximize=)
# ------------------------------------------------------------------------------------------


def test_optimizer_defaults_as_pytorch():
    p = nn.Parameter(rustdl.zeros(2))
    sgd = rustdl.optim.SGD([p])
    assert sgd.defaults["lr"] == 1e-3 and sgd.defaults["momentum"] == 0 and sgd.defaults["dampening"] == 0
    assert "    dampening: 0\n" in repr(sgd)
    ada = rustdl.optim.Adagrad([p])
    assert ada.defaults["lr_decay"] == 0 and isinstance(ada.defaults["initial_accumulator_value"], int)
    assert isinstance(rustdl.optim.RMSprop([p]).defaults["momentum"], int)
    assert rustdl.optim.LBFGS([p]).defaults["maximize"] is False


def test_lbfgs_maximize_climbs_to_the_maximum():
    # f(x) = -(x - 3)^2 - 2 (y + 1)^2 has its maximum at (3, -1)
    x = nn.Parameter(rustdl.zeros(2, dtype=rustdl.float64))
    opt = rustdl.optim.LBFGS([x], maximize=True, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        f = -((x[0] - 3) ** 2) - 2 * (x[1] + 1) ** 2
        f.backward()
        return f

    first = opt.step(closure)
    assert float(first) == pytest.approx(-11.0)
    np.testing.assert_allclose(x.detach().numpy(), [3.0, -1.0], atol=1e-4)
    y = nn.Parameter(rustdl.zeros(1, dtype=rustdl.float64))
    plain = rustdl.optim.LBFGS([y], lr=0.1, max_iter=5, maximize=True)

    def closure_y():
        plain.zero_grad()
        f = -((y - 1) ** 2).sum()
        f.backward()
        return f

    plain.step(closure_y)
    assert 0.0 < float(y) <= 1.0 + 1e-9


def test_multihead_attention_output_projection_is_a_linear_under_pytorchs_name():
    mha = nn.MultiheadAttention(4, 2)
    assert isinstance(mha.out_proj, nn.Linear)
    assert type(mha.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert "(out_proj): NonDynamicallyQuantizableLinear(in_features=4" in repr(mha)


def test_parameter_list_and_dict_reprs_as_pytorch():
    pl = nn.ParameterList([nn.Parameter(rustdl.ones(2, 3)), rustdl.ones(2), 3])
    assert repr(pl) == (
        "ParameterList(\n"
        f"    (0): Parameter containing: [{rustdl.float32} of size 2x3]\n"
        f"    (1): Parameter containing: [{rustdl.float32} of size 2]\n"
        "    (2): Object of type: int\n)"
    )
    pd = nn.ParameterDict({"w": nn.Parameter(rustdl.ones(2, dtype=rustdl.float64))})
    assert repr(pd) == "ParameterDict(  (w): Parameter containing: [torch.DoubleTensor of size 2])"


@pytest.mark.parametrize(
    "call",
    [
        lambda x, huge: rustdl.amax(x, huge),
        lambda x, huge: rustdl.mean(x, huge),
        lambda x, huge: x.split(huge),
        lambda x, huge: x.permute(huge),
    ],
)
def test_a_tensor_given_for_a_list_of_ints_is_a_type_error(call):
    # a tensor is not taken as a list of ints (dims, sizes), as in PyTorch; one with 2^40 rows
    # used to abort the process while its rows were being counted into a list
    x = rustdl.ones(2, 2)
    with pytest.raises(TypeError):
        call(x, rustdl.zeros(1 << 40, 0, dtype=rustdl.bool))
    with pytest.raises(TypeError):
        call(x, rustdl.tensor([1, 0]))
    # the iteration protocols still see a tensor's rows
    t = rustdl.arange(3.0)
    assert [float(v) for v in reversed(t)] == [2.0, 1.0, 0.0] and 1.0 in t and tuple(t)[2].item() == 2.0


def test_addcmul_and_addcdiv_take_pytorchs_deprecated_value_first_order():
    # older optimizers: exp_avg_sq.addcmul_(1 - beta2, grad, grad); p.data.addcdiv_(-lr, m, d)
    g = np.array([1.0, -2.0, 3.0])
    t = rustdl.tensor(g)
    with pytest.warns(UserWarning, match="deprecated"):
        a = rustdl.ones(3, dtype=rustdl.float64).addcmul_(0.5, t, t)
    np.testing.assert_allclose(a.numpy(), 1 + 0.5 * g * g)
    with pytest.warns(UserWarning, match="deprecated"):
        b = rustdl.ones(3, dtype=rustdl.float64).addcdiv_(-0.1, t, t.abs() + 1)
    np.testing.assert_allclose(b.numpy(), 1 - 0.1 * g / (np.abs(g) + 1))
    with pytest.warns(UserWarning, match="deprecated"):
        c = rustdl.addcmul(rustdl.zeros(3, dtype=rustdl.float64), 2.0, t, t)
    np.testing.assert_allclose(c.numpy(), 2 * g * g)
    # the current order is unchanged
    np.testing.assert_allclose(
        rustdl.ones(3, dtype=rustdl.float64).addcdiv(t, t, value=3).numpy(), [4.0, 4.0, 4.0]
    )


def test_where_reads_a_uint8_condition_as_bool_with_pytorchs_warning():
    x = rustdl.tensor([1.0, -1.0, 2.0])
    mask = (x > 0).byte()
    with pytest.warns(UserWarning, match="uint8 condition"):
        np.testing.assert_array_equal(rustdl.where(mask, x, 0.0).numpy(), [1.0, 0.0, 2.0])
    with pytest.warns(UserWarning, match="uint8 condition"):
        np.testing.assert_array_equal(x.where(mask, 5.0).numpy(), [1.0, 5.0, 2.0])
    with pytest.raises(TypeError):  # other integer masks stay refused, as in PyTorch
        rustdl.where((x > 0).int(), x, 0.0)


# ------------------------------------------------------------------------------------------
# optimizer hooks, Module.compile
# ------------------------------------------------------------------------------------------


def test_optimizer_step_hooks_run_in_pytorchs_order_and_can_change_arguments():
    from rustdl.optim import optimizer as O

    p = nn.Parameter(rustdl.ones(2, dtype=rustdl.float64))
    opt = rustdl.optim.SGD([p], lr=0.5)
    calls = []
    g_pre = O.register_optimizer_step_pre_hook(lambda o, a, k: calls.append("global pre"))
    g_post = O.register_optimizer_step_post_hook(lambda o, a, k: calls.append("global post"))
    h_pre = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    h_post = opt.register_step_post_hook(lambda o, a, k: calls.append(("post", a, sorted(k))))
    try:
        p.grad = rustdl.ones(2, dtype=rustdl.float64)
        opt.step()
        # the hooks see the step's arguments with the optimizer first, as PyTorch passes them
        assert calls == ["global pre", "pre", ("post", (opt,), []), "global post"]
        np.testing.assert_allclose(p.detach().numpy(), [0.5, 0.5])
    finally:
        for h in (g_pre, g_post, h_pre, h_post):
            h.remove()
    calls.clear()
    opt.step()
    assert calls == []
    # a pre-hook may replace the arguments: here it supplies the closure
    seen = []
    opt.register_step_pre_hook(lambda o, a, k: ((), {"closure": lambda: seen.append(1) or 7.0}))
    assert opt.step() == 7.0 and seen == [1]


def test_a_user_optimizer_subclass_runs_the_hooks_once():
    class Halve(rustdl.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {})

        def step(self, closure=None):
            for g in self.param_groups:
                for p in g["params"]:
                    p.data.mul_(0.5)

    p = nn.Parameter(rustdl.ones(1))
    opt = Halve([p])
    calls = []
    opt.register_step_post_hook(lambda o, a, k: calls.append(1))
    opt.step()
    opt.step()
    assert calls == [1, 1] and float(p) == 0.25


def test_optimizer_state_dict_hooks():
    p = nn.Parameter(rustdl.ones(2))
    opt = rustdl.optim.Adam([p], lr=0.1)
    p.grad = rustdl.ones(2)
    opt.step()
    log = []
    opt.register_state_dict_pre_hook(lambda o: log.append("sd pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    sd = opt.state_dict()
    assert sd["extra"] == 1 and log == ["sd pre"]

    def drop_extra(o, sd):
        log.append("load pre")
        return {k: v for k, v in sd.items() if k != "extra"}

    opt.register_load_state_dict_pre_hook(drop_extra)
    opt.register_load_state_dict_post_hook(lambda o: log.append("load post"))
    opt.load_state_dict(sd)
    assert log == ["sd pre", "load pre", "load post"] and int(opt.state[p]["step"]) == 1


def test_module_compile_keeps_the_module_working():
    m = nn.Linear(2, 1)
    x = rustdl.ones(3, 2)
    before = m(x).detach().numpy()
    assert m.compile(mode="max-autotune") is None
    np.testing.assert_array_equal(m(x).detach().numpy(), before)


def test_data_errors_are_the_classes_pytorch_raises():
    from rustdl.data import TensorDataset, default_collate

    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([rustdl.ones(2), rustdl.ones(3)])
    with pytest.raises(RuntimeError, match="equal shapes"):
        default_collate([np.ones(2), np.ones(3)])
    with pytest.raises(AssertionError, match="size mismatch"):
        TensorDataset(rustdl.ones(3), rustdl.ones(4))
    with pytest.raises(ValueError):
        TensorDataset(rustdl.ones(3), rustdl.ones(4))


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.gather(1, rustdl.tensor([[5]])),
        lambda x: x.topk(5),
        lambda x: x.narrow(1, 2, 5),
        lambda x: x[5],
    ],
)
def test_an_index_out_of_range_is_an_index_error_and_a_runtime_error(call):
    # PyTorch raises RuntimeError for gather/topk/narrow and IndexError for x[5]
    with pytest.raises(rustdl.OutOfRangeError) as info:
        call(rustdl.ones(2, 3))
    assert isinstance(info.value, IndexError) and isinstance(info.value, RuntimeError)


def test_shape_errors_of_losses_rnns_and_interpolate_are_pytorchs_classes():
    with pytest.raises(RuntimeError):
        nn.functional.mse_loss(rustdl.ones(2, 3), rustdl.ones(3, 2))
    with pytest.raises(RuntimeError):
        nn.LSTM(3, 4)(rustdl.ones(5, 2, 4))
    with pytest.raises(NotImplementedError):
        nn.functional.interpolate(rustdl.ones(2, 3), scale_factor=2, mode="bilinear")


@pytest.mark.parametrize(
    "call, cls",
    [
        (lambda: nn.Linear(-1, 2), RuntimeError),
        (lambda: nn.Embedding(3, 2, padding_idx=5), AssertionError),
        (lambda: nn.functional.pad(rustdl.ones(2, 3), (1,)), RuntimeError),
        (lambda: nn.functional.pad(rustdl.ones(1, 2, 3), (5, 5), mode="reflect"), RuntimeError),
        (lambda: rustdl.cdist(rustdl.ones(2, 3), rustdl.ones(2, 4)), RuntimeError),
        (lambda: rustdl.einsum("ij,jk->ik", rustdl.ones(2, 3), rustdl.ones(2, 3)), RuntimeError),
    ],
)
def test_layer_and_function_argument_errors_are_pytorchs_classes(call, cls):
    # each is also a ValueError, as before
    with pytest.raises(cls) as info:
        call()
    assert isinstance(info.value, ValueError)


def test_new_tensor_methods_take_pytorchs_keywords():
    x = rustdl.ones(2)
    z = x.new_zeros(3, dtype=rustdl.int64)
    assert z.dtype == rustdl.int64 and z.tolist() == [0, 0, 0]
    o = x.new_ones((2, 2), dtype=rustdl.float64, requires_grad=True)
    assert o.dtype == rustdl.float64 and o.requires_grad and o.is_leaf
    f = x.new_full((2,), 7, dtype=rustdl.int32)
    assert f.dtype == rustdl.int32 and f.tolist() == [7, 7]
    assert tuple(x.new_zeros(size=(2, 3)).shape) == (2, 3) and tuple(x.new_empty(size=[4]).shape) == (4,)
    assert x.new_full(size=[2], fill_value=1.5).tolist() == [1.5, 1.5]
    t = x.new_tensor([1, 2], dtype=rustdl.int64)
    assert t.dtype == rustdl.int64 and t.tolist() == [1, 2]
    assert x.new_ones(2, device="cpu").device.type == "cpu"
    # new_tensor of a tensor is a copy with no history
    y = rustdl.ones(2, requires_grad=True)
    c = y.new_tensor(y)
    assert not c.requires_grad and c.grad_fn is None
    c.add_(1)
    assert y.tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        x.new_zeros(2, size=(3,))


def test_to_with_copy_makes_a_new_tensor_even_when_nothing_changes():
    x = rustdl.ones(2, requires_grad=True)
    for y in (x.to(rustdl.float32, copy=True), x.to(rustdl.float32, False, True), x.to("cpu", copy=True)):
        assert y.data_ptr() != x.data_ptr() and y.grad_fn is not None
    y = x.to(rustdl.float32, copy=True)
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    # without copy, a tensor already of that dtype and device is returned as it is
    assert x.to(rustdl.float32).data_ptr() == x.data_ptr()


def test_embedding_takes_pytorchs_freeze_switch():
    table = rustdl.tensor(np.arange(6.0).reshape(3, 2), dtype=rustdl.float32)
    e = nn.Embedding(3, 2, _weight=table, _freeze=True)
    assert not e.weight.requires_grad
    np.testing.assert_array_equal(e(rustdl.tensor([2, 0])).numpy(), [[4.0, 5.0], [0.0, 1.0]])
    assert not nn.Embedding(3, 2, _freeze=True).weight.requires_grad
    assert nn.Embedding(3, 2).weight.requires_grad
