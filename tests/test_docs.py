"""The documentation follows the registries: every parameter and measure is described in the ODD."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_parameter_and_measure_is_in_the_odd():
    from commissim.model.measures import MEASURES
    from commissim.model.params import PARAMS

    odd = (ROOT / "model" / "ODD.md").read_text(encoding="utf-8")
    missing = [p.name for p in PARAMS if f"`{p.name}`" not in odd]
    missing += [m.name for m in MEASURES if f"`{m.name}`" not in odd]
    assert not missing, f"not described in model/ODD.md: {missing}"


def test_every_seed_table_is_described_in_the_seeds_readme():
    readme = (ROOT / "seeds" / "README.md").read_text(encoding="utf-8")
    for table in sorted((ROOT / "seeds").glob("*.csv")):
        assert table.name in readme, table.name
