"""``torch.library``: user-defined operators (``custom_op``, ``Library``), reachable afterwards
as ``torch.ops.<namespace>.<name>``.

rustdl has no dispatcher, so an operator here is a Python record: its kernels (one default, and
any per device type), an optional fake (shape) function, and an optional autograd formula.
Calling the operator picks the kernel for the device of its first tensor argument.

- ``custom_op`` operators run their kernel without recording autograd history (the kernel is
  opaque, as in PyTorch). With ``register_autograd`` the result gets a backward node that calls
  the registered ``backward``; without it, a result of inputs that require grad still requires
  grad, and backpropagating through it raises ``RuntimeError``, as PyTorch's does.
- Kernels given to ``Library.impl`` / ``torch.library.impl`` run as plain Python calls, so the
  rustdl operations inside record their own history (PyTorch's default fallback for kernels
  without an autograd key behaves the same, with a warning).
- Fake functions (``register_fake``) are kept for ``opcheck``, which compares their shapes and
  dtypes with the real kernel's; "meta" tensors are CPU tensors in rustdl, so they run the
  real kernel.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import rustdl

__all__ = [
    "CustomOpDef",
    "Library",
    "custom_op",
    "define",
    "fallthrough_kernel",
    "get_ctx",
    "impl",
    "impl_abstract",
    "infer_schema",
    "opcheck",
    "register_autograd",
    "register_fake",
    "register_kernel",
    "register_torch_dispatch",
    "register_vmap",
    "triton_op",
    "wrap_triton",
]

_QUALNAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)::([A-Za-z_][A-Za-z0-9_.]*)$")


def _split(qualname: str) -> tuple[str, str]:
    m = _QUALNAME.match(qualname) if isinstance(qualname, str) else None
    if m is None:
        raise ValueError(
            f"torch.library: expected an operator name of the form 'namespace::name' (e.g. 'mylib::my_op'), "
            f"got {qualname!r}"
        )
    return m.group(1), m.group(2).split(".")[0]


def _device_type(args: Iterable[Any]) -> str | None:
    for a in args:
        if isinstance(a, rustdl.Tensor):
            return a.device.type
        if isinstance(a, (list, tuple)):
            d = _device_type(a)
            if d is not None:
                return d
    return None


def _tensors(args: Iterable[Any]) -> list[Any]:
    out = []
    for a in args:
        if isinstance(a, rustdl.Tensor):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(_tensors(a))
    return out


class _Operator:
    """One registered operator: what ``torch.ops.<ns>.<name>`` calls."""

    def __init__(self, ns: str, name: str, schema: str | None) -> None:
        self.ns, self.name = ns, name
        self.qualname = f"{ns}::{name}"
        self.schema = schema
        self.kernel: Callable[..., Any] | None = None
        self.kernel_autograd = False  # whether the default kernel records its own history
        self.device_kernels: dict[str, Callable[..., Any]] = {}
        self.fake: Callable[..., Any] | None = None
        self.backward: Callable[..., Any] | None = None
        self.setup_context: Callable[..., Any] | None = None
        self.vmap: Callable[..., Any] | None = None
        self.torch_dispatch: dict[Any, Callable[..., Any]] = {}
        self.signature: inspect.Signature | None = None
        self.mutates: frozenset[str] | None = frozenset()
        self.opaque = False  # custom_op: kernels see no autograd
        self._function: type | None = None

    # -- calling ------------------------------------------------------------------------------
    def _pick(self, args: Sequence[Any], kwargs: dict[str, Any]) -> Callable[..., Any]:
        dev = _device_type(list(args) + list(kwargs.values()))
        if dev is not None:
            for key in (dev, "cuda" if dev == "gpu" else None, "gpu" if dev == "cuda" else None):
                if key is not None and key in self.device_kernels:
                    return self.device_kernels[key]
        if self.kernel is None:
            raise NotImplementedError(
                f"{self.qualname}: no kernel registered for device type {dev!r} "
                f"(registered: {sorted(self.device_kernels) or 'none'})"
            )
        return self.kernel

    def _inputs(self, args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
        """The positional inputs (defaults filled in, as ``setup_context`` sees them) and the
        keyword-only ones."""
        if self.signature is None:
            return tuple(args), dict(kwargs)
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        pos, kw = [], {}
        for p in self.signature.parameters.values():
            if p.kind is inspect.Parameter.KEYWORD_ONLY:
                kw[p.name] = bound.arguments[p.name]
            elif p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
                pos.append(bound.arguments[p.name])
        return tuple(pos), kw

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kernel = self._pick(args, kwargs)
        if not self.opaque:
            return kernel(*args, **kwargs)
        inputs, kw_only = self._inputs(args, kwargs)
        needs_grad = rustdl.is_grad_enabled() and any(t.requires_grad for t in _tensors(inputs))
        if not needs_grad:
            with rustdl.no_grad():
                return kernel(*inputs, **kw_only)
        return self._autograd_function().apply(kernel, kw_only, *inputs)

    def _autograd_function(self) -> type:
        if self._function is not None:
            return self._function
        op = self

        class _CustomOp(rustdl.autograd.Function):
            @staticmethod
            def forward(ctx: Any, kernel: Callable[..., Any], kw_only: dict[str, Any], *inputs: Any) -> Any:
                out = kernel(*inputs, **kw_only)
                if op.setup_context is not None:
                    params = inspect.signature(op.setup_context).parameters
                    if "keyword_only_inputs" in params:
                        op.setup_context(ctx, inputs, out, keyword_only_inputs=kw_only)
                    else:
                        op.setup_context(ctx, inputs, out)
                ctx._custom_op_n_inputs = len(inputs)
                return out

            @staticmethod
            def backward(ctx: Any, *grads: Any) -> Any:
                n = ctx._custom_op_n_inputs
                if op.backward is None:
                    raise RuntimeError(
                        f"Trying to backward through {op.ns}.{op.name}.default but no autograd formula was "
                        "registered. Please use register_autograd to add one."
                    )
                res = op.backward(ctx, *grads)
                if not isinstance(res, (tuple, list)):
                    res = (res,)
                if len(res) != n:
                    raise RuntimeError(
                        f"{op.qualname}: the backward registered with register_autograd returned {len(res)} "
                        f"gradients; expected one per input ({n})"
                    )
                return (None, None, *res)

        _CustomOp.__name__ = _CustomOp.__qualname__ = f"{op.name}Backward"
        self._function = _CustomOp
        return _CustomOp


_REGISTRY: dict[str, _Operator] = {}


def _lookup(op: Any, create: bool = False) -> _Operator:
    """The operator named by a qualified name, a CustomOpDef or a ``torch.ops`` handle."""
    if isinstance(op, CustomOpDef):
        return op._op
    if isinstance(op, _Operator):
        return op
    packet = getattr(op, "overloadpacket", op)
    qualified = getattr(packet, "_qualified_op_name", None)
    name = qualified if isinstance(qualified, str) else op
    ns, short = _split(name)
    rec = _REGISTRY.get(f"{ns}::{short}")
    if rec is None:
        if not create:
            raise RuntimeError(f"torch.library: operator {ns}::{short} is not defined (define it first)")
        rec = _REGISTRY[f"{ns}::{short}"] = _Operator(ns, short, None)
    return rec


def _registered(ns: str, name: str) -> _Operator | None:
    """For ``torch.ops``: the operator ``ns::name`` if one was registered here."""
    return _REGISTRY.get(f"{ns}::{name}")


# -- schemas ---------------------------------------------------------------------------------------
def _type_name(ann: Any, where: str) -> str:
    if isinstance(ann, str):
        text = ann.replace("torch.", "").replace("typing.", "").strip()
        table = {
            "Tensor": "Tensor",
            "int": "SymInt",
            "float": "float",
            "bool": "bool",
            "str": "str",
            "dtype": "ScalarType",
            "device": "Device",
            "types.Number": "Scalar",
            "Number": "Scalar",
        }
        if text in table:
            return table[text]
        m = re.fullmatch(r"Optional\[(.*)\]", text)
        if m:
            return _type_name(m.group(1), where) + "?"
        return text
    if ann is rustdl.Tensor:
        return "Tensor"
    if ann is bool:
        return "bool"
    if ann is int:
        return "SymInt"
    if ann is float:
        return "float"
    if ann is str:
        return "str"
    if ann is rustdl.dtype or (isinstance(ann, type) and ann.__name__ == "dtype"):
        return "ScalarType"
    if ann is rustdl.device or (isinstance(ann, type) and ann.__name__ == "device"):
        return "Device"
    origin = typing.get_origin(ann)
    targs = typing.get_args(ann)
    if origin is typing.Union or type(ann).__name__ == "UnionType":
        rest = [a for a in targs if a is not type(None)]
        if len(rest) == 1 and len(rest) < len(targs):
            return _type_name(rest[0], where) + "?"
        if set(rest) <= {int, float, bool, complex}:
            return "Scalar"
    if origin in (list, tuple, Sequence, typing.Sequence) or origin is getattr(
        __import__("collections.abc").abc, "Sequence", None
    ):
        if targs:
            return _type_name(targs[0], where) + "[]"
    if ann in (complex,) or getattr(ann, "__name__", "") == "Number":
        return "Scalar"
    raise ValueError(f"infer_schema({where}): unsupported type annotation {ann!r}")


def _return_schema(ann: Any, where: str) -> str:
    if ann is None or ann is type(None) or ann == "None":
        return "()"
    origin = typing.get_origin(ann)
    if origin is tuple:
        return "(" + ", ".join(_type_name(a, where) for a in typing.get_args(ann)) + ")"
    return _type_name(ann, where)


def infer_schema(
    prototype_function: Callable[..., Any],
    /,
    *,
    mutates_args: str | Iterable[str],
    op_name: str | None = None,
) -> str:
    """The operator schema (``(Tensor x, float s) -> Tensor``) of a type-annotated function, as
    ``custom_op`` records it. Every parameter needs a type annotation."""
    sig = inspect.signature(prototype_function)
    try:
        hints = typing.get_type_hints(prototype_function)
    except Exception:
        hints = {}
    mutates_all = mutates_args == "unknown"
    mutated = set() if mutates_all else set(mutates_args)
    parts: list[str] = []
    seen_kw = False
    for i, p in enumerate(sig.parameters.values()):
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ValueError(f"infer_schema(func): Parameter {p.name} can't be *args or **kwargs.")
        if p.annotation is inspect.Parameter.empty:
            raise ValueError(
                f"infer_schema(func): Parameter {p.name} must have a type annotation. Got func with signature {sig})"
            )
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not seen_kw:
            parts.append("*")
            seen_kw = True
        ty = _type_name(hints.get(p.name, p.annotation), "func")
        if ty.startswith("Tensor") and (mutates_all or p.name in mutated):
            ty = ty.replace("Tensor", f"Tensor(a{i}!)", 1)
        text = f"{ty} {p.name}"
        if p.default is not inspect.Parameter.empty:
            text += f"={p.default!r}" if not isinstance(p.default, str) else f'="{p.default}"'
        parts.append(text)
    unknown = mutated - set(sig.parameters)
    if unknown:
        raise ValueError(
            f"infer_schema(func): mutates_args names {sorted(unknown)}, which are not parameters"
        )
    ret = _return_schema(hints.get("return", sig.return_annotation), "func")
    schema = "(" + ", ".join(parts) + ") -> " + ret
    return f"{op_name}{schema}" if op_name else schema


# -- custom_op --------------------------------------------------------------------------------------
class CustomOpDef:
    """What ``@torch.library.custom_op`` returns: callable as the operator, and the place to
    register its fake function, autograd formula and per-device kernels."""

    def __init__(self, op: _Operator, fn: Callable[..., Any]) -> None:
        self._op = op
        self._init_fn = fn
        self._namespace, self._name = op.ns, op.name
        self.__name__ = op.name
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    @property
    def _qualname(self) -> str:
        return self._op.qualname

    @property
    def _opoverload(self) -> Any:
        from . import _torch_ops

        return getattr(getattr(_torch_ops, self._op.ns), self._op.name).default

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._op(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<CustomOpDef({self._op.qualname})>"

    def register_fake(self, fn: Callable[..., Any], /) -> Callable[..., Any]:
        self._op.fake = fn
        return fn

    def register_autograd(
        self, backward: Callable[..., Any], /, *, setup_context: Callable[..., Any] | None = None
    ) -> None:
        _set_autograd(self._op, backward, setup_context)

    def register_kernel(
        self, device_types: str | Sequence[str] | None, fn: Callable[..., Any] | None = None, /
    ) -> Any:
        return _kernel_register(self._op, device_types, fn)

    def register_torch_dispatch(
        self, torch_dispatch_class: Any, fn: Callable[..., Any] | None = None, /
    ) -> Any:
        def inner(f: Callable[..., Any]) -> Callable[..., Any]:
            self._op.torch_dispatch[torch_dispatch_class] = f
            return f

        return inner if fn is None else inner(fn)

    def register_vmap(self, fn: Callable[..., Any] | None = None, /) -> Any:
        def inner(f: Callable[..., Any]) -> Callable[..., Any]:
            self._op.vmap = f
            return f

        return inner if fn is None else inner(fn)

    def set_kernel_enabled(self, device_type: str, enabled: bool = True) -> Any:
        """A context in which the kernel registered for ``device_type`` is (not) used."""
        import contextlib

        op = self._op

        @contextlib.contextmanager
        def switch() -> Any:
            held = op.device_kernels.get(device_type)
            if not enabled:
                op.device_kernels.pop(device_type, None)
            try:
                yield
            finally:
                if held is not None:
                    op.device_kernels[device_type] = held

        return switch()


def _set_autograd(
    op: _Operator, backward: Callable[..., Any], setup_context: Callable[..., Any] | None
) -> None:
    if not callable(backward):
        raise TypeError(
            f"register_autograd({op.qualname}): backward must be callable, got {type(backward).__name__}"
        )
    if setup_context is not None and not callable(setup_context):
        raise TypeError(f"register_autograd({op.qualname}): setup_context must be callable")
    op.backward, op.setup_context = backward, setup_context
    if not op.opaque:
        # an operator defined through Library: its kernels now run without history, with this
        # formula as their backward (as a registered autograd kernel would)
        op.opaque = True
        op.signature = None


def _kernel_register(
    op: _Operator, device_types: str | Sequence[str] | None, fn: Callable[..., Any] | None
) -> Any:
    kinds = [device_types] if isinstance(device_types, str) or device_types is None else list(device_types)

    def inner(f: Callable[..., Any]) -> Callable[..., Any]:
        for d in kinds:
            if d is None:
                op.kernel = f
            else:
                op.device_kernels[str(d).lower()] = f
        return f

    return inner if fn is None else inner(fn)


def custom_op(
    name: str,
    fn: Callable[..., Any] | None = None,
    /,
    *,
    mutates_args: str | Iterable[str],
    device_types: str | Sequence[str] | None = None,
    schema: str | None = None,
    tags: Any = None,
) -> Any:
    """Wraps a function as an operator ``torch.ops.<ns>.<name>`` whose kernel autograd does not
    look into (give it a formula with ``register_autograd``). ``mutates_args`` names the
    arguments the function writes to (``()`` for none, ``"unknown"`` for any)."""
    ns, short = _split(name)
    if isinstance(mutates_args, str) and mutates_args != "unknown":
        raise ValueError(
            f"custom_op({name!r}): mutates_args must be an iterable of argument names or 'unknown', "
            f"got the string {mutates_args!r}"
        )

    def inner(f: Callable[..., Any]) -> CustomOpDef:
        text = schema if schema is not None else infer_schema(f, mutates_args=mutates_args)
        op = _Operator(ns, short, text)
        op.opaque = True
        op.signature = inspect.signature(f)
        op.mutates = None if mutates_args == "unknown" else frozenset(mutates_args)
        _kernel_register(op, device_types, f)
        _REGISTRY[op.qualname] = op
        return CustomOpDef(op, f)

    return inner if fn is None else inner(fn)


def triton_op(name: str, fn: Callable[..., Any] | None = None, /, *, mutates_args: Any) -> Any:
    """Raises ``RuntimeError``: Triton kernels need CUDA's Triton compiler, which rustdl lacks."""
    raise RuntimeError(f"torch.library.triton_op({name!r}): rustdl cannot run Triton kernels")


