"""How the ``local`` backend's bubblewrap is put together on the host: checks and arguments.

The system directories and the prepared ``/etc`` the sandbox sees (the host's, or those of a
prepared root file system, ``SandboxSpec.system_root``), the user it runs as, the one-time probe
that bubblewrap works here, and the launch script a stub runs.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from lemur.envs.sandbox.base import SandboxError

#: Host uid the sandbox runs as when the host process is root.
NOBODY = 65534
#: Capabilities a ``run_as_root`` command holds, in its own user namespace only: Docker's default
#: set for a container. None of them lets it mount, make namespaces or raise a limit.
ROOT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
    "CAP_MKNOD",
    "CAP_AUDIT_WRITE",
    "CAP_SETFCAP",
)
#: Directories (and modes) a writable root run as root starts with, as a Debian or Ubuntu base image has them.
ROOT_SKELETON = (
    ("boot", 0o755),
    ("home", 0o755),
    ("media", 0o755),
    ("mnt", 0o755),
    ("opt", 0o755),
    ("root", 0o700),
    ("run", 0o755),
    ("srv", 0o755),
    ("var", 0o755),
    *((f"var/{name}", 0o755) for name in ("backups", "cache", "lib", "local", "log", "mail", "opt", "spool")),
    ("var/tmp", 0o1777),
)

_SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
_ETC_ENTRIES = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "nsswitch.conf",
    "ssl",
    "ca-certificates",
    "mime.types",
    "terminfo",
    "inputrc",
    "protocols",
    "services",
    "networks",
    "python3",
    "python3.11",
    "python3.12",
    "python3.13",
    # toolchains whose configuration lives in /etc (MultiPL-E runs Java and PHP)
    "java-17-openjdk",
    "java-21-openjdk",
    "php",
)


@functools.lru_cache(maxsize=1)
def probe() -> str | None:
    """Return why bubblewrap cannot sandbox here, or ``None`` when it can (checked once per process)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed; install it with `apt-get install bubblewrap`"
    if not Path("/usr/bin/python3").exists():
        return "the local sandbox needs the system Python at /usr/bin/python3 (`apt-get install python3`)"
    argv = [bwrap, "--unshare-all", "--die-with-parent", *system_args(), "--proc", "/proc", "--dev", "/dev"]
    argv += ["--tmpfs", "/tmp", "/usr/bin/python3", "-S", "-c", "pass"]
    try:
        probe = subprocess.run(argv, capture_output=True, text=True, timeout=30, **drop_privileges())
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap failed to start: {error}"
    if probe.returncode != 0:
        return (
            f"bubblewrap cannot create namespaces here ({probe.stderr.strip() or probe.returncode}); "
            "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
        )
    return None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def launch_script(argv: Sequence[str], cwd: str, env: Mapping[str, str]) -> bytes:
    """The script a ready stub runs: ``cd``, ``export``s, the command, its status to fd 3 (see ``_supervisor.STUB``)."""
    lines = [f"cd -- {shlex.quote(cwd)} || {{ echo 126 >&3; exit 126; }}"]
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(name):
            raise SandboxError(f"sandbox exec: environment variable name {name!r} is not a valid shell name")
        lines.append(f"export {shlex.quote(f'{name}={value}')}")
    lines.append(" ".join(shlex.quote(str(arg)) for arg in argv) + " 3>&-")
    lines.append('echo "$?" >&3')
    script = "\n".join(lines)
    return f"{script.count(chr(10)) + 1}\n{script}\n".encode()


