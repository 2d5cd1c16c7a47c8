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


def test_lerp_evaluates_from_the_nearer_end():
    big, small = rustdl.tensor([1e8, 1382951.9]), rustdl.tensor([1.0, 2.6876647])
    assert rustdl.lerp(big, small, 1.0).tolist() == small.tolist()  # w = 1 gives end exactly
    w = rustdl.tensor([0.25, 1.0])
    assert rustdl.lerp(rustdl.tensor([0.0, 1e8]), rustdl.tensor([4.0, 1.0]), w).tolist() == [1.0, 1.0]
    a = big.clone()
    a.lerp_(small, 1.0)
    assert a.tolist() == small.tolist()
    x = rustdl.tensor([1.0, 2.0], requires_grad=True)
    y = rustdl.tensor([3.0, 5.0], requires_grad=True)
    wt = rustdl.tensor([0.2, 0.7], requires_grad=True)
    rustdl.lerp(x, y, wt).sum().backward()
    assert x.grad.tolist() == pytest.approx([0.8, 0.3])
    assert y.grad.tolist() == pytest.approx([0.2, 0.7])
    assert wt.grad.tolist() == pytest.approx([2.0, 3.0])


def test_operators_leave_lists_and_tuples_to_python():
    assert [0] * rustdl.tensor(3) == [0, 0, 0]
    assert rustdl.tensor(2) * [1, 2] == [1, 2, 1, 2]
    assert (0,) * rustdl.tensor(2) == (0, 0)
    for bad in (
        lambda: rustdl.tensor([1]) + [1],
        lambda: [1, 2] + rustdl.tensor([3]),
        lambda: rustdl.tensor([1]) < [2],
    ):
        with pytest.raises(TypeError):
            bad()
    assert (rustdl.tensor([1, 2]) == [1, 2]) is False


def test_int_of_a_float_tensor_is_exact_beyond_int64():
    assert int(rustdl.tensor(1e20)) == int(float(rustdl.tensor(1e20)))
    assert int(rustdl.tensor(2.0**63)) == 2**63
    assert int(rustdl.tensor(-3.7)) == -3


def test_full_with_numpy_scalars_takes_their_kind():
    import numpy as np

    assert rustdl.full((2,), np.int64(2)).dtype == rustdl.int64
    assert rustdl.full((2,), np.int32(2)).tolist() == [2, 2]
    assert rustdl.full((2,), np.bool_(True)).dtype == rustdl.bool
    assert rustdl.full((2,), np.float64(2.5)).dtype == rustdl.float32
    assert rustdl.full((2,), rustdl.tensor(4)).dtype == rustdl.int64
    assert rustdl.full((2,), rustdl.tensor(True)).dtype == rustdl.bool
    assert rustdl.full((2,), rustdl.tensor(4.5, dtype=rustdl.float64)).dtype == rustdl.float32


def test_numpy_functions_of_tensors_give_tensors():
    import numpy as np

    t = rustdl.tensor([0.5, 2.0])
    clipped = np.clip(t, 0, 1)
    assert isinstance(clipped, rustdl.Tensor) and clipped.tolist() == [0.5, 1.0]
    assert isinstance(np.exp(t), rustdl.Tensor)
    assert np.isnan(t).dtype == rustdl.uint8
    assert np.argmax(t).item() == 1


def test_numpy_float_and_empty_index_arrays_and_misaligned_arrays():
    import numpy as np

    x = rustdl.arange(3.0)
    assert x[np.array([])].tolist() == []
    assert x[np.array([1.0])].tolist() == [1.0]
    raw = np.zeros(17, np.uint8)
    raw[1:5] = np.frombuffer(np.float32(1.5).tobytes(), np.uint8)
    misaligned = raw[1:].view(np.float32)
    assert rustdl.from_numpy(misaligned).tolist() == [1.5, 0.0, 0.0, 0.0]


