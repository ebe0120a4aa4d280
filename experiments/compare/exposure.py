"""Trust-by-trust and ICB-by-ICB exposure: each arrangement minus the reference, paired by seed.

``write_exposure(folder)`` reads the per-run provider values (``provider_values`` table: the model's
``model.exposure.PROVIDER_VALUES``) and ICB values (``icbs`` table: the registry's ``icb`` measures) and
writes:

- ``exposure.csv``: one row per trust and arrangement (named, with type and host ICB): the paired mean
  difference from the reference and its 90% interval in specialised income, out-of-area income and
  margin (£m), margin (percentage points of turnover), years on cash support and lines withdrawn (and
  lines at risk when the runs report them), sorted by exposure (the specialised income difference,
  most negative first);
- ``exposure_icbs.csv``: the same per ICB for its budget change, out-of-area spend change and access, sorted
  by the out-of-area spend change (most negative first).

A folder whose runs did not return per-provider values (an older folder, or a stand-in run function)
gets no exposure files, and the report says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .differences import common_seeds, reference_scenario

__all__ = ["TRUST_MEASURES", "write_exposure", "paired_by_unit", "exposure_findings", "EXPOSURE_FILE",
           "ICB_EXPOSURE_FILE"]

EXPOSURE_FILE = "exposure.csv"
ICB_EXPOSURE_FILE = "exposure_icbs.csv"
# provider_values column -> (label, unit of the difference, scale, decimals); absent columns are skipped.
TRUST_MEASURES = {
    "spec_income_gbp_m": ("specialised income", "£m", 1.0, 1),
    "out_of_area_income_gbp_m": ("out-of-area income", "£m", 1.0, 1),
    "surplus_gbp_m": ("margin", "£m", 1.0, 1),
    "margin": ("margin", "pp of turnover", 100.0, 2),
    "years_on_support": ("years on cash support", "years", 1.0, 2),
    "lines_at_risk": ("lines at risk", "lines", 1.0, 2),
    "lines_withdrawn": ("lines withdrawn", "lines", 1.0, 2),
}
SORT_BY = "spec_income_gbp_m"


def _unit_suffix(unit: str) -> str:
    return {"£m": "gbp_m", "pp of turnover": "pp", "years": "years", "lines": "lines"}.get(unit, "")


def _t(df: int) -> float:
    from .differences import _t as t_quantile  # scipy.stats' t quantile without importing scipy.stats

    return t_quantile(df) if df > 0 else float("nan")


def paired_by_unit(table, unit: str, columns: list[str], scenario: str, ref: str):
    """Per unit (provider or ICB): mean of ``scenario - ref`` over paired replicates, with its 90% t interval.
    Returns a DataFrame indexed by unit with ``<col>``, ``<col>_low``, ``<col>_high`` and ``n``."""
    import pandas as pd

    return _paired_by_scenario(table, unit, columns, [scenario], ref).get(scenario, pd.DataFrame())


def _paired_by_scenario(table, unit: str, columns: list[str], scenarios: list[str], ref: str) -> dict:
    """:func:`paired_by_unit` of every scenario in ``scenarios`` (those with pairs), from one pass: each
    scenario's runs joined to the reference's on (replicate, unit) in its own row order, as a merge joins them,
    and one groupby of the differences by (scenario, unit), so every group's rows, sums and spreads are those of
    a groupby per scenario (the same numbers to the bit)."""
    import pandas as pd

    scen = table["scenario"].to_numpy()
    ref_rows = np.flatnonzero(scen == ref)
    rep, where = table["replicate"].to_numpy(), table[unit].to_numpy()
    b_key = list(zip(rep[ref_rows].tolist(), where[ref_rows].tolist()))
    b_of = dict(zip(b_key, ref_rows.tolist()))
    if len(b_of) != len(b_key):  # a (replicate, unit) twice in the reference: every pair, as a merge makes them
        return {s: t for s in scenarios if not (t := _paired_merge(table, unit, columns, s, ref)).empty}
    a_rows, b_rows, codes = [], [], []
    for k, s in enumerate(scenarios):
        rows = np.flatnonzero(scen == s)
        pairs = [(i, b_of[key]) for i, key in zip(rows.tolist(), zip(rep[rows].tolist(), where[rows].tolist()))
                 if key in b_of]
        a_rows += [i for i, _ in pairs]
        b_rows += [j for _, j in pairs]
        codes += [k] * len(pairs)
    if not a_rows:
        return {}
    a_rows, b_rows = np.asarray(a_rows, dtype=np.intp), np.asarray(b_rows, dtype=np.intp)
    values = {c: table[c].to_numpy() for c in columns}  # (the columns needed, not every row of the table)
    d = pd.DataFrame({c: v[a_rows] - v[b_rows] for c, v in values.items()})
    d[unit] = where[a_rows]
    d = d.mask(d.abs() < 1e-12, 0.0)
    d.insert(0, "_scenario", np.asarray(codes))
    g = d.groupby(["_scenario", unit])
    mean, sd, n = g.mean(), g.std(ddof=1), g.size()
    out = {}
    for k, s in enumerate(scenarios):
        if k not in mean.index.get_level_values(0):
            continue
        out[s] = _interval_table(mean.loc[k], sd.loc[k], n.loc[k], columns)
    return out


def _paired_merge(table, unit: str, columns: list[str], scenario: str, ref: str):
    """:func:`paired_by_unit` by a merge (a reference with a (replicate, unit) twice: every pair)."""
    import pandas as pd

    a = table.loc[table["scenario"] == scenario, ["replicate", unit, *columns]]
    b = table.loc[table["scenario"] == ref, ["replicate", unit, *columns]]
    both = a.merge(b, on=["replicate", unit], suffixes=("_a", "_b"))
    if both.empty:
        return pd.DataFrame()
    d = pd.DataFrame({c: both[f"{c}_a"] - both[f"{c}_b"] for c in columns})
    d[unit] = both[unit]
    d = d.mask(d.abs() < 1e-12, 0.0)
    g = d.groupby(unit)
    return _interval_table(g.mean(), g.std(ddof=1), g.size(), columns)


def _interval_table(mean, sd, n, columns: list[str]):
    """Per unit: each column's mean difference and its 90% t interval, and ``n``."""
    import pandas as pd

    half = sd.mul(n.map(lambda k: _t(k - 1)), axis=0).div(np.sqrt(n), axis=0)
    parts = {}
    for c in columns:
        parts[c] = mean[c]
        parts[f"{c}_low"] = mean[c] - half[c].fillna(0.0)
        parts[f"{c}_high"] = mean[c] + half[c].fillna(0.0)
    parts["n"] = n
    return pd.DataFrame(parts, index=mean.index)


