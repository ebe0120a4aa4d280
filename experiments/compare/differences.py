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

__all__ = ["Difference", "paired_difference", "welch_difference", "reference_scenario", "common_seeds", "verdict",
           "interval_numbers", "number", "yearly_differences", "VERDICTS",
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
    if "replicate" in f.columns:  # a table read without it (e.g. only point and scenario) just gets draw
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


@functools.lru_cache(maxsize=256)
def _t(df: float) -> float:
    """The t quantile of a two-sided ``CONFIDENCE`` interval with ``df`` degrees of freedom: the function
    ``scipy.stats.t.ppf`` calls (``scipy.special.stdtrit``, the same numbers to the bit), without importing
    ``scipy.stats`` (about 0.7 s in every process that computes an interval: the report's, each worker
    drawing figures)."""
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + CONFIDENCE / 2))


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
    return _paired(reps[in_a], values[in_a], reps[in_b], values[in_b])


def _paired(a_rep, a_val, b_rep, b_val) -> Difference | None:
    """The paired difference of runs ``a`` and ``b`` (replicates and values, no NaN), joined on replicate."""
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


# --------------------------------------------------------------------------- verdicts and their numbers
VERDICTS = {
    "same": "the same in every run",
    "negligible": "negligible (smaller than the measure's resolution)",
    "higher": "higher",
    "lower": "lower",
    "unclear": "no clear difference (the interval includes zero)",
}


def verdict(name: str, d: Difference) -> str:
    """``same``, ``negligible``, ``higher``, ``lower`` or ``unclear`` for ``d`` of measure ``name``.

    A difference smaller than the measure's resolution (the smallest difference that matters,
    ``Measure.min_difference`` in the registry, in the unit shown) is negligible whatever its
    interval; otherwise the verdict is the interval's: higher or lower when it excludes zero.
    """
    from commissim.model.measures import MEASURE_BY_NAME

    if d.estimate == 0 and d.low == 0 and d.high == 0:
        return "same"
    m = MEASURE_BY_NAME.get(name)
    scale, res = (m.scale, m.min_difference) if m is not None else (1.0, 0.0)
    if abs(d.estimate * scale) < res:
        return "negligible"
    if d.low > 0:
        return "higher"
    if d.high < 0:
        return "lower"
    return "unclear"


def _format(fmt: str, decimals: int, signed: bool) -> str:
    import re

    fmt = re.sub(r"\.(\d+)([fe%])", lambda mt: f".{decimals}{mt.group(2)}", fmt)
    if signed and "+" not in fmt:
        fmt = fmt.replace("{:", "{:+")
    return fmt


def _looks_zero(text: str) -> bool:
    return not any(ch in "123456789" for ch in text)


def number(name: str, x: float, *, signed: bool = False, decimals: int | None = None) -> str:
    """The scaled value of measure ``name`` in its format (``decimals`` digits when given); a value that
    shows as zero is written without a sign."""
    from commissim.model.measures import MEASURE_BY_NAME

    m = MEASURE_BY_NAME.get(name)
    fmt, scale = (m.fmt, m.scale) if m is not None else ("{:.3f}", 1.0)
    if decimals is not None:
        fmt = _format(fmt, decimals, signed)
    elif signed and "+" not in fmt:
        fmt = fmt.replace("{:", "{:+")
    text = fmt.format(x * scale)
    return text.lstrip("+-") if _looks_zero(text) else text


def interval_numbers(name: str, d: Difference, max_extra: int = 4) -> tuple[str, str, str]:
    """(estimate, low, high) as text, with as many digits as it takes for every non-zero number to show
    as non-zero (at most ``max_extra`` more than the measure's format), so that the printed interval
    agrees with the verdict: an interval that excludes zero never shows a 0 end."""
    from commissim.model.measures import MEASURE_BY_NAME

    m = MEASURE_BY_NAME.get(name)
    base = m.decimals if m is not None else 3
    for decimals in range(base, base + max_extra + 1):
        texts = tuple(number(name, x, signed=True, decimals=decimals) for x in (d.estimate, d.low, d.high))
        ends_ok = all(not _looks_zero(t) for t, x in zip(texts[1:], (d.low, d.high)) if x != 0)
        if ends_ok:
            break
    return texts


def yearly_differences(series, measure: str, scenario: str, ref: str, *, paired: bool = True):
    """``scenario - ref`` for a measure of the series in every year: a DataFrame with ``round``, ``year``,
    ``estimate``, ``low``, ``high`` (90% interval) and ``n`` (paired by replicate, or Welch)."""
    import pandas as pd

    cols = ["replicate", "round", "year", measure]
    scen = series["scenario"].to_numpy()
    arrays = {c: series[c].to_numpy() for c in cols}
    ok = ~np.logical_or.reduce([pd.isna(v) for v in arrays.values()])  # rows with every column (dropna)
    rep, rnd, year = arrays["replicate"], arrays["round"], arrays["year"]
    val = arrays[measure].astype(float)
    a = np.flatnonzero((scen == scenario) & ok)
    b_rows: dict = {}
    for i in np.flatnonzero((scen == ref) & ok).tolist():  # round -> the reference's rows, in their order
        b_rows.setdefault(rnd[i], []).append(i)
    groups: dict = {}
    for i in a.tolist():  # (round, year) -> the scenario's rows, in their order
        groups.setdefault((rnd[i], year[i]), []).append(i)
    rows = []
    for (r, y) in sorted(groups):  # by round and year, as pandas' groupby orders them
        ia, ib = np.array(groups[(r, y)], dtype=np.intp), np.array(b_rows.get(r, ()), dtype=np.intp)
        d = _paired(rep[ia], val[ia], rep[ib], val[ib]) if paired else welch_difference(val[ia], val[ib])
        if d is not None:
            rows.append({"round": int(r), "year": y, "estimate": d.estimate, "low": d.low, "high": d.high, "n": d.n})
    return pd.DataFrame(rows, columns=["round", "year", "estimate", "low", "high", "n"])


def with_unit(name: str, text: str, *, difference: bool = True) -> str:
    """A number (as text) with the measure's unit: ``+£25m``, ``-3.5 pp``, ``+0.4 providers``, ``0.061``.
    Differences of shares and percentage changes are in percentage points (``pp``)."""
    from commissim.model.measures import MEASURE_BY_NAME

    m = MEASURE_BY_NAME.get(name)
    unit = m.unit if m is not None else ""
    if unit.startswith("£"):
        sign = text[0] if text[:1] in "+-" else ""
        return f"{sign}£{text[len(sign):]}{unit[1:]}"
    if unit.startswith("%"):
        return f"{text} pp{unit[1:]}" if difference else f"{text}{unit}"
    return f"{text} {unit}" if unit else text


def when(name: str, final_year: str, first_year: str | None = None) -> str:
    """When a measure's value is: ``in 2032-33`` for a final-year value; ``(2023-24 to 2032-33)`` for a
    run total or peak (a summary measure whose label says peak, whole run or so far)."""
    from commissim.model.measures import MEASURE_BY_NAME

    m = MEASURE_BY_NAME.get(name)
    label = (m.label if m is not None else name).lower()
    if any(w in label for w in ("peak", "whole run", "so far", "over the run")) or name.startswith("cumulative_"):
        return f"({first_year} to {final_year})" if first_year else f"(the whole run to {final_year})"
    return f"in {final_year}"
