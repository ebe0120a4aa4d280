"""The SolaraViz page: watch a commissioning run in the browser.

Serve it with ``commissim viz`` (or ``solara run commissim.model.app``). Like Mesa's bundled examples, this module exposes ``page``; unlike them it
builds the model *inside* the page component (``solara.use_memo``), so each
browser session gets its own model and two users never step each other's run.

The page uses the matplotlib backend and plain components only (no Markdown or
Altair): the browser files they need are not all in ``solara-assets``, and the
page must work with no internet.

Panels (main area, one grid item each):

* map: the ICB areas (ONS boundaries, ``seeds/icb_boundaries_2023.geojson``) coloured by a
  chosen ICB measure (need-adjusted access rate, budget change or out-of-area spend change
  since 2022-23), specialist providers on top sized by specialised income and coloured by
  financial state, the largest out-of-area flows as lines, labels for the few providers most
  at risk placed without overlap, London enlarged, the licence's attribution line
  (``model.maps``);
* time series: providers destabilised, out-of-area income, access inequality (Gini and
  CV of need-adjusted access), unmet need, over the financial years from 2022-23, value axes
  from zero and no floating-point noise;
* providers most at risk: a table;
* this run: scenario, financial year, headline measures and the parameters in force.

Controls (sidebar): the policy scenario, the key behaviour parameters (sliders over the
ranges documented in ``model.params``, each label showing its current value) and an integer
seed. Mesa's Reset builds a new model from them.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, ScalarFormatter
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from commissim.model import maps
from commissim.model.measures import MEASURE_BY_NAME
from commissim.model.model import CommissioningModel
from commissim.model.params import DEFAULTS, PARAM_BY_NAME
from commissim.model.scenarios import BASE_YEAR, fy_label, list_scenarios

TITLE = "commissim: NHS England specialised commissioning"
DEFAULT_POLICY = "nhse_direct"
DEFAULT_SEED = 1
N_FLOWS = 15  # out-of-area flows drawn on the map
N_AT_RISK = 10  # rows of the at-risk table

# The key behaviour parameters shown as sliders (ranges come from the registry).
SLIDER_PARAMS: dict[str, str] = {
    "funding_growth": "Funding growth after 2025-26",
    "deficit_severity": "Opening deficits (× calibrated)",
    "system_weight": "System weight (in-system priority)",
    "referral_shift": "Repatriation per unit of stress",
    "local_start_share": "Local start threshold",
    "nhse_tolerance": "NHS England's tolerance",
    "needs_weight_target": "Needs-weight target",
    "pool_share": "Stabilisation pool",
    "variable_cost_share": "Variable share of a case's cost",
    "margin_response": "Trusts' response to their margin",
}
# Choices in the sidebar (structural switches the sources do not settle).
SELECT_PARAMS: dict[str, str] = {
    "ringfence": "Ring-fence of delegated budgets",
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
                "lines_withdrawn", "local_services_started", "out_of_area_income_change",
                "unmet_need_share", "access_gini", "total_spend", "budget_total")

# The ICB measures the map can show (labels and units from the registry: kind "icb").
MAP_MEASURES = maps.ICB_MEASURES
DEFAULT_MAP = "icb_access_rate"
MIN_YEARS_SHOWN = 5  # the time axes show at least this many years from 2022-23

# Provider state colours (map and table).
STABLE, DESTABILISED, DISTRESS = maps.STATE_COLOURS


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
            if isinstance(value, solara.Reactive):  # a slider not moved since the page opened: its value
                value = value.value
            spec = PARAM_BY_NAME.get(name)
            if spec is not None and spec.kind == "float" and isinstance(value, (int, float)):
                value = min(max(round(float(value), 9), spec.low), spec.high)  # slider float noise
            if (name in SLIDER_PARAMS or name in SELECT_PARAMS) and value == DEFAULTS[name]:
                continue
            user[name] = value
        super().__init__(scenario=policy, rng=seed, collect_agent_data=False, **user)
        self.seed = seed
        self.seed_note = note
        self.icb_base = maps.icb_base(self)  # base-year budgets and out-of-area spend, for the map's changes
        self.provider_history: list[dict[str, np.ndarray]] = [provider_snapshot(self)]  # one per year shown

    def step(self) -> None:
        super().step()
        self.provider_history.append(provider_snapshot(self))


def slider_step(low: float, high: float) -> float:
    """A round slider step giving about 100 positions."""
    raw = (high - low) / 100
    exp = math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * 10**exp >= raw - 1e-15:
            return round(m * 10**exp, 12)
    return raw  # pragma: no cover


def slider_value_text(value: float, step: float) -> str:
    """A slider's value at its step's precision, with no float noise: 0.030000000000000002 -> '0.03'."""
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 3
    text = f"{float(value):.{decimals}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def slider_label(name: str, value: float | None = None) -> str:
    """``System weight (in-system priority): 5 [0–20]``: the label, the current value, the range."""
    spec = PARAM_BY_NAME[name]
    step = slider_step(spec.low, spec.high) if spec.kind == "float" else 1
    shown = f": {slider_value_text(spec.default if value is None else value, step)}"
    return f"{SLIDER_PARAMS[name]}{shown} [{spec.low:g}–{spec.high:g}]"


def model_params(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sidebar inputs, in Mesa's ``model_params`` format.

    ``values``: the page's slider values (reactive variables, one per slider): each slider is bound
    to its variable and its label shows the current value.
    """
    scen = [s.name for s in list_scenarios()]
    params: dict[str, Any] = {
        "policy": {"type": "Select", "value": DEFAULT_POLICY, "values": scen, "label": "Scenario"},
    }
    for name in SLIDER_PARAMS:
        spec = PARAM_BY_NAME[name]
        bound = (values or {}).get(name)
        params[name] = {
            "type": "SliderFloat" if spec.kind == "float" else "SliderInt",
            "value": spec.default if bound is None else bound,
            "min": spec.low,
            "max": spec.high,
            "step": slider_step(spec.low, spec.high) if spec.kind == "float" else 1,
            "label": slider_label(name, None if bound is None else bound.value),
        }
    for name, label in SELECT_PARAMS.items():
        spec = PARAM_BY_NAME[name]
        params[name] = {"type": "Select", "value": spec.default, "values": list(spec.choices), "label": label}
    params["rng"] = {"type": "InputText", "value": str(DEFAULT_SEED), "label": "Seed (integer)"}
    return params


