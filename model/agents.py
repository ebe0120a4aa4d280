"""The agents: integrated care boards, specialist providers and NHS England regions.

Agents decide; arrays compute. Each agent holds its index into the model's numpy arrays and the
decision rules of its kind. Money, flows and activity live in the model's arrays
(``model.state``); an agent reads its own slice and writes its decisions back (a referral shift,
a diversion, a local start, a withdrawal, a subsidy). The properties below make an agent's
measures available to Mesa's ``DataCollector``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel

# Assumptions (ODD, "ICB decisions"): a system starts at most one line a year, planned for half
# of its residents' activity of the line (the rest need the tertiary centre's full service), decided
# after two consecutive years in deficit and opened two years later (recruiting a specialist team and
# NHS England's designation of a new provider take time); no ICB was found to have started a
# specialised service in 2023-2025 (searched: NHS Confederation Feb 2025, HSJ), which this lead
# time respects.
START_SHARE = 0.5
START_STRESS_YEARS = 2
START_LEAD = 2


class ICB(Agent):
    """An integrated care board: manages its system's finances and commissions its residents' delegated lines.

    Its system is the ICB body plus the NHS trusts it hosts (the system control total). Money paid to
    an in-system trust partly returns to the system (the trust's contribution margin); money paid out
    of area does not. When its system is in deficit (stress > 0) and it holds delegated budgets itself
    (or through a merged ICB or a pan-ICB pool), it:

    * shifts referrals: ``referral_shift`` x stress (at most 20% a year) of its residents' out-of-system
      delegated activity towards in-system providers with spare capacity;
    * after two consecutive years in deficit, decides to start a delegated line it has no in-system
      provider of, at its largest acute trust, when half its residents' activity of the line reaches
      ``local_start_share`` of the minimum viable volume (at most one a year; the line opens two years
      later), unless NHS England's specifications (``spec_enforcement``) or consent rules forbid it;
    * moves delegated money towards its system's deficit (ICB body plus hosted trusts) where the ring-fence
      allows (``ringfence``: none under a hard ring-fence, up to ``diversion_limit`` of its delegated budget
      under a soft one, up to the whole deficit with none);
    * in contracting (model arrays), protects in-system contracts from cuts and gives them growth first
      (``system_weight`` x stress x contribution margin) and holds out-of-area contracts near last
      year's activity (``growth_cap``).

    Under joint committees NHS England holds the money and contracts: the ICB proposes, the committee
    decides with NHS England's consent (``nhse_veto``), so none of the above is done alone.
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
        self.delegation_wave = int(d.delegation_wave[idx])

    # --- decisions -------------------------------------------------------------
    def decide(self) -> None:
        m = self.model
        st, p, i = m.state, m.p, self.idx
        st.shift_wanted[i] = 0.0
        st.diversion_wanted[i] = 0.0
        st.diversion[i] = 0.0
        st.start_wanted[i] = False
        stress = st.decider_stress[i]
        if not st.can_act[i] or stress <= 0:
            return
        st.shift_wanted[i] = min(m.max_shift, p["referral_shift"] * stress)
        if st.consent_needed[i]:
            st.shift_wanted[i] = min(st.shift_wanted[i], p["nhse_tolerance"])
        st.start_wanted[i] = p["local_start_share"] > 0 and st.stress_years[i] >= START_STRESS_YEARS
        if st.holds_own[i]:
            wanted = max(-float(st.system_position[i]), 0.0)
            st.diversion_wanted[i] = wanted
            rule = p["ringfence"]
            budget = float(st.delegated_budget[i])
            if rule == "soft":
                st.diversion[i] = min(wanted, p["diversion_limit"] * budget)
            elif rule == "none":
                st.diversion[i] = min(wanted, budget)

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
    def system_margin(self) -> float:
        return float(self.model.state.system_margin[self.idx])

    @property
    def stress(self) -> float:
        return float(self.model.state.stress[self.idx])

    @property
    def home_bias_observed(self) -> float:
        return float(self.model.state.home_bias_observed[self.idx])


class Provider(Agent):
    """A specialist provider (an NHS trust) located in one ICB.

    Decision rules (each round, after its accounts close):
    * withdraw a service line after ``withdrawal_rounds`` consecutive rounds below its minimum viable
      volume (or below 80% of its base volume, for a line already smaller than that) or at a loss,
      unless its region protects it;
    * on revenue support (cash below the floor): follow the recovery plan: extra cost improvement
      (``recovery_efficiency``), the capacity of failing lines (their own margin below tolerance) cut by
      ``distress_capacity_cut`` with its staff and beds (their patients re-route: contagion), and after
      ``withdrawal_rounds`` consecutive years on support those lines withdrawn (for financial reasons).
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
        st, p = m.state, self.idx
        if not st.review_flag[p]:
            return
        k = m.p["withdrawal_rounds"]
        failing = st.active[p] & ((st.low_streak[p] >= k) | (st.loss_streak[p] >= k)) & ~st.protected[p]
        for s in np.nonzero(failing)[0]:
            m.withdraw_line(p, int(s), financial=bool(st.loss_streak[p, s] >= k))
        if st.needs_support[p]:
            losing = st.line_losing[p] & ~st.protected[p] & st.active[p]  # lines still open
            if st.support_years[p] >= k:
                for s in np.nonzero(losing)[0]:
                    m.withdraw_line(p, int(s), financial=True)
            else:
                # The recovery plan removes the staff and beds of the cut capacity: fixed costs go with it.
                st.capacity[p, losing] *= 1.0 - m.p["distress_capacity_cut"]
                st.cost_capacity[p, losing] = np.minimum(st.cost_capacity[p, losing], st.capacity[p, losing])

    # --- measures ---------------------------------------------------------------
    @property
    def income(self) -> float:
        return float(self.model.state.spec_income[self.idx])

    @property
    def surplus(self) -> float:
        return float(self.model.state.surplus[self.idx])

    @property
    def margin(self) -> float:
        return float(self.model.state.margin[self.idx])

    @property
    def cash(self) -> float:
        return float(self.model.state.cash[self.idx])

    @property
    def income_change(self) -> float:
        return float(self.model.state.income_change[self.idx])

    @property
    def needs_support(self) -> bool:
        return bool(self.model.state.needs_support[self.idx])

    @property
    def destabilised(self) -> bool:
        return bool(self.model.state.destabilised[self.idx])

    @property
    def lines_open(self) -> int:
        return int(self.model.state.active[self.idx].sum())


class Region(Agent):
    """An NHS England region: commissions what is not delegated, oversees ICBs.

    Decision rules (each round):
    * specification enforcement and consent act in contracting (model arrays): ICB-led commissioners
      cut no single contract by more than ``(1 - spec_enforcement) x 50%`` a year while other contracts
      can take the cut; where NHS England must consent, unequal treatment is limited to
      ``nhse_tolerance``;
    * stabilisation: tops up a finite pool from delegated budgets (``pool_share``) and, if
      ``protect_last_provider``, pays the loss of a line that is the last open provider of its service
      in the region and is about to be withdrawn, while the pool lasts.
    ``lead_icb`` labels the host of a pan-ICB pool: the region's ICB of the earliest delegation wave, the
    largest by population on ties (a rule, not the record: the record names BLMK for the East of England
    hub and Birmingham and Solihull for the West Midlands; the pool itself behaves region-wide whoever
    hosts it).
    """

    def __init__(self, model: CommissioningModel, idx: int):
        super().__init__(model)
        d = model.data
        self.idx = idx
        self.code = str(d.region_code[idx])
        self.name = str(d.region_name[idx])
        self.short_name = str(d.region_short[idx])
        members = np.nonzero(d.icb_region == idx)[0]
        if len(members):
            key = np.lexsort((-d.population[members], d.delegation_wave[members]))
            self.lead_icb = str(d.icb_short[members[key[0]]])
        else:
            self.lead_icb = ""

    def intervene(self) -> None:
        m = self.model
        st, r = m.state, self.idx
        mine = st.prov_region == r
        st.protected[mine] = False
        if not m.p["protect_last_provider"] or st.pool[r] <= 0:
            return
        k = m.p["withdrawal_rounds"]
        at_risk = mine[:, None] & st.active & ((st.low_streak >= k) | (st.loss_streak >= k))
        if not at_risk.any():
            return
        open_in_region = (st.active & mine[:, None]).sum(axis=0)
        for p, s in zip(*np.nonzero(at_risk)):
            if open_in_region[s] != 1 or st.tier[s] == 0:  # highly specialised lines are national
                continue
            need = max(-float(st.line_margin[p, s]), 0.0)
            if need > st.pool[r]:
                continue
            st.pool[r] -= need
            st.subsidy[p, s] += need
            st.region_paid[r] += need
            st.cash[p] += need
            st.surplus[p] += need
            st.turnover[p] += need  # income like any other: the margin counts it on both sides
            st.line_margin[p, s] += need
            st.low_streak[p, s] = 0
            st.loss_streak[p, s] = 0
            st.protected[p, s] = True
            st.ledger["pool_paid"] += need

    @property
    def pool_remaining(self) -> float:
        return float(self.model.state.pool[self.idx])

    @property
    def stabilisation_paid(self) -> float:
        return float(self.model.state.region_paid[self.idx])
