"""A wrong kind of argument to a tensor function is a ``TypeError`` naming the function.

Many of rustdl's Python-level functions read the attributes of their arguments (``input.abs()``,
``other.shape``) and so meet a list, ``None`` or a number given where a tensor belongs as an
``AttributeError`` ("'list' object has no attribute 'var'"), which names neither the function nor
the problem. :func:`install` wraps the public Python functions of a namespace (and the
Python-level methods of ``Tensor``) so that such an error becomes PyTorch's ``TypeError``
("var_mean(): argument 1 must be a Tensor, not list"). Only an ``AttributeError`` raised on one
of the call's own arguments (or an item of a list/tuple argument) is translated; any other
error passes through unchanged.
"""

from __future__ import annotations

import functools
import inspect
import operator
import types
from typing import Any

from . import _rustdl


def _offending_position(obj: Any, args: tuple, kwargs: dict) -> str | None:
    """Where ``obj`` sits among the call's arguments ("argument 2 must be", "argument 'other'
    must hold"), if there."""
    for where, a in [(f"argument {i + 1}", a) for i, a in enumerate(args)] + [
        (f"argument '{k}'", v) for k, v in kwargs.items()
    ]:
        if a is obj:
            return f"{where} must be"
        if isinstance(a, (list, tuple)) and any(x is obj for x in a):
            return f"{where} must hold"
    return None


def _shapes(args: tuple) -> str:
    shapes = [tuple(a.shape) for a in args if hasattr(a, "shape") and hasattr(a, "dtype")]
    return f" (tensor arguments of shapes {shapes})" if shapes else ""


def retyped(err: AttributeError, name: str, args: tuple, kwargs: dict) -> TypeError | None:
    """The ``TypeError`` that ``err`` (raised inside ``name(*args, **kwargs)``) stands for, or
    None when it was not raised on one of the arguments."""
    obj = getattr(err, "obj", None)
    if obj is None and getattr(err, "name", None) is None:
        return None
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and not isinstance(obj, type):
        return None  # a tensor lacking an attribute: a real AttributeError
    where = _offending_position(obj, args, kwargs)
    if where is None:
        return None
    what = "a Tensor" if where.endswith("be") else "Tensors"
    return TypeError(f"{name}(): {where} {what}, not {type(obj).__name__}{_shapes(args)}")


def int_arg(value: Any) -> Any:
    """An integer argument as PyTorch's argument parser takes it: anything with ``__index__``
    (a numpy integer, a one-element integer tensor) becomes its int; any other value is returned
    unchanged, for the caller's own check to name."""
    if type(value) is int or isinstance(value, (float, str)):
        return value
    try:
        return operator.index(value)
    except TypeError:
        return value


#: numpy's keyword spellings PyTorch's argument parser takes for every ``dim`` / ``keepdim``
NUMPY_NAMES = (("axis", "dim"), ("keepdims", "keepdim"))


def numpy_renames(fn: Any) -> tuple:
    """The (alias, name) pairs of :data:`NUMPY_NAMES` that ``fn`` does not take as parameters
    of its own (``axis=`` given to it means ``dim=``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return NUMPY_NAMES
    names = tuple(p for p in NUMPY_NAMES if p[0] not in params)
    if "A" in params and "input" not in params:  # torch.linalg.norm(input=x): the parser's name
        names += (("input", "A"),)
    return names


def rename(kwargs: dict, renames: tuple, name: str) -> None:
    """Renames numpy's keyword spellings in ``kwargs`` in place (``axis`` → ``dim``)."""
    for alias, real in renames:
        if alias in kwargs:
            if real in kwargs:
                raise TypeError(f"{name}() got both '{real}' and its alias '{alias}'")
            kwargs[real] = kwargs.pop(alias)


def _takes_requires_grad(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "requires_grad" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def wrap(fn: Any, name: str) -> Any:
    """``fn`` with its argument ``AttributeError`` turned into a ``TypeError`` naming ``name``,
    taking numpy's ``axis``/``keepdims`` for ``dim``/``keepdim`` as PyTorch's functions do."""
    if getattr(fn, "_typed_errors", False):
        return fn
    renames = numpy_renames(fn)
    # a factory's leaf made with requires_grad=True is the object AccumulateGrad.variable returns
    makes_leaves = _takes_requires_grad(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs and renames:
            rename(kwargs, renames, name)
        try:
            out = fn(*args, **kwargs)
        except AttributeError as e:
            t = retyped(e, name, args, kwargs)
            if t is None:
                raise
            raise t from None
        if makes_leaves and kwargs.get("requires_grad") and isinstance(out, _rustdl.Tensor):
            _rustdl._remember_leaf(out)
        return out

    wrapper._typed_errors = True
    return wrapper


def _is_ours(fn: Any, home: str) -> bool:
    """A plain function defined in ``home`` or in one of rustdl's private modules (a function
    re-exported from another public module, ``rustdl.vmap`` from ``rustdl.func``, stays the
    same object as there)."""
    if not isinstance(fn, types.FunctionType):
        return False
    mod = fn.__module__ or ""
    parts = mod.split(".")
    return parts[0] == "rustdl" and (mod == home or any(p.startswith("_") for p in parts[1:]))


def install(ns: Any, tensor_cls: Any = None, exclude: tuple = ()) -> None:
    """Wraps the public Python functions of module ``ns`` and, with ``tensor_cls``, that class's
    public Python-level methods (plain functions in its ``__dict__``), except those in
    ``exclude``."""
    for name, fn in list(vars(ns).items()):
        if not name.startswith("_") and _is_ours(fn, ns.__name__) and fn not in exclude:
            setattr(ns, name, wrap(fn, name))
    if tensor_cls is not None:
        for name, fn in list(vars(tensor_cls).items()):
            if (
                not name.startswith("_")
                and _is_ours(fn, getattr(fn, "__module__", None) or "")
                and fn not in exclude
            ):
                setattr(tensor_cls, name, wrap(fn, f"Tensor.{name}"))
        for name, fn in list(vars(tensor_cls).items()):
            # (size/stride are hot accessors and nobody spells their dim as axis)
            if (
                not name.startswith("_")
                and type(fn).__name__ == "method_descriptor"
                and name not in ("size", "stride")
            ):
                setattr(tensor_cls, name, _numpy_names(fn, f"Tensor.{name}"))


def _numpy_names(fn: Any, name: str) -> Any:
    """A native method that takes ``dim`` or ``keepdim``, also taking numpy's ``axis`` /
    ``keepdims`` (``x.gather(axis=1, index=i)``); other methods are returned unchanged."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn
    renames = numpy_renames(fn)
    if not ("dim" in params or "keepdim" in params) or not renames:
        return fn

    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        if kwargs:
            rename(kwargs, renames, name)
        return fn(self, *args, **kwargs)

    return method
