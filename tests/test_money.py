"""Money that binds: every flow accounted by its own rule, the published money path, whole-trust finances,
cash support and the destabilisation measure. Toy world unless the test says England."""

from __future__ import annotations

import numpy as np
import pytest

from commissim.model import CommissioningModel
from commissim.model.contracting import priority_cuts, priority_growth, water_fill
from commissim.model.finance import DESTAB_THRESHOLDS, cash_support, share_support, update_streaks
from commissim.model.measures import CURVE_MEASURES

SCENARIOS = ["nhse_direct", "full_delegation", "joint_committees", "pan_icb", "trailblazer", "needs_based",
             "as_happened", "icb_consolidation", "national_clawback", "transplant_dialysis"]


def check_ledger(m: CommissioningModel) -> None:
    """Each term is computed by its own rule; the identities below hold only if the rules agree."""
    st, led = m.state, m.state.ledger
    # Commissioners: the money each may commit (its budget, what NHS England's pool moved to or from it, and any
    # overspend its rules allow) = plan - cuts + growth bought + underspend kept + money handed back.
    np.testing.assert_allclose(st.group_eff_budget, st.group_contracted + st.group_kept + st.group_uncommitted,
                               atol=1e-6)
    np.testing.assert_allclose(st.group_contracted, st.group_plan - st.group_cut + st.group_growth, atol=1e-6)
    # Pooling moves money between NHS England's commissioners; only an allowed overspend adds to the total.
    np.testing.assert_allclose(st.group_eff_budget.sum(), st.group_budget.sum() + led["overspend"], rtol=1e-9)
    assert (st.group_cut <= np.maximum(st.group_plan - st.group_budget, 0) + st.group_plan + 1e-6).all()
    assert (st.group_cut * st.group_growth <= 1e-9).all()  # a commissioner cuts or buys growth, never both
    assert (st.group_kept >= -1e-9).all() and (st.group_uncommitted >= -1e-6).all()
    # The allocation is all accounted for: paid, contracted but undeliverable, handed back, kept by systems,
    # diverted, pooled for regions, less what was overspent.
    total = (led["payments"] + led["undelivered"] + led["uncommitted"] + led["kept"] + led["diverted"]
             + led["pool_topslice"] - led["overspend"])
    np.testing.assert_allclose(total, led["allocation"], rtol=1e-9)
    # Cuts split into growth withheld and cuts from existing contracts, each by its own rule.
    np.testing.assert_allclose(led["cuts_total"], led["cuts"] + (led["withheld"] - led["withheld_cap"]), atol=1e-6)
    # Every pound paid is a provider's income; no commissioner pays more than its budget.
    np.testing.assert_allclose(st.payments.sum(), st.line_income.sum(), rtol=1e-12)
    np.testing.assert_allclose(st.spec_income.sum(), st.payments.sum(), rtol=1e-12)
    assert (st.group_spend <= st.group_eff_budget + 1e-6).all()
    assert (st.pool >= -1e-9).all()
    assert (st.delivered >= -1e-12).all()
    assert (st.delivered.sum(axis=0) <= st.capacity_at_delivery + 1e-6).all()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_flow_adds_up_every_round(toy_model, scenario):
    m = toy_model(scenario, rng=3, funding_growth=0.0, demand_noise=0.03, ringfence="soft", diversion_limit=0.05)
    pool_before = m.state.pool.copy()
    cash_before = m.state.cash.copy()
    for _ in range(7):
        m.step()
        check_ledger(m)
        st = m.state
        # Pools: last year's balance + this year's top-slice - what regions paid.
        np.testing.assert_allclose(st.pool.sum(), pool_before.sum() + st.ledger["pool_topslice"]
                                   - st.ledger["pool_paid"], atol=1e-6)
        # Trusts' cash: last year's + surplus (incl. pool payments) + revenue support.
        np.testing.assert_allclose(st.cash, cash_before + st.surplus + st.pdc, atol=1e-6)
        pool_before, cash_before = st.pool.copy(), st.cash.copy()


