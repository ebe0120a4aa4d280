"""Channels shown to act: every channel through which a commissioner closes the gap between its plan and its
budget, and the cost and distress rules on the trusts' side, tested with demand noise off. Each test shows the
channel moving money when its condition holds and nothing when it does not. Toy world unless it says England."""

from __future__ import annotations

import numpy as np
import pytest

from commissim.model import CommissioningModel

TIGHT = dict(funding_growth=0.0, demand_noise=0.0)  # budgets flat in cash from 2024-25: every plan exceeds them
LOOSE = dict(funding_growth=0.10, activity_pressure=0.0, demand_noise=0.0)  # budgets outgrow every plan


def _idx(m, kind, code):
    arr = {"icb": m.data.icb_code, "prov": m.data.provider_code, "svc": m.data.service_id}[kind]
    return int(np.nonzero(arr == code)[0][0])


def _series(m, name):
    return np.asarray(m.datacollector.get_model_vars_dataframe()[name].iloc[1:], dtype=float)


@pytest.mark.parametrize("scenario", ["nhse_direct", "full_delegation"])
def test_plans_exceed_budgets_only_when_activity_outgrows_the_allocation(toy_model, scenario):
    tight = toy_model(scenario, **TIGHT).run(4)
    loose = toy_model(scenario, **LOOSE).run(4)
    assert _series(tight, "commissioner_shortfall")[1:].min() > 0  # every year after 2023-24
    assert _series(tight, "growth_withheld")[1:].min() > 0
    # Money to spare: at most a rounding of a shortfall somewhere (budgets are shared on last year's activity), and
    # no contract is cut.
    budget = _series(loose, "budget_total") * 1e3
    assert (_series(loose, "commissioner_shortfall") < 0.002 * budget).all()
    assert _series(loose, "commissioner_cuts").max() == 0
    if scenario == "nhse_direct":  # NHS England pools: a region a little short is met from another's spare
        assert _series(loose, "growth_withheld").max() == 0


def test_cuts_take_growth_first_and_existing_contracts_only_beyond_it(toy_model):
    """A cut up to a contract's growth over last year is growth withheld; only the rest is a cut to the existing
    contract. Flat cash (no growth at all) against 6% cost and activity growth forces both."""
    m = toy_model("nhse_direct", **TIGHT)
    m.run(3)
    led = m.state.ledger
    assert led["withheld"] > 0 and led["cuts"] > 0
    np.testing.assert_allclose(led["cuts_total"], led["cuts"] + led["withheld"] - led["withheld_cap"], rtol=1e-9)
    # With growth money for all of it there is nothing to cut.
    assert toy_model("nhse_direct", **LOOSE).run(3).state.ledger["cuts"] == 0


@pytest.mark.parametrize("scenario", ["nhse_direct", "full_delegation", "joint_committees"])
def test_channel_totals_per_icb_agree_with_the_national_ledger(toy_model, scenario):
    """Each channel is reported once, from its ICB rows (delivery.channel_accounts); the national ledger computes
    the same money another way (contract totals). The two must agree every year, with cuts and growth binding."""
    m = toy_model(scenario, **TIGHT)
    for _ in range(4):
        m.step()
        led, ch = m.state.ledger, m.state.channels
        scale = max(led["plan"], 1.0)
        assert abs(ch["growth_withheld"] - led["withheld"]) < 1e-9 * scale
        assert abs(ch["commissioner_cuts"] - led["cuts"]) < 1e-9 * scale
        assert abs(ch["returned_to_nhse"] - (led["uncommitted"] + led["undelivered"])) < 1e-9 * scale
        assert m.measures["growth_withheld"] == pytest.approx(ch["growth_withheld"], abs=1e-9)
    assert led["withheld"] > 0  # the check had money to check