# ------------------------------------------------------------------- model readers
def provider_state(model: CommissioningModel) -> np.ndarray:
    """Per provider: 0 stable, 1 destabilised, 2 on revenue (cash) support."""
    return maps.provider_state(model)


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
    order = maps.at_risk_order(model)[:n]
    labels = ("stable", "destabilised", "cash support")
    return [
        {
            "provider": str(d.provider_short[p]),
            "host_icb": str(d.icb_short[d.provider_icb[p]]),
            "income_change_pct": _clean(100.0 * float(st.income_change[p])),
            "margin_pct": _clean(100.0 * float(st.margin[p])),
            "lines_withdrawn": int(st.withdrawn[p].sum()),
            "state": labels[state[p]],
        }
        for p in order
    ]


# --------------------------------------------------------------------------- one provider over the years
# What the provider panel draws: (snapshot key, title, unit); the panel's 2 x 2 grid in this order.
PROVIDER_PANELS = (
    ("spec_income", "Specialised income", "£m"),
    ("margin", "Margin", "% of turnover"),
    ("cash", "Cash", "£m"),
    ("lines", "Service lines", "lines"),
)


def provider_snapshot(model: CommissioningModel) -> dict[str, np.ndarray]:
    """Every provider's income, margin, cash and lines this year (the provider panel's history)."""
    st = model.state
    return {"spec_income": np.asarray(st.spec_income, dtype=float).copy(),
            "margin": 100.0 * np.asarray(st.margin, dtype=float),
            "cash": np.asarray(st.cash, dtype=float).copy(),
            "lines_open": np.asarray(st.active.sum(axis=1), dtype=float),
            "lines_withdrawn": np.asarray(st.withdrawn.sum(axis=1), dtype=float),
            "on_support": np.asarray(st.needs_support, dtype=bool).copy()}


def provider_choices(model: CommissioningModel) -> dict[str, int]:
    """Label -> provider index, the most at risk first (``Short name (type, host ICB)``)."""
    d = model.data
    order = list(maps.at_risk_order(model)) + list(range(d.n_providers))
    return {f"{d.provider_short[p]} ({d.provider_kind[p]}, {d.icb_short[d.provider_icb[p]]})": int(p)
            for p in dict.fromkeys(int(q) for q in order)}


