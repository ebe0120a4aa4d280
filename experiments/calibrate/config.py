"""The calibration file: which parameters, with which priors and why, fitted to which facts.

A TOML file (``experiments/configs/calibrate_record.toml`` is the headline one)::

    name = "record"                    # results go to results/calibrate_record by default
    description = "..."
    scenario = "as_happened"           # the path the facts were published on (the default)
    seed = 20230401                    # root of every seed: particles, model runs, posterior draws
    particles = 1000                   # accepted particles per generation (--particles)
    generations = 6                    # at most this many ABC-SMC generations (--generations)
    minimum_epsilon = 1.0              # stop earlier once the acceptance threshold is this small
    alpha = 0.5                        # each threshold is this quantile of the last generation's distances
    facts = ["trust_sector_margin@2022-23", "trust_sector_margin@2023-24"]

    [fixed]                            # parameters set in every run (optional, checked by the model)
    demand_noise = 0.0

    [parameters.deficit_severity]      # one table per parameter, named as in model/params.py
    prior = "uniform"                  # uniform (low, high) | normal (mean, sd; cut at low/high or the
    low = 0.5                          #   parameter's range) | choice (values, optional weights)
    high = 2.0
    reason = "no figure: wide"         # a source, a published range, or "no figure: wide"

A fact is a row of ``seeds/calibration.csv``, named by its key ``quantity@year`` (``quantity@data`` for a
fact of the seed data) or by its ``fact`` text. A row of ``seeds/validation.csv`` is refused: a validation
fact is only ever compared with, never fitted. Each fact enters the distance scaled by its stated
uncertainty (its tolerance), so a fact stated with no uncertainty (tolerance 0: it holds by construction)
cannot be fitted either. Everything is read from the registries (``commissim.model.params.PARAMS``, the
two target tables): nothing here lists parameters or facts.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

__all__ = ["CalibrationConfigError", "Prior", "Fact", "CalibrationConfig", "load_config", "PRIOR_KINDS"]

PRIOR_KINDS = ("uniform", "normal", "choice")
TOP_KEYS = ("name", "description", "scenario", "seed", "particles", "generations", "minimum_epsilon", "alpha",
            "facts", "fixed", "parameters", "seeds_path")
# Parameters that make a scenario what it is (the as_happened path is fixed by its scenario file).
SCENARIO_DEFINING = frozenset({"arrangement", "delegated_set", "icb_footprint"})


class CalibrationConfigError(UserError):
    """The calibration file (or an option) asks for something not allowed."""


def _close(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


@dataclass(frozen=True)
class Prior:
    """One parameter's prior, in the parameter's own units, with the reason for it."""

    name: str
    kind: str  # uniform | normal | choice
    reason: str
    param_kind: str  # the registry's kind: float | int | bool | choice
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = None
    values: tuple = ()
    weights: tuple = ()

    @property
    def discrete(self) -> bool:
        return self.kind == "choice" or (self.kind == "uniform" and self.param_kind == "int")

    @property
    def domain(self) -> tuple:
        """The values of a discrete prior (in the parameter's units)."""
        if self.kind == "choice":
            return self.values
        if self.discrete:
            return tuple(range(int(self.low), int(self.high) + 1))
        return ()

    def probabilities(self) -> np.ndarray:
        n = len(self.domain)
        w = np.asarray(self.weights if self.weights else [1.0] * n, float)
        return w / w.sum()

    def frozen(self):
        """The prior as a frozen scipy distribution: a discrete prior is over the index of its value."""
        from scipy import stats

        if self.discrete:
            return stats.rv_discrete(values=(np.arange(len(self.domain)), self.probabilities()))
        if self.kind == "uniform":
            return stats.uniform(self.low, self.high - self.low)
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return stats.truncnorm(a, b, loc=self.mean, scale=self.sd)

    def encode(self, value: Any) -> float:
        """A parameter value as the number the sampler sees (the index of a discrete value)."""
        if self.discrete:
            return float(list(self.domain).index(value))
        return float(value)

    def decode(self, x: float) -> Any:
        """The sampler's number back to the parameter's value."""
        if self.discrete:
            return self.domain[int(round(float(x)))]
        return float(x)

    def quantiles(self, qs) -> list[Any]:
        return [self.decode(v) for v in self.frozen().ppf(np.asarray(qs, float))]

    def sample(self, n: int, rng: np.random.Generator) -> list[Any]:
        u = rng.random(n)
        return [self.decode(v) for v in self.frozen().ppf(u)]

    def describe(self) -> str:
        if self.kind == "uniform":
            return f"uniform {_fmt(self.low)} to {_fmt(self.high)}" + (" (whole numbers)" if self.discrete else "")
        if self.kind == "normal":
            return f"normal mean {_fmt(self.mean)}, sd {_fmt(self.sd)}, cut at {_fmt(self.low)} and {_fmt(self.high)}"
        probs = self.probabilities()
        return "one of " + ", ".join(f"{v} ({p:.0%})" for v, p in zip(self.values, probs))


def _fmt(x) -> str:
    if isinstance(x, float) and x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3g}"
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


