"""What ``torch.version`` answers under :mod:`rustdl.torchcompat`.

rustdl is not a CUDA or ROCm build: ``cuda`` and ``hip`` are ``None`` (as in a CPU build of
PyTorch) even when ``torch.cuda.is_available()`` is True on rustdl's GPU.
"""

from __future__ import annotations

import rustdl

__version__ = rustdl.__torch_compat_version__
git_version = "rustdl-" + rustdl.__version__
debug = False
cuda = None
hip = None
xpu = None
