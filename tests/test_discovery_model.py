"""``commissim discover`` / ``discover_run`` and ``commissim search`` / ``search_run`` on the model.

The toy world (tests/toyworld.py) stands in for England: runs take milliseconds, and its
outcome has a known driver (providers' efficiency gap), so discovery must restrict it. The
CLI runs serially with ``COMMISSIM_SEEDS`` pointing at the toy seeds; the Python functions get
``seeds_path`` through ``func_kwargs``. Resume after an interruption is checked with a run
function that records every finished run and raises KeyboardInterrupt after N of them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap

import pandas as pd
import pytest

import _discovery_helpers as dh
from commissim.experiments.cli import main

_MISSING = [m for m in ("ema_workbench", "sklearn", "optuna") if importlib.util.find_spec(m) is None]
if _MISSING:
    _WHY = f"the optional extra 'discovery' is not installed ({', '.join(_MISSING)} missing): pip install -e '.[dev]'"
    if os.environ.get("CI"):
        pytest.fail(f"{_WHY}; CI must run the discovery tests", pytrace=False)
    pytest.skip(_WHY, allow_module_level=True)

from commissim.experiments.discovery import discover_run, search_run  # noqa: E402

SPACE = """\
name = "toy_discover"
method = "sobol"          # ignored: discovery draws a Latin hypercube
n = 80
years = 5
root_seed = 11
scenarios = ["full_delegation"]
outcomes = ["providers_destabilised"]

[discover]
outcome = "providers_destabilised"
at_least = 3

[parameters]
efficiency_gap = { bounds = [-0.02, 0.02] }
funding_growth = { bounds = [0.0, 0.1] }
system_weight = { bounds = [0.0, 20.0] }
ringfence = { levels = ["hard", "soft", "none"] }
withdrawal_rounds = { bounds = [1, 6] }
"""

LEVERS = """\
name = "toy_search"
scenario = "needs_based"
years = 4
seed = 7
budget = 8
batch_size = 4
cost = "pool_share"
constraints = ["p90(providers_destabilised) <= 1"]

[[start]]
pool_share = 0.0

[levers]
pool_share = { bounds = [0.0, 0.05] }
pace_of_change = { bounds = [0.0, 1.0] }
protect_last_provider = { levels = [true, false] }

[ensemble]
members = 5
[ensemble.parameters]
efficiency_gap = { bounds = [0.0, 0.02] }
funding_growth = { bounds = [0.03, 0.07] }

[[objectives]]
lever = "pool_share"
direction = "min"

[[objectives]]
measure = "access_gini"
aggregate = "mean"
direction = "min"
"""


def _file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def toy_env(monkeypatch, toy_seeds):
    """The CLI reads the toy world's seed tables (serial executor: this process)."""
    monkeypatch.setenv("COMMISSIM_SEEDS", toy_seeds)
    return toy_seeds


@pytest.fixture(scope="module")
def discovered(tmp_path_factory, toy_seeds):
    """A finished toy discovery folder (its runs are reused by the error tests)."""
    tmp = tmp_path_factory.mktemp("discovered")
    space = _file(tmp, "space.toml", SPACE)
    with pytest.MonkeyPatch.context() as mp:  # as the CLI tests run it: the toy seeds through the environment
        mp.setenv("COMMISSIM_SEEDS", toy_seeds)
        res = discover_run(space, out=tmp / "d", executor="serial", progress=False, log=lambda m: None)
    return space, res


def _one_line_error(capsys, rc):
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert "Traceback" not in "\n".join(err)
    errors = [line for line in err if line.startswith("commissim ")]
    assert len(errors) == 1, err
    return errors[0]


# --------------------------------------------------------------------------- discover


