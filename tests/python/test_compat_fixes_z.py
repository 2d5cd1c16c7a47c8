"""Behaviours found by running third-party programs against PyTorch's: the exception classes of
multi-head attention's shape checks, and what full backward hooks receive."""

from __future__ import annotations

import pytest
import rustdl
import rustdl.nn as nn


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m(x, x, x, key_padding_mask=rustdl.zeros(3, 3, dtype=rustdl.bool)),
        lambda m, x: m(x, x, x, key_padding_mask=rustdl.zeros(2, 3, dtype=rustdl.uint8)),
        lambda m, x: m(rustdl.randn(3, 2, 5), x, x),
        lambda m, x: m(x, x, x[:2]),
        lambda m, x: m(x[None], x[None], x[None]),
    ],
)
def test_multihead_attention_shape_checks_are_assertion_errors(call):
    m = nn.MultiheadAttention(4, 2)
    x = rustdl.randn(3, 2, 4)
    with pytest.raises(AssertionError):
        call(m, x)


def test_full_backward_hook_gives_zeros_for_an_input_without_grad():
    class Two(nn.Module):
        def forward(self, a, b):
            return a * b, a + 1

    seen = []
    t = Two()
    t.register_full_backward_hook(lambda mod, gi, go: seen.append(gi))
    a = rustdl.ones(2, requires_grad=True)
    b = rustdl.full((2,), 3.0)
    o1, _ = t(a, b)
    o1.sum().backward()
    (gi,) = seen
    assert gi[0].tolist() == [3.0, 3.0]  # d(sum(a * b))/da = b
    assert gi[1].tolist() == [0.0, 0.0]  # b needs no gradient: zeros, as PyTorch's hook gets
    assert a.grad.tolist() == [3.0, 3.0]


def test_checkpoint_keeps_shared_storage_and_identity(tmp_path):
    import zipfile

    from rustdl import _torch_format
    from rustdl.io import load

    x = rustdl.arange(6.0)
    path = tmp_path / "shared.pt"
    _torch_format.save({"a": x, "b": x[2:], "d": x, "t": x.view(2, 3).t()}, str(path))
    with zipfile.ZipFile(path) as z:
        records = [n for n in z.namelist() if "/data/" in n]
    assert len(records) == 1  # one storage for the tensor and its views, as PyTorch writes it
    got = load(str(path))
    assert got["a"] is got["d"]
    assert got["t"].tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert got["t"].stride() == (1, 3)
    got["a"][3] = 100.0
    assert got["b"].tolist() == [2.0, 100.0, 4.0, 5.0]
    assert got["t"].tolist()[0] == [0.0, 100.0]


def test_tied_weights_stay_tied_through_a_checkpoint(tmp_path):
    from rustdl import _torch_format
    from rustdl.io import load

    emb = nn.Embedding(5, 3)
    head = nn.Linear(3, 5, bias=False)
    head.weight = emb.weight
    sd = {"emb.weight": emb.weight, "head.weight": head.weight}
    _torch_format.save(sd, str(tmp_path / "tied.pt"))
    back = load(str(tmp_path / "tied.pt"))
    assert back["emb.weight"].data_ptr() == back["head.weight"].data_ptr()
    assert back["emb.weight"].tolist() == emb.weight.tolist()


def test_type_of_the_tensor_class_is_the_default_float_type():
    x = rustdl.arange(3)
    assert x.type(rustdl.Tensor).dtype == rustdl.float32
    y = rustdl.ones(2, dtype=rustdl.float64, requires_grad=True).type(rustdl.Tensor)
    assert y.dtype == rustdl.float32 and y.grad_fn is not None
    z = rustdl.ones(2)
    assert z.type(rustdl.Tensor) is z


def test_instance_norm_warns_of_unused_num_features():
    with pytest.warns(UserWarning, match="does not match num_features"):
        out = nn.InstanceNorm2d(64)(rustdl.randn(2, 16, 4, 4))
    assert out.shape == (2, 16, 4, 4)


def test_batch_norm_output_far_from_zero_mean_is_as_precise_as_float32_allows():
    import numpy as np

    rs = np.random.RandomState(0)
    x = (3.0 + rs.randn(4, 32, 8, 8)).astype(np.float32)
    y = nn.BatchNorm2d(32)(rustdl.tensor(x)).detach().numpy().astype(np.float64)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(0, 2, 3), keepdims=True)
    var = x64.var(axis=(0, 2, 3), keepdims=True)
    ref = (x64 - mean) / np.sqrt(var + 1e-5)
    # a few float32 roundings of values up to ~4: well under 1e-6
    assert np.abs(y - ref).max() < 1e-6


@pytest.mark.parametrize("x", [-2000000.5, -12345.5, -3.5])
def test_trigamma_far_below_zero_by_reflection(x):
    import math

    # psi1(x) + psi1(1 - x) = pi^2 / sin^2(pi x) = pi^2 at half-integers; psi1(z) for large z by
    # its asymptotic series, for small z by the recurrence psi1(z) = psi1(z + 1) + 1/z^2
    def psi1(z):
        acc = 0.0
        while z < 50:
            acc += 1 / z**2
            z += 1
        return acc + 1 / z + 1 / (2 * z**2) + 1 / (6 * z**3) - 1 / (30 * z**5) + 1 / (42 * z**7)

    expected = math.pi**2 - psi1(1 - x)
    got = rustdl.polygamma(1, rustdl.tensor([x], dtype=rustdl.float64)).item()
    assert got == pytest.approx(expected, rel=1e-12)
    # zeta(2, x) is the same function; digamma's gradient is it too
    assert rustdl.special.zeta(
        rustdl.tensor([2.0], dtype=rustdl.float64), rustdl.tensor([x], dtype=rustdl.float64)
    ).item() == pytest.approx(expected, rel=1e-12)
    t = rustdl.tensor([x], dtype=rustdl.float64, requires_grad=True)
    rustdl.digamma(t).sum().backward()
    assert t.grad.item() == pytest.approx(expected, rel=1e-12)


def test_polygamma_of_higher_order_below_zero_matches_the_series():
    # psi^(2)(x) = -2 zeta(3, x); zeta(3, x) at x = -2.3 by direct summation of its first terms
    # and the Euler-Maclaurin tail of the rest
    x = -2.3
    head = sum((x + k) ** -3 for k in range(200))
    a = x + 200
    tail = a**-2 / 2 + a**-3 / 2 + 3 * a**-4 / 12
    got = rustdl.polygamma(2, rustdl.tensor([x], dtype=rustdl.float64)).item()
    assert got == pytest.approx(-2 * (head + tail), rel=1e-10)
