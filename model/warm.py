"""Warm start for worker processes: imported by a local process pool's fork server only.

Importing this module loads the default seed tables and builds the base-year world for the
default parameters (``model.base_world``), once, in the fork server; every worker forked from
it then starts with them in memory instead of building them on its first run. It is listed in
the model's ``Runner.preload`` (``commissim.experiments.model_runs``); nothing else imports it.
Best effort: if the default data cannot be loaded, the workers report that on their runs.
"""

from __future__ import annotations


def warm() -> None:
    """Load the default seed data and build its default base-year world (cached on the data)."""
    from .data import load_seeds
    from .world import base_world
    from .params import DEFAULTS

    base_world(load_seeds(), DEFAULTS["reach_multiplier"], DEFAULTS["distance_access_elasticity"],
               DEFAULTS["in_area_affinity"])


try:
    warm()
except Exception:  # noqa: BLE001 - never break the fork server; a worker's own run will say what is wrong
    pass
