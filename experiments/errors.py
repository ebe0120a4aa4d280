"""The errors of the experiments layer, in one small module every layer imports.

A :class:`UserError` is a mistake in what the user asked for: the command line prints its
message on one line, with no traceback, and exits with status 2. Messages name the field
or option, the value given and what is allowed. The model's own input errors
(``commissim.model.errors.ModelInputError``) are treated the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from commissim.model.errors import ModelInputError, rethrow

__all__ = [
    "UserError",
    "BatchConfigError",
    "BatchAborted",
    "SweepConfigError",
    "SweepAnalysisError",
    "SweepWarning",
    "USER_ERRORS",
    "rethrow",
    "option",
    "command_line_words",
]


class UserError(Exception):
    """An error in what the user asked for: printed as one clear message, no traceback."""


class BatchConfigError(UserError):
    """A batch cannot start as asked (bad design or option, or a folder holding another batch)."""


class BatchAborted(RuntimeError):
    """The executor itself broke (e.g. a worker process was killed); finished runs are kept."""


class SweepConfigError(UserError):
    """The sweep file (or an option) asks for something not allowed."""


class SweepAnalysisError(UserError):
    """The results cannot be analysed as asked (failed runs, NaN outcomes, wrong sample)."""


class SweepWarning(UserWarning):
    """A sweep can run but something is likely unintended (e.g. Sobol N not a power of 2)."""


# What the command line reports as a one-line message (exit status 2).
USER_ERRORS = (UserError, ModelInputError)


# --------------------------------------------------------------------------- the words of a message
# Messages name options the way the caller gave them: "--out" and "--overwrite" on the command
# line, "out=" and "overwrite=True" from Python. The command line sets this for the duration
# of a command (command_line_words), so a library message never mixes the two vocabularies.
_COMMAND_LINE: ContextVar[bool] = ContextVar("commissim_command_line", default=False)

# option -> how a Python caller passes it (default "name=")
_PYTHON = {"overwrite": "overwrite=True", "second_order": "second_order=True", "analyse_only": "folder="}


def option(name: str) -> str:
    """An option as the caller spells it: ``--out`` / ``--overwrite`` on the command line,
    ``out=`` / ``overwrite=True`` from Python."""
    if _COMMAND_LINE.get():
        return "--" + name.replace("_", "-")
    return _PYTHON.get(name, f"{name}=")


@contextmanager
def command_line_words() -> Iterator[None]:
    """Within this block, messages name options as the command line does (``--out``)."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)
