"""One rank of a test of rustdl.distributed, started by tests/python/test_distributed.py as
``mpiexec -n N python worker.py SCENARIO``. Each rank prints ``OK <rank>`` when its checks pass."""

from __future__ import annotations

import sys
import time

import numpy as np
import rustdl
import rustdl.distributed as dist
from rustdl import nn
from rustdl.data import DataLoader, DistributedSampler, TensorDataset
from rustdl.nn.parallel import DistributedDataParallel as DDP


def expect_error(exc: type[Exception], words: str, fn, *args, **kwargs) -> str:
    try:
        fn(*args, **kwargs)
    except exc as e:
        assert words in str(e), str(e)
        return str(e)
    raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")


def collectives(rank: int, world: int) -> None:
    base = np.arange(6, dtype=np.float32).reshape(2, 3)
    mine = [base + 10 * r for r in range(world)]
    t = rustdl.tensor(mine[rank])
    dist.all_reduce(t)
    np.testing.assert_array_equal(t.numpy(), sum(mine))
    for op, ref in [
        (dist.ReduceOp.AVG, sum(mine) / world),
        (dist.ReduceOp.MAX, np.max(mine, axis=0)),
        (dist.ReduceOp.MIN, np.min(mine, axis=0)),
        (dist.ReduceOp.PRODUCT, np.prod(mine, axis=0)),
    ]:
        t = rustdl.tensor(mine[rank])
        dist.all_reduce(t, op=op)
        np.testing.assert_allclose(t.numpy(), ref, rtol=1e-6)
    # float64 and int64 keep their dtype; a view sees the in-place result
    t64 = rustdl.tensor(np.array([rank + 0.5, 1.0], dtype=np.float64))
    dist.all_reduce(t64)
    assert t64.dtype == rustdl.float64
    np.testing.assert_array_equal(t64.numpy(), [sum(r + 0.5 for r in range(world)), world])
    ti = rustdl.tensor([rank, 7])
    view = ti[0:1]
    dist.all_reduce(ti, op=dist.ReduceOp.MAX)
    assert ti.tolist() == [world - 1, 7] and view.tolist() == [world - 1]
    # 0-d tensors keep their shape (BatchNorm's num_batches_tracked, under DDP too)
    z = rustdl.tensor(float(rank + 1))
    dist.all_reduce(z)
    assert z.shape == () and z.item() == world * (world + 1) / 2
    z = rustdl.tensor(rank + 5)
    dist.broadcast(z, src=world - 1)
    assert z.shape == () and z.item() == world + 4
    DDP(nn.BatchNorm1d(3))(rustdl.randn(4, 3))
    # broadcast from the last rank
    b = rustdl.tensor(mine[rank])
    dist.broadcast(b, src=world - 1)
    np.testing.assert_array_equal(b.numpy(), mine[world - 1])
    # all_gather
    out = [rustdl.zeros(2, 3) for _ in range(world)]
    dist.all_gather(out, rustdl.tensor(mine[rank]))
    for r in range(world):
        np.testing.assert_array_equal(out[r].numpy(), mine[r])
    # reduce_scatter: rank r gets the sum over ranks of their input r
    inputs = [rustdl.tensor(mine[rank] * (r + 1)) for r in range(world)]
    res = rustdl.zeros(2, 3)
    dist.reduce_scatter(res, inputs)
    np.testing.assert_allclose(res.numpy(), sum(mine) * (rank + 1), rtol=1e-6)
    # reduce into rank 0
    t = rustdl.tensor(mine[rank])
    dist.reduce(t, dst=0)
    np.testing.assert_array_equal(t.numpy(), sum(mine) if rank == 0 else mine[rank])
    objs: list = [None] * world
    dist.all_gather_object(objs, {"rank": rank})
    assert objs == [{"rank": r} for r in range(world)]
    dist.barrier()
    # a parameter that requires grad can be broadcast (as DDP does) without autograd complaints
    p = nn.Parameter(rustdl.tensor(mine[rank]))
    dist.broadcast(p, src=0)
    np.testing.assert_array_equal(p.detach().numpy(), mine[0])
    # GPU tensors are staged through the host
    if rustdl.gpu.is_available():
        g = rustdl.tensor(mine[rank]).to("gpu")
        dist.all_reduce(g)
        assert g.device.type != "cpu"
        np.testing.assert_array_equal(g.cpu().numpy(), sum(mine))
        gb = rustdl.tensor(mine[rank]).to("gpu")
        dist.broadcast(gb, src=0)
        np.testing.assert_array_equal(gb.cpu().numpy(), mine[0])
    # mismatched shapes: a clear error on every rank, no hang
    bad = rustdl.zeros(3 + rank)
    msg = expect_error(ValueError, "shape", dist.all_reduce, bad)
    assert "rank 0" in msg and "rank 1" in msg, msg
    expect_error(ValueError, "disagree", dist.broadcast, rustdl.zeros(2), src=rank % 2)
    # still usable after the error
    t = rustdl.ones(4)
    dist.all_reduce(t)
    assert t.tolist() == [float(world)] * 4


