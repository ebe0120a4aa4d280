"""Contracting rules: how a commissioner turns a budget shortfall into contract cuts,
and a budget surplus into extra activity. Pure numpy over compressed contract arrays.

A *contract* is one (ICB, provider, service) cell with expected value > 0. Every
contract belongs to one commissioner (its ``group``): NHS England nationally, a
region, an ICB, a joint committee or a pan-ICB pool.
"""

from __future__ import annotations

import numpy as np


def allocate_cuts(
    value: np.ndarray,
    group: np.ndarray,
    shortfall: np.ndarray,
    weight: np.ndarray,
    max_cut: np.ndarray,
    iterations: int = 12,
    total: np.ndarray | None = None,
) -> np.ndarray:
    """Split each commissioner's ``shortfall`` (£) over its contracts.

    value[k]     expected value of contract k (£)
    group[k]     commissioner of contract k (0..G-1)
    shortfall[g] what commissioner g must cut (>= 0)
    weight[k]    relative cut weight (1 = even cuts; out-of-area contracts get more under home bias)
    max_cut[k]   the most contract k may be cut (£) before other contracts take the rest

    Water-filling: cuts are proportional to weight x value, capped at ``max_cut``; what
    a capped contract cannot take is spread over the others. If every contract of a
    commissioner is at its cap, the remainder is cut evenly up to the full value (the
    budget binds whatever the rules say). Returns cut[k] with 0 <= cut <= value and
    sum over a commissioner = min(shortfall, its total value). ``total`` (each
    commissioner's total contract value) may be passed when already known.
    """
    G = len(shortfall)
    if total is None:
        total = np.bincount(group, weights=value, minlength=G)
    remaining = np.minimum(np.maximum(shortfall, 0.0), total)
    cut = np.zeros_like(value)
    for cap, w in ((np.minimum(max_cut, value), weight), (value, np.ones_like(weight))):
        for _ in range(iterations):
            if remaining.max(initial=0.0) <= 1e-6:
                return cut
            room = cap - cut
            open_ = room > 1e-12
            wv = np.where(open_, w * value, 0.0)
            denom = np.bincount(group, weights=wv, minlength=G)
            active = denom > 0
            if not active[group].any():
                break
            scale = np.divide(remaining, denom, out=np.zeros(G), where=active)
            want = wv * scale[group]
            add = np.minimum(want, room)
            cut += add
            if not (add < want).any():  # no cap reached: every commissioner cut what it had to
                remaining = np.where(active, 0.0, remaining)
            else:
                remaining = np.maximum(remaining - np.bincount(group, weights=add, minlength=G), 0.0)
    return cut


def home_bias_weight(out_of_area: np.ndarray, home_bias: np.ndarray) -> np.ndarray:
    """Cut weight 1/(1-h) for out-of-area contracts, 1 for in-area ones (h in [0, 1))."""
    h = np.clip(home_bias, 0.0, 0.999)
    return np.where(out_of_area, 1.0 / (1.0 - h), 1.0)


def uplift_fraction(surplus: np.ndarray, headroom_cost: np.ndarray) -> np.ndarray:
    """Share of each commissioner's unmet-need headroom it can fund from a surplus."""
    return np.clip(np.divide(surplus, headroom_cost, out=np.zeros_like(surplus), where=headroom_cost > 0), 0.0, 1.0)
