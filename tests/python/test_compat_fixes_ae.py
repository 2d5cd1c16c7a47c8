"""Fixes of the 2026-12-07 round: the fused kernels' create_graph rule kept on their own node,
and element-wise details checked against PyTorch's documented formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F


def _packed_lstm_grads(create_graph):
    rustdl.manual_seed(0)
    m = rustdl.nn.LSTM(3, 4, bidirectional=True).double()
    x = rustdl.randn(6, 3, 3, dtype=rustdl.float64, requires_grad=True)
    packed = rustdl.nn.utils.rnn.pack_padded_sequence(x, [6, 4, 2], enforce_sorted=False)
    out, _ = m(packed)
    padded, _ = rustdl.nn.utils.rnn.pad_packed_sequence(out)
    params = [x, *m.parameters()]
    return rustdl.autograd.grad(padded.pow(2).sum(), params, create_graph=create_graph)


def test_create_graph_gradient_of_a_packed_lstm_equals_the_fused_kernels():
    # the create_graph rule recomputes step by step; its first-order values must be the fused
    # kernel's (lengths, both directions), and its result must carry a history
    fused = _packed_lstm_grads(False)
    recomputed = _packed_lstm_grads(True)
    for a, b in zip(fused, recomputed):
        assert not a.requires_grad and b.requires_grad
        np.testing.assert_allclose(b.detach().numpy(), a.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "attention"])
def test_create_graph_backward_through_a_freed_or_modified_fused_node_raises(kind):
    rustdl.manual_seed(0)
    x = rustdl.randn(4, 2, 3, dtype=rustdl.float64, requires_grad=True)
    if kind == "lstm":
        m = rustdl.nn.LSTM(3, 3).double()

        def forward():
            return m(x)[0].pow(2).sum()

        weight = m.weight_hh_l0
    else:
        weight = rustdl.randn(4, 2, 3, dtype=rustdl.float64, requires_grad=True)

        def forward():
            return F.scaled_dot_product_attention(x, weight * 1.0, weight * 2.0).pow(2).sum()

    loss = forward()
    loss.backward()  # frees the graph
    with pytest.raises(RuntimeError, match="second time"):
        rustdl.autograd.grad(loss, x, create_graph=True)
    # an input changed in place after the forward: refused as PyTorch refuses a modified saved
    # tensor, rather than differentiating the new values
    loss = forward()
    with rustdl.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        rustdl.autograd.grad(loss, x, create_graph=True)


def test_hardswish_keeps_the_sign_of_zero_below_minus_three():
    # PyTorch: x·relu6(x + 3)/6, so x <= -3 gives x·0 (-0.0 for a finite x, NaN for -inf)
    x = rustdl.tensor([-3.0, -5.0, -1e30, float("-inf"), 0.0, -0.0, 1.5, 4.0], requires_grad=True)
    y = F.hardswish(x)
    vals = y.tolist()
    for got, v in zip(vals, [-3.0, -5.0, -1e30, float("-inf"), 0.0, -0.0, 1.5, 4.0]):
        if math.isinf(v):
            assert math.isnan(got)
            continue
        want = v * min(max(v + 3.0, 0.0), 6.0) / 6.0
        assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), (v, got)
    y.sum().backward()
    # the gradient: 0 up to -3 (infinity included), x/3 + 1/2 between, 1 from 3 on
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0]


# ---------- library round: ignite, botorch, diffusers, peft, sentence-transformers ----------


def _mt19937_raw(seed, n):
    """The 32-bit outputs of MT19937 seeded as PyTorch's CPU generator (init_genrand)."""
    bg = np.random.MT19937()
    bg._legacy_seeding(seed)
    return [int(v) for v in bg.random_raw(n)]


