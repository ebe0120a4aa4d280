"""The model's parameters: one registry, used by the model constructor, scenario
files, the SolaraViz sliders and the sensitivity sweeps.

Every numeric knob has a default, an allowed range and a note on where the
default comes from (a source article in ``../shared/seeds`` cited by file name,
a public figure, or an assumption with its reason). Categorical parameters list
their allowed values. ``validate_parameters`` is the single place that turns
user input (Python keywords, TOML values, slider values, sweep samples) into a
checked dict, with errors that name the parameter, the value and what is
allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ParameterError, rethrow


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    kind: str  # "float" | "int" | "bool" | "choice"
    doc: str
    source: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    group: str = "core"  # core | finance | contracting | allocation | arrangement | region | provider
    sweepable: bool = True
    # "round": read every funding round, so a scenario's [[changes]] block can change it from a
    # year on; "setup": read once, when the model is built (a change from a later year would have
    # no effect, so scenario files refuse it).
    when: str = "round"

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ParameterError."""
        name = self.name
        if self.kind == "bool":
            if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
                return bool(value)
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ParameterError(f"parameter '{name}': value {value!r} is not allowed; expected true or false")
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ParameterError(
                    f"parameter '{name}': value {value!r} is not allowed; expected one of {', '.join(self.choices)}"
                )
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or isinstance(value, complex):
            try:
                import numpy as np

                if isinstance(value, np.generic) and not isinstance(value, np.bool_):
                    value = value.item()
                else:
                    raise TypeError
            except TypeError:
                what = "a whole number" if self.kind == "int" else "a number"
                raise ParameterError(
                    f"parameter '{name}': value {value!r} is not allowed; expected {what} "
                    f"between {self.low} and {self.high}"
                ) from None
        if self.kind == "int":
            if float(value) != int(value):
                raise ParameterError(
                    f"parameter '{name}': value {value!r} is not allowed; expected a whole number "
                    f"between {int(self.low)} and {int(self.high)}"
                )
            value = int(value)
        else:
            value = float(value)
            if value != value:  # NaN
                raise ParameterError(f"parameter '{name}': value nan is not allowed; expected a number")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ParameterError(
                f"parameter '{name}': value {value!r} is out of range; allowed {self.low} to {self.high}"
            )
        return value


def _p(name, default, kind, low=None, high=None, *, doc, source, group="core", choices=(), sweepable=True,
       when="round"):
    return Param(
        name=name,
        default=default,
        kind=kind,
        low=low,
        high=high,
        doc=doc,
        source=source,
        group=group,
        choices=tuple(choices),
        sweepable=sweepable,
        when=when,
    )


ARRANGEMENTS = ("nhse_direct", "delegated", "joint_committees", "pan_icb", "trailblazer", "split_2024")
ICB_FOOTPRINTS = ("icb", "merged_2026")
DELEGATED_SETS = ("planned_65", "as_happened_59", "as_happened_70")

