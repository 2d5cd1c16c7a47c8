"""``torchvision.datasets.cifar``: CIFAR10 / CIFAR100 read from the python-pickle archive the user
already has; a sample is an ``RGB`` PIL image and an int label, as torchvision's."""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from .vision import VisionDataset, _limit, _pil_image

__all__ = ["CIFAR10", "CIFAR100"]


class CIFAR10(VisionDataset):
    """CIFAR-10 read from the python-pickle archive the user already has: ``root`` holding
    ``cifar-10-batches-py/`` (the extracted ``cifar-10-python.tar.gz``) or the ``.tar.gz`` itself,
    which is extracted there as torchvision does. ``data`` is numpy uint8 ``(N, 32, 32, 3)``,
    ``targets`` a list; a sample's image is an ``RGB`` PIL image (its array without Pillow).
    Nothing is downloaded."""

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
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        base = os.path.expanduser(os.fspath(self.root))
        folder = os.path.join(base, self.base_folder)
        if not os.path.isdir(folder):
            tarball = os.path.join(base, self.archive)
            if not os.path.isfile(tarball):
                raise RuntimeError(
                    f"{type(self).__name__}: no {self.base_folder}/ or {self.archive} under "
                    f"{base!r}; rustdl downloads nothing (download={download}): put the "
                    f"archive from the dataset's site there"
                )
            import tarfile

            with tarfile.open(tarball, "r:gz") as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(base, filter="data")
                else:  # Pythons without extraction filters: refuse paths leaving root
                    for member in tf.getmembers():
                        if os.path.isabs(member.name) or ".." in member.name.split("/"):
                            raise RuntimeError(f"{tarball!r}: unsafe path {member.name!r} in the archive")
                    tf.extractall(base)
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
        img: Any = _pil_image(self._images[int(index)])
        target: Any = self.targets[int(index)]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100 (fine labels) from ``root/cifar-100-python/`` or ``cifar-100-python.tar.gz``."""

    base_folder = "cifar-100-python"
    archive = "cifar-100-python.tar.gz"
    train_list = ["train"]
    test_list = ["test"]
    meta = ("meta", "fine_label_names")
    label_key = "fine_labels"