@pytest.mark.parametrize("dtype", [rustdl.int64, rustdl.int32, rustdl.float64])
def test_randint_takes_64_bit_draws_from_a_range_of_two_to_the_28(dtype):
    # PyTorch's released builds: (v % range) + low with v one 32-bit draw below 2^28, else a
    # 64-bit draw (first output high, second low), whatever the dtype
    raw = _mt19937_raw(5, 8)
    rustdl.manual_seed(5)
    assert rustdl.randint(0, 2**28 - 1, (4,), dtype=dtype).tolist() == [v % (2**28 - 1) for v in raw[:4]]
    rustdl.manual_seed(5)
    wide = [((raw[2 * i] << 32) | raw[2 * i + 1]) % 2**30 - 2**29 for i in range(3)]
    assert rustdl.randint(-(2**29), 2**29, (3,), dtype=dtype).tolist() == wide


def test_module_dict_updates_from_another_and_to_keeps_none():
    from rustdl import nn

    d = nn.ModuleDict()
    d.update(nn.ModuleDict({"a": nn.Identity(), "b": nn.ReLU()}))
    assert list(nn.ModuleDict(d)) == ["a", "b"]
    d.update([("c", nn.Tanh())])
    assert list(d) == ["a", "b", "c"]
    with pytest.raises(TypeError, match="element #0 should be Iterable"):
        nn.ModuleDict([1])
    with pytest.raises(ValueError, match="has length 3; 2 is required"):
        nn.ModuleDict([("a", nn.ReLU(), 1)])
    with pytest.raises(TypeError, match="iterable of key/value pairs"):
        d.update(3)
    lin = nn.Linear(2, 2)
    assert lin.to("cpu", None) is lin and lin.weight.dtype == rustdl.float32
    assert lin.to(None, rustdl.float64).weight.dtype == rustdl.float64
    assert lin.to("cpu", rustdl.float32, True).weight.dtype == rustdl.float32  # non_blocking by position


def test_pytree_private_flatten_functions_register_a_dict_subclass():
    import rustdl.utils._pytree as pt

    class Out(dict):
        pass

    pt.register_pytree_node(Out, pt._dict_flatten, lambda v, c: Out(pt._dict_unflatten(v, c)))
    leaves, spec = pt.tree_flatten(Out(a=1, b=[2, 3]))
    assert leaves == [1, 2, 3]
    back = pt.tree_unflatten([4, 5, 6], spec)
    assert type(back) is Out and back == {"a": 4, "b": [5, 6]}
    assert pt._list_flatten([1, 2]) == ([1, 2], None) and pt._tuple_unflatten([1], None) == (1,)
    assert pt._deque_unflatten([1], 3).maxlen == 3


def test_checkpoint_device_states_round_trip():
    from rustdl.gradient_checkpoint import get_device_states, set_device_states

    assert get_device_states(rustdl.zeros(1), {"x": [rustdl.ones(2)]}) == ([], [])
    set_device_states([], [])


def test_batch_sampler_and_sparse_half_constructor():
    from rustdl.data import BatchSampler, ConcatDataset, TensorDataset

    ds = ConcatDataset([TensorDataset(rustdl.arange(3)), TensorDataset(rustdl.arange(2))])
    assert len(BatchSampler(ds, batch_size=2, drop_last=False)) == 3
    t = rustdl.sparse.HalfTensor(rustdl.tensor([[0, 1], [1, 0]]), rustdl.tensor([2.0, 3.0]), (2, 2))
    assert t.to_dense().tolist() == [[0.0, 2.0], [3.0, 0.0]]


def test_loader_public_attributes_rebuild_it():
    # PyTorch's public attributes are the constructor's arguments (no `shuffle`), so code that
    # rebuilds a loader with another batch sampler from them (ignite, Lightning) works
    from rustdl.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

    dl = DataLoader(TensorDataset(rustdl.arange(10.0)), batch_size=4, shuffle=True)
    public = sorted(k for k in dl.__dict__ if not k.startswith("_"))
    assert public == [
        "batch_sampler", "batch_size", "collate_fn", "dataset", "drop_last", "generator", "in_order",
        "num_workers", "persistent_workers", "pin_memory", "pin_memory_device", "prefetch_factor",
        "sampler", "timeout", "worker_init_fn",
    ]  # fmt: skip
    kw = {
        k: getattr(dl, k) for k in public if k not in ("batch_size", "sampler", "drop_last", "batch_sampler")
    }
    again = DataLoader(**kw, batch_sampler=BatchSampler(RandomSampler(dl.dataset), 4, False))
    assert sorted(float(v) for (b,) in again for v in b) == [float(i) for i in range(10)]
    assert dl.multiprocessing_context is None