def test_stochastic_depth_draws_as_bernoulli():
    from rustdl.models._misc import stochastic_depth

    rustdl.manual_seed(0)
    got = stochastic_depth(rustdl.ones(16, 1), 0.5, "row", True)
    rustdl.manual_seed(0)
    mask = rustdl.empty(16, 1).bernoulli_(0.5)
    assert got.tolist() == (mask * 2).tolist()


def test_fused_attention_on_the_gpu_spreads_a_nan_as_softmax_does(gpu):
    import rustdl.nn.functional as F

    q, k, v = rustdl.randn(1, 1, 3, 4), rustdl.randn(1, 1, 3, 4), rustdl.randn(1, 1, 3, 2)
    q[0, 0, 1, 0] = float("nan")
    out = F.scaled_dot_product_attention(q.to(gpu), k.to(gpu), v.to(gpu)).cpu()
    # the reference: softmax(q k^T / 2) v, composed on the CPU (the NaN row is NaN)
    w = (q @ k.transpose(-2, -1) / 2.0).softmax(-1)
    ref = w @ v
    assert out[0, 0, 1].isnan().all()
    assert_rows = [0, 2]
    for r in assert_rows:
        assert out[0, 0, r].tolist() == pytest.approx(ref[0, 0, r].tolist(), rel=1e-5, abs=1e-6)


def test_gpu_ops_with_a_cpu_scalar_operand(gpu):
    import rustdl.nn.functional as F

    x = rustdl.tensor([1.0, -2.0, 3.0], device=gpu, requires_grad=True)
    s = rustdl.tensor(0.5, requires_grad=True)  # 0-d, on the CPU
    rustdl.atan2(x, s).sum().backward()
    # d/dy atan2(y, x) = x / (x^2 + y^2); d/dx = -y / (x^2 + y^2)
    ys = [1.0, -2.0, 3.0]
    assert x.grad.cpu().tolist() == pytest.approx([0.5 / (0.25 + y * y) for y in ys], rel=1e-5)
    assert s.grad.device.type == "cpu"
    assert s.grad.item() == pytest.approx(sum(-y / (0.25 + y * y) for y in ys), rel=1e-5)
    assert rustdl.gcd(rustdl.arange(8).to(gpu), rustdl.tensor(6)).cpu().tolist() == [6, 1, 2, 3, 2, 1, 6, 1]
    pooled = F.max_pool2d(rustdl.arange(16).reshape(1, 1, 4, 4).to(gpu), 2)
    assert pooled.dtype == rustdl.int64 and pooled.device.type != "cpu"
    assert pooled.cpu().tolist() == [[[[5, 7], [13, 15]]]]


def test_pil_crops_of_fractional_boxes_round_as_pil_does():
    import numpy as np
    from PIL import Image
    from rustdl.torchcompat.torchvision.transforms import functional as TF

    arr = (np.arange(218 * 178 * 3) % 251).astype(np.uint8).reshape(218, 178, 3)
    img = Image.fromarray(arr)
    # PIL rounds the box: (20.4, 10.6, 60.9, 41.1) -> (20, 11, 61, 41)
    c = TF.crop(img, 10.6, 20.4, 30.5, 40.5)
    assert c.size == (41, 30)
    assert np.array_equal(np.asarray(c), arr[11:41, 20:61])
    # centre crop of 0.7 x the size: 152.6 x 124.6, top round(32.7) = 33, left round(26.7) = 27
    cc = TF.center_crop(img, [0.7 * 218, 0.7 * 178])
    assert cc.size == img.crop((27, 33, 27 + 0.7 * 178, 33 + 0.7 * 218)).size == (125, 153)


