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


def _levels(w: np.ndarray, g: np.ndarray, o: np.ndarray, up: np.ndarray, target: np.ndarray,
            n_groups: int) -> np.ndarray:
    """Exact level lambda_g of each group with sum_k w_k clip(lambda_g + o_k, 0, up_k) = target_g.

    Each term is piecewise linear in lambda: slope w_k on [-o_k, up_k - o_k], flat elsewhere. Sorting
    the breakpoints of every group once gives the sum at each breakpoint (a running sum of slope x
    gap within the group); lambda is interpolated on the segment where the sum reaches the target.
    Groups whose target is 0 get the lowest breakpoint (every share 0 there, as clip(.) requires).
    """
    G = n_groups
    n = len(w)
    b = np.concatenate([-o, up - o])
    ds = np.concatenate([w, -w])
    grp = np.concatenate([g, g])
    # Breakpoints sorted by group, then by value: a sort by value, then a stable sort by group (a radix sort on
    # small integers; several times faster than ``np.lexsort`` on thousands of contracts). The order of equal
    # breakpoints within a group does not change the level (the gaps between them are 0).
    order = np.argsort(b)
    order = order[np.argsort(grp[order].astype(np.int16 if G < 2**15 else np.int64), kind="stable")]
    b, ds, grp = b[order], ds[order], grp[order]
    bounds = np.searchsorted(grp, np.arange(G + 1))
    starts, ends = bounds[:-1], bounds[1:]
    counts = ends - starts
    csum = np.cumsum(ds)
    slope = csum - np.repeat(np.concatenate(([0.0], csum))[starts], counts)  # slope just after each breakpoint
    gap = np.diff(b, append=b[-1] if n else 0.0)
    gap[ends[counts > 0] - 1] = 0.0  # no gap after a group's last breakpoint
    cinc = np.concatenate(([0.0], np.cumsum(slope * gap)))
    level = cinc[:-1] - np.repeat(cinc[starts], counts)  # the sum at each breakpoint, within its group
    below = np.concatenate(([0], np.cumsum(level < target[grp])))
    cnt = below[ends] - below[starts]  # breakpoints of each group whose sum is still short of the target
    has = (counts > 0) & (cnt > 0)
    lam = np.zeros(G)
    if has.any():
        jj = (starts + cnt - 1)[has]  # the last of them
        lam[has] = b[jj] + (target[has] - level[jj]) / np.where(slope[jj] > 0, slope[jj], 1.0)
    low = (counts > 0) & ~has
    lam[low] = b[starts[low]]
    return lam


