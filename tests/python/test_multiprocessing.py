"""Shared memory and ``rustdl.multiprocessing``: tensors in shared memory are the same memory in
forked and spawned processes (Hogwild!), others travel by value; ``spawn`` runs and reports."""

import pickle
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest
import rustdl
import rustdl.multiprocessing as mp
import rustdl.nn as nn
from conftest import run_compat_file

METHODS = ["fork", "spawn", "forkserver"]


def _add_one(t):
    t.add_(1.0)


def _double_weight(m):
    with rustdl.no_grad():
        m.weight.mul_(2.0)


def _sgd_step(m, x, y):
    opt = rustdl.optim.SGD(m.parameters(), lr=0.1)
    loss = ((m(x) - y) ** 2).mean()
    loss.backward()
    opt.step()


def _send_results(q):
    x = rustdl.arange(6.0).reshape(2, 3)
    q.put(x)
    q.put(x.t())
    q.put(nn.Parameter(rustdl.ones(2)))


def test_share_memory_in_place_keeps_values_and_views():
    base = rustdl.arange(12.0).reshape(3, 4)
    view = base[1:, ::2]
    assert not base.is_shared()
    assert base.share_memory_() is base
    assert base.is_shared() and view.is_shared()  # the whole storage moved
    np.testing.assert_array_equal(base.numpy(), np.arange(12.0).reshape(3, 4))
    view.mul_(10.0)  # views still write the same (now shared) memory
    np.testing.assert_array_equal(base.numpy()[1:, ::2], np.arange(12.0).reshape(3, 4)[1:, ::2] * 10)
    base.share_memory_()  # idempotent
    base.add_(1.0)  # a whole-tensor in-place op writes the shared memory, not a fresh buffer
    assert base.is_shared() and view.is_shared()
    expect = np.arange(12.0).reshape(3, 4)
    expect[1:, ::2] *= 10
    np.testing.assert_array_equal(base.numpy(), expect + 1)
    for dtype in (rustdl.float64, rustdl.int64, rustdl.bool):
        t = rustdl.ones(3, dtype=dtype)
        t.share_memory_()
        assert t.is_shared() and t.tolist() == rustdl.ones(3, dtype=dtype).tolist()
    empty = rustdl.zeros(2, 0)
    empty.share_memory_()
    assert empty.shape == (2, 0) and empty.flatten().shape == (0,)


def test_share_memory_on_gpu_is_a_no_op(gpu):
    t = rustdl.ones(3, device=gpu)
    assert t.share_memory_() is t and not t.is_shared()
    assert t.cpu().tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("method", METHODS)
def test_children_write_the_shared_memory(method):
    ctx = mp.get_context(method)
    t = rustdl.zeros(5)
    t.share_memory_()
    p = ctx.Process(target=_add_one, args=(t,))
    p.start()
    p.join()
    assert p.exitcode == 0
    assert t.tolist() == [1.0] * 5
    m = nn.Linear(3, 2)
    w0 = m.weight.detach().numpy().copy()
    assert m.share_memory() is m
    p = ctx.Process(target=_double_weight, args=(m,))
    p.start()
    p.join()
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * w0, rtol=1e-6)


def test_unshared_tensors_are_private_to_a_forked_child():
    u = rustdl.zeros(3)
    p = mp.get_context("fork").Process(target=_add_one, args=(u,))
    p.start()
    p.join()
    assert u.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_tensor_arguments_of_a_started_process_move_into_shared_memory(method):
    # as PyTorch's: pickling a process's arguments shares a CPU tensor's memory in place, so
    # the child's in-place writes reach the parent (a view keeps its base's memory)
    base = rustdl.zeros(2, 3)
    view = base[:, 1]
    p = mp.get_context(method).Process(target=_add_one, args=(view,))
    p.start()
    p.join()
    assert p.exitcode == 0 and base.is_shared()
    assert base.tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_child_optimizer_step_lands_in_the_parent(method):
    rustdl.manual_seed(0)
    m = nn.Linear(2, 1)
    w, b = m.weight.detach().numpy().astype(np.float64), m.bias.detach().numpy().astype(np.float64)
    x = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 3.0]], np.float32)
    y = np.array([[1.0], [0.0], [2.0]], np.float32)
    m.share_memory()
    p = mp.get_context(method).Process(target=_sgd_step, args=(m, rustdl.tensor(x), rustdl.tensor(y)))
    p.start()
    p.join()
    assert p.exitcode == 0
    r = x @ w.T + b - y  # residuals; d mean(r^2) / dw = 2/n r^T x
    gw, gb = 2 / 3 * r.T @ x, 2 / 3 * r.sum(0)
    np.testing.assert_allclose(m.weight.detach().numpy(), w - 0.1 * gw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.bias.detach().numpy(), b - 0.1 * gb, rtol=1e-5, atol=1e-6)


