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
import math
from pathlib import Path

from .differences import Difference, common_seeds, paired_difference, reference_scenario, welch_difference
from .figures import figure_files, scenario_order

from commissim.model.measures import MEASURE_BY_NAME

__all__ = ["HEADLINE_MEASURES", "CONSOLE_MEASURES", "WHOLE_RUN_MEASURES", "summary_table", "headline_text",
           "write_report", "difference"]

# The measures a comparison reports (labels, units and formats from the model's measure
# registry, commissim.model.measures.MEASURES); shown when the results hold them.
HEADLINE_MEASURES = ("providers_destabilised", "max_providers_destabilised", "providers_needing_support",
                     "trust_sector_margin", "specialist_trust_margin", "provider_sector_surplus",
                     "cumulative_lines_withdrawn", "local_services_started", "out_of_area_income_change",
                     "income_change_p10", "unmet_need_share", "access_gini", "out_of_area_share", "extra_travel_km",
                     "below_min_volume_activity", "icb_sector_deficit", "cumulative_revenue_support",
                     "cumulative_returned", "cumulative_diverted", "total_spend")
# Over the whole run (run totals and peaks), with their differences from the reference.
WHOLE_RUN_MEASURES = ("max_providers_destabilised", "cumulative_lines_withdrawn", "lines_withdrawn_financial",
                      "local_services_started", "cumulative_revenue_support", "cumulative_returned",
                      "cumulative_diverted", "cumulative_stabilisation")
# The few printed by ``commissim compare`` (one column each).
CONSOLE_MEASURES = ("providers_destabilised", "trust_sector_margin", "cumulative_lines_withdrawn",
                    "out_of_area_income_change", "access_gini", "unmet_need_share")


def _measures(summaries, measures=HEADLINE_MEASURES) -> list[str]:
    return [m for m in measures if m in summaries.columns]


def _curve_measures() -> tuple[str, ...]:
    from commissim.model.measures import CURVE_MEASURES

    return CURVE_MEASURES


def summary_table(summaries, manifest: dict, measures=HEADLINE_MEASURES):
    """Per scenario and measure (default the headline measures): n, mean, sd, 5% and 95% of runs
    (a tidy DataFrame)."""
    import pandas as pd

    rows = []
    for scen in scenario_order(manifest, summaries["scenario"].unique()):
        d = summaries[summaries["scenario"] == scen]
        for m in _measures(summaries, measures):
            v = d[m].dropna()
            if v.empty:
                continue
            rows.append({"scenario": scen, "measure": m, "n": len(v), "mean": v.mean(), "sd": v.std(ddof=1),
                         # nearest: the range shows values runs actually produced (counts stay whole)
                         "p5": v.quantile(0.05, interpolation="nearest"),
                         "p95": v.quantile(0.95, interpolation="nearest")})
    return pd.DataFrame(rows)


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
    """``+0.5 (-0.1 to +1.1)``; ``0 (the same in every run)`` when no run differs."""
    if d.estimate == 0 and d.low == 0 and d.high == 0:
        return "0 (the same in every run)"
    mark = "**" if d.clear else ""
    return f"{mark}{signed(m, d.estimate)}{mark} ({signed(m, d.low)} to {signed(m, d.high)})"


