"""Figures of scenario discovery and policy search (PNG, matplotlib's Agg canvas).

Every figure is built on its own ``matplotlib.figure.Figure`` (no pyplot state, safe
off the main thread) and written through a temporary file in the target folder that
``os.replace`` moves into place, so a reader never sees half a PNG.

- :func:`peeling_figure` - PRIM's peeling trajectory: coverage against density, one
  dot a box, coloured by its number of restricted inputs, the chosen box marked;
- :func:`box_scatter_figure` - the runs on each pair of the chosen box's restricted
  inputs, cases of interest coloured, the box drawn;
- :func:`cart_figure` - the CART tree (``sklearn.tree.plot_tree``);
- :func:`pareto_figure` - the feasible Pareto set in parallel coordinates (levers,
  then objectives), the cheapest feasible policy highlighted.

Shares (coverage, density) are drawn on 0-1; inputs on the range the sample covers;
objectives from 0 when they are never negative.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import require_extra

__all__ = [
    "box_scatter_figure",
    "cart_figure",
    "make_discovery_figures",
    "make_search_figures",
    "pareto_figure",
    "peeling_figure",
]

CASE_COLOUR = "#d95f02"
OTHER_COLOUR = "#9e9e9e"
HIGHLIGHT = "#c0392b"


def _figure(width: float, height: float):
    mpl_figure = require_extra("matplotlib.figure", "figures")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = mpl_figure.Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, whatever pyplot's backend is
    return fig


def save_png(fig, path: str | Path, dpi: int = 130) -> Path:
    """Write ``fig`` to ``path`` atomically (temporary file in the same folder, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=dpi)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _label(name: str, unit: str = "") -> str:
    return f"{name} ({unit})" if unit else name


# --------------------------------------------------------------------------- PRIM


def peeling_figure(result, path: str | Path, *, title: str | None = None) -> Path:
    """Coverage vs density of every box on ``result``'s (a PrimResult) peeling trajectory."""
    import matplotlib

    tr = result.trajectory
    fig = _figure(6.4, 5.0)
    ax = fig.add_subplot()
    dims = tr["res_dim"].to_numpy()
    levels = sorted(set(dims.tolist()))
    cmap = matplotlib.colormaps["viridis"].resampled(max(len(levels), 2))
    colour = {d: cmap(i / max(len(levels) - 1, 1)) for i, d in enumerate(levels)}
    ax.plot(tr["coverage"], tr["density"], color="#cccccc", lw=0.8, zorder=1)
    for d in levels:
        sel = tr[dims == d]
        ax.scatter(sel["coverage"], sel["density"], s=22, color=colour[d], zorder=2,
                   label=f"{d} restricted input{'s' if d != 1 else ''}")
    c = tr.loc[result.chosen]
    ax.scatter([c["coverage"]], [c["density"]], s=160, facecolors="none", edgecolors=HIGHLIGHT, lw=2, zorder=3)
    how = "knee" if result.chosen_by == "knee" else "chosen"
    ax.annotate(
        f"box {result.chosen} ({how})\ncoverage {c['coverage']:.2f}, density {c['density']:.2f}",
        (c["coverage"], c["density"]), xytext=(-12, -28), textcoords="offset points", ha="right",
        fontsize=8, color=HIGHLIGHT,
    )
    ax.axhline(result.base_rate, color="#888888", ls=":", lw=1)
    ax.text(0.01, result.base_rate, " base rate", va="bottom", fontsize=8, color="#666666",
            transform=ax.get_yaxis_transform())
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of all cases of interest inside the box)")
    ax.set_ylabel("density (share of runs in the box that are cases)")
    ax.set_title(textwrap.fill(title or f"PRIM peeling trajectory: {result.case_label}", 70), fontsize=10)
    ax.legend(fontsize=8, loc="center left")
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def _axis_values(x: pd.Series, kind: str, rng: np.random.Generator):
    """Plot positions of one input: numbers as they are, categories as jittered indices."""
    if kind == "categorical":
        cats = list(x.cat.categories)
        pos = x.cat.codes.to_numpy(dtype=float) + rng.uniform(-0.25, 0.25, len(x))
        return pos, cats
    return x.to_numpy(dtype=float), None


def _span(lim, x: pd.Series, cats):
    """(low, high) of the box on one input in plot coordinates."""
    if lim is None:
        if cats is not None:
            return -0.4, len(cats) - 0.6
        return float(x.min()), float(x.max())
    if lim.kind == "categorical":
        idx = [cats.index(c) for c in lim.categories]
        return min(idx) - 0.4, max(idx) + 0.4
    lo = lim.lower if lim.lower is not None else float(x.min())
    hi = lim.upper if lim.upper is not None else float(x.max())
    return lo, hi


