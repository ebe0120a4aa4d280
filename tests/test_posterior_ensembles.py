"""``--posterior DIR`` as the ensemble of futures of ``discover`` and ``search``: the runs take their other
parameters from weighted draws of a calibration's posterior (a hand-made one here, on the toy world)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("optuna")
pytest.importorskip("ema_workbench")

from commissim.experiments.discovery import discover_run, search_run  # noqa: E402


@pytest.fixture
def posterior(tmp_path):
    folder = tmp_path / "post"
    folder.mkdir()
    pd.DataFrame({"deficit_severity": [0.5, 1.0, 2.0], "cost_shed_rate": [0.1, 0.3, 0.6],
                  "weight": [0.2, 0.3, 0.5]}).to_parquet(folder / "posterior.parquet")
    (folder / "manifest.json").write_text(json.dumps({"kind": "calibrate", "config": {"name": "hand"},
                                                      "not_informed": ["cost_shed_rate"]}))
    return folder


def test_discover_draws_its_other_conditions_from_the_posterior(tmp_path, toy_seeds, posterior):
    path = tmp_path / "space.toml"
    path.write_text("\n".join(['name = "p"', 'method = "lhs"', "n = 80", "years = 5", "root_seed = 11",
                               'scenarios = ["full_delegation"]', 'outcomes = ["providers_destabilised"]',
                               "[parameters]", "efficiency_gap = { bounds = [-0.02, 0.02] }",
                               "system_weight = { bounds = [0.0, 20.0] }"]))
    res = discover_run(path, out=tmp_path / "d", outcome="providers_destabilised", at_least=3, executor="serial",
                       progress=False, figures=False, posterior=posterior, func_kwargs={"seeds_path": toy_seeds},
                       log=lambda m: None)
    m = json.loads((tmp_path / "d" / "manifest.json").read_text())
    sev = [d["overrides"]["deficit_severity"] for d in m["design"]]
    assert set(sev) <= {0.5, 1.0, 2.0} and len(set(sev)) >= 2
    assert m["not_informed"] == ["cost_shed_rate"]
    assert "posterior of calibration 'hand'" in (res.out / "discovery.md").read_text()


def test_search_members_are_posterior_draws(tmp_path, toy_seeds, posterior):
    levers = {"name": "p", "scenario": "full_delegation", "years": 1, "seed": 5, "budget": 4, "batch_size": 2,
              "levers": {"pool_share": {"bounds": [0.0, 0.05]}}, "ensemble": {"members": 4},
              "objectives": [{"measure": "providers_destabilised", "aggregate": "mean", "direction": "min"},
                             {"lever": "pool_share", "direction": "min"}]}
    res = search_run(levers, out=tmp_path / "s", executor="serial", progress=False, figures=False,
                     posterior=posterior, func_kwargs={"seeds_path": toy_seeds}, log=lambda m: None)
    ens = pd.read_csv(res.out / "ensemble.csv")
    assert set(ens["deficit_severity"]) <= {0.5, 1.0, 2.0} and "cost_shed_rate" in ens.columns
    assert "Ensemble over a posterior" in (res.out / "search.md").read_text()


def test_a_sweep_over_the_posterior_takes_each_runs_other_parameters_from_a_draw(tmp_path, toy_seeds, posterior):
    from commissim.experiments.sensitivity import sweep

    cfg = {"name": "p", "method": "lhs", "n": 6, "seeds": 2, "years": 1, "root_seed": 4,
           "scenarios": ["full_delegation"], "outcomes": ["providers_destabilised"],
           "parameters": {"efficiency_gap": {"bounds": [-0.02, 0.02]}}}
    folder = sweep(cfg, tmp_path / "sw", executor="serial", progress=False, figures=False, posterior=posterior,
                   draws=3, func_kwargs={"seeds_path": toy_seeds}, log=lambda m: None)
    m = json.loads((folder / "manifest.json").read_text())
    assert m["posterior"] and m["config"]["function"].endswith("posterior_simulate")
    assert "Over a posterior" in (folder / "sensitivity.md").read_text()
