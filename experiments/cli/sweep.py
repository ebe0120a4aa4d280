"""``commissim sweep``: sensitivity sweeps (SALib) on a laptop or a Dask cluster.

    commissim sweep experiments/configs/sobol_delegation.toml               # local processes
    commissim sweep SPACE.toml --method morris --n 20 --seeds 2 --workers 4
    commissim sweep SPACE.toml --executor dask --workers 8                  # a LocalCluster of 8
    commissim sweep SPACE.toml --scheduler tcp://HOST:8786                  # an existing Dask cluster
    commissim sweep --analyse-only results/sweep_sobol_delegation          # re-analyse, no runs

The work is :func:`commissim.experiments.sensitivity.sweep` and
:func:`commissim.experiments.sensitivity.analyse`; this module is their command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..sensitivity.methods import METHODS
from .options import add_batch_options, command_line, examples, non_negative_int, positive_int

# Options that do not change what is run (left out of the recorded command line).
NOT_RECORDED = ("analyse_only", "overwrite", "no_figures", "no_progress")


def configure(parser: argparse.ArgumentParser) -> None:
    examples(parser, "commissim sweep experiments/configs/sobol_delegation.toml",
             "commissim sweep SPACE.toml --method morris --n 20 --outcomes providers_destabilised,access_gini",
             "commissim sweep SPACE.toml --executor dask --workers 8",
             "commissim sweep SPACE.toml --scheduler tcp://10.0.0.5:8786",
             "commissim sweep --analyse-only results/sweep_sobol_delegation",
             "(the space file format: experiments/sensitivity/space.py; scaling out: the README)")
    parser.add_argument("config", nargs="?", metavar="SPACE.toml",
                        help="parameter-space file (TOML): parameters with bounds or levels, scenarios, outcomes")
    parser.add_argument("--analyse-only", metavar="FOLDER",
                        help="re-run the analysis of a finished sweep folder (no model runs)")
    parser.add_argument("--method", choices=tuple(METHODS), help="override the file's method")
    parser.add_argument("--n", type=positive_int, metavar="N", help="override the sample size n")
    parser.add_argument("--seeds", type=positive_int, metavar="R", help="override seeds per design point")
    parser.add_argument("--years", type=positive_int, metavar="Y", help="override funding rounds per run")
    parser.add_argument("--root-seed", type=non_negative_int, metavar="S", help="override the root seed")
    parser.add_argument("--scenarios", metavar="A,B", help="override the scenarios (comma-separated)")
    parser.add_argument("--outcomes", metavar="M1,M2",
                        help="override the outcome measures (comma-separated summary measures or REPORTER:AGG)")
    parser.add_argument("--second-order", action="store_true", default=None,
                        help="Sobol: draw (or, with --analyse-only, analyse) second-order indices")
    parser.add_argument("--out", metavar="FOLDER", help="results folder (default results/sweep_<name>)")
    parser.add_argument("--posterior", metavar="DIR",
                        help="futures from a 'commissim calibrate' folder: every run takes the parameters the space "
                             "does not set from a posterior draw (the one its seed picks)")
    parser.add_argument("--draws", type=positive_int, metavar="K", help="posterior draws with --posterior (default 100)")
    add_batch_options(parser)


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings

    from ..errors import SweepWarning
    from ..sensitivity import analyse, summary_text, sweep
    from ..sensitivity.reliability import SayOnce

    # Every warning printed once, as one "warning: ..." line (not again by Python's warnings module).
    warnings.simplefilter("ignore", SweepWarning)
    say = SayOnce(lambda msg: print(msg, file=sys.stderr))
    if args.draws is not None and not args.posterior:
        raise UserError("--draws needs --posterior DIR (the calibration folder to draw from)")
    if args.analyse_only:
        if args.posterior:
            raise UserError("--posterior applies when the sweep runs; --analyse-only re-analyses the runs as they are")
        if args.config:
            raise UserError("give a sweep file or --analyse-only FOLDER, not both")
        folder = Path(args.analyse_only)
        res = analyse(folder, second_order=args.second_order, figures=not args.no_figures, log=say)
    else:
        if not args.config:
            raise UserError("give a parameter-space file, e.g. commissim sweep experiments/configs/"
                            "sobol_delegation.toml (or --analyse-only FOLDER)")
        folder = sweep(
            args.config, args.out, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
            overwrite=args.overwrite, method=args.method, n=args.n, seeds=args.seeds, years=args.years,
            scenarios=args.scenarios, outcomes=args.outcomes, second_order=args.second_order,
            root_seed=args.root_seed, chunk_size=args.chunk_size, analyse=False,
            progress=False if args.no_progress else None, command=command_line(args, NOT_RECORDED), log=say,
            posterior=args.posterior, draws=args.draws or 100,
        )
        res = analyse(folder, figures=not args.no_figures, log=say)
        print(f"results: {folder}")
    print(summary_text(res))
    print(f"report: {folder / 'sensitivity.md'}")
    return 0
