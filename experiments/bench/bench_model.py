"""Benchmark of the model itself (a script, not a test).

    python experiments/bench/bench_model.py [--runs 30] [--scenario full_delegation]

Prints the median wall time of a full 10-round England run (construction
included, as a sweep pays it), of one funding round, the runs per second that
implies on one core, and peak memory (Python allocations during one run, and
the process's maximum resident set size).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--scenario", action="append", help="scenario(s) to time (default: nhse_direct, full_delegation)")
    args = ap.parse_args(argv)
    from commissim.model import CommissioningModel
    from commissim.model.simulation import simulate

    scenarios = args.scenario or ["nhse_direct", "full_delegation"]
    simulate(scenarios[0], 1, 0)  # warm-up: imports, seed tables, base-world cache
    print(f"commissim model benchmark: England, 42 ICBs; {args.runs} runs per figure; medians")
    for sc in scenarios:
        full, rounds, build = [], [], []
        for seed in range(args.runs):
            t0 = time.perf_counter()
            m = CommissioningModel(sc, rng=seed, collect_agent_data=False)
            t1 = time.perf_counter()
            for _ in range(10):
                r0 = time.perf_counter()
                m.step()
                rounds.append(time.perf_counter() - r0)
            m.summary()
            full.append(time.perf_counter() - t0)
            build.append(t1 - t0)
        med = statistics.median(full)
        print(f"  {sc:18s} 10-round run {med * 1e3:6.1f} ms  (build {statistics.median(build) * 1e3:4.1f} ms, "
              f"one round {statistics.median(rounds) * 1e3:4.2f} ms)  -> {1 / med:5.1f} runs/s on one core")
        agents = []
        for seed in range(max(5, args.runs // 3)):
            t0 = time.perf_counter()
            CommissioningModel(sc, rng=seed, collect_agent_data=True).run(10)
            agents.append(time.perf_counter() - t0)
        print(f"  {'':18s} with ICB and provider reporters collected: {statistics.median(agents) * 1e3:6.1f} ms")
    tracemalloc.start()
    simulate(scenarios[-1], 10, 123, series=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak Python allocations during one 10-round run: {peak / 2**20:.1f} MiB; process max RSS {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
