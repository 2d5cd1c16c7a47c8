"""``rustdl.utils.tensorboard``: the ``summary`` module (what stable-baselines3 and Lightning
import) and the rest of PyTorch's ``SummaryWriter`` (videos, audio, tensors, raw PR curves, boxes,
custom scalars, meshes). The event files are read back with the independent reader of
test_tensorboard.py (both CRCs checked, protobuf decoded field by field); GIFs with Pillow when it
is installed, WAVs with the standard ``wave`` module. Field numbers are TensorBoard's .proto ones."""

import glob
import io
import json
import os
import struct
import subprocess
import sys
import wave

import numpy as np
import pytest
import rustdl
from rustdl.utils.tensorboard import FileWriter, SummaryWriter, summary
from test_tensorboard import _d, _f, decode_png, events, fields, read_records, scalars

try:
    from PIL import Image
except ImportError:  # the GIF / box checks that need it are skipped
    Image = None


def values_of(log_dir):
    """[(step, value fields)] of every summary value in the one event file of log_dir."""
    return [(ev["step"], v) for ev in events(log_dir) for v in ev["values"]]


def plugin(value):
    """(plugin_name, content) of a Summary.Value's metadata."""
    data = fields(fields(value[9][0])[1][0])
    return data[1][0].decode(), data.get(2, [b""])[0]


def tensor_of(value):
    """A TensorProto's fields and its shape."""
    t = fields(value[8][0])
    dims = [fields(d).get(1, [0])[0] for d in fields(t[2][0]).get(2, [])] if 2 in t else []
    return t, dims