def test_compat_names_sentence_transformers_diffusers_peft_botorch_need(tmp_path):
    from conftest import compat_report, run_compat

    proc = run_compat(
        tmp_path,
        """
        import json, torch
        from torch.distributions import Normal
        from torch.utils.checkpoint import get_device_states, set_device_states
        from torch.utils.cpp_extension import load, CUDA_HOME
        try:
            load("ext", ["ext.cpp"])
            refused = None
        except RuntimeError as e:
            refused = str(e)
        s = Normal(torch.zeros(2), 1.0)._extended_shape((3,))
        print(json.dumps({"shape": [type(s).__name__, list(s)], "refused": refused, "cuda_home": CUDA_HOME}))
        """,
    )
    r = compat_report(proc)
    assert r["shape"] == ["Size", [3, 2]] and r["cuda_home"] is None
    assert "cannot build C++/CUDA extensions" in r["refused"]


def test_sobol_engine_unscrambled_is_scipys_sequence_and_pytorchs_documented_points():
    from rustdl.quasirandom import SobolEngine
    from scipy.stats import qmc

    e = SobolEngine(5)
    assert e.draw(3).tolist() == [[0.0] * 5, [0.5] * 5, [0.75, 0.25, 0.25, 0.25, 0.75]]  # PyTorch's doc
    for d in (1, 7, 300):
        ref = qmc.Sobol(d, scramble=False, bits=30).random_base2(7)
        got = SobolEngine(d).draw(128, dtype=rustdl.float64).numpy()
        np.testing.assert_array_equal(got, ref)
    # drawing in pieces, fast-forwarding and resetting walk the same sequence
    e = SobolEngine(4)
    whole = e.draw(40, dtype=rustdl.float64).numpy()
    e.reset()
    parts = np.concatenate(
        [e.draw(1, dtype=rustdl.float64).numpy(), e.draw(12, dtype=rustdl.float64).numpy()]
    )
    e.fast_forward(10)
    np.testing.assert_array_equal(parts, whole[:13])
    np.testing.assert_array_equal(e.draw(17, dtype=rustdl.float64).numpy(), whole[23:40])
    assert e.num_generated == 40
    with pytest.raises(ValueError, match="power of 2"):
        e.draw_base2(3)
    with pytest.raises(ValueError, match=r"\[1, 21201\]"):
        SobolEngine(0)


def test_scrambled_sobol_points_are_a_net_and_follow_pytorchs_seeded_stream():
    from rustdl.quasirandom import SobolEngine

    m = 6
    pts = SobolEngine(3, scramble=True, seed=11).draw_base2(m, dtype=rustdl.float64).numpy()
    # a (0, m, 2)-net in dims 0 and 1: every elementary box of area 2^-m holds exactly one point
    for a in range(m + 1):
        cells = np.floor(pts[:, 0] * 2**a).astype(int) * 2 ** (m - a) + np.floor(
            pts[:, 1] * 2 ** (m - a)
        ).astype(int)
        assert sorted(cells) == list(range(2**m)), a
    for d in range(3):  # each dimension stratified
        assert sorted(np.floor(pts[:, d] * 2**m).astype(int)) == list(range(2**m))
    # PyTorch 2.15's points for SobolEngine(3, scramble=True, seed=0) (recorded from PyTorch)
    want = [
        [0.47510719299316406, 0.592523992061615, 0.4944792091846466],
        [0.6355292368680239, 0.17165081854909658, 0.8551316680386662],
        [0.9233333831652999, 0.7557031977921724, 0.11520141456276178],
        [0.21601909678429365, 0.4889399856328964, 0.7226877147331834],
    ]
    assert SobolEngine(3, scramble=True, seed=0).draw(4, dtype=rustdl.float64).tolist() == want
    # no seed: the scrambling draws from the global generator (and advances it)
    rustdl.manual_seed(3)
    a = SobolEngine(4, scramble=True).draw(5)
    after = rustdl.rand(1).item()
    rustdl.manual_seed(3)
    assert SobolEngine(4, scramble=True).draw(5).tolist() == a.tolist() and rustdl.rand(1).item() == after


