"""PyTorch behaviour that third-party programs and libraries depend on, found by running them
through rustdl next to PyTorch (session of 2026-12-06, evening).

References are closed forms, numpy and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import rustdl
from conftest import compat_report, run_compat

F = rustdl.nn.functional


def test_package_metadata_of_the_facades(tmp_path):
    # libraries check requirements with importlib.metadata, not torch.__version__
    proc = run_compat(
        tmp_path,
        """
        import importlib.metadata as md, json, torch, torchvision
        names = [d.metadata["Name"] for d in md.distributions()]
        print(json.dumps({"torch": md.version("torch"), "vision": md.version("torchvision"),
                          "attr": str(torch.__version__), "listed": "torch" in names,
                          "vattr": torchvision.__version__}))
        """,
    )
    r = compat_report(proc)
    assert r["torch"] == r["attr"] and r["vision"] == r["vattr"] and r["listed"]
    assert r["torch"].startswith("2.") and "rustdl" in r["torch"]
    assert int(r["vision"].split(".")[1]) >= 13  # the weights API level scripts check for


def test_graph_library_probes_at_import(tmp_path):
    # what torch_geometric reads while it is imported: torch.__config__, torch.ops.aten tables,
    # compressed-sparse layouts, torch.jit._overload, torch._tensor_str's printer names
    proc = run_compat(
        tmp_path,
        """
        import json, torch
        from torch._tensor_str import PRINT_OPTS, _tensor_str, _add_suffixes
        from torch.jit import _overload
        aten = torch.ops.aten
        table = {aten.clone.default: "c", aten.add.Tensor: "a"}
        x = torch.tensor([[1.5, -2.0], [3.25, 4.0]])
        @_overload
        def f(a: int) -> int: ...
        def f(a):
            return a + 1
        try:
            torch.ops.my_ext.op
            ns = "no error"
        except AttributeError as e:
            ns = "AttributeError"
        try:
            aten.definitely_not_an_op(x)
            missing = "no error"
        except NotImplementedError:
            missing = "NotImplementedError"
        print(json.dumps({
            "mkl_off": "USE_MKL=OFF" in torch.__config__.show(),
            "threads": "threads" in torch.__config__.parallel_info(),
            "table": table[aten.add.Tensor] + table[aten.clone.default],
            "add": aten.add.Tensor(x, x).tolist(), "add_": aten.mul_(x.clone(), 2).tolist(),
            "copy": aten._to_copy.default(x, dtype=torch.float64).dtype == torch.float64,
            "layouts": [repr(l) for l in (torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr)],
            "opts": [PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems],
            "str": _tensor_str(x, 0), "suff": _add_suffixes("[1]", ["a=1"], 2, True),
            "ns": ns, "missing": missing, "f": f(2),
        }))
        """,
    )
    r = compat_report(proc)
    assert r["mkl_off"] and r["threads"] and r["table"] == "ac"
    assert r["add"] == [[3.0, -4.0], [6.5, 8.0]] and r["add_"] == r["add"] and r["copy"]
    assert r["layouts"] == ["torch.sparse_csr", "torch.sparse_csc", "torch.sparse_bsr"]
    assert r["opts"] == [4, 1000, 3]
    assert r["str"] == "[[ 1.5000, -2.0000],\n [ 3.2500,  4.0000]]"
    assert r["suff"] == "[1],\n  a=1)"
    assert r["ns"] == "AttributeError" and r["missing"] == "NotImplementedError" and r["f"] == 3


def test_datapipes_chain_by_name_and_load():
    from rustdl.data import DataLoader, IterDataPipe, functional_datapipe
    from rustdl.data.datapipes.iter import IterableWrapper
    from rustdl.data.datapipes.map import SequenceWrapper

    dp = IterableWrapper(range(10)).map(lambda v: v * v).filter(lambda v: v % 2 == 0).batch(2)
    assert list(dp) == [[0, 4], [16, 36], [64]]
    assert list(IterableWrapper(range(5)).batch(2, drop_last=True)) == [[0, 1], [2, 3]]
    assert list(IterableWrapper([[1, 2], [3]]).unbatch()) == [1, 2, 3]
    assert list(IterableWrapper(range(3)).zip(IterableWrapper("ab"))) == [(0, "a"), (1, "b")]
    assert list(IterableWrapper(range(2)).concat(IterableWrapper(range(2)))) == [0, 1, 0, 1]
    assert list(IterableWrapper("xyz").enumerate(1)) == [(1, "x"), (2, "y"), (3, "z")]
    assert list(IterableWrapper(range(100)).header(3)) == [0, 1, 2]
    assert list(IterableWrapper([(1, 2), (3, 4)]).map(lambda v: -v, input_col=1)) == [(1, -2), (3, -4)]
    shuffled = list(IterableWrapper(range(50)).shuffle(buffer_size=8))
    assert sorted(shuffled) == list(range(50)) and shuffled != list(range(50))

    @functional_datapipe("times_three")
    class Times(IterDataPipe):
        def __init__(self, source, k=3):
            self.source, self.k = source, k

        def __iter__(self):
            return (v * self.k for v in self.source)

    assert list(IterableWrapper([1, 2]).times_three()) == [3, 6]
    batches = [b.tolist() for b in DataLoader(IterableWrapper(range(6)).map(float), batch_size=4)]
    assert batches == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0]]
    m = SequenceWrapper([1, 2, 3, 4, 5]).map(lambda v: v * 10).batch(2)
    assert len(m) == 3 and m[1] == [30, 40] and m[2] == [50]
    assert sorted(SequenceWrapper(list(range(6))).shuffle()) == list(range(6))
    with pytest.raises(AttributeError, match="no_such_stage"):
        IterableWrapper([1]).no_such_stage()


def test_futures_complete_and_chain():
    from rustdl.futures import Future, collect_all, wait_all

    f = Future()
    seen = []
    f.add_done_callback(lambda fut: seen.append(fut.value()))
    g = f.then(lambda fut: fut.value() * 2)
    assert not f.done() and not g.done()
    f.set_result(21)
    assert seen == [21] and g.wait() == 42
    with pytest.raises(RuntimeError, match="already completed"):
        f.set_result(1)
    bad = Future()
    chained = bad.then(lambda fut: fut.value())
    bad.set_exception(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        chained.wait()
    a, b = Future(), Future()
    both = collect_all([a, b])
    a.set_result(1)
    assert not both.done()
    b.set_result(2)
    assert [x.value() for x in both.wait()] == [1, 2] and wait_all([a, b]) == [1, 2]
    assert rustdl.jit.wait(rustdl.jit.fork(lambda v: v + 1, 4)) == 5


@pytest.mark.parametrize(
    "case",
    [
        "unfold2",  # windows of windows (kornia's bilateral blur, morphology, patch extraction)
        "unfold_step",
        "strided_then_unfold",
        "permuted",
        "expand_unfold",
    ],
)
def test_gradient_through_views_of_overlapping_views(case, device):
    # the output reads input elements through two layers of aliasing windows; each output
    # element's gradient must reach the input element it reads exactly once
    idx = np.arange(16).reshape(4, 4)
    build = {
        "unfold2": lambda t: t.unfold(0, 3, 1).unfold(1, 3, 1),
        "unfold_step": lambda t: t.unfold(0, 3, 1).unfold(1, 2, 2),
        "strided_then_unfold": lambda t: t.as_strided((2, 4, 3), (4, 1, 4)).unfold(1, 3, 1),
        "permuted": lambda t: t.unfold(0, 3, 1).permute(1, 0, 2).unfold(0, 3, 1),
        "expand_unfold": lambda t: t.expand(2, 4, 4).unfold(2, 2, 1),
    }[case]
    # which input element each output element reads: the same view of a tensor of indices
    read = build(rustdl.tensor(idx.astype(np.float64))).numpy().astype(np.int64)
    w = np.random.default_rng(0).standard_normal(read.shape)
    want = np.zeros(16)
    np.add.at(want, read.reshape(-1), w.reshape(-1))
    x = rustdl.tensor(np.arange(16.0, dtype=np.float32).reshape(4, 4), device=device, requires_grad=True)
    (build(x) * rustdl.tensor(w.astype(np.float32), device=device)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy().reshape(-1), want, rtol=1e-5, atol=1e-5)


def test_shape_changing_inplace_ops_under_no_grad_keep_history(device):
    # a shape change is no computation: the tensor's gradient still reaches its inputs
    ops = {
        "squeeze_": lambda t: t.squeeze_(),
        "unsqueeze_": lambda t: t.unsqueeze_(0),
        "t_": lambda t: t.t_(),
        "transpose_": lambda t: t.transpose_(0, 1),
    }
    for op, change in ops.items():
        x = rustdl.ones(2, 3, device=device, requires_grad=True)
        y = x * 2
        with rustdl.no_grad():
            change(y)
        assert y.requires_grad and y.grad_fn is not None, op
        w = np.arange(6.0, dtype=np.float32).reshape(tuple(y.shape))
        (y * rustdl.tensor(w, device=device)).sum().backward()
        want = 2 * (w.reshape(3, 2).T if op in ("t_", "transpose_") else w.reshape(2, 3))
        np.testing.assert_allclose(x.grad.cpu().numpy(), want, err_msg=op)
    # a leaf stays a leaf (not a view of its former self), so later in-place ops work
    w_leaf = rustdl.ones(2, 3, device=device, requires_grad=True)
    with rustdl.no_grad():
        w_leaf.t_()
        w_leaf.abs_()
    assert w_leaf.is_leaf and not w_leaf._is_view() and tuple(w_leaf.shape) == (3, 2)


def test_identity_transposes_are_views_with_their_own_node(device):
    # hooks on t() of a vector / transpose(0, 0) of a scalar see that view's gradient only
    x = rustdl.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    v = x.t()
    assert not v.is_leaf and v.grad_fn is not None
    v.register_hook(lambda g: g * 10)
    (v.sum() + x.sum()).backward()
    assert x.grad.cpu().tolist() == [11.0, 11.0, 11.0]
    for make in (
        lambda s: s.transpose(0, 0),
        lambda s: s.movedim(0, 0),
        lambda s: s.t(),
        lambda s: s.swapaxes(0, -1),
    ):
        s = rustdl.tensor(2.0, device=device, requires_grad=True)
        w = make(s)
        w.register_hook(lambda g: g * 100)
        (s * 3 + w).backward()
        assert s.grad.item() == 103.0


@pytest.mark.parametrize(
    "call",
    [
        lambda i, f: i.lerp_(rustdl.tensor([5, 5, 5]), 0.5),
        lambda i, f: i.index_add_(0, rustdl.tensor([0]), rustdl.tensor([5.7])),
        lambda i, f: i.scatter_add_(0, rustdl.tensor([1]), rustdl.tensor([7.9])),
        lambda i, f: i.scatter_(0, rustdl.tensor([1]), rustdl.tensor([7.9])),
        lambda i, f: i.index_put_((rustdl.tensor([2]),), rustdl.tensor([8.6])),
        lambda i, f: i.masked_scatter_(rustdl.tensor([True, False, False]), rustdl.tensor([1.5])),
        lambda i, f: i.put_(rustdl.tensor([0]), rustdl.tensor([1.5])),
        lambda i, f: i.clamp_min_(2.5),
        lambda i, f: i.clamp_(0.5, 2.5),
        lambda i, f: F.silu(i, inplace=True),
        lambda i, f: F.hardswish(i, inplace=True),
        lambda i, f: F.mish(i, inplace=True),
        lambda i, f: i.exponential_(),
        lambda i, f: f.index_add_(0, rustdl.tensor([0]), rustdl.tensor([5.7], dtype=rustdl.float64)),
        lambda i, f: f.lerp_(rustdl.ones(3, dtype=rustdl.float64), 0.5),
        lambda i, f: f.index_copy_(0, rustdl.tensor([0]), rustdl.tensor([5.7], dtype=rustdl.float64)),
    ],
)
def test_inplace_ops_refuse_results_their_dtype_cannot_hold(call):
    # PyTorch raises for each; writing would truncate (or, for lerp_, silently do nothing)
    i, f = rustdl.tensor([1, 2, 3]), rustdl.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError):
        call(i, f)
    assert i.tolist() == [1, 2, 3] and f.tolist() == [1.0, 2.0, 3.0]
    # integer bounds and same-dtype sources still work
    assert rustdl.tensor([1, 5]).clamp_(2, 4).tolist() == [2, 4]
    assert rustdl.tensor([1, 2]).index_add_(0, rustdl.tensor([1]), rustdl.tensor([7])).tolist() == [1, 9]


def test_library_facing_names(tmp_path):
    # names kornia, torch_geometric and Lightning read from torch, checked against PyTorch's
    # documented behaviour
    proc = run_compat(
        tmp_path,
        """
        import json, pickle, torch, torch.nn as nn, torch.nn.functional as F
        from torch.nn.modules.loss import _Loss, _WeightedLoss
        from torch.utils._pytree import SUPPORTED_NODES
        class A:
            conv = torch.conv2d
            act = torch.tanh
            def f(self, x, w):
                return self.conv(x, weight=w)
        class L(_Loss):
            def __init__(self):
                super().__init__(None, None, "sum")
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.l = nn.Linear(2, 2)
            def __setstate__(self, d):
                super().__setstate__(d)
        errs = {}
        for name, fn in {"check": lambda: torch._check(False, lambda: "m"),
                         "check_value": lambda: torch._check_value(False),
                         "check_tensor": lambda: torch._check(torch.tensor(True)),
                         "assert_async": lambda: torch._assert_async(torch.tensor(False))}.items():
            try:
                fn()
                errs[name] = None
            except Exception as e:
                errs[name] = type(e).__name__
        w = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
        F.normalize(w, dim=-1, out=w)
        x = torch.arange(6.0, requires_grad=True)
        seg = torch._segment_reduce(x, "sum", offsets=torch.tensor([0, 2, 2, 6]))
        seg.sum().backward()
        print(json.dumps({
            "self": torch.torch is torch, "uint": [repr(torch.uint16), torch.uint16 == torch.int16,
            len({torch.uint16, torch.uint32, torch.uint64, torch.complex32})],
            "is_complex": torch.float32.is_complex, "symint": isinstance(3, torch.SymInt),
            "errs": errs, "bind": list(A().f(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2)).shape),
            "act": A().act(torch.zeros(1)).tolist(), "same": torch.add is torch.add,
            "pickled": pickle.loads(pickle.dumps(torch.conv2d)) is torch.conv2d,
            "loss": L().reduction, "pytree": list(SUPPORTED_NODES[list].flatten_fn([1, 2])[0]),
            "setstate": type(pickle.loads(pickle.dumps(M())).l).__name__,
            "vars": "ReLU" in vars(torch.nn) and "Adam" in vars(torch.optim),
            "normalize": w.tolist(), "seg": seg.tolist(), "seg_grad": x.grad.tolist(),
            "csr": torch._convert_indices_from_coo_to_csr(torch.tensor([0, 0, 1, 3, 3]), 4).tolist(),
            "functorch": torch._C._are_functorch_transforms_active(),
        }))
        """,
    )
    r = compat_report(proc)
    assert r["self"] and r["uint"] == ["torch.uint16", False, 4] and r["is_complex"] is False
    assert r["symint"] is False and r["functorch"] is False
    assert r["errs"] == {"check": "RuntimeError", "check_value": "ValueError", "check_tensor": "TypeError",
                         "assert_async": "RuntimeError"}  # fmt: skip
    assert r["bind"] == [1, 1, 2, 2] and r["act"] == [0.0] and r["same"] and r["pickled"]
    assert r["loss"] == "sum" and r["pytree"] == [1, 2] and r["setstate"] == "Linear" and r["vars"]
    np.testing.assert_allclose(r["normalize"], [[0.6, 0.8], [1.0, 0.0]], rtol=1e-6)
    assert r["seg"] == [1.0, 0.0, 14.0] and r["seg_grad"] == [1.0] * 6
    assert r["csr"] == [0, 2, 3, 3, 5]


def test_checkpoints_with_sets_counters_dtypes_devices_stay_in_pytorchs_format(tmp_path):
    import collections
    import zipfile

    proc = run_compat(
        tmp_path,
        """
        import collections, json, torch
        torch.save({"tags": {"a", "b"}, "c": collections.Counter({3: 2}), "dt": torch.float64,
                    "dev": torch.device("cpu"), "size": torch.ones(2, 3).shape, "b": b"\\x00\\xff",
                    "w": torch.arange(3.0)}, "ck.pt")
        o = torch.load("ck.pt")
        print(json.dumps({"tags": sorted(o["tags"]), "c": type(o["c"]).__name__, "dt": str(o["dt"]),
                          "dev": str(o["dev"]), "size": list(o["size"]), "b": list(o["b"]), "w": o["w"].tolist()}))
        """,
    )
    r = compat_report(proc)
    assert r == {"tags": ["a", "b"], "c": "Counter", "dt": "torch.float64", "dev": "cpu", "size": [2, 3],
                 "b": [0, 255], "w": [0.0, 1.0, 2.0]}  # fmt: skip
    # PyTorch's zip layout: a pickle and one record per storage
    names = zipfile.ZipFile(tmp_path / "ck.pt").namelist()
    assert "archive/data.pkl" in names and "archive/data/0" in names
    del collections


def test_scheduler_states_use_pytorchs_keys():
    from rustdl.optim.swa_utils import SWALR

    p = rustdl.nn.Parameter(rustdl.ones(1))
    s = SWALR(rustdl.optim.SGD([p], lr=1.0), swa_lr=0.1, anneal_epochs=3, anneal_strategy="linear")
    state = s.state_dict()
    assert state["_anneal_strategy"] == "linear" and not any(callable(v) for v in state.values())
    # a cos scheduler given a linear state anneals linearly: factors 1/3, 2/3 of the way
    t = SWALR(rustdl.optim.SGD([p], lr=1.0), swa_lr=0.1, anneal_epochs=3, anneal_strategy="cos")
    t.load_state_dict(state)
    assert t.anneal_func(0.5) == 0.5
    c = rustdl.optim.lr_scheduler.CyclicLR(rustdl.optim.SGD([p], lr=0.1, momentum=0.9), 0.01, 0.1)
    assert c.state_dict()["_scale_fn_custom"] is None


def test_flop_counter_counts_products_and_convolutions_per_module():
    from rustdl.utils.flop_counter import FlopCounterMode

    nn = rustdl.nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    x = rustdl.randn(2, 3, 6, 6)
    with FlopCounterMode(display=False) as fc:
        model(x)
        rustdl.randn(4, 5, 6).bmm(rustdl.randn(4, 6, 7))
    conv = 2 * 2 * 36 * 8 * 3 * 9  # batch · positions · C_out · C_in · kernel, two FLOPs each
    linear = 2 * 2 * 288 * 10
    bmm = 2 * 4 * 5 * 6 * 7
    assert fc.get_total_flops() == conv + linear + bmm
    counts = fc.get_flop_counts()
    assert sum(counts["Sequential.0"].values()) == conv and sum(counts["Sequential.2"].values()) == linear
    assert sum(counts["Sequential"].values()) == conv + linear
    # nothing is counted once the mode is left, and the wrapped entry points are restored
    with FlopCounterMode(display=False) as again:
        pass
    model(x)
    assert again.get_total_flops() == 0


@pytest.mark.parametrize("initial", [None, 10.0])
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "amax", "min", "prod"])
def test_segment_reduce_matches_segment_by_segment(reduce, initial):
    data = np.arange(6.0)
    bounds = [0, 2, 2, 6]
    out = rustdl._segment_reduce(
        rustdl.tensor(data), reduce, offsets=rustdl.tensor(bounds), initial=initial
    ).tolist()
    for k in range(3):
        seg = list(data[bounds[k] : bounds[k + 1]])
        if initial is None and not seg:
            want = {
                "sum": 0.0,
                "mean": float("nan"),
                "max": -np.inf,
                "amax": -np.inf,
                "min": np.inf,
                "prod": 1.0,
            }[reduce]
        elif reduce == "mean":
            want = ((initial or 0.0) + sum(seg)) / max(len(seg), 1)
        else:
            vals = seg + ([initial] if initial is not None else [])
            want = {"sum": sum, "max": max, "amax": max, "min": min, "prod": np.prod}[reduce](vals)
        np.testing.assert_equal(out[k], want)


@pytest.mark.parametrize("shape", [(2, 3), (3, 2), (1, 4), (2, 5, 3), (2, 3, 5)])
def test_lu_of_rectangular_matrices(shape):
    a = np.random.default_rng(1).standard_normal(shape)
    A = rustdl.tensor(a)
    P, L, U = rustdl.linalg.lu(A)
    m, n = shape[-2:]
    k = min(m, n)
    assert tuple(L.shape[-2:]) == (m, k) and tuple(U.shape[-2:]) == (k, n)
    np.testing.assert_allclose((P @ L @ U).numpy(), a, atol=1e-12)
    assert np.allclose(np.triu(L.numpy(), 1), 0) and np.allclose(
        np.diagonal(L.numpy(), axis1=-2, axis2=-1), 1
    )
    assert np.allclose(np.tril(U.numpy(), -1), 0)
    # partial pivoting: every multiplier is at most 1 in size
    assert np.abs(np.tril(L.numpy(), -1)).max() <= 1.0
    LU, piv = rustdl.linalg.lu_factor(A)
    assert tuple(piv.shape) == (*shape[:-2], k) and tuple(LU.shape) == shape
    P2, L2, U2 = rustdl.lu_unpack(LU, piv)
    np.testing.assert_allclose(P2.numpy(), P.numpy())
    np.testing.assert_allclose(L2.numpy(), L.numpy())
    np.testing.assert_allclose(U2.numpy(), U.numpy())


def test_result_types_rebuild_from_an_iterable_and_print_as_pytorchs():
    r = rustdl.linalg.eigh(rustdl.eye(2))
    again = type(r)(list(r))
    assert again.eigenvalues.tolist() == [1.0, 1.0] and type(again) is type(r)
    m = rustdl.max(rustdl.tensor([[1.0, 5.0], [3.0, 2.0]]), 1)
    assert type(m)(list(m)).indices.tolist() == [1, 0]
    text = repr(rustdl.linalg.lu_factor(rustdl.tensor([[1.0, 2.0], [4.0, 5.0]])))
    assert text.startswith("rustdl.return_types.linalg_lu_factor(\nLU=") and "\npivots=" in text


def test_writes_into_empty_expanded_tensors_are_no_ops(device):
    z = rustdl.zeros(0, device=device).expand(2, 0)
    z[rustdl.zeros((2, 0), dtype=rustdl.bool, device=device)] = 1.0
    z.add_(1)
    assert tuple(z.shape) == (2, 0)
    with pytest.raises(RuntimeError, match="single memory location"):
        rustdl.zeros(1, device=device).expand(3).add_(1)


def test_pretrained_weights_load_from_the_hub_cache_and_presets_follow_torchvision(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json, os, torch, torchvision
        os.environ["TORCH_HOME"] = os.path.abspath("th")
        W = torchvision.models.ResNet18_Weights
        os.makedirs("th/hub/checkpoints")
        torch.manual_seed(0)
        src = torchvision.models.resnet18(weights=None).eval()
        torch.save(src.state_dict(), "th/hub/checkpoints/" + W.DEFAULT.url.rsplit("/", 1)[-1])
        x = torch.randn(1, 3, 64, 64)
        got = torchvision.models.resnet18(weights=W.DEFAULT).eval()
        legacy = torchvision.models.resnet18(pretrained=True).eval()
        try:
            torchvision.models.resnet18(weights="DEFAULT", num_classes=10)
            err = None
        except ValueError as e:
            err = str(e)
        eff = torchvision.models.EfficientNet_B0_Weights.DEFAULT.transforms()
        r50 = torchvision.models.ResNet50_Weights
        print(json.dumps({
            "same": torch.equal(src(x), got(x)) and torch.equal(src(x), legacy(x)), "err": err,
            "eff": [str(eff.interpolation), eff.crop_size, eff.resize_size],
            "r50": [r50.DEFAULT.name, r50.DEFAULT.transforms().resize_size],
            "swag": torchvision.models.ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1.transforms().crop_size,
        }))
        """,
    )
    r = compat_report(proc)
    assert r["same"] and r["err"] == "The parameter 'num_classes' expected value 1000 but got 10 instead."
    assert r["eff"] == ["InterpolationMode.BICUBIC", [224], [256]]
    assert r["r50"] == ["IMAGENET1K_V2", [232]] and r["swag"] == [384]


