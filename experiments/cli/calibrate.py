"""``commissim calibrate CONFIG.toml``: estimate the inputs with no public figure from the record (ABC-SMC).

    commissim calibrate experiments/configs/calibrate_record.toml                 # results/calibrate_record
    commissim calibrate my.toml --particles 200 --generations 4 --out results/calibrate_my --executor serial

Writes ``posterior.parquet``, ``calibration.md``, ``figures/``, pyabc's ``abc.db`` and ``manifest.json``;
interrupted, the same command resumes. The work is :func:`commissim.experiments.calibrate.calibrate_run`.
"""

from __future__ import annotations

import argparse

from .options import add_executor_options, command_line, examples, positive_int

NOT_RECORDED = ("overwrite", "no_progress", "no_figures")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG.toml",
                        help="calibration file: parameters with priors and reasons, facts of seeds/calibration.csv")
    parser.add_argument("--out", metavar="FOLDER",
                        help="results folder (default results/calibrate_<name>); an existing one is resumed")
    parser.add_argument("--particles", type=positive_int, metavar="N",
                        help="accepted particles per generation (default: the file's, else 1000)")
    parser.add_argument("--generations", type=positive_int, metavar="G",
                        help="at most this many generations (default: the file's, else 6); more extend a finished "
                             "calibration")
    add_executor_options(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing results folder")
    parser.add_argument("--no-figures", action="store_true", help="no figures")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    examples(parser, "commissim calibrate experiments/configs/calibrate_record.toml",
             "commissim calibrate experiments/configs/calibrate_record.toml --particles 200 --generations 3 "
             "--out results/calibrate_quick")


def run(args: argparse.Namespace) -> int:
    from ..calibrate import calibrate_run

    out = calibrate_run(args.config, args.out, particles=args.particles, generations=args.generations,
                        executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                        overwrite=args.overwrite, progress=False if args.no_progress else None,
                        figures=not args.no_figures, command=command_line(args, NOT_RECORDED))
    text = (out / "calibration.md").read_text().splitlines()
    table = [line for line in text if line.startswith("| `")]
    print(f"calibration: {out / 'calibration.md'}")
    for line in text:
        if line.startswith("- **"):
            print(line)
    print("\n".join(table))
    print(f"posterior: {out / 'posterior.parquet'}")
    return 0