@dataclass(frozen=True)
class Fact:
    """A calibration fact: a row of seeds/calibration.csv and how it scales the distance."""

    key: str  # quantity@year
    fact: str
    quantity: str
    year: str  # "" for a fact of the seed data
    value: float
    tolerance: float
    tolerance_kind: str  # abs | rel | max | min
    unit: str
    source: str
    fitted_by: str = ""  # the seed input already fitted to this fact (the fitted_by column), if any

    @property
    def scale(self) -> float:
        """The stated uncertainty in the fact's units: the tolerance (relative ones times the figure)."""
        return self.tolerance * abs(self.value) if self.tolerance_kind == "rel" else self.tolerance

    def residual(self, x: float) -> float:
        """(model - published) / uncertainty; for a one-sided fact only a value on the wrong side counts."""
        if x is None or not np.isfinite(x):
            return math.inf
        r = (float(x) - self.value) / self.scale
        if self.tolerance_kind == "max":
            return max(r, 0.0)
        if self.tolerance_kind == "min":
            return min(r, 0.0)
        return r

    def band(self) -> tuple[float, float]:
        v, s = self.value, self.scale
        if self.tolerance_kind == "max":
            return -math.inf, v + s
        if self.tolerance_kind == "min":
            return v - s, math.inf
        return v - s, v + s


@dataclass
class CalibrationConfig:
    """A checked calibration file."""

    path: Path | None
    name: str
    description: str
    scenario: str
    seed: int
    particles: int
    generations: int
    minimum_epsilon: float
    alpha: float
    priors: list[Prior]
    facts: list[Fact]
    fixed: dict[str, Any] = field(default_factory=dict)
    seeds_path: str | None = None

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.priors]

    def prior(self, name: str) -> Prior:
        return next(p for p in self.priors if p.name == name)

    def identity(self) -> dict[str, Any]:
        """What a folder's posterior depends on (its hash): not the number of generations, so asking for
        more generations extends a finished calibration."""
        return {
            "scenario": self.scenario, "seed": self.seed, "particles": self.particles, "alpha": self.alpha,
            "priors": [p.__dict__ for p in self.priors], "facts": [f.__dict__ for f in self.facts],
            "fixed": self.fixed, "seeds_path": self.seeds_path,
        }

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "generations": self.generations,
                "minimum_epsilon": self.minimum_epsilon, **self.identity()}


# --------------------------------------------------------------------------- reading and checking
def _number(where: str, value: Any, *, whole: bool = False, low: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and float(value) != int(value)):
        what = "a whole number" if whole else "a number"
        raise CalibrationConfigError(f"{where}: value {value!r} is not allowed; expected {what}")
    if low is not None and value < low:
        raise CalibrationConfigError(f"{where}: value {value!r} is not allowed; expected at least {low}")
    return int(value) if whole else float(value)


