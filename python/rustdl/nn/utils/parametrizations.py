"""``torch.nn.utils.parametrizations``: ``weight_norm`` with PyTorch's newer state-dict keys."""

from .weight_norm import _parametrized_weight_norm as weight_norm

__all__ = ["weight_norm"]
