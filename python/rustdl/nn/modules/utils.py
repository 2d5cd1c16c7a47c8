"""``torch.nn.modules.utils``: the argument helpers layer code imports (``_pair(3)`` is
``(3, 3)``; an iterable is returned as a tuple unchanged)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat
from typing import Any, Callable

__all__ = [
    "consume_prefix_in_state_dict_if_present",
    "_list_with_default",
    "_ntuple",
    "_pair",
    "_quadruple",
    "_reverse_repeat_tuple",
    "_single",
    "_triple",
]


def _ntuple(n: int, name: str = "parse") -> Callable[[Any], tuple]:
    """A function giving ``tuple(x)`` for an iterable ``x`` and ``(x,) * n`` otherwise."""

    def parse(x: Any) -> tuple:
        if isinstance(x, Iterable):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t: Iterable, n: int) -> tuple:
    """Each element of ``t`` in reverse order, repeated ``n`` times: ``((1, 2), 2)`` gives
    ``(2, 2, 1, 1)`` (a conv's padding as ``F.pad`` takes it)."""
    return tuple(x for x in reversed(tuple(t)) for _ in range(n))


def _list_with_default(out_size: Any, defaults: list[int]) -> Any:
    """``out_size`` with its ``None`` entries taken from the last ``len(out_size)`` of
    ``defaults`` (an int is returned as is), as adaptive pooling's output size."""
    if isinstance(out_size, int):
        return out_size
    if len(defaults) <= len(out_size):
        raise ValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [v if v is not None else d for v, d in zip(out_size, defaults[-len(out_size) :])]


def consume_prefix_in_state_dict_if_present(state_dict: Any, prefix: str) -> None:
    """Strips ``prefix`` from the keys that start with it, in place (the ``module.`` a
    data-parallel wrapper puts before every key of its checkpoint), and from the keys of the
    dict's ``_metadata`` where it has one, as PyTorch's."""
    for key in [k for k in state_dict.keys() if k.startswith(prefix)]:
        state_dict[key[len(prefix) :]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is None:
        return
    bare = prefix[:-1] if prefix.endswith(".") else prefix
    for key in list(metadata.keys()):
        if key and (key == bare or key.startswith(prefix)):
            metadata[key[len(prefix) :]] = metadata.pop(key)
