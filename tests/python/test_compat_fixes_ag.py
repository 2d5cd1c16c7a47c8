"""Fixes found by the 2026-12-07 (second) library rounds: distributions built from Python numbers
take the default dtype, ``torch.Size`` is a pytree node, distributions and transforms print as
PyTorch prints them."""

from __future__ import annotations

import math

import pytest
import rustdl
from rustdl.distributions import (
    AffineTransform,
    Binomial,
    Categorical,
    ComposeTransform,
    ExpTransform,
    Independent,
    MixtureSameFamily,
    Normal,
)
from rustdl.distributions.utils import broadcast_all


@pytest.fixture
def float64_default():
    old = rustdl.get_default_dtype()
    rustdl.set_default_dtype(rustdl.float64)
    try:
        yield
    finally:
        rustdl.set_default_dtype(old)


def test_numbers_given_to_distributions_take_the_default_dtype(float64_default):
    assert [t.dtype for t in broadcast_all(0.3, 2)] == [rustdl.float64, rustdl.float64]
    m = Normal(0.0, 1.0)
    assert m.loc.dtype == rustdl.float64 and m.sample().dtype == rustdl.float64
    assert Categorical(rustdl.tensor([1, 2, 3])).probs.dtype == rustdl.float64
    # log C(10, 10) + 10 log 0.3, exactly in float64 (float32 parameters lose ~3e-7)
    lp = Binomial(10, 0.3).log_prob(rustdl.tensor(10.0)).item()
    assert lp == pytest.approx(10 * math.log(0.3), abs=1e-12)
    # a float tensor among the values decides
    a, b = broadcast_all(rustdl.zeros(2, dtype=rustdl.float32), 1.5)
    assert a.dtype == b.dtype == rustdl.float32 and b.tolist() == [1.5, 1.5]


def test_size_is_a_pytree_node_of_its_dims():
    from functools import singledispatch

    from rustdl import torchcompat

    torchcompat.install()
    try:
        import torch
        from torch.utils._pytree import tree_flatten, tree_flatten_with_path, tree_map, tree_unflatten

        leaves, spec = tree_flatten({"s": torch.Size([2, 3]), "t": (torch.Size([]),)})
        assert leaves == [2, 3]
        assert tree_unflatten([4, 5], spec) == {"s": (4, 5), "t": ((),)}
        assert [v for _, v in tree_flatten_with_path(torch.Size([7, 8]))[0]] == [7, 8]

        @singledispatch
        def wrap(x):
            return x

        @wrap.register(tuple)
        def _(x):
            return tree_map(wrap, x)

        # a Size mapped as a leaf recursed forever here
        assert wrap(torch.Size([2, 3])) == (2, 3)
        assert tree_map(lambda d: d * 2, torch.rand(2, 3).shape) == (4, 6)
    finally:
        torchcompat.uninstall()


def test_distributions_and_transforms_print_as_pytorch():
    from rustdl import torchcompat

    torchcompat.install()
    try:
        assert str(Independent(Normal(rustdl.zeros(2, 3), rustdl.ones(2, 3)), 1)) == (
            "Independent(Normal(loc: torch.Size([2, 3]), scale: torch.Size([2, 3])), 1)"
        )
        mix = MixtureSameFamily(Categorical(logits=rustdl.zeros(2)), Normal(rustdl.zeros(2), rustdl.ones(2)))
        assert str(mix) == (
            "MixtureSameFamily(\n  Categorical(logits: torch.Size([2])),\n"
            "  Normal(loc: torch.Size([2]), scale: torch.Size([2])))"
        )
    finally:
        torchcompat.uninstall()
    assert repr(ComposeTransform([ExpTransform(), AffineTransform(1.0, 2.0)])) == (
        "ComposeTransform(\n    ExpTransform(),\n    AffineTransform()\n)"
    )


