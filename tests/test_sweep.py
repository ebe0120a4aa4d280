"""Sensitivity sweeps: space files, the one mapping, the SALib guards, executors (incl. Dask), resume.

Most tests use ``_sweep_helpers.analytic`` (a run function with a known answer, deterministic
in the seed); the cross-executor test runs the real model on the toy world for 2 years.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

import _engine_helpers as eh
import _sweep_helpers as sh
from commissim.experiments.batch import load_results, make_run_id
from commissim.experiments.cli import main as cli_main
from commissim.experiments.errors import SweepAnalysisError, SweepConfigError, SweepWarning
from commissim.experiments.sensitivity import ParamSpec, analyse, load_spec, map_unit, sweep

QUIET = dict(progress=False, log=lambda m: None)


def _space(**kw):
    cfg = {
        "name": "t",
        "method": "sobol",
        "n": 8,
        "seeds": 2,
        "years": 2,
        "scenarios": ["full_delegation"],
        "outcomes": ["providers_destabilised", "access_gini"],
        "parameters": {
            "growth_cap": {"bounds": [0.0, 0.9]},
            "local_start_share": {"bounds": [0.1, 0.9]},
            "withdrawal_rounds": {"bounds": [1, 6]},
            "protect_last_provider": {"levels": [True, False]},
        },
    }
    cfg.update(kw)
    return cfg


def _run(tmp_path, name="a", cfg=None, **kw):
    args = dict(executor="serial", func=sh.analytic, figures=False, **QUIET)
    args.update(kw)
    return sweep(cfg or _space(), tmp_path / name, **args)


def _summaries(folder):
    s = load_results(folder, series=False, providers=False).summaries
    return s.drop(columns=["run_seconds"]).sort_values("run_id").reset_index(drop=True)


# --------------------------------------------------------------------------- the space file
@pytest.mark.parametrize(
    "change, match",
    [
        ({"method": "sobolx"}, r"'method' value 'sobolx' is not allowed; expected one of sobol, morris, lhs, fast"),
        ({"n": 0}, r"'n' value 0 is not allowed; expected a whole number >= 2"),
        ({"seeds": 1.5}, r"'seeds' value 1.5"),
        ({"outcomes": ["providers_destabilized"]}, r"'providers_destabilized' is not a model measure.*did you mean "
                                                   r"providers_destabilised"),
        ({"outcomes": ["access_gini:median"]}, r"aggregate 'median' is not allowed; expected one of final, mean"),
        ({"scenarios": ["full_delegaton"]}, r"full_delegaton"),
        ({"colour": "red"}, r"unknown key\(s\) colour; allowed:"),
        ({"method": "morris", "second_order": True}, r"'second_order' = true applies to method 'sobol' only"),
        ({"method": "fast", "n": 20}, r"'n' value 20 is not allowed; expected n > 4 M\^2 = 64"),
        ({"parameters": {"growth_cpa": {"bounds": [0, 1]}}}, r"unknown parameter 'growth_cpa' \(did you mean growth_cap"),
        ({"parameters": {"growth_cap": {"bounds": [0.0, 1.5]}}},
         r"parameters.growth_cap: 'bounds' value \[0.0, 1.5\] is not allowed; expected bounds within the "
         r"parameter's range 0.0 to 1.0"),
        ({"parameters": {"growth_cap": {"bounds": [0.5, 0.2]}}}, r"low < high"),
        ({"parameters": {"withdrawal_rounds": {"bounds": [1.5, 4]}}}, r"whole numbers"),
        ({"parameters": {"growth_cap": {"bounds": [0, 0.9], "distribution": "gamma"}}},
         r"'distribution' value 'gamma' is not allowed; expected one of unif, triang, logunif, truncnorm"),
        ({"parameters": {"growth_cap": {"bounds": [0, 0.9], "distribution": "triang"}}}, r"'peak' value None"),
        ({"parameters": {"protect_last_provider": {"bounds": [0, 1]}}}, r"'bounds' do not apply to a bool"),
        ({"parameters": {"growth_cap": {"levels": [0.1, 2.0]}}}, r"'levels' value 2.0 is not allowed"),
        ({"parameters": {"arrangement": {"levels": ["delegated", "pan_icb"]}}}, r"'arrangement' is not sweepable"),
        ({"parameters": {"growth_cap": {"bounds": [0, 0.9], "scenarios": ["pan_icb"]}}},
         r"'scenarios' value \['pan_icb'\] is not allowed; expected scenarios of this sweep"),
        ({"parameters": {}}, r"'parameters' is missing or empty"),
        ({"fixed": {"growth_cap": 0.3}}, r"growth_cap both fixed and swept"),
        ({"fixed": {"pool_share": 0.5}}, r"pool_share.*out of range"),
    ],
)
def test_bad_space_files_name_key_value_and_what_is_allowed(tmp_path, change, match):
    with pytest.raises(SweepConfigError, match=match):
        _run(tmp_path, cfg=_space(**change))
    assert not (tmp_path / "a").exists()


def test_space_file_from_toml_and_cli_error_is_one_line(tmp_path, capsys):
    f = tmp_path / "space.toml"
    f.write_text('method = "lhs"\nn = 5\noutcomes = ["access_gini"]\n[parameters]\ngrowth_cap = { bounds = [0, 2] }\n')
    assert cli_main(["sweep", str(f), "--out", str(tmp_path / "o"), "--executor", "serial"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "growth_cap" in err and "[0, 2]" in err and "1.0" in err
    f.write_text("method = \n")
    assert cli_main(["sweep", str(f)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_headline_config_is_valid():
    from commissim.experiments.sobol_delegation import CONFIG

    spec = load_spec(CONFIG)
    assert spec.method == "sobol" and spec.scenarios == ["full_delegation"] and not spec.warnings
    assert "providers_destabilised" in spec.outcomes and spec.seeds >= 1 and spec.years == 10
    names = {p.name for p in spec.params}
    assert len(spec.params) >= 10 and {"system_weight", "funding_growth", "referral_shift"} <= names
    # The ring-fence regime is a structural switch the sources do not settle: swept as levels (issue 16).
    rf = next(p for p in spec.params if p.name == "ringfence")
    assert list(rf.levels) == ["hard", "soft", "none"]


# --------------------------------------------------------------------------- the mapping
def test_integer_mapping_is_floor_within_bounds_and_uniform():
    p = ParamSpec("withdrawal_rounds", "int", bounds=(1.0, 6.0))
    u = (np.arange(6000) + 0.5) / 6000
    vals = map_unit(p, u)
    assert all(isinstance(v, int) for v in vals)
    counts = pd.Series(vals).value_counts().sort_index()
    assert list(counts.index) == [1, 2, 3, 4, 5, 6] and (counts == 1000).all()
    assert map_unit(p, [0.0, 1 / 6 - 1e-9, 1 / 6, 0.999999, 1.0]) == [1, 1, 2, 6, 6]  # u = 1 (Morris) -> high


def test_categorical_and_boolean_mapping_by_index_bins():
    p = ParamSpec("x", "choice", levels=("a", "b", "c"))
    assert map_unit(p, [0.0, 0.33, 0.34, 0.66, 0.67, 0.999, 1.0]) == ["a", "a", "b", "b", "c", "c", "c"]
    spec = load_spec(_space(parameters={"protect_last_provider": True, "growth_cap": {"bounds": [0, 0.5]}}))
    plp = spec.params[0]
    assert plp.levels == (False, True)
    assert map_unit(plp, [0.2, 0.7]) == [False, True]


def test_float_distributions_stay_in_bounds():
    for kw in ({"distribution": "unif"}, {"distribution": "triang", "peak": 0.6},
               {"distribution": "logunif"}, {"distribution": "truncnorm", "mean": 0.5, "sd": 0.1}):
        spec = load_spec(_space(parameters={"growth_cap": {"bounds": [0.05, 0.9], **kw}}))
        v = np.array(map_unit(spec.params[0], np.linspace(0, 1, 101)))
        assert v.min() >= 0.05 and v.max() <= 0.9 and np.all(np.diff(v) >= 0)
    p = load_spec(_space(parameters={"growth_cap": {"bounds": [0.0, 0.9], "distribution": "triang",
                                                   "peak": 0.6}})).params[0]
    assert abs(map_unit(p, [0.5])[0] - 0.9 * 0.5 ** 0.5 * (0.6 / 0.9) ** 0.5) < 1e-9  # median of the triangle


def test_design_values_follow_the_mapping(tmp_path):
    out = _run(tmp_path)
    s = _summaries(out)
    assert set(s["withdrawal_rounds"]) <= set(range(1, 7)) and s["withdrawal_rounds"].dtype.kind == "i"
    assert set(s["protect_last_provider"]) == {True, False}
    X = np.load(out / "samples" / "full_delegation.npy")
    sw = json.loads((out / "sweep.json").read_text())
    names = sw["scenarios"]["full_delegation"]["problem"]["names"]
    first = s[s["replicate"] == 0].sort_values("point")
    j = names.index("withdrawal_rounds")
    assert list(first["withdrawal_rounds"]) == [int(min(np.floor(1 + u * 6), 6)) for u in X[:, j]]
    assert X.shape == (8 * (4 + 2), 4) and 0 <= X.min() and X.max() <= 1


# --------------------------------------------------------------------------- analysis and guards
def test_sobol_finds_the_known_ranking_and_writes_tables_and_figures(tmp_path):
    out = _run(tmp_path, cfg=_space(n=64), figures=True)
    t = pd.read_csv(out / "sensitivity" / "full_delegation" / "providers_destabilised.csv")
    assert list(t["parameter"][:2]) == ["growth_cap", "local_start_share"]
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(t.columns)
    hb = t.set_index("parameter").loc["growth_cap"]
    assert 0.85 < hb["ST"] < 1.1 and 0.85 < hb["S1"] < 1.1 and hb["ST_conf"] < 0.35
    assert (out / "figures" / "sobol_full_delegation_providers_destabilised.png").stat().st_size > 10_000
    assert "growth_cap" in (out / "sensitivity.md").read_text()
    assert (out / "sensitivity" / "indices.csv").is_file()


@pytest.mark.parametrize("method, n, first_col", [("morris", 10, "mu_star"), ("lhs", 60, "prcc"),
                                                  ("fast", 65, "ST")])
def test_other_methods(tmp_path, method, n, first_col):
    out = _run(tmp_path, cfg=_space(method=method, n=n, seeds=1), figures=True)
    t = pd.read_csv(out / "sensitivity" / "full_delegation" / "providers_destabilised.csv")
    assert t["parameter"][0] == "growth_cap" and first_col in t.columns
    if method == "morris":
        assert {"mu_star_conf", "sigma"} <= set(t.columns)
    if method == "lhs":
        assert t["prcc"][0] > 0.9 and (t["prcc_low"] <= t["prcc"]).all() and (t["prcc"] <= t["prcc_high"]).all()
    assert (out / "figures" / f"{method}_full_delegation_providers_destabilised.png").is_file()


def test_failed_runs_are_refused_by_name_and_retried_on_resume(tmp_path):
    flag = tmp_path / "flag"
    flag.write_text("fail")
    kw = dict(func_kwargs={"fail_above": 0.8, "fail_flag": str(flag)})
    with pytest.raises(SweepAnalysisError) as exc:
        _run(tmp_path, **kw)
    msg = str(exc.value)
    fail = pd.read_csv(tmp_path / "a" / "failures.csv")
    assert len(fail) > 0
    assert "silently zero" in msg and fail["run_id"][0] in msg and "model blew up" in msg
    assert f"{len(fail)} of 96 runs have no result ({len(fail)} failed, 0 not run)" in msg
    assert cli_main(["sweep", "--analyse-only", str(tmp_path / "a")]) == 2
    flag.unlink()  # "fix the model": the same sweep retries only the failed runs, then analyses
    logs = []
    out = _run(tmp_path, log=logs.append, **kw)
    assert any(f"{96 - len(fail)} of 96 runs already finished" in m for m in logs)
    assert (out / "sensitivity" / "full_delegation" / "providers_destabilised.csv").is_file()


def test_nan_outcomes_are_refused_naming_the_runs(tmp_path):
    with pytest.raises(SweepAnalysisError) as exc:
        _run(tmp_path, func_kwargs={"nan_above": 0.85})
    msg = str(exc.value)
    s = _summaries(tmp_path / "a")
    nan_ids = s.loc[s["providers_destabilised"].isna(), "run_id"]
    assert len(nan_ids) and nan_ids.iloc[0] in msg
    assert f"outcome 'providers_destabilised' is NaN or infinite in {len(nan_ids)} runs" in msg
    assert not (tmp_path / "a" / "sensitivity" / "full_delegation" / "providers_destabilised.csv").exists()


def test_second_order_guard(tmp_path):
    out = _run(tmp_path)  # drawn without second order
    with pytest.raises(SweepAnalysisError, match="drawn without them"):
        analyse(out, second_order=True, figures=False, log=lambda m: None)
    assert cli_main(["sweep", "--analyse-only", str(out), "--second-order", "--no-figures"]) == 2
    out2 = _run(tmp_path, "b", cfg=_space(n=32, second_order=True))
    res = analyse(out2, figures=True, log=lambda m: None)
    s2 = res.second_order[("full_delegation", "providers_destabilised")]
    assert {"parameter_1", "parameter_2", "S2", "S2_conf"} <= set(s2.columns) and len(s2) == 6
    assert (out2 / "figures" / "sobol_s2_full_delegation_providers_destabilised.png").is_file()
    # first- and total-order only, from a second-order sample: same ranking as with S2
    first = analyse(out2, second_order=False, figures=False, log=lambda m: None)
    t1 = first.tables[("full_delegation", "providers_destabilised")]
    t2 = res.tables[("full_delegation", "providers_destabilised")]
    assert list(t1["parameter"][:2]) == list(t2["parameter"][:2]) == ["growth_cap", "local_start_share"]


def test_power_of_two_warning(tmp_path):
    logs = []
    with pytest.warns(SweepWarning, match="n = 6 is not a power of 2.*n = 4 or 8"):
        sweep(_space(n=6), tmp_path / "a", executor="serial", func=sh.analytic, figures=False, progress=False,
              log=logs.append)
    assert any("power of 2" in m for m in logs)
    assert not load_spec(_space(n=8)).warnings and not load_spec(_space(method="lhs", n=6)).warnings


def test_analyse_only_from_the_folder(tmp_path, capsys):
    out = _run(tmp_path)
    before = pd.read_csv(out / "sensitivity" / "full_delegation" / "providers_destabilised.csv")
    (out / "sensitivity.md").unlink()
    assert cli_main(["sweep", "--analyse-only", str(out), "--no-figures"]) == 0
    text = capsys.readouterr().out
    assert "full_delegation / providers_destabilised" in text and "growth_cap" in text
    after = pd.read_csv(out / "sensitivity" / "full_delegation" / "providers_destabilised.csv")
    pd.testing.assert_frame_equal(before, after)
    assert (out / "sensitivity.md").is_file()
    assert cli_main(["sweep", "--analyse-only", str(tmp_path)]) == 2  # not a sweep folder


def test_series_aggregate_outcome_and_scenario_specific_parameters(tmp_path):
    cfg = _space(scenarios=["full_delegation", "joint_committees"], outcomes=["providers_destabilised:max"],
                 parameters={"growth_cap": {"bounds": [0.0, 0.9]},
                             "local_start_share": {"bounds": [0.1, 0.9]},
                             "nhse_tolerance": {"bounds": [0.0, 0.5], "scenarios": ["joint_committees"]}})
    out = _run(tmp_path, cfg=cfg)
    sw = json.loads((out / "sweep.json").read_text())
    assert sw["scenarios"]["full_delegation"]["problem"]["num_vars"] == 2
    assert sw["scenarios"]["joint_committees"]["problem"]["num_vars"] == 3
    assert sw["scenarios"]["joint_committees"]["points"] == [32, 40]
    s = _summaries(out)
    assert s.loc[s["scenario"] == "full_delegation", "nhse_tolerance"].isna().all()
    assert (out / "sensitivity" / "joint_committees" / "providers_destabilised_max.csv").is_file()


# --------------------------------------------------------------------------- resume
def test_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("")
    kw = dict(func=eh.interrupt_after, func_kwargs={"counter_file": str(counter), "limit": 20}, chunk_size=4)
    cfg = _space(outcomes=["providers_destabilised"], parameters={"growth_cap": {"bounds": [0.0, 0.9]},
                                                                  "pool_share": {"bounds": [0.0, 0.03]}})
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, cfg=cfg, **kw)
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert m["status"] == "interrupted" and 0 < m["counts"]["done"] < 64
    assert (tmp_path / "a" / "sweep.json").is_file()  # the sample is kept even when interrupted
    counter.unlink()
    logs = []
    out = sweep(cfg, tmp_path / "a", executor="serial", func=eh.interrupt_after, figures=False, progress=False,
                log=logs.append, func_kwargs={"counter_file": str(counter), "limit": 20}, chunk_size=4)
    assert any(f"resuming {out}: {m['counts']['done']} of 64 runs already finished" in x for x in logs)
    ref = sweep(cfg, tmp_path / "b", executor="serial", func=eh.interrupt_after, figures=False, progress=False,
                log=lambda x: None, func_kwargs={"counter_file": str(counter), "limit": 20})
    pd.testing.assert_frame_equal(_summaries(out), _summaries(ref))
    a = pd.read_csv(out / "sensitivity" / "full_delegation" / "providers_destabilised.csv")
    b = pd.read_csv(ref / "sensitivity" / "full_delegation" / "providers_destabilised.csv")
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- executors
@pytest.mark.slow
def test_identical_results_serial_processes_and_dask_local_cluster(tmp_path, toy_seeds):
    from commissim.model.simulation import simulate

    cfg = _space(n=4, seeds=2, outcomes=["providers_destabilised", "access_gini", "income_change_p10"],
                 parameters={"growth_cap": {"bounds": [0.0, 0.9]}, "pool_share": {"bounds": [0.0, 0.03]},
                             "withdrawal_rounds": {"bounds": [1, 3]}})
    kw = dict(func=simulate, func_kwargs={"seeds_path": toy_seeds})
    ref = _summaries(_run(tmp_path, "serial", cfg=cfg, **kw))
    assert len(ref) == 4 * 5 * 2
    procs = _summaries(_run(tmp_path, "procs", cfg=cfg, executor="processes", workers=2, **kw))
    dask = _summaries(_run(tmp_path, "dask", cfg=cfg, executor="dask", workers=2, chunk_size=3, **kw))
    pd.testing.assert_frame_equal(ref, procs)
    pd.testing.assert_frame_equal(ref, dask)
    m = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert m["executor_detail"] == "dask LocalCluster (2 workers)" and m["workers"] == 2
    a = pd.read_csv(tmp_path / "serial" / "sensitivity" / "full_delegation" / "access_gini.csv")
    b = pd.read_csv(tmp_path / "dask" / "sensitivity" / "full_delegation" / "access_gini.csv")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_killing_a_dask_worker_mid_sweep_still_runs_every_run_exactly_once(tmp_path):
    from distributed import Client, LocalCluster

    running = tmp_path / "running"
    running.mkdir()
    cfg = _space(method="lhs", n=40, seeds=2, outcomes=["providers_destabilised"])
    out = tmp_path / "dask"
    killed: dict = {}

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, worker_dashboard_address=None) as cluster, Client(cluster) as client:
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2

        def killer():
            deadline = time.time() + 60
            while time.time() < deadline:
                done = len(list((out / "parts" / "_done").glob("*.json"))) if out.exists() else 0
                busy = [int(f.name) for f in running.iterdir() if f.name.isdigit() and int(f.name) in pids]
                if done >= 3 and busy:
                    os.kill(busy[0], signal.SIGKILL)  # the worker process, in the middle of a run
                    killed.update(pid=busy[0], after=done)
                    return
                time.sleep(0.01)

        t = threading.Thread(target=killer)
        t.start()
        sweep(cfg, out, executor=client.get_executor(pure=False), workers=2, chunk_size=4, func=sh.slow,
              func_kwargs={"delay": 0.05, "running_dir": str(running)}, figures=False, **QUIET)
        t.join()
        assert killed, "no worker was killed"
        new_pids = set(client.run(os.getpid).values())
        assert killed["pid"] not in new_pids  # that process really died (the nanny started a new one)

    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "complete" and m["counts"] == {"runs": 80, "done": 80, "failed": 0}
    s = _summaries(out)
    expected = sorted(make_run_id(p, r) for p in range(40) for r in range(2))
    assert list(s["run_id"]) == expected  # every run exactly once
    ref = _summaries(_run(tmp_path, "serial", cfg=cfg, func=sh.slow, func_kwargs={"delay": 0.0}))
    pd.testing.assert_frame_equal(s, ref)
    assert not (out / "failures.csv").exists()


def test_bad_executor_options(tmp_path, capsys):
    from commissim.experiments.batch import open_executor
    from commissim.experiments.errors import UserError

    with pytest.raises(UserError, match=r"--scheduler: value 'localhost:8786' is not allowed; expected an address"):
        with open_executor("processes", scheduler="localhost:8786"):
            pass
    with pytest.raises(UserError, match=r"executor: value 'threads' is not allowed; expected one of processes, "
                                        r"serial, dask"):
        with open_executor("threads"):
            pass
    with pytest.raises(UserError, match="cannot go with --executor serial"):
        with open_executor("serial", scheduler="tcp://127.0.0.1:8786"):
            pass
    assert cli_main(["sweep"]) == 2
    assert "give a parameter-space file" in capsys.readouterr().err
