"""Behaviour PyTorch programs rely on, found by running third-party programs through rustdl:
gradients of overwritten index writes, 0-d tensor indices, tensors inside data lists, checkpointed
optimizer step counts, spectral norm applied twice per step, and clean errors for bad sizes."""

import io

import numpy as np
import pytest
import rustdl
from rustdl import nn


def test_setitem_gives_every_written_value_its_gradient():
    # y[[0, 1, 1]] = v: v[1] is overwritten by v[2], yet both get the output's gradient at
    # position 1 (PyTorch's index_put backward gathers the gradient at each index)
    v = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = rustdl.zeros(4)
    y[rustdl.tensor([0, 1, 1])] = v
    w = rustdl.tensor([10.0, 20.0, 30.0, 40.0])
    (y * w).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 3.0, 0.0, 0.0])
    np.testing.assert_array_equal(v.grad.numpy(), [10.0, 20.0, 20.0])
    s = rustdl.tensor(2.0, requires_grad=True)
    z = rustdl.zeros(4)
    z[rustdl.tensor([0, 1, 1])] = s  # a broadcast scalar: one gradient per write
    (z * 3).sum().backward()
    assert s.grad.item() == 9.0


def test_index_put_and_scatter_gradients_gather_at_the_indices():
    w = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    base = rustdl.ones(4, requires_grad=True)
    o = base.index_put((rustdl.tensor([2, 2, 0]),), w)
    (o * rustdl.arange(4.0)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 0.0])
    np.testing.assert_array_equal(base.grad.numpy(), [0.0, 1.0, 0.0, 3.0])
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 4)).astype(np.float32)
    s0 = rng.standard_normal((2, 4)).astype(np.float32)
    idx = np.array([[0, 1, 2, 0], [0, 2, 1, 1]])
    x = rustdl.tensor(x0, requires_grad=True)
    src = rustdl.tensor(s0, requires_grad=True)
    y = x.scatter(0, rustdl.tensor(idx), src)
    gw = rng.standard_normal((3, 4)).astype(np.float32)
    (y * rustdl.tensor(gw)).sum().backward()
    want = x0.copy()
    hit = np.zeros_like(x0, bool)
    for i in range(2):
        for j in range(4):
            want[idx[i, j], j] = s0[i, j]  # the last write wins
            hit[idx[i, j], j] = True
    np.testing.assert_array_equal(y.detach().numpy(), want)
    np.testing.assert_array_equal(src.grad.numpy(), np.take_along_axis(gw, idx, 0))
    np.testing.assert_array_equal(x.grad.numpy(), np.where(hit, 0.0, gw))


def test_zero_dim_integer_tensor_indexes_as_an_integer():
    a = np.arange(24).reshape(2, 3, 4)
    x = rustdl.arange(24).view(2, 3, 4)
    t1, cols = rustdl.tensor(1), rustdl.tensor([0, 2])
    # PyTorch selects with an integer (or a 0-d tensor) first; numpy's a[1, 1:, [0, 2]] would
    # count the integer as an advanced index and put the broadcast dim first
    np.testing.assert_array_equal(x[t1, 1:, cols].numpy(), a[1][1:, [0, 2]])
    np.testing.assert_array_equal(x[1, 1:, cols].numpy(), a[1][1:, [0, 2]])
    assert tuple(x[rustdl.tensor(0), :, [1, 3]].shape) == (3, 2)
    y = x.clone()
    y[t1, 1:, cols] = rustdl.tensor([[1, 2], [3, 4]])
    b = a.copy()
    b[1][1:, [0, 2]] = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(y.numpy(), b)
    v = rustdl.arange(5.0)
    v[rustdl.tensor(-1)] = 7.0
    assert v[rustdl.tensor(4)].item() == 7.0
    with pytest.raises(IndexError):
        x[rustdl.tensor(5)]
    m = rustdl.tensor([1.0, 2.0])[rustdl.tensor(True)]  # a 0-d bool stays a mask
    assert tuple(m.shape) == (1, 2)


def test_tensors_inside_data_lists_are_numbers():
    t = rustdl.tensor([rustdl.tensor([1.0]), rustdl.tensor([[2.0]]), rustdl.tensor(3.0)])
    assert tuple(t.shape) == (3,)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="one element tensors"):
        rustdl.tensor([rustdl.tensor([1.0, 2.0]), rustdl.tensor([3.0, 4.0])])
    whole = rustdl.tensor(rustdl.arange(6).view(2, 3).t())
    np.testing.assert_array_equal(whole.numpy(), np.arange(6).reshape(2, 3).T)


