"""Checkpoints: ``rustdl.save`` / ``rustdl.load``, and reading PyTorch ``.pt``/``.pth`` files.

rustdl writes safetensors. Every tensor is stored under its path in the dict: a model's
``state_dict`` keeps its dotted names (``fc.weight``), so ``safetensors`` and PyTorch read the
file as it is; nested dicts (an optimizer's ``state_dict``) are flattened with ``/``
(``state/0/exp_avg``). The structure itself (dict keys with their types, lists, tuples) and every
non-tensor value (numbers, strings, bools, ``None``) is kept as JSON in the file's metadata under
``rustdl``, so :func:`load` rebuilds the object exactly, whatever characters the keys hold. An
object beyond plain data (a whole module, an optimizer) is pickled as ``torch.save`` does, with its
tensors stored beside the pickle; :func:`load` unpickles it only when asked with
``weights_only=False``, as ``torch.load`` does since PyTorch 2.6. Writes
to a path are atomic (a temp file of its own, fsync, rename) and serialised by a lock beside the
file, so concurrent saves to one path (threads or processes) each land whole; a save also removes
the temp files that writers killed mid-save left behind. File objects are written and read from
memory, with no temp file.

:func:`load` also reads the files ``torch.save`` writes, without torch: the zip format (PyTorch
1.6 and later) and the legacy format before it. Those files hold a pickle; rustdl reads it with an
unpickler that knows only tensors and plain containers (dicts, ``OrderedDict``, lists, tuples,
sets, numbers, strings) and refuses every other name with :class:`pickle.UnpicklingError`, so a
checkpoint runs no code — unless the caller passes ``weights_only=False``, which (as in
``torch.load``) imports the classes the file names (an ``argparse.Namespace``, a dataclass, a whole
module under :mod:`rustdl.torchcompat`) for files the caller trusts.
"""

from __future__ import annotations

import base64
import collections
import importlib
import io
import json
import os
import pickle
import struct
import warnings
import zipfile
from collections.abc import Callable
from typing import Any, BinaryIO, ClassVar, Union

import numpy as np

from . import _rustdl
from ._rustdl import Tensor

_META_KEY = "rustdl"
_FORMAT = 1
_SCALARS = (type(None), bool, int, float, str)

FileLike = Union[str, os.PathLike, BinaryIO]
MapLocation = Union[None, str, "_rustdl.device", dict, Callable[..., Any]]

# ---------------------------------------------------------------------------------------------
# rustdl's own format: safetensors with the structure as JSON metadata
# ---------------------------------------------------------------------------------------------


def _is_complex_tensor(obj: Any) -> bool:
    from . import _complex

    return isinstance(obj, _complex.ComplexTensor)


def _same_tensor_key(t: Tensor) -> tuple | None:
    """What identifies a tensor's values in memory (its start, layout, dtype, device), so that the
    same weight reached under two names (tied embeddings) is stored once and loads back shared."""
    if t.numel() == 0:
        return None
    return (t.data_ptr(), tuple(t.shape), tuple(t.stride()), str(t.dtype), str(t.device))


def _encode(obj: Any, path: str, tensors: dict[str, Tensor], memo: dict | None = None) -> Any:
    """Returns the JSON node describing ``obj``; tensors go into ``tensors`` under unique names
    (a tensor met again under another name refers to the first)."""
    memo = {} if memo is None else memo
    if isinstance(obj, Tensor):
        key = _same_tensor_key(obj)
        if key is not None and key in memo:
            return {"T": memo[key]}
        name = path
        n = 1
        while name in tensors or name == "__metadata__":
            name = f"{path}~{n}"
            n += 1
        tensors[name] = obj.detach()
        if key is not None:
            memo[key] = name
        return {"T": name}
    if _is_complex_tensor(obj):  # its two real parts, rebuilt as a complex tensor on load
        parts = [
            _encode(obj.real, f"{path}.real", tensors, memo),
            _encode(obj.imag, f"{path}.imag", tensors, memo),
        ]
        return {"Z": parts}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(
                    f"rustdl.save: dict keys must be str or int, got {k!r} ({type(k).__name__}) at '{path}'"
                )
            sub = f"{path}/{k}" if path else str(k)
            items.append([k, _encode(v, sub, tensors, memo)])
        # an OrderedDict (a state_dict) reads back as one, as PyTorch's pickle keeps it, with
        # its `_metadata` (the modules' state-dict versions that load_state_dict hands on)
        node = {"od" if isinstance(obj, collections.OrderedDict) else "d": items}
        meta = getattr(obj, "__dict__", {}).get("_metadata")
        if meta is not None and isinstance(obj, collections.OrderedDict):
            node["m"] = _encode(meta, f"{path}/_metadata" if path else "_metadata", tensors, memo)
        return node
    if isinstance(obj, (list, tuple)):
        nodes = [_encode(v, f"{path}/{i}" if path else str(i), tensors, memo) for i, v in enumerate(obj)]
        return {"t" if isinstance(obj, tuple) else "l": nodes}
    if isinstance(obj, np.ndarray) and obj.shape != ():
        if obj.dtype.kind not in "biuf":
            raise TypeError(
                f"rustdl.save: the numpy array at '{path}' has dtype {obj.dtype}, not a number or bool"
            )
        name = _encode(_rustdl.from_numpy(np.ascontiguousarray(obj)), path, tensors, memo)["T"]
        return {"A": name, "dtype": obj.dtype.str}
    from .optim.optimizer import _Step

    if isinstance(obj, _Step):
        # an optimizer's step count is saved as PyTorch's: a 0-d float32 tensor (what code that
        # loads the file asks of it, ``.item()``, then works; load_state_dict takes it back)
        return _encode(_rustdl.tensor(float(obj)), path, tensors, memo)
    if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "shape", None) == ():
        obj = obj.item()  # a numpy scalar
    if isinstance(obj, _SCALARS):
        return {"v": obj}
    if isinstance(obj, _rustdl.dtype):
        return {"dt": str(obj).removeprefix("rustdl.").removeprefix("torch.")}
    if isinstance(obj, _rustdl.device):
        return {"dv": "cpu" if obj.type == "cpu" else f"gpu:{obj.index or 0}"}
    raise TypeError(
        f"rustdl.save: the value at '{path}' is a {type(obj).__name__}, not a tensor, number, string, list or dict"
    )