def _names(manifest: dict):
    from commissim.model.data import load_seeds

    kwargs = manifest.get("config", {}).get("function_kwargs") or {}
    return load_seeds(kwargs.get("seeds_path"))


def write_exposure(folder: str | Path) -> list[Path]:
    """Write ``exposure.csv`` and ``exposure_icbs.csv`` (atomically); return the paths written."""
    import json

    import pandas as pd

    from .figures import relabel, scenario_order

    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    written: list[Path] = []
    if not common_seeds(manifest):
        return written  # trust-by-trust differences need paired seeds
    data = None
    pv = folder / "provider_values.parquet"
    if pv.is_file():
        table = relabel(pd.read_parquet(pv), manifest)
        cols = [c for c in TRUST_MEASURES if c in table.columns]
        order = scenario_order(manifest, table["scenario"].unique())
        ref = reference_scenario(order)
        data = _names(manifest)
        frames = []
        tables = _paired_by_scenario(table, "provider", cols, [s for s in order if s != ref], ref)
        for s, t in tables.items():
            idx = t.index.to_numpy()
            out = {"provider_code": data.provider_code[idx], "trust": data.provider_short[idx],
                   "type": data.provider_kind[idx], "host_icb": data.icb_short[data.provider_icb[idx]],
                   "scenario": s, "reference": ref, "n_seeds": t["n"].to_numpy()}
            for c in cols:
                label, unit, scale, _ = TRUST_MEASURES[c]
                name = f"{label.replace(' ', '_').replace('-', '_')}_{_unit_suffix(unit)}"
                for part in ("", "_low", "_high"):
                    out[f"{name}{'_diff' if not part else part}"] = (t[f"{c}{part}"] * scale).round(4).to_numpy()
            frames.append(pd.DataFrame(out))
        if frames:
            written.append(_write_sorted(frames, "specialised_income", folder / EXPOSURE_FILE))
    icb_file = folder / "icbs.parquet"
    if icb_file.is_file():
        from commissim.model.measures import MEASURE_BY_NAME

        icbs = relabel(pd.read_parquet(icb_file), manifest)
        cols = [c for c in icbs.columns if c in MEASURE_BY_NAME and MEASURE_BY_NAME[c].kind == "icb"]
        order = scenario_order(manifest, icbs["scenario"].unique())
        ref = reference_scenario(order)
        data = data or _names(manifest)
        frames = []
        tables = _paired_by_scenario(icbs, "icb", cols, [s for s in order if s != ref], ref) if cols else {}
        for s, t in tables.items():
            idx = t.index.to_numpy()
            out = {"icb_code": data.icb_code[idx], "icb": data.icb_short[idx], "scenario": s, "reference": ref,
                   "n_seeds": t["n"].to_numpy()}
            for c in cols:
                m = MEASURE_BY_NAME[c]
                unit = ("pp" + m.unit[1:]) if m.unit.startswith("%") else m.unit
                name = f"{c.removeprefix('icb_')}_{'pp' if unit.startswith('pp') else unit.replace(' ', '_')}"
                for part in ("", "_low", "_high"):
                    out[f"{name}{'_diff' if not part else part}"] = (t[f"{c}{part}"] * m.scale).round(4).to_numpy()
            frames.append(pd.DataFrame(out))
        if frames:
            written.append(_write_sorted(frames, "out_of_area_spend", folder / ICB_EXPOSURE_FILE))
    return written


