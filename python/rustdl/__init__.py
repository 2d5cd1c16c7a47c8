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

import builtins as _builtins  # noqa: E402
import sys  # noqa: E402

from . import _rustdl  # noqa: F401  (the extension, as rustdl._rustdl)
from ._rustdl import (  # noqa: F401
    ArgumentError,
    DivisionByZeroError,
    OutOfRangeError,
    DTypeError,
    GpuError,
    ShapeError,
    Tensor,
    ValuesIndices,
    device,
    dtype,
    empty,
    eye,
    from_numpy,
    full,
    get_num_threads,
    initial_seed,
    is_grad_enabled,
    ones,
    rand,
    randint,
    randn,
    set_num_threads,
    tensor,
    zeros,
)
from ._rustdl import where as _where_ternary
from ._rustdl import bool, double, float, float32, float64, int64, long  # noqa: A004,F401
from ._rustdl import int, int8, int16, int32, short, uint8  # noqa: A004,F401

# the 16-bit float dtypes: their own objects (unequal to float32, item size 2), which every op
# reads as float32 (rustdl stores no 16-bit floats; converting a tensor to one warns once)
from ._rustdl import bfloat16, float16, half  # noqa: E402,F401
from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401
from .autograd import is_anomaly_check_nan_enabled, is_anomaly_enabled, is_inference_mode_enabled  # noqa: F401
from . import amp  # noqa: F401
from . import _hooks  # noqa: F401  (Tensor.register_hook)
from ._scatter_api import (  # noqa: F401
    _convert_indices_from_coo_to_csr,
    _segment_reduce,
    segment_reduce,
    index_fill,
    scatter,
)
from ._symbolic import (  # noqa: F401
    SymBool,
    SymFloat,
    SymInt,
    _assert_async,
    _check,
    _check_index,
    _check_is_size,
    _check_not_implemented,
    _check_type,
    _check_value,
    _check_with,
    chalf,
    complex32,
    float4_e2m1fn_x2,
    float8_e4m3fn,
    float8_e4m3fnuz,
    float8_e5m2,
    float8_e5m2fnuz,
    float8_e8m0fnu,
    qint8,
    qint32,
    quint2x4,
    quint4x2,
    quint8,
    sym_float,
    sym_int,
    sym_ite,
    sym_max,
    sym_min,
    sym_not,
    sym_sqrt,
    uint16,
    uint32,
    uint64,
)
from .amp import (  # noqa: F401
    GradScaler,
    autocast,
    autocast_decrement_nesting,
    autocast_increment_nesting,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    is_autocast_ipu_enabled,
    is_autocast_xla_enabled,
    set_autocast_cache_enabled,
    set_autocast_cpu_dtype,
    set_autocast_cpu_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
    set_autocast_gpu_dtype,
)
from ._tensor_api import (  # noqa: F401  (cat, stack, arange, *_like: PyTorch's keywords over the native ones)
    arange,
    linspace,
    broadcast_shapes,
    broadcast_tensors,
    cat,
    channels_last,
    channels_last_3d,
    contiguous_format,
    empty_like,
    full_like,
    memory_format,
    ones_like,
    preserve_format,
    rand_like,
    randn_like,
    stack,
    zeros_like,
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


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode):
    """PyTorch's other spelling of :func:`use_deterministic_algorithms`: ``"default"`` (0) turns
    the flag off, ``"warn"`` (1) on with ``warn_only``, ``"error"`` (2) on."""
    import builtins

    mode = _DEBUG_MODES.get(debug_mode, debug_mode) if isinstance(debug_mode, str) else debug_mode
    if isinstance(mode, builtins.bool) or mode not in (0, 1, 2):
        raise RuntimeError(
            f"set_deterministic_debug_mode: invalid mode {debug_mode!r}; expected 'default', 'warn', "
            "'error', 0, 1 or 2"
        )
    use_deterministic_algorithms(mode != 0, warn_only=mode == 1)


def get_deterministic_debug_mode():
    """0, 1 or 2: what :func:`set_deterministic_debug_mode` (or the flag) last set."""
    if not _deterministic_algorithms[0]:
        return 0
    return 1 if _deterministic_algorithms[1] else 2


# What `torch.__version__` answers under rustdl.torchcompat: the PyTorch API level rustdl follows,
# with rustdl's own version as the local part, so `torch.__version__ >= "1.8"` and
# `packaging.version.parse(torch.__version__)` comparisons behave as on a recent PyTorch.
__torch_compat_version__ = "2.6.0+rustdl0.1.0"
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


from . import _tensor_api  # noqa: E402

_NUMBERS = (_builtins.bool, _builtins.int, _builtins.float)


def where(condition, input=None, other=None, *, out=None):  # noqa: A002
    """``input`` where ``condition`` holds, else ``other`` (each a tensor or a number); with
    the condition alone, the indices of its true elements (``condition.nonzero(as_tuple=True)``).
    ``out=`` receives the result, as PyTorch's."""
    if out is not None:
        return _into(out, where(condition, input, other))
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if input is None or other is None:
        raise TypeError("where: expected both input and other, or neither")
    condition = _tensor_api._bool_condition(condition)
    # a number beside a tensor takes the tensor's dtype (where(c, int32_t, 2) is int32)
    if isinstance(input, Tensor) and isinstance(other, _NUMBERS):
        other = _tensor_api._wrapped(other, input)
    elif isinstance(other, Tensor) and isinstance(input, _NUMBERS):
        input = _tensor_api._wrapped(input, other)
    return _where_ternary(condition, input, other)


