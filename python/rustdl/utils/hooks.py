"""``torch.utils.hooks``: the handle that removes a registered hook."""

from ..nn.modules.module import RemovableHandle

__all__ = ["RemovableHandle"]
