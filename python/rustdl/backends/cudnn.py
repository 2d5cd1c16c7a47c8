"""``torch.backends.cudnn`` flags: stored, with no effect (rustdl has no cuDNN)."""

import contextlib
import sys
from collections.abc import Iterator

enabled: bool = True
benchmark: bool = False
deterministic: bool = False
allow_tf32: bool = False


def is_available() -> bool:
    """False: rustdl does not use cuDNN (its GPU path is wgpu)."""
    return False


def version() -> None:
    """None: no cuDNN."""
    return None


@contextlib.contextmanager
def flags(
    enabled: bool = False,
    benchmark: bool = False,
    benchmark_limit: int = 10,
    deterministic: bool = False,
    allow_tf32: bool = True,
) -> Iterator[None]:
    """Sets the flags for the ``with`` block and restores them after, as PyTorch's (they have no
    effect here)."""
    mod = sys.modules[__name__]
    saved = (mod.enabled, mod.benchmark, mod.deterministic, mod.allow_tf32)
    mod.enabled, mod.benchmark, mod.deterministic, mod.allow_tf32 = (
        enabled,
        benchmark,
        deterministic,
        allow_tf32,
    )
    try:
        yield
    finally:
        mod.enabled, mod.benchmark, mod.deterministic, mod.allow_tf32 = saved
