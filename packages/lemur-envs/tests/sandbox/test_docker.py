"""What is specific to the ``docker`` backend: its supervisor and init under attack, the docker0
gateway, reset/changes, container cleanup, and its error messages. The conformance and
hostile-code suites run against it through the ``backend`` fixture (test_conformance.py,
test_hostile.py).

Tests that need a daemon skip, with the reason, when none answers (``DOCKER_HOST`` honoured) or
the image is missing (``tools/build_base_image.sh`` builds it); CI starts dockerd and builds it.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time

import pytest

from lemur.envs.sandbox._docker_results import diff_manifests
from lemur.envs.sandbox.base import FileChange, Limits, MiB, SandboxSpec, SandboxUnavailableError
from lemur.envs.sandbox.docker import LABEL, DockerBackend

SMALL = Limits(wall_seconds=10.0, cpu_seconds=5, memory_bytes=512 * MiB, processes=64, disk_bytes=64 * MiB)


@pytest.fixture(scope="module")
def docker_backend() -> DockerBackend:
    """A docker backend whose daemon answers and whose default image exists; skips otherwise."""
    pytest.importorskip("docker", reason="the docker SDK is not installed (pip install 'lemur-envs[docker]')")
    chosen = DockerBackend()
    try:
        chosen.check_available()
    except SandboxUnavailableError as error:
        pytest.skip(f"docker backend unavailable: {error}")
    return chosen


@pytest.fixture(scope="module")
def session(docker_backend: DockerBackend):
    """One shared session; every hostile test ends by checking the session still works."""
    with docker_backend.open(SandboxSpec(limits=SMALL, setup=("echo prepared > /work/prepared.txt",))) as opened:
        yield opened


def assert_still_works(session) -> None:
    """The next command runs normally, and nothing the previous one started is still alive."""
    result = session.exec("echo alive; ls /proc | grep -c '^[0-9]'")
    lines = result.stdout.split()
    assert result.ok and lines[0] == "alive", result
    # PID 1 (init), the supervisor, sh, ls and grep: nothing else survives a command.
    assert int(lines[1]) <= 6, session.exec("ps -eo pid,ppid,stat,args").stdout


# -- hostile code ---------------------------------------------------------------------------------
@pytest.mark.docker
def test_host_loopback_and_docker_gateway_are_unreachable(session) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    script = (
        "import socket\n"
        f"for host in ('127.0.0.1', '172.17.0.1', 'host.docker.internal'):\n"
        "    try:\n"
        f"        socket.create_connection((host, {port}), timeout=2); print('reached', host)\n"
        "    except OSError:\n"
        "        print('unreachable')\n"
    )
    try:
        result = session.exec(["python3", "-c", script], timeout=15)
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
    assert result.stdout == "unreachable\n" * 3, result
    assert accepted == []


@pytest.mark.docker
def test_daemonized_child_does_not_outlive_its_command(session) -> None:
    script = "setsid sh -c 'sleep 1; echo escaped > /work/escaped.txt' </dev/null >/dev/null 2>&1 & sleep 30"
    result = session.exec(script, timeout=0.5)
    assert result.timed_out, result
    time.sleep(1.5)
    assert session.exec("test -e /work/escaped.txt").exit_code == 1
    # Also when the command exits at once and leaves the daemon behind.
    session.exec("nohup setsid sleep 60 >/dev/null 2>&1 &")
    assert_still_works(session)


@pytest.mark.docker
def test_killing_the_supervisor_and_init_is_survived(session) -> None:
    killed = session.exec("kill -9 $PPID; sleep 30", timeout=3)
    assert killed.exit_code != 0, killed
    stopped = session.exec("kill -STOP $PPID; sleep 30", timeout=1)
    assert stopped.timed_out and stopped.limit == "wall_time", stopped
    init = session.exec("kill -9 1; echo $?")
    assert init.stdout.strip() != "" and init.ok
    assert_still_works(session)


@pytest.mark.docker
def test_commands_cannot_reach_the_server_pipes(session) -> None:
    result = session.exec("printf 'DXXXX{}' > /proc/$PPID/fd/1 && echo forged; ls /proc/$PPID/fd 2>&1 | head -1")
    assert "forged" not in result.stdout and "Permission denied" in result.stdout + result.stderr, result
    assert session.exec("echo fine").stdout == "fine\n"


@pytest.mark.docker
def test_command_server_killed_between_commands_is_replaced(session) -> None:
    server = session.exec("echo $PPID").stdout.strip()
    shell = session.shell()
    try:
        assert shell.run(f"kill -9 {server}; echo sent").stdout == "sent\n"
    finally:
        shell.close()
    after = session.exec("echo $PPID; echo ok")
    assert after.ok and after.stdout.split()[1] == "ok" and after.stdout.split()[0] != server, after
    assert_still_works(session)


@pytest.mark.docker
def test_direct_exec_path_when_the_server_is_unavailable(docker_backend: DockerBackend) -> None:
    limits = dataclasses.replace(SMALL, output_bytes=1000)
    with docker_backend.open(SandboxSpec(limits=limits)) as opened:
        opened._serve = False  # as on an image whose python3 lacks os.pidfd_open
        result = opened.exec("cat; echo err >&2; exit 4", stdin="in\n")
        assert (result.exit_code, result.stdout, result.stderr) == (4, "in\n", "err\n")
        cut = opened.exec("head -c 50000000 /dev/zero", timeout=20)
        assert cut.truncated and cut.limit == "output" and len(cut.stdout) == 1000
        timed = opened.exec("(sleep 30 &); sleep 30", timeout=0.5)
        assert timed.timed_out and timed.limit == "wall_time"
        opened.write_file("x.txt", "1")
        assert opened.read_file("/work/x.txt") == b"1"
        with pytest.raises(FileNotFoundError):
            opened.read_file("missing.txt")
        assert opened.changes() == [FileChange("/work/x.txt", "added")]
        opened.reset()
        assert opened.changes() == []
        assert_still_works(opened)


# -- reset and changes ----------------------------------------------------------------------------
@pytest.mark.docker
def test_reset_restores_and_is_fast(docker_backend: DockerBackend) -> None:
    setup = ("mkdir -p /work/repo && for i in $(seq 50); do echo line$i > /work/repo/f$i.txt; done",)
    with docker_backend.open(SandboxSpec(limits=SMALL, setup=setup)) as opened:
        opened.exec("rm /work/repo/f1.txt; echo x >> /work/repo/f2.txt; chmod 000 /work/repo; mkdir /tmp/new")
        assert opened.changes() == [
            FileChange("/tmp/new", "added"),
            FileChange("/work/repo/f1.txt", "deleted"),
            FileChange("/work/repo/f2.txt", "modified"),
        ]
        timings = []
        for _ in range(3):
            began = time.monotonic()
            opened.reset()
            timings.append(time.monotonic() - began)
            assert opened.changes() == []
        assert opened.exec("cat /work/repo/f1.txt /work/repo/f50.txt").stdout == "line1\nline50\n"
        assert min(timings) < 1.0, timings


@pytest.mark.docker
def test_reset_kills_interpreters_and_processes(docker_backend: DockerBackend) -> None:
    with docker_backend.open(SandboxSpec(limits=SMALL)) as opened:
        shell = opened.shell()
        assert shell.run("export KEEP=1; echo $KEEP").stdout == "1\n"
        opened.reset()
        assert opened.exec("ls /proc | grep -c '^[0-9]'").stdout.strip() in {"4", "5", "6"}


@pytest.mark.docker
def test_close_removes_the_container(docker_backend: DockerBackend) -> None:
    opened = docker_backend.open(SandboxSpec(limits=SMALL))
    container_id = opened.container.id
    opened.close()
    remaining = docker_backend.client().containers.list(all=True, filters={"label": LABEL})
    assert container_id not in {container.id for container in remaining}


def _forward(client: socket.socket, unix_path: str) -> None:
    """Relay one TCP connection to the daemon's unix socket, passing half-closes on."""
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(unix_path)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(1 << 16):
                target.sendall(chunk)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