def test_discover_cli_end_to_end(tmp_path, toy_env, capsys):
    space = _file(tmp_path, "space.toml", SPACE)
    out = tmp_path / "disc"
    rc = main(["discover", str(space), "--out", str(out), "--executor", "serial", "--no-progress"])
    stdout, stderr = capsys.readouterr()
    assert rc == 0, stderr
    assert "method 'sobol' is ignored" in stderr and "Latin hypercube" in stderr
    md = (out / "discovery.md").read_text().splitlines()
    finding = md[0]
    assert finding.startswith("When ") and "(density)" in finding and "(coverage)" in finding
    assert "efficiency_gap" in finding  # the toy world's known driver
    assert stdout.splitlines()[0] == finding
    assert "method 'sobol' is ignored" in "\n".join(md)
    for f in ("figures/prim_peeling_trajectory.png", "figures/prim_box_scatter.png", "figures/cart_tree.png",
              "discovery/box.json", "discovery/trajectory.csv", "discovery/cart_rules.csv", "discovery/cart_tree.txt",
              "discovery/cases.csv", "sweep.json", "samples/full_delegation.csv", "summaries.parquet"):
        assert (out / f).is_file(), f
    limits = pd.read_csv(out / "discovery" / "box_limits.csv")
    assert {"input", "lower", "upper", "qp_lower", "qp_upper", "quasi_p"} <= set(limits.columns)
    assert "efficiency_gap" in set(limits["input"])
    box = json.loads((out / "discovery" / "box.json").read_text())
    assert box["finding"] == finding and 0 < box["coverage"] <= 1 and 0 < box["density"] <= 1 and 0 < box["mass"] <= 1
    cases = pd.read_csv(out / "discovery" / "cases.csv")
    assert len(cases) == 80 and cases["case"].sum() == box["cases"] and cases["in_box"].sum() == box["runs_in_box"]
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["spec"]["method"] == "lhs" and sweep["spec"]["n"] == 80
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "discover" and manifest["command"].startswith("commissim discover")


def test_discover_asks_new_questions_of_the_same_runs_and_reuses_a_sweep(tmp_path, discovered, toy_env, capsys):
    space, first = discovered
    # Another outcome on the same space: nothing runs again.
    rc = main(["discover", str(space), "--out", str(first.folder), "--executor", "serial", "--no-progress",
               "--outcome", "providers_destabilised:max", "--at-least", "3", "--box", "1"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "80 of 80 runs already finished, 0 to run" in err
    assert "providers_destabilised:max is at least 3" in out
    assert json.loads((first.folder / "discovery" / "box.json").read_text())["box"] == 1
    # A sweep folder reused with --from (here an LHS sweep of two scenarios): the discovery goes to --out.
    from commissim.experiments.sensitivity import sweep

    cfg = _file(tmp_path, "sweep.toml", SPACE.split("[discover]")[0].replace('"sobol"', '"lhs"').replace(
        'scenarios = ["full_delegation"]', 'scenarios = ["full_delegation", "nhse_direct"]') + SPACE.split(
        "at_least = 3\n")[1])
    folder = sweep(cfg, tmp_path / "sw", executor="serial", analyse=False, progress=False,
                   func_kwargs={"seeds_path": toy_env}, log=lambda m: None)
    res = discover_run(from_folder=folder, out=tmp_path / "from", outcome="providers_destabilised", at_least=3,
                       log=lambda m: None)
    assert res.folder == folder and (tmp_path / "from" / "discovery.md").is_file()
    assert not (folder / "discovery.md").exists()
    assert "scenario" in res.result.prim.inputs or "scenario" in res.result.prim.dropped_inputs
    assert res.result.prim.n_runs == 160
    with pytest.raises(Exception, match="apply when discover runs a space file"):
        discover_run(from_folder=folder, n=10, outcome="providers_destabilised", at_least=3)


def test_discover_resumes_an_interrupted_batch(tmp_path, toy_seeds):
    space = _file(tmp_path, "space.toml", SPACE)
    log = tmp_path / "log"
    log.mkdir()
    (log / "stop_after").write_text("30")
    kw = dict(out=tmp_path / "d", executor="serial", chunk_size=1, progress=False, func=dh.logged,
              func_kwargs={"seeds_path": toy_seeds, "log_dir": str(log)}, log=lambda m: None)
    with pytest.raises(KeyboardInterrupt):
        discover_run(space, **kw)
    before = dh.runs_logged(log)
    kept = dh.runs_recorded(tmp_path / "d")  # what the engine wrote before the interruption
    assert len(before) == 30 and kept <= set(before) and len(kept) >= 28  # (a serial run's last chunk may be lost)
    assert (tmp_path / "d" / "sweep.json").is_file()  # the sample is kept for the resumed run
    (log / "stop_after").unlink()
    res = discover_run(space, **kw)
    after = dh.runs_logged(log)
    rerun = [r for r in set(after) if after.count(r) > before.count(r) and r in kept]
    assert rerun == []  # no finished run ran again
    assert len(set(after)) == 80 and res.n_runs_done_now == 80 - len(kept) and res.result.prim.n_runs == 80


def test_failed_runs_are_recorded_and_discovery_refuses_in_one_line(tmp_path, toy_seeds):
    from commissim.experiments.discovery import DiscoveryError

    space = _file(tmp_path, "space.toml", SPACE)
    kw = dict(out=tmp_path / "d", executor="serial", progress=False, func=dh.failing,
              func_kwargs={"seeds_path": toy_seeds, "fail_above": 0.015}, log=lambda m: None)
    with pytest.raises(DiscoveryError, match=r"^\d+ of 80 runs in .* have no result \(\d+ failed, 0 not run: p0") as exc:
        discover_run(space, **kw)
    assert "\n" not in str(exc.value) and "run the same command again" in str(exc.value)
    failures = pd.read_csv(tmp_path / "d" / "failures.csv")
    assert len(failures) > 0 and failures["message"].str.contains("model blew up").all()


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["--outcome", "providers_destablised", "--above", "1"],
         r"outcome 'providers_destablised' is not a measure of the model \(close matches: providers_destabilised"),
        (["--outcome", "providers_destabilised", "--above", "500"],
         r"threshold 500 is outside the observed range of 'providers_destabilised' \[0, \d+\] over 80 runs"),
        (["--outcome", "cumulative_stabilisation", "--above", "0"],
         r"outcome 'cumulative_stabilisation' is constant \(0 in all 80 runs\)"),
        (["--outcome", "providers_destabilised", "--at-least", "0"],
         r"every run is a case of interest .* the outcome is constant"),
        (["--outcome", "access_gini"], r"give exactly one threshold for 'access_gini'"),
        (["--outcome", "providers_destabilised:median", "--above", "1"], r"aggregate 'median' is not one of"),
    ],
)
def test_discover_one_line_errors(discovered, toy_env, capsys, args, pattern):
    space, first = discovered
    rc = main(["discover", str(space), "--out", str(first.folder), "--executor", "serial", "--no-progress", *args])
    line = _one_line_error(capsys, rc)
    assert pytest.importorskip("re").search(pattern, line), line


