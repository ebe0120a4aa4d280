"""``search_run``: robust policy search on commissim's model (MORDM), from a levers file.

From Python (the same arguments as ``commissim search``)::

    from commissim.experiments.discovery import search_run
    res = search_run("experiments/configs/search_stabilisation.toml", workers=2)
    print(res.finding)

**The levers file** (TOML)::

    name = "search_stabilisation"
    description = "..."
    scenario = "needs_based"        # the arrangement every candidate runs under
    years = 10
    seed = 20230401                 # root of the ensemble's sample, the runs' seeds and the sampler
    sampler = "nsga2"               # or "tpe"
    budget = 128                    # candidate policies to evaluate (whole batches)
    batch_size = 16                 # candidates per batch (NSGA-II's population)
    cost = "pool_share"             # the objective that makes a policy "cheap" (a lever or a measure)
    constraints = ["p90(providers_destabilised) <= 1"]

    [fixed]                         # parameters set in every run (optional)
    funding_growth = 0.05

    [levers]                        # model parameters the policy sets: bounds (float or integer) or levels
    pool_share = { bounds = [0.0, 0.05] }
    pace_of_change = { bounds = [0.0, 1.0] }
    clawback_share = { levels = [0.0, 0.25, 0.5] }
    protect_last_provider = { levels = [true, false] }

    [ensemble]                      # the uncertain conditions: a Latin hypercube of `members` rows
    members = 30
    [ensemble.parameters]           # the sweep format (bounds/levels, distributions)
    efficiency_gap = { bounds = [0.0, 0.01] }

    [[objectives]]
    lever = "pool_share"            # an objective on a lever's value ...
    direction = "min"
    [[objectives]]
    measure = "access_gini"         # ... or on a measure aggregated over the ensemble
    aggregate = "mean"              # mean, median, min, max or pNN
    direction = "min"

    [[start]]                       # optional: policies evaluated first (levers left out are sampled)
    pool_share = 0.0
    pace_of_change = 0.0

Constraints are strings ``AGG(measure) <= value`` / ``>=`` (or tables with ``measure``,
``aggregate``, ``op``, ``value``); they may name a lever too. ``[[start]]`` policies (the
policy in force, a "do nothing" corner) are run in the first batch, so the Pareto set is
measured against them and holds them when nothing the optimiser finds beats them.

**The ensemble** is drawn once (SALib's Latin hypercube, the sweep mapping of
:mod:`commissim.experiments.sensitivity.space`) and is the same for every candidate, with
the same seeds: member ``m`` runs with seed key ``m`` (``run_batch(seed_keys=...)``), so two
candidates differ only by their levers (common random numbers).

**Running it.** Optuna (NSGA-II by default) asks a batch of candidates; every candidate x
member run goes through the batch engine on one executor (local processes by default,
serial, or Dask) opened for the whole search. Runs are kept in ``runs/<key>/``, one engine
folder per call keyed by the candidate x member runs it had to do, listed in
``runs/<key>.pairs.json``: before a call, every finished run in ``runs/`` is looked up, so an interrupted
search never runs a finished candidate x member run again (runs of a chunk that was cut
short are lost with it; chunks last about a second), and Optuna's sqlite state
(``search.sqlite3``) resumes the sampler where it stopped. Run the same command again to
resume; a larger ``budget`` extends a finished search. A different levers file, ensemble or
model version in the same folder is refused (``--overwrite`` or another ``--out``).

**What it writes** (``results/search_<name>/`` by default): ``search.md`` (first line: the
cheapest feasible policy, or that none was found), ``pareto.csv`` (the feasible Pareto set),
``candidates.csv`` (every candidate evaluated), ``cheapest.json`` (the cheapest feasible
policy, its levers as a ``[parameters]`` block to paste into a scenario), ``ensemble.csv``,
``figures/pareto_parallel.png``, ``search.json`` (the settings) and the state.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import shutil
import sys
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import atomic
from ..batch import load_results, open_executor, run_batch, run_seed
from ..batch.store import staging_folder, swap_in
from ..errors import UserError
from ..model_runs import measure_unit, model_runner, parameter_unit
from ..sensitivity.space import design_for, draw_sample, load_spec
from .errors import DiscoveryError
from .figures import make_search_figures
from .report import search_report
from .runs import require_discovery_extra
from .search import STATE_FILE, Constraint, EnsembleMember, Lever, Objective, SearchResult, _check_starts, search

__all__ = ["SearchRun", "SearchSpec", "load_levers", "search_run"]

DEFAULT_OUT_PREFIX = "results/search_"
SETTINGS_FILE = "search.json"
RUNS = "runs"
PAIRS_SUFFIX = ".pairs.json"  # runs/<key>.pairs.json: the (candidate, member) of each design point of runs/<key>/
REPORT = "search.md"
TOP_KEYS = {"name", "description", "scenario", "years", "seed", "sampler", "budget", "batch_size", "cost",
            "constraints", "fixed", "levers", "ensemble", "objectives", "start"}
LEVER_KEYS = {"bounds", "levels", "log"}
ENSEMBLE_KEYS = {"members", "parameters"}
OBJECTIVE_KEYS = {"measure", "lever", "aggregate", "direction"}
CONSTRAINT_KEYS = {"measure", "lever", "aggregate", "op", "value"}
DEFAULTS = {"years": 10, "seed": 20230401, "sampler": "nsga2", "budget": 200, "batch_size": 20}
OUTPUTS = (REPORT, "pareto.csv", "candidates.csv", "cheapest.json", "ensemble.csv", "figures", SETTINGS_FILE,
           STATE_FILE, RUNS)


# --------------------------------------------------------------------------- the levers file


@dataclass
class SearchSpec:
    """A checked levers file (see the module docstring)."""

    name: str
    description: str
    scenario: str
    years: int
    seed: int
    sampler: str
    budget: int
    batch_size: int
    levers: tuple[Lever, ...]
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    cost: str | None
    fixed: dict[str, Any]
    members: tuple[EnsembleMember, ...]
    ensemble_params: list[dict[str, Any]]  # the uncertain parameters as given (the sweep format)
    starts: tuple[dict[str, Any], ...] = ()  # policies evaluated first ([[start]])
    source: str = ""
    posterior_note: str = ""  # with posterior=: where the members' other parameters come from

    def to_dict(self) -> dict[str, Any]:
        """The settings a resumed search must share (the budget may grow)."""
        from dataclasses import asdict

        return {
            "name": self.name, "scenario": self.scenario, "years": self.years, "seed": self.seed,
            "sampler": self.sampler, "batch_size": self.batch_size,
            "levers": [asdict(lv) for lv in self.levers], "objectives": [asdict(o) for o in self.objectives],
            "constraints": [asdict(c) for c in self.constraints], "cost": self.cost, "fixed": self.fixed,
            "starts": [dict(st) for st in self.starts],
            "ensemble": {"members": len(self.members), "parameters": self.ensemble_params,
                         "sha256": hashlib.sha256(json.dumps([[m.id, m.seed, dict(m.params)] for m in self.members],
                                                             sort_keys=True, default=str).encode()).hexdigest()},
        }


def _err(where: str, msg: str) -> DiscoveryError:
    return DiscoveryError(f"{where}: {msg}")


def _whole(where: str, key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _err(where, f"'{key}' value {value!r} is not allowed; expected a whole number >= {low}")
    return value


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _parameter(where: str, what: str, name: str):
    """The registry entry of a model parameter, or a one-line error with close matches."""
    from commissim.model.params import PARAM_BY_NAME

    spec = PARAM_BY_NAME.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, PARAM_BY_NAME, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise _err(where, f"{what} {name!r} is not a model parameter{hint}; parameters are listed in "
                          "model/params.py")
    return spec


def _lever(where: str, name: str, raw: Any) -> Lever:
    spec = _parameter(where, "lever", name)
    w = f"{where}: levers.{name}"
    if not spec.sweepable:
        raise _err(w, f"parameter {name!r} is set by a scenario and cannot be a lever; choose the scenario instead")
    if raw is True and spec.kind == "bool":
        raw = {}
    if not isinstance(raw, dict):
        raise _err(w, f"expected a table such as {{ bounds = [low, high] }} or {{ levels = [...] }}, got {raw!r}")
    unknown = set(raw) - LEVER_KEYS
    if unknown:
        raise _err(w, f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(LEVER_KEYS))}")
    if "bounds" in raw and "levels" in raw:
        raise _err(w, "give 'bounds' or 'levels', not both")
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise _err(w, f"'log' value {log!r} is not allowed; expected true or false")
    if "levels" in raw or (spec.kind in ("bool", "choice") and "bounds" not in raw):
        levels = raw.get("levels", [False, True] if spec.kind == "bool" else None)
        if levels is None:
            raise _err(w, f"a categorical lever needs 'levels' from {', '.join(spec.choices)}")
        if not isinstance(levels, list) or len(levels) < 2:
            raise _err(w, f"'levels' value {levels!r} is not allowed; expected a list of at least two values")
        for v in levels:
            try:
                spec.check(v)
            except ValueError as exc:
                raise _err(w, f"level {v!r} is not allowed ({exc})") from None
        if log:
            raise _err(w, "'log' applies to bounds, not levels")
        if spec.kind in ("bool", "choice"):
            return Lever(name, categories=tuple(levels))
        return Lever(name, levels=tuple(spec.check(v) for v in levels))
    if spec.kind in ("bool", "choice"):
        raise _err(w, f"'bounds' do not apply to a {spec.kind} parameter; give 'levels'")
    b = raw.get("bounds")
    if not isinstance(b, list) or len(b) != 2 or not all(_is_num(v) for v in b):
        raise _err(w, f"'bounds' value {b!r} is not allowed; expected [low, high], two numbers")
    lo, hi = b
    if not lo < hi:
        raise _err(w, f"bounds {b!r}: low must be below high")
    if lo < spec.low or hi > spec.high:
        raise _err(w, f"bounds {b!r} are outside the parameter's range {spec.low} to {spec.high}")
    if spec.kind == "int":
        if lo != int(lo) or hi != int(hi):
            raise _err(w, f"bounds {b!r} must be whole numbers (an integer parameter)")
        return Lever(name, int(lo), int(hi), integer=True, log=log)
    if log and lo <= 0:
        raise _err(w, f"a log-scale lever needs low > 0 (got {lo})")
    return Lever(name, float(lo), float(hi), log=log)


def _measure(where: str, what: str, name: Any) -> str:
    from commissim.model.measures import SUMMARY_MEASURES

    if not isinstance(name, str) or name not in SUMMARY_MEASURES:
        close = difflib.get_close_matches(str(name), SUMMARY_MEASURES, n=3, cutoff=0.6)
        hint = f" (close matches: {', '.join(close)})" if close else ""
        raise _err(where, f"{what} {name!r} is not a measure of the model{hint}; give an end-of-run measure "
                          "(model/measures.py) or a lever")
    return name


def _target(where: str, what: str, raw: dict, levers: dict[str, Lever]) -> str:
    """The measure or lever an objective or constraint names."""
    if ("measure" in raw) == ("lever" in raw):
        raise _err(where, f"{what} needs 'measure' (a model measure) or 'lever' (one of the levers), exactly one")
    if "lever" in raw:
        name = raw["lever"]
        if name not in levers:
            raise _err(where, f"{what} names lever {name!r}, which is not one of the levers "
                              f"({', '.join(levers) or 'none'})")
        return name
    return _measure(where, what, raw["measure"])


def load_levers(path: str | Path | dict, overrides: Mapping[str, Any] | None = None,
                posterior: str | Path | None = None) -> SearchSpec:
    """Read and check a levers file (or a dict of the same shape); ``overrides`` (``budget``,
    ``batch_size``, ``members``, ``sampler``, ``seed``, ``years``) replace its values. ``posterior``: a
    ``commissim calibrate`` folder; member m then takes posterior draw m (weighted resampling from the seed) for
    every parameter that is not a lever, fixed or an uncertain parameter of the LHS."""
    from commissim.model.scenarios import load_scenario

    if isinstance(path, dict):
        raw, where = dict(path), "levers"
    else:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"levers file '{p}' not found")
        try:
            raw = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{p}: not valid TOML: {exc}") from None
        where = str(p)
    ov = {k: v for k, v in (overrides or {}).items() if v is not None}
    members_override = ov.pop("members", None)
    raw.update(ov)
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise _err(where, f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(TOP_KEYS))}")
    name = raw.get("name", Path(where).stem if where != "levers" else "search")
    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]+", name):
        raise _err(where, f"'name' value {name!r} is not allowed; expected letters, digits, _ . -")
    scenario = raw.get("scenario")
    if not isinstance(scenario, str) or not scenario:
        raise _err(where, "'scenario' is missing: the scenario every candidate runs under, e.g. \"needs_based\"")
    try:
        load_scenario(scenario)
    except ValueError as exc:
        raise _err(where, f"'scenario': {exc}") from None
    years = _whole(where, "years", raw.get("years", DEFAULTS["years"]), 1)
    seed = _whole(where, "seed", raw.get("seed", DEFAULTS["seed"]), 0)
    budget = _whole(where, "budget", raw.get("budget", DEFAULTS["budget"]), 1)
    batch_size = _whole(where, "batch_size", raw.get("batch_size", DEFAULTS["batch_size"]), 2)
    sampler = raw.get("sampler", DEFAULTS["sampler"])
    if sampler not in ("nsga2", "tpe"):
        raise _err(where, f"'sampler' value {sampler!r} is not allowed; expected nsga2 or tpe")

    from commissim.model.params import validate_parameters

    fixed_raw = raw.get("fixed", {})
    if not isinstance(fixed_raw, dict):
        raise _err(where, "'fixed' must be a table NAME = VALUE")
    try:
        fixed = validate_parameters(fixed_raw, where=f"{where}: fixed")
    except ValueError as exc:
        raise DiscoveryError(str(exc)) from None

    lraw = raw.get("levers")
    if not isinstance(lraw, dict) or not lraw:
        raise _err(where, "'levers' is missing or empty: give at least one, e.g. pool_share = { bounds = [0.0, 0.05] }")
    levers = tuple(_lever(where, k, v) for k, v in lraw.items())
    by_lever = {lv.name: lv for lv in levers}
    both = sorted(set(by_lever) & set(fixed))
    if both:
        raise _err(where, f"{', '.join(both)} is both a lever and fixed; give each parameter in one place")

    # the ensemble
    ens = raw.get("ensemble", {})
    if not isinstance(ens, dict):
        raise _err(where, "'ensemble' must be a table with 'members' and [ensemble.parameters]")
    unknown = set(ens) - ENSEMBLE_KEYS
    if unknown:
        raise _err(where, f"[ensemble] has unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                          f"{', '.join(sorted(ENSEMBLE_KEYS))}")
    n_members = _whole(f"{where}: [ensemble]", "members", ens.get("members", 1) if members_override is None
                       else members_override, 1)
    eparams = ens.get("parameters", {})
    if not isinstance(eparams, dict):
        raise _err(where, "[ensemble.parameters] must be a table of parameters with bounds or levels")
    for pname in eparams:
        _parameter(f"{where}: [ensemble.parameters]", "uncertain parameter", pname)
    clash = sorted(set(eparams) & set(by_lever))
    if clash:
        raise _err(where, f"{', '.join(clash)} is both a lever and an uncertain parameter of the ensemble; a "
                          "parameter is one or the other")
    if eparams:
        from commissim.model.measures import SUMMARY_MEASURES

        try:
            espec = load_spec({"name": f"{name}_ensemble", "method": "lhs", "n": max(n_members, 2), "seeds": 1,
                               "years": years, "root_seed": seed, "scenarios": [scenario],
                               "outcomes": [SUMMARY_MEASURES[0]], "fixed": fixed, "parameters": eparams},
                              where=f"{where}: [ensemble]")
        except UserError as exc:
            raise DiscoveryError(str(exc)) from None
        X = draw_sample(espec, scenario)[:n_members]
        conditions = [{k: v for k, v in pt.items() if k != "scenario"} for pt in design_for(espec, scenario, X)]
        ens_list = [p.to_dict() for p in espec.params]
    else:
        conditions = [dict(fixed) for _ in range(n_members)]
        ens_list = []
    posterior_note = ""
    if posterior is not None:
        from ..posterior import load_posterior

        post = load_posterior(posterior)
        keep_out = set(by_lever) | set(fixed) | set(eparams)
        conditions = [{**{k: v for k, v in d.items() if k not in keep_out}, **c}
                      for d, c in zip(post.draws(n_members, seed), conditions)]
        posterior_note = post.note()
    # member m runs with seed key m: its seed is the batch engine's seed of (seed, m, replicate 0)
    members = tuple(EnsembleMember(i, c, run_seed(seed, i, 0)) for i, c in enumerate(conditions))

    # objectives, constraints, cost
    oraw = raw.get("objectives")
    if not isinstance(oraw, list) or not oraw or not all(isinstance(o, dict) for o in oraw):
        raise _err(where, "'objectives' is missing: give [[objectives]] tables with 'measure' or 'lever', "
                          "'aggregate' and 'direction'")
    objectives = []
    for i, o in enumerate(oraw):
        w = f"{where}: objectives[{i}]"
        unknown = set(o) - OBJECTIVE_KEYS
        if unknown:
            raise _err(w, f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(OBJECTIVE_KEYS))}")
        target = _target(w, "an objective", o, by_lever)
        try:
            objectives.append(Objective(target, o.get("direction", "min"), o.get("aggregate", "mean")))
        except DiscoveryError as exc:
            raise _err(w, str(exc)) from None
    craw = raw.get("constraints", [])
    if isinstance(craw, (str, dict)):
        craw = [craw]
    if not isinstance(craw, list):
        raise _err(where, "'constraints' must be a list such as [\"p90(providers_destabilised) <= 1\"]")
    constraints = []
    for i, c in enumerate(craw):
        w = f"{where}: constraints[{i}]"
        if isinstance(c, str):
            con = Constraint.parse(c)
            if con.name not in by_lever:
                _measure(w, "constraint on", con.name)
        elif isinstance(c, dict):
            unknown = set(c) - CONSTRAINT_KEYS
            if unknown:
                raise _err(w, f"unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                              f"{', '.join(sorted(CONSTRAINT_KEYS))}")
            target = _target(w, "a constraint", c, by_lever)
            try:
                con = Constraint(target, c.get("op"), c.get("value"), aggregate=c.get("aggregate", "mean"))
            except DiscoveryError as exc:
                raise _err(w, str(exc)) from None
        else:
            raise _err(w, f"expected a string such as \"p90(providers_destabilised) <= 1\", got {c!r}")
        constraints.append(con)
    sraw = raw.get("start", [])
    if isinstance(sraw, dict):
        sraw = [sraw]
    try:
        starts = _check_starts(sraw, levers)
    except DiscoveryError as exc:
        raise _err(where, f"[[start]]: {exc}") from None
    cost = raw.get("cost")
    if cost is None:
        cost = objectives[0].name if objectives[0].direction == "minimize" else None
    elif not any(cost in (o.name, o.key) for o in objectives):
        raise _err(where, f"'cost' {cost!r} is not one of the objectives ({', '.join(o.name for o in objectives)})")
    return SearchSpec(name=name, description=str(raw.get("description", "")), scenario=scenario, years=years,
                      seed=seed, sampler=sampler, budget=budget, batch_size=batch_size, levers=levers,
                      objectives=tuple(objectives), constraints=tuple(constraints), cost=cost, fixed=fixed,
                      members=members, ensemble_params=ens_list, starts=starts,
                      source=where if where != "levers" else "", posterior_note=posterior_note)


# --------------------------------------------------------------------------- evaluation through the engine


def _candidate_key(candidate: Mapping[str, Any]) -> str:
    return json.dumps({k: candidate[k] for k in sorted(candidate)}, default=repr)


class _Evaluator:
    """``evaluate(candidates, ensemble)`` of the search core: every candidate x member run through
    ``run_batch`` on one open executor, finished runs looked up in ``runs/`` first."""

    def __init__(self, spec: SearchSpec, folder: Path, runner, ex, measures: list[str], chunk_size, progress, say):
        self.spec, self.folder, self.runner, self.ex = spec, folder, runner, ex
        self.measures, self.chunk_size, self.progress, self.say = measures, chunk_size, progress, say
        self.runs = folder / RUNS
        self.done: dict[tuple[str, int], dict[str, float]] = {}
        self.n_runs = 0  # runs done by this process
        self.n_reused = 0  # candidate x member results read from runs/ instead of run
        self.seconds = 0.0
        self._scan()

    def _scan(self) -> None:
        """Every finished candidate x member run in runs/ (also of batches that were cut short)."""
        if self.runs.is_dir():
            for sub in sorted(p for p in self.runs.iterdir() if p.is_dir()):
                self._scan_one(sub)

    def _scan_one(self, sub: Path) -> None:
        pairs_file = sub.with_name(sub.name + PAIRS_SUFFIX)
        if not pairs_file.is_file() or not (sub / "manifest.json").is_file():
            return
        pairs = json.loads(pairs_file.read_text())["pairs"]
        summ = load_results(sub, series=False, providers=False).summaries
        for row in summ.to_dict("records"):
            ck, member = pairs[int(row["point"])]
            if all(m in row and row[m] is not None and np.isfinite(row[m]) for m in self.measures):
                self.done[(ck, int(member))] = {m: float(row[m]) for m in self.measures}

    def __call__(self, candidates: list[dict], ensemble: Sequence[EnsembleMember]) -> pd.DataFrame:
        keys = [_candidate_key(c) for c in candidates]
        needed = [(i, m) for i in range(len(candidates)) for m in ensemble]
        missing = [(i, m) for i, m in needed if (keys[i], m.id) not in self.done]
        self.n_reused += len(needed) - len(missing)
        if missing:
            pairs = [[keys[i], m.id] for i, m in missing]
            tag = hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:12]
            sub = self.runs / tag
            self.runs.mkdir(parents=True, exist_ok=True)
            pairs_file = sub.with_name(tag + PAIRS_SUFFIX)
            if not pairs_file.is_file():  # written before the runs, so every finished run can be named
                atomic.write_text(pairs_file, json.dumps({"pairs": pairs}, indent=1))
            design = [{"scenario": self.spec.scenario, **dict(m.params), **candidates[i]} for i, m in missing]
            t0 = time.perf_counter()
            res = run_batch(design, runner=self.runner, out=sub, replicates=1, years=self.spec.years,
                            root_seed=self.spec.seed, seed_keys=[m.id for _i, m in missing],
                            executor=self.ex.executor, workers=self.ex.workers, chunk_size=self.chunk_size,
                            series=False, progress=self.progress, label="search",
                            meta={"search": self.spec.name}, log=self.say)
            self.seconds += time.perf_counter() - t0
            self.n_runs += res.n_done - res.n_skipped
            self._scan_one(sub)
            if res.n_failed:
                first = res.failures[0] if res.failures else {}
                raise DiscoveryError(
                    f"{res.n_failed} of {res.n_runs} runs failed (first: {first.get('error_type', '?')}: "
                    f"{str(first.get('message', '')).splitlines()[0][:160] if first.get('message') else ''}); details "
                    f"in {sub / 'failures.csv'}. A candidate needs every member's run: run the same command again to "
                    "retry them (finished runs are kept)"
                )
            lacking = [(i, m) for i, m in missing if (keys[i], m.id) not in self.done]
            if lacking:
                raise DiscoveryError(f"{len(lacking)} runs in {sub} gave no value for "
                                     f"{', '.join(self.measures)} (NaN?): a candidate cannot be scored without them")
        rows = []
        for i, m in needed:
            rows.append({"candidate": i, "member": m.id, **self.done[(keys[i], m.id)]})
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the function


@dataclass
class SearchRun:
    """What :func:`search_run` did: the folder, the search result, files, counts and times."""

    out: Path
    result: SearchResult
    spec: SearchSpec
    files: dict[str, Path] = field(default_factory=dict)
    n_runs: int = 0  # model runs done by this call
    n_reused: int = 0  # candidate x member results read back from runs/ instead of run again
    seconds_runs: float = 0.0
    seconds_total: float = 0.0

    @property
    def finding(self) -> str:
        return self.result.finding

    @property
    def report(self) -> Path:
        return self.out / REPORT


def _check_settings(out: Path, settings: dict[str, Any], overwrite: bool) -> None:
    f = out / SETTINGS_FILE
    if overwrite:
        atomic.remove_outputs(out, OUTPUTS)
        return
    if f.is_file():
        old = json.loads(f.read_text())
        new = json.loads(json.dumps(settings, default=str))
        differ = [f"{k}" for k in new if k != "spec" and old.get(k) != new[k]]
        differ = [k for k in new["spec"] if old.get("spec", {}).get(k) != new["spec"][k]] + differ
        if differ:
            what = ("the model changed since" if differ == ["fingerprint"]
                    else f"{', '.join(differ)} differ from")
            raise UserError(f"'{out}' holds a search whose settings {what} this one; resuming would mix them: "
                            "use another --out (out=), or --overwrite (overwrite=True) to start again")
    elif out.exists() and any(out.iterdir()):
        raise UserError(f"output folder '{out}' is not empty and holds no {SETTINGS_FILE}: choose a new or empty folder "
                        "with --out (out=)")


def _write(out: Path, spec: SearchSpec, result: SearchResult, figures: bool, info: dict[str, Any]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    files["candidates"] = out / "candidates.csv"
    atomic.write_csv(result.candidates, files["candidates"])
    files["pareto"] = out / "pareto.csv"
    atomic.write_csv(result.pareto, files["pareto"])
    ens = pd.DataFrame([{"member": m.id, "seed": m.seed, **{k: v for k, v in m.params.items() if k not in spec.fixed}}
                        for m in spec.members])
    files["ensemble"] = out / "ensemble.csv"
    atomic.write_csv(ens, files["ensemble"])
    cheapest = None
    if result.cheapest is not None:
        row = result.cheapest
        levers = {lv.name: (row[lv.name].item() if hasattr(row[lv.name], "item") else row[lv.name])
                  for lv in spec.levers}
        outcomes = {k: float(row[k]) for k in dict.fromkeys([o.key for o in result.objectives]
                                                             + [c.key for c in result.constraints])}
        cheapest = {"candidate": int(row["candidate"]), "scenario": spec.scenario, "levers": levers,
                    "outcomes": outcomes, "finding": result.finding,
                    "scenario_block": "[parameters]\n" + "\n".join(
                        f"{k} = {json.dumps(v)}" for k, v in {**spec.fixed, **levers}.items())}
    files["cheapest"] = out / "cheapest.json"
    atomic.write_text(files["cheapest"], json.dumps(cheapest, indent=2, default=str))
    figs = make_search_figures(result, out / "figures") if figures else {}
    files.update({f"figure_{k}": v for k, v in figs.items()})
    md = search_report(result, figures=figs, relative_to=out, title=f"Robust policy search: {spec.name}")
    body = md.split("\n", 3)[3].lstrip("\n") if md.startswith("# ") else md
    fixed = ", ".join(f"{k} = {v}" for k, v in spec.fixed.items()) or "none"
    uncertain = ", ".join(
        f"{p['name']} " + (f"{p['bounds'][0]:g} to {p['bounds'][1]:g}" if "bounds" in p
                           else "in {" + ", ".join(map(str, p["levels"])) + "}")
        + ("" if p.get("distribution", "unif") == "unif" else f" ({p['distribution']})")
        for p in spec.ensemble_params) or "none (a seed ensemble)"
    description = spec.description
    n_members = len(spec.members)
    if description:  # a levers file's description may name its default ensemble size: say the real one
        description = re.sub(r"\b(\d+) futures\b", lambda mt: mt.group(0) if int(mt.group(1)) == n_members
                             else f"{n_members} futures (the levers file says {mt.group(1)})", description)
    warning = (f"**Warning: the ensemble has 1 member.** Every objective and constraint ({', '.join(o.key for o in result.objectives)}) "
               "is that one future's value: a percentile such as p90 says nothing about a spread of futures. Ask "
               "for more with `--members N`.\n\n" if n_members == 1 else "")
    head = (
        f"{result.finding}\n\n# Robust policy search: {spec.name}\n\n"
        + warning
        + (f"{description}\n\n" if description else "")
        + f"Scenario `{spec.scenario}`, {spec.years} years; ensemble of {len(spec.members)} members, a Latin "
          f"hypercube over {uncertain} (every candidate on the same members and seeds: `ensemble.csv`); fixed: "
          f"{fixed}. {info['n_total']} model runs in all, kept in `{RUNS}/` (this call: {info['n_runs']} runs, "
          f"{info['n_reused']} candidate x member results read back, {info['seconds']:.0f} s). Tables: `pareto.csv`, "
          "`candidates.csv`, `cheapest.json`.\n\n"
        + (f"**Ensemble over a posterior.** {spec.posterior_note}.\n\n" if spec.posterior_note else "")
    )
    if spec.starts:
        from .report import _table

        n = len(spec.starts)
        first = result.candidates.sort_values("candidate").head(n)
        keys = list(dict.fromkeys([o.key for o in result.objectives if o.name not in {lv.name for lv in spec.levers}]
                                  + [c.key for c in result.constraints]))
        head += ("## Starting policies\n\nRun in the first batch ([[start]]; levers not given there were sampled):\n\n"
                 + _table(["candidate", *[lv.name for lv in spec.levers], *keys, "feasible"],
                          [[int(r["candidate"]), *[r[lv.name] for lv in spec.levers], *[r[k] for k in keys],
                            bool(r["feasible"])] for _, r in first.iterrows()]) + "\n\n")
    if cheapest is not None:
        head += ("The cheapest feasible policy as a scenario's parameters (paste under a copy of "
                 f"`model/scenarios/{spec.scenario}.toml`):\n\n```toml\n{cheapest['scenario_block']}\n```\n\n")
    files["report"] = out / REPORT
    atomic.write_text(files["report"], head + body)
    return files


def search_run(
    levers_file: str | Path | dict,
    *,
    out: str | Path | None = None,
    budget: int | None = None,
    batch_size: int | None = None,
    members: int | None = None,
    sampler: str | None = None,
    seed: int | None = None,
    years: int | None = None,
    executor: Any = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    overwrite: bool = False,
    figures: bool = True,
    progress: bool | None = None,
    func: Callable[..., dict] | None = None,
    func_kwargs: dict[str, Any] | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
    posterior: str | Path | None = None,
) -> SearchRun:
    """Robust policy search on the model (see the module docstring); returns a :class:`SearchRun`.

    ``levers_file``: a levers file (TOML) or a dict of the same shape. ``budget``,
    ``batch_size``, ``members``, ``sampler``, ``seed``, ``years`` override it. ``out``:
    results folder (default ``results/search_<name>``); an existing one of the same search is
    resumed. ``executor``, ``workers``, ``scheduler``, ``chunk_size``: as for ``run_batch``
    (one executor serves the whole search). ``func``/``func_kwargs``: the run function and
    fixed keywords (e.g. ``{"seeds_path": ...}``). ``posterior``: a ``commissim calibrate`` folder whose draws
    are the ensemble's futures (member m: draw m, for every parameter that is not a lever, fixed or in the LHS).
    """
    from commissim.model.measures import SUMMARY_MEASURES
    from commissim.model.params import PARAM_BY_NAME

    t0 = time.perf_counter()
    say = log or (lambda msg: print(msg, file=sys.stderr))
    require_discovery_extra("policy search", ("optuna",))
    spec = load_levers(levers_file, {"budget": budget, "batch_size": batch_size, "members": members,
                                     "sampler": sampler, "seed": seed, "years": years}, posterior=posterior)
    out = Path(out) if out is not None else Path(DEFAULT_OUT_PREFIX + spec.name)
    runner = model_runner(func, func_kwargs)
    settings = {"spec": spec.to_dict(), "fingerprint": runner.fingerprint() if runner.fingerprint else None,
                "function": runner.name, "function_kwargs": json.loads(json.dumps(runner.kwargs, default=str))}
    final_out = out
    if overwrite and out.is_dir() and any(out.iterdir()):
        # Build the new search beside the old one; the old results are replaced only when it is complete.
        out = staging_folder(final_out)
        if out.exists():
            try:
                _check_settings(out, settings, False)  # an interrupted overwrite of this same search: resumed
            except UserError:
                shutil.rmtree(out)
        _check_settings(out, settings, False)
        say(f"search {spec.name}: --overwrite: the new search is built in {out} and replaces {final_out} only "
            "when it is complete (an interruption leaves the old results as they are)")
    else:
        _check_settings(out, settings, overwrite)
    # units for what is printed (after the settings, so folders of earlier searches still resume)
    spec = dataclasses.replace(
        spec, levers=tuple(dataclasses.replace(lv, unit=lv.unit or parameter_unit(lv.name)) for lv in spec.levers),
        objectives=tuple(dataclasses.replace(o, unit=o.unit or (parameter_unit(o.name) or measure_unit(o.name)))
                         for o in spec.objectives),
        constraints=tuple(dataclasses.replace(c, unit=c.unit or (parameter_unit(c.name) or measure_unit(c.name)))
                          for c in spec.constraints))
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / SETTINGS_FILE, json.dumps({**settings, "command": command}, indent=2, default=str))
    measures = list(dict.fromkeys(
        [o.name for o in spec.objectives if o.name not in {lv.name for lv in spec.levers}]
        + [c.name for c in spec.constraints if c.name not in {lv.name for lv in spec.levers}]))
    n_batches = math.ceil(spec.budget / spec.batch_size)
    if len(spec.members) == 1:
        say(f"search {spec.name}: warning: the ensemble has 1 member: every objective and constraint (a p90 too) is "
            "that one future's value, not a spread across futures; ask for more with --members N")
    say(f"search {spec.name}: {spec.sampler}, {n_batches} batches of {spec.batch_size} candidates x "
        f"{len(spec.members)} ensemble members ({n_batches * spec.batch_size * len(spec.members)} runs at most) of "
        f"{spec.scenario}, {spec.years} years -> {out}")
    with open_executor(executor, workers, scheduler, preload=[getattr(runner.func, "__module__", "") or ""],
                       log=say) as ex:
        evaluate = _Evaluator(spec, out, runner, ex, measures, chunk_size, progress, say)
        result = search(spec.levers, spec.members, spec.objectives, evaluate, constraints=spec.constraints,
                        cost=spec.cost, budget=spec.budget, batch_size=spec.batch_size, sampler=spec.sampler,
                        seed=spec.seed, folder=out, allowed_levers=PARAM_BY_NAME, starts=spec.starts,
                        allowed_measures=SUMMARY_MEASURES, log=lambda m: say(f"search {spec.name}: {m}"))
    info = {"n_runs": evaluate.n_runs, "n_reused": evaluate.n_reused, "seconds": time.perf_counter() - t0,
            "n_total": len(evaluate.done)}
    files = _write(out, spec, result, figures, info)
    if out != final_out:  # the overwrite is complete: swap it in
        swap_in(out, final_out, OUTPUTS)
        files = {k: final_out / Path(v).relative_to(out) for k, v in files.items()}
        out = final_out
    say(f"search {spec.name}: {len(result.candidates)} candidates, {evaluate.n_runs} runs in this call, "
        f"{info['seconds']:.1f} s")
    return SearchRun(out=out, result=result, spec=spec, files=files, n_runs=evaluate.n_runs,
                     n_reused=evaluate.n_reused, seconds_runs=evaluate.seconds,
                     seconds_total=time.perf_counter() - t0)
