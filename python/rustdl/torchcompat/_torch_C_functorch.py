"""``torch._C._functorch``: the probes libraries call on tensors (tensordict, torchrl).

rustdl's ``torch.func`` transforms run eagerly on ordinary tensors: ``vmap`` calls the function
once per sample, ``grad`` differentiates through the usual autograd graph. So no tensor is ever
a functorch wrapper: the probes answer as PyTorch's do for a plain tensor, and the functions
that build or take apart batched or gradient-tracking wrappers raise a RuntimeError saying so.
"""

from __future__ import annotations

from typing import Any, NoReturn


def is_batchedtensor(tensor: Any) -> bool:
    """False: rustdl has no batched (vmap) tensors."""
    return False


def is_legacy_batchedtensor(tensor: Any) -> bool:
    return False


def is_gradtrackingtensor(tensor: Any) -> bool:
    """False: rustdl's ``grad`` transform tracks gradients on the tensors themselves."""
    return False


def is_functionaltensor(tensor: Any) -> bool:
    return False


def is_functorch_wrapped_tensor(tensor: Any) -> bool:
    return False


def is_dead_tensor_wrapper(tensor: Any) -> bool:
    return False


def maybe_get_level(tensor: Any) -> int:
    """-1: the tensor belongs to no transform level (PyTorch's answer for a plain tensor)."""
    return -1


def maybe_get_bdim(tensor: Any) -> int:
    """-1: the tensor has no batch dim of a vmap level."""
    return -1


def maybe_current_level() -> None:
    """None: no functorch transform level is active."""
    return None


def get_dynamic_layer_stack_depth() -> int:
    return 0


def unwrap_if_dead(tensor: Any) -> Any:
    return tensor


def _no_wrappers(what: str) -> NoReturn:
    raise RuntimeError(
        f"torch._C._functorch.{what}: rustdl has no functorch tensor wrappers (its vmap calls the "
        "function once per sample on ordinary tensors, its grad uses the ordinary autograd graph)"
    )


def get_unwrapped(tensor: Any) -> NoReturn:
    """Raises, as PyTorch's does for a tensor that is no wrapper ("No wrappers present!")."""
    raise RuntimeError("No wrappers present!")


def current_level() -> NoReturn:
    _no_wrappers("current_level (no transform is active)")


def _add_batch_dim(tensor: Any, batch_dim: int, level: int) -> NoReturn:
    _no_wrappers("_add_batch_dim")


def _remove_batch_dim(tensor: Any, level: int, batch_size: int, out_dim: int) -> NoReturn:
    _no_wrappers("_remove_batch_dim")


def _unwrap_batched(tensor: Any, level: int) -> NoReturn:
    _no_wrappers("_unwrap_batched")


def _wrap_for_grad(tensor: Any, level: int) -> NoReturn:
    _no_wrappers("_wrap_for_grad")


def _unwrap_for_grad(tensor: Any, level: int) -> NoReturn:
    _no_wrappers("_unwrap_for_grad")


def _wrap_functional_tensor(tensor: Any, level: int) -> NoReturn:
    _no_wrappers("_wrap_functional_tensor")


def _unwrap_functional_tensor(tensor: Any, reapply_views: bool = False) -> NoReturn:
    _no_wrappers("_unwrap_functional_tensor")


def _vmap_increment_nesting(batch_size: int, randomness: str) -> NoReturn:
    _no_wrappers("_vmap_increment_nesting")


def _vmap_decrement_nesting() -> NoReturn:
    _no_wrappers("_vmap_decrement_nesting")


def _grad_increment_nesting() -> NoReturn:
    _no_wrappers("_grad_increment_nesting")


def _grad_decrement_nesting() -> NoReturn:
    _no_wrappers("_grad_decrement_nesting")
