"""``torch.save`` (rustdl's PyTorch format writer) of checkpoints holding objects of any class —
an ``argparse.Namespace``, a dataclass, an ``Enum``, a ``Path``, numpy arrays — as PyTorch writes
them: a zip whose pickle names PyTorch's tensor rebuilds and the objects' own classes, so
``torch.load(..., weights_only=False)`` of PyTorch reads it. Checked here with an independent
reader (the standard unpickler with numpy stand-ins for PyTorch's rebuild functions)."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import io
import pathlib
import pickle
import pickletools
import zipfile

import numpy as np
import pytest
import rustdl
from rustdl import _torch_format, nn


@dataclasses.dataclass
class Config:
    lr: float
    layers: list


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Holder:
    def __init__(self, t):
        self.t = t
        self.tail = t[1:]


_STORAGE_NP = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "LongStorage": "<i8", "BoolStorage": "?"}


class NumpyReader(pickle.Unpickler):
    """Reads a PyTorch zip checkpoint with numpy: a tensor becomes ``("tensor", array,
    requires_grad)``, a parameter ``("param", array, requires_grad)``."""

    def __init__(self, data: bytes):
        self.zf = zipfile.ZipFile(io.BytesIO(data))
        super().__init__(io.BytesIO(self.zf.read("archive/data.pkl")))
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):

            def rebuild(storage, offset, size, stride, requires_grad, hooks):
                arr = np.lib.stride_tricks.as_strided(
                    storage[offset:], size, [s * storage.itemsize for s in stride]
                )
                return ("tensor", arr, requires_grad)

            return rebuild
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return lambda t, requires_grad, hooks: ("param", t[1], requires_grad)
        if module == "torch" and name.endswith("Storage"):
            return name
        if (module, name) == ("torch", "device"):
            return lambda *args: ("device", args)
        if module == "torch":
            return ("dtype", name)
        assert not module.startswith("rustdl"), (module, name)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        kind, cls, key, location, numel = pid
        assert kind == "storage" and location == "cpu"
        if key not in self.storages:
            raw = self.zf.read(f"archive/data/{key}")
            self.storages[key] = np.frombuffer(raw, dtype=_STORAGE_NP[cls])
            assert self.storages[key].size == numel
        return self.storages[key]


def checkpoint():
    base = rustdl.arange(10.0)
    net = nn.Linear(3, 2)
    return {
        "args": argparse.Namespace(lr=0.1, name="run"),
        "cfg": Config(0.5, [4, 8]),
        "color": Color.BLUE,
        "path": pathlib.PurePosixPath("/data/x"),
        "np": np.arange(3.0),
        "holder": Holder(base),
        "views": [base, base[2:5], base.view(2, 5).t()],
        "model": net.state_dict(),
        "param": nn.Parameter(rustdl.ones(2)),
        "rg": rustdl.ones(2, requires_grad=True),
        "ids": rustdl.arange(4),
        "dtype": rustdl.float64,
        "device": rustdl.device("cpu"),
        "epoch": 3,
    }


def test_objects_are_written_in_pytorchs_format():
    obj = checkpoint()
    buf = io.BytesIO()
    _torch_format.save(obj, buf)
    data = buf.getvalue()
    assert data[:4] == b"PK\x03\x04"
    globals_named = {
        arg.replace(" ", ".")
        for op, arg, _ in pickletools.genops(zipfile.ZipFile(io.BytesIO(data)).read("archive/data.pkl"))
        if op.name == "GLOBAL"
    }
    assert "torch._utils._rebuild_tensor_v2" in globals_named
    assert "torch._utils._rebuild_parameter" in globals_named
    assert "argparse.Namespace" in globals_named
    assert not any(g.startswith("rustdl") for g in globals_named)
    out = NumpyReader(data).load()
    assert out["args"] == argparse.Namespace(lr=0.1, name="run")
    assert out["cfg"] == Config(0.5, [4, 8]) and out["color"] is Color.BLUE
    assert out["path"] == pathlib.PurePosixPath("/data/x") and out["epoch"] == 3
    np.testing.assert_array_equal(out["np"], [0.0, 1.0, 2.0])
    kind, arr, _ = out["holder"].t
    np.testing.assert_array_equal(arr, np.arange(10.0))
    np.testing.assert_array_equal(out["holder"].tail[1], np.arange(1.0, 10.0))
    v0, v1, v2 = (v[1] for v in out["views"])
    assert v1.base is not None and np.shares_memory(v0, v1) and np.shares_memory(v0, v2)
    np.testing.assert_array_equal(v2, np.arange(10.0).reshape(2, 5).T)
    w = obj["model"]["weight"].detach().numpy()
    np.testing.assert_array_equal(out["model"]["weight"][1], w)
    assert out["param"][0] == "param" and out["param"][2] is True
    assert out["rg"] == ("tensor", out["rg"][1], True)
    assert out["ids"][1].dtype == np.int64
    assert out["dtype"] == ("dtype", "float64") and out["device"] == ("device", ("cpu",))


def test_objects_load_back_with_weights_only_false(tmp_path):
    path = tmp_path / "ck.pt"
    _torch_format.save(checkpoint(), str(path))
    with pytest.raises(pickle.UnpicklingError, match=r"weights_only=False"):
        rustdl.load(path)
    out = rustdl.load(path, weights_only=False)
    assert out["args"].lr == 0.1 and out["cfg"] == Config(0.5, [4, 8]) and out["color"] is Color.BLUE
    assert isinstance(out["param"], nn.Parameter) and out["rg"].requires_grad
    assert out["ids"].dtype == rustdl.int64 and out["dtype"] == rustdl.float64
    base, mid, tr = out["views"]
    base[3] = 100.0  # the views share the first tensor's memory, as saved
    assert mid.tolist() == [2.0, 100.0, 4.0] and float(tr[3, 0]) == 100.0
    out["holder"].t[2] = -1.0
    assert out["holder"].tail.tolist()[:3] == [1.0, -1.0, 100.0]


def test_whole_rustdl_modules_keep_rustdls_format(tmp_path):
    # a whole module is rustdl's own layout, not PyTorch's: rustdl's format, loadable with
    # weights_only=False
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    path = tmp_path / "net.pt"
    _torch_format.save({"net": net, "args": argparse.Namespace(a=1)}, str(path))
    assert path.read_bytes()[:4] != b"PK\x03\x04"
    back = rustdl.load(path, weights_only=False)
    x = rustdl.ones(1, 3)
    np.testing.assert_allclose(back["net"](x).detach().numpy(), net(x).detach().numpy())
    assert back["args"].a == 1
