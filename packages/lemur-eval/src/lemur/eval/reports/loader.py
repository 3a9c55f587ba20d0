"""Read and validate the ``summary.json`` of evaluation run directories.

The format is the contract in :mod:`lemur.eval.results`. Keys this reader does not know are
ignored (the runner may add fields); missing or malformed ones raise :class:`RunSummaryError`
with one line naming the file, the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pydantic

from lemur.core.config import describe_validation_error
from lemur.core.errors import LemurError
from lemur.eval.results import SUMMARY_FILE


class RunSummaryError(LemurError):
    """A run directory given to a report is missing, or its ``summary.json`` is missing or malformed."""


class _Lenient(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", frozen=True)


class _ModelInfo(_Lenient):
    spec: str = pydantic.Field(min_length=1)
    backend: str = ""
    identity: dict[str, Any] = pydantic.Field(default_factory=dict)


class _BenchmarkSummary(_Lenient):
    version: str
    category: Literal["text", "code", "agent"]
    metric: str = pydantic.Field(min_length=1)
    setting: dict[str, Any] = pydantic.Field(default_factory=dict)
    scores: dict[str, float]
    n: int = pydantic.Field(ge=0)
    success_by_turn: tuple[float, ...] | None = None

    @pydantic.field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @pydantic.model_validator(mode="after")
    def _check(self) -> _BenchmarkSummary:
        if self.metric not in self.scores:
            raise ValueError(f"scores has no value for the headline metric {self.metric!r}")
        headline = self.scores[self.metric]
        if not (math.isfinite(headline) and 0.0 <= headline <= 1.0):
            raise ValueError(f"scores.{self.metric} is {headline}, but the headline score must be in [0, 1]")
        if self.success_by_turn is not None:
            if any(not (math.isfinite(v) and 0.0 <= v <= 1.0) for v in self.success_by_turn):
                raise ValueError("success_by_turn values must be fractions in [0, 1]")
            if any(b < a - 1e-9 for a, b in zip(self.success_by_turn, self.success_by_turn[1:], strict=False)):
                raise ValueError("success_by_turn must not decrease (entry k is the fraction solved within k turns)")
        return self


class _Summary(_Lenient):
    run_id: str = pydantic.Field(min_length=1)
    created: str = ""
    finished: bool
    git_revision: str | None = None
    lemur: dict[str, str] = pydantic.Field(default_factory=dict)
    model: _ModelInfo
    benchmarks: dict[str, _BenchmarkSummary]


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark's aggregated result in a run.

    Attributes:
        name: The benchmark's registry name (the key in ``summary.json``).
        version: The benchmark version the run used.
        category: ``text``, ``code`` or ``agent``.
        metric: The name of the headline metric.
        score: The headline score, a fraction in [0, 1].
        scores: Every named metric the benchmark reported.
        n: Number of samples scored.
        setting: The paper setting the run used (shots, turns, ...).
        success_by_turn: Entry ``k-1`` is the fraction solved within ``k`` turns (agent benchmarks).
    """

    name: str
    version: str
    category: str
    metric: str
    score: float
    scores: Mapping[str, float]
    n: int
    setting: Mapping[str, Any]
    success_by_turn: tuple[float, ...] | None


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What a report needs from one run directory.

    Attributes:
        path: The run directory.
        run_id: The runner's id for the run.
        created: When the run started (ISO-8601 text as written by the runner).
        finished: False when the run was still going or was stopped.
        model_spec: The model spec the run evaluated, e.g. ``openai:lemur-70b-chat``.
        backend: The model backend's name.
        git_revision: The project revision the run used, if known.
        benchmarks: Results by benchmark name, in the file's order.
    """

    path: Path
    run_id: str
    created: str
    finished: bool
    model_spec: str
    backend: str
    git_revision: str | None
    benchmarks: Mapping[str, BenchmarkResult]


def load_run(run_dir: str | Path) -> RunSummary:
    """Read and validate ``RUN_DIR/summary.json``.

    Raises:
        RunSummaryError: The directory or its summary is missing, not JSON, or not in the format of
            :mod:`lemur.eval.results` (the message names the file and the field).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunSummaryError(f"{run_dir}: not a directory; pass the run directories written by `lemur eval run`")
    path = run_dir / SUMMARY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunSummaryError(f"{path}: missing; is {run_dir} a run directory written by `lemur eval run`?") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RunSummaryError(f"{path}: cannot read it ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise RunSummaryError(
            f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    if not isinstance(data, dict):
        raise RunSummaryError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    try:
        summary = _Summary.model_validate(data)
    except pydantic.ValidationError as error:
        raise RunSummaryError(f"{path}: {_describe(error)}") from None
    benchmarks = {
        name: BenchmarkResult(
            name=name,
            version=entry.version,
            category=entry.category,
            metric=entry.metric,
            score=entry.scores[entry.metric],
            scores=dict(entry.scores),
            n=entry.n,
            setting=dict(entry.setting),
            success_by_turn=entry.success_by_turn,
        )
        for name, entry in summary.benchmarks.items()
    }
    return RunSummary(
        path=run_dir,
        run_id=summary.run_id,
        created=summary.created,
        finished=summary.finished,
        model_spec=summary.model.spec,
        backend=summary.model.backend,
        git_revision=summary.git_revision,
        benchmarks=benchmarks,
    )


def _describe(error: pydantic.ValidationError) -> str:
    """One line for the first problem; our own checks' messages already say what is allowed."""
    first = error.errors()[0]
    if first["type"] != "value_error":
        return describe_validation_error(_Summary, error)
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = str(first.get("ctx", {}).get("error", first["msg"]))
    return f"field '{field}': {message}"


def load_runs(run_dirs: Sequence[str | Path]) -> list[RunSummary]:
    """Load every run directory, in order, before anything is written.

    Raises:
        RunSummaryError: No directory was given, one is listed twice, or one fails :func:`load_run`.
    """
    if not run_dirs:
        raise RunSummaryError("no run directory given; pass one or more RUN_DIRs written by `lemur eval run`")
    seen: set[Path] = set()
    runs = []
    for run_dir in run_dirs:
        resolved = Path(run_dir).resolve()
        if resolved in seen:
            raise RunSummaryError(f"{run_dir}: given twice; list each run directory once")
        seen.add(resolved)
        runs.append(load_run(run_dir))
    return runs
