"""How a tensor prints: PyTorch's layout, worked out on a numpy copy of the values.

``Tensor.__repr__`` (in Rust) hands over the values as a numpy array plus the suffixes it knows
(device, dtype, autograd); everything about the numbers follows PyTorch: fixed or scientific
notation chosen from the finite nonzero values, floats that are all whole printed as ``2.``,
columns padded to the widest finite value (infinities and NaN are not padded to), summaries with
``...`` past ``threshold`` elements, lines wrapped at ``linewidth``, and empty tensors shown
with their size. The options are those of ``set_printoptions``.
"""

from __future__ import annotations

import math

import numpy as np

from ._tensor_api import _PRINT_OPTIONS


class _Formatter:
    """Width and notation shared by every element of one tensor."""

    def __init__(self, values: np.ndarray, precision: int, sci_mode):
        self.floating = values.dtype.kind == "f"
        self.precision = precision
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = values.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.width = max(self.width, len(str(v)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if finite.size == 0:
            return  # zeros, infinities and NaN only: whole-number style, no padding
        mags = np.abs(finite)
        lo, hi = float(mags.min()), float(mags.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        if sci_mode is None:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        else:
            self.sci_mode = bool(sci_mode)
        vals = finite.tolist()
        if self.sci_mode:
            self.width = max(len(f"{v:.{precision}e}") for v in vals)
        elif self.int_mode:
            self.width = max(len(f"{v:.0f}") + 1 for v in vals)
        else:
            self.width = max(len(f"{v:.{precision}f}") for v in vals)

    def format(self, v) -> str:
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.width}.{self.precision}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{self.precision}f}"
        else:
            s = str(v)
        return " " * (self.width - len(s)) + s


class _ComplexFormatter:
    """PyTorch's complex layout: the real and imaginary parts formatted each by its own
    :class:`_Formatter` (``6.+0.j``, ``-2.0000+2.5000j``)."""

    def __init__(self, values: np.ndarray, precision: int, sci_mode):
        self.real = _Formatter(values.real, precision, sci_mode)
        self.imag = _Formatter(values.imag, precision, sci_mode)
        self.width = self.real.width + self.imag.width + 1

    def format(self, v) -> str:
        v = complex(v)
        imag = (self.imag.format(v.imag) + "j").lstrip()
        if imag[0] not in "+-":
            imag = "+" + imag
        return self.real.format(v.real) + imag


def _summarized(a: np.ndarray, edge: int) -> np.ndarray:
    """The values a summary shows (the first and last ``edge`` along every dim)."""
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate([a[:edge], a[-edge:]]) if a.shape[0] > 2 * edge else a
    if not edge:
        return np.empty([0] * a.ndim, dtype=a.dtype)
    rows = (
        list(range(edge)) + list(range(a.shape[0] - edge, a.shape[0]))
        if a.shape[0] > 2 * edge
        else range(a.shape[0])
    )
    return np.stack([_summarized(a[i], edge) for i in rows])


def _body(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter, opts: dict) -> str:
    edge = opts["edgeitems"]
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        per_line = max(1, int(math.floor((opts["linewidth"] - indent) / (fmt.width + 2))))
        if summarize and not edge:
            items = ["..."]
        elif summarize and a.shape[0] > 2 * edge:
            items = [fmt.format(v) for v in a[:edge].tolist()] + [" ..."]
            items += [fmt.format(v) for v in a[-edge:].tolist()]
        else:
            items = [fmt.format(v) for v in a.tolist()]
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = a.shape[0]
    if summarize and n > 2 * edge:
        parts = [_body(a[i], indent + 1, summarize, fmt, opts) for i in range(edge)] + ["..."]
        parts += [_body(a[i], indent + 1, summarize, fmt, opts) for i in range(n - edge, n)]
    else:
        parts = [_body(a[i], indent + 1, summarize, fmt, opts) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def tensor_repr(
    values: np.ndarray,
    dtype_name: str,
    default_float: bool,
    device: str | None,
    grad: str | None,
    cls: type | None = None,
) -> str:
    """``tensor(...)`` for these values. ``dtype_name`` is shown unless the dtype is the default
    float dtype (``default_float``), int64 or bool (for an empty tensor: unless it is the default
    float dtype), ``device`` and ``grad`` (``grad_fn=<...>`` or ``requires_grad=True``) when
    given. An instance of a Tensor subclass ``cls`` that takes part in ``__torch_function__`` is
    shown as ``Name(...)``, as PyTorch shows it (``Parameter`` and the other opted-out ones as
    plain tensors)."""
    opts = dict(_PRINT_OPTIONS)
    opts["precision"] = int(opts["precision"])
    opts["edgeitems"] = int(opts["edgeitems"])
    prefix = "tensor("
    if cls is not None and cls.__name__ != "Tensor":
        from ._dispatch import kind

        if kind(cls) == 1:
            prefix = f"{cls.__name__}("
    indent = len(prefix)
    suffixes = [f"device='{device}'"] if device else []
    if values.size == 0:
        if values.ndim != 1:
            suffixes.append(f"size={tuple(values.shape)}")
        if not default_float:
            suffixes.append(f"dtype={dtype_name}")
        body = "[]"
    else:
        if not opts["edgeitems"]:
            suffixes.append(f"size={tuple(values.shape)}")
        if not (default_float or dtype_name.endswith(("int64", "bool"))):
            suffixes.append(f"dtype={dtype_name}")
        summarize = values.size > opts["threshold"]
        shown = _summarized(values, opts["edgeitems"]) if summarize else values
        kind = _ComplexFormatter if values.dtype.kind == "c" else _Formatter
        fmt = kind(shown, opts["precision"], opts["sci_mode"])
        body = _body(values, indent, summarize, fmt, opts)
    if grad:
        suffixes.append(grad)
    out = prefix + body
    last = len(out) - out.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > opts["linewidth"]:
            out += ",\n" + " " * indent + s
            last = indent + len(s)
        else:
            out += ", " + s
            last += len(s) + 2
    return out + ")"


class _PrinterOptions:
    """``torch._tensor_str.PRINT_OPTS``: the current ``set_printoptions`` values as attributes."""

    def __getattr__(self, name: str) -> object:
        try:
            return _PRINT_OPTIONS[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: object) -> None:
        if name not in _PRINT_OPTIONS:
            raise AttributeError(f"PRINT_OPTS has no option '{name}'")
        _PRINT_OPTIONS[name] = value

    def __repr__(self) -> str:
        return f"PrinterOptions({_PRINT_OPTIONS})"


PRINT_OPTS = _PrinterOptions()


def _tensor_str(self: object, indent: int) -> str:
    """The bracketed values of a tensor as its repr shows them, continuation lines indented by
    ``indent`` (library code builds the repr of its tensor subclasses from this)."""
    import rustdl

    t = self.detach() if isinstance(self, rustdl.Tensor) else rustdl.as_tensor(self)
    values = t.cpu().numpy()
    opts = dict(_PRINT_OPTIONS)
    opts["precision"] = int(opts["precision"])
    opts["edgeitems"] = int(opts["edgeitems"])
    if values.size == 0:
        return "[]"
    summarize = values.size > opts["threshold"]
    shown = _summarized(values, opts["edgeitems"]) if summarize else values
    fmt = _Formatter(shown, opts["precision"], opts["sci_mode"])
    return _body(values, indent, summarize, fmt, opts)


def _add_suffixes(tensor_str: str, suffixes: list[str], indent: int, force_newline: bool) -> str:
    """``tensor_str`` followed by ``, suffix`` for each, wrapped at the line width, and ``)``."""
    out = tensor_str
    last = len(out) - out.rfind("\n") + 1
    for s in suffixes:
        if force_newline or last + len(s) + 2 > _PRINT_OPTIONS["linewidth"]:
            out += ",\n" + " " * indent + s
            last = indent + len(s)
            force_newline = False
        else:
            out += ", " + s
            last += len(s) + 2
    return out + ")"


def _str(self: object, *, tensor_contents: object = None) -> str:
    """The repr of a tensor, made directly (a subclass's ``__torch_function__`` that handles
    ``Tensor.__repr__`` by calling this is not called again)."""
    import rustdl

    if not isinstance(self, rustdl.Tensor):
        return repr(self)
    native = rustdl.Tensor.__dict__["__repr__"]
    while getattr(native, "__wrapped__", None) is not None:
        native = native.__wrapped__
    return native(self)