def _verdict(d: Difference, more: str, fewer: str, ref: str) -> str:
    if d.low > 0:
        return f"{more} than `{ref}`"
    if d.high < 0:
        return f"{fewer} than `{ref}`"
    return f"no clear difference from `{ref}` (the interval includes zero)"


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
        if m not in summaries.columns:
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
    from commissim.model.finance import DESTAB_THRESHOLDS
    from commissim.model.measures import CURVE_MEASURES

    present = [c for c in CURVE_MEASURES if c in summaries.columns]
    if not present:
        return ""
    scenarios = scenario_order(manifest, summaries["scenario"].unique())
    head = "| deficit threshold (% of turnover) | " + " | ".join(f"`{s}`" for s in scenarios) + " |"
    lines = [head, "|" + "---|" * (len(scenarios) + 1)]
    for x, c in zip(DESTAB_THRESHOLDS, CURVE_MEASURES):
        if c not in present:
            continue
        cells = []
        for s in scenarios:
            v = summaries.loc[summaries["scenario"] == s, c].dropna()
            cells.append("" if v.empty else f"{_fmt(c, v.mean())} ({_fmt(c, v.quantile(0.05, interpolation='nearest'))}"
                                            f"–{_fmt(c, v.quantile(0.95, interpolation='nearest'))})")
        lines.append(f"| {x * 100:g}% | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _table(summaries, manifest: dict, measures) -> str:
    """Markdown: one row per measure, one column per scenario: mean (5% to 95% of runs)."""
    table = summary_table(summaries, manifest, measures)
    if table.empty:
        return "(no finished runs)"
    measures = [m for m in measures if m in set(table["measure"])]
    scenarios = list(dict.fromkeys(table["scenario"]))
    head = "| measure | unit | " + " | ".join(scenarios) + " |"
    lines = [head, "|" + "---|" * (len(scenarios) + 2)]
    for m in measures:
        cells = []
        for s in scenarios:
            r = table[(table["scenario"] == s) & (table["measure"] == m)]
            cells.append("" if r.empty else
                         f"{_fmt(m, r['mean'].iloc[0])} ({_fmt(m, r['p5'].iloc[0])} to {_fmt(m, r['p95'].iloc[0])})")
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
    for s in scenarios:
        cells = []
        for m in key:
            r = table[(table["scenario"] == s) & (table["measure"] == m)]
            cells.append(f"{'' if r.empty else f'{_fmt(m, r['mean'].iloc[0])} [{_fmt(m, r['p5'].iloc[0])}, {_fmt(m, r['p95'].iloc[0])}]':>30}")
        lines.append(s.ljust(width) + "".join(cells))
    lines.append("mean over seeds [5% and 95% of runs], final year")
    return "\n".join(lines)


def _sentences(summaries, manifest: dict, final_year: str) -> list[str]:
    """Findings computed from the numbers: ranking and differences from the reference scenario."""
    out: list[str] = []
    scenarios = scenario_order(manifest, summaries["scenario"].unique())
    if not scenarios:
        return out
    ref = reference_scenario(scenarios)
    paired = common_seeds(manifest)
    base = summaries[summaries["scenario"] == ref]
    for m, more, fewer in (
        ("providers_destabilised", "more", "fewer"),
        ("cumulative_lines_withdrawn", "more", "fewer"),
        ("trust_sector_margin", "higher", "lower"),
        ("out_of_area_income_change", "higher", "lower"),
        ("access_gini", "higher", "lower"),
        ("unmet_need_share", "higher", "lower"),
    ):
        if m not in summaries.columns:
            continue
        label = MEASURE_BY_NAME[m].label
        u, u_pts = _unit_words(m)
        means = summaries.groupby("scenario")[m].mean().reindex(scenarios).dropna()
        if means.empty:
            continue
        top, low = means.idxmax(), means.idxmin()
        b = base[m].dropna()
        if _fmt(m, means[top]) == _fmt(m, means[low]):
            out.append(f"**{label}** in {final_year}: {_fmt(m, means[top])}{u} on average under every scenario "
                       "(at the precision shown).")
            continue
        sent = (f"**{label}** in {final_year}: highest under `{top}` (mean {_fmt(m, means[top])}{u}), "
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
            bullets.append(f"  - `{s}`: {signed(m, d.estimate)}{u_pts} (90% CI {signed(m, d.low)} to "
                           f"{signed(m, d.high)}): {_verdict(d, more, fewer, ref)}")
        out.append(sent + ("\n" + "\n".join(bullets) if bullets else ""))
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
    summaries = pd.read_parquet(summ_file) if summ_file.is_file() else pd.DataFrame(columns=["scenario"])
    counts = manifest.get("counts", {})
    scenarios = [d["scenario"] for d in manifest.get("design", [])]
    versions = manifest.get("versions", {})

    lines = [
        f"# Scenario comparison: {', '.join(scenarios)}",
        "",
        "## Configuration",
        "",
        f"- Scenarios: {', '.join(f'`{s}`' for s in scenarios)}",
        f"- Seeds per scenario: {cfg.get('replicates')}; root seed {cfg.get('root_seed')} "
        + ("(the same seeds in every scenario: common random numbers; " if cfg.get("common_seeds") else "(")
        + "per-run seeds in `manifest.json` and `summaries.parquet`)",
        f"- Years: {years} funding rounds, {year_label(0)} (base year) to {final_year}",
        f"- Runs: {counts.get('done', 0)} finished, {counts.get('failed', 0)} failed, of {counts.get('runs', 0)}",
        "- Parameter overrides (every scenario): "
        + (", ".join(f"`{k}={v}`" for k, v in (manifest.get("overrides") or {}).items()) or "none (scenario defaults)"),
        f"- commissim {versions.get('commissim', '?')}, Mesa {versions.get('mesa', '?')}, "
        f"Python {versions.get('python', '?')}; git commit {manifest.get('git_commit') or 'unknown'}",
        f"- Started {manifest.get('started')}, finished {manifest.get('finished')}",
        "",
    ]
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
            f"## Headline measures in {final_year}",
            "",
            "Mean over seeds (5% to 95% of runs).",
            "",
            headline_text(summaries, manifest, markdown=True),
            "",
            f"## Differences from `{ref}` in {final_year}",
            "",
            f"Mean difference from `{ref}` (90% interval); **bold**: the interval excludes zero. Differences of "
            "shares and percentage changes are in percentage points (pp).",
            "",
            differences_table(summaries, manifest, HEADLINE_MEASURES),
            "",
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
                differences_table(summaries, manifest, [c for c in _curve_measures() if c in summaries.columns]),
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
    present = [(f, t) for f, t in figure_files(folder) if f != "destabilisation_curve.png"]
    if present:
        lines += ["## Figures", ""]
        for f, t in present:
            lines += [f"### {t}", "", f"![{t}](figures/{f})", ""]
    lines += [
        "## Files",
        "",
        "- `summaries.parquet` / `summaries.csv`: one row per run (end-of-run measures, seed, parameters)",
        "- `series.parquet` / `series.csv`: one row per run and financial year",
        "- `providers.parquet` / `providers.csv`: end-of-run income change per provider and run",
        "- `icbs.parquet` / `icbs.csv`: end-of-run access rate, budget change and out-of-area spend change per ICB "
        "and run",
        "- `manifest.json`: configuration, per-run seeds, versions, git commit, times",
        "- load them with `experiments/load_results.py` or `commissim.experiments.batch.load_results`",
        "",
    ]
    path = folder / "report.md"
    atomic.write_text(path, "\n".join(lines))
    return path
