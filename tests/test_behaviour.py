"""Behaviour that emerges: ICB system objectives, the rules they act under, committees that decide,
needs-based convergence and delegation waves from the record. Each mechanism tested where it acts
(toy world), then the expected orderings on England data with noise off, over paired seeds."""

from __future__ import annotations

import numpy as np
import pytest

from commissim.model import CommissioningModel


def _idx(m, kind, code):
    arr = {"icb": m.data.icb_code, "prov": m.data.provider_code, "svc": m.data.service_id}[kind]
    return int(np.nonzero(arr == code)[0][0])


def _cut_shares(m, i, in_sys_mask):
    """Share of planned value cut on ICB i's delegated contracts, in-system vs out of system."""
    st, lines = m.state, m.lines
    plan, con = st.plan_value[i], st.contracted_value[i]
    deleg = st.delegated_cells[i][lines.s]
    out = {}
    for name, sel in (("in", deleg & in_sys_mask), ("out", deleg & ~in_sys_mask)):
        out[name] = 1 - con[sel].sum() / plan[sel].sum()
    return out


def test_a_stressed_system_cuts_out_of_area_first_and_only_in_proportion_to_its_stress(toy_model):
    # No funding growth: budgets fall short of cost growth, so commissioners must cut.
    common = dict(funding_growth=0.0, demand_noise=0.0, cost_dispersion=0.0, growth_cap=0.0, referral_shift=0.0,
                  local_start_share=0.0, spec_enforcement=0.0)
    res = {}
    for w in (0.0, 5.0, 20.0):
        m = toy_model("full_delegation", system_weight=w, **common)
        m.run(3)
        i = _idx(m, "icb", "QA1")  # QA1 hosts BIG1 and is in deficit
        assert m.state.stress[i] > 0
        res[w] = _cut_shares(m, i, ~m.state.out_icb[i])
    assert abs(res[0.0]["in"] - res[0.0]["out"]) < 1e-9  # no system weight: even cuts
    assert res[5.0]["in"] < res[5.0]["out"]
    assert res[20.0]["out"] - res[20.0]["in"] > res[5.0]["out"] - res[5.0]["in"]


def test_nhs_england_cuts_evenly(toy_model):
    m = toy_model("nhse_direct", funding_growth=0.0, demand_noise=0.0, system_weight=20.0)
    m.run(3)
    st = m.state
    reg = (st.group_type[st.comm[:, m.lines.s]] == 1) & (st.plan_value > 1e-9)
    cut = 1 - st.contracted_value[reg] / st.plan_value[reg]
    assert cut.mean() > 0.005
    assert np.ptp(cut) < 1e-9


def test_joint_committee_needs_nhse_consent_for_unequal_cuts(toy_model):
    common = dict(funding_growth=0.0, demand_noise=0.0, cost_dispersion=0.0, growth_cap=0.0, referral_shift=0.0,
                  system_weight=20.0, spec_enforcement=0.0, deficit_severity=3.0)
    gaps = {}
    for veto in (True, False):
        m = toy_model("joint_committees", nhse_veto=veto, nhse_tolerance=0.01, **common)
        m.run(3)
        st = m.state
        i = _idx(m, "icb", "QA2")
        in_fp = ~st.out_jc[i]
        s = _cut_shares(m, i, in_fp)
        gaps[veto] = s["out"] - s["in"]
        if veto:
            assert st.binding["nhse_consent"] > 0
    assert gaps[True] <= 0.01 + 1e-6  # NHS England accepts at most its tolerance
    assert gaps[False] > gaps[True]


def test_pan_icb_pool_protects_its_region_but_not_providers_elsewhere(toy_model):
    m = toy_model("pan_icb", funding_growth=0.0, demand_noise=0.0, cost_dispersion=0.0, growth_cap=0.0,
                  referral_shift=0.0, system_weight=20.0, spec_enforcement=0.0, deficit_severity=3.0)
    m.run(3)
    st = m.state
    i = _idx(m, "icb", "QA2")
    s = _cut_shares(m, i, ~st.out_region[i])
    assert s["out"] > s["in"]