def test_discover_threshold_with_no_case_is_a_constant_outcome(discovered, toy_env, capsys):
    space, first = discovered
    top = pd.read_parquet(first.folder / "summaries.parquet")["providers_destabilised"].max()
    rc = main(["discover", str(space), "--out", str(first.folder), "--executor", "serial", "--no-progress",
               "--outcome", "providers_destabilised", "--above", f"{top:g}"])
    assert "no run is a case of interest" in _one_line_error(capsys, rc)


def test_missing_extra_is_one_line(tmp_path, monkeypatch, toy_env, capsys):
    space = _file(tmp_path, "space.toml", SPACE)
    levers = _file(tmp_path, "levers.toml", LEVERS)
    monkeypatch.setitem(sys.modules, "ema_workbench", None)
    line = _one_line_error(capsys, main(["discover", str(space), "--out", str(tmp_path / "d")]))
    assert "pip install 'commissim[discovery]'" in line and "ema_workbench" in line
    assert not (tmp_path / "d").exists()  # refused before any run
    monkeypatch.setitem(sys.modules, "optuna", None)
    line = _one_line_error(capsys, main(["search", str(levers), "--out", str(tmp_path / "s")]))
    assert "pip install 'commissim[discovery]'" in line and "optuna" in line


# --------------------------------------------------------------------------- search


def test_search_cli_end_to_end(tmp_path, toy_env, capsys):
    levers = _file(tmp_path, "levers.toml", LEVERS)
    out = tmp_path / "search"
    rc = main(["search", str(levers), "--out", str(out), "--executor", "serial", "--no-progress"])
    stdout, stderr = capsys.readouterr()
    assert rc == 0, stderr
    md = (out / "search.md").read_text().splitlines()
    assert stdout.splitlines()[0] == md[0]
    assert md[0].startswith("The cheapest policy that meets p90(providers_destabilised) <= 1 providers across 5 ensemble")
    for f in ("pareto.csv", "candidates.csv", "cheapest.json", "ensemble.csv", "figures/pareto_parallel.png",
              "search.json", "search.sqlite3"):
        assert (out / f).is_file(), f
    cand = pd.read_csv(out / "candidates.csv")
    pareto = pd.read_csv(out / "pareto.csv")
    assert len(cand) == 8 and len(pareto) >= 1 and pareto["feasible"].all()
    assert cand.loc[0, "pool_share"] == 0.0  # the [[start]] policy went first
    assert (pareto["p90_providers_destabilised"] <= 1).all()
    cheapest = json.loads((out / "cheapest.json").read_text())
    assert cheapest["levers"]["pool_share"] == pareto["pool_share"].min()
    assert "[parameters]" in cheapest["scenario_block"] and "pool_share" in cheapest["scenario_block"]
    # Common random numbers: every candidate ran member m with the same seed, the one ensemble.csv gives.
    ens = pd.read_csv(out / "ensemble.csv").set_index("member")
    frames = []
    for sub in (out / "runs").iterdir():
        if sub.is_dir():
            pairs = json.loads(sub.with_name(sub.name + ".pairs.json").read_text())["pairs"]
            frame = pd.read_parquet(sub / "summaries.parquet")
            frames.append(frame.assign(member=[pairs[p][1] for p in frame["point"]]))
    runs = pd.concat(frames)
    assert len(runs) == 5 * (8 - int(cand.duplicated(["pool_share", "pace_of_change", "protect_last_provider"]).sum()))
    assert runs.groupby("member")["seed"].nunique().eq(1).all()
    assert (runs.groupby("member")["seed"].first() == ens["seed"]).all()
    assert (runs.groupby("member")["efficiency_gap"].nunique() == 1).all()


