"""The world a run is built on: commissioner kinds, the model's fixed assumptions, the base-year geography and
flows (shared read-only between runs), and the arrays of ``model.state`` at the start of a run."""

from __future__ import annotations

from types import SimpleNamespace


import numpy as np

from . import finance
from .data import TIERS, SeedData
from .flows import LineIndex, accessibility, balance_flows, distances_km, gravity_weights
from .scenarios import BASE_YEAR


# Commissioner types (index into GROUP_TYPES).
GROUP_TYPES = ("national", "region", "icb", "joint_committee", "pan_icb", "merged_icb")
NATIONAL, REGION, ICB_T, JC, PAN, MERGED = range(6)
HSS, DELEGABLE, RETAINED = (TIERS.index(t) for t in TIERS)
# Assumption: capacity above planned activity (seeds/README.md); providers expand to keep this
# headroom over the activity they are asked for, by at most MAX_EXPANSION a year.
# Assumption, why 8%: above the fastest service's trend demand growth (6% a year, high-cost
# drugs), so funded growth can be met, but well short of a step change: new specialist teams
# and facilities take years to build.
HEADROOM = 0.10
MAX_EXPANSION = 0.08
# Assumption: yearly share of transplanted patients whose graft still works (UK kidney graft
# survival is around 90% at 5 years for living donors, lower for deceased donors).
GRAFT_SURVIVAL = 0.95
# The deprivation term of the need index is centred on England's share of areas in its most
# deprived IMD quintile: 20% by definition of a quintile.
ENGLAND_DEPRIVED_SHARE = 0.20
# Stress at which a system's harder contract negotiation reaches full strength (growth_cap) and
# the most a system repatriates in a year. Assumptions (no public figure): a deficit of 2% of
# allocation is a deep one (most 2024-25 deficit plans were 0-5% of allocation, specialised_facts
# §5); 20% a year keeps referral changes gradual (patients keep their choice of provider).
FULL_STRESS = 0.02
MAX_SHIFT = 0.20


# The channels every pound of a commissioner's budget goes through (delivery.py), reported as measures.
CHANNELS = ("commissioner_shortfall", "nhse_pooled", "overspend", "growth_withheld", "commissioner_cuts",
            "need_growth_funded", "kept_by_systems", "returned_to_nhse", "diverted_to_core")

BASE_WORLDS_KEPT = 32  # base-year worlds kept per seed data (a sweep over reach or affinity makes many)


def _make_base_world(d: SeedData, reach_multiplier: float, elasticity: float, affinity: float,
                     deprivation: float) -> SimpleNamespace:
    """Base-year geography and flows; depends only on the seed data and four set-up parameters."""
    dist = distances_km(d.icb_lat, d.icb_lon, d.prov_lat, d.prov_lon)  # (I, P)
    offered = d.base_cases > 0
    gravity = gravity_weights(dist, d.reach_km * reach_multiplier, offered)
    # Need per head: age index x deprivation factor, renormalised to a population-weighted mean of 1.
    dep = np.maximum(1.0 + deprivation * (d.imd_most_deprived - ENGLAND_DEPRIVED_SHARE), 0.05)
    need_index = d.need_index * dep
    need_index = need_index / (need_index * d.population).sum() * d.population.sum()
    national = d.base_cases.sum(axis=0)  # (S,)
    weight = d.population * need_index
    need = national[None, :] * (weight / weight.sum())[:, None]  # (I, S)
    # Historic use: need scaled by proximity to capacity (access elasticity), same national total.
    acc = accessibility(gravity, d.capacity)
    acc_rel = acc / np.maximum((acc * weight[:, None]).sum(axis=0) / weight.sum(), 1e-12)
    use = need * np.power(np.maximum(acc_rel, 1e-9), elasticity)
    use *= national / use.sum(axis=0)
    # Referral pathways: an ICB's residents are drawn to providers in their own ICB.
    in_area = d.provider_icb[None, :] == np.arange(d.n_icbs)[:, None]
    gravity = gravity * np.where(in_area, affinity, 1.0)[:, :, None]
    potential = potential_lines(d)
    lines = LineIndex(offered | potential)
    flows_k, _ = balance_flows(lines.pick(gravity), use, lines.pick(d.base_cases), lines)
    weights_k = np.divide(flows_k, use[:, lines.s], out=np.zeros_like(flows_k), where=use[:, lines.s] > 0)
    dist_k = np.ascontiguousarray(dist[:, lines.p])  # (I, K), row by row like every flow array
    world = SimpleNamespace(
        dist=dist, need=need, need_index=need_index, demand0=use, lines=lines, dist_k=dist_k, flow0=flows_k,
        weights=weights_k, base_km=lines.by_service(weights_k * dist_k), potential=potential,
    )
    for v in vars(world).values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return world


