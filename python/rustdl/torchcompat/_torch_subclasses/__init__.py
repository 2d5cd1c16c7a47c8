"""``torch._subclasses``: PyTorch's tensor-subclass machinery for tracing (fake tensors). rustdl
runs eagerly on real tensors, so no tensor is ever fake."""

from . import fake_tensor  # noqa: F401
from .fake_tensor import FakeTensor, FakeTensorMode  # noqa: F401
