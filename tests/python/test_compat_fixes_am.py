"""Fixes found by the 2026-12-08 rounds: audio DSP libraries (julius, auraloss,
asteroid-filterbanks, nnAudio), Riemannian and Jacobian-descent optimizers, attribution and
per-sample-gradient libraries, and a fuzzer of in-place autograd through views."""

from __future__ import annotations

import math
import warnings

import numpy as np
import rustdl
from conftest import compat_report, run_compat


def test_angle_of_real_input_has_zero_gradient_nan_included():
    # PyTorch's backward of a real angle is zeros everywhere; the NaN entry passed 1 before
    x = rustdl.tensor([-2.0, -0.0, 0.0, 3.0, math.nan, math.inf, -math.inf], requires_grad=True)
    y = rustdl.angle(x)
    got = y.detach().numpy()
    want = np.array([math.pi, 0, 0, 0, math.nan, 0, math.pi])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-6)
    assert y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(7))


def test_complex_real_casts_keep_the_real_part():
    z = rustdl.complex(rustdl.tensor([1.5, 0.0, 0.0]), rustdl.tensor([3.0, 0.0, -1.0]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f, d, h = z.float(), z.double(), z.half()
    assert caught, "casting complex to real warns that the imaginary part is discarded"
    assert f.dtype == rustdl.float32 and d.dtype == rustdl.float64
    np.testing.assert_array_equal(d.numpy(), [1.5, 0.0, 0.0])
    assert h.tolist() == [1.5, 0.0, 0.0]
    assert z.bool().tolist() == [True, False, True]


def test_tracing_probes(tmp_path):
    out = compat_report(
        run_compat(
            tmp_path,
            """
            import json, torch

            @torch.jit.script_if_tracing
            def f(x):
                return x + 1

            print(json.dumps([torch._C._is_tracing(), torch._C._jit_is_script_object(f), f(2)]))
            """,
        )
    )
    assert out == [False, False, 3]


def _accumulator(y):
    """The AccumulateGrad node under ``y = (leaf * k).sum()``."""
    return y.grad_fn.next_functions[0][0].next_functions[0][0]


def test_accumulate_grad_variable_is_the_users_tensor():
    # a library walking next_functions to the leaves (Jacobian descent) sets attributes on them
    makers = [
        lambda: rustdl.tensor([1.0, 2.0], requires_grad=True),
        lambda: rustdl.zeros(2, requires_grad=True),
        lambda: rustdl.arange(2.0, requires_grad=True),
        lambda: rustdl.ones(2).requires_grad_(),
        lambda: rustdl.nn.Parameter(rustdl.ones(2)),
    ]
    for make in makers:
        a = make()
        acc = _accumulator((a * 2).sum())
        assert acc.variable is a
        acc.variable.jac = 1
        assert a.jac == 1
    b = rustdl.ones(2)
    b.requires_grad = True
    assert _accumulator((b * 2).sum()).variable is b


def test_graph_nodes_keep_their_identity():
    a = rustdl.tensor([1.0, 2.0], requires_grad=True)
    z = a * 2
    w = z + z.sin()
    assert w.grad_fn is w.grad_fn
    first = w.grad_fn.next_functions[0][0]
    second = w.grad_fn.next_functions[1][0].next_functions[0][0]
    assert first is second  # MulBackward reached through two paths
    n1 = first.next_functions[0][0]
    n2 = second.next_functions[0][0]
    assert n1 == n2 and len({n1, n2}) == 1
    assert len({n1.variable: 0, n2.variable: 1}) == 1
    # the leaves a Linear layer's graph reaches are its parameters themselves
    lin = rustdl.nn.Linear(2, 2)
    out = lin(rustdl.ones(2)).sum()
    leaves, todo = [], [out.grad_fn]
    while todo:
        for f, _ in todo.pop().next_functions:
            if f is None:
                continue
            if type(f).__name__ == "AccumulateGrad":
                leaves.append(f.variable)
            else:
                todo.append(f)
    assert sorted(map(id, leaves)) == sorted(map(id, lin.parameters()))


def test_views_of_an_expanded_tensor_stay_views_under_autograd():
    # unfold/diagonal/as_strided of an expand were copies with grad on: a later in-place change
    # of the base did not reach them (values and gradients stale)
    x = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    y = x * 1
    u = y[:1].expand(3).unfold(0, 3, 2)
    d = y.unsqueeze(0).expand(2, 2).diagonal()
    s = y.unsqueeze(0).expand(2, 2).as_strided((2,), (1,), 0)
    y.mul_(10)
    assert u.tolist() == [[10.0, 10.0, 10.0]] and d.tolist() == [10.0, 20.0] and s.tolist() == [10.0, 20.0]
    (u.sum() + d.sum() + s.sum()).backward()
    # d/dx of 3·10·x0 + 10·x0 + 10·x1 + 10·x0 + 10·x1
    np.testing.assert_allclose(x.grad.numpy(), [50.0, 20.0])


def test_gradient_of_an_expanded_tensor_through_its_diagonal_and_windows():
    # each element sharing memory takes its own gradient (the positions it was read from)
    x = rustdl.tensor([1.0, 2.0, 3.0], dtype=rustdl.float64, requires_grad=True)
    e = (x * 1)[:2].unsqueeze(0).expand(3, 2)
    e.retain_grad()
    u = e.unfold(0, 2, 1)  # windows along dim 0: u[w, j, k] = e[w + k, j]
    w = rustdl.arange(8.0, dtype=rustdl.float64).reshape(u.shape)
    (u * w).sum().backward(retain_graph=True)
    want = np.zeros((3, 2))
    wn = w.numpy()
    for i in range(2):
        for j in range(2):
            for k in range(2):
                want[i + k, j] += wn[i, j, k]
    np.testing.assert_allclose(e.grad.numpy(), want)
    np.testing.assert_allclose(x.grad.numpy(), [want[:, 0].sum(), want[:, 1].sum(), 0.0])
    e.grad, x.grad = None, None
    (e.diagonal() ** 2).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), [[2.0, 0.0], [0.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 0.0])


def test_data_assignment_with_another_layout_keeps_a_non_leafs_history():
    x = rustdl.tensor([[0.5, -1.2], [0.7, 0.1]], dtype=rustdl.float64, requires_grad=True)
    v = x[:, 0]  # a strided view: the new data's layout differs
    v.data = rustdl.tensor([3.0, 4.0], dtype=rustdl.float64)
    assert v.requires_grad and not v.is_leaf and v.grad_fn is not None
    assert v.tolist() == [3.0, 4.0] and x[:, 0].tolist() == [0.5, 0.7]
    (v * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 0.0], [2.0, 0.0]])
    base = rustdl.linspace(-2, 2, 12, dtype=rustdl.float64).reshape(4, 3)
    w = base[1:2].clone().requires_grad_()
    y = w + 0
    y.retain_grad()
    y.data = base[1:2]  # a slice at an offset
    (y * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[3.0, 3.0, 3.0]])
    np.testing.assert_array_equal(y.grad.numpy(), [[3.0, 3.0, 3.0]])


