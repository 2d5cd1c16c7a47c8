"""``python -m rustdl.torchcompat script.py [args]`` (or ``-m module [args]``): runs a PyTorch
script (or module, such as pytest) on rustdl, unchanged."""

from __future__ import annotations

import sys

from . import run_module, run_script


def main(argv: list[str] | None = None) -> int:
    """Runs ``argv[0]`` with ``argv[1:]`` as its arguments; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: python -m rustdl.torchcompat SCRIPT.py [ARGS...]\n"
            "       python -m rustdl.torchcompat -m MODULE [ARGS...]   (e.g. -m pytest tests/)\n"
            "Runs a PyTorch script unchanged with `import torch`/`torchvision` resolved to rustdl.\n"
            '"cuda" is rustdl\'s GPU when it is a real GPU; a software adapter (lavapipe) is not\n'
            "used unless RUSTDL_COMPAT_DEVICE=gpu; RUSTDL_COMPAT_DEVICE=cpu forces the CPU\n"
            '(torch.cuda.is_available() is False whenever "cuda" means the CPU);\n'
            "RUSTDL_COMPAT_DATA_LIMIT=N serves at most N samples per torchvision dataset.",
            file=sys.stderr if not argv else sys.stdout,
        )
        return 0 if argv else 2
    if argv[0] == "-m":
        if len(argv) < 2:
            print("python -m rustdl.torchcompat -m: a module name is needed", file=sys.stderr)
            return 2
        try:
            run_module(argv[1], argv[2:])
        except SystemExit as e:  # pytest and most CLIs end with sys.exit(status)
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return 0
    run_script(argv[0], argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