def _ageing_world(toy_seeds, tmp_path):
    """The toy world with ages: region A's residents are old (need per head grows faster), region B's young."""
    import shutil

    folder = tmp_path / "aged"
    shutil.copytree(toy_seeds, folder)
    bands = ["0-4", "5-14", "15-24", "25-44", "45-64", "65-74", "75-84", "85+"]
    cost = [2.2, 0.7, 0.6, 0.7, 1.2, 2.1, 2.5, 2.0]
    old = [3, 6, 6, 15, 35, 20, 10, 5]
    young = [8, 14, 16, 35, 18, 5, 3, 1]
    with open(folder / "age_cost_curve.csv", "w") as f:
        f.write("age_band,relative_cost,source\n" + "".join(f"{b},{c},toy\n" for b, c in zip(bands, cost)))
    with open(folder / "icb_age_bands.csv", "w") as f:
        f.write("icb_code,age_band,population\n")
        for code in ("QA1", "QA2", "QA3", "QB1", "QB2", "QB3"):
            mix = old if code.startswith("QA") else young
            f.write("".join(f"{code},{b},{v * 10000}\n" for b, v in zip(bands, mix)))
    return str(folder)


def test_nhs_england_pools_regions_and_icbs_stand_alone(toy_seeds, tmp_path):
    """Region A's residents age faster than its budget, set on last year's activity, allows; region B's less.
    NHS England meets A's shortfall from B's spare (pooling); delegated, A's ICBs must find it themselves."""
    folder = _ageing_world(toy_seeds, tmp_path)
    kw = dict(funding_growth=0.05, activity_pressure=0.021, demand_noise=0.0, demography_weight=2.0)
    direct = CommissioningModel("nhse_direct", rng=1, seeds_path=folder, **kw).run(3)
    deleg = CommissioningModel("full_delegation", rng=1, seeds_path=folder, **kw).run(3)
    assert direct.data.ageing_drift[:3].min() > 0 > direct.data.ageing_drift[3:].max()
    a = direct.data.icb_region == direct.data.icb_region[_idx(direct, "icb", "QA1")]
    assert direct.measures["nhse_pooled"] > 0
    assert deleg.measures["nhse_pooled"] < direct.measures["nhse_pooled"]

    def unfunded(m):
        ch = m.state.channel_icb
        return ch["growth_withheld"][a].sum() + ch["commissioner_cuts"][a].sum()

    assert unfunded(deleg) > unfunded(direct) + 0.5  # £m: A's ICBs fund less of their own growth
    # Without the ageing difference there is less to pool.
    flat = CommissioningModel("nhse_direct", rng=1, seeds_path=folder, **dict(kw, demography_weight=0.0)).run(3)
    assert flat.measures["nhse_pooled"] < direct.measures["nhse_pooled"]


def test_the_ring_fence_decides_who_keeps_a_stressed_systems_underspend(toy_model):
    """With money to spare, a delegated ICB whose system is in deficit keeps its underspend for its bottom line
    under a soft ring-fence (the dental precedent); under a hard one the money is handed back. A system in
    surplus keeps nothing under either."""
    soft = toy_model("full_delegation", ringfence="soft", diversion_limit=0.0, **LOOSE)
    hard = toy_model("full_delegation", ringfence="hard", **LOOSE)
    soft.step()
    hard.step()
    stressed = soft.state.decider_stress > 0
    assert stressed.any() and (~stressed).any()
    kept = soft.state.channel_icb["kept_by_systems"]
    assert kept[stressed].sum() > 0 and kept[~stressed].sum() == 0
    assert hard.measures["kept_by_systems"] == 0
    assert hard.measures["returned_to_nhse"] > soft.measures["returned_to_nhse"]
    # What it keeps counts in its system's position, to the pound.
    np.testing.assert_allclose(soft.state.icb_surplus - hard.state.icb_surplus, soft.state.delegated_result, atol=1e-9)
    np.testing.assert_allclose(soft.state.delegated_result.sum(), soft.measures["kept_by_systems"], rtol=1e-9)


