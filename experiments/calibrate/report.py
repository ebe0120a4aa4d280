"""What a calibration writes: ``posterior.parquet``, ``facts.csv``, ``calibration.md`` and ``figures/``.

``calibration.md`` opens with what the record pins down and what it does not: for every parameter its prior
and posterior 90% intervals and how much the interval shrank, and the parameters not informed by the record
(they move no fact: their prior is carried forward unchanged). Then the fit of every fact (the posterior
predictive: the accepted particles' simulated facts), the generations (threshold, acceptance rate, runs per
second) and the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from ..posterior import weighted_quantile
from .config import CalibrationConfig, Prior

__all__ = ["write_outputs", "interval_table"]

Q = (0.05, 0.95)


def _history(out: Path):
    import pyabc

    return pyabc.History(f"sqlite:///{out / 'abc.db'}", _id=1)


def posterior_frame(out: Path, cfg: CalibrationConfig, informed: list[Prior]):
    """One row per accepted particle of the last generation: a column per parameter (in the file's order) and
    ``weight``; parameters the record does not inform are drawn from their priors."""
    import pandas as pd

    n = cfg.particles
    cols: dict[str, Any] = {}
    w = np.full(n, 1.0 / n)
    if informed and (out / "abc.db").exists():
        h = _history(out)
        df, w = h.get_distribution(m=0, t=h.max_t)
        df = df.reset_index(drop=True)
        n = len(df)
        for p in informed:
            cols[p.name] = [p.decode(x) for x in df[p.name].to_numpy(float)]
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(9,)))
    out_cols = {}
    for p in cfg.priors:
        out_cols[p.name] = cols[p.name] if p.name in cols else p.sample(n, rng)
    frame = pd.DataFrame(out_cols)
    frame["weight"] = np.asarray(w, float) / np.sum(w)
    return frame


def _fact_samples(out: Path, t: int | None):
    """(weights, DataFrame of simulated facts) of the accepted particles of generation ``t`` (last if None)."""
    import pandas as pd

    h = _history(out)
    w, stats = h.get_weighted_sum_stats(t=h.max_t if t is None else t)
    return np.asarray(w, float), pd.DataFrame(stats)


def interval_table(cfg: CalibrationConfig, post, not_informed: list[str], moved: dict[str, list[str]]) -> list[dict]:
    rows = []
    w = post["weight"].to_numpy(float)
    for p in cfg.priors:
        lo, hi = p.quantiles(Q)
        vals = np.array([p.encode(v) for v in post[p.name]], float)
        plo, phi = weighted_quantile(vals, w, Q)
        plo, phi = p.decode(plo) if p.discrete else float(plo), p.decode(phi) if p.discrete else float(phi)
        shrink = None
        if p.kind != "choice":
            prior_w = float(hi) - float(lo)
            shrink = 1.0 - (float(phi) - float(plo)) / prior_w if prior_w > 0 else None
        probs = None
        if p.kind == "choice":
            probs = {str(v): float(w[vals == i].sum() / w.sum()) for i, v in enumerate(p.domain)}
        rows.append({"parameter": p.name, "prior": p.describe(), "reason": p.reason, "prior_low": lo,
                     "prior_high": hi, "post_low": plo, "post_high": phi, "shrink": shrink,
                     "post_median": float(weighted_quantile(vals, w, [0.5])[0]) if not p.discrete else None,
                     "informed": p.name not in not_informed, "moves": moved.get(p.name, []),
                     "probabilities": probs})
    return rows


def _v(x) -> str:
    if isinstance(x, bool) or isinstance(x, str):
        return str(x)
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3g}"
    return f"{x:.4g}"


def _num(x: float, unit: str) -> str:
    if not np.isfinite(x):
        return "-"
    if unit in ("share", "share of income"):
        return f"{x * 100:.2f}%"
    return f"{x:,.4g}"


def write_outputs(out: Path, cfg: CalibrationConfig, manifest: dict, informed: list[Prior], *,
                  figures: bool = True) -> None:
    """Write the posterior, the facts' fit, the report and the figures of a calibration folder."""
    post = posterior_frame(out, cfg, informed)
    import pyarrow as pa

    atomic.write_parquet(pa.Table.from_pandas(post, preserve_index=False), out / "posterior.parquet")
    not_informed = manifest.get("not_informed", [])
    rows = interval_table(cfg, post, not_informed, manifest.get("moved", {}))
    have_db = bool(informed) and (out / "abc.db").exists()
    fact_rows = []
    w_last = stats_last = None
    if have_db:
        w_last, stats_last = _fact_samples(out, None)
    for f in cfg.facts:
        lo = med = hi = np.nan
        inside = None
        if stats_last is not None and f.key in stats_last:
            lo, med, hi = weighted_quantile(stats_last[f.key].to_numpy(float), w_last, [0.05, 0.5, 0.95])
            blo, bhi = f.band()
            inside = bool(hi >= blo and lo <= bhi)
        fact_rows.append({"fact": f.fact, "key": f.key, "year": f.year or "data", "published": f.value,
                          "uncertainty": f.scale, "tolerance_kind": f.tolerance_kind, "unit": f.unit,
                          "predictive_p5": lo, "predictive_median": med, "predictive_p95": hi,
                          "overlaps_accepted_band": inside, "source": f.source, "fitted_by": f.fitted_by})
    import pandas as pd

    atomic.write_csv(pd.DataFrame(fact_rows), out / "facts.csv")
    fig_paths = []
    if figures:
        from .figures import make_figures

        fig_paths = make_figures(out, cfg, post, rows, fact_rows, have_db)
    _write_md(out, cfg, manifest, rows, fact_rows, fig_paths)


def _write_md(out: Path, cfg, manifest, rows, fact_rows, fig_paths) -> None:
    gens = manifest.get("generations", [])
    informed = [r for r in rows if r["informed"]]
    blind = [r for r in rows if not r["informed"]]
    pinned = [r for r in informed if r["shrink"] is not None and r["shrink"] >= 0.5]
    lines = [f"# Calibration `{cfg.name}`: what the record pins down and what it does not", ""]
    if cfg.description:
        lines += [cfg.description, ""]
    n_gen = len(gens)
    lines += [
        f"ABC-SMC (pyabc) on `{cfg.scenario}` over the years its {len(cfg.facts)} calibration facts name; "
        f"{cfg.particles} particles, {n_gen} generation{'s' if n_gen != 1 else ''}"
        + (f" (final threshold {gens[-1]['epsilon']:.3g}: the root mean square of the facts' deviations in units of "
           "their stated uncertainty)" if gens else "") + f"; root seed {cfg.seed}. Status: {manifest.get('status')}.",
        "",
        "- **Pinned down by the record** (90% interval at least halved): "
        + (", ".join(f"`{r['parameter']}`" for r in pinned) or "none") + ".",
        "- **Informed but not pinned down**: "
        + (", ".join(f"`{r['parameter']}`" for r in informed if r not in pinned) or "none") + ".",
        "- **Not informed by the record** (they move none of the facts: they act only in years or channels with "
        "no published figure; the prior is carried forward unchanged, and every result they drive must say so): "
        + (", ".join(f"`{r['parameter']}`" for r in blind) or "none") + ".",
        "",
        "| parameter | prior | prior 90% | posterior 90% | interval shrank by | informed by | reason for the prior |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["probabilities"] is not None:
            post = ", ".join(f"{k} {v:.0%}" for k, v in r["probabilities"].items())
        else:
            post = f"{_v(r['post_low'])} to {_v(r['post_high'])}"
        shrink = "-" if r["shrink"] is None else f"{r['shrink']:.0%}"
        by = ", ".join(r["moves"][:4]) + (" ..." if len(r["moves"]) > 4 else "") if r["informed"] else \
            "**not informed by the record** (prior carried forward unchanged)"
        prior90 = "-" if r["probabilities"] is not None else f"{_v(r['prior_low'])} to {_v(r['prior_high'])}"
        lines.append(f"| `{r['parameter']}` | {r['prior']} | {prior90} | "
                     f"{post} | {shrink} | {by} | {r['reason'].replace('|', '/')} |")
    lines += ["", "A parameter's interval shrinks only as far as the facts see it; a shrink near 0 means the "
              "record is silent on it even though it moves a fact. Posterior draws (`commissim compare --posterior "
              f"{out}`, `validate --posterior`, `sweep`/`discover`/`search --posterior`) carry every parameter, the "
              "uninformed ones at their prior.", "", "## Fit to the facts", "",
              "The accepted particles' simulated facts (posterior predictive, 5-95% of the weighted particles) "
              "against the published figure and its stated uncertainty.", "",
              "| fact | year | published ± uncertainty | posterior predictive median [5-95%] | overlaps the accepted band | already fitted by | source |",
              "|---|---|---|---|---|---|---|"]
    for r in fact_rows:
        side = {"max": "at most", "min": "at least"}.get(r["tolerance_kind"], "")
        pub = (f"{side} " if side else "") + f"{_num(r['published'], r['unit'])} ± {_num(r['uncertainty'], r['unit'])}"
        pred = (f"{_num(r['predictive_median'], r['unit'])} [{_num(r['predictive_p5'], r['unit'])}, "
                f"{_num(r['predictive_p95'], r['unit'])}]")
        ok = {True: "yes", False: "**no**", None: "-"}[r["overlaps_accepted_band"]]
        lines.append(f"| {r['fact']} | {r['year']} | {pub} | {pred} | {ok} | {r['fitted_by'] or '-'} | "
                     f"{r['source'].replace('|', '/')} |")
    fitted = [r for r in fact_rows if r["fitted_by"]]
    if fitted:
        lines += ["", f"{len(fitted)} of these facts were already used to set a seed input (`already fitted by`, "
                  "from seeds/calibration.csv's `fitted_by`). The posterior is conditional on those inputs as "
                  "fitted: a parameter this calibration pins down through such a fact is pinned relative to them "
                  "(e.g. a series fitted to a margin at a parameter's default keeps the parameter near that default). "
                  "Refitting those inputs jointly is not done here."]
    lines += ["", "## Generations", "",
              "| generation | threshold | accepted | candidates needed | acceptance rate | runs simulated | seconds | runs/s | peak memory (MB) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for g in gens:
        rss = g.get("max_rss_mb")
        lines.append(f"| {g['generation']} | {g['epsilon']:.4g} | {g['accepted']} | {g['evaluations']} | "
                     f"{g['acceptance_rate']:.1%} | {g['simulated']} | {g['seconds']:.1f} | {g['sims_per_second']:.1f} | "
                     f"{'-' if rss is None else f'{rss:,.0f}'} |")
    if gens:
        sims = sum(g["simulated"] for g in gens)
        secs = sum(g["seconds"] for g in gens)
        lines += ["", f"{sims:,} model runs in {secs:.0f} s ({sims / max(secs, 1e-9):.1f} runs/s) on "
                  f"{manifest.get('executor', 'the executor')}; runs past a generation's last accepted particle are "
                  "counted in `runs simulated`, not in the acceptance rate."]
    if fig_paths:
        lines += ["", "## Figures", ""]
        for p in fig_paths:
            lines.append(f"![{p.stem}]({p.relative_to(out).as_posix()})")
    lines += ["", "Files: `posterior.parquet` (one row per particle: a column per parameter and `weight`), "
              "`facts.csv`, `abc.db` (pyabc's history of every generation), `manifest.json`.", ""]
    atomic.write_text(out / "calibration.md", "\n".join(lines))
