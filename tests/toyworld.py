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
    # code, region, pop, need, lat, lon, fin_pos, maturity, jc, merger
    ("QA1", "E40000001", 1_000_000, 1.0, 53.0, -1.5, -0.04, 0.9, "North", "A12"),
    ("QA2", "E40000001", 800_000, 1.1, 53.3, -1.2, -0.03, 0.5, "North", "A12"),
    ("QA3", "E40000001", 600_000, 0.9, 53.6, -1.9, 0.005, 0.4, "North", "QA3"),
    ("QB1", "E40000002", 1_200_000, 0.95, 51.5, -0.1, -0.01, 0.8, "South", "QB1"),
    ("QB2", "E40000002", 900_000, 1.05, 51.2, -0.8, 0.002, 0.3, "South", "QB2"),
    ("QB3", "E40000002", 500_000, 1.0, 50.9, -1.4, -0.02, 0.3, "South", "QB3"),
]
SERVICES = [
    # id, tier, lines, share, cost, fixed, minvol, growth, reach, in59, in70
    ("dialysis", "delegable", 30, 0.40, 25_000.0, 0.35, 40, 0.03, 20, True, True),
    ("cardiac", "delegable", 35, 0.35, 15_000.0, 0.5, 300, 0.03, 120, True, True),
    ("mental", "retained", 9, 0.20, 50_000.0, 0.4, 10, 0.02, 60, False, True),
    ("proton", "highly_specialised", 80, 0.05, 40_000.0, 0.7, 100, 0.05, 400, False, False),
]
PROVIDERS = [
    # code, icb, kind, turnover £m, reserves £m, lat, lon
    ("BIG1", "QA1", "shelford", 1500.0, 90.0, 53.0, -1.5),
    ("LOC2", "QA2", "local", 500.0, 20.0, 53.3, -1.2),
    ("LOC3", "QA3", "local", 400.0, 15.0, 53.6, -1.9),
    ("BIG2", "QB1", "teaching", 1800.0, 100.0, 51.5, -0.1),
    ("LOC5", "QB2", "local", 450.0, 18.0, 51.2, -0.8),
    ("LOC6", "QB3", "local", 350.0, 12.0, 50.9, -1.4),
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
                       "lat", "lon", "financial_position", "core_allocation_gbp_m", "maturity", "jc_footprint",
                       "merger_group", "delegated_2024"], [
        (c, f"E5400{k:04d}", f"NHS {c} ICB", c, reg, pop, round(need / wmean, 6), lat, lon, fin, pop * 0.002,
         mat, jc, mg, str(reg == "E40000001").lower())  # region A took full delegation in 2024-25
        for k, (c, reg, pop, need, lat, lon, fin, mat, jc, mg) in enumerate(ICBS)
    ])
    write("services.csv", ["service_id", "name", "tier", "lines_represented", "spend_share", "cost_per_case_gbp",
                           "fixed_cost_share", "min_viable_volume", "demand_growth", "reach_km", "in_59_2023",
                           "in_70_2025"], [
        (sid, sid.title(), tier, lines, share, cost, fixed, mv, g, reach, str(i59).lower(), str(i70).lower())
        for sid, tier, lines, share, cost, fixed, mv, g, reach, i59, i70 in SERVICES
    ])
    write("providers.csv", ["provider_code", "name", "short_name", "icb_code", "kind", "turnover_gbp_m",
                            "reserves_gbp_m", "lat", "lon"], [
        (c, f"{c} Hospitals", c, icb, kind, t, r, lat, lon) for c, icb, kind, t, r, lat, lon in PROVIDERS
    ])
    write("provider_services.csv", ["provider_code", "service_id", "base_cases", "capacity_cases"],
          provider_services())
    write("envelope.csv", ["year", "spend_gbp_bn"], [(2022, 2.0), (2023, 2.2)])
    return folder
