"""``torch.fx.experimental``: tracing helpers; rustdl traces nothing."""

from . import proxy_tensor  # noqa: F401
