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
    group: str = "core"  # arrangement | finance | behaviour | allocation | region | provider | measure
    sweepable: bool = True
    when: str = "round"  # "round": read every year (may change in [[changes]]); "setup": read once, at construction

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
RINGFENCES = ("hard", "soft", "none")

PARAMS: tuple[Param, ...] = (
    # --- arrangement (what a scenario mostly sets) -----------------------------------
    _p("arrangement", "nhse_direct", "choice", choices=ARRANGEMENTS, group="arrangement", sweepable=False,
       doc="Who commissions the delegable service lines: NHS England's regions (nhse_direct), each ICB "
           "(delegated), ICB/NHS England joint committees on patient-flow footprints, ICBs pooled per region "
           "through a lead ICB (pan_icb), ICBs in delegation waves from the public record (trailblazer: wave 1 "
           "from 2023-24, wave 2 from 2024-25, the rest from 2025-26, NHS England before), or the 2024-25 split "
           "(split_2024: the wave-2 ICBs of East of England, Midlands and North West delegated, joint committees "
           "elsewhere).",
       source="001, 002, 004; delegation waves: seeds/icbs.csv delegation_wave (NHS England board Dec 2023, Dec 2024)"),
    _p("delegated_set", "planned_65", "choice", choices=DELEGATED_SETS, group="arrangement", sweepable=False,
       doc="Which service lines are delegable: the 65 of 154 planned for April 2023, the 59 jointly commissioned "
           "from 2023-24, or the 70 delegated from 2025-26.",
       source="001; NHS England board papers Feb 2023 and Dec 2024 (specialised_facts.md §2)"),
    _p("icb_footprint", "icb", "choice", choices=ICB_FOOTPRINTS, group="arrangement", sweepable=False,
       doc="Footprint of an ICB commissioner: today's 42 ICBs, or the merged ICBs of 2026 (merger groups in "
           "seeds/icbs.csv; illustrative where the full list is not public).",
       source="ministerial statement HCWS915 (Sep 2025), as listed in MODEL.md"),
    _p("clawback_share", 0.0, "float", 0.0, 1.0, group="arrangement",
       doc="Share of the delegable lines (counted as lines represented; the service rows with fewest centres "
           "first) that a national office claws back from ICBs to national commissioning.",
       source="004 (a DHSC office may take back some delegated services); share is an assumption"),
    _p("upstream_investment", 0.0, "float", 0.0, 0.1, group="arrangement",
       doc="Joint transplant + dialysis commissioning: each year, extra kidney transplants worth this share of the "
           "value of dialysis demand are commissioned; each transplanted patient leaves dialysis (and returns if "
           "the graft fails).",
       source="003 (Nuffield Trust: commissioning transplantation and dialysis together aligns incentives); "
              "share and graft survival are assumptions"),
    # --- the money path ----------------------------------------------------------
    _p("funding_growth", 0.05, "float", 0.0, 0.10, group="finance",
       doc="Yearly cash growth of the national specialised allocation and of ICB core allocations after the last "
           "year of seeds/funding.csv (2025-26).",
       source="derived: Spending Review 2025, NHS England day-to-day budget +3.0% a year real to 2028-29 (King's "
              "Fund, Jun 2025), plus about 2% for prices (assumption); swept"),
    _p("cost_inflation", 0.027, "float", 0.0, 0.10, group="finance",
       doc="Yearly growth of providers' input costs after 2025-26 (pay and non-pay); the tariff's cost uplift "
           "factor is set to the same value (NHS England sets it to expected cost inflation).",
       source="assumption: pay awards about 3% (pay share 0.65) and non-pay about 2% (the inflation target)"),
    _p("efficiency_factor", 0.02, "float", 0.0, 0.05, group="finance",
       doc="The tariff's yearly efficiency factor after the last year of seeds/funding.csv: prices rise by the cost "
           "uplift factor less this.",
       source="NHS England, Medium term planning framework (efficiency factor 2% in 2026-27)"),
    _p("efficiency_gap", 0.0, "float", -0.02, 0.02, group="finance",
       doc="Cost improvement providers deliver each year beyond (+) or short of (-) the tariff's efficiency factor, "
           "net of cost pressures the tariff does not fund (a share of costs). 0 = providers match the efficiency "
           "factor on average. It acts only from 2026-27, after the published money path, so the calibrated years "
           "2022-23 to 2025-26 hold across its range (the 2023-24 shortfall is a separate, calibrated series in "
           "seeds/funding.csv).",
       source="assumption: the efficiency factor is set to be achievable (NHS Payment Scheme); swept"),
    _p("activity_pressure", 0.02738, "float", 0.0, 0.05, group="finance",
       doc="Yearly growth of specialised activity and case mix beyond each service's own trend (services.csv): new "
           "treatments, higher-cost cases, rising use. With the trends (3.4% a year on average) and tariff prices it "
           "makes the commissioners' plans; the allocations stay the published inputs, so plans can exceed budgets. "
           "Through 2025-26 the calibrated series of seeds/funding.csv applies; this parameter from 2026-27, so "
           "sweeping it leaves the calibrated years as they were.",
       source="default = the calibrated 2023-24 value at which the specialised outturn (GBP 25.031bn at month 9, NHS "
              "England board 1 Feb 2024) is reproduced (seeds/calibrate.py); the record's range: spend grew 6.3% a "
              "year 2013-16 and over 7% a year to 2019-20 in cash (facts §1a, §5b); swept"),
    _p("demography_weight", 1.0, "float", 0.0, 2.0, group="finance",
       doc="Weight of each ICB's own ageing in its demand growth: 1 = the yearly growth of need per head from its "
           "residents growing older, less England's (ONS mid-2022 age bands and the age-cost curve); 0 = every ICB "
           "grows alike.",
       source="ONS mid-2022 population by ICB and age (seeds/icb_age_bands.csv); age-cost curve an assumption "
              "(seeds/age_cost_curve.csv); swept"),
    _p("nhse_overspend_limit", 0.0, "float", 0.0, 0.03, group="finance",
       doc="How far NHS England's pooled specialised budget may overspend in a year (share of its budget) before "
           "its commissioners cut; NHS England carries the overspend.",
       source="NHS England overspent its specialised budget by 2.9% in 2013-14 and 1.5% in 2014-15 (NAO 2016) and "
              "underspent by 0.3% in 2023-24 (board, Feb 2024); default 0 (no overspend planned), swept to 3%"),
    _p("icb_overspend_limit", 0.0, "float", 0.0, 0.03, group="finance",
       doc="How far an ICB-led commissioner may overspend its delegated budget in a year (share of it); the "
           "overspend counts against its system's position.",
       source="from 2026-27 each ICB must break even on its own (NHS England finance business rules, facts §5b): "
              "default 0; the delegation agreement's risk-share terms were not found, swept to 3%"),
    _p("support_phaseout_years", 3, "int", 1, 6, group="finance",
       doc="Years over which national deficit support (GBP 2.2bn in 2025-26) is phased out evenly after 2025-26 "
           "(1 = none from 2026-27).",
       source="deficit support 'phased out starting 2026/27, the first step of a gradual withdrawal' (written "
              "ministerial statement 25 Jun 2025; NHS England medium-term planning framework, facts §5b); the "
              "number of years is an assumption, swept"),
    _p("margin_response", 0.3, "float", 0.0, 1.0, group="provider",
       doc="How a trust responds to its position: each year it closes this share of the gap between last year's "
           "margin and its target (response_target) as extra cost improvement below it (recovery plans) or extra "
           "spending above it (investment), so margins do not drift without limit.",
       source="assumption (no public figure): every system balanced its plans each year 2023-26 after support, "
              "with efficiencies of 6.1-7.1% of allocation (NHS England board May 2025, facts §5); swept 0-1"),
    _p("pay_share", 0.65, "float", 0.4, 0.8, group="finance", when="setup",
       doc="Share of provider costs that is pay: weights pay awards against non-pay inflation in cost growth "
           "for the years of seeds/funding.csv.",
       source="about 65-70% of trust spending is pay (TAC-based analysis, low confidence)"),
    _p("demand_noise", 0.0, "float", 0.0, 0.2, group="finance",
       doc="Standard deviation of the yearly random variation in demand growth per ICB and service line. Default 0: "
           "no sourced year-on-year variation was found, so effects are read with noise off.",
       source="assumption (no public figure); random draws come from their own stream of the run's seed, the "
              "same in every scenario (common random numbers)"),
    _p("cost_dispersion", 0.03, "float", 0.0, 0.2, group="provider", when="setup",
       doc="Standard deviation of provider unit-cost efficiency per line (1 = at tariff): lines above tariff "
           "lose money. No normalisation: a provider's specialised work may run at a surplus or a deficit.",
       source="assumption; prices for the same procedure ranged widely between centres (PAC HC387, facts §1c)"),
    _p("deficit_severity", 1.0, "float", 0.0, 3.0, group="finance", when="setup",
       doc="Multiplier on the opening (2022-23) deficits: the negative opening margins of trusts and the deficits "
           "of ICB bodies (surpluses unchanged). 1 reproduces the calibrated 2022-23 sector.",
       source="1 = seeds/calibration.csv; swept to ask how many stressed systems it takes"),
    # --- ICB behaviour: the system objective and the channels the rules leave -------
    _p("system_weight", 5.0, "float", 0.0, 20.0, group="behaviour",
       doc="How strongly a system's financial stress tilts its ICB's commissioning towards providers in its own "
           "system. Money paid to an in-system trust partly returns to the system (the trust's contribution "
           "margin); money paid out of area does not. A contract's protection from cuts (and its priority for "
           "growth money) is system_weight x stress x contribution margin, where stress is the system's deficit "
           "as a share of its allocation (e.g. 0.02): 0 = the ICB treats every provider alike; at 5 a system 2% "
           "in deficit cuts in-system contracts with a 40% contribution margin 4 percentage points less than "
           "out-of-area ones (and funds their growth first by as much).",
       source="assumption: the behaviour specialist providers feared (001, 003); no public figure, swept"),
    _p("growth_cap", 0.5, "float", 0.0, 1.0, group="behaviour",
       doc="Harder contract negotiation: a system in deficit holds its out-of-area contracts at last year's "
           "activity plus (1 - growth_cap x min(1, stress / 2%)) of demand growth; the rest of that growth is "
           "not commissioned there (waiting lists) and its money goes to other contracts.",
       source="assumption: activity caps and no payment for over-performance are the channels the payment "
              "rules leave: non-elective activity above the API fixed element is not paid unless agreed "
              "(NHS Payment Scheme 2023/25); affordable activity plans agreed at the start of 2025-26 (NHS England, "
              "2025/26 NHSPS changes following consultation); swept"),
    _p("referral_shift", 1.0, "float", 0.0, 10.0, group="behaviour",
       doc="Repatriation: each year a system in deficit moves referral_shift x stress (at most 20%) of its "
           "residents' out-of-area delegated activity to in-system providers of the line with spare capacity.",
       source="assumption: 003 (support for services inside the ICB footprint rather than at the optimal scale)"),
    _p("local_start_share", 0.7, "float", 0.0, 1.5, group="behaviour",
       doc="A system in deficit starts a delegated line it has no in-system provider of, at its largest acute "
           "trust, for half its residents' activity of the line, when that planned volume is at least this share "
           "of the line's minimum viable volume. The new line's fixed costs are an incremental team of that size "
           "(overheads are shared with the trust), so it breaks even there: below 1 the system starts lines below "
           "clinically optimal scale (at most one a year), unless NHS England's specifications forbid it.",
       source="assumption: 001, 003 (repatriation below clinically optimal scale); swept"),
    _p("ringfence", "soft", "choice", choices=RINGFENCES, group="behaviour",
       doc="What an ICB-led commissioner may do with its delegated budget. hard: ring-fenced; money it does not "
           "spend is handed back to NHS England and none moves to deficits. soft: it keeps its underspend for its "
           "system's bottom line (a system in deficit then buys no extra activity with spare money) and may move up "
           "to diversion_limit of the budget to the system's deficit. none: as soft, and it may move up to the whole "
           "deficit. Under NHS England commissioning money unspent is always handed back. Default soft: the one "
           "observed precedent, the 2023-24 dental delegation, was ring-fenced and then softened within the year.",
       source="2023-24 dental delegation (specialised_facts.md §5d): ring-fenced, then ICBs allowed to keep "
              "underspends to balance their bottom line (PQ 11855, Feb 2024); about 12 of 42 ICBs refused extra "
              "activity because of system pressure (HSJ Jan 2024). The specialised delegation agreement's finance "
              "terms were not found: a structural assumption, swept"),
    _p("diversion_limit", 0.01, "float", 0.0, 0.2, group="behaviour",
       doc="Under a soft ring-fence, the most an ICB may move from its delegated budget to its core deficit, as a "
           "share of that budget.",
       source="assumption; swept with ringfence"),
    # --- committees and NHS England's rules ----------------------------------------
    _p("nhse_veto", True, "bool", group="region",
       doc="Joint committees (and, with nof_condition, ICBs in oversight segments 3-4) need NHS England's consent "
           "for cuts that treat providers unequally: it accepts a difference in cut (or growth) shares between "
           "contracts of at most nhse_tolerance.",
       source="2023-24 joint committees: NHS England kept the money and contracts and promised nothing would be "
              "decided without agreement (HSJ Feb 2023; HSJ 'The Integrator', Nov 2023): mutual consent"),
    _p("nhse_tolerance", 0.02, "float", 0.0, 0.5, group="region",
       doc="The largest difference in cut share between contracts that NHS England accepts where it must consent.",
       source="assumption; swept"),
    _p("nof_condition", True, "bool", group="region",
       doc="From 2025-26, delegation to ICBs in NHS Oversight Framework segments 3-4 carries a condition: modelled "
           "as NHS England's consent (nhse_veto rule) to their unequal cuts.",
       source="NHS England board Dec 2024 (a condition on delegation to ICBs in NHS Oversight Framework segments 3-4 "
              "exists; its content was not found); the consent rule is an assumption"),
    _p("spec_enforcement", 0.5, "float", 0.0, 1.0, group="region",
       doc="NHS England's service specifications: an ICB-led commissioner cuts no contract by more than "
           "(1 - spec_enforcement) x 50% in a year while others can take the cut, and starts no line below "
           "spec_enforcement x its minimum viable volume.",
       source="NHS England keeps service specifications and standards after delegation (Surrey Heartlands and "
              "Frimley ICB pages 2025); strength an assumption"),
    _p("protect_last_provider", True, "bool", group="region",
       doc="Regions pay from their pool to keep the last provider of a service line in the region open.",
       source="assumption based on 004 (regions hold the risk of service sustainability)"),
    _p("pool_share", 0.005, "float", 0.0, 0.05, group="region",
       doc="Size of each region's stabilisation reserve as a share of its ICBs' delegated budgets; topped up each "
           "year from those budgets back to that level; unspent money stays in the pool (a measure).",
       source="assumption: a limited risk pool (004)"),
    # --- allocation --------------------------------------------------------------
    _p("needs_weight_target", 0.0, "float", 0.0, 1.0, group="allocation",
       doc="Target weight of the population-need formula in delegated lines' budgets (0 = historic, 1 = fully "
           "need-based); high-cost drugs and retained lines stay on the historic basis.",
       source="001 (NHS England proposed moving from provider income to population need); ACRA's specialised "
              "target formula (NHS England board Dec 2023, Annex 2)"),
    _p("pace_of_change", 0.2, "float", 0.0, 1.0, group="allocation",
       doc="Yearly step of the budget weight towards the need-based target.",
       source="assumption: fair share by 2028-29 for ICB core allocations (Medium term planning framework); "
              "5-year glide path"),
    _p("convergence_floor", 0.0, "float", -0.1, 0.1, group="allocation",
       doc="Minimum yearly cash growth of any ICB's delegated allocation during convergence (0 = no ICB's "
           "delegated budget falls in cash terms); the floor is paid for by the ICBs above target.",
       source="assumption: convergence 'paced to avoid destabilising providers' (ACRA Annex 2, Dec 2023); "
              "allocations policy usually sets growth floors"),
    _p("deprivation_weight", 1.0, "float", 0.0, 2.0, group="allocation", when="setup",
       doc="Weight of deprivation in the need index: need = age index x (1 + deprivation_weight x (share of the "
           "ICB's areas in England's most deprived quintile - England's 20%)), renormalised.",
       source="IMD 2019 (MHCLG) by ICB; ACRA target formulae allow for deprivation (NHS England, needs-based "
              "allocations methodology); 1 is calibrated on the "
              "observed catchments of specialist trusts (seeds/calibration.csv)"),
    _p("distance_access_elasticity", 0.15, "float", 0.0, 0.6, group="allocation", when="setup",
       doc="How much base-year use per head rises with proximity to specialist capacity (creates the historic gap "
           "between spend and need that a needs formula would move).",
       source="assumption: distance-decay of specialised use; no public figure (MODEL.md)"),
    _p("reach_multiplier", 1.0, "float", 0.5, 2.0, group="allocation", when="setup",
       doc="Multiplier on every service's travel reach in the gravity model: higher means more cross-border "
           "(out-of-area) activity.",
       source="calibrated on observed catchments (seeds/calibration.csv)"),
    _p("in_area_affinity", 20.0, "float", 1.0, 40.0, group="allocation", when="setup",
       doc="Pull of providers in the patient's own ICB in the gravity model (referral pathways, patient "
           "preference), as a multiplier on their attractiveness.",
       source="calibrated on observed catchments of specialist and children's trusts (seeds/calibration.csv)"),
    # --- providers ---------------------------------------------------------------
    _p("cash_floor_days", 5.0, "float", 0.0, 30.0, group="provider",
       doc="Cash, in days of operating costs, below which a trust needs revenue support (public dividend "
           "capital), with conditions: a recovery plan (recovery_efficiency), capacity cuts on loss-making lines "
           "and, after withdrawal_rounds years on support, withdrawal of lines that lose money.",
       source="DHSC guidance (Jan 2023): revenue support as PDC when a trust shows a cash requirement; the floor is "
              "an assumption (sector cash balances were not found)"),
    _p("recovery_efficiency", 0.01, "float", 0.0, 0.05, group="provider",
       doc="Extra cost improvement (share of costs a year) a trust on revenue support delivers under its recovery plan.",
       source="assumption: conditions attached to revenue support (HSJ 2015; DHSC guidance 2023)"),
    _p("response_target", "break_even", "choice", choices=("break_even", "opening_surplus"), group="provider",
       sweepable=False,
       doc="The margin a trust's response aims at: break_even (every trust), or opening_surplus (a trust that "
           "opened 2022-23 in surplus keeps that surplus as its norm; one in deficit aims at break-even).",
       source="break_even: NHS finance business rules (each trust must break even on its own from 2026-27) and "
              "every system's plans balanced after support 2023-26 (NHS England board, facts §5, §5b); the "
              "alternative is a structural assumption, reported beside the default (README)"),
    _p("variable_cost_share", 0.5, "float", 0.3, 0.7, group="provider", when="setup",
       doc="Share of a tariff-paid line's cost at its base volume that varies with each case (averaged over tariff "
           "spend; lines with a higher fixed share in services.csv vary less). A lost case costs a trust its price "
           "less this variable cost until it can shed capacity.",
       source="the NHS priced marginal activity at 30-70% of average cost: the 30% marginal emergency rate "
              "2010-15, 50% for specialised growth above base in 2015-16 ('risk shared equally'), 70% by 2017-18 "
              "(facts §5c); 0.5 = the specialised rule, swept over 0.3-0.7"),
    _p("overhead_share", 0.2, "float", 0.05, 0.35, group="provider", when="setup",
       doc="Share of a line's cost at base volume that is estates and overheads (fixed): it stays when activity "
           "goes and is shed at overhead_shed_rate. The rest of the non-variable cost is semi-fixed (staff, "
           "theatres, beds), shed at cost_shed_rate.",
       source="assumption (no public split by trust was found): stranded costs are estates, staffing and long "
              "contracts (facts §5c); swept"),
    _p("overhead_shed_rate", 0.1, "float", 0.0, 1.0, group="provider",
       doc="Share of estates and overheads above what a line's activity needs that a trust can shed in a year.",
       source="assumption: estates and overheads take longer to shed than staff (facts §5c, stranded costs); swept"),
    _p("cost_shed_rate", 0.25, "float", 0.0, 1.0, group="provider",
       doc="Share of a line's semi-fixed costs (staff, theatres, beds) above its planned activity that a trust can "
           "shed in a year (they follow plans up at once, down slowly).",
       source="assumption: staff and estates take years to reduce"),
    _p("withdrawal_rounds", 3, "int", 1, 10, group="provider",
       doc="Consecutive rounds below minimum viable volume, at a loss, or on revenue support with a loss-making line, "
           "before a provider withdraws a service line.",
       source="assumption: a trust board tolerates two bad years before a service review concludes"),
    _p("loss_tolerance", 0.05, "float", 0.0, 0.5, group="provider",
       doc="A line counts as loss-making when its margin (share of its income) falls below its base-year margin "
           "(or 0 if that was positive) minus loss_tolerance.",
       source="assumption: trusts tolerate lines that always ran at a small loss (cross-subsidy)"),
    _p("min_volume_factor", 1.0, "float", 0.5, 1.5, group="provider", when="setup",
       doc="Multiplier on every service's minimum viable annual volume (seeds/services.csv). A line that was already "
           "below it in the base year is judged against 80% of its base volume.",
       source="assumption; seed volumes from NHS England standards (see seeds)"),
    _p("distress_capacity_cut", 0.1, "float", 0.0, 0.5, group="provider",
       doc="Share of capacity a trust on revenue support removes each year from its loss-making lines (contagion: "
           "their patients re-route).",
       source="assumption"),
    # --- measure definitions (no effect on the run) ---------------------------------
    _p("destabilised_deficit", 0.02, "float", 0.0, 0.2, group="measure",
       doc="A trust counts as destabilised when its deficit is worse than this share of turnover for two or more "
           "consecutive years, or it needs revenue support, or it has withdrawn a line for financial reasons. "
           "Reports also give the count for 0.5% to 10%.",
       source="assumption; the curve across thresholds is reported so no conclusion hinges on it"),
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
