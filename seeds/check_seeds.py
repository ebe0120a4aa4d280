"""Quick self-check of the seed tables: prints the key totals and asserts the rules the model relies on.

Usage (from the repo root):  python seeds/check_seeds.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

S = Path(__file__).resolve().parent
TOTAL_M = 22_700.0


def main() -> None:
    icb = pd.read_csv(S / "icbs.csv")
    reg = pd.read_csv(S / "regions.csv")
    ages = pd.read_csv(S / "icb_age_bands.csv")
    curve = pd.read_csv(S / "age_cost_curve.csv")
    svc = pd.read_csv(S / "services.csv")
    prov = pd.read_csv(S / "providers.csv")
    ps = pd.read_csv(S / "provider_services.csv")
    cal = pd.read_csv(S / "calibration.csv")
    val = pd.read_csv(S / "validation.csv")
    env = pd.read_csv(S / "envelope.csv")
    fund = pd.read_csv(S / "funding.csv")

    # ICBs and regions
    pop = int(icb.population.sum())
    wmean = (icb.need_index * icb.population).sum() / pop
    print(f"ICBs: {len(icb)}; regions: {len(reg)}; population: {pop:,}; need-index weighted mean: {wmean:.4f}")
    assert len(icb) == 42 and icb.icb_code.is_unique and len(reg) == 7
    assert pop == 57_106_398 and int(reg.population.sum()) == pop and int(ages.population.sum()) == pop
    assert round(wmean, 4) == 1.0
    assert set(icb.region_code) == set(reg.region_code)
    assert icb.jc_footprint.nunique() == 9
    deficit = icb.financial_position < 0
    print(f"ICBs in deficit: {deficit.sum()}; total deficit GBP {-(icb.financial_position * icb.core_allocation_gbp_m)[deficit].sum():,.0f}m; "
          f"range {icb.financial_position.min():+.3f} .. {icb.financial_position.max():+.3f}")
    assert 29 <= deficit.sum() <= 33 and icb.financial_position.between(-0.05, 0.005).all()
    waves = icb.delegation_wave.value_counts().to_dict()
    print(f"delegation waves: {waves}; NOF segments: {icb.nof_segment.value_counts().sort_index().to_dict()}")
    assert waves == {1: 2, 2: 20, 3: 20} and (icb.nof_segment >= 3).sum() == 27
    assert icb.imd_most_deprived_share.between(0, 1).all()
    body = (icb.icb_body_position * icb.core_allocation_gbp_m).sum()
    print(f"ICB bodies' opening position: GBP {body:,.0f}m (target about -69m)")
    assert abs(body + 69) < 5
    assert len(curve) == 8 and set(ages.age_band) == set(curve.age_band)

    # services
    lines = svc.groupby("tier").lines_represented.sum()
    print("service rows:", len(svc), "| lines by tier:", lines.to_dict(), "| total:", int(lines.sum()))
    print(f"spend-share sum: {svc.spend_share.sum():.6f}; in_59 share {svc[svc.in_59_2023].spend_share.sum():.3f} "
          f"({int(svc[svc.in_59_2023].lines_represented.sum())} lines), in_70 share {svc[svc.in_70_2025].spend_share.sum():.3f} "
          f"({int(svc[svc.in_70_2025].lines_represented.sum())} lines)")
    assert lines.sum() == 154 and lines["delegable"] == 65 and 75 <= lines["highly_specialised"] <= 85
    assert abs(svc.spend_share.sum() - 1.0) < 1e-6
    assert svc[svc.in_59_2023].lines_represented.sum() == 59 and svc[svc.in_70_2025].lines_represented.sum() == 70
    assert (svc[svc.in_59_2023].tier == "delegable").all()
    assert (svc[svc.in_59_2023].in_70_2025).all()
    assert not svc[svc.tier == "highly_specialised"][["in_59_2023", "in_70_2025"]].any().any()

    # providers and provider-services
    cost = svc.set_index("service_id").cost_per_case_gbp
    ps["spend_m"] = ps.base_cases * ps.service_id.map(cost) / 1e6
    print(f"providers: {len(prov)}; provider-service rows: {len(ps)}; national base spend: GBP {ps.spend_m.sum():,.1f}m")
    assert prov.provider_code.is_unique and set(prov.icb_code) <= set(icb.icb_code)
    assert set(ps.provider_code) <= set(prov.provider_code) and set(ps.service_id) == set(svc.service_id)
    assert not ps.duplicated(["provider_code", "service_id"]).any()
    nat = svc.set_index("service_id").spend_share * TOTAL_M * 1e6 / cost
    got = ps.groupby("service_id").base_cases.sum()
    rel = (got / nat[got.index] - 1).abs()
    assert (rel < 0.005).all(), rel[rel >= 0.005]
    assert abs(ps.spend_m.sum() / TOTAL_M - 1) < 0.02
    assert (ps.capacity_cases >= ps.base_cases).all()

    inc = ps.groupby("provider_code").spend_m.sum()
    p = prov.set_index("provider_code")
    p["spec_income_m"] = inc.reindex(p.index).fillna(0.0)
    p["share"] = p.spec_income_m / p.turnover_gbp_m
    top = p.sort_values("spec_income_m", ascending=False).head(15)
    print("top 15 providers by specialised income (GBP m, share of turnover):")
    for c, r in top.iterrows():
        print(f"  {c:4s} {r.short_name:32s} {r.spec_income_m:8.1f}  {r.share:5.1%}  (turnover {r.turnover_gbp_m:,.0f})")
    assert (p.spec_income_m < p.turnover_gbp_m).all()
    assert abs(p.loc["RTD", "share"] - 2 / 3) < 0.03
    named = {"RR8", "RJ1", "R1H", "RTH", "RRV", "RTD", "R0A", "RRK", "RJZ", "RHQ", "RYJ", "RHM", "RP4", "RX1"}
    assert len(named & set(top.index)) >= 12, named - set(top.index)
    shelford = {"RGT", "RJ1", "RYJ", "RJZ", "R0A", "RTD", "RTH", "RHQ", "RRV", "RRK"}
    assert shelford <= set(p.index) and (p.loc[list(shelford), "kind"] == "shelford").all()
    top10 = p.spec_income_m.nlargest(10).sum() / TOTAL_M
    print(f"top-10 share of specialised spend: {top10:.1%}")

    per_icb = prov.groupby("icb_code").size().reindex(icb.icb_code).fillna(0)
    print(f"providers per ICB: min {int(per_icb.min())}, max {int(per_icb.max())}")
    assert per_icb.min() >= 1

    # centre counts
    n = ps[ps.base_cases > 0].groupby("service_id").provider_code.nunique()
    print("centres:", {k: int(n[k]) for k in ["proton_beam_therapy", "liver_transplant", "heart_lung_transplant",
                                               "major_trauma", "neurosurgery", "paediatric_intensive_care",
                                               "renal_dialysis", "chemotherapy"]})
    hss = svc[svc.tier == "highly_specialised"].service_id
    assert (n[hss] <= 6).all() and n["proton_beam_therapy"] == 2 and n["major_trauma"] == 27
    assert 23 <= n["neurosurgery"] <= 27 and 20 <= n["paediatric_intensive_care"] <= 26
    # every ICB's local provider offers dialysis and chemotherapy
    offered = ps.merge(prov[["provider_code", "icb_code"]])
    for s in ("renal_dialysis", "chemotherapy"):
        assert set(offered[offered.service_id == s].icb_code) == set(icb.icb_code), s
    # every region has dialysis and chemotherapy at several providers
    reg_of = offered.merge(icb[["icb_code", "region_code"]])
    for s in ("renal_dialysis", "chemotherapy"):
        assert reg_of[reg_of.service_id == s].groupby("region_code").provider_code.nunique().min() >= 5

    mv = ps.merge(svc[["service_id", "min_viable_volume"]])
    below = mv[mv.base_cases < mv.min_viable_volume]
    print(f"provider-service rows below min_viable_volume: {len(below)}")
    for _, r in below.iterrows():
        print(f"  {r.provider_code} {r.service_id}: {r.base_cases:.1f} < {r.min_viable_volume}")
    assert len(below) <= 0.02 * len(ps)

    # providers' opening finances
    w = prov.turnover_gbp_m
    sector = (prov.opening_margin * w).sum() / w.sum()
    print(f"opening margin (income-weighted) {sector:+.4%}; in deficit {(prov.opening_margin < 0).mean():.0%}; "
          f"cash GBP {prov.cash_gbp_m.sum():,.0f}m")
    assert abs(sector - (-448 / 118_400)) < 1e-4 and (prov.cash_gbp_m > 0).all()

    # the money path, and the targets (calibration: fitted; validation: compared only)
    e = env.set_index("year").spend_gbp_bn
    assert e[2022] == 22.7 and e[2023] == 25.0 and e[2020] == 19.3 and e[2013] == 13.0
    assert (fund.source.fillna("").str.len() > 0).all(), "every row of funding.csv names its source"
    alloc = fund[fund.series == "specialised_allocation"].set_index("year").value
    print("specialised allocation, GBP bn:", alloc.round(3).to_dict())
    assert alloc[2022] == 22.7 and alloc[2023] == 25.115 and (alloc.diff().dropna() > 0).all()
    for table, name in ((cal, "calibration.csv"), (val, "validation.csv")):
        assert (table.source.fillna("").str.len() > 0).all(), f"every row of {name} names its source"
        assert set(table.tolerance_kind) <= {"abs", "rel", "max", "min"}, name
    assert "fitted_by" in cal.columns and (cal.fitted_by.fillna("").str.len() > 0).all()
    assert not set(zip(cal.quantity, cal.year.fillna(""))) & set(zip(val.quantity, val.year.fillna("")))
    print(f"calibration facts: {len(cal)}; validation facts: {len(val)}; envelope years: {e.index.min()}-{e.index.max()}")
    print("ALL CHECKS PASSED")


if __name__ == "__main__":
    main()
