"""``torch.fx.experimental.proxy_tensor``: graph capture by tracing tensor operations. rustdl
runs eagerly: no proxy mode is ever active and :func:`make_fx` raises."""

from __future__ import annotations

from typing import Any


def get_proxy_mode() -> None:
    """None: no tracing mode is active (code takes its eager path)."""
    return None


def make_fx(*args: Any, **kwargs: Any) -> Any:
    """Raises ``NotImplementedError``: rustdl builds no FX graphs."""
    raise NotImplementedError("make_fx: rustdl runs eagerly and builds no FX graphs")