def _decode(node: Any, tensors: dict[str, Tensor], where: str) -> Any:
    """Rebuilds an object from its JSON node; any malformed node raises ``ValueError``."""
    if not isinstance(node, dict) or not (
        len(node) == 1 or (len(node) == 2 and ("A" in node or ("m" in node and "od" in node)))
    ):
        raise ValueError(f"malformed structure node {str(node)[:80]!r}")
    kind = "A" if "A" in node else "od" if "m" in node else next(iter(node))
    body = node[kind]
    if kind == "T":
        if not isinstance(body, str) or body not in tensors:
            raise ValueError(f"metadata refers to a tensor {str(body)[:80]!r} that the file does not hold")
        return tensors[body]
    if kind == "A":
        dtype = node_dtype = None
        if isinstance(node, dict):
            node_dtype = node.get("dtype")
        try:
            dtype = np.dtype(node_dtype)
        except TypeError:
            raise ValueError(f"malformed numpy dtype {str(node_dtype)[:40]!r}") from None
        if dtype.kind not in "biuf" or not isinstance(body, str) or body not in tensors:
            raise ValueError(f"malformed numpy array node {str(node)[:80]!r}")
        return tensors[body].cpu().numpy().astype(dtype)
    if kind == "Z":
        if not isinstance(body, list) or len(body) != 2:
            raise ValueError(f"malformed complex tensor node {str(node)[:80]!r}")
        re, im = (_decode(part, tensors, where) for part in body)
        if not (isinstance(re, Tensor) and isinstance(im, Tensor)) or re.shape != im.shape:
            raise ValueError(f"malformed complex tensor node {str(node)[:80]!r}")
        from . import _complex

        return _complex.complex(re, im)
    if kind == "v":
        if not isinstance(body, _SCALARS):
            raise ValueError(f"malformed value {str(body)[:80]!r}")
        return body
    if kind == "dt":
        if isinstance(body, str):
            body = body.removeprefix("torch.")  # as written by an older torchcompat save
        if not isinstance(body, str) or not isinstance(getattr(_rustdl, body, None), _rustdl.dtype):
            raise ValueError(f"malformed dtype {str(body)[:40]!r}")
        return getattr(_rustdl, body)
    if kind == "dv":
        if not isinstance(body, str):
            raise ValueError(f"malformed device {str(body)[:40]!r}")
        return _rustdl.device(body)
    if kind in ("l", "t"):
        if not isinstance(body, list):
            raise ValueError(f"malformed sequence {str(body)[:80]!r}")
        items = [_decode(v, tensors, where) for v in body]
        return tuple(items) if kind == "t" else items
    if kind in ("d", "od"):
        if not isinstance(body, list):
            raise ValueError(f"malformed dict {str(body)[:80]!r}")
        out = collections.OrderedDict() if kind == "od" else {}
        for pair in body:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or isinstance(pair[0], bool)
                or not isinstance(pair[0], (str, int))
            ):
                raise ValueError(f"malformed dict entry {str(pair)[:80]!r}")
            out[pair[0]] = _decode(pair[1], tensors, where)
        if "m" in node:
            out._metadata = _decode(node["m"], tensors, where)
        return out
    raise ValueError(f"unknown structure node kind {kind!r}")


class _ObjectPickler(pickle.Pickler):
    """Pickles an object with its tensors, dtypes and devices kept out of the pickle: tensors go
    into ``tensors`` (one entry per distinct tensor, so shared parameters stay shared)."""

    def __init__(self, file: BinaryIO, tensors: dict[str, Tensor]) -> None:
        super().__init__(file, protocol=4)
        self.tensors = tensors
        self.names: dict[int, str] = {}
        self.keep: list[Any] = []  # keeps ids unique while pickling

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Tensor):
            name = self.names.get(id(obj))
            if name is None:
                name = f"object/{len(self.names)}"
                self.names[id(obj)] = name
                self.keep.append(obj)
                self.tensors[name] = obj.detach()
            from . import _complex
            from .nn import Parameter

            kind = "complex" if type(obj) is _complex._ComplexStorage else isinstance(obj, Parameter)
            return ("tensor", name, kind, bool(obj.requires_grad), str(obj.device))
        if isinstance(obj, _rustdl.dtype):
            return ("dtype", str(obj).removeprefix("rustdl.").removeprefix("torch."))
        if isinstance(obj, _rustdl.device):
            return ("device", str(obj))
        return None


def _pickle_object(obj: Any, tensors: dict[str, Tensor]) -> bytes:
    buf = io.BytesIO()
    _ObjectPickler(buf, tensors).dump(obj)
    return buf.getvalue()


class _ObjectUnpickler(pickle.Unpickler):
    """Reverses :class:`_ObjectPickler` (only with ``weights_only=False``: it runs code named in
    the file, as ``pickle`` does)."""

    def __init__(self, file: BinaryIO, tensors: dict[str, Tensor], where: str, to_saved_device: bool) -> None:
        super().__init__(file)
        self.tensors = tensors
        self.where = where
        self.to_saved_device = to_saved_device
        self.done: dict[str, Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch", "Size") and _torch_facade() is None:
            return tuple  # a shape pickled under rustdl.torchcompat, read outside it
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0] if isinstance(pid, tuple) and pid else None
        if kind == "tensor" and len(pid) == 5 and pid[1] in self.tensors:
            _, name, is_param, requires_grad, saved = pid
            if name not in self.done:
                t = self.tensors[name]
                if self.to_saved_device and str(saved) != str(t.device):
                    # no map_location: each tensor goes back where it was saved, as torch.load
                    t = t.to(_saved_device(str(saved), self.where))
                if is_param == "complex":  # the real storage of a complex parameter
                    from . import _complex

                    t = _complex._ComplexStorage(t, bool(requires_grad))
                elif is_param:
                    from .nn import Parameter

                    t = Parameter(t, requires_grad=bool(requires_grad))
                elif requires_grad:
                    t = t.detach().requires_grad_(True)
                self.done[name] = t
            return self.done[name]
        name = str(pid[1]).removeprefix("torch.") if len(pid) == 2 else ""
        if kind == "dtype" and isinstance(getattr(_rustdl, name, None), _rustdl.dtype):
            return getattr(_rustdl, name)
        if kind == "device" and len(pid) == 2:
            return _rustdl.device(str(pid[1]))
        raise pickle.UnpicklingError(f"unknown persistent reference {str(pid)[:80]!r}")


def _is_path(f: Any) -> bool:
    return isinstance(f, (str, bytes, os.PathLike))


def _name_of(f: Any) -> str:
    """How error messages name ``f``: its path, or the file object's name or type."""
    if _is_path(f):
        return repr(os.fsdecode(f))
    name = getattr(f, "name", None)
    return repr(name) if isinstance(name, (str, bytes)) else f"<{type(f).__name__}>"


def save(obj: Any, f: FileLike) -> None:
    """Saves a dict of tensors (a ``state_dict``, an optimizer's too) as safetensors.

    Writing to a path is atomic: the data goes to a temp file of its own beside it
    (``.<name>.tmp-<pid>-...``), is fsynced, then renamed over it, so a crash leaves the previous
    file whole. Saves to one path are serialised by an advisory lock (``.<name>.lock``, removed
    again afterwards), so concurrent saves from threads or processes never fail or interleave: the
    last one wins. Temp files left by writers that were killed are removed by the next save to the
    path. A file object gets the bytes in one ``write`` at its current position.

    Plain data — tensors, numpy arrays, numbers, strings, bools and ``None`` nested in dicts,
    lists and tuples — is stored as safetensors plus a JSON description, readable by any
    safetensors reader and loaded without running code. Any other object (a whole module, an
    optimizer, a custom class) is pickled as ``torch.save`` does, its tensors stored beside the
    pickle; as with ``torch.load`` since PyTorch 2.6, loading it back needs
    ``weights_only=False``, because unpickling runs code named in the file.

    Args:
        obj: what to save, e.g.
            ``{"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict()}``, or a
            whole model.
        f: a path (``str`` or ``os.PathLike``) or a binary file object with ``write``
            (``io.BytesIO``, ``open(path, "wb")``).

    Raises:
        TypeError: ``obj`` is neither plain data nor picklable (a lambda, an open file), or
            ``f`` is neither a path nor a binary file.
        OSError: the file cannot be written.

    Example:
        >>> rustdl.save(model.state_dict(), "model.safetensors")
        >>> model.load_state_dict(rustdl.load("model.safetensors"))
    """
    if not _is_path(f) and not callable(getattr(f, "write", None)):
        raise TypeError(f"rustdl.save: f must be a path or a binary file object, got {type(f).__name__}")
    tensors: dict[str, Tensor] = {}
    try:
        tree = _encode(obj, "", tensors)
        info: dict[str, Any] = {"format": _FORMAT, "tree": tree}
        # where each GPU tensor was, so a load without map_location puts it back (as torch.load)
        devices = {name: str(t.device) for name, t in tensors.items() if t.device.type != "cpu"}
        if devices:
            info["devices"] = devices
    except TypeError as data_error:
        # not plain data (a whole module, an optimizer, another object): pickled as torch.save
        # does, the tensors beside the pickle; loading it needs weights_only=False
        tensors = {}
        try:
            payload = _pickle_object(obj, tensors)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            raise TypeError(f"{data_error}; and it cannot be pickled either: {e}") from None
        info = {
            "format": _FORMAT,
            "pickle": base64.b64encode(payload).decode("ascii"),
            "class": f"{type(obj).__module__}.{type(obj).__qualname__}",
        }
    try:
        meta = json.dumps(info, allow_nan=True)
    except (TypeError, ValueError) as e:  # pragma: no cover - _encode admits only JSON scalars
        raise TypeError(f"rustdl.save: cannot encode the structure: {e}") from None
    if _is_path(f):
        _rustdl.save_file(tensors, os.fspath(f), {_META_KEY: meta})
        return
    data = _rustdl.save_bytes(tensors, {_META_KEY: meta})
    try:
        f.write(data)
    except TypeError:
        raise TypeError(f"rustdl.save: {_name_of(f)} must be opened in binary mode ('wb')") from None
    flush = getattr(f, "flush", None)
    if callable(flush):
        flush()


