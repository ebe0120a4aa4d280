"""experiments/mechanism_report.py: the trust-by-trust, channel and regime tables, on England with few seeds."""

from __future__ import annotations

import json

import pandas as pd


def test_mechanism_report_writes_its_tables_and_manifest(tmp_path):
    from commissim.experiments.mechanism_report import main
    from commissim.model.world import CHANNELS

    out = tmp_path / "mech"
    assert main(["--seeds", "2", "--regime-seeds", "1", "--workers", "1", "--out", str(out)]) == 0
    trusts = pd.read_csv(out / "trusts.csv")
    channels = pd.read_csv(out / "channels.csv")
    regimes = pd.read_csv(out / "regimes.csv")
    # every specialist, children's and Shelford trust, sorted by the income delegation takes from it
    assert len(trusts) >= 30 and trusts.income_diff.is_monotonic_increasing
    assert set(trusts.kind) == {"specialist", "childrens", "shelford"}
    # each channel's money and binding share under each of the seven scenarios
    assert len(channels) == 7
    for c in CHANNELS:
        assert f"{c}_gbp_m_a_year" in channels and f"{c}_binding" in channels
    assert (channels.growth_withheld_gbp_m_a_year > 0).all()
    # NHS England commissioning keeps no underspend for a system
    assert channels.set_index("scenario").loc["nhse_direct", "kept_by_systems_gbp_m_a_year"] == 0
    assert len(regimes) == 9 and set(regimes.ringfence) == {"hard", "soft", "none"}
    text = (out / "mechanism.md").read_text()
    assert text.startswith("# What the mechanism moves") and "idle" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"] == 7 * 2 + 9 * 2 and manifest["git_commit"]
