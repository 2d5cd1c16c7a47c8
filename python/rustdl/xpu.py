"""``torch.xpu``: no such backend in rustdl (``is_available()`` is False); see
:mod:`rustdl._absent_device`."""

from ._absent_device import *  # noqa: F403
from ._absent_device import __all__  # noqa: F401
