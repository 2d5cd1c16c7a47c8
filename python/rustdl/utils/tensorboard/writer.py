"""``SummaryWriter``: logs scalars, histograms, images, text, hyperparameters and embeddings as
TensorBoard event files (``events.out.tfevents.<time>.<host>.<pid>.<n><suffix>``)."""

from __future__ import annotations

import atexit
import math
import numbers
import os
import socket
import threading
import time
import warnings
import weakref
from datetime import datetime
from typing import Any

import numpy as np

from . import _image, _proto

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
        os.makedirs(self.log_dir, exist_ok=True)
        name = "events.out.tfevents.%010d.%s.%d.%d%s" % (  # noqa: UP031
            time.time(),
            socket.gethostname(),
            os.getpid(),
            _new_uid(),
            filename_suffix,
        )
        self.path = os.path.join(self.log_dir, name)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()
        self._queue: list[bytes] = []
        self._max_queue = max(1, int(max_queue))
        self._closed = False
        self._file.write(_proto.tfrecord(_proto.event(time.time(), file_version="brain.Event:2")))
        self._file.flush()
        self._stop = threading.Event()
        self._thread = None
        if flush_secs and flush_secs > 0:
            self._thread = threading.Thread(target=self._flush_loop, args=(float(flush_secs),), daemon=True)
            self._thread.start()
        _open_writers.add(self)

    def _flush_loop(self, secs: float) -> None:
        while not self._stop.wait(secs):
            self.flush()

    def get_logdir(self) -> str:
        return self.log_dir

    def add_event(self, event_bytes: bytes) -> None:
        """Queues one encoded ``Event`` message."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the event file {self.path} is closed")
            self._queue.append(_proto.tfrecord(event_bytes))
            full = len(self._queue) >= self._max_queue
        if full:
            self.flush()

    def add_summary(
        self, summary_bytes: bytes, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Queues an ``Event`` holding an encoded ``Summary``."""
        self.add_event(
            _proto.event(
                time.time() if walltime is None else float(walltime),
                _step(global_step),
                summary=summary_bytes,
            )
        )

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


def _step(global_step: Any) -> int:
    if global_step is None:
        return 0
    if hasattr(global_step, "item"):
        global_step = global_step.item()
    return int(global_step)