def packed_varints(raw):
    out, pos = [], 0
    while pos < len(raw):
        n = shift = 0
        while True:
            b = raw[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        out.append(n)
    return out


def signed64(n):
    return n - (1 << 64) if n >= 1 << 63 else n


def summary_values(encoded):
    return [fields(v) for v in fields(bytes(encoded)).get(1, [])]


# ---------- the summary module and FileWriter.add_summary ----------


def test_summary_functions_return_encoded_summaries_the_file_writer_takes(tmp_path):
    s = summary.scalar("loss", 0.5)
    assert isinstance(s, bytes) and s.SerializeToString() == bytes(s)
    (v,) = summary_values(s)
    assert v[1] == [b"loss"] and _f(v[2][0]) == 0.5
    (t,) = summary_values(summary.text("notes", "hi"))
    assert t[1] == [b"notes/text_summary"] and fields(t[8][0])[8] == [b"hi"]
    (h,) = summary_values(summary.histogram("h", np.arange(10.0), bins=5))
    assert _d(fields(h[5][0])[3][0]) == 10
    (im,) = summary_values(summary.image("im", np.zeros((2, 3, 4, 5))))
    assert [fields(im[4][0])[k][0] for k in (1, 2, 3)] == [4, 10, 3]  # two CHW images side by side

    class FakeProto:  # a protobuf message (e.g. built with tensorboard's own classes)
        def SerializeToString(self):
            return bytes(summary.scalar("proto", 2.0))

    with SummaryWriter(tmp_path) as w:
        w.file_writer.add_summary(s, 3)
        w._get_file_writer().add_summary(summary.scalar("x", 1.0), global_step=4, walltime=99.0)
        w.file_writer.add_summary(FakeProto(), 5)
        with pytest.raises(TypeError, match="add_summary"):
            w.file_writer.add_summary(12)
    assert scalars(tmp_path) == [("loss", 3, 0.5), ("x", 4, 1.0), ("proto", 5, 2.0)]
    assert events(tmp_path)[2]["wall_time"] == 99.0


def test_hparams_three_summaries_as_stable_baselines3_writes_them(tmp_path):
    exp, ssi, sei = summary.hparams(
        {"lr": 0.01, "n_steps": 2048, "policy": "MlpPolicy", "sde": False, "skip": None},
        {"rollout/ep_rew_mean": 0, "train/value_loss": 0},
        {"policy": ["MlpPolicy", "CnnPolicy"]},
    )
    with SummaryWriter(tmp_path) as w:
        for s in (exp, ssi, sei):
            w.file_writer.add_summary(s)
        w.add_scalar("rollout/ep_rew_mean", 12.5, 100)
    vals = values_of(tmp_path)
    tags = [v[1][0].decode() for _, v in vals]
    assert tags == [
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
        "rollout/ep_rew_mean",
    ]
    names, contents = zip(*(plugin(v) for _, v in vals[:3]))
    assert names == ("hparams",) * 3
    # HParamsPluginData{experiment=2 Experiment{hparam_infos=4 HParamInfo{name=1, type=4,
    # domain_discrete=5}, metric_infos=5 MetricInfo{name=1 MetricName{tag=2}}}}
    experiment = fields(fields(contents[0])[2][0])
    infos = [fields(i) for i in experiment[4]]
    assert [i[1][0] for i in infos] == [b"lr", b"n_steps", b"policy", b"sde"]  # None is skipped
    assert [i[4][0] for i in infos] == [3, 3, 1, 2]  # FLOAT64, FLOAT64, STRING, BOOL
    domain = [fields(x) for x in fields(infos[2][5][0])[1]]  # ListValue{values=1 Value}
    assert [d[3][0] for d in domain] == [b"MlpPolicy", b"CnnPolicy"]  # Value.string_value=3
    assert [fields(x).get(4, [0])[0] for x in fields(infos[3][5][0])[1]] == [1, 0]  # bool: True, False
    metric_tags = [fields(fields(m)[1][0])[2][0] for m in experiment[5]]
    assert metric_tags == [b"rollout/ep_rew_mean", b"train/value_loss"]
    # session_start_info=3 SessionStartInfo{hparams=1 map<string, Value>}
    start = {}
    for entry in fields(fields(contents[1])[3][0])[1]:
        e = fields(entry)
        start[e[1][0].decode()] = fields(e[2][0])
    assert _d(start["lr"][2][0]) == 0.01 and _d(start["n_steps"][2][0]) == 2048.0
    assert start["policy"][3] == [b"MlpPolicy"] and start["sde"].get(4, [0]) == [0] and "skip" not in start
    assert fields(fields(contents[2])[4][0])[1] == [1]  # session_end_info=4 {status: SUCCESS}
    # add_hparams writes the same experiment summary
    with SummaryWriter(tmp_path / "w") as w:
        w.add_hparams({"lr": 0.01}, {"m": 1.0}, run_name="t")
    assert (
        values_of(tmp_path / "w" / "t")[0][1] == summary_values(summary.hparams({"lr": 0.01}, {"m": 0})[0])[0]
    )


def test_hparams_rejects_bad_input():
    with pytest.raises(TypeError, match="summary.hparams"):
        summary.hparams(None, {})
    with pytest.raises(TypeError, match="hparam_domain_discrete"):
        summary.hparams({"a": 1.0}, {}, {"b": [1.0]})  # not a hyperparameter
    with pytest.raises(TypeError, match="hparam_domain_discrete"):
        summary.hparams({"a": 1.0}, {}, {"a": ["x"]})  # not the hyperparameter's type
    with pytest.raises(TypeError, match="hparam_dict"):
        summary.hparams({"a": [1, 2]}, {})


# ---------- video ----------


def _grid_reference(vid):
    """(N, T, C, H, W) uint8 -> (T, rows*H, cols*W, C), tiled by explicit loops."""
    n, t, c, h, w = vid.shape
    padded = 1
    while padded < n:
        padded *= 2
    rows = 2 ** ((n.bit_length() - 1) // 2)
    cols = padded // rows
    out = np.zeros((t, rows * h, cols * w, c), np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        out[:, r * h : (r + 1) * h, col * w : (col + 1) * w] = vid[i].transpose(0, 2, 3, 1)
    return out


def _gif_frames(data):
    gif = Image.open(io.BytesIO(data))
    frames, durations = [], []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("RGB")))
        durations.append(gif.info.get("duration"))
    return gif.format, np.stack(frames), durations


@pytest.mark.parametrize("n, grid_hw", [(3, (8, 24)), (5, (16, 24)), (1, (8, 6))])
def test_add_video_tiles_frames_into_an_animated_gif(tmp_path, n, grid_hw):
    rng = np.random.RandomState(n)
    vid = rng.randint(0, 256, size=(n, 4, 3, 8, 6)).astype(np.uint8)
    with SummaryWriter(tmp_path) as w:
        w.add_video("vid", rustdl.tensor(vid), 7, fps=5)
    ((step, v),) = values_of(tmp_path)
    im = fields(v[4][0])
    assert step == 7 and v[1] == [b"vid"]
    assert (im[1][0], im[2][0], im[3][0]) == (*grid_hw, 3)  # height, width, colorspace
    if Image is None:
        return
    fmt, frames, durations = _gif_frames(im[4][0])
    assert fmt == "GIF" and frames.shape == (4, *grid_hw, 3)
    np.testing.assert_array_equal(frames, _grid_reference(vid))
    assert durations == [200] * 4  # 5 frames a second


def test_add_video_float_and_grey(tmp_path):
    rng = np.random.RandomState(0)
    vid = rng.rand(2, 3, 1, 4, 4)
    with SummaryWriter(tmp_path) as w:
        w.add_video("grey", vid, fps=10)
    ((_, v),) = values_of(tmp_path)
    im = fields(v[4][0])
    assert (im[1][0], im[2][0], im[3][0]) == (4, 8, 1)
    if Image is None:
        return
    _, frames, durations = _gif_frames(im[4][0])
    want = _grid_reference(np.clip(vid.astype(np.float32) * np.float32(255), 0, 255).astype(np.uint8))
    np.testing.assert_array_equal(frames[..., 0], want[..., 0])
    assert durations == [100] * 3


def test_add_video_without_pillow_warns_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with SummaryWriter(tmp_path) as w:
        with pytest.warns(UserWarning, match="add_video needs package Pillow"):
            w.add_video("v", np.zeros((1, 2, 3, 4, 4)))
        with pytest.raises(ValueError, match="add_video"):
            w.add_video("v", np.zeros((2, 3, 4, 4)))  # not 5-D
    assert values_of(tmp_path) == []


# ---------- audio ----------


def test_add_audio_is_a_16_bit_wav(tmp_path):
    t = np.arange(800) / 8000.0
    snd = (0.8 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_audio("snd", rustdl.tensor(snd[None]), 2, sample_rate=8000)
        with pytest.warns(UserWarning, match="clipped"):
            w.add_audio("loud", np.array([-3.0, 0.5, 2.0]), 3)
        with pytest.raises(ValueError, match="add_audio"):
            w.add_audio("stereo", np.zeros((2, 10)))
    (s1, v1), (s2, v2) = values_of(tmp_path)
    # Summary.Value.audio=6 Audio{sample_rate=1 float, num_channels=2, length_frames=3,
    # encoded_audio_string=4, content_type=5}
    a = fields(v1[6][0])
    assert s1 == 2 and v1[1] == [b"snd"] and _f(a[1][0]) == 8000.0
    assert a[2] == [1] and a[3] == [800] and a[5] == [b"audio/wav"]
    with wave.open(io.BytesIO(a[4][0])) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()) == (1, 2, 8000, 800)
        pcm = np.frombuffer(f.readframes(800), "<i2")
    np.testing.assert_allclose(pcm, snd.astype(np.float64) * 32767, atol=1)
    b = fields(v2[6][0])
    assert s2 == 3 and _f(b[1][0]) == 44100.0
    with wave.open(io.BytesIO(b[4][0])) as f:
        assert list(np.frombuffer(f.readframes(3), "<i2")) == [-32767, 16383, 32767]


# ---------- tensors ----------


def test_add_tensor_writes_each_dtype_in_its_field(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_tensor("f32", rustdl.tensor([[1.5, -2.0, 3.25]]), 1)
        w.add_tensor("i64", np.array([1, -2, 3], dtype=np.int64), 2)
        w.add_tensor("f64", np.array([0.1, 0.2]), 3)
        w.add_tensor("bool", np.array([True, False, True]), 4)
        w.add_tensor("f16", np.array([1.0, -0.5], dtype=np.float16), 5)
        w.add_tensor("u8", np.array([[1, 200]], dtype=np.uint8), 6)
        w.add_tensor("c64", np.array([1 + 2j, -3j], dtype=np.complex64), 7)
        with pytest.raises(ValueError, match="add_tensor"):
            w.add_tensor("bad", np.array(["2020-01-01"], dtype="datetime64[D]"))
    vals = dict((v[1][0].decode(), v) for _, v in values_of(tmp_path))
    assert all(plugin(v)[0] == "tensor" for v in vals.values())
    t, dims = tensor_of(vals["f32"])
    assert t[1] == [1] and dims == [1, 3] and struct.unpack("<3f", t[5][0]) == (1.5, -2.0, 3.25)
    t, dims = tensor_of(vals["i64"])  # DT_INT64, int64_val=10
    assert t[1] == [9] and dims == [3] and [signed64(n) for n in packed_varints(t[10][0])] == [1, -2, 3]
    t, _ = tensor_of(vals["f64"])  # DT_DOUBLE, double_val=6
    assert t[1] == [2] and struct.unpack("<2d", t[6][0]) == (0.1, 0.2)
    t, _ = tensor_of(vals["bool"])  # DT_BOOL, bool_val=11
    assert t[1] == [10] and packed_varints(t[11][0]) == [1, 0, 1]
    t, _ = tensor_of(vals["f16"])  # DT_HALF, half_val=13: the 16-bit patterns
    assert t[1] == [19] and packed_varints(t[13][0]) == [0x3C00, 0xB800]
    t, dims = tensor_of(vals["u8"])  # DT_UINT8 in int_val=7, as TensorFlow reads it
    assert t[1] == [4] and dims == [1, 2] and packed_varints(t[7][0]) == [1, 200]
    t, _ = tensor_of(vals["c64"])  # DT_COMPLEX64, scomplex_val=9: real, imaginary pairs
    assert t[1] == [8] and struct.unpack("<4f", t[9][0]) == (1.0, 2.0, 0.0, -3.0)


def test_new_style_double_precision_scalar(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("d", 0.1, 1, new_style=True, double_precision=True)
    ((_, v),) = values_of(tmp_path)
    t, _ = tensor_of(v)
    assert plugin(v)[0] == "scalars" and t[1] == [2] and struct.unpack("<d", t[6][0]) == (0.1,)


# ---------- precision-recall curves ----------


def test_add_pr_curve_raw(tmp_path):
    tp, fp = np.array([5.0, 4.0, 2.0]), np.array([5.0, 2.0, 0.0])
    tn, fn = np.array([0.0, 3.0, 5.0]), np.array([0.0, 1.0, 3.0])
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    with SummaryWriter(tmp_path) as w:
        w.add_pr_curve_raw("pr", tp, fp, tn, fn, precision, recall, 4, num_thresholds=3)
        w.add_pr_curve("capped", np.array([0, 1, 1]), np.array([0.1, 0.8, 0.4]), 5, num_thresholds=300)
        with pytest.raises(ValueError, match="add_pr_curve_raw"):
            w.add_pr_curve_raw("bad", tp, fp, tn, fn, precision, recall[:2])
    (s, v), (_, capped) = values_of(tmp_path)
    name, content = plugin(v)
    assert s == 4 and name == "pr_curves" and fields(content)[2] == [3]  # PrCurvePluginData.num_thresholds
    t, dims = tensor_of(v)
    assert t[1] == [1] and dims == [6, 3]
    np.testing.assert_allclose(
        np.frombuffer(t[5][0], "<f4").reshape(6, 3), np.stack([tp, fp, tn, fn, precision, recall]), rtol=1e-6
    )
    assert fields(plugin(capped)[1])[2] == [127] and tensor_of(capped)[1] == [6, 127]  # PyTorch's cap


# ---------- images with boxes ----------


def test_add_image_with_boxes_draws_red_outlines_and_labels(tmp_path):
    if Image is None:
        pytest.skip("Pillow is not installed")
    img = np.full((3, 40, 60), 0.5)  # grey 127 (127.5 truncated, as PyTorch converts)
    boxes = np.array([[5, 6, 40, 30], [45, 2, 58, 12]])
    with SummaryWriter(tmp_path) as w:
        w.add_image_with_boxes("b", rustdl.tensor(img), rustdl.tensor(boxes), 1, labels=["cat", "dog"])
        w.add_image_with_boxes("nolabel", img, boxes[:1], 2, labels=["one", "too many"])  # ignored
        w.add_image_with_boxes("half", img, boxes[:1], 3, rescale=0.5)
    (_, v1), (_, v2), (_, v3) = values_of(tmp_path)
    a, b = (decode_png(fields(v[4][0])[4][0]) for v in (v1, v2))
    grey, red = [127, 127, 127], [255, 0, 0]
    assert a.shape == (40, 60, 3)
    # the outline: the box's left and right edges, top and bottom rows, in red
    assert (a[10:20, 5] == red).all() and (a[10:20, 40] == red).all()
    assert (a[6, 10:35] == red).all() and (a[30, 28:38] == red).all()
    # inside and outside the box: the image as it was
    assert (a[12:18, 10:35] == grey).all() and (a[35:, :] == grey).all() and (a[0:5, 0:40] == grey).all()
    # the label: a red box with dark (anti-aliased black) text inside the bottom-left corner
    label = a[20:31, 6:19]
    assert (label == red).all(-1).sum() > 40 and (
        (label[..., 0] < 64) & (label[..., 1:] < 64).all(-1)
    ).sum() > 10
    assert (a[15:20, 7:19] == grey).all()  # above the label
    # without labels that corner is grey
    assert (b[20:29, 7:25] == grey).all()
    assert [fields(v3[4][0])[k][0] for k in (1, 2, 3)] == [20, 30, 3]  # rescaled by half


def test_add_image_with_boxes_without_pillow_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ImportError, match="add_image_with_boxes needs the Pillow package"):
            w.add_image_with_boxes("b", np.zeros((3, 4, 4)), np.array([[0, 0, 2, 2]]))
    assert values_of(tmp_path) == []


# ---------- custom scalars ----------


def _layout(v):
    """Layout{category=2 Category{title=1, chart=2 Chart{title=1, multiline=2 {tag=1},
    margin=3 {series=1 {value=1, lower=2, upper=3}}}}} as {category: {chart: (kind, tags)}}."""
    t, dims = tensor_of(v)
    assert v[1] == [b"custom_scalars__config__"] and plugin(v)[0] == "custom_scalars"
    assert t[1] == [7] and dims == []  # DT_STRING, a scalar
    out = {}
    for cat in fields(t[8][0])[2]:
        c = fields(cat)
        charts = {}
        for chart in c.get(2, []):
            ch = fields(chart)
            if 2 in ch:
                charts[ch[1][0].decode()] = ("Multiline", [x.decode() for x in fields(ch[2][0])[1]])
            else:
                s = fields(fields(ch[3][0])[1][0])
                charts[ch[1][0].decode()] = ("Margin", [s[k][0].decode() for k in (1, 2, 3)])
        out[c[1][0].decode()] = charts
    return out


def test_custom_scalars_layouts(tmp_path):
    layout = {
        "Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
        "USA": {"dow": ["Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]], "nasdaq": ["Multiline", ["n/a"]]},
    }
    with SummaryWriter(tmp_path) as w:
        w.add_custom_scalars(layout)
        w.add_custom_scalars_multilinechart(["loss/train", "loss/val"])
        w.add_custom_scalars_marginchart(["acc", "acc/lo", "acc/hi"], category="c", title="t")
        with pytest.raises(ValueError, match="3 tags"):
            w.add_custom_scalars_marginchart(["a", "b"])
        with pytest.raises(ValueError, match="3 tags"):
            w.add_custom_scalars({"x": {"y": ["Margin", ["a"]]}})
    (_, v1), (_, v2), (_, v3) = values_of(tmp_path)
    assert _layout(v1) == {
        "Taiwan": {"twse": ("Multiline", ["twse/0050", "twse/2330"])},
        "USA": {"dow": ("Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]), "nasdaq": ("Multiline", ["n/a"])},
    }
    assert _layout(v2) == {"default": {"untitled": ("Multiline", ["loss/train", "loss/val"])}}
    assert _layout(v3) == {"c": {"t": ("Margin", ["acc", "acc/lo", "acc/hi"])}}


# ---------- meshes ----------


def test_add_mesh_writes_vertices_faces_colors(tmp_path):
    verts = np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], dtype=np.float32)
    colors = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]])
    faces = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]])
    config = {"camera": {"cls": "PerspectiveCamera", "fov": 75}}
    with SummaryWriter(tmp_path) as w:
        w.add_mesh("m", rustdl.tensor(verts), colors=colors, faces=faces, config_dict=config, global_step=3)
        w.add_mesh("cloud", verts)
        with pytest.raises(ValueError, match="add_mesh"):
            w.add_mesh("bad", verts[0])
    vals = values_of(tmp_path)
    assert [v[1][0].decode() for _, v in vals] == ["m_VERTEX", "m_FACE", "m_COLOR", "cloud_VERTEX"]
    for (step, v), (ctype, data) in zip(vals[:3], [(1, verts), (2, faces), (3, colors)]):
        name, content = plugin(v)
        # MeshPluginData{name=2, content_type=3, json_config=5, shape=6 packed, components=7}
        c = fields(content)
        assert step == 3 and name == "mesh" and c[2] == [b"m"] and c[3] == [ctype]
        assert json.loads(c[5][0]) == config and packed_varints(c[6][0]) == [1, 4, 3]
        assert c[7] == [0b1110]  # vertices, faces and colors present
        t, dims = tensor_of(v)
        assert t[1] == [1] and dims == [1, 4, 3]
        np.testing.assert_array_equal(np.frombuffer(t[5][0], "<f4").reshape(1, 4, 3), data)
    c = fields(plugin(vals[3][1])[1])
    assert c[7] == [0b10] and c[5] == [b"{}"]