def test_hooks_of_one_gradient_share_one_object(device):
    # captum's LRP passes a value between two hooks of a tensor as an attribute of the gradient
    x = rustdl.ones(3, device=device, requires_grad=True)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g))

    def tagging(g):
        seen.append(g)
        g.tag = "set"
        return g * 10

    y.register_hook(tagging)
    y.register_hook(lambda g: seen.append(g))
    y.sum().backward()
    assert seen[0] is seen[1] and getattr(seen[0], "tag", None) == "set"
    assert seen[2] is not seen[1] and seen[2].cpu().tolist() == [10.0] * 3
    assert x.grad.cpu().tolist() == [20.0] * 3


def test_grad_to_an_intermediate_leaves_the_graph_below_it(device):
    x = rustdl.randn(2, 3, device=device, requires_grad=True)
    h = x.exp()
    (g,) = rustdl.autograd.grad(h.exp().sum(), h)
    np.testing.assert_allclose(g.cpu().numpy(), h.exp().detach().cpu().numpy(), rtol=1e-6)
    # the graph from h down to x was not run, so it can still be used
    (gx,) = rustdl.autograd.grad(h.sum(), x)
    np.testing.assert_allclose(gx.cpu().numpy(), h.detach().cpu().numpy(), rtol=1e-6)
    # with two targets, the upper one's node runs to reach the lower one
    a = rustdl.ones(2, device=device, requires_grad=True)
    b = a * 3
    gb, ga = rustdl.autograd.grad((b * b).sum(), [b, a])
    assert gb.cpu().tolist() == [6.0, 6.0] and ga.cpu().tolist() == [18.0, 18.0]


