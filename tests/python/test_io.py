"""Checkpoints: round trips, interop with the safetensors package, atomic writes, bad files."""

import dataclasses
import io
import json
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest
import rustdl
from rustdl import nn, optim
from safetensors.numpy import load_file as st_load_file
from safetensors.numpy import save_file as st_save_file


def small_model():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3)
    )


def test_state_dict_reads_back_through_safetensors_numpy(tmp_path):
    model = small_model()
    model(rustdl.randn(2, 1, 5, 5))  # move the BatchNorm statistics
    path = tmp_path / "model.safetensors"
    rustdl.save(model.state_dict(), path)
    arrays = st_load_file(str(path))
    sd = model.state_dict()
    assert sorted(arrays) == sorted(sd)
    assert "4.weight" in arrays and "1.running_var" in arrays
    for k, v in sd.items():
        assert arrays[k].dtype == v.numpy().dtype
        np.testing.assert_array_equal(arrays[k], v.numpy())
    assert arrays["1.num_batches_tracked"].dtype == np.int64


def test_fresh_model_from_checkpoint_is_bit_identical(tmp_path, device):
    model = small_model().to(device)
    model(rustdl.randn(3, 1, 5, 5, device=device))
    model.eval()
    path = tmp_path / "m.safetensors"
    rustdl.save(model.state_dict(), path)
    fresh = small_model().to(device)
    fresh.load_state_dict(rustdl.load(path, device=device))
    fresh.eval()
    x = rustdl.randn(4, 1, 5, 5, device=device)
    np.testing.assert_array_equal(model(x).detach().cpu().numpy(), fresh(x).detach().cpu().numpy())
    loaded = rustdl.load(path, device=device)
    assert all(v.device.type == rustdl.device(device).type for v in loaded.values())


def test_plain_safetensors_files_load_flat(tmp_path):
    path = tmp_path / "plain.safetensors"
    arrays = {"a/b": np.arange(6, dtype=np.float32).reshape(2, 3), "c": np.array([1, 2], dtype=np.int64)}
    st_save_file(arrays, str(path))
    loaded = rustdl.load(path)
    assert sorted(loaded) == ["a/b", "c"]
    np.testing.assert_array_equal(loaded["a/b"].numpy(), arrays["a/b"])
    assert loaded["c"].dtype == rustdl.int64


def test_optimizer_state_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = optim.AdamW(model.parameters(), lr=0.01, betas=(0.8, 0.95), amsgrad=True)
    x, y = rustdl.randn(5, 3), rustdl.tensor([0, 1, 1, 0, 1])
    for _ in range(2):
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
    path = tmp_path / "opt.safetensors"
    rustdl.save(opt.state_dict(), path)
    names = set(st_load_file(str(path)))
    assert "state/0/exp_avg" in names and "state/3/max_exp_avg_sq" in names
    loaded = rustdl.load(path)
    sd = opt.state_dict()
    assert loaded["param_groups"] == sd["param_groups"]
    assert loaded["param_groups"][0]["betas"] == (0.8, 0.95)  # tuples stay tuples
    assert set(loaded["state"]) == {0, 1, 2, 3}  # int keys stay ints
    assert loaded["state"][1]["step"] == 2
    for i in range(4):
        for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_array_equal(loaded["state"][i][k].numpy(), sd["state"][i][k].numpy())
    opt2 = optim.AdamW(model.parameters(), lr=0.5)
    opt2.load_state_dict(loaded)
    assert opt2.param_groups[0]["lr"] == 0.01 and opt2.param_groups[0]["betas"] == (0.8, 0.95)


