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
    share = base.state.prov_income[p] / data.turnover[p]
    assert 0.6 <= share <= 0.72


def test_2023_24_spend_is_near_25bn():
    m = CommissioningModel(rng=0)
    m.step()
    assert m.financial_year == "2023-24"
    assert m.measures["total_spend"] == pytest.approx(25.0, rel=0.03)


def test_status_quo_is_stable_in_the_base_years(base):
    m = CommissioningModel(rng=0).run(3)
    assert m.measures["providers_in_distress"] == 0
    assert m.measures["services_withdrawn"] == 0
    assert m.measures["unmet_need_share"] < 0.01
