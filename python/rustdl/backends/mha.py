"""``torch.backends.mha``: the switch of the attention fast path.

rustdl computes attention one way; the switch only decides whether ``TransformerEncoder``
follows the fast path's observable rule for padded positions (zeros in eval without grad, see
:class:`rustdl.nn.TransformerEncoder`).
"""

from __future__ import annotations

_enabled = True


def get_fastpath_enabled() -> bool:
    """Whether the attention fast path is on (default True)."""
    return _enabled


def set_fastpath_enabled(value: bool) -> None:
    """Turns the attention fast path on or off."""
    global _enabled
    _enabled = bool(value)
