"""PyTorch-program gaps found by running vision programs cold: the core's argument errors are
also RuntimeErrors (as PyTorch raises), ``interpolate(antialias=True)``, torchvision's affine
transforms, crop padding modes, ``make_grid`` of one image, ResNet initialisation and ToTensor's
dtype. References are closed forms and numpy (no torch involved)."""

import math

import numpy as np
import pytest
import rustdl
from rustdl.torchcompat.torchvision import models
from rustdl.torchcompat.torchvision import transforms as T
from rustdl.torchcompat.torchvision import utils as tv_utils
from rustdl.torchcompat.torchvision.transforms import functional as TF

F = rustdl.nn.functional


@pytest.mark.parametrize(
    "call, builtin",
    [
        (lambda: rustdl.ones(2, 3) @ rustdl.ones(2, 3), ValueError),
        (lambda: rustdl.ones(2, 3) + rustdl.ones(3, 2), ValueError),
        (lambda: rustdl.ones(2).item(), ValueError),
        (lambda: rustdl.nn.Conv2d(1, 1, 5)(rustdl.ones(1, 1, 3, 3)), ValueError),
        (lambda: rustdl.nn.BatchNorm2d(3)(rustdl.ones(2, 4, 3, 3)), ValueError),
        (
            lambda: rustdl.nn.LSTM(3, 4)(
                rustdl.ones(5, 2, 3), (rustdl.zeros(1, 3, 4), rustdl.zeros(1, 3, 4))
            ),
            ValueError,
        ),
    ],
)
def test_argument_errors_are_also_runtime_errors(call, builtin):
    # PyTorch raises RuntimeError for these; code written for it catches them with
    # `except RuntimeError`, and code written for rustdl with the builtin
    with pytest.raises(RuntimeError) as e:
        call()
    assert isinstance(e.value, builtin)
    assert issubclass(rustdl.ShapeError, ValueError) and issubclass(rustdl.DTypeError, TypeError)
    # the library is usable afterwards
    assert float((rustdl.ones(2) + 1).sum()) == 4.0


