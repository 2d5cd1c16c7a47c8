"""The torchvision shim's colour / blur / erasing / padding transforms, ``transforms.functional`` and
``transforms.v2``, checked against numpy and closed-form references (no torch involved)."""

import colorsys
import json
import random

import numpy as np
import pytest
import rustdl
from conftest import run_compat
from rustdl.torchcompat.torchvision import transforms as T
from rustdl.torchcompat.torchvision.transforms import functional as F
from rustdl.torchcompat.torchvision.transforms import v2


def _rgb(h=9, w=7, seed=0):
    """A random (H, W, 3) uint8 image and the same as a float32 (3, H, W) tensor in [0, 1]."""
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    t = rustdl.from_numpy(img.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    return img, t


def test_grayscale_is_the_luma_weighted_sum():
    img, t = _rgb()
    x = t.numpy().astype(np.float64)
    # tensors: torchvision's tensor weights
    ref = 0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    g = F.rgb_to_grayscale(t)
    assert tuple(g.shape) == (1, 9, 7)
    np.testing.assert_allclose(g.numpy()[0], ref, atol=1e-6)
    g3 = T.Grayscale(num_output_channels=3)(t).numpy()
    np.testing.assert_allclose(g3, np.stack([ref] * 3), atol=1e-6)
    # numpy / PIL images: ITU-R 601-2 (0.299, 0.587, 0.114), rounded to uint8
    gi = T.Grayscale()(img)
    assert gi.shape == (9, 7) and gi.dtype == np.uint8
    f = img.astype(np.float64)
    ref_u8 = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    assert np.abs(gi - ref_u8).max() <= 0.5 + 1e-3
    # RandomGrayscale keeps the channel count; p=0 changes nothing
    rg = T.RandomGrayscale(p=1.0)(img)
    assert rg.shape == img.shape
    np.testing.assert_array_equal(rg[..., 0], gi)
    np.testing.assert_array_equal(rg[..., 2], gi)
    np.testing.assert_array_equal(T.RandomGrayscale(p=0.0)(img), img)


def test_brightness_multiplies_and_clamps():
    img, t = _rgb()
    x = t.numpy()
    np.testing.assert_allclose(F.adjust_brightness(t, 1.7).numpy(), np.minimum(x * 1.7, 1.0), atol=1e-6)
    np.testing.assert_allclose(F.adjust_brightness(t, 0.4).numpy(), x * 0.4, atol=1e-6)
    out = F.adjust_brightness(img, 1.3)
    assert out.dtype == np.uint8
    # computed in float32 and truncated, as PIL (170 * float32(1.3) = 220.99999 -> 220)
    np.testing.assert_array_equal(out, np.minimum(np.floor(img.astype(np.float32) * np.float32(1.3)), 255))
    with pytest.raises(ValueError, match="non-negative"):
        F.adjust_brightness(t, -0.1)


def test_contrast_blends_with_the_mean_of_the_grayscale_image():
    _, t = _rgb()
    x = t.numpy().astype(np.float64)
    mean = (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]).mean()
    for f in (0.3, 1.6):
        ref = np.clip(f * x + (1 - f) * mean, 0, 1)
        np.testing.assert_allclose(F.adjust_contrast(t, f).numpy(), ref, atol=1e-6)
    # factor 0: a flat image at the gray mean
    np.testing.assert_allclose(F.adjust_contrast(t, 0.0).numpy(), np.full(x.shape, mean), atol=1e-6)


def test_saturation_blends_with_grayscale():
    img, t = _rgb()
    x = t.numpy().astype(np.float64)
    gray = 0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    for f in (0.0, 0.5, 1.8):
        ref = np.clip(f * x + (1 - f) * gray, 0, 1)
        np.testing.assert_allclose(F.adjust_saturation(t, f).numpy(), ref, atol=1e-5)
    # one-channel images are left alone
    one = rustdl.from_numpy(x[:1].astype(np.float32))
    np.testing.assert_array_equal(F.adjust_saturation(one, 0.2).numpy(), one.numpy())