def _restore_devices(tensors: dict, devices: dict, where: str) -> dict:
    """The tensors saved from a GPU moved back to it (a load without ``map_location``); without
    a GPU they stay on the CPU, with a warning."""
    from . import gpu

    if not gpu.is_available():
        warnings.warn(
            f"rustdl.load: {where} holds tensors saved on a GPU and no GPU is available: they are "
            "loaded on the CPU (pass map_location to choose)",
            UserWarning,
            stacklevel=4,
        )
        return tensors
    for name, dev in devices.items():
        if name in tensors and isinstance(dev, str):
            try:
                tensors[name] = tensors[name].to(dev)
            except (ValueError, RuntimeError):  # a device index this machine lacks: the first GPU
                tensors[name] = tensors[name].to("gpu")
    return tensors


def _load_safetensors(source: str | bytes, device: Any, where: str, weights_only: bool | None = None) -> Any:
    """Reads safetensors from a path or from the bytes of a file object; rustdl's metadata, when
    present, rebuilds the saved structure (a pickled object only with ``weights_only=False``)."""
    try:
        if isinstance(source, bytes):
            tensors, meta = _rustdl.load_bytes(source, device)
        else:
            tensors, meta = _rustdl.load_file(source, device)
    except ValueError as e:
        raise ValueError(f"rustdl.load: cannot read {where}: {e}") from None
    raw = meta.get(_META_KEY)
    if raw is None:
        return dict(tensors)
    try:
        info = json.loads(raw)
        if not isinstance(info, dict) or info.get("format") != _FORMAT:
            raise ValueError("unknown metadata format")
        if "pickle" in info:
            return _unpickle_object(info, dict(tensors), where, weights_only, device is None)
        if "tree" not in info:
            raise ValueError("unknown metadata format")
        if device is None and isinstance(info.get("devices"), dict):
            tensors = _restore_devices(dict(tensors), info["devices"], where)
        out = _decode(info["tree"], tensors, where)
    except RecursionError:
        raise ValueError(f"rustdl.load: corrupt metadata in {where}: structure nested too deeply") from None
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"rustdl.load: corrupt metadata in {where}: {e}") from None
    return out


# ---------------------------------------------------------------------------------------------
# safe globals: classes the user allows in a checkpoint read with weights_only (as torch.serialization)
# ---------------------------------------------------------------------------------------------

_SAFE_GLOBALS: dict[tuple[str, str], Any] = {}


def _safe_global_key(entry: Any) -> tuple[tuple[str, str], Any]:
    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], str):
        obj, dotted = entry
        module, _, name = dotted.rpartition(".")
        if not module:
            raise ValueError(f"add_safe_globals: {dotted!r} is not a 'module.name' string")
        return (module, name), obj
    module, name = getattr(entry, "__module__", None), getattr(entry, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        raise TypeError(
            f"add_safe_globals: expected classes or functions (or (obj, 'module.name') pairs), got {entry!r}"
        )
    return (module, name), entry


def add_safe_globals(safe_globals: list) -> None:
    """Allows these classes/functions in checkpoints loaded with ``weights_only`` (the default),
    as ``torch.serialization.add_safe_globals``: a pickled object (a config dataclass saved in a
    checkpoint dict) whose pickle names only allowed globals then loads without
    ``weights_only=False``. An entry may be ``(obj, "module.name")`` for an object pickled under
    another name."""
    if not isinstance(safe_globals, (list, tuple)):
        raise TypeError(f"add_safe_globals: expected a list, got {type(safe_globals).__name__}")
    keyed = [_safe_global_key(g) for g in safe_globals]
    _SAFE_GLOBALS.update(keyed)


def get_safe_globals() -> list:
    """The objects :func:`add_safe_globals` allowed."""
    return list(_SAFE_GLOBALS.values())


def clear_safe_globals() -> None:
    """Forgets every global :func:`add_safe_globals` allowed."""
    _SAFE_GLOBALS.clear()


class safe_globals:  # noqa: N801  (PyTorch's name)
    """Context manager: :func:`add_safe_globals` for the block, undone on exit."""

    def __init__(self, safe_globals: list) -> None:
        self._entries = [_safe_global_key(g) for g in safe_globals]
        self._saved: dict[tuple[str, str], Any] = {}

    def __enter__(self) -> safe_globals:
        self._saved = dict(_SAFE_GLOBALS)
        _SAFE_GLOBALS.update(self._entries)
        return self

    def __exit__(self, *exc: Any) -> None:
        _SAFE_GLOBALS.clear()
        _SAFE_GLOBALS.update(self._saved)


class _WeightsOnlyUnpickler(_ObjectUnpickler):
    """:class:`_ObjectUnpickler` for ``weights_only`` loads: only the user's safe globals (and
    plain containers) may be named; anything else is refused before it runs."""

    _PLAIN: ClassVar[dict[tuple[str, str], Any]] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "slice"): slice,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): bytearray,
    }

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[key]
        if key in self._PLAIN:
            return self._PLAIN[key]
        raise pickle.UnpicklingError(
            f"rustdl.load: {self.where} holds a pickled object naming {module}.{name}, which is not an "
            f"allowed global with weights_only=True. If you trust it, allow it with "
            f"rustdl.serialization.add_safe_globals([{name}]) (torch.serialization.add_safe_globals), "
            "or load the file with weights_only=False"
        )


def _unpickle_object(
    info: dict, tensors: dict[str, Tensor], where: str, weights_only: bool | None, to_saved_device: bool
) -> Any:
    what = str(info.get("class", "object"))[:200]
    if weights_only is not False and not _SAFE_GLOBALS:
        raise pickle.UnpicklingError(
            f"rustdl.load: {where} holds a pickled {what} (saved whole, not as a state_dict); "
            "unpickling it runs code named in the file, so it needs weights_only=False — pass it only "
            "for a file from a source you trust (as torch.load since PyTorch 2.6), or allow its classes "
            "with rustdl.serialization.add_safe_globals"
        )
    payload = info["pickle"]
    if not isinstance(payload, str):
        raise ValueError("malformed pickle payload")
    try:
        data = base64.b64decode(payload.encode("ascii"), validate=True)
    except (ValueError, UnicodeError):
        raise ValueError("malformed pickle payload") from None
    unpickler = _ObjectUnpickler if weights_only is False else _WeightsOnlyUnpickler
    return unpickler(io.BytesIO(data), tensors, where, to_saved_device).load()


# ---------------------------------------------------------------------------------------------
# map_location: where each tensor goes
# ---------------------------------------------------------------------------------------------


def _gpu_index(location: str) -> int | None:
    """The GPU index a PyTorch location tag (``cuda``, ``cuda:1``, ``mps``, ``gpu:0``) names, else None."""
    for prefix in ("cuda", "gpu", "mps", "xpu", "vulkan", "wgpu"):
        if location == prefix:
            return 0
        if location.startswith(prefix + ":") and location[len(prefix) + 1 :].isdigit():
            return int(location[len(prefix) + 1 :])
    return None


