"""Scenario discovery (PRIM, CART) and robust policy search on synthetic problems with
known answers (experiments/discovery); no model runs.

The optional extra ``commissim[discovery]`` (EMA Workbench, scikit-learn, Optuna) is
part of ``.[dev]``, which ``make test`` installs. Locally these tests skip when it is
missing; under CI (``CI`` set) they fail instead, because CI must run them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_MISSING = [m for m in ("ema_workbench", "sklearn", "optuna") if importlib.util.find_spec(m) is None]
if _MISSING:
    _WHY = (f"the optional extra 'discovery' is not installed ({', '.join(_MISSING)} missing): "
            "pip install -e '.[dev]' (it includes commissim[discovery])")
    if os.environ.get("CI"):
        pytest.fail(f"{_WHY}; CI must run the discovery tests", pytrace=False)
    pytest.skip(_WHY, allow_module_level=True)

from commissim.experiments.discovery import (  # noqa: E402
    Constraint,
    DiscoveryError,
    DiscoveryWarning,
    Lever,
    Objective,
    cart_check,
    cases_of_interest,
    discover,
    find_box,
    knee_index,
    make_ensemble,
    search,
)
from commissim.experiments.discovery.figures import make_discovery_figures, make_search_figures  # noqa: E402
from commissim.experiments.discovery.prim import in_box  # noqa: E402
from commissim.experiments.discovery.report import discovery_report, search_report  # noqa: E402
from commissim.experiments.discovery.search import aggregate, pareto_mask  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- synthetic data


def planted(n=1000, seed=12345, flip=0.0):
    """Five uniform inputs; cases of interest: x1 > 0.6 and x2 < 0.3 (x3-x5 are noise)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.uniform(0, 1, n) for i in range(1, 6)})
    y = ((X["x1"] > 0.6) & (X["x2"] < 0.3)).to_numpy()
    if flip:
        y = y ^ (rng.uniform(0, 1, n) < flip)
    return X, y


@pytest.fixture(scope="module")
def planted_result():
    X, y = planted()
    return discover(X, y, case_label="the planted condition holds", units={"x1": "share"})


# --------------------------------------------------------------------------- PRIM


def test_prim_recovers_the_planted_box(planted_result):
    p = planted_result.prim
    assert p.chosen_by == "knee"
    assert set(p.restricted) == {"x1", "x2"}
    lim = {b.name: b for b in p.limits}
    assert lim["x1"].upper is None and abs(lim["x1"].lower - 0.6) <= 0.05
    assert lim["x2"].lower is None and abs(lim["x2"].upper - 0.3) <= 0.05
    assert p.coverage > 0.9 and p.density > 0.9
    assert lim["x1"].qp_lower < 1e-6 and lim["x2"].qp_upper < 1e-6
    # the box's own statistics agree with the runs its limits select
    inside = in_box(p.x, p.limits)
    assert inside.sum() == p.trajectory.loc[p.chosen, "n_runs"]
    assert p.y[inside].sum() == p.trajectory.loc[p.chosen, "n_cases"]
    assert p.density == pytest.approx(p.y[inside].mean())
    assert p.coverage == pytest.approx(p.y[inside].sum() / p.y.sum())


def test_finding_is_one_quotable_sentence(planted_result):
    p = planted_result.prim
    f = p.finding
    assert f.startswith("When x1 ≥ ") and " share and x2 ≤ " in f
    assert "the planted condition holds in " in f
    assert f"{round(100 * p.density)}% of runs (density)" in f
    assert f"{round(100 * p.coverage)}% of all such runs (coverage)" in f
    assert "\n" not in f and f.count(".") <= 3


def test_prim_with_label_noise_still_finds_the_box():
    X, y = planted(flip=0.02)  # 2% of runs mislabelled, inside and outside the box
    p = find_box(X, y)
    assert set(p.restricted) == {"x1", "x2"}
    lim = {b.name: b for b in p.limits}
    assert abs(lim["x1"].lower - 0.6) <= 0.05 and abs(lim["x2"].upper - 0.3) <= 0.05
    truth = ((X["x1"] > 0.6) & (X["x2"] < 0.3)).to_numpy()
    # as good as the planted box itself can be on noisy labels
    assert p.coverage >= y[truth].sum() / y.sum() - 0.02
    assert p.density > 0.9


