"""The calibration's figures: marginal posteriors against priors, a pair plot of the most correlated
parameters, and the fit of every fact."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import atomic

__all__ = ["make_figures"]


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(*args, **kwargs)


def make_figures(out: Path, cfg, post, rows, fact_rows, have_db: bool) -> list[Path]:
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [_marginals(folder / "marginals.png", cfg, post, rows)]
    pair = _pairs(folder / "pairs.png", cfg, post, rows)
    if pair is not None:
        paths.append(pair)
    if have_db:
        paths.append(_facts(folder / "facts.png", fact_rows))
    return paths


def _marginals(path: Path, cfg, post, rows) -> Path:
    n = len(cfg.priors)
    cols = min(4, n)
    nrows = int(np.ceil(n / cols))
    fig = _figure(figsize=(3.6 * cols, 2.6 * nrows + 0.6))
    axes = np.atleast_1d(fig.subplots(nrows, cols)).ravel()
    w = post["weight"].to_numpy(float)
    for ax, p, r in zip(axes, cfg.priors, rows):
        if p.discrete:
            idx = np.arange(len(p.domain))
            prior = p.probabilities()
            vals = np.array([p.encode(v) for v in post[p.name]])
            postp = np.array([w[vals == i].sum() for i in idx]) / w.sum()
            ax.bar(idx - 0.2, prior, width=0.4, color="#bbbbbb", label="prior")
            ax.bar(idx + 0.2, postp, width=0.4, color="#1f77b4", label="posterior")
            ax.set_xticks(idx)
            ax.set_xticklabels([str(v) for v in p.domain], fontsize=7)
            ax.set_ylabel("probability", fontsize=7)
            ax.set_ylim(0, 1)
        else:
            x = post[p.name].to_numpy(float)
            ax.hist(x, bins=25, range=(p.low, p.high), weights=w, density=True, color="#1f77b4", alpha=0.7,
                    label="posterior")
            grid = np.linspace(p.low, p.high, 200)
            ax.plot(grid, p.frozen().pdf(grid), color="#555555", lw=1.2, label="prior")
            ax.set_xlim(p.low, p.high)
            ax.set_ylim(bottom=0)
            ax.set_ylabel("density", fontsize=7)
        tag = "" if r["informed"] else " (not informed)"
        shrink = "" if r["shrink"] is None else f", 90% interval -{r['shrink']:.0%}" if r["shrink"] >= 0 else \
            f", 90% interval +{-r['shrink']:.0%}"
        ax.set_title(f"{p.name}{tag}{shrink}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Calibration '{cfg.name}': posterior (blue) against prior (grey), {len(post)} particles",
                 fontsize=10)
    fig.tight_layout()
    return atomic.save_figure(fig, path, dpi=100)


def _weighted_corr(x, y, w) -> float:
    w = w / w.sum()
    mx, my = (w * x).sum(), (w * y).sum()
    cov = (w * (x - mx) * (y - my)).sum()
    sx, sy = np.sqrt((w * (x - mx) ** 2).sum()), np.sqrt((w * (y - my) ** 2).sum())
    return float(cov / (sx * sy)) if sx > 0 and sy > 0 else 0.0


def _pairs(path: Path, cfg, post, rows):
    names = [r["parameter"] for r in rows if r["informed"] and cfg.prior(r["parameter"]).kind != "choice"]
    if len(names) < 2:
        return None
    w = post["weight"].to_numpy(float)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pairs.append((abs(_weighted_corr(post[a].to_numpy(float), post[b].to_numpy(float), w)), a, b))
    pairs.sort(reverse=True)
    top = sorted({n for _c, a, b in pairs[:3] for n in (a, b)}, key=names.index)[:4]
    k = len(top)
    fig = _figure(figsize=(2.6 * k, 2.6 * k))
    axes = np.atleast_2d(fig.subplots(k, k))
    size = 4 + 40 * w / w.max()
    for i, a in enumerate(top):
        for j, b in enumerate(top):
            ax = axes[i, j]
            pa, pb = cfg.prior(a), cfg.prior(b)
            if i == j:
                ax.hist(post[a].to_numpy(float), bins=20, range=(pa.low, pa.high), weights=w, color="#1f77b4")
                ax.set_xlim(pa.low, pa.high)
            elif i > j:
                ax.scatter(post[b].to_numpy(float), post[a].to_numpy(float), s=size, alpha=0.3, color="#1f77b4",
                           edgecolor="none")
                ax.set_xlim(pb.low, pb.high)
                ax.set_ylim(pa.low, pa.high)
                c = _weighted_corr(post[b].to_numpy(float), post[a].to_numpy(float), w)
                ax.set_title(f"r = {c:+.2f}", fontsize=7)
            else:
                ax.set_visible(False)
            if i == k - 1:
                ax.set_xlabel(b, fontsize=7)
            if j == 0:
                ax.set_ylabel(a, fontsize=7)
            ax.tick_params(labelsize=6)
    fig.suptitle("The most correlated parameters in the posterior (weighted particles; axes span the prior)",
                 fontsize=9)
    fig.tight_layout()
    return atomic.save_figure(fig, path, dpi=100)


def _facts(path: Path, fact_rows) -> Path:
    n = len(fact_rows)
    fig = _figure(figsize=(9, 0.45 * n + 1.5))
    ax = fig.subplots()
    ys = np.arange(n)[::-1]
    clip = 5.0
    for y, r in zip(ys, fact_rows):
        s, v = r["uncertainty"], r["published"]
        lo = -1.0 if r["tolerance_kind"] != "max" else -clip - 0.3
        hi = 1.0 if r["tolerance_kind"] != "min" else clip + 0.3
        ax.barh(y, hi - lo, left=lo, height=0.6, color="#d9ead3", edgecolor="none")
        a, m, b = ((r[k] - v) / s for k in ("predictive_p5", "predictive_median", "predictive_p95"))
        colour = "#2e7d32" if r["overlaps_accepted_band"] else "#c62828"
        ax.plot([np.clip(a, -clip, clip), np.clip(b, -clip, clip)], [y, y], color=colour, lw=2)
        ax.plot(np.clip(m, -clip, clip), y, "o", color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{r['fact'][:55]} ({r['year']})" for r in fact_rows], fontsize=7)
    ax.set_xlim(-clip - 0.3, clip + 0.3)
    ax.set_xlabel("posterior predictive minus published, in units of the fact's stated uncertainty")
    ax.set_title("Fit of every fact: accepted particles' median and 5-95% (green band: within the stated "
                 "uncertainty)", fontsize=9)
    fig.tight_layout()
    return atomic.save_figure(fig, path, dpi=100)