def sparse_offsets(offset) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices and values of the non-zero offsets: from a full array, or from a pair
    ``(indices, values)`` that already lists the only places an offset may be non-zero."""
    if isinstance(offset, tuple):
        idx, val = (np.asarray(x) for x in offset)
        keep = val != 0
        return idx[keep], val[keep]
    idx = np.flatnonzero(offset)
    return idx, offset.ravel()[idx]


def water_fill(weight: np.ndarray, group: np.ndarray, target: np.ndarray, offset, upper,
               n_groups: int, group_sum=None, weight_total: np.ndarray | None = None, expand=None) -> np.ndarray:
    """Shares s_k = clip(lambda_g + offset_k, 0, upper_k) with sum over group g of s_k weight_k = target_g.

    ``offset`` is a full array or a sparse pair ``(indices, values)``; ``upper`` is per group (G,), the same for
    every contract of a group, or one number for all.

    ``target`` must be reachable (0 <= target_g <= sum of upper_g weight_k); the caller clips it. Contracts with offset 0 (most of them: every
    contract the decision maker does not protect) enter each group's equation as one aggregate, so the
    level is solved (exactly, ``_levels``) over the protected contracts and one aggregate per group; a
    rounding residual is then spread over the contracts strictly inside their bounds, so every group's
    total is exact. ``group_sum`` may give a faster sum of a full-length array by group than
    ``numpy.bincount``, and ``expand`` a faster ``x[group]`` of a per-group array; ``weight_total`` is that
    sum of ``weight`` when the caller already has it.
    """
    G = n_groups
    gsum = group_sum or _bincount_sum(group, G)
    expand = expand or (lambda x: x[group])
    w_tot = gsum(weight) if weight_total is None else weight_total
    tgt = np.clip(target, 0.0, None)
    even = np.divide(tgt, w_tot, out=np.zeros(G), where=w_tot > 0)
    nz, o = sparse_offsets(offset)
    if len(nz):
        keep = weight[nz] > 0
        nz, o = nz[keep], o[keep]
    tilted = np.zeros(G, dtype=bool)
    if len(nz):
        tilted = (np.bincount(group[nz], minlength=G) > 0) & (tgt > 0)
    up_all = np.broadcast_to(np.asarray(upper, dtype=float), (G,))  # the common upper bound of each group
    if not tilted.any():
        return expand(np.minimum(even, up_all))
    keep = tilted[group[nz]]
    nz, o = nz[keep], o[keep]
    w, g = weight[nz], group[nz]
    up = up_all[g]
    w0 = w_tot - np.bincount(g, weights=w, minlength=G)
    tg = np.flatnonzero(tilted)
    # One aggregate per tilted group for its unprotected contracts (offset 0, weight w0).
    solved = _levels(np.concatenate([w, w0[tg]]), np.concatenate([g, tg]), np.concatenate([o, np.zeros(len(tg))]),
                     np.concatenate([up, up_all[tg]]), tgt, G)
    lam = np.where(tilted, solved, 0.0)
    base = np.clip(lam, 0.0, up_all)  # share of every unprotected contract of a tilted group
    s = np.clip(lam[g] + o, 0.0, up)
    got = w0 * base + np.bincount(g, weights=s * w, minlength=G)
    # Exact totals: spread the rounding residual over contracts strictly inside their bounds.
    free_p = (s > 1e-12) & (s < up - 1e-12)
    free0 = (base > 1e-12) & (base < up_all - 1e-12)
    free_w = w0 * free0 + np.bincount(g, weights=np.where(free_p, w, 0.0), minlength=G)
    adj = np.divide(tgt - got, free_w, out=np.zeros(G), where=free_w > 0)
    per_group = np.where(tilted, np.clip(base + adj * free0, 0.0, up_all), even)
    share = expand(np.minimum(per_group, up_all))
    share[nz] = np.where(free_p, np.clip(s + adj[g], 0.0, up), s)
    return share


def priority_cuts(value: np.ndarray, group: np.ndarray, shortfall: np.ndarray, protect: np.ndarray,
                  cap: np.ndarray, n_groups: int, group_sum=None, expand=None,
                  value_total: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut share of each contract, and whether each commissioner hit the contracts' caps.

    value[k]      planned value of contract k (£m)
    group[k]      commissioner of contract k
    shortfall[g]  what commissioner g must cut (>= 0)
    protect[k]    protection theta_k >= 0 (0 everywhere = even cuts); or a sparse pair (indices, values)
    cap[g]        the most any contract of commissioner g may be cut (share) while others can take the cut
                  (service specifications); if every contract is at its cap, the rest is cut
                  evenly from what remains (the budget binds whatever the rules say).
    value_total   the sum of ``value`` by commissioner, when the caller already has it
    """
    G = n_groups
    gsum = group_sum or _bincount_sum(group, G)
    expand = expand or (lambda x: x[group])
    cap = np.broadcast_to(np.asarray(cap, dtype=float), (G,))
    total = gsum(value) if value_total is None else value_total
    room = total * cap
    first = np.minimum(shortfall, room)
    neg = (protect[0], -np.asarray(protect[1])) if isinstance(protect, tuple) else -protect
    share = water_fill(value, group, first, neg, cap, G, group_sum=gsum, weight_total=total, expand=expand)
    over = np.maximum(shortfall - room, 0.0)
    capped = over > 1e-9
    if capped.any():
        rest_tot = total * (1.0 - cap)
        extra = np.divide(np.minimum(over, rest_tot), rest_tot, out=np.zeros(G), where=capped & (rest_tot > 0))
        share += expand((1.0 - cap) * extra)
    return share, capped


def priority_growth(headroom: np.ndarray, group: np.ndarray, money: np.ndarray, protect: np.ndarray,
                    n_groups: int, group_sum=None, expand=None) -> np.ndarray:
    """Funded share (0..1) of each contract's unmet-need headroom, given each commissioner's spare money.

    Protected contracts are funded first; money beyond all headroom stays unspent.
    """
    G = n_groups
    gsum = group_sum or _bincount_sum(group, G)
    tot = gsum(headroom)
    target = np.minimum(np.maximum(money, 0.0), tot)
    return water_fill(headroom, group, target, protect, 1.0, G, group_sum=gsum, weight_total=tot, expand=expand)
