"""The host side of the in-container command server (``_docker_inside.py serve``).

One long-lived ``docker exec`` per session carries every command: the host writes a request
frame (JSON config) and a stdin frame, and reads back ``A`` (started), ``O``/``E`` (output,
already capped inside) and ``D`` (status). A command then costs a fork inside the container
instead of a ``docker exec`` (about 100 ms on a loaded machine). The server is the parent of
every command, so a command can kill or stop it; the host notices (end of stream, or its own
deadline) and the session starts a new one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import select
import struct
import time
from typing import Any

from lemur.envs.sandbox._docker_stream import STDOUT, FrameReader, raw_socket

FRAME = struct.Struct(">cL")


@dataclasses.dataclass
class Served:
    """What the server said about one command.

    Attributes:
        started: The server acknowledged the request (so it was alive when the command began).
        report: The final status (exit code, timed out, limit, byte totals), or None if the
            stream ended or the deadline passed first.
        stdout: Standard output as sent (at most the output limit).
        stderr: Standard error as sent.
        deadline_hit: The host's deadline passed before the report.
    """

    started: bool = False
    report: dict[str, Any] | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    deadline_hit: bool = False


class CommandServer:
    """A connection to one ``serve`` process; ``alive`` turns False for good once it ends."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.raw = raw_socket(sock)
        self.frames = FrameReader()
        self.buffer = bytearray()
        self.diagnostics = bytearray()
        self.alive = True

    def run(self, config: dict[str, Any], stdin: bytes, deadline: float) -> Served:
        """Send one command and read its output and status until ``deadline`` (monotonic seconds)."""
        served = Served()
        request = json.dumps(config).encode()
        try:
            self.raw.sendall(FRAME.pack(b"R", len(request)) + request + FRAME.pack(b"I", len(stdin)) + stdin)
        except OSError:
            self.close()
            return served
        out, err = bytearray(), bytearray()
        while served.report is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                served.deadline_hit = True
                self.close()
                break
            ready, _, _ = select.select([self.raw], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = self.raw.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                break
            for stream, payload in self.frames.feed(chunk):
                if stream == STDOUT:
                    self.buffer += payload
                else:
                    self.diagnostics += payload
            while len(self.buffer) >= FRAME.size:
                kind, size = FRAME.unpack_from(self.buffer)
                if len(self.buffer) < FRAME.size + size:
                    break
                data = bytes(self.buffer[FRAME.size : FRAME.size + size])
                del self.buffer[: FRAME.size + size]
                if kind == b"A":
                    served.started = True
                elif kind == b"O":
                    out += data
                elif kind == b"E":
                    err += data
                elif kind == b"D":
                    served.report = json.loads(data)
        served.stdout, served.stderr = bytes(out), bytes(err)
        return served

    def close(self) -> None:
        """Drop the connection; the server process exits when its stdin closes (or was killed)."""
        self.alive = False
        for closable in (self.raw, self.sock):
            with contextlib.suppress(OSError, AttributeError):
                closable.close()
