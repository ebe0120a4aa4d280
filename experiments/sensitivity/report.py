"""The text of a sweep's analysis: the console summary and ``sensitivity.md``.

Every result is printed with its reliability (:mod:`.reliability`): the warnings of an outcome
stand right above its table, each once; parameters with a problem are flagged in the table; an
outcome that never varies says so instead of showing indices.
"""

from __future__ import annotations

from typing import Any

from .methods import METHODS
from .reliability import NO_VARIATION

__all__ = ["summary_text", "report_text", "safe_name"]

KIND_TITLES = {
    "no_variation": "no variation",
    "wide_interval": "intervals wider than the estimates",
    "out_of_range": "indices outside [0, 1]",
    "too_small_to_rank": "sample too small to rank",
    "sample_size": "sample size",
    "method": "method",
}


def safe_name(name: str) -> str:
    """An outcome or scenario name as part of a file name."""
    return name.replace(":", "_").replace("/", "_")


def summary_text(result: Any, top: int = 5) -> str:
    """The top parameters of each (scenario, outcome), one line each; a flagged parameter is marked (!)."""
    m = METHODS[result.method]
    lines = []
    keys = list(result.tables) + [k for k in getattr(result, "constant", {}) if k not in result.tables]
    for scen, outcome in keys:
        if (scen, outcome) in getattr(result, "constant", {}):
            lines.append(f"{scen} / {outcome}: {NO_VARIATION} (the outcome never varies)")
            continue
        table = result.tables[(scen, outcome)]
        lines.append(f"{scen} / {outcome}:")
        for _, r in table.head(top).iterrows():
            mark = "  (!)" if r.get("flags") else ""
            lines.append(f"  {int(r['rank']):2d}. {r['parameter']:26s} {m.summary(r)}{mark}")
    n_warn = len(getattr(result, "caveats", []))
    if n_warn:
        lines.append(f"(!) see the {n_warn} warning{'s' if n_warn > 1 else ''} above and in sensitivity.md before "
                     "reading these rankings")
    lines.extend(result.notes)
    return "\n".join(lines)


def _counts(result: Any) -> str:
    by_kind: dict[str, int] = {}
    for c in result.caveats:
        by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
    return ", ".join(f"{n} × {KIND_TITLES.get(k, k)}" for k, n in by_kind.items())


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

    caveats = list(getattr(result, "caveats", []))
    out += ["", "## How far these results can be trusted", ""]
    if caveats:
        out += [f"**{len(caveats)} warning{'s' if len(caveats) > 1 else ''}** ({_counts(result)}). Each is given "
                "once: those about the whole sweep here, those about one outcome above its table. Parameters with a "
                "problem carry a note in the table's last column (and are drawn hatched in the figures).", ""]
        out += [f"- **Warning ({KIND_TITLES.get(c.kind, c.kind)}):** {c.text}." for c in caveats if not c.outcome]
    else:
        out += ["No warnings: every reported index is clear of zero, inside [0, 1] where it must be, and the "
                "ranking of the leading parameters is the same at n/2 and n."]

    keys = list(result.tables) + [k for k in getattr(result, "constant", {}) if k not in result.tables]
    for scen, outcome in keys:
        out += ["", f"## {scen} — {outcome}", ""]
        own = result.caveats_of(scen, outcome) if hasattr(result, "caveats_of") else []
        out += [f"- **Warning ({KIND_TITLES.get(c.kind, c.kind)}):** {c.text}." for c in own]
        if (scen, outcome) in getattr(result, "constant", {}):
            out += ["", f"**{NO_VARIATION}.** No table: there is no variance to share out."]
            continue
        table = result.tables[(scen, outcome)]
        if own:
            out.append("")
        out += [f"| rank | parameter | {m.header} | reliability |", "|---|---|" + "---|" * len(m.columns) + "---|"]
        for _, r in table.iterrows():
            out.append(f"| {int(r['rank'])} | {r['parameter']} | {m.cells(r)} | {r.get('flags') or 'ok'} |")
        fig = f"figures/{m.name}_{safe_name(scen)}_{safe_name(outcome)}.png"
        if (result.folder / fig).is_file():
            out += ["", f"![{outcome}]({fig})"]
    if result.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(out) + "\n"
