"""The text of a sweep's analysis: the console summary and ``sensitivity.md``."""

from __future__ import annotations

from typing import Any

from .methods import METHODS

__all__ = ["summary_text", "report_text", "safe_name"]


def safe_name(name: str) -> str:
    """An outcome or scenario name as part of a file name."""
    return name.replace(":", "_").replace("/", "_")


def summary_text(result: Any, top: int = 5) -> str:
    """The top parameters of each (scenario, outcome), one line each."""
    m = METHODS[result.method]
    lines = []
    for (scen, outcome), table in result.tables.items():
        lines.append(f"{scen} / {outcome}:")
        for _, r in table.head(top).iterrows():
            lines.append(f"  {int(r['rank']):2d}. {r['parameter']:26s} {m.summary(r)}")
    lines.extend(result.notes)
    return "\n".join(lines)


def report_text(result: Any, sweep: dict) -> str:
    spec = sweep["spec"]
    m = METHODS[result.method]
    out = [f"# Sensitivity sweep: {spec['name']}", ""]
    if spec.get("description"):
        out += [f"The space file's description: {spec['description']}", ""]
    out += [f"What was run: method **{m.name}**, n = {spec['n']}, {spec['seeds']} seed(s) per design point (outcomes "
            f"averaged over seeds before the analysis), {spec['years']} years, root seed {spec['root_seed']}.", ""]
    out += ["| parameter | range / levels | scenarios |", "|---|---|---|"]
    for p in spec["parameters"]:
        if "levels" in p:
            rng = "levels " + ", ".join(map(str, p["levels"]))
        elif p["kind"] == "int":
            rng = f"whole numbers {p['bounds'][0]:g} .. {p['bounds'][1]:g}, equally likely"
        else:
            rng = f"{p['distribution']} {p['bounds'][0]:g} .. {p['bounds'][1]:g}"
        out.append(f"| {p['name']} | {rng} | {', '.join(p['scenarios'])} |")
    if spec.get("fixed"):
        out += ["", "Fixed in every run: " + ", ".join(f"{k} = {v}" for k, v in spec["fixed"].items())]
    for (scen, outcome), table in result.tables.items():
        out += ["", f"## {scen} — {outcome}", "", f"| rank | parameter | {m.header} |", "|---|---|---|---|"]
        for _, r in table.iterrows():
            out.append(f"| {int(r['rank'])} | {r['parameter']} | {m.cells(r)} |")
        fig = f"figures/{m.name}_{safe_name(scen)}_{safe_name(outcome)}.png"
        if (result.folder / fig).is_file():
            out += ["", f"![{outcome}]({fig})"]
    if result.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(out) + "\n"
