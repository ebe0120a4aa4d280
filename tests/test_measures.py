"""The measure registry (``commissim.model.measures.MEASURES``) describes exactly what a run measures."""

from __future__ import annotations

import pytest

from commissim.model.measures import MEASURE_BY_NAME, MEASURES, SERIES_MEASURES, SUMMARY_MEASURES
from commissim.model.simulation import simulate


def test_the_registry_is_what_a_run_returns(toy_seeds):
    out = simulate("full_delegation", years=2, rng=1, series=True, seeds_path=toy_seeds)
    assert [k for k in out if k not in ("scenario", "years", "series", "provider_income_change", "icb_measures",
                                        "provider_measures")] == \
        list(SUMMARY_MEASURES)
    assert list(out["series"]) == list(SERIES_MEASURES)
    assert all(len(v) == 3 for v in out["series"].values())


def test_every_measure_is_described():
    assert len(MEASURE_BY_NAME) == len(MEASURES)
    for m in MEASURES:
        assert m.label and m.definition.endswith(".") and m.kind in ("series", "summary", "icb"), m.name
        assert m.number(0.5) and m.text(0.5)


@pytest.mark.parametrize("name, value, text", [
    ("providers_destabilised", 3.0, "3 providers"), ("out_of_area_share", 0.38, "38.0%"),
    ("total_spend", 25.123, "£25.12bn"), ("unmet_need_share", 0.0081, "0.81% of demand"),
    ("access_gini", 0.0571, "0.057"), ("diverted_to_core", 233.4, "£233m"),
])
def test_a_value_reads_with_its_unit(name, value, text):
    assert MEASURE_BY_NAME[name].text(value) == text


def test_the_readers_of_measures_use_registered_names():
    from commissim.experiments.cli.run import PANELS, PRINTED
    from commissim.experiments.compare.figures import BAND_FIGURES
    from commissim.experiments.compare.report import CONSOLE_MEASURES, HEADLINE_MEASURES
    from commissim.model.app import SERIES_PANELS, SUMMARY_ROWS

    used = {*HEADLINE_MEASURES, *CONSOLE_MEASURES, *BAND_FIGURES.values(), *PANELS, *PRINTED, *SUMMARY_ROWS,
            *(n for _, names in SERIES_PANELS for n in names)}
    assert used <= set(MEASURE_BY_NAME), used - set(MEASURE_BY_NAME)
