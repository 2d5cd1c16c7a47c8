"""``torch.nn.utils.parametrizations``: ``orthogonal``, ``weight_norm`` and ``spectral_norm``,
each registered through :mod:`.parametrize` (state-dict keys ``parametrizations.<name>.original``,
``original0`` / ``original1`` for weight norm, ``parametrizations.<name>.0._u`` / ``._v`` for
spectral norm, ``parametrizations.<name>.0.base`` for orthogonal)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import _rustdl, linalg
from ..._rustdl import Tensor
from ...autograd import no_grad
from ..modules.module import Module
from .parametrize import register_parametrization
from .weight_norm import _norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _normalize(x: Tensor, eps: float) -> Tensor:
    return x / x.square().sum().sqrt().clamp(min=eps)


# ---------- orthogonal ----------


def _make_orthogonal(a: Tensor) -> Tensor:
    """The Q of a QR decomposition of ``a`` (n x k, n >= k), with R's diagonal made positive."""
    arr = a.detach().cpu().numpy().astype(np.float64)
    q, r = np.linalg.qr(arr)
    signs = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    signs[signs == 0] = 1.0
    q = q * signs[..., None, :]
    return _rustdl.tensor(q, dtype=a.dtype).to(a.device)


def _is_orthogonal(q: Tensor) -> bool:
    n, k = q.shape[-2], q.shape[-1]
    eps = 10 * n * (1.2e-7 if q.dtype == _rustdl.float32 else 2.3e-16)
    g = (q.mT @ q).detach().cpu().numpy()
    return bool(np.allclose(g, np.eye(k), atol=eps, rtol=0.0))


_MAPS = ("matrix_exp", "cayley", "householder")


class _Orthogonal(Module):
    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = x.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = x.tril()
            if n != k:
                pad = _rustdl.zeros(*x.shape[:-1], n - k, dtype=x.dtype, device=x.device)
                x = _rustdl.cat([x, pad], dim=-1)
            a = x - x.mT
            if self.orthogonal_map == "matrix_exp":
                q = linalg.matrix_exp(a)
            else:
                eye = _rustdl.eye(n, dtype=x.dtype, device=x.device)
                q = linalg.solve(eye - a * 0.5, eye + a * 0.5)
            if n != k:
                q = q[..., :k]
        else:
            a = x.tril(-1)
            tau = 2.0 / (1.0 + (a * a).sum(dim=-2))
            q = linalg.householder_product(a, tau)
            sign = x.diagonal(dim1=-2, dim2=-1).detach().sign()
            sign = sign + (sign == 0).to(sign.dtype)
            q = q * sign.unsqueeze(-2)
        base = self.__dict__["_buffers"].get("base")
        if base is not None:
            q = base @ q
        if transposed:
            q = q.mT
        return q

    def right_inverse(self, q: Tensor) -> Tensor:
        if tuple(q.shape) != self.shape:
            raise ValueError(
                f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape {tuple(q.shape)}."
            )
        q_init = q
        n, k = q.shape[-2], q.shape[-1]
        if n < k:
            q = q.mT
            n, k = k, n
        if "base" not in self._buffers:
            # without trivialization only the householder map can be inverted
            if self.orthogonal_map != "householder":
                raise NotImplementedError(
                    "It is not possible to assign to the matrix exponential or the Cayley parametrizations "
                    "when use_trivialization=False."
                )
            arr = q.detach().cpu().numpy().astype(np.float64)
            flat = arr.reshape(-1, n, k)
            out = np.empty_like(flat)
            for b in range(flat.shape[0]):
                h, tau = _geqrf(flat[b])
                # forward multiplies column j by this sign: R's diagonal made positive, and a
                # reflection that LAPACK-style QR skipped (tau 0) undone
                d = np.sign(np.diagonal(h)).copy()
                d[d == 0] = 1.0
                d[tau == 0.0] *= -1.0
                np.fill_diagonal(h, d)
                out[b] = h
            res = _rustdl.tensor(out.reshape(arr.shape), dtype=q.dtype).to(q.device)
            return res.mT if q_init.shape[-2] < q_init.shape[-1] else res
        if n == k:
            base = q.detach().clone() if _is_orthogonal(q) else _make_orthogonal(q)
        else:
            extra = _rustdl.randn(*q.shape[:-1], n - k, dtype=q.dtype, device=q.device)
            base = _make_orthogonal(_rustdl.cat([q.detach(), extra], dim=-1))
        self.base = base
        neg_id = _rustdl.zeros(*q_init.shape, dtype=q_init.dtype, device=q_init.device)
        m = min(neg_id.shape[-2], neg_id.shape[-1])
        idx = _rustdl.arange(m, device=q_init.device)
        neg_id[..., idx, idx] = -1.0
        return neg_id


