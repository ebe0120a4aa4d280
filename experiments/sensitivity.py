"""Sensitivity analysis of a sweep folder: SALib indices, tables, figures and a report.

:func:`analyse` reads what :func:`experiments.sweep.sweep` wrote - ``sweep.json`` (the
sweep definition, each scenario's SALib problem and method settings), ``samples/`` (the
unit-hypercube sample ``X`` SALib drew) and the engine's ``summaries.parquet`` - so it can
be re-run from the folder alone (``commissim sweep --analyse-only FOLDER``) without running
the model again. Outcomes are averaged over the seeds of each design point first.

Per method:

- ``sobol``: first-order ``S1`` and total ``ST`` indices (and ``S2`` when the sample was drawn
  with second order and it is asked for), each with a bootstrap confidence interval;
- ``morris``: ``mu``, ``mu*`` (with its confidence interval) and ``sigma``; since ``X`` is the
  unit sample, ``mu*`` is the mean absolute effect of moving a parameter across its whole range;
- ``fast``: ``S1`` and ``ST`` (extended FAST) with confidence intervals;
- ``lhs``: Spearman rank correlation and partial rank correlation (PRCC) of each parameter with
  the outcome, with Fisher-z confidence intervals, ranked by |PRCC|.

Guards against SALib's silent pitfalls: any failed run or NaN outcome is refused with a
message naming the runs (SALib would return all-zero indices); a second-order analysis of a
sample drawn without second order is refused (it can fit the row count by accident and give
wrong indices); a Sobol sample whose base size is not a power of 2 is warned about.

Written next to the results: ``sensitivity/<scenario>/<outcome>.csv`` (one table per
outcome), ``sensitivity/indices.csv`` (all, long format), ``sensitivity/s2_*.csv``,
``figures/<method>_<scenario>_<outcome>.png`` and ``sensitivity.md``.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from commissim.experiments.cli import UserError
from commissim.experiments.engine import atomic_save_figure

__all__ = ["SweepAnalysisError", "analyse", "outcome_matrix", "summary_text", "SWEEP_FILE"]

SWEEP_FILE = "sweep.json"


class SweepAnalysisError(UserError):
    """The results cannot be analysed as asked (failed runs, NaN outcomes, wrong sample)."""


@dataclass
class Analysis:
    """What :func:`analyse` computed: tables per (scenario, outcome), figures, notes."""

    folder: Path
    method: str
    tables: dict[tuple[str, str], Any] = field(default_factory=dict)  # (scenario, outcome) -> DataFrame
    second_order: dict[tuple[str, str], Any] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("/", "_")


def read_sweep(folder: Path) -> dict[str, Any]:
    f = Path(folder) / SWEEP_FILE
    if not f.is_file():
        raise SweepAnalysisError(f"'{folder}' holds no {SWEEP_FILE}: it is not a sweep results folder "
                                 "(run 'commissim sweep CONFIG --out FOLDER' first)")
    return json.loads(f.read_text())


def load_sample(folder: Path, info: dict[str, Any]) -> np.ndarray:
    return np.load(Path(folder) / info["sample"])


# --------------------------------------------------------------------------- outcomes
def _run_values(summaries, series, outcome: str, years: int):
    """One value per run (Series indexed by run_id) for an outcome name (``measure`` or ``reporter:agg``)."""
    import pandas as pd

    base, sep, agg = outcome.partition(":")
    if not sep or agg == "final":
        col = base
        if col not in summaries.columns:
            return pd.Series(np.nan, index=summaries["run_id"])
        return pd.Series(summaries[col].to_numpy(dtype=float), index=summaries["run_id"])
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

    from commissim.experiments.engine import load_results, make_run_id

    folder = Path(folder)
    sweep = sweep or read_sweep(folder)
    spec = sweep["spec"]
    needs_series = any(":" in o and not o.endswith(":final") for o in spec["outcomes"])
    res = load_results(folder, series=needs_series, providers=False)
    summ = res.summaries
    out: dict[str, Any] = {}
    seeds = int(spec["seeds"])
    values = {o: _run_values(summ, res.series, o, int(spec["years"])) for o in spec["outcomes"]}
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


# --------------------------------------------------------------------------- the methods
def _sobol(problem, X, Y, settings, second_order: bool, seed: int):
    import pandas as pd
    from SALib.analyze import sobol

    d = problem["num_vars"]
    drawn_second = bool(settings["second_order"])
    n_rows = Y.shape[0]
    if second_order and not drawn_second:
        raise SweepAnalysisError(
            "second-order indices were asked for, but the sample was drawn without them "
            f"(second_order = false: {n_rows} rows = N(D+2) with D = {d}); analysing it with "
            "calc_second_order=True can fit the row count by accident and gives wrong indices. "
            "Draw a new sample with second_order = true (in the sweep file, or --second-order) into a new folder"
        )
    step = 2 * d + 2 if drawn_second else d + 2
    if n_rows % step:
        raise SweepAnalysisError(f"the Sobol sample has {n_rows} rows, not a multiple of {step} "
                                 f"({'2D+2' if drawn_second else 'D+2'} with D = {d}): sample and results do not match")
    if drawn_second and not second_order:  # first- and total-order only: keep A, AB_i and B of each block
        keep = np.concatenate([np.arange(b, b + d + 1) for b in range(0, n_rows, step)] +
                              [np.arange(b + step - 1, b + step) for b in range(0, n_rows, step)])
        keep.sort()
        Y = Y[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        Si = sobol.analyze(problem, Y, calc_second_order=second_order, num_resamples=int(settings["num_resamples"]),
                           conf_level=float(settings["conf_level"]), seed=seed)
    table = pd.DataFrame({
        "parameter": problem["names"],
        "S1": Si["S1"], "S1_conf": Si["S1_conf"], "ST": Si["ST"], "ST_conf": Si["ST_conf"],
    })
    table = table.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    s2 = None
    if second_order:
        names = problem["names"]
        rows = []
        for i in range(d):
            for j in range(i + 1, d):
                rows.append({"parameter_1": names[i], "parameter_2": names[j], "S2": Si["S2"][i, j],
                             "S2_conf": Si["S2_conf"][i, j]})
        s2 = pd.DataFrame(rows).sort_values("S2", ascending=False, kind="stable").reset_index(drop=True)
    return table, s2


def _morris(problem, X, Y, settings, seed: int):
    import pandas as pd
    from SALib.analyze import morris

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        Si = morris.analyze(problem, X, Y, num_resamples=int(settings["num_resamples"]),
                            conf_level=float(settings["conf_level"]), num_levels=int(settings["num_levels"]), seed=seed)
    table = pd.DataFrame({
        "parameter": problem["names"], "mu_star": Si["mu_star"], "mu_star_conf": Si["mu_star_conf"],
        "sigma": Si["sigma"], "mu": Si["mu"],
    })
    table = table.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def _fast(problem, X, Y, settings, seed: int):
    import pandas as pd
    from SALib.analyze import fast

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", message="FAST confidence intervals")  # said in the report instead
        Si = fast.analyze(problem, Y, M=int(settings["M"]), num_resamples=int(settings["num_resamples"]),
                          conf_level=float(settings["conf_level"]), seed=seed)
    table = pd.DataFrame({"parameter": problem["names"], "S1": Si["S1"], "S1_conf": Si["S1_conf"],
                          "ST": Si["ST"], "ST_conf": Si["ST_conf"]})
    table = table.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def _rank(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return np.apply_along_axis(rankdata, 0, a) if a.ndim == 2 else rankdata(a)


def _prcc(Xr: np.ndarray, yr: np.ndarray) -> np.ndarray:
    """Partial rank correlation of each column with y (inputs already ranked)."""
    n, d = Xr.shape
    out = np.empty(d)
    ones = np.ones((n, 1))
    for j in range(d):
        Z = np.hstack([ones, np.delete(Xr, j, axis=1)])
        bx, *_ = np.linalg.lstsq(Z, Xr[:, j], rcond=None)
        by, *_ = np.linalg.lstsq(Z, yr, rcond=None)
        rx, ry = Xr[:, j] - Z @ bx, yr - Z @ by
        den = math.sqrt(float(rx @ rx) * float(ry @ ry))
        out[j] = float(rx @ ry) / den if den > 0 else np.nan
    return out


def _spearman(Xr: np.ndarray, yr: np.ndarray) -> np.ndarray:
    xc = Xr - Xr.mean(axis=0)
    yc = yr - yr.mean()
    den = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc[:, None]).sum(axis=0) / den


def _fisher_ci(r: np.ndarray, n: int, controls: int, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Confidence interval of a (partial) correlation by Fisher's z: atanh(r) +- z / sqrt(n - 3 - controls)."""
    from scipy.stats import norm

    dof = n - 3 - controls
    if dof <= 0:
        nan = np.full_like(r, np.nan)
        return nan, nan
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    half = norm.ppf(0.5 + conf_level / 2) / math.sqrt(dof)
    return np.tanh(z - half), np.tanh(z + half)


