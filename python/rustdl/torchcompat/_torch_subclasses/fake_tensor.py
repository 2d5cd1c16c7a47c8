"""``torch._subclasses.fake_tensor``: fake (shape-only) tensors. None exist in rustdl: every
tensor holds its values, so :func:`is_fake` is False and a fake mode cannot be entered."""

from __future__ import annotations

from typing import Any


class FakeTensor:
    """A tensor with metadata but no data (never made in rustdl)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("FakeTensor: rustdl has no fake tensors (it runs eagerly on real data)")


class FakeTensorMode:
    """The mode that makes fake tensors (cannot be used in rustdl)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("FakeTensorMode: rustdl has no fake tensors (it runs eagerly on real data)")


def is_fake(x: Any) -> bool:
    """False: no rustdl tensor is fake."""
    return False
