"""``torchvision.transforms.autoaugment``: AutoAugment (the learned ImageNet / CIFAR-10 / SVHN
policies), RandAugment, TrivialAugmentWide and AugMix over PIL images, uint8 numpy images and
tensors, built on the ops of :mod:`.functional`. Random draws come from rustdl's global
generator (``torch.manual_seed`` makes them reproducible).
"""

from __future__ import annotations

import math
import re
from enum import Enum
from typing import Any

import numpy as np

import rustdl

from . import functional as F
from .functional import InterpolationMode

__all__ = ["AugMix", "AutoAugment", "AutoAugmentPolicy", "RandAugment", "TrivialAugmentWide"]


def _randint(n: int) -> int:
    return int(rustdl.randint(0, n, (1,)).item())


def _rand() -> float:
    return float(rustdl.rand(1).item())


def _apply_op(img: Any, name: str, magnitude: float, interpolation: Any, fill: Any) -> Any:
    """One augmentation by name; ``magnitude`` already carries its sign."""
    if name in ("ShearX", "ShearY"):
        # the magnitude is the shear's tangent; about the top-left corner, as torchvision
        deg = math.degrees(math.atan(magnitude))
        shear = [deg, 0.0] if name == "ShearX" else [0.0, deg]
        return F.affine(img, 0.0, [0, 0], 1.0, shear, interpolation=interpolation, fill=fill, center=[0, 0])
    if name in ("TranslateX", "TranslateY"):
        shift = [int(magnitude), 0] if name == "TranslateX" else [0, int(magnitude)]
        return F.affine(img, 0.0, shift, 1.0, [0.0, 0.0], interpolation=interpolation, fill=fill)
    if name == "Rotate":
        return F.rotate(img, magnitude, interpolation=interpolation, fill=fill)
    enhance = {
        "Brightness": F.adjust_brightness,
        "Color": F.adjust_saturation,
        "Contrast": F.adjust_contrast,
        "Sharpness": F.adjust_sharpness,
    }
    if name in enhance:
        return enhance[name](img, 1.0 + magnitude)
    if name == "Posterize":
        return F.posterize(img, int(magnitude))
    if name == "Solarize":
        return F.solarize(img, magnitude)
    plain = {"AutoContrast": F.autocontrast, "Equalize": F.equalize, "Invert": F.invert}
    if name in plain:
        return plain[name](img)
    if name == "Identity":
        return img
    raise ValueError(f"unknown augmentation {name!r}")


def _space(
    num_bins: int, size: tuple[int, int], shear: float, translate: tuple[float, float], rotate: float,
    enhance: float, posterize_top: int, posterize_span: float, colour: bool = True,
) -> dict[str, tuple[np.ndarray | None, bool]]:  # fmt: skip
    """Augmentation name -> (magnitudes by bin, or None for none; whether the sign is drawn)."""

    def lin(hi: float, lo: float = 0.0) -> np.ndarray:
        return np.linspace(lo, hi, num_bins)

    bins = np.arange(num_bins, dtype=np.float64)
    # np.round: half to even, as torch.round
    posterize = posterize_top - np.round(bins / ((num_bins - 1) / posterize_span)).astype(np.int64)
    space: dict[str, tuple[np.ndarray | None, bool]] = {
        "ShearX": (lin(shear), True),
        "ShearY": (lin(shear), True),
        "TranslateX": (lin(translate[1]), True),
        "TranslateY": (lin(translate[0]), True),
        "Rotate": (lin(rotate), True),
    }
    if colour:
        for name in ("Brightness", "Color", "Contrast", "Sharpness"):
            space[name] = (lin(enhance), True)
    space["Posterize"] = (posterize, False)
    space["Solarize"] = (np.linspace(255.0, 0.0, num_bins), False)
    space["AutoContrast"] = (None, False)
    space["Equalize"] = (None, False)
    return space