def test_england_ledger_and_allocation_follow_the_published_path():
    m = CommissioningModel("as_happened", rng=1, collect_agent_data=False)
    alloc = {}
    for _ in range(5):
        m.step()
        check_ledger(m)
        alloc[m.year] = m.state.ledger["allocation"]
    f = m.data.funding["specialised_allocation"]
    assert alloc[2023] == pytest.approx(f[2023] * 1e3)  # GBP 25.115bn, NHS England board Feb 2024
    assert alloc[2024] == pytest.approx(f[2024] * 1e3)
    assert alloc[2025] == pytest.approx(f[2025] * 1e3)
    assert alloc[2026] == pytest.approx(alloc[2025] * (1 + m.p["funding_growth"]))


def test_budgets_do_not_follow_prices_times_demand(toy_model):
    """The allocation is an input: doubling demand growth does not raise it (it did in the first build)."""
    a = toy_model("nhse_direct", demand_noise=0.0)
    b = toy_model("nhse_direct", demand_noise=0.0)
    a.run(4)
    b.state.demand = b.state.demand * 1.3  # 30% more demand from the start
    b.run(4)
    assert a.state.budget_total == pytest.approx(b.state.budget_total)
    assert b.measures["unmet_need_share"] > a.measures["unmet_need_share"]


def test_tariff_prices_rise_by_cost_uplift_less_efficiency_and_drugs_at_cost():
    m = CommissioningModel("nhse_direct", rng=1, collect_agent_data=False)
    p0 = m.state.price.copy()
    m.step()  # 2023-24
    cuf, ef = m.money.tariff(2023)
    tariff = ~m.state.pass_through
    np.testing.assert_allclose(m.state.price[tariff] / p0[tariff], 1 + cuf - ef)
    np.testing.assert_allclose(m.state.price[~tariff] / p0[~tariff], 1 + m.data.series("nonpay_inflation", 2023))


def test_provider_costs_grow_with_their_own_inflation_not_the_tariff():
    m = CommissioningModel("nhse_direct", rng=1, collect_agent_data=False)
    margin0 = m.state.margin.copy()
    m.step()
    p = m.p
    growth = p["pay_share"] * m.data.series("pay_award", 2023) + (1 - p["pay_share"]) * m.data.series(
        "nonpay_inflation", 2023) + m.data.series("unfunded_cost_pressure", 2023)
    # efficiency_gap acts only after the published money path; each trust responds to its own opening margin.
    cip = m.data.series("tariff_efficiency", 2023) + p["margin_response"] * (-margin0)
    np.testing.assert_allclose(m.state.cost_index, 1 + growth - cip)
    cuf, ef = m.money.tariff(2023)
    assert growth > cuf  # the gap between cost growth and the tariff is a pressure providers face


def test_no_automatic_surplus_from_demand_growth(toy_model):
    """With prices exactly covering cost growth and no efficiency gap, a trust's specialised margin does not
    rise just because demand grows (fixed costs follow the capacity plan). Cash support is switched off so no
    recovery plan changes costs."""
    m = toy_model("nhse_direct", demand_noise=0.0, cost_dispersion=0.0, funding_growth=0.10, cost_inflation=0.03,
                  efficiency_factor=0.0, recovery_efficiency=0.0)
    m.state.cash[:] = 1e6
    m.run(1)
    first = m.state.line_margin.sum() / m.state.line_income.sum()
    m.run(4)
    later = m.state.line_margin.sum() / m.state.line_income.sum()
    assert later <= first + 0.002


