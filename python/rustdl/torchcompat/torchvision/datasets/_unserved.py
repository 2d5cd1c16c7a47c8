"""torchvision's other dataset classes, by name, so that code importing them loads: building one
raises a RuntimeError that says which datasets the shim reads and how to bring other data in."""

from __future__ import annotations

from typing import Any

from .vision import VisionDataset

NAMES = frozenset(
    """
    CLEVRClassification Caltech101 Caltech256 CelebA Cityscapes CocoCaptions CocoDetection
    Country211 DTD EMNIST EuroSAT FER2013 FGVCAircraft Flickr30k Flickr8k Flowers102 FlyingChairs
    FlyingThings3D Food101 GTSRB HD1K HMDB51 INaturalist ImageNet Imagenette KittiFlow Kinetics
    Kitti LFWPairs LFWPeople LSUN LSUNClass MovingMNIST Omniglot OxfordIIITPet PCAM PhotoTour
    Places365 QMNIST RenderedSST2 SBDataset SBU SEMEION STL10 SUN397 SVHN Sintel StanfordCars
    UCF101 USPS VOCDetection VOCSegmentation WIDERFace
    """.split()
)

_CACHE: dict[str, type] = {}


def unserved_dataset(name: str) -> type:
    """The class ``torchvision.datasets.<name>`` (one per name)."""
    cls = _CACHE.get(name)
    if cls is None:

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError(
                f"torchvision.datasets.{name}: rustdl's torchvision shim does not read this dataset "
                f"(it reads MNIST, FashionMNIST, KMNIST and CIFAR10/100 from local files, FakeData, "
                f"ImageFolder and DatasetFolder, and downloads nothing): arrange the images as an "
                f"ImageFolder (a folder per class) or load them into a TensorDataset"
            )

        cls = type(name, (VisionDataset,), {"__init__": __init__, "__module__": "torchvision.datasets"})
        _CACHE[name] = cls
    return cls


def __getattr__(name: str) -> Any:
    # this module also stands for torchvision's dataset modules whose classes are all unserved
    # (``from torchvision.datasets.omniglot import Omniglot``; see torchcompat's module table)
    if name in NAMES:
        return unserved_dataset(name)
    raise AttributeError(f"module 'torchvision.datasets' has no attribute {name!r}")
