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
    manual_seed,
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
from ._rustdl import where  # noqa: F401
from ._rustdl import bool, double, float, float32, float64, int64, long  # noqa: A004,F401
from .autograd import enable_grad, no_grad, set_grad_enabled  # noqa: F401
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
from . import autograd, gpu  # noqa: F401,E402
from . import nn, optim, data, datasets, train  # noqa: F401,E402
from . import accelerator, backends, cuda, jit, onnx  # noqa: F401,E402
from . import distributions  # noqa: F401,E402

__version__ = "0.1.0"


def is_tensor(obj):
    """True if `obj` is a rustdl Tensor."""
    return isinstance(obj, Tensor)


def _tensor_fn(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"Functional form of ``Tensor.{name}``."
    return fn


for _name in (
    "abs exp log log1p sqrt rsqrt sin cos tanh sigmoid relu square sign floor reciprocal clamp clip "
    "sum mean var std norm max min argmax argmin all any softmax log_softmax logsumexp "
    "matmul mm bmm reshape permute transpose t flatten squeeze unsqueeze narrow select split chunk "
    "flip index_select gather scatter_add masked_fill masked_select nonzero maximum minimum "
    "eq ne lt le gt ge logical_and logical_or logical_not neg detach clone "
    "topk sort argsort cumsum cumprod prod tril triu multinomial dot inner outer ger round ceil trunc "
    "fix remainder fmod floor_divide isnan isinf isfinite nan_to_num unbind roll diag "
    "repeat_interleave broadcast_to movedim moveaxis swapaxes swapdims amax amin erf expm1 log2 log10"
).split():
    globals()[_name] = _tensor_fn(_name)
del _name


def _rebuild_tensor(array, dtype: str, device: str, requires_grad: bool):
    """Unpickles a tensor saved by ``Tensor.__reduce__``."""
    import numpy as _np

    t = tensor(_np.asarray(array), dtype=getattr(_rustdl, dtype), device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t
