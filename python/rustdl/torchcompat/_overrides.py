"""What the torch facades add on top of rustdl: ``torch.device`` with "cuda" mapping, a few
aliases, and Tensor/Module methods PyTorch scripts call that rustdl lacks (added only if absent).
"""

from __future__ import annotations

import copyreg
from typing import Any

import rustdl
from rustdl import _torch_format, nn

from . import _torch_C, _torch_version

_GPU_TYPES = ("cuda", "gpu", "mps", "xpu", "vulkan", "wgpu")


def forced_cpu() -> bool:
    """True when GPU requests land on the CPU: ``RUSTDL_COMPAT_DEVICE=cpu``, no GPU, or a
    software adapter such as lavapipe (see :mod:`rustdl.cuda`)."""
    return rustdl.cuda._forced_cpu()


def map_device(spec: Any, index: int | None = None) -> Any:
    """A ``rustdl.device`` for a torch device spec: "cuda"/"cuda:N"/"mps" → rustdl's GPU.

    Where "cuda" means the CPU (:func:`forced_cpu`) every GPU spec maps to the CPU.
    """
    if isinstance(spec, rustdl.device):
        if forced_cpu() and spec.type != "cpu":
            return rustdl.device("cpu")
        return spec
    if isinstance(spec, int):
        spec, index = "cuda", spec
    if not isinstance(spec, str):
        raise TypeError(f"torch.device: expected a string or an int, got {spec!r}")
    s = spec.strip().lower()
    if index is not None and ":" not in s:
        s = f"{s}:{int(index)}"
    kind, _, num = s.partition(":")
    if kind in _GPU_TYPES:
        if forced_cpu():
            return rustdl.device("cpu")
        return rustdl.device(f"gpu:{num}" if num else "gpu")
    return rustdl.device(s)


def set_default_device(device: Any) -> None:
    """``torch.set_default_device``: "cuda" maps as :func:`map_device` does."""
    rustdl.set_default_device(None if device is None else map_device(device))


class _MetaDevice:
    """``torch.device("meta")``: rustdl has no meta tensors, but code compares devices with it
    (safetensors' ``tensor.device != torch.device("meta")``); no tensor's device equals it."""

    type = "meta"
    index = None

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _MetaDevice)

    def __hash__(self) -> int:
        return hash("meta")

    def __repr__(self) -> str:
        return "device(type='meta')"

    def __str__(self) -> str:
        return "meta"

    def __enter__(self) -> _MetaDevice:
        """``with torch.device("meta"):`` — code builds a module there only to look at its
        structure (its parameters hold no data and drawing them consumes no random numbers).
        rustdl builds it on the CPU and puts the random generators back as they were on leaving,
        so the program's later draws are PyTorch's."""
        states = [rustdl.get_rng_state()]
        gpu = rustdl.cuda.is_available()
        if gpu:
            states.append(rustdl.cuda.get_rng_state_all())
        _META_STACK.append((states, gpu))
        return self

    def __exit__(self, *exc: Any) -> None:
        states, gpu = _META_STACK.pop()
        rustdl.set_rng_state(states[0])
        if gpu:
            rustdl.cuda.set_rng_state_all(states[1])


_META = _MetaDevice()
_META_STACK: list = []


class _DeviceMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, (rustdl.device, _MetaDevice))


class device(metaclass=_DeviceMeta):
    """``torch.device(...)``: returns a ``rustdl.device``; "cuda" means rustdl's GPU."""

    __module__ = "torch"  # pickles name torch.device, as PyTorch's (PyTorch reads them)

    def __new__(cls, type: Any, index: int | None = None) -> Any:  # noqa: A002
        if _is_meta(type) and index is None:
            return _META
        return map_device(type, index)


