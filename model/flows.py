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


def balance_flows(
    gravity: np.ndarray,
    row_totals: np.ndarray,
    col_totals: np.ndarray,
    iterations: int = 5000,
    tol: float = 1e-7,
) -> np.ndarray:
    """Doubly-constrained gravity model (iterative proportional fitting), per service.

    Returns flows F[i,p,s] = G[i,p,s] a[i,s] b[p,s] with sum_p F = row_totals[i,s]
    (each ICB's cases) and sum_i F = col_totals[p,s] (each provider's base cases),
    to a relative tolerance ``tol`` on the provider totals. Row and column totals
    must agree per service. Ends on the row constraint, so every case is placed.
    """
    b = np.ones(col_totals.shape)
    scale = np.maximum(col_totals, 1e-12)
    for _ in range(iterations):
        rs = np.einsum("ips,ps->is", gravity, b)
        a = np.divide(row_totals, rs, out=np.zeros_like(row_totals), where=rs > 0)
        cs = np.einsum("ips,is->ps", gravity, a) * b
        err = np.abs(cs - col_totals) / scale
        if err.max(initial=0.0) < tol:
            break
        b = np.divide(col_totals * b, cs, out=np.zeros_like(col_totals), where=cs > 0)
    return gravity * a[:, None, :] * b[None, :, :]


def shares(weights: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Each ICB's split of a service's cases over providers: weights x usable, normalised.

    ``usable[p,s]`` marks open lines (or ``usable[i,p,s]`` per ICB). A service with no
    usable provider for an ICB gets all-zero shares (its cases become unmet need).
    """
    w = weights * (usable if usable.ndim == 3 else usable[None, :, :])
    tot = w.sum(axis=1, keepdims=True)
    return np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)


def cap_and_reroute(
    volume: np.ndarray, capacity: np.ndarray, weights: np.ndarray, passes: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Deliver contracted volume V[i,p,s] within capacity[p,s].

    Where a provider's load exceeds its capacity every contract there is scaled
    down pro rata; the overflow is offered (up to ``passes`` times) to providers of
    the same service with spare capacity, split by the gravity ``weights``.
    Returns (delivered[i,p,s], unplaced[i,s]).
    """
    delivered = np.zeros_like(volume)
    lost = np.zeros(volume.shape[::2])  # (I, S): cases with nowhere to go
    pending = volume
    spare = capacity.copy()
    for k in range(passes + 1):
        load = pending.sum(axis=0)
        factor = np.divide(spare, load, out=np.ones_like(load), where=load > spare)
        factor = np.minimum(factor, 1.0)
        placed = pending * factor[None, :, :]
        delivered += placed
        spare = np.maximum(spare - placed.sum(axis=0), 0.0)
        overflow = (pending - placed).sum(axis=1)  # (I, S)
        if k == passes or overflow.sum() <= 1e-12:
            return delivered, lost + overflow
        split = shares(weights, spare > 1e-9)
        nowhere = split.sum(axis=1) <= 0
        lost += np.where(nowhere, overflow, 0.0)
        pending = overflow[:, None, :] * split
    return delivered, lost  # pragma: no cover
