"""Data utilities against PyTorch (2.x, CPU): ``default_collate``'s dtypes for batches of
numbers, ``TensorDataset`` / ``Subset`` / ``ConcatDataset`` indexing, ``RandomSampler``'s exact
draw sequence from its generator, wildcard imports of the torch facades, and torchvision
submodules reached as attributes.

Every expected value below was printed by PyTorch itself (torch.utils.data, torch.Generator,
torch.manual_seed) on the same calls; none is computed here from rustdl.
"""

import json
from collections import namedtuple

import numpy as np
import pytest
import rustdl
from conftest import run_compat
from rustdl.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    StackDataset,
    Subset,
    TensorDataset,
    default_collate,
)


def _gen(seed):
    return rustdl.Generator().manual_seed(seed)


def _plain(value):
    """Tensors as (dtype name, values), recursively, for comparing with PyTorch's printout."""
    if isinstance(value, rustdl.Tensor):
        return str(value.dtype).split(".")[-1], value.tolist()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_plain(v) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    return value


# ------------------------------------------------------------------------------------------
# default_collate: a batch of Python numbers is torch.tensor(batch) when the first element is an
# int or bool (the dtype inferred from every element) and torch.tensor(batch, dtype=float64)
# when it is a float; numpy scalars and arrays promote as PyTorch promotes, not as numpy does
# ------------------------------------------------------------------------------------------

# (batch, PyTorch's dtype, PyTorch's values)
_COLLATE_CASES = [
    ([1, 2.5], "float32", [1.0, 2.5]),
    ([2.5, 1], "float64", [2.5, 1.0]),
    ([1, 2], "int64", [1, 2]),
    ([1.0, 2.0], "float64", [1.0, 2.0]),
    ([True, 2], "int64", [1, 2]),
    ([2, True], "int64", [2, 1]),
    ([True, False], "bool", [True, False]),
    ([1.5, True], "float64", [1.5, 1.0]),
    ([True, 1.5], "float32", [1.0, 1.5]),
    ([1, 2**40], "int64", [1, 1099511627776]),
    ([1, 2 + 3j], "complex64", [1 + 0j, 2 + 3j]),
    ([np.float32(1.5), np.float32(2)], "float32", [1.5, 2.0]),
    ([np.float64(1.5), np.float64(2)], "float64", [1.5, 2.0]),
    ([np.int32(1), np.int32(2)], "int32", [1, 2]),
    ([np.int16(1), np.int16(2)], "int16", [1, 2]),
    ([np.uint8(1), np.uint8(2)], "uint8", [1, 2]),
    ([np.bool_(True), np.bool_(False)], "bool", [True, False]),
    ([np.int64(1), 2.5], "float32", [1.0, 2.5]),
    ([np.float32(1), 2.5], "float32", [1.0, 2.5]),
    ([np.int32(1), 2], "int64", [1, 2]),
    ([np.float32(1), np.float64(2.5)], "float64", [1.0, 2.5]),
    ([np.int64(1), np.float32(2.5)], "float32", [1.0, 2.5]),
    ([1, np.float32(2.5)], "float32", [1.0, 2.5]),
    ([1.5, np.float32(2.5)], "float64", [1.5, 2.5]),
    ([1, np.int32(2)], "int64", [1, 2]),
    ([1, np.array(2.5)], "float64", [1.0, 2.5]),
    ([np.float32(1.5), 2], "float32", [1.5, 2.0]),
    ([np.int8(3), True], "int8", [3, 1]),
    ([2**62, 1.5], "float32", [4.611686018427388e18, 1.5]),
    ([np.zeros(2, np.int64), np.ones(2, np.float32)], "float32", [[0.0, 0.0], [1.0, 1.0]]),
    ([np.zeros(2, np.float32), [1.5, 2]], "float32", [[0.0, 0.0], [1.5, 2.0]]),
    ([np.zeros(2, np.uint8), np.zeros(2, np.int8)], "int16", [[0, 0], [0, 0]]),
    ([np.zeros(2, np.float64), np.zeros(2, np.float32)], "float64", [[0.0, 0.0], [0.0, 0.0]]),
    ([np.zeros(2, np.int32), [1, 2]], "int64", [[0, 0], [1, 2]]),
    ([np.zeros(2, np.bool_), np.ones(2, np.int16)], "int16", [[0, 0], [1, 1]]),
]