@pytest.mark.docker
def test_docker_host_over_tcp_is_honoured(docker_backend: DockerBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    current = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not current.startswith("unix://"):
        pytest.skip(f"the TCP relay needs a local unix-socket daemon; DOCKER_HOST is {current}")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            _forward(connection, current.removeprefix("unix://"))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    try:
        remote = DockerBackend()
        with remote.open(SandboxSpec(limits=SMALL, setup=("echo a > f",))) as opened:
            assert remote.client().api.base_url.startswith("http://127.0.0.1:")
            result = opened.exec("cat; echo err >&2", stdin="over tcp\n")
            assert (result.stdout, result.stderr) == ("over tcp\n", "err\n")
            assert opened.exec("sleep 5", timeout=0.5).timed_out
            opened.write_file("g", b"\x00\xff")
            assert opened.read_file("g") == b"\x00\xff"
            assert opened.changes() == [FileChange("/work/g", "added")]
            opened.reset()
            assert opened.changes() == []
            shell = opened.shell()
            try:
                assert shell.run("cd /tmp && X=7").ok and shell.run('echo "$X $(pwd)"').stdout == "7 /tmp\n"
            finally:
                shell.close()
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


# -- without a daemon -----------------------------------------------------------------------------
def test_unreachable_daemon_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("docker", reason="the docker SDK is not installed (pip install 'lemur-envs[docker]')")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/lemur-test.sock")
    with pytest.raises(SandboxUnavailableError) as caught:
        DockerBackend().check_available()
    message = str(caught.value)
    assert "unix:///nonexistent/lemur-test.sock" in message and "dockerd" in message and "DOCKER_HOST" in message
    assert "\n" not in message


def test_cli_build_image_without_daemon_exits_2(run_lemur) -> None:
    pytest.importorskip("docker", reason="the docker SDK is not installed (pip install 'lemur-envs[docker]')")
    completed = run_lemur("envs", "build-image", env={"DOCKER_HOST": "unix:///nonexistent/lemur-test.sock"})
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: no Docker daemon answers at unix:///nonexistent/lemur-test.sock")
    assert "systemctl start docker" in completed.stderr


@pytest.mark.docker
def test_cli_build_image_on_the_existing_base(docker_backend: DockerBackend, run_lemur) -> None:
    client = docker_backend.client()
    if not client.images.list(name="lemur/base"):
        pytest.skip("lemur/base:bookworm is absent; building it needs root and minutes (tools/build_base_image.sh)")
    completed = run_lemur("envs", "build-image", "--tag", "lemur/sandbox:cli-test", timeout=300)
    try:
        assert completed.returncode == 0, completed.stderr
        assert "lemur/base:bookworm exists; skipping the bootstrap" in completed.stderr
        image = client.images.get("lemur/sandbox:cli-test")
        assert image.attrs["Config"]["User"] == "1000:1000"
    finally:
        client.images.remove("lemur/sandbox:cli-test", noprune=True, force=True)


@pytest.mark.docker
def test_missing_image_names_the_build_command(docker_backend: DockerBackend) -> None:
    with pytest.raises(SandboxUnavailableError, match="lemur/no-such-image:v0"):
        docker_backend.open(SandboxSpec(image="lemur/no-such-image:v0"))


# -- manifest comparison (no daemon) --------------------------------------------------------------
def _file(path: str, content: str, mode: int = 0o644, mtime: int = 1) -> dict[str, object]:
    import hashlib

    digest = hashlib.sha256(content.encode()).hexdigest()
    return {"path": path, "type": "file", "mode": mode, "size": len(content), "mtime": mtime, "sha256": digest}


def test_diff_manifests_classifies_changes() -> None:
    before = {
        "/work/same": _file("/work/same", "a"),
        "/work/touched": _file("/work/touched", "b", mtime=1),
        "/work/edited": _file("/work/edited", "c"),
        "/work/chmod": _file("/work/chmod", "d"),
        "/work/gone": _file("/work/gone", "e"),
        "/work/swap": _file("/work/swap", "f"),
        "/work/dir": {"path": "/work/dir", "type": "dir", "mode": 0o755, "size": 0, "mtime": 0},
    }
    after = {
        "/work/same": _file("/work/same", "a"),
        "/work/touched": _file("/work/touched", "b", mtime=99),
        "/work/edited": _file("/work/edited", "C"),
        "/work/chmod": _file("/work/chmod", "d", mode=0o600),
        "/work/swap": {"path": "/work/swap", "type": "dir", "mode": 0o755, "size": 0, "mtime": 0},
        "/work/dir": {"path": "/work/dir", "type": "dir", "mode": 0o700, "size": 0, "mtime": 0},
        "/work/new": _file("/work/new", "g"),
    }
    assert diff_manifests(before, after) == [
        FileChange("/work/chmod", "modified"),
        FileChange("/work/edited", "modified"),
        FileChange("/work/gone", "deleted"),
        FileChange("/work/new", "added"),
        FileChange("/work/swap", "added"),
        FileChange("/work/swap", "deleted"),
    ]


def test_spec_limits_map_to_container_options() -> None:
    pytest.importorskip("docker", reason="the docker SDK is not installed (pip install 'lemur-envs[docker]')")
    from lemur.envs.sandbox.docker import container_options

    limits = dataclasses.replace(SMALL, processes=77, file_size_bytes=5 * MiB)
    options = container_options(SandboxSpec(limits=limits, network=False))
    assert options["network_mode"] == "none" and options["read_only"] is True
    assert options["cap_drop"] == ["ALL"] and options["security_opt"] == ["no-new-privileges"]
    assert options["pids_limit"] == 77 and options["user"] == "1000:1000"
    assert "size=67108864" in options["tmpfs"]["/work"]
    assert {(u["Name"], u["Hard"]) for u in options["ulimits"]} >= {("fsize", 5 * MiB), ("cpu", 6)}
    assert container_options(SandboxSpec(network=True))["network_mode"] == "bridge"
    assert os.path.basename(options["command"][0]) == "python3"
