"""Found only by processes that ``multiprocessing`` starts with ``spawn``/``forkserver`` from a
script running under ``rustdl.torchcompat``: they get the parent's ``sys.path``, on which this
folder comes first. Importing it installs the torch finder and puts rustdl's ``torch`` here."""

import importlib
import sys

import rustdl.torchcompat as _compat

del sys.modules[__name__]
_compat.install()
sys.modules[__name__] = importlib.import_module(__name__)
