"""A batch's design: design points, run ids and per-run seeds, the checks made before any run.

A design is a list of design points, dicts ``{"scenario": name_or_path, **parameters}``;
each point is run ``replicates`` times. Run ``(point, replicate)`` gets the seed of
:func:`run_seed` and the id of :func:`make_run_id`, so a run's result depends only on its
design point, its replicate and the root seed: never on the executor, the number of workers,
the chunking or the order in which runs finish.

A batch may give each design point a *seed key* (``seed_keys``) to use in place of its point id
in the seed: points with the same seed key get the same seeds, replicate by replicate. This is
how common random numbers are run (e.g. policy search: every candidate policy runs on
ensemble member ``m`` with the seeds of key ``m``); by default the seed key is the point id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import BatchConfigError

__all__ = ["Run", "run_seed", "make_run_id", "SEED_RULE", "SEED_RULE_COMMON", "check_int", "normalise_design",
           "check_point_ids", "check_seed_keys", "parameter_names", "design_runs", "jsonable"]

SEED_RULE = ("seed = int(numpy.random.SeedSequence(root_seed, spawn_key=(point, replicate))"
             ".generate_state(1)[0]), with the point's seed key in place of point when the batch gives "
             "seed_keys (config.seed_keys); run_id = 'p{point:04d}r{replicate:04d}'")
# With common seeds (common random numbers: ``commissim compare``), replicate r has one seed for every point.
SEED_RULE_COMMON = ("seed = int(numpy.random.SeedSequence(root_seed, spawn_key=(replicate,))"
                    ".generate_state(1)[0]), the same for every design point (common random numbers); "
                    "run_id = 'p{point:04d}r{replicate:04d}'")
# Result columns a parameter may not be named after.
ID_COLUMNS = ("run_id", "point", "replicate", "seed", "scenario")
RESERVED = (*ID_COLUMNS, "run_seconds")


class Run(NamedTuple):
    """One model run of a batch: what a worker needs to run it and what identifies its result."""

    run_id: str
    point: int
    replicate: int
    seed: int
    scenario: str
    params: dict[str, Any]


def run_seed(root_seed: int, point: int, replicate: int, *, common: bool = False) -> int:
    """The seed of run ``(point, replicate)``: independent of processes, chunks and order.

    ``common``: the seed of replicate ``replicate`` whatever the point (common random numbers)."""
    key = (int(replicate),) if common else (int(point), int(replicate))
    ss = np.random.SeedSequence(int(root_seed), spawn_key=key)
    return int(ss.generate_state(1)[0])


def make_run_id(point: int, replicate: int) -> str:
    """A run's id, e.g. ``p0003r0012`` (design point 3, replicate 12)."""
    return f"p{point:04d}r{replicate:04d}"


def jsonable(value: Any) -> Any:
    """Numpy scalars, tuples and paths to plain JSON values (for the manifest and config hash)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def check_int(name: str, value: Any, low: int) -> int:
    """``value`` as an int, or BatchConfigError naming ``name``, the value and what is allowed."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise BatchConfigError(f"{name}: value {value!r} is not allowed; expected a whole number >= {low}")
    return int(value)


Check = Callable[[dict[str, Any], str], tuple[dict[str, Any], dict[str, Any]]]


def normalise_design(design: Sequence[dict[str, Any]], check: Check | None) -> tuple[list[dict], list[dict]]:
    """(checked design points, their manifest descriptions); every point is checked before any run.

    ``check(point, where)`` returns the checked point and its description for the manifest
    (and raises a UserError naming ``where``); without it the point is kept as given.
    """
    if isinstance(design, dict) or not isinstance(design, Iterable):
        raise BatchConfigError("design must be a list of design points (dicts with 'scenario' and parameters)")
    points, describes = [], []
    for i, raw in enumerate(design):
        if not isinstance(raw, dict):
            raise BatchConfigError(f"design point {i}: expected a dict of scenario and parameters, got {raw!r}")
        if "scenario" not in raw:
            raise BatchConfigError(f"design point {i}: 'scenario' is missing; give every point a scenario name or "
                                   "scenario file")
        if not isinstance(raw["scenario"], (str, Path)):
            raise BatchConfigError(f"design point {i}: 'scenario' must be a name or a path, got {raw['scenario']!r}")
        point = {"scenario": str(raw["scenario"]), **{k: v for k, v in raw.items() if k != "scenario"}}
        if check is not None:
            point, describe = check(point, f"design point {i} ({point['scenario']})")
            point = dict(point)
        else:
            describe = {"parameters": {k: v for k, v in point.items() if k != "scenario"}}
        points.append(jsonable(point))
        describes.append(jsonable(describe))
    if not points:
        raise BatchConfigError("the design is empty: give at least one design point")
    return points, describes


def check_point_ids(point_ids: Sequence[int] | None, n: int) -> list[int]:
    """The seed index of each design point (default ``0..n-1``): distinct, non-negative."""
    ids = list(range(n)) if point_ids is None else [int(i) for i in point_ids]
    if len(ids) != n or len(set(ids)) != len(ids) or min(ids) < 0:
        raise BatchConfigError("point_ids must give one distinct, non-negative id per design point")
    return ids


def check_seed_keys(seed_keys: Sequence[int] | None, n: int) -> list[int] | None:
    """The seed key of each design point (None: its point id); non-negative whole numbers, repeats allowed."""
    if seed_keys is None:
        return None
    if isinstance(seed_keys, (str, bytes, dict)) or not isinstance(seed_keys, Iterable):
        raise BatchConfigError("seed_keys must give one non-negative whole number per design point")
    keys = list(seed_keys)
    if len(keys) != n or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0 for k in keys):
        raise BatchConfigError("seed_keys must give one non-negative whole number per design point "
                               f"({n} points, {len(keys)} keys)")
    return [int(k) for k in keys]


def parameter_names(points: list[dict]) -> list[str]:
    """The parameters of the design, in first-seen order; refused if one clashes with a result column."""
    names: list[str] = []
    for p in points:
        for k in p:
            if k != "scenario" and k not in names:
                names.append(k)
    clash = [k for k in names if k in RESERVED]
    if clash:
        raise BatchConfigError(f"parameter name(s) {', '.join(clash)} clash with result columns; rename them")
    return names


def design_runs(points: list[dict], ids: list[int], replicates: int, root_seed: int,
                seed_keys: list[int] | None = None, *, common: bool = False) -> list[Run]:
    """Every run of the design, in design order: seeds from ``seed_keys`` when given, else the point
    ids; ``common``: replicate r has the same seed at every point (common random numbers)."""
    keys = ids if seed_keys is None else seed_keys
    return [
        Run(make_run_id(pid, r), pid, r, run_seed(root_seed, key, r, common=common), point["scenario"],
            {k: v for k, v in point.items() if k != "scenario"})
        for pid, key, point in zip(ids, keys, points)
        for r in range(replicates)
    ]
