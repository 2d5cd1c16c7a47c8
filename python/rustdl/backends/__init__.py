"""``torch.backends``-shaped flags: harmless switches scripts set at the top.

``cudnn.benchmark`` / ``cudnn.deterministic`` are accepted and stored but change nothing
(rustdl has no cuDNN; its kernels are deterministic); ``cuda.matmul.allow_tf32`` and the
attention-kernel switches likewise; ``mps``/``openmp``/``mkldnn.is_available()`` are False.
"""

from . import cuda, cudnn, mha, mkldnn, mps, openmp  # noqa: F401

__all__ = ["cuda", "cudnn", "mha", "mkldnn", "mps", "openmp"]
