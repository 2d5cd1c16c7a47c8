"""``torch.distributed.optim``: :class:`ZeroRedundancyOptimizer`, an optimizer whose state is
sharded across the ranks (ZeRO stage 1).

Each rank owns a share of the parameters (the largest first, each to the rank holding the fewest
elements so far) and keeps the optimizer state of those alone; a step updates the owned
parameters with a local optimizer, then every parameter is broadcast from its owner, so all
ranks end the step with the same values as one optimizer over every parameter would give (the
gradients being the same on every rank, as after DDP's average).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from .. import _rustdl
from ..autograd import no_grad
from ..optim.optimizer import Optimizer
from . import _check_rank, broadcast, broadcast_object_list, get_rank, get_world_size

__all__ = ["ZeroRedundancyOptimizer"]


class ZeroRedundancyOptimizer(Optimizer):
    """Wraps ``optimizer_class`` so that each rank keeps the state of its own share of the
    parameters only (``optimizer_class(share, **defaults)`` is the rank's local optimizer,
    ``.optim``); a process group must be initialized first (``init_process_group``).

    Example:
        >>> opt = ZeroRedundancyOptimizer(ddp_model.parameters(), optimizer_class=rustdl.optim.Adam, lr=1e-3)
        >>> loss.backward(); opt.step()            # every rank now holds the same parameters
        >>> opt.consolidate_state_dict(to=0)       # then opt.state_dict() on rank 0
    """

    def __init__(
        self,
        params: Iterable[Any],
        optimizer_class: type,
        process_group: Any = None,
        parameters_as_bucket_view: bool = False,
        overlap_with_ddp: bool = False,
        **defaults: Any,
    ) -> None:
        if overlap_with_ddp:
            raise NotImplementedError(
                "ZeroRedundancyOptimizer: overlap_with_ddp=True (stepping inside DDP's gradient "
                "communication hook) is not supported; step after backward instead"
            )
        if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, Optimizer)):
            raise TypeError(
                f"ZeroRedundancyOptimizer: optimizer_class must be an Optimizer class, got {optimizer_class!r}"
            )
        # raises as PyTorch's when no process group was initialized
        self.world_size, self.rank = get_world_size(process_group), get_rank(process_group)
        self.process_group = process_group
        self.global_rank = self.rank
        self.parameters_as_bucket_view = parameters_as_bucket_view
        self._overlap_with_ddp = False
        self._optim_constructor = optimizer_class
        self._optim_defaults = dict(defaults)
        self._all_state_dicts: list[dict] = []
        super().__init__(params, dict(defaults))
        self._build_local()

    # ---------- the partition ----------

    def _partition(self) -> list[list[list[Any]]]:
        """``[rank][group]`` -> the parameters of that group the rank owns."""
        sizes = [0] * self.world_size
        per_rank: list[list[list[Any]]] = [[] for _ in range(self.world_size)]
        for group in self.param_groups:
            shares: list[list[Any]] = [[] for _ in range(self.world_size)]
            for p in sorted(group["params"], key=lambda t: t.numel(), reverse=True):
                r = sizes.index(min(sizes))
                shares[r].append(p)
                sizes[r] += p.numel()
            for r in range(self.world_size):
                # each share in the group's own order
                order = {id(p): k for k, p in enumerate(group["params"])}
                per_rank[r].append(sorted(shares[r], key=lambda t: order[id(t)]))
        return per_rank

    def _build_local(self) -> None:
        partition = self._partition()
        self._partition_parameters_cache = partition
        self._owner = {id(p): r for r, groups in enumerate(partition) for share in groups for p in share}
        groups = []
        for group, share in zip(self.param_groups, partition[self.rank]):
            local = {k: v for k, v in group.items() if k not in ("params", "param_names")}
            local["params"] = share
            groups.append(local)
        self.optim = self._optim_constructor(groups, **self._optim_defaults)
        # the wrapper's state is the local optimizer's (the owned parameters' state only)
        self.state = self.optim.state

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group and repartitions every parameter (the local states carried over)."""
        super().add_param_group(param_group)
        if hasattr(self, "optim"):
            old = self.optim.state
            self._build_local()
            for p in (p for g in self.optim.param_groups for p in g["params"]):
                if p in old:
                    self.optim.state[p] = old[p]

    @property
    def _param_to_rank(self) -> dict[Any, int]:
        return {p: self._owner[id(p)] for g in self.param_groups for p in g["params"]}

    # ---------- the step ----------

    def _push_hyper(self) -> None:
        """The wrapper's group hyper-parameters (changed by a scheduler) into the local groups."""
        for group, local in zip(self.param_groups, self.optim.param_groups):
            for k, v in group.items():
                if k not in ("params", "param_names"):
                    local[k] = v

    def step(self, closure: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
        """Steps the owned parameters, then broadcasts every parameter from its owner."""
        self._push_hyper()
        loss = self.optim.step(closure, **kwargs) if closure is not None else self.optim.step(**kwargs)
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if self.world_size > 1:
                        broadcast(p, src=self._owner[id(p)], group=self.process_group)
        for group, local in zip(self.param_groups, self.optim.param_groups):
            for k, v in local.items():
                if k != "params":
                    group[k] = v
        return loss

    # ---------- state dicts ----------

    def _local_state_dict(self) -> dict[str, Any]:
        """The local optimizer's state keyed by the parameters' global indices."""
        index = {id(p): k for k, p in enumerate(p for g in self.param_groups for p in g["params"])}
        local = self.optim.state_dict()
        flat = [p for g in self.optim.param_groups for p in g["params"]]
        return {index[id(flat[i])]: s for i, s in local["state"].items()}

    def consolidate_state_dict(self, to: int = 0) -> None:
        """Gathers every rank's share of the state on rank ``to`` (a collective: every rank
        calls it), for :meth:`state_dict` there."""
        _check_rank(to, "consolidate_state_dict", "to")
        mine = self._local_state_dict()
        shards: list[Any] = [None] * self.world_size
        for r in range(self.world_size):
            box = [mine if r == self.rank else None]
            if self.world_size > 1:
                broadcast_object_list(box, src=r, group=self.process_group)
            shards[r] = box[0]
        self._all_state_dicts = shards if self.rank == to else []

    def state_dict(self) -> dict[str, Any]:
        """The whole optimizer's state dict (PyTorch's layout, every parameter by its global
        index); only on the rank :meth:`consolidate_state_dict` gathered it to."""
        if not self._all_state_dicts:
            raise RuntimeError(
                "ZeroRedundancyOptimizer: optimizer state has not been consolidated on this rank. "
                f"Please call `consolidate_state_dict(to={self.rank})` on all ranks beforehand if "
                "you meant to save the global state."
            )
        state: dict[int, Any] = {}
        for shard in self._all_state_dicts:
            state.update(shard)
        groups, at = [], 0
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = list(range(at, at + len(group["params"])))
            at += len(group["params"])
            groups.append(g)
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a whole state dict (from :meth:`state_dict`): each rank keeps its share."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(mine["params"]) for g, mine in zip(groups, self.param_groups)
        ):
            raise ValueError(
                "ZeroRedundancyOptimizer.load_state_dict: the state dict's parameter groups do not "
                "match this optimizer's (group count or sizes differ)"
            )
        flat = [p for g in self.param_groups for p in g["params"]]
        saved_ids = [i for g in groups for i in g["params"]]
        by_param = {id(flat[k]): state_dict["state"].get(i) for k, i in enumerate(saved_ids)}
        for group, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = v
        local_flat = [p for g in self.optim.param_groups for p in g["params"]]
        local = {
            "state": {
                k: copy.copy(by_param[id(p)]) for k, p in enumerate(local_flat) if by_param[id(p)] is not None
            },
            "param_groups": [],
        }
        at = 0
        for group, lg in zip(self.param_groups, self.optim.param_groups):
            g = {k: v for k, v in group.items() if k not in ("params", "param_names")}
            g["params"] = list(range(at, at + len(lg["params"])))
            at += len(lg["params"])
            local["param_groups"].append(g)
        self.optim.load_state_dict(local)
        self.state = self.optim.state

    # ---------- Join ----------

    def join_hook(self, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "ZeroRedundancyOptimizer.join_hook: uneven inputs under Join are not supported"
        )

    @property
    def join_device(self) -> Any:
        return _rustdl.device("cpu")

    @property
    def join_process_group(self) -> Any:
        return self.process_group
