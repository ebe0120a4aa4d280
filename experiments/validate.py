"""``commissim validate``: the model against the facts it is fitted to and the facts it is only compared with.

Runs the ``as_happened`` scenario from the 2022-23 base year to 2025-26 for many seeds through the batch
engine (``commissim.model.targets.target_run`` records every quantity ``seeds/calibration.csv`` and
``seeds/validation.csv`` name, for the years they name), then writes to the results folder:

- ``validation.md``: two tables, calibration (fitted: every row must pass) and validation (not fitted:
  reported pass or fail), each row with the model's mean and its 5-95% range over the runs, the
  published figure, the tolerance, the verdict, the year and the source;
- ``validation.csv``: the same rows, machine-readable;
- ``figures/validation.png``: each fact's model value against its published figure and accepted range;
- the engine's usual ``manifest.json`` and tables (one row per run: every quantity as a column).

From Python::

    from commissim.experiments.validate import validate
    folder = validate(seeds=30)

**Posterior predictive checks** (``posterior=`` a ``commissim calibrate`` folder, ``--posterior DIR``): the runs
are ``draws`` parameter sets drawn from the posterior (weighted resampling) crossed with ``seeds`` seeds each
(the same seeds for every draw), so the spread of a fact is the parameters' and the seeds' together. Every fact
then gets its 90% predictive interval (5th to 95th percentile of the runs) and whether the published figure
falls in it (a one-sided fact: whether the interval reaches its side); the report names the parameters the
record does not inform (their prior is carried forward), since they drive these runs too.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .batch import load_results, run_batch
from .model_runs import model_runner

__all__ = ["validate", "validation_table", "write_validation", "DEFAULT_OUT", "DEFAULT_SEEDS", "DEFAULT_DRAWS",
           "SCENARIO"]

DEFAULT_OUT = "results/validate"
DEFAULT_SEEDS = 30
DEFAULT_ROOT_SEED = 20230401
SCENARIO = "as_happened"  # the path the NHS took
YEARS = 3  # 2023-24, 2024-25, 2025-26: the years with published figures
DEFAULT_DRAWS = 100  # posterior draws for posterior predictive checks


def _runner():
    from commissim.model.targets import target_run

    runner = model_runner(func=target_run)
    # target_run returns quantities only: no per-provider vector, no series
    from dataclasses import replace

    return replace(runner, vectors=())


def validate(seeds: int = DEFAULT_SEEDS, out: str | Path = DEFAULT_OUT, root_seed: int = DEFAULT_ROOT_SEED,
             workers: int | None = None, executor: Any = "processes", scheduler: str | None = None,
             overwrite: bool = False, *, progress: bool | None = None, command: str | None = None,
             log: Callable[[str], None] | None = None, posterior: str | Path | None = None,
             draws: int = DEFAULT_DRAWS) -> Path:
    """Run ``as_happened`` 2022-23 to 2025-26 for ``seeds`` seeds; write the validation report into ``out``.

    ``posterior``: a ``commissim calibrate`` folder; the runs are then ``draws`` posterior draws x ``seeds``
    seeds each, and the report gives every fact's 90% predictive interval (posterior predictive checks)."""
    say = log or (lambda msg: print(msg, file=sys.stderr))
    out = Path(out)
    design: list[dict[str, Any]] = [{"scenario": SCENARIO}]
    meta: dict[str, Any] = {"command": command, "scenario": SCENARIO}
    if posterior is not None:
        from .posterior import load_posterior

        post = load_posterior(posterior)
        design = [{"scenario": SCENARIO, **d} for d in post.draws(draws, root_seed)]
        meta.update({"posterior": str(post.folder), "draws": draws, "posterior_note": post.note(),
                     "not_informed": post.not_informed})
    result = run_batch(design, runner=_runner(), out=out, replicates=seeds, years=YEARS,
                       root_seed=root_seed, executor=executor, workers=workers, scheduler=scheduler,
                       series=False, overwrite=overwrite, progress=progress, label="validate",
                       meta=meta, log=say, common_seeds=posterior is not None)
    if result.n_done:
        write_validation(out)
    return out


