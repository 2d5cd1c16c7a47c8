"""rustdl.data: samplers, the DataLoader's PyTorch constructor rules, IterableDataset, collation of
every sample type, and background worker threads (order, init, errors, abandonment, persistence,
timeout, overlap)."""

import collections
import gc
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import rustdl
from rustdl.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
)
from rustdl.data import sampler as sampler_module


class Items(Dataset):
    """A map-style dataset with a Python ``__getitem__`` (no get_batch): sample i is (x_i, i).
    Its counters live in a numpy array, which the workers' copies of the dataset share (as
    they share every array), so the main thread sees them."""

    def __init__(self, n, fail_at=None, delay=0.0):
        self.n, self.fail_at, self.delay = n, fail_at, delay
        self.lock = threading.Lock()
        self.stats = np.zeros(3, np.int64)  # in flight, most in flight, calls

    in_flight = property(lambda self: int(self.stats[0]))
    max_in_flight = property(lambda self: int(self.stats[1]))
    calls = property(lambda self: int(self.stats[2]))

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.lock:
            self.stats[0] += 1
            self.stats[2] += 1
            self.stats[1] = max(self.stats[1], self.stats[0])
        try:
            if self.delay:
                time.sleep(self.delay)
            if i == self.fail_at:
                raise ValueError(f"bad sample {i}")
            return np.full(3, i, np.float32), i
        finally:
            with self.lock:
                self.stats[0] -= 1


class Stream(IterableDataset):
    """range(n); with ``shard``, each worker yields every num_workers-th item from its id."""

    def __init__(self, n, shard=True, with_len=False):
        self.n, self.shard, self.with_len = n, shard, with_len

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        if not self.with_len:
            raise NotImplementedError
        return self.n


def _labels(batches):
    return [b[1].tolist() for b in batches]


def _worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith("rustdl-dataloader-worker")]


