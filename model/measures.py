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

from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from .finance import DESTAB_THRESHOLDS, gini, threshold_label

if TYPE_CHECKING:  # pragma: no cover
    from mesa import DataCollector

    from .model import CommissioningModel

@dataclass(frozen=True)
class Measure:
    """One measure of the model, as people read it."""

    name: str
    label: str  # e.g. "Providers destabilised"
    unit: str  # shown after the scaled value: "providers", "%", "% of demand", "£bn", "km", "" ...
    definition: str
    scale: float = 1.0  # shown value = value x scale (shares are shown as %)
    fmt: str = "{:.3f}"  # format of a shown value (a mean over runs, in tables and reports)
    kind: str = "series"  # "series": a reporter every round; "summary": end of run only; "icb": one per ICB (maps)
    count: bool = False  # a count: one run's value is a whole number
    short: str = ""  # a short column heading (console tables)
    # The smallest difference that matters, in the unit as shown (percentage points for % measures): a
    # difference between scenarios below it is negligible whatever its interval. None: half a unit for a
    # count, else one unit of the last digit shown (``min_difference``).
    resolution: float | None = None

    @property
    def min_difference(self) -> float:
        """The resolution as declared, or its default (half a unit for counts, the last shown digit otherwise)."""
        if self.resolution is not None:
            return float(self.resolution)
        if self.count:
            return 0.5
        return 10.0 ** -self.decimals

    @property
    def decimals(self) -> int:
        """Digits after the decimal point in the measure's format (3 when the format does not say)."""
        import re

        found = re.search(r"\.(\d+)[fe%]", self.fmt)
        return int(found.group(1)) if found else 3

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
    _m("total_spend", "Specialised spend", "£bn", "Payments to providers for delivered activity plus regions' "
       "stabilisation payments, this year.", fmt="{:.2f}"),
    _m("budget_total", "Specialised allocation", "£bn", "The national specialised allocation shared into cell "
       "budgets this year (seeds/funding.csv, then funding_growth).", fmt="{:.2f}"),
    _m("commissioner_shortfall", "Commissioners' shortfall", "£m", "Sum over commissioners (NHS England's regions "
       "and national team, joint committees, ICBs, merged ICBs, pan-ICB pools) of their plan (residents' expected "
       "activity at this year's prices) above their budget, before they act.", fmt="{:,.0f}"),
    _m("commissioners_short", "ICBs whose commissioner is short", "%", "Share of ICBs, weighted by their "
       "budgets, whose residents' commissioner (region, committee, ICB or pool) had a plan above its budget this "
       "year, before it acted.", scale=100.0, fmt="{:.0f}"),
    _m("nhse_pooled", "Moved within NHS England's pool", "£m", "Budget NHS England moved from its commissioners "
       "with spare money to those short (its regions, national team and joint committees pool nationally).",
       fmt="{:,.0f}"),
    _m("overspend", "Overspend", "£m", "Spend above budget where the rules allow it (nhse_overspend_limit, "
       "carried by NHS England; icb_overspend_limit, carried by the ICB's system).", fmt="{:,.0f}"),
    _m("growth_withheld", "Growth withheld", "£m", "Value of activity growth over last year's contracts that "
       "commissioners did not commission: out-of-area growth a system in deficit held back (growth_cap) and the "
       "growth part of cuts made to close a shortfall. Those patients wait.", fmt="{:,.0f}"),
    _m("commissioner_cuts", "Cuts to existing contracts", "£m", "Value taken from existing contracts (below last "
       "year's contracted activity) to close a shortfall: what a trust loses, not growth it never had.",
       fmt="{:,.0f}"),
    _m("need_growth_funded", "Growth towards need funded", "£m", "Spare money spent on activity towards "
       "population need above demand.", fmt="{:,.0f}"),
    _m("kept_by_systems", "Underspend kept by systems", "£m", "Spare delegated money an ICB-led commissioner kept "
       "for its system's bottom line instead of buying activity (ringfence soft or none, system in deficit).",
       fmt="{:,.0f}"),
    _m("returned_to_nhse", "Handed back to NHS England", "£m", "Budget no contract used plus contracted activity no "
       "provider had capacity to deliver, handed back to NHS England.", fmt="{:,.0f}"),
    _m("stranded_costs", "Stranded costs", "£m", "Trusts' semi-fixed (staff, theatres, beds) and fixed (estates, "
       "overheads) cost of capacity above what this year's activity needs: lost activity whose cost is not yet "
       "shed.", fmt="{:,.0f}"),
    _m("lines_at_risk", "Service lines at risk", "lines", "Open provider service lines below their minimum viable "
       "volume, or losing money beyond loss_tolerance for two or more years running.", fmt="{:.1f}", count=True,
       short="lines at risk"),
    _m("out_of_area_share", "Out-of-area share of spend", "%", "Share of spend paid to providers outside the "
       "patient's ICB.", scale=100.0, fmt="{:.1f}", short="out-of-area (%)"),
    _m("out_of_area_income_change", "Out-of-area income change", "%", "Providers' income from other ICBs' "
       "residents against its fair-share path (base-year value grown by prices and demand).", scale=100.0,
       fmt="{:+.1f}", short="out-of-area income (%)"),
    _m("providers_destabilised", "Providers destabilised", "providers", "Trusts with a deficit worse than "
       "destabilised_deficit (default 2%) of turnover for two or more consecutive years, or on revenue "
       "support, or that withdrew a line for financial reasons.", fmt="{:.1f}", count=True,
       short="destabilised"),
    _m("providers_needing_support", "Providers needing cash support", "providers", "Trusts whose cash fell below "
       "the floor this year (revenue support as public dividend capital).", fmt="{:.1f}", count=True,
       short="on cash support"),
    _m("providers_in_deficit", "Providers in deficit", "providers", "Trusts with a deficit this year.",
       fmt="{:.1f}", count=True, short="in deficit"),
    _m("provider_sector_surplus", "Trusts' surplus", "£m", "Sum of the modelled trusts' surpluses (negative = "
       "deficit), whole organisations.", fmt="{:,.0f}", short="trusts' surplus (£m)"),
    _m("trust_sector_margin", "Trusts' margin", "% of income", "Income-weighted mean surplus of the modelled "
       "trusts.", scale=100.0, fmt="{:+.2f}", short="trust margin (%)"),
    _m("specialist_trust_margin", "Specialist trusts' margin", "% of income", "Income-weighted mean surplus of the "
       "Shelford, specialist and children's trusts.", scale=100.0, fmt="{:+.2f}", short="specialist margin (%)"),
    _m("acute_trust_margin", "Acute trusts' margin", "% of income", "Income-weighted mean surplus of Shelford, "
       "teaching and local acute trusts.", scale=100.0, fmt="{:+.2f}"),
    _m("trusts_in_deficit_share", "Trusts in deficit", "%", "Share of the modelled trusts with a deficit.",
       scale=100.0, fmt="{:.0f}"),
    _m("icb_sector_deficit", "ICB bodies' deficit", "£m", "Sum of the deficits of ICB bodies in deficit "
       "(positive = deficit; surpluses do not offset), after delegated money moved to them.", fmt="{:,.0f}"),
    _m("systems_in_deficit", "Systems in deficit", "systems", "ICB systems (ICB body plus the trusts it hosts) with "
       "a deficit.", fmt="{:.1f}", count=True),
    _m("services_withdrawn", "Service lines closed", "lines", "Provider service lines withdrawn and not "
       "restarted.", fmt="{:.1f}", count=True, short="lines closed"),
    _m("lines_withdrawn", "Service lines withdrawn so far", "lines", "Provider service lines withdrawn since the "
       "base year (cumulative; patients re-route).", fmt="{:.1f}", count=True, short="lines withdrawn"),
    _m("lines_withdrawn_financial", "Lines withdrawn for money", "lines", "Lines withdrawn while loss-making or "
       "under a revenue-support recovery plan, since the base year.", fmt="{:.1f}", count=True),
    _m("local_services_started", "Local lines started", "lines", "Delegated lines systems started at their own "
       "trusts since the base year (below optimal scale where below the minimum viable volume).", fmt="{:.1f}",
       count=True, short="local starts"),
    _m("unmet_need_share", "Unmet demand", "% of demand", "Share of demand (valued at tariff) not delivered.",
       scale=100.0, fmt="{:.2f}", short="unmet (%)"),
    _m("access_cv", "Access inequality (CV across ICBs)", "", "Coefficient of variation across the 42 ICBs "
       "(unweighted, as in the NHS Atlas of Variation) of the need-adjusted access rate: delivered value per "
       "unit of population need, relative to England.", short="access CV"),
    _m("access_gini", "Access inequality (Gini across ICBs)", "", "Gini coefficient across the ICBs of the "
       "need-adjusted access rate (0 = equal).", short="access Gini"),
    _m("income_change_p10", "Income change, 10th percentile provider", "%", "10th percentile across providers of "
       "specialised income against each provider's fair-share path (base income grown by prices and by the "
       "demand growth of its service mix).", scale=100.0, fmt="{:+.1f}", short="income p10 (%)"),
    _m("income_change_mean", "Income change, mean provider", "%", "Income-weighted mean of providers' "
       "specialised income change against their fair-share paths.", scale=100.0, fmt="{:+.1f}"),
    _m("specialist_income_change", "Income change, specialist providers", "%", "Income-weighted mean income "
       "change of the Shelford Group, specialist and children's trusts.", scale=100.0, fmt="{:+.1f}"),
    _m("extra_travel_km", "Extra travel per case", "km", "Mean km per delivered case above what the same cases "
       "would have travelled with base-year patient flows.", fmt="{:.2f}"),
    _m("below_min_volume_activity", "Activity below minimum viable volume", "cases", "Cases delivered by lines "
       "below their service's minimum viable volume (a quality-risk measure).", fmt="{:,.0f}"),
    _m("diverted_to_core", "Diverted to system deficits", "£m", "Delegated specialised money moved to ICB bodies' "
       "or their trusts' deficits this year (only where the ring-fence allows).", fmt="{:.0f}"),
    _m("stabilisation_paid", "Stabilisation paid by regions", "£m", "Regions' payments from their pools to keep "
       "last providers open this year.", fmt="{:.1f}"),
    _m("pool_balance", "Stabilisation pools' balance", "£m", "Money in regions' pools not (yet) spent.",
       fmt="{:.0f}"),
    _m("revenue_support_paid", "Revenue support (PDC)", "£m", "Cash support to trusts below the cash floor this "
       "year.", fmt="{:,.0f}"),
    _m("deficit_support_paid", "National deficit support", "£m", "National in-year and deficit support paid to "
       "the modelled trusts this year (2023-24 to 2025-26, seeds/funding.csv).", fmt="{:,.0f}"),
    _m("home_bias_observed_stressed", "Observed home bias, systems in deficit", "pp", "Mean over ICBs whose "
       "deciding system was in deficit and that act on their delegated lines of: growth of their residents' "
       "in-system spend minus growth of their out-of-system spend (0 when there are none).", scale=100.0,
       fmt="{:+.2f}"),
    _m("home_bias_observed_other", "Observed home bias, other systems", "pp", "The same for ICBs whose deciding "
       "system was not in deficit.", scale=100.0, fmt="{:+.2f}"),
    _m("binding_spec_cap", "Binding: specification cap", "%", "Share of ICB-led commissioners cutting this year "
       "whose contracts all hit the specification cap.", scale=100.0, fmt="{:.0f}"),
    _m("binding_nhse_consent", "Binding: NHS England consent", "%", "Share of decisions needing NHS England's "
       "consent where it limited unequal treatment.", scale=100.0, fmt="{:.0f}"),
    _m("binding_growth_cap", "Binding: out-of-area growth cap", "%", "Share of ICBs whose deciding commissioner "
       "(own or merged ICB, joint committee or pan-ICB pool) was in deficit and that withheld some out-of-system "
       "growth this year.", scale=100.0, fmt="{:.0f}"),
    _m("binding_diversion_limit", "Binding: ring-fence limit", "%", "Under a soft ring-fence, share of ICBs wanting "
       "to move delegated money that the limit held back (0 under a hard ring-fence: the channel is closed).",
       scale=100.0, fmt="{:.0f}"),
    _m("binding_referral_capacity", "Binding: capacity for repatriation", "%", "Share of repatriating ICBs "
       "limited by in-system spare capacity.", scale=100.0, fmt="{:.0f}"),
    _m("binding_local_start_blocked", "Binding: local starts blocked", "%", "Share of intended local starts that "
       "specifications or consent blocked.", scale=100.0, fmt="{:.0f}"),
    _m("binding_convergence_floor", "Binding: convergence floor", "%", "Share of ICBs whose delegated budget the "
       "growth floor held up this year.", scale=100.0, fmt="{:.0f}"),
    *(
        _m(f"binding_{c}", f"Binding: {label.lower()}", "%", f"Share of ICBs, weighted by their budgets, whose "
           f"residents' money the channel '{c}' moved this year (more than £10,000).", scale=100.0, fmt="{:.0f}")
        for c, label in (("nhse_pooled", "NHS England pooling"),
                         ("overspend", "Overspend"), ("growth_withheld", "Growth withheld"),
                         ("commissioner_cuts", "Cuts to existing contracts"),
                         ("need_growth_funded", "Growth towards need"), ("kept_by_systems", "Underspend kept"),
                         ("returned_to_nhse", "Handed back"), ("diverted_to_core", "Diversion"))
    ),
    _m("spend_national", "Spend by NHS England nationally", "£bn", "Spend commissioned by NHS England nationally.",
       fmt="{:.2f}"),
    _m("spend_region", "Spend by NHS England regions", "£bn", "Spend commissioned by NHS England's regions.",
       fmt="{:.2f}"),
    _m("spend_icb", "Spend by ICBs", "£bn", "Spend commissioned by ICBs (own or merged footprint).", fmt="{:.2f}"),
    _m("spend_joint_committee", "Spend by joint committees", "£bn", "Spend commissioned by ICB/NHS England joint "
       "committees.", fmt="{:.2f}"),
    _m("spend_pan_icb", "Spend by pan-ICB pools", "£bn", "Spend commissioned by pan-ICB pools.", fmt="{:.2f}"),
    # --- end of run only -------------------------------------------------------------
    _m("income_change_min", "Income change, worst provider", "%", "The lowest provider income change at the end "
       "of the run.", scale=100.0, fmt="{:+.1f}", kind="summary"),
    _m("access_max_min_ratio", "Access, highest over lowest ICB", "", "Highest over lowest ICB access rate "
       "(Atlas of Variation style).", fmt="{:.2f}", kind="summary"),
    _m("cumulative_diverted", "Diverted to system deficits, whole run", "£m", "Delegated money moved to system "
       "deficits over the run.", fmt="{:.0f}", kind="summary"),
    _m("cumulative_stabilisation", "Stabilisation paid, whole run", "£m", "Regions' stabilisation payments over "
       "the run.", fmt="{:.1f}", kind="summary"),
    _m("cumulative_revenue_support", "Revenue support, whole run", "£m", "Cash support to trusts over the run.",
       fmt="{:,.0f}", kind="summary"),
    _m("cumulative_returned", "Returned unspent, whole run", "£m", "Budget returned to NHS England over the run.",
       fmt="{:,.0f}", kind="summary"),
    _m("unplaced_cases", "Cases with no provider", "cases", "Cases in the final round with no provider that had "
       "room.", fmt="{:,.0f}", kind="summary", count=True),
    _m("max_providers_destabilised", "Providers destabilised, peak year", "providers", "Highest yearly count of "
       "destabilised providers over the run.", fmt="{:.1f}", kind="summary", count=True, short="peak destabilised"),
    *(
        _m(f"destabilised_at_{threshold_label(x)}", f"Destabilised at a {x * 100:g}% deficit", "providers",
           f"Providers destabilised at the end of the run with a deficit threshold of {x * 100:g}% of turnover "
           "(the curve across thresholds; revenue support and financial withdrawals count at every threshold).",
           fmt="{:.1f}", kind="summary", count=True)
        for x in DESTAB_THRESHOLDS
    ),
    # --- one value per ICB (maps; computed by model.maps.icb_values, not in the summary) ---
    _m("icb_access_rate", "Need-adjusted access rate", "% of England", "An ICB's delivered value per unit of "
       "its population's need, relative to England's (100 = England's rate).", scale=100.0, fmt="{:.1f}",
       kind="icb"),
    _m("icb_budget_change", "Specialised budget change since 2022-23", "%", "An ICB's specialised budget this "
       "year against its base-year (2022-23) value.", scale=100.0, fmt="{:+.1f}", kind="icb"),
    _m("icb_out_of_area_spend_change", "Out-of-area spend change since 2022-23", "%", "An ICB's spend at "
       "providers outside the ICB this year against its base-year (2022-23) value.", scale=100.0, fmt="{:+.1f}",
       kind="icb"),
)