def test_an_allowed_overspend_is_carried_by_the_ics_system(toy_model):
    base = toy_model("full_delegation", **TIGHT).run(3)
    over = toy_model("full_delegation", icb_overspend_limit=0.02, **TIGHT).run(3)
    assert base.measures["overspend"] == 0
    assert over.measures["overspend"] > 0
    # The rule, commissioner by commissioner: an ICB overspends what it is short, up to 2% of its budget, and cuts
    # only beyond that.
    st = over.state
    icb = st.group_type == 2
    short = st.group_plan - st.group_budget
    np.testing.assert_allclose(st.group_overspend[icb], np.clip(short, 0, 0.02 * st.group_budget)[icb], atol=1e-9)
    np.testing.assert_allclose(st.group_cut[icb], np.maximum(short - 0.02 * st.group_budget, 0)[icb], atol=1e-6)
    assert (over.state.delegated_result <= 1e-9).all() and over.state.delegated_result.sum() < 0
    # NHS England's own limit does not let an ICB overspend.
    nhse_lim = toy_model("full_delegation", nhse_overspend_limit=0.02, **TIGHT).run(3)
    assert nhse_lim.state.delegated_result.sum() == pytest.approx(0.0, abs=1e-9)


def _lose_cardiac_at_big2(m, factor):
    s = _idx(m, "svc", "cardiac")
    south = m.data.icb_region == m.data.icb_region[_idx(m, "icb", "QB1")]
    m.state.demand[south, s] *= factor
    m.state.need[south, s] *= factor
    m.state.cash[:] = 1e4  # no trust near the cash floor: only the line's own economics move
    return _idx(m, "prov", "BIG2"), s


@pytest.mark.parametrize("variable_share", [0.3, 0.5, 0.7])
def test_a_lost_contract_costs_the_trust_its_contribution_until_capacity_is_shed(toy_model, variable_share):
    """The South's cardiac activity falls 20% at BIG2, its only centre. In the year it goes the trust loses the
    income less the variable cost of those cases (its contribution), whatever the variable share; nothing is shed
    that year when both shed rates are 0, and the loss shrinks as capacity is shed."""
    kw = dict(LOOSE, variable_cost_share=variable_share, margin_response=0.0, cost_shed_rate=0.0,
              overhead_shed_rate=0.0, withdrawal_rounds=10)
    ref = toy_model("nhse_direct", **kw)
    p, s = _lose_cardiac_at_big2(ref, 1.0)
    lost = toy_model("nhse_direct", **kw)
    _lose_cardiac_at_big2(lost, 0.8)
    cap0 = lost.state.cost_capacity[p, s] + 0.0
    ref.step()
    lost.step()
    st = lost.state
    d_income = st.line_income[p, s] - ref.state.line_income[p, s]
    d_vol = st.line_volume[p, s] - ref.state.line_volume[p, s]
    assert d_income < -1.0  # £m
    # Nothing of the lost line's capacity is shed in the year (both shed rates 0): its costs stay.
    assert st.cost_capacity[p, s] == pytest.approx(cap0)
    # The line's margin falls by the income lost less the variable cost of those cases, and by nothing else.
    d_var = d_vol * st.var_unit0[p, s] * st.cost_index[p]
    d_cap = ((st.fixed_unit0[p, s] * (st.cost_capacity[p, s] - ref.state.cost_capacity[p, s])
              + st.overhead_unit0[p, s] * (st.overhead_capacity[p, s] - ref.state.overhead_capacity[p, s]))
             * st.cost_index[p])
    assert d_cap <= 1e-9  # the reference, with its activity, may have grown capacity; the loser has not
    np.testing.assert_allclose(st.line_margin[p, s] - ref.state.line_margin[p, s], d_income - d_var - d_cap,
                               rtol=1e-9)
    contribution = -d_income * (1 - variable_share)  # about what the loss is, for the average line
    assert -(d_income - d_var) == pytest.approx(contribution, rel=0.6)
    assert lost.measures["stranded_costs"] > ref.measures["stranded_costs"] + 1.0
    # Shed at once: the capacity goes with the cases, so the line loses less.
    shed = toy_model("nhse_direct", **dict(kw, cost_shed_rate=1.0, overhead_shed_rate=1.0))
    _lose_cardiac_at_big2(shed, 0.8)
    shed.step()
    assert shed.state.line_margin[p, s] > st.line_margin[p, s]


