"""``commissim scenarios``: list the named policy scenarios (or show one in full)."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show this scenario's file (parameters and timeline)")


def run(args: argparse.Namespace) -> int:
    from commissim.model.scenarios import fy_label, list_scenarios, load_scenario

    if args.name:
        scen = load_scenario(args.name)
        print(f"{scen.name}: {scen.description}\nsource: {scen.source}")
        if scen.illustrative:
            print("illustrative: parts of this timeline are assumptions (see the file's comments)")
        print("parameters:" if scen.parameters else "parameters: (model defaults)")
        for k, v in scen.parameters.items():
            print(f"  {k} = {v!r}")
        for year, change in scen.changes:
            print(f"from {fy_label(year)}: " + ", ".join(f"{k} = {v!r}" for k, v in change.items()))
        return 0
    scenarios = list_scenarios()
    width = max(len(s.name) for s in scenarios)
    for s in scenarios:
        mark = " (illustrative)" if s.illustrative else ""
        print(f"{s.name:<{width}}  {s.description}{mark}\n{'':<{width}}  source: {s.source}")
    print(f"\n{len(scenarios)} scenarios. Copy a file from model/scenarios/ to make your own; "
          "pass its path wherever a scenario name is accepted.")
    return 0