def test_hue_shift_round_trips_through_hsv_like_colorsys():
    pixels = np.array(
        [
            [0.9, 0.2, 0.1],
            [0.1, 0.8, 0.3],
            [0.2, 0.3, 0.95],
            [0.5, 0.5, 0.5],
            [0.0, 0.0, 0.0],
            [1.0, 0.6, 0.0],
        ],
        dtype=np.float32,
    )
    t = rustdl.from_numpy(np.ascontiguousarray(pixels.T.reshape(3, 2, 3)))
    for shift in (0.23, -0.41, 0.5):
        out = F.adjust_hue(t, shift).numpy().reshape(3, 6).T
        for p, o in zip(pixels, out):
            h, s, v = colorsys.rgb_to_hsv(*p.astype(np.float64))
            ref = colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)
            np.testing.assert_allclose(o, ref, atol=1e-5)
    np.testing.assert_allclose(F.adjust_hue(t, 0.0).numpy(), t.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match=r"\[-0.5, 0.5\]"):
        F.adjust_hue(t, 0.6)


def test_color_jitter_draws_factors_in_range_and_is_reproducible():
    _, t = _rgb(16, 16)
    x = t.numpy()
    # brightness only: the output is the input times one factor in [0.6, 1.4] (where unclamped)
    for seed in range(5):
        rustdl.manual_seed(seed)
        out = T.ColorJitter(brightness=0.4)(t).numpy()
        ok = (x > 0.05) & (out < 0.999)
        ratio = out[ok] / x[ok]
        assert 0.6 - 1e-5 <= ratio.min() and ratio.max() <= 1.4 + 1e-5
        assert ratio.max() - ratio.min() < 1e-4
    cj = T.ColorJitter(brightness=0.5, contrast=(0.2, 0.3), saturation=0.1, hue=0.2)
    assert cj.brightness == (0.5, 1.5) and cj.contrast == (0.2, 0.3) and cj.hue == (-0.2, 0.2)
    assert T.ColorJitter(brightness=0).brightness is None
    order, b, c, s, h = T.ColorJitter.get_params(cj.brightness, cj.contrast, cj.saturation, cj.hue)
    assert sorted(order) == [0, 1, 2, 3]
    assert 0.5 <= b <= 1.5 and 0.2 <= c <= 0.3 and 0.9 <= s <= 1.1 and -0.2 <= h <= 0.2
    rustdl.manual_seed(11)
    a = cj(t).numpy()
    rustdl.manual_seed(11)
    b2 = cj(t).numpy()
    np.testing.assert_array_equal(a, b2)
    assert not np.allclose(a, x)
    with pytest.raises(ValueError):
        T.ColorJitter(hue=0.7)


def _erased_box(mask):
    ys, xs = np.nonzero(mask)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return top, left, bottom - top, right - left


def test_random_erasing_erases_a_rectangle_within_the_scale_bounds():
    img = rustdl.ones(3, 32, 40)
    area = 32 * 40
    scale, ratio = (0.1, 0.2), (0.5, 2.0)
    for seed in range(8):
        rustdl.manual_seed(seed)
        out = T.RandomErasing(p=1.0, scale=scale, ratio=ratio, value=0)(img).numpy()
        zero = out == 0
        assert (zero[0] == zero[1]).all() and (zero[0] == zero[2]).all()
        top, left, h, w = _erased_box(zero[0])
        assert zero[0, top : top + h, left : left + w].all() and zero[0].sum() == h * w  # a full rectangle
        slack = 0.5 * (h + w) + 0.25  # h and w are rounded
        assert scale[0] * area - slack <= h * w <= scale[1] * area + slack
        assert ratio[0] * 0.8 <= h / w <= ratio[1] * 1.25
    assert float(img.min()) == 1.0  # not in place by default
    # per-channel value, 'random' noise, p=0 and inplace
    rustdl.manual_seed(0)
    out = T.RandomErasing(p=1.0, value=(0.25, 0.5, 0.75))(img).numpy()
    for c, v in enumerate((0.25, 0.5, 0.75)):
        assert ((out[c] == v) | (out[c] == 1)).all() and (out[c] == v).any()
    rustdl.manual_seed(0)
    noisy = T.RandomErasing(p=1.0, value="random")(img).numpy()
    assert (noisy != 1).sum() > 10
    np.testing.assert_array_equal(T.RandomErasing(p=0.0)(img).numpy(), img.numpy())
    target = rustdl.ones(1, 8, 8)
    T.RandomErasing(p=1.0, scale=(0.2, 0.3), inplace=True)(target)
    assert float(target.min()) == 0.0
    with pytest.raises(TypeError, match="tensor"):
        T.RandomErasing(p=1.0)(np.ones((8, 8, 3), np.float32))
    e = F.erase(img, 1, 2, 3, 4, rustdl.tensor(0.0))
    assert float(e.numpy()[:, 1:4, 2:6].max()) == 0.0 and float(e.sum()) == 3 * (area - 12)


