"""AlexNet (Krizhevsky, Sutskever, Hinton, 2012), as torchvision builds it."""

from __future__ import annotations

from typing import Any

from .. import nn
from .._rustdl import Tensor
from ._misc import check_weights

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """AlexNet from `ImageNet Classification with Deep Convolutional Neural Networks
    <https://papers.nips.cc/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html>`_,
    in torchvision's single-GPU form (the "One weird trick" variant, 64-192-384-256-256 channels,
    no local response normalisation).

    With ``small_input=False`` the modules, state dict keys and shapes are torchvision's
    ``alexnet`` (61,100,840 parameters for 1000 classes), so its weights load by key.

    ``small_input=True`` is for 28×28 / 32×32 images: the convolutions become 3×3 stride 1 (the
    first two poolings 2×2 stride 2, the last one 2×2 stride 2), the adaptive pool goes to 2×2 and
    the classifier's hidden layers have 1024 units. The module layout and key names are the same;
    the shapes of ``features.0``, ``features.3`` and ``classifier.*`` differ.

    Args:
        num_classes: size of the output.
        in_channels: channels of the input image.
        dropout: dropout probability in the classifier.
        small_input: the small-image variant above.

    Shape:
        Input ``(N, in_channels, 224, 224)`` (any size ≥ 63 works through the adaptive pool;
        28×28 or 32×32 with ``small_input=True``); output ``(N, num_classes)``.
    """

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, small_input: bool = False
    ) -> None:
        super().__init__()
        if small_input:
            first = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1)
            second = nn.Conv2d(64, 192, kernel_size=3, padding=1)

            def pool() -> nn.Module:
                return nn.MaxPool2d(kernel_size=2, stride=2)

            pooled, hidden = 2, 1024
        else:
            first = nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2)
            second = nn.Conv2d(64, 192, kernel_size=5, padding=2)

            def pool() -> nn.Module:
                return nn.MaxPool2d(kernel_size=3, stride=2)

            pooled, hidden = 6, 4096
        self.features = nn.Sequential(
            first,
            nn.ReLU(inplace=True),
            pool(),
            second,
            nn.ReLU(inplace=True),
            pool(),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            pool(),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((pooled, pooled))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * pooled * pooled, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)


def alexnet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> AlexNet:
    """AlexNet (torchvision's ``alexnet``, no pretrained weights); arguments go to :class:`AlexNet`."""
    check_weights("alexnet", weights, kwargs.pop("pretrained", False))
    return AlexNet(**kwargs)