def wrap_triton(kernel: Any, /) -> Any:
    """Raises ``RuntimeError``: rustdl cannot run Triton kernels."""
    raise RuntimeError("torch.library.wrap_triton: rustdl cannot run Triton kernels")


# -- the functional registration API ------------------------------------------------------------------
def register_fake(
    op: Any, func: Callable[..., Any] | None = None, /, *, lib: Any = None, _stacklevel: int = 1
) -> Any:
    """Registers the shape function of an operator (``opcheck`` checks it against the kernel)."""
    rec = _lookup(op, create=True)

    def inner(f: Callable[..., Any]) -> Callable[..., Any]:
        rec.fake = f
        return f

    return inner if func is None else inner(func)


impl_abstract = register_fake


def register_autograd(
    op: Any,
    backward: Callable[..., Any],
    /,
    *,
    setup_context: Callable[..., Any] | None = None,
    lib: Any = None,
) -> None:
    """Registers an operator's backward formula (``backward(ctx, *grads)`` returns one gradient
    per input) and ``setup_context(ctx, inputs, output)``."""
    _set_autograd(_lookup(op), backward, setup_context)


def register_kernel(
    op: Any,
    device_types: str | Sequence[str] | None,
    func: Callable[..., Any] | None = None,
    /,
    *,
    lib: Any = None,
) -> Any:
    """Registers an operator's kernel for some device types (``"cpu"``, ``"cuda"``)."""
    return _kernel_register(_lookup(op), device_types, func)


