"""Checkpoints as safetensors: ``rustdl.save`` / ``rustdl.load`` for dicts of tensors.

Nested dicts (an optimizer's ``state_dict``) are flattened with ``/``-joined keys (a model's
``state_dict`` keeps its dotted names, so PyTorch reads the file as it is); non-tensor values
(numbers, strings, lists, None) go to the file's metadata as JSON. Writes are atomic.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import _rustdl
from ._rustdl import Tensor

_META_KEY = "rustdl.meta"


def _flatten(obj: Any, prefix: str, tensors: dict, meta: dict) -> None:
    if isinstance(obj, Tensor):
        tensors[prefix] = obj.detach()
    elif isinstance(obj, dict):
        if not obj:
            meta[prefix] = {"__emptydict__": True}
        for k, v in obj.items():
            key = f"{prefix}/{k}" if prefix else str(k)
            if isinstance(k, int):
                key = f"{prefix}/#{k}" if prefix else f"#{k}"
            _flatten(v, key, tensors, meta)
    elif isinstance(obj, (list, tuple)) and any(isinstance(v, (Tensor, dict)) for v in obj):
        meta[prefix] = {"__seq__": len(obj), "tuple": isinstance(obj, tuple)}
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}/@{i}", tensors, meta)
    else:
        meta[prefix] = {"__value__": obj}


def _insert(root: dict, key: str, value: Any) -> None:
    parts = key.split("/")
    node = root
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def _rebuild(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        v = _rebuild(v)
        if k.startswith("#"):
            out[int(k[1:])] = v
        else:
            out[k] = v
    return out


def _fix_seqs(node: Any, seqs: dict, path: str) -> Any:
    if isinstance(node, dict):
        for k in list(node):
            sub = f"{path}/{k}" if path else str(k)
            node[k] = _fix_seqs(node[k], seqs, sub)
        if path in seqs:
            n, is_tuple = seqs[path]
            items = [node[f"@{i}"] for i in range(n)]
            return tuple(items) if is_tuple else items
    return node


def save(obj: dict, path: str | os.PathLike) -> None:
    """Saves a dict of tensors (e.g. a ``state_dict``) to ``path`` as safetensors, atomically.

    Args:
        obj: a dict whose leaves are tensors, numbers, strings, lists or nested dicts.
        path: destination file; the previous file stays intact if the write fails.
    """
    if not isinstance(obj, dict):
        raise TypeError(f"rustdl.save expects a dict of tensors (a state_dict), got {type(obj).__name__}")
    tensors: dict = {}
    meta: dict = {}
    _flatten(obj, "", tensors, meta)
    try:
        meta_json = json.dumps(meta)
    except TypeError as e:
        raise TypeError(f"rustdl.save: a value is neither a tensor nor JSON-serialisable: {e}") from None
    _rustdl.save_file(tensors, os.fspath(path), {_META_KEY: meta_json})


def load(path: str | os.PathLike, device=None) -> dict:
    """Loads a dict saved by :func:`save` (or any safetensors file) onto ``device``.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file is not a valid safetensors file.
    """
    tensors, meta = _rustdl.load_file(os.fspath(path), device)
    try:
        extra = json.loads(meta.get(_META_KEY, "{}"))
    except json.JSONDecodeError as e:
        raise ValueError(f"rustdl.load: corrupt metadata in {os.fspath(path)}: {e}") from None
    root: dict = {}
    seqs = {}
    for k, v in tensors.items():
        _insert(root, k, v)
    for k, v in extra.items():
        if isinstance(v, dict) and "__seq__" in v:
            seqs[k] = (v["__seq__"], v.get("tuple", False))
        elif isinstance(v, dict) and "__emptydict__" in v:
            _insert(root, k, {})
        elif isinstance(v, dict) and "__value__" in v:
            _insert(root, k, v["__value__"])
    out = _rebuild(root)
    return _fix_seqs(out, seqs, "")