def test_cut_falls_where_protection_says_and_totals_are_exact():
    rng = np.random.default_rng(0)
    n, G = 400, 3
    group = rng.integers(0, G, n)
    value = rng.random(n) * 10
    protect = np.where(rng.random(n) < 0.3, 0.05, 0.0)
    cap = np.full(G, 0.25)
    shortfall = np.array([5.0, 0.0, 30.0])
    share, capped = priority_cuts(value, group, shortfall, protect, cap, G)
    np.testing.assert_allclose(np.bincount(group, share * value, G), shortfall, atol=1e-9)
    for g in (0, 2):
        sel = group == g
        prot = share[sel & (protect > 0)].mean()
        free = share[sel & (protect == 0)].mean()
        assert prot < free  # protected contracts take less of the cut
    # Even cuts without protection.
    even, _ = priority_cuts(value, group, shortfall, np.zeros(n), cap, G)
    for g in (0, 2):
        sel = group == g
        assert np.ptp(even[sel]) < 1e-12
    # A shortfall beyond every cap: all contracts at the cap, the rest spread evenly (the budget binds).
    big = np.array([1e6, 0.0, 0.0])
    share, capped = priority_cuts(value, group, big, protect, cap, G)
    assert capped[0] and np.allclose(share[group == 0], 1.0)


def test_growth_goes_to_protected_contracts_first():
    head = np.ones(6)
    group = np.zeros(6, dtype=int)
    protect = np.array([0.5, 0.5, 0, 0, 0, 0])
    # The level rule: funded share = clip(level + protection, 0, 1); protected contracts get 0.5 more.
    funded = priority_growth(head, group, np.array([2.0]), protect, 1)
    np.testing.assert_allclose(funded, [2 / 3, 2 / 3, 1 / 6, 1 / 6, 1 / 6, 1 / 6], atol=1e-9)
    funded = priority_growth(head, group, np.array([5.0]), protect, 1)
    np.testing.assert_allclose(funded, [1, 1, 0.75, 0.75, 0.75, 0.75], atol=1e-9)
    funded = priority_growth(head, group, np.array([9.0]), protect, 1)  # money beyond all headroom stays unspent
    np.testing.assert_allclose(funded, np.ones(6), atol=1e-9)


def test_water_fill_matches_a_brute_force_level():
    rng = np.random.default_rng(1)
    n, G = 3000, 5
    g = rng.integers(0, G, n)
    w = rng.random(n)
    o = np.where(rng.random(n) < 0.1, rng.random(n) * 0.2, 0.0)
    up = np.full(G, 0.3)
    tgt = np.bincount(g, w * up[g], G) * rng.random(G)
    s = water_fill(w, g, tgt, o, up, G)
    for k in range(G):
        m = g == k
        lo, hi = -1.0, 2.0
        for _ in range(200):
            lam = (lo + hi) / 2
            lo, hi = (lam, hi) if (np.clip(lam + o[m], 0, up[k]) * w[m]).sum() < tgt[k] else (lo, lam)
        np.testing.assert_allclose(s[m], np.clip(hi + o[m], 0, up[k]), atol=1e-9)


def test_revenue_support_brings_cash_to_the_floor_and_sets_conditions(toy_model):
    m = toy_model("nhse_direct", demand_noise=0.0, efficiency_gap=-0.02, cash_floor_days=10.0)
    for _ in range(6):
        m.step()
        st = m.state
        floor = 10.0 / 365 * (st.spec_cost + st.other_cost)
        on = st.needs_support
        np.testing.assert_allclose(st.cash[on], floor[on])
        assert (st.cash[~on] >= floor[~on] - 1e-9).all()
        assert (st.on_recovery == on).all()
    assert m.state.pdc_total.sum() > 0
    assert cash_support(np.array([5.0, 50.0]), np.array([365.0, 365.0]), 10.0).tolist() == [5.0, 0.0]


def test_national_support_goes_to_last_years_deficits():
    got = share_support(3.0, np.array([2.0, 0.0, 4.0]))
    np.testing.assert_allclose(got, [1.0, 0.0, 2.0])
    np.testing.assert_allclose(share_support(100.0, np.array([2.0, 0.0, 4.0])), [2.0, 0.0, 4.0])


