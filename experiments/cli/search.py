"""``commissim search``: robust policy search (Optuna NSGA-II or TPE) over an ensemble of conditions.

    commissim search experiments/configs/search_stabilisation.toml          # local processes
    commissim search LEVERS.toml --budget 64 --members 20 --workers 4
    commissim search LEVERS.toml --executor dask --workers 8                # a LocalCluster of 8
    commissim search LEVERS.toml --scheduler tcp://HOST:8786                # an existing Dask cluster

The work is :func:`commissim.experiments.discovery.search_run` (same arguments); this module is
its command line.
"""

from __future__ import annotations

import argparse

from .options import add_batch_options, command_line, int_at_least, non_negative_int, positive_int

# Options that do not change what is run (left out of the recorded command line).
NOT_RECORDED = ("overwrite", "no_figures", "no_progress")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  commissim search experiments/configs/search_stabilisation.toml\n"
        "  commissim search LEVERS.toml --budget 64 --batch-size 16 --members 20 --workers 4\n"
        "  commissim search LEVERS.toml --scheduler tcp://10.0.0.5:8786\n"
        "The levers file names levers (model parameters with bounds or levels), the ensemble of uncertain\n"
        "conditions (a Latin hypercube of members, the same for every candidate, with the same seeds),\n"
        "objectives (a measure aggregated over the ensemble: mean, median, min, max or pNN; or a lever),\n"
        "constraints such as \"p90(providers_destabilised) <= 1\" and the cost objective: see\n"
        "experiments/discovery/policy.py and experiments/configs/search_stabilisation.toml. Writes search.md\n"
        "(first line: the cheapest feasible policy), pareto.csv, candidates.csv, cheapest.json and\n"
        "figures/pareto_parallel.png. Needs the optional extra: pip install 'commissim[discovery]'.\n"
        "Interrupted? Run the same command again: finished candidate x member runs are kept, and the\n"
        "sampler resumes from search.sqlite3. A larger --budget extends a finished search."
    )
    parser.add_argument("levers", metavar="LEVERS.toml", help="levers file (TOML): levers, ensemble, objectives")
    parser.add_argument("--budget", type=positive_int, metavar="N", help="override the candidates to evaluate")
    parser.add_argument("--batch-size", type=int_at_least(2), metavar="B",
                        help="override candidates per batch (NSGA-II's population)")
    parser.add_argument("--members", type=positive_int, metavar="M", help="override the ensemble's size")
    parser.add_argument("--posterior", metavar="DIR",
                        help="futures from a 'commissim calibrate' folder: member m takes posterior draw m for "
                             "every parameter that is not a lever, fixed or in [ensemble.parameters]")
    parser.add_argument("--sampler", choices=("nsga2", "tpe"), help="override the sampler")
    parser.add_argument("--seed", type=non_negative_int, metavar="S",
                        help="override the seed (ensemble sample, runs' seeds, sampler)")
    parser.add_argument("--years", type=positive_int, metavar="Y", help="override funding rounds per run")
    parser.add_argument("--out", metavar="FOLDER", help="results folder (default results/search_<name>)")
    add_batch_options(parser)


def run(args: argparse.Namespace) -> int:
    from ..discovery import DiscoveryError, MissingExtraError
    from ..errors import UserError

    try:
        from ..discovery import search_run

        res = search_run(
            args.levers, out=args.out, budget=args.budget, batch_size=args.batch_size, members=args.members,
            sampler=args.sampler, seed=args.seed, years=args.years, executor=args.executor, workers=args.workers,
            scheduler=args.scheduler, chunk_size=args.chunk_size, overwrite=args.overwrite,
            figures=not args.no_figures, progress=False if args.no_progress else None,
            command=command_line(args, NOT_RECORDED), posterior=args.posterior,
        )
    except (DiscoveryError, MissingExtraError) as exc:  # one line, exit status 2 (like every input error)
        raise UserError(str(exc)) from None
    r = res.result
    print(res.finding)
    print(f"{len(r.candidates)} candidates evaluated on {r.n_members} ensemble members; "
          f"{int(r.candidates['feasible'].sum())} feasible, {len(r.pareto)} in the Pareto set; "
          f"{res.n_runs} model runs in {res.seconds_total:.0f} s")
    print(f"results: {res.out}")
    print(f"report: {res.report}")
    return 0
