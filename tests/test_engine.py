"""The batch engine: seeds, determinism across executors, resume, failures, manifest.

The engine is tested with the stand-in run functions in ``_engine_helpers`` (deterministic
in the seed), so these tests compare runs with each other and do not depend on the
model's numbers; one test runs the real model on the toy world when it is available.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import shutil

import numpy as np
import pandas as pd
import pytest

import _engine_helpers as h
from commissim.experiments.batch import consolidate, load_results, make_run_id, run_batch, run_seed
from commissim.experiments.errors import BatchConfigError, command_line_words
from commissim.experiments.model_runs import model_runner

DESIGN = [{"scenario": "nhse_direct"}, {"scenario": "full_delegation", "growth_cap": 0.3}]


def _batch(out, runner=None, **kw):
    """A batch of the model's runner with ``func`` (default the fake) and ``func_kwargs``."""
    runner = runner or model_runner(kw.pop("func", h.fake_simulate), kw.pop("func_kwargs", None))
    args = dict(replicates=3, years=2, executor="serial", progress=False, log=lambda m: None)
    args.update(kw)
    return run_batch(args.pop("design", DESIGN), runner=runner, out=out, **args)


def _tables(folder):
    res = load_results(folder)
    s = res.summaries.drop(columns=["run_seconds"]).sort_values("run_id").reset_index(drop=True)
    ser = res.series.sort_values(["run_id", "round"]).reset_index(drop=True)
    prov = res.providers.sort_values(["run_id", "provider"]).reset_index(drop=True)
    return s, ser, prov


def test_seed_rule_is_the_documented_one():
    expected = int(np.random.SeedSequence(7, spawn_key=(2, 5)).generate_state(1)[0])
    assert run_seed(7, 2, 5) == expected
    seeds = {run_seed(7, p, r) for p in range(5) for r in range(20)}
    assert len(seeds) == 100
    assert make_run_id(3, 12) == "p0003r0012"


def test_common_seeds_give_every_point_the_replicates_seeds(tmp_path):
    assert run_seed(7, 2, 5, common=True) == int(np.random.SeedSequence(7, spawn_key=(5,)).generate_state(1)[0])
    assert run_seed(7, 0, 5, common=True) == run_seed(7, 3, 5, common=True) != run_seed(7, 3, 5)
    _batch(tmp_path / "c", common_seeds=True)
    s = load_results(tmp_path / "c").summaries
    by_rep = s.groupby("replicate")["seed"].nunique()
    assert (by_rep == 1).all() and s["seed"].nunique() == 3  # one seed per replicate, shared by both points
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert "common random numbers" in m["seed_rule"] and m["config"]["common_seeds"] is True
    assert m["design"][0]["seeds"] == m["design"][1]["seeds"]
    # a folder made with a point's own seeds is another batch, and says why
    with pytest.raises(BatchConfigError, match="common seeds"):
        _batch(tmp_path / "c")


def test_more_replicates_extend_a_folder_running_only_the_new_runs(tmp_path):
    first = _batch(tmp_path / "e", replicates=2)
    assert first.n_done == 4
    before = load_results(tmp_path / "e").summaries.set_index("run_id")
    said = []
    more = _batch(tmp_path / "e", replicates=5, log=said.append)
    assert (more.n_runs, more.n_done, more.n_skipped) == (10, 10, 4)  # 6 new runs, 4 kept
    assert any("extending" in m and "from 2 to 5 seeds" in m for m in said), said
    after = load_results(tmp_path / "e").summaries.set_index("run_id")
    assert len(after) == 10 and after.index.is_unique
    kept = after.loc[before.index].drop(columns="run_seconds")
    pd.testing.assert_frame_equal(kept, before.drop(columns="run_seconds"))  # the old runs are untouched
    # the same as a fresh batch of 5 replicates, run by run
    fresh = _batch(tmp_path / "f", replicates=5)
    assert fresh.n_done == 10
    pd.testing.assert_frame_equal(_tables(tmp_path / "e")[0], _tables(tmp_path / "f")[0])
    m = json.loads((tmp_path / "e" / "manifest.json").read_text())
    assert m["config"]["replicates"] == 5 and m["extended"][0]["replicates_from"] == 2
    assert all(len(d["seeds"]) == 5 for d in m["design"])
    # fewer replicates than the folder holds: nothing runs, the folder is reported on as it is, and says so
    said = []
    fewer = _batch(tmp_path / "e", replicates=3, log=said.append)
    assert (fewer.n_runs, fewer.n_done, fewer.n_skipped) == (10, 10, 10)
    assert any("holds 5 seeds per design point and 3 were asked for: reporting on all 5" in m for m in said), said
    m = json.loads((tmp_path / "e" / "manifest.json").read_text())
    assert m["config"]["replicates"] == 5 and m["replicates_asked"] == 3
    assert len(load_results(tmp_path / "e").summaries) == 10
    # anything else changed as well: still another batch
    with pytest.raises(BatchConfigError, match="different batch"):
        _batch(tmp_path / "e", replicates=6, years=3)


