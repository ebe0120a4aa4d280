"""Write the hand-curated seed tables (no shared data needed; run after derive_from_shared.py).

Usage (from the repo root):  python seeds/build_tables.py

Writes services.csv, providers.csv, provider_services.csv, calibration.csv, envelope.csv and the
hand-curated columns of icbs.csv (short_name, lat, lon, financial_position, icb_body_position,
jc_footprint, merger_group, delegation_wave, nof_segment and their sources), plus funding.csv and
validation.csv, keeping the derived columns that
derive_from_shared.py wrote. Deterministic: re-running gives identical files.
Every number is either a public figure (its source named) or an assumption (its reason named);
see seeds/README.md. Article references ("001" ...) are the files in ../shared/seeds/.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

SEEDS = Path(__file__).resolve().parent
TOTAL_SPEND_M = 22_700.0  # 2022-23 national specialised spend, GBP m (PQ answer May 2024, facts §1a)
HEADROOM = 0.10  # assumption: capacity 10% above base-year volume
F_1516 = 22.7 / 14.6  # spend growth 2015-16 -> 2022-23 (PAC HC387; PQ May 2024) = 1.5548
F_1415 = 22.7 / 13.8  # 2014-15 spend interpolated between 13.0 (13-14) and 14.6 (15-16) = 1.6449


def write_csv(df: pd.DataFrame, path: Path) -> None:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    path.write_text(buf.getvalue(), encoding="utf-8")


# --------------------------------------------------------------------------- ICBs (curated columns)
# code: (lat, lon, financial_position, finance_source)
ICB_FIN = {
    "QOP": (53.50, -2.30, -0.050, "Greater Manchester: GBP 610m underlying deficit at start of 2024/25 (Lowdown May 2024, facts §5); capped at -5% of allocation, the floor of the modelled range"),
    "QYG": (53.30, -2.75, -0.021, "Cheshire and Merseyside: 2024/25 deficit control total GBP 150m, about 2.1% of allocation (Lowdown NW Nov 2024, facts §5, derived)"),
    "QE1": (53.85, -2.60, -0.035, "Lancashire and South Cumbria: savings of 8.4% of allocation needed in 2024/25 (Lowdown Nov 2024, facts §5); deficit share an assumption"),
    "QHL": (52.46, -1.85, -0.030, "Birmingham and Solihull: M6 2024/25 deficit GBP 69.9m, GBP 51.3m adverse; 2022/23 plan deficit GBP 48m (Lowdown, facts §5); share an assumption"),
    "QOC": (52.70, -2.65, -0.035, "Shropshire, Telford and Wrekin: YTD deficit GBP 26.4m Apr-Dec 2024, GBP 15.9m behind plan (healthcare-management.uk, facts §5); share an assumption"),
    "QHM": (54.85, -1.75, -0.044, "North East and North Cumbria: 2022/23 plan deficit GBP 240m on GBP 5.488bn allocation = 4.4% (Lowdown 2022, facts §5, derived)"),
    "QOQ": (54.00, -0.90, 0.000, "Humber and North Yorkshire: in balance in 2023/24 (Lowdown May 2024, facts §5), although its 2022/23 plan showed GBP 140m (5.0%)"),
    "QF7": (53.45, -1.30, -0.027, "South Yorkshire: 2022/23 plan deficit GBP 76.5m (Lowdown 2022, facts §5), about 2.7% of the modelled core allocation"),
    "QJ2": (53.05, -1.55, -0.041, "Derby and Derbyshire: 2022/23 plan deficit GBP 89.9m after efficiencies (Lowdown 2022, facts §5), about 4.1% of the modelled core allocation"),
    "QT1": (53.05, -1.05, -0.041, "Nottingham and Nottinghamshire: 2022/23 plan deficit GBP 96.7m (Lowdown 2022, facts §5), about 4.1% of the modelled core allocation"),
    "QPM": (52.30, -0.85, -0.031, "Northamptonshire: 2022/23 plan deficit GBP 49.7m (Lowdown 2022, facts §5), about 3.1% of the modelled core allocation"),
    "QUA": (52.55, -2.05, -0.019, "Black Country: 2022/23 plan deficit GBP 48m (Lowdown 2022, facts §5), about 1.9% of the modelled core allocation"),
    "QK1": (52.65, -1.10, -0.030, "Leicester, Leicestershire and Rutland: underlying deficit could reach GBP 272m by 2027 (Lowdown 2023, facts §5); 3% an assumption"),
    "QNC": (52.85, -2.05, -0.030, "Staffordshire and Stoke-on-Trent: 7.4% efficiency target 2023/24 (Lowdown 2023, facts §5); 3% an assumption"),
    "QMJ": (51.58, -0.14, -0.015, "North Central London: system savings GBP 205.6m = 4.2% of influenceable income 2024/25 (Lowdown London, facts §5); 1.5% an assumption"),
    "QUE": (52.40, 0.05, 0.000, "Cambridgeshire and Peterborough: in balance in 2023/24 (Lowdown May 2024, facts §5)"),
    "QM7": (51.80, -0.20, 0.000, "Hertfordshire and West Essex: in balance in 2023/24 (Lowdown May 2024, facts §5)"),
    "QJG": (52.15, 0.95, 0.000, "Suffolk and North East Essex: in balance in 2023/24 (Lowdown May 2024, facts §5)"),
    "QRV": (51.52, -0.33, 0.000, "North West London: in balance in 2023/24 (Lowdown May 2024, facts §5)"),
    # assumptions: spread so that 31 of 42 are in deficit, total about GBP 2.2bn (31 deficit plans, GBP 2.2bn, 2024/25, facts §5)
    "QKK": (51.45, -0.03, 0.002, "assumption: small surplus; one of the two ICSs ready for delegation in early 2023 (HSJ, facts §2)"),
    "QWE": (51.41, -0.22, 0.001, "assumption: about break-even; one of the two ICSs ready for delegation in early 2023 (HSJ, facts §2)"),
    "QNQ": (51.32, -0.75, 0.005, "assumption: small surplus, to make 11 of 42 not in deficit (31 deficit plans 2024/25, facts §5)"),
    "QXU": (51.25, -0.45, 0.003, "assumption: small surplus, to make 11 of 42 not in deficit (31 deficit plans 2024/25, facts §5)"),
    "QR1": (51.85, -2.20, 0.002, "assumption: small surplus, to make 11 of 42 not in deficit (31 deficit plans 2024/25, facts §5)"),
    "QHG": (52.05, -0.55, 0.002, "assumption: small surplus, to make 11 of 42 not in deficit (31 deficit plans 2024/25, facts §5)"),
    "QMM": (52.65, 1.10, -0.020, "assumption: moderate deficit; 18 of 23 surveyed ICBs ended 2023/24 in deficit (Lowdown May 2024, facts §5)"),
    "QH8": (51.65, 0.55, -0.028, "assumption: larger deficit; 18 of 23 surveyed ICBs ended 2023/24 in deficit (Lowdown May 2024, facts §5)"),
    "QMF": (51.55, 0.05, -0.015, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QKS": (51.25, 0.75, -0.022, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QRL": (50.95, -1.25, -0.018, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QU9": (51.75, -1.05, -0.012, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QNX": (50.93, -0.30, -0.020, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QT6": (50.35, -4.95, -0.025, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QJK": (50.70, -3.80, -0.030, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QSL": (51.05, -3.00, -0.018, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QUY": (51.47, -2.60, -0.015, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QOX": (51.30, -1.95, -0.015, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QVV": (50.75, -2.20, -0.010, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QWO": (53.75, -1.65, -0.010, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QJM": (53.10, -0.20, -0.025, "assumption: spread of deficits so 31 of 42 total about GBP 2.2bn (facts §5)"),
    "QWU": (52.35, -1.55, -0.015, "assumption: Midlands region M6 2024/25 deficit > GBP 250m after support (facts §5); share an assumption"),
    "QGH": (52.15, -2.45, -0.020, "assumption: Midlands region M6 2024/25 deficit > GBP 250m after support (facts §5); share an assumption"),
}

JC = {  # 9 joint-committee footprints 2023-24 (facts §2, inferred membership, low-medium confidence)
    "North East and North Cumbria": ["QHM"],
    "Yorkshire and Humber": ["QOQ", "QWO", "QF7"],
    "North West": ["QYG", "QOP", "QE1"],
    "East Midlands": ["QJ2", "QT1", "QK1", "QJM", "QPM"],
    "West Midlands": ["QHL", "QUA", "QWU", "QGH", "QOC", "QNC"],
    "East of England": ["QMM", "QJG", "QHG", "QM7", "QH8", "QUE"],
    "London": ["QRV", "QMJ", "QMF", "QKK", "QWE"],
    "South East": ["QKS", "QNQ", "QRL", "QU9", "QXU", "QNX"],
    "South West": ["QT6", "QJK", "QSL", "QUY", "QOX", "QVV", "QR1"],
}
MERGER = {  # first mergers from 1 April 2026 (HCWS915, Sep 2025)
    "QMM": "Norfolk and Suffolk", "QJG": "Norfolk and Suffolk",
    "QH8": "Essex",
    "QRL": "Hampshire and Isle of Wight",
    "QNQ": "Hampshire and Isle of Wight",  # illustrative: Frimley's area is split between HIOW, Surrey and Thames Valley
    "QXU": "Surrey and Sussex", "QNX": "Surrey and Sussex",
    "QRV": "North West and North Central London", "QMJ": "North West and North Central London",
    "QU9": "Thames Valley",
}


WAVE_1 = {"QKK", "QWE"}  # South East and South West London: the only ICSs ready in early 2023; 2023-24 pathfinder
WAVE_2_REGIONS = {"E40000007", "E40000011", "E40000010"}  # East of England, Midlands, North West: full delegation 2024-25
WAVE_SOURCE = {
    1: "wave 1 (2023-24): South East and South West London were the only ICSs that declared themselves ready in early "
       "2023 and ran the delegation pathfinder (HSJ Feb 2023; South London Cancer Network pathfinder page)",
    2: "wave 2 (2024-25): the 20 ICBs of East of England, Midlands and North West took full delegation of the 59 "
       "services from 1 April 2024 (NHS England board 7 Dec 2023)",
    3: "wave 3 (2025-26): the remaining ICBs (North East and Yorkshire deferred by agreement; London, South East and "
       "South West kept joint committees in 2024-25) took the 70 services from 1 April 2025 (NHS England board Dec 2024)",
}
# NHS Oversight Framework segments (the 2025-26 condition on delegation applied to ICBs in segments 3 and 4).
NOF_4 = {"QJK", "QRL", "QOC"}  # Devon, Hampshire and Isle of Wight, Shropshire Telford and Wrekin (Lowdown, c.2023; HIOW in RSP since 2023, HSJ 2025)
NOF_1 = {"QNQ"}  # Frimley, the only ICS in segment 1 (Lowdown, c.2023)
NOF_34_COUNT = 27  # 23 ICSs in segment 3 and 4 in segment 4 (Lowdown "ICSs and trusts on NHS naughty step", c.2023)
# Share of a system's underlying deficit (financial_position x allocation) carried by the ICB body itself: the
# 2022-23 system deficit was GBP 517m (King's Fund May 2025) of which trusts GBP 448m (Nuffield Trust), leaving
# about GBP 69m for the 42 ICB bodies (derived, low confidence).
ICB_BODY_DEFICIT_2022_M = 517.0 - 448.0


def build_icbs() -> pd.DataFrame:
    path = SEEDS / "icbs.csv"
    icb = pd.read_csv(path, dtype={"population": int})
    derived = ["icb_code", "ons_code", "name", "region_code", "population", "need_index", "imd_most_deprived_share",
               "core_allocation_gbp_m"]
    icb = icb[derived].copy()
    icb["short_name"] = icb["name"].str.replace("NHS ", "", regex=False).str.replace(" Integrated Care Board", "", regex=False)
    icb["lat"] = icb["icb_code"].map(lambda c: ICB_FIN[c][0])
    icb["lon"] = icb["icb_code"].map(lambda c: ICB_FIN[c][1])
    icb["financial_position"] = icb["icb_code"].map(lambda c: ICB_FIN[c][2])
    icb["finance_source"] = icb["icb_code"].map(lambda c: ICB_FIN[c][3])
    deficit_m = (-icb["financial_position"].clip(upper=0) * icb["core_allocation_gbp_m"]).sum()
    share = ICB_BODY_DEFICIT_2022_M / deficit_m
    icb["icb_body_position"] = (icb["financial_position"] * share).round(5)
    jc = {c: k for k, v in JC.items() for c in v}
    icb["jc_footprint"] = icb["icb_code"].map(jc)
    icb["merger_group"] = [MERGER.get(c, s) for c, s in zip(icb["icb_code"], icb["short_name"])]
    icb["delegation_wave"] = [1 if c in WAVE_1 else 2 if r in WAVE_2_REGIONS else 3
                              for c, r in zip(icb["icb_code"], icb["region_code"])]
    icb["wave_source"] = icb["delegation_wave"].map(WAVE_SOURCE)
    # Segment 3 beyond the named ones: the weakest systems by underlying position until 27 are in segments 3-4.
    order = icb.assign(_fp=icb["financial_position"]).sort_values(["_fp", "icb_code"])
    seg3 = [c for c in order["icb_code"] if c not in NOF_4 | NOF_1][: NOF_34_COUNT - len(NOF_4)]
    icb["nof_segment"] = [4 if c in NOF_4 else 1 if c in NOF_1 else 3 if c in seg3 else 2 for c in icb["icb_code"]]
    icb["nof_source"] = [
        "named in segment 4 (Lowdown c.2023; HIOW in the Recovery Support Programme, HSJ 2025)" if c in NOF_4 else
        "the only segment 1 ICS (Lowdown c.2023)" if c in NOF_1 else
        "assumption: segment 3 as one of the weakest systems by underlying position (27 ICSs were in segments 3-4, "
        "Lowdown c.2023; the list by ICB was not read)" if c in seg3 else
        "assumption: segment 2 (stronger underlying position)" for c in icb["icb_code"]]
    cols = ["icb_code", "ons_code", "name", "short_name", "region_code", "population", "need_index",
            "imd_most_deprived_share", "lat", "lon", "financial_position", "icb_body_position", "core_allocation_gbp_m",
            "jc_footprint", "merger_group", "delegation_wave", "nof_segment", "finance_source", "wave_source",
            "nof_source"]
    icb = icb[cols].sort_values("icb_code").reset_index(drop=True)
    write_csv(icb, path)
    return icb


# --------------------------------------------------------------------------- services
# id, name, tier, lines, share, cost, fixed, mvv, growth, reach, in59, in70, source
A = "assumption: "
SERVICES = [
    # delegable, in the 59 of 2023-24 (59 lines)
    ("renal_dialysis", "Renal dialysis (in-centre and home haemodialysis, peritoneal dialysis)", "delegable", 2, 0.026, 24804, 0.35, 60, 0.03, 20, True, True,
     "cost GBP 24,804 per patient-year in-centre HD (PQ answer 9 Nov 2021, facts §1a); share gives ~23,800 patient-years, close to ~23,000 dialysis patients (HSJ, facts §3); growth, fixed share, volume (a satellite unit) assumptions"),
    ("kidney_transplant", "Adult kidney transplantation", "delegable", 1, 0.006, 45000, 0.40, 100, 0.01, 100, True, True,
     A + "cost per transplant episode incl. first-year care; live-donor transplant prices GBP 13k-42k (PAC HC387, facts §1c); ~3,000 transplants a year at 19 centres"),
    ("chemotherapy", "Chemotherapy (delivery; drugs in high_cost_drugs_devices)", "delegable", 2, 0.060, 6000, 0.25, 400, 0.04, 20, True, True,
     A + "GBP 6,000 per patient treated (delivery only) gives ~227,000 patients a year; named by Policy Exchange as a first wave service (002)"),
    ("radiotherapy", "Radiotherapy (external beam and brachytherapy)", "delegable", 2, 0.040, 6500, 0.60, 1500, 0.03, 40, True, True,
     A + "GBP 6,500 per course gives ~140,000 courses at ~50 centres; linac-heavy so high fixed share; named in 001"),
    ("adult_cardiac_surgery", "Adult cardiac surgery", "delegable", 1, 0.028, 20000, 0.45, 400, 0.01, 70, True, True,
     A + "GBP 20,000 per operation gives ~32,000 operations at 26 centres (NICOR covers all units; count not found, facts §3)"),
    ("specialist_cardiology", "Specialist adult cardiology (PCI, electrophysiology, devices)", "delegable", 4, 0.055, 5000, 0.35, 500, 0.035, 40, True, True,
     A + "GBP 5,000 per procedure; named by Policy Exchange as a first wave service (002)"),
    ("congenital_heart_disease", "Congenital heart disease (adult and paediatric)", "delegable", 2, 0.012, 24000, 0.50, 375, 0.01, 150, True, True,
     "min volume: >=125 operations per surgeon a year, teams of 3-4 surgeons (NHSE CHD standards 2017, MODEL.md) => ~375-500 a centre; cost and share assumptions; named in 001"),
    ("major_trauma", "Major trauma centres", "delegable", 1, 0.022, 12000, 0.50, 400, 0.02, 60, True, True,
     "27 major trauma centres (nhs.uk, facts §3); cost per patient and share assumptions; named in 001"),
    ("neurosurgery", "Neurosurgery (adult and paediatric)", "delegable", 2, 0.032, 10000, 0.50, 1000, 0.02, 70, True, True,
     "25 adult units serving 1.0-3.5m each (NHSE spec D03, facts §3); cost, share and min volume assumptions"),
    ("neonatal_critical_care", "Neonatal critical care (intensive, high dependency, special care)", "delegable", 1, 0.030, 9000, 0.55, 200, 0.0, 40, True, True,
     A + "GBP 9,000 per admission gives ~76,000 admissions; staffed cots make the fixed share high"),
    ("paediatric_intensive_care", "Paediatric intensive care incl. transport", "delegable", 1, 0.012, 18000, 0.60, 300, 0.01, 100, True, True,
     "~24 English PICUs and ~18,500 UK+ROI admissions in 2023 (PICANet/HQIP, facts §3); GBP 18,000 per admission gives ~15,000 English admissions; cost an assumption"),
    ("adult_critical_care", "Specialised adult critical care", "delegable", 1, 0.040, 12000, 0.60, 300, 0.02, 30, True, True,
     A + "GBP 12,000 per admission; bed-based, so high fixed share"),
    ("vascular_surgery", "Specialised vascular surgery (arterial centres)", "delegable", 1, 0.014, 9000, 0.40, 250, 0.02, 50, True, True,
     A + "hub-and-spoke arterial centres; GBP 9,000 per case"),
    ("specialised_orthopaedics", "Specialised orthopaedics (adult and paediatric)", "delegable", 2, 0.015, 11000, 0.35, 150, 0.02, 80, True, True,
     A + "complex revision, spinal and paediatric orthopaedics; GBP 11,000 per case"),
    ("og_cancer_surgery", "Oesophago-gastric cancer surgery", "delegable", 1, 0.004, 15000, 0.45, 55, 0.01, 70, True, True,
     "centres serve 1-2m people; 2003-14 centralisation 113 -> 43 trusts, median 21 -> 55 a year (IOG 2001; Eur J Surg Oncol 2018, MODEL.md); cost an assumption"),
    ("complex_cancer_surgery", "Other specialised cancer surgery (HPB, urology, gynae-oncology, head and neck, sarcoma)", "delegable", 7, 0.025, 12000, 0.40, 150, 0.02, 60, True, True,
     A + "GBP 12,000 per resection; stands for 7 specialised cancer surgery lines"),
    ("specialised_paediatrics", "Specialised paediatric medicine and surgery (incl. paediatric oncology)", "delegable", 12, 0.035, 6000, 0.40, 300, 0.01, 80, True, True,
     A + "stands for 12 paediatric lines; GBP 6,000 per spell"),
    ("specialised_internal_medicine", "Specialised medicine (neurology, immunology, hepatology, haematology incl. BMT, respiratory, endocrine, infection)", "delegable", 16, 0.055, 4500, 0.30, 300, 0.03, 50, True, True,
     A + "stands for 16 medicine and neurosciences lines; GBP 4,500 per patient"),
    # delegable, not in the 59, delegated with the 70 in 2025-26 (6 lines)
    ("complex_obesity_surgery", "Severe and complex obesity (bariatric) services", "delegable", 1, 0.003, 7000, 0.30, 100, 0.03, 50, False, True,
     A + "GBP 7,000 per operation; not in the 59, assumed among the 11 added in 2025-26 (which 11 lines is not in our sources)"),
    ("spinal_cord_injury", "Spinal cord injury centres", "delegable", 1, 0.005, 60000, 0.55, 100, 0.01, 150, False, True,
     A + "8 SCI centres in England; GBP 60,000 per episode; assumed among the 11 added in 2025-26"),
    ("other_delegable_2025", "Other lines delegated in 2025-26 (specialised ophthalmology, burns, pain)", "delegable", 4, 0.010, 4000, 0.35, 200, 0.02, 80, False, True,
     A + "stands for 4 lines; assumed among the 11 added in 2025-26"),
    # retained (9 lines): 5 delegated in 2025-26, 4 never
    ("hiv_services", "HIV adult and paediatric services (care; antiretrovirals in high_cost_drugs_devices)", "retained", 2, 0.008, 1800, 0.20, 200, 0.02, 25, False, True,
     A + "~100,000 patient-years at GBP 1,800 excluding drugs; Shelford saw ED HIV screening as suitable for ICBs (HSJ 2022, facts §2); assumed among the 11 of 2025-26"),
    ("cystic_fibrosis", "Cystic fibrosis (adult and paediatric centres)", "retained", 2, 0.005, 12000, 0.30, 50, 0.02, 100, False, True,
     A + "~9,500 patients at GBP 12,000 excluding modulator drugs; assumed among the 11 of 2025-26"),
    ("haemophilia", "Haemophilia and other bleeding disorders (care; clotting factors in high_cost_drugs_devices)", "retained", 1, 0.002, 5000, 0.25, 40, 0.01, 100, False, True,
     A + "comprehensive care centres; assumed among the 11 of 2025-26"),
    ("specialised_mental_health", "Specialised mental health (adult secure, CAMHS tier 4, eating disorders)", "retained", 3, 0.070, 180000, 0.70, 40, 0.01, 100, False, False,
     "specialised MH ~GBP 1.6bn in 2017 (derived from HSJ, facts §1b), grown to ~GBP 1.6bn/22.7bn = 0.07; GBP 180,000 per occupied bed-year an assumption; commissioned via provider collaboratives, not delegated (assumption); Policy Exchange named MH as a first-wave candidate (002)"),
    ("high_cost_drugs_devices", "High-cost drugs and devices paid at cost (all specialised lines)", "retained", 1, None, 20000, 0.02, 0, 0.06, 30, False, False,
     "about 1/4 of spend was high-cost drugs and devices in 2015-16 (PAC HC387, facts §1c) and ~20% medicines in 2022 (PharmaTimes); the delegated GBP 5.3bn excludes them (PQ May 2024); share is the balance (0.326); GBP 20,000 per patient-year an assumption"),
    # highly specialised (80 lines), national in every scenario (003)
    ("liver_transplant", "Liver transplantation (adult and paediatric)", "highly_specialised", 3, 0.004, 90000, 0.50, 50, 0.01, 300, False, False,
     A + "~1,000 transplants and assessments at 6 centres; named as highly specialised in 003"),
    ("heart_lung_transplant", "Heart and lung transplantation incl. ventricular assist devices", "highly_specialised", 4, 0.003, 80000, 0.50, 50, 0.01, 300, False, False,
     A + "~850 transplants and VADs at 6 centres"),
    ("proton_beam_therapy", "Proton beam therapy", "highly_specialised", 1, 0.0035, 45000, 0.75, 300, 0.05, 400, False, False,
     "2 NHS centres (Christie 2018, UCLH), ~1,500 patients a year planned; NHS target ~GBP 40k a patient vs 75k abroad (CRUK; Brain Tumour Charity, facts §1b, §3); named in 003"),
    ("lsd_enzyme_replacement", "Lysosomal storage disorders incl. enzyme replacement therapy", "highly_specialised", 1, 0.006, 100000, 0.15, 50, 0.03, 300, False, False,
     A + "~1,400 patients at GBP 100,000 a patient-year (mostly drug); named in 003"),
    ("ecmo", "Extracorporeal membrane oxygenation (respiratory ECMO, adult and paediatric)", "highly_specialised", 2, 0.0015, 60000, 0.65, 50, 0.02, 300, False, False,
     A + "~570 runs a year at 5 centres"),
    ("hss_adult_other", "Other adult highly specialised services", "highly_specialised", 35, 0.024, 30000, 0.45, 100, 0.03, 300, False, False,
     A + "stands for 35 rare adult lines; ~80 of ~150 services are highly specialised, usually <=3 centres and <=500 patients a year (NHSE HSS page, MODEL.md)"),
    ("hss_paediatric_other", "Other paediatric highly specialised services", "highly_specialised", 34, 0.018, 35000, 0.45, 100, 0.03, 300, False, False,
     A + "stands for 34 rare paediatric lines (NHSE HSS page, MODEL.md)"),
]
SVC_COLS = ["service_id", "name", "tier", "lines_represented", "spend_share", "cost_per_case_gbp", "fixed_cost_share",
            "min_viable_volume", "demand_growth", "reach_km", "in_59_2023", "in_70_2025", "source"]
# How a line is paid: at NHS Payment Scheme prices (tariff: uplifted each year by the cost uplift factor less the
# efficiency factor), or at cost (high-cost drugs and devices are outside tariff and passed through at cost:
# PAC HC387 para 15; NHSPS 2023/25).
PASS_THROUGH = {"high_cost_drugs_devices"}


def build_services() -> pd.DataFrame:
    s = pd.DataFrame(SERVICES, columns=SVC_COLS)
    bal = s["spend_share"].isna()
    s.loc[bal, "spend_share"] = round(1.0 - s.loc[~bal, "spend_share"].sum(), 6)
    s["spend_share"] = s["spend_share"].astype(float).round(6)
    s["in_59_2023"] = s["in_59_2023"].map({True: "true", False: "false"})
    s["in_70_2025"] = s["in_70_2025"].map({True: "true", False: "false"})
    s.insert(len(SVC_COLS) - 1, "payment", ["pass_through" if x in PASS_THROUGH else "tariff" for x in s["service_id"]])
    write_csv(s, SEEDS / "services.csv")
    return s


# --------------------------------------------------------------------------- providers
# code, name, short, icb, kind, turnover_m (2022-23), lat, lon, turnover source
E = "estimate (not a published figure we checked)"
PROVIDERS = [
    # Shelford Group (shelfordgroup.org, MODEL.md)
    ("RGT", "Cambridge University Hospitals NHS Foundation Trust", "Cambridge UH", "QUE", "shelford", 1250, 52.175, 0.140, E),
    ("RJ1", "Guy's and St Thomas' NHS Foundation Trust", "Guy's and St Thomas'", "QKK", "shelford", 2950, 51.498, -0.118, "GBP 3.2bn in 2024/25 (GSTT facts and figures, facts §4) scaled back to 2022-23; estimate"),
    ("RYJ", "Imperial College Healthcare NHS Trust", "Imperial", "QRV", "shelford", 1550, 51.517, -0.174, E),
    ("RJZ", "King's College Hospital NHS Foundation Trust", "King's", "QKK", "shelford", 1550, 51.468, -0.094, E + "; GBP 629m in 2011/12 (FT accounts, facts §4)"),
    ("R0A", "Manchester University NHS Foundation Trust", "Manchester UFT", "QOP", "shelford", 2850, 53.462, -2.226, "GBP 1.6bn in 2018/19 before the North Manchester transfer (MFT annual report via Wikipedia, facts §4); 2022-23 estimate"),
    ("RTD", "The Newcastle upon Tyne Hospitals NHS Foundation Trust", "Newcastle", "QHM", "shelford", 1300, 54.980, -1.620, E),
    ("RTH", "Oxford University Hospitals NHS Foundation Trust", "Oxford UH", "QU9", "shelford", 1500, 51.764, -1.219, E),
    ("RHQ", "Sheffield Teaching Hospitals NHS Foundation Trust", "Sheffield Teaching", "QF7", "shelford", 1350, 53.409, -1.458, E),
    ("RRV", "University College London Hospitals NHS Foundation Trust", "UCLH", "QMJ", "shelford", 1550, 51.525, -0.136, "GBP 940m in 2015-16 (HSJ 2016, facts §4); 2022-23 estimate"),
    ("RRK", "University Hospitals Birmingham NHS Foundation Trust", "UH Birmingham", "QHL", "shelford", 2550, 52.452, -1.942, E + "; GBP 587m in 2011/12 before the Heart of England merger (facts §4)"),
    # specialist and children's trusts
    ("RP4", "Great Ormond Street Hospital for Children NHS Foundation Trust", "Great Ormond Street", "QMJ", "childrens", 700, 51.522, -0.120, E + "; GBP 293m in 2011/12 (facts §4); host ICB by location (trust not in the lookup)"),
    ("RBS", "Alder Hey Children's NHS Foundation Trust", "Alder Hey", "QYG", "childrens", 420, 53.420, -2.897, E),
    ("RQ3", "Birmingham Women's and Children's NHS Foundation Trust", "Birmingham Women's and Children's", "QHL", "childrens", 480, 52.485, -1.894, E),
    ("RCU", "Sheffield Children's NHS Foundation Trust", "Sheffield Children's", "QF7", "childrens", 280, 53.380, -1.488, E),
    ("RGM", "Royal Papworth Hospital NHS Foundation Trust", "Royal Papworth", "QUE", "specialist", 330, 52.176, 0.137, E + "; host ICB by location (trust not in the lookup)"),
    ("RBQ", "Liverpool Heart and Chest Hospital NHS Foundation Trust", "Liverpool Heart and Chest", "QYG", "specialist", 200, 53.414, -2.926, E),
    ("RET", "The Walton Centre NHS Foundation Trust", "Walton Centre", "QYG", "specialist", 170, 53.467, -2.935, E),
    ("RBV", "The Christie NHS Foundation Trust", "The Christie", "QOP", "specialist", 420, 53.430, -2.232, E + "; GBP 185m in 2011/12 (facts §4)"),
    ("REN", "The Clatterbridge Cancer Centre NHS Foundation Trust", "Clatterbridge Cancer Centre", "QYG", "specialist", 240, 53.410, -2.964, E + "; host ICB by location (trust not in the lookup)"),
    ("RPY", "The Royal Marsden NHS Foundation Trust", "Royal Marsden", "QRV", "specialist", 650, 51.489, -0.171, E + "; GBP 312m in 2011/12 (facts §4); host ICB by Chelsea site (trust not in the lookup)"),
    ("RP6", "Moorfields Eye Hospital NHS Foundation Trust", "Moorfields", "QMJ", "specialist", 300, 51.527, -0.090, E + "; GBP 126m in 2011/12 (facts §4)"),
    ("RAN", "Royal National Orthopaedic Hospital NHS Trust", "RNOH", "QMJ", "specialist", 160, 51.628, -0.320, E),
    ("RL1", "The Robert Jones and Agnes Hunt Orthopaedic Hospital NHS Foundation Trust", "RJAH Oswestry", "QOC", "specialist", 170, 52.889, -3.033, E),
    ("RPC", "Queen Victoria Hospital NHS Foundation Trust", "Queen Victoria East Grinstead", "QNX", "specialist", 90, 51.131, -0.005, E),
    ("REP", "Liverpool Women's NHS Foundation Trust", "Liverpool Women's", "QYG", "specialist", 150, 53.398, -2.962, E),
    # mental health trusts with secure / tier 4 services (kind 'specialist')
    ("RW4", "Mersey Care NHS Foundation Trust", "Mersey Care", "QYG", "specialist", 700, 53.518, -2.920, E),
    ("RKL", "West London NHS Trust", "West London", "QRV", "specialist", 400, 51.507, -0.376, E + "; host ICB by headquarters (trust not in the lookup)"),
    ("RHA", "Nottinghamshire Healthcare NHS Foundation Trust", "Nottinghamshire Healthcare", "QT1", "specialist", 600, 52.960, -1.180, E + "; host ICB by headquarters (trust not in the lookup)"),
    ("RV5", "South London and Maudsley NHS Foundation Trust", "South London and Maudsley", "QKK", "specialist", 600, 51.469, -0.093, E + "; host ICB by location (trust not in the lookup)"),
    ("RX4", "Cumbria, Northumberland, Tyne and Wear NHS Foundation Trust", "CNTW", "QHM", "specialist", 620, 55.000, -1.650, E + "; host ICB by location (trust not in the lookup)"),
    ("RXG", "South West Yorkshire Partnership NHS Foundation Trust", "South West Yorkshire Partnership", "QWO", "specialist", 300, 53.680, -1.500, E),
    ("RW1", "Southern Health NHS Foundation Trust", "Southern Health", "QRL", "specialist", 420, 50.910, -1.400, E),
    ("RXT", "Birmingham and Solihull Mental Health NHS Foundation Trust", "Birmingham and Solihull MH", "QHL", "specialist", 330, 52.450, -1.930, E + "; host ICB by location (trust not in the lookup)"),
    ("RNU", "Oxford Health NHS Foundation Trust", "Oxford Health", "QU9", "specialist", 550, 51.750, -1.220, E),
    # large non-Shelford teaching trusts
    ("RR8", "Leeds Teaching Hospitals NHS Trust", "Leeds Teaching", "QWO", "teaching", 1600, 53.802, -1.552, E),
    ("R1H", "Barts Health NHS Trust", "Barts Health", "QMF", "teaching", 2100, 51.518, -0.059, "GBP 1.34bn in 2015-16 (HSJ 2016, facts §4); 2022-23 estimate"),
    ("RHM", "University Hospital Southampton NHS Foundation Trust", "Southampton", "QRL", "teaching", 1200, 50.933, -1.434, E),
    ("RX1", "Nottingham University Hospitals NHS Trust", "Nottingham UH", "QT1", "teaching", 1450, 52.944, -1.185, E),
    ("RA7", "University Hospitals Bristol and Weston NHS Foundation Trust", "UH Bristol and Weston", "QUY", "teaching", 1000, 51.459, -2.597, E),
    ("RVJ", "North Bristol NHS Trust", "North Bristol", "QUY", "teaching", 780, 51.502, -2.594, E),
    ("RWE", "University Hospitals of Leicester NHS Trust", "Leicester", "QK1", "teaching", 1350, 52.627, -1.136, E),
    ("REM", "Liverpool University Hospitals NHS Foundation Trust", "Liverpool UH", "QYG", "teaching", 1250, 53.410, -2.966, E),
    ("RJ7", "St George's University Hospitals NHS Foundation Trust", "St George's", "QWE", "teaching", 1000, 51.427, -0.175, E),
    ("RAL", "Royal Free London NHS Foundation Trust", "Royal Free", "QMJ", "teaching", 1300, 51.553, -0.165, E),
    ("RWA", "Hull University Teaching Hospitals NHS Trust", "Hull", "QOQ", "teaching", 800, 53.744, -0.357, E),
    ("RJE", "University Hospitals of North Midlands NHS Trust", "UH North Midlands", "QNC", "teaching", 1100, 53.003, -2.212, E),
    ("RKB", "University Hospitals Coventry and Warwickshire NHS Trust", "UH Coventry", "QWU", "teaching", 900, 52.421, -1.438, E),
    ("RK9", "University Hospitals Plymouth NHS Trust", "Plymouth", "QJK", "teaching", 750, 50.416, -4.113, E),
    ("RTR", "South Tees Hospitals NHS Foundation Trust", "South Tees", "QHM", "teaching", 800, 54.551, -1.213, E),
    ("RM1", "Norfolk and Norwich University Hospitals NHS Foundation Trust", "Norfolk and Norwich", "QMM", "teaching", 850, 52.618, 1.219, E),
    ("RTG", "University Hospitals of Derby and Burton NHS Foundation Trust", "Derby and Burton", "QJ2", "teaching", 1100, 52.911, -1.515, E),
    ("RM3", "Northern Care Alliance NHS Foundation Trust", "Northern Care Alliance", "QOP", "teaching", 1500, 53.487, -2.322, E),
    ("RH8", "Royal Devon University Healthcare NHS Foundation Trust", "Royal Devon", "QJK", "teaching", 1000, 50.717, -3.506, E),
    ("RYR", "University Hospitals Sussex NHS Foundation Trust", "UH Sussex", "QNX", "teaching", 1200, 50.819, -0.118, E),
    ("RHU", "Portsmouth Hospitals University NHS Trust", "Portsmouth", "QRL", "teaching", 750, 50.850, -1.069, E),
    ("RL4", "The Royal Wolverhampton NHS Trust", "Royal Wolverhampton", "QUA", "teaching", 800, 52.601, -2.152, E),
    ("RXN", "Lancashire Teaching Hospitals NHS Foundation Trust", "Lancashire Teaching", "QE1", "teaching", 700, 53.791, -2.708, E),
    ("RAE", "Bradford Teaching Hospitals NHS Foundation Trust", "Bradford", "QWO", "teaching", 550, 53.803, -1.790, E),
    # local providers of high-volume specialised services (main acute trusts)
    ("RTE", "Gloucestershire Hospitals NHS Foundation Trust", "Gloucestershire Hospitals", "QR1", "local", 750, 51.892, -2.072, E),
    ("RA2", "Royal Surrey County Hospital NHS Foundation Trust", "Royal Surrey", "QXU", "local", 450, 51.241, -0.608, E),
    ("RTK", "Ashford and St Peter's Hospitals NHS Foundation Trust", "Ashford and St Peter's", "QXU", "local", 450, 51.378, -0.527, E),
    ("RWF", "Maidstone and Tunbridge Wells NHS Trust", "Maidstone and Tunbridge Wells", "QKS", "local", 700, 51.204, 0.399, E),
    ("RVV", "East Kent Hospitals University NHS Foundation Trust", "East Kent", "QKS", "local", 850, 51.268, 1.089, E),
    ("RPA", "Medway NHS Foundation Trust", "Medway", "QKS", "local", 450, 51.378, 0.538, E),
    ("RDE", "East Suffolk and North Essex NHS Foundation Trust", "East Suffolk and North Essex", "QJG", "local", 900, 51.905, 0.894, E),
    ("RGR", "West Suffolk NHS Foundation Trust", "West Suffolk", "QJG", "local", 380, 52.232, 0.698, E),
    ("RAJ", "Mid and South Essex NHS Foundation Trust", "Mid and South Essex", "QH8", "local", 1400, 51.557, 0.449, E),
    ("RWH", "East and North Hertfordshire NHS Trust", "East and North Herts", "QM7", "local", 550, 51.910, -0.225, E),
    ("RWG", "West Hertfordshire Teaching Hospitals NHS Trust", "West Herts", "QM7", "local", 500, 51.649, -0.408, E),
    ("RC9", "Bedfordshire Hospitals NHS Foundation Trust", "Bedfordshire Hospitals", "QHG", "local", 650, 51.892, -0.474, E),
    ("RGN", "North West Anglia NHS Foundation Trust", "North West Anglia", "QUE", "local", 550, 52.564, -0.256, E),
    ("R1K", "London North West University Healthcare NHS Trust", "London North West", "QRV", "local", 850, 51.575, -0.321, E),
    ("RF4", "Barking, Havering and Redbridge University Hospitals NHS Trust", "BHRUT", "QMF", "local", 750, 51.568, 0.180, E),
    ("RJ2", "Lewisham and Greenwich NHS Trust", "Lewisham and Greenwich", "QKK", "local", 700, 51.453, -0.017, E),
    ("RVR", "Epsom and St Helier University Hospitals NHS Trust", "Epsom and St Helier", "QWE", "local", 600, 51.380, -0.180, E),
    ("RWP", "Worcestershire Acute Hospitals NHS Trust", "Worcestershire Acute", "QGH", "local", 650, 52.193, -2.191, E),
    ("RXW", "The Shrewsbury and Telford Hospital NHS Trust", "Shrewsbury and Telford", "QOC", "local", 550, 52.706, -2.792, E),
    ("RWD", "United Lincolnshire Hospitals NHS Trust", "United Lincolnshire", "QJM", "local", 750, 53.234, -0.521, E),
    ("RNS", "Northampton General Hospital NHS Trust", "Northampton General", "QPM", "local", 450, 52.235, -0.883, E),
    ("RNQ", "Kettering General Hospital NHS Foundation Trust", "Kettering General", "QPM", "local", 350, 52.401, -0.729, E),
    ("RCB", "York and Scarborough Teaching Hospitals NHS Foundation Trust", "York and Scarborough", "QOQ", "local", 750, 53.969, -1.084, E),
    ("RP5", "Doncaster and Bassetlaw Teaching Hospitals NHS Foundation Trust", "Doncaster and Bassetlaw", "QF7", "local", 600, 53.531, -1.110, E),
    ("RFR", "The Rotherham NHS Foundation Trust", "Rotherham", "QF7", "local", 350, 53.419, -1.345, E),
    ("RXL", "Blackpool Teaching Hospitals NHS Foundation Trust", "Blackpool", "QE1", "local", 600, 53.821, -3.013, E),
    ("RXR", "East Lancashire Hospitals NHS Trust", "East Lancashire", "QE1", "local", 650, 53.735, -2.459, E),
    ("RTX", "University Hospitals of Morecambe Bay NHS Foundation Trust", "Morecambe Bay", "QE1", "local", 500, 54.041, -2.799, E),
    ("RD1", "Royal United Hospitals Bath NHS Foundation Trust", "RUH Bath", "QOX", "local", 450, 51.392, -2.391, E),
    ("RN3", "Great Western Hospitals NHS Foundation Trust", "Great Western Swindon", "QOX", "local", 450, 51.539, -1.734, E),
    ("RNZ", "Salisbury NHS Foundation Trust", "Salisbury", "QOX", "local", 300, 51.046, -1.790, E),
    ("RH5", "Somerset NHS Foundation Trust", "Somerset FT", "QSL", "local", 800, 51.012, -3.121, E),
    ("REF", "Royal Cornwall Hospitals NHS Trust", "Royal Cornwall", "QT6", "local", 600, 50.266, -5.091, E),
    ("R0D", "University Hospitals Dorset NHS Foundation Trust", "UH Dorset", "QVV", "local", 750, 50.747, -1.836, E),
    ("RDU", "Frimley Health NHS Foundation Trust", "Frimley Health", "QNQ", "local", 850, 51.319, -0.741, E),
    ("RN5", "Hampshire Hospitals NHS Foundation Trust", "Hampshire Hospitals", "QRL", "local", 500, 51.268, -1.117, E),
    ("RHW", "Royal Berkshire NHS Foundation Trust", "Royal Berkshire", "QU9", "local", 550, 51.450, -0.958, E),
    ("RXQ", "Buckinghamshire Healthcare NHS Trust", "Buckinghamshire Healthcare", "QU9", "local", 550, 51.799, -0.807, E),
    ("RXC", "East Sussex Healthcare NHS Trust", "East Sussex Healthcare", "QNX", "local", 550, 50.783, 0.270, E),
    ("RXK", "Sandwell and West Birmingham Hospitals NHS Trust", "Sandwell and West Birmingham", "QUA", "local", 650, 52.497, -1.965, E),
    ("RXF", "Mid Yorkshire Teaching NHS Trust", "Mid Yorkshire", "QWO", "local", 700, 53.690, -1.515, E),
    ("RWY", "Calderdale and Huddersfield NHS Foundation Trust", "Calderdale and Huddersfield", "QWO", "local", 500, 53.653, -1.812, E),
    ("RBL", "Wirral University Teaching Hospital NHS Foundation Trust", "Wirral", "QYG", "local", 500, 53.369, -3.095, E),
    ("RVY", "Southport and Ormskirk Hospital NHS Trust", "Southport and Ormskirk", "QYG", "local", 300, 53.626, -2.983, E),
    ("RK5", "Sherwood Forest Hospitals NHS Foundation Trust", "Sherwood Forest", "QT1", "local", 500, 53.131, -1.236, E),
    ("RFS", "Chesterfield Royal Hospital NHS Foundation Trust", "Chesterfield Royal", "QJ2", "local", 350, 53.248, -1.401, E),
    ("RTF", "Northumbria Healthcare NHS Foundation Trust", "Northumbria", "QHM", "local", 750, 55.055, -1.555, E),
    ("RXP", "County Durham and Darlington NHS Foundation Trust", "County Durham and Darlington", "QHM", "local", 700, 54.530, -1.560, E),
    ("R0B", "South Tyneside and Sunderland NHS Foundation Trust", "South Tyneside and Sunderland", "QHM", "local", 650, 54.900, -1.405, E),
    ("RNN", "North Cumbria Integrated Care NHS Foundation Trust", "North Cumbria", "QHM", "local", 450, 54.896, -2.957, E),
    ("RVW", "North Tees and Hartlepool NHS Foundation Trust", "North Tees and Hartlepool", "QHM", "local", 400, 54.587, -1.340, E),
]
MH = {"RW4", "RKL", "RHA", "RV5", "RX4", "RXG", "RW1", "RXT", "RNU"}

# specialised income targets for 2022-23, GBP m, from facts §4 scaled by national spend growth
FACT_INCOME = {
    "RR8": (423.8 * F_1516, "Leeds GBP 423.8m 2015-16 (HSJ 2016, facts §4) x 1.555 (22.7/14.6)"),
    "RJ1": (403.1 * F_1516 + 300, "GSTT GBP 403.1m 2015-16 (HSJ 2016, facts §4) x 1.555 + GBP 300m estimate for Royal Brompton and Harefield (merged 2021; assumption)"),
    "R1H": (371.6 * F_1516, "Barts GBP 371.6m 2015-16 (HSJ 2016, facts §4) x 1.555"),
    "RTH": (356.0 * F_1415, "Oxford GBP 356.0m 2014-15 (NHSE FOI via HSJ 2015, facts §4) x 1.645 (22.7/13.8)"),
    "RRV": ((349.4 - 32.8) * F_1516, "UCLH GBP 316.6m 2015-16 (349.4 in 2014-15 less 32.8; HSJ, facts §4) x 1.555"),
    "RTD": (None, "Newcastle about two thirds of income from specialised commissioning (004); GBP 342.6m 2014-15 x 1.645 = GBP 564m (facts §4) is lower"),
    "R0A": (334.7 * F_1415 + 200, "Central Manchester GBP 334.7m 2014-15 (facts §4) x 1.645 + GBP 200m estimate for Wythenshawe (merged 2017; assumption)"),
    "RRK": (327.7 * F_1415 + 100, "UHB GBP 327.7m 2014-15 (facts §4) x 1.645 + GBP 100m estimate for Heart of England (merged 2018; assumption)"),
    "RJZ": (308.8 * F_1415, "King's GBP 308.8m 2014-15 (facts §4) x 1.645"),
    "RHQ": (295.9 * F_1415, "Sheffield Teaching GBP 295.9m 2014-15 (facts §4) x 1.645"),
    "RYJ": (288.0 * F_1415, "Imperial GBP 288.0m 2014-15 (facts §4) x 1.645"),
    "RHM": (262.2 * F_1415, "Southampton GBP 262.2m 2014-15 (facts §4) x 1.645"),
    "RP4": (261.4 * F_1415, "GOSH GBP 261.4m 2014-15 (facts §4) x 1.645"),
    "RX1": (254.5 * F_1415, "Nottingham GBP 254.5m 2014-15 (facts §4) x 1.645"),
    "RGT": (245.0 * F_1415, "Cambridge 15th in 2014-15 (value not seen, facts §4); GBP 245m assumed (below Nottingham) x 1.645"),
}
NEWCASTLE_SHARE = 2 / 3
# assumption: specialised share of turnover for providers without a public figure
KIND_SHARE = {"shelford": 0.35, "teaching": 0.28, "childrens": 0.55, "specialist": 0.60, "local": 0.13}
SPECIFIC_SHARE = {"REN": 0.95, "RBV": 0.80, "RGM": 0.75, "RBQ": 0.80, "RET": 0.80, "RPY": 0.55, "RP6": 0.25,
                  "RAN": 0.45, "RL1": 0.35, "RPC": 0.30, "REP": 0.25}
# Opening (2022-23) finances. No trust-level 2022-23 accounts could be sourced for most modelled trusts
# (../shared/data/specialised_facts.md §4; only The Christie's 2021-22 accounts), so margins and cash are
# trust-type figures, flagged as such in each row's source:
#   opening_margin = a + b x financial_position(host system) + KIND_MARGIN[kind], with a fitted so that the
#   modelled trusts reproduce the 2022-23 sector's income-weighted deficit of 0.38% of income (GBP 448m of
#   GBP 118.4bn; Nuffield Trust, TAC-based income); 41% of trusts were in deficit (TAC-based count, 85 of 207).
SECTOR_MARGIN_2022 = -448.0 / 118_400.0
SHARE_IN_DEFICIT_2022 = 85 / 207
# assumption: specialist and children's trusts had the highest margins before 2023-24 (specialist trusts' EBITDA
# margin 4.7% against 3.3% for acute trusts in 2023-24, TAC-based, low confidence); their margins start higher.
KIND_MARGIN = {"specialist": 0.010, "childrens": 0.005, "shelford": 0.0, "teaching": 0.0, "local": 0.0}
# assumption: opening cash in days of operating costs by trust type (The Christie held about 150 days in 2021-22,
# Christie accounts; sector cash balances were not found), x0.6 in named cash-strapped systems.
CASH_DAYS = {"specialist": 60, "childrens": 45, "shelford": 35, "teaching": 25, "local": 20}
LOW_CASH_ICBS = {"QOP", "QHL", "QOC", "QE1", "QHM"}  # named cash-strapped systems (facts §5)


MARGIN_LOADING = 1.0  # assumption: a trust's opening margin moves one-for-one with its system's position


def fit_opening_margins(fp: np.ndarray, kind_offset: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """(a, d): margins m = a + MARGIN_LOADING x fp + offset, deficits then deepened d-fold (m < 0: d x m).

    Two free parameters, two calibration targets, both met: the income-weighted mean equals the 2022-23 sector
    margin, and the share of trusts in deficit is at most the observed 41% (the smallest depth d that brings it
    there). Deeper, fewer deficits is what the sector showed: most trusts near break-even, a minority deep in
    deficit (NHS England board papers; facts §5).
    """
    base = MARGIN_LOADING * fp + kind_offset

    def shift(d: float) -> float:
        lo, hi = -0.2, 0.2
        for _ in range(80):
            a = 0.5 * (lo + hi)
            m = a + base
            m = np.where(m < 0, d * m, m)
            if float((weight * m).sum() / weight.sum()) < SECTOR_MARGIN_2022:
                lo = a
            else:
                hi = a
        return 0.5 * (lo + hi)

    def share(d: float) -> float:
        m = shift(d) + base
        return float((np.where(m < 0, d * m, m) < 0).mean())

    lo, hi = 1.0, 6.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if share(mid) > SHARE_IN_DEFICIT_2022:
            lo = mid
        else:
            hi = mid
    return shift(hi), hi


def build_providers(icbs: pd.DataFrame):
    p = pd.DataFrame(PROVIDERS, columns=["provider_code", "name", "short_name", "icb_code", "kind", "turnover_gbp_m",
                                          "lat", "lon", "turnover_source"])
    fp = p["icb_code"].map(icbs.set_index("icb_code")["financial_position"]).to_numpy(float)
    off = p["kind"].map(KIND_MARGIN).to_numpy(float)
    a, depth = fit_opening_margins(fp, off, p["turnover_gbp_m"].to_numpy(float))
    m = a + MARGIN_LOADING * fp + off
    p["opening_margin"] = np.round(np.where(m < 0, depth * m, m), 5)
    p["margin_fit"] = f"a={a:+.5f}, b={MARGIN_LOADING:.4f}"
    p["margin_depth"] = depth
    days = [CASH_DAYS[k] * (0.6 if i in LOW_CASH_ICBS and c != "RTD" else 1.0)
            for c, k, i in zip(p.provider_code, p.kind, p.icb_code)]
    p["cash_days"] = days
    opex = p["turnover_gbp_m"] * (1 - p["opening_margin"])
    p["cash_gbp_m"] = (opex * p["cash_days"] / 365.0).round(1)
    return p


# --------------------------------------------------------------------------- provider x service
def lists():
    """Which providers offer which service (explicit lists; sources in README)."""
    P = {c for c, *_ in PROVIDERS}
    kind = {c: k for c, _, _, _, k, *_ in PROVIDERS}
    acute = {c for c in P if kind[c] in ("shelford", "teaching", "local")}
    big = {c for c in P if kind[c] in ("shelford", "teaching")}
    kids = {"RP4", "RBS", "RQ3", "RCU"}
    L = {}
    L["renal_dialysis"] = acute - {"RA2", "RNZ", "RVY", "RGR", "RWG", "RNQ", "RFR", "RVW", "RN5", "RXC", "RPA"} | {"RBS", "RP4", "RQ3"}
    L["kidney_transplant"] = {"RRK", "RVJ", "RGT", "RKB", "RR8", "RWE", "REM", "R0A", "RTD", "RX1", "RTH", "RK9", "RHU",
                              "RJ1", "RAL", "R1H", "RJ7", "RYJ", "RHQ"}
    L["chemotherapy"] = acute | {"RBV", "REN", "RPY"} | kids
    L["radiotherapy"] = ({"RGT", "RJ1", "RYJ", "RJZ", "R0A", "RTD", "RTH", "RHQ", "RRV", "RRK", "RBV", "REN", "RPY",
                          "RR8", "R1H", "RHM", "RX1", "RA7", "RWE", "RJE", "RKB", "RK9", "RTR", "RM1", "RTG", "RH8",
                          "RYR", "RHU", "RL4", "RXN", "RWA", "RAL", "RTE", "RA2", "RWF", "RVV", "RDE", "RAJ", "RWH",
                          "RF4", "RWP", "RXW", "RWD", "RNS", "RCB", "RD1", "RH5", "REF", "R0D", "RN3", "RHW", "RGN"}
                         - {"RGT"}) | {"RGT"}
    L["adult_cardiac_surgery"] = {"RJ1", "RYJ", "RJZ", "R0A", "RTD", "RTH", "RHQ", "RRK", "RGM", "RBQ", "RR8", "R1H",
                                  "RHM", "RX1", "RA7", "RWE", "RJ7", "RWA", "RJE", "RKB", "RK9", "RTR", "RYR", "RL4",
                                  "RXL", "RAJ"}
    L["specialist_cardiology"] = acute | {"RGM", "RBQ"}
    L["congenital_heart_disease"] = {"RTD", "RR8", "RBS", "RQ3", "RA7", "RHM", "RP4", "RJ1", "R1H", "RWE", "RRK"}
    L["major_trauma"] = {"RJZ", "R1H", "RJ7", "RYJ", "RTH", "RHM", "RYR", "RK9", "RVJ", "RA7", "RRK", "RQ3", "RJE", "RKB",
                         "RX1", "RGT", "RR8", "RHQ", "RCU", "RWA", "RTD", "RTR", "REM", "RBS", "RM3", "R0A", "RXN"}
    L["neurosurgery"] = {"RJZ", "RJ7", "RYJ", "R1H", "RRV", "RTH", "RHM", "RYR", "RK9", "RVJ", "RRK", "RJE", "RKB", "RX1",
                         "RGT", "RR8", "RHQ", "RWA", "RTD", "RTR", "RET", "RM3", "RXN", "RF4", "RP4"}
    L["neonatal_critical_care"] = (acute - {"RRK"} - {"RA2"}) | {"RQ3", "REP", "RP4"} | {"RRK"}
    L["paediatric_intensive_care"] = {"RP4", "RJ1", "RJZ", "RJ7", "RYJ", "RTH", "RHM", "RA7", "RK9", "RQ3", "RCU", "RR8",
                                      "RTD", "RTR", "RBS", "R0A", "RX1", "RWE", "RGT", "RJE", "R1H", "RYR"}
    L["adult_critical_care"] = acute | {"RGM", "RBQ", "RET"}
    L["vascular_surgery"] = (big - {"RRV", "RAE"}) | {"RAJ", "RVV", "RDE", "RWH", "RTE", "RWP", "RXW", "RWD", "RCB", "RP5",
                                                      "RXL", "RD1", "RH5", "REF", "R0D", "RDU", "R0B", "RNN", "RTK", "RXF",
                                                      "RXR", "RGN", "RNS", "RXK"}
    L["specialised_orthopaedics"] = {"RAN", "RL1", "RR8", "R1H", "RHM", "RX1", "RVJ", "RWE", "REM", "RJ7", "RTG", "RH8",
                                     "RYR", "RTD", "RTH", "RRK", "RHQ", "R0A", "RJ1", "RRV", "RP4", "RBS", "RQ3", "RCU",
                                     "RKB", "RJE"}
    L["og_cancer_surgery"] = {"RJ1", "RYJ", "R0A", "RTD", "RTH", "RHQ", "RRV", "RRK", "RGT", "RR8", "RHM", "RX1", "RA7",
                              "RWE", "REM", "RJ7", "RWA", "RJE", "RKB", "RK9", "RTR", "RM1", "RTG", "RM3", "RH8", "RYR",
                              "RHU", "RXN", "RAJ", "RVV", "RDE", "RWH", "RTE", "RWP", "RWD", "R0D", "RA2", "RPY", "RL4",
                              "RJZ", "R1H", "RCB", "RAL"}
    L["complex_cancer_surgery"] = big | {"RPY", "RBV", "RAJ", "RVV", "RDE", "RWH", "RTE", "RWP", "RWD", "R0D", "RA2",
                                         "RCB", "RWF", "RH5", "REF", "RP5", "RXW", "RDU"}
    L["specialised_paediatrics"] = kids | {"R0A", "RJ1", "RJZ", "RTD", "RR8", "RA7", "RHM", "RX1", "RWE", "RTH", "RGT",
                                           "RJ7", "RYJ", "R1H", "RAL", "RRV", "RK9", "RTR", "RJE", "RWA", "RKB", "RM1",
                                           "RTG", "RH8", "RYR", "RHU"}
    L["specialised_internal_medicine"] = big | {"RET", "RGM", "RBQ", "RBV", "REN", "RPY"} | kids
    L["complex_obesity_surgery"] = {"RJ1", "RRV", "RYJ", "R0A", "RM3", "RRK", "RHQ", "RR8", "RX1", "RWE", "REM", "RA7",
                                    "RVJ", "RHM", "RHU", "RYR", "RTD", "RTR", "RK9", "RM1", "RKB", "RJ7", "R1H", "RXL",
                                    "RWA", "RJZ", "RF4", "RAJ"}
    L["spinal_cord_injury"] = {"RL1", "RAN", "RHQ", "RXQ", "RXF", "RTR", "RNZ", "RVY"}
    L["other_delegable_2025"] = big | {"RP6", "RPC", "R0B"}
    L["hiv_services"] = big | {"R1K", "RF4", "RJ2", "RVR", "RAJ", "RDU", "RXK", "RC9", "RWH"}
    L["cystic_fibrosis"] = {"RGM", "RBQ", "RJ1", "RYJ", "RJZ", "R0A", "RTD", "RTH", "RHQ", "RRK", "RR8", "RHM", "RX1",
                            "RA7", "RVJ", "RWE", "REM", "RK9", "RM1", "RP4", "RBS", "RQ3", "RCU", "RKB", "RJE", "RYR",
                            "RWA"}
    L["haemophilia"] = {"RJ1", "RRV", "RAL", "RJZ", "R0A", "RTD", "RTH", "RHQ", "RRK", "RR8", "RHM", "RX1", "RA7", "RWE",
                        "REM", "RGT", "RP4", "RBS", "RQ3", "RCU", "RK9", "RYR", "RKB", "RJE", "R1H"}
    L["specialised_mental_health"] = set(MH)
    L["high_cost_drugs_devices"] = P - MH
    L["liver_transplant"] = {"RRK", "RR8", "RTD", "RGT", "RJZ", "RAL"}
    L["heart_lung_transplant"] = {"RGM", "RJ1", "RTD", "R0A", "RRK", "RP4"}
    L["proton_beam_therapy"] = {"RBV", "RRV"}
    L["lsd_enzyme_replacement"] = {"RAL", "RGT", "RM3", "RRK", "RP4", "R0A"}
    L["ecmo"] = {"RJ1", "RGM", "R0A", "RWE", "RP4"}
    L["hss_adult_other"] = {"RRV", "RJ1", "RRK", "R0A", "RTD", "RTH"}
    L["hss_paediatric_other"] = {"RP4", "RQ3", "RBS", "R0A", "RTD", "RJ1"}
    return L


# relative preference of providers within a service before calibration (assumption)
PREF = {
    "chemotherapy": {"RBV": 6, "REN": 5, "RPY": 5},
    "radiotherapy": {"RBV": 4, "REN": 3, "RPY": 3},
    "specialised_paediatrics": {"RP4": 6, "RBS": 4, "RQ3": 4, "RCU": 3},
    "neurosurgery": {"RET": 2, "RP4": 0.6, "RF4": 1.5},
    "major_trauma": {"RQ3": 0.5, "RCU": 0.4, "RBS": 0.5, "R0A": 0.5, "RA7": 0.6},
    "specialised_orthopaedics": {"RAN": 5, "RL1": 5},
    "adult_cardiac_surgery": {"RGM": 2.5, "RBQ": 2.5},
    "specialist_cardiology": {"RGM": 4, "RBQ": 4},
    "congenital_heart_disease": {"RP4": 2, "RBS": 1.5, "RQ3": 1.5},
    "paediatric_intensive_care": {"RP4": 2.5, "RBS": 2, "RQ3": 2, "RCU": 1.5},
    "neonatal_critical_care": {"REP": 3, "RQ3": 3},
    "specialised_internal_medicine": {"RET": 3, "RGM": 2, "RBQ": 1, "RBV": 2, "REN": 1.5},
    "other_delegable_2025": {"RP6": 8, "RPC": 4},
    "hiv_services": {"RJ1": 3, "RRV": 3, "RYJ": 3, "RAL": 2, "R1H": 2, "RJZ": 2},
}


# assumption: local trusts' share within regional services (non-local trusts weigh more by size)
LOCAL_BOOST = {"radiotherapy": 3.0, "og_cancer_surgery": 1.8, "vascular_surgery": 1.8, "adult_critical_care": 1.5,
               "neonatal_critical_care": 1.3}
SMALL_SITES = {"RNZ", "RVY"}  # in the model for their spinal cord injury centres only


# Assumption: high-volume services delivered close to home. The income-target fitting above
# would otherwise pull their volumes towards large trusts far from the patients. For these
# lines, LOCAL_FRACTION of each ICB's need-weighted cases is placed at providers inside the
# ICB (split as the fitting split them); the rest keeps the fitted distribution. 0.85 is a
# judgement: dialysis satellites and chemotherapy day units serve their own towns, while some
# patients use a regional centre (no public figure for the cross-border share, MODEL.md).
LOCAL_SERVICES = ("renal_dialysis", "chemotherapy", "adult_critical_care", "neonatal_critical_care",
                  "specialist_cardiology", "hiv_services")
LOCAL_FRACTION = 0.85


def localise(X, national, mask, sids, providers, icbs):
    X = X.copy()
    host = providers.icb_code.to_numpy()
    weight = (icbs.population * icbs.need_index).to_numpy(float)
    weight = weight / weight.sum()
    for j, s in enumerate(sids):
        if s not in LOCAL_SERVICES:
            continue
        fitted = X[:, j].copy()
        local = np.zeros_like(fitted)
        for c, w in zip(icbs.icb_code, weight):
            idx = np.nonzero((host == c) & mask[:, j])[0]
            if len(idx) and fitted[idx].sum() > 0:
                local[idx] += LOCAL_FRACTION * national[j] * w * fitted[idx] / fitted[idx].sum()
        rest = national[j] - local.sum()
        X[:, j] = local + rest * fitted / fitted.sum()
    return X


def build_provider_services(services: pd.DataFrame, providers: pd.DataFrame, icbs: pd.DataFrame):
    L = lists()
    codes = list(providers.provider_code)
    pi = {c: i for i, c in enumerate(codes)}
    sids = list(services.service_id)
    nP, nS = len(codes), len(sids)
    cost = services.cost_per_case_gbp.to_numpy(float)
    national = services.spend_share.to_numpy(float) * TOTAL_SPEND_M * 1e6 / cost  # cases
    kind = providers.kind.to_numpy()
    turnover = providers.turnover_gbp_m.to_numpy(float)
    icb_pop = icbs.set_index("icb_code")["population"]
    # providers per ICB for local services, to share the host population
    n_in_icb = providers.groupby("icb_code").size()

    mask = np.zeros((nP, nS), bool)
    W = np.zeros((nP, nS))
    size = {"shelford": 3.0, "teaching": 2.0, "childrens": 1.0, "specialist": 1.0, "local": 1.0}
    for j, s in enumerate(sids):
        for c in L[s]:
            if c in SMALL_SITES and s not in ("spinal_cord_injury", "high_cost_drugs_devices"):
                continue
            i = pi[c]
            mask[i, j] = True
            w = size[kind[i]] * PREF.get(s, {}).get(c, 1.0)
            if s in ("renal_dialysis", "chemotherapy", "adult_critical_care", "neonatal_critical_care",
                     "specialist_cardiology", "hiv_services"):
                w *= icb_pop[providers.icb_code[i]] / 1e6 / n_in_icb[providers.icb_code[i]] ** 0.5
            if kind[i] == "local" and s in LOCAL_BOOST:
                w *= LOCAL_BOOST[s]
            if kind[i] == "teaching" and s == "radiotherapy":
                w *= 1.6  # assumption: teaching-trust cancer centres larger than their size weight suggests
            if s == "specialised_mental_health":
                w *= turnover[i] / 500.0  # secure capacity roughly in proportion to trust size (assumption)
            W[i, j] = w
    # targets of specialised income (GBP m)
    tgt = np.full(nP, np.nan)
    src = [""] * nP
    fixed = np.zeros(nP, bool)
    for i, c in enumerate(codes):
        if c in MH:
            continue
        if c == "RTD":
            tgt[i] = NEWCASTLE_SHARE * turnover[i]; fixed[i] = True; src[i] = FACT_INCOME[c][1]
        elif c in FACT_INCOME:
            tgt[i] = FACT_INCOME[c][0]; fixed[i] = True; src[i] = FACT_INCOME[c][1]
        else:
            sh = SPECIFIC_SHARE.get(c, KIND_SHARE[kind[i]])
            tgt[i] = sh * turnover[i]
            src[i] = f"assumption: specialised share {sh:.0%} of turnover before scaling"
    mh_total = sum(national[j] * cost[j] for j, s in enumerate(sids) if s == "specialised_mental_health") / 1e6
    for i, c in enumerate(codes):
        if c in SPECIFIC_SHARE:
            fixed[i] = True  # specialist trusts: share of turnover kept as set, not scaled
    free = ~fixed & ~np.isnan(tgt)
    need = TOTAL_SPEND_M - mh_total - tgt[fixed].sum()
    scale = need / tgt[free].sum()
    tgt[free] *= scale
    # iterative proportional fitting: service totals (exact) x provider incomes (targets)
    X = W.copy()
    for _ in range(400):
        X *= (national / X.sum(axis=0))[None, :]
        inc = (X * cost[None, :]).sum(axis=1) / 1e6
        f = np.where(np.isnan(tgt), 1.0, tgt / np.maximum(inc, 1e-9))
        X *= f[:, None]
    X *= (national / X.sum(axis=0))[None, :]
    X[~mask] = 0.0
    X = localise(X, national, mask, sids, providers, icbs)
    rows = []
    for i in range(nP):
        for j in range(nS):
            if mask[i, j]:
                b = round(float(X[i, j]), 2)
                rows.append({"provider_code": codes[i], "service_id": sids[j], "base_cases": b,
                             "capacity_cases": round(b * (1 + HEADROOM), 2),
                             "source": "derived: gravity-free allocation of national cases (spend_share x GBP 22.7bn / cost) "
                                       "by iterative proportional fitting to provider income targets; centre list per README; "
                                       "capacity = base x 1.10 (assumption)"})
    ps = pd.DataFrame(rows)
    # fix rounding so each service sums exactly to the national figure (adjust the largest row)
    for j, s in enumerate(sids):
        sel = ps.service_id == s
        diff = round(national[j] - ps.loc[sel, "base_cases"].sum(), 2)
        k = ps.loc[sel, "base_cases"].idxmax()
        ps.loc[k, "base_cases"] = round(ps.loc[k, "base_cases"] + diff, 2)
        ps.loc[k, "capacity_cases"] = round(ps.loc[k, "base_cases"] * (1 + HEADROOM), 2)
    return ps, tgt, src, scale


def main():
    icbs = build_icbs()
    services = build_services()
    providers = build_providers(icbs)
    ps, tgt, src, scale = build_provider_services(services, providers, icbs)
    cost = services.set_index("service_id").cost_per_case_gbp
    inc = (ps.base_cases * ps.service_id.map(cost)).groupby(ps.provider_code).sum() / 1e6
    providers["source"] = [
        f"turnover: {ts}; specialised income target: "
        + (s if s else "specialised mental health only (assumption)")
        + ("" if s == "" or not s.startswith("assumption") else f", scaled x{scale:.3f} so all providers sum to GBP 22.7bn")
        + f"; opening margin: trust-type figure fitted to the 2022-23 sector (GBP 448m deficit on GBP 118.4bn), "
          f"{mf} x host system position + {KIND_MARGIN[k]:+.3f} for {k} trusts (assumption), a deficit then "
          f"deepened x{dp:.3f} so that 41% of trusts open in deficit (85 of 207, TAC-based; fit_opening_margins)"
        + f"; cash: assumption {d:.0f} days of operating costs"
        + (" (x0.6: host ICB a named cash-strapped system, facts §5)" if d < CASH_DAYS[k] else "")
        for ts, s, mf, dp, d, k in zip(providers.turnover_source, src, providers.margin_fit,
                                       providers.margin_depth, providers.cash_days, providers.kind)]
    out = providers[["provider_code", "name", "short_name", "icb_code", "kind", "turnover_gbp_m", "opening_margin",
                     "cash_gbp_m", "lat", "lon", "source"]]
    write_csv(out, SEEDS / "providers.csv")
    write_csv(ps, SEEDS / "provider_services.csv")
    build_calibration()
    build_validation()
    build_funding()
    build_envelope()
    print(f"services {len(services)}, providers {len(providers)}, provider-service rows {len(ps)}, "
          f"national base spend GBP {inc.sum():,.1f}m")


CAL_COLS = ["fact", "quantity", "year", "value", "unit", "tolerance", "tolerance_kind", "fitted_by", "source",
            "confidence"]
VAL_COLS = ["fact", "quantity", "year", "value", "unit", "tolerance", "tolerance_kind", "source", "confidence", "note"]



# One rule for every tolerance, from the source's precision as its confidence states it (the same for calibration
# and validation rows): a figure the source states exactly (a count of named bodies, lines, centres, or a value the
# tables hold by construction) must match exactly or within its stated rounding; every other figure is accepted within
# a band set by its confidence - high 5%, medium 10%, low 20% of the value for money, cases and counts of
# bodies; for shares of trusts or systems the same bands in points of a share (high 0.025, medium 0.05, low 0.10);
# for margins (share of income) a tenth of that (high 0.0025, medium 0.005, low 0.01).
BANDS = {"high": 0.05, "medium": 0.10, "low-medium": 0.15, "low": 0.20}


def tolerance(unit: str, confidence: str) -> tuple[float, str]:
    """(tolerance, kind) for a figure of this unit and confidence, by the one rule above."""
    band = BANDS[confidence]
    if unit == "share of income":
        return round(band / 20, 5), "abs"
    if unit == "share":
        return round(band / 2, 4), "abs"
    return band, "rel"


def ruled(rows: list[tuple], conf_at: int, exact: set[str]) -> list[tuple]:
    """Rows with their tolerance set by the rule (rows whose quantity is in ``exact``, and one-sided tests, keep
    theirs)."""
    out = []
    for r in rows:
        if r[6] in ("min", "max") or r[1] in exact:
            out.append(r)
            continue
        tol, kind = tolerance(r[4], r[conf_at])
        out.append((*r[:5], tol, kind, *r[7:]))
    return out


def build_calibration():
    """Facts the inputs are fitted to, or that hold by construction: every row must pass (tests pin it)."""
    S, C, P = "seed tables", "constructed (input)", "parameter"
    rows = [
        ("ICBs", "n_icbs", "", 42, "count", 0, "abs", S, "002; ONS/ODS ICB codes (SOURCES.md)", "high"),
        ("NHS England regions", "n_regions", "", 7, "count", 0, "abs", S, "002; NHS England regions", "high"),
        ("population of England, mid-2022", "population", "", 57106398, "persons", 0, "abs", S,
         "ONS mid-2022 via The-Strategy-Unit/paediatric_fracture_management (SOURCES.md)", "high"),
        ("specialised service lines", "n_service_lines", "", 154, "count", 0, "abs", S, "001", "high"),
        ("lines planned for delegation", "n_delegable_lines", "", 65, "count", 0, "abs", S, "001", "high"),
        ("highly specialised lines", "n_highly_specialised_lines", "", 80, "count", 5, "abs", S,
         "NHS England HSS page: ~80 of ~150 (MODEL.md)", "medium"),
        ("lines jointly commissioned 2023-24", "n_lines_59", "", 59, "count", 0, "abs", S,
         "HSJ; NHS England board 2 Feb 2023 (facts §2)", "high"),
        ("lines delegated 2025-26", "n_lines_70", "", 70, "count", 0, "abs", S,
         "NHS England board Dec 2024; NHS Confed Feb 2025 (facts §2)", "high"),
        ("joint committees 2023-24", "n_joint_committees", "", 9, "count", 0, "abs", S,
         "NHS England board paper 7 Dec 2023 (facts §2)", "high"),
        ("ICBs taking full delegation in 2024-25", "n_wave_2_icbs", "", 20, "count", 0, "abs", S,
         "NHS England board 7 Dec 2023: East of England, Midlands, North West", "high"),
        ("major trauma centres", "n_centres:major_trauma", "", 27, "count", 0, "abs", S, "nhs.uk (facts §3)", "high"),
        ("adult neurosurgical units", "n_centres:neurosurgery", "", 25, "count", 1, "abs", S,
         "NHS England spec D03 (facts §3); modelled 24 adult + GOSH", "high"),
        ("paediatric intensive care units", "n_centres:paediatric_intensive_care", "", 24, "count", 3, "abs", S,
         "PICANet (facts §3)", "medium"),
        ("proton beam centres", "n_centres:proton_beam_therapy", "", 2, "count", 0, "abs", S, "UCLH; CRUK (facts §3)",
         "high"),
        ("dialysis cost per patient-year", "unit_cost:renal_dialysis", "2022-23", 24804, "GBP", 0, "abs", S,
         "PQ answer 9 Nov 2021 (facts §1a)", "high"),
        ("dialysis patients in England", "cases:renal_dialysis", "2022-23", 23000, "patients", 0.10, "rel", S,
         "HSJ (facts §3)", "medium"),
        ("highly specialised lines: patients a year per line (mean; usually at most 500)", "mean_patients_per_hss_line",
         "2022-23", 500, "patients a year", 0, "max", S, "003; NHS England HSS page", "high"),
        ("specialised spend 2022-23", "specialised_spend", "2022-23", 22.7, "GBP bn", 0.02, "rel", S,
         "written PQ answer May 2024 (facts §1a); ~GBP 23bn in 2022 (001)", "high"),
        ("specialised allocation 2023-24", "specialised_budget", "2023-24", 25.115, "GBP bn", 0.005, "rel", C,
         "NHS England board, Financial performance update, 1 Feb 2024, table 1", "high"),
        ("value of the 59 services jointly commissioned 2023-24", "value_lines_59", "2023-24", 13.0, "GBP bn", 0.10,
         "rel", "seed tables (spend shares)", "HSJ 'Nine regions to take over GBP 13bn' (facts §2)", "medium"),
        ("Newcastle: specialised share of income", "specialised_share_of_income:RTD", "2022-23", 0.667, "share",
         0.05, "rel", "seed tables (income targets)", "004", "low-medium"),
        ("top-10 providers' share of specialised spend", "top10_share", "2022-23", 0.271, "share", 0.05, "rel",
         "seed tables (income targets)", "HSJ Daily Insight 2016, for 2015-16 (facts §4); modelled year includes later mergers",
         "medium"),
        ("trust sector margin 2022-23", "trust_sector_margin", "2022-23", round(SECTOR_MARGIN_2022, 5), "share of income",
         0.0005, "abs", "seed tables (opening margins)",
         "GBP 448m deficit (Nuffield Trust, adjusted) on GBP 118.4bn sector income (TAC-based analysis)", "medium"),
        ("trust sector margin 2023-24", "trust_sector_margin", "2023-24", -0.009, "share of income", 0.001, "abs",
         "funding.csv unfunded_cost_pressure 2023-24 (seeds/calibrate.py)",
         "GBP 1.2bn deficit, 0.9% of income (Nuffield Trust analysis, via parliamenttoday.com)", "medium"),
        ("share of trusts in deficit 2022-23", "trusts_in_deficit_share", "2022-23", round(SHARE_IN_DEFICIT_2022, 4),
         "share", 0.10, "abs", "seed tables (opening margins; not fitted exactly, see build_tables.py)",
         "85 of 207 trusts (TAC-based count, TeslimAdeyanju/NHS-Trust-Financial-Analytics)", "low"),
        ("ICB bodies' deficit 2022-23", "icb_sector_deficit_gbp_m", "2022-23", ICB_BODY_DEFICIT_2022_M, "GBP m", 0.05,
         "rel", "seed tables (ICB body positions)",
         "system deficit GBP 517m (King's Fund May 2025) less trusts' GBP 448m (Nuffield Trust); derived", "low"),
        ("systems with deficit plans 2024-25 (seed positions)", "seed_systems_in_deficit", "", 31, "count", 2, "abs",
         "seed tables (system positions)", "NHS England board July 2024 via Healthcare Leader (facts §5)", "high"),
        ("total of system deficit plans 2024-25 (seed positions)", "seed_system_deficit_gbp_bn", "", 2.2, "GBP bn",
         0.25, "rel", "seed tables (system positions); known miss: the positions, set from named examples, sum to "
         "about 5% above the plans' total", "NHS England board July 2024 (facts §5)", "high"),
        ("specialised spend 2023-24 (forecast outturn)", "specialised_spend", "2023-24", 25.031, "GBP bn", 0.01, "rel",
         "parameter activity_pressure (seeds/calibrate.py)",
         "NHS England board, Financial performance update, 1 Feb 2024 (month 9 forecast)", "high"),
        ("value delegated to the 20 ICBs of three regions 2024-25 (excl. high-cost drugs)", "delegated_value:wave_2",
         "2024-25", 5.3, "GBP bn", 0.10, "rel", "funding.csv specialised_allocation 2024-25 (derived from this figure); "
         "known miss: the 59 lines' spend shares in those regions give about GBP 6.1bn (not refitted)",
         "written PQ answer to Karin Smyth, May 2024", "high"),
        ("systems with a deficit 2024-25", "systems_in_deficit", "2024-25", 31, "count", 5, "abs",
         "seed tables (system positions come from the same 2024-25 plans)",
         "31 of 42 systems planned deficits (NHS England board July 2024)", "high"),
        ("specialist and children's trusts: share of admissions from outside the host ICB (mean)",
         "out_of_area_share_mean:specialist_childrens", "2022-23", None, "share", 0.05, "abs",
         "parameters in_area_affinity, reach_multiplier, deprivation_weight",
         "OHID acute trust catchments 2022 (seeds/provider_catchment.csv)", "high"),
    ]
    cat = pd.read_csv(SEEDS / "provider_catchment.csv")
    sc = cat[cat.kind.isin(["specialist", "childrens"]) & (cat.in_catchment_file == True)]  # noqa: E712
    obs = round(float(sc.share_out_of_host_icb.mean()), 4)
    rows = [r if r[3] is not None else (*r[:3], obs, *r[4:]) for r in rows]
    exact = {"n_icbs", "n_regions", "population", "n_service_lines", "n_delegable_lines", "n_highly_specialised_lines",
             "n_lines_59", "n_lines_70", "n_joint_committees", "n_wave_2_icbs", "n_centres:major_trauma",
             "n_centres:neurosurgery", "n_centres:paediatric_intensive_care", "n_centres:proton_beam_therapy",
             "unit_cost:renal_dialysis", "specialised_budget", "trust_sector_margin", "seed_systems_in_deficit",
             "specialised_spend"}
    # Exact by construction (the tables hold them, or a calibrated value reproduces them): the stated rounding.
    rows = ruled(rows, 9, exact)
    write_csv(pd.DataFrame(rows, columns=CAL_COLS), SEEDS / "calibration.csv")


def build_validation():
    """Facts the model is NOT fitted to: its outputs are compared with them and reported, pass or fail."""
    rows = [
        ("trust sector margin 2024-25", "trust_sector_margin", "2024-25", round(-780 / 137_000, 5), "share of income",
         0.005, "abs", "GBP 780m deficit (King's Fund, Mar 2026, via LBC); sector income 2024-25 not found: "
         "GBP 137bn assumed (2023-24 GBP 129.2bn + 6%)", "medium",
         "independent: no input is fitted to 2024-25 trust finances (the 2023-24 margin is a calibration target); "
         "the national deficit support paid that year is an input"),
        ("share of trusts in deficit 2023-24", "trusts_in_deficit_share", "2023-24", 0.60, "share", 0.15, "abs",
         "124 of 206 trusts (TAC-based count, TeslimAdeyanju/NHS-Trust-Financial-Analytics)", "low",
         "independent: the 2022-23 share is a calibration target, the 2023-24 share follows from the round"),
        ("share of acute trusts in deficit 2024-25", "trusts_in_deficit_share:acute", "2024-25", 0.69, "share", 0.15,
         "abs", "King's Fund analysis, Mar 2026 (via LBC / Shropshire Star)", "medium",
         "independent (no input uses 2024-25 trust counts); acute = Shelford, teaching and local trusts"),
        ("specialist trusts' margin fell more than acute trusts' in 2023-24", "margin_change_specialist_minus_acute",
         "2023-24", 0.0, "share of income", 0.0, "max",
         "Nuffield Trust analysis of 2023-24 accounts: steepest decline since 2019-20 in specialist trusts", "medium",
         "independent; passes when the model's specialist margin change minus acute margin change is <= 0"),
        ("value of the 70 services delegated 2025-26", "value_lines_70", "2025-26", 14.0, "GBP bn", 0.10, "rel",
         "NHS England board Dec 2024; NHS Confederation 13 Feb 2025", "medium",
         "partly dependent: the 2025-26 allocation is derived from the 2024-25 one, which used the GBP 5.3bn "
         "(a calibration fact); the 70-line share of spend is independent"),
        ("value delegated to the six South East ICBs 2025-26", "delegated_value:region:South East", "2025-26", 2.3,
         "GBP bn", 0.10, "rel", "Surrey Heartlands ICS and Frimley ICB pages (2025)", "high",
         "partly dependent: as the 70 services row; the South East's share of it is independent"),
        ("specialist and children's trusts: out-of-area share, trust by trust (mean absolute error no worse than "
         "giving every trust the observed mean)",
         "out_of_area_share_mae:specialist_childrens", "2022-23", "naive", "share", 0.0, "max",
         "OHID acute trust catchments 2022 (seeds/provider_catchment.csv)", "high",
         "independent of the fitted mean: only the mean is fitted; this checks the pattern across trusts"),
        ("Shelford trusts: specialised out-of-area share at least the all-admissions share",
         "out_of_area_share_mean:shelford", "2022-23", None, "share", 0.0, "min",
         "OHID acute trust catchments 2022 (seeds/provider_catchment.csv)", "high",
         "independent (only specialist and children's trusts' mean is fitted); all admissions include local work, "
         "so the specialised share should be higher"),
        ("local trusts: specialised out-of-area share at least the all-admissions share",
         "out_of_area_share_mean:local", "2022-23", None, "share", 0.0, "min",
         "OHID acute trust catchments 2022 (seeds/provider_catchment.csv)", "high",
         "independent (only specialist and children's trusts' mean is fitted); all admissions include local work, "
         "so the specialised share should be higher"),
    ]
    cat = pd.read_csv(SEEDS / "provider_catchment.csv")
    ok = cat[cat.in_catchment_file == True]  # noqa: E712
    obs = {k: round(float(ok[ok.kind == k].share_out_of_host_icb.mean()), 4) for k in ("shelford", "local")}
    sc = ok[ok.kind.isin(["specialist", "childrens"])].share_out_of_host_icb
    naive = round(float((sc - sc.mean()).abs().mean()), 4)  # the error of a model that knows only the mean
    out = []
    for r in rows:
        if r[3] == "naive":
            r = (*r[:3], naive, *r[4:])
        if r[3] is None:
            r = (*r[:3], obs[r[1].split(":")[1]], *r[4:])
        out.append(r)
    out = ruled(out, 8, set())
    write_csv(pd.DataFrame(out, columns=VAL_COLS), SEEDS / "validation.csv")


# Written by seeds/calibrate.py (which runs the model); build_tables.py keeps the last calibrated value.
UNFUNDED_2023 = 0.0
ACTIVITY_2023 = 0.02738


def _calibrated(series: str, year: int, default: float) -> float:
    path = SEEDS / "funding.csv"
    if path.exists():
        old = pd.read_csv(path)
        hit = old[(old.series == series) & (old.year == year)]
        if len(hit):
            return float(hit.value.iloc[0])
    return default


FUNDING_COLS = ["series", "year", "financial_year", "value", "unit", "kind", "source", "confidence"]


def build_funding():
    """The money path 2022-23 to 2026-27 (published where found); later years come from model parameters."""
    hcd = 0.326  # high-cost drugs' share of spend (services.csv): outside tariff, paid at cost
    m4 = 21.138 + 5.3
    a24 = round(m4 * (1 + (0.050 - 0.017) * (1 - hcd)), 3)
    a25 = round(a24 * 1.044 * (1 + (0.0483 - 0.0415) * (1 - hcd)), 3)
    global UNFUNDED_2023
    UNFUNDED_2023 = _calibrated("unfunded_cost_pressure", 2023, UNFUNDED_2023)
    activity_2023 = _calibrated("activity_pressure", 2023, ACTIVITY_2023)
    rows = [
        ("specialised_allocation", 2022, 22.7, "GBP bn", "published", "outturn spend: written PQ answer May 2024 (facts §1a)", "high"),
        ("specialised_allocation", 2023, 25.115, "GBP bn", "published",
         "NHS England board, Financial performance update, 1 Feb 2024, table 1", "high"),
        ("specialised_allocation", 2024, a24, "GBP bn", "derived",
         "GBP 21.138bn NHS England specialised line at month 4 + GBP 5.3bn delegated to three regions (NHS England "
         "board 3 Oct 2024; PQ May 2024), plus the pay-award top-up: cost uplift factor revised 1.7% -> 5.0% (NHS "
         "England NHSPS page) applied to the non-drug 67.4% of spend (assumption)", "low"),
        ("specialised_allocation", 2025, a25, "GBP bn", "derived",
         "2024-25 x 1.044 (ICB core allocation growth 2025-26, PQ May 2025; assumption that specialised grew alike) x "
         "the pay-award revision of the cost uplift factor 4.15% -> 4.83% on non-drug spend (NHS England NHSPS 2025/26)",
         "low"),
        ("tariff_cost_uplift", 2023, 0.042, "share", "derived",
         "published 2.9% excluded the 2023-24 pay award (NHS England NHSPS page); revised value not seen: assumed to fund "
         "the Agenda for Change award (5%) but not the doctors' award, paid from existing budgets (DHSC Jul 2023): "
         "0.65 x 5.5% + 0.35 x 4.1% less 0.65 x 0.25 x 4.9% unfunded doctors' pay", "low"),
        ("tariff_cost_uplift", 2024, 0.050, "share", "published",
         "NHS England, 2023/25 NHSPS prices workbook: 2024-25 cost uplift factor revised from 1.7% to 5.0% for the pay awards",
         "high"),
        ("tariff_cost_uplift", 2025, 0.0483, "share", "published",
         "NHS England, 2025/26 NHSPS: 4.15% at publication, revised to 4.83% for the pay awards (27 Jun 2025); "
         "providers' cost growth in 2025-26 is taken equal to it (pay awards of 3.6-4% and the employer national "
         "insurance rise funded through the revision: assumption)", "high"),
        ("tariff_efficiency", 2023, 0.011, "share", "published", "NHS England NHSPS page (2023/24 efficiency factor 1.1%)", "high"),
        ("tariff_efficiency", 2024, 0.020, "share", "assumption",
         "2024-25 efficiency factor: NHSPS Annex D not read; 2.0% is an unverified recollection", "low"),
        ("tariff_efficiency", 2025, 0.020, "share", "assumption",
         "2025-26 efficiency factor: NHSPS Annex DpD not read; 2.0% is an unverified recollection", "low"),
        ("tariff_efficiency", 2026, 0.020, "share", "published",
         "NHS England, Medium term planning framework: revenue finance and contracting guidance (efficiency factor 2% in 2026-27)",
         "high"),
        ("pay_award", 2023, 0.055, "share", "derived",
         "Agenda for Change 5% (NHS Staff Council May 2023) weighted 0.75, doctors ~7% (consultants 6%, resident doctors 8.8%; "
         "DHSC Jul 2023) weighted 0.25 (assumption on the pay-bill split)", "medium"),
        ("pay_award", 2024, 0.056, "share", "derived",
         "Agenda for Change 5.5% (NHS Employers 2024) weighted 0.75; doctors ~6% (DDRB 2024-25 value not seen; assumption) 0.25",
         "low"),
        ("nonpay_inflation", 2023, 0.041, "share", "published", "GDP deflator 2023-24 (ONS via ICAEW, May 2025)", "medium"),
        ("nonpay_inflation", 2024, 0.045, "share", "published", "GDP deflator 2024-25 (ONS via ICAEW, May 2025)", "medium"),
        ("core_allocation_growth", 2023, round(123_880 / 119_174 - 1, 4), "share", "derived",
         "all ICB allocations GBP 119,174m (2022-23) -> GBP 123,880m (2023-24, month 2); PQ 197068, Sep 2023", "high"),
        ("core_allocation_growth", 2024, round(127_200 / 123_880 - 1, 4), "share", "derived",
         "GBP 127.2bn distributed 2024-25 (Commons Library CBP-10031) against GBP 123.88bn; bases may differ", "low"),
        ("core_allocation_growth", 2025, 0.044, "share", "published", "ICB core allocations +4.4% in 2025-26 (PQ, Karin Smyth, 8 May 2025)", "high"),
        ("provider_support", 2023, 1.2, "GBP bn", "published",
         "in-year support for 2023-24 pressures, GBP 800m in Nov 2023 rising to GBP 1.2bn (NHS England board 7 Dec 2023, 28 Mar 2024)",
         "high"),
        ("provider_support", 2024, 2.3, "GBP bn", "published", "deficit support to bring systems to break-even (NHS England board 3 Oct 2024)", "high"),
        ("provider_support", 2025, 2.2, "GBP bn", "published", "non-recurrent deficit support in 2025-26 plans (NHS England board 29 May 2025)", "high"),
        # After 2025-26 support is phased out (parameter support_phaseout_years; written ministerial statement
        # 25 Jun 2025, NHS England medium-term planning framework: "phased out starting 2026/27").
        ("activity_pressure", 2023, activity_2023, "share", "calibrated",
         "fitted so 2023-24 specialised spend equals the month-9 forecast outturn of GBP 25.031bn (NHS England board "
         "1 Feb 2024; seeds/calibration.csv), by seeds/calibrate.py; applies through 2025-26, the parameter "
         "activity_pressure after; in the record's range (specialised spend grew 6.3% a year 2013-16 and over 7% a "
         "year to 2019-20, facts 1a)", "calibrated"),
        ("unfunded_cost_pressure", 2023, UNFUNDED_2023, "share", "calibrated",
         "fitted so the modelled trusts' 2023-24 margin equals the sector's -0.9% of income (Nuffield Trust; "
         "seeds/calibration.csv), by seeds/calibrate.py; read as the year's pressures the tariff did not fund: "
         "industrial action and the doctors' award paid from existing budgets (DHSC Jul 2023)", "calibrated"),
        ("provider_sector_income", 2022, 118.4, "GBP bn", "published",
         "NHS trust sector total income 2022-23 (TAC-based, TeslimAdeyanju/NHS-Trust-Financial-Analytics); used to "
         "share national provider support with the modelled trusts", "low"),
    ]
    df = pd.DataFrame(rows, columns=["series", "year", "value", "unit", "kind", "source", "confidence"])
    df.insert(2, "financial_year", [f"{y}-{(y + 1) % 100:02d}" for y in df["year"]])
    write_csv(df[FUNDING_COLS], SEEDS / "funding.csv")


def build_envelope():
    """Historic specialised spend (context and the base year); the money path of the model is funding.csv."""
    rows = [
        (2013, "2013-14", 13.0, "outturn", "PAC HC387 (2016) (MODEL.md; facts §1a)"),
        (2015, "2015-16", 14.6, "outturn", "PAC HC387; 14.4% of NHS budget (facts §1a)"),
        (2017, "2017-18", 16.4, "outturn", "Commons Library CBP-7970 (facts §1a)"),
        (2019, "2019-20", 20.0, "outturn", "Nuffield Trust 2020, approximate (facts §1a)"),
        (2020, "2020-21", 19.3, "outturn", "003 (allocation, 17% of NHS budget)"),
        (2022, "2022-23", 22.7, "outturn", "written PQ answer May 2024 (facts §1a); ~GBP 23bn (001)"),
        (2023, "2023-24", 25.0, "outturn", "written PQ answer May 2024 (facts §1a); GBP 25bn by 2025 forecast (002, 003)"),
    ]
    write_csv(pd.DataFrame(rows, columns=["year", "financial_year", "spend_gbp_bn", "kind", "source"]), SEEDS / "envelope.csv")


if __name__ == "__main__":
    main()