def _write_sorted(frames: list, first: str, path: Path) -> Path:
    """One exposure table from its scenarios' frames, sorted by the difference in the measure whose column
    starts with ``first`` (largest fall first), then scenario; written atomically."""
    import pandas as pd

    from .. import atomic

    exp = pd.concat(frames, ignore_index=True)
    key = next((c for c in exp.columns if c.startswith(first) and c.endswith("_diff")), None)
    if key:
        exp = exp.sort_values([key, "scenario"], kind="stable")
    return atomic.write_csv(exp, path)


def _cell(row, name: str, decimals: int, unit: str) -> str:
    est, lo, hi = row[f"{name}_diff"], row[f"{name}_low"], row[f"{name}_high"]
    if est == 0 and lo == 0 and hi == 0:
        return "0"
    fmt = f"{{:+.{decimals}f}}"

    def f(x):
        text = fmt.format(x)
        return text.lstrip("+-") if not any(ch in "123456789" for ch in text) else text

    d = decimals
    while d < decimals + 3 and any(x != 0 and not any(ch in "123456789" for ch in fmt.format(x)) for x in (lo, hi)):
        d += 1
        fmt = f"{{:+.{d}f}}"
    money = unit == "£m"
    wrap = (lambda t: (t[0] + "£" + t[1:] + "m") if t[:1] in "+-" else f"£{t}m") if money else (lambda t: t)
    return f"{wrap(f(est))} ({wrap(f(lo))} to {wrap(f(hi))})"


def trust_columns(exp) -> list[tuple[str, str, str, int]]:
    """(column stem, heading, unit, decimals) of the exposure table's measures, in TRUST_MEASURES order."""
    out = []
    for c, (label, unit, _scale, decimals) in TRUST_MEASURES.items():
        stem = f"{label.replace(' ', '_').replace('-', '_')}_{_unit_suffix(unit)}"
        if f"{stem}_diff" in exp.columns:
            out.append((stem, f"{label} ({unit})", unit, decimals))
    return out


def exposure_table(exp, scenario: str, n: int = 15) -> str:
    """Markdown: the ``n`` most exposed trusts under ``scenario`` (difference from the reference, 90% interval)."""
    rows = exp[exp["scenario"] == scenario].head(n)
    cols = trust_columns(exp)
    lines = ["| trust (type, host ICB) | " + " | ".join(h for _, h, _, _ in cols) + " |",
             "|" + "---|" * (len(cols) + 1)]
    for _, r in rows.iterrows():
        lines.append(f"| {r['trust']} ({r['type']}, {r['host_icb']}) | "
                     + " | ".join(_cell(r, stem, d, unit) for stem, _, unit, d in cols) + " |")
    return "\n".join(lines)


def icb_table(exp, scenario: str, n: int = 10) -> str:
    rows = exp[exp["scenario"] == scenario].head(n)
    stems = [c[:-5] for c in exp.columns if c.endswith("_diff")]
    lines = ["| ICB | " + " | ".join(s.replace("_", " ") for s in stems) + " |", "|" + "---|" * (len(stems) + 1)]
    for _, r in rows.iterrows():
        lines.append(f"| {r['icb']} | " + " | ".join(_cell(r, s, 1, "") for s in stems) + " |")
    return "\n".join(lines)


def exposure_findings(exp, ref: str, n: int = 5) -> list[str]:
    """One finding: the ``n`` trusts whose specialised income falls furthest below the reference's."""
    cols = trust_columns(exp)
    if not cols or exp.empty:
        return []
    stem, _, unit, d = cols[0]
    worst = exp.sort_values(f"{stem}_diff").drop_duplicates("provider_code").head(n)  # each trust once, at its worst
    worst = worst[worst[f"{stem}_high"] < 0]
    if worst.empty:
        return [f"No trust's specialised income differs clearly from `{ref}` under any arrangement (`exposure.csv`)."]
    items = [f"{r['trust']} ({r['type']}, {r['host_icb']}) {_cell(r, stem, d, unit)} under `{r['scenario']}`"
             for _, r in worst.iterrows()]
    return [f"Most exposed trusts (specialised income, arrangement minus `{ref}`, 90% CI; every trust in "
            "`exposure.csv`): " + "; ".join(items) + "."]


def primary_scenario(exp) -> str | None:
    """The arrangement the report's exposure section shows: full_delegation when present, else the one
    with the largest total exposure."""
    if exp is None or exp.empty:
        return None
    scenarios = list(dict.fromkeys(exp["scenario"]))
    if "full_delegation" in scenarios:
        return "full_delegation"
    key = next((c for c in exp.columns if c.endswith("_diff")), None)
    return min(scenarios, key=lambda s: exp.loc[exp["scenario"] == s, key].sum()) if key else scenarios[0]