from . import autograd, gpu  # noqa: F401,E402
from . import nn, optim, data, datasets, train  # noqa: F401,E402
from . import accelerator, backends, cpu, cuda, jit, onnx, serialization  # noqa: F401,E402
from . import distributed, distributions  # noqa: F401,E402
from . import __config__  # noqa: F401,E402
from .futures import Future  # noqa: F401,E402

# the device-generic stream and event (``torch.Stream``): rustdl's one ordered queue
from .cuda import Event, Stream  # noqa: F401,E402
from . import models  # noqa: F401,E402
from .utils.dlpack import from_dlpack, to_dlpack  # noqa: F401,E402
from .nn.modules.rnn import gru, gru_cell, lstm, lstm_cell, rnn_relu, rnn_relu_cell, rnn_tanh, rnn_tanh_cell  # noqa: F401,E402

__version__ = "0.1.0"

#: ``torch.newaxis``: ``None``, the numpy spelling that inserts a dim when indexing
newaxis = None


def is_tensor(obj):
    """True if `obj` is a rustdl tensor (a complex one included)."""
    from ._complex import ComplexTensor

    return isinstance(obj, (Tensor, ComplexTensor))


def _assert(condition, message):
    """``torch._assert``: raises AssertionError(message) when ``condition`` is false (a bool or a
    one-element tensor); the form model code uses where ``assert`` statements would be stripped.
    A condition whose type overrides ``__torch_function__`` (an FX proxy) gets the call."""
    kind = type(condition)
    if kind is not Tensor and kind is not _builtins.bool and hasattr(kind, "__torch_function__"):
        from .overrides import handle_torch_function

        return handle_torch_function(_assert, (condition,), condition, message)
    if not condition:  # (the builtin bool is shadowed by the dtype here)
        raise AssertionError(message)


def typename(obj) -> str:
    """A readable type name, as ``torch.typename``: ``tensor.type()`` for a tensor
    (``"torch.FloatTensor"``), else ``"<module>.<qualname>"`` of the object (or of its class;
    builtins unqualified: ``"int"``)."""
    if isinstance(obj, Tensor):
        return obj.type()
    mod = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None)
    if not isinstance(name, str):
        name = getattr(obj, "__name__", None)
    if not isinstance(name, str):  # an instance: its class's names
        mod, name = type(obj).__module__, type(obj).__qualname__
    if not isinstance(mod, str) or mod in ("", "builtins", "__builtin__"):
        return name
    return f"{mod}.{name}"


# ---- functional forms of Tensor methods: `rustdl.exp(x)` is `x.exp()` ----
# Written out (not generated at import) so that IDEs, type checkers and stubtest see them.
# Each takes PyTorch's `out=`: the result is copied into that tensor (resized to the result's
# shape when it differs, as PyTorch).


def _into(out, result):
    """``result``, or ``out`` after copying ``result`` into it (a tuple ``out`` for tuple results)."""
    if out is None:
        return result
    if isinstance(out, (tuple, list)):
        for o, r in zip(out, result):
            _into(o, r)
        return out
    if isinstance(out, _complex.ComplexTensor) or isinstance(result, _complex.ComplexTensor):
        return _complex_into(out, result)
    if not isinstance(out, Tensor):
        raise TypeError(f"out=: expected a tensor, got {type(out).__name__}")
    if is_grad_enabled() and (getattr(result, "requires_grad", False) or out.requires_grad):
        # as PyTorch: the copy into out= would drop the history (or overwrite a tensor that
        # autograd tracks) without a word
        raise RuntimeError(
            "functions with out=... arguments don't support automatic differentiation, but one of "
            "the arguments requires grad; compute without out= (or under torch.no_grad())"
        )
    if not can_cast(result.dtype, out.dtype):
        raise DTypeError(
            f"out=: result type {result.dtype} can't be cast to the desired output type {out.dtype}"
        )
    with no_grad():
        if tuple(out.shape) != tuple(result.shape):
            # PyTorch resizes a mis-shaped out= tensor (warning when it held elements)
            if out.numel() != 0:
                import warnings

                warnings.warn(
                    f"An output with one or more elements was resized since it had shape "
                    f"{list(out.shape)}, which does not match the required output shape "
                    f"{list(result.shape)}. This behavior is deprecated; pass an empty tensor "
                    "(or one of the right shape) as out=.",
                    UserWarning,
                    stacklevel=3,
                )
            out.resize_(tuple(result.shape))
        out.copy_(result)
    return out


