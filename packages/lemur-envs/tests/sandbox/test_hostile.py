"""Hostile code against every backend: each attack ends with a clear status, the host is unchanged,
no process is left behind, and the next sandboxed run works."""

from __future__ import annotations

import dataclasses
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lemur.envs.sandbox import Limits, SandboxBackend, SandboxSpec, Session
from lemur.envs.sandbox.base import MiB

LIMITS = Limits(
    wall_seconds=10.0,
    cpu_seconds=10,
    memory_bytes=512 * MiB,
    processes=64,
    file_size_bytes=64 * MiB,
    output_bytes=1 * MiB,
    disk_bytes=32 * MiB,
)


@pytest.fixture
def session(backend: SandboxBackend) -> Iterator[Session]:
    with backend.open(SandboxSpec(limits=LIMITS)) as opened:
        yield opened


@pytest.fixture
def marker() -> str:
    """A string unique to this test, put into attack processes' command lines to find leftovers."""
    return "lemurhostile" + secrets.token_hex(6)


def assert_next_run_works(session: Session) -> None:
    result = session.exec("echo still-alive && python3 -c 'print(6 * 7)'")
    assert result.ok and result.stdout == "still-alive\n42\n", result


def test_fork_bomb(session: Session, marker: str, leftovers) -> None:
    session.write_file(f"/work/{marker}.sh", "bomb() { bomb | bomb & }; bomb\nsleep 30\n")
    result = session.exec(["sh", f"/work/{marker}.sh"], timeout=3.0)
    assert (result.timed_out and result.limit == "wall_time") or result.limit == "processes", result
    assert leftovers(marker) == []
    assert_next_run_works(session)


def test_rm_rf_root_and_system_writes(session: Session, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("intact")
    result = session.exec(
        "rm -rf --no-preserve-root / 2>/dev/null; "
        "for d in /usr /usr/bin /etc /bin /lib; do echo pwned > $d/lemur-evil 2>/dev/null && echo wrote $d; done; "
        "echo finished",
        timeout=30,
    )
    assert "wrote" not in result.stdout and result.stdout.endswith("finished\n"), result
    assert canary.read_text() == "intact"
    for directory in ("/usr", "/usr/bin", "/etc", "/bin", "/lib"):
        assert not Path(directory, "lemur-evil").exists()
    assert Path("/usr/bin/python3").exists() and Path("/usr/bin/sh").exists()
    assert_next_run_works(session)


def test_host_secret_stays_unread(session: Session, tmp_path: Path) -> None:
    token = secrets.token_hex(16)
    secret = tmp_path / "secret.txt"
    secret.write_text(token)
    secret.chmod(0o600)
    probes = [
        f"cat {secret}",
        f"ls -la {tmp_path}",
        "cat /proc/1/root" + str(secret),
        "ls /root /home /work/main /tmp; cat /etc/shadow",
        f"python3 -c \"import os; print(open('{secret}').read())\"",
    ]
    for probe in probes:
        result = session.exec(probe + " 2>&1")
        assert token not in result.stdout and token not in result.stderr, probe
    assert "main" not in session.exec("ls /work").stdout
    assert_next_run_works(session)


def test_host_loopback_server_untouched(session: Session) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    connections: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        script = (
            "import socket\n"
            f"for host in ('127.0.0.1', 'localhost', '10.0.2.2', '172.17.0.1'):\n"
            "    try:\n"
            f"        socket.create_connection((host, {port}), timeout=1).send(b'hi'); print('connected', host)\n"
            "    except OSError as error:\n"
            "        print('refused', host, type(error).__name__)\n"
        )
        result = session.exec(["python3", "-c", script], timeout=20)
        assert "connected" not in result.stdout, result
        assert result.stdout.count("refused") == 4, result
    finally:
        stop.set()
        thread.join(2)
        server.close()
    assert connections == []
    assert_next_run_works(session)


def test_memory_hog(session: Session) -> None:
    result = session.exec(["python3", "-c", "hog = []\nwhile True:\n    hog.append(bytearray(16 * 1024 * 1024))"])
    assert result.exit_code != 0 and not result.timed_out, result
    assert result.limit == "memory", result
    assert_next_run_works(session)


def test_infinite_loop(session: Session) -> None:
    result = session.exec("while :; do :; done", timeout=1.0)
    assert result.timed_out and result.limit == "wall_time" and result.exit_code != 0, result
    assert result.seconds < 6, result
    assert_next_run_works(session)


def test_hundred_megabytes_of_output(session: Session) -> None:
    result = session.exec("head -c 100000000 /dev/zero | tr '\\0' x; echo done >&2", timeout=30)
    assert result.truncated and result.limit == "output", result
    assert len(result.stdout) == LIMITS.output_bytes and set(result.stdout) == {"x"}
    assert not result.timed_out
    assert_next_run_works(session)


def test_daemon_outliving_timeout(session: Session, marker: str, leftovers) -> None:
    daemon = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        for fd in (0, 1, 2): os.close(fd)\n"
        "        time.sleep(120)\n"
        "    os._exit(0)\n"
        "time.sleep(120)\n"
    )
    result = session.exec(["python3", "-c", daemon, marker], timeout=1.0)
    assert result.timed_out and result.limit == "wall_time", result
    assert leftovers(marker) == []
    # A daemon left behind by a command that exits on its own is not kept either.
    quick_exit = daemon.rsplit("time.sleep(120)\n", 1)[0] + "print('parent done')\n"
    quick = session.exec(["python3", "-c", quick_exit, marker])
    assert not quick.timed_out, quick
    assert leftovers(marker) == []
    assert_next_run_works(session)


def test_killing_the_parent(session: Session, marker: str, leftovers) -> None:
    result = session.exec(f"kill -9 $PPID; kill -9 -1; sleep 30 # {marker}", timeout=3.0)
    assert result.exit_code != 0 or result.timed_out, result
    assert leftovers(marker) == []
    assert_next_run_works(session)
    shell = session.shell()
    try:
        after = shell.run("kill -9 -1; echo survived", timeout=5.0)
        assert after.exit_code != 0 or "[lemur]" in after.stderr or after.stdout == "survived\n", after
        assert shell.run("echo again").stdout == "again\n"
    finally:
        shell.close()
    assert_next_run_works(session)


def test_filling_the_disk(session: Session) -> None:
    result = session.exec("cat /dev/zero > /work/fill.bin", timeout=30)
    assert result.exit_code != 0 and result.limit == "disk", result
    size = int(session.exec("wc -c < /work/fill.bin").stdout)
    assert size <= LIMITS.disk_bytes
    assert session.exec("rm /work/fill.bin").ok
    assert_next_run_works(session)


def test_the_sandbox_survives_every_attack_in_a_row(backend: SandboxBackend, marker: str, leftovers) -> None:
    limits = dataclasses.replace(LIMITS, wall_seconds=3.0)
    with backend.open(SandboxSpec(limits=limits)) as session:
        for attack in (
            f"sh -c 'b() {{ b | b & }}; b; sleep 9 # {marker}'",
            "cat /dev/zero > /work/fill",
            "head -c 50000000 /dev/zero",
            "while :; do :; done",
            "kill -9 -1",
        ):
            outcome = session.exec(attack)
            assert outcome.exit_code != 0 or outcome.truncated, (attack, outcome)
        assert leftovers(marker) == []
        session.exec("rm -f /work/fill")
        assert_next_run_works(session)
