"""commissim installs as one package, ``commissim``: nothing named ``model``, ``experiments`` or
``seeds`` may land at the top of site-packages, where it would clash with other packages.

Checked three ways, all offline: the installed distribution's metadata (``top_level.txt``,
``RECORD`` and, for an editable install, the finder's mapping); a fresh interpreter started
outside the source tree (what it can import); and a wheel built from a copy of the source
tree (what ``pip install .`` would install).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"model", "experiments", "seeds"}


# Run in a fresh interpreter outside the source tree (``-I``, cwd elsewhere): in the tree, the
# ``commissim.egg-info`` an editable install leaves there would be found instead of the
# installed distribution's metadata, and the tree itself could be imported from.
_PROBE = r"""
import importlib.metadata as md, importlib.util as u, json, re
from pathlib import Path
dist = md.distribution("commissim")
names = set((dist.read_text("top_level.txt") or "").split())
for f in dist.files or ():
    first = f.parts[0]
    if first.endswith((".dist-info", ".egg-info")) or first in ("..", "bin", "Scripts", "__pycache__"):
        continue
    if first.startswith("__editable__"):
        text = Path(dist.locate_file(f)).read_text() if first.endswith(".py") else ""
        m = re.search(r"MAPPING[^=]*=\s*(\{[^}]*\})", text)
        if m:  # the editable finder's mapping: {'commissim': '/path/to/the/source/tree'}
            names |= set(eval(m.group(1), {}))
        continue
    names.add(first.removesuffix(".py"))
found = {n: u.find_spec(n) is not None for n in ("model", "experiments", "seeds")}
from commissim import CommissioningModel, simulate
import commissim.experiments.cli, commissim.seeds, commissim.model.app
print(json.dumps({"top_level": sorted(names), "importable": found}))
"""


def _probe(tmp_path) -> dict:
    out = subprocess.run([sys.executable, "-I", "-c", _PROBE], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_installed_distribution_has_one_top_level_name(tmp_path):
    names = set(_probe(tmp_path)["top_level"])
    assert not names & FORBIDDEN, f"installed at the top of site-packages: {sorted(names & FORBIDDEN)}"
    assert names == {"commissim"}, sorted(names)


def test_a_fresh_interpreter_imports_commissim_only(tmp_path):
    assert _probe(tmp_path)["importable"] == {"model": False, "experiments": False, "seeds": False}


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None,
                    reason="setuptools is not installed (pip install -e '.[dev]' installs it)")
def test_the_wheel_holds_commissim_only(tmp_path):
    """``pip wheel --no-deps --no-build-isolation`` of a copy of the tracked source tree."""
    src = tmp_path / "src"
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    for name in tracked.stdout.splitlines():
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "--wheel-dir", str(tmp_path / "dist"), str(src)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("commissim-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        files = zf.namelist()
    top = {f.split("/", 1)[0] for f in files if not f.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"commissim"}, sorted(top)
    for needed in ("commissim/__init__.py", "commissim/model/model.py", "commissim/model/scenarios/as_happened.toml",
                   "commissim/seeds/icbs.csv", "commissim/seeds/icb_boundaries_2023.geojson",
                   "commissim/experiments/configs/sobol_delegation.toml"):
        assert needed in files, needed
    assert not [f for f in files if f.startswith("commissim/tests/") or "/.venv/" in f]
    # the installed (non-editable) package draws its maps from the boundaries it ships
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import commissim.model.maps as m; "
             "assert m.__file__.startswith(sys.argv[1]), m.__file__; print(len(m.boundaries()))")
    out = subprocess.run([sys.executable, "-c", probe, str(site)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "42", out.stderr[-2000:]
