"""Each behaviour tested where it acts, on the toy world (tests/toyworld.py)."""

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


def test_home_bias_cut_falls_on_out_of_area_contracts_first(toy_model):
    common = dict(cash_strapped_share=0.5, diversion_rate=1.0, max_diversion=0.2, demand_noise=0.0,
                  repatriation_rate=0.0, spec_enforcement=0.0)
    fr = {}
    for h in (0.0, 0.9):
        m = toy_model("full_delegation", home_bias=h, **common)
        m.step()
        i = _idx(m, "icb", "QA1")
        deleg = m.state.delegated_cells[i]
        host = m.data.provider_icb
        offered = m.data.base_cases > 0
        out = (host != i)[:, None] & deleg[None, :] & offered
        inn = (host == i)[:, None] & deleg[None, :] & offered
        assert m.state.diversion[i] > 0
        fr[h] = (_cut_fraction(m, (i, out)), _cut_fraction(m, (i, inn)))
    (out0, in0), (out9, in9) = fr[0.0], fr[0.9]
    assert abs(out0 - in0) < 0.05 * max(out0, 1e-9) + 1e-9  # even cuts without home bias
    assert out9 > 2 * in9  # home bias: out-of-area contracts take the cut
    assert out9 > out0


def test_nhse_spreads_cuts_evenly_over_its_contracts(toy_model):
    m = toy_model("nhse_direct", funding_gap=0.05, demand_noise=0.0)
    m.step()
    st = m.state
    reg = st.group_type[st.comm] == 1  # (I, S) cells commissioned by a region
    fr = 1 - m.lines.by_service(st.contracted_value)[reg] / m.lines.by_service(st.expected_value)[reg]
    assert fr.mean() > 0.02
    assert fr.max() - fr.min() < 0.02


def test_pooled_regional_budget_spreads_a_shortfall(toy_model):
    common = dict(cash_strapped_share=1 / 6, diversion_rate=1.0, max_diversion=0.2, demand_noise=0.0,
                  region_weight=0.0, repatriation_rate=0.0, pool_share=0.0)
    cut = {}
    for scen in ("full_delegation", "pan_icb"):
        m = toy_model(scen, **common)
        m.step()
        st = m.state
        deleg = st.delegated_cells
        ev = m.lines.by_service(st.expected_value)
        cv = m.lines.by_service(st.contracted_value)
        by_icb = [1 - cv[i, deleg[i]].sum() / ev[i, deleg[i]].sum() for i in range(m.n_icbs)]
        cut[scen] = np.array(by_icb)
    a1, a2, a3 = (_idx(m, "icb", c) for c in ("QA1", "QA2", "QA3"))
    assert cut["full_delegation"][a1] > 0.01
    assert cut["full_delegation"][a2] < 1e-9 and cut["full_delegation"][a3] < 1e-9
    assert cut["pan_icb"][a2] > 0.002 and cut["pan_icb"][a3] > 0.002  # shared across the region
    assert cut["pan_icb"][a1] < cut["full_delegation"][a1]


def test_withdrawn_service_reroutes_its_patients_and_travel_rises(toy_model):
    base = toy_model("nhse_direct", demand_noise=0.0)
    hit = toy_model("nhse_direct", demand_noise=0.0)
    p, s, i = _idx(hit, "prov", "LOC2"), _idx(hit, "svc", "dialysis"), _idx(hit, "icb", "QA2")
    at_loc2 = hit.dense("delivered")[i, p, s]
    elsewhere_before = hit.dense("delivered")[i, :, s].sum() - at_loc2
    hit.withdraw_line(p, s)
    base.step()
    hit.step()
    delivered = hit.dense("delivered")
    assert delivered[:, p, s].sum() == 0.0
    # QA2's dialysis patients go to other providers, up to their spare capacity ...
    elsewhere = delivered[i, :, s].sum()
    assert elsewhere > elsewhere_before * (1 + hit.data.demand_growth[s]) + 0.5 * at_loc2
    cap = hit.dense("capacity_at_delivery")
    assert (delivered[:, :, s].sum(axis=0) <= cap[:, s] + 1e-6).all()
    # ... further away; what finds no room is unmet need.
    assert hit.measures["extra_travel_km"] > base.measures["extra_travel_km"] + 1.0
    assert hit.measures["services_withdrawn"] == 1.0
    unmet1 = hit.measures["unmet_need_share"]
    assert unmet1 > base.measures["unmet_need_share"]
    # Remaining providers expand towards the extra demand, so unmet need falls back.
    hit.run(4)
    assert hit.measures["unmet_need_share"] < unmet1


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


