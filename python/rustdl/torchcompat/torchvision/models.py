"""``torchvision.models``: the classification models of :mod:`rustdl.models` under torchvision's
names (the same module trees, state-dict keys and initialisation).

The ``*_Weights`` enums list torchvision's published weights with their evaluation presets
(``.transforms()``: crop, resize, interpolation and normalisation as torchvision's) and URLs. A
model built with ``weights=`` (or the legacy ``pretrained=True``) loads that file's state dict
through the hub: from ``<TORCH_HOME>/hub/checkpoints`` when it is cached there, else downloaded
there first, as torchvision does. ``get_model``, ``list_models``, ``get_model_weights`` and
``get_weight`` work as torchvision's.
"""

from __future__ import annotations

import enum
import functools
from typing import Any, Callable

from rustdl import models as _zoo

# torchvision.models.<name> -> rustdl.models.<name>; looked up when first used so that this list
# can name every family without importing each module here.
_MODEL_NAMES = [
    "alexnet",
    "convnext_base",
    "convnext_large",
    "convnext_small",
    "convnext_tiny",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
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
    "googlenet",
    "inception_v3",
    "mnasnet0_5",
    "mnasnet0_75",
    "mnasnet1_0",
    "mnasnet1_3",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "regnet_x_16gf",
    "regnet_x_1_6gf",
    "regnet_x_32gf",
    "regnet_x_3_2gf",
    "regnet_x_400mf",
    "regnet_x_800mf",
    "regnet_x_8gf",
    "regnet_y_128gf",
    "regnet_y_16gf",
    "regnet_y_1_6gf",
    "regnet_y_32gf",
    "regnet_y_3_2gf",
    "regnet_y_400mf",
    "regnet_y_800mf",
    "regnet_y_8gf",
    "resnet101",
    "resnet152",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "resnext50_32x4d",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
    "squeezenet1_0",
    "squeezenet1_1",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "vit_b_16",
    "vit_b_32",
    "vit_h_14",
    "vit_l_16",
    "vit_l_32",
    "wide_resnet101_2",
    "wide_resnet50_2",
]

# Model classes and blocks torchvision.models exports at its top level.
_CLASS_NAMES = [
    "AlexNet",
    "ConvNeXt",
    "DenseNet",
    "EfficientNet",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "Inception3",
    "InceptionOutputs",
    "MNASNet",
    "MobileNetV2",
    "MobileNetV3",
    "RegNet",
    "ResNet",
    "ShuffleNetV2",
    "SqueezeNet",
    "VGG",
    "VisionTransformer",
]


class ImageClassification:
    """torchvision's ImageNet evaluation preprocessing: resize the shorter side to
    ``resize_size``, centre-crop ``crop_size``, scale to [0, 1] and normalise with ``mean`` /
    ``std`` (tensors in, tensors out)."""

    def __init__(
        self,
        *,
        crop_size: int,
        resize_size: int = 256,
        mean: tuple[float, ...] = (0.485, 0.456, 0.406),
        std: tuple[float, ...] = (0.229, 0.224, 0.225),
        interpolation: Any = "bilinear",
        antialias: bool | None = True,
    ) -> None:
        from . import transforms as T

        self.crop_size, self.resize_size = [crop_size], [resize_size]
        self.mean, self.std = list(mean), list(std)
        self.interpolation = T.InterpolationMode(getattr(interpolation, "value", interpolation))
        self.antialias = antialias
        interpolation = self.interpolation
        self._resize = T.Resize(resize_size, interpolation=interpolation, antialias=antialias)
        self._crop = T.CenterCrop(crop_size)
        self._normalize = T.Normalize(mean, std)

    def __call__(self, img: Any) -> Any:
        from . import transforms as T

        x = self._crop(self._resize(img))
        if not hasattr(x, "dtype"):
            x = T.PILToTensor()(x)
        x = T.ConvertImageDtype(_float32())(x)
        return self._normalize(x)

    def __repr__(self) -> str:
        # torchvision's layout: one field per line
        return (
            f"{type(self).__name__}(\n    crop_size={self.crop_size}\n    resize_size={self.resize_size}\n"
            f"    mean={self.mean}\n    std={self.std}\n    interpolation={self.interpolation}\n)"
        )


