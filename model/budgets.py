"""Phase 1-2 of the round: the year's money (prices, cost growth, demand) and each commissioner's budget under the
scenario's arrangement (ODD, "Budgets")."""

from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .scenarios import BASE_YEAR
from .world import DELEGABLE, GRAFT_SURVIVAL, HSS, ICB_T, JC, MERGED, NATIONAL, PAN, REGION

def delegable_mask(m) -> np.ndarray:
    """Service lines that the arrangement may hand to ICB-led commissioners this year."""
    d = m.data
    ds = m.p["delegated_set"]
    if ds == "as_happened_59":
        mask = d.in_59.copy()
    elif ds == "as_happened_70":
        mask = d.in_70.copy()
    else:
        mask = d.tier == DELEGABLE
    return mask & (d.tier != HSS)


def set_arrangement(m, base_year: bool = False) -> None:
    """Assign every (ICB, service) cell to its commissioner for this year.

    The base year (2022-23) is recorded as it was, NHS England commissioning directly; a
    scenario's arrangement takes effect from the first round (2023-24).
    """
    d, st = m.data, m.state
    p = {**m.p, "arrangement": "nhse_direct"} if base_year else m.p
    I, S = d.n_icbs, d.n_services
    off = m.group_offsets
    region_gid = off[REGION] + d.icb_region
    comm = np.broadcast_to(region_gid[:, None], (I, S)).copy()
    comm[:, d.tier == HSS] = off[NATIONAL]
    arr = p["arrangement"]
    deleg = delegable_mask(m)
    icb_gid = (off[MERGED] + d.merger_group) if p["icb_footprint"] == "merged_2026" else (off[ICB_T] + np.arange(I))
    if arr == "nhse_direct":
        holder = None
    elif arr == "delegated":
        holder = icb_gid
    elif arr == "trailblazer":
        # Waves from the public record (seeds/icbs.csv delegation_wave): wave w from 2022 + w.
        wave_now = m.year - BASE_YEAR
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


def year_money(m) -> None:
    d, st, p = m.data, m.state, m.p
    y = m.year
    cuf, ef = m.money.tariff(y)
    st.tariff_uplift = cuf - ef
    st.cost_growth = m.money.cost_growth(y)
    st.core_growth = m.money.core_growth(y)
    # Prices: tariff lines by cost uplift less efficiency; drugs and devices at cost, their cost growing
    # with non-pay inflation where seeds/funding.csv gives it (2023-24, 2024-25), else cost_inflation
    # (assumption: no separate drug price index was found).
    drug_growth = m.money._seed("nonpay_inflation", y)
    drug_growth = p["cost_inflation"] if drug_growth is None else drug_growth
    growth = np.where(st.pass_through, 1 + drug_growth, 1 + st.tariff_uplift)
    st.price = st.price * growth
    st.tariff_index *= 1 + st.tariff_uplift
    st.drug_index = getattr(st, "drug_index", 1.0) * (1 + drug_growth)
    # Providers' costs: input inflation less efficiency. Trusts respond to their position (ODD, "Trust
    # response"): each closes margin_response of the gap between last year's margin and its target
    # (response_target: break-even by default; recovery plans below it, investment above it), as extra cost
    # improvement or extra spending; on revenue support the
    # recovery plan adds recovery_efficiency. efficiency_gap acts only after the published money path.
    gap = p["efficiency_gap"] if y > m.money.last_seed_year else 0.0
    st.margin_target = (np.maximum(st.margin0, 0.0) if p["response_target"] == "opening_surplus"
                        else np.zeros_like(st.margin0))
    cip = ef + gap + p["recovery_efficiency"] * st.on_recovery + p["margin_response"] * (st.margin_target - st.margin)
    st.cost_index = st.cost_index * (1 + st.cost_growth - cip)
    st.cip = cip
    # Demand: each service's trend (services.csv), the activity pressure of case mix and new treatments
    # (activity_pressure, calibrated on the 2023-24 outturn), and each ICB's own ageing (demography_weight x
    # data.ageing_drift: ONS age bands and the age-cost curve; England's mean is in the trends).
    g = 1 + d.demand_growth + m.money.activity_pressure(y)
    local = 1 + p["demography_weight"] * d.ageing_drift
    st.vol_index = st.vol_index * g
    noise = p["demand_noise"]
    shock = (np.exp(m._demand_rng.normal(-noise * noise / 2, noise, size=st.demand.shape))
             if noise > 0 else 1.0)
    st.prev_plan_cell = st.demand * st.price[None, :]  # last year's activity at this year's prices: budgets' basis
    st.demand = st.demand * g[None, :] * local[:, None] * shock
    st.need = st.need * g[None, :] * local[:, None]
    invest_upstream(m)
    # ICB core allocations and ICB bodies' positions (held at their opening share of allocation,
    # plus any money moved in from delegated budgets: assumption, ODD "ICB finance").
    st.core_allocation = st.core_allocation * (1 + st.core_growth)
    st.allocation = m.money.allocation(y)
    st.subsidy[:] = 0.0
    st.region_paid[:] = 0.0


def invest_upstream(m) -> None:
    """Joint transplant + dialysis commissioning (extra scenario): fund extra kidney
    transplants from the dialysis budget; transplanted patients leave dialysis."""
    st, d = m.state, m.data
    share = m.p["upstream_investment"]
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


def set_budgets(m) -> None:
    """Cell budgets: the national allocation shared on the historic basis; delegated cells (those an
    ICB-led commissioner holds this year) move towards the need-based target at the pace of change, no
    ICB's delegated budget growing less than the convergence floor."""
    st, p = m.state, m.p
    # Historic basis: each cell's share of last year's planned activity (budgets are set before the year, on the
    # activity then known): a cell whose demand grows faster than the allocation this year is short.
    hist = st.prev_plan_cell
    hist_share = hist / hist.sum()
    target = p["needs_weight_target"]
    if m.steps >= 1 and st.needs_weight != target:
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


def fund_pools(m) -> None:
    """Regions keep a stabilisation reserve of ``pool_share`` of their ICBs' delegated budgets: each
    year it is topped up from those budgets to that level (a finite pool; unspent money stays)."""
    st, p = m.state, m.p
    R = m.n_regions
    reg = m.data.icb_region
    deleg_r = np.bincount(reg, weights=st.delegated_budget, minlength=R)
    need_r = np.maximum(p["pool_share"] * deleg_r - st.pool, 0.0)
    frac = np.divide(need_r, deleg_r, out=np.zeros(R), where=deleg_r > 0)
    topslice_icb = st.delegated_budget * frac[reg]
    st.pool_topslice_icb = topslice_icb
    st.pool = st.pool + np.bincount(reg, weights=topslice_icb, minlength=R)
