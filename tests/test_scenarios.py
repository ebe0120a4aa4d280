"""Scenario files, their validation, the CLI, and behaviour across scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from commissim.experiments.cli import main as cli
from commissim.model import CommissioningModel
from commissim.model.errors import ScenarioError
from commissim.model.scenarios import list_scenarios, load_scenario, parse_scenario
from commissim.model.simulation import simulate

BRIEF = {"nhse_direct", "full_delegation", "joint_committees", "trailblazer", "pan_icb", "needs_based",
         "as_happened", "icb_consolidation", "national_clawback", "transplant_dialysis"}


def test_every_scenario_of_the_brief_is_listed_with_description_and_source():
    found = {s.name: s for s in list_scenarios()}
    assert BRIEF <= set(found)
    for s in found.values():
        assert s.description and s.source


@pytest.mark.parametrize("name", sorted(BRIEF))
def test_every_scenario_runs_from_python_and_keeps_hss_national(name, toy_seeds):
    m = CommissioningModel(name, rng=2, seeds_path=toy_seeds).run(6)
    hss = m.data.tier == 0
    assert (m.state.comm[:, hss] == 0).all()  # highly specialised lines stay with the national commissioner
    assert m.measures["spend_national"] > 0
    assert np.isfinite(list(m.summary().values())).all()


@pytest.mark.parametrize("name", ["nhse_direct", "as_happened"])
def test_every_scenario_runs_from_the_cli(name, tmp_path, capsys):
    assert cli(["run", "--scenario", name, "--years", "2", "--seed", "3", "--out", str(tmp_path / name)]) == 0
    for f in ("series.csv", "providers.csv", "summary.json", "run.png", "manifest.json"):
        assert (tmp_path / name / f).stat().st_size > 0


def test_cli_lists_scenarios(capsys):
    assert cli(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in BRIEF:
        assert name in out


def _toml(**over):
    base = {"name": '"mine"', "description": '"my scenario"', "source": '"assumption"'}
    base.update(over)
    return "\n".join(f"{k} = {v}" for k, v in base.items())


@pytest.mark.parametrize(
    "text, pattern",
    [
        (_toml() + "\ncolour = 'red'", r"unknown key\(s\) 'colour'"),
        (_toml() + "\n[parameters]\ngrowth_cap = 'high'", r"growth_cap.*'high' is not allowed"),
        (_toml() + "\n[parameters]\ngrowth_cap = 1.5", r"growth_cap.*out of range; allowed 0.0 to 1.0"),
        (_toml() + "\n[parameters]\ngrowth_cpa = 0.5", r"unknown parameter 'growth_cpa'.*did you mean growth_cap"),
        (_toml() + "\n[parameters]\narrangement = 'anarchy'", r"arrangement.*expected one of nhse_direct"),
        (_toml() + "\n[[changes]]\nyear = 2019\ngrowth_cap = 0.5", r"'year' value 2019 is out of range"),
        (_toml() + "\n[[changes]]\nyear = '2025-27'\ngrowth_cap = 0.5", r"not a financial year"),
        (_toml() + "\n[[changes]]\ngrowth_cap = 0.5", r"missing key 'year'"),
        (_toml(name='"Bad Name"'), r"lower_snake_case"),
        ("name = ", r"not valid TOML"),
    ],
)
def test_scenario_validation_names_key_value_and_what_is_allowed(text, pattern):
    with pytest.raises(ScenarioError, match=pattern):
        parse_scenario(text, origin="mine.toml")


def test_unknown_scenario_name_lists_the_valid_ones():
    with pytest.raises(ScenarioError) as err:
        load_scenario("fully_delegated")
    for name in BRIEF:
        assert name in str(err.value)


def test_a_copied_and_edited_scenario_file_runs_with_its_timeline(tmp_path, toy_seeds):
    f = tmp_path / "my_delegation.toml"
    f.write_text(_toml(name='"my_delegation"') + """
[parameters]
arrangement = "delegated"
growth_cap = 0.2