def test_nested_structures_and_odd_keys_round_trip(tmp_path):
    obj = {
        "model": {"fc.weight": rustdl.ones(2, 2)},
        "a/b": rustdl.zeros(1),
        "a": {"b": rustdl.full([1], 2.0)},
        "#1": rustdl.zeros(3, dtype=rustdl.int64),
        1: "one",
        "epoch": 7,
        "best": float("inf"),
        "flags": [True, None, "x", 1.5],
        "pair": (rustdl.ones(1), 3),
        "empty": {},
        "mask": rustdl.tensor([True, False]),
        "f64": rustdl.tensor([0.1], dtype=rustdl.float64),
        "np_scalar": np.float32(0.5),
    }
    path = tmp_path / "nested.safetensors"
    rustdl.save(obj, path)
    back = rustdl.load(path)
    assert set(back) == set(obj)
    np.testing.assert_array_equal(back["model"]["fc.weight"].numpy(), np.ones((2, 2), np.float32))
    assert float(back["a/b"].item()) == 0.0 and float(back["a"]["b"].item()) == 2.0
    assert back["#1"].dtype == rustdl.int64
    assert back[1] == "one" and back["epoch"] == 7 and back["best"] == float("inf")
    assert back["flags"] == [True, None, "x", 1.5]
    assert isinstance(back["pair"], tuple) and back["pair"][1] == 3
    assert back["empty"] == {} and back["np_scalar"] == 0.5
    assert back["mask"].dtype == rustdl.bool and back["f64"].dtype == rustdl.float64
    assert sorted(st_load_file(str(path))) == [
        "#1",
        "a/b",
        "a/b~1",
        "f64",
        "mask",
        "model/fc.weight",
        "pair/0",
    ]


def test_any_structure_and_numpy_arrays_round_trip(tmp_path):
    # torch.save takes any object: a list at the top level, numpy arrays of any numeric dtype
    arrays = [
        np.arange(6, dtype=dt).reshape(2, 3) for dt in (np.float32, np.float64, np.int32, np.uint8, np.int64)
    ]
    obj = [
        rustdl.ones(2),
        {"a": arrays[0], "b": (arrays[1], arrays[2])},
        arrays[3],
        arrays[4],
        np.array([True, False]),
    ]
    rustdl.save(obj, tmp_path / "x.pt")
    back = rustdl.load(tmp_path / "x.pt")
    assert isinstance(back, list) and len(back) == 5
    np.testing.assert_array_equal(back[0].numpy(), [1.0, 1.0])
    for got, want in (
        (back[1]["a"], arrays[0]),
        (back[1]["b"][0], arrays[1]),
        (back[1]["b"][1], arrays[2]),
        (back[2], arrays[3]),
        (back[3], arrays[4]),
        (back[4], np.array([True, False])),
    ):
        assert isinstance(got, np.ndarray) and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    single = np.linspace(0, 1, 7)
    rustdl.save(single, tmp_path / "y.pt")
    np.testing.assert_array_equal(rustdl.load(tmp_path / "y.pt"), single)


def test_save_rejects_what_it_cannot_store(tmp_path):
    # neither plain data nor picklable: a TypeError naming where, and no file
    with pytest.raises(TypeError, match="'obj'"):
        rustdl.save({"obj": lambda: 0}, tmp_path / "x")
    assert not os.path.exists(tmp_path / "x")
    with pytest.raises(OSError):
        rustdl.save({"a": rustdl.zeros(1)}, tmp_path / "no" / "such" / "dir" / "x")


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_values_beyond_plain_data_are_pickled_and_need_weights_only_false(tmp_path):
    # a numpy string array, tuple keys, a custom object: pickled as torch.save does
    for i, obj in enumerate([[np.array(["a", "b"])], {(1, 2): rustdl.ones(2)}, {"o": Point(1, 2)}]):
        path = tmp_path / f"x{i}"
        rustdl.save(obj, path)
        with pytest.raises(pickle.UnpicklingError, match="weights_only=False"):
            rustdl.load(path)
        with pytest.raises(pickle.UnpicklingError, match="weights_only=False"):
            rustdl.load(path, weights_only=True)
        back = rustdl.load(path, weights_only=False)
        if i == 0:
            np.testing.assert_array_equal(back[0], obj[0])
        elif i == 1:
            np.testing.assert_array_equal(back[(1, 2)].numpy(), [1.0, 1.0])
        else:
            assert back["o"] == Point(1, 2)


