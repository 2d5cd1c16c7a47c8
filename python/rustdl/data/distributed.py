"""``torch.utils.data.distributed``: :class:`DistributedSampler`, each rank's share of a dataset."""

from __future__ import annotations

from .sampler import DistributedSampler

__all__ = ["DistributedSampler"]
