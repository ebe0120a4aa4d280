"""Patient flows: distances, the base-year gravity model and re-routing. Pure numpy.

Arrays are indexed ICB x provider x service (``I, P, S``). Nothing here knows about
agents or Mesa.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0
# Straight-line to road distance. Assumption: a common rule of thumb for UK road
# networks is 1.2-1.4 times the crow-fly distance; 1.3 is used.
ROAD_FACTOR = 1.3


def distances_km(lat_a, lon_a, lat_b, lon_b) -> np.ndarray:
    """Approximate road distance (km) between every point of A and every point of B."""
    la1 = np.radians(np.asarray(lat_a))[:, None]
    lo1 = np.radians(np.asarray(lon_a))[:, None]
    la2 = np.radians(np.asarray(lat_b))[None, :]
    lo2 = np.radians(np.asarray(lon_b))[None, :]
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    crow = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
    # Patients living in the same place still travel: ~5 km minimum within an ICB.
    return np.maximum(crow * ROAD_FACTOR, 5.0)


def gravity_weights(dist: np.ndarray, reach_km: np.ndarray, offered: np.ndarray) -> np.ndarray:
    """Distance-decay weights G[i,p,s] = exp(-d[i,p] / reach[s]) where provider p offers s."""
    g = np.exp(-dist[:, :, None] / reach_km[None, None, :])
    return g * offered[None, :, :]


def accessibility(gravity: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Capacity within reach of each ICB, per service: A[i,s] = sum_p G[i,p,s] cap[p,s]."""
    return np.einsum("ips,ps->is", gravity, capacity)


class LineIndex:
    """The offered (provider, service) lines, K of them, and sums over them.

    Flows are stored compressed as (I, K) arrays: ICB x offered line. Most of a dense
    (I, P, S) array would be zeros (a provider offers a few of the service lines),
    so this keeps every round's arithmetic ~3x smaller.
    """

    def __init__(self, offered: np.ndarray):
        self.P, self.S = offered.shape
        if not offered.any(axis=0).all():
            raise ValueError("every service needs at least one provider")
        # Lines sorted by service, so sums over a service's providers are contiguous.
        self.s, self.p = np.nonzero(offered.T)
        self.K = len(self.p)
        self.starts = np.searchsorted(self.s, np.arange(self.S))
        self.counts = np.diff(np.append(self.starts, self.K))  # lines per service

    def span(self, s: int) -> tuple[int, int]:
        """The lines of service s are ``[a, b)`` (lines are sorted by service)."""
        return int(self.starts[s]), int(self.starts[s + 1]) if s + 1 < self.S else self.K

    def by_service(self, x: np.ndarray) -> np.ndarray:
        """Sum an (I, K) array over providers: (I, S)."""
        return np.add.reduceat(x, self.starts, axis=-1)

    def spread(self, x: np.ndarray) -> np.ndarray:
        """Spread a (..., S) array over each service's lines: (..., K), the same as ``x[..., self.s]``
        (lines are sorted by service, so this is a repeat, several times faster than a gather)."""
        return np.repeat(x, self.counts, axis=-1)

    def pick(self, x: np.ndarray) -> np.ndarray:
        """Compress a (..., P, S) array to (..., K)."""
        return x[..., self.p, self.s]

    def dense(self, x: np.ndarray) -> np.ndarray:
        """Expand a (..., K) array to (..., P, S), zeros where a line is not offered."""
        out = np.zeros(x.shape[:-1] + (self.P, self.S))
        out[..., self.p, self.s] = x
        return out


def shares(weights: np.ndarray, usable: np.ndarray, lines: LineIndex) -> np.ndarray:
    """Each ICB's split of a service's cases over its providers: weights x usable, normalised.

    ``weights`` is (I, K); ``usable`` marks open lines, (K,) or (I, K). A service with
    no usable provider for an ICB gets all-zero shares (its cases become unmet need).
    """
    w = weights * usable
    tot = lines.spread(lines.by_service(w))
    return np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)


def _sum_by_service(x: np.ndarray, cols_s: np.ndarray, n_services: int) -> np.ndarray:
    """Sum an (I, n) array of listed lines by service, (I, S); ``cols_s`` (the lines' services) is sorted."""
    out = np.zeros((x.shape[0], n_services))
    if len(cols_s):
        first = np.flatnonzero(np.concatenate(([True], cols_s[1:] != cols_s[:-1])))
        out[:, cols_s[first]] = np.add.reduceat(x, first, axis=1)
    return out


