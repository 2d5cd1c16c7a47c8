"""Mixed precision, as ``torch.amp`` / ``torch.cuda.amp``: ``autocast`` and ``GradScaler``.

rustdl computes in float32 (it has no 16-bit storage), so :class:`autocast` changes nothing: it
is a context manager and decorator that scripts written for mixed precision can keep. The
:class:`GradScaler` does what PyTorch's does — scales the loss, unscales the gradients before
the update, skips steps whose gradients hold an inf or NaN and adapts the scale — so a script's
training loop runs unchanged; with float32 gradients the scale rarely matters, and
``enabled=False`` makes every method a pass-through, as in PyTorch.
"""

from __future__ import annotations

import enum
import functools
import math
import threading
import warnings
from collections.abc import Iterable
from typing import Any

from . import _rustdl
from ._rustdl import Tensor

__all__ = [
    "GradScaler",
    "autocast",
    "clear_autocast_cache",
    "custom_bwd",
    "custom_fwd",
    "get_autocast_dtype",
    "is_autocast_available",
    "is_autocast_cache_enabled",
    "is_autocast_enabled",
    "set_autocast_cache_enabled",
    "set_autocast_dtype",
    "set_autocast_enabled",
]

# PyTorch's autocast device types (``torch.is_autocast_enabled("foo")`` raises RuntimeError)
_DEVICE_TYPES = frozenset(
    "cpu cuda ipu xpu mkldnn opengl opencl ideep hip ve fpga maia xla lazy vulkan mps meta hpu mtia "
    "privateuseone".split()
)


class _AutocastState(threading.local):
    """Per-thread autocast flags, as PyTorch keeps them: whether autocast is on for each device
    type, the dtype it names, whether its cast cache is on, and the nesting depth."""

    def __init__(self) -> None:
        self.enabled: dict[str, bool] = {}
        self.dtype: dict[str, Any] = {}
        self.cache_enabled = True
        self.nesting = 0


_STATE = _AutocastState()