@pytest.mark.parametrize(
    ("batch", "dtype", "values"), _COLLATE_CASES, ids=[str(i) for i in range(len(_COLLATE_CASES))]
)
def test_default_collate_numbers_dtype_and_values_as_pytorch(batch, dtype, values):
    out = default_collate(batch)
    assert str(out.dtype) == f"rustdl.{dtype}"
    got = out.tolist()
    if dtype.startswith("float"):
        np.testing.assert_allclose(got, values, rtol=1e-7)
    else:
        assert got == values


def test_default_collate_follows_the_default_dtype():
    old = rustdl.get_default_dtype()
    rustdl.set_default_dtype(rustdl.float64)
    try:
        # PyTorch after torch.set_default_dtype(torch.float64)
        assert default_collate([1, 2.5]).dtype == rustdl.float64
        assert default_collate([1, 2j]).dtype == rustdl.complex128
    finally:
        rustdl.set_default_dtype(old)


def test_dataloader_regression_targets_read_as_mixed_numbers_keep_their_fractions():
    ds = [(rustdl.zeros(1), 3), (rustdl.zeros(1), 2.75)]
    ((x, y),) = list(DataLoader(ds, batch_size=2))
    # PyTorch: tensor([3.0000, 2.7500]) torch.float32 (not int64 [3, 2])
    assert y.dtype == rustdl.float32 and y.tolist() == [3.0, 2.75]
    Pair = namedtuple("Pair", "a b")
    out = default_collate([Pair(1, 0.5), Pair(2, 1)])
    assert _plain(out) == Pair(("int64", [1, 2]), ("float64", [0.5, 1.0]))


# ------------------------------------------------------------------------------------------
# TensorDataset indexes every tensor with any index; Subset / ConcatDataset / StackDataset pass
# indices through as PyTorch's do
# ------------------------------------------------------------------------------------------


def _ds():
    return TensorDataset(rustdl.arange(5.0), rustdl.arange(5) * 10)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        # PyTorch's (x.tolist(), y.tolist()) for ds[index]
        (slice(None), ([0.0, 1.0, 2.0, 3.0, 4.0], [0, 10, 20, 30, 40])),
        (slice(1, 4, 2), ([1.0, 3.0], [10, 30])),
        (-1, (4.0, 40)),
        ("t0", (2.0, 20)),
        ([1, 3], ([1.0, 3.0], [10, 30])),
        ("tlist", ([4.0, 0.0], [40, 0])),
        ("mask", ([0.0, 2.0], [0, 20])),
        (np.int64(3), (3.0, 30)),
        (np.array([0, 2]), ([0.0, 2.0], [0, 20])),
        ((1,), (1.0, 10)),
        (None, ([[0.0, 1.0, 2.0, 3.0, 4.0]], [[0, 10, 20, 30, 40]])),
    ],
)
def test_tensor_dataset_takes_any_tensor_index(index, expected):
    index = {
        "t0": rustdl.tensor(2),
        "tlist": rustdl.tensor([4, 0]),
        "mask": rustdl.tensor([True, False, True, False, False]),
    }.get(index if isinstance(index, str) else None, index)
    x, y = _ds()[index]
    assert (x.tolist(), y.tolist()) == expected


def test_tensor_dataset_whole_dataset_idiom_and_bad_indices():
    ds = _ds()
    X, y = ds[:]
    assert X.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and y.tolist() == [0, 10, 20, 30, 40]
    x0, y0 = ds[rustdl.tensor(2)]  # PyTorch: (tensor(2.), tensor(20)), 0-d
    assert x0.shape == () and y0.shape == ()
    # numpy arrays index alike
    npds = TensorDataset(np.arange(5.0), np.arange(5) * 10)
    xs, ys = npds[1:3]
    assert xs.tolist() == [1.0, 2.0] and ys.tolist() == [10, 20]
    with pytest.raises(IndexError):  # PyTorch: IndexError
        ds[5]
    with pytest.raises(IndexError):
        ds[-6]
    with pytest.raises(IndexError):  # PyTorch: IndexError (only integers, slices, ...)
        ds[1.0]


