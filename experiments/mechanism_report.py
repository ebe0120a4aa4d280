"""What the rebuilt mechanism moves: trust by trust, channel by channel, and across the structural assumptions.

Usage (from the repo root, with commissim installed):

    python experiments/mechanism_report.py [--seeds 30] [--out results/mechanism] [--workers 2]

Writes, under ``--out`` (atomically, with a manifest):

- ``trusts.csv`` and the "Trusts" section: for every specialist and children's trust and the ten Shelford Group
  trusts, full_delegation minus nhse_direct, paired by seed (noise off; seeds differ only in the trusts' cost
  draws), in £m a year and % of 2022-23 turnover: specialised income, surplus (margin), revenue support, years on
  cash support, service lines at risk; means with 90% intervals over the seeds;
- ``channels.csv``: each channel's £m a year (2023-24 to 2032-33) beside its binding share (share of ICB-years,
  weighted by the ICBs' budgets, in which it moved money) under every named scenario; a channel that moved
  nothing is "idle";
- ``regimes.csv``: full_delegation minus nhse_direct under each ring-fence regime and variable-cost share (the
  two structural assumptions the sources do not settle);
- ``mechanism.md``: the three tables, led by what they say.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

SCENARIOS = ("nhse_direct", "full_delegation", "joint_committees", "trailblazer", "pan_icb", "needs_based",
             "as_happened")
YEARS = 10


def run_one(args: tuple) -> dict:
    """One run: per-trust yearly arrays and the channels' yearly series (module-level: picklable)."""
    scenario, seed, params = args
    from commissim.model import CommissioningModel
    from commissim.model.measures import lines_at_risk
    from commissim.model.world import CHANNELS

    m = CommissioningModel(scenario, rng=seed, collect_agent_data=False, **params)
    inc, sur, pdc, sup, risk = [], [], [], [], []
    for _ in range(YEARS):
        m.step()
        st = m.state
        inc.append(st.spec_income.copy())
        sur.append(st.surplus.copy())
        pdc.append(st.pdc.copy())
        sup.append(st.needs_support.astype(float))
        risk.append(lines_at_risk(st).sum(axis=1))
    df = m.datacollector.get_model_vars_dataframe().iloc[1:]
    out = {c: float(df[c].mean()) for c in CHANNELS if c in df}
    out.update({f"binding_{c}": float(df[f"binding_{c}"].mean()) for c in CHANNELS if f"binding_{c}" in df})
    out["commissioners_short"] = float(df["commissioners_short"].mean())
    out.update(stranded_costs=float(df["stranded_costs"].mean()), destabilised_peak=float(df["providers_destabilised"].max()),
               needing_support_peak=float(df["providers_needing_support"].max()),
               lines_at_risk=float(df["lines_at_risk"].iloc[-1]), lines_withdrawn=float(df["lines_withdrawn"].iloc[-1]),
               out_of_area_income_change=float(df["out_of_area_income_change"].iloc[-1]),
               specialist_trust_margin=float(df["specialist_trust_margin"].iloc[-1]))
    return dict(scenario=scenario, seed=seed, params=params, summary=out,
                income=np.mean(inc, axis=0), surplus=np.mean(sur, axis=0), pdc=np.mean(pdc, axis=0),
                support_years=np.sum(sup, axis=0), at_risk=np.mean(risk, axis=0))


