"""Activation checkpointing recomputes: gradients equal the plain run's, the activations inside
are not kept (GPU bytes live after the forward), the random state is replayed, and stateful
modules update again during the recomputation, as PyTorch's ``use_reentrant=False``."""

import numpy as np
import pytest
import rustdl
import rustdl.nn as nn
from conftest import assert_close
from rustdl.gradient_checkpoint import checkpoint, checkpoint_sequential


def _net(device, seed=0):
    rng = np.random.default_rng(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 3)).to(device)
    with rustdl.no_grad():
        for p in net.parameters():
            p.copy_(
                rustdl.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.3, device=device)
            )
    return net


def _grads(net):
    return [p.grad.cpu().numpy().copy() for p in net.parameters()]


def test_gradients_and_running_statistics_as_pytorch(device):
    x = rustdl.tensor(
        np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32), device=device
    )
    plain, ckpt = _net(device), _net(device)
    xa = x.clone().requires_grad_()
    xb = x.clone().requires_grad_()
    plain(xa).pow(2).sum().backward()
    checkpoint(ckpt, xb, use_reentrant=False).pow(2).sum().backward()
    for g, h in zip(_grads(plain), _grads(ckpt)):
        assert_close(h, g, atol=1e-4, rtol=1e-4)
    assert_close(xb.grad, xa.grad.cpu().numpy(), atol=1e-4, rtol=1e-4)
    # the recomputation runs batch norm's forward again: two updates of the running statistics
    assert int(plain[1].num_batches_tracked) == 1 and int(ckpt[1].num_batches_tracked) == 2
    m = 0.1
    var1 = plain[1].running_var.cpu().numpy()
    batch_var = (var1 - (1 - m)) / m  # one update from 1: (1 - m) + m * batch_var
    want = (1 - m) * var1 + m * batch_var
    assert_close(ckpt[1].running_var, want, atol=1e-5, rtol=1e-5)


def test_parameters_get_gradients_when_no_input_requires_one():
    net = _net("cpu")
    x = rustdl.tensor(np.random.default_rng(2).standard_normal((2, 3, 8, 8)).astype(np.float32))
    out = checkpoint(net, x, use_reentrant=True)
    assert out.requires_grad
    out.sum().backward()
    ref = _net("cpu")
    ref(x).sum().backward()
    for g, h in zip(_grads(ref), _grads(net)):
        assert_close(h, g, atol=1e-4, rtol=1e-4)


def test_tuple_results_keywords_and_plain_arguments():
    a = rustdl.tensor([1.0, 2.0], requires_grad=True)

    def f(u, k, scale=1.0):
        return u * k * scale, u.sum(), rustdl.tensor([1, 2])

    o1, o2, ints = checkpoint(f, a, 3, scale=2.0, use_reentrant=False)
    assert ints.tolist() == [1, 2] and not ints.requires_grad
    (o1.sum() + o2).backward()
    assert a.grad.tolist() == [7.0, 7.0]  # d/da (6a + a)
    # an input handed back unchanged keeps its own (leaf) identity
    b = rustdl.tensor([1.0], requires_grad=True)
    same = checkpoint(lambda t: t, b, use_reentrant=False)
    assert b.is_leaf and b.grad_fn is None
    (same * 3).sum().backward()
    assert b.grad.tolist() == [3.0]


def test_dropout_replays_the_same_mask():
    rustdl.manual_seed(0)
    d = nn.Dropout(0.5)
    b = rustdl.ones(1000, requires_grad=True)
    y = checkpoint(d, b, use_reentrant=False)
    y.sum().backward()
    kept = y.detach().numpy() != 0
    assert 300 < kept.sum() < 700
    assert np.array_equal(b.grad.numpy() != 0, kept)
    assert_close(b.grad.numpy()[kept], np.full(kept.sum(), 2.0, dtype=np.float32))


def test_dict_results_fall_back_to_a_recorded_call():
    a = rustdl.tensor([2.0], requires_grad=True)
    out = checkpoint(lambda t: {"y": t * t}, a, use_reentrant=False)
    out["y"].sum().backward()
    assert a.grad.tolist() == [4.0]


def test_no_grad_calls_the_function_directly():
    net = _net("cpu")
    x = rustdl.ones(1, 3, 8, 8)
    with rustdl.no_grad():
        y = checkpoint(net, x, use_reentrant=False)
    assert not y.requires_grad and y.grad_fn is None


def test_sequential_segments_match_the_plain_run(device):
    x = rustdl.tensor(
        np.random.default_rng(3).standard_normal((2, 3, 8, 8)).astype(np.float32), device=device
    )
    plain, ckpt = _net(device).eval(), _net(device).eval()
    plain(x).sum().backward()
    checkpoint_sequential(ckpt, 2, x, use_reentrant=False).sum().backward()
    for g, h in zip(_grads(plain), _grads(ckpt)):
        assert_close(h, g, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential(ckpt, 0, x)


def test_activations_inside_are_not_kept(gpu):
    layers = nn.Sequential(*[nn.Sequential(nn.Linear(256, 256), nn.Tanh()) for _ in range(8)]).to(gpu)
    x = rustdl.randn(512, 256, device=gpu, requires_grad=True)

    def live_after_forward(run):
        rustdl.gpu.synchronize()
        before = rustdl.gpu.stats()["bytes_live"]
        out = run()
        rustdl.gpu.synchronize()
        grown = rustdl.gpu.stats()["bytes_live"] - before
        out.sum().backward()
        return grown

    plain = live_after_forward(lambda: layers(x))
    ckpt = live_after_forward(lambda: checkpoint(layers, x, use_reentrant=False))
    act = 512 * 256 * 4  # one activation
    assert plain >= 8 * act  # every layer's output (and more) kept for the backward
    assert ckpt <= 2 * act  # only the result
