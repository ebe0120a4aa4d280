"""Observed out-of-area shares per modelled provider, from OHID trust catchments.

Source: Office for Health Improvement and Disparities, "NHS Acute (Hospital) Trust
Catchment Populations", 18 October 2022 (Crown copyright, OGL v3): share of each acute
trust's admissions (all admissions, not only specialised) by 2022 ICB. Copy from the R
package humaniverse/geographr, object ``lookup_nhs_trusts22_icb22``
(data/lookup_nhs_trusts22_icb22.rda, commit c026be5), as converted in
``shared/data/trust_catchment_by_icb_2022.csv`` (see shared/data/SOURCES.md).

Usage (from the repo root, after build_tables.py has written providers.csv):
    python seeds/derive_catchment.py [--shared ../shared/data]

Writes seeds/provider_catchment.csv: for every modelled provider, the observed share of its
admissions from its host ICB, from outside it and from outside its NHS region, and how many ICBs
supply more than 1%. Used as the calibration target of the base-year flows (model/flows.py):
for specialist and children's trusts almost all admissions are specialised, so their share from
outside the host ICB is a direct target; for other trusts the all-admissions share understates
the specialised out-of-area share. Deterministic: rows in seeds/providers.csv order.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent  # seeds/

# 2022 ICB codes in the catchment file -> 2023 codes used in seeds/icbs.csv.
ICB22_TO_23 = {"E54000052": "E54000063",  # Surrey Heartlands
               "E54000053": "E54000064"}  # Sussex

# Modelled trusts that merged with another trust present in the catchment file, which predates
# the merger. The file has no admission counts, so the components are combined with an assumed
# admissions weight (ASSUMPTION: rough relative size of the acute sites; the in-area shares of
# the components are close, so the weight matters little; component values go in `note`).
MERGED = {
    "RH5": ([("RH5", 0.65), ("RA4", 0.35)],
            "Somerset FT merged with Yeovil District (RA4) 1 Apr 2023; combined RH5 0.65 + RA4 0.35 (assumed weights)"),
    "RH8": ([("RH8", 0.70), ("RBZ", 0.30)],
            "Royal Devon = RD&E (RH8) + Northern Devon (RBZ), merged 1 Apr 2022; combined 0.70/0.30 (assumed weights)"),
}
# Modelled trusts whose code is in the file but whose organisation changed: used as is, noted.
NOTES = {
    "RJ1": "Royal Brompton and Harefield (RT3) merged into GSTT Feb 2021; file has no RT3 row, so RJ1 row taken to include it",
    "R0A": "North Manchester General (ex Pennine Acute RW6) joined MFT Apr 2021; file has no RW6 row, so R0A row taken to include it",
    "RM3": "Northern Care Alliance (Salford + ex-Pennine Oldham/Bury/Rochdale); file has no RW6 row",
    "RYR": "UH Sussex = Western Sussex (RYR) + Brighton and Sussex UH (RXH), Apr 2021; file has no RXH row",
    "RVY": "Southport and Ormskirk merged with St Helens and Knowsley (RBN) into Mersey and West Lancashire (RBN) Jul 2023; modelled and read as pre-merger RVY",
    "R0D": "UH Dorset (Poole + Royal Bournemouth, Oct 2020)",
    "REN": "cancer centre: admissions mostly day-case/chemotherapy",
    "RP6": "eye hospital: admissions mostly day-case surgery",
}


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--seeds", default=str(HERE))
    ap.add_argument("--out", default=str(HERE / "provider_catchment.csv"))
    a = ap.parse_args(argv)
    shared, seeds = Path(a.shared), Path(a.seeds)

    icbs = read_csv(seeds / "icbs.csv")
    q_to_e54 = {r["icb_code"]: r["ons_code"] for r in icbs}
    e54_region = {r["ons_code"]: r["region_code"] for r in icbs}
    providers = read_csv(seeds / "providers.csv")

    catch: dict[str, dict[str, float]] = defaultdict(dict)
    for r in read_csv(shared / "trust_catchment_by_icb_2022.csv"):
        icb = ICB22_TO_23.get(r["icb_code"], r["icb_code"])
        if icb not in e54_region:
            raise SystemExit(f"ICB {r['icb_code']} of the catchment file not in seeds/icbs.csv")
        catch[r["trust_code"]][icb] = catch[r["trust_code"]].get(icb, 0.0) + float(r["share_of_trust_admissions"])

    def shares_of(code: str) -> dict[str, float]:
        tot = sum(catch[code].values())
        return {k: v / tot for k, v in catch[code].items()}

    def stats(sh: dict[str, float], host: str) -> tuple[float, float, int]:
        host_region = e54_region[host]
        in_icb = sh.get(host, 0.0)
        out_region = sum(v for k, v in sh.items() if e54_region[k] != host_region)
        n1 = sum(1 for v in sh.values() if v > 0.01)
        return in_icb, out_region, n1

    rows = []
    for p in providers:
        code, host = p["provider_code"], q_to_e54[p["icb_code"]]
        note = NOTES.get(code, "")
        if code in MERGED:
            parts, mnote = MERGED[code]
            comb: dict[str, float] = defaultdict(float)
            comp = []
            for c, w in parts:
                for k, v in shares_of(c).items():
                    comb[k] += w * v
                comp.append(f"{c} host share {stats(shares_of(c), host)[0]:.3f}")
            sh = dict(comb)
            note = f"{mnote}; {', '.join(comp)}"
        elif code in catch:
            sh = shares_of(code)
        else:
            rows.append(dict(provider_code=code, short_name=p["short_name"], kind=p["kind"],
                             host_icb_code=p["icb_code"], in_catchment_file="false",
                             share_from_host_icb="", share_out_of_host_icb="",
                             share_out_of_host_region="", n_icbs_over_1pct="",
                             note="not in file (not an acute trust: mental health)"))
            continue
        in_icb, out_region, n1 = stats(sh, host)
        rows.append(dict(provider_code=code, short_name=p["short_name"], kind=p["kind"],
                         host_icb_code=p["icb_code"], in_catchment_file="true",
                         share_from_host_icb=f"{in_icb:.4f}", share_out_of_host_icb=f"{1 - in_icb:.4f}",
                         share_out_of_host_region=f"{out_region:.4f}", n_icbs_over_1pct=str(n1),
                         note=note))

    cols = ["provider_code", "short_name", "kind", "host_icb_code", "in_catchment_file",
            "share_from_host_icb", "share_out_of_host_icb", "share_out_of_host_region",
            "n_icbs_over_1pct", "note"]
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {a.out}: {len(rows)} providers, {sum(r['in_catchment_file'] == 'true' for r in rows)} in file")


if __name__ == "__main__":
    main()
