"""Large BLOBs written and read a piece at a time, through SQLite's incremental BLOB I/O.

Binding a whole array to a statement makes SQLite copy it twice on its way to the page cache
(a 200 MB array measured 460 MB above its own size), and a ``SELECT`` makes the whole BLOB
a Python ``bytes`` object. Through a blob handle, the memory beyond the array is one piece.
The LSH index's merged runs are tens to hundreds of megabytes per BLOB at a million articles,
so this bounds what a merge costs in memory. Python before 3.11 has no blob handle; there the
caller binds and selects BLOBs whole (same bytes, more memory). The SQL stays with the
caller: this module opens handles on the rows it is given.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Bytes per piece.
PIECE = 1 << 22
#: Incremental BLOB I/O is there (Python 3.11 and later).
HANDLES = hasattr(sqlite3.Connection, "blobopen")


@dataclass(frozen=True)
class Stream:
    """A BLOB of ``nbytes`` bytes made as it is written: ``parts()`` yields its pieces in
    order (arrays of any size). Written through a handle, it never exists whole in memory."""

    nbytes: int
    parts: Callable[[], Iterable[np.ndarray]]

    def whole(self, where: str) -> np.ndarray:
        """Every byte at once (for Python without blob handles)."""
        parts = [np.ascontiguousarray(p).view(np.uint8).ravel() for p in self.parts()]
        out = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
        _check(where, out.size, self.nbytes)
        return out


def _check(where: str, made: int, announced: int) -> None:
    if made != announced:
        raise ValueError(f"{where}: {made} bytes made, {announced} announced")


def sliced(count: int, dtype: Any, make: Callable[[int, int], np.ndarray]) -> Stream:
    """A :class:`Stream` of ``count`` values of ``dtype``, ``make(i, j)`` giving values ``i``
    to ``j``, a piece at a time."""
    dt = np.dtype(dtype)
    step = max(1, PIECE // dt.itemsize)

    def parts() -> Iterator[np.ndarray]:
        for i in range(0, count, step):
            yield np.ascontiguousarray(make(i, min(i + step, count)), dtype=dt)

    return Stream(count * dt.itemsize, parts)


Source = np.ndarray | Stream


def _bytes_of(part: np.ndarray) -> Iterator[memoryview]:
    flat = memoryview(np.ascontiguousarray(part)).cast("B")
    for i in range(0, len(flat), PIECE):
        yield flat[i : i + PIECE]


def _write(blob: Any, src: Source, where: str) -> None:
    done = 0
    for part in src.parts() if isinstance(src, Stream) else [src]:
        for piece in _bytes_of(part):
            blob.write(piece)
            done += len(piece)
    _check(where, done, src.nbytes)


def size(value: Source) -> int:
    """Bytes of a BLOB value."""
    return int(value.nbytes)


def large(value: Source) -> bool:
    """Is ``value`` to be written through a handle (a piece or more, and handles exist)?"""
    return HANDLES and size(value) >= PIECE


def bound(value: Source, where: str) -> memoryview:
    """``value`` whole, to bind to a statement."""
    if isinstance(value, Stream):
        return memoryview(value.whole(where))
    return memoryview(np.ascontiguousarray(value))


def write(conn: sqlite3.Connection, table: str, column: str, rowid: int, value: Source) -> None:
    """Write ``value`` into the BLOB of ``table.column`` in row ``rowid``, reserved with
    ``zeroblob(size)``, a piece at a time. Reserved columns must be the table's last ones:
    SQLite leaves a ``zeroblob`` unmade only at the end of a record, and builds it whole in
    memory anywhere else."""
    with conn.blobopen(table, column, rowid) as blob:
        _write(blob, value, f"{table}.{column}")


def _whole(table: str, column: str, rowid: int, size: int, dt: np.dtype[Any]) -> None:
    if size % dt.itemsize:
        raise ValueError(f"{table}.{column} row {rowid}: {size} bytes is not whole {dt}")


def pieces(
    conn: sqlite3.Connection, table: str, column: str, rowid: int, dtype: Any
) -> Iterator[np.ndarray]:
    """The BLOB in ``table.column`` of row ``rowid`` as arrays of ``dtype``, a piece at a
    time (through a handle: :data:`HANDLES` must be true)."""
    dt = np.dtype(dtype)
    step = max(dt.itemsize, PIECE - PIECE % dt.itemsize)
    with conn.blobopen(table, column, rowid, readonly=True) as blob:
        n = len(blob)
        _whole(table, column, rowid, n, dt)
        for _ in range(0, n, step):
            yield np.frombuffer(blob.read(step), dtype=dt)


def as_array(value: bytes, dtype: Any, table: str, column: str, rowid: int) -> np.ndarray:
    """A BLOB selected whole, as a writable array of ``dtype``."""
    dt = np.dtype(dtype)
    _whole(table, column, rowid, len(value), dt)
    return np.frombuffer(value, dtype=dt).copy()


def read(conn: sqlite3.Connection, table: str, column: str, rowid: int, dtype: Any) -> np.ndarray:
    """The whole BLOB as one writable array of ``dtype``, read a piece at a time into it
    (through a handle)."""
    dt = np.dtype(dtype)
    with conn.blobopen(table, column, rowid, readonly=True) as blob:
        n = len(blob)
        _whole(table, column, rowid, n, dt)
        out = np.empty(n // dt.itemsize, dtype=dt)
        flat = memoryview(out).cast("B")
        at = 0
        while at < n:
            part = blob.read(PIECE)
            flat[at : at + len(part)] = part
            at += len(part)
    return out