def _geqrf(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Householder QR of one n x k matrix (n >= k) in LAPACK's compact form: R on and above the
    diagonal, the reflectors' tails below it, and their taus."""
    a = a.copy()
    n, k = a.shape
    tau = np.zeros(k)
    for j in range(k):
        x = a[j:, j].copy()
        alpha = x[0]
        sigma = np.dot(x[1:], x[1:])
        if sigma == 0.0:
            tau[j] = 0.0
            continue
        beta = -np.copysign(np.sqrt(alpha * alpha + sigma), alpha)
        tau[j] = (beta - alpha) / beta
        v = x / (alpha - beta)
        v[0] = 1.0
        a[j:, j:] -= tau[j] * np.outer(v, v @ a[j:, j:])
        a[j + 1 :, j] = v[1:]
        a[j, j] = beta
    return a, tau


def orthogonal(
    module: Module,
    name: str = "weight",
    orthogonal_map: str | None = None,
    *,
    use_trivialization: bool = True,
) -> Module:
    """Constrains the matrix (or batch of matrices) ``module.<name>`` to be orthogonal: Q^T Q = I
    for tall ones, Q Q^T = I for wide ones, through any number of optimizer steps.

    ``orthogonal_map``: ``"matrix_exp"`` (the default for square matrices), ``"cayley"`` or
    ``"householder"`` (the default otherwise). With ``use_trivialization`` (default) the current
    weight is kept as the buffer ``parametrizations.<name>.0.base`` and ``original`` starts at
    ``-I``; the parametrized weight at registration equals the old weight made orthogonal (QR).

    Raises:
        ValueError: no such tensor, fewer than 2 dims, or an unknown map.

    Example:
        >>> layer = orthogonal(nn.Linear(4, 4))
        >>> W = layer.weight  # W.T @ W == I
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{type(module).__name__}' has no parameter or buffer with name '{name}'")
    if weight.dim() < 2:
        raise ValueError(
            f"Expected a matrix or batch of matrices. Got a tensor of {weight.dim()} dimensions."
        )
    if not (weight.is_floating_point() or weight.is_complex()):
        raise TypeError(f"orthogonal: '{name}' must be a floating point tensor, got {weight.dtype}")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError(
            f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: {orthogonal_map}'
        )
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    register_parametrization(module, name, orth, unsafe=True)
    return module


# ---------- weight norm ----------


def _check_dim(dim: Any, w: Tensor, fn: str) -> int:
    """``dim`` as a non-negative index of ``w``'s dims; IndexError (as PyTorch) out of range."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{fn}: dim must be an int or None, got {type(dim).__name__}")
    nd = max(w.dim(), 1)
    if not -nd <= dim < nd:
        raise IndexError(
            f"{fn}: Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})"
        )
    return dim % nd


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Splits ``module.<name>`` into a magnitude ``parametrizations.<name>.original0`` and a
    direction ``original1`` (w = g·v/‖v‖, the norm over every dim but ``dim``; ``dim=None``: over
    the whole tensor), as ``torch.nn.utils.parametrizations.weight_norm``."""
    w = module._parameters.get(name) if isinstance(module, Module) else None
    if w is None:
        raise ValueError(f"weight_norm: the module has no parameter '{name}'")
    if dim == -1:  # as PyTorch: -1 is the whole tensor (as None), not the last dim
        dim = None
    if dim is not None:
        dim = _check_dim(dim, w, "weight_norm")
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _legacy_weight_norm_keys(state_dict, prefix, *_):
        # a checkpoint of the old ``nn.utils.weight_norm`` (``<name>_g`` / ``<name>_v``) loads
        # into this one: its magnitude and direction are original0 and original1, as PyTorch
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(_legacy_weight_norm_keys)
    return module


# ---------- spectral norm ----------


class _SpectralNorm(Module):
    """Divides the weight by its largest singular value, kept up to date by power iteration on
    the buffers ``_u`` and ``_v`` (``n_power_iterations`` steps per training-mode evaluation)."""

    def __init__(self, weight: Tensor, n_power_iterations: int, dim: int, eps: float) -> None:
        super().__init__()
        self.dim, self.eps, self.n_power_iterations = dim, eps, n_power_iterations
        if weight.dim() > 1:
            mat = self.matrix(weight.detach())
            h, k = mat.shape
            self.register_buffer(
                "_u", _normalize(_rustdl.randn(h, dtype=weight.dtype, device=weight.device), eps)
            )
            self.register_buffer(
                "_v", _normalize(_rustdl.randn(k, dtype=weight.dtype, device=weight.device), eps)
            )
            self.power_method(mat, 15)

    def matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.dim()) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def power_method(self, mat: Tensor, n: int) -> None:
        with no_grad():
            m = mat.detach()
            for _ in range(n):  # u from v, then v from u, as PyTorch
                self._u.copy_(_normalize(m.mv(self._v), self.eps))
                self._v.copy_(_normalize(m.t().mv(self._u), self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.dim() == 1:
            return _normalize(weight, self.eps)
        mat = self.matrix(weight)
        if self.training:
            self.power_method(mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = (u * mat.mv(v)).sum()
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Any, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None
) -> Any:
    """Divides ``module.<name>`` by its largest singular value, estimated by power iteration
    (``n_power_iterations`` steps each time the weight is computed in training mode; none in
    eval mode), as ``torch.nn.utils.parametrizations.spectral_norm``. Keys:
    ``parametrizations.<name>.original`` and buffers ``parametrizations.<name>.0._u`` / ``._v``.

    Example:
        >>> layer = spectral_norm(nn.Linear(20, 40))
        >>> layer.parametrizations.weight.original.shape
        (40, 20)
    """
    w = getattr(module, name, None)
    if not isinstance(w, Tensor):
        raise ValueError(f"spectral_norm: module {type(module).__name__} has no parameter '{name}'")
    if not isinstance(n_power_iterations, int) or n_power_iterations <= 0:
        raise ValueError(
            f"spectral_norm: expected n_power_iterations to be positive, got {n_power_iterations}"
        )
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    if w.dim() > 0:
        dim = _check_dim(dim, w, "spectral_norm")
    register_parametrization(module, name, _SpectralNorm(w, n_power_iterations, dim, eps))
    return module
