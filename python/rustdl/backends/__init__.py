"""``torch.backends``-shaped flags: harmless switches scripts set at the top.

``cudnn.benchmark`` / ``cudnn.deterministic`` are accepted and stored but change nothing
(rustdl has no cuDNN; its kernels are deterministic); ``cuda.matmul.allow_tf32`` and the
attention-kernel switches likewise; ``mps``/``openmp``/``mkldnn.is_available()`` are False.
"""

from . import cuda, cudnn, mha, mkldnn, mps, openmp  # noqa: F401

__all__ = ["cuda", "cudnn", "disable_global_flags", "flags_frozen", "mha", "mkldnn", "mps", "openmp"]

_FLAGS_FROZEN = False


def disable_global_flags() -> None:
    """Freezes the backend flags: setting them afterwards is an error in PyTorch (here the flags
    change nothing, so this only records it for :func:`flags_frozen`)."""
    global _FLAGS_FROZEN
    _FLAGS_FROZEN = True


def flags_frozen() -> bool:
    """Whether :func:`disable_global_flags` was called."""
    return _FLAGS_FROZEN