def _float32() -> Any:
    import rustdl

    return rustdl.float32


class Weights:
    """One entry of a ``*_Weights`` enum: its ``url`` (not fetched), ``transforms`` and ``meta``."""

    def __init__(self, url: str, transforms: Callable[..., Any], meta: dict[str, Any]) -> None:
        self.url, self.transforms, self.meta = url, transforms, meta


class WeightsEnum(enum.Enum):
    """Base of the ``*_Weights`` enums: each member is one of torchvision's published weight
    files (``url``, ``transforms``, ``meta``); ``get_state_dict()`` reads it through the hub."""

    @classmethod
    def verify(cls, obj: Any) -> Any:
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            key = obj.replace(cls.__name__ + ".", "")
            return cls.DEFAULT if key == "DEFAULT" else cls[key]
        raise TypeError(
            f"Invalid Weight class provided; expected {cls.__name__} but received {type(obj).__name__}."
        )

    def get_state_dict(self, progress: bool = True, check_hash: bool = True, **kwargs: Any) -> Any:
        """The published state dict, from the hub cache (``<TORCH_HOME>/hub/checkpoints``),
        downloaded there first when it is not cached (as torchvision's)."""
        from rustdl.hub import load_state_dict_from_url

        return load_state_dict_from_url(self.url, progress=progress, check_hash=check_hash)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self._name_}"

    def __getattr__(self, name: str) -> Any:
        if name in ("url", "transforms", "meta"):
            return getattr(self.value, name)
        raise AttributeError(name)


def _weights_class_name(model: str) -> str:
    special = {
        "vgg11_bn": "VGG11_BN",
        "vgg13_bn": "VGG13_BN",
        "vgg16_bn": "VGG16_BN",
        "vgg19_bn": "VGG19_BN",
        "mobilenet_v2": "MobileNet_V2",
        "mobilenet_v3_large": "MobileNet_V3_Large",
        "mobilenet_v3_small": "MobileNet_V3_Small",
        "googlenet": "GoogLeNet",
        "alexnet": "AlexNet",
        "inception_v3": "Inception_V3",
        "shufflenet_v2_x0_5": "ShuffleNet_V2_X0_5",
        "shufflenet_v2_x1_0": "ShuffleNet_V2_X1_0",
        "shufflenet_v2_x1_5": "ShuffleNet_V2_X1_5",
        "shufflenet_v2_x2_0": "ShuffleNet_V2_X2_0",
        "squeezenet1_0": "SqueezeNet1_0",
        "squeezenet1_1": "SqueezeNet1_1",
        "wide_resnet50_2": "Wide_ResNet50_2",
        "wide_resnet101_2": "Wide_ResNet101_2",
        "resnext50_32x4d": "ResNeXt50_32X4D",
        "resnext101_32x8d": "ResNeXt101_32X8D",
        "resnext101_64x4d": "ResNeXt101_64X4D",
    }
    if model in special:
        return special[model] + "_Weights"
    parts = model.split("_")
    head = parts[0]
    for prefix, cased in (
        ("resnet", "ResNet"),
        ("vgg", "VGG"),
        ("densenet", "DenseNet"),
        ("mnasnet", "MNASNet"),
        ("efficientnet", "EfficientNet"),
        ("convnext", "ConvNeXt"),
        ("regnet", "RegNet"),
        ("vit", "ViT"),
    ):
        if head.startswith(prefix):
            head = cased + head[len(prefix) :]
            break
    tail = [p.title() if model.startswith("convnext") else p.upper() for p in parts[1:]]
    return "_".join([head, *tail]) + "_Weights"


