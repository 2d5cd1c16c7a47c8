"""``Tensor.untyped_storage()`` / ``Tensor.storage()``: the memory under a tensor, as PyTorch's
``UntypedStorage`` (sized in bytes) and ``TypedStorage`` (sized in elements).

Both are handles on the whole storage a tensor (and its views, ``detach()``, ``.data``, tied
parameters) shares: ``data_ptr()`` is the storage's first byte, so two tensors share memory
exactly when their storages' ``data_ptr()`` are equal (what code checking for shared or tied
weights compares). Reads go through a 1-D tensor over the storage; writing through a storage
object is not supported (write through the tensor).
"""

from __future__ import annotations

from typing import Any

from ._rustdl import Tensor

__all__ = ["StorageBase", "TypedStorage", "UntypedStorage"]


class _StorageBase:
    def __init__(self, tensor: Tensor) -> None:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"storage: expected a Tensor, got {type(tensor).__name__}")
        # the whole storage as a 1-D tensor sharing it (no history)
        self._flat = tensor._storage_view()

    @property
    def device(self) -> Any:
        return self._flat.device

    @property
    def is_cuda(self) -> bool:
        return self._flat.device.type != "cpu"

    def data_ptr(self) -> int:
        """The address of the storage's first byte (0 for an empty storage)."""
        return self._flat.data_ptr()

    def nbytes(self) -> int:
        return self._flat.numel() * self._flat.element_size()

    def __sizeof__(self) -> int:
        # the object and the bytes it holds, as PyTorch's (sys.getsizeof, memory estimates)
        return super().__sizeof__() + self.nbytes()

    def is_shared(self) -> bool:
        return self._flat.is_shared()

    def copy_(self, src: Any, non_blocking: bool = False) -> Any:
        """Copies ``src``'s bytes (a storage of the same size in bytes) into this storage; the
        tensors over it see the new values."""
        from . import _rustdl

        if not isinstance(src, _StorageBase):
            raise TypeError(f"storage.copy_: expected a storage, got {type(src).__name__}")
        if self._flat is None or getattr(src, "_flat", None) is None:
            raise RuntimeError("storage.copy_: a storage has no memory until a tensor is made over it")
        if self.nbytes() != src.nbytes():
            raise RuntimeError(
                f"storage.copy_: size mismatch, this storage has {self.nbytes()} bytes and the source "
                f"{src.nbytes()}"
            )
        other = src._flat
        if other.dtype != self._flat.dtype:
            other = other.view(_rustdl.uint8)
            if self._flat.dtype != _rustdl.uint8:
                other = other.view(self._flat.dtype)
        import rustdl

        with rustdl.no_grad():
            self._flat.copy_(other.to(self._flat.device))
        return self


class StorageBase(_StorageBase):
    """PyTorch's ``torch.StorageBase``: the base of :class:`UntypedStorage` (libraries test
    ``isinstance(x, torch.StorageBase)``)."""


class UntypedStorage(StorageBase):
    """The bytes under a tensor: ``size()``/``len()`` count bytes, ``element_size()`` is 1."""

    def _new_shared(self, size: int, *, device: Any = None) -> UntypedStorage:
        """A fresh storage of ``size`` bytes for a tensor to be made over with ``Tensor.new(storage)``
        (in shared memory on the CPU, as PyTorch's): collate functions of loader workers make
        their batch this way. Its dtype is that of the tensor made over it."""
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"_new_shared: size must be a non-negative number of bytes, got {size!r}")
        out = UntypedStorage.__new__(UntypedStorage)
        out._flat = None
        out._pending = (size, self.device if device is None else device)
        return out

    def nbytes(self) -> int:
        if self._flat is None:
            return self._pending[0]
        return super().nbytes()

    @property
    def device(self) -> Any:
        return self._pending[1] if self._flat is None else self._flat.device

    def size(self) -> int:
        return self.nbytes()

    def __len__(self) -> int:
        return self.nbytes()

    def element_size(self) -> int:
        return 1

    @classmethod
    def from_file(cls, filename: Any, shared: bool = False, nbytes: int = 0) -> UntypedStorage:
        """The first ``nbytes`` bytes of a file, as PyTorch's: read into memory (``shared=False``,
        which is what loaders of serialized weights ask for)."""
        import os

        import numpy as np

        from . import _rustdl

        if shared:
            raise NotImplementedError(
                "UntypedStorage.from_file(shared=True): rustdl cannot map a file so that writes reach "
                "it; use shared=False (a private copy of the bytes)"
            )
        if not isinstance(nbytes, int) or nbytes < 0:
            raise ValueError(f"from_file: nbytes must be a non-negative int, got {nbytes!r}")
        size = os.path.getsize(os.fspath(filename))
        if nbytes == 0:  # PyTorch's: an empty storage
            out = cls.__new__(cls)
            out._flat = _rustdl.from_numpy(np.zeros(0, dtype=np.uint8))
            return out
        if nbytes > size:
            raise RuntimeError(
                f"from_file: the file {os.fspath(filename)!r} has {size} bytes, fewer than the {nbytes} asked for"
            )
        arr = np.fromfile(os.fspath(filename), dtype=np.uint8, count=nbytes)
        out = cls.__new__(cls)
        out._flat = _rustdl.from_numpy(arr)
        return out

    def _bytes(self) -> Tensor:
        """The storage's bytes as a 1-D uint8 tensor (the storage itself when it holds bytes)."""
        from . import _rustdl

        if self._flat is None:
            raise RuntimeError("storage: this storage has no memory until a tensor is made over it")
        if self._flat.dtype == _rustdl.uint8:
            return self._flat
        return self._flat.view(_rustdl.uint8)

    def __getitem__(self, i: Any) -> Any:
        """A byte (an int), or a storage over a slice of the bytes, as PyTorch's."""
        data = self._bytes()
        if isinstance(i, slice):
            out = UntypedStorage.__new__(UntypedStorage)
            out._flat = data[i]
            return out
        return int(data[i])

    def __iter__(self):
        return iter(self._bytes().tolist())

    def tolist(self) -> list:
        return self._bytes().tolist()

    def untyped(self) -> UntypedStorage:
        return self

    def __repr__(self) -> str:
        return f"UntypedStorage(nbytes={self.nbytes()}, device={self.device})"


