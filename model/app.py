"""The SolaraViz page: watch a commissioning run in the browser.

Serve it with ``commissim viz`` (or ``solara run commissim.model.app``). Like Mesa's bundled examples, this module exposes ``page``; unlike them it
builds the model *inside* the page component (``solara.use_memo``), so each
browser session gets its own model and two users never step each other's run.

The page uses the matplotlib backend and plain components only (no Markdown or
Altair): the browser files they need are not all in ``solara-assets``, and the
page must work with no internet.

Panels (main area, one grid item each):

* map: ICB centroids, specialist providers sized by specialised income and
  coloured by financial state, the largest out-of-area flows as lines;
* time series: providers destabilised, out-of-area share of spend, access
  inequality (Gini and CV of need-adjusted access), unmet need;
* providers most at risk: a table;
* this run: scenario, financial year, headline measures and the parameters in force.

Controls (sidebar): the policy scenario, the key behaviour parameters (sliders
over the ranges documented in ``model.params``) and an integer seed. Mesa's
Reset builds a new model from them.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from commissim.model.measures import MEASURE_BY_NAME
from commissim.model.model import CommissioningModel
from commissim.model.params import DEFAULTS, PARAM_BY_NAME
from commissim.model.scenarios import list_scenarios

TITLE = "commissim: NHS England specialised commissioning"
DEFAULT_POLICY = "nhse_direct"
DEFAULT_SEED = 1
N_FLOWS = 15  # out-of-area flows drawn on the map
N_AT_RISK = 10  # rows of the at-risk table

# The key behaviour parameters shown as sliders (ranges come from the registry).
SLIDER_PARAMS: dict[str, str] = {
    "funding_growth": "Funding growth a year after 2025-26",
    "deficit_severity": "Opening deficits (x calibrated)",
    "system_weight": "System weight (in-system priority)",
    "referral_shift": "Repatriation per unit of stress",
    "local_start_share": "Local start threshold",
    "nhse_tolerance": "NHS England's tolerance",
    "needs_weight_target": "Needs-weight target",
    "pool_share": "Stabilisation pool",
}

# Measures shown (labels, units and scales from the measure registry, model/measures.py):
# the time-series panels (title, measures drawn) and the rows of the "this run" table.
SERIES_PANELS = (
    ("Providers destabilised", ("providers_destabilised", "providers_needing_support")),
    ("Out-of-area income", ("out_of_area_income_change",)),
    ("Access inequality", ("access_gini", "access_cv")),
    ("Unmet need", ("unmet_need_share",)),
)
SUMMARY_ROWS = ("providers_destabilised", "providers_needing_support", "trust_sector_margin",
                "cumulative_lines_withdrawn", "local_services_started", "out_of_area_income_change",
                "unmet_need_share", "access_gini", "total_spend", "budget_total")

# Provider state colours (map and table).
STABLE, DESTABILISED, DISTRESS = "#2e7d32", "#f0a202", "#c62828"
FLOW_COLOUR = "#1f5fa8"


# --------------------------------------------------------------------------- model
def parse_seed(value: Any) -> tuple[int, str]:
    """An integer seed from the seed box; (seed, note) where note explains a fallback."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), ""
    text = "" if value is None else str(value).strip()
    try:
        seed = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            f = math.nan
        if f.is_integer():
            return int(f), ""
        return DEFAULT_SEED, f"seed {text!r} is not an integer; seed {DEFAULT_SEED} used"
    if seed < 0:
        return DEFAULT_SEED, f"seed {seed} is negative; seed {DEFAULT_SEED} used"
    return seed, ""