# ---------- graphs, events, purge ----------


def test_onnx_graph_is_refused_and_file_writer_graph_events(tmp_path):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(NotImplementedError, match="add_onnx_graph"):
            w.add_onnx_graph("model.onnx")
        w.file_writer.add_onnx_graph(b"GRAPH", walltime=5.0)
        w.file_writer.add_graph((b"G2", b"META"))
    files = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    recs = [fields(r) for r in read_records(files[0])[1:]]
    assert recs[0][4] == [b"GRAPH"] and _d(recs[0][1][0]) == 5.0  # Event.graph_def=4
    assert recs[1][4] == [b"G2"]
    tagged = fields(recs[2][8][0])  # Event.tagged_run_metadata=8 {tag=1, run_metadata=2}
    assert tagged[1] == [b"step1"] and tagged[2] == [b"META"]


def test_add_event_step_and_walltime_replace_the_events_own(tmp_path):
    from rustdl.utils.tensorboard import _proto

    fw = FileWriter(str(tmp_path), flush_secs=0)
    fw.add_event(_proto.event(1.0, 2, summary=bytes(summary.scalar("a", 1.0))), step=7, walltime=3.5)
    fw.close()
    fw.reopen()  # a new event file
    fw.add_summary(summary.scalar("b", 2.0), 8)
    fw.close()
    first, second = sorted(glob.glob(str(tmp_path / "events.out.tfevents.*")))
    rec = fields(read_records(first)[1])
    assert rec[1] == [struct.pack("<d", 3.5)] and rec[2] == [7]  # one wall_time, one step
    assert fields(read_records(second)[1])[2] == [8]


