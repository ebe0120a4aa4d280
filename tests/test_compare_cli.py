"""``commissim compare`` and ``experiments.compare.compare``.

The run function is replaced by the deterministic stand-in ``_engine_helpers.fake_simulate``
(the engine resolves ``model.simulation.simulate`` when a batch starts), so these tests
check the command's behaviour, files and messages, not the model's numbers.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import _engine_helpers as h
from commissim.experiments.cli import main
from commissim.experiments.compare import compare
from commissim.experiments.errors import UserError

FIGURES = {"providers_destabilised.png", "income_change_distribution.png", "access_inequality.png",
           "out_of_area_share.png", "destabilisation_curve.png", "differences_providers_destabilised.png",
           "differences_access_gini.png", "differences_out_of_area_share.png"}


@pytest.fixture
def fake_model(monkeypatch):
    import commissim.model.simulation

    monkeypatch.setattr(commissim.model.simulation, "simulate", h.fake_simulate)
    return h.fake_simulate


def test_compare_writes_the_results_folder(tmp_path, fake_model, capsys):
    out = tmp_path / "tmp"
    rc = main(["compare", "--scenarios", "nhse_direct", "--seeds", "2", "--years", "2", "--out", str(out)])
    assert rc == 0
    for name in ("manifest.json", "summaries.parquet", "summaries.csv", "series.parquet", "series.csv",
                 "providers.parquet", "icbs.parquet", "report.md"):
        assert (out / name).is_file(), name
    # one scenario: no difference map (it needs two)
    assert {p.name for p in (out / "figures").glob("*.png")} == FIGURES
    stdout = capsys.readouterr().out
    assert str(out) in stdout and "nhse_direct" in stdout
    s = pd.read_csv(out / "summaries.csv")
    assert len(s) == 2 and set(s["scenario"]) == {"nhse_direct"}
    series = pd.read_parquet(out / "series.parquet")
    assert list(series.drop_duplicates("round")["year"]) == ["2022-23", "2023-24", "2024-25"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "compare" and m["scenarios"] == ["nhse_direct"]
    assert m["command"].startswith("commissim compare --scenarios nhse_direct --seeds 2")
    report = (out / "report.md").read_text()
    assert "nhse_direct" in report and "figures/providers_destabilised.png" in report


def test_compare_several_scenarios_on_processes(tmp_path, fake_model):
    out = compare(scenarios="nhse_direct,full_delegation", seeds=3, years=2, out=tmp_path / "c", workers=2,
                  parameters={"growth_cap": 0.3}, progress=False, log=lambda m: None)
    s = pd.read_parquet(out / "summaries.parquet")
    assert len(s) == 6 and s["run_id"].is_unique and (s["growth_cap"] == 0.3).all()
    report = (out / "report.md").read_text()
    assert "`full_delegation`" in report and "90% CI" in report and "growth_cap=0.3" in report
    assert "paired by seed" in report and "across deficit thresholds" in report
    assert "figures/map_access_difference.png" in report  # two scenarios: the difference map
    assert (out / "figures" / "map_access_difference.png").is_file()


def test_a_subset_reproduces_the_runs_of_the_full_comparison(tmp_path, fake_model):
    kw = dict(seeds=2, years=2, executor="serial", progress=False, figures=False, log=lambda m: None)
    both = pd.read_parquet(compare(["nhse_direct", "pan_icb"], out=tmp_path / "both", **kw) / "summaries.parquet")
    one = pd.read_parquet(compare(["pan_icb"], out=tmp_path / "one", **kw) / "summaries.parquet")
    cols = ["run_id", "seed", "providers_destabilised", "access_gini"]
    pd.testing.assert_frame_equal(both[both["scenario"] == "pan_icb"][cols].reset_index(drop=True),
                                  one[cols].reset_index(drop=True))


def test_same_command_resumes_and_changed_command_refuses(tmp_path, fake_model, capsys):
    args = ["compare", "--scenarios", "nhse_direct", "--seeds", "2", "--years", "2", "--out", str(tmp_path / "r"),
            "--executor", "serial"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    assert "2 of 2 runs already finished" in capsys.readouterr().err
    assert len(pd.read_parquet(tmp_path / "r" / "summaries.parquet")) == 2
    rc = main([*args[:-4], "--years", "3", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "different batch" in err and "--overwrite" in err and "Traceback" not in err
    assert main([*args, "--overwrite", "--seeds", "3"]) == 0


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--scenarios", "nhse_direkt"], "nhse_direkt"),
        (["--scenarios", "nhse_direct,nhse_direct"], "more than once"),
        (["--set", "growth_cpa=0.3"], "growth_cpa"),
        (["--set", "growth_cap=lots"], "lots"),
        (["--set", "growth_cap=5"], "growth_cap"),
        (["--set", "growth_cap"], "NAME=VALUE"),
        (["--seeds", "0"], "--seeds"),
        (["--executor", "threads"], "threads"),
    ],
)
def test_user_mistakes_exit_2_with_a_message(tmp_path, fake_model, capsys, extra, needle):
    args = ["compare", "--seeds", "1", "--years", "1", "--out", str(tmp_path / "x"), "--executor", "serial"]
    with pytest.raises(SystemExit) if extra[0] in ("--seeds", "--executor") else _nothing() as exc:
        rc = main([*args, *extra])
    if exc is not None and hasattr(exc, "value"):
        rc = exc.value.code
    err = capsys.readouterr().err
    assert rc == 2
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "x" / "parts").exists()  # nothing ran


def test_failed_runs_are_reported_and_exit_1(tmp_path, monkeypatch, capsys):
    import commissim.model.simulation

    monkeypatch.setattr(commissim.model.simulation, "simulate", h.fail_odd_seeds)
    rc = main(["compare", "--scenarios", "nhse_direct,pan_icb", "--seeds", "4", "--years", "1", "--out",
               str(tmp_path / "f"), "--executor", "serial"])
    err = capsys.readouterr().err
    assert rc == 1 and "runs failed" in err and "ValueError" in err
    assert (tmp_path / "f" / "failures.csv").is_file()
    assert "failed" in (tmp_path / "f" / "report.md").read_text()


class _nothing:
    """A no-op context manager (for parametrised cases that do not raise SystemExit)."""

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@pytest.mark.slow
def test_compare_on_a_dask_cluster_gives_the_same_runs(tmp_path, fake_model):
    """``commissim compare --executor dask --workers N`` (the sweeps' executors, from the one home)."""
    args = ["compare", "--scenarios", "nhse_direct,pan_icb", "--seeds", "3", "--years", "2", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "serial"), "--executor", "serial"]) == 0
    assert main([*args, "--out", str(tmp_path / "dask"), "--executor", "dask", "--workers", "2"]) == 0
    a, b = (pd.read_parquet(tmp_path / f / "summaries.parquet").drop(columns="run_seconds") for f in ("serial", "dask"))
    pd.testing.assert_frame_equal(a, b)
    m = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert m["executor_detail"] == "dask LocalCluster (2 workers)" and m["workers"] == 2
    assert "--executor dask --workers 2" in m["command"]


