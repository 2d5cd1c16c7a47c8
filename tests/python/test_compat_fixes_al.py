"""Fixes found by the 2026-12-07 (fourth) rounds: torch.utils.data semantics, spiking-network,
adversarial, KAN/CDE and force-field libraries, classic training scripts."""

from __future__ import annotations

import warnings
from collections import defaultdict, deque
from collections.abc import Sequence

import numpy as np
import pytest
import rustdl
from rustdl.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
)
from rustdl.data import dataloader as dataloader_module


def _batches(loader):
    return [[t.tolist() for t in b] if isinstance(b, list) else b for b in loader]


class _Doubling(TensorDataset):
    """A subclass that keeps a ``transform`` attribute of its own and applies it itself."""

    def __init__(self, x, transform=None):
        super().__init__(x)
        self.transform = transform

    def __getitem__(self, i):
        (x,) = super().__getitem__(i)
        return (self.transform(x) if self.transform else x,)


def test_a_subclass_transform_attribute_is_applied_once():
    ds = _Doubling(rustdl.zeros(4), transform=lambda x: x + 1)
    assert ds[0][0].item() == 1.0
    assert _batches(DataLoader(ds, batch_size=2)) == [[[1.0, 1.0]], [[1.0, 1.0]]]


def test_a_subclass_attribute_set_before_init_is_kept_and_not_called():
    class Named(TensorDataset):
        def __init__(self, x):
            self.target_transform = "labels"  # not callable: only the subclass reads it
            super().__init__(x, x)

    ds = Named(rustdl.arange(3))
    assert ds.target_transform == "labels"
    assert [v.item() for v in ds[2]] == [2, 2]


def test_rustdl_transforms_still_apply_to_samples_and_batches():
    ds = TensorDataset(rustdl.arange(4.0), rustdl.arange(4), transform=lambda x: x * 10)
    assert ds[1][0].item() == 10.0
    assert _batches(DataLoader(ds, batch_size=4)) == [[[0.0, 10.0, 20.0, 30.0], [0, 1, 2, 3]]]
    ds.target_transform = lambda y: y + 1  # set later on rustdl's own class: applied
    assert ds.get_batch([3])[1].tolist() == [4]


def test_a_subclass_reading_samples_its_own_way_is_loaded_through_it():
    calls = []

    class Neg(TensorDataset):
        def __getitem__(self, i):
            calls.append(i)
            return (-self.tensors[0][i],)

    ds = Neg(rustdl.arange(1, 5))
    assert _batches(DataLoader(ds, batch_size=2)) == [[[-1, -2]], [[-3, -4]]]
    assert len(calls) == 4
    assert _batches(DataLoader(Subset(ds, [0, 2]), batch_size=2)) == [[[-1, -3]]]


def test_a_subclass_getitems_is_used():
    class Batched(TensorDataset):
        def __getitems__(self, idx):
            return [(rustdl.tensor(-1),) for _ in idx]

    assert _batches(DataLoader(Batched(rustdl.arange(2)), batch_size=2)) == [[[-1, -1]]]


def test_a_subset_subclass_overriding_getitem_is_loaded_through_it():
    class Plus(Subset):
        def __getitem__(self, i):
            return super().__getitem__(i) + 100

    ds = Plus(list(range(10)), [3, 5])
    assert [b.tolist() for b in DataLoader(ds, batch_size=2)] == [[103, 105]]


def test_a_dataset_method_named_get_batch_is_not_a_batching_protocol():
    class D(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return i

        def get_batch(self, n):
            return "mine"

    assert [b.tolist() for b in DataLoader(D(), batch_size=2)] == [[0, 1]]


def test_loader_private_api_libraries_read():
    class Custom(DataLoader):
        def _get_iterator(self):
            return iter(["custom"])

    assert list(Custom(range(2))) == ["custom"]

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(5))

    loader = DataLoader(Stream(), batch_size=2)
    assert loader._dataset_kind == dataloader_module._DatasetKind.Iterable
    assert isinstance(loader.sampler, dataloader_module._InfiniteConstantSampler)
    assert loader._index_sampler is loader.batch_sampler
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]
    loader = DataLoader(Stream(), batch_size=2, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]
    assert list(DataLoader(Stream(), batch_size=None)) == [0, 1, 2, 3, 4]
    mapped = DataLoader(TensorDataset(rustdl.arange(5)), batch_size=None)
    assert mapped._dataset_kind == dataloader_module._DatasetKind.Map
    assert mapped._index_sampler is mapped.sampler and mapped._iterator is None
    assert dataloader_module._utils.collate.default_collate is default_collate
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DataLoader(range(3), num_workers=10_000)
    assert any("worker" in str(w.message) for w in caught)


def test_default_convert_keeps_the_container_types():
    out = default_convert(deque([np.zeros(1)]))
    assert isinstance(out, deque) and isinstance(out[0], rustdl.Tensor)

    class Seq(Sequence):
        def __init__(self, d):
            self.d = list(d)

        def __getitem__(self, i):
            return self.d[i]

        def __len__(self):
            return len(self.d)

    out = default_convert(Seq([np.ones(2), 3]))
    assert isinstance(out, Seq) and isinstance(out[0], rustdl.Tensor) and out[1] == 3
    d = defaultdict(list)
    d["a"] = np.ones(2)
    out = default_convert(d)
    assert (
        isinstance(out, defaultdict) and out.default_factory is list and isinstance(out["a"], rustdl.Tensor)
    )
    assert default_convert(range(2)) == [0, 1]
    assert default_convert("abc") == "abc"


def test_numpy_strings_collate_as_they_are():
    out = default_collate([np.str_("a"), np.str_("b")])
    assert out == ["a", "b"] and all(type(v) is np.str_ for v in out)


def test_weighted_sampler_weights_are_a_float64_tensor_and_can_be_reassigned():
    s = WeightedRandomSampler([0.1, 0.9], 50, generator=0)
    assert isinstance(s.weights, rustdl.Tensor) and s.weights.dtype == rustdl.float64
    np.testing.assert_allclose(s.weights.numpy(), [0.1, 0.9])
    s.weights = rustdl.tensor([1.0, 0.0])
    assert set(s) == {0}


def test_data_errors_have_pytorch_types():
    with pytest.raises(TypeError):
        default_collate([rustdl.tensor(1), 2])
    with pytest.raises(IndexError):
        TensorDataset(rustdl.tensor(1.0))

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(NotImplementedError):
        Stream()[0]


def test_lbfgs_state_keeps_its_alphas_and_plateau_min_lr_stays_as_given():
    x = rustdl.tensor([1.5, -0.5], dtype=rustdl.float64, requires_grad=True)
    opt = rustdl.optim.LBFGS([x], history_size=3, max_iter=5)

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    state = opt.state_dict()["state"][0]
    assert len(state["al"]) == 3 and all(a is not None for a in state["al"])
    # the last two-loop's alphas: alpha_i = rho_i * s_i . q_i, q running from the newest pair down
    q = -state["prev_flat_grad"].numpy()
    for i in range(2, -1, -1):
        s, y, rho = state["old_stps"][i].numpy(), state["old_dirs"][i].numpy(), float(state["ro"][i])
        alpha = rho * float(s @ q)
        assert float(state["al"][i]) == pytest.approx(alpha, rel=1e-9)
        q = q - alpha * y
    sched = rustdl.optim.lr_scheduler.ReduceLROnPlateau(opt)
    assert sched.state_dict()["min_lrs"] == [0] and type(sched.state_dict()["default_min_lr"]) is int
