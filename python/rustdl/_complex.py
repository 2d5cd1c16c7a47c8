"""Complex tensors: ``rustdl.complex64`` / ``complex128`` values held as a pair of real tensors
(real and imaginary parts) of the same shape, dtype and device.

Every operation is made of real tensor operations on the two parts, so autograd, the GPU and
in-place writes work as they do for real tensors; a real loss computed from complex values
backpropagates into the real tensors they came from. The gradient of a complex leaf is
``∂L/∂re + i·∂L/∂im``, PyTorch's convention. ``torch.fft``, ``stft``/``istft``, ``view_as_real``
and ``torch.complex``/``polar`` produce and consume them (see :mod:`rustdl.fft`).

``view_as_real`` is a view (writes through it reach the complex tensor, and back) when the
parts are, or can be made, the two halves of one real ``(..., 2)`` tensor; see
:func:`view_as_real` for what stays a copy. ``z.real`` and ``z.imag`` are the parts themselves
(views, as in PyTorch). The ``linalg`` factorizations of complex matrices (svd, qr, eigh,
slogdet, cholesky, pinv) run numpy's complex LAPACK forward and hand-written complex backward
formulas (not differentiable twice).
"""

from __future__ import annotations

import builtins
import functools
import math
import numbers
from typing import Any

import numpy as np

from . import _rustdl
from ._rustdl import Tensor


def _r():
    """The rustdl package (imported late: this module is loaded while it initialises)."""
    import rustdl

    return rustdl


class ComplexDType:
    """``rustdl.complex64`` (parts in float32) and ``rustdl.complex128`` (float64)."""

    is_complex = True
    is_floating_point = False
    is_signed = True

    def __init__(self, name: str, real) -> None:
        self.name = name
        self.real_dtype = real

    @property
    def itemsize(self) -> int:
        return 2 * self.real_dtype.itemsize

    def to_real(self):
        return self.real_dtype

    def to_complex(self):
        return self

    def __repr__(self) -> str:
        pkg = repr(self.real_dtype).split(".")[0]
        return f"{pkg}.{self.name}"

    def __reduce__(self):
        return (_complex_dtype_by_name, (self.name,))


complex64 = ComplexDType("complex64", _rustdl.float32)
complex128 = ComplexDType("complex128", _rustdl.float64)


def _complex_dtype_by_name(name: str) -> ComplexDType:
    return {"complex64": complex64, "complex128": complex128}[name]


def complex_dtype_of(real_dtype) -> ComplexDType:
    """The complex dtype whose parts have ``real_dtype`` (float64 → complex128, else complex64)."""
    return complex128 if real_dtype == _rustdl.float64 else complex64


def _is_complex_number(x) -> bool:
    return isinstance(x, (builtins.complex, np.complexfloating)) or (
        isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real)
    )


def _float_part_dtype(t: Tensor):
    return t.dtype if t.dtype.is_floating_point else _r().get_default_dtype()


