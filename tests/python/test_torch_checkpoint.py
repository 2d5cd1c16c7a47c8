"""Reading PyTorch checkpoints without torch: the zip and legacy formats, refusal of hostile
pickles, corrupt files, and ``map_location``.

The files are written here with the standard library only: the pickle by :class:`PickleWriter`,
which emits protocol-2 opcodes as the pickle format documents them (``GLOBAL``, ``BINPERSID``,
``REDUCE``...), and the archive with :mod:`zipfile` in the layout ``torch.save`` uses. Expected
values come from numpy slicing of the storage arrays, never from the loader.
"""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
import rustdl
from rustdl import nn

# -------------------------------------------------------------------------------------------
# writing PyTorch-format files by hand
# -------------------------------------------------------------------------------------------

STORAGE_CLASS = {
    np.dtype("float32"): "FloatStorage",
    np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage",
    np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage",
    np.dtype("int16"): "ShortStorage",
    np.dtype("int8"): "CharStorage",
    np.dtype("uint8"): "ByteStorage",
    np.dtype("bool"): "BoolStorage",
}


class Storage:
    """A storage to write: a 1-D array saved under ``key`` at ``location``."""

    def __init__(self, key, array, location="cpu", cls=None):
        self.key, self.array, self.location = key, np.ascontiguousarray(array).ravel(), location
        self.cls = cls or STORAGE_CLASS[self.array.dtype]

    def raw(self):
        if self.cls == "BFloat16Storage":
            return self.array.tobytes()  # already the uint16 bit patterns
        return self.array.astype(self.array.dtype.newbyteorder("<")).tobytes()


class T:
    """A tensor to write: ``storage`` seen from ``offset`` with ``size`` and ``stride`` (in elements)."""

    def __init__(self, storage, size, stride=None, offset=0, requires_grad=False, parameter=False):
        if stride is None:
            stride = tuple(int(np.prod(size[i + 1 :])) for i in range(len(size)))
        self.storage, self.size, self.stride, self.offset = storage, tuple(size), tuple(stride), offset
        self.requires_grad, self.parameter = requires_grad, parameter


