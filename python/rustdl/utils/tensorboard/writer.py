"""``SummaryWriter``: logs scalars, histograms, images, videos, audio, text, tensors,
precision-recall curves, custom-scalar layouts, meshes, hyperparameters and embeddings as
TensorBoard event files (``events.out.tfevents.<time>.<host>.<pid>.<n><suffix>``). The summaries
are built by :mod:`.summary`."""

from __future__ import annotations

import atexit
import math
import os
import socket
import struct
import threading
import time
import warnings
import weakref
from datetime import datetime
from typing import Any

import numpy as np

from . import _image, _proto, summary
from .summary import check_tag as _check_tag_
from .summary import number as _number

__all__ = ["FileWriter", "SummaryWriter"]

_uid_lock = threading.Lock()
_next_uid = 0
_open_writers: weakref.WeakSet = weakref.WeakSet()


def _new_uid() -> int:
    global _next_uid
    with _uid_lock:
        _next_uid += 1
        return _next_uid - 1


@atexit.register
def _flush_all_at_exit() -> None:
    for w in list(_open_writers):
        try:
            w.flush()
        except Exception:  # noqa: BLE001, S110 - nothing useful to do at interpreter exit
            pass


class FileWriter:
    """One event file in ``log_dir``: queues TFRecord-framed ``Event`` records and writes them
    when ``max_queue`` are waiting, every ``flush_secs`` (a daemon thread), on ``flush()`` and on
    ``close()``. The first record (written at once) is ``file_version: "brain.Event:2"``."""

    def __init__(self, log_dir: str, max_queue: int = 10, flush_secs: float = 120, filename_suffix: str = ""):
        self.log_dir = str(log_dir)
        self._filename_suffix = filename_suffix
        self._flush_secs = flush_secs
        self._lock = threading.Lock()
        self._max_queue = max(1, int(max_queue))
        self._open()

    def _open(self) -> None:
        os.makedirs(self.log_dir, exist_ok=True)
        name = "events.out.tfevents.%010d.%s.%d.%d%s" % (  # noqa: UP031
            time.time(),
            socket.gethostname(),
            os.getpid(),
            _new_uid(),
            self._filename_suffix,
        )
        self.path = os.path.join(self.log_dir, name)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._queue: list[bytes] = []
        self._closed = False
        self._file.write(_proto.tfrecord(_proto.event(time.time(), file_version="brain.Event:2")))
        self._file.flush()
        self._stop = threading.Event()
        self._thread = None
        if self._flush_secs and self._flush_secs > 0:
            self._thread = threading.Thread(
                target=self._flush_loop, args=(self._stop, float(self._flush_secs)), daemon=True
            )
            self._thread.start()
        _open_writers.add(self)

    def _flush_loop(self, stop: threading.Event, secs: float) -> None:
        while not stop.wait(secs):
            self.flush()

    def get_logdir(self) -> str:
        return self.log_dir

    def add_event(self, event: Any, step: int | None = None, walltime: float | None = None) -> None:
        """Queues one ``Event``: encoded bytes, or a protobuf message (anything with
        ``SerializeToString()``). ``step`` / ``walltime`` replace the event's own; a message
        without ``walltime`` gets the current time, as in PyTorch."""
        data = _encoded(event, "add_event", "Event")
        if walltime is None and not isinstance(event, (bytes, bytearray, memoryview)):
            walltime = time.time()
        if step is not None or walltime is not None:
            drop = ({1} if walltime is not None else set()) | ({2} if step is not None else set())
            kept = b"".join(raw for num, raw in _proto.top_level_fields(data) if num not in drop)
            head = b"" if walltime is None else _proto.varint(1 << 3 | 1) + struct.pack("<d", float(walltime))
            data = head + (b"" if step is None else _proto.f_varint(2, _step(step))) + kept
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the event file {self.path} is closed")
            self._queue.append(_proto.tfrecord(data))
            full = len(self._queue) >= self._max_queue
        if full:
            self.flush()

    def add_summary(
        self, summary: Any, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Queues an ``Event`` holding ``summary``: an encoded ``Summary`` (what the functions of
        :mod:`rustdl.utils.tensorboard.summary` return, or any bytes) or a protobuf ``Summary``
        message (anything with ``SerializeToString()``)."""
        self.add_event(
            _proto.event(
                time.time() if walltime is None else float(walltime),
                _step(global_step),
                summary=_encoded(summary, "add_summary", "Summary"),
            )
        )

    def add_graph(self, graph_profile: Any, walltime: float | None = None) -> None:
        """Queues a graph: ``graph_profile`` is ``(GraphDef, RunMetadata)``, each a protobuf message
        or its encoding (``Event.graph_def=4``, then ``Event.tagged_run_metadata=8`` tagged
        ``step1``), as PyTorch's ``FileWriter.add_graph``. rustdl builds no such graphs itself."""
        graph, run_metadata = graph_profile
        wall = time.time() if walltime is None else float(walltime)
        graph_bytes = _encoded(graph, "add_graph", "GraphDef")
        self.add_event(_proto.f_double(1, wall) + _proto.f_bytes(4, graph_bytes, always=True))
        tagged = _proto.f_bytes(1, "step1") + _proto.f_bytes(
            2, _encoded(run_metadata, "add_graph", "RunMetadata"), always=True
        )
        self.add_event(_proto.f_double(1, wall) + _proto.f_bytes(8, tagged, always=True))

    def add_onnx_graph(self, graph: Any, walltime: float | None = None) -> None:
        """Queues a ``GraphDef`` (a protobuf message or its encoding) as ``Event.graph_def``."""
        wall = time.time() if walltime is None else float(walltime)
        self.add_event(
            _proto.f_double(1, wall)
            + _proto.f_bytes(4, _encoded(graph, "add_onnx_graph", "GraphDef"), always=True)
        )

    def reopen(self) -> None:
        """After ``close()``, opens a new event file in the same folder; else does nothing."""
        with self._lock:
            closed = self._closed
        if closed:
            self._open()

    def flush(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._queue:
                self._file.write(b"".join(self._queue))
                self._queue.clear()
            self._file.flush()

    def close(self) -> None:
        self.flush()
        self._stop.set()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._file.close()
        _open_writers.discard(self)


def _encoded(message: Any, method: str, kind: str) -> bytes:
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    serialize = getattr(message, "SerializeToString", None)
    if callable(serialize):
        return serialize()
    raise TypeError(
        f"FileWriter.{method}: expected an encoded {kind} (bytes) or a protobuf {kind} message, "
        f"got {type(message).__name__}"
    )


def _pbtxt(text: str) -> str:
    """``text`` as the inside of a protobuf text-format string (quotes and backslashes escaped)."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _step(global_step: Any) -> int:
    if global_step is None:
        return 0
    if hasattr(global_step, "item"):
        global_step = global_step.item()
    step = int(global_step)
    if not -(2**63) <= step < 2**63:  # an int64 field (PyTorch's protobuf refuses it too)
        raise ValueError(f"SummaryWriter: global_step {step} is out of the int64 range")
    return step


_graph_warned = False


class SummaryWriter:
    """Writes TensorBoard event files in ``log_dir``, as ``torch.utils.tensorboard.SummaryWriter``.

    Args:
        log_dir: the folder (default ``runs/<Mon><DD>_<HH-MM-SS>_<host><comment>``).
        comment: appended to the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step: writes a ``SessionLog START`` at this step, so TensorBoard drops the events
            of a crashed earlier run from this step on.
        max_queue: events kept in memory before a write; flush_secs: seconds between writes.
        filename_suffix: appended to every event file's name.

    Example:
        >>> with SummaryWriter("runs/exp1") as w:
        ...     for step in range(100):
        ...         w.add_scalar("loss", 1.0 / (step + 1), step)
    """

    def __init__(
        self,
        log_dir: str | os.PathLike | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: int = 120,
        filename_suffix: str = "",
    ):
        if log_dir is None:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", stamp + "_" + socket.gethostname() + comment)
        self.log_dir = os.fspath(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer: FileWriter | None = None
        self.all_writers: dict[str, FileWriter] = {}
        self._get_file_writer()

    # ---------- writers ----------

    def _get_file_writer(self) -> FileWriter:
        """The main event file, (re)opened on first use and after ``close()``."""
        if self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.log_dir: self.file_writer}
            if self.purge_step is not None:
                step = int(self.purge_step)
                self.file_writer.add_event(_proto.event(time.time(), step, file_version="brain.Event:2"))
                self.file_writer.add_event(_proto.event(time.time(), step, session_start=True))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self) -> str:
        """The folder the event files go to."""
        return self.log_dir

    def _add(self, value: bytes, global_step: Any, walltime: Any, writer: FileWriter | None = None) -> None:
        """Writes one encoded ``Summary.Value`` as a summary."""
        (writer or self._get_file_writer()).add_summary(_proto.summary([value]), global_step, walltime)

    # ---------- scalars ----------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Logs one number. ``scalar_value``: int, float, numpy scalar or one-element tensor.
        ``new_style=True`` writes the scalars plugin's tensor form instead of ``simple_value``
        (a float64 one with ``double_precision=True``)."""
        value = summary.scalar_value(tag, scalar_value, new_style, double_precision, "add_scalar")
        self._add(value, global_step, walltime)

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: dict,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Logs several numbers on one chart: each key ``k`` goes to its own run folder
        ``<log_dir>/<main_tag>_<k>`` under the tag ``main_tag`` (TensorBoard's layout)."""
        main_tag = _check_tag(main_tag, "add_scalars")
        if not isinstance(tag_scalar_dict, dict):
            raise TypeError(
                f"SummaryWriter.add_scalars: tag_scalar_dict must be a dict, got {type(tag_scalar_dict).__name__}"
            )
        walltime = time.time() if walltime is None else walltime
        numbers_ = {
            k: _number(v, "add_scalars", f"tag_scalar_dict[{k!r}]") for k, v in tag_scalar_dict.items()
        }
        self._get_file_writer()
        for key, x in numbers_.items():
            sub = os.path.join(self.log_dir, main_tag.replace("/", "_") + "_" + str(key))
            writer = self.all_writers.get(sub)
            if writer is None:
                writer = FileWriter(sub, self.max_queue, self.flush_secs, self.filename_suffix)
                self.all_writers[sub] = writer
            self._add(_proto.value_simple(main_tag, x), global_step, walltime, writer)

    # ---------- precision-recall curves ----------

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: int | None = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Logs a precision-recall curve: ``labels`` the true 0/1 labels, ``predictions`` the
        probabilities in ``[0, 1]`` (same size), evaluated at ``num_thresholds`` evenly spaced
        thresholds, at most 127 as in PyTorch (TensorBoard's PR-curves plugin)."""
        value = summary.pr_curve_value(tag, labels, predictions, num_thresholds, weights, "add_pr_curve")
        self._add(value, global_step, walltime)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: int | None = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Logs a precision-recall curve already counted: six equal-length sequences (one entry
        per threshold). ``weights`` is ignored, as in PyTorch."""
        value = summary.pr_curve_raw_value(
            tag,
            true_positive_counts,
            false_positive_counts,
            true_negative_counts,
            false_negative_counts,
            precision,
            recall,
            num_thresholds,
            "add_pr_curve_raw",
        )
        self._add(value, global_step, walltime)

    # ---------- histograms ----------

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: int | None = None,
        bins: Any = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Logs the distribution of ``values`` (any shape). ``bins``: ``"tensorflow"`` (TensorFlow's
        exponential edges) or anything ``numpy.histogram`` takes (``"auto"``, ``"fd"``, a count,
        edges)."""
        tag = _check_tag(tag, "add_histogram")
        histo = summary.histogram_proto(values, bins, max_bins, "add_histogram")
        self._add(_proto.value_histo(tag, histo), global_step, walltime)

    def add_histogram_raw(
        self,
        tag: str,
        min: float,
        max: float,
        num: float,
        sum: float,
        sum_squares: float,  # noqa: A002
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Logs a histogram already counted: ``bucket_counts[i]`` values up to ``bucket_limits[i]``."""
        value = summary.histogram_raw_value(
            tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts, "add_histogram_raw"
        )
        self._add(value, global_step, walltime)

    # ---------- images ----------

    def _add_hwc(self, tag: str, hwc: np.ndarray, global_step: Any, walltime: Any) -> None:
        img = _image.to_uint8(hwc)
        h, w, c = img.shape
        self._add(_proto.value_image(tag, h, w, c, _image.encode_png(img)), global_step, walltime)

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "CHW",
    ) -> None:
        """Logs one image: floats in [0, 1] or integers in 0..255 (``uint8``), laid out as
        ``dataformats`` (``CHW``, ``HWC``, ``HW``, ``WH``), with 1, 3 or 4 channels; stored as PNG."""
        tag = _check_tag(tag, "add_image")
        arr = _image.to_numpy(img_tensor, "add_image")
        self._add_hwc(tag, _image.to_hwc(arr, dataformats, "add_image"), global_step, walltime)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Logs a batch of images (``NCHW``, ``NHWC``, ``NHW``) as one grid, 8 per row."""
        tag = _check_tag(tag, "add_images")
        arr = _image.to_numpy(img_tensor, "add_images")
        if "N" not in dataformats.upper():
            raise ValueError(
                f"SummaryWriter.add_images: dataformats must have an N axis, got {dataformats!r}"
            )
        self._add_hwc(tag, _image.grid(arr, dataformats, "add_images"), global_step, walltime)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        rescale: float = 1,
        dataformats: str = "CHW",
        labels: Any = None,
    ) -> None:
        """Logs one image (as ``add_image``) with boxes drawn on it in red: ``box_tensor`` is
        ``(N, 4)``, each row ``xmin, ymin, xmax, ymax`` in pixels; ``labels`` (a str or N strings;
        ignored when their count differs from N, as in PyTorch) are written at the boxes'
        bottom-left corners; ``rescale`` resizes the image. Needs Pillow (PIL)."""
        boxes = _image.to_numpy(box_tensor, "add_image_with_boxes")
        if labels is not None:
            if isinstance(labels, str):
                labels = [labels]
            if len(labels) != (boxes.size // 4 if boxes.size % 4 == 0 else -1):
                labels = None
        value = summary.image_value(
            tag, img_tensor, dataformats, "add_image_with_boxes", rescale, boxes, labels
        )
        self._add(value, global_step, walltime)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: int | None = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Logs a matplotlib figure (or a list of them, as a grid) rendered to RGBA."""
        tag = _check_tag(tag, "add_figure")
        figures = list(figure) if isinstance(figure, (list, tuple)) else [figure]
        images = []
        for fig in figures:
            try:
                from matplotlib.backends.backend_agg import FigureCanvasAgg
            except ImportError as e:
                raise ImportError("SummaryWriter.add_figure needs matplotlib") from e
            canvas = FigureCanvasAgg(fig)
            canvas.draw()
            images.append(np.asarray(canvas.buffer_rgba()).copy())
            if close:
                import matplotlib.pyplot as plt

                plt.close(fig)
        if isinstance(figure, (list, tuple)):
            self._add_hwc(tag, _image.grid(np.stack(images), "NHWC", "add_figure"), global_step, walltime)
        else:
            self._add_hwc(tag, images[0], global_step, walltime)

    # ---------- video and audio ----------

    def add_video(
        self,
        tag: str,
        vid_tensor: Any,
        global_step: int | None = None,
        fps: float = 4,
        walltime: float | None = None,
    ) -> None:
        """Logs videos ``(N, T, C, H, W)`` (floats in [0, 1] or uint8 0..255; C = 1, 3 or 4) as one
        animated GIF: at each of the T steps the N frames tiled into a grid (N padded to a power
        of two; ``2**((N.bit_length() - 1) // 2)`` rows), ``fps`` frames a second. Encoded with
        Pillow; without it, warns and writes nothing (PyTorch does the same without moviepy)."""
        tag = _check_tag(tag, "add_video")
        frames = summary.video_frames(vid_tensor, "add_video")
        image = summary.make_video(frames, fps)
        if image is not None:
            self._add(_proto.value_image_proto(tag, image), global_step, walltime)

    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        global_step: int | None = None,
        sample_rate: int = 44100,
        walltime: float | None = None,
    ) -> None:
        """Logs mono sound: ``snd_tensor`` ``(L,)`` or ``(1, L)``, values in [-1, 1] (clipped, with
        a warning), stored as a 16-bit PCM WAV at ``sample_rate`` Hz."""
        self._add(summary.audio_value(tag, snd_tensor, sample_rate, "add_audio"), global_step, walltime)

    # ---------- tensors, custom scalars, meshes ----------

    def add_tensor(
        self, tag: str, tensor: Any, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Logs a whole tensor (any shape; float, int, bool or complex) as a ``TensorProto``
        under the ``tensor`` plugin."""
        self._add(summary.tensor_value(tag, tensor, "add_tensor"), global_step, walltime)

    def add_custom_scalars(self, layout: dict) -> None:
        """Lays out charts of scalars for the Custom Scalars tab: ``layout`` is ``{category:
        {chart title: ["Multiline", [tags]] or ["Margin", [value, lower, upper]]}}``, the tags
        being ones given to ``add_scalar``. Written once, under ``custom_scalars__config__``."""
        self._add(summary.custom_scalars_value(layout, "add_custom_scalars"), None, None)

    def add_custom_scalars_multilinechart(
        self, tags: list, category: str = "default", title: str = "untitled"
    ) -> None:
        """``add_custom_scalars`` with one multiline chart of ``tags``."""
        layout = {category: {title: ["Multiline", list(tags)]}}
        self._add(summary.custom_scalars_value(layout, "add_custom_scalars_multilinechart"), None, None)

    def add_custom_scalars_marginchart(
        self, tags: list, category: str = "default", title: str = "untitled"
    ) -> None:
        """``add_custom_scalars`` with one margin chart: ``tags`` is ``[value, lower, upper]``."""
        tags = list(tags)
        if len(tags) != 3:
            raise ValueError(
                f"SummaryWriter.add_custom_scalars_marginchart: expected 3 tags (value, lower, upper), got {len(tags)}"
            )
        layout = {category: {title: ["Margin", tags]}}
        self._add(summary.custom_scalars_value(layout, "add_custom_scalars_marginchart"), None, None)

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: dict | None = None,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Logs a mesh or point cloud for the Mesh tab: ``vertices`` ``(B, N, 3)`` coordinates,
        ``colors`` ``(B, N, 3)`` (0..255), ``faces`` ``(B, F, 3)`` vertex indices, as float
        tensors tagged ``<tag>_VERTEX``, ``<tag>_FACE``, ``<tag>_COLOR``; ``config_dict`` holds
        three.js settings (camera, lights, material), stored as JSON."""
        values = summary.mesh_values(tag, vertices, colors, faces, config_dict, None, None, "add_mesh")
        self._get_file_writer().add_summary(_proto.summary(values), global_step, walltime)

    # ---------- text, hyperparameters, graph ----------

    def add_text(
        self, tag: str, text_string: str, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Logs a (markdown) string for TensorBoard's text tab, under the tag ``<tag>/text_summary``."""
        self._add(summary.text_value(tag, text_string, "add_text"), global_step, walltime)

    def add_hparams(
        self,
        hparam_dict: dict,
        metric_dict: dict,
        hparam_domain_discrete: dict | None = None,
        run_name: str | None = None,
        global_step: int | None = None,
    ) -> None:
        """Logs one trial for TensorBoard's HParams tab: in a sub-run ``<log_dir>/<run_name>``
        (default: the time), the three summaries of :func:`summary.hparams` (experiment, session
        start with the hyperparameters, session end), then each metric as a scalar. Values: int,
        float, str, bool, None (skipped) or a 1-element tensor."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("SummaryWriter.add_hparams: hparam_dict and metric_dict must be dicts")
        metrics = {k: _number(v, "add_hparams", f"metric_dict[{k!r}]") for k, v in metric_dict.items()}
        now = time.time()
        exp, ssi, sei = summary.hparams_values(
            hparam_dict, metric_dict, hparam_domain_discrete, "add_hparams", start_time=now
        )
        run_dir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(now))
        with SummaryWriter(log_dir=run_dir, max_queue=self.max_queue, flush_secs=0) as w:
            for value in (exp, ssi, sei):
                w.file_writer.add_summary(_proto.summary([value]), global_step, now)
            for k, x in metrics.items():
                w.add_scalar(k, x, global_step)

    def add_graph(
        self, model: Any, input_to_model: Any = None, verbose: bool = False, use_strict_trace: bool = True
    ) -> None:
        """Accepted for compatibility; rustdl cannot trace a model into a TensorBoard graph, so
        nothing is written (warns once)."""
        global _graph_warned
        if not _graph_warned:
            _graph_warned = True
            warnings.warn(
                "SummaryWriter.add_graph: rustdl does not trace models into TensorBoard graphs; "
                "nothing is written",
                stacklevel=2,
            )

    def add_onnx_graph(self, prototxt: Any) -> None:
        """Not supported: PyTorch reads an ONNX file with the ``onnx`` package and converts it to
        a TensorBoard graph; rustdl cannot. Raises ``NotImplementedError``."""
        raise NotImplementedError(
            "SummaryWriter.add_onnx_graph: rustdl cannot convert ONNX models into TensorBoard graphs "
            "(PyTorch does it with the onnx package); nothing is written"
        )

    # ---------- embeddings ----------

    def add_embedding(
        self,
        mat: Any,
        metadata: list | None = None,
        label_img: Any = None,
        global_step: int | None = None,
        tag: str = "default",
        metadata_header: list | None = None,
    ) -> None:
        """Writes the projector's files: ``<log_dir>/<step:05d>/<tag>/tensors.tsv`` (one row per
        point), ``metadata.tsv`` (labels; with ``metadata_header``, one column per header),
        ``sprite.png`` from ``label_img`` (NCHW), and an entry in ``projector_config.pbtxt``."""
        arr = _image.to_numpy(mat, "add_embedding").astype(np.float64)
        if arr.ndim != 2:
            raise ValueError(
                f"SummaryWriter.add_embedding: mat must be 2-D (N, D), got shape {tuple(arr.shape)}"
            )
        n = arr.shape[0]
        step = _step(global_step)
        safe_tag = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(tag))
        sub = os.path.join(f"{step:05d}", safe_tag)
        folder = os.path.join(self._get_file_writer().get_logdir(), sub)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "tensors.tsv"), "w", encoding="utf-8") as f:
            for row in arr:
                f.write("\t".join(repr(float(x)) for x in row) + "\n")
        config = f'embeddings {{\n  tensor_name: "{_pbtxt(tag)}:{step:05d}"\n  tensor_path: "{_pbtxt(sub)}/tensors.tsv"\n'
        if metadata is not None:
            metadata = list(metadata)
            if len(metadata) != n:
                raise ValueError(f"SummaryWriter.add_embedding: {len(metadata)} metadata rows for {n} points")
            with open(os.path.join(folder, "metadata.tsv"), "w", encoding="utf-8") as f:
                if metadata_header is not None:
                    f.write("\t".join(str(h) for h in metadata_header) + "\n")
                    for row in metadata:
                        f.write("\t".join(str(x) for x in row) + "\n")
                else:
                    for x in metadata:
                        f.write(str(x) + "\n")
            config += f'  metadata_path: "{sub}/metadata.tsv"\n'
        if label_img is not None:
            imgs = _image.to_numpy(label_img, "add_embedding")
            if imgs.ndim != 4 or imgs.shape[0] != n:
                raise ValueError(
                    f"SummaryWriter.add_embedding: label_img must be (N, C, H, W) with N={n}, got {tuple(imgs.shape)}"
                )
            side = math.ceil(math.sqrt(n))
            h, w = imgs.shape[2], imgs.shape[3]
            cells = [_image.to_hwc(im, "CHW", "add_embedding") for im in imgs]
            sprite = np.zeros((side * h, side * w, cells[0].shape[2]), dtype=cells[0].dtype)
            for i, im in enumerate(cells):
                r, c = divmod(i, side)
                sprite[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
            with open(os.path.join(folder, "sprite.png"), "wb") as f:
                f.write(_image.encode_png(_image.to_uint8(sprite)))
            config += f'  sprite {{\n    image_path: "{sub}/sprite.png"\n    single_image_dim: {w}\n    single_image_dim: {h}\n  }}\n'
        config += "}\n"
        with open(os.path.join(self.log_dir, "projector_config.pbtxt"), "a", encoding="utf-8") as f:
            f.write(config)

    # ---------- lifetime ----------

    def flush(self) -> None:
        """Writes every queued event to disk."""
        for w in list(self.all_writers.values()):
            w.flush()

    def close(self) -> None:
        """Flushes and closes every event file; a later ``add_*`` opens a new one."""
        for w in list(self.all_writers.values()):
            w.close()
        self.all_writers = {}
        self.file_writer = None

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _check_tag(tag: Any, method: str) -> str:
    return _check_tag_(tag, method)
