"""Robust policy search: many-objective optimisation of levers over an ensemble (MORDM).

A *candidate* policy sets every lever (:class:`Lever`: a float or integer range, numeric
levels, or categories). Every candidate is evaluated over the same *ensemble* of
uncertain conditions (:class:`EnsembleMember`: a parameter dict and a seed): common
random numbers, so two candidates differ only by their levers. *Objectives*
(:class:`Objective`) aggregate a measure over the ensemble (``mean``, ``median``,
``min``, ``max`` or a percentile ``pNN``, numpy's linear interpolation) and are
minimised or maximised; *constraints* (:class:`Constraint`) bound such an aggregate
(``<=`` or ``>=``). An objective or constraint named after a numeric lever reads that
lever's value instead of a measure (the same for every member), e.g. the size of a pool
as the cost of a policy.

Optuna drives the candidates in ask/tell form: NSGA-II by default (``sampler="tpe"``
for Optuna's multi-objective TPE), constraints through ``Trial.set_constraint``
(constrained domination). One *batch* of candidates (for NSGA-II, one generation:
``batch_size`` is the population size) is asked, then evaluated by one call of the
caller's function::

    evaluate(candidates: list[dict], ensemble: tuple[EnsembleMember, ...]) -> pandas.DataFrame

which returns one row per candidate and member: columns ``candidate`` (the position in
``candidates``), ``member`` (``EnsembleMember.id``) and one column per measure. This is
where the batch engine plugs in (candidate x member runs on processes or Dask).

**Determinism and resume.** The sampler is rebuilt before each batch with a seed drawn
from ``(seed, batch number)``, and everything else Optuna needs lives in its storage, so
a batch's candidates depend only on the seed and the batches told before it. With
``folder=`` the study is an Optuna RDB storage in ``folder/search.sqlite3``: a search
that was interrupted continues where it stopped when called again with the same
settings (a larger ``budget`` extends it). Candidates already told are never evaluated
again; a batch that was asked but not (fully) told is evaluated for its untold
candidates (the same ones an uninterrupted search would have evaluated); a batch whose
asking was cut short is asked again from its seed. So an interrupted-and-resumed search
ends with the same candidates and Pareto set as an uninterrupted one. One process at a
time per folder.

The result (:class:`SearchResult`) holds every evaluated candidate, the feasible Pareto
set (non-dominated among the candidates that meet every constraint), and the cheapest
feasible policy given a cost objective.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DiscoveryError, require_extra

__all__ = [
    "STATE_FILE",
    "Constraint",
    "EnsembleMember",
    "Lever",
    "Objective",
    "SearchResult",
    "aggregate",
    "make_ensemble",
    "pareto_mask",
    "search",
]

STATE_FILE = "search.sqlite3"
STUDY_NAME = "commissim-search"
_AGG_RE = re.compile(r"^p(\d+(?:\.\d+)?)$")
_DIRECTIONS = {"min": "minimize", "minimize": "minimize", "minimise": "minimize",
               "max": "maximize", "maximize": "maximize", "maximise": "maximize"}
_CATEGORY_TYPES = (str, int, float, bool, type(None))


def _num(v: float) -> str:
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _finite(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


# --------------------------------------------------------------------------- specification


@dataclass(frozen=True)
class Lever:
    """A policy lever. Give exactly one of: ``low`` and ``high`` (a float range, or an
    integer range with ``integer=True``; ``log=True`` samples on a log scale), ``levels``
    (numeric values to choose from), or ``categories`` (str/int/float/bool values)."""

    name: str
    low: float | None = None
    high: float | None = None
    integer: bool = False
    levels: tuple | None = None
    categories: tuple | None = None
    log: bool = False
    unit: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise DiscoveryError(f"a lever needs a name (got {self.name!r})")
        for attr in ("levels", "categories"):
            v = getattr(self, attr)
            if v is not None and not isinstance(v, tuple):
                if isinstance(v, (set, frozenset)):  # a stable order for seeds and saved state
                    v = sorted(v, key=repr)
                if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
                    raise DiscoveryError(f"lever {self.name!r}: {attr} must be a list of values")
                object.__setattr__(self, attr, tuple(v))
        given = [k for k, v in (("bounds", self.low is not None or self.high is not None),
                                ("levels", self.levels is not None),
                                ("categories", self.categories is not None)) if v]
        if len(given) != 1:
            raise DiscoveryError(
                f"lever {self.name!r}: give exactly one of low/high, levels or categories (got {', '.join(given) or 'none'})"
            )
        if given[0] == "bounds":
            if self.low is None or self.high is None:
                raise DiscoveryError(f"lever {self.name!r}: give both low and high")
            if not (_finite(self.low) and _finite(self.high)):
                raise DiscoveryError(f"lever {self.name!r}: bounds must be finite numbers (got {self.low!r}, {self.high!r})")
            if not self.low < self.high:
                raise DiscoveryError(f"lever {self.name!r}: low ({self.low}) must be below high ({self.high})")
            if self.integer and not (float(self.low).is_integer() and float(self.high).is_integer()):
                raise DiscoveryError(f"lever {self.name!r}: an integer lever needs integer bounds (got {self.low}, {self.high})")
            if self.log and self.low <= 0:
                raise DiscoveryError(f"lever {self.name!r}: a log-scale lever needs low > 0 (got {self.low})")
        else:
            values = self.levels if given[0] == "levels" else self.categories
            if len(values) < 2:
                raise DiscoveryError(f"lever {self.name!r}: {given[0]} need at least two values (got {list(values)})")
            if len(set(map(repr, values))) != len(values):
                raise DiscoveryError(f"lever {self.name!r}: {given[0]} repeat a value ({list(values)})")
            if given[0] == "levels" and not all(_finite(v) for v in values):
                raise DiscoveryError(f"lever {self.name!r}: levels must be finite numbers (got {list(values)})")
            if given[0] == "categories" and not all(isinstance(v, _CATEGORY_TYPES) for v in values):
                raise DiscoveryError(f"lever {self.name!r}: categories must be str, int, float, bool or None")
            if self.integer or self.log:
                raise DiscoveryError(f"lever {self.name!r}: integer/log apply to low/high ranges only")

    @property
    def kind(self) -> str:
        if self.levels is not None:
            return "levels"
        if self.categories is not None:
            return "categorical"
        return "int" if self.integer else "float"

    def distribution(self):
        dist = require_extra("optuna.distributions", "policy search")
        if self.kind == "float":
            return dist.FloatDistribution(float(self.low), float(self.high), log=self.log)
        if self.kind == "int":
            return dist.IntDistribution(int(self.low), int(self.high), log=self.log)
        return dist.CategoricalDistribution(self.levels if self.levels is not None else self.categories)


def _parse_aggregate(how: str) -> str:
    if how in ("mean", "median", "min", "max"):
        return how
    m = _AGG_RE.match(str(how))
    if m and 0 < float(m.group(1)) < 100:
        return how
    raise DiscoveryError(f"aggregate {how!r} is not one of mean, median, min, max or a percentile p1-p99 (e.g. p90)")


def aggregate(values, how: str) -> float:
    """Aggregate one measure's values over the ensemble: mean, median, min, max or pNN."""
    how = _parse_aggregate(how)
    v = np.asarray(values, dtype=float)
    if how == "mean":
        return float(v.mean())
    if how == "median":
        return float(np.median(v))
    if how == "min":
        return float(v.min())
    if how == "max":
        return float(v.max())
    return float(np.percentile(v, float(how[1:])))


