"""The Markdown report of a results folder, and the headline table printed by ``compare``.

Every sentence is computed from the numbers in ``summaries.parquet``: a headline
measure's mean over seeds with the 5-95% range of runs, and each scenario's
difference from the reference scenario (``nhse_direct`` when present) with a 90%
interval. Scenarios are run with common random numbers (replicate r of every scenario
has the same seed), so differences are paired by seed: the mean of the per-seed
differences with its t interval (:mod:`.differences`; a folder without common seeds falls
back to Welch's interval). A difference whose interval includes zero is reported as no
clear difference. The report also gives the destabilisation curve across deficit
thresholds and the measures over the whole run (cumulative), each with its differences.
"""

from __future__ import annotations

import json
from pathlib import Path

from .differences import (
    VERDICTS,
    Difference,
    common_seeds,
    interval_numbers,
    paired_difference,
    reference_scenario,
    verdict,
    spread_sources,
    welch_difference,
    when,
    with_unit,
)
from .figures import figure_files, relabel, scenario_order
from .findings import findings

from commissim.model.measures import MEASURE_BY_NAME

__all__ = ["HEADLINE_MEASURES", "CONSOLE_MEASURES", "WHOLE_RUN_MEASURES", "summary_table", "headline_text",
           "write_report", "difference"]

# The measures a comparison reports (labels, units and formats from the model's measure
# registry, commissim.model.measures.MEASURES); shown when the results hold them.
HEADLINE_MEASURES = ("providers_destabilised", "max_providers_destabilised", "providers_needing_support",
                     "trust_sector_margin", "specialist_trust_margin", "provider_sector_surplus",
                     "lines_withdrawn", "local_services_started", "out_of_area_income_change",
                     "income_change_p10", "unmet_need_share", "access_gini", "out_of_area_share", "extra_travel_km",
                     "below_min_volume_activity", "icb_sector_deficit", "cumulative_revenue_support",
                     "cumulative_returned", "cumulative_diverted", "total_spend")
# Over the whole run (run totals and peaks), with their differences from the reference.
WHOLE_RUN_MEASURES = ("max_providers_destabilised", "lines_withdrawn", "lines_withdrawn_financial",
                      "local_services_started", "cumulative_revenue_support", "cumulative_returned",
                      "cumulative_diverted", "cumulative_stabilisation")
# The few printed by ``commissim compare`` (one column each).
CONSOLE_MEASURES = ("providers_destabilised", "trust_sector_margin", "lines_withdrawn",
                    "out_of_area_income_change", "access_gini", "unmet_need_share")


def _measures(summaries, measures=HEADLINE_MEASURES) -> list[str]:
    """The measures the results hold and the registry describes (a renamed or removed measure is left out)."""
    return [m for m in measures if m in summaries.columns and m in MEASURE_BY_NAME]


def _curve_measures() -> tuple[str, ...]:
    from commissim.model.measures import CURVE_MEASURES

    return CURVE_MEASURES


def summary_table(summaries, manifest: dict, measures=HEADLINE_MEASURES):
    """Per scenario and measure (default the headline measures): n, mean, sd, 5% and 95% of runs
    (a tidy DataFrame)."""
    import numpy as np
    import pandas as pd

    rows = []
    scen = summaries["scenario"].to_numpy()
    present = _measures(summaries, measures)
    columns = {m: summaries[m].to_numpy(dtype=float) for m in present}
    for s in scenario_order(manifest, summaries["scenario"].unique()):
        here = scen == s
        for m in present:
            v = columns[m][here]
            v = v[~np.isnan(v)]
            if not len(v):
                continue
            # pandas' own arithmetic (numpy's, as pandas does it): the sd of one run is NaN
            sd = float(np.sqrt(((v - v.mean()) ** 2).sum() / (len(v) - 1))) if len(v) > 1 else float("nan")
            # the one quantile method of tables and figures (linear interpolation between runs)
            p5, p95 = np.quantile(v, [0.05, 0.95])
            rows.append({"scenario": s, "measure": m, "n": len(v), "mean": float(v.mean()), "sd": sd,
                         "p5": float(p5), "p95": float(p95)})
    return pd.DataFrame(rows)


