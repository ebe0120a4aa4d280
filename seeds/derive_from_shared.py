"""Derive the population tables in seeds/ from the shared ONS population file.

Usage (from the repo root):  python seeds/derive_from_shared.py [--shared PATH]
PATH defaults to ../shared/data relative to the repo root.

Source (public data, not committed verbatim):
  repository The-Strategy-Unit/paediatric_fracture_management,
  path Data/ICB Population estimates 2022.csv,
  commit aa8276423eba9b0a8213b874f35bc8671986de62 (identical at d5f92e2dc8f4027810c9f36183ec6285cc37a5d1);
  ONS mid-2022 estimates by sub-ICB location x single year of age x sex (ages 0..90+).
  ICB ODS Q-codes from Data/icb_codes.csv in the same repository.

Writes:
  seeds/icb_age_bands.csv   icb_code, age_band, population          (sum of single years into 8 bands)
  seeds/age_cost_curve.csv  age_band, relative_cost, source          (the assumption below)
  seeds/regions.csv         region_code, ods_code, name, short_name, population, n_icbs
  seeds/icbs.csv            columns icb_code, ons_code, name, region_code, population, need_index,
                            core_allocation_gbp_m are (re)written; every other column already in
                            the file (hand-curated, written by build_tables.py) is preserved.

Age-cost curve (an assumption; no public per-age specialised spend was found):
relative specialised-service cost per head by age band, all-age mean of England ~1.
  0-4   2.2  neonatal critical care, paediatric intensive care, congenital heart disease and most
             paediatric highly specialised services fall in the first years of life
  5-14  0.7  specialised paediatrics, paediatric oncology; lowest need of childhood
  15-24 0.6  lowest band: young adults, some CF / CAMHS tier 4 / trauma
  25-44 0.7  trauma, secure mental health, HIV, early cancers
  45-64 1.2  cancer (chemotherapy, radiotherapy, cancer surgery), cardiac and renal start to rise
  65-74 2.1  peak of cancer, cardiac surgery, dialysis and vascular surgery incidence
  75-84 2.5  highest: dialysis, cardiology, cancer treatment per head
  85+   2.0  still high need, but fewer interventional treatments offered at the oldest ages
need_index = (sum over bands of population x relative_cost) / population, divided by the England
value, so that the population-weighted mean is 1. The script is deterministic: re-running it gives
byte-identical files.

Core allocation: the published total of ICB allocations for 2022-23, GBP 119,174m (written PQ
197068, answered 11 Sep 2023), shared between ICBs by population weighted by half the specialised
age gradient (assumption: core allocations are less age-steep than specialised need):
core_allocation = 119,174 x w / sum(w), w = population x (1 + 0.5 x (need_index - 1)).

Deprivation (English Indices of Deprivation 2019, MHCLG, OGL v3; LSOA to ICB as in
../shared/data/SOURCES.md, icb_deprivation_imd2019.csv): `imd_most_deprived_share` is the share of
an ICB's LSOAs in England's most deprived IMD quintile (deciles 1-2). The model combines it with
the age-based need index through the swept parameter `deprivation_weight` (model/params.py).
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import pandas as pd

SEEDS = Path(__file__).resolve().parent
REPO = SEEDS.parent

BANDS = [("0-4", 0, 4), ("5-14", 5, 14), ("15-24", 15, 24), ("25-44", 25, 44),
         ("45-64", 45, 64), ("65-74", 65, 74), ("75-84", 75, 84), ("85+", 85, 90)]

AGE_COST = {
    "0-4": (2.2, "assumption: neonatal critical care, PICU, congenital heart disease and paediatric highly specialised services concentrate in early childhood"),
    "5-14": (0.7, "assumption: specialised paediatrics and paediatric oncology; lowest need of childhood"),
    "15-24": (0.6, "assumption: lowest band; some cystic fibrosis, CAMHS tier 4, trauma"),
    "25-44": (0.7, "assumption: trauma, secure mental health, HIV, early cancers"),
    "45-64": (1.2, "assumption: cancer, cardiac and renal need start to rise with age"),
    "65-74": (2.1, "assumption: peak incidence of cancer treatment, cardiac surgery, dialysis and vascular surgery"),
    "75-84": (2.5, "assumption: highest per-head use of dialysis, cardiology and cancer treatment"),
    "85+": (2.0, "assumption: high need but fewer interventional treatments offered at the oldest ages"),
}

ICB_ALLOCATIONS_2022_M = 119_174.0  # GBP m, all ICB allocations 2022-23 (PQ 197068, Sep 2023)
CORE_GRADIENT = 0.5

# NHS region ODS codes (Y-codes) and short names: public NHS region lookups
# (CCG->STP->region mapping tables), as recorded in ../shared/data/SOURCES.md.
REGIONS = {
    "E40000003": ("Y56", "London"),
    "E40000005": ("Y59", "South East"),
    "E40000006": ("Y58", "South West"),
    "E40000007": ("Y61", "East of England"),
    "E40000010": ("Y62", "North West"),
    "E40000011": ("Y60", "Midlands"),
    "E40000012": ("Y63", "NE&Y"),
}

ENGLAND_TOTAL = 57_106_398
DERIVED_ICB_COLS = ["icb_code", "ons_code", "name", "region_code", "population", "need_index",
                    "imd_most_deprived_share", "core_allocation_gbp_m"]
ICB_COLUMNS = ["icb_code", "ons_code", "name", "short_name", "region_code", "population", "need_index",
               "imd_most_deprived_share", "lat", "lon", "financial_position", "icb_body_position", "core_allocation_gbp_m",
               "jc_footprint", "merger_group", "delegation_wave", "nof_segment", "finance_source", "wave_source",
               "nof_source"]


def write_csv(df: pd.DataFrame, path: Path) -> None:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    path.write_text(buf.getvalue(), encoding="utf-8")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    a = ap.parse_args(argv)
    shared = Path(a.shared)

    pop = pd.read_csv(shared / "sapeicb_mid2022_icb2023_sicbl_single_year.csv", encoding="utf-8-sig")
    codes = pd.read_csv(shared / "icb23_codes_ons_ods.csv", encoding="utf-8-sig")
    assert int(pop["Total"].sum()) == ENGLAND_TOTAL, "unexpected England total"

    # single years -> bands (F and M summed; the 90 column is 90+)
    rows = []
    for lab, lo, hi in BANDS:
        cols = [f"{s}{a}" for s in "FM" for a in range(lo, hi + 1)]
        rows.append(pop.groupby("ICB 2023 Code")[cols].sum().sum(axis=1).rename(lab))
    bands = pd.concat(rows, axis=1)
    tot = pop.groupby("ICB 2023 Code")["Total"].sum()
    assert (bands.sum(axis=1) == tot).all(), "age bands do not add up to Total"

    meta = (pop[["ICB 2023 Code", "ICB 2023 Name", "NHSER 2023 Code", "NSHER 2023 Name"]]
            .drop_duplicates().set_index("ICB 2023 Code"))
    ods = codes.set_index("ICB23CD")["ICB23CDH"]

    icb = pd.DataFrame({
        "ons_code": tot.index,
        "icb_code": [ods[c] for c in tot.index],
        "name": [meta.loc[c, "ICB 2023 Name"] for c in tot.index],
        "region_code": [meta.loc[c, "NHSER 2023 Code"] for c in tot.index],
        "population": tot.values.astype(int),
    })
    cost = pd.Series({k: v[0] for k, v in AGE_COST.items()})
    per_head = (bands[cost.index] * cost).sum(axis=1) / tot
    eng = float((bands[cost.index] * cost).sum().sum() / tot.sum())
    need = (per_head / eng).round(4)
    icb["need_index"] = need.loc[icb["ons_code"]].values
    w = icb["population"] * (1 + CORE_GRADIENT * (icb["need_index"] - 1))
    icb["core_allocation_gbp_m"] = (ICB_ALLOCATIONS_2022_M * w / w.sum()).round(1)
    imd = pd.read_csv(shared / "icb_deprivation_imd2019.csv", encoding="utf-8-sig").set_index("icb_code")
    missing = sorted(set(icb["ons_code"]) - set(imd.index))
    assert not missing, f"ICBs without IMD rows: {missing}"
    icb["imd_most_deprived_share"] = imd.loc[icb["ons_code"], "imd_share_most_deprived_quintile"].round(4).values
    wmean = (icb["need_index"] * icb["population"]).sum() / icb["population"].sum()
    assert round(wmean, 4) == 1.0, wmean

    # age bands (long)
    long = bands.copy()
    long.index = [ods[c] for c in long.index]
    long = long.stack().reset_index()
    long.columns = ["icb_code", "age_band", "population"]
    order = {b[0]: i for i, b in enumerate(BANDS)}
    long = long.assign(_o=long["age_band"].map(order)).sort_values(["icb_code", "_o"]).drop(columns="_o")
    long["population"] = long["population"].astype(int)
    write_csv(long, SEEDS / "icb_age_bands.csv")

    write_csv(pd.DataFrame([{"age_band": k, "relative_cost": v[0], "source": v[1]} for k, v in AGE_COST.items()]),
              SEEDS / "age_cost_curve.csv")

    # regions
    reg = icb.groupby("region_code").agg(population=("population", "sum"), n_icbs=("icb_code", "count"))
    rname = meta.drop_duplicates("NHSER 2023 Code").set_index("NHSER 2023 Code")["NSHER 2023 Name"]
    regions = pd.DataFrame({
        "region_code": reg.index,
        "ods_code": [REGIONS[c][0] for c in reg.index],
        "name": [f"NHS England {rname[c]}" for c in reg.index],
        "short_name": [REGIONS[c][1] for c in reg.index],
        "population": reg["population"].values,
        "n_icbs": reg["n_icbs"].values,
    })
    write_csv(regions, SEEDS / "regions.csv")

    # icbs.csv: rewrite derived columns, keep curated ones
    out = icb.sort_values("icb_code").reset_index(drop=True)
    path = SEEDS / "icbs.csv"
    if path.exists():
        old = pd.read_csv(path, dtype=str, keep_default_na=False)
        keep = [c for c in old.columns if c not in DERIVED_ICB_COLS]
        out = out.merge(old[["icb_code"] + keep], on="icb_code", how="left")
    if "short_name" not in out.columns or (out["short_name"].fillna("") == "").any():
        sn = out["name"].str.replace("NHS ", "", regex=False).str.replace(" Integrated Care Board", "", regex=False)
        out["short_name"] = out.get("short_name", sn).fillna("").where(lambda s: s != "", sn)
    cols = [c for c in ICB_COLUMNS if c in out.columns] + [c for c in out.columns if c not in ICB_COLUMNS]
    write_csv(out[cols], path)
    print(f"wrote {len(out)} ICBs (population {out['population'].sum():,}), "
          f"{len(long)} age-band rows, {len(regions)} regions; need-index weighted mean {wmean:.6f}")


if __name__ == "__main__":
    main()