class ComplexTensor:
    """A complex tensor (see the module docstring). Build one with ``rustdl.complex(re, im)``,
    ``rustdl.zeros(..., dtype=rustdl.complex64)``, ``rustdl.tensor`` of complex data, or the
    ``rustdl.fft`` transforms."""

    __rustdl_defer__ = True
    # numpy scalars and arrays on the left defer to this class's reflected operators
    __array_ufunc__ = None
    __array_priority__ = 1000.0
    # _pair: a real (..., 2) tensor whose [..., 0] and [..., 1] are the parts, when known
    __slots__ = ("_re", "_im", "_pair", "__weakref__")

    def __init__(self, re: Tensor, im: Tensor) -> None:
        if not isinstance(re, Tensor) or not isinstance(im, Tensor):
            raise TypeError("complex: the real and imaginary parts must be tensors")
        if tuple(re.shape) != tuple(im.shape):
            re, im = _r().broadcast_tensors(re, im)
        if re.dtype != im.dtype:
            raise TypeError(f"complex: parts of different dtypes ({re.dtype} and {im.dtype})")
        if not re.dtype.is_floating_point:
            raise TypeError(f"complex: the parts must be floating point, got {re.dtype}")
        if re.device != im.device:
            raise RuntimeError(f"complex: parts on different devices ({re.device} and {im.device})")
        self._re = re
        self._im = im
        self._pair = None

    # ---------- attributes ----------

    @property
    def real(self) -> Tensor:
        return self._re

    @real.setter
    def real(self, value) -> None:
        self._re[...] = value

    @property
    def imag(self) -> Tensor:
        return self._im

    @imag.setter
    def imag(self, value) -> None:
        self._im[...] = value

    @property
    def shape(self):
        return self._re.shape

    @property
    def dtype(self) -> ComplexDType:
        return complex_dtype_of(self._re.dtype)

    @property
    def device(self):
        return self._re.device

    @property
    def is_cuda(self) -> bool:
        return self._re.is_cuda

    @property
    def ndim(self) -> int:
        return self._re.ndim

    @property
    def requires_grad(self) -> bool:
        return self._re.requires_grad or self._im.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> ComplexTensor:
        self._re.requires_grad_(requires_grad)
        self._im.requires_grad_(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._re.is_leaf and self._im.is_leaf

    @property
    def grad(self) -> ComplexTensor | None:
        gr, gi = self._re.grad, self._im.grad
        if gr is None and gi is None:
            return None
        return ComplexTensor(
            gr if gr is not None else _rustdl.zeros_like(self._re),
            gi if gi is not None else _rustdl.zeros_like(self._im),
        )

    @grad.setter
    def grad(self, value) -> None:
        if value is None:
            self._re.grad = None
            self._im.grad = None
        else:
            value = as_complex(value, like=self)
            self._re.grad = value._re
            self._im.grad = value._im

    @property
    def grad_fn(self):
        return self._re.grad_fn or self._im.grad_fn

    def size(self, dim: int | None = None):
        return self._re.size() if dim is None else self._re.size(dim)

    def dim(self) -> int:
        return self._re.ndim

    def numel(self) -> int:
        return self._re.numel()

    nelement = numel

    def element_size(self) -> int:
        return self.dtype.itemsize

    def __len__(self) -> int:
        return len(self._re)

    def is_complex(self) -> bool:
        return True

    # a dense, strided, unquantized tensor
    is_sparse = is_sparse_csr = is_quantized = is_meta = is_mkldnn = is_nested = False

    def is_floating_point(self) -> bool:
        return False

    def is_contiguous(self, memory_format=None) -> bool:
        return True

    def is_conj(self) -> bool:
        return False

    def resolve_conj(self) -> ComplexTensor:
        return self

    def resolve_neg(self) -> ComplexTensor:
        return self

    def _map(self, fn) -> ComplexTensor:
        return ComplexTensor(fn(self._re), fn(self._im))

    # ---------- conversions ----------

    def detach(self) -> ComplexTensor:
        return self._map(lambda t: t.detach())

    def detach_(self) -> ComplexTensor:
        self._re = self._re.detach()
        self._im = self._im.detach()
        self._pair = None
        return self

    @property
    def data(self) -> ComplexTensor:
        """The values without history, sharing memory (in-place ops on it reach this tensor)."""
        p = self._pair_view()
        if p is not None:
            d = p.data
            out = ComplexTensor(d[..., 0], d[..., 1])
            out._pair = d
            return out
        return ComplexTensor(self._re.data, self._im.data)

    @data.setter
    def data(self, value) -> None:
        v = as_complex(value, like=self)
        p = v._pair_view()
        self._re.data = v._re.data
        self._im.data = v._im.data
        self._pair = None if p is None else p.data

    def _pair_view(self) -> Tensor | None:
        """The real ``(..., 2)`` tensor whose halves are the parts, if known and still so (same
        memory, strides and requires_grad)."""
        p = getattr(self, "_pair", None)
        if p is None:
            return None
        re, im = self._re, self._im
        try:
            ok = (
                tuple(p.shape) == (*re.shape, 2)
                and p.dtype == re.dtype
                and p.device == re.device
                and p.requires_grad == self.requires_grad
                and p.data_ptr() == re.data_ptr()
                and im.data_ptr() == re.data_ptr() + p.stride(-1) * re.element_size()
                and tuple(p.stride()[:-1]) == tuple(re.stride()) == tuple(im.stride())
            )
        except Exception:
            ok = False
        return p if ok else None

    def _as_real(self) -> Tensor:
        """``view_as_real``: see that function."""
        re, im = self._re, self._im
        p = self._pair_view()
        if p is not None:
            return p[...]
        if self.requires_grad:
            if _rustdl.is_grad_enabled() or not self._interleaved():
                return _rustdl.stack([re, im], -1)  # a differentiable copy
        elif not self._interleaved():
            # re-homed: the parts become the two halves of one new real tensor
            p = _rustdl.stack([re.detach(), im.detach()], -1)
            self._re, self._im, self._pair = p[..., 0], p[..., 1], p
            return p[...]
        return re.as_strided((*re.shape, 2), (*re.stride(), 1), re.storage_offset())

    def normal_(self, mean=0.0, std=1.0, *, generator=None) -> ComplexTensor:
        """Each part drawn from N(mean, std²/2), (re, im) pairs in turn, as PyTorch."""
        return self._random_("normal_", mean, std / math.sqrt(2), generator)

    def uniform_(self, from_=0.0, to=1.0, *, generator=None) -> ComplexTensor:
        """Each part drawn from U(from_, to), (re, im) pairs in turn, as PyTorch."""
        return self._random_("uniform_", from_, to, generator)

    def _random_(self, method: str, a, b, generator) -> ComplexTensor:
        kw = {} if generator is None else {"generator": generator}
        view = None
        if not self.requires_grad:
            view = self._pair_view()
            view = view[...] if view is not None else self._as_real() if self._interleaved() else None
        if view is not None:
            getattr(view, method)(a, b, **kw)
            return self
        pairs = _rustdl.zeros((*self.shape, 2), dtype=self._re.dtype, device=self.device)
        getattr(pairs, method)(a, b, **kw)
        self._re.copy_(pairs[..., 0])
        self._im.copy_(pairs[..., 1])
        return self

    def clone(self, *, memory_format=None) -> ComplexTensor:
        return self._map(lambda t: t.clone())

    def contiguous(self, memory_format=None) -> ComplexTensor:
        return self._map(lambda t: t.contiguous())

    def to(self, *args, **kwargs) -> Any:
        """Device moves keep the value complex; a complex dtype sets the parts' precision; a
        real dtype keeps the real part (PyTorch warns that the imaginary part is discarded)."""
        dtype = kwargs.pop("dtype", None)
        rest = []
        for a in args:
            if isinstance(a, (ComplexDType, _rustdl.dtype)):
                dtype = a
            else:
                rest.append(a)
        out = self._map(lambda t: t.to(*rest, **kwargs)) if rest or kwargs else self
        if isinstance(dtype, ComplexDType):
            return out._map(lambda t: t.to(dtype.real_dtype))
        if dtype is not None:
            import warnings

            warnings.warn("Casting complex values to real discards the imaginary part", stacklevel=2)
            return out._re.to(dtype)
        return out

    def cpu(self) -> ComplexTensor:
        return self._map(lambda t: t.cpu())

    def cuda(self, *args, **kwargs) -> ComplexTensor:
        return self._map(lambda t: t.cuda(*args, **kwargs))

    def gpu(self, *args, **kwargs) -> ComplexTensor:
        return self._map(lambda t: t.gpu(*args, **kwargs))

    def cfloat(self) -> ComplexTensor:
        return self.to(complex64)

    # real casts keep the real part, with PyTorch's warning (``to`` warns)
    def float(self, memory_format=None) -> Any:
        return self.to(_rustdl.float32)

    def double(self, memory_format=None) -> Any:
        return self.to(_rustdl.float64)

    def half(self, memory_format=None) -> Any:
        return self.to(_rustdl.float16)

    def bfloat16(self, memory_format=None) -> Any:
        return self.to(_rustdl.bfloat16)

    def bool(self, memory_format=None) -> Any:
        """True where either part is non-zero (no warning: nothing is discarded)."""
        return (self._re != 0) | (self._im != 0)

    def cdouble(self) -> ComplexTensor:
        return self.to(complex128)

    def type_as(self, other) -> Any:
        return self.to(other.dtype)

    def chalf(self) -> ComplexTensor:
        """complex64: rustdl has no 32-bit complex storage (as ``half()`` gives float32)."""
        from ._tensor_api import _warn_half

        _warn_half("Tensor.chalf")
        return self.to(complex64)

    @property
    def nbytes(self) -> int:
        return self.numel() * self.element_size()

    @property
    def itemsize(self) -> int:
        return self.element_size()

    def addcmul(self, tensor1, tensor2, *, value=1) -> ComplexTensor:
        """``self + value * tensor1 * tensor2``."""
        return self + as_complex(tensor1, like=self) * tensor2 * value

    def addcdiv(self, tensor1, tensor2, *, value=1) -> ComplexTensor:
        """``self + value * tensor1 / tensor2``."""
        return self + as_complex(tensor1, like=self) / tensor2 * value

    def lerp(self, end, weight) -> ComplexTensor:
        """``self + weight * (end - self)``."""
        return self + (as_complex(end, like=self) - self) * weight

    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self.requires_grad and not force and _rustdl.is_grad_enabled():
            raise RuntimeError(
                "numpy: can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()"
            )
        re = self._re.detach().cpu().numpy()
        im = self._im.detach().cpu().numpy()
        out = np.empty(re.shape, dtype=np.complex128 if re.dtype == np.float64 else np.complex64)
        out.real = re
        out.imag = im
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.detach().numpy()
        return a if dtype is None else a.astype(dtype)

    def tolist(self):
        return self.detach().numpy().tolist()

    def item(self) -> complex:
        if self.numel() != 1:
            raise RuntimeError(f"item: a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return builtins.complex(self._re.item(), self._im.item())

    def __complex__(self) -> complex:
        return self.item()

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return self.item() != 0

    def __float__(self):
        raise TypeError("can't convert complex to float")

    def __int__(self):
        raise TypeError("can't convert complex to int")

    def __repr__(self) -> str:
        from ._tensor_str import tensor_repr

        a = self.detach().numpy()
        pkg = repr(self._re.dtype).split(".")[0]
        grad = None
        if self.requires_grad and not self.is_leaf:
            grad = "grad_fn=<ComplexBackward>"
        elif self.requires_grad:
            grad = "requires_grad=True"
        # complex64 goes with the default float32 (no dtype shown), as PyTorch's
        default = self._re.dtype == _r().get_default_dtype() and a.size > 0
        device = str(self.device) if self.device.type != "cpu" else None
        return tensor_repr(a, f"{pkg}.{self.dtype.name}", default, device, grad)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self.numel() == 1 and self.ndim == 0:
            return format(self.item(), spec)
        return repr(self)

    # ---------- autograd ----------

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Backpropagates from a complex value with an explicit complex ``gradient``
        (``∂L/∂re + i·∂L/∂im`` of the loss downstream)."""
        if gradient is None:
            raise RuntimeError("grad can be implicitly created only for real scalar outputs")
        g = as_complex(gradient, like=self)
        from .autograd import backward

        backward(
            [self._re, self._im],
            [g._re, g._im],
            retain_graph=retain_graph,
            create_graph=create_graph,
            inputs=inputs,
        )

    def retain_grad(self) -> None:
        self._re.retain_grad()
        self._im.retain_grad()

    def register_hook(self, hook):
        raise RuntimeError("register_hook is not supported on complex tensors in rustdl")

    # ---------- elementwise ----------

    def abs(self) -> Tensor:
        """|z|, with gradient 0 at z = 0 (as PyTorch)."""
        r2 = self._re * self._re + self._im * self._im
        nz = r2 > 0
        safe = _rustdl.where(nz, r2, _rustdl.ones_like(r2)).sqrt()
        return _rustdl.where(nz, safe, _rustdl.zeros_like(r2))

    __abs__ = abs
    absolute = abs

    def angle(self) -> Tensor:
        """arg z in (−π, π], with gradient 0 at z = 0."""
        nz = (self._re != 0) | (self._im != 0)
        im = _rustdl.where(nz, self._im, _rustdl.zeros_like(self._im))
        re = _rustdl.where(nz, self._re, _rustdl.ones_like(self._re))
        return _r().atan2(im, re)

    def sgn(self) -> ComplexTensor:
        a = self.abs()
        nz = a > 0
        d = _rustdl.where(nz, a, _rustdl.ones_like(a))
        return ComplexTensor(
            _rustdl.where(nz, self._re / d, _rustdl.zeros_like(a)),
            _rustdl.where(nz, self._im / d, _rustdl.zeros_like(a)),
        )

    def conj(self) -> ComplexTensor:
        return ComplexTensor(self._re, -self._im)

    conj_physical = conj

    def exp(self) -> ComplexTensor:
        m = self._re.exp()
        return ComplexTensor(m * self._im.cos(), m * self._im.sin())

    def log(self) -> ComplexTensor:
        return ComplexTensor(self.abs().log(), self.angle())

    def sqrt(self) -> ComplexTensor:
        return self.pow(0.5)

    def reciprocal(self) -> ComplexTensor:
        d = self._re * self._re + self._im * self._im
        return ComplexTensor(self._re / d, -self._im / d)

    def square(self) -> ComplexTensor:
        return self * self

    # the trigonometric and hyperbolic functions by their real and imaginary parts
    def sin(self) -> ComplexTensor:
        a, b = self._re, self._im
        return ComplexTensor(a.sin() * b.cosh(), a.cos() * b.sinh())

    def cos(self) -> ComplexTensor:
        a, b = self._re, self._im
        return ComplexTensor(a.cos() * b.cosh(), -(a.sin() * b.sinh()))

    def sinh(self) -> ComplexTensor:
        a, b = self._re, self._im
        return ComplexTensor(a.sinh() * b.cos(), a.cosh() * b.sin())

    def cosh(self) -> ComplexTensor:
        a, b = self._re, self._im
        return ComplexTensor(a.cosh() * b.cos(), a.sinh() * b.sin())

    def tan(self) -> ComplexTensor:
        # (sin 2a + i sinh 2b) / (cos 2a + cosh 2b)
        a2, b2 = self._re * 2, self._im * 2
        d = a2.cos() + b2.cosh()
        return ComplexTensor(a2.sin() / d, b2.sinh() / d)

    def tanh(self) -> ComplexTensor:
        # (sinh 2a + i sin 2b) / (cosh 2a + cos 2b)
        a2, b2 = self._re * 2, self._im * 2
        d = a2.cosh() + b2.cos()
        return ComplexTensor(a2.sinh() / d, b2.sin() / d)

    def sigmoid(self) -> ComplexTensor:
        return ((-self).exp() + 1).reciprocal()

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
        """``|self - other| <= atol + rtol * |other|`` elementwise (equal values, infinities
        included, are close; a NaN part is close to a NaN part only with ``equal_nan``)."""
        o = as_complex(other, like=self)
        same = (self._re == o._re).logical_and(self._im == o._im)
        close = (self - o).abs() <= atol + rtol * o.abs()
        out = same.logical_or(close)
        if equal_nan:
            nan_a = self._re.isnan().logical_or(self._im.isnan())
            nan_b = o._re.isnan().logical_or(o._im.isnan())
            out = out.logical_or(nan_a.logical_and(nan_b))
        return out

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return bool(self.isclose(other, rtol, atol, equal_nan).all().item())

    def pow(self, exponent) -> ComplexTensor:
        if isinstance(exponent, int) and not isinstance(exponent, bool) and 0 <= exponent <= 64:
            out = ComplexTensor(_rustdl.ones_like(self._re), _rustdl.zeros_like(self._im))
            base = self
            e = exponent
            while e:
                if e & 1:
                    out = out * base
                e >>= 1
                if e:
                    base = base * base
            return out
        if isinstance(exponent, numbers.Real) and not _is_complex_number(exponent):
            r = self.abs() ** exponent
            th = self.angle() * exponent
            return ComplexTensor(r * th.cos(), r * th.sin())
        return (self.log() * exponent).exp()

    __pow__ = pow

    def __rpow__(self, base) -> ComplexTensor:
        return (as_complex(base, like=self).log() * self).exp()

    def __neg__(self) -> ComplexTensor:
        return ComplexTensor(-self._re, -self._im)

    neg = __neg__

    def __pos__(self) -> ComplexTensor:
        return self

    def __add__(self, other) -> ComplexTensor:
        o = as_complex(other, like=self)
        return ComplexTensor(self._re + o._re, self._im + o._im)

    __radd__ = __add__

    def __sub__(self, other) -> ComplexTensor:
        o = as_complex(other, like=self)
        return ComplexTensor(self._re - o._re, self._im - o._im)

    def __rsub__(self, other) -> ComplexTensor:
        return as_complex(other, like=self) - self

    def __mul__(self, other) -> ComplexTensor:
        if isinstance(other, Tensor) or (isinstance(other, numbers.Real) and not _is_complex_number(other)):
            if (
                isinstance(other, Tensor)
                and other.is_floating_point() is False
                and other.dtype == _rustdl.bool
            ):
                other = other.to(self._re.dtype)
            return ComplexTensor(self._re * other, self._im * other)
        o = as_complex(other, like=self)
        return ComplexTensor(self._re * o._re - self._im * o._im, self._re * o._im + self._im * o._re)

    __rmul__ = __mul__

    def __truediv__(self, other) -> ComplexTensor:
        if isinstance(other, Tensor) or (isinstance(other, numbers.Real) and not _is_complex_number(other)):
            return ComplexTensor(self._re / other, self._im / other)
        o = as_complex(other, like=self)
        d = o._re * o._re + o._im * o._im
        return ComplexTensor(
            (self._re * o._re + self._im * o._im) / d, (self._im * o._re - self._re * o._im) / d
        )

    def __rtruediv__(self, other) -> ComplexTensor:
        return as_complex(other, like=self) / self

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    divide = __truediv__
    multiply = __mul__

    def __eq__(self, other):  # type: ignore[override]
        if isinstance(other, (str, bytes, type(None))):
            return NotImplemented  # (then False by identity, as PyTorch compares with a string)
        o = as_complex(other, like=self)
        return (self._re == o._re) & (self._im == o._im)

    def __ne__(self, other):  # type: ignore[override]
        if isinstance(other, (str, bytes, type(None))):
            return NotImplemented
        o = as_complex(other, like=self)
        return (self._re != o._re) | (self._im != o._im)

    __hash__ = object.__hash__

    def isnan(self) -> Tensor:
        return self._re.isnan() | self._im.isnan()

    def isfinite(self) -> Tensor:
        return self._re.isfinite() & self._im.isfinite()

    def isinf(self) -> Tensor:
        return self._re.isinf() | self._im.isinf()

    # in place: the parts are written in place (autograd through them as for real tensors)

    def _set(self, value: ComplexTensor) -> ComplexTensor:
        self._re.copy_(value._re)
        self._im.copy_(value._im)
        return self

    def copy_(self, src, non_blocking: bool = False) -> ComplexTensor:
        return self._set(as_complex(src, like=self))

    def add_(self, other, *, alpha=1) -> ComplexTensor:
        return self._set(self + as_complex(other, like=self) * alpha)

    def sub_(self, other, *, alpha=1) -> ComplexTensor:
        return self._set(self - as_complex(other, like=self) * alpha)

    def _snapshot(self) -> ComplexTensor:
        """This value as it is now, apart from the parts about to be overwritten: a product
        saves its operands for backward, and writing the result into those very tensors would
        invalidate them (PyTorch saves a copy of ``self`` for ``mul_`` likewise)."""
        return ComplexTensor(self._re.clone(), self._im.clone())

    def mul_(self, other) -> ComplexTensor:
        return self._set(self._snapshot() * other)

    def div_(self, other) -> ComplexTensor:
        return self._set(self._snapshot() / other)

    def addcmul_(self, tensor1, tensor2, *, value=1) -> ComplexTensor:
        return self._set(self._snapshot().addcmul(tensor1, tensor2, value=value))

    def addcdiv_(self, tensor1, tensor2, *, value=1) -> ComplexTensor:
        return self._set(self._snapshot().addcdiv(tensor1, tensor2, value=value))

    def lerp_(self, end, weight) -> ComplexTensor:
        return self._set(self._snapshot().lerp(end, weight))

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def zero_(self) -> ComplexTensor:
        self._re.zero_()
        self._im.zero_()
        return self

    def fill_(self, value) -> ComplexTensor:
        v = builtins.complex(value)
        self._re.fill_(v.real)
        self._im.fill_(v.imag)
        return self

    # ---------- products ----------

    def __matmul__(self, other) -> ComplexTensor:
        return _bilinear(Tensor.matmul, self, other)

    def __rmatmul__(self, other) -> ComplexTensor:
        return _bilinear(Tensor.matmul, other, self)

    matmul = __matmul__

    def mm(self, other) -> ComplexTensor:
        return _bilinear(Tensor.mm, self, other)

    def bmm(self, other) -> ComplexTensor:
        return _bilinear(Tensor.bmm, self, other)

    def dot(self, other) -> ComplexTensor:
        return _bilinear(Tensor.dot, self, other)

    def vdot(self, other) -> ComplexTensor:
        return _bilinear(Tensor.dot, self.conj(), other)

    # ---------- reductions ----------

    def sum(self, *args, **kwargs) -> ComplexTensor:
        return self._map(lambda t: t.sum(*args, **kwargs))

    def mean(self, *args, **kwargs) -> ComplexTensor:
        return self._map(lambda t: t.mean(*args, **kwargs))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None) -> Tensor:
        return _r().linalg.vector_norm(
            self.abs(), 2 if p == "fro" else p, dim=dim, keepdim=keepdim, dtype=dtype
        )

    def cumsum(self, dim, *, dtype=None) -> ComplexTensor:
        return self._map(lambda t: t.cumsum(dim))

    def prod(self, dim=None, keepdim=False, *, dtype=None) -> ComplexTensor:
        if dim is None:
            parts = self.reshape(-1).unbind(0)
            out = ComplexTensor(
                _rustdl.ones((), dtype=self._re.dtype, device=self.device),
                _rustdl.zeros((), dtype=self._re.dtype, device=self.device),
            )
            for p in parts:
                out = out * p
            return out
        parts = self.unbind(dim)
        out = parts[0] if parts else None
        for p in parts[1:]:
            out = out * p
        if out is None:
            raise RuntimeError("prod: empty dimension of a complex tensor")
        return out.unsqueeze(dim) if keepdim else out

    # ---------- shapes and indexing ----------

    def __getitem__(self, idx) -> ComplexTensor:
        return ComplexTensor(self._re[idx], self._im[idx])

    def __setitem__(self, idx, value) -> None:
        v = as_complex(value, like=self)
        self._re[idx] = v._re
        self._im[idx] = v._im

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def reshape(self, *shape) -> ComplexTensor:
        return self._map(lambda t: t.reshape(*shape))

    def view(self, *shape) -> Any:
        if len(shape) == 1 and isinstance(shape[0], (ComplexDType, _rustdl.dtype)):
            if isinstance(shape[0], ComplexDType):
                return self.to(shape[0])
            return view_as_real(self) if shape[0] == self._re.dtype else self.to(shape[0])
        return self._map(lambda t: t.view(*shape))

    def view_as(self, other) -> ComplexTensor:
        return self.view(*other.shape)

    def reshape_as(self, other) -> ComplexTensor:
        return self.reshape(*other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> ComplexTensor:
        return self._map(lambda t: t.flatten(start_dim, end_dim))

    def unflatten(self, dim, sizes) -> ComplexTensor:
        return self._map(lambda t: t.unflatten(dim, sizes))

    def permute(self, *dims) -> ComplexTensor:
        return self._map(lambda t: t.permute(*dims))

    def transpose(self, d0: int, d1: int) -> ComplexTensor:
        return self._map(lambda t: t.transpose(d0, d1))

    def t(self) -> ComplexTensor:
        return self._map(lambda t: t.t())

    @property
    def T(self) -> ComplexTensor:  # noqa: N802
        return self._map(lambda t: t.T)

    @property
    def mT(self) -> ComplexTensor:  # noqa: N802
        return self._map(lambda t: t.mT)

    @property
    def H(self) -> ComplexTensor:  # noqa: N802
        return self.conj().t()

    @property
    def mH(self) -> ComplexTensor:  # noqa: N802
        return self.conj().mT

    def adjoint(self) -> ComplexTensor:
        return self.mH

    def movedim(self, source, destination) -> ComplexTensor:
        return self._map(lambda t: t.movedim(source, destination))

    moveaxis = movedim

    def swapaxes(self, axis0: int, axis1: int) -> ComplexTensor:
        return self._map(lambda t: t.transpose(axis0, axis1))

    swapdims = swapaxes

    def ravel(self) -> ComplexTensor:
        return self.reshape(-1)

    def broadcast_to(self, size) -> ComplexTensor:
        return self._map(lambda t: t.broadcast_to(size))

    def tile(self, *dims) -> ComplexTensor:
        reps = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return self._map(lambda t: t.tile(reps))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None) -> ComplexTensor:
        return self._map(lambda t: t.repeat_interleave(repeats, dim))

    def fliplr(self) -> ComplexTensor:
        return self._map(lambda t: t.fliplr())

    def flipud(self) -> ComplexTensor:
        return self._map(lambda t: t.flipud())

    def rot90(self, k: int = 1, dims=(0, 1)) -> ComplexTensor:
        return self._map(lambda t: t.rot90(k, dims))

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> ComplexTensor:
        return self._map(lambda t: t.diag_embed(offset, dim1, dim2))

    def diagflat(self, offset: int = 0) -> ComplexTensor:
        return self._map(lambda t: t.diagflat(offset))

    def take_along_dim(self, indices, dim=None) -> ComplexTensor:
        return self._map(lambda t: t.take_along_dim(indices, dim))

    def take(self, index) -> ComplexTensor:
        return self._map(lambda t: t.take(index))

    def masked_select(self, mask) -> ComplexTensor:
        return self._map(lambda t: t.masked_select(mask))

    def narrow_copy(self, dim: int, start: int, length: int) -> ComplexTensor:
        return self._map(lambda t: t.narrow(dim, start, length).clone())

    def unsqueeze(self, dim: int) -> ComplexTensor:
        return self._map(lambda t: t.unsqueeze(dim))

    def squeeze(self, *dim) -> ComplexTensor:
        return self._map(lambda t: t.squeeze(*dim))

    def expand(self, *sizes) -> ComplexTensor:
        return self._map(lambda t: t.expand(*sizes))

    def expand_as(self, other) -> ComplexTensor:
        return self.expand(*other.shape)

    def repeat(self, *sizes) -> ComplexTensor:
        return self._map(lambda t: t.repeat(*sizes))

    def flip(self, *dims) -> ComplexTensor:
        return self._map(lambda t: t.flip(*dims))

    def roll(self, shifts, dims=None) -> ComplexTensor:
        return self._map(lambda t: t.roll(shifts, dims))

    def narrow(self, dim: int, start: int, length: int) -> ComplexTensor:
        return self._map(lambda t: t.narrow(dim, start, length))

    def select(self, dim: int, index: int) -> ComplexTensor:
        return self._map(lambda t: t.select(dim, index))

    def index_select(self, dim: int, index) -> ComplexTensor:
        return self._map(lambda t: t.index_select(dim, index))

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        return tuple(
            ComplexTensor(a, b) for a, b in zip(self._re.chunk(chunks, dim), self._im.chunk(chunks, dim))
        )

    def split(self, split_size, dim: int = 0) -> tuple:
        return tuple(
            ComplexTensor(a, b)
            for a, b in zip(self._re.split(split_size, dim), self._im.split(split_size, dim))
        )

    def unbind(self, dim: int = 0) -> tuple:
        return tuple(ComplexTensor(a, b) for a, b in zip(self._re.unbind(dim), self._im.unbind(dim)))

    def _pieces(self, method: str, *args) -> tuple:
        re, im = getattr(self._re, method)(*args), getattr(self._im, method)(*args)
        return tuple(ComplexTensor(a, b) for a, b in zip(re, im))

    def split_with_sizes(self, split_sizes, dim: int = 0) -> tuple:
        return self._pieces("split", list(split_sizes), dim)

    def tensor_split(self, indices_or_sections, dim: int = 0) -> tuple:
        return self._pieces("tensor_split", indices_or_sections, dim)

    def hsplit(self, sections) -> tuple:
        return self._pieces("hsplit", sections)

    def vsplit(self, sections) -> tuple:
        return self._pieces("vsplit", sections)

    def dsplit(self, sections) -> tuple:
        return self._pieces("dsplit", sections)

    def tril(self, diagonal: int = 0) -> ComplexTensor:
        return self._map(lambda t: t.tril(diagonal))

    def triu(self, diagonal: int = 0) -> ComplexTensor:
        return self._map(lambda t: t.triu(diagonal))

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> ComplexTensor:
        return self._map(lambda t: t.diagonal(offset, dim1, dim2))

    def unfold(self, dimension: int, size: int, step: int) -> ComplexTensor:
        return self._map(lambda t: t.unfold(dimension, size, step))

    def gather(self, dim: int, index, *, sparse_grad: bool = False) -> ComplexTensor:
        return self._map(lambda t: t.gather(dim, index))

    def diag(self, diagonal: int = 0) -> ComplexTensor:
        return self._map(lambda t: t.diag(diagonal))

    def trace(self) -> ComplexTensor:
        return self._map(lambda t: t.trace())

    def _like_parts(self, value) -> ComplexTensor:
        """``value`` as a ComplexTensor whose parts have this tensor's dtype."""
        v = as_complex(value, like=self)
        dt = self._re.dtype
        if v._re.dtype != dt:
            v = ComplexTensor(v._re.to(dt), v._im.to(dt))
        return v

    def masked_fill(self, mask, value) -> ComplexTensor:
        if isinstance(value, (Tensor, ComplexTensor)):  # a tensor value: its gradient kept
            v = self._like_parts(value)
            return ComplexTensor(_rustdl.where(mask, v._re, self._re), _rustdl.where(mask, v._im, self._im))
        v = builtins.complex(value)
        return ComplexTensor(self._re.masked_fill(mask, v.real), self._im.masked_fill(mask, v.imag))

    def masked_fill_(self, mask, value) -> ComplexTensor:
        if isinstance(value, (Tensor, ComplexTensor)):
            return self._set(self._snapshot().masked_fill(mask, value))
        v = builtins.complex(value)
        self._re.masked_fill_(mask, v.real)
        self._im.masked_fill_(mask, v.imag)
        return self

    def where(self, condition, other) -> ComplexTensor:
        return _r().where(condition, self, other)

    def index_put_(self, indices, values, accumulate: bool = False) -> ComplexTensor:
        v = self._like_parts(values)
        self._re.index_put_(indices, v._re, accumulate)
        self._im.index_put_(indices, v._im, accumulate)
        return self

    def index_put(self, indices, values, accumulate: bool = False) -> ComplexTensor:
        return self.clone().index_put_(indices, values, accumulate)

    def scatter_add_(self, dim: int, index, src) -> ComplexTensor:
        s = self._like_parts(src)
        self._re.scatter_add_(dim, index, s._re)
        self._im.scatter_add_(dim, index, s._im)
        return self

    def scatter_add(self, dim: int, index, src) -> ComplexTensor:
        s = self._like_parts(src)
        return ComplexTensor(self._re.scatter_add(dim, index, s._re), self._im.scatter_add(dim, index, s._im))

    def scatter(self, dim: int, index, src=None, value=None, *, reduce=None) -> ComplexTensor:
        """``src`` (a tensor, or a number as ``value``) written at ``index``; ``reduce='add'``
        adds instead (``'multiply'`` is not per part and is refused)."""
        if reduce not in (None, "add"):
            raise RuntimeError(f"scatter: reduce={reduce!r} is not supported for complex tensors")
        if src is None:
            src = value
        kw = {} if reduce is None else {"reduce": reduce}
        if isinstance(src, (Tensor, ComplexTensor)):
            s = self._like_parts(src)
            return ComplexTensor(
                self._re.scatter(dim, index, s._re, **kw), self._im.scatter(dim, index, s._im, **kw)
            )
        v = builtins.complex(src)
        return ComplexTensor(
            self._re.scatter(dim, index, value=v.real, **kw), self._im.scatter(dim, index, value=v.imag, **kw)
        )

    def scatter_(self, dim: int, index, src=None, value=None, *, reduce=None) -> ComplexTensor:
        return self._set(self._snapshot().scatter(dim, index, src, value, reduce=reduce))

    def index_add(self, dim: int, index, source, *, alpha=1) -> ComplexTensor:
        s = self._like_parts(as_complex(source, like=self) * alpha)
        return ComplexTensor(self._re.index_add(dim, index, s._re), self._im.index_add(dim, index, s._im))

    def index_add_(self, dim: int, index, source, *, alpha=1) -> ComplexTensor:
        return self._set(self._snapshot().index_add(dim, index, source, alpha=alpha))

    # ---------- more products and reductions ----------

    def mv(self, vec) -> ComplexTensor:
        return _bilinear(Tensor.mv, self, vec)

    def kron(self, other) -> ComplexTensor:
        return _bilinear(Tensor.kron, self, other)

    def inner(self, other) -> ComplexTensor:
        return _bilinear(Tensor.inner, self, other)

    def outer(self, vec2) -> ComplexTensor:
        return _bilinear(Tensor.outer, self, vec2)

    ger = outer

    def cumprod(self, dim: int, *, dtype=None) -> ComplexTensor:
        """Running product along ``dim``, by log2(n) rounds of products of shifted copies."""
        z = self.to(dtype) if isinstance(dtype, ComplexDType) else self
        if z.ndim == 0:
            return z.clone()
        d = dim % z.ndim
        n = z.shape[d]
        s = 1
        while s < n:
            tail = z.narrow(d, s, n - s) * z.narrow(d, 0, n - s)
            z = _r().cat([z.narrow(d, 0, s), tail], d)
            s *= 2
        return z

    def var(self, *args, **kwargs) -> Tensor:
        """Mean of ``|z - mean|²`` (real), as PyTorch: the variances of the parts added."""
        return self._re.var(*args, **kwargs) + self._im.var(*args, **kwargs)

    def std(self, *args, **kwargs) -> Tensor:
        return self.var(*args, **kwargs).sqrt()

    def _mean_like_var(self, args, kwargs) -> ComplexTensor:
        dim = kwargs.get("dim", args[0] if args and not isinstance(args[0], bool) else None)
        keepdim = kwargs.get("keepdim", args[2] if len(args) > 2 else False)
        return self.mean() if dim is None else self.mean(dim, keepdim=keepdim)

    def var_mean(self, *args, **kwargs) -> tuple:
        return self.var(*args, **kwargs), self._mean_like_var(args, kwargs)

    def std_mean(self, *args, **kwargs) -> tuple:
        return self.std(*args, **kwargs), self._mean_like_var(args, kwargs)

    # ---------- more elementwise ----------

    def log10(self) -> ComplexTensor:
        return self.log() * (1 / math.log(10))

    def log2(self) -> ComplexTensor:
        return self.log() * (1 / math.log(2))

    def atan(self) -> ComplexTensor:
        """``(i/2)·(log(1 - iz) - log(1 + iz))`` (numpy's branch cuts)."""
        a, b = self._re, self._im
        atan2 = _r().atan2
        re = (atan2(a, 1 - b) - atan2(-a, 1 + b)) * 0.5
        im = ((a * a + (1 + b) * (1 + b)).log() - (a * a + (1 - b) * (1 - b)).log()) * 0.25
        return ComplexTensor(re, im)

    arctan = atan

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None) -> ComplexTensor:
        return self._map(lambda t: t.nan_to_num(nan, posinf, neginf))

    def isreal(self) -> Tensor:
        return self._im == 0

    # ---------- linear algebra ----------

    def det(self) -> ComplexTensor:
        return _det(self)

    def inverse(self) -> ComplexTensor:
        return _inv(self)

    def slogdet(self) -> tuple:
        return _slogdet(self)

    def logdet(self) -> ComplexTensor:
        return _logdet(self)

    def svd(self, some: bool = True, compute_uv: bool = True) -> tuple:
        return _svd_old(self, some, compute_uv)

    def qr(self, some: bool = True) -> tuple:
        return _qr(self, "reduced" if some else "complete")

    def cholesky(self, upper: bool = False) -> ComplexTensor:
        return _cholesky(self, upper=upper)

    def pinverse(self, rcond: float = 1e-15) -> ComplexTensor:
        return _pinv(self, rcond)

    def matrix_power(self, n: int) -> ComplexTensor:
        return _matrix_power(self, n)

    # ---------- new tensors and metadata ----------

    def _new(self, factory, size, fill, dtype, device, requires_grad) -> Any:
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = tuple(size[0])
        args = (size,) if fill is None else (size, fill)
        out = getattr(_r(), factory)(
            *args,
            dtype=self.dtype if dtype is None else dtype,
            device=self.device if device is None else device,
        )
        return out.requires_grad_(True) if requires_grad else out

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **kwargs) -> Any:
        return self._new("zeros", size, None, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **kwargs) -> Any:
        return self._new("ones", size, None, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **kwargs) -> Any:
        return self._new("zeros", size, None, dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, **kwargs) -> Any:
        return self._new("full", (size,), fill_value, dtype, device, requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, **kwargs) -> Any:
        if isinstance(data, (Tensor, ComplexTensor)):
            data = data.detach().clone()
        return _r().tensor(
            data,
            dtype=self.dtype if dtype is None else dtype,
            device=self.device if device is None else device,
            requires_grad=requires_grad,
        )

    def is_signed(self) -> bool:
        return True

    def type(self, dtype=None, non_blocking: bool = False, **kwargs) -> Any:
        """With no argument the type name (``'torch.ComplexFloatTensor'``); else a cast."""
        if dtype is None:
            prefix, name = self._re.type().rsplit(".", 1)
            return f"{prefix}.Complex{name}"
        if isinstance(dtype, ComplexDType):
            return self.to(dtype)
        if isinstance(dtype, str) and dtype.rsplit(".", 1)[-1].startswith("Complex"):
            out = self.to(
                {"ComplexFloatTensor": complex64, "ComplexDoubleTensor": complex128}[dtype.rsplit(".", 1)[-1]]
            )
            return out.cuda() if ".cuda." in dtype else out
        return self.to(self._re.detach().reshape(-1)[:0].type(dtype).dtype)

    def _interleaved(self) -> bool:
        """Whether the parts are views of one real tensor with (re, im) pairs adjacent (a
        complex parameter's storage, ``view_as_complex``): strides count complex elements."""
        re, im = self._re, self._im
        if re.numel() == 0:
            return False
        try:
            if tuple(re.stride()) != tuple(im.stride()) or re.device != im.device:
                return False
            return im.data_ptr() - re.data_ptr() == re.element_size() and builtins.all(
                s % 2 == 0 for s, n in zip(re.stride(), re.shape) if n > 1
            )
        except Exception:
            return False

    def stride(self, dim: int | None = None):
        s = self._re.stride()
        if self._interleaved():
            s = tuple(x // 2 for x in s)
        return s if dim is None else s[dim]

    def storage_offset(self) -> int:
        off = self._re.storage_offset()
        return off // 2 if self._interleaved() else off


class ComplexParameter(ComplexTensor):
    """``nn.Parameter`` of a complex tensor. Its values live in a real Parameter of shape
    ``(*shape, 2)`` (real and imaginary parts last, as ``view_as_real``): that is what a module
    registers, ``parameters()`` yields, optimizers update and ``state_dict`` saves — PyTorch's
    optimizers likewise step complex parameters as their real view. The module attribute is this
    complex object, whose parts are views of the storage taken at each use."""

    __slots__ = ("_storage",)

    def __init__(self, data: ComplexTensor, requires_grad: bool = True) -> None:
        storage = _ComplexStorage(
            _r().stack([data._re.detach(), data._im.detach()], -1).contiguous(), requires_grad
        )
        storage._complex_param = self
        object.__setattr__(self, "_storage", storage)

    @property
    def _re(self) -> Tensor:  # type: ignore[override]
        return self._storage[..., 0]

    @property
    def _im(self) -> Tensor:  # type: ignore[override]
        return self._storage[..., 1]

    @property
    def requires_grad(self) -> bool:
        return self._storage.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self._storage.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> ComplexParameter:
        self._storage.requires_grad_(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return True

    @property
    def grad(self) -> ComplexTensor | None:
        g = self._storage.grad
        return None if g is None else ComplexTensor(g[..., 0], g[..., 1])

    @grad.setter
    def grad(self, value) -> None:
        if value is None:
            self._storage.grad = None
        else:
            value = as_complex(value, like=self)
            self._storage.grad = _r().stack([value._re, value._im], -1)

    @property
    def _pair(self) -> Tensor:  # type: ignore[override]
        return self._storage

    @property
    def data(self) -> ComplexTensor:
        d = self._storage.detach()
        out = ComplexTensor(d[..., 0], d[..., 1])
        out._pair = d
        return out

    @data.setter
    def data(self, value) -> None:
        value = as_complex(value, like=self)
        self._storage.data = _r().stack([value._re.detach(), value._im.detach()], -1)

    @property
    def grad_fn(self):
        return None

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = ComplexParameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = out
        return out

    def __reduce__(self):
        return (ComplexParameter, (self.detach(), self.requires_grad))


def _make_storage_class():
    from .nn.parameter import Parameter

    class _ComplexStorage(Parameter):
        """The real Parameter of shape ``(*shape, 2)`` behind a :class:`ComplexParameter`."""

        def __deepcopy__(self, memo):
            if id(self) in memo:
                return memo[id(self)]
            out = _ComplexStorage(self.detach().clone(), self.requires_grad)
            if self.grad is not None:
                out.grad = self.grad.clone()
            memo[id(self)] = out
            return out

        def __reduce_ex__(self, protocol: int):
            return (_rebuild_storage, (self.detach(), self.requires_grad))

    _ComplexStorage.__module__ = __name__
    return _ComplexStorage


_ComplexStorage: Any = None


def _rebuild_storage(data, requires_grad):
    """Unpickles the storage of a complex parameter."""
    return _ComplexStorage(data, requires_grad)


def storage_of(p):
    """The real tensor behind ``p``: a ComplexParameter's storage, else ``p`` itself."""
    return p._storage if isinstance(p, ComplexParameter) else p


def public_parameter(p):
    """What a module attribute gives for a registered parameter: the ComplexParameter of a
    complex parameter's real storage, else the parameter itself."""
    if type(p) is _ComplexStorage:
        cp = getattr(p, "_complex_param", None)
        if cp is None:
            cp = ComplexParameter.__new__(ComplexParameter)
            object.__setattr__(cp, "_storage", p)
            p._complex_param = cp
        return cp
    return p


def _bilinear(op, a, b) -> ComplexTensor:
    """``op`` (a product, linear in each argument) of complex or real operands."""
    if not isinstance(a, ComplexTensor):
        return ComplexTensor(op(a, b._re), op(a, b._im))
    if not isinstance(b, ComplexTensor):
        return ComplexTensor(op(a._re, b), op(a._im, b))
    return ComplexTensor(op(a._re, b._re) - op(a._im, b._im), op(a._re, b._im) + op(a._im, b._re))


def as_complex(x, like: ComplexTensor | None = None) -> ComplexTensor:
    """``x`` (complex, real tensor, Python or numpy number) as a ComplexTensor; numbers take the
    dtype and device of ``like``."""
    if isinstance(x, ComplexTensor):
        return x
    if isinstance(x, Tensor):
        re = (
            x
            if x.dtype.is_floating_point
            else x.to(like._re.dtype if like is not None else _float_part_dtype(x))
        )
        return ComplexTensor(re, _rustdl.zeros_like(re))
    if isinstance(x, (numbers.Number, np.number)):
        z = builtins.complex(x)
        dt = like._re.dtype if like is not None else _r().get_default_dtype()
        dev = like.device if like is not None else None
        return ComplexTensor(
            _rustdl.tensor(z.real, dtype=dt, device=dev), _rustdl.tensor(z.imag, dtype=dt, device=dev)
        )
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple)):
        a = np.asarray(x)
        # real data takes the precision of the complex operand; complex arrays keep their own
        dt = None if np.iscomplexobj(a) or like is None else like.dtype
        return _from_data(a, dt, like.device if like is not None else None, False)
    raise TypeError(f"expected a tensor or a number for a complex operation, got {type(x).__name__}")


