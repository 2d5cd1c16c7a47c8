"""Variable-length batches for recurrent layers, as ``torch.nn.utils.rnn``.

A :class:`PackedSequence` holds a batch of sequences of different lengths without padding:
``data`` is the time-major concatenation of each step's active batch (the sequences sorted by
decreasing length), ``batch_sizes`` (an int64 CPU tensor) how many sequences are still running
at each step, and ``sorted_indices`` / ``unsorted_indices`` the permutation to and from the
caller's batch order. Every function here moves values with one ``index_select`` (or ``cat`` /
``narrow``), so gradients flow through packing and padding; only the index arithmetic, which
depends on the lengths alone, is done with numpy.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import _rustdl
from ..._rustdl import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]


def _index(values: Any, device: Any) -> Tensor:
    return _rustdl.tensor(np.asarray(values, dtype=np.int64), dtype=_rustdl.int64, device=device)


def _host_ints(values: Any) -> np.ndarray:
    if isinstance(values, Tensor):
        return np.asarray(values.detach().cpu().numpy(), dtype=np.int64).reshape(-1)
    return np.asarray(values, dtype=np.int64).reshape(-1)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation given as an int64 index tensor (``None`` stays ``None``)."""
    if permutation is None:
        return None
    perm = _host_ints(permutation)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size, dtype=np.int64)
    return _index(inverse, permutation.device)