@dataclass(frozen=True)
class Objective:
    """Minimise or maximise the ``aggregate`` over the ensemble of measure ``name``."""

    name: str
    direction: str = "minimize"
    aggregate: str = "mean"
    unit: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise DiscoveryError(f"an objective needs a measure name (got {self.name!r})")
        d = _DIRECTIONS.get(str(self.direction).lower())
        if d is None:
            raise DiscoveryError(f"objective {self.name!r}: direction {self.direction!r} is not minimize or maximize")
        object.__setattr__(self, "direction", d)
        object.__setattr__(self, "aggregate", _parse_aggregate(self.aggregate))

    @property
    def key(self) -> str:
        """Column name of this objective in the result tables, e.g. ``p90_providers_destabilised``."""
        return f"{self.aggregate}_{self.name}"

    @property
    def label(self) -> str:
        return f"{self.aggregate} of {self.name}"


@dataclass(frozen=True)
class Constraint:
    """A bound on the ``aggregate`` over the ensemble of measure ``name``: ``op`` is ``<=`` or ``>=``."""

    name: str
    op: str
    value: float
    aggregate: str = "mean"
    unit: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise DiscoveryError(f"a constraint needs a measure name (got {self.name!r})")
        if self.op not in ("<=", ">="):
            raise DiscoveryError(f"constraint on {self.name!r}: op {self.op!r} is not <= or >=")
        if not _finite(self.value):
            raise DiscoveryError(f"constraint on {self.name!r}: value {self.value!r} is not a finite number")
        object.__setattr__(self, "aggregate", _parse_aggregate(self.aggregate))

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """``"p90(providers_destabilised) <= 1"`` or ``"cost <= 5"`` (aggregate mean)."""
        m = re.fullmatch(r"\s*(?:(\w+)\(\s*([\w.]+)\s*\)|([\w.]+))\s*(<=|>=)\s*(\S+)\s*", str(text))
        if not m:
            raise DiscoveryError(f"constraint {text!r} is not of the form 'p90(measure) <= value'")
        agg, name, bare, op, value = m.groups()
        try:
            v = float(value)
        except ValueError:
            raise DiscoveryError(f"constraint {text!r}: {value!r} is not a number") from None
        return cls(name or bare, op, v, aggregate=agg or "mean")

    @property
    def key(self) -> str:
        return f"{self.aggregate}_{self.name}"

    def violation(self, value: float) -> float:
        """How far ``value`` breaks the bound (<= 0 means it holds)."""
        return value - self.value if self.op == "<=" else self.value - value

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.aggregate}({self.name}) {self.op} {_num(self.value)}{unit}"


