"""The batch run engine: many model runs, on any executor, streamed to a results folder.

Every batch command (``commissim compare``, the sweeps, the scripts in this folder)
runs its model runs through :func:`run_batch`. A batch is

- a **design**: a list of design points, each a dict ``{"scenario": name, **parameters}``;
- **replicates**: how many seeds each point is run with;
- **years**, a **root seed**, an **output folder** and an **executor**.

Seeds
    Run ``(point, replicate)`` gets the seed
    ``int(numpy.random.SeedSequence(root_seed, spawn_key=(point, replicate)).generate_state(1)[0])``
    (see :func:`run_seed`), passed to the model as ``rng=``. A run's result therefore depends
    only on its design point, its replicate number and the root seed - never on the
    number of processes, the chunking or the order in which runs finish. Every run's
    seed is recorded in ``summaries.parquet`` and in ``manifest.json``.

Executors
    ``"processes"`` (default: a ``concurrent.futures.ProcessPoolExecutor`` with one
    worker per CPU), ``"serial"`` (in this process: easiest to debug), or any object
    with the ``concurrent.futures.Executor`` interface, e.g. a Dask cluster's
    ``distributed.Client(...).get_executor()`` (every Dask worker needs commissim
    installed). Runs are grouped into chunks so that each task lasts about a second
    (or ``chunk_size`` runs), which keeps per-task overhead small on any executor.

Results folder (written as runs complete)
    ``parts/`` holds one set of Parquet part files per finished chunk
    (``summaries/``, ``series/``, ``providers/``, ``failures/``) and a marker in
    ``parts/_done/`` written last. Every file is written to a temporary name in
    the same folder and moved into place with ``os.replace``, so an interruption
    never leaves a half-written file; a part without its marker is an orphan and is
    deleted on resume. After the runs the parts are consolidated (again atomically,
    and idempotently: always rebuilt from the parts) into ``summaries.parquet``,
    ``series.parquet``, ``providers.parquet``, ``failures.parquet`` and CSV copies.

Resume
    Running the same batch into the same folder skips every finished run and never
    writes a run twice; failed runs are retried. A folder holding a *different*
    batch is refused (choose another folder, or overwrite it).

Failures
    An exception inside a run is caught, recorded with the run's id, point,
    replicate, seed, parameters, error type, message and traceback, and the batch
    carries on; the end of the batch prints a summary of failures.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from commissim.experiments.cli import UserError

__all__ = [
    "BatchConfigError",
    "BatchResult",
    "Results",
    "run_batch",
    "run_seed",
    "make_run_id",
    "load_results",
    "MANIFEST_NAME",
]

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
DEFAULT_BASE_YEAR = 2022  # financial year 2022-23 (model.scenarios.BASE_YEAR)
TARGET_TASK_SECONDS = 1.0  # adaptive chunks aim for tasks of about this length (>= 0.5 s)
MAX_CHUNK = 200  # bounds the data a chunk holds in memory (memory flat in the number of runs)
TABLES = ("summaries", "series", "providers", "failures")
# Keys of a run's result that are not scalar summary measures.
_NON_MEASURE_KEYS = {"scenario", "years", "series", "provider_income_change"}
_ID_COLUMNS = ("run_id", "point", "replicate", "seed", "scenario")


class BatchConfigError(UserError):
    """The batch cannot start as asked (bad design, or a folder holding another batch)."""


class BatchAborted(RuntimeError):
    """The executor itself broke (e.g. a worker process was killed); finished runs are kept."""


# --------------------------------------------------------------------------- seeds / ids
def run_seed(root_seed: int, point: int, replicate: int) -> int:
    """The seed of run ``(point, replicate)``: independent of processes, chunks and order."""
    ss = np.random.SeedSequence(int(root_seed), spawn_key=(int(point), int(replicate)))
    return int(ss.generate_state(1)[0])


def make_run_id(point: int, replicate: int) -> str:
    """A run's id, e.g. ``p0003r0012`` (design point 3, replicate 12)."""
    return f"p{point:04d}r{replicate:04d}"


# --------------------------------------------------------------------------- small helpers
def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def _jsonable(value: Any) -> Any:
    """Numpy scalars and tuples to plain JSON values (for the manifest and config hash)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    _atomic_write_bytes(Path(path), text.encode("utf-8"))


def atomic_save_figure(fig, path: Path, **savefig_kwargs) -> Path:
    """Save a matplotlib figure as PNG through a temporary file and ``os.replace``."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig_kwargs)
    _atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")


