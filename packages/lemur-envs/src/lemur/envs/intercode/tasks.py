"""InterCode-Bash and InterCode-CTF task files at the pinned revision ``princeton-nlp/intercode@c3e46d8``.

Files are listed with their SHA-256 in ``manifests/intercode-{bash,ctf}.json``; a local mirror
(``data_dir``, such as ``../shared/data``) holds them under the same relative paths.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lemur.core.datafiles import fetch_manifest
from lemur.core.errors import ConfigError

PACKAGE = "lemur.envs.intercode"
#: The NL2Bash file systems of InterCode-Bash (task counts 60, 53, 60, 27).
FILE_SYSTEMS = (1, 2, 3, 4)
CTF_TASKS = "intercode/data/ctf/ic_ctf.json"
CTF_ASSETS = "intercode/data/ctf/task_assets"
#: A CTF task needs the internet when its statement names a remote service or download.
_NEEDS_NETWORK = re.compile(r"\bnc\s+[\w.-]+\.\w+|https?://|\.picoctf\.(?:net|org)|\bwget\b|git clone")


def check_file_system(file_system: int) -> int:
    """Return ``file_system`` if it is one of InterCode-Bash's (1-4).

    Raises:
        ConfigError: It is not.
    """
    if file_system not in FILE_SYSTEMS:
        raise ConfigError(f"InterCode-Bash: file_system {file_system!r} is not one of {list(FILE_SYSTEMS)}")
    return file_system


def bash_tasks(file_system: int, data_dir: str | Path | None) -> list[dict[str, Any]]:
    """The NL2Bash tasks of ``file_system``: ``{"query", "gold"}`` (gold a command or a list of them)."""
    files = fetch_manifest(PACKAGE, "intercode-bash", data_dir)
    path = files[f"intercode/data/nl2bash/nl2bash_fs_{check_file_system(file_system)}.json"]
    return json.loads(path.read_text(encoding="utf-8"))


def bash_setup_script(file_system: int, data_dir: str | Path | None) -> str:
    """The bash script that builds ``file_system`` (``setup_nl2b_fs_<n>.sh``)."""
    files = fetch_manifest(PACKAGE, "intercode-bash", data_dir)
    return files[f"intercode/docker/bash_scripts/setup_nl2b_fs_{check_file_system(file_system)}.sh"].read_text()


def ctf_tasks(data_dir: str | Path | None) -> tuple[list[dict[str, Any]], Path]:
    """The 100 picoCTF tasks and the folder of their assets (``<folder>/<task_id>/...``).

    Each task is ``{"task_id", "query", "gold", "source", "tags"}`` plus ``setup``/``hint`` for a
    few, and ``needs_network`` (added here) when its statement names a remote service.
    """
    files = fetch_manifest(PACKAGE, "intercode-ctf", data_dir)
    tasks = json.loads(files[CTF_TASKS].read_text(encoding="utf-8"))
    for task in tasks:
        text = task["query"] + " " + str(task.get("setup") or "")
        task["needs_network"] = bool(_NEEDS_NETWORK.search(text))
    root = files[CTF_TASKS].parent / "task_assets"
    return tasks, root
