"""The named tuples of ``(values, indices)`` that ``max(dim)``, ``min(dim)``, ``sort``, ``topk``,
``kthvalue``, ``median``, ``mode``, ``cummax`` and ``cummin`` return, one class per op as
``torch.return_types``: each is a tuple (unpacking, ``r[0]``, ``isinstance(r, tuple)``) with
``.values`` and ``.indices``, and prints as PyTorch does."""

from __future__ import annotations

from collections import namedtuple as _namedtuple

from ._rustdl import ValuesIndices, float32


class _Named(ValuesIndices):
    __slots__ = ()
    # a structseq's field counts, as PyTorch's return types have them (library code reads them)
    n_fields = n_sequence_fields = 2
    n_unnamed_fields = 0

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


def structseq(name: str, fields: list[str]) -> type:
    """A result type as PyTorch's ``torch.return_types.<name>``: a named tuple that also takes
    one iterable of all its fields (``type(r)(list(r))``, as a structseq does) and prints as
    PyTorch's."""
    base = _namedtuple(name, fields)

    def __new__(cls, *args, **kwargs):  # noqa: N807
        if len(args) == 1 and not kwargs and len(fields) != 1:
            args = tuple(args[0])
        return base.__new__(cls, *args, **kwargs)

    def __repr__(self) -> str:
        prefix = repr(float32).split(".", 1)[0]
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"{prefix}.return_types.{name}(\n{body})"

    counts = {"n_fields": len(fields), "n_sequence_fields": len(fields), "n_unnamed_fields": 0}
    cls = type(
        name,
        (base,),
        {"__slots__": (), "__new__": __new__, "__repr__": __repr__, "__module__": __name__, **counts},
    )
    cls.__qualname__ = name
    return cls


def _values_indices_new(cls, *args, **kwargs):
    if len(args) == 1 and not kwargs:
        args = tuple(args[0])
    return ValuesIndices.__new__(cls, *args, **kwargs)


_Named.__new__ = _values_indices_new
