"""``torch.distributed.autograd``: distributed autograd over RPC, which rustdl lacks.
``is_available()`` is False (libraries check it before using the rest); the functions raise."""

from __future__ import annotations

from typing import Any

__all__ = ["backward", "context", "get_gradients", "is_available"]


def is_available() -> bool:
    return False


def _unavailable(what: str) -> RuntimeError:
    return RuntimeError(
        f"torch.distributed.autograd.{what}: rustdl has no RPC framework, so no distributed autograd"
    )


class context:  # noqa: N801 - PyTorch's name
    """Raises ``RuntimeError`` on entry: there is no distributed autograd context."""

    def __enter__(self) -> Any:
        raise _unavailable("context")

    def __exit__(self, *exc: Any) -> None:
        return None


def backward(context_id: int, roots: Any, retain_graph: bool = False) -> None:
    raise _unavailable("backward")


def get_gradients(context_id: int) -> Any:
    raise _unavailable("get_gradients")
