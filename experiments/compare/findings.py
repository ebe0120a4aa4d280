"""Findings first: the few sentences an analyst can quote, computed from a results folder.

Every number comes from the folder's tables and every name, unit and definition from the model's
registries (``commissim.model.measures.MEASURES``, ``commissim.model.params.PARAMS``); a measure
the results do not hold is left out, never guessed. The findings say:

- how many trusts were destabilised and when: the peak year of the mean count, per scenario, and the
  final year;
- which arrangements differ from the reference, and by how much, with 90% intervals (only
  differences larger than the measure's resolution whose interval excludes zero; the others are named
  in one line as negligible or unclear);
- the largest yearly difference in destabilised trusts (differences over time, not only the final year);
- the most exposed trusts by name (``exposure.csv`` when the folder holds it, else the per-provider
  income change of every run);
- what the results hinge on: the parameters with no public figure, and the sweep and calibration that
  test them.
"""

from __future__ import annotations

from pathlib import Path

from .differences import (
    common_seeds,
    interval_numbers,
    paired_difference,
    reference_scenario,
    verdict,
    when,
    with_unit,
    yearly_differences,
)

__all__ = ["findings", "plain", "FINDING_MEASURES", "TIMING_MEASURE", "peak_by_scenario", "assumptions_without_figures"]

# The measures whose differences from the reference the findings state (registry names; absent ones skipped).
FINDING_MEASURES = ("providers_destabilised", "max_providers_destabilised", "lines_at_risk", "lines_withdrawn",
                    "cumulative_lines_withdrawn", "commissioner_shortfall", "commissioner_cuts", "growth_withheld",
                    "stranded_costs", "trust_sector_margin", "specialist_trust_margin", "out_of_area_income_change",
                    "income_change_p10", "unmet_need_share", "access_gini", "cumulative_revenue_support")
TIMING_MEASURE = "providers_destabilised"
SWEEP_CONFIG = "experiments/configs/sobol_delegation.toml"
N_EXPOSED = 5


def _m(name: str):
    from commissim.model.measures import MEASURE_BY_NAME

    return MEASURE_BY_NAME.get(name)


def peak_by_scenario(series, name: str, order: list[str]):
    """Per scenario: (peak year, mean count at the peak, final year, mean in the final year) of the mean
    over seeds of a series measure."""
    out = {}
    for s in order:
        d = series[series["scenario"] == s]
        if d.empty or name not in d:
            continue
        mean = d.groupby(["round", "year"])[name].mean().reset_index().sort_values("round")
        if mean[name].isna().all():
            continue
        top = mean.loc[mean[name].idxmax()]
        last = mean.iloc[-1]
        out[s] = (top["year"], float(top[name]), last["year"], float(last[name]))
    return out


def _n_providers(folder: Path) -> int | None:
    import pandas as pd

    f = folder / "providers.parquet"
    if not f.is_file():
        return None
    p = pd.read_parquet(f, columns=["provider"])
    return int(p["provider"].max()) + 1 if len(p) else None


def _timing(series, order, ref, n_prov, paired) -> list[str]:
    name = TIMING_MEASURE
    if series is None or name not in series or _m(name) is None:
        return []
    peaks = peak_by_scenario(series, name, order)
    if not peaks:
        return []
    m = _m(name)
    of = f" of {n_prov} trusts" if n_prov else " trusts"
    years = {p[0] for p in peaks.values()}
    counts = [p[1] for p in peaks.values()]
    lo_s = min(peaks, key=lambda s: peaks[s][1])
    hi_s = max(peaks, key=lambda s: peaks[s][1])
    if len(years) == 1:
        year = years.pop()
        if m.number(min(counts)) == m.number(max(counts)):
            text = (f"**{m.label}** peak in {year} under every scenario: {m.number(max(counts))}{of} on average "
                    "(mean over seeds)")
        else:
            text = (f"**{m.label}** peak in {year} under every scenario: from {m.number(peaks[lo_s][1])}{of} "
                    f"(`{lo_s}`) to {m.number(peaks[hi_s][1])} (`{hi_s}`) on average (mean over seeds)")
    else:
        text = (f"**{m.label}** peak in different years: "
                + "; ".join(f"`{s}` {m.number(p[1])} in {p[0]}" for s, p in peaks.items()) + f" ({of.strip()}, mean over "
                "seeds)")
    finals = {s: p[3] for s, p in peaks.items()}
    final_year = next(iter(peaks.values()))[2]
    if m.number(min(finals.values())) == m.number(max(finals.values())):
        text += f"; in {final_year}, the final year, {m.number(max(finals.values()))} under every scenario."
    else:
        text += (f"; in {final_year}, the final year, from {m.number(min(finals.values()))} to "
                 f"{m.number(max(finals.values()))}.")
    out = [text]
    # the largest yearly difference from the reference: differences over time, not only the final year
    biggest = []
    for s in order:
        if s == ref:
            continue
        t = yearly_differences(series, name, s, ref, paired=paired)
        if t.empty:
            continue
        row = t.loc[t["estimate"].abs().idxmax()]
        from .differences import Difference

        d = Difference(float(row["estimate"]), float(row["low"]), float(row["high"]), int(row["n"]), paired)
        if verdict(name, d) in ("higher", "lower"):
            est, lo, hi = interval_numbers(name, d)
            biggest.append(f"`{s}` {with_unit(name, est)} in {row['year']} (90% CI {lo} to {hi})")
    if biggest:
        out.append(f"Largest yearly difference in {m.label} from `{ref}` (figures "
                   f"`differences_over_time_{name}.png`): " + "; ".join(biggest) + ".")
    elif len(order) > 1:
        out.append(f"In no year does any arrangement change {m.label} by more than {m.min_difference:g} "
                   f"{m.unit} on average with an interval clear of zero, against `{ref}`.")
    return out


