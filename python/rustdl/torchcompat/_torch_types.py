"""``torch.types``: the type aliases PyTorch code annotates with (``Number``, ``Device``,
``_size``, ...), spelled with rustdl's classes."""

from __future__ import annotations

import os
from typing import IO, Any, Union

from rustdl import Tensor, device, dtype

from ._overrides import Size

_int = int
_float = float
_bool = bool
_complex = complex
_str = str
_bytes = bytes
_dtype = dtype
_device = device
_size = Union[Size, list[int], tuple[int, ...]]
_layout = Any
_qscheme = Any
_dispatchkey = Union[str, Any]

Number = Union[int, float, bool]
_Number = (int, float, bool)
Device = Union[device, str, int, None]
FileLike = Union[str, os.PathLike, IO[bytes]]
IntLikeType = int
FloatLikeType = float
BoolLikeType = bool
SymInt = int
SymFloat = float
SymBool = bool
_TensorOrTensors = Union[Tensor, "tuple[Tensor, ...]", "list[Tensor]"]
_TensorOrOptionalTensors = Union[Tensor, None, "tuple[Tensor | None, ...]"]
Storage = Any
py_sym_types = (int, float, bool)
