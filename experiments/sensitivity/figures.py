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


def _flagged(table, words: str, index: str | None = None) -> np.ndarray:
    """Parameters whose flags (column ``flags``, see :mod:`.reliability`) say ``words`` (about ``index``)."""
    flags = table["flags"] if "flags" in table else [""] * len(table)
    out = []
    for f in flags:
        hit = [part for part in str(f).split("; ") if words in part]
        out.append(bool(hit) and (index is None or any(f"({index}" in h or f" {index})" in h or f", {index}" in h
                                                       for h in hit)))
    return np.array(out, dtype=bool)


def _limits(lows, highs, *, left_room: float = 0.02, right_room: float = 0.02) -> tuple[float, float]:
    """Axis limits holding every whisker end (and zero), with room on each side."""
    lo = min(0.0, float(np.nanmin(lows))) if len(lows) else 0.0
    hi = max(0.0, float(np.nanmax(highs))) if len(highs) else 1.0
    span = max(hi - lo, 1e-9)
    return lo - left_room * span, hi + right_room * span


def _bars(ax, table, title: str, conf_level: float, rel=None):
    t = table.iloc[::-1]  # largest at the top
    y = np.arange(len(t))
    h = 0.38
    wide = {"ST": _flagged(t, "interval wider", "ST"), "S1": _flagged(t, "interval wider", "S1")}
    for index, dy, colour, label in (("ST", h / 2, "#1f77b4", "total effect ST"),
                                     ("S1", -h / 2, "#ff7f0e", "first order S1")):
        ax.barh(y + dy, t[index], h, xerr=t[f"{index}_conf"], color=colour, ecolor="#333333", capsize=2,
                label=label)
        for yi, e, bad in zip(y, t[index], wide[index]):
            if bad:  # interval wider than the estimate: drawn hatched and pale
                ax.barh(yi + dy, e, h, color="white", edgecolor=colour, hatch="////", lw=0.8, zorder=2.5)
    ax.set_yticks(y, t["parameter"])
    ax.axvline(0, color="black", lw=0.8)
    lows = np.concatenate([(t["ST"] - t["ST_conf"]).to_numpy(float), (t["S1"] - t["S1_conf"]).to_numpy(float)])
    highs = np.concatenate([(t["ST"] + t["ST_conf"]).to_numpy(float), (t["S1"] + t["S1_conf"]).to_numpy(float)])
    left, right = _limits(lows, highs, left_room=0.03, right_room=0.36)
    span = right - left
    out_of_range = _flagged(t, "outside [0, 1]")
    for yi, st, s1, cst, cs1, bad in zip(y, t["ST"], t["S1"], t["ST_conf"], t["S1_conf"], out_of_range):
        x = max(st + cst, s1 + cs1, 0) + 0.012 * span
        ax.text(x, yi, f"ST {st:.3f}  S1 {s1:.3f}" + ("  (!) outside [0, 1]" if bad else ""), va="center",
                fontsize=8, color="#b00020" if bad else "#222222")
    if highs.max() > 1 or lows.min() < 0:  # where a share of variance cannot be
        if highs.max() > 1:
            ax.axvspan(1, right, color="#b00020", alpha=0.06, lw=0)
        if lows.min() < 0:
            ax.axvspan(left, 0, color="#b00020", alpha=0.06, lw=0)
    ax.set_xlim(left, right)
    ax.set_ylim(-0.7, len(t) - 0.3)
    ax.set_xlabel(f"share of output variance (bars: {int(conf_level * 100)}% bootstrap interval; shaded: "
                  "outside [0, 1], impossible for a share)")
    ax.set_title(title, fontsize=12, fontweight="bold")
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    if any(w.any() for w in wide.values()):
        handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="////"))
        labels.append("interval wider than the estimate")
    ax.legend(handles, labels, loc="lower right", fontsize=8.5)