def _aa_halving(a):
    """1-D antialiased 2x downscale in closed form: the triangle kernel widened to 4 taps,
    weights (1, 3, 3, 1)/8 around each pair, renormalised over the taps inside the signal."""
    n = len(a)
    out = []
    for i in range(n // 2):
        taps = [(2 * i - 1, 1.0), (2 * i, 3.0), (2 * i + 1, 3.0), (2 * i + 2, 1.0)]
        taps = [(j, w) for j, w in taps if 0 <= j < n]
        out.append(sum(w * a[j] for j, w in taps) / sum(w for _, w in taps))
    return np.array(out)


def test_interpolate_antialias_halving_matches_the_closed_form_and_has_gradients():
    img = np.random.default_rng(0).standard_normal((8, 10))
    ref = np.stack([_aa_halving(r) for r in img])  # along W
    ref = np.stack([_aa_halving(c) for c in ref.T]).T  # along H
    x = rustdl.tensor(img.reshape(1, 1, 8, 10), requires_grad=True)
    y = F.interpolate(x, size=(4, 5), mode="bilinear", antialias=True)
    np.testing.assert_allclose(y.detach().numpy()[0, 0], ref, atol=1e-12)
    # the map is linear: the gradient of sum(y * g) is the transposed map applied to g
    g = np.random.default_rng(1).standard_normal((4, 5))
    (y * rustdl.tensor(g.reshape(1, 1, 4, 5))).sum().backward()
    eps, k = 1e-6, (3, 7)
    bumped = img.copy()
    bumped[k] += eps
    yb = F.interpolate(
        rustdl.tensor(bumped.reshape(1, 1, 8, 10)), size=(4, 5), mode="bilinear", antialias=True
    )
    fd = float(((yb.numpy()[0, 0] - ref) * g).sum()) / eps
    assert abs(float(x.grad[0, 0][k]) - fd) < 1e-5
    # upscaling with antialias is ordinary bilinear interpolation
    up = F.interpolate(x.detach(), size=(16, 20), mode="bilinear", antialias=True)
    np.testing.assert_allclose(
        up.numpy(), F.interpolate(x.detach(), size=(16, 20), mode="bilinear").numpy(), atol=1e-12
    )
    with pytest.raises(ValueError):
        F.interpolate(x, size=(4, 5), mode="nearest", antialias=True)


def _affine_ref(a, angle, translate, scale, shear):
    """Nearest-neighbour inverse mapping about the centre (pixel k's centre at k + 0.5): a
    clockwise rotation R(angle) composed with an x-shear, scaled, then translated."""
    h, w = a.shape
    th, sh = math.radians(angle), math.radians(shear)
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    shear_m = np.array([[1.0, -math.tan(sh)], [0.0, 1.0]])
    fwd = scale * rot @ shear_m
    inv = np.linalg.inv(fwd)
    out = np.zeros_like(a)
    for i in range(h):
        for j in range(w):
            p = np.array([j + 0.5 - w / 2 - translate[0], i + 0.5 - h / 2 - translate[1]])
            sx, sy = inv @ p
            si, sj = np.rint(sy + h / 2 - 0.5), np.rint(sx + w / 2 - 0.5)
            if 0 <= si < h and 0 <= sj < w:
                out[i, j] = a[int(si), int(sj)]
    return out


@pytest.mark.parametrize(
    "angle, translate, scale, shear",
    [(90.0, (0, 0), 1.0, 0.0), (30.0, (2, -1), 1.25, 0.0), (0.0, (1, 0), 1.0, 20.0)],
)
def test_affine_matches_an_inverse_mapping_reference(angle, translate, scale, shear):
    a = np.arange(12.0 * 12).reshape(12, 12)
    got = TF.affine(rustdl.tensor(a[None]), angle, list(translate), scale, shear).numpy()[0]
    ref = _affine_ref(a, angle, translate, scale, shear)
    # nearest sampling: at most a few ties may round the other way
    assert (np.abs(got - ref) > 1e-9).sum() <= 3
    if angle == 90.0:  # a quarter turn clockwise of a square image is exact
        np.testing.assert_array_equal(got, np.rot90(a, k=-1))


def test_random_transforms_take_torchvisions_arguments():
    rustdl.manual_seed(0)
    img = np.random.default_rng(0).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    t = rustdl.from_numpy(img.transpose(2, 0, 1).astype(np.float32) / 255)
    # reflect-padded crop: every output column is a column of the reflect-padded image
    out = T.RandomCrop(12, padding=4, padding_mode="reflect")(t).numpy()
    padded = np.pad(t.numpy(), ((0, 0), (4, 4), (4, 4)), mode="reflect")
    assert out.shape == (3, 12, 12)
    assert any(
        np.array_equal(out, padded[:, i : i + 12, j : j + 12])
        for i in range(padded.shape[1] - 11)
        for j in range(padded.shape[2] - 11)
    )
    # pad_if_needed with a per-channel fill
    big = T.RandomCrop(24, pad_if_needed=True, fill=(1, 2, 3))(t).numpy()
    # padded by 4 left/right and 8 top/bottom to 24 x 28: the first row is all fill
    assert big.shape == (3, 24, 24)
    np.testing.assert_array_equal(big[:, 0, :], np.array([1.0, 2.0, 3.0])[:, None].repeat(24, 1))
    assert T.RandomResizedCrop(8, antialias=True, interpolation=T.InterpolationMode.BICUBIC)(t).shape == (
        3,
        8,
        8,
    )
    assert T.RandomRotation(30, expand=True, fill=(0, 0, 0))(img).shape[2] == 3
    for tr in (
        T.RandomAffine(10, shear=10),
        T.RandomAffine(10, center=(0, 0)),
        T.RandomAffine(0, shear=(1, 2, 3, 4), fill=0.5),
    ):
        assert tr(t).shape == (3, 16, 20) and tr(img).shape == (16, 20, 3)
    # degrees 0, no translate/scale/shear: the identity
    np.testing.assert_array_equal(T.RandomAffine(0)(t).numpy(), t.numpy())
    # a batch tensor is flipped as one, as torchvision
    b = rustdl.arange(8.0).reshape(2, 1, 1, 4)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(b).numpy(), b.numpy()[..., ::-1])


def test_make_grid_of_one_image_is_that_image():
    x = rustdl.rand(3, 4, 5)
    np.testing.assert_array_equal(tv_utils.make_grid(x).numpy(), x.numpy())
    assert tuple(tv_utils.make_grid(rustdl.rand(1, 3, 4, 5), padding=3).shape) == (3, 4, 5)
    assert tuple(tv_utils.make_grid(rustdl.rand(4, 4, 5)).shape) == (4, 4, 5)  # one 4-channel image
    assert tuple(tv_utils.make_grid(rustdl.rand(2, 1, 4, 5)).shape) == (3, 8, 16)


