"""Calibration and validation targets: the model quantities ``seeds/calibration.csv`` and
``seeds/validation.csv`` name, and one picklable run function that records them.

A target row names a ``quantity`` (e.g. ``trust_sector_margin``, ``n_centres:major_trauma``,
``delegated_value:region:South East``) and a financial ``year`` (empty for facts of the seed data).
``quantity(model, name)`` evaluates a quantity on a model at its current year; ``target_run`` runs a
scenario year by year and returns every requested quantity as ``"name@year"`` keys, so the batch
engine can store them like any summary measure. Calibration rows are the facts the inputs are
fitted to (or hold by construction); validation rows are compared, never fitted.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import TIERS, seeds_dir
from .errors import SeedDataError
from .scenarios import BASE_YEAR

TOLERANCE_KINDS = ("abs", "rel", "max", "min")
TARGET_FILES = ("calibration.csv", "validation.csv")


@dataclass(frozen=True)
class Target:
    """One fact: what the model should reproduce (calibration) or is compared with (validation)."""

    file: str
    fact: str
    quantity: str
    year: str  # "2023-24" or "" (a fact of the seed data)
    value: float
    unit: str
    tolerance: float
    tolerance_kind: str
    source: str
    confidence: str
    fitted_by: str = ""
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.quantity}@{self.year or 'data'}"

    def passes(self, model_value: float) -> bool:
        v, t = self.value, self.tolerance
        if model_value is None or not np.isfinite(model_value):
            return False
        if self.tolerance_kind == "abs":
            return abs(model_value - v) <= t + 1e-12
        if self.tolerance_kind == "rel":
            return abs(model_value - v) <= t * abs(v) + 1e-12
        if self.tolerance_kind == "max":
            return model_value <= v + t + 1e-12
        return model_value >= v - t - 1e-12  # "min"

    def band(self) -> tuple[float, float]:
        """The accepted range (low, high); an open side is +-inf."""
        v, t = self.value, self.tolerance
        if self.tolerance_kind == "abs":
            return v - t, v + t
        if self.tolerance_kind == "rel":
            return v - t * abs(v), v + t * abs(v)
        if self.tolerance_kind == "max":
            return -np.inf, v + t
        return v - t, np.inf


def load_targets(folder: str | Path | None = None) -> list[Target]:
    """Both target tables; a row without a source, a bad number or an unknown tolerance kind is refused."""
    folder = Path(folder) if folder is not None else seeds_dir()
    out: list[Target] = []
    for name in TARGET_FILES:
        path = folder / name
        if not path.exists():
            raise SeedDataError(f"{path}: target table not found")
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for i, r in enumerate(rows):
            where = f"{name} row {i + 2}"
            for field in ("fact", "quantity", "value", "tolerance", "tolerance_kind", "source"):
                if not (r.get(field) or "").strip():
                    raise SeedDataError(f"{where}, field '{field}': empty value (every target needs it)")
            try:
                value, tol = float(r["value"]), float(r["tolerance"])
            except ValueError:
                raise SeedDataError(f"{where}: value {r['value']!r} or tolerance {r['tolerance']!r} is not a number") from None
            if r["tolerance_kind"] not in TOLERANCE_KINDS:
                raise SeedDataError(f"{where}, field 'tolerance_kind': value {r['tolerance_kind']!r} is not one of "
                                    f"{', '.join(TOLERANCE_KINDS)}")
            out.append(Target(name, r["fact"].strip(), r["quantity"].strip(), (r.get("year") or "").strip(), value,
                              r.get("unit", ""), tol, r["tolerance_kind"], r["source"].strip(),
                              r.get("confidence", ""), r.get("fitted_by", ""), r.get("note", "")))
    return out


# --------------------------------------------------------------------------- quantities
def _kinds(group: str) -> tuple[str, ...]:
    return {"specialist_childrens": ("specialist", "childrens"), "shelford": ("shelford",),
            "teaching": ("teaching",), "local": ("local",), "acute": ("shelford", "teaching", "local")}[group]


def out_of_area_shares(model) -> np.ndarray:
    """Each provider's share of specialised income from residents outside its host ICB (this year)."""
    st, d, lines = model.state, model.data, model.lines
    out = (st.payments * st.out_icb).sum(axis=0)
    tot = st.payments.sum(axis=0)
    num = np.bincount(lines.p, weights=out, minlength=d.n_providers)
    den = np.bincount(lines.p, weights=tot, minlength=d.n_providers)
    return np.divide(num, den, out=np.full(d.n_providers, np.nan), where=den > 0)


