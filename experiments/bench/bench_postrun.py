"""Benchmark: what ``compare`` does after its runs (CSV tables, exposure, figures, report), part by part.

Run it from the project folder (after ``make install``)::

    python experiments/bench/bench_postrun.py                       # makes a 300-run folder once, 3 repeats
    python experiments/bench/bench_postrun.py --folder results/compare --repeats 5
    python experiments/bench/bench_postrun.py --baseline /tmp/old   # also the checkout at /tmp/old, interleaved
    python experiments/bench/bench_postrun.py --per-figure          # each figure job alone, CPU seconds

A finished compare folder (``--folder``; default: ``compare()`` of every named scenario for
``--runs`` runs, made once in a temporary folder) is copied for every measurement, and a fresh
Python process then does what ``compare`` does once its batch is done, as ``compare`` does it:

- it first puts itself and a 2-process pool where ``compare`` has them when its runs end: the
  model imported and run once here (``compare`` runs a batch's first run in its own process), the pool
  opened with ``compare``'s fork-server preload and each worker warmed by a run of the model;
- then it times the post-run work end to end (``comparison.after_runs``: tables, exposure, figures
  drawn in the pool, ``report.md``), and the parts of it (wall seconds of each, as seen from this
  process: parts that overlap each other overlap in these times too), and the CPU seconds of this
  process and the workers;
- ``--parts``: also each part alone, one after another, on a new warm pool (figures alone: the pool
  drawing them while this process waits).

Sides take turns, in the reverse order every other repeat (``--baseline``: a checkout as ``bench_batch.py --baseline`` takes it), and each
number is the median of ``--repeats`` with every repeat shown. A checkout whose compare has no
``after_runs`` is timed doing what its ``compare`` did after the runs (tables, exposure, then the
figures in the pool while this process writes the report).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("csv", "exposure", "figures", "report")


# --------------------------------------------------------------------------- the child
def _warm_task(_: int) -> int:
    """A worker's state at the end of compare's runs: the model has run in it."""
    from commissim.model.simulation import simulate

    simulate("nhse_direct", years=1, rng=1)
    time.sleep(0.2)  # hold this worker so the other task starts the other one
    return os.getpid()


def _cpu(pids) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _pool(comparison):
    """compare's pool: the same preload, 2 workers, each warmed by a run of the model."""
    from commissim.experiments.batch import batch_preload, open_executor
    from commissim.experiments.model_runs import model_runner

    cm = open_executor("processes", 2, preload=batch_preload(model_runner(), comparison.FIGURE_PRELOAD),
                       log=lambda m: None)
    ex = cm.__enter__()
    pids = set(ex.executor.map(_warm_task, range(2)))
    return cm, ex, pids


def _after_runs(comparison, out: Path, ex, say) -> None:
    """What compare does after its batch; an older compare's sequence when it has no after_runs."""
    if hasattr(comparison, "after_runs"):
        comparison.after_runs(out, ex, figures=True, log=say)
        return
    import concurrent.futures as cf

    from commissim.experiments.compare.exposure import write_exposure
    from commissim.experiments.compare.figures import make_figures
    from commissim.experiments.compare.report import write_report

    comparison._csv_in_one_money_unit(out)
    write_exposure(out)
    with cf.ThreadPoolExecutor(1, thread_name_prefix="commissim-figures") as drawing:
        drawn = drawing.submit(make_figures, out, log=say, executor=ex.executor)
        write_report(out, figures_ready=drawn.result)


def child(folder: Path, parts: bool) -> dict:
    import commissim.experiments.compare.comparison as comparison
    import commissim.experiments.compare.exposure as exposure
    import commissim.experiments.compare.figures as figures
    import commissim.experiments.compare.report as report
    from commissim.model.simulation import simulate

    simulate("nhse_direct", years=1, rng=1)  # compare's process has run the batch's first run
    said: list[str] = []
    times: dict[str, float] = {}

    def timed(mod, name, key):
        f = getattr(mod, name)

        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - t0
        setattr(mod, name, wrapper)

    timed(comparison, "_csv_in_one_money_unit", "csv")
    timed(exposure, "write_exposure", "exposure")
    timed(figures, "make_figures", "figures")
    timed(report, "write_report", "report")
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "compare"
        shutil.copytree(folder, out)
        cm, ex, pids = _pool(comparison)
        try:
            cpu0, me0 = _cpu(pids), _own_cpu()
            t0 = time.perf_counter()
            _after_runs(comparison, out, ex, said.append)
            result["total"] = time.perf_counter() - t0
            result["cpu_here"] = _own_cpu() - me0
            result["cpu_workers"] = _cpu(pids) - cpu0
        finally:
            cm.__exit__(None, None, None)
        result.update({f"in_{k}": v for k, v in times.items()})
        result["figures_n"] = len(list((out / "figures").glob("*.png")))
        if parts:
            times.clear()
            cm, ex, pids = _pool(comparison)
            try:
                comparison._csv_in_one_money_unit(out)
                exposure.write_exposure(out)
                figures.make_figures(out, executor=ex.executor)
                report.write_report(out)
            finally:
                cm.__exit__(None, None, None)
            result.update({f"alone_{k}": v for k, v in times.items()})
    return result


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def per_figure(folder: Path, passes: int = 3) -> dict:
    """Each figure job alone in this process, after one untimed pass over them all: CPU seconds per job
    (this process's, so a machine shared with other work disturbs it less than wall time), the median of
    ``passes`` passes over them all."""
    import matplotlib

    matplotlib.use("Agg")
    from commissim.experiments.compare import figures

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "compare"
        shutil.copytree(folder, out)
        (out / "figures").mkdir(exist_ok=True)
        jobs = figures.figure_jobs(out)
        for job in jobs:
            figures.draw_figure(out, job)
        got: dict[str, list[float]] = {}
        for _ in range(passes):
            for job in jobs:
                t0 = time.process_time()
                figures.draw_figure(out, job)
                got.setdefault(" ".join(map(str, job[:2])), []).append(time.process_time() - t0)
    return {job: statistics.median(xs) for job, xs in got.items()}


