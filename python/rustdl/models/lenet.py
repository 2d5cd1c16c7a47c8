"""LeNet-5 (LeCun et al., 1998), in its common modern form (ReLU, max pooling)."""

from __future__ import annotations

from typing import Any

from .. import nn
from .._rustdl import Tensor

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """LeNet-5 from `Gradient-Based Learning Applied to Document Recognition
    <http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf>`_ (LeCun, Bottou, Bengio, Haffner, 1998).

    torchvision has no LeNet; this is the widespread modern reading of the paper's network:
    ``C1`` conv 5×5 → 6 maps, ReLU, 2×2 max pool, ``C3`` conv 5×5 → 16 maps (fully connected to
    the 6 maps, not the paper's sparse table), ReLU, 2×2 max pool, then ``F5`` 400→120, ``F6``
    120→84 and an output layer 84→``num_classes`` (a Linear instead of the paper's RBF units),
    with ReLU between them. The paper's scaled tanh and trainable subsampling are replaced by
    ReLU and max pooling, which have no parameters.

    State dict keys: ``features.0`` (C1), ``features.3`` (C3), ``classifier.0/2/4`` (F5, F6,
    output). With ``in_channels=1`` and ``num_classes=10`` it has 61,706 parameters:
    ``(1·25·6 + 6) + (6·25·16 + 16) + (400·120 + 120) + (120·84 + 84) + (84·10 + 10)``.

    Args:
        num_classes: size of the output.
        in_channels: channels of the input image (1 for MNIST).
        small_input: ``False`` for the paper's 32×32 input; ``True`` for 28×28 (MNIST) input,
            which pads C1 by 2 so that the feature maps are the same as for 32×32 (same
            parameters either way).

    Shape:
        Input ``(N, in_channels, 32, 32)`` (``(N, in_channels, 28, 28)`` with
        ``small_input=True``); output ``(N, num_classes)``.

    Example:
        >>> LeNet5(small_input=True)(rustdl.randn(2, 1, 28, 28)).shape
        (2, 10)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, small_input: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2 if small_input else 0),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = x.flatten(1)
        return self.classifier(x)


def lenet5(**kwargs: Any) -> LeNet5:
    """LeNet-5; keyword arguments go to :class:`LeNet5`."""
    return LeNet5(**kwargs)