def test_saved_optimizer_step_is_a_tensor_and_resumes():
    p = nn.Parameter(rustdl.ones(2))
    opt = rustdl.optim.Adam([p], lr=0.1)
    for _ in range(3):
        p.grad = rustdl.ones(2)
        opt.step()
    buf = io.BytesIO()
    rustdl.save(opt.state_dict(), buf)
    buf.seek(0)
    sd = rustdl.load(buf)
    step = sd["state"][0]["step"]
    assert isinstance(step, rustdl.Tensor) and step.item() == 3.0
    opt2 = rustdl.optim.Adam([p], lr=0.1)
    opt2.load_state_dict(sd)
    p.grad = rustdl.ones(2)
    opt2.step()
    assert int(opt2.state[p]["step"]) == 4


def test_spectral_norm_two_training_forwards_one_backward():
    # the GAN discriminator pattern (real and fake batches through D, one loss): the power
    # iteration of the second forward updates u and v in place while the first graph holds them
    rustdl.manual_seed(0)
    lin = nn.utils.spectral_norm(nn.Linear(2, 3))
    x = rustdl.randn(4, 2)
    (lin(x).sum() + lin(x).sum()).backward()
    g = lin.weight_orig.grad.numpy()
    assert np.isfinite(g).all() and np.abs(g).sum() > 0


def test_masked_scatter_needs_enough_source_values():
    with pytest.raises(RuntimeError, match="source"):
        rustdl.zeros(3).masked_scatter(rustdl.tensor([True, True, True]), rustdl.tensor([7.0]))
    out = rustdl.zeros(3).masked_scatter(rustdl.tensor([True, False, True]), rustdl.tensor([7.0, 8.0, 9.0]))
    np.testing.assert_array_equal(out.numpy(), [7.0, 0.0, 8.0])


def test_multinomial_of_an_impossible_size_is_a_memory_error():
    with pytest.raises(MemoryError):
        rustdl.multinomial(rustdl.ones(3), 2**40, replacement=True)
    with pytest.raises(RuntimeError):  # also PyTorch's RuntimeError
        rustdl.multinomial(rustdl.ones(3), 2**40, replacement=True)


def test_view_as_another_dtype_reads_the_bytes():
    got = rustdl.arange(4.0).view(rustdl.int32)
    np.testing.assert_array_equal(got.numpy(), np.arange(4, dtype=np.float32).view(np.int32))
    assert got.dtype == rustdl.int32
    b = rustdl.tensor([1.0]).view(rustdl.uint8)
    np.testing.assert_array_equal(b.numpy(), np.array([1.0], np.float32).view(np.uint8))
    assert tuple(rustdl.arange(6).view(2, 3).view(dtype=rustdl.float64).shape) == (2, 3)
    with pytest.raises(RuntimeError):
        rustdl.arange(3.0).view(rustdl.float64)  # 12 bytes are not whole float64s


def test_a_view_knows_its_base():
    x = rustdl.zeros(4)
    y = x[1:3]
    assert x._base is None
    assert y._base is not None and y._base.data_ptr() == x.data_ptr()


def test_ctc_log_probs_gradient_is_pytorchs():
    # PyTorch's kernel returns exp(log_probs) - posterior inside each input: the exact
    # derivative (checked by finite differences of the loss) plus exp(log_probs)
    F = rustdl.nn.functional
    rng = np.random.default_rng(1)
    raw = rng.standard_normal((6, 2, 4))
    tg = rustdl.tensor([[1, 2, 1], [3, 0, 0]])
    lens, tlens = [6, 4], [3, 1]

    def loss_of(a):
        return F.ctc_loss(rustdl.tensor(a), tg, lens, tlens, reduction="sum").item()

    x = rustdl.tensor(raw, requires_grad=True)
    F.ctc_loss(x, tg, lens, tlens, reduction="sum").backward()
    eps = 1e-6
    exact = np.zeros_like(raw)
    for i in np.ndindex(raw.shape):
        hi, lo = raw.copy(), raw.copy()
        hi[i] += eps
        lo[i] -= eps
        exact[i] = (loss_of(hi) - loss_of(lo)) / (2 * eps)
    live = (np.arange(6)[:, None] < np.array(lens)[None, :])[:, :, None]
    np.testing.assert_allclose(x.grad.numpy(), exact + np.exp(raw) * live, rtol=1e-5, atol=1e-6)


