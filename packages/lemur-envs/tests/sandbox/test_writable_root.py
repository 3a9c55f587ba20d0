"""``SandboxSpec(writable_root=True)`` on the ``local`` backend: a writable, resettable top level of ``/``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lemur.envs.sandbox import FileChange, Limits, Mount, SandboxError, SandboxSpec, get_backend
from lemur.envs.sandbox.base import MiB

SETUP = ("echo prepared > /setup.txt", "mkdir -p /var/log && echo one > /var/log/app.log")


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A host directory everyone may traverse (a root-run sandbox runs as nobody)."""
    path = Path(tempfile.mkdtemp(prefix="lemur-sandbox-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_root_stays_read_only_by_default(local_backend) -> None:
    with local_backend.open(SandboxSpec(workdir="/testbed")) as session:
        result = session.exec("echo x > /new.txt")
        assert result.exit_code != 0
        assert "Read-only file system" in result.stderr


def test_top_level_writes_are_tracked_and_reset(local_backend) -> None:
    with local_backend.open(SandboxSpec(workdir="/testbed", writable_root=True, setup=SETUP)) as session:
        assert session.changes() == []
        script = "echo tar > /backup.tar && rm /setup.txt && echo two >> /var/log/app.log && echo w > /testbed/w"
        assert session.exec(script).ok
        assert session.changes() == [
            FileChange("/backup.tar", "added"),
            FileChange("/setup.txt", "deleted"),
            FileChange("/testbed/w", "added"),
            FileChange("/var/log/app.log", "modified"),
        ]
        session.reset()
        assert session.changes() == []
        assert session.exec("cat /setup.txt /var/log/app.log").stdout == "prepared\none\n"
        assert session.exec("test -e /backup.tar || echo gone").stdout == "gone\n"


def test_reset_recovers_a_vandalised_root(local_backend) -> None:
    with local_backend.open(SandboxSpec(workdir="/testbed", writable_root=True, setup=SETUP)) as session:
        session.exec("rm -f /bin /lib; mkdir /bin; chmod 000 /var /")
        session.reset()
        for _ in range(3):  # every command after the reset, not just the first, sees the restored root
            result = session.exec("cat /setup.txt && ls /bin/sh")
            assert result.ok, result
            assert result.stdout == "prepared\n/bin/sh\n"


def test_system_dirs_and_read_only_mounts_stay_read_only(local_backend, open_dir: Path) -> None:
    (open_dir / "input.txt").write_text("given")
    out = open_dir / "out"
    out.mkdir()
    out.chmod(0o777)
    spec = SandboxSpec(
        workdir="/testbed",
        writable_root=True,
        mounts=(Mount(open_dir / "input.txt", "/data/input.txt"), Mount(out, "/out", read_only=False)),
    )
    with local_backend.open(spec) as session:
        for path in ("/usr/new", "/etc/new", "/data/input.txt", "/proc/new"):
            assert session.exec(f"echo x > {path}").exit_code != 0, path
        assert session.exec("cat /data/input.txt").stdout == "given"
        assert session.exec("echo made > /out/result.txt").ok
        # Nothing of the host beyond the default view: the supervisor's areas stay hidden.
        listing = set(session.exec("ls -A /").stdout.split())
        assert listing <= {"bin", "data", "dev", "etc", "lib", "lib32", "lib64", "libx32", "out", "proc"} | {
            "sbin",
            "testbed",
            "tmp",
            "usr",
        }
        assert session.exec("echo x > /new.txt && rm -rf /data && ls /data/input.txt").exit_code != 0
    assert (out / "result.txt").read_text() == "made\n"
    assert (open_dir / "input.txt").read_text() == "given"


def test_root_shares_the_disk_limit(local_backend) -> None:
    limits = Limits(disk_bytes=16 * MiB, file_size_bytes=64 * MiB)
    with local_backend.open(SandboxSpec(workdir="/testbed", writable_root=True, limits=limits)) as session:
        result = session.exec("head -c 32M /dev/zero > /fill.bin")
        assert result.exit_code != 0 and result.limit == "disk", result
        assert session.exec("rm /fill.bin && echo ok").stdout == "ok\n"


def test_docker_refuses_writable_root() -> None:
    with pytest.raises(SandboxError, match="writable_root"):
        get_backend("docker").open(SandboxSpec(writable_root=True))


def test_redirected_mount_point_exposes_nothing_and_resets(local_backend, open_dir: Path) -> None:
    (open_dir / "input.txt").write_text("given")
    spec = SandboxSpec(
        workdir="/testbed", writable_root=True, mounts=(Mount(open_dir / "input.txt", "/data/input.txt"),)
    )
    with local_backend.open(spec) as session:
        # Moving a mount point's parent away (to put a link in its place, so the next command's
        # mounts land elsewhere) is refused: the parent is a mount point too.
        for attack in ("mv /data /moved", "rm -rf /data"):
            result = session.exec(attack)
            assert result.exit_code != 0 and "busy" in result.stderr, result
        session.exec("ln -sfn usr/share /data")
        for _ in range(5):  # fresh commands still start and see the mount where it was
            assert session.exec("cat /data/input.txt").stdout == "given"
        assert session.exec("echo x > /data/input.txt").exit_code != 0
        session.reset()
        assert session.exec("cat /data/input.txt").stdout == "given"
    assert (open_dir / "input.txt").read_text() == "given"
