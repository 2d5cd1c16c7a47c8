"""Hypothesis profiles for the fuzz suite, picked by RUSTDL_FUZZ_PROFILE.

  ci   (default)  bounded and derandomized: the slice `make test` runs
                  (30 examples a test, ~11,000 cases, about 1 minute on 2 cores)
  long            `make fuzz`: random seeds, many examples per test (>= 50,000 cases in all)
  dev             a quick local run

RUSTDL_FUZZ_EXAMPLES overrides max_examples of the chosen profile.
"""

import os

import harness
from hypothesis import HealthCheck, settings

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
_COMMON = dict(deadline=None, suppress_health_check=_SUPPRESS, print_blob=True)

settings.register_profile("ci", max_examples=30, derandomize=True, database=None, **_COMMON)
settings.register_profile("long", max_examples=160, derandomize=False, **_COMMON)
settings.register_profile("dev", max_examples=40, derandomize=True, database=None, **_COMMON)

_profile = os.environ.get("RUSTDL_FUZZ_PROFILE", "ci")
if os.environ.get("RUSTDL_FUZZ_EXAMPLES"):
    settings.register_profile(
        _profile + "-n", settings.get_profile(_profile), max_examples=int(os.environ["RUSTDL_FUZZ_EXAMPLES"])
    )
    _profile += "-n"
settings.load_profile(_profile)


def pytest_terminal_summary(terminalreporter):
    if harness.CASES["run"]:
        terminalreporter.write_line(
            f"rustdl fuzz: {harness.CASES['run']} cases run in isolated workers (profile {_profile}), "
            f"{harness.CASES['crashes']} crashed or hung"
        )


def pytest_sessionfinish(session):
    harness.shutdown()
