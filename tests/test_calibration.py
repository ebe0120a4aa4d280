"""The England seed data reproduces the brief's calibration facts (MODEL.md)."""

from __future__ import annotations

import numpy as np
import pytest

from commissim.model import CommissioningModel
from commissim.model.data import TIERS, load_seeds


@pytest.fixture(scope="module")
def data():
    return load_seeds()


@pytest.fixture(scope="module")
def base():
    return CommissioningModel(rng=0)


def test_counts(data):
    assert data.n_icbs == 42
    assert data.n_regions == 7
    assert len(set(data.region_short)) == 7
    assert int(data.population.sum()) == 57_106_398  # ONS mid-2022, England
    lines = {t: int(data.lines[data.tier == k].sum()) for k, t in enumerate(TIERS)}
    assert sum(lines.values()) == 154
    assert lines["delegable"] == 65
    assert 75 <= lines["highly_specialised"] <= 85
    assert int(data.lines[data.in_59].sum()) == 59
    assert int(data.lines[data.in_70].sum()) == 70


def test_every_icb_hosts_a_provider_of_local_services(data):
    hosted = np.bincount(data.provider_icb, minlength=data.n_icbs)
    assert (hosted >= 1).all()
    for sid in ("renal_dialysis", "chemotherapy"):
        s = int(np.nonzero(data.service_id == sid)[0][0])
        offering = np.unique(data.provider_icb[data.base_cases[:, s] > 0])
        assert len(offering) >= 40


def test_shelford_group_and_highly_specialised_centres(data):
    shelford = data.provider_kind == "shelford"
    assert shelford.sum() == 10
    proton = int(np.nonzero(data.service_id == "proton_beam_therapy")[0][0])
    assert (data.base_cases[:, proton] > 0).sum() == 2
    hss = data.tier == TIERS.index("highly_specialised")
    assert ((data.base_cases[:, hss] > 0).sum(axis=0) <= 6).all()


def test_base_year_spend_is_22_7bn(base):
    assert base.measures["total_spend"] == pytest.approx(22.7, rel=0.02)


def test_newcastle_draws_about_two_thirds_of_income_from_specialised(base, data):
    p = int(np.nonzero(data.provider_code == "RTD")[0][0])
    share = base.state.spec_income[p] / data.turnover[p]
    assert 0.6 <= share <= 0.72


def test_2023_24_spend_follows_the_published_allocation():
    m = CommissioningModel(rng=0)
    m.step()
    assert m.financial_year == "2023-24"
    assert m.measures["budget_total"] == pytest.approx(25.115)  # NHS England board, 1 Feb 2024
    assert m.measures["total_spend"] == pytest.approx(25.0, rel=0.02)


def test_the_status_quo_keeps_its_services_in_the_first_years(base):
    m = CommissioningModel(rng=0).run(3)
    assert m.measures["services_withdrawn"] == 0
    # Patients wait because commissioners could not fund all the growth (the published allocations grow more
    # slowly than activity by 2025-26), not because providers lacked room for what was commissioned.
    led = m.state.ledger
    assert led["undelivered"] < 0.01 * led["payments"]
    assert m.measures["growth_withheld"] > 0
    assert m.measures["unmet_need_share"] < 0.10


# --- the calibration and validation tables (seeds/calibration.csv, seeds/validation.csv) -----------
@pytest.fixture(scope="module")
def target_runs():
    from commissim.model.targets import target_run

    return [target_run("as_happened", rng=seed) for seed in (1, 2, 3)]


def test_every_calibration_fact_is_reproduced(target_runs):
    """The facts the inputs are fitted to (or hold by construction) must all pass: pinned."""
    from commissim.model.targets import load_targets

    cal = [t for t in load_targets() if t.file == "calibration.csv"]
    assert len(cal) >= 25
    failed, known = [], []
    for t in cal:
        mean = float(np.mean([r[t.key] for r in target_runs]))
        if not t.passes(mean):
            line = f"{t.fact}: model {mean:.4g} vs {t.value} ({t.tolerance_kind} {t.tolerance})"
            # A fact used to build an input that the model does not reproduce is a stated miss (its fitted_by says
            # so and why); it is reported by `commissim validate`, never quietly widened.
            (known if "known miss" in t.fitted_by else failed).append(line)
    assert not failed, failed
    assert len(known) <= 2, known


def test_every_validation_fact_is_computed_and_kept_apart(target_runs):
    """Validation facts are compared, never fitted: each is computed (finite), whatever the verdict, and no
    quantity is both a calibration and a validation target for the same year."""
    from commissim.model.targets import load_targets

    targets = load_targets()
    val = [t for t in targets if t.file == "validation.csv"]
    assert len(val) >= 8
    for t in val:
        assert all(np.isfinite(r[t.key]) for r in target_runs), t.key
    cal_keys = {t.key for t in targets if t.file == "calibration.csv"}
    assert not cal_keys & {t.key for t in val}


def test_a_target_without_a_source_is_refused(tmp_path):
    import shutil

    from commissim.model.data import seeds_dir
    from commissim.model.errors import SeedDataError
    from commissim.model.targets import load_targets

    folder = tmp_path / "seeds"
    shutil.copytree(seeds_dir(), folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    lines = (folder / "validation.csv").read_text().splitlines()
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    rows[0]["source"] = ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    (folder / "validation.csv").write_text(buf.getvalue())
    with pytest.raises(SeedDataError, match=r"validation.csv row 2, field 'source': empty value"):
        load_targets(folder)