def test_split_and_chunk_return_tuples():
    x = rustdl.arange(6.0)
    parts = x.split(2) + (rustdl.zeros(1),)  # concatenating with a tuple, as PyTorch code does
    assert isinstance(parts, tuple) and len(parts) == 4
    assert isinstance(rustdl.split(x, [2, 4]), tuple)
    assert isinstance(x.chunk(4), tuple) and len(x.chunk(4)) == 3
    np.testing.assert_array_equal(rustdl.cat(x.chunk(3) + (x[:1],)).numpy(), [0, 1, 2, 3, 4, 5, 0])


def test_what_pytorch_accepts_and_refuses_at_the_edges():
    F = rustdl.nn.functional
    # a zero adaptive output size is an empty result, joined to the graph
    x = rustdl.ones(1, 2, 4, 4, requires_grad=True)
    assert tuple(F.adaptive_avg_pool2d(x, 0).shape) == (1, 2, 0, 0)
    out = nn.AdaptiveAvgPool2d((0, 2))(x)
    assert tuple(out.shape) == (1, 2, 0, 2)
    out.sum().backward()
    assert x.grad is not None and not x.grad.numpy().any()
    # kl_div broadcasts the target to the input, as the other pointwise losses
    got = F.kl_div(rustdl.zeros(2, 3), rustdl.full((3,), 0.5))
    assert abs(got.item() - 3 * 0.5 * np.log(0.5) / 3) < 1e-6
    # matrix products refuse mixed dtypes (an integer operand included), as PyTorch
    with pytest.raises(RuntimeError, match="dtype"):
        rustdl.ones(2, dtype=rustdl.int64) @ rustdl.ones(2)
    with pytest.raises(RuntimeError, match="dtype"):
        nn.Linear(2, 2)(rustdl.ones(1, 2, dtype=rustdl.int32))
    assert (rustdl.ones(2, dtype=rustdl.int64) @ rustdl.ones(2, dtype=rustdl.int64)).item() == 2
    # argmax of an empty tensor without a dim is PyTorch's IndexError
    with pytest.raises(IndexError):
        rustdl.randn(0).argmax()


@pytest.mark.parametrize(
    "call",
    [
        lambda: nn.Conv2d(1, 1, 3, stride=0)(rustdl.ones(1, 1, 5, 5)),
        lambda: nn.LSTMCell(3, 4)(rustdl.ones(2, 5)),
        lambda: nn.GroupNorm(2, 4)(rustdl.ones(2, 6, 3)),
        lambda: rustdl.bernoulli(rustdl.full((2,), 1.5)),
        lambda: rustdl.normal(0.0, -1.0, (2,)),
        lambda: rustdl.randperm(-1),
        lambda: nn.init.trunc_normal_(rustdl.empty(3), a=2, b=1),
    ],
    ids=[
        "conv_stride0",
        "lstmcell_size",
        "groupnorm_channels",
        "bernoulli_p",
        "normal_std",
        "randperm",
        "trunc_ab",
    ],
)
def test_bad_arguments_are_pytorchs_runtime_error(call):
    # `except RuntimeError` written for PyTorch catches them; they stay ValueErrors too
    with pytest.raises(RuntimeError) as e:
        call()
    assert isinstance(e.value, ValueError)


