"""``torch.utils.data.datapipes``: composable data pipelines.

An :class:`IterDataPipe` is an iterable dataset whose stages chain by name
(``IterableWrapper(range(10)).map(f).filter(g).batch(4)``); a :class:`MapDataPipe` is an
indexable one. :func:`functional_datapipe` registers a pipe class under such a name. The stages
PyTorch programs use are in :mod:`.iter` and :mod:`.map`; each pipe is a Dataset, so a
``DataLoader`` takes it directly.
"""

from __future__ import annotations

from . import iter, map  # noqa: A004 - torch's module names
from ._base import IterDataPipe, MapDataPipe, functional_datapipe

__all__ = ["IterDataPipe", "MapDataPipe", "functional_datapipe", "iter", "map"]
