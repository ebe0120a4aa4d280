"""Benchmark of the model itself (a script, not a test).

    python experiments/bench/bench_model.py [--runs 30] [--scenario full_delegation]

Prints, in one process, the median wall time of a full 10-round England run
(construction included, as a sweep pays it) and of one funding round per scenario, the
runs per second that implies on one core, the dense numpy floor of a round at the model's
own shape and the ratio of the round to it, and peak memory (Python allocations during one
run, and the process's maximum resident set size).

The dense floor is what one funding round cannot do with less work in numpy, on arrays of
the model's own shape (ICBs x provider-service cells, read from a built model, with the
providers' and services' counts): a demand update; each ICB's demand shared over the cells
by preference weights normalised per service; flows, payments and their totals per
provider, per service and per ICB; each provider's cost and margin; and a cut scaled back
where it exceeds capacity. About 25 whole-array passes, no Python loop over agents. Its time
is the median of many repeats, measured between the model's runs (so both see the same
machine). The model's round does more (decisions, contracts, measures); the ratio says how
far it is from the floor.

The toy world of the tests (6 ICBs, 6 providers, 4 services: arrays of a few dozen cells) is
timed too, per scenario: its round is what the round costs when its arrays cost nothing - the
Python calls of the phases, the agents' decisions and the DataCollector - so it is the part of
the England round no array work can remove, printed as a multiple of the same dense floor.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def _shape(model) -> tuple[int, int, int, int]:
    """(ICBs, provider-service cells, providers, services) of a built model."""
    d = model.data
    n_icb, n_prov = int(d.n_icbs), int(d.n_providers)
    n_line = int(np.shape(d.base_cases)[1])
    flow0 = getattr(getattr(model, "state", None), "flow0", None)  # the model's cell layout, when it has one
    n_cell = int(np.shape(flow0)[1]) if flow0 is not None and np.ndim(flow0) == 2 else n_prov * n_line
    return n_icb, n_cell, n_prov, n_line


class DenseFloor:
    """One dense funding round on arrays of the model's shape (see the module docstring)."""

    def __init__(self, n_icb: int, n_cell: int, n_prov: int, n_line: int, seed: int = 0):
        g = np.random.default_rng(seed)
        self.prov = g.integers(0, n_prov, n_cell)
        self.line = g.integers(0, n_line, n_cell)
        self.n_prov, self.n_line = n_prov, n_line
        self.pref = g.random((n_icb, n_cell)) + 0.1
        self.demand = g.random((n_icb, n_line)) * 100
        self.growth = 1 + g.random(n_line) * 0.03
        self.price = g.random(n_cell) + 1
        self.unit_cost = g.random(n_cell) + 0.5
        self.fixed = g.random(n_prov) * 10
        self.capacity = g.random(n_cell) * 2000 + 100

    def round(self) -> float:
        self.demand *= self.growth  # demand update
        w = self.pref  # preference weights, normalised per ICB and service
        per_line = np.zeros((w.shape[0], self.n_line))
        for i in range(w.shape[0]):  # (one bincount per ICB row is cheaper than a dense one-hot product)
            per_line[i] = np.bincount(self.line, weights=w[i], minlength=self.n_line)
        share = w / per_line[:, self.line]
        flow = self.demand[:, self.line] * share  # ICB x cell
        volume = flow.sum(axis=0)
        over = np.maximum(volume / self.capacity, 1.0)  # cut back where over capacity
        flow /= over
        volume /= over
        pay = flow * self.price
        icb_spend = pay.sum(axis=1)
        income = np.bincount(self.prov, weights=pay.sum(axis=0), minlength=self.n_prov)
        by_line = np.bincount(self.line, weights=volume, minlength=self.n_line)
        cost = self.fixed + np.bincount(self.prov, weights=volume * self.unit_cost, minlength=self.n_prov)
        margin = (income - cost) / np.maximum(income, 1e-9)
        return float(icb_spend.sum() + margin.sum() + by_line.sum())


