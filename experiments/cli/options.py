"""What the commands share: argument types, ``--set NAME=VALUE``, the executor options and the
command line recorded in a manifest."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from typing import Any

from ..batch import EXECUTORS
from ..errors import UserError, rethrow

__all__ = ["int_at_least", "positive_int", "non_negative_int", "parse_set", "parse_set_grid", "add_executor_options",
           "command_line", "examples"]


def int_at_least(low: int):
    """An argparse type: a whole number >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is not allowed; expected a whole number >= {low}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def parse_set(items: Sequence[str] | None) -> dict[str, Any]:
    """``["system_weight=10", "protect_last_provider=false"]`` -> checked parameter dict.

    Values are converted by the parameter's kind (number, true/false, or a choice)
    and checked by ``commissim.model.params.validate_parameters``; errors name the option,
    the parameter, the value and what is allowed.
    """
    from commissim.model.params import PARAM_BY_NAME, validate_parameters

    raw: dict[str, Any] = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise UserError(f"--set {item!r}: expected NAME=VALUE, e.g. --set system_weight=10")
        spec = PARAM_BY_NAME.get(name)
        value: Any = text
        if "," in text:
            raise UserError(f"--set {name}={text}: several values are a grid; this command takes one value "
                            f"(commissim compare runs grids: --set {name}={text})")
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
    with rethrow(UserError):
        return validate_parameters(raw, where="--set")


def parse_set_grid(items: Sequence[str] | None) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """``--set NAME=V`` and ``--set NAME=V1,V2,V3`` -> (single values, grid of several values).

    Each value is converted and checked like :func:`parse_set`; a parameter with several values
    is a grid dimension (every combination of the dimensions is run)."""
    single: list[str] = []
    grid: dict[str, list[Any]] = {}
    seen: set[str] = set()
    for item in items or ():
        name, sep, text = item.partition("=")
        name = name.strip()
        if name in seen:
            raise UserError(f"--set {name} is given twice; give it once (several values: --set {name}=V1,V2,V3)")
        seen.add(name)
        parts = [t.strip() for t in text.split(",")] if sep else [text]
        if len(parts) <= 1:
            single.append(item)
            continue
        if any(not t for t in parts):
            raise UserError(f"--set {item!r}: an empty value; expected NAME=V1,V2,V3, e.g. --set system_weight=5,10")
        grid[name] = [parse_set([f"{name}={t}"])[name] for t in parts]
    return parse_set(single), grid


def examples(parser: argparse.ArgumentParser, *lines: str) -> None:
    """Show example command lines under the command's ``--help`` (and that a batch resumes)."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "\n".join(["examples:", *(f"  {line}" for line in lines),
                               "Interrupted? Run the same command again: finished runs are kept and skipped."])


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers`` and ``--scheduler``, the same for every batch command."""
    parser.add_argument("--executor", choices=EXECUTORS, default="processes",
                        help="processes (default), serial (easiest to debug), or dask (a local Dask cluster of "
                             "--workers workers)")
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help="worker processes (default one per CPU)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run on an existing Dask cluster")


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    """The executor options, then ``--chunk-size``, ``--overwrite``, ``--no-figures`` and ``--no-progress``:
    the same for the commands that run a design through the batch engine (sweep, discover, search)."""
    add_executor_options(parser)
    parser.add_argument("--chunk-size", type=positive_int, metavar="K",
                        help="runs per task (default: adaptive, about 1 s per task)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing results folder")
    parser.add_argument("--no-figures", action="store_true", help="no figures")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def command_line(args: argparse.Namespace, skip: Sequence[str] = ()) -> str:
    """The equivalent command line, every option given spelled out (recorded in the manifest).

    Options follow the order the command defines them; ``skip`` names the ones that do not
    change what is run (e.g. ``overwrite``, ``no_progress``).
    """
    parser: argparse.ArgumentParser = args._parser
    parts = ["commissim", args.command]
    for action in parser._actions:  # argparse keeps the options in definition order here
        dest = action.dest
        if isinstance(action, argparse._HelpAction) or dest in skip or dest.startswith("_"):
            continue
        value = getattr(args, dest, None)
        if value is None or value is False or value == []:
            continue
        if not action.option_strings:  # positional
            parts.append(str(value))
        elif isinstance(action, argparse._StoreConstAction):  # store_true and friends
            parts.append(action.option_strings[-1])
        elif isinstance(action, argparse._AppendAction):
            for v in value:
                parts += [action.option_strings[-1], str(v)]
        else:
            parts += [action.option_strings[-1], str(value)]
    return shlex.join(parts)