@dataclass(frozen=True)
class EnsembleMember:
    """One uncertain condition: parameters and the seed every candidate is run with."""

    id: int
    params: Mapping[str, Any]
    seed: int


def make_ensemble(conditions: Sequence[Mapping[str, Any]], seed: int = 0) -> tuple[EnsembleMember, ...]:
    """Members 0..n-1 from parameter dicts, each with its own seed spawned from ``seed``
    (``numpy.random.SeedSequence``), the same for every candidate."""
    if isinstance(conditions, Mapping) or not isinstance(conditions, Sequence):
        raise DiscoveryError("the ensemble must be a list of parameter dicts")
    if len(conditions) == 0:
        raise DiscoveryError("the ensemble is empty: give at least one set of uncertain conditions")
    if all(isinstance(c, EnsembleMember) for c in conditions):
        ids = [c.id for c in conditions]
        if len(set(ids)) != len(ids):
            raise DiscoveryError("ensemble member ids repeat")
        return tuple(conditions)
    if not all(isinstance(c, Mapping) for c in conditions):
        raise DiscoveryError("the ensemble must be a list of parameter dicts (or of EnsembleMember)")
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(len(conditions))]
    return tuple(EnsembleMember(i, dict(c), s) for i, (c, s) in enumerate(zip(conditions, seeds)))


def _unknown(kind: str, names: Sequence[str], allowed: Collection[str], what: str) -> None:
    allowed = set(allowed)
    bad = [n for n in names if n not in allowed]
    if bad:
        hint = difflib.get_close_matches(bad[0], sorted(allowed), n=1)
        more = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise DiscoveryError(f"{kind} {', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} not {what}{more}")


# --------------------------------------------------------------------------- result


def pareto_mask(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Rows of ``values`` (n x objectives) that no other row dominates."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return np.zeros(len(v), dtype=bool)
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in directions])
    m = v * sign
    keep = np.ones(len(m), dtype=bool)
    for i in range(len(m)):
        dominated = np.all(m <= m[i], axis=1) & np.any(m < m[i], axis=1)
        keep[i] = not dominated.any()
    return keep