def provider_figure(model: CommissioningModel, provider: int) -> Figure:
    """One provider over the years: specialised income, margin, cash (years on cash support shaded) and lines."""
    history = getattr(model, "provider_history", None) or [provider_snapshot(model)]
    n = len(history)
    rounds = np.arange(n)
    d = model.data
    fig = Figure(figsize=(5.6, 4.4), dpi=90)
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.17, top=0.84, wspace=0.32, hspace=0.45)
    axes = fig.subplots(2, 2, sharex=True)
    support = np.array([h["on_support"][provider] for h in history])
    for ax, (key, title, unit) in zip(axes.ravel(), PROVIDER_PANELS):
        if key == "lines":
            for name, ls, label in (("lines_open", "-", "open"), ("lines_withdrawn", "--", "withdrawn")):
                values = np.array([h[name][provider] for h in history])
                ax.plot(rounds, values, ls, marker="o", ms=3, lw=1.5, label=label)
            ax.legend(fontsize=8, frameon=False)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            shown = [h[n_][provider] for h in history for n_ in ("lines_open", "lines_withdrawn")]
        else:
            shown = [_clean(h[key][provider]) for h in history]
            ax.plot(rounds, shown, marker="o", ms=3, lw=1.5, color="#005EB8")
        for k in np.flatnonzero(support):  # years on cash support
            ax.axvspan(k - 0.5, k + 0.5, color=DISTRESS, alpha=0.15, lw=0)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        _from_zero(ax, shown)
    for k, ax in enumerate(axes.ravel()):
        _years_axis(ax, n, label=k >= 2)
    fig.suptitle(f"{d.provider_short[provider]} ({d.provider_kind[provider]}, host ICB "
                 f"{d.icb_short[d.provider_icb[provider]]})\n{title_text(model)}; shaded: years on cash support",
                 fontsize=9.5)
    return fig


@solara.component
def ProviderPanel(model: CommissioningModel):
    """Choose a provider: its income, margin, cash and lines over the years."""
    counter = update_counter.get()
    choices = solara.use_memo(lambda: provider_choices(model), [model])
    choice = solara.use_reactive(next(iter(choices)))
    provider = choices.get(choice.value, next(iter(choices.values())))
    fig = solara.use_memo(lambda: provider_figure(model, provider), [model, counter, provider])
    with solara.Column(gap="0px"):
        solara.Select(label="Provider (most at risk first)", values=list(choices), value=choice)
        solara.FigureMatplotlib(fig, format="png", dependencies=[model, counter, provider])


def series(model: CommissioningModel) -> dict[str, list[float]]:
    return model.datacollector.model_vars


def title_text(model: CommissioningModel) -> str:
    return f"{model.policy_name} · {model.financial_year} (step {model.steps})"


# ------------------------------------------------------------------------- panels
def _clean(x: float) -> float:
    """Floating-point noise within 1e-9 of zero is zero (and -0.0 is 0.0)."""
    return 0.0 if abs(x) < 1e-9 else float(x)


def signed_pct(x: float, digits: int = 1) -> str:
    """``+1.2%``; a value that rounds to zero is ``0.0%``, never ``-0.0%``."""
    text = f"{x:+.{digits}f}%"
    return text[1:] if not any(ch in "123456789" for ch in text) else text


def map_figure(model: CommissioningModel, measure: str = DEFAULT_MAP) -> Figure:
    """The ICB map (``model.maps.map_figure``): ICBs coloured by ``measure``, providers, flows, labels."""
    values = maps.icb_values(model, model.icb_base)[measure] if hasattr(model, "icb_base") else \
        maps.icb_values(model, maps.icb_base(model))[measure]
    fig = Figure(figsize=(5.6, 5.3), dpi=90)
    return maps.map_figure(model, measure, values, fig=fig, flows=out_of_area_flows(model), fontsize=8.5,
                           title=f"{title_text(model)}\n{MEASURE_BY_NAME[measure].label} by ICB")


def _years_axis(ax, n_rounds: int, *, label: bool) -> None:
    """Financial years from 2022-23 along x: at least MIN_YEARS_SHOWN years, however early the run."""
    last = max(n_rounds - 1, MIN_YEARS_SHOWN)
    step = 1 if last <= 6 else 2
    ticks = list(range(0, last + 1, step))
    if ticks[-1] != last:  # the first and the last year are always labelled
        ticks[-1:] = [last] if last - ticks[-1] < step and len(ticks) > 1 else [ticks[-1], last]
    ax.set_xticks(ticks)
    ax.set_xticklabels([fy_label(BASE_YEAR + k) for k in ticks], rotation=45, ha="right", fontsize=7.5)
    ax.set_xlim(-0.3, last + 0.3)
    if label:
        ax.set_xlabel("financial year", fontsize=8)