def _from_data(data, dtype, device, requires_grad) -> ComplexTensor:
    a = np.asarray(data)
    if dtype is None:
        # numpy arrays keep their precision; Python numbers take the default dtype's
        if isinstance(data, np.ndarray) and a.dtype in (np.complex64, np.complex128):
            dtype = complex128 if a.dtype == np.complex128 else complex64
        else:
            dtype = complex_dtype_of(_r().get_default_dtype())
    rd = dtype.real_dtype
    # (np.ascontiguousarray would make a 0-d array 1-d)
    out = ComplexTensor(
        _rustdl.tensor(np.array(a.real, order="C"), dtype=rd, device=device),
        _rustdl.tensor(np.array(a.imag, order="C"), dtype=rd, device=device),
    )
    if requires_grad:
        out.requires_grad_(True)
    return out


def _contains_complex(data) -> bool:
    """True when ``data`` (nested lists/tuples, arrays, numbers) holds a complex value; walks
    the nesting without recursion (hostile depths are the converter's to refuse)."""
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, ComplexTensor) or _is_complex_number(x):
            return True
        if isinstance(x, np.ndarray):
            if np.iscomplexobj(x):
                return True
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
    return False


# ---------- functions of the rustdl namespace ----------


def complex(real: Tensor, imag: Tensor, *, out=None) -> ComplexTensor:  # noqa: A001
    """``real + i·imag`` from two real floating-point tensors (broadcast)."""
    if not (isinstance(real, Tensor) and isinstance(imag, Tensor)):
        raise TypeError("complex(): expected both inputs to be tensors")
    if real.dtype != imag.dtype:
        raise RuntimeError(
            f"complex(): expected both inputs to have the same dtype, got {real.dtype} and {imag.dtype}"
        )
    if real.dtype not in (_rustdl.float32, _rustdl.float64):
        raise RuntimeError(f"complex(): expected both inputs to be float32 or float64, got {real.dtype}")
    return ComplexTensor(real, imag)


