"""Discrete Fourier transforms, as ``torch.fft``: ``fft``/``ifft``, ``rfft``/``irfft``,
``hfft``/``ihfft`` and their 2-D and n-D forms, ``fftfreq``/``rfftfreq`` and
``fftshift``/``ifftshift``. Results are :class:`rustdl.ComplexTensor` values.

Each transform is a differentiable complex-to-complex DFT along one dimension (computed by
numpy's pocketfft on the host, float64 inside, for CPU and GPU tensors alike; its gradient is
the adjoint transform) composed with real tensor operations (padding, slicing, Hermitian
completion), so gradients reach real inputs and complex parameters, and higher-order
gradients work. ``norm`` is ``"backward"`` (default: no scaling forward, 1/n inverse),
``"ortho"`` (1/√n both ways) or ``"forward"`` (1/n forward)."""

from __future__ import annotations

import numpy as np

from . import _rustdl
from ._complex import ComplexTensor, as_complex
from ._rustdl import Tensor
from ._typed_errors import int_arg
from .autograd import Function

__all__ = [
    "fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
    "hfft2", "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn", "fftfreq",
    "rfftfreq", "fftshift", "ifftshift",
]  # fmt: skip

_NORMS = ("backward", "ortho", "forward")
_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _check_norm(norm, op):
    norm = "backward" if norm is None else norm
    if norm not in _NORMS:
        raise ValueError(f"{op}: invalid normalization mode: {norm!r} (expected one of {_NORMS})")
    return norm


class _DFT(Function):
    """The complex DFT of ``(re, im)`` along ``dim`` (forward or inverse, numpy's ``norm``)."""

    @staticmethod
    def forward(ctx, re, im, dim, inverse, norm):
        ctx.dim, ctx.inverse, ctx.norm = dim, inverse, norm
        z = re.detach().cpu().numpy().astype(np.float64) + 1j * im.detach().cpu().numpy().astype(np.float64)
        f = np.fft.ifft if inverse else np.fft.fft
        out = f(z, axis=dim, norm=norm)
        dt, dev = re.dtype, re.device
        return (
            _rustdl.tensor(np.ascontiguousarray(out.real), dtype=dt, device=dev),
            _rustdl.tensor(np.ascontiguousarray(out.imag), dtype=dt, device=dev),
        )

    @staticmethod
    def backward(ctx, gr, gi):
        # the adjoint of the forward DFT with norm m is the inverse one with the dual norm
        r, i = _DFT.apply(gr, gi, ctx.dim, not ctx.inverse, _DUAL[ctx.norm])
        return r, i, None, None, None


def _r():
    import rustdl

    return rustdl


def _as_float_complex(x, op) -> ComplexTensor:
    if isinstance(x, ComplexTensor):
        return x
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        x = x.to(_default_float())
    return as_complex(x)


def _default_float():
    import rustdl

    return rustdl.get_default_dtype()


def _real_input(x, op) -> Tensor:
    if isinstance(x, ComplexTensor):
        raise RuntimeError(f"{op} expects a real input tensor, but got a complex one")
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")
    return x if x.is_floating_point() else x.to(_default_float())


def _norm_dim(dim, ndim, op) -> int:
    if ndim == 0:
        raise IndexError(f"{op}: a 0-d tensor has no dimension to transform")
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})"
        )
    return dim % ndim


def _resize(t: Tensor, dim: int, n: int) -> Tensor:
    """``t`` cut or zero-padded to length ``n`` along ``dim``."""
    size = t.shape[dim]
    if n == size:
        return t
    if n < size:
        return t.narrow(dim, 0, n)
    pad_shape = list(t.shape)
    pad_shape[dim] = n - size
    return _r().cat([t, _r().zeros(pad_shape, dtype=t.dtype, device=t.device)], dim)


def _resize_c(z: ComplexTensor, dim: int, n: int) -> ComplexTensor:
    return ComplexTensor(_resize(z._re, dim, n), _resize(z._im, dim, n))


