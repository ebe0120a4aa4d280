"""``commissim compare``: every named scenario (or a chosen few) for many seeds, one results folder.

From the shell::

    commissim compare                                   # all scenarios, 30 seeds, 10 years
    commissim compare --scenarios nhse_direct,full_delegation --seeds 10 --years 5
    commissim compare --set funding_gap=0.01 --out results/compare_gap1

From Python::

    from commissim.experiments.compare import compare
    folder = compare(scenarios=["nhse_direct", "full_delegation"], seeds=10, years=5)

The folder holds per-run summaries and per-year series (Parquet and CSV), a
``manifest.json`` (configuration, per-run seeds, versions, git commit, times),
figures (PNG) and ``report.md`` with the headline comparison. Interrupt it at
any time: the same command resumes, skipping finished runs.

Each scenario's seeds follow its place in the built-in scenario list (see
``commissim scenarios``), so ``--scenarios nhse_direct`` reproduces exactly the
``nhse_direct`` runs of a full comparison with the same root seed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from commissim.experiments.cli import UserError

__all__ = ["compare", "configure", "run", "parse_set"]

DEFAULT_SEEDS = 30
DEFAULT_YEARS = 10
DEFAULT_ROOT_SEED = 20230401
DEFAULT_OUT = "results/compare"
# Parameters that make a scenario what it is: overriding them for every scenario is refused.
SCENARIO_DEFINING = frozenset({"arrangement", "delegated_set", "icb_footprint"})


# --------------------------------------------------------------------------- inputs
def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is not allowed; expected a whole number >= {low}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def parse_set(items: Sequence[str] | None) -> dict[str, Any]:
    """``["home_bias=0.3", "protect_last_provider=false"]`` -> checked parameter dict.

    Values are converted by the parameter's kind (number, true/false, or a choice)
    and checked by ``model.params.validate_parameters``; errors name the option,
    the parameter, the value and what is allowed.
    """
    from commissim.model.errors import ParameterError
    from commissim.model.params import PARAM_BY_NAME, validate_parameters

    raw: dict[str, Any] = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise UserError(f"--set {item!r}: expected NAME=VALUE, e.g. --set home_bias=0.3")
        spec = PARAM_BY_NAME.get(name)
        value: Any = text
        if spec is not None and spec.kind in ("float", "int"):
            try:
                value = float(text)
            except ValueError:
                raise UserError(
                    f"--set {name}={text}: value {text!r} is not a number; expected a {spec.kind} between "
                    f"{spec.low} and {spec.high}"
                ) from None
        if name in raw:
            raise UserError(f"--set {name} is given twice ({raw[name]!r} and {text!r}); give it once")
        raw[name] = value
    try:
        return validate_parameters(raw, where="--set")
    except ParameterError as exc:
        raise UserError(str(exc)) from None


def _resolve_scenarios(scenarios: str | Sequence[str] | None) -> tuple[list[str], list[int]]:
    """Scenario names (validated) and their seed indices (place in the built-in list)."""
    from commissim.model.scenarios import list_scenarios, load_scenario

    builtin = [s.name for s in list_scenarios()]
    if scenarios is None:
        names = list(builtin)
    else:
        if isinstance(scenarios, str):
            scenarios = scenarios.split(",")
        names = [str(s).strip() for s in scenarios if str(s).strip()]
        if not names:
            raise UserError(f"--scenarios: no scenario given; valid scenarios: {', '.join(builtin)}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"--scenarios: {', '.join(dupes)} given more than once")
    for n in names:
        load_scenario(n)  # ScenarioError names the value and lists the valid ones
    extra = [n for n in names if n not in builtin]
    ids = [builtin.index(n) if n in builtin else len(builtin) + extra.index(n) for n in names]
    return names, ids


# --------------------------------------------------------------------------- Python API
def compare(
    scenarios: str | Sequence[str] | None = None,
    seeds: int = DEFAULT_SEEDS,
    years: int = DEFAULT_YEARS,
    root_seed: int = DEFAULT_ROOT_SEED,
    out: str | Path = DEFAULT_OUT,
    workers: int | None = None,
    executor: Any = "processes",
    parameters: dict[str, Any] | None = None,
    overwrite: bool = False,
    *,
    progress: bool | None = None,
    figures: bool = True,
    func: Callable[..., dict] | None = None,
    func_kwargs: dict[str, Any] | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Run each scenario for ``seeds`` seeds over ``years`` years; write a results folder.

    ``scenarios``: names (a list or ``"a,b,c"``), default every named scenario.
    ``parameters``: overrides applied to every scenario (checked against the
    model's parameter registry). ``executor``: ``"processes"`` (default, ``workers``
    processes), ``"serial"``, or a ``concurrent.futures.Executor`` such as
    ``distributed.Client(...).get_executor()``. ``func``/``func_kwargs``: the run
    function (default ``model.simulation.simulate``) and fixed keywords for it.
    Returns the results folder; an existing folder of the same comparison is
    resumed, a different one refused unless ``overwrite=True``.
    """
    from commissim.experiments.engine import run_batch
    from commissim.model.errors import ParameterError
    from commissim.model.params import validate_parameters

    names, ids = _resolve_scenarios(scenarios)
    try:
        params = validate_parameters(dict(parameters or {}), where="parameters")
    except ParameterError as exc:
        raise UserError(str(exc)) from None
    defining = sorted(set(params) & SCENARIO_DEFINING)
    if defining:
        raise UserError(
            f"--set {', '.join(defining)}: these define what a scenario is, so setting them for every scenario "
            "would run one arrangement under several names. Copy a file from model/scenarios/, edit it and "
            "compare it by path instead (--scenarios nhse_direct,my_scenario.toml)"
        )
    design = [{"scenario": n, **params} for n in names]
    out = Path(out)
    say = log or (lambda msg: print(msg, file=sys.stderr))
    result = run_batch(
        design,
        out=out,
        replicates=seeds,
        years=years,
        root_seed=root_seed,
        executor=executor,
        workers=workers,
        func=func,
        func_kwargs=func_kwargs,
        series=True,
        point_ids=ids,
        overwrite=overwrite,
        progress=progress,
        label="compare",
        meta={"command": command, "scenarios": names, "overrides": params},
        log=say,
    )
    if figures and result.n_done:
        from commissim.experiments.figures import make_figures

        make_figures(out, log=say)
    from commissim.experiments.report import write_report

    write_report(out)
    return out


