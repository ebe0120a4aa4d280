"""Figures of a results folder (PNG, matplotlib's Agg backend, no display needed).

``make_figures(folder)`` writes into ``folder/figures/``:

- ``providers_destabilised.png`` - providers destabilised per financial year: mean
  over seeds and the 5-95% band of runs, one colour per scenario;
- ``income_change_distribution.png`` - every provider's end-of-run specialised
  income change (all seeds pooled), one box per scenario;
- ``access_inequality.png`` - Gini (or, failing that, coefficient of variation)
  across ICBs of the need-adjusted access rate, mean and 5-95% band;
- ``out_of_area_share.png`` - out-of-area share of spend, mean and 5-95% band.

A scenario keeps its colour in every figure (a built-in scenario's colour follows
its place in the built-in list, so ``nhse_direct`` is always the first colour). A figure whose measure the results
do not hold is skipped with a note.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import atomic

__all__ = ["make_figures", "scenario_colours", "scenario_order", "FIGURES"]

BAND = (0.05, 0.95)
# The figures of a compare folder: file -> title (the report shows those present, in this order).
FIGURES = {
    "providers_destabilised.png": "Providers destabilised over time",
    "income_change_distribution.png": "Distribution of provider income change",
    "access_inequality.png": "Inequality of access between ICBs",
    "out_of_area_share.png": "Out-of-area share of spend",
}
# Band figures over the years: file -> the measure they show (labels and units from the registry).
BAND_FIGURES = {
    "providers_destabilised.png": "providers_destabilised",
    "access_inequality.png": "access_gini",  # access_cv when the results hold no Gini
    "out_of_area_share.png": "out_of_area_share",
}


def scenario_colours(manifest: dict) -> dict[str, str]:
    """Scenario label -> colour, stable across figures and across compare runs: a built-in
    scenario's colour follows its place in the built-in list (``nhse_direct`` first), other
    scenarios take the next colours in design order."""
    import matplotlib

    from commissim.model.scenarios import list_scenarios

    palette = matplotlib.colormaps["tab10"].colors + matplotlib.colormaps["Dark2"].colors
    builtin = [s.name for s in list_scenarios()]
    extra = [d["scenario"] for d in manifest.get("design", []) if d["scenario"] not in builtin]
    order = builtin + list(dict.fromkeys(extra))
    return {d["scenario"]: matplotlib.colors.to_hex(palette[order.index(d["scenario"]) % len(palette)])
            for d in manifest.get("design", [])}


def scenario_order(manifest: dict, present) -> list[str]:
    """The scenarios in ``present`` in the manifest's design order (others after, sorted);
    shared by the figures and the report so colours and tables list scenarios alike."""
    order = []
    for d in manifest.get("design", []):
        if d["scenario"] not in order and d["scenario"] in set(present):
            order.append(d["scenario"])
    return order + sorted(set(present) - set(order))


def _save(fig, path: Path) -> Path:
    return atomic.save_figure(fig, path, dpi=130, bbox_inches="tight")


def _band_figure(series, measure, title, path, colours, order, n_seeds):
    import matplotlib.pyplot as plt

    from commissim.model.measures import MEASURE_BY_NAME

    scale, ylabel = MEASURE_BY_NAME[measure].scale, MEASURE_BY_NAME[measure].axis_label
    df = series[["scenario", "round", "year", measure]].dropna(subset=[measure])
    if df.empty:
        return None
    fig, ax = plt.subplots(figsize=(9, 5))
    years = df.drop_duplicates("round").sort_values("round")
    for scen in order:
        d = df[df["scenario"] == scen]
        if d.empty:
            continue
        g = d.groupby("round")[measure]
        mean = g.mean() * scale
        lo, hi = g.quantile(BAND[0]) * scale, g.quantile(BAND[1]) * scale
        c = colours.get(scen)
        ax.plot(mean.index, mean.values, color=c, lw=2, label=scen)
        ax.fill_between(mean.index, lo.values, hi.values, color=c, alpha=0.15, lw=0)
    ax.set_xticks(years["round"].tolist())
    ax.set_xticklabels(years["year"].tolist(), rotation=45, ha="right")
    ax.set_xlabel("financial year")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\nline: mean over {n_seeds} seeds; band: 5-95% of runs", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(title="scenario", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    out = _save(fig, path)
    plt.close(fig)
    return out


def make_figures(folder: str | Path, *, log=None) -> list[Path]:
    """Write the compare figures for a results folder; return the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    say = log or (lambda msg: None)
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    figdir = folder / "figures"
    figdir.mkdir(exist_ok=True)
    colours = scenario_colours(manifest)
    n_seeds = manifest.get("config", {}).get("replicates", "?")
    written: list[Path] = []

    series = pd.read_parquet(folder / "series.parquet") if (folder / "series.parquet").is_file() else None
    if series is not None and not series.empty:
        order = scenario_order(manifest, series["scenario"].unique())
        for name, measure in BAND_FIGURES.items():
            if measure == "access_gini" and measure not in series:
                measure = "access_cv"
            if measure not in series:
                say(f"figures: skipped {name}: the results hold no '{measure}' series")
                continue
            p = _band_figure(series, measure, FIGURES[name], figdir / name, colours, order, n_seeds)
            if p:
                written.append(p)
    else:
        say("figures: skipped the time-series figures: no series.parquet (no finished runs with series)")

    prov_file = folder / "providers.parquet"
    if prov_file.is_file():
        prov = pd.read_parquet(prov_file, columns=["scenario", "income_change"])
        order = scenario_order(manifest, prov["scenario"].unique())
        data = [prov.loc[prov["scenario"] == s, "income_change"].dropna().to_numpy() * 100 for s in order]
        fig, ax = plt.subplots(figsize=(9, 0.6 * len(order) + 2))
        box = ax.boxplot(data, orientation="horizontal", whis=(5, 95), showfliers=False, patch_artist=True,
                         widths=0.6, tick_labels=order, medianprops={"color": "black", "lw": 1.5})
        for patch, s in zip(box["boxes"], order):
            patch.set_facecolor(colours.get(s, "#999999"))
            patch.set_alpha(0.6)
        ax.axvline(0, color="black", lw=0.8)
        ax.invert_yaxis()
        ax.set_xlabel("specialised income change at end of run against baseline (%)")
        ax.set_ylabel("scenario")
        final = manifest.get("config", {}).get("years")
        ax.set_title(FIGURES["income_change_distribution.png"]
                     + (f" after {final} years" if final is not None else "")
                     + f"\nall providers, {n_seeds} seeds pooled; box: quartiles, whiskers: 5-95%", fontsize=11)
        ax.grid(axis="x", alpha=0.3)
        written.append(_save(fig, figdir / "income_change_distribution.png"))
        plt.close(fig)
    else:
        say("figures: skipped income_change_distribution.png: the runs returned no provider_income_change")
    return written
