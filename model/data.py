"""Load and validate the seed tables in ``seeds/`` into plain numpy arrays.

The tables are read once per process and cached (``load_seeds``); every model
instance then builds its own arrays from the cached, read-only ``SeedData``.
Validation stops with a ``SeedDataError`` naming the file, the row (1-based,
counting the header as row 1) and the field.
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import SeedDataError

TIERS = ("highly_specialised", "delegable", "retained")
PROVIDER_KINDS = ("shelford", "specialist", "childrens", "teaching", "local")
PAYMENTS = ("tariff", "pass_through")
# The money path (funding.csv). Years not in a series follow the model's parameters for later years.
FUNDING_SERIES = ("specialised_allocation", "tariff_cost_uplift", "tariff_efficiency", "pay_award", "nonpay_inflation",
                  "core_allocation_growth", "provider_support", "provider_sector_income", "unfunded_cost_pressure",
                  "activity_pressure")
FUNDING_REQUIRED = ("specialised_allocation",)


def seeds_dir() -> Path:
    """The folder holding the seed tables: $COMMISSIM_SEEDS, else ``commissim.seeds``
    (the repo's ``seeds/``, next to ``model/`` in a source tree and in an installed package)."""
    env = os.environ.get("COMMISSIM_SEEDS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "seeds"


@dataclass(frozen=True)
class SeedData:
    """Everything the model is built from, as arrays (I ICBs, R regions, S services, P providers)."""

    # ICBs
    icb_code: np.ndarray
    icb_name: np.ndarray
    icb_short: np.ndarray
    icb_region: np.ndarray  # int index into region arrays
    population: np.ndarray
    need_index: np.ndarray  # age-based relative need per head (population-weighted mean 1)
    ageing_drift: np.ndarray  # yearly growth of need per head from ageing alone, less England's (see _ageing_drift)
    imd_most_deprived: np.ndarray  # share of LSOAs in England's most deprived IMD quintile
    icb_lat: np.ndarray
    icb_lon: np.ndarray
    financial_position: np.ndarray
    icb_body_position: np.ndarray  # ICB body's own surplus (+) / deficit (-), share of core allocation, 2022-23
    core_allocation: np.ndarray  # £m, 2022-23
    delegation_wave: np.ndarray  # 1 (2023-24), 2 (2024-25), 3 (2025-26): the public record of delegation
    nof_segment: np.ndarray  # NHS Oversight Framework segment (1-4)
    jc_footprint: np.ndarray  # int index into jc_names
    jc_names: tuple
    merger_group: np.ndarray  # int index into merger_names
    merger_names: tuple
    # regions
    region_code: np.ndarray
    region_name: np.ndarray
    region_short: np.ndarray
    # services
    service_id: np.ndarray
    service_name: np.ndarray
    tier: np.ndarray  # int index into TIERS
    lines: np.ndarray
    spend_share: np.ndarray
    cost_per_case: np.ndarray  # £
    fixed_share: np.ndarray
    min_volume: np.ndarray
    demand_growth: np.ndarray
    reach_km: np.ndarray
    in_59: np.ndarray
    in_70: np.ndarray
    pass_through: np.ndarray  # paid at cost (high-cost drugs and devices), not at tariff
    # providers
    provider_code: np.ndarray
    provider_name: np.ndarray
    provider_short: np.ndarray
    provider_icb: np.ndarray  # int index of host ICB
    provider_kind: np.ndarray  # str
    turnover: np.ndarray  # £m, 2022-23 operating income
    opening_margin: np.ndarray  # 2022-23 surplus (+) / deficit (-) as a share of turnover
    cash: np.ndarray  # £m, opening cash balance
    prov_lat: np.ndarray
    prov_lon: np.ndarray
    base_cases: np.ndarray  # (P, S)
    capacity: np.ndarray  # (P, S)
    # national spend series (history) and the money path (funding.csv: series -> {year: value})
    envelope_years: np.ndarray
    envelope_bn: np.ndarray
    funding: dict
    # observed catchments (provider_catchment.csv): share of admissions from outside the host ICB (NaN: not in file)
    observed_out_of_area: np.ndarray
    source_dir: str = ""
    # What the model derives from this data alone (e.g. base-year worlds), kept with it so it
    # lives and dies with the data: see ``model.base_world``.
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_icbs(self) -> int:
        return len(self.icb_code)

    @property
    def n_providers(self) -> int:
        return len(self.provider_code)

    @property
    def n_services(self) -> int:
        return len(self.service_id)

    @property
    def n_regions(self) -> int:
        return len(self.region_code)

    def envelope(self, year: int) -> float:
        """National specialised spend (£bn) for the financial year starting ``year``."""
        hit = np.nonzero(self.envelope_years == year)[0]
        if len(hit) == 0:
            raise SeedDataError(f"envelope.csv: no spend figure for year {year}")
        return float(self.envelope_bn[hit[0]])

    def series(self, name: str, year: int) -> float | None:
        """A value of the money path (funding.csv) for the financial year starting ``year``, or None."""
        return self.funding.get(name, {}).get(int(year))


# --- reading helpers ---------------------------------------------------------------


class _Table:
    def __init__(self, path: Path, required: tuple[str, ...]):
        self.path = path
        self.name = path.name
        if not path.exists():
            raise SeedDataError(f"{path}: seed table not found (expected in {path.parent})")
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            self.columns = reader.fieldnames or []
            self.rows = list(reader)
        missing = [c for c in required if c not in self.columns]
        if missing:
            raise SeedDataError(
                f"{self.name}: missing column(s) {', '.join(missing)}; found {', '.join(self.columns)}"
            )
        if not self.rows:
            raise SeedDataError(f"{self.name}: no data rows")

    def where(self, i: int, field: str) -> str:
        return f"{self.name} row {i + 2}, field '{field}'"

    def text(self, field: str, *, allow_empty=False) -> list[str]:
        out = []
        for i, row in enumerate(self.rows):
            v = (row.get(field) or "").strip()
            if not v and not allow_empty:
                raise SeedDataError(f"{self.where(i, field)}: empty value")
            out.append(v)
        return out

    def num(self, field: str, *, low=None, high=None, integer=False) -> np.ndarray:
        out = []
        for i, row in enumerate(self.rows):
            raw = (row.get(field) or "").strip()
            try:
                v = float(raw)
            except ValueError:
                raise SeedDataError(f"{self.where(i, field)}: value {raw!r} is not a number") from None
            if not np.isfinite(v):
                raise SeedDataError(f"{self.where(i, field)}: value {raw!r} is not finite")
            if integer and v != int(v):
                raise SeedDataError(f"{self.where(i, field)}: value {raw!r} is not a whole number")
            if low is not None and v < low:
                raise SeedDataError(f"{self.where(i, field)}: value {raw!r} is below the allowed minimum {low}")
            if high is not None and v > high:
                raise SeedDataError(f"{self.where(i, field)}: value {raw!r} is above the allowed maximum {high}")
            out.append(v)
        return np.asarray(out, dtype=float)

    def boolean(self, field: str) -> np.ndarray:
        out = []
        for i, row in enumerate(self.rows):
            raw = (row.get(field) or "").strip().lower()
            if raw not in ("true", "false", "1", "0", "yes", "no"):
                raise SeedDataError(f"{self.where(i, field)}: value {raw!r} is not true/false")
            out.append(raw in ("true", "1", "yes"))
        return np.asarray(out, dtype=bool)

    def choice(self, field: str, allowed) -> list[str]:
        vals = self.text(field)
        for i, v in enumerate(vals):
            if v not in allowed:
                raise SeedDataError(f"{self.where(i, field)}: value {v!r} is not one of {', '.join(allowed)}")
        return vals

    def unique(self, field: str) -> list[str]:
        vals = self.text(field)
        seen: dict[str, int] = {}
        for i, v in enumerate(vals):
            if v in seen:
                raise SeedDataError(f"{self.where(i, field)}: duplicate value {v!r} (first at row {seen[v] + 2})")
            seen[v] = i
        return vals


def _lookup(table: _Table, field: str, index: dict[str, int], what: str) -> np.ndarray:
    out = []
    for i, v in enumerate(table.text(field)):
        if v not in index:
            raise SeedDataError(f"{table.where(i, field)}: unknown {what} {v!r}")
        out.append(index[v])
    return np.asarray(out, dtype=np.int64)


def _check_sum(table: _Table, field: str, values: np.ndarray, target: float, tol: float):
    total = float(values.sum())
    if abs(total - target) > tol:
        raise SeedDataError(f"{table.name}: field '{field}' sums to {total:.6f}; it must sum to {target} (±{tol})")


# Width in years of each age band of icb_age_bands.csv (85+: a mean stay of 7 years, assumption).
AGE_BAND_YEARS = {"0-4": 5, "5-14": 10, "15-24": 10, "25-44": 20, "45-64": 20, "65-74": 10, "75-84": 10, "85+": 7}


def _ageing_drift(folder: Path, icb_codes: list[str], population: np.ndarray) -> np.ndarray:
    """Each ICB's yearly growth of specialised need per head from its residents growing older, less England's.

    From ONS mid-2022 residents by age band (icb_age_bands.csv) and the relative cost of each band
    (age_cost_curve.csv): each year 1/width of a band moves to the next, so need per head grows by
    sum_b pop_b / width_b x (cost_{b+1} - cost_b) / sum_b pop_b x cost_b (no births, deaths or migration: the
    service trends in services.csv carry England's own growth, so only the difference between ICBs is kept,
    need-weighted mean 0). Zero where the two tables are absent (a test world)."""
    bands_path, curve_path = folder / "icb_age_bands.csv", folder / "age_cost_curve.csv"
    n = len(icb_codes)
    if not (bands_path.exists() and curve_path.exists()):
        return np.zeros(n)
    curve = _Table(curve_path, ("age_band", "relative_cost"))
    order = list(curve.text("age_band"))
    cost = curve.num("relative_cost", low=0)
    bands = _Table(bands_path, ("icb_code", "age_band", "population"))
    pop = np.zeros((n, len(order)))
    idx = {c: i for i, c in enumerate(icb_codes)}
    for code, band, value in zip(bands.text("icb_code"), bands.text("age_band"), bands.num("population", low=0)):
        if code in idx and band in order:
            pop[idx[code], order.index(band)] += value
    width = np.array([AGE_BAND_YEARS.get(b, 10) for b in order], dtype=float)
    step = np.append(np.diff(cost), 0.0)  # cost change on moving up a band (none beyond the last)
    level = pop @ cost
    drift = np.divide((pop / width) @ step, level, out=np.zeros(n), where=level > 0)
    w = level / max(level.sum(), 1e-12)
    return drift - (w * drift).sum()


def read_seeds(folder: str | Path | None = None) -> SeedData:
    """Read and validate every seed table in ``folder`` (default: ``seeds_dir()``)."""
    folder = Path(folder) if folder is not None else seeds_dir()

    reg = _Table(folder / "regions.csv", ("region_code", "name", "short_name"))
    region_code = reg.unique("region_code")
    region_index = {c: i for i, c in enumerate(region_code)}

    icb = _Table(
        folder / "icbs.csv",
        ("icb_code", "ons_code", "name", "short_name", "region_code", "population", "need_index",
         "imd_most_deprived_share", "lat", "lon", "financial_position", "icb_body_position", "core_allocation_gbp_m",
         "jc_footprint", "merger_group", "delegation_wave", "nof_segment"),
    )
    icb_code = icb.unique("icb_code")
    icb.unique("ons_code")
    icb_index = {c: i for i, c in enumerate(icb_code)}
    population = icb.num("population", low=0, integer=True)
    if (population <= 0).any():
        i = int(np.argmax(population <= 0))
        raise SeedDataError(f"{icb.where(i, 'population')}: population must be positive")
    need = icb.num("need_index", low=0.2, high=5.0)
    wmean = float((need * population).sum() / population.sum())
    if abs(wmean - 1.0) > 0.01:
        raise SeedDataError(f"icbs.csv: field 'need_index' has population-weighted mean {wmean:.4f}; it must be 1.0 (±0.01)")
    jc_vals = icb.text("jc_footprint")
    jc_names = tuple(dict.fromkeys(jc_vals))
    mg_vals = icb.text("merger_group")
    merger_names = tuple(dict.fromkeys(mg_vals))

    svc = _Table(
        folder / "services.csv",
        ("service_id", "name", "tier", "lines_represented", "spend_share", "cost_per_case_gbp", "fixed_cost_share",
         "min_viable_volume", "demand_growth", "reach_km", "in_59_2023", "in_70_2025", "payment"),
    )
    service_id = svc.unique("service_id")
    service_index = {c: i for i, c in enumerate(service_id)}
    tier = np.asarray([TIERS.index(t) for t in svc.choice("tier", TIERS)], dtype=np.int64)
    spend_share = svc.num("spend_share", low=0, high=1)
    _check_sum(svc, "spend_share", spend_share, 1.0, 1e-4)
    in59 = svc.boolean("in_59_2023")
    in70 = svc.boolean("in_70_2025")
    bad = np.nonzero(in59 & (tier != TIERS.index("delegable")))[0]
    if len(bad):
        raise SeedDataError(f"{svc.where(int(bad[0]), 'in_59_2023')}: a line in the 59 of 2023-24 must have tier 'delegable'")

    prov = _Table(
        folder / "providers.csv",
        ("provider_code", "name", "short_name", "icb_code", "kind", "turnover_gbp_m", "opening_margin", "cash_gbp_m",
         "lat", "lon"),
    )
    provider_code = prov.unique("provider_code")
    provider_index = {c: i for i, c in enumerate(provider_code)}

    ps = _Table(folder / "provider_services.csv", ("provider_code", "service_id", "base_cases", "capacity_cases"))
    p_idx = _lookup(ps, "provider_code", provider_index, "provider code (not in providers.csv)")
    s_idx = _lookup(ps, "service_id", service_index, "service id (not in services.csv)")
    base = ps.num("base_cases", low=0)
    cap = ps.num("capacity_cases", low=0)
    for i in range(len(base)):
        if cap[i] < base[i]:
            raise SeedDataError(f"{ps.where(i, 'capacity_cases')}: capacity {cap[i]} is below base_cases {base[i]}")
    P, S = len(provider_code), len(service_id)
    base_cases = np.zeros((P, S))
    capacity = np.zeros((P, S))
    seen = set()
    for i, (p, s) in enumerate(zip(p_idx, s_idx)):
        if (p, s) in seen:
            raise SeedDataError(f"{ps.where(i, 'service_id')}: duplicate provider/service pair")
        seen.add((p, s))
        base_cases[p, s] = base[i]
        capacity[p, s] = cap[i]
    for s in range(S):
        if base_cases[:, s].sum() <= 0:
            raise SeedDataError(f"provider_services.csv: service '{service_id[s]}' has no provider with base cases")

    env = _Table(folder / "envelope.csv", ("year", "spend_gbp_bn"))
    env_years = env.num("year", low=2000, high=2100, integer=True).astype(int)
    env_bn = env.num("spend_gbp_bn", low=0)

    fund = _Table(folder / "funding.csv", ("series", "year", "value", "source"))
    f_series = fund.choice("series", FUNDING_SERIES)
    f_year = fund.num("year", low=2000, high=2100, integer=True).astype(int)
    f_value = fund.num("value", low=-1.0, high=1000.0)
    fund.text("source")  # every row of the money path names its source
    funding: dict[str, dict[int, float]] = {}
    for i, (name, y, v) in enumerate(zip(f_series, f_year, f_value)):
        if y in funding.setdefault(name, {}):
            raise SeedDataError(f"{fund.where(i, 'year')}: series '{name}' has year {y} twice")
        funding[name][int(y)] = float(v)
    for name in FUNDING_REQUIRED:
        if name not in funding:
            raise SeedDataError(f"funding.csv: series '{name}' is missing; required: {', '.join(FUNDING_REQUIRED)}")

    catch_path = folder / "provider_catchment.csv"
    observed = np.full(len(provider_code), np.nan)
    if catch_path.exists():  # optional: observed catchments, for calibration reports only
        cat = _Table(catch_path, ("provider_code", "share_out_of_host_icb"))
        for i, (code, v) in enumerate(zip(cat.text("provider_code"), cat.text("share_out_of_host_icb", allow_empty=True))):
            if code in provider_index and v:
                try:
                    observed[provider_index[code]] = float(v)
                except ValueError:
                    raise SeedDataError(f"{cat.where(i, 'share_out_of_host_icb')}: value {v!r} is not a number") from None

    drift = _ageing_drift(folder, list(icb_code), population)

    return SeedData(
        icb_code=np.asarray(icb_code),
        ageing_drift=drift,
        icb_name=np.asarray(icb.text("name")),
        icb_short=np.asarray(icb.text("short_name")),
        icb_region=_lookup(icb, "region_code", region_index, "region code (not in regions.csv)"),
        population=population,
        need_index=need,
        imd_most_deprived=icb.num("imd_most_deprived_share", low=0, high=1),
        icb_lat=icb.num("lat", low=49, high=56),
        icb_lon=icb.num("lon", low=-7, high=2),
        financial_position=icb.num("financial_position", low=-0.5, high=0.5),
        icb_body_position=icb.num("icb_body_position", low=-0.5, high=0.5),
        core_allocation=icb.num("core_allocation_gbp_m", low=0),
        delegation_wave=icb.num("delegation_wave", low=1, high=9, integer=True).astype(int),
        nof_segment=icb.num("nof_segment", low=1, high=5, integer=True).astype(int),
        jc_footprint=np.asarray([jc_names.index(v) for v in jc_vals], dtype=np.int64),
        jc_names=jc_names,
        merger_group=np.asarray([merger_names.index(v) for v in mg_vals], dtype=np.int64),
        merger_names=merger_names,
        region_code=np.asarray(region_code),
        region_name=np.asarray(reg.text("name")),
        region_short=np.asarray(reg.text("short_name")),
        service_id=np.asarray(service_id),
        service_name=np.asarray(svc.text("name")),
        tier=tier,
        lines=svc.num("lines_represented", low=0, integer=True).astype(int),
        spend_share=spend_share,
        cost_per_case=svc.num("cost_per_case_gbp", low=1),
        fixed_share=svc.num("fixed_cost_share", low=0, high=0.95),
        min_volume=svc.num("min_viable_volume", low=0),
        demand_growth=svc.num("demand_growth", low=-0.2, high=0.3),
        reach_km=svc.num("reach_km", low=1),
        in_59=in59,
        in_70=in70,
        pass_through=np.asarray([v == "pass_through" for v in svc.choice("payment", PAYMENTS)]),
        provider_code=np.asarray(provider_code),
        provider_name=np.asarray(prov.text("name")),
        provider_short=np.asarray(prov.text("short_name")),
        provider_icb=_lookup(prov, "icb_code", icb_index, "ICB code (not in icbs.csv)"),
        provider_kind=np.asarray(prov.choice("kind", PROVIDER_KINDS)),
        turnover=prov.num("turnover_gbp_m", low=0.1),
        opening_margin=prov.num("opening_margin", low=-0.5, high=0.5),
        cash=prov.num("cash_gbp_m"),
        prov_lat=prov.num("lat", low=49, high=56),
        prov_lon=prov.num("lon", low=-7, high=2),
        base_cases=base_cases,
        capacity=capacity,
        envelope_years=env_years,
        envelope_bn=env_bn,
        funding=funding,
        observed_out_of_area=observed,
        source_dir=str(folder),
    )


@functools.lru_cache(maxsize=4)
def _cached(folder: str) -> SeedData:
    data = read_seeds(folder)
    for f in data.__dataclass_fields__:
        v = getattr(data, f)
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    return data


def load_seeds(folder: str | Path | None = None) -> SeedData:
    """Cached, read-only ``SeedData`` for ``folder`` (default ``seeds_dir()``)."""
    return _cached(str(Path(folder) if folder is not None else seeds_dir()))
