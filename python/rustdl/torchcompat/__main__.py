"""``python -m rustdl.torchcompat script.py [args]``: runs a PyTorch script on rustdl, unchanged."""

from __future__ import annotations

import sys

from . import run_script


def main(argv: list[str] | None = None) -> int:
    """Runs ``argv[0]`` with ``argv[1:]`` as its arguments; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: python -m rustdl.torchcompat SCRIPT.py [ARGS...]\n"
            "Runs a PyTorch script unchanged with `import torch`/`torchvision` resolved to rustdl.\n"
            '"cuda" is rustdl\'s GPU when it is a real GPU; a software adapter (lavapipe) is not\n'
            "used unless RUSTDL_COMPAT_DEVICE=gpu; RUSTDL_COMPAT_DEVICE=cpu forces the CPU\n"
            '(torch.cuda.is_available() is False whenever "cuda" means the CPU);\n'
            "RUSTDL_COMPAT_DATA_LIMIT=N serves at most N samples per torchvision dataset.",
            file=sys.stderr if not argv else sys.stdout,
        )
        return 0 if argv else 2
    run_script(argv[0], argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
