"""Runs the unchanged third-party PyTorch programs in ``tests/compat/programs`` on rustdl.

Each program runs as ``python -m rustdl.torchcompat PROGRAM [ARGS]`` in a subprocess, in a fresh
temporary folder, with small settings it allows (its own command-line flags) and the
torchvision shim serving local data (``RUSTDL_COMPAT_DATA_LIMIT`` caps the samples served).
The report says, per program, whether it ran unchanged (exit 0) and either the first error or
what it learned (its own last printed loss/accuracy lines).

Usage:
    python tests/compat/run_programs.py                 # all programs, CPU
    python tests/compat/run_programs.py mnist vae       # programs whose name contains a word
    python tests/compat/run_programs.py --device gpu    # let "cuda" requests reach rustdl's GPU
    python tests/compat/run_programs.py --markdown      # the table as Markdown
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"


@dataclasses.dataclass
class Program:
    """One program: its file(s) under programs/, arguments, environment and timeout."""

    name: str
    source: str
    script: str
    args: list[str] = dataclasses.field(default_factory=list)
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    before: list[tuple[str, list[str]]] = dataclasses.field(default_factory=list)  # scripts run first
    dirs: list[str] = dataclasses.field(default_factory=list)  # folders the program expects to exist
    learned: str = r"(loss|Loss|accuracy|Accuracy|error|Result|Learned)"
    timeout: float = 300.0


def flags(**options: object) -> list[str]:
    """Command-line flags from keywords: ``flags(batch_size=64)`` is ``["--batch-size", "64"]``."""
    out: list[str] = []
    for name, value in options.items():
        out += [f"--{name.replace('_', '-')}", str(value)]
    return out


def data_limit(n: int) -> dict[str, str]:
    """The environment that caps the samples the torchvision shim serves at ``n``."""
    return {"RUSTDL_COMPAT_DATA_LIMIT": str(n)}


EX = "pytorch/examples"
TU = "pytorch/tutorials"
TEST_SET = r"(Test set|Loss)"  # what the MNIST-style examples print when they learned
# The short settings of the two MNIST classifiers (mnist, mnist_rnn): one epoch over 2,000 digits.
MNIST_SHORT: dict = dict(
    args=flags(epochs=1, batch_size=64, test_batch_size=500, log_interval=10),
    env=data_limit(2000),
    learned=TEST_SET,
)

ALL: list[Program] = [
    Program("regression", EX + " regression/main.py", "examples_regression.py", timeout=120),
    Program(
        "polynomial_custom_function",
        TU + " beginner_source/examples_autograd/polynomial_custom_function.py",
        "tutorials_polynomial_custom_function.py",
        timeout=120,
    ),
    Program(
        "polynomial_nn",
        TU + " beginner_source/examples_nn/polynomial_nn.py",
        "tutorials_polynomial_nn.py",
        timeout=120,
    ),
    Program(
        "polynomial_optim",
        TU + " beginner_source/examples_nn/polynomial_optim.py",
        "tutorials_polynomial_optim.py",
        timeout=120,
    ),
    Program(
        "polynomial_module",
        TU + " beginner_source/examples_nn/polynomial_module.py",
        "tutorials_polynomial_module.py",
        timeout=120,
    ),
    Program(
        "dynamic_net",
        TU + " beginner_source/examples_nn/dynamic_net.py",
        "tutorials_dynamic_net.py",
        timeout=300,
    ),
    Program(
        "blitz_neural_networks",
        TU + " beginner_source/blitz/neural_networks_tutorial.py",
        "tutorials_blitz_neural_networks.py",
        learned=r"(tensor|grad)",
        timeout=120,
    ),
    Program("mnist", EX + " mnist/main.py", "examples_mnist.py", **MNIST_SHORT),
    Program(
        "mnist_forward_forward",
        EX + " mnist_forward_forward/main.py",
        "examples_mnist_forward_forward.py",
        ["--epochs", "60", "--train_size", "1000", "--test_size", "500", "--log-interval", "20"],
        learned=r"(error|Loss)",
    ),
    Program("mnist_rnn", EX + " mnist_rnn/main.py", "examples_mnist_rnn.py", **MNIST_SHORT),
    Program(
        "vae",
        EX + " vae/main.py",
        "examples_vae.py",
        flags(epochs=1, batch_size=128, log_interval=5),
        env=data_limit(2000),
        dirs=["results"],
        learned=r"(====>|Loss)",
    ),
    Program(
        "dcgan",
        EX + " dcgan/main.py",
        "examples_dcgan.py",
        [
            "--dataset",
            "fake",
            "--batchSize",
            "16",
            "--imageSize",
            "64",
            "--ngf",
            "16",
            "--ndf",
            "16",
            "--niter",
            "1",
            "--dry-run",
            "--workers",
            "0",
            "--manualSeed",
            "1",
            "--outf",
            "out",
        ],
        learned=r"(Loss_D|Loss_G)",
    ),
    Program(
        "time_sequence_prediction",
        EX + " time_sequence_prediction/{generate_sine_wave,train}.py",
        "examples_tsp_train.py",
        ["--steps", "2"],
        before=[("examples_tsp_generate_sine_wave.py", [])],
        learned=r"(loss|STEP)",
    ),
    Program(
        "siamese_network",
        EX + " siamese_network/main.py",
        "examples_siamese_network.py",
        flags(epochs=1, batch_size=64, test_batch_size=250, log_interval=5),
        env=data_limit(1000),
        learned=TEST_SET,
    ),
]


@dataclasses.dataclass
class Result:
    """What one run gave: exit status, seconds, first error line, last learned lines."""

    program: Program
    ok: bool
    seconds: float
    error: str
    learned: str
    output: str


def _first_error(text: str) -> str:
    """The exception line of the first traceback in ``text`` (or the last line)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and "XDG_RUNTIME_DIR" not in ln]
    for i, ln in enumerate(lines):
        if ln.startswith("Traceback"):
            for later in lines[i + 1 :]:
                if not later.startswith((" ", "\t", "Traceback")) and not later.startswith("During handling"):
                    where = [
                        x.strip() for x in lines[i + 1 : lines.index(later)] if x.strip().startswith("File")
                    ]
                    loc = where[-1] if where else ""
                    return f"{later.strip()}  [{loc}]" if loc else later.strip()
    return lines[-1] if lines else "(no output)"