def _hogwild_train(rank, model, x, y):
    rustdl.manual_seed(rank)
    opt = rustdl.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    n = x.shape[0]
    for _ in range(15):
        perm = rustdl.randperm(n)
        for i in range(0, n, 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()


def test_hogwild_training_on_digits():
    sklearn = pytest.importorskip("sklearn.datasets")
    d = sklearn.load_digits()
    xs = (d.data / 16.0).astype(np.float32)
    ys = d.target.astype(np.int64)
    xtr, ytr, xte, yte = xs[:1200], ys[:1200], xs[1200:], ys[1200:]
    rustdl.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    model.share_memory()

    def accuracy():
        with rustdl.no_grad():
            return float((model(rustdl.tensor(xte)).argmax(1).numpy() == yte).mean())

    before = accuracy()
    procs = []
    for rank in range(2):
        half = slice(rank * 600, (rank + 1) * 600)
        p = mp.get_context("fork").Process(
            target=_hogwild_train, args=(rank, model, rustdl.tensor(xtr[half]), rustdl.tensor(ytr[half]))
        )
        p.start()
        procs.append(p)
    for p in procs:
        p.join()
        assert p.exitcode == 0
    after = accuracy()  # the parent never trained: only the children's shared updates count
    assert before < 0.3 and after > 0.85, (before, after)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_queue_results_travel_by_value(method):
    ctx = mp.get_context(method)
    q = ctx.Queue()
    p = ctx.Process(target=_send_results, args=(q,))
    p.start()
    a, b, prm = q.get(timeout=60), q.get(timeout=60), q.get(timeout=60)
    p.join()  # the sender has exited: the tensors came by value
    np.testing.assert_array_equal(a.numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(b.numpy(), np.arange(6.0).reshape(2, 3).T)
    assert isinstance(prm, nn.Parameter) and prm.requires_grad and prm.tolist() == [1.0, 1.0]


def test_pickler_sends_shared_tensors_by_handle_and_refuses_non_leaves():
    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        ForkingPickler.dumps(x * 2)
    plain = pickle.loads(ForkingPickler.dumps(rustdl.arange(3.0)))
    assert plain.tolist() == [0.0, 1.0, 2.0] and not plain.is_shared()
    s = rustdl.arange(8.0).reshape(2, 4)
    s.share_memory_()
    view = s[:, 1::2]
    # within one process the handle is served by the resource sharer; the copy maps the same memory
    back = pickle.loads(ForkingPickler.dumps(view))
    assert back.is_shared() and back.shape == (2, 2)
    np.testing.assert_array_equal(back.numpy(), [[1.0, 3.0], [5.0, 7.0]])
    back.fill_(-1.0)
    np.testing.assert_array_equal(s.numpy(), [[0.0, -1.0, 2.0, -1.0], [4.0, -1.0, 6.0, -1.0]])


def _spawned(i, t, fail_at):
    if i == fail_at:
        raise ValueError(f"process {i} fails on purpose")
    t[i] = i + 1.0


def test_spawn_runs_every_rank_and_reports_failures():
    t = rustdl.zeros(3)
    t.share_memory_()
    mp.spawn(_spawned, args=(t, -1), nprocs=3)
    assert t.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(mp.ProcessRaisedException, match="fails on purpose"):
        mp.spawn(_spawned, args=(t, 1), nprocs=2)
    ctx = mp.spawn(_spawned, args=(t, -1), nprocs=1, join=False)
    assert len(ctx.pids()) == 1 and ctx.join()
    with pytest.raises(ValueError, match="nprocs"):
        mp.spawn(_spawned, nprocs=0)
    with pytest.raises(TypeError, match="callable"):
        mp.spawn(3)


def test_sharing_strategies_and_torch_name():
    assert mp.get_sharing_strategy() in mp.get_all_sharing_strategies()
    mp.set_sharing_strategy("file_system")
    assert mp.get_sharing_strategy() == "file_system"
    mp.set_sharing_strategy("file_descriptor")
    with pytest.raises(ValueError, match="set_sharing_strategy"):
        mp.set_sharing_strategy("nope")
    assert mp.Process is not None and mp.cpu_count() >= 1


HOGWILD_SCRIPT = """
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, TensorDataset


def train(rank, model, dataset):
    torch.manual_seed(rank)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    for _ in range(10):
        for x, y in DataLoader(dataset, batch_size=32, shuffle=True):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()


if __name__ == "__main__":
    mp.set_start_method(sys.argv[1], force=True)
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 8, generator=g) * 3
    y = (torch.arange(400) // 2) % 4  # each rank's half (x[r::2]) holds every class
    x = centers[y] + torch.randn(400, 8, generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    model.share_memory()
    with torch.no_grad():
        before = (model(x).argmax(1) == y).float().mean().item()
    procs = [mp.Process(target=train, args=(r, model, TensorDataset(x[r::2], y[r::2]))) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    with torch.no_grad():
        after = (model(x).argmax(1) == y).float().mean().item()
    print(f"before={before:.3f} after={after:.3f}")
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_pytorch_hogwild_script_runs_through_the_compat_runner(tmp_path, method):
    script = tmp_path / "hogwild.py"
    script.write_text(HOGWILD_SCRIPT)
    out = run_compat_file(script, method, timeout=300)
    fields = dict(kv.split("=") for kv in out.stdout.split())
    # the parent never trains: its model learns only through the children's shared updates
    assert float(fields["before"]) < 0.6 and float(fields["after"]) > 0.95, out.stdout