def _ci(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and 90% interval of a paired difference (t, n - 1 degrees of freedom)."""
    from scipy import stats

    x = np.asarray(x, dtype=float)
    m = float(x.mean())
    if len(x) < 2 or np.allclose(x, m):
        return m, m, m
    h = float(stats.t.ppf(0.95, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - h, m + h


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--regime-seeds", type=int, default=10)
    ap.add_argument("--out", default="results/mechanism")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    from commissim.experiments import atomic
    from commissim.experiments.batch.manifest import git_commit, package_versions
    from commissim.model.data import load_seeds

    out = Path(a.out)
    atomic.check_output_folder(out, name="--out")
    t0 = time.perf_counter()
    seeds = list(range(1, a.seeds + 1))
    tasks = [(s, seed, {}) for s in SCENARIOS for seed in seeds]
    regimes = [(rf, v) for rf in ("hard", "soft", "none") for v in (0.3, 0.5, 0.7)]
    rseeds = list(range(1, a.regime_seeds + 1))
    tasks += [(s, seed, {"ringfence": rf, "variable_cost_share": v}) for rf, v in regimes
              for s in ("nhse_direct", "full_delegation") for seed in rseeds]
    if a.workers <= 1:
        results = [run_one(t) for t in tasks]
    else:  # a fork server: no fork of a process that may hold threads
        import multiprocessing

        with ProcessPoolExecutor(max_workers=a.workers, mp_context=multiprocessing.get_context("forkserver")) as ex:
            results = list(ex.map(run_one, tasks, chunksize=8))
    elapsed = time.perf_counter() - t0
    base = [r for r in results if not r["params"]]
    by = {(r["scenario"], r["seed"]): r for r in base}
    d = load_seeds()
    turnover = d.turnover.astype(float)

    # Trusts.
    pick = np.flatnonzero(np.isin(d.provider_kind, ("specialist", "childrens", "shelford")))
    rows = []
    for p in pick:
        row = dict(trust=str(d.provider_name[p]), short=str(d.provider_short[p]), kind=str(d.provider_kind[p]),
                   host_icb=str(d.icb_short[d.provider_icb[p]]), turnover_gbp_m=float(turnover[p]))
        for key, name in (("income", "income"), ("surplus", "surplus"), ("pdc", "revenue_support"),
                          ("support_years", "years_on_support"), ("at_risk", "lines_at_risk")):
            diff = [by[("full_delegation", s)][key][p] - by[("nhse_direct", s)][key][p] for s in seeds]
            m, lo, hi = _ci(diff)
            row[f"{name}_diff"], row[f"{name}_lo"], row[f"{name}_hi"] = m, lo, hi
            if name in ("income", "surplus", "revenue_support"):
                row[f"{name}_diff_pct_turnover"] = 100 * m / turnover[p]
        rows.append(row)
    trusts = pd.DataFrame(rows).sort_values("income_diff")

    # Channels.
    from commissim.model.world import CHANNELS

    ch_rows = []
    for s in SCENARIOS:
        rs = [by[(s, seed)]["summary"] for seed in seeds]
        row = {"scenario": s}
        for c in CHANNELS:
            money = float(np.mean([r[c] for r in rs]))
            row[f"{c}_gbp_m_a_year"] = money
            b = [r.get(f"binding_{c}") for r in rs]
            row[f"{c}_binding"] = float(np.mean(b)) if b[0] is not None else float(np.mean([r["commissioners_short"] for r in rs]))
        for k in ("stranded_costs", "destabilised_peak", "needing_support_peak", "lines_at_risk", "lines_withdrawn",
                  "out_of_area_income_change", "specialist_trust_margin"):
            row[k] = float(np.mean([r[k] for r in rs]))
        ch_rows.append(row)
    channels = pd.DataFrame(ch_rows)

    # Structural assumptions.
    reg_rows = []
    by_reg = {}
    for r in results:
        if r["params"]:
            by_reg[(r["params"]["ringfence"], r["params"]["variable_cost_share"], r["scenario"], r["seed"])] = r
    spec = np.isin(d.provider_kind, ("specialist", "childrens", "shelford"))
    for rf, v in regimes:
        row = {"ringfence": rf, "variable_cost_share": v}
        for k in ("commissioner_cuts", "growth_withheld", "kept_by_systems", "stranded_costs", "destabilised_peak",
                  "lines_at_risk", "out_of_area_income_change"):
            diff = [by_reg[(rf, v, "full_delegation", s)]["summary"][k] - by_reg[(rf, v, "nhse_direct", s)]["summary"][k]
                    for s in rseeds]
            row[f"{k}_diff"], row[f"{k}_lo"], row[f"{k}_hi"] = _ci(diff)
        sdiff = [(by_reg[(rf, v, "full_delegation", s)]["surplus"][spec] - by_reg[(rf, v, "nhse_direct", s)]["surplus"][spec]).sum()
                 for s in rseeds]
        row["specialist_surplus_diff_gbp_m"], row["specialist_surplus_lo"], row["specialist_surplus_hi"] = _ci(sdiff)
        reg_rows.append(row)
    regimes_df = pd.DataFrame(reg_rows)

    atomic.write_text(out / "trusts.csv", trusts.to_csv(index=False, float_format="%.4g"))
    atomic.write_text(out / "channels.csv", channels.to_csv(index=False, float_format="%.4g"))
    atomic.write_text(out / "regimes.csv", regimes_df.to_csv(index=False, float_format="%.4g"))
    atomic.write_text(out / "mechanism.md", _report(trusts, channels, regimes_df, a.seeds, a.regime_seeds, elapsed))
    manifest = dict(command=" ".join(["python", "experiments/mechanism_report.py", *(argv or sys.argv[1:])]),
                    seeds=seeds, regime_seeds=rseeds, scenarios=list(SCENARIOS), years=YEARS,
                    regimes=[list(r) for r in regimes], runs=len(results), seconds=round(elapsed, 1),
                    git_commit=git_commit(), versions=package_versions())
    atomic.write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=str))
    print(f"{len(results)} runs in {elapsed:.0f} s -> {out}/mechanism.md")
    return 0


def _fmt(m, lo, hi, digits=1):
    return f"{m:+.{digits}f} ({lo:+.{digits}f} to {hi:+.{digits}f})"


def _report(trusts, channels, regimes, n, nr, elapsed) -> str:
    from commissim.model.world import CHANNELS

    lines = ["# What the mechanism moves", "",
             f"Noise off; {n} paired seeds (they differ only in trusts' cost draws); 2023-24 to 2032-33. "
             "Differences are full_delegation minus nhse_direct, paired by seed, with 90% intervals. "
             f"{len(trusts)} trusts: the specialist and children's trusts and the Shelford Group. ({elapsed:.0f} s)", ""]
    worst = trusts.iloc[0]
    lines += [f"Most exposed: **{worst.short}** ({worst.kind}, {worst.host_icb}): specialised income "
              f"{worst.income_diff:+.1f} £m a year ({worst.income_diff_pct_turnover:+.2f}% of turnover), surplus "
              f"{worst.surplus_diff:+.1f} £m a year ({worst.surplus_diff_pct_turnover:+.2f}%).", "",
              "## Trusts (£m a year unless stated; % of 2022-23 turnover)", "",
              "| trust | type | host ICB | income | % | surplus | % | revenue support | years on support | lines at risk |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in trusts.itertuples():
        lines.append(f"| {r.short} | {r.kind} | {r.host_icb} | {_fmt(r.income_diff, r.income_lo, r.income_hi)} | "
                     f"{r.income_diff_pct_turnover:+.2f} | {_fmt(r.surplus_diff, r.surplus_lo, r.surplus_hi)} | "
                     f"{r.surplus_diff_pct_turnover:+.2f} | {_fmt(r.revenue_support_diff, r.revenue_support_lo, r.revenue_support_hi)} | "
                     f"{_fmt(r.years_on_support_diff, r.years_on_support_lo, r.years_on_support_hi, 2)} | "
                     f"{_fmt(r.lines_at_risk_diff, r.lines_at_risk_lo, r.lines_at_risk_hi, 2)} |")
    lines += ["", "## Channels: £m a year (binding share of ICB-years, weighted by budget)", "",
              "| scenario | " + " | ".join(CHANNELS) + " |", "|---|" + "---|" * len(CHANNELS)]
    for r in channels.itertuples():
        cells = []
        for c in CHANNELS:
            money, b = getattr(r, f"{c}_gbp_m_a_year"), getattr(r, f"{c}_binding")
            cells.append("idle" if abs(money) < 0.05 else f"{money:,.1f} ({100 * b:.0f}%)")
        lines.append(f"| {r.scenario} | " + " | ".join(cells) + " |")
    lines += ["", "`commissioner_shortfall`'s share is the share of ICB-years whose commissioner was short (a condition, "
              "not a rule).", "", "| scenario | stranded costs £m/yr | peak destabilised | peak on cash support | lines at "
              "risk (2032-33) | lines withdrawn | out-of-area income change (2032-33) | specialist margin (2032-33) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in channels.itertuples():
        lines.append(f"| {r.scenario} | {r.stranded_costs:.1f} | {r.destabilised_peak:.1f} | {r.needing_support_peak:.1f} | "
                     f"{r.lines_at_risk:.1f} | {r.lines_withdrawn:.1f} | {100 * r.out_of_area_income_change:+.1f}% | "
                     f"{100 * r.specialist_trust_margin:+.2f}% |")
    lines += ["", f"## Ring-fence regime and variable-cost share ({nr} paired seeds; full_delegation minus nhse_direct)",
              "", "| ring-fence | variable share | cuts £m/yr | growth withheld £m/yr | kept £m/yr | stranded £m/yr | "
              "peak destabilised | lines at risk | out-of-area income (pp) | specialist+Shelford surplus £m/yr |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in regimes.itertuples():
        lines.append(f"| {r.ringfence} | {r.variable_cost_share} | {_fmt(r.commissioner_cuts_diff, r.commissioner_cuts_lo, r.commissioner_cuts_hi)} | "
                     f"{_fmt(r.growth_withheld_diff, r.growth_withheld_lo, r.growth_withheld_hi)} | "
                     f"{_fmt(r.kept_by_systems_diff, r.kept_by_systems_lo, r.kept_by_systems_hi)} | "
                     f"{_fmt(r.stranded_costs_diff, r.stranded_costs_lo, r.stranded_costs_hi)} | "
                     f"{_fmt(r.destabilised_peak_diff, r.destabilised_peak_lo, r.destabilised_peak_hi)} | "
                     f"{_fmt(r.lines_at_risk_diff, r.lines_at_risk_lo, r.lines_at_risk_hi)} | "
                     f"{_fmt(100 * r.out_of_area_income_change_diff, 100 * r.out_of_area_income_change_lo, 100 * r.out_of_area_income_change_hi, 2)} | "
                     f"{_fmt(r.specialist_surplus_diff_gbp_m, r.specialist_surplus_lo, r.specialist_surplus_hi)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
