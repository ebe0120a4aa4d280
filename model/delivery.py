"""Phase 4 of the round: contracting and delivery. Each commissioner's plan against its budget, the gap closed by
its arrangement's rules, contracts delivered within capacity and paid (ODD, "Contracting")."""

from __future__ import annotations

import numpy as np

from .contracting import priority_cuts, priority_growth
from . import decisions
from .flows import cap_and_reroute
from .world import FULL_STRESS, HEADROOM, ICB_T, JC, MAX_EXPANSION, MERGED

def contract_and_deliver(m) -> None:
    st, p = m.state, m.p
    lines = m.lines
    ks = lines.s
    G = st.n_groups
    usable = lines.pick(st.active & (st.capacity > 1e-9))
    w = st.weights * st.pref * usable
    tot = lines.by_service(w)
    inv = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot > 0)
    share = w * inv[:, ks]
    st.share = share
    price_k = st.price[ks]
    dec = decisions.deciders(m)
    theta, limited = decisions.protection(m, dec)

    # Budgets of commissioners: cells less diversion and pool top-slice (each by its own rule).
    g_cells = np.bincount(st.comm.ravel(), weights=st.cell_budget.ravel(), minlength=G)
    holder = m._icb_holder_groups()
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
        if p["nof_condition"] and m.year >= 2025:
            off = m.group_offsets
            icb_g = np.zeros(st.n_groups, dtype=bool)
            icb_g[off[ICB_T]:off[ICB_T] + m.n_icbs] = m.data.nof_segment >= 3
            # a merged ICB is bound when any of its members is (the condition follows the ICBs)
            merged_nof = np.bincount(m.data.merger_group, weights=(m.data.nof_segment >= 3),
                                     minlength=len(m.data.merger_names)) > 0
            icb_g[off[MERGED]:off[MERGED] + len(m.data.merger_names)] = merged_nof
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
    g_plan = m.group_sum(plan)
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
                                          group_sum=m._flat_group_sum)
        cut = cut_share.reshape(plan.shape) * plan
        g_cut = m.group_sum(cut)
        cut_total = float(g_cut.sum())
        contracted = contracted - cut
    headroom_cell = np.maximum(st.need - st.demand, 0.0)
    if spare.max(initial=0.0) > 1e-9 and headroom_cell.max(initial=0.0) > 0:
        headroom = (headroom_cell * st.price[None, :])[:, ks] * share
        funded = priority_growth(headroom.ravel(), flat_g, spare, theta, G,
                                 group_sum=m._flat_group_sum).reshape(plan.shape)
        growth = funded * headroom
        g_growth = m.group_sum(growth)
        growth_total = float(g_growth.sum())
        contracted = contracted + growth
    g_contracted = m.group_sum(contracted)
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