def test_resnet_is_initialised_as_torchvision():
    rustdl.manual_seed(0)
    m = models.resnet18(num_classes=10)
    w = m.layer1[0].conv1.weight  # He-normal, fan out: std sqrt(2 / (64 * 9))
    assert abs(float(w.std()) - math.sqrt(2 / (64 * 9))) < 0.003
    assert abs(float(m.conv1.weight.std()) - math.sqrt(2 / (64 * 49))) < 0.002
    z = models.resnet18(zero_init_residual=True)
    assert float(z.layer1[0].bn2.weight.abs().sum()) == 0.0 and float(z.layer1[0].bn1.weight.sum()) == 64.0


def test_to_tensor_keeps_non_uint8_dtypes():
    assert TF.to_tensor(np.zeros((4, 5, 3), np.uint8)).dtype == rustdl.float32
    assert TF.to_tensor(np.full((4, 5), 2.0, np.float64)).dtype == rustdl.float64
    x = TF.to_tensor(np.full((4, 5, 3), 7, np.int32))
    assert x.dtype == rustdl.int32 and float(x.sum()) == 7 * 60  # values unscaled


def test_torchvision_io_round_trips_and_folder_loaders(tmp_path):
    from PIL import Image
    from rustdl.torchcompat.torchvision import io as tv_io

    img = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    x = tv_io.read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(x.numpy(), img.transpose(2, 0, 1))
    gray = tv_io.read_image(str(tmp_path / "a.png"), tv_io.ImageReadMode.GRAY)
    np.testing.assert_array_equal(gray.numpy()[0], np.asarray(Image.fromarray(img).convert("L")))
    tv_io.write_png(x, tmp_path / "b.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), img)
    np.testing.assert_array_equal(tv_io.decode_image(tv_io.read_file(tmp_path / "b.png")).numpy(), x.numpy())
    # `torchvision.datasets.folder` resolves under the compat runner
    (tmp_path / "c").mkdir()
    prog = tmp_path / "p.py"
    prog.write_text(
        "from torchvision.datasets.folder import default_loader, IMG_EXTENSIONS\n"
        f"print(default_loader({str(tmp_path / 'a.png')!r}).size, '.png' in IMG_EXTENSIONS)\n"
    )
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "rustdl.torchcompat", str(prog)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-800:]
    assert r.stdout.strip() == "(5, 6) True"


def test_legacy_new_constructor():
    w = rustdl.ones(4, 3, dtype=rustdl.float64)
    assert tuple(w.new(2, 3).zero_().shape) == (2, 3) and w.new(2, 3).dtype == rustdl.float64
    assert tuple(w.new().shape) == (0,)
    assert tuple(w.new(w.size()).shape) == (4, 3)
    np.testing.assert_array_equal(w.new([1, 2]).numpy(), [1.0, 2.0])
    m = w.new().resize_((4, 1)).bernoulli_(0.5)
    assert set(np.unique(m.numpy()).tolist()) <= {0.0, 1.0}


def test_rnn_weight_lists_and_packed_sequence_attributes():
    lstm = rustdl.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert len(lstm.all_weights) == 4 and len(lstm._flat_weights) == 16
    assert lstm._flat_weights_names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert lstm.all_weights[1][0] is lstm.weight_ih_l0_reverse
    packed = rustdl.nn.utils.rnn.pack_padded_sequence(rustdl.ones(3, 2, 1), [3, 2])
    assert packed.is_cuda is False
    # PyTorch raises RuntimeError for these
    with pytest.raises(RuntimeError, match="sorted"):
        rustdl.nn.utils.rnn.pack_padded_sequence(rustdl.ones(3, 2, 1), [2, 3])
    with pytest.raises(RuntimeError):
        rustdl.nn.utils.rnn.pad_sequence([rustdl.ones(2, 3), rustdl.ones(2, 4)])


