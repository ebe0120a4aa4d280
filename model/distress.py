"""Phase 6 of the round: distress and support. Cash support below the floor, failing lines, withdrawals and
local starts (ODD, "Distress")."""

from __future__ import annotations

import numpy as np

from . import finance
from .world import HEADROOM

def settle_cash(m) -> None:
    """Revenue support for trusts below the cash floor (after regions' payments are in)."""
    st, p = m.state, m.p
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


def line_streaks(m) -> None:
    """A line is failing when its own economics deteriorate: its margin, with costs deflated by the trust's
    general cost drift against tariff prices (that drift is the whole trust's problem, met by its finances),
    falls below its base-year margin (or 0) less ``loss_tolerance``; or its volume is below the minimum."""
    st, p = m.state, m.p
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


def update_review_flags(m) -> None:
    """Mark providers with something to decide (a failing line, revenue support)."""
    st, p = m.state, m.p
    k = p["withdrawal_rounds"]
    failing = ((st.loss_streak >= k) | (st.low_streak >= k)).any(axis=1)
    st.review_flag = failing | st.needs_support


def withdraw_line(m, p: int, s: int, financial: bool = False) -> None:
    """Provider ``p`` stops offering service ``s``: capacity and fixed costs go; its patients
    re-route to the remaining providers from the next round."""
    st = m.state
    st.active[p, s] = False
    st.withdrawn[p, s] = True
    st.withdrawn_financial[p, s] = st.withdrawn_financial[p, s] or financial
    st.withdrawn_year[p, s] = m.year
    st.n_withdrawn_total += 1
    st.capacity[p, s] = 0.0
    st.cost_capacity[p, s] = 0.0
    st.low_streak[p, s] = 0
    st.loss_streak[p, s] = 0


def start_line(m, p: int, s: int, volume: float) -> None:
    """A system starts service ``s`` at its provider ``p`` for ``volume`` cases a year: an incremental team
    sized for ``local_start_share`` of the minimum viable volume (below it the unit cost exceeds the tariff)."""
    st, d = m.state, m.data
    cap = volume * (1 + HEADROOM)
    st.active[p, s] = True
    st.started[p, s] = True
    st.withdrawn[p, s] = False
    st.capacity[p, s] = cap
    st.cost_capacity[p, s] = cap
    price0 = st.price0[s]
    # Incremental team: sized for local_start_share of the minimum viable volume (overheads shared).
    team = max(m.p["local_start_share"] * st.min_volume_abs[s], volume)
    st.fixed_unit0[p, s] = d.fixed_share[s] * price0 * team / cap
    st.var_unit0[p, s] = (1 - d.fixed_share[s]) * price0
    st.min_volume[p, s] = 0.8 * volume  # judged against the volume it was started for
    st.base_margin_ratio[p, s] = 0.0
    st.local_starts += 1
    st.local_starts_total += 1
