"""What every figure of the experiments shares, so that none can mislead.

- Value axes always include zero (counts and shares start at zero; a measure that can be
  negative gets a zero line): a gap of 0.002 in a Gini or 0.3 points in a share is drawn as the
  small gap it is. Differences are drawn as differences, with their intervals, on their own axes.
- Labels and units come from the measure registry (``commissim.model.measures.MEASURES``);
  shares are shown as % (the registry's ``scale``).
- Time runs along financial years (``2022-23`` ...), labelled as such.
- Titles state what was run: seeds, years and any parameter overrides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["measure", "value_label", "difference_unit", "difference_label", "include_zero", "year_axis",
           "overrides_text", "wrap"]


def measure(name: str):
    from commissim.model.measures import MEASURE_BY_NAME

    return MEASURE_BY_NAME[name]


def value_label(name: str) -> str:
    """``Label (unit)`` of a measure, e.g. ``Out-of-area share of spend (%)``."""
    return measure(name).axis_label


def difference_unit(name: str) -> str:
    """The unit of a difference of the measure: percentage points for shares and % changes."""
    unit = measure(name).unit
    if unit.startswith("%"):
        return "percentage points" + unit[1:]
    return unit


def difference_label(name: str, ref: str) -> str:
    unit = difference_unit(name)
    return f"difference from {ref}" + (f" ({unit})" if unit else "")


def include_zero(ax, values: Iterable[float] | None = None, *, axis: str = "y", pad: float = 0.06) -> None:
    """Make the value axis include zero (counts and shares start at zero), with a little headroom;
    draw a zero line when the data go below zero."""
    vals = np.asarray([v for v in (values if values is not None else []) if v is not None and np.isfinite(v)],
                      dtype=float)
    if vals.size:  # the data, not the autoscaled limits (their margins would dip below zero)
        lo, hi = float(vals.min()), float(vals.max())
    else:
        lo, hi = (ax.get_ylim() if axis == "y" else ax.get_xlim())
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        hi = lo + 1.0
    span = hi - lo
    lo2 = lo - pad * span if lo < 0 else 0.0
    hi2 = hi + pad * span if hi > 0 else 0.0
    if axis == "y":
        ax.set_ylim(lo2, hi2)
        if lo < 0:
            ax.axhline(0, color="black", lw=0.8, zorder=1)
    else:
        ax.set_xlim(lo2, hi2)
        if lo < 0:
            ax.axvline(0, color="black", lw=0.8, zorder=1)


def year_axis(ax, rounds: Sequence[int], labels: Sequence[str], *, label: bool = True, every: int | None = None,
              fontsize: float = 8) -> None:
    """Financial years along the x axis (``round`` positions, ``2023-24`` labels); the first and the last
    year are always labelled."""
    rounds, labels = list(rounds), list(labels)
    step = every or (1 if len(rounds) <= 8 else 2)
    ticks = list(range(0, len(rounds), step))
    if rounds and ticks[-1] != len(rounds) - 1:  # the last year is always labelled (and the first)
        if len(rounds) - 1 - ticks[-1] < step / 2 and len(ticks) > 1:
            ticks[-1] = len(rounds) - 1
        else:
            ticks.append(len(rounds) - 1)
    ax.set_xticks([rounds[i] for i in ticks])
    ax.set_xticklabels([labels[i] for i in ticks], rotation=45, ha="right", fontsize=fontsize)
    if rounds:
        ax.set_xlim(rounds[0] - 0.3, rounds[-1] + 0.3)
    if label:
        ax.set_xlabel("financial year", fontsize=fontsize + 1)


def overrides_text(overrides: dict[str, Any] | None) -> str:
    """``overrides: system_weight=10, growth_cap=0.3`` or ``scenario defaults (no overrides)``."""
    if not overrides:
        return "scenario defaults (no overrides)"
    return "overrides: " + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in overrides.items())


def wrap(text: str, width: int = 110) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if len(text) > width else text
