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
    share = st.weights * st.pref
    share *= usable
    tot = lines.by_service(share)
    inv = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot > 0)
    share *= lines.spread(inv)  # each ICB's split of a service over its usable lines
    st.share = share
    price_k = st.price[ks]
    dec = decisions.deciders(m)
    theta, limited = decisions.protection(m, dec)

    # Budgets of commissioners: cells less diversion and pool top-slice (each by its own rule).
    g_cells = np.bincount(st.comm.ravel(), weights=st.cell_budget.ravel(), minlength=G)
    holder = m._icb_holder_groups()
    g_budget = g_cells - np.bincount(holder, weights=st.diversion + st.pool_topslice_icb, minlength=G)
    st.group_budget = g_budget

    # Plan: commissioners plan on last year's contracted activity grown by this year's demand growth (the
    # historic activity basis), never above demand; patients left waiting last year do not re-enter the plan
    # (unmet demand is a measure), but spare money buys activity back towards demand and need (below).
    prev_d = st.prev_demand_cell if st.prev_demand_cell is not None else st.demand0
    last_cell = lines.by_service(st.last_contracted_vol)
    grown = last_cell * np.divide(st.demand, prev_d, out=np.ones_like(st.demand), where=prev_d > 0)
    planned_cell = np.minimum(grown, st.demand)
    st.planned_cell = planned_cell
    plan_vol = lines.spread(planned_cell) * share
    plan = plan_vol * price_k
    # What each commissioner must find before it acts: its plan (before any growth it withholds) above its budget.
    g_plan_full = m.group_sum(plan)
    st.group_shortfall_raw = np.maximum(g_plan_full - g_budget, 0.0)
    # Growth cap: a stressed ICB-led commissioner holds out-of-system contracts near last year's activity
    # (harder negotiation); that growth is not commissioned there (growth withheld).
    withheld_value = 0.0
    withheld_rows = np.zeros(m.n_icbs)
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
    prev = st.prev_demand_cell
    rows = np.flatnonzero(dec.rows_g[:, strength_g > 0].any(axis=1))
    if len(rows) and prev is not None:
        # Per cell (the cap's strength is the commissioner's, growth is the cell's), then per contract.
        r = slice(None) if len(rows) == m.n_icbs else rows  # every ICB: views, not copies
        sg_cell = strength_g[st.comm[r]]  # (rows, S); 0 for NHS England's commissioners
        growth_cell = np.maximum(st.demand[r] / np.maximum(prev[r], 1e-12) - 1.0, 0.0)
        out_r = lines.spread(sg_cell > 0) & ~dec.in_system[r]
        allowed = st.last_contracted_vol[r] * (1 + lines.spread((1 - sg_cell) * growth_cell))
        wr = np.subtract(plan_vol[r], allowed, out=allowed)
        np.maximum(wr, 0.0, out=wr)
        wr *= out_r
        plan_vol[r] -= wr
        plan[r] = plan_vol[r] * price_k
        wv = (wr * price_k).sum(axis=1)
        withheld_rows[rows] = wv
        withheld_value = float(wv.sum())
        st.decisions["growth_cap"] = len(rows)
        st.binding["growth_cap"] = float((wr > 1e-9).any(axis=1).sum()) / len(rows)
    st.prev_demand_cell = st.demand.copy()
    g_plan = m.group_sum(plan) if st.decisions["growth_cap"] else g_plan_full  # the plan less any growth withheld
    st.plan_value = plan

    # The arrangement's rules turn each commissioner's budget into the money it may commit (budgets.py rules):
    # NHS England's commissioners (regions, national, joint committees: NHS England holds their money) pool
    # their budgets nationally and may overspend up to nhse_overspend_limit; ICB-led commissioners stand alone
    # and may overspend up to icb_overspend_limit, which counts against their systems.
    eff_budget, nhse_pooled, overspend_g = commit_limits(m, g_budget, g_plan)
    shortfall = np.maximum(g_plan - eff_budget, 0.0)
    spare = np.maximum(eff_budget - g_plan, 0.0)
    # A system in deficit that may keep its delegated underspend (ringfence soft or none: the 2023-24 dental
    # precedent) keeps its spare money for its bottom line instead of buying extra activity.
    keeps = keeps_underspend(m, dec)
    kept_g = np.where(keeps, spare, 0.0)
    spare = spare - kept_g
    flat_g = dec.flat
    contracted = plan
    cut = None
    cut_total = growth_total = 0.0
    g_cut = np.zeros(G)
    g_growth = np.zeros(G)
    capped = np.zeros(G, dtype=bool)
    if shortfall.max(initial=0.0) > 1e-9:
        cut_share, capped = priority_cuts(plan.ravel(), flat_g, shortfall, theta, dec.cap, G,
                                          group_sum=m._flat_group_sum, expand=m._flat_group_expand, value_total=g_plan)
        cut = cut_share.reshape(plan.shape)
        cut *= plan
        g_cut = m.group_sum(cut)
        cut_total = float(g_cut.sum())
        contracted = contracted - cut
    # Activity towards demand (patients waiting) and need above it, from last year's plan.
    headroom_cell = np.maximum(np.maximum(st.need, st.demand) - planned_cell, 0.0)
    growth = None
    if spare.max(initial=0.0) > 1e-9 and headroom_cell.max(initial=0.0) > 0:
        headroom = lines.spread(headroom_cell * st.price[None, :]) * share
        funded = priority_growth(headroom.ravel(), flat_g, spare, theta, G,
                                 group_sum=m._flat_group_sum, expand=m._flat_group_expand).reshape(plan.shape)
        growth = funded * headroom
        g_growth = m.group_sum(growth)
        growth_total = float(g_growth.sum())
        contracted = contracted + growth
    g_contracted = g_plan if contracted is plan else m.group_sum(contracted)
    # Money no contract uses, by its own rule: spare budget less the growth it bought (the cut rule
    # takes exactly the shortfall, so a commissioner that cuts has none); it is handed back to NHS England.
    uncommitted = spare - g_growth
    st.group_plan, st.group_cut, st.group_growth, st.group_contracted = g_plan, g_cut, g_growth, g_contracted
    st.group_eff_budget, st.group_kept, st.group_overspend = eff_budget, kept_g, overspend_g
    st.contracted_value = contracted
    st.cut_total = cut_total
    # A cut first takes the contract's growth over last year; only the rest comes out of the existing contract.
    if cut is not None:
        growth_part = np.subtract(plan_vol, st.last_contracted_vol)  # each contract's growth over last year ...
        np.maximum(growth_part, 0.0, out=growth_part)
        growth_part *= price_k  # ... in £m
        np.minimum(cut, growth_part, out=growth_part)  # the part of the cut that growth absorbs
        from_existing = cut - growth_part
        cut_rows, growth_cut_rows = from_existing.sum(axis=1), growth_part.sum(axis=1)
        st.cut_from_existing, st.growth_cut = float(cut_rows.sum()), float(growth_cut_rows.sum())
    else:  # nothing cut: no contract loses growth or existing activity to a cut
        cut_rows, growth_cut_rows = np.zeros(m.n_icbs), np.zeros(m.n_icbs)
        st.cut_from_existing = st.growth_cut = 0.0
    st.channel_rows = dict(
        cuts=cut_rows, withheld=growth_cut_rows + withheld_rows,
        need_growth=(growth.sum(axis=1) if growth is not None else np.zeros(m.n_icbs)),
    )
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
    # Drugs and devices paid at cost are not capacity-limited like beds and theatres: what is contracted is given.
    cap_k = np.where(st.pass_through[ks], np.maximum(st.requested_load, lines.pick(st.capacity)),
                     lines.pick(st.capacity))
    st.capacity_at_delivery = cap_k * usable
    # (no ``usable`` mask for re-routing: a line that may not take patients has no capacity here, so no room)
    delivered, unplaced = cap_and_reroute(volume, st.capacity_at_delivery, st.weights, lines, load=st.requested_load)
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
        shortfall=float(st.group_shortfall_raw.sum()), nhse_pooled=nhse_pooled,
        overspend=float(overspend_g.sum()), kept=float(kept_g.sum()),
        withheld=withheld_value + st.growth_cut, withheld_cap=withheld_value, cuts=st.cut_from_existing,
        cuts_total=cut_total, growth=growth_total, uncommitted=float(uncommitted.sum()), payments=paid,
        undelivered=unplaced_value, pool_paid=0.0, support_income=0.0, pdc=0.0,
    )
    st.group_uncommitted = uncommitted
    channel_accounts(m, g_cells, g_budget, unplaced)

    # Provider lines: volume and income; capacity plans follow the activity asked for.
    delivered_k = delivered.sum(axis=0)
    st.delivered_load = delivered_k  # (K,) cases delivered per line
    vol = lines.dense(delivered_k)
    income = lines.dense(delivered_k * price_k)
    st.line_volume = vol
    st.line_income = income
    plan_capacity(m)