def test_subset_indexing_as_pytorch():
    sub = Subset(_ds(), [4, 2, 0])
    pairs = lambda v: (v[0].tolist(), v[1].tolist())  # noqa: E731
    # PyTorch's values
    assert pairs(sub[1]) == (2.0, 20)
    assert pairs(sub[-1]) == (0.0, 0)
    assert pairs(sub[[0, 2]]) == ([4.0, 0.0], [40, 0])
    assert pairs(sub[0:2]) == ([4.0, 2.0], [40, 20])
    assert pairs(sub[rustdl.tensor(1)]) == (2.0, 20)
    assert [pairs(v) for v in sub.__getitems__([0, 1])] == [(4.0, 40), (2.0, 20)]
    subt = Subset(_ds(), rustdl.tensor([3, 1]))
    assert pairs(subt[0]) == (3.0, 30)
    assert pairs(subt[:]) == ([3.0, 1.0], [30, 10])


def test_concat_and_stack_dataset_indexing_as_pytorch():
    cd = ConcatDataset([_ds(), _ds()])
    assert [v.tolist() for v in cd[-1]] == [4.0, 40]
    assert [v.tolist() for v in cd[rustdl.tensor(7)]] == [2.0, 20]
    assert [v.tolist() for v in cd[np.int64(7)]] == [2.0, 20]
    with pytest.raises(ValueError):  # PyTorch: ValueError (absolute value of index ...)
        cd[-11]
    with pytest.raises(IndexError):  # PyTorch: IndexError
        cd[10]
    sd = StackDataset(_ds(), _ds())
    first, second = sd[0:2]  # PyTorch: a tuple of the datasets' slices
    assert first[0].tolist() == [0.0, 1.0] and second[1].tolist() == [0, 10]


def test_dataloader_fetches_a_batch_through_getitems():
    class Batched(Dataset):
        def __init__(self):
            self.calls = []

        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("PyTorch's loader calls __getitems__ instead")

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [i * 10 for i in idx]

    ds = Batched()
    # PyTorch: [[0, 10, 20], [30, 40]] and calls [[0, 1, 2], [3, 4]]
    assert [b.tolist() for b in DataLoader(ds, batch_size=3)] == [[0, 10, 20], [30, 40]]
    assert ds.calls == [[0, 1, 2], [3, 4]]


# ------------------------------------------------------------------------------------------
# RandomSampler: PyTorch's draw sequence. Without replacement it draws num_samples // n
# permutations and then one more for the remainder, even an empty one, so the epochs after the
# first depend on that extra draw; with replacement one index per draw; without a generator a
# seed from the global stream per epoch.
# ------------------------------------------------------------------------------------------

# (RandomSampler kwargs, PyTorch's three epochs with generator=torch.Generator().manual_seed(1))
_SEEDED_EPOCHS = [
    ({}, [[1, 5, 2, 0, 3, 4], [2, 5, 0, 1, 3, 4], [0, 4, 1, 2, 5, 3]]),
    (
        {"num_samples": 12},
        [
            [1, 5, 2, 0, 3, 4, 1, 2, 3, 5, 4, 0],
            [0, 3, 1, 5, 4, 2, 0, 4, 1, 2, 5, 3],
            [2, 0, 5, 3, 1, 4, 3, 4, 1, 5, 2, 0],
        ],
    ),
    ({"num_samples": 7}, [[1, 5, 2, 0, 3, 4, 1], [2, 5, 0, 1, 3, 4, 0], [0, 4, 1, 2, 5, 3, 0]]),
    ({"num_samples": 3}, [[1, 5, 2], [1, 2, 3], [2, 5, 0]]),
    ({"replacement": True}, [[1, 5, 0, 2, 1, 1], [5, 5, 5, 0, 2, 3], [4, 5, 1, 0, 0, 3]]),
    ({"replacement": True, "num_samples": 5}, [[1, 5, 0, 2, 1], [1, 5, 5, 5, 0], [2, 3, 4, 5, 1]]),
]


@pytest.mark.parametrize(("kwargs", "epochs"), _SEEDED_EPOCHS)
def test_random_sampler_with_a_generator_draws_as_pytorch(kwargs, epochs):
    s = RandomSampler(range(6), generator=_gen(1), **kwargs)
    assert [list(s) for _ in range(3)] == epochs