def test_knee_rule_on_a_hand_made_trajectory():
    cov = [1.0, 0.95, 0.9, 0.6, 0.3]
    den = [0.2, 0.5, 0.85, 0.9, 0.95]
    assert knee_index(cov, den) == 2
    # equal distance above the chord: fewer restricted dimensions win, then higher coverage
    assert knee_index([1.0, 0.9, 0.9, 0.5], [0.1, 0.8, 0.8, 1.0], [0, 3, 2, 3]) == 2
    # a straight trade-off has no knee: the harmonic mean of coverage and density decides
    assert knee_index([1.0, 0.75, 0.5], [0.5, 0.75, 1.0]) == 1
    # a trajectory that never gets denser keeps the whole sample
    assert knee_index([1.0, 0.9], [0.4, 0.4]) == 0


def test_knee_picks_a_sensible_box_on_the_planted_problem(planted_result):
    p = planted_result.prim
    tr = p.trajectory
    last = tr.iloc[-1]
    # the knee keeps (nearly) all cases while the densest box gives some up
    assert p.coverage >= last["coverage"]
    assert p.density >= 0.95
    assert p.trajectory.loc[p.chosen, "res_dim"] == 2
    # no box beats it on both coverage and density
    better = (tr["coverage"] >= p.coverage) & (tr["density"] >= p.density) & (
        (tr["coverage"] > p.coverage) | (tr["density"] > p.density))
    assert not better.any()


def test_choosing_a_box_by_index(planted_result):
    p = planted_result.prim
    other = p.select(1)
    assert other.chosen == 1 and other.chosen_by == "requested"
    assert other.coverage == pytest.approx(p.trajectory.loc[1, "coverage"])
    assert len(other.limits) == p.trajectory.loc[1, "res_dim"]
    X, y = planted()
    assert find_box(X, y, box=3).chosen == 3
    n = len(p.trajectory)
    with pytest.raises(DiscoveryError, match=rf"box 999 is not on the peeling trajectory \(boxes 0-{n - 1}\)"):
        p.select(999)


def test_cart_recovers_the_same_split(planted_result):
    cart = planted_result.cart
    rule = cart.case_rules[0]
    conds = {(c.name, c.op): c.value for c in rule.conditions}
    assert set(conds) == {("x1", ">"), ("x2", "<=")}
    assert abs(conds[("x1", ">")] - 0.6) <= 0.05
    assert abs(conds[("x2", "<=")] - 0.3) <= 0.05
    assert cart.accuracy > 0.95 and cart.recall > 0.95
    assert planted_result.cart_agrees
    assert "x1" in cart.text and "class: case" in cart.text


def test_cart_rules_merge_splits_that_change_no_prediction():
    """A depth-3 tree splits the noise inside each side of x1 < 0.5; those splits predict nothing new,
    so the rules are the two halves (and the tree as fitted keeps its 8 leaves)."""
    rng = np.random.default_rng(3)
    n = 1000
    X = pd.DataFrame({"x1": rng.uniform(0, 1, n), "x2": rng.uniform(0, 1, n), "x3": rng.uniform(0, 1, n)})
    y = (X["x1"] < 0.5).to_numpy() ^ (rng.uniform(0, 1, n) < 0.05)
    cart = cart_check(X, y)
    assert cart.n_leaves == 8 and len(cart.rules) == 2
    assert [str(c) for c in cart.case_rules[0].conditions] == ["x1 <= 0.499"]
    assert sum(r.n_runs for r in cart.rules) == n