def _atomic_write_table(table, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = _tmp_path(path)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def package_versions() -> dict[str, str]:
    """Versions of commissim, Mesa, numpy, pandas, pyarrow and Python."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("commissim", "mesa", "numpy", "pandas", "pyarrow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    if out["commissim"] == "not installed":  # running from a source tree
        try:
            import tomllib

            pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
            out["commissim"] = tomllib.loads(pyproject.read_text())["project"]["version"] + " (source tree)"
        except Exception:  # noqa: BLE001 - best effort only
            pass
    return out


def model_fingerprint() -> str:
    """A hash of what a run's results depend on: the model's code, scenario files and seed
    tables. Resuming a folder made with a different fingerprint would mix two models."""
    from commissim import model as model_pkg
    from commissim.model.data import seeds_dir

    root = Path(model_pkg.__file__).resolve().parent
    files = sorted(root.rglob("*.py")) + sorted(root.rglob("*.toml")) + sorted(Path(seeds_dir()).glob("*.csv"))
    h = hashlib.sha256()
    for f in files:
        if "__pycache__" in f.parts or f.name == "app.py":  # the browser page does not affect runs
            continue
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


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


def year_label(round_: int, base_year: int = DEFAULT_BASE_YEAR) -> str:
    """Round 0 -> '2022-23', round 1 -> '2023-24', ..."""
    y = base_year + int(round_)
    return f"{y}-{(y + 1) % 100:02d}"


def _func_name(func: Callable) -> str:
    return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"


def _default_func() -> Callable:
    from commissim.model.simulation import simulate

    return simulate


# --------------------------------------------------------------------------- design
def _model_validate(point: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a design point with the model's registry; return (checked point, manifest description)."""
    from commissim.model.errors import ModelInputError
    from commissim.model.params import DEFAULTS, validate_parameters
    from commissim.model.scenarios import load_scenario

    scenario = point.get("scenario", "nhse_direct")
    params = {k: v for k, v in point.items() if k != "scenario"}
    try:
        scen = load_scenario(scenario)
        checked = validate_parameters(params, where=where)
    except ModelInputError as exc:
        raise BatchConfigError(str(exc)) from None
    resolved = {**DEFAULTS, **scen.parameters, **checked}
    changes = [
        {"year": year_label(y - DEFAULT_BASE_YEAR), **{k: v for k, v in ch.items() if k not in checked}}
        for y, ch in scen.changes
    ]
    describe = {
        "scenario_name": scen.name,
        "description": scen.description,
        "source": scen.source,
        "overrides": checked,
        "parameters": resolved,  # in force from the base year
        "changes": [c for c in changes if len(c) > 1],  # scenario changes not overridden by the user
    }
    return {"scenario": scenario, **checked}, describe


def _normalise_design(design: Sequence[dict[str, Any]], validate: Any) -> tuple[list[dict], list[dict]]:
    if isinstance(design, dict) or not isinstance(design, Iterable):
        raise BatchConfigError("design must be a list of design points (dicts with 'scenario' and parameters)")
    points, describes = [], []
    for i, raw in enumerate(design):
        if not isinstance(raw, dict):
            raise BatchConfigError(f"design point {i}: expected a dict of scenario and parameters, got {raw!r}")
        point = {"scenario": raw.get("scenario", "nhse_direct"), **{k: v for k, v in raw.items() if k != "scenario"}}
        if not isinstance(point["scenario"], (str, Path)):
            raise BatchConfigError(f"design point {i}: 'scenario' must be a name or a path, got {point['scenario']!r}")
        point["scenario"] = str(point["scenario"])
        where = f"design point {i} ({point['scenario']})"
        if validate == "model":
            point, describe = _model_validate(point, where)
        elif callable(validate):
            point = dict(validate(point))
            describe = {"parameters": {k: v for k, v in point.items() if k != "scenario"}}
        elif validate is None:
            describe = {"parameters": {k: v for k, v in point.items() if k != "scenario"}}
        else:
            raise BatchConfigError(f"validate={validate!r} is not allowed; expected 'model', None or a function")
        points.append(_jsonable(point))
        describes.append(_jsonable(describe))
    if not points:
        raise BatchConfigError("the design is empty: give at least one design point")
    return points, describes


def _check_int(name: str, value: Any, low: int, option: str | None = None) -> int:
    label = option or name
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise BatchConfigError(f"{label}: value {value!r} is not allowed; expected a whole number >= {low}")
    return int(value)


# --------------------------------------------------------------------------- the worker side
def _ignore_sigint() -> None:  # worker initializer: Ctrl-C is handled by the parent only
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_chunk(func: Callable, func_kwargs: dict, years: int, series: bool, tasks: list[tuple]) -> dict:
    """Run a chunk of runs (a task for any executor): results and failures, never raises for a run.

    ``tasks`` holds ``(run_id, point, replicate, seed, scenario, parameters)`` tuples.
    """
    done, failed = [], []
    t_chunk = time.perf_counter()
    for run_id, point, replicate, seed, scenario, params in tasks:
        t0 = time.perf_counter()
        try:
            kwargs = dict(func_kwargs)
            if series:
                kwargs["series"] = True
            result = func(scenario=scenario, years=years, rng=seed, **kwargs, **params)
            if not isinstance(result, dict):
                raise TypeError(f"the run function returned {type(result).__name__}, expected a dict of measures")
        except Exception as exc:  # noqa: BLE001 - a failing run is recorded, the batch carries on
            failed.append(
                {
                    "run_id": run_id,
                    "point": point,
                    "replicate": replicate,
                    "seed": seed,
                    "scenario": scenario,
                    "parameters": json.dumps(_jsonable(params), sort_keys=True),
                    "error_type": type(exc).__name__,
                    "message": str(exc),
                    "traceback": traceback.format_exc(),
                    "failed_at": _now(),
                }
            )
            continue
        done.append((run_id, point, replicate, seed, scenario, params, result, time.perf_counter() - t0))
    return {"done": done, "failed": failed, "seconds": time.perf_counter() - t_chunk}


# --------------------------------------------------------------------------- the parent side
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating, np.bool_)) and not isinstance(v, complex)