def _check_n(n, op):
    """``n`` as an int (numpy integers and integer tensors taken, as PyTorch), checked."""
    n = int_arg(n)
    if n is not None and (not isinstance(n, int) or n < 1):
        raise RuntimeError(f"{op}: Invalid number of data points ({n}) specified")
    return n


def _c2c(z: ComplexTensor, n, dim, norm, inverse, op) -> ComplexTensor:
    n = _check_n(n, op)
    norm = _check_norm(norm, op)
    dim = _norm_dim(dim, z.ndim, op)
    if n is not None:
        z = _resize_c(z, dim, n)
    if z.shape[dim] == 0:
        raise RuntimeError(f"{op}: Invalid number of data points (0) specified")
    re, im = _DFT.apply(z._re, z._im, dim, inverse, norm)
    return ComplexTensor(re, im)


def fft(input, n=None, dim=-1, norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    """The 1-D DFT along ``dim`` (input cut or zero-padded to ``n``)."""
    return _c2c(_as_float_complex(input, "fft"), n, dim, norm, False, "fft")


def ifft(input, n=None, dim=-1, norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    """The 1-D inverse DFT along ``dim``."""
    return _c2c(_as_float_complex(input, "ifft"), n, dim, norm, True, "ifft")


def rfft(input, n=None, dim=-1, norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    """The DFT of a real signal: the ``n // 2 + 1`` non-negative frequencies."""
    x = _real_input(input, "rfft")
    n = _check_n(n, "rfft")
    d = _norm_dim(dim, x.ndim, "rfft")
    n = x.shape[d] if n is None else n
    z = _c2c(as_complex(x), n, d, norm, False, "rfft")
    return z.narrow(d, 0, n // 2 + 1)


def _hermitian_full(z: ComplexTensor, d: int, n: int) -> ComplexTensor:
    """The ``n``-point spectrum whose first ``n // 2 + 1`` bins are ``z``'s (cut or padded) and
    whose others are their conjugates: the spectrum of a real signal."""
    half = n // 2 + 1
    z = _resize_c(z, d, half)
    tail_len = n - half
    if tail_len == 0:
        return z
    tail = z.narrow(d, 1, tail_len).flip(d).conj()
    return ComplexTensor(_r().cat([z._re, tail._re], d), _r().cat([z._im, tail._im], d))


def irfft(input, n=None, dim=-1, norm=None, *, out=None) -> Tensor:  # noqa: A002
    """The real signal of ``n`` points (default ``2 * (m - 1)``) whose one-sided spectrum is
    ``input``; the imaginary parts of the zero (and Nyquist) bins are ignored."""
    z = _as_float_complex(input, "irfft")
    n = _check_n(n, "irfft")
    d = _norm_dim(dim, z.ndim, "irfft")
    n = 2 * (z.shape[d] - 1) if n is None else n
    if n < 1:
        raise RuntimeError(f"irfft: Invalid number of data points ({n}) specified")
    return _c2c(_hermitian_full(z, d, n), None, d, norm, True, "irfft").real


def hfft(input, n=None, dim=-1, norm=None, *, out=None) -> Tensor:  # noqa: A002
    """The DFT of a signal with Hermitian symmetry given by its first half: a real result."""
    norm = _check_norm(norm, "hfft")
    return irfft(_as_float_complex(input, "hfft").conj(), n, dim, _DUAL[norm])


def ihfft(input, n=None, dim=-1, norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    """The inverse of :func:`hfft`: the one-sided inverse DFT of a real signal."""
    norm = _check_norm(norm, "ihfft")
    return rfft(input, n, dim, _DUAL[norm]).conj()


def _dims_and_sizes(x, s, dim, op):
    nd = x.ndim
    if dim is None:
        dims = list(range(nd)) if s is None else list(range(nd - len(s), nd))
    elif isinstance(dim, int):
        dims = [dim]
    else:
        dims = list(dim)
    dims = [_norm_dim(d, nd, op) for d in dims]
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}: dims must be unique, got {dims}")
    if s is None:
        sizes = [None] * len(dims)
    else:
        sizes = [None if k == -1 else k for k in (int_arg(k) for k in s)]
        if len(sizes) != len(dims):
            raise RuntimeError(f"{op}: When given, dim and shape arguments must have the same length")
    return dims, sizes


def _c2c_n(input, s, dim, norm, inverse, op) -> ComplexTensor:  # noqa: A002
    z = _as_float_complex(input, op)
    dims, sizes = _dims_and_sizes(z, s, dim, op)
    for d, n in zip(dims, sizes):
        z = _c2c(z, n, d, norm, inverse, op)
    return z


def fftn(input, s=None, dim=None, norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    """The n-D DFT over ``dim`` (default: all dimensions, or the last ``len(s)``)."""
    return _c2c_n(input, s, dim, norm, False, "fftn")


def ifftn(input, s=None, dim=None, norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    """The n-D inverse DFT."""
    return _c2c_n(input, s, dim, norm, True, "ifftn")


def rfftn(input, s=None, dim=None, norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    """The n-D DFT of a real signal, one-sided in the last of ``dim``."""
    x = _real_input(input, "rfftn")
    dims, sizes = _dims_and_sizes(x, s, dim, "rfftn")
    if not dims:
        raise RuntimeError("rfftn must transform at least one axis")
    z = rfft(x, sizes[-1], dims[-1], norm)
    for d, n in zip(dims[:-1], sizes[:-1]):
        z = _c2c(z, n, d, norm, False, "rfftn")
    return z


def irfftn(input, s=None, dim=None, norm=None, *, out=None) -> Tensor:  # noqa: A002
    """The inverse of :func:`rfftn` (last-dimension length ``2 * (m - 1)`` unless ``s`` says)."""
    z = _as_float_complex(input, "irfftn")
    dims, sizes = _dims_and_sizes(z, s, dim, "irfftn")
    if not dims:
        raise RuntimeError("irfftn must transform at least one axis")
    for d, n in zip(dims[:-1], sizes[:-1]):
        z = _c2c(z, n, d, norm, True, "irfftn")
    return irfft(z, sizes[-1], dims[-1], norm)


def hfftn(input, s=None, dim=None, norm=None, *, out=None) -> Tensor:  # noqa: A002
    """The n-D :func:`hfft`."""
    norm = _check_norm(norm, "hfftn")
    return irfftn(_as_float_complex(input, "hfftn").conj(), s, dim, _DUAL[norm])


def ihfftn(input, s=None, dim=None, norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    """The n-D :func:`ihfft`."""
    norm = _check_norm(norm, "ihfftn")
    return rfftn(input, s, dim, _DUAL[norm]).conj()


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    return fftn(input, s, dim, norm)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    return ifftn(input, s, dim, norm)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    return rfftn(input, s, dim, norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:  # noqa: A002
    return irfftn(input, s, dim, norm)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> Tensor:  # noqa: A002
    return hfftn(input, s, dim, norm)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None) -> ComplexTensor:  # noqa: A002
    return ihfftn(input, s, dim, norm)


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False) -> Tensor:
    """Sample frequencies of an ``n``-point DFT with spacing ``d``: ``[0, 1, ..., -1] / (d n)``."""
    import rustdl

    n = int_arg(n)
    if not isinstance(n, int) or n < 0:
        raise RuntimeError(f"fftfreq: n must be a non-negative integer, got {n!r}")
    from ._tensor_api import _host_room

    _host_room("fftfreq", n, 3)  # numpy's float64 values and temporaries, then the tensor
    vals = np.fft.fftfreq(n, d) if n else np.zeros(0)
    return rustdl.tensor(
        vals, dtype=dtype or rustdl.get_default_dtype(), device=device, requires_grad=requires_grad
    )


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False) -> Tensor:
    """Sample frequencies of the one-sided ``n``-point DFT: ``[0, 1, ..., n // 2] / (d n)``."""
    import rustdl

    n = int_arg(n)
    if not isinstance(n, int) or n < 0:
        raise RuntimeError(f"rfftfreq: n must be a non-negative integer, got {n!r}")
    from ._tensor_api import _host_room

    _host_room("rfftfreq", n, 3)  # numpy's float64 values and temporaries, then the tensor
    vals = np.fft.rfftfreq(n, d) if n else np.zeros(0)
    return rustdl.tensor(
        vals, dtype=dtype or rustdl.get_default_dtype(), device=device, requires_grad=requires_grad
    )


def _shift(x, dim, sign):
    if not isinstance(x, (Tensor, ComplexTensor)):
        raise TypeError(f"fftshift: expected a tensor, got {type(x).__name__}")
    nd = x.ndim
    if dim is None:
        dims = list(range(nd))
    elif isinstance(dim, int):
        dims = [dim]
    else:
        dims = list(dim)
    dims = [_norm_dim(d, nd, "fftshift") for d in dims]
    shifts = [sign * (x.shape[d] // 2) for d in dims]
    return x.roll(shifts, dims)


def fftshift(input, dim=None):  # noqa: A002
    """Moves the zero frequency to the centre (roll by ``n // 2``)."""
    return _shift(input, dim, 1)


def ifftshift(input, dim=None):  # noqa: A002
    """The inverse of :func:`fftshift`."""
    return _shift(input, dim, -1)


def _stft_window(window, win_length, n_fft, like):
    import rustdl

    if window is None:
        w = rustdl.ones(win_length, dtype=like.dtype, device=like.device)
    else:
        if window.ndim != 1 or window.shape[0] != win_length:
            raise RuntimeError(
                f"stft: expected a 1D window tensor of size equal to win_length={win_length}, "
                f"but got window with size {list(window.shape)}"
            )
        # a float window of another precision promotes the frames, as PyTorch's product does
        w = window if window.is_floating_point() else window.to(like.dtype)
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        w = _r().cat(
            [
                rustdl.zeros(left, dtype=w.dtype, device=w.device),
                w,
                rustdl.zeros(n_fft - win_length - left, dtype=w.dtype, device=w.device),
            ],
            0,
        )
    return w


def stft(
    input,  # noqa: A002
    n_fft,
    hop_length=None,
    win_length=None,
    window=None,
    center=True,
    pad_mode="reflect",
    normalized=False,
    onesided=None,
    return_complex=None,
):
    """The short-time Fourier transform of ``input`` (``(L,)`` or ``(B, L)``): frames of
    ``n_fft`` samples every ``hop_length`` (default ``n_fft // 4``), each multiplied by
    ``window`` (default rectangular of ``win_length``, centred in ``n_fft``), as
    ``(B?, n_fft // 2 + 1, frames)`` complex values (all ``n_fft`` bins if ``onesided=False``);
    ``center`` pads ``n_fft // 2`` on both sides with ``pad_mode``."""
    import rustdl
    import rustdl.nn.functional as F

    if return_complex is None:
        raise RuntimeError(
            "stft requires the return_complex parameter be given for real inputs, and will further "
            "require that return_complex=True in a future PyTorch release."
        )
    if isinstance(input, ComplexTensor):
        raise RuntimeError("stft: complex input is not supported in rustdl")
    x = _real_input(input, "stft")
    if x.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, got shape {list(x.shape)}")
    batched = x.ndim == 2
    if not batched:
        x = x.unsqueeze(0)
    n_fft, hop_length, win_length = int_arg(n_fft), int_arg(hop_length), int_arg(win_length)
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if not (isinstance(n_fft, int) and n_fft > 0):
        raise RuntimeError(f"stft: expected 0 < n_fft, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"stft: expected 0 < win_length <= n_fft, but got win_length={win}")
    if center:
        p = n_fft // 2
        x = F.pad(x.unsqueeze(1), (p, p), mode=pad_mode).squeeze(1)
    if x.shape[-1] < n_fft:
        raise RuntimeError(
            f"stft: expected 0 < n_fft <= {x.shape[-1]} (the padded input length), but got n_fft={n_fft}"
        )
    w = _stft_window(window, win, n_fft, x)
    frames = x.unfold(-1, n_fft, hop) * w  # (B, T, n_fft)
    one = True if onesided is None else bool(onesided)
    norm = "ortho" if normalized else "backward"
    spec = rfft(frames, dim=-1, norm=norm) if one else fft(frames, dim=-1, norm=norm)
    spec = spec.transpose(1, 2)
    if not batched:
        spec = spec.squeeze(0)
    if return_complex:
        return spec
    return rustdl.view_as_real(spec)


def istft(
    input,  # noqa: A002
    n_fft,
    hop_length=None,
    win_length=None,
    window=None,
    center=True,
    normalized=False,
    onesided=None,
    length=None,
    return_complex=False,
):
    """The inverse of :func:`stft`: inverse transforms of the frames, windowed, overlap-added and
    divided by the overlap-added squared window. A real result (the default) takes the first
    ``n_fft // 2 + 1`` bins as a one-sided spectrum even when all bins are given, as PyTorch;
    ``return_complex=True`` inverts a full (two-sided) spectrum into a complex signal."""
    import rustdl
    import rustdl.nn.functional as F

    z = input if isinstance(input, ComplexTensor) else rustdl.view_as_complex(input)
    if z.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a 2D or 3D complex tensor, got shape {list(z.shape)}")
    batched = z.ndim == 3
    if not batched:
        z = z.unsqueeze(0)
    n_fft, hop_length, win_length, length = (
        int_arg(n_fft),
        int_arg(hop_length),
        int_arg(win_length),
        int_arg(length),
    )
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    one = (z.shape[1] != n_fft) if onesided is None else bool(onesided)
    if return_complex and one:
        raise RuntimeError(
            "istft: cannot have onesided output if window or input is complex (return_complex=True needs "
            "onesided=False and all n_fft frequency bins)"
        )
    if not one and z.shape[1] != n_fft:
        raise RuntimeError(f"istft: expected {n_fft} frequency bins with onesided=False, got {z.shape[1]}")
    norm = "ortho" if normalized else "backward"
    zt = z.transpose(1, 2)  # (B, T, F)
    if return_complex:
        parts = ifft(zt, dim=-1, norm=norm)
        frames_list = [parts.real, parts.imag]
    else:
        # only the non-negative frequencies count (a two-sided spectrum is cut to them)
        frames_list = [irfft(zt.narrow(-1, 0, n_fft // 2 + 1), n=n_fft, dim=-1, norm=norm)]
    w = _stft_window(window, win, n_fft, frames_list[0])
    n_frames = frames_list[0].shape[1]
    total = n_fft + hop * (n_frames - 1)
    b = frames_list[0].shape[0]

    def overlap_add(frames):
        out = F.fold(
            (frames * w).transpose(1, 2), output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop)
        )
        return out.reshape(b, total)

    sigs = [overlap_add(f) for f in frames_list]
    env = F.fold(
        (w * w).reshape(1, n_fft, 1).expand(1, n_fft, n_frames),
        output_size=(1, total),
        kernel_size=(1, n_fft),
        stride=(1, hop),
    ).reshape(total)
    start = n_fft // 2 if center else 0
    end = total - n_fft // 2 if center else total
    if length is not None:
        end = start + length
    env = env[start : min(end, total)]
    if bool((env.abs() < 1e-11).any()):
        raise RuntimeError("istft: window overlap add min: the window does not satisfy the NOLA condition")
    out = []
    for sig in sigs:
        sig = sig[:, start : min(end, total)] / env
        if length is not None and sig.shape[-1] < length:
            sig = F.pad(sig, (0, length - sig.shape[-1]))
        out.append(sig if batched else sig.squeeze(0))
    return ComplexTensor(out[0], out[1]) if return_complex else out[0]