def polar(abs: Tensor, angle: Tensor, *, out=None) -> ComplexTensor:  # noqa: A002
    """``abs·(cos angle + i·sin angle)``."""
    return ComplexTensor(abs * angle.cos(), abs * angle.sin())


def view_as_real(input: ComplexTensor) -> Tensor:  # noqa: A002
    """The parts as a real tensor with a last dimension of size 2: a view sharing memory with
    ``input`` when its parts are the halves of one real tensor (``view_as_complex``, complex
    parameters and their ``.data``; views of those without grad). Parts held apart are first
    moved into one new real tensor (so views taken earlier of ``input`` or of ``input.real``
    stop sharing its memory). A copy (differentiable, writes not reaching ``input``) remains
    where ``input`` requires grad and its parts are not known halves of one tensor."""
    if not isinstance(input, ComplexTensor):
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return input._as_real()


def view_as_complex(input: Tensor) -> ComplexTensor:  # noqa: A002
    """A complex tensor over a real one whose last dimension has size 2 (the parts are views)."""
    if not isinstance(input, Tensor) or input.ndim == 0 or input.shape[-1] != 2:
        shape = tuple(input.shape) if isinstance(input, Tensor) else None
        raise RuntimeError(f"view_as_complex: Tensor must have a last dimension of size 2, got shape {shape}")
    if input.dtype not in (_rustdl.float32, _rustdl.float64):
        raise RuntimeError(
            f"view_as_complex is only supported for float and double tensors, got {input.dtype}"
        )
    out = ComplexTensor(input[..., 0], input[..., 1])
    out._pair = input
    return out