# A child whose file-size limit (RLIMIT_FSIZE) is 64 KiB, with SIGXFSZ ignored, so that the Rust
# writer's write() of a 4 MB checkpoint fails with EFBIG part of the way into its temp file.
_FAILING_WRITER = """
import resource, signal, sys
import rustdl
sd = {"w": rustdl.full([1_000_000], 7.0)}
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
try:
    rustdl.save(sd, sys.argv[1])
except OSError as e:
    print("OSError:", e)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="RLIMIT_FSIZE and SIGXFSZ are Unix")
def test_a_write_failing_inside_the_rust_writer_keeps_the_previous_file(tmp_path):
    path = tmp_path / "ck.safetensors"
    rustdl.save({"w": rustdl.ones(3)}, path)
    rustdl.save({"w": rustdl.full([3], 2.0)}, path)  # an overwrite replaces it
    before = path.read_bytes()
    np.testing.assert_array_equal(rustdl.load(path)["w"].numpy(), [2.0, 2.0, 2.0])

    child = subprocess.run(
        [sys.executable, "-c", _FAILING_WRITER, str(path)], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    # the failure came from the writer, mid-file: EFBIG (errno 27) on write, not a Python-side check
    assert child.stdout.startswith("OSError: save: cannot write"), child.stdout
    assert "os error 27" in child.stdout, child.stdout
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ck.safetensors"], "a temp or lock file was left"


def _header_file(path, header: dict, data: bytes = b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def test_bad_files_raise_clear_errors(tmp_path):
    good = tmp_path / "good.safetensors"
    rustdl.save({"w": rustdl.randn(16, 16), "b": rustdl.zeros(16)}, good)
    raw = good.read_bytes()
    cases = {
        "empty": b"",
        "garbage": os.urandom(64),
        "text": b"hello, this is not a checkpoint at all",
        "truncated_header": raw[:20],
        "truncated_data": raw[:-10],
        "huge_header_len": struct.pack("<Q", 2**60) + b"{}",
    }
    for name, data in cases.items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(data)
        with pytest.raises((ValueError, OSError)):
            rustdl.load(p)
    with pytest.raises(OSError):
        rustdl.load(tmp_path / "missing.safetensors")
    with pytest.raises(OSError):
        rustdl.load(tmp_path)  # a directory


def test_hostile_headers_do_not_crash(tmp_path):
    hostile = [
        {"x": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}},
        {"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 2**62]}},
        {"x": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}},
        {"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}},
        {"x": {"dtype": "NOPE", "shape": [2], "data_offsets": [0, 8]}},
        {"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},
        {"x": "not a tensor"},
    ]
    for i, header in enumerate(hostile):
        p = tmp_path / f"h{i}.safetensors"
        _header_file(p, header, b"\0" * 8)
        with pytest.raises((ValueError, OSError)):
            rustdl.load(p)


@pytest.mark.parametrize(
    "meta",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"format": 99, "tree": {}}),
        json.dumps({"format": 1, "tree": {"d": [["w", {"T": "missing"}]]}}),
        json.dumps({"format": 1, "tree": {"d": [["w", {"Q": 1}]]}}),
        json.dumps({"format": 1, "tree": {"d": "nope"}}),
        json.dumps({"format": 1, "tree": {"d": [[{"k": 1}, {"v": 1}]]}}),
        json.dumps({"format": 1, "tree": {"v": {"obj": 1}}}),
        '{"format": 1, "tree": ' + '{"l": [' * 5000 + "]}" * 5000 + "}",
    ],
)
def test_corrupt_metadata_raises_value_error(tmp_path, meta):
    p = tmp_path / "meta.safetensors"
    _header_file(
        p,
        {"__metadata__": {"rustdl": meta}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
        b"\0" * 8,
    )
    with pytest.raises(ValueError, match="rustdl.load"):
        rustdl.load(p)


def test_views_are_saved_by_value(tmp_path):
    x = rustdl.arange(6, dtype=rustdl.float32).reshape(2, 3)
    path = tmp_path / "views.safetensors"
    rustdl.save({"t": x.t(), "col": x[:, 1], "row": x.narrow(0, 1, 1)}, path)
    arrays = st_load_file(str(path))
    ref = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(arrays["t"], ref.T)
    np.testing.assert_array_equal(arrays["col"], ref[:, 1])
    np.testing.assert_array_equal(arrays["row"], ref[1:2])


# ---------- file objects, whole checkpoints, map_location ----------


def trained_model_and_optimizer():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.95))
    x, y = rustdl.randn(6, 3), rustdl.tensor([0, 1, 1, 0, 1, 0])
    for _ in range(3):
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
    return model, opt


def check_checkpoint(back, model, opt):
    assert back["epoch"] == 3 and back["loss"] == 0.25
    sd = model.state_dict()
    assert list(back["model"]) == list(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(back["model"][k].numpy(), v.numpy())
        assert back["model"][k].dtype == v.dtype
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))
    fresh.load_state_dict(back["model"])
    opt2 = optim.Adam(fresh.parameters(), lr=0.5)
    opt2.load_state_dict(back["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.01 and opt2.param_groups[0]["betas"] == (0.8, 0.95)
    for p_old, p_new in zip(model.parameters(), fresh.parameters()):
        for k in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(opt2.state[p_new][k].numpy(), opt.state[p_old][k].numpy())
        assert opt2.state[p_new]["step"] == opt.state[p_old]["step"] == 3


def test_whole_checkpoint_through_bytesio():
    model, opt = trained_model_and_optimizer()
    buf = io.BytesIO()
    rustdl.save({"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(), "loss": 0.25}, buf)
    raw = buf.getvalue()
    # the step counts are 0-d tensors, as PyTorch saves them
    assert sorted(st_load_bytes(raw)) == sorted(f"model/{k}" for k in model.state_dict()) + sorted(
        f"optimizer/state/{i}/{k}" for i in range(6) for k in ("exp_avg", "exp_avg_sq", "step")
    )
    buf.seek(0)
    check_checkpoint(rustdl.load(buf), model, opt)
    check_checkpoint(rustdl.load(io.BytesIO(raw), map_location="cpu", weights_only=True), model, opt)


def test_whole_checkpoint_through_open_file_handles(tmp_path):
    model, opt = trained_model_and_optimizer()
    path = tmp_path / "ck.pt"
    with open(path, "wb") as fh:
        rustdl.save(
            {"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(), "loss": 0.25}, fh
        )
    with open(path, "rb") as fh:
        check_checkpoint(rustdl.load(fh), model, opt)
    check_checkpoint(rustdl.load(path), model, opt)  # the same bytes as a path
    check_checkpoint(rustdl.load(str(path)), model, opt)
    assert sorted(os.listdir(tmp_path)) == ["ck.pt"]


def st_load_bytes(raw):
    from safetensors.numpy import load as st_load

    return st_load(raw)


def test_file_object_save_appends_at_position():
    buf = io.BytesIO()
    buf.write(b"HEAD")
    rustdl.save({"w": rustdl.ones(2)}, buf)
    buf.seek(4)
    np.testing.assert_array_equal(rustdl.load(buf)["w"].numpy(), [1.0, 1.0])


def test_whole_model_and_optimizer_round_trip_with_weights_only_false(tmp_path, device):
    # torch.save(model, f) / torch.load(f, weights_only=False), as real training scripts do
    model, _ = trained_model_and_optimizer()
    model = model.to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = rustdl.randn(6, 3, device=device)
    opt.zero_grad()
    model(x).square().mean().backward()
    opt.step()
    path = tmp_path / "m.pt"
    rustdl.save({"model": model, "opt": opt, "epoch": 4}, path)
    with pytest.raises(pickle.UnpicklingError, match="weights_only=False"):
        rustdl.load(path)
    back = rustdl.load(path, weights_only=False)
    m2, o2 = back["model"], back["opt"]
    assert back["epoch"] == 4 and type(m2) is type(model)
    model.eval()
    m2.eval()
    np.testing.assert_array_equal(m2(x).detach().cpu().numpy(), model(x).detach().cpu().numpy())
    # parameters stay Parameters on the device they were saved from, shared with the optimizer
    for p, q in zip(model.parameters(), m2.parameters()):
        assert isinstance(q, nn.Parameter) and q.requires_grad and str(q.device) == str(p.device)
    assert [id(p) for p in m2.parameters()] == [id(p) for p in o2.param_groups[0]["params"]]
    # training goes on from the loaded state
    o2.zero_grad()
    m2.train()
    m2(x).square().mean().backward()
    o2.step()
    # map_location overrides where the tensors go
    on_cpu = rustdl.load(path, weights_only=False, map_location="cpu")["model"]
    assert all(str(p.device) == "cpu" for p in on_cpu.parameters())
    # a whole model alone, through a file object
    buf = io.BytesIO()
    rustdl.save(model, buf)
    buf.seek(0)
    alone = rustdl.load(buf, weights_only=False)
    np.testing.assert_array_equal(alone(x).detach().cpu().numpy(), model(x).detach().cpu().numpy())


def test_text_mode_and_non_files_are_type_errors(tmp_path):
    with pytest.raises(TypeError, match="binary"):
        rustdl.save({"w": rustdl.ones(1)}, io.StringIO())
    path = tmp_path / "w.safetensors"
    rustdl.save({"w": rustdl.ones(1)}, path)
    with open(path, encoding="latin-1") as fh, pytest.raises(TypeError, match="binary"):
        rustdl.load(fh)
    with pytest.raises(TypeError):
        rustdl.save({"w": rustdl.ones(1)}, 42)
    with pytest.raises(TypeError):
        rustdl.load(42)


def test_corrupt_bytes_in_a_file_object_raise_value_error():
    buf = io.BytesIO()
    rustdl.save({"w": rustdl.randn(8, 8)}, buf)
    raw = buf.getvalue()
    for bad in (b"", raw[:20], raw[:-8], b"\x00" * 64):
        with pytest.raises(ValueError):
            rustdl.load(io.BytesIO(bad))


@pytest.mark.parametrize(
    "map_location",
    [
        "cpu",
        "gpu",
        "cuda",
        "cuda:0",
        "device",
        {"cpu": "cuda:0"},
        "callable_cuda",
        "callable_none",
        "device_kw",
    ],
)
def test_map_location_on_safetensors(map_location):
    want_gpu = map_location not in ("cpu", "callable_none", "device_kw")
    if want_gpu and not rustdl.gpu.is_available():
        pytest.skip("no GPU adapter")
    ml = (
        {
            "device": rustdl.device("gpu"),
            "callable_cuda": lambda storage, loc: storage.cuda(),
            "callable_none": lambda storage, loc: None,
        }.get(map_location, map_location)
        if not isinstance(map_location, dict)
        else map_location
    )
    buf = io.BytesIO()
    vals = np.arange(6, dtype=np.float32).reshape(2, 3)
    rustdl.save({"w": rustdl.tensor(vals), "n": 5}, buf)
    buf.seek(0)
    if map_location == "device_kw":
        back = rustdl.load(buf, device="cpu")
    else:
        back = rustdl.load(buf, map_location=ml)
    assert back["n"] == 5
    assert back["w"].device.type == ("gpu" if want_gpu else "cpu")
    np.testing.assert_array_equal(back["w"].cpu().numpy(), vals)


def test_dtypes_and_devices_pickle_and_save_as_plain_data(tmp_path):
    for obj in (
        rustdl.float32,
        rustdl.float64,
        rustdl.int64,
        rustdl.bool,
        rustdl.device("cpu"),
        rustdl.device("gpu:1"),
    ):
        back = pickle.loads(pickle.dumps(obj))
        assert back == obj and type(back) is type(obj)
    cfg = {
        "dtype": rustdl.float64,
        "device": rustdl.device("cpu"),
        "more": [rustdl.int64, rustdl.device("gpu")],
    }
    path = tmp_path / "cfg.safetensors"
    rustdl.save(cfg, path)
    back = rustdl.load(path)  # plain data: loads with weights_only (the default), as PyTorch
    assert back == cfg