def _blur_reference(x, kx, ky, sx, sy):
    def kernel(k, s):
        r = np.arange(k) - (k - 1) / 2
        g = np.exp(-0.5 * (r / s) ** 2)
        return g / g.sum()

    gx, gy = kernel(kx, sx), kernel(ky, sy)
    p = np.pad(x, [(0, 0), (ky // 2, ky // 2), (kx // 2, kx // 2)], mode="reflect")
    h, w = x.shape[-2:]
    rows = sum(gy[k] * p[:, k : k + h, :] for k in range(ky))
    return sum(gx[k] * rows[:, :, k : k + w] for k in range(kx))


def test_gaussian_blur_is_a_separable_convolution_with_the_normalized_kernel():
    img, t = _rgb(12, 10)
    x = t.numpy().astype(np.float64)
    out = F.gaussian_blur(t, [5, 3], [1.3, 0.7])
    np.testing.assert_allclose(out.numpy(), _blur_reference(x, 5, 3, 1.3, 0.7), atol=1e-6)
    # default sigma: 0.15 * k + 0.35
    np.testing.assert_allclose(F.gaussian_blur(t, 7).numpy(), _blur_reference(x, 7, 7, 1.4, 1.4), atol=1e-6)
    # uint8 images are rounded back
    ref_u8 = np.round(_blur_reference(img.transpose(2, 0, 1).astype(np.float64), 3, 3, 1.0, 1.0))
    got = F.gaussian_blur(img, 3, 1.0)
    assert got.dtype == np.uint8
    assert np.abs(got.transpose(2, 0, 1).astype(np.float64) - ref_u8).max() <= 1
    # the class with a fixed sigma is the functional (its sigma drawn as torchvision draws it,
    # a float32 uniform_ in [0.9, 0.9]: the last bit may differ)
    np.testing.assert_allclose(
        T.GaussianBlur(5, sigma=0.9)(t).numpy(), F.gaussian_blur(t, 5, 0.9).numpy(), rtol=1e-6
    )
    rustdl.manual_seed(4)
    a = T.GaussianBlur(3)(t).numpy()
    rustdl.manual_seed(4)
    np.testing.assert_array_equal(a, T.GaussianBlur(3)(t).numpy())
    with pytest.raises(ValueError, match="odd"):
        T.GaussianBlur(4)


def test_pad_matches_numpy_pad():
    img, t = _rgb(5, 4)
    x = t.numpy()
    for mode in ("edge", "reflect", "symmetric"):
        np.testing.assert_array_equal(
            F.pad(t, [1, 2, 3, 4], padding_mode=mode).numpy(), np.pad(x, [(0, 0), (2, 4), (1, 3)], mode=mode)
        )
    np.testing.assert_array_equal(
        T.Pad(2, fill=7)(img), np.pad(img, [(2, 2), (2, 2), (0, 0)], constant_values=7)
    )
    out = T.Pad((1, 2), fill=(10, 20, 30))(img)
    assert out.shape == (9, 6, 3)
    np.testing.assert_array_equal(out[0, 0], [10, 20, 30])
    np.testing.assert_array_equal(out[2:-2, 1:-1], img)


def test_geometry_functionals():
    img, t = _rgb(9, 7)
    x = t.numpy()
    np.testing.assert_array_equal(F.hflip(t).numpy(), x[..., ::-1])
    np.testing.assert_array_equal(F.vflip(img), img[::-1])
    # crop outside the image is zero-filled
    c = F.crop(t, -2, 3, 6, 6).numpy()
    assert c.shape == (3, 6, 6) and (c[:, :2] == 0).all() and (c[:, 2:, 4:] == 0).all()
    np.testing.assert_array_equal(c[:, 2:, :4], x[:, 0:4, 3:7])
    # centre offsets are int(round((H - h) / 2)) (9 - 6 = 3 -> 2); bigger crops pad with 0
    np.testing.assert_array_equal(F.center_crop(t, [6, 4]).numpy(), x[:, 2:8, 2:6])
    big = F.center_crop(img, 11)
    assert big.shape == (11, 11, 3) and (big[0] == 0).all()
    np.testing.assert_array_equal(big[1:10, 2:9], img)
    tl, tr, bl, br, cc = T.FiveCrop(3)(img)
    np.testing.assert_array_equal(tr, img[:3, 4:])
    np.testing.assert_array_equal(bl, img[6:, :3])
    crops = T.TenCrop(3)(img)
    assert len(crops) == 10
    np.testing.assert_array_equal(crops[5], img[:3, ::-1][:, :3])
    # 90 degrees counter-clockwise about the centre of a square image is np.rot90
    sq = t[:, :7, :7]
    np.testing.assert_array_equal(F.rotate(sq, 90.0).numpy(), np.rot90(sq.numpy(), 1, axes=(1, 2)))
    assert tuple(F.rotate(t, 90.0, expand=True).shape) == (3, 7, 9)
    # resize: shorter side, exact (h, w), uint8 through PIL, rows of the antialiased weights sum to 1
    assert tuple(F.resize(t, 4).shape) == (3, 5, 4)
    assert T.Resize((5, 3))(img).shape == (5, 3, 3)
    from PIL import Image

    np.testing.assert_array_equal(
        F.resize(img, [5, 3]), np.asarray(Image.fromarray(img).resize((3, 5), Image.BILINEAR))
    )
    const = rustdl.full((3, 8, 8), 0.25)
    np.testing.assert_allclose(F.resize(const, [3, 5]).numpy(), 0.25, atol=1e-6)
    # a 2x bilinear downscale weights the 4 nearest inputs (1, 3, 3, 1) / 8
    ramp = rustdl.from_numpy(
        np.arange(16, dtype=np.float32).reshape(1, 1, 16) ** 2 * np.ones((1, 4, 1), np.float32)
    )
    down = F.resize(ramp, [4, 8]).numpy()[0, 0]
    v = np.arange(16, dtype=np.float64) ** 2
    np.testing.assert_allclose(down[3], (v[5] + 3 * v[6] + 3 * v[7] + v[8]) / 8, rtol=1e-6)


def test_conversions_and_v2_to_image_to_dtype():
    img, _ = _rgb(4, 5)
    t = v2.ToImage()(img)
    assert tuple(t.shape) == (3, 4, 5) and not t.is_floating_point()
    np.testing.assert_array_equal(t.numpy(), img.transpose(2, 0, 1))
    f = v2.ToDtype(rustdl.float32, scale=True)(t)
    assert f.dtype == rustdl.float32
    np.testing.assert_allclose(f.numpy(), img.transpose(2, 0, 1) / 255.0, atol=1e-6)
    raw = v2.ToDtype(rustdl.float32)(t)
    np.testing.assert_array_equal(raw.numpy(), img.transpose(2, 0, 1).astype(np.float32))
    back = F.convert_image_dtype(f, rustdl.int64).numpy()
    np.testing.assert_array_equal(back, np.floor(f.numpy().astype(np.float64) * 255.999))
    np.testing.assert_array_equal(T.PILToTensor()(img).numpy(), t.numpy())
    # v2 passes labels through and keeps the structure
    pipe = v2.Compose([v2.ToImage(), v2.ToDtype(rustdl.float32, scale=True), v2.RandomHorizontalFlip(p=1.0)])
    out, label = pipe(img, 3)
    assert label == 3
    np.testing.assert_allclose(out.numpy(), img[:, ::-1].transpose(2, 0, 1) / 255.0, atol=1e-6)
    out2, label2 = pipe((img, 5))
    assert label2 == 5 and tuple(out2.shape) == (3, 4, 5)
    with pytest.raises(NotImplementedError, match="several images"):
        v2.RandomHorizontalFlip()(img, img)
    norm = v2.Normalize([0.5] * 3, [0.25] * 3)(f)
    np.testing.assert_allclose(norm.numpy(), (f.numpy() - 0.5) / 0.25, atol=1e-6)
    assert v2.functional.horizontal_flip is F.hflip


def test_random_containers_apply_choose_and_order():
    inc, dbl = T.Lambda(lambda v: v + 1), T.Lambda(lambda v: v * 2)
    assert T.RandomApply([inc, dbl], p=1.0)(1) == 4
    assert T.RandomApply([inc, dbl], p=0.0)(1) == 1
    assert {T.RandomChoice([inc, dbl], p=[0.0, 1.0])(5) for _ in range(10)} == {10}
    # torchvision's v1 containers draw from Python's ``random`` module (seeded by random.seed)
    seen = set()
    for seed in range(20):
        random.seed(seed)
        seen.add(T.RandomOrder([inc, dbl])(3))
    assert seen == {8, 7}  # (3 + 1) * 2 and 3 * 2 + 1
    random.seed(1)
    a = [T.RandomChoice([inc, dbl, T.Lambda(lambda v: -v)])(3) for _ in range(10)]
    random.seed(1)
    b = [T.RandomChoice([inc, dbl, T.Lambda(lambda v: -v)])(3) for _ in range(10)]
    assert a == b and len(set(a)) > 1
    random.seed(1)
    fns = [inc, dbl, T.Lambda(lambda v: -v)]
    assert a == [random.choices(fns)[0](3) for _ in range(10)]


def test_transforms_run_under_the_compat_runner(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json
        import numpy as np
        import torch
        import torchvision.transforms as T
        import torchvision.transforms.functional as TF
        from torchvision.transforms import v2
        from torchvision.transforms.v2 import functional as F2

        img = (np.arange(10 * 12 * 3) % 251).astype(np.uint8).reshape(10, 12, 3)
        train = T.Compose([
            T.RandomResizedCrop(8, scale=(0.5, 1.0)),
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            T.RandomGrayscale(p=0.2),
            T.GaussianBlur(3),
            T.ToTensor(),
            T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            T.RandomErasing(p=1.0),
        ])
        torch.manual_seed(0)
        a = train(img)
        torch.manual_seed(0)
        b = train(img)
        x = TF.to_tensor(img)
        pipe = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.CenterCrop(6)])
        y = pipe(img)
        print(json.dumps({
            "shape": list(a.shape), "same": bool((a == b).all().item()),
            "bright": float((TF.adjust_brightness(x, 0.5) - x * 0.5).abs().max().item()),
            "gray": list(TF.rgb_to_grayscale(x).shape),
            "v2": [list(y.shape), str(y.dtype), float((y - x[:, 2:8, 3:9]).abs().max().item())],
            "f2": float((F2.vertical_flip(x) - x.flip(-2)).abs().max().item()),
            "interp": str(T.InterpolationMode.BICUBIC.value),
        }))
        """,
    )
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["shape"] == [3, 8, 8] and r["same"]
    assert r["bright"] < 1e-6 and r["gray"] == [1, 10, 12]
    assert r["v2"][0] == [3, 6, 6] and r["v2"][1] == "torch.float32" and r["v2"][2] < 1e-6
    assert r["f2"] == 0.0 and r["interp"] == "bicubic"


# ------------------------------------------------------------------------------------------
# the AutoAugment family: posterize / solarize / autocontrast / equalize / adjust_sharpness,
# their Random* classes, AutoAugment, RandAugment, TrivialAugmentWide and AugMix
# ------------------------------------------------------------------------------------------


def _u8_image(seed=0, shape=(3, 17, 23)):
    r = np.random.default_rng(seed)
    return (r.random(shape) * 255).astype(np.uint8)


def test_posterize_and_solarize_by_hand():
    t = rustdl.tensor(np.array([[[183, 7, 255, 0]]], dtype=np.uint8))
    assert F.posterize(t, 3).tolist() == [[[160, 0, 224, 0]]]  # keep the 3 high bits
    assert F.posterize(t, 8).tolist() == t.tolist() and F.posterize(t, 0).tolist() == [[[0, 0, 0, 0]]]
    with pytest.raises(TypeError, match="uint8"):
        F.posterize(t.float(), 3)
    with pytest.raises(ValueError):
        F.posterize(t, 9)
    assert F.solarize(t, 100).tolist() == [[[72, 7, 0, 0]]]
    f = rustdl.tensor([[[0.2, 0.6, 0.5]]])
    np.testing.assert_allclose(F.solarize(f, 0.5).numpy(), [[[0.2, 0.4, 0.5]]], rtol=1e-6)
    with pytest.raises(TypeError, match="threshold"):
        F.solarize(f, 2.0)


def test_autocontrast_stretches_each_channel():
    a = np.array([[[50, 60], [70, 100]], [[5, 5], [5, 5]]], dtype=np.uint8)
    out = F.autocontrast(rustdl.tensor(a)).numpy()
    want0 = ((a[0].astype(np.float32) - 50) * np.float32(255.0 / 50)).astype(np.uint8)
    np.testing.assert_array_equal(out[0], want0)
    np.testing.assert_array_equal(out[1], a[1])  # a constant channel stays
    f = rustdl.tensor([[[0.25, 0.5], [0.75, 0.5]]])
    np.testing.assert_allclose(F.autocontrast(f).numpy(), [[[0.0, 0.5], [1.0, 0.5]]], atol=1e-6)
    # against PIL's own autocontrast (an independent implementation), within one level
    from PIL import Image, ImageOps

    img = _u8_image(1)
    ref = np.asarray(ImageOps.autocontrast(Image.fromarray(img.transpose(1, 2, 0)))).transpose(2, 0, 1)
    got = F.autocontrast(rustdl.tensor(img)).numpy()
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1


def test_equalize_matches_pil():
    from PIL import Image, ImageOps

    for seed in range(3):
        r = np.random.default_rng(seed)
        img = (r.beta(2, 5, (3, 19, 21)) * 255).astype(np.uint8)  # a skewed histogram
        ref = np.asarray(ImageOps.equalize(Image.fromarray(img.transpose(1, 2, 0)))).transpose(2, 0, 1)
        np.testing.assert_array_equal(F.equalize(rustdl.tensor(img)).numpy(), ref)
    batch = rustdl.tensor(np.stack([img, img[:, ::-1].copy()]))
    np.testing.assert_array_equal(F.equalize(batch)[0].numpy(), ref)
    flat = rustdl.full((1, 4, 4), 7, dtype=rustdl.uint8)
    assert F.equalize(flat).tolist() == flat.tolist()
    with pytest.raises(TypeError, match="uint8"):
        F.equalize(batch.float())


def test_adjust_sharpness_matches_pil_within_a_level():
    from PIL import Image, ImageEnhance

    img = _u8_image(2)
    for factor in (0.0, 0.5, 2.0):
        ref = np.asarray(ImageEnhance.Sharpness(Image.fromarray(img.transpose(1, 2, 0))).enhance(factor))
        got = F.adjust_sharpness(rustdl.tensor(img), factor).numpy().transpose(1, 2, 0)
        assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1, factor
    f = rustdl.tensor(img.astype(np.float32) / 255)
    out0 = F.adjust_sharpness(f, 0.0).numpy()
    x = img.astype(np.float64) / 255
    k = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13.0
    inner = sum(k[i, j] * x[:, i : i + 15, j : j + 21] for i in range(3) for j in range(3))
    np.testing.assert_allclose(out0[:, 1:-1, 1:-1], inner, atol=1e-6)
    np.testing.assert_allclose(out0[:, 0], x[:, 0], atol=1e-6)  # borders kept
    tiny = rustdl.tensor(img[:, :2, :5])
    assert F.adjust_sharpness(tiny, 2.0) is tiny


def test_random_colour_op_classes():
    t = rustdl.tensor(_u8_image(3))
    assert T.RandomPosterize(2, p=1.0)(t).tolist() == F.posterize(t, 2).tolist()
    assert T.RandomSolarize(128, p=1.0)(t).tolist() == F.solarize(t, 128).tolist()
    assert T.RandomInvert(p=1.0)(t).tolist() == F.invert(t).tolist()
    assert T.RandomEqualize(p=0.0)(t) is t
    assert repr(T.RandomPosterize(4)) == "RandomPosterize(bits=4,p=0.5)"
    assert repr(T.RandomAutocontrast()) == "RandomAutocontrast(p=0.5)"
    with pytest.raises(ValueError):
        T.RandomInvert(p=1.5)


def test_autoaugment_family_runs_on_tensors_and_pil_and_is_seeded():
    from PIL import Image
    from rustdl.torchcompat.torchvision.transforms import autoaugment as A

    for policy in T.AutoAugmentPolicy:
        assert len(A._parse_policy(A._POLICIES[policy])) == 25
    t = rustdl.tensor(_u8_image(4, (3, 32, 32)))
    pil = Image.fromarray(_u8_image(4, (32, 32, 3)))
    transforms = [
        T.AutoAugment(),
        T.AutoAugment(T.AutoAugmentPolicy.CIFAR10),
        T.AutoAugment(T.AutoAugmentPolicy.SVHN),
        T.RandAugment(),
        T.RandAugment(num_ops=3, magnitude=20),
        T.TrivialAugmentWide(),
        T.AugMix(),
        v2.RandAugment(),
    ]
    for tr in transforms:
        rustdl.manual_seed(7)
        outs = [tr(t) for _ in range(6)]
        rustdl.manual_seed(7)
        again = [tr(t) for _ in range(6)]
        assert all(o.dtype == rustdl.uint8 and tuple(o.shape) == (3, 32, 32) for o in outs), tr
        assert [o.tolist() for o in outs] == [o.tolist() for o in again], tr
        assert isinstance(tr(pil), Image.Image)
    # over many draws the augmentations do change the image
    rustdl.manual_seed(0)
    changed = sum(T.TrivialAugmentWide()(t).tolist() != t.tolist() for _ in range(20))
    assert changed >= 10
    # each op at a fixed magnitude is the functional op it names
    assert (
        A._apply_op(t, "Posterize", 4, T.InterpolationMode.NEAREST, None).tolist()
        == F.posterize(t, 4).tolist()
    )
    assert A._apply_op(t, "Color", -0.5, T.InterpolationMode.NEAREST, None).tolist() == (
        F.adjust_saturation(t, 0.5).tolist()
    )
    with pytest.raises(ValueError):
        T.AugMix(severity=11)
    with pytest.raises(ValueError):
        T.AutoAugment("imagenet")


def test_perspective_identity_translation_and_coefficients():
    img = rustdl.tensor(_u8_image(5, (3, 12, 15)))
    corners = [[0, 0], [14, 0], [14, 11], [0, 11]]
    assert F.perspective(img, corners, corners, T.InterpolationMode.NEAREST).tolist() == img.tolist()
    moved = [[x + 2, y + 1] for x, y in corners]
    out = F.perspective(img, corners, moved, T.InterpolationMode.NEAREST).numpy()
    a = img.numpy()
    np.testing.assert_array_equal(out[:, 1:, 2:], a[:, :-1, :-2])
    assert (out[:, 0, :] == 0).all() and (out[:, :, :2] == 0).all()
    # the fitted map takes every end corner to its start corner
    end = [[3, 2], [13, 1], [12, 10], [1, 11]]
    c = F._get_perspective_coeffs(corners, end)
    for (ex, ey), (sx, sy) in zip(end, corners):
        den = c[6] * ex + c[7] * ey + 1
        assert abs((c[0] * ex + c[1] * ey + c[2]) / den - sx) < 1e-3
        assert abs((c[3] * ex + c[4] * ey + c[5]) / den - sy) < 1e-3
    rustdl.manual_seed(1)
    assert tuple(T.RandomPerspective(p=1.0)(img).shape) == (3, 12, 15)
    with pytest.raises(ValueError):
        F.perspective(img, corners[:3], end)


def test_bilinear_fill_blends_like_torchvision():
    x = rustdl.ones(1, 6, 6)
    out = F.rotate(x, 45.0, interpolation=T.InterpolationMode.BILINEAR, fill=[0.5]).numpy()
    plain = F.rotate(x, 45.0, interpolation=T.InterpolationMode.BILINEAR).numpy()
    # the mask is the sampled image of ones itself: out = m·m + (1 - m)·fill
    np.testing.assert_allclose(out, plain * plain + (1 - plain) * 0.5, rtol=1e-6)


def test_mixup_and_cutmix_on_a_batch():
    imgs = rustdl.arange(4.0).reshape(4, 1, 1, 1).expand(4, 3, 8, 8).contiguous()
    labels = rustdl.tensor([0, 2, 1, 2])
    mixup = v2.MixUp(num_classes=3)
    mixup._lam = lambda: 0.25
    out, soft = mixup(imgs, labels)
    np.testing.assert_allclose(out[:, 0, 0, 0].numpy(), 0.25 * np.arange(4) + 0.75 * np.roll(np.arange(4), 1))
    onehot = np.eye(3)[[0, 2, 1, 2]]
    np.testing.assert_allclose(soft.numpy(), 0.25 * onehot + 0.75 * np.roll(onehot, 1, axis=0), rtol=1e-6)
    cutmix = v2.CutMix(num_classes=3)
    cutmix._lam = lambda: 0.5
    rustdl.manual_seed(3)
    out, soft = cutmix([imgs, labels])
    a, src = out.numpy(), imgs.numpy()
    changed = a != src
    frac = changed[:, 0].mean(axis=(1, 2))  # the same box in every image (none are equal to their neighbour)
    assert np.allclose(frac, frac[0]) and 0 < frac[0] <= 0.5 + 1e-9
    np.testing.assert_allclose(a[changed], np.roll(src, 1, axis=0)[changed])
    np.testing.assert_allclose(
        soft.numpy(), (1 - frac[0]) * onehot + frac[0] * np.roll(onehot, 1, axis=0), rtol=1e-6
    )
    np.testing.assert_allclose(soft.sum(1).numpy(), np.ones(4), rtol=1e-6)
    with pytest.raises(ValueError, match="num_classes"):
        v2.MixUp()(imgs, labels)
    with pytest.raises(ValueError, match="batch"):
        mixup(imgs[0], labels)


def test_v2_transform_base_noise_channels_rgb():
    class Scale(v2.Transform):
        def make_params(self, flat_inputs):
            return {"k": len(flat_inputs)}

        def transform(self, inpt, params):
            return inpt * params["k"]

    img = rustdl.ones(3, 2, 2)
    out, label = Scale()(img, 5)
    assert out.tolist() == (img * 1).tolist() and label == 5
    rustdl.manual_seed(0)
    noisy = v2.GaussianNoise(sigma=0.1)(rustdl.full((3, 32, 32), 0.5))
    assert abs(noisy.std().item() - 0.1) < 0.01 and noisy.min().item() >= 0
    u = rustdl.tensor(_u8_image(6))
    perm = v2.RandomChannelPermutation()(u)
    assert sorted(perm.float().mean((1, 2)).tolist()) == sorted(u.float().mean((1, 2)).tolist())
    assert tuple(v2.RGB()(u[:1]).shape) == (3, 17, 23) and v2.RGB()(u[:1])[2].tolist() == u[0].tolist()
