"""``torchvision.models``: ResNet-18/34/50, the VGGs, AlexNet and GoogLeNet from ``rustdl.models``
(torchvision's layer and state-dict names and initialisation), random weights.

Pretrained weights cannot be downloaded: ``weights``/``pretrained`` other than None/False raise.
"""

from __future__ import annotations

from typing import Any

from rustdl.models import BasicBlock, Bottleneck, ResNet  # noqa: F401  (torchvision.models names)

__all__ = [
    "ResNet",
    "alexnet",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
]


def _check_weights(weights: Any, pretrained: bool) -> None:
    if weights is not None or pretrained:
        raise NotImplementedError(
            "torchvision.models (rustdl shim): pretrained weights cannot be downloaded; use "
            "weights=None, or load a state dict with model.load_state_dict(rustdl.load(path))"
        )


def _from_rustdl(name: str) -> Any:
    """``torchvision.models.<name>`` built by ``rustdl.models.<name>`` (torchvision's layer and
    state-dict names), taking torchvision's ``weights`` / ``progress`` / ``pretrained`` too."""
    from rustdl import models

    build = getattr(models, name)

    def make(weights: Any = None, progress: bool = True, pretrained: bool = False, **kwargs: Any) -> Any:
        _check_weights(weights, pretrained)
        return build(**kwargs)

    make.__name__ = make.__qualname__ = name
    make.__doc__ = f"{name} with random weights (rustdl.models.{name})."
    return make


resnet18 = _from_rustdl("resnet18")
resnet34 = _from_rustdl("resnet34")
resnet50 = _from_rustdl("resnet50")
vgg11 = _from_rustdl("vgg11")
vgg11_bn = _from_rustdl("vgg11_bn")
vgg13 = _from_rustdl("vgg13")
vgg13_bn = _from_rustdl("vgg13_bn")
vgg16 = _from_rustdl("vgg16")
vgg16_bn = _from_rustdl("vgg16_bn")
alexnet = _from_rustdl("alexnet")
googlenet = _from_rustdl("googlenet")


def __getattr__(name: str):
    raise AttributeError(
        f"module 'torchvision.models' has no attribute '{name}': rustdl's torchvision shim "
        f"has resnet18/34/50, vgg11/13/16(_bn), alexnet and googlenet"
    )