def _chunk_tables(out: dict, years: int, param_names: list[str], base_year: int) -> dict[str, Any]:
    """Arrow tables (summaries, series, providers, failures) of one finished chunk."""
    import pyarrow as pa

    tables: dict[str, Any] = {}
    done = out["done"]
    if done:
        rows: dict[str, list] = {c: [] for c in _ID_COLUMNS}
        for p in param_names:
            rows[p] = []
        measures: dict[str, list] = {}
        n = 0
        for run_id, point, replicate, seed, scenario, params, result, secs in done:
            for c, v in zip(_ID_COLUMNS, (run_id, point, replicate, seed, scenario)):
                rows[c].append(v)
            for p in param_names:
                rows[p].append(params.get(p))
            for k, v in result.items():
                if k in _NON_MEASURE_KEYS or not _is_number(v):
                    continue
                col = measures.setdefault(k, [None] * n)
                col.append(float(v))
            n += 1
            for col in measures.values():
                if len(col) < n:
                    col.append(None)
        measures["run_seconds"] = [d[-1] for d in done]
        summaries = {**rows, **{k: v for k, v in measures.items() if k not in rows}}
        tables["summaries"] = pa.table(summaries)

        # Series: long format, one row per run and round.
        s_rows: dict[str, list] = {"run_id": [], "point": [], "replicate": [], "scenario": [], "round": [], "year": []}
        s_meas: dict[str, list] = {}
        m = 0
        for run_id, point, replicate, _seed, scenario, _params, result, _secs in done:
            ser = result.get("series")
            if not isinstance(ser, dict) or not ser:
                continue
            length = max(len(v) for v in ser.values())
            for r in range(length):
                s_rows["run_id"].append(run_id)
                s_rows["point"].append(point)
                s_rows["replicate"].append(replicate)
                s_rows["scenario"].append(scenario)
                s_rows["round"].append(r)
                s_rows["year"].append(year_label(r, base_year))
            for k, vals in ser.items():
                col = s_meas.setdefault(k, [None] * m)
                col.extend(float(v) if v is not None else None for v in vals)
                col.extend([None] * (length - len(vals)))
            m += length
            for col in s_meas.values():
                if len(col) < m:
                    col.extend([None] * (m - len(col)))
        if m:
            tables["series"] = pa.table({**s_rows, **{k: v for k, v in s_meas.items() if k not in s_rows}})

        # Per-provider end-of-run income change (long format), when the model returns it.
        p_rows: dict[str, list] = {
            "run_id": [], "point": [], "replicate": [], "scenario": [], "provider": [], "income_change": []
        }
        for run_id, point, replicate, _seed, scenario, _params, result, _secs in done:
            vec = result.get("provider_income_change")
            if vec is None:
                continue
            vec = [float(v) for v in vec]
            k = len(vec)
            p_rows["run_id"].extend([run_id] * k)
            p_rows["point"].extend([point] * k)
            p_rows["replicate"].extend([replicate] * k)
            p_rows["scenario"].extend([scenario] * k)
            p_rows["provider"].extend(range(k))
            p_rows["income_change"].extend(vec)
        if p_rows["run_id"]:
            tables["providers"] = pa.table(p_rows)
    if out["failed"]:
        tables["failures"] = pa.Table.from_pylist(out["failed"])
    return tables


def _scan_parts(parts: Path) -> tuple[set[str], set[str]]:
    """Finished and failed run ids from the chunk markers; delete orphan and temporary files."""
    done_dir = parts / "_done"
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
    for table in TABLES:
        folder = parts / table
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            if f.name.startswith(".") or f.stem not in tags:  # temporary file or orphan part
                f.unlink()
    for f in done_dir.glob(".*") if done_dir.is_dir() else ():
        f.unlink()
    return ok, failed - ok