def for_module(name: str) -> dict[str, Any]:
    """Overrides the facade named ``name`` puts before its rustdl module's attributes."""
    if name == "torch":
        return {
            "device": device,
            "Size": Size,
            "broadcast_shapes": _broadcast_shapes,
            "set_default_device": set_default_device,
            # rustdl's PyTorch-compatibility level, e.g. "2.6.0+rustdl0.1.0" (rustdl.__torch_compat_version__).
            "__version__": _torch_version.__version__,
            "__file__": rustdl.__file__,
            # PyTorch's zip format for plain data, so PyTorch itself reads what a script saves
            "save": _torch_format.save,
            "PyTorchFileReader": _torch_C.PyTorchFileReader,
            "_softmax_backward_data": _softmax_backward_data,
        }
    if name == "torch.nn":
        from rustdl.nn import parallel

        return {"DataParallel": parallel.DataParallel, "parallel": parallel}
    if name == "torch.version":
        return {"__version__": _torch_version.__version__}
    return {}


def _softmax_backward_data(grad_output: Any, output: Any, dim: int, input_dtype: Any) -> Any:
    """``torch._softmax_backward_data``: the gradient of softmax at its ``output``,
    ``y · (g − Σ g·y)`` along ``dim`` (differentiable, as PyTorch's), in ``input_dtype``."""
    grad = output * (grad_output - (grad_output * output).sum(dim, keepdim=True))
    return grad if input_dtype is None or grad.dtype == input_dtype else grad.to(input_dtype)


def _cuda_spec(device: Any) -> Any:
    """``device`` of a ``.cuda(device)`` call mapped; a CPU device is refused, as PyTorch's."""
    if device is None:
        return map_device("cuda")
    # (a device object may be "cuda" mapped to the CPU already: only a spelled-out "cpu" is refused)
    if isinstance(device, str) and device.strip().lower().partition(":")[0] == "cpu":
        raise RuntimeError("Invalid device, must be cuda device")
    return map_device(device)


def _tensor_cuda(self: Any, device: Any = None, non_blocking: bool = False, **kwargs: Any) -> Any:
    """``t.cuda()``: a copy on rustdl's GPU (or the tensor itself when the CPU is forced)."""
    return self.to(_cuda_spec(device))


def _module_cuda(self: Any, device: Any = None) -> Any:
    """``model.cuda()``: moves parameters and buffers to rustdl's GPU (CPU when forced); not
    through ``self.to``, which a subclass may define with ``self.cuda()``."""
    return nn.Module._moved(self, _cuda_spec(device))


class Size(tuple):
    """``torch.Size``: the tuple of a tensor's dims, printed as PyTorch prints it
    (``torch.Size([2, 3])``), with ``numel()``; slicing or adding gives a Size again."""

    __module__ = "torch"  # pickles name torch.Size, as PyTorch's

    def __new__(cls, sizes: Any = ()) -> Size:
        return tuple.__new__(cls, (int(n) for n in sizes))

    def __reduce__(self) -> tuple:
        # a Size again after pickle / copy / deepcopy (tuple's own reduction gives a tuple)
        return (Size, (tuple(self),))

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, key: Any) -> Any:
        out = tuple.__getitem__(self, key)
        return tuple.__new__(Size, out) if isinstance(key, slice) else out

    def __add__(self, other: Any) -> Size:
        # a tuple only, as tuple's own + (a list is a TypeError; a numpy array adds element-wise
        # through its reflected operator)
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple(self) + tuple(other))

    def __radd__(self, other: Any) -> Size:
        # `(1,) + size` (a subclass's reflected method goes first)
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple(other) + tuple(self))

    def __mul__(self, n: Any) -> Size:
        return tuple.__new__(Size, tuple(self) * n)

    __rmul__ = __mul__


def _register_size_node() -> None:
    """A Size is a pytree node of its ints (unflattened as a plain tuple), as PyTorch registers it:
    ``tree_map`` over a shape then maps its dims rather than taking the Size as one leaf."""
    from rustdl.utils import _pytree

    if Size not in _pytree.SUPPORTED_NODES:
        _pytree.register_pytree_node(
            Size,
            lambda s: (list(s), None),
            lambda values, _context: tuple(values),
            flatten_with_keys_fn=lambda s: ([(_pytree.SequenceKey(i), d) for i, d in enumerate(s)], None),
        )


_register_size_node()


def _broadcast_shapes(*shapes: Any) -> Size:
    """``torch.broadcast_shapes``: the broadcast shape as a :class:`Size`."""
    return tuple.__new__(Size, rustdl.broadcast_shapes(*shapes))


