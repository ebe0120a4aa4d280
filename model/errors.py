"""Errors raised for bad input. Messages name the field, the value and what is allowed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class ModelInputError(ValueError):
    """Bad input to the model: a parameter, a scenario file or a seed table."""


class SeedDataError(ModelInputError):
    """A seed table failed validation (names the file, row and field)."""


class ScenarioError(ModelInputError):
    """A scenario name or scenario file is invalid."""


class ParameterError(ModelInputError):
    """A model parameter is unknown, of the wrong type, or out of range."""


@contextmanager
def rethrow(error: type[Exception], catch: type[BaseException] | tuple = ModelInputError,
            prefix: str = "") -> Iterator[None]:
    """Re-raise an error of type ``catch`` from the block as ``error``, with the same message
    (after ``prefix``) and without the first error's traceback: the message is what the user
    needs, the chain would only hide it. Used wherever one layer reports another's input error.
    """
    try:
        yield
    except catch as exc:
        raise error(f"{prefix}{exc}") from None
