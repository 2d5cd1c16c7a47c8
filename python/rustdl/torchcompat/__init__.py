"""Run unchanged PyTorch scripts on rustdl: ``python -m rustdl.torchcompat script.py [args]``.

:func:`install` puts a finder on ``sys.meta_path`` that answers ``import torch`` (and
``torch.nn``, ``torch.nn.functional``, ``torch.optim.lr_scheduler``, ``torch.utils.data``,
``torch.autograd`` (and ``torch.autograd.profiler``), ``torch.profiler``,
``torch.utils.tensorboard``, ``torch.cuda``, ``torch.backends.cudnn``, ...) with *facade* modules over the
matching rustdl modules, and ``import torchvision`` with the small shim in
:mod:`rustdl.torchcompat.torchvision` (MNIST / FashionMNIST / FakeData from local data,
transforms, ``utils.save_image``). A facade forwards every attribute to its rustdl module; a name
rustdl lacks raises ``AttributeError`` saying rustdl does not support it yet.

Devices: ``"cuda"`` means rustdl's GPU, and while installed the GPU device calls itself
``cuda`` (``device.type == "cuda"``, ``str(device) == "cuda:0"``), so scripts' GPU branches are
taken. ``torch.cuda.is_available()`` answers whether rustdl has a real GPU: a software adapter
(Mesa's lavapipe) is used only with ``RUSTDL_COMPAT_DEVICE=gpu``, and ``RUSTDL_COMPAT_DEVICE=cpu``
forces the CPU. Where "cuda" means the CPU, ``is_available()`` answers False and every "cuda"
request (``torch.device("cuda")``, ``.cuda()``, ``.to("cuda")``, ``device="cuda"``) gives the CPU.

Example:
    >>> from rustdl import torchcompat
    >>> torchcompat.install()
    >>> import torch, torch.nn as nn      # rustdl underneath
    >>> torchcompat.run_script("train.py", ["--epochs", "1"])
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import os
import runpy
import sys
import types
from collections.abc import Sequence
from typing import Any

import rustdl

from .. import _rustdl

__all__ = ["TorchFacade", "install", "installed", "run_script", "uninstall"]

# torch module name -> rustdl module name (longest prefix wins; the rest of the name is appended).
# torchvision's dataset modules whose classes the shim does not read: each resolves to the module
# of those classes (``from torchvision.datasets.omniglot import Omniglot`` loads; building one
# raises and says what the shim reads)
_UNSERVED_DATASET_MODULES = (
    "caltech celeba cityscapes clevr coco country211 dtd eurosat fer2013 fgvc_aircraft flickr flowers102 "
    "food101 gtsrb hmdb51 imagenet imagenette inaturalist kinetics kitti lfw lsun moving_mnist omniglot "
    "oxford_iiit_pet pcam phototour places365 rendered_sst2 sbd sbu semeion stanford_cars stl10 sun397 "
    "svhn ucf101 usps voc widerface _optical_flow _stereo_matching"
).split()

_PREFIXES: dict[str, str] = {
    "torch": "rustdl",
    "torch.utils.data": "rustdl.data",
    # torch.utils.data._utils.collate / .worker are rustdl.data.collate / .worker
    "torch.utils.data._utils": "rustdl.data",
    # the datapipe modules (combinatorics, grouping, ...) are one module per kind here
    **{
        f"torch.utils.data.datapipes.iter.{m}": "rustdl.data.datapipes.iter"
        for m in ("callable combinatorics combining filelister grouping selecting sharding utils".split())
    },
    **{
        f"torch.utils.data.datapipes.map.{m}": "rustdl.data.datapipes.map"
        for m in ("callable combinatorics combining grouping utils".split())
    },
    "torch._C": "rustdl.torchcompat._torch_C",
    "torch._C._nn": "rustdl.torchcompat._torch_C_nn",
    "torch._C._functorch": "rustdl.torchcompat._torch_C_functorch",
    "torch._C._distributed_rpc": "rustdl.torchcompat._torch_C_distributed_rpc",
    "torch._guards": "rustdl.torchcompat._torch_guards",
    "torch.storage": "rustdl._storage",
    "torch._functorch": "rustdl.torchcompat._torch_functorch",
    # Tensor and `_convert` (Tensor subclasses' __torch_function__ hooks call it)
    "torch._tensor": "rustdl._dispatch",
    # the typing names TorchScript code imports from here (List, Tuple, Optional, ...)
    "torch.jit.annotations": "typing",
    "torch.utils.model_zoo": "rustdl.hub",
    "torch.utils.cpp_extension": "rustdl.torchcompat._cpp_extension",
    "torch.utils": "rustdl.torchcompat._torch_utils",
    "torch._utils": "rustdl.torchcompat._torch_private_utils",
    "torch.utils.weak": "rustdl.torchcompat._torch_utils_weak",
    "torch.utils._foreach_utils": "rustdl._foreach_utils",
    "torch.utils._contextlib": "rustdl.torchcompat._torch_utils_contextlib",
    "torch.utils._python_dispatch": "rustdl.torchcompat._torch_python_dispatch",
    "torch.utils.tensorboard": "rustdl.utils.tensorboard",
    "torch.nn.modules": "rustdl.nn.modules",
    "torch.nn.parallel": "rustdl.nn.parallel",
    # torch.nn.parallel's modules (distributed, data_parallel) are one module here
    "torch.nn.parallel.distributed": "rustdl.nn.parallel",
    "torch.nn.parallel.data_parallel": "rustdl.nn.parallel",
    "torch.nn.parallel.scatter_gather": "rustdl.nn.parallel",
    "torch.distributed.constants": "rustdl.distributed",
    # sharded tensors and FSDP: types and options for libraries' checks (rustdl shards nothing)
    "torch.distributed.tensor": "rustdl.torchcompat._torch_distributed.tensor",
    "torch.distributed._tensor": "rustdl.torchcompat._torch_distributed.tensor",
    "torch.distributed.device_mesh": "rustdl.torchcompat._torch_distributed.device_mesh",
    "torch.distributed.fsdp": "rustdl.torchcompat._torch_distributed.fsdp",
    "torch.distributed._composable": "rustdl.torchcompat._torch_distributed._composable",
    "torch.distributed.algorithms": "rustdl.torchcompat._torch_distributed.algorithms",
    "torch.distributed.elastic": "rustdl.torchcompat._torch_distributed.elastic",
    "torch.distributed.autograd": "rustdl.torchcompat._torch_distributed.autograd",
    "torch.distributed._functional_collectives": "rustdl.torchcompat._torch_distributed._functional_collectives",
    "torch.nn.parameter": "rustdl.nn.parameter",
    # torch.autograd's modules of the classes it exports are one module here
    "torch.autograd.function": "rustdl.autograd",
    "torch.autograd.grad_mode": "rustdl.autograd",
    "torch.autograd.anomaly_mode": "rustdl.autograd",
    "torch.autograd.variable": "rustdl.autograd",
    "torch.backends": "rustdl.backends",
    "torch.cuda": "rustdl.cuda",
    "torch.cuda.amp": "rustdl.torchcompat._torch_cuda_amp",
    "torch.cuda.nvtx": "rustdl._cuda_nvtx",
    "torch.cpu.amp": "rustdl.torchcompat._torch_cpu_amp",
    "torch.amp": "rustdl.amp",
    # torch.amp's modules are one module here
    "torch.amp.autocast_mode": "rustdl.amp",
    "torch.amp.grad_scaler": "rustdl.amp",
    "torch.cuda.amp.autocast_mode": "rustdl.torchcompat._torch_cuda_amp",
    "torch.cuda.amp.grad_scaler": "rustdl.torchcompat._torch_cuda_amp",
    "torch.utils.checkpoint": "rustdl.gradient_checkpoint",
    "torch.accelerator": "rustdl.accelerator",
    "torch.onnx": "rustdl.onnx",
    "torch.jit": "rustdl.jit",
    "torch.multiprocessing": "rustdl.multiprocessing",
    "torch.version": "rustdl.torchcompat._torch_version",
    "torch.torch_version": "rustdl.torchcompat._torch_version",
    "torch.types": "rustdl.torchcompat._torch_types",
    "torch.ops": "rustdl.torchcompat._torch_ops",
    "torch.library": "rustdl.torchcompat._torch_library",
    "torch._subclasses": "rustdl.torchcompat._torch_subclasses",
    "torch.fx.experimental": "rustdl.torchcompat._torch_fx_experimental",
    "torch._dynamo": "rustdl.torchcompat._torch_dynamo",
    "torch.utils.benchmark": "rustdl.utils.benchmark",
    "torch.utils.hooks": "rustdl.utils.hooks",
    "torch.utils.flop_counter": "rustdl.utils.flop_counter",
    "torch.utils._pytree": "rustdl.utils._pytree",
    "torch.utils.dlpack": "rustdl.utils.dlpack",
    # torch.distributions keeps one module per family; rustdl.distributions exports them all
    # (the package's own entry names rustdl.distributions' files as torch.distributions' ones)
    "torch.distributions": "rustdl.distributions",
    "torch.distributions.beta": "rustdl.distributions",
    "torch.distributions.binomial": "rustdl.distributions",
    "torch.distributions.cauchy": "rustdl.distributions",
    "torch.distributions.chi2": "rustdl.distributions",
    "torch.distributions.continuous_bernoulli": "rustdl.distributions",
    "torch.distributions.dirichlet": "rustdl.distributions",
    "torch.distributions.exponential": "rustdl.distributions",
    "torch.distributions.fishersnedecor": "rustdl.distributions",
    "torch.distributions.gamma": "rustdl.distributions",
    "torch.distributions.generalized_pareto": "rustdl.distributions",
    "torch.distributions.geometric": "rustdl.distributions",
    "torch.distributions.gumbel": "rustdl.distributions",
    "torch.distributions.half_cauchy": "rustdl.distributions",
    "torch.distributions.half_normal": "rustdl.distributions",
    "torch.distributions.independent": "rustdl.distributions",
    "torch.distributions.inverse_gamma": "rustdl.distributions",
    "torch.distributions.kumaraswamy": "rustdl.distributions",
    "torch.distributions.laplace": "rustdl.distributions",
    "torch.distributions.lkj_cholesky": "rustdl.distributions",
    "torch.distributions.log_normal": "rustdl.distributions",
    "torch.distributions.logistic_normal": "rustdl.distributions",
    "torch.distributions.lowrank_multivariate_normal": "rustdl.distributions",
    "torch.distributions.mixture_same_family": "rustdl.distributions",
    "torch.distributions.multinomial": "rustdl.distributions",
    "torch.distributions.multivariate_normal": "rustdl.distributions",
    "torch.distributions.negative_binomial": "rustdl.distributions",
    "torch.distributions.one_hot_categorical": "rustdl.distributions",
    "torch.distributions.pareto": "rustdl.distributions",
    "torch.distributions.poisson": "rustdl.distributions",
    "torch.distributions.relaxed_bernoulli": "rustdl.distributions",
    "torch.distributions.relaxed_categorical": "rustdl.distributions",
    "torch.distributions.studentT": "rustdl.distributions",
    "torch.distributions.transformed_distribution": "rustdl.distributions",
    "torch.distributions.von_mises": "rustdl.distributions",
    "torch.distributions.weibull": "rustdl.distributions",
    "torch.distributions.wishart": "rustdl.distributions",
    "torchvision": "rustdl.torchcompat.torchvision",
    # torchvision.models.<family> modules are rustdl.models' files of the same names
    "torchvision.models._utils": "rustdl.models._utils",
    "torchvision.models.alexnet": "rustdl.models.alexnet",
    "torchvision.models.convnext": "rustdl.models.convnext",
    "torchvision.models.densenet": "rustdl.models.densenet",
    "torchvision.models.efficientnet": "rustdl.models.efficientnet",
    "torchvision.models.feature_extraction": "rustdl.models.feature_extraction",
    "torchvision.models.googlenet": "rustdl.models.googlenet",
    "torchvision.models.inception": "rustdl.models.inception",
    "torchvision.models.mnasnet": "rustdl.models.mnasnet",
    "torchvision.models.mobilenet": "rustdl.models.mobilenet",
    "torchvision.models.mobilenetv2": "rustdl.models.mobilenetv2",
    "torchvision.models.mobilenetv3": "rustdl.models.mobilenetv3",
    "torchvision.models.regnet": "rustdl.models.regnet",
    "torchvision.models.resnet": "rustdl.models.resnet",
    "torchvision.models.shufflenetv2": "rustdl.models.shufflenetv2",
    "torchvision.models.squeezenet": "rustdl.models.squeezenet",
    "torchvision.models.vgg": "rustdl.models.vgg",
    "torchvision.models.vision_transformer": "rustdl.models.vision_transformer",
    **{
        f"torchvision.datasets.{m}": "rustdl.torchcompat.torchvision.datasets._unserved"
        for m in _UNSERVED_DATASET_MODULES
    },
    "torchvision.ops.misc": "rustdl.models._misc",
    "torchvision.ops.stochastic_depth": "rustdl.models._misc",
    "torchvision.ops.feature_pyramid_network": "rustdl.torchcompat.torchvision.ops",
    "torchvision.ops.poolers": "rustdl.torchcompat.torchvision.ops",
    "torchvision.ops.roi_align": "rustdl.torchcompat.torchvision.ops",
    "torchvision.ops.roi_pool": "rustdl.torchcompat.torchvision.ops",
    "torchvision.ops.boxes": "rustdl.torchcompat.torchvision.ops",
    "torchvision.ops.drop_block": "rustdl.torchcompat.torchvision.ops",
    "torchvision.ops.focal_loss": "rustdl.torchcompat.torchvision.ops",
    "torchvision.ops.giou_loss": "rustdl.torchcompat.torchvision.ops",
    "torchvision.ops.diou_loss": "rustdl.torchcompat.torchvision.ops",
    "torchvision.ops.ciou_loss": "rustdl.torchcompat.torchvision.ops",
}


def _rustdl_name(fullname: str) -> str | None:
    """The rustdl module behind a torch/torchvision module name, or None if not ours."""
    best = None
    for prefix in _PREFIXES:
        if fullname == prefix or fullname.startswith(prefix + "."):
            if best is None or len(prefix) > len(best):
                best = prefix
    if best is None:
        return None
    return _PREFIXES[best] + fullname[len(best) :]


def _shim_submodule(parent: str, name: str) -> types.ModuleType | None:
    """The module ``import <parent>.<name>`` gives where ``_PREFIXES`` maps that name to a rustdl
    module (``torchvision.datasets.folder``, ``torchvision.models.resnet``), or None. The
    torchvision shim's modules look their missing attributes up here, so that such a submodule
    is an attribute of its package without an import of its own, as in torchvision (whose
    packages import their submodules)."""
    target = _PREFIXES.get(f"{parent}.{name}")
    if target is None:
        return None
    try:
        return importlib.import_module(target)
    except ImportError:
        return None


def _unsupported(modname: str, name: str) -> AttributeError:
    return AttributeError(
        f"module '{modname}' has no attribute '{name}': rustdl does not support {modname}.{name} yet"
    )


_ABSENT = object()  # (an attribute the rustdl module did not have)


class TorchFacade(types.ModuleType):
    """A module named like a torch module whose attributes come from a rustdl module.

    Lookup order: the facade's own overrides, then the rustdl module, then a submodule of it;
    anything else raises ``AttributeError`` naming the attribute. Setting an attribute sets it
    on the rustdl module too (``torch.backends.cudnn.benchmark = True`` reaches rustdl's flag).
    ``__all__`` (what ``from torch.nn import *`` binds) is worked out on first use: the names
    PyTorch's star import binds that the facade resolves (see :mod:`._star_names`).
    """

    def __init__(self, name: str, target: types.ModuleType, overrides: dict[str, Any] | None = None):
        super().__init__(name, getattr(target, "__doc__", None))
        object.__setattr__(self, "_target", target)
        # the module's classes are in its __dict__ too, so vars(torch.nn) / torch.optim.__dict__
        # list them (library code resolves names such as 'relu' or 'adam' that way)
        for key, value in list(vars(target).items()):
            if isinstance(value, type) and not key.startswith("_"):
                object.__setattr__(self, key, value)
        for key, value in (overrides or {}).items():
            object.__setattr__(self, key, value)
        if hasattr(target, "__path__"):
            object.__setattr__(self, "__path__", [])
        # the file of the module it stands for (libraries tell a real module from a namespace
        # package by its __file__)
        if getattr(target, "__file__", None):
            object.__setattr__(self, "__file__", target.__file__)

    def __getattr__(self, name: str) -> Any:
        if name == "__all__":
            # computed on first use (a star import), so that `import torch` stays as fast
            from ._star_names import star_names

            names = star_names(self)
            object.__setattr__(self, "__all__", names)
            return names
        if name.startswith("__") and name.endswith("__") and name not in _DUNDER_MODULES:
            # a module's own dunders that dir() lists are read from the module it stands for
            if name not in _OWN_DUNDERS and name in vars(object.__getattribute__(self, "_target")):
                return vars(object.__getattribute__(self, "_target"))[name]
            raise AttributeError(name)
        target = object.__getattribute__(self, "_target")
        sub = f"{self.__name__}.{name}"
        try:
            value = getattr(target, name)
        except AttributeError:
            value = None
        else:
            if not isinstance(value, types.ModuleType):
                if type(value) is types.FunctionType and self.__name__ == "torch":
                    value = _builtin_like(name, value)
                _cache(self, name, value)
                return value
            # `torch.nn` reached as an attribute must be the facade, not rustdl.nn itself.
            try:
                return importlib.import_module(sub)
            except ImportError:
                return value
        # A submodule not imported yet: `torch.nn.functional` after only `import torch`.
        if _rustdl_name(sub) is not None:
            try:
                return importlib.import_module(sub)
            except ImportError:
                pass
        extra = _fallback(self.__name__, name)
        if extra is not None:
            if type(extra) is types.FunctionType and self.__name__ == "torch":
                return _builtin_like(name, extra)
            return extra
        raise _unsupported(self.__name__, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, TorchFacade):
            # the import system binds a submodule on its package; where the package's name is a
            # function of the same name (torch.nn.utils.spectral_norm / weight_norm), PyTorch's
            # attribute stays the function (its package imported the submodule first)
            held = getattr(object.__getattribute__(self, "_target"), name, None)
            if held is not None and not isinstance(held, types.ModuleType) and callable(held):
                return
        object.__setattr__(self, name, value)
        if not name.startswith("_") and not isinstance(value, types.ModuleType):
            target = object.__getattribute__(self, "_target")
            shadowed = self.__dict__.setdefault("_shadowed", {})
            if name not in shadowed:
                # what the rustdl module held, given back when the attribute is deleted again
                # (mock.patch deletes what it set where the facade had no attribute of its own)
                shadowed[name] = vars(target).get(name, _ABSENT)
            known = _BUILTIN_LIKE.get(name)
            if known is not None and value is known[1] and self.__name__ == "torch":
                # the facade's own torch.X put back (mock.patch restoring a kept function): the
                # rustdl module gets the function it stands for
                value = known[0]
            setattr(target, name, value)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        shadowed = self.__dict__.get("_shadowed", {})
        if name in shadowed:
            target = object.__getattribute__(self, "_target")
            old = shadowed.pop(name)
            if old is _ABSENT:
                if name in vars(target):
                    delattr(target, name)
            else:
                setattr(target, name, old)

    def __reduce__(self) -> Any:
        # pickled by name, as a module is (cloudpickle sends `torch` referred to by a function
        # so; joblib's workers then import it again)
        return (importlib.import_module, (self.__name__,))

    def __dir__(self) -> list[str]:
        return sorted(set(dir(object.__getattribute__(self, "_target"))) | set(self.__dict__))


class _TorchFunction(staticmethod):
    """A ``torch.X`` function that, like PyTorch's built-in functions, does not become a method
    when stored on a class (``class A: conv = torch.conv2d`` then ``self.conv(x, w)``): a
    callable ``staticmethod`` whose pickle names ``torch.X``."""

    def __reduce__(self) -> Any:
        return (_torch_attribute, (self.__name__,))

    # the wrapped function's defaults, as a Python function shows them (libraries inspect
    # `torch.meshgrid.__kwdefaults__` to see which keywords it takes)
    @property
    def __kwdefaults__(self) -> Any:
        return getattr(_unwrapped(self.__func__), "__kwdefaults__", None)

    @property
    def __defaults__(self) -> Any:
        return getattr(_unwrapped(self.__func__), "__defaults__", None)

    def __repr__(self) -> str:
        return f"<built-in method {self.__name__} of type object>"


def _unwrapped(fn: Any) -> Any:
    """The function under ``functools.wraps`` layers (error-typing wrappers)."""
    while getattr(fn, "__wrapped__", None) is not None:
        fn = fn.__wrapped__
    return fn


def _torch_attribute(name: str) -> Any:
    return getattr(importlib.import_module("torch"), name)


# name -> (rustdl function, its wrapper): one wrapper per function, so `torch.add is torch.add`
_BUILTIN_LIKE: dict[str, tuple[Any, _TorchFunction]] = {}


def _builtin_like(name: str, fn: Any) -> _TorchFunction:
    known = _BUILTIN_LIKE.get(name)
    if known is not None and known[0] is fn:
        return known[1]
    wrapped = _TorchFunction(fn)
    _BUILTIN_LIKE[name] = (fn, wrapped)
    # `func is torch.add` inside __torch_function__: the hook gets this object
    rustdl._dispatch.set_public(fn, wrapped)
    return wrapped


# facades of the operator namespaces, whose functions are looked up on every call in model code
# (`torch.cat`, `F.relu`, `torch.float32`): a name resolved once is kept in the facade's own
# dict, so later lookups do not go through `__getattr__` (about 1-2 us each)
_CACHING_FACADES = frozenset(
    {"torch", "torch.nn.functional", "torch.linalg", "torch.fft", "torch.special", "torch.nn.init"}
)
# what each facade holds that way (dropped when the __torch_function__ wrappers replace the
# functions behind them)
_CACHED: dict[str, tuple[TorchFacade, set[str]]] = {}


def _cache(facade: TorchFacade, name: str, value: Any) -> None:
    """Keeps ``facade.name`` (a function or a dtype of an operator namespace) in the facade's own
    dict; other values (flags, mutable state) are looked up each time."""
    mod = facade.__name__
    if mod not in _CACHING_FACADES or name.startswith("_"):
        return
    if not (
        isinstance(value, (_TorchFunction, types.FunctionType, types.BuiltinFunctionType))
        or type(value) is type(rustdl.float32)
    ):
        return
    object.__setattr__(facade, name, value)
    _CACHED.setdefault(mod, (facade, set()))[1].add(name)


def _dispatch_activated() -> None:
    """The ``__torch_function__`` wrappers were installed (rustdl._dispatch.activate): the
    ``torch.X`` objects handed out before call them now, and stay the same objects; the functions
    the facades kept are looked up again (they are the wrappers now)."""
    for facade, names in list(_CACHED.values()):
        for name in list(names):
            if name in facade.__dict__ and not isinstance(facade.__dict__[name], _TorchFunction):
                object.__delattr__(facade, name)
                names.discard(name)
    for name, (fn, wrapped) in list(_BUILTIN_LIKE.items()):
        known = rustdl._dispatch._WRAPPED.get(id(fn))
        if known is None or known[0] is not fn:
            continue
        wrapper = known[1]
        staticmethod.__init__(wrapped, wrapper)
        _BUILTIN_LIKE[name] = (wrapper, wrapped)
        rustdl._dispatch.set_public(wrapper, wrapped)


# torch's submodules with dunder names (``torch.__config__.show()``)
_DUNDER_MODULES = frozenset({"__config__"})
# module dunders a facade does not take from the module it stands for (its own, or the lazy
# attribute hooks of the rustdl module)
_OWN_DUNDERS = frozenset({"__getattr__", "__dir__", "__path__", "__all__", "__spec__", "__loader__"})


# ``torch.X`` names that are ``torch.nn.functional.X`` with the same leading arguments.
_TORCH_FUNCTIONAL = frozenset(
    "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d max_pool1d max_pool2d avg_pool1d "
    "adaptive_avg_pool1d adaptive_max_pool1d pixel_shuffle pixel_unshuffle cosine_similarity "
    "pairwise_distance dropout alpha_dropout selu celu prelu threshold rrelu hardshrink layer_norm "
    "group_norm bilinear".split()
)


# Tensor's methods as rustdl defines them (before a program patches any)
_TENSOR_OWN: dict[str, Any] = dict(vars(rustdl.Tensor))
_TORCH_PUBLIC: list[frozenset] = []


def _torch_public() -> frozenset:
    """The public names of PyTorch's ``torch`` module (``torch.view`` or ``torch.as_subclass``
    are no functions there, so ``hasattr(torch, ...)`` is False here too)."""
    if not _TORCH_PUBLIC:
        from ._star_names import _TORCH_STAR

        _TORCH_PUBLIC.append(frozenset(_TORCH_STAR["torch"].split()))
    return _TORCH_PUBLIC[0]


def _fallback(modname: str, name: str) -> Any:
    """Functional forms of Tensor methods (``torch.pow(x, 2)`` → ``x.pow(2)``) and the
    ``torch.nn.functional`` ops that ``torch`` also exports (``torch.conv2d``) for ``torch``."""
    if modname == "torch" and name in _TORCH_FUNCTIONAL:
        from rustdl.nn import functional

        return getattr(functional, name)
    method = _TENSOR_OWN.get(name)
    if modname == "torch" and callable(method) and not name.startswith("_") and name in _torch_public():

        def fn(input: Any, *args: Any, out: Any = None, **kwargs: Any) -> Any:
            if not isinstance(input, rustdl.Tensor):
                input = rustdl.tensor(input)
            # rustdl's own method (its __torch_function__ form once that is installed), not
            # whatever the program has since put on Tensor under this name
            known = rustdl._dispatch._WRAPPED.get(id(method))
            impl = known[1] if known is not None and known[0] is method else method
            return rustdl._into(out, impl(input, *args, **kwargs))

        fn.__name__ = name
        fn.__doc__ = f"Functional form of ``Tensor.{name}`` (torch compatibility)."
        return fn
    return None


class _FacadeLoader(importlib.abc.Loader):
    def __init__(self, target_name: str) -> None:
        self.target_name = target_name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        try:
            target = importlib.import_module(self.target_name)
        except ModuleNotFoundError as e:
            if e.name and (self.target_name == e.name or self.target_name.startswith(e.name + ".")):
                raise ModuleNotFoundError(
                    f"No module named '{spec.name}': rustdl does not support {spec.name} yet "
                    f"(it would be {self.target_name})",
                    name=spec.name,
                ) from None
            raise
        if spec.name.startswith("torchvision"):
            return target  # the shim is written as torchvision already
        from . import _overrides

        facade = TorchFacade(spec.name, target, _overrides.for_module(spec.name))
        if spec.name == "torch":
            object.__setattr__(facade, "torch", facade)  # `torch.torch` is torch, as PyTorch's
        return facade

    def exec_module(self, module: types.ModuleType) -> None:
        if isinstance(module, TorchFacade):
            _rename_classes(module)


# classes whose ``__module__`` names the torch module they are reached from while installed, as
# PyTorch's (``StepLR.__module__ == "torch.optim.lr_scheduler"``: scripts compare it with the
# module's ``__name__``, and pickles of them name what PyTorch's name), with their own names
_RENAMED: dict[type, str] = {}


# classes whose PyTorch module is not the one their rustdl file maps to (checked at renaming:
# the torch module must resolve to the class)
_CLASS_HOMES: dict[str, str] = {
    "detect_anomaly": "torch.autograd.anomaly_mode",
    "set_detect_anomaly": "torch.autograd.anomaly_mode",
    "Function": "torch.autograd.function",
    "enable_grad": "torch.autograd.grad_mode",
    "inference_mode": "torch.autograd.grad_mode",
    "no_grad": "torch.autograd.grad_mode",
    "set_grad_enabled": "torch.autograd.grad_mode",
    "set_multithreading_enabled": "torch.autograd.grad_mode",
    "Variable": "torch.autograd.variable",
    "Beta": "torch.distributions.beta",
    "Binomial": "torch.distributions.binomial",
    "Cauchy": "torch.distributions.cauchy",
    "Chi2": "torch.distributions.chi2",
    "ContinuousBernoulli": "torch.distributions.continuous_bernoulli",
    "Dirichlet": "torch.distributions.dirichlet",
    "Exponential": "torch.distributions.exponential",
    "FisherSnedecor": "torch.distributions.fishersnedecor",
    "Gamma": "torch.distributions.gamma",
    "GeneralizedPareto": "torch.distributions.generalized_pareto",
    "Geometric": "torch.distributions.geometric",
    "Gumbel": "torch.distributions.gumbel",
    "HalfCauchy": "torch.distributions.half_cauchy",
    "HalfNormal": "torch.distributions.half_normal",
    "Independent": "torch.distributions.independent",
    "InverseGamma": "torch.distributions.inverse_gamma",
    "Kumaraswamy": "torch.distributions.kumaraswamy",
    "Laplace": "torch.distributions.laplace",
    "LKJCholesky": "torch.distributions.lkj_cholesky",
    "LogNormal": "torch.distributions.log_normal",
    "LogisticNormal": "torch.distributions.logistic_normal",
    "LowRankMultivariateNormal": "torch.distributions.lowrank_multivariate_normal",
    "MixtureSameFamily": "torch.distributions.mixture_same_family",
    "Multinomial": "torch.distributions.multinomial",
    "MultivariateNormal": "torch.distributions.multivariate_normal",
    "NegativeBinomial": "torch.distributions.negative_binomial",
    "OneHotCategorical": "torch.distributions.one_hot_categorical",
    "OneHotCategoricalStraightThrough": "torch.distributions.one_hot_categorical",
    "Pareto": "torch.distributions.pareto",
    "Poisson": "torch.distributions.poisson",
    "RelaxedBernoulli": "torch.distributions.relaxed_bernoulli",
    "RelaxedOneHotCategorical": "torch.distributions.relaxed_categorical",
    "StudentT": "torch.distributions.studentT",
    "VonMises": "torch.distributions.von_mises",
    "Weibull": "torch.distributions.weibull",
    "Wishart": "torch.distributions.wishart",
    "BatchNorm1d": "torch.nn.modules.batchnorm",
    "BatchNorm2d": "torch.nn.modules.batchnorm",
    "BatchNorm3d": "torch.nn.modules.batchnorm",
    "LazyBatchNorm1d": "torch.nn.modules.batchnorm",
    "LazyBatchNorm2d": "torch.nn.modules.batchnorm",
    "LazyBatchNorm3d": "torch.nn.modules.batchnorm",
    "SyncBatchNorm": "torch.nn.modules.batchnorm",
    "ChannelShuffle": "torch.nn.modules.channelshuffle",
    "Flatten": "torch.nn.modules.flatten",
    "Unflatten": "torch.nn.modules.flatten",
    "InstanceNorm1d": "torch.nn.modules.instancenorm",
    "InstanceNorm2d": "torch.nn.modules.instancenorm",
    "InstanceNorm3d": "torch.nn.modules.instancenorm",
    "LazyInstanceNorm1d": "torch.nn.modules.instancenorm",
    "LazyInstanceNorm2d": "torch.nn.modules.instancenorm",
    "LazyInstanceNorm3d": "torch.nn.modules.instancenorm",
    "DataParallel": "torch.nn.parallel.data_parallel",
    "DistributedDataParallel": "torch.nn.parallel.distributed",
    "Adafactor": "torch.optim",
    "Muon": "torch.optim",
    "DistributedSampler": "torch.utils.data.distributed",
}


def _torch_name(rustdl_module: str) -> str | None:
    """The torch module name that resolves to ``rustdl_module`` (the longest mapping wins)."""
    best = None
    for torch_prefix, ours in _PREFIXES.items():
        if rustdl_module == ours or rustdl_module.startswith(ours + "."):
            if (
                best is None
                or len(ours) > len(best[1])
                or (len(ours) == len(best[1]) and len(torch_prefix) < len(best[0]))
            ):
                best = (torch_prefix, ours)
    if best is None or not best[0].startswith("torch"):
        return None
    return best[0] + rustdl_module[len(best[1]) :]


def _rename_classes(facade: TorchFacade) -> None:
    target = object.__getattribute__(facade, "_target")
    for value in list(vars(target).values()):
        if not isinstance(value, type) or value in _RENAMED:
            continue
        home = value.__module__
        if not isinstance(home, str) or not home.startswith("rustdl") or "._" in home:
            continue  # (rustdl's own: rustdl.Tensor, rustdl.dtype become torch.Tensor, torch.dtype)
        for name in (_CLASS_HOMES.get(value.__qualname__), _torch_name(home)):
            if name is None or "._" in name:
                continue
            try:
                owner = facade if name == facade.__name__ else importlib.import_module(name)
                if getattr(owner, value.__qualname__, None) is not value:
                    continue
                value.__module__ = name
                break
            except Exception:  # noqa: BLE001 - an immutable type or a module that cannot load
                continue
        else:
            continue
        _RENAMED[value] = home
    if facade.__name__ == "torch":
        # complex tensors' classes: their module's first name is torch's, as a complex tensor's
        # class is torch.Tensor (libraries pick a backend by it), and the name still resolves
        from .. import _complex

        for cls in (_complex.ComplexTensor, _complex.ComplexParameter):
            if cls not in _RENAMED:
                _RENAMED[cls] = cls.__module__
                cls.__module__ = "torch._complex"


def _restore_class_names() -> None:
    for cls, home in _RENAMED.items():
        try:
            cls.__module__ = home
        except (TypeError, AttributeError):
            pass
    _RENAMED.clear()


class _TorchFinder(importlib.abc.MetaPathFinder):
    """Answers imports of ``torch*`` and ``torchvision*`` with rustdl facades."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        target_name = _rustdl_name(fullname)
        if target_name is None:
            return None
        is_pkg = True  # harmless: lets `import torch.x.y` look for children
        return importlib.machinery.ModuleSpec(fullname, _FacadeLoader(target_name), is_package=is_pkg)

    def find_distributions(self, context: Any = None) -> list[importlib.metadata.Distribution]:
        """``importlib.metadata``'s view of the facades: ``version("torch")`` is what
        ``torch.__version__`` says (libraries check requirements through the metadata)."""
        name = getattr(context, "name", None)
        wanted = None if name is None else name.lower().replace("-", "_").replace(".", "_")
        return [
            _FacadeDistribution(dist, version)
            for dist, version in _facade_versions()
            if wanted is None or wanted == dist
        ]


