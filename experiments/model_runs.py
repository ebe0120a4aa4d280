"""How every batch runs commissim's model: the :class:`~commissim.experiments.batch.Runner`
that tells the batch library about ``commissim.model.simulate``.

The batch library knows only a run function; this module adds what the model says about
itself: how to check a design point (scenario and parameters, against the model's registry),
its fingerprint (code, scenario files, seed tables), the per-provider income change it
returns as a vector (the ``providers`` table), how to label a round (``2022-23``, ...), which
errors mean bad input, and Mesa's version for the manifest. ``compare``, the sweeps, the
benchmarks and the scripts all run the model through :func:`model_runner`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from commissim.model.exposure import PROVIDER_VALUES
from commissim.model.maps import ICB_MEASURES

from .batch import Runner, VectorOutput
from .errors import BatchConfigError, rethrow

__all__ = ["money_in_one_unit", "parameter_unit", "measure_unit", "PARAMETER_UNITS", "model_runner", "check_point", "year_label", "late_changes", "PROVIDERS", "ICBS", "PROVIDER_VALUES_TABLE"]

# simulate(..., series=True) returns each provider's end-of-run income change, in seed order.
PROVIDERS = VectorOutput(key="provider_income_change", table="providers", index="provider", value="income_change")
# ... and each ICB's end-of-run map measures (model.maps.ICB_MEASURES), in seed order: the ``icbs`` table.
ICBS = VectorOutput(key="icb_measures", table="icbs", index="icb", values=ICB_MEASURES)
# ... and each provider's end-of-run money, cash support and lines (model.exposure): the ``provider_values`` table,
# what trust-by-trust exposure is computed from.
PROVIDER_VALUES_TABLE = VectorOutput(key="provider_measures", table="provider_values", index="provider",
                                     values=tuple(PROVIDER_VALUES))


# The unit of a parameter's raw value, for findings that quote one (``efficiency_gap <= 0.000229 of costs a year``).
# Shares are fractions (0.01 = 1%). A parameter not listed has no unit to state (a weight, a switch or a choice).
PARAMETER_UNITS = {
    "funding_growth": "a year (fraction)", "cost_inflation": "a year (fraction)",
    "efficiency_factor": "of costs a year (fraction)", "efficiency_gap": "of costs a year (fraction)",
    "pay_share": "of costs (fraction)", "deficit_severity": "x the opening deficits",
    "growth_cap": "of out-of-area growth withheld (fraction)", "local_start_share": "of the minimum viable volume",
    "diversion_limit": "of the delegated budget (fraction)", "nhse_tolerance": "of a contract (fraction)",
    "pool_share": "of the delegated budget (fraction)", "clawback_share": "of delegated lines (fraction)",
    "pace_of_change": "of the gap a year (fraction)", "convergence_floor": "a year (fraction)",
    "cash_floor_days": "days of operating costs", "recovery_efficiency": "of costs a year (fraction)",
    "cost_shed_rate": "of excess costs a year (fraction)", "withdrawal_rounds": "years",
    "loss_tolerance": "of a line's income (fraction)", "destabilised_deficit": "of turnover (fraction)",
    "distress_capacity_cut": "of capacity (fraction)", "upstream_investment": "of the dialysis budget (fraction)",
}


def parameter_unit(name: str) -> str:
    """The unit of a parameter's raw value ('' when it has none to state)."""
    return PARAMETER_UNITS.get(name, "")


def measure_unit(name: str) -> str:
    """The unit of a measure's raw value (as runs store it): the registry's unit, or 'as a fraction' for shares
    the registry shows as %."""
    from commissim.model.measures import MEASURE_BY_NAME

    m = MEASURE_BY_NAME.get(name.split(":")[0])
    if m is None:
        return ""
    if m.scale != 1.0:
        return f"(fraction; x{m.scale:g} = {m.unit})" if m.unit else "(fraction)"
    return m.unit


def money_in_one_unit(table):
    """A table (pandas) with every money measure in £m, its unit in its name (``total_spend_gbp_m``): the
    registry keeps £bn for totals and £m for flows; a CSV an analyst opens holds one money unit."""
    from commissim.model.measures import MEASURE_BY_NAME

    out = table.copy()
    renames = {}
    for col in out.columns:
        m = MEASURE_BY_NAME.get(col)
        factor = {"£bn": 1000.0, "£m": 1.0}.get(m.unit) if m is not None else None
        if factor is None:
            continue
        out[col] = out[col] * factor
        renames[col] = f"{col}_gbp_m"
    return out.rename(columns=renames)


def year_label(round_: int) -> str:
    """Round 0 -> '2022-23' (the base year), round 1 -> '2023-24', ..."""
    from commissim.model.scenarios import BASE_YEAR, fy_label

    return fy_label(BASE_YEAR + int(round_))


def check_point(point: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a design point with the model's registry; return (checked point, manifest description)."""
    from commissim.model.params import DEFAULTS, validate_parameters
    from commissim.model.scenarios import fy_label, load_scenario

    scenario = point["scenario"]
    params = {k: v for k, v in point.items() if k != "scenario"}
    with rethrow(BatchConfigError):
        scen = load_scenario(scenario)
        checked = validate_parameters(params, where=where)
    resolved = {**DEFAULTS, **scen.parameters, **checked}
    changes = [{"year": fy_label(y), **{k: v for k, v in ch.items() if k not in checked}} for y, ch in scen.changes]
    describe = {
        "scenario_name": scen.name,
        "description": scen.description,
        "source": scen.source,
        "overrides": checked,
        "parameters": resolved,  # in force from the base year
        "changes": [c for c in changes if len(c) > 1],  # scenario changes not overridden by the user
    }
    return {"scenario": scenario, **checked}, describe


def late_changes(names: Sequence[str], years: int, overridden, say: Callable[[str], None]) -> None:
    """Say a warning for every scenario change dated after the last year the runs reach (it changes nothing)."""
    from commissim.model.scenarios import BASE_YEAR, changes_after, load_scenario

    if not isinstance(years, int) or isinstance(years, bool) or years < 0:
        return  # the batch refuses it, naming the value
    for name in names:
        for warning in changes_after(load_scenario(name), BASE_YEAR + years, overridden=overridden):
            say(f"warning: {warning}")


def _fingerprint() -> str:
    from commissim.model.simulation import fingerprint

    return fingerprint()


def model_runner(func: Callable[..., dict] | None = None, func_kwargs: dict[str, Any] | None = None) -> Runner:
    """The Runner of commissim's model: ``func`` (default ``commissim.model.simulation.simulate``,
    looked up now) with fixed keywords ``func_kwargs`` (e.g. ``{"seeds_path": ...}``)."""
    from commissim.model.errors import ModelInputError

    if func is None:
        from commissim.model import simulation

        func = simulation.simulate
    return Runner(func=func, kwargs=dict(func_kwargs or {}), check=check_point, fingerprint=_fingerprint,
                  vectors=(PROVIDERS, ICBS, PROVIDER_VALUES_TABLE), round_label=year_label, input_errors=(ModelInputError,),
                  versions=("mesa",), preload=("commissim.model.model", "commissim.model.warm"), subject="model",
                  fingerprint_note="code, scenarios or seed tables changed")
