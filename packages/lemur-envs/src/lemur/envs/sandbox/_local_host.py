"""How the ``local`` backend's bubblewrap is put together on the host: checks and arguments.

The system directories and the prepared ``/etc`` the sandbox sees, the user it runs as, the
one-time probe that bubblewrap works here, and the launch script a stub runs.
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


@functools.lru_cache(maxsize=16)
def etc_staging(home: str, network: bool, root: bool = False) -> Path:
    """A host directory (made once per process) that becomes the sandbox's whole, read-only ``/etc``.

    It holds copies of the few host entries programs need (the dynamic linker cache, TLS
    certificates, time zone, ...) and generated ``passwd``, ``group``, ``hosts`` and
    ``hostname`` that name only the sandbox's own user, whose home is ``home`` (with ``root``:
    root, and nobody, the name of host files' owners no namespace maps); ``resolv.conf`` only
    with network.
    """
    staging = Path(tempfile.mkdtemp(prefix="lemur-sandbox-etc-"))
    atexit.register(shutil.rmtree, staging, True)
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
        "hostname": "sandbox\n",
    }
    for name, text in files.items():
        (staging / name).write_text(text)
    for path in [staging, *staging.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    return staging


def system_args() -> list[str]:
    args: list[str] = []
    for name in _SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


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
