"""The ``__torch_function__`` protocol: Tensor subclasses, objects defining ``__torch_function__``
and ``TorchFunctionMode`` see the calls of the public API, with PyTorch's rules (checked against
PyTorch's documented behaviour, closed-form gradients and numpy)."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
import rustdl.nn.functional as F
from rustdl import overrides
from rustdl._dispatch import DisableTorchFunction, DisableTorchFunctionSubclass


class Plain(rustdl.Tensor):
    """A subclass with no hook of its own: Tensor.__torch_function__ keeps the type."""


class Logged(rustdl.Tensor):
    seen: list = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.seen.append((func, tuple(t.__name__ for t in types)))
        return super().__torch_function__(func, types, args, kwargs)


class Tagged(rustdl.Tensor):
    """Metadata carried through ops, as medical-imaging tensors carry their affine."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        out = super().__torch_function__(func, types, args, kwargs)
        tags = [a.tag for a in args if isinstance(a, Tagged) and hasattr(a, "tag")]
        if isinstance(out, Tagged) and tags and not hasattr(out, "tag"):
            out.tag = tags[0]
        return out


def tagged(values, tag):
    t = rustdl.tensor(values).as_subclass(Tagged)
    t.tag = tag
    return t


def test_results_of_ops_on_a_subclass_keep_its_type_and_values():
    x = np.array([[1.0, -2.0], [3.0, 0.5]], dtype=np.float32)
    a = rustdl.tensor(x).as_subclass(Plain)
    for out, ref in [
        (a * 2, x * 2),
        (a + 1, x + 1),
        (1 - a, 1 - x),
        (a @ a, x @ x),
        (a.T, x.T),
        (rustdl.exp(a), np.exp(x)),
        (F.relu(a), np.maximum(x, 0)),
        (a.sum(0), x.sum(0)),
        (a[0], x[0]),
        (a.data, x),
        (a.detach(), x),
        (rustdl.cat([a, rustdl.tensor(x)]), np.concatenate([x, x])),
    ]:
        assert type(out) is Plain
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    values, indices = a.max(0)
    assert type(values) is Plain and type(indices) is Plain
    assert indices.tolist() == [1, 1]
    # non-tensor results are left alone
    assert type(a.shape) is not Plain and a.tolist() == x.tolist() and type(a[0, 0].item()) is float
    parts = a.unbind(0)
    assert isinstance(parts, tuple) and all(type(p) is Plain for p in parts)


def test_parameters_opt_out_and_a_subclass_wins_over_a_plain_tensor():
    p = nn.Parameter(rustdl.ones(2))
    assert type(p * 2) is rustdl.Tensor and type(p.T) is rustdl.Tensor
    assert not overrides.has_torch_function((p,))
    a = rustdl.ones(2).as_subclass(Plain)
    for out in (a + p, p + a, rustdl.ones(2) + a, a + rustdl.ones(2), rustdl.add(rustdl.ones(2), a)):
        assert type(out) is Plain
    assert overrides.has_torch_function((1, a))


def test_gradients_flow_through_subclass_results():
    x = rustdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = x.as_subclass(Plain)
    y = (a * a).sum() + (3 * a).mean()
    assert type(y) is Plain
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, 2.0, 3.0]) + 1.0, rtol=1e-6)
    # a leaf made directly as a subclass collects its own gradient
    w = rustdl.Tensor._make_subclass(Plain, rustdl.tensor([0.5, -1.0]), True)
    (w**3).sum().backward()
    assert type(w.grad) is rustdl.Tensor  # a gradient is given back as it is, as PyTorch's
    np.testing.assert_allclose(w.grad.numpy(), 3 * np.array([0.5, -1.0]) ** 2, rtol=1e-6)


