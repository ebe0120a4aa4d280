"""Regions' stabilisation, the as-happened timeline and claw-back, where they act (toy world).
The rebuilt money and ICB behaviours are tested in test_money.py and test_behaviour.py."""

from __future__ import annotations

import numpy as np
import pytest

from commissim.model.agents import Provider, Region


def _idx(m, kind, code):
    arr = {"icb": m.data.icb_code, "prov": m.data.provider_code, "svc": m.data.service_id}[kind]
    return int(np.nonzero(arr == code)[0][0])


def _cut_fraction(m, where):
    """Share of the expected value of contracts ``(icb, mask over (P, S))`` that was cut."""
    i, mask = where
    ev = m.dense("expected_value")[i][mask].sum()
    return 1 - m.dense("contracted_value")[i][mask].sum() / ev


def _force_failing(m, p, s):
    st = m.state
    k = m.p["withdrawal_rounds"]
    st.loss_streak[p, s] = k
    st.line_margin[p, s] = -5.0  # £5m loss this year
    m.update_review_flags()


def test_region_protects_last_provider_while_pool_lasts(toy_model):
    m = toy_model("full_delegation", pool_share=0.05, demand_noise=0.0)
    m.step()  # funds the pools
    p, s = _idx(m, "prov", "BIG1"), _idx(m, "svc", "cardiac")  # the North's only cardiac centre
    north = m.data.icb_region[m.data.provider_icb[p]]
    region = next(a for a in m.agents_by_type[Region] if a.idx == north)
    provider = next(a for a in m.agents_by_type[Provider] if a.idx == p)
    pool_before = m.state.pool[north]
    assert pool_before > 5.0
    _force_failing(m, p, s)
    region.intervene()
    provider.review()
    assert m.state.active[p, s] and m.state.protected[p, s]
    assert m.state.pool[north] == pytest.approx(pool_before - 5.0)
    assert m.state.subsidy[p, s] == pytest.approx(5.0)
    # Pool exhausted: the line goes.
    m.state.pool[north] = 1.0
    _force_failing(m, p, s)
    region.intervene()
    provider.review()
    assert not m.state.active[p, s] and m.state.withdrawn[p, s]


def test_no_protection_for_a_line_that_is_not_the_last_in_region(toy_model):
    m = toy_model("full_delegation", pool_share=0.05, demand_noise=0.0)
    m.step()
    p, s = _idx(m, "prov", "LOC2"), _idx(m, "svc", "dialysis")  # North has 3 dialysis providers
    north = m.data.icb_region[m.data.provider_icb[p]]
    region = next(a for a in m.agents_by_type[Region] if a.idx == north)
    provider = next(a for a in m.agents_by_type[Provider] if a.idx == p)
    _force_failing(m, p, s)
    region.intervene()
    provider.review()
    assert not m.state.active[p, s]


def test_as_happened_timeline_changes_commissioners(toy_model):
    m = toy_model("as_happened")
    kinds = {}
    for _ in range(5):
        m.step()
        kinds[m.year] = {k: m.measures[f"spend_{k}"] > 0 for k in ("region", "icb", "joint_committee")}
    assert kinds[2023]["joint_committee"] and not kinds[2023]["icb"]
    assert kinds[2024]["icb"] and kinds[2024]["joint_committee"]  # split: the wave-2 ICB (delegation_wave 2)
    assert kinds[2025]["icb"] and not kinds[2025]["joint_committee"]
    assert m.p["icb_footprint"] == "merged_2026"
    merged = m.state.comm[m.state.delegated_cells]
    assert (m.state.group_type[merged] == 5).all()


def test_clawback_returns_lines_to_national(toy_model):
    m = toy_model("national_clawback")
    m.run(3)
    before = m.measures["spend_national"]
    m.run(2)  # 2026-27 on
    assert m.year == 2027 and m.measures["spend_national"] > before * 1.5


def test_regions_protect_last_providers_in_a_full_run(toy_model):
    """Integration: when the South's cardiac demand falls by 20%, its only cardiac centre (BIG2) is left with
    stranded costs (30% variable, estates never shed) and fails; the region keeps it open from its pool; without
    protection it goes. (A deeper fall makes losses larger than the pool: then the line goes either way.)"""
    runs = {}
    for protect in (True, False):
        m = toy_model("full_delegation", protect_last_provider=protect, pool_share=0.05, loss_tolerance=0.0,
                      withdrawal_rounds=2, demand_noise=0.0, variable_cost_share=0.3, overhead_shed_rate=0.0)
        s = _idx(m, "svc", "cardiac")
        south = m.data.icb_region == m.data.icb_region[_idx(m, "icb", "QB1")]
        m.state.demand[south, s] *= 0.8
        m.state.need[south, s] *= 0.8
        m.state.cash[:] = 1e4  # no trust near its cash floor: only the line's own economics matter
        m.run(6)
        runs[protect] = m
    kept, lost = runs[True], runs[False]
    p, s = _idx(kept, "prov", "BIG2"), _idx(kept, "svc", "cardiac")
    assert kept.state.active[p, s] and not lost.state.active[p, s]
    assert sum(kept.datacollector.model_vars["stabilisation_paid"]) > 0
    assert sum(lost.datacollector.model_vars["stabilisation_paid"]) == 0
    assert kept.measures["services_withdrawn"] < lost.measures["services_withdrawn"]
