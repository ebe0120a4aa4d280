"""Markdown reports of a scenario-discovery result and a policy-search result.

Each report opens with the sentence an analyst can quote, then the tables, the method
and its settings, and the caveats. Figures (name -> path, as the ``make_*_figures``
functions of :mod:`experiments.discovery.figures` return them) are linked relative to
``relative_to`` when given.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .prim import _num, _pct

__all__ = ["discovery_report", "search_report"]

SIGNIFICANT = 0.05


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "" if isinstance(v, float) and math.isnan(v) else _num(v)
    return str(v).replace("|", "\\|")


def _table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def _qp(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.1e}" if v < 0.001 else f"{v:.3f}"


def _figures(figures: Mapping[str, Path] | None, relative_to: str | Path | None, captions: Mapping[str, str]) -> str:
    if not figures:
        return ""
    lines = ["## Figures", ""]
    for name, path in figures.items():
        p = Path(path)
        if relative_to is not None:
            p = Path(os.path.relpath(p, relative_to))
        lines.append(f"- {captions.get(name, name)}: [{p.as_posix()}]({p.as_posix()})")
    return "\n".join(lines) + "\n"


def _frontier(tr: pd.DataFrame) -> np.ndarray:
    """Boxes that no other box beats on both coverage and density."""
    cov, den = tr["coverage"].to_numpy(), tr["density"].to_numpy()
    keep = np.ones(len(tr), dtype=bool)
    for i in range(len(tr)):
        keep[i] = not np.any((cov >= cov[i]) & (den >= den[i]) & ((cov > cov[i]) | (den > den[i])))
    return keep


def discovery_report(
    result,
    *,
    figures: Mapping[str, Path] | None = None,
    relative_to: str | Path | None = None,
    title: str | None = None,
    max_trajectory_rows: int = 15,
) -> str:
    """Markdown for a DiscoveryResult (PRIM and its CART cross-check)."""
    p, cart = result.prim, result.cart
    lines = [f"# {title or 'Scenario discovery: ' + p.case_label}", "", f"**{p.finding}**", ""]
    what = (
        f"{p.outcome} {p.direction} {_num(p.threshold)}" if p.direction is not None else f"{p.outcome} is true"
    )
    lines += [
        f"A case of interest is a run where {what}: {p.n_cases} of {p.n_runs} runs "
        f"({_pct(p.base_rate)}, the base rate). The box was chosen "
        + ("by the knee rule." if p.chosen_by == "knee" else f"by request (box {p.chosen})."),
        "",
        "## The box",
        "",
        _table(
            ["box", "coverage", "density", "mass", "runs in box", "cases in box", "restricted inputs"],
            [[p.chosen, f"{p.coverage:.3f}", f"{p.density:.3f}", f"{p.mass:.3f}",
              int(p.trajectory.loc[p.chosen, "n_runs"]), int(p.trajectory.loc[p.chosen, "n_cases"]), len(p.limits)]],
        ),
        "",
    ]
    if p.limits:
        rows = []
        for lim in p.limits:
            unit = lim.unit
            if lim.kind == "categorical":
                lo, hi, qps = "", "is " + ", ".join(map(str, lim.categories)), _qp(lim.qp_categories)
            else:
                lo = "" if lim.lower is None else _num(lim.lower)
                hi = "" if lim.upper is None else _num(lim.upper)
                qps = " / ".join(x for x in (_qp(lim.qp_lower), _qp(lim.qp_upper)) if x)
            note = "" if lim.quasi_p <= SIGNIFICANT else f"quasi-p > {SIGNIFICANT}: may describe noise"
            rows.append([lim.name, unit, p.kinds[lim.name], lo, hi, qps, note])
        lines += [
            "Limits (inclusive; the smallest/largest sampled value inside the box). Quasi-p-values: "
            "one-sided binomial test that the limit matters (Bryant & Lempert 2010); lower is stronger.",
            "",
            _table(["input", "unit", "type", "at least", "at most / categories", "quasi-p", "note"], rows),
            "",
        ]
    tr = p.trajectory
    front = _frontier(tr)
    show = tr[front | (tr["box"] == p.chosen)]
    if len(show) > max_trajectory_rows:
        idx = np.unique(np.r_[np.linspace(0, len(show) - 1, max_trajectory_rows - 1).round().astype(int),
                              np.flatnonzero(show["box"].to_numpy() == p.chosen)])
        show = show.iloc[idx]
    lines += [
        "## Peeling trajectory (excerpt)",
        "",
        f"{len(tr)} boxes in all; shown: the boxes no other box beats on both coverage and density "
        f"({int(front.sum())}), at most {max_trajectory_rows}, and the chosen one (marked *).",
        "",
        _table(
            ["box", "coverage", "density", "mass", "restricted", "inputs"],
            [[f"{int(r.box)}{' *' if r.box == p.chosen else ''}", f"{r.coverage:.3f}", f"{r.density:.3f}",
              f"{r.mass:.3f}", int(r.res_dim), r.restricted] for r in show.itertuples()],
        ),
        "",
        "## CART cross-check",
        "",
    ]
    case_rules = cart.case_rules
    if case_rules:
        agree = (
            "Its strongest rule for cases of interest uses the same inputs as the PRIM box."
            if result.cart_agrees
            else "Its strongest rule for cases of interest uses other inputs than the PRIM box: read both with care."
        )
        lines += [
            f"A classification tree (depth {cart.max_depth}, balanced class weights) labels runs with "
            f"accuracy {cart.accuracy:.3f}, recall {cart.recall:.3f} and precision {cart.precision:.3f} "
            f"(in-sample). {agree}",
            "",
            _table(
                ["rule (leaf predicts a case of interest)", "runs", "cases", "density", "coverage"],
                [[" and ".join(map(str, r.conditions)) or "(all runs)", r.n_runs, r.n_cases,
                  f"{r.density:.3f}", f"{r.coverage:.3f}"] for r in case_rules],
            ),
            "",
        ]
    else:
        lines += ["The tree predicts no leaf as a case of interest: it finds no rule for them.", ""]
    lines += ["<details><summary>The whole tree</summary>", "", "```", cart.text.rstrip(), "```", "", "</details>", ""]
    lines.append(_figures(figures, relative_to, {
        "peeling": "Peeling trajectory (coverage vs density)",
        "box_scatter": "The box on its restricted inputs",
        "cart": "CART tree",
    }))
    s = p.settings
    lines += [
        "## Method and settings",
        "",
        f"- PRIM: {s.get('library')}, peel_alpha {s.get('peel_alpha')}, paste_alpha {s.get('paste_alpha')}, "
        f"mass_min {s.get('mass_min')}, objective {s.get('objective')}; one box (the first PRIM finds).",
        "- Knee rule: the box farthest above the chord from the whole sample (coverage 1, base-rate density) "
        "to the densest box, in coverage/density units; ties to fewer restricted inputs, then higher coverage; "
        "with no box above the chord, the highest harmonic mean of coverage and density.",
        f"- CART: {cart.settings.get('library')}, max_depth {cart.max_depth}, class_weight balanced, "
        f"min_samples_leaf {cart.settings.get('min_samples_leaf')}; categorical inputs one-hot.",
        f"- Inputs ({len(p.inputs)}): {', '.join(p.inputs)}."
        + (f" Dropped as constant: {', '.join(p.dropped_inputs)}." if p.dropped_inputs else ""),
        "",
        "## Caveats",
        "",
        "- PRIM boxes describe the sample, not causality: coverage and density are measured on the runs drawn, "
        "and a box says where cases of interest concentrate in the inputs sampled, over the ranges sampled.",
        "- Limits are sample values; the true threshold lies between a limit and the nearest run outside the box.",
        "- A limit with a quasi-p-value above 0.05 may describe noise; a box with many restricted inputs may "
        "overfit (compare the trajectory's simpler boxes).",
        "- The CART scores are in-sample; they check PRIM's choice of inputs, not its accuracy on new runs.",
        "",
    ]
    return "\n".join(lines)


def search_report(
    result,
    *,
    figures: Mapping[str, Path] | None = None,
    relative_to: str | Path | None = None,
    title: str | None = None,
    max_rows: int = 30,
) -> str:
    """Markdown for a SearchResult."""
    r = result
    lines = [f"# {title or 'Robust policy search'}", "", f"**{r.finding}**", ""]
    lever_cols = [lv.name for lv in r.levers]
    obj_cols = [o.key for o in r.objectives]
    con_cols = [c.key for c in r.constraints if c.key not in obj_cols]
    if r.cheapest is not None:
        row = r.cheapest
        lines += [
            "## Cheapest feasible policy",
            "",
            _table(["", *lever_cols, *obj_cols, *con_cols],
                   [[f"candidate {int(row['candidate'])}", *[row[c] for c in lever_cols + obj_cols + con_cols]]]),
            "",
        ]
    lines += ["## Pareto set", ""]
    if len(r.pareto):
        pareto = r.pareto
        if r.cost is not None:
            pareto = pareto.sort_values([r.cost, "candidate"])
        shown = pareto.head(max_rows)
        lines += [
            f"{len(r.pareto)} feasible policies that no other feasible policy beats on every objective"
            + (f" (sorted by {r.cost}; first {max_rows} shown)" if len(pareto) > max_rows else "")
            + ".",
            "",
            _table(["candidate", *lever_cols, *obj_cols, *con_cols],
                   [[int(x["candidate"]), *[x[c] for c in lever_cols + obj_cols + con_cols]]
                    for _, x in shown.iterrows()]),
            "",
        ]
    else:
        lines += [f"No evaluated policy (of {len(r.candidates)}) meets every constraint.", ""]
    lines.append(_figures(figures, relative_to, {"pareto": "Pareto set, parallel coordinates"}))
    s = r.settings
    lever_lines = []
    for lv in r.levers:
        if lv.kind in ("float", "int"):
            rng = f"{_num(lv.low)} to {_num(lv.high)}" + (" (log scale)" if lv.log else "")
        else:
            rng = ", ".join(map(str, lv.levels if lv.levels is not None else lv.categories))
        unit = f" {lv.unit}" if lv.unit else ""
        lever_lines.append(f"  - {lv.name} ({lv.kind}{unit}): {rng}")
    lines += [
        "## Method and settings",
        "",
        f"- Optimiser: {s.get('library')}, {s.get('sampler')}, seed {s.get('seed')}; "
        f"{s.get('batches')} batches of {s.get('batch_size')} candidates ({len(r.candidates)} evaluated; "
        f"{r.n_resumed} read back from saved state, {r.n_evaluated} evaluated in this call).",
        f"- Every candidate was run on the same {r.n_members} ensemble members with the same seeds "
        "(common random numbers).",
        "- Levers:",
        *lever_lines,
        "- Objectives: " + "; ".join(
            f"{o.direction} {o.name} (the lever's value)" if o.name in lever_cols
            else f"{o.direction} {o.aggregate} of {o.name} over the ensemble" for o in r.objectives)
        + f" (percentiles: {s.get('percentiles')}).",
        "- Constraints: " + ("; ".join(map(str, r.constraints)) if r.constraints else "none") + ".",
        "- Pareto set: candidates meeting every constraint that no other such candidate dominates "
        "(at least as good on every objective, better on one).",
        *([f"- State: {r.state_path} (an interrupted search resumes from it)."] if r.state_path else []),
        "",
        "## Caveats",
        "",
        "- The Pareto set is among the candidates evaluated: a search of this size approximates the true "
        "trade-off, it does not prove a policy optimal.",
        f"- Robustness is measured over the {r.n_members} ensemble members drawn, not over every possible future; "
        "an aggregate such as a 90th percentile over few members is coarse.",
        "- Objective values come from the model's runs: they inherit the model's assumptions.",
        "",
    ]
    return "\n".join(lines)