def _fill_for(img: Any, fill: Any) -> Any:
    """A tensor image's fill as one value per channel, as torchvision passes it."""
    if isinstance(img, rustdl.Tensor):
        channels = F.get_dimensions(img)[0]
        if isinstance(fill, (int, float)):
            return [float(fill)] * channels
        if fill is not None:
            return [float(f) for f in fill]
    return fill


def _magnitude(space: dict, name: str, index: Any, signed_draw: bool) -> float:
    mags, signed = space[name]
    m = 0.0 if mags is None or index is None else float(mags[index])
    return -m if signed and signed_draw else m


class AutoAugmentPolicy(Enum):
    """The policies learned on ImageNet, CIFAR-10 and SVHN."""

    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


# Each policy: 25 sub-policies of two (op, probability, magnitude bin out of 10) steps, as the
# AutoAugment paper lists them; "-" for ops without a magnitude.
_POLICIES = {
    AutoAugmentPolicy.IMAGENET: """
        Posterize .4 8, Rotate .6 9 | Solarize .6 5, AutoContrast .6 - | Equalize .8 -, Equalize .6 -
        Posterize .6 7, Posterize .6 6 | Equalize .4 -, Solarize .2 4 | Equalize .4 -, Rotate .8 8
        Solarize .6 3, Equalize .6 - | Posterize .8 5, Equalize 1 - | Rotate .2 3, Solarize .6 8
        Equalize .6 -, Posterize .4 6 | Rotate .8 8, Color .4 0 | Rotate .4 9, Equalize .6 -
        Equalize 0 -, Equalize .8 - | Invert .6 -, Equalize 1 - | Color .6 4, Contrast 1 8
        Rotate .8 8, Color 1 2 | Color .8 8, Solarize .8 7 | Sharpness .4 7, Invert .6 -
        ShearX .6 5, Equalize 1 - | Color .4 0, Equalize .6 - | Equalize .4 -, Solarize .2 4
        Solarize .6 5, AutoContrast .6 - | Invert .6 -, Equalize 1 - | Color .6 4, Contrast 1 8
        Equalize .8 -, Equalize .6 -""",
    AutoAugmentPolicy.CIFAR10: """
        Invert .1 -, Contrast .2 6 | Rotate .7 2, TranslateX .3 9 | Sharpness .8 1, Sharpness .9 3
        ShearY .5 8, TranslateY .7 9 | AutoContrast .5 -, Equalize .9 - | ShearY .2 7, Posterize .3 7
        Color .4 3, Brightness .6 7 | Sharpness .3 9, Brightness .7 9 | Equalize .6 -, Equalize .5 -
        Contrast .6 7, Sharpness .6 5 | Color .7 7, TranslateX .5 8 | Equalize .3 -, AutoContrast .4 -
        TranslateY .4 3, Sharpness .2 6 | Brightness .9 6, Color .2 8 | Solarize .5 2, Invert 0 -
        Equalize .2 -, AutoContrast .6 - | Equalize .2 -, Equalize .6 - | Color .9 9, Equalize .6 -
        AutoContrast .8 -, Solarize .2 8 | Brightness .1 3, Color .7 0 | Solarize .4 5, AutoContrast .9 -
        TranslateY .9 9, TranslateY .7 9 | AutoContrast .9 -, Solarize .8 3 | Equalize .8 -, Invert .1 -
        TranslateY .7 9, AutoContrast .9 -""",
    AutoAugmentPolicy.SVHN: """
        ShearX .9 4, Invert .2 - | ShearY .9 8, Invert .7 - | Equalize .6 -, Solarize .6 6
        Invert .9 -, Equalize .6 - | Equalize .6 -, Rotate .9 3 | ShearX .9 4, AutoContrast .8 -
        ShearY .9 8, Invert .4 - | ShearY .9 5, Solarize .2 6 | Invert .9 -, AutoContrast .8 -
        Equalize .6 -, Rotate .9 3 | ShearX .9 4, Solarize .3 3 | ShearY .8 8, Invert .7 -
        Equalize .9 -, TranslateY .6 6 | Invert .9 -, Equalize .6 - | Contrast .3 3, Rotate .8 4
        Invert .8 -, TranslateY 0 2 | ShearY .7 6, Solarize .4 8 | Invert .6 -, Rotate .8 4
        ShearY .3 7, TranslateX .9 3 | ShearX .1 6, Invert .6 - | Solarize .7 2, TranslateY .6 7
        ShearY .8 4, Invert .8 - | ShearX .7 9, TranslateY .8 3 | ShearY .8 5, AutoContrast .7 -
        ShearX .7 2, Invert .1 -""",
}