def test_detect_anomaly_names_the_rule_that_returned_nan():
    # sqrt(0) has an infinite derivative; times a zero upstream gradient it is NaN
    x = rustdl.tensor([0.0, 4.0], requires_grad=True)
    loss = (x.sqrt() * rustdl.tensor([0.0, 1.0])).sum()
    with rustdl.autograd.detect_anomaly():
        with pytest.raises(
            RuntimeError, match=r"Function 'SqrtBackward0' returned nan values in its 0th output"
        ):
            loss.backward(retain_graph=True)
    assert not rustdl.is_anomaly_enabled()
    loss.backward()  # outside the mode the NaN reaches .grad, as PyTorch
    g = x.grad.numpy()
    assert np.isnan(g[0]) and g[1] == 0.25
    # check_nan=False keeps the mode on without the check; a custom Function's backward is
    # checked under its own name
    x.grad = None
    with rustdl.autograd.detect_anomaly(check_nan=False):
        assert rustdl.is_anomaly_enabled()
        loss2 = (x.sqrt() * rustdl.tensor([0.0, 1.0])).sum()
        loss2.backward()
    assert np.isnan(x.grad.numpy()[0])

    class Bad(rustdl.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    y = rustdl.ones(3, requires_grad=True)
    rustdl.autograd.set_detect_anomaly(True)
    try:
        with pytest.raises(
            RuntimeError, match="Function 'BadBackward' returned nan values in its 0th output"
        ):
            Bad.apply(y).sum().backward()
    finally:
        rustdl.autograd.set_detect_anomaly(False)
    Bad.apply(y).sum().backward()
    assert np.isnan(y.grad.numpy()).all()


def test_train_and_apply_go_through_each_childs_own_method():
    class Frozen(nn.Module):  # a backbone that keeps its BatchNorm in eval mode
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(2)
            self.cache = rustdl.ones(3)  # a plain tensor attribute, converted by _apply

        def forward(self, x):
            return self.bn(x)

        def train(self, mode=True):
            super().train(mode)
            self.bn.eval()
            return self

        def _apply(self, fn, recurse=True):
            super()._apply(fn, recurse)
            self.cache = fn(self.cache)
            return self

    model = nn.Sequential(Frozen(), nn.Flatten())
    model.train()
    assert model.training and model[1].training and model[0].training
    assert not model[0].bn.training
    model(rustdl.randn(4, 2))
    assert model[0].bn.num_batches_tracked.item() == 0
    model.double()
    assert model[0].cache.dtype == rustdl.float64 and model[0].bn.weight.dtype == rustdl.float64


def test_state_dict_metadata_and_batchnorm_without_the_batch_count():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    sd = m.state_dict()
    assert dict(sd._metadata) == {"": {"version": 1}, "0": {"version": 1}, "1": {"version": 2}}
    m[1].num_batches_tracked.fill_(7)
    old = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}  # no metadata
    res = m.load_state_dict(old)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert m[1].num_batches_tracked.item() == 7
    # with the current version recorded, the key is required
    keep = type(sd)(old)
    keep._metadata = sd._metadata
    with pytest.raises(RuntimeError, match="num_batches_tracked"):
        m.load_state_dict(keep)
    lin = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="already exists"):
        lin.add_module("weight", nn.ReLU())


def test_post_accumulate_grad_hook_gets_the_parameter_itself():
    model = nn.Linear(3, 2)
    opts = {p: rustdl.optim.SGD([p], lr=0.5) for p in model.parameters()}
    seen = []

    def hook(p):
        seen.append(any(p is q for q in opts))
        opts[p].step()
        opts[p].zero_grad()

    for p in model.parameters():
        p.register_post_accumulate_grad_hook(hook)
    w0 = model.weight.detach().clone()
    x = rustdl.ones(1, 3)
    model(x).sum().backward()
    assert seen == [True, True]
    # d(sum(Wx + b))/dW = 1 for every weight: one SGD step of 0.5
    np.testing.assert_allclose(model.weight.detach().numpy(), w0.numpy() - 0.5)


def test_infinite_incoming_gradient_at_a_clamped_value_gives_zero():
    # sqrt(clamp(x, 0)) at x <= 0: sqrt's derivative is inf there, clamp's is 0 (selected, not
    # multiplied, as PyTorch: no NaN)
    x = rustdl.tensor([-1.0, 0.0, 1.0], requires_grad=True)
    x.clamp(min=0).sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.5])
    e = rustdl.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    sq = (e * e).sum(1)
    (sq[:, None] + sq[None, :] - 2 * e @ e.t()).clamp(min=0).sqrt().sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), [[-1.2, -1.6], [1.2, 1.6]], rtol=1e-6)
    for f, x0, want in [
        (
            lambda t: nn.functional.softshrink(t, 0.5),
            [-1.0, 0.2, 0.5, 2.0],
            [-0.70710677, 0.0, 0.0, 0.40824829],
        ),
        (nn.functional.hardswish, [-4.0, -3.0, 3.5], [0.0, 0.0, 0.26726124]),
        (lambda t: t.clamp(-0.5, 0.0), [-1.0, 0.0, 0.3], [0.0, 0.0, 0.0]),
    ]:
        x = rustdl.tensor(x0, requires_grad=True)
        f(x).abs().sqrt().sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


def test_xlogy_gradient_at_zero_and_int32_scatter_indices():
    x = rustdl.tensor([0.0, 1.0], requires_grad=True)
    rustdl.xlogy(x, 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [np.log(2.0)] * 2, rtol=1e-6)
    x = rustdl.tensor([0.0, 1.0], requires_grad=True)
    rustdl.special.xlog1py(x, 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [np.log(3.0)] * 2, rtol=1e-6)
    i32 = rustdl.tensor([0, 2], dtype=rustdl.int32)
    assert rustdl.zeros(3).scatter(0, i32, 1.0).tolist() == [1.0, 0.0, 1.0]
    assert rustdl.zeros(3).scatter_reduce(0, i32, rustdl.ones(2), "sum").tolist() == [1.0, 0.0, 1.0]


