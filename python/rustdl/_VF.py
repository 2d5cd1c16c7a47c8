"""``torch._VF``: the namespace of torch's native functions that custom RNN code calls
(``_VF.lstm``, ``_VF.gru``, ``_VF.lstm_cell``, ...); here, rustdl's functions of those names."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    import rustdl

    try:
        return getattr(rustdl, name)
    except AttributeError:
        raise AttributeError(f"module 'torch._VF' has no attribute '{name}'") from None
