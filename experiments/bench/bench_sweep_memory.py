"""Benchmark: a large sweep's throughput and the memory of its whole process tree, per 1,000 runs.

Run it from the project folder (after ``make install``)::

    python experiments/bench/bench_sweep_memory.py                      # 100,000 runs of 10 years, 2 workers
    python experiments/bench/bench_sweep_memory.py --runs 20000 --years 1 --workers 2

The sweep is the headline space (``configs/sobol_delegation.toml``) sampled by Latin hypercube,
one seed per point, so every run is a different design point, run by ``sweep()`` on a local
process pool into a fresh folder (``--out``, default ``results/bench_sweep_memory``; the analysis
is left out: ``--analyse`` adds it). While it runs, every half second, the resident memory (RSS)
of each process of the tree is sampled: this process (the engine), the pool's fork server, its
workers and Python's resource tracker. Every 1,000 finished runs it prints a line: runs, run rate over those
1,000, the tree's total and each process's memory. At the end: throughput, the tree's peak, and
each worker's growth per 1,000 runs after the warm-up (a least-squares slope over the lines
after the first ``--warmup`` runs), with the tree's memory extrapolated to 100,000 runs from it.
Target: flat (growth within noise) and a tree under 2 GB at 100,000 runs.

A worker that is replaced gets a new line of its own; RSS counts pages shared with the fork server
in every process that maps them, so the total overstates the memory in use.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import threading
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "sobol_delegation.toml"
MB = 2**20


class _Sampler:
    """Samples the RSS of every process in this process's tree, and counts finished runs from the
    folder's chunk markers (each marker read once)."""

    def __init__(self, out: Path, every: int = 1000, interval: float = 0.5):
        self.out, self.every, self.interval = out, every, interval
        self.seen: set[str] = set()
        self.runs = 0
        self.peak_mb = 0.0
        self.lines: list[dict] = []
        self._stop = threading.Event()
        self._next = every
        self._t0 = time.perf_counter()
        self._last = (0, self._t0)

    def _count(self) -> None:
        done = self.out / "parts" / "_done"
        if not done.is_dir():
            return
        for marker in done.glob("*.json"):
            if marker.name in self.seen:
                continue
            try:
                self.runs += len(json.loads(marker.read_text())["ok"])
            except (OSError, ValueError, KeyError):
                continue  # being written: read it next time
            self.seen.add(marker.name)

    def _memory(self) -> dict[str, float]:
        import psutil

        me = psutil.Process()
        out: dict[str, float] = {}
        for p in [me, *me.children(recursive=True)]:
            try:
                cmd = " ".join(p.cmdline())
                rss = p.memory_info().rss / MB
            except psutil.Error:
                continue
            if not rss:  # exited, not yet reaped
                continue
            if p.pid == me.pid:
                name = "engine"
            elif "forkserver" in cmd and p.ppid() == me.pid:  # its workers share its command line
                name = "fork server"
            elif "resource_tracker" in cmd:
                name = "resource tracker"
            else:
                name = f"worker {p.pid}"
            out[name] = rss
        return out

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._count()
            mem = self._memory()
            total = sum(mem.values())
            self.peak_mb = max(self.peak_mb, total)
            if self.runs >= self._next:
                now = time.perf_counter()
                rate = (self.runs - self._last[0]) / max(now - self._last[1], 1e-9)
                self._last = (self.runs, now)
                self.lines.append({"runs": self.runs, "seconds": now - self._t0, "rate": rate, "total": total,
                                   "mem": mem})
                workers = "  ".join(f"{k.split()[-1]} {v:6.1f}" for k, v in mem.items() if k.startswith("worker"))
                print(f"{self.runs:8d} runs {now - self._t0:8.1f} s {rate:6.1f} runs/s | tree {total:7.1f} MB | "
                      f"engine {mem.get('engine', 0):6.1f}  fork server {mem.get('fork server', 0):6.1f} | workers "
                      f"{workers}", flush=True)
                self._next = (self.runs // self.every + 1) * self.every
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys on xs (0 with fewer than 2 points)."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100_000, help="runs in the sweep (default 100,000)")
    ap.add_argument("--years", type=int, default=10, help="funding rounds per run (default 10)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--every", type=int, default=1000, help="print a line every this many runs (default 1,000)")
    ap.add_argument("--warmup", type=int, default=2000, help="runs left out of the growth slope (default 2,000)")
    ap.add_argument("--analyse", action="store_true", help="also analyse the sweep (as `commissim sweep` does)")
    ap.add_argument("--out", default="results/bench_sweep_memory")
    args = ap.parse_args(argv)
    try:
        import psutil  # noqa: F401
    except ImportError:
        raise SystemExit("this benchmark samples memory with psutil: pip install psutil") from None
    from commissim.experiments.sensitivity import sweep

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    print(f"sweep: {args.runs} runs of {args.years} years (LHS over the headline space, full_delegation), "
          f"{args.workers} worker processes -> {out}")
    import psutil

    config = {"method": "lhs", "n": args.runs, "seeds": 1, "years": args.years, "second_order": False}
    # What the engine imports and builds besides the plan, so that the memory read next is the engine
    # before the plan: the model, Arrow, pandas, tqdm and a small sample of the same space.
    import pyarrow.ipc  # noqa: F401
    import tqdm.auto  # noqa: F401

    import commissim.experiments.batch.engine  # noqa: F401
    import commissim.model.model  # noqa: F401
    from commissim.experiments.sensitivity.space import load_spec
    from commissim.experiments.sensitivity.sweep import prepare

    prepare(load_spec(CONFIG, {**config, "n": 16}))
    engine_before = psutil.Process().memory_info().rss / MB  # the engine before it plans the design
    with _Sampler(out, args.every) as sampler:
        t0 = time.perf_counter()
        sweep(CONFIG, out, workers=args.workers, analyse=args.analyse, figures=False, progress=False,
              log=lambda m: None, **config)
        seconds = time.perf_counter() - t0
    lines = sampler.lines
    print(f"\nthroughput: {args.runs} runs in {seconds:.1f} s = {args.runs / seconds:.1f} runs/s "
          f"(median over the 1,000-run windows {statistics.median([ln['rate'] for ln in lines]) if lines else 0:.1f})")
    print(f"peak memory of the process tree (RSS, sampled every 0.5 s): {sampler.peak_mb:.0f} MB")
    # after the warm-up, while the pool is up (the last line may come after its workers exited)
    after = [ln for ln in lines if ln["runs"] > args.warmup and any(k.startswith("worker") for k in ln["mem"])]
    if len(after) >= 2:
        xs = [ln["runs"] / 1000 for ln in after]
        total_slope = _slope(xs, [ln["total"] for ln in after])
        print(f"growth after the first {args.warmup} runs, per 1,000 runs (least squares over {len(after)} lines):")
        print(f"  whole tree {total_slope:+.2f} MB; engine "
              f"{_slope(xs, [ln['mem'].get('engine', 0) for ln in after]):+.2f} MB")
        names = sorted({k for ln in after for k in ln["mem"] if k.startswith("worker")})
        for name in names:
            pts = [(ln["runs"] / 1000, ln["mem"][name]) for ln in after if name in ln["mem"]]
            if len(pts) >= 2:
                print(f"  {name}: {_slope(*map(list, zip(*pts))):+.2f} MB ({pts[0][1]:.0f} -> {pts[-1][1]:.0f} MB)")
        last = after[-1]
        if args.runs < 100_000:
            # The engine holds the plan of the whole design from the start (memory per design point, not
            # per run): scale it to 100,000 points; the rest by the slope.
            per_point = max(0.0, (lines[0]["mem"].get("engine", 0) - engine_before) / args.runs)
            at = last["total"] + total_slope * (100_000 - last["runs"]) / 1000 + per_point * (100_000 - args.runs)
            print(f"  the engine's plan of the design: about {per_point * 1024:.1f} KB a design point "
                  f"({engine_before:.0f} MB before planning)")
            print(f"  the tree at 100,000 runs, extrapolated (slope, and the plan for 100,000 points): {at:.0f} MB")
    else:
        print(f"(too few lines after the first {args.warmup} runs for a growth slope)")
    return 0


if __name__ == "__main__":  # the guard is needed: worker processes import this file
    raise SystemExit(main())
