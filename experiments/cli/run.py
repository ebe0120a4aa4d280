"""``commissim run``: one scenario, one seed, N years; writes a table and a figure.

    commissim run --scenario full_delegation --years 10 --seed 1 --set system_weight=10

Writes ``results/run-<scenario>-seed<seed>/``: ``series.csv`` (one row per
financial year, every model reporter), ``providers.csv`` (end-of-run provider
state), ``summary.json``, ``run.png`` and ``manifest.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..errors import UserError
from .options import non_negative_int, parse_set

# Measures (names in commissim.model.measures.MEASURES): the figure's four panels, and the lines printed.
PANELS = ("providers_destabilised", "trust_sector_margin", "out_of_area_income_change", "unmet_need_share")
PRINTED = ("total_spend", "budget_total", "trust_sector_margin", "providers_destabilised", "providers_needing_support",
           "cumulative_lines_withdrawn", "local_services_started", "out_of_area_income_change", "access_gini",
           "unmet_need_share")


def provider_table(model):
    """End-of-run state of every provider, most at risk first."""
    import pandas as pd

    d, st = model.data, model.state
    df = pd.DataFrame({
        "provider_code": d.provider_code, "provider": d.provider_short, "host_icb": d.icb_short[d.provider_icb],
        "kind": d.provider_kind, "specialised_income_gbp_m": st.spec_income.round(2),
        "income_change": st.income_change.round(4), "turnover_gbp_m": st.turnover.round(1),
        "surplus_gbp_m": st.surplus.round(2), "margin": st.margin.round(4), "cash_gbp_m": st.cash.round(1),
        "revenue_support_gbp_m": st.pdc_total.round(1), "needs_support": st.needs_support,
        "destabilised": st.destabilised, "lines_open": st.active.sum(axis=1),
        "lines_withdrawn": st.withdrawn.sum(axis=1), "lines_started": st.started.sum(axis=1),
    })
    return df.sort_values(["needs_support", "destabilised", "margin"], ascending=[False, False, True])


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="nhse_direct", help="scenario name or TOML path (default nhse_direct)")
    parser.add_argument("--years", type=non_negative_int, default=10, help="funding rounds to run (default 10)")
    parser.add_argument("--seed", type=non_negative_int, default=1, help="random seed, a whole number >= 0 (default 1)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a model parameter")
    parser.add_argument("--out", default=None, help="output folder (default results/run-<scenario>-seed<seed>)")


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from commissim.model import CommissioningModel
    from commissim.model.measures import MEASURE_BY_NAME
    from commissim.model.scenarios import fy_label

    from .. import atomic
    from ..batch import git_commit, package_versions

    if args.years > 100:  # argparse already refuses negative years
        raise UserError(f"--years {args.years}: allowed 0 to 100")
    params = parse_set(args.set)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    model = CommissioningModel(scenario=args.scenario, rng=args.seed, **params)
    out = Path(args.out or f"results/run-{model.policy_name}-seed{args.seed}")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out '{out}' is a file; choose a folder")
    model.run(args.years)
    out.mkdir(parents=True, exist_ok=True)

    series = model.datacollector.get_model_vars_dataframe()
    series.insert(0, "financial_year", [fy_label(2022 + int(t)) for t in series.index])
    series.index.name = "round"
    atomic.write_text(out / "series.csv", series.to_csv())
    atomic.write_text(out / "providers.csv", provider_table(model).to_csv(index=False))
    summary = model.summary()
    atomic.write_text(out / "summary.json", json.dumps(summary, indent=2))

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for ax, name in zip(axes.ravel(), PANELS):
        m = MEASURE_BY_NAME[name]
        ax.plot(series["financial_year"], series[name] * m.scale, marker="o", color="#005EB8")
        ax.set_title(m.axis_label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", rotation=45, labelsize=8)
    fig.suptitle(f"commissim: {model.policy_name}, seed {args.seed}, {fy_label(2022)} to {model.financial_year}")
    fig.tight_layout()
    atomic.save_figure(fig, out / "run.png", dpi=110)
    plt.close(fig)

    manifest = {
        "command": "commissim run", "scenario": model.policy_name, "scenario_source": model.policy.path,
        "parameters": model.p, "user_parameters": params, "seed": args.seed, "years": args.years,
        "versions": package_versions(("mesa",)), "git_commit": git_commit(), "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic.write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=str))
    print(f"{model.policy_name}, seed {args.seed}, {args.years} years -> {out}/")
    for name in PRINTED:
        m = MEASURE_BY_NAME[name]
        print(f"  {m.label:40s} {m.text(summary[name])}")
    return 0
