"""rustdl.data: datasets, random_split, collation and DataLoader semantics."""

import numpy as np
import pytest
import rustdl
from rustdl.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    randperm,
)


class Squares(Dataset):
    """A plain map-style dataset (no get_batch): sample i is a dict of numpy / python values."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full((2, 3), i, np.float32), "y": i * i, "w": float(i) / 2}


def _epoch_labels(loader):
    return np.concatenate([yb.numpy() for _, yb in loader])


# --- datasets --------------------------------------------------------------------------------------


def test_tensor_dataset_numpy_and_tensor_items():
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    y = np.arange(6)
    for ds in (TensorDataset(x, y), TensorDataset(rustdl.from_numpy(x), rustdl.from_numpy(y))):
        assert len(ds) == 6
        xi, yi = ds[4]
        np.testing.assert_array_equal(np.asarray(xi), x[4])
        assert int(yi) == 4
        np.testing.assert_array_equal(np.asarray(ds[-1][0]), x[-1])


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError):
        TensorDataset()
    ds = TensorDataset(np.zeros((3, 2)))
    with pytest.raises(IndexError, match="out of range"):
        ds[3]
    with pytest.raises(TypeError):
        ds["a"]


def test_tensor_dataset_get_batch_matches_items_and_applies_transform():
    x = np.random.rand(10, 1, 4, 4).astype(np.float32)
    y = np.arange(10)
    ds = TensorDataset(x, y, transform=lambda a: a * 2, target_transform=lambda t: t + 100)
    xb, yb = ds.get_batch([7, 2, 2])
    assert isinstance(xb, rustdl.Tensor) and xb.dtype == rustdl.float32 and yb.dtype == rustdl.int64
    np.testing.assert_array_equal(xb.numpy(), x[[7, 2, 2]] * 2)
    np.testing.assert_array_equal(yb.numpy(), [107, 102, 102])
    xi, yi = ds[7]
    np.testing.assert_array_equal(xi, x[7] * 2)
    assert yi == 107


def test_subset_and_concat():
    x = np.arange(10, dtype=np.float32)
    ds = TensorDataset(x)
    sub = Subset(ds, [9, 3, 5])
    assert len(sub) == 3
    assert float(sub[1][0]) == 3.0
    np.testing.assert_array_equal(sub.get_batch([2, 0])[0].numpy(), [5.0, 9.0])
    both = ds + TensorDataset(x + 100)
    assert isinstance(both, ConcatDataset) and len(both) == 20
    assert float(both[12][0]) == 102.0 and float(both[-1][0]) == 109.0
    with pytest.raises(IndexError):
        both[20]


def test_subset_of_plain_dataset_collates_samples():
    sub = Subset(Squares(10), [4, 1])
    batch = sub.get_batch([0, 1])
    np.testing.assert_array_equal(batch["y"].numpy(), [16, 1])


def test_random_split_lengths_and_fractions():
    ds = TensorDataset(np.arange(10))
    a, b = random_split(ds, [3, 7], seed=0)
    assert (len(a), len(b)) == (3, 7)
    together = np.sort(np.concatenate([a.indices, b.indices]))
    np.testing.assert_array_equal(together, np.arange(10))
    # fractions: floor(3.3) = 3 each, the remaining 1 goes to the first subset (as PyTorch)
    parts = random_split(ds, [0.33, 0.33, 0.34], seed=1)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert len(set(np.concatenate([p.indices for p in parts]).tolist())) == 10
    with pytest.raises(ValueError, match="does not equal"):
        random_split(ds, [3, 6])
    with pytest.raises(ValueError):
        random_split(ds, [-1, 11])


def test_random_split_reproducible_with_seed_and_global_generator():
    ds = TensorDataset(np.arange(100))
    assert np.array_equal(
        random_split(ds, [50, 50], seed=3)[0].indices, random_split(ds, [50, 50], seed=3)[0].indices
    )
    rustdl.manual_seed(11)
    first = random_split(ds, [0.5, 0.5])[0].indices
    rustdl.manual_seed(11)
    again = random_split(ds, [0.5, 0.5])[0].indices
    np.testing.assert_array_equal(first, again)


def test_randperm_is_a_permutation():
    for n in (0, 1, 7, 1000):
        p = randperm(n)
        np.testing.assert_array_equal(np.sort(p), np.arange(n))
    assert not np.array_equal(randperm(1000), np.arange(1000))


# --- collation -------------------------------------------------------------------------------------


def test_default_collate_nested_types():
    batch = default_collate([Squares(5)[i] for i in (1, 3)])
    assert batch["x"].shape == (2, 2, 3) and batch["x"].dtype == rustdl.float32
    np.testing.assert_array_equal(batch["x"].numpy()[:, 0, 0], [1, 3])
    assert batch["y"].dtype == rustdl.int64 and batch["y"].tolist() == [1, 9]
    assert batch["w"].dtype == rustdl.float64 and batch["w"].tolist() == [0.5, 1.5]
    t = default_collate([rustdl.tensor([1.0, 2.0]), rustdl.tensor([3.0, 4.0])])
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])
    x, label = default_collate([(np.zeros(2, np.uint8), "a"), (np.ones(2, np.uint8), "b")])
    assert x.dtype == rustdl.uint8 and label == (
        "a",
        "b",
    )  # the array dtype kept; strings inside a tuple: a tuple, as PyTorch
    with pytest.raises(ValueError, match="equal shapes"):
        default_collate([np.zeros(2), np.zeros(3)])


# --- DataLoader ------------------------------------------------------------------------------------


@pytest.mark.parametrize("drop_last,expected", [(False, [4, 4, 2]), (True, [4, 4])])
def test_loader_batch_sizes(drop_last, expected):
    loader = DataLoader(
        TensorDataset(np.zeros((10, 3), np.float32), np.arange(10)), batch_size=4, drop_last=drop_last
    )
    assert len(loader) == len(expected)
    assert [len(yb) for _, yb in loader] == expected


def test_loader_in_order_without_shuffle():
    loader = DataLoader(TensorDataset(np.arange(10)), batch_size=3)
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in loader]), np.arange(10))


def test_loader_shuffle_covers_each_sample_once_and_reshuffles_every_epoch():
    n = 50
    loader = DataLoader(TensorDataset(np.zeros((n, 2), np.float32), np.arange(n)), batch_size=8, shuffle=True)
    e1, e2 = _epoch_labels(loader), _epoch_labels(loader)
    np.testing.assert_array_equal(np.sort(e1), np.arange(n))
    np.testing.assert_array_equal(np.sort(e2), np.arange(n))
    assert not np.array_equal(e1, e2)
    assert not np.array_equal(e1, np.arange(n))


def test_loader_shuffle_reproducible():
    ds = TensorDataset(np.zeros(40), np.arange(40))
    rustdl.manual_seed(5)
    a = _epoch_labels(DataLoader(ds, 7, shuffle=True))
    rustdl.manual_seed(5)
    b = _epoch_labels(DataLoader(ds, 7, shuffle=True))
    np.testing.assert_array_equal(a, b)
    # a seeded loader does not depend on the global generator, and its epochs differ
    s1 = DataLoader(ds, 40, shuffle=True, seed=9)
    rustdl.manual_seed(123)
    s2 = DataLoader(ds, 40, shuffle=True, seed=9)
    first1, first2 = _epoch_labels(s1), _epoch_labels(s2)
    np.testing.assert_array_equal(first1, first2)
    assert not np.array_equal(_epoch_labels(s1), first1)
    g = DataLoader(ds, 40, shuffle=True, generator=np.random.default_rng(9))
    np.testing.assert_array_equal(_epoch_labels(g), first1)


def test_loader_plain_dataset_and_custom_collate():
    loader = DataLoader(Squares(5), batch_size=2)
    batches = list(loader)
    assert len(batches) == 3
    assert batches[0]["y"].tolist() == [0, 1] and batches[2]["y"].tolist() == [16]
    custom = DataLoader(Squares(5), batch_size=2, collate_fn=lambda samples: [s["y"] for s in samples])
    assert list(custom) == [[0, 1], [4, 9], [16]]


def test_loader_tensor_dataset_on_device(device):
    x = rustdl.from_numpy(np.arange(12, dtype=np.float32).reshape(6, 2)).to(device)
    y = rustdl.from_numpy(np.arange(6)).to(device)
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=6, shuffle=True, seed=0)))
    assert xb.device == x.device
    order = yb.cpu().numpy()
    np.testing.assert_array_equal(xb.cpu().numpy(), np.arange(12, dtype=np.float32).reshape(6, 2)[order])


def test_loader_argument_errors():
    ds = TensorDataset(np.zeros(4))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(ValueError, match="either generator or seed"):
        DataLoader(ds, 2, generator=np.random.default_rng(0), seed=1)
    with pytest.raises(TypeError):
        DataLoader(object(), 2)
