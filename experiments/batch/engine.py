"""``run_batch``: every design point x replicates, on any executor, streamed to a results folder.

The steps, each a small function below: :func:`plan_batch` checks the design and options
and fixes every run's seed (nothing runs before the whole batch is checked); the folder is
created, resumed or refused (:mod:`.store`); one run goes first in this process, so bad
input stops the batch with a clear message; the :class:`_Driver` submits chunks of runs to
the executor (:mod:`.executors`) and writes each finished chunk; the parts are consolidated
and the manifest (:mod:`.manifest`) completed.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import math
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BatchAborted, BatchConfigError, option, rethrow
from .design import (
    SEED_RULE,
    SEED_RULE_COMMON,
    Run,
    check_int,
    check_point_ids,
    check_seed_keys,
    design_runs,
    jsonable,
    normalise_design,
    parameter_names,
    run_seed,
)
from .executors import OpenExecutor, open_executor
from .manifest import FORMAT_VERSION, MANIFEST_NAME, config_hash, git_commit, package_versions, write_manifest
from .runner import Runner
from .store import PARTS, consolidate, prepare_folder, scan_parts, staging_folder, swap_in, write_chunk
from .tables import failures_table, table_names, to_ipc
from .worker import ChunkResult, Task, failure_record, now, run_chunk

__all__ = ["BatchResult", "Plan", "plan_batch", "run_batch", "batch_preload"]

TARGET_TASK_SECONDS = 1.0  # adaptive chunks aim for tasks of about this length (>= 0.5 s)
# Imported once by a local process pool's fork server (with the runner's preload), not by every worker.
WORKER_PRELOAD = ("commissim.experiments.batch.worker", "pyarrow", "pyarrow.ipc")
MAX_CHUNK = 200  # bounds the data a chunk holds in memory (memory flat in the number of runs)


@dataclass
class BatchResult:
    """What a batch did: the folder, run counts and the failures of this batch."""

    out: Path
    n_runs: int
    n_done: int
    n_failed: int
    n_skipped: int
    seconds: float
    failures: list[dict] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.n_done == self.n_runs

    def failure_summary(self) -> str:
        """A few lines on the failed runs ('' when none failed)."""
        if not self.n_failed:
            return ""
        by_error: dict[str, list[str]] = {}
        for f in self.failures:
            by_error.setdefault(f"{f['error_type']}: {f['message']}", []).append(f["run_id"])
        lines = [f"{self.n_failed} of {self.n_runs} runs failed (details in {self.out / 'failures.csv'}):"]
        for msg, ids in sorted(by_error.items(), key=lambda kv: -len(kv[1]))[:5]:
            shown = ", ".join(ids[:4]) + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
            lines.append(f"  {len(ids)} x {msg.splitlines()[0][:200]}  (runs {shown})")
        lines.append("Run the same command again to retry the failed runs; finished runs are kept.")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the plan
@dataclass
class Plan:
    """A checked batch: everything decided before any run starts."""

    runner: Runner
    out: Path
    label: str
    points: list[dict]
    describes: list[dict]
    ids: list[int]
    replicates: int
    years: int
    root_seed: int
    series: bool
    chunk_size: int | None
    runs: list[Run]
    task: Task
    config: dict[str, Any]
    config_hash: str
    meta: dict[str, Any]
    derived: tuple[str, ...] = ()
    extend_hash: str = ""  # the hash of the configuration without replicates (more seeds extend a folder)
    common_seeds: bool = False
    seed_keys: list[int] | None = None

    def seed_key(self, i: int) -> int:
        """The seed key of design point ``i`` (its point id unless ``seed_keys`` were given)."""
        return self.ids[i] if self.seed_keys is None else self.seed_keys[i]

    @property
    def tables(self) -> tuple[str, ...]:
        return table_names(self.runner.vectors)


def plan_batch(design: Sequence[dict[str, Any]], *, runner: Runner, out: str | Path, replicates: int = 30,
               years: int = 10, root_seed: int = 20230401, series: bool = True, chunk_size: int | None = None,
               point_ids: Sequence[int] | None = None, label: str = "batch", meta: dict[str, Any] | None = None,
               derived: Sequence[str] = (), common_seeds: bool = False,
               seed_keys: Sequence[int] | None = None) -> Plan:
    """Check the design and options, fix every run and its seed; raise BatchConfigError if not allowed.

    ``common_seeds``: replicate r of every design point gets the same seed (common random
    numbers: differences between points are paired by replicate); otherwise each point has
    its own seeds. ``seed_keys``: the key each point's seeds are drawn from instead of its
    point id (points that share a key share their seeds). Not both.
    """
    if common_seeds and seed_keys is not None:
        raise BatchConfigError("common_seeds and seed_keys: give one (common seeds already share every "
                               "replicate's seed across points)")
    if not isinstance(runner, Runner):
        raise BatchConfigError(f"runner: {runner!r} is not a Runner; e.g. "
                               "commissim.experiments.model_runs.model_runner()")
    replicates = check_int("replicates", replicates, 1)
    years = check_int("years", years, 0)
    root_seed = check_int("root_seed", root_seed, 0)
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, 1)
    points, describes = normalise_design(design, runner.check)
    ids = check_point_ids(point_ids, len(points))
    keys = check_seed_keys(seed_keys, len(points))
    names = parameter_names(points)
    config = {
        "format_version": FORMAT_VERSION,
        "label": label,
        "function": runner.name,
        "function_kwargs": jsonable(runner.kwargs),
        "design": points,
        "point_ids": ids,
        "replicates": replicates,
        "years": years,
        "root_seed": root_seed,
        "series": bool(series),
    }
    if common_seeds:  # only when set, so the hashes of earlier folders stay valid
        config["common_seeds"] = True
    if keys is not None:  # only when given: the configuration (and hash) of other batches is unchanged
        config["seed_keys"] = keys
    task = Task(runner.func, dict(runner.kwargs), years, bool(series), tuple(names), tuple(runner.vectors),
                runner.round_label)
    return Plan(runner, Path(out), label, points, describes, ids, replicates, years, root_seed, bool(series),
                chunk_size, design_runs(points, ids, replicates, root_seed, keys, common=common_seeds), task, config,
                config_hash(config), dict(meta or {}), tuple(derived),
                config_hash({k: v for k, v in config.items() if k != "replicates"}), bool(common_seeds), keys)


# --------------------------------------------------------------------------- the folder and manifest
def _open_folder(plan: Plan, overwrite: bool, fingerprint: str | None) -> dict | None:
    """Create, resume or refuse the results folder; return the old manifest when resuming."""
    old = prepare_folder(plan.out, plan.config, plan.config_hash, overwrite, plan.tables, plan.derived,
                         extend_hash=plan.extend_hash)
    if old and old.get("fingerprint") not in (None, fingerprint):
        r = plan.runner
        raise BatchConfigError(
            f"results folder '{plan.out}' was made by a different version of the {r.subject} "
            f"({r.fingerprint_note + ': ' if r.fingerprint_note else ''}fingerprint {old.get('fingerprint')}, now "
            f"{fingerprint}); resuming would mix the two. Pass {option('overwrite')} to run it again, or "
            f"{option('out')} for a new folder"
        )
    return old


def _manifest(plan: Plan, old: dict | None, fingerprint: str | None, n_done: int, n_failed: int) -> dict[str, Any]:
    meta = plan.meta
    return {
        "commissim_results": FORMAT_VERSION,
        "kind": plan.label,
        "status": "running",
        "config_hash": plan.config_hash,
        "extend_hash": plan.extend_hash,
        "config": {k: v for k, v in plan.config.items() if k != "design"},
        "seed_rule": SEED_RULE_COMMON if plan.common_seeds else SEED_RULE,
        "design": [
            {"point": pid, **describe, "scenario": point["scenario"],
             "seeds": [run_seed(plan.root_seed, plan.seed_key(i), r, common=plan.common_seeds)
                       for r in range(plan.replicates)]}
            for i, (pid, point, describe) in enumerate(zip(plan.ids, plan.points, plan.describes))
        ],
        "versions": package_versions(plan.runner.versions),
        "fingerprint": fingerprint,
        "git_commit": git_commit(),
        "started": (old or {}).get("started") or now(),
        "resumed": [*(old or {}).get("resumed", []), *([now()] if old else [])],
        "extended": [*(old or {}).get("extended", []),
                     *([{"at": now(), "replicates_from": old["extending_from"], "replicates_to": plan.replicates}]
                       if old and "extending_from" in old else [])],
        "finished": None,
        "executor": None,
        "executor_detail": None,
        "workers": None,
        "command": meta.get("command"),
        "counts": {"runs": len(plan.runs), "done": n_done, "failed": n_failed},
        **{k: jsonable(v) for k, v in meta.items() if k != "command"},
    }


def _first_run(plan: Plan, run: Run) -> ChunkResult:
    """The batch's first run, in this process: bad input (one of the runner's ``input_errors``,
    e.g. a seed table that does not load) stops the batch with its message before anything is
    written; any other error is recorded like every failing run."""
    with rethrow(BatchConfigError, plan.runner.input_errors):
        return run_chunk(plan.task, [run], plan.runner.input_errors)


# --------------------------------------------------------------------------- driving the executor
class _Driver:
    """Submits chunks with a bounded window of tasks, writes each finished chunk, shows progress."""

    def __init__(self, plan: Plan, ex: OpenExecutor, pending: list[Run], progress: bool | None):
        self.plan, self.ex = plan, ex
        self.parts = plan.out / PARTS
        self.queue = list(reversed(pending))  # pop() from the end = design order
        self.window = max(2, 2 * ex.workers)
        self.in_flight: dict[cf.Future, list[Run]] = {}
        self.sec_per_run: float | None = None
        self.failures: list[dict] = []
        self.n_done = 0
        self.show = sys.stderr.isatty() if progress is None else bool(progress)

    def next_chunk(self) -> list[Run]:
        """The next runs to submit: one at first (to time a run), then about a second's worth."""
        n = self.ex.workers
        if self.plan.chunk_size:
            size = self.plan.chunk_size
        elif self.sec_per_run is None:
            size = 1
        else:
            size = math.ceil(TARGET_TASK_SECONDS / max(self.sec_per_run, 1e-6))
            size = min(size, MAX_CHUNK, max(1, math.ceil(len(self.queue) / (2 * n))))
        return [self.queue.pop() for _ in range(min(size, len(self.queue)))]

    def _result(self, fut: cf.Future, chunk: list[Run]) -> ChunkResult:
        try:
            return fut.result()
        except cf.BrokenExecutor as exc:
            raise BatchAborted(
                f"{self.plan.label}: the executor broke ({type(exc).__name__}: {exc}). A worker process may "
                "have been killed (out of memory?), or a script started a batch without the "
                "'if __name__ == \"__main__\":' guard (worker processes import the main script). "
                "Finished runs are kept: run the same command again to resume"
            ) from exc
        except Exception as exc:  # the task itself failed (e.g. could not be pickled)
            tb = traceback.format_exc()
            failed = [failure_record(run, exc, tb, f"task failed: {exc}") for run in chunk]
            return ChunkResult({"failures": to_ipc(failures_table(failed))}, [], failed, 0.0)

    def record(self, res: ChunkResult, n_runs: int) -> None:
        """Write a finished chunk of ``n_runs`` runs; update the run time estimate and progress."""
        write_chunk(self.parts, res.parts, res.ok, [f["run_id"] for f in res.failed], now())
        self.n_done += len(res.ok)
        self.failures.extend({k: v for k, v in f.items() if k != "traceback"} for f in res.failed)
        if res.ok:
            per_run = res.seconds / n_runs
            self.sec_per_run = per_run if self.sec_per_run is None else 0.7 * self.sec_per_run + 0.3 * per_run
        self.bar.update(n_runs)
        if self.failures:
            self.bar.set_postfix(failed=len(self.failures), refresh=False)

    def run(self, first: ChunkResult, ready: cf.Future) -> None:
        """Record the first run; run more here until the executor is ready; then drive the executor."""
        from tqdm.auto import tqdm

        with tqdm(total=len(self.queue) + 1, desc=self.plan.label, unit="run", disable=not self.show, delay=2.0,
                  dynamic_ncols=True) as self.bar:
            self.record(first, 1)
            while self.queue and not ready.done():  # a process pool is starting: use this process meanwhile
                self.record(run_chunk(self.plan.task, [self.queue.pop()]), 1)
            while self.queue or self.in_flight:
                while self.queue and len(self.in_flight) < self.window:
                    chunk = self.next_chunk()
                    self.in_flight[self.ex.executor.submit(run_chunk, self.plan.task, chunk)] = chunk
                finished, _ = cf.wait(list(self.in_flight), return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    chunk = self.in_flight.pop(fut)
                    self.record(self._result(fut, chunk), len(chunk))


# --------------------------------------------------------------------------- the engine
def batch_preload(runner: Runner, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The modules a local process pool's fork server imports once for a batch of ``runner``
    (and ``extra``, e.g. what the caller will run in the pool after the batch)."""
    return (*runner.preload, getattr(runner.func, "__module__", "") or "", *WORKER_PRELOAD, *extra)


def _finish(plan: Plan, manifest: dict, n_skipped: int, t_start: float) -> BatchResult:
    """Consolidate the parts, complete the manifest, collect this batch's failures."""
    counts = consolidate(plan.out, plan.ids)
    ok_after, _ = scan_parts(plan.out / PARTS)
    n_runs, n_ok = len(plan.runs), len(ok_after)
    manifest.update(status="complete" if n_ok == n_runs else "complete_with_failures", finished=now(),
                    counts={"runs": n_runs, "done": n_ok, "failed": n_runs - n_ok}, tables=counts)
    write_manifest(plan.out, manifest)
    failures = []
    if n_runs - n_ok and (plan.out / "failures.parquet").is_file():
        import pandas as pd

        failures = pd.read_parquet(plan.out / "failures.parquet").to_dict("records")
    return BatchResult(plan.out, n_runs, n_ok, n_runs - n_ok, n_skipped, time.perf_counter() - t_start, failures)


def run_batch(
    design: Sequence[dict[str, Any]],
    *,
    runner: Runner,
    out: str | Path,
    replicates: int = 30,
    years: int = 10,
    root_seed: int = 20230401,
    executor: Any = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    series: bool = True,
    point_ids: Sequence[int] | None = None,
    seed_keys: Sequence[int] | None = None,
    overwrite: bool = False,
    derived: Sequence[str] = (),
    progress: bool | None = None,
    label: str = "batch",
    meta: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    common_seeds: bool = False,
) -> BatchResult:
    """Run every design point ``replicates`` times and stream the results to ``out``.

    design:
        Design points: dicts ``{"scenario": name_or_path, **parameters}``.
    runner:
        The run function and what the batch needs to know about it (:class:`~.runner.Runner`;
        for commissim's model, ``commissim.experiments.model_runs.model_runner()``).
    out:
        Results folder (created). An existing folder of the same batch is resumed.
    replicates, years, root_seed:
        Seeds per point, funding rounds per run, and the root of every run's seed
        (:func:`~.design.run_seed`).
    executor, workers, scheduler:
        ``"processes"`` (default; ``workers`` processes, default one per CPU), ``"serial"``,
        ``"dask"`` (a local Dask cluster of ``workers`` processes), ``scheduler="tcp://..."``
        (an existing Dask cluster), or any ``concurrent.futures.Executor`` (not shut down here),
        or an executor opened with :func:`~.executors.open_executor` (``preload=batch_preload(runner)``;
        not shut down here: the caller can use its warm workers after the batch).
    chunk_size:
        Runs per task; default adapts so a task lasts about one second.
    series:
        Ask each run for its per-round series (``series=True``) and store them.
    point_ids:
        Seed index of each design point (default ``0..len(design)-1``): a point keeps its
        seeds whatever else the design holds.
    seed_keys:
        The key each design point's seeds are drawn from instead of its point id (repeats
        allowed): points with the same key run on the same seeds (common random numbers).
    overwrite:
        Replace an existing results folder instead of resuming it: the new batch is built in a
        hidden folder beside it (:func:`~.store.staging_folder`) and swapped in only when it is
        complete, so an interrupted overwrite leaves the old results as they were (and the same
        call resumes the overwrite). A folder of the same batch with fewer ``replicates`` is
        extended (only the new replicates run); one with more is reported on as it is, with all
        its replicates (said in the log and recorded as ``replicates_asked`` in the manifest).
    derived:
        Files and folders the caller makes from the results (e.g. a report, ``figures``):
        removed with the results when the folder is overwritten.
    progress:
        Show a progress bar (default: when stderr is a terminal).
    label, meta:
        Name of the batch kind (``"compare"``, ``"sweep"``, ``"grid"``, ...) and extra manifest fields.
    log:
        Where messages go (default: printed to stderr).
    common_seeds:
        Give replicate r of every design point the same seed (common random numbers), so that
        differences between design points can be paired by replicate.
    """
    t_start = time.perf_counter()
    say = log or (lambda msg: print(msg, file=sys.stderr))
    args = dict(runner=runner, out=out, years=years, root_seed=root_seed, series=series, chunk_size=chunk_size,
                point_ids=point_ids, label=label, derived=derived, common_seeds=common_seeds, seed_keys=seed_keys)
    plan = plan_batch(design, replicates=replicates, meta=meta, **args)
    fingerprint = runner.fingerprint() if runner.fingerprint else None
    final_out = plan.out
    staging = None
    if overwrite and (final_out / MANIFEST_NAME).is_file():
        # Build the new batch beside the old one; the old results are replaced only when it is complete.
        staging = staging_folder(final_out)
        _drop_stale_staging(staging, plan, fingerprint)
        say(f"{plan.label}: --overwrite: the new batch is built in {staging} and replaces {final_out} only when it "
            "is complete (an interruption leaves the old results as they are)")
        plan = dataclasses.replace(plan, out=staging)
        old = _open_folder(plan, False, fingerprint)
    else:
        old = _open_folder(plan, overwrite, fingerprint)
    if old and "holding_more" in old:
        held = old["holding_more"]
        say(f"{plan.label}: {plan.out} holds {held} seeds per design point and {replicates} were asked for: reporting "
            f"on all {held} (choose another {option('out')} for a batch of {replicates})")
        plan = plan_batch(design, replicates=held, meta={**(meta or {}), "replicates_asked": replicates},
                          **{**args, "out": plan.out})
        old = _open_folder(plan, False, fingerprint)
    try:
        result = _execute(plan, old, fingerprint, executor, workers, scheduler, progress, say, t_start)
    except BaseException:
        if staging is not None:
            if not scan_parts(staging / PARTS)[0]:
                shutil.rmtree(staging, ignore_errors=True)  # nothing finished: nothing to resume
            else:
                say(f"{plan.label}: interrupted: {final_out} still holds the old results; the new batch's finished "
                    f"runs are kept in {staging} (run the same command again to resume the overwrite)")
        raise
    if staging is not None:
        swap_in(staging, final_out, (MANIFEST_NAME, PARTS, *(f"{t}.{x}" for t in (*plan.tables, "failures")
                                                              for x in ("parquet", "csv")), *plan.derived))
        result.out = final_out
    if result.n_failed:
        say(result.failure_summary())
    return result


def _drop_stale_staging(staging: Path, plan: Plan, fingerprint: str | None) -> None:
    """Remove an overwrite's staging folder that holds another batch (an interrupted overwrite of the
    same batch is resumed)."""
    if not staging.exists():
        return
    try:
        m = json.loads((staging / MANIFEST_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        m = {}
    if m.get("config_hash") != plan.config_hash or m.get("fingerprint") not in (None, fingerprint):
        shutil.rmtree(staging, ignore_errors=True)


def _execute(plan: Plan, old: dict | None, fingerprint: str | None, executor: Any, workers: int | None,
             scheduler: str | None, progress: bool | None, say: Callable[[str], None], t_start: float) -> BatchResult:
    """Run the pending runs of a prepared folder and consolidate it."""
    runner = plan.runner
    parts = plan.out / PARTS
    ok_before, failed_before = scan_parts(parts)
    pending = [run for run in plan.runs if run.run_id not in ok_before]
    manifest = _manifest(plan, old, fingerprint, len(ok_before), len(failed_before))
    if old and "extending_from" in old:
        say(f"{plan.label}: extending {plan.out} from {old['extending_from']} to {plan.replicates} seeds per design "
            f"point: the {len(ok_before)} finished runs are kept, {len(pending)} to run")
    elif ok_before:
        say(f"{plan.label}: resuming {plan.out}: {len(ok_before)} of {len(plan.runs)} runs already finished, "
            f"{len(pending)} to run" + (f" ({len(failed_before)} failed before, retried)" if failed_before else ""))
    if not pending:
        write_manifest(plan.out, manifest)
        return _finish(plan, manifest, len(ok_before), t_start)
    with open_executor(executor, workers, scheduler, preload=batch_preload(runner), log=say) as ex:
        ready = ex.start()  # a process pool starts in the background ...
        first = _first_run(plan, pending[0])  # ... while this process checks the input with the first run
        manifest.update(executor=ex.kind, executor_detail=ex.description, workers=ex.workers)
        write_manifest(plan.out, manifest)
        parts.mkdir(exist_ok=True)
        try:
            _Driver(plan, ex, pending[1:], progress).run(first, ready)
        except BaseException:
            ok_now, failed_now = scan_parts(parts)
            manifest.update(status="interrupted",
                            counts={"runs": len(plan.runs), "done": len(ok_now), "failed": len(failed_now)})
            write_manifest(plan.out, manifest)
            raise
    return _finish(plan, manifest, len(ok_before), t_start)
