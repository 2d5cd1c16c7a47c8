"""Checkpoint writes under stress: killed writers, concurrent savers, and byte-level save/load.

Every file these tests make lives under ``tmp_path``; every child process is waited for.
"""

import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import numpy as np
import pytest
import rustdl
from rustdl import _rustdl

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pids, signals and flock are Unix")

NAME = "ck.safetensors"


def _temps(directory, name=NAME):
    """The temp files of saves to ``name`` in ``directory``: ``{pid: [file names]}``."""
    pat = re.compile(r"^\." + re.escape(name) + r"\.tmp-(\d+)-(\d+)-(\d+)-([0-9a-f]{16})$")
    out = {}
    for f in os.listdir(directory):
        m = pat.match(f)
        if m:
            out.setdefault(int(m.group(1)), []).append(f)
    return out


def _value_of(path):
    """The one value every element of the saved tensor ``w`` holds (the file is whole)."""
    sd = rustdl.load(path)
    w = sd["w"].numpy()
    assert w.shape == (sd["n"],)
    assert np.all(w == w[0]), "a torn checkpoint"
    assert sd["tag"] == float(w[0])
    return float(w[0])


def _sd(value, n=1000):
    return {"w": rustdl.full([n], float(value)), "n": n, "tag": float(value)}


def _dead_pid():
    """The pid of a process that has exited and been reaped."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_save_leaves_its_temp_and_the_next_save_removes_it(tmp_path):
    path = tmp_path / NAME
    rustdl.save(_sd(1.0), path)
    child = textwrap.dedent(
        f"""
        import rustdl
        rustdl.save({{"w": rustdl.full([2_000_000], 2.0), "n": 2_000_000, "tag": 2.0}}, {str(path)!r})
        """
    )
    env = dict(os.environ, RUSTDL_TEST_SLOW_SAVE="30")
    proc = subprocess.Popen([sys.executable, "-c", child], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            mine = _temps(tmp_path).get(proc.pid, [])
            if mine and (tmp_path / mine[0]).stat().st_size > 0:
                break  # half of the checkpoint is written; the writer now pauses
            assert proc.poll() is None, "the writer ended before it was killed"
            assert time.monotonic() < deadline, "the writer never started its temp file"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    left = _temps(tmp_path)
    assert list(left) == [proc.pid] and len(left[proc.pid]) == 1
    partial = tmp_path / left[proc.pid][0]
    assert 0 < partial.stat().st_size < 8_000_000
    assert _value_of(path) == 1.0  # the previous checkpoint is whole

    rustdl.save(_sd(3.0), path)
    assert sorted(os.listdir(tmp_path)) == [NAME]  # the temp and the lock file are gone
    assert _value_of(path) == 3.0


def test_only_dead_writers_temps_of_this_destination_are_removed(tmp_path):
    path = tmp_path / NAME
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        dead = _dead_pid()
        names = {
            "live": f".{NAME}.tmp-{live.pid}-1-7-0123456789abcdef",
            "dead": f".{NAME}.tmp-{dead}-3-9-fedcba9876543210",
            # this process's pid, but no save of it is writing that file: an earlier process
            # with the same pid (a restarted container) left it
            "own_stale": f".{NAME}.tmp-{os.getpid()}-1-999999-00000000000000aa",
            # not exactly the pattern for this destination: never touched
            "legacy": f".{NAME}.tmp-{dead}",
            "upper": f".{NAME}.tmp-{dead}-3-9-FEDCBA9876543210",
            "other": f".other.safetensors.tmp-{dead}-3-9-fedcba9876543210",
            "plain": f"{NAME}.tmp-{dead}-3-9-fedcba9876543210",
        }
        for n in names.values():
            (tmp_path / n).write_bytes(b"partial")
        rustdl.save(_sd(5.0), path)
        kept = set(os.listdir(tmp_path))
        assert names["live"] in kept
        assert names["dead"] not in kept
        assert names["own_stale"] not in kept
        for k in ("legacy", "upper", "other", "plain"):
            assert names[k] in kept, k
        assert kept == {NAME} | {names[k] for k in ("live", "legacy", "upper", "other", "plain")}
        assert _value_of(path) == 5.0
    finally:
        live.kill()
        live.wait()


def test_threads_saving_to_one_path_never_fail_or_tear(tmp_path):
    path = tmp_path / NAME
    rustdl.save(_sd(-1.0), path)
    saved = {-1.0}
    errors = []
    done = threading.Event()

    def writer(i):
        try:
            for j in range(10):
                v = 100.0 * i + j
                rustdl.save(_sd(v, n=20_000 + 1000 * i), path)
                saved.add(v)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    def reader():
        try:
            while not done.is_set():
                assert _value_of(path) in {-1.0} | {100.0 * i + j for i in range(4) for j in range(10)}
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    r.join()
    assert errors == []
    assert len(saved) == 41
    assert _value_of(path) in {100.0 * i + 9 for i in range(4)}  # some thread's last save won
    assert sorted(os.listdir(tmp_path)) == [NAME]


def test_processes_saving_to_one_path_never_fail_or_tear(tmp_path):
    path = tmp_path / NAME
    script = textwrap.dedent(
        """
        import sys
        import rustdl
        i, path = int(sys.argv[1]), sys.argv[2]
        for j in range(10):
            v = 100.0 * i + j
            n = 50_000 + 1000 * i
            rustdl.save({"w": rustdl.full([n], v), "n": n, "tag": v}, path)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, results):
        assert p.returncode == 0, err.decode()
    assert _value_of(path) in {9.0, 109.0}
    assert sorted(os.listdir(tmp_path)) == [NAME]