def _cells(table) -> dict:
    """The rows of a :func:`summary_table` by (scenario, measure)."""
    return {(r["scenario"], r["measure"]): r for r in table.to_dict("records")}


def _fmt(m: str, x: float) -> str:
    return MEASURE_BY_NAME[m].number(x)


def difference(a, b) -> tuple[float, float, float] | None:
    """Difference in means ``mean(a) - mean(b)`` with its 90% confidence interval (Welch's t,
    for runs that do not share seeds; None if n < 2). Paired differences: :func:`.differences.paired_difference`."""
    d = welch_difference(a, b)
    return None if d is None else (d.estimate, d.low, d.high)


def signed(m: str, x: float) -> str:
    """A difference in the measure's format with its sign; one that rounds to zero is shown as 0 (no "-0.0")."""
    text = MEASURE_BY_NAME[m].number(x, signed=True)
    if not any(ch in "123456789" for ch in text):
        return text.lstrip("+-")
    return text


def difference_text(m: str, d: Difference) -> str:
    """``+0.5 (+0.1 to +1.1), higher``: the estimate, its 90% interval with enough digits to agree with the
    verdict, and the verdict (``negligible`` below the measure's resolution); ``0 (the same in every run)``
    when no run differs."""
    v = verdict(m, d)
    if v == "same":
        return "0 (the same in every run)"
    est, lo, hi = interval_numbers(m, d)
    word = {"unclear": "unclear"}.get(v, v)
    return f"{est} ({lo} to {hi}), {word}"


def _verdict(m: str, d: Difference, more: str, fewer: str, ref: str) -> str:
    v = verdict(m, d)
    if v == "higher":
        return f"{more} than `{ref}`"
    if v == "lower":
        return f"{fewer} than `{ref}`"
    if v == "negligible":
        res = MEASURE_BY_NAME[m].min_difference
        _, u_pts = _unit_words(m)
        return f"negligible (smaller than the {res:g}{u_pts} that matters)"
    return VERDICTS[v]


def _unit_words(m: str) -> tuple[str, str]:
    """(unit after a value, unit after a difference): '%' / ' percentage points' for shares."""
    unit = MEASURE_BY_NAME[m].unit
    u = unit if unit.startswith("%") else (f" {unit}" if unit else "")
    u_pts = (" percentage points" + unit[1:]) if unit.startswith("%") else u
    return u, u_pts