def test_the_hook_gets_the_public_function_and_the_overriding_types():
    b = rustdl.randn(3, 2).as_subclass(Logged)
    Logged.seen.clear()
    b + 1
    b.sum()
    rustdl.cat([b, b])
    b[0]
    len(b)
    _ = b.shape
    F.linear(b, rustdl.randn(4, 2))
    nn.Linear(2, 5)(b)
    funcs = [f for f, _ in Logged.seen]
    assert rustdl.Tensor.add in funcs  # `b + 1` is handed over as Tensor.add, as PyTorch's
    assert rustdl.Tensor.sum in funcs
    assert rustdl.cat in funcs
    assert rustdl.Tensor.__getitem__ in funcs
    assert rustdl.Tensor.__len__ in funcs
    assert rustdl.Tensor.shape.__get__ in funcs
    assert funcs.count(F.linear) == 2  # also from inside nn.Linear
    assert all(types == ("Logged",) for _, types in Logged.seen)
    # the calls a hook's own super() makes are not seen again
    Logged.seen.clear()
    out = b * b
    assert [f for f, _ in Logged.seen] == [rustdl.Tensor.mul] and type(out) is Logged


def test_metadata_rides_through_a_network_and_indexing():
    t = tagged([[1.0, 2.0], [3.0, 4.0]], "scan-7")
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    out = net(t)
    assert type(out) is Tagged and out.tag == "scan-7"
    assert t[1:].tag == "scan-7" and (t * t).tag == "scan-7"
    w = net[0].weight.detach().numpy()
    ref = np.maximum(np.array([[1.0, 2.0], [3.0, 4.0]]) @ w.T + net[0].bias.detach().numpy(), 0)
    ref = ref @ net[2].weight.detach().numpy().T + net[2].bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-5)