def test_module_registration_hooks_see_and_replace_what_is_registered():
    from rustdl.nn.modules import module as M

    log, made = [], []

    def on_param(m, name, p):
        log.append(("p", type(m).__name__, name, tuple(p.shape)))
        if name == "bias":
            made.append(rustdl.nn.Parameter(p.detach().clone()))
            return made[-1]
        return None

    hooks = [
        M.register_module_parameter_registration_hook(on_param),
        M.register_module_buffer_registration_hook(lambda m, n, b: log.append(("b", type(m).__name__, n))),
        M.register_module_module_registration_hook(lambda m, n, s: log.append(("m", n, type(s).__name__))),
    ]
    try:
        net = rustdl.nn.Sequential(rustdl.nn.Linear(2, 3), rustdl.nn.BatchNorm1d(3))
    finally:
        for h in hooks:
            h.remove()
    assert log == [
        ("p", "Linear", "weight", (3, 2)), ("p", "Linear", "bias", (3,)),
        ("p", "BatchNorm1d", "weight", (3,)), ("p", "BatchNorm1d", "bias", (3,)),
        ("b", "BatchNorm1d", "running_mean"), ("b", "BatchNorm1d", "running_var"),
        ("b", "BatchNorm1d", "num_batches_tracked"), ("m", "0", "Linear"), ("m", "1", "BatchNorm1d"),
    ]  # fmt: skip
    assert net[0].bias is made[0] and net[1].bias is made[1]  # the hooks' replacements were registered
    log.clear()
    rustdl.nn.Linear(1, 1)
    assert log == []


def test_named_member_accessor_swaps_tensors_by_dotted_name():
    from rustdl.nn.utils._named_member_accessor import NamedMemberAccessor, swap_tensor

    net = rustdl.nn.Sequential(rustdl.nn.Linear(2, 2), rustdl.nn.ReLU())
    acc = NamedMemberAccessor(net)
    w = net[0].weight
    plain = rustdl.ones(2, 2)
    old = acc.swap_tensor("0.weight", plain)
    assert old is w and net[0].weight is plain  # a plain tensor stands in for the parameter
    x = rustdl.tensor([[1.0, 2.0]])
    assert net(x)[0].tolist() == pytest.approx([max(0.0, 3.0 + b) for b in net[0].bias.tolist()])
    orig, missing = acc.swap_tensors_dict({"0.weight": w, "0.extra": rustdl.zeros(1)}, allow_missing=True)
    assert orig["0.weight"] is plain and missing == ["0.extra"] and net[0].weight is w
    assert acc.check_keys(["0.weight", "nope"]) == (["0.bias"], ["nope"])
    with pytest.raises(RuntimeError, match="Missing key"):
        acc.swap_tensors_dict({"0.other": rustdl.zeros(1)})
    assert not hasattr(net[0], "other")  # undone
    with pytest.raises(KeyError):
        swap_tensor(net, "a.b", rustdl.zeros(1))


def test_functorch_probes_answer_as_for_plain_tensors_and_wrappers_are_refused():
    from rustdl.torchcompat import _functorch as ft
    from rustdl.torchcompat import _torch_C
    from rustdl.torchcompat import _torch_C_functorch as C
    from rustdl.torchcompat._torch_functorch import vmap as V

    t = rustdl.ones(3)
    assert not C.is_batchedtensor(t) and C.maybe_get_level(t) == -1 and C.maybe_get_bdim(t) == -1
    with pytest.raises(RuntimeError, match="No wrappers present"):
        C.get_unwrapped(t)
    with pytest.raises(RuntimeError, match="no functorch tensor wrappers"):
        C._add_batch_dim(t, 0, 1)
    assert _torch_C._is_alias_of(t, t[1:]) and not _torch_C._is_alias_of(t, t.clone())
    out = V.vmap_impl(lambda r: r * 2, 0, 0, "error", None, rustdl.arange(6.0).reshape(3, 2))
    assert out.tolist() == [[0.0, 2.0], [4.0, 6.0], [8.0, 10.0]]
    assert V._maybe_remove_batch_dim("f", t, 1, 3, 0) is t
    # make_functional gives functorch's module classes
    lin = rustdl.nn.Linear(2, 1)
    fmodel, params = ft.make_functional(lin)
    assert isinstance(fmodel, ft.FunctionalModule) and isinstance(fmodel, rustdl.nn.Module)
    new = [p.detach() * 0 + 1 for p in params]
    assert fmodel(new, rustdl.tensor([[2.0, 3.0]])).tolist() == [[6.0]]
    bn = rustdl.nn.BatchNorm1d(2)
    fm, ps, bs = ft.make_functional_with_buffers(bn)
    assert isinstance(fm, ft.FunctionalModuleWithBuffers) and len(bs) == 3


