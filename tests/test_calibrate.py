"""Calibration (``commissim calibrate``): the file's checks in one line each, the recovery of planted values,
a parameter no fact sees kept at its prior, reproducibility on any executor, and resume.

The planted-value test makes "published" facts by running the model at chosen parameter values (a copy of
the seed tables whose calibration.csv holds those runs' values), then calibrates against them: every planted
value must fall inside its 90% credible interval, the parameter the facts see most must have its interval at
least halved, and a parameter that acts only after the facts' years must be reported as not informed and keep
its prior. Particle counts are small so the tests take seconds; the model runs only 2022-23 and 2023-24.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyabc")

from commissim.experiments.calibrate import CalibrationConfigError, calibrate_run, load_config  # noqa: E402
from commissim.experiments.cli import main  # noqa: E402
from commissim.experiments.posterior import load_posterior, weighted_quantile  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FACTS = ["trust_sector_margin@2022-23", "trust_sector_margin@2023-24", "icb_sector_deficit_gbp_m@2022-23",
         "specialised_spend@2023-24"]


def _config(**over):
    cfg = {
        "name": "t", "particles": 40, "generations": 3, "seed": 7, "facts": list(FACTS),
        "parameters": {
            "deficit_severity": {"prior": "uniform", "low": 0.25, "high": 2.5, "reason": "no figure: wide"},
            "demography_weight": {"prior": "uniform", "low": 0.5, "high": 1.5, "reason": "no figure: wide"},
            "cost_inflation": {"prior": "uniform", "low": 0.015, "high": 0.04, "reason": "no figure: wide"},
        },
    }
    cfg.update(over)
    return cfg


# --------------------------------------------------------------------------- bad files: one line each
@pytest.mark.parametrize("change, needle", [
    (lambda c: c["parameters"].update({"defecit_severity": {"low": 0, "high": 1, "reason": "x"}}),
     "unknown parameter 'defecit_severity' (did you mean 'deficit_severity'?)"),
    (lambda c: c["parameters"]["deficit_severity"].update({"high": 4.0}),
     "lies outside the parameter's range 0 to 3"),
    (lambda c: c["parameters"]["deficit_severity"].pop("reason"), "no reason for the prior"),
    (lambda c: c.update({"facts": ["trust_sector_margn@2022-23"]}),
     "'trust_sector_margn@2022-23' is not a row of seeds/calibration.csv (did you mean 'trust_sector_margin@2022-23'"),
    (lambda c: c.update({"facts": ["trust_sector_margin@2024-25"]}),
     "is a row of seeds/validation.csv; a validation fact is only ever compared with, never fitted"),
    (lambda c: c.update({"facts": ["n_icbs@data"]}), "states no uncertainty"),
    (lambda c: c["parameters"].update({"ringfence": {"prior": "choice", "values": ["hard", "leaky"],
                                                     "reason": "x"}}), "prior value 'leaky'"),
])
def test_a_bad_file_is_refused_in_one_line(change, needle):
    cfg = _config()
    change(cfg)
    with pytest.raises(CalibrationConfigError) as exc:
        load_config(cfg)
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg, msg


def _seeds_with(tmp_path: Path, rows: dict[str, float] | None = None, extra: list[dict] | None = None) -> Path:
    """A copy of the seed tables whose calibration.csv holds ``rows`` (key -> value) and ``extra`` rows."""
    folder = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / "calibration.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, table = reader.fieldnames, list(reader)
    for r in table:
        key = f"{r['quantity']}@{r['year'] or 'data'}"
        if rows and key in rows:
            r["value"] = repr(float(rows[key]))
    table += extra or []
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(table)
    return folder


def test_a_fact_the_path_cannot_produce_is_one_line(tmp_path, capsys):
    seeds = _seeds_with(tmp_path, extra=[{
        "fact": "margin change at the base year", "quantity": "margin_change_specialist_minus_acute",
        "year": "2022-23", "value": "0", "unit": "share of income", "tolerance": "0.01", "tolerance_kind": "abs",
        "fitted_by": "test", "source": "test", "confidence": "low"}])
    toml = tmp_path / "c.toml"
    toml.write_text(f'seeds_path = "{seeds}"\nfacts = ["margin_change_specialist_minus_acute@2022-23"]\n'
                    '[parameters.deficit_severity]\nlow = 0.5\nhigh = 1.5\nreason = "no figure: wide"\n')
    rc = main(["calibrate", str(toml), "--out", str(tmp_path / "out"), "--executor", "serial", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert "fact 'margin_change_specialist_minus_acute@2022-23': the as_happened path cannot produce it" in err[0]


def test_the_headline_file_is_valid_and_names_its_reasons():
    cfg = load_config(ROOT / "experiments" / "configs" / "calibrate_record.toml")
    assert cfg.scenario == "as_happened" and cfg.particles >= 1000 and cfg.generations >= 5
    assert all(p.reason for p in cfg.priors) and len(cfg.priors) >= 15
    assert all(f.scale > 0 for f in cfg.facts)


# --------------------------------------------------------------------------- recovery of planted values
PLANTED = {"deficit_severity": 1.7, "demography_weight": 1.3}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from commissim.experiments.calibrate.simulate import fact_run

    tmp = tmp_path_factory.mktemp("planted")
    pairs = [tuple(k.split("@")) for k in FACTS]
    values = fact_run("as_happened", pairs, 12345, **PLANTED)
    seeds = _seeds_with(tmp, values)
    out = calibrate_run(_config(seeds_path=str(seeds), particles=60, generations=4), tmp / "out", executor="serial",
                        progress=False, log=lambda m: None)
    return out, values


def test_planted_values_fall_inside_their_90_percent_intervals(planted):
    out, _values = planted
    post = load_posterior(out)
    w = post.weights
    cfg_prior = {"deficit_severity": (0.25, 2.5), "demography_weight": (0.5, 1.5)}
    for name, value in PLANTED.items():
        lo, hi = weighted_quantile(post.particles[name], w, [0.05, 0.95])
        assert lo <= value <= hi, f"{name}: planted {value} outside the 90% interval {lo:.4g} to {hi:.4g}"
    # the facts see deficit_severity directly (the 2022-23 margins): its interval must shrink a lot
    lo, hi = weighted_quantile(post.particles["deficit_severity"], w, [0.05, 0.95])
    plo, phi = cfg_prior["deficit_severity"]
    assert (hi - lo) < 0.5 * 0.9 * (phi - plo), f"deficit_severity 90% interval {lo:.3g}-{hi:.3g} barely shrank"


def test_a_parameter_no_fact_sees_keeps_its_prior(planted):
    out, _ = planted
    post = load_posterior(out)
    assert post.not_informed == ["cost_inflation"]
    x = post.particles["cost_inflation"].to_numpy(float)
    lo, hi = weighted_quantile(x, post.weights, [0.05, 0.95])
    prior_lo, prior_hi = 0.015 + 0.05 * 0.025, 0.04 - 0.05 * 0.025
    assert abs(lo - prior_lo) < 0.004 and abs(hi - prior_hi) < 0.004, (lo, hi)
    md = (out / "calibration.md").read_text()
    assert "not informed by the record" in md.splitlines()[0] + md  # stated
    row = next(line for line in md.splitlines() if line.startswith("| `cost_inflation`"))
    assert "not informed by the record" in row


def test_the_folder_holds_what_the_issue_asks_for(planted):
    out, _ = planted
    for name in ("posterior.parquet", "calibration.md", "abc.db", "manifest.json", "facts.csv",
                 "figures/marginals.png", "figures/pairs.png", "figures/facts.png"):
        assert (out / name).exists(), name
    df = pd.read_parquet(out / "posterior.parquet")
    assert list(df.columns) == ["deficit_severity", "demography_weight", "cost_inflation", "weight"]
    assert len(df) == 60 and abs(df.weight.sum() - 1) < 1e-9
    import json

    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "complete" and len(m["generations"]) >= 2
    for g in m["generations"]:
        assert 0 < g["acceptance_rate"] <= 1 and g["sims_per_second"] > 0
    md = (out / "calibration.md").read_text()
    assert md.startswith("# Calibration") and "prior 90%" in md and "interval shrank by" in md


# --------------------------------------------------------------------------- reproducible, resumable
def _small(**over):
    return _config(particles=20, generations=3, **over)


def test_same_seed_same_posterior_on_any_executor(tmp_path):
    a = calibrate_run(_small(), tmp_path / "a", executor="serial", progress=False, figures=False, log=lambda m: None)
    b = calibrate_run(_small(), tmp_path / "b", executor="processes", workers=2, batch_size=3, progress=False,
                      figures=False, log=lambda m: None)
    pa, pb = pd.read_parquet(a / "posterior.parquet"), pd.read_parquet(b / "posterior.parquet")
    pd.testing.assert_frame_equal(pa, pb)
    d = calibrate_run(_small(), tmp_path / "d", executor="dask", workers=2, batch_size=5, progress=False,
                      figures=False, log=lambda m: None)
    pd.testing.assert_frame_equal(pa, pd.read_parquet(d / "posterior.parquet"))
    c = calibrate_run(_small(seed=8), tmp_path / "c", executor="serial", progress=False, figures=False,
                      log=lambda m: None)
    assert not pd.read_parquet(c / "posterior.parquet").equals(pa)


def test_an_interrupted_calibration_resumes_to_the_same_posterior(tmp_path, monkeypatch):
    from commissim.experiments.calibrate import run as run_mod

    full = calibrate_run(_small(), tmp_path / "full", executor="serial", progress=False, figures=False,
                         log=lambda m: None)
    real_start = run_mod._Progress.start

    def interrupt(self, t, total):
        if t == 2:
            raise KeyboardInterrupt
        return real_start(self, t, total)

    monkeypatch.setattr(run_mod._Progress, "start", interrupt)
    with pytest.raises(KeyboardInterrupt):
        calibrate_run(_small(), tmp_path / "cut", executor="serial", progress=False, figures=False, log=lambda m: None)
    assert not (tmp_path / "cut" / "posterior.parquet").exists()
    monkeypatch.setattr(run_mod._Progress, "start", real_start)
    said = []
    cut = calibrate_run(_small(), tmp_path / "cut", executor="serial", progress=False, figures=False, log=said.append)
    assert sum(s.startswith("generation ") for s in said) == 1  # only the third generation ran again
    pd.testing.assert_frame_equal(pd.read_parquet(full / "posterior.parquet"), pd.read_parquet(cut / "posterior.parquet"))
    # another calibration in the same folder is refused in one line
    with pytest.raises(CalibrationConfigError, match="holds another calibration"):
        calibrate_run(_small(seed=99), tmp_path / "cut", executor="serial", progress=False, log=lambda m: None)


def test_posterior_draws_are_weighted_and_reproducible(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    pd.DataFrame({"a": [0.0, 1.0, 2.0], "weight": [0.0, 0.25, 0.75]}).to_parquet(folder / "posterior.parquet")
    post = load_posterior(folder)
    d1, d2 = post.draws(400, 1), post.draws(400, 1)
    assert d1 == d2 and post.draws(5, 1) == d1[:5]
    counts = np.bincount([int(d["a"]) for d in d1], minlength=3)
    assert counts[0] == 0 and 0.65 < counts[2] / 400 < 0.85


# --------------------------------------------------------------------------- results over the posterior
def test_validate_over_the_posterior_gives_predictive_intervals(planted, tmp_path):
    from commissim.experiments.validate import validate

    out, _ = planted
    folder = validate(seeds=1, posterior=out, draws=4, out=tmp_path / "v", executor="serial", progress=False,
                      log=lambda m: None)
    df = pd.read_csv(folder / "validation.csv")
    assert "in_90_predictive" in df.columns and df.runs.max() == 4
    md = (folder / "validation.md").read_text()
    assert "Posterior predictive checks" in md and "cost_inflation" in md  # the uninformed parameter is named
    import json

    design = json.loads((folder / "manifest.json").read_text())["design"]
    assert len({d["overrides"]["deficit_severity"] for d in design}) >= 2  # the draws differ


def test_compare_over_the_posterior_pairs_draws_and_seeds_across_scenarios(planted, tmp_path):
    from commissim.experiments.compare import compare

    out, _ = planted
    folder = compare(scenarios=["nhse_direct", "full_delegation"], seeds=2, years=1, posterior=out, draws=3,
                     out=tmp_path / "c", executor="serial", progress=False, figures=False, log=lambda m: None)
    import json

    m = json.loads((folder / "manifest.json").read_text())
    by = {}
    for d in m["design"]:
        by.setdefault(d["scenario"], []).append((d["overrides"], d["seeds"]))
    assert len(by["nhse_direct"]) == 3 and by["nhse_direct"] == by["full_delegation"]  # same draws, same seeds
    assert len({json.dumps(o, sort_keys=True) for o, _s in by["nhse_direct"]}) >= 2
    md = (folder / "report.md").read_text()
    assert "3 posterior draws x 2 seeds" in md and "Where the spread of each difference comes from" in md
    assert "cost_inflation" in md  # the uninformed parameter is named next to the results


@pytest.mark.parametrize("command", ["compare", "validate", "sweep"])
def test_draws_without_a_posterior_is_one_line(command, capsys):
    argv = [command, "--draws", "3"] + (["experiments/configs/sobol_delegation.toml"] if command == "sweep" else [])
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--draws needs --posterior DIR" in err[0], err


def test_a_missing_posterior_folder_is_one_line(tmp_path, capsys):
    rc = main(["validate", "--posterior", str(tmp_path / "nothing"), "--out", str(tmp_path / "v")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "no posterior.parquet there" in err[0], err
