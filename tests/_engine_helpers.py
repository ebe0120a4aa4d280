"""Module-level (picklable) stand-ins for ``model.simulation.simulate`` used by the engine tests.

They have ``simulate``'s signature and return shape, and are deterministic in the seed,
so tests compare runs with each other and never depend on the real model's numbers.
"""

from __future__ import annotations

import os

import numpy as np

MEASURES = ("providers_destabilised", "out_of_area_share", "access_gini", "access_cv", "total_spend")
CURVE = ("destabilised_at_0p5pct", "destabilised_at_1pct", "destabilised_at_1p5pct", "destabilised_at_2pct",
         "destabilised_at_3pct", "destabilised_at_5pct", "destabilised_at_7p5pct", "destabilised_at_10pct")
N_ICBS = 42  # the real seeds' ICBs (the compare map draws them)


def fake_simulate(scenario="nhse_direct", years=10, rng=None, *, series=False, **parameters):
    """Deterministic fake: numbers depend on the seed, scenario and parameters only."""
    gen = np.random.default_rng([int(rng or 0), sum(map(ord, scenario))])
    shift = float(parameters.get("growth_cap", 0.6)) + float(parameters.get("pool_share", 0.0)) * 10
    paths = {m: np.cumsum(gen.random(years + 1)) * (1 + shift) for m in MEASURES}
    out = {m: float(v[-1]) for m, v in paths.items()}
    # the destabilisation curve: fewer providers at higher thresholds
    out.update({c: float(np.floor(out["providers_destabilised"] * (1 + 2 / (k + 1))))
                for k, c in enumerate(CURVE)})
    out["scenario"] = scenario
    out["years"] = int(years)
    if series:
        out["series"] = {m: [float(x) for x in v] for m, v in paths.items()}
        out["provider_income_change"] = [float(x) for x in gen.normal(-0.01 * shift, 0.02, size=5)]
        out["icb_measures"] = {"icb_access_rate": [float(x) for x in gen.normal(1.0, 0.1, N_ICBS)],
                               "icb_budget_change": [float(x) for x in gen.normal(0.5, 0.05, N_ICBS)],
                               "icb_out_of_area_spend_change": [float(x) for x in gen.normal(0.4, 0.1, N_ICBS)]}
    return out


def fail_odd_seeds(scenario="nhse_direct", years=10, rng=None, *, series=False, flag_file=None, **parameters):
    """Like ``fake_simulate``, but raises for odd seeds while ``flag_file`` exists (or always if None)."""
    if years > 0 and rng is not None and rng % 2 == 1 and (flag_file is None or os.path.exists(flag_file)):
        raise ValueError(f"boom for seed {rng}")
    return fake_simulate(scenario, years, rng, series=series, **parameters)


def interrupt_after(scenario="nhse_direct", years=10, rng=None, *, series=False, counter_file=None, limit=3,
                    **parameters):
    """Raises KeyboardInterrupt once ``limit`` runs were done while ``counter_file`` exists (serial only)."""
    if years > 0 and counter_file and os.path.exists(counter_file):
        with open(counter_file, "a+") as fh:
            fh.seek(0)
            n = len(fh.read())
            if n >= limit:
                raise KeyboardInterrupt
            fh.write("x")
    return fake_simulate(scenario, years, rng, series=series, **parameters)


class _Cycle:
    """A stand-in for a run's model: an object in a reference cycle (a Mesa model and its agents)."""

    def __init__(self):
        self.me = self
        self.payload = np.ones(1000)


def leaves_cyclic_garbage(scenario="nhse_direct", years=10, rng=None, *, series=False, **parameters):
    """Like ``fake_simulate``, but every run leaves, as the model does, a dead object in a reference
    cycle that has lived long enough to reach the oldest generation (so only a full collection frees
    it). Returns how many of those from earlier runs are still alive when it starts, and whether
    the process froze what it inherited."""
    import gc

    alive = sum(1 for o in gc.get_objects(generation=2) if type(o) is _Cycle)
    alive += sum(1 for g in (0, 1) for o in gc.get_objects(generation=g) if type(o) is _Cycle)
    obj = _Cycle()
    gc.collect(1)  # survives two collections while in use, as a model does: now in the oldest generation
    del obj
    out = fake_simulate(scenario, years, rng, series=series, **parameters)
    out["cycles_alive_at_start"] = float(alive)
    out["frozen_objects"] = float(gc.get_freeze_count())
    return out