def _complex_into(out, result):
    """``out=`` where the result or ``out`` is complex: a complex result needs a complex
    ``out`` of a dtype that holds it (real results go into a complex ``out`` as PyTorch's)."""
    if not isinstance(out, _complex.ComplexTensor):
        raise DTypeError(
            f"out=: result type {result.dtype} can't be cast to the desired output type {getattr(out, 'dtype', type(out).__name__)}"
        )
    if (
        isinstance(result, _complex.ComplexTensor)
        and result.dtype == _complex.complex128
        and out.dtype == _complex.complex64
    ):
        raise DTypeError(
            f"out=: result type {result.dtype} can't be cast to the desired output type {out.dtype}"
        )
    if is_grad_enabled() and (getattr(result, "requires_grad", False) or out.requires_grad):
        raise RuntimeError(
            "functions with out=... arguments don't support automatic differentiation, but one of "
            "the arguments requires grad; compute without out= (or under torch.no_grad())"
        )
    if tuple(out.shape) != tuple(result.shape):
        raise ShapeError(
            f"out=: a complex output of shape {tuple(out.shape)} cannot hold a result of shape {tuple(result.shape)}"
        )
    with no_grad():
        out.copy_(result)
    return out


def abs(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.abs``."""
    return _into(out, input.abs(*args, **kwargs))


def exp(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.exp``."""
    return _into(out, input.exp(*args, **kwargs))


def log(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.log``."""
    return _into(out, input.log(*args, **kwargs))


def log1p(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.log1p``."""
    return _into(out, input.log1p(*args, **kwargs))


def sqrt(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.sqrt``."""
    return _into(out, input.sqrt(*args, **kwargs))


def rsqrt(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.rsqrt``."""
    return _into(out, input.rsqrt(*args, **kwargs))


def sin(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.sin``."""
    return _into(out, input.sin(*args, **kwargs))


def cos(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.cos``."""
    return _into(out, input.cos(*args, **kwargs))


def tanh(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.tanh``."""
    return _into(out, input.tanh(*args, **kwargs))


def sigmoid(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.sigmoid``."""
    return _into(out, input.sigmoid(*args, **kwargs))


def relu(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.relu``."""
    return _into(out, input.relu(*args, **kwargs))


def square(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.square``."""
    return _into(out, input.square(*args, **kwargs))


def sign(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.sign``."""
    return _into(out, input.sign(*args, **kwargs))


def floor(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.floor``."""
    return _into(out, input.floor(*args, **kwargs))


def reciprocal(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.reciprocal``."""
    return _into(out, input.reciprocal(*args, **kwargs))


def clamp(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.clamp``."""
    return _into(out, input.clamp(*args, **kwargs))


def clip(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.clip``."""
    return _into(out, input.clip(*args, **kwargs))


def sum(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.sum``."""
    return _into(out, input.sum(*args, **kwargs))


def mean(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.mean``."""
    return _into(out, input.mean(*args, **kwargs))


def var(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.var``."""
    return _into(out, input.var(*args, **kwargs))


def std(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.std``."""
    return _into(out, input.std(*args, **kwargs))


def norm(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.norm``."""
    return _into(out, input.norm(*args, **kwargs))


def max(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.max``."""
    return _into(out, input.max(*args, **kwargs))


def min(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.min``."""
    return _into(out, input.min(*args, **kwargs))


def argmax(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.argmax``."""
    return _into(out, input.argmax(*args, **kwargs))


def argmin(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.argmin``."""
    return _into(out, input.argmin(*args, **kwargs))


def all(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.all``."""
    return _into(out, input.all(*args, **kwargs))


def any(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.any``."""
    return _into(out, input.any(*args, **kwargs))


def softmax(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.softmax``."""
    return _into(out, input.softmax(*args, **kwargs))


def log_softmax(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.log_softmax``."""
    return _into(out, input.log_softmax(*args, **kwargs))


def logsumexp(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.logsumexp``."""
    return _into(out, input.logsumexp(*args, **kwargs))


def matmul(input, other, *, out=None):  # noqa: A002
    """Functional form of ``Tensor.matmul`` (PyTorch's names: ``matmul(input=, other=)``)."""
    return _into(out, input.matmul(other))


def mm(input, mat2, *, out=None):  # noqa: A002
    """Functional form of ``Tensor.mm`` (PyTorch's names: ``mm(input=, mat2=)``)."""
    return _into(out, input.mm(mat2))


def bmm(input, mat2, *, out=None):  # noqa: A002
    """Functional form of ``Tensor.bmm`` (PyTorch's names: ``bmm(input=, mat2=)``)."""
    return _into(out, input.bmm(mat2))


def mul(input, other, *, out=None):  # noqa: A002
    """Functional form of ``Tensor.mul`` (``input`` may be a number; PyTorch's names:
    ``mul(input=, other=)``)."""
    if not isinstance(input, Tensor):
        input = _tensor_api._wrapped(input, other)
    return _into(out, input.mul(other))


def pow(input, exponent, *, out=None):  # noqa: A001,A002
    """Functional form of ``Tensor.pow`` (``input`` may be a number; PyTorch's names:
    ``pow(input=, exponent=)``)."""
    if not isinstance(input, Tensor):
        # a number base takes the exponent's device and, as PyTorch promotes it, its dtype
        input = _tensor_api._wrapped(input, exponent)
    return _into(out, input.pow(exponent))


def reshape(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.reshape``."""
    return _into(out, input.reshape(*args, **kwargs))


def permute(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.permute``."""
    return _into(out, input.permute(*args, **kwargs))


def transpose(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.transpose``."""
    return _into(out, input.transpose(*args, **kwargs))


def t(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.t``."""
    return _into(out, input.t(*args, **kwargs))


def flatten(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.flatten``."""
    return _into(out, input.flatten(*args, **kwargs))


def squeeze(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.squeeze``."""
    return _into(out, input.squeeze(*args, **kwargs))


def unsqueeze(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.unsqueeze``."""
    return _into(out, input.unsqueeze(*args, **kwargs))


def narrow(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.narrow``."""
    return _into(out, input.narrow(*args, **kwargs))


def select(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.select``."""
    return _into(out, input.select(*args, **kwargs))


def split(tensor, *args, out=None, **kwargs):
    """Functional form of ``Tensor.split`` (the first argument is named ``tensor``, as
    ``torch.split``)."""
    return _into(out, tensor.split(*args, **kwargs))


def chunk(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.chunk``."""
    return _into(out, input.chunk(*args, **kwargs))


def flip(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.flip``."""
    return _into(out, input.flip(*args, **kwargs))


def index_select(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.index_select``."""
    return _into(out, input.index_select(*args, **kwargs))


def gather(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.gather``."""
    return _into(out, input.gather(*args, **kwargs))


def scatter_add(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.scatter_add``."""
    return _into(out, input.scatter_add(*args, **kwargs))


def masked_fill(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.masked_fill``."""
    return _into(out, input.masked_fill(*args, **kwargs))


def masked_select(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.masked_select``."""
    return _into(out, input.masked_select(*args, **kwargs))


def nonzero(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.nonzero``."""
    return _into(out, input.nonzero(*args, **kwargs))


def maximum(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.maximum``."""
    return _into(out, input.maximum(*args, **kwargs))


def minimum(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.minimum``."""
    return _into(out, input.minimum(*args, **kwargs))


def eq(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.eq``."""
    return _into(out, input.eq(*args, **kwargs))


def ne(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.ne``."""
    return _into(out, input.ne(*args, **kwargs))


def lt(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.lt``."""
    return _into(out, input.lt(*args, **kwargs))


def le(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.le``."""
    return _into(out, input.le(*args, **kwargs))


def gt(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.gt``."""
    return _into(out, input.gt(*args, **kwargs))


def ge(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.ge``."""
    return _into(out, input.ge(*args, **kwargs))


def logical_and(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.logical_and``."""
    return _into(out, input.logical_and(*args, **kwargs))


def logical_or(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.logical_or``."""
    return _into(out, input.logical_or(*args, **kwargs))


def logical_not(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.logical_not``."""
    return _into(out, input.logical_not(*args, **kwargs))


def neg(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.neg``."""
    return _into(out, input.neg(*args, **kwargs))


def detach(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.detach``."""
    return _into(out, input.detach(*args, **kwargs))


def clone(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.clone``."""
    return _into(out, input.clone(*args, **kwargs))


def topk(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.topk``."""
    return _into(out, input.topk(*args, **kwargs))


def sort(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.sort``."""
    return _into(out, input.sort(*args, **kwargs))


def argsort(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.argsort``."""
    return _into(out, input.argsort(*args, **kwargs))


def cumsum(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.cumsum``."""
    return _into(out, input.cumsum(*args, **kwargs))


def cumprod(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.cumprod``."""
    return _into(out, input.cumprod(*args, **kwargs))


def prod(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.prod``."""
    return _into(out, input.prod(*args, **kwargs))


def tril(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.tril``."""
    return _into(out, input.tril(*args, **kwargs))


def triu(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.triu``."""
    return _into(out, input.triu(*args, **kwargs))


def multinomial(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.multinomial``."""
    return _into(out, input.multinomial(*args, **kwargs))


def dot(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.dot``."""
    return _into(out, input.dot(*args, **kwargs))


def inner(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.inner``."""
    return _into(out, input.inner(*args, **kwargs))


def outer(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.outer``."""
    return _into(out, input.outer(*args, **kwargs))


def ger(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.ger``."""
    return _into(out, input.ger(*args, **kwargs))


def round(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.round``."""
    return _into(out, input.round(*args, **kwargs))


def ceil(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.ceil``."""
    return _into(out, input.ceil(*args, **kwargs))


def trunc(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.trunc``."""
    return _into(out, input.trunc(*args, **kwargs))


def fix(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.fix``."""
    return _into(out, input.fix(*args, **kwargs))


def remainder(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.remainder`` (``input`` may be a number)."""
    if isinstance(input, _NUMBERS):
        input = _tensor_api._wrapped(input, args[0] if args else kwargs.get("other"))
    return _into(out, input.remainder(*args, **kwargs))


def fmod(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.fmod`` (``input`` may be a number)."""
    if isinstance(input, _NUMBERS):
        input = _tensor_api._wrapped(input, args[0] if args else kwargs.get("other"))
    return _into(out, input.fmod(*args, **kwargs))


def floor_divide(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.floor_divide`` (``input`` may be a number)."""
    if isinstance(input, _NUMBERS):
        input = _tensor_api._wrapped(input, args[0] if args else kwargs.get("other"))
    return _into(out, input.floor_divide(*args, **kwargs))


def isnan(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.isnan``."""
    return _into(out, input.isnan(*args, **kwargs))


def isinf(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.isinf``."""
    return _into(out, input.isinf(*args, **kwargs))


def isfinite(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.isfinite``."""
    return _into(out, input.isfinite(*args, **kwargs))


def nan_to_num(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.nan_to_num``."""
    return _into(out, input.nan_to_num(*args, **kwargs))


def _nan_to_num_nones(method):
    """``nan_to_num(nan=None)``: an explicit None is the default (0 for NaN, the dtype's extremes
    for the infinities), as PyTorch's."""
    import functools

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if None in args or None in kwargs.values():
            names = ("nan", "posinf", "neginf")
            kwargs = {**dict(zip(names, args)), **kwargs}
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            return method(self, **kwargs)
        return method(self, *args, **kwargs)

    return call


Tensor.nan_to_num = _nan_to_num_nones(Tensor.nan_to_num)
if hasattr(Tensor, "nan_to_num_"):
    Tensor.nan_to_num_ = _nan_to_num_nones(Tensor.nan_to_num_)


def unbind(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.unbind``."""
    return _into(out, input.unbind(*args, **kwargs))


def roll(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.roll``."""
    return _into(out, input.roll(*args, **kwargs))


def diag(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.diag``."""
    return _into(out, input.diag(*args, **kwargs))


def repeat_interleave(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.repeat_interleave``; with only a tensor of ``repeats``
    (``repeat_interleave(repeats)``), each index ``i`` repeated ``repeats[i]`` times (a batch
    vector from counts, as ``torch.repeat_interleave(repeats)``)."""
    if not args and "repeats" not in kwargs and isinstance(input, Tensor):
        if input.ndim > 1 or input.is_floating_point() or input.dtype == bool:
            raise RuntimeError(
                f"repeat_interleave: repeats must be a 0-d or 1-d integer tensor, got {input.dtype} "
                f"of shape {tuple(input.shape)}"
            )
        repeats = input.reshape(-1)
        index = arange(repeats.shape[0], device=input.device)
        return _into(out, index.repeat_interleave(repeats, **kwargs))
    return _into(out, input.repeat_interleave(*args, **kwargs))


def broadcast_to(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.broadcast_to``."""
    return _into(out, input.broadcast_to(*args, **kwargs))


def movedim(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.movedim``."""
    return _into(out, input.movedim(*args, **kwargs))


def moveaxis(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.moveaxis``."""
    return _into(out, input.moveaxis(*args, **kwargs))


def swapaxes(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.swapaxes``."""
    return _into(out, input.swapaxes(*args, **kwargs))


def swapdims(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.swapdims``."""
    return _into(out, input.swapdims(*args, **kwargs))


def amax(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.amax``."""
    return _into(out, input.amax(*args, **kwargs))


def amin(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.amin``."""
    return _into(out, input.amin(*args, **kwargs))


def erf(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.erf``."""
    return _into(out, input.erf(*args, **kwargs))


def erfinv(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.erfinv``."""
    return _into(out, input.erfinv(*args, **kwargs))


def expm1(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.expm1``."""
    return _into(out, input.expm1(*args, **kwargs))


def log2(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.log2``."""
    return _into(out, input.log2(*args, **kwargs))


def log10(input, *args, out=None, **kwargs):
    """Functional form of ``Tensor.log10``."""
    return _into(out, input.log10(*args, **kwargs))


def _rebuild_dtype(name: str):
    """Unpickles a dtype saved by ``dtype.__reduce__``."""
    return getattr(_rustdl, name)


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
    """As ``torch.compile``: a module comes back wrapped as PyTorch's compiled modules are
    (:class:`rustdl.compiler.OptimizedModule`: the module as its child ``_orig_mod``, so
    ``state_dict`` keys take the ``_orig_mod.`` prefix, attributes read through), a function
    unchanged — rustdl runs eagerly on its native kernels either way. With no model, a
    decorator."""
    if model is None:
        return lambda m: compile(
            m,
            fullgraph=fullgraph,
            dynamic=dynamic,
            backend=backend,
            mode=mode,
            options=options,
            disable=disable,
        )
    if not callable(model):
        raise TypeError(f"compile: expected a module or a function, got {type(model).__name__}")
    if isinstance(model, nn.Module) and not disable:
        from .compiler import OptimizedModule

        return OptimizedModule(model)
    return model


def manual_seed(seed):  # noqa: F811  (PyTorch's parameter name)
    """Seeds the global random stream (CPU and GPU draws alike) and returns
    :data:`default_generator`, as ``torch.manual_seed``: the seed is ``int(seed)`` (a float or a
    string from a config file works), negative seeds wrap modulo 2**64, and one outside
    [-2**63, 2**64) is a ValueError."""
    import builtins

    seed = builtins.int(seed)
    if not -(1 << 63) <= seed < (1 << 64):
        raise ValueError(f"manual_seed: Overflow when unpacking long long (seed {seed})")
    _rustdl.manual_seed(seed & ((1 << 64) - 1))
    return default_generator


# ---------------------------------------------------------------- breadth: constructors, math, linalg
from ._tensor_api import (  # noqa: E402,F401
    BFloat16Tensor,
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
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
    get_default_device,
    get_default_dtype,
    histc,
    histogram,
    histogramdd,
    inf,
    isclose,
    lerp,
    meshgrid,
    nan,
    pi,
    set_default_device,
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
    # NaN where the determinant is negative, added as a constant: a NaN factor on logabs would
    # put 0 * NaN = NaN into every gradient
    return logabs + where(sign.lt(0), nan, 0.0).to(logabs.dtype)


def slogdet(input):  # noqa: A002
    """``(sign, logabsdet)`` (``linalg.slogdet``)."""
    return linalg.slogdet(input)


def svd(input, some=True, compute_uv=True):  # noqa: A002
    """Old-style SVD: ``(U, S, V)`` with ``A = U diag(S) Vᵀ`` (V, not Vh); ``some=True`` gives
    the reduced factors."""
    if not compute_uv:
        # as PyTorch: the singular values, with U and V zero-filled (m, m) and (n, n) matrices
        *batch, m, n = input.shape
        S = linalg.svdvals(input)
        z = lambda k: zeros(*batch, k, k, dtype=input.dtype, device=input.device)  # noqa: E731
        return _SVDResult(z(m), S, z(n))
    U, S, Vh = linalg.svd(input, full_matrices=not some)
    return _SVDResult(U, S, Vh.transpose(-2, -1))


# torch.svd's named result: .U, .S, .V
_SVDResult = __import__("rustdl.return_types", fromlist=["structseq"]).structseq("svd", ["U", "S", "V"])


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


def matrix_exp(input):  # noqa: A002
    """``linalg.matrix_exp``."""
    return linalg.matrix_exp(input)


def cholesky_solve(B, L, upper=False):
    """``linalg.cholesky_solve``: solves ``(L Lᵀ) X = B``."""
    return linalg.cholesky_solve(B, L, upper)


def cholesky_inverse(L, upper=False, *, out=None):
    """``(L Lᵀ)⁻¹`` from a Cholesky factor (``Lᵀ L`` with ``upper``), as ``torch.cholesky_inverse``."""
    linalg._need_tensors("cholesky_inverse", L=L)
    ident = _rustdl.eye(L.shape[-1], dtype=L.dtype, device=L.device)
    return linalg.cholesky_solve(ident.expand(*L.shape), L, upper)


def lu(A, pivot=True, get_infos=False, out=None):
    """The deprecated ``torch.lu``: ``(LU, pivots)`` (and ``infos`` with ``get_infos``), as
    ``linalg.lu_factor_ex``."""
    LU, piv, info = linalg.lu_factor_ex(A, pivot=pivot)
    return (LU, piv, info) if get_infos else (LU, piv)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):  # noqa: N803
    """``P, L, U`` from a packed LU factorization."""
    return linalg.lu_unpack(LU_data, LU_pivots, unpack_data, unpack_pivots)


def lu_solve(b, LU_data, LU_pivots, *, out=None):  # noqa: N803
    """The deprecated ``torch.lu_solve(b, LU_data, LU_pivots)`` (``linalg.lu_solve`` reordered)."""
    return linalg.lu_solve(LU_data, LU_pivots, b)


_TriangularSolveResult = __import__("rustdl.return_types", fromlist=["structseq"]).structseq(
    "triangular_solve", ["solution", "cloned_coefficient"]
)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):  # noqa: N803
    """The deprecated ``torch.triangular_solve``: ``(X, A.clone())`` with ``A X = b``
    (``Aᵀ X = b`` with ``transpose``)."""
    linalg._need_tensors("triangular_solve", b=b, A=A)
    T = A.transpose(-2, -1) if transpose else A
    X = linalg.solve_triangular(T, b, upper=upper != transpose, unitriangular=unitriangular)
    return _TriangularSolveResult(X, A.clone())


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
Tensor.matrix_exp = matrix_exp
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
globals().update(linalg._torch_functions())  # torch.inverse, cholesky_solve, dsmm, ... with out= (see linalg)


# functional forms of Tensor methods that PyTorch also exports as functions (torch.add(a, b,
# alpha=2), torch.addcmul, torch.fmax, ...), for those not defined above
def _functional_form(name):
    # rustdl's own method, taken now: a Tensor method a program replaces later (or a subclass's
    # override) does not change what the function does, as PyTorch's functions are their own
    method = getattr(Tensor, name)

    def fn(input, *args, out=None, **kwargs):
        if not isinstance(input, Tensor):
            input = _tensor_api._wrapped(input, args[0] if args else kwargs.get("other"))
        return _into(out, method(input, *args, **kwargs))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Functional form of ``Tensor.{name}``."
    return fn


for _fname in (
    "absolute add addcdiv as_strided addcmul argwhere bitwise_and bitwise_not bitwise_or bitwise_xor "
    "clamp_max clamp_min deg2rad div divide equal exp2 fliplr flipud fmax fmin frac greater "
    "greater_equal hsplit index_copy is_complex is_floating_point is_signed less less_equal "
    "logaddexp logaddexp2 logical_xor masked_scatter mul multiply mv negative not_equal numel "
    "positive pow put rad2deg ravel rsub sgn sinc sub subtract take_along_dim tan tensor_split "
    "vsplit"
).split():
    if _fname not in globals() and hasattr(Tensor, _fname):
        globals()[_fname] = _functional_form(_fname)


_JIT_TYPE_NAMES = frozenset(
    "AnyType BoolType ComplexType DeviceObjType DictType FloatType IntType ListType NoneType "
    "NumberType OptionalType StreamObjType StringType SymBoolType SymIntType TensorType TupleType "
    "Type UnionType".split()
)


def __getattr__(name):
    # rustdl.utils (utils.tensorboard), hub, fx, overrides, signal and quasirandom load on first use, as
    # torch's lazily imported parts do
    if name in ("utils", "hub", "fx", "overrides", "signal", "quasirandom"):
        import importlib

        return importlib.import_module("." + name, __name__)
    # torch.ScriptModule / ScriptFunction are torch.jit's (made on first use)
    if name in ("ScriptModule", "ScriptFunction"):
        return getattr(jit, name)
    # TorchScript's type objects (torch.TensorType, torch.ListType, ...)
    if name in _JIT_TYPE_NAMES:
        import importlib

        return getattr(importlib.import_module("._jit_types", __name__), name)
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
    gcd,
    heaviside,
    hstack,
    hypot,
    kron,
    kthvalue,
    lcm,
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
    unravel_index,
    vander,
    vstack,
    xlogy,
)

from ._tensor_api import mode as _mode_d  # noqa: E402
from ._tensor_api import (  # noqa: E402,F401
    is_nonzero,
    isin,
    scalar_tensor,
    get_printoptions,
    printoptions,
    set_printoptions,
    tensordot,
)
from ._tensor_api import torch_range as _range_f  # noqa: E402
from ._tensor_api import bitwise_left_shift, bitwise_right_shift  # noqa: E402,F401

range = _range_f  # noqa: A001  (deprecated torch.range: the end is included)
concat = cat
concatenate = cat

mode = _mode_d
arcsin = asin
arccos = acos
arctan = atan
arctan2 = atan2
arcsinh = asinh
arccosh = acosh
arctanh = atanh


def _unbiased_overload(method):
    """``method`` (``Tensor.std``/``var``) reading a bool first argument as ``unbiased``, as
    PyTorch's ``std(unbiased)`` overload (``x.std(False)`` is the population std of all
    elements, not the std over dim 0)."""
    import functools

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if args and isinstance(args[0], _builtins.bool):
            from ._tensor_api import _unbiased_first

            dim, unbiased = _unbiased_first(args[0], kwargs.pop("unbiased", None))
            return method(self, dim, unbiased, *args[1:], **kwargs)
        return method(self, *args, **kwargs)

    return call


def _accept_numpy_names() -> None:
    """Lets the Tensor methods that take ``dim`` / ``keepdim`` also take numpy's ``axis`` /
    ``keepdims``, as PyTorch's do (``x.sum(axis=0)``, ``x.argmax(axis=1)``,
    ``x.mean(axis=1, keepdims=True)``); the functional forms (``rustdl.sum``) forward to them.

    It also gives ``Tensor.split`` its ``split_size`` keyword and ``max`` / ``min`` their
    ``other=`` form (``maximum`` / ``minimum``). A positional call goes straight through: the
    keywords are looked at only when given. (``flip``/``permute(dims=)``, ``reshape(shape=)`` and
    ``expand(size=)`` take their keyword natively.)"""
    import functools

    numpy_aliases = (("axis", "dim"), ("keepdims", "keepdim"))

    def accepting(method, aliases=numpy_aliases, other=None):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            if not kwargs:
                return method(self, *args)
            for alias, name in aliases:
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{method.__name__}() got both '{name}' and its alias '{alias}'")
                    kwargs[name] = kwargs.pop(alias)
            if other is not None and "other" in kwargs:  # max(other=t) is maximum(t)
                if args or len(kwargs) > 1:
                    raise TypeError(f"{method.__name__}(): 'other' takes no other arguments")
                return getattr(self, other)(kwargs.pop("other"))
            return method(self, *args, **kwargs)

        return call

    for name in (
        "sum", "mean", "nansum", "nanmean", "prod", "amax", "amin", "argmax", "argmin",
        "std", "var", "all", "any", "logsumexp", "norm", "cumsum", "cumprod", "softmax", "log_softmax",
        "squeeze", "unsqueeze", "median", "nanmedian", "mode", "sort", "argsort", "count_nonzero",
        "kthvalue", "quantile", "nanquantile", "topk", "unbind", "chunk", "diff",
    ):  # fmt: skip
        setattr(Tensor, name, accepting(getattr(Tensor, name)))
    for name in ("std", "var"):  # x.std(False): the bool is `unbiased` (PyTorch's overload)
        setattr(Tensor, name, _unbiased_overload(getattr(Tensor, name)))
    Tensor.max = accepting(Tensor.max, other="maximum")
    Tensor.min = accepting(Tensor.min, other="minimum")
    Tensor.split = accepting(Tensor.split, numpy_aliases + (("split_size", "split_size_or_sections"),))


_accept_numpy_names()


# breadth G: running extrema, scatter_reduce, dtype helpers, windows (see _breadth_g.py)
from ._breadth_g import (  # noqa: E402,F401
    aminmax,
    asarray,
    bartlett_window,
    binomial,
    blackman_window,
    can_cast,
    chain_matmul,
    corrcoef,
    cov,
    cummax,
    cummin,
    diagflat,
    erfc,
    frexp,
    from_file,
    frombuffer,
    hamming_window,
    hann_window,
    kaiser_window,
    i0,
    index_add,
    index_reduce,
    ldexp,
    logcumsumexp,
    msort,
    nextafter,
    poisson,
    promote_types,
    randint_like,
    result_type,
    scatter_reduce,
)

# breadth K: in-place forms of out-of-place ops, functional spellings (see _breadth_k.py)
from ._breadth_k import (  # noqa: E402,F401
    adaptive_avg_pool1d,
    adaptive_max_pool1d,
    addr,
    alpha_dropout,
    avg_pool1d,
    bilinear,
    celu,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    get_device,
    group_norm,
    hardshrink,
    is_inference,
    layer_norm,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    pixel_shuffle,
    pixel_unshuffle,
    prelu,
    rrelu,
    selu,
    threshold,
    clamp_,
    cosine_similarity,
    dropout,
    dsplit,
    empty_strided,
    feature_dropout,
    index_put,
    is_same_size,
    nan_to_num_,
    pairwise_distance,
    relu_,
    sigmoid_,
    tanh_,
    vdot,
)

# breadth R: the torch.* forms of functional ops with ATen's signatures (see _breadth_r.py)
from ._breadth_r import *  # noqa: E402,F401,F403
from ._breadth_r import copy_variants as _copy_variants  # noqa: E402

globals().update(_copy_variants())
# breadth O: scatter-into-view functions, gradient, layouts, ... (see _breadth_o.py)
from ._breadth_o import (  # noqa: E402,F401
    OutOfMemoryError,
    adjoint,
    conj_physical,
    get_num_interop_threads,
    is_conj,
    is_neg,
    is_warn_always_enabled,
    nonzero_static,
    pca_lowrank,
    set_flush_denormal,
    set_num_interop_threads,
    set_warn_always,
    split_with_sizes,
    svd_lowrank,
    unsafe_chunk,
    unsafe_split,
    cond,
    diagonal_scatter,
    gradient,
    isneginf,
    isposinf,
    isreal,
    layout,
    narrow_copy,
    qr,
    resolve_conj,
    resolve_neg,
    select_scatter,
    slice_scatter,
    sparse_bsc,
    sparse_bsr,
    sparse_coo,
    sparse_csc,
    sparse_csr,
    strided,
)
from . import _breadth_k, special  # noqa: E402,F401
from .special import gammainc as igamma  # noqa: E402,F401
from .special import gammaincc as igammac  # noqa: E402,F401

Tensor.igamma = lambda self, other: special.gammainc(self, other)
Tensor.igammac = lambda self, other: special.gammaincc(self, other)
for _ip in ("igamma", "igammac", "conj_physical"):
    setattr(Tensor, _ip + "_", _breadth_k._inplace_method(_ip + "_", _ip))
del _ip
mvlgamma = special.multigammaln
Tensor.mvlgamma = lambda self, p: special.multigammaln(self, p)


def _mvlgamma_(self, p):
    """In-place :func:`mvlgamma` (a float result is not written into an integer tensor)."""
    result = special.multigammaln(self, p)
    if not can_cast(result.dtype, self.dtype):
        raise DTypeError(
            f"mvlgamma_: result type {result.dtype} can't be cast to the desired output type {self.dtype}"
        )
    return self.copy_(result)


Tensor.mvlgamma_ = _mvlgamma_
from . import sparse  # noqa: E402,F401
from .sparse import sparse_coo_tensor, spmm  # noqa: E402,F401
from .nn.functional import pdist  # noqa: E402,F401


# keyword fronts of hot native constructors: the native call raises PyTorch's TypeError itself

from . import func  # noqa: E402,F401
from .func import vmap  # noqa: E402,F401

# complex tensors (pairs of real tensors) through the namespace's functions, and torch.fft
from . import _complex  # noqa: E402

_complex.install(sys.modules[__name__])
from ._breadth_o import install_placement_keywords as _install_placement_keywords  # noqa: E402

_install_placement_keywords(sys.modules[__name__])
from . import fft, random  # noqa: E402,F401
from . import _foreach  # noqa: E402
from . import _storage  # noqa: E402
from ._storage import StorageBase, TypedStorage, UntypedStorage  # noqa: E402,F401

Tensor.untyped_storage = _storage._untyped_storage
Tensor.storage = _storage._storage

globals().update(_foreach.functions())  # torch._foreach_add_, _foreach_lerp_, ... (see _foreach)
from .autograd import set_anomaly_enabled  # noqa: E402,F401
from .fft import istft, stft  # noqa: E402,F401

# a list, None or a number where a tensor belongs: PyTorch's TypeError naming the function, not an
# AttributeError about a missing method (arange/cat/stack front native functions that check)
from . import _out_args  # noqa: E402

_out_args.install(sys.modules[__name__], "torch", _into)
_out_args.install(special, "special", _into)
_out_args.install(fft, "fft", _into)
from . import _typed_errors  # noqa: E402

_typed_errors.install(sys.modules[__name__], Tensor, exclude=(arange, cat, stack))
for _ns in (linalg, special, fft):
    _typed_errors.install(_ns)

_tensor_api._install_identity_conversions()  # after every module that defines them
from . import _inplace_operators  # noqa: E402

_inplace_operators.install()  # in-place operators step aside for operands they do not take
# the __torch_function__ protocol: Tensor.__torch_function__ and the hook that installs the
# dispatching wrappers when a subclass or mode first needs them (see _dispatch)
from . import _dispatch  # noqa: E402,F401
