"""``torch.utils.cpp_extension`` under the compat layer: the names libraries import, with
builders that refuse. rustdl has no C++ tensor ABI for an extension to compile against, so
``load``/``load_inline`` raise (libraries that try a compiled kernel and fall back to Python on
failure, as PyTorch's builds do where no compiler is found, take their fallback)."""

from __future__ import annotations

import os
import shutil
from typing import Any

CUDA_HOME: str | None = None
ROCM_HOME: str | None = None
SYCL_HOME: str | None = None
IS_HIP_EXTENSION = False
IS_WINDOWS = os.name == "nt"
IS_MACOS = False
COMMON_NVCC_FLAGS: list[str] = []
COMMON_MSVC_FLAGS: list[str] = []


class ExtensionBuildError(RuntimeError):
    """A C++/CUDA extension was asked for; rustdl cannot build one."""


def _refuse(what: str, name: Any = None) -> ExtensionBuildError:
    label = f" {name!r}" if name else ""
    return ExtensionBuildError(
        f"torch.utils.cpp_extension.{what}{label}: rustdl cannot build C++/CUDA extensions "
        "(it has no libtorch ABI to compile against); use the library's pure-Python path"
    )


def load(name: str, sources: Any = None, *args: Any, **kwargs: Any) -> Any:
    raise _refuse("load", name)


def load_inline(name: str, cpp_sources: Any = None, *args: Any, **kwargs: Any) -> Any:
    raise _refuse("load_inline", name)


def CppExtension(name: str, sources: Any = None, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
    raise _refuse("CppExtension", name)


def CUDAExtension(name: str, sources: Any = None, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
    raise _refuse("CUDAExtension", name)


class BuildExtension:
    """setup.py's build command for extensions: refuses when run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _refuse("BuildExtension")

    @classmethod
    def with_options(cls, **options: Any) -> type:
        return cls


def include_paths(device_type: Any = "cpu") -> list[str]:
    return []


def library_paths(device_type: Any = "cpu") -> list[str]:
    return []


def is_ninja_available() -> bool:
    return shutil.which("ninja") is not None


def verify_ninja_availability() -> None:
    if not is_ninja_available():
        raise RuntimeError("Ninja is required to load C++ extensions")


def _get_build_directory(name: str, verbose: bool) -> str:
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "torch_extensions"
    )
    return os.path.join(root, name)