def _as_device(target: Any) -> _rustdl.device:
    """A rustdl device from a device, a string (``cuda:0`` means ``gpu:0``) or a ``torch.device``."""
    if isinstance(target, _rustdl.device):
        return target
    if not isinstance(target, str) and hasattr(target, "type"):
        target = str(target)  # a torch.device
    if not isinstance(target, str):
        raise TypeError(f"rustdl.load: map_location gave {target!r}, not a device or device string")
    target = target.strip()
    index = _gpu_index(target)
    if target.startswith("cuda") and index is not None and _rustdl.device(target).type == "cpu":
        # "cuda" means the CPU here (torch.cuda.is_available() is False): refused, as PyTorch does
        raise RuntimeError(
            "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. "
            "If you are running on a CPU-only machine, please use torch.load with "
            "map_location=torch.device('cpu') to map your storages to the CPU."
        )
    return _rustdl.device(target if index is None else f"gpu:{index}")


def _saved_device(location: str, where: str) -> _rustdl.device:
    """Where a tensor saved at ``location`` goes when no map_location is given, as PyTorch does."""
    if location == "cpu":
        return _rustdl.device("cpu")
    index = _gpu_index(location)
    if index is None:
        raise ValueError(
            f"rustdl.load: {where} holds tensors on an unknown device {location!r}; pass map_location"
        )
    from . import gpu

    if location.startswith("cuda") and _rustdl.device(location).type == "cpu":
        # "cuda" means the CPU here (torch.cuda.is_available() is False): refused, as PyTorch does
        raise RuntimeError(
            "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. "
            "If you are running on a CPU-only machine, please use torch.load with "
            "map_location=torch.device('cpu') to map your storages to the CPU."
        )
    if not gpu.is_available():
        raise RuntimeError(
            f"rustdl.load: {where} holds tensors saved on {location!r} and no GPU is available; "
            "pass map_location='cpu' to load them on the CPU"
        )
    return _rustdl.device(f"gpu:{index}")


class _StorageRef:
    """What a ``map_location`` callable receives as ``storage``: ``.cpu()``, ``.cuda(i)`` and ``.to(d)``
    return a ref that says where the tensors of that storage go."""

    __slots__ = ("location", "target")

    def __init__(self, location: str, target: Any = "cpu") -> None:
        self.location = location
        self.target = target

    def cpu(self) -> _StorageRef:
        return _StorageRef(self.location, "cpu")

    def cuda(self, device: Any = None, non_blocking: bool = False) -> _StorageRef:
        if device is None:
            return _StorageRef(self.location, "gpu")
        return _StorageRef(self.location, f"gpu:{device}" if isinstance(device, int) else device)

    def to(self, device: Any, *args: Any, **kwargs: Any) -> _StorageRef:
        return _StorageRef(self.location, device)

    @property
    def device(self) -> str:
        return str(self.target)


def _target_device(map_location: MapLocation, location: str, where: str) -> _rustdl.device:
    """Applies ``map_location`` as ``torch.load`` does to a storage saved at ``location``."""
    if map_location is None:
        return _saved_device(location, where)
    if isinstance(map_location, dict):
        mapped = map_location.get(location, location)
        return _saved_device(mapped, where) if isinstance(mapped, str) else _as_device(mapped)
    if isinstance(map_location, (str, _rustdl.device)):
        return _as_device(map_location)
    if callable(map_location):
        result = map_location(_StorageRef(location), location)
        if result is None:
            return _saved_device(location, where)
        if isinstance(result, _StorageRef):
            return _as_device(result.target)
        return _as_device(result)
    return _as_device(map_location)  # a torch.device, or a TypeError


# ---------------------------------------------------------------------------------------------
# PyTorch checkpoints: a restricted unpickler that builds tensors and plain containers only
# ---------------------------------------------------------------------------------------------

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
# storage class -> (numpy dtype of the bytes in the file, little-endian)
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",  # numpy has no bfloat16: the top half of a float32
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "UntypedStorage": "u1",
}


class _RefusedPickle(pickle.UnpicklingError, ValueError):
    """The checkpoint's pickle asks for something that is not a tensor or a plain container."""


class _Guarded:
    """Base of the stand-ins the unpickler hands out: a pickle cannot set their attributes."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise _RefusedPickle(f"the pickle tries to set the state of a {type(self).__name__}")

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class _StorageType(_Guarded):
    """Stands for ``torch.FloatStorage`` and friends: names the dtype of a storage."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage(_Guarded):
    """One storage of the file: its element type, size, saved location and (once read) data."""

    __slots__ = ("key", "stype", "location", "numel", "data", "users", "flat")

    def __init__(self, key: str, stype: _StorageType, location: str, numel: int) -> None:
        self.key, self.stype, self.location, self.numel = key, stype, location, numel
        self.data: np.ndarray | None = None
        self.users = 0  # tensors of the file over this storage
        self.flat: dict = {}  # device -> the storage as one rustdl tensor (when shared)


class _PendingTensor(_Guarded):
    """A tensor to build once its storage is read: ``storage[offset]`` viewed with ``size``/``stride``."""

    __slots__ = ("storage", "offset", "size", "stride", "requires_grad", "parameter")

    def __init__(
        self, storage: _Storage, offset: int, size: tuple, stride: tuple, requires_grad: bool
    ) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.requires_grad = requires_grad
        self.parameter = False


class _Marker(_Guarded):
    """Stands for a class that only serves as a tag (``torch.Tensor``, ``nn.Parameter``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Callable(_Guarded):
    """A whitelisted callable as the pickle sees it (``torch._utils._rebuild_tensor_v2``, ...)."""

    __slots__ = ("name", "fn")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name, self.fn = name, fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


class _PlainOrderedDict(collections.OrderedDict):
    """What ``collections.OrderedDict`` means in a checkpoint; only ``_metadata`` may be set on it."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict) and set(state) <= {"_metadata"}:
            self.__dict__.update(state)
            return
        raise _RefusedPickle("the pickle tries to set attributes other than _metadata on an OrderedDict")


def _counter(*args: Any) -> collections.Counter:
    """``collections.Counter(mapping)``, as pickled in a ``MultiStepLR`` state_dict's ``milestones``
    (PyTorch's ``weights_only`` loader allows it too); only a dict of counts is accepted."""
    if len(args) > 1 or (args and not isinstance(args[0], dict)):
        raise _RefusedPickle("collections.Counter is allowed only to rebuild a dict of counts")
    if args and not all(isinstance(v, (int, float)) for v in args[0].values()):
        raise _RefusedPickle("collections.Counter is allowed only to rebuild a dict of counts")
    return collections.Counter(*args)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_ints(x: Any, what: str) -> tuple:
    if not isinstance(x, (tuple, list)) or not all(_is_int(v) for v in x):
        raise ValueError(f"{what} must be a tuple of ints, got {str(x)[:80]}")
    return tuple(x)


def _rebuild_tensor(
    storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False, *_: Any
) -> _PendingTensor:
    """``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, ...)``."""
    if not isinstance(storage, _Storage):
        raise ValueError(f"a tensor's storage is a {type(storage).__name__}, not a storage")
    size = _check_ints(size, "size")
    stride = _check_ints(stride, "stride")
    if not _is_int(offset) or offset < 0 or len(size) != len(stride):
        raise ValueError(f"bad tensor layout: offset {offset!r}, size {size}, stride {stride}")
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ValueError(f"bad tensor layout: size {size}, stride {stride}")
    numel = int(np.prod(size, dtype=object))
    if numel:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.numel:
            raise ValueError(
                f"a tensor of size {size}, stride {stride} at offset {offset} reads past its storage "
                f"of {storage.numel} elements"
            )
        if numel > max(1 << 24, 16 * storage.numel):
            raise ValueError(
                f"a tensor of size {size} expands its storage of {storage.numel} elements implausibly"
            )
    storage.users += 1
    return _PendingTensor(storage, offset, size, stride, bool(requires_grad))


