"""Prepared root file systems for the ``local`` backend's ``SandboxSpec.system_root``.

Each one is built by a script beside this module, ``<name>.sh`` (``lemur envs build-root NAME``;
in a checkout also ``tools/build_intercode_rootfs.sh``), offline from the Debian mirror with
mmdebstrap, into Lemur's cache directory as ``system-roots/<name>-<key>``: ``<key>`` is the first
16 hex digits of the script's SHA-256, so a changed package list or build step makes a new tree
and an old one is never mistaken for it. The script builds in a temporary directory beside it
and renames the tree into place when it is complete, so a tree that exists is whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from lemur.envs.sandbox.base import SandboxError

#: Root file systems that can be built, with what they hold.
SYSTEM_ROOTS = {
    "intercode-bash": "Debian bullseye with the tools of InterCode's NL2Bash image (about 300 MB, under a minute)",
}


def _script(name: str) -> Path:
    if name not in SYSTEM_ROOTS:
        from lemur.core.errors import UnknownComponentError

        raise UnknownComponentError(f"unknown system root {name!r}; available: {', '.join(sorted(SYSTEM_ROOTS))}")
    return Path(__file__).with_name(f"{name}.sh")


def _cache_dir(cache_dir: str | Path | None) -> Path:
    if cache_dir is None:
        from lemur.core.settings import get_settings

        cache_dir = get_settings().cache_dir
    return Path(cache_dir).expanduser()


def root_path(name: str, cache_dir: str | Path | None = None) -> Path:
    """Where the system root ``name`` is (or would be) built: ``<cache_dir>/system-roots/<name>-<key>``.

    Raises:
        UnknownComponentError: ``name`` is not in :data:`SYSTEM_ROOTS`.
    """
    key = hashlib.sha256(_script(name).read_bytes()).hexdigest()[:16]
    return _cache_dir(cache_dir) / "system-roots" / f"{name}-{key}"


def find_root(name: str, cache_dir: str | Path | None = None) -> Path | None:
    """The built system root ``name`` of the current script, or ``None`` when it has not been built."""
    path = root_path(name, cache_dir)
    return path if path.is_dir() else None


def build_root(name: str, force: bool = False, cache_dir: str | Path | None = None) -> Path:
    """Build the system root ``name`` (unless it exists and not ``force``); return its path.

    Needs mmdebstrap and the Debian mirror (``$DEBIAN_MIRROR``, default this machine's apt
    mirror); without root, mmdebstrap's unshare mode (user namespaces and subordinate ids).

    Raises:
        UnknownComponentError: ``name`` is not in :data:`SYSTEM_ROOTS`.
        SandboxError: mmdebstrap is missing, or the build failed (its output is above).
    """
    script = _script(name)
    if shutil.which("mmdebstrap") is None:
        raise SandboxError("building a system root needs mmdebstrap; install it with `apt-get install mmdebstrap`")
    argv = ["bash", str(script), "--cache-dir", str(_cache_dir(cache_dir))] + (["--force"] if force else [])
    env = {**os.environ, "LEMUR_BUILD_ROOT_NAME": f"lemur envs build-root {name}"}
    completed = subprocess.run(argv, env=env, check=False)
    if completed.returncode != 0:
        raise SandboxError(f"building system root {name!r} failed (exit {completed.returncode}); see the output above")
    return root_path(name, cache_dir)
