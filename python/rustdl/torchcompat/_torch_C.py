"""``torch._C``: the few private probes model code calls (timm, torchvision)."""

from __future__ import annotations

from typing import Any

import rustdl
from rustdl import _dispatch
from rustdl import overrides as _overrides_api


def _get_tracing_state() -> None:
    """None: nothing is ever being traced (rustdl runs eagerly)."""
    return None


def _is_tracing() -> bool:
    """False: nothing is ever traced (``torch.jit.is_tracing``)."""
    return False


def _jit_is_script_object(obj: Any) -> bool:
    """False: rustdl makes no TorchScript class instances."""
    return False


def _set_grad_enabled(mode: bool) -> None:
    """Turns gradient recording on or off, as ``torch.set_grad_enabled(mode)`` used as a call."""
    rustdl.set_grad_enabled(bool(mode))


def _log_api_usage_once(*args: Any) -> None:
    """Accepted (rustdl logs no API usage)."""


# the metaclass of torch.Tensor (annotations name it)
_TensorMeta = type(rustdl.Tensor)


def _are_functorch_transforms_active() -> bool:
    """False: no functorch transform (vmap, grad) is running in the sense PyTorch means; rustdl's
    ``torch.func`` transforms run eagerly on ordinary tensors."""
    return False


def _is_alias_of(tensor: Any, other: Any) -> bool:
    """Whether ``tensor`` and ``other`` share their storage (one is a view of the other, or
    both of one base)."""
    if tensor is other:
        return True
    a, b = tensor.untyped_storage().data_ptr(), other.untyped_storage().data_ptr()
    return a != 0 and a == b


# the __torch_function__ protocol's switches and probes (rustdl._dispatch holds the state)
_disabled_torch_function_impl = _dispatch.disabled_torch_function_impl
DisableTorchFunctionSubclass = _dispatch.DisableTorchFunctionSubclass
DisableTorchFunction = _dispatch.DisableTorchFunction
_is_torch_function_enabled = _dispatch.is_torch_function_enabled
_has_torch_function = _overrides_api.has_torch_function
_has_torch_function_unary = _overrides_api.has_torch_function_unary
_has_torch_function_variadic = _overrides_api.has_torch_function_variadic


def _is_torch_function_mode_enabled() -> bool:
    """True while a TorchFunctionMode is active on this thread (and not disabled)."""
    # (modes still run inside DisableTorchFunctionSubclass; only DisableTorchFunction stops them)
    return bool(_dispatch.mode_stack()) and not _dispatch._state.all_off


_push_on_torch_function_stack = _dispatch.push_mode
_pop_torch_function_stack = _dispatch.pop_mode


def _len_torch_function_stack() -> int:
    return len(_dispatch.mode_stack())


def _get_function_stack_at(i: int) -> Any:
    return _dispatch.mode_stack()[i]


# the C base of torch.Tensor (code names it in isinstance checks and annotations)
TensorBase = _TensorBase = rustdl.Tensor


class Graph:
    """The TorchScript IR graph type: named in ONNX ``symbolic`` annotations; rustdl builds no
    such graphs."""


class Value:
    """A value of a TorchScript IR :class:`Graph` (annotations only, as :class:`Graph`)."""


def __getattr__(name: str) -> Any:
    # torch._C's error classes are the ones rustdl raises
    if name == "_LinAlgError":
        return rustdl.linalg.LinAlgError
    if name in rustdl._JIT_TYPE_NAMES:  # TorchScript's types, the same objects as torch.X's
        return getattr(rustdl, name)
    raise AttributeError(f"module 'torch._C' has no attribute '{name}' in rustdl")


class PyTorchFileReader:
    """The records of a checkpoint in PyTorch's zip format (``torch.save``'s files): each
    record by its name inside the archive folder (``"data.pkl"``, ``"data/0"``, ...)."""

    def __init__(self, file: Any) -> None:
        import zipfile

        self._zip = zipfile.ZipFile(file)
        names = self._zip.namelist()
        if not names:
            raise RuntimeError("PyTorchFileReader: the archive is empty")
        self._prefix = names[0].split("/", 1)[0] + "/"
        self._names = {n[len(self._prefix) :]: n for n in names if n.startswith(self._prefix)}

    def get_record(self, name: str) -> bytes:
        if name not in self._names:
            raise RuntimeError(f"PyTorchFileReader: no record named '{name}' in the archive")
        return self._zip.read(self._names[name])

    def has_record(self, name: str) -> bool:
        return name in self._names

    def get_all_records(self) -> list[str]:
        return list(self._names)

    def get_storage_from_record(self, name: str, numel: int, dtype: Any) -> Any:
        import numpy as np

        raw = np.frombuffer(self.get_record(name), dtype=np.dtype(str(dtype).replace("torch.", "")))
        return rustdl.from_numpy(raw[:numel].copy())