def test_full_backward_hooks_keep_requires_grad_and_positions():
    seen = []
    loss = rustdl.nn.MSELoss()
    loss.register_forward_hook(lambda m, inp, out: seen.append([t.requires_grad for t in inp]))
    loss.register_full_backward_hook(lambda m, gi, go: seen.append([tuple(g.shape) for g in gi]))
    loss(rustdl.randn(3, requires_grad=True), rustdl.randn(3)).backward()
    # the target stays a tensor that needs no gradient; grad_input gives it zeros
    assert seen == [[True, False], [(3,), (3,)]]

    class Three(rustdl.nn.Module):
        def forward(self, a, n, b):
            return a.detach(), a * b * n, 5

    def shapes(gs):
        return [None if g is None else tuple(g.shape) for g in gs]

    calls = []
    t = Three()
    t.register_full_backward_pre_hook(lambda m, go: (calls.append(shapes(go)), (None, go[1] * 10, None))[1])
    t.register_full_backward_hook(lambda m, gi, go: calls.append((shapes(gi), shapes(go))))
    a = rustdl.ones(2, requires_grad=True)
    t(a, 3, rustdl.ones(2))[1].sum().backward()
    # one entry per argument and per output, None for non-tensors and unreached outputs
    assert calls == [[None, (2,), None], ([(2,), None, (2,)], [None, (2,), None])]
    np.testing.assert_array_equal(a.grad.numpy(), [30.0, 30.0])


