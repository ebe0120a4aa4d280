"""How far a sweep's indices can be trusted: per outcome and parameter, the problems an analyst must
know before reading a ranking, each said once, in words, in ``sensitivity.md`` and on the console.

Checked for every (scenario, outcome):

- **no variation**: the outcome takes one value at every sample point (within 1e-9 of its size):
  indices are undefined (a variance share of zero variance), never reported as zeros;
- **interval wider than the estimate**: an index whose confidence interval's half-width exceeds the
  index itself cannot be told apart from zero (Sobol and FAST S1 and ST, Morris mu*, LHS PRCC);
- **outside [0, 1] beyond the interval**: a Sobol or FAST S1 or ST below 0 or above 1 even at the
  far end of its interval is impossible as a share of variance: sampling error dominates;
- **too small to rank**: the analysis is repeated on the first half of the sample (n/2: the first
  N/2 Sobol blocks, the first n/2 Morris trajectories, the first n/2 LHS rows); when the order of
  the leading parameters changes between n/2 and n, or their intervals overlap, the ranking is not
  settled, and the n that would separate them is estimated from the intervals (which shrink as
  1/sqrt(n)).

Each problem gives one :class:`Caveat` (naming every parameter it concerns) and a per-parameter
flag in the tables (column ``flags``). A Sobol n that is not a power of 2 is said once per sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Caveat", "Reliability", "SayOnce", "is_constant", "check", "NO_VARIATION", "TOP"]

NO_VARIATION = "no variation: indices undefined"
TOP = 3  # the leading parameters whose order the convergence check asks about
# Per method: the index a ranking reads, its interval's half-width (or bounds) and the indices to check.
_KEY = {"sobol": "ST", "fast": "ST", "morris": "mu_star", "lhs": "prcc"}


@dataclass(frozen=True)
class Caveat:
    """One problem with one (scenario, outcome), in words for an analyst."""

    scenario: str
    outcome: str
    kind: str  # "no_variation" | "wide_interval" | "out_of_range" | "too_small_to_rank" | "sample_size" | "method"
    text: str
    parameters: tuple[str, ...] = ()

    def line(self) -> str:
        where = f"{self.scenario} / {self.outcome}: " if self.outcome else ""
        return where + self.text


@dataclass
class Reliability:
    """The caveats of one (scenario, outcome) and each parameter's flags."""

    caveats: list[Caveat] = field(default_factory=list)
    flags: dict[str, list[str]] = field(default_factory=dict)
    needed_n: int | None = None

    def flag(self, parameter: str, text: str) -> None:
        self.flags.setdefault(parameter, []).append(text)


class SayOnce:
    """A message sink that passes each distinct message on once (a warning is printed once)."""

    def __init__(self, say):
        self.say = say
        self.seen: set[str] = set()

    def __call__(self, msg: str) -> None:
        if msg not in self.seen:
            self.seen.add(msg)
            self.say(msg)


def is_constant(y: np.ndarray) -> bool:
    """The outcome takes one value at every point (differences within 1e-9 of its size are noise)."""
    y = np.asarray(y, dtype=float)
    return bool(np.ptp(y) <= 1e-9 * max(1.0, float(np.abs(y).max(initial=0.0))))


def _names(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _power_of_two_at_least(x: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(x, 1.0))))