def test_categorical_and_bool_inputs_including_one_named_scenario():
    rng = np.random.default_rng(7)
    n = 1200
    X = pd.DataFrame({
        "x1": rng.uniform(0, 1, n),
        "x2": rng.uniform(0, 1, n),
        "scenario": rng.choice(["full_delegation", "nhse_direct", "hybrid", "regional"], n),
        "keep_national": rng.choice([True, False], n),
        "committees": rng.integers(1, 6, n),
    })
    y = ((X["x1"] > 0.5) & X["scenario"].isin(["full_delegation", "hybrid"]) & X["keep_national"]).to_numpy()
    res = discover(X, y)
    lim = {b.name: b for b in res.prim.limits}
    assert set(lim) == {"x1", "scenario", "keep_national"}
    assert set(lim["scenario"].categories) == {"full_delegation", "hybrid"}
    assert lim["keep_national"].categories == (True,)
    assert res.prim.kinds["committees"] == "int"
    assert res.prim.density > 0.9 and res.prim.coverage > 0.9
    assert "scenario is full_delegation or hybrid" in res.prim.finding
    assert "keep_national is True" in res.prim.finding
    names = {c.name for c in res.cart.case_rules[0].conditions}
    assert {"x1", "scenario", "keep_national"} <= names


def test_integer_inputs_get_whole_number_limits():
    """An integer input (e.g. withdrawal_rounds) is peeled and pasted without error; its limits are whole
    numbers and the box holds exactly the runs its limits say (EMA 3.0's integer paste fails on pandas 3)."""
    rng = np.random.default_rng(7)
    n = 1200
    X = pd.DataFrame({"k": rng.integers(1, 7, n), "x": rng.uniform(0, 1, n), "z": rng.uniform(0, 1, n)})
    y = ((X["k"] >= 4) & (X["x"] > 0.5)).to_numpy() ^ (rng.uniform(0, 1, n) < 0.03)
    for seed_box in (None, 0):
        res = find_box(X, y, box=seed_box)
        for b in res.boxes:
            for lim in b:
                if lim.name == "k":
                    assert lim.kind == "int"
                    assert all(v is None or isinstance(v, int) for v in (lim.lower, lim.upper))
    res = find_box(X, y)
    lim = {b.name: b for b in res.limits}
    assert lim["k"].lower == 4 and lim["k"].upper is None
    assert res.in_box.sum() == res.trajectory.loc[res.chosen, "n_runs"]


def test_threshold_and_direction_define_cases():
    y = np.array([0, 1, 2, 3, 4, 5, 6], dtype=float)
    assert cases_of_interest(y, 4, "above")[0].tolist() == [False] * 5 + [True] * 2
    assert cases_of_interest(y, 4, "at_least")[0].sum() == 3
    assert cases_of_interest(y, 2, "below")[0].sum() == 2
    assert cases_of_interest(y, 2, "<=")[0].sum() == 3
    X, _ = planted()
    outcome = pd.Series(X["x1"] * 10, name="providers_destabilised")
    p = find_box(X, outcome, threshold=8, direction="above")
    assert p.outcome == "providers_destabilised" and p.direction == ">" and p.threshold == 8
    assert p.case_label == "providers_destabilised is above 8"
    assert set(p.restricted) == {"x1"} and abs(p.limits[0].lower - 0.8) <= 0.05


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda X, y: (X, np.zeros(len(X), bool), {}), r"no run is a case of interest .*constant"),
        (lambda X, y: (X, np.ones(len(X), bool), {}), r"every run is a case of interest .*constant"),
        (lambda X, y: (X, np.full(len(X), 3.0), {"threshold": 3}), r"outcome 'outcome' is constant \(3 in all 1000 runs\)"),
        (lambda X, y: (X, X["x1"] * 10, {"threshold": 12}), r"threshold 12 is outside the observed range of 'x1' \[0\.\d+, 9\.9\d+\]"),
        (lambda X, y: (X, X["x1"] * 10, {"threshold": -1, "direction": "below"}), r"threshold -1 is outside the observed range"),
        (lambda X, y: (X, X["x1"] * 10, {}), r"outcome 'x1' is numeric: give a threshold"),
        (lambda X, y: (X, y, {"threshold": 1}), r"already boolean"),
        (lambda X, y: (X.assign(x3=X["x3"].where(X.index != 5)), y, {}), r"missing \(NaN\) values in x3 \(1 run\)"),
        (lambda X, y: (X, np.where(np.arange(len(X)) == 7, np.nan, X["x1"]), {"threshold": 0.5}), r"1 missing \(NaN\) values of 1000"),
        (lambda X, y: (X, y & (np.arange(len(X)) < 80), {}), r"too few runs for PRIM: \d+ cases of interest .* at least 20 and 20"),
        (lambda X, y: (X.iloc[:10], y, {}), r"inputs have 10 runs but outcome"),
        (lambda X, y: (X, X["x1"], {"threshold": 0.5, "direction": "sideways"}), r"direction 'sideways' is not one of"),
        (lambda X, y: (X.assign(when=pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(X)), "D")), y, {}),
         r"input 'when' has a type PRIM cannot use"),
    ],
)
def test_bad_input_gives_one_line_errors(make, pattern):
    X, y = planted()
    X2, y2, kw = make(X, y)
    with pytest.raises(DiscoveryError, match=pattern) as exc:
        find_box(X2, y2, **kw)
    _one_line(exc)