def test_tensordot_over_an_empty_dimension():
    a = rustdl.zeros(5, 0)
    assert tuple(rustdl.tensordot(a, a, dims=([1], [1])).shape) == (5, 5)
    assert rustdl.tensordot(a, a, dims=([1], [1])).abs().sum().item() == 0
    assert tuple(rustdl.tensordot(rustdl.zeros(2, 0, 3), rustdl.zeros(0, 3, 4), dims=2).shape) == (2, 4)


class _Tagged(rustdl.Tensor):
    """A subclass outside __torch_function__ with a constructor of its own keywords."""

    __torch_function__ = rustdl._dispatch.disabled_torch_function_impl

    def __new__(cls, data, tag=None, requires_grad=False):
        out = rustdl.Tensor._make_subclass(cls, data, requires_grad)
        out.tag = tag
        return out


class _TaggedParameter(_Tagged, rustdl.nn.Parameter):
    def __new__(cls, data=None, tag=None, requires_grad=True):
        return _Tagged.__new__(cls, data, tag, requires_grad)


def test_parameter_subclass_with_keywords_and_subclass_pickling():
    import copy
    import pickle

    p = _TaggedParameter(rustdl.ones(3), tag="s")
    assert type(p) is _TaggedParameter and p.tag == "s" and p.requires_grad
    t = _Tagged(rustdl.arange(3.0), tag="hi")
    # a pair, as PyTorch's, so a subclass's own __reduce_ex__ can unpack super()'s
    assert len(rustdl.Tensor.__reduce_ex__(t, 2)) == 2
    for u in (pickle.loads(pickle.dumps(t)), copy.copy(t), copy.deepcopy(t)):
        assert type(u) is _Tagged and u.tag == "hi" and u.tolist() == [0.0, 1.0, 2.0]
    q = rustdl.nn.Parameter(rustdl.ones(2))
    q.note = 3  # a Parameter with attributes pickles (it raised before)
    r = pickle.loads(pickle.dumps(q))
    assert type(r) is rustdl.nn.Parameter and r.note == 3


def test_conv_transpose_output_padding_helper():
    from rustdl.nn.modules.conv import _ConvTransposeNd

    assert issubclass(rustdl.nn.ConvTranspose2d, _ConvTransposeNd)
    # called as a function of the geometry (no module), as libraries call PyTorch's
    pads = _ConvTransposeNd._output_padding(
        None, rustdl.zeros(1, 1, 5, 5), [12, 11], [2, 2], [0, 0], [3, 3], 2
    )
    assert list(pads) == [1, 0]
    m = rustdl.nn.ConvTranspose2d(2, 3, 3, stride=2)
    assert tuple(m(rustdl.randn(1, 2, 5, 5), output_size=(1, 3, 12, 11)).shape) == (1, 3, 12, 11)
    assert tuple(m(rustdl.randn(2, 5, 5), output_size=(3, 12, 12)).shape) == (3, 12, 12)


