"""Sensitivity analysis of a sweep folder: SALib indices, tables, figures and ``sensitivity.md``.

:func:`analyse` reads what :func:`~.sweep.sweep` wrote - ``sweep.json`` (the sweep's
definition, each scenario's SALib problem and the method settings), ``samples/`` (the
unit-hypercube sample ``X`` SALib drew) and the results tables - so it can be re-run from the
folder alone (``commissim sweep --analyse-only FOLDER``) without running the model again.
Outcomes are averaged over the seeds of each design point first; each method's analysis is
its record in :mod:`.methods`.

Guards against SALib's silent pitfalls: any failed run or NaN outcome is refused with a
message naming the runs (SALib would return all-zero indices); a second-order analysis of a
sample drawn without second order is refused (it can fit the row count by accident and give
wrong indices); a Sobol sample whose base size is not a power of 2 is warned about (once).

Every result comes with its reliability (:mod:`.reliability`): an outcome that never varies is
reported as "no variation: indices undefined" (never as zeros); intervals wider than their
estimates, Sobol indices outside [0, 1] beyond their intervals, and rankings that change between
n/2 and n (with the n that would settle them) are each said once, on the console and in
``sensitivity.md``, and flagged per parameter in the tables (column ``flags``) and figures.

Written next to the results: ``sensitivity/<scenario>/<outcome>.csv`` (one table per
outcome), ``sensitivity/indices.csv`` (all, long format), ``sensitivity/<scenario>/<outcome>_S2.csv``,
``sensitivity/warnings.csv`` (every caveat), ``figures/<method>_<scenario>_<outcome>.png`` and
``sensitivity.md``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from ..batch import load_results, make_run_id
from ..errors import SweepAnalysisError
from .figures import figure_indices, figure_s2
from .methods import METHODS
from .reliability import NO_VARIATION, Caveat, Reliability, SayOnce, check, constant_caveat, is_constant, to_dict
from .report import report_text, safe_name
from .space import SWEEP_FILE, needs_series

__all__ = ["Analysis", "analyse", "outcome_matrix", "read_sweep", "run_values"]


@dataclass
class Analysis:
    """What :func:`analyse` computed: tables per (scenario, outcome), figures, notes."""

    folder: Path
    method: str
    tables: dict[tuple[str, str], Any] = field(default_factory=dict)  # (scenario, outcome) -> DataFrame
    second_order: dict[tuple[str, str], Any] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Reliability: every caveat (each said once), per (scenario, outcome) the checks, and the outcomes
    # that never vary (no indices: undefined, not zero).
    caveats: list[Caveat] = field(default_factory=list)
    reliability: dict[tuple[str, str], Reliability] = field(default_factory=dict)
    constant: dict[tuple[str, str], Caveat] = field(default_factory=dict)

    def caveats_of(self, scenario: str, outcome: str) -> list[Caveat]:
        return [c for c in self.caveats if c.scenario == scenario and c.outcome == outcome]


def read_sweep(folder: Path) -> dict[str, Any]:
    f = Path(folder) / SWEEP_FILE
    if not f.is_file():
        raise SweepAnalysisError(f"'{folder}' holds no {SWEEP_FILE}: it is not a sweep results folder "
                                 "(run 'commissim sweep CONFIG --out FOLDER' first)")
    return json.loads(f.read_text())


# --------------------------------------------------------------------------- outcomes
def _run_values(summaries, series, outcome: str):
    """One value per run (Series indexed by run_id) for an outcome name (``measure`` or ``reporter:agg``)."""
    import pandas as pd

    base, sep, agg = outcome.partition(":")
    if not sep or agg == "final":
        if base not in summaries.columns:
            return pd.Series(np.nan, index=summaries["run_id"])
        return pd.Series(summaries[base].to_numpy(dtype=float), index=summaries["run_id"])
    if series is None or base not in series.columns:
        return pd.Series(np.nan, index=summaries["run_id"])
    s = series[series["round"] >= 1]  # the funding rounds, not the base year
    g = s.groupby("run_id")[base]
    vals = {"mean": g.mean, "max": g.max, "min": g.min, "sum": g.sum}[agg]()
    return vals.reindex(summaries["run_id"]).astype(float)


def outcome_matrix(folder: str | Path, sweep: dict | None = None) -> dict[str, Any]:
    """Per scenario: a DataFrame (point x outcome) of outcomes averaged over seeds, in sample order.

    Refuses (SweepAnalysisError) when any run of the design failed, is missing, or gives NaN,
    naming the runs.
    """
    import pandas as pd

    folder = Path(folder)
    sweep = sweep or read_sweep(folder)
    spec = sweep["spec"]
    res = load_results(folder, series=needs_series(spec["outcomes"]), providers=False)
    summ = res.summaries
    out: dict[str, Any] = {}
    seeds = int(spec["seeds"])
    values = {o: _run_values(summ, res.series, o) for o in spec["outcomes"]}
    problems: list[str] = []
    failed_msgs: dict[str, str] = {}
    if res.failures is not None and len(res.failures):
        failed_msgs = dict(zip(res.failures["run_id"], res.failures["error_type"] + ": "
                               + res.failures["message"].astype(str).str.slice(0, 120)))
    done = set(summ["run_id"])
    for scen, info in sweep["scenarios"].items():
        first, count = info["points"]
        points = list(range(first, first + count))
        run_ids = [make_run_id(p, r) for p in points for r in range(seeds)]
        missing = [r for r in run_ids if r not in done]
        if missing:
            n_failed = sum(1 for r in missing if r in failed_msgs)
            shown = ", ".join(f"{r} ({failed_msgs[r]})" if r in failed_msgs else r for r in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            problems.append(
                f"scenario {scen}: {len(missing)} of {len(run_ids)} runs have no result "
                f"({n_failed} failed, {len(missing) - n_failed} not run): {shown}{more}"
            )
            continue
        frame = {}
        for o, v in values.items():
            vals = v.reindex(run_ids)
            bad = vals[~np.isfinite(vals.to_numpy(dtype=float))]
            if len(bad):
                shown = ", ".join(bad.index[:6]) + (f" and {len(bad) - 6} more" if len(bad) > 6 else "")
                problems.append(f"scenario {scen}: outcome {o!r} is NaN or infinite in {len(bad)} runs: {shown}")
                continue
            arr = vals.to_numpy(dtype=float).reshape(count, seeds)
            frame[o] = arr.mean(axis=1)
        out[scen] = pd.DataFrame(frame, index=pd.Index(points, name="point"))
    if problems:
        raise SweepAnalysisError(
            "cannot analyse: SALib needs an outcome for every sample point (one missing or NaN value makes "
            "every index silently zero).\n  " + "\n  ".join(problems)
            + f"\nRun the same sweep command again to retry failed runs (details in {folder / 'failures.csv'}), "
              "or fix the outcome."
        )
    return out


run_values = _run_values  # one value per run of an outcome (``measure`` or ``reporter:agg``)


# --------------------------------------------------------------------------- the analysis
def analyse(
    folder: str | Path,
    *,
    second_order: bool | None = None,
    figures: bool = True,
    log: Callable[[str], None] | None = None,
) -> Analysis:
    """Analyse a sweep folder; write tables, figures and ``sensitivity.md``; return the tables.

    ``second_order``: Sobol only - ``None`` follows the sample (second order when it was drawn
    with it), ``True`` requires a sample drawn with second order, ``False`` skips S2.
    """
    import pandas as pd

    folder = Path(folder)
    say = log if isinstance(log, SayOnce) else SayOnce(log or (lambda msg: print(msg, file=sys.stderr)))
    sweep = read_sweep(folder)
    atomic.check_output_folder(folder, name="analyse_only")  # the analysis is written into the folder
    spec = sweep["spec"]
    m = METHODS[spec["method"]]
    n = int(spec["n"])
    settings = {**spec["options"], "second_order": spec["second_order"]}
    if second_order and m.name != "sobol":
        raise SweepAnalysisError(f"second-order indices apply to Sobol sweeps only; this sweep's method is {m.name!r}")
    want_second = bool(spec["second_order"]) if second_order is None else bool(second_order)
    Ys = outcome_matrix(folder, sweep)
    result = Analysis(folder, m.name)
    warning = m.size_warning(n)
    if warning:
        result.caveats.append(Caveat("", "", "sample_size", warning))
    if m.note:
        result.caveats.append(Caveat("", "", "method", m.note))
    sens = folder / "sensitivity"
    figdir = folder / "figures"
    sens.mkdir(exist_ok=True)
    if figures:
        figdir.mkdir(exist_ok=True)
    long_rows = []
    seed = int(spec["sample_seed"])
    for scen, info in sweep["scenarios"].items():
        problem = info["problem"]
        X = np.load(folder / info["sample"])
        (sens / safe_name(scen)).mkdir(exist_ok=True)
        for outcome in spec["outcomes"]:
            Y = Ys[scen][outcome].to_numpy(dtype=float)
            if X.shape[0] != Y.shape[0]:
                raise SweepAnalysisError(f"scenario {scen}: the sample has {X.shape[0]} rows but the results "
                                         f"{Y.shape[0]} points")
            if is_constant(Y):  # no variance: indices undefined (SALib would print zeros or NaN)
                caveat = constant_caveat(scen, outcome, Y, list(problem["names"]))
                result.caveats.append(caveat)
                result.constant[(scen, outcome)] = caveat
                undefined = pd.DataFrame({"parameter": problem["names"], "scenario": scen, "outcome": outcome,
                                          **{c: np.nan for c in m.index_columns}, "flags": NO_VARIATION})
                atomic.write_csv(undefined, sens / safe_name(scen) / f"{safe_name(outcome)}.csv")
                continue
            table, s2 = m.analyse(problem, X, Y, settings, want_second, seed)
            rel = check(m, problem, X, Y, table, settings, seed, n=n, scenario=scen, outcome=outcome)
            table["flags"] = ["; ".join(rel.flags.get(p, [])) for p in table["parameter"]]
            result.reliability[(scen, outcome)] = rel
            result.caveats.extend(rel.caveats)
            name = f"{safe_name(scen)}_{safe_name(outcome)}"
            if s2 is not None:
                result.second_order[(scen, outcome)] = s2
                atomic.write_csv(s2, sens / safe_name(scen) / f"{safe_name(outcome)}_S2.csv")
            table.insert(1, "outcome", outcome)
            table.insert(1, "scenario", scen)
            atomic.write_csv(table, sens / safe_name(scen) / f"{safe_name(outcome)}.csv")
            result.tables[(scen, outcome)] = table
            long_rows.append(table)
            if figures:
                result.figures.append(figure_indices(m, table.drop(columns=["scenario", "outcome"]), outcome, sweep,
                                                     scen, settings, figdir / f"{m.name}_{name}.png", rel))
                if s2 is not None:
                    result.figures.append(figure_s2(s2, outcome, problem["names"], sweep, scen,
                                                    figdir / f"sobol_s2_{name}.png"))
    if long_rows:
        atomic.write_csv(pd.concat(long_rows, ignore_index=True), sens / "indices.csv")
    atomic.write_csv(pd.DataFrame([to_dict(c) for c in result.caveats],
                                  columns=["scenario", "outcome", "kind", "parameters", "warning"]),
                     sens / "warnings.csv")
    for c in result.caveats:  # each problem said once, in the words sensitivity.md uses
        say(f"warning: {c.line()}")
    text = report_text(result, sweep)
    post = _posterior_note(folder)
    if post:
        head, _, rest = text.partition("\n")
        text = f"{head}\n\n{post}\n{rest}"
    atomic.write_text(folder / "sensitivity.md", text)
    return result


def _posterior_note(folder: Path) -> str:
    """With ``--posterior``: the sentence that says where the runs' other parameters came from."""
    import json

    path = Path(folder) / "manifest.json"
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    if not m.get("posterior"):
        return ""
    return (f"**Over a posterior.** {m.get('posterior_note', '')}. Each run takes the parameters the sweep does not "
            f"set from one of {m.get('draws')} weighted posterior draws (the one its seed picks); the indices are of "
            "the outcome over futures consistent with the record.")
