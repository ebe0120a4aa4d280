"""``commissim validate``: the model against the published figures it is fitted to and those it is not.

    commissim validate                      # as_happened 2022-23 to 2025-26, 30 seeds
    commissim validate --seeds 10 --out results/validate10

Prints the table and writes ``results/validate/validation.md``, ``validation.csv`` and
``figures/validation.png``. The work is :func:`commissim.experiments.validate.validate`.
"""

from __future__ import annotations

import argparse
import textwrap

from .options import add_executor_options, command_line, non_negative_int, positive_int

NOT_RECORDED = ("overwrite", "no_progress")


def configure(parser: argparse.ArgumentParser) -> None:
    from ..validate import DEFAULT_DRAWS, DEFAULT_OUT, DEFAULT_ROOT_SEED, DEFAULT_SEEDS

    parser.add_argument("--seeds", type=positive_int, metavar="R",
                        help=f"seeds (runs) of as_happened (default {DEFAULT_SEEDS}; with --posterior, seeds per "
                             "draw, default 1)")
    parser.add_argument("--root-seed", type=non_negative_int, default=DEFAULT_ROOT_SEED, metavar="S",
                        help=f"root of every run's seed (default {DEFAULT_ROOT_SEED})")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="FOLDER",
                        help=f"results folder (default {DEFAULT_OUT}); an existing one is resumed")
    parser.add_argument("--posterior", metavar="DIR",
                        help="posterior predictive checks: run draws from a 'commissim calibrate' folder's posterior")
    parser.add_argument("--draws", type=positive_int, default=None, metavar="K",
                        help=f"posterior draws with --posterior (default {DEFAULT_DRAWS})")
    add_executor_options(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing results folder instead of resuming it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..errors import UserError
    from ..validate import DEFAULT_DRAWS, DEFAULT_SEEDS, validate, with_unit

    if args.draws is not None and not args.posterior:
        raise UserError("--draws needs --posterior DIR (the calibration folder to draw from)")
    seeds = args.seeds or (1 if args.posterior else DEFAULT_SEEDS)
    out = validate(seeds=seeds, posterior=args.posterior, draws=args.draws or DEFAULT_DRAWS, out=args.out,
                   root_seed=args.root_seed, workers=args.workers,
                   executor=args.executor, scheduler=args.scheduler, overwrite=args.overwrite,
                   progress=False if args.no_progress else None, command=command_line(args, NOT_RECORDED))
    df = pd.read_csv(out / "validation.csv")
    for table in ("validation", "calibration"):
        t = df[df.table == table]
        print(f"\n{table} ({'not fitted' if table == 'validation' else 'fitted or by construction'}): "
              f"{int((t.verdict == 'pass').sum())} of {len(t)} pass")
        for _, r in t.iterrows():
            unit = "" if pd.isna(r["unit"]) else str(r["unit"])
            fact = textwrap.shorten(str(r["fact"]), 70, placeholder="…", break_on_hyphens=False)  # never mid-word
            print(f"  {r['verdict']:4s}  {fact:70s} {str(r['year']):8s} model {with_unit(r['model_mean'], unit):>18s}"
                  f"  published {with_unit(r['published'], unit):>18s}")
    if args.posterior:
        t = df[df.table == "validation"]
        print(f"\nposterior predictive (90% interval holds the published figure): "
              f"{int(t.in_90_predictive.fillna(False).astype(bool).sum())} of {len(t)} validation facts")
    print(f"\nreport: {out / 'validation.md'}")
    cal = df[df.table == "calibration"]
    return 0 if (cal.verdict != "FAIL").all() else 1