def potential_lines(d: SeedData) -> np.ndarray:
    """(P, S) lines a system could start: every delegable service that no provider in an ICB offers, at
    that ICB's largest acute trust (by turnover). Inactive, with no flows, until a system starts one."""
    offered = d.base_cases > 0
    acute = np.isin(d.provider_kind, ("shelford", "teaching", "local"))
    out = np.zeros_like(offered)
    delegable = d.tier == DELEGABLE
    for i in range(d.n_icbs):
        mine = np.nonzero((d.provider_icb == i) & acute)[0]
        if len(mine) == 0:
            continue
        host = mine[np.argmax(d.turnover[mine])]
        local_offer = offered[d.provider_icb == i].any(axis=0)
        # Only lines whose residents' activity could ever support a unit (a quarter of the minimum viable
        # volume for half the residents, at the base year's national rate per head).
        per_head = d.base_cases.sum(axis=0) / d.population.sum()
        feasible = 0.5 * per_head * d.population[i] >= 0.25 * d.min_volume
        out[host] = delegable & ~local_offer & ~d.pass_through & feasible
    return out


def base_world(data: SeedData, reach_multiplier: float, elasticity: float, affinity: float = 1.0,
               deprivation: float = 0.0) -> SimpleNamespace:
    """Base-year geography and flows (distances, need, use, balanced gravity flows).

    Depends only on the seed data and four set-up parameters, so it is computed once per process for each
    combination, kept with the seed data (``data.derived``, the most recent ``BASE_WORLDS_KEPT``) and shared
    read-only by every model instance built from that data.
    """
    worlds = data.derived.setdefault("base_worlds", {})
    key = (float(reach_multiplier), float(elasticity), float(affinity), float(deprivation))
    world = worlds.pop(key, None)
    if world is None:
        world = _make_base_world(data, *key)
        while len(worlds) >= BASE_WORLDS_KEPT:
            worlds.pop(next(iter(worlds)))  # the least recently used
    worlds[key] = world  # most recently used last
    return world



def cost_split(d: SeedData, variable_share: float, overhead_share: float) -> tuple[np.ndarray, ...]:
    """(variable, overhead, semi-fixed) shares of each service's unit cost at base volume (each (S,), summing to 1).

    The variable share averages ``variable_share`` over tariff-paid spend and keeps the pattern across services of
    services.csv's fixed_cost_share (capital-heavy lines such as radiotherapy are less variable); overheads and
    estates are ``overhead_share`` of every line; drugs and devices paid at cost are wholly variable."""
    var_raw = 1.0 - d.fixed_share
    spend = (d.base_cases * d.cost_per_case).sum(axis=0)
    tariff = ~d.pass_through
    mean = float((var_raw * spend)[tariff].sum() / max(spend[tariff].sum(), 1e-12)) if tariff.any() else 1.0
    v = np.clip(variable_share * var_raw / max(mean, 1e-12), 0.05, 0.95)
    o = np.minimum(np.full_like(v, overhead_share), 1.0 - v)
    v = np.where(d.pass_through, 1.0, v)
    o = np.where(d.pass_through, 0.0, o)
    return v, o, np.maximum(1.0 - v - o, 0.0)