class VizModel(CommissioningModel):
    """``CommissioningModel`` as the page builds it.

    * The policy scenario is the ``policy`` keyword: Mesa's Reset passes its own
      ``Scenario`` object as ``scenario=``, which is ignored here (the policy lives
      in ``model.policy``; Mesa's ``model.scenario`` is left alone).
    * ``rng`` may be the text of the seed box (an integer; anything else falls
      back to the default seed, with a note in ``seed_note``).
    * A slider left at the registry default keeps the scenario's own value (only
      ``needs_based`` sets one of the slider parameters); any other value wins.
    * Agent-level data collection is off: the panels read the model's arrays.
    """

    def __init__(self, policy: str = DEFAULT_POLICY, rng: Any = DEFAULT_SEED, scenario: Any = None,
                 **parameters: Any):
        if isinstance(scenario, str):
            policy = scenario
        seed, note = parse_seed(rng)
        user = {}
        for name, value in parameters.items():
            spec = PARAM_BY_NAME.get(name)
            if spec is not None and spec.kind == "float" and isinstance(value, (int, float)):
                value = min(max(round(float(value), 9), spec.low), spec.high)  # slider float noise
            if name in SLIDER_PARAMS and value == DEFAULTS[name]:
                continue
            user[name] = value
        super().__init__(scenario=policy, rng=seed, collect_agent_data=False, **user)
        self.seed = seed
        self.seed_note = note


def slider_step(low: float, high: float) -> float:
    """A round slider step giving about 100 positions."""
    raw = (high - low) / 100
    exp = math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * 10**exp >= raw - 1e-15:
            return round(m * 10**exp, 12)
    return raw  # pragma: no cover


def model_params() -> dict[str, Any]:
    """The sidebar inputs, in Mesa's ``model_params`` format."""
    scen = [s.name for s in list_scenarios()]
    params: dict[str, Any] = {
        "policy": {"type": "Select", "value": DEFAULT_POLICY, "values": scen, "label": "Scenario"},
    }
    for name, label in SLIDER_PARAMS.items():
        spec = PARAM_BY_NAME[name]
        params[name] = {
            "type": "SliderFloat" if spec.kind == "float" else "SliderInt",
            "value": spec.default,
            "min": spec.low,
            "max": spec.high,
            "step": slider_step(spec.low, spec.high) if spec.kind == "float" else 1,
            "label": f"{label} [{spec.low:g}–{spec.high:g}]",
        }
    params["rng"] = {"type": "InputText", "value": str(DEFAULT_SEED), "label": "Seed (integer)"}
    return params


# ------------------------------------------------------------------- model readers
def provider_state(model: CommissioningModel) -> np.ndarray:
    """Per provider: 0 stable, 1 destabilised, 2 on revenue (cash) support."""
    st = model.state
    return np.where(st.needs_support, 2, np.where(st.destabilised, 1, 0))


def out_of_area_flows(model: CommissioningModel, n: int = N_FLOWS) -> list[tuple[int, int, float]]:
    """The ``n`` largest ICB -> provider payments (£m, summed over services) to
    providers hosted outside the paying ICB, largest first."""
    st, d = model.state, model.data
    flows = np.zeros((d.n_providers, d.n_icbs))
    np.add.at(flows, model.lines.p, st.payments.T)  # (P, I)
    flows = flows.T  # (I, P)
    flows[d.provider_icb[None, :] == np.arange(d.n_icbs)[:, None]] = 0.0
    top = np.argsort(flows, axis=None)[::-1][:n]
    out = []
    for flat in top:
        i, p = np.unravel_index(flat, flows.shape)
        if flows[i, p] > 0:
            out.append((int(i), int(p), float(flows[i, p])))
    return out


def at_risk(model: CommissioningModel, n: int = N_AT_RISK) -> list[dict[str, Any]]:
    """Providers most at risk: on cash support first, then destabilised, then by margin (deepest
    deficit first), then by specialised income change."""
    st, d = model.state, model.data
    state = provider_state(model)
    order = np.lexsort((st.income_change, st.margin, -state))[:n]
    labels = ("stable", "destabilised", "cash support")
    return [
        {
            "provider": str(d.provider_short[p]),
            "host_icb": str(d.icb_short[d.provider_icb[p]]),
            "income_change_pct": 100.0 * float(st.income_change[p]),
            "margin_pct": 100.0 * float(st.margin[p]),
            "lines_withdrawn": int(st.withdrawn[p].sum()),
            "state": labels[state[p]],
        }
        for p in order
    ]


def series(model: CommissioningModel) -> dict[str, list[float]]:
    return model.datacollector.model_vars


def title_text(model: CommissioningModel) -> str:
    return f"{model.policy_name} · {model.financial_year} (step {model.steps})"


# ------------------------------------------------------------------------- panels
LONDON = (-0.44, 0.2, 51.37, 51.65)  # lon, lon, lat, lat of the London inset
_ASPECT = 1 / math.cos(math.radians(52.5))  # degrees of latitude per degree of longitude on screen


