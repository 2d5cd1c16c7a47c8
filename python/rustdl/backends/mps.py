"""``torch.backends.mps`` probes: rustdl reaches Apple GPUs through wgpu/Metal as device 'gpu', not 'mps'."""


def is_available() -> bool:
    """False: use ``rustdl.cuda.is_available()`` / device 'gpu' instead."""
    return False


def is_built() -> bool:
    """False."""
    return False