def _facade_versions() -> list[tuple[str, str]]:
    from . import _torch_version
    from .torchvision import __version__ as vision_version

    return [("torch", str(_torch_version.__version__)), ("torchvision", vision_version)]


class _FacadeDistribution(importlib.metadata.Distribution):
    """The installed-package record of a facade (``torch``, ``torchvision``): a name and a
    version, no files."""

    def __init__(self, name: str, version: str) -> None:
        self._meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"

    def read_text(self, filename: str) -> str | None:
        return self._meta if filename in ("METADATA", "PKG-INFO") else None

    def locate_file(self, path: Any) -> Any:
        import pathlib

        return pathlib.Path(rustdl.__file__).parent / str(path)


_FINDER = _TorchFinder()


_SPAWN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_spawn")


def installed() -> bool:
    """True while the torch finder is on ``sys.meta_path``."""
    return _FINDER in sys.meta_path


def install() -> None:
    """Makes ``import torch`` / ``import torchvision`` resolve to rustdl (idempotent).

    Also adds the small Tensor/Module methods PyTorch scripts call that rustdl spells
    differently (``.cuda()``, ``is_mps``, ...) where rustdl lacks them.
    """
    for name in [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "torchvision"))]:
        if not isinstance(sys.modules[name], TorchFacade) and not name.startswith("torchvision"):
            del sys.modules[name]  # a real torch imported earlier must not be mixed in
    if not installed():
        sys.meta_path.insert(0, _FINDER)
    # processes started by `spawn`/`forkserver` get this sys.path: there `import torch` finds the
    # package in _spawn first, which installs this finder too
    if _SPAWN_PATH not in sys.path:
        sys.path.insert(0, _SPAWN_PATH)
    # PyTorch scripts branch on `device.type == "cuda"`: the GPU answers to that name meanwhile
    _rustdl._name_gpu_cuda(True)
    from . import _overrides

    # "cuda" strings (`.to("cuda")`, `device="cuda"`) land where `torch.device("cuda")` does
    _rustdl._cuda_on_cpu(_overrides.forced_cpu())
    # "meta" tensors (built only to be filled afterwards) are CPU tensors here
    _rustdl._meta_on_cpu(True)
    _overrides.patch_classes()
    # functorch, torch.func's former home, which older scripts still import
    if "functorch" not in sys.modules:
        from . import _functorch

        sys.modules["functorch"] = _functorch