def _write_chunk(parts: Path, tables: dict[str, Any], ok_ids: list[str], failed_ids: list[str]) -> None:
    tag = f"{(ok_ids or failed_ids)[0]}-{uuid.uuid4().hex[:8]}"
    for name in ("series", "providers", "failures", "summaries"):
        if name in tables:
            _atomic_write_table(tables[name], parts / name / f"{tag}.parquet")
    # The marker is written last: a chunk counts as finished only once all its parts are in place.
    atomic_write_text(
        parts / "_done" / f"{tag}.json", json.dumps({"ok": ok_ids, "failed": failed_ids, "written": _now()})
    )


def _finished_parts(parts: Path, table: str) -> list[Path]:
    done = {m.stem for m in (parts / "_done").glob("*.json")} if (parts / "_done").is_dir() else set()
    folder = parts / table
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.glob("*.parquet") if f.stem in done)


def _unified_schema(files: list[Path]):
    """Union of the parts' columns (first non-null type of each, ids first)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names: list[str] = []
    types: dict[str, Any] = {}
    for f in files:
        for fld in pq.read_schema(f):
            if fld.name not in types:
                names.append(fld.name)
                types[fld.name] = fld.type
            elif pa.types.is_null(types[fld.name]) and not pa.types.is_null(fld.type):
                types[fld.name] = fld.type
    return pa.schema([pa.field(n, pa.float64() if pa.types.is_null(types[n]) else types[n]) for n in names])


def _conform(table, schema):
    import pyarrow as pa

    cols = []
    for fld in schema:
        if fld.name in table.column_names:
            col = table.column(fld.name)
            cols.append(col if col.type == fld.type else col.cast(fld.type))
        else:
            cols.append(pa.nulls(table.num_rows, type=fld.type))
    return pa.table(cols, schema=schema)


def _consolidate_stream(files: list[Path], out_parquet: Path, out_csv: Path | None) -> int:
    """Concatenate part files into one Parquet (and CSV) file, one part in memory at a time."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    schema = _unified_schema(files)
    tmp_pq, tmp_csv = _tmp_path(out_parquet), _tmp_path(out_csv) if out_csv else None
    rows = 0
    try:
        with pq.ParquetWriter(tmp_pq, schema) as writer:
            csv_writer = pcsv.CSVWriter(tmp_csv, schema) if tmp_csv else None
            try:
                for f in files:
                    t = _conform(pq.read_table(f), schema)
                    writer.write_table(t)
                    if csv_writer:
                        csv_writer.write_table(t)
                    rows += t.num_rows
            finally:
                if csv_writer:
                    csv_writer.close()
        os.replace(tmp_pq, out_parquet)
        if tmp_csv:
            os.replace(tmp_csv, out_csv)
    finally:
        for t in (tmp_pq, tmp_csv):
            if t is not None and t.exists():
                t.unlink()
    return rows


def _first_run_id(f: Path) -> str:
    return f.stem.rsplit("-", 1)[0]


def consolidate(out: Path | str) -> dict[str, int]:
    """Rebuild the consolidated tables of a results folder from its parts (atomic, idempotent).

    Returns the row count of each table written. Summaries are sorted by run; series
    and providers are streamed part by part (ordered by each part's first run), so
    memory stays flat however many runs the folder holds.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    out = Path(out)
    parts = out / "parts"
    counts: dict[str, int] = {}
    ok, _ = _scan_parts(parts)

    # Summaries: one row per run, small - sorted in memory, duplicates (never expected) dropped.
    files = _finished_parts(parts, "summaries")
    if files:
        schema = _unified_schema(files)
        table = pa.concat_tables([_conform(pq.read_table(f), schema) for f in files])
        df = table.to_pandas().drop_duplicates("run_id").sort_values(["point", "replicate"], kind="stable")
        table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
        _atomic_write_table(table, out / "summaries.parquet")
        tmp = _tmp_path(out / "summaries.csv")
        pcsv.write_csv(table, tmp)
        os.replace(tmp, out / "summaries.csv")
        counts["summaries"] = table.num_rows
    for name in ("series", "providers"):
        files = sorted(_finished_parts(parts, name), key=_first_run_id)
        if files:
            counts[name] = _consolidate_stream(files, out / f"{name}.parquet", out / f"{name}.csv")

    # Failures: the latest record of each run that has not succeeded since.
    files = _finished_parts(parts, "failures")
    frames = [pq.read_table(f).to_pandas() for f in files]
    fail = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not fail.empty:
        fail = fail[~fail["run_id"].isin(ok)].sort_values("failed_at").drop_duplicates("run_id", keep="last")
        fail = fail.sort_values(["point", "replicate"], kind="stable")
    if fail.empty:
        for suffix in ("parquet", "csv"):
            (out / f"failures.{suffix}").unlink(missing_ok=True)
    else:
        t = pa.Table.from_pandas(fail, preserve_index=False)
        _atomic_write_table(t, out / "failures.parquet")
        tmp = _tmp_path(out / "failures.csv")
        pcsv.write_csv(t, tmp)
        os.replace(tmp, out / "failures.csv")
    counts["failures"] = len(fail)
    return counts


# --------------------------------------------------------------------------- executors
class _SerialExecutor(cf.Executor):
    """Runs each task at once in this process (the ``"serial"`` executor)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            fut.set_exception(exc)
        return fut


