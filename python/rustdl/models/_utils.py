"""``torchvision.models._utils``: :class:`IntermediateLayerGetter`, the wrapper backbone code
uses to take the outputs of some of a model's top-level children, and ``_make_divisible``."""

from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ._misc import make_divisible as _make_divisible

__all__ = ["IntermediateLayerGetter", "_make_divisible"]


class IntermediateLayerGetter(nn.ModuleDict):
    """The top-level children of ``model`` up to the last one named in ``return_layers``, run in
    order; ``forward`` returns an ordered dict ``{return_layers[name]: output of child name}``.
    Only direct children can be returned (as torchvision's)."""

    _version = 2

    def __init__(self, model: nn.Module, return_layers: dict[str, str]) -> None:
        if not set(return_layers).issubset(name for name, _ in model.named_children()):
            raise ValueError("return_layers are not present in model")
        orig_return_layers = return_layers
        wanted = {str(k): str(v) for k, v in return_layers.items()}
        layers = OrderedDict()
        for name, module in model.named_children():
            layers[name] = module
            wanted.pop(name, None)
            if not wanted:
                break
        super().__init__(layers)
        self.return_layers = orig_return_layers

    def forward(self, x):
        out = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out
