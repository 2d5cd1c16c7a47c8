"""The bytes of a TensorBoard event file, written by hand: CRC-32C, TFRecord framing and the
few protobuf messages TensorBoard reads (``Event``, ``Summary`` and what they hold).

Protobuf wire format: each field is a key ``(number << 3) | wire_type`` as a varint, then a
varint (type 0), 8 little-endian bytes (type 1), a varint length and the bytes (type 2) or 4
little-endian bytes (type 5). Fields holding their default value are left out, as proto3 does.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np

# ---------- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) ----------


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C of ``data`` (continuing from ``crc``); ``crc32c(b"123456789") == 0xE3069283``."""
    table = _CRC_TABLE
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The CRC TFRecord stores: rotated right by 15 bits plus ``0xA282EAD8`` (mod 2**32)."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    """One TFRecord frame: uint64 length, masked CRC of the length, the data, masked CRC of it."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


# ---------- protobuf encoding ----------


def varint(n: int) -> bytes:
    """Base-128 varint; negative int64 values take ten bytes (two's complement), as protobuf."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(field: int, n: int) -> bytes:
    return varint(field << 3) + varint(int(n)) if n else b""


def f_double(field: int, x: float) -> bytes:
    return varint(field << 3 | 1) + struct.pack("<d", x) if x else b""


def f_float(field: int, x: float) -> bytes:
    return varint(field << 3 | 5) + struct.pack("<f", x) if x else b""


def f_bytes(field: int, data: bytes | str, always: bool = False) -> bytes:
    """A length-delimited field: bytes, a string (UTF-8) or an encoded sub-message."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data and not always:
        return b""
    return varint(field << 3 | 2) + varint(len(data)) + data


def f_packed_doubles(field: int, xs: Iterable[float]) -> bytes:
    xs = list(xs)
    if not xs:
        return b""
    return f_bytes(field, struct.pack(f"<{len(xs)}d", *xs))


def f_packed_floats(field: int, xs: Iterable[float]) -> bytes:
    xs = list(xs)
    if not xs:
        return b""
    return f_bytes(field, struct.pack(f"<{len(xs)}f", *xs))


def f_packed_varints(field: int, ns: Iterable[int]) -> bytes:
    """A packed repeated integer field (int32/int64/uint32/uint64/bool/enum)."""
    return f_bytes(field, b"".join(varint(int(n)) for n in ns))


