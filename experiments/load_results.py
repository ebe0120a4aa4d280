"""Load a results folder back into pandas and print what it holds.

Run it from the project folder (after ``make install`` or ``pip install -e .``)::

    python experiments/load_results.py results/compare

(any folder written by ``commissim compare``, ``experiments/custom_grid.py`` or a
batch). In your own code::

    from commissim.experiments.batch import load_results
    res = load_results("results/compare")
    res.summaries   # one row per run: run_id, point, replicate, seed, scenario, parameters, measures
    res.series      # one row per run and financial year (round 0 = 2022-23)
    res.providers   # end-of-run income change per provider and run (when the model returns it)
    res.failures    # failed runs with their error and traceback (None if none failed)
    res.manifest    # configuration, per-run seeds, versions, git commit, times

The files are plain Parquet and CSV, so ``pandas.read_parquet("results/compare/summaries.parquet")``
works as well; an unfinished batch is loaded from its ``parts/`` folder.
"""

import sys

from commissim.experiments.batch import load_results

if __name__ == "__main__":
    folder = sys.argv[1] if len(sys.argv) > 1 else "results/compare"
    res = load_results(folder)
    cfg = res.manifest["config"]
    counts = res.manifest["counts"]
    print(f"{folder}: {res.manifest['kind']} of {len(res.manifest['design'])} design points x "
          f"{cfg['replicates']} seeds, {cfg['years']} years; {counts['done']} runs finished, "
          f"{counts['failed']} failed (status: {res.manifest['status']})")
    s = res.summaries
    measures = [c for c in ("providers_destabilised", "services_withdrawn", "income_change_p10", "access_gini",
                            "out_of_area_share", "unmet_need_share") if c in s.columns]
    if not s.empty and measures:
        print("\nmean of end-of-run measures by scenario:")
        print(s.groupby("scenario", sort=False)[measures].mean().round(3).to_string())
    if res.series is not None:
        print(f"\nseries: {len(res.series)} rows, years {res.series['year'].min()} to {res.series['year'].max()}")
    if res.failures is not None and len(res.failures):
        print(f"\nfailures ({len(res.failures)}):")
        print(res.failures[["run_id", "scenario", "error_type", "message"]].to_string(index=False))
