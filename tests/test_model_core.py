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
    s = m.state
    # Every pound a commissioner pays is some provider's income.
    np.testing.assert_allclose(s.payments.sum(), s.line_income.sum(), rtol=1e-12)
    np.testing.assert_allclose(s.prov_income.sum(), s.payments.sum(), rtol=1e-12)
    np.testing.assert_allclose(s.group_spend.sum(), s.payments.sum(), rtol=1e-9)
    # Budgets close: spend + underspend + diversion + pool top-slice = the cells' budgets.
    np.testing.assert_allclose(s.group_spend.sum() + s.underspend + s.diverted_total + s.pool_topslice,
                               s.cell_budget.sum(), rtol=1e-9)
    # No commissioner spends more than its budget.
    assert (s.group_spend <= s.group_budget + 1e-6).all()
    # Regions pay stabilisation only from what their pools received.
    assert (s.pool >= -1e-9).all()
    # No negative flows or volumes; no capacity breach; closed lines deliver nothing.
    assert (s.delivered >= -1e-12).all() and (s.payments >= -1e-12).all()
    load = s.delivered.sum(axis=0)
    assert (load <= s.capacity_at_delivery + 1e-6).all()
    assert (s.share >= 0).all()
    # Delivered + unplaced + contract cuts account for all demand targeted.
    cells = m.lines.by_service(s.delivered)
    assert (cells <= s.demand + np.maximum(s.need - s.demand, 0) + 1e-6).all()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_invariants_hold_every_round(toy_model, scenario):
    m = toy_model(scenario, rng=3, cash_strapped_share=0.6, diversion_rate=0.5, home_bias=0.8,
                  repatriation_rate=0.2, funding_gap=0.01)
    for _ in range(8):
        m.step()
        check_round_invariants(m)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    home_bias=st.floats(0, 0.99),
    gap=st.floats(0, 0.05),
    diversion=st.floats(0, 1),
    scenario=st.sampled_from(SCENARIOS),
)
def test_invariants_property_based(toy_seeds, seed, home_bias, gap, diversion, scenario):
    m = CommissioningModel(scenario, rng=seed, seeds_path=toy_seeds, home_bias=home_bias, funding_gap=gap,
                           diversion_rate=diversion, cash_strapped_share=0.5)
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
    for name in ("total_spend", "out_of_area_share", "providers_in_distress", "services_withdrawn",
                 "unmet_need_share", "access_cv"):
        assert name in df.columns and len(df) == 3
    from commissim.model.agents import ICB, Provider

    icb = m.datacollector.get_agenttype_vars_dataframe(ICB)
    prov = m.datacollector.get_agenttype_vars_dataframe(Provider)
    assert {"budget", "spend_in_area", "spend_out_of_area"} <= set(icb.columns)
    assert {"income", "surplus", "reserves"} <= set(prov.columns)
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
    with pytest.raises(ParameterError, match="home_bias.*out of range"):
        CommissioningModel(seeds_path=toy_seeds, home_bias=1.5)
    with pytest.raises(ParameterError, match="unknown parameter 'home_bais'.*did you mean home_bias"):
        CommissioningModel(seeds_path=toy_seeds, home_bais=0.5)
    with pytest.raises(ParameterError, match="arrangement.*expected one of"):
        CommissioningModel(seeds_path=toy_seeds, arrangement="anarchy")
    with pytest.raises(ScenarioError, match="unknown scenario 'full_delegaton'.*did you mean 'full_delegation'"):
        CommissioningModel("full_delegaton", seeds_path=toy_seeds)
    with pytest.raises(ParameterError, match="withdrawal_rounds.*whole number"):
        CommissioningModel(seeds_path=toy_seeds, withdrawal_rounds=2.5)
    m = CommissioningModel(seeds_path=toy_seeds, rng="7")  # a seed typed into a text box
    assert m.run(1).steps == 1


def test_the_2024_split_comes_from_the_seed_data_with_a_clear_error(toy_seeds, tmp_path):
    """split_2024's full-delegation ICBs are data (icbs.csv delegated_2024), not names in a rule."""
    import shutil

    from commissim.model.data import read_seeds
    from commissim.model.errors import SeedDataError

    folder = tmp_path / "seeds"
    shutil.copytree(toy_seeds, folder)
    text = (folder / "icbs.csv").read_text().splitlines()
    assert text[0].split(",")[-1] == "delegated_2024" and text[1].endswith(",true")
    (folder / "icbs.csv").write_text("\n".join([text[0], text[1][: -len("true")] + "maybe", *text[2:]]) + "\n")
    with pytest.raises(SeedDataError, match=r"icbs.csv row 2, field 'delegated_2024': value 'maybe' is not true/false"):
        read_seeds(folder)
    (folder / "icbs.csv").write_text("\n".join(line.rsplit(",", 1)[0] for line in text) + "\n")
    with pytest.raises(SeedDataError, match=r"icbs.csv: missing column\(s\) delegated_2024"):
        read_seeds(folder)
    m = CommissioningModel("as_happened", rng=1, seeds_path=toy_seeds).run(2)  # 2024-25: the split
    deleg = m.state.delegated_cells.any(axis=1)
    held_by_icb = m.state.group_type[m.state.comm[deleg]] == 2
    assert deleg.any() and held_by_icb.any() and not held_by_icb.all()


def test_base_worlds_are_kept_with_their_seed_data(toy_seeds):
    """The base-year world is cached on the SeedData it was built from (not by id() in a global)."""
    from commissim.model.data import load_seeds, read_seeds
    from commissim.model.model import BASE_WORLDS_KEPT, base_world

    d = load_seeds(toy_seeds)
    w = base_world(d, 1.0, 0.15, 10.0)
    assert base_world(d, 1.0, 0.15, 10.0) is w
    other = read_seeds(toy_seeds)  # the same tables read again: another object, its own worlds
    assert base_world(other, 1.0, 0.15, 10.0) is not w
    np.testing.assert_array_equal(base_world(other, 1.0, 0.15, 10.0).flow0, w.flow0)
    for k in range(BASE_WORLDS_KEPT + 3):
        base_world(other, 0.5 + k / 100, 0.15, 10.0)
    assert len(other.derived["base_worlds"]) == BASE_WORLDS_KEPT
    assert base_world(d, 1.0, 0.15, 10.0) is w  # d's worlds are untouched
