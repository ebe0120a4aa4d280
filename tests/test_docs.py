"""The documentation follows the registries: every parameter and measure is described in the ODD."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_parameter_and_measure_is_in_the_odd():
    from commissim.model.measures import MEASURES
    from commissim.model.params import PARAMS

    odd = (ROOT / "model" / "ODD.md").read_text(encoding="utf-8")
    missing = [p.name for p in PARAMS if f"`{p.name}`" not in odd]
    missing += [m.name for m in MEASURES if f"`{m.name}`" not in odd]
    assert not missing, f"not described in model/ODD.md: {missing}"


def test_every_seed_table_is_described_in_the_seeds_readme():
    readme = (ROOT / "seeds" / "README.md").read_text(encoding="utf-8")
    for table in sorted((ROOT / "seeds").glob("*.csv")):
        assert table.name in readme, table.name


def _readme_commands() -> list[list[str]]:
    """Every ``commissim ...`` line in the README's code blocks, as argument lists (comments dropped,
    continuation lines joined)."""
    import re
    import shlex

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("commissim "):
                out.append(shlex.split(line)[1:])
    return out


def test_the_readme_examples_parse_and_each_batch_has_its_own_out():
    """The README's commands are valid (options and --set parameters), and every example that asks for
    something other than the defaults writes its own --out (a folder holds one batch)."""
    from commissim.experiments.cli import build_parser
    from commissim.experiments.cli.options import parse_set, parse_set_grid

    commands = _readme_commands()
    assert len(commands) >= 8
    outs = {}
    for argv in commands:
        args = build_parser(argv[0]).parse_args(argv)
        if getattr(args, "set", None) or getattr(args, "set_", None):
            if argv[0] == "compare":  # compare runs grids: --set NAME=V1,V2
                parse_set_grid(args.set_)
            else:
                parse_set(getattr(args, "set", None) or args.set_)  # every parameter named exists, in range
        if argv[0] not in ("run", "compare", "sweep") or getattr(args, "analyse_only", None):
            continue
        assert args.out, f"no --out: commissim {' '.join(argv)}"
        same = {k: v for k, v in vars(args).items() if k not in ("executor", "workers", "scheduler", "_module",
                                                                  "_parser", "no_progress")}
        assert outs.setdefault(args.out, same) == same, f"two different examples write {args.out}"