@dataclass(frozen=True)
class SearchResult:
    """Every evaluated candidate, the feasible Pareto set and the cheapest feasible policy.

    ``candidates`` has columns ``candidate`` (batch x batch_size + slot: the same numbers
    in a resumed search), ``batch``, one per lever, one per objective and constraint key,
    ``feasible``, ``duplicate`` (same levers as an earlier candidate, whose outcomes it
    was told without a new run) and ``pareto``; ``pareto`` is its feasible non-dominated
    rows, one per distinct policy."""

    candidates: pd.DataFrame
    pareto: pd.DataFrame
    cheapest: pd.Series | None
    levers: tuple[Lever, ...]
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    cost: str | None  # key of the cost objective
    n_members: int
    n_evaluated: int  # candidates evaluated by this call
    n_resumed: int  # candidates read back from the saved state
    n_duplicates: int = 0  # candidates of this call identical to an earlier one: told its outcomes, not run
    settings: Mapping[str, Any] = field(default_factory=dict)
    state_path: Path | None = None

    @property
    def finding(self) -> str:
        """One sentence on the cheapest feasible policy."""
        n = len(self.candidates)
        cons = "; ".join(str(c) for c in self.constraints)
        members = (f"{self.n_members} ensemble members" if self.n_members != 1
                   else "1 ensemble member (a single future: a percentile is that future's value, not a spread)")
        target = f" that meets {cons} across {members}" if cons else ""
        if self.cost is None:
            return f"{len(self.pareto)} of {n} evaluated policies form the Pareto set{target}."
        if self.cheapest is None:
            return f"No evaluated policy (of {n}) meets {cons} across {members}."
        row = self.cheapest
        levers = ", ".join(f"{lv.name} = {_fmt_value(row[lv.name], lv.unit)}" for lv in self.levers)
        names = {lv.name for lv in self.levers}
        objs = ", ".join(f"{o.label} {_fmt_value(row[o.key], o.unit)}" for o in self.objectives if o.name not in names)
        objs = objs or "the levers are the objectives"
        return (
            f"The cheapest policy{target} is {levers} ({objs}); "
            f"{len(self.pareto)} of {n} evaluated policies form the feasible Pareto set."
        )


def _fmt_value(v, unit: str = "") -> str:
    s = _num(v) if _finite(v) else str(v)
    return f"{s} {unit}" if unit else s


# --------------------------------------------------------------------------- the search


def _settings_fingerprint(levers, objectives, constraints, ensemble, sampler, seed, batch_size) -> dict:
    ens = json.dumps([[m.id, m.seed, m.params] for m in ensemble], sort_keys=True, default=str)
    return {
        "levers": [asdict(lv) for lv in levers],
        "objectives": [asdict(o) for o in objectives],
        "constraints": [asdict(c) for c in constraints],
        "ensemble": {"members": len(ensemble), "sha256": hashlib.sha256(ens.encode()).hexdigest()},
        "sampler": sampler,
        "seed": seed,
        "batch_size": batch_size,
    }


def _check_starts(starts, levers) -> tuple[dict, ...]:
    """Starting policies: dicts of lever values inside each lever's range, levels or categories."""
    if isinstance(starts, Mapping) or not isinstance(starts, Sequence):
        raise DiscoveryError("starts must be a list of policies (dicts of lever values)")
    by_name = {lv.name: lv for lv in levers}
    out = []
    for i, st in enumerate(starts):
        if not isinstance(st, Mapping) or not st:
            raise DiscoveryError(f"start {i}: expected a dict of lever values, got {st!r}")
        unknown = [k for k in st if k not in by_name]
        if unknown:
            raise DiscoveryError(f"start {i}: {', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} "
                                 f"not a lever ({', '.join(by_name)})")
        for k, v in st.items():
            lv = by_name[k]
            if lv.kind in ("float", "int"):
                ok = _finite(v) and lv.low <= v <= lv.high and (lv.kind == "float" or float(v).is_integer())
                allowed = f"{'a whole number' if lv.kind == 'int' else 'a number'} from {_num(lv.low)} to {_num(lv.high)}"
            else:
                choices = lv.levels if lv.levels is not None else lv.categories
                ok = any(repr(v) == repr(c) or (_finite(v) and _finite(c) and float(v) == float(c)) for c in choices)
                allowed = f"one of {', '.join(map(str, choices))}"
            if not ok:
                raise DiscoveryError(f"start {i}: lever {k!r} value {v!r} is not allowed; expected {allowed}")
        out.append({k: _start_value(by_name[k], v) for k, v in st.items()})
    return tuple(out)


