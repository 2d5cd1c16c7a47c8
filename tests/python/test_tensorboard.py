"""``rustdl.utils.tensorboard.SummaryWriter``: the event files are read back by a small reader
written here (TFRecord frames with both CRCs checked, protobuf decoded field by field), apart from
the writer's own encoder; TensorBoard's EventAccumulator also reads them when it is installed."""

import glob
import math
import os
import struct
import warnings
import zlib

import numpy as np
import pytest
import rustdl
from rustdl.utils.tensorboard import SummaryWriter
from rustdl.utils.tensorboard._proto import crc32c, masked_crc32c

# ---------- an independent reader ----------


def _crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _mask(c: int) -> int:
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    """The payloads of a TFRecord file; asserts both CRCs of every frame."""
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos < len(data):
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (len_crc,) = struct.unpack("<I", data[pos + 8 : pos + 12])
        assert len_crc == _mask(_crc32c_bitwise(header)), "length CRC"
        payload = data[pos + 12 : pos + 12 + length]
        (data_crc,) = struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])
        assert data_crc == _mask(_crc32c_bitwise(payload)), "data CRC"
        out.append(payload)
        pos += 16 + length
    assert pos == len(data)
    return out


def _varint(buf, pos):
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def fields(buf):
    """protobuf bytes -> {field number: [raw values]} (varint ints, 8/4-byte bytes, or bytes)."""
    out, pos = {}, 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            val, pos = buf[pos : pos + 4], pos + 4
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos : pos + n], pos + n
        else:
            raise AssertionError(f"wire type {wire}")
        out.setdefault(num, []).append(val)
    return out


def _d(raw):
    return struct.unpack("<d", raw)[0]


def _f(raw):
    return struct.unpack("<f", raw)[0]


def events(log_dir):
    """Every event of the one event file in log_dir as dicts: wall_time, step, file_version,
    session_log, values (each a dict of its decoded fields)."""
    files = glob.glob(os.path.join(str(log_dir), "events.out.tfevents.*"))
    assert len(files) == 1, files
    out = []
    for rec in read_records(files[0]):
        f = fields(rec)
        ev = {
            "wall_time": _d(f[1][0]),
            "step": f.get(2, [0])[0],
            "file_version": f.get(3, [b""])[0].decode(),
            "session_log": fields(f[7][0]) if 7 in f else None,
            "values": [],
        }
        for summary in f.get(5, []):
            for v in fields(summary).get(1, []):
                ev["values"].append(fields(v))
        out.append(ev)
    return out


def scalars(log_dir):
    """[(tag, step, value)] of the simple_value scalars."""
    return [
        (v[1][0].decode(), ev["step"], _f(v[2][0])) for ev in events(log_dir) for v in ev["values"] if 2 in v
    ]


