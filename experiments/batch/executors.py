"""Where runs execute: the one place executors are opened and closed.

:func:`open_executor` gives a ``concurrent.futures.Executor`` and its number of workers:

- ``"serial"`` - in this process (easiest to debug);
- ``"processes"`` (default) - a local process pool of ``workers`` processes (default one
  per CPU), started by a fork server (or spawned);
- ``"dask"`` - a ``distributed.LocalCluster`` of ``workers`` single-threaded worker
  processes on 127.0.0.1 (no other network), closed afterwards;
- ``scheduler="tcp://HOST:8786"`` - an existing Dask cluster (``dask scheduler`` plus
  ``dask worker`` processes, Slurm through dask-jobqueue, Kubernetes through dask-kubernetes);
- any object with ``submit()`` (e.g. ``distributed.Client(...).get_executor()``): used as
  it is, never shut down here;
- an :class:`OpenExecutor` already opened here: used as it is (so one process pool can run a
  batch and then the work made from its results, e.g. ``compare``'s figures, with warm workers),
  closed by whoever opened it.

Every Dask worker (and the scheduler) needs commissim installed in its environment: tasks
refer to ``commissim.experiments.batch.worker.run_chunk`` and to the run function by name.
A run's result depends only on its seed, so results are identical on every executor.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import BatchConfigError
from .worker import init_worker

__all__ = ["EXECUTORS", "OpenExecutor", "open_executor", "SerialExecutor"]

EXECUTORS = ("processes", "serial", "dask")


class SerialExecutor(cf.Executor):
    """Runs each task at once in this process (the ``"serial"`` executor)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001
            fut.set_exception(exc)
        return fut


@dataclass
class OpenExecutor:
    """An open executor: submit tasks to ``executor``; ``workers`` of them run at once."""

    executor: cf.Executor
    workers: int
    description: str  # for the manifest and messages
    kind: str  # "serial", "processes", "dask" or the type name of an executor given
    client: Any = None  # the distributed.Client, when Dask

    def start(self) -> cf.Future:
        """A future done when the executor can take tasks.

        A local process pool starts its fork server and first worker on its first task, which
        takes about a second (Mesa is imported once, in the fork server): here that happens in
        the background, so this process can work meanwhile. Other executors are ready now.
        """
        ready: cf.Future = cf.Future()
        if self.kind != "processes":
            ready.set_result(True)
            return ready

        def boot() -> None:
            try:
                self.executor.submit(os.getpid).add_done_callback(lambda f: ready.set_result(True))
            except BaseException as exc:  # noqa: BLE001 - the pool could not start: the batch will say so
                ready.set_exception(exc)

        threading.Thread(target=boot, name="commissim-pool-start", daemon=True).start()
        return ready


def _mp_context(preload: Sequence[str] = ()):
    """Worker start method: ``forkserver`` where the platform has it, else ``spawn``.

    Plain ``fork`` is not used: after pyarrow or a thread pool has started threads in this
    process, forking may deadlock (Python warns about it), and Python 3.14 moved away from
    it too. The fork server imports the run function's module once (``preload``), so
    workers start without re-importing Mesa. As with ``spawn``, a script that starts a
    batch needs the ``if __name__ == "__main__":`` guard.
    """
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["__main__", *(m for m in preload if m and m != "__main__")])
        return ctx
    return mp.get_context("spawn")


def _check_options(executor: Any, workers: Any, scheduler: str | None) -> None:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise BatchConfigError(f"workers: value {workers!r} is not allowed; expected a whole number >= 1")
    if isinstance(executor, str):
        if scheduler is not None and executor not in ("dask", "processes"):
            raise BatchConfigError(f"--scheduler {scheduler} runs on a Dask cluster; it cannot go with "
                                   f"--executor {executor}")
        if scheduler is None and executor not in EXECUTORS:
            raise BatchConfigError(f"executor: value {executor!r} is not allowed; expected one of "
                                   f"{', '.join(EXECUTORS)}, or a concurrent.futures.Executor (e.g. "
                                   "distributed.Client(...).get_executor())")
    elif not callable(getattr(executor, "submit", None)):
        raise BatchConfigError(f"executor: {executor!r} has no submit(); expected one of {', '.join(EXECUTORS)} "
                               "or a concurrent.futures.Executor")
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise BatchConfigError(f"--scheduler: value {scheduler!r} is not allowed; expected an address such as "
                               "tcp://HOST:8786")


@contextmanager
def _dask(workers: int | None, scheduler: str | None, say: Callable[[str], None],
          cluster_kwargs: dict[str, Any] | None) -> Iterator[OpenExecutor]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask[distributed] is a dependency
        raise BatchConfigError("the Dask executor needs dask[distributed]: pip install 'dask[distributed]'") from None

    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise BatchConfigError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc}); is "
                                   "'dask scheduler' running there and the port open?") from None
        description = f"dask {scheduler}"
    else:
        import dask

        n = workers or os.cpu_count() or 1
        kw = dict(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
                  dashboard_address=None, worker_dashboard_address=None)
        kw.update(cluster_kwargs or {})
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
                raise BatchConfigError(f"--scheduler {scheduler}: no Dask worker joined within 60 s; start some "
                                       f"with 'dask worker {scheduler}'") from None
        threads = sum(client.nthreads().values())
        if scheduler is not None and workers:
            say(f"note: --workers is ignored with --scheduler; the cluster has {threads} worker threads now")
        say(f"executor: {description}, {threads} worker threads")
        yield OpenExecutor(client.get_executor(pure=False), max(1, threads), description, "dask", client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def open_executor(
    executor: Any = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    preload: Sequence[str] = (),
    log: Callable[[str], None] | None = None,
    cluster_kwargs: dict[str, Any] | None = None,
) -> Iterator[OpenExecutor]:
    """Open the executor a batch runs on (see the module docstring); close what was opened here.

    ``preload``: modules the process pool's fork server imports once (the run function's).
    On an error or interrupt inside the block, a process pool is shut down without waiting
    and its queued tasks are cancelled.
    """
    say = log or (lambda msg: print(msg, file=sys.stderr))
    if isinstance(executor, OpenExecutor):  # opened by the caller, who closes it
        yield executor
        return
    _check_options(executor, workers, scheduler)
    if not isinstance(executor, str):
        n = workers or getattr(executor, "_max_workers", None) or os.cpu_count() or 1
        kind = type(executor).__name__
        yield OpenExecutor(executor, int(n), kind, kind)
        return
    if scheduler is not None or executor == "dask":
        with _dask(workers, scheduler, say, cluster_kwargs) as opened:
            yield opened
        return
    if executor == "serial":
        yield OpenExecutor(SerialExecutor(), 1, "serial", "serial")
        return
    n = workers or os.cpu_count() or 1
    pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=_mp_context(preload), initializer=init_worker)
    try:
        yield OpenExecutor(pool, n, f"processes ({n})", "processes")
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