PARAMS: tuple[Param, ...] = (
    # --- arrangement (what a scenario mostly sets) -----------------------------------
    _p("arrangement", "nhse_direct", "choice", choices=ARRANGEMENTS, group="arrangement", sweepable=False,
       doc="Who commissions the delegable service lines: NHSE regions (nhse_direct), each ICB "
           "(delegated), ICB/NHSE joint committees on patient-flow footprints, ICBs pooled per "
           "region through a lead ICB (pan_icb), mature ICBs first (trailblazer), or the 2024-25 "
           "split (split_2024: delegated to the ICBs marked delegated_2024 in seeds/icbs.csv - those "
           "of East of England, Midlands and North West - joint committees elsewhere).",
       source="001, 002, 004"),
    _p("delegated_set", "planned_65", "choice", choices=DELEGATED_SETS, group="arrangement", sweepable=False,
       doc="Which service lines are delegable: the 65 of 154 planned for April 2023, the 59 "
           "jointly commissioned from 2023-24, or the 70 delegated from 2025-26.",
       source="001; NHS England board papers Feb 2023 and Dec 2024 (specialised_facts.md §2)"),
    _p("icb_footprint", "icb", "choice", choices=ICB_FOOTPRINTS, group="arrangement", sweepable=False,
       doc="Footprint of an ICB commissioner: today's 42 ICBs, or the merged ICBs of 2026 "
           "(merger groups in seeds/icbs.csv; illustrative where the full list is not public).",
       source="ministerial statement HCWS915 (Sep 2025), as listed in MODEL.md"),
    _p("clawback_share", 0.0, "float", 0.0, 1.0, group="arrangement",
       doc="Share of the delegable lines (counted as lines represented; the service rows with fewest "
           "centres first) that a national office claws back from ICBs to national commissioning.",
       source="004 (a DHSC office may take back some delegated services); share is an assumption"),
    _p("upstream_investment", 0.0, "float", 0.0, 0.1, group="arrangement",
       doc="Joint transplant + dialysis commissioning: each year, extra kidney transplants worth this "
           "share of the value of dialysis demand are commissioned; each transplanted patient leaves "
           "dialysis (and returns if the graft fails).",
       source="003 (Nuffield Trust: commissioning transplantation and dialysis together aligns "
              "incentives to do more transplants); share and graft survival are assumptions"),
    _p("trailblazer_threshold", 0.8, "float", 0.0, 1.0, group="arrangement",
       doc="Maturity score an ICB needs before it takes delegated budgets under the trailblazer arrangement.",
       source="assumption: 002 says only organisationally mature ICSs should go first; with the seed "
              "maturity scores the first wave is South East and South West London, the two ICSs that "
              "said they were ready in early 2023 (HSJ, specialised_facts.md §2); with maturity_growth "
              "0.05 most ICBs of the three 2024-25 delegation regions follow from 2026-27"),
    _p("maturity_growth", 0.05, "float", 0.0, 0.3, group="arrangement",
       doc="Yearly rise in every ICB's maturity score (later trailblazer waves join as they mature).",
       source="assumption: reaches most ICBs within ~6 years, in line with the 2023-2025 roll-out"),
    _p("region_weight", 0.5, "float", 0.0, 1.0, group="arrangement",
       doc="Weight of NHSE in joint committees and of the region in pan-ICB pools: damps member ICBs' "
           "home bias, volume preference, diversion and repatriation by this share.",
       source="assumption: joint committees are co-chaired by ICBs and NHSE (001); equal weight"),
    # --- money -------------------------------------------------------------------
    _p("price_inflation", 0.025, "float", 0.0, 0.10, group="finance",
       doc="Yearly growth of unit costs and prices after 2023-24 (2023-24 itself is calibrated to "
           "the £25bn outturn).",
       source="assumption: close to the 2% inflation target plus pay drift"),
    _p("funding_gap", 0.0, "float", 0.0, 0.05, group="finance",
       doc="Yearly shortfall of the national envelope's growth against the expected cost of demand "
           "growth and inflation (0 = envelope keeps pace).",
       source="assumption; specialised spend grew >50% 2013-2020 (002), i.e. roughly kept pace with demand"),
    _p("demand_noise", 0.02, "float", 0.0, 0.2, group="finance",
       doc="Standard deviation of the yearly random variation in demand growth per ICB and service line.",
       source="assumption: small year-to-year variation around the service's trend"),
    _p("cost_dispersion", 0.03, "float", 0.0, 0.2, group="provider", when="setup",
       doc="Standard deviation of provider unit-cost efficiency (1 = at tariff); above-tariff lines lose money.",
       source="assumption; prices for the same procedure ranged widely between centres (PAC HC387, specialised_facts.md §1c)"),
    # --- ICB finances and behaviour --------------------------------------------------
    _p("cash_strapped_share", 0.4, "float", 0.0, 1.0, group="finance", when="setup",
       doc="Share of ICBs (those with the weakest seed financial position) that act as cash-strapped.",
       source="assumption informed by 16 of 42 ICBs missing plan in 2022-23 and 31 of 42 planning "
              "deficits in 2024-25 (specialised_facts.md §5)"),
    _p("deficit_severity", 1.0, "float", 0.0, 3.0, group="finance", when="setup",
       doc="Multiplier on cash-strapped ICBs' seed core deficits (share of core allocation).",
       source="assumption: 1 reproduces the seed deficits (about 0-5% of allocation)"),
    _p("diversion_rate", 0.25, "float", 0.0, 1.0, group="contracting",
       doc="Share of a cash-strapped ICB's core deficit it tries to cover from its delegated specialised budget.",
       source="assumption: the risk providers raised (001, 003); no public figure"),
    _p("max_diversion", 0.03, "float", 0.0, 0.2, group="contracting",
       doc="Cap on diversion, as a share of the ICB's delegated specialised budget.",
       source="assumption: regional sense-checking limits visible raids on ring-fenced budgets (004)"),
    _p("home_bias", 0.6, "float", 0.0, 0.99, group="contracting",
       doc="How strongly a (cash-strapped, see home_bias_scope) ICB cuts out-of-area contracts before "
           "in-area ones (0 = even cuts; out-of-area cut weight is 1/(1-home_bias)).",
       source="assumption: the behaviour the Shelford Group warned of (003)"),
    _p("home_bias_scope", "cash_strapped", "choice", choices=("cash_strapped", "all_icbs"), group="contracting",
       sweepable=False,
       doc="Which ICBs show home bias and prefer widely provided lines when they cut: cash-strapped ones "
           "(as the brief describes) or every ICB.",
       source="MODEL.md funding round step 3; 003 for the behaviour"),
    _p("local_volume_preference", 0.5, "float", 0.0, 1.0, group="contracting",
       doc="How much more an ICB cuts rarer service lines (fewest centres) than widely provided, "
           "high-volume local ones: cut weight x (1 + preference x rarity), rarity 0..1.",
       source="assumption: 003 (ICBs focus on high-volume services for their population)"),
    _p("repatriation_rate", 0.02, "float", 0.0, 0.5, group="contracting",
       doc="Share of a cash-strapped ICB's remaining out-of-area delegated activity it moves each year "
           "to in-area providers of the line (even below minimum viable volume).",
       source="assumption: 003 (support for services inside the ICB footprint rather than at the optimal level)"),
    # --- allocation --------------------------------------------------------------
    _p("needs_weight_target", 0.0, "float", 0.0, 1.0, group="allocation",
       doc="Target weight of the population-need formula in budgets (0 = historic provider-income "
           "basis, 1 = fully need-based).",
       source="001 (NHSE proposed moving from provider income to population need)"),
    _p("pace_of_change", 0.2, "float", 0.0, 1.0, group="allocation",
       doc="Yearly step of the budget weight towards the need-based target.",
       source="assumption: a 5-year glide path, like the pace-of-change policy of core ICB allocations"),
    _p("distance_access_elasticity", 0.15, "float", 0.0, 0.6, group="allocation", when="setup",
       doc="How much base-year use per head rises with proximity to specialist capacity (creates the "
           "historic gap between spend and need that a needs formula would move).",
       source="assumption: distance-decay of specialised use; no public figure (MODEL.md)"),
    _p("reach_multiplier", 1.0, "float", 0.5, 2.0, group="allocation", when="setup",
       doc="Multiplier on every service's travel reach in the gravity model: higher means more "
           "cross-border (out-of-area) activity.",
       source="assumption: no public figure for the cross-border share (MODEL.md); swept instead"),
    _p("in_area_affinity", 10.0, "float", 1.0, 30.0, group="allocation", when="setup",
       doc="Pull of providers in the patient's own ICB in the gravity model (referral pathways, "
           "patient preference), as a multiplier on their attractiveness. Sets how much activity "
           "crosses ICB borders: 1 gives ~67% of spend out of area, 10 ~40%, 30 ~33%.",
       source="assumption (no public cross-border figure, MODEL.md): 10 keeps ~85-90% of dialysis and "
              "chemotherapy in the patient's ICB, as the seed tables assume (seeds/README.md)"),
    # --- regions -----------------------------------------------------------------
    _p("spec_enforcement", 0.5, "float", 0.0, 1.0, group="region",
       doc="Region's service-specification enforcement: an ICB-led commissioner cuts no contract by "
           "more than (1 - spec_enforcement) x 50% in a year while others can take the cut; if every "
           "contract is at that cap the budget still binds and the rest is cut evenly.",
       source="assumption: regions sense-check ICB decisions and enforce specifications (004)"),
    _p("protect_last_provider", True, "bool", group="region",
       doc="Regions pay from their pool to keep the last provider of a service line in the region open.",
       source="assumption based on 004 (regions hold the risk of service sustainability)"),
    _p("pool_share", 0.005, "float", 0.0, 0.05, group="region",
       doc="Size of each region's stabilisation reserve as a share of its ICBs' delegated budgets; "
           "topped up each year from those budgets back to that level.",
       source="assumption: a limited risk pool (004)"),
    # --- providers ---------------------------------------------------------------
    _p("withdrawal_rounds", 3, "int", 1, 10, group="provider",
       doc="Consecutive rounds below minimum viable volume or at a loss before a provider withdraws a service line.",
       source="assumption: a trust board tolerates two bad years before a service review concludes"),
    _p("loss_tolerance", 0.05, "float", 0.0, 0.5, group="provider",
       doc="A line counts as loss-making when its margin (share of its income) falls below its "
           "base-year margin (or 0 if that was positive) minus loss_tolerance.",
       source="assumption: trusts tolerate lines that always ran at a small loss (cross-subsidy); "
              "a further 5% of income is a visible deterioration"),
    _p("min_volume_factor", 1.0, "float", 0.5, 1.5, group="provider", when="setup",
       doc="Multiplier on every service's minimum viable annual volume (seeds/services.csv). A line "
           "that was already below it in the base year is judged against 80% of its base volume.",
       source="assumption; seed volumes from NHS England standards (see seeds)"),
    _p("distress_threshold", 0.0, "float", -0.05, 0.05, group="provider",
       doc="Reserves as a share of turnover below which a provider is in distress.",
       source="assumption: distress when cash reserves run out (MODEL.md)"),
    _p("distress_capacity_cut", 0.1, "float", 0.0, 0.5, group="provider",
       doc="Share of capacity a distressed provider removes each year from its loss-making lines (contagion).",
       source="assumption"),
    _p("capacity_recovery", 0.1, "float", 0.0, 1.0, group="provider",
       doc="Share of lost (distress-cut) capacity that returns each year once a provider is out of distress.",
       source="assumption: specialist staff and kit are slow to rebuild"),
)

