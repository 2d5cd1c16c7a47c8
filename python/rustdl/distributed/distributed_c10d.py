"""``torch.distributed.distributed_c10d``: the module that holds torch.distributed's process
group and collectives (the same objects as :mod:`rustdl.distributed`). ``_pickler`` and
``_unpickler`` are the classes the object collectives (``all_gather_object``,
``broadcast_object_list``) pickle with; code may replace them, as with PyTorch's."""

from __future__ import annotations

import pickle

from . import *  # noqa: F403
from . import __all__  # noqa: F401

_pickler = pickle.Pickler
_unpickler = pickle.Unpickler
