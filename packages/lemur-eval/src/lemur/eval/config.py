"""The YAML form of ``lemur eval run``: a :class:`RunConfig`.

Example (``lemur eval run run.yaml``; flags given on the command line too must agree)::

    model: openai:http://127.0.0.1:8000/v1,model=tiny
    benchmarks: [gsm8k, humaneval]
    limit: 50
    out: runs/tiny-gsm8k
    executor: local
    workers: 8

The run directory keeps the resolved config as ``config.yaml``. ``--resume`` compares only the
fields that change results (:data:`RESULT_FIELDS`); the others (workers, executor, cache,
progress) may differ between the first run and the resume. It also compares each benchmark's
``version`` and ``prompt_hash`` with those recorded when the run started (``summary.json``'s
``plan``), so a lemur upgrade between the kill and the resume cannot mix old and new items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic

from lemur.core.config import ConfigModel
from lemur.eval.executors import ExecutorName

#: Fields that decide what a run computes; a resume must match them exactly.
RESULT_FIELDS = ("model", "benchmarks", "limit", "data_dir", "benchmark_options")


class RunConfig(ConfigModel):
    """One evaluation run: a model, some benchmarks, where to write, how to parallelise."""

    model: str = pydantic.Field(
        description="Model spec BACKEND[:ARG][,key=value...], e.g. 'replay:runs/x.jsonl' or "
        "'openai:http://127.0.0.1:8000/v1,model=tiny'."
    )
    benchmarks: tuple[str, ...] = pydantic.Field(
        min_length=1, description="Benchmark names, as `lemur eval benchmarks` lists them."
    )
    out: Path = pydantic.Field(description="The run directory to write (or continue with --resume).")
    limit: int | None = pydantic.Field(
        default=None, ge=1, description="Evaluate only the first N samples of each benchmark."
    )
    data_dir: Path | None = pydantic.Field(
        default=None, description="A local mirror of benchmark data; default: the settings' data_dir."
    )
    benchmark_options: dict[str, dict[str, Any]] = pydantic.Field(
        default_factory=dict,
        description="Keyword arguments per benchmark name, passed to the benchmark's constructor.",
    )
    executor: ExecutorName = pydantic.Field(
        default="local", description="Where work runs: local (threads), process (a process pool) or ray."
    )
    workers: int = pydantic.Field(default=4, ge=1, description="Work items (chunks, episodes, scores) run at once.")
    ray_address: str | None = pydantic.Field(
        default=None, description="Ray cluster address for executor=ray; default: start a local instance."
    )
    chunk_size: int = pydantic.Field(
        default=16, ge=1, description="Generation requests handed to the model backend per call."
    )
    cache: Path | None = pydantic.Field(
        default=None, description="Model-call cache file (SQLite); default: <cache_dir>/eval/model-calls.sqlite."
    )
    use_cache: bool = pydantic.Field(default=True, description="Read and write the model-call cache.")
    progress: bool = pydantic.Field(default=True, description="Show progress bars on stderr.")

    @pydantic.field_validator("benchmarks", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @pydantic.field_validator("benchmarks")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise ValueError(f"benchmark named twice: {', '.join(duplicates)}")
        return value

    def result_fields(self) -> dict[str, Any]:
        """The fields of :data:`RESULT_FIELDS` in JSON form, for comparing a resume with the first run."""
        data = self.model_dump(mode="json")
        return {key: data[key] for key in RESULT_FIELDS}
