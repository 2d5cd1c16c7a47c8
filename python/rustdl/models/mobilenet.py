"""``torchvision.models.mobilenet``: MobileNet V2 and V3 together (see :mod:`.mobilenetv2` and
:mod:`.mobilenetv3`)."""

from .mobilenetv2 import MobileNetV2, mobilenet_v2
from .mobilenetv3 import MobileNetV3, mobilenet_v3_large, mobilenet_v3_small

__all__ = ["MobileNetV2", "MobileNetV3", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"]