def top_level_fields(buf: bytes) -> list[tuple[int, bytes]]:
    """``buf`` split into its top-level fields: ``(field number, the field's bytes, key included)``."""
    out, pos = [], 0
    while pos < len(buf):
        start = pos
        key, pos = _read_varint(buf, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _read_varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            n, pos = _read_varint(buf, pos)
            pos += n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated protobuf message")
        out.append((key >> 3, buf[start:pos]))
    return out


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated protobuf varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


# ---------- TensorBoard messages ----------

DT_FLOAT, DT_DOUBLE, DT_STRING = 1, 2, 7


def event(
    wall_time: float,
    step: int = 0,
    *,
    file_version: str = "",
    summary: bytes | None = None,
    session_start: bool = False,
) -> bytes:
    """``Event{wall_time=1 double, step=2 int64, file_version=3, summary=5, session_log=7}``
    (field 6 is the deprecated ``log_message``)."""
    out = f_double(1, wall_time) + f_varint(2, step) + f_bytes(3, file_version)
    if summary is not None:
        out += f_bytes(5, summary, always=True)
    if session_start:
        out += f_bytes(7, f_varint(1, 1), always=True)  # SessionLog{status: START}
    return out


def summary(values: Iterable[bytes]) -> bytes:
    """``Summary{value=1 repeated}`` from encoded ``Summary.Value`` messages."""
    return b"".join(f_bytes(1, v, always=True) for v in values)


def plugin_metadata(
    plugin_name: str, content: bytes = b"", display_name: str = "", description: str = ""
) -> bytes:
    """``SummaryMetadata{plugin_data=1 PluginData{plugin_name=1, content=2}, display_name=2,
    summary_description=3}``."""
    return (
        f_bytes(1, f_bytes(1, plugin_name) + f_bytes(2, content), always=True)
        + f_bytes(2, display_name)
        + f_bytes(3, description)
    )


def tensor_shape(dims: Iterable[int]) -> bytes:
    """``TensorShapeProto{dim=2 repeated Dim{size=1}}``."""
    return b"".join(f_bytes(2, f_varint(1, d), always=True) for d in dims)


def value_simple(tag: str, x: float) -> bytes:
    """``Summary.Value{tag=1, simple_value=2 float}``."""
    # a float32 field: values beyond its range are written as ±inf, as protobuf stores them
    with np.errstate(over="ignore"):
        return f_bytes(1, tag) + varint(2 << 3 | 5) + np.float32(x).tobytes()


def tensor_proto(dtype: int, dims: Iterable[int], values: bytes) -> bytes:
    """``TensorProto{dtype=1, tensor_shape=2, ...}``; ``values`` is the encoded ``*_val`` field
    (``float_val=5``, ``double_val=6``, ``int_val=7``, ``string_val=8``, ``scomplex_val=9``,
    ``int64_val=10``, ``bool_val=11``, ``dcomplex_val=12``, ``half_val=13``, ``uint32_val=16``,
    ``uint64_val=17``)."""
    return f_varint(1, dtype) + f_bytes(2, tensor_shape(dims), always=True) + values


def value_tensor(tag: str, tensor: bytes, metadata: bytes) -> bytes:
    """``Value{tag=1, tensor=8 TensorProto, metadata=9 SummaryMetadata}``."""
    return f_bytes(1, tag) + f_bytes(8, tensor, always=True) + f_bytes(9, metadata, always=True)


def value_scalar_tensor(tag: str, x: float, double: bool = False) -> bytes:
    """The scalars plugin's tensor form: ``Value{tag=1, tensor=8 TensorProto, metadata=9}``, a
    ``DT_FLOAT`` ``float_val`` (``DT_DOUBLE`` ``double_val`` with ``double``)."""
    if double:
        tensor = f_varint(1, DT_DOUBLE) + f_bytes(2, b"", always=True) + f_packed_doubles(6, [x])
        return value_tensor(tag, tensor, plugin_metadata("scalars"))
    tensor = f_varint(1, DT_FLOAT) + f_bytes(2, b"", always=True) + f_packed_floats(5, [x])
    return (
        f_bytes(1, tag)
        + f_bytes(8, tensor, always=True)
        + f_bytes(9, plugin_metadata("scalars"), always=True)
    )


def image(height: int, width: int, colorspace: int, encoded: bytes) -> bytes:
    """``Summary.Image{height=1, width=2, colorspace=3, encoded_image_string=4}`` (PNG or GIF)."""
    return f_varint(1, height) + f_varint(2, width) + f_varint(3, colorspace) + f_bytes(4, encoded)


def value_image(tag: str, height: int, width: int, colorspace: int, png: bytes) -> bytes:
    """``Value{tag=1, image=4 Image{height=1, width=2, colorspace=3, encoded_image_string=4}}``."""
    return f_bytes(1, tag) + f_bytes(4, image(height, width, colorspace, png), always=True)


def value_image_proto(tag: str, image_proto: bytes | None) -> bytes:
    """``Value{tag=1, image=4}`` around an encoded ``Summary.Image`` (only the tag for None)."""
    if image_proto is None:
        return f_bytes(1, tag)
    return f_bytes(1, tag) + f_bytes(4, image_proto, always=True)


def value_audio(
    tag: str, sample_rate: float, num_channels: int, length_frames: int, encoded: bytes, content_type: str
) -> bytes:
    """``Value{tag=1, audio=6 Audio{sample_rate=1 float, num_channels=2 int64, length_frames=3
    int64, encoded_audio_string=4, content_type=5}}``."""
    audio = (
        f_float(1, sample_rate)
        + f_varint(2, num_channels)
        + f_varint(3, length_frames)
        + f_bytes(4, encoded)
        + f_bytes(5, content_type)
    )
    return f_bytes(1, tag) + f_bytes(6, audio, always=True)


def value_histogram(
    tag: str,
    vmin: float,
    vmax: float,
    num: float,
    vsum: float,
    sum_squares: float,
    bucket_limit: Iterable[float],
    bucket: Iterable[float],
) -> bytes:
    """``Value{tag=1, histo=5 HistogramProto}``: see :func:`histogram_proto`."""
    return value_histo(tag, histogram_proto(vmin, vmax, num, vsum, sum_squares, bucket_limit, bucket))


def histogram_proto(
    vmin: float,
    vmax: float,
    num: float,
    vsum: float,
    sum_squares: float,
    bucket_limit: Iterable[float],
    bucket: Iterable[float],
) -> bytes:
    """``HistogramProto{min=1, max=2, num=3, sum=4, sum_squares=5, bucket_limit=6 packed,
    bucket=7 packed}`` (all doubles)."""
    return (
        f_double(1, vmin)
        + f_double(2, vmax)
        + f_double(3, num)
        + f_double(4, vsum)
        + f_double(5, sum_squares)
        + f_packed_doubles(6, bucket_limit)
        + f_packed_doubles(7, bucket)
    )


def value_histo(tag: str, histo: bytes) -> bytes:
    """``Value{tag=1, histo=5}`` around an encoded ``HistogramProto``."""
    return f_bytes(1, tag) + f_bytes(5, histo, always=True)


def value_text(tag: str, text: str) -> bytes:
    """The text plugin's form: a 1-element DT_STRING tensor with ``plugin_name: "text"``."""
    tensor = (
        f_varint(1, DT_STRING) + f_bytes(2, tensor_shape([1]), always=True) + f_bytes(8, text, always=True)
    )
    return (
        f_bytes(1, tag) + f_bytes(8, tensor, always=True) + f_bytes(9, plugin_metadata("text"), always=True)
    )


def value_plugin_only(tag: str, plugin_name: str, content: bytes) -> bytes:
    """A value that is only its metadata (the hparams plugin's three summaries)."""
    return f_bytes(1, tag) + f_bytes(9, plugin_metadata(plugin_name, content), always=True)


# ---------- the hparams plugin (tensorboard/plugins/hparams api.proto, plugin_data.proto) ----------

HP_STRING, HP_BOOL, HP_FLOAT64 = 1, 2, 3


def pb_value(v: float | str | bool) -> bytes:
    """``google.protobuf.Value``: number_value=2, string_value=3, bool_value=4."""
    if isinstance(v, bool):
        return varint(4 << 3) + varint(int(v))
    if isinstance(v, str):
        return f_bytes(3, v, always=True)
    return varint(2 << 3 | 1) + struct.pack("<d", float(v))


def pb_list_value(vs: Iterable[float | str | bool]) -> bytes:
    """``google.protobuf.ListValue{values=1 repeated Value}``."""
    return b"".join(f_bytes(1, pb_value(v), always=True) for v in vs)


def hparams_experiment(hparam_infos: list[tuple[str, int, list | None]], metric_tags: list[str]) -> bytes:
    """``HParamsPluginData{version=1 (0), experiment=2 Experiment{hparam_infos=4, metric_infos=5}}``.

    ``hparam_infos``: ``(name, data type, discrete domain or None)``; ``HParamInfo{name=1,
    type=4, domain_discrete=5 ListValue}``; ``MetricInfo{name=1 MetricName{group=1, tag=2}}``.
    """
    exp = b""
    for name, dtype, domain in hparam_infos:
        info = f_bytes(1, name) + f_varint(4, dtype)
        if domain is not None:
            info += f_bytes(5, pb_list_value(domain), always=True)
        exp += f_bytes(4, info, always=True)
    for tag in metric_tags:
        exp += f_bytes(5, f_bytes(1, f_bytes(2, tag), always=True), always=True)
    return f_bytes(2, exp, always=True)


def hparams_session_start(hparams: dict[str, float | str | bool], start_time: float) -> bytes:
    """``HParamsPluginData{session_start_info=3 SessionStartInfo{hparams=1 map<string, Value>,
    start_time_secs=5}}``."""
    ssi = b""
    for k, v in hparams.items():
        ssi += f_bytes(1, f_bytes(1, k, always=True) + f_bytes(2, pb_value(v), always=True), always=True)
    ssi += f_double(5, start_time)
    return f_bytes(3, ssi, always=True)


def hparams_session_end(end_time: float) -> bytes:
    """``HParamsPluginData{session_end_info=4 SessionEndInfo{status=1 (SUCCESS), end_time_secs=2}}``."""
    return f_bytes(4, f_varint(1, 1) + f_double(2, end_time), always=True)


def value_pr_curve(tag: str, data: Iterable[float], num_thresholds: int, columns: int | None = None) -> bytes:
    """The PR-curves plugin's form: a float tensor ``(6, columns)`` (true/false positives,
    true/false negatives, precision, recall per threshold; ``columns`` defaults to
    ``num_thresholds``) and ``PrCurvePluginData{version=1, num_thresholds=2}`` as the plugin
    content."""
    tensor = (
        f_varint(1, DT_FLOAT)
        + f_bytes(2, tensor_shape([6, num_thresholds if columns is None else columns]), always=True)
        + f_packed_floats(5, data)
    )
    content = f_varint(1, 0) + f_varint(2, num_thresholds)
    return (
        f_bytes(1, tag)
        + f_bytes(8, tensor, always=True)
        + f_bytes(9, plugin_metadata("pr_curves", content), always=True)
    )


# ---------- the custom scalars plugin (tensorboard/plugins/custom_scalar/layout.proto) ----------


def custom_scalars_layout(categories: Iterable[tuple[str, Iterable[tuple[str, str, list[str]]]]]) -> bytes:
    """``Layout{version=1 (0), category=2 Category{title=1, chart=2 Chart{title=1,
    multiline=2 MultilineChartContent{tag=1 repeated}, margin=3 MarginChartContent{series=1
    Series{value=1, lower=2, upper=3}}}}}``; ``categories``: ``(title, [(chart title, "Margin" or
    "Multiline", tags)])``, a margin chart's tags being ``[value, lower, upper]``."""
    out = b""
    for title, charts in categories:
        cat = f_bytes(1, title)
        for chart_title, kind, tags in charts:
            if kind == "Margin":
                series = f_bytes(1, tags[0]) + f_bytes(2, tags[1]) + f_bytes(3, tags[2])
                body = f_bytes(3, f_bytes(1, series, always=True), always=True)
            else:
                body = f_bytes(2, b"".join(f_bytes(1, t, always=True) for t in tags), always=True)
            cat += f_bytes(2, f_bytes(1, chart_title) + body, always=True)
        out += f_bytes(2, cat, always=True)
    return out


# ---------- the mesh plugin (tensorboard/plugins/mesh/plugin_data.proto) ----------


def mesh_plugin_data(
    name: str, content_type: int, json_config: str, shape: Iterable[int], components: int
) -> bytes:
    """``MeshPluginData{version=1 (0), name=2, content_type=3 (VERTEX 1, FACE 2, COLOR 3),
    json_config=5, shape=6 packed int32, components=7 uint32}``."""
    return (
        f_bytes(2, name)
        + f_varint(3, content_type)
        + f_bytes(5, json_config)
        + f_packed_varints(6, shape)
        + f_varint(7, components)
    )