def test_torch_save_keeps_subclasses_and_their_own_pickling(tmp_path):
    out = compat_report(
        run_compat(
            tmp_path,
            """
            import functools, io, json, torch

            class Plain(torch.Tensor):
                __torch_function__ = torch._C._disabled_torch_function_impl

            class Own(torch.Tensor):
                __torch_function__ = torch._C._disabled_torch_function_impl

                def __new__(cls, data, manifold=None, requires_grad=False):
                    t = torch.Tensor._make_subclass(cls, data, requires_grad)
                    t.manifold = manifold
                    return t

                def __reduce_ex__(self, proto):
                    build, args = super().__reduce_ex__(proto)
                    return functools.partial(rebuild, build_fn=build), args + (Own, self.manifold)

            def rebuild(*args, build_fn):
                return args[-2](build_fn(*args[:-2]), manifold=args[-1])

            def round_trip(x):
                buf = io.BytesIO()
                torch.save(x, buf)
                buf.seek(0)
                return torch.load(buf, weights_only=False)

            p = torch.Tensor._make_subclass(Plain, torch.arange(3.0), False)
            p.tag = "hi"
            u, v = round_trip(p), round_trip(Own(torch.ones(2), manifold="sphere"))
            print(json.dumps([type(u).__name__, u.tag, type(v).__name__, v.manifold, v.tolist()]))
            """,
        )
    )
    assert out == ["Plain", "hi", "Own", "sphere", [1.0, 1.0]]


def test_vmap_over_autograd_grad_frees_the_graph_once():
    x = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x**2
    jac = rustdl.func.vmap(lambda v: rustdl.autograd.grad(y, x, v, retain_graph=False)[0])(rustdl.eye(3))
    np.testing.assert_allclose(jac.numpy(), np.diag([2.0, 4.0, 6.0]))
    try:  # the last sample's call freed it, as PyTorch's one batched backward does
        rustdl.autograd.grad(y.sum(), x)
    except RuntimeError as e:
        assert "second time" in str(e)
    else:
        raise AssertionError("the graph should have been freed")


def test_gradient_edges_and_increment_version():
    from rustdl.autograd.graph import GradientEdge, get_gradient_edge, increment_version

    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = (y**2).sum()
    e, ex = get_gradient_edge(y), get_gradient_edge(x)
    assert isinstance(e, GradientEdge) and e.node == y.grad_fn and e.output_nr == 0
    assert type(ex.node).__name__ == "AccumulateGrad" and ex.node.variable is x
    gy, gx = rustdl.autograd.grad(z, [e, ex])
    np.testing.assert_allclose(gy.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(gx.numpy(), [18.0, 36.0])
    w = rustdl.ones(2, requires_grad=True)
    s = (w * w).sum()
    v0 = w._version
    increment_version(w)
    assert w._version == v0 + 1
    try:
        s.backward()
    except RuntimeError as err:
        assert "modified by an inplace operation" in str(err) or "in-place" in str(err)
    else:
        raise AssertionError("backward through a tensor whose version moved should raise")


def test_masked_and_indexed_writes_into_an_expanded_tensor_all_land():
    # every alias written reaches memory; an alias keeping its value does not undo it
    y = rustdl.tensor([1.0, 2.0, 3.0])
    y.expand(2, 3).masked_fill_(rustdl.tensor([[True, False, False], [False, False, True]]), 0.5)
    assert y.tolist() == [0.5, 2.0, 0.5]
    z = rustdl.tensor([1.0, math.nan, 3.0])
    z.expand(2, 3).masked_fill_(rustdl.tensor([[False, True, False], [False, False, False]]), 0.5)
    assert z.tolist() == [1.0, 0.5, 3.0]
    w = rustdl.zeros(3, dtype=rustdl.int64)
    e = w.expand(2, 3)
    v0 = w._version
    e[rustdl.tensor([[True, False, True], [False, True, False]])] = 4
    assert w.tolist() == [4, 4, 4] and w._version > v0
    b = rustdl.arange(6.0).reshape(2, 3)
    b[:, None, :].expand(2, 4, 3)[:, 1, 2] = -1
    assert b.tolist() == [[0.0, 1.0, -1.0], [3.0, 4.0, -1.0]]


def test_view_taken_while_its_base_required_grad_stays_refused():
    import pytest

    for stop in (lambda t: t.requires_grad_(False), lambda t: t.detach_()):
        x = rustdl.tensor([0.5, -1.0], dtype=rustdl.float64, requires_grad=True)
        v = x[:]
        stop(x)
        with pytest.raises(RuntimeError, match="view of a leaf"):
            v.mul_(2)
        # nothing was written or recorded
        assert x.is_leaf and not x.requires_grad and x.grad_fn is None and x.tolist() == [0.5, -1.0]
        with rustdl.no_grad():
            v.mul_(2)
        assert x.tolist() == [1.0, -2.0]


def test_copies_and_inplace_shape_ops_are_no_views():
    leaf = rustdl.arange(6.0, dtype=rustdl.float64).reshape(2, 3).requires_grad_()
    r = leaf.t().flatten()  # a copy: PyTorch's has no _base, so detach_ works
    assert r._base is None
    r.detach_()
    assert not r.requires_grad
    g = leaf.t().reshape(6)
    (g * rustdl.arange(6.0, dtype=rustdl.float64)).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]])
    x = rustdl.ones(2, 3, dtype=rustdl.float64, requires_grad=True)
    y = x * 2
    v0 = y._version
    y.t_()
    assert y._version == v0 + 1 and y._base is None and y.grad_fn is not None
    (y * rustdl.arange(6.0, dtype=rustdl.float64).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 4.0, 8.0], [2.0, 6.0, 10.0]])
    y.detach_()
    assert y.grad_fn is None


