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