def test_same_results_whatever_the_executor_and_chunking(tmp_path):
    _batch(tmp_path / "serial")
    _batch(tmp_path / "one", executor="processes", workers=1)
    _batch(tmp_path / "two", executor="processes", workers=2, chunk_size=2)
    with cf.ThreadPoolExecutor(max_workers=3) as pool:  # any concurrent.futures executor plugs in
        _batch(tmp_path / "threads", executor=pool, chunk_size=1)
        assert not pool._shutdown  # the engine does not shut down an executor it was given
    ref = _tables(tmp_path / "serial")
    assert len(ref[0]) == 6 and ref[0]["run_id"].is_unique
    for other in ("one", "two", "threads"):
        got = _tables(tmp_path / other)
        for a, b in zip(ref, got):
            pd.testing.assert_frame_equal(a, b)


def test_seeds_recorded_per_run(tmp_path):
    _batch(tmp_path / "a", root_seed=11)
    res = load_results(tmp_path / "a")
    for row in res.summaries.itertuples():
        assert row.seed == run_seed(11, row.point, row.replicate)
    seeds = {d["point"]: d["seeds"] for d in res.manifest["design"]}
    assert seeds[1] == [run_seed(11, 1, r) for r in range(3)]


def test_seed_keys_give_common_random_numbers(tmp_path):
    """Points with the same seed key run on the same seeds; the key enters the configuration only when given."""
    design = [{"scenario": "nhse_direct", "growth_cap": g} for g in (0.1, 0.2, 0.3, 0.4)]
    _batch(tmp_path / "plain", design=design, replicates=2)
    _batch(tmp_path / "crn", design=design, replicates=2, seed_keys=[0, 1, 0, 1])
    plain = load_results(tmp_path / "plain").summaries.set_index("run_id")
    crn = load_results(tmp_path / "crn").summaries.set_index("run_id")
    assert plain["seed"].is_unique
    for r in (0, 1):
        assert crn.loc[make_run_id(0, r), "seed"] == crn.loc[make_run_id(2, r), "seed"] == run_seed(20230401, 0, r)
        assert crn.loc[make_run_id(1, r), "seed"] == crn.loc[make_run_id(3, r), "seed"] == run_seed(20230401, 1, r)
    m_plain = json.loads((tmp_path / "plain" / "manifest.json").read_text())
    m_crn = json.loads((tmp_path / "crn" / "manifest.json").read_text())
    assert "seed_keys" not in m_plain["config"] and m_crn["config"]["seed_keys"] == [0, 1, 0, 1]
    assert m_crn["design"][2]["seeds"] == m_crn["design"][0]["seeds"]
    with pytest.raises(BatchConfigError, match="seed_keys"):
        _batch(tmp_path / "bad", design=design, seed_keys=[0, 1])
    with pytest.raises(BatchConfigError, match="different batch"):  # other keys: another batch
        _batch(tmp_path / "crn", design=design, replicates=2, seed_keys=[0, 0, 0, 0])
    with pytest.raises(BatchConfigError, match="common_seeds and seed_keys"):  # two seed rules at once
        _batch(tmp_path / "both", design=design, replicates=2, seed_keys=[0, 1, 0, 1], common_seeds=True)
    _batch(tmp_path / "common", design=design, replicates=2, common_seeds=True)
    common = load_results(tmp_path / "common").summaries.set_index("run_id")
    for r in (0, 1):  # common seeds: one seed per replicate, whatever the point
        assert {common.loc[make_run_id(p, r), "seed"] for p in range(4)} == {run_seed(20230401, 0, r, common=True)}