[[changes]]
year = "2025-26"
growth_cap = 0.95
""")
    m = CommissioningModel(str(f), rng=1, seeds_path=toy_seeds)
    m.run(2)
    assert m.p["growth_cap"] == 0.2
    m.run(1)
    assert m.year == 2025 and m.p["growth_cap"] == 0.95
    # A keyword given by the user wins over the scenario's timeline.
    u = CommissioningModel(str(f), rng=1, seeds_path=toy_seeds, growth_cap=0.5).run(4)
    assert u.p["growth_cap"] == 0.5


def test_cli_reports_bad_scenario_file_without_traceback(tmp_path, capsys):
    f = tmp_path / "broken.toml"
    f.write_text(_toml() + "\n[parameters]\ngrowth_cap = 7")
    assert cli(["run", "--scenario", str(f), "--years", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "growth_cap" in err and "out of range" in err and "Traceback" not in err


# --- the causal chain, end to end on the England data, over paired seeds, noise off ------------
@pytest.mark.slow
def test_stressed_systems_under_delegation_cut_out_of_area_income():
    """With deeper system deficits, out-of-area specialist income (mean over the years) falls under full
    delegation and not under NHS England direct commissioning; joint committees (NHS England's consent)
    sit in between. Paired by seed: same cost draws, same demand."""
    pressure = dict(deficit_severity=2.0, demand_noise=0.0)

    def mean_path(sc, seed):
        return float(np.mean(simulate(sc, 10, seed, series=True, **pressure)["series"]["out_of_area_income_change"][1:]))

    res = {sc: np.array([mean_path(sc, seed) for seed in range(6)])
           for sc in ("nhse_direct", "full_delegation", "joint_committees")}
    assert (res["full_delegation"] < res["nhse_direct"] - 0.01).all()
    assert res["full_delegation"].mean() < res["joint_committees"].mean() <= res["nhse_direct"].mean() + 1e-9


@pytest.mark.slow
def test_the_system_objective_is_what_hurts_out_of_area_providers():
    """Switch off what a stressed system does (referral shifts, local starts, growth caps, protection) and
    delegation loses its out-of-area effect."""
    off = dict(referral_shift=0.0, local_start_share=0.0, growth_cap=0.0, system_weight=0.0, demand_noise=0.0)
    on = [simulate("full_delegation", 8, s)["out_of_area_income_change"] for s in range(4)]
    without = [simulate("full_delegation", 8, s, **off)["out_of_area_income_change"] for s in range(4)]
    direct = [simulate("nhse_direct", 8, s)["out_of_area_income_change"] for s in range(4)]
    assert (np.array(on) < np.array(without) - 0.005).all()
    np.testing.assert_allclose(without, direct, atol=0.005)


@pytest.mark.slow
def test_needs_based_allocation_narrows_access_inequality():
    g = {sc: np.mean([simulate(sc, 10, s)["access_gini"] for s in range(4)]) for sc in ("full_delegation",
                                                                                           "needs_based")}
    assert g["needs_based"] < 0.8 * g["full_delegation"]


def test_joint_transplant_dialysis_commissioning_invests_upstream():
    a = CommissioningModel("full_delegation", rng=4).run(8)
    b = CommissioningModel("transplant_dialysis", rng=4).run(8)
    ids = list(a.data.service_id)
    dia, tx = ids.index("renal_dialysis"), ids.index("kidney_transplant")
    assert b.state.demand[:, tx].sum() > 1.05 * a.state.demand[:, tx].sum()  # more transplants a year
    assert b.state.demand[:, dia].sum() < 0.95 * a.state.demand[:, dia].sum()  # fewer on dialysis
    assert b.state.transplants_funded > 0
    # Money still balances: every pound paid is a provider's income.
    np.testing.assert_allclose(b.state.payments.sum(), b.state.spec_income.sum(), rtol=1e-12)


def test_same_parameter_twice_in_one_year_is_refused():
    text = _toml() + "\n[[changes]]\nyear = 2025\ngrowth_cap = 0.5\n[[changes]]\nyear = '2025-26'\ngrowth_cap = 0.2"
    with pytest.raises(ScenarioError, match="'growth_cap' already set for 2025-26"):
        parse_scenario(text, origin="dup.toml")


def test_booleans_must_be_booleans():
    with pytest.raises(ScenarioError, match="protect_last_provider.*expected true or false"):
        parse_scenario(_toml() + "\n[parameters]\nprotect_last_provider = 1", origin="b.toml")
    with pytest.raises(ScenarioError, match="withdrawal_rounds.*expected a whole number"):
        parse_scenario(_toml() + "\n[parameters]\nwithdrawal_rounds = true", origin="b.toml")


def test_cli_refuses_bad_run_options_without_traceback(tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    assert cli(["run", "--years", "1", "--out", str(f)]) == 2
    assert "is a file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["run", "--seed", "-5"])
    assert "expected a whole number >= 0" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'name = "x\xff"\n')
    assert cli(["run", "--years", "1", "--scenario", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "cannot be read as UTF-8" in capsys.readouterr().err


def test_compare_refuses_to_override_what_defines_a_scenario(tmp_path, capsys):
    rc = cli(["compare", "--scenarios", "nhse_direct,full_delegation", "--seeds", "1", "--years", "1",
              "--set", "arrangement=delegated", "--out", str(tmp_path / "c")])
    assert rc == 2
    assert "define what a scenario is" in capsys.readouterr().err


def test_a_change_of_a_setup_parameter_is_refused_naming_it_and_the_year():
    text = ('name = "x"\ndescription = "d"\nsource = "s"\n[parameters]\narrangement = "delegated"\n'
            '[[changes]]\nyear = "2024-25"\ndeficit_severity = 2.0\n')
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, origin="x.toml")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "x.toml [[changes]] #1: parameter 'deficit_severity' is read once" in msg and "2024-25" in msg
    assert "[parameters]" in msg
    ok = parse_scenario(text.replace("[[changes]]\nyear", "[[changes]]\ngrowth_cap = 0.3\nyear").replace(
        "deficit_severity = 2.0\n", ""), origin="x.toml")
    assert ok.changes == ((2024, {"growth_cap": 0.3}),)


@pytest.mark.parametrize("name", sorted(__import__("commissim.model.params", fromlist=["x"]).SETUP_PARAMS))
def test_setup_parameters_really_are_read_only_at_setup(name, toy_seeds):
    """Why they are refused in [[changes]]: changing one after the base year changes nothing."""
    from commissim.model.params import PARAM_BY_NAME
    from commissim.model.scenarios import PolicyScenario

    spec = PARAM_BY_NAME[name]
    other = spec.high if spec.default != spec.high else spec.low
    base = load_scenario("full_delegation")
    changed = PolicyScenario(base.name, base.description, base.source, base.parameters, ((2024, {name: other}),))
    a = CommissioningModel(base, rng=3, seeds_path=toy_seeds).run(4)
    b = CommissioningModel(changed, rng=3, seeds_path=toy_seeds).run(4)
    assert b.p[name] == other  # the change was applied to the parameters in force...
    assert a.summary() == b.summary()  # ...and had no effect
    # ...although set from the base year it changes the world the model builds (so the check above is not empty)
    built = [CommissioningModel(base, rng=3, seeds_path=toy_seeds, **kw).state for kw in ({}, {name: other})]
    differs = [k for k, v in vars(built[0]).items()
               if isinstance(v, np.ndarray) and not np.array_equal(v, getattr(built[1], k))]
    assert differs, f"{name} set from the base year changed no state array"