def decode_png(data):
    """An 8-bit, non-interlaced PNG with filter 0 rows -> (H, W, C) uint8 array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + n
    w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and interlace == 0
    c = {0: 1, 2: 3, 6: 4}[color]
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + w * c)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, c)


# ---------- the tests ----------


def test_crc32c_known_vectors():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert crc32c(b"\xff" * 32) == 0x62A8AB43  # ... and of ones
    assert crc32c(bytes(range(32))) == 0x46DD794E  # ... incrementing
    data = os.urandom(300)
    assert crc32c(data) == _crc32c_bitwise(data)
    assert masked_crc32c(data) == _mask(_crc32c_bitwise(data))


def test_event_file_name_first_record_and_scalars(tmp_path):
    w = SummaryWriter(tmp_path / "run", filename_suffix=".sfx")
    for step in range(5):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.add_scalar("acc", rustdl.tensor(0.75), 7, walltime=1234.5)
    w.add_scalar("np", np.float32(2.5), 8)
    w.add_scalar("arr", np.array([3.0]), 9)
    w.add_scalar("int", 4, 10)
    w.close()
    (name,) = os.listdir(tmp_path / "run")
    parts = name.split(".")
    assert name.startswith("events.out.tfevents.") and name.endswith(".sfx")
    assert len(parts[3]) == 10 and parts[3].isdigit() and parts[-3] == str(os.getpid())
    evs = events(tmp_path / "run")
    assert evs[0]["file_version"] == "brain.Event:2" and not evs[0]["values"]
    got = scalars(tmp_path / "run")
    assert [(t, s) for t, s, _ in got] == [("loss", i) for i in range(5)] + [
        ("acc", 7),
        ("np", 8),
        ("arr", 9),
        ("int", 10),
    ]
    np.testing.assert_allclose([v for *_, v in got], [1, 0.5, 1 / 3, 0.25, 0.2, 0.75, 2.5, 3, 4], rtol=1e-6)
    assert evs[6]["wall_time"] == 1234.5


def test_default_log_dir_and_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as w:
        w.add_scalar("x", 1.0)
    (run,) = os.listdir(tmp_path / "runs")
    assert run.endswith("_lr0.1") and w.get_logdir() == os.path.join("runs", run)
    assert scalars(tmp_path / "runs" / run) == [("x", 0, 1.0)]


def test_new_style_scalar_is_a_tensor_with_scalars_plugin(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("s", 1.5, 3, new_style=True)
    ev = events(tmp_path)[1]
    (v,) = ev["values"]
    tensor, meta = fields(v[8][0]), fields(v[9][0])
    assert ev["step"] == 3 and tensor[1] == [1]  # DT_FLOAT
    assert struct.unpack("<f", tensor[5][0])[0] == 1.5
    assert fields(meta[1][0])[1] == [b"scalars"]


def test_flush_writes_queue_and_max_queue(tmp_path):
    w = SummaryWriter(tmp_path, max_queue=3, flush_secs=1000)
    w.add_scalar("a", 1.0, 0)
    w.add_scalar("a", 2.0, 1)
    assert scalars(tmp_path) == []  # still queued
    w.add_scalar("a", 3.0, 2)  # the third fills the queue
    assert len(scalars(tmp_path)) == 3
    w.add_scalar("a", 4.0, 3)
    w.flush()
    assert len(scalars(tmp_path)) == 4
    w.close()


def test_add_scalars_writes_one_run_per_key(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalars("loss/run", {"train": step * 1.0, "val": step * 2.0}, step)
    assert sorted(os.listdir(tmp_path))[-2:] == ["loss_run_train", "loss_run_val"]
    assert scalars(tmp_path / "loss_run_train") == [("loss/run", s, s * 1.0) for s in range(3)]
    assert scalars(tmp_path / "loss_run_val") == [("loss/run", s, s * 2.0) for s in range(3)]


def test_histogram_fields(tmp_path):
    values = np.random.RandomState(0).randn(1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("h", rustdl.tensor(values), 2)
        w.add_histogram("h10", values, 3, bins=10)
    h_tf, h10 = (fields(ev["values"][0][5][0]) for ev in events(tmp_path)[1:])
    for h in (h_tf, h10):
        assert _d(h[1][0]) == pytest.approx(values.min()) and _d(h[2][0]) == pytest.approx(values.max())
        assert _d(h[3][0]) == 1000 and _d(h[4][0]) == pytest.approx(values.sum())
        assert _d(h[5][0]) == pytest.approx((values**2).sum())
    limits = struct.unpack(f"<{len(h10[6][0]) // 8}d", h10[6][0])
    counts = struct.unpack(f"<{len(h10[7][0]) // 8}d", h10[7][0])
    ref_counts, ref_edges = np.histogram(values, bins=10)
    assert counts == (0.0, *ref_counts.astype(float)) and np.allclose(limits, ref_edges)
    tf_counts = struct.unpack(f"<{len(h_tf[7][0]) // 8}d", h_tf[7][0])
    tf_limits = struct.unpack(f"<{len(h_tf[6][0]) // 8}d", h_tf[6][0])
    assert sum(tf_counts) == 1000 and len(tf_counts) == len(tf_limits)
    assert all(b > a for a, b in zip(tf_limits, tf_limits[1:]))
    assert tf_limits[0] <= values.min() and tf_limits[-1] >= values.max()
    assert all(math.isclose(b / a, 1.1, rel_tol=1e-9) for a, b in zip(tf_limits[-5:], tf_limits[-4:]))


def _pt_uint8(x):
    return np.clip(np.asarray(x).astype(np.float32) * np.float32(255), 0, 255).astype(np.uint8)


def test_images_png_round_trip(tmp_path):
    rng = np.random.RandomState(1)
    chw = rng.rand(3, 5, 7)
    hwc_u8 = rng.randint(0, 256, size=(4, 6, 3)).astype(np.uint8)
    batch = rng.rand(10, 1, 3, 2)
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", rustdl.tensor(chw), 0)
        w.add_image("hwc", hwc_u8, 1, dataformats="HWC")
        w.add_image("hw", np.eye(4), 2, dataformats="HW")
        w.add_images("grid", rustdl.tensor(batch), 3)
    evs = events(tmp_path)[1:]
    imgs = {}
    for ev in evs:
        (v,) = ev["values"]
        im = fields(v[4][0])
        png = decode_png(im[4][0])
        assert (im[1][0], im[2][0], im[3][0]) == png.shape
        imgs[v[1][0].decode()] = png
    # PyTorch's conversion: x 255 in float32, clipped, truncated (uint8 as it is)
    np.testing.assert_array_equal(imgs["chw"], _pt_uint8(chw.transpose(1, 2, 0)))
    np.testing.assert_array_equal(imgs["hwc"], hwc_u8)
    assert imgs["hw"].shape == (4, 4, 3)  # grey images are written as RGB, as PyTorch's
    for c in range(3):
        np.testing.assert_array_equal(imgs["hw"][..., c], np.eye(4, dtype=np.uint8) * 255)
    g = imgs["grid"]
    assert g.shape == (6, 16, 3)  # 8 per row, 2 rows, the last 6 cells black
    np.testing.assert_array_equal(g[3:6, 2:4, 0], _pt_uint8(batch[9, 0]))
    assert (g[3:, 4:] == 0).all()
    try:
        import io

        from PIL import Image
    except ImportError:
        return
    raw = fields(evs[0]["values"][0][4][0])[4][0]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(raw))), imgs["chw"])


def test_text_hparams_and_purge_step(tmp_path):
    with SummaryWriter(tmp_path, purge_step=5) as w:
        w.add_text("notes", "**hello**", 5)
        w.add_hparams({"lr": 0.1, "opt": "sgd", "bn": True}, {"hp/acc": 0.9}, run_name="trial")
    evs = events(tmp_path)
    assert evs[2]["step"] == 5 and evs[2]["session_log"] == {1: [1]}  # SessionLog START
    (v,) = evs[3]["values"]
    assert v[1] == [b"notes/text_summary"]
    tensor = fields(v[8][0])
    assert tensor[1] == [7] and tensor[8] == [b"**hello**"]
    assert fields(fields(v[9][0])[1][0])[1] == [b"text"]
    hp = events(tmp_path / "trial")
    tags = [v[1][0].decode() for ev in hp for v in ev["values"]]
    assert tags == [
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
        "hp/acc",
    ]
    plugin = [fields(fields(ev["values"][0][9][0])[1][0]) for ev in hp[1:4]]
    assert all(p[1] == [b"hparams"] for p in plugin)
    exp = fields(fields(plugin[0][2][0])[2][0])
    names = [fields(info)[1][0] for info in exp[4]]
    assert names == [b"lr", b"opt", b"bn"] and [fields(info)[4][0] for info in exp[4]] == [3, 1, 2]
    assert fields(fields(exp[5][0])[1][0])[2] == [b"hp/acc"]
    ssi = fields(fields(plugin[1][2][0])[3][0])
    got = {}
    for entry in ssi[1]:
        e = fields(entry)
        got[e[1][0].decode()] = fields(e[2][0])
    assert _d(got["lr"][2][0]) == 0.1 and got["opt"][3] == [b"sgd"] and got["bn"][4] == [1]
    assert fields(fields(plugin[2][2][0])[4][0])[1] == [1]  # STATUS_SUCCESS
    assert scalars(tmp_path / "trial")[-1][0] == "hp/acc"


def test_embedding_files(tmp_path):
    mat = np.arange(12.0).reshape(4, 3)
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(
            rustdl.tensor(mat), metadata=["a", "b", "c", "d"], label_img=np.ones((4, 1, 2, 2)), global_step=3
        )
    folder = tmp_path / "00003" / "default"
    rows = [
        [float(x) for x in line.split("\t")] for line in (folder / "tensors.tsv").read_text().splitlines()
    ]
    assert rows == mat.tolist()
    assert (folder / "metadata.tsv").read_text().splitlines() == ["a", "b", "c", "d"]
    assert decode_png((folder / "sprite.png").read_bytes()).shape == (4, 4, 3)
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "00003/default/tensors.tsv"' in config and "single_image_dim: 2" in config


def test_figure_and_graph(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [0, 1])
    with SummaryWriter(tmp_path) as w:
        w.add_figure("fig", fig, 1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            w.add_graph(rustdl.nn.Linear(2, 2), rustdl.zeros(1, 2))
    (v,) = events(tmp_path)[1]["values"]
    im = fields(v[4][0])
    assert (im[1][0], im[2][0], im[3][0]) == (50, 100, 4)
    assert decode_png(im[4][0]).shape == (50, 100, 4)
    assert len(events(tmp_path)) == 2  # add_graph wrote nothing
    assert all("add_graph" in str(c.message) for c in caught)


def test_bad_inputs_raise_typed_errors_naming_the_method(tmp_path):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(TypeError, match="add_scalar"):
            w.add_scalar("x", "abc")
        with pytest.raises(TypeError, match="add_scalar"):
            w.add_scalar("x", None)
        with pytest.raises(ValueError, match="add_scalar"):
            w.add_scalar("x", rustdl.ones(3))
        with pytest.raises(ValueError, match="add_image"):
            w.add_image("im", np.zeros((2, 3)))  # CHW needs 3 dims
        with pytest.raises(ValueError, match="add_image"):
            w.add_image("im", np.zeros((5, 4, 4)))  # 5 channels
        with pytest.raises(ValueError, match="add_images"):
            w.add_images("im", np.zeros((3, 4, 4)))
        with pytest.raises(ValueError, match="add_histogram"):
            w.add_histogram("h", [])
        with pytest.raises(ValueError, match="add_histogram"):
            w.add_histogram("h", [1.0, float("nan")])
        with pytest.raises(TypeError, match="add_text"):
            w.add_text("t", 3)
        with pytest.raises(TypeError, match="add_hparams"):
            w.add_hparams({"a": [1, 2]}, {})
        with pytest.raises(TypeError, match="add_scalars"):
            w.add_scalars("m", {"a": "x"})
    assert len(events(tmp_path)) == 1  # nothing half-written


def test_reopens_after_close(tmp_path):
    w = SummaryWriter(tmp_path)
    w.add_scalar("a", 1.0, 0)
    w.close()
    w.add_scalar("a", 2.0, 1)
    w.close()
    assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 2


def test_tensorboard_reads_the_files_when_installed(tmp_path):
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    with SummaryWriter(tmp_path) as w:
        for step in range(4):
            w.add_scalar("loss", step * 0.5, step)
        w.add_histogram("h", np.arange(10.0), 0)
        w.add_image("im", np.zeros((3, 2, 2)), 0)
    acc = ea_mod.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(s, s * 0.5) for s in range(4)]
    assert acc.Histograms("h")[0].histogram_value.num == 10
    assert acc.Images("im")[0].width == 2


TRAINING_SCRIPT = """
import json
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter
from torch.profiler import profile, record_function, ProfilerActivity, schedule, tensorboard_trace_handler
import torch.autograd.profiler as autograd_profiler