# ---------- in-place / view autograd round (random differential programs) ----------


def test_double_backward_through_boolean_mask_assignment():
    # b[m] = b[m]**2: db/da = 2a where m else 1; d/da Σ (db/da)² = Σ 8a where m (finite check)
    a = rustdl.tensor([0.5, -1.0, 2.0], dtype=rustdl.float64, requires_grad=True)

    def first(a, create_graph):
        b = a * 1
        m = b > 0
        b[m] = b[m] ** 2
        (g,) = rustdl.autograd.grad(b.sum(), [a], create_graph=create_graph)
        return g

    g = first(a, True)
    np.testing.assert_allclose(g.detach().numpy(), [1.0, 1.0, 4.0])
    (g**2).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [4.0, 0.0, 16.0])
    eps = 1e-6
    for i in range(3):
        up, down = a.detach().clone(), a.detach().clone()
        up[i] += eps
        down[i] -= eps
        fd = (
            (first(up.requires_grad_(), False) ** 2).sum() - (first(down.requires_grad_(), False) ** 2).sum()
        ) / (2 * eps)
        assert abs(float(fd) - float(a.grad[i])) < 1e-5


def test_constant_fills_of_an_expanded_tensor_are_allowed_as_pytorch():
    base = rustdl.tensor([1.0, 2.0, 3.0])
    e = base.expand(2, 3)
    e.fill_(0.5)
    assert base.tolist() == [0.5, 0.5, 0.5]
    base.expand(2, 3).zero_()
    assert base.tolist() == [0.0, 0.0, 0.0]
    base.expand(2, 3).masked_fill_(rustdl.ones(2, 3, dtype=rustdl.bool), 4.0)
    assert base.tolist() == [4.0, 4.0, 4.0]
    with pytest.raises(RuntimeError, match="single memory location"):
        base.expand(2, 3).add_(1.0)  # a value computed from the element: still refused


def test_flatten_of_one_dim_into_itself_is_the_tensor():
    x = rustdl.arange(3.0)
    assert x.flatten() is x and rustdl.flatten(x) is x
    y = rustdl.zeros(2, 3)
    assert y.flatten(1, 1) is y and y.flatten() is not y and tuple(y.flatten().shape) == (6,)
    x.flatten().unsqueeze_(0)  # the result is x itself
    assert tuple(x.shape) == (1, 3)
    assert tuple(rustdl.zeros(()).flatten().shape) == (1,) and tuple(rustdl.zeros(2, 0).flatten().shape) == (
        0,
    )


def test_hooks_registered_on_a_view_before_it_is_changed_in_place_do_not_fire():
    # PyTorch: the base's gradient reaches the view's old value without passing through the
    # view's old node (CopySlices), so a hook registered there before does not run; a hook on a
    # plain tensor changed in place still runs (on the gradient of its old value)
    seen = []

    def scaled(g):
        seen.append(g.tolist())
        return g * 10

    a = rustdl.tensor([1.0, 2.0, 3.0], dtype=rustdl.float64, requires_grad=True)
    b = a * 1
    v = b[:2]
    v.register_hook(scaled)
    v.mul_(2)
    b.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 1.0] and seen == []
    # the same under no_grad: the view reads a fresh history afterwards
    a.grad = None
    b = a * 1
    v = b[1:]
    v.register_hook(scaled)
    with rustdl.no_grad():
        v.add_(1)
    (v * v).sum().backward()
    assert a.grad.tolist() == [0.0, 6.0, 8.0] and seen == []
    a.grad = None
    b = a * 1
    b.register_hook(scaled)
    b.mul_(2)
    b.sum().backward()
    assert a.grad.tolist() == [20.0, 20.0, 20.0] and seen == [[2.0, 2.0, 2.0]]


