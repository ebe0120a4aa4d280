"""Phase 3 of the round: commissioning decisions. Who decides for each ICB's delegated lines and how stressed its
system is; the ICBs' decisions carried out on the arrays (referral shifts, local starts, diversion); the
protection each contract gets from cuts (ODD, "ICB decisions")."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from . import distress
from .agents import START_LEAD, START_SHARE
from .world import ICB_T, JC, MERGED, NATIONAL, PAN

def decision_context(m) -> None:
    """Per ICB: who holds its delegated budget, the stress of that decision maker, whether it may act
    alone and whether NHS England must consent (read by ``ICB.decide``)."""
    st, d, p = m.state, m.data, m.p
    holder = m._icb_holder_groups()
    htype = st.group_type[holder]
    has = st.delegated_cells.any(axis=1)
    st.holder_type = np.where(has, htype, NATIONAL)
    merged = m.pooled_stress(d.merger_group)[d.merger_group]
    pan = m.pooled_stress(d.icb_region)[d.icb_region]
    jc = m.pooled_stress(d.jc_footprint)[d.jc_footprint]
    ht = st.holder_type
    is_icb, is_merged, is_pan, is_jc = ht == ICB_T, ht == MERGED, ht == PAN, ht == JC
    st.decider_stress = (np.where(is_icb, st.stress, 0.0) + np.where(is_merged, merged, 0.0)
                         + np.where(is_pan, pan, 0.0) + np.where(is_jc, jc, 0.0))
    st.can_act = has & (is_icb | is_merged | is_pan | is_jc)
    st.holds_own = has & (is_icb | is_merged)
    nof = p["nof_condition"] & (m.year >= 2025) & (d.nof_segment >= 3) & st.holds_own
    st.consent_needed = p["nhse_veto"] & ((st.holder_type == JC) | nof)
    if not hasattr(st, "start_wanted"):
        st.start_wanted = np.zeros(m.n_icbs, dtype=bool)


def in_system_k(m) -> np.ndarray:
    """(I, K): provider of each contract in the ICB's decision-making system (own, merged, region or
    joint-committee footprint);
    cached while who holds each ICB's budget stays the same."""
    st = m.state
    key = st.holder_type.tobytes()
    cached = getattr(m, "_insys_cache", None)
    if cached is None or cached[0] != key:
        t = st.holder_type[:, None]
        mask = np.select([t == ICB_T, t == MERGED, t == PAN, t == JC],
                         [~st.out_icb, ~st.out_merged, ~st.out_region, ~st.out_jc], default=False)
        cached = (key, mask)
        m._insys_cache = cached
    return cached[1]


def apply_decisions(m) -> None:
    """Carry out the ICBs' decisions on the arrays: referral shifts within spare capacity, local starts,
    diversion of delegated money to system deficits."""
    st, p, d, lines = m.state, m.p, m.data, m.lines
    I = m.n_icbs
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
            open_pending_starts(m)
    else:
        rows = np.nonzero(deciding)[0]
        r = slice(None) if len(rows) == I else rows  # every ICB decides: views, not copies
        in_sys = in_system_k(m)[r]
        usable = lines.pick(st.active & (st.capacity > 1e-9))
        w = st.weights[r] * st.pref[r]
        w *= usable
        tot = lines.by_service(w)
        w *= in_sys.view(np.uint8)  # (a 0/1 multiply: faster than a bool one)
        in_share = np.divide(lines.by_service(w), tot, out=np.zeros_like(tot), where=tot > 0)
        shifting = acting[rows]
        if shifting.any():
            sr = np.nonzero(shifting)[0]
            ish, isys = (in_share, in_sys) if len(sr) == len(rows) else (in_share[sr], in_sys[sr])
            cells = st.delegated_cells[rows[sr]]
            can = cells & (ish > 1e-9) & (ish < 1 - 1e-9)
            rate = st.shift_wanted[rows[sr]][:, None]
            want_in = ish + rate * (1 - ish)
            # Spare capacity of the in-system lines (capacity less last year's load).
            spare_k = np.maximum(lines.pick(st.capacity) - st.delivered_load, 0.0) * usable
            spare = lines.by_service(isys * spare_k[None, :])
            extra = (want_in - ish) * st.demand[rows[sr]]
            limit = np.where(can & (extra > 1e-12), np.minimum(1.0, spare / np.maximum(extra, 1e-12)), 1.0)
            new_in = ish + limit * (want_in - ish)
            f_in = np.where(can, new_in / np.maximum(ish, 1e-12), 1.0)
            f_out = np.where(can, (1 - new_in) / np.maximum(1 - ish, 1e-12), 1.0)
            factor = np.where(isys, lines.spread(f_in), lines.spread(f_out))
            if len(sr) == I:
                st.pref *= factor
            else:
                st.pref[rows[sr]] = st.pref[rows[sr]] * factor
            limited = (can & (limit < 1 - 1e-9)).any(axis=1)
            st.shift[rows[sr]] = (np.where(can.any(axis=1), st.shift_wanted[rows[sr]], 0.0)
                                  * np.where(limited, 0.5, 1.0))
            st.binding["referral_capacity"] = float(limited.sum()) / len(sr)
        full_in = np.ones((I, m.n_services))
        full_in[rows] = in_share
        local_starts(m, full_in, in_system_k(m))
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
    host_def = m.by_host(deficits)
    frac = np.divide(rest, host_def, out=np.zeros(I), where=host_def > 0)
    st.diversion_to_trusts = deficits * frac[d.provider_icb]
    st.diversion_unused = rest - m.by_host(st.diversion_to_trusts)


