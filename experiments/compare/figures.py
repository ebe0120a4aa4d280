"""Figures of a compare folder (PNG, matplotlib's Agg backend, no display needed).

Drawn so that they cannot mislead (:mod:`commissim.experiments.charts`): value axes include zero,
differences are drawn as differences with their intervals next to the levels, scenarios get
panels of their own instead of overlapping bands, every axis has its unit and the financial
years, and every title says how many seeds ran and which parameters were overridden.

``make_figures(folder)`` writes into ``folder/figures/``:

- ``differences_<measure>.png`` - one per headline measure: levels (each scenario's mean over
  seeds, every run as a dot, the 5-95% range of runs) next to the difference from the
  reference scenario (``nhse_direct``), paired by seed, with its 90% interval (a forest plot);
- ``destabilisation_curve.png`` - providers destabilised at the end of the run against the deficit
  threshold (0.5% to 10% of turnover), each scenario in its own panel against the reference;
- ``providers_destabilised.png``, ``access_inequality.png``, ``out_of_area_share.png`` - the
  measure over the financial years, one panel per scenario with the reference in grey (mean
  over seeds and the 5-95% band of runs);
- ``income_change_distribution.png`` - every provider's end-of-run specialised income change
  (all seeds pooled), one box per scenario;
- ``map_access_difference.png`` - need-adjusted access rate by ICB under the reference and
  another scenario (``full_delegation`` when compared), and the difference between them.

A scenario keeps its colour in every figure (a built-in scenario's colour follows
its place in the built-in list, so ``nhse_direct`` is always the first colour). A figure whose measure the results
do not hold is skipped with a note.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np

from .. import atomic
from ..charts import (
    difference_label,
    difference_unit,
    include_zero,
    measure,
    overrides_text,
    tight_png,
    value_label,
    year_axis,
)
from .differences import (common_seeds, paired_difference, posterior_pairs, reference_scenario, verdict, when,
                          yearly_differences)

__all__ = ["make_figures", "FigureDrawing", "figure_jobs", "draw_figure", "constant_and_duplicate", "scenario_colours", "scenario_order",
           "relabel", "design_label", "FIGURES", "FOREST_MEASURES", "figure_files", "release_figures",
           "MAP_SCENARIO", "MAP_MEASURE"]

BAND = (0.05, 0.95)
# One levels-and-differences figure per headline measure (labels and units from the registry).
FOREST_MEASURES = ("providers_destabilised", "max_providers_destabilised", "providers_needing_support",
                   "trust_sector_margin", "specialist_trust_margin", "out_of_area_income_change",
                   "income_change_p10", "unmet_need_share", "access_gini", "out_of_area_share",
                   "lines_withdrawn", "cumulative_revenue_support", "cumulative_returned")
# Figures over the financial years: file -> the measure they show (small multiples).
BAND_FIGURES = {
    "providers_destabilised.png": "providers_destabilised",
    "access_inequality.png": "access_gini",  # access_cv when the results hold no Gini
    "out_of_area_share.png": "out_of_area_share",
}
# The map: this scenario against the reference, this ICB measure (model.maps.ICB_MEASURES).
MAP_SCENARIO = "full_delegation"
MAP_MEASURE = "icb_access_rate"
# The other figures of a compare folder: file -> title (the report shows those present, in this order).
FIGURES = {
    "destabilisation_curve.png": "Providers destabilised across deficit thresholds",
    "providers_destabilised.png": "Providers destabilised over time",
    "access_inequality.png": "Inequality of access between ICBs over time",
    "out_of_area_share.png": "Out-of-area share of spend over time",
    "exposure_trusts.png": "The most exposed trusts: specialised income and margin against the reference",
    "income_change_distribution.png": "Distribution of provider income change",
    "map_access_difference.png": "Access by ICB: the reference, another scenario and the difference",
}
REF_GREY = "#8c8c8c"
# Where the axes' titles go: at the top of their axes (plus the title's pad), where matplotlib's automatic
# placement puts them on these axes (no ticks along the top; no offset text on a value axis, which includes
# zero, nor on the axes of named rows). Given, the title is not placed anew at every drawing and layout, which
# measured every axis's ticks again for it (a tenth of the CPU time of the figures).
TITLE_Y = 1.0


def constant_and_duplicate(summaries, names) -> tuple[dict[str, float], dict[str, str]]:
    """Measures with the same value in every run (name -> value), and measures equal to an earlier one in
    every run (name -> the earlier one's name): they get a line in the report, not a figure of their own."""
    constant: dict[str, float] = {}
    duplicate: dict[str, str] = {}
    kept: list[str] = []
    for name in names:
        if name not in summaries.columns:
            continue
        col = summaries[name]
        if col.notna().all() and col.nunique(dropna=False) == 1:
            constant[name] = float(col.iloc[0])
            continue
        twin = next((k for k in kept if np.allclose(summaries[k].to_numpy(dtype=float), col.to_numpy(dtype=float),
                                                    equal_nan=True, rtol=0, atol=1e-12)), None)
        if twin is not None:
            duplicate[name] = twin
            continue
        kept.append(name)
    return constant, duplicate


def figure_files(folder: Path) -> list[tuple[str, str]]:
    """(file, title) of every figure present in ``folder/figures``, in the report's order."""
    figdir = Path(folder) / "figures"
    out = [(f"differences_{m}.png", f"{measure(m).label}: levels and differences")
           for m in FOREST_MEASURES if (figdir / f"differences_{m}.png").is_file()]
    out += [(f"differences_over_time_{m}.png", f"{measure(m).label}: differences from the reference, year by year")
            for m in DIFFERENCE_OVER_TIME if (figdir / f"differences_over_time_{m}.png").is_file()]
    out += [(f, t) for f, t in FIGURES.items() if (figdir / f).is_file()]
    return out


def design_label(d: dict, manifest: dict) -> str:
    """A design point's label in tables and figures: its scenario, and the grid values it was run with
    when the comparison ran a grid (``--set NAME=V1,V2``), e.g. ``full_delegation [system_weight=5]``."""
    grid = manifest.get("grid") or {}
    if not grid:
        return d["scenario"]
    over = d.get("overrides") or {}
    vals = ", ".join(f"{k}={over[k]:g}" if isinstance(over.get(k), float) else f"{k}={over.get(k)}" for k in grid)
    return f"{d['scenario']} [{vals}]"


def relabel(df, manifest: dict):
    """The table with its ``scenario`` column holding design labels (only when the comparison ran a grid); with
    ``--posterior``, ``replicate`` made the pairing key of a run (its draw and seed) and ``draw`` added."""
    df = posterior_pairs(df, manifest)
    if df is None or not manifest.get("grid") or "point" not in df.columns:
        return df
    labels = {d["point"]: design_label(d, manifest) for d in manifest.get("design", [])}
    df = df.copy()
    df["scenario"] = df["point"].map(labels).fillna(df["scenario"])
    return df


def scenario_colours(manifest: dict) -> dict[str, str]:
    """Scenario label -> colour, stable across figures and across compare runs: a built-in
    scenario's colour follows its place in the built-in list (``nhse_direct`` first), other
    scenarios take the next colours in design order."""
    import matplotlib

    from commissim.model.scenarios import list_scenarios

    palette = matplotlib.colormaps["tab10"].colors + matplotlib.colormaps["Dark2"].colors
    builtin = [s.name for s in list_scenarios()]
    if manifest.get("grid"):  # a grid: one colour per design point, in design order
        labels = list(dict.fromkeys(design_label(d, manifest) for d in manifest.get("design", [])))
        return {lab: matplotlib.colors.to_hex(palette[i % len(palette)]) for i, lab in enumerate(labels)}
    extra = [d["scenario"] for d in manifest.get("design", []) if d["scenario"] not in builtin]
    order = builtin + list(dict.fromkeys(extra))
    return {d["scenario"]: matplotlib.colors.to_hex(palette[order.index(d["scenario"]) % len(palette)])
            for d in manifest.get("design", [])}


def scenario_order(manifest: dict, present) -> list[str]:
    """The scenarios in ``present`` in the manifest's design order (others after, sorted);
    shared by the figures and the report so colours and tables list scenarios alike."""
    order = []
    for d in manifest.get("design", []):
        label = design_label(d, manifest)
        if label not in order and label in set(present):
            order.append(label)
    return order + sorted(set(present) - set(order))


def _save(fig, path: Path) -> Path:
    """The figure as PNG, cropped to what it draws (as ``bbox_inches="tight"``, drawn once: :func:`tight_png`)."""
    return atomic.write_bytes(path, tight_png(fig, dpi=130))


# Figures of one layout drawn one after another in a process (the 12 levels-and-differences figures, the 10
# small multiples over the years) reuse one figure: its panels, axes and ticks are made once (a tenth of a
# second for ten panels) and each figure then removes what the previous one drew (_done). Every figure
# sets all it shows, so the images are the same as from a new figure (pixel for pixel, in any order).
REUSE_FIGURES = True
_KEPT: dict[tuple, tuple] = {}  # layout -> (figure, array of its axes), ready for the next figure of the layout


def _figure(layout: tuple, make):
    """A figure of ``layout`` to draw on, and its axes: the one the last figure of that layout left, or ``make()``
    (on a canvas that keeps its renderers: :func:`_canvas_keeping_renderers`)."""
    if REUSE_FIGURES and layout in _KEPT:
        return _KEPT.pop(layout)
    fig, axes = make()
    _canvas_keeping_renderers()(fig)  # the figure's canvas from now on
    return fig, axes


@functools.cache
def _canvas_keeping_renderers():
    """The class of :func:`_figure`'s canvases (made on first use: matplotlib is imported only to draw)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

    class KeptRenderers(FigureCanvasAgg):
        """An Agg canvas that keeps a renderer for every size and resolution it is drawn at, where Agg's keeps only
        the last. A reused figure is laid out at its own dpi and drawn at the PNG's (:func:`_save`), so Agg's canvas
        made both renderers anew for every figure, and with them matplotlib's cache of text sizes (kept per
        renderer): every tick label and title measured again. The same sizes, from the cache."""

        def get_renderer(self):
            w, h = self.get_width_height(physical=True)
            key = (w, h, self.figure.dpi)
            kept = self.__dict__.setdefault("_kept", {})
            if key not in kept:
                if len(kept) == 4:  # (a figure drawn on a grown canvas adds one: the oldest goes)
                    del kept[next(iter(kept))]
                kept[key] = RendererAgg(w, h, self.figure.dpi)
            self.renderer = kept[key]
            self._lastKey = key
            return self.renderer

    return KeptRenderers


def _done(fig, axes, layout: tuple) -> None:
    """A saved figure: kept, without what it drew, for the next figure of its layout (or closed)."""
    import matplotlib.pyplot as plt

    if not REUSE_FIGURES:
        plt.close(fig)
        return
    for ax in np.ravel(axes):
        for artist in (*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images):
            artist.remove()
        ax.relim()  # no data limits and the view of new axes: the next figure's own
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_autoscale_on(True)
    old = _KEPT.pop(layout, None)
    if old is not None:
        plt.close(old[0])
    _KEPT[layout] = (fig, axes)


def release_figures() -> None:
    """Close the figures kept for reuse (this process's)."""
    if not _KEPT:
        return  # (a process that drew none, such as compare's, need not import pyplot: half a second)
    import matplotlib.pyplot as plt

    for fig, _ in _KEPT.values():
        plt.close(fig)
    _KEPT.clear()


class _Context:
    """What every figure of one folder says in its title."""

    def __init__(self, manifest: dict):
        from ..model_runs import year_label

        cfg = manifest.get("config", {})
        self.manifest = manifest
        self.n_seeds = cfg.get("replicates", "?")
        self.years = cfg.get("years")
        self.final_year = year_label(self.years) if self.years is not None else "the final year"
        self.first_year = year_label(1) if self.years else None
        self.paired = common_seeds(manifest)
        self.overrides = overrides_text(manifest.get("overrides"))
        self.colours = scenario_colours(manifest)

    def runs_note(self) -> str:
        seeds = (f"{self.n_seeds} seeds per scenario, the same seeds in every scenario" if self.paired
                 else f"{self.n_seeds} seeds per scenario")
        return f"{seeds}; {self.overrides}"


# --------------------------------------------------------------------------- levels and differences
def _levels_and_differences(summaries, name: str, order: list[str], ref: str, ctx: _Context, path: Path,
                            twins: list[str] = ()):
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    m = measure(name)
    data = summaries[["scenario", "replicate", name]].dropna()
    order = [s for s in order if (data["scenario"] == s).any()]
    if not order or ref not in order:
        return None
    n = len(order)
    layout = ("levels_and_differences", n)
    fig, (ax_l, ax_d) = _figure(layout, lambda: plt.subplots(1, 2, figsize=(12, 1.3 + 0.46 * n), sharey=True,
                                                             gridspec_kw={"width_ratios": [1, 1], "wspace": 0.08}))
    y = np.arange(n)[::-1]
    gen = np.random.default_rng(0)
    level_values = []
    # Every scenario's runs, ranges and means as one artist each (drawn in the same order as one per
    # scenario): a scatter or a line is a millisecond or two to make, and there were 30 of them.
    scen, vals = data["scenario"].to_numpy(), data[name].to_numpy(dtype=float)
    dots_x, dots_y, dots_c, bars, bar_c, means = [], [], [], [], [], []
    for yi, s in zip(y, order):
        v = vals[scen == s] * m.scale
        c = ctx.colours.get(s, "#555555")
        dots_x.append(v)
        dots_y.append(yi + gen.uniform(-0.16, 0.16, len(v)))
        dots_c += [c] * len(v)
        lo, hi = np.quantile(v, BAND[0]), np.quantile(v, BAND[1])  # linear, as in every table and figure
        bars.append([(lo, yi), (hi, yi)])
        bar_c.append(c)
        means.append((v.mean(), yi, c))
        level_values += [float(v.min()), float(v.max())]
    ax_l.scatter(np.concatenate(dots_x), np.concatenate(dots_y), s=9, color=dots_c, alpha=0.35, lw=0, zorder=2)
    ax_l.add_collection(LineCollection(bars, colors=bar_c, linewidths=2.2, alpha=0.8, zorder=3, capstyle="butt"))
    ax_l.scatter([x for x, _, _ in means], [yi for _, yi, _ in means], s=46, color=[c for _, _, c in means],
                 edgecolors="black", linewidths=0.6, zorder=4)
    include_zero(ax_l, level_values, axis="x")
    ax_l.set_yticks(y, order)
    ax_l.set_xlabel(value_label(name))
    ax_l.set_title("levels: mean over seeds (large dot), each run (small dots),\n5-95% of runs (bar)", fontsize=9,
                   y=TITLE_Y)
    ax_l.grid(axis="x", alpha=0.3)

    diff_values = [0.0]
    verdicts: dict[int, str] = {}
    segments, seg_c, seg_w, ests = [], [], [], []
    for yi, s in zip(y, order):
        if s == ref:
            continue
        d = paired_difference(data, name, s, ref, paired=ctx.paired)
        if d is None:
            continue
        est, lo, hi = d.estimate * m.scale, d.low * m.scale, d.high * m.scale
        c = ctx.colours.get(s, "#555555")
        segments += [[(lo, yi), (hi, yi)], *([(end, yi - 0.13), (end, yi + 0.13)] for end in (lo, hi))]
        seg_c += [c] * 3
        seg_w += [2.0, 1.4, 1.4]
        ests.append((est, yi, c))
        verdicts[yi] = verdict(name, d)
        diff_values += [lo, hi]
    if segments:  # each interval and its two end ticks; then the means
        ax_d.add_collection(LineCollection(segments, colors=seg_c, linewidths=seg_w, zorder=3,
                                           capstyle=plt.rcParams["lines.solid_capstyle"]))
        cs = [c for _, _, c in ests]
        ax_d.scatter([x for x, _, _ in ests], [yi for _, yi, _ in ests], s=48, zorder=4, edgecolors=cs,
                     linewidths=1.5, color=cs)
    ax_d.axvline(0, color="black", lw=0.9, zorder=1)
    lo, hi = min(diff_values), max(diff_values)
    span = max(hi - lo, 1e-12)
    big = max(abs(lo), abs(hi), 1e-12)
    left, right = min(lo - 0.08 * span, -0.05 * big), max(hi + 0.08 * span, 0.05 * big)
    ax_d.set_xlim(left, right)
    on_right = -left > right  # zero sits in the right half: write the label to its left
    ax_d.annotate("reference (0)", (0, y[order.index(ref)]), xytext=(-6 if on_right else 6, 0),
                  textcoords="offset points", ha="right" if on_right else "left", va="center", fontsize=9,
                  color="#555555", style="italic")
    for yi, v in verdicts.items():  # the verdict in words, at the right edge (not a dot's fill)
        ax_d.annotate(v, (1.0, yi), xycoords=("axes fraction", "data"), xytext=(4, 0), textcoords="offset points",
                      ha="left", va="center", fontsize=8, color="#333333")
    ax_d.set_xlabel(difference_label(name, ref))
    how = "paired by seed" if ctx.paired else "Welch"
    ax_d.set_title(f"difference from {ref} ({how}): mean and 90% interval;\nright: the verdict (negligible: below "
                   f"the resolution, {measure(name).min_difference:g} {measure(name).unit})", fontsize=9, y=TITLE_Y)
    ax_d.grid(axis="x", alpha=0.3)
    ax_d.tick_params(axis="y", length=0)
    same = (f"\nthe same in every run as: {', '.join(measure(t).label for t in twins)} (drawn once)" if twins else "")
    fig.suptitle(f"{m.label} {when(name, ctx.final_year, ctx.first_year)}{same}\n{ctx.runs_note()}", fontsize=11,
                 y=1.0)
    out = _save(fig, path)
    _done(fig, np.array([ax_l, ax_d]), layout)
    return out


# --------------------------------------------------------------------------- small multiples
def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 5 if n > 6 else 3 if n > 4 else n)
    return math.ceil(n / cols), cols


