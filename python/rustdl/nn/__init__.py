"""Neural-network building blocks, as ``torch.nn``: ``Module``, layers, activations, losses.

Example:
    >>> from rustdl import nn
    >>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    >>> loss = nn.CrossEntropyLoss()(model(x), y)
"""

from . import (  # noqa: F401
    functional,
    grad,  # rustdl.nn.grad, as torch.nn.grad
    init,
    parallel,  # noqa: E402,F401
    utils,
)
from .functional import LinearCrossEntropyOptions
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter

__all__ = [
    "Buffer",
    "LinearCrossEntropyOptions",
    "Parameter",
    "UninitializedBuffer",
    "UninitializedParameter",
    "functional",
    "init",
    "parallel",
    "utils",
    *_modules_all,
]
