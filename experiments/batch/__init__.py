"""The batch library: many runs of a run function, on any executor, streamed to a results folder.

It knows only the run function (through a :class:`Runner`): nothing about scenarios,
reports or the model's outputs. Every batch command (``commissim compare``, the sweeps,
the scripts in ``experiments/``) runs through :func:`run_batch`.

=================  ==========================================================================
module             job
=================  ==========================================================================
``design``         design points, run ids and per-run seeds, the checks made before any run
``runner``         what the library knows about the run function (``Runner``, ``VectorOutput``)
``worker``         a task: runs a chunk of runs, builds their Arrow tables, records failures
``tables``         the Arrow tables of finished runs (summaries, series, vectors, failures)
``executors``      serial, local processes, Dask: opened and closed in one place
``store``          the results folder: parts, markers, resume, consolidation, loading
``manifest``       ``manifest.json``: configuration, seeds, versions, git commit, fingerprint
``engine``         ``run_batch``: the steps above, in order
=================  ==========================================================================
"""

from .design import Run, make_run_id, run_seed
from .engine import BatchResult, batch_preload, plan_batch, run_batch
from .executors import EXECUTORS, OpenExecutor, open_executor
from .manifest import MANIFEST_NAME, git_commit, package_versions
from .runner import Runner, VectorOutput
from .store import Results, consolidate, load_results, staging_folder

__all__ = [
    "run_batch",
    "plan_batch",
    "batch_preload",
    "BatchResult",
    "Runner",
    "VectorOutput",
    "Run",
    "run_seed",
    "make_run_id",
    "open_executor",
    "OpenExecutor",
    "EXECUTORS",
    "load_results",
    "Results",
    "staging_folder",
    "consolidate",
    "MANIFEST_NAME",
    "git_commit",
    "package_versions",
]
