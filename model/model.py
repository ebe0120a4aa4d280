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

from typing import Any

import mesa
import numpy as np

from . import accounts, budgets, decisions, delivery, distress, measures
from .agents import ICB, Provider, Region
from .data import SeedData, load_seeds
from .errors import ParameterError
from .funding import MoneyPath
from .params import DEFAULTS, validate_parameters
from .scenarios import BASE_YEAR, PolicyScenario, fy_label, load_scenario
from .world import (  # noqa: F401  (re-exported: tests and tools import them from here)
    GROUP_TYPES, ICB_T, JC, MAX_SHIFT, MERGED, NATIONAL, PAN, REGION, base_world, potential_lines,
)



def _money(model: CommissioningModel) -> None:
    budgets.year_money(model)


def _budgets(model: CommissioningModel) -> None:
    budgets.set_arrangement(model)
    budgets.set_budgets(model)
    budgets.fund_pools(model)


def _decisions(model: CommissioningModel) -> None:
    decisions.decision_context(model)
    model.icbs.shuffle_do("decide")
    decisions.apply_decisions(model)


def _contracting(model: CommissioningModel) -> None:
    delivery.contract_and_deliver(model)


def _accounts(model: CommissioningModel) -> None:
    accounts.provider_accounts(model)
    distress.line_streaks(model)


def _distress(model: CommissioningModel) -> None:
    model.regions.shuffle_do("intervene")  # before providers decide: protect lines about to go
    distress.settle_cash(model)
    distress.update_review_flags(model)
    flag = model.state.review_flag
    if flag.any():
        model.providers.select(lambda a: flag[a.idx]).shuffle_do("review")
    accounts.system_finances(model)


# The round, phase by phase (ODD, "Process overview and scheduling"): each phase is a module of its own.
PHASES = (
    ("money", _money),            # budgets.py: prices, cost growth, demand
    ("budgets", _budgets),        # budgets.py: who commissions what, cell and commissioner budgets, pools
    ("decisions", _decisions),    # decisions.py + ICB.decide: system stress, referral shifts, starts, diversion
    ("contracting", _contracting),  # delivery.py: plans against budgets, gaps closed by the rules, delivery
    ("accounts", _accounts),      # accounts.py: trusts' income, costs, surplus, cash; line economics
    ("distress", _distress),      # distress.py + Region/Provider: support, protection, withdrawals
)


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
        from .world import build_state

        build_state(self)

    def _create_agents(self) -> None:
        d = self.data
        ICB.create_agents(self, d.n_icbs, idx=list(range(d.n_icbs)))
        Provider.create_agents(self, d.n_providers, idx=list(range(d.n_providers)))
        Region.create_agents(self, d.n_regions, idx=list(range(d.n_regions)))
        self.icbs = self.agents_by_type[ICB]
        self.providers = self.agents_by_type[Provider]
        self.regions = self.agents_by_type[Region]


    # -------------------------------------------------------------------- round
    def step(self) -> None:
        """One funding round (financial year ``BASE_YEAR + steps``)."""
        self.year = BASE_YEAR + self.steps
        if self.year in self.policy.change_years() or self.steps == 1:
            self._apply_parameters(self.year)
        for _name, phase in PHASES:
            phase(self)
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


    # ------------------------------------------------- helpers the agents and tools call
    def delegable_mask(self) -> np.ndarray:
        return budgets.delegable_mask(self)

    def _set_arrangement(self, base_year: bool = False) -> None:
        budgets.set_arrangement(self, base_year=base_year)

    def _system_finances(self) -> None:
        accounts.system_finances(self)

    def _in_system_k(self) -> np.ndarray:
        return decisions.in_system_k(self)

    def settle_cash(self) -> None:
        distress.settle_cash(self)

    def update_review_flags(self) -> None:
        distress.update_review_flags(self)

    def withdraw_line(self, p: int, s: int, financial: bool = False) -> None:
        distress.withdraw_line(self, p, s, financial)

    def start_line(self, p: int, s: int, volume: float) -> None:
        distress.start_line(self, p, s, volume)

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

    def _flat_group_sum(self, x: np.ndarray) -> np.ndarray:
        return self.group_sum(x.reshape(self.n_icbs, self.lines.K))

    def _flat_group_expand(self, x_g: np.ndarray) -> np.ndarray:
        """A per-commissioner array (G,) on every contract, flat (I x K): through each cell's commissioner, then
        over the cell's lines (the same as ``x_g[flat commissioner of each contract]``, without the large gather)."""
        return self.lines.spread(x_g[self.state.comm]).ravel()

    def group_sum(self, x: np.ndarray) -> np.ndarray:
        """Sum of an (I, K) contract array by commissioner (G,): over lines into cells, then cells by group."""
        st = self.state
        return np.bincount(st.comm.ravel(), weights=self.lines.by_service(x).ravel(), minlength=st.n_groups)

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