def build_state(m) -> None:
    d, p = m.data, m.p
    I, P, S, R = d.n_icbs, d.n_providers, d.n_services, d.n_regions
    m.n_icbs, m.n_providers, m.n_services, m.n_regions = I, P, S, R
    st = SimpleNamespace()
    m.state = st
    base = base_world(d, p["reach_multiplier"], p["distance_access_elasticity"], p["in_area_affinity"],
                      p["deprivation_weight"])
    m.lines = lines = base.lines
    K = lines.K
    st.tier = d.tier
    st.prov_icb = d.provider_icb
    st.prov_region = d.icb_region[d.provider_icb]
    st.dist = base.dist
    st.need_index = base.need_index
    st.need = base.need.copy()
    st.demand0 = base.demand0
    st.demand = base.demand0.copy()
    st.dist_k = base.dist_k
    st.base_km = base.base_km
    st.flow0 = base.flow0
    st.weights = base.weights.copy()  # (I, K) routing weights (base-year split; local starts add)
    st.potential = base.potential
    st.pref = np.ones((I, K))  # ICB-specific referral multipliers (repatriation, local starts)
    offered = d.base_cases > 0
    national = d.base_cases.sum(axis=0)

    # Prices (£m per case) and the cost side. Efficiency eff[p, s] (1 = at tariff), no normalisation.
    st.price0 = d.cost_per_case.astype(float) / 1e6
    st.price = st.price0.copy()
    st.tariff_index = 1.0
    st.vol_index = np.ones(S)
    st.pass_through = d.pass_through
    sd = p["cost_dispersion"]
    eff = np.exp(m._cost_rng.normal(-0.5 * sd * sd, sd, size=(P, S))) if sd > 0 else np.ones((P, S))
    eff = np.where(d.pass_through[None, :], 1.0, eff)
    st.eff = eff
    # A line's cost at its base-year volume is its price x efficiency, split three ways (ODD, "Provider costs"):
    # variable per case (variable_cost_share on average over tariff lines, higher for lines whose services.csv
    # fixed share is lower), overheads and estates (overhead_share, per unit of capacity, shed slowly) and the
    # semi-fixed rest (staff, theatres, beds: per unit of capacity, shed at cost_shed_rate).
    st.cost_split = cost_split(d, p["variable_cost_share"], p["overhead_share"])
    v_s, o_s, sf_s = st.cost_split
    per_cap = np.divide(d.base_cases, d.capacity, out=np.zeros_like(d.base_cases), where=d.capacity > 0)
    st.fixed_unit0 = sf_s[None, :] * st.price0[None, :] * eff * per_cap  # semi-fixed, per unit of capacity
    st.overhead_unit0 = o_s[None, :] * st.price0[None, :] * eff * per_cap
    st.var_unit0 = v_s[None, :] * st.price0[None, :] * eff
    st.cost_index = np.ones(P)  # input cost growth less efficiency, per provider
    st.capacity = d.capacity.astype(float).copy()
    st.cost_capacity = st.capacity.copy()  # capacity whose semi-fixed costs the provider carries
    st.overhead_capacity = st.capacity.copy()  # capacity whose overheads and estates the provider carries
    st.active = offered.copy()
    st.started = np.zeros((P, S), dtype=bool)  # lines started by a system decision (local starts)
    st.min_volume = np.minimum(d.min_volume[None, :] * p["min_volume_factor"], 0.8 * d.base_cases)
    st.min_volume_abs = d.min_volume * p["min_volume_factor"]
    st.low_streak = np.zeros((P, S), dtype=np.int64)
    st.loss_streak = np.zeros((P, S), dtype=np.int64)
    st.line_losing = np.zeros((P, S), dtype=bool)
    st.protected = np.zeros((P, S), dtype=bool)
    st.subsidy = np.zeros((P, S))
    st.withdrawn = np.zeros((P, S), dtype=bool)
    st.withdrawn_year = np.zeros((P, S), dtype=np.int64)
    st.withdrawn_financial = np.zeros((P, S), dtype=bool)
    base_income_ps = d.base_cases * st.price0[None, :]
    st.base_income_ps = base_income_ps
    st.base_income = base_income_ps.sum(axis=1)
    base_cost = (st.fixed_unit0 + st.overhead_unit0) * st.capacity + st.var_unit0 * d.base_cases
    base_margin = np.where(d.pass_through[None, :], 0.0, base_income_ps - base_cost)
    st.base_margin_ratio = np.divide(base_margin, base_income_ps, out=np.zeros_like(base_margin),
                                     where=base_income_ps > 0)
    st.line_margin = base_margin.copy()
    st.line_volume = d.base_cases.astype(float).copy()
    st.line_income = base_income_ps.copy()
    st.planned_load = lines.pick(d.base_cases).astype(float)

    # Whole-trust finances (2022-23 opening position). Deficit severity scales opening deficits.
    sev = p["deficit_severity"]
    margin0 = np.where(d.opening_margin < 0, sev * d.opening_margin, d.opening_margin)
    st.turnover0 = d.turnover.astype(float)
    st.spec_income = st.base_income.copy()
    st.spec_cost = np.where(d.pass_through[None, :], base_income_ps, base_cost).sum(axis=1)
    st.other_income = np.maximum(st.turnover0 - st.spec_income, 0.0)
    st.surplus = margin0 * st.turnover0
    st.margin0 = margin0  # opening margins: a response_target may aim at them (budgets.year_money)
    st.other_cost = st.spec_income + st.other_income - st.spec_cost - st.surplus
    st.support_income = np.zeros(P)
    st.turnover = st.turnover0.copy()
    st.margin = st.surplus / st.turnover
    st.cash = d.cash.astype(float).copy()
    st.pdc = np.zeros(P)  # revenue support received this year
    st.pdc_total = np.zeros(P)
    st.needs_support = np.zeros(P, dtype=bool)
    st.support_years = np.zeros(P, dtype=np.int64)
    st.on_recovery = np.zeros(P, dtype=bool)
    st.streak = np.zeros((len(finance.DESTAB_THRESHOLDS), P), dtype=np.int64)
    st.streak_param = np.zeros(P, dtype=np.int64)  # at the parameter destabilised_deficit
    st.n_withdrawn_total = 0
    st.income_change = np.zeros(P)
    st.review_flag = np.zeros(P, dtype=bool)
    st.specialist_provider = np.isin(d.provider_kind, ("shelford", "specialist", "childrens"))
    st.acute_provider = np.isin(d.provider_kind, ("shelford", "teaching", "local"))
    income0 = m.money.sector_income()
    st.modelled_share = float(st.turnover0.sum() / income0) if income0 else 1.0

    # Joint transplant + dialysis commissioning (extra scenario), when both lines exist.
    ids = list(d.service_id)
    st.dialysis_transplant = ((ids.index("renal_dialysis"), ids.index("kidney_transplant"))
                              if "renal_dialysis" in ids and "kidney_transplant" in ids else None)
    st.tx_patients = np.zeros(I)
    st.tx_extra = np.zeros(I)
    st.transplants_funded = 0.0
    st.delivered = st.flow0.copy()
    st.delivered_load = st.delivered.sum(axis=0)
    st.unplaced = np.zeros((I, S))

    # ICBs: core allocations, ICB bodies' own positions, systems.
    st.core_allocation = d.core_allocation.astype(float).copy()
    st.icb_body_position = np.where(d.icb_body_position < 0, sev * d.icb_body_position, d.icb_body_position)
    st.icb_surplus = st.icb_body_position * st.core_allocation
    st.diversion = np.zeros(I)
    st.delegated_result = np.zeros(I)  # kept underspend less overspend of delegated budgets, counted in the system
    st.diversion_wanted = np.zeros(I)
    st.diversion_to_body = np.zeros(I)
    st.diversion_to_trusts = np.zeros(P)
    st.diversion_unused = np.zeros(I)
    st.start_wanted = np.zeros(I, dtype=bool)
    st.stress_years = np.zeros(I, dtype=np.int64)  # consecutive years with the system in deficit
    st.pending_starts: list[tuple[int, int, int, int, float]] = []  # (open year, icb, line k, service, volume)
    st.shift = np.zeros(I)
    st.shift_wanted = np.zeros(I)
    st.stress = np.zeros(I)
    from .accounts import system_finances

    system_finances(m)
    st.delegated_budget = np.zeros(I)
    st.prev_plan_cell = st.demand0 * st.price0[None, :]  # the activity value budgets are shared on (last year's plan)
    st.channels = dict.fromkeys(CHANNELS, 0.0)  # this round's money by channel (£m)
    st.channel_binding = dict.fromkeys(CHANNELS, 0.0)  # money-weighted share of ICBs each channel moved money for
    st.stranded = np.zeros(P)
    st.icb_budget = (st.demand0 * st.price[None, :]).sum(axis=1)
    st.icb_spend_in_area = np.zeros(I)
    st.icb_spend_out_area = np.zeros(I)
    st.prev_in_area = None
    st.prev_out_area = None
    st.home_bias_observed = np.full(I, np.nan)
    st.access_rate = np.zeros(I)
    st.local_starts = 0
    st.local_starts_total = 0

    # Regions: pools.
    st.pool = np.zeros(R)
    st.region_paid = np.zeros(R)

    # Out-of-area relationships (I, K) for every footprint kind.
    hk = d.provider_icb[lines.p]
    st.out_icb = hk[None, :] != np.arange(I)[:, None]
    st.out_region = d.icb_region[hk][None, :] != d.icb_region[:, None]
    st.out_jc = d.jc_footprint[hk][None, :] != d.jc_footprint[:, None]
    st.out_merged = d.merger_group[hk][None, :] != d.merger_group[:, None]
    centres = offered.sum(axis=0)
    order = np.lexsort((-national, -centres))
    rank = np.empty(S, dtype=float)
    rank[order] = np.arange(S)
    st.rarity = rank / max(S - 1, 1)

    # Commissioner group ids.
    F, M = len(d.jc_names), len(d.merger_names)
    m.group_offsets = {
        NATIONAL: 0, REGION: 1, ICB_T: 1 + R, JC: 1 + R + I, PAN: 1 + R + I + F, MERGED: 1 + R + I + F + R,
    }
    G = 1 + R + I + F + R + M
    st.n_groups = G
    gtype = np.zeros(G, dtype=np.int64)
    for t, off in m.group_offsets.items():
        n = {NATIONAL: 1, REGION: R, ICB_T: I, JC: F, PAN: R, MERGED: M}[t]
        gtype[off:off + n] = t
    st.group_type = gtype
    st.comm = np.zeros((I, S), dtype=np.int64)
    st.delegated_cells = np.zeros((I, S), dtype=bool)
    st.needs_weight = 0.0
    st.allocation = m.money.allocation(BASE_YEAR)
    st.hist_share = None
    st.prev_icb_deleg = None
    st.prev_cell_budget = None
    st.payments = st.flow0 * st.price[lines.s][None, :]
    st.base_out_value_k = (st.payments * st.out_icb).sum(axis=0)
    st.share = st.weights.copy()
    st.plan_value = st.payments.copy()
    st.contracted_value = st.payments.copy()
    st.last_contracted_vol = st.flow0.copy()
    st.prev_demand_cell = None  # last year's demand per cell (None: the base year's, demand0)
    st.capacity_at_delivery = lines.pick(st.capacity)
    st.cell_budget = st.demand0 * st.price[None, :]
    st.group_budget = np.zeros(G)
    st.group_spend = np.zeros(G)
    st.budget_total = float(st.cell_budget.sum())
    # The ledger of the round (every flow by its own rule; tests check they add up).
    st.ledger = dict(allocation=st.budget_total, payments=float(st.payments.sum()), undelivered=0.0,
                     uncommitted=0.0, diverted=0.0, pool_topslice=0.0, pool_paid=0.0, withheld=0.0,
                     cuts=0.0, growth=0.0, plan=float(st.payments.sum()), support_income=0.0, pdc=0.0)
    st.binding = dict(spec_cap=0.0, nhse_consent=0.0, growth_cap=0.0, diversion_limit=0.0,
                      referral_capacity=0.0, local_start_blocked=0.0, convergence_floor=0.0)
    st.decisions = dict(spec_cap=0, nhse_consent=0, growth_cap=0, diversion_limit=0, referral_capacity=0,
                        local_start_blocked=0, convergence_floor=0)
