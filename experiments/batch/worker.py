"""The worker side: a task runs a chunk of runs and returns their tables. It never raises for a run.

:func:`run_chunk` is what every executor runs (a Dask task refers to it by name,
``commissim.experiments.batch.worker.run_chunk``, so every Dask worker needs commissim
installed). A run that raises is recorded as a failure (id, seed, parameters, error,
traceback) and the chunk carries on; the finished runs' Arrow tables are built here, in the
worker, and sent back as the bytes of their part files, so the process that writes the
results folder only writes.

Memory: a run's model is garbage only to Python's cyclic collector (a Mesa model and its
agents refer to each other), and a worker that leaves it to the collector's own schedule keeps
dead models for many runs, their arrays scattered through the C heap, which then only grows
(measured: about 0.1-0.3 MB a run for each worker, without end). So a worker of a local process
pool (:func:`init_worker`) freezes what it inherited (``gc.freeze()``: the fork server's modules
and seed data, never scanned again) and collects after every ``COLLECT_EVERY`` runs, which then
costs well under a millisecond and keeps the worker's memory flat. (Collecting after every run
keeps it as flat but made the runs about 20% slower, measured: the next run then starts on a
heap just given back; every 10 runs costs nothing measurable.) Other processes (``serial``,
Dask) are left alone: freezing is not this library's call there, and an unfrozen full
collection costs about 0.1 s.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .design import Run, jsonable
from .runner import VectorOutput
from .tables import Finished, chunk_tables, to_ipc

__all__ = ["Task", "ChunkResult", "run_chunk", "run_one", "failure_record", "now", "ignore_sigint", "init_worker"]

# Set by init_worker in a pool's worker process: collect the cyclic garbage of the runs every
# COLLECT_EVERY runs (so at most that many dead models are ever held).
_COLLECT_AFTER_RUN = False
COLLECT_EVERY = 10
_runs_since_collect = 0


def now() -> str:
    """The local time, ISO 8601 with offset, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class Task:
    """What every chunk of a batch shares (sent with each chunk; picklable)."""

    func: Callable[..., dict]
    kwargs: dict[str, Any]
    years: int
    series: bool
    param_names: tuple[str, ...]
    vectors: tuple[VectorOutput, ...] = ()
    round_label: Callable[[int], str] | None = None


class ChunkResult(NamedTuple):
    """A finished chunk: its part files (table -> Arrow IPC bytes), the ids of its finished runs,
    its failures, its run time."""

    parts: dict[str, bytes]
    ok: list[str]
    failed: list[dict]
    seconds: float


def failure_record(run: Run, exc: BaseException, tb: str, message: str | None = None) -> dict[str, Any]:
    """The failures-table row of a run that raised ``exc``."""
    return {
        "run_id": run.run_id,
        "point": run.point,
        "replicate": run.replicate,
        "seed": run.seed,
        "scenario": run.scenario,
        "parameters": json.dumps(jsonable(run.params), sort_keys=True),
        "error_type": type(exc).__name__,
        "message": str(exc) if message is None else message,
        "traceback": tb,
        "failed_at": now(),
    }


def run_one(task: Task, run: Run) -> dict[str, Any]:
    """One run's result dict (raises what the run function raises)."""
    kwargs = dict(task.kwargs)
    if task.series:
        kwargs["series"] = True
    result = task.func(scenario=run.scenario, years=task.years, rng=run.seed, **kwargs, **run.params)
    if not isinstance(result, dict):
        raise TypeError(f"the run function returned {type(result).__name__}, expected a dict of measures")
    return result


def run_chunk(task: Task, runs: Sequence[Run], input_errors: tuple[type[BaseException], ...] = ()) -> ChunkResult:
    """Run a chunk of runs (a task for any executor): their part files and failures.

    An exception of a type in ``input_errors`` is raised instead of recorded (the first run
    of a batch uses it to stop the batch on bad input).
    """
    done: list[Finished] = []
    failed: list[dict] = []
    t_chunk = time.perf_counter()
    for run in runs:
        t0 = time.perf_counter()
        try:
            result = run_one(task, run)
            done.append(Finished(run, result, time.perf_counter() - t0))
        except input_errors:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing run is recorded, the batch carries on
            failed.append(failure_record(run, exc, traceback.format_exc()))
        finally:
            if _COLLECT_AFTER_RUN:
                _collect_now_and_then()
    seconds = time.perf_counter() - t_chunk
    tables = chunk_tables(done, failed, param_names=task.param_names, vectors=task.vectors,
                          round_label=task.round_label)
    return ChunkResult({name: to_ipc(t) for name, t in tables.items()}, [d.run.run_id for d in done], failed,
                       seconds)


def _collect_now_and_then() -> None:
    """After a run: every ``COLLECT_EVERY`` runs, free the dead models (cyclic garbage) at once."""
    global _runs_since_collect
    _runs_since_collect += 1
    if _runs_since_collect >= COLLECT_EVERY:
        _runs_since_collect = 0
        gc.collect()


def ignore_sigint() -> None:
    """Ctrl-C is handled by the parent only."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def init_worker() -> None:
    """Initializer of a local process pool's worker: Ctrl-C ignored (the parent handles it);
    what the process inherited frozen and every run's garbage collected after it (see the
    module docstring: memory flat in the number of runs)."""
    global _COLLECT_AFTER_RUN
    ignore_sigint()
    gc.freeze()  # the fork server's objects: never scanned again (and their pages never copied for it)
    _COLLECT_AFTER_RUN = True
