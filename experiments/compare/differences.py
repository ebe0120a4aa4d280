"""Differences between scenarios, with their intervals: what the report and the figures both say.

A comparison runs every scenario with common random numbers (replicate r of every scenario has
the same seed), so a scenario's difference from the reference scenario is paired by replicate:
the mean of the per-replicate differences, with a t interval of that mean (n - 1 degrees of
freedom). A folder whose scenarios did not share their seeds falls back to Welch's t interval of
the difference in means. Both intervals are 90%: they reflect the model's random variation
only, not the uncertainty of its assumptions (the sensitivity sweeps address that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Difference", "paired_difference", "welch_difference", "reference_scenario", "common_seeds",
           "CONFIDENCE", "posterior_pairs", "spread_sources", "DRAW_STRIDE"]

DRAW_STRIDE = 1_000_000  # with --posterior, a run's pairing key is draw * DRAW_STRIDE + replicate

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
    """Whether the folder's scenarios shared their seeds (replicate r: one seed for every scenario; with
    ``--posterior``, draw k and replicate r: one parameter set and one seed for every scenario)."""
    return bool(manifest.get("config", {}).get("common_seeds")) or bool(manifest.get("posterior"))


def posterior_pairs(frame, manifest: dict):
    """A table of a ``--posterior`` comparison with ``draw`` added and ``replicate`` made the pairing key of a
    run (its draw and its seed: ``draw * DRAW_STRIDE + replicate``); other tables are returned as they are."""
    draw_of = manifest.get("posterior_draw_of_point")
    if not draw_of or frame is None or "point" not in getattr(frame, "columns", ()):
        return frame
    f = frame.copy()
    f["draw"] = f["point"].map({int(k): int(v) for k, v in draw_of.items()})
    f["seed_replicate"] = f["replicate"]
    f["replicate"] = f["draw"] * DRAW_STRIDE + f["replicate"]
    return f


def spread_sources(summaries, measure: str, scenario: str, ref: str) -> dict | None:
    """How much of the spread of ``scenario - ref`` (paired by draw and seed) comes from the parameters (between
    posterior draws) and how much from the seeds (within a draw): a one-way random-effects split of the variance,
    the between-draw part corrected for the seed noise its draw means still carry. None without draws or with
    fewer than 2 draws; the seed part is None with 1 seed per draw (it cannot be told apart)."""
    if "draw" not in summaries.columns:
        return None
    cols = ["draw", "seed_replicate", "replicate", measure]
    a = summaries.loc[summaries["scenario"] == scenario, cols].dropna()
    b = summaries.loc[summaries["scenario"] == ref, ["replicate", measure]].dropna()
    both = a.merge(b, on="replicate", suffixes=("_a", "_b"))
    if both.empty or both["draw"].nunique() < 2:
        return None
    both["d"] = both[f"{measure}_a"] - both[f"{measure}_b"]
    g = both.groupby("draw")["d"]
    total = float(both["d"].var(ddof=1)) if len(both) > 1 else 0.0
    per_draw = g.size()
    if per_draw.min() < 2:
        return {"total_sd": math.sqrt(max(total, 0.0)), "parameters": None, "seeds": None, "draws": int(g.ngroups),
                "seeds_per_draw": int(per_draw.min())}
    within = float(g.var(ddof=1).mean())
    between = max(float(g.mean().var(ddof=1)) - within / float(per_draw.mean()), 0.0)
    parts = between + within
    return {"total_sd": math.sqrt(max(total, 0.0)), "parameters": between / parts if parts > 0 else None,
            "seeds": within / parts if parts > 0 else None, "draws": int(g.ngroups),
            "seeds_per_draw": int(per_draw.min())}


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
    a = summaries.loc[summaries["scenario"] == scenario, ["replicate", measure]].dropna()
    b = summaries.loc[summaries["scenario"] == ref, ["replicate", measure]].dropna()
    if not paired:
        return welch_difference(a[measure].to_numpy(), b[measure].to_numpy())
    both = a.merge(b, on="replicate", suffixes=("_a", "_b"))
    d = (both[f"{measure}_a"] - both[f"{measure}_b"]).to_numpy(dtype=float)
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
