"""Maps of England's ICBs: boundaries, a choropleth of an ICB measure, providers on top.

The boundaries are ``seeds/icb_boundaries_2023.geojson`` (42 ICBs, ONS open data, simplified;
``seeds/README.md``), read with the ``json`` module and drawn with matplotlib as one compound
path per ICB. ICBs are matched by their ODS code (``icb_code`` in ``seeds/icbs.csv``); an ICB
with no boundary (e.g. in a test world) is drawn as a square at its centre. Every map carries
the licence's attribution line (:data:`ATTRIBUTION`).

The ICB measures a map can show (labels and units in the measure registry,
``model.measures.MEASURES``, kind ``"icb"``) are computed by :func:`icb_values` from the model's
arrays and the base-year values :func:`icb_base` records before the first round.

Used by ``commissim run`` (``map.png``), ``commissim compare`` (a difference between two scenarios
by ICB) and the browser page. No file output here: callers save the figures.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel

__all__ = ["ATTRIBUTION", "BOUNDARIES_FILE", "ICB_MEASURES", "boundaries", "boundaries_path", "icb_base",
           "icb_values", "draw_icbs", "draw_providers", "place_labels", "attribution", "ENGLAND", "LONDON",
           "ASPECT", "provider_state", "at_risk_order", "map_figure", "frame", "london_mask"]

ATTRIBUTION = ("Source: Office for National Statistics licensed under the Open Government Licence v.3.0. "
               "Contains OS data © Crown copyright and database right 2024")
BOUNDARIES_FILE = "icb_boundaries_2023.geojson"
# The ICB measures a map can show (registry entries of kind "icb" in model/measures.py).
ICB_MEASURES = ("icb_access_rate", "icb_budget_change", "icb_out_of_area_spend_change")
ENGLAND = (-5.8, 1.85, 49.85, 55.9)  # lon, lon, lat, lat
LONDON = (-0.52, 0.34, 51.27, 51.71)
ASPECT = 1 / math.cos(math.radians(52.5))  # degrees of latitude per degree of longitude on screen
STATE_COLOURS = ("#2e7d32", "#f0a202", "#c62828")  # stable, destabilised, on cash support
STATE_LABELS = ("stable", "destabilised", "on cash support")
# Diverging ICB colours: purple below the centre (England's rate, or no change), blue above; no red, amber or
# green, so the providers' state colours stay readable on top.
DIVERGING = ("#5e2a7e", "#a07cc0", "#dcd0e8", "#f7f7f7", "#c9e0ef", "#6baed6", "#1d5d9b")


def diverging_cmap():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("commissim_diverging", DIVERGING)


# --------------------------------------------------------------------------- boundaries
def boundaries_path() -> Path:
    """The boundaries file shipped with the package (``commissim/seeds/``)."""
    return Path(__file__).resolve().parent.parent / "seeds" / BOUNDARIES_FILE


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


@lru_cache(maxsize=4)
def boundaries(path: str | None = None) -> dict[str, Any]:
    """ODS code -> a matplotlib ``Path`` of the ICB (every part, holes cut out), from the GeoJSON file.

    Exterior rings are made anticlockwise and holes clockwise, so holes stay holes whatever
    the file's ring orientation.
    """
    from matplotlib.path import Path as MPath

    raw = json.loads(Path(path or boundaries_path()).read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    for feature in raw["features"]:
        geom = feature["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        verts, codes = [], []
        for poly in polys:
            for k, ring in enumerate(poly):
                r = np.asarray(ring, dtype=float)
                if len(r) < 4:
                    continue
                if (_signed_area(r) > 0) != (k == 0):  # exterior anticlockwise, holes clockwise
                    r = r[::-1]
                verts.append(r)
                codes.append(np.r_[MPath.MOVETO, np.full(len(r) - 2, MPath.LINETO), MPath.CLOSEPOLY])
        out[str(feature["properties"]["icb_ods_code"])] = MPath(np.vstack(verts), np.concatenate(codes))
    return out


# --------------------------------------------------------------------------- ICB measures
def icb_base(model: CommissioningModel) -> dict[str, np.ndarray]:
    """The base-year values the ICB changes are measured against (call before the first round)."""
    st = model.state
    return {"budget": np.array(st.icb_budget, dtype=float), "out_of_area": np.array(st.icb_spend_out_area, dtype=float)}


def _change(now: np.ndarray, base: np.ndarray) -> np.ndarray:
    out = np.divide(now, base, out=np.full_like(now, np.nan, dtype=float), where=base > 0) - 1.0
    return np.where(np.abs(out) < 1e-9, 0.0, out)


def icb_values(model: CommissioningModel, base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This round's value of every ICB measure (one value per ICB, in seed order), noise within 1e-9 zeroed."""
    st = model.state
    rate = np.array(st.access_rate, dtype=float)
    return {
        "icb_access_rate": np.where(np.abs(rate) < 1e-9, 0.0, rate),
        "icb_budget_change": _change(np.asarray(st.icb_budget, dtype=float), base["budget"]),
        "icb_out_of_area_spend_change": _change(np.asarray(st.icb_spend_out_area, dtype=float), base["out_of_area"]),
    }