def _rebuild_parameter(data: Any, requires_grad: Any, *_: Any) -> Any:
    """``torch._utils._rebuild_parameter(data, requires_grad, hooks[, state])``."""
    if isinstance(data, Tensor):  # a load with weights_only=False, whose tensors are built at once
        from .nn import Parameter

        return Parameter(data.detach(), requires_grad=bool(requires_grad) and data.is_floating_point())
    if not isinstance(data, _PendingTensor):
        raise ValueError(f"a parameter's data is a {type(data).__name__}, not a tensor")
    data.parameter = True
    data.requires_grad = bool(requires_grad)
    return data


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    """``torch._tensor._rebuild_from_type_v2``: a tensor made an instance of ``new_type`` with its
    attributes set (a Tensor subclass, with ``weights_only=False``); with ``weights_only`` a
    tensor or parameter, its Python attributes dropped."""
    if isinstance(new_type, type) and issubclass(new_type, Tensor) and isinstance(func, _Callable):
        out = func(*args)  # a trusted load: the class was imported, the tensor is built
        if isinstance(out, Tensor):
            return _as_saved_subclass(out, new_type, state)
    if not isinstance(func, _Callable) or not isinstance(new_type, _Marker) or not isinstance(args, tuple):
        raise _RefusedPickle("_rebuild_from_type_v2 with arguments that are not a tensor rebuild")
    out = func(*args)
    if isinstance(out, Tensor):  # weights_only=False: built already
        if new_type.name == "Parameter" and not isinstance(out, _parameter_type()):
            out = _parameter_type()(out.detach(), requires_grad=out.requires_grad)
        return out
    if not isinstance(out, _PendingTensor):
        raise ValueError("_rebuild_from_type_v2 did not rebuild a tensor")
    if new_type.name == "Parameter":
        out.parameter = True
    return out


def _as_saved_subclass(t: Tensor, cls: type, state: Any) -> Any:
    """``t`` as an instance of ``cls`` with the attributes ``state`` (a ``__dict__``, or PyTorch's
    ``(__dict__, slots)`` pair) set, as PyTorch's ``_rebuild_from_type_v2`` makes it."""
    from ._tensor_api import _rewrap

    if type(t) is not cls and cls is not Tensor:
        t = _rewrap(t, cls)
    setstate = getattr(type(t), "__setstate__", None)
    if state is not None and setstate is not None and setstate is not getattr(Tensor, "__setstate__", None):
        t.__setstate__(state)
        return t
    attrs, slots = state if isinstance(state, tuple) and len(state) == 2 else (state, None)
    for mapping in (attrs, slots):
        if isinstance(mapping, dict):
            for k, v in mapping.items():
                setattr(t, k, v)
    return t


def _parameter_type() -> type:
    from .nn import Parameter

    return Parameter


def _built(t: Any, device_of: Callable[[_Storage], _rustdl.device]) -> Any:
    """A pending tensor of a ``weights_only=False`` load as a rustdl tensor, now (its storage has
    been read): objects that compute with their tensors as they are unpickled see real ones."""
    if not isinstance(t, _PendingTensor):
        return t
    return _to_rustdl(t, device_of(t.storage), eager=True)


def _torch_device(kind: Any, index: Any = None) -> Any:
    """``torch.device(...)`` in a checkpoint becomes a device (its string where rustdl has no
    such device, e.g. ``'mps'``)."""
    if not isinstance(kind, str) or not (index is None or _is_int(index)):
        raise ValueError(f"bad torch.device({kind!r}, {index!r})")
    spec = kind if index is None else f"{kind}:{index}"
    try:
        return _rustdl.device(spec)
    except (ValueError, TypeError):
        return spec


def _latin1_bytes(text: Any, encoding: Any = "latin1") -> bytes:
    """``_codecs.encode``, which protocol-2 pickles use for ``bytes``; only latin-1 is allowed."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _RefusedPickle("_codecs.encode is allowed only to rebuild bytes from latin-1")
    return text.encode("latin1")


def _torch_facade() -> Any:
    """The ``torch`` module when it is rustdl's (a program run under :mod:`rustdl.torchcompat`)."""
    import sys

    facade = sys.modules.get("torch")
    if facade is None or getattr(facade, "__file__", None) != _rustdl_file():
        return None
    return facade


