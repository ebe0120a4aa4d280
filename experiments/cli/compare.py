"""``commissim compare``: every named scenario (or a chosen few) for many seeds, one results folder.

    commissim compare                                   # all scenarios, 30 seeds, 10 years
    commissim compare --scenarios nhse_direct,full_delegation --seeds 10 --years 5
    commissim compare --set funding_growth=0.03 --out results/compare_growth3
    commissim compare --executor dask --workers 8       # a local Dask cluster
    commissim compare --scheduler tcp://HOST:8786       # an existing Dask cluster

The work is :func:`commissim.experiments.compare.compare`; this module is its command line.
"""

from __future__ import annotations

import argparse

from ..compare.comparison import DEFAULT_DRAWS, DEFAULT_OUT, DEFAULT_ROOT_SEED, DEFAULT_SEEDS, DEFAULT_YEARS
from .options import add_executor_options, command_line, examples, non_negative_int, parse_set_grid, positive_int

# Options that do not change what is run (left out of the recorded command line).
NOT_RECORDED = ("overwrite", "no_progress")


def configure(parser: argparse.ArgumentParser) -> None:
    examples(parser, "commissim compare",
             "commissim compare --scenarios nhse_direct,full_delegation --seeds 10 --years 5",
             "commissim compare --set funding_growth=0.03 --out results/compare_growth3 --workers 4",
             "commissim compare --scenarios nhse_direct,full_delegation --set system_weight=0,5,10 --seeds 10",
             "commissim compare --executor dask --workers 8")
    parser.add_argument("--scenarios", metavar="A,B,C",
                        help="comma-separated scenario names or scenario .toml files (default: every named "
                             "scenario; list them with 'commissim scenarios')")
    parser.add_argument("--seeds", type=positive_int, default=DEFAULT_SEEDS, metavar="R",
                        help=f"seeds (replicates) per scenario (default {DEFAULT_SEEDS})")
    parser.add_argument("--years", type=non_negative_int, default=DEFAULT_YEARS, metavar="N",
                        help=f"funding rounds (financial years) after 2022-23 (default {DEFAULT_YEARS})")
    parser.add_argument("--root-seed", type=non_negative_int, default=DEFAULT_ROOT_SEED, metavar="S",
                        help=f"root of every run's seed (default {DEFAULT_ROOT_SEED})")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="FOLDER",
                        help=f"results folder (default {DEFAULT_OUT}); an existing one is resumed")
    add_executor_options(parser)
    parser.add_argument("--set", dest="set_", action="append", default=[], metavar="NAME=VALUE[,VALUE...]",
                        help="parameter override for every scenario (repeatable), e.g. --set system_weight=10; "
                             "several values (--set system_weight=5,10 --set growth_cap=0.3,0.6) run every "
                             "combination for every scenario, as BehaviorSpace does")
    parser.add_argument("--posterior", metavar="DIR",
                        help="run every scenario over draws from a 'commissim calibrate' folder's posterior, crossed "
                             "with the seeds (the same draws and seeds in every scenario)")
    parser.add_argument("--draws", type=positive_int, default=None, metavar="K",
                        help=f"posterior draws with --posterior (default {DEFAULT_DRAWS})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing results folder instead of resuming it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..batch import load_results
    from ..compare import compare
    from ..compare.figures import relabel
    from ..compare.findings import findings, plain
    from ..compare.report import headline_text
    from ..errors import UserError

    if args.draws is not None and not args.posterior:
        raise UserError("--draws needs --posterior DIR (the calibration folder to draw from)")
    single, grid = parse_set_grid(args.set_)
    out = compare(
        posterior=args.posterior, draws=args.draws or DEFAULT_DRAWS,
        scenarios=args.scenarios, seeds=args.seeds, years=args.years, root_seed=args.root_seed, out=args.out,
        workers=args.workers, executor=args.executor, scheduler=args.scheduler, parameters=single, grid=grid,
        overwrite=args.overwrite, progress=False if args.no_progress else None,
        command=command_line(args, NOT_RECORDED),
    )
    res = load_results(out, series=False, providers=False)
    print(f"results: {out}")
    if not res.summaries.empty:
        print(headline_text(relabel(res.summaries, res.manifest), res.manifest, markdown=False))
    print(f"report: {out / 'report.md'}")
    found = findings(out)
    if found:
        print("findings:")
        for f in found:
            print(f"  - {plain(f)}")
    return 1 if res.manifest.get("counts", {}).get("failed", 0) else 0
