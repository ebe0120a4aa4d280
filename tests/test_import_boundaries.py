"""The house's floors: which part of commissim may import which (a static check of every import).

- ``commissim.model`` imports nothing from ``commissim.experiments`` (the model stands alone);
- the browser page (``model/app.py``) imports only ``commissim.model`` (and third-party packages);
- the batch library (``experiments/batch/``) knows only the run function: it imports no CLI
  module, nothing of the comparison, the sweeps or the model, only ``errors`` and ``atomic``;
- nothing below the command line imports it (``cli`` is the top floor);
- ``errors`` and ``atomic`` are the ground floor of the experiments: they import no other
  experiments module;
- the discovery core (``experiments/discovery/``: ``prim``, ``search``, ``figures``, ``report``,
  ``errors``) imports nothing of the project outside it; only its model-facing modules (``runs``,
  ``policy``: ``commissim discover`` and ``commissim search``) reach the batch engine and the sweeps.

Every ``import`` and ``from ... import`` in a file counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "commissim"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:  # `from pkg import submodule` imports the submodule, else pkg itself
                sub = f"{mod}.{alias.name}"
                found.add(sub if _is_module(sub) else mod)
    return found


def _is_module(name: str) -> bool:
    """Whether ``name`` (``commissim.a.b``) is a module or package of this source tree."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return False
    path = ROOT.joinpath(*parts[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".") or n.split(".")[0] in
            ("model", "experiments", "seeds")}


def _violations(files: list[Path], allowed) -> list[str]:
    out = []
    for f in files:
        for mod in sorted(_ours(_imports(f))):
            if not allowed(mod):
                out.append(f"{f.relative_to(ROOT)} imports {mod}")
    return out


def _within(mod: str, *prefixes: str) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in prefixes)


def test_the_check_sees_imports():
    """The checker finds relative, absolute and in-function imports (so a pass means something)."""
    names = _imports(ROOT / "experiments" / "batch" / "engine.py")
    assert "commissim.experiments.errors" in names and "commissim.experiments.batch.store" in names
    assert "commissim.model.simulation" in _imports(ROOT / "experiments" / "model_runs.py")  # inside a function


def test_model_imports_nothing_from_experiments():
    assert _violations(_files("model"), lambda m: not _within(m, "commissim.experiments", "experiments")) == []


def test_the_viz_imports_only_the_model():
    assert _violations([ROOT / "model" / "app.py"], lambda m: _within(m, "commissim.model")) == []


def test_the_batch_library_knows_only_the_run_function():
    allowed = ("commissim.experiments.batch", "commissim.experiments.errors", "commissim.experiments.atomic")
    assert _violations(_files("experiments/batch"), lambda m: _within(m, *allowed)) == []


@pytest.mark.parametrize("folder", ["experiments/batch", "experiments/compare", "experiments/sensitivity",
                                    "experiments/bench", "experiments/discovery", "experiments/calibrate"])
def test_no_layer_below_the_command_line_imports_it(folder):
    assert _violations(_files(folder), lambda m: not _within(m, "commissim.experiments.cli")) == []


def test_errors_and_atomic_are_the_ground_floor():
    files = [ROOT / "experiments" / "errors.py", ROOT / "experiments" / "atomic.py",
             ROOT / "experiments" / "model_runs.py"]
    ground = ("commissim.experiments.errors", "commissim.experiments.atomic")
    assert _violations(files[:2], lambda m: not _within(m, "commissim.experiments") or _within(m, *ground)) == []
    # model_runs sits on the batch library, below compare and the sweeps
    assert _violations(files[2:], lambda m: not _within(m, "commissim.experiments.compare",
                                                         "commissim.experiments.sensitivity",
                                                         "commissim.experiments.cli")) == []


def test_the_posterior_reader_sits_on_the_ground_floor():
    """``experiments/posterior.py`` (read by compare, validate, sweep, discover and search) needs no pyabc and
    imports nothing of the experiments but the errors."""
    names = _imports(ROOT / "experiments" / "posterior.py")
    assert _violations([ROOT / "experiments" / "posterior.py"],
                       lambda m: not _within(m, "commissim.experiments") or _within(m, "commissim.experiments.errors")) == []
    assert not any(n.startswith("pyabc") for n in names)


def test_the_discovery_core_stands_alone():
    folder = ROOT / "experiments" / "discovery"
    core = [folder / f"{m}.py" for m in ("__init__", "prim", "search", "figures", "report", "errors")]
    assert _violations(core, lambda m: _within(m, "commissim.experiments.discovery")) == []
    # the model-facing modules sit above the sweeps and the batch engine, below the command line
    assert "commissim.experiments.batch" in _imports(folder / "runs.py")
    assert "commissim.experiments.batch" in _imports(folder / "policy.py")
