"""``calibrate_run``: ABC-SMC (pyabc) of the parameters a calibration file names, against its facts.

From Python (the same arguments as ``commissim calibrate``)::

    from commissim.experiments.calibrate import calibrate_run
    folder = calibrate_run("experiments/configs/calibrate_record.toml", particles=200, generations=4)

Steps: the file is checked (:mod:`.config`); one run at the prior medians checks that the scenario's path
produces every fact; a screen (:func:`.simulate.screen`) finds the parameters that move no fact at all (they
act only in years with no published figure: *not informed by the record*, their prior is carried forward
unchanged and they are left out of the inference); pyabc's ABC-SMC fits the others, one generation at a
time, on the batch engine's executors through :class:`.sampler.SeededSampler`; the posterior, the report
and the figures are written.

The folder (``results/calibrate_<name>`` by default) holds ``abc.db`` (pyabc's SQLite history: every
generation, its particles, weights, distances and simulated facts), ``posterior.parquet`` (one row per
accepted particle of the last generation: a column per parameter and ``weight``), ``calibration.md``,
``figures/`` and ``manifest.json``. Every generation is stored when it completes; interrupted, the same
command resumes from the last one stored, and because every candidate particle's random numbers come from
the root seed and its place in its generation, the posterior is the one an uninterrupted run gives.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from ..batch.executors import open_executor
from ..batch.manifest import git_commit, package_versions, read_manifest, write_manifest
from ..errors import UserError, option
from .config import CalibrationConfig, CalibrationConfigError, load_config

__all__ = ["calibrate_run", "DEFAULT_OUT_PREFIX", "DB_NAME", "POSTERIOR_NAME", "not_informed_note"]

DEFAULT_OUT_PREFIX = "results/calibrate_"
DB_NAME = "abc.db"
POSTERIOR_NAME = "posterior.parquet"
OUTPUTS = (DB_NAME, POSTERIOR_NAME, "calibration.md", "figures", "manifest.json", "facts.csv")
PRELOAD = ("commissim.model.model", "commissim.model.warm", "commissim.experiments.calibrate.sampler",
           "commissim.experiments.calibrate.abcsmc")


def _pyabc():
    try:
        import pyabc  # noqa: F401
    except ImportError:
        raise UserError("calibration needs the optional extra: pip install 'commissim[calibrate]' (pyabc)") from None


def _fingerprint() -> str:
    from commissim.model.simulation import fingerprint

    return fingerprint()


def not_informed_note(names) -> str:
    names = list(names)
    if not names:
        return ""
    return (f"not informed by the record (prior carried forward unchanged): {', '.join(names)}")


def _trial(cfg: CalibrationConfig) -> float:
    """One run at the prior medians: every fact must come out as a number. Returns its seconds."""
    from .simulate import fact_run

    medians = {p.name: p.quantiles([0.5])[0] for p in cfg.priors}
    facts = [(f.quantity, f.year) for f in cfg.facts]
    start = time.perf_counter()
    for f in cfg.facts:
        try:
            value = fact_run(cfg.scenario, [(f.quantity, f.year)], 1, seeds_path=cfg.seeds_path,
                             **{**cfg.fixed, **medians})[f.key]
        except Exception as exc:  # noqa: BLE001 - said in one line, naming the fact
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CalibrationConfigError(f"fact '{f.key}': the {cfg.scenario} path cannot produce it ({msg})") from None
        if not math.isfinite(value):
            raise CalibrationConfigError(f"fact '{f.key}': the {cfg.scenario} path cannot produce it (the model "
                                         f"gives {value} in {f.year or 'the seed data'})")
    start = time.perf_counter()
    fact_run(cfg.scenario, facts, 2, seeds_path=cfg.seeds_path, **{**cfg.fixed, **medians})
    return time.perf_counter() - start


def _prepare(out: Path, cfg: CalibrationConfig, fingerprint: str, overwrite: bool) -> dict | None:
    """Create, resume or refuse the folder; returns the old manifest when resuming."""
    atomic.check_output_folder(out)
    manifest = out / "manifest.json"
    if overwrite:
        atomic.remove_outputs(out, OUTPUTS)
        return None
    if not manifest.exists():
        others = [p.name for p in out.iterdir() if not p.name.startswith(".")]
        if others:
            raise CalibrationConfigError(f"{option('out')} '{out}' holds other files ({', '.join(sorted(others)[:3])}) "
                                         f"and no calibration; choose an empty folder or pass {option('overwrite')}")
        return None
    old = read_manifest(out)
    if old.get("kind") != "calibrate":
        raise CalibrationConfigError(f"{option('out')} '{out}' holds a {old.get('kind')} folder, not a calibration; "
                                     f"choose another {option('out')}")
    if old.get("config_hash") != cfg.hash():
        raise CalibrationConfigError(f"{option('out')} '{out}' holds another calibration (a different file, priors, "
                                     f"facts, particles or seed); pass {option('overwrite')} to replace it, or choose "
                                     f"another {option('out')}")
    if old.get("fingerprint") != fingerprint:
        raise CalibrationConfigError(f"{option('out')} '{out}' was made by a different version of the model "
                                     f"(fingerprint {old.get('fingerprint')}, now {fingerprint}); resuming would mix "
                                     f"the two. Pass {option('overwrite')} to run it again")
    return old


def _history_state(db: Path):
    """(generations stored, last epsilon) of the history in ``db``; (0, None) when none."""
    if not db.exists():
        return 0, None
    import pyabc

    h = pyabc.History(f"sqlite:///{db}", _id=1)
    try:
        n = h.n_populations
    except Exception:  # noqa: BLE001 - an empty or unreadable history: start again
        return 0, None
    if n <= 0:
        return 0, None
    pops = h.get_all_populations()
    pops = pops[pops.t >= 0]
    return int(len(pops)), float(pops.epsilon.iloc[-1])


def calibrate_run(config: str | Path | dict, out: str | Path | None = None, *, particles: int | None = None,
                  generations: int | None = None, executor: Any = "processes", workers: int | None = None,
                  scheduler: str | None = None, overwrite: bool = False, progress: bool | None = None,
                  seeds_path: str | None = None, batch_size: int | None = None, figures: bool = True,
                  command: str | None = None, log: Callable[[str], None] | None = None) -> Path:
    """Calibrate the parameters of ``config`` against its facts; write the results folder and return it."""
    say = log or (lambda msg: print(msg, file=sys.stderr))
    cfg = load_config(config, particles=particles, generations=generations, seeds_path=seeds_path)
    _pyabc()

    from .abcsmc import make_abc
    from .report import write_outputs
    from .sampler import SeededSampler
    from .simulate import screen

    out = Path(out) if out is not None else Path(DEFAULT_OUT_PREFIX + cfg.name)
    fingerprint = _fingerprint()
    old = _prepare(out, cfg, fingerprint, overwrite)
    t_run = _trial(cfg)
    moved = screen(cfg.scenario, [(f.quantity, f.year) for f in cfg.facts], cfg.priors, cfg.fixed, cfg.seed,
                   cfg.seeds_path)
    informed = [p for p in cfg.priors if moved[p.name]]
    blind = [p.name for p in cfg.priors if not moved[p.name]]
    if blind:
        say(f"note: {not_informed_note(blind)}: they move none of the facts")
    manifest: dict[str, Any] = {
        "commissim_results": 1, "kind": "calibrate", "status": "running", "config_hash": cfg.hash(),
        "config": cfg.as_dict(), "config_file": str(cfg.path) if cfg.path else None, "command": command,
        "fingerprint": fingerprint, "versions": package_versions(("mesa", "pyabc")),
        "git_commit": git_commit(), "started": (old or {}).get("started") or datetime.now(timezone.utc).isoformat(),
        "informed": [p.name for p in informed], "not_informed": blind, "moved": moved,
        "generations": list((old or {}).get("generations", [])), "seconds_per_run_trial": t_run,
    }
    db = out / DB_NAME
    done, last_eps = _history_state(db)
    manifest["generations"] = manifest["generations"][:done]
    if done == 0 and db.exists():
        db.unlink()  # interrupted before the first generation was stored: start again
    write_manifest(out, manifest)
    status = "complete"
    if informed and done < cfg.generations and not (last_eps is not None and last_eps <= cfg.minimum_epsilon):
        import logging

        for name in ("ABC", "pyabc", "ABC.Sampler", "ABC.History", "ABC.Distance", "ABC.Epsilon",
                     "ABC.Transition", "ABC.Population", "ABC.Predictor", "ABC.Adaptation"):
            logging.getLogger(name).setLevel(logging.WARNING)
        show = progress if progress is not None else sys.stderr.isatty()
        with open_executor(executor, workers, scheduler, preload=PRELOAD, log=say) as opened:
            bs = batch_size or max(1, min(int(round(0.5 / max(t_run, 1e-3))), cfg.particles // (4 * opened.workers) or 1, 50))
            manifest["executor"] = opened.description
            bar = _Progress(show)
            sampler = SeededSampler(opened.executor, opened.workers, cfg.seed, bs, on_progress=bar.update)
            while done < cfg.generations:
                sampler.reset()
                abc = make_abc(cfg, informed, sampler)
                if done:
                    abc.load(f"sqlite:///{db}", 1)
                else:
                    abc.new(f"sqlite:///{db}", {f.key: f.value for f in cfg.facts})
                t = abc.initialize_components_before_run(cfg.minimum_epsilon, 1, 0.0, np.inf, None, 0.0)
                bar.start(t, cfg.generations)
                ret = abc.run_generation(t)
                bar.stop()
                if not ret.get("successful"):
                    status = "stopped"
                    say(f"generation {t + 1}: sampling stopped before {cfg.particles} particles were accepted")
                    break
                eps = float(abc.history.get_all_populations().set_index("t").epsilon.loc[t])
                g = {"generation": t + 1, "epsilon": eps, "accepted": cfg.particles,
                     "evaluations": int(sampler.nr_evaluations_), "simulated": int(sampler.simulated),
                     "acceptance_rate": cfg.particles / max(sampler.nr_evaluations_, 1),
                     "seconds": sampler.seconds, "sims_per_second": sampler.simulated / max(sampler.seconds, 1e-9),
                     "max_rss_mb": _max_rss_mb()}
                manifest["generations"].append(g)
                done = t + 1
                write_manifest(out, manifest)
                say(f"generation {done} of {cfg.generations}: threshold {eps:.3g}, accepted {cfg.particles} of "
                    f"{g['evaluations']} ({g['acceptance_rate']:.1%}), {g['simulated']} runs in {g['seconds']:.1f} s "
                    f"({g['sims_per_second']:.1f} runs/s)")
                del abc
                if eps <= cfg.minimum_epsilon:
                    say(f"threshold {eps:.3g} <= minimum_epsilon {cfg.minimum_epsilon:g}: stopping")
                    break
    manifest["status"] = status
    manifest["finished"] = datetime.now(timezone.utc).isoformat()
    write_outputs(out, cfg, manifest, informed, figures=figures)
    write_manifest(out, manifest)
    return out


def _max_rss_mb() -> float | None:
    """This process's peak resident memory so far (MB): flat across generations when memory does not grow."""
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    except (ImportError, OSError):  # pragma: no cover - not on every platform
        return None


class _Progress:
    """A progress bar of accepted particles within a generation (tqdm, on a terminal)."""

    def __init__(self, show: bool):
        self.show = show
        self.bar = None

    def start(self, t: int, total: int) -> None:
        if self.show:
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=f"generation {t + 1}/{total}", unit=" accepted", leave=False,
                            file=sys.stderr)

    def update(self, accepted: int, evaluated: int, wanted: int) -> None:
        if self.bar is not None:
            self.bar.total = wanted
            self.bar.n = accepted
            self.bar.set_postfix_str(f"{evaluated} runs", refresh=False)
            self.bar.refresh()

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
