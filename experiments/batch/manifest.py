"""The manifest of a results folder: what was run, with which versions, when, and how far it got.

``manifest.json`` records the batch's configuration and its hash (a folder holding another
configuration is not resumed), every design point with its per-run seeds, the versions of
Python and the packages, the git commit of the source tree, the run function's fingerprint,
the executor, start/finish times and the counts of finished and failed runs.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

from .. import atomic

__all__ = ["MANIFEST_NAME", "FORMAT_VERSION", "package_versions", "git_commit", "config_hash", "describe_diff",
           "write_manifest", "read_manifest"]

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
BASE_PACKAGES = ("commissim", "numpy", "pandas", "pyarrow")


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of Python, commissim, numpy, pandas, pyarrow and the ``extra`` distributions."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in (*BASE_PACKAGES, *extra):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def git_commit(start: Path | None = None) -> str | None:
    """The commit of the source tree (read from ``.git``; ``git rev-parse HEAD`` as a fallback)."""
    here = Path(start or Path(__file__).resolve().parent)
    for folder in (here, *here.parents):
        git = folder / ".git"
        if not git.exists():
            continue
        try:
            if git.is_file():  # a worktree: "gitdir: <path>"
                gitdir = Path(git.read_text().split(":", 1)[1].strip())
                git = gitdir if gitdir.is_absolute() else folder / gitdir
            head = (git / "HEAD").read_text().strip()
            if not head.startswith("ref:"):
                return head or None
            ref = head.split(":", 1)[1].strip()
            for base in (git, git.parent.parent if git.parent.name == "worktrees" else git):
                if (base / ref).is_file():
                    return (base / ref).read_text().strip()
                packed = base / "packed-refs"
                if packed.is_file():
                    for line in packed.read_text().splitlines():
                        if line.endswith(" " + ref):
                            return line.split()[0]
            return None  # a branch without commits yet
        except (OSError, IndexError):
            break
    try:  # last resort (e.g. unusual .git layouts); tolerate no git at all
        import subprocess

        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return res.stdout.strip() or None if res.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _short(value: Any, limit: int = 80) -> str:
    """A value for an error message: lists summarised, long text cut."""
    if isinstance(value, (list, tuple)) and len(value) > 6:
        kinds = sorted({str(v) for v in value})
        if len(kinds) <= 3:
            return f"{len(value)} items ({', '.join(kinds)})"
        return f"{len(value)} items"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_diff(old_config: dict, old_manifest: dict, new: dict) -> str:
    """What differs between the batch in a folder and the one asked for (for the refusal)."""
    diffs = []
    for key in ("label", "years", "replicates", "root_seed", "series", "function", "function_kwargs", "point_ids"):
        if key in old_config and old_config.get(key) != new.get(key):
            diffs.append(f"{key} {_short(old_config.get(key))} -> {_short(new.get(key))}")
            if key == "years":
                diffs[-1] += (" (every run starts from the base year, so a run of other length is a new run: "
                              "nothing can be kept)")
    if bool(old_config.get("common_seeds")) != bool(new.get("common_seeds")):
        kinds = {False: "its own seeds per design point", True: "common seeds (common random numbers)"}
        diffs.append(f"seeds {kinds[bool(old_config.get('common_seeds'))]} -> {kinds[bool(new.get('common_seeds'))]}")
    old_points = [{"scenario": d.get("scenario"), **d.get("overrides", d.get("parameters", {}))}
                  for d in old_manifest.get("design", [])]
    if old_points and old_points != new["design"]:
        old_s = [p["scenario"] for p in old_points]
        new_s = [p["scenario"] for p in new["design"]]
        if old_s != new_s:
            diffs.append(f"scenarios {_short(old_s)} -> {_short(new_s)}")
        else:
            diffs.append(f"design parameters differ ({len(old_points)} -> {len(new['design'])} design points)")
    return "; ".join(diffs) or "configuration differs"


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically, streamed (the text of a large design is never held whole in
    memory: a 100,000-point sweep's manifest is some hundreds of MB); the same text as ``json.dumps``."""
    with atomic.replacing(out / MANIFEST_NAME) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        json.dump(manifest, fh, indent=2, default=str)


def read_manifest(out: Path) -> dict[str, Any]:
    return json.loads((Path(out) / MANIFEST_NAME).read_text())