def _small_multiples(panels: list[str], ref: str, draw, *, xlabel: str, ylabel: str, title: str, path: Path,
                     sharex: bool = True, symmetric: bool = False, kind: str = "years"):
    """One panel per scenario (the reference's own panel first); ``draw(ax, scenario) -> values``. ``kind``:
    what the x axes show (figures of one kind and grid reuse one figure: their x axes are drawn alike)."""
    import matplotlib.pyplot as plt

    rows, cols = _grid(len(panels))
    layout = ("small_multiples", rows, cols, sharex, kind)
    fig, axes = _figure(layout, lambda: plt.subplots(rows, cols, figsize=(2.9 * cols + 0.8, 2.5 * rows + 1.3),
                                                     sharex=sharex, sharey=True, squeeze=False))
    fig.subplots_adjust(**{k: plt.rcParams[f"figure.subplot.{k}"]  # tight_layout starts where a new figure does
                           for k in ("left", "right", "bottom", "top", "wspace", "hspace")})
    for ax in axes.ravel():  # every limit is set below: no autoscaling of ten shared axes after each artist
        ax.set_autoscale_on(False)
    values: list[float] = []
    for ax, s in zip(axes.ravel(), panels):
        ax.set_visible(True)
        values += draw(ax, s)
        ax.set_title(s + (" (reference)" if s == ref else ""), fontsize=9, y=TITLE_Y)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    if symmetric:  # differences: zero in the middle, never a 1e-14 axis (the values include the resolution)
        big = max(abs(v) for v in values) if values else 1.0
        axes[0, 0].set_ylim(-1.08 * big, 1.08 * big)
    else:
        if not values:  # include_zero then starts from the limits the data would have
            axes[0, 0].set_autoscale_on(True)
            axes[0, 0].autoscale_view()
        include_zero(axes[0, 0], values)
    fig.supxlabel(xlabel, fontsize=10)
    fig.supylabel(ylabel, fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = _save(fig, path)
    _done(fig, axes, layout)
    return out


def _band(ax, x, values_by_x, colour, *, scale: float, label=None, lw=1.8, alpha=0.2, ls="-"):
    mean = values_by_x.mean() * scale
    lo = values_by_x.quantile(BAND[0]) * scale
    hi = values_by_x.quantile(BAND[1]) * scale
    ax.fill_between(x, lo.to_numpy(), hi.to_numpy(), color=colour, alpha=alpha, lw=0)
    ax.plot(x, mean.to_numpy(), color=colour, lw=lw, ls=ls, label=label)
    return [float(lo.min()), float(hi.max())]


def _over_time(series, name: str, title: str, order: list[str], ref: str, ctx: _Context, path: Path):
    m = measure(name)
    df = series[["scenario", "round", "year", name]].dropna(subset=[name])
    if df.empty:
        return None
    years = df.drop_duplicates("round").sort_values("round")
    rounds, labels = years["round"].tolist(), years["year"].tolist()
    groups = {s: g.groupby("round")[name] for s, g in df.groupby("scenario")}
    panels = [s for s in order if s in groups]

    def draw(ax, s):
        vals = []
        if s != ref and ref in groups:
            g = groups[ref]
            vals += _band(ax, list(g.mean().index), g, REF_GREY, scale=m.scale, lw=1.2, alpha=0.25, ls="--")
        g = groups[s]
        vals += _band(ax, list(g.mean().index), g, ctx.colours.get(s, "#555555"), scale=m.scale)
        year_axis(ax, rounds, labels, label=False, every=max(1, math.ceil(len(rounds) / 5)), fontsize=7)
        return vals

    return _small_multiples(
        panels, ref, draw, xlabel="financial year", ylabel=value_label(name), path=path,
        title=f"{title}: each scenario (colour) against {ref} (grey, dashed)\nline: mean over seeds; band: 5-95% "
              f"of runs; {ctx.runs_note()}")


def _curve(summaries, order: list[str], ref: str, ctx: _Context, path: Path):
    from commissim.model.finance import DESTAB_THRESHOLDS
    from commissim.model.measures import CURVE_MEASURES

    present = [c for c in CURVE_MEASURES if c in summaries.columns]
    if len(present) != len(CURVE_MEASURES) or summaries[present].isna().all().all():
        return None
    x = np.asarray(DESTAB_THRESHOLDS) * 100
    panels = [s for s in order if (summaries["scenario"] == s).any()]
    threshold = (ctx.manifest.get("overrides") or {}).get("destabilised_deficit")
    if threshold is None:
        from commissim.model.params import DEFAULTS

        threshold = DEFAULTS.get("destabilised_deficit")

    def curve_of(s):
        d = summaries.loc[summaries["scenario"] == s, present]
        return d

    def draw(ax, s):
        vals = []
        if s != ref:
            d = curve_of(ref)
            lo, hi = d.quantile(BAND[0]).to_numpy(), d.quantile(BAND[1]).to_numpy()
            ax.fill_between(x, lo, hi, color=REF_GREY, alpha=0.25, lw=0)
            ax.plot(x, d.mean().to_numpy(), color=REF_GREY, lw=1.2, ls="--", marker="o", ms=2.5)
            vals += [float(lo.min()), float(hi.max())]
        d = curve_of(s)
        lo, hi = d.quantile(BAND[0]).to_numpy(), d.quantile(BAND[1]).to_numpy()
        c = ctx.colours.get(s, "#555555")
        ax.fill_between(x, lo, hi, color=c, alpha=0.22, lw=0)
        ax.plot(x, d.mean().to_numpy(), color=c, lw=1.8, marker="o", ms=3)
        if threshold is not None:
            ax.axvline(float(threshold) * 100, color="black", lw=0.6, ls=":")
        ax.set_xlim(0, x.max() * 1.04)
        return vals + [float(lo.min()), float(hi.max())]

    note = f"dotted line: the threshold the model's own measure uses ({float(threshold) * 100:g}%)" \
        if threshold is not None else ""
    return _small_multiples(
        panels, ref, draw, xlabel="deficit threshold (% of turnover, two years running; cash support and "
                                  "financial withdrawals count at every threshold)",
        ylabel="providers destabilised (providers)", path=path, kind="thresholds",
        title=f"Providers destabilised in {ctx.final_year} across deficit thresholds: each scenario (colour) against "
              f"{ref} (grey, dashed)\nline: mean over seeds; band: 5-95% of runs; {note}; {ctx.runs_note()}")


# --------------------------------------------------------------------------- differences over time
# Measures whose paired difference from the reference is drawn year by year (those the results hold).
DIFFERENCE_OVER_TIME = ("providers_destabilised", "lines_at_risk", "trust_sector_margin", "out_of_area_income_change",
                        "commissioner_shortfall", "unmet_need_share", "access_gini")


def _differences_over_time(series, name: str, order: list[str], ref: str, ctx: _Context, path: Path):
    """Each scenario's paired difference from the reference in every year, with its 90% interval (band) and
    the measure's resolution (grey: smaller than the difference that matters)."""
    m = measure(name)
    others = [s for s in order if s != ref and (series["scenario"] == s).any()]
    if not others or not (series["scenario"] == ref).any():
        return None
    years = series.drop_duplicates("round").sort_values("round")
    rounds, labels = years["round"].tolist(), years["year"].tolist()
    res = m.min_difference
    tables = {s: yearly_differences(series, name, s, ref, paired=ctx.paired) for s in others}

    def draw(ax, s):
        t = tables[s]
        ax.axhspan(-res, res, color="#dddddd", alpha=0.7, lw=0, zorder=0)
        ax.axhline(0, color="black", lw=0.8, zorder=1)
        if t.empty:
            return [0.0]
        c = ctx.colours.get(s, "#555555")
        ax.fill_between(t["round"], t["low"] * m.scale, t["high"] * m.scale, color=c, alpha=0.25, lw=0)
        ax.plot(t["round"], t["estimate"] * m.scale, color=c, lw=1.8, marker="o", ms=2.5)
        year_axis(ax, rounds, labels, label=False, every=max(1, math.ceil(len(rounds) / 5)), fontsize=7)
        return [float(t["low"].min() * m.scale), float(t["high"].max() * m.scale), -res, res]

    return _small_multiples(
        others, ref, draw, xlabel="financial year", ylabel=difference_label(name, ref), path=path, symmetric=True,
        title=f"{m.label}: each scenario minus {ref}, year by year (paired by seed)\nline: mean difference; band: 90% "
              f"interval; grey: smaller than the resolution ({res:g} {difference_unit(name)}); {ctx.runs_note()}")


# --------------------------------------------------------------------------- exposure by trust
def _exposure_figure(exp, ref: str, ctx: _Context, path: Path, n: int = 20):
    """The ``n`` most exposed trusts under the primary arrangement: the difference from the reference in
    specialised income (£m) and margin (pp of turnover), with 90% intervals."""
    import matplotlib.pyplot as plt

    from .exposure import primary_scenario, trust_columns

    scenario = primary_scenario(exp)
    if scenario is None:
        return None
    cols = [c for c in trust_columns(exp) if c[0].startswith(("specialised_income", "margin"))]
    rows = exp[exp["scenario"] == scenario].head(n).iloc[::-1]
    if rows.empty or not cols:
        return None
    fig, axes = plt.subplots(1, len(cols), figsize=(4.2 * len(cols) + 2.5, 0.32 * len(rows) + 1.8), sharey=True,
                             squeeze=False)
    y = np.arange(len(rows))
    c = ctx.colours.get(scenario, "#555555")
    for ax, (stem, heading, unit, _) in zip(axes[0], cols):
        est, lo, hi = rows[f"{stem}_diff"].to_numpy(), rows[f"{stem}_low"].to_numpy(), rows[f"{stem}_high"].to_numpy()
        ax.hlines(y, lo, hi, color=c, lw=2)
        ax.scatter(est, y, color=c, s=22, zorder=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(f"{scenario} minus {ref}: {heading}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        big = max(float(np.nanmax(np.abs(np.concatenate([lo, hi])))), 1e-6)
        ax.set_xlim(-1.08 * big, 1.08 * big)
    axes[0, 0].set_yticks(y, [f"{r['trust']} ({r['type']}, {r['host_icb']})" for _, r in rows.iterrows()], fontsize=8)
    fig.suptitle(f"The {len(rows)} trusts most exposed under {scenario} in {ctx.final_year} (specialised income, "
                 f"most negative first)\nmean difference from {ref} over paired seeds, 90% interval; every trust in "
                 f"exposure.csv; {ctx.runs_note()}", fontsize=10)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------- distribution
def _income_distribution(prov, order: list[str], ctx: _Context, path: Path):
    import matplotlib.pyplot as plt

    order = [s for s in order if (prov["scenario"] == s).any()]
    data = [prov.loc[prov["scenario"] == s, "income_change"].dropna().to_numpy() * 100 for s in order]
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(order) + 2))
    box = ax.boxplot(data, orientation="horizontal", whis=(5, 95), showfliers=False, patch_artist=True,
                     widths=0.6, tick_labels=order, medianprops={"color": "black", "lw": 1.5})
    for patch, s in zip(box["boxes"], order):
        patch.set_facecolor(ctx.colours.get(s, "#999999"))
        patch.set_alpha(0.6)
    ax.axvline(0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"Specialised income change in {ctx.final_year}, against each "
                  "provider's fair-share path (%)")
    ax.set_ylabel("scenario")
    ax.set_title(f"Distribution of provider income change in {ctx.final_year}\nall providers, all seeds pooled; "
                 f"box: quartiles, whiskers: 5-95%; {ctx.runs_note()}", fontsize=10, y=TITLE_Y)
    ax.grid(axis="x", alpha=0.3)
    out = _save(fig, path)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------- the map
def _map(icbs, manifest: dict, order: list[str], ref: str, ctx: _Context, path: Path, *, scenario: str | None = None,
         name: str = MAP_MEASURE):
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize, TwoSlopeNorm

    from commissim.model import maps
    from commissim.model.data import load_seeds

    if name not in icbs.columns:
        return None
    others = [s for s in order if s != ref and (icbs["scenario"] == s).any()]
    if not others or not (icbs["scenario"] == ref).any():
        return None
    scenario = scenario if scenario in others else (MAP_SCENARIO if MAP_SCENARIO in others else others[0])
    kwargs = manifest.get("config", {}).get("function_kwargs") or {}
    data = load_seeds(kwargs.get("seeds_path"))
    m = measure(name)
    a = icbs.loc[icbs["scenario"] == scenario, ["replicate", "icb", name]]
    b = icbs.loc[icbs["scenario"] == ref, ["replicate", "icb", name]]
    both = a.merge(b, on=["replicate", "icb"], suffixes=("_s", "_r")) if ctx.paired else None
    n = data.n_icbs
    level_ref = b.groupby("icb")[name].mean().reindex(range(n)).to_numpy() * m.scale
    level_s = a.groupby("icb")[name].mean().reindex(range(n)).to_numpy() * m.scale
    if both is not None and len(both):
        diff = (both[f"{name}_s"] - both[f"{name}_r"]).groupby(both["icb"]).mean().reindex(range(n)).to_numpy()
    else:
        diff = (level_s - level_ref) / m.scale
    diff = np.where(np.abs(diff) < 1e-12, 0.0, diff) * m.scale

    fig = plt.figure(figsize=(15, 8.6))
    gs = fig.add_gridspec(3, 3, height_ratios=[3.2, 1.15, 0.12], hspace=0.12, wspace=0.06)
    finite = np.concatenate([level_ref[np.isfinite(level_ref)], level_s[np.isfinite(level_s)]])
    lnorm = Normalize(float(finite.min()), float(finite.max())) if finite.size else Normalize(0, 1)
    big = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 0.0
    big = big if big > 0 else 1e-6
    dnorm = TwoSlopeNorm(vcenter=0.0, vmin=-big, vmax=big)
    panels = [(level_ref, "viridis", lnorm, f"{ref}: {m.label.lower()}", value_label(name)),
              (level_s, "viridis", lnorm, f"{scenario}: {m.label.lower()}", value_label(name)),
              (diff, maps.diverging_cmap(), dnorm, f"{scenario} minus {ref}", difference_label(name, ref).replace(
                  f"difference from {ref}", f"{scenario} minus {ref}"))]
    for col, (vals, cmap, norm, title, clabel) in enumerate(panels):
        ax = fig.add_subplot(gs[0, col])
        coll = maps.draw_icbs(ax, data, vals, cmap=cmap, norm=norm)
        maps.frame(ax)
        lo0, lo1, la0, la1 = maps.LONDON
        ax.add_patch(plt.Rectangle((lo0, la0), lo1 - lo0, la1 - la0, fill=False, ec="#333333", lw=0.7, zorder=5))
        ax.set_title(title, fontsize=10, y=TITLE_Y)
        inset = fig.add_subplot(gs[1, col])
        maps.draw_icbs(inset, data, vals, cmap=cmap, norm=norm)
        maps.frame(inset, maps.LONDON)
        inset.set_title("London (enlarged)", fontsize=8, pad=2, y=TITLE_Y)
        cax = fig.add_subplot(gs[2, col])
        cb = fig.colorbar(coll, cax=cax, orientation="horizontal")
        cb.set_label(clabel, fontsize=8)
        cb.ax.tick_params(labelsize=7)
    fig.suptitle(f"Need-adjusted access by ICB in {ctx.final_year} (mean over seeds; 100 = England's rate): "
                 f"{ref}, {scenario}, and the difference"
                 f"{' (paired by seed)' if both is not None else ''}\npurple: lower access under {scenario}; "
                 f"blue: higher; {ctx.runs_note()}", fontsize=11)
    maps.attribution(fig, fontsize=7)
    out = _save(fig, path)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------- all of them
# A figure job: ("differences", measure), ("curve",), ("band", file), ("income",) or ("map",). Each job
# reads what it needs from the folder and draws one figure, so the jobs of a folder can be drawn in
# any process (compare draws them in the batch's warm worker pool, in parallel).
_FRAMES: dict = {}  # this process's tables of one folder: (file, columns, mtime, size) -> DataFrame


def _read(path: Path, columns: tuple[str, ...] | None = None):
    """``path`` (Parquet) as a DataFrame; kept while the file is unchanged (the jobs of one folder share it)."""
    import pandas as pd

    st = path.stat()
    key = (str(path), columns, st.st_mtime_ns, st.st_size)
    if key not in _FRAMES:
        if any(k[0].rsplit("/", 1)[0] != str(path.parent) for k in _FRAMES):  # another folder: forget it
            _FRAMES.clear()
        _FRAMES[key] = pd.read_parquet(path, columns=list(columns) if columns else None)
    return _FRAMES[key]


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows if path.is_file() else 0


def figure_jobs(folder: str | Path, say=lambda msg: None, *, exposure: bool = True) -> list[tuple]:
    """The figure jobs of a results folder, in the order of their files in the report (a figure whose
    data the folder does not hold is skipped, saying why; a measure the same in every run gets a line in the
    report, not a figure; measures equal in every run are drawn once). ``exposure=False``: without the
    exposure figure (``exposure.csv`` not written yet: :meth:`FigureDrawing.add_exposure`)."""
    import pyarrow.parquet as pq

    from commissim.model.measures import MEASURE_BY_NAME

    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    jobs: list[tuple] = []
    summ = folder / "summaries.parquet"
    if _rows(summ):
        summaries = relabel(_read(summ), manifest)
        constant, duplicate = constant_and_duplicate(summaries, [n for n in FOREST_MEASURES if n in MEASURE_BY_NAME])
        for name in FOREST_MEASURES:
            if (name in summaries.columns and name in MEASURE_BY_NAME and name not in constant
                    and name not in duplicate):
                jobs.append(("differences", name, tuple(k for k, v in duplicate.items() if v == name)))
        for name, value in constant.items():
            say(f"figures: no figure for {name}: {measure(name).text(value)} in every run (said in the report)")
        jobs.append(("curve",))
    ser = folder / "series.parquet"
    if _rows(ser):
        columns = set(pq.read_schema(ser).names)
        for file, name in BAND_FIGURES.items():
            if name == "access_gini" and (name not in columns or name not in MEASURE_BY_NAME):
                name = "access_cv"
            if name not in columns or name not in MEASURE_BY_NAME:
                say(f"figures: skipped {file}: the results hold no '{name}' series")
                continue
            jobs.append(("band", file))
        for name in DIFFERENCE_OVER_TIME:
            if name in columns and name in MEASURE_BY_NAME:  # a measure the results or registry lack: skipped
                jobs.append(("over_time", name))
    else:
        say("figures: skipped the time-series figures: no series.parquet (no finished runs with series)")
    if exposure and (folder / "exposure.csv").is_file():
        jobs.append(("exposure",))
    if (folder / "providers.parquet").is_file():
        jobs.append(("income",))
    else:
        say("figures: skipped income_change_distribution.png: the runs returned no provider_income_change")
    if (folder / "icbs.parquet").is_file():
        jobs.append(("map",))
    else:
        say("figures: skipped map_access_difference.png: the runs returned no ICB measures")
    return jobs


def draw_figure(folder: str | Path, job: tuple) -> tuple[Path | None, list[str]]:
    """Draw one figure job (see :func:`figure_jobs`); return the file written (None if none) and what to say.
    The figure of a reused layout is kept for the next job (:func:`release_figures` closes them)."""
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    figdir = folder / "figures"
    ctx = _Context(manifest)
    kind = job[0]
    if kind in ("differences", "curve"):
        summaries = relabel(_read(folder / "summaries.parquet"), manifest)
        order = scenario_order(manifest, summaries["scenario"].unique())
        ref = reference_scenario(order)
        if kind == "curve":
            return _curve(summaries, order, ref, ctx, figdir / "destabilisation_curve.png"), []
        name = job[1]
        return _levels_and_differences(summaries, name, order, ref, ctx, figdir / f"differences_{name}.png",
                                       twins=list(job[2])), []
    if kind in ("band", "over_time"):
        series = relabel(_read(folder / "series.parquet"), manifest)
        order = scenario_order(manifest, series["scenario"].unique())
        ref = reference_scenario(order)
        if kind == "over_time":
            name = job[1]
            return _differences_over_time(series, name, order, ref, ctx,
                                          figdir / f"differences_over_time_{name}.png"), []
        from commissim.model.measures import MEASURE_BY_NAME

        file = job[1]
        name = BAND_FIGURES[file]
        if name == "access_gini" and (name not in series or name not in MEASURE_BY_NAME):
            name = "access_cv"
        return _over_time(series, name, FIGURES[file].replace(" over time", ""), order, ref, ctx, figdir / file), []
    if kind == "exposure":
        import pandas as pd

        exp = pd.read_csv(folder / "exposure.csv")
        if exp.empty:
            return None, []
        return _exposure_figure(exp, str(exp["reference"].iloc[0]), ctx, figdir / "exposure_trusts.png"), []
    if kind == "income":
        prov = relabel(_read(folder / "providers.parquet", ("point", "scenario", "income_change")), manifest)
        return _income_distribution(prov, scenario_order(manifest, prov["scenario"].unique()), ctx,
                                    figdir / "income_change_distribution.png"), []
    if kind == "map":
        icbs = relabel(_read(folder / "icbs.parquet"), manifest)
        order = scenario_order(manifest, icbs["scenario"].unique())
        p = _map(icbs, manifest, order, reference_scenario(order), ctx, figdir / "map_access_difference.png")
        return p, ([] if p else ["figures: skipped map_access_difference.png: it needs the reference scenario "
                                 "and one other"])
    raise ValueError(f"unknown figure job {job!r}")


# The heaviest jobs first, so that workers drawing in parallel finish together (CPU seconds of a warm worker:
# curve 0.4, map and exposure 0.3-0.4, a small multiple 0.3, income 0.15, levels and differences 0.12).
_WEIGHT = {"curve": 0, "map": 1, "exposure": 1, "band": 2, "over_time": 2, "income": 3, "differences": 4}


class FigureDrawing:
    """The figures of a results folder, being drawn: the jobs are planned (and, on an ``executor``, submitted)
    when it is made, :meth:`add_exposure` adds the exposure figure once ``exposure.csv`` is written, and
    :meth:`result` waits for them all and returns the files written, in the report's order.

    ``compare`` makes one on its process pool before it writes the CSV tables and ``exposure.csv``, so the
    workers draw while this process writes. Without an executor the figures are drawn by :meth:`result`, one
    after another, in this process. Either way the same files, in the same order."""

    def __init__(self, folder: str | Path, *, log=None, executor=None, exposure: bool = True):
        self.say = log or (lambda msg: None)
        self.folder = Path(folder)
        self.executor = executor
        figdir = self.folder / "figures"
        figdir.mkdir(exist_ok=True)
        for old in figdir.glob("*.png"):  # figures of an earlier, other set of results
            old.unlink()
        self.jobs = figure_jobs(self.folder, self.say, exposure=exposure)
        self.futures: dict[int, object] = {}
        self._submit(range(len(self.jobs)))

    def _submit(self, indices) -> None:
        if self.executor is not None:
            for i in sorted(indices, key=lambda i: _WEIGHT[self.jobs[i][0]]):
                self.futures[i] = self.executor.submit(draw_figure, str(self.folder), self.jobs[i])

    def add_exposure(self) -> None:
        """Add the exposure figure (in its place among the others) if the folder now holds ``exposure.csv``."""
        if ("exposure",) in self.jobs or not (self.folder / "exposure.csv").is_file():
            return
        at = next((i for i, job in enumerate(self.jobs) if job[0] in ("income", "map")), len(self.jobs))
        self.jobs.insert(at, ("exposure",))
        self.futures = {(i + 1 if i >= at else i): f for i, f in self.futures.items()}
        self._submit([at])

    def result(self) -> list[Path]:
        """Wait for every figure (drawing them here without an executor); the files written, in order."""
        try:
            if self.executor is None:
                drawn = [draw_figure(self.folder, job) for job in self.jobs]
            else:
                drawn = [self.futures[i].result() for i in range(len(self.jobs))]
        finally:
            self.close()
        written: list[Path] = []
        for path, messages in drawn:
            for msg in messages:
                self.say(msg)
            if path:
                written.append(Path(path))
        return written

    def close(self) -> None:
        """Cancel what has not started and free this process's tables and figures (a pool's workers keep
        theirs until the pool closes)."""
        for f in self.futures.values():
            f.cancel()
        _FRAMES.clear()
        release_figures()


def make_figures(folder: str | Path, *, log=None, executor=None) -> list[Path]:
    """Write the compare figures for a results folder; return the paths written.

    ``executor``: a ``concurrent.futures.Executor`` to draw them in, in parallel (``compare`` passes
    its batch's process pool, whose workers are warm); default: one after another in this process.
    Either way the same files, in the same order."""
    return FigureDrawing(folder, log=log, executor=executor).result()