def test_weight_and_spectral_norm_follow_pytorchs_definitions():
    from rustdl.nn.utils import parametrizations

    lin = parametrizations.weight_norm(nn.Linear(3, 2), dim=-1)  # -1: the whole tensor
    assert tuple(lin.parametrizations.weight.original0.shape) == ()
    w = lin.weight.detach().numpy()
    v = lin.parametrizations.weight.original1.detach().numpy()
    g = lin.parametrizations.weight.original0.item()
    np.testing.assert_allclose(w, g * v / np.linalg.norm(v), rtol=1e-5)
    old = nn.utils.weight_norm(nn.Linear(3, 2), dim=-1)
    assert tuple(old.weight_g.shape) == ()
    # power iteration updates u from v, then v from u: v is the last one computed
    sn = parametrizations.spectral_norm(nn.Linear(4, 3))
    mod = sn.parametrizations.weight[0]
    u, v = mod._u.numpy(), mod._v.numpy()
    wm = sn.parametrizations.weight.original.detach().numpy()
    wv = wm.T @ u
    np.testing.assert_allclose(v, wv / np.linalg.norm(wv), rtol=1e-5, atol=1e-6)


def test_module_utilities_as_pytorch():
    import copy

    p = nn.Parameter(rustdl.ones(2))
    p.grad = rustdl.ones(2)
    q = copy.deepcopy(p)
    assert q.grad is None and q.requires_grad and isinstance(q, nn.Parameter)
    a, b = nn.Parameter(rustdl.zeros(2)), nn.Parameter(rustdl.zeros(3))
    a.grad, b.grad = rustdl.tensor([3.0, 4.0]), rustdl.tensor([0.5, 0.7, -0.9])
    total = nn.utils.clip_grad_norm_([a, b], 10.0, norm_type=-float("inf"))
    assert total.item() == 0.5  # the -inf norm: the smallest magnitude of all (3 and 0.5)
    from rustdl.nn.modules.utils import consume_prefix_in_state_dict_if_present

    sd = nn.Sequential(nn.Linear(2, 2)).state_dict()
    wrapped = type(sd)(("module." + k, v) for k, v in sd.items())
    wrapped._metadata = type(sd._metadata)(
        ("module" + ("." + k if k else ""), v) for k, v in sd._metadata.items()
    )
    consume_prefix_in_state_dict_if_present(wrapped, "module.")
    assert list(wrapped) == ["0.weight", "0.bias"] and set(wrapped._metadata) == {"", "0"}
    s = nn.Sequential(nn.Linear(2, 2), nn.ReLU()) * 2
    assert len(s) == 4 and s[0] is s[2]
    r = nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.ReLU(), nn.Tanh()])
    assert repr(r) == "ModuleList(\n  (0-2): 3 x ReLU()\n  (3): Tanh()\n)"
    assert repr(nn.LSTM(3, 4, proj_size=2, num_layers=2)) == "LSTM(3, 4, proj_size=2, num_layers=2)"
    assert repr(nn.RNNCell(2, 3, nonlinearity="relu")) == "RNNCell(2, 3, nonlinearity=relu)"
    assert nn.init.calculate_gain("linear") == 1 and isinstance(nn.init.calculate_gain("sigmoid"), int)
    with pytest.raises(RuntimeError, match="batch size"):
        nn.LSTMCell(3, 4)(rustdl.randn(2, 3), (rustdl.randn(3, 4), rustdl.randn(3, 4)))


