"""Measures of the model: the registry of every measure (name, label, unit, definition), their
computation once per round from the arrays (``update``), the reporters Mesa's DataCollector
reads, and the end-of-run summary.

The registry :data:`MEASURES` (beside the parameter registry, ``params.PARAMS``) is the one
place a measure is described: the report, the figures, ``commissim run`` and the browser page
take their labels, units and scales from it. A measure of kind ``"series"`` is a model
reporter (one value per financial year; its final value is also in the summary); kind
``"summary"`` is in the end-of-run summary only. Money in £ (the unit says £bn or £m);
shares are fractions, shown as % (``scale`` 100).

To add a measure: compute it in :func:`update` (or :func:`summary`) and add its entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from mesa import DataCollector

    from .model import CommissioningModel

DESTABILISED_INCOME_DROP = 0.03  # of turnover; assumption (a 3% hit is a large share of a trust's margin)
DESTABILISED_DEFICIT = 0.02  # of turnover; assumption


@dataclass(frozen=True)
class Measure:
    """One measure of the model, as people read it."""

    name: str
    label: str  # e.g. "Providers destabilised"
    unit: str  # shown after the scaled value: "providers", "%", "% of demand", "£bn", "km", "" ...
    definition: str
    scale: float = 1.0  # shown value = value x scale (shares are shown as %)
    fmt: str = "{:.3f}"  # format of a shown value (a mean over runs, in tables and reports)
    kind: str = "series"  # "series": a reporter every round; "summary": end of run only
    count: bool = False  # a count: one run's value is a whole number
    short: str = ""  # a short column heading (console tables)

    def number(self, value: float, *, signed: bool = False) -> str:
        """The scaled value in the measure's format (``signed``: always with its sign)."""
        fmt = self.fmt if not signed or "+" in self.fmt else self.fmt.replace("{:", "{:+")
        return fmt.format(value * self.scale)

    def text(self, value: float) -> str:
        """One run's value with its unit, e.g. ``3``, ``38.0%``, ``£25.1bn``, ``0.81% of demand``."""
        number = f"{value * self.scale:.0f}" if self.count else self.number(value)
        if self.unit.startswith("£"):
            return f"£{number}{self.unit[1:]}"
        if self.unit.startswith("%") or not self.unit:
            return f"{number}{self.unit}"
        return f"{number} {self.unit}"

    @property
    def axis_label(self) -> str:
        """``label (unit)``, e.g. for a figure's axis."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def heading(self) -> str:
        return self.short or self.name


def _m(name, label, unit, definition, **kw) -> Measure:
    return Measure(name, label, unit, definition, **kw)


MEASURES: tuple[Measure, ...] = (
    # --- reporters, one value per round (the order of the series columns) -------------
    _m("total_spend", "Total specialised spend", "£bn",
       "Every payment to providers this round, commissioners' and regions' stabilisation payments.", fmt="{:.2f}"),
    _m("out_of_area_share", "Out-of-area share of spend", "%",
       "Share of spend paid to providers outside the patient's ICB.", scale=100.0, fmt="{:.1f}",
       short="out-of-area (%)"),
    _m("providers_in_distress", "Providers in distress", "providers",
       "Providers whose reserves are below distress_threshold of turnover.", fmt="{:.1f}", count=True,
       short="providers in distress"),
    _m("providers_destabilised", "Providers destabilised", "providers",
       "Providers in distress, or whose specialised income fell against its fair-share path by more than "
       f"{DESTABILISED_INCOME_DROP:.0%} of turnover, or running a specialised deficit worse than "
       f"{DESTABILISED_DEFICIT:.0%} of turnover.", fmt="{:.1f}", count=True, short="providers destabilised"),
    _m("services_withdrawn", "Service lines withdrawn", "lines",
       "Provider service lines withdrawn so far.", fmt="{:.1f}", count=True, short="lines withdrawn"),
    _m("unmet_need_share", "Unmet need", "% of demand",
       "Share of demand (valued at tariff) not delivered.", scale=100.0, fmt="{:.2f}", short="unmet need (%)"),
    _m("access_cv", "Access inequality (CV across ICBs)", "",
       "Coefficient of variation across the 42 ICBs (unweighted, as in the NHS Atlas of Variation) of the "
       "need-adjusted access rate: delivered value per unit of population need, relative to England.",
       short="access CV"),
    _m("access_gini", "Access inequality (Gini across ICBs)", "",
       "Gini coefficient across the ICBs of the need-adjusted access rate (0 = equal).", short="access Gini"),
    _m("income_change_p10", "Income change, 10th percentile provider", "%",
       "10th percentile across providers of specialised income change against the provider's fair-share path "
       "(base income grown by prices and by the demand growth of its service mix).", scale=100.0, fmt="{:+.1f}",
       short="income change p10 (%)"),
    _m("income_change_mean", "Income change, mean provider", "%",
       "Income-weighted mean of provider income change.", scale=100.0, fmt="{:+.1f}"),
    _m("out_of_area_income_change", "Out-of-area income change", "%",
       "Providers' income from other ICBs' residents against its fair-share path (base-year value grown by "
       "prices and demand).", scale=100.0, fmt="{:+.1f}"),
    _m("specialist_income_change", "Income change, specialist providers", "%",
       "Income-weighted mean income change of the Shelford Group, specialist and children's trusts.",
       scale=100.0, fmt="{:+.1f}"),
    _m("extra_travel_km", "Extra travel per case", "km",
       "Mean km per delivered case above what the same cases would have travelled with base-year patient flows.",
       fmt="{:.2f}"),
    _m("below_min_volume_activity", "Activity below minimum viable volume", "cases",
       "Cases delivered by lines below their service's minimum viable volume (a quality-risk measure).",
       fmt="{:,.0f}"),
    _m("diverted_to_core", "Diverted to ICB core deficits", "£m",
       "Specialised budget diverted to ICB core deficits this round.", fmt="{:.0f}"),
    _m("spend_national", "Spend by NHS England nationally", "£bn",
       "Spend commissioned by NHS England nationally.", fmt="{:.2f}"),
    _m("spend_region", "Spend by NHS England regions", "£bn",
       "Spend commissioned by NHS England's regions.", fmt="{:.2f}"),
    _m("spend_icb", "Spend by ICBs", "£bn", "Spend commissioned by ICBs (own or merged footprint).", fmt="{:.2f}"),
    _m("spend_joint_committee", "Spend by joint committees", "£bn",
       "Spend commissioned by ICB/NHS England joint committees.", fmt="{:.2f}"),
    _m("spend_pan_icb", "Spend by pan-ICB pools", "£bn", "Spend commissioned by pan-ICB pools.", fmt="{:.2f}"),
    _m("stabilisation_paid", "Stabilisation paid by regions", "£m",
       "Regions' payments from their pools to keep last providers open this round.", fmt="{:.1f}"),
    # --- end of run only -------------------------------------------------------------
    _m("income_change_min", "Income change, worst provider", "%",
       "The lowest provider income change at the end of the run.", scale=100.0, fmt="{:+.1f}", kind="summary"),
    _m("access_max_min_ratio", "Access, highest over lowest ICB", "",
       "Highest over lowest ICB access rate (Atlas of Variation style).", fmt="{:.2f}", kind="summary"),
    _m("cumulative_diverted", "Diverted to ICB core deficits, whole run", "£m",
       "Specialised budget diverted to ICB core deficits over the run.", fmt="{:.0f}", kind="summary"),
    _m("cumulative_stabilisation", "Stabilisation paid, whole run", "£m",
       "Regions' stabilisation payments over the run.", fmt="{:.1f}", kind="summary"),
    _m("unplaced_cases", "Cases with no provider", "cases",
       "Cases in the final round with no provider that had room.", fmt="{:,.0f}", kind="summary", count=True),
)

MEASURE_BY_NAME: dict[str, Measure] = {m.name: m for m in MEASURES}
SERIES_MEASURES: tuple[str, ...] = tuple(m.name for m in MEASURES if m.kind == "series")
SUMMARY_MEASURES: tuple[str, ...] = tuple(m.name for m in MEASURES)


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal)."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    if n == 0 or x.sum() <= 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


def quantile(x: np.ndarray, q: float) -> float:
    """Linear-interpolated quantile (numpy's default method), via a partial sort."""
    n = len(x)
    pos = q * (n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    part = np.partition(x, (lo, hi))
    return float(part[lo] + (pos - lo) * (part[hi] - part[lo]))


def update(model: CommissioningModel) -> None:
    """Compute this round's measures into ``model.measures``."""
    st = model.state
    m: dict[str, float] = {}
    lines = model.lines
    pay = st.payments  # (I, K)
    total_paid = float(pay.sum())
    subsidy = float(st.subsidy.sum())
    m["total_spend"] = (total_paid + subsidy) / 1e3
    per_icb_out = (pay * st.out_icb).sum(axis=1)
    per_icb = pay.sum(axis=1)
    st.icb_spend_out_area = per_icb_out
    st.icb_spend_in_area = per_icb - per_icb_out
    m["out_of_area_share"] = float(per_icb_out.sum()) / total_paid if total_paid > 0 else 0.0
    # Out-of-area income against its fair-share path (base-year value grown by prices and demand).
    fair_out = float((st.base_out_value_k * st.vol_index[lines.s]).sum() * st.price_index)
    m["out_of_area_income_change"] = float(per_icb_out.sum()) / fair_out - 1.0 if fair_out > 0 else 0.0

    # Providers.
    expected_vol = np.divide((st.base_income_ps * st.vol_index[None, :]).sum(axis=1), st.base_income,
                             out=np.ones_like(st.base_income), where=st.base_income > 0)
    fair = st.base_income * st.price_index * expected_vol
    inc = st.prov_income + st.subsidy.sum(axis=1)
    st.income_change = np.divide(inc, fair, out=np.zeros_like(inc), where=fair > 0) - 1.0
    drop_of_turnover = st.income_change * fair / np.maximum(st.turnover, 1e-9)
    deficit_of_turnover = st.prov_surplus / np.maximum(st.turnover, 1e-9)
    destab = st.in_distress | (drop_of_turnover < -DESTABILISED_INCOME_DROP) | (
        deficit_of_turnover < -DESTABILISED_DEFICIT)
    st.destabilised = destab
    m["providers_in_distress"] = float(st.in_distress.sum())
    m["providers_destabilised"] = float(destab.sum())
    m["services_withdrawn"] = float(st.withdrawn.sum())
    m["income_change_p10"] = quantile(st.income_change, 0.1)
    m["income_change_mean"] = float(np.average(st.income_change, weights=st.base_income))
    spec = st.specialist_provider
    m["specialist_income_change"] = float(np.average(st.income_change[spec], weights=st.base_income[spec]))

    # Access.
    delivered_cell = lines.by_service(st.delivered)  # (I, S)
    price = st.price[None, :]
    demand_value = float((st.demand * price).sum())
    unmet = np.maximum(st.demand - delivered_cell, 0.0)
    m["unmet_need_share"] = float((unmet * price).sum()) / demand_value if demand_value > 0 else 0.0
    need_value = (st.need * price).sum(axis=1)
    got = (delivered_cell * price).sum(axis=1)
    rate = got / need_value
    rate = rate / (got.sum() / need_value.sum())
    st.access_rate = rate
    m["access_cv"] = float(rate.std() / rate.mean()) if rate.mean() > 0 else 0.0
    m["access_gini"] = gini(rate)
    m["access_max_min_ratio"] = float(rate.max() / max(rate.min(), 1e-9))

    # Travel: delivered cases' distance against base-year flows for the same cells.
    dcases = float(delivered_cell.sum())
    km = float((st.delivered * st.dist_k).sum())
    m["extra_travel_km"] = (km - float((delivered_cell * st.base_km).sum())) / dcases if dcases > 0 else 0.0

    vol = st.line_volume
    low = st.active & (vol > 0) & (vol < st.min_volume_abs[None, :])
    m["below_min_volume_activity"] = float(vol[low].sum())

    # Money.
    m["diverted_to_core"] = float(st.diverted_total)
    by_type = np.bincount(st.group_type, weights=st.group_spend, minlength=6) / 1e3
    m["spend_national"] = float(by_type[0])
    m["spend_region"] = float(by_type[1])
    m["spend_icb"] = float(by_type[2] + by_type[5])
    m["spend_joint_committee"] = float(by_type[3])
    m["spend_pan_icb"] = float(by_type[4])
    m["stabilisation_paid"] = subsidy
    m["budget_total"] = float(st.budget_total) / 1e3
    m["unplaced_cases"] = float(st.unplaced.sum())

    model.measures = m


# --- reporters -------------------------------------------------------------------------
def read_measure(name: str, model: CommissioningModel) -> float:
    """This round's value of measure ``name`` (the DataCollector's reporter of every series measure)."""
    return model.measures[name]


# partial(read_measure, name): picklable, and called with the model by Mesa's DataCollector.
MODEL_REPORTERS = {name: partial(read_measure, name) for name in SERIES_MEASURES}

ICB_REPORTERS = {
    "budget": "budget",
    "spend_in_area": "spend_in_area",
    "spend_out_of_area": "spend_out_of_area",
    "diverted": "diverted",
    "access_rate": "access_rate",
}
PROVIDER_REPORTERS = {
    "income": "income",
    "surplus": "surplus",
    "reserves": "reserves",
    "income_change": "income_change",
    "in_distress": "in_distress",
    "lines_open": "lines_open",
}


def make_datacollector(model: CommissioningModel, agents: bool = True) -> DataCollector:
    from mesa import DataCollector

    from .agents import ICB, Provider

    agenttype = {ICB: dict(ICB_REPORTERS), Provider: dict(PROVIDER_REPORTERS)} if agents else None
    return DataCollector(model_reporters=dict(MODEL_REPORTERS), agenttype_reporters=agenttype)


def summary(model: CommissioningModel) -> dict[str, Any]:
    """End-of-run headline measures: the final round's values plus a few run totals."""
    st = model.state
    out: dict[str, Any] = dict(model.measures)
    out["income_change_min"] = float(st.income_change.min())
    series = model.datacollector.model_vars
    out["cumulative_diverted"] = float(np.sum(series["diverted_to_core"]))
    out["cumulative_stabilisation"] = float(np.sum(series["stabilisation_paid"]))
    return {k: out[k] for k in SUMMARY_MEASURES}
