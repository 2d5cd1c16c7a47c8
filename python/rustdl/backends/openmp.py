"""``torch.backends.openmp``: rustdl's CPU kernels run on its own thread pool, not OpenMP."""


def is_available() -> bool:
    """False: rustdl is not built with OpenMP (its CPU pool is its own)."""
    return False
