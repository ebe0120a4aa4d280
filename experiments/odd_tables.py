"""Regenerate the parameter and measure tables of ``model/ODD.md`` from the registries.

Usage (from the repo root):  python -m commissim.experiments.odd_tables   (rewrites the two tables in place)

The tables are the registries' own words (default, range, when, group, first sentence of the doc, source; label,
kind, unit, definition), so the ODD cannot drift from the code. ``tests/test_docs.py`` checks every name is there.
"""

from __future__ import annotations

import re
from pathlib import Path

from commissim.model.measures import MEASURES
from commissim.model.params import PARAMS

ODD = Path(__file__).resolve().parent.parent / "model" / "ODD.md"


def _first_sentence(text: str) -> str:
    m = re.match(r"(.+?[.;])(\s|$)", text)
    return (m.group(1) if m else text).replace("|", "/")


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def parameter_table() -> str:
    setup = sum(p.when == "setup" for p in PARAMS)
    out = [f"{len(PARAMS)} parameters, in the registry's order ({setup} read once at set-up, the others every round).",
           "", "| name | default | range / choices | when | group | meaning | source (registry) |",
           "|---|---|---|---|---|---|---|"]
    for p in PARAMS:
        rng = (", ".join(f"`{c}`" for c in p.choices) if p.kind == "choice"
               else "true / false" if p.kind == "bool" else f"{_num(p.low)} – {_num(p.high)}")
        default = f"`{p.default}`" if p.kind in ("choice", "bool") else _num(p.default)
        when = p.when + ("" if p.sweepable else ", not swept")
        out.append(f"| `{p.name}` | {default} | {rng} | {when} | {p.group} | {_first_sentence(p.doc)} | "
                   f"{p.source.replace('|', '/')} |")
    return "\n".join(out)


def measure_table() -> str:
    series = sum(m.kind == "series" for m in MEASURES)
    summ = sum(m.kind == "summary" for m in MEASURES)
    icb = sum(m.kind == "icb" for m in MEASURES)
    out = [f"{len(MEASURES)} measures: {series} yearly series (model reporters of the DataCollector), {summ} end-of-run "
           f"summaries (the summary also holds every series' final value) and {icb} per-ICB map measures.", "",
           "| measure | label | kind | unit shown | definition (registry) |", "|---|---|---|---|---|"]
    for m in MEASURES:
        unit = m.unit + (" (stored as a fraction, × 100)" if m.scale == 100.0 else "")
        out.append(f"| `{m.name}` | {m.label} | {m.kind} | {unit or '—'} | {m.definition.replace('|', '/')} |")
    return "\n".join(out)


def rewrite(path: Path = ODD) -> None:
    text = path.read_text(encoding="utf-8")
    for head, table in (("### Parameters (from `model/params.py`)", parameter_table()),
                        ("### Measures (from `model/measures.py`)", measure_table())):
        start = text.index(head)
        body_start = text.index("\n| ", start)
        # the line before the table (the count) is regenerated too
        count_start = text.rfind("\n\n", start, body_start) + 2
        end = text.index("\n\n", text.index("|---", body_start))
        text = text[:count_start] + table + text[end:]
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    rewrite()
