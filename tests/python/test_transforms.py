"""rustdl.data.transforms against numpy references, on numpy arrays and on tensors (CPU and GPU)."""

import numpy as np
import pytest
import rustdl
from rustdl.data import transforms as T


def _batch(n=16, c=2, h=6, w=6, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def _apply(t, x, kind, device="cpu"):
    """Runs transform ``t`` on numpy ``x`` given as numpy (kind='numpy') or as a tensor on ``device``."""
    if kind == "numpy":
        out = t(x)
        assert isinstance(out, np.ndarray)
        return out
    out = t(rustdl.from_numpy(x).to(device))
    assert isinstance(out, rustdl.Tensor) and out.device == rustdl.device(device)
    return out.cpu().numpy()


KINDS = ["numpy", "tensor"]


# --- flips -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_flips_exact(kind, device):
    x = _batch()
    np.testing.assert_array_equal(_apply(T.RandomHorizontalFlip(p=1.0), x, kind, device), x[..., ::-1])
    np.testing.assert_array_equal(_apply(T.RandomVerticalFlip(p=1.0), x, kind, device), x[..., ::-1, :])
    np.testing.assert_array_equal(_apply(T.RandomHorizontalFlip(p=0.0), x, kind, device), x)


@pytest.mark.parametrize("kind", KINDS)
def test_flip_per_image_choice(kind, device):
    x = _batch(n=64)
    out = _apply(T.RandomHorizontalFlip(p=0.5), x, kind, device)
    flipped = np.array([np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x)])
    same = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert np.all(flipped ^ same)  # each image is either flipped or untouched
    assert 10 < flipped.sum() < 54  # and both happen


def test_flip_single_image_and_reproducible():
    img = _batch(n=1)[0]
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(img), img[..., ::-1])
    x = _batch(n=32)
    rustdl.manual_seed(7)
    a = T.RandomHorizontalFlip()(x)
    rustdl.manual_seed(7)
    np.testing.assert_array_equal(T.RandomHorizontalFlip()(x), a)


# --- crops -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_random_crop_is_a_window_of_the_padded_image(kind, device):
    x = _batch(n=24, h=5, w=7)
    pad = 2
    out = _apply(T.RandomCrop((5, 7), padding=pad, fill=-1.0), x, kind, device)
    assert out.shape == x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-1.0)
    offsets = set()
    for i in range(len(x)):
        hits = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if np.array_equal(out[i], padded[i, :, dy : dy + 5, dx : dx + 7])
        ]
        assert hits, f"image {i} is not a window of the padded image"
        offsets.add(hits[0])
    assert len(offsets) > 3  # offsets vary across the batch


def test_random_crop_shapes_and_padding_forms():
    x = _batch(n=4, h=8, w=10)
    assert T.RandomCrop(4)(x).shape == (4, 2, 4, 4)
    assert T.RandomCrop((3, 5))(x[0]).shape == (2, 3, 5)
    # (left/right, top/bottom) padding: width can grow by 2*1, height by 2*3
    assert T.RandomCrop((14, 12), padding=(1, 3))(x).shape == (4, 2, 14, 12)
    # a crop of the full padded size is exactly the padded image
    out = T.RandomCrop((8 + 2 + 4, 10 + 1 + 3), padding=(1, 2, 3, 4))(x)
    np.testing.assert_array_equal(out, np.pad(x, ((0, 0), (0, 0), (2, 4), (1, 3))))
    assert T.RandomCrop(12, pad_if_needed=True)(x).shape == (4, 2, 12, 12)
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(11)(x)


def test_random_crop_uint8_keeps_dtype():
    x = (np.random.default_rng(0).random((3, 1, 6, 6)) * 255).astype(np.uint8)
    out = T.RandomCrop(6, padding=1)(x)
    assert out.dtype == np.uint8