def _mp_context(preload: Sequence[str] = ()):
    """Worker start method: ``forkserver`` where the platform has it, else ``spawn``.

    Plain ``fork`` is not used: after pyarrow or a thread pool has started threads in this
    process, forking may deadlock (Python warns about it), and Python 3.14 moved away from
    it too. The fork server imports the run function's module once (``preload``), so
    workers start without re-importing Mesa. As with ``spawn``, a script that starts a
    batch needs the ``if __name__ == "__main__":`` guard.
    """
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["__main__", *(m for m in preload if m and m != "__main__")])
        return ctx
    return mp.get_context("spawn")


def _make_executor(executor: Any, workers: int | None, preload: Sequence[str] = ()) -> tuple[cf.Executor, int, bool]:
    """(executor, number of workers, whether we own it and must shut it down)."""
    if executor == "serial":
        return _SerialExecutor(), 1, True
    if executor == "processes":
        n = workers or os.cpu_count() or 1
        return cf.ProcessPoolExecutor(max_workers=n, mp_context=_mp_context(preload), initializer=_ignore_sigint), n, True
    if isinstance(executor, str):
        raise BatchConfigError(
            f"executor: value {executor!r} is not allowed; expected 'serial', 'processes' or a "
            "concurrent.futures.Executor (e.g. distributed.Client(...).get_executor())"
        )
    if not callable(getattr(executor, "submit", None)):
        raise BatchConfigError(
            f"executor: {executor!r} has no submit(); expected 'serial', 'processes' or a concurrent.futures.Executor"
        )
    n = workers or getattr(executor, "_max_workers", None) or os.cpu_count() or 1
    return executor, int(n), False


# --------------------------------------------------------------------------- results
@dataclass
class BatchResult:
    """What a batch did: the folder, run counts and the failures of this batch."""

    out: Path
    n_runs: int
    n_done: int
    n_failed: int
    n_skipped: int
    seconds: float
    failures: list[dict] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.n_done == self.n_runs

    def failure_summary(self) -> str:
        """A few lines on the failed runs ('' when none failed)."""
        if not self.n_failed:
            return ""
        by_error: dict[str, list[str]] = {}
        for f in self.failures:
            by_error.setdefault(f"{f['error_type']}: {f['message']}", []).append(f["run_id"])
        lines = [f"{self.n_failed} of {self.n_runs} runs failed (details in {self.out / 'failures.csv'}):"]
        for msg, ids in sorted(by_error.items(), key=lambda kv: -len(kv[1]))[:5]:
            shown = ", ".join(ids[:4]) + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
            lines.append(f"  {len(ids)} x {msg.splitlines()[0][:200]}  (runs {shown})")
        lines.append("Run the same command again to retry the failed runs; finished runs are kept.")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the engine