def test_random_bounds_outside_an_integer_dtype_are_refused():
    # PyTorch: from and to - 1 must be values of the dtype (the draws would wrap around)
    for dtype, lo, hi, word in [
        (rustdl.int8, 0, 300, "to - 1 is out of bounds for signed char"),
        (rustdl.uint8, -1, 10, "from is out of bounds for unsigned char"),
        (rustdl.bool, 0, 3, "to - 1 is out of bounds for bool"),
        (rustdl.int32, 0, 2**31 + 1, "to - 1 is out of bounds for int"),
    ]:
        with pytest.raises(RuntimeError, match=word):
            rustdl.randint(lo, hi, (3,), dtype=dtype)
        with pytest.raises(RuntimeError, match=word):
            rustdl.zeros(3, dtype=dtype).random_(lo, hi)
    assert set(rustdl.randint(-128, 128, (200,), dtype=rustdl.int8).tolist()) <= set(range(-128, 128))
    # random_'s argument forms: random_(to), random_(from, to), keywords, to=None (dtype max)
    raw = _mt19937_raw(0, 3)
    rustdl.manual_seed(0)
    assert rustdl.zeros(3, dtype=rustdl.int64).random_(to=10).tolist() == [v % 10 for v in raw]
    rustdl.manual_seed(0)
    assert rustdl.zeros(3).random_(**{"from": 2, "to": 10}).tolist() == [2 + v % 8 for v in raw]
    rustdl.manual_seed(0)
    assert rustdl.zeros(3, dtype=rustdl.int16).random_(0, None).tolist() == [v % 2**15 for v in raw]
    with pytest.raises(TypeError, match="must be int"):
        rustdl.zeros(2).random_(1.5)


def test_monai_round_compat_names(tmp_path):
    from conftest import compat_report, run_compat

    proc = run_compat(
        tmp_path,
        """
        import json, warnings, numpy as np, torch, torch.fft
        from typing import Dict, List, Optional, Tuple
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            g = torch.meshgrid(torch.arange(2), torch.arange(3))
        s = torch.Size([20, 24])
        try:
            s + [1]
            listed = "ok"
        except TypeError:
            listed = "TypeError"
        m = torch.nn.Conv2d(1, 2, 3)
        x = torch.ones(1, 1, 5, 5)
        print(json.dumps({
            "kw": torch.meshgrid.__kwdefaults__, "warned": any("indexing" in str(v.message) for v in w),
            "grid": list(g[0].shape), "frozen": torch.backends.flags_frozen(),
            "file": torch.fft.__file__.endswith(".py"),
            "jit": [torch.jit.isinstance({"a": torch.ones(1)}, Dict[str, torch.Tensor]),
                    torch.jit.isinstance([1, "a"], List[int]),
                    torch.jit.isinstance((1, None), Tuple[int, Optional[str]])],
            "trace": list(torch.jit.trace(m, [x])(x).shape),
            "size_np": (s + np.array([1, 2])).tolist(), "size_list": listed,
            "size_tuple": [type(s + (3,)).__name__, list(s + (3,))],
        }))
        """,
    )
    r = compat_report(proc)
    assert r["kw"] == {"indexing": None} and r["warned"] and r["grid"] == [2, 3]
    assert r["frozen"] is False and r["file"]
    assert r["jit"] == [True, False, True] and r["trace"] == [1, 2, 3, 3]
    assert r["size_np"] == [21, 26] and r["size_list"] == "TypeError"
    assert r["size_tuple"] == ["Size", [20, 24, 3]]


