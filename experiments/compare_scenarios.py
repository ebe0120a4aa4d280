"""Compare the named scenarios from Python - the same as ``commissim compare``.

Run it from the project folder (after ``make install`` or ``pip install -e .``)::

    python experiments/compare_scenarios.py

It runs every named scenario for 30 seeds over 10 years on all CPUs and writes
``results/compare_script/`` (Parquet and CSV tables, manifest, figures, report.md).
Interrupt it whenever you like: running it again resumes where it stopped.
Copy this file and change the settings below to make your own comparison.
"""

from commissim.experiments.batch import load_results
from commissim.experiments.compare import compare, headline_text

# --- settings: edit these ------------------------------------------------------------
SCENARIOS = None  # None = every named scenario; or e.g. ["nhse_direct", "full_delegation", "pan_icb"]
SEEDS = 30  # seeds (replicates) per scenario
YEARS = 10  # funding rounds after the 2022-23 base year
PARAMETERS = {}  # overrides for every scenario, e.g. {"funding_growth": 0.03, "system_weight": 10.0}
OUT = "results/compare_script"


if __name__ == "__main__":  # the guard is needed: worker processes import this file
    folder = compare(scenarios=SCENARIOS, seeds=SEEDS, years=YEARS, parameters=PARAMETERS, out=OUT)
    results = load_results(folder, series=False, providers=False)
    print(headline_text(results.summaries, results.manifest, markdown=False))
    print(f"report: {folder / 'report.md'}")
