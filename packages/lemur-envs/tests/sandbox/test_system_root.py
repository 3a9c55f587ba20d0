"""The local backend on a prepared system tree (``SandboxSpec.system_root``) instead of the host's.

Most tests need InterCode-Bash's tree (``lemur envs build-root intercode-bash``; CI builds it)
and skip with that command when it is absent. The hostile suite runs again on the tree.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lemur.envs.sandbox import SandboxError, SandboxSpec, Session, get_backend
from lemur.envs.sandbox._local_host import DOCKER_HOSTS, PRIVATE_BWRAP, nested_bwrap
from lemur.envs.sandbox.system_roots import find_root

sys.path.insert(0, str(Path(__file__).parent))
from test_hostile import (  # noqa: F401 - collected again here, on the system tree (``session`` below)
    LIMITS,
    marker,
    test_daemon_outliving_timeout,
    test_filling_the_disk,
    test_fork_bomb,
    test_host_loopback_server_untouched,
    test_host_secret_stays_unread,
    test_killing_the_parent,
    test_memory_hog,
    test_rm_rf_root_and_system_writes,
)


@pytest.fixture(scope="module")
def tree() -> Path:
    """InterCode-Bash's system tree; skips with the command that builds it when it is absent."""
    found = find_root("intercode-bash")
    if found is None:
        pytest.skip("InterCode-Bash's system tree is not built; run `lemur envs build-root intercode-bash`")
    return found


@pytest.fixture
def session(local_backend, tree: Path) -> Iterator[Session]:
    """The hostile suite's session, on the tree (root on the tree: see the vandalism test below)."""
    spec = SandboxSpec(limits=LIMITS, system_root=str(tree))
    with local_backend.open(spec) as opened:
        yield opened


def _tree_state(tree: Path) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime) of every entry of the tree's system directories, to see that nothing changed."""
    state = {}
    tops = [tree / top for top in ("usr/bin", "usr/sbin", "usr/lib/lemur", "etc")] + sorted(
        tree.glob("usr/lib/python3.*")
    )
    for top in tops:
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                info = os.lstat(os.path.join(root, name))
                state[os.path.join(root, name)] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return state


def test_spec_checks_need_no_tree(local_backend, tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="not an absolute path"):
        local_backend.open(SandboxSpec(system_root="relative/tree"))
    (tmp_path / "usr" / "bin").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    with pytest.raises(SandboxError, match=r"no /usr/bin/python3"):
        local_backend.open(SandboxSpec(system_root=str(tmp_path)))
    (tmp_path / "usr" / "bin" / "python3").write_text("")
    with pytest.raises(SandboxError, match=r"no /usr/bin/bwrap"):
        local_backend.open(SandboxSpec(system_root=str(tmp_path)))
    # A tree whose release's bubblewrap is too old keeps one of its own, with its loader and libraries.
    (tmp_path / PRIVATE_BWRAP.lstrip("/")).mkdir(parents=True)
    with pytest.raises(SandboxError, match=rf"no {PRIVATE_BWRAP}/bwrap"):
        local_backend.open(SandboxSpec(system_root=str(tmp_path)))


def test_a_private_bubblewrap_starts_the_commands(local_backend, tree: Path) -> None:
    private = tree / PRIVATE_BWRAP.lstrip("/")
    if not private.is_dir():
        pytest.skip(f"this tree's own bubblewrap is recent enough; it keeps none in {PRIVATE_BWRAP}")
    assert nested_bwrap(str(tree))[-1] == f"{PRIVATE_BWRAP}/bwrap"
    for spec in (SandboxSpec(system_root=str(tree)), SandboxSpec(system_root=str(tree), run_as_root=True)):
        with local_backend.open(spec) as session:
            # The commands run on the tree's own C library, not the one that bwrap brought, and
            # --disable-userns (what the tree's own bubblewrap lacked) holds: no namespace of their own.
            ldd = session.exec("ldd /bin/ls")
            assert ldd.ok and "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6" in ldd.stdout, ldd
            unshare = session.exec("unshare --user --map-root-user id -u")
            assert not unshare.ok and unshare.stdout == "", unshare


def test_docker_refuses_a_system_root(tmp_path: Path) -> None:
    pytest.importorskip("docker", reason="the docker backend needs the docker package")
    with pytest.raises(SandboxError, match="system_root .* is the local backend's"):
        get_backend("docker").open(SandboxSpec(system_root=str(tmp_path)))