def local_starts(m, in_share: np.ndarray, in_sys: np.ndarray) -> None:
    """Systems in deficit for two years decide to start a delegated line they have no in-system provider
    of (one a year each); it opens ``START_LEAD`` years later at their largest acute trust."""
    st, p, lines = m.state, m.p, m.lines
    open_pending_starts(m)
    cand = st.start_wanted[:, None] & st.delegated_cells & (in_share <= 1e-9) & st.holds_own[:, None]
    if not cand.any():
        return
    pot_k = lines.pick(st.potential & ~st.active)
    pending = {(i, k) for _, i, k, _, _ in st.pending_starts}
    preparing = {j for y, j, _, _, _ in st.pending_starts if y > m.year}  # one line at a time
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
            st.pending_starts.append((m.year + START_LEAD, int(i), int(first_k[r, s]), s,
                                      START_SHARE * float(st.demand[i, s])))
    n = st.decisions["local_start_blocked"]
    st.binding["local_start_blocked"] = st.binding["local_start_blocked"] / n if n else 0.0


def open_pending_starts(m) -> None:
    """Open the lines decided ``START_LEAD`` years ago (their planned volume grown with demand)."""
    st, lines = m.state, m.lines
    keep = []
    for y, i, k, s, planned in st.pending_starts:
        if y > m.year:
            keep.append((y, i, k, s, planned))
            continue
        p = int(lines.p[k])
        if st.active[p, s]:
            continue
        volume = START_SHARE * float(st.demand[i, s])
        distress.start_line(m, p, s, volume)
        a, b = lines.span(s)
        tot = float((st.weights[i, a:b] * st.pref[i, a:b]).sum())
        st.weights[i, k] = tot * START_SHARE / (1 - START_SHARE)
        st.pref[i, k] = 1.0
    st.pending_starts = keep


def deciders(m) -> SimpleNamespace:
    """For each contract (I, K): its commissioner, whether it is 'in-system' for the decision
    maker, the decision maker's stress, whether NHS England must consent, and the cut cap.
    The masks depend only on the year's arrangement and are cached; stress is per commissioner."""
    st, d, p = m.state, m.data, m.p
    consent_year = bool(p["nhse_veto"] and p["nof_condition"] and m.year >= 2025)
    key = (st.comm.tobytes(), bool(p["nhse_veto"]), consent_year, float(p["spec_enforcement"]))
    cached = getattr(m, "_dec_cache", None)
    if cached is None or cached[0] != key:
        g = m.lines.spread(st.comm)
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
        # the most a contract may be cut, per commissioner: service specifications bind ICB-led commissioners
        cap = np.where(st.group_type >= ICB_T, (1 - p["spec_enforcement"]) * 0.5, 1.0)
        flat = g.ravel()
        sys_idx = np.flatnonzero(in_sys)  # the only contracts a decision maker may protect
        rows_g = np.zeros((m.n_icbs, st.n_groups), dtype=bool)  # commissioners of each ICB's cells
        rows_g[np.repeat(np.arange(m.n_icbs), st.comm.shape[1]), st.comm.ravel()] = True
        cached = (key, SimpleNamespace(in_system=in_sys, consent=consent,
                                       cap=cap, flat=flat, sys_idx=sys_idx, sys_g=flat[sys_idx],
                                       sys_k=sys_idx % g.shape[1], sys_consent=consent.ravel()[sys_idx],
                                       rows_g=rows_g))
        m._dec_cache = cached
    dec = cached[1]
    # Stress of each commissioner: an ICB's own system, a merged ICB's, a joint committee's footprint,
    # a pan-ICB pool's region; NHS England's commissioners decide without it (0).
    off = m.group_offsets
    stress_g = np.zeros(st.n_groups)
    stress_g[off[ICB_T]:off[ICB_T] + m.n_icbs] = st.stress
    stress_g[off[JC]:off[JC] + len(d.jc_names)] = m.pooled_stress(d.jc_footprint)
    stress_g[off[PAN]:off[PAN] + m.n_regions] = m.pooled_stress(d.icb_region)
    stress_g[off[MERGED]:off[MERGED] + len(d.merger_names)] = m.pooled_stress(d.merger_group)
    dec.stress_g = stress_g
    return dec


def protection(m, dec: SimpleNamespace) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Protection theta of every contract, as a sparse pair (flat indices into (I, K), values), and the
    flat indices where NHS England's consent capped it.

    theta = system_weight x (decision maker's stress) x (provider's contribution margin on the line) for
    contracts with providers in the decision maker's system, 0 otherwise (so only those are listed);
    where NHS England must consent, theta is capped at nhse_tolerance (the unequal treatment it accepts)."""
    p = m.p
    scale = p["system_weight"] * dec.stress_g  # (G,)
    theta = scale[dec.sys_g] * contribution(m)[dec.sys_k]
    limited = dec.sys_consent & (theta > p["nhse_tolerance"])
    if limited.any():
        theta = np.where(limited, p["nhse_tolerance"], theta)
    on = theta > 0
    return (dec.sys_idx[on], theta[on]), dec.sys_idx[limited]


def contribution(m) -> np.ndarray:
    """Share of £1 of income on each line that stays with the provider after variable costs (K,)."""
    st, lines = m.state, m.lines
    var = lines.pick(st.var_unit0) * st.cost_index[lines.p]
    r = 1.0 - var / st.price[lines.s]
    return np.where(st.pass_through[lines.s], 0.0, np.clip(r, 0.0, 1.0))
