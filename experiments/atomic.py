"""Atomic writes: every file the experiments write appears whole or not at all.

Each writer writes to a temporary name in the target's folder and moves it into place with
``os.replace`` (atomic on the same file system), so an interrupted command never leaves a
half-written file, and a reader never sees one. (Files are not fsynced: the guarantee is
against interrupted processes, not against losing power.) :func:`replacing` is the one mechanism; the
helpers below write bytes, text, Arrow tables (Parquet, CSV), numpy arrays and figures.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["temporary_path", "replacing", "write_bytes", "write_text", "write_parquet", "write_csv",
           "write_npy", "save_figure"]


def temporary_path(path: str | Path) -> Path:
    """A hidden, unique temporary name next to ``path`` (``.name.tmp-<pid>-<random>``)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: str | Path, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_parquet(table: Any, path: str | Path) -> Path:
    """Write a ``pyarrow.Table`` as Parquet atomically."""
    import pyarrow.parquet as pq

    with replacing(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def write_csv(table: Any, path: str | Path) -> Path:
    """Write a ``pyarrow.Table`` (or a pandas DataFrame) as CSV atomically."""
    if hasattr(table, "to_csv"):  # pandas
        return write_text(path, table.to_csv(index=False))
    import pyarrow.csv as pcsv

    with replacing(path) as tmp:
        pcsv.write_csv(table, tmp)
    return Path(path)


def write_npy(path: str | Path, array: Any) -> Path:
    """Write a numpy array (``.npy``) atomically."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array)
    return write_bytes(path, buf.getvalue())


def save_figure(fig: Any, path: str | Path, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure as PNG atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig_kwargs)
    return write_bytes(path, buf.getvalue())
