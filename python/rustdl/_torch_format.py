"""Writing checkpoints in PyTorch's own format (a zip holding a protocol-2 pickle and one raw
record per tensor), so that ``torch.save`` under :mod:`rustdl.torchcompat` writes files that
PyTorch's ``torch.load`` (``weights_only=True`` included) reads, and ``rustdl.load`` reads back.

Only plain data is written this way: tensors and parameters, ``None``, bools, ints, floats,
strings, bytes, dtypes, devices, sizes, and dicts (ordered ones and ``Counter`` too), lists,
tuples, sets and frozensets of them. :func:`dumps` returns ``None``
for anything else, and the caller falls back to rustdl's own format. The pickle is emitted
opcode by opcode (no Python pickler), naming only the globals PyTorch's weights-only unpickler
allows: ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter``, the typed storage
classes and ``collections.OrderedDict``.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from typing import Any

import numpy as np

from . import _complex, _rustdl
from ._rustdl import Tensor

__all__ = ["dumps", "dumps_objects", "save"]

# rustdl dtype name -> (PyTorch storage class, numpy dtype of the raw record)
_STORAGES = {
    "float32": ("FloatStorage", "<f4"),
    "float64": ("DoubleStorage", "<f8"),
    "int64": ("LongStorage", "<i8"),
    "int32": ("IntStorage", "<i4"),
    "int16": ("ShortStorage", "<i2"),
    "int8": ("CharStorage", "i1"),
    "uint8": ("ByteStorage", "u1"),
    "bool": ("BoolStorage", "?"),
}


class _NotPlain(Exception):
    """Raised inside :func:`dumps` on an object the format here does not cover."""


class _Writer:
    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.records: list[bytes] = []
        # storages written so far, by (device, first byte's address, dtype): tensors sharing a
        # storage (views, tied weights) refer to one record, as PyTorch writes them
        self.storages: dict[tuple, tuple[str, int]] = {}
        # tensors written so far, by id: the same tensor again is a reference to it (pickle memo)
        self.memo: dict[int, int] = {}
        self.kept: list = []  # keeps the memoised tensors alive, so their ids stay theirs

    def op(self, code: bytes) -> None:
        self.out.write(code)

    def global_(self, module: str, name: str) -> None:
        self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def ordered_dict(self, items, metadata: Any = None, memo_of: Any = None) -> None:
        self.global_("collections", "OrderedDict")
        self.op(b")R")
        if memo_of is not None:
            self._memo_put(memo_of)
        self.set_items(items)
        if metadata is not None:
            # a state_dict's `_metadata` (its modules' versions), set by BUILD as pickle does
            self.op(b"}")
            self.set_items([("_metadata", metadata)])
            self.op(b"b")

    def set_items(self, items) -> None:
        items = list(items)
        if items:
            self.op(b"(")
            for k, v in items:
                self.value(k)
                self.value(v)
            self.op(b"u")

    def tensor(self, t: Tensor) -> None:
        from .nn.parameter import Parameter

        name = str(t.dtype).rsplit(".", 1)[-1]
        if name not in _STORAGES or t.is_complex():
            raise _NotPlain(f"a tensor of dtype {t.dtype}")
        storage, np_dtype = _STORAGES[name]
        memo = self.memo.get(id(t))
        if memo is not None:
            self.op(b"j" + struct.pack("<I", memo))  # LONG_BINGET: the same tensor object
            return
        if _is_subclass_tensor(t):
            raise _NotPlain(f"a {type(t).__name__} (a Tensor subclass: written with its class)")
        is_param = isinstance(t, Parameter)
        requires_grad = bool(t.requires_grad)
        location = "cuda:0" if t.device.type != "cpu" else "cpu"
        shape = tuple(int(n) for n in t.shape)
        key, count, offset, strides = self._storage_of(t, np_dtype)
        if is_param:
            self.global_("torch._utils", "_rebuild_parameter")
            self.op(b"(")
        self.global_("torch._utils", "_rebuild_tensor_v2")
        self.op(b"(")
        # the storage, as a persistent id: ('storage', class, key, location, element count)
        self.op(b"(")
        self.value("storage")
        self.global_("torch", storage)
        self.value(key)
        self.value(location)
        self.value(count)
        self.op(b"tQ")
        self.value(offset)
        self.value(shape)
        self.value(strides)
        self.value(False if is_param else requires_grad)
        self.ordered_dict(())
        self.op(b"tR")
        if is_param:
            self.value(requires_grad)
            self.ordered_dict(())
            self.op(b"tR")
        index = len(self.memo)
        self.memo[id(t)] = index
        self.kept.append(t)
        self.op(b"r" + struct.pack("<I", index))  # LONG_BINPUT

    def _storage_of(self, t: Tensor, np_dtype: Any) -> tuple[str, int, int, tuple]:
        """The record ``t`` reads (written now unless an earlier tensor shares its storage), the
        record's element count, and ``t``'s offset and strides in it."""
        flat = t.detach()._storage_view()
        if flat.numel() and flat.dtype == t.dtype:
            ident = (str(flat.device), flat.data_ptr(), str(flat.dtype))
            known = self.storages.get(ident)
            if known is None:
                data = np.ascontiguousarray(flat.cpu().numpy().astype(np_dtype, copy=False))
                known = (str(len(self.records)), int(data.size))
                self.records.append(data.tobytes())
                self.storages[ident] = known
            return known[0], known[1], int(t.storage_offset()), tuple(int(s) for s in t.stride())
        # a tensor without a storage of its own dtype: its elements alone, row-major
        data = np.ascontiguousarray(t.detach().cpu().numpy().astype(np_dtype, copy=False))
        key = str(len(self.records))
        self.records.append(data.tobytes())
        shape = tuple(int(n) for n in t.shape)
        strides = []
        step = 1
        for n in reversed(shape):
            strides.append(step)
            step *= max(n, 1)
        return key, int(data.size), 0, tuple(reversed(strides))

    def _memo_get(self, v: Any) -> bool:
        """Writes a reference to ``v`` if it was written before (True), as pickle's memo does."""
        index = self.memo.get(id(v))
        if index is None:
            return False
        self.op(b"j" + struct.pack("<I", index))  # LONG_BINGET
        return True

    def _memo_put(self, v: Any) -> None:
        """Remembers the container just opened (before its items: a self-reference works too)."""
        index = len(self.memo)
        self.memo[id(v)] = index
        self.kept.append(v)
        self.op(b"r" + struct.pack("<I", index))  # LONG_BINPUT

    def value(self, v: Any) -> None:
        if type(v) in (dict, list, collections.OrderedDict) and self._memo_get(v):
            return  # a container met again (shared between entries) stays one object
        if type(v).__name__ == "_Step":  # an optimizer's step count: a 0-d float32 tensor, as PyTorch's
            self.tensor(_rustdl.tensor(float(v), dtype=_rustdl.float32))
        elif v is None:
            self.op(b"N")
        elif v is True:
            self.op(b"\x88")
        elif v is False:
            self.op(b"\x89")
        elif isinstance(v, int):
            if -(2**31) <= v < 2**31:
                self.op(b"J" + struct.pack("<i", v))
            else:
                n = (v.bit_length() + 8) // 8
                self.op(b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True))
        elif isinstance(v, float):
            self.op(b"G" + struct.pack(">d", v))
        elif isinstance(v, str):
            raw = v.encode("utf-8", "surrogatepass")
            self.op(b"X" + struct.pack("<I", len(raw)) + raw)
        elif isinstance(v, Tensor):
            self.tensor(v)
        elif isinstance(v, collections.OrderedDict) and type(v) is collections.OrderedDict:
            self.ordered_dict(v.items(), getattr(v, "__dict__", {}).get("_metadata"), memo_of=v)
        elif type(v) is dict:
            self.op(b"}")
            self._memo_put(v)
            self.set_items(v.items())
        elif type(v) is list:
            self.op(b"]")
            self._memo_put(v)
            if v:
                self.op(b"(")
                for x in v:
                    self.value(x)
                self.op(b"e")
        elif type(v) is tuple:
            self.tuple_(v)
        elif type(v) in (set, frozenset):
            # builtins.set([items]), as pickle's protocol 2 writes a set
            self.global_("builtins", type(v).__name__)
            self.value(list(v))
            self.op(b"\x85R")  # TUPLE1, REDUCE
        elif type(v) is collections.Counter:
            self.global_("collections", "Counter")
            self.value(dict(v))
            self.op(b"\x85R")
        elif type(v) is bytes:
            # _codecs.encode(text, "latin1"), as protocol 2 writes bytes
            self.global_("_codecs", "encode")
            self.value(v.decode("latin1"))
            self.value("latin1")
            self.op(b"\x86R")  # TUPLE2, REDUCE
        elif isinstance(v, _rustdl.dtype) or type(v).__name__ == "ComplexDType":
            self.global_("torch", str(v).rsplit(".", 1)[-1])
        elif isinstance(v, _rustdl.device):
            self.global_("torch", "device")
            kind = "cpu" if v.type == "cpu" else "cuda"
            self.tuple_((kind,) if v.index is None else (kind, int(v.index)))
            self.op(b"R")
        elif _is_size(v):
            self.global_("torch", "Size")
            self.tuple_((tuple(int(n) for n in v),))
            self.op(b"R")
        else:
            raise _NotPlain(type(v).__name__)

    def tuple_(self, v: tuple) -> None:
        if not v:
            self.op(b")")
        else:
            self.op(b"(")
            for x in v:
                self.value(x)
            self.op(b"t")


