"""The Python API exactly as the README shows it."""

from __future__ import annotations

import importlib


def test_readme_python_snippet_runs(toy_seeds):
    import commissim.model.simulation  # noqa: F401 - importing the submodule first must not shadow the function

    mod = importlib.import_module("commissim.model")
    from commissim import CommissioningModel, simulate  # the documented entry point

    assert callable(simulate) and simulate is mod.simulate and CommissioningModel is mod.CommissioningModel
    m = CommissioningModel(scenario="full_delegation", rng=42, growth_cap=0.8, seeds_path=toy_seeds)
    m.run(3)
    summary = m.summary()
    assert summary["total_spend"] > 0
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 4
    out = simulate("needs_based", years=3, rng=1, pace_of_change=0.1, seeds_path=toy_seeds)
    assert out["scenario"] == "needs_based" and out["years"] == 3
