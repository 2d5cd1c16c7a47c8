"""``torchvision.datasets`` served from local data: MNIST (5k subset), FashionMNIST, FakeData,
and, from files the user already has, CIFAR10 / CIFAR100 (the python-pickle archives) and
ImageFolder / DatasetFolder (a folder per class). Nothing is downloaded.

As torchvision's, a sample's image is a PIL image (mode ``L`` for the MNIST family, ``RGB`` for
CIFAR; FakeData's by its channel count) when no transform is given, and every dataset is a
:class:`~.vision.VisionDataset` (``transform`` / ``target_transform`` / ``transforms``). The
submodules ``vision``, ``folder``, ``mnist``, ``cifar`` and ``fakedata`` are torchvision's."""

from __future__ import annotations

from . import _unserved, cifar, fakedata, folder, mnist, utils, vision  # noqa: F401  (torchvision's submodules)
from .cifar import CIFAR10, CIFAR100
from .fakedata import FakeData

# folder's helpers are also attributes here, as in torchvision (``torchvision.datasets.folder`` is
# the submodule)
from .folder import (  # noqa: F401
    IMG_EXTENSIONS,
    DatasetFolder,
    ImageFolder,
    default_loader,
    find_classes,
    has_file_allowed_extension,
    is_image_file,
    make_dataset,
    pil_loader,
)
from .mnist import KMNIST, MNIST, FashionMNIST
from .vision import VisionDataset

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "DatasetFolder",
    "FakeData",
    "FashionMNIST",
    "KMNIST",
    "ImageFolder",
    "MNIST",
    "VisionDataset",
]


def __getattr__(name: str):
    from ... import _shim_submodule

    sub = _shim_submodule("torchvision.datasets", name)
    if sub is not None:
        return sub
    if name in _unserved.NAMES:
        return _unserved.unserved_dataset(name)
    raise AttributeError(
        f"module 'torchvision.datasets' has no attribute '{name}': rustdl's torchvision shim "
        f"does not serve {name} yet (it reads MNIST, FashionMNIST, FakeData, CIFAR10/100 from a "
        f"local archive, ImageFolder and DatasetFolder)"
    )
