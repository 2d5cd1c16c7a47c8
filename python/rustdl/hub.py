"""``torch.hub``: the checkpoint cache and hub entry points.

:func:`load_state_dict_from_url` reads ``<hub dir>/checkpoints/<file name>`` when it is there
(PyTorch's cache layout, so files torch or torchvision downloaded load as they are, through
:func:`rustdl.load`, which reads PyTorch's format) and otherwise downloads the file into it.
:func:`load` runs a ``hubconf.py`` entry point from a local folder (``source="local"``) or from
a GitHub repository already in the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
import urllib.parse
import urllib.request
from typing import Any

__all__ = [
    "download_url_to_file",
    "get_dir",
    "help",
    "list",
    "load",
    "load_state_dict_from_url",
    "load_url",
    "set_dir",
]

_hub_dir: str | None = None
_HASH_RE = re.compile(r"-([a-f0-9]*)\.")
# the names torch.hub's module namespace holds that code imports from it
HASH_REGEX = _HASH_RE
urlparse = urllib.parse.urlparse
urlopen = urllib.request.urlopen
Request = urllib.request.Request


def get_dir() -> str:
    """The hub folder: :func:`set_dir`'s, else ``$TORCH_HOME/hub``, else
    ``$XDG_CACHE_HOME/torch/hub`` (``~/.cache/torch/hub``), as PyTorch."""
    if _hub_dir is not None:
        return _hub_dir
    torch_home = os.environ.get("TORCH_HOME")
    if not torch_home:
        cache = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
        torch_home = os.path.join(cache, "torch")
    return os.path.join(os.path.expanduser(torch_home), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Sets the hub folder :func:`get_dir` returns."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
    """Downloads ``url`` to ``dst`` (through a temp file beside it, renamed when complete); with
    ``hash_prefix`` the file's SHA-256 must start with it, else RuntimeError and nothing is kept."""
    dst = os.path.expanduser(os.fspath(dst))
    folder = os.path.dirname(os.path.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    sha = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=".partial-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url) as resp:  # noqa: S310  (the user's URL)
                    while True:
                        chunk = resp.read(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
                        sha.update(chunk)
            except OSError as e:
                raise RuntimeError(
                    f"hub.download_url_to_file: cannot download {url} ({e}); put the file at {dst} to use it offline"
                ) from e
        if hash_prefix is not None and not sha.hexdigest().startswith(hash_prefix):
            raise RuntimeError(
                f'hub.download_url_to_file: invalid hash value (expected "{hash_prefix}", got "{sha.hexdigest()}")'
            )
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state_dict_from_url(
    url: str,
    model_dir: str | None = None,
    map_location: Any = None,
    progress: bool = True,
    check_hash: bool = False,
    file_name: str | None = None,
    weights_only: bool = False,
) -> Any:
    """The object saved at ``url``, read from ``model_dir`` (default ``<hub dir>/checkpoints``)
    under ``file_name`` (default: the URL's last path part), downloading it there first if it is
    not cached. ``check_hash`` checks the hash prefix in the file name (``name-<sha256 prefix>.pth``)."""
    from .io import load as _load

    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    if not filename:
        raise ValueError(f"hub.load_state_dict_from_url: no file name in {url!r}; pass file_name")
    cached = os.path.join(model_dir, filename)
    if not os.path.exists(cached):
        m = _HASH_RE.search(filename) if check_hash else None
        sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
        download_url_to_file(url, cached, m.group(1) if m else None, progress=progress)
    return _load(cached, map_location=map_location, weights_only=weights_only)


# torch.utils.model_zoo's name for it
load_url = load_state_dict_from_url


def _repo_dir(repo: str, force_reload: bool) -> str:
    """The cached folder of ``owner/name[:ref]`` (``<hub dir>/owner_name_ref``, as PyTorch)."""
    name, _, ref = repo.partition(":")
    if "/" not in name:
        raise ValueError(f'hub: repo_or_dir must be "owner/name[:ref]" for source="github", got {repo!r}')
    owner, repo_name = name.split("/", 1)
    candidates = (
        [f"{owner}_{repo_name}_{ref}"]
        if ref
        else [f"{owner}_{repo_name}_main", f"{owner}_{repo_name}_master"]
    )
    for c in candidates:
        path = os.path.join(get_dir(), c)
        if os.path.isdir(path) and not force_reload:
            return path
    raise RuntimeError(
        f"hub: {repo} is not in the hub cache ({get_dir()}); rustdl does not fetch repositories. "
        f'Clone it and use source="local" with its folder'
    )


def _hubconf(repo_or_dir: str, source: str, force_reload: bool) -> Any:
    if source not in ("github", "local"):
        raise ValueError(f'hub: unknown source "{source}"; "github" | "local" are valid')
    folder = repo_or_dir if source == "local" else _repo_dir(repo_or_dir, force_reload)
    path = os.path.join(folder, "hubconf.py")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"hub: {folder} has no hubconf.py")
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location("hubconf", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


def _entry(module: Any, model: str) -> Any:
    fn = getattr(module, model, None)
    if not callable(fn) or model.startswith("_"):
        raise RuntimeError(f"hub: cannot find callable {model} in hubconf")
    return fn


def list(  # noqa: A001  (PyTorch's name)
    github: str, force_reload: bool = False, skip_validation: bool = False, trust_repo: Any = None,
    verbose: bool = True, source: str = "github",
) -> Any:  # fmt: skip
    """The entry points of a repo's ``hubconf.py``."""
    module = _hubconf(github, source, force_reload)
    return [k for k, v in vars(module).items() if callable(v) and not k.startswith("_")]


def help(  # noqa: A001  (PyTorch's name)
    github: str, model: str, force_reload: bool = False, skip_validation: bool = False,
    trust_repo: Any = None, source: str = "github",
) -> str:  # fmt: skip
    """The docstring of one entry point."""
    return _entry(_hubconf(github, source, force_reload), model).__doc__ or ""


def load(
    repo_or_dir: str, model: str, *args: Any, source: str = "github", trust_repo: Any = None,
    force_reload: bool = False, verbose: bool = True, skip_validation: bool = False, **kwargs: Any,
) -> Any:  # fmt: skip
    """Calls entry point ``model`` of ``hubconf.py`` with ``args``/``kwargs``."""
    return _entry(_hubconf(repo_or_dir, source, force_reload), model)(*args, **kwargs)
