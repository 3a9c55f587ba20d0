"""How the docker backend turns what it saw into results: ExecResult assembly, manifest diffs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lemur.envs.sandbox._docker_server import Served
from lemur.envs.sandbox._docker_stream import Pumped
from lemur.envs.sandbox.base import ExecResult, FileChange, LimitHit

_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")


def diff_manifests(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> list[FileChange]:
    """Compare two manifests (path -> entry) and return the changes sorted by path, then kind."""
    changes: list[tuple[str, str]] = []
    for path in before.keys() | after.keys():
        old, new = before.get(path), after.get(path)
        if new is None:
            changes.append((path, "deleted"))
        elif old is None:
            changes.append((path, "added"))
        elif old["type"] != new["type"]:
            changes += [(path, "deleted"), (path, "added")]
        elif new["type"] == "file" and _file_changed(old, new):
            changes.append((path, "modified"))
        elif new["type"] == "link" and old.get("target") != new.get("target"):
            changes.append((path, "modified"))
    return [FileChange(path, kind) for path, kind in sorted(changes)]  # type: ignore[arg-type]


def _file_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    if old["mode"] != new["mode"] or old["size"] != new["size"]:
        return True
    if old.get("sha256") and new.get("sha256"):
        return old["sha256"] != new["sha256"]
    return old["mtime"] != new["mtime"]


def find_report(pumped: Pumped, nonce: str) -> dict[str, Any] | None:
    tail = pumped.stderr_tail
    index = tail.rfind(nonce.encode())
    if index < 0:
        return None
    try:
        return json.loads(tail[index + len(nonce) :].decode())
    except ValueError:
        return None


def direct_result(pumped: Pumped, report: Mapping[str, Any], nonce: str, limit: int, seconds: float) -> ExecResult:
    """Assemble the ExecResult of a direct exec: strip the status line, then apply the cap."""
    marker = b""
    index = pumped.stderr_tail.rfind(nonce.encode())
    if index >= 0:
        marker = pumped.stderr_tail[index:]
    stderr_total = pumped.stderr_total - len(marker)
    stderr = pumped.stderr[: min(stderr_total, limit)]
    return _assemble(pumped.stdout, stderr, pumped.stdout_total, stderr_total, pumped.flooded, report, limit, seconds)


def served_result(served: Served, limit: int, seconds: float) -> ExecResult:
    """Assemble the ExecResult of a command run by the command server."""
    report = served.report
    if report is None:
        report = {
            "exit_code": 137,
            "timed_out": served.deadline_hit,
            "limit": "wall_time" if served.deadline_hit else None,
        }
    return _assemble(
        served.stdout,
        served.stderr,
        int(report.get("stdout_total", len(served.stdout))),
        int(report.get("stderr_total", len(served.stderr))),
        bool(report.get("flooded", False)),
        report,
        limit,
        seconds,
    )


def _assemble(
    stdout: bytes,
    stderr: bytes,
    stdout_total: int,
    stderr_total: int,
    flooded: bool,
    report: Mapping[str, Any],
    limit: int,
    seconds: float,
) -> ExecResult:
    """Apply the output cap and name the limit (from the report, else from the output)."""
    stdout = stdout[:limit]
    stderr = stderr[:limit]
    truncated = stdout_total > limit or stderr_total > limit
    stderr_text = stderr.decode("utf-8", "replace")
    exit_code = int(report["exit_code"])
    timed_out = bool(report["timed_out"])
    hit: LimitHit | None = report.get("limit")
    if hit is None and flooded:
        hit = "output"
    if hit is None and exit_code != 0:
        if any(marker_text in stderr_text for marker_text in _MEMORY_MARKERS):
            hit = "memory"
        elif "No space left on device" in stderr_text:
            hit = "disk"
        elif "File too large" in stderr_text:
            hit = "file_size"
        elif "fork" in stderr_text.lower() and "Resource temporarily unavailable" in stderr_text:
            hit = "processes"
    if hit is None and truncated:
        hit = "output"
    return ExecResult(
        exit_code=exit_code,
        stdout=stdout.decode("utf-8", "replace"),
        stderr=stderr_text,
        timed_out=timed_out,
        truncated=truncated or flooded,
        seconds=seconds,
        limit=hit,
    )
