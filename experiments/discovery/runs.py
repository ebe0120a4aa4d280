"""``discover_run``: scenario discovery on commissim's model, from a space file or a sweep folder.

From Python (the same arguments as ``commissim discover``)::

    from commissim.experiments.discovery import discover_run
    res = discover_run("experiments/configs/discover_delegation.toml")          # runs the LHS
    res = discover_run(from_folder="results/sweep_sobol_delegation",
                       outcome="providers_destabilised", at_least=5)             # reuses a sweep
    print(res.finding)

**The runs.** A space file is the sweep format of
:mod:`commissim.experiments.sensitivity.space` (parameters with bounds or levels and
distributions, scenarios, ``n``, ``seeds``, ``years``, ``[fixed]``) plus an optional
``[discover]`` table giving the case of interest::

    [discover]
    outcome = "providers_destabilised"   # an end-of-run measure, or REPORTER:AGG (e.g. providers_destabilised:max)
    at_least = 5                         # or above / below / at_most: exactly one
    box = 3                              # optional: a box of the peeling trajectory (default: the knee)
    case_label = "full delegation destabilises 5 or more trusts"   # optional: the finding's wording

Discovery always draws a Latin hypercube (``method = "lhs"``, SALib, ``n`` rows per
scenario): a space file asking for another method is run as an LHS of the same ``n``
and the report says so. The sample runs through the batch engine (``run_batch`` with
``model_runner()``): local processes by default, serial, or Dask; resumable (the same call
continues an interrupted batch and re-analyses a finished one without running it
again); failed runs recorded. The folder is a sweep folder (``sweep.json``,
``samples/``, the batch's tables), so ``commissim sweep --analyse-only`` reads it too.
``from_folder`` instead reuses the sample and summaries of a finished ``commissim
sweep`` (or an earlier discovery).

**The analysis.** One row per run (replicates are separate rows): the inputs are the
space's parameters (a parameter that does not apply to a scenario takes the value in
force there; with several scenarios, ``scenario`` is a categorical input), the case of
interest is the outcome above/below/at least/at most the threshold. PRIM (EMA Workbench)
with the knee rule or ``box``, and a CART tree (scikit-learn) as a cross-check
(:func:`commissim.experiments.discovery.discover`).

**What it writes** (to ``out``, by default the runs' folder): ``discovery.md`` (first
line: the sentence to quote, with coverage and density), ``discovery/`` (``box.json``,
``box_limits.csv`` with quasi-p-values, ``trajectory.csv``, ``cart_rules.csv``,
``cart_tree.txt``, ``cases.csv``: every run's inputs, outcome, case and whether it is in the
box) and ``figures/`` (``prim_peeling_trajectory.png``, ``prim_box_scatter.png``,
``cart_tree.png``).

Bad input raises one-line errors: :class:`~.errors.DiscoveryError` for the case of
interest (an outcome that is not a measure, with close matches; a threshold outside the
observed range, with the range; a constant outcome), the sweep's own ``UserError`` for
the space file, :class:`~.errors.MissingExtraError` without ``commissim[discovery]``.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import sys
import time
import tomllib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import atomic
from ..batch import MANIFEST_NAME, load_results, make_run_id, run_batch, staging_folder
from ..errors import SweepConfigError, UserError
from ..model_runs import model_runner, parameter_unit
from ..sensitivity.analysis import read_sweep, run_values
from ..sensitivity.space import AGGREGATES, SWEEP_FILE, load_spec
from ..sensitivity.sweep import prepare, write_sweep_files
from .errors import EXTRA_HINT, DiscoveryError, DiscoveryWarning, MissingExtraError
from .figures import make_discovery_figures
from .prim import DiscoveryResult, discover
from .report import discovery_report

__all__ = ["DIRECTIONS", "DiscoverRun", "check_outcome", "discover_run", "read_space_file", "require_discovery_extra"]

DEFAULT_OUT_PREFIX = "results/discover_"
DIRECTIONS = ("above", "below", "at_least", "at_most")
_WORDS = {"above": "above", "below": "below", "at_least": "at least", "at_most": "at most"}
DISCOVER_KEYS = {"outcome", *DIRECTIONS, "box", "case_label"}
REPORT = "discovery.md"
TABLES = "discovery"
FIGURES = "figures"
# What a discovery run writes besides the batch's tables (replaced when the folder is overwritten).
DERIVED = (SWEEP_FILE, "samples", REPORT, TABLES, FIGURES, "sensitivity.md", "sensitivity")


@dataclass
class DiscoverRun:
    """What :func:`discover_run` did: the runs' folder, where the discovery was written, the
    PRIM and CART result, the files written, notes for the reader and the times taken."""

    folder: Path  # the runs (the LHS batch, or the sweep folder reused)
    out: Path  # where discovery.md, discovery/ and figures/ were written
    result: DiscoveryResult
    outcome: str
    direction: str
    threshold: float
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds_runs: float = 0.0
    seconds_total: float = 0.0
    n_runs_done_now: int = 0

    @property
    def finding(self) -> str:
        return self.result.finding

    @property
    def report(self) -> Path:
        return self.out / REPORT


# --------------------------------------------------------------------------- inputs


def require_discovery_extra(what: str, modules: Sequence[str] = ("ema_workbench", "sklearn")) -> None:
    """Fail fast (before any run) when the optional extra is missing: a one-line MissingExtraError."""
    for m in modules:
        try:
            found = importlib.util.find_spec(m) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module set to None in sys.modules
            found = False
        if not found or sys.modules.get(m, True) is None:
            raise MissingExtraError(f"{what} needs the optional extra 'discovery' ({m} is missing): {EXTRA_HINT}")


def check_outcome(name: Any) -> str:
    """An end-of-run measure or ``REPORTER:AGG``; else a one-line DiscoveryError with close matches."""
    from commissim.model.measures import SERIES_MEASURES, SUMMARY_MEASURES

    if not isinstance(name, str) or not name.strip():
        raise DiscoveryError(f"outcome {name!r} is not a measure name; e.g. providers_destabilised")
    name = name.strip()
    base, sep, agg = name.partition(":")
    if not sep:
        if name in SUMMARY_MEASURES:
            return name
        close = difflib.get_close_matches(name, SUMMARY_MEASURES, n=3, cutoff=0.6)
        hint = f" (close matches: {', '.join(close)})" if close else ""
        raise DiscoveryError(
            f"outcome {name!r} is not a measure of the model{hint}; give an end-of-run measure "
            "(model/measures.py) or REPORTER:AGG, e.g. providers_destabilised:max"
        )
    if base not in SERIES_MEASURES:
        close = difflib.get_close_matches(base, SERIES_MEASURES, n=3, cutoff=0.6)
        hint = f" (close matches: {', '.join(close)})" if close else ""
        raise DiscoveryError(f"outcome {name!r}: {base!r} is not a yearly measure of the model{hint}")
    if agg not in AGGREGATES:
        raise DiscoveryError(f"outcome {name!r}: aggregate {agg!r} is not one of {', '.join(AGGREGATES)}")
    return name


def read_space_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A space file's sweep part and its ``[discover]`` table (empty if none)."""
    path = Path(path)
    if not path.is_file():
        raise SweepConfigError(f"space file '{path}' not found")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SweepConfigError(f"{path}: not valid TOML: {exc}") from None
    disc = raw.pop("discover", {})
    if not isinstance(disc, dict):
        raise SweepConfigError(f"{path}: 'discover' must be a table ([discover]) of {', '.join(sorted(DISCOVER_KEYS))}")
    unknown = set(disc) - DISCOVER_KEYS
    if unknown:
        raise SweepConfigError(f"{path}: [discover] has unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                               f"{', '.join(sorted(DISCOVER_KEYS))}")
    return raw, disc


def _case(outcome, thresholds: dict[str, Any], table: dict[str, Any]) -> tuple[str, str, float]:
    """(outcome, direction, threshold): the arguments win over the [discover] table, as a whole."""
    given = {k: v for k, v in thresholds.items() if v is not None}
    outcome = outcome if outcome is not None else table.get("outcome")
    if outcome is None:
        raise DiscoveryError("no outcome: give --outcome NAME (outcome=) or 'outcome' in the space file's [discover]")
    outcome = check_outcome(outcome)
    if not given and outcome == table.get("outcome"):  # the file's threshold belongs to the file's outcome
        given = {k: table[k] for k in DIRECTIONS if k in table}
    if len(given) != 1:
        opts = ", ".join(f"--{d.replace('_', '-')}" for d in DIRECTIONS)
        raise DiscoveryError(
            f"give exactly one threshold for {outcome!r} ({opts} X), got "
            + (", ".join(f"{k} {v}" for k, v in given.items()) if given else "none")
        )
    (direction, value), = given.items()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
        raise DiscoveryError(f"threshold {direction} {value!r} is not a finite number")
    return outcome, direction, float(value)


# --------------------------------------------------------------------------- the runs


def _in_force(scenario: str, name: str) -> Any:
    """The value parameter ``name`` has in ``scenario`` from the base year (its own, else the default)."""
    from commissim.model.params import DEFAULTS
    from commissim.model.scenarios import load_scenario

    return load_scenario(scenario).parameters.get(name, DEFAULTS[name])


def _runs_table(folder: Path, sweep: dict, outcome: str) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """(inputs X, outcome y, run identities) with one row per run of the sweep's design."""
    from commissim.model.params import PARAM_BY_NAME

    spec = sweep["spec"]
    series_needed = ":" in outcome and not outcome.endswith(":final")
    res = load_results(folder, series=series_needed, providers=False)
    summ = res.summaries
    if series_needed and res.series is None:
        raise DiscoveryError(f"outcome {outcome!r} needs the yearly series, which '{folder}' does not hold (its runs "
                             "kept end-of-run measures only); use an end-of-run measure")
    seeds = int(spec["seeds"])
    failed = {}
    if res.failures is not None and len(res.failures):
        failed = dict(zip(res.failures["run_id"], res.failures["error_type"]))
    wanted: list[str] = []
    scen_of: dict[str, str] = {}
    for scen, info in sweep["scenarios"].items():
        first, count = info["points"]
        for p in range(first, first + count):
            for r in range(seeds):
                rid = make_run_id(p, r)
                wanted.append(rid)
                scen_of[rid] = scen
    summ = summ.set_index("run_id")
    missing = [r for r in wanted if r not in summ.index]
    if missing:
        n_failed = sum(r in failed for r in missing)
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise DiscoveryError(
            f"{len(missing)} of {len(wanted)} runs in '{folder}' have no result ({n_failed} failed, "
            f"{len(missing) - n_failed} not run: {shown}); PRIM needs every run of the sample - run the same "
            "command again to retry them (details in failures.csv)"
        )
    summ = summ.loc[wanted]
    names = [p["name"] for p in spec["parameters"]]
    X = pd.DataFrame(index=range(len(wanted)))
    for name in names:
        col = summ[name] if name in summ.columns else pd.Series(np.nan, index=summ.index)
        col = col.reset_index(drop=True).astype(object)
        na = col.isna().to_numpy()
        if na.any():  # not swept in that scenario: the value in force there
            col[na] = [_in_force(scen_of[rid], name) for rid, m in zip(wanted, na) if m]
        kind = PARAM_BY_NAME[name].kind
        if kind == "float":
            col = col.astype(float)
        elif kind == "int":
            col = col.astype(np.int64)
        elif kind == "bool":
            col = col.astype(bool)
        else:
            col = col.astype(str)
        X[name] = col.to_numpy()
    scenarios = list(sweep["scenarios"])
    if len(scenarios) > 1:
        X["scenario"] = pd.Categorical([scen_of[r] for r in wanted], categories=scenarios)
    y = run_values(summ.reset_index(), res.series, outcome).reindex(wanted).to_numpy(dtype=float)
    ids = pd.DataFrame({"run_id": wanted, "scenario": [scen_of[r] for r in wanted],
                        "seed": summ["seed"].to_numpy()})
    return X, y, ids


def _label(outcome: str, direction: str, threshold: float, scenarios: list[str]) -> str:
    from .prim import _num

    under = f" under {scenarios[0]}" if len(scenarios) == 1 else ""
    return f"{outcome} is {_WORDS[direction]} {_num(threshold)}{under}"


# --------------------------------------------------------------------------- writing


def _write(out: Path, res: DiscoveryResult, X: pd.DataFrame, y: np.ndarray, ids: pd.DataFrame, outcome: str,
           info: dict[str, Any], figures: bool) -> dict[str, Path]:
    p, cart = res.prim, res.cart
    tables = out / TABLES
    tables.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    limits = pd.DataFrame([
        {"input": lim.name, "kind": lim.kind, "lower": lim.lower, "upper": lim.upper,
         "categories": "" if lim.categories is None else "|".join(map(str, lim.categories)),
         "qp_lower": lim.qp_lower, "qp_upper": lim.qp_upper, "qp_categories": lim.qp_categories,
         "quasi_p": lim.quasi_p, "condition": lim.condition()}
        for lim in p.limits
    ], columns=["input", "kind", "lower", "upper", "categories", "qp_lower", "qp_upper", "qp_categories", "quasi_p",
                "condition"])
    files["box_limits"] = tables / "box_limits.csv"
    atomic.write_csv(limits, files["box_limits"])
    files["trajectory"] = tables / "trajectory.csv"
    atomic.write_csv(p.trajectory, files["trajectory"])
    files["cart_rules"] = tables / "cart_rules.csv"
    atomic.write_csv(pd.DataFrame([
        {"rule": " and ".join(map(str, r.conditions)) or "(all runs)", "predicts_case": r.predicts_case,
         "runs": r.n_runs, "cases": r.n_cases, "density": r.density, "coverage": r.coverage}
        for r in cart.rules
    ]), files["cart_rules"])
    files["cart_tree"] = tables / "cart_tree.txt"
    atomic.write_text(files["cart_tree"], cart.text)
    cases = pd.concat([ids.reset_index(drop=True), X.drop(columns=["scenario"], errors="ignore").reset_index(drop=True)],
                      axis=1)
    cases[outcome] = y
    cases["case"] = p.y
    cases["in_box"] = p.in_box
    files["cases"] = tables / "cases.csv"
    atomic.write_csv(cases, files["cases"])
    box = {
        "finding": p.finding,
        "outcome": outcome,
        "direction": p.direction,
        "threshold": p.threshold,
        "case_label": p.case_label,
        "box": p.chosen,
        "chosen_by": p.chosen_by,
        "coverage": p.coverage,
        "density": p.density,
        "mass": p.mass,
        "runs": p.n_runs,
        "cases": p.n_cases,
        "runs_in_box": int(p.trajectory.loc[p.chosen, "n_runs"]),
        "cases_in_box": int(p.trajectory.loc[p.chosen, "n_cases"]),
        "base_rate": p.base_rate,
        "limits": limits.replace({np.nan: None}).to_dict("records"),
        "inputs": list(p.inputs),
        "dropped_inputs": list(p.dropped_inputs),
        "cart": {"accuracy": cart.accuracy, "recall": cart.recall, "precision": cart.precision,
                 "agrees_with_prim": res.cart_agrees, "max_depth": cart.max_depth},
        "prim_settings": dict(p.settings),
        **info,
    }
    files["box"] = tables / "box.json"
    atomic.write_text(files["box"], json.dumps(box, indent=2, default=str))
    figs: dict[str, Path] = {}
    if figures:
        figs = make_discovery_figures(res, out / FIGURES)
        files.update({f"figure_{k}": v for k, v in figs.items()})
    md = discovery_report(res, figures=figs, relative_to=out)
    body = md.split("\n", 3)[3] if md.startswith("# ") else md  # drop the title and the bold finding
    notes = "".join(f"- {n}\n" for n in info.get("notes", []))
    head = (
        f"{p.finding}\n\n# Scenario discovery: {p.case_label}\n\n"
        f"Runs: {info['runs_folder']} ({info['sample']}; {p.n_runs} runs). "
        f"Tables: `{TABLES}/` (box limits with quasi-p-values, trajectory, CART rules, every run's case).\n\n"
        + (f"Notes:\n\n{notes}\n" if notes else "")
    )
    files["report"] = out / REPORT
    atomic.write_text(files["report"], head + body.lstrip("\n"))
    return files


# --------------------------------------------------------------------------- the function


def discover_run(
    space: str | Path | None = None,
    *,
    from_folder: str | Path | None = None,
    outcome: str | None = None,
    above: float | None = None,
    below: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
    box: int | None = None,
    case_label: str | None = None,
    out: str | Path | None = None,
    n: int | None = None,
    seeds: int | None = None,
    years: int | None = None,
    scenarios: Sequence[str] | str | None = None,
    root_seed: int | None = None,
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
) -> DiscoverRun:
    """Scenario discovery on the model (see the module docstring); returns a :class:`DiscoverRun`.

    ``space``: a space file (runs its Latin hypercube), or ``from_folder``: a finished sweep
    folder to reuse (exactly one). ``outcome`` and one of ``above``/``below``/``at_least``/
    ``at_most`` define the cases of interest (or the space file's ``[discover]`` table).
    ``box``: a box of the peeling trajectory (default: the knee). ``out``: where the
    discovery is written (default: the runs' folder; new runs go to
    ``results/discover_<name>`` unless ``out`` is given). ``n``, ``seeds``, ``years``,
    ``scenarios``, ``root_seed`` override the space file. ``executor``, ``workers``,
    ``scheduler``, ``chunk_size``: as for ``run_batch``. ``func``/``func_kwargs``: the
    run function and fixed keywords (e.g. ``{"seeds_path": ...}``). ``posterior``: a ``commissim calibrate``
    folder: row i of the Latin hypercube (in every scenario) takes posterior draw i for every parameter the space
    does not set, so the runs' other conditions are futures consistent with the record.
    """
    t0 = time.perf_counter()
    say = log or (lambda msg: print(msg, file=sys.stderr))
    require_discovery_extra("scenario discovery (PRIM and CART)")
    if (space is None) == (from_folder is None):
        raise UserError("give a space file or a sweep folder to reuse (--from FOLDER / from_folder=), exactly one")
    if box is not None and (isinstance(box, bool) or not isinstance(box, (int, np.integer)) or box < 0):
        raise DiscoveryError(f"box {box!r} is not allowed; expected a whole number >= 0 (a box of the trajectory)")
    thresholds = {"above": above, "below": below, "at_least": at_least, "at_most": at_most}
    notes: list[str] = []
    seconds_runs = 0.0
    n_now = 0
    if from_folder is not None:
        overrides = {"n": n, "seeds": seeds, "years": years, "scenarios": scenarios, "root_seed": root_seed}
        given = [k for k, v in overrides.items() if v is not None]
        if posterior is not None:
            given.append("posterior")
        if given:
            raise UserError(f"{', '.join(given)} apply when discover runs a space file, not with --from "
                            "(the sweep folder's sample is reused as it is)")
        folder = Path(from_folder)
        if not (folder / MANIFEST_NAME).is_file():
            raise UserError(f"'{folder}' is not a results folder (no {MANIFEST_NAME}); --from takes a folder "
                            "written by commissim sweep (or commissim discover)")
        sweep_doc = read_sweep(folder)
        table = {}
        outcome, direction, threshold = _case(outcome, thresholds, table)
        method = sweep_doc["spec"]["method"]
        sample = f"reused sweep sample: {method}, n = {sweep_doc['spec']['n']}, {sweep_doc['spec']['seeds']} seed(s)"
        if method != "lhs":
            notes.append(
                f"The runs reused from '{folder}' were drawn for method '{method}', not a Latin hypercube: coverage and "
                "density describe that sample"
                + (" (Morris trajectories cover the space on a coarse grid)" if method == "morris" else "")
                + ", not a uniform draw over the space."
            )
        out_dir = Path(out) if out is not None else folder
    else:
        raw, table = read_space_file(space)
        outcome, direction, threshold = _case(outcome, thresholds, table)
        if box is None and table.get("box") is not None:
            box = table["box"]
        if case_label is None:
            case_label = table.get("case_label")
        asked = raw.get("method", "sobol")
        outs = raw.get("outcomes")
        outs = [outs] if isinstance(outs, str) else list(outs or [])
        raw["outcomes"] = list(dict.fromkeys([*outs, outcome]))
        spec = load_spec(raw, {"method": "lhs", "n": n, "seeds": seeds, "years": years, "scenarios": scenarios,
                               "root_seed": root_seed}, where=str(space))
        if asked != "lhs":
            msg = (f"the space's method '{asked}' is ignored: scenario discovery draws a Latin hypercube "
                   f"(method = lhs) of n = {spec.n} rows per scenario")
            notes.append(msg[0].upper() + msg[1:] + ".")
            say(f"note: {msg}")
        design, info, samples = prepare(spec)
        meta_post: dict[str, Any] = {}
        if posterior is not None:
            from ..posterior import load_posterior

            post = load_posterior(posterior)
            sets = post.draws(spec.n, spec.root_seed)
            design = [{**{k: v for k, v in sets[i % spec.n].items() if k not in pt}, **pt}
                      for i, pt in enumerate(design)]
            notes.append(post.note() + ": row i of the Latin hypercube takes posterior draw i for every parameter "
                         "the space does not set.")
            meta_post = {"posterior": str(post.folder), "posterior_note": post.note(),
                         "not_informed": post.not_informed}
        folder = Path(out) if out is not None else Path(DEFAULT_OUT_PREFIX + spec.name)
        out_dir = folder
        say(f"discover {spec.name}: Latin hypercube, n = {spec.n}, {len(design)} design points x {spec.seeds} "
            f"seed(s) = {len(design) * spec.seeds} runs of {spec.years} years -> {folder}")
        try:
            batch = run_batch(
                design, runner=model_runner(func, func_kwargs), out=folder, replicates=spec.seeds, years=spec.years,
                root_seed=spec.root_seed, executor=executor, workers=workers, scheduler=scheduler,
                chunk_size=chunk_size, series=True, overwrite=overwrite, derived=DERIVED, progress=progress,
                label="discover", meta={"command": command, "discover": spec.name, "method": "lhs", "n": spec.n,
                                        **meta_post},
                log=say,
            )
        finally:
            # the sample is kept even when the runs were interrupted (an interrupted --overwrite: in the folder
            # the new batch is built in, never into the old results)
            target = staging_folder(folder) if overwrite and (staging_folder(folder) / MANIFEST_NAME).is_file() \
                else folder
            if (target / MANIFEST_NAME).is_file():
                write_sweep_files(target, spec, info, samples)
        seconds_runs = batch.seconds
        n_now = batch.n_done - batch.n_skipped
        say(f"discover {spec.name}: {batch.n_done} of {batch.n_runs} runs finished"
            + (f" ({batch.n_skipped} from before)" if batch.n_skipped else "") + f" in {batch.seconds:.1f} s")
        sweep_doc = read_sweep(folder)
        sample = f"Latin hypercube, n = {spec.n} per scenario, {spec.seeds} seed(s), {spec.years} years"

    X, y, ids = _runs_table(folder, sweep_doc, outcome)
    scen_list = list(sweep_doc["scenarios"])
    label = case_label or _label(outcome, direction, threshold, scen_list)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DiscoveryWarning)
        result = discover(X, y, threshold=threshold, direction=direction, box=box, outcome=outcome, case_label=label,
                          units={c: parameter_unit(c) for c in X.columns if parameter_unit(c)})
    for w in caught:
        if issubclass(w.category, DiscoveryWarning):
            notes.append(str(w.message)[0].upper() + str(w.message)[1:] + ".")
            say(f"note: {w.message}")
    info = {
        "runs_folder": str(folder),
        "sample": sample,
        "scenarios": scen_list,
        "years": int(sweep_doc["spec"]["years"]),
        "notes": notes,
        "command": command,
    }
    files = _write(out_dir, result, X, y, ids, outcome, info, figures)
    return DiscoverRun(folder=folder, out=out_dir, result=result, outcome=outcome, direction=direction,
                       threshold=threshold, files=files, notes=notes, seconds_runs=seconds_runs,
                       seconds_total=time.perf_counter() - t0, n_runs_done_now=n_now)
