"""``compare``: every named scenario (or a chosen few) for many seeds, one results folder.

From Python::

    from commissim.experiments.compare import compare
    folder = compare(scenarios=["nhse_direct", "full_delegation"], seeds=10, years=5)

The folder holds per-run summaries and per-year series (Parquet and CSV), a
``manifest.json`` (configuration, per-run seeds, versions, git commit, times), figures
(PNG) and ``report.md`` with the headline comparison. Interrupt it at any time: the same
call resumes, skipping finished runs.

Scenarios are compared with common random numbers: replicate r of every scenario runs with
the same seed (the model draws its random numbers from streams of the seed, the same in every
scenario), so differences between scenarios are paired by replicate. A scenario is identified in
the folder by its name (:func:`scenario_point_id`), never by its place in a list, so
``scenarios=["nhse_direct"]`` reproduces exactly the ``nhse_direct`` runs of a full comparison
with the same root seed and adding a scenario never shifts another's runs. Asking for more seeds
in an existing folder extends it: only the new replicates run.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..batch import batch_preload, open_executor, plan_batch, run_batch
from ..errors import UserError, option, rethrow
from ..model_runs import late_changes, model_runner

__all__ = ["compare", "resolve_scenarios", "scenario_point_id", "DEFAULT_SEEDS", "DEFAULT_YEARS", "DEFAULT_ROOT_SEED", "DEFAULT_OUT",
           "DERIVED"]

DEFAULT_SEEDS = 30
DEFAULT_YEARS = 10
DEFAULT_ROOT_SEED = 20230401
DEFAULT_OUT = "results/compare"
# Parameters that make a scenario what it is: overriding them for every scenario is refused.
SCENARIO_DEFINING = frozenset({"arrangement", "delegated_set", "icb_footprint"})
# What compare writes besides the batch's tables (replaced when the folder is overwritten).
DERIVED = ("report.md", "figures")
# What the fork server of compare's process pool imports besides the model: the figures (drawn in the pool).
FIGURE_PRELOAD = ("matplotlib", "matplotlib.pyplot", "commissim.experiments.compare.figures")


def scenario_point_id(name: str) -> int:
    """A scenario's design point id, the seed index of its runs: a stable hash of its name (31 bits)."""
    digest = hashlib.sha256(f"commissim scenario {name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def resolve_scenarios(scenarios: str | Sequence[str] | None) -> tuple[list[str], list[int]]:
    """Scenario names or files (validated) and their point ids (from each scenario's name)."""
    from commissim.model.scenarios import list_scenarios, load_scenario

    builtin = [s.name for s in list_scenarios()]
    if scenarios is None:
        names = list(builtin)
    else:
        if isinstance(scenarios, str):
            scenarios = scenarios.split(",")
        names = [str(s).strip() for s in scenarios if str(s).strip()]
        if not names:
            raise UserError(f"{option('scenarios')}: no scenario given; valid scenarios: {', '.join(builtin)}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"{option('scenarios')}: {', '.join(dupes)} given more than once")
    named: dict[str, str] = {}
    for n in names:
        scen_name = load_scenario(n).name  # ScenarioError names the value and lists the valid ones
        if scen_name in named:
            raise UserError(f"--scenarios: {named[scen_name]} and {n} are both named '{scen_name}' (their runs would "
                            "share seeds); give the copy its own name (key 'name' in the file)")
        named[scen_name] = n
    ids = [scenario_point_id(s) for s in named]
    if len(set(ids)) != len(ids):  # pragma: no cover - two names with the same 31-bit hash
        raise UserError(f"--scenarios: two scenario names share a seed index ({', '.join(named)}); rename one")
    return names, ids


def _check_parameters(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Overrides for every scenario, checked; scenario-defining ones refused."""
    from commissim.model.params import validate_parameters

    with rethrow(UserError):
        params = validate_parameters(dict(parameters or {}), where="parameters")
    defining = sorted(set(params) & SCENARIO_DEFINING)
    if defining:
        raise UserError(
            f"--set {', '.join(defining)}: these define what a scenario is, so setting them for every scenario "
            "would run one arrangement under several names. Copy a file from model/scenarios/, edit it and "
            "compare it by path instead (--scenarios nhse_direct,my_scenario.toml)"
        )
    return params


def compare(
    scenarios: str | Sequence[str] | None = None,
    seeds: int = DEFAULT_SEEDS,
    years: int = DEFAULT_YEARS,
    root_seed: int = DEFAULT_ROOT_SEED,
    out: str | Path = DEFAULT_OUT,
    workers: int | None = None,
    executor: Any = "processes",
    parameters: dict[str, Any] | None = None,
    overwrite: bool = False,
    *,
    scheduler: str | None = None,
    progress: bool | None = None,
    figures: bool = True,
    func: Callable[..., dict] | None = None,
    func_kwargs: dict[str, Any] | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Run each scenario for ``seeds`` seeds over ``years`` years; write a results folder.

    ``scenarios``: names (a list or ``"a,b,c"``), default every named scenario.
    ``parameters``: overrides applied to every scenario (checked against the model's
    parameter registry). ``executor``: ``"processes"`` (default, ``workers`` processes),
    ``"serial"``, ``"dask"`` (a local Dask cluster of ``workers`` processes), or a
    ``concurrent.futures.Executor`` such as ``distributed.Client(...).get_executor()``;
    ``scheduler="tcp://HOST:8786"`` runs on an existing Dask cluster. ``func``/``func_kwargs``:
    the run function (default ``commissim.model.simulation.simulate``) and fixed keywords
    for it. Returns the results folder; an existing folder of the same comparison is
    resumed (extended when ``seeds`` grew), a different one refused unless ``overwrite=True``.
    """
    from .figures import make_figures
    from .report import write_report

    names, ids = resolve_scenarios(scenarios)
    params = _check_parameters(parameters)
    out = Path(out)
    say = log or (lambda msg: print(msg, file=sys.stderr))
    late_changes(names, years, params, say)
    runner = model_runner(func, func_kwargs)
    design = [{"scenario": n, **params} for n in names]
    # the batch's own checks, before an executor (a Dask cluster, say) is started for it
    plan_batch(design, runner=runner, out=out, replicates=seeds, years=years, root_seed=root_seed, series=True,
               point_ids=ids, common_seeds=True)
    # One pool for the runs and then the figures: its workers are warm (the fork server imported the
    # model and the figures' modules once) and draw the figures in parallel while this process waits.
    with open_executor(executor, workers, scheduler, preload=batch_preload(runner, FIGURE_PRELOAD),
                       log=say) as ex:
        result = run_batch(
            design, runner=runner, out=out, replicates=seeds, years=years,
            root_seed=root_seed, executor=ex, series=True, point_ids=ids, overwrite=overwrite,
            derived=DERIVED, progress=progress, label="compare",
            meta={"command": command, "scenarios": names, "overrides": params}, log=say, common_seeds=True,
        )
        if figures and result.n_done and ex.kind == "processes":
            # the pool's workers draw the figures while this process computes the report's numbers
            with cf.ThreadPoolExecutor(1, thread_name_prefix="commissim-figures") as drawing:
                drawn = drawing.submit(make_figures, out, log=say, executor=ex.executor)
                write_report(out, figures_ready=drawn.result)
            return out
        if figures and result.n_done:
            make_figures(out, log=say)
    write_report(out)
    return out
