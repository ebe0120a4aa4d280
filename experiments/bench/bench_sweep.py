"""Benchmark: parallel efficiency of a 2,000-run sweep on 2 local workers and on a 2-worker Dask LocalCluster.

Run it from the project folder::

    python experiments/bench/bench_sweep.py                 # 2,000 runs of 10 years, 2 workers
    python experiments/bench/bench_sweep.py --runs 500 --workers 4

The sweep is the headline space (``configs/sobol_delegation.toml``) sampled by Latin hypercube,
one seed per point, so every run is a different design point. It is run three times through
the engine into fresh folders under ``results/bench_sweep/``:

1. serially, in this process - the sum of its single-run times (``run_seconds``, timed around
   each model run) is the work ``T1``;
2. on ``--workers`` local processes (the default executor);
3. on a Dask ``LocalCluster`` of ``--workers`` single-threaded worker processes on 127.0.0.1.

A finished serial folder from an earlier run is resumed rather than re-run (same runs, same
seeds: its recorded run times are T1); delete ``results/bench_sweep/serial`` to measure it again.

Parallel efficiency = (T1 / workers) / wall time, printed for the wall time including the
start-up of the pool or cluster and for the run phase alone. Target: >= 0.85 for both.
The results of the three runs are also checked to be identical, run by run.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "sobol_delegation.toml"


def _timed(spec, design, out: Path, executor: str, workers: int) -> dict:
    from commissim.experiments.batch import load_results, open_executor, run_batch
    from commissim.experiments.model_runs import model_runner

    if executor != "serial":  # a finished serial folder is resumed: its run times are kept (T1 only)
        shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    with open_executor(executor, workers if executor != "serial" else None, log=lambda m: None) as ex:
        t1 = time.perf_counter()
        res = run_batch(design, runner=model_runner(), out=out, replicates=spec.seeds, years=spec.years,
                        root_seed=spec.root_seed, executor=ex.executor, workers=ex.workers, series=False,
                        label=f"bench {executor}", progress=False, log=lambda m: None)
        t2 = time.perf_counter()
    t3 = time.perf_counter()
    assert res.n_failed == 0, res.failure_summary()
    s = load_results(out, series=False, providers=False).summaries
    return {"wall": t3 - t0, "run_phase": t2 - t1, "work": float(s["run_seconds"].sum()), "summaries": s}


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    from commissim.experiments.sensitivity.space import load_spec
    from commissim.experiments.sensitivity.sweep import prepare

    ap = argparse.ArgumentParser(description="parallel efficiency of a sweep (processes and Dask)")
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--out", default="results/bench_sweep")
    args = ap.parse_args(argv)

    spec = load_spec(CONFIG, {"method": "lhs", "n": args.runs, "seeds": 1, "years": args.years,
                              "second_order": False})
    design, _info, _samples = prepare(spec)
    base = Path(args.out)
    print(f"{len(design)} runs of {spec.years} years (LHS over {len(spec.params)} parameters, full_delegation), "
          f"{args.workers} workers")
    serial = _timed(spec, design, base / "serial", "serial", 1)
    t1 = serial["work"]
    print(f"serial: wall {serial['wall']:.1f} s, sum of single-run times T1 = {t1:.1f} s "
          f"({1000 * t1 / len(design):.1f} ms a run)")
    rows = []
    for executor in ("processes", "dask"):
        r = _timed(spec, design, base / executor, executor, args.workers)
        ideal = t1 / args.workers
        pd.testing.assert_frame_equal(
            serial["summaries"].drop(columns="run_seconds").sort_values("run_id").reset_index(drop=True),
            r["summaries"].drop(columns="run_seconds").sort_values("run_id").reset_index(drop=True))
        rows.append((executor, r["wall"], r["run_phase"], ideal / r["wall"], ideal / r["run_phase"],
                     r["work"] / args.workers / r["wall"]))
    label = {"processes": f"{args.workers} local processes", "dask": f"Dask LocalCluster, {args.workers} workers"}
    print(f"\nparallel efficiency = (T1 / {args.workers}) / wall time   [target >= 0.85]")
    print(f"{'executor':34s} {'wall s':>8s} {'runs s':>8s} {'eff. (wall)':>12s} {'eff. (runs)':>12s} "
          f"{'in-worker':>10s}")
    for executor, wall, run_phase, eff_wall, eff_run, eff_inworker in rows:
        print(f"{label[executor]:34s} {wall:8.1f} {run_phase:8.1f} {eff_wall:12.3f} {eff_run:12.3f} "
              f"{eff_inworker:10.3f}")
    print("wall: including pool/cluster start-up and shutdown; runs: the run phase only; in-worker: against the "
          "sum of the run times measured inside the workers during that sweep.")
    print("results identical run by run on all three executors: yes")
    return 0


if __name__ == "__main__":  # the guard is needed: worker processes import this file
    raise SystemExit(main())
