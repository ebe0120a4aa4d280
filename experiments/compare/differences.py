"""Differences between scenarios, with their intervals: what the report and the figures both say.

A comparison runs every scenario with common random numbers (replicate r of every scenario has
the same seed), so a scenario's difference from the reference scenario is paired by replicate:
the mean of the per-replicate differences, with a t interval of that mean (n - 1 degrees of
freedom). A folder whose scenarios did not share their seeds falls back to Welch's t interval of
the difference in means. Both intervals are 90%: they reflect the model's random variation
only, not the uncertainty of its assumptions (the sensitivity sweeps address that).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Difference", "paired_difference", "welch_difference", "reference_scenario", "common_seeds",
           "CONFIDENCE"]

CONFIDENCE = 0.90
REFERENCE = "nhse_direct"


@dataclass(frozen=True)
class Difference:
    """``scenario - ref`` for one measure: the estimate, its interval, how many pairs or runs."""

    estimate: float
    low: float
    high: float
    n: int
    paired: bool

    @property
    def clear(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0


def reference_scenario(scenarios) -> str | None:
    scenarios = list(scenarios)
    if not scenarios:
        return None
    return REFERENCE if REFERENCE in scenarios else scenarios[0]


def common_seeds(manifest: dict) -> bool:
    """Whether the folder's scenarios shared their seeds (replicate r: one seed for every scenario)."""
    return bool(manifest.get("config", {}).get("common_seeds"))


@functools.lru_cache(maxsize=256)
def _t(df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))


def welch_difference(a, b) -> Difference | None:
    """Difference in means ``mean(a) - mean(b)`` with Welch's t interval (None if n < 2)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return None
    d = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(d, d, d, min(len(a), len(b)), False)
    df = (va + vb) ** 2 / ((va**2 / (len(a) - 1) if va else 0.0) + (vb**2 / (len(b) - 1) if vb else 0.0))
    t = _t(df)
    return Difference(d, d - t * se, d + t * se, min(len(a), len(b)), False)


def paired_difference(summaries, measure: str, scenario: str, ref: str, *, paired: bool = True
                      ) -> Difference | None:
    """``scenario - ref`` for ``measure`` over the runs in ``summaries`` (paired by replicate when
    ``paired``; replicates missing from either side are left out). None when fewer than 2."""
    scen = summaries["scenario"].to_numpy()
    values = summaries[measure].to_numpy(dtype=float)
    reps = summaries["replicate"].to_numpy()
    in_a, in_b = (scen == scenario) & ~np.isnan(values), (scen == ref) & ~np.isnan(values)
    if not paired:
        return welch_difference(values[in_a], values[in_b])
    a_rep, a_val, b_rep, b_val = reps[in_a], values[in_a], reps[in_b], values[in_b]
    if len(np.unique(a_rep)) == len(a_rep) and len(np.unique(b_rep)) == len(b_rep):
        # an inner join on replicate, in the order of scenario's runs (as pandas' merge gives it)
        b_of = dict(zip(b_rep.tolist(), b_val.tolist()))
        keep = np.fromiter((r in b_of for r in a_rep.tolist()), dtype=bool, count=len(a_rep))
        d = a_val[keep] - np.array([b_of[r] for r in a_rep[keep].tolist()], dtype=float)
    else:  # a replicate twice on a side (never in a compare folder): every pair, as the merge makes them
        import pandas as pd

        both = pd.DataFrame({"replicate": a_rep, "a": a_val}).merge(pd.DataFrame({"replicate": b_rep, "b": b_val}),
                                                                     on="replicate")
        d = (both["a"] - both["b"]).to_numpy(dtype=float)
    d = np.where(np.abs(d) < 1e-12, 0.0, d)
    n = len(d)
    if n < 2:
        return None
    mean = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(n)
    if se == 0:
        return Difference(mean, mean, mean, n, True)
    half = _t(n - 1) * se
    return Difference(mean, mean - half, mean + half, n, True)
