"""The results folder: parts and markers as runs finish, resume, consolidation, loading.

``parts/`` holds one set of part files per finished chunk (``parts/<table>/<tag>.arrow``,
Arrow IPC files, made by the worker that ran the chunk) and a marker
``parts/_done/<tag>.json`` naming its finished and failed runs, written last:
a chunk counts as finished only once all its parts are in place. Every file is written
atomically (:mod:`commissim.experiments.atomic`), so an interruption never leaves a
half-written file; a part without its marker is an orphan and is deleted on resume. After
the runs the parts are consolidated (again atomically, and idempotently: always rebuilt
from the parts) into ``<table>.parquet`` and ``<table>.csv`` at the top of the folder.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import BatchConfigError, UserError, option
from .design import ID_COLUMNS
from .manifest import MANIFEST_NAME, describe_diff
from .tables import conform, ipc_schema, read_ipc, unified_schema

__all__ = ["Results", "load_results", "consolidate", "prepare_folder", "scan_parts", "write_chunk",
           "PARTS", "staging_folder", "holds_results", "swap_in"]

PARTS = "parts"
DONE = "_done"


# --------------------------------------------------------------------------- the folder
def _clear_results(out: Path, tables: tuple[str, ...]) -> None:
    """Remove what a batch wrote in ``out``: its manifest, parts and tables."""
    atomic.remove_outputs(out, [MANIFEST_NAME, PARTS, *(f"{t}.{s}" for t in tables for s in ("parquet", "csv"))],
                          ignore_errors=True)


def prepare_folder(out: Path, config: dict, config_hash: str, overwrite: bool, tables: tuple[str, ...],
                   derived: tuple[str, ...] = (), extend_hash: str | None = None) -> dict | None:
    """Create, clear or check the results folder; return the old manifest when resuming.

    ``derived``: files and folders made from the results (a report, figures); they are
    removed with the results when the folder is overwritten. ``extend_hash``: the hash of the
    configuration without ``replicates``; a folder of the same batch with fewer replicates is
    extended (its runs are kept, only the new replicates run), one with more is refused.
    """
    manifest_path = out / MANIFEST_NAME
    check_writable(out)  # creates the folder
    if not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return None
    if not manifest_path.is_file():
        raise BatchConfigError(
            f"output folder '{out}' is not empty and holds no {MANIFEST_NAME}, so it is not a commissim "
            f"results folder; choose a new or empty folder with {option('out')}"
        )
    try:
        old = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        if not overwrite:
            raise BatchConfigError(
                f"cannot read {manifest_path} ({exc}); pass {option('overwrite')} to start again"
            ) from None
        old = {}
    if overwrite:
        _clear_results(out, tables)
        atomic.remove_outputs(out, derived, ignore_errors=True)
        return None
    if old.get("config_hash") == config_hash:
        return old
    old_reps = old.get("config", {}).get("replicates")
    new_reps = config.get("replicates")
    if extend_hash is not None and old.get("extend_hash") == extend_hash and old_reps is not None:
        if new_reps > old_reps:
            return {**old, "extending_from": old_reps}
        # More seeds than asked for: the folder is reported on as it is (the caller says so).
        return {**old, "holding_more": old_reps}
    raise BatchConfigError(
        f"results folder '{out}' holds a different batch ({describe_diff(old.get('config', {}), old, config)}); "
        f"choose another folder with {option('out')}, or pass {option('overwrite')} to replace it"
    )


def staging_folder(out: Path) -> Path:
    """Where ``--overwrite`` builds the new batch: a hidden folder beside ``out`` (same file system,
    so the finished batch is moved into place by a rename)."""
    out = Path(out)
    return out.with_name(f".{out.name}.overwrite")


def holds_results(out: Path) -> bool:
    """``out`` exists and holds something (the old results an overwrite must not lose)."""
    out = Path(out)
    return out.is_dir() and any(out.iterdir())


def swap_in(staging: Path, out: Path, batch_names: tuple[str, ...]) -> None:
    """Replace ``out`` by the finished batch in ``staging``: two renames, then the old folder is removed.

    Files of the old folder that no batch writes (not in ``batch_names``, not in the new folder)
    are moved into the new one, so an overwrite replaces results, never someone's notes.
    """
    trash = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    out.rename(trash)
    try:
        staging.rename(out)
    except BaseException:
        trash.rename(out)  # put the old results back
        raise
    for f in trash.iterdir():
        if f.name not in batch_names and not (out / f.name).exists():
            f.rename(out / f.name)
    shutil.rmtree(trash, ignore_errors=True)


def check_writable(out: Path) -> None:
    """Create the results folder; refuse, in one line, one that cannot be created or written
    (read-only file system, no permission, a file in the way, a path the system cannot hold)."""
    atomic.check_output_folder(out, error=BatchConfigError)


# --------------------------------------------------------------------------- parts
def scan_parts(parts: Path) -> tuple[set[str], set[str]]:
    """Finished and failed run ids from the chunk markers; delete orphan and temporary files."""
    done_dir = parts / DONE
    ok: set[str] = set()
    failed: set[str] = set()
    tags: set[str] = set()
    if done_dir.is_dir():
        for marker in done_dir.glob("*.json"):
            try:
                info = json.loads(marker.read_text())
            except (OSError, json.JSONDecodeError):
                marker.unlink()  # unreadable marker: its chunk will be re-run
                continue
            tags.add(marker.stem)
            ok.update(info.get("ok", []))
            failed.update(info.get("failed", []))
    if parts.is_dir():
        for folder in parts.iterdir():
            if not folder.is_dir() or folder.name == DONE:
                continue
            for f in folder.iterdir():
                if f.name.startswith(".") or f.stem not in tags:  # temporary file or orphan part
                    f.unlink()
    for f in done_dir.glob(".*") if done_dir.is_dir() else ():
        f.unlink()
    return ok, failed - ok


PART_SUFFIX = ".arrow"


def write_chunk(parts: Path, files: dict[str, bytes], ok_ids: list[str], failed_ids: list[str], when: str) -> None:
    """Write a finished chunk's part files (table -> Arrow IPC bytes), then its marker (last)."""
    tag = f"{(ok_ids or failed_ids)[0]}-{uuid.uuid4().hex[:8]}"
    for name, data in files.items():
        (parts / name).mkdir(exist_ok=True)
        atomic.write_bytes(parts / name / f"{tag}{PART_SUFFIX}", data)
    (parts / DONE).mkdir(exist_ok=True)
    atomic.write_text(parts / DONE / f"{tag}.json", json.dumps({"ok": ok_ids, "failed": failed_ids, "written": when}))