def run_batch(
    design: Sequence[dict[str, Any]],
    *,
    out: str | Path,
    replicates: int = 30,
    years: int = 10,
    root_seed: int = 20230401,
    executor: Any = "processes",
    workers: int | None = None,
    chunk_size: int | None = None,
    func: Callable[..., dict] | None = None,
    func_kwargs: dict[str, Any] | None = None,
    series: bool = True,
    validate: Any = "model",
    point_ids: Sequence[int] | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    label: str = "batch",
    meta: dict[str, Any] | None = None,
    base_year: int = DEFAULT_BASE_YEAR,
    log: Callable[[str], None] | None = None,
) -> BatchResult:
    """Run every design point ``replicates`` times and stream the results to ``out``.

    Parameters
    ----------
    design:
        Design points: dicts ``{"scenario": name_or_path, **parameters}``.
    out:
        Results folder (created). An existing folder of the same batch is resumed.
    replicates, years, root_seed:
        Seeds per point, funding rounds per run, and the root of every run's seed
        (:func:`run_seed`).
    executor, workers:
        ``"processes"`` (default; ``workers`` processes, default one per CPU),
        ``"serial"``, or any ``concurrent.futures.Executor`` (not shut down here).
    chunk_size:
        Runs per task; default adapts so a task lasts about one second.
    func, func_kwargs:
        The run function (default ``model.simulation.simulate``; must be picklable - a
        module-level function - for process or Dask executors) and fixed keyword
        arguments passed to every run (e.g. ``seeds_path``).
    series:
        Ask each run for its per-round series (``series=True``) and store them.
    validate:
        ``"model"`` checks every point's scenario and parameters with the model's
        registry before any run starts (and one run with ``years=0`` checks the
        input data); ``None`` skips the checks; a function ``point -> point`` is
        called instead.
    point_ids:
        Seed index of each design point (default ``0..len(design)-1``); lets a
        subset of a design keep the seeds it has in the full design.
    overwrite:
        Replace an existing results folder instead of resuming it.
    progress:
        Show a progress bar (default: when stderr is a terminal).
    label, meta:
        Name of the batch kind (``"compare"``, ``"grid"``, ...) and extra manifest fields.
    log:
        Where messages go (default: printed to stderr).
    """
    t_start = time.perf_counter()
    say = log or (lambda msg: print(msg, file=sys.stderr))
    replicates = _check_int("replicates", replicates, 1)
    years = _check_int("years", years, 0)
    root_seed = _check_int("root_seed", root_seed, 0)
    if chunk_size is not None:
        chunk_size = _check_int("chunk_size", chunk_size, 1)
    if workers is not None:
        workers = _check_int("workers", workers, 1)
    func = func or _default_func()
    func_kwargs = dict(func_kwargs or {})
    points, describes = _normalise_design(design, validate)
    ids = list(range(len(points))) if point_ids is None else [int(i) for i in point_ids]
    if len(ids) != len(points) or len(set(ids)) != len(ids) or min(ids) < 0:
        raise BatchConfigError("point_ids must give one distinct, non-negative id per design point")

    param_names: list[str] = []
    for p in points:
        for k in p:
            if k != "scenario" and k not in param_names:
                param_names.append(k)
    reserved = set(_ID_COLUMNS) | {"run_seconds"}
    clash = [k for k in param_names if k in reserved]
    if clash:
        raise BatchConfigError(f"parameter name(s) {', '.join(clash)} clash with result columns; rename them")

    config = {
        "format_version": FORMAT_VERSION,
        "label": label,
        "function": _func_name(func),
        "function_kwargs": _jsonable(func_kwargs),
        "design": points,
        "point_ids": ids,
        "replicates": replicates,
        "years": years,
        "root_seed": root_seed,
        "series": bool(series),
    }
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]

    out = Path(out)
    manifest_path = out / MANIFEST_NAME
    old = _prepare_folder(out, config, config_hash, overwrite)
    fingerprint = model_fingerprint()
    if old and old.get("model_fingerprint") not in (None, fingerprint):
        raise BatchConfigError(
            f"results folder '{out}' was made by a different version of the model (code, scenarios or seed "
            f"tables changed: fingerprint {old.get('model_fingerprint')}, now {fingerprint}); resuming would mix "
            "the two. Pass --overwrite (overwrite=True) to run it again, or --out (out=) for a new folder"
        )
    parts = out / "parts"
    for sub in (*TABLES, "_done"):
        (parts / sub).mkdir(parents=True, exist_ok=True)
    ok_before, failed_before = _scan_parts(parts)

    # Every run, in design order; the pending ones are those without a finished result.
    all_runs = [
        (make_run_id(pid, r), pid, r, run_seed(root_seed, pid, r), point["scenario"],
         {k: v for k, v in point.items() if k != "scenario"})
        for pid, point in zip(ids, points)
        for r in range(replicates)
    ]
    pending = [t for t in all_runs if t[0] not in ok_before]
    n_runs = len(all_runs)

    manifest = {
        "commissim_results": FORMAT_VERSION,
        "kind": label,
        "status": "running",
        "config_hash": config_hash,
        "config": {k: v for k, v in config.items() if k != "design"},
        "seed_rule": "seed = int(numpy.random.SeedSequence(root_seed, spawn_key=(point, replicate))"
                     ".generate_state(1)[0]); run_id = 'p{point:04d}r{replicate:04d}'",
        "design": [
            {"point": pid, **describe, "scenario": point["scenario"],
             "seeds": [run_seed(root_seed, pid, r) for r in range(replicates)]}
            for pid, point, describe in zip(ids, points, describes)
        ],
        "versions": package_versions(),
        "model_fingerprint": fingerprint,
        "git_commit": git_commit(),
        "started": (old or {}).get("started") or _now(),
        "resumed": [*(old or {}).get("resumed", []), *([_now()] if old else [])],
        "finished": None,
        "executor": executor if isinstance(executor, str) else type(executor).__name__,
        "workers": None,
        "command": meta.get("command") if meta else None,
        "counts": {"runs": n_runs, "done": len(ok_before), "failed": len(failed_before)},
        **{k: _jsonable(v) for k, v in (meta or {}).items() if k != "command"},
    }

    if validate == "model" and pending:
        _smoke_test(func, func_kwargs, pending[0])

    if ok_before:
        say(f"{label}: resuming {out}: {len(ok_before)} of {n_runs} runs already finished, "
            f"{len(pending)} to run" + (f" ({len(failed_before)} failed before, retried)" if failed_before else ""))

    failures: list[dict] = []
    n_done_now = 0
    if pending:
        ex, n_workers, owned = _make_executor(executor, workers, preload=[getattr(func, "__module__", "")])
        manifest["workers"] = n_workers
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2, default=str))
        try:
            n_done_now, failures = _drive(
                ex, n_workers, pending, func, func_kwargs, years, series, chunk_size, param_names,
                parts, progress, label, base_year,
            )
        except BaseException:
            manifest["status"] = "interrupted"
            ok_now, failed_now = _scan_parts(parts)
            manifest["counts"] = {"runs": n_runs, "done": len(ok_now), "failed": len(failed_now)}
            atomic_write_text(manifest_path, json.dumps(manifest, indent=2, default=str))
            if owned:
                ex.shutdown(wait=False, cancel_futures=True)
            raise
        if owned:
            ex.shutdown(wait=True)
    else:
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2, default=str))

    counts = consolidate(out)
    ok_after, _ = _scan_parts(parts)
    manifest["status"] = "complete" if len(ok_after) == n_runs else "complete_with_failures"
    manifest["finished"] = _now()
    manifest["counts"] = {"runs": n_runs, "done": len(ok_after), "failed": n_runs - len(ok_after)}
    manifest["tables"] = counts
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, default=str))

    failures = []
    if n_runs - len(ok_after) and (out / "failures.parquet").is_file():
        import pandas as pd

        failures = pd.read_parquet(out / "failures.parquet").to_dict("records")
    result = BatchResult(
        out=out,
        n_runs=n_runs,
        n_done=len(ok_after),
        n_failed=n_runs - len(ok_after),
        n_skipped=len(ok_before),
        seconds=time.perf_counter() - t_start,
        failures=failures,
    )
    if result.n_failed:
        say(result.failure_summary())
    return result


