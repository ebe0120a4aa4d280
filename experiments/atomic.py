"""Atomic writes: every file the experiments write appears whole or not at all; output folders
checked before any work.

Each writer writes to a temporary name in the target's folder and moves it into place with
``os.replace`` (atomic on the same file system), so an interrupted command never leaves a
half-written file, and a reader never sees one. (Files are not fsynced: the guarantee is
against interrupted processes, not against losing power.) :func:`replacing` is the one mechanism; the
helpers below write bytes, text, Arrow tables (Parquet, CSV), numpy arrays and figures.

Every command that writes (``run``, ``compare``, ``sweep``, ``validate``) first checks its
``--out`` folder with :func:`check_output_folder`: a read-only file system, a folder without
write permission, a file where a folder should be, or a path the system cannot hold (a NUL
character, a name too long) stops the command with a one-line
:class:`~commissim.experiments.errors.UserError` naming the folder and what is wrong, instead of
a traceback after the runs.
"""

from __future__ import annotations

import errno
import io
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["temporary_path", "replacing", "write_bytes", "write_text", "write_parquet", "write_csv",
           "write_npy", "save_figure", "check_output_folder", "remove_outputs"]


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


# --------------------------------------------------------------------------- output folders
def _first_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        try:
            if p.exists():
                return p
        except OSError:
            continue
    return Path(path.anchor or ".")


def _reason(exc: BaseException, path: Path) -> str:
    """What is wrong, in words, for an error met creating or writing ``path``."""
    if isinstance(exc, ValueError):  # e.g. "embedded null byte"
        return f"it is not a valid path ({exc})"
    code = getattr(exc, "errno", None)
    where = getattr(exc, "filename", None) or str(path)
    if code == errno.EROFS:
        return f"'{where}' is on a read-only file system"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied: cannot create or write '{where}'"
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = next((p for p in (path, *path.parents) if p.is_file()), None)
        return f"'{blocker or where}' is a file, not a folder"
    if code == errno.ENAMETOOLONG:
        return "the path is too long for the file system"
    if code == errno.ENOSPC:
        return f"no space left on the device holding '{_first_existing(path)}'"
    if code == errno.ENOENT:
        return f"'{where}' cannot be created there (its parent '{_first_existing(path)}' does not accept new folders)"
    text = getattr(exc, "strerror", None) or str(exc)
    return f"cannot create or write '{where}' ({text})"


def check_output_folder(out: str | Path, *, name: str = "out", error: type | None = None) -> Path:
    """Create ``out`` (and its parents) and check that a file can be written in it.

    Raises ``error`` (default :class:`~commissim.experiments.errors.UserError`) with one line
    naming the option (``--out`` on the command line, ``out=`` from Python), the folder and the
    reason. Returns the folder.
    """
    from .errors import UserError, option

    error = error or UserError

    path = Path(out)
    spelled = option(name)
    label = f"{spelled} '{out}'" if spelled.startswith("--") else f"{spelled}'{out}'"
    try:
        if path.exists() and not path.is_dir():
            raise error(f"{label}: it is a file, not a folder; choose a folder")
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".commissim-write-check-{os.getpid()}"
        with open(probe, "wb") as fh:
            fh.write(b"")
        probe.unlink()
    except UserError:
        raise
    except (OSError, ValueError) as exc:
        raise error(f"{label}: {_reason(exc, path)}; choose another folder with {spelled}") from None
    return path


def remove_outputs(out: str | Path, names: Any, *, ignore_errors: bool = False) -> None:
    """Remove the named files and folders of a results folder (and nothing else); absent ones are fine.
    ``ignore_errors``: a folder that cannot be removed whole is left as it is (the batch store's tidying)."""
    import shutil

    for name in names:
        path = Path(out) / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=ignore_errors)
        else:
            path.unlink(missing_ok=True)
