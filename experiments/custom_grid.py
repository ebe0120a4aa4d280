"""A custom parameter grid over one scenario, run through the batch engine.

Run it from the project folder (after ``make install`` or ``pip install -e .``)::

    python experiments/custom_grid.py

It runs ``full_delegation`` over a 4 x 3 grid of ``home_bias`` (how strongly ICBs
cut out-of-area contracts first) and ``funding_gap`` (yearly shortfall of the
national envelope), 10 seeds per grid point, 10 years, and writes
``results/grid_home_bias_funding_gap/``. It then prints the mean number of
providers destabilised in the final year for every grid point.

Each grid point is a *design point*: a dict with the scenario and the parameters
that differ from it. The engine validates the whole grid before any run starts,
gives every run its own seed (``SeedSequence(root_seed, spawn_key=(point, replicate))``),
writes results as runs finish and resumes if interrupted. List the parameters and
their ranges with ``python -c "from commissim.model.params import describe; print(describe())"``.
"""

import itertools

from commissim.experiments.batch import load_results, run_batch
from commissim.experiments.model_runs import model_runner

SCENARIO = "full_delegation"
GRID = {
    "home_bias": [0.2, 0.4, 0.6, 0.8],
    "funding_gap": [0.0, 0.01, 0.02],
}
SEEDS = 10
YEARS = 10
OUT = "results/grid_home_bias_funding_gap"


def design_points(scenario: str, grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, as design points of one scenario."""
    names = list(grid)
    return [{"scenario": scenario, **dict(zip(names, values))} for values in itertools.product(*grid.values())]


if __name__ == "__main__":  # the guard is needed: worker processes import this file
    design = design_points(SCENARIO, GRID)
    result = run_batch(design, runner=model_runner(), out=OUT, replicates=SEEDS, years=YEARS, label="grid",
                       series=False)  # summaries only: smaller and faster for big grids
    summaries = load_results(result.out, series=False).summaries
    table = summaries.pivot_table(index="home_bias", columns="funding_gap", values="providers_destabilised",
                                  aggfunc="mean")
    print(f"{result.n_done} runs finished, {result.n_failed} failed; results in {result.out}")
    print("mean providers destabilised in the final year (rows: home_bias, columns: funding_gap)")
    print(table.round(1).to_string())
