"""``commissim run``: one scenario, one seed, N years; writes tables, a figure and a map.

    commissim run --scenario full_delegation --years 10 --seed 1 --set system_weight=10

Writes ``results/run-<scenario>-seed<seed>/``: ``series.csv`` (one row per
financial year, every model reporter; money in £m, named ``<measure>_gbp_m``), ``providers.csv`` (end-of-run provider
state), ``icbs.csv`` (end-of-run ICB map measures), ``summary.json``, ``run.png``
(four measures over the financial years), ``map.png`` (an ICB measure as a
choropleth, providers on top, the most at risk labelled) and ``manifest.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from ..errors import UserError
from .options import non_negative_int, parse_set

# Measures (names in commissim.model.measures.MEASURES): the figure's four panels, and the lines printed.
PANELS = ("providers_destabilised", "trust_sector_margin", "out_of_area_income_change", "unmet_need_share")
PRINTED = ("total_spend", "budget_total", "trust_sector_margin", "providers_destabilised", "providers_needing_support",
           "lines_withdrawn", "local_services_started", "out_of_area_share", "out_of_area_income_change",
           "access_gini", "unmet_need_share")
# --map choices -> the ICB measure drawn (model.maps.ICB_MEASURES; labels and units from the registry).
MAP_CHOICES = {"access_rate": "icb_access_rate", "budget_change": "icb_budget_change",
               "out_of_area_spend_change": "icb_out_of_area_spend_change"}
MAX_YEARS = 100


def provider_table(model):
    """End-of-run state of every provider, most at risk first (floating-point noise within 1e-9 zeroed)."""
    import numpy as np
    import pandas as pd

    def c(x, digits):
        x = np.asarray(x, dtype=float)
        return np.where(np.abs(x) < 1e-9, 0.0, x).round(digits) + 0.0  # + 0.0: no "-0.0"

    d, st = model.data, model.state
    df = pd.DataFrame({
        "provider_code": d.provider_code, "provider": d.provider_short, "host_icb": d.icb_short[d.provider_icb],
        "kind": d.provider_kind, "specialised_income_gbp_m": c(st.spec_income, 2),
        "income_change": c(st.income_change, 4), "turnover_gbp_m": c(st.turnover, 1),
        "surplus_gbp_m": c(st.surplus, 2), "margin": c(st.margin, 4), "cash_gbp_m": c(st.cash, 1),
        "revenue_support_gbp_m": c(st.pdc_total, 1), "needs_support": st.needs_support,
        "destabilised": st.destabilised, "lines_open": st.active.sum(axis=1),
        "lines_withdrawn": st.withdrawn.sum(axis=1), "lines_started": st.started.sum(axis=1),
    })
    return df.sort_values(["needs_support", "destabilised", "margin"], ascending=[False, False, True])


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="nhse_direct", help="scenario name or TOML path (default nhse_direct)")
    parser.add_argument("--years", type=non_negative_int, default=10,
                        help=f"funding rounds to run, 0 to {MAX_YEARS} (default 10)")
    parser.add_argument("--seed", type=non_negative_int, default=1, help="random seed, a whole number >= 0 (default 1)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a model parameter")
    parser.add_argument("--map", choices=tuple(MAP_CHOICES), default="access_rate",
                        help="the ICB measure map.png shows (default access_rate)")
    parser.add_argument("--out", default=None, help="output folder (default results/run-<scenario>-seed<seed>); "
                        "a folder holding a different run is refused")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a folder holding a different run (the new run is written beside it and "
                             "swapped in when complete)")


# What ``commissim run`` writes in its folder (a folder holding these and a run's manifest is a run folder).
RUN_FILES = ("series.csv", "providers.csv", "icbs.csv", "summary.json", "run.png", "map.png", "manifest.json")


def _identity(manifest: dict) -> dict:
    """What makes a run this run: scenario, overrides, seed, years (the map drawn is not part of it)."""
    return {"scenario": manifest.get("scenario_source") or manifest.get("scenario"),
            "parameters": manifest.get("user_parameters") or {}, "seed": manifest.get("seed"),
            "years": manifest.get("years")}


def check_run_folder(out: Path, identity: dict, overwrite: bool) -> bool:
    """Refuse, in one line, an ``--out`` that holds something other than this same run; return True
    when the folder must be replaced (``--overwrite`` over a different run)."""
    try:
        if not out.is_dir() or not any(out.iterdir()):
            return False
    except OSError:  # a path the system cannot hold: check_output_folder says why, in one line
        return False
    try:
        old = json.loads((out / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        old = None
    if old is None or old.get("command") != "commissim run":
        what = "a results folder of another command" if old is not None else "files but no run's manifest.json"
        if overwrite and old is not None:
            return True
        raise UserError(f"--out {out}: the folder holds {what}; choose a new or empty folder with --out"
                        + (", or pass --overwrite to replace it" if old is not None else ""))
    was = _identity(old)
    if was == identity:
        return False  # the same run again: its files are rewritten (the same numbers)
    if overwrite:
        return True
    diff = "; ".join(f"{k} {was[k]!r} -> {identity[k]!r}" for k in identity if was[k] != identity[k])
    raise UserError(f"--out {out}: the folder holds a different run ({diff}); choose another folder with --out, "
                    "or pass --overwrite to replace it")


def run_title(model, seed: int, params: dict) -> str:
    """``full_delegation, seed 1, 2022-23 to 2032-33; overrides: system_weight=10``."""
    from commissim.model.scenarios import fy_label

    from ..charts import overrides_text

    return (f"{model.policy_name}, seed {seed}, {fy_label(model.year - model.steps)} to {model.financial_year}; "
            f"{overrides_text(params)}")


def run_figure(series, title: str):
    """Four measures over the financial years: units on every axis, counts and shares from zero."""
    import matplotlib.pyplot as plt

    from ..charts import include_zero, measure, year_axis

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.4), sharex=True)
    rounds = list(range(len(series)))
    for ax, name in zip(axes.ravel(), PANELS):
        m = measure(name)
        values = series[name].to_numpy(dtype=float) * m.scale
        ax.plot(rounds, values, marker="o", color="#005EB8")
        ax.set_title(m.label, fontsize=10)
        ax.set_ylabel(m.unit or "index", fontsize=9)
        include_zero(ax, values)
        ax.grid(alpha=0.3)
        year_axis(ax, rounds, list(series["financial_year"]), label=ax in axes[1], fontsize=8)
    fig.suptitle(f"commissim run: {title}", fontsize=11)
    fig.tight_layout()
    return fig


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from commissim.model import CommissioningModel
    from commissim.model.maps import ICB_MEASURES, icb_base, icb_values, map_figure
    from commissim.model.measures import MEASURE_BY_NAME
    from commissim.model.scenarios import BASE_YEAR, changes_after, fy_label, load_scenario

    from .. import atomic
    from ..batch import git_commit, package_versions
    from ..batch.store import staging_folder, swap_in
    from ..model_runs import money_in_one_unit

    if args.years > MAX_YEARS:  # argparse already refuses negative years
        raise UserError(f"--years {args.years}: allowed 0 to {MAX_YEARS}")
    params = parse_set(args.set)
    scen = load_scenario(args.scenario)
    final_out = Path(args.out or f"results/run-{scen.name}-seed{args.seed}")
    identity = {"scenario": scen.path or scen.name, "parameters": params, "seed": args.seed, "years": args.years}
    replace = check_run_folder(final_out, json.loads(json.dumps(identity, default=str)),
                               getattr(args, "overwrite", False))
    out = staging_folder(final_out) if replace else final_out
    if replace and out.exists():
        shutil.rmtree(out)
    atomic.check_output_folder(out)  # before the run: an unwritable --out stops here, in one line
    for warning in changes_after(scen, BASE_YEAR + args.years, overridden=params):
        print(f"commissim run: warning: {warning}", file=sys.stderr)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    model = CommissioningModel(scenario=args.scenario, rng=args.seed, **params)
    base = icb_base(model)
    model.run(args.years)

    series = model.datacollector.get_model_vars_dataframe()
    series.insert(0, "financial_year", [fy_label(BASE_YEAR + int(t)) for t in series.index])
    series.index.name = "round"
    atomic.write_text(out / "series.csv", money_in_one_unit(series).to_csv())  # one money unit: £m
    atomic.write_text(out / "providers.csv", provider_table(model).to_csv(index=False))
    icb = icb_values(model, base)
    icbs = pd.DataFrame({"icb_code": model.data.icb_code, "icb": model.data.icb_short,
                         **{k: (icb[k] + 0.0).round(6) for k in ICB_MEASURES}})
    atomic.write_text(out / "icbs.csv", icbs.to_csv(index=False))
    summary = model.summary()
    atomic.write_text(out / "summary.json", json.dumps(summary, indent=2))

    title = run_title(model, args.seed, params)
    fig = run_figure(series, title)
    atomic.save_figure(fig, out / "run.png", dpi=110)
    plt.close(fig)
    name = MAP_CHOICES[args.map]
    fig = map_figure(model, name, icb[name], title=f"{MEASURE_BY_NAME[name].label} by ICB in "
                                                    f"{model.financial_year}\n{title}")
    atomic.save_figure(fig, out / "map.png", dpi=130)

    manifest = {
        "command": "commissim run", "scenario": model.policy_name, "scenario_source": model.policy.path,
        "parameters": model.p, "user_parameters": params, "seed": args.seed, "years": args.years,
        "map": name, "versions": package_versions(("mesa",)), "git_commit": git_commit(), "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic.write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=str))
    if replace:  # the new run is complete: it replaces the old one
        swap_in(out, final_out, RUN_FILES)
        out = final_out
    print(f"{title} -> {out}/")
    for key in PRINTED:
        m = MEASURE_BY_NAME[key]
        print(f"  {m.label:40s} {m.text(summary[key])}")
    print(f"  figures: {out / 'run.png'}, {out / 'map.png'}")
    return 0