def _draw_layer(ax, model: CommissioningModel, flows, scale: float, *, flow_width: float, icb_size: float = 12
                ) -> None:
    """ICB centres, out-of-area flows and providers on one map axes."""
    d, st = model.data, model.state
    ax.scatter(d.icb_lon, d.icb_lat, s=icb_size, marker="s", c="#8a8a8a", alpha=0.8, lw=0, zorder=1)
    if flows:
        vmax = flows[0][2]
        for i, p, v in reversed(flows):
            ax.plot([d.icb_lon[i], d.prov_lon[p]], [d.icb_lat[i], d.prov_lat[p]], color=FLOW_COLOUR,
                    lw=0.5 + flow_width * v / vmax, alpha=0.6, solid_capstyle="round", zorder=4)
    income = np.maximum(st.spec_income, 0.0)
    colours = np.array([STABLE, DESTABILISED, DISTRESS])[provider_state(model)]
    order = np.argsort(-income)  # large first, small on top
    ax.scatter(d.prov_lon[order], d.prov_lat[order], s=np.maximum(income[order] * scale, 5.0),
               c=colours[order], edgecolors="black", linewidths=0.4, alpha=0.8, zorder=3)
    ax.set_aspect(_ASPECT)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_color("#bbbbbb")


def map_figure(model: CommissioningModel) -> Figure:
    """England (left), London enlarged (top right) and the legend (bottom right)."""
    d, st = model.data, model.state
    fig = Figure(figsize=(5.3, 5.0), dpi=90)
    fig.suptitle(f"{title_text(model)}\nspecialist providers and the largest out-of-area flows",
                 fontsize=9.5, y=0.985)
    flows = out_of_area_flows(model)
    scale = 320.0 / max(float(st.base_income.max()), 1e-9)  # marker area (pt²) per £m, fixed per run
    state = provider_state(model)

    ax = fig.add_axes((0.0, 0.0, 0.63, 0.88))
    _draw_layer(ax, model, flows, scale, flow_width=3.0)
    ax.set_xlim(-5.8, 1.85)
    ax.set_ylim(49.85, 55.9)
    lo0, lo1, la0, la1 = LONDON
    ax.add_patch(Rectangle((lo0, la0), lo1 - lo0, la1 - la0, fill=False, ec="#555555", lw=0.7, zorder=5))
    at_risk_idx = [int(p) for p in np.argsort(st.income_change) if state[p] > 0][:4]
    for p in at_risk_idx:
        ax.annotate(str(d.provider_short[p]), (d.prov_lon[p], d.prov_lat[p]), xytext=(5, 3),
                    textcoords="offset points", fontsize=6.5, zorder=6,
                    color=DISTRESS if state[p] == 2 else "#8a5a00")

    lon = fig.add_axes((0.635, 0.5, 0.36, 0.36))
    _draw_layer(lon, model, flows, 0.5 * scale, flow_width=2.5, icb_size=20)
    lon.set_xlim(lo0, lo1)
    lon.set_ylim(la0, la1)
    lon.set_title("London (enlarged; smaller circles)", fontsize=7.5, pad=2)
    in_box = (d.icb_lon > lo0) & (d.icb_lon < lo1) & (d.icb_lat > la0) & (d.icb_lat < la1)
    for i in np.flatnonzero(in_box):
        lon.annotate(str(d.icb_short[i]), (d.icb_lon[i], d.icb_lat[i]), xytext=(0, -7), ha="center",
                     textcoords="offset points", fontsize=5.5, color="#555555", zorder=6)

    leg = fig.add_axes((0.645, 0.0, 0.35, 0.46))
    leg.axis("off")
    ref = [v for v in (100, 300, 600) if v <= st.base_income.max() * 1.2] or [100]
    handles = [
        Line2D([], [], ls="", marker="o", mfc=STABLE, mec="black", mew=0.4, ms=7, label="stable"),
        Line2D([], [], ls="", marker="o", mfc=DESTABILISED, mec="black", mew=0.4, ms=7, label="destabilised"),
        Line2D([], [], ls="", marker="o", mfc=DISTRESS, mec="black", mew=0.4, ms=7, label="on cash support"),
    ] + [
        Line2D([], [], ls="", marker="o", mfc="white", mec="black", mew=0.4, ms=math.sqrt(v * scale),
               label=f"£{v}m income")
        for v in ref
    ] + [
        Line2D([], [], color=FLOW_COLOUR, lw=2.5, alpha=0.6, label=f"{N_FLOWS} largest out-of-area\nflows (ICB → provider)"),
        Line2D([], [], ls="", marker="s", mfc="#8a8a8a", mec="none", ms=4, label="ICB centre"),
    ]
    leg.legend(handles=handles, loc="upper left", fontsize=7, frameon=False, labelspacing=0.85,
               borderpad=0.0, handletextpad=0.8, borderaxespad=0.0)
    if flows:
        i, p, v = flows[0]
        leg.text(0.0, 0.0, f"largest: {d.icb_short[i]}\n→ {d.provider_short[p]}, £{v:,.0f}m a year",
                 transform=leg.transAxes, ha="left", va="bottom", fontsize=6.5, color=FLOW_COLOUR)
    return fig