def _start_value(lever: Lever, v):
    """A checked start value in the lever's own type (a level or category as the lever lists it)."""
    if lever.kind == "int":
        return int(v)
    if lever.kind == "float":
        return float(v)
    choices = lever.levels if lever.levels is not None else lever.categories
    return next(c for c in choices if repr(v) == repr(c) or (_finite(v) and _finite(c) and float(v) == float(c)))


def _params_key(params: Mapping[str, Any]) -> str:
    return json.dumps({k: params[k] for k in sorted(params)}, default=repr)


def _batch_seed(seed: int, batch: int) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(batch)]).generate_state(1)[0])


def _make_sampler(optuna, kind: str, seed: int, batch_size: int):
    if kind == "nsga2":

        class _TrialOrderNSGAII(optuna.samplers.NSGAIISampler):
            """NSGA-II whose parent population is always in trial order. Optuna 5.0 returns it
            in selection order when it first computes it and in trial order when it reads it
            back from the study's cache; the children a seed breeds depend on that order, so
            a batch asked again after an interruption would otherwise differ."""

            def get_parent_population(self, study, generation):
                return sorted(super().get_parent_population(study, generation), key=lambda t: t.number)

        return _TrialOrderNSGAII(population_size=batch_size, seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True)


def _check_table(table, n_candidates: int, member_ids: list[int], measures: list[str]) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise DiscoveryError(f"evaluate() must return a pandas DataFrame (got {type(table).__name__})")
    missing = [c for c in ("candidate", "member") if c not in table.columns]
    if missing:
        raise DiscoveryError(f"evaluate() returned no {' or '.join(missing)} column (columns: {', '.join(map(str, table.columns))})")
    absent = [m for m in measures if m not in table.columns]
    if absent:
        raise DiscoveryError(
            f"evaluate() returned no column for measure(s) {', '.join(absent)} (columns: {', '.join(map(str, table.columns))})"
        )
    pairs = pd.MultiIndex.from_frame(table[["candidate", "member"]].astype(int))
    if pairs.has_duplicates:
        raise DiscoveryError("evaluate() returned the same (candidate, member) pair more than once")
    expected = pd.MultiIndex.from_product([range(n_candidates), member_ids], names=["candidate", "member"])
    if len(pairs) != len(expected) or not pairs.isin(expected).all():
        lacking = expected.difference(pairs)
        example = f", e.g. candidate {lacking[0][0]} member {lacking[0][1]}" if len(lacking) else ""
        raise DiscoveryError(
            f"evaluate() must return one row per candidate and ensemble member "
            f"({n_candidates} x {len(member_ids)} = {len(expected)} rows; got {len(table)}{example})"
        )
    out = table[["candidate", "member", *measures]].copy()
    out["candidate"] = out["candidate"].astype(int)
    out["member"] = out["member"].astype(int)
    for m in measures:
        vals = pd.to_numeric(out[m], errors="coerce")
        bad = ~np.isfinite(vals.to_numpy(dtype=float))
        if bad.any():
            r = out.loc[bad].iloc[0]
            raise DiscoveryError(
                f"evaluate() returned a missing or non-finite {m} (candidate {int(r['candidate'])}, member {int(r['member'])}); "
                "a failed run cannot be scored"
            )
        out[m] = vals.astype(float)
    return out