def test_search_resumes_after_interruption_without_repeating_a_run(tmp_path, toy_seeds):
    levers = _file(tmp_path, "levers.toml", LEVERS)
    log = tmp_path / "log"
    log.mkdir()
    (log / "stop_after").write_text("27")  # in the second batch, in the middle of a candidate's members
    kw = dict(out=tmp_path / "s", executor="serial", chunk_size=1, progress=False, func=dh.logged,
              func_kwargs={"seeds_path": toy_seeds, "log_dir": str(log)}, log=lambda m: None)
    with pytest.raises(KeyboardInterrupt):
        search_run(levers, **kw)
    before = dh.runs_logged(log)
    kept = dh.runs_recorded(*[d for d in (tmp_path / "s" / "runs").iterdir() if d.is_dir()])
    assert len(before) == 27 and kept <= set(before) and len(kept) >= 25  # (a serial run's last chunk may be lost)
    (log / "stop_after").unlink()
    res = search_run(levers, **kw)
    after = dh.runs_logged(log)
    rerun = [r for r in set(after) if after.count(r) > before.count(r) and r in kept]
    assert rerun == []  # no finished candidate x member run ran again
    assert res.n_runs == len(after) - len(before) and res.n_reused >= len(kept) - 20
    runs = set(after)
    # The same search without an interruption ends with the same candidates and outcomes.
    whole = search_run(levers, out=tmp_path / "whole", executor="serial", progress=False,
                       func_kwargs={"seeds_path": toy_seeds}, log=lambda m: None)
    cols = ["candidate", "pool_share", "pace_of_change", "protect_last_provider", "mean_access_gini",
            "p90_providers_destabilised", "feasible"]
    pd.testing.assert_frame_equal(res.result.candidates[cols], whole.result.candidates[cols])
    assert len(runs) == whole.n_runs
    # Run again: everything is read back, nothing runs; a larger budget extends the search.
    again = search_run(levers, **kw)
    assert again.n_runs == 0 and len(again.result.candidates) == 8
    more = search_run(levers, budget=12, **kw)
    assert len(more.result.candidates) == 12 and 0 < more.n_runs <= 4 * 5


def test_search_on_processes_matches_serial(tmp_path, toy_seeds):
    levers = _file(tmp_path, "levers.toml", LEVERS)
    kw = dict(budget=4, progress=False, func_kwargs={"seeds_path": toy_seeds}, log=lambda m: None)
    a = search_run(levers, out=tmp_path / "a", executor="serial", **kw)
    b = search_run(levers, out=tmp_path / "b", executor="processes", workers=2, **kw)
    pd.testing.assert_frame_equal(a.result.candidates, b.result.candidates)


def test_search_refuses_other_settings_in_the_same_folder(tmp_path, toy_env, capsys):
    levers = _file(tmp_path, "levers.toml", LEVERS)
    args = ["search", str(levers), "--out", str(tmp_path / "s"), "--executor", "serial", "--no-progress",
            "--budget", "4"]
    assert main(args) == 0
    capsys.readouterr()
    line = _one_line_error(capsys, main([*args, "--members", "6"]))
    assert "ensemble" in line and "--overwrite" in line
    assert main([*args, "--members", "6", "--overwrite"]) == 0