def test_fixed_costs_follow_plans_up_at_once_and_down_at_the_shed_rate(toy_model):
    m = toy_model("nhse_direct", demand_noise=0.0, cost_shed_rate=0.25)
    m.state.cash[:] = 1e6  # no trust near its cash floor: no recovery plan cuts capacity here
    m.step()
    st = m.state
    p, s = 0, list(m.data.service_id).index("cardiac")
    before = st.capacity[p, s]
    st.demand[:, s] *= 0.5  # half the demand (and need) from now on: the plan falls
    st.need[:, s] *= 0.5
    m.step()
    want = m.lines.dense(st.requested_load)[p, s] * 1.10
    assert st.cost_capacity[p, s] == pytest.approx(before - 0.25 * (before - want))
    assert st.cost_capacity[p, s] > want  # stranded fixed costs remain for a while
    st.demand[:, s] *= 3.0  # demand up: the plan rises, capacity and fixed costs follow (by at most 8%)
    st.need[:, s] *= 3.0
    before = st.capacity[p, s]
    m.step()
    want = m.lines.dense(st.requested_load)[p, s] * 1.10
    assert st.cost_capacity[p, s] == pytest.approx(min(want, before * 1.08))


def test_destabilisation_streaks_and_curve():
    margin = np.array([-0.03, -0.012, 0.01])
    streak = np.zeros((len(DESTAB_THRESHOLDS), 3), dtype=int)
    streak = update_streaks(update_streaks(streak, margin), margin)
    j1 = DESTAB_THRESHOLDS.index(0.01)
    j2 = DESTAB_THRESHOLDS.index(0.02)
    assert streak[j1].tolist() == [2, 2, 0]
    assert streak[j2].tolist() == [2, 0, 0]
    m = CommissioningModel("full_delegation", rng=2, collect_agent_data=False)
    m.run(6)
    curve = [m.summary()[c] for c in CURVE_MEASURES]
    assert all(a >= b for a, b in zip(curve, curve[1:]))  # a stricter threshold never counts more


def test_same_seed_same_demand_shocks_in_every_scenario(toy_seeds):
    demand = []
    for scen in ("nhse_direct", "full_delegation", "pan_icb"):
        m = CommissioningModel(scen, rng=11, seeds_path=toy_seeds, demand_noise=0.05, collect_agent_data=False)
        m.run(4)
        demand.append(m.state.demand.copy())
    np.testing.assert_allclose(demand[0], demand[1])
    np.testing.assert_allclose(demand[0], demand[2])


def test_effects_exist_with_noise_off_england():
    """With demand noise 0 and no cost dispersion, the arrangements still differ in financial measures."""
    out = {}
    for scen in ("nhse_direct", "full_delegation", "joint_committees", "pan_icb"):
        m = CommissioningModel(scen, rng=1, collect_agent_data=False, demand_noise=0.0, cost_dispersion=0.0)
        m.run(10)
        df = m.datacollector.get_model_vars_dataframe()
        out[scen] = (df["out_of_area_income_change"].mean(), df["provider_sector_surplus"].sum())
    assert out["full_delegation"][0] < out["nhse_direct"][0] - 0.005
    assert len({round(v[1], 3) for v in out.values()}) == 4


def test_water_fill_takes_protection_as_a_sparse_pair_and_one_upper_bound():
    rng = np.random.default_rng(7)
    n, G = 2000, 6
    g = rng.integers(0, G, n)
    w = rng.random(n)
    idx = np.flatnonzero(rng.random(n) < 0.05)
    o = np.zeros(n)
    o[idx] = rng.random(len(idx)) * 0.4
    tgt = np.bincount(g, w, G) * rng.random(G)
    full = water_fill(w, g, tgt, o, np.ones(G), G)
    sparse = water_fill(w, g, tgt, (idx, o[idx]), 1.0, G)
    np.testing.assert_allclose(sparse, full, atol=1e-12)
    np.testing.assert_allclose(np.bincount(g, sparse * w, G), tgt, rtol=1e-12)
    # the protected contracts get more than the unprotected ones of their group
    for k in range(G):
        prot = np.isin(np.arange(n), idx) & (g == k)
        if prot.any() and 0 < tgt[k]:
            assert sparse[prot].mean() >= sparse[(g == k) & ~prot].mean()
