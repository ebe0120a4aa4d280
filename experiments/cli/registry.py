"""``commissim params`` and ``commissim measures``: the model's two registries, as an analyst reads them.

    commissim params                  # every parameter: name, default, range, when read, doc, source
    commissim params efficiency_gap   # one parameter in full
    commissim params --csv            # the table as CSV (for a spreadsheet)
    commissim measures                # every measure: name, unit, resolution, definition
    commissim measures --csv

Both read the registries (``commissim.model.params.PARAMS``, ``commissim.model.measures.MEASURES``),
so they list every entry there is, and nothing else.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import textwrap

from ..errors import UserError


def configure_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show this parameter in full")
    parser.add_argument("--group", help="only this group (arrangement, finance, behaviour, allocation, region, "
                                        "provider, measure, core)")
    parser.add_argument("--csv", action="store_true", help="print the table as CSV")


def configure_measures(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show this measure in full")
    parser.add_argument("--kind", choices=("series", "summary", "icb"),
                        help="only measures of this kind (series: every year; summary: end of run; icb: per ICB)")
    parser.add_argument("--csv", action="store_true", help="print the table as CSV")


def _allowed(p, short: bool = False) -> str:
    if p.kind == "choice":
        text = " | ".join(p.choices)
        return f"one of {len(p.choices)} (see NAME)" if short and len(text) > 30 else text
    if p.kind == "bool":
        return "true | false"
    return f"{p.low:g} to {p.high:g}"


def param_rows() -> list[dict[str, str]]:
    """One row per entry of the parameter registry."""
    from commissim.model.params import PARAMS

    return [{"name": p.name, "default": str(p.default), "allowed": _allowed(p), "kind": p.kind, "group": p.group,
             "read": "once, at setup" if p.when == "setup" else "every year", "swept": "yes" if p.sweepable else "no",
             "doc": p.doc, "source": p.source} for p in PARAMS]


def measure_rows() -> list[dict[str, str]]:
    """One row per entry of the measure registry (the resolution in the unit shown; pp for % measures)."""
    from commissim.model.measures import MEASURES

    rows = []
    for m in MEASURES:
        unit = m.unit or "(index)"
        res_unit = ("pp" + m.unit[1:]) if m.unit.startswith("%") else m.unit
        rows.append({"name": m.name, "label": m.label, "unit": unit, "kind": m.kind,
                     "resolution": f"{m.min_difference:g} {res_unit}".strip(), "definition": m.definition})
    return rows


def _pick(rows: list[dict[str, str]], name: str, what: str, command: str) -> dict[str, str]:
    names = [r["name"] for r in rows]
    if name in names:
        return rows[names.index(name)]
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    raise UserError(f"unknown {what} '{name}'{hint}; 'commissim {command}' lists them all")


def _print(rows: list[dict[str, str]], columns: list[str], wide: str, as_csv: bool, what: str, command: str) -> None:
    if as_csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        print(buf.getvalue(), end="")
        return
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns) + f"  {wide}")
    indent = sum(widths.values()) + 2 * len(columns)
    for r in rows:
        text = textwrap.wrap(r[wide], max(40, 150 - indent)) or [""]
        print("  ".join(r[c].ljust(widths[c]) for c in columns) + "  " + text[0])
        for more in text[1:]:
            print(" " * indent + more)
    print(f"\n{len(rows)} {what}s. 'commissim {command} NAME' shows one in full; --csv for a spreadsheet.")


def run_params(args: argparse.Namespace) -> int:
    rows = param_rows()
    if args.name:
        r = _pick(rows, args.name, "parameter", "params")
        for k, v in r.items():
            print(f"{k:8s} {v}")
        return 0
    if args.group:
        groups = sorted({r["group"] for r in rows})
        if args.group not in groups:
            raise UserError(f"--group {args.group!r}: allowed {', '.join(groups)}")
        rows = [r for r in rows if r["group"] == args.group]
    if not args.csv:
        from commissim.model.params import PARAM_BY_NAME

        rows = [{**r, "allowed": _allowed(PARAM_BY_NAME[r["name"]], short=True),
                 "doc": f"{r['doc']} Source: {r['source']}"} for r in rows]
    _print(rows, ["name", "default", "allowed", "read"], "doc", args.csv, "parameter", "params")
    if not args.csv:
        print("A source that starts 'assumption' means no public figure: the sweeps vary those parameters.")
    return 0


def run_measures(args: argparse.Namespace) -> int:
    rows = measure_rows()
    if args.name:
        r = _pick(rows, args.name, "measure", "measures")
        for k, v in r.items():
            print(f"{k:10s} {v}")
        return 0
    if args.kind:
        rows = [r for r in rows if r["kind"] == args.kind]
    _print(rows, ["name", "unit", "kind", "resolution"], "definition", args.csv, "measure", "measures")
    if not args.csv:
        print("Resolution: the smallest difference between scenarios that matters; the report calls a smaller "
              "difference negligible whatever its interval.")
    return 0
