"""``sweep``: a sensitivity sweep (SALib) as a batch of the run engine, then its analysis.

From Python::

    from commissim.experiments.sensitivity import sweep
    folder = sweep("experiments/configs/sobol_delegation.toml", n=64, executor="dask", workers=2)

A sweep is a batch (:mod:`commissim.experiments.batch`): one design point per sample row and
scenario, ``seeds`` replicates each, with the batch's per-run seeds
(``SeedSequence(root_seed, spawn_key=(point, replicate))``), streaming Parquet parts, resume,
failure records and manifest. The results of a sweep are therefore identical, run by run, on
any executor and any number of workers; an interrupted sweep resumes where it stopped when
the same command is run again.

The space file format and the one mapping of integer, categorical and boolean parameters
are described in :mod:`.space`; the analysis in :mod:`.analysis`. The folder gets, besides
the batch's tables: ``sweep.json`` (definition, SALib problems, method settings),
``samples/<scenario>.npy`` and ``.csv`` (the unit sample ``X`` and the mapped values),
``sensitivity/`` tables, ``figures/`` and ``sensitivity.md``.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import atomic
from ..batch import MANIFEST_NAME, run_batch, staging_folder
from ..errors import SweepConfigError, SweepWarning
from ..model_runs import late_changes, model_runner
from .space import SWEEP_FILE, design_for, draw_sample, load_spec

__all__ = ["sweep", "prepare", "write_sweep_files", "DEFAULT_OUT_PREFIX", "DERIVED"]

DEFAULT_OUT_PREFIX = "results/sweep_"
# What a sweep writes besides the batch's tables (replaced when the folder is overwritten), and what
# `commissim discover --from` may have added to it.
DERIVED = (SWEEP_FILE, "sensitivity.md", "sensitivity", "samples", "figures", "discovery.md", "discovery")


def prepare(spec) -> tuple[list[dict], dict[str, Any], dict[str, Any]]:
    """(design points, per-scenario info for sweep.json, samples by scenario) of a checked spec."""
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


def write_sweep_files(out: Path, spec, info: dict, samples: dict) -> None:
    """``sweep.json`` and ``samples/`` (the unit sample and the mapped values) of a sweep folder."""
    import pandas as pd

    (out / "samples").mkdir(exist_ok=True)
    for scen, (X, pts) in samples.items():
        atomic.write_npy(out / "samples" / f"{scen}.npy", X)
        first = info[scen]["points"][0]
        names = info[scen]["problem"]["names"]
        frame = pd.DataFrame(X, columns=[f"u_{n}" for n in names])
        values = pd.DataFrame([{n: p[n] for n in names} for p in pts])
        frame = pd.concat([values, frame], axis=1)
        frame.insert(0, "point", range(first, first + len(pts)))
        atomic.write_csv(frame, out / "samples" / f"{scen}.csv")
    doc = {
        "commissim_sweep": 1,
        "spec": spec.to_dict(),
        "scenarios": info,
        "mapping": "SALib samples the unit hypercube; commissim.experiments.sensitivity.space.map_unit maps u to "
                   "model values: floats by the distribution's inverse CDF, ints floor(low + u(high-low+1)) clipped "
                   "to high, levels levels[min(floor(u k), k-1)]. Analyses use the unit sample X.",
        "outcome_rule": "each design point's outcome is the mean over its seeds; 'measure' = end-of-run summary "
                        "measure, 'reporter:agg' = agg over the yearly series (rounds 1..years)",
    }
    atomic.write_text(out / SWEEP_FILE, json.dumps(doc, indent=2, default=str))


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
    posterior: str | Path | None = None,
    draws: int = 100,
) -> Path:
    """Run a sensitivity sweep and analyse it; return the results folder.

    ``config``: a sweep file (TOML, see :mod:`.space`) or a dict of the same shape; ``method``,
    ``n``, ``seeds``, ``years``, ``scenarios``, ``outcomes``, ``second_order`` and ``root_seed``
    override the file. ``out`` defaults to ``results/sweep_<name>``; an existing folder of the
    same sweep is resumed. ``executor``: ``"processes"`` (default; ``workers`` processes),
    ``"serial"``, ``"dask"`` (a LocalCluster of ``workers`` processes on 127.0.0.1), or any
    ``concurrent.futures.Executor``; ``scheduler="tcp://HOST:8786"`` runs on an existing Dask
    cluster. ``func``/``func_kwargs``: the run function (default
    ``commissim.model.simulation.simulate``) and fixed keywords for it (e.g. ``seeds_path``).
    ``posterior``: a ``commissim calibrate`` folder; every run then takes the parameters the sweep does not set
    from one of ``draws`` weighted posterior draws, the one its seed picks, so the indices are of the outcome over
    futures consistent with the record (the draws' spread adds to the seeds': raise the seeds).
    """
    from .reliability import SayOnce

    # Each message once: the sample-size warning said here is not said again by the analysis.
    say = log if isinstance(log, SayOnce) else SayOnce(log or (lambda msg: print(msg, file=sys.stderr)))
    overrides = {"method": method, "n": n, "seeds": seeds, "years": years, "scenarios": scenarios,
                 "outcomes": outcomes, "second_order": second_order, "root_seed": root_seed}
    spec = load_spec(config, overrides)
    meta_post: dict[str, Any] = {}
    if posterior is not None:
        from ..posterior import load_posterior, posterior_simulate

        if func is not None:
            raise SweepConfigError("posterior= runs the model's simulate over the draws; it cannot go with func=")
        post = load_posterior(posterior)
        func = posterior_simulate
        func_kwargs = {**(func_kwargs or {}), "posterior": str(post.folder.resolve()), "draws": int(draws),
                       "draw_seed": int(spec.root_seed)}
        meta_post = {"posterior": str(post.folder), "draws": int(draws), "posterior_note": post.note(),
                     "not_informed": post.not_informed}
    for w in spec.warnings:
        warnings.warn(w, SweepWarning, stacklevel=2)  # for Python callers (the command line prints say's line)
        say(f"warning: {w}")
    design, info, samples = prepare(spec)
    late_changes(list(spec.scenarios), spec.years, {p.name for p in spec.params} | set(spec.fixed), say)
    out = Path(out) if out is not None else Path(DEFAULT_OUT_PREFIX + spec.name)
    atomic.check_output_folder(out)  # an unwritable or impossible folder stops here, in one line
    say(f"sweep {spec.name}: {spec.method}, n = {spec.n}, {len(design)} design points x {spec.seeds} seed(s) = "
        f"{len(design) * spec.seeds} runs of {spec.years} years -> {out}")
    try:
        result = run_batch(
            design, runner=model_runner(func, func_kwargs), out=out, replicates=spec.seeds, years=spec.years,
            root_seed=spec.root_seed, executor=executor, workers=workers, scheduler=scheduler,
            chunk_size=chunk_size, series=spec.needs_series, overwrite=overwrite, derived=DERIVED,
            progress=progress, label="sweep", meta={"command": command, "sweep": spec.name, "method": spec.method,
                                                     "n": spec.n, **meta_post}, log=say,
        )
    finally:
        # the sample is kept even when the runs were interrupted (an interrupted --overwrite: beside the
        # old results, in the folder the new batch is built in, never into the old results)
        target = staging_folder(out) if overwrite and (staging_folder(out) / MANIFEST_NAME).is_file() else out
        try:
            started = (target / MANIFEST_NAME).is_file()
        except OSError:
            started = False
        if started:
            write_sweep_files(target, spec, info, samples)
    say(f"sweep {spec.name}: {result.n_done} of {result.n_runs} runs finished"
        + (f" ({result.n_skipped} from before)" if result.n_skipped else "") + f" in {result.seconds:.1f} s")
    if analyse:
        from .analysis import analyse as _analyse

        _analyse(out, figures=figures, log=say)
    return out