class _Recorder:
    """Stands in for the communicator: records the buffers handed to MPI, then makes the call."""

    def __init__(self, comm) -> None:
        self.comm, self.buffers = comm, []

    def __getattr__(self, name):
        method = getattr(self.comm, name)

        def call(*args, **kwargs):
            self.buffers.extend(a for a in args if isinstance(a, np.ndarray))
            return method(*args, **kwargs)

        return call


def collectives_dtypes_views(rank: int, world: int) -> None:
    """float64/int64 tensors and non-contiguous views through every collective equal numpy, and a
    contiguous CPU tensor goes to MPI without a copy (MPI's buffer IS the storage)."""
    rng = np.random.default_rng(7)
    for dtype in (np.float64, np.int64, np.float32):
        # integer values: sums and products are exact whatever order MPI adds them in
        every = [np.round(rng.normal(size=(4, 6)) * 10).astype(dtype) for _ in range(world)]
        mine = every[rank]
        for op, fn in [
            (dist.ReduceOp.SUM, lambda a: np.sum(a, axis=0)),
            (dist.ReduceOp.MAX, lambda a: np.max(a, axis=0)),
            (dist.ReduceOp.MIN, lambda a: np.min(a, axis=0)),
            (dist.ReduceOp.PRODUCT, lambda a: np.prod(a, axis=0)),
        ]:
            # the whole tensor, a column-strided view, a transpose and a row slice
            for pick in (
                lambda a: a,
                lambda a: a[:, ::2],
                lambda a: a.T,
                lambda a: a[1:3],
            ):
                base = rustdl.tensor(mine)
                view = pick(base)
                dist.all_reduce(view, op=op)
                assert base.dtype == rustdl.tensor(mine).dtype
                expect = mine.copy()
                pick(expect)[...] = fn(np.stack([pick(e) for e in every])).astype(dtype)
                np.testing.assert_array_equal(base.numpy(), expect)  # the rest of base unchanged
        if dtype != np.int64:
            t = rustdl.tensor(mine)[:, 1::2]
            dist.all_reduce(t, op=dist.ReduceOp.AVG)
            np.testing.assert_allclose(t.numpy(), np.mean([e[:, 1::2] for e in every], axis=0), rtol=1e-6)
        else:
            t = rustdl.tensor(mine)
            expect_error(TypeError, "AVG", dist.all_reduce, t, op=dist.ReduceOp.AVG)
            np.testing.assert_array_equal(t.numpy(), mine)  # refused before any data moved
        # broadcast and reduce into views
        base = rustdl.tensor(mine)
        dist.broadcast(base[:, ::3], src=world - 1)
        expect = mine.copy()
        expect[:, ::3] = every[world - 1][:, ::3]
        np.testing.assert_array_equal(base.numpy(), expect)
        base = rustdl.tensor(mine)
        dist.reduce(base.T, dst=0)
        np.testing.assert_array_equal(
            base.numpy(), np.sum(every, axis=0).astype(dtype) if rank == 0 else mine
        )
        # all_gather from a view into views; reduce_scatter from views into a view
        outs_base = rustdl.zeros(world, 6, 4, dtype=rustdl.tensor(mine).dtype)
        dist.all_gather([outs_base[r] for r in range(world)], rustdl.tensor(mine).T)
        np.testing.assert_array_equal(outs_base.numpy(), np.stack([e.T for e in every]))
        out = rustdl.zeros(4, 12, dtype=rustdl.tensor(mine).dtype)
        dist.reduce_scatter(out[:, ::2], [rustdl.tensor(mine * (r + 1)) for r in range(world)])
        expect = np.zeros((4, 12), dtype=dtype)
        expect[:, ::2] = np.sum(every, axis=0) * (rank + 1)
        np.testing.assert_array_equal(out.numpy(), expect)

    # no copy: the array MPI receives for a contiguous CPU tensor is the tensor's own memory
    recorder = _Recorder(dist._State.comm)
    dist._State.comm = recorder
    try:
        base = rustdl.arange(12, dtype=rustdl.float32).reshape(3, 4)
        row = base[1]  # contiguous, at an offset inside base's storage
        dist.all_reduce(row)
        (buf,) = [b for b in recorder.buffers if b.dtype == np.float32]
        np.testing.assert_array_equal(base[1].numpy(), np.arange(4, 8) * world)
        buf[0] = -1.0  # writes through the buffer MPI used land in the tensor's storage
        assert base[1, 0].item() == -1.0 and row[0].item() == -1.0
        recorder.buffers.clear()
        dist.all_reduce(base[:, 1])  # a strided view is staged: MPI gets a separate copy
        (buf,) = [b for b in recorder.buffers if b.dtype == np.float32]
        before = base[0, 1].item()
        buf[0] = 1234.0
        assert base[0, 1].item() == before
    finally:
        dist._State.comm = recorder.comm

    # an in-place collective bumps the version: a graph that saved the old values refuses backward
    x = rustdl.ones(3, requires_grad=True)
    y = x * 1
    z = y.sin()
    dist.all_reduce(y)
    expect_error(RuntimeError, "modified by an in", z.sum().backward)


