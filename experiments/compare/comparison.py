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

import hashlib
import itertools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..batch import batch_preload, open_executor, plan_batch, run_batch
from ..errors import UserError, option, rethrow
from ..model_runs import late_changes, model_runner

__all__ = ["compare", "after_runs", "grid_design", "resolve_scenarios", "scenario_point_id", "posterior_point_id", "DEFAULT_DRAWS", "DEFAULT_SEEDS", "DEFAULT_YEARS", "DEFAULT_ROOT_SEED", "DEFAULT_OUT",
           "DERIVED"]

DEFAULT_SEEDS = 30
DEFAULT_YEARS = 10
DEFAULT_ROOT_SEED = 20230401
DEFAULT_OUT = "results/compare"
DEFAULT_DRAWS = 30  # posterior draws per scenario with posterior=
# Parameters that make a scenario what it is: overriding them for every scenario is refused.
SCENARIO_DEFINING = frozenset({"arrangement", "delegated_set", "icb_footprint"})
# What compare writes besides the batch's tables (replaced when the folder is overwritten).
DERIVED = ("report.md", "figures", "exposure.csv", "exposure_icbs.csv")
# What the fork server of compare's process pool imports besides the model: the figures (drawn in the pool),
# and their warm start (backend, fonts, PNG encoder, map shapes: once, not in every worker).
FIGURE_PRELOAD = ("matplotlib", "matplotlib.pyplot", "commissim.experiments.compare.figures",
                  "commissim.experiments.compare.warm")


