"""Gaps found by running PyTorch tutorial programs (forward-mode AD, ``torch.func``, pruning,
parametrizations, sequence tagging) under PyTorch and ``rustdl.torchcompat`` side by side.
References: closed-form derivatives, numpy and finite differences."""

import numpy as np
import pytest
import rustdl
import rustdl.autograd.forward_ad as fwad
from rustdl.autograd import Function, gradcheck

# ------------------------------------------------------------------------------------------
# custom Functions with a forward-mode rule (jvp), and gradcheck(check_forward_ad=True)
# ------------------------------------------------------------------------------------------


class ExpJvp(Function):
    """exp with only a forward-mode rule, as in the forward-mode AD tutorial."""

    @staticmethod
    def forward(ctx, x):
        ctx.result = x.exp()
        return ctx.result

    @staticmethod
    def jvp(ctx, tx):
        return tx * ctx.result


def _a(seed, shape=(3, 4)):
    return np.random.default_rng(seed).standard_normal(shape)


def test_function_jvp_gives_the_tangent_and_chains_on():
    x, t = _a(0), _a(1)
    with fwad.dual_level():
        d = fwad.make_dual(rustdl.tensor(x, requires_grad=True), rustdl.tensor(t))
        out = ExpJvp.apply(d)
        np.testing.assert_allclose(fwad.unpack_dual(out).tangent.numpy(), np.exp(x) * t, rtol=1e-12)
        # ops before and after the Function: d/dx sin(exp(2x)) = cos(exp(2x)) exp(2x) 2
        chained = ExpJvp.apply(d * 2).sin()
        expect = np.cos(np.exp(2 * x)) * np.exp(2 * x) * 2 * t
        np.testing.assert_allclose(fwad.unpack_dual(chained).tangent.detach().numpy(), expect, rtol=1e-10)
    # outside a dual level the Function is plain
    np.testing.assert_allclose(ExpJvp.apply(rustdl.tensor(x)).numpy(), np.exp(x))


class SquareWrongJvp(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_forward(x)
        return x * x

    @staticmethod
    def jvp(ctx, tx):
        (x,) = ctx.saved_tensors
        return 3 * x * tx  # should be 2 x tx


class MulAdd(Function):
    """Two outputs, both a backward and a jvp, tensors saved for each."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        ctx.save_for_forward(x, y)
        return x * y, x + y

    @staticmethod
    def backward(ctx, g1, g2):
        x, y = ctx.saved_tensors
        return g1 * y + g2, g1 * x + g2

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y = ctx.saved_tensors
        return tx * y + ty * x, tx + ty


@pytest.mark.parametrize("fast", [False, True])
def test_gradcheck_checks_forward_mode_rules(fast):
    x = rustdl.tensor(_a(2), requires_grad=True)
    y = rustdl.tensor(_a(3), requires_grad=True)
    kw = dict(check_forward_ad=True, check_backward_ad=False, check_undefined_grad=False, fast_mode=fast)
    assert gradcheck(ExpJvp.apply, (x,), **kw)
    assert gradcheck(SquareWrongJvp.apply, (x,), raise_exception=False, **kw) is False
    with pytest.raises(rustdl.autograd.GradcheckError, match="forward-mode"):
        gradcheck(SquareWrongJvp.apply, (x,), **kw)
    assert gradcheck(MulAdd.apply, (x, y), check_forward_ad=True, fast_mode=fast)
    assert gradcheck(lambda a: a @ a.t() + a.sum(), (x,), check_forward_ad=True, fast_mode=fast)


def test_function_without_forward_or_jvp_rule_raises_clearly():
    class NoRules(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    x = rustdl.tensor(_a(4), requires_grad=True)
    with pytest.raises(NotImplementedError, match="backward"):
        NoRules.apply(x).sum().backward()
    with pytest.raises(NotImplementedError, match="jvp"):
        Function.jvp(None, x)


def test_function_jvp_checks_its_result():
    class TwoForOne(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def jvp(ctx, tx):
            return tx, tx

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def jvp(ctx, tx):
            return tx.sum()

    with fwad.dual_level():
        d = fwad.make_dual(rustdl.tensor(_a(5)), rustdl.tensor(_a(6)))
        with pytest.raises(RuntimeError, match="incorrect number of forward gradients"):
            TwoForOne.apply(d)
        with pytest.raises(RuntimeError, match="jvp.*shape"):
            WrongShape.apply(d)