class _TwoHeads(nn.Module):
    def __init__(self, main: nn.Module, side: nn.Module) -> None:
        super().__init__()
        self.main, self.side = main, side

    def forward(self, x):
        return self.main(x), self.side(x)


def ddp_bits(rank: int, world: int) -> None:
    """DDP's averaged gradients are bit for bit (g_0 + g_1) / 2, in float32 and float64, with
    buckets holding several parameters and a parameter without a gradient (zeros)."""
    assert world == 2  # with 2 ranks MPI's sum has one possible rounding
    for dtype in (rustdl.float32, rustdl.float64):
        local = make_model(seed=5).to(dtype)
        wrapped = make_model(seed=5).to(dtype)
        extra = nn.Linear(5, 2).to(dtype)  # used on rank 0 only: packed as zeros on rank 1
        model = DDP(_TwoHeads(wrapped, extra), bucket_cap_mb=0.0003, find_unused_parameters=True)
        x, y = data(8)
        xb = rustdl.tensor(x[rank * 4 : rank * 4 + 4]).to(dtype)
        yb = rustdl.tensor(y[rank * 4 : rank * 4 + 4]).to(dtype)
        loss_fn = nn.MSELoss()
        loss_fn(local(xb), yb).backward()
        mine = [p.grad.numpy() for p in local.parameters()]
        every: list = [None] * world
        dist.all_gather_object(every, mine)
        main, side = model(xb)
        loss = loss_fn(main, yb)
        if rank == 0:
            loss = loss + side.sum()
        loss.backward()
        for p, g0, g1 in zip(wrapped.parameters(), every[0], every[1]):
            ref = g0 + g1
            ref /= world
            assert p.grad.dtype == dtype
            assert p.grad.numpy().tobytes() == ref.tobytes(), (p.grad.numpy(), ref)
        # d sum / d bias is the batch size (4) on rank 0, nothing on rank 1: the average is 2
        np.testing.assert_array_equal(extra.bias.grad.numpy(), [2.0, 2.0])
        np.testing.assert_allclose(extra.weight.grad.numpy(), np.tile(x[:4].sum(0) / 2, (2, 1)), rtol=1e-5)


def make_model(seed: int) -> nn.Module:
    rustdl.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(123)
    return rng.normal(size=(n, 5)).astype(np.float32), rng.normal(size=(n, 3)).astype(np.float32)


