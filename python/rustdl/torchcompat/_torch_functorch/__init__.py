"""``torch._functorch``: the internals libraries import from PyTorch's functorch package.
rustdl's transforms live in :mod:`rustdl.func`; these modules name what code imports."""