torch.manual_seed(0)
device = "cuda" if torch.cuda.is_available() else "cpu"
x = torch.randn(64, 10)
y = (x.sum(1) > 0).long()
loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2)).to(device)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
writer = SummaryWriter("runs/exp")
writer.add_graph(model, x[:1].to(device))
step = 0
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
             schedule=schedule(wait=1, warmup=1, active=2, repeat=1),
             on_trace_ready=tensorboard_trace_handler("log/prof"), record_shapes=True) as prof:
    for epoch in range(3):
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            with record_function("forward"):
                out = model(xb)
                loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            writer.add_scalar("Loss/train", loss.item(), step)
            step += 1
            prof.step()
        acc = (model(x.to(device)).argmax(1) == y.to(device)).float().mean()
        writer.add_scalar("Accuracy/train", acc, epoch)
        for name, p in model.named_parameters():
            writer.add_histogram(name, p, epoch)
writer.add_image("img", torch.rand(3, 8, 8), 0)
writer.close()
with autograd_profiler.profile() as p2:
    model(x.to(device))
print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=5))
print(json.dumps({"steps": step, "counts": {e.key: e.count for e in prof.key_averages()},
                  "legacy": {e.key: e.count for e in p2.key_averages()}}))
"""


def test_torchcompat_training_script_logs_and_profiles(tmp_path):
    import json
    import subprocess
    import sys

    (tmp_path / "train.py").write_text(TRAINING_SCRIPT)
    proc = subprocess.run(
        [sys.executable, "-m", "rustdl.torchcompat", "train.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, RUSTDL_NUM_THREADS="1", RUSTDL_COMPAT_DEVICE="cpu"),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["steps"] == 12
    got = scalars(tmp_path / "runs" / "exp")
    loss = [(s, v) for t, s, v in got if t == "Loss/train"]
    assert [s for s, _ in loss] == list(range(12)) and all(v > 0 for _, v in loss)
    assert [s for t, s, _ in got if t == "Accuracy/train"] == [0, 1, 2]
    values = [v for ev in events(tmp_path / "runs" / "exp") for v in ev["values"]]
    assert sum(5 in v for v in values) == 12 and sum(4 in v for v in values) == 1  # histograms, image
    # the profiler recorded steps 2 and 3 (wait 1, warmup 1, active 2), each one forward
    counts = out["counts"]
    assert counts["ProfilerStep#2"] == counts["ProfilerStep#3"] == 1 and "ProfilerStep#4" not in counts
    assert (
        counts["forward"] == 2
        and counts["nn.Module: Linear"] == 4
        and counts["Optimizer.step#Adam.step"] == 2
    )
    assert out["legacy"] == {"nn.Module: Sequential": 1, "nn.Module: Linear": 2, "nn.Module: ReLU": 1}
    assert "ProfilerStep#2" in proc.stdout and "add_graph" in proc.stderr
    (trace,) = os.listdir(tmp_path / "log" / "prof")
    names = {e["name"] for e in json.loads((tmp_path / "log" / "prof" / trace).read_text())["traceEvents"]}
    assert {"ProfilerStep#2", "ProfilerStep#3", "forward", "Tensor.backward"} <= names


def test_pr_curve_counts_and_ratios_at_each_threshold(tmp_path):
    labels = np.array([0, 1, 1, 0, 1], dtype=np.float32)
    preds = np.array([0.2, 0.7, 0.9, 0.6, 0.3], dtype=np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_pr_curve("pr", rustdl.tensor(labels), rustdl.tensor(preds), 4, num_thresholds=5)
    ev = events(tmp_path)[1]
    (v,) = ev["values"]
    tensor, meta = fields(v[8][0]), fields(v[9][0])
    plugin = fields(meta[1][0])
    assert ev["step"] == 4 and plugin[1] == [b"pr_curves"] and fields(plugin[2][0])[2] == [5]
    dims = [fields(d)[1][0] for d in fields(tensor[2][0])[2]]
    assert dims == [6, 5]
    data = np.frombuffer(tensor[5][0], dtype="<f4").reshape(6, 5)
    # threshold k/4: a prediction counts as positive when p >= k/4 (closed form, per threshold)
    for k in range(5):
        pos = preds >= k / 4
        tp, fp = (pos & (labels == 1)).sum(), (pos & (labels == 0)).sum()
        fn, tn = (labels == 1).sum() - tp, (labels == 0).sum() - fp
        want = [tp, fp, tn, fn, tp / max(tp + fp, 1e-7), tp / max(tp + fn, 1e-7)]
        np.testing.assert_allclose(data[:, k], want, rtol=1e-6)
