"""The rough edges of the command line: ``commissim`` alone, ``--version``, one-line errors for an
``--out`` that cannot be written, CLI words in CLI messages, ``run``'s printout, figure and map,
scenario changes with unknown keys or dated after the run, and ``compare`` extended by more seeds.

Batch commands run the deterministic stand-in ``_engine_helpers.fake_simulate``; ``run`` runs
the real model for a few years.
"""

from __future__ import annotations

import errno
import json
import pathlib
import re

import pandas as pd
import pytest

import _engine_helpers as h
from commissim.experiments.cli import COMMANDS, main, version
from commissim.model.scenarios import ScenarioError, changes_after, load_scenario, parse_scenario


@pytest.fixture
def fake_model(monkeypatch):
    import commissim.model.simulation

    monkeypatch.setattr(commissim.model.simulation, "simulate", h.fake_simulate)


def one_line_error(err: str, command: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith(f"commissim {command}: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ----------------------------------------------------------------------------- the command itself
def test_commissim_alone_prints_the_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert re.search(rf"^  {name}\s+\S", out, re.M), name
    assert "--help" in out and "--version" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"commissim {version()}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", version())


# ----------------------------------------------------------------------------- --out that cannot be written
def _readonly(monkeypatch, code):
    """Make creating anything under a folder named 'locked' fail with ``code`` (EROFS, EACCES)."""
    real_mkdir, real_open = pathlib.Path.mkdir, open

    def mkdir(self, *a, **k):
        if "locked" in self.parts:
            raise OSError(code, "simulated", str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    return real_open


COMMAND_ARGS = {
    "run": ["run", "--years", "1"],
    "compare": ["compare", "--scenarios", "nhse_direct", "--seeds", "1", "--years", "1", "--executor", "serial"],
    "sweep": ["sweep", "experiments/configs/sobol_delegation.toml", "--n", "2", "--years", "1", "--executor",
              "serial"],
    "validate": ["validate", "--seeds", "1", "--executor", "serial"],
}


@pytest.mark.parametrize("command", list(COMMAND_ARGS))
@pytest.mark.parametrize("problem, needle", [
    ("file", "is a file, not a folder"),
    ("readonly", "read-only file system"),
    ("denied", "permission denied"),
    ("too_long", "too long"),
])
def test_an_out_that_cannot_be_written_is_one_line(tmp_path, monkeypatch, capsys, fake_model, command, problem,
                                                   needle):
    monkeypatch.chdir(pathlib.Path(__file__).resolve().parents[1])  # the sweep file's relative path
    if problem == "file":
        (tmp_path / "blocker").write_text("a file")
        out = tmp_path / "blocker" / "results"
    elif problem in ("readonly", "denied"):
        _readonly(monkeypatch, errno.EROFS if problem == "readonly" else errno.EACCES)
        out = tmp_path / "locked" / "results"
    else:
        out = tmp_path / ("x" * 300)
    rc = main([*COMMAND_ARGS[command], "--out", str(out)])
    err = capsys.readouterr().err
    line = one_line_error(err, command)
    assert rc == 2 and needle in line and line.count("--out") >= 1, line
    assert "out=" not in line and "overwrite=True" not in line


def test_cli_messages_speak_cli_words(tmp_path, capsys, fake_model):
    args = ["compare", "--scenarios", "nhse_direct", "--seeds", "1", "--years", "1", "--executor", "serial",
            "--out", str(tmp_path / "c")]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args[:-2], "--set", "growth_cap=0.2", "--out", str(tmp_path / "c")]) == 2
    line = one_line_error(capsys.readouterr().err, "compare")
    assert "different batch" in line and "--out" in line and "--overwrite" in line
    assert "out=" not in line and "overwrite=True" not in line


