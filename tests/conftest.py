"""Shared fixtures: the toy world (mechanism tests) and the England seed data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from toyworld import write_toy_seeds  # noqa: E402


@pytest.fixture(scope="session")
def toy_seeds(tmp_path_factory) -> str:
    return str(write_toy_seeds(tmp_path_factory.mktemp("toy_seeds")))


@pytest.fixture
def toy_model(toy_seeds):
    from commissim.model import CommissioningModel

    def make(scenario="nhse_direct", rng=1, **params):
        return CommissioningModel(scenario=scenario, rng=rng, seeds_path=toy_seeds, **params)

    return make