def _differences(summaries, order, ref, paired, final_year, first_year) -> list[str]:
    measures = [n for n in FINDING_MEASURES if n in summaries.columns and _m(n) is not None]
    out = []
    quiet: dict[str, list[str]] = {"negligible": [], "unclear": [], "same": []}
    for s in order:
        if s == ref:
            continue
        parts = []
        for n in measures:
            d = paired_difference(summaries, n, s, ref, paired=paired)
            if d is None:
                continue
            v = verdict(n, d)
            if v in ("higher", "lower"):
                est, lo, hi = interval_numbers(n, d)
                money = _m(n).unit.startswith("£")  # money keeps its £ on the interval; other units once
                parts.append(f"{_m(n).label} {when(n, final_year, first_year)} {with_unit(n, est)} "
                             f"(90% CI {with_unit(n, lo) if money else lo} to {with_unit(n, hi) if money else hi})")
            else:
                quiet[v].append(n)
        if parts:
            out.append(f"`{s}` against `{ref}`: " + "; ".join(parts) + ".")
        else:
            out.append(f"`{s}` does not differ from `{ref}` by more than the resolution of any measure listed "
                       f"here in {final_year}.")
    others = len([s for s in order if s != ref])
    names = [n for n in measures if sum(q.count(n) for q in quiet.values()) == others]
    if names and others:
        out.append("No arrangement differs from `" + ref + "` in: " + ", ".join(
            f"{_m(n).label} (resolution {with_unit(n, format(_m(n).min_difference, 'g'))})" for n in names)
            + " (every difference is negligible, unclear or none).")
    return out


def _provider_names(manifest: dict):
    """(short name, kind, host ICB) per provider index, from the seed tables the runs used (None if unreadable)."""
    try:
        from commissim.model.data import load_seeds

        kwargs = manifest.get("config", {}).get("function_kwargs") or {}
        d = load_seeds(kwargs.get("seeds_path"))
        return [(str(n), str(k), str(d.icb_short[i])) for n, k, i in zip(d.provider_short, d.provider_kind,
                                                                          d.provider_icb)]
    except Exception:  # noqa: BLE001 - names are a nicety: the findings still hold without them
        return None


def _exposed(folder: Path, manifest: dict, order, ref, paired) -> list[str]:
    """The most exposed trusts: from exposure.csv when present, else from the providers table."""
    import pandas as pd

    exp = folder / "exposure.csv"
    if exp.is_file():
        from .exposure import exposure_findings

        return exposure_findings(pd.read_csv(exp), ref, N_EXPOSED)
    f = folder / "providers.parquet"
    if not f.is_file():
        return []
    from .figures import relabel

    prov = relabel(pd.read_parquet(f, columns=["point", "scenario", "replicate", "provider", "income_change"]), manifest)
    names = _provider_names(manifest)
    worst = []
    for s in order:
        if s == ref:
            continue
        a = prov[prov["scenario"] == s]
        b = prov[prov["scenario"] == ref]
        both = a.merge(b, on=["replicate", "provider"], suffixes=("_a", "_b")) if paired else None
        if both is None or both.empty:
            continue
        diff = (both["income_change_a"] - both["income_change_b"]).groupby(both["provider"]).mean()
        for p, v in diff.nsmallest(N_EXPOSED).items():
            worst.append((float(v), s, int(p)))
    seen: set[int] = set()
    worst = [w for w in sorted(worst) if not (w[2] in seen or seen.add(w[2]))][:N_EXPOSED]  # each trust once
    res = _m("income_change_mean").min_difference if _m("income_change_mean") is not None else 0.1
    worst = [w for w in worst if w[0] * 100 <= -res]
    if not worst:
        return []
    items = []
    for v, s, p in worst:
        who = f"{names[p][0]} ({names[p][1]}, {names[p][2]})" if names and p < len(names) else f"provider {p}"
        items.append(f"{who} {v * 100:+.1f} pp under `{s}`")
    return [f"Most exposed trusts (specialised income change against the fair-share path, scenario minus `{ref}`, "
            "mean over paired seeds): " + "; ".join(items) + "."]


