"""``torch.backends.cudnn`` flags: stored, with no effect (rustdl has no cuDNN)."""

enabled: bool = True
benchmark: bool = False
deterministic: bool = False
allow_tf32: bool = False


def is_available() -> bool:
    """False: rustdl does not use cuDNN (its GPU path is wgpu)."""
    return False


def version() -> None:
    """None: no cuDNN."""
    return None