def test_a_scenario_is_identified_by_its_name_and_shares_its_seeds(tmp_path, fake_model):
    """Adding a scenario never shifts another's runs: a point id is a hash of the scenario's name, and
    replicate r has the same seed in every scenario (common random numbers)."""
    from commissim.experiments.batch import run_seed
    from commissim.experiments.compare.comparison import resolve_scenarios, scenario_point_id
    from commissim.model.scenarios import list_scenarios

    builtin = [s.name for s in list_scenarios()]
    names, ids = resolve_scenarios(None)
    assert names == builtin and len(set(ids)) == len(ids)
    assert ids == [scenario_point_id(n) for n in builtin]
    copy = tmp_path / "mine.toml"
    copy.write_text('name = "mine"\ndescription = "d"\nsource = "s"\n[parameters]\narrangement = "delegated"\n')
    _, ids2 = resolve_scenarios(["pan_icb", str(copy), "nhse_direct"])
    assert ids2 == [scenario_point_id("pan_icb"), scenario_point_id("mine"), scenario_point_id("nhse_direct")]
    kw = dict(seeds=2, years=1, executor="serial", progress=False, figures=False, log=lambda m: None)
    s = pd.read_parquet(compare(["pan_icb", str(copy)], out=tmp_path / "a", **kw) / "summaries.parquet")
    assert list(s["scenario"]) == ["pan_icb", "pan_icb", str(copy), str(copy)]  # design order
    assert list(s["seed"][:2]) == [run_seed(20230401, scenario_point_id("pan_icb"), r, common=True) for r in range(2)]
    assert list(s["seed"][2:]) == list(s["seed"][:2])  # paired by replicate
    same_name = tmp_path / "other.toml"
    same_name.write_text(copy.read_text())
    with pytest.raises(UserError, match=r"both named 'mine'.*own name"):
        resolve_scenarios([str(copy), str(same_name)])