def search(
    levers: Sequence[Lever],
    ensemble: Sequence[Mapping[str, Any]] | Sequence[EnsembleMember],
    objectives: Sequence[Objective],
    evaluate: Callable[[list[dict], tuple[EnsembleMember, ...]], pd.DataFrame],
    *,
    constraints: Sequence[Constraint] = (),
    cost: str | None = None,
    budget: int = 200,
    batch_size: int = 20,
    sampler: str = "nsga2",
    seed: int = 0,
    folder: str | Path | None = None,
    allowed_levers: Collection[str] | None = None,
    allowed_measures: Collection[str] | None = None,
    starts: Sequence[Mapping[str, Any]] = (),
    log: Callable[[str], None] | None = None,
) -> SearchResult:
    """Search the levers for policies that do well on the objectives across the ensemble.

    ``ensemble``: parameter dicts (seeds are spawned from ``seed``) or
    :class:`EnsembleMember` objects with their own seeds. ``cost``: the key or measure
    name of the (minimised) objective that defines "the cheapest feasible policy"
    (default: an objective named ``cost``, if any). ``budget``: candidates to evaluate in
    all, rounded up to whole batches of ``batch_size`` (the NSGA-II population).
    ``sampler``: ``"nsga2"`` or ``"tpe"``. ``folder``: where the search state
    (``search.sqlite3``) is kept, so that the search resumes; ``None`` keeps it in
    memory. ``allowed_levers`` / ``allowed_measures``: the parameter and measure names
    the model knows, for one-line errors on a misspelt lever or objective. ``starts``:
    policies (lever values; levers left out are sampled) evaluated first, in the first
    batch(es), e.g. the policy in force and a "do nothing" corner, so the Pareto set is
    compared with them and can hold them. ``log`` receives one line per batch.
    """
    levers = tuple(levers)
    objectives = tuple(objectives)
    constraints = tuple(constraints)
    if not levers:
        raise DiscoveryError("no levers to search")
    if not all(isinstance(lv, Lever) for lv in levers):
        raise DiscoveryError("levers must be Lever objects")
    if not objectives:
        raise DiscoveryError("no objectives to search for")
    if not all(isinstance(o, Objective) for o in objectives):
        raise DiscoveryError("objectives must be Objective objects")
    if not all(isinstance(c, Constraint) for c in constraints):
        raise DiscoveryError("constraints must be Constraint objects")
    names = [lv.name for lv in levers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DiscoveryError(f"lever(s) given twice: {', '.join(dup)}")
    keys = [o.key for o in objectives]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise DiscoveryError(f"objective(s) given twice: {', '.join(dup)}")
    if allowed_levers is not None:
        _unknown("lever", names, allowed_levers, "a model parameter")
    by_lever = {lv.name: lv for lv in levers}
    targets = list(dict.fromkeys([o.name for o in objectives] + [c.name for c in constraints]))
    # An objective or constraint named after a lever reads the lever's value (e.g. a cost that is
    # the size of a pool); every other one names a measure in evaluate()'s table.
    on_levers = [n for n in targets if n in by_lever]
    measures = [n for n in targets if n not in by_lever]
    for n in on_levers:
        if by_lever[n].kind == "categorical":
            raise DiscoveryError(f"lever {n!r} is categorical: it has no value an objective or constraint can use")
    if allowed_measures is not None:
        _unknown("objective", [o.name for o in objectives if o.name not in by_lever], allowed_measures,
                 "a measure")
        _unknown("constraint on", [c.name for c in constraints if c.name not in by_lever], allowed_measures,
                 "a measure")
    reserved = {"candidate", "member"} & set(measures)
    if reserved:
        raise DiscoveryError(f"{', '.join(sorted(reserved))} cannot be a measure name (it names a column of the outcome table)")
    members = make_ensemble(ensemble, seed)
    for m in members:
        both = sorted(set(names) & set(m.params))
        if both:
            raise DiscoveryError(
                f"lever {both[0]!r} is also set by ensemble member {m.id}: a parameter is either a lever or an uncertainty"
            )
    if sampler not in ("nsga2", "tpe"):
        raise DiscoveryError(f"sampler {sampler!r} is not nsga2 or tpe")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise DiscoveryError(f"batch_size must be an integer of at least 2 (got {batch_size!r})")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise DiscoveryError(f"budget must be a positive integer (got {budget!r})")
    if cost is None:
        cost_obj = next((o for o in objectives if o.name == "cost"), None)
    else:
        matches = [o for o in objectives if cost in (o.key, o.name)]
        if len(matches) != 1:
            raise DiscoveryError(
                f"cost {cost!r} {'matches several' if matches else 'is not one of the'} objectives ({', '.join(keys)})"
            )
        cost_obj = matches[0]
    if cost_obj is not None and cost_obj.direction != "minimize":
        raise DiscoveryError(f"the cost objective {cost_obj.key!r} must be minimised")

    starts = _check_starts(starts, levers)
    optuna = require_extra("optuna", "policy search")
    distributions = {lv.name: lv.distribution() for lv in levers}
    fingerprint = _settings_fingerprint(levers, objectives, constraints, members, sampler, seed, batch_size)
    if starts:  # only when given: the fingerprint of a search without starts is unchanged
        fingerprint["starts"] = [dict(st) for st in starts]
    n_batches = math.ceil(budget / batch_size)
    member_ids = [m.id for m in members]
    say = log or (lambda _msg: None)

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        state_path = None
        if folder is not None:
            folder = Path(folder)
            folder.mkdir(parents=True, exist_ok=True)
            state_path = folder / STATE_FILE
            storage = optuna.storages.RDBStorage(f"sqlite:///{state_path}")
        else:
            storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(
            storage=storage,
            study_name=STUDY_NAME,
            directions=[o.direction for o in objectives],
            load_if_exists=True,
        )
        saved = study.user_attrs.get("settings")
        if saved is None:
            study.set_user_attr("settings", json.loads(json.dumps(fingerprint, default=str)))
        elif saved != json.loads(json.dumps(fingerprint, default=str)):
            differ = [k for k in fingerprint if saved.get(k) != json.loads(json.dumps(fingerprint[k], default=str))]
            raise DiscoveryError(
                f"{state_path} holds a search with other settings ({', '.join(differ)} differ): use a new folder"
            )

        def finished(trials) -> list:
            return [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]

        if starts and not study.get_trials(deepcopy=False):  # a new study: the starting policies go first
            for st in starts:
                study.enqueue_trial(dict(st))
        n_resumed = len(finished(study.get_trials(deepcopy=False)))
        n_evaluated = 0
        n_duplicates = 0

        known: dict[str, dict] = {
            _params_key(t.params): t.user_attrs["outcomes"] for t in finished(study.get_trials(deepcopy=False))
        }

        def run(pending: list, batch: int) -> None:
            """Evaluate the pending trials of one batch (Trial objects) and tell them.

            A candidate whose levers equal those of a candidate already evaluated (NSGA-II
            can breed the same child twice) is told that candidate's outcomes, not run again."""
            nonlocal n_evaluated, n_duplicates
            keys = [_params_key(t.params) for t in pending]
            fresh = list(dict.fromkeys(k for k in keys if k not in known))
            n_new = len(fresh)
            if fresh:
                cands = [dict(next(t.params for t, k2 in zip(pending, keys) if k2 == k)) for k in fresh]
                table = _check_table(evaluate([dict(c) for c in cands], members), len(cands), member_ids, measures)
                for name in on_levers:  # the lever's value, the same for every member
                    table[name] = table["candidate"].map(lambda i, name=name: float(cands[i][name]))
                n_evaluated += len(cands)
                for i, k in enumerate(fresh):
                    rows = table[table["candidate"] == i].sort_values("member")
                    outcomes = {o.key: aggregate(rows[o.name], o.aggregate) for o in objectives}
                    outcomes.update({c.key: aggregate(rows[c.name], c.aggregate) for c in constraints})
                    known[k] = outcomes
            for trial, k in zip(pending, keys):
                outcomes = known[k]
                duplicate = k not in fresh
                n_duplicates += duplicate
                fresh = [f for f in fresh if f != k]  # later twins in this batch are duplicates
                trial.set_user_attr("outcomes", outcomes)
                with warnings.catch_warnings():
                    # A trial stopped between set_constraint and tell keeps its first value
                    # (Optuna warns); the result tables use the outcomes set just above.
                    warnings.filterwarnings("ignore", message="The constraint value is ignored")
                    for j, c in enumerate(constraints):
                        trial.set_constraint(f"{j}:{c}", c.violation(outcomes[c.key]))
                study.tell(trial, [outcomes[o.key] for o in objectives])
            say(f"batch {batch + 1}/{n_batches}: {n_new} of {len(pending)} candidates run on {len(members)} members")

        while True:
            trials = [t for t in study.get_trials(deepcopy=False) if t.state != optuna.trial.TrialState.FAIL]
            by_batch: dict[int, list] = {}
            for t in trials:
                if "batch" in t.user_attrs and "slot" in t.user_attrs:
                    by_batch.setdefault(int(t.user_attrs["batch"]), []).append(t)
                elif t.state == optuna.trial.TrialState.RUNNING:  # stopped between ask() and its labels
                    study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            if by_batch:
                last = max(by_batch)
                in_last = by_batch[last]
                running = [t for t in in_last if t.state == optuna.trial.TrialState.RUNNING]
                if running and len(in_last) == batch_size:
                    # Asked in full, not (all) told: evaluate the untold candidates.
                    pending = [optuna.trial.Trial(study, t._trial_id) for t in sorted(running, key=lambda t: t.user_attrs["slot"])]
                    run(pending, last)
                    continue
                if running:
                    # Asking was cut short: nothing of this batch was told; ask it again.
                    for t in running:
                        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
                    next_batch = last
                else:
                    next_batch = last + 1
            else:
                next_batch = 0
            if next_batch >= n_batches:
                break
            study.sampler = _make_sampler(optuna, sampler, _batch_seed(seed, next_batch), batch_size)
            pending = []
            for slot in range(batch_size):
                trial = study.ask(distributions)
                trial.set_user_attr("slot", slot)
                trial.set_user_attr("batch", next_batch)
                pending.append(trial)
            run(pending, next_batch)

        result = _collect(study, optuna, levers, objectives, constraints, cost_obj, batch_size)
    finally:
        optuna.logging.set_verbosity(verbosity)

    candidates, pareto, cheapest = result
    return SearchResult(
        candidates=candidates,
        pareto=pareto,
        cheapest=cheapest,
        levers=levers,
        objectives=objectives,
        constraints=constraints,
        cost=cost_obj.key if cost_obj is not None else None,
        n_members=len(members),
        n_evaluated=n_evaluated,
        n_resumed=n_resumed,
        n_duplicates=n_duplicates,
        settings={
            "library": f"optuna {optuna.__version__}",
            "sampler": {"nsga2": "NSGA-II", "tpe": "multi-objective TPE"}[sampler],
            "seed": seed,
            "batch_size": batch_size,
            "batches": n_batches,
            "budget": n_batches * batch_size,
            "percentiles": "numpy linear interpolation",
        },
        state_path=state_path,
    )


def _collect(study, optuna, levers, objectives, constraints, cost_obj, batch_size):
    rows = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        batch, slot = int(t.user_attrs["batch"]), int(t.user_attrs["slot"])
        row = {"candidate": batch * batch_size + slot, "batch": batch}
        row.update({lv.name: t.params[lv.name] for lv in levers})
        row.update(t.user_attrs["outcomes"])
        row["feasible"] = all(c.violation(row[c.key]) <= 0 for c in constraints)
        rows.append(row)
    cols = (["candidate", "batch"] + [lv.name for lv in levers]
            + list(dict.fromkeys([o.key for o in objectives] + [c.key for c in constraints])) + ["feasible"])
    df = pd.DataFrame(rows, columns=cols).sort_values("candidate").reset_index(drop=True)
    # A candidate whose levers repeat an earlier candidate's was not run again; it stays
    # in the table of candidates but not in the Pareto set (one row per distinct policy).
    df["duplicate"] = df[[lv.name for lv in levers]].astype(str).duplicated(keep="first")
    df["pareto"] = False
    feas = df.index[df["feasible"] & ~df["duplicate"]]
    if len(feas):
        mask = pareto_mask(df.loc[feas, [o.key for o in objectives]].to_numpy(), [o.direction for o in objectives])
        df.loc[feas[mask], "pareto"] = True
    pareto = df[df["pareto"]].reset_index(drop=True)
    cheapest = None
    if cost_obj is not None and len(pareto):
        others = [o for o in objectives if o is not cost_obj]
        sort = pareto.assign(**{f"_s{i}": pareto[o.key] * (1 if o.direction == "minimize" else -1) for i, o in enumerate(others)})
        sort = sort.sort_values([cost_obj.key] + [f"_s{i}" for i in range(len(others))] + ["candidate"], kind="stable")
        cheapest = pareto.loc[sort.index[0]]
    return df, pareto, cheapest
