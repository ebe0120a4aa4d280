"""``commissim sweep``: sensitivity sweeps (SALib) on a laptop or a Dask cluster.

From the shell::

    commissim sweep experiments/configs/sobol_delegation.toml               # local processes
    commissim sweep SPACE.toml --method morris --n 20 --seeds 2 --workers 4
    commissim sweep SPACE.toml --executor dask --workers 8                  # a LocalCluster of 8
    commissim sweep SPACE.toml --scheduler tcp://HOST:8786                  # an existing Dask cluster
    commissim sweep --analyse-only results/sweep_sobol_delegation          # re-analyse, no runs

From Python::

    from commissim.experiments.sweep import sweep
    folder = sweep("experiments/configs/sobol_delegation.toml", n=64, executor="dask", workers=2)

A sweep is a batch of the run engine (:mod:`experiments.engine`): one design point per
sample row and scenario, ``seeds`` replicates each, with the engine's per-run seeds
(``SeedSequence(root_seed, spawn_key=(point, replicate))``), streaming Parquet parts,
resume, failure records and manifest. The results of a sweep are therefore identical, run
by run, on any executor and any number of workers; an interrupted sweep resumes where it
stopped when the same command is run again.

The space file format and the one mapping of integer, categorical and boolean parameters
are described in :mod:`experiments.space`; the analysis in :mod:`experiments.sensitivity`.
The folder gets, besides the engine's tables: ``sweep.json`` (definition, SALib problems,
method settings), ``samples/<scenario>.npy`` and ``.csv`` (the unit sample ``X`` and the
mapped values), ``sensitivity/`` tables, ``figures/`` and ``sensitivity.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from commissim.experiments.cli import UserError

__all__ = ["sweep", "prepare", "configure", "run"]

DEFAULT_OUT_PREFIX = "results/sweep_"


def prepare(spec) -> tuple[list[dict], dict[str, Any], dict[str, Any]]:
    """(design points, per-scenario info for sweep.json, samples by scenario) of a checked spec."""
    from commissim.experiments.space import design_for, draw_sample

    design: list[dict] = []
    info: dict[str, Any] = {}
    samples: dict[str, Any] = {}
    for scen in spec.scenarios:
        X = draw_sample(spec, scen)
        pts = design_for(spec, scen, X)
        info[scen] = {"problem": spec.problem(scen), "points": [len(design), len(pts)],
                      "sample": f"samples/{scen}.npy"}
        samples[scen] = (X, pts)
        design.extend(pts)
    return design, info, samples


def _write_sweep_files(out: Path, spec, info: dict, samples: dict) -> None:
    import numpy as np
    import pandas as pd

    from commissim.experiments.engine import atomic_write_text

    (out / "samples").mkdir(exist_ok=True)
    for scen, (X, pts) in samples.items():
        tmp = out / "samples" / f".{scen}.npy.tmp"
        with open(tmp, "wb") as fh:
            np.save(fh, X)
        tmp.replace(out / "samples" / f"{scen}.npy")
        first = info[scen]["points"][0]
        names = info[scen]["problem"]["names"]
        frame = pd.DataFrame(X, columns=[f"u_{n}" for n in names])
        values = pd.DataFrame([{n: p[n] for n in names} for p in pts])
        frame = pd.concat([values, frame], axis=1)
        frame.insert(0, "point", range(first, first + len(pts)))
        frame.to_csv(out / "samples" / f"{scen}.csv", index=False)
    doc = {
        "commissim_sweep": 1,
        "spec": spec.to_dict(),
        "scenarios": info,
        "mapping": "SALib samples the unit hypercube; experiments.space.map_unit maps u to model values: floats "
                   "by the distribution's inverse CDF, ints floor(low + u(high-low+1)) clipped to high, levels "
                   "levels[min(floor(u k), k-1)]. Analyses use the unit sample X.",
        "outcome_rule": "each design point's outcome is the mean over its seeds; 'measure' = end-of-run summary "
                        "measure, 'reporter:agg' = agg over the yearly series (rounds 1..years)",
    }
    atomic_write_text(out / "sweep.json", json.dumps(doc, indent=2, default=str))


def sweep(
    config: str | Path | dict,
    out: str | Path | None = None,
    *,
    executor: Any = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    method: str | None = None,
    n: int | None = None,
    seeds: int | None = None,
    years: int | None = None,
    scenarios: Sequence[str] | str | None = None,
    outcomes: Sequence[str] | str | None = None,
    second_order: bool | None = None,
    root_seed: int | None = None,
    chunk_size: int | None = None,
    analyse: bool = True,
    figures: bool = True,
    progress: bool | None = None,
    func: Callable[..., dict] | None = None,
    func_kwargs: dict[str, Any] | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Run a sensitivity sweep and analyse it; return the results folder.

    ``config``: a sweep file (TOML, see :mod:`experiments.space`) or a dict of the same
    shape; ``method``, ``n``, ``seeds``, ``years``, ``scenarios``, ``outcomes``,
    ``second_order`` and ``root_seed`` override the file. ``out`` defaults to
    ``results/sweep_<name>``; an existing folder of the same sweep is resumed.
    ``executor``: ``"processes"`` (default; ``workers`` processes), ``"serial"``, ``"dask"``
    (a LocalCluster of ``workers`` processes on 127.0.0.1), or any
    ``concurrent.futures.Executor``; ``scheduler="tcp://HOST:8786"`` runs on an existing
    Dask cluster. ``func``/``func_kwargs``: the run function (default
    ``model.simulation.simulate``) and fixed keywords for it (e.g. ``seeds_path``).
    """
    from commissim.experiments.engine import MANIFEST_NAME, run_batch
    from commissim.experiments.executors import open_executor
    from commissim.experiments.space import SweepWarning, load_spec

    say = log or (lambda msg: print(msg, file=sys.stderr))
    overrides = {"method": method, "n": n, "seeds": seeds, "years": years, "scenarios": scenarios,
                 "outcomes": outcomes, "second_order": second_order, "root_seed": root_seed}
    spec = load_spec(config, overrides)
    for w in spec.warnings:
        warnings.warn(w, SweepWarning, stacklevel=2)
        say(f"warning: {w}")
    design, info, samples = prepare(spec)
    out = Path(out) if out is not None else Path(DEFAULT_OUT_PREFIX + spec.name)
    if overwrite and (out / MANIFEST_NAME).is_file():
        for name in ("sensitivity", "samples"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("sweep.json", "sensitivity.md"):
            (out / name).unlink(missing_ok=True)
    say(f"sweep {spec.name}: {spec.method}, n = {spec.n}, {len(design)} design points x {spec.seeds} seed(s) = "
        f"{len(design) * spec.seeds} runs of {spec.years} years -> {out}")

    custom = not isinstance(executor, str)
    with open_executor("processes" if custom else executor, workers, scheduler, log=say) as opened:
        ex = executor if custom else opened.executor
        try:
            result = run_batch(
                design,
                out=out,
                replicates=spec.seeds,
                years=spec.years,
                root_seed=spec.root_seed,
                executor=ex,
                workers=workers if custom else opened.workers,
                chunk_size=chunk_size,
                func=func,
                func_kwargs=func_kwargs,
                series=spec.needs_series,
                overwrite=overwrite,
                progress=progress,
                label="sweep",
                meta={"command": command, "sweep": spec.name, "method": spec.method, "n": spec.n,
                      "executor_detail": type(executor).__name__ if custom else opened.description},
                log=say,
            )
        finally:
            if (out / MANIFEST_NAME).is_file():
                _write_sweep_files(out, spec, info, samples)
    say(f"sweep {spec.name}: {result.n_done} of {result.n_runs} runs finished"
        + (f" ({result.n_skipped} from before)" if result.n_skipped else "") + f" in {result.seconds:.1f} s")
    if analyse:
        from commissim.experiments.sensitivity import analyse as _analyse

        _analyse(out, figures=figures, log=say)
    return out


# --------------------------------------------------------------------------- CLI
def configure(parser: argparse.ArgumentParser) -> None:
    from commissim.experiments.compare import _non_negative_int, _positive_int
    from commissim.experiments.space import METHODS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  commissim sweep experiments/configs/sobol_delegation.toml\n"
        "  commissim sweep SPACE.toml --method morris --n 20 --outcomes providers_destabilised,access_gini\n"
        "  commissim sweep SPACE.toml --executor dask --workers 8\n"
        "  commissim sweep SPACE.toml --scheduler tcp://10.0.0.5:8786\n"
        "  commissim sweep --analyse-only results/sweep_sobol_delegation\n"
        "The space file format is described in experiments/space.py; scaling out in the README (Scaling out).\n"
        "Interrupted? Run the same command again: finished runs are kept and skipped."
    )
    parser.add_argument("config", nargs="?", metavar="SPACE.toml",
                        help="parameter-space file (TOML): parameters with bounds or levels, scenarios, outcomes")
    parser.add_argument("--analyse-only", metavar="FOLDER",
                        help="re-run the analysis of a finished sweep folder (no model runs)")
    parser.add_argument("--method", choices=METHODS, help="override the file's method")
    parser.add_argument("--n", type=_positive_int, metavar="N", help="override the sample size n")
    parser.add_argument("--seeds", type=_positive_int, metavar="R", help="override seeds per design point")
    parser.add_argument("--years", type=_positive_int, metavar="Y", help="override funding rounds per run")
    parser.add_argument("--root-seed", type=_non_negative_int, metavar="S", help="override the root seed")
    parser.add_argument("--scenarios", metavar="A,B", help="override the scenarios (comma-separated)")
    parser.add_argument("--outcomes", metavar="M1,M2",
                        help="override the outcome measures (comma-separated summary measures or REPORTER:AGG)")
    parser.add_argument("--second-order", action="store_true", default=None,
                        help="Sobol: draw (or, with --analyse-only, analyse) second-order indices")
    parser.add_argument("--out", metavar="FOLDER", help="results folder (default results/sweep_<name>)")
    parser.add_argument("--executor", choices=("processes", "serial", "dask"), default="processes",
                        help="processes (default), serial, or dask (a local Dask cluster of --workers workers)")
    parser.add_argument("--workers", type=_positive_int, metavar="N",
                        help="worker processes (default one per CPU)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run on an existing Dask cluster")
    parser.add_argument("--chunk-size", type=_positive_int, metavar="K",
                        help="runs per task (default: adaptive, about 1 s per task)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing results folder")
    parser.add_argument("--no-figures", action="store_true", help="no figures")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _command_line(argv_args: argparse.Namespace) -> str:
    import shlex

    a = argv_args
    parts = ["commissim", "sweep", str(a.config)]
    for opt in ("method", "n", "seeds", "years", "root_seed", "scenarios", "outcomes", "out", "workers",
                "scheduler", "chunk_size"):
        v = getattr(a, opt)
        if v is not None:
            parts += [f"--{opt.replace('_', '-')}", str(v)]
    if a.second_order:
        parts.append("--second-order")
    parts += ["--executor", a.executor]
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    from commissim.experiments.sensitivity import analyse, summary_text

    if args.analyse_only:
        if args.config:
            raise UserError("give a sweep file or --analyse-only FOLDER, not both")
        folder = Path(args.analyse_only)
        res = analyse(folder, second_order=args.second_order, figures=not args.no_figures)
        print(summary_text(res))
        print(f"report: {folder / 'sensitivity.md'}")
        return 0
    if not args.config:
        raise UserError("give a parameter-space file, e.g. commissim sweep experiments/configs/sobol_delegation.toml "
                        "(or --analyse-only FOLDER)")
    out = sweep(
        args.config, args.out, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
        overwrite=args.overwrite, method=args.method, n=args.n, seeds=args.seeds, years=args.years,
        scenarios=args.scenarios, outcomes=args.outcomes, second_order=args.second_order,
        root_seed=args.root_seed, chunk_size=args.chunk_size, analyse=False,
        progress=False if args.no_progress else None, command=_command_line(args),
    )
    res = analyse(out, figures=not args.no_figures)
    print(f"results: {out}")
    print(summary_text(res))
    print(f"report: {out / 'sensitivity.md'}")
    return 0