def flat_params(model: nn.Module) -> np.ndarray:
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def assert_identical_across_ranks(model: nn.Module) -> np.ndarray:
    mine = flat_params(model)
    every: list = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine.tobytes())
    assert all(e == every[0] for e in every), "ranks hold different parameters"
    return mine


def train_against_whole_batch(rank, world, model, opt, ref, ref_opt, per_rank=4, steps=3) -> None:
    """Steps ``model`` (DDP, each rank its share of every batch) and ``ref`` (one process, the
    whole batch) alike, then checks that every rank holds ``ref``'s parameters."""
    x, y = data(per_rank * world * steps)
    loss_fn = nn.MSELoss()
    for step in range(steps):
        lo = step * per_rank * world
        xb, yb = x[lo : lo + per_rank * world], y[lo : lo + per_rank * world]
        mine = slice(rank * per_rank, (rank + 1) * per_rank)
        opt.zero_grad()
        loss_fn(model(rustdl.tensor(xb[mine])), rustdl.tensor(yb[mine])).backward()
        opt.step()
        ref_opt.zero_grad()
        loss_fn(ref(rustdl.tensor(xb)), rustdl.tensor(yb)).backward()
        ref_opt.step()
    got = assert_identical_across_ranks(model.module)
    np.testing.assert_allclose(got, flat_params(ref), atol=1e-6, rtol=0)


def ddp(rank: int, world: int) -> None:
    steps = 3
    model = DDP(make_model(seed=100 + rank), bucket_cap_mb=0.0001)  # tiny buckets: several of them
    ref = make_model(seed=100)  # rank 0's initialisation, which DDP broadcast
    np.testing.assert_array_equal(flat_params(model.module), flat_params(ref))
    opt = rustdl.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = rustdl.optim.SGD(ref.parameters(), lr=0.1)
    train_against_whole_batch(rank, world, model, opt, ref, ref_opt, steps=steps)
    assert list(model.state_dict())[0].startswith("module.")
    # one bucket per parameter here, and every one started inside backward, as soon as its
    # gradient was accumulated (post-accumulate hooks), none left for after it
    buckets = len(list(model.parameters()))
    assert model.comm_stats["buckets"] == steps * buckets, model.comm_stats
    assert model.comm_stats["buckets_started_in_backward"] == steps * buckets, model.comm_stats


def no_sync(rank: int, world: int) -> None:
    micro = 3
    x, y = data(2 * micro * world)
    loss_fn = nn.MSELoss()
    model = DDP(make_model(seed=7))
    opt = rustdl.optim.SGD(model.parameters(), lr=0.1)
    # two micro-batches per rank, the first inside no_sync: gradients summed locally, averaged once
    parts = [slice((2 * rank + k) * micro, (2 * rank + k + 1) * micro) for k in range(2)]
    with model.no_sync():
        loss_fn(model(rustdl.tensor(x[parts[0]])), rustdl.tensor(y[parts[0]])).backward()
    local = [p.grad.numpy().copy() for p in model.parameters()]
    loss_fn(model(rustdl.tensor(x[parts[1]])), rustdl.tensor(y[parts[1]])).backward()
    opt.step()
    # one big step: the mean loss over everything, times 2 (a sum of two micro-batch means)
    ref = make_model(seed=7)
    ref_opt = rustdl.optim.SGD(ref.parameters(), lr=0.1)
    (loss_fn(ref(rustdl.tensor(x)), rustdl.tensor(y)) * 2).backward()
    ref_opt.step()
    got = assert_identical_across_ranks(model.module)
    np.testing.assert_allclose(got, flat_params(ref), atol=1e-6, rtol=0)
    if world > 1:  # the no_sync gradients were not averaged (they differ between ranks)
        every: list = [None] * world
        dist.all_gather_object(every, local[0].tobytes())
        assert every[0] != every[1]


