"""A multi-layer perceptron builder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

from .. import nn

__all__ = ["mlp"]


def mlp(
    in_features: int,
    hidden: Sequence[int],
    out_features: int,
    dropout: float = 0.0,
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """A fully connected network as an ``nn.Sequential``.

    Each hidden width ``h`` adds ``Linear(prev, h)``, ``activation()`` and, when ``dropout > 0``,
    ``Dropout(dropout)``; a final ``Linear(prev, out_features)`` has no activation.

    Shape:
        Input ``(*, in_features)``; output ``(*, out_features)``.

    Example:
        >>> mlp(784, [256, 128], 10, dropout=0.1)
    """
    if dropout < 0.0 or dropout > 1.0:
        raise ValueError(f"mlp: dropout must be in [0, 1], got {dropout}")
    layers: list[nn.Module] = []
    prev = in_features
    for h in hidden:
        layers.append(nn.Linear(prev, h))
        layers.append(activation())
        if dropout > 0.0:
            layers.append(nn.Dropout(dropout))
        prev = h
    layers.append(nn.Linear(prev, out_features))
    return nn.Sequential(*layers)
