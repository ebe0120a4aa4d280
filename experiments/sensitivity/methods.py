"""The SALib methods: one record per method, holding everything about it in one place.

Each :class:`Method` holds its default settings (``[options]`` of a sweep file), what the
sample size ``n`` means and how many rows it gives, its checks of ``n`` and the options
(and the Sobol power-of-2 warning), its sampler, its analyser (a ranked table per
outcome), the columns it reports and the kind of figure that shows them.

- ``sobol``: first-order ``S1`` and total ``ST`` indices (and ``S2`` when the sample was drawn
  with second order and it is asked for), each with a bootstrap confidence interval;
- ``morris``: ``mu``, ``mu*`` (with its confidence interval) and ``sigma``; as the analysis uses
  the unit sample, ``mu*`` is the mean absolute effect of moving a parameter across its range;
- ``fast``: ``S1`` and ``ST`` (extended FAST) with confidence intervals;
- ``lhs``: Spearman rank correlation and partial rank correlation (PRCC) of each parameter
  with the outcome, with Fisher-z confidence intervals, ranked by |PRCC|.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SweepAnalysisError, SweepConfigError

__all__ = ["Method", "Column", "METHODS", "method"]


@dataclass(frozen=True)
class Column:
    """One reported quantity: its label in the console summary and the report, and its format."""

    label: str  # console summary, e.g. "ST"
    header: str  # report table header, e.g. "ST ± CI"
    fmt: str  # str.format over the table row, e.g. "{ST:.3f} ± {ST_conf:.3f}"


@dataclass(frozen=True)
class Method:
    name: str
    options: dict[str, Any]  # the method's settings ([options] of a sweep file) and their defaults
    size_rule: str  # what n means
    rows: Callable[[int, int, bool], int]  # rows of the sample for n, D parameters, second order
    sampler: Callable[..., np.ndarray]  # (problem, n, options, seed, second_order) -> unit sample X
    analyser: Callable[..., tuple[Any, Any]]  # (problem, X, Y, settings, second_order, seed) -> (table, S2)
    columns: tuple[Column, ...]  # what the console summary and the report show per parameter
    figure: str  # "bars" (S1 and ST), "morris" (mu*-sigma plot and ranking) or "correlation"
    min_params: int = 1
    note: str = ""  # said once in the report when the method is used

    def check(self, n: int, options: dict[str, Any], where: str) -> None:
        """Refuse an ``n`` or option value the method cannot use."""
        if self.name == "fast" and n <= 4 * options["M"] ** 2:
            raise SweepConfigError(f"{where}: 'n' value {n!r} is not allowed; expected n > 4 M^2 = "
                                   f"{4 * options['M'] ** 2} for method 'fast' (M = {options['M']})")
        if self.name == "morris" and options["optimal_trajectories"] is not None:
            ot = options["optimal_trajectories"]
            if isinstance(ot, bool) or not isinstance(ot, int) or ot < 2:
                raise SweepConfigError(f"{where}: options: 'optimal_trajectories' value {ot!r} is not allowed; "
                                       "expected a whole number >= 2")
            if ot >= n:
                raise SweepConfigError(f"{where}: options: 'optimal_trajectories' value {ot!r} is not allowed; "
                                       f"expected fewer than n = {n} trajectories")

    def size_warning(self, n: int) -> str | None:
        """The warning for a sample size that runs but is likely unintended (Sobol: not a power of 2)."""
        if self.name == "sobol" and n & (n - 1):
            lo = 1 << (n.bit_length() - 1)
            return (f"Sobol sample size n = {n} is not a power of 2: the Sobol' sequence loses its balance "
                    f"properties and the indices converge more slowly; use n = {lo} or {lo * 2}")
        return None

    def sample(self, problem: dict, n: int, options: dict[str, Any], seed: int, second_order: bool) -> np.ndarray:
        """The unit-hypercube sample (deterministic in ``seed``), its shape checked."""
        with warnings.catch_warnings():
            # SALib's own power-of-2 warning is replaced by size_warning (said once per sweep).
            warnings.filterwarnings("ignore", message=".*power of 2.*")
            warnings.filterwarnings("ignore", message=".*[Cc]onvergence properties.*")
            X = np.asarray(self.sampler(problem, n, options, seed, second_order), dtype=float)
        if self.name != "morris" or options["optimal_trajectories"] is None:
            assert X.shape == (self.rows(n, problem["num_vars"], second_order), problem["num_vars"]), X.shape
        return X

    def analyse(self, problem: dict, X: np.ndarray, Y: np.ndarray, settings: dict[str, Any], second_order: bool,
                seed: int) -> tuple[Any, Any]:
        """(ranked table with a ``rank`` column, second-order table or None)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message="FAST confidence intervals")  # said in the report instead
            table, s2 = self.analyser(problem, X, Y, settings, second_order, seed)
        table = table.reset_index(drop=True)
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        return table, s2

    @property
    def index_columns(self) -> tuple[str, ...]:
        """The columns of the method's table besides ``rank`` and ``parameter``."""
        return {"sobol": ("S1", "S1_conf", "ST", "ST_conf"), "fast": ("S1", "S1_conf", "ST", "ST_conf"),
                "morris": ("mu_star", "mu_star_conf", "sigma", "mu"),
                "lhs": ("prcc", "prcc_low", "prcc_high", "spearman", "spearman_low", "spearman_high")}[self.name]

    def summary(self, row) -> str:
        """One parameter's indices on one console line."""
        r = row.to_dict() if hasattr(row, "to_dict") else dict(row)
        return "   ".join(f"{c.label} {c.fmt.format(**r)}" for c in self.columns)

    def cells(self, row) -> str:
        """One parameter's indices as Markdown table cells."""
        r = row.to_dict() if hasattr(row, "to_dict") else dict(row)
        return " | ".join(c.fmt.format(**r) for c in self.columns)

    @property
    def header(self) -> str:
        return " | ".join(c.header for c in self.columns)


