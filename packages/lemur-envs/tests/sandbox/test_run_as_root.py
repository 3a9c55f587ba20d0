"""``SandboxSpec(run_as_root=True)`` on the ``local`` backend: root of the command's own user namespace only."""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lemur.envs.sandbox import FileChange, Limits, Mount, SandboxSpec, Session
from lemur.envs.sandbox._local_host import ROOT_CAPABILITIES
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
#: Bit numbers of the capabilities in ``include/uapi/linux/capability.h``.
CAPABILITY_BITS = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_RAW": 13,
    "CAP_SYS_CHROOT": 18,
    "CAP_MKNOD": 27,
    "CAP_AUDIT_WRITE": 29,
    "CAP_SETFCAP": 31,
}


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A host directory everyone may traverse (a root-run lemur's sandbox is nobody on the host)."""
    path = Path(tempfile.mkdtemp(prefix="lemur-sandbox-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def root_session(local_backend) -> Iterator[Session]:
    with local_backend.open(SandboxSpec(limits=LIMITS, run_as_root=True)) as opened:
        yield opened


NEXT_RUN = "echo still-alive && python3 -c 'print(6 * 7)'"


def assert_next_run_works(session: Session) -> None:
    result = session.exec(NEXT_RUN)
    assert result.ok and result.stdout == "still-alive\n42\n", result


def test_commands_are_root_with_dockers_capabilities_only(root_session: Session) -> None:
    assert root_session.exec("id -u; id -g; id -un; echo $USER").stdout == "0\n0\nroot\nroot\n"
    status = root_session.exec("cat /proc/self/status").stdout
    effective = int(next(line for line in status.splitlines() if line.startswith("CapEff:")).split()[1], 16)
    assert effective == sum(1 << CAPABILITY_BITS[name] for name in ROOT_CAPABILITIES)
    # Root overrides file permissions and owns what it makes, as in a container.
    script = "echo s > /work/f && chmod 000 /work/f && cat /work/f && stat -c '%U %G' /work/f && chown 0:0 /work/f"
    assert root_session.exec(script).stdout == "s\nroot root\n"


def test_root_cannot_mount_make_namespaces_or_map_other_users(root_session: Session) -> None:
    for attack in (
        "mount -t tmpfs none /work",
        "mount -o remount,rw /usr",
        "umount -l /usr",
        "unshare --user --map-root-user true",
        "bwrap --bind / / true",
        "touch /work/f && chown 1000 /work/f",
        "hostname evil",
        "echo 0 > /proc/sys/kernel/printk",
    ):
        result = root_session.exec(attack)
        assert result.exit_code != 0, (attack, result)
    assert root_session.exec("touch /usr/lemur-evil /etc/lemur-evil 2>&1; ls /usr/lemur-evil").exit_code != 0
    assert not Path("/usr/lemur-evil").exists()


def test_host_files_stay_out_of_roots_reach(local_backend, open_dir: Path) -> None:
    token = secrets.token_hex(16)
    (open_dir / "secret.txt").write_text(token)
    (open_dir / "secret.txt").chmod(0o600)
    spec = SandboxSpec(limits=LIMITS, run_as_root=True, mounts=(Mount(open_dir, "/data"),))
    with local_backend.open(spec) as session:
        # The host's root owns the file, and no user of the sandbox maps to it: DAC_OVERRIDE does not apply.
        for probe in ("cat /data/secret.txt", "cp /data/secret.txt /work/", "cat /etc/shadow"):
            result = session.exec(probe + " 2>&1")
            assert token not in result.stdout and result.exit_code != 0, probe
        assert session.exec("echo x > /data/new").exit_code != 0
    assert sorted(path.name for path in open_dir.iterdir()) == ["secret.txt"]


def test_process_limit_holds_for_root(root_session: Session, leftovers) -> None:
    marker = "lemurroot" + secrets.token_hex(6)
    root_session.write_file(f"/work/{marker}.sh", "bomb() { bomb | bomb & }; bomb\nsleep 30\n")
    result = root_session.exec(["sh", f"/work/{marker}.sh"], timeout=3.0)
    assert (result.timed_out and result.limit == "wall_time") or result.limit == "processes", result
    assert leftovers(marker) == []
    # Root of a user namespace is not exempt from RLIMIT_NPROC: the 65th process cannot start.
    spawn = (
        "import os, time\n"
        "made = 0\n"
        "try:\n"
        "    for _ in range(200):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(5)\n"
        "            os._exit(0)\n"
        "        made += 1\n"
        "except OSError as error:\n"
        "    print('refused', error.errno, made)\n"
    )
    outcome = root_session.exec(["python3", "-c", spawn], timeout=20)
    assert outcome.stdout.startswith("refused 11 "), outcome
    assert int(outcome.stdout.split()[2]) < LIMITS.processes
    # A command's result arrives before the kernel has torn its 60-odd sleeping children down
    # (milliseconds, longer on a loaded machine); until then they count against the limit, and
    # they end by themselves within 5 s. The session must work again by then.
    deadline = time.monotonic() + 10
    while not root_session.exec(NEXT_RUN).ok and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_next_run_works(root_session)


def test_memory_and_disk_limits_hold_for_root(local_backend) -> None:
    limits = dataclasses.replace(LIMITS, memory_bytes=300 * MiB, processes=32)
    hog = (
        "import os, time\n"
        "for _ in range(6):\n"
        "    if os.fork() == 0:\n"
        "        block = bytearray(120 * 1024 * 1024)\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "time.sleep(30)\n"
    )
    with local_backend.open(SandboxSpec(limits=limits, run_as_root=True)) as session:
        result = session.exec(["python3", "-c", hog], timeout=20)
        assert result.limit == "memory" and result.exit_code == 137, result
        result = session.exec("cat /dev/zero > /work/fill.bin", timeout=30)
        assert result.exit_code != 0 and result.limit == "disk", result
        assert session.exec("rm /work/fill.bin").ok
        assert_next_run_works(session)


SYSTEM_WRITES = (
    "echo 10.0.0.9 db >> /etc/hosts && mkdir -p /var/log/app && echo up > /var/log/app/run.log && "
    "cp -r /testbed /usr/testbed && ln -s /testbed /root/link && echo ok"
)


def test_system_dirs_are_roots_and_reset_on_a_writable_root(local_backend) -> None:
    spec = SandboxSpec(workdir="/testbed", writable_root=True, run_as_root=True, setup=("echo a > /testbed/a",))
    with local_backend.open(spec) as session:
        assert session.changes() == []
        assert session.exec("echo $HOME; stat -c '%U %a' /root /etc /etc/hosts /var/tmp").stdout == (
            "/root\nroot 700\nroot 755\nroot 644\nroot 1777\n"
        )
        hosts = session.exec("cat /etc/hosts").stdout
        assert session.exec(SYSTEM_WRITES).stdout == "ok\n"
        assert session.changes() == [
            FileChange("/etc/hosts", "modified"),
            FileChange("/root/link", "added"),
            FileChange("/usr/testbed", "added"),
            FileChange("/usr/testbed/a", "added"),
            FileChange("/var/log/app", "added"),
            FileChange("/var/log/app/run.log", "added"),
        ]
        # What /usr held stays the host's, read-only, and cannot be moved away.
        for attack in ("echo x > /usr/bin/evil", "rm /usr/bin/sh", "mv /usr/bin /usr/b", "rm -rf /usr/lib"):
            assert session.exec(attack).exit_code != 0, attack
        assert session.exec("ls /usr/bin/sh").ok
        session.reset()
        assert session.changes() == []
        assert session.exec("cat /etc/hosts").stdout == hosts
        assert session.exec("ls /usr/testbed /root/link /var/log/app").exit_code != 0
        assert session.exec(SYSTEM_WRITES).stdout == "ok\n"  # the restored tree works the same way again
    assert not Path("/usr/testbed").exists()


def test_root_can_vandalise_its_root_and_reset_repairs_it(local_backend) -> None:
    spec = SandboxSpec(workdir="/testbed", writable_root=True, run_as_root=True, limits=LIMITS)
    with local_backend.open(spec) as session:
        session.exec("rm -rf --no-preserve-root / 2>/dev/null; chmod 000 / /etc /usr", timeout=30)
        assert Path("/usr/bin/python3").exists() and Path("/etc/passwd").exists()
        session.reset()
        for _ in range(3):
            assert session.exec("ls /etc/passwd /usr/bin/sh && id -un").stdout == "/etc/passwd\n/usr/bin/sh\nroot\n"