def box_scatter_figure(result, path: str | Path, *, max_dims: int = 4, seed: int = 0) -> Path:
    """Runs on each pair of the chosen box's restricted inputs (a PrimResult), the box drawn."""
    from matplotlib.patches import Rectangle

    limits = {lim.name: lim for lim in result.limits}
    dims = list(limits)[:max_dims]
    if not dims:  # no box: show the two inputs PRIM had to choose from, without a box
        dims = list(result.inputs)[:2]
    rng = np.random.default_rng(seed)
    x, cases = result.x, result.y
    pos = {d: _axis_values(x[d], result.kinds[d], rng) for d in dims}
    pairs = [(a, b) for i, a in enumerate(dims) for b in dims[i + 1:]] or [(dims[0], None)]
    ncol = min(len(pairs), 3)
    nrow = int(np.ceil(len(pairs) / ncol))
    fig = _figure(4.2 * ncol, 3.8 * nrow + 0.4)
    for k, (a, b) in enumerate(pairs):
        ax = fig.add_subplot(nrow, ncol, k + 1)
        xa, cats_a = pos[a]
        if b is None:
            yb, cats_b = rng.uniform(0, 1, len(xa)), None
        else:
            yb, cats_b = pos[b]
        order = np.argsort(cases, kind="stable")  # cases drawn last, on top
        ax.scatter(xa[order], yb[order], s=7, alpha=0.55, linewidths=0,
                   c=np.where(cases[order], CASE_COLOUR, OTHER_COLOUR))
        lo_a, hi_a = _span(limits.get(a), x[a], cats_a)
        if b is None:
            lo_b, hi_b = 0.0, 1.0
        else:
            lo_b, hi_b = _span(limits.get(b), x[b], cats_b)
        if limits:
            ax.add_patch(Rectangle((lo_a, lo_b), hi_a - lo_a, hi_b - lo_b, fill=False, ec="black", lw=1.6))
        ax.set_xlabel(_label(a, result.units.get(a, "")))
        from matplotlib.ticker import MaxNLocator

        if cats_a is None:
            ax.xaxis.set_major_locator(MaxNLocator(5))
        if b is not None and cats_b is None:
            ax.yaxis.set_major_locator(MaxNLocator(6))
        if cats_a is not None:
            ax.set_xticks(range(len(cats_a)), [str(c) for c in cats_a])
        if b is None:
            ax.set_yticks([])
            ax.set_ylabel("(runs spread vertically at random)")
        else:
            ax.set_ylabel(_label(b, result.units.get(b, "")))
            if cats_b is not None:
                ax.set_yticks(range(len(cats_b)), [str(c) for c in cats_b])
        ax.grid(alpha=0.25)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", ls="", color=CASE_COLOUR, label=f"case of interest ({int(cases.sum())})"),
        Line2D([], [], marker="o", ls="", color=OTHER_COLOUR, label=f"other run ({int((~cases).sum())})"),
    ]
    if limits:
        handles.append(Line2D([], [], color="black", lw=1.6, label=f"box {result.chosen}"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    more = f" (first {max_dims} of {len(limits)} restricted inputs)" if len(limits) > max_dims else ""
    fig.suptitle(f"Box {result.chosen}: coverage {result.coverage:.2f}, density {result.density:.2f}{more}", fontsize=10)
    return save_png(fig, path)


def cart_figure(cart, path: str | Path) -> Path:
    """The CART cross-check tree (a CartResult) drawn by ``sklearn.tree.plot_tree``."""
    tree = require_extra("sklearn.tree", "the CART figure")
    width = max(8.0, 2.2 * cart.n_leaves)
    fig = _figure(width, 1.9 * (cart.max_depth + 1) + 0.6)
    ax = fig.add_subplot()
    tree.plot_tree(cart.tree, feature_names=list(cart.feature_names), class_names=["other", "case"],
                   filled=True, impurity=False, rounded=True, fontsize=8, ax=ax)
    ax.set_title(f"CART cross-check (depth {cart.max_depth}, balanced class weights): "
                 f"accuracy {cart.accuracy:.2f}, recall {cart.recall:.2f} (in-sample)\n"
                 "value = class-weighted run counts [other, case]", fontsize=10)
    return save_png(fig, path)


def make_discovery_figures(result, folder: str | Path, *, prefix: str = "") -> dict[str, Path]:
    """The three discovery figures of a DiscoveryResult in ``folder``; name -> path."""
    folder = Path(folder)
    return {
        "peeling": peeling_figure(result.prim, folder / f"{prefix}prim_peeling_trajectory.png"),
        "box_scatter": box_scatter_figure(result.prim, folder / f"{prefix}prim_box_scatter.png"),
        "cart": cart_figure(result.cart, folder / f"{prefix}cart_tree.png"),
    }


# --------------------------------------------------------------------------- search


def _lever_scale(lever, values: pd.Series):
    """Positions 0-1 of a lever's values on its own range, and tick labels at the ends."""
    from .search import _fmt_value

    if lever.kind == "categorical" or (lever.kind == "levels"):
        choices = list(lever.levels if lever.levels is not None else lever.categories)
        if lever.kind == "levels":
            lo, hi = float(min(choices)), float(max(choices))
            return (values.astype(float) - lo) / (hi - lo), [(0.0, _fmt_value(lo)), (1.0, _fmt_value(hi))]
        idx = {repr(c): i for i, c in enumerate(choices)}
        n = max(len(choices) - 1, 1)
        pos = values.map(lambda v: idx[repr(v)] / n)
        return pos.astype(float), [(i / n, str(c)) for i, c in enumerate(choices)]
    lo, hi = float(lever.low), float(lever.high)
    return (values.astype(float) - lo) / (hi - lo), [(0.0, _fmt_value(lo)), (1.0, _fmt_value(hi))]


def _objective_scale(values: pd.Series):
    from .search import _fmt_value

    v = values.astype(float)
    lo = min(0.0, float(v.min()))
    hi = float(v.max())
    if hi <= lo:
        hi = lo + 1.0
    return (v - lo) / (hi - lo), [(0.0, _fmt_value(lo)), (1.0, _fmt_value(hi))]


def pareto_figure(result, path: str | Path, *, title: str | None = None) -> Path:
    """Parallel coordinates of a SearchResult's feasible Pareto set, cheapest highlighted."""
    from matplotlib.lines import Line2D

    data = result.pareto if len(result.pareto) else result.candidates
    # An objective on a lever is that lever's own axis (marked), not a second axis.
    on_lever = {o.name: o for o in result.objectives if o.name in {lv.name for lv in result.levers}}
    axes = [(lv.name, _label(lv.name, lv.unit) + (f"\n({on_lever[lv.name].direction[:3]}imise)"
                                                  if lv.name in on_lever else ""), "lever", lv)
            for lv in result.levers]
    axes += [(o.key, _label(f"{o.aggregate} {o.name}", o.unit) + f"\n({o.direction[:3]}imise)", "objective", o)
             for o in result.objectives if o.name not in on_lever]
    fig = _figure(max(6.0, 1.7 * len(axes) + 1.5), 5.0)
    ax = fig.add_subplot()
    scaled = {}
    ticks = {}
    for col, _lbl, what, spec in axes:
        if what == "lever":
            scaled[col], ticks[col] = _lever_scale(spec, data[col])
        else:
            scaled[col], ticks[col] = _objective_scale(data[col])
    xs = np.arange(len(axes))
    mat = np.column_stack([scaled[col].to_numpy() for col, *_ in axes])
    faint = "#7f9fbf" if len(result.pareto) else "#bbbbbb"
    for row in mat:
        ax.plot(xs, row, color=faint, alpha=0.5, lw=1)
    handles = [Line2D([], [], color=faint, lw=1,
                      label=f"Pareto set ({len(result.pareto)} policies)" if len(result.pareto)
                      else f"no feasible policy: all {len(data)} candidates")]
    if result.cheapest is not None:
        i = int(np.flatnonzero(data["candidate"].to_numpy() == result.cheapest["candidate"])[0])
        ax.plot(xs, mat[i], color=HIGHLIGHT, lw=2.8, zorder=5)
        handles.append(Line2D([], [], color=HIGHLIGHT, lw=2.8,
                              label=f"cheapest feasible (candidate {int(result.cheapest['candidate'])})"))
    for k, (col, _lbl, _what, _spec) in enumerate(axes):
        ax.axvline(k, color="black", lw=0.8)
        for y, text in ticks[col]:
            ax.text(k + 0.04, y, text, fontsize=7, va="center", ha="left", color="#333333")
    ax.set_xticks(xs, [lbl for _c, lbl, *_ in axes], fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.2, len(axes) - 0.5)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or "Robust policy search: Pareto set (each axis on its own range; objectives from 0)", fontsize=10)
    fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncol=2)
    return save_png(fig, path)


def make_search_figures(result, folder: str | Path, *, prefix: str = "") -> dict[str, Path]:
    """The search figure(s) of a SearchResult in ``folder``; name -> path."""
    return {"pareto": pareto_figure(result, Path(folder) / f"{prefix}pareto_parallel.png")}