class PackedSequence(
    namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])
):
    """A batch of variable-length sequences, packed; build it with :func:`pack_padded_sequence`
    or :func:`pack_sequence`, never by hand.

    Attributes:
        data: ``(sum(lengths), *)``; step ``t`` holds the first ``batch_sizes[t]`` sequences
            (in sorted order) at their ``t``-th element.
        batch_sizes: int64 CPU tensor ``(max_length,)``, non-increasing.
        sorted_indices: ``sorted_indices[i]`` is the caller's batch index of sorted sequence
            ``i``, or ``None`` when the input was already sorted.
        unsorted_indices: the inverse permutation, or ``None``.
    """

    __slots__ = ()

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Tensor | None = None,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if batch_sizes is None:
            raise ValueError(
                "PackedSequence: batch_sizes is required; use pack_padded_sequence or pack_sequence"
            )
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """Moves or casts ``data`` (and the index tensors to ``data``'s new device);
        ``batch_sizes`` stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = lambda t: None if t is None else t.to(data.device)  # noqa: E731
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` is on the GPU ("cuda" in PyTorch's naming)."""
        return self.data.device.type != "cpu"

    def is_pinned(self) -> bool:
        return False

    def cuda(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """Moves ``data`` (and the index tensors) to the GPU, as ``Tensor.cuda``."""
        mover = getattr(self.data, "cuda", None)
        data = mover(*args, **kwargs) if mover is not None else self.data.to("gpu")
        return self.to(data.device)

    def pin_memory(self) -> PackedSequence:
        """The same sequence (rustdl's host memory needs no pinning)."""
        return self

    def double(self) -> PackedSequence:
        return self.to(dtype=_rustdl.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=_rustdl.float32)

    def half(self) -> PackedSequence:
        return type(self)(self.data.half(), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def long(self) -> PackedSequence:
        return self.to(dtype=_rustdl.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=_rustdl.int32)

    def short(self) -> PackedSequence:
        return self.to(dtype=_rustdl.int16)

    def char(self) -> PackedSequence:
        return self.to(dtype=_rustdl.int8)

    def byte(self) -> PackedSequence:
        return self.to(dtype=_rustdl.uint8)


def _pack_index(lengths: np.ndarray, order: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Batch sizes and, for each packed row, its row in the ``(T * batch, *)`` padded input."""
    sorted_lengths = lengths[order]
    steps = int(sorted_lengths[0]) if sorted_lengths.size else 0
    batch_sizes = (sorted_lengths[None, :] > np.arange(steps)[:, None]).sum(1).astype(np.int64)
    rows = [t * batch + order[: batch_sizes[t]] for t in range(steps)]
    return batch_sizes, np.concatenate(rows) if rows else np.zeros(0, np.int64)


def pack_padded_sequence(
    input: Tensor, lengths: Tensor | Sequence[int], batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Packs a padded batch of variable-length sequences.

    Args:
        input: ``(T, B, *)``, or ``(B, T, *)`` with ``batch_first=True``.
        lengths: the ``B`` sequence lengths (a list or a CPU int64 tensor), each in ``[1, T]``.
        batch_first: whether ``input`` is batch-major.
        enforce_sorted: require ``lengths`` sorted in decreasing order; with ``False`` the
            batch is sorted here and the permutation kept in ``sorted_indices``.

    Example:
        >>> packed = pack_padded_sequence(x, [3, 2, 1])
        >>> out, h_n = nn.GRU(4, 8)(packed)
    """
    if input.ndim < 2:
        raise _rustdl.ArgumentError(
            f"pack_padded_sequence: expected input of at least 2 dimensions (T, B, *), got shape {tuple(input.shape)}"
        )
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    lens = _host_ints(lengths)
    if lens.size != batch:
        raise _rustdl.ArgumentError(
            f"pack_padded_sequence: expected {batch} lengths for input of shape {tuple(input.shape)} "
            f"(time-major), got {lens.size}"
        )
    if batch == 0:
        raise _rustdl.ArgumentError("pack_padded_sequence: cannot pack an empty batch")
    if (lens <= 0).any():
        raise _rustdl.ArgumentError(
            f"pack_padded_sequence: every length must be positive, got lengths {lens.tolist()}"
        )
    if (lens > steps).any():
        raise _rustdl.ArgumentError(
            f"pack_padded_sequence: lengths {lens.tolist()} exceed the padded length {steps} "
            f"of input with shape {tuple(input.shape)} (time-major)"
        )
    if enforce_sorted:
        if (np.diff(lens) > 0).any():
            raise _rustdl.ArgumentError(
                f"pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                f"`enforce_sorted` is True, got {lens.tolist()}. You can pass `enforce_sorted=False` "
                "to pack_padded_sequence and/or pack_sequence to sidestep this requirement if you "
                "do not need ONNX exportability."
            )
        order = np.arange(batch, dtype=np.int64)
        sorted_indices = None
    else:
        order = np.argsort(-lens, kind="stable").astype(np.int64)
        sorted_indices = _index(order, input.device)
    batch_sizes, rows = _pack_index(lens, order, batch)
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = flat.index_select(0, _index(rows, input.device))
    return PackedSequence(data, _index(batch_sizes, "cpu"), sorted_indices, None)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Pads a packed batch back into one tensor; the inverse of :func:`pack_padded_sequence`.

    Returns:
        ``(padded, lengths)``: ``padded`` is ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``)
        in the caller's original batch order, ``T = total_length`` or the longest length;
        ``lengths`` an int64 CPU tensor of the ``B`` lengths.
    """
    data, batch_sizes = sequence.data, _host_ints(sequence.batch_sizes)
    steps = batch_sizes.size
    batch = int(batch_sizes[0]) if steps else 0
    if total_length is not None:
        if total_length < steps:
            raise _rustdl.ArgumentError(
                f"pad_packed_sequence: expected total_length to be at least the longest sequence length "
                f"{steps}, got total_length={total_length}"
            )
        steps_out = int(total_length)
    else:
        steps_out = steps
    sorted_lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)
    unsorted = (
        np.arange(batch, dtype=np.int64)
        if sequence.unsorted_indices is None
        else _host_ints(sequence.unsorted_indices)
    )
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)]).astype(np.int64)
    pad_row = offsets[-1]  # one padding row appended after the data
    rows = np.full((steps_out, batch), pad_row, dtype=np.int64)
    for t in range(steps):
        active = unsorted < batch_sizes[t]
        rows[t, active] = offsets[t] + unsorted[active]
    padding = _rustdl.full((1, *data.shape[1:]), float(padding_value), dtype=data.dtype, device=data.device)
    source = _rustdl.cat([data, padding], 0)
    if batch_first and sequence.unsorted_indices is not None:
        # laid out batch-major, as PyTorch's (its unsorting index_select makes a new tensor)
        padded = source.index_select(0, _index(rows.T.reshape(-1), data.device))
        padded = padded.reshape(batch, steps_out, *data.shape[1:])
    else:
        padded = source.index_select(0, _index(rows.reshape(-1), data.device))
        padded = padded.reshape(steps_out, batch, *data.shape[1:])
        if batch_first:  # a transposed view, as PyTorch's for a sorted batch
            padded = padded.transpose(0, 1)
    return padded, _index(sorted_lengths[unsorted], "cpu")


def pad_sequence(
    sequences: Tensor | Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stacks tensors ``(L_i, *)`` of different lengths into ``(T, B, *)`` (``(B, T, *)`` with
    ``batch_first``), ``T = max L_i``, filling with ``padding_value`` on ``padding_side``
    (``'right'`` or ``'left'``).

    Example:
        >>> pad_sequence([rustdl.ones(3, 2), rustdl.ones(1, 2)]).shape
        (3, 2, 2)
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise _rustdl.ArgumentError("pad_sequence: received an empty list of sequences")
    first = sequences[0]
    for i, s in enumerate(sequences):
        if s.ndim < 1 or tuple(s.shape[1:]) != tuple(first.shape[1:]):
            raise _rustdl.ArgumentError(
                f"pad_sequence: every sequence must be (L, *) with the same trailing shape; sequence 0 has "
                f"shape {tuple(first.shape)}, sequence {i} has shape {tuple(s.shape)}"
            )
    lens = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    steps, batch = int(lens.max()), len(sequences)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    pad_row = int(lens.sum())
    t = np.arange(steps)[:, None]
    shift = (steps - lens)[None, :] if padding_side == "left" else np.zeros((1, batch), np.int64)
    pos = t - shift
    rows = np.where((pos >= 0) & (pos < lens[None, :]), starts[None, :] + pos, pad_row)
    padding = _rustdl.full(
        (1, *first.shape[1:]), float(padding_value), dtype=first.dtype, device=first.device
    )
    # in the first sequence's dtype, as PyTorch copies every sequence into a tensor of it
    source = _rustdl.cat(
        [*(s if s.dtype == first.dtype else s.to(first.dtype) for s in sequences), padding], 0
    )
    if batch_first:  # laid out batch-major, as PyTorch's
        return source.index_select(0, _index(rows.T.reshape(-1), first.device)).reshape(
            batch, steps, *first.shape[1:]
        )
    return source.index_select(0, _index(rows.reshape(-1), first.device)).reshape(
        steps, batch, *first.shape[1:]
    )


def unpad_sequence(
    padded_sequences: Tensor, lengths: Tensor | Sequence[int], batch_first: bool = False
) -> list[Tensor]:
    """Splits a padded batch into its ``B`` sequences ``(L_i, *)``; the inverse of :func:`pad_sequence`."""
    if padded_sequences.ndim < 2:
        raise _rustdl.ArgumentError(
            f"unpad_sequence: expected at least 2 dimensions, got shape {tuple(padded_sequences.shape)}"
        )
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = _host_ints(lengths)
    batch, steps = padded_sequences.shape[0], padded_sequences.shape[1]
    if lens.size != batch or (lens < 0).any() or (lens > steps).any():
        raise _rustdl.ArgumentError(
            f"unpad_sequence: lengths {lens.tolist()} do not fit a batch of {batch} sequences of length {steps}"
        )
    return [padded_sequences.select(0, i).narrow(0, 0, int(n)) for i, n in enumerate(lens)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of tensors ``(L_i, *)``; ``pack_padded_sequence(pad_sequence(sequences), lengths)``."""
    sequences = list(sequences)
    lengths = [s.shape[0] if s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of tensors ``(L_i, *)`` in a packed batch, in the caller's order; inverse of :func:`pack_sequence`."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