def test_worker_numpy_seed_and_quantized_dtype_names():
    import numpy as np
    from rustdl.data.worker import _generate_state

    # numpy's SeedSequence of [worker id, low word, high word, 0], as PyTorch's workers seed numpy
    seed = 12345678901234
    ref = np.random.SeedSequence([3, seed & 0xFFFFFFFF, seed >> 32, 0], pool_size=4).generate_state(4)
    assert _generate_state(seed, 3) == [int(v) for v in ref]
    assert repr(rustdl.qint8) == "torch.qint8" and rustdl.qint32.itemsize == 4
    with pytest.raises(RuntimeError, match="quantized"):
        _ = rustdl.quint8.is_signed
    from rustdl.nn.parameter import UninitializedBuffer, UninitializedParameter, UninitializedTensorMixin

    p, b = UninitializedParameter(), UninitializedBuffer()
    assert isinstance(p, UninitializedTensorMixin) and isinstance(b, UninitializedTensorMixin)
    p.materialize((2, 3))
    b.materialize(4)
    assert type(p) is rustdl.nn.Parameter and p.shape == (2, 3) and type(b) is rustdl.Tensor
    assert not isinstance(p, UninitializedTensorMixin)


def test_torch_functions_are_their_own_whatever_a_program_puts_on_tensor():
    from rustdl import torchcompat

    torchcompat.install()
    saved = {n: rustdl.Tensor.__dict__.get(n) for n in ("add", "tile", "set_meta")}
    try:
        import torch

        # names PyTorch's torch module does not have are not made up from Tensor's methods
        assert not hasattr(torch, "as_subclass") and not hasattr(torch, "view") and hasattr(torch, "tile")
        torch.Tensor.add = lambda self, o: "patched"
        torch.Tensor.tile = lambda self, r: "patched"
        assert torch.add(torch.ones(1), torch.ones(1)).tolist() == [2.0]
        assert torch.tile(torch.ones(1), (2,)).tolist() == [1.0, 1.0]
        for n in ("add", "tile"):
            setattr(rustdl.Tensor, n, saved[n])

        # a method a program adds to Tensor is plain Python, not handed to __torch_function__
        torch.Tensor.set_meta = lambda self, x: "ok"
        seen = []

        class A(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                seen.append(func.__name__)
                return super().__torch_function__(func, types, args, kwargs or {})

        class B(A):
            pass

        class C(A):
            pass

        b, c = torch.ones(1).as_subclass(B), torch.ones(1).as_subclass(C)
        assert b.set_meta(c) == "ok" and seen == []
        assert type(torch.tile(b, (2,))) is B and seen == ["tile"]
    finally:
        for n, v in saved.items():
            if v is None:
                if n in rustdl.Tensor.__dict__:
                    delattr(rustdl.Tensor, n)
            else:
                setattr(rustdl.Tensor, n, v)
        torchcompat.uninstall()


def test_single_process_iterator_made_from_the_loader_draws_the_base_seed():
    from rustdl.amp import OptState
    from rustdl.data import DataLoader
    from rustdl.data.dataloader import _SingleProcessDataLoaderIter

    def run(make_iter):
        rustdl.manual_seed(0)
        it = make_iter(DataLoader(list(range(6)), batch_size=2, shuffle=True))
        return [b.tolist() for b in it], rustdl.rand(1).item()

    by_iter = run(iter)
    by_class = run(_SingleProcessDataLoaderIter)
    assert by_iter == by_class and sorted(sum(by_iter[0], [])) == list(range(6))
    assert isinstance(iter(DataLoader([1, 2])), _SingleProcessDataLoaderIter)
    assert [s.value for s in OptState] == [0, 1, 2]


def test_lerp_forms_one_minus_weight_in_the_tensors_precision():
    import numpy as np

    a = rustdl.tensor([1.2345678, 1.0, 3.0])
    got = rustdl.lerp(a, rustdl.zeros(3), 0.98)
    # end - (end - start) * (1 - w), every step in float32
    f = np.float32
    ref = [f(0) - (f(0) - f(x)) * (f(1) - f(0.98)) for x in a.tolist()]
    assert got.tolist() == [float(r) for r in ref]
    with pytest.raises(RuntimeError, match="end"):
        rustdl.lerp(rustdl.ones(2), rustdl.ones(2, dtype=rustdl.float64), 0.5)
    with pytest.raises(RuntimeError, match="weight"):
        rustdl.lerp(rustdl.ones(2), rustdl.ones(2), rustdl.full((2,), 0.5, dtype=rustdl.float64))
    # a 0-d weight of another dtype is a number, as PyTorch takes it
    assert rustdl.lerp(
        rustdl.ones(2), rustdl.zeros(2), rustdl.tensor(0.75, dtype=rustdl.float64)
    ).tolist() == [
        0.25,
        0.25,
    ]


def test_squeeze_takes_several_dims_and_einsum_promotes_products_that_sum_nothing():
    x = rustdl.zeros(1, 1, 3)
    assert x.squeeze(0, 1).shape == (3,) and x.squeeze(0).shape == (1, 3)
    y = rustdl.zeros(1, 3, 1)
    y.squeeze_(0, 2)
    assert y.shape == (3,)
    a, b = rustdl.arange(4).float(), rustdl.arange(3, dtype=rustdl.float64)
    out = rustdl.einsum("i,j->ij", a, b)
    assert out.dtype == rustdl.float64 and out.tolist() == [[i * j for j in range(3)] for i in range(4)]
    assert rustdl.einsum("i,j->ij", rustdl.arange(2), rustdl.tensor([1.0, 0.5])).dtype == rustdl.float32
    with pytest.raises(RuntimeError):
        rustdl.einsum("i,i->", rustdl.ones(2), rustdl.ones(2, dtype=rustdl.float64))


def test_assigning_through_tensor_indices_wants_the_destinations_dtype():
    d = rustdl.zeros(3, 2, dtype=rustdl.float64)
    for key in ([0, 2], rustdl.tensor([0, 2]), (slice(None), [0])):
        with pytest.raises(RuntimeError, match="dtypes match"):
            d[key] = rustdl.ones(2, 2)
    with pytest.raises(RuntimeError, match="dtypes match"):
        d[d < 5] = rustdl.ones(6)
    d[d < 5] = rustdl.tensor([1.5])  # one value through a mask: a fill
    d[0:2] = rustdl.ones(2, 2)  # basic indexing copies, converting
    d[[2]] = 4.0  # a number
    assert d.tolist() == [[1.0, 1.0], [1.0, 1.0], [4.0, 4.0]]


def test_one_value_through_a_mask_is_a_checked_fill_and_uint8_masks_count_their_dims():
    t = rustdl.zeros(2, 3, dtype=rustdl.float64)
    t[0, rustdl.tensor([True, False, True])] = rustdl.tensor(5, dtype=rustdl.uint8)  # with basic items too
    t.index_put_((rustdl.tensor([[False, True, False], [False, False, False]]),), rustdl.tensor([2.0]))
    assert t.tolist() == [[5.0, 2.0, 5.0], [0.0, 0.0, 0.0]]
    u = rustdl.zeros(3, dtype=rustdl.uint8)
    mask = rustdl.tensor([True, False, True])
    for bad in (rustdl.tensor(-4.0), rustdl.tensor(300), rustdl.tensor(2**53 + 1)):
        with pytest.raises(RuntimeError, match="overflow"):
            u[mask] = bad
    u[mask] = rustdl.tensor(7)
    assert u.tolist() == [7, 0, 7]
    with pytest.raises(RuntimeError, match="dtypes match"):
        rustdl.zeros(3, dtype=rustdl.float64).index_put_(
            (rustdl.tensor([0]),), rustdl.ones(1), accumulate=True
        )
    # t[True] / t[False] copy into t[None] or do nothing, converting as a copy does
    f = rustdl.zeros(3)
    f[True] = rustdl.tensor([1, 2, 3])
    f[False] = rustdl.tensor([9, 9, 9])
    assert f.tolist() == [1.0, 2.0, 3.0]
    # a uint8 index is a mask of its own dims (more dims than the tensor: an IndexError, not a panic)
    with pytest.raises(IndexError):
        rustdl.zeros(2)[rustdl.ones(2, 2, dtype=rustdl.uint8)]
    with pytest.raises(IndexError):
        rustdl.zeros(2, 2).index_put_((rustdl.ones(2, 2, 2, dtype=rustdl.uint8),), rustdl.tensor(1.0))
    assert rustdl.arange(4.0)[rustdl.tensor([1, 0, 0, 1], dtype=rustdl.uint8)].tolist() == [0.0, 3.0]
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        rustdl.zeros(3)[rustdl.tensor([0], dtype=rustdl.int16)]


def test_loader_iterators_made_from_an_object_with_a_loaders_attributes():
    # fastai hands PyTorch's iterator classes a loader of its own (attributes, no DataLoader)
    from rustdl.data import DataLoader
    from rustdl.data.dataloader import (
        _DatasetKind,
        _MultiProcessingDataLoaderIter,
        _SingleProcessDataLoaderIter,
    )

    class Batches:
        def __iter__(self):
            yield from ([0, 1], [2, 3], [4])

    class Fake:
        dataset, _dataset_kind, _auto_collation = Batches(), _DatasetKind.Iterable, False
        _index_sampler, collate_fn, drop_last, generator = (
            range(10**6),
            staticmethod(lambda b: sum(b)),
            False,
            None,
        )
        num_workers = 2

    rustdl.manual_seed(0)
    assert list(_SingleProcessDataLoaderIter(Fake())) == [1, 5, 4]
    after_one = rustdl.rand(1).item()
    rustdl.manual_seed(0)
    assert list(_MultiProcessingDataLoaderIter(Fake())) == [1, 5, 4]
    assert rustdl.rand(1).item() == after_one  # one base-seed draw per iterator, as PyTorch's

    class MapFake(Fake):
        dataset, _dataset_kind, _auto_collation = [10, 20, 30], _DatasetKind.Map, True
        _index_sampler = [[0, 1], [2]]
        collate_fn = staticmethod(list)

    assert list(_SingleProcessDataLoaderIter(MapFake())) == [[10, 20], [30]]
    it = _MultiProcessingDataLoaderIter(DataLoader(list(range(4)), batch_size=2, num_workers=2))
    assert isinstance(it, _MultiProcessingDataLoaderIter) and [b.tolist() for b in it] == [[0, 1], [2, 3]]


def test_state_dict_metadata_survives_both_save_formats(tmp_path):
    import collections
    import io
    import zipfile

    from rustdl import _torch_format

    net = rustdl.nn.Sequential(rustdl.nn.BatchNorm1d(2))
    sd = net.state_dict()
    assert sd._metadata == collections.OrderedDict([("", {"version": 1}), ("0", {"version": 2})])
    buf = io.BytesIO()
    rustdl.save({"m": sd, "epoch": 3}, buf)  # rustdl's own format
    buf.seek(0)
    back = rustdl.load(buf)
    assert back["m"]._metadata == sd._metadata and back["epoch"] == 3
    # PyTorch's zip format: the pickle sets _metadata with BUILD, as pickle writes an OrderedDict
    raw = _torch_format.dumps(sd)
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        name = next(n for n in z.namelist() if n.endswith("data.pkl"))
        text = z.read(name)
    assert b"_metadata" in text and b"b" in text
    path = tmp_path / "sd.pt"
    path.write_bytes(raw)
    again = rustdl.load(str(path))
    assert again._metadata == sd._metadata and list(again) == list(sd)


def test_vmap_maps_over_registered_pytree_nodes():
    import rustdl.utils._pytree as pt
    from rustdl.func import vmap

    class Box:
        def __init__(self, a):
            self.a = a

    pt.register_pytree_node(Box, lambda b: ([b.a], None), lambda leaves, _: Box(leaves[0]))
    try:
        x = rustdl.arange(6.0).reshape(3, 2)
        assert vmap(lambda b: b.a.sum())(Box(x)).tolist() == [1.0, 5.0, 9.0]
        out = vmap(lambda v: Box(v * 2))(rustdl.arange(3.0))
        assert isinstance(out, Box) and out.a.tolist() == [0.0, 2.0, 4.0]
        y = vmap(lambda b, s: b.a * s, in_dims=(0, None))(Box(x[:2]), rustdl.tensor(3.0))
        assert y.tolist() == [[0.0, 3.0], [6.0, 9.0]]
    finally:
        del pt.SUPPORTED_NODES[Box]


def test_storages_copy_and_set_and_files_map(tmp_path):
    t = rustdl.empty(0)
    t.set_(rustdl.arange(6.0).untyped_storage(), 2, (2, 2), (2, 1))
    assert t.tolist() == [[2.0, 3.0], [4.0, 5.0]]
    src = rustdl.arange(6.0)
    whole = rustdl.empty(0)
    whole.set_(src.untyped_storage())
    src[0] = 9.0
    assert whole[0].item() == 9.0  # shares the storage
    a = rustdl.zeros(3)
    a.untyped_storage().copy_(rustdl.arange(3.0).untyped_storage())
    assert a.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(RuntimeError, match="size mismatch"):
        a.untyped_storage().copy_(rustdl.zeros(2).untyped_storage())
    assert isinstance(a.untyped_storage(), rustdl.StorageBase)
    # from_file: a copy, or the file's mapped memory (writes reach the file, which grows)
    f = tmp_path / "x.bin"
    import numpy as np

    np.arange(4, dtype=np.float32).tofile(f)
    assert rustdl.from_file(str(f), size=4, dtype=rustdl.float32).tolist() == [0.0, 1.0, 2.0, 3.0]
    m = rustdl.from_file(str(f), shared=True, size=4, dtype=rustdl.float32)
    m[1] = 7.0
    assert np.fromfile(f, dtype=np.float32).tolist() == [0.0, 7.0, 2.0, 3.0]
    g = tmp_path / "new.bin"
    u = rustdl.from_file(str(g), shared=True, size=3, dtype=rustdl.int64)
    u += 5
    assert g.stat().st_size == 24 and np.fromfile(g, dtype=np.int64).tolist() == [5, 5, 5]
    with pytest.raises(RuntimeError, match="fewer"):
        rustdl.from_file(str(f), size=10, dtype=rustdl.float32)
    with pytest.raises(NotImplementedError, match="int32"):
        rustdl.from_file(str(g), shared=True, size=1, dtype=rustdl.int32)


def test_rnn_base_takes_its_mode_first_and_forward_ad_level_and_assert_close_on_mappings():
    import collections.abc

    m = rustdl.nn.RNNBase("GRU", 3, 4, num_layers=2)
    assert m.mode == "GRU" and m.weight_ih_l0.shape == (12, 3) and m.weight_hh_l1.shape == (12, 4)
    assert isinstance(rustdl.nn.LSTM(3, 4), rustdl.nn.RNNBase) and rustdl.nn.LSTM(3, 4).mode == "LSTM"
    with pytest.raises(ValueError, match="Unrecognized RNN mode"):
        rustdl.nn.RNNBase("FOO", 3, 4)
    from rustdl import _forward_ad as fwad

    assert fwad._current_level == -1
    with fwad.dual_level():
        assert fwad._current_level == 0
    assert fwad._current_level == -1

    class ValuesFirst(collections.abc.Mapping):  # iterates its values, as tensordict's TensorDict
        def __init__(self, d):
            self.d = d

        def __getitem__(self, k):
            return self.d[k]

        def __iter__(self):
            return iter(self.d.values())

        def __len__(self):
            return len(self.d)

        def keys(self):
            return self.d.keys()

    from rustdl.testing import assert_close

    assert_close(ValuesFirst({"a": rustdl.ones(2)}), ValuesFirst({"a": rustdl.ones(2)}))
    with pytest.raises(AssertionError):
        assert_close(ValuesFirst({"a": rustdl.ones(2)}), ValuesFirst({"b": rustdl.ones(2)}))


@pytest.mark.parametrize("name", ["Adam", "SGD", "AdamW", "RMSprop"])
def test_optimizers_take_non_float_parameters_that_need_no_grad(name):
    # a bool mask kept as a frozen Parameter (labml's AFT) rides along untouched, as in PyTorch
    w = rustdl.nn.Parameter(rustdl.ones(2))
    mask = rustdl.nn.Parameter(rustdl.ones(2, dtype=rustdl.bool), requires_grad=False)
    opt = getattr(rustdl.optim, name)([w, mask], lr=0.1)
    w.sum().backward()
    opt.step()
    assert w.tolist() != [1.0, 1.0] and mask.tolist() == [True, True]
    opt.load_state_dict(opt.state_dict())


def test_torchvision_transforms_transforms_module():
    from rustdl.torchcompat.torchvision import transforms as T
    from rustdl.torchcompat.torchvision.transforms import transforms as TT

    assert TT.Compose is T.Compose and TT.ToTensor is T.ToTensor and "Normalize" in TT.__all__


def test_cuda_amp_spellings_take_enabled_first_and_no_device():
    import warnings

    from rustdl.torchcompat import _torch_cpu_amp, _torch_cuda_amp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _torch_cuda_amp.autocast(False) as ac:
            assert ac is None or ac is not False
        assert _torch_cuda_amp.autocast(True).device_type == "cuda"
        assert _torch_cpu_amp.autocast().device_type == "cpu"
        with pytest.raises(TypeError):
            _torch_cuda_amp.GradScaler(device="cpu")
        s = _torch_cpu_amp.GradScaler()
        assert s.is_enabled() and s.get_scale() == 65536.0
        assert isinstance(s, rustdl.amp.GradScaler)
    with pytest.warns(FutureWarning, match=r"torch.amp.autocast\('cuda'"):
        _torch_cuda_amp.autocast()
    assert _torch_cuda_amp.OptState.STEPPED.value == 2


def test_vmap_gives_returned_tensor_collections_the_mapped_batch_dim():
    import rustdl.utils._pytree as pt
    from rustdl.func import vmap

    class Collection:  # stands for tensordict's TensorDict: a pytree node with a batch size
        __module__ = "tensordict._td"

        def __init__(self, x, batch_size):
            self.x, self.batch_size = x, tuple(batch_size)

    pt.register_pytree_node(
        Collection, lambda c: ([c.x], c.batch_size), lambda leaves, bs: Collection(leaves[0], bs)
    )
    try:
        out = vmap(lambda v: Collection(v * 2, []))(rustdl.arange(6.0).reshape(3, 2))
        assert out.batch_size == (3,) and out.x.shape == (3, 2)
        out = vmap(lambda v: {"c": Collection(v, [2])}, out_dims=1)(rustdl.zeros(4, 2))
        assert out["c"].batch_size == (2, 4) and out["c"].x.shape == (2, 4)
    finally:
        del pt.SUPPORTED_NODES[Collection]


def test_hostile_round_fixes(tmp_path):
    import numpy as np
    from rustdl.nn.modules import module as M
    from rustdl.nn.utils._named_member_accessor import _MISSING, NamedMemberAccessor, set_tensor
    from rustdl.utils.tensorboard import SummaryWriter

    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="int64"):
            w.add_scalar("t", 1.0, 2**70)  # an 11-byte varint made the file unreadable
        w.add_scalar("t", 1e300, 1)  # beyond float32: written as inf, as protobuf does
        w.add_embedding(rustdl.ones(2, 2), tag='a"b')
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "a\\"b:00000"' in config
    np.array([1.5, -2.0], dtype=np.float16).tofile(tmp_path / "h.bin")
    np.array([1.5, -2.0], dtype=np.float32).tofile(tmp_path / "f.bin")
    assert rustdl.from_file(str(tmp_path / "f.bin"), False, 2).tolist() == [1.5, -2.0]  # default dtype
    assert rustdl.from_file(str(tmp_path / "h.bin"), size=2, dtype=rustdl.float16).tolist() == [1.5, -2.0]
    assert rustdl.UntypedStorage.from_file(str(tmp_path / "f.bin"), False, 0).nbytes() == 0
    t = rustdl.zeros(3, dtype=rustdl.int64)
    with pytest.raises(RuntimeError, match="overflow"):
        t[rustdl.tensor([True, False, True])] = rustdl.tensor(float("nan"))
    assert t.tolist() == [0, 0, 0]
    lin = rustdl.nn.Linear(2, 2)
    NamedMemberAccessor(lin).swap_tensor("weight", _MISSING)  # the marker removes it
    assert [n for n, _ in lin.named_parameters()] == ["bias"]
    with pytest.raises(TypeError):
        set_tensor(lin, "bias", _MISSING)
    h = M.register_module_parameter_registration_hook(lambda m, n, p: 5)
    try:
        m = rustdl.nn.Module()
        m.register_parameter("p", None)  # no hook for None, as PyTorch's
    finally:
        h.remove()
    assert dict(m._parameters) == {"p": None}
    with pytest.raises(RuntimeError, match="storage of type"):
        rustdl.zeros(1, dtype=rustdl.int32).set_(rustdl.arange(3.0).storage())
    import rustdl.utils._pytree as pt
    from rustdl.func import vmap

    class Q:
        def __init__(self, x):
            self.x = x

    pt.register_pytree_node(Q, lambda q: [q.x, q.x], lambda leaves, _: Q(leaves[0]))  # malformed
    try:
        with pytest.raises(TypeError, match="children, context"):
            vmap(lambda q: q.x.sum())(Q(rustdl.ones(3, 2)))
    finally:
        del pt.SUPPORTED_NODES[Q]