class _Meta(dict):
    """A weights entry's ``meta``: ``num_params`` is counted (once, on first use) from the model
    built with ImageNet's 1000 classes, as the published weights have."""

    def __init__(self, model: str, **items: Any) -> None:
        super().__init__(items)
        self._model = model

    def _count(self) -> None:
        if dict.get(self, "num_params") is None:
            # the published Inception v3 weights keep the auxiliary head, GoogLeNet's do not
            kw = {"googlenet": {"aux_logits": False}, "inception_v3": {"aux_logits": True}}.get(
                self._model, {}
            )
            net = getattr(_zoo, self._model)(weights=None, num_classes=1000, **kw)
            self["num_params"] = sum(p.numel() for p in net.parameters())

    def __getitem__(self, key: Any) -> Any:
        if key == "num_params":
            self._count()
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default


def _make_weights_enum(model: str) -> type[WeightsEnum]:
    from ._weights_table import WEIGHTS

    default, entries = WEIGHTS[model]
    members = {}
    for entry, (crop, resize, interpolation, norm, url) in entries.items():
        kw: dict[str, Any] = {"crop_size": crop, "resize_size": resize, "interpolation": interpolation}
        if norm is not None:
            kw["mean"], kw["std"] = norm
        preset = functools.partial(ImageClassification, **kw)
        meta = _Meta(model, num_params=None, min_size=(1, 1), categories=None, _docs="not downloadable here")
        members[entry] = Weights(url, preset, meta)
    cls = WeightsEnum(_weights_class_name(model), members)  # type: ignore[call-overload]
    cls.DEFAULT = cls[default]  # type: ignore[attr-defined]
    return cls


_WEIGHTS: dict[str, type[WeightsEnum]] = {m: _make_weights_enum(m) for m in _MODEL_NAMES}
for _model, _cls in _WEIGHTS.items():
    globals()[_cls.__name__] = _cls
_WEIGHTS_BY_NAME = {cls.__name__: cls for cls in _WEIGHTS.values()}


def _pretrained(
    name: str, build: Callable[..., Any], weights: Any, progress: bool, kw: dict[str, Any]
) -> Any:
    """``build(**kw)`` with the published ``weights`` loaded, as torchvision's builders do:
    1000 classes (another ``num_classes`` is an error), GoogLeNet/Inception with their input
    transform and auxiliary heads while loading, ViT at the weights' image size."""

    def overwrite(key: str, value: Any) -> None:
        if key in kw and kw[key] != value:
            raise ValueError(f"The parameter '{key}' expected value {value} but got {kw[key]} instead.")
        kw[key] = value

    if weights.name != "IMAGENET1K_FEATURES":
        overwrite("num_classes", 1000)
    aux = None
    if name in ("googlenet", "inception_v3"):
        kw.setdefault("transform_input", True)
        aux = kw.get("aux_logits", name == "inception_v3")  # torchvision's defaults with weights
        kw["aux_logits"] = True
        kw.setdefault("init_weights", False)
    if name.startswith("vit_") and weights.name.startswith("IMAGENET1K_SWAG_E2E"):
        overwrite("image_size", weights.transforms.keywords["crop_size"])
    model = build(weights=None, progress=progress, **kw)
    model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    if aux is False:  # the heads were needed to load the weights; dropped as asked
        model.aux_logits = False
        if name == "googlenet":
            model.aux1 = None
            model.aux2 = None
        else:
            model.AuxLogits = None
    return model