def unused(rank: int, world: int) -> None:
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(2, 2)
            self.spare = nn.Linear(2, 2)

        def forward(self, x):
            return self.used(x)

    rustdl.manual_seed(0)
    model = DDP(TwoHeads())
    x = rustdl.ones(1, 2) * (rank + 1)
    msg = expect_error(RuntimeError, "spare.weight", model(x).sum().backward)
    assert "find_unused_parameters" in msg
    model = DDP(TwoHeads(), find_unused_parameters=True)
    model(x).sum().backward()
    assert model.module.spare.weight.grad is None  # unused on every rank: no gradient, as PyTorch
    # used on rank 0 only: zero elsewhere, so the average is rank 0's gradient / world
    model.zero_grad()
    out = model(x) + (model.module.spare(x) if rank == 0 else 0)
    out.sum().backward()
    np.testing.assert_allclose(model.module.spare.bias.grad.numpy(), np.full(2, 1.0 / world), rtol=1e-6)
    # the used head's gradient: mean over ranks of (rank + 1)
    expect = sum(r + 1 for r in range(world)) / world
    np.testing.assert_allclose(model.module.used.weight.grad.numpy(), np.full((2, 2), expect), rtol=1e-6)


def model_mismatch(rank: int, world: int) -> None:
    net = nn.Linear(3, 4 if rank == world - 1 else 2)
    msg = expect_error(ValueError, "different models", DDP, net)
    assert "weight" in msg, msg
    dist.barrier()