def test_repatriation_moves_activity_in_system_within_spare_capacity(toy_model):
    base = toy_model("full_delegation", demand_noise=0.0, referral_shift=0.0, local_start_share=0.0)
    shift = toy_model("full_delegation", demand_noise=0.0, referral_shift=5.0, local_start_share=0.0)
    base.run(3)
    shift.run(3)
    i = _idx(shift, "icb", "QA2")
    assert shift.state.stress[i] > 0
    host_in = ~shift.state.out_icb[i]
    got = shift.state.delivered[i][host_in].sum() / shift.state.delivered[i].sum()
    ref = base.state.delivered[i][host_in].sum() / base.state.delivered[i].sum()
    assert got > ref
    # Never beyond capacity.
    assert (shift.state.delivered.sum(axis=0) <= shift.state.capacity_at_delivery + 1e-6).all()


def test_ring_fence_decides_what_may_move_to_system_deficits(toy_model):
    out = {}
    for rule in ("hard", "soft", "none"):
        m = toy_model("full_delegation", demand_noise=0.0, ringfence=rule, diversion_limit=0.005)
        m.run(1)  # the first year: later ones depend on what was moved before
        out[rule] = (m.state.diversion.sum(), m.state.diversion_wanted.sum(), m.state.binding["diversion_limit"])
    assert out["hard"][0] == 0
    assert 0 < out["soft"][0] < out["soft"][1]  # the limit binds: less moved than wanted
    assert out["soft"][2] > 0
    assert out["none"][0] > out["soft"][0]


def test_a_stressed_system_starts_a_local_line_after_the_lead_time(toy_model):
    m = toy_model("full_delegation", demand_noise=0.0, local_start_share=0.1, spec_enforcement=0.0,
                  referral_shift=1.0, deficit_severity=3.0, nof_condition=False)
    started_year = None
    for _ in range(7):
        m.step()
        if m.state.started.any() and started_year is None:
            started_year = m.year
    assert started_year is not None and started_year >= 2023 + 3  # two years in deficit, then two to open
    p, s = (int(x[0]) for x in np.nonzero(m.state.started))
    assert m.state.active[p, s]
    assert m.measures["local_services_started"] >= 1
    # Specifications that require the minimum viable volume allow no start below it.
    strict = toy_model("full_delegation", demand_noise=0.0, local_start_share=0.1, spec_enforcement=1.0,
                       referral_shift=1.0, deficit_severity=3.0, nof_condition=False)
    strict.run(7)
    st = strict.state
    for p, s in zip(*np.nonzero(st.started)):
        assert st.capacity[p, s] / 1.10 >= st.min_volume_abs[s] - 1e-6 or not st.active[p, s]
    assert st.binding["local_start_blocked"] > 0 or st.started.sum() <= m.state.started.sum()


def test_needs_based_budgets_converge_at_the_pace_with_a_growth_floor(toy_model):
    m = toy_model("needs_based", demand_noise=0.0, pace_of_change=0.25, convergence_floor=0.0)
    prev = None
    for k in range(1, 5):
        m.step()
        assert m.state.needs_weight == pytest.approx(min(1.0, 0.25 * k))
        deleg = m.state.prev_icb_deleg
        if prev is not None:
            assert (deleg >= prev * (1 + 0.0) - 1e-6).all()  # no ICB's delegated budget falls
        prev = deleg.copy()


def test_trailblazer_waves_come_from_the_public_record(toy_model):
    m = toy_model("trailblazer", demand_noise=0.0)
    waves = m.data.delegation_wave
    for k in range(1, 4):
        m.step()
        holds = m.state.delegated_cells.any(axis=1)
        np.testing.assert_array_equal(holds, waves <= k)