def _rustdl_file() -> str | None:
    return getattr(importlib.import_module("rustdl"), "__file__", None)


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles a PyTorch checkpoint's pickle, allowing only the names that rebuild tensors and
    plain containers; every other global raises :class:`pickle.UnpicklingError` before anything runs."""

    _CALLABLES: ClassVar[dict[tuple[str, str], Callable[..., Any]]] = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch", "device"): _torch_device,
        ("_codecs", "encode"): _latin1_bytes,
        ("collections", "Counter"): _counter,
    }
    _TYPES: ClassVar[dict[tuple[str, str], type]] = {
        ("collections", "OrderedDict"): _PlainOrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("__builtin__", "set"): set,
        ("__builtin__", "frozenset"): frozenset,
        ("torch", "Size"): tuple,
    }
    _MARKERS: ClassVar[dict[tuple[str, str], str]] = {
        ("torch", "Tensor"): "Tensor",
        ("torch.nn.parameter", "Parameter"): "Parameter",
    }

    def __init__(
        self,
        file: BinaryIO,
        where: str,
        storage: Callable[[str, _StorageType, str, int, Any], _Storage],
        trusted: bool = False,
        device_of: Callable[[_Storage], _rustdl.device] | None = None,
    ):
        super().__init__(file, encoding="utf-8")
        self._where = where
        self._storage = storage
        self._storages: dict[str, _Storage] = {}
        # weights_only=False: any class is imported, as pickle does
        self._trusted = trusted
        # and where the storages are read as they come (the zip format), the device each goes to:
        # tensors are then built at once, so objects unpickled after them see real tensors
        self._device_of = device_of

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if self._trusted:
            found = self._find_trusted(module, name)
            if found is not None:
                return found
        if key == ("torch", "Size"):
            facade = _torch_facade()
            return tuple if facade is None else facade.Size  # torch.Size under rustdl.torchcompat
        if key in self._TYPES:
            return self._TYPES[key]
        if key in self._CALLABLES:
            return _Callable(f"{module}.{name}", self._CALLABLES[key])
        if key in self._MARKERS:
            return _Marker(self._MARKERS[key])
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and isinstance(getattr(_rustdl, name, None), _rustdl.dtype):
            return getattr(_rustdl, name)  # a dtype value (torch.int64 pickles as a global)
        if key in _SAFE_GLOBALS:  # allowed by the user (torch.serialization.add_safe_globals)
            return _SAFE_GLOBALS[key]
        if module == "torch" and name.endswith("Storage"):
            raise _RefusedPickle(
                f"rustdl.load: {self._where} holds a torch.{name}, a dtype rustdl cannot read"
            )
        raise _RefusedPickle(
            f"rustdl.load: refusing to load {self._where} with weights_only=True (the default): its pickle "
            f"refers to {module}.{name}, which is not a tensor or a plain container. Unpickling it runs "
            "code named in the file: if you trust the file, load it with weights_only=False, or allow "
            "the class with torch.serialization.add_safe_globals([...])"
        )

    def _find_trusted(self, module: str, name: str) -> Any:
        """A global of a ``weights_only=False`` load: the tensor rebuilds make rustdl tensors at
        once, PyTorch's names go through the ``torch`` that is imported (rustdl's under
        :mod:`rustdl.torchcompat`), anything else is imported as ``pickle`` does."""
        key = (module, name)
        device_of = self._device_of
        if key in self._CALLABLES:
            fn = self._CALLABLES[key]
            if fn in (_rebuild_tensor, _rebuild_parameter, _rebuild_from_type_v2):
                if device_of is None:
                    return None
                return _Callable(f"{module}.{name}", lambda *a: _built(fn(*a), device_of))
            if module == "torch" or module.startswith("torch."):
                return None
        elif key in self._MARKERS or module == "torch" and (name in _STORAGE_DTYPES or name == "Size"):
            return None
        elif module == "torch" and isinstance(getattr(_rustdl, name, None), _rustdl.dtype):
            return None
        elif module == "torch" or module.startswith("torch."):
            if _torch_facade() is None:
                raise _RefusedPickle(
                    f"rustdl.load: {self._where} refers to {module}.{name}; PyTorch's classes resolve "
                    "to rustdl's only when the program runs under `python -m rustdl.torchcompat`"
                )
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError) as e:
            raise pickle.UnpicklingError(
                f"rustdl.load: {self._where} refers to {module}.{name}, which cannot be imported: {e}"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise _RefusedPickle(f"rustdl.load: {self._where} has an unknown persistent id {str(pid)[:80]}")
        _, stype, key, location, numel = pid[:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(stype, _StorageType) or not isinstance(key, str) or not isinstance(location, str):
            raise ValueError(f"malformed storage reference {str(pid)[:120]}")
        if not _is_int(numel) or numel < 0:
            raise ValueError(f"storage {key!r} has a bad size {numel!r}")
        storage = self._storages.get(key)
        if storage is None:
            storage = self._storage(key, stype, location, numel, view)
            self._storages[key] = storage
        elif storage.stype.dtype != stype.dtype or storage.numel != numel:
            raise ValueError(f"storage {key!r} is referred to with two different types or sizes")
        return storage


def _array_from(raw: bytes, stype: _StorageType, big_endian: bool = False) -> np.ndarray:
    """The elements of a storage as a native-order numpy array."""
    dtype = stype.dtype.newbyteorder(">") if big_endian and stype.dtype.itemsize > 1 else stype.dtype
    return np.frombuffer(raw, dtype=dtype).astype(stype.dtype.newbyteorder("="), copy=False)


def _readable(arr: np.ndarray, stype: _StorageType) -> np.ndarray:
    """A storage's elements in a dtype rustdl reads: float16/bfloat16 as float32, unsigned ints
    wider than a byte as int64."""
    if stype.name == "BFloat16Storage":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    if arr.dtype.kind in "iu" and arr.dtype not in (np.uint8, np.int8, np.int16, np.int32):
        return arr.astype(np.int64)  # uint8, int8/16/32 keep their dtype
    return arr


def _to_rustdl(t: _PendingTensor, device: _rustdl.device, eager: bool = False) -> Tensor:
    """Builds a rustdl tensor from a pending one: float16/bfloat16 become float32, unsigned ints
    wider than a byte int64. ``eager``: built as it is unpickled, before the other users of its
    storage are known; a later tensor over the same storage is a view of the first one's memory."""
    st = t.storage
    if st.data is None:
        raise ValueError(f"storage {st.key!r} was never read")
    numel = int(np.prod(t.size, dtype=object))
    if eager and numel:
        key = str(device)
        flat = st.flat.get(key)
        if flat is None and t.offset == 0 and numel == st.numel and t.stride == _contiguous(t.size):
            # the first tensor over the whole storage is a tensor of its own, and the storage a
            # flat view of it (for any later tensor sharing it)
            out = _rustdl.from_numpy(np.array(_readable(st.data, st.stype), order="C")).reshape(t.size)
            out = out.clone() if out._is_view() else out
            if device.type != "cpu":
                out = out.to(device)
            st.flat[key] = out.view(-1)
            return _finish_tensor(out, t)
        if flat is None:
            flat = _rustdl.from_numpy(np.array(_readable(st.data, st.stype), order="C"))
            if device.type != "cpu":
                flat = flat.to(device)
            st.flat[key] = flat
        return _finish_tensor(flat.as_strided(t.size, t.stride, t.offset), t)
    if numel and st.users > 1:
        # several tensors of the file over one storage (views, tied weights): views of one
        # tensor over the whole storage, so they share memory as PyTorch's loaded tensors do
        key = str(device)
        flat = st.flat.get(key)
        if flat is None:
            flat = _rustdl.from_numpy(np.array(_readable(st.data, st.stype), order="C"))
            if device.type != "cpu":
                flat = flat.to(device)
            st.flat[key] = flat
        out = flat.as_strided(t.size, t.stride, t.offset)
    else:
        if numel == 0:
            arr = np.zeros(t.size, dtype=st.data.dtype)
        else:
            item = st.data.dtype.itemsize
            arr = np.lib.stride_tricks.as_strided(
                st.data[t.offset :], shape=t.size, strides=[s * item for s in t.stride], writeable=False
            )
        out = _rustdl.from_numpy(np.array(_readable(arr, st.stype), order="C"))  # a copy; keeps 0-d shapes
        if device.type != "cpu":
            out = out.to(device)
    return _finish_tensor(out, t)


def _contiguous(size: tuple) -> tuple:
    strides, step = [], 1
    for n in reversed(size):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _finish_tensor(out: Tensor, t: _PendingTensor) -> Tensor:
    """``out`` as the parameter, or the tensor requiring grad, that ``t`` was saved as."""
    grad = t.requires_grad and out.is_floating_point()
    if t.parameter:
        from .nn import Parameter

        return Parameter(out, requires_grad=grad)
    if grad:
        out.requires_grad_(True)
    return out


_LEAVES = (type(None), bool, int, float, complex, str, bytes, _rustdl.dtype, _rustdl.device)


def _materialize(obj: Any, device_of: Callable[[_Storage], _rustdl.device], memo: dict[int, Any]) -> Any:
    """Replaces pending tensors by rustdl tensors and stand-in containers by plain ones."""
    if isinstance(obj, _LEAVES):
        return obj
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, _PendingTensor):
        out: Any = _to_rustdl(obj, device_of(obj.storage))
    elif isinstance(obj, dict):
        if isinstance(obj, collections.Counter):
            out = collections.Counter()
        else:
            out = collections.OrderedDict() if isinstance(obj, collections.OrderedDict) else {}
        memo[id(obj)] = out
        for k, v in obj.items():
            out[_materialize(k, device_of, memo)] = _materialize(v, device_of, memo)
        if "_metadata" in getattr(obj, "__dict__", {}):
            out._metadata = _materialize(obj.__dict__["_metadata"], device_of, memo)
    elif isinstance(obj, list):
        out = []
        memo[id(obj)] = out
        out.extend(_materialize(v, device_of, memo) for v in obj)
    elif isinstance(obj, tuple) and type(obj).__name__ == "Size" and all(_is_int(n) for n in obj):
        return obj  # torch.Size under rustdl.torchcompat
    elif type(obj) in (tuple, set, frozenset):
        out = type(obj)(_materialize(v, device_of, memo) for v in obj)
    elif isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
        # a namedtuple the user allowed: rebuilt from its materialised fields
        out = type(obj)(*(_materialize(v, device_of, memo) for v in obj))
    elif isinstance(obj, tuple(g for g in _SAFE_GLOBALS.values() if isinstance(g, type))):
        # an instance of a class the user allowed (add_safe_globals): its attributes are materialised
        out = obj
        memo[id(obj)] = out
        attrs = getattr(obj, "__dict__", None)
        if isinstance(attrs, dict):
            for k, v in list(attrs.items()):
                attrs[k] = _materialize(v, device_of, memo)
    elif isinstance(obj, type) and obj in set(_SAFE_GLOBALS.values()):
        return obj  # a class the user allowed, pickled as itself (not an instance of it)
    else:
        raise _RefusedPickle(f"the checkpoint holds a {type(obj).__name__}, which rustdl does not load")
    memo[id(obj)] = out
    return out


