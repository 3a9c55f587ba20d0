"""What is specific to the ``local`` (bubblewrap) backend: identity, mounts, recovery, errors, CLI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lemur.envs.sandbox import (
    Limits,
    Mount,
    SandboxError,
    SandboxSpec,
    SandboxUnavailableError,
    _local_host,
    get_backend,
)
from lemur.envs.sandbox import local as local_module
from lemur.envs.sandbox.base import MiB


def test_registered_as_local() -> None:
    assert type(get_backend("local")) is local_module.LocalBackend


def test_runs_as_an_unprivileged_user(local_backend) -> None:
    expected = str(_local_host.NOBODY) if os.geteuid() == 0 else str(os.getuid())
    with local_backend.open(SandboxSpec()) as session:
        assert session.exec("id -u").stdout.strip() == expected


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A host directory everyone may traverse (a root-run sandbox runs as nobody; pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="lemur-sandbox-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_only_system_dirs_and_mounts_are_visible(local_backend, open_dir: Path) -> None:
    tmp_path = open_dir
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "input.txt").write_text("given")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    spec = SandboxSpec(mounts=(Mount(shared, "/data"), Mount(out, "/out", read_only=False)))
    with local_backend.open(spec) as session:
        listing = session.exec("ls -A /").stdout.split()
        assert set(listing) <= {".lemur", "bin", "data", "dev", "etc", "lib", "lib32", "lib64", "libx32", "out"} | {
            "proc",
            "sbin",
            "tmp",
            "usr",
            "work",
        }
        assert session.exec("cat /data/input.txt").stdout == "given"
        assert session.exec("echo x > /data/new.txt").exit_code != 0
        assert session.exec("ls -A /.lemur").stdout == ""
        assert session.exec("echo made > /out/result.txt").ok
    assert (out / "result.txt").read_text() == "made\n"
    assert not (shared / "new.txt").exists()


def test_missing_program_reports_127(local_backend) -> None:
    with local_backend.open(SandboxSpec()) as session:
        result = session.exec(["no-such-program-xyz"])
        assert result.exit_code == 127 and "no-such-program-xyz" in result.stderr


def test_large_binary_stdin(local_backend) -> None:
    data = os.urandom(3 * 1024 * 1024)
    with local_backend.open(SandboxSpec()) as session:
        result = session.exec("sha256sum | cut -c1-64", stdin=data)
        import hashlib

        assert result.stdout.strip() == hashlib.sha256(data).hexdigest()


def test_concurrent_execs_on_one_session(local_backend) -> None:
    outputs: dict[int, str] = {}
    with local_backend.open(SandboxSpec()) as session:

        def work(index: int) -> None:
            outputs[index] = session.exec(f"sleep 0.2; echo {index}").stdout

        threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert outputs == {index: f"{index}\n" for index in range(4)}


def test_reset_restores_tmp_and_stops_interpreters(local_backend) -> None:
    with local_backend.open(SandboxSpec(setup=("echo prepared > /tmp/p.txt",))) as session:
        shell = session.shell()
        shell.run("cd /tmp && echo changed > p.txt && mkdir p.d")
        changes = session.changes()
        assert [(c.path, c.kind) for c in changes] == [("/tmp/p.d", "added"), ("/tmp/p.txt", "modified")]
        session.reset()
        assert session.exec("cat /tmp/p.txt; ls /tmp").stdout == "prepared\np.txt\n"
        with pytest.raises(SandboxError, match="closed"):
            shell.run("true")


def test_type_change_is_deleted_then_added(local_backend) -> None:
    with local_backend.open(SandboxSpec(setup=("echo f > thing",))) as session:
        session.exec("rm thing && mkdir thing && touch thing/inner")
        kinds = [(c.path, c.kind) for c in session.changes()]
        assert kinds == [("/work/thing", "deleted"), ("/work/thing", "added"), ("/work/thing/inner", "added")]


def test_shell_exit_restarts_with_a_note(local_backend) -> None:
    with local_backend.open(SandboxSpec()) as session:
        shell = session.shell()
        shell.run("X=1")
        ended = shell.run("exit 3")
        assert "[lemur] the shell exited" in ended.stderr
        assert shell.run('echo "fresh:$X"').stdout == "fresh:\n"


def test_repl_that_cannot_be_interrupted_is_restarted(local_backend) -> None:
    with local_backend.open(SandboxSpec()) as session:
        repl = session.python()
        repl.run("x = 1")
        stuck = repl.run("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True: pass", timeout=0.5)
        assert stuck.timed_out and "restarted" in stuck.stderr
        after = repl.run("print('x' in globals())")
        assert after.stdout == "False\n"


def test_dead_supervisor_breaks_the_session_cleanly(local_backend) -> None:
    session = local_backend.open(SandboxSpec())
    try:
        (supervisor,) = [
            pid
            for pid in _descendants(session._holder.pid)
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/usr/bin/python3\0-I\0-S")
        ]
        os.kill(supervisor, signal.SIGKILL)
        with pytest.raises(SandboxError, match="broken|closed|supervisor"):
            for _ in range(50):
                session.exec("true")
    finally:
        session.close()


def _descendants(pid: int) -> list[int]:
    """Host pids below ``pid``, depth first (bwrap monitor -> sandbox init -> supervisor)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root-run sandbox changes user")
