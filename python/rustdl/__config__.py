"""``torch.__config__``: how this build of rustdl was configured, as text."""

from __future__ import annotations

import os
import platform


def show() -> str:
    """The build configuration: the engine, its CPU kernels and GPU backend. It names no MKL,
    oneDNN or CUDA, which rustdl does not use (libraries read ``USE_MKL=OFF`` here)."""
    from . import __version__

    return (
        f"rustdl {__version__} (Rust engine)\n"
        "  - CPU kernels: native Rust (gemm crate, SIMD dispatched at run time)\n"
        "  - GPU: wgpu (Vulkan, Metal, DX12), WGSL compute shaders\n"
        "  - Build settings: USE_CUDA=OFF, USE_CUDNN=OFF, USE_MKL=OFF, USE_MKLDNN=OFF, "
        "USE_OPENMP=OFF, USE_MPI=ON (mpi4py)\n"
    )


def parallel_info() -> str:
    """The CPU threading in use."""
    from . import get_num_threads

    return (
        f"rustdl {platform.machine()} CPU, {os.cpu_count()} logical cores\n"
        f"intra-op threads: {get_num_threads()} (rustdl.set_num_threads, RUSTDL_NUM_THREADS)\n"
        "inter-op threads: 1\n"
    )


def _cxx_flags() -> str:
    """rustdl is not built from C++: no compiler flags."""
    return ""