def test_needs_formula_moves_money_at_the_stated_pace(toy_model):
    m = toy_model("needs_based", pace_of_change=0.25, demand_noise=0.0, distance_access_elasticity=0.4)
    st = m.state
    hist_share = st.demand0 / st.demand0.sum(axis=0)
    need_share = st.need / st.need.sum(axis=0)
    for t in range(1, 6):
        m.step()
        w = min(1.0, 0.25 * t)
        assert st.needs_weight == pytest.approx(w)
        got = st.cell_budget / st.cell_budget.sum(axis=0)
        np.testing.assert_allclose(got, (1 - w) * hist_share + w * need_share, rtol=1e-9)
    over = (hist_share - need_share).sum(axis=1) > 0  # ICBs above their need target
    assert over.any() and (~over).any()


def test_distressed_provider_cuts_capacity_of_losing_lines(toy_model):
    m = toy_model("nhse_direct", demand_noise=0.0)
    m.step()
    p = _idx(m, "prov", "LOC3")
    st = m.state
    st.reserves[p] = -100.0
    s = _idx(m, "svc", "dialysis")
    st.line_margin[p, s] = -1.0
    m.update_review_flags()
    cap = st.capacity[p, s]
    next(a for a in m.agents_by_type[Provider] if a.idx == p).review()
    assert st.in_distress[p]
    assert st.capacity[p, s] == pytest.approx(cap * (1 - m.p["distress_capacity_cut"]))


def test_repatriation_moves_activity_in_area(toy_model):
    common = dict(cash_strapped_share=0.5, demand_noise=0.0, diversion_rate=0.0)
    still = toy_model("full_delegation", repatriation_rate=0.0, **common).run(3)
    moved = toy_model("full_delegation", repatriation_rate=0.3, **common).run(3)
    i, s = _idx(moved, "icb", "QA2"), _idx(moved, "svc", "dialysis")
    in_area = moved.data.provider_icb == i
    assert moved.state.cash_strapped[i]
    a = still.dense("delivered")[i, in_area, s].sum() / still.dense("delivered")[i, :, s].sum()
    b = moved.dense("delivered")[i, in_area, s].sum() / moved.dense("delivered")[i, :, s].sum()
    assert b > a + 0.05


def test_trailblazer_waves_grow_as_icbs_mature(toy_model):
    m = toy_model("trailblazer", trailblazer_threshold=0.75, maturity_growth=0.1)
    holders = []
    for _ in range(8):
        m.step()
        holders.append(int(m.state.delegated_cells.any(axis=1).sum()))
    assert holders[0] == 2  # QA1 (0.9) and QB1 (0.8) start
    assert holders == sorted(holders) and holders[-1] == m.n_icbs


def test_as_happened_timeline_changes_commissioners(toy_model):
    m = toy_model("as_happened")
    kinds = {}
    for _ in range(5):
        m.step()
        kinds[m.year] = {k: m.measures[f"spend_{k}"] > 0 for k in ("region", "icb", "joint_committee")}
    assert kinds[2023]["joint_committee"] and not kinds[2023]["icb"]
    assert kinds[2024]["icb"] and kinds[2024]["joint_committee"]  # split: region A's ICBs (delegated_2024)
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
    """Integration: under extreme pressure the South's only cardiac centre is kept open
    from the pool; without protection it goes."""
    stress = dict(pool_share=0.05, cash_strapped_share=0.7, home_bias=0.95, max_diversion=0.2,
                  diversion_rate=1.0, spec_enforcement=0.0, loss_tolerance=0.0, withdrawal_rounds=1)
    kept = toy_model("full_delegation", protect_last_provider=True, **stress).run(6)
    lost = toy_model("full_delegation", protect_last_provider=False, **stress).run(6)
    p, s = _idx(kept, "prov", "BIG2"), _idx(kept, "svc", "cardiac")
    assert kept.state.active[p, s] and not lost.state.active[p, s]
    assert sum(kept.datacollector.model_vars["stabilisation_paid"]) > 0
    assert sum(lost.datacollector.model_vars["stabilisation_paid"]) == 0
    assert kept.measures["services_withdrawn"] < lost.measures["services_withdrawn"]