class Global:
    """``GLOBAL module name`` in the pickle; calling it records a REDUCE."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        return Call(self, args)


class Call:
    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state


class Build:
    """``obj`` followed by ``BUILD state``."""

    def __init__(self, obj, state):
        self.obj, self.state = obj, state


class PickleWriter:
    """Emits a protocol-2 pickle opcode by opcode (the subset torch.save produces)."""

    def __init__(self, legacy=False):
        self.out = bytearray(b"\x80\x02")
        self.legacy = legacy
        self.storages = {}

    def dumps(self, obj):
        self.write(obj)
        self.out += b"."
        return bytes(self.out)

    def write(self, x):
        o = self.out
        if x is None:
            o += b"N"
        elif x is True or x is False:
            o += b"\x88" if x else b"\x89"
        elif isinstance(x, int):
            if -(2**31) <= x < 2**31:
                o += b"J" + struct.pack("<i", x)
            else:
                raw = x.to_bytes((x.bit_length() + 8) // 8, "little", signed=True)
                o += b"\x8a" + bytes([len(raw)]) + raw
        elif isinstance(x, float):
            o += b"G" + struct.pack(">d", x)
        elif isinstance(x, str):
            raw = x.encode()
            o += b"X" + struct.pack("<I", len(raw)) + raw
        elif isinstance(x, tuple):
            o += b"("
            for v in x:
                self.write(v)
            o += b"t"
        elif isinstance(x, list):
            o += b"]("
            for v in x:
                self.write(v)
            o += b"e"
        elif isinstance(x, collections.OrderedDict):
            self.write(Global("collections", "OrderedDict")())
            if getattr(x, "_metadata", None) is not None:
                self.write({"_metadata": x._metadata})
                o += b"b"
            self.setitems(x)
        elif isinstance(x, dict):
            o += b"}"
            self.setitems(x)
        elif isinstance(x, Global):
            o += b"c" + f"{x.module}\n{x.name}\n".encode()
        elif isinstance(x, Call):
            self.write(x.fn)
            self.write(tuple(x.args))
            o += b"R"
        elif isinstance(x, Build):
            self.write(x.obj)
            self.write(x.state)
            o += b"b"
        elif isinstance(x, Storage):
            self.storages[x.key] = x
            pid = ("storage", Global("torch", x.cls), x.key, x.location, x.array.size)
            self.write(pid + (None,) if self.legacy else pid)
            o += b"Q"
        elif isinstance(x, T):
            rebuild = Global("torch._utils", "_rebuild_tensor_v2")
            t = rebuild(x.storage, x.offset, x.size, x.stride, x.requires_grad, collections.OrderedDict())
            if x.parameter:
                t = Global("torch._utils", "_rebuild_parameter")(
                    t, x.requires_grad, collections.OrderedDict()
                )
            self.write(t)
        else:
            raise TypeError(type(x))

    def setitems(self, d):
        self.out += b"("
        for k, v in d.items():
            self.write(k)
            self.write(v)
        self.out += b"u"


def zip_checkpoint(obj, prefix="archive", pickle_bytes=None, byteorder=b"little"):
    """The bytes of a zip-format checkpoint of ``obj`` (or of a given data.pkl)."""
    w = PickleWriter()
    data = w.dumps(obj)
    if pickle_bytes is not None:
        data = pickle_bytes  # obj still gives the storages
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{prefix}/data.pkl", data)
        if byteorder is not None:
            zf.writestr(f"{prefix}/byteorder", byteorder)
        for key, st in w.storages.items():
            zf.writestr(f"{prefix}/data/{key}", st.raw())
        zf.writestr(f"{prefix}/version", "3\n")
    return buf.getvalue()


MAGIC = 0x1950A86A20F9469CFC6C


def legacy_checkpoint(obj, main_pickle=None):
    """The bytes of a legacy (pre-1.6) checkpoint: magic, version, sys info, object, keys, storages."""
    w = PickleWriter(legacy=True)
    main = w.dumps(obj)
    if main_pickle is not None:
        main = main_pickle  # obj still gives the storages
    keys = sorted(w.storages)
    out = bytearray()
    out += pickle.dumps(MAGIC, protocol=2)
    out += pickle.dumps(1001, protocol=2)
    out += pickle.dumps(
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}, protocol=2
    )
    out += main
    out += pickle.dumps(keys, protocol=2)
    for k in keys:
        st = w.storages[k]
        out += struct.pack("<q", st.array.size) + st.raw()
    return bytes(out)


WRITERS = {"zip": zip_checkpoint, "legacy": legacy_checkpoint}


def write(tmp_path, data, name="ck.pt"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


# -------------------------------------------------------------------------------------------
# a state_dict with every layout: views, offsets, shared storages, dtypes
# -------------------------------------------------------------------------------------------


def rich_state_dict():
    """Returns (what to write, numpy references)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal(12).astype(np.float32)
    base = np.arange(20, dtype=np.float64).reshape(4, 5) / 7
    half = rng.standard_normal(6).astype(np.float16)
    ids = np.array([5, -3, 2**40, 0], dtype=np.int64)
    i32 = np.array([-7, 0, 123456], dtype=np.int32)
    u8 = np.array([0, 200, 255], dtype=np.uint8)
    mask = np.array([True, False, True])
    col = rng.standard_normal(3).astype(np.float32)
    bf_values = np.array([1.5, -2.25, 0.0, 1024.0, -0.09375], dtype=np.float32)  # exact in bfloat16
    bf_bits = (bf_values.view(np.uint32) >> 16).astype(np.uint16)

    s_w = Storage("0", w)
    s_base = Storage("1", base)
    s_bf = Storage("9", bf_bits, cls="BFloat16Storage")
    sd = collections.OrderedDict()
    sd["fc.weight"] = T(s_w, (3, 4))
    sd["fc.weight_t"] = T(s_w, (4, 3), (1, 4))  # shares fc.weight's storage
    sd["slice"] = T(s_base, (3, 3), (5, 2), offset=5)  # base[1:, ::2]
    sd["row"] = T(s_base, (5,), (1,), offset=15)  # base[3]
    sd["half"] = T(Storage("2", half), (2, 3))
    sd["ids"] = T(Storage("3", ids), (4,))
    sd["i32"] = T(Storage("4", i32), (3,))
    sd["u8"] = T(Storage("5", u8), (3,))
    sd["mask"] = T(Storage("6", mask), (3,))
    sd["count"] = T(Storage("7", np.array([9, 42], dtype=np.int64)), (), (), offset=1)  # 0-d
    sd["expanded"] = T(Storage("8", col), (3, 4), (1, 0))  # col[:, None] expanded
    sd["bf16"] = T(s_bf, (5,))
    sd["empty"] = T(Storage("10", np.zeros(0, np.float32)), (0, 3))
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("fc", {"version": 1})])

    ref = {
        "fc.weight": w.reshape(3, 4),
        "fc.weight_t": w.reshape(3, 4).T,
        "slice": base[1:, ::2],
        "row": base[3],
        "half": half.reshape(2, 3).astype(np.float32),
        "ids": ids,
        "i32": i32,
        "u8": u8,
        "mask": mask,
        "count": np.array(42, dtype=np.int64),
        "expanded": np.broadcast_to(col[:, None], (3, 4)),
        "bf16": bf_values,
        "empty": np.zeros((0, 3), np.float32),
    }
    return sd, ref