def test_threshold_at_the_maximum_leaves_no_case():
    X, _ = planted()
    out = X["x1"] * 10
    with pytest.raises(DiscoveryError, match=r"no run is a case of interest \(x1 > 9\.\d+ in none of 1000 runs\)"):
        find_box(X, out, threshold=float(out.max()))


def test_constant_input_is_dropped_with_a_warning():
    X, y = planted()
    X["fixed"] = 0.25
    with pytest.warns(DiscoveryWarning, match="constant input.*fixed"):
        res = discover(X, y)
    assert res.prim.dropped_inputs == ("fixed",)
    assert "fixed" not in res.prim.inputs and "fixed" not in res.cart.feature_names
    with pytest.raises(DiscoveryError, match="every input is constant"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DiscoveryWarning)
            find_box(pd.DataFrame({"a": np.ones(100), "b": np.zeros(100)}), np.arange(100) < 50)


def test_cart_check_alone_and_its_depth():
    X, y = planted()
    cart = cart_check(X, y, max_depth=1)
    assert cart.max_depth == 1 and cart.n_leaves == 2
    with pytest.raises(DiscoveryError, match="max_depth must be a positive integer"):
        cart_check(X, y, max_depth=0)


# --------------------------------------------------------------------------- search

U = np.linspace(0.0, 1.0, 20)  # the ensemble's uncertain condition; p90 (linear) is 0.9


class Evaluator:
    """cost = a; risk in member m = max(0, u_m - a) + (b - 0.5)^2. With p90(risk) <= 0.1 the
    cheapest feasible policy is a = 0.8, b = 0.5 (p90 over u is 0.9)."""

    def __init__(self, fail_on_call: int | None = None):
        self.calls: list[list[dict]] = []
        self.seeds: list[tuple] = []
        self.fail_on_call = fail_on_call

    def __call__(self, candidates, ensemble):
        self.calls.append([dict(c) for c in candidates])
        self.seeds.append(tuple((m.id, m.seed) for m in ensemble))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise KeyboardInterrupt("simulated interruption")
        rows = []
        for i, c in enumerate(candidates):
            for m in ensemble:
                risk = max(0.0, m.params["u"] - c["a"]) + (c["b"] - 0.5) ** 2
                rows.append({"candidate": i, "member": m.id, "cost": c["a"], "risk": risk})
        return pd.DataFrame(rows)

    @property
    def evaluated(self) -> list[tuple]:
        return [_key(c) for call in self.calls for c in call]


def _key(candidate: dict) -> tuple:
    return tuple(sorted(candidate.items()))


LEVERS = [Lever("a", 0.0, 1.0, unit="£m"), Lever("b", 0.0, 1.0)]
OBJECTIVES = [Objective("cost", "minimize"), Objective("risk", "minimize", aggregate="p90")]
CONSTRAINTS = [Constraint("risk", "<=", 0.1, aggregate="p90")]
ENSEMBLE = [{"u": float(u)} for u in U]


