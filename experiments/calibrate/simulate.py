"""The model run behind one particle: the scenario's path from the base year to the last year the chosen
facts need, and nothing after it.

``fact_run`` evaluates each fact's quantity with :func:`commissim.model.targets.quantity` in the year the
fact names (a fact of the seed data when the model is built), so a fact means what ``commissim validate``
means by it. A calibration on 2022-23 and 2023-24 facts builds the model and runs one funding round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["fact_run", "FactModel", "last_year", "screen"]


def last_year(facts: Sequence[tuple[str, str]]) -> int:
    """The last financial year (its first calendar year) the facts need; the base year if none."""
    from commissim.model.scenarios import BASE_YEAR

    return max([BASE_YEAR, *(int(y[:4]) for _q, y in facts if y)])


def fact_run(scenario: str, facts: Sequence[tuple[str, str]], rng: Any = None, *, seeds_path: str | None = None,
             **parameters: Any) -> dict[str, float]:
    """Run ``scenario`` to the last year ``facts`` (pairs of quantity and year) need; return ``{quantity@year: value}``."""
    from commissim.model.model import CommissioningModel
    from commissim.model.targets import quantity

    by_year: dict[int, list[tuple[str, str]]] = {}
    out: dict[str, float] = {}
    model = CommissioningModel(scenario=scenario, rng=rng, collect_agent_data=False, seeds_path=seeds_path,
                               **parameters)
    for q, y in facts:
        if y:
            by_year.setdefault(int(y[:4]), []).append((q, y))
        else:
            out[f"{q}@data"] = float(quantity(model, q))
    last = last_year(facts)
    while True:
        for q, y in by_year.get(model.year, []):
            out[f"{q}@{y}"] = float(quantity(model, q))
        # what the margin-change quantity compares with (as commissim.model.targets.target_run does)
        model.state.prev_kind_margins = (model.measures["specialist_trust_margin"],
                                         model.measures["acute_trust_margin"])
        if model.year >= last:
            break
        model.step()
    return out


class FactModel:
    """The pyabc model: a particle's parameters (the sampler's numbers) -> the facts' values.

    Picklable (a plain class of this module), so it runs on local processes and Dask workers. The model's seed
    is drawn from numpy's global generator, which the sampler seeds for every candidate particle from the
    calibration's root seed, so a candidate's facts depend only on its place in the run.
    """

    def __init__(self, scenario: str, facts: Sequence[tuple[str, str]], priors: Sequence, fixed: dict[str, Any],
                 seeds_path: str | None = None):
        self.scenario = scenario
        self.facts = tuple((q, y) for q, y in facts)
        self.priors = {p.name: p for p in priors}
        self.fixed = dict(fixed)
        self.seeds_path = seeds_path
        self.__name__ = "commissim"  # pyabc names a model by its function's name

    def parameters(self, pars) -> dict[str, Any]:
        return {**self.fixed, **{k: self.priors[k].decode(v) for k, v in dict(pars).items() if k in self.priors}}

    def __call__(self, pars) -> dict[str, float]:
        seed = int(np.random.randint(0, 2**62, dtype=np.int64))
        return fact_run(self.scenario, self.facts, seed, seeds_path=self.seeds_path, **self.parameters(pars))


def screen(scenario: str, facts: Sequence[tuple[str, str]], priors: Sequence, fixed: dict[str, Any], seed: int,
           seeds_path: str | None = None, bases: int = 2) -> dict[str, list[str]]:
    """Which facts each parameter moves at all: for each parameter, the facts at the 5% and 95% points of its
    prior (every value of a discrete prior), the others held at a base point, with the same seed (common random
    numbers); base points are the prior medians and ``bases - 1`` draws from the priors. A parameter that moves
    no fact at any base point acts only where the record has no figure: the facts cannot inform it.

    Returns ``{parameter: [fact keys it moved]}``.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    base_points = [{p.name: p.quantiles([0.5])[0] for p in priors}]
    for _ in range(max(bases, 1) - 1):
        base_points.append({p.name: p.sample(1, rng)[0] for p in priors})
    run_seed = int(np.random.SeedSequence(seed, spawn_key=(8,)).generate_state(1)[0])
    moved: dict[str, set[str]] = {p.name: set() for p in priors}
    for base in base_points:
        for p in priors:
            values = list(p.domain) if p.discrete else p.quantiles([0.05, 0.95])
            results = [fact_run(scenario, facts, run_seed, seeds_path=seeds_path, **{**fixed, **base, p.name: v})
                       for v in dict.fromkeys(values)]
            for key in results[0]:
                vals = np.array([r[key] for r in results], float)
                finite = np.isfinite(vals)
                if finite.any() and (not finite.all() or np.ptp(vals) > 1e-12 * (1.0 + np.abs(vals).max())):
                    moved[p.name].add(key)
    order = [f"{q}@{y or 'data'}" for q, y in facts]
    return {k: [f for f in order if f in v] for k, v in moved.items()}
