"""Benchmark: ``commissim compare`` (figures and report included) against ``mesa.batch_run`` on the same runs.

Run it from the project folder (after ``make install``)::

    python experiments/bench/bench_batch.py                 # 300 runs x 3 repeats
    python experiments/bench/bench_batch.py --runs 100 --repeats 1
    python experiments/bench/bench_batch.py --all           # also the batch library alone (no figures)
    python experiments/bench/bench_batch.py --baseline /tmp/old   # also compare() of another checkout
    python experiments/bench/bench_batch.py --seeds-path /tmp/toy  # a small seed folder (quick check)

The same runs - every named scenario x enough seeds for ``--runs`` runs, ``--years`` funding
rounds each - on 2 processes through

- ``mesa.batch_run(CommissioningModel, parameters={"scenario": [...]}, rng=[...],
  number_processes=2, data_collection_period=-1, max_steps=years, display_progress=False)``
  as a Mesa user would call it (the model's defaults: model *and* agent reporters), and
  again with ``collect_agent_data=False`` (model reporters only: the measures compare keeps);
- ``compare()`` end to end: the runs (summaries, every year's series, every provider's and
  ICB's end-of-run values, written to Parquet and CSV), then its figures and ``report.md``;
- with ``--all``, the batch library alone: ``series=False`` (summaries only) and ``series=True``
  (compare's batch, no figures);
- with ``--baseline DIR``, ``compare()`` of the checkout at ``DIR`` (a folder holding
  ``commissim/``, e.g. ``mkdir -p DIR/commissim && git archive REV | tar -x -C DIR/commissim``),
  to measure a change before and after in one session.

The first ratio printed is the target: compare end to end against batch_run with model
reporters only, at least 1.2.

Each side runs in its own fresh Python process (``batch_run`` forces the ``spawn`` start
method on its whole process), which imports the model before timing. Timing covers the call
only (pool start-up, runs, collection and, for commissim, writing and consolidating the results
folder, figures and report), not interpreter start-up. The sides take turns, once each per
repeat, and the median of ``--repeats`` is reported (with every repeat); a ratio is the median
of the repeats' own ratios, which a machine shared with other work disturbs less. Seeds differ
between the two sides (batch_run gives every scenario the same seed list; the engine derives a
seed per run), which changes the numbers but not the work.

Memory (``--memory-runs N ...``): the engine (series=True, as ``compare``) for N runs; peak
resident memory of the engine's process plus all its worker processes, sampled every 50 ms
with psutil. The sweep benchmark (``bench_sweep_memory.py``) follows memory through a large sweep.
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
    cpu0 = _own_cpu()
    with _PeakMemory() as peak:
        t0 = time.perf_counter()
        rows = batch_run(CommissioningModel, parameters=params, rng=seeds, number_processes=2,
                         data_collection_period=-1, max_steps=args.years, display_progress=False)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "runs": len(scenarios) * reps, "rows": len(rows), "cpu": peak.cpu_seconds - cpu0}


def _own_cpu() -> float:
    import os

    t = os.times()
    return t.user + t.system


def child_engine(args) -> dict:
    from commissim.experiments.batch import run_batch
    from commissim.experiments.model_runs import model_runner
    from commissim.model import CommissioningModel  # noqa: F401 - the model imported before timing, as batch_run's side
    from commissim.model.simulation import simulate

    scenarios, reps = _plan(args.runs, _scenarios())
    peak = _PeakMemory()
    cpu0 = _own_cpu()
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
    return {"seconds": seconds, "cpu": peak.cpu_seconds - cpu0, "runs": n_runs, "failed": n_failed,
            "peak_mb": peak.peak_mb,
            "parent_mb": peak.parent_mb, "worker_mb": peak.worker_mb, "peak_how": peak.how}


class _PeakMemory:
    """Peak RSS of this process and its descendants (psutil sampling), or of this process alone."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak_mb = 0.0
        self.parent_mb = 0.0
        self.worker_mb = 0.0
        self.how = ""
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()

    def _sample(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    rss = p.memory_info().rss
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system  # cumulative: the last sample of each process counts
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

    @property
    def cpu_seconds(self) -> float:
        """CPU time of this process and every descendant seen (sampled; short-lived ones may be missed)."""
        return sum(self.cpu.values())

    def __exit__(self, *exc):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        else:
            import resource

            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return False


# --------------------------------------------------------------------------- parent
def _child(kind: str, variant: str, runs: int, args, pythonpath: str | None = None) -> dict:
    import os

    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--variant", variant,
           "--runs", str(runs), "--years", str(args.years), "--root-seed", str(args.root_seed)]
    if args.seeds_path:
        cmd += ["--seeds-path", args.seeds_path]
    env = dict(os.environ)
    if pythonpath:  # another checkout's commissim first on the path
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
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
    p.add_argument("--runs", type=int, default=300, help="runs per measurement (default 300)")
    p.add_argument("--repeats", type=int, default=3, help="repeats of each measurement; the median is shown")
    p.add_argument("--years", type=int, default=10, help="funding rounds per run (default 10)")
    p.add_argument("--root-seed", type=int, default=20230401)
    p.add_argument("--all", action="store_true", help="also the batch library alone (summaries; compare's batch)")
    p.add_argument("--baseline", metavar="DIR", help="also compare() of the checkout at DIR (DIR/commissim/...)")
    p.add_argument("--memory-runs", type=int, nargs="*", default=[],
                   help="run counts for a peak-memory measurement of compare's batch (default: none)")
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
    print(f"{len(scenarios)} scenarios x {reps} seeds = {n} runs of {args.years} years, 2 processes, "
          f"median of {args.repeats} (every repeat in brackets)")
    sides = [
        ("batch_run", "defaults", None, "mesa.batch_run, model defaults (model + agent reporters)"),
        ("batch_run", "model_reporters", None, "mesa.batch_run, collect_agent_data=False (model reporters)"),
        ("engine", "compare", None, "compare() end to end (runs, tables, figures, report.md)"),
    ]
    if args.all:
        sides += [("engine", "summaries", None, "batch library, summaries only (series=False)"),
                  ("engine", "series", None, "compare's batch alone (summaries, series, providers, ICBs; no figures)")]
    if args.baseline:
        sides.append(("engine", "compare", str(Path(args.baseline).resolve()),
                      f"compare() end to end, the checkout at {args.baseline}"))
    # Round-robin: every repeat runs each side once, so a machine that slows down for a while
    # slows every side alike.
    secs: dict[tuple, list[float]] = {s[:3]: [] for s in sides}
    cpus: dict[tuple, list[float]] = {s[:3]: [] for s in sides}
    for _ in range(args.repeats):
        for kind, variant, path, _label in sides:
            got = _child(kind, variant, args.runs, args, path)
            secs[(kind, variant, path)].append(got["seconds"])
            cpus[(kind, variant, path)].append(got.get("cpu", float("nan")))
    print(f"  {'':75} {'wall':>9}  {'runs/s':>6}         {'CPU (all processes)':>20}")
    for kind, variant, path, label in sides:
        xs = secs[(kind, variant, path)]
        med = statistics.median(xs)
        print(f"  {label:<75} {med:7.2f} s  {n / med:6.1f} runs/s  {statistics.median(cpus[(kind, variant, path)]):7.1f} "
              f"CPU-s   ({', '.join(f'{x:.2f}' for x in xs)})")
    compare_ = ("engine", "compare", None)
    lines = [("compare() end to end vs batch_run, model reporters (target >= 1.2)", compare_,
              ("batch_run", "model_reporters", None)),
             ("compare() end to end vs batch_run as a Mesa user calls it", compare_, ("batch_run", "defaults", None))]
    if args.all:
        lines.append(("compare's batch alone vs batch_run, model reporters", ("engine", "series", None),
                      ("batch_run", "model_reporters", None)))
    if args.baseline:
        base = ("engine", "compare", str(Path(args.baseline).resolve()))
        lines += [(f"compare() at {args.baseline} vs batch_run, model reporters", base,
                   ("batch_run", "model_reporters", None)),
                  (f"compare() now vs compare() at {args.baseline}", compare_, base)]
    # Each ratio is the median over the repeats of that repeat's own ratio: the two sides of a
    # ratio ran minutes apart at most, so a machine shared with other work disturbs it less.
    for label, a, b in lines:
        per_round = [tb / ta for ta, tb in zip(secs[a], secs[b])]
        print(f"ratio, {label:<80} {statistics.median(per_round):5.2f}x  "
              f"({', '.join(f'{r:.2f}' for r in per_round)})")

    # The bound the work sets: on 2 cores kept busy, a side takes at least its CPU-seconds / 2, so compare can beat
    # batch_run by at most the ratio of their CPU-seconds (more only where batch_run leaves a core idle).
    cpu_b = statistics.median(cpus[("batch_run", "model_reporters", None)])
    cpu_c = statistics.median(cpus[compare_])
    print(f"work: compare {cpu_c:.1f} CPU-s against batch_run's {cpu_b:.1f} (model reporters): on 2 busy cores compare "
          f"can be at most {cpu_b / cpu_c:.2f}x as fast; 1.2x needs compare's CPU at or under {cpu_b / 1.2:.1f} CPU-s")
    if args.all:
        cpu_s = statistics.median(cpus[("engine", "series", None)])
        print(f"      of which its batch (the runs, collected and written) {cpu_s:.1f} CPU-s, the rest (tables, exposure, "
              f"figures, report) about {cpu_c - cpu_s:.1f}")

    if args.memory_runs:
        print("peak memory, engine as compare (series=True), 2 processes:")
        for runs in args.memory_runs:
            res = _child("engine", "series", runs, args)
            print(f"  {res['runs']:6d} runs: {res['peak_mb']:7.1f} MB in all (engine process {res['parent_mb']:.1f} MB, "
                  f"largest worker {res['worker_mb']:.1f} MB; {res['seconds']:.1f} s)")
        print(f"  ({res['peak_how']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