@pytest.mark.parametrize(
    ("kwargs", "epochs"),
    [
        # PyTorch after torch.manual_seed(5), no generator
        ({}, [[1, 5, 0, 4, 3, 2], [2, 3, 4, 5, 1, 0], [5, 0, 4, 3, 2, 1]]),
        ({"replacement": True}, [[1, 2, 3, 4, 4, 2], [2, 2, 4, 5, 5, 5], [5, 3, 2, 0, 2, 2]]),
        (
            {"num_samples": 12},
            [
                [1, 5, 0, 4, 3, 2, 2, 3, 0, 1, 4, 5],
                [2, 3, 4, 5, 1, 0, 5, 4, 2, 0, 1, 3],
                [5, 0, 4, 3, 2, 1, 2, 0, 3, 5, 4, 1],
            ],
        ),
    ],
)
def test_random_sampler_without_a_generator_seeds_each_epoch_from_the_global_stream(kwargs, epochs):
    rustdl.manual_seed(5)
    s = RandomSampler(range(6), **kwargs)
    assert [list(s) for _ in range(3)] == epochs
    # one draw of the global stream per epoch: PyTorch's next torch.rand(1) is 0.16439151763916016
    assert rustdl.rand(1).item() == pytest.approx(0.16439151763916016, abs=1e-7)


def test_random_sampler_draws_lazily_from_a_shared_generator():
    g = _gen(2)
    # PyTorch: [3, 4, 1, 0, 2], then randint(0, 100, (3,)) gives [60, 11, 50]
    assert list(RandomSampler(range(5), generator=g)) == [3, 4, 1, 0, 2]
    assert rustdl.randint(0, 100, (3,), generator=g).tolist() == [60, 11, 50]
    # an epoch not run to its end has not drawn the trailing permutation yet
    it = iter(RandomSampler(range(4), generator=g))
    assert [next(it) for _ in range(4)] == [1, 3, 0, 2]
    assert rustdl.randint(0, 100, (2,), generator=g).tolist() == [65, 63]


def test_shuffled_dataloader_epochs_as_pytorch():
    dl = DataLoader(list(range(8)), batch_size=8, shuffle=True, generator=_gen(3))
    # PyTorch's three epochs
    assert [[b.tolist() for b in dl] for _ in range(3)] == [
        [[1, 5, 6, 3, 4, 7, 0, 2]],
        [[0, 6, 2, 7, 3, 1, 5, 4]],
        [[3, 6, 7, 0, 1, 5, 2, 4]],
    ]
    dl = DataLoader(list(range(10)), batch_size=3, shuffle=True, drop_last=True, generator=_gen(4))
    assert [[b.tolist() for b in dl] for _ in range(3)] == [
        [[1, 3, 0], [2, 9, 6], [8, 7, 5]],
        [[8, 2, 4], [0, 9, 7], [1, 3, 6]],
        [[8, 3, 9], [1, 6, 2], [0, 4, 5]],
    ]
    dl = DataLoader(list(range(9)), batch_size=3, shuffle=True, generator=_gen(4))
    assert [[b.tolist() for b in dl] for _ in range(3)] == [
        [[4, 6, 3], [5, 8, 2], [1, 0, 7]],
        [[7, 5, 4], [0, 6, 1], [8, 3, 2]],
        [[3, 7, 6], [4, 1, 0], [8, 5, 2]],
    ]
    rustdl.manual_seed(7)
    dl = DataLoader(list(range(10)), batch_size=3, shuffle=True)
    assert [[b.tolist() for b in dl] for _ in range(3)] == [
        [[3, 2, 7], [8, 6, 1], [5, 9, 0], [4]],
        [[1, 3, 5], [2, 8, 9], [6, 7, 4], [0]],
        [[9, 2, 7], [1, 6, 0], [3, 5, 4], [8]],
    ]
    assert rustdl.rand(1).item() == pytest.approx(0.28683900833129883, abs=1e-7)


