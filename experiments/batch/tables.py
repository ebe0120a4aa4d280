"""Arrow tables of finished runs: what a chunk of runs adds to each results table.

- ``summaries``: one row per run: ``run_id, point, replicate, seed, scenario``, the design's
  parameters, every number the run returned (its end-of-run measures) and ``run_seconds``;
- ``series``: one row per run and round, from the run's ``"series"`` dict of per-round lists
  (``run_id, point, replicate, scenario, round`` and, with a round label, ``year``);
- one long table per :class:`~.runner.VectorOutput` (e.g. ``providers``);
- ``failures``: one row per failed run (id, seed, parameters, error, traceback).

Built in the worker that ran the chunk and sent back as Arrow IPC files (:func:`to_ipc`), the
format of the parts in the results folder, so the process that writes the results only writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .design import ID_COLUMNS, Run
from .runner import VectorOutput

__all__ = ["Finished", "chunk_tables", "failures_table", "unified_schema", "conform", "table_names", "to_ipc",
           "read_ipc", "ipc_schema"]

SERIES_KEY = "series"
# Keys a run's result echoes back that are not measures.
_ECHOED = ("scenario", "years", SERIES_KEY)


class Finished(NamedTuple):
    """A run that returned: its result dict and how long it took."""

    run: Run
    result: dict[str, Any]
    seconds: float


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating, np.bool_)) and not isinstance(v, complex)


def _summaries(done: Sequence[Finished], param_names: Sequence[str], skip: set[str]):
    import pyarrow as pa

    rows: dict[str, list] = {c: [] for c in ID_COLUMNS}
    for p in param_names:
        rows[p] = []
    measures: dict[str, list] = {}
    n = 0
    for run, result, _secs in done:
        for c, v in zip(ID_COLUMNS, run[:5]):
            rows[c].append(v)
        for p in param_names:
            rows[p].append(run.params.get(p))
        for k, v in result.items():
            if k in skip or not _is_number(v):
                continue
            col = measures.setdefault(k, [None] * n)
            col.append(float(v))
        n += 1
        for col in measures.values():
            if len(col) < n:
                col.append(None)
    measures["run_seconds"] = [d.seconds for d in done]
    return pa.table({**rows, **{k: v for k, v in measures.items() if k not in rows}})


def _series(done: Sequence[Finished], round_label: Callable[[int], str] | None):
    """Long format: one row per run and round."""
    import pyarrow as pa

    rows: dict[str, list] = {"run_id": [], "point": [], "replicate": [], "scenario": [], "round": []}
    if round_label is not None:
        rows["year"] = []
    values: dict[str, list] = {}
    m = 0
    for run, result, _secs in done:
        ser = result.get(SERIES_KEY)
        if not isinstance(ser, dict) or not ser:
            continue
        length = max(len(v) for v in ser.values())
        for c in ("run_id", "point", "replicate", "scenario"):
            rows[c].extend([getattr(run, c)] * length)
        rows["round"].extend(range(length))
        if round_label is not None:
            rows["year"].extend(round_label(r) for r in range(length))
        for k, vals in ser.items():
            col = values.setdefault(k, [None] * m)
            col.extend(float(v) if v is not None else None for v in vals)
            col.extend([None] * (length - len(vals)))
        m += length
        for col in values.values():
            if len(col) < m:
                col.extend([None] * (m - len(col)))
    if not m:
        return None
    return pa.table({**rows, **{k: v for k, v in values.items() if k not in rows}})


def _vector(done: Sequence[Finished], vec: VectorOutput):
    """Long format: one row per run and element of the run's ``vec.key`` list."""
    import pyarrow as pa

    names = tuple(vec.values) or (vec.value,)
    rows: dict[str, list] = {"run_id": [], "point": [], "replicate": [], "scenario": [], vec.index: [],
                             **{n: [] for n in names}}
    for run, result, _secs in done:
        got = result.get(vec.key)
        if got is None:
            continue
        columns = {n: [float(v) for v in got.get(n, ())] for n in names} if vec.values else {names[0]: got}
        k = max(len(v) for v in columns.values())
        for c in ("run_id", "point", "replicate", "scenario"):
            rows[c].extend([getattr(run, c)] * k)
        rows[vec.index].extend(range(k))
        for n in names:
            col = [float(v) for v in columns[n]]
            rows[n].extend(col + [None] * (k - len(col)))
    return pa.table(rows) if rows["run_id"] else None


def failures_table(failed: Sequence[dict]):
    import pyarrow as pa

    return pa.Table.from_pylist(list(failed))


def chunk_tables(done: Sequence[Finished], failed: Sequence[dict], *, param_names: Sequence[str],
                 vectors: Sequence[VectorOutput] = (), round_label: Callable[[int], str] | None = None
                 ) -> dict[str, Any]:
    """The Arrow tables a chunk adds: ``summaries``, ``series``, one per vector, ``failures``."""
    tables: dict[str, Any] = {}
    if done:
        skip = {*_ECHOED, *(v.key for v in vectors)}
        tables["summaries"] = _summaries(done, param_names, skip)
        series = _series(done, round_label)
        if series is not None:
            tables["series"] = series
        for vec in vectors:
            t = _vector(done, vec)
            if t is not None:
                tables[vec.table] = t
    if failed:
        tables["failures"] = failures_table(failed)
    return tables


def table_names(vectors: Sequence[VectorOutput] = ()) -> tuple[str, ...]:
    """Every table a batch with these vector outputs writes."""
    return ("summaries", "series", *(v.table for v in vectors), "failures")


def unified_schema(schemas: Sequence[Any]):
    """Union of the parts' columns (first non-null type of each, in first-seen order)."""
    import pyarrow as pa

    names: list[str] = []
    types: dict[str, Any] = {}
    for schema in schemas:
        for fld in schema:
            if fld.name not in types:
                names.append(fld.name)
                types[fld.name] = fld.type
            elif pa.types.is_null(types[fld.name]) and not pa.types.is_null(fld.type):
                types[fld.name] = fld.type
    return pa.schema([pa.field(n, pa.float64() if pa.types.is_null(types[n]) else types[n]) for n in names])


def conform(table, schema):
    """``table`` with ``schema``'s columns, in its order: missing columns null, types cast."""
    import pyarrow as pa

    if table.schema.equals(schema):
        return table
    cols = []
    for fld in schema:
        if fld.name in table.column_names:
            col = table.column(fld.name)
            cols.append(col if col.type == fld.type else col.cast(fld.type))
        else:
            cols.append(pa.nulls(table.num_rows, type=fld.type))
    return pa.table(cols, schema=schema)


def to_ipc(table) -> bytes:
    """A table as the bytes of an Arrow IPC file (what a part file holds)."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_ipc(path):
    """The table of an Arrow IPC file (a part)."""
    import pyarrow as pa

    with pa.OSFile(str(path), "rb") as f:
        return pa.ipc.open_file(f).read_all()


def ipc_schema(path):
    import pyarrow as pa

    with pa.OSFile(str(path), "rb") as f:
        return pa.ipc.open_file(f).schema