def _materialize_trusted(
    obj: Any, device_of: Callable[[_Storage], _rustdl.device], memo: dict[int, Any]
) -> Any:
    """:func:`_materialize` for a ``weights_only=False`` load of the legacy format (its storages
    come after the pickle): pending tensors are replaced where they lie — in dicts, lists and the
    attributes of objects, which keep their own types and identities — and tuples are rebuilt."""
    if isinstance(obj, _PendingTensor):
        if id(obj) not in memo:
            memo[id(obj)] = _to_rustdl(obj, device_of(obj.storage))
        return memo[id(obj)]
    if isinstance(obj, (*_LEAVES, Tensor, type)) or id(obj) in memo:
        return memo.get(id(obj), obj)
    memo[id(obj)] = obj
    if isinstance(obj, dict):
        for k, v in list(obj.items()):
            obj[k] = _materialize_trusted(v, device_of, memo)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            obj[i] = _materialize_trusted(v, device_of, memo)
    elif type(obj) is tuple or isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
        items = [_materialize_trusted(v, device_of, memo) for v in obj]
        memo[id(obj)] = out = type(obj)(items) if type(obj) is tuple else type(obj)(*items)
        return out
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        for k, v in list(attrs.items()):
            attrs[k] = _materialize_trusted(v, device_of, memo)
    return obj


def _unpickle(unpickler: _TorchUnpickler, where: str) -> Any:
    """Runs ``unpickler``; anything but a refusal becomes a ``ValueError`` naming the file."""
    try:
        return unpickler.load()
    except _RefusedPickle as e:
        if str(e).startswith("rustdl.load"):
            raise
        raise _RefusedPickle(f"rustdl.load: refusing to load {where}: {e}") from None
    except ValueError as e:
        if str(e).startswith("rustdl.load"):
            raise
        raise ValueError(f"rustdl.load: {where} is not a valid PyTorch checkpoint: {e}") from None
    except Exception as e:  # EOFError, UnpicklingError, TypeError from bad opcodes, RecursionError...
        raise ValueError(
            f"rustdl.load: {where} is not a valid PyTorch checkpoint: {type(e).__name__}: {e}"
        ) from None


def _first_zip_end(data: bytes) -> int:
    """Where the first zip archive in ``data`` ends: after the first end-of-central-directory
    record whose directory lies just before it (a signature inside stored tensor bytes does not
    pass that check); ``len(data)`` when none does."""
    at = data.find(b"PK\x05\x06")
    while at >= 0 and at + 22 <= len(data):
        size, offset, comment = struct.unpack_from("<IIH", data, at + 12)
        zip64 = at >= 20 and data[at - 20 : at - 16] == b"PK\x06\x07"
        if offset + size == at or (zip64 and _zip64_directory_ends(data, at - 20)):
            return min(len(data), at + 22 + comment)
        at = data.find(b"PK\x05\x06", at + 1)
    return len(data)


def _safetensors_extent(data: bytes) -> int | None:
    """How many bytes the safetensors file at the start of ``data`` takes (its header's length,
    the header, and the furthest data offset it names; ``data`` needs only hold the header);
    None when the header does not parse (the load reports that)."""
    try:
        (n,) = struct.unpack_from("<Q", data, 0)
        header = json.loads(data[8 : 8 + n])
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (struct.error, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    return 8 + n + max(ends, default=0)


def _safetensors_end(data: bytes) -> int:
    """Where the safetensors file at the start of ``data`` ends (``len(data)`` at most)."""
    extent = _safetensors_extent(data)
    return len(data) if extent is None else min(len(data), extent)


def _first_safetensors(path: str) -> bytes | None:
    """The bytes of the first of several safetensors saves in the file ``path``; None when the
    file holds one (or its header does not parse: the load reports that)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return None
        (n,) = struct.unpack("<Q", head)
        size = os.fstat(fh.fileno()).st_size
        if n > size:
            return None
        end = _safetensors_extent(head + fh.read(n))
        if end is None or end >= size:
            return None
        fh.seek(0)
        return fh.read(end)


def _zip_after_others(path: str) -> bool:
    """True when the zip archive that ends the file ``path`` starts after other bytes (earlier
    saves): its first entry is not at the file's start."""
    try:
        with zipfile.ZipFile(path) as zf:
            return min((i.header_offset for i in zf.infolist()), default=0) > 0
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False  # the load itself reports what is wrong


def _zip64_directory_ends(data: bytes, locator: int) -> bool:
    """True when the zip64 locator at ``locator`` names a zip64 end record just before it whose
    central directory ends at that record."""
    (record,) = struct.unpack_from("<Q", data, locator + 8)
    if record + 56 > locator or data[record : record + 4] != b"PK\x06\x06":
        return False
    size, offset = struct.unpack_from("<QQ", data, record + 40)
    return offset + size == record


def _load_torch_zip(file: Any, where: str, map_location: MapLocation, trusted: bool = False) -> Any:
    """Reads the zip format of ``torch.save``: ``<prefix>/data.pkl`` and ``<prefix>/data/<key>``."""
    try:
        zf = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ValueError(f"rustdl.load: {where} is not a valid zip archive: {e}") from None
    with zf:
        names = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
        if not names:
            raise ValueError(
                f"rustdl.load: {where} is a zip archive without data.pkl, not a PyTorch checkpoint"
            )
        prefix = min(names, key=len)[: -len("data.pkl")]

        def read(name: str, limit: int | None = None, size: int | None = None) -> bytes:
            try:
                info = zf.getinfo(prefix + name)
                if size is not None and info.file_size != size:
                    raise ValueError(f"{info.file_size} bytes where {size} were expected")
                if limit is not None and info.file_size > limit:
                    raise ValueError(f"{info.file_size} bytes is too large")
                return zf.read(info)
            except KeyError:
                raise ValueError(f"rustdl.load: {where} has no entry {prefix + name!r}") from None
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as e:
                raise ValueError(f"rustdl.load: cannot read {prefix + name!r} from {where}: {e}") from None

        byteorder = b"little"
        if prefix + "byteorder" in zf.namelist():
            byteorder = read("byteorder", limit=16).strip()
            if byteorder not in (b"little", b"big"):
                raise ValueError(f"rustdl.load: {where} has an unknown byte order {byteorder[:16]!r}")

        def storage(key: str, stype: _StorageType, location: str, numel: int, view: Any) -> _Storage:
            st = _Storage(key, stype, location, numel)
            raw = read(f"data/{key}", size=numel * stype.dtype.itemsize)
            st.data = _array_from(raw, stype, big_endian=byteorder == b"big")
            return st

        pkl = read("data.pkl", limit=1 << 30)
        if trusted:
            device_of = _device_chooser(map_location, where)
            unpickler = _TorchUnpickler(io.BytesIO(pkl), where, storage, True, device_of)
            return _unpickle(unpickler, where)  # its tensors are built already
        obj = _unpickle(_TorchUnpickler(io.BytesIO(pkl), where, storage), where)
    return _finish(obj, where, map_location)


def _load_torch_legacy(file: BinaryIO, where: str, map_location: MapLocation, trusted: bool = False) -> Any:
    """Reads the format of ``torch.save`` before 1.6: magic, version and system pickles, the object,
    the list of storage keys, then each storage as its element count (int64) and raw bytes."""
    storages: dict[str, _Storage] = {}

    def storage(key: str, stype: _StorageType, location: str, numel: int, view: Any) -> _Storage:
        if view is not None:
            raise ValueError(f"rustdl.load: {where} uses storage views, which rustdl does not read")
        st = _Storage(key, stype, location, numel)
        storages[key] = st
        return st

    def no_storage(*args: Any) -> _Storage:
        raise ValueError("a storage outside the checkpoint's object")

    for expected in (_LEGACY_MAGIC, _LEGACY_PROTOCOL, dict):
        value = _unpickle(_TorchUnpickler(file, where, no_storage), where)
        if not (isinstance(value, expected) if expected is dict else value == expected):
            raise ValueError(
                f"rustdl.load: {where} is a pickle but not a PyTorch checkpoint "
                "(no torch magic number, protocol 1001 and system info at its start)"
            )
    obj = _unpickle(_TorchUnpickler(file, where, storage, trusted), where)
    keys = _unpickle(_TorchUnpickler(file, where, no_storage), where)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"rustdl.load: {where} has a malformed storage key list")
    for key in keys:
        st = storages.get(key)
        if st is None:
            raise ValueError(f"rustdl.load: {where} lists a storage {key!r} that no tensor uses")
        head = file.read(8)
        if len(head) != 8:
            raise ValueError(f"rustdl.load: {where} is truncated (storage {key!r})")
        (numel,) = struct.unpack("<q", head)
        if numel != st.numel:
            raise ValueError(
                f"rustdl.load: {where}: storage {key!r} has {numel} elements, expected {st.numel}"
            )
        nbytes = numel * st.stype.dtype.itemsize
        raw = file.read(nbytes)
        if len(raw) != nbytes:
            raise ValueError(f"rustdl.load: {where} is truncated (storage {key!r})")
        st.data = _array_from(raw, st.stype)
    return _finish(obj, where, map_location, trusted)


