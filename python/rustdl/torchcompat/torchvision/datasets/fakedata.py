"""``torchvision.datasets.fakedata``: ``FakeData``, random images drawn as torchvision draws them."""

from __future__ import annotations

from typing import Any, Callable

import rustdl

from .vision import VisionDataset, _limit

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """Random images and labels, the same for the same index, as torchvision's: the global
    generator seeded with ``index + random_offset`` (then restored) draws a normal
    ``image_size`` ``(C, H, W)`` image, made a PIL image by ``ToPILImage`` (``x * 255`` cast to
    8 bits: mode ``L`` for 1 channel, ``LA`` 2, ``RGB`` 3, ``RGBA`` 4), and a label from
    ``randint``; ``target_transform`` gets the label as a 0-dim tensor, and the sample's label is
    its ``.item()``."""

    def __init__(
        self,
        size: int = 1000,
        image_size: tuple[int, int, int] = (3, 224, 224),
        num_classes: int = 10,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        random_offset: int = 0,
    ) -> None:
        super().__init__(transform=transform, target_transform=target_transform)
        self.size = _limit(int(size))
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from ..transforms import functional as F

        if index >= len(self) or index < 0:
            raise IndexError(f"{type(self).__name__} index out of range")
        state = rustdl.get_rng_state()
        try:
            rustdl.manual_seed(int(index) + int(self.random_offset))
            noise = rustdl.randn(*self.image_size)
            target: Any = rustdl.randint(0, self.num_classes, (1,), dtype=rustdl.int64)[0]
        finally:
            rustdl.set_rng_state(state)
        img: Any = F.to_pil_image(noise)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target.item()