def differences_table(summaries, manifest: dict, measures) -> str:
    """Markdown: per measure, the reference's mean and each scenario's difference from it (90% interval)."""
    scenarios = scenario_order(manifest, summaries["scenario"].unique())
    ref = reference_scenario(scenarios)
    paired = common_seeds(manifest)
    others = [s for s in scenarios if s != ref]
    lines = ["| measure | unit | " + f"`{ref}` (mean) | " + " | ".join(f"`{s}` − `{ref}`" for s in others) + " |",
             "|" + "---|" * (len(others) + 3)]
    for m in measures:
        if m not in summaries.columns or m not in MEASURE_BY_NAME:
            continue
        base = summaries.loc[summaries["scenario"] == ref, m].dropna()
        if base.empty:
            continue
        cells = []
        for s in others:
            d = paired_difference(summaries, m, s, ref, paired=paired)
            cells.append("" if d is None else difference_text(m, d))
        unit = MEASURE_BY_NAME[m].unit
        dunit = ("pp" + unit[1:]) if unit.startswith("%") else unit
        lines.append(f"| {MEASURE_BY_NAME[m].label} | {unit} (differences: {dunit}) | {_fmt(m, base.mean())} | "
                     + " | ".join(cells) + " |" if dunit != unit else
                     f"| {MEASURE_BY_NAME[m].label} | {unit} | {_fmt(m, base.mean())} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_table(summaries, manifest: dict) -> str:
    """Markdown: providers destabilised at the end of the run at each deficit threshold, per scenario."""
    from commissim.model.measures import CURVE_MEASURES

    present = [c for c in CURVE_MEASURES if c in summaries.columns]
    if not present:
        return ""
    scenarios = scenario_order(manifest, summaries["scenario"].unique())
    head = "| deficit threshold (% of turnover) | " + " | ".join(f"`{s}`" for s in scenarios) + " |"
    lines = [head, "|" + "---|" * (len(scenarios) + 1)]
    for label, c in curve_groups(summaries):
        cells = []
        for s in scenarios:
            v = summaries.loc[summaries["scenario"] == s, c].dropna()
            cells.append("" if v.empty else f"{_fmt(c, v.mean())} ({_fmt(c, v.quantile(0.05))}"
                                            f"–{_fmt(c, v.quantile(0.95))})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_groups(summaries) -> list[tuple[str, str]]:
    """(threshold label, measure) per row of the destabilisation curve; consecutive thresholds whose counts are
    the same in every run share one row (``0.5% to 2% (the same in every run)``)."""
    import numpy as np

    from commissim.model.finance import DESTAB_THRESHOLDS
    from commissim.model.measures import CURVE_MEASURES

    groups: list[list[tuple[float, str]]] = []
    for x, c in zip(DESTAB_THRESHOLDS, CURVE_MEASURES):
        if c not in summaries.columns:
            continue
        if groups and np.array_equal(summaries[groups[-1][0][1]].to_numpy(dtype=float),
                                     summaries[c].to_numpy(dtype=float), equal_nan=True):
            groups[-1].append((x, c))
        else:
            groups.append([(x, c)])
    out = []
    for g in groups:
        first, last = g[0][0], g[-1][0]
        label = (f"{first * 100:g}%" if len(g) == 1
                 else f"{first * 100:g}% to {last * 100:g}% (the same in every run)")
        out.append((label, g[0][1]))
    return out


def _table(summaries, manifest: dict, measures) -> str:
    """Markdown: one row per measure, one column per scenario: mean (5% to 95% of runs)."""
    table = summary_table(summaries, manifest, measures)
    if table.empty:
        return "(no finished runs)"
    measures = [m for m in measures if m in set(table["measure"])]
    scenarios = list(dict.fromkeys(table["scenario"]))
    head = "| measure | unit | " + " | ".join(scenarios) + " |"
    lines = [head, "|" + "---|" * (len(scenarios) + 2)]
    by = _cells(table)
    for m in measures:
        cells = []
        for s in scenarios:
            r = by.get((s, m))
            cells.append("" if r is None else f"{_fmt(m, r['mean'])} ({_fmt(m, r['p5'])} to {_fmt(m, r['p95'])})")
        lines.append(f"| {MEASURE_BY_NAME[m].label} | {MEASURE_BY_NAME[m].unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def headline_text(summaries, manifest: dict, *, markdown: bool = True) -> str:
    """The headline comparison table as text (Markdown table, or plain for the console)."""
    if markdown:
        return _table(summaries, manifest, HEADLINE_MEASURES)
    table = summary_table(summaries, manifest)
    if table.empty:
        return "(no finished runs)"
    measures = [m for m in HEADLINE_MEASURES if m in set(table["measure"])]
    scenarios = list(dict.fromkeys(table["scenario"]))
    # Plain text for the terminal: one row per scenario, a few key measures, mean [5%, 95%].
    key = [m for m in CONSOLE_MEASURES if m in measures][:5] or measures[:5]
    width = max(len(s) for s in scenarios) + 2
    header = "scenario".ljust(width) + "".join(f"{MEASURE_BY_NAME[m].heading:>30}" for m in key)
    lines = [header]
    by = _cells(table)
    for s in scenarios:
        cells = []
        for m in key:
            r = by.get((s, m))
            cells.append(f"{'' if r is None else f'{_fmt(m, r['mean'])} [{_fmt(m, r['p5'])}, {_fmt(m, r['p95'])}]':>30}")
        lines.append(s.ljust(width) + "".join(cells))
    lines.append("mean over seeds [5% and 95% of runs], final year")
    return "\n".join(lines)


def _sentences(summaries, manifest: dict, final_year: str) -> list[str]:
    """Findings computed from the numbers: ranking and differences from the reference scenario."""
    from ..model_runs import year_label

    out: list[str] = []
    scenarios = scenario_order(manifest, summaries["scenario"].unique())
    if not scenarios:
        return out
    ref = reference_scenario(scenarios)
    paired = common_seeds(manifest)
    base = summaries[summaries["scenario"] == ref]
    for m, more, fewer in (
        ("providers_destabilised", "more", "fewer"),
        ("lines_withdrawn", "more", "fewer"),
        ("trust_sector_margin", "higher", "lower"),
        ("out_of_area_income_change", "higher", "lower"),
        ("access_gini", "higher", "lower"),
        ("unmet_need_share", "higher", "lower"),
    ):
        if m not in summaries.columns or m not in MEASURE_BY_NAME:
            continue
        label = MEASURE_BY_NAME[m].label
        span = when(m, final_year, year_label(1))
        u, u_pts = _unit_words(m)
        means = summaries.groupby("scenario")[m].mean().reindex(scenarios).dropna()
        if means.empty:
            continue
        top, low = means.idxmax(), means.idxmin()
        b = base[m].dropna()
        if _fmt(m, means[top]) == _fmt(m, means[low]):
            out.append(f"**{label}** {span}: {_fmt(m, means[top])}{u} on average under every scenario "
                       "(at the precision shown).")
            continue
        sent = (f"**{label}** {span}: highest under `{top}` (mean {_fmt(m, means[top])}{u}), "
                f"lowest under `{low}` (mean {_fmt(m, means[low])}{u})")
        if len(scenarios) > 1 and not b.empty:
            sent += f"; `{ref}` (reference) {_fmt(m, b.mean())}{u}."
        else:
            sent += "."
        bullets = []
        for s in scenarios:
            if s == ref or b.empty:
                continue
            d = paired_difference(summaries, m, s, ref, paired=paired)
            if d is None:
                continue
            if d.estimate == 0 and d.low == 0 and d.high == 0:
                bullets.append(f"  - `{s}`: the same as `{ref}` in every run")
                continue
            est, lo, hi = interval_numbers(m, d)
            bullets.append(f"  - `{s}`: {with_unit(m, est)} (90% CI {lo} to {hi}): {_verdict(m, d, more, fewer, ref)}")
        out.append(sent + ("\n" + "\n".join(bullets) if bullets else ""))
    return out


def _spread_section(summaries, manifest: dict, ref: str, final_year: str) -> list[str]:
    """With --posterior: how much of each difference's spread comes from the parameters and how much from seeds."""
    if not manifest.get("posterior") or "draw" not in summaries.columns:
        return []
    order = [s for s in scenario_order(manifest, summaries["scenario"].unique()) if s != ref]
    measures = _measures(summaries)
    lines = [f"## Where the spread of each difference comes from ({final_year})", "",
             f"Each difference from `{ref}` is paired by posterior draw and seed. Its spread (standard deviation "
             "over draws and seeds) is split into the share from the parameters (between draws, corrected for the "
             "seed noise a draw's mean still carries) and from the seeds (within a draw). With one seed per draw "
             "the two cannot be told apart (-).", "",
             "| scenario | measure | sd of the difference | from parameters | from seeds |", "|---|---|---|---|---|"]
    for sc in order:
        for m in measures:
            r = spread_sources(summaries, m, sc, ref)
            if r is None:
                continue
            par = "-" if r["parameters"] is None else f"{r['parameters']:.0%}"
            seed = "-" if r["seeds"] is None else f"{r['seeds']:.0%}"
            lines.append(f"| `{sc}` | {m} | {_fmt(m, r['total_sd'])} | {par} | {seed} |")
    return [*lines, ""]


GLOSSARY_TERMS = (
    ("reference", "the arrangement every other is compared with: `nhse_direct` (NHS England's regions commission "
                  "everything, the position before 2023) when it was run, else the first scenario."),
    ("fair-share path", "the baseline of every income change: a provider's (or all providers') base-year 2022-23 "
                        "specialised income grown by the tariff's price changes and by the demand growth of its "
                        "service mix. 0% means income kept pace with prices and demand; -3% means 3% less than that."),
    ("paired difference", "scenario minus reference for the same seed (common random numbers), averaged over seeds; "
                          "its 90% interval is a t interval of that mean. It reflects the model's random variation "
                          "only, not uncertainty in its assumptions."),
    ("resolution", "the smallest difference in a measure that matters (`commissim measures`); a difference smaller "
                   "than it is called negligible whatever its interval."),
    ("5% to 95% of runs", "the range of individual runs (linear interpolation between runs, the same in every table "
                          "and figure), not an interval of the mean."),
    ("pp", "percentage points: the difference between two percentages."),
)


def glossary(measures) -> list[str]:
    """Markdown: the terms the report uses, then each measure shown with its unit, definition and resolution."""
    out = ["## Glossary", ""]
    out += [f"- **{term}**: {text}" for term, text in GLOSSARY_TERMS]
    for name in dict.fromkeys(measures):
        m = MEASURE_BY_NAME.get(name)
        if m is None:
            continue
        res_unit = ("pp" + m.unit[1:]) if m.unit.startswith("%") else m.unit
        out.append(f"- **{m.label}** (`{m.name}`, {m.unit or 'index'}; resolution {m.min_difference:g} "
                   f"{res_unit}".rstrip() + f"): {m.definition}")
    return out + [""]


def _exposure_section(folder: Path, final_year: str) -> list[str]:
    """Markdown: the most exposed trusts and ICBs under the primary arrangement, and where every one is."""
    import pandas as pd

    from .exposure import EXPOSURE_FILE, ICB_EXPOSURE_FILE, exposure_table, icb_table, primary_scenario

    exp_file, icb_file = folder / EXPOSURE_FILE, folder / ICB_EXPOSURE_FILE
    if not exp_file.is_file() and not icb_file.is_file():
        return []
    out = [f"## Exposure by trust and by ICB, {final_year}", ""]
    if exp_file.is_file():
        exp = pd.read_csv(exp_file)
        scenario = primary_scenario(exp)
        if scenario is not None:
            ref = exp["reference"].iloc[0]
            out += [f"Each trust under `{scenario}` minus `{ref}`: mean over paired seeds (90% interval), the 15 "
                    "whose specialised income falls furthest first. Margin in £m and in percentage points of "
                    "turnover; years on cash support over the run; lines withdrawn by the end. Every trust under "
                    f"every arrangement: `{EXPOSURE_FILE}`.", "", exposure_table(exp, scenario), ""]
            if (folder / "figures" / "exposure_trusts.png").is_file():
                out += ["![The most exposed trusts](figures/exposure_trusts.png)", ""]
    if icb_file.is_file():
        icbs = pd.read_csv(icb_file)
        scenario = primary_scenario(icbs)
        if scenario is not None:
            ref = icbs["reference"].iloc[0]
            out += [f"Each ICB under `{scenario}` minus `{ref}` (percentage points; access in points of England's "
                    f"rate), the 10 whose spend out of area falls furthest first; every ICB in `{ICB_EXPOSURE_FILE}`.", "",
                    icb_table(icbs, scenario), ""]
    return out


def write_report(folder: str | Path, *, figures_ready=None) -> Path:
    """Write ``report.md`` for a results folder (atomically) and return its path.

    ``figures_ready``: called (once) before the report looks at which figures the folder holds,
    so the figures can be drawn elsewhere while the report's numbers are computed."""
    import pandas as pd

    waited = []

    def wait_for_figures() -> None:
        if figures_ready is not None and not waited:
            waited.append(True)
            figures_ready()

    from .. import atomic
    from ..model_runs import year_label

    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    cfg = manifest.get("config", {})
    years = cfg.get("years", 0)
    final_year = year_label(years)
    summ_file = folder / "summaries.parquet"
    summaries = relabel(pd.read_parquet(summ_file), manifest) if summ_file.is_file() else pd.DataFrame(columns=["scenario"])
    counts = manifest.get("counts", {})
    scenarios = list(dict.fromkeys(d["scenario"] for d in manifest.get("design", [])))
    grid = manifest.get("grid") or {}
    versions = manifest.get("versions", {})

    found = findings(folder)
    lines = [
        f"# Scenario comparison: {', '.join(scenarios)}",
        "",
        *(["## Findings", "", *[f"- {f}" for f in found], ""] if found else []),
        "## Configuration",
        "",
        f"- Scenarios: {', '.join(f'`{s}`' for s in scenarios)}",
        (f"- Seeds per scenario: {cfg.get('replicates')}; root seed {cfg.get('root_seed')} "
        + ("(the same seeds in every scenario: common random numbers; " if cfg.get("common_seeds") else "(")
        + "per-run seeds in `manifest.json` and `summaries.parquet`)"
        + (f"; {manifest['replicates_asked']} were asked for, and the folder holds {cfg.get('replicates')}, so "
           f"all {cfg.get('replicates')} are reported" if manifest.get("replicates_asked") else ""))
        if not manifest.get("posterior") else
        (f"- Runs per scenario: {manifest.get('draws')} posterior draws x {cfg.get('replicates')} seeds; root seed "
         f"{cfg.get('root_seed')} (the same draws and seeds in every scenario, so differences are paired by draw "
         "and seed and carry parameter uncertainty; per-run seeds and parameters in `manifest.json`)"),
        f"- Years: {years} funding rounds, {year_label(0)} (base year) to {final_year}",
        f"- Runs: {counts.get('done', 0)} finished, {counts.get('failed', 0)} failed, of {counts.get('runs', 0)}",
        *(["- Grid (every combination of these values, for every scenario, as BehaviorSpace runs it): "
           + "; ".join(f"`{k}` = {', '.join(map(str, v))}" for k, v in grid.items())
           + f" ({len(manifest.get('design', []))} design points; the reference is the first)"] if grid else []),
        "- Parameter overrides (every scenario): "
        + (", ".join(f"`{k}={v}`" for k, v in (manifest.get("overrides") or {}).items()) or "none (scenario defaults)"),
        f"- commissim {versions.get('commissim', '?')}, Mesa {versions.get('mesa', '?')}, "
        f"Python {versions.get('python', '?')}; git commit {manifest.get('git_commit') or 'unknown'}",
        f"- Started {manifest.get('started')}, finished {manifest.get('finished')}",
        "",
    ]
    if manifest.get("posterior"):
        lines += [f"**Over the posterior.** {manifest.get('posterior_note', '')}. Every result below is computed over "
                  "those draws; a parameter not informed by the record drives it at its prior.", ""]
    if counts.get("failed"):
        lines += [f"**{counts['failed']} runs failed** (see `failures.csv`); the numbers below use the "
                  "finished runs only. Run the same command again to retry them.", ""]
    if summaries.empty:
        lines += ["No run finished, so there is nothing to compare.", ""]
    else:
        ref = reference_scenario(scenario_order(manifest, summaries["scenario"].unique()))
        how = ("Scenarios share their seeds (common random numbers), so each difference from the reference is "
               "paired by seed: the 90% CIs are t intervals of the mean per-seed difference." if common_seeds(manifest)
               else "The 90% CIs are for the difference in means between scenarios (Welch's t over seeds).")
        lines += [
            "## Headline comparison",
            "",
            *[s + "\n" for s in _sentences(summaries, manifest, final_year)],
            f"Values are for {final_year} (the end of the run). {how} They reflect the model's random variation "
            "only, not uncertainty in its assumptions, which the sensitivity sweeps address. In the tables, "
            "brackets give the 5% and 95% of individual runs. Every scenario also drifts from the 2022-23 base "
            "year (demand grows unevenly across services), so compare scenarios with each other, not with the "
            "base year.",
            "",
            f"## Headline measures: {final_year}, and run totals and peaks over {year_label(1)} to {final_year}",
            "",
            "Mean over seeds (5% to 95% of runs).",
            "",
            headline_text(summaries, manifest, markdown=True),
            "",
            f"## Differences from `{ref}`: {final_year}, and run totals and peaks over {year_label(1)} to {final_year}",
            "",
            f"Mean difference from `{ref}` (90% interval) and the verdict: *higher* or *lower* when the interval "
            "excludes zero; *unclear* when it includes zero; *negligible* when the difference is smaller than the "
            "measure's resolution (the smallest difference that matters, listed by `commissim measures`), whatever "
            "its interval. Intervals carry as many digits as it takes to agree with the verdict. Differences of "
            "shares and percentage changes are in percentage points (pp).",
            "",
            differences_table(summaries, manifest, HEADLINE_MEASURES),
            "",
            *_spread_section(summaries, manifest, ref, final_year),
        ]
        curve = curve_table(summaries, manifest)
        if curve:
            lines += [
                f"## Providers destabilised across deficit thresholds, {final_year}",
                "",
                "How many providers count as destabilised depends on the deficit threshold (a deficit worse than "
                "the threshold, as a share of turnover, two years running; providers on cash support and those "
                "that withdrew a line for financial reasons count at every threshold). Mean over seeds (5% to "
                "95% of runs):",
                "",
                curve,
                "",
                differences_table(summaries, manifest, [c for _, c in curve_groups(summaries)]),
                "",
            ]
            wait_for_figures()
            if (folder / "figures" / "destabilisation_curve.png").is_file():
                lines += ["![Providers destabilised across deficit thresholds](figures/destabilisation_curve.png)",
                          ""]
        whole = [m for m in WHOLE_RUN_MEASURES if m in summaries.columns]
        if whole:
            lines += [
                f"## Over the whole run, {year_label(1)} to {final_year}",
                "",
                "Run totals and peaks: mean over seeds (5% to 95% of runs), then the differences from the "
                "reference.",
                "",
                _table(summaries, manifest, whole),
                "",
                differences_table(summaries, manifest, whole),
                "",
            ]
    wait_for_figures()
    lines += _exposure_section(folder, final_year)
    present = [(f, t) for f, t in figure_files(folder) if f not in ("destabilisation_curve.png", "exposure_trusts.png")]
    if present or not summaries.empty:
        from .figures import FOREST_MEASURES, constant_and_duplicate

        constant, duplicate = (constant_and_duplicate(summaries, [n for n in FOREST_MEASURES if n in MEASURE_BY_NAME])
                               if not summaries.empty else ({}, {}))
        notes = [f"- {MEASURE_BY_NAME[n].label}: {MEASURE_BY_NAME[n].text(v)} in every run of every scenario, so "
                 "it has no figure." for n, v in constant.items()]
        notes += [f"- {MEASURE_BY_NAME[n].label} is the same as {MEASURE_BY_NAME[t].label} in every run: drawn once, "
                  f"in the figure of {MEASURE_BY_NAME[t].label}." for n, t in duplicate.items()]
        if present or notes:
            lines += ["## Figures", "", *notes, *([""] if notes else [])]
    if present:
        for f, t in present:
            lines += [f"### {t}", "", f"![{t}](figures/{f})", ""]
    if not summaries.empty:
        from .findings import FINDING_MEASURES

        shown = [m for m in (*FINDING_MEASURES, *HEADLINE_MEASURES, *WHOLE_RUN_MEASURES) if m in summaries.columns]
        lines += glossary(shown)
    lines += [
        "## Files",
        "",
        "- `summaries.parquet` / `summaries.csv`: one row per run (end-of-run measures, seed, parameters)",
        "- `series.parquet` / `series.csv`: one row per run and financial year",
        "- `providers.parquet` / `providers.csv`: end-of-run income change per provider and run",
        "- `icbs.parquet` / `icbs.csv`: end-of-run access rate, budget change and out-of-area spend change per ICB "
        "and run",
        "- `provider_values.parquet` / `.csv`: end-of-run specialised and out-of-area income, surplus, margin, "
        "turnover (£m), years on cash support and lines withdrawn per provider and run",
        "- `exposure.csv` / `exposure_icbs.csv`: every trust and ICB, each arrangement minus the reference "
        "(paired mean and 90% interval)",
        "- `manifest.json`: configuration, per-run seeds, versions, git commit, times",
        "- load them with `experiments/load_results.py` or `commissim.experiments.batch.load_results`",
        "",
    ]
    path = folder / "report.md"
    atomic.write_text(path, "\n".join(lines))
    return path