# --------------------------------------------------------------------------- CLI
def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  commissim compare\n"
        "  commissim compare --scenarios nhse_direct,full_delegation --seeds 10 --years 5\n"
        "  commissim compare --set funding_gap=0.01 --out results/compare_gap1 --workers 4\n"
        "Interrupted? Run the same command again: finished runs are kept and skipped."
    )
    parser.add_argument("--scenarios", metavar="A,B,C",
                        help="comma-separated scenario names or scenario .toml files (default: every named "
                             "scenario; list them with 'commissim scenarios')")
    parser.add_argument("--seeds", type=_positive_int, default=DEFAULT_SEEDS, metavar="R",
                        help=f"seeds (replicates) per scenario (default {DEFAULT_SEEDS})")
    parser.add_argument("--years", type=_non_negative_int, default=DEFAULT_YEARS, metavar="N",
                        help=f"funding rounds (financial years) after 2022-23 (default {DEFAULT_YEARS})")
    parser.add_argument("--root-seed", type=_non_negative_int, default=DEFAULT_ROOT_SEED, metavar="S",
                        help=f"root of every run's seed (default {DEFAULT_ROOT_SEED})")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="FOLDER",
                        help=f"results folder (default {DEFAULT_OUT}); an existing one is resumed")
    parser.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                        help="worker processes (default: one per CPU)")
    parser.add_argument("--executor", choices=("processes", "serial"), default="processes",
                        help="where runs execute (default processes; serial is easiest to debug)")
    parser.add_argument("--set", dest="set_", action="append", default=[], metavar="NAME=VALUE",
                        help="parameter override for every scenario (repeatable), e.g. --set home_bias=0.3")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing results folder instead of resuming it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _command_line(args: argparse.Namespace) -> str:
    """The equivalent command line, with every option spelled out (recorded in the manifest)."""
    import shlex

    parts = ["commissim", "compare"]
    if args.scenarios:
        parts += ["--scenarios", args.scenarios]
    parts += ["--seeds", str(args.seeds), "--years", str(args.years), "--root-seed", str(args.root_seed),
              "--out", str(args.out), "--executor", args.executor]
    if args.workers:
        parts += ["--workers", str(args.workers)]
    for item in args.set_:
        parts += ["--set", item]
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from commissim.experiments.engine import load_results
    from commissim.experiments.report import headline_text

    params = parse_set(args.set_)
    command = _command_line(args)
    out = compare(
        scenarios=args.scenarios,
        seeds=args.seeds,
        years=args.years,
        root_seed=args.root_seed,
        out=args.out,
        workers=args.workers,
        executor=args.executor,
        parameters=params,
        overwrite=args.overwrite,
        progress=False if args.no_progress else None,
        command=command,
    )
    res = load_results(out, series=False, providers=False)
    print(f"results: {out}")
    summaries = res.summaries if res.summaries is not None else pd.DataFrame()
    if not summaries.empty:
        print(headline_text(summaries, res.manifest, markdown=False))
    print(f"report: {out / 'report.md'}")
    failed = res.manifest.get("counts", {}).get("failed", 0)
    return 1 if failed else 0
