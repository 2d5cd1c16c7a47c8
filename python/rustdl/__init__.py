"""rustdl: PyTorch-shaped deep learning whose engine is Rust.

Tensors, autograd and optimizer updates run in a Rust core: on the CPU through native kernels
(gemm + its own fork-join thread pool), on any GPU through WGSL compute shaders run by wgpu.

Example:
    >>> import rustdl
    >>> x = rustdl.randn(4, 3, requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.shape
    (4, 3)
"""

from __future__ import annotations

from . import _rustdl  # noqa: F401  (the extension, as rustdl._rustdl)
from ._rustdl import (  # noqa: F401
    GpuError,
    Tensor,
    arange,
    cat,
    device,
    dtype,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    get_num_threads,
    initial_seed,
    is_grad_enabled,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    set_num_threads,
    stack,
    tensor,
    zeros,
    zeros_like,
)
from ._rustdl import where as _where_ternary
from ._rustdl import bool, double, float, float32, float64, int64, long  # noqa: A004,F401
from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401
from . import amp  # noqa: F401
from . import _hooks  # noqa: F401  (Tensor.register_hook)
from ._scatter_api import index_fill, scatter  # noqa: F401
from .amp import autocast  # noqa: F401
from ._tensor_api import (  # noqa: F401
    broadcast_shapes,
    broadcast_tensors,
    einsum,
    finfo,
    iinfo,
    std_mean,
    var_mean,
)
from .io import load, save  # noqa: F401

# ---- determinism flag and the PyTorch-compatibility version (torch.use_deterministic_algorithms) ----
_deterministic_algorithms = [False, False]  # [mode, warn_only]


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Records PyTorch's determinism flag; rustdl's kernels are deterministic whatever it is."""
    import builtins  # `bool` here is rustdl.bool, the dtype

    if not isinstance(mode, builtins.bool):
        raise TypeError(f"use_deterministic_algorithms: mode must be a bool, got {type(mode).__name__}")
    _deterministic_algorithms[:] = [mode, builtins.bool(warn_only)]


def are_deterministic_algorithms_enabled():
    """The flag last given to :func:`use_deterministic_algorithms` (False at start)."""
    return _deterministic_algorithms[0]


def is_deterministic_algorithms_warn_only_enabled():
    """The ``warn_only`` last given to :func:`use_deterministic_algorithms`."""
    return _deterministic_algorithms[1]


# What `torch.__version__` answers under rustdl.torchcompat: the PyTorch API level rustdl follows,
# with rustdl's own version as the local part, so `torch.__version__ >= "1.8"` and
# `packaging.version.parse(torch.__version__)` comparisons behave as on a recent PyTorch.
__torch_compat_version__ = "2.5.0+rustdl0.1.0"
from ._generator import (  # noqa: F401
    Generator,
    bernoulli,
    default_generator,
    get_rng_state,
    normal,
    randperm,
    seed,
    set_rng_state,
)


def where(condition, input=None, other=None):  # noqa: A002
    """``input`` where ``condition`` holds, else ``other`` (each a tensor or a number); with
    the condition alone, the indices of its true elements (``condition.nonzero(as_tuple=True)``)."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if input is None or other is None:
        raise TypeError("where: expected both input and other, or neither")
    return _where_ternary(condition, input, other)


from . import autograd, gpu  # noqa: F401,E402
from . import nn, optim, data, datasets, train  # noqa: F401,E402
from . import accelerator, backends, cuda, jit, onnx  # noqa: F401,E402
from . import distributed, distributions  # noqa: F401,E402
from . import models  # noqa: F401,E402

__version__ = "0.1.0"


def is_tensor(obj):
    """True if `obj` is a rustdl Tensor."""
    return isinstance(obj, Tensor)


# ---- functional forms of Tensor methods: `rustdl.exp(x)` is `x.exp()` ----
# Written out (not generated at import) so that IDEs, type checkers and stubtest see them.


def abs(input, *args, **kwargs):
    """Functional form of ``Tensor.abs``."""
    return input.abs(*args, **kwargs)


def exp(input, *args, **kwargs):
    """Functional form of ``Tensor.exp``."""
    return input.exp(*args, **kwargs)


def log(input, *args, **kwargs):
    """Functional form of ``Tensor.log``."""
    return input.log(*args, **kwargs)


def log1p(input, *args, **kwargs):
    """Functional form of ``Tensor.log1p``."""
    return input.log1p(*args, **kwargs)


