"""``torch.ops``: operators by namespace (``torch.ops.aten.add.Tensor(x, y)``).

rustdl has no operator registry. ``torch.ops.aten.<op>`` resolves to rustdl's function of that
name (``rustdl.<op>``, else ``rustdl.nn.functional.<op>``, else the Tensor method, in-place
spellings ``add_`` included), with every overload (``.default``, ``.Tensor``, ``.Scalar``, ...)
the same callable. Naming an operator rustdl lacks works (library code makes tables of
operators when it is imported) and calling it raises ``NotImplementedError``. Other namespaces
hold the operators registered through ``torch.library`` (``custom_op``, ``Library.define``);
reaching any other raises ``AttributeError``, as PyTorch's does for an operator nobody
registered; ``load_library`` raises
``OSError``, as it does for a library that cannot be loaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rustdl

__all__ = ["aten", "load_library"]

# aten spellings of functions rustdl names otherwise
_ALIASES = {"_to_copy": "to", "_softmax": "softmax", "_log_softmax": "log_softmax", "_unsafe_view": "view"}


def _resolve(name: str) -> Callable[..., Any] | None:
    name = _ALIASES.get(name, name)
    fn = getattr(rustdl, name, None)
    if callable(fn) and not isinstance(fn, type):
        return fn
    fn = getattr(rustdl.nn.functional, name, None)
    if callable(fn) and not isinstance(fn, type):
        return fn
    method = getattr(rustdl.Tensor, name, None)
    if callable(method):
        return lambda self, *args, **kwargs: getattr(self, name)(*args, **kwargs)
    return None


class OpOverload:
    """One overload of an operator (``torch.ops.aten.add.Tensor``): callable."""

    def __init__(self, packet: OpOverloadPacket, overload: str) -> None:
        self.overloadpacket = packet
        self._overloadname = overload
        self.__name__ = f"{packet._name}.{overload}"

    def name(self) -> str:
        return f"{packet_qualified(self.overloadpacket)}.{self._overloadname}"

    @property
    def _schema(self) -> str:
        """The schema text of an operator registered through ``torch.library``."""
        from ._torch_library import _registered

        op = _registered(self.overloadpacket._ns, self.overloadpacket._name)
        if op is None or op.schema is None:
            raise AttributeError(f"{self}: rustdl keeps no schema for this operator")
        schema = op.schema
        return schema if schema.startswith(op.qualname) else f"{op.qualname}{schema}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.overloadpacket(*args, **kwargs)

    def __str__(self) -> str:
        return f"{self.overloadpacket._ns}.{self.overloadpacket._name}.{self._overloadname}"

    def __repr__(self) -> str:
        return f"<OpOverload(op='{self.overloadpacket._ns}.{self.overloadpacket._name}', overload='{self._overloadname}')>"

    def __hash__(self) -> int:
        return hash((self.overloadpacket._ns, self.overloadpacket._name, self._overloadname))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, OpOverload)
            and other.overloadpacket is self.overloadpacket
            and other._overloadname == self._overloadname
        )


def packet_qualified(p: OpOverloadPacket) -> str:
    return f"{p._ns}::{p._name}"


class OpOverloadPacket:
    """An operator with all its overloads (``torch.ops.aten.add``): callable, and each overload
    an attribute."""

    def __init__(self, ns: str, name: str) -> None:
        self._ns, self._name = ns, name
        self.__name__ = name
        self._qualified_op_name = packet_qualified(self)
        self._overloads: dict[str, OpOverload] = {}

    def __getattr__(self, overload: str) -> OpOverload:
        if overload.startswith("__"):
            raise AttributeError(overload)
        op = self._overloads.get(overload)
        if op is None:
            op = self._overloads[overload] = OpOverload(self, overload)
        return op

    def overloads(self) -> list[str]:
        return list(self._overloads) or ["default"]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from ._torch_library import _registered

        op = _registered(self._ns, self._name)
        if op is not None:
            return op(*args, **kwargs)
        fn = _resolve(self._name)
        if fn is None:
            raise NotImplementedError(f"torch.ops.{self._ns}.{self._name}: rustdl has no such operator")
        return fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<OpOverloadPacket(op='{self._ns}.{self._name}')>"

    def __str__(self) -> str:
        return f"{self._ns}.{self._name}"


class _OpNamespace:
    """``torch.ops.<namespace>``."""

    def __init__(self, name: str, lazy: bool) -> None:
        self.name = name
        self._lazy = lazy
        self._ops: dict[str, OpOverloadPacket] = {}

    def __getattr__(self, op: str) -> OpOverloadPacket:
        if op.startswith("__"):
            raise AttributeError(op)
        if op not in self._ops:
            from ._torch_library import _registered

            if not self._lazy and _registered(self.name, op) is None:
                raise AttributeError(f"'_OpNamespace' '{self.name}' object has no attribute '{op}'")
            self._ops[op] = OpOverloadPacket(self.name, op)
        return self._ops[op]

    def __repr__(self) -> str:
        return f"<module 'torch.ops.{self.name}'>"


_NAMESPACES: dict[str, _OpNamespace] = {}


def __getattr__(name: str) -> _OpNamespace:
    if name.startswith("__"):
        raise AttributeError(name)
    ns = _NAMESPACES.get(name)
    if ns is None:
        ns = _NAMESPACES[name] = _OpNamespace(name, lazy=name in ("aten", "prims"))
    return ns


aten = __getattr__("aten")


def load_library(path: str) -> None:
    """Raises ``OSError``: rustdl loads no compiled operator libraries."""
    raise OSError(f"torch.ops.load_library({path!r}): rustdl cannot load compiled PyTorch operator libraries")
