"""A small, hand-made world for mechanism tests: seed tables written to a folder.

Six ICBs in two regions (each region one joint-committee footprint; ICBs A1+A2 a
merger group), six providers, four service lines:

- ``dialysis`` (delegable, high volume, every ICB has a provider),
- ``cardiac`` (delegable, two centres: BIG1 in A1 and BIG2 in B1),
- ``mental`` (retained, everywhere),
- ``proton`` (highly specialised, one national centre at BIG1).
"""

from __future__ import annotations

import csv
from pathlib import Path

ICBS = [
    # code, region, pop, need, lat, lon, system position, delegation wave, jc, merger, imd share, NOF segment
    ("QA1", "E40000001", 1_000_000, 1.0, 53.0, -1.5, -0.04, 1, "North", "A12", 0.30, 3),
    ("QA2", "E40000001", 800_000, 1.1, 53.3, -1.2, -0.03, 2, "North", "A12", 0.25, 3),
    ("QA3", "E40000001", 600_000, 0.9, 53.6, -1.9, 0.005, 3, "North", "QA3", 0.10, 2),
    ("QB1", "E40000002", 1_200_000, 0.95, 51.5, -0.1, -0.01, 1, "South", "QB1", 0.20, 2),
    ("QB2", "E40000002", 900_000, 1.05, 51.2, -0.8, 0.002, 3, "South", "QB2", 0.12, 1),
    ("QB3", "E40000002", 500_000, 1.0, 50.9, -1.4, -0.02, 3, "South", "QB3", 0.22, 4),
]
SERVICES = [
    # id, tier, lines, share, cost, fixed, minvol, growth, reach, in59, in70
    ("dialysis", "delegable", 30, 0.40, 25_000.0, 0.35, 40, 0.03, 20, True, True),
    ("cardiac", "delegable", 35, 0.35, 15_000.0, 0.5, 300, 0.03, 120, True, True),
    ("mental", "retained", 9, 0.20, 50_000.0, 0.4, 10, 0.02, 60, False, True),
    ("proton", "highly_specialised", 80, 0.05, 40_000.0, 0.7, 100, 0.05, 400, False, False),
]
PROVIDERS = [
    # code, icb, kind, turnover £m, opening margin, cash £m, lat, lon
    ("BIG1", "QA1", "shelford", 1500.0, -0.010, 90.0, 53.0, -1.5),
    ("LOC2", "QA2", "local", 500.0, -0.015, 20.0, 53.3, -1.2),
    ("LOC3", "QA3", "local", 400.0, 0.010, 15.0, 53.6, -1.9),
    ("BIG2", "QB1", "teaching", 1800.0, 0.005, 100.0, 51.5, -0.1),
    ("LOC5", "QB2", "local", 450.0, 0.008, 18.0, 51.2, -0.8),
    ("LOC6", "QB3", "local", 350.0, -0.005, 12.0, 50.9, -1.4),
]
TOTAL_SPEND_M = 2_000.0  # £m of toy specialised spend


def provider_services():
    """Rows (provider, service, base cases, capacity) consistent with SERVICES' national cases."""
    rows = []
    for sid, tier, _l, share, cost, *_rest in SERVICES:
        national = share * TOTAL_SPEND_M * 1e6 / cost
        if sid in ("dialysis", "mental"):
            split = {"BIG1": 0.22, "LOC2": 0.15, "LOC3": 0.11, "BIG2": 0.25, "LOC5": 0.16, "LOC6": 0.11}
        elif sid == "cardiac":
            split = {"BIG1": 0.55, "BIG2": 0.45}
        else:
            split = {"BIG1": 1.0}
        for code, frac in split.items():
            base = national * frac
            rows.append((code, sid, base, base * 1.1))
    return rows


def write_toy_seeds(folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def write(name, header, rows):
        with (folder / name).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)

    write("regions.csv", ["region_code", "ods_code", "name", "short_name", "population", "n_icbs"], [
        ("E40000001", "Y01", "North", "North", 2_400_000, 3),
        ("E40000002", "Y02", "South", "South", 2_600_000, 3),
    ])
    pops = [r[2] for r in ICBS]
    needs = [r[3] for r in ICBS]
    wmean = sum(p * n for p, n in zip(pops, needs)) / sum(pops)
    write("icbs.csv", ["icb_code", "ons_code", "name", "short_name", "region_code", "population", "need_index",
                       "imd_most_deprived_share", "lat", "lon", "financial_position", "icb_body_position",
                       "core_allocation_gbp_m", "jc_footprint", "merger_group", "delegation_wave", "nof_segment"], [
        (c, f"E5400{k:04d}", f"NHS {c} ICB", c, reg, pop, round(need / wmean, 6), imd, lat, lon, fin, fin * 0.03,
         pop * 0.002, jc, mg, wave, nof)
        for k, (c, reg, pop, need, lat, lon, fin, wave, jc, mg, imd, nof) in enumerate(ICBS)
    ])
    write("services.csv", ["service_id", "name", "tier", "lines_represented", "spend_share", "cost_per_case_gbp",
                           "fixed_cost_share", "min_viable_volume", "demand_growth", "reach_km", "in_59_2023",
                           "in_70_2025", "payment"], [
        (sid, sid.title(), tier, lines, share, cost, fixed, mv, g, reach, str(i59).lower(), str(i70).lower(), "tariff")
        for sid, tier, lines, share, cost, fixed, mv, g, reach, i59, i70 in SERVICES
    ])
    write("providers.csv", ["provider_code", "name", "short_name", "icb_code", "kind", "turnover_gbp_m",
                            "opening_margin", "cash_gbp_m", "lat", "lon"], [
        (c, f"{c} Hospitals", c, icb, kind, t, mg, cash, lat, lon) for c, icb, kind, t, mg, cash, lat, lon in PROVIDERS
    ])
    write("provider_services.csv", ["provider_code", "service_id", "base_cases", "capacity_cases"],
          provider_services())
    write("envelope.csv", ["year", "spend_gbp_bn"], [(2022, 2.0), (2023, 2.2)])
    write("funding.csv", ["series", "year", "value", "source"], FUNDING)
    return folder


# The toy money path: a 2023-24 allocation 10% above the base year, then the model's parameters.
FUNDING = [
    ("specialised_allocation", 2022, 2.0, "toy"),
    ("specialised_allocation", 2023, 2.2, "toy"),
    ("tariff_cost_uplift", 2023, 0.04, "toy"),
    ("tariff_efficiency", 2023, 0.01, "toy"),
    ("core_allocation_growth", 2023, 0.04, "toy"),
    ("provider_support", 2023, 0.0, "toy"),
    ("provider_sector_income", 2022, 5.0, "toy"),
]
