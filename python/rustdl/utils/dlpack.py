"""``torch.utils.dlpack``: zero-copy exchange of CPU tensors with other array libraries through
the DLPack protocol (``numpy.from_dlpack(t)``, ``rustdl.from_dlpack(array)``).

A CPU tensor exports its own memory (writes through the other library's array are seen by the
tensor); a GPU tensor is refused with a clear error, as its memory is a GPU buffer no other
library can address (``.cpu()`` first). Tensors of the narrow integer dtypes (int8, int16, int32,
uint8), which rustdl stores widened, are exchanged as copies of their values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._rustdl import Tensor

__all__ = ["from_dlpack", "to_dlpack"]

_KDLCPU = 1


def _export_array(tensor: Tensor, op: str) -> np.ndarray:
    if tensor.requires_grad:
        raise BufferError(f"{op}: can't export a tensor that requires grad; use tensor.detach() first")
    if tensor.device.type != "cpu":
        raise BufferError(
            f"{op}: a tensor on {tensor.device} can't be shared through DLPack (its memory is a "
            "GPU buffer); move it to the CPU with .cpu() first"
        )
    if tensor.is_complex():
        raise BufferError(f"{op}: complex tensors can't be exported through DLPack yet")
    return tensor.numpy()


def _dlpack(self: Tensor, *, stream: Any = None, max_version=None, dl_device=None, copy=None):
    """The DLPack capsule of a CPU tensor (the ``__dlpack__`` protocol)."""
    arr = _export_array(self, "Tensor.__dlpack__")
    kwargs = {"stream": stream}
    if max_version is not None:
        kwargs["max_version"] = max_version
    if dl_device is not None:
        kwargs["dl_device"] = dl_device
    if copy is not None:
        kwargs["copy"] = copy
    return arr.__dlpack__(**kwargs)


def _dlpack_device(self: Tensor) -> tuple[int, int]:
    """``(device type, device index)`` of the tensor in DLPack's numbering (1 = CPU)."""
    if self.device.type != "cpu":
        raise BufferError(
            f"Tensor.__dlpack_device__: a tensor on {self.device} can't be shared through DLPack"
        )
    return (_KDLCPU, 0)


Tensor.__dlpack__ = _dlpack
Tensor.__dlpack_device__ = _dlpack_device


class _Capsule:
    """Presents a bare DLPack capsule (from ``to_dlpack``) as an object with ``__dlpack__``."""

    def __init__(self, capsule: Any) -> None:
        self._capsule = capsule

    def __dlpack__(self, **_: Any) -> Any:
        return self._capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (_KDLCPU, 0)


def to_dlpack(tensor: Tensor) -> Any:
    """A DLPack capsule sharing the memory of a CPU ``tensor`` (consumed once by a reader)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dlpack: expected a Tensor, got {type(tensor).__name__}")
    return _dlpack(tensor)


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A tensor sharing the memory of an object with ``__dlpack__`` (a numpy array, a tensor of
    another library on the CPU) or of a DLPack capsule."""
    import rustdl

    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    src = ext_tensor if hasattr(ext_tensor, "__dlpack__") else _Capsule(ext_tensor)
    if hasattr(ext_tensor, "__dlpack_device__"):
        dev = ext_tensor.__dlpack_device__()
        if int(dev[0]) != _KDLCPU:
            raise BufferError(f"from_dlpack: only CPU memory can be imported, got DLPack device {tuple(dev)}")
    try:
        arr = np.from_dlpack(src)
    except (TypeError, ValueError, BufferError) as e:
        raise BufferError(f"from_dlpack: could not import the object: {e}") from None
    if not arr.flags.writeable:
        arr = arr.copy()  # a read-only export: the tensor gets its own copy
    return rustdl.from_numpy(arr)
