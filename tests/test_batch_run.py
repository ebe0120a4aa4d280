"""Mesa users' route: ``mesa.batch_run(CommissioningModel, ...)`` keeps working and agrees
with ``simulate`` run by run (same scenario, parameters and seed)."""

from __future__ import annotations

import warnings

import mesa
import pandas as pd
import pytest

from commissim.model import CommissioningModel
from commissim.model.simulation import simulate


def test_batch_run_drives_the_model_unchanged_and_matches_simulate(toy_seeds):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # nothing deprecated on this path
        res = mesa.batch_run(
            CommissioningModel,
            parameters={"scenario": ["nhse_direct", "full_delegation"], "growth_cap": [0.3, 0.9],
                        "seeds_path": [toy_seeds]},
            rng=[11, 12],
            number_processes=1,
            max_steps=4,
            data_collection_period=-1,
            display_progress=False,
        )
    df = pd.DataFrame(res)
    runs = df.drop_duplicates(["scenario", "growth_cap", "seed" if "seed" in df else "rng", "RunId"])
    assert len(runs) == 8
    assert {"total_spend", "providers_destabilised", "out_of_area_share"} <= set(df.columns)
    for _, row in runs.iterrows():
        seed = row["seed"] if "seed" in row else row["rng"]
        ref = simulate(row["scenario"], 4, int(seed), seeds_path=toy_seeds, growth_cap=row["growth_cap"])
        assert row["total_spend"] == pytest.approx(ref["total_spend"], rel=1e-12)
        assert row["out_of_area_share"] == pytest.approx(ref["out_of_area_share"], rel=1e-12)
