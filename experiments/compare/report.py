"""The Markdown report of a results folder, and the headline table printed by ``compare``.

Every sentence is computed from the numbers in ``summaries.parquet``: a headline
measure's mean over seeds with the 5-95% range of runs, and each scenario's
difference from the reference scenario (``nhse_direct`` when present) with a 90%
confidence interval of the difference in means (Welch's t interval: the two groups'
standard errors and the Welch-Satterthwaite degrees of freedom, as seeds are independent
between scenarios, so a few seeds give honest, wide intervals). A difference whose
interval includes zero is reported as no clear difference.
"""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

from .figures import FIGURES, scenario_order

from commissim.model.measures import MEASURE_BY_NAME

__all__ = ["HEADLINE_MEASURES", "CONSOLE_MEASURES", "summary_table", "headline_text", "write_report", "difference"]

# The measures a comparison reports (labels, units and formats from the model's measure
# registry, commissim.model.measures.MEASURES); shown when the results hold them.
HEADLINE_MEASURES = ("providers_destabilised", "max_providers_destabilised", "providers_needing_support",
                     "trust_sector_margin", "specialist_trust_margin", "provider_sector_surplus",
                     "cumulative_lines_withdrawn", "local_services_started", "out_of_area_income_change",
                     "income_change_p10", "unmet_need_share", "access_gini", "out_of_area_share", "extra_travel_km",
                     "below_min_volume_activity", "icb_sector_deficit", "cumulative_revenue_support",
                     "cumulative_returned", "cumulative_diverted", "total_spend")
# The few printed by ``commissim compare`` (one column each).
CONSOLE_MEASURES = ("providers_destabilised", "trust_sector_margin", "cumulative_lines_withdrawn",
                    "out_of_area_income_change", "access_gini", "unmet_need_share")


def _measures(summaries) -> list[str]:
    return [m for m in HEADLINE_MEASURES if m in summaries.columns]


def summary_table(summaries, manifest: dict):
    """Per scenario and headline measure: n, mean, sd, 5% and 95% of runs (a tidy DataFrame)."""
    import pandas as pd

    rows = []
    for scen in scenario_order(manifest, summaries["scenario"].unique()):
        d = summaries[summaries["scenario"] == scen]
        for m in _measures(summaries):
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
    so small numbers of seeds give honest, wide intervals; None if n < 2)."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.special import stdtrit  # Student's t quantile (what scipy.stats.t.ppf calls; a lighter import)

    d = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return d, d, d
    df = (va + vb) ** 2 / ((va**2 / (len(a) - 1) if va else 0.0) + (vb**2 / (len(b) - 1) if vb else 0.0))
    t = float(stdtrit(df, 0.95))
    return d, d - t * se, d + t * se


def headline_text(summaries, manifest: dict, *, markdown: bool = True) -> str:
    """The headline comparison table as text (Markdown table, or plain for the console)."""
    table = summary_table(summaries, manifest)
    if table.empty:
        return "(no finished runs)"
    measures = [m for m in HEADLINE_MEASURES if m in set(table["measure"])]
    scenarios = list(dict.fromkeys(table["scenario"]))
    if markdown:
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
    ref = "nhse_direct" if "nhse_direct" in scenarios else scenarios[0]
    base = summaries[summaries["scenario"] == ref]
    for m, what, more, fewer in (
        ("providers_destabilised", "providers destabilised", "more", "fewer"),
        ("services_withdrawn", "service lines withdrawn", "more", "fewer"),
        ("access_gini", "inequality of access between ICBs (Gini)", "higher", "lower"),
        ("out_of_area_share", "out-of-area share of spend", "higher", "lower"),
    ):
        if m not in summaries.columns:
            continue
        label, unit = MEASURE_BY_NAME[m].label, MEASURE_BY_NAME[m].unit
        u = unit if unit.startswith("%") else (f" {unit}" if unit else "")
        u_pts = " percentage points" if unit.startswith("%") else u
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
            a = summaries.loc[summaries["scenario"] == s, m].dropna()
            diff = difference(a, b)
            if diff is None:
                continue
            d, lo, hi = diff
            if lo > 0:
                verdict = f"{more} than `{ref}`"
            elif hi < 0:
                verdict = f"{fewer} than `{ref}`"
            else:
                verdict = f"no clear difference from `{ref}` (the interval includes zero)"
            sign = partial(MEASURE_BY_NAME[m].number, signed=True)
            bullets.append(f"  - `{s}`: {sign(d)}{u_pts} (90% CI {sign(lo)} to {sign(hi)}): {verdict}")
        out.append(sent + ("\n" + "\n".join(bullets) if bullets else ""))
    return out


def write_report(folder: str | Path) -> Path:
    """Write ``report.md`` for a results folder (atomically) and return its path."""
    import pandas as pd

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
        "(per-run seeds in `manifest.json` and `summaries.parquet`)",
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
        lines += [
            "## Headline comparison",
            "",
            *[s + "\n" for s in _sentences(summaries, manifest, final_year)],
            f"Values are for {final_year} (the end of the run). The 90% CIs are for the difference in means "
            "between scenarios (Welch's t over seeds): they reflect the model's random variation only, not "
            "uncertainty in its assumptions, which the sensitivity sweeps address. In the table, brackets give "
            "the 5% and 95% of individual runs. Every scenario also drifts from the 2022-23 base year (demand "
            "grows unevenly across services), so compare scenarios with each other, not with the base year.",
            "",
            f"## Headline measures in {final_year}",
            "",
            "Mean over seeds (5% to 95% of runs).",
            "",
            headline_text(summaries, manifest, markdown=True),
            "",
        ]
    present = [(f, t) for f, t in FIGURES.items() if (folder / "figures" / f).is_file()]
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
        "- `manifest.json`: configuration, per-run seeds, versions, git commit, times",
        "- load them with `experiments/load_results.py` or `commissim.experiments.batch.load_results`",
        "",
    ]
    path = folder / "report.md"
    atomic.write_text(path, "\n".join(lines))
    return path
