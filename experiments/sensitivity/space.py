"""Sweep definitions: load and check a parameter-space file, draw the SALib sample, map it.

A sweep file is TOML::

    name = "sobol_delegation"
    description = "Which behaviour parameters drive provider destabilisation under full delegation"
    method = "sobol"            # sobol | morris | lhs | fast
    n = 256                     # sample size (what it means per method: methods.METHODS[...].size_rule)
    seeds = 2                   # replicates (seeds) per design point; outcomes are averaged over them
    years = 10
    root_seed = 20230401        # root of every run's seed (and of the SALib sample unless sample_seed)
    scenarios = ["full_delegation"]
    outcomes = ["providers_destabilised", "access_gini", "providers_needing_support:max"]
    second_order = false        # Sobol only: also draw/analyse second-order indices

    [options]                   # optional method settings (methods.METHODS[...].options)
    num_resamples = 1000

    [fixed]                     # optional: parameter values set in every run
    funding_growth = 0.04

    [parameters]                # the space: one entry per swept parameter
    system_weight = { bounds = [0.0, 20.0] }
    withdrawal_rounds = { bounds = [1, 6] }                    # integer: every whole number 1..6
    protect_last_provider = { levels = [true, false] }         # categorical / boolean
    deficit_severity = { bounds = [0.0, 3.0], distribution = "triang", peak = 1.0 }
    nhse_tolerance = { bounds = [0.0, 0.2], scenarios = ["joint_committees"] }

Each parameter entry takes ``bounds = [low, high]`` *or* ``levels = [...]``, an optional
``distribution`` (``unif`` default, ``triang`` with ``peak``, ``logunif``, ``truncnorm``
with ``mean`` and ``sd``; all bounded), and optional ``scenarios`` (default: every scenario of
the sweep). Each scenario gets its own SALib problem made of the parameters that apply to it.

The mapping (the one place it happens)
    SALib samples continuous inputs only. Every problem given to SALib is the *unit*
    hypercube (all bounds ``[0, 1]``); :func:`map_unit` turns a unit value ``u`` into a
    model value:

    - float, ``unif``: ``low + u (high - low)``; ``triang``/``logunif``/``truncnorm``: the
      distribution's inverse CDF at ``u`` (so the sample follows that distribution);
    - int (``kind = "int"`` in ``model.params``): ``floor(low + u (high - low + 1))``, clipped
      to ``high`` - every whole number of ``[low, high]`` gets an equal share of ``[0, 1)``;
    - ``levels`` (categorical, boolean, or a list of numbers): level ``floor(u k)`` of ``k``
      levels, clipped to ``k - 1`` (index bins of equal width); a boolean parameter with no
      bounds or levels is the two levels ``[false, true]``.

    The analysis always uses the unit sample ``X`` (Morris's mu* is then the effect of
    moving a parameter across its whole range, comparable between parameters); the mapped
    values are what the model receives and are stored per run in ``summaries.parquet``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SweepConfigError, rethrow
from .methods import METHODS

__all__ = [
    "ParamSpec",
    "SweepSpec",
    "load_spec",
    "map_unit",
    "draw_sample",
    "design_for",
    "needs_series",
    "DISTRIBUTIONS",
    "SWEEP_FILE",
]

SWEEP_FILE = "sweep.json"  # the sweep's definition, SALib problems and method settings, in its folder
DISTRIBUTIONS = ("unif", "triang", "logunif", "truncnorm")
TOP_KEYS = {"name", "description", "method", "n", "seeds", "years", "root_seed", "sample_seed", "scenarios",
            "outcomes", "second_order", "options", "fixed", "parameters"}
PARAM_KEYS = {"bounds", "levels", "distribution", "peak", "mean", "sd", "scenarios"}
AGGREGATES = ("final", "mean", "max", "min", "sum")
DEFAULTS = {"seeds": 1, "years": 10, "root_seed": 20230401, "second_order": False}


def needs_series(outcomes: list[str]) -> bool:
    """Whether any outcome aggregates a per-round series (``reporter:agg`` other than ``:final``)."""
    return any(":" in o and not o.endswith(":final") for o in outcomes)


# --------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class ParamSpec:
    """One swept parameter: its registry kind, its range or levels, distribution, scenarios."""

    name: str
    kind: str  # float | int | bool | choice (from model.params)
    bounds: tuple[float, float] | None = None
    levels: tuple[Any, ...] | None = None
    distribution: str = "unif"
    peak: float | None = None
    mean: float | None = None
    sd: float | None = None
    scenarios: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "distribution": self.distribution,
                             "scenarios": list(self.scenarios)}
        if self.bounds is not None:
            d["bounds"] = list(self.bounds)
        if self.levels is not None:
            d["levels"] = list(self.levels)
        for k in ("peak", "mean", "sd"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d


@dataclass
class SweepSpec:
    """A checked sweep definition (see the module docstring for the file format)."""

    name: str
    method: str
    n: int
    seeds: int
    years: int
    root_seed: int
    sample_seed: int
    scenarios: list[str]
    outcomes: list[str]
    second_order: bool
    options: dict[str, Any]
    fixed: dict[str, Any]
    params: list[ParamSpec]
    description: str = ""
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def params_for(self, scenario: str) -> list[ParamSpec]:
        return [p for p in self.params if scenario in p.scenarios]

    def problem(self, scenario: str) -> dict[str, Any]:
        """The SALib problem of one scenario: the unit hypercube over its parameters."""
        names = [p.name for p in self.params_for(scenario)]
        return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}

    @property
    def needs_series(self) -> bool:
        return needs_series(self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "source": self.source,
            "method": self.method, "n": self.n, "seeds": self.seeds, "years": self.years,
            "root_seed": self.root_seed, "sample_seed": self.sample_seed, "scenarios": list(self.scenarios),
            "outcomes": list(self.outcomes), "second_order": self.second_order, "options": dict(self.options),
            "fixed": dict(self.fixed), "parameters": [p.to_dict() for p in self.params],
        }


def _err(where: str, key: str, value: Any, allowed: str) -> SweepConfigError:
    return SweepConfigError(f"{where}: '{key}' value {value!r} is not allowed; expected {allowed}")


def _known_keys(where: str, raw: dict, allowed: set[str]) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise SweepConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                               f"{', '.join(sorted(allowed))}")


def _one_of(where: str, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _err(where, key, value, f"one of {', '.join(allowed)}")
    return value


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _whole(where: str, key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _err(where, key, value, f"a whole number >= {low}")
    return value


def _str_list(where: str, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _err(where, key, value, "a non-empty list of names")
    dupes = sorted({v for v in value if value.count(v) > 1})
    if dupes:
        raise SweepConfigError(f"{where}: '{key}' lists {', '.join(dupes)} more than once")
    return list(value)


def _check_outcome(where: str, name: str) -> str:
    from commissim.model.measures import SERIES_MEASURES, SUMMARY_MEASURES

    base, sep, agg = name.partition(":")
    if not sep:
        if base not in SUMMARY_MEASURES:
            import difflib

            hint = difflib.get_close_matches(base, SUMMARY_MEASURES, n=2)
            raise SweepConfigError(
                f"{where}: 'outcomes' value {name!r} is not a model measure"
                + (f" (did you mean {', '.join(hint)}?)" if hint else "")
                + f"; allowed: {', '.join(SUMMARY_MEASURES)} (end of run), or REPORTER:AGG with AGG one of "
                  f"{', '.join(AGGREGATES)} over the yearly series of a model reporter"
            )
        return name
    if base not in SERIES_MEASURES:
        raise SweepConfigError(
            f"{where}: 'outcomes' value {name!r}: {base!r} is not a model reporter; allowed before ':': "
            f"{', '.join(SERIES_MEASURES)}"
        )
    if agg not in AGGREGATES:
        raise SweepConfigError(
            f"{where}: 'outcomes' value {name!r}: aggregate {agg!r} is not allowed; expected one of "
            f"{', '.join(AGGREGATES)}"
        )
    return name


def _param_spec(name: str, raw: Any, scenarios: list[str], where: str) -> ParamSpec:
    from commissim.model.params import PARAM_BY_NAME

    w = f"{where}: parameters.{name}"
    spec = PARAM_BY_NAME.get(name)
    if spec is None:
        import difflib

        hint = difflib.get_close_matches(name, PARAM_BY_NAME, n=3)
        allowed = sorted(p.name for p in PARAM_BY_NAME.values() if p.sweepable)
        raise SweepConfigError(
            f"{where}: unknown parameter {name!r}" + (f" (did you mean {', '.join(hint)}?)" if hint else "")
            + f"; sweepable parameters: {', '.join(allowed)}"
        )
    if not spec.sweepable:
        raise SweepConfigError(
            f"{w}: parameter {name!r} is not sweepable (a scenario sets it); compare scenarios instead by "
            "listing them in 'scenarios'"
        )
    if raw is True and spec.kind == "bool":
        raw = {}
    if not isinstance(raw, dict):
        raise SweepConfigError(f"{w}: expected a table such as {{ bounds = [low, high] }} or "
                               f"{{ levels = [...] }}, got {raw!r}")
    _known_keys(w, raw, PARAM_KEYS)
    dist = _one_of(w, "distribution", raw.get("distribution", "unif"), DISTRIBUTIONS)
    scen = raw.get("scenarios", scenarios)
    scen = _str_list(w, "scenarios", scen)
    bad = [s for s in scen if s not in scenarios]
    if bad:
        raise _err(w, "scenarios", bad, f"scenarios of this sweep ({', '.join(scenarios)})")

    if "bounds" in raw and "levels" in raw:
        raise SweepConfigError(f"{w}: give 'bounds' or 'levels', not both")
    if "levels" in raw or (spec.kind in ("bool", "choice") and "bounds" not in raw):
        levels = raw.get("levels")
        if levels is None:
            if spec.kind == "bool":
                levels = [False, True]
            else:
                raise SweepConfigError(f"{w}: a categorical parameter needs 'levels', a list drawn from "
                                       f"{', '.join(spec.choices)}")
        if not isinstance(levels, list) or len(levels) < 2:
            raise _err(w, "levels", levels, "a list of at least two values")
        if len(set(map(repr, levels))) != len(levels):
            raise _err(w, "levels", levels, "distinct values")
        for v in levels:  # ParameterError names the value and the range
            with rethrow(SweepConfigError, prefix=f"{w}: 'levels' value {v!r} is not allowed: "):
                spec.check(v)
        if dist != "unif":
            raise SweepConfigError(f"{w}: 'distribution' {dist!r} cannot apply to levels (levels are equally likely)")
        return ParamSpec(name, spec.kind, levels=tuple(levels), scenarios=tuple(scen))

    if spec.kind in ("bool", "choice"):
        raise SweepConfigError(f"{w}: 'bounds' do not apply to a {spec.kind} parameter; give 'levels' "
                               + (f"from {', '.join(spec.choices)}" if spec.choices else "[true, false]"))
    b = raw.get("bounds")
    if b is None:
        raise SweepConfigError(f"{w}: give 'bounds = [low, high]' (allowed range {spec.low} to {spec.high}) "
                               "or 'levels = [...]'")
    if not isinstance(b, list) or len(b) != 2 or not all(_is_num(v) for v in b) or not b[0] < b[1]:
        raise _err(w, "bounds", b, "[low, high], two numbers with low < high")
    lo, hi = float(b[0]), float(b[1])
    if lo < spec.low or hi > spec.high:
        raise _err(w, "bounds", b, f"bounds within the parameter's range {spec.low} to {spec.high}")
    if spec.kind == "int":
        if lo != int(lo) or hi != int(hi):
            raise _err(w, "bounds", b, "whole numbers (an integer parameter)")
        if dist != "unif":
            raise SweepConfigError(f"{w}: 'distribution' {dist!r} is not allowed for an integer parameter; "
                                   "every whole number in bounds is equally likely (or give 'levels')")
    peak = mean = sd = None
    if dist == "triang":
        peak = raw.get("peak")
        if not _is_num(peak) or not lo <= peak <= hi:
            raise _err(w, "peak", peak, f"a number between the bounds {lo} and {hi} (the mode)")
    elif dist == "logunif":
        if lo <= 0:
            raise _err(w, "bounds", b, "bounds > 0 for a log-uniform distribution")
    elif dist == "truncnorm":
        mean, sd = raw.get("mean"), raw.get("sd")
        if not _is_num(mean) or not lo <= mean <= hi:
            raise _err(w, "mean", mean, f"a number between the bounds {lo} and {hi}")
        if not _is_num(sd) or sd <= 0:
            raise _err(w, "sd", sd, "a number > 0")
    for k in ("peak", "mean", "sd"):
        if k in raw and {"peak": "triang", "mean": "truncnorm", "sd": "truncnorm"}[k] != dist:
            raise SweepConfigError(f"{w}: '{k}' applies only to distribution = "
                                   f"\"{ {'peak': 'triang'}.get(k, 'truncnorm') }\"")
    return ParamSpec(name, spec.kind, bounds=(lo, hi), distribution=dist, peak=peak, mean=mean, sd=sd,
                     scenarios=tuple(scen))


def load_spec(config: str | Path | dict, overrides: dict[str, Any] | None = None, *,
              where: str | None = None) -> SweepSpec:
    """Read and check a sweep file (or a dict of the same shape); ``overrides`` replace top-level keys.

    ``where``: for a dict, where it came from (e.g. the file a caller read it out of), named in
    messages and kept as the spec's source.
    """
    from commissim.model.params import validate_parameters
    from commissim.model.scenarios import load_scenario

    if isinstance(config, dict):
        raw, where, source = dict(config), where or "sweep", where or ""
    else:
        path = Path(config)
        if not path.is_file():
            raise SweepConfigError(f"sweep file '{path}' not found")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise SweepConfigError(f"{path}: not valid TOML: {exc}") from None
        where, source = str(path), str(path)
    for k, v in (overrides or {}).items():
        if v is not None:
            raw[k] = v
    _known_keys(where, raw, TOP_KEYS)
    method = _one_of(where, "method", raw.get("method", "sobol"), tuple(METHODS))
    m = METHODS[method]
    if "n" not in raw:
        raise SweepConfigError(f"{where}: 'n' is missing: the sample size ({m.size_rule})")
    n = _whole(where, "n", raw["n"], 2)
    seeds = _whole(where, "seeds", raw.get("seeds", DEFAULTS["seeds"]), 1)
    years = _whole(where, "years", raw.get("years", DEFAULTS["years"]), 1)
    root_seed = _whole(where, "root_seed", raw.get("root_seed", DEFAULTS["root_seed"]), 0)
    sample_seed = _whole(where, "sample_seed", raw.get("sample_seed", root_seed), 0)
    second = raw.get("second_order", False)
    if not isinstance(second, bool):
        raise _err(where, "second_order", second, "true or false")
    if second and method != "sobol":
        raise SweepConfigError(f"{where}: 'second_order' = true applies to method 'sobol' only (method is {method!r})")
    name = raw.get("name", Path(source).stem if source else "sweep")
    if not isinstance(name, str) or not name.strip():
        raise _err(where, "name", name, "a non-empty text")

    scenarios = _str_list(where, "scenarios", raw.get("scenarios", ["full_delegation"]))
    with rethrow(SweepConfigError, prefix=f"{where}: 'scenarios': "):
        for s in scenarios:
            load_scenario(s)
    outcomes = [_check_outcome(where, o) for o in _str_list(where, "outcomes", raw.get("outcomes"))]

    options_raw = raw.get("options", {})
    if not isinstance(options_raw, dict):
        raise _err(where, "options", options_raw, "a table of method settings")
    allowed_opts = m.options
    bad = set(options_raw) - set(allowed_opts)
    if bad and (overrides or {}).get("method") is not None:  # the file's options were for its own method
        options_raw = {k: v for k, v in options_raw.items() if k in allowed_opts}
        bad = set()
    if bad:
        raise SweepConfigError(f"{where}: options {', '.join(sorted(bad))} do not apply to method {method!r}; "
                               f"allowed: {', '.join(allowed_opts)}")
    options = {**allowed_opts, **options_raw}
    for k in ("num_resamples", "num_levels", "M"):
        if k in options:
            _whole(f"{where}: options", k, options[k], 2 if k == "num_levels" else 1)
    cl = options.get("conf_level")
    if not _is_num(cl) or not 0 < cl < 1:
        raise _err(f"{where}: options", "conf_level", cl, "a number between 0 and 1, e.g. 0.95")
    m.check(n, options, where)

    fixed_raw = raw.get("fixed", {})
    if not isinstance(fixed_raw, dict):
        raise _err(where, "fixed", fixed_raw, "a table NAME = VALUE")
    with rethrow(SweepConfigError):
        fixed = validate_parameters(fixed_raw, where=f"{where}: fixed")

    praw = raw.get("parameters")
    if not isinstance(praw, dict) or not praw:
        raise SweepConfigError(f"{where}: 'parameters' is missing or empty: give at least one parameter, "
                               "e.g. system_weight = { bounds = [0.0, 20.0] }")
    params = [_param_spec(k, v, scenarios, where) for k, v in praw.items()]
    clash = sorted(set(fixed) & {p.name for p in params})
    if clash:
        raise SweepConfigError(f"{where}: {', '.join(clash)} both fixed and swept; give each in one place")
    spec = SweepSpec(name=name.strip(), method=method, n=n, seeds=seeds, years=years, root_seed=root_seed,
                     sample_seed=sample_seed, scenarios=scenarios, outcomes=outcomes, second_order=second,
                     options=options, fixed=fixed, params=params, description=str(raw.get("description", "")),
                     source=source)
    for s in scenarios:
        d = len(spec.params_for(s))
        if d == 0:
            raise SweepConfigError(f"{where}: no parameter applies to scenario {s!r}; list it in some "
                                   "parameter's 'scenarios' or drop it")
        if d < m.min_params:
            raise SweepConfigError(f"{where}: method '{method}' needs at least {m.min_params} parameters for "
                                   f"scenario {s!r}")
    warning = m.size_warning(n)
    if warning:
        spec.warnings.append(warning)
    return spec


# --------------------------------------------------------------------------- sampling and mapping
def _unit_to_float(p: ParamSpec, u: np.ndarray) -> np.ndarray:
    from scipy import stats

    lo, hi = p.bounds
    if p.distribution == "unif":
        return lo + u * (hi - lo)
    if p.distribution == "triang":
        c = (p.peak - lo) / (hi - lo)
        return stats.triang.ppf(u, c=c, loc=lo, scale=hi - lo)
    if p.distribution == "logunif":
        return stats.loguniform.ppf(u, a=lo, b=hi)
    if p.distribution == "truncnorm":
        return stats.truncnorm.ppf(u, (lo - p.mean) / p.sd, (hi - p.mean) / p.sd, loc=p.mean, scale=p.sd)
    raise AssertionError(p.distribution)


def map_unit(p: ParamSpec, u: np.ndarray | float) -> list[Any]:
    """Unit-hypercube values ``u`` in [0, 1] -> model values of parameter ``p`` (THE mapping).

    floats by the distribution's inverse CDF; ints ``floor(low + u (high - low + 1))`` clipped
    to ``high``; levels ``levels[min(floor(u k), k - 1)]``.
    """
    u = np.clip(np.atleast_1d(np.asarray(u, dtype=float)), 0.0, 1.0)
    if p.levels is not None:
        k = len(p.levels)
        idx = np.minimum(np.floor(u * k).astype(int), k - 1)
        return [p.levels[i] for i in idx]
    lo, hi = p.bounds
    if p.kind == "int":
        vals = np.minimum(np.floor(lo + u * (hi - lo + 1)), hi).astype(int)
        return [int(v) for v in vals]
    vals = np.clip(_unit_to_float(p, u), lo, hi)
    return [float(v) for v in vals]


def draw_sample(spec: SweepSpec, scenario: str) -> np.ndarray:
    """The SALib sample (unit hypercube) of one scenario; deterministic in ``spec.sample_seed``."""
    return METHODS[spec.method].sample(spec.problem(scenario), spec.n, spec.options, int(spec.sample_seed),
                                       spec.second_order)


def design_for(spec: SweepSpec, scenario: str, X: np.ndarray) -> list[dict[str, Any]]:
    """Design points (model values) for the sample rows ``X`` of one scenario."""
    params = spec.params_for(scenario)
    cols = [map_unit(p, X[:, j]) for j, p in enumerate(params)]
    return [{"scenario": scenario, **spec.fixed, **{p.name: cols[j][i] for j, p in enumerate(params)}}
            for i in range(X.shape[0])]