def cap_and_reroute(
    volume: np.ndarray, capacity: np.ndarray, weights: np.ndarray, lines: LineIndex, passes: int = 2,
    usable: np.ndarray | None = None, load: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Deliver contracted volume V[i,k] within capacity[k].

    Where a line's load exceeds its capacity every contract there is scaled down
    pro rata; the overflow is offered (up to ``passes`` times) to the lines of the
    same service with spare capacity, split by the gravity ``weights`` (times ``usable``, a (K,)
    mask of lines that may take patients, when given; ``load`` is ``volume.sum(axis=0)`` when the
    caller has it).
    Returns (delivered[i,k], unplaced[i,s]). Only the overloaded lines and the lines
    that receive their overflow are touched (the rest is delivered as contracted).
    """
    I, S = volume.shape[0], lines.S
    load = volume.sum(axis=0) if load is None else load
    over = load > capacity
    lost = np.zeros((I, S))
    delivered = volume.copy()
    if not over.any():
        return delivered, lost
    spare = np.maximum(capacity - load, 0.0).astype(float)
    oc = np.flatnonzero(over)
    factor = capacity[oc] / load[oc]
    overflow = _sum_by_service(delivered[:, oc] * (1.0 - factor), lines.s[oc], S)  # (I, S)
    delivered[:, oc] *= factor
    spare[oc] = 0.0
    for _ in range(passes):
        busy = overflow.any(axis=0)
        if not busy.any():
            break
        # Lines of the services with overflow that still have room (sorted by service, as lines are).
        recv = np.flatnonzero(busy[lines.s] & (spare > 1e-9))
        rs = lines.s[recv]
        w = weights[:, recv] if usable is None else weights[:, recv] * usable[recv]
        tot = _sum_by_service(w, rs, S)
        nowhere = busy[None, :] & (tot <= 0)
        lost += np.where(nowhere, overflow, 0.0)
        if not len(recv):
            overflow = np.zeros((I, S))
            break
        inv = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot > 0)
        pending = (overflow * inv)[:, rs] * w
        load = pending.sum(axis=0)
        full = load > spare[recv]
        fac = np.where(full, spare[recv] / np.where(full, load, 1.0), 1.0)
        delivered[:, recv] += pending * fac
        spare[recv] = np.maximum(spare[recv] - load * fac, 0.0)
        fc = np.flatnonzero(full)
        overflow = _sum_by_service(pending[:, fc] * (1.0 - fac[fc]), rs[fc], S)
    lost += overflow
    return delivered, lost


def balance_flows(
    gravity: np.ndarray,
    row_totals: np.ndarray,
    col_totals: np.ndarray,
    lines: LineIndex,
    tol: float = 1e-5,
    iterations: int = 20000,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Doubly-constrained gravity model (iterative proportional fitting) on (I, K) arrays.

    Returns (flows F[i,k], provider factors b[k]) with F = G[i,k] a[i,s(k)] b[k],
    sum over a service's lines of F = row_totals[i,s] (each ICB's cases, exact) and
    sum over ICBs of F = col_totals[k] (each provider line's base cases) to a relative
    tolerance ``tol``. ``start`` warm-starts b (e.g. from a nearby solution).
    """
    b = np.ones(lines.K) if start is None else start.copy()
    scale = np.maximum(col_totals, 1e-12)
    for _ in range(iterations):
        rs = lines.by_service(gravity * b)
        a = np.divide(row_totals, rs, out=np.zeros_like(row_totals), where=rs > 0)
        cs = (gravity * lines.spread(a)).sum(axis=0) * b
        if (np.abs(cs - col_totals) / scale).max(initial=0.0) < tol:
            break
        b = np.divide(col_totals * b, cs, out=np.zeros_like(col_totals), where=cs > 0)
    rs = lines.by_service(gravity * b)  # end on the row constraint: every case is placed
    a = np.divide(row_totals, rs, out=np.zeros_like(row_totals), where=rs > 0)
    return gravity * lines.spread(a) * b, b