def test_bytes_round_trip_matches_path_saves(tmp_path, monkeypatch):
    sd = {
        "model": {"fc.weight": rustdl.randn(3, 4), "fc.bias": rustdl.arange(3)},
        "epoch": 7,
        "mask": rustdl.tensor([True, False]),
        "f64": rustdl.ones(2, dtype=rustdl.float64),
    }
    path = tmp_path / NAME
    rustdl.save(sd, path)

    # file objects go through memory: no temp file or directory anywhere
    def no_temp(*a, **k):
        raise AssertionError("a temp file was made for a file object")

    monkeypatch.setattr(tempfile, "mkdtemp", no_temp)
    monkeypatch.setattr(tempfile, "mkstemp", no_temp)
    buf = io.BytesIO()
    rustdl.save(sd, buf)
    assert buf.getvalue() == path.read_bytes()
    buf.seek(0)
    back = rustdl.load(buf)
    assert back["epoch"] == 7
    for k in ("fc.weight", "fc.bias"):
        np.testing.assert_array_equal(back["model"][k].numpy(), sd["model"][k].numpy())
        assert back["model"][k].dtype == sd["model"][k].dtype
    np.testing.assert_array_equal(back["mask"].numpy(), [True, False])
    assert back["f64"].dtype == rustdl.float64
    assert sorted(os.listdir(tmp_path)) == [NAME]


def test_extension_bytes_functions():
    t = {"a": rustdl.arange(6).reshape(2, 3), "b": rustdl.zeros(0)}
    data = _rustdl.save_bytes(t, {"k": "v"})
    assert isinstance(data, bytes)
    tensors, meta = _rustdl.load_bytes(data)
    assert meta == {"k": "v"}
    np.testing.assert_array_equal(tensors["a"].numpy(), [[0, 1, 2], [3, 4, 5]])
    assert tensors["b"].shape == (0,)
    tensors, meta = _rustdl.load_bytes(_rustdl.save_bytes(t), "cpu")
    assert meta == {} and tensors["a"].device.type == "cpu"
    with pytest.raises(ValueError):
        _rustdl.load_bytes(data[:20])
    with pytest.raises(ValueError):
        _rustdl.load_bytes(b"")
    with pytest.raises(TypeError):
        _rustdl.save_bytes({"a": 1})
    with pytest.raises(TypeError):
        _rustdl.load_bytes("not bytes")


def test_a_save_waits_for_the_writer_holding_the_lock(tmp_path):
    """A writer paused mid-save holds the path's lock: a second save waits for it, then wins."""
    path = tmp_path / NAME
    child = (
        f"import rustdl; rustdl.save({{'w': rustdl.full([1000], 1.0), 'n': 1000, 'tag': 1.0}}, {str(path)!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", child], env=dict(os.environ, RUSTDL_TEST_SLOW_SAVE="2"))
    try:
        deadline = time.monotonic() + 60
        while not (_temps(tmp_path).get(proc.pid) and os.path.exists(tmp_path / f".{NAME}.lock")):
            assert proc.poll() is None and time.monotonic() < deadline, "the writer never started"
            time.sleep(0.02)
        t0 = time.monotonic()
        rustdl.save(_sd(2.0), path)
        waited = time.monotonic() - t0
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
    assert waited > 0.5  # blocked on the lock until the paused writer finished
    assert _value_of(path) == 2.0  # the save that took the lock last wins
    assert sorted(os.listdir(tmp_path)) == [NAME]
