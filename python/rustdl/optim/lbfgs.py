"""L-BFGS: a quasi-Newton method with a limited memory of curvature pairs, as ``torch.optim.LBFGS``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Callable

from .. import _rustdl
from .._rustdl import Tensor
from ..autograd import enable_grad, no_grad
from .optimizer import Optimizer, _defaults

__all__ = ["LBFGS"]


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """The inner product of two flat vectors, as a 0-d tensor (stays on the device)."""
    return (a * b).sum()


class LBFGS(Optimizer):
    """L-BFGS, as PyTorch's (itself after minFunc).

    Each ``step(closure)`` runs up to ``max_iter`` iterations: the search direction comes from the
    two-loop recursion over the last ``history_size`` pairs ``s = x_{k+1} - x_k``,
    ``y = g_{k+1} - g_k`` (with the initial Hessian ``(s·y)/(y·y)``), and the step length is ``lr``
    (the first iteration ever: ``min(1, 1/|g|_1)·lr``) or found by a line search satisfying the
    strong Wolfe conditions (cubic interpolation, ``c1 = 1e-4``, ``c2 = 0.9``).

    Unlike the other optimizers, whose ``step()`` is one fused Rust update per parameter group,
    L-BFGS is a sequence of vector operations whose control flow depends on their results. It
    therefore works on one flattened vector of all parameters (and one of their gradients) with
    rustdl tensor ops — inner products, scaled additions — so the vectors stay on the parameters'
    device; only the scalars that steer the iteration (the loss, ``g·d``, ``s·y``, ``max|g|``) are
    read back to Python, a few per iteration. The whole state (direction, step, history) lives in
    ``state[first parameter]``, so ``state_dict()``/``load_state_dict()`` round-trip it.

    Args:
        params: tensors to optimize (one parameter group only).
        lr: learning rate (the step length without a line search, the first trial step with one).
        max_iter: maximal number of iterations per ``step()``.
        max_eval: maximal number of closure evaluations per ``step()`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max|g| <= tolerance_grad``.
        tolerance_change: stop when the loss or the parameters change by less than this.
        history_size: number of ``(s, y)`` pairs kept.
        line_search_fn: ``None`` or ``"strong_wolfe"``.

    Example:
        >>> opt = rustdl.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = loss_fn(model(x), y)
        ...     loss.backward()
        ...     return loss
        >>> opt.step(closure)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
        maximize: bool = False,
    ) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, _defaults(locals()))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def _check_group(self, group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if group["max_iter"] < 1:
            raise ValueError(f"Invalid max_iter: {group['max_iter']}")
        if group["history_size"] < 1:
            raise ValueError(f"Invalid history_size: {group['history_size']}")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError("only 'strong_wolfe' is supported")

    # ---------- flat views of the parameters ----------

    def _flat_grad(self) -> Tensor:
        parts = []
        for p in self._params:
            g = p.grad
            parts.append(
                _rustdl.zeros(p.numel(), dtype=p.dtype, device=p.device) if g is None else g.reshape(-1)
            )
        flat = _rustdl.cat(parts, 0) if len(parts) > 1 else parts[0].clone()
        # maximize: minimise the negated objective (its gradient negated here, its value in
        # _evaluate), as PyTorch
        return flat.neg_() if self.param_groups[0].get("maximize", False) else flat

    def _add_to_params(self, t: float, d: Tensor) -> None:
        """``params += t·d`` with ``d`` a flat vector."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset : offset + n].reshape(p.shape), alpha=t)
            offset += n

    def _clone_params(self) -> list[Tensor]:
        return [p.detach().clone() for p in self._params]

    def _set_params(self, values: list[Tensor]) -> None:
        for p, v in zip(self._params, values):
            p.copy_(v)

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[Any, float]:
        with enable_grad():
            loss = closure()
        value = float(loss)
        return loss, -value if self.param_groups[0].get("maximize", False) else value

    def _directional_evaluate(
        self, closure: Callable[[], Any], x: list[Tensor], t: float, d: Tensor
    ) -> tuple[float, Tensor]:
        """Loss and flat gradient at ``x + t·d``; the parameters are restored to ``x`` after."""
        self._add_to_params(t, d)
        _, loss = self._evaluate(closure)
        flat_grad = self._flat_grad()
        self._set_params(x)
        return loss, flat_grad

    # ---------- the step ----------

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None):  # type: ignore[override]
        """Runs up to ``max_iter`` L-BFGS iterations.

        Args:
            closure: re-evaluates the model — zeroes the gradients, computes the loss, calls
                ``backward()`` and returns the loss. Required; called with grad enabled.

        Returns:
            The loss of the first closure evaluation.
        """
        if closure is None:
            raise RuntimeError("LBFGS.step requires a closure that re-evaluates the loss")
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter = group["max_iter"]
        max_eval = group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        history_size = group["history_size"]
        line_search_fn = group["line_search_fn"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss = self._evaluate(closure)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if float(flat_grad.abs().max()) <= tolerance_grad:
            return orig_loss

        d: Tensor | None = state.get("d")
        t: float | None = state.get("t")
        old_dirs: list[Tensor] = list(state.get("old_dirs", []))
        old_stps: list[Tensor] = list(state.get("old_stps", []))
        ro: list[Tensor] = list(state.get("ro", []))
        h_diag: Tensor | float = state.get("H_diag", 1.0)
        prev_flat_grad: Tensor | None = state.get("prev_flat_grad")
        prev_loss: float | None = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ----- the search direction -----
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot(y, s)
                if float(ys) > 1e-10:  # keep only pairs of positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs, old_stps, ro = old_dirs[1:], old_stps[1:], ro[1:]
                    old_dirs = old_dirs + [y]
                    old_stps = old_stps + [s]
                    ro = ro + [1.0 / ys]
                    h_diag = ys / _dot(y, y)
                # two-loop recursion: d = -H·g with H the L-BFGS inverse-Hessian estimate
                q = -flat_grad
                alphas: list[Tensor] = [None] * len(old_dirs)  # type: ignore[list-item]
                for i in range(len(old_dirs) - 1, -1, -1):
                    alphas[i] = _dot(old_stps[i], q) * ro[i]
                    q = q - old_dirs[i] * alphas[i]
                # kept in the state as PyTorch keeps its buffer of alphas (history_size slots)
                al = state.get("al")
                if not isinstance(al, list) or len(al) < len(alphas):
                    al = [None] * max(history_size, len(alphas))
                al[: len(alphas)] = alphas
                state["al"] = al
                r = q * h_diag
                for i in range(len(old_dirs)):
                    beta = _dot(old_dirs[i], r) * ro[i]
                    r = r + old_stps[i] * (alphas[i] - beta)
                d = r

            prev_flat_grad = flat_grad.clone()
            prev_loss = loss

            # ----- the step length -----
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(flat_grad.abs().sum())) * lr
            else:
                t = lr
            gtd = float(_dot(flat_grad, d))
            if gtd > -tolerance_change:  # not a descent direction
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_params()

                def obj_func(x: list[Tensor], step: float, direction: Tensor) -> tuple[float, Tensor]:
                    return self._directional_evaluate(closure, x, step, direction)

                # the search may spend what is left of max_eval (none: no bracketing, as PyTorch)
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_to_params(t, d)
                opt_cond = float(flat_grad.abs().max()) <= tolerance_grad
            else:
                self._add_to_params(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    # no line search: re-evaluate at the new point (the last iteration skips it)
                    _, loss = self._evaluate(closure)
                    flat_grad = self._flat_grad()
                    opt_cond = float(flat_grad.abs().max()) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ----- stopping conditions -----
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float((d * t).abs().max()) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = h_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss

    def _load_state_value(self, p: Tensor, name: str, value: Any) -> Any:
        # The state holds flat vectors and lists of them, not tensors shaped like a parameter.
        def move(v: Tensor) -> Tensor:
            dtype = p.dtype if v.is_floating_point() else v.dtype
            return v.detach().to(p.device, dtype).clone()

        if isinstance(value, Tensor):
            return move(value)
        if isinstance(value, (list, tuple)):
            return [move(v) if isinstance(v, Tensor) else v for v in value]
        return value


# ---------------- strong Wolfe line search (Nocedal & Wright, algorithms 3.5 and 3.6) ----------------


def _cubic_minimizer(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """The minimiser of the cubic through ``(x1, f1)``, ``(x2, f2)`` with slopes ``g1``, ``g2``, clamped to ``bounds``.

    Falls back to the middle of ``bounds`` when the cubic has no real minimiser.
    """
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    # N&W (3.59), written for x1 <= x2 and mirrored otherwise
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * (g2 + d2 - d1) / (g2 - g1 + 2 * d2)
    else:
        x = x1 - (x1 - x2) * (g1 + d2 - d1) / (g1 - g2 + 2 * d2)
    if math.isnan(x):
        return (lo + hi) / 2
    return min(max(x, lo), hi)


def _strong_wolfe(
    obj_func: Callable[[list[Tensor], float, Tensor], tuple[float, Tensor]],
    x: list[Tensor],
    t: float,
    d: Tensor,
    f: float,
    g: Tensor,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Tensor, float, int]:
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions.

    ``f(x + t·d) <= f + c1·t·(g·d)`` (sufficient decrease) and ``|g(x + t·d)·d| <= c2·|g·d|``
    (curvature). Returns ``(loss, flat gradient, t, evaluations)`` at the step found.
    """
    d_norm = float(d.abs().max())
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = float(_dot(g_new, d))

    # bracketing phase: grow t until an interval [t_prev, t] contains acceptable steps
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float]
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g, bracket_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate by cubic interpolation within [t + 0.01 (t - t_prev), 10 t]
        t_next = _cubic_minimizer(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10)
        )
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = float(_dot(g_new, d))
        ls_iter += 1
    else:
        bracket, bracket_f = [0.0, t], [f, f_new]
        bracket_g, bracket_gtd = [g, g_new], [gtd, gtd_new]

    # zoom phase: shrink the bracket until a step meets both conditions
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimizer(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # keep t away from the ends of the bracket so that it keeps shrinking
        b_lo, b_hi = min(bracket), max(bracket)
        eps = 0.1 * (b_hi - b_lo)
        if min(b_hi - t, t - b_lo) < eps:
            if insufficient_progress or t >= b_hi or t <= b_lo:
                t = b_hi - eps if abs(t - b_hi) < abs(t - b_lo) else b_lo + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = float(_dot(g_new, d))
        ls_iter += 1

        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            # t is too long: it becomes the high end
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                # the slope points away from the high end: the old low end becomes the high end
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new

    return bracket_f[low], bracket_g[low], bracket[low], evals