def _learned(text: str, pattern: str, n: int = 2) -> str:
    hits = [ln.strip() for ln in text.splitlines() if re.search(pattern, ln)]
    return " | ".join(hits[-n:])[:300]


def run(
    program: Program, device: str = "cpu", python: str = sys.executable, launcher: list[str] | None = None
) -> Result:
    """Runs one program (and the scripts it needs first) in a temporary folder.

    ``launcher`` replaces ``[python, "-m", "rustdl.torchcompat"]`` (compare_with_torch.py runs
    the same program under real PyTorch with it)."""
    env = dict(os.environ)
    env.update(program.env)
    env.setdefault("RUSTDL_NUM_THREADS", env.get("RUSTDL_NUM_THREADS", "2"))
    env["RUSTDL_COMPAT_DEVICE"] = "cpu" if device == "cpu" else "gpu"
    start = time.monotonic()
    output = ""
    with tempfile.TemporaryDirectory(prefix=f"compat_{program.name}_") as tmp:
        for d in program.dirs:
            os.makedirs(os.path.join(tmp, d), exist_ok=True)
        steps = [*program.before, (program.script, program.args)]
        rc = 0
        for script, args in steps:
            cmd = [*(launcher or [python, "-m", "rustdl.torchcompat"]), str(PROGRAMS / script), *args]
            try:
                proc = subprocess.run(
                    cmd,
                    cwd=tmp,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=max(1.0, program.timeout - (time.monotonic() - start)),
                )
                output += proc.stdout + proc.stderr
                rc = proc.returncode
            except subprocess.TimeoutExpired as e:
                out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
                output += out + f"\nTimeout: still running after {program.timeout:.0f} s\n"
                rc = -1
            if rc != 0:
                break
    seconds = time.monotonic() - start
    ok = rc == 0
    return Result(
        program, ok, seconds, "" if ok else _first_error(output), _learned(output, program.learned), output
    )


def main(argv: list[str] | None = None) -> int:
    """Runs the selected programs and prints one line (or Markdown row) per program."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="run only programs whose name contains one of these")
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print each program's output")
    args = parser.parse_args(argv)
    chosen = [p for p in ALL if not args.names or any(n in p.name for n in args.names)]
    results = []
    if args.markdown:
        print("| program | source | runs unchanged | seconds | first error / what it learned |")
        print("| --- | --- | --- | --- | --- |")
    for p in chosen:
        r = run(p, args.device)
        results.append(r)
        detail = r.learned if r.ok else r.error
        if args.markdown:
            print(
                f"| {p.name} | {p.source} | {'yes' if r.ok else 'no'} | {r.seconds:.1f} | "
                f"{detail.replace('|', '/')} |",
                flush=True,
            )
        else:
            print(f"{p.name:28s} {'OK ' if r.ok else 'FAIL'} {r.seconds:6.1f}s  {detail}", flush=True)
        if args.verbose:
            print(r.output)
    passed = sum(r.ok for r in results)
    print(f"\n{passed} of {len(results)} programs ran unchanged")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