def _number(value: Any, method: str, what: str = "scalar_value") -> float:
    """A Python number, a numpy scalar, or a one-element tensor/array as a float."""
    if isinstance(value, (bool, numbers.Real)) and not isinstance(value, np.ndarray):
        return float(value)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"SummaryWriter.{method}: {what} must be a number, got {type(value).__name__}")
    arr = _image.to_numpy(value, method)
    if arr.size != 1:
        raise ValueError(f"SummaryWriter.{method}: {what} must hold one value, got shape {tuple(arr.shape)}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"SummaryWriter.{method}: {what} must be real, got {arr.dtype}")
    return float(arr.reshape(()))


def _tensorflow_bins() -> np.ndarray:
    """TensorFlow's default histogram edges: ±1e-12 growing by 10% up to 1e20, and 0."""
    pos = []
    v = 1e-12
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    pos_arr = np.array(pos)
    return np.concatenate([-pos_arr[::-1], [0.0], pos_arr])


_TF_BINS = None


def _histogram_value(tag: str, values: Any, bins: Any, method: str, max_bins: int | None = None) -> bytes:
    global _TF_BINS
    arr = _image.to_numpy(values, method).astype(np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"SummaryWriter.{method}: the values are empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"SummaryWriter.{method}: the values hold NaN or infinity")
    if isinstance(bins, str) and bins == "tensorflow":
        if _TF_BINS is None:
            _TF_BINS = _tensorflow_bins()
        bins = _TF_BINS
    try:
        counts, edges = np.histogram(arr, bins=bins)
    except (ValueError, TypeError) as e:
        raise ValueError(f"SummaryWriter.{method}: bad bins {bins!r}: {e}") from e
    if max_bins is not None and len(counts) > max_bins:
        # merge neighbouring buckets so at most max_bins remain
        k = math.ceil(len(counts) / max_bins)
        pad = (-len(counts)) % k
        counts = np.concatenate([counts, np.zeros(pad, counts.dtype)]).reshape(-1, k).sum(1)
        edges = edges[::k] if pad == 0 else np.concatenate([edges[::k], edges[-1:]])
    nz = np.nonzero(counts)[0]
    first, last = int(nz[0]), int(nz[-1])
    # a zero bucket ending at the first bucket's left edge tells the viewer where it starts
    limits = edges[first : last + 2]
    bucket = np.concatenate([[0.0], counts[first : last + 1].astype(np.float64)])
    return _proto.value_histogram(
        tag,
        float(arr.min()),
        float(arr.max()),
        float(arr.size),
        float(arr.sum()),
        float(np.dot(arr, arr)),
        limits.tolist(),
        bucket.tolist(),
    )


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
        ``new_style=True`` writes the scalars plugin's tensor form instead of ``simple_value``."""
        x = _number(scalar_value, "add_scalar")
        tag = _check_tag(tag, "add_scalar")
        value = _proto.value_scalar_tensor(tag, x) if new_style else _proto.value_simple(tag, x)
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
        thresholds (TensorBoard's PR-curves plugin)."""
        tag = _check_tag(tag, "add_pr_curve")
        if not isinstance(num_thresholds, int) or isinstance(num_thresholds, bool) or num_thresholds < 2:
            raise ValueError(
                f"SummaryWriter.add_pr_curve: num_thresholds must be an int >= 2, got {num_thresholds!r}"
            )
        y = _image.to_numpy(labels, "add_pr_curve").astype(np.float64).ravel()
        p = _image.to_numpy(predictions, "add_pr_curve").astype(np.float64).ravel()
        if y.shape != p.shape:
            raise ValueError(
                f"SummaryWriter.add_pr_curve: labels ({y.size} values) and predictions ({p.size}) differ in size"
            )
        if p.size and (np.isnan(p).any() or p.min() < 0 or p.max() > 1):
            raise ValueError("SummaryWriter.add_pr_curve: predictions must lie in [0, 1]")
        w = (
            np.ones_like(p)
            if weights is None
            else np.broadcast_to(_image.to_numpy(weights, "add_pr_curve").astype(np.float64).ravel(), p.shape)
        )
        # each prediction counts at every threshold index at or below floor(p · (T − 1))
        bucket = np.floor(p * (num_thresholds - 1)).astype(np.int64)
        tp_at = np.bincount(bucket, weights=y * w, minlength=num_thresholds)
        fp_at = np.bincount(bucket, weights=(1.0 - y) * w, minlength=num_thresholds)
        tp = np.cumsum(tp_at[::-1])[::-1]
        fp = np.cumsum(fp_at[::-1])[::-1]
        tn, fn = fp[0] - fp, tp[0] - tp
        precision = tp / np.maximum(1e-7, tp + fp)
        recall = tp / np.maximum(1e-7, tp + fn)
        data = np.stack([tp, fp, tn, fn, precision, recall]).astype(np.float32).ravel()
        self._add(_proto.value_pr_curve(tag, data.tolist(), num_thresholds), global_step, walltime)

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
        self._add(_histogram_value(tag, values, bins, "add_histogram", max_bins), global_step, walltime)

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
        limits = [float(v) for v in np.asarray(bucket_limits).ravel()]
        counts = [float(v) for v in np.asarray(bucket_counts).ravel()]
        if len(limits) != len(counts):
            raise ValueError(
                "SummaryWriter.add_histogram_raw: bucket_limits and bucket_counts differ in length"
            )
        value = _proto.value_histogram(
            _check_tag(tag, "add_histogram_raw"),
            float(min),
            float(max),
            float(num),
            float(sum),
            float(sum_squares),
            limits,
            counts,
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

    # ---------- text, hyperparameters, graph ----------

    def add_text(
        self, tag: str, text_string: str, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Logs a (markdown) string for TensorBoard's text tab, under the tag ``<tag>/text_summary``."""
        tag = _check_tag(tag, "add_text")
        if not isinstance(text_string, str):
            raise TypeError(
                f"SummaryWriter.add_text: text_string must be a str, got {type(text_string).__name__}"
            )
        self._add(_proto.value_text(tag + "/text_summary", text_string), global_step, walltime)

    def add_hparams(
        self,
        hparam_dict: dict,
        metric_dict: dict,
        hparam_domain_discrete: dict | None = None,
        run_name: str | None = None,
        global_step: int | None = None,
    ) -> None:
        """Logs one trial for TensorBoard's HParams tab: in a sub-run ``<log_dir>/<run_name>``
        (default: the time), the experiment, session start (the hyperparameters) and session end
        summaries, and each metric as a scalar. Values: int, float, str, bool or a 1-element tensor."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("SummaryWriter.add_hparams: hparam_dict and metric_dict must be dicts")
        hparams: dict[str, float | str | bool] = {}
        infos = []
        for k, v in hparam_dict.items():
            if isinstance(v, bool):
                dtype = _proto.HP_BOOL
            elif isinstance(v, str):
                dtype = _proto.HP_STRING
            elif isinstance(v, numbers.Real) or hasattr(v, "numpy") or isinstance(v, np.ndarray):
                v, dtype = _number(v, "add_hparams", f"hparam_dict[{k!r}]"), _proto.HP_FLOAT64
            else:
                raise TypeError(
                    f"SummaryWriter.add_hparams: hparam_dict[{k!r}] must be int, float, str, bool or a "
                    f"tensor, got {type(v).__name__}"
                )
            hparams[k] = v
            domain = (hparam_domain_discrete or {}).get(k)
            if domain is None and dtype == _proto.HP_BOOL:
                domain = [True, False]
            infos.append((k, dtype, list(domain) if domain is not None else None))
        metrics = {k: _number(v, "add_hparams", f"metric_dict[{k!r}]") for k, v in metric_dict.items()}
        now = time.time()
        plugin = [
            ("_hparams_/experiment", _proto.hparams_experiment(infos, list(metrics))),
            ("_hparams_/session_start_info", _proto.hparams_session_start(hparams, now)),
            ("_hparams_/session_end_info", _proto.hparams_session_end(now)),
        ]
        run_dir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(now))
        with SummaryWriter(log_dir=run_dir, max_queue=self.max_queue, flush_secs=0) as w:
            for tag, content in plugin:
                w._add(_proto.value_plugin_only(tag, "hparams", content), global_step, now)
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
        config = f'embeddings {{\n  tensor_name: "{tag}:{step:05d}"\n  tensor_path: "{sub}/tensors.tsv"\n'
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
    if not isinstance(tag, str):
        raise TypeError(f"SummaryWriter.{method}: the tag must be a str, got {type(tag).__name__}")
    return tag