def sqrt(input, *args, **kwargs):
    """Functional form of ``Tensor.sqrt``."""
    return input.sqrt(*args, **kwargs)


def rsqrt(input, *args, **kwargs):
    """Functional form of ``Tensor.rsqrt``."""
    return input.rsqrt(*args, **kwargs)


def sin(input, *args, **kwargs):
    """Functional form of ``Tensor.sin``."""
    return input.sin(*args, **kwargs)


def cos(input, *args, **kwargs):
    """Functional form of ``Tensor.cos``."""
    return input.cos(*args, **kwargs)


def tanh(input, *args, **kwargs):
    """Functional form of ``Tensor.tanh``."""
    return input.tanh(*args, **kwargs)


def sigmoid(input, *args, **kwargs):
    """Functional form of ``Tensor.sigmoid``."""
    return input.sigmoid(*args, **kwargs)


def relu(input, *args, **kwargs):
    """Functional form of ``Tensor.relu``."""
    return input.relu(*args, **kwargs)


def square(input, *args, **kwargs):
    """Functional form of ``Tensor.square``."""
    return input.square(*args, **kwargs)


def sign(input, *args, **kwargs):
    """Functional form of ``Tensor.sign``."""
    return input.sign(*args, **kwargs)


def floor(input, *args, **kwargs):
    """Functional form of ``Tensor.floor``."""
    return input.floor(*args, **kwargs)


def reciprocal(input, *args, **kwargs):
    """Functional form of ``Tensor.reciprocal``."""
    return input.reciprocal(*args, **kwargs)


def clamp(input, *args, **kwargs):
    """Functional form of ``Tensor.clamp``."""
    return input.clamp(*args, **kwargs)


def clip(input, *args, **kwargs):
    """Functional form of ``Tensor.clip``."""
    return input.clip(*args, **kwargs)


def sum(input, *args, **kwargs):
    """Functional form of ``Tensor.sum``."""
    return input.sum(*args, **kwargs)


def mean(input, *args, **kwargs):
    """Functional form of ``Tensor.mean``."""
    return input.mean(*args, **kwargs)


def var(input, *args, **kwargs):
    """Functional form of ``Tensor.var``."""
    return input.var(*args, **kwargs)


def std(input, *args, **kwargs):
    """Functional form of ``Tensor.std``."""
    return input.std(*args, **kwargs)


def norm(input, *args, **kwargs):
    """Functional form of ``Tensor.norm``."""
    return input.norm(*args, **kwargs)


def max(input, *args, **kwargs):
    """Functional form of ``Tensor.max``."""
    return input.max(*args, **kwargs)


def min(input, *args, **kwargs):
    """Functional form of ``Tensor.min``."""
    return input.min(*args, **kwargs)


def argmax(input, *args, **kwargs):
    """Functional form of ``Tensor.argmax``."""
    return input.argmax(*args, **kwargs)


def argmin(input, *args, **kwargs):
    """Functional form of ``Tensor.argmin``."""
    return input.argmin(*args, **kwargs)


def all(input, *args, **kwargs):
    """Functional form of ``Tensor.all``."""
    return input.all(*args, **kwargs)


def any(input, *args, **kwargs):
    """Functional form of ``Tensor.any``."""
    return input.any(*args, **kwargs)


def softmax(input, *args, **kwargs):
    """Functional form of ``Tensor.softmax``."""
    return input.softmax(*args, **kwargs)


def log_softmax(input, *args, **kwargs):
    """Functional form of ``Tensor.log_softmax``."""
    return input.log_softmax(*args, **kwargs)


def logsumexp(input, *args, **kwargs):
    """Functional form of ``Tensor.logsumexp``."""
    return input.logsumexp(*args, **kwargs)


def matmul(input, *args, **kwargs):
    """Functional form of ``Tensor.matmul``."""
    return input.matmul(*args, **kwargs)


def mm(input, *args, **kwargs):
    """Functional form of ``Tensor.mm``."""
    return input.mm(*args, **kwargs)


def bmm(input, *args, **kwargs):
    """Functional form of ``Tensor.bmm``."""
    return input.bmm(*args, **kwargs)


def reshape(input, *args, **kwargs):
    """Functional form of ``Tensor.reshape``."""
    return input.reshape(*args, **kwargs)


def permute(input, *args, **kwargs):
    """Functional form of ``Tensor.permute``."""
    return input.permute(*args, **kwargs)


def transpose(input, *args, **kwargs):
    """Functional form of ``Tensor.transpose``."""
    return input.transpose(*args, **kwargs)


