"""``torchvision.datasets.utils``: checksums, archive extraction, directory listings and argument
checks, as torchvision's. The shim never downloads: the ``download_*`` functions accept a file
already in place (with the expected checksum when one is given) and otherwise raise a
RuntimeError saying where to put it."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import pathlib
import shutil
import tarfile
import zipfile
from collections.abc import Iterable
from typing import Any

__all__ = [
    "calculate_md5",
    "check_integrity",
    "check_md5",
    "download_and_extract_archive",
    "download_file_from_google_drive",
    "download_url",
    "extract_archive",
    "iterable_to_str",
    "list_dir",
    "list_files",
    "verify_str_arg",
]


def calculate_md5(fpath: Any, chunk_size: int = 1024 * 1024) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath: Any, md5: str, **kwargs: Any) -> bool:
    return md5 == calculate_md5(fpath, **kwargs)


def check_integrity(fpath: Any, md5: str | None = None) -> bool:
    """True when the file exists and, if ``md5`` is given, has that checksum."""
    if not os.path.isfile(fpath):
        return False
    return True if md5 is None else check_md5(fpath, md5)


def _no_download(what: str, url: str, fpath: str) -> RuntimeError:
    return RuntimeError(
        f"{what}: rustdl's torchvision does not download ({url}); put the file at {fpath} "
        f"(with its expected checksum) and run again"
    )


def download_url(
    url: str, root: Any, filename: Any = None, md5: str | None = None, max_redirect_hops: int = 3
) -> None:
    """Returns when ``root/filename`` is already there with the right checksum; otherwise raises
    (nothing is downloaded)."""
    root = os.path.expanduser(os.fspath(root))
    filename = os.fspath(filename) if filename else os.path.basename(url)
    fpath = os.path.join(root, filename)
    os.makedirs(root, exist_ok=True)
    if check_integrity(fpath, md5):
        return
    raise _no_download("download_url", url, fpath)


def download_file_from_google_drive(
    file_id: str, root: Any, filename: Any = None, md5: str | None = None
) -> None:
    root = os.path.expanduser(os.fspath(root))
    fpath = os.path.join(root, os.fspath(filename) if filename else file_id)
    os.makedirs(root, exist_ok=True)
    if check_integrity(fpath, md5):
        return
    raise _no_download("download_file_from_google_drive", f"google drive file {file_id}", fpath)


def list_dir(root: Any, prefix: bool = False) -> list[str]:
    """The directories directly under ``root`` (with ``root`` joined on when ``prefix``)."""
    root = os.path.expanduser(os.fspath(root))
    names = [p for p in os.listdir(root) if os.path.isdir(os.path.join(root, p))]
    return [os.path.join(root, d) for d in names] if prefix else names


def list_files(root: Any, suffix: Any, prefix: bool = False) -> list[str]:
    """The files directly under ``root`` whose names end with ``suffix`` (a string or tuple)."""
    root = os.path.expanduser(os.fspath(root))
    names = [p for p in os.listdir(root) if os.path.isfile(os.path.join(root, p)) and p.endswith(suffix)]
    return [os.path.join(root, d) for d in names] if prefix else names


_COMPRESSORS = {".bz2": bz2.open, ".gz": gzip.open, ".xz": lzma.open}


def _decompress(from_path: str, to_path: str | None, suffix: str, remove_finished: bool) -> str:
    if to_path is None:
        to_path = from_path[: -len(suffix)]
    with _COMPRESSORS[suffix](from_path, "rb") as src, open(to_path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    if remove_finished:
        os.remove(from_path)
    return to_path


def extract_archive(from_path: Any, to_path: Any = None, remove_finished: bool = False) -> str:
    """Extracts a tar (optionally compressed) or zip archive into ``to_path`` (default: the
    archive's folder), or decompresses a lone ``.gz``/``.bz2``/``.xz`` file; returns the path."""
    from_path = os.fspath(from_path)
    name = from_path.lower()
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz")):
        to_dir = os.path.dirname(from_path) if to_path is None else os.fspath(to_path)
        with tarfile.open(from_path, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):  # members may not leave the folder
                tar.extractall(to_dir, filter="data")
            else:
                tar.extractall(to_dir)
    elif name.endswith(".zip"):
        to_dir = os.path.dirname(from_path) if to_path is None else os.fspath(to_path)
        with zipfile.ZipFile(from_path) as zf:
            zf.extractall(to_dir)
    else:
        suffix = pathlib.Path(name).suffix
        if suffix not in _COMPRESSORS:
            raise RuntimeError(f"extract_archive: unknown archive type of '{from_path}'")
        return _decompress(
            from_path, None if to_path is None else os.fspath(to_path), suffix, remove_finished
        )
    if remove_finished:
        os.remove(from_path)
    return to_dir


def download_and_extract_archive(
    url: str,
    download_root: Any,
    extract_root: Any = None,
    filename: Any = None,
    md5: str | None = None,
    remove_finished: bool = False,
) -> None:
    """Extracts the archive when it is already in ``download_root`` (see :func:`download_url`)."""
    download_root = os.path.expanduser(os.fspath(download_root))
    extract_root = download_root if extract_root is None else extract_root
    filename = os.fspath(filename) if filename else os.path.basename(url)
    download_url(url, download_root, filename, md5)
    extract_archive(os.path.join(download_root, filename), extract_root, remove_finished)


def iterable_to_str(iterable: Iterable) -> str:
    return "'" + "', '".join(str(item) for item in iterable) + "'"


def verify_str_arg(
    value: Any,
    arg: str | None = None,
    valid_values: Iterable[str] | None = None,
    custom_msg: str | None = None,
) -> str:
    """``value`` when it is a string among ``valid_values`` (any string when None); ValueError
    otherwise, worded as torchvision's."""
    if not isinstance(value, str):
        msg = (
            "Expected type str"
            + ("" if arg is None else f" for argument {arg}")
            + f", but got type {type(value)}."
        )
        raise ValueError(msg)
    if valid_values is None:
        return value
    if value not in valid_values:
        if custom_msg is not None:
            raise ValueError(custom_msg)
        raise ValueError(
            f"Unknown value '{value}' for argument {arg}. Valid values are {{{iterable_to_str(valid_values)}}}."
        )
    return value
