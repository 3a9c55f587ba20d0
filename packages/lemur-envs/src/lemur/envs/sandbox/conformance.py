"""The sandbox conformance suite: small named checks that every backend must pass (STYLE 7.12).

Each check takes a :class:`SandboxBackend`, opens its own small session, and raises
:class:`CheckFailed` (or ``AssertionError``) saying what it expected and what it saw. A backend
lists the checks it is known to fail in its ``known_failures`` mapping (check name -> reason);
:func:`run_checks` reports those as ``known-failure`` instead of ``failed``.

Used by the tests (``packages/lemur-envs/tests/sandbox/test_conformance.py``) and by
``lemur envs sandbox-check`` on a user's machine.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from lemur.envs.sandbox.base import FileChange, Limits, MiB, SandboxBackend, SandboxError, SandboxSpec, Session


class CheckFailed(AssertionError):
    """A conformance check saw behaviour the sandbox contract forbids."""


def expect(condition: object, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


@dataclasses.dataclass(frozen=True)
class Check:
    """One conformance check: a name users see, what it promises, and the function that checks it."""

    name: str
    description: str
    function: Callable[[SandboxBackend], None]


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """How one check went: ``passed``, ``failed``, ``known-failure`` or ``error`` (it could not run)."""

    name: str
    status: Literal["passed", "failed", "known-failure", "error"]
    detail: str
    seconds: float


CHECKS: list[Check] = []

SMALL = Limits(wall_seconds=10.0, cpu_seconds=5, memory_bytes=512 * MiB, processes=64, disk_bytes=64 * MiB)


def check(description: str) -> Callable[[Callable[[SandboxBackend], None]], Callable[[SandboxBackend], None]]:
    """Register the decorated function as a conformance check named after it (``check_`` dropped)."""

    def register(function: Callable[[SandboxBackend], None]) -> Callable[[SandboxBackend], None]:
        CHECKS.append(Check(function.__name__.removeprefix("check_"), description, function))
        return function

    return register


def _open(backend: SandboxBackend, **spec: object) -> Session:
    spec.setdefault("limits", SMALL)
    return backend.open(SandboxSpec(**spec))  # type: ignore[arg-type]


# -- exec -----------------------------------------------------------------------------------------
@check("exec returns exit code, stdout and stderr separately")
def check_exec_streams(backend: SandboxBackend) -> None:
    with _open(backend) as session:
        result = session.exec("echo out; echo err >&2; exit 3")
        expect(result.exit_code == 3, f"exit code 3 expected, got {result.exit_code}")
        expect(result.stdout == "out\n" and result.stderr == "err\n", f"streams mixed up: {result!r}")
        expect(not result.timed_out and result.limit is None, f"no limit expected: {result!r}")


@check("a list command runs as is, without a shell")
def check_exec_argv(backend: SandboxBackend) -> None:
    with _open(backend) as session:
        result = session.exec(["printf", "%s|", "a b", "$HOME", ";"])
        expect(result.stdout == "a b|$HOME|;|", f"arguments were reinterpreted: {result.stdout!r}")


@check("stdin, cwd and env reach the command")
def check_exec_stdin_cwd_env(backend: SandboxBackend) -> None:
    with _open(backend, env={"SPEC_VAR": "spec"}) as session:
        session.exec("mkdir -p sub")
        result = session.exec(
            'cat; pwd; echo "$SPEC_VAR $CALL_VAR"', stdin="hello\n", cwd="/work/sub", env={"CALL_VAR": "call"}
        )
        expect(result.stdout == "hello\n/work/sub\nspec call\n", f"unexpected output: {result.stdout!r}")


@check("the work dir persists across exec calls")
def check_workdir_persists(backend: SandboxBackend) -> None:
    with _open(backend) as session:
        session.exec("echo 1 > state.txt")
        expect(session.exec("pwd; cat state.txt").stdout == "/work\n1\n", "work dir did not persist")


@check("a timeout kills the whole process tree and reports timed_out")
def check_timeout_kills_tree(backend: SandboxBackend) -> None:
    with _open(backend) as session:
        began = time.monotonic()
        result = session.exec("(sleep 30 &) ; sleep 30", timeout=1.0)
        elapsed = time.monotonic() - began
        expect(result.timed_out and result.limit == "wall_time", f"timeout not reported: {result!r}")
        expect(elapsed < 6, f"the timeout took {elapsed:.1f} s to fire")
        left = session.exec("ps -eo comm= 2>/dev/null || ls /proc").stdout
        expect("sleep" not in left, f"a sleep survived the timeout: {left!r}")


@check("output past the limit is cut and flagged")
def check_output_truncated(backend: SandboxBackend) -> None:
    with _open(backend, limits=dataclasses.replace(SMALL, output_bytes=1000)) as session:
        result = session.exec("head -c 5000 /dev/zero | tr '\\0' a")
        expect(result.truncated and len(result.stdout) == 1000, f"not cut at 1000 bytes: {len(result.stdout)}")
        expect(result.limit == "output", f"limit 'output' expected, got {result.limit!r}")


# -- files ----------------------------------------------------------------------------------------
@check("write_file/read_file round-trip binary data and create parents")
def check_files_roundtrip(backend: SandboxBackend) -> None:
    data = bytes(range(256)) * 40
    with _open(backend) as session:
        session.write_file("/work/a/b/blob.bin", data)
        expect(session.read_file("/work/a/b/blob.bin") == data, "binary content changed in the round trip")
        session.write_file("/work/text.txt", "héllo\n")
        expect(session.exec("cat text.txt").stdout == "héllo\n", "text written by write_file not seen by exec")
        try:
            session.read_file("/work/missing.txt")
        except FileNotFoundError:
            pass
        else:
            raise CheckFailed("read_file of a missing file did not raise FileNotFoundError")


@check("setup runs once; changes() lists added/modified/deleted; reset() restores it")
def check_setup_changes_reset(backend: SandboxBackend) -> None:
    setup = ("mkdir -p data && echo keep > data/keep.txt && echo old > data/edit.txt && echo x > data/gone.txt",)
    with _open(backend, setup=setup) as session:
        expect(session.changes() == [], f"changes right after setup: {session.changes()}")
        session.exec("echo new > data/edit.txt; rm data/gone.txt; echo n > added.txt")
        expected = [
            FileChange("/work/added.txt", "added"),
            FileChange("/work/data/edit.txt", "modified"),
            FileChange("/work/data/gone.txt", "deleted"),
        ]
        changes = session.changes()
        expect(changes == expected, f"changes() = {changes}, expected {expected}")
        began = time.monotonic()
        session.reset()
        took = time.monotonic() - began
        expect(session.changes() == [], f"changes after reset: {session.changes()}")
        result = session.exec("cat data/keep.txt data/edit.txt data/gone.txt; ls")
        expect(result.stdout == "keep\nold\nx\ndata\n", f"reset did not restore the prepared state: {result.stdout!r}")
        expect(took < 2.0, f"reset of a tiny tree took {took:.2f} s")


@check("a failing setup command raises SandboxError with its output")
def check_setup_failure(backend: SandboxBackend) -> None:
    try:
        _open(backend, setup=("echo broken-setup >&2; exit 7",)).close()
    except SandboxError as error:
        expect("broken-setup" in str(error), f"setup error lacks the command's output: {error}")
    else:
        raise CheckFailed("a failing setup command did not raise SandboxError")


# -- isolation ------------------------------------------------------------------------------------
@check("system directories are read-only")
def check_system_read_only(backend: SandboxBackend) -> None:
    with _open(backend) as session:
        result = session.exec("touch /usr/lemur-probe || touch /usr/bin/lemur-probe || echo denied")
        expect(result.stdout.strip() == "denied", f"a system directory is writable: {result!r}")


@check("no network: loopback works inside, nothing else is reachable")
def check_no_network(backend: SandboxBackend) -> None:
    script = (
        "import socket\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
        "c = socket.create_connection(s.getsockname(), timeout=2); print('loopback ok')\n"
        "for host in ('1.1.1.1', '8.8.8.8'):\n"
        "    try:\n"
        "        socket.create_connection((host, 53), timeout=2); print('reached', host)\n"
        "    except OSError:\n"
        "        print('unreachable')\n"
    )
    with _open(backend) as session:
        result = session.exec(["python3", "-c", script])
        expect(result.stdout == "loopback ok\nunreachable\nunreachable\n", f"network not isolated: {result!r}")


@check("the sandbox sees only its own processes")
def check_pid_isolation(backend: SandboxBackend) -> None:
    with _open(backend) as session:
        result = session.exec("ls /proc | grep -c '^[0-9]'")
        expect(result.ok and int(result.stdout) < 20, f"the sandbox sees {result.stdout.strip()} processes")


# -- limits ---------------------------------------------------------------------------------------
@check("CPU time is limited (cpu_seconds)")
def check_cpu_limit(backend: SandboxBackend) -> None:
    with _open(backend, limits=dataclasses.replace(SMALL, cpu_seconds=1)) as session:
        result = session.exec(["python3", "-c", "while True: pass"], timeout=20)
        expect(not result.timed_out and result.exit_code != 0, f"CPU limit did not stop the loop: {result!r}")
        expect(result.limit == "cpu_time", f"limit 'cpu_time' expected, got {result.limit!r}")


@check("memory is limited (memory_bytes)")
def check_memory_limit(backend: SandboxBackend) -> None:
    with _open(backend, limits=dataclasses.replace(SMALL, memory_bytes=256 * MiB)) as session:
        result = session.exec(["python3", "-c", "b = bytearray(1024 * 1024 * 1024); print('allocated')"])
        expect("allocated" not in result.stdout and result.exit_code != 0, f"1 GiB allocated: {result!r}")
        expect(result.limit == "memory", f"limit 'memory' expected, got {result.limit!r}")


@check("file size is limited (file_size_bytes)")
def check_file_size_limit(backend: SandboxBackend) -> None:
    with _open(backend, limits=dataclasses.replace(SMALL, file_size_bytes=1 * MiB)) as session:
        result = session.exec("head -c 5000000 /dev/zero > big.bin")
        size = session.exec("wc -c < big.bin").stdout.strip()
        expect(result.exit_code != 0 and int(size or 0) <= MiB, f"wrote {size} bytes past a 1 MiB limit")
        expect(result.limit == "file_size", f"limit 'file_size' expected, got {result.limit!r}")


@check("the writable area is limited (disk_bytes)")
def check_disk_limit(backend: SandboxBackend) -> None:
    limits = dataclasses.replace(SMALL, disk_bytes=16 * MiB, file_size_bytes=64 * MiB)
    with _open(backend, limits=limits) as session:
        result = session.exec("head -c 40000000 /dev/zero > fill.bin")
        expect(result.exit_code != 0 and result.limit == "disk", f"disk limit not hit: {result!r}")
        expect(session.exec("rm fill.bin && echo ok").stdout == "ok\n", "the sandbox did not recover after a full disk")


@check("processes are limited (processes)")
def check_process_limit(backend: SandboxBackend) -> None:
    script = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    for _ in range(200):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(5); os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print('stopped at', n, 'Cannot fork:', e)\n"
        "else:\n"
        "    print('forked', n)\n"
    )
    with _open(backend, limits=dataclasses.replace(SMALL, processes=32)) as session:
        result = session.exec(["python3", "-c", script], timeout=20)
        expect("stopped at" in result.stdout, f"200 processes were allowed under a limit of 32: {result.stdout!r}")
        count = int(result.stdout.split()[2])
        expect(count <= 32, f"{count} processes forked under a limit of 32")


# -- interactive ----------------------------------------------------------------------------------
@check("the shell keeps cwd and variables; a timeout interrupts it without losing them")
def check_shell_session(backend: SandboxBackend) -> None:
    with _open(backend) as session:
        shell = session.shell()
        try:
            expect(shell.run("mkdir -p d && cd d && X=42").exit_code == 0, "cd/assignment failed")
            result = shell.run('echo "$X $(pwd)"; false')
            expect(result.stdout == "42 /work/d\n" and result.exit_code == 1, f"state not kept: {result!r}")
            timed = shell.run("sleep 30", timeout=1.0)
            expect(timed.timed_out, f"the shell's timeout did not fire: {timed!r}")
            after = shell.run('echo "$X $(pwd)"')
            expect(after.stdout == "42 /work/d\n", f"state lost after the timeout: {after!r}")
        finally:
            shell.close()


@check("the Python REPL keeps state, shows values, survives errors and timeouts")
def check_python_session(backend: SandboxBackend) -> None:
    with _open(backend) as session:
        repl = session.python()
        try:
            expect(repl.run("x = 40\nx + 2").stdout == "42\n", "last expression value not shown")
            error = repl.run("1 / 0")
            expect(error.exit_code != 0 and "ZeroDivisionError" in error.stderr, f"no traceback: {error!r}")
            timed = repl.run("while True:\n    pass", timeout=1.0)
            expect(timed.timed_out, f"the REPL's timeout did not fire: {timed!r}")
            expect(repl.run("print(x)").stdout == "40\n", "state lost after an error or a timeout")
        finally:
            repl.close()


@check("a closed session refuses work; closing twice is harmless")
def check_close(backend: SandboxBackend) -> None:
    session = _open(backend)
    session.close()
    session.close()
    try:
        session.exec("true")
    except SandboxError:
        pass
    else:
        raise CheckFailed("exec on a closed session did not raise SandboxError")


def run_checks(
    backend: SandboxBackend,
    names: Sequence[str] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run the named checks (default: all) against ``backend``, in order.

    Args:
        backend: The backend under test (already known to be available).
        names: Check names to run; ``None`` runs every check.
        on_result: Called with each result as soon as it is known (for progress output).

    Returns:
        One result per check run.

    Raises:
        KeyError: A name is not a check.
    """
    known = getattr(backend, "known_failures", {}) or {}
    results = []
    for item in select_checks(names):
        began = time.monotonic()
        try:
            item.function(backend)
        except AssertionError as failure:
            status, detail = ("known-failure", known[item.name]) if item.name in known else ("failed", str(failure))
        except Exception as error:  # noqa: BLE001 - a crash in one check must not hide the others
            status, detail = "error", f"{type(error).__name__}: {error}"
        else:
            status, detail = "passed", ""
        result = CheckResult(item.name, status, detail, time.monotonic() - began)  # type: ignore[arg-type]
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def select_checks(names: Iterable[str] | None) -> list[Check]:
    """The checks with these names, in suite order (all when ``names`` is ``None``).

    Raises:
        KeyError: A name is not a check; the message lists the valid names.
    """
    if names is None:
        return list(CHECKS)
    by_name = {item.name: item for item in CHECKS}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise KeyError(f"unknown conformance check(s) {unknown}; available: {', '.join(by_name)}")
    wanted = set(names)
    return [item for item in CHECKS if item.name in wanted]
