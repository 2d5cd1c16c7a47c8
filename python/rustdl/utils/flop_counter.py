"""``torch.utils.flop_counter``: counts the floating-point operations of matrix products,
convolutions and attention run inside a :class:`FlopCounterMode`, per module.

The counts follow PyTorch's formulas (a product of ``(m, k)`` and ``(k, n)`` is ``2·m·k·n``
FLOPs, a convolution ``2 · batch · out-positions · C_out · C_in/groups · kernel``, attention its
two batched products). While a mode is active the Python entry points of those operations
(``Tensor.matmul``/``@``/``mm``/``bmm``/``addmm``/``baddbmm``, ``nn.functional.linear``,
the convolutions and ``scaled_dot_product_attention``, and the convolution modules) are
counted, each call once however it is composed inside. Only the forward computation is counted:
rustdl's backward pass runs in its engine, out of the mode's sight, where PyTorch also counts
the gradient products.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

__all__ = ["FlopCounterMode", "register_flop_formula"]

_state = threading.local()


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(getattr(t, "shape", ()))


def _matmul_flops(a: Any, b: Any) -> int:
    sa, sb = _shape(a), _shape(b)
    if len(sa) < 2 or len(sb) < 2:
        return 0  # products with a vector (mv, dot) are not counted, as PyTorch's
    m, k = sa[-2], sa[-1]
    n = sb[-1]
    batch = math.prod(_broadcast(sa[:-2], sb[:-2]))
    return 2 * batch * m * k * n


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    return tuple(max(x, y) for x, y in zip(a, b))


def _conv_flops(x: Any, w: Any, out: Any, transposed: bool) -> int:
    xs, ws, os_ = _shape(x), _shape(w), _shape(out)
    if len(xs) == len(ws) - 1:  # unbatched input
        xs, os_ = (1, *xs), (1, *os_)
    positions = (xs if transposed else os_)[2:]
    c_out, c_in, *kernel = ws
    return 2 * xs[0] * math.prod(positions) * c_out * c_in * math.prod(kernel)


def _sdpa_flops(q: Any, k: Any, v: Any) -> int:
    qs, ks, vs = _shape(q), _shape(k), _shape(v)
    batch = math.prod(qs[:-2])
    s_q, d_q, s_k, d_v = qs[-2], qs[-1], ks[-2], vs[-1]
    return 2 * batch * s_q * s_k * d_q + 2 * batch * s_q * s_k * d_v


def _arg(args: tuple, kwargs: dict, i: int, name: str) -> Any:
    return args[i] if len(args) > i else kwargs.get(name)


def _matmul_op(a: Any, b: Any) -> str:
    """The product PyTorch's matmul becomes for these shapes: a batched product when both
    sides have batch dimensions, else a matrix product (or a vector one, not counted)."""
    da, db = len(_shape(a)), len(_shape(b))
    if db == 1:
        return "mv"
    if da >= 3 and db >= 3:
        return "bmm"
    return "mm"


def _matmul_any(a: Any, b: Any) -> int:
    sa, sb = _shape(a), _shape(b)
    if len(sb) == 1:
        return 0
    if len(sa) == 1:
        sa = (1, *sa)
    return _matmul_flops(_Shaped(sa), _Shaped(sb))


class _Shaped:
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def _linear_op(args: tuple, kwargs: dict) -> str:
    bias = _arg(args, kwargs, 2, "bias")
    return "addmm" if len(_shape(args[0])) == 2 and bias is not None else "mm"


# entry point -> (operator reported, FLOPs of one call) from (args, kwargs, result)
_FORMULAS: dict[str, Callable[[tuple, dict, Any], tuple[str, int]]] = {
    "mm": lambda a, k, r: ("mm", _matmul_flops(a[0], _arg(a, k, 1, "mat2"))),
    "bmm": lambda a, k, r: ("bmm", _matmul_flops(a[0], _arg(a, k, 1, "mat2"))),
    "matmul": lambda a, k, r: (
        _matmul_op(a[0], _arg(a, k, 1, "other")),
        _matmul_any(a[0], _arg(a, k, 1, "other")),
    ),
    "rmatmul": lambda a, k, r: (_matmul_op(a[1], a[0]), _matmul_any(a[1], a[0])),
    "addmm": lambda a, k, r: ("addmm", _matmul_flops(_arg(a, k, 1, "mat1"), _arg(a, k, 2, "mat2"))),
    "baddbmm": lambda a, k, r: ("baddbmm", _matmul_flops(_arg(a, k, 1, "batch1"), _arg(a, k, 2, "batch2"))),
    "linear": lambda a, k, r: (
        _linear_op(a, k),
        2 * math.prod(_shape(a[0])[:-1]) * math.prod(_shape(_arg(a, k, 1, "weight"))),
    ),
    "convolution": lambda a, k, r: ("convolution", _conv_flops(a[0], _arg(a, k, 1, "weight"), r, False)),
    "convolution_transposed": lambda a, k, r: (
        "convolution",
        _conv_flops(a[0], _arg(a, k, 1, "weight"), r, True),
    ),
    "_scaled_dot_product_attention": lambda a, k, r: (
        "_scaled_dot_product_flash_attention_for_cpu",
        _sdpa_flops(_arg(a, k, 0, "query"), _arg(a, k, 1, "key"), _arg(a, k, 2, "value")),
    ),
}


def register_flop_formula(targets: Any, get_raw: bool = False) -> Callable[[Callable], Callable]:
    """Registers ``formula`` for the named entry points (``"mm"``, ``"convolution"``, ...); it
    is called as ``formula(args, kwargs, result)`` and returns the FLOPs of one call."""

    def register(formula: Callable) -> Callable:
        for t in targets if isinstance(targets, (list, tuple)) else [targets]:
            name = str(getattr(t, "_name", t)).split(".")[0]
            _FORMULAS[name] = lambda a, k, r, n=name: (n, formula(a, k, r))
        return formula

    return register


def _op_key(name: str) -> Any:
    try:
        from rustdl.torchcompat import _torch_ops

        return getattr(_torch_ops.aten, name)
    except Exception:  # noqa: BLE001 - the name itself where the operator table is unavailable
        return name


class _Patches:
    """Wraps the counted entry points while at least one mode is active (reference-counted)."""

    active = 0
    saved: list[tuple[Any, str, Any]] = []
    lock = threading.Lock()

    @classmethod
    def wrap(cls, owner: Any, attr: str, formula: str) -> None:
        original = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
        if original is None:
            return
        fn = original.__func__ if isinstance(original, staticmethod) else original

        def counted(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(_state, "depth", 0)
            _state.depth = depth + 1
            try:
                result = fn(*args, **kwargs)
            finally:
                _state.depth = depth
            if depth == 0:
                for mode in list(getattr(_state, "modes", ())):
                    mode._count(formula, args, kwargs, result)
            return result

        counted.__name__ = getattr(fn, "__name__", attr)
        counted.__doc__ = getattr(fn, "__doc__", None)
        cls.saved.append((owner, attr, original))
        setattr(owner, attr, staticmethod(counted) if isinstance(original, staticmethod) else counted)

    @classmethod
    def enter(cls) -> None:
        with cls.lock:
            cls.active += 1
            if cls.active > 1:
                return
            import rustdl
            from rustdl.nn import functional as F
            from rustdl.nn.modules import conv

            for name in ("mm", "bmm", "addmm", "baddbmm", "matmul"):
                cls.wrap(rustdl.Tensor, name, name)
                cls.wrap(rustdl, name, name)
            cls.wrap(rustdl.Tensor, "__matmul__", "matmul")
            cls.wrap(rustdl.Tensor, "__rmatmul__", "rmatmul")
            cls.wrap(F, "linear", "linear")
            for d in (1, 2, 3):
                cls.wrap(F, f"conv{d}d", "convolution")
                cls.wrap(F, f"conv_transpose{d}d", "convolution_transposed")
            cls.wrap(F, "scaled_dot_product_attention", "_scaled_dot_product_attention")
            for klass in vars(conv).values():
                if isinstance(klass, type):
                    if "_conv" in klass.__dict__:
                        cls.wrap(klass, "_conv", "convolution")
                    if "_conv_transpose" in klass.__dict__:
                        cls.wrap(klass, "_conv_transpose", "convolution_transposed")

    @classmethod
    def exit(cls) -> None:
        with cls.lock:
            cls.active -= 1
            if cls.active > 0:
                return
            for owner, attr, original in reversed(cls.saved):
                setattr(owner, attr, original)
            cls.saved.clear()


class FlopCounterMode:
    """Counts FLOPs of what runs inside ``with FlopCounterMode() as m:``; per module (by the
    name ``Model.layer.sublayer``) and in total (``"Global"``).

    Example:
        >>> with FlopCounterMode(display=False) as counter:
        ...     model(x)
        >>> counter.get_total_flops()
    """

    def __init__(
        self, mods: Any = None, depth: int = 2, display: bool = True, custom_mapping: Any = None
    ) -> None:
        self.depth = depth
        self.display = display
        self.flop_counts: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        self._parents: list[str] = ["Global"]
        self._names: dict[int, str] = {}
        self._handles: list[Any] = []
        if custom_mapping:
            for op, formula in custom_mapping.items():
                register_flop_formula(op)(lambda a, k, r, f=formula: f(a, k, r))

    def _name(self, module: Any) -> str:
        name = self._names.get(id(module))
        if name is None:
            name = type(module).__name__
            self._names[id(module)] = name
        for child_name, child in module.named_children():
            self._names.setdefault(id(child), f"{name}.{child_name}")
        return name

    def _pre(self, module: Any, args: Any) -> None:
        self._parents.append(self._name(module))

    def _post(self, module: Any, args: Any, output: Any) -> None:
        if len(self._parents) > 1:
            self._parents.pop()

    def _count(self, formula: str, args: tuple, kwargs: dict, result: Any) -> None:
        op, flops = _FORMULAS[formula](args, kwargs, result)
        if not flops:
            return
        key = _op_key(op)
        for parent in dict.fromkeys(self._parents):
            self.flop_counts[parent][key] += flops

    def get_total_flops(self) -> int:
        return sum(self.flop_counts["Global"].values())

    def get_flop_counts(self) -> dict[str, dict[Any, int]]:
        return {k: dict(v) for k, v in self.flop_counts.items()}

    def get_table(self, depth: int | None = None) -> str:
        depth = self.depth if depth is None else depth
        rows = [("Module", "FLOP", "% Total")]
        total = self.get_total_flops() or 1
        for mod, counts in self.flop_counts.items():
            if mod != "Global" and mod.count(".") >= depth:
                continue
            indent = "" if mod == "Global" else " " * mod.count(".")
            rows.append(
                (indent + mod, str(sum(counts.values())), f"{100 * sum(counts.values()) / total:.2f}%")
            )
            for op, n in counts.items():
                rows.append(
                    (
                        indent + f" - {getattr(op, '_qualified_op_name', op)}",
                        str(n),
                        f"{100 * n / total:.2f}%",
                    )
                )
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)

    def __enter__(self) -> FlopCounterMode:
        from rustdl.nn.modules import module

        self.flop_counts.clear()
        self._parents = ["Global"]
        self._handles = [
            module.register_module_forward_pre_hook(self._pre),
            module.register_module_forward_hook(self._post),
        ]
        modes = getattr(_state, "modes", None)
        if modes is None:
            modes = _state.modes = []
        modes.append(self)
        _Patches.enter()
        return self

    def __exit__(self, *exc: Any) -> None:
        _Patches.exit()
        _state.modes.remove(self)
        for h in self._handles:
            h.remove()
        self._handles = []
        if self.display:
            print(self.get_table(self.depth))