def _prior(where: str, name: str, table: Any) -> Prior:
    from commissim.model.params import PARAM_BY_NAME

    spec = PARAM_BY_NAME.get(name)
    if spec is None:
        raise CalibrationConfigError(f"{where}: unknown parameter '{name}'{_close(name, PARAM_BY_NAME)}; the "
                                     "parameters are those of commissim.model.params.PARAMS")
    if name in SCENARIO_DEFINING:
        raise CalibrationConfigError(f"{where}: '{name}' defines the scenario the facts were published on; it "
                                     "cannot be calibrated")
    if not isinstance(table, dict):
        raise CalibrationConfigError(f"{where}: expected a table (prior = ..., reason = ...), got {table!r}")
    allowed = ("prior", "low", "high", "mean", "sd", "values", "weights", "reason")
    for key in table:
        if key not in allowed:
            raise CalibrationConfigError(f"{where}: unknown key '{key}'{_close(key, allowed)}; allowed: "
                                         f"{', '.join(allowed)}")
    reason = table.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise CalibrationConfigError(f"{where}: no reason for the prior; give reason = a source, a published "
                                     "range, or \"no figure: wide\"")
    kind = table.get("prior", "choice" if spec.kind in ("bool", "choice") else "uniform")
    if kind not in PRIOR_KINDS:
        raise CalibrationConfigError(f"{where}: prior {kind!r} is not allowed; expected one of "
                                     f"{', '.join(PRIOR_KINDS)}")
    if spec.kind in ("bool", "choice") and kind != "choice":
        raise CalibrationConfigError(f"{where}: '{name}' takes {'true or false' if spec.kind == 'bool' else 'one of ' + ', '.join(spec.choices)}; "
                                     "its prior must be prior = \"choice\" with values = [...]")
    if kind == "choice":
        values = table.get("values")
        if values is None and spec.kind == "bool":
            values = [False, True]
        if values is None and spec.kind == "choice":
            values = list(spec.choices)
        if not isinstance(values, list) or not values:
            raise CalibrationConfigError(f"{where}: a choice prior needs values = [...]")
        if len(set(map(repr, values))) != len(values):
            raise CalibrationConfigError(f"{where}: values {values!r} repeat a value")
        for v in values:
            try:
                spec.check(v)
            except Exception as exc:  # noqa: BLE001 - the registry's message names what is allowed
                raise CalibrationConfigError(f"{where}: prior value {v!r} lies outside the parameter's range: "
                                             f"{exc}") from None
        values = [spec.check(v) for v in values]
        weights = table.get("weights")
        if weights is not None:
            if (not isinstance(weights, list) or len(weights) != len(values)
                    or any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights)
                    or sum(weights) <= 0):
                raise CalibrationConfigError(f"{where}: weights {weights!r} must be {len(values)} numbers >= 0, "
                                             "not all 0")
        return Prior(name, "choice", reason.strip(), spec.kind, values=tuple(values),
                     weights=tuple(float(w) for w in weights) if weights else ())
    whole = spec.kind == "int"
    if kind == "uniform":
        for key in ("low", "high"):
            if key not in table:
                raise CalibrationConfigError(f"{where}: a uniform prior needs low and high")
        low, high = (_number(f"{where}, {k}", table[k], whole=whole) for k in ("low", "high"))
        if not low < high:
            raise CalibrationConfigError(f"{where}: low {low} must be below high {high}")
        mean = sd = None
    else:
        if whole:
            raise CalibrationConfigError(f"{where}: '{name}' is a whole number; give it a uniform or choice prior")
        for key in ("mean", "sd"):
            if key not in table:
                raise CalibrationConfigError(f"{where}: a normal prior needs mean and sd")
        mean = _number(f"{where}, mean", table["mean"])
        sd = _number(f"{where}, sd", table["sd"])
        if sd <= 0:
            raise CalibrationConfigError(f"{where}: sd {sd} must be above 0")
        low = _number(f"{where}, low", table["low"]) if "low" in table else float(spec.low)
        high = _number(f"{where}, high", table["high"]) if "high" in table else float(spec.high)
        if not low <= mean <= high:
            raise CalibrationConfigError(f"{where}: mean {mean} lies outside the prior's bounds {low} to {high}")
    if low < spec.low or high > spec.high:
        raise CalibrationConfigError(f"{where}: prior {low:g} to {high:g} lies outside the parameter's range "
                                     f"{spec.low:g} to {spec.high:g} (model/params.py)")
    return Prior(name, kind, reason.strip(), spec.kind, low=low, high=high, mean=mean, sd=sd)


