"""The run directory of ``lemur eval run``: the contract between the runner and the reports.

The runner writes it; ``lemur eval report`` (:mod:`lemur.eval.reports`) only reads it::

    RUN_DIR/
      config.yaml                     the resolved run config
      <benchmark>/generations.jsonl   stage 1: one JSON object per sample, appended and flushed
                                      item by item:
                                      {"id": str, "request": {...}, "output": str,
                                       "finish_reason": str, "cached": bool,
                                       "truncated_tokens": int}
                                      agent benchmarks instead:
                                      {"id": str, "turns": [{"turn": 1, "action": str,
                                       "observation": str, "reward": float}, ...],
                                       "success": bool, "reward": float}
      <benchmark>/results.jsonl       stage 2: one line per sample:
                                      {"id": str, "score": float, "details": {...}}
                                      agent benchmarks also: "success": bool,
                                      "success_turn": int | null
      summary.json

``summary.json``::

    {
      "run_id": "...", "created": "ISO-8601 UTC", "finished": true,
      "lemur": {"lemur-core": "0.1.0", "lemur-eval": "0.1.0", ...},
      "versions": {"python": "3.11.9", "torch": "2.13.0", "transformers": "4.57.1", "httpx": "0.28.1"},
      "git_revision": "40-hex or null", "git_dirty": false,
      "model": {"spec": "replay:path/to/file.jsonl", "backend": "replay", "identity": {...},
                "server_version": "..."},
      "plan": {"gsm8k": {"version": "1", "prompt_hash": "..."}},
      "benchmarks": {
        "gsm8k": {
          "version": "1", "category": "text", "metric": "accuracy", "setting": {"shots": 8},
          "scores": {"accuracy": 0.553, "...other named metrics...": 0.5},
          "n": 1319, "data_sha256": "...", "prompt_hash": "...",
          "success_by_turn": [0.1, 0.22, 0.3],
          "truncated": {"items": 12, "tokens": 3410}
        }
      }
    }

Field rules:

- ``category`` is ``text``, ``code`` or ``agent`` (the paper's groups).
- ``scores[metric]`` is the headline number, a fraction in [0, 1] (reports show it as a percentage).
- ``success_by_turn[k-1]`` is the fraction of samples solved within ``k`` turns; agent
  benchmarks only (absent otherwise), so it never decreases with ``k``.
- ``finished`` is false while a run is still going or was killed; it resumes from the
  ``*.jsonl`` files.
- Readers ignore keys they do not know, so the runner may add fields without breaking them.

Written by the runner (:mod:`lemur.eval.runner`):

- Agent lines of ``generations.jsonl`` also carry ``"success_turn"`` (the first turn whose
  ``info["success"]`` was true, or ``null``), so scoring never replays an episode.
- ``data_sha256`` is the SHA-256 of the canonical JSON of every sample of the benchmark (id,
  inputs, target; all samples, whatever ``--limit``); ``prompt_hash`` the SHA-256 of every
  sample's request (single-turn) or of the environment id, turn limit and the agent's
  ``describe()`` (prompt format, history window) for agent benchmarks.
- ``truncated_tokens`` (single-turn lines, backends that can tell: ``hf``) is how many tokens
  were cut from the front of the sample's prompt to fit the model's context (for several
  log-likelihood requests, the most of any); the benchmark's ``truncated`` counts the items
  cut and the tokens cut in all. Both are absent for backends that cannot tell.
- ``plan`` (written when the run starts) holds each benchmark's ``version`` and
  ``prompt_hash``; ``--resume`` refuses a run whose benchmarks now differ.
- ``versions`` holds the Python version and those of torch, transformers and httpx where
  installed; ``model.server_version`` is present when the backend reports its server's.
- ``git_revision`` is the commit of the checkout ``lemur.eval`` was imported from (``null``
  for an installed wheel); ``git_dirty`` whether its tracked files had uncommitted changes
  (``null`` outside a checkout). ``run_id`` is the directory name plus a hash of the result fields
  of the config; ``created`` is when ``config.yaml`` was written.
- ``summary.json`` is written with ``finished: false`` when a run starts and replaced when it
  ends; ``config.yaml`` and ``summary.json`` are always replaced atomically, never half-written,
  with the permissions the umask gives new files.

Order and resuming: lines are written in sample order (the runner reorders concurrent
completions before writing), and each line is flushed as soon as it is written, so a run
killed at any moment (even by SIGKILL) leaves whole lines for a prefix of the samples, at most
followed by one partial last line. Resuming drops that partial line and appends the rest, so a
resumed run's ``results.jsonl`` holds the same items as an uninterrupted run, each once, with
the same content and order. The ``cached`` flag of ``generations.jsonl`` may differ (an item
generated before the kill but not yet written is answered from the cache after the resume).
Readers should still treat a file as a set keyed by ``id`` (:func:`read_jsonl`; the last line
wins).
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import json
import os
import platform
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lemur.core.errors import LemurError

#: The resolved run config, YAML.
CONFIG_FILE = "config.yaml"
#: Stage 1 per benchmark: model outputs (or agent trajectories), one JSON object per line.
GENERATIONS_FILE = "generations.jsonl"
#: Stage 2 per benchmark: per-sample scores, one JSON object per line.
RESULTS_FILE = "results.jsonl"
#: Versions, hashes and aggregated scores of the whole run.
SUMMARY_FILE = "summary.json"


class RunDirError(LemurError):
    """A run directory cannot be created, read or resumed."""


class JsonlAppender:
    """Appends JSON objects to a file, one line each, flushed to the OS after every line.

    Opening the file drops a partial last line (left by a killed writer), so appending
    continues on a line boundary. Safe to call from several threads.

    Args:
        path: The ``.jsonl`` file; created with its folder when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        drop_partial_line(self.path)
        self._file = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line and flush it (a SIGKILL after this returns cannot lose it)."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        """Flush and close the file."""
        with self._lock:
            self._file.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def drop_partial_line(path: Path) -> None:
    """Cut ``path`` after its last newline (a line without one was cut short by a kill)."""
    if not path.exists():
        return
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as file:
        file.seek(-1, os.SEEK_END)
        if file.read(1) == b"\n":
            return
        position = size
        while position > 0:
            step = min(65536, position)
            position -= step
            file.seek(position)
            chunk = file.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                file.truncate(position + newline + 1)
                return
        file.truncate(0)


def read_jsonl(path: str | Path) -> dict[str, dict[str, Any]]:
    """The records of a run's JSONL file by ``id`` (the last line wins; a partial last line is ignored).

    Raises:
        RunDirError: A complete line is not a JSON object with a string ``id``.
    """
    path = Path(path)
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise RunDirError(
                f"{path}, line {number}: not valid JSON ({error.msg}); the run directory is damaged"
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise RunDirError(f"{path}, line {number}: expected an object with a string 'id'")
        records[record["id"]] = record
    return records


def write_atomically(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, so readers see the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, new_file_mode())  # mkstemp makes 0600; give the mode open() gives
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    try:  # Linux: read it without changing it (another thread may be creating files)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere it can only be read by setting it
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permission bits ``open()`` gives a new file under the process umask (``0o644`` for umask 022).

    ``tempfile.mkstemp`` creates files ``0o600`` whatever the umask; files written through a
    temporary file are set to this mode before they are renamed into place.
    """
    return 0o666 & ~_umask()