@pytest.mark.parametrize(
    "change, pattern",
    [
        (("pool_share = { bounds", "pool_shar = { bounds"), r"lever 'pool_shar' is not a model parameter \(did you mean 'pool_share'"),
        (('measure = "access_gini"', 'measure = "access_ginny"'),
         r"objective 'access_ginny' is not a measure of the model \(close matches: access_gini"),
        (("p90(providers_destabilised)", "p90(providers_destablised)"),
         r"constraint on 'providers_destablised' is not a measure of the model"),
        (("[0.0, 0.05]", "[0.0, 0.5]"), r"levers.pool_share: bounds \[0.0, 0.5\] are outside the parameter's range 0.0 to 0.05"),
        (("[0.0, 0.05]", "[0.05, 0.01]"), r"levers.pool_share: bounds \[0.05, 0.01\]: low must be below high"),
        (("pace_of_change = { bounds = [0.0, 1.0] }", "withdrawal_rounds = { bounds = [1.5, 4] }"),
         r"levers.withdrawal_rounds: bounds \[1.5, 4\] must be whole numbers"),
        (("pace_of_change = { bounds = [0.0, 1.0] }", 'ringfence = { bounds = [0, 1] }'),
         r"levers.ringfence: 'bounds' do not apply to a choice parameter; give 'levels'"),
        (("funding_growth = { bounds = [0.03, 0.07] }", "pool_share = { bounds = [0.0, 0.01] }"),
         r"pool_share is both a lever and an uncertain parameter"),
        (('lever = "pool_share"', 'lever = "pace"'), r"objective names lever 'pace', which is not one of the levers"),
        (('cost = "pool_share"', 'cost = "budget"'), r"'cost' 'budget' is not one of the objectives"),
        (('scenario = "needs_based"', 'scenario = "needs_basd"'), r"unknown scenario 'needs_basd'"),
        (("[[start]]\npool_share = 0.0", "[[start]]\npool_share = 0.9"),
         r"\[\[start\]\]: start 0: lever 'pool_share' value 0.9 is not allowed; expected a number from 0 to 0.05"),
    ],
)
def test_search_one_line_errors(tmp_path, toy_env, capsys, change, pattern):
    levers = _file(tmp_path, "levers.toml", LEVERS.replace(*change))
    rc = main(["search", str(levers), "--out", str(tmp_path / "s"), "--executor", "serial"])
    line = _one_line_error(capsys, rc)
    assert pytest.importorskip("re").search(pattern, line), line
    assert not (tmp_path / "s").exists()  # refused before anything was written


def test_search_with_one_member_warns_and_states_the_real_number_of_futures(tmp_path, toy_env, capsys):
    text = LEVERS.replace('name = "toy_search"', 'name = "toy_search"\ndescription = "Keep it low across 30 futures."')
    levers = _file(tmp_path, "levers.toml", text.replace("budget = 8", "budget = 4"))
    out = tmp_path / "search1"
    rc = main(["search", str(levers), "--out", str(out), "--executor", "serial", "--no-progress", "--members", "1"])
    stdout, stderr = capsys.readouterr()
    assert rc == 0, stderr
    assert "warning: the ensemble has 1 member" in stderr
    md = (out / "search.md").read_text()
    assert "across 1 ensemble member (a single future" in md.splitlines()[0]
    assert "Warning: the ensemble has 1 member" in md
    assert "1 futures (the levers file says 30)" in md and "across 30 futures." not in md


def test_discover_finding_states_the_unit_of_every_limit(discovered):
    from commissim.experiments.model_runs import parameter_unit

    _, res = discovered
    limits = res.result.prim.limits
    assert limits  # the toy space concentrates its cases somewhere
    for lim in limits:
        if parameter_unit(lim.name) and lim.categories is None:
            assert parameter_unit(lim.name) in res.finding, res.finding


def test_an_interrupted_search_overwrite_leaves_the_old_results(tmp_path, toy_seeds):
    levers = _file(tmp_path, "levers.toml", LEVERS.replace("budget = 8", "budget = 4"))
    out = tmp_path / "s"
    quiet = dict(executor="serial", progress=False, log=lambda m: None)
    search_run(levers, out=out, func_kwargs={"seeds_path": toy_seeds}, **quiet)
    old = {f.name: f.read_bytes() for f in out.glob("*.*")}
    log = tmp_path / "log"
    log.mkdir()
    (log / "stop_after").write_text("7")
    kw = dict(out=out, members=3, overwrite=True, chunk_size=1, func=dh.logged,
              func_kwargs={"seeds_path": toy_seeds, "log_dir": str(log)}, **quiet)
    with pytest.raises(KeyboardInterrupt):
        search_run(levers, **kw)
    assert {f.name: f.read_bytes() for f in out.glob("*.*")} == old  # the old search, untouched
    (log / "stop_after").unlink()
    res = search_run(levers, **kw)  # resumes the overwrite, then swaps it in
    assert res.out == out and len(res.spec.members) == 3 and (out / "search.md").is_file()
    assert pd.read_csv(out / "ensemble.csv").shape[0] == 3
    assert not (tmp_path / ".s.overwrite").exists()