def test_parameter_subclass_copy_keeps_attributes_and_accumulators_are_one_object():
    import copy

    class Tagged(rustdl.nn.Parameter):
        pass

    p = Tagged(rustdl.ones(2))
    p.tag = 1
    q = copy.copy(p)
    assert type(q) is rustdl.nn.Parameter and q.tag == 1 and q.data_ptr() == p.data_ptr()
    a = rustdl.tensor([1.0, 2.0], requires_grad=True)
    z = a * 2
    w = z + z.sin()
    n1 = w.grad_fn.next_functions[0][0].next_functions[0][0]
    n2 = w.grad_fn.next_functions[1][0].next_functions[0][0].next_functions[0][0]
    assert n1 is n2


def test_asgd_scalars_follow_the_default_dtype_and_quantile_dtype_checks():
    import pytest

    old = rustdl.get_default_dtype()
    rustdl.set_default_dtype(rustdl.float64)
    try:
        p = rustdl.nn.Parameter(rustdl.tensor([1.0, -2.0, 3.0]))
        opt = rustdl.optim.ASGD([p], lr=1e-2, t0=2, lambd=1e-3)
        (p**2).sum().backward()
        opt.step()
        assert opt.state[p]["eta"].dtype == rustdl.float64
        # p ← p·(1 − λ·η) − η·g with η = 0.01 exactly (float32 rounding moved it by 4e-10)
        assert p[0].item() == 1.0 * (1 - 1e-3 * 1e-2) - 1e-2 * 2.0
    finally:
        rustdl.set_default_dtype(old)
    with pytest.raises(RuntimeError, match="same dtype"):
        rustdl.quantile(rustdl.arange(5.0), rustdl.tensor([0.5], dtype=rustdl.float64))
    with pytest.raises(RuntimeError, match="floating"):
        rustdl.quantile(rustdl.arange(5), 0.5)


def test_torchcompat_runs_a_module(tmp_path):
    (tmp_path / "probe_mod.py").write_text(
        "import sys, torch\nprint(sys.argv[1:], torch.__name__)\nsys.exit(3)\n"
    )
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "rustdl.torchcompat", "-m", "probe_mod", "a", "b"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip() == "['a', 'b'] torch"