def _parse_policy(text: str) -> list[tuple[tuple[str, float, int | None], ...]]:
    subs = []
    for sub in re.split(r"[|\n]", text.strip()):
        steps = []
        for step in sub.split(","):
            name, p, m = step.split()
            steps.append((name, float(p), None if m == "-" else int(m)))
        subs.append(tuple(steps))
    return subs


class AutoAugment:
    """A random sub-policy of a learned AutoAugment ``policy`` per call: two ops, each applied
    with its probability at its magnitude (the sign drawn at random)."""

    def __init__(
        self,
        policy: AutoAugmentPolicy = AutoAugmentPolicy.IMAGENET,
        interpolation: Any = InterpolationMode.NEAREST,
        fill: Any = None,
    ) -> None:
        if not isinstance(policy, AutoAugmentPolicy):
            raise ValueError(f"The provided policy {policy} is not recognized.")
        self.policy = policy
        self.interpolation = interpolation
        self.fill = fill
        self.policies = _parse_policy(_POLICIES[policy])

    @staticmethod
    def get_params(transform_num: int) -> tuple[int, rustdl.Tensor, rustdl.Tensor]:
        """A sub-policy index, two probabilities and two sign draws."""
        return _randint(transform_num), rustdl.rand(2), rustdl.randint(0, 2, (2,))

    def __call__(self, img: Any) -> Any:
        fill = _fill_for(img, self.fill)
        _, h, w = F.get_dimensions(img)
        space = _space(10, (h, w), 0.3, (150.0 / 331.0 * h, 150.0 / 331.0 * w), 30.0, 0.9, 8, 4)
        space["Invert"] = (None, False)
        index, probs, signs = self.get_params(len(self.policies))
        for i, (name, p, m) in enumerate(self.policies[index]):
            if float(probs[i]) <= p:
                magnitude = _magnitude(space, name, m, int(signs[i]) == 0)
                img = _apply_op(img, name, magnitude, self.interpolation, fill)
        return img

    forward = __call__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(policy={self.policy}, fill={self.fill})"


class RandAugment:
    """``num_ops`` ops drawn uniformly, each at the fixed ``magnitude`` bin (of
    ``num_magnitude_bins``), the sign drawn at random."""

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: int = 9,
        num_magnitude_bins: int = 31,
        interpolation: Any = InterpolationMode.NEAREST,
        fill: Any = None,
    ) -> None:
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = interpolation
        self.fill = fill

    def __call__(self, img: Any) -> Any:
        fill = _fill_for(img, self.fill)
        _, h, w = F.get_dimensions(img)
        space = {"Identity": (None, False)}
        space.update(
            _space(
                self.num_magnitude_bins, (h, w), 0.3, (150.0 / 331.0 * h, 150.0 / 331.0 * w), 30.0, 0.9, 8, 4
            )
        )
        names = list(space)
        for _ in range(self.num_ops):
            name = names[_randint(len(names))]
            signed_draw = space[name][1] and bool(_randint(2))
            img = _apply_op(
                img, name, _magnitude(space, name, self.magnitude, signed_draw), self.interpolation, fill
            )
        return img

    forward = __call__

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_ops={self.num_ops}, magnitude={self.magnitude}, "
            f"num_magnitude_bins={self.num_magnitude_bins}, interpolation={self.interpolation}, fill={self.fill})"
        )


