"""Pure-numpy mechanisms: gravity balancing, capacity and re-routing, cut allocation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from commissim.model.contracting import priority_cuts, priority_growth
from commissim.model.flows import LineIndex, balance_flows, cap_and_reroute, distances_km, gravity_weights, shares


def _world(seed=0, I=5, P=4, S=3):
    r = np.random.default_rng(seed)
    dist = distances_km(r.uniform(50, 55, I), r.uniform(-3, 1, I), r.uniform(50, 55, P), r.uniform(-3, 1, P))
    offered = r.random((P, S)) < 0.8
    offered[0] = True
    g = gravity_weights(dist, np.array([20.0, 80.0, 300.0])[:S], offered)
    return r, dist, offered, g


def test_distances_are_plausible():
    # Leeds to London is about 270 km as the crow flies; x1.3 road factor.
    d = distances_km([53.80], [-1.55], [51.51], [-0.13])
    assert 300 < d[0, 0] < 400
    assert distances_km([52.0], [-1.0], [52.0], [-1.0])[0, 0] == 5.0


def test_balance_flows_matches_both_margins():
    r, dist, offered, g = _world()
    lines = LineIndex(offered)
    cols = lines.pick(r.uniform(10, 100, offered.shape))
    rows = r.uniform(1, 5, (g.shape[0], g.shape[2]))
    rows *= lines.by_service(cols[None, :])[0] / rows.sum(axis=0)
    f, _ = balance_flows(lines.pick(g), rows, cols, lines, tol=1e-9)
    assert (f >= 0).all()
    np.testing.assert_allclose(lines.by_service(f), rows, rtol=1e-9)
    np.testing.assert_allclose(f.sum(axis=0), cols, rtol=1e-6)


def test_line_index_round_trips_and_sums_by_service():
    r, dist, offered, g = _world(2)
    lines = LineIndex(offered)
    assert lines.K == offered.sum()
    x = r.random((5,) + offered.shape) * offered
    xk = lines.pick(x)
    np.testing.assert_allclose(lines.dense(xk), x)
    np.testing.assert_allclose(lines.by_service(xk), x.sum(axis=1))


def test_shares_sum_to_one_and_skip_closed_lines():
    r, dist, offered, g = _world(1)
    lines = LineIndex(offered)
    usable = np.ones(lines.K, dtype=bool)
    usable[0] = False
    sh = shares(lines.pick(g), usable, lines)
    tot = lines.by_service(sh)
    assert np.allclose(tot[tot > 0], 1.0)
    assert (sh[:, 0] == 0).all()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), tightness=st.floats(0.3, 1.5))
def test_capacity_is_never_breached_and_cases_are_conserved(seed, tightness):
    r, dist, offered, g = _world(seed)
    lines = LineIndex(offered)
    vol = lines.pick(r.uniform(0, 50, g.shape) * offered[None])
    cap = vol.sum(axis=0) * tightness
    delivered, unplaced = cap_and_reroute(vol, cap, lines.pick(g), lines)
    assert (delivered >= -1e-12).all()
    assert (delivered.sum(axis=0) <= cap + 1e-6).all()
    np.testing.assert_allclose(lines.by_service(delivered) + unplaced, lines.by_service(vol), rtol=1e-9, atol=1e-9)
    if tightness >= 1.0:  # enough room overall: most overflow is re-routed, not lost
        assert unplaced.sum() <= 0.35 * vol.sum()


@settings(max_examples=100, deadline=None)
@given(
    value=arrays(float, 12, elements=st.floats(0, 100)),
    groups=arrays(np.int64, 12, elements=st.integers(0, 2)),
    shortfall=arrays(float, 3, elements=st.floats(0, 400)),
    protect=arrays(float, 12, elements=st.floats(0, 0.5)),
    capfrac=st.floats(0.01, 1),
)
def test_priority_cuts_invariants(value, groups, shortfall, protect, capfrac):
    share, capped = priority_cuts(value, groups, shortfall, protect, np.full(3, capfrac), 3)
    cut = share * value
    assert (share >= -1e-9).all() and (share <= 1 + 1e-9).all()
    totals = np.bincount(groups, weights=value, minlength=3)
    np.testing.assert_allclose(np.bincount(groups, weights=cut, minlength=3), np.minimum(shortfall, totals),
                               rtol=1e-6, atol=1e-5)
    # Where the caps were not all reached, no contract is cut beyond its cap.
    for g in range(3):
        if not capped[g]:
            assert (share[groups == g] <= capfrac + 1e-9).all()


def test_protection_moves_the_cut_to_unprotected_contracts():
    value = np.array([100.0, 100.0, 100.0, 100.0])
    group = np.zeros(4, dtype=np.int64)
    even, _ = priority_cuts(value, group, np.array([40.0]), np.zeros(4), np.ones(1), 1)
    np.testing.assert_allclose(even * value, 10.0)
    prot = np.array([0.0, 0.0, 0.2, 0.2])  # the in-system contracts of a stressed ICB
    tilted, _ = priority_cuts(value, group, np.array([40.0]), prot, np.ones(1), 1)
    np.testing.assert_allclose(tilted, [0.2, 0.2, 0.0, 0.0])  # the level rule: clip(level - protection, 0, cap)


def test_cap_pushes_remaining_cut_to_other_contracts():
    value = np.array([100.0, 100.0])
    share, capped = priority_cuts(value, np.zeros(2, dtype=np.int64), np.array([80.0]), np.array([0.0, 1.0]),
                                  np.full(1, 0.25), 1)
    assert capped[0]  # both at the 25% cap, and the budget still binds: the rest is cut evenly
    np.testing.assert_allclose((share * value).sum(), 80.0)
    np.testing.assert_allclose(share, [0.4, 0.4])


def test_growth_funds_protected_headroom_first_and_never_beyond_it():
    head = np.array([10.0, 10.0, 10.0])
    funded = priority_growth(head, np.zeros(3, dtype=np.int64), np.array([5.0]), np.array([1.0, 0.0, 0.0]), 1)
    np.testing.assert_allclose(funded, [0.5, 0.0, 0.0])
    funded = priority_growth(head, np.zeros(3, dtype=np.int64), np.array([50.0]), np.zeros(3), 1)
    np.testing.assert_allclose(funded, [1.0, 1.0, 1.0])


def test_quantile_matches_numpy():
    from commissim.model.measures import quantile

    x = np.random.default_rng(5).normal(size=109)
    for q in (0.0, 0.1, 0.5, 0.9, 1.0):
        assert quantile(x, q) == pytest.approx(float(np.quantile(x, q)), abs=1e-12)