class TypedStorage(_StorageBase):
    """The elements under a tensor, of its dtype: ``size()``/``len()`` count elements."""

    @property
    def dtype(self) -> Any:
        return self._flat.dtype

    def size(self) -> int:
        return self._flat.numel()

    def __len__(self) -> int:
        return self._flat.numel()

    def element_size(self) -> int:
        return self._flat.element_size()

    def __getitem__(self, i: Any) -> Any:
        out = self._flat[i]
        return out.item() if out.dim() == 0 else out.tolist()

    def __setitem__(self, i: Any, value: Any) -> None:
        """Writes element ``i`` (or a slice) of the storage: every tensor over it sees the new
        value, as PyTorch's ``t.storage()[0] = 2.0``."""
        from .autograd import no_grad

        with no_grad():
            self._flat[i] = value

    def fill_(self, value: Any) -> TypedStorage:
        """Sets every element of the storage to ``value``."""
        from .autograd import no_grad

        with no_grad():
            self._flat.fill_(value)
        return self

    def __iter__(self):
        return iter(self._flat.tolist())

    def tolist(self) -> list:
        return self._flat.tolist()

    def untyped(self) -> UntypedStorage:
        out = UntypedStorage.__new__(UntypedStorage)
        out._flat = self._flat
        return out

    def __repr__(self) -> str:
        return f"TypedStorage(size={self.size()}, dtype={self.dtype}, device={self.device})"


def _tensor_over(like: Tensor, storage: _StorageBase) -> Tensor:
    """``like.new(storage)``: a 1-D tensor of ``like``'s dtype over ``storage`` (a storage from
    :meth:`UntypedStorage._new_shared` gets its memory now, as that dtype)."""
    if storage._flat is None:
        nbytes, device = storage._pending
        n = nbytes // like.element_size()
        t = like.new_empty((n,), device=device)
        if t.device.type == "cpu":
            t.share_memory_()
        storage._flat = t
        return t
    if storage._flat.dtype != like.dtype:
        raise TypeError(
            f"new(): expected a storage of {like.dtype}, got one of {storage._flat.dtype} "
            "(rustdl does not reinterpret a storage's bytes as another dtype)"
        )
    return storage._flat


def _untyped_storage(self: Tensor) -> UntypedStorage:
    """The bytes of the storage under this tensor (see :mod:`rustdl._storage`)."""
    return UntypedStorage(self)


def _storage(self: Tensor) -> TypedStorage:
    """The elements of the storage under this tensor, of its dtype (see :mod:`rustdl._storage`)."""
    return TypedStorage(self)


def _load_from_bytes(b: bytes) -> TypedStorage:
    """``torch.storage._load_from_bytes``: a storage PyTorch sent through plain ``pickle`` (its
    ``__reduce__`` writes it as a ``torch.save`` file in the legacy format), as a storage over
    one flat tensor of its dtype."""
    import io as _bytes_io

    import numpy as np

    from . import io as _io

    if not isinstance(b, (bytes, bytearray)):
        raise TypeError(f"_load_from_bytes: expected bytes, got {type(b).__name__}")
    obj = _io.load(_bytes_io.BytesIO(bytes(b)), weights_only=False)
    if isinstance(obj, _StorageBase):
        return obj if isinstance(obj, TypedStorage) else obj.untyped()
    data = getattr(obj, "data", None)
    if not isinstance(obj, _io._Storage) or data is None:
        raise ValueError(f"_load_from_bytes: the bytes hold a {type(obj).__name__}, not a storage")
    import rustdl

    arr = np.ascontiguousarray(data)
    flat = (
        rustdl.from_numpy(arr.copy())
        if arr.dtype.kind in "fb" and arr.itemsize in (1, 4, 8)
        else rustdl.tensor(arr)
    )
    out = TypedStorage.__new__(TypedStorage)
    out._flat = flat
    return out
