"""``torchvision.datasets.vision``: ``VisionDataset``, the base of the shim's datasets, and
``StandardTransform``, as torchvision's."""

from __future__ import annotations

import os
import types
from typing import Any, Callable

from rustdl.data import Dataset

__all__ = ["StandardTransform", "VisionDataset"]


def _limit(n: int) -> int:
    """``n``, or fewer under ``RUSTDL_COMPAT_DATA_LIMIT=N`` (the first N samples of each split)."""
    raw = os.environ.get("RUSTDL_COMPAT_DATA_LIMIT", "").strip()
    return min(n, int(raw)) if raw else n


def _pil_image(pixels: Any) -> Any:
    """A ``uint8`` ``(H, W)`` / ``(H, W, 3)`` array as the PIL image torchvision's datasets give
    (mode ``L`` / ``RGB``); the array itself when Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        return pixels
    return Image.fromarray(pixels)


class StandardTransform:
    """``transform`` on the input and ``target_transform`` on the target (either may be None)."""

    def __init__(self, transform: Callable | None = None, target_transform: Callable | None = None) -> None:
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, input: Any, target: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            input = self.transform(input)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return input, target

    def _format_transform_repr(self, transform: Callable, head: str) -> list[str]:
        lines = repr(transform).splitlines()
        return [f"{head}{lines[0]}"] + [" " * len(head) + line for line in lines[1:]]

    def __repr__(self) -> str:
        body = [type(self).__name__]
        if self.transform is not None:
            body += self._format_transform_repr(self.transform, "Transform: ")
        if self.target_transform is not None:
            body += self._format_transform_repr(self.target_transform, "Target transform: ")
        return "\n".join(body)


class VisionDataset(Dataset):
    """Base class of the vision datasets, as torchvision's: ``root`` (a string is user-expanded),
    and either ``transforms`` (a callable on ``(input, target)``) or ``transform`` /
    ``target_transform`` (on each), kept as attributes; with the latter, ``self.transforms`` is
    their :class:`StandardTransform`. Giving both kinds raises ``ValueError``. Subclasses
    implement ``__getitem__`` and ``__len__``; ``extra_repr`` adds lines to the repr."""

    _repr_indent = 4

    __class_getitem__ = classmethod(types.GenericAlias)  # VisionDataset[T], as torchvision's Generic

    def __init__(
        self,
        root: Any = None,
        transforms: Callable | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        if isinstance(root, str):
            root = os.path.expanduser(root)
        self.root = root
        has_transforms = transforms is not None
        has_separate_transform = transform is not None or target_transform is not None
        if has_transforms and has_separate_transform:
            raise ValueError("Only transforms or transform/target_transform can be passed as argument")
        self.transform = transform
        self.target_transform = target_transform
        if has_separate_transform:
            transforms = StandardTransform(transform, target_transform)
        self.transforms = transforms

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __repr__(self) -> str:
        head = "Dataset " + type(self).__name__
        body = [f"Number of datapoints: {self.__len__()}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if getattr(self, "transforms", None) is not None:
            body += [repr(self.transforms)]
        return "\n".join([head] + [" " * self._repr_indent + line for line in body])

    def _format_transform_repr(self, transform: Callable, head: str) -> list[str]:
        lines = repr(transform).splitlines()
        return [f"{head}{lines[0]}"] + [" " * len(head) + line for line in lines[1:]]

    def extra_repr(self) -> str:
        return ""