def series_figure(model: CommissioningModel) -> Figure:
    data = series(model)
    n = len(data["providers_destabilised"])
    years = np.arange(n) + model.year - model.steps
    # A fixed layout: constrained/tight layout would double the drawing time.
    fig = Figure(figsize=(5.6, 4.4), dpi=90)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.11, top=0.86, wspace=0.25, hspace=0.3)
    axes = fig.subplots(2, 2, sharex=True)
    for ax, (title, names) in zip(axes.ravel(), SERIES_PANELS):
        for name, ls in zip(names, ("-", "--")):
            m = MEASURE_BY_NAME[name]
            ax.plot(years, np.asarray(data[name], dtype=float) * m.scale, ls, marker="o", ms=2.5, lw=1.4,
                    label=m.heading if len(names) > 1 else None)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_ylabel(MEASURE_BY_NAME[names[0]].unit, fontsize=7)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        if len(names) > 1:
            ax.legend(fontsize=6.5, frameon=False)
    axes[0, 0].set_ylim(0, max(3.0, 1.15 * max(data["providers_destabilised"])))
    axes[0, 0].yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[1]:
        ax.set_xlabel("financial year starting", fontsize=7)
    fig.suptitle(f"{title_text(model)}", fontsize=9.5)
    return fig


@solara.component
def MapPanel(model: CommissioningModel):
    # A component (not a plain function) so that the figure is redrawn only when the
    # model steps or is replaced, not on every re-render (e.g. a slider move).
    counter = update_counter.get()
    fig = solara.use_memo(lambda: map_figure(model), [model, counter])
    return solara.FigureMatplotlib(fig, format="png", dependencies=[model, counter])


@solara.component
def SeriesPanel(model: CommissioningModel):
    counter = update_counter.get()
    fig = solara.use_memo(lambda: series_figure(model), [model, counter])
    return solara.FigureMatplotlib(fig, format="png", dependencies=[model, counter])


_TABLE_CSS = (
    "font-size:12px;border-collapse:collapse;width:100%;"
)


def _cell(text: str, *, head: bool = False, right: bool = False, style: str = "") -> str:
    tag = "th" if head else "td"
    align = "right" if right else "left"
    return (f'<{tag} style="text-align:{align};padding:2px 6px;border-bottom:1px solid #ddd;{style}">'
            f"{html.escape(text)}</{tag}>")


def at_risk_html(model: CommissioningModel) -> str:
    colour = {"stable": STABLE, "destabilised": DESTABILISED, "cash support": DISTRESS}
    head = "".join(_cell(h, head=True, right=r) for h, r in (
        ("Provider", False), ("Host ICB", False), ("Income change", True), ("Margin", True),
        ("Lines withdrawn", True), ("State", False)))
    rows = []
    for r in at_risk(model):
        rows.append("<tr>" + "".join([
            _cell(r["provider"]),
            _cell(r["host_icb"]),
            _cell(f"{r['income_change_pct']:+.1f}%", right=True),
            _cell(f"{r['margin_pct']:+.1f}%", right=True),
            _cell(str(r["lines_withdrawn"]), right=True),
            _cell(r["state"], style=f"color:{colour[r['state']]};font-weight:bold"),
        ]) + "</tr>")
    return (
        f'<div class="commissim-at-risk" style="padding:4px 8px">'
        f'<div style="font-weight:bold;font-size:14px;margin-bottom:4px">Providers most at risk — '
        f"{html.escape(model.financial_year)}</div>"
        f'<table style="{_TABLE_CSS}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f'<div style="font-size:11px;color:#666;margin-top:4px">Income change: specialised income against '
        f"its fair-share path (base-year income grown with prices and demand); margin: whole-trust surplus, "
        f"share of income. Ranked by state, then margin.</div></div>"
    )