def _smoke_test(func: Callable, func_kwargs: dict, task: tuple) -> None:
    """One ``years=0`` run in this process: bad input data fails before any run starts."""
    from commissim.model.errors import ModelInputError

    _run_id, _point, _rep, seed, scenario, params = task
    try:
        func(scenario=scenario, years=0, rng=seed, **func_kwargs, **params)
    except ModelInputError as exc:
        raise BatchConfigError(str(exc)) from None
    except Exception:  # noqa: BLE001 - a model bug: the runs themselves will record it
        pass


def _prepare_folder(out: Path, config: dict, config_hash: str, overwrite: bool) -> dict | None:
    """Create, clear or check the results folder; return the old manifest when resuming."""
    manifest_path = out / MANIFEST_NAME
    if out.exists() and not out.is_dir():
        raise BatchConfigError(f"output folder '{out}' is a file; choose a folder (--out / out=)")
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return None
    if not manifest_path.is_file():
        raise BatchConfigError(
            f"output folder '{out}' is not empty and holds no {MANIFEST_NAME}, so it is not a commissim "
            "results folder; choose a new or empty folder with --out (out=)"
        )
    try:
        old = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        if not overwrite:
            raise BatchConfigError(
                f"cannot read {manifest_path} ({exc}); pass --overwrite (overwrite=True) to start again"
            ) from None
        old = {}
    if overwrite:
        _clear_results(out)
        return None
    if old.get("config_hash") != config_hash:
        raise BatchConfigError(
            f"results folder '{out}' holds a different batch ({_describe_diff(old.get('config', {}), old, config)}); "
            "choose another folder with --out (out=), or pass --overwrite (overwrite=True) to replace it"
        )
    return old


def _short(value: Any, limit: int = 80) -> str:
    """A value for an error message: lists summarised, long text cut."""
    if isinstance(value, (list, tuple)) and len(value) > 6:
        kinds = sorted({str(v) for v in value})
        if len(kinds) <= 3:
            return f"{len(value)} items ({', '.join(kinds)})"
        return f"{len(value)} items"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_diff(old_config: dict, old_manifest: dict, new: dict) -> str:
    diffs = []
    for key in ("label", "years", "replicates", "root_seed", "series", "function", "function_kwargs", "point_ids"):
        if key in old_config and old_config.get(key) != new.get(key):
            diffs.append(f"{key} {_short(old_config.get(key))} -> {_short(new.get(key))}")
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


