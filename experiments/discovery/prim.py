"""Scenario discovery: PRIM (EMA Workbench) with a CART cross-check (scikit-learn).

Given the uncertain inputs of a sample of runs (``X``, one row a run) and which runs are
*cases of interest* (a boolean ``y``, or a numeric outcome with a threshold and a
direction), :func:`find_box` runs the EMA Workbench's PRIM (Friedman & Fisher's Patient
Rule Induction Method, in the scenario-discovery form of Bryant & Lempert 2010) and
returns a plain :class:`PrimResult`: the peeling trajectory, the chosen box, its limits
with quasi-p-values, its coverage, density and mass, and one sentence an analyst can
quote. :func:`cart_check` fits a shallow CART tree (scikit-learn) on the same data as a
cross-check, and :func:`discover` does both.

Definitions (all on the sample of runs given, not on the world):

- *coverage*: the share of all cases of interest that fall inside the box;
- *density*: the share of the runs inside the box that are cases of interest;
- *mass*: the share of all runs that fall inside the box;
- *quasi-p-value* of a limit: a one-sided binomial test of whether dropping that one
  limit would lower the density as much as observed (Bryant & Lempert 2010); small
  means the limit matters, above 0.05 means it may describe noise.

Box limits are the smallest and largest sample values inside the box (inclusive), as
the EMA Workbench reports them, so the box's coverage and density are exact for the
sample; a limit's true threshold lies between that value and the nearest run outside.

The **knee rule** (the default choice of box, see :func:`knee_index`): draw the chord
from the first box of the trajectory (the whole sample: coverage 1, density the base
rate) to the box of highest density (ties: the higher coverage). The knee is the box
farthest above that chord, distances measured in coverage and density units as they
are (both shares on 0-1, so one point of coverage weighs as much as one point of
density). Ties go to fewer restricted dimensions, then higher coverage, then the
earlier box. If no box lies above the chord (a straight or sagging trade-off, no knee)
the rule takes the box with the highest harmonic mean of coverage and density, with
the same tie-breaks.

Input checks (one-line :class:`~experiments.discovery.errors.DiscoveryError`): NaN or
infinite values in ``X`` or ``y``; a numeric ``y`` without a threshold (or a boolean one
with a threshold); a threshold outside the outcome's observed range; a constant
outcome (no case of interest, or every run one); fewer than ``MIN_CASES`` (20) cases of
interest or fewer than ``MIN_OTHERS`` (20) other runs; no input that varies. An input
column that is constant is **dropped with a DiscoveryWarning** (a sweep often holds a
parameter fixed; it cannot restrict a box) and listed in ``dropped_inputs``.

Column types: float columns are continuous; integer columns are peeled as numbers and
their limits rounded inward to whole numbers (``x >= 4.5`` is ``x >= 5``; the EMA
Workbench's own integer paste fails under pandas 3); bool, string, object and pandas
categorical columns categorical (PRIM removes one category at a time). Other column
types are refused.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .errors import DiscoveryError, DiscoveryWarning, require_extra

__all__ = [
    "MIN_CASES",
    "MIN_OTHERS",
    "BoxLimit",
    "CartCondition",
    "CartResult",
    "CartRule",
    "DiscoveryResult",
    "PrimResult",
    "cart_check",
    "cases_of_interest",
    "discover",
    "find_box",
    "in_box",
    "knee_index",
]

MIN_CASES = 20
"""Fewest cases of interest PRIM is run on: below this a box rests on a handful of
runs and its quasi-p-values mean little."""
MIN_OTHERS = 20
"""Fewest runs that are *not* cases of interest: PRIM needs something to peel away."""

_DIRECTIONS = {
    "above": ">", ">": ">",
    "below": "<", "<": "<",
    "at_least": ">=", ">=": ">=",
    "at_most": "<=", "<=": "<=",
}
_DIRECTION_WORDS = {">": "is above", "<": "is below", ">=": "is at least", "<=": "is at most"}


# --------------------------------------------------------------------------- formatting


def _num(v: float) -> str:
    """A number for prose: integers as such, else 3 significant digits."""
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}" if abs(v) >= 10_000 else str(int(v))
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _pct(share: float) -> str:
    """A share as a percentage; never rounds a share below 1 up to 100% (or above 0 to 0%)."""
    p = 100.0 * float(share)
    r = round(p)
    if (r == 100 and p < 100) or (r == 0 and p > 0):
        return f"{p:.1f}%"
    return f"{r}%"


def _join_or(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _with_unit(value: str, unit: str) -> str:
    return f"{value} {unit}" if unit else value


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BoxLimit:
    """The limit of a PRIM box on one input.

    Numeric inputs: ``lower``/``upper`` are the box's inclusive limits, ``None`` on a side
    the box does not restrict; ``qp_lower``/``qp_upper`` their quasi-p-values.
    Categorical inputs: ``categories`` are the categories kept, ``qp_categories`` the
    restriction's quasi-p-value.
    """

    name: str
    kind: str  # "float", "int" or "categorical"
    lower: float | None = None
    upper: float | None = None
    categories: tuple | None = None
    qp_lower: float | None = None
    qp_upper: float | None = None
    qp_categories: float | None = None
    unit: str = ""

    @property
    def quasi_p(self) -> float:
        """The largest (weakest) quasi-p-value of this input's limits."""
        qps = [q for q in (self.qp_lower, self.qp_upper, self.qp_categories) if q is not None]
        return max(qps) if qps else math.nan

    def condition(self) -> str:
        """The limit in words, e.g. ``x1 ≥ 0.613``, ``0.2 ≤ x2 ≤ 0.5``, ``rule is a or b``."""
        if self.kind == "categorical":
            return f"{self.name} is {_join_or([str(c) for c in self.categories])}"
        lo = None if self.lower is None else _with_unit(_num(self.lower), self.unit)
        hi = None if self.upper is None else _with_unit(_num(self.upper), self.unit)
        if lo is not None and hi is not None:
            return f"{_num(self.lower)} ≤ {self.name} ≤ {hi}"
        if lo is not None:
            return f"{self.name} ≥ {lo}"
        return f"{self.name} ≤ {hi}"

    def contains(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Which of ``values`` lie inside this limit."""
        if self.kind == "categorical":
            return np.asarray(pd.Series(values).isin(list(self.categories)))
        v = np.asarray(values, dtype=float)
        inside = np.ones(v.shape, dtype=bool)
        if self.lower is not None:
            inside &= v >= self.lower
        if self.upper is not None:
            inside &= v <= self.upper
        return inside


def in_box(x: pd.DataFrame, limits: Sequence[BoxLimit]) -> np.ndarray:
    """Boolean mask of the rows of ``x`` inside the box given by ``limits``."""
    mask = np.ones(len(x), dtype=bool)
    for lim in limits:
        mask &= lim.contains(x[lim.name])
    return mask


@dataclass(frozen=True)
class PrimResult:
    """PRIM's peeling trajectory and the chosen box (see the module docstring)."""

    outcome: str
    case_label: str
    threshold: float | None
    direction: str | None
    trajectory: pd.DataFrame  # box, coverage, density, mass, n_runs, n_cases, res_dim, restricted
    boxes: tuple[tuple[BoxLimit, ...], ...]  # the restricted limits of every box on the trajectory
    chosen: int
    chosen_by: str  # "knee" or "requested"
    n_runs: int
    n_cases: int
    inputs: tuple[str, ...]
    kinds: Mapping[str, str]
    dropped_inputs: tuple[str, ...] = ()
    units: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    x: pd.DataFrame = field(default=None, repr=False)  # inputs used (constant columns dropped)
    y: np.ndarray = field(default=None, repr=False)  # cases of interest

    @property
    def limits(self) -> tuple[BoxLimit, ...]:
        return self.boxes[self.chosen]

    @property
    def restricted(self) -> tuple[str, ...]:
        return tuple(lim.name for lim in self.limits)

    def _stat(self, col: str) -> float:
        return float(self.trajectory.loc[self.chosen, col])

    @property
    def coverage(self) -> float:
        return self._stat("coverage")

    @property
    def density(self) -> float:
        return self._stat("density")

    @property
    def mass(self) -> float:
        return self._stat("mass")

    @property
    def base_rate(self) -> float:
        """Share of all runs that are cases of interest (the density of box 0)."""
        return self.n_cases / self.n_runs

    @property
    def in_box(self) -> np.ndarray:
        """Mask of the runs (rows of ``x``) inside the chosen box."""
        return in_box(self.x, self.limits)

    def select(self, box: int) -> PrimResult:
        """The same result with box ``box`` of the trajectory chosen instead."""
        _check_box_index(box, len(self.trajectory))
        return replace(self, chosen=int(box), chosen_by="requested")

    @property
    def finding(self) -> str:
        """One sentence an analyst can quote, with the box's density and coverage."""
        if not self.limits:
            return (
                f"PRIM found no conditions that concentrate the runs where {self.case_label}: "
                f"it happens in {_pct(self.base_rate)} of all {self.n_runs} runs, and no box "
                "of the inputs raises that share."
            )
        conds = [lim.condition() for lim in self.limits]
        when = conds[0] if len(conds) == 1 else ", ".join(conds[:-1]) + " and " + conds[-1]
        return (
            f"When {when}, {self.case_label} in {_pct(self.density)} of runs (density), "
            f"and these conditions hold in {_pct(self.coverage)} of all such runs (coverage)."
        )


@dataclass(frozen=True)
class CartCondition:
    name: str
    op: str  # "<=", ">", "is", "is not"
    value: Any
    unit: str = ""

    def __str__(self) -> str:
        if self.op in ("is", "is not"):
            return f"{self.name} {self.op} {self.value}"
        return f"{self.name} {self.op} {_with_unit(_num(self.value), self.unit)}"


@dataclass(frozen=True)
class CartRule:
    """One leaf of the CART tree: the path's conditions and the runs that reach it."""

    conditions: tuple[CartCondition, ...]
    predicts_case: bool
    n_runs: int
    n_cases: int
    coverage: float  # share of all cases of interest in this leaf
    density: float  # share of this leaf's runs that are cases of interest

    def __str__(self) -> str:
        cond = " and ".join(str(c) for c in self.conditions) or "(all runs)"
        what = "case of interest" if self.predicts_case else "not a case"
        return (
            f"{cond} → {what} ({self.n_runs} runs, {self.n_cases} cases: "
            f"density {_pct(self.density)}, coverage {_pct(self.coverage)})"
        )


@dataclass(frozen=True)
class CartResult:
    """A shallow CART classification tree fitted as a cross-check of PRIM.

    ``rules`` are its leaves, except that a subtree whose leaves all predict the same class
    is one rule (its splits change no prediction), so a rule names only the inputs that
    matter to it. ``text`` and the figure show the tree as fitted.

    Accuracy, recall (share of cases of interest the tree labels as such) and precision
    are measured on the sample the tree was fitted on (in-sample)."""

    rules: tuple[CartRule, ...]  # every leaf; case leaves first, most cases first
    text: str  # sklearn.tree.export_text
    accuracy: float
    recall: float
    precision: float
    max_depth: int
    n_leaves: int
    feature_names: tuple[str, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    tree: Any = field(default=None, repr=False)  # the fitted DecisionTreeClassifier

    @property
    def case_rules(self) -> tuple[CartRule, ...]:
        return tuple(r for r in self.rules if r.predicts_case)


@dataclass(frozen=True)
class DiscoveryResult:
    prim: PrimResult
    cart: CartResult

    @property
    def finding(self) -> str:
        return self.prim.finding

    @property
    def cart_agrees(self) -> bool:
        """True when CART's strongest case rule uses exactly the inputs PRIM's box restricts."""
        rules = self.cart.case_rules
        if not rules:
            return False
        return {c.name for c in rules[0].conditions} == set(self.prim.restricted)


# --------------------------------------------------------------------------- input checks


def _check_box_index(box: int, n: int) -> None:
    if isinstance(box, bool) or not isinstance(box, (int, np.integer)) or not 0 <= box < n:
        raise DiscoveryError(f"box {box!r} is not on the peeling trajectory (boxes 0-{n - 1})")


def cases_of_interest(
    y, threshold: float | None = None, direction: str = "above", *, outcome: str = "outcome"
) -> tuple[np.ndarray, str | None, float | None]:
    """Boolean cases of interest from ``y``.

    ``y`` boolean: taken as it is (no threshold allowed). ``y`` numeric: a case is a run
    whose outcome is ``direction`` the threshold: ``"above"`` (>), ``"below"`` (<),
    ``"at_least"`` (>=) or ``"at_most"`` (<=); the symbols themselves are accepted too.
    Returns ``(cases, direction_symbol, threshold)``.
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise DiscoveryError(f"outcome {outcome!r} must be one-dimensional (got shape {arr.shape})")
    if arr.size == 0:
        raise DiscoveryError(f"outcome {outcome!r} is empty: no runs to analyse")
    if arr.dtype == object:
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise DiscoveryError(f"outcome {outcome!r} is neither boolean nor numeric") from None
    if arr.dtype == bool:
        if threshold is not None:
            raise DiscoveryError(f"outcome {outcome!r} is already boolean (cases of interest): drop the threshold")
        return arr.copy(), None, None
    if not np.issubdtype(arr.dtype, np.number):
        raise DiscoveryError(f"outcome {outcome!r} is neither boolean nor numeric (dtype {arr.dtype})")
    arr = arr.astype(float)
    n_nan = int(np.isnan(arr).sum())
    if n_nan:
        raise DiscoveryError(f"outcome {outcome!r} has {n_nan} missing (NaN) values of {arr.size}; drop those runs first")
    if np.isinf(arr).any():
        raise DiscoveryError(f"outcome {outcome!r} has infinite values; drop those runs first")
    if threshold is None:
        raise DiscoveryError(
            f"outcome {outcome!r} is numeric: give a threshold and a direction "
            "(e.g. threshold=4, direction='above'), or pass a boolean array"
        )
    op = _DIRECTIONS.get(direction)
    if op is None:
        raise DiscoveryError(f"direction {direction!r} is not one of above, below, at_least, at_most")
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise DiscoveryError(f"threshold {threshold!r} is not a number") from None
    if not math.isfinite(t):
        raise DiscoveryError(f"threshold {threshold!r} is not a finite number")
    lo, hi = float(arr.min()), float(arr.max())
    if lo == hi:
        raise DiscoveryError(f"outcome {outcome!r} is constant ({_num(lo)} in all {arr.size} runs): nothing to discover")
    if not lo <= t <= hi:
        raise DiscoveryError(
            f"threshold {_num(t)} is outside the observed range of {outcome!r} "
            f"[{_num(lo)}, {_num(hi)}] over {arr.size} runs"
        )
    cases = {">": arr > t, "<": arr < t, ">=": arr >= t, "<=": arr <= t}[op]
    return cases, op, t


def _check_cases(cases: np.ndarray, what: str, min_cases: int, min_others: int) -> None:
    n, k = cases.size, int(cases.sum())
    if k == 0:
        raise DiscoveryError(f"no run is a case of interest ({what} in none of {n} runs): the outcome is constant")
    if k == n:
        raise DiscoveryError(f"every run is a case of interest ({what} in all {n} runs): the outcome is constant")
    if k < min_cases or n - k < min_others:
        raise DiscoveryError(
            f"too few runs for PRIM: {k} cases of interest and {n - k} other runs of {n}; "
            f"it needs at least {min_cases} and {min_others} (run more, or move the threshold)"
        )


def _prepare_inputs(X: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str], tuple[str, ...]]:
    """Validate and normalise the inputs; return (x, kinds, dropped constant columns)."""
    if not isinstance(X, pd.DataFrame):
        raise DiscoveryError(f"inputs must be a pandas DataFrame (got {type(X).__name__})")
    if X.shape[1] == 0:
        raise DiscoveryError("inputs have no columns")
    if X.shape[0] == 0:
        raise DiscoveryError("inputs have no rows")
    names = [str(c) for c in X.columns]
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise DiscoveryError(f"input column names repeat: {', '.join(dup)}")
    X = X.copy()
    X.columns = names
    X = X.reset_index(drop=True)
    na = [c for c in names if X[c].isna().any()]
    if na:
        n_rows = int(X[na].isna().any(axis=1).sum())
        raise DiscoveryError(
            f"inputs have missing (NaN) values in {', '.join(na)} ({n_rows} run{'s' if n_rows != 1 else ''}); "
            "drop or fill them first"
        )
    kinds: dict[str, str] = {}
    out: dict[str, pd.Series] = {}
    for c in names:
        s = X[c]
        dt = s.dtype
        if pd.api.types.is_bool_dtype(dt):
            kinds[c], out[c] = "categorical", pd.Series(pd.Categorical(s.astype(bool)), name=c)
        elif pd.api.types.is_integer_dtype(dt):
            kinds[c], out[c] = "int", s.astype(np.int64)
        elif pd.api.types.is_float_dtype(dt):
            v = s.astype(np.float64)
            if np.isinf(v.to_numpy()).any():
                raise DiscoveryError(f"input {c!r} has infinite values; drop those runs first")
            kinds[c], out[c] = "float", v
        elif isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dt) or dt == object:
            kinds[c], out[c] = "categorical", pd.Series(pd.Categorical(s), name=c)
        else:
            raise DiscoveryError(f"input {c!r} has a type PRIM cannot use ({dt}); use numbers, bool or categories")
    x = pd.DataFrame(out)
    dropped = tuple(c for c in names if x[c].nunique() <= 1)
    if dropped:
        if len(dropped) == len(names):
            raise DiscoveryError(f"every input is constant ({', '.join(dropped)}): nothing can restrict a box")
        warnings.warn(
            f"constant input(s) dropped before PRIM/CART: {', '.join(dropped)}",
            DiscoveryWarning,
            skip_file_prefixes=(os.path.dirname(__file__),),  # point at the caller's line
        )
        x = x.drop(columns=list(dropped))
        for c in dropped:
            kinds.pop(c)
    for c in x.columns:
        if kinds[c] == "categorical":
            x[c] = x[c].cat.remove_unused_categories()
    return x, kinds, dropped


def _prepare(X, y, threshold, direction, outcome, case_label, min_cases, min_others):
    if outcome is None:
        outcome = str(y.name) if isinstance(y, pd.Series) and y.name is not None else "outcome"
    cases, op, t = cases_of_interest(y, threshold, direction, outcome=outcome)
    if len(cases) != len(X):
        raise DiscoveryError(f"inputs have {len(X)} runs but outcome {outcome!r} has {len(cases)}")
    if case_label is None:
        case_label = (
            f"{outcome} {_DIRECTION_WORDS[op]} {_num(t)}" if op is not None else "the case of interest occurs"
        )
    what = f"{outcome} {op} {_num(t)}" if op is not None else f"{outcome} true"
    _check_cases(cases, what, min_cases, min_others)
    x, kinds, dropped = _prepare_inputs(X)
    return x, cases, kinds, dropped, outcome, case_label, op, t


# --------------------------------------------------------------------------- knee rule


def knee_index(coverage: Sequence[float], density: Sequence[float], res_dim: Sequence[int] | None = None) -> int:
    """Index of the knee of a peeling trajectory (the rule is in the module docstring)."""
    cov = np.asarray(coverage, dtype=float)
    den = np.asarray(density, dtype=float)
    n = cov.size
    if n == 0:
        raise DiscoveryError("empty peeling trajectory")
    dims = np.zeros(n, dtype=int) if res_dim is None else np.asarray(res_dim, dtype=int)
    order_key = lambda i, score: (-score, dims[i], -cov[i], i)  # noqa: E731
    b = min(range(n), key=lambda i: (-den[i], -cov[i], i))
    dx, dy = cov[b] - cov[0], den[b] - den[0]
    length = math.hypot(dx, dy)
    eps = 1e-12
    if length > eps:
        dist = (dy * (cov - cov[0]) - dx * (den - den[0])) / length
        above = [i for i in range(n) if dist[i] > eps]
        if above:
            best = max(dist[i] for i in above)
            tied = [i for i in above if dist[i] >= best - 1e-12]
            return min(tied, key=lambda i: order_key(i, best))
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(cov + den > 0, 2 * cov * den / (cov + den), 0.0)
    best = float(f1.max())
    tied = [i for i in range(n) if f1[i] >= best - 1e-12]
    return min(tied, key=lambda i: order_key(i, best))


# --------------------------------------------------------------------------- PRIM


def _ema_prim():
    with warnings.catch_warnings():
        # EMA Workbench 3.0 warns at import about optional packages (ipyparallel, altair).
        warnings.simplefilter("ignore")
        return require_extra("ema_workbench.analysis.prim", "PRIM (scenario discovery)")


def _qp(v) -> float | None:
    v = float(v)
    return None if v < 0 or math.isnan(v) else v


def find_box(
    X: pd.DataFrame,
    y,
    *,
    threshold: float | None = None,
    direction: str = "above",
    box: int | None = None,
    outcome: str | None = None,
    case_label: str | None = None,
    units: Mapping[str, str] | None = None,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    min_cases: int = MIN_CASES,
    min_others: int = MIN_OTHERS,
) -> PrimResult:
    """Run PRIM on inputs ``X`` and cases of interest ``y`` and choose a box.

    ``y`` is boolean, or numeric with ``threshold`` and ``direction`` (see
    :func:`cases_of_interest`). ``box=N`` chooses box N of the peeling trajectory; by
    default the knee (:func:`knee_index`). ``case_label`` is the phrase the finding uses
    for a case of interest, e.g. ``"full delegation destabilises 5 or more trusts"``
    (default: ``"<outcome> is above <threshold>"``). ``units`` maps input names to units
    for the finding, tables and figures. ``peel_alpha``, ``paste_alpha`` and ``mass_min``
    are PRIM's own settings (the EMA Workbench defaults).
    """
    x, cases, kinds, dropped, outcome, case_label, op, t = _prepare(
        X, y, threshold, direction, outcome, case_label, min_cases, min_others
    )
    for name, val in (("peel_alpha", peel_alpha), ("paste_alpha", paste_alpha), ("mass_min", mass_min)):
        if not 0 < val < 1:
            raise DiscoveryError(f"{name} must lie strictly between 0 and 1 (got {val})")
    units = dict(units or {})
    ema = _ema_prim()

    # EMA drops a column called "scenario" and keys box limits by column name: run it on
    # neutral internal names and map them back.
    inner = {c: f"u{i}" for i, c in enumerate(x.columns)}
    outer = {v: k for k, v in inner.items()}
    xi = x.rename(columns=inner)
    # EMA Workbench 3.0.0 pastes integer columns with an interpolated (fractional) quantile, which
    # pandas 3 refuses to write into an int64 box (TypeError): PRIM sees integer inputs as numbers,
    # and their limits are rounded inward below (x >= 4.5 is x >= 5 for whole numbers).
    for c, k in kinds.items():
        if k == "int":
            xi[inner[c]] = xi[inner[c]].astype(np.float64)
    with warnings.catch_warnings():
        # EMA Workbench 3.0.0 uses pandas idioms that pandas 3.1 deprecates (inplace=).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        engine = ema.Prim(xi, cases.copy(), peel_alpha=peel_alpha, paste_alpha=paste_alpha, mass_min=mass_min)
        pbox = engine.find_box()
    init = engine.box_init

    boxes: list[tuple[BoxLimit, ...]] = []
    for lims, qps in zip(pbox.box_lims, pbox.p_values):
        out = []
        for col in xi.columns:
            name = outer[col]
            kind = kinds[name]
            qp = qps.get(col, [-1, -1])
            if kind == "categorical":
                kept, everything = set(lims.loc[0, col]), set(init.loc[0, col])
                if kept == everything:
                    continue
                cats = tuple(c for c in x[name].cat.categories if c in kept)
                out.append(BoxLimit(name, kind, categories=cats, qp_categories=_qp(qp[0]), unit=units.get(name, "")))
            else:
                lo, hi = lims.loc[0, col], lims.loc[1, col]
                lo_r, hi_r = lo > init.loc[0, col], hi < init.loc[1, col]
                if not (lo_r or hi_r):
                    continue
                if kind == "int":
                    lo_v, hi_v = int(math.ceil(lo - 1e-9)), int(math.floor(hi + 1e-9))
                else:
                    lo_v, hi_v = float(lo), float(hi)
                out.append(
                    BoxLimit(
                        name,
                        kind,
                        lower=lo_v if lo_r else None,
                        upper=hi_v if hi_r else None,
                        qp_lower=_qp(qp[0]) if lo_r else None,
                        qp_upper=_qp(qp[1]) if hi_r else None,
                        unit=units.get(name, ""),
                    )
                )
        boxes.append(tuple(out))

    pt = pbox.peeling_trajectory
    trajectory = pd.DataFrame(
        {
            "box": np.arange(len(pt), dtype=int),
            "coverage": pt["coverage"].astype(float).to_numpy(),
            "density": pt["density"].astype(float).to_numpy(),
            "mass": pt["mass"].astype(float).to_numpy(),
            "n_runs": pt["n"].astype(int).to_numpy(),
            "n_cases": pt["k"].astype(int).to_numpy(),
            "res_dim": [len(b) for b in boxes],
            "restricted": [", ".join(lim.name for lim in b) for b in boxes],
        }
    )
    if box is None:
        chosen = knee_index(trajectory["coverage"], trajectory["density"], trajectory["res_dim"])
        chosen_by = "knee"
    else:
        _check_box_index(box, len(trajectory))
        chosen, chosen_by = int(box), "requested"

    import ema_workbench

    return PrimResult(
        outcome=outcome,
        case_label=case_label,
        threshold=t,
        direction=op,
        trajectory=trajectory,
        boxes=tuple(boxes),
        chosen=chosen,
        chosen_by=chosen_by,
        n_runs=int(cases.size),
        n_cases=int(cases.sum()),
        inputs=tuple(x.columns),
        kinds=dict(kinds),
        dropped_inputs=dropped,
        units=units,
        settings={
            "library": f"ema-workbench {ema_workbench.__version__}",
            "peel_alpha": peel_alpha,
            "paste_alpha": paste_alpha,
            "mass_min": mass_min,
            "objective": "lenient1 (EMA default)",
        },
        x=x,
        y=cases,
    )


# --------------------------------------------------------------------------- CART


def _merge_conditions(conds: list[CartCondition]) -> tuple[CartCondition, ...]:
    """Tightest form of a path's conditions: one ``<=`` and one ``>`` per numeric input;
    for a categorical input an ``is`` makes its ``is not`` conditions redundant."""
    is_cat = {c.name for c in conds if c.op == "is"}
    out: dict[tuple, CartCondition] = {}
    for c in conds:
        if c.op in ("<=", ">"):
            prev = out.get((c.name, c.op))
            if prev is None or (c.op == "<=" and c.value < prev.value) or (c.op == ">" and c.value > prev.value):
                out[(c.name, c.op)] = c
        elif c.op == "is" or c.name not in is_cat:
            out[(c.name, c.op, str(c.value))] = c
    return tuple(out.values())


def cart_check(
    X: pd.DataFrame,
    y,
    *,
    threshold: float | None = None,
    direction: str = "above",
    outcome: str | None = None,
    units: Mapping[str, str] | None = None,
    max_depth: int = 3,
    min_samples_leaf: int = 5,
    min_cases: int = MIN_CASES,
    min_others: int = MIN_OTHERS,
    random_state: int = 0,
) -> CartResult:
    """Fit a shallow CART tree (scikit-learn, ``class_weight="balanced"``) as a cross-check.

    Same inputs and checks as :func:`find_box`. Categorical inputs enter one-hot; the
    rules name them as ``input is value`` / ``input is not value``.
    """
    x, cases, kinds, _dropped, outcome, _label, _op, _t = _prepare(
        X, y, threshold, direction, outcome, None, min_cases, min_others
    )
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
        raise DiscoveryError(f"max_depth must be a positive integer (got {max_depth!r})")
    units = dict(units or {})
    tree_mod = require_extra("sklearn.tree", "the CART cross-check")
    metrics = require_extra("sklearn.metrics", "the CART cross-check")

    cols: dict[str, np.ndarray] = {}
    meaning: list[tuple[str, Any]] = []  # per feature: (input, category or None)
    for c in x.columns:
        if kinds[c] == "categorical":
            for cat in x[c].cat.categories:
                cols[f"{c} = {cat}"] = (x[c] == cat).to_numpy(dtype=float)
                meaning.append((c, cat))
        else:
            cols[c] = x[c].to_numpy(dtype=float)
            meaning.append((c, None))
    features = pd.DataFrame(cols)
    clf = tree_mod.DecisionTreeClassifier(
        max_depth=max_depth, class_weight="balanced", min_samples_leaf=min_samples_leaf, random_state=random_state
    )
    clf.fit(features.to_numpy(), cases)
    pred = clf.predict(features.to_numpy()).astype(bool)
    leaves = clf.apply(features.to_numpy())

    t = clf.tree_
    n_total_cases = int(cases.sum())
    rules: list[CartRule] = []

    case_idx = list(clf.classes_).index(True)

    def leaves_under(node: int) -> list[int]:
        left, right = t.children_left[node], t.children_right[node]
        return [node] if left == right else leaves_under(left) + leaves_under(right)

    def predicts_case(leaf: int) -> bool:
        return int(np.argmax(t.value[leaf][0])) == case_idx

    def walk(node: int, path: list[CartCondition]) -> None:
        left, right = t.children_left[node], t.children_right[node]
        under = leaves_under(node)
        # A split whose leaves all predict the same class says nothing: its subtree is one rule.
        if left == right or len({predicts_case(leaf) for leaf in under}) == 1:
            in_leaf = np.isin(leaves, under)
            n, k = int(in_leaf.sum()), int(cases[in_leaf].sum())
            predicts = predicts_case(under[0])
            rules.append(
                CartRule(
                    conditions=_merge_conditions(path),
                    predicts_case=bool(predicts),
                    n_runs=n,
                    n_cases=k,
                    coverage=k / n_total_cases,
                    density=k / n if n else math.nan,
                )
            )
            return
        name, cat = meaning[t.feature[node]]
        thr = float(t.threshold[node])
        if cat is None:
            unit = units.get(name, "")
            walk(left, path + [CartCondition(name, "<=", thr, unit)])
            walk(right, path + [CartCondition(name, ">", thr, unit)])
        else:
            walk(left, path + [CartCondition(name, "is not", cat)])
            walk(right, path + [CartCondition(name, "is", cat)])

    walk(0, [])
    rules.sort(key=lambda r: (not r.predicts_case, -r.n_cases, -r.density if r.n_runs else 0))
    return CartResult(
        rules=tuple(rules),
        text=tree_mod.export_text(clf, feature_names=list(features.columns), class_names=["other", "case"]),
        accuracy=float(metrics.accuracy_score(cases, pred)),
        recall=float(metrics.recall_score(cases, pred)),
        precision=float(metrics.precision_score(cases, pred, zero_division=0)),
        max_depth=max_depth,
        n_leaves=int(clf.get_n_leaves()),
        feature_names=tuple(features.columns),
        settings={
            "library": f"scikit-learn {_sklearn_version()}",
            "max_depth": max_depth,
            "class_weight": "balanced",
            "min_samples_leaf": min_samples_leaf,
            "random_state": random_state,
        },
        tree=clf,
    )


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def discover(
    X: pd.DataFrame,
    y,
    *,
    threshold: float | None = None,
    direction: str = "above",
    box: int | None = None,
    outcome: str | None = None,
    case_label: str | None = None,
    units: Mapping[str, str] | None = None,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    cart_depth: int = 3,
    min_cases: int = MIN_CASES,
    min_others: int = MIN_OTHERS,
) -> DiscoveryResult:
    """PRIM (:func:`find_box`) and its CART cross-check (:func:`cart_check`) on the same data.

    A constant input column is dropped once, with one DiscoveryWarning."""
    prim = find_box(
        X, y, threshold=threshold, direction=direction, box=box, outcome=outcome, case_label=case_label,
        units=units, peel_alpha=peel_alpha, paste_alpha=paste_alpha, mass_min=mass_min,
        min_cases=min_cases, min_others=min_others,
    )
    X_used = X.copy()
    X_used.columns = [str(c) for c in X_used.columns]
    X_used = X_used.drop(columns=list(prim.dropped_inputs))
    cart = cart_check(
        X_used, y, threshold=threshold, direction=direction, outcome=prim.outcome, units=units,
        max_depth=cart_depth, min_cases=min_cases, min_others=min_others,
    )
    return DiscoveryResult(prim=prim, cart=cart)