class _Global:
    """A name the pickle refers to as a global of PyTorch's (``torch._utils._rebuild_tensor_v2``),
    written as it is named, whatever this process imports under it."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pickle's save_reduce asks for a callable
        raise TypeError(f"{self.module}.{self.name} is a name in a checkpoint, not a function")


class _Storage:
    """A tensor's storage, written as PyTorch's persistent id ``('storage', class, key, location,
    count)``."""

    __slots__ = ("pid",)

    def __init__(self, pid: tuple) -> None:
        self.pid = pid


class _Plain:
    """A tensor written as ``_rebuild_tensor_v2`` (inside a parameter's ``_rebuild_parameter``)."""

    __slots__ = ("t", "requires_grad")

    def __init__(self, t: Tensor, requires_grad: bool) -> None:
        self.t, self.requires_grad = t, requires_grad


class _ObjectWriter(pickle._Pickler):  # type: ignore[name-defined,misc]  # the Python pickler: save_global is ours
    """Pickles any object as ``torch.save`` does (protocol 2), tensors as PyTorch's rebuild calls
    over storage records kept in ``writer``. An object of one of rustdl's own classes (a whole
    module, an optimizer) raises :class:`_NotPlain`: its layout is rustdl's, not PyTorch's."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, file: Any, writer: _Writer) -> None:
        super().__init__(file, protocol=2)
        self.w = writer
        self.kept: list = []  # stand-ins made here, alive until the end so their ids stay theirs

    def save_marker(self, obj: _Global) -> None:
        self.write(b"c" + obj.module.encode() + b"\n" + obj.name.encode() + b"\n")
        self.memoize(obj)

    dispatch[_Global] = save_marker

    def save_dtype(self, obj: Any) -> None:
        self.write(b"ctorch\n" + str(obj).rsplit(".", 1)[-1].encode() + b"\n")
        self.memoize(obj)

    dispatch[_rustdl.dtype] = save_dtype
    dispatch[type(_complex.complex64)] = save_dtype

    def persistent_id(self, obj: Any) -> Any:
        return obj.pid if type(obj) is _Storage else None

    def _keep(self, obj: Any) -> Any:
        self.kept.append(obj)
        return obj

    def reducer_override(self, obj: Any) -> Any:
        from .nn.parameter import Parameter

        t = type(obj)
        if t in (int, float, str, bool, type(None), list, dict, tuple, bytes, _Global, _Storage):
            return NotImplemented
        if t is _Plain:
            return self._tensor(obj.t, obj.requires_grad)
        if t.__name__ == "_Step":  # an optimizer's step count: a 0-d float32 tensor, as PyTorch's
            return self._tensor(self._keep(_rustdl.tensor(float(obj), dtype=_rustdl.float32)), False)
        if isinstance(obj, Tensor):
            if type(obj) is not Tensor and _own_reduce(t):
                return NotImplemented  # the class pickles itself
            if isinstance(obj, Parameter):
                inner = self._keep(_Plain(obj, False))
                return (
                    _Global("torch._utils", "_rebuild_parameter"),
                    (inner, bool(obj.requires_grad), _hooks()),
                )
            if _is_subclass_tensor(obj):
                # as PyTorch's: the tensor rebuilt, made an instance of its class, its attributes set
                rebuild, args = self._tensor(obj, bool(obj.requires_grad))
                return (
                    _Global("torch._tensor", "_rebuild_from_type_v2"),
                    (rebuild, t, args, dict(vars(obj))),
                )
            return self._tensor(obj, bool(obj.requires_grad))
        if t in self.dispatch:
            return NotImplemented  # a dtype: written as its global
        if isinstance(obj, _rustdl.device):
            kind = "cpu" if obj.type == "cpu" else "cuda"
            args = (kind,) if obj.index is None else (kind, int(obj.index))
            return (_Global("torch", "device"), args)
        if _is_size(obj):
            return (_Global("torch", "Size"), (tuple(int(n) for n in obj),))
        if isinstance(obj, type):
            return NotImplemented  # a class: save_global decides
        for c in t.__mro__:
            if c.__module__.split(".", 1)[0] in ("rustdl", "torch"):
                raise _NotPlain(f"a {t.__name__}, whose layout is rustdl's")
        return NotImplemented

    def _tensor(self, t: Tensor, requires_grad: bool) -> tuple:
        name = str(t.dtype).rsplit(".", 1)[-1]
        if name not in _STORAGES or t.is_complex():
            raise _NotPlain(f"a tensor of dtype {t.dtype}")
        storage, np_dtype = _STORAGES[name]
        key, count, offset, strides = self.w._storage_of(t, np_dtype)
        location = "cuda:0" if t.device.type != "cpu" else "cpu"
        ref = self._keep(_Storage(("storage", _Global("torch", storage), key, location, count)))
        shape = tuple(int(n) for n in t.shape)
        args = (ref, offset, shape, strides, requires_grad, _hooks())
        return (_Global("torch._utils", "_rebuild_tensor_v2"), args)

    def save_global(self, obj: Any, name: str | None = None) -> None:
        # a class or function named under torch (the compat layer gives rustdl's classes their
        # torch names: torch.nn.Tanh, torch.optim.Adam) is written as PyTorch names it; one only
        # rustdl has cannot be read by PyTorch
        module = getattr(obj, "__module__", None) or ""
        if module.split(".", 1)[0] == "rustdl":
            raise _NotPlain(f"{module}.{getattr(obj, '__qualname__', name)}")
        super().save_global(obj, name)


def _is_subclass_tensor(t: Any) -> bool:
    """An instance of a user's Tensor subclass, written with its class as PyTorch writes it (a
    Parameter subclass is written as a Parameter, as PyTorch's, unless it pickles itself)."""
    from .nn.parameter import Parameter

    if type(t) is Tensor or type(t).__module__.split(".", 1)[0] == "rustdl":
        return False  # (rustdl's own stand-ins, nn.Buffer, are written as plain tensors)
    return _own_reduce(type(t)) or not isinstance(t, Parameter)


def _own_reduce(cls: type) -> bool:
    """Whether a Tensor subclass defines its own ``__reduce_ex__`` (pickled through it)."""
    from .nn.parameter import Parameter

    r = getattr(cls, "__reduce_ex__", None)
    return r is not Tensor.__reduce_ex__ and r is not Parameter.__reduce_ex__


def _is_size(v: Any) -> bool:
    """A ``torch.Size`` of the compat layer (named ``torch.Size`` there)."""
    t = type(v)
    return (
        isinstance(v, tuple) and t.__name__ == "Size" and t.__module__.split(".", 1)[0] in ("rustdl", "torch")
    )


def _hooks() -> collections.OrderedDict:
    return collections.OrderedDict()


def _zip(pkl: bytes, records: list[bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", b"little")
        for i, rec in enumerate(records):
            z.writestr(f"archive/data/{i}", rec)
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


def dumps_objects(obj: Any) -> bytes | None:
    """``obj`` holding objects of any picklable class (``argparse.Namespace``, a dataclass, a
    ``Path``, an ``Enum``) as the bytes of a PyTorch checkpoint, which ``torch.load(...,
    weights_only=False)`` reads; ``None`` when it holds an object of rustdl's own classes (a whole
    module) or a tensor dtype PyTorch's format does not carry here."""
    w = _Writer()
    out = io.BytesIO()
    p = _ObjectWriter(out, w)
    try:
        p.dump(obj)
    except (_NotPlain, RecursionError):
        return None
    return _zip(out.getvalue(), w.records)


def dumps(obj: Any) -> bytes | None:
    """``obj`` as the bytes of a PyTorch checkpoint, or ``None`` when it holds anything but
    plain data (see the module's docstring)."""
    w = _Writer()
    w.op(b"\x80\x02")
    try:
        w.value(obj)
    except (_NotPlain, RecursionError):
        return None
    w.op(b".")
    return _zip(w.out.getvalue(), w.records)


def save(
    obj: Any,
    f: Any,
    pickle_module: Any = None,
    pickle_protocol: int = 2,
    _use_new_zipfile_serialization: bool = True,
    _disable_byteorder_record: bool = False,
) -> None:
    """``torch.save``: PyTorch's format where ``obj`` is plain data (:func:`dumps`), else
    rustdl's own (:func:`rustdl.save`, which also pickles whole objects). A path is written
    atomically: a temp file beside it, fsynced, then renamed over it. PyTorch's other arguments
    are accepted; the file is always the zip format with a protocol-2 pickle, which every
    ``torch.load`` reads."""
    data = dumps(obj)
    if data is None:
        data = dumps_objects(obj)
    if data is None:
        from .io import save as rustdl_save

        rustdl_save(obj, f)
        return
    if isinstance(f, (str, os.PathLike)):
        from . import _rustdl

        # as rustdl.save writes a path: atomically, through symlinks, keeping the file's mode
        _rustdl._write_file_atomic(os.fspath(f), data)
        return
    if not callable(getattr(f, "write", None)):
        raise TypeError(f"torch.save: f must be a path or a binary file object, got {type(f).__name__}")
    f.write(data)
    flush = getattr(f, "flush", None)
    if callable(flush):
        flush()