# --------------------------------------------------------------------------- the parent
def _run_child(args, folder: Path, pythonpath: str | None, mode: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--folder", str(folder),
           "--repeats", str(args.repeats)]
    if args.parts:
        cmd.append("--parts")
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"bench child failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _make_folder(runs: int, where: Path) -> Path:
    import math

    from commissim.experiments.compare import compare
    from commissim.model.scenarios import list_scenarios

    names = [s.name for s in list_scenarios()]
    out = where / "compare"
    print(f"making a folder of {runs} runs in {out} ...", flush=True)
    compare(names, seeds=max(1, math.ceil(runs / len(names))), out=out, workers=2, progress=False,
            figures=False, log=lambda m: None)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--folder", help="a finished compare folder (default: made once, --runs runs)")
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--baseline", metavar="DIR", help="also the checkout at DIR (DIR/commissim/...)")
    p.add_argument("--now", metavar="DIR", help="the checkout at DIR instead of this one as the 'now' side")
    p.add_argument("--parts", action="store_true", help="also each part alone, one after another")
    p.add_argument("--per-figure", action="store_true", help="each figure job alone, in one process")
    p.add_argument("--child", choices=("post", "figure"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        out = child(Path(args.folder), args.parts) if args.child == "post" else per_figure(Path(args.folder))
        print(json.dumps(out))
        return 0

    tmp = None
    if args.folder:
        folder = Path(args.folder)
    else:
        tmp = tempfile.TemporaryDirectory()
        folder = _make_folder(args.runs, Path(tmp.name))
    sides = [("now", str(Path(args.now).resolve()) if args.now else None)]
    if args.baseline:
        sides.append((f"at {args.baseline}", str(Path(args.baseline).resolve())))
    try:
        if args.per_figure:
            per: dict[str, list[dict]] = {label: [] for label, _ in sides}
            for k in range(args.repeats):  # round-robin, as below
                for label, path in (sides if k % 2 == 0 else sides[::-1]):
                    per[label].append(_run_child(args, folder, path, "figure"))
            med = {label: {job: statistics.median(r[job] for r in runs if job in r) for job in runs[0]}
                   for label, runs in per.items()}
            print(f"each figure job alone in one process (warm), CPU seconds, median of {args.repeats}:")
            print(f"  {'job':55}" + "".join(f"{label:>18}" for label, _ in sides))
            for job in med["now"]:
                print(f"  {job:55}" + "".join(f"{med[label].get(job, float('nan')):18.3f}" for label, _ in sides))
            totals = {label: [sum(r.values()) for r in runs] for label, runs in per.items()}
            print(f"  {'all (median of the sums)':55}"
                  + "".join(f"{statistics.median(totals[label]):18.3f}" for label, _ in sides))
            return 0
        got: dict[str, list[dict]] = {label: [] for label, _ in sides}
        # Round-robin, the order of the sides reversed every other repeat (ABBA): a machine slowing down for a
        # while slows every side alike, and neither side always goes first.
        for k in range(args.repeats):
            for label, path in (sides if k % 2 == 0 else sides[::-1]):
                got[label].append(_run_child(args, folder, path, "post"))
    finally:
        if tmp is not None:
            tmp.cleanup()
    keys = ["total", "cpu_here", "cpu_workers", *(f"in_{k}" for k in PARTS)]
    if args.parts:
        keys += [f"alone_{k}" for k in PARTS]
    names = {"total": "after the runs, end to end (wall)", "cpu_here": "  CPU-s, compare's process",
             "cpu_workers": "  CPU-s, the 2 workers", **{f"in_{k}": f"  {k} (wall, within it)" for k in PARTS},
             **{f"alone_{k}": f"{k} alone (wall)" for k in PARTS}}
    print(f"after compare's runs ({folder}), 2 workers, median of {args.repeats} (every repeat in brackets):")
    for key in keys:
        cells = []
        for label, _ in sides:
            xs = [r[key] for r in got[label] if key in r]
            cells.append(f"{label}: {statistics.median(xs):6.2f} ({', '.join(f'{x:.2f}' for x in xs)})" if xs
                         else f"{label}: -")
        print(f"  {names[key]:38} " + "   ".join(cells))
    for label, _ in sides:
        print(f"  figures written ({label}): {sorted({r['figures_n'] for r in got[label]})}")
    if args.baseline:
        ratios = [b["total"] / a["total"] for a, b in zip(got["now"], got[sides[1][0]])]
        print(f"ratio, {sides[1][0]} / now: {statistics.median(ratios):.2f}x ({', '.join(f'{r:.2f}' for r in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
