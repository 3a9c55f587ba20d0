"""Backend-neutral helpers to run one command's pipes: capped output capture and limit naming.

Any backend whose command is "a process with stdin/stdout/stderr pipes" (a nested bubblewrap,
``docker exec -i``) can use :func:`pump` to feed stdin and collect output under a byte cap
and a deadline, and :func:`classify_limit` to say which limit ended a command.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import selectors
import signal
import time

from lemur.envs.sandbox.base import LimitHit

#: A command that keeps writing this many times its output limit is killed (``limit="output"``).
FLOOD_FACTOR = 4
#: ... but never before this many bytes, so tiny limits do not kill chatty commands at once.
FLOOD_MINIMUM = 4 * 1024 * 1024


@dataclasses.dataclass
class Pumped:
    """What :func:`pump` saw.

    Attributes:
        stdout: The first ``limit`` bytes of standard output.
        stderr: The first ``limit`` bytes of standard error.
        truncated: More output arrived than was kept.
        flooded: Output went past the flood threshold; the caller should kill the command.
        deadline_hit: The deadline passed before both streams closed.
        end: What the end pipe delivered (``b""`` if it closed empty), or ``None`` if it never spoke.
    """

    stdout: bytes = b""
    stderr: bytes = b""
    truncated: bool = False
    flooded: bool = False
    deadline_hit: bool = False
    end: bytes | None = None


def flood_threshold(limit: int) -> int:
    """Total output bytes (both streams) after which a command is killed for flooding."""
    return max(limit * FLOOD_FACTOR, limit + FLOOD_MINIMUM)


def pump(
    stdout_fd: int,
    stderr_fd: int,
    stdin_fd: int | None,
    stdin_data: bytes,
    deadline: float,
    limit: int,
    end_fd: int | None = None,
) -> Pumped:
    """Feed ``stdin_data`` and read both output pipes until they close, the deadline, or a flood.

    The caller owns the file descriptors and closes them afterwards; ``stdin_fd`` is closed here
    once all of ``stdin_data`` is written (or the reader went away). If ``end_fd`` is given, a
    line (or EOF) on it means the command has ended: what the output pipes already hold is read
    and the pump stops without waiting for them to close (leftover processes may hold them).

    Args:
        stdout_fd: Read end of the command's standard output.
        stderr_fd: Read end of its standard error.
        stdin_fd: Write end of its standard input, or ``None``.
        stdin_data: Bytes to feed.
        deadline: ``time.monotonic()`` value at which to stop waiting (seconds).
        limit: Bytes kept per stream; the rest is read and discarded.
        end_fd: Read end of a pipe on which the command's end is announced, or ``None``.

    Returns:
        The kept output and what stopped the pump.
    """
    result = Pumped()
    kept = {stdout_fd: bytearray(), stderr_fd: bytearray()}
    total = 0
    flood_at = flood_threshold(limit)
    selector = selectors.DefaultSelector()
    for fd in (stdout_fd, stderr_fd):
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    pending = memoryview(stdin_data)
    if stdin_fd is not None:
        if pending:
            os.set_blocking(stdin_fd, False)
            selector.register(stdin_fd, selectors.EVENT_WRITE)
        else:
            os.close(stdin_fd)
            stdin_fd = None
    if end_fd is not None:
        selector.register(end_fd, selectors.EVENT_READ)
    open_readers = 2
    ending = False
    while open_readers:
        remaining = deadline - time.monotonic()
        if ending:
            remaining = 0.0
        elif remaining <= 0:
            result.deadline_hit = True
            break
        events = selector.select(remaining)
        if ending and not events:
            break
        for key, _events in events:
            fd = key.fd
            if fd == end_fd:
                chunk = os.read(fd, 64)
                result.end = (result.end or b"") + chunk
                if not chunk or chunk.endswith(b"\n"):
                    selector.unregister(fd)
                    ending = True
                continue
            if fd == stdin_fd:
                try:
                    pending = pending[os.write(fd, pending[: 1 << 16]) :]
                except (BrokenPipeError, OSError):
                    pending = pending[:0]
                if not pending:
                    selector.unregister(fd)
                    os.close(fd)
                    stdin_fd = None
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                selector.unregister(fd)
                open_readers -= 1
                continue
            total += len(chunk)
            buffer = kept[fd]
            room = limit - len(buffer)
            if room > 0:
                buffer += chunk[:room]
            if len(chunk) > room:
                result.truncated = True
            if total > flood_at:
                result.flooded = True
                open_readers = 0
                break
    if stdin_fd is not None:
        os.close(stdin_fd)
    selector.close()
    result.stdout, result.stderr = bytes(kept[stdout_fd]), bytes(kept[stderr_fd])
    return result


def drain(fds: tuple[int, ...], seconds: float) -> None:
    """Read and drop whatever the pipes still deliver, for at most ``seconds`` or until they close."""
    deadline = time.monotonic() + seconds
    selector = selectors.DefaultSelector()
    for fd in fds:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    open_readers = len(fds)
    while open_readers and time.monotonic() < deadline:
        for key, _ in selector.select(max(0.0, deadline - time.monotonic())):
            try:
                if not os.read(key.fd, 1 << 16):
                    selector.unregister(key.fd)
                    open_readers -= 1
            except OSError as error:
                if error.errno != errno.EAGAIN:
                    selector.unregister(key.fd)
                    open_readers -= 1
    selector.close()


_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
_PROCESS_MARKERS = ("fork: retry", "Cannot fork", "can't fork", "fork: Resource temporarily unavailable")


def classify_limit(exit_code: int, stderr: str, timed_out: bool, truncated: bool, flooded: bool) -> LimitHit | None:
    """Name the limit that ended or cut a command, from how it ended and what it printed.

    Signals name CPU time (SIGXCPU) and file size (SIGXFSZ) exactly; memory, processes and disk
    are recognised from the standard error messages programs print when an allocation, a fork
    or a write fails (``MemoryError``, ``fork: retry``, ``No space left on device``).

    Returns:
        The limit, or ``None`` when the command ended on its own.
    """
    if timed_out:
        return "wall_time"
    if flooded:
        return "output"
    if exit_code in (128 + signal.SIGXCPU,):
        return "cpu_time"
    if exit_code == 128 + signal.SIGXFSZ or (exit_code != 0 and "File too large" in stderr):
        return "file_size"
    if exit_code != 0:
        if "No space left on device" in stderr or "Disk quota exceeded" in stderr:
            return "disk"
        if any(marker in stderr for marker in _MEMORY_MARKERS):
            return "memory"
        if any(marker in stderr for marker in _PROCESS_MARKERS) or (
            "Resource temporarily unavailable" in stderr and "fork" in stderr.lower()
        ):
            return "processes"
    if truncated:
        return "output"
    return None
