"""The funding round on the toy world: accounting identities, invariants, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commissim.model import CommissioningModel
from commissim.model.errors import ParameterError, ScenarioError

SCENARIOS = ["nhse_direct", "full_delegation", "joint_committees", "pan_icb", "trailblazer", "needs_based",
             "as_happened", "icb_consolidation", "national_clawback"]


def check_round_invariants(m: CommissioningModel):
    """The ledger adds up (every term by its own rule: tests/test_money.py), and no flow breaks a bound."""
    from test_money import check_ledger

    check_ledger(m)
    s = m.state
    assert (s.share >= 0).all()
    cells = m.lines.by_service(s.delivered)
    assert (cells <= s.demand + np.maximum(s.need - s.demand, 0) + 1e-6).all()
    assert np.isfinite(s.cash).all() and np.isfinite(s.surplus).all()
    assert (s.capacity >= -1e-9).all() and not (s.capacity[~s.active] > 0).any()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_invariants_hold_every_round(toy_model, scenario):
    m = toy_model(scenario, rng=3, deficit_severity=2.0, system_weight=10.0, referral_shift=3.0,
                  funding_growth=0.01, ringfence="soft", diversion_limit=0.05, demand_noise=0.03)
    for _ in range(8):
        m.step()
        check_round_invariants(m)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    weight=st.floats(0, 20),
    growth=st.floats(0, 0.1),
    ringfence=st.sampled_from(["hard", "soft", "none"]),
    scenario=st.sampled_from(SCENARIOS),
)
def test_invariants_property_based(toy_seeds, seed, weight, growth, ringfence, scenario):
    m = CommissioningModel(scenario, rng=seed, seeds_path=toy_seeds, system_weight=weight, funding_growth=growth,
                           ringfence=ringfence, deficit_severity=2.0, demand_noise=0.05)
    for _ in range(5):
        m.step()
        check_round_invariants(m)


def test_same_rng_same_results_and_different_rng_differs(toy_model):
    a = toy_model("full_delegation", rng=42).run(6).datacollector.get_model_vars_dataframe()
    b = toy_model("full_delegation", rng=42).run(6).datacollector.get_model_vars_dataframe()
    c = toy_model("full_delegation", rng=43).run(6).datacollector.get_model_vars_dataframe()
    assert a.equals(b)
    assert not a.equals(c)


def test_base_year_flows_reproduce_provider_base_cases(toy_model):
    m = toy_model()
    np.testing.assert_allclose(m.dense("flow0").sum(axis=0), m.data.base_cases, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(m.lines.by_service(m.state.flow0), m.state.demand0, rtol=1e-9)
    assert m.measures["unmet_need_share"] < 1e-6


def test_reporters_and_agent_types_are_collected(toy_model):
    m = toy_model("full_delegation").run(2)
    df = m.datacollector.get_model_vars_dataframe()
    for name in ("total_spend", "out_of_area_share", "providers_needing_support", "providers_destabilised",
                 "provider_sector_surplus", "providers_in_deficit", "icb_sector_deficit", "specialist_trust_margin",
                 "lines_withdrawn", "services_withdrawn", "unmet_need_share", "access_cv"):
        assert name in df.columns and len(df) == 3
    from commissim.model.agents import ICB, Provider

    icb = m.datacollector.get_agenttype_vars_dataframe(ICB)
    prov = m.datacollector.get_agenttype_vars_dataframe(Provider)
    assert {"budget", "spend_in_area", "spend_out_of_area"} <= set(icb.columns)
    assert {"income", "surplus", "cash", "margin", "needs_support", "destabilised"} <= set(prov.columns)
    assert len(icb) == 3 * m.n_icbs and len(prov) == 3 * m.n_providers
    last = icb.xs(2.0, level=0) if 2.0 in icb.index.get_level_values(0) else icb.iloc[-m.n_icbs:]
    np.testing.assert_allclose((last["spend_in_area"] + last["spend_out_of_area"]).sum(),
                               m.state.payments.sum(), rtol=1e-9)


def test_mesa_scenario_attribute_is_left_alone(toy_model):
    import mesa.experimental.scenarios as mscen

    m = toy_model("pan_icb")
    assert m.policy.name == "pan_icb"
    assert isinstance(m.scenario, mscen.Scenario)


def test_bad_input_names_the_parameter(toy_seeds):
    with pytest.raises(ParameterError, match="system_weight.*out of range"):
        CommissioningModel(seeds_path=toy_seeds, system_weight=25)
    with pytest.raises(ParameterError, match="unknown parameter 'system_wieght'.*did you mean system_weight"):
        CommissioningModel(seeds_path=toy_seeds, system_wieght=0.5)
    with pytest.raises(ParameterError, match="ringfence.*expected one of hard, soft, none"):
        CommissioningModel(seeds_path=toy_seeds, ringfence="leaky")
    with pytest.raises(ParameterError, match="arrangement.*expected one of"):
        CommissioningModel(seeds_path=toy_seeds, arrangement="anarchy")
    with pytest.raises(ScenarioError, match="unknown scenario 'full_delegaton'.*did you mean 'full_delegation'"):
        CommissioningModel("full_delegaton", seeds_path=toy_seeds)
    with pytest.raises(ParameterError, match="withdrawal_rounds.*whole number"):
        CommissioningModel(seeds_path=toy_seeds, withdrawal_rounds=2.5)
    m = CommissioningModel(seeds_path=toy_seeds, rng="7")  # a seed typed into a text box
    assert m.run(1).steps == 1


def test_the_2024_split_and_the_waves_come_from_the_seed_data_with_a_clear_error(toy_seeds, tmp_path):
    """split_2024's delegated ICBs and the trailblazer waves are data (icbs.csv delegation_wave), not rules."""
    import shutil

    from commissim.model.data import read_seeds
    from commissim.model.errors import SeedDataError

    folder = tmp_path / "seeds"
    shutil.copytree(toy_seeds, folder)
    text = (folder / "icbs.csv").read_text().splitlines()
    col = text[0].split(",").index("delegation_wave")
    bad = text[1].split(",")
    bad[col] = "soon"
    (folder / "icbs.csv").write_text("\n".join([text[0], ",".join(bad), *text[2:]]) + "\n")
    with pytest.raises(SeedDataError, match=r"icbs.csv row 2, field 'delegation_wave': value 'soon' is not a number"):
        read_seeds(folder)
    m = CommissioningModel("as_happened", rng=1, seeds_path=toy_seeds).run(2)  # 2024-25: the split
    deleg = m.state.delegated_cells.any(axis=1)
    held_by_icb = m.state.group_type[m.state.comm[deleg]] == 2
    assert deleg.any() and held_by_icb.any() and not held_by_icb.all()
    np.testing.assert_array_equal(m.state.group_type[m.state.comm].max(axis=1)[deleg] == 2,
                                  m.data.delegation_wave[deleg] == 2)


def test_base_worlds_are_kept_with_their_seed_data(toy_seeds):
    """The base-year world is cached on the SeedData it was built from (not by id() in a global)."""
    from commissim.model.data import load_seeds, read_seeds
    from commissim.model.world import BASE_WORLDS_KEPT, base_world

    d = load_seeds(toy_seeds)
    w = base_world(d, 1.0, 0.15, 10.0, 1.0)
    assert base_world(d, 1.0, 0.15, 10.0, 1.0) is w
    other = read_seeds(toy_seeds)  # the same tables read again: another object, its own worlds
    assert base_world(other, 1.0, 0.15, 10.0, 1.0) is not w
    np.testing.assert_array_equal(base_world(other, 1.0, 0.15, 10.0, 1.0).flow0, w.flow0)
    for k in range(BASE_WORLDS_KEPT + 3):
        base_world(other, 0.5 + k / 100, 0.15, 10.0, 1.0)
    assert len(other.derived["base_worlds"]) == BASE_WORLDS_KEPT
    assert base_world(d, 1.0, 0.15, 10.0, 1.0) is w  # d's worlds are untouched