def plan_capacity(m) -> None:
    """Capacity follows the activity commissioned: up at once where a contract is gained (at most MAX_EXPANSION
    a year, not while on revenue support: a gained contract needs capacity first), down slowly where it is lost.
    Staff, theatres and beds (semi-fixed, ``cost_capacity``) go at ``cost_shed_rate`` a year; estates and overheads
    (``overhead_capacity``) at ``overhead_shed_rate``: what is not yet shed is a stranded cost (accounts.py)."""
    st, p, lines = m.state, m.p, m.lines
    want = lines.dense(st.requested_load) * (1 + HEADROOM) * st.active
    on_support = st.needs_support[:, None]
    up = st.active & ~on_support & (want > st.capacity)
    # Drugs and devices paid at cost need no capacity: it follows what is contracted.
    up = up | (st.active & st.pass_through[None, :] & (want > st.capacity))
    down = st.active & (want < st.capacity)
    expand = np.where(st.pass_through[None, :], want, np.minimum(want, st.capacity * (1 + MAX_EXPANSION)))
    new_cap = np.where(up, expand, st.capacity)
    new_cap = np.where(down, st.capacity - p["cost_shed_rate"] * (st.capacity - want), new_cap)
    st.capacity = new_cap
    st.cost_capacity = new_cap
    oc = st.overhead_capacity
    oc = np.where(new_cap > oc, new_cap, oc)
    st.overhead_capacity = np.where(oc > new_cap, oc - p["overhead_shed_rate"] * (oc - new_cap), oc)