def test_random_sampler_refuses_an_empty_dataset():
    # PyTorch: ValueError("num_samples should be a positive integer value, but got num_samples=0")
    for empty in ([], range(0)):
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            RandomSampler(empty)
    with pytest.raises(ValueError, match="num_samples=0"):
        DataLoader([], shuffle=True)
    # PyTorch: ZeroDivisionError without replacement, RuntimeError with it
    with pytest.raises(ZeroDivisionError):
        list(RandomSampler([], num_samples=3))
    with pytest.raises(RuntimeError):
        list(RandomSampler([], num_samples=3, replacement=True))


# ------------------------------------------------------------------------------------------
# wildcard imports of the facades, and torchvision submodules as attributes
# ------------------------------------------------------------------------------------------


def test_star_imports_bind_pytorchs_names(tmp_path):
    src = """
    import json, sys, types, warnings
    warnings.simplefilter("error")  # a star import must not warn (about float16 or anything)

    def star(mod):
        ns = {}
        exec(f"from {mod} import *", ns)
        ns.pop("__builtins__")
        return ns

    data, nn, optim = star("torch.utils.data"), star("torch.nn"), star("torch.optim")
    F, top = star("torch.nn.functional"), star("torch")
    from torch.utils.data import *
    from torch.nn import *
    from torch.optim import *
    import torch
    ok = Linear(2, 1)(torch.zeros(1, 2)).shape == (1, 1)
    ok = ok and isinstance(Adam([torch.zeros(1, requires_grad=True)]), torch.optim.Optimizer)
    ok = ok and isinstance(TensorDataset(torch.zeros(3)), Dataset)
    print(json.dumps({
        "data": sorted(data), "nn": sorted(nn), "optim": sorted(optim), "F": sorted(F),
        "torch": sorted(top), "ok": ok, "nn_functional_is_module": isinstance(nn["functional"], types.ModuleType),
        "all_is_list": isinstance(torch.utils.data.__all__, list),
    }))
    """
    proc = run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"})
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ok"] and out["nn_functional_is_module"] and out["all_is_list"]
    # names PyTorch's `from torch.utils.data import *` binds (its __all__), which rustdl has
    assert {
        "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
        "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
        "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
        "default_convert", "get_worker_info", "random_split",
    } <= set(out["data"])  # fmt: skip
    # and nothing PyTorch's does not: rustdl's own extras stay out
    assert not {"to_tensor", "randperm", "transforms", "sampler", "WorkerInfo"} & set(out["data"])
    assert {"Adam", "AdamW", "SGD", "Optimizer", "lr_scheduler", "RMSprop", "LBFGS"} <= set(out["optim"])
    assert {"Linear", "Module", "Sequential", "Parameter", "CrossEntropyLoss", "functional", "init"} <= set(
        out["nn"]
    )
    # PyTorch's torch.nn star import binds neither F nor torch
    assert not {"F", "torch"} & set(out["nn"])
    assert {"relu", "cross_entropy", "softmax", "linear", "conv2d"} <= set(out["F"])
    top = set(out["torch"])
    assert {"Tensor", "tensor", "float32", "manual_seed", "no_grad", "randn", "Generator", "cat"} <= top
    assert not {"nn", "optim", "data", "torchcompat"} & top  # not in torch.__all__


def test_torchvision_submodules_are_attributes(tmp_path):
    src = """
    import json, types
    import torchvision
    folder = torchvision.datasets.folder  # no `import torchvision.datasets.folder` first
    import torchvision.datasets.folder as explicit
    m = torchvision.models
    print(json.dumps({
        "folder": folder is explicit and folder.ImageFolder is torchvision.datasets.ImageFolder,
        "loader": callable(folder.pil_loader),
        "resnet": isinstance(m.resnet, types.ModuleType) and callable(m.resnet.resnet18),
        "alexnet_is_builder": isinstance(m.alexnet, types.FunctionType),
        "boxes": callable(torchvision.ops.boxes.box_iou),
        "missing": hasattr(torchvision.datasets, "no_such_module"),
    }))
    """
    proc = run_compat(tmp_path, src, env={"RUSTDL_COMPAT_DEVICE": "cpu"})
    # torchvision: all reachable as attributes; models.alexnet is the builder function there too
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {
        "folder": True,
        "loader": True,
        "resnet": True,
        "alexnet_is_builder": True,
        "boxes": True,
        "missing": False,
    }