def test_set_with_several_values_runs_the_full_grid(tmp_path, capsys, monkeypatch):
    """--set NAME=V1,V2 (repeatable) runs the cartesian product for every scenario; the grid is in the
    manifest and the report, and each grid point is its own arm in the tables."""
    import itertools

    import commissim.model.simulation

    monkeypatch.setattr(commissim.model.simulation, "simulate", h.fake_simulate)
    out = tmp_path / "g"
    rc = main(["compare", "--scenarios", "nhse_direct,full_delegation", "--seeds", "2", "--years", "2",
               "--executor", "serial", "--no-progress", "--out", str(out),
               "--set", "growth_cap=0.2,0.4,0.6", "--set", "system_weight=5,10", "--set", "pool_share=0.01"])
    assert rc == 0, capsys.readouterr().err
    m = json.loads((out / "manifest.json").read_text())
    assert m["grid"] == {"growth_cap": [0.2, 0.4, 0.6], "system_weight": [5.0, 10.0]}
    got = {(d["scenario"], d["overrides"]["growth_cap"], d["overrides"]["system_weight"]) for d in m["design"]}
    want = set(itertools.product(["nhse_direct", "full_delegation"], [0.2, 0.4, 0.6], [5.0, 10.0]))
    assert got == want and len(m["design"]) == 12
    assert all(d["overrides"]["pool_share"] == 0.01 for d in m["design"])
    s = pd.read_parquet(out / "summaries.parquet")
    assert len(s) == 24 and s["point"].nunique() == 12
    report = (out / "report.md").read_text()
    assert "Grid (every combination" in report and "`growth_cap` = 0.2, 0.4, 0.6" in report
    assert "full_delegation [growth_cap=0.6, system_weight=10]" in report


def test_set_grid_is_checked_value_by_value(tmp_path, capsys):
    base = ["compare", "--scenarios", "nhse_direct", "--seeds", "1", "--years", "1", "--executor", "serial",
            "--out", str(tmp_path / "x")]
    assert main([*base, "--set", "system_weight=5,25"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "system_weight" in line and "25" in line and "Traceback" not in line
    assert main([*base, "--set", "system_weight=5,5"]) == 2
    assert "more than once" in capsys.readouterr().err
    assert main(["run", "--years", "1", "--set", "system_weight=5,10", "--out", str(tmp_path / "r")]) == 2
    assert "commissim compare runs grids" in capsys.readouterr().err


def test_compare_csv_tables_have_one_money_unit_named_in_the_header(tmp_path):
    from commissim.model.measures import MEASURE_BY_NAME

    out = compare(["nhse_direct"], seeds=2, years=2, out=tmp_path / "c", executor="serial", progress=False,
                  figures=False, func=h.fake_simulate, log=lambda m: None)
    for name in ("summaries", "series"):
        csv = pd.read_csv(out / f"{name}.csv")
        pq = pd.read_parquet(out / f"{name}.parquet")
        assert "total_spend_gbp_m" in csv.columns and "total_spend" in pq.columns  # £bn in Parquet, £m in CSV
        assert csv["total_spend_gbp_m"].to_numpy() == pytest.approx(pq["total_spend"].to_numpy() * 1000)
        assert not [c for c in csv.columns if c in MEASURE_BY_NAME and MEASURE_BY_NAME[c].unit.startswith("£")]