def test_subclasses_are_asked_before_their_bases_and_not_implemented_passes_on():
    order = []

    class Base(rustdl.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            order.append(("Base", tuple(t.__name__ for t in types)))
            return "base"

    class Child(Base):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            order.append(("Child", tuple(t.__name__ for t in types)))
            return NotImplemented

    base = rustdl.ones(2).as_subclass(Base)
    child = rustdl.ones(2).as_subclass(Child)
    assert rustdl.add(base, child) == "base"
    assert order == [("Child", ("Child", "Base")), ("Base", ("Child", "Base"))]

    class Refuses(rustdl.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return NotImplemented

    r = rustdl.ones(2).as_subclass(Refuses)
    with pytest.raises(TypeError, match="no implementation found for 'mul'"):
        rustdl.mul(r, 2)


def test_an_unrelated_subclass_makes_the_default_hook_step_aside():
    class Other(rustdl.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            with DisableTorchFunctionSubclass():
                return ("other", func(*args, **(kwargs or {})))

    a = rustdl.ones(2).as_subclass(Plain)
    o = rustdl.ones(2).as_subclass(Other)
    tag, out = rustdl.add(a, o)  # Plain's default hook returns NotImplemented for Other
    assert tag == "other" and out.tolist() == [2.0, 2.0]


class Scalar:
    """An object that is not a tensor but takes part, as PyTorch's documentation example."""

    handled: dict = {}

    def __init__(self, n, value):
        self.n, self.value = n, value

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func not in cls.handled:
            return NotImplemented
        return cls.handled[func](*args, **(kwargs or {}))


def test_an_object_that_is_not_a_tensor_handles_the_functions_it_implements():
    rustdl._dispatch.activate()
    Scalar.handled = {
        rustdl.mean: lambda s, *a, **k: float(s.value),
        rustdl.diagonal: lambda s: [s.value] * s.n,
    }
    s = Scalar(3, 2.5)
    assert rustdl.mean(s) == 2.5
    assert rustdl.diagonal(s) == [2.5, 2.5, 2.5]
    with pytest.raises(TypeError, match="no implementation found for 'sum'"):
        rustdl.sum(s)


def test_a_mode_sees_every_call_and_is_off_while_its_hook_runs():
    calls = []

    class Log(overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            calls.append(getattr(func, "__name__", repr(func)))
            return func(*args, **(kwargs or {}))

    with Log():
        x = rustdl.zeros(2)
        y = x + 1
        z = rustdl.relu(y)
        n = len(z)
        first = z[0]
        z[1] = 5.0
        s = z.sum()
    assert calls == ["zeros", "add", "relu", "__len__", "__getitem__", "__setitem__", "sum"]
    assert n == 2 and first.item() == 1.0 and s.item() == 6.0
    calls.clear()
    rustdl.ones(2) + 1  # the mode has gone
    assert calls == []


def test_a_mode_can_replace_results_and_modes_nest_inner_first():
    order = []

    class Doubling(overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            order.append("doubling")
            out = func(*args, **(kwargs or {}))
            # (by name: with the compat layer installed in this process the hook gets torch.ones)
            return out * 2 if getattr(func, "__name__", "") == "ones" else out

    class Outer(overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            order.append("outer")
            return func(*args, **(kwargs or {}))

    with Outer(), Doubling():
        t = rustdl.ones(3)
    # the inner mode's own call of func (mode popped) goes to the outer mode, then runs;
    # its `out * 2` is seen by the outer mode too
    assert t.tolist() == [2.0, 2.0, 2.0]
    assert order == ["doubling", "outer", "outer"]
    assert overrides._get_current_function_mode() is None


def test_switches_turn_the_protocol_off():
    calls = []

    class Log(overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            calls.append(func)
            return func(*args, **(kwargs or {}))

    a = rustdl.ones(2).as_subclass(Plain)
    with DisableTorchFunctionSubclass():
        assert type(a + 1) is rustdl.Tensor
        assert not overrides.has_torch_function((a,))
    with Log(), DisableTorchFunction():
        assert type(a * 3) is rustdl.Tensor
    assert calls == []


def test_tensors_stay_out_of_the_sequence_protocol_once_active():
    rustdl._dispatch.activate()
    x = rustdl.ones(2, 2)
    with pytest.raises(TypeError):
        rustdl.amax(x, rustdl.zeros(1 << 40, 0, dtype=rustdl.bool))
    with pytest.raises(TypeError):
        x.permute(rustdl.tensor([1, 0]))
    assert hash(x) == hash(x) and {x: 1}[x] == 1
    assert [r.tolist() for r in x] == [[1.0, 1.0], [1.0, 1.0]] and len(x) == 2


def test_copies_are_tensors_of_their_own_for_autograd():
    w = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64)
    c = copy.copy(w)
    c.requires_grad_()
    (c * w).sum().backward()
    assert not w.requires_grad and w.grad is None and c.grad.tolist() == [1.0, 2.0]
    with rustdl.no_grad():
        c.add_(1.0)
    assert w.tolist() == [2.0, 3.0]  # the storage is shared, as PyTorch's copy.copy
    x = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    c = copy.copy(x * 2)
    assert c.is_leaf and c.requires_grad
    (c * 5).sum().backward()
    assert x.grad is None and c.grad.tolist() == [5.0, 5.0]
    back = pickle.loads(pickle.dumps(x * 2))
    assert back.requires_grad and back.is_leaf  # saved by value as a leaf, as PyTorch's
    assert (+w) is w and rustdl.positive(w) is w
    with pytest.raises(NotImplementedError):
        +rustdl.ones(2, dtype=rustdl.bool)


def test_a_parameter_of_a_subclass_keeps_its_class():
    p = nn.Parameter(rustdl.tensor([1.0, 2.0]).as_subclass(Logged))
    assert type(p) is Logged and isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf
    Logged.seen.clear()
    out = p * 2
    assert type(out) is Logged and Logged.seen[0][0] is rustdl.Tensor.mul
    m = nn.Module()
    m.w = p
    assert [n for n, _ in m.named_parameters()] == ["w"]
    assert not isinstance(rustdl.ones(1), nn.Parameter) and isinstance(
        nn.Parameter(rustdl.ones(1)), nn.Parameter
    )


def test_a_mode_that_declines_makes_the_call_fail():
    class Declines(overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return NotImplemented

    x = rustdl.ones(1)
    with Declines(), pytest.raises(TypeError, match="Multiple dispatch failed for 'add'"):
        rustdl.add(x, 1)
    with Declines(), pytest.raises(TypeError, match="Multiple dispatch failed for 'zeros'"):
        rustdl.zeros(1)


def test_copies_and_pickles_keep_the_subclass_and_its_attributes():
    t = tagged([1.0, 2.0], "a")
    t.extra = {"k": [1, 2]}
    for c in (copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        assert type(c) is Tagged and c.tag == "a" and c.extra == {"k": [1, 2]}
        assert c.tolist() == [1.0, 2.0]
    d = copy.deepcopy(t)
    d.add_(1)
    assert t.tolist() == [1.0, 2.0]  # its own storage
    leaf = rustdl.Tensor._make_subclass(Plain, rustdl.ones(2), True)
    c = copy.deepcopy(leaf)
    assert type(c) is Plain and c.is_leaf and c.requires_grad


def _run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_functions_imported_before_the_first_subclass_dispatch_too():
    out = _run(
        """
        import rustdl
        from rustdl import cat
        from rustdl.nn.functional import relu
        assert not rustdl._dispatch.active()
        class A(rustdl.Tensor):
            pass
        assert rustdl._dispatch.active()
        a = rustdl.ones(2).as_subclass(A)
        print(type(cat([a, a])).__name__, type(relu(a)).__name__, type(rustdl.nn.Conv1d(1, 1, 1)(a[None, None])).__name__)
        """
    )
    assert out.split() == ["A", "A", "A"]


def test_torch_names_are_what_the_hook_receives_under_the_compat_layer():
    assert _run_compat().split() == ["True", "True", "True", "Sub", "True"]


def _run_compat() -> str:
    import os
    import tempfile

    script = textwrap.dedent(
        """
        import torch
        f_before = torch.add
        seen = []
        class M(torch.overrides.TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                seen.append(func)
                return func(*args, **(kwargs or {}))
        with M():
            torch.add(torch.ones(1), 1)
            torch.nn.functional.relu(torch.ones(1))
        print(torch.add is f_before, seen[1] is torch.add, seen[3] is torch.nn.functional.relu)
        class Sub(torch.Tensor):
            pass
        print(type(torch.add(torch.ones(1).as_subclass(Sub), 1)).__name__)
        print(torch._C._disabled_torch_function_impl is torch.nn.Parameter.__torch_function__)
        """
    )
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "script.py")
        with open(path, "w") as f:
            f.write(script)
        done = subprocess.run(
            [sys.executable, "-m", "rustdl.torchcompat", path],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "RUSTDL_COMPAT_DEVICE": "cpu"},
        )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_handle_torch_function_goes_to_the_mode_first():
    def f(x):
        if overrides.has_torch_function_unary(x):
            return overrides.handle_torch_function(f, (x,), x)
        return x + 100

    class M(overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return ("mode", func(*args))

    zero = rustdl.zeros(1)
    with M():
        tag, out = f(zero)
    assert tag == "mode" and out.tolist() == [100.0]
    assert f(rustdl.zeros(1)).tolist() == [100.0]


def test_an_object_type_defined_later_installs_the_protocol():
    # no Tensor subclass and no mode: a class statement defining __torch_function__ is enough
    out = _run(
        """
        import rustdl
        assert not rustdl._dispatch.active()
        class Lazy:
            def __init__(self, t):
                self.t = t
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                def unwrap(a):
                    if isinstance(a, list):
                        return [unwrap(x) for x in a]
                    return a.t if isinstance(a, Lazy) else a
                return ("lazy", func(*[unwrap(a) for a in args], **(kwargs or {})))
        assert rustdl._dispatch.active()
        tag, out = rustdl.stack([Lazy(rustdl.ones(2)), rustdl.zeros(2)])
        print(tag, out.tolist() if hasattr(out, "tolist") else out)
        import builtins
        print(builtins.__build_class__ is rustdl._dispatch._build_class)
        """
    )
    assert out.split("\n")[:2] == ["lazy [[1.0, 1.0], [0.0, 0.0]]", "True"]


def test_programs_without_the_protocol_run_unwrapped():
    out = _run(
        """
        import rustdl, rustdl.nn as nn
        net = nn.Linear(2, 2)
        net(rustdl.ones(1, 2)).sum().backward()
        class Parametrised(nn.Parameter):
            pass
        print(rustdl._dispatch.active(), type(rustdl.Tensor.__dict__["add"]).__name__)
        """
    )
    assert out.split() == ["False", "method_descriptor"]


def test_operators_unary_ops_and_namespaces_keep_the_subclass():
    x = np.array([[2.0, 1.0], [1.0, 3.0]])
    a = rustdl.tensor(x, dtype=rustdl.float64).as_subclass(Plain)
    cases = [
        (-a, -x), (+a, x), (abs(-a), x), (a**2, x**2), (2 ** a, 2.0**x), (1 / a, 1 / x), (2 // a, 2 // x),
        (a % 2, x % 2), (a.new_zeros(2), np.zeros(2)), (a.new_ones(3), np.ones(3)),
        (rustdl.zeros_like(a), np.zeros_like(x)), (rustdl.linalg.inv(a), np.linalg.inv(x)),
        (rustdl.linalg.norm(a), np.linalg.norm(x)), (rustdl.special.expit(a), 1 / (1 + np.exp(-x))),
        (F.logsigmoid(a), -np.log1p(np.exp(-x))), (list(a)[1], x[1]), (a.max(1).values, x.max(1)),
        (a < 2, x < 2),
    ]  # fmt: skip
    for out, ref in cases:
        assert type(out) is Plain
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    b = a.clone()
    b /= 2
    b += 1
    assert type(b) is Plain and np.allclose(b.numpy(), x / 2 + 1)
    assert type(rustdl.rand_like(a)) is Plain and tuple(rustdl.rand_like(a).shape) == (2, 2)


def test_operators_are_handed_over_as_the_method_they_stand_for():
    a = rustdl.ones(2).as_subclass(Logged)
    Logged.seen.clear()
    _ = (a + 1, 1 + a, a * 2, a / 2, a @ a, a < 1, a % 2, -a, abs(a), a**2)
    b = a.clone()
    b += 1
    names = [getattr(f, "__name__", "") for f, _ in Logged.seen]
    T = rustdl.Tensor
    assert [f for f, _ in Logged.seen][:9] == [
        T.add, T.add, T.mul, T.div, T.matmul, T.lt, T.remainder, T.neg, T.abs
    ]  # fmt: skip
    # `a ** 2` is an object of its own named as the method, as PyTorch's Tensor.__pow__
    assert Logged.seen[9][0] is T.__pow__ and names[9] == "pow"
    assert names[-1] == "add_"


def test_factories_take_data_not_overrides_and_the_opt_out_runs_plain():
    a = rustdl.tensor([1.0, 2.0]).as_subclass(Plain)
    assert type(rustdl.tensor(a)) is rustdl.Tensor
    assert type(rustdl.as_tensor(a, dtype=rustdl.float64)) is rustdl.Tensor
    assert rustdl.as_tensor(a) is a  # nothing to convert: the object itself, as PyTorch's
    out = rustdl._dispatch.disabled_torch_function_impl(rustdl.add, (Plain,), (a, 1), {})
    assert type(out) is rustdl.Tensor and out.tolist() == [2.0, 3.0]


def test_result_tuples_have_structseq_field_counts():
    r = rustdl.tensor([[3.0, 1.0], [2.0, 5.0]]).max(1)
    assert (r.n_fields, r.n_sequence_fields, r.n_unnamed_fields) == (2, 2, 0)
    assert rustdl.linalg.slogdet(rustdl.eye(2)).n_fields == 2


def test_a_repr_hook_may_build_on_the_plain_repr():
    class Shown(rustdl.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func is rustdl.Tensor.__repr__:
                from rustdl._tensor_str import _str

                return "<" + _str(args[0]) + ">"
            return super().__torch_function__(func, types, args, kwargs)

    assert repr(rustdl.tensor([1, 2]).as_subclass(Shown)) == "<Shown([1, 2])>"
    assert repr(rustdl.tensor([1.5]).as_subclass(Plain)) == "Plain([1.5000])"


def test_checkpoints_in_pytorchs_format_keep_the_subclass_and_its_attributes(tmp_path):
    from rustdl import _torch_format

    t = tagged([1.0, 2.0], "ct")
    path = tmp_path / "t.pt"
    _torch_format.save({"x": t, "again": [t]}, str(path))
    back = rustdl.load(str(path), weights_only=False)
    assert type(back["x"]) is Tagged and back["x"].tag == "ct" and back["x"].tolist() == [1.0, 2.0]
    assert back["again"][0] is back["x"]
    # weights_only refuses a class it was not told about, as PyTorch's
    with pytest.raises(Exception, match="Tagged"):
        rustdl.load(str(path), weights_only=True)
    c = copy.copy(t)
    assert type(c) is Tagged and c.tag == "ct" and c.data_ptr() == t.data_ptr()


def test_a_zero_dim_numpy_bool_of_any_byte_and_rounding_to_decimals():
    a = np.zeros((), np.uint8)
    a[()] = 5
    assert rustdl.from_numpy(a.view(bool)).item() is True
    x = rustdl.tensor([3.0, 1.5, 12.0, 0.123456789], dtype=rustdl.float64)
    assert rustdl.round(x, decimals=5).tolist() == [3.0, 1.5, 12.0, 0.12346]
    assert rustdl.round(rustdl.tensor([1234.5678], dtype=rustdl.float64), decimals=-2).tolist() == [1200.0]


def test_hostile_sequences_as_dims_and_shapes_are_type_errors_not_crashes():
    # each in its own process: a regression here would abort or exhaust memory
    out = _run(
        """
        import itertools, rustdl
        x = rustdl.arange(4.0)
        class Huge(list):
            def __len__(self):
                return 1 << 40
        class Endless(tuple):
            def __iter__(self):
                while True:
                    yield 4
        results = []
        for call in (
            lambda: x.sum(dim=range(1 << 40)),
            lambda: x.sum(dim=Huge([0])).item(),
            lambda: x.reshape(Endless((4,))).shape,
            lambda: rustdl.zeros(itertools.repeat(1)),
            lambda: x.split(Huge([2, 2])),
        ):
            try:
                results.append(repr(call()))
            except TypeError:
                results.append("TypeError")
        print(results)
        """
    )
    assert out.strip() == "['TypeError', '6.0', '(4,)', 'TypeError', '(tensor([0., 1.]), tensor([2., 3.]))']"


def test_switches_and_modes_survive_misuse():
    s = rustdl.ones(2).as_subclass(Plain)
    DisableTorchFunctionSubclass().__exit__(None, None, None)  # never entered: changes nothing
    assert type(s + 1) is Plain
    with DisableTorchFunction():
        pass
    d = DisableTorchFunction()
    d.__enter__()
    d.__exit__(None, None, None)
    d.__exit__(None, None, None)
    assert rustdl._dispatch.is_torch_function_enabled() and type(s[0]) is Plain
    with DisableTorchFunctionSubclass():
        assert not rustdl._dispatch.is_torch_function_enabled()
    rustdl._dispatch.push_mode(None)  # ignored
    assert (rustdl.ones(1) + 1).tolist() == [2.0]


def test_hooks_spelled_the_older_ways_still_run():
    class Instance(rustdl.Tensor):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # a plain method
            return "instance"

    class ThreeArgs(rustdl.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args):  # no kwargs parameter
            return "three"

    class Declines(rustdl.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return NotImplemented

    with pytest.warns(DeprecationWarning):
        assert rustdl.ones(1).as_subclass(Instance) + 1 == "instance"
    assert rustdl.ones(1).as_subclass(ThreeArgs) * 2 == "three"
    d = rustdl.ones(1).as_subclass(Declines)
    assert (d == 1) is False and (d != 1) is True  # Python's identity fallback, as PyTorch's
    with pytest.raises(TypeError):
        d + 1
    assert overrides.handle_torch_function(rustdl.add, (rustdl.ones(2),), rustdl.ones(2), 1).tolist() == [
        2.0,
        2.0,
    ]


def test_class_statements_that_cannot_be_inspected_are_left_alone():
    out = _run(
        """
        import rustdl
        class Meta(type):
            @property
            def __dict__(cls):
                raise RuntimeError("x")
        class X(metaclass=Meta):
            pass
        class Lazy:
            def __get__(self, obj, owner):
                raise RuntimeError("x")
        class C:
            __torch_function__ = Lazy()
        print("defined", rustdl._dispatch.active())
        """
    )
    assert out.split() == ["defined", "False"]


def test_classes_of_a_real_pytorch_beside_rustdl_do_not_install_it():
    # a benchmark imports PyTorch beside rustdl: its own Tensor class must not slow rustdl down
    out = _run(
        """
        import rustdl
        body = (
            "class Tensor:\\n"
            "    @classmethod\\n"
            "    def __torch_function__(cls, func, types, args=(), kwargs=None):\\n"
            "        return NotImplemented\\n"
            "Tensor.__module__ = 'torch'\\n"
        )
        exec(body, {"__name__": "torch._tensor"})  # as PyTorch's torch/_tensor.py defines it
        exec(body, {"__name__": "torch"})
        print(rustdl._dispatch.active())
        """
    )
    assert out.split() == ["False"]


def test_tables_keyed_on_functions_inside_the_class_body_match_what_the_hook_gets():
    # linear_operator registers its handlers with decorators that run in the class body
    out = _run(
        """
        import rustdl
        HANDLED = {}
        class Op:
            HANDLED[rustdl.linalg.cholesky] = "chol"
            HANDLED[rustdl.Tensor.matmul] = "rmatmul"
            HANDLED[rustdl.Tensor.add] = "radd"
            HANDLED[rustdl.matmul] = "matmul"
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                return HANDLED.get(func, "unhandled " + func.__name__)
        t = rustdl.ones(2, 2)
        print(rustdl.linalg.cholesky(Op()), t @ Op(), t + Op(), rustdl.matmul(Op(), t), rustdl.linalg.cholesky.__name__)
        """
    )
    assert out.split() == ["chol", "rmatmul", "radd", "matmul", "linalg_cholesky"]


def test_mock_patch_of_a_torch_function_is_undone():
    import unittest.mock

    from rustdl import torchcompat

    torchcompat.install()
    try:
        import torch
        import torch.nn.functional as tF

        orig, orig_relu = torch.linalg.cholesky_ex, tF.relu
        with unittest.mock.patch("torch.linalg.cholesky_ex", new=unittest.mock.MagicMock(wraps=orig)) as m:
            torch.linalg.cholesky_ex(torch.eye(2))
            assert m.call_count == 1
        with unittest.mock.patch("torch.nn.functional.relu", new=unittest.mock.MagicMock(wraps=orig_relu)):
            pass
        assert torch.linalg.cholesky_ex is orig and tF.relu is orig_relu
        assert rustdl.linalg.cholesky_ex is orig
    finally:
        torchcompat.uninstall()