def run_search(evaluate, **kw):
    args = dict(constraints=CONSTRAINTS, cost="cost", seed=3)
    args.update(kw)
    return search(LEVERS, ENSEMBLE, OBJECTIVES, evaluate, **args)


@pytest.fixture(scope="module")
def optimum():
    ev = Evaluator()
    return run_search(ev, budget=300, batch_size=20), ev


def test_search_finds_the_known_optimum(optimum):
    res, ev = optimum
    best = res.cheapest
    assert best is not None
    assert abs(best["a"] - 0.8) <= 0.02
    assert best["p90_risk"] <= 0.1 and best["mean_cost"] == pytest.approx(best["a"])
    # nothing feasible is cheaper than the known optimum (checks the p90 aggregate too)
    feas = res.candidates[res.candidates["feasible"]]
    assert (feas["a"] >= 0.8 - 1e-9).all()
    assert (res.candidates.loc[~res.candidates["feasible"], "p90_risk"] > 0.1).all()
    assert best["candidate"] in set(res.pareto["candidate"])
    assert "The cheapest policy that meets p90(risk) <= 0.1 across 20 ensemble members is a = 0.8" in res.finding


def test_search_uses_common_random_numbers_and_whole_batches(optimum):
    res, ev = optimum
    assert len(ev.calls) == 15 and len(res.candidates) == 300
    assert len(set(ev.seeds)) == 1  # every batch sees the same members with the same seeds
    assert ev.seeds[0] == tuple((m.id, m.seed) for m in make_ensemble(ENSEMBLE, 3))
    # a policy bred twice is told the earlier outcome, not run again
    assert len(ev.evaluated) == len(set(ev.evaluated)) == res.n_evaluated
    assert res.n_evaluated + res.n_duplicates == 300
    assert res.candidates["duplicate"].sum() == res.n_duplicates


def test_pareto_set_is_feasible_and_non_dominated(optimum):
    res, _ = optimum
    par = res.pareto
    assert len(par) >= 2 and par["feasible"].all()
    assert not par[["a", "b"]].astype(str).duplicated().any()
    vals = par[["mean_cost", "p90_risk"]].to_numpy()
    for i in range(len(vals)):
        assert not np.any(np.all(vals <= vals[i], axis=1) & np.any(vals < vals[i], axis=1))
    assert pareto_mask(np.array([[1, 2], [2, 1], [2, 2], [1, 2]]), ["minimize", "minimize"]).tolist() == [True, True, False, True]
    assert pareto_mask(np.array([[1, 2], [2, 3]]), ["minimize", "maximize"]).tolist() == [True, True]


def test_an_objective_on_a_lever_reads_its_value():
    """The cost can be a lever itself: evaluate() need not return it, and it is the lever's value."""

    def evaluate(candidates, ensemble):
        return pd.DataFrame([{"candidate": i, "member": m.id, "risk": max(0.0, m.params["u"] - c["a"])}
                             for i, c in enumerate(candidates) for m in ensemble])

    res = search(LEVERS, ENSEMBLE, [Objective("a", "minimize"), Objective("risk", aggregate="p90")], evaluate,
                 constraints=[Constraint("risk", "<=", 0.1, aggregate="p90")], cost="a", seed=3, budget=200,
                 batch_size=20)
    assert np.allclose(res.candidates["mean_a"], res.candidates["a"], rtol=1e-12)
    assert res.cost == "mean_a" and abs(res.cheapest["a"] - 0.8) <= 0.03
    with pytest.raises(DiscoveryError, match="lever 'c' is categorical"):
        search([*LEVERS, Lever("c", categories=["x", "y"])], ENSEMBLE, [Objective("c")], evaluate, budget=2,
               batch_size=2)


