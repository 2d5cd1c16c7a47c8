"""Placeholder for ``torch.onnx``: importable; exporting is not supported.

Save weights with ``rustdl.save(model.state_dict(), "model.safetensors")`` instead.
"""

from __future__ import annotations


def export(*args: object, **kwargs: object) -> None:
    """Raises NotImplementedError: rustdl cannot export ONNX graphs."""
    raise NotImplementedError(
        "rustdl.onnx.export: ONNX export is not supported; save the weights with "
        "rustdl.save(model.state_dict(), 'model.safetensors') instead"
    )


def is_in_onnx_export() -> bool:
    """False: rustdl never exports."""
    return False
