"""``commissim validate``: calibration facts all pass, validation facts are reported pass or fail."""

from __future__ import annotations

import pandas as pd

from commissim.experiments.cli import main as cli


def test_validate_writes_the_table_figure_and_report(tmp_path, capsys):
    out = tmp_path / "validate"
    rc = cli(["validate", "--seeds", "2", "--out", str(out), "--executor", "serial", "--no-progress"])
    assert rc == 0  # every calibration fact passes
    printed = capsys.readouterr().out
    assert "calibration (fitted or by construction)" in printed and "validation (not fitted)" in printed
    # every number with its unit (money as £...bn/m, shares as %), and no fact name cut mid-word
    rows = [line for line in printed.splitlines() if line.startswith(("  pass", "  FAIL", "  fail"))]
    assert rows and any("£" in line and "bn" in line for line in rows) and any("%" in line for line in rows)
    facts = set(pd.read_csv(out / "validation.csv").fact)
    for line in rows:
        shown = line[8:78].rstrip()
        assert shown in facts or (shown.endswith("…") and any(f.startswith(shown[:-1].rstrip()) and
                                                              f[len(shown[:-1].rstrip())] == " " for f in facts)), line
    df = pd.read_csv(out / "validation.csv")
    assert set(df.table) == {"calibration", "validation"}
    cal = df[df.table == "calibration"]
    assert (cal.verdict != "FAIL").all()
    assert (cal.verdict == "known miss").sum() <= 2  # named in the rows, never widened
    assert (df.runs == 2).all() and df.model_mean.notna().all()
    assert df.source.str.len().min() >= 3  # every row names its source (e.g. "001", a source article)
    md = (out / "validation.md").read_text()
    assert "## Validation (not fitted)" in md and "## Calibration (fitted or by construction)" in md
    for fact in df[df.table == "validation"].fact:
        assert fact in md
    assert (out / "figures" / "validation.png").stat().st_size > 10_000
    # the same command again resumes: nothing re-run, same table
    assert cli(["validate", "--seeds", "2", "--out", str(out), "--executor", "serial", "--no-progress"]) == 0
    pd.testing.assert_frame_equal(df, pd.read_csv(out / "validation.csv"))