# Resolutions (the smallest difference that matters, in the unit shown) of the measures whose default
# (half a unit for a count, the last digit shown otherwise) is not the right one. An entry may also
# declare its own ``resolution=``; this table then does not override it.
RESOLUTIONS: dict[str, float] = {
    "trust_sector_margin": 0.05, "specialist_trust_margin": 0.05, "acute_trust_margin": 0.05,  # pp of income
    "out_of_area_income_change": 0.1, "income_change_p10": 0.1, "income_change_mean": 0.1,  # pp
    "specialist_income_change": 0.1, "income_change_min": 0.1, "out_of_area_share": 0.1,  # pp
    "unmet_need_share": 0.01,  # pp of demand
    "access_gini": 0.001, "access_cv": 0.002,  # index points
    "provider_sector_surplus": 10.0, "icb_sector_deficit": 10.0,  # £m
    "total_spend": 0.01, "budget_total": 0.01,  # £bn (£10m)
    "extra_travel_km": 0.1, "below_min_volume_activity": 100.0,
}
MEASURES = tuple(replace(m, resolution=RESOLUTIONS[m.name]) if m.resolution is None and m.name in RESOLUTIONS
                 else m for m in MEASURES)
MEASURE_BY_NAME: dict[str, Measure] = {m.name: m for m in MEASURES}
SERIES_MEASURES: tuple[str, ...] = tuple(m.name for m in MEASURES if m.kind == "series")
SUMMARY_MEASURES: tuple[str, ...] = tuple(m.name for m in MEASURES if m.kind in ("series", "summary"))
CURVE_MEASURES: tuple[str, ...] = tuple(f"destabilised_at_{threshold_label(x)}" for x in DESTAB_THRESHOLDS)