def test_resume_after_interrupt_skips_finished_runs(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("")
    kw = dict(func=h.interrupt_after, func_kwargs={"counter_file": str(counter), "limit": 3}, replicates=4)
    with pytest.raises(KeyboardInterrupt):
        _batch(tmp_path / "a", **kw)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    finished = manifest["counts"]["done"]
    assert 0 < finished < 8
    counter.unlink()  # "fix" the interruption and run the same batch again
    res = _batch(tmp_path / "a", **kw)
    assert res.n_skipped == finished and res.n_done == 8 and res.n_failed == 0
    s, ser, _ = _tables(tmp_path / "a")
    assert s["run_id"].is_unique and len(s) == 8
    assert not ser.duplicated(["run_id", "round"]).any() and len(ser) == 8 * 3
    # identical to an uninterrupted batch
    _batch(tmp_path / "b", **kw)
    for a, b in zip(_tables(tmp_path / "a"), _tables(tmp_path / "b")):
        pd.testing.assert_frame_equal(a, b)


def test_resume_drops_orphan_parts_and_reruns_missing_chunks(tmp_path):
    out = tmp_path / "a"
    _batch(out, chunk_size=1)
    parts = out / "parts"
    markers = sorted((parts / "_done").glob("*.json"))
    assert len(markers) == 6
    # A chunk whose marker never got written (interrupted between its part files and its marker),
    # a stray temporary file, and a missing chunk.
    markers[0].unlink()
    (parts / "series" / ".x.parquet.tmp-1").write_bytes(b"junk")
    lost = markers[1].stem
    for f in parts.rglob(f"{lost}*"):
        f.unlink()
    res = _batch(out, chunk_size=1)
    assert res.n_skipped == 4 and res.n_done == 6
    s, ser, prov = _tables(out)
    assert len(s) == 6 and s["run_id"].is_unique
    assert len(ser) == 6 * 3 and not ser.duplicated(["run_id", "round"]).any()
    assert not prov.duplicated(["run_id", "provider"]).any()
    assert not list(parts.rglob(".*tmp*"))
    # Re-running a finished batch runs nothing and changes nothing.
    before = _tables(out)
    res = _batch(out)
    assert res.n_skipped == 6 and res.n_done == 6
    for a, b in zip(before, _tables(out)):
        pd.testing.assert_frame_equal(a, b)


def test_failing_runs_are_recorded_and_retried(tmp_path):
    flag = tmp_path / "flag"
    flag.write_text("fail")
    kw = dict(func=h.fail_odd_seeds, func_kwargs={"flag_file": str(flag)}, replicates=6)
    messages = []
    res = _batch(tmp_path / "a", log=messages.append, **kw)
    odd = [(p, r) for p in (0, 1) for r in range(6) if run_seed(20230401, p, r) % 2 == 1]
    assert 0 < len(odd) < 12, "seed rule changed: pick a design with some odd and some even seeds"
    assert res.n_failed == len(odd) and res.n_done == 12 - len(odd)
    fail = pd.read_csv(tmp_path / "a" / "failures.csv")
    assert sorted(fail["run_id"]) == sorted(make_run_id(p, r) for p, r in odd)
    row = fail.iloc[0]
    assert row["error_type"] == "ValueError" and "boom for seed" in row["message"]
    assert "Traceback" in row["traceback"] and row["seed"] == run_seed(20230401, row["point"], row["replicate"])
    assert json.loads(row["parameters"]) in ({}, {"growth_cap": 0.3})
    assert any("failed" in m and "failures.csv" in m for m in messages)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["status"] == "complete_with_failures" and manifest["counts"]["failed"] == len(odd)
    # The same batch again retries exactly the failed runs.
    flag.unlink()
    res = _batch(tmp_path / "a", **kw)
    assert res.n_failed == 0 and res.n_done == 12 and res.n_skipped == 12 - len(odd)
    assert not (tmp_path / "a" / "failures.csv").exists()
    s = load_results(tmp_path / "a").summaries
    assert len(s) == 12 and s["run_id"].is_unique


def test_failures_in_worker_processes(tmp_path):
    res = _batch(tmp_path / "a", func=h.fail_odd_seeds, executor="processes", workers=2, replicates=4)
    assert res.n_failed > 0 and res.n_done + res.n_failed == 8
    assert all(f["error_type"] == "ValueError" for f in res.failures)


def test_manifest_fields(tmp_path):
    _batch(tmp_path / "a", meta={"command": "commissim compare --seeds 3"})
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    for key in ("config", "design", "versions", "git_commit", "started", "finished", "counts", "seed_rule",
                "config_hash", "status", "command"):
        assert key in m, key
    assert m["status"] == "complete"
    assert m["counts"] == {"runs": 6, "done": 6, "failed": 0}
    assert {"commissim", "mesa", "numpy", "pandas", "python"} <= set(m["versions"])
    assert m["config"]["replicates"] == 3 and m["config"]["years"] == 2 and m["config"]["root_seed"] == 20230401
    d1 = m["design"][1]
    assert d1["scenario"] == "full_delegation" and d1["overrides"] == {"growth_cap": 0.3}
    assert d1["parameters"]["growth_cap"] == 0.3 and "pool_share" in d1["parameters"]  # full parameter dict
    assert len(d1["seeds"]) == 3


def test_changed_configuration_is_refused(tmp_path):
    _batch(tmp_path / "a")
    # From Python the message speaks Python (out=, overwrite=True); the command line's says --out, --overwrite.
    with pytest.raises(BatchConfigError, match=r"years 2 -> 3.*out=.*overwrite=True") as info:
        _batch(tmp_path / "a", years=3)
    assert "--" not in str(info.value)
    with command_line_words(), pytest.raises(BatchConfigError, match=r"years 2 -> 3.*--out.*--overwrite") as info:
        _batch(tmp_path / "a", years=3)
    assert "out=" not in str(info.value) and "overwrite=True" not in str(info.value)
    with pytest.raises(BatchConfigError, match="scenarios"):
        _batch(tmp_path / "a", design=[{"scenario": "nhse_direct"}])
    res = _batch(tmp_path / "a", years=3, overwrite=True)
    assert res.n_done == 6 and res.n_skipped == 0
    assert set(load_results(tmp_path / "a").series["round"]) == {0, 1, 2, 3}


def test_folder_that_is_not_a_results_folder_is_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "notes.txt").write_text("mine")
    with pytest.raises(BatchConfigError, match="not a commissim results folder"):
        _batch(tmp_path / "a", overwrite=True)
    assert (tmp_path / "a" / "notes.txt").exists()


