"""Training utilities shaped like ``torch.utils``: :mod:`rustdl.utils.tensorboard` (``SummaryWriter``)."""


def __getattr__(name: str):
    # rustdl.utils.data is rustdl.data, as torch.utils.data (and checkpoint, dlpack, _pytree)
    import importlib

    targets = {"data": "rustdl.data", "checkpoint": "rustdl.gradient_checkpoint"}
    if name in targets:
        return importlib.import_module(targets[name])
    if name in ("dlpack", "_pytree", "tensorboard", "benchmark", "hooks"):
        return importlib.import_module(f"rustdl.utils.{name}")
    raise AttributeError(f"module 'rustdl.utils' has no attribute '{name}'")
