"""Large BLOBs written and read a piece at a time, through SQLite's incremental BLOB I/O.

Binding a whole array to a statement makes SQLite copy it twice on its way to the page cache
(a 200 MB array measured 460 MB above its own size), and a ``SELECT`` makes the whole BLOB
a Python ``bytes`` object. Through a blob handle, the memory beyond the array is one piece.
The LSH index's merged runs are tens to hundreds of megabytes per BLOB at a million articles,
so this bounds what a merge costs in memory. Python before 3.11 has no blob handle; there
BLOBs are bound and selected whole (same bytes, more memory).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Bytes per piece.
PIECE = 1 << 22
#: Incremental BLOB I/O is there (Python 3.11 and later).
HANDLES = hasattr(sqlite3.Connection, "blobopen")


@dataclass(frozen=True)
class Lazy:
    """A BLOB of ``count`` values of ``dtype`` made a slice at a time: ``make(i, j)`` returns
    values ``i`` to ``j``. It never exists whole in memory when written through a handle."""

    count: int
    dtype: np.dtype[Any]
    make: Callable[[int, int], np.ndarray]

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize

    def whole(self) -> np.ndarray:
        return np.ascontiguousarray(self.make(0, self.count), dtype=self.dtype)


Source = np.ndarray | Lazy


def _pieces_of(src: Source) -> Iterator[memoryview]:
    if isinstance(src, Lazy):
        step = max(1, PIECE // src.dtype.itemsize)
        for i in range(0, src.count, step):
            part = np.ascontiguousarray(src.make(i, min(i + step, src.count)), dtype=src.dtype)
            yield memoryview(part).cast("B")
        return
    flat = memoryview(np.ascontiguousarray(src)).cast("B")
    for i in range(0, len(flat), PIECE):
        yield flat[i : i + PIECE]


def insert(conn: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> int:
    """Insert ``row`` (column: value) into ``table``; return its rowid. Array and
    :class:`Lazy` values of a piece or more are written through a blob handle, the others
    are bound. ``table`` and the column names come from the caller's code, never from
    input."""
    cols = list(row)
    big = {
        c
        for c, v in row.items()
        if HANDLES and isinstance(v, (np.ndarray, Lazy)) and v.nbytes >= PIECE
    }
    values = [
        v.nbytes
        if c in big
        else memoryview(v.whole() if isinstance(v, Lazy) else np.ascontiguousarray(v))
        if isinstance(v, (np.ndarray, Lazy))
        else v
        for c, v in row.items()
    ]
    marks = ", ".join("zeroblob(?)" if c in big else "?" for c in cols)
    names = ", ".join(f'"{c}"' for c in cols)
    cur = conn.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', values)
    rowid = int(cur.lastrowid or 0)
    for c in cols:
        if c in big:
            with conn.blobopen(table, c, rowid) as blob:
                for part in _pieces_of(row[c]):
                    blob.write(part)
    return rowid


def _whole(table: str, column: str, rowid: int, size: int, dt: np.dtype[Any]) -> None:
    if size % dt.itemsize:
        raise ValueError(f"{table}.{column} row {rowid}: {size} bytes is not whole {dt}")


def pieces(
    conn: sqlite3.Connection, table: str, column: str, rowid: int, dtype: Any
) -> Iterator[np.ndarray]:
    """The BLOB in ``table.column`` of row ``rowid`` as arrays of ``dtype``, a piece at a
    time (one piece, the whole BLOB, without blob handles)."""
    dt = np.dtype(dtype)
    if not HANDLES:
        (value,) = conn.execute(
            f'SELECT "{column}" FROM "{table}" WHERE rowid = ?', (rowid,)
        ).fetchone()
        _whole(table, column, rowid, len(value), dt)
        yield np.frombuffer(value, dtype=dt)
        return
    step = max(dt.itemsize, PIECE - PIECE % dt.itemsize)
    with conn.blobopen(table, column, rowid, readonly=True) as blob:
        size = len(blob)
        _whole(table, column, rowid, size, dt)
        for _ in range(0, size, step):
            yield np.frombuffer(blob.read(step), dtype=dt)


def read(conn: sqlite3.Connection, table: str, column: str, rowid: int, dtype: Any) -> np.ndarray:
    """The whole BLOB as one writable array of ``dtype``, read a piece at a time into it."""
    dt = np.dtype(dtype)
    if not HANDLES:
        return next(pieces(conn, table, column, rowid, dt)).copy()
    with conn.blobopen(table, column, rowid, readonly=True) as blob:
        size = len(blob)
        _whole(table, column, rowid, size, dt)
        out = np.empty(size // dt.itemsize, dtype=dt)
        flat = memoryview(out).cast("B")
        at = 0
        while at < size:
            part = blob.read(PIECE)
            flat[at : at + len(part)] = part
            at += len(part)
    return out
