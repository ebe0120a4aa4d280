"""Scenario discovery (PRIM, CART) and robust policy search (Optuna) - the library core.

Self-contained: it imports nothing from the rest of ``experiments`` nor from ``model``;
the model enters only through the ``evaluate`` function given to :func:`search` (and
through the inputs and outcomes given to :func:`discover`). The third-party libraries
(EMA Workbench, scikit-learn, Optuna) are the optional extra ``commissim[discovery]``,
imported only when an analysis runs; without them a call raises a one-line
:class:`MissingExtraError`.

- :mod:`.prim` - :func:`discover`, :func:`find_box`, :func:`cart_check`, :func:`knee_index`;
- :mod:`.search` - :func:`search` with :class:`Lever`, :class:`Objective`,
  :class:`Constraint`, :func:`make_ensemble`;
- :mod:`.figures` - PNG figures of both; :mod:`.report` - Markdown reports of both.

On the model (phase 2): :func:`discover_run` (``commissim discover``, :mod:`.runs`) and
:func:`search_run` (``commissim search``, :mod:`.policy`) run the model through the batch
engine and write results folders. They sit above the core, import the rest of
``commissim.experiments`` and are loaded only when first used, so importing this package
still loads the core alone.
"""

from .errors import DiscoveryError, DiscoveryWarning, MissingExtraError
from .prim import (
    MIN_CASES,
    MIN_OTHERS,
    BoxLimit,
    CartResult,
    DiscoveryResult,
    PrimResult,
    cart_check,
    cases_of_interest,
    discover,
    find_box,
    knee_index,
)
from .search import (
    Constraint,
    EnsembleMember,
    Lever,
    Objective,
    SearchResult,
    make_ensemble,
    search,
)

_LAZY = {
    "discover_run": ".runs",
    "DiscoverRun": ".runs",
    "search_run": ".policy",
    "SearchRun": ".policy",
    "load_levers": ".policy",
}


def __getattr__(name):  # the model-facing functions load the batch engine: only when asked for
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DiscoverRun",
    "SearchRun",
    "discover_run",
    "load_levers",
    "search_run",
    "MIN_CASES",
    "MIN_OTHERS",
    "BoxLimit",
    "CartResult",
    "Constraint",
    "DiscoveryError",
    "DiscoveryResult",
    "DiscoveryWarning",
    "EnsembleMember",
    "Lever",
    "MissingExtraError",
    "Objective",
    "PrimResult",
    "SearchResult",
    "cart_check",
    "cases_of_interest",
    "discover",
    "find_box",
    "knee_index",
    "make_ensemble",
    "search",
]