def _morris(fig, table, outcome: str, conf_level: float, d: int, rel=None):
    from commissim.model.maps import place_labels

    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    wide = _flagged(table, "interval wider")
    mu, conf, sigma = (table[c].to_numpy(float) for c in ("mu_star", "mu_star_conf", "sigma"))
    ax1.errorbar(mu, sigma, xerr=conf, fmt="none", ecolor="#999999", elinewidth=0.8, capsize=2, zorder=2)
    ax1.scatter(mu[~wide], sigma[~wide], color="#1f77b4", zorder=3, label="mu* clear of zero")
    if wide.any():
        ax1.scatter(mu[wide], sigma[wide], facecolors="white", edgecolors="#1f77b4", zorder=3,
                    label="interval of mu* wider than mu*")
    left, right = _limits(mu - conf, mu + conf, right_room=0.12)
    left = min(left, 0.0)
    top = max(float(sigma.max()), 0.1 * right, 1e-12) * 1.25
    xs = np.array([0, right])
    for k, style in ((0.1, ":"), (0.5, "--"), (1.0, "-")):
        ax1.plot(xs, k * xs, style, color="grey", lw=0.8, label=f"sigma/mu* = {k}")
    ax1.set_xlim(left, right)
    ax1.set_ylim(0, top)
    ax1.set_xlabel(f"mu* (mean |elementary effect| across the whole range; bars: {int(conf_level * 100)}% interval)")
    ax1.set_ylabel("sigma (spread: interactions or non-linearity)")
    ax1.set_title(f"Morris mu*-sigma: {outcome}", fontsize=12, fontweight="bold")
    ax1.legend(fontsize=7.5, loc="upper left")
    ax1.grid(alpha=0.3)
    fig.canvas.draw()  # final layout before placing labels
    order = np.argsort(-mu)
    place_labels(ax1, mu[order], sigma[order], list(table["parameter"].to_numpy()[order]), fontsize=7.5)
    t = table.iloc[::-1]
    tw = wide[::-1]
    ax2.barh(np.arange(d), t["mu_star"], xerr=t["mu_star_conf"], color=np.where(tw, "white", "#1f77b4"),
             edgecolor="#1f77b4", hatch=None, ecolor="#333", capsize=2)
    for yi, e, bad in zip(np.arange(d), t["mu_star"], tw):
        if bad:
            ax2.barh(yi, e, color="white", edgecolor="#1f77b4", hatch="////", lw=0.8, zorder=2.5)
    ax2.set_yticks(np.arange(d), t["parameter"])
    lo2, hi2 = _limits((t["mu_star"] - t["mu_star_conf"]).to_numpy(float),
                       (t["mu_star"] + t["mu_star_conf"]).to_numpy(float), left_room=0.03, right_room=0.05)
    ax2.set_xlim(lo2, hi2)
    ax2.axvline(0, color="black", lw=0.8)
    ax2.set_xlabel(f"mu* ({int(conf_level * 100)}% bootstrap interval; hatched: interval wider than mu*)")
    ax2.set_title("ranking by mu*", fontsize=11)
    ax2.grid(axis="x", alpha=0.3)


def _correlation(ax, table, outcome: str, conf_level: float, d: int, rel=None):
    t = table.iloc[::-1]
    y = np.arange(d)
    err = np.vstack([t["prcc"] - t["prcc_low"], t["prcc_high"] - t["prcc"]]).clip(min=0)
    wide = _flagged(t, "interval wider")
    ax.barh(y, t["prcc"], xerr=err, color=np.where(t["prcc"] >= 0, "#d62728", "#1f77b4"), ecolor="#333",
            capsize=2, label="partial rank correlation (PRCC)")
    for yi, e, bad in zip(y, t["prcc"], wide):
        if bad:
            ax.barh(yi, e, color="white", edgecolor="#555555", hatch="////", lw=0.8, zorder=2.5)
    ax.scatter(t["spearman"], y, color="black", marker="D", s=18, zorder=3, label="Spearman rank correlation")
    ax.set_yticks(y, t["parameter"])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel(f"correlation with the outcome (bars: {int(conf_level * 100)}% Fisher-z interval)")
    ax.set_title(f"LHS rank correlations: {outcome}", fontsize=12, fontweight="bold")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)


def figure_indices(method: Method, table, outcome: str, sweep: dict, scen: str, settings: dict, path: Path,
                   rel=None) -> Path:
    """The method's figure of one (scenario, outcome) table, with its reliability (``rel``: the checks of
    :mod:`.reliability`): flagged parameters hatched, impossible values marked, warnings in a footnote."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = len(table)
    cl = float(settings["conf_level"])
    notes = [c.text for c in (rel.caveats if rel is not None else [])]
    foot = 0.0
    if method.figure == "morris":
        fig = plt.figure(figsize=(15, max(5.5, 1.2 + 0.42 * d)))
        _morris(fig, table, outcome, cl, d, rel)
    else:
        fig, ax = plt.subplots(figsize=(10, 1.4 + 0.42 * d))
        if method.figure == "bars":
            _bars(ax, table, f"{method.name.capitalize()} indices: {outcome} ({scen})", cl, rel)
        else:
            _correlation(ax, table, outcome, cl, d, rel)
    fig.suptitle(_subtitle(sweep, scen, d), fontsize=9, color="#444444", y=0.995)
    if notes:
        import textwrap

        width = int(fig.get_figwidth() * 15)
        text = "\n".join(textwrap.fill(f"(!) {n}.", width) for n in notes)
        lines = text.count("\n") + 1
        foot = min(0.45, (lines * 0.135 + 0.12) / fig.get_figheight())
        fig.text(0.01, 0.005, text, fontsize=7.5, color="#b00020", va="bottom", ha="left")
    fig.tight_layout(rect=(0, foot, 1, 1))
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
