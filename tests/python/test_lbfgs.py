"""optim.LBFGS against closed-form minimisers, numpy's lstsq and a numpy L-BFGS; Optimizer.step(closure)."""

import numpy as np
import pytest
import rustdl
from conftest import assert_close
from rustdl import nn, optim
from rustdl.optim import LBFGS

LINE_SEARCHES = [None, "strong_wolfe"]


def make_quadratic(n=8, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n, n))
    a = m @ m.T + n * np.eye(n)  # symmetric positive definite
    b = rng.normal(size=n)
    return a, b


def minimise(opt, closure, steps):
    loss = None
    for _ in range(steps):
        loss = opt.step(closure)
    return loss


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_quadratic_reaches_closed_form_minimiser(line_search_fn):
    # f(x) = 1/2 x^T A x - b^T x has its minimum at A^-1 b
    a, b = make_quadratic()
    A = rustdl.tensor(a, dtype=rustdl.float64)
    B = rustdl.tensor(b, dtype=rustdl.float64)
    x = rustdl.zeros(8, dtype=rustdl.float64, requires_grad=True)
    opt = LBFGS([x], line_search_fn=line_search_fn, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (A @ x)) - (B * x).sum()
        loss.backward()
        return loss

    minimise(opt, closure, 5)
    x_star = np.linalg.solve(a, b)
    # the loss-change test stops once f is within ~1e-15 of its minimum, i.e. x within ~1e-8
    assert_close(x, x_star, rtol=1e-6, atol=1e-8)
    assert abs(closure().item() - (-0.5 * b @ x_star)) < 1e-10


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_quadratic_on_device(device, line_search_fn):
    a, b = make_quadratic(n=6, seed=1)
    A = rustdl.tensor(a, dtype=rustdl.float32, device=device)
    B = rustdl.tensor(b, dtype=rustdl.float32, device=device)
    x = rustdl.zeros(6, device=device, requires_grad=True)
    opt = LBFGS([x], line_search_fn=line_search_fn, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (A @ x)) - (B * x).sum()
        loss.backward()
        return loss

    minimise(opt, closure, 3)
    assert x.device == A.device
    assert_close(x, np.linalg.solve(a, b), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_rosenbrock_reaches_known_optimum(line_search_fn):
    # f(a, b) = (1 - a)^2 + 100 (b - a^2)^2, minimum 0 at (1, 1)
    x = rustdl.tensor([-1.2, 1.0], dtype=rustdl.float64, requires_grad=True)
    opt = LBFGS(
        [x], lr=1, max_iter=100, line_search_fn=line_search_fn, tolerance_grad=1e-10, tolerance_change=1e-14
    )

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    minimise(opt, closure, 5)
    assert_close(x, [1.0, 1.0], rtol=1e-6, atol=1e-6)
    assert closure().item() < 1e-10


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_rosenbrock_many_dims_with_two_parameters(line_search_fn):
    # sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 over x = cat(u, v): the flat vector spans two tensors
    u = rustdl.tensor([0.0, 0.5, 1.5], dtype=rustdl.float64, requires_grad=True)
    v = rustdl.tensor([[0.0, -0.5], [2.0, 1.2]], dtype=rustdl.float64, requires_grad=True)
    opt = LBFGS(
        [u, v],
        lr=1,
        max_iter=200,
        history_size=10,
        line_search_fn=line_search_fn,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
    )

    def closure():
        opt.zero_grad()
        x = rustdl.cat([u, v.reshape(-1)])
        loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        loss.backward()
        return loss

    minimise(opt, closure, 10)
    assert closure().item() < 1e-10
    assert_close(u, np.ones(3), atol=1e-5)
    assert_close(v, np.ones((2, 2)), atol=1e-5)


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_linear_regression_matches_lstsq(line_search_fn):
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(64, 5))
    ys = xs @ rng.normal(size=(5, 1)) + 0.7 + 0.1 * rng.normal(size=(64, 1))
    model = nn.Linear(5, 1).double()
    X = rustdl.tensor(xs, dtype=rustdl.float64)
    Y = rustdl.tensor(ys, dtype=rustdl.float64)
    opt = LBFGS(
        model.parameters(), line_search_fn=line_search_fn, tolerance_grad=1e-12, tolerance_change=1e-15
    )

    def closure():
        opt.zero_grad()
        loss = ((model(X) - Y) ** 2).mean()
        loss.backward()
        return loss

    minimise(opt, closure, 5)
    coef, *_ = np.linalg.lstsq(np.hstack([xs, np.ones((64, 1))]), ys, rcond=None)
    assert_close(model.weight, coef[:5].T, rtol=1e-7, atol=1e-9)
    assert_close(model.bias, coef[5], rtol=1e-7, atol=1e-9)


