"""The GPU's two matmul kernels (64x64 and 128x128 output tiles) and the per-shape choice
between them: each kernel against a float64 numpy product over odd sizes and every operand
layout, convolutions and linear layers (which run on the same kernels) against the CPU, and
the measured choice with its cache file, run in fresh processes."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rustdl
import rustdl.nn.functional as F
from conftest import REQUIRE_GPU, gpu_available

pytestmark = pytest.mark.skipif(not gpu_available() and not REQUIRE_GPU, reason="no GPU adapter")

SIZES = [
    (1, 1, 1),
    (3, 5, 7),
    (67, 129, 33),
    (128, 128, 128),
    (129, 8, 257),
    (200, 300, 132),
    (256, 64, 512),
    (5, 1000, 3),
    (130, 12, 68),
]


@pytest.fixture
def tile(request):
    old = rustdl.gpu.set_matmul_tile(request.param)
    yield request.param
    rustdl.gpu.set_matmul_tile(old)


def kernels_of(fn):
    with rustdl.gpu.trace() as tr:
        out = fn()
        rustdl.gpu.synchronize()
    return out, {name for name, _ in tr}


def check_product(a, b, ga, gb, tile):
    y, names = kernels_of(lambda: ga @ gb)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    got = y.cpu().numpy()
    assert got.shape == ref.shape
    scale = np.abs(ref).max() + 1e-30
    assert np.abs(got - ref).max() / scale < 2e-6
    assert ("matmul_wide" if tile == 128 else "matmul") in names


@pytest.mark.parametrize("tile", [64, 128], indirect=True)
@pytest.mark.parametrize("m,k,n", SIZES)
@pytest.mark.parametrize("layout", ["rows", "a_t", "b_t", "both_t", "strided"])
def test_each_kernel_matches_float64_for_every_layout(tile, m, k, n, layout):
    rng = np.random.default_rng(m * 7 + k * 3 + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)

    def gpu(x, transposed):
        if transposed:
            return rustdl.tensor(np.ascontiguousarray(x.T), device="gpu").t()
        return rustdl.tensor(x, device="gpu")

    if layout == "strided":
        # every other column of a wider matrix: no unit inner stride, scalar loads
        wa = np.zeros((m, 2 * k), np.float32)
        wa[:, ::2] = a
        ga = rustdl.tensor(wa, device="gpu")[:, ::2]
        gb = gpu(b, False)
    else:
        ga = gpu(a, layout in ("a_t", "both_t"))
        gb = gpu(b, layout in ("b_t", "both_t"))
    check_product(a, b, ga, gb, tile)


@pytest.mark.parametrize("tile", [64, 128], indirect=True)
def test_each_kernel_runs_batched_and_broadcast_products(tile):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 2, 67, 36)).astype(np.float32)
    b = rng.standard_normal((3, 2, 36, 129)).astype(np.float32)
    check_product(a, b, rustdl.tensor(a, device="gpu"), rustdl.tensor(b, device="gpu"), tile)
    w = rng.standard_normal((130, 24)).astype(np.float32)
    xb = rng.standard_normal((4, 24, 136)).astype(np.float32)
    check_product(w, xb, rustdl.tensor(w, device="gpu"), rustdl.tensor(xb, device="gpu"), tile)


@pytest.mark.parametrize("tile", [64, 128], indirect=True)
def test_each_kernel_trains_linear_and_conv_layers_like_the_cpu(tile):
    # the bias epilogue, the transposed store of a convolution (NCHW), and the backward's
    # products (column-major operands) all run on the forced kernel
    rng = np.random.default_rng(11)
    cases = [
        (lambda x, w, b: F.linear(x, w, b), (131, 67), (129, 67), (129,)),
        (lambda x, w, b: F.conv2d(x, w, b, padding=1), (2, 5, 13, 11), (130, 5, 3, 3), (130,)),
        (lambda x, w, b: F.conv2d(x, w, b, stride=2), (3, 4, 17, 17), (8, 4, 1, 1), (8,)),
    ]
    for fn, sx, sw, sb in cases:
        vals = [rng.standard_normal(s).astype(np.float32) for s in (sx, sw, sb)]
        grads = {}
        for dev in ("cpu", "gpu"):
            ts = [rustdl.tensor(v, device=dev, requires_grad=True) for v in vals]
            y = fn(*ts)
            (y * y).sum().backward()
            grads[dev] = [y.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts]
        for c, g in zip(grads["cpu"], grads["gpu"]):
            assert c.shape == g.shape
            assert np.abs(c - g).max(initial=0) <= 1e-4 * (np.abs(c).max(initial=0) + 1)


def test_only_the_two_tiles_can_be_forced():
    with pytest.raises(ValueError, match="64 and 128"):
        rustdl.gpu.set_matmul_tile(96)
    assert rustdl.gpu.set_matmul_tile(None) is None


RUN = textwrap.dedent(
    """
    import numpy as np, rustdl
    rng = np.random.default_rng(0)
    a = rustdl.tensor(rng.standard_normal((512, 512)).astype(np.float32), device="gpu")
    b = rustdl.tensor(rng.standard_normal((512, 512)).astype(np.float32), device="gpu")
    rustdl.gpu.synchronize()
    with rustdl.gpu.trace() as tr:
        y = a @ b
        rustdl.gpu.synchronize()
    ref = a.cpu().numpy().astype(np.float64) @ b.cpu().numpy().astype(np.float64)
    assert np.abs(y.cpu().numpy() - ref).max() < 1e-3
    print(" ".join(name for name, _ in tr))
    """
)


def run_product(cache, **env):
    full = dict(os.environ, RUSTDL_CACHE_DIR=str(cache), **env)
    out = subprocess.run([sys.executable, "-c", RUN], env=full, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_large_product_times_both_kernels_once_and_later_processes_reuse_the_choice(tmp_path):
    first = run_product(tmp_path)
    # measured: one untimed and two timed runs of each kernel, then the product itself
    assert len(first) == 7 and first.count("matmul") >= 3 and first.count("matmul_wide") >= 3
    lines = [
        ln.split("\t")
        for ln in (tmp_path / "gpu_matmul_tiles.tsv").read_text().splitlines()
        if not ln.startswith("#")
    ]
    assert len(lines) == 1
    adapter, _cls, tile, ms64, ms128 = lines[0]
    assert rustdl.gpu.adapter_info()["name"] in adapter
    assert float(ms64) > 0 and float(ms128) > 0
    assert tile == ("128" if float(ms128) < float(ms64) else "64")
    chosen = "matmul_wide" if tile == "128" else "matmul"
    assert first[-1] == chosen
    # a new process reads the file: the product runs once, on the kernel chosen before
    assert run_product(tmp_path) == [chosen]


def test_the_choice_survives_a_damaged_cache_file_and_can_be_turned_off(tmp_path):
    (tmp_path / "gpu_matmul_tiles.tsv").write_text("\x00garbage\tm1\t7\n\tnot\ta line\n")
    # timing off: the size rule decides (512 x 512 is 16 wide tiles: the 64 kernel), no file
    assert run_product(tmp_path, RUSTDL_GPU_AUTOTUNE="0") == ["matmul"]
    assert "garbage" in (tmp_path / "gpu_matmul_tiles.tsv").read_text()
    # timing on: the damaged lines are skipped and the class is measured and appended
    names = run_product(tmp_path)
    assert len(names) == 7
    assert len((tmp_path / "gpu_matmul_tiles.tsv").read_text().splitlines()) == 3
    # an unwritable cache directory keeps the choice in memory only
    blocked = tmp_path / "file_not_dir"
    blocked.write_text("")
    assert len(run_product(blocked / "sub")) == 7


CONV_CASES = [
    # (input shape, weight shape, stride, padding, dilation)
    ((2, 3, 9, 7), (4, 3, 3, 3), 1, 1, 1),
    ((1, 1, 28, 28), (6, 1, 5, 5), 1, 2, 1),
    ((3, 5, 11, 13), (7, 5, 3, 2), (2, 1), (0, 1), 1),
    ((2, 4, 12, 12), (3, 4, 3, 3), 1, 2, 2),
    ((2, 6, 8, 8), (5, 6, 1, 1), 2, 0, 1),
    ((1, 2, 3, 3), (2, 2, 3, 3), 1, 0, 1),
    ((2, 3, 4, 5), (2, 3, 4, 5), 1, 3, 1),
    # strides that skip input pixels (their gradient is zero), odd sizes, dilation with stride
    ((2, 3, 10, 9), (4, 3, 2, 2), 3, 0, 1),
    ((1, 2, 9, 11), (3, 2, 3, 3), 2, 1, 1),
    ((2, 2, 13, 13), (2, 2, 3, 3), 2, 2, 3),
    # empty batch, no input channels (no output channels: refused, see below)
    ((0, 3, 8, 8), (4, 3, 3, 3), 1, 1, 1),
    ((2, 0, 6, 6), (4, 0, 3, 3), 1, 1, 1),
]


@pytest.mark.parametrize("dev", ["cpu", "gpu"])
def test_a_weight_of_no_output_channels_is_refused_as_pytorch(dev):
    x = rustdl.ones(2, 3, 6, 6, device=dev)
    with pytest.raises(RuntimeError, match="at least 1 at dimension 0"):
        F.conv2d(x, rustdl.ones(0, 3, 3, 3, device=dev))


@pytest.mark.parametrize("tile", [64, 128], indirect=True)
@pytest.mark.parametrize("channels", [3, 64])
def test_a_layer_with_many_input_channels_trains_without_column_matrices(tile, channels):
    # the input gradient is an implicit GEMM where its product is not mostly tile padding
    # (many input channels); with few it goes through a column gradient and col2im. Both are
    # checked against the CPU.
    rng = np.random.default_rng(channels)
    xv = rng.standard_normal((2, channels, 10, 9)).astype(np.float32)
    wv = (rng.standard_normal((64, channels, 3, 3)) * 0.1).astype(np.float32)
    out = {}
    for dev in ("cpu", "gpu"):
        x = rustdl.tensor(xv, device=dev, requires_grad=True)
        w = rustdl.tensor(wv, device=dev, requires_grad=True)
        y, fwd = kernels_of(lambda x=x, w=w: F.conv2d(x, w, padding=1))
        _, bwd = kernels_of(lambda y=y: (y * y).sum().backward())
        if dev == "gpu":
            assert "im2col" not in fwd | bwd
            assert ("col2im" in bwd) == (channels == 3)
        out[dev] = [y.detach().cpu().numpy(), x.grad.cpu().numpy(), w.grad.cpu().numpy()]
    for c, g in zip(out["cpu"], out["gpu"]):
        assert np.abs(c - g).max(initial=0) <= 1e-4 * (np.abs(c).max(initial=0) + 1)


@pytest.mark.parametrize("tile", [64, 128], indirect=True)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("view", ["dense", "channels_last", "cropped"])
def test_convolutions_read_their_columns_in_place_like_the_cpu(tile, case, view):
    # the forward and the weight gradient read the image through im2col addressing inside the
    # product, and the input gradient reads the output gradient through the transposed
    # addressing (no column matrix); the input may be any strided view
    sx, sw, stride, padding, dilation = CONV_CASES[case]
    rng = np.random.default_rng(case)
    big = list(sx)
    if view == "cropped":
        big[2] += 3
        big[3] += 2
    xv = rng.standard_normal(big).astype(np.float32)
    wv = rng.standard_normal(sw).astype(np.float32)
    bv = rng.standard_normal(sw[0]).astype(np.float32)
    out = {}
    for dev in ("cpu", "gpu"):
        base = rustdl.tensor(
            np.ascontiguousarray(xv.transpose(0, 2, 3, 1)) if view == "channels_last" else xv,
            device=dev,
        )
        if view == "channels_last":
            base = base.permute(0, 3, 1, 2)
        x = base[:, :, 1 : 1 + sx[2], 2 : 2 + sx[3]] if view == "cropped" else base
        x = x.detach().requires_grad_()
        w = rustdl.tensor(wv, device=dev, requires_grad=True)
        b = rustdl.tensor(bv, device=dev, requires_grad=True)
        y, names = kernels_of(
            lambda x=x, w=w, b=b: F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
        )
        if dev == "gpu":
            assert "im2col" not in names  # the forward never builds a column matrix
        (y * y).sum().backward()
        out[dev] = [
            y.detach().cpu().numpy(),
            x.grad.cpu().numpy(),
            w.grad.cpu().numpy(),
            b.grad.cpu().numpy(),
        ]
    for c, g in zip(out["cpu"], out["gpu"]):
        assert c.shape == g.shape
        assert np.abs(c - g).max(initial=0) <= 1e-4 * (np.abs(c).max(initial=0) + 1)


@pytest.mark.parametrize("tile", [64, 128], indirect=True)
@pytest.mark.parametrize("transposed_grad", [False, True])
def test_the_weight_gradient_reads_any_output_gradient_view(tile, transposed_grad):
    # the output gradient is read in place as (O, N·positions) when each image's positions are
    # one run of equal strides, and copied first when they are not (a transposed gradient)
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((3, 4, 9, 7)).astype(np.float32)
    wv = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    rv = rng.standard_normal((3, 5, 7, 9) if transposed_grad else (3, 5, 9, 7)).astype(np.float32)
    out = {}
    for dev in ("cpu", "gpu"):
        x = rustdl.tensor(xv, device=dev, requires_grad=True)
        w = rustdl.tensor(wv, device=dev, requires_grad=True)
        r = rustdl.tensor(rv, device=dev)
        y = F.conv2d(x, w, padding=1)
        (y.transpose(2, 3) if transposed_grad else y).mul(r).sum().backward()
        out[dev] = [x.grad.cpu().numpy(), w.grad.cpu().numpy()]
    for c, g in zip(out["cpu"], out["gpu"]):
        assert np.abs(c - g).max(initial=0) <= 1e-4 * (np.abs(c).max(initial=0) + 1)


@pytest.mark.parametrize("tile", [64, 128], indirect=True)
@pytest.mark.parametrize(
    "sx, sw, stride, padding",
    [
        ((16, 32, 1, 1), (24, 32, 3, 3), 1, 1),  # a ResNet's last stage on small inputs: 1x1
        ((9, 8, 2, 2), (12, 8, 3, 3), 2, 1),  # a strided block down to 1x1
        ((12, 5, 4, 3), (7, 5, 3, 3), 1, 1),  # 12 positions per image
        ((10, 6, 3, 3), (4, 6, 1, 1), 2, 0),  # a strided 1x1 shortcut
    ],
)
def test_a_batch_of_images_with_few_positions_is_one_product_like_the_cpu(tile, sx, sw, stride, padding):
    # images with a handful of output positions would each fill a 64-row tile with a few rows:
    # the batch is folded into the rows of one product through a column matrix (im2col), and
    # the input gradient through a column gradient (col2im)
    rng = np.random.default_rng(sx[0])
    xv = rng.standard_normal(sx).astype(np.float32)
    wv = (rng.standard_normal(sw) * 0.2).astype(np.float32)
    bv = rng.standard_normal(sw[0]).astype(np.float32)
    rv = None
    out = {}
    for dev in ("cpu", "gpu"):
        x = rustdl.tensor(xv, device=dev, requires_grad=True)
        w = rustdl.tensor(wv, device=dev, requires_grad=True)
        b = rustdl.tensor(bv, device=dev, requires_grad=True)
        y, fwd = kernels_of(lambda x=x, w=w, b=b: F.conv2d(x, w, b, stride=stride, padding=padding))
        if rv is None:
            rv = rng.standard_normal(y.shape).astype(np.float32)
        r = rustdl.tensor(rv, device=dev)
        _, bwd = kernels_of(lambda y=y, r=r: (y * r).sum().backward())
        if dev == "gpu":
            assert "im2col" in fwd and "col2im" in bwd
        out[dev] = [t.detach().cpu().numpy() for t in (y, x.grad, w.grad, b.grad)]
    # against a float64 reference of the forward too
    cols = np.lib.stride_tricks.sliding_window_view(
        np.pad(xv.astype(np.float64), ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2)), sw[2:], axis=(2, 3)
    )[:, :, ::stride, ::stride]
    ref = np.einsum("nchwij,ocij->nohw", cols, wv.astype(np.float64)) + bv[:, None, None]
    assert np.abs(out["gpu"][0] - ref).max() <= 1e-4 * (np.abs(ref).max() + 1)
    for c, g in zip(out["cpu"], out["gpu"]):
        assert c.shape == g.shape
        assert np.abs(c - g).max(initial=0) <= 1e-4 * (np.abs(c).max(initial=0) + 1)


def test_an_oversized_convolution_is_a_memory_error_naming_the_op_and_shapes():
    x = rustdl.zeros(64, 3, 224, 224, device="gpu")
    w = rustdl.zeros(4096, 3, 3, 3, device="gpu")
    with pytest.raises(MemoryError, match=r"conv2d: .*\[64, 50176, 27\] by \[64, 27, 4096\]"):
        F.conv2d(x, w, padding=1)
    with pytest.raises(MemoryError, match=r"matmul: .*\[60000, 10\] by \[10, 60000\]"):
        rustdl.zeros(60000, 10, device="gpu") @ rustdl.zeros(10, 60000, device="gpu")
    # the device keeps working afterwards
    y = rustdl.ones(3, 4, device="gpu") @ rustdl.ones(4, 2, device="gpu")
    assert y.cpu().numpy().tolist() == [[4.0, 4.0]] * 3
