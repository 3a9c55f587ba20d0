"""Docker's attach stream of one exec: feed stdin, split stdout/stderr, cap what is kept.

``exec_start(socket=True)`` hands back the hijacked connection; without a TTY the daemon
multiplexes both output streams into frames (an 8-byte header: stream id, 3 zero bytes, a
big-endian 32-bit length). :func:`pump_exec` reads them under a deadline; :func:`bridge`
turns the connection into plain pipes for :mod:`lemur.envs.sandbox.interactive`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

HEADER = struct.Struct(">BxxxL")
STDOUT, STDERR = 1, 2
#: Bytes of standard error kept past the cap, so the supervisor's closing status line is found.
TAIL_BYTES = 4096


def raw_socket(sock: Any) -> Any:
    """The socket under docker-py's wrapper, with Nagle off on TCP (small frames go out at once)."""
    raw = getattr(sock, "_sock", sock)
    if getattr(raw, "family", None) in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return raw


def feed(sock: Any, data: bytes) -> threading.Thread:
    """Write ``data`` to the exec's stdin from a thread, then close stdin (half-close)."""

    def write() -> None:
        with contextlib.suppress(OSError):
            if data:
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=write, name="lemur-docker-stdin", daemon=True)
    thread.start()
    return thread


class FrameReader:
    """Incremental parser of the multiplexed stream: ``feed(bytes)`` yields ``(stream, payload)``."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Append ``data`` and return every complete frame it finished."""
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER.size:
            stream, size = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + size:
                break
            frames.append((stream, bytes(self.buffer[HEADER.size : HEADER.size + size])))
            del self.buffer[: HEADER.size + size]
        return frames


@dataclasses.dataclass
class Pumped:
    """What one exec printed.

    Attributes:
        stdout: The first ``limit`` bytes of standard output.
        stderr: The first ``limit + TAIL_BYTES`` bytes of standard error.
        stderr_tail: The last ``TAIL_BYTES`` bytes of standard error.
        stdout_total: Bytes of standard output seen.
        stderr_total: Bytes of standard error seen.
        flooded: Output passed the flood threshold (``on_flood`` was called once).
        deadline_hit: The deadline passed before the stream closed.
    """

    stdout: bytes = b""
    stderr: bytes = b""
    stderr_tail: bytes = b""
    stdout_total: int = 0
    stderr_total: int = 0
    flooded: bool = False
    deadline_hit: bool = False


def pump_exec(
    sock: Any,
    stdin: bytes,
    deadline: float,
    limit: int | None,
    flood_at: int | None = None,
    on_flood: Callable[[], None] | None = None,
) -> Pumped:
    """Feed ``stdin`` and read the exec's output until the stream closes or ``deadline`` passes.

    Args:
        sock: The object ``exec_start(socket=True)`` returned; closed here.
        stdin: Bytes for the command's standard input (closed after them).
        deadline: ``time.monotonic()`` value at which to stop reading (seconds).
        limit: Bytes of each stream kept (``None``: everything); the rest is read and dropped.
        flood_at: Total output bytes after which ``on_flood`` is called (once, in a thread),
            e.g. to kill the command; reading goes on until the stream closes.
        on_flood: See ``flood_at``.

    Returns:
        The kept output and what stopped the read.
    """
    raw = raw_socket(sock)
    feed(raw, stdin)
    frames = FrameReader()
    out, err, tail = bytearray(), bytearray(), bytearray()
    result = Pumped()
    err_cap = None if limit is None else limit + TAIL_BYTES
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result.deadline_hit = True
                break
            ready, _, _ = select.select([raw], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = raw.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                break
            if not chunk:
                break
            for stream, payload in frames.feed(chunk):
                if stream == STDERR:
                    result.stderr_total += len(payload)
                    _keep(err, payload, err_cap)
                    tail += payload
                    del tail[:-TAIL_BYTES]
                else:
                    result.stdout_total += len(payload)
                    _keep(out, payload, limit)
            if flood_at is not None and not result.flooded and result.stdout_total + result.stderr_total > flood_at:
                result.flooded = True
                if on_flood is not None:
                    # Keep draining meanwhile: the daemon stalls other execs while this stream is full.
                    threading.Thread(target=on_flood, name="lemur-docker-flood", daemon=True).start()
    finally:
        with contextlib.suppress(OSError):
            raw.close()
        with contextlib.suppress(OSError, AttributeError):
            sock.close()
    result.stdout, result.stderr, result.stderr_tail = bytes(out), bytes(err), bytes(tail)
    return result


def _keep(kept: bytearray, data: bytes, cap: int | None) -> None:
    if cap is None:
        kept += data
    elif len(kept) < cap:
        kept += data[: cap - len(kept)]


@dataclasses.dataclass
class Bridge:
    """Plain pipes joined to an exec's attach stream (for interactive interpreters).

    Attributes:
        stdin: Write end: bytes written here reach the process's standard input.
        stdout: Read end of its standard output (after the first line, the pid, was taken).
        stderr: Read end of its standard error.
        pid: The process's pid inside the container, read from its first stdout line.
    """

    stdin: int
    stdout: int
    stderr: int
    pid: int


def bridge(sock: Any, boot_seconds: float) -> Bridge:
    """Join ``sock`` to three pipes with two threads; the process must print its pid first.

    Raises:
        TimeoutError: The pid line did not arrive within ``boot_seconds``.
    """
    raw = raw_socket(sock)
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pid_box: list[int] = []
    got_pid = threading.Event()

    def to_container() -> None:
        with contextlib.suppress(OSError):
            while True:
                data = os.read(in_read, 1 << 16)
                if not data:
                    break
                raw.sendall(data)
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)
        os.close(in_read)

    def from_container() -> None:
        frames = FrameReader()
        first_line = bytearray()
        try:
            while True:
                chunk = raw.recv(1 << 16)
                if not chunk:
                    break
                for stream, payload in frames.feed(chunk):
                    if stream == STDOUT and not got_pid.is_set():
                        first_line += payload
                        if b"\n" not in first_line:
                            continue
                        line, _, payload = bytes(first_line).partition(b"\n")
                        pid_box.append(int(line))
                        got_pid.set()
                    _write_all(out_write if stream == STDOUT else err_write, payload)
        except (OSError, ValueError):
            pass
        finally:
            got_pid.set()
            for fd in (out_write, err_write):
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(OSError):
                raw.close()

    threading.Thread(target=to_container, name="lemur-docker-bridge-in", daemon=True).start()
    threading.Thread(target=from_container, name="lemur-docker-bridge-out", daemon=True).start()
    if not got_pid.wait(boot_seconds) or not pid_box:
        for fd in (in_write, out_read, err_read):
            with contextlib.suppress(OSError):
                os.close(fd)
        raise TimeoutError("the interpreter did not report its pid")
    return Bridge(stdin=in_write, stdout=out_read, stderr=err_read, pid=pid_box[0])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