def t(input, *args, **kwargs):
    """Functional form of ``Tensor.t``."""
    return input.t(*args, **kwargs)


def flatten(input, *args, **kwargs):
    """Functional form of ``Tensor.flatten``."""
    return input.flatten(*args, **kwargs)


def squeeze(input, *args, **kwargs):
    """Functional form of ``Tensor.squeeze``."""
    return input.squeeze(*args, **kwargs)


def unsqueeze(input, *args, **kwargs):
    """Functional form of ``Tensor.unsqueeze``."""
    return input.unsqueeze(*args, **kwargs)


def narrow(input, *args, **kwargs):
    """Functional form of ``Tensor.narrow``."""
    return input.narrow(*args, **kwargs)


def select(input, *args, **kwargs):
    """Functional form of ``Tensor.select``."""
    return input.select(*args, **kwargs)


def split(input, *args, **kwargs):
    """Functional form of ``Tensor.split``."""
    return input.split(*args, **kwargs)


def chunk(input, *args, **kwargs):
    """Functional form of ``Tensor.chunk``."""
    return input.chunk(*args, **kwargs)


def flip(input, *args, **kwargs):
    """Functional form of ``Tensor.flip``."""
    return input.flip(*args, **kwargs)


def index_select(input, *args, **kwargs):
    """Functional form of ``Tensor.index_select``."""
    return input.index_select(*args, **kwargs)


def gather(input, *args, **kwargs):
    """Functional form of ``Tensor.gather``."""
    return input.gather(*args, **kwargs)


def scatter_add(input, *args, **kwargs):
    """Functional form of ``Tensor.scatter_add``."""
    return input.scatter_add(*args, **kwargs)


def masked_fill(input, *args, **kwargs):
    """Functional form of ``Tensor.masked_fill``."""
    return input.masked_fill(*args, **kwargs)


def masked_select(input, *args, **kwargs):
    """Functional form of ``Tensor.masked_select``."""
    return input.masked_select(*args, **kwargs)


def nonzero(input, *args, **kwargs):
    """Functional form of ``Tensor.nonzero``."""
    return input.nonzero(*args, **kwargs)


def maximum(input, *args, **kwargs):
    """Functional form of ``Tensor.maximum``."""
    return input.maximum(*args, **kwargs)


def minimum(input, *args, **kwargs):
    """Functional form of ``Tensor.minimum``."""
    return input.minimum(*args, **kwargs)


def eq(input, *args, **kwargs):
    """Functional form of ``Tensor.eq``."""
    return input.eq(*args, **kwargs)


def ne(input, *args, **kwargs):
    """Functional form of ``Tensor.ne``."""
    return input.ne(*args, **kwargs)


def lt(input, *args, **kwargs):
    """Functional form of ``Tensor.lt``."""
    return input.lt(*args, **kwargs)


def le(input, *args, **kwargs):
    """Functional form of ``Tensor.le``."""
    return input.le(*args, **kwargs)


def gt(input, *args, **kwargs):
    """Functional form of ``Tensor.gt``."""
    return input.gt(*args, **kwargs)


def ge(input, *args, **kwargs):
    """Functional form of ``Tensor.ge``."""
    return input.ge(*args, **kwargs)


def logical_and(input, *args, **kwargs):
    """Functional form of ``Tensor.logical_and``."""
    return input.logical_and(*args, **kwargs)


def logical_or(input, *args, **kwargs):
    """Functional form of ``Tensor.logical_or``."""
    return input.logical_or(*args, **kwargs)


def logical_not(input, *args, **kwargs):
    """Functional form of ``Tensor.logical_not``."""
    return input.logical_not(*args, **kwargs)


def neg(input, *args, **kwargs):
    """Functional form of ``Tensor.neg``."""
    return input.neg(*args, **kwargs)


def detach(input, *args, **kwargs):
    """Functional form of ``Tensor.detach``."""
    return input.detach(*args, **kwargs)


def clone(input, *args, **kwargs):
    """Functional form of ``Tensor.clone``."""
    return input.clone(*args, **kwargs)


def topk(input, *args, **kwargs):
    """Functional form of ``Tensor.topk``."""
    return input.topk(*args, **kwargs)


def sort(input, *args, **kwargs):
    """Functional form of ``Tensor.sort``."""
    return input.sort(*args, **kwargs)


def argsort(input, *args, **kwargs):
    """Functional form of ``Tensor.argsort``."""
    return input.argsort(*args, **kwargs)