def test_purge_step_writes_a_session_log_start(tmp_path):
    with SummaryWriter(tmp_path, purge_step=5) as w:
        w.add_scalar("x", 1.0, 5)
    files = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    recs = [fields(r) for r in read_records(files[0])]
    # Event.session_log=7 SessionLog{status=1 START}; field 6 is the deprecated log_message
    assert recs[2][2] == [5] and fields(recs[2][7][0]) == {1: [1]} and 6 not in recs[2]


def test_tensorboard_reads_the_new_summaries_when_installed(tmp_path):
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    with SummaryWriter(tmp_path) as w:
        w.add_audio("snd", np.zeros(100), 0, sample_rate=1000)
        w.add_tensor("t", np.arange(6.0).reshape(2, 3), 0)
        if Image is not None:
            w.add_video("v", np.zeros((1, 2, 3, 4, 4)), 0)
    acc = ea_mod.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    assert acc.Audio("snd")[0].length_frames == 100
    assert list(acc.Tensors("t")[0].tensor_proto.tensor_shape.dim[1].size for _ in [0]) == [3]
    if Image is not None:
        assert acc.Images("v")[0].width == 4


# ---------- under the compat layer ----------

SB3_STYLE = """
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams
import torch.utils.tensorboard as tb

w = SummaryWriter("runs/hp")
exp, ssi, sei = hparams({"learning_rate": 3e-4, "gamma": 0.99}, {"rollout/ep_rew_mean": 0})
w.file_writer.add_summary(exp)
w.file_writer.add_summary(ssi)
w.file_writer.add_summary(sei)
w.add_scalar("rollout/ep_rew_mean", 7.0, 10)
w.close()
print(tb.summary.hparams is hparams)
"""


def test_torchcompat_imports_the_summary_module(tmp_path):
    (tmp_path / "hp.py").write_text(SB3_STYLE)
    proc = subprocess.run(
        [sys.executable, "-m", "rustdl.torchcompat", "hp.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, RUSTDL_NUM_THREADS="1", RUSTDL_COMPAT_DEVICE="cpu"),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True"
    vals = values_of(tmp_path / "runs" / "hp")
    assert [plugin(v)[0] for _, v in vals[:3]] == ["hparams"] * 3
    assert scalars(tmp_path / "runs" / "hp") == [("rollout/ep_rew_mean", 10, 7.0)]