def _builder(name: str) -> Callable[..., Any]:
    defaults = {"aux_logits": True} if name == "googlenet" else {}

    def make(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> Any:
        build = getattr(_zoo, name)  # the family's module is imported on the first build
        if "pretrained" in kwargs:  # torchvision's legacy argument: the V1 weights
            import warnings

            pretrained = kwargs.pop("pretrained")
            warnings.warn(
                "The parameter 'pretrained' is deprecated since 0.13 and may be removed in the future, "
                "please use 'weights' instead.",
                UserWarning,
                stacklevel=2,
            )
            if pretrained:
                weights = (
                    _WEIGHTS[name]["IMAGENET1K_V1"]
                    if "IMAGENET1K_V1" in _WEIGHTS[name].__members__
                    else _WEIGHTS[name].DEFAULT
                )
        weights = _WEIGHTS[name].verify(weights)
        if weights is None:
            return build(weights=None, progress=progress, **{**defaults, **kwargs})
        return _pretrained(name, build, weights, progress, dict(kwargs))

    make.__name__ = make.__qualname__ = name
    make.__doc__ = (
        f"torchvision.models.{name}: rustdl.models.{name}, random weights or the published ones "
        "(``weights=``, read from the hub cache or downloaded)."
    )
    return make


# every builder is in the module's namespace from the start, as in torchvision: the ImageNet
# example picks its architecture from `models.__dict__`
globals().update({name: _builder(name) for name in _MODEL_NAMES})


def get_model_builder(name: str) -> Callable[..., Any]:
    """The constructor of the model called ``name`` (``"resnet18"``)."""
    name = name.lower()
    if name not in _MODEL_NAMES:
        raise ValueError(f"Unknown model {name}")
    return __getattr__(name)


def get_model(name: str, **config: Any) -> Any:
    """``get_model("resnet18", weights=None, num_classes=10)``: the named model, built with ``config``."""
    return get_model_builder(name)(**config)


def list_models(module: Any = None, include: Any = None, exclude: Any = None) -> list[str]:
    """The names of the classification models, sorted (``include`` / ``exclude``: fnmatch
    patterns, as torchvision's)."""
    import fnmatch

    names = set(_MODEL_NAMES)
    if include is not None:
        pats = [include] if isinstance(include, str) else list(include)
        names = {n for n in names if any(fnmatch.fnmatch(n, p) for p in pats)}
    if exclude is not None:
        pats = [exclude] if isinstance(exclude, str) else list(exclude)
        names = {n for n in names if not any(fnmatch.fnmatch(n, p) for p in pats)}
    return sorted(names)


def get_model_weights(name: Any) -> type[WeightsEnum]:
    """The ``*_Weights`` enum of a model (by name or builder)."""
    key = name if isinstance(name, str) else getattr(name, "__name__", "")
    key = key.lower()
    if key not in _WEIGHTS:
        raise ValueError(f"Unknown model {name}")
    return _WEIGHTS[key]


def get_weight(name: str) -> WeightsEnum:
    """``get_weight("ResNet18_Weights.IMAGENET1K_V1")``: the enum member of that name."""
    cls_name, _, member = name.partition(".")
    if cls_name not in _WEIGHTS_BY_NAME:
        raise ValueError(f"The weight enum '{cls_name}' for the specific method couldn't be retrieved.")
    return _WEIGHTS_BY_NAME[cls_name][member]


def __getattr__(name: str) -> Any:
    if name in _MODEL_NAMES:
        fn = globals().get(name) or _builder(name)
        globals()[name] = fn
        return fn
    if name in _CLASS_NAMES or name in ("BasicBlock", "Bottleneck"):
        return getattr(_zoo, name)
    from .. import _shim_submodule

    # a model family's module (torchvision.models.resnet), as torchvision; a builder of the same
    # name (alexnet, googlenet) wins, as in torchvision, whose package re-binds it
    sub = _shim_submodule("torchvision.models", name)
    if sub is not None:
        return sub
    raise AttributeError(
        f"module 'torchvision.models' has no attribute '{name}': rustdl's torchvision shim has "
        f"the classification models (torchvision.models.list_models() names them); detection, "
        f"segmentation, video and optical-flow models are not supported"
    )


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODEL_NAMES) | set(_CLASS_NAMES))
