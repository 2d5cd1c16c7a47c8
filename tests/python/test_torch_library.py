"""``torch.library``: user-defined operators through ``custom_op`` and ``Library``, checked
against closed forms and finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import rustdl
from conftest import compat_report, run_compat
from rustdl import Tensor
from rustdl.torchcompat import _torch_library as library
from rustdl.torchcompat import _torch_ops as ops

_ids = itertools.count()


def _ns() -> str:
    return f"testlib{next(_ids)}"


def test_custom_op_with_autograd_formula_matches_finite_differences():
    ns = _ns()

    @library.custom_op(f"{ns}::npsin", mutates_args=())
    def npsin(x: Tensor) -> Tensor:
        return rustdl.from_numpy(np.sin(x.detach().numpy()))

    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)

    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.cos()

    npsin.register_autograd(backward, setup_context=setup_context)
    x = rustdl.tensor([0.3, -1.2, 2.0], dtype=rustdl.float64, requires_grad=True)
    y = npsin(x)
    np.testing.assert_allclose(y.detach().numpy(), np.sin(x.detach().numpy()))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.detach().numpy()))
    assert rustdl.autograd.gradcheck(npsin, (x,))
    # reachable through torch.ops, every overload the same operator
    packet = getattr(ops, ns).npsin
    np.testing.assert_allclose(packet(x).detach().numpy(), y.detach().numpy())
    np.testing.assert_allclose(packet.default(x).detach().numpy(), y.detach().numpy())
    assert str(packet.default) == f"{ns}.npsin.default"
    assert packet.default._schema == f"{ns}::npsin(Tensor x) -> Tensor"


def test_custom_op_kernel_records_no_history_and_second_order_flows_through_backward():
    ns = _ns()
    calls = []

    @library.custom_op(f"{ns}::cube", mutates_args=())
    def cube(x: Tensor) -> Tensor:
        calls.append(rustdl.is_grad_enabled())
        return x * x * x

    library.register_autograd(
        f"{ns}::cube",
        lambda ctx, g: g * 3 * ctx.saved_tensors[0] ** 2,
        setup_context=lambda ctx, inputs, output: ctx.save_for_backward(inputs[0]),
    )
    x = rustdl.tensor([1.5, -2.0], dtype=rustdl.float64, requires_grad=True)
    y = cube(x)
    assert calls == [False]  # the kernel runs without autograd
    (g,) = rustdl.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    (gg,) = rustdl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.detach().numpy())


def test_custom_op_multiple_outputs_non_tensor_and_keyword_inputs():
    ns = _ns()

    @library.custom_op(f"{ns}::mix", mutates_args=())
    def mix(a: Tensor, b: Tensor, alpha: float, *, beta: float = 1.0) -> tuple[Tensor, Tensor]:
        return a + alpha * b, beta * a * b

    seen = {}

    def setup_context(ctx, inputs, output, keyword_only_inputs):
        a, b, alpha = inputs
        seen.update(n=len(inputs), kw=dict(keyword_only_inputs))
        ctx.save_for_backward(a, b)
        ctx.alpha, ctx.beta = alpha, keyword_only_inputs["beta"]

    def backward(ctx, g1, g2):
        a, b = ctx.saved_tensors
        return g1 + ctx.beta * g2 * b, ctx.alpha * g1 + ctx.beta * g2 * a, None

    mix.register_autograd(backward, setup_context=setup_context)
    a = rustdl.tensor([1.0, 2.0], dtype=rustdl.float64, requires_grad=True)
    b = rustdl.tensor([3.0, -1.0], dtype=rustdl.float64, requires_grad=True)
    s, p = mix(a, b, 2.0, beta=0.5)
    np.testing.assert_allclose(s.detach().numpy(), [7.0, 0.0])
    np.testing.assert_allclose(p.detach().numpy(), [1.5, -1.0])
    (s.sum() + p.sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), 1 + 0.5 * np.array([3.0, -1.0]))
    np.testing.assert_allclose(b.grad.numpy(), 2 + 0.5 * np.array([1.0, 2.0]))
    assert seen == {"n": 3, "kw": {"beta": 0.5}}
    # a wrong number of gradients is an error naming the operator
    mix.register_autograd(lambda ctx, g1, g2: (g1, g2), setup_context=setup_context)
    s, p = mix(a, b, 2.0)
    with pytest.raises(RuntimeError, match="mix"):
        (s.sum() + p.sum()).backward()


def test_custom_op_without_formula_raises_at_backward_not_at_call():
    ns = _ns()

    @library.custom_op(f"{ns}::twice", mutates_args=())
    def twice(x: Tensor) -> Tensor:
        return 2 * x

    x = rustdl.ones(3, requires_grad=True)
    y = twice(x)
    assert y.requires_grad
    np.testing.assert_allclose(y.detach().numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(RuntimeError, match="no autograd formula"):
        y.sum().backward()
    with rustdl.no_grad():
        assert not twice(x).requires_grad


def test_mutating_custom_op_writes_into_its_argument_and_opcheck():
    ns = _ns()

    @library.custom_op(f"{ns}::sin_", mutates_args={"x"})
    def sin_(x: Tensor) -> None:
        x.copy_(x.sin())

    t = rustdl.tensor([1.0, 2.0])
    assert sin_(t) is None
    np.testing.assert_allclose(t.numpy(), np.sin([1.0, 2.0]), rtol=1e-6)
    assert library.infer_schema(sin_.__wrapped__, mutates_args={"x"}) == "(Tensor(a0!) x) -> ()"

    @library.custom_op(f"{ns}::sneaky", mutates_args=())
    def sneaky(x: Tensor) -> Tensor:
        x.add_(1)
        return x.clone()

    @sneaky.register_fake
    def _(x):
        return rustdl.empty_like(x)

    with pytest.raises(library.OpCheckError, match="mutated"):
        library.opcheck(sneaky, (rustdl.zeros(2),), test_utils="test_schema")
    report = library.opcheck(sneaky, (rustdl.zeros(2),), raise_exception=False)
    assert report["test_faketensor"] == "SUCCESS" and report["test_schema"] != "SUCCESS"


def test_opcheck_finds_a_wrong_fake_and_a_missing_formula():
    ns = _ns()

    @library.custom_op(f"{ns}::rowsum", mutates_args=())
    def rowsum(x: Tensor) -> Tensor:
        return x.sum(1)

    @rowsum.register_fake
    def _(x):
        return rustdl.empty_like(x)  # wrong: the real output drops a dimension

    x = rustdl.ones(2, 3, requires_grad=True)
    with pytest.raises(library.OpCheckError, match="fake"):
        library.opcheck(rowsum, (x,), test_utils="test_faketensor")
    with pytest.raises(library.OpCheckError, match="autograd"):
        library.opcheck(rowsum, (x,), test_utils="test_autograd_registration")
    rowsum.register_fake(lambda x: x.new_empty(x.shape[0]))
    rowsum.register_autograd(
        lambda ctx, g: g[:, None].expand(ctx.shape),
        setup_context=lambda ctx, i, o: setattr(ctx, "shape", i[0].shape),
    )
    assert set(library.opcheck(rowsum, (x,)).values()) == {"SUCCESS"}


def test_per_device_kernels():
    ns = _ns()

    @library.custom_op(f"{ns}::scale", mutates_args=(), device_types="cpu")
    def scale(x: Tensor, k: float) -> Tensor:
        return x * k

    np.testing.assert_allclose(scale(rustdl.ones(2), 3.0).numpy(), [3.0, 3.0])

    @scale.register_kernel("cpu")
    def _(x, k):
        return x * (k + 1)

    np.testing.assert_allclose(scale(rustdl.ones(2), 3.0).numpy(), [4.0, 4.0])
    with scale.set_kernel_enabled("cpu", False):
        with pytest.raises(NotImplementedError, match="no kernel"):
            scale(rustdl.ones(2), 3.0)
    np.testing.assert_allclose(scale(rustdl.ones(2), 3.0).numpy(), [4.0, 4.0])


def test_library_define_and_impl_kernels_record_their_own_history():
    ns = _ns()
    lib = library.Library(ns, "DEF")
    lib.define("mymul(Tensor x, float s) -> Tensor")
    lib.impl("mymul", lambda x, s: x * s, "CompositeExplicitAutograd")
    library.define(f"{ns}::square", "(Tensor x) -> Tensor")

    @library.impl(f"{ns}::square", "cpu")
    def square(x):
        return x * x

    x = rustdl.tensor([1.0, -3.0], requires_grad=True)
    nsmod = getattr(ops, ns)
    y = nsmod.mymul(x, 3.0)
    z = nsmod.square(x)
    (y.sum() + z.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * np.array([1.0, -3.0]))
    assert nsmod.mymul.default._schema == f"{ns}::mymul(Tensor x, float s) -> Tensor"
    # an undefined operator stays undefined
    with pytest.raises(AttributeError):
        _ = nsmod.nothing_here
    with pytest.raises(RuntimeError, match="not defined"):
        library.impl(f"{ns}::undefined_op", "cpu", lambda x: x)
    lib._destroy()  # the library's definitions go with it
    with pytest.raises(NotImplementedError, match="mymul"):
        nsmod.mymul(x, 2.0)


def test_schema_inference_and_bad_definitions():
    def f(
        x: Tensor, y: Tensor | None, n: int, s: float, b: bool, ts: list[Tensor], *, k: int = 3
    ) -> tuple[Tensor, Tensor]:
        raise AssertionError

    assert (
        library.infer_schema(f, mutates_args=())
        == "(Tensor x, Tensor? y, SymInt n, float s, bool b, Tensor[] ts, *, SymInt k=3) -> (Tensor, Tensor)"
    )
    with pytest.raises(ValueError, match="type annotation"):
        library.custom_op(f"{_ns()}::bare", mutates_args=())(lambda x: x)
    with pytest.raises(ValueError, match="namespace::name"):
        library.custom_op("no_namespace", mutates_args=())
    with pytest.raises(ValueError, match="mutates_args"):
        library.custom_op(f"{_ns()}::m", mutates_args="x")
    with pytest.raises(ValueError):
        library.Library(_ns(), "BOGUS")


def test_custom_op_in_a_training_loop_through_the_compat_runner(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json
        import torch
        from torch import Tensor

        @torch.library.custom_op("trainlib::swish", mutates_args=())
        def swish(x: Tensor) -> Tensor:
            return x * torch.sigmoid(x)

        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            s = torch.sigmoid(x)
            return g * (s + x * s * (1 - s))

        swish.register_autograd(backward, setup_context=setup_context)
        torch.manual_seed(0)
        x = torch.randn(64, 3)
        y = (x ** 2).sum(1, keepdim=True)
        lin1, lin2 = torch.nn.Linear(3, 16), torch.nn.Linear(16, 1)
        opt = torch.optim.Adam(list(lin1.parameters()) + list(lin2.parameters()), lr=0.05)
        losses = []
        for _ in range(60):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(lin2(torch.ops.trainlib.swish(lin1(x))), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        ref = lin1.weight.detach().clone().requires_grad_()
        h = torch.nn.functional.linear(x, ref, lin1.bias.detach())
        (torch.nn.functional.silu(h).sum()).backward()
        ours = lin1.weight.detach().clone().requires_grad_()
        swish(torch.nn.functional.linear(x, ours, lin1.bias.detach())).sum().backward()
        print(json.dumps({"first": losses[0], "last": losses[-1],
                          "grad_err": (ref.grad - ours.grad).abs().max().item()}))
        """,
    )
    r = compat_report(proc)
    assert r["last"] < 0.2 * r["first"]
    assert r["grad_err"] < 1e-5