def _from_zero(ax, values, min_span: float = 1e-9) -> None:
    """The value axis includes zero (counts and shares start at zero), with no offset or float noise, and
    spans at least ``min_span`` (a few of the measure's resolution: no axis of 0.0000015%)."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    lo, hi = (min(0.0, float(v.min())), max(0.0, float(v.max()))) if v.size else (0.0, 1.0)
    if hi - lo < max(min_span, 1e-9):
        if lo < 0 and hi <= 0:
            lo = hi - max(min_span, 1.0 if min_span <= 1e-9 else min_span)
        else:
            hi = lo + (max(min_span, 1.0) if min_span <= 1e-9 else min_span)
    pad = 0.08 * (hi - lo)
    ax.set_ylim(lo - pad if lo < 0 else 0.0, hi + pad if hi > 0 else 0.0)
    if lo < 0:
        ax.axhline(0, color="black", lw=0.6)
    fmt = ScalarFormatter(useOffset=False)
    fmt.set_scientific(False)
    ax.yaxis.set_major_formatter(fmt)


def series_figure(model: CommissioningModel) -> Figure:
    data = series(model)
    n = len(data["providers_destabilised"])
    rounds = np.arange(n)
    # A fixed layout: constrained/tight layout would double the drawing time.
    fig = Figure(figsize=(5.6, 4.6), dpi=90)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.86, wspace=0.3, hspace=0.42)
    axes = fig.subplots(2, 2, sharex=True)
    for ax, (title, names) in zip(axes.ravel(), SERIES_PANELS):
        shown = []
        # The second line is thinner, dashed, with crosses, drawn on top: where the two coincide both show.
        for name, style in zip(names, ({"ls": "-", "marker": "o", "ms": 4, "lw": 2.4, "zorder": 2},
                                       {"ls": "--", "marker": "x", "ms": 5, "lw": 1.2, "zorder": 3})):
            m = MEASURE_BY_NAME[name]
            values = np.array([_clean(x) for x in data[name]], dtype=float) * m.scale
            shown.extend(values)
            ax.plot(rounds, values, label=m.heading if len(names) > 1 else None, **style)
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.set_ylabel(MEASURE_BY_NAME[names[0]].unit or "index", fontsize=8)
        ax.grid(alpha=0.3)
        _from_zero(ax, shown, min_span=5 * MEASURE_BY_NAME[names[0]].min_difference)
        if MEASURE_BY_NAME[names[0]].count:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if len(names) > 1:
            ax.legend(fontsize=8, frameon=False)
    for k, ax in enumerate(axes.ravel()):
        _years_axis(ax, n, label=k >= 2)
    fig.suptitle(f"{title_text(model)}", fontsize=9.5)
    return fig


@solara.component
def MapPanel(model: CommissioningModel):
    # A component (not a plain function) so that the figure is redrawn only when the
    # model steps or is replaced or another measure is chosen, not on every re-render
    # (e.g. a slider move).
    counter = update_counter.get()
    labels = {MEASURE_BY_NAME[m].label: m for m in MAP_MEASURES}
    choice = solara.use_reactive(MEASURE_BY_NAME[DEFAULT_MAP].label)
    measure = labels.get(choice.value, DEFAULT_MAP)
    fig = solara.use_memo(lambda: map_figure(model, measure), [model, counter, measure])
    with solara.Column(gap="0px"):
        solara.Select(label="Map: ICB measure", values=list(labels), value=choice)
        solara.FigureMatplotlib(fig, format="png", dependencies=[model, counter, measure])


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
            _cell(signed_pct(r["income_change_pct"]), right=True),
            _cell(signed_pct(r["margin_pct"]), right=True),
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
    params = [(label, slider_value_text(p[name], slider_step(PARAM_BY_NAME[name].low, PARAM_BY_NAME[name].high)))
              for name, label in SLIDER_PARAMS.items()]
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


PANELS = (MapPanel, SeriesPanel, AtRiskPanel, SummaryPanel, ProviderPanel)

# The page's own grid (12 columns; a row is 30 px plus a 10 px margin): map and at-risk
# table on the left, time series and summary on the right. Mesa's SolaraViz would give
# every panel a 6 x 10 cell, too short for the map and the tables, so the page draws the
# panels itself, in a solara.GridDraggable; users can still drag and resize them.
PANEL_LAYOUT = (
    {"i": 0, "x": 0, "y": 0, "w": 6, "h": 15, "moved": False},
    {"i": 1, "x": 6, "y": 0, "w": 6, "h": 12, "moved": False},
    {"i": 2, "x": 0, "y": 15, "w": 6, "h": 13, "moved": False},
    {"i": 3, "x": 6, "y": 12, "w": 6, "h": 16, "moved": False},
    {"i": 4, "x": 0, "y": 28, "w": 6, "h": 14, "moved": False},
)
# Sidebar sliders: the label (with the slider's value) on its own line above a full-width slider.
SLIDER_CSS = """
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label { flex: 0 0 100%; max-width: 100%; white-space: normal;
  margin-bottom: 0; }
.vue-grid-layout { margin-bottom: 72px; }  /* room to scroll the last panel clear of the page's corner badge */
"""


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
    # One reactive value per slider and session: the slider is bound to it, and its label shows it
    # (reading .value while rendering subscribes the page to it).
    values = solara.use_memo(lambda: {name: solara.reactive(PARAM_BY_NAME[name].default) for name in SLIDER_PARAMS},
                             [])
    solara.Style(SLIDER_CSS)
    SolaraViz(model, components=[], model_params=model_params(values), name=TITLE, play_interval=300)
    Dashboard(model.value)


page = Page
