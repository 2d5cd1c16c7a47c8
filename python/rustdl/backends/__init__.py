"""``torch.backends``-shaped flags: harmless switches scripts set at the top.

``cudnn.benchmark`` / ``cudnn.deterministic`` are accepted and stored but change nothing
(rustdl has no cuDNN; its kernels are deterministic); ``mps.is_available()`` is False.
"""

from . import cudnn, mps  # noqa: F401

__all__ = ["cudnn", "mps"]