def test_starting_policies_are_evaluated_first_and_resume_alike(tmp_path):
    starts = [{"a": 1.0, "b": 0.5}, {"a": 0}]
    res = run_search(Evaluator(), budget=8, batch_size=4, starts=starts, folder=tmp_path / "s")
    first = res.candidates.set_index("candidate")
    assert first.loc[0, "a"] == 1.0 and first.loc[0, "b"] == 0.5 and first.loc[1, "a"] == 0.0
    again = run_search(Evaluator(), budget=8, batch_size=4, starts=starts, folder=tmp_path / "s")
    assert again.n_evaluated == 0 and again.candidates.equals(res.candidates)
    with pytest.raises(DiscoveryError, match="other settings"):
        run_search(Evaluator(), budget=8, batch_size=4, starts=starts[:1], folder=tmp_path / "s")
    for bad, pattern in (([{"c": 1}], r"start 0: 'c' is not a lever"),
                         ([{"a": 2.0}], r"start 0: lever 'a' value 2.0 is not allowed; expected a number from 0 to 1"),
                         ({"a": 1}, r"starts must be a list")):
        with pytest.raises(DiscoveryError, match=pattern):
            run_search(Evaluator(), budget=4, batch_size=2, starts=bad)


def test_tpe_sampler_also_runs():
    res = run_search(Evaluator(), budget=60, batch_size=10, sampler="tpe")
    assert len(res.candidates) == 60 and res.settings["sampler"] == "multi-objective TPE"
    assert res.cheapest is None or res.cheapest["p90_risk"] <= 0.1


def test_aggregates():
    v = np.arange(20.0)
    assert aggregate(v, "p90") == pytest.approx(np.percentile(v, 90))
    assert aggregate(v, "mean") == 9.5 and aggregate(v, "max") == 19 and aggregate(v, "median") == 9.5
    with pytest.raises(DiscoveryError, match="aggregate 'p100' is not one of"):
        aggregate(v, "p100")