def quantile(x: np.ndarray, q: float) -> float:
    """Linear-interpolated quantile (numpy's default method), via a partial sort."""
    n = len(x)
    pos = q * (n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    part = np.partition(x, (lo, hi))
    return float(part[lo] + (pos - lo) * (part[hi] - part[lo]))


def clean(value: float) -> float:
    """Floating-point noise within 1e-9 of zero is zero."""
    return 0.0 if abs(value) < 1e-9 else float(value)


def lines_at_risk(st) -> np.ndarray:
    """(P, S) open lines at risk: below their minimum viable volume, or losing money beyond loss_tolerance for
    two or more years running (drugs paid at cost excepted)."""
    return st.active & ~st.pass_through[None, :] & ((st.low_streak >= 1) | (st.loss_streak >= 2))


def destabilised(st, threshold_index: int | None = None, streak: np.ndarray | None = None) -> np.ndarray:
    """Trusts destabilised: a deficit streak of 2+ years at the threshold, revenue support, or a line withdrawn
    for financial reasons."""
    s = st.streak[threshold_index] if streak is None else streak
    return (s >= 2) | st.needs_support | st.withdrawn_financial.any(axis=1)


def update(model: CommissioningModel) -> None:
    """Compute this round's measures into ``model.measures``."""
    st = model.state
    m: dict[str, float] = {}
    lines = model.lines
    pay = st.payments
    paid_cell = lines.by_service(pay)  # (I, S) paid per cell
    per_icb = paid_cell.sum(axis=1)
    total_paid = float(per_icb.sum())
    subsidy = float(st.subsidy.sum())
    m["total_spend"] = (total_paid + subsidy) / 1e3
    m["budget_total"] = float(st.budget_total) / 1e3
    for name, value in st.channels.items():  # each channel's total, once (delivery.channel_accounts)
        m[name] = value
    m["stranded_costs"] = float(st.stranded.sum())
    m["lines_at_risk"] = float(lines_at_risk(st).sum())
    out_f = getattr(st, "out_icb_f", None)
    if out_f is None:
        out_f = st.out_icb_f = st.out_icb.astype(float)
    per_icb_out = np.einsum("ik,ik->i", pay, out_f)
    st.icb_spend_out_area = per_icb_out
    st.icb_spend_in_area = per_icb - per_icb_out
    m["out_of_area_share"] = float(per_icb_out.sum()) / total_paid if total_paid > 0 else 0.0
    fair_price = st.price / st.price0
    fair_out = float((st.base_out_value_k * (st.vol_index * fair_price)[lines.s]).sum())
    m["out_of_area_income_change"] = float(per_icb_out.sum()) / fair_out - 1.0 if fair_out > 0 else 0.0

    # Providers.
    fair = (st.base_income_ps * (st.vol_index * fair_price)[None, :]).sum(axis=1)
    inc = st.spec_income + st.subsidy.sum(axis=1)
    st.income_change = np.divide(inc, fair, out=np.zeros_like(inc), where=fair > 0) - 1.0
    st.destabilised = destabilised(st, streak=st.streak_param)
    m["providers_destabilised"] = float(st.destabilised.sum())
    m["providers_needing_support"] = float(st.needs_support.sum())
    m["providers_in_deficit"] = float((st.surplus < 0).sum())
    m["provider_sector_surplus"] = float(st.surplus.sum())
    turn = st.turnover
    m["trust_sector_margin"] = float(st.surplus.sum() / turn.sum())
    spec, acute = st.specialist_provider, st.acute_provider
    m["specialist_trust_margin"] = float(st.surplus[spec].sum() / turn[spec].sum())
    m["acute_trust_margin"] = float(st.surplus[acute].sum() / turn[acute].sum())
    m["trusts_in_deficit_share"] = m["providers_in_deficit"] / len(st.surplus)
    m["icb_sector_deficit"] = float(np.maximum(-st.icb_surplus, 0.0).sum())
    m["systems_in_deficit"] = float((st.system_position < 0).sum())
    m["services_withdrawn"] = float(st.withdrawn.sum())
    m["lines_withdrawn"] = float(st.n_withdrawn_total)
    m["lines_withdrawn_financial"] = float(st.withdrawn_financial.sum())
    m["local_services_started"] = float(st.local_starts_total)
    m["income_change_p10"] = quantile(st.income_change, 0.1)
    m["income_change_mean"] = float((st.income_change * st.base_income).sum() / st.base_income.sum())
    m["specialist_income_change"] = float((st.income_change[spec] * st.base_income[spec]).sum() / st.base_income[spec].sum())

    # Access.
    delivered_cell = st.delivered_cell if hasattr(st, "delivered_cell") else lines.by_service(st.delivered)
    price = st.price[None, :]
    demand_value = float((st.demand * price).sum())
    unmet = np.maximum(st.demand - delivered_cell, 0.0)
    m["unmet_need_share"] = float((unmet * price).sum()) / demand_value if demand_value > 0 else 0.0
    need_value = (st.need * price).sum(axis=1)
    got = (delivered_cell * price).sum(axis=1)
    rate = got / need_value
    rate = rate / (got.sum() / need_value.sum())
    st.access_rate = rate
    mean = float(rate.sum()) / len(rate)
    dev = rate - mean
    m["access_cv"] = float(np.sqrt((dev * dev).sum() / len(rate))) / mean if mean > 0 else 0.0
    m["access_gini"] = gini(rate)
    m["access_max_min_ratio"] = float(rate.max() / max(rate.min(), 1e-9))

    dcases = float(delivered_cell.sum())
    km = float(np.einsum("ik,ik->i", st.delivered, st.dist_k).sum())
    m["extra_travel_km"] = (km - float((delivered_cell * st.base_km).sum())) / dcases if dcases > 0 else 0.0
    vol = st.line_volume
    low = st.active & (vol > 0) & (vol < st.min_volume_abs[None, :])
    m["below_min_volume_activity"] = float(vol[low].sum())

    # Money.
    m["diverted_to_core"] = float(st.diversion.sum())
    m["stabilisation_paid"] = subsidy
    m["pool_balance"] = float(st.pool.sum())
    m["revenue_support_paid"] = float(st.pdc.sum())
    m["deficit_support_paid"] = float(st.support_income.sum())
    by_type = np.bincount(st.group_type, weights=st.group_spend, minlength=6) / 1e3
    m["spend_national"] = float(by_type[0])
    m["spend_region"] = float(by_type[1])
    m["spend_icb"] = float(by_type[2] + by_type[5])
    m["spend_joint_committee"] = float(by_type[3])
    m["spend_pan_icb"] = float(by_type[4])
    m["unplaced_cases"] = float(st.unplaced.sum())

    # Observed home bias: in-system vs out-of-system growth of delegated spend, per deciding ICB.
    hb_stressed = hb_other = 0.0
    if model.steps > 0 and hasattr(st, "holder_type"):
        in_sys = model._in_system_k()
        deleg_pay = paid_cell
        in_cell = lines.by_service(pay * in_sys.view(np.uint8))  # (a 0/1 multiply: faster than a bool one)
        deleg = st.delegated_cells
        in_now = (in_cell * deleg).sum(axis=1)
        out_now = ((deleg_pay - in_cell) * deleg).sum(axis=1)
        prev_in, prev_out = st.prev_in_area, st.prev_out_area
        hb = np.full(model.n_icbs, np.nan)
        if prev_in is not None:
            ok = st.can_act & (prev_in > 1e-9) & (prev_out > 1e-9)
            hb[ok] = (in_now[ok] / prev_in[ok]) - (out_now[ok] / prev_out[ok])
            stressed = ok & (st.decider_stress > 0)
            other = ok & ~(st.decider_stress > 0)
            hb_stressed = float(hb[stressed].mean()) if stressed.any() else 0.0
            hb_other = float(hb[other].mean()) if other.any() else 0.0
        st.home_bias_observed = hb
        st.prev_in_area, st.prev_out_area = in_now, out_now
    m["home_bias_observed_stressed"] = hb_stressed
    m["home_bias_observed_other"] = hb_other
    for k, v in st.binding.items():
        m[f"binding_{k}"] = float(v)
    for k, v in st.channel_binding.items():
        if k == "commissioner_shortfall":  # a condition the rules answer, not a rule: reported as a share short
            m["commissioners_short"] = float(v)
        else:
            m[f"binding_{k}"] = float(v)
    model.measures = {k: clean(v) for k, v in m.items()}


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
    "system_margin": "system_margin",
    "home_bias_observed": "home_bias_observed",
}
PROVIDER_REPORTERS = {
    "income": "income",
    "surplus": "surplus",
    "margin": "margin",
    "cash": "cash",
    "income_change": "income_change",
    "needs_support": "needs_support",
    "destabilised": "destabilised",
    "lines_open": "lines_open",
}


