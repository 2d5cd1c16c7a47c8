"""The main demo: a small CNN on the full Fashion-MNIST with augmentation, early stopping, the best
checkpoint and training curves. Same as ``python -m rustdl.examples.fashion_mnist`` (or ``make demo``).

    python examples/fashion_mnist.py [--device gpu] [--epochs N]
"""

from rustdl.examples.fashion_mnist import main

if __name__ == "__main__":
    main()
