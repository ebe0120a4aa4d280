"""The agents: integrated care boards, specialist providers and NHS England regions.

Agents decide; arrays compute. Each agent holds its index into the model's numpy
arrays and the decision rules of its kind. Money, flows and activity live in the
model's arrays (``model.state``); an agent reads its own slice and writes its
decisions back (a diversion, a withdrawal, a subsidy). The properties below make
an agent's measures available to Mesa's ``DataCollector``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel


class ICB(Agent):
    """An integrated care board: commissions its residents' delegated service lines.

    Decision rules (each round, when it holds delegated budgets):
    * a cash-strapped ICB diverts part of its core deficit from its delegated
      specialised budget (``diversion_rate``, capped at ``max_diversion`` of that
      budget; damped by the region's weight when the budget sits with a joint
      committee or a pan-ICB pool);
    * a cash-strapped ICB repatriates a share (``repatriation_rate``) of its
      out-of-area delegated activity to providers in its own area;
    * its maturity grows (trailblazer waves).
    Cut rules (home bias, preference for widely provided local lines) act in the
    contracting arrays on this ICB's residents' contracts when it is cash-strapped
    (or always, with ``home_bias_scope = "all_icbs"``).
    """

    def __init__(self, model: CommissioningModel, idx: int):
        super().__init__(model)
        d = model.data
        self.idx = idx
        self.code = str(d.icb_code[idx])
        self.name = str(d.icb_name[idx])
        self.short_name = str(d.icb_short[idx])
        self.region_idx = int(d.icb_region[idx])
        self.population = int(d.population[idx])
        self.need_index = float(d.need_index[idx])
        self.maturity = float(d.maturity[idx])

    # --- decisions -------------------------------------------------------------
    def decide(self) -> None:
        m = self.model
        st = m.state
        i = self.idx
        self.maturity = min(1.0, self.maturity + (m.p["maturity_growth"] if m.steps > 1 else 0.0))
        st.maturity[i] = self.maturity
        st.diversion[i] = 0.0
        st.repatriate[i] = 0.0
        own_budget = st.delegated_budget[i]
        if own_budget <= 0 or not st.cash_strapped[i]:
            return
        damp = st.icb_damping[i]  # 1 when the ICB holds the budget itself
        wanted = m.p["diversion_rate"] * st.core_deficit[i] * damp
        st.diversion[i] = min(wanted, m.p["max_diversion"] * own_budget)
        st.repatriate[i] = m.p["repatriation_rate"] * damp

    # --- measures for the DataCollector -----------------------------------------
    @property
    def budget(self) -> float:
        return float(self.model.state.icb_budget[self.idx])

    @property
    def spend_in_area(self) -> float:
        return float(self.model.state.icb_spend_in_area[self.idx])

    @property
    def spend_out_of_area(self) -> float:
        return float(self.model.state.icb_spend_out_area[self.idx])

    @property
    def diverted(self) -> float:
        return float(self.model.state.diversion[self.idx])

    @property
    def access_rate(self) -> float:
        return float(self.model.state.access_rate[self.idx])

    @property
    def cash_strapped(self) -> bool:
        return bool(self.model.state.cash_strapped[self.idx])


class Provider(Agent):
    """A specialist provider (an NHS trust) located in one ICB.

    Decision rules (each round, after being paid):
    * withdraw a service line after ``withdrawal_rounds`` consecutive rounds below
      its minimum viable volume (or below 80% of its base volume, for a line that was
      already smaller than that minimum) or at a loss, unless its region protects it;
    * in distress (reserves below ``distress_threshold`` of turnover) cut capacity
      on loss-making lines by ``distress_capacity_cut`` (contagion to other lines
      and to the providers that take the overflow); out of distress, rebuild lost
      capacity slowly (``capacity_recovery``).
    """

    def __init__(self, model: CommissioningModel, idx: int):
        super().__init__(model)
        d = model.data
        self.idx = idx
        self.code = str(d.provider_code[idx])
        self.name = str(d.provider_name[idx])
        self.short_name = str(d.provider_short[idx])
        self.kind = str(d.provider_kind[idx])
        self.icb_idx = int(d.provider_icb[idx])
        self.region_idx = int(d.icb_region[self.icb_idx])

    def review(self) -> None:
        m = self.model
        st = m.state
        p = self.idx
        if not st.review_flag[p]:  # nothing failing, no distress, no lost capacity: nothing to decide
            return
        k = m.p["withdrawal_rounds"]
        failing = st.active[p] & ((st.low_streak[p] >= k) | (st.loss_streak[p] >= k)) & ~st.protected[p]
        if failing.any():
            for s in np.nonzero(failing)[0]:
                m.withdraw_line(p, int(s))
        was = st.in_distress[p]
        now = st.reserves[p] < m.p["distress_threshold"] * st.turnover[p]
        st.in_distress[p] = now
        if now:
            losing = st.active[p] & (st.line_margin[p] < 0)
            st.capacity[p, losing] *= 1.0 - m.p["distress_capacity_cut"]
        elif was or (st.capacity[p] < st.capacity_target[p]).any():
            gap = st.capacity_target[p] - st.capacity[p]
            st.capacity[p] += np.where(st.active[p] & (gap > 0), gap * m.p["capacity_recovery"], 0.0)

    # --- measures ---------------------------------------------------------------
    @property
    def income(self) -> float:
        return float(self.model.state.prov_income[self.idx])

    @property
    def surplus(self) -> float:
        return float(self.model.state.prov_surplus[self.idx])

    @property
    def reserves(self) -> float:
        return float(self.model.state.reserves[self.idx])

    @property
    def income_change(self) -> float:
        return float(self.model.state.income_change[self.idx])

    @property
    def in_distress(self) -> bool:
        return bool(self.model.state.in_distress[self.idx])

    @property
    def lines_open(self) -> int:
        return int(self.model.state.active[self.idx].sum())


class Region(Agent):
    """An NHS England region: commissions what is not delegated, oversees ICBs.

    Decision rules (each round):
    * sense-check and specification enforcement: ICB-led commissioners cut no
      single contract by more than ``(1 - spec_enforcement) x 50%`` a year while other
      contracts can take the cut (applied in contracting; the budget still binds);
    * stabilisation: tops up a finite pool from delegated budgets (``pool_share``)
      and, if ``protect_last_provider``, pays the loss of a line that is the last
      open provider of its service in the region and is about to be withdrawn,
      while the pool lasts.
    ``lead_icb`` records the region's most mature ICB, the natural host of a pan-ICB
    pool (004); the model's pan-ICB pool behaves region-wide whoever hosts it.
    """

    def __init__(self, model: CommissioningModel, idx: int):
        super().__init__(model)
        d = model.data
        self.idx = idx
        self.code = str(d.region_code[idx])
        self.name = str(d.region_name[idx])
        self.short_name = str(d.region_short[idx])
        members = np.nonzero(d.icb_region == idx)[0]
        lead = members[np.argmax(d.maturity[members])] if len(members) else -1
        self.lead_icb = str(d.icb_short[lead]) if lead >= 0 else ""

    def intervene(self) -> None:
        m = self.model
        st = m.state
        r = self.idx
        mine = st.prov_region == r
        st.protected[mine] = False
        if not m.p["protect_last_provider"] or st.pool[r] <= 0:
            return
        k = m.p["withdrawal_rounds"]
        at_risk = mine[:, None] & st.active & ((st.low_streak >= k) | (st.loss_streak >= k))
        if not at_risk.any():
            return
        open_in_region = (st.active & mine[:, None]).sum(axis=0)  # per service
        for p, s in zip(*np.nonzero(at_risk)):
            if open_in_region[s] != 1 or st.tier[s] == 0:  # highly specialised lines are national
                continue
            need = max(-float(st.line_margin[p, s]), 0.0)
            if need > st.pool[r]:
                continue
            st.pool[r] -= need
            st.subsidy[p, s] += need
            st.region_paid[r] += need
            st.reserves[p] += need
            st.line_margin[p, s] += need
            st.low_streak[p, s] = 0
            st.loss_streak[p, s] = 0
            st.protected[p, s] = True

    @property
    def pool_remaining(self) -> float:
        return float(self.model.state.pool[self.idx])

    @property
    def stabilisation_paid(self) -> float:
        return float(self.model.state.region_paid[self.idx])
