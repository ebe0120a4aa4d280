"""Memory on the batch path stays flat in the number of runs.

The cause of the growth once measured (about 0.1-0.3 MB a run for each worker process, without
end): a run's model is garbage only to the cyclic collector, and a worker left it to the
collector's own schedule, which kept dead models for many runs and grew the C heap. A pool
worker now freezes what it inherited and collects every ``COLLECT_EVERY`` runs (``worker.init_worker``).
These tests catch that coming back without timing or memory thresholds: a stand-in run
function leaves cyclic garbage in the oldest generation, as a model does, and reports how much
of the earlier runs' garbage is still alive when it starts.
"""

from __future__ import annotations

import gc

import _engine_helpers as h
from commissim.experiments.batch import load_results, open_executor, run_batch, worker
from commissim.experiments.batch.design import Run
from commissim.experiments.model_runs import model_runner


def test_pool_workers_hold_the_garbage_of_a_few_runs_at_most(tmp_path):
    with open_executor("processes", 1, log=lambda m: None) as ex:  # open already: every run but the first in it
        res = run_batch([{"scenario": "nhse_direct"}, {"scenario": "full_delegation"}],
                        runner=model_runner(h.leaves_cyclic_garbage), out=tmp_path / "b", replicates=20, years=1,
                        executor=ex.executor, workers=1, chunk_size=6, series=False, progress=False,
                        log=lambda m: None)
    assert res.n_done == 40
    s = load_results(tmp_path / "b").summaries
    in_pool = s[s["frozen_objects"] > 0]  # the first run ran in this process, to check the input
    assert len(in_pool) == 39, "the pool's worker did not freeze what it inherited"
    assert in_pool["cycles_alive_at_start"].max() < worker.COLLECT_EVERY, \
        in_pool[["run_id", "cycles_alive_at_start"]].to_string()


def test_run_chunk_collects_every_few_runs_only_in_an_initialised_worker(monkeypatch):
    k = worker.COLLECT_EVERY
    task = worker.Task(h.leaves_cyclic_garbage, {}, 1, False, ())
    runs = [Run(f"p0000r{r:04d}", 0, r, r + 1, "nhse_direct", {}) for r in range(2 * k + 2)]
    gc.collect()
    monkeypatch.setattr(worker, "_COLLECT_AFTER_RUN", True)
    monkeypatch.setattr(worker, "_runs_since_collect", 0)
    res = worker.run_chunk(task, runs)
    assert res.ok == [r.run_id for r in runs]
    import pyarrow as pa

    alive = pa.ipc.open_file(pa.BufferReader(res.parts["summaries"])).read_all().column("cycles_alive_at_start")
    assert alive.to_pylist() == [float(i % k) for i in range(2 * k + 2)]  # freed every k runs
    gc.collect()
    monkeypatch.setattr(worker, "_COLLECT_AFTER_RUN", False)  # this process (serial runs): left alone
    table = pa.ipc.open_file(pa.BufferReader(worker.run_chunk(task, runs[:4]).parts["summaries"])).read_all()
    assert table.column("cycles_alive_at_start").to_pylist()[1:] == [1.0, 2.0, 3.0]
    gc.collect()