def _facts(names: Any, where: str, seeds_path: str | None) -> list[Fact]:
    from commissim.model.targets import load_targets

    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise CalibrationConfigError(f"{where}: expected a list of facts (rows of seeds/calibration.csv, by key "
                                     "quantity@year or by their fact text)")
    targets = load_targets(Path(seeds_path) if seeds_path else None)
    cal = {t.key: t for t in targets if t.file == "calibration.csv"}
    cal_by_text = {t.fact: t for t in targets if t.file == "calibration.csv"}
    val = {t.key: t for t in targets if t.file == "validation.csv"}
    val_by_text = {t.fact: t for t in targets if t.file == "validation.csv"}
    out: list[Fact] = []
    for name in names:
        t = cal.get(name) or cal_by_text.get(name)
        if t is None:
            v = val.get(name) or val_by_text.get(name)
            if v is not None:
                raise CalibrationConfigError(
                    f"{where}: '{name}' is a row of seeds/validation.csv; a validation fact is only ever compared "
                    "with, never fitted, so it may not feed an input (choose rows of seeds/calibration.csv)")
            raise CalibrationConfigError(f"{where}: '{name}' is not a row of seeds/calibration.csv"
                                         f"{_close(name, [*cal, *cal_by_text])}")
        if any(f.key == t.key for f in out):
            raise CalibrationConfigError(f"{where}: '{name}' is given more than once")
        fact = Fact(t.key, t.fact, t.quantity, t.year, float(t.value), float(t.tolerance), t.tolerance_kind,
                    t.unit, t.source, (t.fitted_by or "").strip())
        if not fact.scale > 0:
            raise CalibrationConfigError(
                f"{where}: '{name}' states no uncertainty (tolerance {t.tolerance:g}): it holds by construction "
                "and cannot scale a distance; leave it out")
        out.append(fact)
    return out


def load_config(source: str | Path | dict, *, particles: int | None = None, generations: int | None = None,
                seeds_path: str | None = None) -> CalibrationConfig:
    """Read and check a calibration file (or a dict of the same keys); options given here win over the file's."""
    from commissim.model.params import validate_parameters
    from commissim.model.scenarios import load_scenario

    path = None
    if isinstance(source, dict):
        raw, where0 = dict(source), "calibration"
    else:
        path = Path(source)
        where0 = str(path)
        if not path.is_file():
            raise CalibrationConfigError(f"{path}: calibration file not found")
        try:
            raw = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CalibrationConfigError(f"{path}: not valid TOML ({exc})") from None
    for key in raw:
        if key not in TOP_KEYS:
            raise CalibrationConfigError(f"{where0}: unknown key '{key}'{_close(key, TOP_KEYS)}; allowed: "
                                         f"{', '.join(TOP_KEYS)}")
    name = raw.get("name") or (path.stem.removeprefix("calibrate_") if path else "calibration")
    scenario = raw.get("scenario", "as_happened")
    try:
        scenario_name = load_scenario(scenario).name
    except Exception as exc:  # noqa: BLE001 - the scenario loader names what is allowed
        raise CalibrationConfigError(f"{where0}, scenario: {exc}") from None
    seeds_path = seeds_path if seeds_path is not None else raw.get("seeds_path")
    seed = _number(f"{where0}, seed", raw.get("seed", 20230401), whole=True, low=0)
    n = _number("particles", particles if particles is not None else raw.get("particles", 1000), whole=True, low=2)
    g = _number("generations", generations if generations is not None else raw.get("generations", 6), whole=True,
                low=1)
    min_eps = _number(f"{where0}, minimum_epsilon", raw.get("minimum_epsilon", 0.0), low=0.0)
    alpha = _number(f"{where0}, alpha", raw.get("alpha", 0.5), low=0.0)
    if not 0 < alpha < 1:
        raise CalibrationConfigError(f"{where0}, alpha: value {alpha} is not allowed; expected between 0 and 1")
    params = raw.get("parameters")
    if not isinstance(params, dict) or not params:
        raise CalibrationConfigError(f"{where0}: no [parameters.NAME] tables; name at least one parameter with its "
                                     "prior and reason")
    priors = [_prior(f"{where0}, [parameters.{k}]", k, v) for k, v in params.items()]
    fixed_raw = raw.get("fixed", {})
    if not isinstance(fixed_raw, dict):
        raise CalibrationConfigError(f"{where0}, [fixed]: expected a table of parameter = value")
    try:
        fixed = validate_parameters(fixed_raw, where=f"{where0}, [fixed]")
    except Exception as exc:  # noqa: BLE001 - ParameterError: one line naming the parameter
        raise CalibrationConfigError(str(exc)) from None
    both = sorted(set(fixed) & {p.name for p in priors})
    if both:
        raise CalibrationConfigError(f"{where0}: {', '.join(both)} both fixed and given a prior; give one")
    facts = _facts(raw.get("facts"), f"{where0}, facts", seeds_path)
    return CalibrationConfig(path, str(name), str(raw.get("description", "")), scenario_name, int(seed), int(n),
                             int(g), float(min_eps), float(alpha), priors, facts, fixed, seeds_path)