def test_mnist_reads_the_users_idx_files_under_root(tmp_path):
    import gzip

    import numpy as np
    from rustdl.torchcompat.torchvision.datasets import MNIST

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    labs = rng.integers(0, 10, 6, dtype=np.uint8)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(
        bytes([0, 0, 8, 3]) + np.array([6, 28, 28], ">u4").tobytes() + imgs.tobytes()
    )
    with gzip.open(raw / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + np.array([6], ">u4").tobytes() + labs.tobytes())
    ds = MNIST(str(tmp_path), train=False)
    assert len(ds) == 6 and ds.targets.tolist() == labs.tolist()
    img, label = ds[4]
    assert np.array_equal(np.asarray(img), imgs[4]) and label == int(labs[4])


def test_rnn_dtype_mismatch_and_one_hot_of_floats_raise_pytorchs_classes():
    import rustdl.nn.functional as F

    with pytest.raises(ValueError, match="does not match weight dtype"):
        nn.LSTM(3, 4)(rustdl.randn(5, 2, 3, dtype=rustdl.float64))
    with pytest.raises(RuntimeError):
        F.one_hot(rustdl.tensor([1.0, 2.0]))
    assert nn.GRU(3, 4).double()(rustdl.randn(5, 2, 3, dtype=rustdl.float64))[0].dtype == rustdl.float64


def test_beta_zero_ignores_the_input_but_gives_it_a_zero_gradient():
    b = rustdl.tensor([float("nan"), 1.0], requires_grad=True)
    x = rustdl.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    y = rustdl.addmm(b, x, rustdl.eye(2), beta=0)
    assert y.tolist() == x.tolist()
    y.sum().backward()
    assert b.grad is not None and b.grad.tolist() == [0.0, 0.0]


def test_intermediate_layer_getter_returns_the_named_children_outputs():
    from rustdl.models import resnet18
    from rustdl.models._utils import IntermediateLayerGetter, _make_divisible

    m = resnet18(num_classes=10).eval()
    g = IntermediateLayerGetter(m, {"layer2": "l2", "layer4": "l4"})
    assert list(g.keys()) == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    x = rustdl.randn(1, 3, 64, 64)
    out = g(x)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"l2": (1, 128, 8, 8), "l4": (1, 512, 2, 2)}
    ref = m.layer4(m.layer3(m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x))))))))
    assert rustdl.equal(out["l4"], ref)
    assert _make_divisible(37, 8) == 40
    with pytest.raises(ValueError):
        IntermediateLayerGetter(m, {"nope": "x"})


def test_hardswish_of_minus_infinity_is_nan():
    import rustdl.nn.functional as F

    y = F.hardswish(rustdl.tensor([float("-inf"), float("inf"), -3.5, 1.0]))
    assert y[0].isnan().item() and y[1:].tolist() == pytest.approx([float("inf"), 0.0, 2.0 / 3.0])


def test_gpu_cross_entropy_of_large_logits_keeps_its_digits(gpu):
    import math

    import rustdl.nn.functional as F

    x = rustdl.tensor([[1e5, 1e5, 99999.0], [1.0, 2.0, 3.0]])
    t = rustdl.tensor([0, 2])
    # -log softmax: log(1 + 1 + e^-1) for the first row, log(e^-2 + e^-1 + 1) for the second
    ref = [math.log(2 + math.exp(-1)), math.log(math.exp(-2) + math.exp(-1) + 1)]
    got = F.cross_entropy(x.to(gpu), t.to(gpu), reduction="none").cpu().tolist()
    assert got == pytest.approx(ref, rel=1e-6)
    smooth = F.cross_entropy(x.to(gpu), t.to(gpu), label_smoothing=0.5).item()
    assert smooth == pytest.approx(F.cross_entropy(x, t, label_smoothing=0.5).item(), rel=1e-6)


def test_copy_of_a_parameter_is_a_parameter_over_the_same_storage():
    import copy

    p = nn.Parameter(rustdl.ones(2))
    c = copy.copy(p)
    assert isinstance(c, nn.Parameter) and c is not p and c.requires_grad
    assert c.data_ptr() == p.data_ptr()
    assert copy.copy(nn.Parameter(rustdl.ones(2), requires_grad=False)).requires_grad is False