def sampler(rank: int, world: int) -> None:
    for n, drop_last in [(10, False), (10, True), (11, False), (3, False)]:
        ds = TensorDataset(rustdl.arange(n))
        s = DistributedSampler(ds, shuffle=True, seed=3, drop_last=drop_last)
        s.set_epoch(1)
        mine = [int(i) for (b,) in DataLoader(ds, batch_size=2, sampler=s) for i in b.tolist()]
        every: list = [None] * world
        dist.all_gather_object(every, mine)
        flat = [i for part in every for i in part]
        if drop_last:
            assert len(set(flat)) == len(flat) == (n // world) * world, every
        else:
            assert set(flat) == set(range(n)) and len(flat) == -(-n // world) * world, every


def fit(rank: int, world: int) -> None:
    """rustdl.train.fit under DDP: identical parameters and history on every rank, metrics equal to
    the sample-weighted mean of each rank's own values, the checkpoint written by rank 0 only."""
    import os

    from rustdl.data import Subset
    from rustdl.train import EarlyStopping, ModelCheckpoint, evaluate
    from rustdl.train import fit as train_fit

    rng = np.random.default_rng(5)
    x = rng.normal(size=(37, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    ds = TensorDataset(rustdl.tensor(x), rustdl.tensor(y))
    # unequal train shares (12/11 samples in 3 batches each with 2 ranks) so the weighting matters
    train_part = Subset(ds, list(range(rank, 23, world)))
    val_part = Subset(ds, list(range(23 + rank, 37, world)))
    train_loader = DataLoader(train_part, batch_size=4 if world == 2 else 3)
    val_loader = DataLoader(val_part, batch_size=5)

    seen: list[list[tuple[float, float, int]]] = []  # per epoch: (loss, accuracy, n) of each batch

    def loss_fn(out, target):
        loss = nn.functional.cross_entropy(out, target)
        if rustdl.is_grad_enabled():
            seen[-1].append(
                (float(loss.item()), float((out.argmax(1) == target).float().mean()), len(target))
            )
        return loss

    class Epochs(rustdl.train.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append([])

    model = DDP(make_model(seed=3 + rank))
    out_dir = os.environ["RUSTDL_TEST_OUT"]
    ckpt = ModelCheckpoint(f"{out_dir}/ckpt-rank{rank}.safetensors", monitor="val_loss")
    stop = EarlyStopping(monitor="val_accuracy", patience=2, mode="max")
    opt = rustdl.optim.Adam(model.parameters(), lr=0.05)
    history = train_fit(
        model,
        train_loader,
        loss_fn,
        opt,
        epochs=6,
        val_loader=val_loader,
        callbacks=[Epochs(), ckpt, stop],
        progress=False,
    )
    assert_identical_across_ranks(model.module)
    every: list = [None] * world
    dist.all_gather_object(every, history)
    assert all(h == every[0] for h in every), every
    assert len(history["loss"]) == len(seen) >= 1
    # the training metrics: the sample-weighted mean of what every rank saw in each epoch
    everyone: list = [None] * world
    dist.all_gather_object(everyone, seen)
    for e in range(len(seen)):
        batches = [b for rank_seen in everyone for b in rank_seen[e]]
        n = sum(b[2] for b in batches)
        assert n == 23, n
        np.testing.assert_allclose(history["loss"][e], sum(b[0] * b[2] for b in batches) / n, rtol=1e-6)
        np.testing.assert_allclose(history["accuracy"][e], sum(b[1] * b[2] for b in batches) / n, rtol=1e-6)
    # the last validation metrics: each rank evaluates its own share on its own
    mine = evaluate(model, val_loader, nn.CrossEntropyLoss())
    shares: list = [None] * world
    dist.all_gather_object(shares, (mine, len(val_part)))
    assert sum(n for _, n in shares) == 14
    for k in ("loss", "accuracy"):
        want = sum(m[k] * n for m, n in shares) / 14
        np.testing.assert_allclose(history[f"val_{k}"][-1], want, rtol=1e-6)
        np.testing.assert_allclose(
            evaluate(model, val_loader, nn.CrossEntropyLoss(), distributed=True)[k], want, rtol=1e-6
        )
    if world > 1:
        assert len({round(m["loss"], 9) for m, _ in shares}) > 1  # the shares differ: a real average
    assert ckpt.best_path == f"{out_dir}/ckpt-rank{rank}.safetensors" and ckpt.best_epoch is not None
    dist.barrier()
    assert os.path.exists(f"{out_dir}/ckpt-rank0.safetensors")
    assert os.path.exists(ckpt.best_path) == (rank == 0)


def early_exit(rank: int, world: int) -> None:
    if rank == world - 1:
        print(f"OK {rank}", flush=True)
        sys.exit(0)  # leaves cleanly while the others wait in a collective
    start = time.monotonic()
    msg = expect_error(dist.DistBackendError, "timed out", dist.all_reduce, rustdl.ones(3))
    print(f"timed out after {time.monotonic() - start:.1f}s: {msg}", flush=True)
    print(f"OK {rank}", flush=True)
    sys.exit(3)


def differentiable(rank: int, world: int) -> None:
    """torch.distributed.nn: each rank's gradient is the derivative of the sum of every rank's
    loss with respect to its own input."""
    import rustdl.distributed.nn as dnn

    tri = world * (world + 1) / 2
    x = rustdl.tensor([rank + 1.0, 2.0], requires_grad=True)
    y = dnn.all_reduce(x * 3)  # 3·Σ_r x_r on every rank
    np.testing.assert_allclose(y.detach().numpy(), [3 * tri, 6.0 * world])
    (y.sum() * (rank + 1)).backward()  # Σ_r (r+1)·3·Σ x  →  d/dx_me = 3·Σ_r (r+1)
    np.testing.assert_allclose(x.grad.numpy(), [3 * tri] * 2)
    x.grad = None
    parts = dnn.all_gather(x)  # loss_me = Σ_k (k+1)·sum(x_k)  →  d/dx_me = world·(me+1)
    assert [p.tolist() for p in parts] == [[r + 1.0, 2.0] for r in range(world)]
    sum((k + 1) * p.sum() for k, p in enumerate(parts)).backward()
    np.testing.assert_allclose(x.grad.numpy(), [world * (rank + 1.0)] * 2)
    x.grad = None
    b = dnn.broadcast(x, src=0)  # loss_me = (me+1)·sum(x_0): only rank 0's input gets gradient
    assert b.tolist() == [1.0, 2.0]
    (b.sum() * (rank + 1)).backward()
    np.testing.assert_allclose(x.grad.numpy(), [tri if rank == 0 else 0.0] * 2)
    x.grad = None
    outs = dnn.all_to_all([None] * world, [x * (k + 1) for k in range(world)])
    assert [o.tolist() for o in outs] == [[(r + 1.0) * (rank + 1), 2.0 * (rank + 1)] for r in range(world)]
    sum(o.sum() for o in outs).backward()  # each slot k of every rank is used once: Σ_k (k+1)
    np.testing.assert_allclose(x.grad.numpy(), [tri] * 2)


def zero(rank: int, world: int) -> None:
    """ZeroRedundancyOptimizer over DDP: the same parameters as one Adam over the whole batch;
    each rank keeps the state of its own share; the consolidated state dict is the whole one."""
    from rustdl.distributed.optim import ZeroRedundancyOptimizer

    model = DDP(make_model(seed=100))
    ref = make_model(seed=100)
    opt = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=rustdl.optim.Adam, lr=0.05)
    ref_opt = rustdl.optim.Adam(ref.parameters(), lr=0.05)
    train_against_whole_batch(rank, world, model, opt, ref, ref_opt)
    # the state is sharded: each rank holds its own parameters' state, together all of them
    params = list(model.parameters())
    owned = [k for k, p in enumerate(params) if p in opt.optim.state]
    every: list = [None] * world
    dist.all_gather_object(every, owned)
    assert sorted(k for o in every for k in o) == list(range(len(params))), every
    opt.consolidate_state_dict(to=0)
    if rank == 0:
        sd = opt.state_dict()
        ref_sd = ref_opt.state_dict()
        assert sorted(sd["state"]) == sorted(ref_sd["state"])
        for k, st in ref_sd["state"].items():
            np.testing.assert_allclose(sd["state"][k]["exp_avg"].numpy(), st["exp_avg"].numpy(), atol=1e-7)
    else:
        expect_error(RuntimeError, "consolidate", opt.state_dict)


def functional(rank: int, world: int) -> None:
    """torch.distributed._functional_collectives: new tensors equal to numpy's reductions, the
    argument unchanged; all_to_all_single with uneven splits delivers each rank its pieces."""
    from rustdl.torchcompat._torch_distributed import _functional_collectives as fc

    mine = np.arange(6, dtype=np.float64).reshape(3, 2) + 10 * rank
    every = [np.arange(6, dtype=np.float64).reshape(3, 2) + 10 * r for r in range(world)]
    t = rustdl.tensor(mine)
    s = fc.wait_tensor(fc.all_reduce(t, "sum", list(range(world))))
    assert np.array_equal(s.numpy(), sum(every)) and np.array_equal(t.numpy(), mine)
    assert np.array_equal(fc.all_reduce(t, "max", None).numpy(), np.max(every, axis=0))
    assert np.allclose(fc.all_reduce(t, dist.ReduceOp.AVG, None).numpy(), np.mean(every, axis=0))
    assert np.array_equal(fc.all_gather_tensor(t, 1, None).numpy(), np.concatenate(every, axis=1))
    assert np.array_equal(fc.broadcast(t, world - 1, None).numpy(), every[-1])
    big = rustdl.tensor(np.arange(4.0 * world).reshape(2 * world, 2) * (rank + 1))
    total = sum(np.arange(4.0 * world).reshape(2 * world, 2) * (r + 1) for r in range(world))
    assert np.array_equal(
        fc.reduce_scatter_tensor(big, "sum", 0, None).numpy(), total[2 * rank : 2 * rank + 2]
    )
    # rank r sends r+1 rows to every rank (its rows tagged with its rank)
    rows = rustdl.tensor(np.full((world * (rank + 1), 1), float(rank)))
    got = fc.all_to_all_single(rows, None, [rank + 1] * world, None).numpy().ravel()
    assert got.tolist() == [float(r) for r in range(world) for _ in range(r + 1)], got
    expect_error(ValueError, "unknown reduction", fc.all_reduce, t, "median", None)


def crash(rank: int, world: int) -> None:
    if rank == world - 1:
        raise RuntimeError("rank crashed on purpose")  # uncaught: rustdl aborts the MPI job
    dist.all_reduce(rustdl.ones(3))  # never completes


SCENARIOS = {
    f.__name__: f
    for f in (
        collectives,
        collectives_dtypes_views,
        ddp,
        ddp_bits,
        no_sync,
        unused,
        model_mismatch,
        sampler,
        fit,
        early_exit,
        crash,
        differentiable,
        zero,
        functional,
    )
}

if __name__ == "__main__":
    dist.init_process_group("mpi")
    r, w = dist.get_rank(), dist.get_world_size()
    SCENARIOS[sys.argv[1]](r, w)
    dist.barrier()
    dist.destroy_process_group()
    print(f"OK {r}", flush=True)