@pytest.mark.parametrize(
    "design, match",
    [
        ([{"scenario": "nhse_direkt"}], "nhse_direkt"),
        ([{"scenario": "nhse_direct", "growth_cpa": 0.3}], "growth_cpa"),
        ([{"scenario": "nhse_direct", "growth_cap": 7}], "growth_cap"),
        ([], "empty"),
    ],
)
def test_bad_design_fails_before_any_run(tmp_path, design, match):
    with pytest.raises(BatchConfigError, match=match):
        _batch(tmp_path / "a", design=design)
    assert not (tmp_path / "a" / "parts").exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(BatchConfigError, match="replicates"):
        _batch(tmp_path / "a", replicates=0)
    with pytest.raises(BatchConfigError, match="executor"):
        _batch(tmp_path / "a", executor="threads")


def test_consolidation_is_idempotent(tmp_path):
    _batch(tmp_path / "a")
    first = {f.name: f.read_bytes() for f in (tmp_path / "a").glob("*.csv")}
    consolidate(tmp_path / "a")
    again = {f.name: f.read_bytes() for f in (tmp_path / "a").glob("*.csv")}
    assert first == again


def test_without_series(tmp_path):
    _batch(tmp_path / "a", series=False)
    res = load_results(tmp_path / "a")
    assert res.series is None and len(res.summaries) == 6


