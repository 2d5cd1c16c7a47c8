"""Classic architectures, with torchvision's class/function names and state dict keys.

Weights converted from torchvision (e.g. saved as safetensors) load by key into
:func:`alexnet`, the ``vgg*`` functions, :func:`googlenet` (``aux_logits`` as saved) and the
``resnet*`` functions at their default (non ``small_input``) configuration. :class:`LeNet5`,
:func:`se_resnet18` and :func:`mlp` have no torchvision counterpart.

Every constructor takes ``num_classes``, ``in_channels`` and ``small_input`` (a stem/classifier
for 28×28 and 32×32 images).

Example:
    >>> from rustdl import models
    >>> net = models.resnet18(num_classes=10, small_input=True)
    >>> net(rustdl.randn(2, 3, 32, 32)).shape
    (2, 10)
"""

from .alexnet import AlexNet, alexnet
from .convnext import (
    CNBlock,
    CNBlockConfig,
    ConvNeXt,
    LayerNorm2d,
    convnext_base,
    convnext_large,
    convnext_small,
    convnext_tiny,
)
from .densenet import DenseNet, densenet121, densenet161, densenet169, densenet201
from .efficientnet import (
    EfficientNet,
    FusedMBConv,
    FusedMBConvConfig,
    MBConv,
    MBConvConfig,
    efficientnet_b0,
    efficientnet_b1,
    efficientnet_b2,
    efficientnet_b3,
    efficientnet_b4,
    efficientnet_b5,
    efficientnet_b6,
    efficientnet_b7,
    efficientnet_v2_l,
    efficientnet_v2_m,
    efficientnet_v2_s,
)
from .googlenet import BasicConv2d, GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux, googlenet
from .inception import Inception3, InceptionOutputs, inception_v3
from .lenet import LeNet5, lenet5
from .mlp import mlp
from .resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    SEBasicBlock,
    SEBlock,
    SqueezeExcitation,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    resnext101_32x8d,
    resnext101_64x4d,
    se_resnet18,
    wide_resnet50_2,
    wide_resnet101_2,
)
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = [
    "CNBlock",
    "CNBlockConfig",
    "ConvNeXt",
    "LayerNorm2d",
    "convnext_base",
    "convnext_large",
    "convnext_small",
    "convnext_tiny",
    "EfficientNet",
    "FusedMBConv",
    "FusedMBConvConfig",
    "MBConv",
    "MBConvConfig",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "efficientnet_b4",
    "efficientnet_b5",
    "efficientnet_b6",
    "efficientnet_b7",
    "efficientnet_v2_l",
    "efficientnet_v2_m",
    "efficientnet_v2_s",
    "AlexNet",
    "DenseNet",
    "Inception3",
    "InceptionOutputs",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "inception_v3",
    "BasicBlock",
    "BasicConv2d",
    "Bottleneck",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "Inception",
    "InceptionAux",
    "LeNet5",
    "ResNet",
    "SEBasicBlock",
    "SEBlock",
    "SqueezeExcitation",
    "VGG",
    "alexnet",
    "googlenet",
    "lenet5",
    "mlp",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "se_resnet18",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]