class TrivialAugmentWide:
    """One op drawn uniformly per call, at a magnitude bin drawn uniformly (TrivialAugment's
    wide ranges)."""

    def __init__(
        self, num_magnitude_bins: int = 31, interpolation: Any = InterpolationMode.NEAREST, fill: Any = None
    ) -> None:
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = interpolation
        self.fill = fill

    def __call__(self, img: Any) -> Any:
        fill = _fill_for(img, self.fill)
        space = {"Identity": (None, False)}
        space.update(_space(self.num_magnitude_bins, (0, 0), 0.99, (32.0, 32.0), 135.0, 0.99, 8, 6))
        names = list(space)
        name = names[_randint(len(names))]
        mags, signed = space[name]
        index = None if mags is None else _randint(len(mags))
        signed_draw = signed and bool(_randint(2))
        return _apply_op(img, name, _magnitude(space, name, index, signed_draw), self.interpolation, fill)

    forward = __call__

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_magnitude_bins={self.num_magnitude_bins}, "
            f"interpolation={self.interpolation}, fill={self.fill})"
        )


class AugMix:
    """AugMix: ``mixture_width`` chains of 1–3 (or ``chain_depth``) random ops at severities below
    ``severity``, mixed with Dirichlet weights and blended with the image by a Beta draw."""

    _PARAMETER_MAX = 10

    def __init__(
        self,
        severity: int = 3,
        mixture_width: int = 3,
        chain_depth: int = -1,
        alpha: float = 1.0,
        all_ops: bool = True,
        interpolation: Any = InterpolationMode.BILINEAR,
        fill: Any = None,
    ) -> None:
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(
                f"The severity must be between [1, {self._PARAMETER_MAX}]. Got {severity} instead."
            )
        self.severity = severity
        self.mixture_width = mixture_width
        self.chain_depth = chain_depth
        self.alpha = alpha
        self.all_ops = all_ops
        self.interpolation = interpolation
        self.fill = fill

    def _dirichlet(self, k: int, rows: int) -> np.ndarray:
        conc = rustdl.full((rows, k), float(self.alpha))
        return rustdl.distributions.Dirichlet(conc).sample().numpy().astype(np.float64)

    def __call__(self, orig: Any) -> Any:
        is_tensor = isinstance(orig, rustdl.Tensor)
        fill = _fill_for(orig, self.fill)
        _, h, w = F.get_dimensions(orig)
        img = orig if is_tensor else F.pil_to_tensor(orig)
        space = _space(self._PARAMETER_MAX, (h, w), 0.3, (h / 3.0, w / 3.0), 30.0, 0.9, 4, 4, self.all_ops)
        names = list(space)
        dims = list(img.shape)
        batch = img.reshape([1] * max(4 - img.dim(), 0) + dims)
        n = batch.shape[0]
        bshape = [n] + [1] * (batch.dim() - 1)
        beta = self._dirichlet(2, n)
        weights = self._dirichlet(self.mixture_width, n) * beta[:, 1:2]
        dtype = batch.dtype if batch.is_floating_point() else rustdl.float32
        mix = rustdl.tensor(beta[:, 0], dtype=dtype, device="cpu").to(batch.device).reshape(
            bshape
        ) * batch.to(dtype)
        for i in range(self.mixture_width):
            aug = batch
            depth = self.chain_depth if self.chain_depth > 0 else int(rustdl.randint(1, 4, (1,)).item())
            for _ in range(depth):
                name = names[_randint(len(names))]
                signed_draw = space[name][1] and bool(_randint(2))
                magnitude = _magnitude(space, name, _randint(self.severity), signed_draw)
                aug = _apply_op(aug, name, magnitude, self.interpolation, fill)
            wi = rustdl.tensor(weights[:, i], dtype=dtype, device="cpu").to(batch.device).reshape(bshape)
            mix = mix + wi * aug.to(dtype)
        out = mix.reshape(dims).to(img.dtype)
        return out if is_tensor else F.to_pil_image(out)

    forward = __call__

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(severity={self.severity}, mixture_width={self.mixture_width}, "
            f"chain_depth={self.chain_depth}, alpha={self.alpha}, all_ops={self.all_ops}, "
            f"interpolation={self.interpolation}, fill={self.fill})"
        )