def _clear_results(out: Path) -> None:
    """Remove what a batch wrote in ``out`` (and nothing else)."""
    import shutil

    shutil.rmtree(out / "parts", ignore_errors=True)
    for name in (MANIFEST_NAME, "report.md"):
        (out / name).unlink(missing_ok=True)
    for table in TABLES:
        for suffix in ("parquet", "csv"):
            (out / f"{table}.{suffix}").unlink(missing_ok=True)
    figs = out / "figures"
    if figs.is_dir():
        for f in figs.glob("*.png"):
            f.unlink()


def _drive(ex, n_workers, pending, func, func_kwargs, years, series, chunk_size, param_names, parts, progress,
           label, base_year) -> tuple[int, list[dict]]:
    """Submit chunks with a bounded window, write each finished chunk, update the progress bar."""
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    window = max(2, 2 * n_workers)
    queue = list(reversed(pending))  # pop() from the end = design order
    sec_per_run: float | None = None
    in_flight: dict[cf.Future, list[tuple]] = {}
    failures: list[dict] = []
    n_done = 0

    def next_chunk() -> list[tuple]:
        if chunk_size:
            size = chunk_size
        elif sec_per_run is None:
            size = 1  # first wave: measure how long a run takes
        else:
            size = math.ceil(TARGET_TASK_SECONDS / max(sec_per_run, 1e-6))
            size = min(size, MAX_CHUNK, max(1, math.ceil(len(queue) / (2 * n_workers))))
        return [queue.pop() for _ in range(min(size, len(queue)))]

    with tqdm(total=len(pending), desc=label, unit="run", disable=not show, delay=2.0, dynamic_ncols=True) as bar:
        while queue or in_flight:
            while queue and len(in_flight) < window:
                chunk = next_chunk()
                in_flight[ex.submit(run_chunk, func, func_kwargs, years, series, chunk)] = chunk
            finished, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                chunk = in_flight.pop(fut)
                try:
                    res = fut.result()
                except cf.BrokenExecutor as exc:
                    raise BatchAborted(
                        f"{label}: the executor broke ({type(exc).__name__}: {exc}). A worker process may have "
                        "been killed (out of memory?), or a script started a batch without the "
                        "'if __name__ == \"__main__\":' guard (worker processes import the main script). "
                        "Finished runs are kept: run the same command again to resume"
                    ) from exc
                except Exception as exc:  # the task itself failed (e.g. could not be pickled)
                    tb = traceback.format_exc()
                    res = {"done": [], "seconds": 0.0, "failed": [
                        {"run_id": t[0], "point": t[1], "replicate": t[2], "seed": t[3], "scenario": t[4],
                         "parameters": json.dumps(_jsonable(t[5]), sort_keys=True),
                         "error_type": type(exc).__name__, "message": f"task failed: {exc}",
                         "traceback": tb, "failed_at": _now()} for t in chunk]}
                ok_ids = [d[0] for d in res["done"]]
                failed_ids = [f["run_id"] for f in res["failed"]]
                _write_chunk(parts, _chunk_tables(res, years, param_names, base_year), ok_ids, failed_ids)
                n_done += len(ok_ids)
                failures.extend({k: v for k, v in f.items() if k != "traceback"} for f in res["failed"])
                if ok_ids:
                    per_run = res["seconds"] / len(chunk)
                    sec_per_run = per_run if sec_per_run is None else 0.7 * sec_per_run + 0.3 * per_run
                bar.update(len(chunk))
                if failures:
                    bar.set_postfix(failed=len(failures), refresh=False)
                del fut, res
    return n_done, failures


# --------------------------------------------------------------------------- loading
@dataclass
class Results:
    """A results folder loaded into pandas."""

    folder: Path
    manifest: dict
    summaries: Any  # pandas.DataFrame
    series: Any | None
    providers: Any | None
    failures: Any | None


def load_results(folder: str | Path, *, series: bool = True, providers: bool = True) -> Results:
    """Load a results folder (consolidated tables, or the parts of an unfinished batch)."""
    import pandas as pd

    folder = Path(folder)
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise UserError(f"'{folder}' is not a commissim results folder (no {MANIFEST_NAME})")
    manifest = json.loads(manifest_path.read_text())

    def table(name: str, wanted: bool = True):
        if not wanted:
            return None
        f = folder / f"{name}.parquet"
        if f.is_file():
            return pd.read_parquet(f)
        files = _finished_parts(folder / "parts", name)
        if not files:
            return None
        return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)

    summaries = table("summaries")
    if summaries is None:
        summaries = pd.DataFrame(columns=list(_ID_COLUMNS))
    return Results(folder, manifest, summaries, table("series", series), table("providers", providers),
                   table("failures"))