# --------------------------------------------------------------------------- providers
def provider_state(model: CommissioningModel) -> np.ndarray:
    """Per provider: 0 stable, 1 destabilised, 2 on revenue (cash) support."""
    st = model.state
    return np.where(st.needs_support, 2, np.where(st.destabilised, 1, 0))


def at_risk_order(model: CommissioningModel) -> np.ndarray:
    """Providers most at risk first: on cash support, then destabilised, then deepest deficit
    (margin), then specialised income change."""
    st = model.state
    return np.lexsort((st.income_change, st.margin, -provider_state(model)))


# --------------------------------------------------------------------------- drawing
def draw_icbs(ax, data, values, *, cmap, norm, edgecolor: str = "white", lw: float = 0.4,
              missing: str = "#dddddd", zorder: float = 1):
    """ICB areas coloured by ``values`` (one per ICB, NaN = no value); returns the collection
    (for a colour bar). ICBs with no boundary are drawn as squares at their centres."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch

    import matplotlib

    shapes = boundaries()
    values = np.asarray(values, dtype=float)
    cmap = (matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap).with_extremes(bad=missing)
    patches, vals, loose = [], [], []
    for i, code in enumerate(data.icb_code):
        path = shapes.get(str(code))
        if path is None:
            loose.append(i)
            continue
        patches.append(PathPatch(path))
        vals.append(values[i])
    vals = np.asarray(vals)
    coll = PatchCollection(patches, cmap=cmap, norm=norm, edgecolor=edgecolor, linewidth=lw, zorder=zorder)
    coll.set_array(np.ma.masked_invalid(vals))
    ax.add_collection(coll)
    if loose:
        idx = np.asarray(loose)
        ax.scatter(data.icb_lon[idx], data.icb_lat[idx], c=values[idx], cmap=cmap, norm=norm, marker="s", s=60,
                   edgecolors="#666666", linewidths=0.4, zorder=zorder + 0.1)
    return coll


def draw_providers(ax, data, income, state, *, scale: float, zorder: float = 3) -> None:
    """Providers as circles sized by specialised income and coloured by financial state."""
    income = np.maximum(np.asarray(income, dtype=float), 0.0)
    colours = np.array(STATE_COLOURS)[np.asarray(state, dtype=int)]
    order = np.argsort(-income)  # large first, small on top
    ax.scatter(data.prov_lon[order], data.prov_lat[order], s=np.maximum(income[order] * scale, 5.0),
               c=colours[order], edgecolors="black", linewidths=0.4, alpha=0.85, zorder=zorder)


def frame(ax, box=ENGLAND) -> None:
    """Axes limits and look of a map of ``box`` (lon, lon, lat, lat)."""
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect(ASPECT)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_color("#bbbbbb")


def attribution(fig, *, fontsize: float = 5.5, y: float = 0.003, x: float = 0.005) -> None:
    """The licence's attribution line at the bottom of ``fig``."""
    fig.text(x, y, ATTRIBUTION, fontsize=fontsize, color="#555555", ha="left", va="bottom")


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(ax, xs, ys, texts, *, fontsize: float = 6.5, colours=None, avoid_radius: float = 4.0,
                 radii=None, zorder: float = 6) -> list:
    """Label points (data coordinates) so that labels neither overlap each other nor leave the axes.

    A small greedy placement: labels are placed in the order given (most important first), each
    at the nearest of rings of candidate offsets whose box (estimated from the text length and
    font size) overlaps no label already placed and no labelled point; labels away from their
    point get a leader line. ``radii`` (points, one per point) keep labels off the points' markers.
    A label with no free place is left out (the most important come first). Returns the annotations, each with ``commissim_box``, the display box it reserved.
    Call after the axes limits and the figure size are final.
    """
    fig = ax.figure
    px = fig.dpi / 72.0
    box = ax.get_window_extent()
    bounds = (box.x0, box.y0, box.x1, box.y1)
    pts = ax.transData.transform(np.column_stack([xs, ys])) if len(xs) else np.zeros((0, 2))
    rs = (np.maximum(np.asarray(radii, dtype=float), avoid_radius) if radii is not None
          else np.full(len(pts), avoid_radius)) * px
    taken = [(x - r, y - r, x + r, y + r) for (x, y), r in zip(pts, rs)]
    out = []
    colours = colours or ["#222222"] * len(texts)
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=2.4, foreground="white")]
    for (x, y), text, colour, r in zip(pts, texts, colours, rs):
        lines = str(text).split("\n")
        w = 0.58 * fontsize * px * max(len(s) for s in lines) + 3 * px
        h = 1.3 * fontsize * px * len(lines) + 1 * px
        found = None
        for ring in (1, 2, 3, 4.5, 6.5, 9, 12):
            d = r + 3 * px * ring
            for dx, dy in ((d, 0.3 * d), (d, -h - 0.3 * d), (-w - d, 0.3 * d), (-w - d, -h - 0.3 * d),
                           (-w / 2, d), (-w / 2, -h - d), (d, -h / 2), (-w - d, -h / 2),
                           (0.3 * d, d), (-w - 0.3 * d, d), (0.3 * d, -h - d), (-w - 0.3 * d, -h - d)):
                b = (x + dx, y + dy, x + dx + w, y + dy + h)
                if b[0] < bounds[0] or b[2] > bounds[2] or b[1] < bounds[1] or b[3] > bounds[3]:
                    continue
                if not any(_overlap(b, t) for t in taken):
                    found = (dx, dy, b, ring)
                    break
            if found:
                break
        if found is None:
            continue
        dx, dy, b, ring = found
        taken.append(b)
        xy = ax.transData.inverted().transform((x, y))
        ann = ax.annotate(text, tuple(xy), xytext=(dx / px, dy / px), textcoords="offset points",
                          fontsize=fontsize, color=colour, zorder=zorder, ha="left", va="bottom",
                          annotation_clip=False, path_effects=halo,
                          arrowprops=({"arrowstyle": "-", "color": colour, "lw": 0.6, "shrinkA": 0, "shrinkB": 2}
                                      if ring > 2 else None))
        ann.commissim_box = b
        out.append(ann)
    return out