def validation_table(summaries):
    """One row per target: the model's mean and 5-95% range, the published figure, tolerance and verdict."""
    import pandas as pd

    from commissim.model.targets import load_targets

    rows = []
    for t in load_targets():
        vals = summaries[t.key].dropna().to_numpy(float) if t.key in summaries else np.array([])
        mean = float(vals.mean()) if len(vals) else float("nan")
        lo, hi = (float(np.quantile(vals, 0.05)), float(np.quantile(vals, 0.95))) \
            if len(vals) else (float("nan"), float("nan"))  # with a posterior: the 90% predictive interval
        band = t.band()
        in90 = None
        if len(vals):
            in90 = bool(lo <= band[1] and hi >= band[0]) if t.tolerance_kind in ("max", "min") else \
                bool(lo <= t.value <= hi)
        rows.append({
            "table": "calibration" if t.file == "calibration.csv" else "validation",
            "fact": t.fact, "year": t.year or "data", "quantity": t.quantity, "unit": t.unit,
            "published": t.value, "tolerance": t.tolerance, "tolerance_kind": t.tolerance_kind,
            "accepted_low": band[0], "accepted_high": band[1],
            "model_mean": mean, "model_p5": lo, "model_p95": hi, "runs": int(len(vals)),
            "verdict": ("pass" if t.passes(mean) else
                        "known miss" if "known miss" in getattr(t, "fitted_by", "") else "FAIL"),
            "in_90_predictive": in90,
            "fitted_by": t.fitted_by, "source": t.source, "confidence": t.confidence, "note": t.note,
        })
    return pd.DataFrame(rows)


def _posterior_section(df, manifest: dict) -> list[str]:
    """Posterior predictive checks: each fact's 90% predictive interval and whether the published figure is in it."""
    val = df[df.table == "validation"]
    inside = int(val.in_90_predictive.fillna(False).astype(bool).sum())
    lines = [
        f"**Posterior predictive checks.** The runs are {manifest.get('draws')} parameter sets drawn from the "
        f"posterior in `{manifest.get('posterior')}` (weighted resampling) x {manifest['config']['replicates']} "
        "seed(s) each, the same seeds for every draw: a fact's spread is the parameters' and the seeds' together. "
        f"{manifest.get('posterior_note', '')}.",
        "",
        f"Validation facts (never fitted) whose published figure falls in the 90% predictive interval: {inside} of "
        f"{len(val)}.",
        "",
        "| table | fact | year | published | 90% predictive interval | published inside |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in pd_rows(df):
        ok = {True: "yes", False: "**no**"}.get(r["in_90_predictive"], "-")
        lines.append(f"| {r['table']} | {r['fact']} | {r['year']} | {_tol_pub(r)} | "
                     f"{with_unit(r['model_p5'], r['unit'])} to {with_unit(r['model_p95'], r['unit'])} | {ok} |")
    lines += ["", "The tables below are those of a run at fixed parameters, computed over the same runs.", ""]
    return lines


def pd_rows(df):
    order = list(df[df.table == "validation"].iterrows()) + list(df[df.table == "calibration"].iterrows())
    return order


def _tol_pub(r) -> str:
    side = {"max": "at most ", "min": "at least "}.get(r["tolerance_kind"], "")
    return side + with_unit(r["published"], r["unit"])


def with_unit(x: float, unit: str) -> str:
    """A fact's value with its unit: ``£24.78bn``, ``£1,234m``, ``38.20%``, ``12 patients``, ``3,400 (count)``."""
    text = _num(x, unit)
    if text == "-" or unit in ("share", "share of income"):
        return text + (" of income" if unit == "share of income" and text != "-" else "")
    money = {"GBP bn": "bn", "GBP m": "m", "GBP": ""}
    if unit in money:
        sign = "-" if text.startswith("-") else ""
        return f"{sign}£{text.lstrip('-')}{money[unit]}"
    return f"{text} {unit}" if unit and unit != "count" else text


def _num(x: float, unit: str) -> str:
    if not np.isfinite(x):
        return "-"
    if unit in ("share", "share of income"):
        return f"{x * 100:.2f}%"
    if abs(x) >= 1e5:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:,.1f}"
    return f"{x:.4g}"


