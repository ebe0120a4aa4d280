"""Errors and warnings of the discovery core (no imports from the rest of the project)."""

from __future__ import annotations

__all__ = ["DiscoveryError", "DiscoveryWarning", "MissingExtraError", "require_extra"]

EXTRA_HINT = "pip install 'commissim[discovery]'"


class DiscoveryError(ValueError):
    """Bad input to scenario discovery or policy search; the message is one line."""


class DiscoveryWarning(UserWarning):
    """Something the analyst should know but that does not stop the analysis
    (e.g. a constant input column dropped before PRIM)."""


class MissingExtraError(ImportError):
    """The optional ``discovery`` extra (EMA Workbench, scikit-learn, Optuna) is not installed."""


def require_extra(module: str, what: str):
    """Import ``module`` or raise a one-line :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingExtraError(
            f"{what} needs the optional extra 'discovery' ({exc.name or module} is missing): {EXTRA_HINT}"
        ) from exc