def register_torch_dispatch(
    op: Any, torch_dispatch_class: Any, func: Callable[..., Any] | None = None, /, *, lib: Any = None
) -> Any:
    rec = _lookup(op)

    def inner(f: Callable[..., Any]) -> Callable[..., Any]:
        rec.torch_dispatch[torch_dispatch_class] = f
        return f

    return inner if func is None else inner(func)


def register_vmap(op: Any, func: Callable[..., Any] | None = None, /, *, lib: Any = None) -> Any:
    """Records a vmap rule; rustdl's ``vmap`` runs the operator per sample, which gives the same
    result, so the rule is kept but not needed."""
    rec = _lookup(op)

    def inner(f: Callable[..., Any]) -> Callable[..., Any]:
        rec.vmap = f
        return f

    return inner if func is None else inner(func)


def _schema_name_and_args(schema: str) -> tuple[str | None, str]:
    m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_.:]*)?\s*(\(.*)$", schema, re.S)
    if m is None or "->" not in schema:
        raise RuntimeError(
            f"torch.library: cannot parse the schema {schema!r} (expected 'name(Tensor x) -> Tensor')"
        )
    return m.group(1), m.group(2)


def define(qualname: str, schema: str, *, lib: Any = None, tags: Any = ()) -> None:
    """Declares ``ns::name`` with a schema (``"(Tensor x) -> Tensor"``); give it kernels with
    ``impl``."""
    ns, short = _split(qualname)
    _schema_name_and_args(schema)
    _REGISTRY[f"{ns}::{short}"] = _Operator(ns, short, schema)


_KERNEL_KEYS = {
    "": None,
    "compositeimplicitautograd": None,
    "compositeexplicitautograd": None,
    "compositeexplicitautogradnonfunctional": None,
    "default": None,
    "autograd": None,
    "cpu": "cpu",
    "cuda": "cuda",
    "autogradcpu": "cpu",
    "autogradcuda": "cuda",
    "meta": "meta",
    "mps": "mps",
    "xpu": "xpu",
}


def _impl_into(rec: _Operator, types: str | Sequence[str], func: Callable[..., Any]) -> None:
    keys = [types] if isinstance(types, str) else list(types)
    for key in keys:
        low = str(key).lower()
        if low not in _KERNEL_KEYS:
            raise ValueError(
                f"torch.library.impl({rec.qualname}): unknown dispatch key or device type {key!r}"
            )
        dev = _KERNEL_KEYS[low]
        if dev == "meta":
            rec.fake = func  # a meta kernel is the operator's shape function
        elif dev is None:
            rec.kernel = func
        else:
            rec.device_kernels[dev] = func


def impl(qualname: Any, types: Any = None, func: Callable[..., Any] | None = None, *, lib: Any = None) -> Any:
    """Registers a kernel of ``ns::name`` for device types or dispatch keys; also the older
    ``impl(lib, name, dispatch_key)`` form."""
    if isinstance(qualname, Library):
        library, name, key = qualname, types, func if isinstance(func, str) else ""

        def register_old(f: Callable[..., Any]) -> Callable[..., Any]:
            library.impl(name, f, key)
            return f

        return register_old
    rec = _lookup(qualname)
    if types is None:
        types = "CompositeImplicitAutograd"

    def inner(f: Callable[..., Any]) -> Callable[..., Any]:
        _impl_into(rec, types, f)
        return f

    return inner if func is None else inner(func)


def fallthrough_kernel() -> None:
    """A placeholder kernel that defers to the next dispatch key (nothing to defer to here)."""
    raise NotImplementedError("fallthrough_kernel should never be called")


class Library:
    """A namespace of operators: ``Library("mylib", "DEF")`` then ``.define(schema)`` and
    ``.impl(name, fn, dispatch_key)``. ``kind`` is ``"DEF"`` (a new namespace), ``"FRAGMENT"``
    (adding to one) or ``"IMPL"`` (kernels only)."""

    def __init__(self, ns: str, kind: str, dispatch_key: str = "") -> None:
        if kind not in ("DEF", "IMPL", "FRAGMENT"):
            raise ValueError(f"Library: unsupported kind {kind!r}; expected 'DEF', 'IMPL' or 'FRAGMENT'")
        if not isinstance(ns, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ns):
            raise ValueError(f"Library: invalid namespace {ns!r}")
        self.ns, self.kind, self.dispatch_key = ns, kind, dispatch_key
        self._defined: list[str] = []

    def __repr__(self) -> str:
        return f"Library(kind={self.kind}, ns={self.ns}, dispatch_key={self.dispatch_key})"

    def define(self, schema: str, alias_analysis: str = "", *, tags: Any = ()) -> str:
        if self.kind == "IMPL":
            raise RuntimeError(
                f"Library({self.ns!r}, 'IMPL') cannot define operators; use 'DEF' or 'FRAGMENT'"
            )
        name, rest = _schema_name_and_args(schema)
        if not name:
            raise RuntimeError(f"Library.define: the schema {schema!r} names no operator")
        short = name.split("::")[-1].split(".")[0]
        if f"{self.ns}::{short}" in _REGISTRY and f"{self.ns}::{short}" in self._defined:
            raise RuntimeError(f"Library.define: {self.ns}::{short} is already defined")
        _REGISTRY[f"{self.ns}::{short}"] = _Operator(self.ns, short, f"{self.ns}::{short}{rest}")
        self._defined.append(f"{self.ns}::{short}")
        return short

    def impl(
        self, op_name: Any, fn: Callable[..., Any], dispatch_key: str = "", *, with_keyset: bool = False
    ) -> None:
        if isinstance(op_name, str):
            qualified = op_name if "::" in op_name else f"{self.ns}::{op_name}"
        else:
            qualified = getattr(
                getattr(op_name, "overloadpacket", op_name), "_qualified_op_name", str(op_name)
            )
        rec = _lookup(qualified)
        if fn is fallthrough_kernel:
            return
        _impl_into(rec, dispatch_key or self.dispatch_key or "CompositeImplicitAutograd", fn)

    def fallback(self, fn: Callable[..., Any], dispatch_key: str = "", *, with_keyset: bool = False) -> None:
        """Raises ``NotImplementedError``: rustdl has no dispatcher to fall back through."""
        raise NotImplementedError(
            f"Library({self.ns!r}).fallback: rustdl has no dispatcher to register a fallback in"
        )

    def _destroy(self) -> None:
        for q in self._defined:
            _REGISTRY.pop(q, None)
        self._defined = []


def get_ctx() -> Any:
    """Raises ``RuntimeError``: there is no fake-tensor tracing context in rustdl."""
    raise RuntimeError(
        "torch.library.get_ctx() can only be called inside a fake (register_fake) function under tracing"
    )


class OpCheckError(Exception):
    pass


def opcheck(
    op: Any,
    args: tuple,
    kwargs: dict[str, Any] | None = None,
    *,
    test_utils: str | Sequence[str] = ("test_schema", "test_autograd_registration", "test_faketensor"),
    raise_exception: bool = True,
    atol: float | None = None,
    rtol: float | None = None,
) -> dict[str, str]:
    """Checks an operator on sample inputs: that it writes only to the arguments its schema
    says it mutates (``test_schema``), that inputs requiring grad meet an autograd formula
    (``test_autograd_registration``), and that its fake function agrees with the real output's
    shapes and dtypes (``test_faketensor``). Returns ``{test: "SUCCESS"}``; a failure raises
    ``OpCheckError`` (or is reported in the dict with ``raise_exception=False``)."""
    rec = _lookup(op)
    kwargs = dict(kwargs or {})
    tests = [test_utils] if isinstance(test_utils, str) else list(test_utils)
    results: dict[str, str] = {}

    def fail(test: str, why: str) -> None:
        if raise_exception:
            raise OpCheckError(f"opcheck(op, ...): {test} failed with {why}")
        results[test] = why

    def flat(out: Any) -> list[Any]:
        return _tensors(out if isinstance(out, (tuple, list)) else [out])

    for test in tests:
        if test == "test_schema":
            before = [t.detach().clone() for t in _tensors(list(args) + list(kwargs.values()))]
            with rustdl.no_grad():
                rec(*args, **kwargs)
            names = list(rec.signature.parameters) if rec.signature is not None else []
            changed = []
            for k, (t, was) in enumerate(zip(_tensors(list(args) + list(kwargs.values())), before)):
                same = was.shape == t.shape and bool(rustdl.equal(was.nan_to_num(), t.detach().nan_to_num()))
                if not same:
                    changed.append(names[k] if k < len(names) else f"argument {k}")
            allowed = rec.mutates
            bad = [c for c in changed if allowed is not None and c not in allowed]
            if bad:
                fail(test, f"the operator mutated {bad}, which mutates_args does not name")
            else:
                results[test] = "SUCCESS"
        elif test == "test_autograd_registration":
            needs = any(t.requires_grad for t in _tensors(list(args) + list(kwargs.values())))
            if needs and rec.opaque and rec.backward is None:
                fail(test, "inputs that require grad but no autograd formula (use register_autograd)")
            else:
                results[test] = "SUCCESS"
        elif test == "test_faketensor":
            if rec.fake is None:
                if rec.opaque:
                    fail(test, "no fake function registered (use register_fake)")
                else:
                    results[test] = "SUCCESS"
                continue
            with rustdl.no_grad():
                real = flat(rec(*args, **kwargs))
                fake = flat(rec.fake(*args, **kwargs))
            if len(real) != len(fake) or any(
                tuple(r.shape) != tuple(f.shape) or r.dtype != f.dtype for r, f in zip(real, fake)
            ):
                fail(
                    test,
                    "a fake function whose outputs differ from the real ones: "
                    f"{[(tuple(f.shape), f.dtype) for f in fake]} vs {[(tuple(r.shape), r.dtype) for r in real]}",
                )
            else:
                results[test] = "SUCCESS"
        elif test in ("test_aot_dispatch_dynamic", "test_aot_dispatch_static"):
            # no ahead-of-time tracing here: the operator is called as eager code would call it
            with rustdl.no_grad():
                rec(*args, **kwargs)
            results[test] = "SUCCESS"
        else:
            raise ValueError(f"opcheck: unknown test {test!r}")
    return results
