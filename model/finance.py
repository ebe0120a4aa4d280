"""Provider and system finance rules: pure numpy functions the round calls (ODD, "Provider finance").

Money is in £m. A trust's year:

    surplus = specialised income + other income + support income - specialised costs - other costs
    cash   += surplus (+ regional stabilisation payments)

Specialised costs are per line: fixed costs that follow the planned capacity up at once and down
at ``cost_shed_rate`` a year, plus variable costs per case; both grow with the trust's cost index
(input inflation less its efficiency). Other (non-specialised) income grows with ICB core
allocations; other costs grow with the same activity and with the trust's cost index. Below a
cash floor a trust gets revenue support (public dividend capital) with conditions.
"""

from __future__ import annotations

import numpy as np

# Thresholds (deficit as a share of turnover) for the destabilisation curve in reports.
DESTAB_THRESHOLDS = (0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.10)


def threshold_label(x: float) -> str:
    """0.005 -> '0p5pct', 0.02 -> '2pct' (names of the curve's summary measures)."""
    pct = round(x * 100, 3)
    text = f"{pct:g}".replace(".", "p")
    return f"{text}pct"


def share_support(total: float, deficit: np.ndarray) -> np.ndarray:
    """National support (£m) shared over trusts in proportion to last year's deficit, none above its deficit.

    ``deficit`` >= 0 (0 for trusts in surplus). Money beyond every deficit is not paid (the support
    brought plans to break-even, NHS England board 3 Oct 2024).
    """
    d = np.maximum(deficit, 0.0)
    tot = float(d.sum())
    if total <= 0 or tot <= 0:
        return np.zeros_like(d)
    return d * min(1.0, total / tot)


def cash_support(cash: np.ndarray, opex: np.ndarray, floor_days: float) -> np.ndarray:
    """Revenue support (£m) that brings each trust's cash back to the floor (0 where it is above)."""
    floor = floor_days / 365.0 * np.maximum(opex, 0.0)
    return np.maximum(floor - cash, 0.0)


def update_streaks(streak: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Consecutive years with a deficit worse than each threshold: ``streak`` is (T, P)."""
    worse = margin[None, :] < -np.asarray(DESTAB_THRESHOLDS)[:, None]
    return np.where(worse, streak + 1, 0)


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal)."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    if n == 0 or x.sum() <= 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)
