"""Trust-by-trust and ICB-by-ICB exposure: paired differences per provider and ICB, named and sorted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from commissim.experiments.compare import compare
from commissim.experiments.compare.exposure import paired_by_unit


def test_paired_by_unit_is_the_mean_of_per_seed_differences():
    rows = []
    for r in range(4):
        for p in range(3):
            rows.append({"scenario": "ref", "replicate": r, "provider": p, "x": 10.0 * p + r})
            rows.append({"scenario": "s", "replicate": r, "provider": p, "x": 10.0 * p + r + (p - 1) * (1 + r % 2)})
    t = paired_by_unit(pd.DataFrame(rows), "provider", ["x"], "s", "ref")
    assert t.loc[0, "x"] == pytest.approx(-1.5) and t.loc[1, "x"] == 0 and t.loc[2, "x"] == pytest.approx(1.5)
    assert t.loc[1, "x_low"] == t.loc[1, "x_high"] == 0  # the same in every seed: a zero-width interval
    assert t.loc[2, "x_low"] < 1.5 < t.loc[2, "x_high"] and (t["n"] == 4).all()


def test_compare_writes_exposure_for_every_trust_and_icb(tmp_path, toy_seeds):
    from commissim.model.data import load_seeds
    from commissim.model.simulation import simulate

    r = simulate("full_delegation", years=2, rng=1, series=True, seeds_path=toy_seeds)
    pm = r["provider_measures"]
    data = load_seeds(toy_seeds)
    assert all(len(v) == data.n_providers for v in pm.values())
    assert all(0 <= y <= 2 for y in pm["years_on_support"])

    out = compare(["nhse_direct", "full_delegation"], seeds=3, years=2, out=tmp_path / "c", executor="serial",
                  progress=False, figures=False, func_kwargs={"seeds_path": toy_seeds}, log=lambda m: None)
    exp = pd.read_csv(out / "exposure.csv")
    assert len(exp) == data.n_providers and set(exp["trust"]) == set(data.provider_short)
    assert {"type", "host_icb", "specialised_income_gbp_m_diff", "margin_gbp_m_diff", "margin_pp_diff",
            "years_on_cash_support_years_diff", "lines_withdrawn_lines_low"} <= set(exp.columns)
    diffs = exp["specialised_income_gbp_m_diff"].to_numpy()
    assert (np.diff(diffs) >= 0).all()  # most exposed first
    # one trust by hand: the mean of the per-seed differences in specialised income
    pv = pd.read_parquet(out / "provider_values.parquet")
    code = exp["provider_code"].iloc[0]
    p = int(np.flatnonzero(data.provider_code == code)[0])
    a = pv[(pv["scenario"] == "full_delegation") & (pv["provider"] == p)].set_index("replicate")["spec_income_gbp_m"]
    b = pv[(pv["scenario"] == "nhse_direct") & (pv["provider"] == p)].set_index("replicate")["spec_income_gbp_m"]
    assert exp["specialised_income_gbp_m_diff"].iloc[0] == pytest.approx((a - b).mean(), abs=1e-4)
    icbs = pd.read_csv(out / "exposure_icbs.csv")
    assert len(icbs) == data.n_icbs and "budget_change_pp_diff" in icbs.columns
    report = (out / "report.md").read_text()
    assert "## Exposure by trust and by ICB" in report and "exposure.csv" in report


def test_a_folder_without_provider_values_has_no_exposure_and_still_reports(tmp_path):
    import _engine_helpers as h

    out = compare(["nhse_direct", "full_delegation"], seeds=2, years=2, out=tmp_path / "c", executor="serial",
                  progress=False, figures=False, func=h.fake_simulate, log=lambda m: None)
    assert not (out / "exposure.csv").exists()
    assert "## Findings" in (out / "report.md").read_text()


def _figure_file(job: tuple) -> str:
    return {"differences": lambda: f"differences_{job[1]}.png", "curve": lambda: "destabilisation_curve.png",
            "band": lambda: job[1], "over_time": lambda: f"differences_over_time_{job[1]}.png",
            "exposure": lambda: "exposure_trusts.png", "income": lambda: "income_change_distribution.png",
            "map": lambda: "map_access_difference.png"}[job[0]]()


def test_compare_on_processes_writes_every_figure_whole_and_the_report_links_each(tmp_path, toy_seeds):
    """The figures drawn by the pool's workers while compare writes the tables and exposure.csv: every one the
    folder's data call for (the exposure figure included, planned once exposure.csv is written), whole, the
    same files as drawn one after another in compare's process, each linked from the report."""
    import re

    from PIL import Image

    from commissim.experiments.compare.figures import figure_jobs

    kw = dict(seeds=3, years=2, progress=False, func_kwargs={"seeds_path": toy_seeds}, log=lambda m: None)
    names = ["nhse_direct", "full_delegation", "needs_based"]
    out = compare(names, out=tmp_path / "pool", executor="processes", workers=2, **kw)
    serial = compare(names, out=tmp_path / "serial", executor="serial", **kw)
    want = {_figure_file(job) for job in figure_jobs(out)}
    assert "exposure_trusts.png" in want and "map_access_difference.png" in want
    got = {p.name for p in (out / "figures").glob("*.png")}
    assert got == want == {p.name for p in (serial / "figures").glob("*.png")}
    for name in got:
        with Image.open(out / "figures" / name) as im:
            im.verify()  # a whole PNG
        assert (out / "figures" / name).stat().st_size > 10_000
    report = (out / "report.md").read_text()
    linked = set(re.findall(r"\]\(figures/([^)]+\.png)\)", report))
    assert linked == got
    assert report.replace(str(out), "").split("## Configuration")[0] == \
        (serial / "report.md").read_text().replace(str(serial), "").split("## Configuration")[0]