# ----------------------------------------------------------------------------- compare: more seeds extend
def test_more_seeds_extend_a_comparison_running_only_the_new_runs(tmp_path, capsys, fake_model):
    base = ["compare", "--scenarios", "nhse_direct,pan_icb", "--years", "2", "--executor", "serial",
            "--out", str(tmp_path / "x")]
    assert main([*base, "--seeds", "2"]) == 0
    first = pd.read_parquet(tmp_path / "x" / "summaries.parquet")
    capsys.readouterr()
    assert main([*base, "--seeds", "5"]) == 0
    err = capsys.readouterr().err
    assert "extending" in err and "from 2 to 5 seeds" in err and "4 finished runs are kept, 6 to run" in err
    s = pd.read_parquet(tmp_path / "x" / "summaries.parquet")
    assert len(s) == 10 and s["run_id"].is_unique
    kept = s.set_index("run_id").loc[first["run_id"]].drop(columns="run_seconds")
    pd.testing.assert_frame_equal(kept, first.set_index("run_id").drop(columns="run_seconds"))
    # common random numbers: replicate r has one seed in both scenarios
    assert (s.groupby("replicate")["seed"].nunique() == 1).all()
    m = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert m["config"]["replicates"] == 5 and m["extended"][0]["replicates_from"] == 2
    assert "Seeds per scenario: 5" in (tmp_path / "x" / "report.md").read_text()
    capsys.readouterr()
    assert main([*base, "--seeds", "3"]) == 0  # fewer than the folder holds: reported on as it is, and said
    err = capsys.readouterr().err
    assert "holds 5 seeds per design point and 3 were asked for: reporting on all 5" in err
    report = (tmp_path / "x" / "report.md").read_text()
    assert "Seeds per scenario: 5" in report and "3 were asked for" in report
    assert len(pd.read_parquet(tmp_path / "x" / "summaries.parquet")) == 10


# ----------------------------------------------------------------------------- scenarios
CHANGE = '''name = "x"
description = "d"
source = "s"
[[changes]]
{body}
'''


def test_an_unknown_key_in_a_change_is_named():
    with pytest.raises(ScenarioError, match=r"\[\[changes\]\] #1: unknown key 'yaer' \(did you mean 'year'\?\)"):
        parse_scenario(CHANGE.format(body='yaer = 2025\nsystem_weight = 3.0'))
    with pytest.raises(ScenarioError, match=r"unknown keys 'yaer' \(did you mean 'year'\?\), 'sytem_weight' "
                                            r"\(did you mean 'system_weight'\?\)"):
        parse_scenario(CHANGE.format(body='yaer = 2025\nsytem_weight = 3.0'))
    with pytest.raises(ScenarioError, match="missing key 'year'"):
        parse_scenario(CHANGE.format(body='system_weight = 3.0'))


def test_a_change_after_the_last_year_is_reported():
    scen = load_scenario("as_happened")
    assert changes_after(scen, 2032) == []
    late = changes_after(scen, 2024)
    assert len(late) == 2 and "2025-26" in late[0] and "2026-27" in late[1] and "no effect" in late[0]
    # a change whose every parameter the user overrides changes nothing either way: not reported
    assert len(changes_after(scen, 2025, overridden={"icb_footprint"})) == 0