def test_withdrawn_service_reroutes_its_patients_and_travel_rises(toy_model):
    base = toy_model("nhse_direct", demand_noise=0.0)
    hit = toy_model("nhse_direct", demand_noise=0.0)
    p, s, i = _idx(hit, "prov", "LOC2"), _idx(hit, "svc", "dialysis"), _idx(hit, "icb", "QA2")
    at_loc2 = hit.dense("delivered")[i, p, s]
    assert at_loc2 > 0
    hit.withdraw_line(p, s)
    base.step()
    hit.step()
    assert hit.dense("delivered")[i, p, s] == 0
    assert hit.dense("delivered")[i, :, s].sum() > base.dense("delivered")[i, :, s].sum() - at_loc2
    assert hit.measures["extra_travel_km"] > base.measures["extra_travel_km"]


def test_trust_on_support_cuts_failing_lines_with_their_fixed_costs(toy_model):
    m = toy_model("nhse_direct", demand_noise=0.0, efficiency_gap=-0.02, cash_floor_days=20.0,
                  distress_capacity_cut=0.2)
    for _ in range(6):
        before = m.state.capacity.copy()
        m.step()
        st = m.state
        for p in np.nonzero(st.needs_support & (st.support_years < m.p["withdrawal_rounds"]))[0]:
            fail = st.line_losing[p] & ~st.protected[p] & st.active[p]
            if fail.any():
                assert (st.capacity[p][fail] <= before[p][fail] * 0.8 + 1e-6).all()
                assert (st.cost_capacity[p][fail] <= st.capacity[p][fail] + 1e-9).all()


# ----------------------------------------------------------------- England: orderings with noise off
ENGLAND = dict(collect_agent_data=False, demand_noise=0.0, cost_dispersion=0.0)
SEEDS = (1, 2, 3)


def _mean_over(scenario, measure="out_of_area_income_change", **kw):
    vals = []
    for seed in SEEDS:
        m = CommissioningModel(scenario, rng=seed, **ENGLAND, **kw)
        m.run(10)
        vals.append(m.datacollector.get_model_vars_dataframe()[measure].iloc[1:].mean())
    return float(np.mean(vals))


@pytest.mark.slow
def test_more_stressed_systems_lose_more_out_of_area_income():
    low = _mean_over("full_delegation", deficit_severity=0.5)
    high = _mean_over("full_delegation", deficit_severity=2.5)
    assert high < low


@pytest.mark.slow
def test_stronger_delegation_rules_protect_out_of_area_providers():
    loose = _mean_over("full_delegation", nof_condition=False, spec_enforcement=0.0)
    strict = _mean_over("full_delegation", nof_condition=True, nhse_tolerance=0.0, spec_enforcement=1.0)
    assert strict > loose


@pytest.mark.slow
def test_committees_with_an_nhse_veto_lose_less_than_full_delegation():
    full = _mean_over("full_delegation")
    jc = _mean_over("joint_committees")
    jc_no_veto = _mean_over("joint_committees", nhse_veto=False)
    assert jc > full
    assert jc >= jc_no_veto


@pytest.mark.slow
def test_no_rule_binds_in_every_run_at_default_settings():
    """Each rule's binding share, over ICB-years of full delegation and as-happened runs, is below 1."""
    shares = {}
    for scen in ("full_delegation", "as_happened"):
        for seed in SEEDS:
            m = CommissioningModel(scen, rng=seed, collect_agent_data=False)
            m.run(10)
            df = m.datacollector.get_model_vars_dataframe()
            for col in [c for c in df.columns if c.startswith("binding_")]:
                shares.setdefault(col, []).extend(df[col].iloc[1:].tolist())
    for col, vals in shares.items():
        if col == "binding_growth_withheld":
            # Not a rule but the money path: at the published allocations and the calibrated activity growth,
            # some growth goes unfunded nearly every year. tests/test_channels.py shows it vanish when money
            # outgrows activity; the README reports it as binding, with the sweep that moves it.
            continue
        assert np.mean(vals) < 0.95, (col, np.mean(vals))