def _device_type(op: str, device_type: Any) -> str:
    if not isinstance(device_type, str):
        raise TypeError(f"{op}: device_type must be a str, got {type(device_type).__name__}")
    kind = device_type.split(":", 1)[0].strip().lower()
    if kind == "gpu":  # rustdl's GPU is what scripts call "cuda"
        kind = "cuda"
    if kind not in _DEVICE_TYPES:
        raise RuntimeError(
            f"{op}: expected one of {', '.join(sorted(_DEVICE_TYPES))} device type, got {device_type!r}"
        )
    return kind


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether an :class:`autocast` region (or :func:`set_autocast_enabled`) is active for
    ``device_type`` in this thread; with no argument, for ``"cuda"`` (PyTorch's legacy form).
    rustdl's autocast regions still compute in float32 (see :class:`autocast`)."""
    kind = "cuda" if device_type is None else _device_type("is_autocast_enabled", device_type)
    return _STATE.enabled.get(kind, False)


def set_autocast_enabled(device_type: Any, enabled: Any = None) -> None:
    """``set_autocast_enabled(device_type, enabled)``, or the legacy ``set_autocast_enabled(enabled)``
    for ``"cuda"``: turns this thread's autocast flag for the device type on or off."""
    if enabled is None:
        if isinstance(device_type, str):
            raise TypeError("set_autocast_enabled: expected (device_type, enabled) or (enabled)")
        device_type, enabled = "cuda", device_type
    _STATE.enabled[_device_type("set_autocast_enabled", device_type)] = bool(enabled)


def get_autocast_dtype(device_type: str) -> Any:
    """The dtype autocast regions on ``device_type`` name: the one set by
    :func:`set_autocast_dtype` or the innermost :class:`autocast`, else PyTorch's default
    (float16; bfloat16 on the CPU). A tensor converted to either is float32 in rustdl, which
    has no 16-bit storage."""
    kind = _device_type("get_autocast_dtype", device_type)
    return _STATE.dtype.get(kind, _rustdl.bfloat16 if kind == "cpu" else _rustdl.float16)


def set_autocast_dtype(device_type: str, dtype: Any) -> None:
    """Sets the dtype :func:`get_autocast_dtype` reports for ``device_type`` in this thread."""
    _STATE.dtype[_device_type("set_autocast_dtype", device_type)] = dtype


def is_autocast_cache_enabled() -> bool:
    """Whether autocast's cast cache is on (it is by default; rustdl casts nothing to cache)."""
    return _STATE.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    """Sets the flag :func:`is_autocast_cache_enabled` reports."""
    _STATE.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Clears autocast's cast cache: rustdl's autocast casts nothing, so there is none."""


def autocast_increment_nesting() -> int:
    """Raises the autocast nesting depth by one and returns it."""
    _STATE.nesting += 1
    return _STATE.nesting


def autocast_decrement_nesting() -> int:
    """Lowers the autocast nesting depth by one and returns it."""
    _STATE.nesting = max(_STATE.nesting - 1, 0)
    return _STATE.nesting


def is_autocast_cpu_enabled() -> bool:
    """Legacy ``is_autocast_enabled("cpu")``."""
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled: bool) -> None:
    """Legacy ``set_autocast_enabled("cpu", enabled)``."""
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype() -> Any:
    """Legacy ``get_autocast_dtype("cpu")``."""
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype: Any) -> None:
    """Legacy ``set_autocast_dtype("cpu", dtype)``."""
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype() -> Any:
    """Legacy ``get_autocast_dtype("cuda")``."""
    return get_autocast_dtype("cuda")


def set_autocast_gpu_dtype(dtype: Any) -> None:
    """Legacy ``set_autocast_dtype("cuda", dtype)``."""
    set_autocast_dtype("cuda", dtype)


def is_autocast_xla_enabled() -> bool:
    """Legacy ``is_autocast_enabled("xla")``."""
    return is_autocast_enabled("xla")


def is_autocast_ipu_enabled() -> bool:
    """Legacy ``is_autocast_enabled("ipu")``."""
    return is_autocast_enabled("ipu")


class autocast:
    """Accepted for compatibility: regions run in float32 as everywhere in rustdl.

    Inside the region :func:`is_autocast_enabled` / :func:`get_autocast_dtype` report what the
    region asked for, as in PyTorch (per thread, restored on exit), but no op changes precision.

    Args:
        device_type: ``"cuda"``, ``"cpu"``, ... (``"gpu"`` counts as ``"cuda"``).
        dtype: the lower precision PyTorch would use (reported by :func:`get_autocast_dtype`;
            computation stays float32).
        enabled: whether autocast is on (reported by :func:`is_autocast_enabled`).
        cache_enabled: reported by :func:`is_autocast_cache_enabled`.

    Example:
        >>> with rustdl.autocast("cuda", dtype=rustdl.float16):
        ...     loss = model(x).sum()
    """

    def __init__(
        self,
        device_type: str = "cuda",
        dtype: Any = None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        if not isinstance(device_type, str):
            raise TypeError(f"autocast: device_type must be a str, got {type(device_type).__name__}")
        self.device_type, self.fast_dtype, self.enabled = device_type, dtype, bool(enabled)
        self._cache_enabled = cache_enabled
        self._saved: list[tuple[Any, ...]] = []

    def __enter__(self) -> autocast:
        kind = _device_type("autocast", self.device_type)
        st = _STATE
        self._saved.append((kind, st.enabled.get(kind), st.dtype.get(kind), st.cache_enabled))
        st.enabled[kind] = self.enabled
        if self.fast_dtype is not None:
            st.dtype[kind] = self.fast_dtype
        if self._cache_enabled is not None:
            st.cache_enabled = bool(self._cache_enabled)
        autocast_increment_nesting()
        return self

    def __exit__(self, *exc: Any) -> bool:
        kind, enabled, dtype, cache = self._saved.pop()
        st = _STATE
        for table, old in ((st.enabled, enabled), (st.dtype, dtype)):
            if old is None:
                table.pop(kind, None)
            else:
                table[kind] = old
        st.cache_enabled = cache
        autocast_decrement_nesting()
        return False

    def __call__(self, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast`` accepts ``device_type`` (every device type PyTorch knows, as a
    float32 region); an unknown device type raises RuntimeError, as in PyTorch."""
    _device_type("is_autocast_available", device_type)
    return True


def custom_fwd(fwd: Any = None, *, device_type: str = "cuda", cast_inputs: Any = None) -> Any:
    """Decorator for a custom ``Function.forward`` under autocast: returns it unchanged."""
    if fwd is None:
        return lambda f: f
    return fwd


def custom_bwd(bwd: Any = None, *, device_type: str = "cuda") -> Any:
    """Decorator for a custom ``Function.backward`` under autocast: returns it unchanged."""
    if bwd is None:
        return lambda f: f
    return bwd


def _grads(optimizer: Any) -> list[Tensor]:
    return [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]


def _cuda_means_cpu_under_torchcompat() -> bool:
    """True when a PyTorch script runs through rustdl.torchcompat and "cuda" is the CPU."""
    import sys

    compat = sys.modules.get("rustdl.torchcompat")
    if compat is None or not compat.installed():
        return False
    from . import cuda

    return not cuda.is_available()


class OptState(enum.Enum):
    """Where an optimizer is in a scaled step (``torch.amp.grad_scaler.OptState``): gradients
    not yet unscaled, unscaled, or the step taken."""

    READY = 0
    UNSCALED = 1
    STEPPED = 2


class GradScaler:
    """Loss scaling with PyTorch's contract (``scale``, ``unscale_``, ``step``, ``update``).

    As PyTorch's, the scale and the growth tracker are 0-d tensors (``_scale`` float32,
    ``_growth_tracker`` int32) made by the first :meth:`scale` on the output's device; until then
    both are ``None``, and ``unscale_``, ``step`` and ``update`` raise ``AssertionError`` (a
    script that forgot ``scaler.scale(loss)``).

    Args:
        device: the device type whose gradients are scaled (``"cuda"``: off, with a warning,
            where CUDA is not available).
        init_scale: the starting scale (65536).
        growth_factor: the scale's factor after ``growth_interval`` steps without inf/NaN.
        backoff_factor: the scale's factor after a step with inf/NaN gradients.
        growth_interval: finite steps between growths.
        enabled: ``False`` makes every method a pass-through.

    Example:
        >>> scaler = rustdl.amp.GradScaler()
        >>> scaler.scale(loss).backward()
        >>> scaler.step(optimizer)
        >>> scaler.update()
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        self._device = device
        if enabled and str(device).startswith("cuda") and _cuda_means_cpu_under_torchcompat():
            # a PyTorch script on a machine without CUDA: PyTorch's scaler turns itself off
            warnings.warn(
                "torch.cuda.amp.GradScaler is enabled, but CUDA is not available. Disabling.",
                UserWarning,
                stacklevel=2,
            )
            enabled = False
        self._enabled = bool(enabled)
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale: Tensor | None = None  # made by the first scale()
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker: Tensor | None = None
            # per optimizer: "unscaled" / "stepped", and whether its gradients held inf/NaN
            self._stage: dict[int, str] = {}
            self._found_inf: dict[int, bool] = {}

    def _check_scale_growth_tracker(self, funcname: str) -> tuple[Tensor, Tensor]:
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, dev: Any) -> None:
        self._scale = _rustdl.full((), float(self._init_scale), dtype=_rustdl.float32, device=dev)
        self._scale_f = float(self._scale.item())  # its value, read without a device sync
        self._growth_tracker = _rustdl.full(
            (), int(self._init_growth_tracker), dtype=_rustdl.int32, device=dev
        )

    def _set_scale(self, value: float) -> None:
        self._scale.fill_(value)
        self._scale_f = _float32(value)

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale_f

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker.item())

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_factor(self, v: float) -> None:
        self._growth_factor = v

    def set_backoff_factor(self, v: float) -> None:
        self._backoff_factor = v

    def set_growth_interval(self, v: int) -> None:
        self._growth_interval = v

    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a tensor, or tensors nested in lists/tuples) times the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale_f
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if isinstance(outputs, Iterable):
            return [self.scale(o) for o in outputs]
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer: Any) -> None:
        """Divides ``optimizer``'s gradients by the scale (once per step) and notes inf/NaN."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        key = id(optimizer)
        stage = self._stage.get(key)
        if stage == "unscaled":
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if stage == "stepped":
            raise RuntimeError("unscale_() is being called after step().")
        # PyTorch multiplies by the float32 reciprocal of the scale
        inv = _float32(1.0 / self._scale_f)
        found = False
        from .autograd import no_grad

        with no_grad():
            for g in _grads(optimizer):
                g.mul_(inv)
                if not bool(g.isfinite().all()):
                    found = True
        self._found_inf[key] = found
        self._stage[key] = "unscaled"

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscales (if not done yet) and steps ``optimizer`` unless its gradients hold inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        key = id(optimizer)
        if self._stage.get(key) == "stepped":
            raise RuntimeError("step() has already been called since the last update().")
        if self._stage.get(key) != "unscaled":
            self.unscale_(optimizer)
        if key not in self._found_inf:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        out = None
        if not self._found_inf[key]:
            out = optimizer.step(*args, **kwargs)
        self._stage[key] = "stepped"
        return out

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Sets the next scale: ``new_scale`` if given, else backs off after an inf/NaN step and
        grows after ``growth_interval`` finite ones."""
        if not self._enabled:
            return
        _, tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                self._set_scale(new_scale)
            else:
                reason = (
                    "new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                    "torch.FloatTensor with requires_grad=False."
                )
                if not isinstance(new_scale, Tensor) or new_scale.numel() != 1 or new_scale.requires_grad:
                    raise AssertionError(reason)
                self._set_scale(float(new_scale.item()))
        else:
            if not self._found_inf:
                raise AssertionError("No inf checks were recorded prior to update.")
            # the scale is float32: every change is rounded to it
            value = self._scale_f
            if any(self._found_inf.values()):
                self._set_scale(value * self._backoff_factor)
                tracker.fill_(0)
            else:
                successful = int(tracker.item()) + 1
                if successful == self._growth_interval:
                    grown = _float32(value * self._growth_factor)
                    if math.isfinite(grown):
                        self._set_scale(grown)
                    tracker.fill_(0)
                else:
                    tracker.fill_(successful)
        self._stage.clear()
        self._found_inf.clear()

    def state_dict(self) -> dict[str, Any]:
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._get_growth_tracker(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled instance of GradScaler."
            )
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._set_scale(float(state_dict["scale"]))
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(int(state_dict["_growth_tracker"]))


def _float32(x: float) -> float:
    """``x`` rounded to float32 (the dtype of PyTorch's scale tensor)."""
    import struct

    return struct.unpack("f", struct.pack("f", x))[0]