@solara.component
def AtRiskPanel(model: CommissioningModel):
    update_counter.get()
    return solara.HTML(tag="div", unsafe_innerHTML=at_risk_html(model))


def summary_html(model: CommissioningModel) -> str:
    p = model.p
    rows = [(MEASURE_BY_NAME[name].label, MEASURE_BY_NAME[name].text(model.measures[name])) for name in SUMMARY_ROWS]
    params = [(label, f"{p[name]:g}") for name, label in SLIDER_PARAMS.items()]
    params.append(("Seed", str(model.seed)))

    def table(items):
        return ('<table style="font-size:12px;border-collapse:collapse;width:100%">' + "".join(
            f'<tr>{_cell(k)}{_cell(v, right=True)}</tr>' for k, v in items) + "</table>")

    note = (f'<div style="color:{DISTRESS};font-size:12px">{html.escape(model.seed_note)}</div>'
            if getattr(model, "seed_note", "") else "")
    return (
        f'<div class="commissim-summary" style="padding:4px 8px">'
        f'<div style="font-weight:bold;font-size:14px">{html.escape(title_text(model))}</div>'
        f'<div style="font-size:12px;color:#444;margin:2px 0 6px">{html.escape(model.policy.description)} '
        f"(arrangement this year: {html.escape(str(p['arrangement']))})</div>"
        f"{note}{table(rows)}"
        f'<div style="font-weight:bold;font-size:12px;margin-top:8px">Parameters in force</div>'
        f"{table(params)}"
        f'<div style="font-size:11px;color:#666;margin-top:4px">Change a control, then press Reset to '
        f"start a new run with it. A slider left at its default keeps the scenario's own value.</div></div>"
    )


@solara.component
def SummaryPanel(model: CommissioningModel):
    update_counter.get()
    return solara.HTML(tag="div", unsafe_innerHTML=summary_html(model))


PANELS = (MapPanel, SeriesPanel, AtRiskPanel, SummaryPanel)

# The page's own grid (12 columns; a row is 30 px plus a 10 px margin): map and at-risk
# table on the left, time series and summary on the right. Mesa's SolaraViz would give
# every panel a 6 x 10 cell, too short for the map and the tables, so the page draws the
# panels itself, in a solara.GridDraggable; users can still drag and resize them.
PANEL_LAYOUT = (
    {"i": 0, "x": 0, "y": 0, "w": 6, "h": 12, "moved": False},
    {"i": 1, "x": 6, "y": 0, "w": 6, "h": 11, "moved": False},
    {"i": 2, "x": 0, "y": 12, "w": 6, "h": 13, "moved": False},
    {"i": 3, "x": 6, "y": 11, "w": 6, "h": 14, "moved": False},
)


@solara.component
def Dashboard(model: CommissioningModel):
    """The four panels in the page's own grid layout."""
    layout, set_layout = solara.use_state([dict(item) for item in PANEL_LAYOUT])
    solara.GridDraggable(items=[panel(model) for panel in PANELS], grid_layout=layout, resizable=True,
                         draggable=True, on_grid_layout=set_layout)


# --------------------------------------------------------------------------- page
@solara.component
def Page():
    """One model per browser session: created here, not at module level.

    Mesa's SolaraViz draws the app bar and the sidebar (Step, Play, Reset, the scenario,
    sliders and seed); it gets no components of its own, and the main area is the
    Dashboard. Both read the same reactive model, which Mesa's Reset replaces.
    """
    first = solara.use_memo(lambda: VizModel(), [])
    model = solara.use_reactive(first)
    SolaraViz(model, components=[], model_params=model_params(), name=TITLE, play_interval=300)
    Dashboard(model.value)


page = Page