DTYPES = {
    np.dtype("float32"): "float32",
    np.dtype("float64"): "float64",
    np.dtype("int64"): "int64",
    np.dtype("int32"): "int32",
    np.dtype("uint8"): "uint8",
    np.dtype("bool"): "bool",
}


def check_against(loaded, ref):
    assert list(loaded) == list(ref)
    for k, expected in ref.items():
        t = loaded[k]
        assert isinstance(t, rustdl.Tensor), k
        assert t.dtype == getattr(rustdl, DTYPES[expected.dtype]), (k, t.dtype)
        assert tuple(t.shape) == expected.shape, (k, t.shape)
        np.testing.assert_array_equal(t.cpu().numpy(), expected, err_msg=k)


# -------------------------------------------------------------------------------------------
# reading
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("weights_only", [None, False])
def test_state_dict_with_views_offsets_and_dtypes(tmp_path, fmt, weights_only):
    # weights_only=False builds the tensors as they are unpickled (zip) or walks the result
    # (legacy): the same values, layouts and dtypes either way
    sd, ref = rich_state_dict()
    data = WRITERS[fmt](sd)
    path = write(tmp_path, data)
    loaded = rustdl.load(path, weights_only=weights_only)
    assert isinstance(loaded, collections.OrderedDict)
    check_against(loaded, ref)
    assert loaded._metadata == {"": {"version": 1}, "fc": {"version": 1}}
    check_against(rustdl.load(io.BytesIO(data), weights_only=weights_only), ref)
    check_against(rustdl.load(str(path), map_location="cpu", weights_only=weights_only), ref)
    with open(path, "rb") as fh:
        check_against(rustdl.load(fh, weights_only=weights_only), ref)
    # fc.weight_t shares fc.weight's storage, as in PyTorch
    loaded["fc.weight"].view(-1)[5] = 1000.0
    assert float(loaded["fc.weight_t"][1, 1]) == 1000.0


def test_zip_prefix_is_found_whatever_its_name(tmp_path):
    sd, ref = rich_state_dict()
    path = write(tmp_path, zip_checkpoint(sd, prefix="my_model-v2"), "my_model-v2.pth")
    check_against(rustdl.load(path), ref)


