"""The ``commissim`` command line: a thin dispatcher over one module per command.

Each command's module exposes ``configure(parser)`` and ``run(args) -> int``; modules are
imported only when their command is used, so ``commissim scenarios`` does not pay for Dask
or Solara imports. Mistakes in what the user asked for (``UserError``, the model's
``ModelInputError``) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import USER_ERRORS

__all__ = ["COMMANDS", "build_parser", "main"]

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "scenarios": ("commissim.experiments.cli.scenarios", "list the named scenarios with description and source"),
    "run": ("commissim.experiments.cli.run", "run one scenario and write a table and a figure under results/"),
    "compare": ("commissim.experiments.cli.compare", "run every scenario for many seeds and write a results folder"),
    "sweep": ("commissim.experiments.cli.sweep", "sensitivity sweep (SALib) on local processes or a Dask cluster"),
    "discover": ("commissim.experiments.cli.discover",
                 "scenario discovery: which conditions lead to an outcome (PRIM, with a CART check)"),
    "search": ("commissim.experiments.cli.search",
               "robust policy search: levers that meet targets across an ensemble of conditions (Optuna)"),
    "validate": ("commissim.experiments.cli.validate",
                 "run the path the NHS took (2022-23 to 2025-26) against the published figures"),
    "viz": ("commissim.experiments.cli.viz", "serve the SolaraViz page on 127.0.0.1"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (all of them when None)."""
    parser = argparse.ArgumentParser(
        prog="commissim",
        description="Agent-based model of NHS England specialised commissioning.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if command is None or name == command:
            module = importlib.import_module(module_name)
            module.configure(p)
            p.set_defaults(_module=module, _parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv and argv[0] in COMMANDS else "__none__"
    parser = build_parser(command)
    args = parser.parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except USER_ERRORS as exc:
        print(f"commissim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"commissim {args.command}: interrupted; finished runs are kept - "
            "run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