def test_kl_div_is_xlogy_minus_target_times_input():
    # PyTorch: xlogy(t, t) - t * input, so a zero target against -inf is 0 * inf = nan
    inf = float("inf")
    out = F.kl_div(
        rustdl.tensor([-inf, -1.0, -inf]), rustdl.tensor([0.0, 0.5, 0.3]), reduction="none"
    ).numpy()
    assert math.isnan(out[0]) and out[2] == inf
    assert abs(out[1] - 0.5 * (math.log(0.5) + 1.0)) < 1e-6
    x = rustdl.tensor([-1.0, -2.0, -0.5], requires_grad=True)
    F.kl_div(x, rustdl.tensor([0.0, 0.5, 0.5]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, -0.5, -0.5])


def test_tensor_dataset_batches_are_lists_and_optimizer_steps_answer_item():
    ds = rustdl.data.TensorDataset(rustdl.arange(6.0).reshape(6, 1), rustdl.arange(6))
    batch = next(iter(rustdl.data.DataLoader(ds, batch_size=4)))
    assert type(batch) is list
    batch[0] = batch[0].double()  # PyTorch programs assign into the batch
    p = rustdl.nn.Parameter(rustdl.ones(3))
    opt = rustdl.optim.Adam([p], lr=0.1)
    for _ in range(3):
        p.sum().backward()
        opt.step()
    step = opt.state[p]["step"]
    assert step == 3 and step.item() == 3.0 and float(step.float()) == 3.0
    assert opt.state_dict()["state"][0]["step"].item() == 3.0


def test_data_ptr_reflects_shared_storage():
    t = rustdl.arange(10.0)
    assert t.data_ptr() == t.detach().data_ptr() == t.data.data_ptr()
    assert t[1:].data_ptr() - t.data_ptr() == 4  # one float32 further
    assert t.data_ptr() != rustdl.arange(10.0).data_ptr()
    enc = rustdl.nn.Embedding(5, 3)
    dec = rustdl.nn.Linear(3, 5, bias=False)
    dec.weight = enc.weight  # tied weights, found by address as PyTorch programs do
    sd = rustdl.nn.ModuleDict({"e": enc, "d": dec}).state_dict()
    assert sd["e.weight"].data_ptr() == sd["d.weight"].data_ptr()
    assert rustdl.zeros(0).data_ptr() == 0


def test_differential_fuzz_value_and_gradient_fixes():
    inf = float("inf")
    # atan2 with infinities (and infinite y over zero x), as numpy's IEEE atan2
    y = np.array([-inf, inf, inf, -inf, 1.0, 0.0, inf, 3.0])
    x = np.array([0.0, -inf, inf, -inf, -inf, -0.0, 5.0, 0.0])
    np.testing.assert_allclose(rustdl.atan2(rustdl.tensor(y), rustdl.tensor(x)).numpy(), np.arctan2(y, x))
    # a 0-d tensor fill value that requires grad gets the count of filled positions
    v = rustdl.tensor(3.0, requires_grad=True)
    a = rustdl.tensor([1.0, -1.0, 2.0], requires_grad=True)
    a.masked_fill(a > 0, v).sum().backward()
    assert float(v.grad) == 2.0
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 1.0, 0.0])
    # d/dx 0**x is 0 for x >= 0 (not 0 * log 0)
    e = rustdl.tensor([0.0, 1.0, 2.0], requires_grad=True)
    (0**e).sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), [0.0, 0.0, 0.0])


def test_pinv_of_a_rank_deficient_matrix_with_grad():
    m = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    a = rustdl.tensor(m, requires_grad=True)
    p = rustdl.linalg.pinv(a)
    np.testing.assert_allclose(p.detach().numpy(), np.linalg.pinv(m), atol=1e-12)
    g = np.arange(9.0).reshape(3, 3)
    (p * rustdl.tensor(g)).sum().backward()
    # the constant-rank derivative, in numpy: -Pᵀ G Pᵀ + (I - A P) Gᵀ P Pᵀ + Pᵀ P Gᵀ (I - P A)
    pn, eye = np.linalg.pinv(m), np.eye(3)
    ref = -pn.T @ g @ pn.T + (eye - m @ pn) @ g.T @ pn @ pn.T + pn.T @ pn @ g.T @ (eye - pn @ m)
    np.testing.assert_allclose(a.grad.numpy(), ref, atol=1e-10)
    full = rustdl.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    assert rustdl.autograd.gradcheck(lambda t: rustdl.linalg.pinv(t), (full,))