def test_tensor_conversions_as_pytorch():
    w = nn.Parameter(rustdl.ones(1, 2))
    with pytest.raises(RuntimeError, match="requires grad"):
        w.numpy()
    with rustdl.no_grad():
        assert w.numpy().shape == (1, 2)
    # numpy scalars inside data count with their own dtype
    assert rustdl.tensor([np.float64(1.5)]).dtype == rustdl.float64
    assert rustdl.tensor([np.int32(3)]).dtype == rustdl.int32
    assert rustdl.tensor([1, np.float64(2.5)]).dtype == rustdl.float64
    assert rustdl.tensor([1.5, np.float32(2)]).dtype == rustdl.float32
    assert rustdl.tensor([rustdl.tensor(1.5, dtype=rustdl.float64), 2]).dtype == rustdl.float64
    assert rustdl.tensor([np.int16(1), np.uint8(2)]).dtype == rustdl.int16

    @rustdl.set_grad_enabled(False)
    def f(x):
        return (x * 2).requires_grad

    assert f(rustdl.ones(2, requires_grad=True)) is False and rustdl.is_grad_enabled()
    a = rustdl.tensor([[1.0, 2.0], [3.0, 4.0]])
    nuc = np.linalg.svd(a.numpy(), compute_uv=False).sum()
    np.testing.assert_allclose(a.norm(p="nuc").item(), nuc, rtol=1e-5)
    np.testing.assert_allclose(rustdl.norm(a, p="nuc").item(), nuc, rtol=1e-5)
    assert rustdl.device("cpu:0") == rustdl.device("cpu")
    # integer sums are exact and wrap on overflow, as PyTorch's
    assert rustdl.tensor([2**53 + 1, 0, 0, 0, 0]).sum().item() == 2**53 + 1
    assert rustdl.tensor([2**62, 2**62]).sum().item() == -(2**63)


def test_non_finite_values_stay_where_pytorch_leaves_them():
    # clamp with one bound passes ±inf on the open side (only the given bound is checked)
    a = rustdl.tensor([float("inf"), 2.0], requires_grad=True)
    a.clamp(min=0.5).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])
    # attention over a NaN score is NaN (not a zero row, which means "no key seen")
    q = rustdl.tensor([[[0.1, 0.2, 0.3, 0.4], [0.5, -0.2, 0.1, 0.0]]])
    k = rustdl.cat([q.flip(2), rustdl.full((1, 1, 4), float("nan"))], 1)
    v = rustdl.arange(12.0).reshape(1, 3, 4)
    assert np.isnan(nn.functional.scaled_dot_product_attention(q, k, v).numpy()).all()
    assert np.isnan(rustdl.atan2(rustdl.tensor([3.0, 0.0]), rustdl.tensor([float("nan")] * 2)).numpy()).all()
    np.testing.assert_allclose(
        rustdl.angle(rustdl.tensor([float("inf"), -float("inf")])).numpy(), [0.0, np.pi]
    )


def test_interpolate_reads_only_each_outputs_taps():
    # (on the CPU: a GPU resizes with the dense matrix product, for speed, see interpolate)
    device = "cpu"
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan], np.float32)
    y = nn.functional.interpolate(rustdl.tensor(x[None, None], device=device), size=12, mode="linear")
    # PyTorch's source index (i + 0.5)/2 - 0.5 (clamped at 0): two taps each, the last three read the NaN
    src = np.maximum((np.arange(12) + 0.5) / 2 - 0.5, 0)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, 5)
    lam = src - i0
    ref = x[i0] * (1 - lam) + x[i1] * lam
    np.testing.assert_allclose(y.cpu().numpy()[0, 0], ref, rtol=1e-6)
    assert np.isnan(ref[-3:]).all() and np.isfinite(ref[:9]).all()
    img = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    img[0, 0, 0, 0] = np.inf
    for mode in ("bilinear", "area"):
        out = (
            nn.functional.interpolate(rustdl.tensor(img, device=device), size=(6, 6), mode=mode).cpu().numpy()
        )
        assert not np.isnan(out).any(), mode  # inf stays inf near the corner, nowhere NaN


def test_triangle_indices_never_build_the_dense_mask():
    for row, col, off in [(4, 5, 0), (5, 3, -2), (3, 6, 2), (0, 4, 0), (4, 0, 1), (6, 6, -7), (2, 5, 9)]:
        for f, g in ((rustdl.tril_indices, np.tril_indices), (rustdl.triu_indices, np.triu_indices)):
            got = f(row, col, off).numpy()
            np.testing.assert_array_equal(got, np.stack(g(row, off, col)).reshape(2, -1))
    big = 2**20
    assert rustdl.tril_indices(big, big, -big + 1).tolist() == [[big - 1], [0]]
    with pytest.raises(MemoryError):
        rustdl.tril_indices(2**31, 2**31)


