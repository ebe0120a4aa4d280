"""Robust policy search: the smallest pool and slowest pace that keep the 90th percentile of
destabilised trusts at or below 1.

Run it from the project folder (after ``make install`` or ``pip install -e '.[discovery]'``)::

    python experiments/search_stabilisation.py                     # 160 candidates x 30 futures: a few minutes on 2 cores
    python experiments/search_stabilisation.py --budget 480 --workers 8
    python experiments/search_stabilisation.py --scheduler tcp://HOST:8786 --budget 2000 --members 100

It runs the search in ``experiments/configs/search_stabilisation.toml``: under ``needs_based``,
Optuna's NSGA-II proposes settings of six levers (the regional stabilisation pool, the pace of
change to need-based budgets, the share of delegable lines kept national, NHS England's tolerance
of unequal cuts and its service specifications, protecting the last provider of a line); each is
run for 10 years on the same 30 futures (a Latin hypercube over funding growth, opening deficits,
how hard systems favour their own trusts, repatriation and providers' efficiency), with the same
seeds. It prints the cheapest policy (smallest pool) whose 90th percentile of trusts destabilised
in 2032-33 is at most 1, and writes ``results/search_stabilisation/``: ``search.md``,
``pareto.csv``, ``candidates.csv``, ``cheapest.json`` and ``figures/pareto_parallel.png``.

Interrupted? Run it again: finished candidate x future runs are kept and the sampler resumes.
``--budget`` larger than before extends a finished search.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "configs" / "search_stabilisation.toml"


def main(argv: list[str] | None = None) -> int:
    from commissim.experiments.discovery import search_run

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=None, help="candidates to evaluate (default 160 from the config)")
    ap.add_argument("--members", type=int, default=None, help="futures in the ensemble (default 30)")
    ap.add_argument("--out", default=None, help="results folder (default results/search_stabilisation)")
    ap.add_argument("--executor", choices=("processes", "serial", "dask"), default="processes")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default one per CPU)")
    ap.add_argument("--scheduler", default=None, help="an existing Dask cluster, tcp://HOST:8786")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    res = search_run(CONFIG, budget=args.budget, members=args.members, out=args.out, executor=args.executor,
                     workers=args.workers, scheduler=args.scheduler, overwrite=args.overwrite,
                     command="python experiments/search_stabilisation.py")
    r = res.result
    print()
    print(res.finding)
    feasible = r.candidates[r.candidates["feasible"]]
    print(f"  {len(r.candidates)} candidates, {len(feasible)} feasible, {len(r.pareto)} in the Pareto set")
    if len(r.pareto):
        cols = [lv.name for lv in r.levers] + [o.key for o in r.objectives if o.name not in
                                               {lv.name for lv in r.levers}] + [c.key for c in r.constraints]
        order = [r.cost] + [o.key for o in r.objectives if o.key != r.cost]
        print(r.pareto.sort_values(order)[cols].head(10).to_string(index=False))
    starts = r.candidates.head(len(res.spec.starts))
    for row in starts.itertuples():
        print(f"  start (candidate {row.candidate}): "
              + ", ".join(f"{lv.name} = {getattr(row, lv.name)}" for lv in r.levers if lv.name in
                          res.spec.starts[row.candidate])
              + f" -> {'meets' if row.feasible else 'misses'} the target "
              + ", ".join(f"({c.key} = {getattr(row, c.key):g})" for c in r.constraints))
    print(f"report: {res.report}")
    for name, path in res.files.items():
        if name.startswith("figure_"):
            print(f"figure: {path}")
    print(f"took {time.perf_counter() - t0:.0f} s ({res.n_runs} model runs)")
    return 0


if __name__ == "__main__":  # the guard is needed: worker processes import this file
    from commissim.experiments.errors import UserError

    try:
        raise SystemExit(main())
    except (UserError, ValueError) as exc:
        raise SystemExit(f"search_stabilisation: error: {exc}") from None