# --------------------------------------------------------------------------- the map of one run
def _norm(name: str, values: np.ndarray):
    """A colour scale for an ICB measure: access diverges around England's rate, changes around zero."""
    from matplotlib.colors import Normalize, TwoSlopeNorm

    from .measures import MEASURE_BY_NAME

    v = values[np.isfinite(values)]
    if not v.size:
        return "viridis", Normalize(0, 1)
    lo, hi = float(v.min()), float(v.max())
    centre = 100.0 if name == "icb_access_rate" else 0.0 if MEASURE_BY_NAME[name].unit.startswith("%") else None
    if centre is not None and lo < centre < hi:
        half = max(centre - lo, hi - centre)
        return diverging_cmap(), TwoSlopeNorm(vcenter=centre, vmin=centre - half, vmax=centre + half)
    if centre == 0.0:  # a change all on one side of zero: the scale starts at zero (37-38% is not a spread)
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    return "viridis", Normalize(lo, hi)


def london_mask(data, box=LONDON) -> np.ndarray:
    lo0, lo1, la0, la1 = box
    return (data.prov_lon > lo0) & (data.prov_lon < lo1) & (data.prov_lat > la0) & (data.prov_lat < la1)


def map_figure(model: CommissioningModel, name: str, values, *, title: str, fig=None, figsize=(7.4, 7.0),
               dpi: float = 110, n_labels: int = 5, flows=None, fontsize: float = 8.0):
    """The map of one run: ICBs coloured by ``values`` of measure ``name`` (one per ICB, unscaled), providers
    on top sized by specialised income and coloured by financial state, labels for the few providers most at
    risk placed without overlap (London's in an enlarged inset), a colour bar, a legend and the attribution.

    ``flows``: optional ``(icb, provider, £m)`` lines to draw (largest first). Returns the figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    from .measures import MEASURE_BY_NAME

    d, st = model.data, model.state
    m = MEASURE_BY_NAME[name]
    shown = np.asarray(values, dtype=float) * m.scale
    cmap, norm = _norm(name, shown)
    fig = fig or Figure(figsize=figsize, dpi=dpi)
    fig.suptitle(title, fontsize=fontsize + 1.5, y=0.995)
    income = np.maximum(st.spec_income, 0.0)
    scale = 300.0 / max(float(st.base_income.max()), 1e-9)  # marker area (pt²) per £m, fixed per run
    state = provider_state(model)

    main = fig.add_axes((0.0, 0.05, 0.62, 0.86))
    lon = fig.add_axes((0.635, 0.53, 0.36, 0.36))
    for ax, box, s in ((main, ENGLAND, scale), (lon, LONDON, 0.5 * scale)):
        coll = draw_icbs(ax, d, shown, cmap=cmap, norm=norm)
        if flows:
            vmax = flows[0][2]
            for i, p, v in reversed(flows):
                ax.plot([d.icb_lon[i], d.prov_lon[p]], [d.icb_lat[i], d.prov_lat[p]], color="#222222",
                        lw=0.4 + 2.2 * v / vmax, alpha=0.45, solid_capstyle="round", zorder=2.5)
        draw_providers(ax, d, income, state, scale=s)
        frame(ax, box)
    lo0, lo1, la0, la1 = LONDON
    main.add_patch(Rectangle((lo0, la0), lo1 - lo0, la1 - la0, fill=False, ec="#333333", lw=0.7, zorder=5))
    lon.set_title("London (enlarged; smaller circles)", fontsize=fontsize - 0.5, pad=2)

    # Labels: the few providers most at risk (destabilised or on cash support), most at risk first.
    risky = [int(p) for p in at_risk_order(model) if state[p] > 0][:n_labels]
    in_london = london_mask(d)
    colours = {1: "#8a5a00", 2: STATE_COLOURS[2]}
    for ax, pick, s in ((main, [p for p in risky if not in_london[p]], scale),
                        (lon, [p for p in risky if in_london[p]], 0.5 * scale)):
        if pick:
            radii = np.sqrt(np.maximum(income[pick] * s, 5.0)) / 2  # marker radius, points
            place_labels(ax, d.prov_lon[pick], d.prov_lat[pick], [str(d.provider_short[p]) for p in pick],
                         fontsize=fontsize - 1.3, colours=[colours[int(state[p])] for p in pick], radii=radii)

    cax = fig.add_axes((0.66, 0.455, 0.31, 0.022))
    cb = fig.colorbar(coll, cax=cax, orientation="horizontal")
    cb.set_label(m.axis_label, fontsize=fontsize - 1)
    cb.ax.tick_params(labelsize=fontsize - 1.5)
    leg = fig.add_axes((0.645, 0.05, 0.35, 0.33))
    leg.axis("off")
    ref = [v for v in (100, 300, 600) if v <= st.base_income.max() * 1.2] or [100]
    handles = [Line2D([], [], ls="", marker="o", mfc=c, mec="black", mew=0.4, ms=6.5, label=lab)
               for c, lab in zip(STATE_COLOURS, STATE_LABELS)]
    handles += [Line2D([], [], ls="", marker="o", mfc="white", mec="black", mew=0.4, ms=math.sqrt(v * scale),
                       label=f"£{v}m specialised income") for v in ref]
    if flows:
        handles.append(Line2D([], [], color="#222222", lw=2, alpha=0.45,
                              label=f"{len(flows)} largest out-of-area\nflows (ICB → provider)"))
    leg.legend(handles=handles, loc="upper left", fontsize=fontsize - 1.3, frameon=False, labelspacing=0.8,
               borderpad=0.0, handletextpad=0.8, borderaxespad=0.0)
    note = (f"labelled: the {len(risky)} providers most at risk" if risky else "no provider destabilised")
    leg.text(0.0, 0.0, note, transform=leg.transAxes, fontsize=fontsize - 1.5, color="#444444", va="bottom")
    attribution(fig, fontsize=fontsize - 2.8)
    return fig
