"""``torch.backends.mkldnn``: rustdl has no oneDNN; the flags are accepted and change nothing."""

enabled = False
deterministic = False


def is_available() -> bool:
    """False: rustdl's CPU kernels are its own, not oneDNN's."""
    return False