def test_lp_pool_of_infinite_order_and_distribution_edges():
    x = rustdl.tensor([[[0.5, -1.5, 0.25, 0.75]]])
    assert nn.functional.lp_pool1d(x, float("inf"), 2).tolist() == [[[1.5, 0.75]]]
    assert nn.functional.lp_pool1d(x, -float("inf"), 2).tolist() == [[[0.5, 0.25]]]
    from rustdl.distributions import Beta, Exponential, Independent, Normal

    np.testing.assert_allclose(
        Beta(rustdl.tensor(1.0), rustdl.tensor(1.0)).log_prob(rustdl.tensor([0.0, 1.0])).numpy(), [0, 0]
    )
    lp = Beta(rustdl.tensor(2.0), rustdl.tensor(1.0)).log_prob(rustdl.tensor([0.0, 1.0])).numpy()
    assert lp[0] == -np.inf and np.isclose(lp[1], np.log(2.0))
    with pytest.raises(ValueError):
        Exponential(rustdl.tensor(1.5)).cdf(rustdl.tensor([-1.0]))
    ind = Independent(Normal(rustdl.zeros(3), rustdl.ones(3)), 1)
    assert tuple(ind.support.check(rustdl.zeros(3)).shape) == ()


def test_call_forms_pytorch_accepts(tmp_path):
    m = nn.ConvTranspose1d(2, 3, 3, stride=3)
    assert tuple(m(rustdl.ones(1, 2, 4), output_size=[13]).shape) == (1, 3, 13)
    x = rustdl.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(nn.functional.linear(x, rustdl.ones(4)).numpy(), x.numpy().sum(1))
    w, b = rustdl.ones(2, 4), rustdl.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(nn.functional.linear(x, w, b).numpy(), x.numpy() @ np.ones((4, 2)) + b.numpy())
    img = rustdl.tensor([[[[1, 9], [3, 4]]]])
    pooled = nn.functional.max_pool2d(img, 2, return_indices=True)
    assert pooled[0].dtype == rustdl.int64 and pooled[0].item() == 9 and pooled[1].item() == 1
    u8 = rustdl.tensor([[[[1, 2], [3, 250]]]], dtype=rustdl.uint8)
    up = nn.functional.interpolate(u8, scale_factor=2)
    assert up.dtype == rustdl.uint8 and up[0, 0].tolist() == [
        [1, 1, 2, 2],
        [1, 1, 2, 2],
        [3, 3, 250, 250],
        [3, 3, 250, 250],
    ]
    assert tuple(nn.ZeroPad2d(1)(rustdl.ones(1, 2)).shape) == (3, 4)
    path = tmp_path / "ck.pt"
    rustdl.save({"x": rustdl.ones(2)}, str(path))
    assert rustdl.load(str(path), mmap=True)["x"].tolist() == [1.0, 1.0]


def test_device_kinds_without_a_backend_answer_absent():
    import rustdl.mps
    import rustdl.xpu

    for mod in (rustdl.mps, rustdl.xpu):
        assert mod.is_available() is False and mod.device_count() == 0
        mod.synchronize()
        mod.empty_cache()
        mod.manual_seed(0)


def test_gpu_integer_scans_and_long_sorts(gpu):
    # integer cumulative ops are exact: past the GPU's 32 bits they raise, never wrap
    with pytest.raises(ValueError, match="does not fit"):
        rustdl.tensor([2**30, 2**30 + 1], device=gpu).cumsum(0)
    assert rustdl.tensor([3, -4, 5], device=gpu).cumprod(0).tolist() == [3, -12, -60]
    # rows longer than the GPU's own sort handles are sorted on the host, with the same result
    x = np.random.default_rng(0).standard_normal((2, 5000)).astype(np.float32)
    v, i = rustdl.tensor(x, device=gpu).sort(dim=1, descending=True)
    np.testing.assert_array_equal(v.cpu().numpy(), -np.sort(-x, axis=1))
    np.testing.assert_array_equal(i.cpu().numpy(), np.argsort(-x, axis=1, kind="stable"))


def test_uint8_images_resize_bilinearly(device):
    x = (rustdl.arange(12, dtype=rustdl.uint8).reshape(1, 1, 3, 4) * 20).to(device)
    y = nn.functional.interpolate(x, size=(2, 6), mode="bilinear")
    assert y.dtype == rustdl.uint8
    # PyTorch's values for this resize
    assert y.cpu().tolist() == [[[[20, 30, 43, 57, 70, 80], [140, 150, 163, 177, 190, 200]]]]
    with pytest.raises(TypeError):
        nn.functional.interpolate(x.long(), size=(2, 6), mode="bilinear")


def test_a_checkpoint_of_gpu_tensors_loads_back_on_the_gpu(gpu):
    buf = io.BytesIO()
    m = nn.Linear(2, 2).to(gpu)
    rustdl.save({"model": m.state_dict(), "cpu": rustdl.zeros(1)}, buf)
    back = rustdl.load(io.BytesIO(buf.getvalue()))
    assert back["model"]["weight"].device.type == "gpu" and back["cpu"].device.type == "cpu"
    np.testing.assert_array_equal(back["model"]["weight"].cpu().numpy(), m.weight.detach().cpu().numpy())
    assert rustdl.load(io.BytesIO(buf.getvalue()), map_location="cpu")["model"]["bias"].device.type == "cpu"


