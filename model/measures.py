"""Measures of the model: computed once per round from the arrays (``update``), read
by module-level reporter functions (as in Mesa's examples) and summarised at the end.

Definitions (money in £; shares are fractions):

- ``total_spend`` (£bn): every payment to providers this round, commissioners' and
  regions' stabilisation payments.
- ``out_of_area_share``: share of spend paid to providers outside the patient's ICB.
- ``providers_in_distress``: providers whose reserves are below ``distress_threshold``
  of turnover.
- ``providers_destabilised``: providers in distress, or whose specialised income
  fell against its fair-share path by more than ``DESTABILISED_INCOME_DROP`` of
  turnover, or running a specialised deficit worse than ``DESTABILISED_DEFICIT``
  of turnover.
- ``services_withdrawn``: provider service lines withdrawn so far.
- ``unmet_need_share``: share of demand (valued at tariff) not delivered.
- ``access_cv`` / ``access_gini``: spread across the 42 ICBs (unweighted, as in
  the NHS Atlas of Variation) of the need-adjusted access rate: delivered value
  per unit of population need, relative to England.
- ``out_of_area_income_change``: providers' income from other ICBs' residents
  against its fair-share path (base-year value grown by prices and demand).
- ``specialist_income_change``: income-weighted mean income change of the Shelford
  Group, specialist and children's trusts.
- ``income_change_p10``: 10th percentile across providers of specialised income
  change against the provider's fair-share path (base income grown by prices and
  by the demand growth of its service mix).
- ``extra_travel_km``: mean km per delivered case above what the same cases would
  have travelled with base-year patient flows.
- ``below_min_volume_activity``: cases delivered by lines below their service's
  minimum viable volume (a quality-risk measure).
- ``income_change_mean``: income-weighted mean of provider income change.
- ``diverted_to_core`` (£m): specialised budget diverted to ICB core deficits.
- ``stabilisation_paid`` (£m): regions' payments from their pools to keep last providers open.
- ``access_max_min_ratio``: highest over lowest ICB access rate (Atlas of Variation style).
- ``budget_total`` (£bn): all commissioners' budgets; ``unplaced_cases``: cases with no
  provider that had room.
- Summary only (``summary()``): ``income_change_min`` (the worst provider),
  ``cumulative_diverted`` and ``cumulative_stabilisation`` (£m over the run).
- ``spend_<commissioner type>`` (£bn): spend by NHS England nationally, its
  regions, ICBs (own or merged footprint), joint committees and pan-ICB pools.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from mesa import DataCollector

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel

DESTABILISED_INCOME_DROP = 0.03  # of turnover; assumption (a 3% hit is a large share of a trust's margin)
DESTABILISED_DEFICIT = 0.02  # of turnover; assumption

SPEND_TYPES = ("national", "region", "icb", "joint_committee", "pan_icb")


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


# --- module-level reporters (picklable, as in Mesa's examples) -------------------------
def total_spend(model): return model.measures["total_spend"]
def out_of_area_share(model): return model.measures["out_of_area_share"]
def providers_in_distress(model): return model.measures["providers_in_distress"]
def providers_destabilised(model): return model.measures["providers_destabilised"]
def services_withdrawn(model): return model.measures["services_withdrawn"]
def unmet_need_share(model): return model.measures["unmet_need_share"]
def access_cv(model): return model.measures["access_cv"]
def access_gini(model): return model.measures["access_gini"]
def income_change_p10(model): return model.measures["income_change_p10"]
def income_change_mean(model): return model.measures["income_change_mean"]
def out_of_area_income_change(model): return model.measures["out_of_area_income_change"]
def specialist_income_change(model): return model.measures["specialist_income_change"]
def extra_travel_km(model): return model.measures["extra_travel_km"]
def below_min_volume_activity(model): return model.measures["below_min_volume_activity"]
def diverted_to_core(model): return model.measures["diverted_to_core"]
def spend_national(model): return model.measures["spend_national"]
def spend_region(model): return model.measures["spend_region"]
def spend_icb(model): return model.measures["spend_icb"]
def spend_joint_committee(model): return model.measures["spend_joint_committee"]
def spend_pan_icb(model): return model.measures["spend_pan_icb"]
def stabilisation_paid(model): return model.measures["stabilisation_paid"]


MODEL_REPORTERS = {
    f.__name__: f
    for f in (
        total_spend, out_of_area_share, providers_in_distress, providers_destabilised, services_withdrawn,
        unmet_need_share, access_cv, access_gini, income_change_p10, income_change_mean,
        out_of_area_income_change, specialist_income_change, extra_travel_km,
        below_min_volume_activity, diverted_to_core, spend_national, spend_region, spend_icb,
        spend_joint_committee, spend_pan_icb, stabilisation_paid,
    )
}
SERIES_MEASURES = tuple(MODEL_REPORTERS)
SUMMARY_MEASURES = SERIES_MEASURES + ("income_change_min", "access_max_min_ratio", "cumulative_diverted",
                                       "cumulative_stabilisation", "unplaced_cases")

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
