"""Persistent shells and Python REPLs over any "process with stdin/stdout/stderr" (backend-neutral).

A backend supplies ``start(argv) -> Channel`` (pipes to a process it started inside the sandbox,
and a way to kill it); :class:`InterpreterSession` does the rest:

- **Framing.** Each ``run`` writes one framed cell; the interpreter answers with a per-session
  random sentinel ``<token>EXIT<status>`` on stdout and ``<token>`` on stderr, so the output of
  one cell never bleeds into the next, whatever the code prints.
- **Timeouts.** The interpreter interrupts itself: bash runs a watchdog that sends SIGINT to its
  process group (an interactive bash then abandons the command line, as Ctrl-C does, and keeps
  cwd and variables), the REPL driver uses ``SIGALRM`` (as MINT does). If no sentinel arrives
  ``GRACE_SECONDS`` after the timeout, the interpreter is killed and restarted, and the result
  says so in ``stderr``.
- **Output.** Each stream keeps at most ``output_bytes``; the rest is read and dropped.

The cell's standard input is ``/dev/null`` in both dialects, so code cannot eat the protocol.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import re
import secrets
import selectors
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lemur.envs.sandbox.base import ExecResult, InteractiveSession, SandboxError

#: Seconds to wait past a cell's timeout for the interpreter to interrupt itself before killing it.
GRACE_SECONDS = 2.0
#: Seconds an interpreter may take to start.
BOOT_SECONDS = 20.0

RESTART_NOTE = "\n[lemur] the {name} did not stop after the timeout; it was restarted and its state is lost\n"
EXITED_NOTE = "\n[lemur] the {name} exited; a new one starts on the next run and its state is lost\n"


@dataclasses.dataclass
class Channel:
    """Pipes to an interpreter process running inside a sandbox.

    Attributes:
        stdin: Write end of the process's standard input.
        stdout: Read end of its standard output.
        stderr: Read end of its standard error.
        kill: Kills the process and everything it started; must be safe to call twice.
    """

    stdin: int
    stdout: int
    stderr: int
    kill: Callable[[], None]

    def close(self) -> None:
        """Kill the process and close the pipes."""
        self.kill()
        for fd in (self.stdin, self.stdout, self.stderr):
            try:
                os.close(fd)
            except OSError:
                pass


class Dialect(abc.ABC):
    """How to start one kind of interpreter and frame a cell for it."""

    #: Shown in notes ("the shell exited").
    name: str = ""

    def __init__(self) -> None:
        self.token = "__LEMUR_" + secrets.token_hex(8) + "__"

    @abc.abstractmethod
    def argv(self) -> list[str]:
        """The command that starts the interpreter."""

    def boot(self) -> bytes:
        """Bytes written once after start; the interpreter answers with one sentinel when ready."""
        return b""

    @abc.abstractmethod
    def frame(self, code: str, timeout: float | None) -> bytes:
        """The bytes that make the interpreter run ``code`` under ``timeout`` seconds and answer."""

    def timed_out(self, exit_code: int, seconds: float, timeout: float | None) -> bool:
        """Whether a cell that ended with ``exit_code`` after ``seconds`` was stopped by its timeout."""
        return timeout is not None and exit_code != 0 and seconds >= timeout * 0.98


def _ansi_c_quote(code: str) -> str:
    """Quote ``code`` as a bash ``$'...'`` word using only ASCII letters, digits and escapes."""
    out = []
    for byte in code.encode():
        char = chr(byte)
        out.append(char if char.isascii() and char.isalnum() else f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"


class ShellDialect(Dialect):
    """A persistent ``bash`` (interactive mode without a terminal, no rc files)."""

    name = "shell"

    def argv(self) -> list[str]:
        return ["bash", "--noprofile", "--norc", "--noediting", "-i"]

    def boot(self) -> bytes:
        token = self.token
        lines = [
            "PS1=''; PS2=''; set +o history; set +H; set +m; unset HISTFILE",
            # The watchdog ignores SIGINT itself (async commands do without job control).
            "__lemur_wd() { ( trap 'kill $__lemur_s 2>/dev/null; exit 0' TERM; sleep \"$1\" & __lemur_s=$!;"
            " wait $__lemur_s; kill -INT 0 ) & __lemur_wdpid=$!; }",
            'PROMPT_COMMAND=\'__lemur_rc=$?; if [ -n "$__lemur_wdpid" ]; then kill $__lemur_wdpid 2>/dev/null;'
            " wait $__lemur_wdpid 2>/dev/null; __lemur_wdpid=; fi;"
            f' printf "%s%s\\n" {token}EXIT "$__lemur_rc"; printf "%s\\n" {token} >&2'
            "'",
        ]
        return ("\n".join(lines) + "\n").encode()

    def frame(self, code: str, timeout: float | None) -> bytes:
        watchdog = f"__lemur_wd {timeout:.3f} 2>/dev/null; " if timeout else ""
        return f"{watchdog}eval {_ansi_c_quote(code)} < /dev/null\n".encode()


_DRIVER_SOURCE = (Path(__file__).with_name("_repl_driver.py")).read_text()


class PythonDialect(Dialect):
    """A persistent Python REPL (``python3`` with the stdlib driver in ``_repl_driver.py``)."""

    name = "Python REPL"

    def __init__(self, python: str = "python3") -> None:
        super().__init__()
        self.python = python

    def argv(self) -> list[str]:
        return [self.python, "-u", "-c", _DRIVER_SOURCE, self.token]

    def frame(self, code: str, timeout: float | None) -> bytes:
        data = code.encode()
        return f"{len(data)} {timeout or 0}\n".encode() + data

    def timed_out(self, exit_code: int, seconds: float, timeout: float | None) -> bool:
        return exit_code == 124


class InterpreterSession(InteractiveSession):
    """A shell or REPL kept alive across ``run`` calls, restarted when it dies or hangs.

    Args:
        start: Starts ``argv`` inside the sandbox and returns its channel.
        dialect: The interpreter's protocol.
        output_bytes: Bytes of each stream kept per cell.
        default_timeout: Seconds per cell when ``run`` gets none (``None``: no timeout).
    """

    def __init__(
        self,
        start: Callable[[Sequence[str]], Channel],
        dialect: Dialect,
        output_bytes: int,
        default_timeout: float | None,
    ) -> None:
        self._start = start
        self.dialect = dialect
        self.output_bytes = output_bytes
        self.default_timeout = default_timeout
        self._channel: Channel | None = None
        self._closed = False
        self._pattern = re.compile(re.escape(dialect.token.encode()) + rb"EXIT(-?\d+)\n")
        self._ensure_started()

    def _ensure_started(self) -> Channel:
        if self._closed:
            raise SandboxError(f"the {self.dialect.name} is closed")
        if self._channel is None:
            channel = self._start(self.dialect.argv())
            self._channel = channel
            exchange = self._exchange(self.dialect.boot(), time.monotonic() + BOOT_SECONDS)
            if exchange is None or exchange[0] is None:
                self._kill()
                raise SandboxError(f"the {self.dialect.name} did not start within {BOOT_SECONDS:.0f} s")
        return self._channel

    def _kill(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def run(self, code: str, timeout: float | None = None) -> ExecResult:
        """Run ``code`` in the interpreter and return its output (see :class:`InteractiveSession`).

        Raises:
            SandboxError: The session is closed or the interpreter cannot be started.
        """
        timeout = self.default_timeout if timeout is None else timeout
        self._ensure_started()
        began = time.monotonic()
        hard_deadline = began + (timeout + GRACE_SECONDS if timeout else 365 * 24 * 3600)
        exchange = self._exchange(self.dialect.frame(code, timeout), hard_deadline)
        seconds = time.monotonic() - began
        status, stdout, stderr, truncated = exchange
        note = ""
        if status is None:
            died = time.monotonic() < hard_deadline
            self._kill()
            note = (EXITED_NOTE if died else RESTART_NOTE).format(name=self.dialect.name)
            exit_code, timed_out = (1, False) if died else (137, True)
        else:
            exit_code = status
            timed_out = self.dialect.timed_out(exit_code, seconds, timeout)
        limit = "wall_time" if timed_out else ("output" if truncated else None)
        return ExecResult(
            exit_code=exit_code,
            stdout=stdout.decode("utf-8", "replace"),
            stderr=stderr.decode("utf-8", "replace") + note,
            timed_out=timed_out,
            truncated=truncated,
            seconds=seconds,
            limit=limit,
        )

    def _exchange(self, request: bytes, deadline: float) -> tuple[int | None, bytes, bytes, bool]:
        """Write ``request`` and read both streams until both sentinels (or EOF, or the deadline)."""
        channel = self._channel
        assert channel is not None
        token = self.dialect.token.encode()
        buffers = {channel.stdout: bytearray(), channel.stderr: bytearray()}
        kept = {channel.stdout: bytearray(), channel.stderr: bytearray()}
        done = {channel.stdout: False, channel.stderr: False}
        status: int | None = None
        truncated = False
        tail = len(token) + 32
        try:
            _write_all(channel.stdin, request)
        except OSError:
            return None, b"", b"", False
        selector = selectors.DefaultSelector()
        for fd in buffers:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        try:
            while not all(done.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None, bytes(kept[channel.stdout]), bytes(kept[channel.stderr]), truncated
                for key, _ in selector.select(remaining):
                    fd = key.fd
                    try:
                        chunk = os.read(fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        return None, bytes(kept[channel.stdout]), bytes(kept[channel.stderr]), truncated
                    buffer = buffers[fd]
                    buffer += chunk
                    if fd == channel.stdout:
                        match = self._pattern.search(buffer)
                        end = match.start() if match else max(0, len(buffer) - tail)
                        if match:
                            status = int(match.group(1))
                            done[fd] = True
                    else:
                        index = buffer.find(token + b"\n")
                        end = index if index >= 0 else max(0, len(buffer) - tail)
                        done[fd] = done[fd] or index >= 0
                    truncated |= _keep(kept[fd], buffer[:end], self.output_bytes)
                    del buffer[:end]
                    if done[fd]:
                        selector.unregister(fd)
                        buffer.clear()
        finally:
            selector.close()
        return status, bytes(kept[channel.stdout]), bytes(kept[channel.stderr]), truncated

    def close(self) -> None:
        """Stop the interpreter (and everything it started); closing twice is harmless."""
        self._closed = True
        self._kill()


def _keep(kept: bytearray, data: bytes | bytearray, limit: int) -> bool:
    """Append ``data`` up to ``limit`` bytes in all; return whether anything was dropped."""
    room = limit - len(kept)
    if room > 0:
        kept += data[:room]
    return len(data) > max(room, 0)


def _write_all(fd: int, data: bytes) -> None:
    os.set_blocking(fd, True)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
