"""Statistics that agree with what is printed: resolutions, verdicts and the digits of intervals."""

from __future__ import annotations

import pandas as pd

from commissim.experiments.compare.differences import Difference, interval_numbers, verdict
from commissim.experiments.compare.report import difference_text
from commissim.model.measures import MEASURE_BY_NAME, MEASURES


def test_every_measure_declares_a_positive_resolution():
    for m in MEASURES:
        assert m.min_difference > 0, m.name
    assert MEASURE_BY_NAME["providers_destabilised"].min_difference == 0.5  # half a provider
    assert MEASURE_BY_NAME["trust_sector_margin"].min_difference == 0.05  # pp of income


def test_a_difference_below_the_resolution_is_negligible_whatever_its_interval():
    # 0.3 fewer providers, interval clear of zero: still negligible (below half a provider)
    d = Difference(-0.3, -0.5, -0.1, 30, True)
    assert verdict("providers_destabilised", d) == "negligible"
    assert "negligible" in difference_text("providers_destabilised", d)
    # a margin difference of 0.001 pp: the printed 0.00 is never called higher
    d = Difference(0.00001, 0.000005, 0.000015, 30, True)
    assert verdict("trust_sector_margin", d) == "negligible"
    text = difference_text("trust_sector_margin", d)
    assert "higher" not in text and "**" not in text
    # above the resolution the interval decides
    assert verdict("providers_destabilised", Difference(-0.9, -1.4, -0.4, 30, True)) == "lower"
    assert verdict("providers_destabilised", Difference(0.9, -0.2, 2.0, 30, True)) == "unclear"
    assert verdict("providers_destabilised", Difference(0, 0, 0, 30, True)) == "same"


def test_an_interval_that_excludes_zero_never_prints_a_zero_end():
    d = Difference(-0.4 / 1, -0.7, -0.02, 30, True)  # 'pan_icb -0.4 (-0.7 to 0.0): fewer' before
    est, lo, hi = interval_numbers("providers_destabilised", d)
    assert hi == "-0.02" and lo.startswith("-0.7")
    d = Difference(0.3, -0.02, 0.6, 30, True)  # includes zero: the negative end shows as negative
    est, lo, hi = interval_numbers("providers_destabilised", d)
    assert lo == "-0.02" and "unclear" in difference_text("providers_destabilised", Difference(0.6, -0.02, 1.2, 30, True))


def test_report_tables_and_figures_use_one_quantile_method():
    from commissim.experiments.compare.report import summary_table

    s = pd.DataFrame({"scenario": ["a"] * 4, "replicate": range(4), "providers_destabilised": [0.0, 1.0, 2.0, 10.0]})
    t = summary_table(s, {"design": [{"scenario": "a"}]}, ["providers_destabilised"])
    import numpy as np

    assert t["p95"].iloc[0] == np.quantile([0, 1, 2, 10], 0.95)  # linear, as the figures' bands
