"""Policy scenarios: named, validated configurations stored as plain TOML files.

A scenario file looks like::

    name = "full_delegation"
    description = "65 of 154 service lines delegated to every ICB from 2023-24"
    source = "001, 002"

    [parameters]            # applied from the base year
    arrangement = "delegated"

    [[changes]]             # optional: parameters that change from a financial year on
    year = "2025-26"        # or 2025 (the calendar year the financial year starts)
    delegated_set = "as_happened_70"

Any model parameter (``commissim`` lists them in ``model.params``) may appear under
``[parameters]``; in a change, any parameter the model reads every round. The ones it reads
once, when it is built (``when="setup"`` in ``model.params``: ``params.SETUP_PARAMS``), are
refused in ``[[changes]]``: a change from a later year would have no effect. The built-in scenarios live next to this module;
copy one, edit it and pass its path wherever a scenario name is accepted.

Mesa's ``Model`` owns a ``scenario`` attribute of its own, so the model keeps the
policy scenario as ``model.policy`` (a ``PolicyScenario``) and never forwards the
``scenario`` keyword to Mesa.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ParameterError, ScenarioError, rethrow
from ..params import PARAM_BY_NAME, validate_parameters

BASE_YEAR = 2022  # financial year 2022-23
SCENARIO_DIR = Path(__file__).resolve().parent
_TOP_KEYS = {"name", "description", "source", "parameters", "changes", "illustrative"}


def fy_label(year: int) -> str:
    """2023 -> '2023-24'."""
    return f"{year}-{(year + 1) % 100:02d}"


def _parse_year(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: 'year' value {value!r} is not a year; use e.g. 2025 or \"2025-26\"")
    if isinstance(value, int):
        year = value
    elif isinstance(value, str) and re.fullmatch(r"\d{4}(-\d{2})?", value.strip()):
        year = int(value.strip()[:4])
        if len(value.strip()) == 7 and value.strip()[5:] != f"{(year + 1) % 100:02d}":
            raise ScenarioError(f"{where}: 'year' value {value!r} is not a financial year like \"2025-26\"")
    else:
        raise ScenarioError(f"{where}: 'year' value {value!r} is not a year; use e.g. 2025 or \"2025-26\"")
    if not BASE_YEAR < year <= BASE_YEAR + 100:
        raise ScenarioError(
            f"{where}: 'year' value {value!r} is out of range; changes take effect from {BASE_YEAR + 1} "
            f"({fy_label(BASE_YEAR + 1)}) on"
        )
    return year


@dataclass(frozen=True)
class PolicyScenario:
    """A named commissioning arrangement: base parameters plus dated changes."""

    name: str
    description: str
    source: str
    parameters: dict[str, Any] = field(default_factory=dict)
    changes: tuple[tuple[int, dict[str, Any]], ...] = ()
    path: str = ""
    illustrative: bool = False

    def parameters_for(self, year: int) -> dict[str, Any]:
        """The scenario's own parameter values in force in financial year ``year``."""
        out = dict(self.parameters)
        for y, change in self.changes:
            if y <= year:
                out.update(change)
        return out

    def change_years(self) -> list[int]:
        return sorted({y for y, _ in self.changes})


def _unknown_keys(keys: list[str]) -> str:
    """``unknown key 'yaer' (did you mean 'year'?)``, naming every unknown key with its closest match."""
    import difflib

    parts = []
    for key in keys:
        close = difflib.get_close_matches(key, ["year", *PARAM_BY_NAME], n=1)
        parts.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return f"unknown key{'s' if len(keys) > 1 else ''} " + ", ".join(parts)


def changes_after(scenario: PolicyScenario, last_year: int, overridden=()) -> list[str]:
    """Warnings (one line each) for the scenario's changes dated after ``last_year``, the financial year a run
    ends in (``BASE_YEAR + years``): they take effect after the run and change nothing in it. Changes whose
    parameters are all ``overridden`` by the user are left out (they would change nothing anyway)."""
    out = []
    for year, change in scenario.changes:
        names = [k for k in change if k not in set(overridden)]
        if year > last_year and names:
            out.append(f"scenario {scenario.name}: the change from {fy_label(year)} ({', '.join(names)}) comes after "
                       f"the run's last year, {fy_label(last_year)}, so it has no effect in this run; run more years "
                       f"to include it")
    return out