def test_mount_unreachable_by_sandbox_user_is_refused(local_backend, tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    with pytest.raises(SandboxError, match="not searchable by others"):
        local_backend.open(SandboxSpec(mounts=(Mount(tmp_path / ".", "/data"),)))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (SandboxSpec(workdir="/"), "workdir"),
        (SandboxSpec(workdir="relative"), "workdir"),
        (SandboxSpec(mounts=(Mount(Path("/definitely/not/here"), "/x"),)), "mount source"),
        (SandboxSpec(image="debian:12"), "takes no image"),
    ],
)
def test_invalid_specs_are_refused(local_backend, spec: SandboxSpec, message: str) -> None:
    with pytest.raises(SandboxError, match=message):
        local_backend.open(spec)


def test_missing_bubblewrap_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    local_module.probe.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
            local_module.LocalBackend().check_available()
    finally:
        local_module.probe.cache_clear()


def test_cli_sandbox_check(run_lemur, local_backend) -> None:
    result = run_lemur("envs", "sandbox-check", "--check", "exec_streams", "--check", "close")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "sandbox backend 'local': 2 conformance checks"
    assert lines[1].startswith("PASS   exec_streams") and lines[2].startswith("PASS   close")
    assert lines[-1] == "local: 2 passed, 0 failed, 0 known failures"


def test_cli_sandbox_check_errors(run_lemur) -> None:
    unknown = run_lemur("envs", "sandbox-check", "--backend", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().startswith("error: unknown sandbox 'nope'")
    bad_check = run_lemur("envs", "sandbox-check", "--check", "nope")
    assert bad_check.returncode == 2 and "unknown conformance check" in bad_check.stderr


def test_killed_host_process_leaves_nothing_behind(local_backend, leftovers, processes_matching) -> None:
    marker = "lemurorphan" + os.urandom(6).hex()
    script = (
        "import sys, time\n"
        "from lemur.envs.sandbox import SandboxSpec, get_backend\n"
        "session = get_backend('local').open(SandboxSpec())\n"
        "shell = session.shell()\n"
        f"shell.run('sleep 300 & # {marker}')\n"
        "print('ready', flush=True)\n"
        f"session.exec('sleep 300 # {marker}', timeout=300)\n"
    )
    host = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None and host.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 5
        while len(processes_matching(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(processes_matching(marker)) >= 2  # the shell's and the exec's sleep
        host.kill()
        host.wait()
    finally:
        if host.poll() is None:
            host.kill()
    assert leftovers(marker) == []


def test_commands_cannot_create_namespaces(local_backend) -> None:
    with local_backend.open(SandboxSpec()) as session:
        result = session.exec("unshare --user --map-root-user true && echo made-a-namespace")
        assert result.exit_code != 0 and "made-a-namespace" not in result.stdout, result
        assert session.exec("bwrap --bind / / true && echo nested").stdout == ""


def test_memory_is_limited_across_processes(local_backend) -> None:
    # Each process stays under the per-process limit (RLIMIT_AS); together they pass the sandbox's.
    limits = Limits(memory_bytes=300 * MiB, processes=32)
    hog = (
        "import os, time\n"
        "for _ in range(6):\n"
        "    if os.fork() == 0:\n"
        "        block = bytearray(120 * 1024 * 1024)\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "time.sleep(30)\n"
    )
    with local_backend.open(SandboxSpec(limits=limits)) as session:
        result = session.exec(["python3", "-c", hog], timeout=20)
        assert not result.timed_out and result.limit == "memory" and result.exit_code == 137, result
        assert session.exec("echo fine").stdout == "fine\n"
