"""``commissim discover``: scenario discovery (PRIM with a CART check) on the model.

    commissim discover experiments/configs/discover_delegation.toml       # runs the Latin hypercube
    commissim discover SPACE.toml --outcome providers_destabilised --at-least 5 --n 500
    commissim discover SPACE.toml --box 4                                  # another box of the trajectory
    commissim discover --from results/sweep_sobol_delegation --outcome income_change_p10 --below -0.05

The work is :func:`commissim.experiments.discovery.discover_run` (same arguments; ``--from``
is ``from_folder=``); this module is its command line.
"""

from __future__ import annotations

import argparse

from .options import add_batch_options, command_line, non_negative_int, positive_int

# Options that do not change what is run (left out of the recorded command line).
NOT_RECORDED = ("overwrite", "no_figures", "no_progress")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  commissim discover experiments/configs/discover_delegation.toml\n"
        "  commissim discover SPACE.toml --outcome providers_destabilised --at-least 5 --n 500 --workers 4\n"
        "  commissim discover SPACE.toml --outcome income_change_p10 --below -0.05   # re-analyse, no new runs\n"
        "  commissim discover --from results/sweep_sobol_delegation --outcome providers_destabilised --above 4\n"
        "The space file is a sweep file (experiments/sensitivity/space.py) with an optional [discover] table\n"
        "(outcome, above/below/at_least/at_most, box, case_label); its method is ignored: discovery draws a\n"
        "Latin hypercube. Writes discovery.md (first line: the finding with coverage and density), discovery/\n"
        "(box limits with quasi-p-values, trajectory, CART rules) and figures/. Needs the optional extra:\n"
        "pip install 'commissim[discovery]'.\n"
        "Interrupted? Run the same command again: finished runs are kept and skipped."
    )
    parser.add_argument("space", nargs="?", metavar="SPACE.toml",
                        help="parameter-space file (the sweep format) whose Latin hypercube is run")
    parser.add_argument("--from", dest="from_folder", metavar="FOLDER",
                        help="reuse the sample and summaries of a finished sweep folder instead of running one")
    parser.add_argument("--outcome", metavar="NAME",
                        help="an end-of-run measure (e.g. providers_destabilised) or REPORTER:AGG "
                             "(e.g. providers_destabilised:max)")
    case = parser.add_mutually_exclusive_group()
    case.add_argument("--above", type=_number, metavar="X", help="a case of interest is a run with outcome > X")
    case.add_argument("--below", type=_number, metavar="X", help="... outcome < X")
    case.add_argument("--at-least", type=_number, metavar="X", help="... outcome >= X")
    case.add_argument("--at-most", type=_number, metavar="X", help="... outcome <= X")
    parser.add_argument("--box", type=non_negative_int, metavar="N",
                        help="choose box N of the peeling trajectory (default: the knee)")
    parser.add_argument("--case-label", metavar="TEXT",
                        help="how the finding names a case, e.g. 'full delegation destabilises 5 or more trusts'")
    parser.add_argument("--n", type=int, metavar="N", help="override the Latin hypercube's size n (per scenario)")
    parser.add_argument("--seeds", type=positive_int, metavar="R", help="override seeds per design point")
    parser.add_argument("--years", type=positive_int, metavar="Y", help="override funding rounds per run")
    parser.add_argument("--scenarios", metavar="A,B", help="override the scenarios (comma-separated)")
    parser.add_argument("--root-seed", type=non_negative_int, metavar="S", help="override the root seed")
    parser.add_argument("--posterior", metavar="DIR",
                        help="futures from a 'commissim calibrate' folder: row i of the Latin hypercube takes posterior "
                             "draw i for every parameter the space does not set")
    parser.add_argument("--out", metavar="FOLDER",
                        help="results folder (default results/discover_<name>; with --from, that folder)")
    add_batch_options(parser)


def run(args: argparse.Namespace) -> int:
    from ..discovery import DiscoveryError, MissingExtraError
    from ..errors import UserError

    try:
        from ..discovery import discover_run

        res = discover_run(
            args.space, from_folder=args.from_folder, outcome=args.outcome, above=args.above, below=args.below,
            at_least=args.at_least, at_most=args.at_most, box=args.box, case_label=args.case_label, out=args.out,
            n=args.n, seeds=args.seeds, years=args.years, scenarios=args.scenarios, root_seed=args.root_seed,
            executor=args.executor, workers=args.workers, scheduler=args.scheduler, chunk_size=args.chunk_size,
            overwrite=args.overwrite, figures=not args.no_figures, progress=False if args.no_progress else None,
            command=command_line(args, NOT_RECORDED), posterior=args.posterior,
        )
    except (DiscoveryError, MissingExtraError) as exc:  # one line, exit status 2 (like every input error)
        raise UserError(str(exc)) from None
    p = res.result.prim
    print(res.finding)
    print(f"box {p.chosen} of {len(p.trajectory)} ({'knee' if p.chosen_by == 'knee' else 'chosen'}): "
          f"coverage {p.coverage:.3f}, density {p.density:.3f}, mass {p.mass:.3f}; "
          f"{p.n_cases} cases of interest in {p.n_runs} runs")
    for lim in p.limits:
        print(f"  {lim.condition():50s} quasi-p {lim.quasi_p:.2g}")
    cart = res.result.cart
    print(f"CART check: accuracy {cart.accuracy:.3f}, recall {cart.recall:.3f} (in-sample); "
          + ("its strongest case rule uses the box's inputs" if res.result.cart_agrees
             else "its strongest case rule uses other inputs"))
    print(f"results: {res.out}")
    print(f"report: {res.report}")
    return 0
