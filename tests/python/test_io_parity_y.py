"""Checkpoint behaviour found by differential tests against PyTorch's save/load: a save writes
through symlinks and keeps the file's mode, refuses a read-only file, takes PyTorch's keyword
arguments; dtypes, devices and allowed namedtuples come back as themselves."""

import collections
import io
import os
import stat
import zipfile

import numpy as np
import pytest
import rustdl
from rustdl import _torch_format
from rustdl.serialization import safe_globals

Pair = collections.namedtuple("Pair", ["a", "b"])


def test_save_writes_through_a_symlink_and_keeps_the_mode(tmp_path):
    target, link = tmp_path / "target.pt", tmp_path / "link.pt"
    target.write_bytes(b"old")
    os.chmod(target, 0o664)
    os.symlink("target.pt", link)
    for save in (rustdl.save, _torch_format.save):
        save({"w": rustdl.ones(2)}, str(link))
        assert os.path.islink(link)  # the link stays a link; its target has the data
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o664
        np.testing.assert_array_equal(rustdl.load(str(target))["w"].numpy(), [1.0, 1.0])
    # a new file gets the umask's mode, as any file the process creates
    old = os.umask(0o022)
    try:
        _torch_format.save({"w": rustdl.ones(1)}, str(tmp_path / "new.pt"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.pt").st_mode) == 0o644


def test_save_to_a_read_only_file_acts_as_opening_it_would(tmp_path):
    path = tmp_path / "ro.pt"
    rustdl.save({"w": rustdl.zeros(2)}, str(path))
    os.chmod(path, 0o444)
    if os.access(path, os.W_OK):  # root may write it: the save goes through, as PyTorch's
        rustdl.save({"w": rustdl.ones(2)}, str(path))
        np.testing.assert_array_equal(rustdl.load(str(path))["w"].numpy(), [1.0, 1.0])
        return
    with pytest.raises(OSError, match="Permission denied"):
        rustdl.save({"w": rustdl.ones(2)}, str(path))
    np.testing.assert_array_equal(rustdl.load(str(path))["w"].numpy(), [0.0, 0.0])


def test_torch_save_takes_pytorchs_keyword_arguments():
    buf = io.BytesIO()
    _torch_format.save({"x": 1}, buf, pickle_protocol=4, _use_new_zipfile_serialization=False)
    buf.seek(0)
    assert rustdl.load(buf) == {"x": 1}


def _torch_zip(pickled: bytes) -> io.BytesIO:
    # a minimal PyTorch checkpoint holding `pickled` as its data.pkl (no tensors)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickled)
        z.writestr("archive/byteorder", b"little")
        z.writestr("archive/version", b"3\n")
    buf.seek(0)
    return buf


def test_dtypes_devices_and_allowed_namedtuples_load_as_themselves():
    # what PyTorch writes for {"dt": torch.int64, "dev": torch.device("cpu"), "p": Pair(...)}:
    # GLOBAL torch.int64 (a dtype reduces to its name), torch.device called with "cpu", and the
    # namedtuple's class called with its fields
    body = (
        b"\x80\x02}q\x00(X\x02\x00\x00\x00dtq\x01ctorch\nint64\nq\x02"
        b"X\x03\x00\x00\x00devq\x03ctorch\ndevice\nq\x04X\x03\x00\x00\x00cpuq\x05\x85q\x06Rq\x07"
        b"X\x01\x00\x00\x00pq\x08c" + __name__.encode() + b"\nPair\nq\tK\x01K\x02\x86q\nRq\x0bu."
    )
    with safe_globals([Pair]):
        got = rustdl.load(_torch_zip(body))
    assert got["dt"] == rustdl.int64
    assert isinstance(got["dev"], rustdl.device) and got["dev"].type == "cpu"
    assert type(got["p"]) is Pair and got["p"] == Pair(1, 2)
    # rustdl's own format: a dtype saved under the torch facade's name loads back
    buf = io.BytesIO()
    rustdl.save({"dt": rustdl.float32, "dev": rustdl.device("cpu")}, buf)
    buf.seek(0)
    back = rustdl.load(buf)
    assert back["dt"] == rustdl.float32 and back["dev"].type == "cpu"
