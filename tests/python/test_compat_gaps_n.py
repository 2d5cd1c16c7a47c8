"""PyTorch behaviour found missing by running third-party-style programs under both: double
backward through custom autograd Functions that save their outputs, gradcheck on the whole
Jacobian (tuple outputs) and gradgradcheck, Adam(decoupled_weight_decay=True), sparse ``_nnz``.
References are closed forms and finite differences."""

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from rustdl.autograd import Function, GradcheckError, gradcheck, gradgradcheck


def D(a, requires_grad=True):
    return rustdl.tensor(np.asarray(a, dtype=np.float64), dtype=rustdl.float64, requires_grad=requires_grad)


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class SinCos(Function):
    @staticmethod
    def forward(ctx, x):
        s, c = x.sin(), x.cos()
        ctx.save_for_backward(s, c)
        return s, c

    @staticmethod
    def backward(ctx, gs, gc):
        s, c = ctx.saved_tensors
        return gs * c - gc * s


class Cube(Function):
    """Saves its input and its output; the backward reads both."""

    @staticmethod
    def forward(ctx, x):
        y = x * x * x
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return 3 * g * y / x


class Ident(Function):
    """Returns its input as it is; the saved tensor is the input."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 1.0


X = [0.5, 1.0, -0.3, 2.0]


def test_saved_output_carries_the_function_into_higher_derivatives():
    x = D(X)
    (g,) = rustdl.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    (gg,) = rustdl.autograd.grad(g.sum(), x, create_graph=True)
    (ggg,) = rustdl.autograd.grad(gg.sum(), x)
    e = np.exp(X)
    np.testing.assert_allclose(g.detach().numpy(), e, rtol=1e-12)
    np.testing.assert_allclose(gg.detach().numpy(), e, rtol=1e-12)
    np.testing.assert_allclose(ggg.numpy(), e, rtol=1e-12)


def test_saved_outputs_of_a_multi_output_function_are_differentiable():
    x = D(X)
    s, c = SinCos.apply(x)
    (g,) = rustdl.autograd.grad((2 * s + c * c).sum(), x, create_graph=True)
    # d/dx (2 sin + cos²) = 2 cos − 2 sin cos = 2 cos − sin 2x; second: −2 sin − 2 cos 2x
    xs = np.asarray(X)
    np.testing.assert_allclose(g.detach().numpy(), 2 * np.cos(xs) - np.sin(2 * xs), rtol=1e-12)
    (gg,) = rustdl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), -2 * np.sin(xs) - 2 * np.cos(2 * xs), rtol=1e-12)


def test_saved_input_and_output_together():
    x = D(X)
    (g,) = rustdl.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (gg,) = rustdl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * np.asarray(X), rtol=1e-12)


def test_an_input_returned_as_it_is_stays_the_input_when_saved():
    x = D(X)
    y = Ident.apply(x)
    (g,) = rustdl.autograd.grad((y * y).sum(), x, create_graph=True)
    (gg,) = rustdl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.full(4, 2.0))


@pytest.mark.parametrize("fn", [Exp.apply, Cube.apply, SinCos.apply, lambda t: SinCos.apply(t)[1]])
def test_gradgradcheck_passes_for_correct_functions(fn):
    x = D(X)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
    assert x.grad is None  # the checks leave .grad alone


def test_once_differentiable_still_refuses_a_second_backward():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @rustdl.autograd.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = D(X)
    (g,) = rustdl.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    # the backward ran without recording (as PyTorch's once_differentiable): its result has no
    # history, so differentiating it again is refused
    assert not g.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        rustdl.autograd.grad(g.sum(), x)


def test_gradcheck_and_gradgradcheck_catch_wrong_rules():
    class WrongFirst(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * g  # should be 3 x²

    class WrongSecond(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x.detach() ** 2 * g  # right value, no second derivative

    x = D(X)
    assert not gradcheck(WrongFirst.apply, (x,), raise_exception=False)
    assert not gradcheck(WrongFirst.apply, (x,), raise_exception=False, fast_mode=True)
    with pytest.raises(GradcheckError, match="output 0 with respect to input 0"):
        gradcheck(WrongFirst.apply, x)
    assert gradcheck(WrongSecond.apply, (x,))
    assert not gradgradcheck(WrongSecond.apply, (x,), raise_exception=False)


def test_gradcheck_checks_each_output_of_a_tuple():
    # the rule is right for the second output and wrong (half) for the first
    class HalfWrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0, x * 2.0

        @staticmethod
        def backward(ctx, g1, g2):
            return 0.5 * g1 + 2.0 * g2

    x = D([0.1, 0.2])
    with pytest.raises(GradcheckError, match="output 0 with respect to input 0"):
        gradcheck(HalfWrong.apply, (x,))
    assert gradcheck(lambda t: HalfWrong.apply(t)[1], (x,))


def test_gradcheck_warns_on_single_precision_and_needs_an_input_requiring_grad():
    with pytest.warns(UserWarning, match="double precision"):
        gradcheck(lambda t: t * 2, rustdl.tensor([1.0, 2.0], requires_grad=True), eps=1e-2, atol=1e-2)
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(lambda t: t * 2, (D([1.0], requires_grad=False),))


def _adam_run(cls, **kw):
    p = rustdl.nn.Parameter(rustdl.tensor([1.0, -2.0, 3.0], dtype=rustdl.float64))
    opt = cls([p], lr=0.1, **kw)
    for _ in range(3):
        opt.zero_grad()
        (p**2).sum().backward()
        opt.step()
    return p.detach().numpy(), opt


def _adam_ref(decoupled, wd, steps=3, lr=0.1, b1=0.9, b2=0.999, eps=1e-8):
    p = np.array([1.0, -2.0, 3.0])
    m = np.zeros(3)
    v = np.zeros(3)
    for t in range(1, steps + 1):
        g = 2 * p
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def test_adam_decoupled_weight_decay_is_adamw():
    got, opt = _adam_run(rustdl.optim.Adam, weight_decay=0.1, decoupled_weight_decay=True)
    np.testing.assert_allclose(got, _adam_ref(True, 0.1), rtol=1e-12)
    assert opt.defaults["decoupled_weight_decay"] is True
    got, opt = _adam_run(rustdl.optim.Adam, weight_decay=0.1)
    np.testing.assert_allclose(got, _adam_ref(False, 0.1), rtol=1e-12)
    assert opt.defaults["decoupled_weight_decay"] is False
    got, opt = _adam_run(rustdl.optim.AdamW)
    np.testing.assert_allclose(got, _adam_ref(True, 0.01), rtol=1e-12)
    assert opt.defaults["decoupled_weight_decay"] is True
    assert rustdl.optim.SGD([rustdl.nn.Parameter(rustdl.zeros(1))], lr=0.1).defaults["weight_decay"] == 0


def test_sparse_nnz_and_dims():
    i = rustdl.tensor([[0, 1, 1, 2], [2, 0, 0, 1]])
    s = rustdl.sparse_coo_tensor(i, rustdl.tensor([1.0, 2.0, 3.0, -4.0]), (3, 3))
    # the duplicate (1, 0) sums to one stored entry
    assert s.coalesce()._nnz() == 3
    assert (s.sparse_dim(), s.dense_dim()) == (2, 0)
    np.testing.assert_array_equal(s.to_dense().numpy(), [[0, 0, 1], [5, 0, 0], [0, -4, 0]])


def test_fork_rng_restores_the_stream():
    rustdl.random.manual_seed(3)
    a = rustdl.rand(3)
    with rustdl.random.fork_rng():
        inside = rustdl.rand(3)
    after = rustdl.rand(3)
    rustdl.manual_seed(3)
    np.testing.assert_array_equal(rustdl.rand(3).numpy(), a.numpy())
    np.testing.assert_array_equal(rustdl.rand(3).numpy(), after.numpy())
    np.testing.assert_array_equal(inside.numpy(), after.numpy())  # the block's draws were undone
    with rustdl.random.fork_rng(enabled=False):
        rustdl.rand(1)


def test_buffers_assigned_as_nn_buffer():
    class M(rustdl.nn.Module):
        def __init__(self):
            super().__init__()
            self.mean = rustdl.nn.Buffer(rustdl.ones(2))
            self.tmp = rustdl.nn.Buffer(rustdl.zeros(1), persistent=False)

    m = M()
    assert list(m.state_dict()) == ["mean"]
    assert [n for n, _ in m.named_buffers()] == ["mean", "tmp"]
    assert list(m.parameters()) == []
    assert m.to(rustdl.float64).mean.dtype == rustdl.float64


def test_kaiser_window_matches_the_bessel_formula():
    n, beta = 6, 3.0
    for periodic in (True, False):
        m = n if periodic else n - 1
        k = np.arange(n)
        want = np.i0(beta * np.sqrt(1 - (2 * k / m - 1) ** 2)) / np.i0(beta)
        np.testing.assert_allclose(rustdl.kaiser_window(n, periodic, beta).numpy(), want, rtol=1e-6)


def test_streams_save_on_cpu_and_assert_allclose():
    s = rustdl.cuda.Stream()
    with rustdl.cuda.stream(s):
        x = rustdl.ones(2) * 2
    rustdl.cuda.current_stream().wait_stream(s)
    assert s.query() and rustdl.cuda.current_stream() == rustdl.cuda.default_stream()
    w = rustdl.ones(2, requires_grad=True)
    with rustdl.autograd.graph.save_on_cpu(pin_memory=True):
        y = (w * x).sum()
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0])
    assert isinstance(y.grad_fn, rustdl.autograd.graph.Node)
    from rustdl.testing import assert_allclose

    assert_allclose(rustdl.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-7])
    with pytest.raises(AssertionError):
        assert_allclose(rustdl.tensor([1.0, 2.0]), [1.0, 2.1])
    from rustdl.autograd.grad_mode import no_grad
    from rustdl.utils.hooks import RemovableHandle

    with no_grad():
        assert not (w * 2).requires_grad
    h = rustdl.nn.Linear(2, 2).register_forward_hook(lambda *a: None)
    assert isinstance(h, RemovableHandle)


A3 = np.array([[0.5, 2.0, -1.0], [3.0, 1.0, 0.2], [-1.0, 0.4, 2.5]])


def test_lu_factorizations_reconstruct_and_solve():
    P, L, U = rustdl.linalg.lu(D(A3, False))
    Pn, Ln, Un = P.numpy(), L.numpy(), U.numpy()
    np.testing.assert_allclose(Pn @ Ln @ Un, A3, atol=1e-14)
    np.testing.assert_array_equal(np.triu(Ln, 1), 0)
    np.testing.assert_array_equal(np.diag(Ln), 1)
    np.testing.assert_array_equal(np.tril(Un, -1), 0)
    assert np.abs(Ln).max() <= 1.0  # partial pivoting: the largest pivot in each column
    assert not P.requires_grad
    LU, piv = rustdl.linalg.lu_factor(D(A3, False))
    assert piv.dtype == rustdl.int32 and piv.tolist() == [2, 2, 3]  # LAPACK getrf, as PyTorch
    P2, L2, U2 = rustdl.lu_unpack(LU, piv)
    np.testing.assert_allclose((P2 @ L2 @ U2).numpy(), A3, atol=1e-14)
    B = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
    np.testing.assert_allclose(
        rustdl.linalg.lu_solve(LU, piv, D(B, False)).numpy(), np.linalg.solve(A3, B), rtol=1e-12
    )
    np.testing.assert_allclose(
        rustdl.linalg.lu_solve(LU, piv, D(B, False), adjoint=True).numpy(),
        np.linalg.solve(A3.T, B),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        rustdl.linalg.lu_solve(LU, piv, D(B.T, False), left=False).numpy(),
        np.linalg.solve(A3.T, B).T,
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        rustdl.lu_solve(D(B, False), LU, piv).numpy(), np.linalg.solve(A3, B), rtol=1e-12
    )
    batch = np.random.default_rng(0).normal(size=(2, 4, 4))
    Pb, Lb, Ub = rustdl.linalg.lu(D(batch, False))
    np.testing.assert_allclose((Pb @ Lb @ Ub).numpy(), batch, atol=1e-13)
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert rustdl.linalg.lu_factor_ex(D(sing, False)).info.item() == 2
    with pytest.raises(rustdl.linalg.LinAlgError, match="not invertible"):
        rustdl.linalg.lu_factor(D(sing, False))
    assert rustdl.lu(D(A3, False), get_infos=True)[2].item() == 0


def test_lu_gradients_match_finite_differences():
    w = D(np.arange(9.0).reshape(3, 3), False)
    assert gradcheck(lambda a: rustdl.linalg.lu(a).L * w + rustdl.linalg.lu(a).U * w.T, (D(A3),))
    B = D([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
    LU, piv = rustdl.linalg.lu_factor(D(A3, False))
    assert gradcheck(lambda lu, b: rustdl.linalg.lu_solve(lu, piv, b), (LU.detach().requires_grad_(True), B))


def test_triangular_solve_cholesky_inverse_and_tensor_solves():
    B = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
    up, lo = np.triu(A3), np.tril(A3)
    r = rustdl.triangular_solve(D(B, False), D(up, False))
    np.testing.assert_allclose(r.solution.numpy(), np.linalg.solve(up, B), rtol=1e-12)
    np.testing.assert_array_equal(r.cloned_coefficient.numpy(), up)
    r = rustdl.triangular_solve(D(B, False), D(lo, False), upper=False, transpose=True)
    np.testing.assert_allclose(r.solution.numpy(), np.linalg.solve(lo.T, B), rtol=1e-12)
    spd = A3 @ A3.T + np.eye(3)
    L = np.linalg.cholesky(spd)
    np.testing.assert_allclose(rustdl.cholesky_inverse(D(L, False)).numpy(), np.linalg.inv(spd), rtol=1e-10)
    np.testing.assert_allclose(
        rustdl.cholesky_inverse(D(L.T, False), upper=True).numpy(), np.linalg.inv(spd), rtol=1e-10
    )
    T = np.arange(16.0).reshape(4, 2, 2) + np.eye(4).reshape(4, 2, 2) * 10
    np.testing.assert_allclose(
        rustdl.linalg.tensorinv(D(T, False), ind=1).numpy(), np.linalg.tensorinv(T, ind=1), rtol=1e-12
    )
    np.testing.assert_allclose(
        rustdl.linalg.tensorsolve(D(T, False), D(np.ones(4), False)).numpy(),
        np.linalg.tensorsolve(T, np.ones(4)),
        rtol=1e-12,
    )


class _WithExtra(rustdl.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = rustdl.nn.Linear(2, 2)
        self.counter = 0

    def get_extra_state(self):
        return {"counter": self.counter}

    def set_extra_state(self, state):
        self.counter = state["counter"]


class _Renamed(rustdl.nn.Module):
    """A module that reads an old checkpoint key through _load_from_state_dict."""

    def __init__(self):
        super().__init__()
        self.w = rustdl.nn.Parameter(rustdl.zeros(3))

    def _load_from_state_dict(self, state_dict, prefix, *args):
        if prefix + "weight_old" in state_dict:
            state_dict[prefix + "w"] = state_dict.pop(prefix + "weight_old")
        super()._load_from_state_dict(state_dict, prefix, *args)


def test_state_dict_extra_state_custom_loading_and_nested_lazy_modules():
    m = rustdl.nn.Sequential(_WithExtra(), _Renamed(), rustdl.nn.LazyLinear(4))
    sd = {
        "0._extra_state": {"counter": 42},
        "0.lin.weight": rustdl.ones(2, 2),
        "0.lin.bias": rustdl.zeros(2),
        "1.weight_old": rustdl.tensor([1.0, 2.0, 3.0]),
        "2.weight": rustdl.ones(4, 5),
        "2.bias": rustdl.zeros(4),
    }
    r = m.load_state_dict(sd)
    assert r.missing_keys == [] and r.unexpected_keys == []
    assert m[0].counter == 42 and m[1].w.tolist() == [1.0, 2.0, 3.0]
    assert tuple(m[2].weight.shape) == (4, 5)  # the nested lazy layer took its shape from the checkpoint
    assert sorted(m.state_dict()) == [
        "0._extra_state",
        "0.lin.bias",
        "0.lin.weight",
        "1.w",
        "2.bias",
        "2.weight",
    ]
    before = m[0].lin.weight.detach().clone()
    with pytest.raises(RuntimeError, match="size mismatch for 0.lin.weight"):
        m.load_state_dict(
            {**m.state_dict(), "0.lin.weight": rustdl.ones(3, 3), "0.lin.bias": rustdl.ones(2) * 9}
        )
    np.testing.assert_array_equal(m[0].lin.weight.detach().numpy(), before.numpy())  # nothing half-loaded
    assert m[0].lin.bias.tolist() == [0.0, 0.0]


def test_state_dict_hooks_and_assign():
    m = rustdl.nn.Sequential(rustdl.nn.Linear(2, 2), rustdl.nn.Linear(2, 1))
    calls = []
    m.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: calls.append(("pre", prefix)))
    m[1].register_state_dict_post_hook(lambda mod, sd, prefix, meta: calls.append(("post", prefix, len(sd))))
    m.state_dict()
    assert calls == [("pre", ""), ("post", "1.", 4)]

    def post(mod, keys):
        calls.append(("lpost", list(keys.unexpected_keys)))
        keys.unexpected_keys.clear()  # a post hook may excuse keys, as in PyTorch

    m.register_load_state_dict_post_hook(post)
    m[0].register_load_state_dict_pre_hook(lambda mod, sd, prefix, *rest: calls.append(("lpre", prefix)))
    m.load_state_dict({**m.state_dict(), "extra.key": rustdl.ones(1)})
    assert calls[-2:] == [("lpre", "0."), ("lpost", ["extra.key"])]
    lin = rustdl.nn.Linear(2, 2)
    w = rustdl.ones(2, 2) * 5
    lin.load_state_dict({"weight": w, "bias": rustdl.zeros(2)}, assign=True)
    assert isinstance(lin.weight, rustdl.nn.Parameter) and lin.weight.requires_grad
    w[0, 0] = 7.0  # the module holds the given tensor's storage
    assert lin.weight[0, 0].item() == 7.0


def _frac_starts_ref(size, out, k, u):
    if out == 1:
        return [size - k]
    alpha = (size - k) / (out - 1)
    return [int((i + u) * alpha) - int(u * alpha) for i in range(out - 1)] + [size - k]


def test_fractional_max_pool_matches_a_window_loop():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 9, 10))
    u = rng.uniform(size=(2, 3, 2))
    k, (oh, ow) = (3, 2), (4, 5)
    out, idx = F.fractional_max_pool2d(
        D(x), k, output_size=(oh, ow), return_indices=True, _random_samples=D(u, False)
    )
    want = np.zeros((2, 3, oh, ow))
    want_idx = np.zeros((2, 3, oh, ow), dtype=np.int64)
    for n in range(2):
        for c in range(3):
            rows = _frac_starts_ref(9, oh, k[0], u[n, c, 1])  # samples are (width, height), as PyTorch
            cols = _frac_starts_ref(10, ow, k[1], u[n, c, 0])
            for i, r0 in enumerate(rows):
                for j, c0 in enumerate(cols):
                    win = x[n, c, r0 : r0 + k[0], c0 : c0 + k[1]]
                    a = int(np.argmax(win))
                    want[n, c, i, j] = win.flat[a]
                    want_idx[n, c, i, j] = (r0 + a // k[1]) * 10 + c0 + a % k[1]
    np.testing.assert_array_equal(out.detach().numpy(), want)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    xt = D(x)
    F.fractional_max_pool2d(xt, k, output_size=(oh, ow), _random_samples=D(u, False)).sum().backward()
    g = np.zeros(x.size)
    np.add.at(g, (want_idx + (np.arange(6) * 90).reshape(2, 3, 1, 1)).ravel(), 1.0)
    np.testing.assert_array_equal(xt.grad.numpy().ravel(), g)
    assert tuple(rustdl.nn.FractionalMaxPool2d(2, output_ratio=0.5)(D(x, False)).shape) == (2, 3, 4, 5)
    o3 = rustdl.nn.FractionalMaxPool3d(2, output_size=(2, 3, 4))(D(rng.normal(size=(1, 2, 5, 6, 7)), False))
    assert tuple(o3.shape) == (1, 2, 2, 3, 4)
    with pytest.raises(ValueError, match="does not fit"):
        F.fractional_max_pool2d(D(x, False), 3, output_size=(8, 8))
    with pytest.raises(ValueError, match="output_size or an output_ratio"):
        F.fractional_max_pool2d(D(x, False), 3)


def test_lazy_norms_lp_pool3d_and_uninitialized_parameters():
    m = rustdl.nn.Sequential(
        rustdl.nn.LazyConv2d(4, 3), rustdl.nn.LazyBatchNorm2d(), rustdl.nn.Flatten(), rustdl.nn.LazyLinear(2)
    )
    assert all(isinstance(p, rustdl.nn.UninitializedParameter) for p in m.parameters())
    y = m(rustdl.ones(2, 3, 5, 5))
    assert tuple(y.shape) == (2, 2)
    assert type(m[1]) is rustdl.nn.BatchNorm2d and m[1].num_features == 4
    assert tuple(m[1].running_mean.shape) == (4,) and m[1].num_batches_tracked.item() == 1
    assert not any(isinstance(p, rustdl.nn.UninitializedParameter) for p in m.parameters())
    bn = rustdl.nn.LazyBatchNorm1d()
    x = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(
        bn(D(x, False)).detach().numpy(), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-6
    )
    b2 = rustdl.nn.LazyBatchNorm2d()
    b2.load_state_dict(rustdl.nn.BatchNorm2d(5).state_dict())
    assert type(b2) is rustdl.nn.BatchNorm2d and b2.num_features == 5
    inorm = rustdl.nn.LazyInstanceNorm2d(affine=True)
    inorm(rustdl.ones(2, 6, 3, 3))
    assert tuple(inorm.weight.shape) == (6,)
    v = np.abs(np.random.default_rng(0).normal(size=(1, 2, 4, 4, 4)))
    got = F.lp_pool3d(D(v, False), 2, 2).numpy()
    want = np.sqrt((v**2).reshape(1, 2, 2, 2, 2, 2, 2, 2).sum(axis=(3, 5, 7)))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _pool3d_ref(x, k, s, p, ceil, mode, include_pad=True, divisor=None):
    n, c, *sizes = x.shape
    outs = []
    for size, kk, ss, pp in zip(sizes, k, s, p):
        span = size + 2 * pp - kk
        o = (-(-span // ss) if ceil else span // ss) + 1
        if ceil and (o - 1) * ss >= size + pp:
            o -= 1
        outs.append(o)
    out = np.zeros((n, c, *outs))
    idx = np.zeros((n, c, *outs), dtype=np.int64)
    for i, j, l in np.ndindex(*outs):
        lo = [v * ss - pp for v, ss, pp in zip((i, j, l), s, p)]
        hi_pad = [min(a + kk, size + pp) for a, kk, size, pp in zip(lo, k, sizes, p)]
        a0 = [max(a, 0) for a in lo]
        a1 = [min(a + kk, size) for a, kk, size in zip(lo, k, sizes)]
        win = x[:, :, a0[0] : a1[0], a0[1] : a1[1], a0[2] : a1[2]].reshape(n, c, -1)
        if mode == "max":
            arg = win.argmax(-1)
            out[:, :, i, j, l] = win.max(-1)
            dims = (a1[0] - a0[0], a1[1] - a0[1], a1[2] - a0[2])
            dd, hh, ww = np.unravel_index(arg, dims)
            idx[:, :, i, j, l] = ((dd + a0[0]) * sizes[1] + hh + a0[1]) * sizes[2] + ww + a0[2]
        else:
            cnt = divisor or (
                np.prod([h - a for h, a in zip(hi_pad, lo)])
                if include_pad
                else np.prod([b - a for a, b in zip(a0, a1)])
            )
            out[:, :, i, j, l] = win.sum(-1) / cnt
    return out, idx


def test_pool3d_ceil_mode_indices_divisors_and_unpool():
    x = np.random.default_rng(2).normal(size=(2, 2, 5, 6, 7))
    for k, s, p in (
        ((2, 2, 2), (2, 2, 2), (0, 0, 0)),
        ((3, 3, 3), (2, 2, 2), (1, 1, 1)),
        ((2, 3, 2), (1, 2, 2), (0, 1, 0)),
    ):
        out, idx = F.max_pool3d(D(x, False), k, s, p, ceil_mode=True, return_indices=True)
        want, want_idx = _pool3d_ref(x, k, s, p, True, "max")
        np.testing.assert_array_equal(out.numpy(), want)
        np.testing.assert_array_equal(idx.numpy(), want_idx)
        for include in (True, False):
            got = F.avg_pool3d(D(x, False), k, s, p, ceil_mode=True, count_include_pad=include)
            np.testing.assert_allclose(
                got.numpy(), _pool3d_ref(x, k, s, p, True, "avg", include)[0], rtol=1e-12
            )
        got = F.avg_pool3d(D(x, False), k, s, p, divisor_override=5)
        np.testing.assert_allclose(
            got.numpy(), _pool3d_ref(x, k, s, p, False, "avg", divisor=5)[0], rtol=1e-12
        )
    pooled, idx = rustdl.nn.MaxPool3d(2, return_indices=True)(D(x, False))
    up = rustdl.nn.MaxUnpool3d(2)(pooled, idx, output_size=(5, 6, 7))
    flat = np.zeros((2, 2, 5 * 6 * 7))
    for a in range(2):
        for b in range(2):
            flat[a, b, idx[a, b].numpy().ravel()] = pooled[a, b].numpy().ravel()
    np.testing.assert_array_equal(up.numpy(), flat.reshape(2, 2, 5, 6, 7))
    xt = D(x)
    o = F.max_pool3d(xt, 3, 2, 1, ceil_mode=True)
    (o * o).sum().backward()
    assert gradcheck(
        lambda t: F.avg_pool3d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        (D(x[:1, :1, :3, :4, :4]),),
    )
    with pytest.raises(ValueError, match="indices must be in"):
        F.max_unpool3d(pooled, idx + 10_000, 2)


def test_orthogonal_polynomials_match_numpy():
    from numpy.polynomial import chebyshev, hermite, hermite_e, laguerre, legendre

    sp = rustdl.special
    x = np.linspace(-1.5, 1.5, 7)
    n = np.array([0, 1, 2, 3, 5, 8, -1])

    cases = [
        (sp.chebyshev_polynomial_t, lambda v, k: chebyshev.chebval(v, np.eye(k + 1)[k])),
        (sp.hermite_polynomial_h, lambda v, k: hermite.hermval(v, np.eye(k + 1)[k])),
        (sp.hermite_polynomial_he, lambda v, k: hermite_e.hermeval(v, np.eye(k + 1)[k])),
        (sp.laguerre_polynomial_l, lambda v, k: laguerre.lagval(v, np.eye(k + 1)[k])),
        (sp.legendre_polynomial_p, lambda v, k: legendre.legval(v, np.eye(k + 1)[k])),
    ]
    for fn, want in cases:
        got = fn(D(x, False), rustdl.tensor(n)).numpy()
        exp = np.array([0.0 if k < 0 else want(v, k) for v, k in zip(x, n)])
        np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-12)
    # the other kinds by their trigonometric forms at x = cos θ
    th = np.linspace(0.2, 2.9, 5)
    for k in range(6):
        c = np.cos(th)
        np.testing.assert_allclose(
            sp.chebyshev_polynomial_u(D(c, False), k).numpy(), np.sin((k + 1) * th) / np.sin(th), rtol=1e-10
        )
        np.testing.assert_allclose(
            sp.chebyshev_polynomial_v(D(c, False), k).numpy(),
            np.cos((k + 0.5) * th) / np.cos(th / 2),
            rtol=1e-10,
        )
        np.testing.assert_allclose(
            sp.chebyshev_polynomial_w(D(c, False), k).numpy(),
            np.sin((k + 0.5) * th) / np.sin(th / 2),
            rtol=1e-10,
        )
        np.testing.assert_allclose(
            sp.shifted_chebyshev_polynomial_t(D((c + 1) / 2, False), k).numpy(),
            np.cos(k * th),
            rtol=1e-10,
            atol=1e-12,
        )
    np.testing.assert_allclose(
        sp.spherical_bessel_j0(D([0.0, 1.0, 5.0], False)).numpy(),
        [1.0, np.sin(1.0), np.sin(5.0) / 5],
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="integer"):
        sp.legendre_polynomial_p(D(x, False), 1.5)
