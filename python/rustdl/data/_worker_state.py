"""What a DataLoader worker has of its own, as a PyTorch worker process has it: its own copy of
the dataset, and its own Python ``random`` and numpy global streams, seeded as PyTorch seeds them.

rustdl's workers are threads of the main process, so neither comes for free:

- :func:`worker_copy` gives each worker a deep copy of the dataset made when the workers start
  (PyTorch's workers see a snapshot of it: forked, or pickled under spawn). A worker that shards
  an iterable dataset by assigning to it (``self.start = ...`` in ``worker_init_fn``, the usual
  recipe), or opens a file on its first ``__getitem__``, then works on its own object, not on
  the one every worker and the main process share. Arrays, tensors, images, functions, modules,
  open files (and pandas tables, scipy sparse matrices) inside the copy are the originals (a
  forked worker reads the same memory);
  an object that cannot be deep-copied falls back to a shallow copy, then to the dataset itself.
- :func:`enter_worker` gives the calling worker thread a ``random.Random`` seeded
  ``base_seed + worker_id`` and a ``numpy.random.RandomState`` seeded from
  ``numpy.random.SeedSequence([worker_id, base_seed mod 2**32, base_seed >> 32, 0])``, PyTorch's
  seeds; the module-level functions of ``random`` and ``numpy.random`` (``random.random()``,
  ``np.random.rand()``, ``np.random.seed()`` ...) then use them in that thread and the process's
  own streams everywhere else, so workers neither draw from nor reseed the main thread's streams.
"""

from __future__ import annotations

import copy
import functools
import io
import random
import threading
import types
from typing import Any

import numpy as np

_tls = threading.local()
_install_lock = threading.Lock()
_installed = False


def _numpy_global():
    return np.random.mtrand._rand


def _dispatch(module_inst, name: str, kind: str):
    """``module.name`` for the calling thread: its worker stream, else the module's own."""

    def call(*args, **kwargs):
        own = getattr(_tls, kind, None)
        return getattr(own if own is not None else module_inst(), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__wrapped__ = getattr(module_inst(), name)
    call.__doc__ = call.__wrapped__.__doc__
    return call


def _np_seed(*args, **kwargs):
    own = getattr(_tls, "np", None)
    if own is None:
        return _np_seed.__wrapped__(*args, **kwargs)
    return own.seed(*args, **kwargs)


def _install() -> None:
    """Routes the module-level functions of ``random`` and ``numpy.random`` through the calling
    thread's worker streams (once per process; the main thread keeps the modules' own)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        py_inst = random._inst  # type: ignore[attr-defined]
        for name in dir(random):
            fn = getattr(random, name)
            if getattr(fn, "__self__", None) is py_inst:
                setattr(random, name, _dispatch(lambda: random._inst, name, "py"))  # type: ignore[attr-defined]
        np_inst = _numpy_global()
        for name in dir(np.random):
            fn = getattr(np.random, name)
            if getattr(fn, "__self__", None) is np_inst:
                setattr(np.random, name, _dispatch(_numpy_global, name, "np"))
        if not hasattr(np.random.seed, "__wrapped__"):
            _np_seed.__wrapped__ = np.random.seed  # type: ignore[attr-defined]
            _np_seed.__doc__ = np.random.seed.__doc__
            functools.update_wrapper(_np_seed, np.random.seed)
            np.random.seed = _np_seed
        _installed = True


def numpy_worker_seed(base_seed: int, worker_id: int) -> np.ndarray:
    """The numpy seed of worker ``worker_id`` (four 32-bit words), PyTorch's."""
    words = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(words, pool_size=4).generate_state(4)


def enter_worker(seed: int, worker_id: int) -> None:
    """Gives the calling thread the ``random`` and numpy streams of worker ``worker_id`` whose
    seed is ``seed`` (``base_seed + worker_id``)."""
    _install()
    base_seed = seed - worker_id
    _tls.py = random.Random(seed)
    _tls.np = np.random.RandomState(numpy_worker_seed(base_seed, worker_id))


# ---- the dataset's copy ----------------------------------------------------------------------

_SHARED_TYPES: tuple = (
    np.ndarray,
    io.IOBase,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    type,
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Event,
    threading.Thread,
    memoryview,
)


def _shared_types() -> tuple:
    from .. import _rustdl

    extra: list = [_rustdl.Tensor]
    try:
        from PIL import Image

        extra.append(Image.Image)
    except ImportError:  # pragma: no cover - Pillow is a dependency
        pass
    # big read-mostly tables of libraries the program already uses (their own deepcopy copies
    # the data: a worker per copy of a large DataFrame would multiply the memory)
    import sys

    pd = sys.modules.get("pandas")
    if pd is not None:
        extra += [
            t
            for t in (getattr(pd, "DataFrame", None), getattr(pd, "Series", None), getattr(pd, "Index", None))
            if isinstance(t, type)
        ]
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None:
        base = getattr(sparse, "spmatrix", None)
        extra += [t for t in (base, getattr(sparse, "sparray", None)) if isinstance(t, type)]
    return _SHARED_TYPES + tuple(extra)


def _prefill(obj: Any, memo: dict, shared: tuple, limit: int) -> bool:
    """Puts the objects to share (arrays, tensors, files ...) reachable from ``obj`` through
    attributes and containers into ``deepcopy``'s memo, so the copy reuses them. False when
    more than ``limit`` objects are reachable (a deep copy would cost too much)."""
    seen: set[int] = set()
    stack = [obj]
    visited = 0
    while stack:
        visited += 1
        if visited > limit:
            return False
        x = stack.pop()
        if id(x) in seen or isinstance(x, (str, bytes, int, float, complex, bool, type(None))):
            continue
        seen.add(id(x))
        if isinstance(x, shared):
            memo[id(x)] = x
            continue
        if isinstance(x, dict):
            stack.extend(x.values())
            stack.extend(k for k in x if not isinstance(k, (str, int)))
        elif isinstance(x, (list, tuple, set, frozenset)):
            stack.extend(x)
        else:
            d = getattr(x, "__dict__", None)
            if isinstance(d, dict):
                stack.extend(d.values())
            for cls in type(x).__mro__:
                slots = cls.__dict__.get("__slots__", ())
                for slot in (slots,) if isinstance(slots, str) else slots:
                    try:
                        stack.append(object.__getattribute__(x, slot))
                    except (AttributeError, TypeError):
                        pass
    return True


# beyond this many objects (a list of a million file names) a worker's deep copy would cost
# seconds per epoch: such a dataset gets a shallow copy (its attributes its own, its containers
# shared)
_DEEP_COPY_LIMIT = 20_000


def worker_copy(dataset: Any) -> Any:
    """The dataset a worker works on: a deep copy sharing arrays, tensors, images, files and
    functions with ``dataset``; a shallow copy if that fails or the dataset holds too many
    objects; ``dataset`` itself if both fail."""
    memo: dict = {}
    try:
        if _prefill(dataset, memo, _shared_types(), _DEEP_COPY_LIMIT):
            return copy.deepcopy(dataset, memo)
    except Exception:  # noqa: BLE001 - an object that refuses to be deep-copied
        pass
    try:
        return copy.copy(dataset)
    except Exception:  # noqa: BLE001 - nor shallow-copied: share it, as before
        return dataset