def uninstall() -> None:
    """Removes the finder and the torch/torchvision entries from ``sys.modules``."""
    if installed():
        sys.meta_path.remove(_FINDER)
    while _SPAWN_PATH in sys.path:
        sys.path.remove(_SPAWN_PATH)
    _rustdl._name_gpu_cuda(False)
    _rustdl._cuda_on_cpu(False)
    _rustdl._meta_on_cpu(False)
    if getattr(sys.modules.get("functorch"), "__name__", "") == __name__ + "._functorch":
        del sys.modules["functorch"]
    from . import _overrides

    _overrides.unpatch_classes()
    _restore_class_names()
    for name in [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "torchvision"))]:
        del sys.modules[name]


def run_script(path: str | os.PathLike, args: Sequence[str] = ()) -> dict[str, Any]:
    """Runs ``path`` as ``__main__`` with ``sys.argv = [path, *args]`` and torch resolved to rustdl.

    The script's folder goes first on ``sys.path`` (as ``python script.py`` does), so its local
    imports (``import data``, ``from model import Net``) work.

    Returns:
        The script's globals after it ran.
    """
    install()
    path = os.fspath(path)
    old_argv, old_path0 = sys.argv[:], sys.path[0] if sys.path else None
    sys.argv = [path, *args]
    script_dir = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, script_dir)
    try:
        # the script's __file__ is absolute, as `python script.py` makes it (argv[0] as given)
        return runpy.run_path(os.path.abspath(path), run_name="__main__")
    finally:
        sys.argv = old_argv
        if sys.path and sys.path[0] == script_dir:
            sys.path.pop(0)
        del old_path0


def run_module(name: str, args: Sequence[str] = ()) -> dict[str, Any]:
    """Runs module ``name`` as ``__main__`` (``python -m name args``: pytest, a package's CLI)
    with ``sys.argv = [name, *args]``, the current folder first on ``sys.path`` and torch
    resolved to rustdl."""
    install()
    old_argv = sys.argv[:]
    sys.argv = [name, *args]
    sys.path.insert(0, os.getcwd())
    try:
        return runpy.run_module(name, run_name="__main__", alter_sys=True)
    finally:
        sys.argv = old_argv
        if sys.path and sys.path[0] == os.getcwd():
            sys.path.pop(0)
