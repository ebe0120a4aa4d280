"""Findings first: report.md opens with findings computed from the data, and differences are drawn over time."""

from __future__ import annotations

import pandas as pd

import _engine_helpers as h
from commissim.experiments.compare import compare
from commissim.experiments.compare.differences import when, with_unit
from commissim.experiments.compare.findings import findings


def _folder(tmp_path, **kw):
    return compare(["nhse_direct", "full_delegation", "pan_icb"], seeds=4, years=3, out=tmp_path / "c",
                   executor="serial", progress=False, func=h.fake_simulate, log=lambda m: None, **kw)


def test_report_opens_with_findings_from_the_data(tmp_path):
    out = _folder(tmp_path)
    text = (out / "report.md").read_text()
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Findings"
    series = pd.read_parquet(out / "series.parquet")
    mean = series.groupby(["scenario", "round", "year"])["providers_destabilised"].mean().reset_index()
    peak = mean.loc[mean.groupby("scenario")["providers_destabilised"].idxmax()]
    found = findings(out)
    assert any("Providers destabilised" in f and "peak" in f for f in found)
    for year in set(peak["year"]):
        assert year in found[0]
    assert any("hinge" in f and "efficiency_gap" in f and "commissim sweep" in f for f in found)
    # differences over time: one figure per measure the results hold
    assert (out / "figures" / "differences_over_time_providers_destabilised.png").is_file()
    assert "differences_over_time_providers_destabilised.png" in text


def test_compare_prints_the_findings_last(tmp_path, capsys, monkeypatch):
    import commissim.model.simulation
    from commissim.experiments.cli import main

    monkeypatch.setattr(commissim.model.simulation, "simulate", h.fake_simulate)
    rc = main(["compare", "--scenarios", "nhse_direct,full_delegation", "--seeds", "3", "--years", "2", "--executor",
               "serial", "--out", str(tmp_path / "c"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    tail = out[out.index("findings:"):]
    assert "peak" in tail and "**" not in tail and "`" not in tail


def test_units_and_spans_of_whole_run_measures():
    assert with_unit("cumulative_revenue_support", "+25") == "+£25m"
    assert with_unit("out_of_area_income_change", "-3.5") == "-3.5 pp"
    assert with_unit("providers_destabilised", "+1.0") == "+1.0 providers"
    assert when("max_providers_destabilised", "2032-33", "2023-24") == "(2023-24 to 2032-33)"
    assert when("cumulative_revenue_support", "2032-33", "2023-24") == "(2023-24 to 2032-33)"
    assert when("providers_destabilised", "2032-33", "2023-24") == "in 2032-33"


def test_a_constant_measure_gets_a_line_and_twins_are_drawn_once():
    from commissim.experiments.compare.figures import constant_and_duplicate
    from commissim.experiments.compare.report import curve_groups

    s = pd.DataFrame({"scenario": ["a", "a", "b", "b"], "replicate": [0, 1, 0, 1],
                      "cumulative_lines_withdrawn": [0.0] * 4, "providers_destabilised": [1.0, 2.0, 3.0, 5.0],
                      "providers_needing_support": [1.0, 2.0, 3.0, 5.0], "access_gini": [0.1, 0.2, 0.1, 0.3]})
    constant, duplicate = constant_and_duplicate(
        s, ["providers_destabilised", "providers_needing_support", "cumulative_lines_withdrawn", "access_gini"])
    assert constant == {"cumulative_lines_withdrawn": 0.0}
    assert duplicate == {"providers_needing_support": "providers_destabilised"}
    curve = pd.DataFrame({"destabilised_at_0p5pct": [5.0, 6.0], "destabilised_at_1pct": [3.0, 4.0],
                          "destabilised_at_1p5pct": [3.0, 4.0], "destabilised_at_2pct": [3.0, 4.0],
                          "destabilised_at_3pct": [2.0, 4.0]})
    labels = [label for label, _ in curve_groups(curve)]
    assert labels == ["0.5%", "1% to 2% (the same in every run)", "3%"]


def test_a_measure_missing_from_the_registry_is_left_out_not_a_crash(tmp_path, monkeypatch):
    """The registry may gain, lose or rename measures: findings, report and figures read it and degrade."""
    from commissim.experiments.compare.figures import make_figures
    from commissim.experiments.compare.report import write_report
    from commissim.model import measures

    out = _folder(tmp_path)
    for name in ("access_gini", "providers_destabilised", "income_change_mean"):
        monkeypatch.delitem(measures.MEASURE_BY_NAME, name)
    make_figures(out)
    text = write_report(out).read_text()
    assert "## Findings" in text and "Access inequality (Gini" not in text
    assert not (out / "figures" / "differences_over_time_providers_destabilised.png").exists()
