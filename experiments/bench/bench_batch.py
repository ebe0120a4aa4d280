"""Benchmark: ``commissim compare`` (the batch library) against ``mesa.batch_run``.

Run it from the project folder (after ``make install``)::

    python experiments/bench/bench_batch.py                 # 300 runs x 3 repeats, then memory
    python experiments/bench/bench_batch.py --runs 100 --repeats 1 --memory-runs 200 50
    python experiments/bench/bench_batch.py --seeds-path /tmp/toy  # a small seed folder (quick check)

Throughput: the same runs - every named scenario x enough seeds for ``--runs`` runs,
``--years`` funding rounds each - on 2 processes through

- ``mesa.batch_run(CommissioningModel, parameters={"scenario": [...]}, rng=[...],
  number_processes=2, data_collection_period=-1, max_steps=years, display_progress=False)``
  as a Mesa user would call it (the model's defaults: model *and* agent reporters), and
  again with ``collect_agent_data=False`` (model reporters only);
- the batch library with 2 processes: ``series=False`` (the end-of-run summary measures:
  the same model measures batch_run returns, plus a few run totals), and ``series=True``
  (compare's batch: summaries, every year's series and every provider's income change,
  written to Parquet and CSV);
- ``compare()`` itself, end to end: compare's batch, then its figures and ``report.md``.

The ratio printed first is the target: compare's batch (files written) against batch_run
with model reporters only (the same measures, nothing written), at least 1.

Each side runs in its own fresh Python process (``batch_run`` forces the ``spawn``
start method on its whole process), which imports the model before timing. Timing covers
the call only (pool start-up, runs, collection and, for commissim, writing and
consolidating the results folder), not interpreter start-up. The sides take turns, once
each per repeat, and the median of ``--repeats`` is reported (with every repeat); a ratio is
the median of the repeats' own ratios, which a machine shared with other work disturbs less. Seeds differ
between the two sides (batch_run gives every scenario the same seed list; the engine
derives a seed per run), which changes the numbers but not the work.

Memory: the engine (series=True, as ``compare``) for ``--memory-runs`` runs (default
1,000 and 250); peak resident memory of the engine's process plus all its worker
processes, sampled every 50 ms with psutil (or the kernel's peak RSS of the engine
process alone when psutil is not installed). Flat memory means the peak does not grow
with the number of runs.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _scenarios() -> list[str]:
    from commissim.model.scenarios import list_scenarios

    return [s.name for s in list_scenarios()]


def _plan(runs: int, scenarios: list[str]) -> tuple[list[str], int]:
    """Scenarios and seeds per scenario for about ``runs`` runs."""
    reps = max(1, math.ceil(runs / len(scenarios)))
    return scenarios, reps


# --------------------------------------------------------------------------- children
def child_batch_run(args) -> dict:
    import numpy as np
    from mesa import batch_run

    from commissim.model import CommissioningModel

    scenarios, reps = _plan(args.runs, _scenarios())
    params: dict = {"scenario": scenarios}
    if args.variant == "model_reporters":
        params["collect_agent_data"] = False
    if args.seeds_path:
        params["seeds_path"] = args.seeds_path
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(args.root_seed).spawn(reps)]
    t0 = time.perf_counter()
    rows = batch_run(CommissioningModel, parameters=params, rng=seeds, number_processes=2,
                     data_collection_period=-1, max_steps=args.years, display_progress=False)
    return {"seconds": time.perf_counter() - t0, "runs": len(scenarios) * reps, "rows": len(rows)}


def child_engine(args) -> dict:
    from commissim.experiments.batch import run_batch
    from commissim.experiments.model_runs import model_runner
    from commissim.model import CommissioningModel  # noqa: F401 - the model imported before timing, as batch_run's side
    from commissim.model.simulation import simulate

    scenarios, reps = _plan(args.runs, _scenarios())
    peak = _PeakMemory()
    with tempfile.TemporaryDirectory() as tmp, peak:
        t0 = time.perf_counter()
        if args.variant == "compare":
            from commissim.experiments.compare import compare

            compare(scenarios, seeds=reps, years=args.years, root_seed=args.root_seed, out=Path(tmp) / "bench",
                    workers=2, progress=False, log=lambda m: None,
                    func_kwargs={"seeds_path": args.seeds_path} if args.seeds_path else None)
            n_runs, n_failed = len(scenarios) * reps, 0
        else:
            runner = model_runner(simulate, {"seeds_path": args.seeds_path} if args.seeds_path else None)
            res = run_batch([{"scenario": s} for s in scenarios], runner=runner, out=Path(tmp) / "bench",
                            replicates=reps, years=args.years, root_seed=args.root_seed, executor="processes",
                            workers=2, series=args.variant == "series", progress=False, label="bench",
                            log=lambda m: None)
            n_runs, n_failed = res.n_runs, res.n_failed
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "runs": n_runs, "failed": n_failed, "peak_mb": peak.peak_mb,
            "parent_mb": peak.parent_mb, "worker_mb": peak.worker_mb, "peak_how": peak.how}


class _PeakMemory:
    """Peak RSS of this process and its descendants (psutil sampling), or of this process alone."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak_mb = 0.0
        self.parent_mb = 0.0
        self.worker_mb = 0.0
        self.how = ""
        self._stop = threading.Event()

    def _sample(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                if p.pid == me.pid:
                    self.parent_mb = max(self.parent_mb, rss / 2**20)
                else:
                    self.worker_mb = max(self.worker_mb, rss / 2**20)
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self):
        try:
            import psutil  # noqa: F401

            self.how = "engine process + workers (psutil, sampled every 50 ms)"
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        except ImportError:
            self._thread = None
            self.how = "engine process only (resource.getrusage ru_maxrss; install psutil to include workers)"
        return self

    def __exit__(self, *exc):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        else:
            import resource

            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return False


