"""A custom parameter grid over one scenario, run through the batch engine.

Run it from the project folder (after ``make install`` or ``pip install -e .``)::

    python experiments/custom_grid.py

It runs ``full_delegation`` over a 4 x 3 grid of ``system_weight`` (how strongly a
system in deficit favours providers in its own system) and ``funding_growth`` (yearly
growth of the national allocation after 2025-26), 3 seeds per grid point, 10 years,
and writes ``results/grid_system_weight_funding_growth/``. It then prints the mean
out-of-area income change for every grid point.

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
    "system_weight": [0.0, 5.0, 10.0, 20.0],
    "funding_growth": [0.03, 0.05, 0.07],
}
SEEDS = 3  # demand noise is 0 by default: seeds vary only providers' cost efficiency draws
YEARS = 10
OUT = "results/grid_system_weight_funding_growth"


def design_points(scenario: str, grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, as design points of one scenario."""
    names = list(grid)
    return [{"scenario": scenario, **dict(zip(names, values))} for values in itertools.product(*grid.values())]


if __name__ == "__main__":  # the guard is needed: worker processes import this file
    design = design_points(SCENARIO, GRID)
    result = run_batch(design, runner=model_runner(), out=OUT, replicates=SEEDS, years=YEARS, label="grid",
                       series=False)  # summaries only: smaller and faster for big grids
    summaries = load_results(result.out, series=False).summaries
    table = summaries.pivot_table(index="system_weight", columns="funding_growth", values="out_of_area_income_change",
                                  aggfunc="mean") * 100
    print(f"{result.n_done} runs finished, {result.n_failed} failed; results in {result.out}")
    print("mean out-of-area income change in the final year, % (rows: system_weight, columns: funding_growth)")
    print(table.round(1).to_string())