@pytest.mark.parametrize("kind", KINDS)
def test_random_resized_crop_full_crop_is_identity_and_half_is_block_mean(kind, device):
    x = _batch(n=5, h=8, w=8)
    same = T.RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    np.testing.assert_allclose(_apply(same, x, kind, device), x, rtol=0, atol=1e-6)
    half = T.RandomResizedCrop(4, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    blocks = x.reshape(5, 2, 4, 2, 4, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(_apply(half, x, kind, device), blocks, rtol=0, atol=1e-6)
    nearest = T.RandomResizedCrop(4, scale=(1.0, 1.0), ratio=(1.0, 1.0), interpolation="nearest")
    np.testing.assert_array_equal(_apply(nearest, x, kind, device), x[:, :, ::2, ::2])


def test_random_resized_crop_boxes_respect_scale_and_ratio():
    t = T.RandomResizedCrop(8, scale=(0.25, 0.5), ratio=(0.5, 2.0))
    h, w = 40, 60
    top, left, ch, cw = t.get_params(2000, h, w)
    assert np.all(top >= 0) and np.all(left >= 0) and np.all(top + ch <= h) and np.all(left + cw <= w)
    area = ch * cw / (h * w)
    assert area.min() > 0.2 and area.max() < 0.55  # rounding to whole pixels widens the range a little
    ratio = cw / ch
    assert ratio.min() > 0.45 and ratio.max() < 2.2
    assert T.RandomResizedCrop((5, 7))(_batch(n=3, h=20, w=20)).shape == (3, 2, 5, 7)


# --- rotation and affine ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_rotation_by_90_degrees_is_exact(kind, device):
    x = _batch(n=4, h=7, w=7)
    # positive angles turn counter-clockwise, as np.rot90 (and torchvision)
    np.testing.assert_array_equal(
        _apply(T.RandomRotation((90, 90)), x, kind, device), np.rot90(x, 1, axes=(2, 3))
    )
    np.testing.assert_array_equal(
        _apply(T.RandomRotation((-90, -90)), x, kind, device), np.rot90(x, -1, axes=(2, 3))
    )
    np.testing.assert_array_equal(_apply(T.RandomRotation((180, 180)), x, kind, device), x[..., ::-1, ::-1])
    even = _batch(n=2, h=6, w=6)
    np.testing.assert_array_equal(
        _apply(T.RandomRotation((90, 90)), even, kind, device), np.rot90(even, 1, axes=(2, 3))
    )
    np.testing.assert_array_equal(_apply(T.RandomRotation(0), x, kind, device), x)


def test_rotation_fills_corners_and_bilinear_runs():
    x = np.ones((2, 1, 9, 9), np.float32)
    out = T.RandomRotation((45, 45), fill=0.0)(x)
    assert out[0, 0, 0, 0] == 0.0 and out[0, 0, 4, 4] == 1.0
    bil = T.RandomRotation((30, 30), interpolation="bilinear")(x)
    assert bil.shape == x.shape and 0.0 <= bil.min() and bil.max() <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="interpolation"):
        T.RandomRotation(10, interpolation="cubic")


@pytest.mark.parametrize("kind", KINDS)
def test_affine_translation_is_an_integer_shift(kind, device):
    x = _batch(n=20, h=10, w=10) + 1.0  # no zeros, so the fill is recognisable
    out = _apply(T.RandomAffine(0, translate=(0.2, 0.2)), x, kind, device)
    shifts = set()
    for i in range(len(x)):
        found = None
        for ty in range(-2, 3):
            for tx in range(-2, 3):
                ref = np.zeros_like(x[i])
                ys, yd = slice(max(0, -ty), 10 - max(0, ty)), slice(max(0, ty), 10 - max(0, -ty))
                xs, xd = slice(max(0, -tx), 10 - max(0, tx)), slice(max(0, tx), 10 - max(0, -tx))
                ref[:, yd, xd] = x[i][:, ys, xs]
                if np.array_equal(out[i], ref):
                    found = (ty, tx)
        assert found is not None, f"image {i} is not a shift of at most 2 pixels"
        shifts.add(found)
    assert len(shifts) > 3


def test_affine_rotation_and_scale():
    x = _batch(n=3, h=7, w=7)
    np.testing.assert_array_equal(T.RandomAffine((90, 90))(x), np.rot90(x, 1, axes=(2, 3)))
    # zooming in by 2 about the centre (odd size): output pixel (i, j) samples (3 + (i-3)/2, 3 + (j-3)/2)
    z = T.RandomAffine(0, scale=(2.0, 2.0))(x)
    np.testing.assert_array_equal(z[:, :, 3, 3], x[:, :, 3, 3])
    np.testing.assert_array_equal(z[:, :, 1, 5], x[:, :, 2, 4])
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(0, translate=(1.5, 0))


# --- noise and normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_gaussian_noise_statistics(kind, device):
    x = np.full((50, 1, 40, 40), 0.5, np.float32)
    noise = _apply(T.GaussianNoise(std=0.2), x, kind, device) - x
    assert abs(noise.std() - 0.2) < 0.004  # 80 000 samples: standard error of the std ~ 0.0005
    assert abs(noise.mean()) < 0.004
    assert not np.array_equal(noise[0], noise[1])
    np.testing.assert_array_equal(_apply(T.GaussianNoise(std=0.0), x, kind, device), x)


def test_gaussian_noise_rejects_integers():
    with pytest.raises(TypeError, match="floating-point"):
        T.GaussianNoise(0.1)(np.zeros((1, 2, 2), np.uint8))


@pytest.mark.parametrize("kind", KINDS)
def test_normalize_matches_numpy(kind, device):
    x = _batch(n=3, c=3)
    mean, std = [0.1, 0.5, 0.9], [0.2, 0.3, 0.4]
    ref = (x - np.array(mean).reshape(1, 3, 1, 1)) / np.array(std).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(_apply(T.Normalize(mean, std), x, kind, device), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(T.Normalize(mean, std)(x[0]), ref[0], rtol=1e-5, atol=1e-6)


def test_normalize_errors():
    with pytest.raises(ValueError, match="3 channels"):
        T.Normalize([0.1, 0.2], [1.0, 1.0])(_batch(c=3))
    with pytest.raises(ValueError, match="non-zero"):
        T.Normalize([0.0], [0.0])


def test_compose_to_tensor_and_input_errors():
    x = (np.arange(2 * 1 * 4 * 4) % 256).astype(np.uint8).reshape(2, 1, 4, 4)
    t = T.Compose([T.ToTensor(), T.RandomHorizontalFlip(1.0), T.Normalize([0.5], [0.5])])
    out = t(x)
    assert isinstance(out, rustdl.Tensor) and out.dtype == rustdl.float32
    np.testing.assert_allclose(out.numpy(), (x[..., ::-1] / 255.0 - 0.5) / 0.5, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        T.RandomHorizontalFlip()(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="numpy array"):
        T.RandomCrop(2)([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="probability"):
        T.RandomVerticalFlip(p=2.0)
