"""Errors raised for bad input. Messages name the field, the value and what is allowed."""


class ModelInputError(ValueError):
    """Bad input to the model: a parameter, a scenario file or a seed table."""


class SeedDataError(ModelInputError):
    """A seed table failed validation (names the file, row and field)."""


class ScenarioError(ModelInputError):
    """A scenario name or scenario file is invalid."""


class ParameterError(ModelInputError):
    """A model parameter is unknown, of the wrong type, or out of range."""
