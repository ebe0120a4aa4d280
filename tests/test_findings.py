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
