"""``torch.nn.utils._per_sample_grad.call_for_per_sample_grads``: one call of a module after which
backward leaves each parameter's gradient per batch element in ``p.grad_sample``
(``(B, *p.shape)``) instead of the summed ``p.grad``, as differential-privacy training needs.

PyTorch computes them with per-layer formulas ("expanded weights"); here backward takes each
element's vector-Jacobian product through the module on that element alone, which gives the same
values for any module whose output for one element depends on that element only (layers such as
BatchNorm that mix the batch are refused by PyTorch here too).
"""

from __future__ import annotations

from typing import Any

from ... import _rustdl
from ..._rustdl import Tensor
from ...autograd import Function, enable_grad, grad

__all__ = ["call_for_per_sample_grads"]


def call_for_per_sample_grads(
    module: Any, *, batch_size: int | None = None, loss_reduction: str = "sum", batch_first: bool = True
) -> Any:
    """``module`` wrapped so that its next call's backward sets ``p.grad_sample``. With
    ``loss_reduction="mean"`` the loss is taken to average over the batch and each element's
    gradient is scaled back by the batch size, as PyTorch's."""
    if loss_reduction not in ("sum", "mean"):
        raise RuntimeError(f"Expected loss_reduction argument to be sum or mean, got {loss_reduction}")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        dim = 0 if batch_first else 1
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not tensors:
            raise RuntimeError("call_for_per_sample_grads: the module was called with no tensor argument")
        size = batch_size if batch_size is not None else int(tensors[0].shape[dim])
        for a in tensors:
            if a.ndim <= dim or a.shape[dim] != size:
                raise RuntimeError(
                    f"call_for_per_sample_grads: expected every tensor argument to have batch size {size} "
                    f"in dim {dim}, got shape {tuple(a.shape)}"
                )
        spec = (module, [n for n, _ in named], dim, size, loss_reduction, kwargs, args)
        return _PerSample.apply(spec, *tensors, *[p for _, p in named])

    return wrapper


class _PerSample(Function):
    @staticmethod
    def forward(ctx: Any, spec: tuple, *tensors: Any) -> Any:
        module, names, dim, size, reduction, kwargs, args = spec
        ctx.spec = spec
        ctx.n_inputs = sum(isinstance(a, Tensor) for a in args)
        ctx.save_for_backward(*tensors)
        return module(*args, **kwargs).detach()

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        from .stateless import functional_call

        module, names, dim, size, reduction, kwargs, args = ctx.spec
        saved = ctx.saved_tensors
        inputs, params = saved[: ctx.n_inputs], saved[ctx.n_inputs :]
        per: list[list] = [[] for _ in params]
        for i in range(size):
            leaves = [p.detach().requires_grad_(True) for p in params]
            it = iter(inputs)
            one = [next(it).narrow(dim, i, 1).detach() if isinstance(a, Tensor) else a for a in args]
            with enable_grad():
                out = functional_call(module, dict(zip(names, leaves)), tuple(one), kwargs)
            got = grad([out], leaves, [g.narrow(dim, i, 1)], allow_unused=True)
            for k, (gk, p) in enumerate(zip(got, params)):
                per[k].append(gk if gk is not None else p.detach() * 0)
        scale = size if reduction == "mean" else 1
        named = dict(module.named_parameters())
        for name, grads in zip(names, per):
            sample = _rustdl.stack(grads, 0) * scale
            p = named[name]
            prior = getattr(p, "grad_sample", None)
            p.grad_sample = sample if prior is None else prior + sample
        # the inputs' gradients, through the whole batch at once
        wanted = [k for k, t in enumerate(inputs) if t.requires_grad]
        input_grads: list = [None] * len(inputs)
        if wanted:
            leaves = [t.detach().requires_grad_(t.requires_grad) for t in inputs]
            it = iter(leaves)
            full = [next(it) if isinstance(a, Tensor) else a for a in args]
            with enable_grad():
                out = module(*full, **kwargs)
            got = grad([out], [leaves[k] for k in wanted], [g], allow_unused=True)
            for k, gk in zip(wanted, got):
                input_grads[k] = gk
        return (None, *input_grads, *[None] * len(params))