def assumptions_without_figures() -> list[str]:
    """Parameters the sweep of record varies whose default has no public figure (registry source says so)."""
    import tomllib

    from commissim.model.params import PARAM_BY_NAME

    root = Path(__file__).resolve().parents[2]
    try:
        swept = list(tomllib.loads((root / SWEEP_CONFIG).read_text()).get("parameters", {}))
    except OSError:
        swept = []
    pool = swept or list(PARAM_BY_NAME)
    # "assumption" anywhere in the source: the whole figure, or the part the sources do not settle (a structural
    # regime, a number of years, a share) is assumed and swept
    return [n for n in pool if n in PARAM_BY_NAME and "assumption" in PARAM_BY_NAME[n].source.lower()]


def _hinge(manifest: dict) -> list[str]:
    names = assumptions_without_figures()
    if not names:
        return []
    over = manifest.get("overrides") or {}
    grid = manifest.get("grid") or {}
    drawn = set(manifest.get("posterior_parameters") or ())
    if manifest.get("posterior"):
        blind = [n for n in manifest.get("not_informed", []) if n not in over]
        held = [n for n in names if n not in over and n not in drawn]
        return [("What these results hinge on: the parameters drawn from the posterior of the calibration in "
                 f"`{manifest['posterior']}` ({manifest.get('draws')} draws, the same in every scenario), so the "
                 "intervals above carry their uncertainty as the record constrains it"
                 + (f"; not informed by the record, and so carried at their prior: {', '.join(f'`{n}`' for n in blind)}"
                    if blind else "")
                 + (f"; parameters with no public figure held at their defaults here: {', '.join(f'`{n}`' for n in held)}"
                    if held else "")
                 + (f"; set for every scenario: {', '.join(f'`{k}`' for k in over)}" if over else "") + ".")]
    held = [n for n in names if n not in over and n not in grid]
    names = held + [n for n in names if n not in held]
    text = ("What these results hinge on: parameters with no public figure, held at their defaults here"
            + (f" (but for {', '.join(f'`{k}`' for k in over)}, set for every scenario)" if over else "")
            + (f" (but for {', '.join(f'`{k}`' for k in grid)}, varied in the grid)" if grid else "")
            + ": " + ", ".join(f"`{n}`" for n in names)
            + f". The sensitivity sweep `commissim sweep {SWEEP_CONFIG}` varies them (README, \"What the headline "
            "sweep says\"); `commissim validate` compares the calibrated path with published figures; "
            "`commissim params` lists every parameter with its source. The intervals above reflect the "
            "model's random variation only, not these assumptions.")
    return [text]


def findings(folder: str | Path) -> list[str]:
    """The findings of a compare folder as Markdown paragraphs (empty when no run finished)."""
    import json

    import pandas as pd

    from .figures import relabel, scenario_order
    from ..model_runs import year_label

    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    sf = folder / "summaries.parquet"
    if not sf.is_file():
        return []
    summaries = relabel(pd.read_parquet(sf), manifest)
    if summaries.empty:
        return []
    order = scenario_order(manifest, summaries["scenario"].unique())
    ref = reference_scenario(order)
    paired = common_seeds(manifest)
    final_year = year_label(manifest.get("config", {}).get("years", 0))
    series = relabel(pd.read_parquet(folder / "series.parquet"), manifest) \
        if (folder / "series.parquet").is_file() else None
    out = _timing(series, order, ref, _n_providers(folder), paired)
    if len(order) > 1:
        out += _differences(summaries, order, ref, paired, final_year, year_label(1))
        out += _exposed(folder, manifest, order, ref, paired)
    out += _hinge(manifest)
    return out


def plain(paragraph: str) -> str:
    """A finding for the console: no Markdown emphasis or code marks."""
    return paragraph.replace("**", "").replace("`", "")
