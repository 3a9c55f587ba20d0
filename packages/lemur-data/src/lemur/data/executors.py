"""Executors: run a sharded job locally (processes) or on Ray, resumably.

A job is a picklable callable ``task(rank, world_size) -> dict`` that does the work of shard
``rank`` and returns its statistics (JSON-able). An executor runs ranks ``0..tasks-1``; when a
rank finishes it writes ``<logging_dir>/stats/<rank>.json`` and then the empty marker
``<logging_dir>/completions/<rank>``. A rerun with the same ``logging_dir`` skips every rank
whose marker exists (a finished shard is never redone) and reuses its saved statistics. A
task must itself leave no visible half-written output when killed (shard writers publish by
rename), so redoing an unfinished rank is safe.

With ``progress`` on, a bar counts finished ranks, and its postfix shows the documents and tokens
that running ranks have processed so far (a task reports them through :func:`track_progress`;
each rank writes ``<logging_dir>/progress/<rank>.json`` about once a second and the parent sums
those files), so a long shard does not look stuck.
"""

from __future__ import annotations

import abc
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from lemur.core.errors import LemurError, MissingDependencyError

Task = Callable[[int, int], Mapping[str, Any]]
T = TypeVar("T")


def _name(rank: int) -> str:
    return f"{rank:05d}"


class RankProgress:
    """Documents and tokens a running rank has processed, for the executor's progress bar.

    Kept in ``<logging_dir>/progress/<rank>.json`` as ``{"documents": n, "tokens": t}``, rewritten
    (by rename) at most every ``interval`` seconds and once more when the rank ends; the parent
    process polls these files, so it works across processes and on Ray over a shared filesystem.

    Args:
        path: The rank's progress file.
        interval: Least seconds between writes.
        on_write: Called after each write (the in-process executor refreshes its bar with it).
    """

    def __init__(self, path: Path, interval: float = 1.0, on_write: Callable[[], None] | None = None):
        self.path = path
        self.interval = interval
        self.on_write = on_write
        self.documents = 0
        self.tokens = 0
        self._written = 0.0

    def update(self, documents: int = 0, tokens: int = 0) -> None:
        """Count ``documents`` and ``tokens`` more; write the file if ``interval`` has passed."""
        self.documents += documents
        self.tokens += tokens
        if time.monotonic() - self._written >= self.interval:
            self.write()

    def write(self) -> None:
        """Write the counts now."""
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps({"documents": self.documents, "tokens": self.tokens}), encoding="utf-8")
        partial.replace(self.path)
        self._written = time.monotonic()
        if self.on_write is not None:
            self.on_write()


#: The progress of the rank running in this process (None outside a rank or with progress off).
_progress: RankProgress | None = None


def track_progress(items: Iterable[T], tokens: Callable[[T], int] | None = None) -> Iterator[T]:
    """Yield ``items``, counting each as one document (and ``tokens(item)`` tokens) in the running rank's progress.

    Outside a rank run by an executor with progress on, items pass through uncounted.
    """
    progress = _progress
    if progress is None:
        yield from items
        return
    for item in items:
        progress.update(1, tokens(item) if tokens is not None else 0)
        yield item


