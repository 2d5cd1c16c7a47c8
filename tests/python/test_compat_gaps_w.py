"""PyTorch behaviours found by differential runs (session of 2026-12-05 evening): collation
dtypes and containers."""

import numpy as np
import pytest
import rustdl
from rustdl.data import DataLoader, TensorDataset, default_collate, default_convert


@pytest.mark.parametrize(
    "np_dtype,dtype",
    [
        (np.uint8, rustdl.uint8),
        (np.int8, rustdl.int8),
        (np.int16, rustdl.int16),
        (np.int32, rustdl.int32),
        (np.int64, rustdl.int64),
        (np.uint16, rustdl.int64),  # no uint16 in rustdl: widened losslessly
        (np.float16, rustdl.float32),
        (np.bool_, rustdl.bool),
    ],
)
def test_collate_keeps_numpy_dtypes(np_dtype, dtype):
    a, b = np.array([1, 0, 3]).astype(np_dtype), np.array([2, 1, 0]).astype(np_dtype)
    out = default_collate([a, b])
    assert out.dtype == dtype and out.shape == (2, 3)
    np.testing.assert_array_equal(out.numpy(), np.stack([a, b]).astype(np.float64))
    conv = default_convert(a)
    assert conv.dtype == dtype
    np.testing.assert_array_equal(conv.numpy(), a.astype(np.float64))


def test_default_convert_turns_tuples_into_lists_and_keeps_namedtuples():
    from collections import namedtuple

    P = namedtuple("P", "x y")
    out = default_convert((np.arange(2), "s", P(np.float32(1.5), 2)))
    assert isinstance(out, list) and len(out) == 3
    assert out[0].tolist() == [0, 1] and out[1] == "s"
    assert isinstance(out[2], P) and out[2].x.item() == 1.5 and out[2].y == 2
    ds = TensorDataset(rustdl.arange(3.0), rustdl.arange(3))
    first = next(iter(DataLoader(ds, batch_size=None)))
    assert isinstance(first, list) and first[0].item() == 0.0 and first[1].item() == 0


def test_collate_of_uneven_samples_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError):
        default_collate([rustdl.ones(2), rustdl.ones(3)])