def _intervals(method: str, table) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Index -> (estimate, half-width of its interval) for the indices a method reports."""
    if method in ("sobol", "fast"):
        return {"ST": (table["ST"].to_numpy(float), table["ST_conf"].to_numpy(float)),
                "S1": (table["S1"].to_numpy(float), table["S1_conf"].to_numpy(float))}
    if method == "morris":
        return {"mu*": (table["mu_star"].to_numpy(float), table["mu_star_conf"].to_numpy(float))}
    est = table["prcc"].to_numpy(float)
    half = np.maximum(table["prcc_high"].to_numpy(float) - est, est - table["prcc_low"].to_numpy(float))
    return {"PRCC": (est, half)}


def _half_sample(method: str, problem: dict, X: np.ndarray, Y: np.ndarray, settings: dict):
    """The first half of the sample as a valid sample of the same method (None when there is none)."""
    d = problem["num_vars"]
    rows = len(Y)
    if method == "sobol":
        step = 2 * d + 2 if settings.get("second_order") else d + 2
        blocks = rows // step
        if blocks < 4:
            return None
        k = (blocks // 2) * step
        return X[:k], Y[:k]
    if method == "morris":
        per = d + 1
        trajectories = rows // per
        if trajectories < 4:
            return None
        k = (trajectories // 2) * per
        return X[:k], Y[:k]
    if method == "lhs":
        if rows < 2 * (d + 4):
            return None
        return X[: rows // 2], Y[: rows // 2]
    return None  # FAST: a half sample is not a FAST sample


def check(m, problem: dict, X: np.ndarray, Y: np.ndarray, table, settings: dict, seed: int, *, n: int,
          scenario: str, outcome: str) -> Reliability:
    """The caveats of one (scenario, outcome) whose ranked ``table`` the method ``m`` computed from ``X``, ``Y``."""
    out = Reliability()
    names = list(table["parameter"])
    conf = int(round(100 * float(settings.get("conf_level", 0.95))))

    # Intervals wider than the estimates.
    wide: dict[str, list[str]] = {}
    for index, (est, half) in _intervals(m.name, table).items():
        for p, e, h in zip(names, est, half):
            if np.isfinite(h) and h > abs(e):
                wide.setdefault(p, []).append(index)
    key_est, key_half = _intervals(m.name, table)[{"sobol": "ST", "fast": "ST", "morris": "mu*"}.get(m.name, "PRCC")]
    for p, e, h in zip(names, key_est, key_half):
        if abs(e) < 1e-12 and abs(h) < 1e-12:  # an exact zero: moving it never changed the outcome
            out.flag(p, "no effect: the outcome never changed with it")
    for p in names:
        if p in wide:
            out.flag(p, f"interval wider than the estimate ({', '.join(wide[p])})")
    if wide:
        params = [p for p in names if p in wide]
        which = " or ".join(sorted({i for v in wide.values() for i in v}, reverse=True))
        out.caveats.append(Caveat(
            scenario, outcome, "wide_interval",
            f"the {conf}% interval of {which} is wider than the estimate itself for {len(params)} of the "
            f"{len(names)} parameters ({_names(params)}): "
            + ("its index cannot be told apart from zero at this sample size (n = {n}), so neither its size nor its "
               "rank means anything" if len(params) == 1 else
               "these indices cannot be told apart from zero at this sample size (n = {n}), so neither their size "
               "nor their order means anything").format(n=n), tuple(params)))

    # Variance shares outside [0, 1] even at the far end of their interval.
    if m.name in ("sobol", "fast"):
        bad = []
        for p, row in zip(names, table.itertuples()):
            for index in ("S1", "ST"):
                e, h = getattr(row, index), getattr(row, f"{index}_conf")
                if np.isfinite(e) and np.isfinite(h) and (e - h > 1 or e + h < 0):
                    bad.append(f"{p} {index} {e:.2f} ± {h:.2f}")
                    out.flag(p, f"{index} outside [0, 1] beyond its interval")
        if bad:
            params = tuple(dict.fromkeys(b.split(" ")[0] for b in bad))
            one = len(bad) == 1
            out.caveats.append(Caveat(
                scenario, outcome, "out_of_range",
                f"{'; '.join(bad)}: a share of variance lies between 0 and 1, and {'this estimate lies' if one else
                'these estimates lie'} outside it even at the far end of {'its' if one else 'their'} interval, so "
                f"sampling error dominates {'it' if one else 'them'} (too few samples, or an outcome with a few "
                f"extreme values): do not read {'it as a share' if one else 'them as shares'} of variance, and "
                "treat this outcome's other indices with the same caution", params))

    # Convergence of the ranking: n/2 against n.
    key = _KEY[m.name]
    half = _half_sample(m.name, problem, X, Y, {**settings})
    top = min(TOP, len(names))
    if half is not None and top >= 2:
        Xh, Yh = half
        if is_constant(Yh):
            order_half = None
        else:
            th, _ = m.analyse(problem, Xh, Yh, settings, False, seed)
            vals = th[key].abs() if key == "prcc" else th[key]
            order_half = list(th.assign(_k=vals).sort_values("_k", ascending=False, kind="stable")["parameter"][:top])
        order_full = names[:top]
        est, halfw = _intervals(m.name, table)["PRCC" if key == "prcc" else ("mu*" if key == "mu_star" else "ST")]
        est = np.abs(est) if key == "prcc" else est
        overlap, needed = [], []
        for i in range(top - 1):
            gap = est[i] - est[i + 1]
            spread = halfw[i] + halfw[i + 1]
            if np.isfinite(spread) and spread > gap:
                overlap.append(f"{names[i]} with {names[i + 1]}")
                needed.append(n * (spread / gap) ** 2 if gap > 1e-12 else math.inf)
        moved = order_half is not None and order_half != order_full
        if moved or overlap:
            n_half = (len(Yh) * n) // len(Y)
            bits = []
            if moved:
                bits.append(f"the leading {top} change between n = {n_half} ({', '.join(order_half)}) and n = {n} "
                            f"({', '.join(order_full)})")
            elif order_half is None:
                bits.append(f"the outcome does not vary in the first half of the sample (n = {n_half})")
            if overlap:
                bits.append(f"the intervals of neighbours in the ranking overlap ({', '.join(overlap)})")
            finite = [x for x in needed if np.isfinite(x)]
            cap = 64 * n
            if needed and len(finite) == len(needed) and max(finite) <= cap:
                target = round(max(finite), 6)  # 64.0000001 from float arithmetic is 64
                target = _power_of_two_at_least(target) if m.name == "sobol" else int(math.ceil(target))
                out.needed_n = max(target, 2 * n)
                need = (f"separating them needs about n = {out.needed_n} (intervals shrink as 1/√n)"
                        + (", a power of 2" if m.name == "sobol" else ""))
            elif needed:
                out.needed_n = None
                need = (f"their estimates are so close that separating them would need n > {cap} (64 times this "
                        "sample): treat them as about equally important")
            else:
                out.needed_n = 4 * n
                need = f"try n = {4 * n} and check that the order holds"
            for p in order_full:
                out.flag(p, "rank not settled at this n")
            out.caveats.append(Caveat(
                scenario, outcome, "too_small_to_rank",
                f"the sample is too small to rank the parameters: {'; '.join(bits)}. Report the leading parameters "
                f"as a group, not an order; {need}", tuple(order_full)))
    elif m.name == "fast" and top >= 2:
        out.caveats.append(Caveat(scenario, outcome, "too_small_to_rank",
                                  "no convergence check of the ranking for FAST (half a FAST sample is not a FAST "
                                  "sample): repeat the sweep with 2n and compare the order before relying on it"))
    return out


def constant_caveat(scenario: str, outcome: str, y: np.ndarray, names: list[str]) -> Caveat:
    value = float(np.asarray(y, dtype=float)[0])
    return Caveat(scenario, outcome, "no_variation",
                  f"{NO_VARIATION}. The outcome is {value:g} at every sample point, so no parameter moves it "
                  "within the ranges swept: a sensitivity index is a share of the outcome's variance, which is zero "
                  "here, so none is reported (not the same as every index being 0). Widen the ranges, run more "
                  "years, or choose an outcome that varies", tuple(names))


def to_dict(c: Caveat) -> dict[str, Any]:
    return {"scenario": c.scenario, "outcome": c.outcome, "kind": c.kind, "parameters": ", ".join(c.parameters),
            "warning": c.text}