def test_stranded_costs_fall_as_capacity_is_shed(toy_model):
    m = toy_model("nhse_direct", **dict(LOOSE, cost_shed_rate=0.5, overhead_shed_rate=0.5, withdrawal_rounds=10))
    _lose_cardiac_at_big2(m, 0.7)
    vals = []
    for _ in range(4):
        m.step()
        vals.append(m.measures["stranded_costs"])
    assert vals[0] > 0
    assert vals[-1] < 0.5 * vals[0]


def test_drugs_paid_at_cost_are_not_capacity_limited():
    """England: halve the capacity of high-cost drugs and devices; what is contracted is still delivered."""
    m = CommissioningModel("nhse_direct", rng=1, collect_agent_data=False)
    s = int(np.nonzero(m.data.service_id == "high_cost_drugs_devices")[0][0])
    m.state.capacity[:, s] *= 0.5
    m.step()
    lines = m.lines
    drug_k = lines.s == s
    contracted = m.state.last_contracted_vol[:, drug_k].sum()
    delivered = m.state.delivered[:, drug_k].sum()
    assert delivered == pytest.approx(contracted, rel=1e-9)
    assert m.state.unplaced[:, s].sum() == pytest.approx(0.0, abs=1e-6)


def test_deficit_support_is_phased_out_over_the_chosen_years():
    m = CommissioningModel("nhse_direct", rng=1, collect_agent_data=False)
    share = m.state.modelled_share
    s2025 = m.money.provider_support(2025, share)
    assert s2025 > 0
    assert m.money.provider_support(2026, share) == pytest.approx(s2025 * 2 / 3)
    assert m.money.provider_support(2028, share) == 0
    m1 = CommissioningModel("nhse_direct", rng=1, collect_agent_data=False, support_phaseout_years=1)
    assert m1.money.provider_support(2026, share) == 0


def test_efficiency_gap_acts_only_after_the_published_money_path():
    """The calibrated years 2022-23 to 2025-26 hold across the whole range of efficiency_gap."""
    runs = {g: CommissioningModel("as_happened", rng=1, collect_agent_data=False, efficiency_gap=g).run(5)
            for g in (-0.02, 0.02)}
    a, b = (runs[g].datacollector.get_model_vars_dataframe()["trust_sector_margin"] for g in (-0.02, 0.02))
    np.testing.assert_allclose(a.iloc[:4], b.iloc[:4], atol=1e-12)  # 2022-23 .. 2025-26
    assert b.iloc[4] - a.iloc[4] > 0.02  # 2026-27: four points of costs, about four points of margin


def test_trusts_respond_to_their_position_so_margins_stay_bounded(toy_model):
    """Without a response, a persistent cost gap drives margins without limit; with margin_response trusts close
    part of their deficit each year (and spend part of a surplus), so margins settle."""
    drift = {r: toy_model("nhse_direct", margin_response=r, efficiency_gap=-0.02, **LOOSE).run(10) for r in (0.0, 0.3)}
    worst = {r: m.state.margin.min() for r, m in drift.items()}
    assert worst[0.0] < -0.08
    assert worst[0.3] > 0.5 * worst[0.0]


def test_the_response_target_is_a_named_structural_choice(toy_model):
    """Aimed at break-even, a trust in surplus spends part of it; aimed at its own opening surplus, it keeps it."""
    even = toy_model("nhse_direct", response_target="break_even", **LOOSE).run(3)
    own = toy_model("nhse_direct", response_target="opening_surplus", **LOOSE).run(3)
    rich = even.state.margin_target == 0
    opened_surplus = own.state.margin_target > 0
    assert opened_surplus.any() and rich.all()
    assert (own.state.margin[opened_surplus] > even.state.margin[opened_surplus]).all()
