"""The fuzz suite is a package so that its conftest does not shadow tests/python's `conftest` module;
its helper modules (harness, fuzzlib, refs) are imported by their plain names from this folder."""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)