def drop_privileges() -> dict[str, object]:
    """Popen arguments that make the sandbox run as nobody when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": NOBODY, "group": NOBODY, "extra_groups": []}


#: The sandbox's host name (``/etc/hostname`` and ``uname -n``), fixed so outputs do not depend on the host.
HOSTNAME = "sandbox"
#: ``/etc/hosts`` of a sandbox on a system root: what Docker writes for a container on its default
#: bridge network (InterCode's containers had it), naming the sandbox's host name.
DOCKER_HOSTS = (
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
    f"172.17.0.2\t{HOSTNAME}\n"
)


@functools.lru_cache(maxsize=16)
def etc_staging(home: str, network: bool, root: bool = False, system_root: str | None = None) -> Path:
    """A host directory (made once per process) that becomes the sandbox's whole, read-only ``/etc``.

    It holds copies of the few host entries programs need (the dynamic linker cache, TLS
    certificates, time zone, ...) and generated ``passwd``, ``group``, ``hosts`` and
    ``hostname`` that name only the sandbox's own user, whose home is ``home`` (with ``root``:
    root, and nobody, the name of host files' owners no namespace maps); ``resolv.conf`` only
    with network. With ``system_root`` it is a copy of that tree's whole ``/etc`` instead, whose
    ``passwd`` and ``group`` keep their system users (root's home set to ``home``; without
    ``root``, the sandbox's user added), with Docker's ``hosts`` (:data:`DOCKER_HOSTS`) and the
    host's ``resolv.conf`` only with network.
    """
    staging = Path(tempfile.mkdtemp(prefix="lemur-sandbox-etc-"))
    atexit.register(shutil.rmtree, staging, True)
    if system_root is not None:
        _system_root_etc(staging, Path(system_root, "etc"), home, network, root)
        return staging
    entries = [*_ETC_ENTRIES, "resolv.conf"] if network else _ETC_ENTRIES
    for name in entries:
        source = Path("/etc", name)
        try:
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, staging / name, symlinks=True)
            elif source.exists() or source.is_symlink():
                shutil.copy2(source, staging / name, follow_symlinks=False)
        except OSError:
            continue  # an unreadable extra is not worth failing the sandbox for
    uid = NOBODY if os.geteuid() == 0 else os.getuid()
    gid = NOBODY if os.geteuid() == 0 else os.getgid()
    if root:
        passwd = f"root:x:0:0:root:{home}:/bin/bash\nnobody:x:{NOBODY}:{NOBODY}:nobody:/nonexistent:/usr/sbin/nologin\n"
        group = f"root:x:0:\nnogroup:x:{NOBODY}:\n"
    elif uid != 0:
        passwd = f"root:x:0:0:root:/root:/bin/sh\nsandbox:x:{uid}:{gid}:sandbox:{home}:/bin/bash\n"
        group = f"root:x:0:\nsandbox:x:{gid}:\n"
    else:
        passwd, group = f"root:x:0:0:root:{home}:/bin/bash\n", f"root:x:0:\nsandbox:x:{gid}:\n"
    files = {
        "passwd": passwd,
        "group": group,
        "hosts": "127.0.0.1 localhost\n::1 localhost\n",
        "hostname": f"{HOSTNAME}\n",
    }
    for name, text in files.items():
        (staging / name).write_text(text)
    _make_readable(staging)
    return staging


def _system_root_etc(staging: Path, source: Path, home: str, network: bool, root: bool) -> None:
    """Fill ``staging`` with a copy of a system root's ``/etc`` as the sandbox shows it (see :func:`etc_staging`)."""
    shutil.copytree(source, staging, symlinks=True, dirs_exist_ok=True)
    for name in ("hosts", "hostname", "resolv.conf", "passwd", "group"):
        if (staging / name).is_symlink():
            (staging / name).unlink()
    uid = NOBODY if os.geteuid() == 0 else os.getuid()
    gid = NOBODY if os.geteuid() == 0 else os.getgid()
    passwd = (staging / "passwd").read_text().splitlines() if (staging / "passwd").exists() else []
    group = (staging / "group").read_text().splitlines() if (staging / "group").exists() else []
    if root:
        passwd = [line for line in passwd if not line.startswith("root:")]
        passwd.insert(0, f"root:x:0:0:root:{home}:/bin/bash")
        if not any(line.startswith("root:") for line in group):
            group.insert(0, "root:x:0:")
    else:
        # The sandbox's user takes the place of whichever system user has its uid (nobody, as root).
        passwd = [line for line in passwd if line.split(":")[2:3] != [str(uid)]]
        group = [line for line in group if line.split(":")[2:3] != [str(gid)]]
        passwd.append(f"sandbox:x:{uid}:{gid}:sandbox:{home}:/bin/bash")
        group.append(f"sandbox:x:{gid}:")
    (staging / "passwd").write_text("\n".join(passwd) + "\n")
    (staging / "group").write_text("\n".join(group) + "\n")
    (staging / "hosts").write_text(DOCKER_HOSTS)
    (staging / "hostname").write_text(f"{HOSTNAME}\n")
    if (staging / "resolv.conf").exists():
        (staging / "resolv.conf").unlink()
    if network and Path("/etc/resolv.conf").exists():
        shutil.copy2("/etc/resolv.conf", staging / "resolv.conf")
    _make_readable(staging)


def _make_readable(staging: Path) -> None:
    """Let the sandbox's user (nobody, when we are root) read every staged file."""
    for path in [staging, *staging.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def system_args(system_root: str | None = None, source: str | None = None) -> list[str]:
    """bubblewrap arguments that show the system directories read-only.

    The host's ``/usr``, ``/bin``, ``/sbin`` and ``/lib*``, or those of ``system_root``, bound from
    ``source`` when given (where the tree is mounted for the holder, see :func:`root_launcher`).
    """
    args: list[str] = []
    top = Path(system_root or "/")
    for name in _SYSTEM_DIRS:
        path = top / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{name}"]
        elif path.is_dir():
            args += ["--ro-bind", str(Path(source or top, name)), f"/{name}"]
    return args


def root_launcher(system_root: str, mount_point: str) -> list[str]:
    """The command that starts the holder when we are root and it runs on ``system_root``.

    The tree may lie where nobody, the sandbox's host user, cannot reach it (the cache under
    ``/root``), and bubblewrap resolves every bind's source path as that user. So the holder
    starts in a private mount namespace of its own, where the tree is bound at ``mount_point``
    (an empty directory everyone can traverse; on the host it stays empty), then drops to
    nobody and runs bubblewrap (the rest of the argv).

    Raises:
        SandboxError: util-linux's ``unshare``, ``setpriv`` or ``mount`` is missing.
    """
    tools = {name: shutil.which(name) for name in ("unshare", "setpriv", "mount")}
    missing = [name for name, found in tools.items() if found is None]
    if missing:
        raise SandboxError(
            f"sandbox spec: a system_root run as root needs {', '.join(missing)} (`apt-get install util-linux mount`)"
        )
    drop = f'exec {tools["setpriv"]} --reuid={NOBODY} --regid={NOBODY} --clear-groups -- "$@"'
    script = f'{tools["mount"]} --rbind -- "$0" "$1" && shift && {drop}'
    unshare = [str(tools["unshare"]), "--mount", "--propagation", "private", "--"]
    return [*unshare, "/bin/sh", "-c", script, system_root, mount_point]


#: Where a system root keeps a bubblewrap of its own with the loader and libraries it was built
#: for (its release's is too old for ``--disable-userns``), run through that loader.
PRIVATE_BWRAP = "/usr/lib/lemur/bwrap"


def nested_bwrap(system_root: str | None) -> list[str]:
    """The argv prefix that starts bubblewrap inside the sandbox: the system root's (or the host's)."""
    if system_root is not None and Path(system_root, PRIVATE_BWRAP.lstrip("/"), "bwrap").is_file():
        return [f"{PRIVATE_BWRAP}/ld.so", "--library-path", PRIVATE_BWRAP, f"{PRIVATE_BWRAP}/bwrap"]
    return ["/usr/bin/bwrap" if Path(system_root or "/", "usr/bin/bwrap").exists() else "bwrap"]


def check_system_root(system_root: str) -> None:
    """Refuse a system root the sandbox cannot run on.

    Raises:
        SandboxError: It is not an absolute path to a directory holding ``usr/bin/python3`` (the
            supervisor runs on it) and ``usr/bin/bwrap`` or :data:`PRIVATE_BWRAP` (which starts each
            command), or has no ``etc``.
    """
    root = Path(system_root)
    if not root.is_absolute() or not root.is_dir():
        raise SandboxError(f"sandbox spec: system_root {system_root!r} is not an absolute path to a directory")
    bwrap = PRIVATE_BWRAP.lstrip("/") + "/bwrap" if (root / PRIVATE_BWRAP.lstrip("/")).is_dir() else "usr/bin/bwrap"
    for needed, why in (
        ("usr/bin/python3", "the sandbox's supervisor runs on it"),
        (bwrap, "it starts every command; install bubblewrap in the tree"),
        ("etc", "the sandbox's /etc is made from it"),
    ):
        if not (root / needed).exists():
            raise SandboxError(f"sandbox spec: system_root {system_root!r} has no /{needed} ({why})")


def check_reachable_by_others(source: Path) -> None:
    """Refuse a mount source that the sandbox's user (nobody, when we are root) cannot reach.

    Raises:
        SandboxError: A parent directory is not searchable by others, or the source not readable.
    """
    source = source.resolve()
    for parent in reversed(source.parents):
        if not parent.stat().st_mode & 0o001:
            raise SandboxError(
                f"sandbox spec: mount source {str(source)!r} is not reachable by the sandbox user "
                f"(nobody, uid {NOBODY}, since lemur runs as root): {str(parent)!r} is not searchable by others; "
                f"chmod o+x it or mount a directory elsewhere"
            )
    wanted = 0o005 if source.is_dir() else 0o004
    if source.stat().st_mode & wanted != wanted:
        raise SandboxError(
            f"sandbox spec: mount source {str(source)!r} is not readable by the sandbox user "
            f"(nobody, uid {NOBODY}, since lemur runs as root); chmod o+r{'x' if source.is_dir() else ''} it"
        )
