"""Scenario discovery: when does full delegation destabilise 5 or more trusts?

Run it from the project folder (after ``make install`` or ``pip install -e '.[discovery]'``)::

    python experiments/discover_delegation.py                  # n = 2000 runs: ~3 minutes on 2 cores
    python experiments/discover_delegation.py --n 5000 --workers 8
    python experiments/discover_delegation.py --scheduler tcp://HOST:8786 --n 20000

It runs the Latin hypercube of ``experiments/configs/discover_delegation.toml`` (16 conditions:
the money after 2025-26, how systems in deficit behave, the delegation rules, how trusts respond)
under ``full_delegation`` for 10 years through the batch engine, and asks PRIM which conditions
concentrate the runs that end with 5 or more of the 109 trusts destabilised, with a CART tree as
a check. If 5 lies outside the range the runs reach (a model change could make that happen), it
takes the median of the outcome as the threshold instead and says so. It prints the finding (with
coverage and density) and writes ``results/discover_delegation/``: ``discovery.md``,
``discovery/`` (box limits with quasi-p-values, trajectory, CART rules, every run's case) and
``figures/`` (peeling trajectory, the box's scatter, CART tree).

Interrupted? Run it again: finished runs are kept. Asking another question of the same runs
(``--threshold``, or ``commissim discover ... --outcome NAME --above X``) runs nothing again.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "configs" / "discover_delegation.toml"
OUTCOME = "providers_destabilised"
THRESHOLD = 5  # "5 or more trusts"


def main(argv: list[str] | None = None) -> int:
    from commissim.experiments.batch import load_results
    from commissim.experiments.discovery import discover_run

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=None, help="runs in the Latin hypercube (default 2000 from the config)")
    ap.add_argument("--threshold", type=float, default=THRESHOLD, help="trusts destabilised (at least; default 5)")
    ap.add_argument("--box", type=int, default=None, help="a box of the peeling trajectory (default: the knee)")
    ap.add_argument("--out", default=None, help="results folder (default results/discover_delegation)")
    ap.add_argument("--executor", choices=("processes", "serial", "dask"), default="processes")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default one per CPU)")
    ap.add_argument("--scheduler", default=None, help="an existing Dask cluster, tcp://HOST:8786")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    common = dict(n=args.n, out=args.out, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                  command="python experiments/discover_delegation.py")
    # First the runs alone (and the outcome's observed range), then the question.
    try:
        res = discover_run(CONFIG, outcome=OUTCOME, at_least=args.threshold, box=args.box, overwrite=args.overwrite,
                           case_label=f"full delegation leaves {args.threshold:g} or more trusts destabilised in "
                                      "2032-33", **common)
    except ValueError as exc:  # DiscoveryError: the threshold is outside the range the runs reach, or constant
        if "outside the observed range" not in str(exc):
            raise
        folder = Path(args.out or "results/discover_delegation")
        y = load_results(folder, series=False, providers=False).summaries[OUTCOME]
        threshold = float(y.median())
        print(f"note: {args.threshold:g} trusts is outside the range the runs reach ({y.min():g} to {y.max():g}); "
              f"asking instead about runs with {threshold:g} or more (the median)")
        res = discover_run(CONFIG, outcome=OUTCOME, at_least=threshold, box=args.box,
                           case_label=f"full delegation leaves {threshold:g} or more trusts destabilised in 2032-33",
                           **common)
    p = res.result.prim
    print()
    print(res.finding)
    print(f"  box {p.chosen} ({p.chosen_by}): coverage {p.coverage:.2f}, density {p.density:.2f}, mass {p.mass:.2f}; "
          f"{p.n_cases} of {p.n_runs} runs are cases (base rate {p.base_rate:.2f})")
    for lim in p.limits:
        print(f"  {lim.condition():45s} quasi-p {lim.quasi_p:.2g}")
    cart = res.result.cart
    print(f"  CART check: accuracy {cart.accuracy:.2f}, recall {cart.recall:.2f}; "
          + ("agrees on the inputs" if res.result.cart_agrees else "uses other inputs: read both"))
    print(f"report: {res.report}")
    for name, path in res.files.items():
        if name.startswith("figure_"):
            print(f"figure: {path}")
    print(f"took {time.perf_counter() - t0:.0f} s ({res.seconds_runs:.0f} s in the batch engine: runs, or reading them back)")
    return 0


if __name__ == "__main__":  # the guard is needed: worker processes import this file
    from commissim.experiments.errors import UserError

    try:
        raise SystemExit(main())
    except UserError as exc:
        raise SystemExit(f"discover_delegation: error: {exc}") from None
