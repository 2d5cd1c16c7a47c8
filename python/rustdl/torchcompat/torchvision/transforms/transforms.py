"""``torchvision.transforms.transforms``: the module PyTorch's transform classes are defined in
(code imports them from here); the same classes as ``torchvision.transforms``."""

from . import *  # noqa: F403
from . import __all__  # noqa: F401