def test_commands_see_the_trees_system_directories_not_the_hosts(local_backend, tree: Path) -> None:
    with local_backend.open(SandboxSpec(system_root=str(tree))) as session:
        listing = session.exec("ls -A /usr/bin /usr/sbin")
        assert listing.ok, listing
        inside = listing.stdout.split("\n\n")
        assert inside[0].splitlines()[1:] == sorted(os.listdir(tree / "usr" / "bin"), key=lambda n: n.encode())
        assert inside[1].splitlines()[1:] == sorted(os.listdir(tree / "usr" / "sbin"), key=lambda n: n.encode())
        host_only = sorted(set(os.listdir("/usr/bin")) - set(os.listdir(tree / "usr" / "bin")))
        assert host_only, "the host has no tool the tree lacks; nothing tells them apart"
        assert not session.exec(["test", "-e", f"/usr/bin/{host_only[0]}"]).ok
        os_release = (tree / "usr" / "lib" / "os-release").read_text()
        assert session.exec("cat /etc/os-release").stdout == os_release
        # The tree's own Python runs the supervisor and the commands' python3.
        version = session.exec("python3 -c 'import sys; print(sys.executable, sys.version.split()[0])'").stdout.split()
        assert (
            version[0] == "/usr/bin/python3"
            and (tree / "usr" / "lib" / f"python{version[1].rsplit('.', 1)[0]}").is_dir()
        )


def test_identity_is_the_sandboxs_own(local_backend, tree: Path) -> None:
    with local_backend.open(SandboxSpec(system_root=str(tree))) as session:
        result = session.exec("whoami; hostname; uname -n; cat /etc/hostname; getent hosts sandbox")
        assert result.stdout.split() == ["sandbox"] * 4 + ["172.17.0.2", "sandbox"], result
        assert session.exec("cat /etc/hosts").stdout == DOCKER_HOSTS
        # The tree's system users are kept (InterCode's image had them).
        assert session.exec("getent passwd daemon bin").stdout.count("\n") == 2
    spec = SandboxSpec(system_root=str(tree), run_as_root=True, writable_root=True)
    with local_backend.open(spec) as session:
        result = session.exec("whoami; id -gn; echo $HOME; stat -c %U:%G /usr/bin/ls /etc/passwd; ls -ld /root")
        lines = result.stdout.splitlines()
        assert lines[:5] == ["root", "root", "/root", "root:root", "root:root"], result
        assert lines[5].startswith("drwx------") and " root root " in lines[5], result
        # The host root's /proc/tty/driver is masked, so root's walk of / ends cleanly, as in a container.
        walk = session.exec("find /proc/tty /usr/share/doc -name '*.php'")
        assert walk.ok and walk.stdout == walk.stderr == "", walk


def test_root_system_directories_on_the_tree_reset_and_leave_it_intact(local_backend, tree: Path) -> None:
    before = _tree_state(tree)
    spec = SandboxSpec(system_root=str(tree), run_as_root=True, writable_root=True)
    with local_backend.open(spec) as session:
        hosts = session.exec("cat /etc/hosts").stdout
        write = session.exec("echo 10.0.0.1 db >> /etc/hosts && mkdir /usr/new && touch /usr/new/x /var/y && echo ok")
        assert write.stdout == "ok\n", write
        for attempt in ("echo x > /usr/bin/ls", "touch /usr/bin/new", "rm /usr/lib/os-release", "chmod 777 /usr/bin"):
            result = session.exec(attempt)
            assert not result.ok and "Read-only file system" in result.stderr, (attempt, result)
        session.exec("rm -rf --no-preserve-root / 2>/dev/null")
        session.reset()
        assert session.exec("cat /etc/hosts").stdout == hosts
        assert not session.exec("ls -d /usr/new /var/y").ok
        assert int(session.exec("ls /usr/bin | wc -l").stdout) == len(os.listdir(tree / "usr" / "bin"))
    assert _tree_state(tree) == before


def test_tree_is_the_sandbox_users_and_keeps_set_id_bits(tree: Path) -> None:
    # Built as root, the tree is nobody's (the sandbox's user, root inside); set-uid bits survive the chown.
    passwd = tree / "usr" / "bin" / "passwd"
    info = os.lstat(passwd)
    assert info.st_mode & stat.S_ISUID, oct(info.st_mode)
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (65534, 65534)
    else:
        assert info.st_uid == os.getuid()
