"""``CommissioningModel``: one step is one annual funding round (a financial year).

The round (MODEL.md, "A funding round"):

1. demand grows by service; the national envelope grows with inflation and the
   expected growth of demand, less any ``funding_gap``;
2. budgets are set per (ICB, service) cell on a historic (provider-income) basis,
   moving towards a population-need basis at ``pace_of_change``; each cell is
   assigned to its commissioner under the scenario's arrangement for the year;
3. ICB agents decide (diversion, repatriation, maturity); regions top up their
   stabilisation reserves (array rule); commissioners contract: a shortfall
   becomes cuts (even for NHS England; for ICB-led commissioners, cash-strapped
   ICBs' residents' out-of-area and rarer lines are cut first, within the cap that
   regional specification enforcement sets); a surplus buys activity for unmet need;
4. providers deliver within capacity (overflow re-routed to providers with room),
   are paid at tariff, bear fixed and variable costs; each line's run of bad
   years is updated; regions pay from their pool to keep open a line that is the
   last of its service in the region and would otherwise be withdrawn now;
   providers withdraw failing lines and react to distress; patients of
   withdrawn lines re-route next round;
5. the DataCollector records model, ICB and provider measures.

All flows, budgets and incomes are numpy arrays in ``self.state``; agents hold
indices and decision rules (``agents.py``). Money is in £m throughout.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import mesa
import numpy as np

from . import measures
from .agents import ICB, Provider, Region
from .contracting import allocate_cuts, home_bias_weight, uplift_fraction
from .data import TIERS, SeedData, load_seeds
from .errors import ParameterError
from .flows import (
    LineIndex,
    accessibility,
    balance_flows,
    cap_and_reroute,
    distances_km,
    gravity_weights,
    shares,
)
from .params import DEFAULTS, validate_parameters
from .scenarios import BASE_YEAR, PolicyScenario, fy_label, load_scenario

# Commissioner types (index into GROUP_TYPES).
GROUP_TYPES = ("national", "region", "icb", "joint_committee", "pan_icb", "merged_icb")
NATIONAL, REGION, ICB_T, JC, PAN, MERGED = range(6)
HSS, DELEGABLE, RETAINED = (TIERS.index(t) for t in TIERS)
# Assumption: capacity above base-year volume (seeds/README.md); providers expand to
# keep this headroom over the activity they are asked for, by at most MAX_EXPANSION a year.
# Assumption, why 8%: above the fastest service's trend demand growth (6% a year, high-cost
# drugs), so funded growth can be met, but well short of a step change: new specialist teams
# and facilities take years to build.
HEADROOM = 0.10
MAX_EXPANSION = 0.08
# Assumption: yearly share of transplanted patients whose graft still works (UK kidney graft
# survival is around 90% at 5 years for living donors, lower for deceased donors).
GRAFT_SURVIVAL = 0.95


BASE_WORLDS_KEPT = 32  # base-year worlds kept per seed data (a sweep over reach or affinity makes many)


def base_world(data: SeedData, reach_multiplier: float, elasticity: float, affinity: float = 1.0) -> SimpleNamespace:
    """Base-year geography and flows (distances, need, use, balanced gravity flows).

    Depends only on the seed data and three parameters, so it is computed once per process
    for each combination, kept with the seed data (``data.derived``, the most recent
    ``BASE_WORLDS_KEPT``) and shared read-only by every model instance built from that data.
    """
    worlds = data.derived.setdefault("base_worlds", {})
    key = (float(reach_multiplier), float(elasticity), float(affinity))
    world = worlds.pop(key, None)
    if world is None:
        world = _make_base_world(data, *key)
        while len(worlds) >= BASE_WORLDS_KEPT:
            worlds.pop(next(iter(worlds)))  # the least recently used
    worlds[key] = world  # most recently used last
    return world


def _make_base_world(d: SeedData, reach_multiplier: float, elasticity: float, affinity: float) -> SimpleNamespace:
    dist = distances_km(d.icb_lat, d.icb_lon, d.prov_lat, d.prov_lon)  # (I, P)
    offered = d.base_cases > 0
    gravity = gravity_weights(dist, d.reach_km * reach_multiplier, offered)
    # Need: national base cases shared by population x need index.
    national = d.base_cases.sum(axis=0)  # (S,)
    weight = d.population * d.need_index
    need = national[None, :] * (weight / weight.sum())[:, None]  # (I, S)
    # Historic use: need scaled by proximity to capacity (access elasticity), same national total.
    acc = accessibility(gravity, d.capacity)
    acc_rel = acc / np.maximum((acc * weight[:, None]).sum(axis=0) / weight.sum(), 1e-12)
    use = need * np.power(np.maximum(acc_rel, 1e-9), elasticity)
    use *= national / use.sum(axis=0)
    # Referral pathways: an ICB's residents are drawn to providers in their own ICB.
    in_area = d.provider_icb[None, :] == np.arange(d.n_icbs)[:, None]
    gravity = gravity * np.where(in_area, affinity, 1.0)[:, :, None]
    lines = LineIndex(offered)
    flows_k, _ = balance_flows(lines.pick(gravity), use, lines.pick(d.base_cases), lines)
    # Re-routing weights: each ICB's base-year split (proportional to gravity x provider pull).
    weights_k = np.divide(flows_k, use[:, lines.s], out=np.zeros_like(flows_k), where=use[:, lines.s] > 0)
    dist_k = dist[:, lines.p]  # (I, K)
    world = SimpleNamespace(
        dist=dist, need=need, demand0=use, lines=lines, dist_k=dist_k, flow0=flows_k,
        weights=weights_k,
        # Mean km per case of each (ICB, service) cell with base-year flows.
        base_km=lines.by_service(weights_k * dist_k),
    )
    for v in vars(world).values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return world


class CommissioningModel(mesa.Model):
    """Agent-based model of NHS England specialised commissioning.

    Parameters
    ----------
    scenario:
        Name of a built-in policy scenario (``commissim scenarios`` lists them) or
        the path of a scenario TOML file. Kept as ``self.policy``: Mesa's ``Model``
        has a ``scenario`` attribute of its own, which this class leaves alone.
    rng:
        Seed (int) or ``numpy.random.Generator``, passed to ``mesa.Model``.
    collect_agent_data:
        Record ICB and provider measures each round (set False for fast sweeps).
    seeds_path:
        Folder of seed tables (default: the project's ``seeds/``).
    **parameters:
        Any model parameter (see ``model.params``); user values win over the
        scenario's, for every year.
    """

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
        self.year = BASE_YEAR
        self._build_world()
        self._create_agents()
        self._set_arrangement(base_year=True)
        st = self.state
        st.group_spend = np.bincount(st.comm.ravel(), weights=self.lines.by_service(st.payments).ravel(),
                                     minlength=st.n_groups)
        self.collect_agent_data = collect_agent_data
        self.datacollector = measures.make_datacollector(self, collect_agent_data)
        measures.update(self)
        self.datacollector.collect(self)
        self.running = True

    # ------------------------------------------------------------------ set-up
    def _apply_parameters(self, year: int) -> None:
        self.p = {**DEFAULTS, **self.policy.parameters_for(year), **self.user_parameters}

    def _build_world(self) -> None:
        d = self.data
        p = self.p
        I, P, S, R = d.n_icbs, d.n_providers, d.n_services, d.n_regions
        self.n_icbs, self.n_providers, self.n_services, self.n_regions = I, P, S, R
        st = SimpleNamespace()
        self.state = st
        rng = self.rng

        st.tier = d.tier
        st.prov_icb = d.provider_icb
        st.prov_region = d.icb_region[d.provider_icb]
        base = base_world(d, p["reach_multiplier"], p["distance_access_elasticity"], p["in_area_affinity"])
        st.dist = base.dist
        st.need = base.need.copy()
        st.demand0 = base.demand0
        st.demand = base.demand0.copy()
        self.lines = lines = base.lines
        st.dist_k = base.dist_k
        st.base_km = base.base_km
        st.flow0 = base.flow0  # (I, K) base-year cases, ICB x offered line
        st.weights = base.weights  # (I, K) re-routing weights (base-year split)
        st.pref = np.ones_like(st.weights)  # ICB-specific preference multipliers (repatriation)
        offered = d.base_cases > 0
        national = d.base_cases.sum(axis=0)

        st.price = d.cost_per_case.astype(float) / 1e6  # £m per case
        st.price_index = 1.0
        st.vol_index = np.ones(S)
        st.budget_deflator = 1.0
        st.national_growth = float((national * st.price * d.demand_growth).sum() / (national * st.price).sum())

        # Providers: cost efficiency per line (1 = at tariff). Normalised so each provider
        # breaks even on its specialised work in the base year: some lines cross-subsidise others.
        sd = p["cost_dispersion"]
        eff = np.exp(rng.normal(0.0, sd, size=(P, S))) if sd > 0 else np.ones((P, S))
        bi = d.base_cases * d.cost_per_case[None, :]
        eff = eff / np.divide((eff * bi).sum(axis=1), bi.sum(axis=1), out=np.ones(P),
                              where=bi.sum(axis=1) > 0)[:, None]
        st.eff = eff
        st.fixed_per_capacity = d.fixed_share[None, :] * st.price[None, :] * eff * np.divide(
            d.base_cases, d.capacity, out=np.zeros_like(d.base_cases), where=d.capacity > 0
        )
        st.var_cost = (1 - d.fixed_share)[None, :] * st.price[None, :] * eff
        st.capacity0 = d.capacity.astype(float).copy()
        st.capacity = st.capacity0.copy()
        st.capacity_target = st.capacity0.copy()
        st.active = offered.copy()
        st.min_volume = np.minimum(d.min_volume[None, :] * p["min_volume_factor"], 0.8 * d.base_cases)
        st.min_volume_abs = d.min_volume * p["min_volume_factor"]
        st.low_streak = np.zeros((P, S), dtype=np.int64)
        st.loss_streak = np.zeros((P, S), dtype=np.int64)
        st.protected = np.zeros((P, S), dtype=bool)
        st.subsidy = np.zeros((P, S))
        st.withdrawn = np.zeros((P, S), dtype=bool)
        st.withdrawn_year = np.zeros((P, S), dtype=np.int64)
        base_income_ps = d.base_cases * st.price[None, :]
        st.base_income_ps = base_income_ps
        st.base_income = base_income_ps.sum(axis=1)
        base_margin = base_income_ps - st.fixed_per_capacity * st.capacity - st.var_cost * d.base_cases
        st.base_margin_ratio = np.divide(base_margin, base_income_ps, out=np.zeros_like(base_margin),
                                         where=base_income_ps > 0)
        st.turnover0 = d.turnover.astype(float)
        st.turnover = st.turnover0.copy()
        st.reserves = d.reserves.astype(float).copy()
        st.in_distress = np.zeros(P, dtype=bool)
        st.line_margin = base_margin.copy()
        st.prov_income = st.base_income.copy()
        st.prov_surplus = base_margin.sum(axis=1)
        st.income_change = np.zeros(P)
        st.review_flag = np.zeros(P, dtype=bool)
        # Joint transplant + dialysis commissioning (extra scenario), when both lines exist.
        ids = list(d.service_id)
        st.dialysis_transplant = ((ids.index("renal_dialysis"), ids.index("kidney_transplant"))
                                  if "renal_dialysis" in ids and "kidney_transplant" in ids else None)
        st.tx_patients = np.zeros(I)  # living patients with a graft funded this way
        st.tx_extra = np.zeros(I)  # extra transplants funded last year
        st.transplants_funded = 0.0
        st.delivered = st.flow0.copy()
        st.line_volume = d.base_cases.astype(float).copy()
        st.line_income = base_income_ps.copy()
        st.unplaced = np.zeros((I, S))

        # ICBs: finances, maturity.
        ranks = np.argsort(np.argsort(d.financial_position, kind="stable"), kind="stable")
        n_cs = int(round(p["cash_strapped_share"] * I))
        st.cash_strapped = (ranks < n_cs) & (d.financial_position < 0.0)
        deficit_share = np.maximum(-d.financial_position, 0.0) * p["deficit_severity"]
        st.core_deficit0 = deficit_share * d.core_allocation
        st.core_deficit = st.core_deficit0.copy()
        st.maturity = d.maturity.astype(float).copy()
        st.diversion = np.zeros(I)
        st.repatriate = np.zeros(I)
        st.delegated_budget = np.zeros(I)
        st.icb_damping = np.ones(I)
        st.icb_budget = (st.demand0 * st.price[None, :]).sum(axis=1)
        st.icb_spend_in_area = np.zeros(I)
        st.icb_spend_out_area = np.zeros(I)
        st.access_rate = np.zeros(I)

        # Regions: pools.
        st.pool = np.zeros(R)
        st.region_paid = np.zeros(R)

        # Out-of-area relationships (I, K) for every footprint kind.
        host = d.provider_icb[lines.p]
        st.out_icb = host[None, :] != np.arange(I)[:, None]
        st.out_region = d.icb_region[host][None, :] != d.icb_region[:, None]
        st.out_jc = d.jc_footprint[host][None, :] != d.jc_footprint[:, None]
        st.out_merged = d.merger_group[host][None, :] != d.merger_group[:, None]
        # Rarity of a service: 0 for the most widely provided (e.g. chemotherapy, dialysis),
        # 1 for the one with fewest centres; ties broken by national case volume.
        centres = offered.sum(axis=0)
        order = np.lexsort((-national, -centres))  # most centres first
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
        st.needs_weight = 0.0
        st.diverted_total = 0.0
        st.group_spend = np.zeros(G)
        st.group_budget = np.zeros(G)
        st.pool_topslice = 0.0
        st.underspend = 0.0
        st.budget_total = float((st.demand0 * st.price[None, :]).sum())
        st.spend_total = st.budget_total
        st.payments = st.flow0 * st.price[lines.s][None, :]
        st.base_out_value_k = (st.payments * st.out_icb).sum(axis=0)  # (K,) base-year out-of-area £m
        st.specialist_provider = np.isin(d.provider_kind, ("shelford", "specialist", "childrens"))
        st.share = st.weights.copy()
        st.expected_value = st.payments.copy()
        st.contracted_value = st.payments.copy()
        st.capacity_at_delivery = lines.pick(st.capacity)

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

        The base year (2022-23) is recorded as it was, NHS England commissioning
        directly; a scenario's arrangement takes effect from the first round (2023-24).
        """
        d, st = self.data, self.state
        p = {**self.p, "arrangement": "nhse_direct"} if base_year else self.p
        I, S = d.n_icbs, d.n_services
        off = self.group_offsets
        region_gid = off[REGION] + d.icb_region  # (I,)
        comm = np.broadcast_to(region_gid[:, None], (I, S)).copy()
        comm[:, d.tier == HSS] = off[NATIONAL]
        arr = p["arrangement"]
        deleg = self.delegable_mask()
        icb_gid = (off[MERGED] + d.merger_group) if p["icb_footprint"] == "merged_2026" \
            else (off[ICB_T] + np.arange(I))
        damping = np.ones(I)
        if arr == "nhse_direct":
            holder = None
        elif arr == "delegated":
            holder = icb_gid
        elif arr == "trailblazer":
            holder = np.where(st.maturity >= p["trailblazer_threshold"], icb_gid, region_gid)
        elif arr == "joint_committees":
            holder = off[JC] + d.jc_footprint
            damping[:] = 1.0 - p["region_weight"]
        elif arr == "pan_icb":
            holder = off[PAN] + d.icb_region
            damping[:] = 1.0 - p["region_weight"]
        elif arr == "split_2024":
            # 2024-25 as it happened: full delegation to the ICBs the seed data marks (delegated_2024
            # in icbs.csv: East of England, Midlands and North West), joint committees elsewhere.
            full = d.delegated_2024
            holder = np.where(full, icb_gid, off[JC] + d.jc_footprint)
            damping = np.where(full, 1.0, 1.0 - p["region_weight"])
        else:  # pragma: no cover - validated by params
            raise ParameterError(f"parameter 'arrangement': unknown value {arr!r}")
        # Optional national claw-back of the rarest delegable lines (extra scenario).
        claw = p["clawback_share"]
        if claw > 0:
            # The rarest delegable rows until they stand for the share of delegable lines.
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
        st.icb_damping = damping
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
        self.icbs.shuffle_do("decide")
        self._fund_pools()
        self._contract_and_deliver()
        self._line_streaks()
        self.regions.shuffle_do("intervene")  # before providers decide: protect lines about to go
        # Only providers with something to decide are asked (a failing line, distress,
        # capacity to rebuild); the others' review would return at once.
        flag = self.state.review_flag
        if flag.any():
            self.providers.select(lambda a: flag[a.idx]).shuffle_do("review")
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
        """Flat dict of end-of-run headline measures (see ``measures.SUMMARY``)."""
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
        if self.steps == 1:
            # 2023-24 is calibrated to the outturn: the price uplift that takes base-year
            # spend to the next year's figure in seeds/envelope.csv given demand growth.
            try:
                ratio = d.envelope(BASE_YEAR + 1) / d.envelope(BASE_YEAR)
            except Exception:  # noqa: BLE001 - envelope series may be shorter in toy data
                ratio = (1 + st.national_growth) * (1 + p["price_inflation"])
            infl = ratio / (1 + st.national_growth) - 1
        else:
            infl = p["price_inflation"]
        st.inflation = infl
        st.price = st.price * (1 + infl)
        st.price_index *= 1 + infl
        st.fixed_per_capacity = st.fixed_per_capacity * (1 + infl)
        st.var_cost = st.var_cost * (1 + infl)
        growth = 1 + d.demand_growth
        st.vol_index = st.vol_index * growth
        noise = p["demand_noise"]
        shock = np.exp(self.rng.normal(0.0, noise, size=st.demand.shape) - noise * noise / 2) if noise > 0 else 1.0
        st.demand = st.demand * growth[None, :] * shock
        st.need = st.need * growth[None, :]
        st.budget_deflator *= 1 - p["funding_gap"]
        st.core_deficit = st.core_deficit0 * st.price_index
        self._invest_upstream()
        st.turnover = (st.turnover0 - st.base_income) * st.price_index + st.prov_income
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
            return  # nothing funded now or before: demand is unchanged
        dia, tx = st.dialysis_transplant
        failed = st.tx_patients * (1 - GRAFT_SURVIVAL)  # grafts that fail return to dialysis
        extra = share * st.demand[:, dia] * st.price[dia] / st.price[tx]  # transplants funded this year
        st.tx_patients = st.tx_patients - failed + extra
        # Extra transplants are this year's only: take out last year's (grown with demand).
        prev = st.tx_extra * (1 + d.demand_growth[tx])
        st.tx_extra = extra
        st.demand[:, tx] = np.maximum(st.demand[:, tx] + extra - prev, 0.0)
        st.need[:, tx] = np.maximum(st.need[:, tx] + extra - prev, 0.0)
        st.demand[:, dia] = np.maximum(st.demand[:, dia] + failed - extra, 0.0)
        st.need[:, dia] = np.maximum(st.need[:, dia] + failed - extra, 0.0)
        st.transplants_funded = float(st.tx_patients.sum())

    def _set_budgets(self) -> None:
        st, p = self.state, self.p
        # Historic basis: base-year use uprated by the service's growth and prices.
        hist = st.demand0 * (st.vol_index * st.price)[None, :] * st.budget_deflator
        need = hist.sum(axis=0)[None, :] * st.need / st.need.sum(axis=0)[None, :]
        target = p["needs_weight_target"]
        if self.steps >= 1 and st.needs_weight != target:
            step = p["pace_of_change"]
            st.needs_weight = min(target, st.needs_weight + step) if target > st.needs_weight \
                else max(target, st.needs_weight - step)
        w = st.needs_weight
        st.cell_budget = (1 - w) * hist + w * need
        st.budget_total = float(st.cell_budget.sum())
        st.icb_budget = st.cell_budget.sum(axis=1)
        st.delegated_budget = np.where(st.delegated_cells, st.cell_budget, 0.0).sum(axis=1)

    def _fund_pools(self) -> None:
        """Regions keep a stabilisation reserve of ``pool_share`` of their ICBs' delegated
        budgets: each year it is topped up from those budgets to that level (a finite pool;
        what was not spent is not collected again)."""
        st, p = self.state, self.p
        R = self.n_regions
        reg = self.data.icb_region
        deleg_r = np.bincount(reg, weights=st.delegated_budget, minlength=R)
        need_r = np.maximum(p["pool_share"] * deleg_r - st.pool, 0.0)
        frac = np.divide(need_r, deleg_r, out=np.zeros(R), where=deleg_r > 0)
        topslice_icb = st.delegated_budget * frac[reg]
        st.pool_topslice_icb = topslice_icb
        st.pool_topslice = float(topslice_icb.sum())
        st.pool = st.pool + np.bincount(reg, weights=topslice_icb, minlength=R)

    def _contract_and_deliver(self) -> None:
        d, st, p = self.data, self.state, self.p
        lines = self.lines
        ks = lines.s
        G = st.n_groups
        comm = st.comm
        gtype = st.group_type
        usable = lines.pick(st.active & (st.capacity > 1e-9))  # (K,)
        w = st.weights * st.pref * usable  # (I, K)
        # Repatriation by cash-strapped ICBs holding delegated budgets: move a share of
        # out-of-area activity to in-area providers of the line (kept in ``pref``).
        if st.repatriate.any():
            w = self._repatriate(w)
        tot = lines.by_service(w)[:, ks]
        share = np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)
        st.share = share

        # Commissioner budgets: cells' budgets less diversion and pool top-slice.
        comm_flat = comm.ravel()
        g_budget = np.bincount(comm_flat, weights=st.cell_budget.ravel(), minlength=G)
        icb_holder = self._icb_holder_groups()
        g_budget -= np.bincount(icb_holder, weights=st.diversion + st.pool_topslice_icb, minlength=G)
        st.diverted_total = float(st.diversion.sum())
        st.group_budget = g_budget

        # Expected cost of demand; a surplus buys activity towards need.
        price = st.price
        g_expected = np.bincount(comm_flat, weights=(st.demand * price).ravel(), minlength=G)
        headroom = np.maximum(st.need - st.demand, 0.0)
        g_headroom = np.bincount(comm_flat, weights=(headroom * price).ravel(), minlength=G)
        u = uplift_fraction(np.maximum(g_budget - g_expected, 0.0), g_headroom)
        target = st.demand + u[comm] * headroom  # (I, S) cases
        ev = (target * price)[:, ks] * share  # (I, K) £m
        st.expected_value = ev
        g_expected = np.bincount(comm_flat, weights=(target * price).ravel(), minlength=G)
        shortfall = np.maximum(g_expected - g_budget, 0.0)

        # Cuts, over the contracts of commissioners that must cut.
        contracted = ev
        st.cut_total = 0.0
        if shortfall.max(initial=0.0) > 0:
            rules = self._cut_rules()
            cutting = shortfall[rules.group] > 0
            value = ev[cutting]
            cut = allocate_cuts(value, rules.group[cutting], shortfall, rules.weight[cutting],
                                value * rules.max_cut[cutting], total=g_expected)
            contracted = ev.copy()
            contracted[cutting] = value - cut
            st.cut_total = float(cut.sum())
        st.contracted_value = contracted
        volume = contracted / price[ks]
        st.requested_load = volume.sum(axis=0)  # (K,)

        st.capacity_at_delivery = lines.pick(st.capacity) * usable
        delivered, unplaced = cap_and_reroute(volume, st.capacity_at_delivery, st.weights * usable, lines)
        st.delivered = delivered
        st.unplaced = unplaced
        payments = delivered * price[ks]
        st.payments = payments
        cell_paid = lines.by_service(payments)  # (I, S)
        st.group_spend = np.bincount(comm_flat, weights=cell_paid.ravel(), minlength=G)
        st.underspend = float((g_budget - st.group_spend).sum())

        # Provider accounts, per (provider, service) line.
        vol = lines.dense(delivered.sum(axis=0))
        income = lines.dense(payments.sum(axis=0))
        st.line_volume = vol
        st.line_income = income
        fixed = st.fixed_per_capacity * st.capacity * st.active
        st.line_margin = income - fixed - st.var_cost * vol
        st.prov_income = income.sum(axis=1)
        st.prov_surplus = st.line_margin.sum(axis=1)
        st.reserves = st.reserves + st.prov_surplus
        # Providers expand capacity towards what they are asked for (unless in distress).
        want = lines.dense(st.requested_load) * (1 + HEADROOM)
        grow = st.active & ~st.in_distress[:, None] & (want > st.capacity)
        new_cap = np.where(grow, np.minimum(want, st.capacity * (1 + MAX_EXPANSION)), st.capacity)
        st.capacity_target = np.maximum(st.capacity_target, new_cap)
        st.capacity = new_cap

    def _cut_rules(self) -> SimpleNamespace:
        """Per-contract (I, K) commissioner, cut weight and cut cap for this year's
        arrangement and parameters; recomputed only when either changes."""
        st, p = self.state, self.p
        keys = ("home_bias", "local_volume_preference", "region_weight", "spec_enforcement", "home_bias_scope")
        key = (st.comm.tobytes(), tuple(p[k] for k in keys))
        cached = getattr(self, "_rules_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        ks = self.lines.s
        g = st.comm[:, ks]  # (I, K) commissioner of each contract
        t = st.group_type[g]
        out = np.select(
            [t == ICB_T, t == JC, t == PAN, t == MERGED],
            [st.out_icb, st.out_jc, st.out_region, st.out_merged],
            default=False,
        )
        icb_led = t >= ICB_T
        # Home bias and the preference for widely provided lines are behaviours of cash-strapped
        # ICBs (MODEL.md), or of every ICB if ``home_bias_scope`` says so; in a joint
        # committee or pan-ICB pool they act through the member ICB whose residents' contract
        # it is, damped by NHS England's weight.
        biased = st.cash_strapped if p["home_bias_scope"] == "cash_strapped" else np.ones(self.n_icbs, bool)
        behaves = icb_led & biased[:, None]
        damp = np.where((t == JC) | (t == PAN), 1 - p["region_weight"], 1.0)
        h = np.where(behaves, p["home_bias"], 0.0) * damp
        lvp = np.where(behaves, p["local_volume_preference"], 0.0) * damp
        rules = SimpleNamespace(
            group=g,
            weight=home_bias_weight(out, h) * (1.0 + lvp * st.rarity[ks][None, :]),
            max_cut=np.where(icb_led, (1 - p["spec_enforcement"]) * 0.5, 1.0),
        )
        self._rules_cache = (key, rules)
        return rules

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

    def _repatriate(self, w: np.ndarray) -> np.ndarray:
        """Shift routing weights ``w`` (I, K) of repatriating ICBs' delegated cells in area."""
        st, lines = self.state, self.lines
        rate = st.repatriate  # (I,)
        in_area = ~st.out_icb  # (I, K)
        cells = st.delegated_cells & (rate[:, None] > 0)  # (I, S)
        tot = lines.by_service(w)
        in_share = np.divide(lines.by_service(w * in_area), tot, out=np.zeros_like(tot), where=tot > 0)
        can = cells & (in_share > 1e-9) & (in_share < 1 - 1e-9)
        if not can.any():
            return w
        new_in = in_share + rate[:, None] * (1 - in_share)
        f_in = np.where(can, new_in / np.maximum(in_share, 1e-12), 1.0)
        f_out = np.where(can, (1 - new_in) / np.maximum(1 - in_share, 1e-12), 1.0)
        factor = np.where(in_area, f_in[:, lines.s], f_out[:, lines.s])
        st.pref = st.pref * factor
        return w * factor

    def _line_streaks(self) -> None:
        st, p = self.state, self.p
        ratio = np.divide(st.line_margin, st.line_income, out=np.full_like(st.line_margin, -1.0),
                          where=st.line_income > 0)
        losing = st.active & (ratio < np.minimum(st.base_margin_ratio, 0.0) - p["loss_tolerance"])
        low = st.active & (st.line_volume < st.min_volume)
        st.loss_streak = np.where(losing, st.loss_streak + 1, 0)
        st.low_streak = np.where(low, st.low_streak + 1, 0)
        self.update_review_flags()

    def update_review_flags(self) -> None:
        """Mark providers with something to decide (a failing line, distress, capacity to rebuild)."""
        st, p = self.state, self.p
        k = p["withdrawal_rounds"]
        failing = ((st.loss_streak >= k) | (st.low_streak >= k)).any(axis=1)
        distress_now = st.reserves < p["distress_threshold"] * st.turnover
        lost_capacity = (st.capacity < st.capacity_target - 1e-9).any(axis=1)
        st.review_flag = failing | distress_now | st.in_distress | lost_capacity

    def withdraw_line(self, p: int, s: int) -> None:
        """Provider ``p`` stops offering service ``s``: capacity and fixed costs go;
        its patients re-route to the remaining providers from the next round."""
        st = self.state
        st.active[p, s] = False
        st.withdrawn[p, s] = True
        st.withdrawn_year[p, s] = self.year
        st.capacity[p, s] = 0.0
        st.capacity_target[p, s] = 0.0
        st.low_streak[p, s] = 0
        st.loss_streak[p, s] = 0
