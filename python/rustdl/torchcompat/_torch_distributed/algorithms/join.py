"""``torch.distributed.algorithms.join``: training with uneven inputs across ranks.

``Join`` lets ranks that run out of inputs early keep answering the collectives of the ranks still
training. In one process (no process group, or a world of one) there is no other rank to answer,
and it runs the body as it is, calling the joinables' hooks as PyTorch does at the end. Across
several MPI ranks rustdl does not shadow collectives: entering it there raises
``NotImplementedError`` rather than hanging."""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["Join", "JoinHook", "Joinable"]


class JoinHook:
    """What a joinable does while others still train (``main_hook``) and once all have joined
    (``post_hook(is_last_joiner)``)."""

    def main_hook(self) -> None:
        pass

    def post_hook(self, is_last_joiner: bool) -> None:
        pass


class Joinable(abc.ABC):
    """A class taking part in a :class:`Join`."""

    @abc.abstractmethod
    def join_hook(self, **kwargs: Any) -> JoinHook: ...

    @property
    @abc.abstractmethod
    def join_device(self) -> Any: ...

    @property
    @abc.abstractmethod
    def join_process_group(self) -> Any: ...


class Join:
    """Context manager for training with uneven inputs (see the module's docstring)."""

    def __init__(
        self, joinables: list, enable: bool = True, throw_on_early_termination: bool = False, **kwargs: Any
    ) -> None:
        if not joinables:
            raise ValueError("The join context manager requires at least one joinable")
        self._joinables = list(joinables)
        self._hooks = [j.join_hook(**kwargs) for j in self._joinables]
        self._enable = enable
        self._throw = throw_on_early_termination

    def __enter__(self) -> Join:
        from rustdl import distributed

        if self._enable and distributed.is_initialized() and distributed.get_world_size() > 1:
            raise NotImplementedError(
                "Join: rustdl does not shadow the collectives of ranks that run out of inputs; "
                "give every rank the same number of batches (e.g. DistributedSampler(drop_last=True))"
            )
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self._enable or exc_type is not None:
            return
        for hook in self._hooks:
            hook.post_hook(True)  # this process is the only, hence the last, joiner

    @staticmethod
    def notify_join_context(joinable: Any) -> Any:
        """Called by a joinable before its per-iteration collectives; returns no work handle
        here (nothing to shadow)."""
        return None
