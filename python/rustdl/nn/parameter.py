"""``Parameter``: a tensor that a :class:`~rustdl.nn.Module` registers as learnable."""

from __future__ import annotations

from typing import Any

from .._dispatch import disabled_torch_function_impl
from .._rustdl import Tensor


class _ParameterMeta(type(Tensor)):
    """``isinstance(t, Parameter)`` also holds for a Tensor subclass instance made a parameter
    (``nn.Parameter(sub)`` keeps ``sub``'s class and marks it ``_is_param``), as PyTorch's."""

    def __instancecheck__(cls, instance: object) -> bool:
        if super().__instancecheck__(instance):
            return True
        if cls is not Parameter:
            return False
        if not isinstance(instance, Tensor):
            # a complex parameter (held as its real storage) is a Parameter too
            from .._complex import ComplexParameter

            return isinstance(instance, ComplexParameter)
        try:
            return vars(instance).get("_is_param", False) is True
        except TypeError:  # an object without a __dict__
            return False


class Parameter(Tensor, metaclass=_ParameterMeta):
    """A tensor that is a module parameter: assigning it to a module attribute registers it.

    It shares storage with ``data`` (no copy) and requires grad by default.

    Args:
        data: the initial values; an empty float tensor when omitted.
        requires_grad: whether the parameter requires gradient (default ``True``).

    Example:
        >>> w = nn.Parameter(rustdl.zeros(3, 4))
        >>> w.requires_grad
        True
    """

    # results of ops on parameters are plain tensors, as PyTorch's
    __torch_function__ = disabled_torch_function_impl

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        from .._complex import ComplexParameter, ComplexTensor

        if isinstance(data, ComplexTensor):  # held as its real view (see ComplexParameter)
            return ComplexParameter(data, requires_grad)
        if data is None:
            data = Tensor()
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter: data must be a Tensor, got {type(data).__name__}")
        elif cls is Parameter and type(data) is not Tensor and not isinstance(data, Parameter):
            from .._dispatch import kind

            if kind(type(data)) == 1:
                # a Tensor subclass that takes part in __torch_function__ stays of its class,
                # marked as a parameter, as PyTorch's (its hook keeps seeing calls)
                t = data.detach().requires_grad_(requires_grad)
                if type(t) is not type(data):
                    raise RuntimeError(
                        f"Creating a Parameter from an instance of type {type(data).__name__} requires that "
                        f"detach() returns an instance of the same type, but return type {type(t).__name__} "
                        "was found instead"
                    )
                t._is_param = True
                return t
        if not data.is_contiguous():
            data = data.contiguous()
        self = Tensor.__new__(cls, data)
        self.requires_grad_(requires_grad)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # everything happened in __new__; a subclass's own keywords (geoopt's
        # ManifoldParameter(x, manifold=M)) reach here too, as PyTorch's has no __init__
        pass

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        # the values and requires_grad, not the gradient, of the same class, as PyTorch's Parameter
        copy = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = copy
        return copy

    def __copy__(self) -> Parameter:
        if type(self).__reduce_ex__ is not Parameter.__reduce_ex__:
            # a subclass that pickles itself is copied through that, as PyTorch copies it
            import copy

            return copy._reconstruct(self, None, *self.__reduce_ex__(4))  # type: ignore[attr-defined]
        # a Parameter over the same storage with the same attributes, as PyTorch's copy.copy
        out = Parameter(self.detach(), self.requires_grad)
        out.__dict__.update(self.__dict__)
        return out

    def __reduce_ex__(self, protocol: int):
        # pickled as a Parameter (the tensor's own pickle rebuilds a plain Tensor)
        from .._tensor_api import _reduce_parts

        rebuild, args, state = _reduce_parts(self)
        return (_rebuild_parameter, (rebuild, args, self.requires_grad, state))

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _rebuild_parameter(rebuild, args, requires_grad: bool, state: dict | None = None) -> Parameter:
    """Unpickles a :class:`Parameter` (see ``Parameter.__reduce_ex__``), with its attributes."""
    p = Parameter(rebuild(*args), requires_grad)
    if state:
        from .._tensor_api import _set_state

        _set_state(p, state)
    return p


class Buffer(Tensor):
    """A tensor that a :class:`~rustdl.nn.Module` registers as a buffer when assigned to one of
    its attributes (``self.mean = nn.Buffer(t)``), as ``torch.nn.Buffer``; ``persistent=False``
    keeps it out of ``state_dict``."""

    __torch_function__ = disabled_torch_function_impl

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            data = Tensor()
        elif not isinstance(data, Tensor):
            raise TypeError(f"Buffer: data must be a Tensor, got {type(data).__name__}")
        self = Tensor.__new__(cls, data.detach())
        if data.requires_grad:
            self.requires_grad_(True)  # (a buffer keeps its tensor's requires_grad, as PyTorch's)
        self.persistent = bool(persistent)
        return self

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True):
        pass


class UninitializedTensorMixin:
    """What the placeholders of lazy modules share (``isinstance(t, UninitializedTensorMixin)``
    tells a placeholder parameter or buffer from a real tensor, as PyTorch's mixin):
    ``materialize(shape)`` gives one its storage and makes it the real class
    (``cls_to_become``) in place."""

    cls_to_become: type = Tensor

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Gives the placeholder its storage (``shape``, uninitialised values) and makes it a
        plain :attr:`cls_to_become` (``Parameter`` or ``Tensor``) in place, as a lazy module's
        ``initialize_parameters`` does."""
        _materialize(self, shape, device, dtype, self.cls_to_become)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """The placeholder parameter of a lazy module (``LazyLinear``, ``LazyConv2d``,
    ``LazyBatchNorm2d``, ...) until its first forward fixes the shape; as
    ``torch.nn.parameter.UninitializedParameter``, ``isinstance`` tells it from a real one."""

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        from .. import _rustdl

        return Parameter.__new__(cls, _rustdl.empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        pass

    cls_to_become = Parameter

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """The placeholder buffer of a lazy module until its first forward."""

    __torch_function__ = disabled_torch_function_impl

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None):
        from .. import _rustdl

        return Tensor.__new__(cls, _rustdl.empty(0, device=device, dtype=dtype))

    def __init__(self, requires_grad: bool = False, device=None, dtype=None):
        pass


def _materialize(t, shape, device, dtype, cls) -> None:
    from .. import _rustdl

    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(int(s) for s in shape)
    t.data = _rustdl.empty(*shape, device=device or t.device, dtype=dtype or t.dtype)
    t.__class__ = cls


def is_lazy(param) -> bool:
    """True for a lazy module's placeholder parameter or buffer."""
    return isinstance(param, (UninitializedParameter, UninitializedBuffer))


def _fill_placeholder(module, name: str, value) -> None:
    """Sets ``module.<name>`` to ``value``'s data. A lazy placeholder there takes the data in
    place, as ``materialize`` (the same object, so an optimizer built before the first forward
    holds the live parameter, as in PyTorch); anything else is replaced by a new
    :class:`Parameter` (a parameter slot) or by ``value`` (a buffer slot)."""
    cur = module._parameters.get(name) if name in module._parameters else module._buffers.get(name)
    if isinstance(cur, UninitializedParameter):
        cur.data = value.detach()
        cur.__class__ = Parameter
    elif isinstance(cur, UninitializedBuffer):
        cur.data = value.detach()
        cur.__class__ = Tensor
    elif name in module._parameters:
        setattr(module, name, Parameter(value))
    else:
        setattr(module, name, value)