def test_squeeze_refuses_a_dim_twice_and_from_file_a_missing_file(tmp_path):
    x = rustdl.zeros(1, 3)
    for args in ((0, 0), ((0, -2),)):
        with pytest.raises(RuntimeError, match="appears multiple times"):
            x.squeeze(*args)
    with pytest.raises(RuntimeError, match="unable to open"):
        rustdl.from_file(str(tmp_path / "missing.bin"), size=2)
    made = rustdl.from_file(str(tmp_path / "made.bin"), shared=True, size=2, dtype=rustdl.float64)
    assert made.tolist() == [0.0, 0.0] and (tmp_path / "made.bin").stat().st_size == 16


def test_torch_storage_module_names_the_storage_classes():
    from rustdl import torchcompat

    torchcompat.install()
    try:
        from torch.storage import TypedStorage, UntypedStorage

        assert UntypedStorage is rustdl.UntypedStorage and TypedStorage is rustdl.TypedStorage
        assert isinstance(rustdl.ones(2).untyped_storage(), UntypedStorage)
    finally:
        torchcompat.uninstall()


def test_submodules_named_like_their_packages_functions():
    from rustdl import torchcompat

    torchcompat.install()
    try:
        import torch
        from torch.nn.utils.spectral_norm import SpectralNorm, spectral_norm  # noqa: F401
        from torch.nn.utils.weight_norm import weight_norm  # noqa: F401

        # importing the module keeps the package's attribute the function, as in PyTorch
        assert callable(torch.nn.utils.spectral_norm) and callable(torch.nn.utils.weight_norm)
        m = torch.nn.utils.spectral_norm(torch.nn.Linear(3, 3))
        assert sorted(n for n, _ in m.named_parameters()) == ["bias", "weight_orig"]
        import torch.backends.opt_einsum as oe

        assert oe.is_available() == (oe.get_opt_einsum() is not None) and oe.enabled == oe.is_available()
    finally:
        torchcompat.uninstall()
