"""Figures of a sweep's analysis (PNG, matplotlib's Agg backend): one per scenario and outcome.

The figure's kind comes from the method's record (:mod:`.methods`): ``bars`` (S1 and ST
with their intervals: Sobol, FAST), ``morris`` (the mu*-sigma plot and the mu* ranking) and
``correlation`` (PRCC bars and Spearman points: LHS); Sobol second-order indices as a heat map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import atomic
from .methods import Method

__all__ = ["figure_indices", "figure_s2"]


def _subtitle(sweep: dict, scen: str, d: int) -> str:
    spec = sweep["spec"]
    info = sweep["scenarios"][scen]
    return (f"{scen}: {spec['method']} n={spec['n']}, {d} parameters, {info['points'][1]} points x "
            f"{spec['seeds']} seed(s) = {info['points'][1] * spec['seeds']} runs, {spec['years']} years")


def _bars(ax, table, title: str, conf_level: float):
    t = table.iloc[::-1]  # largest at the top
    y = np.arange(len(t))
    h = 0.38
    ax.barh(y + h / 2, t["ST"], h, xerr=t["ST_conf"], color="#1f77b4", ecolor="#333333", capsize=2,
            label="total effect ST")
    ax.barh(y - h / 2, t["S1"], h, xerr=t["S1_conf"], color="#ff7f0e", ecolor="#333333", capsize=2,
            label="first order S1")
    ax.set_yticks(y, t["parameter"])
    ax.axvline(0, color="black", lw=0.8)
    right = np.nanmax(np.maximum(t["ST"] + t["ST_conf"], t["S1"] + t["S1_conf"]).to_numpy())
    span = max(float(right), 0.05)
    for yi, st, s1, cst, cs1 in zip(y, t["ST"], t["S1"], t["ST_conf"], t["S1_conf"]):
        x = max(st + cst, s1 + cs1, 0) + 0.015 * span
        ax.text(x, yi, f"ST {st:.3f}  S1 {s1:.3f}", va="center", fontsize=8, color="#222222")
    left = min(0.0, float(np.nanmin((t["S1"] - t["S1_conf"]).to_numpy())))
    ax.set_xlim(left - 0.02 * span, right + 0.32 * span)
    ax.set_xlabel(f"share of output variance (bars: {int(conf_level * 100)}% bootstrap interval)")
    ax.set_title(title, fontsize=12, fontweight="bold")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)


def _morris(fig, table, outcome: str, conf_level: float, d: int):
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    ax1.scatter(table["mu_star"], table["sigma"], color="#1f77b4", zorder=3)
    top = max(float(table["mu_star"].max()), 1e-12) * 1.1
    xs = np.array([0, top])
    for k, style in ((0.1, ":"), (0.5, "--"), (1.0, "-")):
        ax1.plot(xs, k * xs, style, color="grey", lw=0.8, label=f"sigma/mu* = {k}")
    for _, r in table.iterrows():
        ax1.annotate(r["parameter"], (r["mu_star"], r["sigma"]), xytext=(4, 3), textcoords="offset points", fontsize=8)
    ax1.set_xlabel("mu* (mean |elementary effect| across the whole range)")
    ax1.set_ylabel("sigma (spread: interactions or non-linearity)")
    ax1.set_title(f"Morris mu*-sigma: {outcome}", fontsize=12, fontweight="bold")
    ax1.set_xlim(0, top)
    ax1.set_ylim(0, max(float(table["sigma"].max()), 0.1 * top) * 1.2)
    ax1.legend(fontsize=8, loc="upper left")
    ax1.grid(alpha=0.3)
    t = table.iloc[::-1]
    ax2.barh(np.arange(d), t["mu_star"], xerr=t["mu_star_conf"], color="#1f77b4", ecolor="#333", capsize=2)
    ax2.set_yticks(np.arange(d), t["parameter"])
    ax2.set_xlabel(f"mu* ({int(conf_level * 100)}% bootstrap interval)")
    ax2.set_title("ranking by mu*", fontsize=11)
    ax2.grid(axis="x", alpha=0.3)


def _correlation(ax, table, outcome: str, conf_level: float, d: int):
    t = table.iloc[::-1]
    y = np.arange(d)
    err = np.vstack([t["prcc"] - t["prcc_low"], t["prcc_high"] - t["prcc"]]).clip(min=0)
    ax.barh(y, t["prcc"], xerr=err, color=np.where(t["prcc"] >= 0, "#d62728", "#1f77b4"), ecolor="#333",
            capsize=2, label="partial rank correlation (PRCC)")
    ax.scatter(t["spearman"], y, color="black", marker="D", s=18, zorder=3, label="Spearman rank correlation")
    ax.set_yticks(y, t["parameter"])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel(f"correlation with the outcome (bars: {int(conf_level * 100)}% Fisher-z interval)")
    ax.set_title(f"LHS rank correlations: {outcome}", fontsize=12, fontweight="bold")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)


def figure_indices(method: Method, table, outcome: str, sweep: dict, scen: str, settings: dict, path: Path) -> Path:
    """The method's figure of one (scenario, outcome) table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = len(table)
    cl = float(settings["conf_level"])
    if method.figure == "morris":
        fig = plt.figure(figsize=(15, max(5.5, 1.2 + 0.42 * d)))
        _morris(fig, table, outcome, cl, d)
    else:
        fig, ax = plt.subplots(figsize=(9, 1.2 + 0.42 * d))
        if method.figure == "bars":
            _bars(ax, table, f"{method.name.capitalize()} indices: {outcome} ({scen})", cl)
        else:
            _correlation(ax, table, outcome, cl, d)
    fig.suptitle(_subtitle(sweep, scen, d), fontsize=9, color="#444444", y=0.995)
    fig.tight_layout()
    atomic.save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def figure_s2(s2, outcome: str, names: list[str], sweep: dict, scen: str, path: Path) -> Path:
    """Sobol second-order indices of one (scenario, outcome) as a heat map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = len(names)
    M = np.full((d, d), np.nan)
    pos = {n: i for i, n in enumerate(names)}
    for r in s2.itertuples():
        M[pos[r.parameter_1], pos[r.parameter_2]] = r.S2
    fig, ax = plt.subplots(figsize=(2 + 0.55 * d, 1.5 + 0.5 * d))
    im = ax.imshow(M, cmap="viridis")
    ax.set_xticks(range(d), names, rotation=60, ha="right")
    ax.set_yticks(range(d), names)
    fig.colorbar(im, ax=ax, label="S2")
    ax.set_title(f"Sobol second-order indices: {outcome}", fontweight="bold")
    fig.suptitle(_subtitle(sweep, scen, d), fontsize=9, color="#444444", y=0.995)
    fig.tight_layout()
    atomic.save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path
