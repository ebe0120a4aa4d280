"""What the batch library knows about the run function: a :class:`Runner`.

The batch library runs any function with the signature of ``commissim.model.simulate``,
``func(scenario=..., years=..., rng=seed, **fixed_keywords, **parameters) -> dict``, and
stores what it returns: every number as an end-of-run measure (``summaries``), a
``"series"`` dict of per-round lists as one row per run and round (``series``), and any
:class:`VectorOutput` as a long table. Everything it knows about a particular model - how
to check a design point, what its results depend on, how to label a round - comes in
through the Runner; ``commissim.experiments.model_runs.model_runner()`` is the one for
commissim's model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Runner", "VectorOutput"]


@dataclass(frozen=True)
class VectorOutput:
    """A per-run list in the run's result, stored as a long table ``table``: one row per run
    and element, the element's position in column ``index`` and its value in ``value``.

    With ``values`` (column names), the run's ``key`` holds a dict of equally long lists, one
    per name, stored as one column each (``value`` is then unused)."""

    key: str
    table: str
    index: str
    value: str = "value"
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Runner:
    """The run function and what the batch library needs to know about it.

    func:
        The run function; module-level (picklable) for process or Dask executors.
    kwargs:
        Fixed keywords passed to every run (e.g. ``seeds_path``).
    check:
        ``check(point, where) -> (checked point, manifest description)``: validates a design
        point before any run starts and raises a ``UserError`` naming ``where``.
    fingerprint:
        ``fingerprint() -> str``: a hash of what results depend on (code, data); a results
        folder made with another fingerprint is not resumed.
    vectors:
        Per-run lists stored as long tables.
    round_label:
        ``round -> text`` for the series' ``year`` column (module-level: workers call it).
    input_errors:
        Exception types that mean bad input rather than a failing run: the first run of a
        batch, run in this process, stops the batch with its message when it raises one.
    versions:
        Distributions whose versions the manifest records (besides Python, commissim,
        numpy, pandas and pyarrow).
    preload:
        Modules a local process pool's fork server imports once, before it starts the
        workers (e.g. the model and Mesa), so no worker imports them again.
    subject, fingerprint_note:
        How messages name what runs (e.g. "model") and what its fingerprint covers.
    """

    func: Callable[..., dict]
    kwargs: dict[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Any], str], tuple[dict[str, Any], dict[str, Any]]] | None = None
    fingerprint: Callable[[], str] | None = None
    vectors: tuple[VectorOutput, ...] = ()
    round_label: Callable[[int], str] | None = None
    input_errors: tuple[type[BaseException], ...] = ()
    versions: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    subject: str = "run function"
    fingerprint_note: str = ""

    @property
    def name(self) -> str:
        """``module:qualname`` of the run function (recorded in the manifest)."""
        f = self.func
        return f"{getattr(f, '__module__', '?')}:{getattr(f, '__qualname__', repr(f))}"
