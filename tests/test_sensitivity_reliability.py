"""Sensitivity results with their reliability: each problem said once, in words, in ``sensitivity.md``
and on the console, and flagged per parameter in the tables and figures.

Sweeps run ``_sweep_helpers.analytic`` (a known answer, no model runs); the checks themselves are
also tested on hand-made tables, where the right answer is known exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import _sweep_helpers as sh
from commissim.experiments.cli import main as cli_main
from commissim.experiments.sensitivity import analyse, sweep
from commissim.experiments.sensitivity import figures as sfig
from commissim.experiments.sensitivity.methods import METHODS
from commissim.experiments.sensitivity.reliability import NO_VARIATION, SayOnce, check, is_constant

NAMES = ["a", "b", "c"]
PROBLEM = {"num_vars": 3, "names": NAMES, "bounds": [[0, 1]] * 3}


def _space(**kw):
    cfg = {"name": "t", "method": "sobol", "n": 8, "seeds": 1, "years": 2, "scenarios": ["full_delegation"],
           "outcomes": ["providers_destabilised", "access_gini", "cumulative_diverted"],
           "parameters": {"growth_cap": {"bounds": [0.0, 0.9]}, "local_start_share": {"bounds": [0.1, 0.9]},
                          "withdrawal_rounds": {"bounds": [1, 6]}}}
    cfg.update(kw)
    return cfg


def _sobol_table(rows):
    return pd.DataFrame(rows, columns=["parameter", "S1", "S1_conf", "ST", "ST_conf"]).assign(
        rank=lambda d: np.arange(1, len(d) + 1))


def _check(table, X=None, Y=None, method=None, n=16):
    X = np.zeros((2, 3)) if X is None else X
    Y = np.arange(len(X), dtype=float) if Y is None else Y
    return check(method or METHODS["sobol"], PROBLEM, X, Y, table, {"conf_level": 0.95, "second_order": False,
                                                                    "num_resamples": 100}, 1,
                 n=n, scenario="s", outcome="o")


# --------------------------------------------------------------------------- the checks
def test_a_constant_outcome_is_recognised_beyond_float_noise():
    assert is_constant(np.zeros(10)) and is_constant(np.full(10, 3.0) + 1e-15 * np.arange(10))
    assert not is_constant(np.array([0.0, 1e-6])) and not is_constant(np.array([1.0, 1.001]))


def test_intervals_wider_than_estimates_and_impossible_shares_are_flagged():
    table = _sobol_table([["a", 1.42, 0.20, 1.69, 0.30], ["b", -0.30, 0.10, 0.05, 0.20], ["c", 0.10, 0.02, 0.12, 0.03]])
    rel = _check(table)
    kinds = [c.kind for c in rel.caveats]
    assert kinds.count("wide_interval") == 1 and kinds.count("out_of_range") == 1  # one warning per problem
    wide = next(c for c in rel.caveats if c.kind == "wide_interval")
    assert wide.parameters == ("b",) and "wider than the estimate" in wide.text and "1 of the 3" in wide.text
    rng = next(c for c in rel.caveats if c.kind == "out_of_range")
    assert set(rng.parameters) == {"a", "b"}
    assert "a S1 1.42 ± 0.20" in rng.text and "a ST 1.69 ± 0.30" in rng.text and "b S1 -0.30 ± 0.10" in rng.text
    assert "between 0 and 1" in rng.text
    assert rel.flags["a"] == ["S1 outside [0, 1] beyond its interval", "ST outside [0, 1] beyond its interval"]
    assert "interval wider than the estimate (ST)" in rel.flags["b"] and "c" not in rel.flags
    # an estimate outside [0, 1] whose interval reaches back in is not "beyond its interval"
    assert not [c for c in _check(_sobol_table([["a", 1.05, 0.10, 1.08, 0.10], ["b", 0.3, 0.01, 0.3, 0.01],
                                                ["c", 0.1, 0.01, 0.1, 0.01]])).caveats if c.kind == "out_of_range"]


class _Stub:
    """A method whose half-sample analysis returns a given order (to test the convergence check)."""

    name = "sobol"

    def __init__(self, half_order):
        self.half_order = half_order

    def analyse(self, problem, X, Y, settings, second, seed):
        return _sobol_table([[p, 0.3 - 0.1 * k, 0.01, 0.3 - 0.1 * k, 0.01] for k, p in enumerate(self.half_order)]), None


def test_too_small_to_rank_says_which_order_moved_and_the_n_needed():
    # 16 Sobol blocks of D + 2 = 5 rows; at n the order is a, b, c with a and b's intervals overlapping
    X = np.random.default_rng(0).random((16 * 5, 3))
    table = _sobol_table([["a", 0.5, 0.05, 0.5, 0.1], ["b", 0.4, 0.05, 0.4, 0.1], ["c", 0.1, 0.01, 0.1, 0.05]])
    rel = _check(table, X=X, method=_Stub(["b", "a", "c"]), n=16)
    (c,) = [c for c in rel.caveats if c.kind == "too_small_to_rank"]
    assert "between n = 8 (b, a, c) and n = 16 (a, b, c)" in c.text
    assert "(a with b)" in c.text
    # the gap 0.1 against intervals 0.1 + 0.1: 16 x (0.2 / 0.1)^2 = 64, a power of 2
    assert rel.needed_n == 64 and "needs about n = 64" in c.text
    assert all("rank not settled" in f for p in NAMES for f in rel.flags[p][-1:])
    # a settled ranking: same order at n/2 and n, intervals apart
    settled = _sobol_table([["a", 0.6, 0.02, 0.6, 0.02], ["b", 0.3, 0.02, 0.3, 0.02], ["c", 0.1, 0.01, 0.1, 0.01]])
    assert not _check(settled, X=X, method=_Stub(["a", "b", "c"])).caveats
    # near-equal leaders: no affordable n
    tied = _sobol_table([["a", 0.40, 0.05, 0.40, 0.1], ["b", 0.399, 0.05, 0.399, 0.1], ["c", 0.1, 0.01, 0.1, 0.01]])
    (c,) = _check(tied, X=X, method=_Stub(["a", "b", "c"])).caveats
    assert "about equally important" in c.text and "n > 1024" in c.text


def test_say_once():
    said = []
    say = SayOnce(said.append)
    for msg in ("x", "y", "x"):
        say(msg)
    assert said == ["x", "y"]


# --------------------------------------------------------------------------- a small sweep, end to end
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "s"
    said = []
    sweep(_space(), out, executor="serial", func=sh.analytic, figures=True, progress=False, log=said.append)
    return out, said


def test_a_constant_outcome_says_indices_undefined_never_zeros(small):
    out, said = small
    md = (out / "sensitivity.md").read_text()
    section = md.split("## full_delegation — cumulative_diverted")[1]
    assert f"**{NO_VARIATION}.**" in section and "0.000 ± 0.000" not in section
    table = pd.read_csv(out / "sensitivity" / "full_delegation" / "cumulative_diverted.csv")
    assert table[["S1", "ST"]].isna().all().all() and (table["flags"] == NO_VARIATION).all()
    assert not (out / "figures" / "sobol_full_delegation_cumulative_diverted.png").exists()
    assert sum("cumulative_diverted: no variation" in m for m in said) == 1


def test_every_warning_is_in_the_report_and_said_once(small):
    out, said = small
    md = (out / "sensitivity.md").read_text()
    warnings = pd.read_csv(out / "sensitivity" / "warnings.csv")
    assert len(warnings) >= 2 and set(warnings["kind"]) >= {"no_variation", "wide_interval"}
    for w in warnings["warning"]:
        assert md.count(w) == 1, w  # in the report, once
        assert sum(w in m for m in said) == 1, w  # printed, once
    # access_gini does not depend on growth_cap or withdrawal_rounds: their indices are noise around zero
    t = pd.read_csv(out / "sensitivity" / "full_delegation" / "access_gini.csv").set_index("parameter")
    assert "interval wider than the estimate" in t.loc["withdrawal_rounds", "flags"]
    assert "| reliability |" in md


def test_no_whisker_is_cut_off_at_the_figure_edge(small, monkeypatch):
    import matplotlib.pyplot as plt

    out, _ = small
    got = {}
    monkeypatch.setattr(sfig.atomic, "save_figure", lambda fig, path, **k: got.setdefault(path.name, fig) and path)
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)
    analyse(out, figures=True, log=lambda m: None)
    for name, fig in got.items():
        if not name.startswith("sobol_full"):
            continue
        ax = fig.axes[0]
        lo, hi = ax.get_xlim()
        outcome = name.removeprefix("sobol_full_delegation_").removesuffix(".png")
        t = pd.read_csv(out / "sensitivity" / "full_delegation" / f"{outcome}.csv")
        for index in ("S1", "ST"):
            assert lo <= (t[index] - t[f"{index}_conf"]).min() and (t[index] + t[f"{index}_conf"]).max() <= hi, name
    plt.close("all")


def test_morris_gets_the_mu_star_sigma_plot_with_the_same_caveats(tmp_path):
    said = []
    out = sweep(_space(method="morris", n=6), tmp_path / "m", executor="serial", func=sh.analytic, figures=True,
                progress=False, log=said.append)
    assert (out / "figures" / "morris_full_delegation_access_gini.png").is_file()
    md = (out / "sensitivity.md").read_text()
    assert "mu*" in md and NO_VARIATION in md
    assert "| reliability |" in md and "mu* ± CI" in md
    t = pd.read_csv(out / "sensitivity" / "full_delegation" / "access_gini.csv")
    assert "flags" in t.columns
    # the same checks as Sobol's: here mu*'s interval against mu*, on a hand-made table
    table = pd.DataFrame({"parameter": NAMES, "mu_star": [0.5, 0.02, 0.01], "mu_star_conf": [0.1, 0.05, 0.005],
                          "sigma": [0.3, 0.02, 0.01], "mu": [0.5, 0.0, 0.0], "rank": [1, 2, 3]})
    rel = _check(table, method=METHODS["morris"], n=6)
    (c,) = [c for c in rel.caveats if c.kind == "wide_interval"]
    assert c.parameters == ("b",) and "interval of mu*" in c.text
    assert rel.flags["b"] == ["interval wider than the estimate (mu*)"]


def test_the_power_of_two_warning_is_printed_once_on_the_command_line(tmp_path, monkeypatch, capsys):
    import commissim.model.simulation

    monkeypatch.setattr(commissim.model.simulation, "simulate", sh.analytic)
    space = tmp_path / "space.toml"
    space.write_text('name = "t"\nmethod = "sobol"\nn = 6\nseeds = 1\nyears = 2\nscenarios = ["full_delegation"]\n'
                     'outcomes = ["providers_destabilised"]\n[parameters]\ngrowth_cap = { bounds = [0.0, 0.9] }\n'
                     'local_start_share = { bounds = [0.1, 0.9] }\n')
    assert cli_main(["sweep", str(space), "--out", str(tmp_path / "o"), "--executor", "serial", "--no-figures"]) == 0
    captured = capsys.readouterr()
    text = captured.err + captured.out
    assert text.count("not a power of 2") == 1 and "SweepWarning" not in text
    assert "not a power of 2" in (tmp_path / "o" / "sensitivity.md").read_text()


def test_a_parameter_that_never_moved_the_outcome_is_flagged_as_no_effect():
    table = _sobol_table([["a", 0.9, 0.1, 0.95, 0.1], ["b", 0.05, 0.01, 0.06, 0.01], ["c", 0.0, 0.0, 0.0, 0.0]])
    rel = _check(table)
    assert rel.flags["c"] == ["no effect: the outcome never changed with it"]
    assert "a" not in rel.flags and not [c for c in rel.caveats if "c" in c.parameters]
