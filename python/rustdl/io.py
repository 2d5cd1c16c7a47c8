"""Checkpoints as safetensors: ``rustdl.save`` / ``rustdl.load`` for (nested) dicts of tensors.

Every tensor is stored under its path in the dict: a model's ``state_dict`` keeps its dotted
names (``fc.weight``), so ``safetensors`` and PyTorch read the file as it is; nested dicts (an
optimizer's ``state_dict``) are flattened with ``/`` (``state/0/exp_avg``). The structure itself
(dict keys with their types, lists, tuples) and every non-tensor value (numbers, strings, bools,
``None``) is kept as JSON in the file's metadata under ``rustdl``, so :func:`load` rebuilds the
object exactly, whatever characters the keys hold. Writes are atomic (temp file, fsync, rename).
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import _rustdl
from ._rustdl import Tensor

_META_KEY = "rustdl"
_FORMAT = 1
_SCALARS = (type(None), bool, int, float, str)


def _encode(obj: Any, path: str, tensors: dict[str, Tensor]) -> Any:
    """Returns the JSON node describing ``obj``; tensors go into ``tensors`` under unique names."""
    if isinstance(obj, Tensor):
        name = path
        n = 1
        while name in tensors or name == "__metadata__":
            name = f"{path}~{n}"
            n += 1
        tensors[name] = obj.detach()
        return {"T": name}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(
                    f"rustdl.save: dict keys must be str or int, got {k!r} ({type(k).__name__}) at '{path}'"
                )
            sub = f"{path}/{k}" if path else str(k)
            items.append([k, _encode(v, sub, tensors)])
        return {"d": items}
    if isinstance(obj, (list, tuple)):
        nodes = [_encode(v, f"{path}/{i}" if path else str(i), tensors) for i, v in enumerate(obj)]
        return {"t" if isinstance(obj, tuple) else "l": nodes}
    if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "shape", None) == ():
        obj = obj.item()  # a numpy scalar
    if isinstance(obj, _SCALARS):
        return {"v": obj}
    raise TypeError(
        f"rustdl.save: the value at '{path}' is a {type(obj).__name__}, not a tensor, number, string, list or dict"
    )


def _decode(node: Any, tensors: dict[str, Tensor], where: str) -> Any:
    """Rebuilds an object from its JSON node; any malformed node raises ``ValueError``."""
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"malformed structure node {str(node)[:80]!r}")
    ((kind, body),) = node.items()
    if kind == "T":
        if not isinstance(body, str) or body not in tensors:
            raise ValueError(f"metadata refers to a tensor {str(body)[:80]!r} that the file does not hold")
        return tensors[body]
    if kind == "v":
        if not isinstance(body, _SCALARS):
            raise ValueError(f"malformed value {str(body)[:80]!r}")
        return body
    if kind in ("l", "t"):
        if not isinstance(body, list):
            raise ValueError(f"malformed sequence {str(body)[:80]!r}")
        items = [_decode(v, tensors, where) for v in body]
        return tuple(items) if kind == "t" else items
    if kind == "d":
        if not isinstance(body, list):
            raise ValueError(f"malformed dict {str(body)[:80]!r}")
        out = {}
        for pair in body:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or isinstance(pair[0], bool)
                or not isinstance(pair[0], (str, int))
            ):
                raise ValueError(f"malformed dict entry {str(pair)[:80]!r}")
            out[pair[0]] = _decode(pair[1], tensors, where)
        return out
    raise ValueError(f"unknown structure node kind {kind!r}")


def save(obj: dict, path: str | os.PathLike) -> None:
    """Saves a dict of tensors (a ``state_dict``, an optimizer's too) to ``path`` as safetensors.

    The write is atomic: the data goes to a temp file beside ``path``, is fsynced, then renamed
    over ``path``, so a crash leaves the previous file whole.

    Args:
        obj: a dict whose leaves are tensors, numbers, strings, bools or ``None``, possibly
            nested in dicts (str or int keys), lists and tuples.
        path: destination file.

    Raises:
        TypeError: ``obj`` is not a dict or holds a value that cannot be stored.
        OSError: the file cannot be written.

    Example:
        >>> rustdl.save(model.state_dict(), "model.safetensors")
        >>> model.load_state_dict(rustdl.load("model.safetensors"))
    """
    if not isinstance(obj, dict):
        raise TypeError(f"rustdl.save expects a dict of tensors (a state_dict), got {type(obj).__name__}")
    tensors: dict[str, Tensor] = {}
    tree = _encode(obj, "", tensors)
    try:
        meta = json.dumps({"format": _FORMAT, "tree": tree}, allow_nan=True)
    except (TypeError, ValueError) as e:  # pragma: no cover - _encode admits only JSON scalars
        raise TypeError(f"rustdl.save: cannot encode the structure: {e}") from None
    _rustdl.save_file(tensors, os.fspath(path), {_META_KEY: meta})


def load(path: str | os.PathLike, device=None) -> dict:
    """Loads a dict saved by :func:`save` (or any safetensors file, as a flat dict) onto ``device``.

    Args:
        path: a safetensors file.
        device: where to put the tensors (default: the CPU).

    Raises:
        OSError: the file cannot be read.
        ValueError: the file is truncated, corrupt, or not a safetensors file.

    Example:
        >>> state = rustdl.load("model.safetensors", device="gpu")
    """
    where = os.fspath(path)
    tensors, meta = _rustdl.load_file(where, device)
    raw = meta.get(_META_KEY)
    if raw is None:
        return dict(tensors)
    try:
        info = json.loads(raw)
        if not isinstance(info, dict) or info.get("format") != _FORMAT or "tree" not in info:
            raise ValueError("unknown metadata format")
        out = _decode(info["tree"], tensors, where)
    except RecursionError:
        raise ValueError(f"rustdl.load: corrupt metadata in {where}: structure nested too deeply") from None
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"rustdl.load: corrupt metadata in {where}: {e}") from None
    if not isinstance(out, dict):
        raise ValueError(f"rustdl.load: corrupt metadata in {where}: the top level is not a dict")
    return out