def cumsum(input, *args, **kwargs):
    """Functional form of ``Tensor.cumsum``."""
    return input.cumsum(*args, **kwargs)


def cumprod(input, *args, **kwargs):
    """Functional form of ``Tensor.cumprod``."""
    return input.cumprod(*args, **kwargs)


def prod(input, *args, **kwargs):
    """Functional form of ``Tensor.prod``."""
    return input.prod(*args, **kwargs)


def tril(input, *args, **kwargs):
    """Functional form of ``Tensor.tril``."""
    return input.tril(*args, **kwargs)


def triu(input, *args, **kwargs):
    """Functional form of ``Tensor.triu``."""
    return input.triu(*args, **kwargs)


def multinomial(input, *args, **kwargs):
    """Functional form of ``Tensor.multinomial``."""
    return input.multinomial(*args, **kwargs)


def dot(input, *args, **kwargs):
    """Functional form of ``Tensor.dot``."""
    return input.dot(*args, **kwargs)


def inner(input, *args, **kwargs):
    """Functional form of ``Tensor.inner``."""
    return input.inner(*args, **kwargs)


def outer(input, *args, **kwargs):
    """Functional form of ``Tensor.outer``."""
    return input.outer(*args, **kwargs)


def ger(input, *args, **kwargs):
    """Functional form of ``Tensor.ger``."""
    return input.ger(*args, **kwargs)


def round(input, *args, **kwargs):
    """Functional form of ``Tensor.round``."""
    return input.round(*args, **kwargs)


def ceil(input, *args, **kwargs):
    """Functional form of ``Tensor.ceil``."""
    return input.ceil(*args, **kwargs)


def trunc(input, *args, **kwargs):
    """Functional form of ``Tensor.trunc``."""
    return input.trunc(*args, **kwargs)


def fix(input, *args, **kwargs):
    """Functional form of ``Tensor.fix``."""
    return input.fix(*args, **kwargs)


def remainder(input, *args, **kwargs):
    """Functional form of ``Tensor.remainder``."""
    return input.remainder(*args, **kwargs)


def fmod(input, *args, **kwargs):
    """Functional form of ``Tensor.fmod``."""
    return input.fmod(*args, **kwargs)


def floor_divide(input, *args, **kwargs):
    """Functional form of ``Tensor.floor_divide``."""
    return input.floor_divide(*args, **kwargs)


def isnan(input, *args, **kwargs):
    """Functional form of ``Tensor.isnan``."""
    return input.isnan(*args, **kwargs)


def isinf(input, *args, **kwargs):
    """Functional form of ``Tensor.isinf``."""
    return input.isinf(*args, **kwargs)


def isfinite(input, *args, **kwargs):
    """Functional form of ``Tensor.isfinite``."""
    return input.isfinite(*args, **kwargs)


def nan_to_num(input, *args, **kwargs):
    """Functional form of ``Tensor.nan_to_num``."""
    return input.nan_to_num(*args, **kwargs)


def unbind(input, *args, **kwargs):
    """Functional form of ``Tensor.unbind``."""
    return input.unbind(*args, **kwargs)


def roll(input, *args, **kwargs):
    """Functional form of ``Tensor.roll``."""
    return input.roll(*args, **kwargs)


def diag(input, *args, **kwargs):
    """Functional form of ``Tensor.diag``."""
    return input.diag(*args, **kwargs)


def repeat_interleave(input, *args, **kwargs):
    """Functional form of ``Tensor.repeat_interleave``."""
    return input.repeat_interleave(*args, **kwargs)


def broadcast_to(input, *args, **kwargs):
    """Functional form of ``Tensor.broadcast_to``."""
    return input.broadcast_to(*args, **kwargs)


def movedim(input, *args, **kwargs):
    """Functional form of ``Tensor.movedim``."""
    return input.movedim(*args, **kwargs)


def moveaxis(input, *args, **kwargs):
    """Functional form of ``Tensor.moveaxis``."""
    return input.moveaxis(*args, **kwargs)


def swapaxes(input, *args, **kwargs):
    """Functional form of ``Tensor.swapaxes``."""
    return input.swapaxes(*args, **kwargs)


def swapdims(input, *args, **kwargs):
    """Functional form of ``Tensor.swapdims``."""
    return input.swapdims(*args, **kwargs)


def amax(input, *args, **kwargs):
    """Functional form of ``Tensor.amax``."""
    return input.amax(*args, **kwargs)