# --------------------------------------------------------------------------- samplers
def _sobol_sample(problem, n, o, seed, second_order):
    from SALib.sample import sobol

    return sobol.sample(problem, n, calc_second_order=second_order, scramble=bool(o["scramble"]), seed=seed)


def _morris_sample(problem, n, o, seed, second_order):
    from SALib.sample import morris

    return morris.sample(problem, n, num_levels=int(o["num_levels"]), optimal_trajectories=o["optimal_trajectories"],
                         seed=seed)


def _lhs_sample(problem, n, o, seed, second_order):
    from SALib.sample import latin

    return latin.sample(problem, n, seed=seed)


def _fast_sample(problem, n, o, seed, second_order):
    from SALib.sample import fast_sampler

    return fast_sampler.sample(problem, n, M=int(o["M"]), seed=seed)


# --------------------------------------------------------------------------- analysers
def _sobol_analyse(problem, X, Y, settings, second_order, seed):
    import pandas as pd
    from SALib.analyze import sobol

    d = problem["num_vars"]
    drawn_second = bool(settings["second_order"])
    n_rows = Y.shape[0]
    if second_order and not drawn_second:
        raise SweepAnalysisError(
            "second-order indices were asked for, but the sample was drawn without them "
            f"(second_order = false: {n_rows} rows = N(D+2) with D = {d}); analysing it with "
            "calc_second_order=True can fit the row count by accident and gives wrong indices. "
            "Draw a new sample with second_order = true (in the sweep file, or --second-order) into a new folder"
        )
    step = 2 * d + 2 if drawn_second else d + 2
    if n_rows % step:
        raise SweepAnalysisError(f"the Sobol sample has {n_rows} rows, not a multiple of {step} "
                                 f"({'2D+2' if drawn_second else 'D+2'} with D = {d}): sample and results do not match")
    if drawn_second and not second_order:  # first- and total-order only: keep A, AB_i and B of each block
        keep = np.concatenate([np.arange(b, b + d + 1) for b in range(0, n_rows, step)] +
                              [np.arange(b + step - 1, b + step) for b in range(0, n_rows, step)])
        keep.sort()
        Y = Y[keep]
    Si = sobol.analyze(problem, Y, calc_second_order=second_order, num_resamples=int(settings["num_resamples"]),
                       conf_level=float(settings["conf_level"]), seed=seed)
    table = pd.DataFrame({
        "parameter": problem["names"],
        "S1": Si["S1"], "S1_conf": Si["S1_conf"], "ST": Si["ST"], "ST_conf": Si["ST_conf"],
    })
    table = table.sort_values("ST", ascending=False, kind="stable")
    s2 = None
    if second_order:
        names = problem["names"]
        rows = [{"parameter_1": names[i], "parameter_2": names[j], "S2": Si["S2"][i, j], "S2_conf": Si["S2_conf"][i, j]}
                for i in range(d) for j in range(i + 1, d)]
        s2 = pd.DataFrame(rows).sort_values("S2", ascending=False, kind="stable").reset_index(drop=True)
    return table, s2


def _morris_analyse(problem, X, Y, settings, second_order, seed):
    import pandas as pd
    from SALib.analyze import morris

    Si = morris.analyze(problem, X, Y, num_resamples=int(settings["num_resamples"]),
                        conf_level=float(settings["conf_level"]), num_levels=int(settings["num_levels"]), seed=seed)
    table = pd.DataFrame({
        "parameter": problem["names"], "mu_star": Si["mu_star"], "mu_star_conf": Si["mu_star_conf"],
        "sigma": Si["sigma"], "mu": Si["mu"],
    })
    return table.sort_values("mu_star", ascending=False, kind="stable"), None


