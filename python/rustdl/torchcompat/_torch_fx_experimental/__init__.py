"""``torch.fx.experimental``: tracing helpers (rustdl traces nothing with them) and
``optimization`` (BatchNorm folding of traced modules, imported on first use: it loads
:mod:`rustdl.fx`)."""

from typing import Any

from . import proxy_tensor  # noqa: F401


def __getattr__(name: str) -> Any:
    if name == "optimization":
        import importlib

        return importlib.import_module(f"{__name__}.optimization")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