def test_big_endian_zip(tmp_path):
    vals = np.array([1.0, -2.5, 3.25], dtype=np.float64)
    pkl = PickleWriter().dumps({"x": T(Storage("0", vals), (3,))})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/data.pkl", pkl)
        zf.writestr("a/byteorder", "big")
        zf.writestr("a/data/0", vals.astype(">f8").tobytes())
    loaded = rustdl.load(io.BytesIO(buf.getvalue()))
    np.testing.assert_array_equal(loaded["x"].numpy(), vals)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_state_dict_loads_into_a_module(tmp_path, fmt):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 2, 3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    mean, var = rng.standard_normal(3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    sd = collections.OrderedDict(
        [
            ("0.weight", T(Storage("0", w), (3, 4))),
            ("0.bias", T(Storage("1", b), (3,))),
            ("1.weight", T(Storage("2", gamma), (3,))),
            ("1.bias", T(Storage("3", beta), (3,))),
            ("1.running_mean", T(Storage("4", mean), (3,))),
            ("1.running_var", T(Storage("5", var), (3,))),
            ("1.num_batches_tracked", T(Storage("6", np.array([17], np.int64)), ())),
        ]
    )
    path = write(tmp_path, WRITERS[fmt](sd))
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    model.load_state_dict(rustdl.load(path))
    model.eval()
    x = rng.standard_normal((5, 4)).astype(np.float32)
    expected = ((x @ w.T + b) - mean) / np.sqrt(var + 1e-5) * gamma + beta
    np.testing.assert_allclose(model(rustdl.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    assert int(model[1].num_batches_tracked.item()) == 17


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_nested_checkpoint_parameters_and_plain_values(tmp_path, fmt):
    p = np.array([1.0, 2.0, 3.0], np.float32)
    q = np.array([4.0, 5.0], np.float32)
    ck = {
        "epoch": 3,
        "loss": 0.25,
        "name": "run-1",
        "best": None,
        "big": 2**70,
        "history": [0.5, 0.4],
        "pair": (1, "x"),
        "flags": {"amp": False, "ema": True},
        "param": T(Storage("0", p), (3,), requires_grad=True, parameter=True),
        "frozen": T(Storage("1", q), (2,), requires_grad=False, parameter=True),
        "model": collections.OrderedDict([("w", T(Storage("2", p), (3,)))]),
        "tags": Global("builtins", "set")(["a", "b"]),
        "device": Global("torch", "device")("cuda", 0),
    }
    loaded = rustdl.load(write(tmp_path, WRITERS[fmt](ck)))
    assert loaded["epoch"] == 3 and loaded["loss"] == 0.25 and loaded["name"] == "run-1"
    assert loaded["best"] is None and loaded["big"] == 2**70 and loaded["history"] == [0.5, 0.4]
    assert loaded["pair"] == (1, "x") and loaded["flags"] == {"amp": False, "ema": True}
    assert loaded["tags"] == {"a", "b"} and loaded["device"] == rustdl.device("gpu:0")
    assert isinstance(loaded["param"], nn.Parameter) and loaded["param"].requires_grad
    assert isinstance(loaded["frozen"], nn.Parameter) and not loaded["frozen"].requires_grad
    np.testing.assert_array_equal(loaded["param"].detach().numpy(), p)
    np.testing.assert_array_equal(loaded["model"]["w"].numpy(), p)
    assert not loaded["model"]["w"].requires_grad


# -------------------------------------------------------------------------------------------
# hostile pickles
# -------------------------------------------------------------------------------------------


class Payload:
    """A classic pickle payload: unpickling it would call ``fn(*args)``."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def hostile_pickles(sentinel):
    """Pickles that would create ``sentinel`` (or run code) if anything in them were executed."""
    cmd = f"touch {sentinel}"
    code = f"open({str(sentinel)!r}, 'w').close()"
    import subprocess

    tensor = T(Storage("0", np.zeros(2, np.float32)), (2,))
    hand = {
        "os_system": {"x": Global("os", "system")(cmd)},
        "posix_system": Global("posix", "system")(cmd),
        "eval": {"model": Global("builtins", "eval")(code)},
        "exec": Global("builtins", "exec")(code),
        "py2_eval": Global("__builtin__", "eval")(code),
        "subprocess": Global("subprocess", "check_call")(["touch", str(sentinel)]),
        "getattr": Global("builtins", "getattr")(Global("os", "path"), "join"),
        "unknown_class": {"w": tensor, "cfg": Global("mypackage.config", "TrainConfig")()},
        "numpy_reconstruct": Global("numpy.core.multiarray", "_reconstruct")(),
        "torch_not_allowed": Global("torch", "load")(str(sentinel)),
        "rebuild_with_callable": Global("torch._utils", "_rebuild_tensor_v2")(
            Global("os", "system")(cmd), 0, (1,), (1,), False, collections.OrderedDict()
        ),
        "build_on_tensor": {"w": Build(tensor, {"__class__": 1})},
        "build_on_ordereddict": Build(collections.OrderedDict(), {"keys": 1}),
        "codecs_other": Global("_codecs", "encode")("x", "rot13"),
    }
    out = dict(hand)
    std = {
        "std_os_system": Payload(os.system, cmd),
        "std_eval": Payload(eval, code),
        "std_exec": Payload(exec, code),
        "std_subprocess": Payload(subprocess.call, ["touch", str(sentinel)]),
    }
    for name, obj in std.items():
        for proto in (2, 4):
            out[f"{name}_p{proto}"] = pickle.dumps({"state_dict": obj}, protocol=proto)
    return out  # objects for the writers, or ready pickles (bytes)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("weights_only", [None, True])
def test_hostile_pickles_are_refused_and_nothing_runs(tmp_path, fmt, weights_only):
    # (weights_only=False unpickles what the file names, as torch.load does: for trusted files)
    sentinel = tmp_path / "pwned"
    for name, obj in hostile_pickles(sentinel).items():
        if not isinstance(obj, bytes):
            data = WRITERS[fmt](obj)
        elif fmt == "zip":
            data = zip_checkpoint(None, pickle_bytes=obj)
        else:
            data = legacy_checkpoint(None, main_pickle=obj)
        path = write(tmp_path, data, f"{name}.pt")
        with pytest.raises(pickle.UnpicklingError):
            rustdl.load(path, weights_only=weights_only)
        with pytest.raises(pickle.UnpicklingError):
            rustdl.load(io.BytesIO(data), map_location="cpu", weights_only=weights_only)
        assert not sentinel.exists(), f"{name} ran code"


def test_refusal_names_the_global_and_is_also_a_value_error(tmp_path):
    pkl = PickleWriter().dumps(Global("os", "system")("true"))
    with pytest.raises(ValueError, match=r"os\.system"):
        rustdl.load(io.BytesIO(zip_checkpoint(None, pickle_bytes=pkl)))


def test_hostile_legacy_header_pickle_is_refused(tmp_path):
    sentinel = tmp_path / "pwned"
    header = pickle.dumps(Payload(os.system, f"touch {sentinel}"), protocol=2)
    data = header + pickle.dumps(1001, protocol=2)
    with pytest.raises(pickle.UnpicklingError):
        rustdl.load(write(tmp_path, data))
    assert not sentinel.exists()


# -------------------------------------------------------------------------------------------
# corrupt files
# -------------------------------------------------------------------------------------------


def small_sd():
    return collections.OrderedDict(
        [
            ("w", T(Storage("0", np.arange(6, dtype=np.float32)), (2, 3))),
            ("b", T(Storage("1", np.ones(3)), (3,))),
        ]
    )


def rezip(data, edit):
    """Copies a zip, passing each (name, bytes) through ``edit`` (None drops the entry)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            new = edit(name, src.read(name))
            if new is not None:
                dst.writestr(name, new)
    return buf.getvalue()


def corrupt_files():
    good_zip = zip_checkpoint(small_sd())
    good_legacy = legacy_checkpoint(small_sd())
    pkl = PickleWriter().dumps(small_sd())
    st = Storage("0", np.zeros(4, np.float32))
    return {
        "zip_truncated_half": good_zip[: len(good_zip) // 2],
        "zip_truncated_end": good_zip[:-10],
        "zip_magic_only": b"PK\x03\x04" + b"\0" * 40,
        "zip_garbage_after_magic": b"PK\x03\x04" + os.urandom(300),
        "zip_bit_flip_in_data": good_zip.replace(np.arange(6, dtype=np.float32).tobytes(), b"\xff" * 24),
        "zip_no_data_pkl": rezip(good_zip, lambda n, b: None if n.endswith("data.pkl") else b),
        "zip_missing_storage": rezip(good_zip, lambda n, b: None if n.endswith("data/0") else b),
        "zip_short_storage": rezip(good_zip, lambda n, b: b[:-4] if n.endswith("data/0") else b),
        "zip_bad_byteorder": rezip(good_zip, lambda n, b: b"middle" if n.endswith("byteorder") else b),
        "zip_truncated_pickle": zip_checkpoint(small_sd(), pickle_bytes=pkl[: len(pkl) // 2]),
        "zip_empty_pickle": zip_checkpoint(small_sd(), pickle_bytes=b""),
        "zip_garbage_pickle": zip_checkpoint(small_sd(), pickle_bytes=b"\x80\x02\xff\xfe\xfd"),
        "zip_read_past_storage": zip_checkpoint({"x": T(st, (3,), (1,), offset=2)}),
        "zip_stride_past_storage": zip_checkpoint({"x": T(st, (2, 2), (3, 1))}),
        "zip_negative_stride": zip_checkpoint({"x": T(st, (2,), (-1,), offset=3)}),
        "zip_size_stride_mismatch": zip_checkpoint({"x": T(st, (2, 2), (1,))}),
        "zip_huge_expand": zip_checkpoint({"x": T(st, (2**40,), (0,))}),
        "zip_bad_persistent_id": zip_checkpoint(None, pickle_bytes=b"\x80\x02X\x03\x00\x00\x00abcQ."),
        "legacy_truncated_storage": good_legacy[:-5],
        "legacy_truncated_pickle": good_legacy[:60],
        "legacy_no_magic": pickle.dumps({"w": 1}, protocol=2),
        "legacy_wrong_protocol": pickle.dumps(MAGIC, protocol=2) + pickle.dumps(999, protocol=2),
        "legacy_bad_numel": good_legacy.replace(struct.pack("<q", 6), struct.pack("<q", 7)),
    }


@pytest.mark.parametrize("name", sorted(corrupt_files()))
def test_corrupt_files_raise_value_error_naming_the_file(tmp_path, name):
    data = corrupt_files()[name]
    path = write(tmp_path, data, f"{name}.pt")
    with pytest.raises(ValueError, match=f"{name}.pt"):
        rustdl.load(path)
    with pytest.raises(ValueError):
        rustdl.load(io.BytesIO(data))


def test_torch_device_tensors_need_a_gpu_or_map_location(tmp_path, monkeypatch):
    vals = np.arange(4, dtype=np.float32)
    path = write(tmp_path, zip_checkpoint({"w": T(Storage("0", vals, location="cuda:0"), (4,))}))
    monkeypatch.setattr(rustdl.gpu, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="map_location"):
        rustdl.load(path)
    for ml in ("cpu", rustdl.device("cpu"), {"cuda:0": "cpu"}, lambda s, loc: s, lambda s, loc: s.cpu()):
        w = rustdl.load(path, map_location=ml)["w"]
        assert w.device.type == "cpu"
        np.testing.assert_array_equal(w.numpy(), vals)
    with pytest.raises(RuntimeError):
        rustdl.load(path, map_location=lambda s, loc: None)  # None keeps the saved (cuda) location


@pytest.mark.parametrize("device", ["gpu"], indirect=True)  # skipped without an adapter, as the fixture says
def test_map_location_to_gpu(tmp_path, device):
    vals = np.arange(6, dtype=np.float32).reshape(2, 3)
    on_cpu = zip_checkpoint({"w": T(Storage("0", vals), (2, 3))})
    on_cuda = zip_checkpoint({"w": T(Storage("0", vals, location="cuda:0"), (2, 3))})
    cases = [
        (on_cuda, None),
        (on_cpu, "cuda"),
        (on_cpu, "cuda:0"),
        (on_cpu, "gpu"),
        (on_cpu, rustdl.device("gpu")),
        (on_cpu, {"cpu": "cuda:0"}),
        (on_cpu, lambda s, loc: s.cuda()),
        (on_cpu, lambda s, loc: "gpu"),
        (on_cuda, lambda s, loc: None),
    ]
    for data, ml in cases:
        w = rustdl.load(io.BytesIO(data), map_location=ml)["w"]
        assert w.device.type == "gpu", ml
        np.testing.assert_array_equal(w.cpu().numpy(), vals)
    w = rustdl.load(io.BytesIO(on_cuda), map_location={"cuda:1": "cpu"})["w"]  # other keys: saved location
    assert w.device.type == "gpu"


def test_map_location_errors():
    data = zip_checkpoint({"w": T(Storage("0", np.zeros(2, np.float32)), (2,))})
    with pytest.raises(ValueError):
        rustdl.load(io.BytesIO(data), map_location="tpu")
    with pytest.raises(TypeError):
        rustdl.load(io.BytesIO(data), map_location=42)
    with pytest.raises(TypeError):
        rustdl.load(io.BytesIO(data), map_location="cpu", device="cpu")


# -------------------------------------------------------------------------------------------
# weights_only=False: any class the file names, as torch.load
# -------------------------------------------------------------------------------------------


class Summed:
    """Computes with its tensor while it is unpickled (a class with a ``__setstate__``)."""

    def __setstate__(self, state):
        self.t = state["t"]
        self.total = float(state["t"].sum())


def object_checkpoint(summed=True):
    s_w = Storage("0", np.arange(6, dtype=np.float32))
    out = {
        "args": Build(Global("argparse", "Namespace")(), {"lr": 0.5, "layers": [2, 3]}),
        "w": T(s_w, (2, 3)),
        "col": T(s_w, (2,), (3,), offset=1),  # w[:, 1], sharing w's storage
        "p": T(Storage("1", np.ones(2, np.float32)), (2,), requires_grad=True, parameter=True),
    }
    if summed:
        state = {"t": T(Storage("2", np.full(4, 2.5, np.float32)), (4,))}
        out["summed"] = Build(Global(__name__, "Summed")(), state)
    return out


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_weights_only_false_loads_the_classes_the_file_names(tmp_path, fmt):
    import argparse

    # (the legacy format stores its tensors after the pickle: a __setstate__ computing with
    # them cannot run before they exist, in PyTorch neither)
    data = WRITERS[fmt](object_checkpoint(summed=fmt == "zip"))
    path = write(tmp_path, data)
    # the default refuses, naming the class and the way out
    with pytest.raises(pickle.UnpicklingError, match=r"argparse\.Namespace.*weights_only=False"):
        rustdl.load(path)
    out = rustdl.load(path, weights_only=False)
    assert isinstance(out["args"], argparse.Namespace) and vars(out["args"]) == {"lr": 0.5, "layers": [2, 3]}
    np.testing.assert_array_equal(out["w"].numpy(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(out["col"].numpy(), [1, 4])
    out["w"][1, 1] = -7.0  # col is a view of w's storage
    assert out["col"].tolist() == [1.0, -7.0]
    assert isinstance(out["p"], nn.Parameter) and out["p"].requires_grad
    if fmt == "zip":  # its storages are read as they come: __setstate__ sees a real tensor
        assert out["summed"].t.tolist() == [2.5] * 4
        assert out["summed"].total == 10.0


def test_weights_only_defaults_follow_torch_load(tmp_path, monkeypatch):
    path = write(tmp_path, zip_checkpoint(object_checkpoint()))
    with pytest.raises(pickle.UnpicklingError):
        rustdl.load(path, weights_only=True)
    # an explicit pickle_module means a full unpickling, as torch.load
    assert rustdl.load(path, pickle_module=pickle)["args"].lr == 0.5
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    assert rustdl.load(path)["args"].lr == 0.5
    with pytest.raises(pickle.UnpicklingError):  # ... but not over an explicit weights_only=True
        rustdl.load(path, weights_only=True)
    monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(pickle.UnpicklingError):  # forces weights_only whatever is passed
        rustdl.load(path, weights_only=False)


def test_weights_only_false_does_not_import_torch_names_outside_the_compat_layer(tmp_path):
    obj = {"m": Build(Global("torch.nn.modules.linear", "Linear")(), {"in_features": 2})}
    with pytest.raises(pickle.UnpicklingError, match="rustdl.torchcompat"):
        rustdl.load(write(tmp_path, zip_checkpoint(obj)), weights_only=False)