def make_datacollector(model: CommissioningModel, agents: bool = True) -> DataCollector:
    from mesa import DataCollector

    from .agents import ICB, Provider

    agenttype = {ICB: dict(ICB_REPORTERS), Provider: dict(PROVIDER_REPORTERS)} if agents else None
    return DataCollector(model_reporters=dict(MODEL_REPORTERS), agenttype_reporters=agenttype)


def summary(model: CommissioningModel) -> dict[str, Any]:
    """End-of-run headline measures: the final round's values, run totals and the destabilisation curve."""
    st = model.state
    out: dict[str, Any] = dict(model.measures)
    out["income_change_min"] = float(st.income_change.min())
    series = model.datacollector.model_vars
    out["cumulative_diverted"] = float(np.sum(series["diverted_to_core"]))
    out["cumulative_stabilisation"] = float(np.sum(series["stabilisation_paid"]))
    out["cumulative_revenue_support"] = float(np.sum(series["revenue_support_paid"]))
    out["cumulative_returned"] = float(np.sum(series["returned_to_nhse"][1:]))
    out["max_providers_destabilised"] = float(np.max(series["providers_destabilised"]))
    for j, name in enumerate(CURVE_MEASURES):
        out[name] = float(destabilised(st, j).sum())
    return {k: clean(out[k]) for k in SUMMARY_MEASURES}