def holds_own_money(st) -> np.ndarray:
    """(G,) commissioners that hold their own budget: ICBs, merged ICBs and pan-ICB pools. NHS England holds the
    money of its regions, its national team and the joint committees (HSJ Feb 2023)."""
    return (st.group_type >= ICB_T) & (st.group_type != JC)


def commit_limits(m, budget: np.ndarray, plan: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The money each commissioner may commit (G,), what NHS England moved between its own commissioners (£m),
    and each commissioner's overspend (G,), by the arrangement's rules:

    * NHS England (national, its regions, and the joint committees, whose money it held: HSJ Feb 2023) pools its
      commissioners' budgets nationally: a region's shortfall is met from another's spare; the pool as a whole may
      overspend by up to ``nhse_overspend_limit`` of its budget (specialised overspends of 2.9% in 2013-14 and
      1.5% in 2014-15, NAO 2016); any shortfall beyond falls evenly on every NHS England commissioner's plan;
    * an ICB-led commissioner (an ICB, a merged ICB, a pan-ICB pool) has only its own budget, plus an overspend of
      up to ``icb_overspend_limit`` of it (from 2026-27 each ICB must break even on its own: NHS England business
      rules), carried by its system."""
    st, p = m.state, m.p
    nhse = ~holds_own_money(st)
    eff = budget.copy()
    overspend = np.zeros_like(budget)
    pooled = 0.0
    st.group_pooled = np.zeros_like(budget)
    b_n, p_n = float(budget[nhse].sum()), float(plan[nhse].sum())
    if p_n > 1e-9:
        if p_n > b_n:
            total = min(p_n, b_n * (1 + p["nhse_overspend_limit"]))
        else:
            total = b_n  # spare stays with the commissioners whose plans can use it, in proportion to plan
        eff[nhse] = plan[nhse] * (total / p_n)
        over_n = max(total - b_n, 0.0)
        # Pooling: what commissioners short of their own budget received from others' spare (not the overspend):
        # the spare given up by those above their committed money, shared over those below by what they received.
        idx = np.flatnonzero(nhse)
        given = float(np.maximum(budget[idx] - np.maximum(eff[idx], np.minimum(plan[idx], budget[idx])), 0.0).sum())
        got = np.maximum(np.minimum(eff[idx], plan[idx]) - budget[idx], 0.0)
        pooled = min(given, float(got.sum()))
        st.group_pooled[idx] = got * (pooled / got.sum()) if got.sum() > 0 else 0.0
        # the national overspend is carried by NHS England, shared over its commissioners by plan
        overspend[nhse] = over_n * plan[nhse] / p_n
    icb = ~nhse
    lim = p["icb_overspend_limit"]
    if lim > 0:
        allowed = np.minimum(plan, budget * (1 + lim))
        extra = np.where(icb & (allowed > budget), allowed - budget, 0.0)
        eff = eff + extra
        overspend = overspend + extra
    return eff, pooled, overspend


def keeps_underspend(m, dec) -> np.ndarray:
    """(G,) ICB-led commissioners that keep their spare delegated money for their system's bottom line instead
    of buying extra activity: under a soft ring-fence or none (``ringfence``; the 2023-24 dental precedent: ICBs
    kept underspends "to balance their bottom line", and about 12 of 42 refused extra activity because of system
    pressure), when the deciding system is in deficit. Under a hard ring-fence the money is handed back."""
    st, p = m.state, m.p
    if p["ringfence"] == "hard":
        return np.zeros(st.n_groups, dtype=bool)
    return holds_own_money(st) & (dec.stress_g > 0)


def channel_accounts(m, cells_g: np.ndarray, g_budget: np.ndarray, unplaced: np.ndarray) -> None:
    """Each channel's money this round (£m, ``st.channels``), how often it bound (``st.channel_binding``: the share
    of ICBs, weighted by their cells' budgets, whose residents' money it moved), and the part of each ICB-led
    commissioner's result its system carries (``st.delegated_result``: kept underspend less overspend)."""
    st, led = m.state, m.state.ledger
    # Each ICB's part of each commissioner's money: its cells' budget over the commissioner's.
    cell_g = cells_g[st.comm]
    icb_part = np.divide(st.cell_budget, cell_g, out=np.zeros_like(st.cell_budget), where=cell_g > 0)
    # The commissioner-level channels, each shared over ICBs by their part of its money (one product for all).
    icb_led = holds_own_money(st)
    by_group = np.stack([np.where(icb_led, st.group_kept - st.group_overspend, 0.0), st.group_shortfall_raw,
                         st.group_pooled, st.group_overspend, st.group_kept, st.group_uncommitted])
    result, shortfall, pooled, overspend, kept, uncommitted = np.einsum("is,cis->ci", icb_part, by_group[:, st.comm])
    st.delegated_result = result
    rows = st.channel_rows
    unplaced_rows = (unplaced * st.price[None, :]).sum(axis=1)
    per = dict(
        commissioner_shortfall=shortfall,
        nhse_pooled=pooled,
        overspend=overspend,
        growth_withheld=rows["withheld"],
        commissioner_cuts=rows["cuts"],
        need_growth_funded=rows["need_growth"],
        kept_by_systems=kept,
        returned_to_nhse=uncommitted + unplaced_rows,
        diverted_to_core=st.diversion.copy(),
    )
    weight = st.cell_budget.sum(axis=1)
    wsum = max(float(weight.sum()), 1e-12)
    table = np.stack(list(per.values()))  # (channels, I)
    st.channels = dict(zip(per, table.sum(axis=1).tolist()))
    st.channels["nhse_pooled"] = float(led["nhse_pooled"])  # the national figure (per-ICB parts are indicative)
    st.channel_binding = dict(zip(per, (np.where(table > 0.01, weight, 0.0).sum(axis=1) / wsum).tolist()))
    st.channel_icb = per