def test_kthvalue_takes_tensor_and_numpy_k_and_future_is_exported():
    v = rustdl.tensor([[0.5, -1.0, 2.0, 0.1, 3.0]])
    assert rustdl.kthvalue(v, rustdl.tensor(2)).values.tolist() == [pytest.approx(0.1)]
    assert v.kthvalue(np.int64(2)).values.tolist() == [pytest.approx(0.1)]
    assert not isinstance(rustdl.zeros(2), rustdl.Future) and rustdl.Future is rustdl.futures.Future


def test_custom_optimizer_state_loads_as_saved():
    class Opt(rustdl.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

        def step(self):
            for g in self.param_groups:
                for p in g["params"]:
                    st = self.state[p]
                    st["step"] = st.get("step", 0) + 1
                    st["row"] = p.grad.pow(2).mean(0)  # factored state, not shaped like p
                    p.data.add_(p.grad, alpha=-g["lr"] / (1 - 0.9 ** st["step"]))

    p = rustdl.nn.Parameter(rustdl.ones(2, 3))
    p.grad = rustdl.ones(2, 3)
    first = Opt([p])
    first.step()
    again = Opt([p])
    again.load_state_dict(first.state_dict())
    assert type(again.state[p]["step"]) is int and tuple(again.state[p]["row"].shape) == (3,)
    again.step()
    np.testing.assert_allclose(p.detach().numpy(), 1 - 0.1 / 0.1 - 0.1 / 0.19, rtol=1e-6)
    # rustdl's own optimizers keep their step counts as 0-d tensors
    adam = rustdl.optim.Adam([p])
    adam.step()
    other = rustdl.optim.Adam([p])
    other.load_state_dict(adam.state_dict())
    assert float(other.state[p]["step"]) == 1.0


def test_scatter_and_gather_split_and_join_along_dim():
    from rustdl.nn.parallel import gather, scatter

    x = rustdl.arange(12.0).reshape(6, 2)
    parts = scatter((x, "tag", {"k": x}), ["cpu", "cpu"])
    assert len(parts) == 2 and parts[0][1] == "tag"
    assert parts[0][0].tolist() == x[:3].tolist() and parts[1][2]["k"].tolist() == x[3:].tolist()
    assert gather([parts[0][0], parts[1][0]], "cpu").tolist() == x.tolist()


def test_unique_of_a_tensor_that_requires_grad_refuses_backward():
    x = rustdl.tensor([3.0, 1.0, 3.0, 2.0], requires_grad=True)
    for u in (rustdl.unique(x), rustdl.unique_consecutive(x), rustdl.unique(x, return_counts=True)[0]):
        assert u.requires_grad
        with pytest.raises(NotImplementedError, match="derivative"):
            u.sum().backward()
    assert rustdl.unique(x).tolist() == [1.0, 2.0, 3.0]
    with rustdl.no_grad():
        assert not rustdl.unique(x).requires_grad


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 3), (0, 2, 2), (0, 3, 2)])
def test_lu_of_empty_matrices_has_pytorchs_shapes(shape):
    P, L, U = rustdl.linalg.lu(rustdl.zeros(*shape))
    LU, piv = rustdl.linalg.lu_factor(rustdl.zeros(*shape))
    *b, m, n = shape
    k = min(m, n)
    assert tuple(P.shape) == (*b, m, m) and tuple(L.shape) == (*b, m, k) and tuple(U.shape) == (*b, k, n)
    assert tuple(LU.shape) == shape and tuple(piv.shape) == (*b, k)