def test_in_place_edge_cases_of_views_and_out():
    # an in-place change of a view whose elements overlap would sum each element's repeats:
    # refused while autograd records (fine without grad)
    x = rustdl.arange(6.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="overlap"):
        (x * 1.0).unfold(0, 2, 1).mul_(1.0)
    plain = rustdl.arange(6.0)
    plain.unfold(0, 2, 2).mul_(2.0)  # no overlap (step == size)
    assert plain.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    # retain_grad on a view follows it through an in-place change of its base
    x = rustdl.ones(2, 3, requires_grad=True)
    y = x * 2
    v = y[1:]
    v.retain_grad()
    y.mul_(3)
    w = rustdl.tensor([[10.0, 20.0, 30.0]])
    (v * w).sum().backward()
    assert v.grad is not None and v.grad.tolist() == [[10.0, 20.0, 30.0]]
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [60.0, 120.0, 180.0]])
    # reciprocal's gradient reads its output, so its input may change in place afterwards
    b = rustdl.tensor([1.0, 2.0, 4.0], requires_grad=True)
    c = b * 1.0
    r = c.reciprocal()
    c.mul_(2)
    r.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [-1.0, -0.25, -0.0625])
    # out= under autograd raises, as PyTorch (it would silently drop the history)
    a = rustdl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="out="):
        rustdl.add(a, 1.0, out=rustdl.empty(3))
    with rustdl.no_grad():
        buf = rustdl.empty(3)
        rustdl.add(a, 1.0, out=buf)
    assert buf.tolist() == [2.0, 2.0, 2.0]


def test_torch_save_under_torchcompat_writes_pytorchs_zip_format(tmp_path):
    import pickle
    import zipfile

    from rustdl import _torch_format

    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    opt = rustdl.optim.Adam(m.parameters())
    m(rustdl.randn(4, 3)).sum().backward()
    opt.step()
    obj = {"model": m.state_dict(), "opt": opt.state_dict(), "epoch": 3, "big": 2**40, "t": (1, [2.5, None])}
    path = tmp_path / "ck.pt"
    _torch_format.save(obj, str(path))
    # the layout PyTorch's reader expects, checked with the standard library alone
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"archive/data.pkl", "archive/version", "archive/byteorder"} <= names
        raw = z.read("archive/data.pkl")
        records = {n.rsplit("/", 1)[1]: z.read(n) for n in names if n.startswith("archive/data/")}
    rebuilt = []

    class Stub(pickle.Unpickler):
        def find_class(self, module, name):
            allowed = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
                       ("collections", "OrderedDict")}  # fmt: skip
            if (module, name) in allowed:
                if name == "OrderedDict":
                    import collections

                    return collections.OrderedDict
                if name == "_rebuild_parameter":
                    return lambda t, requires_grad, hooks: t
                return lambda storage, offset, size, stride, requires_grad, hooks: (storage, size, stride)
            assert module == "torch" and name.endswith("Storage"), (module, name)
            return name

        def persistent_load(self, pid):
            tag, cls, key, location, numel = pid
            assert tag == "storage" and location == "cpu"
            dt = {"FloatStorage": np.float32, "LongStorage": np.int64}[cls]
            arr = np.frombuffer(records[key], dtype=dt)
            assert arr.size == numel
            rebuilt.append(arr)
            return arr

    tree = Stub(io.BytesIO(raw)).load()
    storage, size, stride = tree["model"]["0.weight"]
    np.testing.assert_array_equal(storage.reshape(size), m[0].weight.detach().numpy())
    assert stride == (3, 1) and tree["epoch"] == 3 and tree["big"] == 2**40 and tree["t"] == (1, [2.5, None])
    # and rustdl reads it back, as a PyTorch checkpoint
    back = rustdl.load(str(path))
    np.testing.assert_array_equal(back["model"]["0.weight"].numpy(), m[0].weight.detach().numpy())
    assert back["model"]["1.num_batches_tracked"].item() == 1
    fresh = rustdl.optim.Adam(m.parameters())
    fresh.load_state_dict(back["opt"])
    # anything but plain data falls back to rustdl's own format (which pickles whole objects)
    assert _torch_format.dumps({"f": np.ones(2)}) is None