def real(input):  # noqa: A002
    return input.real if isinstance(input, ComplexTensor) else input


def imag(input):  # noqa: A002
    if isinstance(input, ComplexTensor):
        return input.imag
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def angle(input, *, out=None):  # noqa: A002
    """arg of each element: for real input π where negative, 0 elsewhere (NaN stays NaN)."""
    if isinstance(input, ComplexTensor):
        return input.angle()
    x = input if input.is_floating_point() else input.to(_r().get_default_dtype())
    # 0 also at +inf (x * 0 would be NaN there); NaN stays NaN. The gradient is zero
    # everywhere, NaN entries included, as PyTorch's
    value = _r().where(
        x < 0, _r().full_like(x, math.pi), _r().where(x.isnan(), x.detach(), _r().zeros_like(x))
    )
    # joined to x through a never-taken branch: x stays in the graph with a zero gradient
    return _r().where(_r().zeros_like(x, dtype=_rustdl.bool), x, value) if x.requires_grad else value


def conj(input):  # noqa: A002
    return input.conj() if isinstance(input, ComplexTensor) else input


def is_complex(input) -> bool:  # noqa: A002
    return isinstance(input, ComplexTensor)


def _first_arg_complex(args, kwargs, key="input") -> bool:
    x = args[0] if args else kwargs.get(key)
    return isinstance(x, ComplexTensor)