def test_run_prints_units_writes_its_figure_and_map_and_reports_late_changes(tmp_path, capsys):
    out = tmp_path / "r"
    rc = main(["run", "--scenario", "as_happened", "--years", "2", "--set", "system_weight=10", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0
    assert captured.err.count("warning: scenario as_happened: the change from") == 2  # 2025-26 and 2026-27
    text = captured.out
    assert "overrides: system_weight=10" in text.splitlines()[0]
    assert re.search(r"Out-of-area share of spend\s+\d+\.\d%$", text, re.M)  # a share as %
    assert re.search(r"Providers destabilised\s+\d+ providers$", text, re.M)
    assert re.search(r"Trusts' margin\s+[+-]\d+\.\d\d% of income$", text, re.M)
    assert not re.search(r"\de-\d", text)  # no floating-point noise such as 5.5e-17
    for name in ("run.png", "map.png", "series.csv", "providers.csv", "icbs.csv", "summary.json", "manifest.json"):
        assert (out / name).is_file(), name
    icbs = pd.read_csv(out / "icbs.csv")
    assert len(icbs) == 42 and icbs["icb_access_rate"].between(0.3, 3).all()


def test_run_figure_has_units_years_and_axes_from_zero():
    import matplotlib

    matplotlib.use("Agg")
    from commissim.experiments.cli.run import PANELS, run_figure
    from commissim.model import CommissioningModel
    from commissim.model.measures import MEASURE_BY_NAME

    model = CommissioningModel("full_delegation", rng=1).run(3)
    series = model.datacollector.get_model_vars_dataframe()
    series.insert(0, "financial_year", ["2022-23", "2023-24", "2024-25", "2025-26"])
    fig = run_figure(series, "full_delegation, seed 1; overrides: system_weight=10")
    assert "overrides: system_weight=10" in fig._suptitle.get_text()
    axes = fig.axes
    for ax, name in zip(axes, PANELS):
        m = MEASURE_BY_NAME[name]
        assert ax.get_ylabel() == (m.unit or "index")
        lo, hi = ax.get_ylim()
        assert lo <= 0 <= hi  # zero is on every value axis
        if m.count or name == "unmet_need_share":
            assert lo == 0
    assert [a.get_xlabel() for a in axes[2:]] == ["financial year", "financial year"]
    assert axes[2].get_xticklabels()[0].get_text() == "2022-23"
    unmet = series["unmet_need_share"].to_numpy() * 100
    assert axes[3].lines[0].get_ydata() == pytest.approx(unmet)  # shares drawn as %


def test_compare_reports_a_change_after_its_last_year(tmp_path, fake_model):
    from commissim.experiments.compare import compare

    said = []
    compare(["nhse_direct", "as_happened"], seeds=1, years=2, out=tmp_path / "c", executor="serial", figures=False,
            progress=False, log=said.append)
    late = [m for m in said if m.startswith("warning: scenario as_happened")]
    assert len(late) == 2 and "2024-25" in late[0]
    said.clear()
    compare(["nhse_direct", "as_happened"], seeds=1, years=4, out=tmp_path / "d", executor="serial", figures=False,
            progress=False, log=said.append)
    assert not [m for m in said if m.startswith("warning:")]


def test_run_out_holding_a_different_run_is_refused_or_replaced(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "--years", "1", "--seed", "1", "--out", str(out)]) == 0
    first = (out / "summary.json").read_bytes()
    assert main(["run", "--years", "1", "--seed", "1", "--out", str(out)]) == 0  # the same run again: fine
    capsys.readouterr()
    assert main(["run", "--years", "1", "--seed", "2", "--out", str(out)]) == 2
    line = one_line_error(capsys.readouterr().err, "run")
    assert "different run" in line and "seed 1 -> 2" in line and "--overwrite" in line
    assert (out / "summary.json").read_bytes() == first  # nothing touched
    (out / "notes.txt").write_text("mine")
    assert main(["run", "--years", "1", "--seed", "2", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert (out / "notes.txt").read_text() == "mine" and not (tmp_path / ".r.overwrite").exists()
    other = tmp_path / "o"
    other.mkdir()
    (other / "x.txt").write_text("x")
    assert main(["run", "--years", "1", "--out", str(other)]) == 2
    assert "no run's manifest.json" in one_line_error(capsys.readouterr().err, "run")


def test_run_series_csv_has_one_money_unit_named_in_the_header(tmp_path):
    from commissim.model.measures import MEASURE_BY_NAME

    out = tmp_path / "r"
    assert main(["run", "--years", "2", "--out", str(out)]) == 0
    s = pd.read_csv(out / "series.csv")
    money = [c for c in s.columns if c.endswith("_gbp_m")]
    assert "total_spend_gbp_m" in money and "returned_to_nhse_gbp_m" in money
    for c in s.columns:
        m = MEASURE_BY_NAME.get(c)
        assert m is None or not m.unit.startswith("£"), c  # no money column without its unit
    summary = json.loads((out / "summary.json").read_text())
    assert s["total_spend_gbp_m"].iloc[-1] == pytest.approx(summary["total_spend"] * 1000)
