"""The headline sensitivity question: which assumptions drive provider destabilisation and
out-of-area income under full delegation?

Run it from the project folder (after ``pip install -e .``)::

    python experiments/sobol_delegation.py                    # n = 256, 1 seed: 4,096 runs, ~3-8 min on 2 cores
    python experiments/sobol_delegation.py --n 1024 --workers 8
    python experiments/sobol_delegation.py --scheduler tcp://HOST:8786 --n 4096 --seeds 4

It runs the Sobol sweep in ``experiments/configs/sobol_delegation.toml`` (14 parameters: the
money after 2025-26, what a system in deficit does, NHS England's rules and providers' responses;
``full_delegation``, 10 years) through the run engine,
writes ``results/sweep_sobol_delegation/`` (per-run results, the SALib sample, index tables,
figures and ``sensitivity.md``) and prints the parameters with the largest total-effect
indices for each outcome.

Scaling up: the sweep has N x (D + 2) = 16 N design points, each run ``seeds`` times at
about 0.04-0.05 s a run. The confidence intervals shrink roughly as 1/sqrt(N): n = 1024
(16,384 runs) takes about 6 minutes on 2 idle cores or 1 on 16; keep N a power of 2.
Demand noise is 0 by default, so one seed per point is enough; with ``demand_noise`` set,
more seeds lower the model's own noise in the outcomes. Interrupted? Run the same command again: finished runs are kept. A bigger N is a
different sample, so give it its own ``--out`` folder (or ``--overwrite``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "configs" / "sobol_delegation.toml"


def main(argv: list[str] | None = None) -> int:
    from commissim.experiments.sensitivity import analyse, summary_text, sweep

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=None, help="Sobol base sample size (default 256 from the config)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per design point (default 2)")
    ap.add_argument("--out", default=None, help="results folder (default results/sweep_sobol_delegation)")
    ap.add_argument("--executor", choices=("processes", "serial", "dask"), default="processes")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default one per CPU)")
    ap.add_argument("--scheduler", default=None, help="an existing Dask cluster, tcp://HOST:8786")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--top", type=int, default=6, help="parameters to print per outcome")
    args = ap.parse_args(argv)

    out = sweep(CONFIG, args.out, n=args.n, seeds=args.seeds, executor=args.executor, workers=args.workers,
                scheduler=args.scheduler, overwrite=args.overwrite, analyse=False,
                command="python experiments/sobol_delegation.py")
    res = analyse(out)
    print(f"\nresults: {out}")
    print("Sobol total-effect (ST) and first-order (S1) indices, 95% bootstrap intervals:")
    print(summary_text(res, top=args.top))
    for f in res.figures:
        if "providers_destabilised" in f.name:
            print(f"figure: {f}")
    print(f"report: {out / 'sensitivity.md'}")
    return 0


if __name__ == "__main__":  # the guard is needed: worker processes import this file
    from commissim.experiments.errors import UserError

    try:
        raise SystemExit(main())
    except UserError as exc:
        raise SystemExit(f"sobol_delegation: error: {exc}") from None