_ORIG_SHAPE = rustdl.Tensor.shape
_ORIG_SIZE = rustdl.Tensor.size


def _tensor_shape(self: Any) -> Size:
    return tuple.__new__(Size, _ORIG_SHAPE.__get__(self))


def _tensor_size(self: Any, *args: Any, **kwargs: Any) -> Any:
    """``t.size()`` as a :class:`Size`; ``t.size(dim)`` an int."""
    out = _ORIG_SIZE(self, *args, **kwargs)
    return tuple.__new__(Size, out) if isinstance(out, tuple) else out


def _dtype_repr(self: Any) -> str:
    return f"torch.{self.name}"


_ORIG_DOUBLE = rustdl.Tensor.double
_ORIG_TO = rustdl.Tensor.to
_F64_GPU_WARNED = [False]


def _f64_on_cpu(self: Any, convert: Any, what: str) -> Any:
    """``convert(self)``; where that fails only because the GPU has no float64, the float64
    result on the CPU instead (warning once), as scripts written for CUDA expect to get one."""
    try:
        return convert(self)
    except TypeError as err:
        if "float64 is not supported on the GPU" not in str(err) or self.device.type == "cpu":
            raise
        try:
            out = convert(self.cpu())
        except Exception:
            raise err from None
        if not _F64_GPU_WARNED[0]:
            _F64_GPU_WARNED[0] = True
            import warnings

            warnings.warn(
                f"{what}: rustdl's GPU has no float64, so the float64 result of a GPU tensor is "
                "made on the CPU",
                UserWarning,
                stacklevel=3,
            )
        return out


def _tensor_double(self: Any, memory_format: Any = None) -> Any:
    """``t.double()``; for a GPU tensor a float64 copy on the CPU (see :func:`_f64_on_cpu`)."""
    return _f64_on_cpu(self, _ORIG_DOUBLE, "Tensor.double")


def _tensor_to(self: Any, *args: Any, **kwargs: Any) -> Any:
    """``t.to(...)``; ``t.to(torch.float64)`` of a GPU tensor gives a float64 copy on the CPU."""
    return _f64_on_cpu(self, lambda t: _ORIG_TO(t, *args, **kwargs), "Tensor.to")


_ORIG_DTYPE_REPR = rustdl.dtype.__repr__
_ORIG_ATTRS = {k: rustdl.Tensor.__dict__.get(k) for k in ("cuda", "is_mps", "is_xpu")}
_ORIG_MODULE_CUDA = nn.Module.__dict__.get("cuda")
_ORIG_MODULE_TO = nn.Module.to


def _is_meta(spec: Any) -> bool:
    return isinstance(spec, str) and spec.strip().lower() == "meta"


def _module_to(self: Any, *args: Any, **kwargs: Any) -> Any:
    """``module.to(...)``; ``module.to("meta")`` returns the module unchanged (rustdl has no
    meta device). PyTorch programs move a template to "meta" only to call it through
    ``torch.func.functional_call`` with other weights, which works the same with real ones."""
    if (args and _is_meta(args[0])) or _is_meta(kwargs.get("device")):
        return self
    return _ORIG_MODULE_TO(self, *args, **kwargs)


_DIST = rustdl.distributions.Distribution
_ORIG_DIST_SHAPES = {k: _DIST.__dict__[k] for k in ("batch_shape", "event_shape")}
_ORIG_EXTENDED_SHAPE = _DIST.__dict__["_extended_shape"]


def _extended_shape(self: Any, sample_shape: Any = ()) -> Size:
    """``sample_shape + batch_shape + event_shape`` as a :class:`Size`, as PyTorch."""
    return Size(_ORIG_EXTENDED_SHAPE(self, sample_shape))


# the distribution families with their own param_shape (Categorical, Bernoulli, ...)
_ORIG_PARAM_SHAPES = {
    cls: cls.__dict__["param_shape"]
    for cls in vars(rustdl.distributions).values()
    if isinstance(cls, type)
    and issubclass(cls, _DIST)
    and isinstance(cls.__dict__.get("param_shape"), property)
}


