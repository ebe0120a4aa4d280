"""commissim: an agent-based model of NHS England specialised commissioning (Mesa 3.5)."""

from .errors import ModelInputError, ParameterError, ScenarioError, SeedDataError
from .params import DEFAULTS, PARAMS, validate_parameters

__all__ = [
    "CommissioningModel",
    "simulate",
    "ModelInputError",
    "ParameterError",
    "ScenarioError",
    "SeedDataError",
    "PARAMS",
    "DEFAULTS",
    "validate_parameters",
]


def __getattr__(name):  # lazy: importing model.params must not import mesa
    if name == "CommissioningModel":
        from .model import CommissioningModel

        return CommissioningModel
    if name == "simulate":
        from .simulation import simulate

        return simulate
    raise AttributeError(name)
