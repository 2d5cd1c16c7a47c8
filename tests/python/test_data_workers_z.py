"""DataLoader workers have what a PyTorch worker process has of its own (a copy of the dataset,
seeded Python ``random`` and numpy streams), and torch.utils.data's smaller behaviours: the
extensible collate map, StopIteration ending an epoch, the exception types, samplers."""

from __future__ import annotations

import collections
import os
import random
import warnings

import numpy as np
import pytest
import rustdl
from rustdl.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)
from rustdl.data.collate import collate, default_collate_fn_map


class _Range(IterableDataset):
    def __init__(self, start, end):
        self.start, self.end = start, end

    def __iter__(self):
        return iter(range(self.start, self.end))


def _shard_init(worker_id):
    info = get_worker_info()
    ds = info.dataset
    per = -(-(ds.end - ds.start) // info.num_workers)
    ds.start = ds.start + worker_id * per
    ds.end = min(ds.start + per, ds.end)


@pytest.mark.parametrize("workers", [2, 5])
def test_worker_init_shards_its_own_copy_of_the_dataset(workers):
    ds = _Range(3, 7)
    got = sorted(int(x) for x in DataLoader(ds, num_workers=workers, worker_init_fn=_shard_init))
    assert got == [3, 4, 5, 6]
    assert (ds.start, ds.end) == (3, 7)  # the main process's dataset is untouched


class _SelfSharding(IterableDataset):
    def __init__(self):
        self.files = list(range(8))

    def __iter__(self):
        info = get_worker_info()
        if info is not None:
            self.files = self.files[info.id :: info.num_workers]
        return iter(self.files)


def test_sharding_by_assignment_in_iter_covers_every_item_each_epoch():
    ds = _SelfSharding()
    for _ in range(2):
        assert sorted(int(x) for x in DataLoader(ds, batch_size=None, num_workers=2)) == list(range(8))
    assert ds.files == list(range(8))


class _Records(Dataset):
    """Fixed-size records read from a file opened on first use (the h5py-style pattern)."""

    def __init__(self, path, n):
        self.path, self.n, self.fh = path, n, None

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.fh is None:
            self.fh = open(self.path, "rb")  # noqa: SIM115 - kept open, as such datasets do
        self.fh.seek(8 * i)
        buf = self.fh.read(8)
        for _ in range(20):  # give the other worker a chance to move a shared offset
            os.sched_yield()
        return int.from_bytes(buf, "little")


def test_a_file_opened_lazily_is_each_workers_own(tmp_path):
    n = 600
    path = tmp_path / "records.bin"
    path.write_bytes(b"".join(i.to_bytes(8, "little") for i in range(n)))
    ds = _Records(str(path), n)
    got = [int(v) for b in DataLoader(ds, batch_size=10, num_workers=2) for v in b.tolist()]
    assert got == list(range(n))
    assert ds.fh is None  # opened by the workers' copies only


class _Draws(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        info = get_worker_info()
        return info.id, info.seed, random.random(), float(np.random.rand())


def _expected_worker_draws(seed, worker_id, k):
    """What PyTorch's worker ``worker_id`` of seed ``seed`` draws ``k`` times: Python's random
    seeded ``seed``; numpy's legacy generator seeded from a SeedSequence of the worker id and the
    base seed's two 32-bit halves."""
    base = seed - worker_id
    py = random.Random(seed)
    words = np.random.SeedSequence([worker_id, base & 0xFFFFFFFF, base >> 32, 0], pool_size=4).generate_state(
        4
    )
    nr = np.random.RandomState(words)
    return [(py.random(), nr.rand()) for _ in range(k)]


def test_each_worker_has_seeded_python_and_numpy_streams_and_the_main_ones_are_untouched():
    np.random.seed(0)
    random.seed(0)
    loader = DataLoader(_Draws(), batch_size=None, num_workers=2)
    items = list(loader)
    by_worker = collections.defaultdict(list)
    for wid, seed, r, n in items:
        by_worker[int(wid)].append((int(seed), float(r), float(n)))
    assert sorted(by_worker) == [0, 1]
    for wid, draws in by_worker.items():
        seed = draws[0][0]
        expected = _expected_worker_draws(seed, wid, len(draws))
        assert [(r, n) for _, r, n in draws] == expected  # bit for bit
    # the main thread's streams did not move
    assert np.random.rand() == np.random.RandomState(0).rand()
    assert random.random() == random.Random(0).random()


def test_worker_init_fn_seeding_numpy_seeds_that_worker_only():
    def init(worker_id):
        np.random.seed(1000 + worker_id)

    class D(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return get_worker_info().id, float(np.random.rand())

    np.random.seed(5)
    got = collections.defaultdict(list)
    for wid, v in DataLoader(D(), batch_size=None, num_workers=2, worker_init_fn=init):
        got[int(wid)].append(float(v))
    for wid, values in got.items():
        ref = np.random.RandomState(1000 + wid)
        assert values == [ref.rand() for _ in values]
    assert np.random.rand() == np.random.RandomState(5).rand()


def test_persistent_workers_take_one_base_seed_for_all_epochs():
    rustdl.manual_seed(0)
    once = DataLoader(list(range(6)), batch_size=3, num_workers=2)
    list(once)
    after_one = rustdl.rand(1).item()
    rustdl.manual_seed(0)
    persistent = DataLoader(list(range(6)), batch_size=3, num_workers=2, persistent_workers=True)
    for _ in range(3):
        assert [b.tolist() for b in persistent] == [[0, 1, 2], [3, 4, 5]]
    assert rustdl.rand(1).item() == after_one


def test_numpy_bools_of_any_nonzero_byte_are_true():
    raw = np.array([[0, 255], [3, 0]], np.uint8).view(np.bool_)  # as PIL's 1-bit images hold them
    for make in (rustdl.from_numpy, rustdl.tensor, rustdl.as_tensor):
        t = make(raw)
        assert t.dtype == rustdl.bool
        assert t.float().tolist() == [[0.0, 1.0], [1.0, 0.0]]
        assert t.long().tolist() == [[0, 1], [1, 0]]
        assert int(t.sum()) == 2
        assert (~t).tolist() == [[True, False], [False, True]]


def test_default_collate_sequences_numbers_mappings_and_the_empty_batch():
    assert [t.tolist() for t in default_collate([range(2), range(2)])] == [[0, 0], [1, 1]]
    assert default_collate([1, rustdl.tensor(2)]).tolist() == [1, 2]
    out = default_collate([collections.defaultdict(int, a=1)] * 2)
    assert type(out) is collections.defaultdict and out["a"].tolist() == [1, 1]
    with pytest.raises(IndexError):
        default_collate([])
    with pytest.raises(RuntimeError, match=r"got \[3\] at entry 0 and \[1\] at entry 1"):
        default_collate([rustdl.ones(3), rustdl.ones(1)])


class _Point:
    def __init__(self, v):
        self.v = v


def _collate_points(batch, *, collate_fn_map=None):
    return [p.v for p in batch]


def test_the_collate_map_extends_default_collate():
    default_collate_fn_map[_Point] = _collate_points
    try:
        out = default_collate([{"p": _Point(1), "x": rustdl.ones(2)}, {"p": _Point(2), "x": rustdl.ones(2)}])
        assert out["p"] == [1, 2]
        assert out["x"].shape == (2, 2)
    finally:
        del default_collate_fn_map[_Point]
    only_tensors = {rustdl.Tensor: lambda batch, collate_fn_map=None: len(batch)}
    assert collate([(rustdl.ones(1), rustdl.ones(1))] * 3, collate_fn_map=only_tensors) == [3, 3]
    with pytest.raises(TypeError):
        collate([1, 2], collate_fn_map=only_tensors)


class _StopsAt(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2:
            raise StopIteration
        return i


def test_stop_iteration_from_the_dataset_ends_the_epoch_and_iterators_have_a_length():
    loader = DataLoader(_StopsAt(), batch_size=2)
    assert [b.tolist() for b in loader] == [[0, 1]]
    assert len(iter(loader)) == 3
    assert len(iter(DataLoader(list(range(5)), batch_size=2, num_workers=2))) == 3


class _KeyErrors(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        raise KeyError(f"missing {i}")


def test_a_key_error_in_a_worker_arrives_as_a_key_error():
    with pytest.raises(KeyError) as info:
        list(DataLoader(_KeyErrors(), batch_size=2, num_workers=2))
    assert "Caught KeyError in DataLoader worker" in str(info.value)
    assert "\\n" not in str(info.value)  # the traceback reads as lines, not a quoted repr


def test_weighted_sampling_without_replacement_draws_zero_weights_last():
    for seed in range(20):
        rustdl.manual_seed(seed)
        got = list(WeightedRandomSampler([1.0, 2.0, 0.0, 0.0], 4, replacement=False))
        assert sorted(got) == [0, 1, 2, 3]
        assert set(got[:2]) == {0, 1}
    with pytest.raises(ValueError):
        WeightedRandomSampler([1.0, 2.0], 3, replacement=False)
    with pytest.raises(RuntimeError):
        WeightedRandomSampler([1.0, -2.0], 1)


def test_random_split_takes_tensor_lengths_and_warns_of_an_empty_split():
    a, b = random_split(range(5), rustdl.tensor([2, 3]), generator=np.random.default_rng(0))
    assert len(a) == 2 and len(b) == 3 and sorted(list(a) + list(b)) == list(range(5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = random_split(range(2), [0.5, 0.25, 0.25], generator=np.random.default_rng(0))
    # floor(2 * f) = [1, 0, 0], the one left over goes to the first split
    assert [len(p) for p in parts] == [2, 0, 0]
    messages = [str(w.message) for w in caught]
    assert any("Length of split at index 1 is 0" in m for m in messages)
    assert any("Length of split at index 2 is 0" in m for m in messages)
