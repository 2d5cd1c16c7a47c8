"""``torch.random``: the global generator's seed and state, and ``fork_rng``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ._generator import default_generator, get_rng_state, seed, set_rng_state
from ._rustdl import initial_seed

__all__ = [
    "default_generator",
    "fork_rng",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]


def manual_seed(seed: int) -> Any:  # noqa: F811
    """Seeds the global generator (CPU and GPU draws), as ``torch.random.manual_seed``."""
    import rustdl

    return rustdl.manual_seed(seed)


@contextlib.contextmanager
def fork_rng(
    devices: Any = None,
    enabled: bool = True,
    _caller: str = "fork_rng",
    _devices_kw: str = "devices",
    device_type: str = "cuda",
) -> Iterator[None]:
    """Restores the global generator's state on exit, so draws inside the block do not change
    the draws after it (rustdl has one generator for every device)."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