def _lhs(problem, X, Y, settings, seed: int):
    import pandas as pd

    Xr, yr = _rank(X), _rank(Y)
    rho, prcc = _spearman(Xr, yr), _prcc(Xr, yr)
    n, d = X.shape
    cl = float(settings["conf_level"])
    p_lo, p_hi = _fisher_ci(prcc, n, d - 1, cl)
    r_lo, r_hi = _fisher_ci(rho, n, 0, cl)
    table = pd.DataFrame({
        "parameter": problem["names"], "prcc": prcc, "prcc_low": p_lo, "prcc_high": p_hi,
        "spearman": rho, "spearman_low": r_lo, "spearman_high": r_hi,
    })
    table = table.reindex(table["prcc"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


# --------------------------------------------------------------------------- figures
def _subtitle(sweep: dict, scen: str, d: int) -> str:
    spec = sweep["spec"]
    info = sweep["scenarios"][scen]
    return (f"{scen}: {spec['method']} n={spec['n']}, {d} parameters, {info['points'][1]} points x "
            f"{spec['seeds']} seed(s) = {info['points'][1] * spec['seeds']} runs, {spec['years']} years")


def _bars_s1_st(ax, table, outcome: str, conf_level: float):
    t = table.iloc[::-1]  # largest at the top
    y = np.arange(len(t))
    h = 0.38
    ax.barh(y + h / 2, t["ST"], h, xerr=t["ST_conf"], color="#1f77b4", ecolor="#333333", capsize=2,
            label="total effect ST")
    ax.barh(y - h / 2, t["S1"], h, xerr=t["S1_conf"], color="#ff7f0e", ecolor="#333333", capsize=2,
            label="first order S1")
    ax.set_yticks(y, t["parameter"])
    ax.axvline(0, color="black", lw=0.8)
    right = np.nanmax(np.maximum(t["ST"] + t["ST_conf"], t["S1"] + t["S1_conf"]).to_numpy())
    span = max(float(right), 0.05)
    for yi, st, s1, cst, cs1 in zip(y, t["ST"], t["S1"], t["ST_conf"], t["S1_conf"]):
        x = max(st + cst, s1 + cs1, 0) + 0.015 * span
        ax.text(x, yi, f"ST {st:.3f}  S1 {s1:.3f}", va="center", fontsize=8, color="#222222")
    left = min(0.0, float(np.nanmin((t["S1"] - t["S1_conf"]).to_numpy())))
    ax.set_xlim(left - 0.02 * span, right + 0.32 * span)
    ax.set_xlabel(f"share of output variance (bars: {int(conf_level * 100)}% bootstrap interval)")
    ax.set_title(outcome, fontsize=12, fontweight="bold")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)


def _figure_indices(method: str, table, outcome: str, sweep: dict, scen: str, settings: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = len(table)
    cl = float(settings["conf_level"])
    if method in ("sobol", "fast"):
        fig, ax = plt.subplots(figsize=(9, 1.2 + 0.42 * d))
        _bars_s1_st(ax, table, f"{method.capitalize()} indices: {outcome} ({scen})", cl)
    elif method == "morris":
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, max(5.5, 1.2 + 0.42 * d)),
                                       gridspec_kw={"width_ratios": [1.1, 1]})
        ax1.scatter(table["mu_star"], table["sigma"], color="#1f77b4", zorder=3)
        top = max(float(table["mu_star"].max()), 1e-12) * 1.1
        xs = np.array([0, top])
        for k, style in ((0.1, ":"), (0.5, "--"), (1.0, "-")):
            ax1.plot(xs, k * xs, style, color="grey", lw=0.8, label=f"sigma/mu* = {k}")
        for _, r in table.iterrows():
            ax1.annotate(r["parameter"], (r["mu_star"], r["sigma"]), xytext=(4, 3), textcoords="offset points",
                         fontsize=8)
        ax1.set_xlabel("mu* (mean |elementary effect| across the whole range)")
        ax1.set_ylabel("sigma (spread: interactions or non-linearity)")
        ax1.set_title(f"Morris mu*-sigma: {outcome}", fontsize=12, fontweight="bold")
        ax1.set_xlim(0, top)
        ax1.set_ylim(0, max(float(table["sigma"].max()), 0.1 * top) * 1.2)
        ax1.legend(fontsize=8, loc="upper left")
        ax1.grid(alpha=0.3)
        t = table.iloc[::-1]
        ax2.barh(np.arange(d), t["mu_star"], xerr=t["mu_star_conf"], color="#1f77b4", ecolor="#333", capsize=2)
        ax2.set_yticks(np.arange(d), t["parameter"])
        ax2.set_xlabel(f"mu* ({int(cl * 100)}% bootstrap interval)")
        ax2.set_title("ranking by mu*", fontsize=11)
        ax2.grid(axis="x", alpha=0.3)
    else:  # lhs
        fig, ax = plt.subplots(figsize=(9, 1.2 + 0.42 * d))
        t = table.iloc[::-1]
        y = np.arange(d)
        err = np.vstack([t["prcc"] - t["prcc_low"], t["prcc_high"] - t["prcc"]]).clip(min=0)
        ax.barh(y, t["prcc"], xerr=err, color=np.where(t["prcc"] >= 0, "#d62728", "#1f77b4"), ecolor="#333",
                capsize=2, label="partial rank correlation (PRCC)")
        ax.scatter(t["spearman"], y, color="black", marker="D", s=18, zorder=3, label="Spearman rank correlation")
        ax.set_yticks(y, t["parameter"])
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlim(-1, 1)
        ax.set_xlabel(f"correlation with the outcome (bars: {int(cl * 100)}% Fisher-z interval)")
        ax.set_title(f"LHS rank correlations: {outcome}", fontsize=12, fontweight="bold")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="lower right", fontsize=9)
    fig.suptitle(_subtitle(sweep, scen, d), fontsize=9, color="#444444", y=0.995)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def _figure_s2(s2, outcome, names, sweep, scen, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = len(names)
    M = np.full((d, d), np.nan)
    pos = {n: i for i, n in enumerate(names)}
    for r in s2.itertuples():
        M[pos[r.parameter_1], pos[r.parameter_2]] = r.S2
    fig, ax = plt.subplots(figsize=(2 + 0.55 * d, 1.5 + 0.5 * d))
    im = ax.imshow(M, cmap="viridis")
    ax.set_xticks(range(d), names, rotation=60, ha="right")
    ax.set_yticks(range(d), names)
    fig.colorbar(im, ax=ax, label="S2")
    ax.set_title(f"Sobol second-order indices: {outcome}", fontweight="bold")
    fig.suptitle(_subtitle(sweep, scen, d), fontsize=9, color="#444444", y=0.995)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


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
    say = log or (lambda msg: print(msg, file=sys.stderr))
    sweep = read_sweep(folder)
    spec = sweep["spec"]
    method = spec["method"]
    settings = {**spec["options"], "second_order": spec["second_order"]}
    if second_order and method != "sobol":
        raise SweepAnalysisError(f"second-order indices apply to Sobol sweeps only; this sweep's method is {method!r}")
    want_second = bool(spec["second_order"]) if second_order is None else bool(second_order)
    if method == "sobol":
        n = int(spec["n"])
        if n & (n - 1):
            msg = (f"warning: Sobol base sample n = {n} is not a power of 2; the indices converge more slowly "
                   f"(use n = {1 << (n.bit_length() - 1)} or {1 << n.bit_length()})")
            say(msg)
    Ys = outcome_matrix(folder, sweep)
    result = Analysis(folder, method)
    sens = folder / "sensitivity"
    figdir = folder / "figures"
    sens.mkdir(exist_ok=True)
    if figures:
        figdir.mkdir(exist_ok=True)
    long_rows = []
    seed = int(spec["sample_seed"])
    for scen, info in sweep["scenarios"].items():
        problem = info["problem"]
        X = load_sample(folder, info)
        (sens / _safe(scen)).mkdir(exist_ok=True)
        for outcome in spec["outcomes"]:
            Y = Ys[scen][outcome].to_numpy(dtype=float)
            if X.shape[0] != Y.shape[0]:
                raise SweepAnalysisError(f"scenario {scen}: the sample has {X.shape[0]} rows but the results "
                                         f"{Y.shape[0]} points")
            if np.ptp(Y) == 0:
                note = (f"{scen} / {outcome}: the outcome is {Y[0]:g} at every sample point; no indices "
                        "(nothing varies)")
                result.notes.append(note)
                say(note)
                continue
            if method == "sobol":
                table, s2 = _sobol(problem, X, Y, settings, want_second, seed)
                if s2 is not None:
                    result.second_order[(scen, outcome)] = s2
                    s2.to_csv(sens / _safe(scen) / f"{_safe(outcome)}_S2.csv", index=False)
            elif method == "morris":
                table = _morris(problem, X, Y, settings, seed)
            elif method == "fast":
                table = _fast(problem, X, Y, settings, seed)
                fast_note = ("FAST confidence intervals come from SALib's bootstrap, which is known to be "
                             "unreliable for FAST (SALib issue 649): treat them as indicative only")
                if fast_note not in result.notes:
                    result.notes.append(fast_note)
            else:
                table = _lhs(problem, X, Y, settings, seed)
            table.insert(1, "outcome", outcome)
            table.insert(1, "scenario", scen)
            table.to_csv(sens / _safe(scen) / f"{_safe(outcome)}.csv", index=False)
            result.tables[(scen, outcome)] = table
            long_rows.append(table)
            if figures:
                p = figdir / f"{method}_{_safe(scen)}_{_safe(outcome)}.png"
                result.figures.append(_figure_indices(method, table.drop(columns=["scenario", "outcome"]), outcome,
                                                      sweep, scen, settings, p))
                if (scen, outcome) in result.second_order:
                    p2 = figdir / f"sobol_s2_{_safe(scen)}_{_safe(outcome)}.png"
                    result.figures.append(_figure_s2(result.second_order[(scen, outcome)], outcome,
                                                     problem["names"], sweep, scen, p2))
    if long_rows:
        pd.concat(long_rows, ignore_index=True).to_csv(sens / "indices.csv", index=False)
    (folder / "sensitivity.md").write_text(report_text(result, sweep))
    return result


# --------------------------------------------------------------------------- text
_MAIN = {"sobol": ("ST", "ST_conf", "S1", "S1_conf"), "fast": ("ST", "ST_conf", "S1", "S1_conf"),
         "morris": ("mu_star", "mu_star_conf", "sigma", None), "lhs": ("prcc", None, "spearman", None)}


def _fmt_row(method: str, r) -> str:
    if method in ("sobol", "fast"):
        return (f"ST {r['ST']:.3f} ± {r['ST_conf']:.3f}   S1 {r['S1']:.3f} ± {r['S1_conf']:.3f}")
    if method == "morris":
        return f"mu* {r['mu_star']:.4g} ± {r['mu_star_conf']:.3g}   sigma {r['sigma']:.4g}"
    return (f"PRCC {r['prcc']:+.3f} [{r['prcc_low']:+.3f}, {r['prcc_high']:+.3f}]   "
            f"Spearman {r['spearman']:+.3f}")


def summary_text(result: Analysis, top: int = 5) -> str:
    """The top parameters of each (scenario, outcome), one line each."""
    lines = []
    for (scen, outcome), table in result.tables.items():
        lines.append(f"{scen} / {outcome}:")
        for _, r in table.head(top).iterrows():
            lines.append(f"  {int(r['rank']):2d}. {r['parameter']:26s} {_fmt_row(result.method, r)}")
    lines.extend(result.notes)
    return "\n".join(lines)


def report_text(result: Analysis, sweep: dict) -> str:
    spec = sweep["spec"]
    m = result.method
    out = [f"# Sensitivity sweep: {spec['name']}", ""]
    if spec.get("description"):
        out += [f"The space file's description: {spec['description']}", ""]
    out += [f"What was run: method **{m}**, n = {spec['n']}, {spec['seeds']} seed(s) per design point (outcomes averaged over "
            f"seeds before the analysis), {spec['years']} years, root seed {spec['root_seed']}.", ""]
    out += ["| parameter | range / levels | scenarios |", "|---|---|---|"]
    for p in spec["parameters"]:
        if "levels" in p:
            rng = "levels " + ", ".join(map(str, p["levels"]))
        elif p["kind"] == "int":
            rng = f"whole numbers {p['bounds'][0]:g} .. {p['bounds'][1]:g}, equally likely"
        else:
            rng = f"{p['distribution']} {p['bounds'][0]:g} .. {p['bounds'][1]:g}"
        out.append(f"| {p['name']} | {rng} | {', '.join(p['scenarios'])} |")
    if spec.get("fixed"):
        out += ["", "Fixed in every run: " + ", ".join(f"{k} = {v}" for k, v in spec["fixed"].items())]
    cols = {"sobol": "ST ± CI | S1 ± CI", "fast": "ST ± CI | S1 ± CI", "morris": "mu* ± CI | sigma",
            "lhs": "PRCC [CI] | Spearman"}[m]
    for (scen, outcome), table in result.tables.items():
        out += ["", f"## {scen} — {outcome}", "", f"| rank | parameter | {cols} |", "|---|---|---|---|"]
        for _, r in table.iterrows():
            if m in ("sobol", "fast"):
                cells = f"{r['ST']:.3f} ± {r['ST_conf']:.3f} | {r['S1']:.3f} ± {r['S1_conf']:.3f}"
            elif m == "morris":
                cells = f"{r['mu_star']:.4g} ± {r['mu_star_conf']:.3g} | {r['sigma']:.4g}"
            else:
                cells = f"{r['prcc']:+.3f} [{r['prcc_low']:+.3f}, {r['prcc_high']:+.3f}] | {r['spearman']:+.3f}"
            out.append(f"| {int(r['rank'])} | {r['parameter']} | {cells} |")
        fig = f"figures/{m}_{_safe(scen)}_{_safe(outcome)}.png"
        if (result.folder / fig).is_file():
            out += ["", f"![{outcome}]({fig})"]
    if result.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(out) + "\n"
