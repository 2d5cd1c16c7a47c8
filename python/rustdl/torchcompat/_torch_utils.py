"""Backs ``torch.utils``: its only submodule scripts use is ``torch.utils.data`` (rustdl.data)."""

from .. import data  # noqa: F401