def _tol(r) -> str:
    kind, t, unit = r["tolerance_kind"], r["tolerance"], r["unit"]
    if kind == "rel":
        return f"±{t:.0%}"
    if kind == "abs":
        return f"±{_num(t, unit)}" if t else "exact"
    return ("at most" if kind == "max" else "at least") + (f" (±{_num(t, unit)})" if t else "")


def _md_table(df, fitted: bool) -> str:
    head = ("| fact | year | published | tolerance | model mean [5-95% of runs] | verdict | "
            + ("fitted by | " if fitted else "") + "source (confidence) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for _, r in df.iterrows():
        u = "" if not isinstance(r["unit"], str) else r["unit"]
        cells = [r["fact"], r["year"], with_unit(r["published"], u), _tol(r),
                 f"{with_unit(r['model_mean'], u)} [{with_unit(r['model_p5'], u)}, "
                 f"{with_unit(r['model_p95'], u)}]", f"**{r['verdict']}**"]
        if fitted:
            cells.append(r["fitted_by"])
        src = r["source"] + (f" ({r['confidence']})" if r["confidence"] else "")
        if r["note"]:
            src += f". Note: {r['note']}"
        cells.append(src)
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def write_validation(folder: str | Path) -> Path:
    """Write ``validation.md``, ``validation.csv`` and ``figures/validation.png`` from a validate folder."""
    folder = Path(folder)
    res = load_results(folder, series=False)
    df = validation_table(res.summaries)
    atomic.write_text(folder / "validation.csv", df.to_csv(index=False))
    cal, val = df[df.table == "calibration"], df[df.table == "validation"]
    n_runs = int(df["runs"].max()) if len(df) else 0
    fig_path = _figure(df, folder / "figures" / "validation.png")
    from .batch.manifest import read_manifest

    manifest = read_manifest(folder)
    ppc = _posterior_section(df, manifest) if manifest.get("posterior") else []
    text = [
        "# commissim: calibration and validation",
        "",
        *ppc,
        f"Scenario `{SCENARIO}` (the path the NHS took), 2022-23 to 2025-26, {n_runs} runs (seeds). "
        "Model values are means over the runs, with the 5th and 95th percentile of runs in brackets. "
        "A verdict compares the mean with the published figure and its tolerance.",
        "",
        "**One rule for every tolerance**, from the source's precision as its confidence states it: a figure the "
        "source states exactly (a count of named bodies, lines or centres, or a value the tables hold by "
        "construction) must match within its stated rounding; any other is accepted within a band set by its "
        "confidence: high 5%, medium 10%, low 20% of the value for money, cases and counts of bodies; the same "
        "bands in points of a share for shares of trusts or systems (high 0.025, medium 0.05, low 0.10); a tenth "
        "of that for margins (share of income). One-sided tests (at least / at most) have no band. The catchment "
        "pattern must beat a model that gives every trust the observed mean. Each validation row's note says "
        "whether it is independent of every input, and why.",
        "",
        f"- **Calibration** ({len(cal)} facts, {int((cal.verdict == 'pass').sum())} pass, "
        f"{int((cal.verdict == 'known miss').sum())} known misses): the inputs are fitted "
        "to these, or they hold by construction (the `fitted by` column says which). They show the model "
        "reproduces what it was built from; they prove nothing about its behaviour. A known miss is a fact used to "
        "build an input that the model does not reproduce; its row says why.",
        f"- **Validation** ({len(val)} facts, {int((val.verdict == 'pass').sum())} pass, "
        f"{int((val.verdict != 'pass').sum())} fail): the model is not fitted to these; they are reported "
        "as they come out, pass or fail.",
        "",
        f"![calibration and validation]({fig_path.relative_to(folder).as_posix()})",
        "",
        "## Validation (not fitted)",
        "",
        _md_table(val, fitted=False),
        "",
        "## Calibration (fitted or by construction)",
        "",
        _md_table(cal, fitted=True),
        "",
        "Sources and confidence are those of `seeds/calibration.csv` and `seeds/validation.csv`; the model's "
        "inputs and their sources are in `seeds/README.md` and the ODD (`model/ODD.md`).",
        "",
    ]
    path = folder / "validation.md"
    atomic.write_text(path, "\n".join(text))
    return path


def _figure(df, path: Path) -> Path:
    """Each fact: the model's deviation from the published figure in units of its tolerance (the accepted band is
    -1 to +1, one-sided facts accept all of one side), with the 5-95% range of runs; calibration and validation
    side by side."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    path.parent.mkdir(parents=True, exist_ok=True)
    tables = [("Calibration (fitted)", df[df.table == "calibration"]), ("Validation (not fitted)",
                                                                        df[df.table == "validation"])]
    n = max(len(t) for _, t in tables)
    fig = Figure(figsize=(15, 0.3 * n + 1.8))
    axes = fig.subplots(1, 2)
    clip = 5.0

    def unit_of(r) -> float:
        t, v = float(r["tolerance"]), float(r["published"])
        tol = t * abs(v) if r["tolerance_kind"] == "rel" else t
        if tol > 0:
            return tol
        return 0.1 * abs(v) if v != 0 else 1e-3  # exact facts: a tenth of the figure (or 0.1 point of a share)

    for ax, (title, t) in zip(axes, tables):
        t = t.reset_index(drop=True)
        ys = np.arange(len(t))[::-1]
        for y, (_, r) in zip(ys, t.iterrows()):
            u, v = unit_of(r), float(r["published"])
            lo = (r["accepted_low"] - v) / u if np.isfinite(r["accepted_low"]) else -clip - 1
            hi = (r["accepted_high"] - v) / u if np.isfinite(r["accepted_high"]) else clip + 1
            ax.barh(y, max(hi - lo, 0.08), left=lo if hi > lo else lo - 0.04, height=0.6, color="#d9ead3",
                    edgecolor="none")
            colour = "#2e7d32" if r["verdict"] == "pass" else "#c62828"
            m, a, b = ((float(r[k]) - v) / u for k in ("model_mean", "model_p5", "model_p95"))
            ax.plot([np.clip(a, -clip, clip), np.clip(b, -clip, clip)], [y, y], color=colour, lw=1.5)
            ax.plot(np.clip(m, -clip, clip), y, "o", color=colour, ms=5)
            if abs(m) > clip:
                ax.annotate(f"{m:+.0f}", (np.sign(m) * clip, y), fontsize=7, ha="right" if m > 0 else "left",
                            va="bottom", color=colour)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(ys)
        ax.set_yticklabels([f"{textwrap.shorten(f, 50, placeholder='…', break_on_hyphens=False)} ({yr})" for f, yr in zip(t.fact, t.year)],
                           fontsize=7)
        ax.set_xlim(-clip - 0.3, clip + 0.3)
        ax.set_xlabel("model minus published, in tolerances (accepted -1 to +1)")
        ax.set_title(f"{title}: {int((t.verdict == 'pass').sum())} of {len(t)} pass", fontsize=10)
        ax.grid(axis="x", color="#eeeeee")
    fig.suptitle("commissim against published figures, as_happened 2022-23 to 2025-26 (dot: mean over runs; "
                 "line: 5-95% of runs; green: accepted range)", fontsize=10)
    fig.subplots_adjust(left=0.24, right=0.98, wspace=0.9, bottom=max(0.5 / (0.3 * n + 1.8), 0.05), top=0.93)
    return atomic.save_figure(fig, path, dpi=110)