def _wrap_method_dispatch(fn, method: str):
    """``fn`` where a complex first argument calls its method ``method`` instead."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if args and isinstance(args[0], ComplexTensor):
            kwargs.pop("out", None)
            return getattr(args[0], method)(*args[1:], **kwargs)
        return fn(*args, **kwargs)

    return wrapper


def _wrap_creation(fn):
    """A factory (``zeros``, ``randn``, ...) that makes a ComplexTensor for a complex dtype:
    each part drawn or filled by ``fn`` with the part dtype (random parts scaled by 1/√2 for
    ``randn``, as PyTorch's unit-variance complex normal)."""

    is_full = fn.__name__ == "full"

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not kwargs and not is_full:  # the common call: real, no dtype
            return fn(*args)
        dt = kwargs.get("dtype")
        if type(dt) is ComplexDType:
            requires_grad = kwargs.pop("requires_grad", False)
            kwargs["dtype"] = dt.real_dtype
            fill = None
            if fn.__name__ == "full":  # each part is filled with its own part of the value
                if len(args) > 1:
                    fill = builtins.complex(args[1])
                    args = (args[0], 0.0, *args[2:])
                else:
                    fill = builtins.complex(kwargs["fill_value"])
                    kwargs["fill_value"] = 0.0
            if fn.__name__ in ("rand", "randn"):  # drawn as PyTorch: (re, im) pairs interleaved
                if args and isinstance(args[0], (tuple, list)):
                    shape, rest = tuple(args[0]), args[1:]
                elif "size" in kwargs:
                    shape, rest = tuple(kwargs.pop("size")), args
                else:
                    shape, rest = args, ()
                pairs = fn(*shape, 2, *rest, **kwargs)
                re, im = pairs[..., 0].contiguous(), pairs[..., 1].contiguous()
            else:
                re = fn(*args, **kwargs)
                im = fn(*args, **kwargs)
            if fill is not None:
                re.fill_(fill.real)
                im.fill_(fill.imag)
            elif fn.__name__ in ("ones", "eye"):
                im.zero_()
            elif fn.__name__ == "randn":
                re = re * (1 / math.sqrt(2))
                im = im * (1 / math.sqrt(2))
            out = ComplexTensor(re, im)
            return out.requires_grad_(True) if requires_grad else out
        if is_full:
            v = args[1] if len(args) > 1 else kwargs.get("fill_value")
            if _is_complex_number(v):
                kwargs["dtype"] = complex_dtype_of(kwargs.get("dtype") or _r().get_default_dtype())
                return wrapper(*args, **kwargs)
        return fn(*args, **kwargs)

    return wrapper


def _wrap_like(fn):
    """``zeros_like`` and friends of a complex input (or with a complex dtype)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        dt = kwargs.get("dtype")
        input = args[0] if args else kwargs.get("input")  # noqa: A001
        if isinstance(input, ComplexTensor) or isinstance(dt, ComplexDType):
            if args:
                args = args[1:]
            else:
                kwargs.pop("input")
            target = (
                dt
                if isinstance(dt, ComplexDType)
                else (input.dtype if isinstance(input, ComplexTensor) else None)
            )
            base = input._re if isinstance(input, ComplexTensor) else input
            if target is None:  # a complex input asked for a real dtype
                return fn(base, *args, **kwargs)
            requires_grad = kwargs.pop("requires_grad", False)
            kwargs["dtype"] = target.real_dtype
            fill = None
            if fn.__name__ == "full_like":
                if args:
                    fill = builtins.complex(args[0])
                    args = (0.0, *args[1:])
                else:
                    fill = builtins.complex(kwargs["fill_value"])
                    kwargs["fill_value"] = 0.0
            if fn.__name__ in ("rand_like", "randn_like"):  # (re, im) pairs, as PyTorch draws
                pairs = fn(base.unsqueeze(-1).expand(*base.shape, 2), *args, **kwargs)
                re, im = pairs[..., 0].contiguous(), pairs[..., 1].contiguous()
                if fn.__name__ == "randn_like":  # unit variance in all, as ``randn``
                    re, im = re * (1 / math.sqrt(2)), im * (1 / math.sqrt(2))
            else:
                re = fn(base, *args, **kwargs)
                im = fn(base, *args, **kwargs)
            if fn.__name__ == "ones_like":
                im.zero_()
            elif fill is not None:
                re.fill_(fill.real)
                im.fill_(fill.imag)
            out = ComplexTensor(re, im)
            return out.requires_grad_(True) if requires_grad else out
        return fn(*args, **kwargs)

    return wrapper


def _complex_to_real_dtype(z, dt, data):
    """Complex values asked for as a real ``dt``: a bool dtype tests each for nonzero; a real
    dtype takes the real parts of a complex tensor or array (with numpy's warning), and refuses
    Python complex numbers, as PyTorch's ``tensor``/``as_tensor``."""
    if dt == _rustdl.bool:
        return (z._re != 0).logical_or(z._im != 0)
    if not isinstance(data, (Tensor, ComplexTensor, np.ndarray)):
        raise TypeError(f"tensor: must be real number, not complex (dtype={dt})")
    import warnings

    warnings.warn(
        "Casting complex values to real discards the imaginary part",
        np.exceptions.ComplexWarning,
        stacklevel=3,
    )
    return z._re.to(dt)


def _wrap_tensor(fn):
    """``tensor``/``as_tensor``: complex data or a complex dtype give a ComplexTensor."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        dt = kwargs.get("dtype")
        data = args[0] if args else kwargs.get("data")
        if not isinstance(dt, ComplexDType) and not isinstance(data, ComplexTensor):
            # real data converts natively; only data it refuses is looked at for complex values
            try:
                return fn(*args, **kwargs)
            except (TypeError, ValueError):
                if not _contains_complex(data):
                    raise
        if isinstance(data, ComplexTensor):
            out = data.to(dt) if isinstance(dt, ComplexDType) else data
            if fn.__name__ == "tensor":
                out = out.detach().clone()
            return out.requires_grad_(True) if kwargs.get("requires_grad") else out
        if isinstance(data, Tensor):
            out = as_complex(data.detach() if fn.__name__ == "tensor" else data)
            if isinstance(dt, ComplexDType):
                out = out.to(dt)
        else:
            if isinstance(data, (list, tuple)):
                data = [d.detach().numpy() if isinstance(d, ComplexTensor) else d for d in data]
            out = _from_data(data, dt if isinstance(dt, ComplexDType) else None, None, False)
        if dt is not None and not isinstance(dt, ComplexDType):
            out = _complex_to_real_dtype(out, dt, data)
        dev = kwargs.get("device")
        if dev is not None:
            out = out.to(dev)
        return out.requires_grad_(True) if kwargs.get("requires_grad") else out

    return wrapper


def _wrap_from_numpy(fn):
    """``from_numpy`` of a complex array: a complex tensor holding a copy of its values (the two
    parts are separate real tensors, so the array's memory cannot be shared)."""

    @functools.wraps(fn)
    def wrapper(arr):
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "c":
            return _from_data(arr, None, None, False)
        return fn(arr)

    return wrapper


def _wrap_sequence(fn):
    """``cat``/``stack``/``concat`` of a sequence holding complex tensors."""

    def has_complex(tensors) -> bool:
        if isinstance(tensors, (list, tuple)):
            for t in tensors:
                if isinstance(t, ComplexTensor):
                    return True
        return False

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tensors = args[0] if args else kwargs.get("tensors")
        if has_complex(tensors):
            kwargs.pop("out", None)
            kwargs.pop("tensors", None)
            args = args[1:]
            cs = [as_complex(t) for t in tensors]
            return ComplexTensor(
                fn([c._re for c in cs], *args, **kwargs), fn([c._im for c in cs], *args, **kwargs)
            )
        return fn(*args, **kwargs)

    return wrapper


def _wrap_bilinear(fn):
    """``matmul``/``mm``/``bmm``/``dot`` with a complex operand."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if len(args) == 2 and not kwargs:  # the common call
            a, b = args
            if isinstance(a, ComplexTensor) or isinstance(b, ComplexTensor):
                return _bilinear(fn, a, b)
            return fn(a, b)
        vals = list(args) + [v for k, v in kwargs.items() if k != "out"]
        if len(vals) >= 2 and (isinstance(vals[0], ComplexTensor) or isinstance(vals[1], ComplexTensor)):
            return _bilinear(fn, vals[0], vals[1])
        return fn(*args, **kwargs)

    return wrapper


def _einsum_complex(fn, equation, operands):
    """An einsum of complex and real operands, expanded over the parts (the product of the
    complex operands' parts, signed by i², for every choice of part)."""
    import itertools

    parts = []
    for op in operands:
        if isinstance(op, ComplexTensor):
            parts.append([(op._re, 0), (op._im, 1)])
        else:
            parts.append([(op, 0)])
    re = im = None
    for combo in itertools.product(*parts):
        k = builtins.sum(c[1] for c in combo)
        term = fn(equation, *[c[0] for c in combo])
        sign = -1 if k % 4 in (2, 3) else 1
        term = term if sign > 0 else -term
        if k % 2 == 0:
            re = term if re is None else re + term
        else:
            im = term if im is None else im + term
    if re is None:
        re = _rustdl.zeros_like(im)
    if im is None:
        im = _rustdl.zeros_like(re)
    return ComplexTensor(re, im)


def _wrap_einsum(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if args and not isinstance(args[0], str) and len(args) > 1:
            from ._tensor_api import einsum_sublists

            args = einsum_sublists(args)
        operands = args[1:]
        ops = operands[0] if len(operands) == 1 and isinstance(operands[0], (list, tuple)) else operands
        if args and builtins.any(isinstance(o, ComplexTensor) for o in ops):
            return _einsum_complex(fn, args[0], list(ops))
        return fn(*args, **kwargs)

    return wrapper


# ---------- linear algebra of complex matrices ----------


def _square(a, op: str) -> int:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"{op}: A must be batches of square matrices, but they are {tuple(a.shape)} matrices"
        )
    return a.shape[-1]


def _det(a: ComplexTensor) -> ComplexTensor:
    """det A by Gaussian elimination with partial pivoting, in complex arithmetic on the parts
    (one round of batched real ops per column, so gradients follow)."""
    n = _square(a, "linalg.det")
    r = _r()
    batch = tuple(a.shape[:-2])
    dt, dev = a._re.dtype, a.device
    det = ComplexTensor(r.ones(batch, dtype=dt, device=dev), r.zeros(batch, dtype=dt, device=dev))
    m = a
    for k in range(n):
        size = n - k
        col = m[..., :, 0]
        p = (col._re * col._re + col._im * col._im).detach().argmax(-1)  # pivot row per matrix
        rows = r.arange(size, device=dev).expand(*batch, size)
        pe = p.unsqueeze(-1)
        # row 0 and row p swapped: index p at 0, 0 at p, the rest in place
        idx = rows + (rows == 0).long() * pe - (rows == pe).long() * pe
        m = m.gather(-2, idx.unsqueeze(-1).expand(*batch, size, size))
        piv = m[..., 0, 0]
        sign = 1 - 2 * (p != 0).to(dt)
        det = det * piv * sign
        if k < n - 1:
            zero = (piv._re == 0) & (piv._im == 0)  # a zero column: det is 0, keep the rest finite
            safe = ComplexTensor(
                _rustdl.where(zero, _rustdl.ones_like(piv._re), piv._re),
                _rustdl.where(zero, _rustdl.zeros_like(piv._im), piv._im),
            )
            factors = m[..., 1:, 0] / safe.unsqueeze(-1)
            m = m[..., 1:, 1:] - factors.unsqueeze(-1) * m[..., 0:1, 1:]
    return det


def _embed(a: ComplexTensor) -> Tensor:
    """The real matrix ``[[re, -im], [im, re]]`` that acts on ``[x.re; x.im]`` as ``a`` on ``x``."""
    r = _r()
    return r.cat([r.cat([a._re, -a._im], -1), r.cat([a._im, a._re], -1)], -2)


def _solve_matrix(a, b) -> ComplexTensor:
    """X with A X = B for matrices B (A or B complex), by the real block system."""
    r = _r()
    if not isinstance(a, ComplexTensor):
        bc = as_complex(b)
        return ComplexTensor(r.linalg.solve(a, bc._re), r.linalg.solve(a, bc._im))
    n = a.shape[-1]
    bc = as_complex(b, like=a)
    x = r.linalg.solve(_embed(a), r.cat([bc._re, bc._im], -2))
    return ComplexTensor(x[..., :n, :], x[..., n:, :])


def _solve(a, b, *, left: bool = True) -> ComplexTensor:
    """``linalg.solve`` with a complex ``A`` or ``B`` (B a vector or batch of vectors where it
    has one dim fewer than A and matches A's leading shape, as PyTorch)."""
    n = _square(a, "linalg.solve")
    if not left:  # X A = B  ⇔  Aᵀ Xᵀ = Bᵀ
        return _solve_matrix(a.mT, b.mT).mT
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and tuple(b.shape) == tuple(a.shape[:-1]))
    if vector:
        if b.shape[-1] != n:
            raise RuntimeError(f"linalg.solve: incompatible shapes {tuple(a.shape)} and {tuple(b.shape)}")
        return _solve_matrix(a, b.unsqueeze(-1)).squeeze(-1)
    return _solve_matrix(a, b)


def _inv(a: ComplexTensor) -> ComplexTensor:
    """A⁻¹ from the real block system (first block column of the embedding's inverse)."""
    n = _square(a, "linalg.inv")
    r = _r()
    eye = r.eye(n, dtype=a._re.dtype, device=a.device)
    rhs = r.cat([eye, r.zeros_like(eye)], -2).expand(*a.shape[:-2], 2 * n, n)
    x = r.linalg.solve(_embed(a), rhs)
    return ComplexTensor(x[..., :n, :], x[..., n:, :])


# ---------- factorizations of complex matrices (numpy's complex LAPACK forward) ----------
#
# Each runs as an autograd Function of the two real parts: the forward in numpy, the backward
# the complex formula (PyTorch's convention: gradients ∂L/∂re + i·∂L/∂im), also in numpy (so not
# differentiable twice).


def _np_of(re: Tensor, im: Tensor) -> np.ndarray:
    """The complex ndarray of two parts (complex64 for float32 parts)."""
    r = re.detach().cpu().contiguous().numpy()
    i = im.detach().cpu().contiguous().numpy()
    out = np.empty(r.shape, dtype=np.complex128 if r.dtype == np.float64 else np.complex64)
    out.real = r
    out.imag = i
    return out


def _real_t(a, like: Tensor) -> Tensor:
    """A real ndarray as a tensor of ``like``'s dtype and device."""
    dt = np.float64 if like.dtype == _rustdl.float64 else np.float32
    out = _rustdl.tensor(np.array(np.real(a), dtype=dt, order="C"), dtype=like.dtype, device="cpu")
    return out if like.device.type == "cpu" else out.to(like.device)


def _parts_t(a, like: Tensor) -> tuple:
    return _real_t(np.real(a), like), _real_t(np.imag(a), like)


def _grad_np(gr, gi):
    """The complex gradient ``gr + i·gi`` (None when neither part has one)."""
    if gr is None and gi is None:
        return None
    r = 0.0 if gr is None else gr.detach().cpu().numpy().astype(np.float64)
    i = 0.0 if gi is None else gi.detach().cpu().numpy().astype(np.float64)
    return r + 1j * np.asarray(i)


def _mh(a):
    return np.conj(np.swapaxes(a, -1, -2))


def _diag(a):
    return np.diagonal(a, axis1=-2, axis2=-1)


def _with_diag(a, d):
    """``a`` plus ``d`` on its diagonal (a new array)."""
    out = np.array(a, dtype=np.complex128)
    n = out.shape[-1]
    idx = np.arange(n)
    out[..., idx, idx] += d
    return out


def _lapack(op: str, fn, *arrays):
    try:
        with np.errstate(all="ignore"):
            return fn(*arrays)
    except np.linalg.LinAlgError as err:
        raise _r().linalg.LinAlgError(f"linalg.{op}: {err}") from None


def _check_matrix(op: str, a, square: bool = True) -> ComplexTensor:
    if not isinstance(a, ComplexTensor):
        a = as_complex(a)
    if a.ndim < 2:
        raise RuntimeError(f"linalg.{op}: The input tensor A must have at least 2 dimensions.")
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"linalg.{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
            f"{a.shape[-1]} matrices"
        )
    return a


def _phase_check(op: str, im_diag, what: str) -> None:
    """PyTorch's refusal of a loss that depends on the arbitrary phases of complex vectors."""
    if not np.allclose(im_diag, 0, rtol=1e-2, atol=1e-2):
        raise RuntimeError(
            f"{op}: The {what} in the complex case are specified up to multiplication by e^{{i phi}}. "
            "The specified loss function depends on this phase term, making it ill-defined."
        )


def _Function():
    from .autograd import Function

    return Function


def _once(fn):
    from .autograd import once_differentiable

    return once_differentiable(fn)


_FUNCS: dict = {}


def _fn(name: str):
    """The autograd Function class ``name`` (made on first use: autograd loads after this module)."""
    cls = _FUNCS.get(name)
    if cls is None:
        spec = _SPECS[name]
        cls = type(name, (_Function(),), {
            "forward": staticmethod(spec[0]),
            "backward": staticmethod(_once(spec[1])),
        })  # fmt: skip
        _FUNCS[name] = cls
    return cls


# svd


def _svd_fwd(ctx, ar, ai, full):
    U, S, Vh = _lapack("svd", lambda a: np.linalg.svd(a, full_matrices=full), _np_of(ar, ai))
    ctx.U, ctx.S, ctx.Vh, ctx.like = U, S, Vh, ar
    ctx.set_materialize_grads(False)
    return (*_parts_t(U, ar), _real_t(S, ar), *_parts_t(Vh, ar))


def _svd_grad(U, S, Vh, gU, gS, gVh):
    """Complex SVD reverse mode, ``A = U diag(S) Vh`` with ``k = min(m, n)`` singular vectors
    carrying gradients: ``gA = U X Vh`` (plus the parts of ``gU``/``gV`` outside the spans of
    ``U``/``V``), ``X = ((a − aᴴ) ∘ F) S + S ((b − bᴴ) ∘ F) + diag(gS + i·(Im aᵢᵢ − Im bᵢᵢ)/(2Sᵢ))``
    with ``a = UᴴgU``, ``b = VᴴgV``, ``F_ij = 1/(S_j² − S_i²)`` off the diagonal."""
    k = S.shape[-1]
    U, Vh = U[..., :, :k], Vh[..., :k, :]
    V = _mh(Vh)
    m, n = U.shape[-2], V.shape[-2]
    S = S.astype(np.float64)
    X = np.zeros((*S.shape, k), np.complex128)
    imd = np.zeros(S.shape)
    with np.errstate(all="ignore"):
        F = 1.0 / (S[..., None, :] ** 2 - S[..., :, None] ** 2)
        F[..., np.arange(k), np.arange(k)] = 0
        if gU is not None:
            gU = gU[..., :, :k]
            a = _mh(U) @ gU
            X = X + ((a - _mh(a)) * F) * S[..., None, :]
            imd = imd + np.imag(_diag(a))
        if gVh is not None:
            gV = _mh(gVh[..., :k, :])
            b = _mh(V) @ gV
            X = X + S[..., :, None] * ((b - _mh(b)) * F)
            imd = imd - np.imag(_diag(b))
        if gU is not None or gVh is not None:
            _phase_check(
                "svd_backward",
                (0 if gU is None else np.imag(_diag(a))) + (0 if gVh is None else np.imag(_diag(b))),
                "singular vectors",
            )
        X = _with_diag(X, (0 if gS is None else gS) + 1j * imd / (2 * S))
        gA = U @ X @ Vh
        if gU is not None and m > k:
            gA = gA + ((gU - U @ a) / S[..., None, :]) @ Vh
        if gVh is not None and n > k:
            gA = gA + U @ _mh((gV - V @ b) / S[..., None, :])
    return gA


def _svd_bwd(ctx, gUr, gUi, gS, gVhr, gVhi):
    gU, gVh = _grad_np(gUr, gUi), _grad_np(gVhr, gVhi)
    gSn = None if gS is None else gS.detach().cpu().numpy().astype(np.float64)
    if gU is None and gVh is None and gSn is None:
        return None, None, None
    gA = _svd_grad(ctx.U, ctx.S, ctx.Vh, gU, gSn, gVh)
    return (*_parts_t(gA, ctx.like), None)


def _svd(A, full_matrices: bool = True, *, driver=None):
    """``linalg.svd`` of a complex matrix: ``(U, S, Vh)``, S real. Differentiable (as PyTorch:
    the vectors need distinct singular values and a loss independent of their phases)."""
    a = _check_matrix("svd", A, square=False)
    ur, ui, s, vr, vi = _fn("_ComplexSvd").apply(a._re, a._im, builtins.bool(full_matrices))
    return _r().linalg.SVDResult(ComplexTensor(ur, ui), s, ComplexTensor(vr, vi))


def _svdvals(A, *, driver=None) -> Tensor:
    a = _check_matrix("svdvals", A, square=False)
    if a.requires_grad and _rustdl.is_grad_enabled():
        return _svd(a, False).S
    s = _lapack("svdvals", lambda x: np.linalg.svd(x, compute_uv=False), _np_of(a._re, a._im))
    return _real_t(s, a._re)


def _svd_old(input, some: bool = True, compute_uv: bool = True):  # noqa: A002
    """``torch.svd`` of a complex matrix: ``(U, S, V)`` with ``V = Vhᴴ``."""
    a = _check_matrix("svd", input, square=False)
    if not compute_uv:
        *batch, m, n = a.shape
        z = lambda k: _r().zeros(*batch, k, k, dtype=a.dtype, device=a.device)  # noqa: E731
        return _r()._SVDResult(z(m), _svdvals(a), z(n))
    U, S, Vh = _svd(a, full_matrices=not some)
    return _r()._SVDResult(U, S, Vh.mH)


# qr


def _qr_fwd(ctx, ar, ai, mode):
    Q, R = _lapack("qr", lambda a: np.linalg.qr(a, mode=mode), _np_of(ar, ai))
    ctx.Q, ctx.R, ctx.mode, ctx.like = Q, R, mode, ar
    ctx.set_materialize_grads(False)
    return (*_parts_t(Q, ar), *_parts_t(R, ar))


def _qr_grad_tall(Q, R, gQ, gR):
    """``gA = (gQ + Q·herm(M)) R⁻ᴴ``, ``M = R gRᴴ − gQᴴ Q``, ``herm`` mirroring the strict lower
    triangle onto the upper (conjugated) and keeping the real part of the diagonal."""
    M = R @ _mh(gR) - _mh(gQ) @ Q
    low = np.tril(M, -1)
    herm = _with_diag(low + _mh(low), np.real(_diag(M)))
    B = gQ + Q @ herm
    with np.errstate(all="ignore"):
        return _mh(np.linalg.solve(R, _mh(B)))


def _qr_bwd(ctx, gQr, gQi, gRr, gRi):
    Q, R = ctx.Q.astype(np.complex128), ctx.R.astype(np.complex128)
    gQ, gR = _grad_np(gQr, gQi), _grad_np(gRr, gRi)
    if gQ is None and gR is None:
        return None, None, None
    m, n = Q.shape[-2], R.shape[-1]
    if ctx.mode == "complete" and m > n:
        if gQ is not None:
            raise NotImplementedError(
                "linalg.qr: the gradient of Q with mode='complete' and more rows than columns is not "
                "defined (its last columns are not determined by A); use mode='reduced'"
            )
        Q, R = Q[..., :, :n], R[..., :n, :]
        gR = gR[..., :n, :]
    gQ = np.zeros(Q.shape, np.complex128) + (0 if gQ is None else gQ)
    gR = np.zeros(R.shape, np.complex128) + (0 if gR is None else gR)
    if m >= n:
        gA = _qr_grad_tall(Q, R, gQ, gR)
    else:  # wide: A = Q [X Y], X = Q R1 square; Y = Q R2 moves Q too
        R1, R2, gR1, gR2 = R[..., :, :m], R[..., :, m:], gR[..., :, :m], gR[..., :, m:]
        gX = _qr_grad_tall(Q, R1, gQ + (Q @ R2) @ _mh(gR2), gR1)
        gA = np.concatenate([gX, Q @ gR2], -1)
    return (*_parts_t(gA, ctx.like), None)


def _qr_r_fwd(ctx, ar, ai):
    return _parts_t(_lapack("qr", lambda x: np.linalg.qr(x, mode="r"), _np_of(ar, ai)), ar)


def _qr_r_bwd(ctx, gr, gi):
    raise RuntimeError(
        "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
        "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr."
    )


def _qr(A, mode: str = "reduced"):
    """``linalg.qr`` of a complex matrix (R with a real diagonal, as LAPACK's); differentiable
    for full-rank input, as the real one."""
    a = _check_matrix("qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    if mode == "r":
        rr, ri = _fn("_ComplexQrR").apply(a._re, a._im)
        empty = _rustdl.zeros(0, dtype=a._re.dtype, device=a.device)
        return _r().linalg.QRResult(ComplexTensor(empty, empty.clone()), ComplexTensor(rr, ri))
    qr_, qi, rr, ri = _fn("_ComplexQr").apply(a._re, a._im, mode)
    return _r().linalg.QRResult(ComplexTensor(qr_, qi), ComplexTensor(rr, ri))


# eigh


def _eigh_fwd(ctx, ar, ai, uplo):
    w, V = _lapack("eigh", lambda a: np.linalg.eigh(a, UPLO=uplo), _np_of(ar, ai))
    ctx.w, ctx.V, ctx.like = w, V, ar
    ctx.set_materialize_grads(False)
    return (_real_t(w, ar), *_parts_t(V, ar))


def _eigh_bwd(ctx, gw, gVr, gVi):
    """``gA = V (skewH(VᴴgV) / E + diag(gw)) Vᴴ`` with ``E_ij = w_j − w_i`` (PyTorch's: the
    projection onto skew-Hermitian matrices, a Hermitian gradient)."""
    w, V = ctx.w.astype(np.float64), ctx.V.astype(np.complex128)
    gV = _grad_np(gVr, gVi)
    n = w.shape[-1]
    X = np.zeros(V.shape, np.complex128)
    if gV is not None:
        B = _mh(V) @ gV
        _phase_check("linalg_eigh_backward", np.imag(_diag(B)), "eigenvectors")
        B = (B - _mh(B)) * 0.5
        with np.errstate(all="ignore"):
            E = w[..., None, :] - w[..., :, None]
            E[..., np.arange(n), np.arange(n)] = 1
            X = B / E
        X[..., np.arange(n), np.arange(n)] = 0
    if gw is not None:
        X = _with_diag(X, gw.detach().cpu().numpy().astype(np.float64))
    elif gV is None:
        return None, None, None
    gA = V @ X @ _mh(V)
    return (*_parts_t(gA, ctx.like), None)


def _eigh(A, UPLO: str = "L"):
    """``linalg.eigh`` of a Hermitian matrix (only the ``UPLO`` triangle read; the diagonal's
    imaginary part ignored): real eigenvalues (ascending) and complex eigenvectors."""
    a = _check_matrix("eigh", A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    w, vr, vi = _fn("_ComplexEigh").apply(a._re, a._im, UPLO)
    return _r().linalg.EighResult(w, ComplexTensor(vr, vi))


def _eigvalsh(A, UPLO: str = "L") -> Tensor:
    a = _check_matrix("eigvalsh", A)
    if a.requires_grad and _rustdl.is_grad_enabled():
        return _eigh(a, UPLO).eigenvalues
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigvalsh: UPLO must be 'L' or 'U', got {UPLO!r}")
    w = _lapack("eigvalsh", lambda x: np.linalg.eigvalsh(x, UPLO=UPLO), _np_of(a._re, a._im))
    return _real_t(w, a._re)


# slogdet


def _slogdet_fwd(ctx, ar, ai):
    a = _np_of(ar, ai)
    sign, logabs = _lapack("slogdet", np.linalg.slogdet, a)
    ctx.a, ctx.sign, ctx.like = a, sign, ar
    return (*_parts_t(sign, ar), _real_t(logabs, ar))


def _slogdet_bwd(ctx, gsr, gsi, gl):
    """``gA = γ·A⁻ᴴ`` with ``γ = g_logabsdet + i·Im(g_sign·conj(sign))``."""
    gs = _grad_np(gsr, gsi)
    gamma = np.zeros(ctx.sign.shape, np.complex128)
    if gl is not None:
        gamma = gamma + gl.detach().cpu().numpy().astype(np.float64)
    if gs is not None:
        gamma = gamma + 1j * np.imag(gs * np.conj(ctx.sign))
    a = ctx.a.astype(np.complex128)
    try:
        inv = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        inv = np.full(a.shape, np.nan + 0j)
    return (*_parts_t(gamma[..., None, None] * _mh(inv), ctx.like), None)


def _slogdet(A):
    """``linalg.slogdet`` of complex matrices: ``(sign, logabsdet)``, ``sign`` complex of modulus
    1 (0 for a singular matrix), ``logabsdet`` real; differentiable through both."""
    a = _check_matrix("slogdet", A)
    sr, si, la = _fn("_ComplexSlogdet").apply(a._re, a._im)
    return _r().linalg.SlogdetResult(ComplexTensor(sr, si), la)


def _logdet(input) -> ComplexTensor:  # noqa: A002
    """``log det A`` of complex matrices: ``log|det A| + i·arg det A``."""
    sign, logabs = _slogdet(input)
    return ComplexTensor(logabs, sign.angle())


# cholesky


def _hermitian_of(a: np.ndarray, upper: bool) -> np.ndarray:
    """The Hermitian matrix of ``a``'s lower (``upper``: upper) triangle, real diagonal."""
    t = np.triu(a, 1) if upper else np.tril(a, -1)
    return t + _mh(t) + _with_diag(np.zeros(a.shape), np.real(_diag(a)))


def _chol_fwd(ctx, ar, ai, upper):
    h = _hermitian_of(_np_of(ar, ai), upper).astype(
        np.complex128 if ar.dtype == _rustdl.float64 else np.complex64
    )
    flat = h.reshape(-1, *h.shape[-2:])
    n = h.shape[-1]
    for b, m in enumerate(flat):  # the first failing leading minor, for PyTorch's message
        try:
            np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            k = next(j for j in range(1, n + 1) if not _pd(m[:j, :j]))
            prefix = f"(Batch element {b}): " if h.ndim > 2 else ""
            raise _r().linalg.LinAlgError(
                f"linalg.cholesky: {prefix}The factorization could not be completed because the input "
                f"is not positive-definite (the leading minor of order {k} is not positive-definite)."
            ) from None
    L = np.linalg.cholesky(h)
    ctx.L, ctx.upper, ctx.like = L, upper, ar
    out = _mh(L) if upper else L
    return _parts_t(out, ar)


def _pd(m) -> bool:
    try:
        np.linalg.cholesky(m)
        return True
    except np.linalg.LinAlgError:
        return False


def _chol_bwd(ctx, gr, gi):
    """``gA = L⁻ᴴ S L⁻¹`` with ``S = (tril(K) + tril(K, −1)ᴴ) / 2``, ``K = LᴴgL`` (PyTorch's)."""
    g = _grad_np(gr, gi)
    if g is None:
        return None, None, None
    L = ctx.L.astype(np.complex128)
    gL = _mh(g) if ctx.upper else g
    K = _mh(L) @ gL
    S = (np.tril(K) + _mh(np.tril(K, -1))) * 0.5
    with np.errstate(all="ignore"):
        X = np.linalg.solve(_mh(L), S)  # L⁻ᴴ S
        gA = _mh(np.linalg.solve(_mh(L), _mh(X)))  # X L⁻¹
    return (*_parts_t(gA, ctx.like), None)


def _cholesky(A, *, upper: bool = False) -> ComplexTensor:
    """``linalg.cholesky`` of Hermitian positive-definite matrices (one triangle read)."""
    a = _check_matrix("cholesky", A)
    return ComplexTensor(*_fn("_ComplexCholesky").apply(a._re, a._im, builtins.bool(upper)))


# pinv


def _pinv_fwd(ctx, ar, ai, atol, rtol, hermitian):
    a = _np_of(ar, ai)
    if hermitian:
        a = _hermitian_of(a, False).astype(a.dtype)
    m, n = a.shape[-2:]
    if rtol is None:
        rtol = (builtins.max(m, n) * np.finfo(a.dtype).eps) if atol is None or atol == 0 else 0.0
    u, s, vh = _lapack("pinv", lambda x: np.linalg.svd(x, full_matrices=False), a)
    smax = s.max(axis=-1, keepdims=True) if s.size else s
    cut = np.maximum(0.0 if atol is None else atol, rtol * smax) if s.size else s
    with np.errstate(all="ignore"):
        sinv = np.where(s > cut, 1.0 / np.where(s > cut, s, 1), 0).astype(s.dtype)
    P = _mh(vh) @ (sinv[..., :, None] * _mh(u))
    ctx.a, ctx.P, ctx.like = _np_of(ar, ai), P, ar
    return _parts_t(P, ar)


def _pinv_bwd(ctx, gr, gi):
    """``gA = −Pᴴ G Pᴴ + (I − A P) Gᴴ P Pᴴ + Pᴴ P Gᴴ (I − P A)`` (the constant-rank derivative)."""
    G = _grad_np(gr, gi)
    if G is None:
        return None, None, None, None, None
    A, P = ctx.a.astype(np.complex128), ctx.P.astype(np.complex128)
    m, n = A.shape[-2:]
    Ph, Gh = _mh(P), _mh(G)
    gA = -Ph @ G @ Ph + (np.eye(m) - A @ P) @ Gh @ P @ Ph + Ph @ P @ Gh @ (np.eye(n) - P @ A)
    return (*_parts_t(gA, ctx.like), None, None, None)


def _pinv(A, rcond=None, hermitian: bool = False, *, atol=None, rtol=None) -> ComplexTensor:
    """``linalg.pinv`` of complex matrices (singular values at most ``max(atol, rtol·σ_max)``
    count as zero); differentiable as the real one."""
    a = _check_matrix("pinv", A, square=builtins.bool(hermitian))
    if rcond is not None and rtol is None:
        rtol = rcond
    atol = atol.item() if isinstance(atol, Tensor) else atol
    rtol = rtol.item() if isinstance(rtol, Tensor) else rtol
    return ComplexTensor(*_fn("_ComplexPinv").apply(a._re, a._im, atol, rtol, builtins.bool(hermitian)))


# lstsq


def _lstsq(A, B, rcond=None, *, driver=None):
    """``linalg.lstsq`` with complex ``A``/``B`` (``B`` a batch of vectors when it has one dim
    less than ``A``): the solution is ``pinv(A) B`` (differentiable); ``rank``,
    ``singular_values`` and ``residuals`` filled per ``driver`` as the real version does."""
    a = _check_matrix("lstsq", A, square=False)
    b = as_complex(B, like=a)
    driver = "gelsy" if driver is None else driver
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(
            "torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)"
        )
    vec = b.ndim == a.ndim - 1
    bm = b.unsqueeze(-1) if vec else b
    if bm.shape[-2] != a.shape[-2]:
        raise RuntimeError(f"linalg.lstsq: incompatible shapes {tuple(a.shape)} and {tuple(b.shape)}")
    m, n = a.shape[-2], a.shape[-1]
    an = _np_of(a._re, a._im)
    sv = _lapack("lstsq", lambda x: np.linalg.svd(x, compute_uv=False), an)
    cut = (np.finfo(an.dtype).eps * builtins.max(m, n)) if rcond is None else rcond
    smax = sv.max(axis=-1, keepdims=True) if sv.shape[-1] else np.zeros((*sv.shape[:-1], 1))
    rank = (sv > cut * smax).sum(axis=-1).astype(np.int64)
    if driver == "gels" and (rank < builtins.min(m, n)).any():
        raise _r().linalg.LinAlgError(
            "torch.linalg.lstsq: The least squares solution could not be computed because the input "
            "matrix does not have full rank."
        )
    X = _pinv(a, rtol=cut) @ bm
    dt, dev = a._re.dtype, a.device
    empty = _rustdl.zeros(0, dtype=dt, device=dev)
    residuals = empty
    if driver != "gelsy" and m > n and builtins.bool((rank == n).all()):
        residuals = ((a @ X - bm).abs() ** 2).sum(-2)
    ranks = _rustdl.zeros(0, dtype=_rustdl.int64, device=dev)
    if driver != "gels":
        ranks = _rustdl.tensor(rank, dtype=_rustdl.int64, device=dev)
    svals = _real_t(sv, a._re) if driver in ("gelsd", "gelss") else empty
    return _r().linalg.LstsqResult(X.squeeze(-1) if vec else X, residuals, ranks, svals)


_SPECS = {
    "_ComplexSvd": (_svd_fwd, _svd_bwd),
    "_ComplexQr": (_qr_fwd, _qr_bwd),
    "_ComplexQrR": (_qr_r_fwd, _qr_r_bwd),
    "_ComplexEigh": (_eigh_fwd, _eigh_bwd),
    "_ComplexSlogdet": (_slogdet_fwd, _slogdet_bwd),
    "_ComplexCholesky": (_chol_fwd, _chol_bwd),
    "_ComplexPinv": (_pinv_fwd, _pinv_bwd),
}


def _matrix_power(A, n: int) -> ComplexTensor:
    """``A`` to the integer power ``n`` by repeated squaring (``n < 0``: of ``A⁻¹``)."""
    a = _check_matrix("matrix_power", A)
    if n < 0:
        a, n = _inv(a), -n
    eye = _r().eye(a.shape[-1], dtype=a.dtype, device=a.device)
    out = ComplexTensor(eye._re.expand(a.shape), eye._im.expand(a.shape)) * 1
    if n == 0:
        return out
    out = None
    while n:
        if n & 1:
            out = a if out is None else out @ a
        n >>= 1
        if n:
            a = a @ a
    return out


def _solve_triangular(A, B, *, upper: bool, left: bool = True, unitriangular: bool = False) -> ComplexTensor:
    """``linalg.solve_triangular`` with complex operands: only ``A``'s triangle is read (its
    gradient stays there, as PyTorch's); ``unitriangular`` takes the diagonal as ones."""
    a = _check_matrix("solve_triangular", A)
    t = a.triu() if upper else a.tril()
    if unitriangular:
        n = a.shape[-1]
        eye = _r().eye(n, dtype=a._re.dtype, device=a.device)
        t = ComplexTensor(t._re * (1 - eye) + eye, t._im * (1 - eye))
    return _solve_matrix(t, B) if left else _solve_matrix(t.mT, as_complex(B, like=a).mT).mT


def _complex_matrix_norm(A, ord, dim, keepdim, dtype) -> Tensor:  # noqa: A002
    """The 'nuc', 2 and -2 matrix norms of complex matrices, from their singular values."""
    if isinstance(dtype, ComplexDType):
        A = A.to(dtype)
    n = A.ndim
    r, c = (d % n for d in dim)
    rest = [i for i in range(n) if i not in (r, c)]
    s = _svdvals(A.permute(*rest, r, c))
    out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
    if keepdim:
        for d in sorted((r, c)):
            out = out.unsqueeze(d)
    return out


def _wrap_matrix_norm(fn):
    @functools.wraps(fn)
    def wrapper(A, ord="fro", dim=(-2, -1), keepdim=False, **kwargs):  # noqa: A002
        if isinstance(A, ComplexTensor) and ord in ("nuc", 2, -2):
            return _complex_matrix_norm(A, ord, tuple(dim), keepdim, kwargs.get("dtype"))
        return fn(A, ord, dim, keepdim, **kwargs)

    return wrapper


def _wrap_norm(fn):
    @functools.wraps(fn)
    def wrapper(A, ord=None, dim=None, keepdim=False, **kwargs):  # noqa: A002
        if isinstance(A, ComplexTensor) and ord in ("nuc", 2, -2):
            if dim is None and A.ndim == 2:
                return _complex_matrix_norm(A, ord, (-2, -1), keepdim, kwargs.get("dtype"))
            if isinstance(dim, (tuple, list)) and len(dim) == 2:
                return _complex_matrix_norm(A, ord, tuple(dim), keepdim, kwargs.get("dtype"))
        return fn(A, ord, dim, keepdim, **kwargs)

    return wrapper


def _vecdot(x, y, *, dim: int = -1) -> ComplexTensor:
    """``sum(conj(x) * y, dim)``."""
    like = x if isinstance(x, ComplexTensor) else y
    return (as_complex(x, like=like).conj() * as_complex(y, like=like)).sum(dim)


def _wrap_complex_args(fn, complex_fn, nargs: int = 2):
    """``fn`` where one of the first ``nargs`` arguments is complex calls ``complex_fn``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if builtins.any(isinstance(a, ComplexTensor) for a in args[:nargs]):
            out = kwargs.pop("out", None)
            res = complex_fn(*args, **kwargs)
            return res if out is None else _r()._into(out, res)
        return fn(*args, **kwargs)

    return wrapper


def _vdot(a, b) -> ComplexTensor:
    return as_complex(a, like=b if isinstance(b, ComplexTensor) else None).vdot(b)


def _wrap_where(fn):
    """``where(condition, input, other)`` with a complex tensor or number among the values."""

    @functools.wraps(fn)
    def wrapper(condition, input=None, other=None, *, out=None):  # noqa: A002
        cx = isinstance(input, ComplexTensor) or isinstance(other, ComplexTensor)
        if not cx and not (_is_complex_number(input) or _is_complex_number(other)):
            return fn(condition, input, other, out=out)
        like = (
            input if isinstance(input, ComplexTensor) else other if isinstance(other, ComplexTensor) else None
        )
        x, y = as_complex(input, like=like), as_complex(other, like=like)
        res = ComplexTensor(fn(condition, x._re, y._re), fn(condition, x._im, y._im))
        return res if out is None else _r()._into(out, res)

    return wrapper


def _wrap_pad(fn):
    """``nn.functional.pad`` of a complex tensor: each part padded (a complex ``value`` fills
    each part with its own part)."""

    @functools.wraps(fn)
    def wrapper(input, pad, mode: str = "constant", value=None):  # noqa: A002
        if not isinstance(input, ComplexTensor):
            return fn(input, pad, mode, value)
        if value is None or mode != "constant":
            return ComplexTensor(fn(input._re, pad, mode, value), fn(input._im, pad, mode, value))
        v = builtins.complex(value)
        return ComplexTensor(fn(input._re, pad, mode, v.real), fn(input._im, pad, mode, v.imag))

    return wrapper


_METHOD_FUNCS = (
    "abs", "absolute", "exp", "log", "sqrt", "reciprocal", "square", "pow", "neg", "sgn",
    "sin", "cos", "tan", "sinh", "cosh", "tanh", "sigmoid", "isclose", "allclose", "sum", "mean", "prod", "cumsum", "norm", "reshape", "flatten", "unflatten", "permute",
    "transpose", "t", "movedim", "unsqueeze", "squeeze", "flip", "roll", "narrow", "select",
    "index_select", "chunk", "split", "unbind", "tril", "triu", "diagonal", "isnan", "isfinite",
    "isinf", "add", "sub", "mul", "div", "divide", "multiply", "clone", "detach", "numel",
    "conj_physical", "resolve_conj", "resolve_neg", "adjoint", "is_floating_point", "is_signed",
    "masked_fill", "gather", "diag", "trace", "cumprod", "std", "var", "std_mean", "var_mean",
    "log10", "log2", "atan", "arctan", "nan_to_num", "isreal", "scatter_add", "scatter",
    "index_add", "index_put", "det", "inverse", "moveaxis", "swapaxes", "swapdims", "tile",
    "repeat_interleave", "tensor_split", "hsplit", "vsplit", "dsplit", "fliplr", "flipud", "rot90",
    "ravel", "broadcast_to", "diag_embed", "diagflat", "take_along_dim", "take", "masked_select",
    "split_with_sizes", "narrow_copy", "addcmul", "addcdiv", "lerp",
)  # fmt: skip
_CREATION = ("zeros", "ones", "empty", "full", "rand", "randn", "eye")
_LIKE = ("zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like")


def install(ns) -> None:
    """Adds the complex dtypes and functions to the ``rustdl`` namespace ``ns`` and makes its
    functions accept complex tensors."""
    ns.complex64 = ns.cfloat = complex64
    ns.complex128 = ns.cdouble = complex128
    ns.ComplexTensor = ComplexTensor
    for name in ("complex", "polar", "view_as_real", "view_as_complex", "real", "imag", "conj", "is_complex"):
        setattr(ns, name, globals()[name])
    if not hasattr(ns, "angle"):
        ns.angle = angle
    else:
        ns.angle = _wrap_method_dispatch(ns.angle, "angle")
    for name in _METHOD_FUNCS:
        if hasattr(ns, name):
            setattr(ns, name, _wrap_method_dispatch(getattr(ns, name), name))
    for name in _CREATION:
        setattr(ns, name, _wrap_creation(getattr(ns, name)))
    for name in _LIKE:
        if hasattr(ns, name):
            setattr(ns, name, _wrap_like(getattr(ns, name)))
    for name in ("tensor", "as_tensor"):
        setattr(ns, name, _wrap_tensor(getattr(ns, name)))
    ns.from_numpy = _wrap_from_numpy(ns.from_numpy)
    real_type_as = Tensor.type_as

    def type_as(self, other):
        """This tensor in ``other``'s dtype (a complex one included)."""
        if isinstance(other, ComplexTensor):
            return self.to(other.dtype)
        return real_type_as(self, other)

    functools.update_wrapper(type_as, real_type_as)
    Tensor.type_as = type_as
    for name in (
        "cat",
        "stack",
        "concat",
        "concatenate",
        "hstack",
        "vstack",
        "dstack",
        "column_stack",
        "row_stack",
    ):
        if hasattr(ns, name):
            setattr(ns, name, _wrap_sequence(getattr(ns, name)))
    for name in ("matmul", "mm", "bmm", "dot", "mv", "kron", "inner", "outer", "ger"):
        if hasattr(ns, name):
            setattr(ns, name, _wrap_bilinear(getattr(ns, name)))
    ns.vdot = _wrap_complex_args(ns.vdot, _vdot)
    ns.where = _wrap_where(ns.where)
    la = ns.linalg
    la.vecdot = _wrap_complex_args(la.vecdot, _vecdot)
    la.det = _wrap_complex_args(la.det, _det, 1)
    la.inv = _wrap_complex_args(la.inv, _inv, 1)
    la.solve = _wrap_complex_args(la.solve, _solve)
    for name, cfn in (
        ("svd", _svd), ("svdvals", _svdvals), ("qr", _qr), ("eigh", _eigh), ("eigvalsh", _eigvalsh),
        ("slogdet", _slogdet), ("cholesky", _cholesky), ("pinv", _pinv),
    ):  # fmt: skip
        setattr(la, name, _wrap_complex_args(getattr(la, name), cfn, 1))
    la.lstsq = _wrap_complex_args(la.lstsq, _lstsq)
    la.solve_triangular = _wrap_complex_args(la.solve_triangular, _solve_triangular)
    la.matrix_power = _wrap_complex_args(la.matrix_power, _matrix_power, 1)
    if hasattr(ns, "matrix_power"):
        ns.matrix_power = _wrap_complex_args(ns.matrix_power, _matrix_power, 1)
    la.matrix_norm = _wrap_matrix_norm(la.matrix_norm)
    la.norm = _wrap_norm(la.norm)
    ns.svd = _wrap_complex_args(ns.svd, _svd_old, 1)
    ns.logdet = _wrap_complex_args(ns.logdet, _logdet, 1)
    from .nn import functional as F

    F.pad = _wrap_pad(F.pad)
    ns.einsum = _wrap_einsum(ns.einsum)
    if not hasattr(Tensor, "is_complex"):
        Tensor.is_complex = lambda self: False
    _install_tensor_methods()
    global _ComplexStorage
    _ComplexStorage = _make_storage_class()


def _install_tensor_methods() -> None:
    """``Tensor.to``/``type`` with a complex dtype give a ComplexTensor (imaginary part 0);
    ``Tensor.cfloat``/``cdouble``."""
    real_to = Tensor.to
    real_type = Tensor.type

    @functools.wraps(real_to)
    def to(self, *args, **kwargs):
        dt = kwargs.get("dtype")
        if type(dt) is ComplexDType or builtins.any(type(a) is ComplexDType for a in args):
            return as_complex(self).to(*args, **kwargs)
        return real_to(self, *args, **kwargs)

    @functools.wraps(real_type)
    def type_(self, dtype=None, non_blocking=False, **kwargs):
        if type(dtype) is ComplexDType:
            return as_complex(self).to(dtype)
        if dtype is None:
            return real_type(self)
        return real_type(self, dtype, non_blocking, **kwargs)

    Tensor.to = to
    Tensor.type = type_
    real_eq, real_ne = Tensor.__eq__, Tensor.__ne__

    def __eq__(self, other):  # a complex number or tensor compares as complex: a bool tensor
        if isinstance(other, ComplexTensor) or _is_complex_number(other):
            return as_complex(self) == other
        return real_eq(self, other)

    def __ne__(self, other):
        if isinstance(other, ComplexTensor) or _is_complex_number(other):
            return as_complex(self) != other
        return real_ne(self, other)

    Tensor.__eq__ = __eq__
    Tensor.__ne__ = __ne__
    if not hasattr(Tensor, "real"):  # a real tensor's real part is itself, as PyTorch
        Tensor.real = property(lambda self: self)
    Tensor.cfloat = lambda self: as_complex(self).to(complex64)
    Tensor.cdouble = lambda self: as_complex(self).to(complex128)


def _tensor_op_complex(t: Tensor, c, op: str, reflected: bool) -> ComplexTensor:
    """``t op c`` (``c op t`` when ``reflected``) for a real tensor and a Python complex number,
    as the tensor's binary operators call it."""
    a = as_complex(t if t.dtype.is_floating_point else t.to(_r().get_default_dtype()))
    b = as_complex(c, like=a)
    x, y = (b, a) if reflected else (a, b)
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    if op == "div":
        return x / y
    raise TypeError(f"unsupported operand types for {op}: a real tensor and a complex number")
