"""Contracting rules: how a commissioner turns a budget shortfall into contract cuts and a surplus
into extra activity, given how strongly it protects each contract. Pure numpy.

A *contract* is one (ICB, provider, service) cell with a planned value > 0. Every contract has a
commissioner (its ``group``: NHS England nationally, a region, an ICB, a joint committee, a pan-ICB
pool or a merged ICB) and a *protection* theta >= 0: how much the decision maker wants to spare it.
NHS England protects no contract more than another (theta = 0: even cuts). An ICB under financial
stress protects contracts with providers in its own system, in proportion to the stress and to the
share of the money that stays in the system (the provider's contribution margin); see
``CommissioningModel._protection`` for who decides and who may veto.

Both rules solve one equation per commissioner with a *level* lambda (water-filling):

* cuts:   cut share f_k = clip(lambda - theta_k, 0, cap_k), sum_k f_k v_k = shortfall;
* growth: funded share u_k = clip(lambda + theta_k, 0, 1), sum_k u_k h_k = money available.

With every theta equal this is an even cut (or an even share of growth); the more a contract is
protected, the less of the cut it takes (and the more of the growth it gets). This is the
minimiser of an access loss quadratic in the cut share plus a linear system-finance term
(ODD, "Contracting").
"""

from __future__ import annotations

import numpy as np


def _bincount_sum(group: np.ndarray, n_groups: int):
    return lambda x: np.bincount(group, weights=x, minlength=n_groups)


def water_fill(weight: np.ndarray, group: np.ndarray, target: np.ndarray, offset: np.ndarray, upper: np.ndarray,
               n_groups: int, iterations: int = 30, group_sum=None) -> np.ndarray:
    """Shares s_k = clip(lambda_g + offset_k, 0, upper_k) with sum over group g of s_k weight_k = target_g.

    ``target`` must be reachable (0 <= target_g <= sum of upper_k weight_k); the caller clips it, and
    ``upper`` is the same for every contract of a group. Contracts with offset 0 (most of them: every
    contract the decision maker does not protect) enter each group's equation as one aggregate, so the
    bisection on lambda runs over the protected contracts only; the small residual is then spread over
    the contracts strictly inside their bounds, so every group's total is exact. ``group_sum`` may give a
    faster sum of a full-length array by group than ``numpy.bincount``.
    """
    G = n_groups
    gsum = group_sum or _bincount_sum(group, G)
    w_tot = gsum(weight)
    tgt = np.clip(target, 0.0, None)
    up_g = np.zeros(G)
    up_g[group[:1]] = upper[:1]
    up_g = np.maximum(up_g, 0.0)
    even = np.divide(tgt, w_tot, out=np.zeros(G), where=w_tot > 0)
    nz = np.nonzero(offset)[0]
    if len(nz):
        nz = nz[weight[nz] > 0]
    tilted = np.zeros(G, dtype=bool)
    if len(nz):
        tilted = (np.bincount(group[nz], minlength=G) > 0) & (tgt > 0)
    if not tilted.any():
        return np.minimum(even[group], upper)
    nz = nz[tilted[group[nz]]]
    w, g, o, up = weight[nz], group[nz], offset[nz], upper[nz]
    up_all = np.zeros(G)
    up_all[g] = up  # the common upper bound of each tilted group
    w0 = w_tot - np.bincount(g, weights=w, minlength=G)
    lo = np.full(G, -float(max(o.max(), 0.0)))
    hi = np.full(G, float(up.max()) - float(min(o.min(), 0.0)))
    for _ in range(iterations):
        lam = 0.5 * (lo + hi)
        got = w0 * np.clip(lam, 0.0, up_all) + np.bincount(g, weights=np.clip(lam[g] + o, 0.0, up) * w, minlength=G)
        low = got < tgt
        lo = np.where(low, lam, lo)
        hi = np.where(low, hi, lam)
    lam = np.where(tilted, hi, 0.0)
    base = np.clip(lam, 0.0, up_all)  # share of every unprotected contract of a tilted group
    s = np.clip(lam[g] + o, 0.0, up)
    got = w0 * base + np.bincount(g, weights=s * w, minlength=G)
    # Exact totals: spread the residual over contracts strictly inside their bounds.
    free_p = (s > 1e-12) & (s < up - 1e-12)
    free0 = (base > 1e-12) & (base < up_all - 1e-12)
    free_w = w0 * free0 + np.bincount(g, weights=np.where(free_p, w, 0.0), minlength=G)
    adj = np.divide(tgt - got, free_w, out=np.zeros(G), where=free_w > 0)
    per_group = np.where(tilted, np.clip(base + adj * free0, 0.0, up_all), even)
    share = np.minimum(per_group[group], upper)
    share[nz] = np.where(free_p, np.clip(s + adj[g], 0.0, up), s)
    return share


def priority_cuts(value: np.ndarray, group: np.ndarray, shortfall: np.ndarray, protect: np.ndarray,
                  cap: np.ndarray, n_groups: int, group_sum=None) -> tuple[np.ndarray, np.ndarray]:
    """Cut share of each contract, and whether each commissioner hit the contracts' caps.

    value[k]      planned value of contract k (£m)
    group[k]      commissioner of contract k
    shortfall[g]  what commissioner g must cut (>= 0)
    protect[k]    protection theta_k >= 0 (0 everywhere = even cuts)
    cap[k]        the most contract k may be cut (share) while others can take the cut
                  (service specifications); if every contract is at its cap, the rest is cut
                  evenly from what remains (the budget binds whatever the rules say).
    """
    G = n_groups
    gsum = group_sum or _bincount_sum(group, G)
    room = gsum(value * cap)
    first = np.minimum(shortfall, room)
    share = water_fill(value, group, first, -protect, cap, G, group_sum=gsum)
    over = np.maximum(shortfall - room, 0.0)
    capped = over > 1e-9
    if capped.any():
        rest = value * (1.0 - cap)
        rest_tot = gsum(rest)
        extra = np.divide(np.minimum(over, rest_tot), rest_tot, out=np.zeros(G), where=capped & (rest_tot > 0))
        share = share + (1.0 - cap) * extra[group]
    return share, capped


def priority_growth(headroom: np.ndarray, group: np.ndarray, money: np.ndarray, protect: np.ndarray,
                    n_groups: int, group_sum=None) -> np.ndarray:
    """Funded share (0..1) of each contract's unmet-need headroom, given each commissioner's spare money.

    Protected contracts are funded first; money beyond all headroom stays unspent.
    """
    G = n_groups
    gsum = group_sum or _bincount_sum(group, G)
    tot = gsum(headroom)
    target = np.minimum(np.maximum(money, 0.0), tot)
    return water_fill(headroom, group, target, protect, np.ones_like(headroom), G, group_sum=gsum)
