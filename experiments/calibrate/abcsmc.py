"""pyabc's ABC-SMC set up from a checked calibration file: priors, transitions, the distance, the epsilon.

pyabc (https://pyabc.readthedocs.io) does the inference: proposals from the last generation through
transition kernels, importance weights, the adaptive acceptance threshold and the SQLite history. This
module only translates the calibration file into its objects; :mod:`.sampler` gives it the executors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyabc
from pyabc.distance import Distance

from .config import CalibrationConfig, Fact, Prior
from .simulate import FactModel

__all__ = ["ScaledDistance", "make_abc", "distribution"]


class ScaledDistance(Distance):
    """Root mean square of each fact's (model - published) / stated uncertainty; a one-sided fact counts only
    on its wrong side. 1 means the facts are off by their uncertainty on average; a missing value is infinitely
    far."""

    def __init__(self, facts: Sequence[Fact]):
        super().__init__()
        self.facts = list(facts)

    def __call__(self, x: dict, x_0: dict, t: int | None = None, par: dict | None = None) -> float:
        total = 0.0
        for f in self.facts:
            r = f.residual(x.get(f.key, math.nan))
            if not math.isfinite(r):
                return math.inf
            total += r * r
        return math.sqrt(total / max(len(self.facts), 1))


def distribution(priors: Sequence[Prior]) -> pyabc.Distribution:
    rvs = {}
    for p in priors:
        if p.discrete:
            rvs[p.name] = pyabc.RV("rv_discrete", values=(np.arange(len(p.domain)), p.probabilities()))
        elif p.kind == "uniform":
            rvs[p.name] = pyabc.RV("uniform", p.low, p.high - p.low)
        else:
            a, b = (p.low - p.mean) / p.sd, (p.high - p.mean) / p.sd
            rvs[p.name] = pyabc.RV("truncnorm", a, b, loc=p.mean, scale=p.sd)
    return pyabc.Distribution(**rvs)


def _transitions(priors: Sequence[Prior]):
    continuous = tuple(p.name for p in priors if not p.discrete)
    discrete = [p for p in priors if p.discrete]
    if not discrete:
        return pyabc.MultivariateNormalTransition()
    mapping = {}
    if continuous:
        mapping[continuous] = pyabc.MultivariateNormalTransition()
    for p in discrete:
        mapping[p.name] = pyabc.DiscreteJumpTransition(domain=np.arange(len(p.domain)).astype(float), p_stay=0.7)
    return pyabc.AggregatedTransition(mapping=mapping)


def make_abc(cfg: CalibrationConfig, priors: Sequence[Prior], sampler) -> pyabc.ABCSMC:
    """The ABCSMC object of a calibration over ``priors`` (the parameters the facts can inform)."""
    model = FactModel(cfg.scenario, [(f.quantity, f.year) for f in cfg.facts], priors,
                      {**cfg.fixed, **{p.name: p.quantiles([0.5])[0] for p in cfg.priors if p not in priors}},
                      cfg.seeds_path)
    return pyabc.ABCSMC(model, distribution(priors), ScaledDistance(cfg.facts), population_size=cfg.particles,
                        sampler=sampler, transitions=_transitions(priors),
                        eps=pyabc.QuantileEpsilon(alpha=cfg.alpha))