def np_lbfgs(f_grad, x, lr, iters, history):
    """A numpy L-BFGS with a fixed step, after PyTorch's documented algorithm."""
    _, g = f_grad(x)
    d, t, s_hist, y_hist = None, None, [], []
    g_prev = None
    for k in range(iters):
        if k == 0:
            d = -g
        else:
            y, s = g - g_prev, d * t
            if y @ s > 1e-10:
                s_hist, y_hist = (s_hist + [s])[-history:], (y_hist + [y])[-history:]
            q, al = -g.copy(), []
            for s_i, y_i in reversed(list(zip(s_hist, y_hist))):
                al.append((s_i @ q) / (y_i @ s_i))
                q = q - al[-1] * y_i
            gamma = (s_hist[-1] @ y_hist[-1]) / (y_hist[-1] @ y_hist[-1]) if s_hist else 1.0
            r = gamma * q
            for (s_i, y_i), a_i in zip(zip(s_hist, y_hist), reversed(al)):
                r = r + s_i * (a_i - (y_i @ r) / (y_i @ s_i))
            d = r
        g_prev = g
        t = min(1.0, 1.0 / np.abs(g).sum()) * lr if k == 0 else lr
        x = x + t * d
        _, g = f_grad(x)
    return x


def test_matches_numpy_lbfgs_trajectory():
    # f(x) = sum(x^4)/4 + 1/2 x^T A x - b^T x: non-quadratic, so the curvature pairs matter
    a, b = make_quadratic(n=5, seed=4)
    a = a / 10

    def f_grad(x):
        return 0.25 * (x**4).sum() + 0.5 * x @ a @ x - b @ x, x**3 + a @ x - b

    x0 = np.linspace(-1, 1, 5)
    A = rustdl.tensor(a, dtype=rustdl.float64)
    B = rustdl.tensor(b, dtype=rustdl.float64)
    x = rustdl.tensor(x0, dtype=rustdl.float64, requires_grad=True)
    opt = LBFGS([x], lr=0.5, max_iter=6, history_size=3, tolerance_grad=0, tolerance_change=0)

    def closure():
        opt.zero_grad()
        loss = 0.25 * (x**4).sum() + 0.5 * (x @ (A @ x)) - (B * x).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert_close(x, np_lbfgs(f_grad, x0, lr=0.5, iters=6, history=3), rtol=1e-10, atol=1e-12)
    assert opt.state[x]["n_iter"] == 6 and opt.state[x]["func_evals"] == 6
    assert len(opt.state[x]["old_dirs"]) == 3


def test_max_iter_and_func_evals_bounded():
    a, _ = make_quadratic()
    A = rustdl.tensor(a, dtype=rustdl.float64)
    x = rustdl.ones(8, dtype=rustdl.float64, requires_grad=True)
    opt = LBFGS([x], max_iter=4, max_eval=100, tolerance_grad=0, tolerance_change=0)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = 0.5 * (x @ (A @ x))
        loss.backward()
        return loss

    first = opt.step(closure)
    assert len(calls) == 4  # the first evaluation plus one after each iteration but the last
    assert opt.state[x]["n_iter"] == 4 and opt.state[x]["func_evals"] == 4
    assert abs(first.item() - 0.5 * np.ones(8) @ a @ np.ones(8)) < 1e-9  # step returns the first loss
    # max_eval stops the iterations too
    calls.clear()
    opt = LBFGS([x], max_iter=10, max_eval=3, tolerance_grad=0, tolerance_change=0)
    opt.step(closure)
    assert len(calls) == 3 and opt.state[x]["n_iter"] == 2