def test_real_model_on_toy_world(tmp_path, toy_seeds):
    """The engine with the real ``simulate`` on the toy world (skipped while the model cannot run)."""
    from commissim.model.simulation import simulate

    try:
        simulate("nhse_direct", years=1, rng=1, seeds_path=toy_seeds)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"the model does not run yet: {type(exc).__name__}: {exc}")
    kw = dict(func=simulate, func_kwargs={"seeds_path": toy_seeds}, replicates=2, years=2)
    _batch(tmp_path / "serial", **kw)
    _batch(tmp_path / "procs", executor="processes", workers=2, **kw)
    for a, b in zip(_tables(tmp_path / "serial"), _tables(tmp_path / "procs")):
        pd.testing.assert_frame_equal(a, b)
    shutil.rmtree(tmp_path / "procs")


def test_resuming_a_folder_made_by_another_model_version_is_refused(tmp_path):
    import dataclasses

    _batch(tmp_path / "r")
    changed = dataclasses.replace(model_runner(h.fake_simulate), fingerprint=lambda: "something-else")
    with pytest.raises(BatchConfigError, match="different version of the model.*overwrite=True"):
        _batch(tmp_path / "r", runner=changed)
    _batch(tmp_path / "r", runner=changed, overwrite=True)  # --overwrite starts again


def test_bad_input_data_stops_the_batch_before_anything_is_written(tmp_path, toy_seeds):
    """The first run goes in this process (while a process pool starts): a seed folder that does not
    load is a one-line BatchConfigError, nothing is written, and the corrected batch then runs there."""
    from commissim.model.simulation import simulate

    out = tmp_path / "a"
    with pytest.raises(BatchConfigError, match="seed table not found"):
        _batch(out, func=simulate, func_kwargs={"seeds_path": str(tmp_path / "no_such_folder")},
               executor="processes", workers=2)
    assert not out.exists() or not any(out.iterdir())
    res = _batch(out, func=simulate, func_kwargs={"seeds_path": toy_seeds}, executor="processes", workers=2)
    assert res.n_done == 6 and res.n_failed == 0


def test_interrupted_overwrite_leaves_the_old_results_and_resumes(tmp_path):
    """--overwrite builds the new batch beside the old one: a Ctrl-C part-way leaves the old folder as it
    was; the same call again resumes the overwrite and swaps it in only when it is complete."""
    out = tmp_path / "a"
    _batch(out)
    (out / "report.md").write_text("old report")
    (out / "notes.txt").write_text("mine")
    old = {f.name: f.read_bytes() for f in out.glob("*.*")}
    counter = tmp_path / "count"
    counter.write_text("")
    kw = dict(func=h.interrupt_after, func_kwargs={"counter_file": str(counter), "limit": 3}, years=3,
              overwrite=True, derived=("report.md",))
    with pytest.raises(KeyboardInterrupt):
        _batch(out, **kw)
    assert {f.name: f.read_bytes() for f in out.glob("*.*")} == old  # the old results, untouched
    assert json.loads((out / "manifest.json").read_text())["config"]["years"] == 2
    staging = tmp_path / ".a.overwrite"
    assert staging.is_dir()  # the new batch's finished runs are kept beside it
    counter.unlink()  # no more interruptions
    said = []
    res = _batch(out, **{**kw, "log": said.append})
    assert res.out == out and res.n_done == 6 and res.n_skipped >= 1  # resumed, not restarted
    assert not staging.exists() and not list(tmp_path.glob(".a.old-*"))
    m = json.loads((out / "manifest.json").read_text())
    assert m["config"]["years"] == 3 and m["status"] == "complete"
    assert set(load_results(out).series["round"]) == {0, 1, 2, 3}
    assert not (out / "report.md").exists()  # a derived file of the old batch is not carried over
    assert (out / "notes.txt").read_text() == "mine"  # a file no batch writes is kept


def test_overwrite_whose_first_run_fails_leaves_nothing_beside(tmp_path):
    out = tmp_path / "a"
    _batch(out)
    before = (out / "summaries.csv").read_bytes()
    with pytest.raises(BatchConfigError, match="growth_cpa"):
        _batch(out, design=[{"scenario": "nhse_direct", "growth_cpa": 1}], overwrite=True)
    assert (out / "summaries.csv").read_bytes() == before
    assert not (tmp_path / ".a.overwrite").exists()
