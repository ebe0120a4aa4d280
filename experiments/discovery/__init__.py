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

__all__ = [
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
