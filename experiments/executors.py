"""Where runs execute: serial, local processes, or Dask - opened in one place.

:func:`open_executor` is a context manager giving what :func:`experiments.engine.run_batch`
takes as ``executor=`` and ``workers=``:

- ``"serial"`` - in this process;
- ``"processes"`` (default) - a local process pool, ``workers`` processes (default one per CPU);
- ``scheduler="tcp://HOST:8786"`` - an existing Dask cluster (``dask scheduler`` plus
  ``dask worker`` processes, Slurm through dask-jobqueue, Kubernetes through dask-kubernetes);
  runs go to ``distributed.Client(address).get_executor()``;
- ``"dask"`` without a scheduler - a ``distributed.LocalCluster`` of ``workers`` single-threaded
  worker processes on 127.0.0.1 (no other network), closed afterwards.

Every Dask worker (and the scheduler) needs commissim installed in its environment: the
tasks refer to ``experiments.engine.run_chunk`` and ``model.simulation.simulate`` by name.
A run's result depends only on its seed, so the results are identical on every executor.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from commissim.experiments.cli import UserError

EXECUTORS = ("processes", "serial", "dask")


@dataclass
class OpenExecutor:
    executor: Any  # "serial", "processes" or a concurrent.futures.Executor
    workers: int | None
    description: str  # for the manifest and messages
    client: Any = None  # the distributed.Client, when Dask


@contextmanager
def open_executor(
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    log: Callable[[str], None] | None = None,
    cluster_kwargs: dict[str, Any] | None = None,
) -> Iterator[OpenExecutor]:
    """Open the executor a batch runs on (see the module docstring); close what was opened here."""
    say = log or (lambda msg: print(msg, file=sys.stderr))
    if scheduler is not None and executor not in ("dask", "processes"):
        raise UserError(f"--scheduler {scheduler} runs on a Dask cluster; it cannot go with --executor {executor}")
    if scheduler is None and executor not in EXECUTORS:
        raise UserError(f"executor: value {executor!r} is not allowed; expected one of {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UserError(f"workers: value {workers!r} is not allowed; expected a whole number >= 1")
    if scheduler is None and executor in ("serial", "processes"):
        n = 1 if executor == "serial" else workers
        yield OpenExecutor(executor, n, executor if executor == "serial" else f"processes ({n or os.cpu_count()})")
        return

    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask[distributed] is a dependency
        raise UserError("the Dask executor needs dask[distributed]: pip install 'dask[distributed]'") from None

    cluster = None
    if scheduler is not None:
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise UserError(f"--scheduler: value {scheduler!r} is not allowed; expected an address such as "
                            "tcp://HOST:8786")
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc}); is "
                            "'dask scheduler' running there and the port open?") from None
        description = f"dask {scheduler}"
    else:
        n = workers or os.cpu_count() or 1
        kw = dict(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
                  dashboard_address=None, worker_dashboard_address=None)
        kw.update(cluster_kwargs or {})
        import dask

        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which switches off glibc's
        # dynamic mmap threshold: every numpy temporary above 128 KiB is then mmapped and unmapped,
        # and the model ran 2-4x slower on Dask workers (measured). Start them without it.
        env = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            cluster = LocalCluster(**kw)
        client = Client(cluster)
        description = f"dask LocalCluster ({n} workers)"
    try:
        if scheduler is not None:
            try:
                client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                raise UserError(f"--scheduler {scheduler}: no Dask worker joined within 60 s; start some with "
                                f"'dask worker {scheduler}'") from None
        threads = sum(client.nthreads().values())
        if scheduler is not None and workers:
            say(f"note: --workers is ignored with --scheduler; the cluster has {threads} worker threads now")
        say(f"executor: {description}, {threads} worker threads")
        yield OpenExecutor(client.get_executor(pure=False), max(1, threads), description, client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
