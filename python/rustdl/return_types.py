"""The named tuples of ``(values, indices)`` that ``max(dim)``, ``min(dim)``, ``sort``, ``topk``,
``kthvalue``, ``median``, ``mode``, ``cummax`` and ``cummin`` return, one class per op as
``torch.return_types``: each is a tuple (unpacking, ``r[0]``, ``isinstance(r, tuple)``) with
``.values`` and ``.indices``, and prints as PyTorch does."""

from __future__ import annotations

from ._rustdl import ValuesIndices, float32


class _Named(ValuesIndices):
    __slots__ = ()

    def __repr__(self) -> str:
        # the package name as dtypes show it: "torch" under the torch compat layer
        prefix = repr(float32).split(".", 1)[0]
        return f"{prefix}.return_types.{type(self).__name__}(\nvalues={self.values!r},\nindices={self.indices!r})"


def _make(name: str) -> type:
    cls = type(name, (_Named,), {"__slots__": (), "__module__": __name__, "__qualname__": name})
    globals()[name] = cls
    return cls


for _name in ("max", "min", "sort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax", "cummin"):
    _make(_name)
del _name