def finished_parts(parts: Path, table: str) -> list[Path]:
    done = {m.stem for m in (parts / DONE).glob("*.json")} if (parts / DONE).is_dir() else set()
    folder = parts / table
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.glob(f"*{PART_SUFFIX}") if f.stem in done)


def _part_tables(parts: Path) -> list[str]:
    """The tables the parts hold (summaries first, failures last)."""
    names = [f.name for f in parts.iterdir() if f.is_dir() and f.name != DONE] if parts.is_dir() else []
    return sorted(names, key=lambda n: (n != "summaries", n == "failures", n))


# --------------------------------------------------------------------------- consolidation
def _part_order(order: dict[int, int] | None):
    """Sort key of a part file: its first run's place in the design (point order, replicate)."""

    def key(f: Path) -> tuple[int, int, str]:
        m = re.match(r"p(\d+)r(\d+)-", f.stem)
        if not m:
            return (sys.maxsize, 0, f.stem)
        point, replicate = int(m.group(1)), int(m.group(2))
        return ((order or {}).get(point, point), replicate, f.stem)

    return key


def _stream(files: list[Path], out_parquet: Path, out_csv: Path) -> int:
    """Concatenate part files into one Parquet and one CSV file, one part in memory at a time."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    schema = unified_schema([ipc_schema(f) for f in files])
    rows = 0
    with atomic.replacing(out_parquet) as tmp_pq, atomic.replacing(out_csv) as tmp_csv:
        with pq.ParquetWriter(tmp_pq, schema) as writer, pcsv.CSVWriter(tmp_csv, schema) as csv_writer:
            for f in files:
                t = conform(read_ipc(f), schema)
                writer.write_table(t)
                csv_writer.write_table(t)
                rows += t.num_rows
    return rows


def _sorted_summaries(files: list[Path], order: dict[int, int] | None):
    """All summaries, one row per run (duplicates, never expected, dropped), in design order."""
    import pyarrow as pa

    tables = [read_ipc(f) for f in files]
    schema = unified_schema([t.schema for t in tables])
    table = pa.concat_tables([conform(t, schema) for t in tables])
    df = table.to_pandas().drop_duplicates("run_id")
    df["_order"] = df["point"].map(order) if order else df["point"]
    df = df.sort_values(["_order", "replicate"], kind="stable").drop(columns="_order")
    return pa.Table.from_pandas(df, schema=schema, preserve_index=False)


def _latest_failures(files: list[Path], ok: set[str], order: dict[int, int] | None):
    """The latest failure record of each run that has not succeeded since, in design order."""
    import pandas as pd

    frames = [read_ipc(f).to_pandas() for f in files]
    fail = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not fail.empty:
        fail = fail[~fail["run_id"].isin(ok)].sort_values("failed_at").drop_duplicates("run_id", keep="last")
        fail["_order"] = fail["point"].map(order) if order else fail["point"]
        fail = fail.sort_values(["_order", "replicate"], kind="stable").drop(columns="_order")
    return fail


def consolidate(out: Path | str, point_order: list[int] | None = None) -> dict[str, int]:
    """Rebuild the consolidated tables of a results folder from its parts (atomic, idempotent).

    Returns the row count of each table written. Summaries and failures are sorted by design
    point (in ``point_order``, default the manifest's, else by point id) and replicate; the
    other tables are streamed part by part (in the design order of each part's first run), so memory
    stays flat however many runs the folder holds.
    """
    import pyarrow as pa

    out = Path(out)
    parts = out / PARTS
    if point_order is None and (out / MANIFEST_NAME).is_file():
        point_order = json.loads((out / MANIFEST_NAME).read_text()).get("config", {}).get("point_ids")
    order = {int(p): i for i, p in enumerate(point_order)} if point_order else None
    counts: dict[str, int] = {}
    ok, _ = scan_parts(parts)
    for name in _part_tables(parts):
        files = finished_parts(parts, name)
        if name == "summaries":
            if files:
                table = _sorted_summaries(files, order)
                atomic.write_parquet(table, out / "summaries.parquet")
                atomic.write_csv(table, out / "summaries.csv")
                counts[name] = table.num_rows
        elif name == "failures":
            fail = _latest_failures(files, ok, order)
            if fail.empty:
                atomic.remove_outputs(out, ["failures.parquet", "failures.csv"], ignore_errors=True)
            else:
                t = pa.Table.from_pandas(fail, preserve_index=False)
                atomic.write_parquet(t, out / "failures.parquet")
                atomic.write_csv(t, out / "failures.csv")
            counts[name] = len(fail)
        elif files:
            counts[name] = _stream(sorted(files, key=_part_order(order)), out / f"{name}.parquet", out / f"{name}.csv")
    counts.setdefault("failures", 0)
    if counts["failures"] == 0:
        atomic.remove_outputs(out, ["failures.parquet", "failures.csv"], ignore_errors=True)
    return counts


# --------------------------------------------------------------------------- loading
@dataclass
class Results:
    """A results folder loaded into pandas: ``summaries``, ``failures`` (None if none failed)
    and every other table by name, e.g. ``res.series`` and ``res.providers`` (None when the
    folder holds no such table or it was not asked for)."""

    folder: Path
    manifest: dict
    summaries: Any  # pandas.DataFrame
    failures: Any | None
    tables: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.__dict__.get("tables", {}).get(name)


def load_results(folder: str | Path, **wanted: bool) -> Results:
    """Load a results folder (consolidated tables, or the parts of an unfinished batch).

    Every table is loaded unless a keyword says otherwise, e.g. ``series=False``.
    """
    import pandas as pd

    folder = Path(folder)
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise UserError(f"'{folder}' is not a commissim results folder (no {MANIFEST_NAME})")
    manifest = json.loads(manifest_path.read_text())

    def table(name: str):
        f = folder / f"{name}.parquet"
        if f.is_file():
            return pd.read_parquet(f)
        files = finished_parts(folder / PARTS, name)
        if not files:
            return None
        return pd.concat([read_ipc(p).to_pandas() for p in files], ignore_index=True)

    names = [*_part_tables(folder / PARTS), *(f.stem for f in sorted(folder.glob("*.parquet")))]
    others = {n: table(n) for n in dict.fromkeys(names) if n not in ("summaries", "failures") and wanted.get(n, True)}
    summaries = table("summaries")
    if summaries is None:
        summaries = pd.DataFrame(columns=list(ID_COLUMNS))
    return Results(folder, manifest, summaries, table("failures"), others)
