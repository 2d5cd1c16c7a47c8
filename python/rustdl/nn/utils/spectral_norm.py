"""``torch.nn.utils.spectral_norm`` (the module): the older, hook-based spectral normalization,
``spectral_norm``/``remove_spectral_norm`` and its hook class ``SpectralNorm``."""

from .weight_norm import _SpectralNorm as SpectralNorm
from .weight_norm import remove_spectral_norm, spectral_norm

__all__ = ["SpectralNorm", "remove_spectral_norm", "spectral_norm"]