# --------------------------------------------------------------------------- parent
def _child(kind: str, variant: str, runs: int, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--variant", variant,
           "--runs", str(runs), "--years", str(args.years), "--root-seed", str(args.root_seed)]
    if args.seeds_path:
        cmd += ["--seeds-path", args.seeds_path]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"bench child {kind}/{variant} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_model(args) -> None:
    from commissim.model.simulation import simulate

    kw = {"seeds_path": args.seeds_path} if args.seeds_path else {}
    try:
        simulate("nhse_direct", years=1, rng=1, **kw)
    except Exception as exc:  # noqa: BLE001
        raise SystemExit(f"the model does not run, so there is nothing to benchmark: {type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=300, help="runs per throughput measurement (default 300)")
    p.add_argument("--repeats", type=int, default=5, help="repeats of each measurement; the median is shown")
    p.add_argument("--years", type=int, default=10, help="funding rounds per run (default 10)")
    p.add_argument("--root-seed", type=int, default=20230401)
    p.add_argument("--memory-runs", type=int, nargs="*", default=[1000, 250],
                   help="run counts for the memory measurement (default 1000 250; none to skip)")
    p.add_argument("--seeds-path", default=None, help="seed-table folder passed to the model (default: seeds/)")
    p.add_argument("--child", choices=("batch_run", "engine"), help=argparse.SUPPRESS)
    p.add_argument("--variant", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        out = child_batch_run(args) if args.child == "batch_run" else child_engine(args)
        print(json.dumps(out))
        return 0

    _check_model(args)
    scenarios, reps = _plan(args.runs, _scenarios())
    n = len(scenarios) * reps
    print(f"throughput: {len(scenarios)} scenarios x {reps} seeds = {n} runs of {args.years} years, 2 processes, "
          f"median of {args.repeats}")
    sides = [
        ("batch_run", "defaults", "mesa.batch_run, model defaults (model + agent reporters)"),
        ("batch_run", "model_reporters", "mesa.batch_run, collect_agent_data=False (model reporters)"),
        ("engine", "summaries", "batch library, summaries only (series=False)"),
        ("engine", "series", "compare's batch (summaries + series + providers, Parquet + CSV)"),
        ("engine", "compare", "compare() end to end (compare's batch + figures + report.md)"),
    ]
    # Round-robin: every repeat runs each side once, so a machine that slows down for a while
    # slows every side alike.
    secs: dict[tuple[str, str], list[float]] = {(k, v): [] for k, v, _ in sides}
    for _ in range(args.repeats):
        for kind, variant, _label in sides:
            secs[(kind, variant)].append(_child(kind, variant, args.runs, args)["seconds"])
    rates: dict[tuple[str, str], float] = {}
    for kind, variant, label in sides:
        med = statistics.median(secs[(kind, variant)])
        rates[(kind, variant)] = n / med
        shown = ", ".join(f"{x:.2f}" for x in secs[(kind, variant)])
        print(f"  {label:<70} {med:7.2f} s  {n / med:6.1f} runs/s   ({shown})")
    lines = [
        ("compare's batch (files written) vs batch_run, model reporters (target >= 1)", ("engine", "series"),
         ("batch_run", "model_reporters")),
        ("compare's batch (files written) vs batch_run as a Mesa user calls it", ("engine", "series"),
         ("batch_run", "defaults")),
        ("batch library, summaries only, vs batch_run, model reporters (same measures)", ("engine", "summaries"),
         ("batch_run", "model_reporters")),
        ("compare() end to end, with figures and report, vs batch_run, model reporters", ("engine", "compare"),
         ("batch_run", "model_reporters")),
    ]
    # Each ratio is the median over the repeats of that repeat's own ratio: the two sides of a
    # ratio ran minutes apart at most, so a machine shared with other work disturbs it less.
    for label, a, b in lines:
        per_round = [tb / ta for ta, tb in zip(secs[a], secs[b])]
        print(f"ratio, {label:<80} {statistics.median(per_round):5.2f}x  (of medians {rates[a] / rates[b]:.2f}x)")

    if args.memory_runs:
        print("peak memory, engine as compare (series=True), 2 processes:")
        for runs in args.memory_runs:
            res = _child("engine", "series", runs, args)
            print(f"  {res['runs']:6d} runs: {res['peak_mb']:7.1f} MB in all (engine process {res['parent_mb']:.1f} MB, "
                  f"largest worker {res['worker_mb']:.1f} MB; {res['seconds']:.1f} s)")
        print(f"  ({res['peak_how']}; a worker's memory first grows for some runs as the model warms its caches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