def test_stops_at_once_when_gradient_is_small():
    x = rustdl.zeros(3, requires_grad=True)
    opt = LBFGS([x])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert len(calls) == 1 and x.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("line_search_fn", LINE_SEARCHES)
def test_state_dict_round_trip(line_search_fn):
    a, b = make_quadratic(n=6, seed=2)
    a4 = a / 6

    def run(n_steps, opt_state=None, x_start=None):
        x = rustdl.tensor(
            np.full(6, 2.0) if x_start is None else x_start, dtype=rustdl.float64, requires_grad=True
        )
        opt = LBFGS(
            [x],
            max_iter=3,
            max_eval=100,
            history_size=4,
            line_search_fn=line_search_fn,
            tolerance_change=0,
            tolerance_grad=0,
        )
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        A = rustdl.tensor(a4, dtype=rustdl.float64)
        B = rustdl.tensor(b, dtype=rustdl.float64)

        def closure():
            opt.zero_grad()
            loss = 0.25 * (x**4).sum() + 0.5 * (x @ (A @ x)) - (B * x).sum()
            loss.backward()
            return loss

        for _ in range(n_steps):
            opt.step(closure)
        return x, opt

    x_ref, _ = run(4)
    x_half, opt_half = run(2)
    sd = opt_half.state_dict()
    assert set(sd["state"]) == {0}
    st = sd["state"][0]
    assert {
        "d",
        "t",
        "old_dirs",
        "old_stps",
        "ro",
        "H_diag",
        "prev_flat_grad",
        "prev_loss",
        "n_iter",
        "func_evals",
    } <= set(st)
    assert (
        sd["param_groups"][0]["history_size"] == 4
        and sd["param_groups"][0]["line_search_fn"] == line_search_fn
    )
    d_saved = st["d"].numpy().copy()
    x_resumed, opt2 = run(2, opt_state=sd, x_start=x_half.detach().numpy())
    assert_close(x_resumed, x_ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    # the loaded state is a copy: stepping the new optimizer leaves the saved dict unchanged
    assert opt2.state[opt2.param_groups[0]["params"][0]]["n_iter"] == 12
    assert st["n_iter"] == 6
    np.testing.assert_array_equal(st["d"].numpy(), d_saved)
    assert opt2.state[opt2.param_groups[0]["params"][0]]["d"] is not st["d"]


def test_bad_arguments():
    x = rustdl.zeros(2, requires_grad=True)
    y = rustdl.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        LBFGS([{"params": [x]}, {"params": [y]}])
    with pytest.raises(ValueError, match="strong_wolfe"):
        LBFGS([x], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="learning rate"):
        LBFGS([x], lr=-1.0)
    with pytest.raises(RuntimeError, match="closure"):
        LBFGS([x]).step()
    assert LBFGS([x], max_iter=8).param_groups[0]["max_eval"] == 10


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
        lambda p: optim.Adam(p, lr=0.1),
        lambda p: optim.AdamW(p, lr=0.1),
        lambda p: optim.RMSprop(p, lr=0.01),
        lambda p: optim.Adagrad(p, lr=0.1),
    ],
)
def test_step_with_closure_for_every_optimizer(make):
    x = rustdl.tensor([1.0, -2.0], requires_grad=True)
    opt = make([x])
    seen = []

    def closure():
        seen.append(rustdl.is_grad_enabled())
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with rustdl.no_grad():  # the closure still runs with grad enabled
        loss = opt.step(closure)
    assert seen == [True]
    assert abs(loss.item() - 5.0) < 1e-6
    assert x.tolist() != [1.0, -2.0]
    assert opt.step() is None