def scenario_point_id(name: str) -> int:
    """A scenario's design point id, the seed index of its runs: a stable hash of its name (31 bits)."""
    digest = hashlib.sha256(f"commissim scenario {name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def posterior_point_id(name: str, draw: int) -> int:
    """The design point id of posterior draw ``draw`` of a scenario: a stable hash of both (31 bits)."""
    digest = hashlib.sha256(f"commissim scenario {name} posterior draw {int(draw)}".encode()).digest()
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


def _check_grid(grid: dict[str, Sequence[Any]] | None, params: dict[str, Any]) -> dict[str, list[Any]]:
    """A grid (parameter -> values) checked value by value against the registry; every value once."""
    from commissim.model.params import validate_parameters

    out: dict[str, list[Any]] = {}
    for name, values in (grid or {}).items():
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if name in params:
            raise UserError(f"--set {name}: given both as a single value and as a grid; give it once")
        if name in SCENARIO_DEFINING:
            _check_parameters({name: values[0]})  # refused, with the reason
        checked = []
        for v in values:
            with rethrow(UserError):
                checked.append(validate_parameters({name: v}, where="--set")[name])
        dupes = sorted({str(v) for v in checked if checked.count(v) > 1})
        if dupes:
            raise UserError(f"--set {name}: value {', '.join(dupes)} given more than once")
        out[name] = checked
    return out


def grid_design(names: list[str], ids: list[int], params: dict[str, Any], grid: dict[str, list[Any]]
                ) -> tuple[list[dict], list[int]]:
    """The design points: every scenario, or every scenario at every combination of the grid's values
    (the cartesian product, as BehaviorSpace runs it); each point's id from its scenario and grid values."""
    if not grid:
        return [{"scenario": n, **params} for n in names], list(ids)
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    design, point_ids = [], []
    for combo in combos:
        key = ",".join(f"{k}={combo[k]!r}" for k in sorted(combo))
        for n in names:
            design.append({"scenario": n, **params, **combo})
            point_ids.append(scenario_point_id(f"{n}|{key}"))
    if len(set(point_ids)) != len(point_ids):  # pragma: no cover - a 31-bit hash collision
        raise UserError("--set: two grid points share a seed index; change a value slightly")
    return design, point_ids


def _csv_in_one_money_unit(out: Path) -> None:
    """Rewrite ``summaries.csv`` and ``series.csv`` with money in £m, the unit in the column name
    (``total_spend_gbp_m``); the Parquet files keep the registry's names and units for code."""
    import pandas as pd

    from .. import atomic
    from ..model_runs import money_in_one_unit

    for name in ("summaries", "series"):
        if (out / f"{name}.parquet").is_file():
            atomic.write_csv(money_in_one_unit(pd.read_parquet(out / f"{name}.parquet")), out / f"{name}.csv")


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
    grid: dict[str, Sequence[Any]] | None = None,
    posterior: str | Path | None = None,
    draws: int = DEFAULT_DRAWS,
) -> Path:
    """Run each scenario for ``seeds`` seeds over ``years`` years; write a results folder.

    ``scenarios``: names (a list or ``"a,b,c"``), default every named scenario.
    ``parameters``: overrides applied to every scenario (checked against the model's
    parameter registry). ``grid``: parameter -> values; every scenario runs at every combination
    (the cartesian product, as NetLogo's BehaviorSpace does), recorded in the manifest and the report. ``executor``: ``"processes"`` (default, ``workers`` processes),
    ``"serial"``, ``"dask"`` (a local Dask cluster of ``workers`` processes), or a
    ``concurrent.futures.Executor`` such as ``distributed.Client(...).get_executor()``;
    ``scheduler="tcp://HOST:8786"`` runs on an existing Dask cluster. ``func``/``func_kwargs``:
    the run function (default ``commissim.model.simulation.simulate``) and fixed keywords
    for it. Returns the results folder; an existing folder of the same comparison is
    resumed (extended when ``seeds`` grew), a different one refused unless ``overwrite=True``.

    ``posterior``: a ``commissim calibrate`` folder. Every scenario then runs over ``draws`` parameter sets drawn
    from its posterior (weighted resampling) crossed with ``seeds`` seeds, the same draws and seeds in every
    scenario (draw k, seed r: seed key k, replicate r), so paired differences carry parameter uncertainty;
    ``parameters`` still win over the draws. The report says so and splits each difference's spread into the
    parameters' and the seeds' shares.
    """
    from .report import write_report

    names, ids = resolve_scenarios(scenarios)
    params = _check_parameters(parameters)
    grid = _check_grid(grid, params)
    out = Path(out)
    say = log or (lambda msg: print(msg, file=sys.stderr))
    late_changes(names, years, {**params, **grid}, say)
    seed_keys = None
    if posterior is not None and grid:
        raise UserError("--posterior and a --set grid: give one (each grid point over every posterior draw is not "
                        "supported yet); set single values with --set NAME=VALUE")
    design, ids = grid_design(names, ids, params, grid)
    meta: dict[str, Any] = {"command": command, "scenarios": names, "overrides": params}
    if grid:  # only when given: the manifest (and hash) of a comparison without a grid is unchanged
        meta["grid"] = grid
        say(f"compare: a grid of {len(design) // len(names)} combinations x {len(names)} scenarios = {len(design)} "
            f"design points x {seeds} seeds")
    if posterior is not None:
        from ..posterior import load_posterior

        post = load_posterior(posterior)
        sets = post.draws(draws, root_seed)
        design = [{"scenario": n, **d, **params} for n in names for d in sets]
        ids = [posterior_point_id(n, k) for n in names for k in range(len(sets))]
        seed_keys = [k for _n in names for k in range(len(sets))]
        meta.update({"posterior": str(post.folder), "draws": len(sets), "posterior_note": post.note(),
                     "not_informed": post.not_informed, "posterior_parameters": post.parameters,
                     "posterior_draw_of_point": {str(i): k for i, k in zip(ids, seed_keys)}})
        say(f"posterior: {len(sets)} draws from {post.folder} x {seeds} seeds per scenario, the same in every "
            "scenario")
    runner = model_runner(func, func_kwargs)
    common = posterior is None
    # the batch's own checks, before an executor (a Dask cluster, say) is started for it
    plan_batch(design, runner=runner, out=out, replicates=seeds, years=years, root_seed=root_seed, series=True,
               point_ids=ids, common_seeds=common, seed_keys=seed_keys)
    # One pool for the runs and then the figures: its workers are warm (the fork server imported the
    # model and the figures' modules once) and draw the figures in parallel while this process writes.
    with open_executor(executor, workers, scheduler, preload=batch_preload(runner, FIGURE_PRELOAD),
                       log=say) as ex:
        result = run_batch(
            design, runner=runner, out=out, replicates=seeds, years=years, root_seed=root_seed, executor=ex,
            series=True, point_ids=ids, overwrite=overwrite, derived=DERIVED, progress=progress, label="compare",
            meta=meta, log=say, common_seeds=common, seed_keys=seed_keys,
        )
        if result.n_done:
            after_runs(out, ex, figures=figures, log=say)
            return out
    write_report(out)
    return out


def after_runs(out: str | Path, ex: Any, *, figures: bool = True, log: Callable[[str], None] | None = None) -> None:
    """What ``compare`` writes from the runs in ``out``: the CSV tables in one money unit, ``exposure.csv``,
    the figures and ``report.md``. ``ex``: the batch's open executor (:func:`~..batch.open_executor`).

    On a process pool the figures are submitted to its workers first; this process then writes the tables and
    ``exposure.csv`` (and submits the exposure figure, which reads it) and computes the report while they
    draw, listing the figures once they are all written. Elsewhere, one after another in this process."""
    from .exposure import write_exposure
    from .figures import FigureDrawing
    from .report import write_report

    out = Path(out)
    say = log or (lambda msg: print(msg, file=sys.stderr))
    if not (figures and getattr(ex, "kind", None) == "processes"):
        _csv_in_one_money_unit(out)
        write_exposure(out)
        if figures:
            FigureDrawing(out, log=say).result()
        write_report(out)
        return
    drawing = FigureDrawing(out, log=say, executor=ex.executor, exposure=False)
    try:
        _csv_in_one_money_unit(out)
        write_exposure(out)
        drawing.add_exposure()
        write_report(out, figures_ready=drawing.result)
    finally:
        drawing.close()