def test_resume_after_interruptions_repeats_nothing_and_ends_alike(tmp_path, monkeypatch):
    import optuna

    kw = dict(budget=30, batch_size=6, seed=11)
    ref_ev = Evaluator()
    ref = run_search(ref_ev, **kw)  # uninterrupted, in memory
    folder = tmp_path / "search"

    # 1. stopped while the third batch was being evaluated
    first = Evaluator(fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        run_search(first, folder=folder, **kw)
    done = first.evaluated[: sum(len(c) for c in first.calls[:2])]

    # 2. stopped between the tells of the fourth batch (after 2 of its 6 tells)
    real_tell = optuna.study.Study.tell
    told = {"n": 0}

    def flaky_tell(self, *a, **k):
        if k.get("state") is None and len(a) >= 2:
            told["n"] += 1
            if told["n"] == 6 + 2 + 1:  # the third batch's 6 tells, then 2 of the fourth
                raise KeyboardInterrupt("simulated interruption between tells")
        return real_tell(self, *a, **k)

    second = Evaluator()
    monkeypatch.setattr(optuna.study.Study, "tell", flaky_tell)
    with pytest.raises(KeyboardInterrupt):
        run_search(second, folder=folder, **kw)
    monkeypatch.setattr(optuna.study.Study, "tell", real_tell)
    # it first evaluated exactly the third batch's candidates that the stop had left untold
    assert second.evaluated[: len(second.calls[0])] == first.evaluated[len(done):]

    # 3. stopped while the fifth batch was being asked for
    real_ask = optuna.study.Study.ask
    asked = {"n": 0}

    def flaky_ask(self, *a, **k):
        asked["n"] += 1
        if asked["n"] == 3:
            raise KeyboardInterrupt("simulated interruption while asking")
        return real_ask(self, *a, **k)

    third = Evaluator()
    monkeypatch.setattr(optuna.study.Study, "ask", flaky_ask)
    with pytest.raises(KeyboardInterrupt):
        run_search(third, folder=folder, **kw)
    monkeypatch.setattr(optuna.study.Study, "ask", real_ask)

    last = Evaluator()
    res = run_search(last, folder=folder, **kw)
    assert res.n_resumed == 24 and 0 < res.n_evaluated <= 6

    # the same candidates, outcomes and Pareto set as the uninterrupted search
    pd.testing.assert_frame_equal(res.candidates, ref.candidates)
    pd.testing.assert_frame_equal(res.pareto, ref.pareto)
    # no finished candidate was evaluated again: the run after each stop evaluated only
    # what the stop had left untold (batch 3's four untold candidates, then batch 5)
    assert not set(done) & set(second.evaluated + third.evaluated + last.evaluated)
    assert not set(map(_key, second.calls[0])) & set(third.evaluated + last.evaluated)
    assert len(third.calls) == 1 and 0 < len(third.calls[0]) <= 4
    assert set(third.evaluated) <= set(map(_key, second.calls[1]))
    assert not set(last.evaluated) & set(done + second.evaluated + third.evaluated)
    assert set(done + second.evaluated + last.evaluated) == set(ref_ev.evaluated)
    # a finished search called again evaluates nothing
    again = Evaluator()
    res2 = run_search(again, folder=folder, **kw)
    assert again.calls == [] and res2.n_resumed == 30
    pd.testing.assert_frame_equal(res2.candidates, ref.candidates)


def test_resume_refuses_other_settings(tmp_path):
    folder = tmp_path / "s"
    run_search(Evaluator(), budget=6, batch_size=6, folder=folder)
    with pytest.raises(DiscoveryError, match=r"holds a search with other settings \(ensemble differ\)"):
        search(LEVERS, ENSEMBLE[:-1], OBJECTIVES, Evaluator(), constraints=CONSTRAINTS, seed=3,
               budget=6, batch_size=6, folder=folder)
    # a larger budget extends the same search
    more = Evaluator()
    res = run_search(more, budget=12, batch_size=6, folder=folder)
    assert len(res.candidates) == 12 and res.n_resumed == 6 and sum(map(len, more.calls)) <= 6


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(levers=[Lever("pool_shar", 0, 1)], allowed_levers={"pool_share", "pace_of_change"}),
         r"lever 'pool_shar' is not a model parameter \(did you mean 'pool_share'\?\)"),
        (dict(objectives=[Objective("providers_destablised")], allowed_measures={"providers_destabilised", "cost"}),
         r"objective 'providers_destablised' is not a measure \(did you mean 'providers_destabilised'\?\)"),
        (dict(constraints=[Constraint("inequity", "<=", 1)], allowed_measures={"cost", "risk"}),
         r"constraint on 'inequity' is not a measure"),
        (dict(ensemble=[]), r"the ensemble is empty"),
        (dict(ensemble=[{"u": 0.1, "a": 0.3}]), r"lever 'a' is also set by ensemble member 0"),
        (dict(cost="inequity"), r"cost 'inequity' is not one of the objectives \(mean_cost, p90_risk\)"),
        (dict(objectives=[Objective("cost", "maximize")], cost="cost"), r"the cost objective 'mean_cost' must be minimised"),
        (dict(batch_size=1), r"batch_size must be an integer of at least 2"),
        (dict(sampler="grid"), r"sampler 'grid' is not nsga2 or tpe"),
        (dict(levers=[Lever("a", 0, 1), Lever("a", 0, 2)]), r"lever\(s\) given twice: a"),
    ],
)
def test_search_input_errors(kwargs, pattern):
    args = dict(levers=LEVERS, ensemble=ENSEMBLE, objectives=OBJECTIVES, evaluate=Evaluator(),
                constraints=CONSTRAINTS, budget=4, batch_size=2)
    args.update(kwargs)
    with pytest.raises(DiscoveryError, match=pattern) as exc:
        search(args.pop("levers"), args.pop("ensemble"), args.pop("objectives"), args.pop("evaluate"), **args)
    _one_line(exc)


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: Lever("a", 1.0, 0.5), r"lever 'a': low \(1.0\) must be below high \(0.5\)"),
        (lambda: Lever("a", 0.0, 0.0), r"must be below high"),
        (lambda: Lever("a", 0.0), r"give both low and high"),
        (lambda: Lever("a", 0.0, float("inf")), r"bounds must be finite numbers"),
        (lambda: Lever("a", 0.5, 3, integer=True), r"an integer lever needs integer bounds"),
        (lambda: Lever("a", 0.0, 1.0, log=True), r"a log-scale lever needs low > 0"),
        (lambda: Lever("a", levels=[0.1]), r"levels need at least two values"),
        (lambda: Lever("a", levels=[0.1, 0.1]), r"levels repeat a value"),
        (lambda: Lever("a", 0, 1, categories=["x", "y"]), r"give exactly one of low/high, levels or categories"),
        (lambda: Lever("a"), r"give exactly one of .* \(got none\)"),
        (lambda: Objective("risk", "smallest"), r"direction 'smallest' is not minimize or maximize"),
        (lambda: Constraint("risk", "<", 1), r"op '<' is not <= or >="),
        (lambda: Constraint.parse("p90 of risk below 1"), r"is not of the form"),
    ],
)
def test_bad_levers_objectives_constraints(make, pattern):
    with pytest.raises(DiscoveryError, match=pattern) as exc:
        make()
    _one_line(exc)