def test_ultralytics_round_padding_bases_reprs_and_bce_dtype():
    from rustdl import nn
    from rustdl.nn.modules import padding

    # thop keys a table by PyTorch's private padding bases
    assert issubclass(nn.ReflectionPad2d, padding._ReflectionPadNd)
    assert issubclass(nn.ReplicationPad3d, padding._ReplicationPadNd)
    assert issubclass(nn.CircularPad1d, padding._CircularPadNd)
    assert nn.ReflectionPad1d(2)(rustdl.arange(4.0).reshape(1, 1, 4)).tolist() == [
        [[2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 1.0]]
    ]
    assert (
        repr(nn.SiLU(inplace=True)) == "SiLU(inplace=True)"
        and repr(nn.Hardswish(inplace=True)) == "Hardswish()"
    )
    # the result takes the target's float dtype, as PyTorch's; the input's gradient keeps its own
    x = rustdl.tensor([0.3, -1.2], dtype=rustdl.float64, requires_grad=True)
    t = rustdl.tensor([1.0, 0.0])
    loss = rustdl.nn.functional.binary_cross_entropy_with_logits(x, t)
    assert loss.dtype == rustdl.float32
    want = np.mean([np.log1p(np.exp(-0.3)), np.log1p(np.exp(-1.2))])  # t=1: log1p(e^-x); t=0: log1p(e^x)
    assert abs(loss.item() - want) < 1e-6
    loss.backward()
    assert x.grad.dtype == rustdl.float64
    np.testing.assert_allclose(
        x.grad.numpy(), (1 / (1 + np.exp(-x.detach().numpy())) - [1.0, 0.0]) / 2, rtol=1e-6
    )


@pytest.mark.parametrize("opt_cls", ["SGD", "Adam"])
def test_optimizer_state_of_a_parameter_reshaped_in_place_is_refused(opt_cls):
    # the (2, 3) momentum would be read row-major as (3, 2): PyTorch's update fails on the
    # size mismatch, and so does rustdl's instead of updating the wrong elements
    x = rustdl.zeros(2, 3, dtype=rustdl.float64, requires_grad=True)
    kw = {"momentum": 1.0} if opt_cls == "SGD" else {}
    opt = getattr(rustdl.optim, opt_cls)([x], lr=1.0, **kw)
    (x * rustdl.arange(6.0, dtype=rustdl.float64).reshape(2, 3)).sum().backward()
    opt.step()
    with rustdl.no_grad():
        x.t_()
    before = x.detach().clone()
    opt.zero_grad()
    (x * 0).sum().backward()
    with pytest.raises(RuntimeError, match="changed in place since the state was made"):
        opt.step()
    assert x.tolist() == before.tolist()


def test_cdist_inf_and_zero_norm_gradients_and_empty_coordinates():
    a = rustdl.tensor([[0.0, 0.0], [1.0, 3.0]], dtype=rustdl.float64, requires_grad=True)
    b = rustdl.tensor([[1.0, 1.0], [0.0, 0.5]], dtype=rustdl.float64, requires_grad=True)
    w = rustdl.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=rustdl.float64)
    d = rustdl.cdist(a, b, p=float("inf"))
    assert d.tolist() == [[1.0, 0.5], [2.0, 2.5]]
    ga, gb = rustdl.autograd.grad((d * w).sum(), (a, b))
    # every coordinate at the maximum takes the full weight (|0-1| = |0-1| tie for pair (0, 0)),
    # signed by the difference; the others nothing
    assert ga.tolist() == [[-1.0, -3.0], [0.0, 7.0]] and gb.tolist() == [[1.0, -2.0], [0.0, -2.0]]
    d0 = rustdl.cdist(a, b, p=0)
    assert d0.tolist() == [[2.0, 1.0], [1.0, 2.0]] and d0.requires_grad
    assert all(g.abs().sum().item() == 0 for g in rustdl.autograd.grad(d0.sum(), (a, b)))
    assert rustdl.cdist(rustdl.zeros(3, 0), rustdl.zeros(2, 0), p=float("inf")).tolist() == [[0.0, 0.0]] * 3


def test_loader_sampler_may_be_a_sequence():
    from rustdl.data import DataLoader, Dataset, TensorDataset

    class Reverse(Dataset):  # indices through __getitem__ up to IndexError, as PyTorch iterates it
        def __len__(self):
            return 4

        def __getitem__(self, i):
            if i >= 4:
                raise IndexError(i)
            return 3 - i

    ds = TensorDataset(rustdl.arange(4.0))
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=Reverse())] == [
        [3.0, 2.0],
        [1.0, 0.0],
    ]
    with pytest.raises(TypeError, match="sampler must be iterable"):
        DataLoader(ds, sampler=5)
