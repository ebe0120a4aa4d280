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

from ..errors import USER_ERRORS, command_line_words

__all__ = ["COMMANDS", "build_parser", "main", "version", "commands_text"]

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "scenarios": ("commissim.experiments.cli.scenarios", "list the named scenarios with description and source"),
    "params": ("commissim.experiments.cli.params",
               "list the model's parameters: name, default, allowed range, when read, doc and source"),
    "measures": ("commissim.experiments.cli.measures",
                 "list the model's measures: name, unit, kind, resolution (smallest difference that matters), "
                 "definition"),
    "run": ("commissim.experiments.cli.run", "run one scenario; write its tables, a figure and a map under results/"),
    "compare": ("commissim.experiments.cli.compare", "run every scenario for many seeds and write a results folder"),
    "sweep": ("commissim.experiments.cli.sweep", "sensitivity sweep (SALib) on local processes or a Dask cluster"),
    "discover": ("commissim.experiments.cli.discover",
                 "scenario discovery: which conditions lead to an outcome (PRIM, with a CART check)"),
    "search": ("commissim.experiments.cli.search",
               "robust policy search: levers that meet targets across an ensemble of conditions (Optuna)"),
    "validate": ("commissim.experiments.cli.validate",
                 "run the path the NHS took (2022-23 to 2025-26) against the published figures"),
    "calibrate": ("commissim.experiments.cli.calibrate",
                  "estimate the inputs with no public figure from the record (ABC-SMC); a posterior for the others"),
    "viz": ("commissim.experiments.cli.viz", "serve the SolaraViz page on 127.0.0.1"),
}


def version() -> str:
    """The installed commissim's version (``unknown`` when run from a tree that is not installed)."""
    from importlib import metadata

    try:
        return metadata.version("commissim")
    except metadata.PackageNotFoundError:
        return "unknown"


def commands_text() -> str:
    """What ``commissim`` alone prints: the commands, one line each, and how to get more."""
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: commissim COMMAND [options]", "",
             "Agent-based model of NHS England specialised commissioning.", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", "'commissim COMMAND --help' for a command's options; 'commissim --version' for the version.",
              "Start with 'commissim scenarios', or 'commissim compare' for the full comparison."]
    return "\n".join(lines)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (all of them when None)."""
    parser = argparse.ArgumentParser(
        prog="commissim",
        description="Agent-based model of NHS England specialised commissioning.",
    )
    parser.add_argument("--version", action="version", version=f"commissim {version()}")
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
    if not argv:  # `commissim` alone: the commands, not an error
        print(commands_text())
        return 0
    command = argv[0] if argv and argv[0] in COMMANDS else "__none__"
    parser = build_parser(command)
    args = parser.parse_args(argv)
    try:
        with command_line_words():  # messages name options as --out, --overwrite
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