def _fast_analyse(problem, X, Y, settings, second_order, seed):
    import pandas as pd
    from SALib.analyze import fast

    Si = fast.analyze(problem, Y, M=int(settings["M"]), num_resamples=int(settings["num_resamples"]),
                      conf_level=float(settings["conf_level"]), seed=seed)
    table = pd.DataFrame({"parameter": problem["names"], "S1": Si["S1"], "S1_conf": Si["S1_conf"],
                          "ST": Si["ST"], "ST_conf": Si["ST_conf"]})
    return table.sort_values("ST", ascending=False, kind="stable"), None


def _rank(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return np.apply_along_axis(rankdata, 0, a) if a.ndim == 2 else rankdata(a)


def _prcc(Xr: np.ndarray, yr: np.ndarray) -> np.ndarray:
    """Partial rank correlation of each column with y (inputs already ranked)."""
    n, d = Xr.shape
    out = np.empty(d)
    ones = np.ones((n, 1))
    for j in range(d):
        Z = np.hstack([ones, np.delete(Xr, j, axis=1)])
        bx, *_ = np.linalg.lstsq(Z, Xr[:, j], rcond=None)
        by, *_ = np.linalg.lstsq(Z, yr, rcond=None)
        rx, ry = Xr[:, j] - Z @ bx, yr - Z @ by
        den = math.sqrt(float(rx @ rx) * float(ry @ ry))
        out[j] = float(rx @ ry) / den if den > 0 else np.nan
    return out


def _spearman(Xr: np.ndarray, yr: np.ndarray) -> np.ndarray:
    xc = Xr - Xr.mean(axis=0)
    yc = yr - yr.mean()
    den = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc[:, None]).sum(axis=0) / den


def _fisher_ci(r: np.ndarray, n: int, controls: int, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Confidence interval of a (partial) correlation by Fisher's z: atanh(r) +- z / sqrt(n - 3 - controls)."""
    from scipy.stats import norm

    dof = n - 3 - controls
    if dof <= 0:
        nan = np.full_like(r, np.nan)
        return nan, nan
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    half = norm.ppf(0.5 + conf_level / 2) / math.sqrt(dof)
    return np.tanh(z - half), np.tanh(z + half)


def _lhs_analyse(problem, X, Y, settings, second_order, seed):
    import pandas as pd

    Xr, yr = _rank(X), _rank(Y)
    rho, prcc = _spearman(Xr, yr), _prcc(Xr, yr)
    n, d = X.shape
    cl = float(settings["conf_level"])
    p_lo, p_hi = _fisher_ci(prcc, n, d - 1, cl)
    r_lo, r_hi = _fisher_ci(rho, n, 0, cl)
    table = pd.DataFrame({
        "parameter": problem["names"], "prcc": prcc, "prcc_low": p_lo, "prcc_high": p_hi,
        "spearman": rho, "spearman_low": r_lo, "spearman_high": r_hi,
    })
    return table.reindex(table["prcc"].abs().sort_values(ascending=False, kind="stable").index), None


# --------------------------------------------------------------------------- the records
_S1_ST = (Column("ST", "ST ± CI", "{ST:.3f} ± {ST_conf:.3f}"), Column("S1", "S1 ± CI", "{S1:.3f} ± {S1_conf:.3f}"))

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("sobol", {"num_resamples": 1000, "conf_level": 0.95, "scramble": True},
               "base sample N: N(D+2) rows, N(2D+2) with second order; N a power of 2",
               lambda n, d, second: n * (2 * d + 2) if second else n * (d + 2),
               _sobol_sample, _sobol_analyse, _S1_ST, "bars"),
        Method("morris", {"num_levels": 4, "optimal_trajectories": None, "num_resamples": 1000, "conf_level": 0.95},
               "trajectories: N(D+1) rows", lambda n, d, second: n * (d + 1),
               _morris_sample, _morris_analyse,
               (Column("mu*", "mu* ± CI", "{mu_star:.4g} ± {mu_star_conf:.3g}"), Column("sigma", "sigma", "{sigma:.4g}")),
               "morris", min_params=2),
        Method("lhs", {"conf_level": 0.95}, "N rows", lambda n, d, second: n,
               _lhs_sample, _lhs_analyse,
               (Column("PRCC", "PRCC [CI]", "{prcc:+.3f} [{prcc_low:+.3f}, {prcc_high:+.3f}]"),
                Column("Spearman", "Spearman", "{spearman:+.3f}")),
               "correlation"),
        Method("fast", {"M": 4, "num_resamples": 1000, "conf_level": 0.95}, "N(D) rows; N > 4 M^2 (M = 4: N >= 65)",
               lambda n, d, second: n * d, _fast_sample, _fast_analyse, _S1_ST, "bars",
               note="FAST confidence intervals come from SALib's bootstrap, which is known to be unreliable for "
                    "FAST (SALib issue 649): treat them as indicative only"),
    )
}


def method(name: str) -> Method:
    return METHODS[name]