PARAM_BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}
# Read once, when the model is built (the world's geography, cost and finance draws).
SETUP_PARAMS: tuple[str, ...] = tuple(p.name for p in PARAMS if p.when == "setup")
DEFAULTS: dict[str, Any] = {p.name: p.default for p in PARAMS}


def validate_parameters(values: dict[str, Any], *, where: str = "") -> dict[str, Any]:
    """Check user-supplied parameter values; return them converted. Unknown names raise."""
    out: dict[str, Any] = {}
    prefix = f"{where}: " if where else ""
    for name, value in values.items():
        spec = PARAM_BY_NAME.get(name)
        if spec is None:
            import difflib

            close = difflib.get_close_matches(name, PARAM_BY_NAME, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ParameterError(
                f"{prefix}unknown parameter '{name}'{hint}; allowed: {', '.join(sorted(PARAM_BY_NAME))}"
            )
        with rethrow(ParameterError, prefix=prefix):
            out[name] = spec.check(value)
    return out


def sweepable_params() -> list[Param]:
    return [p for p in PARAMS if p.sweepable and p.kind in ("float", "int")]


def describe() -> str:
    """A plain-text table of every parameter (used by docs and ``--help``)."""
    lines = []
    for p in PARAMS:
        rng = f"{', '.join(p.choices)}" if p.kind == "choice" else (
            "true/false" if p.kind == "bool" else f"{p.low} .. {p.high}")
        lines.append(f"{p.name:28s} {str(p.default):14s} {rng:40s} {p.doc}")
    return "\n".join(lines)