def parse_scenario(text: str, *, origin: str = "<string>") -> PolicyScenario:
    """Parse and validate scenario TOML text; errors name the file, key and value."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{origin}: not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ScenarioError(
            f"{origin}: unknown key(s) {', '.join(repr(k) for k in unknown)}; allowed top-level keys: "
            f"{', '.join(sorted(_TOP_KEYS))} (model parameters go under [parameters])"
        )
    for key in ("name", "description", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ScenarioError(f"{origin}: key '{key}' must be a non-empty string (got {raw.get(key)!r})")
    name = raw["name"].strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ScenarioError(f"{origin}: key 'name' value {name!r} must be lower_snake_case (letters, digits, _)")
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise ScenarioError(f"{origin}: 'parameters' must be a table ([parameters]), got {type(params).__name__}")
    with rethrow(ScenarioError, ParameterError):
        params = validate_parameters(params, where=f"{origin} [parameters]")
    changes_raw = raw.get("changes", [])
    if not isinstance(changes_raw, list) or not all(isinstance(c, dict) for c in changes_raw):
        raise ScenarioError(f"{origin}: 'changes' must be an array of tables ([[changes]])")
    changes = []
    for k, ch in enumerate(changes_raw, start=1):
        where = f"{origin} [[changes]] #{k}"
        unknown = [key for key in ch if key != "year" and key not in PARAM_BY_NAME]
        if unknown:
            raise ScenarioError(f"{where}: {_unknown_keys(unknown)}; a [[changes]] block holds 'year' and the "
                                "parameters that change from that year")
        if "year" not in ch:
            raise ScenarioError(f"{where}: missing key 'year' (the financial year the change takes effect)")
        year = _parse_year(ch["year"], where)
        rest = {key: v for key, v in ch.items() if key != "year"}
        if not rest:
            raise ScenarioError(f"{where}: no parameters to change")
        with rethrow(ScenarioError, ParameterError):
            rest = validate_parameters(rest, where=where)
        setup = [k for k in rest if PARAM_BY_NAME[k].when == "setup"]
        if setup:
            raise ScenarioError(
                f"{where}: parameter '{setup[0]}' is read once, when the model is built, so changing it from "
                f"{fy_label(year)} would have no effect; set it under [parameters] instead (it then holds from the "
                "base year)"
            )
        for y, earlier in changes:
            clash = sorted(set(earlier) & set(rest)) if y == year else []
            if clash:
                raise ScenarioError(
                    f"{where}: {', '.join(repr(c) for c in clash)} already set for {fy_label(year)} by an earlier "
                    "[[changes]] block; give each parameter once per year"
                )
        changes.append((year, rest))
    changes.sort(key=lambda c: c[0])
    illustrative = raw.get("illustrative", False)
    if not isinstance(illustrative, bool):
        raise ScenarioError(f"{origin}: key 'illustrative' must be true or false (got {illustrative!r})")
    return PolicyScenario(
        name=name,
        description=raw["description"].strip(),
        source=raw["source"].strip(),
        parameters=params,
        changes=tuple(changes),
        path=origin,
        illustrative=illustrative,
    )


def builtin_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


_CACHE: dict[str, PolicyScenario] = {}


def load_scenario(name_or_path: str | Path | PolicyScenario) -> PolicyScenario:
    """A built-in scenario by name, or a scenario TOML file by path."""
    if isinstance(name_or_path, PolicyScenario):
        return name_or_path
    key = str(name_or_path)
    if key in _CACHE:
        return _CACHE[key]
    path = Path(key)
    if key.endswith(".toml") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"scenario file '{key}' not found")
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError) as exc:
            raise ScenarioError(f"scenario file '{key}' cannot be read as UTF-8 text ({exc})") from None
        scen = parse_scenario(text, origin=str(path))
    else:
        names = builtin_names()
        if key not in names:
            import difflib

            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ScenarioError(f"unknown scenario '{key}'{hint}; valid scenarios: {', '.join(names)}")
        f = SCENARIO_DIR / f"{key}.toml"
        scen = parse_scenario(f.read_text(encoding="utf-8"), origin=f.name)
        if scen.name != key:
            raise ScenarioError(f"{f.name}: key 'name' is {scen.name!r} but the file is named {key!r}")
    _CACHE[key] = scen
    return scen


# Order used in listings and comparisons: the brief's table, then the extras.
_ORDER = ["nhse_direct", "full_delegation", "joint_committees", "trailblazer", "pan_icb", "needs_based", "as_happened"]


def list_scenarios() -> list[PolicyScenario]:
    names = builtin_names()
    ordered = [n for n in _ORDER if n in names] + [n for n in names if n not in _ORDER]
    return [load_scenario(n) for n in ordered]
