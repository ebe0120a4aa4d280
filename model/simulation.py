"""``simulate``: the one module-level, picklable entry point every runner calls.

The CLI, the batch engine, the sensitivity sweeps and outside tools (EMA Workbench's
``Model(function=...)``, SALib's ``ProblemSpec.evaluate`` through a wrapper) all run
the model through this function, so a run means the same thing everywhere.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from .measures import SERIES_MEASURES, SUMMARY_MEASURES

__all__ = ["simulate", "fingerprint", "SUMMARY_MEASURES", "SERIES_MEASURES"]


def simulate(
    scenario: str = "nhse_direct",
    years: int = 10,
    rng: int | None = None,
    *,
    series: bool = False,
    seeds_path: str | None = None,
    **parameters: Any,
) -> dict[str, Any]:
    """Run one scenario for ``years`` funding rounds and return its summary measures.

    Returns a flat dict: every name in ``SUMMARY_MEASURES`` (floats, values at the
    end of the run or run totals), plus ``scenario`` and ``years``. With
    ``series=True`` it also holds ``series`` (measure name -> list of ``years + 1``
    values, index 0 = base year 2022-23), ``provider_income_change`` (one value
    per provider, in seed order, end of run) and ``icb_measures`` (measure name -> one
    value per ICB, in seed order, end of run: the ``icb`` measures of the registry, see
    ``model.maps``). Bad input raises a
    ``model.errors.ModelInputError`` naming the parameter and what is allowed.
    """
    from .model import CommissioningModel

    from .maps import icb_base, icb_values

    model = CommissioningModel(scenario=scenario, rng=rng, collect_agent_data=False, seeds_path=seeds_path,
                               **parameters)
    base = icb_base(model) if series else None
    if series:  # the same rounds as model.run, counting each provider's years on cash support (exposure)
        from .exposure import provider_values, run_tracking

        on_support = run_tracking(model, years)
    else:
        model.run(years)
    out: dict[str, Any] = model.summary()
    out["scenario"] = model.policy_name
    out["years"] = int(years)
    if series:
        mv = model.datacollector.model_vars
        out["series"] = {k: [float(x) for x in mv[k]] for k in SERIES_MEASURES}
        out["provider_income_change"] = [0.0 if abs(x) < 1e-9 else float(x) for x in model.state.income_change]
        out["icb_measures"] = {k: [float(x) for x in v] for k, v in icb_values(model, base).items()}
        out["provider_measures"] = provider_values(model, on_support)
    return out


def fingerprint() -> str:
    """A hash of what a run's results depend on: the model's code, scenario files and seed
    tables (not the browser page). A results folder made with another fingerprint would mix
    two models, so the batch engine does not resume it."""
    from .data import seeds_dir

    root = Path(__file__).resolve().parent
    files = sorted(root.rglob("*.py")) + sorted(root.rglob("*.toml")) + sorted(Path(seeds_dir()).glob("*.csv"))
    h = hashlib.sha256()
    for f in files:
        if "__pycache__" in f.parts or f.name == "app.py":  # the browser page does not affect runs
            continue
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]