def test_lever_kinds_and_constraint_parsing():
    c = Constraint.parse("p90(providers_destabilised) <= 1")
    assert (c.name, c.aggregate, c.op, c.value) == ("providers_destabilised", "p90", "<=", 1.0)
    assert Constraint.parse("cost >= 2").aggregate == "mean"
    assert Lever("n", 1, 5, integer=True).kind == "int"
    assert Lever("pace", levels=[0.25, 0.5, 1.0]).kind == "levels"
    national = Lever("national", categories={"none", "cardiac", "renal"})
    assert national.categories == ("cardiac", "none", "renal")  # a set gets a stable order


def test_evaluate_must_return_every_candidate_and_member():
    def short(cands, ens):
        return Evaluator()(cands, ens).iloc[:-1]

    def nan(cands, ens):
        t = Evaluator()(cands, ens)
        t.loc[3, "risk"] = np.nan
        return t

    with pytest.raises(DiscoveryError, match=r"one row per candidate and ensemble member \(2 x 20 = 40 rows; got 39"):
        run_search(short, budget=2, batch_size=2)
    with pytest.raises(DiscoveryError, match=r"missing or non-finite risk \(candidate 0, member 3\)"):
        run_search(nan, budget=2, batch_size=2)
    with pytest.raises(DiscoveryError, match=r"no column for measure\(s\) risk"):
        run_search(lambda c, e: Evaluator()(c, e).drop(columns="risk"), budget=2, batch_size=2)


# --------------------------------------------------------------------------- figures and reports


def test_figures_are_written_whole(planted_result, optimum, tmp_path):
    paths = make_discovery_figures(planted_result, tmp_path) | make_search_figures(optimum[0], tmp_path)
    assert set(paths) == {"peeling", "box_scatter", "cart", "pareto"}
    for p in paths.values():
        data = Path(p).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted(Path(p).name for p in paths.values())


def test_reports_lead_with_the_finding(planted_result, optimum, tmp_path):
    md = discovery_report(planted_result, figures={"peeling": tmp_path / "f" / "p.png"}, relative_to=tmp_path)
    lines = md.splitlines()
    assert lines[0].startswith("# ") and lines[2] == f"**{planted_result.prim.finding}**"
    assert "| x1 | share | float |" in md and "quasi-p" in md
    assert "describe the sample, not causality" in md
    assert "x1 > 0.6" in md and "(f/p.png)" in md
    res = optimum[0]
    md = search_report(res)
    assert md.splitlines()[2] == f"**{res.finding}**"
    assert f"| candidate {int(res.cheapest['candidate'])} |" in md
    assert f"{len(res.pareto)} feasible policies" in md and "common random numbers" in md


def test_the_core_imports_nothing_else_of_the_project_nor_the_extra(tmp_path):
    code = (
        "import sys, json; import commissim.experiments.discovery, commissim.experiments.discovery.figures, "
        "commissim.experiments.discovery.report; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('commissim', 'model', 'experiments', "
        "'ema_workbench', 'optuna', 'sklearn', 'mesa')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    allowed = ("commissim", "commissim.experiments")
    assert all(m.startswith("commissim.experiments.discovery") or m in allowed for m in loaded), loaded
