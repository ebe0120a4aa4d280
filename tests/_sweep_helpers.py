"""Module-level (picklable) run functions for the sweep tests.

``analytic`` has ``simulate``'s signature and a known answer: ``providers_destabilised`` is
``10 growth_cap + 2 local_start_share + withdrawal_rounds / 10`` plus small seed noise, so a
sensitivity analysis must rank growth_cap first; ``cumulative_diverted`` never varies (beyond
floating-point noise), so its indices are undefined. ``slow`` sleeps in each run (and leaves a file
naming its process while it runs) so a test can kill a Dask worker in the middle of a run.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

OUTCOMES = ("providers_destabilised", "access_gini")


def analytic(scenario="full_delegation", years=10, rng=None, *, series=False, nan_above=None, fail_above=None,
             fail_flag=None, **parameters):
    hb = float(parameters.get("growth_cap", 0.6))
    cs = float(parameters.get("local_start_share", 0.4))
    wr = float(parameters.get("withdrawal_rounds", 3))
    plp = 1.0 if parameters.get("protect_last_provider", True) else 0.0
    noise = np.random.default_rng(int(rng or 0)).normal(0, 0.01)
    if years > 0 and fail_above is not None and hb > fail_above and (fail_flag is None or os.path.exists(fail_flag)):
        raise RuntimeError(f"model blew up at growth_cap={hb:.3f}")
    y = 10 * hb + 2 * cs + wr / 10 + noise
    out = {"providers_destabilised": y, "access_gini": 0.1 * cs + 0.05 * plp + noise / 10,
           "cumulative_diverted": 0.0 + 1e-12 * hb,  # never varies (floating-point noise only)
           "scenario": scenario, "years": int(years)}
    if years > 0 and nan_above is not None and hb > nan_above:
        out["providers_destabilised"] = math.nan
    if series:
        out["series"] = {"providers_destabilised": [y * r / max(years, 1) for r in range(years + 1)]}
    return out


def slow(scenario="full_delegation", years=10, rng=None, *, series=False, delay=0.1, running_dir=None,
         **parameters):
    """``analytic`` after sleeping ``delay`` seconds; ``running_dir/<pid>`` exists while a run is under way."""
    flag = None
    if running_dir and years > 0:
        flag = os.path.join(running_dir, str(os.getpid()))
        with open(flag, "w") as fh:
            fh.write(str(rng))
    try:
        time.sleep(delay if years > 0 else 0)
        return analytic(scenario, years, rng, series=series, **parameters)
    finally:
        if flag and os.path.exists(flag):
            os.unlink(flag)
