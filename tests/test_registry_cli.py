"""``commissim params`` and ``commissim measures`` list every registry entry, and name a mistyped one."""

from __future__ import annotations

import csv
import io

from commissim.experiments.cli import main
from commissim.model.measures import MEASURES
from commissim.model.params import PARAMS


def _csv(capsys, *argv):
    assert main(list(argv)) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_params_lists_every_parameter_with_default_range_and_source(capsys):
    rows = _csv(capsys, "params", "--csv")
    assert [r["name"] for r in rows] == [p.name for p in PARAMS]
    by = {r["name"]: r for r in rows}
    for p in PARAMS:
        assert by[p.name]["default"] == str(p.default) and by[p.name]["source"] == p.source
        if p.kind in ("float", "int"):
            assert by[p.name]["allowed"] == f"{p.low:g} to {p.high:g}"
    assert main(["params"]) == 0
    text = capsys.readouterr().out
    assert all(p.name in text for p in PARAMS) and f"{len(PARAMS)} parameters" in text


def test_measures_lists_every_measure_with_unit_and_resolution(capsys):
    rows = _csv(capsys, "measures", "--csv")
    assert [r["name"] for r in rows] == [m.name for m in MEASURES]
    by = {r["name"]: r for r in rows}
    assert by["providers_destabilised"]["resolution"] == "0.5 providers"
    assert by["trust_sector_margin"]["resolution"] == "0.05 pp of income"
    for m in MEASURES:
        assert by[m.name]["definition"] == m.definition
    assert main(["measures", "--kind", "icb"]) == 0
    text = capsys.readouterr().out
    assert "icb_access_rate" in text and "total_spend" not in text


def test_a_mistyped_name_is_one_line_with_close_matches(capsys):
    assert main(["params", "efficency_gap"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'efficency_gap'" in err and "'efficiency_gap'" in err and "Traceback" not in err
    assert main(["measures", "acess_gini"]) == 2
    assert "'access_gini'" in capsys.readouterr().err
