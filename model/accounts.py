"""Phase 5 of the round: provider accounts and system positions (ODD, "Provider finance")."""

from __future__ import annotations

import numpy as np

from . import finance
from .world import HEADROOM


def system_finances(m) -> None:
    """Each system's position (ICB body + the trusts it hosts) and its stress (deficit share of allocation)."""
    st = m.state
    # The ICB body: its opening share of allocation, money moved to it from delegated budgets, and (under delegation)
    # the result of its delegated budget: underspend it kept, less overspend it carries (delivery.py).
    st.icb_surplus = (st.icb_body_position * st.core_allocation + st.diversion_to_body + st.diversion_unused
                      + st.delegated_result)
    st.system_position = st.icb_surplus + m.by_host(st.surplus)
    st.system_margin = st.system_position / st.core_allocation
    st.stress = np.maximum(-st.system_margin, 0.0)
    if hasattr(st, "stress_years"):
        st.stress_years = np.where(st.stress > 0, st.stress_years + 1, 0)


def provider_accounts(m) -> None:
    """Close every trust's year: income, costs, surplus, cash, revenue support (``finance.py``)."""
    st = m.state
    ci = st.cost_index[:, None]
    semi = st.fixed_unit0 * ci * st.cost_capacity  # staff, theatres, beds
    over = st.overhead_unit0 * ci * st.overhead_capacity  # estates and overheads
    var = st.var_unit0 * ci * st.line_volume
    cost = np.where(st.pass_through[None, :], st.line_income, semi + over + var)
    # Stranded: semi-fixed and fixed cost of capacity above what this year's activity needs (lost activity whose
    # cost is not yet shed; a withdrawn line's estates and overheads until they are).
    need = st.line_volume * (1 + HEADROOM)
    stranded = (st.fixed_unit0 * np.maximum(st.cost_capacity - need, 0.0)
                + st.overhead_unit0 * np.maximum(st.overhead_capacity - need, 0.0)) * ci
    st.stranded = np.where(st.pass_through[None, :], 0.0, stranded).sum(axis=1)
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
    support = finance.share_support(m.money.provider_support(m.year, st.modelled_share),
                                    np.maximum(-st.surplus, 0.0))
    st.support_income = support
    st.spec_income = spec_income
    st.spec_cost = spec_cost
    st.surplus = spec_income + st.other_income + support + st.diversion_to_trusts - spec_cost - st.other_cost
    st.turnover = spec_income + st.other_income + support + st.diversion_to_trusts
    st.cash = st.cash + st.surplus
    st.ledger["support_income"] = float(support.sum())