def quantity(model, name: str) -> float:
    """Evaluate a target quantity on ``model`` at its current year."""
    d, st, m = model.data, model.state, model.measures
    head, _, arg = name.partition(":")
    if head == "n_icbs":
        return float(d.n_icbs)
    if head == "n_regions":
        return float(d.n_regions)
    if head == "population":
        return float(d.population.sum())
    if head == "n_service_lines":
        return float(d.lines.sum())
    if head == "n_delegable_lines":
        return float(d.lines[d.tier == TIERS.index("delegable")].sum())
    if head == "n_highly_specialised_lines":
        return float(d.lines[d.tier == TIERS.index("highly_specialised")].sum())
    if head == "n_lines_59":
        return float(d.lines[d.in_59].sum())
    if head == "n_lines_70":
        return float(d.lines[d.in_70].sum())
    if head == "n_joint_committees":
        return float(len(d.jc_names))
    if head == "n_wave_2_icbs":
        return float((d.delegation_wave == 2).sum())
    if head in ("n_centres", "unit_cost", "cases"):
        s = list(d.service_id).index(arg)
        if head == "n_centres":
            return float((d.base_cases[:, s] > 0).sum())
        if head == "unit_cost":
            return float(d.cost_per_case[s])
        return float(d.base_cases[:, s].sum())
    if head == "mean_patients_per_hss_line":
        hss = d.tier == TIERS.index("highly_specialised")
        return float(d.base_cases.sum(axis=0)[hss].sum() / max(int(d.lines[hss].sum()), 1))
    if head == "seed_systems_in_deficit":
        return float((d.financial_position < 0).sum())
    if head == "seed_system_deficit_gbp_bn":
        return float((-np.minimum(d.financial_position, 0) * d.core_allocation).sum() / 1e3)
    if head == "specialised_spend":
        return float(m["total_spend"])
    if head == "specialised_budget":
        return float(m["budget_total"])
    if head in ("value_lines_59", "value_lines_70"):
        mask = d.in_59 if head.endswith("59") else d.in_70
        return float(st.cell_budget[:, mask].sum() / 1e3)
    if head == "specialised_share_of_income":
        p = list(d.provider_code).index(arg)
        return float(st.spec_income[p] / st.turnover[p])
    if head == "top10_share":
        inc = st.spec_income
        return float(np.sort(inc)[-10:].sum() / inc.sum())
    if head == "trust_sector_margin":
        return float(m["trust_sector_margin"])
    if head == "trusts_in_deficit_share":
        sel = np.isin(d.provider_kind, _kinds(arg)) if arg else np.ones(d.n_providers, bool)
        return float((st.surplus[sel] < 0).mean())
    if head == "icb_sector_deficit_gbp_m":
        return float(m["icb_sector_deficit"])
    if head == "systems_in_deficit":
        return float(m["systems_in_deficit"])
    if head == "margin_change_specialist_minus_acute":
        prev = getattr(st, "prev_kind_margins", None)
        now = (m["specialist_trust_margin"], m["acute_trust_margin"])
        if prev is None:
            return float("nan")
        return float((now[0] - prev[0]) - (now[1] - prev[1]))
    if head == "delegated_value":
        kind, _, rest = arg.partition(":")
        deleg = st.delegated_cells
        if kind == "wave_2":
            rows = d.delegation_wave == 2
        elif kind == "region":
            rows = d.region_short[d.icb_region] == rest
        else:
            raise ValueError(f"unknown delegated_value selector {arg!r}")
        return float(np.where(deleg & rows[:, None], st.cell_budget, 0.0).sum() / 1e3)
    if head in ("out_of_area_share_mean", "out_of_area_share_mae"):
        share = out_of_area_shares(model)
        obs = d.observed_out_of_area
        sel = np.isin(d.provider_kind, _kinds(arg)) & ~np.isnan(obs) & ~np.isnan(share)
        if head == "out_of_area_share_mean":
            return float(share[sel].mean())
        return float(np.abs(share[sel] - obs[sel]).mean())
    raise ValueError(f"unknown target quantity {name!r}")


def target_run(scenario: str = "as_happened", years: int | None = None, rng: Any = None, *,
               seeds_path: str | None = None, series: bool = False, **parameters: Any) -> dict[str, Any]:
    """Run ``scenario`` through the years the targets name and return every target quantity.

    Keys are ``"quantity@year"`` (``"quantity@data"`` for facts of the seed data). A module-level
    function, so the batch engine can run it on processes or Dask like ``simulate``.
    """
    from .model import CommissioningModel

    targets = load_targets(Path(seeds_path) if seeds_path else None)
    by_year: dict[int, list[Target]] = {}
    for t in targets:
        if t.year:
            by_year.setdefault(int(t.year[:4]), []).append(t)
    last = max([BASE_YEAR, *by_year])
    if years is not None:
        last = max(last, BASE_YEAR + int(years))
    model = CommissioningModel(scenario=scenario, rng=rng, collect_agent_data=False, seeds_path=seeds_path,
                               **parameters)
    out: dict[str, Any] = {}
    for t in targets:  # facts of the seed data
        if not t.year:
            out[t.key] = quantity(model, t.quantity)
    while True:
        for t in by_year.get(model.year, []):
            out[t.key] = quantity(model, t.quantity)
        model.state.prev_kind_margins = (model.measures["specialist_trust_margin"],
                                         model.measures["acute_trust_margin"])
        if model.year >= last:
            break
        model.step()
    out["scenario"] = model.policy_name
    out["years"] = model.year - BASE_YEAR
    return out