def _size_property(orig: Any) -> property:
    """A distribution's ``batch_shape``/``event_shape``/``param_shape`` as a :class:`Size`, as PyTorch."""
    return property(lambda self: Size(orig.fget(self)), doc=orig.__doc__)


def _reduce_dtype(dt: Any) -> str:
    # the name of a global of dtype's module (renamed "torch" while the facade is installed)
    return str(dt).rsplit(".", 1)[-1]


def _reduce_device(dev: Any) -> tuple:
    kind = "cuda" if dev.type in ("cuda", "gpu") else dev.type
    return (device, (kind,) if dev.index is None else (kind, int(dev.index)))


def unpatch_classes() -> None:
    """Undoes :func:`patch_classes` (``torchcompat.uninstall``): rustdl prints and behaves as
    itself again in the same process."""
    copyreg.dispatch_table.pop(rustdl.dtype, None)
    copyreg.dispatch_table.pop(rustdl.device, None)
    for key, value in _ORIG_ATTRS.items():
        try:
            if value is None:
                if key in rustdl.Tensor.__dict__:
                    delattr(rustdl.Tensor, key)
            else:
                setattr(rustdl.Tensor, key, value)
        except (TypeError, AttributeError):
            pass
    rustdl.Tensor.shape = _ORIG_SHAPE
    rustdl.Tensor.size = _ORIG_SIZE
    for key, value in _ORIG_DIST_SHAPES.items():
        setattr(_DIST, key, value)
    _DIST._extended_shape = _ORIG_EXTENDED_SHAPE
    for cls, value in _ORIG_PARAM_SHAPES.items():
        cls.param_shape = value
    rustdl.dtype.__repr__ = _ORIG_DTYPE_REPR
    rustdl.Tensor.double = _ORIG_DOUBLE
    rustdl.Tensor.to = _ORIG_TO
    nn.Module.to = _ORIG_MODULE_TO
    if _ORIG_MODULE_CUDA is None:
        if "cuda" in nn.Module.__dict__:
            del nn.Module.cuda
    else:
        nn.Module.cuda = _ORIG_MODULE_CUDA


def patch_classes() -> None:
    """Adds ``Tensor.cuda``, ``Tensor.is_mps``/``is_xpu`` and ``Module.cuda`` where rustdl lacks them,
    and lets ``Tensor.double()`` / ``.to(float64)`` of a GPU tensor fall back to the CPU."""
    additions = {
        "cuda": _tensor_cuda,
        "is_mps": property(lambda self: False, doc="False: rustdl has no MPS device."),
        "is_xpu": property(lambda self: False, doc="False: rustdl has no XPU device."),
    }
    for key, value in additions.items():
        # .cuda() always goes through the compat mapping, which honours RUSTDL_COMPAT_DEVICE=cpu
        if key == "cuda" or not hasattr(rustdl.Tensor, key):
            try:
                setattr(rustdl.Tensor, key, value)
            except (TypeError, AttributeError):
                pass  # an immutable type in a later build: the core then provides these
    # printed as PyTorch prints them: torch.Size([2, 3]), torch.float32
    rustdl.Tensor.shape = property(_tensor_shape, doc="The dims, as a torch.Size.")
    rustdl.Tensor.size = _tensor_size
    for key, value in _ORIG_DIST_SHAPES.items():
        setattr(_DIST, key, _size_property(value))
    _DIST._extended_shape = _extended_shape
    for cls, value in _ORIG_PARAM_SHAPES.items():
        cls.param_shape = _size_property(value)
    rustdl.dtype.__repr__ = _dtype_repr
    rustdl.Tensor.double = _tensor_double
    rustdl.Tensor.to = _tensor_to
    nn.Module.cuda = _module_cuda
    nn.Module.to = _module_to
    # pickles of dtypes and devices name torch.float32 / torch.device, as PyTorch writes them, so
    # PyTorch reads what a script pickles here (a replay buffer holding its device)
    copyreg.pickle(rustdl.dtype, _reduce_dtype)
    copyreg.pickle(rustdl.device, _reduce_device)