def _floor_seconds(floor: DenseFloor, repeats: int = 200) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        floor.round()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _toy_seeds() -> str | None:
    """The tests' toy world written to a temporary folder (None outside a source checkout)."""
    tests = Path(__file__).resolve().parents[2] / "tests"
    if not (tests / "toyworld.py").exists():
        return None
    sys.path.insert(0, str(tests))
    from toyworld import write_toy_seeds

    return str(write_toy_seeds(tempfile.mkdtemp(prefix="commissim-toy-")))


def _round_seconds(model_cls, scenario: str, runs: int, seeds_path: str | None = None) -> float:
    """Median wall time of one round over ``runs`` 10-round runs."""
    rounds = []
    for seed in range(runs):
        m = model_cls(scenario, rng=seed, collect_agent_data=False, seeds_path=seeds_path)
        for _ in range(10):
            r0 = time.perf_counter()
            m.step()
            rounds.append(time.perf_counter() - r0)
    return statistics.median(rounds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="runs per scenario (default 30); medians")
    ap.add_argument("--scenario", action="append", help="scenario(s) to time (default: every named scenario)")
    args = ap.parse_args(argv)
    from commissim.model import CommissioningModel
    from commissim.model.simulation import simulate

    if args.scenario:
        scenarios = args.scenario
    else:
        from commissim.model.scenarios import list_scenarios

        scenarios = [getattr(sc, "name", sc) for sc in list_scenarios()]
    simulate(scenarios[0], 1, 0)  # warm-up: imports, seed tables, base-world cache
    shape = _shape(CommissioningModel(scenarios[0], rng=0, collect_agent_data=False))
    floor = DenseFloor(*shape)
    _floor_seconds(floor, 20)  # warm-up
    print(f"commissim model benchmark: England, {shape[0]} ICBs, {shape[2]} providers, {shape[3]} services "
          f"({shape[1]} provider-service cells); {args.runs} runs per scenario; medians")
    toy = _toy_seeds()
    floors: list[float] = []
    ratios: dict[str, float] = {}
    toy_ratios: dict[str, float] = {}
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
            floors.append(_floor_seconds(floor, 20))  # between the runs: the same machine as the model sees
        med, one_round = statistics.median(full), statistics.median(rounds)
        flo = statistics.median(floors)
        ratios[sc] = one_round / flo
        print(f"  {sc:18s} 10-round run {med * 1e3:6.1f} ms  (build {statistics.median(build) * 1e3:4.1f} ms, "
              f"one round {one_round * 1e3:5.2f} ms)  -> {1 / med:5.1f} runs/s on one core")
        print(f"  {'':18s} dense floor of a round {flo * 1e3:5.3f} ms; the round is {one_round / flo:5.1f}x the floor "
              f"(a 10-round run {med / (10 * flo):5.1f}x ten floors)")
        if toy is not None:
            t_toy = _round_seconds(CommissioningModel, sc, max(5, args.runs // 2), toy)
            toy_ratios[sc] = t_toy / flo
            print(f"  {'':18s} the same round on the toy world (arrays of ~100 cells): {t_toy * 1e3:5.2f} ms = "
                  f"{t_toy / flo:4.1f}x the England floor: calls, not arrays")
        agents = []
        for seed in range(max(5, args.runs // 3)):
            t0 = time.perf_counter()
            CommissioningModel(sc, rng=seed, collect_agent_data=True).run(10)
            agents.append(time.perf_counter() - t0)
        print(f"  {'':18s} with ICB and provider reporters collected: {statistics.median(agents) * 1e3:6.1f} ms")
    lo, hi = min(ratios, key=ratios.get), max(ratios, key=ratios.get)
    print(f"every scenario: one round is {ratios[lo]:.1f}x ({lo}) to {ratios[hi]:.1f}x ({hi}) the dense floor "
          f"(issue 19's target: within 4x)")
    if toy_ratios:
        lo, hi = min(toy_ratios, key=toy_ratios.get), max(toy_ratios, key=toy_ratios.get)
        print(f"the round's calls alone (toy world) are {toy_ratios[lo]:.1f}x ({lo}) to {toy_ratios[hi]:.1f}x ({hi}) "
              f"the England floor: what is left of 4x for the arrays")
    tracemalloc.start()
    simulate(scenarios[-1], 10, 123, series=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak Python allocations during one 10-round run: {peak / 2**20:.1f} MiB; process max RSS {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