def _wait_until(predicate, deadline_s=10.0):
    """Polls ``predicate`` (liveness with a generous deadline, not a timing assertion)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _chi_square(counts, probs):
    expected = np.asarray(probs) * np.sum(counts)
    keep = expected > 0
    stat = np.sum((np.asarray(counts)[keep] - expected[keep]) ** 2 / expected[keep])
    return float(stat), int(keep.sum()) - 1


def _assert_frequencies(counts, probs):
    stat, df = _chi_square(counts, probs)
    # mean df, standard deviation sqrt(2 df): 6 sigma is far from a flaky bound and far below a wrong law
    assert stat < df + 6 * np.sqrt(2 * df), (stat, df, counts)


# --- samplers --------------------------------------------------------------------------------------


def test_sampler_module_exports_the_same_classes():
    assert sampler_module.RandomSampler is RandomSampler
    assert sampler_module.BatchSampler is BatchSampler
    with pytest.raises(NotImplementedError):
        iter(Sampler())


def test_sequential_sampler():
    s = SequentialSampler(range(7))
    assert list(s) == list(range(7)) and len(s) == 7
    assert list(SequentialSampler([])) == []


def test_random_sampler_is_a_seeded_permutation_each_epoch():
    n = 50
    s = RandomSampler(range(n), generator=np.random.default_rng(3))
    ref = np.random.default_rng(3)
    e1, e2 = list(s), list(s)
    assert e1 == ref.permutation(n).tolist() and e2 == ref.permutation(n).tolist()
    assert sorted(e1) == list(range(n)) and e1 != e2 and len(s) == n
    assert list(RandomSampler(range(n), generator=3)) == e1  # an int is a seed
    rustdl.manual_seed(11)
    a = list(RandomSampler(range(n)))
    rustdl.manual_seed(11)
    assert list(RandomSampler(range(n))) == a and sorted(a) == list(range(n))


def test_random_sampler_num_samples_without_replacement_chains_permutations():
    s = RandomSampler(range(10), num_samples=25, generator=0)
    draws = list(s)
    assert len(draws) == len(s) == 25
    assert sorted(draws[:10]) == list(range(10)) and sorted(draws[10:20]) == list(range(10))
    assert len(set(draws[20:])) == 5
    assert list(RandomSampler(range(10), num_samples=4, generator=0)) == draws[:4]


def test_random_sampler_with_replacement_is_uniform():
    n, k = 8, 80_000
    draws = np.array(list(RandomSampler(range(n), replacement=True, num_samples=k, generator=5)))
    assert draws.min() >= 0 and draws.max() < n and len(draws) == k
    _assert_frequencies(np.bincount(draws, minlength=n), np.full(n, 1 / n))
    rustdl.manual_seed(1)
    g = np.array(list(RandomSampler(range(n), replacement=True, num_samples=k)))
    _assert_frequencies(np.bincount(g, minlength=n), np.full(n, 1 / n))


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"replacement": 1}, TypeError, "replacement"),
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"num_samples": -3}, ValueError, "num_samples"),
        ({"num_samples": 2.5}, ValueError, "num_samples"),
        ({"generator": "seed"}, TypeError, "generator"),
    ],
)
def test_random_sampler_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        RandomSampler(range(4), **kwargs)


def test_subset_random_sampler():
    idx = [3, 17, 4, 40, 9]
    s = SubsetRandomSampler(idx, generator=2)
    e1, e2 = list(s), list(s)
    assert sorted(e1) == sorted(idx) and sorted(e2) == sorted(idx) and len(s) == 5
    ref = np.random.default_rng(2)
    assert e1 == np.asarray(idx)[ref.permutation(5)].tolist()
    assert e2 == np.asarray(idx)[ref.permutation(5)].tolist()
    with pytest.raises(ValueError, match="indices"):
        SubsetRandomSampler([[1, 2]])


def test_weighted_random_sampler_frequencies_with_replacement():
    w = np.array([1.0, 0.0, 3.0, 0.5, 5.5])
    k = 200_000
    draws = np.array(list(WeightedRandomSampler(w, k, generator=0)))
    counts = np.bincount(draws, minlength=len(w))
    assert counts[1] == 0 and len(draws) == k
    _assert_frequencies(counts, w / w.sum())
    # weights as a rustdl tensor, drawn from the global generator
    rustdl.manual_seed(4)
    g = np.array(list(WeightedRandomSampler(rustdl.tensor(w.tolist()), k)))
    _assert_frequencies(np.bincount(g, minlength=len(w)), w / w.sum())


def test_weighted_random_sampler_without_replacement_matches_successive_draws():
    w = np.array([1.0, 2.0, 0.0, 3.0, 4.0])
    p = w / w.sum()
    # successive sampling: P(second = j) = sum_i p_i * w_j / (W - w_i) over i != j
    second = np.array([sum(p[i] * w[j] / (w.sum() - w[i]) for i in range(5) if i != j) for j in range(5)])
    s = WeightedRandomSampler(w, 4, replacement=False, generator=1)
    firsts, seconds = np.zeros(5, int), np.zeros(5, int)
    for _ in range(20_000):
        d = list(s)
        assert len(set(d)) == 4 and 2 not in d
        firsts[d[0]] += 1
        seconds[d[1]] += 1
    _assert_frequencies(firsts, p)
    _assert_frequencies(seconds, second)


def test_weighted_random_sampler_is_reproducible():
    w = [0.2, 0.3, 0.5]
    assert list(WeightedRandomSampler(w, 30, generator=8)) == list(WeightedRandomSampler(w, 30, generator=8))
    rustdl.manual_seed(3)
    a = list(WeightedRandomSampler(w, 30))
    rustdl.manual_seed(3)
    assert list(WeightedRandomSampler(w, 30)) == a


@pytest.mark.parametrize(
    "weights,kwargs,exc,match",
    [
        ([[1.0, 2.0]], {}, ValueError, "1d"),
        ([1.0, -1.0], {}, ValueError, "non-negative"),
        ([0.0, 0.0], {}, ValueError, "sum of probabilities"),
        ([1.0, float("nan")], {}, ValueError, "finite"),
        ([1.0, 0.0, 1.0], {"num_samples": 4, "replacement": False}, ValueError, "without replacement"),
        ([1.0], {"num_samples": 0}, ValueError, "num_samples"),
        ([1.0], {"num_samples": True}, ValueError, "num_samples"),
        ([1.0], {"replacement": "yes"}, TypeError, "replacement"),
    ],
)
def test_weighted_random_sampler_errors(weights, kwargs, exc, match):
    kwargs = {"num_samples": 1, **kwargs}
    with pytest.raises(exc, match=match):
        WeightedRandomSampler(weights, **kwargs)


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_groups_in_order(drop_last):
    order = list(range(10))
    ref = [order[i : i + 3] for i in range(0, 10, 3)]
    if drop_last:
        ref = ref[:-1]
    for inner in (SequentialSampler(range(10)), order, iter(order)):
        assert list(BatchSampler(inner, 3, drop_last)) == ref
    assert len(BatchSampler(SequentialSampler(range(10)), 3, drop_last)) == len(ref)
    # a random inner sampler: the batches are the permutation cut in order
    perm = np.random.default_rng(6).permutation(10).tolist()
    got = list(BatchSampler(RandomSampler(range(10), generator=6), 3, drop_last))
    assert got == [perm[i : i + 3] for i in range(0, len(ref) * 3, 3)]
    assert all(isinstance(i, int) for b in got for i in b)


def test_batch_sampler_errors():
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="batch_size"):
            BatchSampler(range(4), bad, False)
    with pytest.raises(ValueError, match="drop_last"):
        BatchSampler(range(4), 2, 1)
    # the sampler is not checked when built (PyTorch's): iterating a non-iterable raises, and a
    # sequence without __iter__ (a ConcatDataset) iterates through __getitem__
    with pytest.raises(TypeError, match="not iterable"):
        list(BatchSampler(5, 2, False))

    class Seq:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            if i >= 3:
                raise IndexError(i)
            return i

    assert list(BatchSampler(Seq(), 2, False)) == [[0, 1], [2]] and len(BatchSampler(Seq(), 2, True)) == 1


# --- DataLoader arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (
            {"sampler": [0, 1], "shuffle": True},
            ValueError,
            "sampler option is mutually exclusive with shuffle",
        ),
        ({"batch_sampler": [[0]], "batch_size": 2}, ValueError, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "shuffle": True}, ValueError, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "sampler": [0]}, ValueError, "batch_sampler option is mutually exclusive"),
        (
            {"batch_sampler": [[0]], "drop_last": True},
            ValueError,
            "batch_sampler option is mutually exclusive",
        ),
        ({"batch_size": None, "drop_last": True}, ValueError, "mutually exclusive with drop_last"),
        ({"num_workers": -1}, ValueError, "num_workers option should be non-negative"),
        ({"num_workers": 1.5}, TypeError, "num_workers"),
        ({"timeout": -1}, ValueError, "timeout option should be non-negative"),
        ({"timeout": "1"}, TypeError, "timeout"),
        ({"prefetch_factor": 2}, ValueError, "prefetch_factor"),
        ({"num_workers": 2, "prefetch_factor": 0}, ValueError, "prefetch_factor"),
        ({"persistent_workers": True}, ValueError, "persistent_workers option needs num_workers > 0"),
        ({"multiprocessing_context": "spawn"}, ValueError, "multiprocessing_context"),
        ({"num_workers": 1, "multiprocessing_context": "bogus"}, ValueError, "valid start method"),
        ({"num_workers": 1, "multiprocessing_context": 3}, TypeError, "multiprocessing_context"),
        ({"num_workers": 1, "worker_init_fn": 3}, TypeError, "worker_init_fn"),
        ({"collate_fn": 3}, TypeError, "collate_fn"),
        ({"generator": "x"}, TypeError, "generator"),
        ({"sampler": 3}, TypeError, "sampler"),
        ({"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_loader_incompatible_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        DataLoader(Items(4), **kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"shuffle": True}, "expected unspecified shuffle option"),
        ({"sampler": [0]}, "expected unspecified sampler option"),
        ({"batch_sampler": [[0]]}, "expected unspecified batch_sampler option"),
    ],
)
def test_iterable_dataset_rejects_sampling_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Stream(4), **kwargs)
    DataLoader(Stream(4), shuffle=False)  # an explicit False is fine, as PyTorch


def test_loader_accepts_the_full_pytorch_signature():
    loader = DataLoader(
        Items(10),
        4,
        False,
        None,
        None,
        2,
        None,
        True,
        False,
        5.0,
        None,
        "spawn",
        None,
        prefetch_factor=3,
        persistent_workers=True,
        pin_memory_device="",
    )
    assert loader.prefetch_factor == 3 and loader.pin_memory and loader.multiprocessing_context == "spawn"
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert DataLoader(Items(2), num_workers=1).prefetch_factor == 2
    assert DataLoader(Items(2)).prefetch_factor is None
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3
    loader.num_workers = 2  # not frozen, as PyTorch


def test_loader_with_sampler_and_batch_sampler():
    ds = Items(12)
    idx = [10, 2, 7, 5, 11]
    got = _labels(DataLoader(ds, batch_size=2, sampler=SubsetRandomSampler(idx, generator=0)))
    perm = np.asarray(idx)[np.random.default_rng(0).permutation(5)].tolist()
    assert got == [perm[0:2], perm[2:4], perm[4:5]]
    # a plain list of index lists as batch_sampler; batch_size becomes None, as PyTorch
    loader = DataLoader(ds, batch_sampler=[[3, 1], [0], [11, 4, 6]])
    assert loader.batch_size is None and len(loader) == 3
    assert _labels(loader) == [[3, 1], [0], [11, 4, 6]]
    bs = BatchSampler(RandomSampler(ds, generator=4), 5, drop_last=True)
    ref = np.random.default_rng(4).permutation(12).tolist()
    assert _labels(DataLoader(ds, batch_sampler=bs)) == [ref[0:5], ref[5:10]]
    # the fast path (TensorDataset.get_batch) with a custom sampler
    t = TensorDataset(np.arange(12) * 10, np.arange(12))
    w = DataLoader(t, batch_size=4, sampler=WeightedRandomSampler([0, 0, 1] + [0] * 9, 8))
    assert len(w) == 2 and all(b[1].tolist() == [2, 2, 2, 2] for b in w)
    assert len(DataLoader(ds, batch_size=5, sampler=RandomSampler(ds, num_samples=21))) == 5


def test_loader_without_len_needs_a_sampler():
    class NoLen:
        def __getitem__(self, i):
            return i * 2

    assert [b.tolist() for b in DataLoader(NoLen(), batch_size=2, sampler=[5, 1, 2])] == [[10, 2], [4]]
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(NoLen(), batch_size=2)


def test_default_shuffle_is_the_generators_permutation_every_epoch():
    """The fast path keeps its seeded shuffling: epoch k is the k-th ``permutation`` of the generator."""
    n = 37
    ds = TensorDataset(np.zeros((n, 2), np.float32), np.arange(n))
    ref = np.random.default_rng(7)
    loader = DataLoader(ds, batch_size=8, shuffle=True, seed=7)
    for _ in range(3):
        assert np.concatenate([yb.numpy() for _, yb in loader]).tolist() == ref.permutation(n).tolist()


def test_batch_size_none_yields_converted_samples():
    loader = DataLoader(Items(3), batch_size=None)
    out = list(loader)
    assert len(loader) == 3 and len(out) == 3
    x, i = out[2]
    assert isinstance(x, rustdl.Tensor) and x.shape == (3,) and x.tolist() == [2.0, 2.0, 2.0] and i == 2
    assert [o[1] for o in DataLoader(Items(5), batch_size=None, shuffle=True, seed=0)] == (
        np.random.default_rng(0).permutation(5).tolist()
    )


# --- collation -------------------------------------------------------------------------------------


def test_default_collate_types_as_pytorch():
    Point = collections.namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert type(p) is Point and p.x.dtype == rustdl.int64 and p.y.dtype == rustdl.float64
    assert p.x.tolist() == [1, 3] and p.y.tolist() == [2.0, 4.0]
    od = default_collate([collections.OrderedDict(b=1, a=np.float32(0.5))] * 2)
    assert type(od) is collections.OrderedDict and list(od) == ["b", "a"]
    assert od["a"].dtype == rustdl.float32 and od["b"].tolist() == [1, 1]
    assert default_collate([True, False]).dtype == rustdl.bool
    assert default_collate([np.float32(1), np.float32(2)]).dtype == rustdl.float32
    assert default_collate(["a", "b"]) == ["a", "b"]
    assert default_collate([np.str_("a"), np.str_("b")]) == ["a", "b"]
    nested = default_collate([({"k": [1, 2]}, "s"), ({"k": [3, 4]}, "t")])
    assert [v.tolist() for v in nested[0]["k"]] == [[1, 3], [2, 4]] and nested[1] == ("s", "t")
    arr = default_collate([np.arange(6).reshape(2, 3), np.ones((2, 3), np.int32)])
    assert arr.shape == (2, 2, 3) and arr.dtype == rustdl.int64
    for bad in ([object(), object()], [None, None], [np.array(["a"]), np.array(["b"])]):
        with pytest.raises(TypeError, match="default_collate"):
            default_collate(bad)


def test_default_convert():
    Point = collections.namedtuple("Point", "x y")
    out = default_convert(Point(np.zeros(2, np.float32), "s"))
    assert type(out) is Point and isinstance(out.x, rustdl.Tensor) and out.y == "s"
    d = default_convert({"a": [np.int32(3), 1.5]})
    assert isinstance(d["a"][0], rustdl.Tensor) and d["a"][0].tolist() == 3 and d["a"][1] == 1.5


# --- IterableDataset ---------------------------------------------------------------------------------


def test_iterable_dataset_in_the_main_thread():
    assert _labels_plain(DataLoader(Stream(7), batch_size=3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert _labels_plain(DataLoader(Stream(7), batch_size=3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    assert len(DataLoader(Stream(7, with_len=True), batch_size=3)) == 3
    assert len(DataLoader(Stream(7, with_len=True), batch_size=3, drop_last=True)) == 2
    with pytest.raises(TypeError, match="__len__"):
        len(DataLoader(Stream(7), batch_size=3))


def _labels_plain(batches):
    return [b.tolist() for b in batches]


def test_iterable_dataset_with_workers_interleaves_their_batches():
    loader = DataLoader(Stream(10), batch_size=2, num_workers=2)
    # worker 0 yields 0, 2, 4, 6, 8 and worker 1 yields 1, 3, 5, 7, 9; batches alternate between them
    expected = [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]
    assert _labels_plain(loader) == expected
    assert _labels_plain(loader) == expected  # a second epoch restarts each worker's iterator
    unsharded = DataLoader(Stream(5, shard=False), batch_size=2, num_workers=2)
    # as PyTorch: without sharding every worker yields the whole stream
    assert sorted(v for b in unsharded for v in b.tolist()) == sorted(list(range(5)) * 2)
    # uneven streams: a worker that runs out early is skipped
    uneven = DataLoader(Stream(5), batch_size=2, num_workers=3, drop_last=True)
    assert _labels_plain(uneven) == [[0, 3], [1, 4]]
    persistent = DataLoader(Stream(10), batch_size=2, num_workers=2, persistent_workers=True)
    assert _labels_plain(persistent) == expected and _labels_plain(persistent) == expected


# --- worker threads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("num_workers", [1, 2, 4])
def test_workers_give_the_same_batches_in_the_same_order(num_workers):
    cases = (
        {"shuffle": True, "seed": 5},
        {"shuffle": False},
        {"shuffle": True, "seed": 9, "drop_last": True},
    )
    for kwargs in cases:
        serial = DataLoader(Items(45), batch_size=4, **kwargs)
        parallel = DataLoader(Items(45), batch_size=4, num_workers=num_workers, **kwargs)
        for _ in range(2):  # two epochs: the shuffles stay in step
            a, b = list(serial), list(parallel)
            assert _labels(a) == _labels(b)
            for (xa, _), (xb, _) in zip(a, b):
                np.testing.assert_array_equal(xa.numpy(), xb.numpy())
    # the fast path too, with a global-generator shuffle
    t = TensorDataset(np.arange(50, dtype=np.float32).reshape(25, 2), np.arange(25))
    rustdl.manual_seed(2)
    a = _labels(DataLoader(t, batch_size=6, shuffle=True))
    rustdl.manual_seed(2)
    assert _labels(DataLoader(t, batch_size=6, shuffle=True, num_workers=num_workers, prefetch_factor=1)) == a


def test_worker_init_fn_and_worker_info():
    assert get_worker_info() is None
    calls = []
    seen = set()

    def init(worker_id):
        info = get_worker_info()
        calls.append((worker_id, info.id, info.num_workers, info.seed, threading.get_ident()))

    class Spy(Items):
        def __getitem__(self, i):
            info = get_worker_info()
            seen.add((info.id, info.dataset is self))
            return super().__getitem__(i)

    ds = Spy(30)
    assert len(list(DataLoader(ds, batch_size=2, num_workers=3, worker_init_fn=init))) == 15
    assert sorted(c[0] for c in calls) == [0, 1, 2]
    assert all(c[0] == c[1] and c[2] == 3 for c in calls)
    seeds = sorted(c[3] for c in calls)
    assert seeds == [seeds[0], seeds[0] + 1, seeds[0] + 2]
    assert len({c[4] for c in calls}) == 3 and threading.get_ident() not in {c[4] for c in calls}
    assert {s[0] for s in seen} <= {0, 1, 2} and all(s[1] for s in seen)
    with pytest.raises(AttributeError):
        get_worker_info_from_a_worker(ds).id = 5


def get_worker_info_from_a_worker(ds):
    box = []
    list(DataLoader(ds, batch_size=30, num_workers=1, worker_init_fn=lambda _: box.append(get_worker_info())))
    return box[0]


def test_worker_exception_reaches_the_main_thread_with_the_worker_id():
    loader = DataLoader(Items(10, fail_at=5), batch_size=1, num_workers=2)
    it = iter(loader)
    for k in range(5):
        assert next(it)[1].tolist() == [k]
    with pytest.raises(
        ValueError, match=r"(?s)Caught ValueError in DataLoader worker 1.*bad sample 5"
    ) as info:
        next(it)
    assert isinstance(info.value.__cause__, ValueError)
    assert next(it)[1].tolist() == [6]  # as PyTorch, the epoch goes on after the error
    del it

    class Odd(Exception):
        def __init__(self, a, b):
            super().__init__(a, b)

    class Raises(Items):
        def __getitem__(self, i):
            raise Odd(1, 2)

    with pytest.raises(RuntimeError, match="Caught Odd in DataLoader worker 0"):
        list(DataLoader(Raises(4), batch_size=2, num_workers=1))

    def bad_init(worker_id):
        if worker_id == 1:
            raise KeyError("no shard")

    with pytest.raises(KeyError, match="(?s)Caught KeyError in DataLoader worker 1.*no shard"):
        list(DataLoader(Items(10), batch_size=1, num_workers=2, worker_init_fn=bad_init))


def test_break_mid_epoch_stops_the_threads_and_a_new_epoch_works():
    ds = Items(40)
    loader = DataLoader(ds, batch_size=2, shuffle=True, seed=1, num_workers=3)
    ref = DataLoader(Items(40), batch_size=2, shuffle=True, seed=1)
    ref_epochs = [_labels(ref), _labels(ref)]
    for k, batch in enumerate(loader):  # noqa: B007 (held, then deleted below)
        if k == 2:
            break
    del batch
    gc.collect()
    assert _wait_until(lambda: not _worker_threads())
    # the abandoned epoch drew the first permutation; the next epoch is the second
    assert _labels(loader) == ref_epochs[1]
    assert _wait_until(lambda: not _worker_threads())


def test_persistent_workers_survive_epochs_and_stop_with_the_loader():
    inits = []
    loader = DataLoader(
        Items(20),
        batch_size=3,
        shuffle=True,
        seed=4,
        num_workers=2,
        persistent_workers=True,
        worker_init_fn=lambda w: inits.append((w, threading.get_ident())),
    )
    ref = DataLoader(Items(20), batch_size=3, shuffle=True, seed=4)
    assert _labels(loader) == _labels(ref)
    threads = set(_worker_threads())
    assert len(threads) == 2
    for k, _ in enumerate(loader):  # abandon an epoch: the workers stay
        if k == 1:
            break
    ref_partial = _labels(ref)  # keeps the reference generator in step
    assert ref_partial
    assert _labels(loader) == _labels(ref)
    assert set(_worker_threads()) == threads and sorted(w for w, _ in inits) == [0, 1]
    # two iterators of a persistent loader: the newer one takes over, the older one ends
    first = iter(loader)
    next(first)
    second = iter(loader)
    assert len(list(second)) == len(loader)
    assert list(first) == []
    del loader, first, second
    gc.collect()
    assert _wait_until(lambda: not _worker_threads())


def test_timeout_raises_runtime_error():
    ds = Items(4, delay=1.0)
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.05 seconds"):
        next(iter(DataLoader(ds, batch_size=1, num_workers=1, timeout=0.05)))
    # a generous timeout does not fire
    assert len(list(DataLoader(Items(4), batch_size=2, num_workers=2, timeout=30))) == 2


def test_workers_overlap_their_work():
    ds = Items(40, delay=0.02)
    assert len(list(DataLoader(ds, batch_size=1, num_workers=4))) == 40
    assert ds.max_in_flight > 1  # several __getitem__ calls ran at the same time
    serial = Items(40, delay=0.0)
    list(DataLoader(serial, batch_size=1))
    assert serial.max_in_flight == 1


def test_prefetch_is_bounded_by_prefetch_factor_per_worker():
    ds = Items(100)
    it = iter(DataLoader(ds, batch_size=1, num_workers=2, prefetch_factor=3))
    assert _wait_until(lambda: ds.calls == 6)  # fetched ahead, before the main thread asks
    time.sleep(0.1)
    assert ds.calls == 6  # and no further
    next(it)
    assert _wait_until(lambda: ds.calls == 7)
    del it


def test_no_hang_at_interpreter_exit_with_live_workers():
    script = textwrap.dedent(
        """
        import time, numpy as np
        from rustdl.data import DataLoader, Dataset

        class Slow(Dataset):
            def __len__(self): return 100
            def __getitem__(self, i):
                time.sleep(0.2)
                return np.float32(i)

        loader = DataLoader(Slow(), batch_size=1, num_workers=3, persistent_workers=True)
        it = iter(loader)          # kept alive at exit, workers mid-fetch
        print(next(it).tolist())
        for b in DataLoader(Slow(), batch_size=1, num_workers=2):
            break
        print("done")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[0.0]", "done"]


def test_a_failing_sampler_stops_the_workers():
    class Broken(Sampler):
        def __iter__(self):
            yield 0
            raise OSError("sampler broke")

    with pytest.raises(OSError, match="sampler broke"):
        list(DataLoader(Items(10), batch_size=1, sampler=Broken(), num_workers=2))
    gc.collect()
    assert _wait_until(lambda: not _worker_threads())


def test_random_transforms_in_workers():
    """Workers draw from rustdl's global generator concurrently: each image is flipped or not."""
    from rustdl.data import transforms as T

    x = np.arange(64 * 1 * 2 * 3, dtype=np.float32).reshape(64, 1, 2, 3)
    ds = TensorDataset(x, np.arange(64), transform=T.RandomHorizontalFlip())
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0, num_workers=3)
    flips = 0
    for _ in range(3):
        labels = []
        for xb, yb in loader:
            for img, i in zip(xb.numpy(), yb.numpy()):
                same, flipped = np.array_equal(img, x[i]), np.array_equal(img, x[i][..., ::-1])
                assert same or flipped
                flips += flipped
            labels += yb.tolist()
        assert sorted(labels) == list(range(64))
    assert 0 < flips < 3 * 64