def _device_chooser(map_location: MapLocation, where: str) -> Callable[[_Storage], _rustdl.device]:
    """The device each storage goes to, as ``map_location`` picks (asked once per storage)."""
    devices: dict[int, _rustdl.device] = {}

    def device_of(st: _Storage) -> _rustdl.device:
        if id(st) not in devices:
            devices[id(st)] = _target_device(map_location, st.location, where)
        return devices[id(st)]

    return device_of


def _finish(obj: Any, where: str, map_location: MapLocation, trusted: bool = False) -> Any:
    """Turns the unpickled object into rustdl tensors on the devices ``map_location`` picks."""
    device_of = _device_chooser(map_location, where)
    try:
        if trusted:
            return _materialize_trusted(obj, device_of, {})
        return _materialize(obj, device_of, {})
    except RecursionError:
        raise ValueError(f"rustdl.load: {where} is nested too deeply") from None
    except ValueError as e:
        if str(e).startswith("rustdl.load"):
            raise
        raise ValueError(f"rustdl.load: {where}: {e}") from None


# ---------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------


def _sniff(head: bytes) -> str:
    """``'zip'``, ``'legacy'`` or ``'safetensors'`` from a file's first bytes."""
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[8:9] == b"{":  # a safetensors header is JSON after its 8-byte length
        return "safetensors"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "legacy"
    return "safetensors"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in ("1", "y", "yes", "true")


def load(
    f: FileLike,
    map_location: MapLocation = None,
    pickle_module: Any = None,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    device: Any = None,
    **pickle_load_args: Any,
) -> Any:
    """Loads a checkpoint: rustdl's safetensors, or a PyTorch ``.pt``/``.pth`` file (no torch needed).

    The format is found from the content: a zip archive is PyTorch's format (1.6 and later), a
    pickle starting with torch's magic number its legacy format, anything else safetensors.
    PyTorch files are read with an unpickler that only rebuilds tensors and plain containers:
    unless ``weights_only=False``, any other name in the pickle (``os.system``, a custom class)
    raises :class:`pickle.UnpicklingError` and nothing from the file is run. float16/bfloat16 tensors
    become float32, uint16/32/64 become int64 (uint8 and int8/16/32 keep their dtype); parameters
    keep ``requires_grad``.

    Args:
        f: a path or a binary file object with ``read`` (``io.BytesIO``, ``open(path, "rb")``).
        map_location: where tensors go, as in ``torch.load``: a device or string (``"cpu"``,
            ``"gpu"``; ``"cuda"``/``"cuda:0"`` mean rustdl's GPU), a dict from saved locations to
            targets (``{"cuda:0": "cpu"}``), or a callable ``(storage, location)`` returning
            ``storage``/``storage.cpu()``/``storage.cuda()``, a device, or ``None`` for the default.
            By default tensors go where they were saved (``cuda`` → GPU), also those of
            rustdl's own files (without a GPU they load on the CPU, with a warning); plain
            safetensors files from elsewhere load on the CPU.
        weights_only: as in ``torch.load``: by default (``None``, meaning ``True``) only tensors,
            plain containers and the classes allowed with ``add_safe_globals`` load. ``False``
            unpickles whatever the file names — a whole object that :func:`save` pickled, or a
            PyTorch file holding an ``argparse.Namespace`` or a dataclass — which runs code named
            in the file: only for files you trust. As in ``torch.load``, an explicit
            ``pickle_module`` or ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` makes the default
            ``False``, and ``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1`` makes it ``True`` whatever is passed.
        device: rustdl's name for ``map_location`` (give one of the two).
        pickle_module, mmap, pickle_load_args: accepted as ``torch.load`` takes them; the file
            is read whole with rustdl's own unpickler either way (``mmap`` maps nothing).

    Returns:
        For rustdl files, the saved dict; for PyTorch files, the saved object (usually an
        ``OrderedDict`` of tensors, or a dict such as ``{"epoch": 3, "model": ...}``).

    Raises:
        OSError: the file cannot be read.
        pickle.UnpicklingError: a PyTorch file refers to anything but tensors and plain containers
            (also a ``ValueError``).
        ValueError: the file is truncated, corrupt, or in no format rustdl reads.
        RuntimeError: a PyTorch file holds GPU tensors, no GPU is available and no
            ``map_location`` was given.

    Example:
        >>> sd = rustdl.load("resnet18.pth", map_location="cpu")
        >>> model.load_state_dict(sd)
    """
    if device is not None and map_location is not None:
        raise TypeError("rustdl.load: give map_location or device, not both")
    if weights_only is None:
        # as torch.load: an explicit pickle_module, or TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD, means a
        # full unpickling; TORCH_FORCE_WEIGHTS_ONLY_LOAD wins over everything
        if pickle_module is not None or _env_flag("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
            weights_only = False
    if _env_flag("TORCH_FORCE_WEIGHTS_ONLY_LOAD"):
        weights_only = True
    trusted = weights_only is False
    target = map_location if map_location is not None else device
    where = _name_of(f)
    if _is_path(f):
        path = os.fspath(f)
        with open(path, "rb") as fh:
            kind = _sniff(fh.read(16))
            if kind == "legacy":
                fh.seek(0)
                return _load_torch_legacy(fh, where, target, trusted)
        if kind == "zip":
            if _zip_after_others(path):  # several saves in one file: the first is loaded
                with open(path, "rb") as fh:
                    data = fh.read()
                return _load_torch_zip(io.BytesIO(data[: _first_zip_end(data)]), where, target, trusted)
            return _load_torch_zip(path, where, target, trusted)
        dev = None if target is None else _target_device(target, "cpu", where)
        first = _first_safetensors(path)
        return _load_safetensors(path if first is None else first, dev, where, weights_only)
    if not callable(getattr(f, "read", None)):
        raise TypeError(f"rustdl.load: f must be a path or a binary file object, got {type(f).__name__}")
    data = f.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"rustdl.load: {where} must be opened in binary mode ('rb')")
    data = bytes(data)
    kind = _sniff(data[:16])
    if kind == "zip":
        # the stream may hold several saves one after another: this load reads the first, and
        # leaves the stream at the next
        end = _first_zip_end(data)
        if end < len(data) and callable(getattr(f, "seek", None)):
            f.seek(end - len(data), io.SEEK_CUR)
        return _load_torch_zip(io.BytesIO(data[:end]), where, target, trusted)
    if kind == "legacy":
        return _load_torch_legacy(io.BytesIO(data), where, target, trusted)
    end = _safetensors_end(data)
    if end < len(data) and callable(getattr(f, "seek", None)):
        f.seek(end - len(data), io.SEEK_CUR)  # the next save in the stream is read next
    dev = None if target is None else _target_device(target, "cpu", where)
    return _load_safetensors(data[:end], dev, where, weights_only)