def write_summary(run_dir: str | Path, summary: Mapping[str, Any]) -> Path:
    """Write ``summary.json`` atomically and return its path."""
    path = Path(run_dir) / SUMMARY_FILE
    write_atomically(path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return path


def lemur_versions() -> dict[str, str]:
    """Versions of every installed ``lemur-*`` distribution, by distribution name."""
    return dict(_lemur_versions())


@functools.cache
def _lemur_versions() -> tuple[tuple[str, str], ...]:
    # Scanning every distribution's metadata costs 0.1-0.5 s; what is installed does not change
    # within a process, so it is done once.
    versions = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("lemur-"):
            versions[name] = dist.version
    return tuple(sorted(versions.items()))


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape model answers (those installed), by name.

    ``python`` is the interpreter's version; ``torch``, ``transformers`` and ``httpx`` come from
    their distributions' metadata (nothing is imported) and are left out when not installed.
    """
    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "httpx"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _git(*args: str) -> subprocess.CompletedProcess[str] | None:
    here = Path(__file__).resolve().parent
    try:
        return subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def git_revision() -> str | None:
    """The commit of the git checkout that ``lemur.eval`` was imported from, or ``None``."""
    result = _git("rev-parse", "HEAD")
    revision = result.stdout.strip() if result is not None else ""
    return revision if result is not None and result.returncode == 0 and len(revision) == 40 else None


def git_dirty() -> bool | None:
    """Whether that checkout has uncommitted changes to tracked files (``None`` outside a checkout).

    Untracked files are not counted: they cannot change what an installed ``lemur`` runs unless
    they are imported, and scratch files would otherwise mark every run dirty.
    """
    result = _git("status", "--porcelain", "--untracked-files=no")
    if result is None or result.returncode != 0:
        return None
    return bool(result.stdout.strip())


def utc_now() -> str:
    """The current time as ISO-8601 UTC with seconds, e.g. ``2026-11-27T12:00:00+00:00``."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
