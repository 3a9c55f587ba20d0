"""The evaluation runner: validate a :class:`RunConfig`, then generate, score and summarise.

``prepare_run`` checks everything (the output directory, the model spec and its target, every
benchmark name, its data and prompts, the cache, the executor) and writes nothing; only
``execute_run`` writes, into the run directory laid out in :mod:`lemur.eval.results`. So a bad
input never leaves files behind.

Per benchmark there are two stages. Stage 1 (generation) hands the backend chunks of
``chunk_size`` requests (agent benchmarks: one episode per item) through the executor,
answering from the model-call cache where possible, and appends one line per sample to
``generations.jsonl``. Stage 2 (scoring) runs ``score()`` for every generated sample through the
executor (scorers call the sandbox, so they run concurrently) and appends to
``results.jsonl``. Both stages skip samples whose line already exists, which is how
``--resume`` continues a killed run.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from lemur.core.errors import ConfigError, LemurError
from lemur.eval import stages
from lemur.eval.agent_loop import success_by_turn
from lemur.eval.benchmark import AgentBenchmark, Benchmark, Sample, Score
from lemur.eval.cache import CachingBackend, ResponseCache, sha256_json
from lemur.eval.config import RESULT_FIELDS, RunConfig
from lemur.eval.executors import Executor, create_executor
from lemur.eval.models.base import GenerationRequest, ModelBackend
from lemur.eval.models.replay import ReplayBackend, ReplayMissError
from lemur.eval.models.spec import ModelSpec, create_backend, parse_model_spec
from lemur.eval.results import (
    CONFIG_FILE,
    GENERATIONS_FILE,
    RESULTS_FILE,
    SUMMARY_FILE,
    JsonlAppender,
    RunDirError,
    git_dirty,
    git_revision,
    lemur_versions,
    package_versions,
    read_jsonl,
    write_atomically,
    write_summary,
)
from lemur.eval.workers import map_with_backend


class RunInterruptedError(LemurError):
    """A run stopped part-way; its directory holds the finished items and resumes with ``--resume``."""


@dataclasses.dataclass
class BenchmarkPlan:
    """One benchmark of a run, validated and ready to evaluate."""

    name: str
    benchmark: Benchmark
    samples: list[Sample]  #: the samples to evaluate (after ``limit``)
    requests: list[stages.SampleRequest] | None  #: per sample (single-turn only)
    data_sha256: str
    prompt_hash: str

    @property
    def is_agent(self) -> bool:
        """Whether this is a multi-turn benchmark."""
        return isinstance(self.benchmark, AgentBenchmark)


@dataclasses.dataclass
class PreparedRun:
    """A validated run: nothing has been written yet."""

    config: RunConfig
    model: ModelSpec
    backend: CachingBackend
    plans: list[BenchmarkPlan]
    executor: Executor
    resume: bool

    def close(self) -> None:
        """Release the executor and the backend."""
        self.executor.close()
        self.backend.close()


def prepare_run(config: RunConfig, resume: bool = False) -> PreparedRun:
    """Validate everything about ``config`` without writing a byte.

    Args:
        config: The run.
        resume: Continue the run in ``config.out`` instead of starting a new one.

    Raises:
        RunDirError: ``out`` is not empty and ``resume`` is false; or ``resume`` is true and
            ``out`` holds no run, or a run whose config differs (the message names the field),
            or one begun with another version or prompt format of a benchmark.
        ConfigError: A malformed model spec, bad benchmark options, duplicate sample ids.
        ReplayMissError: The model is ``replay`` and the file lacks a recording for some
            single-turn request (all are checked, before anything is written).
        UnknownComponentError: An unknown model backend, benchmark or agent.
        LemurError: Raised by a backend (unreachable server, bad file) or a benchmark (missing data).
    """
    _check_out_dir(config, resume)
    model = parse_model_spec(config.model)
    plans_before_backend = [_load_benchmark(config, name) for name in config.benchmarks]
    cache = None
    if config.use_cache:
        cache = ResponseCache(config.cache or _default_cache_path())
        cache.check()
    backend = CachingBackend(create_backend(model), cache)
    executor = None
    try:
        plans = [_plan(config, name, benchmark, backend) for name, benchmark in plans_before_backend]
        if resume:
            _check_resumed_plans(Path(config.out), plans)
        if isinstance(backend.inner, ReplayBackend):
            _check_recorded(backend.inner, plans, Path(config.out) if resume else None)
        if config.executor != "local":
            _check_shippable(config.executor, model, backend, plans)
        executor = create_executor(config.executor, config.workers, config.ray_address)
    except BaseException:
        backend.close()
        raise
    return PreparedRun(config, model, backend, plans, executor, resume)


def execute_run(prepared: PreparedRun) -> dict[str, Any]:
    """Generate, score and summarise every benchmark of ``prepared``; returns the summary.

    Writes ``config.yaml`` first (a new run), then the JSONL files item by item, then
    ``summary.json``. Interrupted at any point, the run continues with ``--resume``.

    Raises:
        LemurError: What a backend or scorer raised mid-run, its message followed by how to
            continue the run with ``--resume``.
    """
    config = prepared.config
    out = Path(config.out)
    config_path = out / CONFIG_FILE
    if not prepared.resume:
        out.mkdir(parents=True, exist_ok=True)
        write_atomically(config_path, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    header = _summary_header(prepared, config_path)
    if not prepared.resume or not (out / SUMMARY_FILE).exists():
        write_summary(out, {**header, "finished": False, "benchmarks": {}})
    entries = {}
    try:
        for plan in prepared.plans:
            folder = out / plan.name
            _generate(prepared, plan, folder / GENERATIONS_FILE)
            _score(prepared, plan, folder / GENERATIONS_FILE, folder / RESULTS_FILE)
            entries[plan.name] = _summarise(plan, folder / GENERATIONS_FILE, folder / RESULTS_FILE)
    except LemurError as error:
        raise RunInterruptedError(
            f"{error}; {out} keeps every finished item: fix the cause and rerun the same command with --resume"
        ) from error
    summary = {**header, "finished": True, "benchmarks": entries}
    write_summary(out, summary)
    return summary


def _summary_header(prepared: PreparedRun, config_path: Path) -> dict[str, Any]:
    config = prepared.config
    created = datetime.datetime.fromtimestamp(config_path.stat().st_mtime, datetime.timezone.utc)
    model = {"spec": prepared.model.text, "backend": prepared.model.backend, "identity": prepared.backend.identity}
    server_version = getattr(prepared.backend.inner, "server_version", None)
    if server_version is not None:
        model["server_version"] = server_version
    return {
        "run_id": f"{Path(config.out).resolve().name}-{sha256_json(config.result_fields())[:12]}",
        "created": created.replace(microsecond=0).isoformat(),
        "finished": False,
        "lemur": lemur_versions(),
        "versions": package_versions(),
        "git_revision": git_revision(),
        "git_dirty": git_dirty(),
        "model": model,
        "plan": {
            plan.name: {"version": plan.benchmark.spec.version, "prompt_hash": plan.prompt_hash}
            for plan in prepared.plans
        },
    }


def run(config: RunConfig, resume: bool = False) -> dict[str, Any]:
    """Validate then execute ``config`` (see :func:`prepare_run` and :func:`execute_run`)."""
    prepared = prepare_run(config, resume)
    try:
        return execute_run(prepared)
    finally:
        prepared.close()


def _default_cache_path() -> Path:
    from lemur.core.settings import get_settings

    return get_settings().cache_dir / "eval" / "model-calls.sqlite"


def _check_out_dir(config: RunConfig, resume: bool) -> None:
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"output directory {out} is a file; choose another --out")
    occupied = out.is_dir() and any(out.iterdir())
    if not resume:
        if occupied:
            raise RunDirError(
                f"output directory {out} is not empty; pass --resume to continue that run or choose another --out"
            )
        return
    if not (out / CONFIG_FILE).is_file():
        raise RunDirError(f"--resume: {out} holds no run ({CONFIG_FILE} is missing)")
    from lemur.core.config import load_config

    previous = load_config(out / CONFIG_FILE, RunConfig)
    before, now = previous.result_fields(), config.result_fields()
    for key in RESULT_FIELDS:
        if before[key] != now[key]:
            raise RunDirError(
                f"--resume: field '{key}' was {before[key]!r} in {out / CONFIG_FILE} but is {now[key]!r} now; "
                "resume with the same settings or start a new --out"
            )


def _check_resumed_plans(out: Path, plans: Sequence[BenchmarkPlan]) -> None:
    """Refuse to resume a run begun with another version or prompt format of one of its benchmarks.

    The run's ``summary.json`` records both per benchmark (``plan``, written when the run
    starts; older runs only have them in a finished summary's ``benchmarks``).
    """
    import json

    path = out / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return  # killed before its first summary: nothing was generated with other prompts
    except (OSError, ValueError) as error:
        raise RunDirError(f"--resume: cannot read {path} ({error}); the run directory is damaged") from None
    recorded = summary.get("plan") or summary.get("benchmarks") or {}
    for plan in plans:
        before = recorded.get(plan.name)
        if not isinstance(before, dict):
            continue
        now = {"version": plan.benchmark.spec.version, "prompt_hash": plan.prompt_hash}
        for field, value in now.items():
            if field in before and before[field] != value:
                raise RunDirError(
                    f"--resume: benchmark '{plan.name}' {field} was {before[field]!r} when {out} was started but is "
                    f"{value!r} now (lemur was changed); start a new --out so old and new items are not mixed"
                )


def _check_recorded(backend: ReplayBackend, plans: Sequence[BenchmarkPlan], resumed: Path | None) -> None:
    """Raise one ReplayMissError naming the samples whose requests the replay file lacks.

    Samples already generated in the ``resumed`` run directory need no recording.
    """
    for plan in plans:
        if plan.requests is None:
            continue  # agent requests are only known while an episode runs
        done = set(read_jsonl(resumed / plan.name / GENERATIONS_FILE)) if resumed is not None else set()
        missing = [
            sample.id
            for sample, request in zip(plan.samples, plan.requests, strict=True)
            if sample.id not in done and not backend.has_recording(request)
        ]
        if missing:
            shown = ", ".join(repr(sample_id) for sample_id in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise ReplayMissError(
                f"replay file {backend.path}: no recording for {len(missing)} of {len(plan.samples)} samples of "
                f"benchmark '{plan.name}' ({shown}{more}); record them, or lower --limit"
            )


def _check_shippable(executor: str, model: ModelSpec, backend: CachingBackend, plans: Sequence[BenchmarkPlan]) -> None:
    """Raise a one-line ConfigError when the backend's recipe or a benchmark cannot be sent to worker processes.

    Workers get the backend as a :class:`~lemur.eval.workers.WorkerBackend` (its class, target
    and options) and build it themselves; a live backend is never shipped.
    """
    import pickle

    from lemur.eval.workers import WorkerBackend

    things = [(f"model backend '{backend.name}'", WorkerBackend.of(model, backend))]
    things += [(f"benchmark '{p.name}'", p.benchmark) for p in plans]
    for what, thing in things:
        try:
            pickle.dumps(thing)
        except Exception as error:  # noqa: BLE001 - any pickling failure means the same to the user
            raise ConfigError(
                f"--executor {executor}: the {what} cannot be sent to worker processes ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}); use --executor local"
            ) from None


def _load_benchmark(config: RunConfig, name: str) -> tuple[str, Benchmark]:
    from lemur.core.components import Kind
    from lemur.core.plugins import components

    benchmark_cls = components(Kind.BENCHMARK).load(name)
    options = dict(config.benchmark_options.get(name, {}))
    unknown = sorted(set(config.benchmark_options) - set(config.benchmarks))
    if unknown:
        raise ConfigError(f"benchmark_options names {', '.join(unknown)}, which is not in benchmarks")
    try:
        benchmark = benchmark_cls(data_dir=config.data_dir, **options)
    except LemurError:
        raise
    except TypeError as error:
        raise ConfigError(f"benchmark_options.{name}: {error}") from None
    return name, benchmark


def _plan(config: RunConfig, name: str, benchmark: Benchmark, backend: ModelBackend) -> BenchmarkPlan:
    all_samples = list(benchmark.samples())
    ids = [sample.id for sample in all_samples]
    if len(set(ids)) != len(ids):
        duplicate = next(sample_id for index, sample_id in enumerate(ids) if sample_id in ids[:index])
        raise ConfigError(f"benchmark '{name}': sample id {duplicate!r} appears twice")
    data_sha256 = sha256_json([[s.id, s.inputs, s.target] for s in all_samples])
    samples = all_samples[: config.limit] if config.limit else all_samples
    if isinstance(benchmark, AgentBenchmark):
        agent = benchmark.make_agent(backend)
        prompt = {"env": benchmark.env_id, "max_turns": benchmark.max_turns, "agent": agent.describe()}
        return BenchmarkPlan(name, benchmark, samples, None, data_sha256, sha256_json(prompt))
    all_requests = [benchmark.request(sample) for sample in all_samples]
    prompt_hash = sha256_json([stages.request_to_dict(request) for request in all_requests])
    return BenchmarkPlan(name, benchmark, samples, all_requests[: len(samples)], data_sha256, prompt_hash)


def _progress(prepared: PreparedRun, plan: BenchmarkPlan, stage: str, done: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=len(plan.samples),
        initial=done,
        desc=f"{plan.name} {stage}",
        unit="item",
        file=sys.stderr,
        disable=not prepared.config.progress,
        dynamic_ncols=True,
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _generate(prepared: PreparedRun, plan: BenchmarkPlan, path: Path) -> None:
    done = set(read_jsonl(path))
    todo = [index for index, sample in enumerate(plan.samples) if sample.id not in done]
    with JsonlAppender(path) as appender, _progress(prepared, plan, "generate", len(plan.samples) - len(todo)) as bar:
        if plan.is_agent:
            play = functools.partial(stages.play_episode, plan.benchmark)
            samples = (plan.samples[index] for index in todo)
            for record in map_with_backend(prepared.executor, prepared.backend, prepared.model, play, samples):
                appender.append(record)
                bar.update(1)
            return
        assert plan.requests is not None
        pairs = [(plan.samples[index].id, plan.requests[index]) for index in todo]
        chunks = list(_chunks(pairs, prepared.config.chunk_size))
        warned = False
        answers = map_with_backend(prepared.executor, prepared.backend, prepared.model, stages.generate_chunk, chunks)
        for chunk, records in zip(chunks, answers, strict=True):
            cuts = _truncated_tokens(prepared.backend.inner, [request for _, request in chunk])
            for index, record in enumerate(records):
                if cuts is not None:
                    record["truncated_tokens"] = cuts[index]
                    if cuts[index] and not warned:
                        warned = True
                        warning = _truncation_warning(prepared.backend, plan.name, record["id"], cuts[index])
                        bar.write(warning, file=sys.stderr)
                appender.append(record)
            bar.update(len(records))


def _truncated_tokens(backend: ModelBackend, requests: Sequence[stages.SampleRequest]) -> list[int] | None:
    """Prompt tokens ``backend`` drops to fit its context, per sample request (its log-likelihood requests' most).

    ``None`` when the backend cannot tell (:meth:`ModelBackend.truncated_tokens`).
    """
    groups = [[request] if isinstance(request, GenerationRequest) else list(request) for request in requests]
    flat = backend.truncated_tokens([item for group in groups for item in group])
    if flat is None:
        return None
    counts, offset = [], 0
    for group in groups:
        counts.append(max(flat[offset : offset + len(group)], default=0))
        offset += len(group)
    return counts


def _truncation_warning(backend: CachingBackend, benchmark: str, sample_id: str, cut: int) -> str:
    limit = backend.identity.get("max_length")
    window = f"max_length={limit}" if limit is not None else "its context length"
    return (
        f"warning: benchmark '{benchmark}': the {backend.name} backend cut the first {cut} tokens of sample "
        f"{sample_id!r}'s prompt to fit {window} (later ones may be cut too; see 'truncated_tokens' in "
        f"generations.jsonl and 'truncated' in summary.json); raise max_length in the model spec if the model allows"
    )


def _score(prepared: PreparedRun, plan: BenchmarkPlan, generations_path: Path, results_path: Path) -> None:
    generations = read_jsonl(generations_path)
    done = set(read_jsonl(results_path))
    todo = [sample for sample in plan.samples if sample.id not in done]
    missing = [sample.id for sample in todo if sample.id not in generations]
    if missing:
        raise RunDirError(f"{generations_path}: no generation for sample {missing[0]!r}; the run directory is damaged")
    score = functools.partial(stages.score_output, plan.benchmark)
    with (
        JsonlAppender(results_path) as appender,
        _progress(prepared, plan, "score", len(plan.samples) - len(todo)) as bar,
    ):
        for record in prepared.executor.imap(score, ((sample, generations[sample.id]) for sample in todo)):
            appender.append(record)
            bar.update(1)


def _summarise(plan: BenchmarkPlan, generations_path: Path, results_path: Path) -> dict[str, Any]:
    results = read_jsonl(results_path)
    records = [results[sample.id] for sample in plan.samples]
    generations = read_jsonl(generations_path)
    cuts = [generations[sample.id].get("truncated_tokens") for sample in plan.samples]
    scores = [Score(record["score"], record.get("details", {})) for record in records]
    spec = plan.benchmark.spec
    entry: dict[str, Any] = {
        "version": spec.version,
        "category": spec.category,
        "metric": spec.metric,
        "setting": dict(spec.setting),
        "scores": {key: float(value) for key, value in plan.benchmark.aggregate(scores).items()},
        "n": len(records),
        "data_sha256": plan.data_sha256,
        "prompt_hash": plan.prompt_hash,
    }
    if plan.is_agent:
        turns = [record.get("success_turn") for record in records]
        entry["success_by_turn"] = success_by_turn(turns, plan.benchmark.max_turns)
    if any(cut is not None for cut in cuts):
        entry["truncated"] = {"items": sum(1 for cut in cuts if cut), "tokens": sum(cut or 0 for cut in cuts)}
    return entry
