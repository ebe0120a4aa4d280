"""``CommissioningModel``: one step is one annual funding round (a financial year).

The round (ODD, "Process overview and scheduling"):

1. the year's money: national specialised allocation, tariff prices (cost uplift less efficiency),
   providers' input-cost growth, ICB core allocations, national support to trusts (``funding.py``);
   demand grows by service (random variation, if any, from the run's own demand stream);
2. budgets per (ICB, service) cell: the allocation shared on the historic basis, delegated lines
   moving towards a need-based target at the pace of change (with a growth floor); each cell goes
   to its commissioner under the scenario's arrangement for the year;
3. ICBs decide from last year's system finances (their own body plus the trusts they host):
   referral shifts to in-system providers, local starts, diversion where the ring-fence allows;
   regions top up stabilisation pools;
4. commissioners contract: each plans its residents' expected activity; a stressed ICB holds
   out-of-area contracts near last year's activity; a shortfall becomes cuts and a surplus buys
   activity towards need, both by the priority rule (``contracting.py``) with protection set by
   the decision maker's system stress, within NHS England's consent and specification rules;
5. providers deliver within capacity (overflow re-routed), are paid at tariff (drugs at cost),
   carry fixed costs that follow plans up at once and down slowly, and close their accounts
   (``finance.py``): a trust below its cash floor gets revenue support with conditions; regions
   pay from their pool to keep the last provider of a line open; providers withdraw failing
   lines; patients of withdrawn lines re-route next round;
6. the DataCollector records model, ICB and provider measures.

All flows, budgets and money are numpy arrays in ``self.state`` (£m); agents hold indices and
decision rules (``agents.py``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import mesa
import numpy as np

from . import finance, measures
from .agents import ICB, START_LEAD, START_SHARE, Provider, Region
from .contracting import priority_cuts, priority_growth
from .data import TIERS, SeedData, load_seeds
from .errors import ParameterError
from .flows import LineIndex, accessibility, balance_flows, cap_and_reroute, distances_km, gravity_weights
from .funding import MoneyPath
from .params import DEFAULTS, validate_parameters
from .scenarios import BASE_YEAR, PolicyScenario, fy_label, load_scenario

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
    dist_k = dist[:, lines.p]  # (I, K)
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


class CommissioningModel(mesa.Model):
    """Agent-based model of NHS England specialised commissioning.

    Parameters
    ----------
    scenario:
        Name of a built-in policy scenario (``commissim scenarios`` lists them) or the path of a
        scenario TOML file. Kept as ``self.policy``: Mesa's ``Model`` has a ``scenario``
        attribute of its own, which this class leaves alone.
    rng:
        Seed (int) or ``numpy.random.Generator``, passed to ``mesa.Model``. The model draws its
        random numbers from streams spawned from it (cost efficiency, demand variation), so the
        same seed gives the same draws in every scenario (common random numbers).
    collect_agent_data:
        Record ICB and provider measures each round (set False for fast sweeps).
    seeds_path:
        Folder of seed tables (default: the project's ``seeds/``).
    **parameters:
        Any model parameter (see ``model.params``); user values win over the scenario's, in every year.
    """

    max_shift = MAX_SHIFT

    def __init__(
        self,
        scenario: str | PolicyScenario = "nhse_direct",
        rng: Any = None,
        *,
        collect_agent_data: bool = True,
        seeds_path: str | None = None,
        **parameters: Any,
    ):
        if isinstance(rng, str):
            try:
                rng = int(rng)
            except ValueError:
                raise ParameterError(f"parameter 'rng': value {rng!r} is not an integer seed") from None
        super().__init__(rng=rng)  # never forward `scenario`: Mesa owns that keyword
        self.policy = load_scenario(scenario)
        self.policy_name = self.policy.name
        self.user_parameters = validate_parameters(parameters)
        self.p: dict[str, Any] = {}
        self._apply_parameters(BASE_YEAR)
        self.data: SeedData = load_seeds(seeds_path)
        self.money = MoneyPath(self.data, self.p)
        # Independent random streams (numpy spawn): the draws of one never shift another's.
        self._cost_rng, self._demand_rng = self.rng.spawn(2)
        self.year = BASE_YEAR
        self._build_world()
        self._create_agents()
        self._set_arrangement(base_year=True)
        self.collect_agent_data = collect_agent_data
        self.datacollector = measures.make_datacollector(self, collect_agent_data)
        measures.update(self)
        self.datacollector.collect(self)
        self.running = True

    # ------------------------------------------------------------------ set-up
    def _apply_parameters(self, year: int) -> None:
        p = {**DEFAULTS, **self.policy.parameters_for(year), **self.user_parameters}
        self.p.clear()
        self.p.update(p)  # the same dict object: MoneyPath reads it

    def _build_world(self) -> None:
        d, p = self.data, self.p
        I, P, S, R = d.n_icbs, d.n_providers, d.n_services, d.n_regions
        self.n_icbs, self.n_providers, self.n_services, self.n_regions = I, P, S, R
        st = SimpleNamespace()
        self.state = st
        base = base_world(d, p["reach_multiplier"], p["distance_access_elasticity"], p["in_area_affinity"],
                          p["deprivation_weight"])
        self.lines = lines = base.lines
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
        eff = np.exp(self._cost_rng.normal(-0.5 * sd * sd, sd, size=(P, S))) if sd > 0 else np.ones((P, S))
        eff = np.where(d.pass_through[None, :], 1.0, eff)
        st.eff = eff
        # Fixed cost per unit of capacity and variable cost per case, in base-year prices.
        st.fixed_unit0 = d.fixed_share[None, :] * st.price0[None, :] * eff * np.divide(
            d.base_cases, d.capacity, out=np.zeros_like(d.base_cases), where=d.capacity > 0)
        st.var_unit0 = (1 - d.fixed_share)[None, :] * st.price0[None, :] * eff
        st.cost_index = np.ones(P)  # input cost growth less efficiency, per provider
        st.capacity = d.capacity.astype(float).copy()
        st.cost_capacity = st.capacity.copy()  # capacity whose fixed costs the provider carries
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
        base_cost = st.fixed_unit0 * st.capacity + st.var_unit0 * d.base_cases
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
        income0 = self.money.sector_income()
        st.modelled_share = float(st.turnover0.sum() / income0) if income0 else 1.0

        # Joint transplant + dialysis commissioning (extra scenario), when both lines exist.
        ids = list(d.service_id)
        st.dialysis_transplant = ((ids.index("renal_dialysis"), ids.index("kidney_transplant"))
                                  if "renal_dialysis" in ids and "kidney_transplant" in ids else None)
        st.tx_patients = np.zeros(I)
        st.tx_extra = np.zeros(I)
        st.transplants_funded = 0.0
        st.delivered = st.flow0.copy()
        st.unplaced = np.zeros((I, S))

        # ICBs: core allocations, ICB bodies' own positions, systems.
        st.core_allocation = d.core_allocation.astype(float).copy()
        st.icb_body_position = np.where(d.icb_body_position < 0, sev * d.icb_body_position, d.icb_body_position)
        st.icb_surplus = st.icb_body_position * st.core_allocation
        st.diversion = np.zeros(I)
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
        self._system_finances()
        st.delegated_budget = np.zeros(I)
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
        self.group_offsets = {
            NATIONAL: 0, REGION: 1, ICB_T: 1 + R, JC: 1 + R + I, PAN: 1 + R + I + F, MERGED: 1 + R + I + F + R,
        }
        G = 1 + R + I + F + R + M
        st.n_groups = G
        gtype = np.zeros(G, dtype=np.int64)
        for t, off in self.group_offsets.items():
            n = {NATIONAL: 1, REGION: R, ICB_T: I, JC: F, PAN: R, MERGED: M}[t]
            gtype[off:off + n] = t
        st.group_type = gtype
        st.comm = np.zeros((I, S), dtype=np.int64)
        st.delegated_cells = np.zeros((I, S), dtype=bool)
        st.needs_weight = 0.0
        st.allocation = self.money.allocation(BASE_YEAR)
        st.hist_share = None
        st.prev_icb_deleg = None
        st.prev_cell_budget = None
        st.payments = st.flow0 * st.price[lines.s][None, :]
        st.base_out_value_k = (st.payments * st.out_icb).sum(axis=0)
        st.share = st.weights.copy()
        st.plan_value = st.payments.copy()
        st.contracted_value = st.payments.copy()
        st.last_contracted_vol = st.flow0.copy()
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

    def _create_agents(self) -> None:
        d = self.data
        ICB.create_agents(self, d.n_icbs, idx=list(range(d.n_icbs)))
        Provider.create_agents(self, d.n_providers, idx=list(range(d.n_providers)))
        Region.create_agents(self, d.n_regions, idx=list(range(d.n_regions)))
        self.icbs = self.agents_by_type[ICB]
        self.providers = self.agents_by_type[Provider]
        self.regions = self.agents_by_type[Region]

    # -------------------------------------------------------------- arrangement
    def delegable_mask(self) -> np.ndarray:
        """Service lines that the arrangement may hand to ICB-led commissioners this year."""
        d = self.data
        ds = self.p["delegated_set"]
        if ds == "as_happened_59":
            mask = d.in_59.copy()
        elif ds == "as_happened_70":
            mask = d.in_70.copy()
        else:
            mask = d.tier == DELEGABLE
        return mask & (d.tier != HSS)

    def _set_arrangement(self, base_year: bool = False) -> None:
        """Assign every (ICB, service) cell to its commissioner for this year.

        The base year (2022-23) is recorded as it was, NHS England commissioning directly; a
        scenario's arrangement takes effect from the first round (2023-24).
        """
        d, st = self.data, self.state
        p = {**self.p, "arrangement": "nhse_direct"} if base_year else self.p
        I, S = d.n_icbs, d.n_services
        off = self.group_offsets
        region_gid = off[REGION] + d.icb_region
        comm = np.broadcast_to(region_gid[:, None], (I, S)).copy()
        comm[:, d.tier == HSS] = off[NATIONAL]
        arr = p["arrangement"]
        deleg = self.delegable_mask()
        icb_gid = (off[MERGED] + d.merger_group) if p["icb_footprint"] == "merged_2026" else (off[ICB_T] + np.arange(I))
        if arr == "nhse_direct":
            holder = None
        elif arr == "delegated":
            holder = icb_gid
        elif arr == "trailblazer":
            # Waves from the public record (seeds/icbs.csv delegation_wave): wave w from 2022 + w.
            wave_now = self.year - BASE_YEAR
            holder = np.where(d.delegation_wave <= wave_now, icb_gid, region_gid)
        elif arr == "joint_committees":
            holder = off[JC] + d.jc_footprint
        elif arr == "pan_icb":
            holder = off[PAN] + d.icb_region
        elif arr == "split_2024":
            # 2024-25 as it happened: the wave-2 ICBs (East of England, Midlands, North West) delegated,
            # joint committees elsewhere (NHS England board 7 Dec 2023).
            holder = np.where(d.delegation_wave == 2, icb_gid, off[JC] + d.jc_footprint)
        else:  # pragma: no cover - validated by params
            raise ParameterError(f"parameter 'arrangement': unknown value {arr!r}")
        claw = p["clawback_share"]
        if claw > 0:
            idx = np.nonzero(deleg)[0]
            idx = idx[np.argsort(-st.rarity[idx], kind="stable")]
            lines_cum = np.cumsum(d.lines[idx])
            n_back = int(np.searchsorted(lines_cum, claw * lines_cum[-1] - 1e-9) + 1)
            rarest = idx[:n_back]
            deleg = deleg.copy()
            deleg[rarest] = False
            comm[:, rarest] = off[NATIONAL]
        if holder is not None:
            comm[:, deleg] = holder[:, None]
        st.comm = comm
        st.delegated_cells = deleg[None, :] & (st.group_type[comm] >= ICB_T)

    # -------------------------------------------------------------------- round
    def step(self) -> None:
        """One funding round (financial year ``BASE_YEAR + steps``)."""
        self.year = BASE_YEAR + self.steps
        if self.year in self.policy.change_years() or self.steps == 1:
            self._apply_parameters(self.year)
        self._grow()
        self._set_arrangement()
        self._set_budgets()
        self._decision_context()
        self.icbs.shuffle_do("decide")
        self._apply_decisions()
        self._fund_pools()
        self._contract_and_deliver()
        self._provider_accounts()
        self._line_streaks()
        self.regions.shuffle_do("intervene")  # before providers decide: protect lines about to go
        self.settle_cash()
        self.update_review_flags()
        flag = self.state.review_flag
        if flag.any():
            self.providers.select(lambda a: flag[a.idx]).shuffle_do("review")
        self._system_finances()
        measures.update(self)
        self.datacollector.collect(self)

    def run(self, years: int = 10) -> CommissioningModel:
        """Run ``years`` funding rounds; returns self."""
        if int(years) != years or years < 0:
            raise ParameterError(f"years: value {years!r} is not allowed; expected a whole number >= 0")
        for _ in range(int(years)):
            self.step()
        return self

    def summary(self) -> dict[str, Any]:
        """Flat dict of end-of-run headline measures (see ``measures``)."""
        return measures.summary(self)

    def dense(self, name: str) -> np.ndarray:
        """A flow array of ``self.state`` (stored ICB x offered line) as ICB x provider x service."""
        return self.lines.dense(getattr(self.state, name))

    @property
    def financial_year(self) -> str:
        return fy_label(self.year)

    # --------------------------------------------------------------- mechanisms
    def _grow(self) -> None:
        d, st, p = self.data, self.state, self.p
        y = self.year
        cuf, ef = self.money.tariff(y)
        st.tariff_uplift = cuf - ef
        st.cost_growth = self.money.cost_growth(y)
        st.core_growth = self.money.core_growth(y)
        # Prices: tariff lines by cost uplift less efficiency; drugs and devices at cost, their cost growing
        # with non-pay inflation where seeds/funding.csv gives it (2023-24, 2024-25), else cost_inflation
        # (assumption: no separate drug price index was found).
        drug_growth = self.money._seed("nonpay_inflation", y)
        drug_growth = p["cost_inflation"] if drug_growth is None else drug_growth
        growth = np.where(st.pass_through, 1 + drug_growth, 1 + st.tariff_uplift)
        st.price = st.price * growth
        st.tariff_index *= 1 + st.tariff_uplift
        st.drug_index = getattr(st, "drug_index", 1.0) * (1 + drug_growth)
        # Providers' costs: input inflation less efficiency (plus the recovery plan's, on support).
        cip = ef + p["efficiency_gap"] + p["recovery_efficiency"] * st.on_recovery
        st.cost_index = st.cost_index * (1 + st.cost_growth - cip)
        st.cip = cip
        # Demand.
        g = 1 + d.demand_growth
        st.vol_index = st.vol_index * g
        noise = p["demand_noise"]
        shock = (np.exp(self._demand_rng.normal(-noise * noise / 2, noise, size=st.demand.shape))
                 if noise > 0 else 1.0)
        st.demand = st.demand * g[None, :] * shock
        st.need = st.need * g[None, :]
        self._invest_upstream()
        # ICB core allocations and ICB bodies' positions (held at their opening share of allocation,
        # plus any money moved in from delegated budgets: assumption, ODD "ICB finance").
        st.core_allocation = st.core_allocation * (1 + st.core_growth)
        st.allocation = self.money.allocation(y)
        st.subsidy[:] = 0.0
        st.region_paid[:] = 0.0

    def _invest_upstream(self) -> None:
        """Joint transplant + dialysis commissioning (extra scenario): fund extra kidney
        transplants from the dialysis budget; transplanted patients leave dialysis."""
        st, d = self.state, self.data
        share = self.p["upstream_investment"]
        if st.dialysis_transplant is None:
            return
        if share == 0 and not st.tx_patients.any() and not st.tx_extra.any():
            return
        dia, tx = st.dialysis_transplant
        failed = st.tx_patients * (1 - GRAFT_SURVIVAL)
        extra = share * st.demand[:, dia] * st.price[dia] / st.price[tx]
        st.tx_patients = st.tx_patients - failed + extra
        prev = st.tx_extra * (1 + d.demand_growth[tx])
        st.tx_extra = extra
        st.demand[:, tx] = np.maximum(st.demand[:, tx] + extra - prev, 0.0)
        st.need[:, tx] = np.maximum(st.need[:, tx] + extra - prev, 0.0)
        st.demand[:, dia] = np.maximum(st.demand[:, dia] + failed - extra, 0.0)
        st.need[:, dia] = np.maximum(st.need[:, dia] + failed - extra, 0.0)
        st.transplants_funded = float(st.tx_patients.sum())

    def _set_budgets(self) -> None:
        """Cell budgets: the national allocation shared on the historic basis; delegated cells (those an
        ICB-led commissioner holds this year) move towards the need-based target at the pace of change, no
        ICB's delegated budget growing less than the convergence floor."""
        st, p = self.state, self.p
        hist = st.demand0 * (st.vol_index * st.price)[None, :]
        hist_share = hist / hist.sum()
        target = p["needs_weight_target"]
        if self.steps >= 1 and st.needs_weight != target:
            step = p["pace_of_change"]
            st.needs_weight = (min(target, st.needs_weight + step) if target > st.needs_weight
                               else max(target, st.needs_weight - step))
        cell = st.allocation * hist_share
        w = st.needs_weight
        mask = st.delegated_cells  # delegated lines only: drugs, retained and undelegated lines stay historic
        st.decisions["convergence_floor"] = 0
        st.binding["convergence_floor"] = 0.0
        if w > 0 and mask.any():
            # Need-based target within each delegated line: its delegated cells' budget shared by need.
            line_total = (cell * mask).sum(axis=0)
            need_d = st.need * mask
            need_share = need_d / np.maximum(need_d.sum(axis=0), 1e-12)
            moved = (1 - w) * cell + w * line_total[None, :] * need_share
            new = np.where(mask, moved, cell)
            # Growth floor per ICB on its delegated lines (the same cells last year), paid for by the ICBs above it.
            prev = st.prev_cell_budget
            if prev is not None:
                icb_now = (new * mask).sum(axis=1)
                floor = (prev * mask).sum(axis=1) * (1 + p["convergence_floor"])
                short = np.maximum(floor - icb_now, 0.0)
                holders = mask.any(axis=1)
                st.decisions["convergence_floor"] = int(holders.sum())
                if short.sum() > 1e-9:
                    st.binding["convergence_floor"] = float((short > 1e-9).sum()) / max(int(holders.sum()), 1)
                    spare = np.maximum(icb_now - floor, 0.0)
                    take = short.sum() * spare / max(spare.sum(), 1e-12)
                    scale = np.divide(icb_now + short - take, icb_now, out=np.ones_like(icb_now), where=icb_now > 0)
                    new = np.where(mask, new * scale[:, None], new)
            cell = new
        st.prev_cell_budget = cell
        st.prev_icb_deleg = (cell * mask).sum(axis=1)
        st.cell_budget = cell
        st.budget_total = float(cell.sum())
        st.icb_budget = cell.sum(axis=1)
        st.delegated_budget = np.where(st.delegated_cells, cell, 0.0).sum(axis=1)

    def _system_finances(self) -> None:
        """Each system's position (ICB body + the trusts it hosts) and its stress (deficit share of allocation)."""
        st = self.state
        st.icb_surplus = st.icb_body_position * st.core_allocation + st.diversion_to_body + st.diversion_unused
        st.system_position = st.icb_surplus + self.by_host(st.surplus)
        st.system_margin = st.system_position / st.core_allocation
        st.stress = np.maximum(-st.system_margin, 0.0)
        if hasattr(st, "stress_years"):
            st.stress_years = np.where(st.stress > 0, st.stress_years + 1, 0)

    def by_host(self, x: np.ndarray) -> np.ndarray:
        """Sum a per-provider array by the ICB that hosts each provider (I,)."""
        return np.bincount(self.data.provider_icb, weights=x, minlength=self.n_icbs)

    def pooled_stress(self, members: np.ndarray) -> np.ndarray:
        """Stress of pooled decision makers: -(sum of positions) / (sum of allocations), per pool id."""
        st = self.state
        n = int(members.max()) + 1
        pos = np.bincount(members, weights=st.system_position, minlength=n)
        alloc = np.bincount(members, weights=st.core_allocation, minlength=n)
        return np.maximum(-pos / np.maximum(alloc, 1e-9), 0.0)

    def _decision_context(self) -> None:
        """Per ICB: who holds its delegated budget, the stress of that decision maker, whether it may act
        alone and whether NHS England must consent (read by ``ICB.decide``)."""
        st, d, p = self.state, self.data, self.p
        holder = self._icb_holder_groups()
        htype = st.group_type[holder]
        has = st.delegated_cells.any(axis=1)
        st.holder_type = np.where(has, htype, NATIONAL)
        merged = self.pooled_stress(d.merger_group)[d.merger_group]
        pan = self.pooled_stress(d.icb_region)[d.icb_region]
        jc = self.pooled_stress(d.jc_footprint)[d.jc_footprint]
        ht = st.holder_type
        is_icb, is_merged, is_pan, is_jc = ht == ICB_T, ht == MERGED, ht == PAN, ht == JC
        st.decider_stress = (np.where(is_icb, st.stress, 0.0) + np.where(is_merged, merged, 0.0)
                             + np.where(is_pan, pan, 0.0) + np.where(is_jc, jc, 0.0))
        st.can_act = has & (is_icb | is_merged | is_pan | is_jc)
        st.holds_own = has & (is_icb | is_merged)
        nof = p["nof_condition"] & (self.year >= 2025) & (d.nof_segment >= 3) & st.holds_own
        st.consent_needed = p["nhse_veto"] & ((st.holder_type == JC) | nof)
        if not hasattr(st, "start_wanted"):
            st.start_wanted = np.zeros(self.n_icbs, dtype=bool)

    def _in_system_k(self) -> np.ndarray:
        """(I, K): provider of each contract in the ICB's decision-making system (own, merged, region or
        joint-committee footprint);
        cached while who holds each ICB's budget stays the same."""
        st = self.state
        key = st.holder_type.tobytes()
        cached = getattr(self, "_insys_cache", None)
        if cached is None or cached[0] != key:
            t = st.holder_type[:, None]
            mask = np.select([t == ICB_T, t == MERGED, t == PAN, t == JC],
                             [~st.out_icb, ~st.out_merged, ~st.out_region, ~st.out_jc], default=False)
            cached = (key, mask)
            self._insys_cache = cached
        return cached[1]

    def _apply_decisions(self) -> None:
        """Carry out the ICBs' decisions on the arrays: referral shifts within spare capacity, local starts,
        diversion of delegated money to system deficits."""
        st, p, d, lines = self.state, self.p, self.data, self.lines
        I = self.n_icbs
        st.shift = np.zeros(I)
        st.local_starts = 0
        st.decisions["referral_capacity"] = int((st.shift_wanted > 0).sum())
        st.decisions["local_start_blocked"] = 0
        st.binding["referral_capacity"] = 0.0
        st.binding["local_start_blocked"] = 0.0
        acting = st.shift_wanted > 0
        deciding = acting | st.start_wanted
        if not deciding.any():
            if st.pending_starts:
                self._open_pending_starts()
        else:
            rows = np.nonzero(deciding)[0]
            in_sys = self._in_system_k()[rows]
            usable = lines.pick(st.active & (st.capacity > 1e-9))
            w = st.weights[rows] * st.pref[rows] * usable
            tot = lines.by_service(w)
            in_share = np.divide(lines.by_service(w * in_sys), tot, out=np.zeros_like(tot), where=tot > 0)
            shifting = acting[rows]
            if shifting.any():
                sr = np.nonzero(shifting)[0]
                ish, isys = in_share[sr], in_sys[sr]
                cells = st.delegated_cells[rows[sr]]
                can = cells & (ish > 1e-9) & (ish < 1 - 1e-9)
                rate = st.shift_wanted[rows[sr]][:, None]
                want_in = ish + rate * (1 - ish)
                # Spare capacity of the in-system lines (capacity less last year's load).
                spare_k = np.maximum(lines.pick(st.capacity) - st.delivered.sum(axis=0), 0.0) * usable
                spare = lines.by_service(isys * spare_k[None, :])
                extra = (want_in - ish) * st.demand[rows[sr]]
                limit = np.where(can & (extra > 1e-12), np.minimum(1.0, spare / np.maximum(extra, 1e-12)), 1.0)
                new_in = ish + limit * (want_in - ish)
                f_in = np.where(can, new_in / np.maximum(ish, 1e-12), 1.0)
                f_out = np.where(can, (1 - new_in) / np.maximum(1 - ish, 1e-12), 1.0)
                factor = np.where(isys, f_in[:, lines.s], f_out[:, lines.s])
                st.pref[rows[sr]] = st.pref[rows[sr]] * factor
                limited = (can & (limit < 1 - 1e-9)).any(axis=1)
                st.shift[rows[sr]] = (np.where(can.any(axis=1), st.shift_wanted[rows[sr]], 0.0)
                                      * np.where(limited, 0.5, 1.0))
                st.binding["referral_capacity"] = float(limited.sum()) / len(sr)
            full_in = np.ones((I, self.n_services))
            full_in[rows] = in_share
            self._local_starts(full_in, self._in_system_k())
        # The limit of a soft ring-fence is a channel that may or may not bind; a hard ring-fence is the
        # channel closed (no money moves, by assumption: reported as such, not as a binding limit).
        wanted = st.diversion_wanted
        soft = p["ringfence"] == "soft"
        st.decisions["diversion_limit"] = int((wanted > 0).sum()) if soft else 0
        st.binding["diversion_limit"] = (float(((wanted - st.diversion) > 1e-9).sum()) / max(int((wanted > 0).sum()), 1)
                                         if soft else 0.0)
        body_def = np.maximum(-st.icb_body_position * st.core_allocation, 0.0)
        st.diversion_to_body = np.minimum(st.diversion, body_def)
        rest = st.diversion - st.diversion_to_body
        deficits = np.maximum(-st.surplus, 0.0)
        host_def = self.by_host(deficits)
        frac = np.divide(rest, host_def, out=np.zeros(I), where=host_def > 0)
        st.diversion_to_trusts = deficits * frac[d.provider_icb]
        st.diversion_unused = rest - self.by_host(st.diversion_to_trusts)

    def _local_starts(self, in_share: np.ndarray, in_sys: np.ndarray) -> None:
        """Systems in deficit for two years decide to start a delegated line they have no in-system provider
        of (one a year each); it opens ``START_LEAD`` years later at their largest acute trust."""
        st, p, lines = self.state, self.p, self.lines
        self._open_pending_starts()
        cand = st.start_wanted[:, None] & st.delegated_cells & (in_share <= 1e-9) & st.holds_own[:, None]
        if not cand.any():
            return
        pot_k = lines.pick(st.potential & ~st.active)
        pending = {(i, k) for _, i, k, _, _ in st.pending_starts}
        preparing = {j for y, j, _, _, _ in st.pending_starts if y > self.year}  # one line at a time
        rows = np.array([i for i in np.flatnonzero(cand.any(axis=1)) if i not in preparing], dtype=np.int64)
        if not len(rows):
            return
        room = pot_k[None, :] & in_sys[rows]  # a potential line in the system, per candidate ICB
        has = np.logical_or.reduceat(room, lines.starts, axis=1)
        first_k = np.minimum.reduceat(np.where(room, np.arange(lines.K), lines.K), lines.starts, axis=1)
        vol_all = START_SHARE * st.demand[rows]  # the volume a new line would plan for (I_rows, S)
        viable = cand[rows] & has & (vol_all >= p["local_start_share"] * st.min_volume_abs[None, :])
        spec_ok = vol_all >= p["spec_enforcement"] * st.min_volume_abs[None, :]  # the specification allows it
        n_viable = viable.sum(axis=1)
        ranked = np.argsort(np.where(viable, -vol_all, np.inf), axis=1, kind="stable")  # largest first
        for r, i in enumerate(rows):
            order = ranked[r, :n_viable[r]]
            if pending:
                order = np.array([s for s in order if (i, int(first_k[r, s])) not in pending], dtype=np.int64)
            if not len(order):
                continue
            # Each line considered is a decision; it is blocked by NHS England's consent or the specification.
            go = np.zeros(len(order), dtype=bool) if st.consent_needed[i] else spec_ok[r, order]
            j = int(np.argmax(go)) if go.any() else len(order)
            st.decisions["local_start_blocked"] += min(j + 1, len(order))
            st.binding["local_start_blocked"] += j
            if j < len(order):
                s = int(order[j])
                st.pending_starts.append((self.year + START_LEAD, int(i), int(first_k[r, s]), s,
                                          START_SHARE * float(st.demand[i, s])))
        n = st.decisions["local_start_blocked"]
        st.binding["local_start_blocked"] = st.binding["local_start_blocked"] / n if n else 0.0

    def _open_pending_starts(self) -> None:
        """Open the lines decided ``START_LEAD`` years ago (their planned volume grown with demand)."""
        st, lines = self.state, self.lines
        keep = []
        for y, i, k, s, planned in st.pending_starts:
            if y > self.year:
                keep.append((y, i, k, s, planned))
                continue
            p = int(lines.p[k])
            if st.active[p, s]:
                continue
            volume = START_SHARE * float(st.demand[i, s])
            self.start_line(p, s, volume)
            a, b = lines.span(s)
            tot = float((st.weights[i, a:b] * st.pref[i, a:b]).sum())
            st.weights[i, k] = tot * START_SHARE / (1 - START_SHARE)
            st.pref[i, k] = 1.0
        st.pending_starts = keep

    def _fund_pools(self) -> None:
        """Regions keep a stabilisation reserve of ``pool_share`` of their ICBs' delegated budgets: each
        year it is topped up from those budgets to that level (a finite pool; unspent money stays)."""
        st, p = self.state, self.p
        R = self.n_regions
        reg = self.data.icb_region
        deleg_r = np.bincount(reg, weights=st.delegated_budget, minlength=R)
        need_r = np.maximum(p["pool_share"] * deleg_r - st.pool, 0.0)
        frac = np.divide(need_r, deleg_r, out=np.zeros(R), where=deleg_r > 0)
        topslice_icb = st.delegated_budget * frac[reg]
        st.pool_topslice_icb = topslice_icb
        st.pool = st.pool + np.bincount(reg, weights=topslice_icb, minlength=R)

    # ---------------------------------------------------------- who decides how
    def _deciders(self) -> SimpleNamespace:
        """For each contract (I, K): its commissioner, whether it is 'in-system' for the decision
        maker, the decision maker's stress, whether NHS England must consent, and the cut cap.
        The masks depend only on the year's arrangement and are cached; stress is per commissioner."""
        st, d, p = self.state, self.data, self.p
        consent_year = bool(p["nhse_veto"] and p["nof_condition"] and self.year >= 2025)
        key = (st.comm.tobytes(), bool(p["nhse_veto"]), consent_year, float(p["spec_enforcement"]))
        cached = getattr(self, "_dec_cache", None)
        if cached is None or cached[0] != key:
            ks = self.lines.s
            g = st.comm[:, ks]
            t = st.group_type[g]
            icb_led = t >= ICB_T
            in_sys = np.select(
                [t == ICB_T, t == MERGED, t == JC, t == PAN],
                [~st.out_icb, ~st.out_merged, ~st.out_jc, ~st.out_region],
                default=False,
            ) & icb_led
            consent = np.zeros_like(icb_led)
            if p["nhse_veto"]:
                consent = t == JC
                if consent_year:
                    consent = consent | (((t == ICB_T) | (t == MERGED)) & (d.nof_segment >= 3)[:, None])
            cap = np.where(icb_led, (1 - p["spec_enforcement"]) * 0.5, 1.0)
            flat = g.ravel()
            sys_idx = np.flatnonzero(in_sys)  # the only contracts a decision maker may protect
            rows_g = np.zeros((self.n_icbs, st.n_groups), dtype=bool)  # commissioners of each ICB's cells
            rows_g[np.repeat(np.arange(self.n_icbs), st.comm.shape[1]), st.comm.ravel()] = True
            cached = (key, SimpleNamespace(in_system=in_sys, consent=consent,
                                           cap=cap, flat=flat, sys_idx=sys_idx, sys_g=flat[sys_idx],
                                           sys_k=sys_idx % g.shape[1], sys_consent=consent.ravel()[sys_idx],
                                           rows_g=rows_g))
            self._dec_cache = cached
        dec = cached[1]
        # Stress of each commissioner: an ICB's own system, a merged ICB's, a joint committee's footprint,
        # a pan-ICB pool's region; NHS England's commissioners decide without it (0).
        off = self.group_offsets
        stress_g = np.zeros(st.n_groups)
        stress_g[off[ICB_T]:off[ICB_T] + self.n_icbs] = st.stress
        stress_g[off[JC]:off[JC] + len(d.jc_names)] = self.pooled_stress(d.jc_footprint)
        stress_g[off[PAN]:off[PAN] + self.n_regions] = self.pooled_stress(d.icb_region)
        stress_g[off[MERGED]:off[MERGED] + len(d.merger_names)] = self.pooled_stress(d.merger_group)
        dec.stress_g = stress_g
        return dec

    def _protection(self, dec: SimpleNamespace) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """Protection theta of every contract, as a sparse pair (flat indices into (I, K), values), and the
        flat indices where NHS England's consent capped it.

        theta = system_weight x (decision maker's stress) x (provider's contribution margin on the line) for
        contracts with providers in the decision maker's system, 0 otherwise (so only those are listed);
        where NHS England must consent, theta is capped at nhse_tolerance (the unequal treatment it accepts)."""
        p = self.p
        scale = p["system_weight"] * dec.stress_g  # (G,)
        theta = scale[dec.sys_g] * self._contribution()[dec.sys_k]
        limited = dec.sys_consent & (theta > p["nhse_tolerance"])
        if limited.any():
            theta = np.where(limited, p["nhse_tolerance"], theta)
        on = theta > 0
        return (dec.sys_idx[on], theta[on]), dec.sys_idx[limited]

    def _contribution(self) -> np.ndarray:
        """Share of £1 of income on each line that stays with the provider after variable costs (K,)."""
        st, lines = self.state, self.lines
        var = lines.pick(st.var_unit0) * st.cost_index[lines.p]
        r = 1.0 - var / st.price[lines.s]
        return np.where(st.pass_through[lines.s], 0.0, np.clip(r, 0.0, 1.0))

    def _flat_group_sum(self, x: np.ndarray) -> np.ndarray:
        return self.group_sum(x.reshape(self.n_icbs, self.lines.K))

    def group_sum(self, x: np.ndarray) -> np.ndarray:
        """Sum of an (I, K) contract array by commissioner (G,): over lines into cells, then cells by group."""
        st = self.state
        return np.bincount(st.comm.ravel(), weights=self.lines.by_service(x).ravel(), minlength=st.n_groups)

    # ---------------------------------------------------------------- contracts
    def _contract_and_deliver(self) -> None:
        st, p = self.state, self.p
        lines = self.lines
        ks = lines.s
        G = st.n_groups
        usable = lines.pick(st.active & (st.capacity > 1e-9))
        w = st.weights * st.pref * usable
        tot = lines.by_service(w)
        inv = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot > 0)
        share = w * inv[:, ks]
        st.share = share
        price_k = st.price[ks]
        dec = self._deciders()
        theta, limited = self._protection(dec)

        # Budgets of commissioners: cells less diversion and pool top-slice (each by its own rule).
        g_cells = np.bincount(st.comm.ravel(), weights=st.cell_budget.ravel(), minlength=G)
        holder = self._icb_holder_groups()
        g_budget = g_cells - np.bincount(holder, weights=st.diversion + st.pool_topslice_icb, minlength=G)
        st.group_budget = g_budget

        # Plan: residents' expected activity at this year's routing, less what a stressed ICB withholds
        # from out-of-area providers (growth cap: harder negotiation; that growth is not commissioned there).
        demand_k = st.demand[:, ks]
        plan_vol = demand_k * share
        withheld_value = 0.0
        st.decisions["growth_cap"] = 0
        st.binding["growth_cap"] = 0.0
        strength_g = p["growth_cap"] * np.minimum(1.0, dec.stress_g / FULL_STRESS)
        strength_g[st.group_type < ICB_T] = 0.0  # NHS England's commissioners negotiate without it
        if p["nhse_veto"]:  # where NHS England must consent, it accepts at most nhse_tolerance of it
            consent_g = st.group_type == JC
            if p["nof_condition"] and self.year >= 2025:
                off = self.group_offsets
                icb_g = np.zeros(st.n_groups, dtype=bool)
                icb_g[off[ICB_T]:off[ICB_T] + self.n_icbs] = self.data.nof_segment >= 3
                # a merged ICB is bound when any of its members is (the condition follows the ICBs)
                merged_nof = np.bincount(self.data.merger_group, weights=(self.data.nof_segment >= 3),
                                         minlength=len(self.data.merger_names)) > 0
                icb_g[off[MERGED]:off[MERGED] + len(self.data.merger_names)] = merged_nof
                consent_g = consent_g | icb_g
            strength_g = np.where(consent_g, np.minimum(strength_g, p["nhse_tolerance"]), strength_g)
        prev = getattr(st, "prev_demand_cell", None)
        rows = np.flatnonzero(dec.rows_g[:, strength_g > 0].any(axis=1))
        if len(rows) and prev is not None:
            # Per cell (the cap's strength is the commissioner's, growth is the cell's), then per contract.
            sg_cell = strength_g[st.comm[rows]]  # (rows, S); 0 for NHS England's commissioners
            growth_cell = np.maximum(st.demand[rows] / np.maximum(prev[rows], 1e-12) - 1.0, 0.0)
            out_r = (sg_cell > 0)[:, ks] & ~dec.in_system[rows]
            allowed = st.last_contracted_vol[rows] * (1 + ((1 - sg_cell) * growth_cell)[:, ks])
            wr = np.maximum(plan_vol[rows] - allowed, 0.0)
            wr *= out_r
            plan_vol[rows] -= wr
            withheld_value = float((wr * price_k).sum())
            st.decisions["growth_cap"] = len(rows)
            st.binding["growth_cap"] = float((wr > 1e-9).any(axis=1).sum()) / len(rows)
        st.prev_demand_cell = st.demand.copy()
        plan = plan_vol * price_k
        g_plan = self.group_sum(plan)
        st.plan_value = plan

        # Shortfall -> cuts by priority; surplus -> growth towards need by priority.
        shortfall = np.maximum(g_plan - g_budget, 0.0)
        spare = np.maximum(g_budget - g_plan, 0.0)
        flat_g = dec.flat
        contracted = plan
        cut_total = growth_total = 0.0
        g_cut = np.zeros(G)
        g_growth = np.zeros(G)
        capped = np.zeros(G, dtype=bool)
        if shortfall.max(initial=0.0) > 1e-9:
            cut_share, capped = priority_cuts(plan.ravel(), flat_g, shortfall, theta, dec.cap.ravel(), G,
                                              group_sum=self._flat_group_sum)
            cut = cut_share.reshape(plan.shape) * plan
            g_cut = self.group_sum(cut)
            cut_total = float(g_cut.sum())
            contracted = contracted - cut
        headroom_cell = np.maximum(st.need - st.demand, 0.0)
        if spare.max(initial=0.0) > 1e-9 and headroom_cell.max(initial=0.0) > 0:
            headroom = (headroom_cell * st.price[None, :])[:, ks] * share
            funded = priority_growth(headroom.ravel(), flat_g, spare, theta, G,
                                     group_sum=self._flat_group_sum).reshape(plan.shape)
            growth = funded * headroom
            g_growth = self.group_sum(growth)
            growth_total = float(g_growth.sum())
            contracted = contracted + growth
        g_contracted = self.group_sum(contracted)
        # Money no contract uses, by its own rule: spare budget less the growth it bought (the cut rule
        # takes exactly the shortfall, so a commissioner that cuts has none).
        uncommitted = spare - g_growth
        st.group_plan, st.group_cut, st.group_growth, st.group_contracted = g_plan, g_cut, g_growth, g_contracted
        st.contracted_value = contracted
        st.cut_total = cut_total
        # Binding shares of the rules (ICB-led commissioners that had to decide).
        cutting_icb = (shortfall > 0) & (st.group_type >= ICB_T)
        st.decisions["spec_cap"] = int(cutting_icb.sum())
        st.binding["spec_cap"] = float((capped & cutting_icb).sum()) / max(int(cutting_icb.sum()), 1)
        consent_idx = theta[0][dec.consent.ravel()[theta[0]]]  # protected contracts that needed consent
        if len(limited) or len(consent_idx):
            consent_g = np.zeros(G, dtype=bool)
            lim_g = np.zeros(G, dtype=bool)
            consent_g[flat_g[consent_idx]] = True
            lim_g[flat_g[limited]] = True
            deciding = consent_g | lim_g
            st.decisions["nhse_consent"] = int(deciding.sum())
            st.binding["nhse_consent"] = float(lim_g.sum()) / max(int(deciding.sum()), 1)
        else:
            st.decisions["nhse_consent"] = 0
            st.binding["nhse_consent"] = 0.0

        volume = contracted / price_k
        st.requested_load = volume.sum(axis=0)
        st.capacity_at_delivery = lines.pick(st.capacity) * usable
        delivered, unplaced = cap_and_reroute(volume, st.capacity_at_delivery, st.weights, lines, usable=usable,
                                              load=st.requested_load)
        st.delivered = delivered
        st.unplaced = unplaced
        payments = delivered * price_k
        st.payments = payments
        st.last_contracted_vol = volume
        st.delivered_cell = lines.by_service(delivered)  # (I, S) cases delivered per cell
        cell_paid = st.delivered_cell * st.price[None, :]  # one price per service: the same as summing payments
        st.group_spend = np.bincount(st.comm.ravel(), weights=cell_paid.ravel(), minlength=G)
        paid = float(cell_paid.sum())
        unplaced_value = float((unplaced * st.price[None, :]).sum())  # contracted cases with no provider room
        st.ledger = dict(
            allocation=float(st.cell_budget.sum()), diverted=float(st.diversion.sum()),
            pool_topslice=float(st.pool_topslice_icb.sum()), plan=float(g_plan.sum()),
            withheld=withheld_value,
            cuts=cut_total, growth=growth_total, uncommitted=float(uncommitted.sum()), payments=paid,
            undelivered=unplaced_value, pool_paid=0.0, support_income=0.0, pdc=0.0,
        )
        st.group_uncommitted = uncommitted

        # Provider lines: volume and income; capacity plans follow the activity asked for.
        delivered_k = delivered.sum(axis=0)
        vol = lines.dense(delivered_k)
        income = lines.dense(delivered_k * price_k)
        st.line_volume = vol
        st.line_income = income
        # Capacity (and its fixed costs) follows the activity plan: up at once (at most MAX_EXPANSION a year,
        # not while on revenue support), down at the shed rate: no surplus from capacity lagging demand.
        want = lines.dense(st.requested_load) * (1 + HEADROOM) * st.active
        on_support = st.needs_support[:, None]
        up = st.active & ~on_support & (want > st.capacity)
        down = st.active & (want < st.capacity)
        shed = p["cost_shed_rate"]
        new_cap = np.where(up, np.minimum(want, st.capacity * (1 + MAX_EXPANSION)), st.capacity)
        new_cap = np.where(down, st.capacity - shed * (st.capacity - want), new_cap)
        st.capacity = new_cap
        st.cost_capacity = new_cap

    def _icb_holder_groups(self) -> np.ndarray:
        """For each ICB, the commissioner group that holds its delegated budget (national if none)."""
        st = self.state
        I = self.n_icbs
        holder = np.zeros(I, dtype=np.int64)
        has = st.delegated_cells.any(axis=1)
        if has.any():
            first = np.argmax(st.delegated_cells, axis=1)
            holder[has] = st.comm[np.arange(I)[has], first[has]]
        return holder

    # --------------------------------------------------------------- accounts
    def _provider_accounts(self) -> None:
        """Close every trust's year: income, costs, surplus, cash, revenue support (``finance.py``)."""
        st, p = self.state, self.p
        ci = st.cost_index[:, None]
        fixed = st.fixed_unit0 * ci * st.cost_capacity
        var = st.var_unit0 * ci * st.line_volume
        cost = np.where(st.pass_through[None, :], st.line_income, fixed + var)
        st.line_cost = cost
        st.line_margin = st.line_income - cost
        spec_income = st.line_income.sum(axis=1)
        spec_cost = cost.sum(axis=1)
        # Other (non-specialised) business: income grows with ICB core allocations; costs with the same
        # activity (core growth net of the tariff uplift) and the trust's cost index.
        prev_ci = st.cost_index / (1 + st.cost_growth - st.cip)
        st.other_income = st.other_income * (1 + st.core_growth)
        st.other_cost = st.other_cost * (1 + st.core_growth) / (1 + st.tariff_uplift) * (st.cost_index / prev_ci)
        # National support (2023-24 to 2025-26): shared in proportion to last year's deficits.
        support = finance.share_support(self.money.provider_support(self.year, st.modelled_share),
                                        np.maximum(-st.surplus, 0.0))
        st.support_income = support
        st.spec_income = spec_income
        st.spec_cost = spec_cost
        st.surplus = spec_income + st.other_income + support + st.diversion_to_trusts - spec_cost - st.other_cost
        st.turnover = spec_income + st.other_income + support + st.diversion_to_trusts
        st.cash = st.cash + st.surplus
        st.ledger["support_income"] = float(support.sum())

    def settle_cash(self) -> None:
        """Revenue support for trusts below the cash floor (after regions' payments are in)."""
        st, p = self.state, self.p
        opex = st.spec_cost + st.other_cost
        pdc = finance.cash_support(st.cash, opex, p["cash_floor_days"])
        st.pdc = pdc
        st.pdc_total = st.pdc_total + pdc
        st.cash = st.cash + pdc
        st.needs_support = pdc > 1e-9
        st.support_years = np.where(st.needs_support, st.support_years + 1, 0)
        st.on_recovery = st.needs_support.copy()
        st.margin = st.surplus / np.maximum(st.turnover, 1e-9)
        st.streak = finance.update_streaks(st.streak, st.margin)
        st.streak_param = np.where(st.margin < -p["destabilised_deficit"], st.streak_param + 1, 0)
        st.ledger["pdc"] = float(pdc.sum())

    def _line_streaks(self) -> None:
        """A line is failing when its own economics deteriorate: its margin, with costs deflated by the trust's
        general cost drift against tariff prices (that drift is the whole trust's problem, met by its finances),
        falls below its base-year margin (or 0) less ``loss_tolerance``; or its volume is below the minimum."""
        st, p = self.state, self.p
        drift = (st.cost_index / st.tariff_index)[:, None]
        own_cost = st.line_cost / drift
        ratio = np.divide(st.line_income - own_cost, st.line_income, out=np.full_like(st.line_margin, -1.0),
                          where=st.line_income > 0)
        losing = st.active & ~st.pass_through[None, :] & (
            ratio < np.minimum(st.base_margin_ratio, 0.0) - p["loss_tolerance"])
        st.line_losing = losing
        low = st.active & (st.line_volume < st.min_volume)
        st.loss_streak = np.where(losing, st.loss_streak + 1, 0)
        st.low_streak = np.where(low, st.low_streak + 1, 0)

    def update_review_flags(self) -> None:
        """Mark providers with something to decide (a failing line, revenue support)."""
        st, p = self.state, self.p
        k = p["withdrawal_rounds"]
        failing = ((st.loss_streak >= k) | (st.low_streak >= k)).any(axis=1)
        st.review_flag = failing | st.needs_support

    def withdraw_line(self, p: int, s: int, financial: bool = False) -> None:
        """Provider ``p`` stops offering service ``s``: capacity and fixed costs go; its patients
        re-route to the remaining providers from the next round."""
        st = self.state
        st.active[p, s] = False
        st.withdrawn[p, s] = True
        st.withdrawn_financial[p, s] = st.withdrawn_financial[p, s] or financial
        st.withdrawn_year[p, s] = self.year
        st.n_withdrawn_total += 1
        st.capacity[p, s] = 0.0
        st.cost_capacity[p, s] = 0.0
        st.low_streak[p, s] = 0
        st.loss_streak[p, s] = 0

    def start_line(self, p: int, s: int, volume: float) -> None:
        """A system starts service ``s`` at its provider ``p`` for ``volume`` cases a year: an incremental team
        sized for ``local_start_share`` of the minimum viable volume (below it the unit cost exceeds the tariff)."""
        st, d = self.state, self.data
        cap = volume * (1 + HEADROOM)
        st.active[p, s] = True
        st.started[p, s] = True
        st.withdrawn[p, s] = False
        st.capacity[p, s] = cap
        st.cost_capacity[p, s] = cap
        price0 = st.price0[s]
        # Incremental team: sized for local_start_share of the minimum viable volume (overheads shared).
        team = max(self.p["local_start_share"] * st.min_volume_abs[s], volume)
        st.fixed_unit0[p, s] = d.fixed_share[s] * price0 * team / cap
        st.var_unit0[p, s] = (1 - d.fixed_share[s]) * price0
        st.min_volume[p, s] = 0.8 * volume  # judged against the volume it was started for
        st.base_margin_ratio[p, s] = 0.0
        st.local_starts += 1
        st.local_starts_total += 1
