"""Key-value stores, as ``torch.distributed``'s: ``HashStore`` (one process), ``FileStore``
(processes sharing a file), ``TCPStore`` (a server in the master process, clients anywhere) and
``PrefixStore``. Values are bytes; ``get`` and ``wait`` block until the keys exist or the store's
timeout passes (``DistStoreError``). rustdl's collectives run on MPI and need no store: these
serve programs and libraries that rendezvous or exchange small values through one."""

from __future__ import annotations

import base64
import json
import os
import pickle
import socket
import socketserver
import struct
import threading
import time
from datetime import timedelta
from typing import Any

__all__ = ["DistStoreError", "FileStore", "HashStore", "PrefixStore", "Store", "TCPStore"]

_DEFAULT_TIMEOUT = timedelta(seconds=300)


class DistStoreError(RuntimeError):
    """A store operation timed out or failed (as ``torch.distributed.DistStoreError``)."""


def _bytes(value: Any, op: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return bytes(value)
    raise TypeError(f"{op}: a store value must be str or bytes, got {type(value).__name__}")


def _key(key: Any, op: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"{op}: a store key must be a str, got {type(key).__name__}")
    return key


def _seconds(timeout: Any) -> float:
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    return float(timeout)


class Store:
    """The store interface: ``set``/``get``/``add``/``compare_set``/``wait``/``check``/
    ``delete_key``/``num_keys``/``append``/``multi_get``/``multi_set``, with a timeout."""

    def __init__(self, timeout: Any = _DEFAULT_TIMEOUT) -> None:
        self._timeout = timeout if isinstance(timeout, timedelta) else timedelta(seconds=float(timeout))

    @property
    def timeout(self) -> timedelta:
        return self._timeout

    def set_timeout(self, timeout: timedelta) -> None:
        self._timeout = timeout

    # the five primitives a concrete store implements over bytes
    def _set(self, key: str, value: bytes) -> None:
        raise NotImplementedError

    def _get(self, key: str) -> bytes | None:
        raise NotImplementedError

    def _update(self, key: str, fn: Any) -> Any:
        """Atomically: ``new, result = fn(old_or_None)``; stores ``new`` unless None."""
        raise NotImplementedError

    def _delete(self, key: str) -> bool:
        raise NotImplementedError

    def _count(self) -> int:
        raise NotImplementedError

    def set(self, key: str, value: Any) -> None:
        self._set(_key(key, "set"), _bytes(value, "set"))

    def get(self, key: str) -> bytes:
        key = _key(key, "get")
        self.wait([key])
        out = self._get(key)
        if out is None:
            raise DistStoreError(f"get: key {key!r} was deleted while waiting for it")
        return out

    def add(self, key: str, amount: int) -> int:
        return self._update(_key(key, "add"), _add_update(key, int(amount)))

    def append(self, key: str, value: Any) -> None:
        self._update(_key(key, "append"), _append_update(key, _bytes(value, "append")))

    def compare_set(self, key: str, expected_value: Any, desired_value: Any) -> bytes:
        expected, desired = _bytes(expected_value, "compare_set"), _bytes(desired_value, "compare_set")
        return self._update(_key(key, "compare_set"), _compare_set_update(key, expected, desired))

    def check(self, keys: list) -> bool:
        return all(self._get(_key(k, "check")) is not None for k in keys)

    def wait(self, keys: list, timeout: Any = None) -> None:
        limit = _seconds(self._timeout if timeout is None else timeout)
        deadline = time.monotonic() + limit
        pause = 0.001
        while not self.check(keys):
            if time.monotonic() >= deadline:
                raise DistStoreError(f"wait: timed out after {limit:g} s waiting for keys {list(keys)}")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def delete_key(self, key: str) -> bool:
        return self._delete(_key(key, "delete_key"))

    def num_keys(self) -> int:
        return self._count()

    def multi_get(self, keys: list) -> list:
        return [self.get(k) for k in keys]

    def multi_set(self, keys: list, values: list) -> None:
        if len(keys) != len(values):
            raise ValueError(f"multi_set: {len(keys)} keys for {len(values)} values")
        for k, v in zip(keys, values):
            self.set(k, v)


class HashStore(Store):
    """A store in this process's memory (threads share it)."""

    def __init__(self) -> None:
        super().__init__()
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _set(self, key: str, value: bytes) -> None:
        with self._lock:
            self._data[key] = value

    def _get(self, key: str) -> bytes | None:
        with self._lock:
            return self._data.get(key)

    def _update(self, key: str, fn: Any) -> Any:
        with self._lock:
            new, result = fn(self._data.get(key))
            if new is not None:
                self._data[key] = new
            return result

    def _delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None

    def _count(self) -> int:
        with self._lock:
            return len(self._data)


class PrefixStore(Store):
    """Another store's keys under ``prefix + "/"``."""

    def __init__(self, prefix: str, store: Store) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"PrefixStore: expected a Store, got {type(store).__name__}")
        super().__init__(store.timeout)
        self.prefix = prefix
        self.underlying_store = store

    def _k(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def _set(self, key: str, value: bytes) -> None:
        self.underlying_store._set(self._k(key), value)

    def _get(self, key: str) -> bytes | None:
        return self.underlying_store._get(self._k(key))

    def _update(self, key: str, fn: Any) -> Any:
        return self.underlying_store._update(self._k(key), fn)

    def _delete(self, key: str) -> bool:
        return self.underlying_store._delete(self._k(key))

    def _count(self) -> int:
        return self.underlying_store._count()


class FileStore(Store):
    """A store in a file that processes on one machine share (each operation locks it)."""

    def __init__(self, file_name: str, world_size: int = -1) -> None:
        super().__init__()
        self.path = os.fspath(file_name)
        self.world_size = world_size
        open(self.path, "ab").close()

    def _locked(self, fn: Any) -> Any:
        import fcntl

        with open(self.path, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                raw = f.read()
                data = pickle.loads(raw) if raw else {}
                if not isinstance(data, dict):
                    raise DistStoreError(f"FileStore: {self.path!r} does not hold a store")
                changed, result = fn(data)
                if changed:
                    f.seek(0)
                    f.truncate()
                    f.write(pickle.dumps(data))
                    f.flush()
                return result
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _set(self, key: str, value: bytes) -> None:
        self._locked(lambda d: (d.__setitem__(key, value), (True, None))[1])

    def _get(self, key: str) -> bytes | None:
        return self._locked(lambda d: (False, d.get(key)))

    def _update(self, key: str, fn: Any) -> Any:
        def go(d: dict) -> tuple[bool, Any]:
            new, result = fn(d.get(key))
            if new is not None:
                d[key] = new
            return new is not None, result

        return self._locked(go)

    def _delete(self, key: str) -> bool:
        return self._locked(lambda d: (key in d, d.pop(key, None) is not None))

    def _count(self) -> int:
        return self._locked(lambda d: (False, len(d)))


# ---- TCPStore: length-prefixed JSON messages (bytes as base64; nothing executable is read)


def _enc(v: Any) -> Any:
    if isinstance(v, bytes):
        return {"b": base64.b64encode(v).decode()}
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    return v


def _dec(v: Any) -> Any:
    if isinstance(v, dict) and set(v) == {"b"}:
        return base64.b64decode(v["b"])
    if isinstance(v, list):
        return [_dec(x) for x in v]
    return v


def _send(sock: socket.socket, obj: Any) -> None:
    raw = json.dumps(_enc(obj)).encode()
    sock.sendall(struct.pack("!Q", len(raw)) + raw)


def _recv(sock: socket.socket) -> Any:
    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            part = sock.recv(n - len(buf))
            if not part:
                raise ConnectionError("TCPStore: the connection closed")
            buf += part
        return buf

    (n,) = struct.unpack("!Q", exactly(8))
    if n > 1 << 31:
        raise ConnectionError(f"TCPStore: a message of {n} bytes is implausible")
    return _dec(json.loads(exactly(n)))


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        store: HashStore = self.server.store  # type: ignore[attr-defined]
        while True:
            try:
                op, key, arg = _recv(self.request)
            except (ConnectionError, OSError, EOFError):
                return
            try:
                if op == "set":
                    out: Any = store._set(key, arg)
                elif op == "get":
                    out = store._get(key)
                elif op == "delete":
                    out = store._delete(key)
                elif op == "count":
                    out = store._count()
                elif op == "update":  # arg: [kind, payload...], applied by the server
                    out = store._update(key, _UPDATES[arg[0]](key, *arg[1:]))
                else:
                    raise ValueError(f"unknown operation {op!r}")
                reply: Any = ("ok", out)
            except Exception as e:  # noqa: BLE001 - sent back to the client as its error
                reply = ("error", f"{type(e).__name__}: {e}")
            _send(self.request, reply)


def _add_update(key: str, amount: int) -> Any:
    """The update ``add`` makes: the integer value plus ``amount`` (missing: 0)."""

    def bump(old: bytes | None) -> tuple[bytes, int]:
        try:
            value = (int(old) if old is not None else 0) + int(amount)
        except ValueError:
            raise DistStoreError(f"add: the value of {key!r} is not an integer") from None
        return str(value).encode(), value

    return bump


def _append_update(key: str, extra: bytes) -> Any:
    return lambda old: ((old or b"") + extra, None)


def _compare_set_update(key: str, expected: bytes, desired: bytes) -> Any:
    def swap(old: bytes | None) -> tuple[bytes | None, bytes]:
        if (old is None and expected == b"") or old == expected:
            return desired, desired
        return None, (old if old is not None else expected)

    return swap


_UPDATES = {"add": _add_update, "append": _append_update, "compare_set": _compare_set_update}


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TCPStore(Store):
    """A store served over TCP by the master process (``is_master=True``; port 0 picks a free
    one, read back as ``.port``); other processes connect to ``host_name:port``."""

    def __init__(
        self,
        host_name: str,
        port: int,
        world_size: int | None = None,
        is_master: bool = False,
        timeout: timedelta = _DEFAULT_TIMEOUT,
        wait_for_workers: bool = True,
        multi_tenant: bool = False,
        master_listen_fd: int | None = None,
        use_libuv: bool | None = None,
    ) -> None:
        super().__init__(timeout)
        self.host = host_name
        self.world_size = world_size
        self._server: _Server | None = None
        if is_master:
            self._server = _Server((host_name, int(port)), _Handler)
            self._server.store = HashStore()  # type: ignore[attr-defined]
            threading.Thread(target=self._server.serve_forever, daemon=True).start()
            port = self._server.server_address[1]
        self.port = int(port)
        self._lock = threading.Lock()
        deadline = time.monotonic() + _seconds(timeout)
        while True:
            try:
                self._sock = socket.create_connection((host_name, self.port), timeout=_seconds(timeout))
                break
            except OSError as e:
                if time.monotonic() >= deadline:
                    raise DistStoreError(
                        f"TCPStore: could not connect to {host_name}:{self.port} ({e})"
                    ) from e
                time.sleep(0.05)
        self._sock.settimeout(None)

    def _call(self, op: str, key: str = "", arg: Any = None) -> Any:
        with self._lock:
            _send(self._sock, (op, key, arg))
            status, out = _recv(self._sock)
        if status != "ok":
            raise DistStoreError(f"TCPStore.{op}: {out}")
        return out

    def _set(self, key: str, value: bytes) -> None:
        self._call("set", key, value)

    def _get(self, key: str) -> bytes | None:
        return self._call("get", key)

    def _delete(self, key: str) -> bool:
        return self._call("delete", key)

    def _count(self) -> int:
        return self._call("count")

    def add(self, key: str, amount: int) -> int:
        return self._call("update", _key(key, "add"), ("add", int(amount)))

    def append(self, key: str, value: Any) -> None:
        self._call("update", _key(key, "append"), ("append", _bytes(value, "append")))

    def compare_set(self, key: str, expected_value: Any, desired_value: Any) -> bytes:
        args = ("compare_set", _bytes(expected_value, "compare_set"), _bytes(desired_value, "compare_set"))
        return self._call("update", _key(key, "compare_set"), args)

    def __del__(self) -> None:
        try:
            self._sock.close()
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
        except Exception:  # noqa: BLE001, S110 - best effort at interpreter exit
            pass