def run_rank(
    task: Task,
    rank: int,
    world_size: int,
    logging_dir: str,
    progress: bool = False,
    on_progress: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run one rank of ``task`` and record its stats and completion marker; returns the stats.

    With ``progress``, documents and tokens the task passes through :func:`track_progress` are
    written to ``<logging_dir>/progress/<rank>.json`` (see :class:`RankProgress`).
    """
    global _progress
    root = Path(logging_dir)
    if progress:
        (root / "progress").mkdir(parents=True, exist_ok=True)
        _progress = RankProgress(root / "progress" / f"{_name(rank)}.json", on_write=on_progress)
    try:
        stats = dict(task(rank, world_size))
    finally:
        if _progress is not None:
            _progress.write()
            _progress = None
    partial = root / "stats" / f"{_name(rank)}.json.partial"
    partial.write_text(json.dumps(stats, indent=1, default=str), encoding="utf-8")
    partial.replace(root / "stats" / f"{_name(rank)}.json")
    (root / "completions" / _name(rank)).touch()
    return stats


class _ProgressPoller:
    """Sums the progress files of the ranks of one run into the bar's postfix (documents, tokens, tokens/s)."""

    def __init__(self, folder: Path, ranks: list[int], bar: Any):
        self.files = [folder / f"{_name(rank)}.json" for rank in ranks]
        self.bar = bar
        self.start = time.monotonic()
        for path in self.files:  # counts left by an interrupted earlier run
            path.unlink(missing_ok=True)

    def __call__(self) -> None:
        documents = tokens = reported = 0
        for path in self.files:
            try:
                counts = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            documents += int(counts.get("documents", 0))
            tokens += int(counts.get("tokens", 0))
            reported += 1
        if not reported:  # a task that reports nothing (or has not yet): shards only
            return
        rate = tokens / max(time.monotonic() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{documents:,} docs, {_human(tokens)} tokens, {_human(rate)} tokens/s")


def _human(number: float) -> str:
    """``1234567`` as ``1.23M``, ``45678`` as ``45.7k``."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= scale:
            return f"{number / scale:.3g}{suffix}"
    return f"{number:.0f}"


class Executor(abc.ABC):
    """Runs ranks ``0..tasks-1`` of a job, skipping the ones already completed.

    Args:
        tasks: How many shards the input is split into (the job's ``world_size``).
        logging_dir: Where completion markers and per-rank stats are kept.
        skip_completed: Whether to skip ranks with a completion marker (default: yes).
        progress: Whether to show a progress bar over ranks.

    Raises:
        LemurError: ``tasks`` is below 1.
    """

    #: Name in messages and ``--executor``.
    name = ""

    def __init__(self, tasks: int, logging_dir: str | Path, skip_completed: bool = True, progress: bool = True):
        if not isinstance(tasks, int) or tasks < 1:
            raise LemurError(f"{self.name} executor: tasks must be a whole number of at least 1, got {tasks!r}")
        self.tasks = tasks
        self.logging_dir = Path(logging_dir)
        self.skip_completed = skip_completed
        self.progress = progress
        self._poll: Callable[[], None] | None = None

    def completed(self) -> set[int]:
        """Ranks whose completion marker exists."""
        folder = self.logging_dir / "completions"
        return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()

    def run(self, task: Task) -> dict[int, dict[str, Any]]:
        """Run every rank not yet completed; return the stats of all ranks, by rank.

        Raises:
            Whatever a rank raised (other ranks' finished work stays recorded).
        """
        (self.logging_dir / "completions").mkdir(parents=True, exist_ok=True)
        (self.logging_dir / "stats").mkdir(parents=True, exist_ok=True)
        done = self.completed() if self.skip_completed else set()
        results = {rank: self._load_stats(rank) for rank in sorted(done) if rank < self.tasks}
        pending = [rank for rank in range(self.tasks) if rank not in results]
        bar = self._bar(len(results))
        self._poll = _ProgressPoller(self.logging_dir / "progress", pending, bar) if bar is not None else None
        try:
            for rank, stats in self._execute(task, pending, bar):
                results[rank] = stats
        finally:
            if bar is not None:
                self._poll()
                bar.close()
        return dict(sorted(results.items()))

    def _bar(self, already: int) -> Any:
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        (self.logging_dir / "progress").mkdir(parents=True, exist_ok=True)
        return tqdm(total=self.tasks, initial=already, desc=f"shards ({self.name})", unit="shard")

    def _load_stats(self, rank: int) -> dict[str, Any]:
        path = self.logging_dir / "stats" / f"{_name(rank)}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}

    @abc.abstractmethod
    def _execute(self, task: Task, ranks: list[int], bar: Any) -> Any:
        """Yield ``(rank, stats)`` as each pending rank finishes, advancing ``bar`` and calling ``self._poll``
        (when not None) about every second for the documents and tokens of running ranks."""


class LocalExecutor(Executor):
    """Runs ranks in local worker processes (``workers=1``: in this process, one after another).

    Args:
        tasks, logging_dir, skip_completed, progress: See :class:`Executor`.
        workers: Processes at once (default: the CPU count, at most ``tasks``).

    Raises:
        LemurError: ``workers`` is below 1.
    """

    name = "local"

    def __init__(
        self,
        tasks: int,
        logging_dir: str | Path,
        workers: int | None = None,
        skip_completed: bool = True,
        progress: bool = True,
    ):
        super().__init__(tasks, logging_dir, skip_completed, progress)
        workers = workers if workers is not None else min(os.cpu_count() or 1, tasks)
        if not isinstance(workers, int) or workers < 1:
            raise LemurError(f"local executor: workers must be a whole number of at least 1, got {workers!r}")
        self.workers = min(workers, tasks)

    def _execute(self, task: Task, ranks: list[int], bar: Any) -> Any:
        if self.workers == 1:
            for rank in ranks:
                yield rank, run_rank(task, rank, self.tasks, str(self.logging_dir), bar is not None, self._poll)
                if bar is not None:
                    bar.update(1)
            return
        import concurrent.futures
        import multiprocessing

        # spawn, not fork: the parent may hold tokenizer or Ray threads that fork would copy broken.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            futures = {
                pool.submit(run_rank, task, rank, self.tasks, str(self.logging_dir), bar is not None): rank
                for rank in ranks
            }
            waiting = set(futures)
            while waiting:
                done, waiting = concurrent.futures.wait(waiting, timeout=1.0, return_when="FIRST_COMPLETED")
                for future in done:
                    yield futures[future], future.result()
                    if bar is not None:
                        bar.update(1)
                if self._poll is not None:
                    self._poll()


class RayExecutor(Executor):
    """Runs each rank as a Ray task, on a cluster (``address``) or a local Ray instance.

    Args:
        tasks, logging_dir, skip_completed, progress: See :class:`Executor`; ``logging_dir`` must be
            on storage every Ray node can write (a shared filesystem) when running on a cluster.
        address: Ray cluster address (``"auto"``, ``"ray://host:10001"``); ``None`` joins the Ray
            instance already initialised in this process, the cluster named by the ``RAY_ADDRESS``
            environment variable, or starts a local one.
        cpus_per_task: CPUs Ray reserves for each rank.
        num_cpus: CPUs of the local instance when one is started here.

    Raises:
        MissingDependencyError: ``ray`` is not installed.
        LemurError: ``cpus_per_task`` is not positive.
    """

    name = "ray"

    def __init__(
        self,
        tasks: int,
        logging_dir: str | Path,
        address: str | None = None,
        cpus_per_task: float = 1,
        num_cpus: int | None = None,
        skip_completed: bool = True,
        progress: bool = True,
    ):
        super().__init__(tasks, logging_dir, skip_completed, progress)
        try:
            import ray  # noqa: F401
        except ImportError:
            raise MissingDependencyError("the ray executor", "ray", "lemur-data[ray]") from None
        if cpus_per_task <= 0:
            raise LemurError(f"ray executor: cpus_per_task must be positive, got {cpus_per_task}")
        self.address = address
        self.cpus_per_task = cpus_per_task
        self.num_cpus = num_cpus

    def _execute(self, task: Task, ranks: list[int], bar: Any) -> Any:
        import ray

        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(
                address=self.address,
                # Joining a running cluster (an address, or RAY_ADDRESS): Ray refuses num_cpus then.
                num_cpus=self.num_cpus if self.address is None and not os.environ.get("RAY_ADDRESS") else None,
                include_dashboard=False,
                log_to_driver=False,
            )
        remote = ray.remote(num_cpus=self.cpus_per_task)(run_rank)
        logging_dir = str(self.logging_dir.resolve())
        pending = {remote.remote(task, rank, self.tasks, logging_dir, bar is not None): rank for rank in ranks}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            if self._poll is not None:
                self._poll()
            for ref in ready:
                rank = pending.pop(ref)
                try:
                    result = _ray_result(ref)
                except BaseException:
                    _cancel(pending)
                    raise
                yield rank, result
                if bar is not None:
                    bar.update(1)


def _ray_result(ref: Any) -> Any:
    """``ray.get(ref)``, re-raising a failed rank's own exception rather than Ray's wrapper around it.

    Ray wraps an exception raised in a task in ``RayTaskError``, whose message is ``ray::run_rank()``
    plus the remote traceback; the CLI would print all of that for a one-line user error.
    """
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise


def _cancel(pending: dict[Any, int]) -> None:
    """Stop the ranks still pending after one failed and collect their outcome, so Ray does not
    print their errors ("Unhandled error ...") after the failed rank's one-line message."""
    import ray

    for ref in pending:
        ray.cancel(ref)
    for ref in pending:
        try:
            ray.get(ref)
        except ray.exceptions.RayError:  # cancelled, or failed too: the first error is the one raised
            pass


def make_executor(
    kind: str, tasks: int, logging_dir: str | Path, workers: int | None = None, **options: Any
) -> Executor:
    """Build the executor named ``kind`` (``local`` or ``ray``).

    Raises:
        LemurError: ``kind`` is not one of them.
    """
    if kind == "local":
        return LocalExecutor(tasks, logging_dir, workers=workers, **options)
    if kind == "ray":
        return RayExecutor(tasks, logging_dir, num_cpus=workers, **options)
    raise LemurError(f"unknown executor {kind!r}; allowed: local, ray")