def amin(input, *args, **kwargs):
    """Functional form of ``Tensor.amin``."""
    return input.amin(*args, **kwargs)


def erf(input, *args, **kwargs):
    """Functional form of ``Tensor.erf``."""
    return input.erf(*args, **kwargs)


def erfinv(input, *args, **kwargs):
    """Functional form of ``Tensor.erfinv``."""
    return input.erfinv(*args, **kwargs)


def expm1(input, *args, **kwargs):
    """Functional form of ``Tensor.expm1``."""
    return input.expm1(*args, **kwargs)


def log2(input, *args, **kwargs):
    """Functional form of ``Tensor.log2``."""
    return input.log2(*args, **kwargs)


def log10(input, *args, **kwargs):
    """Functional form of ``Tensor.log10``."""
    return input.log10(*args, **kwargs)


def _rebuild_tensor(array, dtype_name: str, device_name: str, requires_grad: bool):
    """Unpickles a tensor saved by ``Tensor.__reduce__``."""
    import numpy as _np

    t = tensor(_np.asarray(array), dtype=getattr(_rustdl, dtype_name), device=device_name)
    if requires_grad:
        t.requires_grad_(True)
    return t


_MATMUL_PRECISION = ["highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """Accepted for compatibility (``"highest"``, ``"high"``, ``"medium"``): rustdl's float32
    products always accumulate in float32."""
    if precision not in ("highest", "high", "medium"):
        raise ValueError(
            f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got {precision!r}"
        )
    _MATMUL_PRECISION[0] = precision


def get_float32_matmul_precision() -> str:
    """The precision last set by :func:`set_float32_matmul_precision` (``"highest"`` at start)."""
    return _MATMUL_PRECISION[0]


def compile(
    model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None, disable=False
):
    """Accepted for compatibility, as ``torch.compile``: returns ``model`` (a module or function)
    unchanged — rustdl runs eagerly on its native kernels. With no model, a decorator."""
    if model is None:
        return lambda m: m
    if not callable(model):
        raise TypeError(f"compile: expected a module or a function, got {type(model).__name__}")
    return model


def manual_seed(seed):  # noqa: F811  (PyTorch's parameter name)
    """Seeds the global random stream (CPU and GPU draws alike) and returns
    :data:`default_generator`, as ``torch.manual_seed``; negative seeds wrap modulo 2**64."""
    import builtins

    if isinstance(seed, builtins.bool) or not hasattr(seed, "__index__"):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
    _rustdl.manual_seed(int(seed) & ((1 << 64) - 1))
    return default_generator


# ---------------------------------------------------------------- breadth: constructors, math, linalg
from ._tensor_api import (  # noqa: E402,F401
    BFloat16Tensor,
    BoolTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    addbmm,
    addmm,
    addmv,
    allclose,
    as_tensor,
    baddbmm,
    bincount,
    cdist,
    cross,
    diag_embed,
    diagonal,
    e,
    get_default_dtype,
    histc,
    inf,
    isclose,
    lerp,
    meshgrid,
    nan,
    pi,
    set_default_dtype,
    set_default_tensor_type,
    tile,
    unflatten,
    unique,
    unique_consecutive,
)
from . import linalg  # noqa: E402


def inverse(input):  # noqa: A001,A002
    """The inverse of square matrices (``linalg.inv``)."""
    return linalg.inv(input)


def det(input):  # noqa: A002
    """Determinants (``linalg.det``)."""
    return linalg.det(input)


def logdet(input):  # noqa: A002
    """log(det) (nan for a negative determinant), differentiable through ``linalg.slogdet``."""
    sign, logabs = linalg.slogdet(input)
    return where(sign.gt(0), logabs, where(sign.eq(0), logabs, logabs * nan))


def slogdet(input):  # noqa: A002
    """``(sign, logabsdet)`` (``linalg.slogdet``)."""
    return linalg.slogdet(input)


def svd(input, some=True, compute_uv=True):  # noqa: A002
    """Old-style SVD: ``(U, S, V)`` with ``A = U diag(S) Vᵀ`` (V, not Vh); ``some=True`` gives
    the reduced factors."""
    U, S, Vh = linalg.svd(input, full_matrices=not some)
    if not compute_uv:
        return U.detach() * 0, S, Vh.detach().transpose(-2, -1) * 0
    return U, S, Vh.transpose(-2, -1)


def pinverse(input, rcond=1e-15):  # noqa: A002
    """Pseudo-inverse (``linalg.pinv``)."""
    return linalg.pinv(input, rcond=rcond)


def cholesky(input, upper=False):  # noqa: A002
    """Cholesky factor (``linalg.cholesky``)."""
    return linalg.cholesky(input, upper=upper)


def trace(input):  # noqa: A002
    """Sum of the main diagonal of a 2-D tensor."""
    if input.dim() != 2:
        raise ValueError(f"trace: expected a 2-D tensor, got shape {tuple(input.shape)}")
    return diagonal(input).sum()


def matrix_power(input, n):  # noqa: A002
    """``linalg.matrix_power``."""
    return linalg.matrix_power(input, n)


def cholesky_solve(B, L, upper=False):
    """``linalg.cholesky_solve``: solves ``(L Lᵀ) X = B``."""
    return linalg.cholesky_solve(B, L, upper)


def _tensor_trace(self):
    """Sum of the main diagonal (``rustdl.trace``)."""
    return trace(self)


def _tensor_matrix_power(self, n):
    """``linalg.matrix_power``."""
    return linalg.matrix_power(self, n)


def _tensor_inverse(self):
    """The inverse (``linalg.inv``)."""
    return linalg.inv(self)


def _tensor_det(self):
    """The determinant (``linalg.det``)."""
    return linalg.det(self)


def _tensor_pinverse(self, rcond=1e-15):
    """The pseudo-inverse (``linalg.pinv``)."""
    return linalg.pinv(self, rcond=rcond)


Tensor.trace = _tensor_trace
Tensor.matrix_power = _tensor_matrix_power
Tensor.inverse = _tensor_inverse
Tensor.det = _tensor_det
Tensor.pinverse = _tensor_pinverse


def _tensor_logdet(self):
    """log(det) (``rustdl.logdet``)."""
    return logdet(self)


def _tensor_slogdet(self):
    """``(sign, logabsdet)`` (``linalg.slogdet``)."""
    return linalg.slogdet(self)


Tensor.logdet = _tensor_logdet
Tensor.slogdet = _tensor_slogdet


def __getattr__(name):
    # 16-bit dtypes: rustdl stores them as float32 (warns once)
    if name in ("float16", "half", "bfloat16"):
        from ._tensor_api import _warn_half

        _warn_half(f"rustdl.{name}")
        return float32
    raise AttributeError(f"module 'rustdl' has no attribute '{name}'")


# breadth D: math, order statistics, shape helpers, index helpers (see _tensor_api.py)
from ._tensor_api import (  # noqa: E402,F401
    ValuesIndicesResult,
    acos,
    acosh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    bucketize,
    cartesian_prod,
    column_stack,
    combinations,
    copysign,
    cosh,
    count_nonzero,
    cumulative_trapezoid,
    diff,
    digamma,
    dist,
    dstack,
    float_power,
    heaviside,
    hstack,
    hypot,
    kron,
    kthvalue,
    lgamma,
    logit,
    logspace,
    median,
    nanmean,
    nanmedian,
    nanquantile,
    nansum,
    polygamma,
    quantile,
    renorm,
    rot90,
    row_stack,
    searchsorted,
    signbit,
    sinh,
    take,
    trapezoid,
    trapz,
    tril_indices,
    triu_indices,
    true_divide,
    vander,
    vstack,
    xlogy,
)

from ._tensor_api import mode as _mode_d  # noqa: E402

mode = _mode_d
arcsin = asin
arccos = acos
arctan = atan
arctan2 = atan2
arcsinh = asinh
arccosh = acosh
arctanh = atanh


def _typed_first_argument() -> None:
    """The functional forms (``rustdl.abs(x)`` calls ``x.abs()``) given a non-tensor where a
    tensor is needed raise PyTorch's TypeError naming the function, not an AttributeError about
    a missing method. Functions that also take a number there are unaffected: only the
    AttributeError of a non-tensor first argument is translated."""
    import functools
    import inspect

    g = globals()
    own = {__name__, __name__ + "._tensor_api", __name__ + "._scatter_api"}
    for name, fn in list(g.items()):
        if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ not in own:
            continue

        def make(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                try:
                    return fn(*args, **kwargs)
                except AttributeError as err:
                    first = args[0] if args else next(iter(kwargs.values()), None)
                    if isinstance(first, Tensor) or isinstance(first, (list, tuple)):
                        raise
                    raise TypeError(
                        f"{fn.__name__}: expected a Tensor as the first argument, got {type(first).__name__}"
                    ) from err

            return wrapper

        g[name] = make(fn)


_typed_first_argument()
