"""LSH candidate search over MinHash band keys, kept in the store and queried in bulk.

The interface is two calls, ``add`` and ``candidates``, so another backend (a shared server,
another storage layout) can replace this one without touching the rest.

Layout: the band keys live in *runs*, immutable sorted arrays, one row of the store's
``lsh_runs`` table per run and band (the low 32 bits of each band key, and the item under it,
as little-endian ``uint32`` BLOBs). ``add`` writes the new items as one run; runs of similar
size are merged (``FANOUT`` of them into one), so a store of ``n`` items holds about
``FANOUT * log(n)`` runs and each item is rewritten ``log(n)`` times over its life: adding
costs in proportion to what is added, not to the store. The runs are read once per process
(one BLOB per run and band, no per-row work) and queried with ``numpy.searchsorted``: one
call per run and band for a whole batch of queries.

Keys are kept to 32 bits: a query may then meet an unrelated item whose key agrees in those
bits (about ``items / 2**32`` per band). Such extra candidates are harmless, because every
candidate is verified on its text.

Several processes may share a store: each one keeps the runs it has read and, before each
use inside a write transaction, compares its runs with the table (run id and a random token
per run, so a run id reused after a rollback is not mistaken for the old run).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Index(Protocol):
    """What the tracker needs from an LSH index."""

    def add(self, items: Sequence[int], keys: np.ndarray) -> None:
        """Register ``items[i]`` under the band keys ``keys[i]`` (one column per band)."""

    def candidates(self, keys: np.ndarray, cap: int) -> list[list[int]]:
        """Items sharing at least one band key with each row of ``keys``, at most ``cap`` each,
        smallest ids first (so the choice under the cap never depends on arrival order)."""


_U32 = np.uint32
_MASK = np.int64(0xFFFFFFFF)


@dataclass
class _Run:
    """One immutable run: per band, keys sorted (then items ascending) and their items."""

    run: int
    token: int
    n: int
    keys: list[np.ndarray]
    items: list[np.ndarray]

    @property
    def bands(self) -> int:
        return len(self.keys)


def _low32(keys: np.ndarray) -> np.ndarray:
    """Band keys (signed 64-bit) as the unsigned 32-bit values the index keeps."""
    return (np.asarray(keys, dtype=np.int64) & _MASK).astype(_U32)


def _sorted_band(keys: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((items, keys))
    return np.ascontiguousarray(keys[order]), np.ascontiguousarray(items[order])


class SqliteIndex:
    """Band-key runs in the store's ``lsh_runs`` table, held in memory once read."""

    #: Runs of one size class merged into one when there are this many.
    FANOUT = 4

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._runs: dict[int, _Run] = {}
        self._loaded = False

    # -- persistence ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the runs other connections (or a rolled-back transaction) changed; call it at
        the start of every write transaction."""
        self._loaded = True
        rows = self.conn.execute("SELECT run, token FROM lsh_runs WHERE band = 0").fetchall()
        want = {int(r): int(t) for r, t in rows}
        for r in [r for r, run in self._runs.items() if want.get(r) != run.token]:
            del self._runs[r]
        for r, token in sorted(want.items()):
            if r not in self._runs:
                self._runs[r] = self._read(r, token)

    def _read(self, run: int, token: int) -> _Run:
        keys: list[np.ndarray] = []
        items: list[np.ndarray] = []
        for k, i in self.conn.execute(
            "SELECT keys, items FROM lsh_runs WHERE run = ? ORDER BY band", (run,)
        ):
            keys.append(np.frombuffer(k, dtype="<u4"))
            items.append(np.frombuffer(i, dtype="<u4"))
        return _Run(run, token, len(keys[0]) if keys else 0, keys, items)

    def _write(self, keys: list[np.ndarray], items: list[np.ndarray]) -> _Run:
        row = self.conn.execute("SELECT COALESCE(MAX(run), 0) + 1 FROM lsh_runs").fetchone()
        run = int(row[0])
        token = int.from_bytes(os.urandom(8), "little") >> 1
        n = len(keys[0]) if keys else 0
        self.conn.executemany(
            "INSERT INTO lsh_runs (run, band, token, n, keys, items) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (run, b, token, n, k.astype("<u4").tobytes(), i.astype("<u4").tobytes())
                for b, (k, i) in enumerate(zip(keys, items))
            ],
        )
        out = _Run(run, token, n, keys, items)
        self._runs[run] = out
        return out

    def _delete(self, runs: Sequence[_Run]) -> None:
        self.conn.executemany("DELETE FROM lsh_runs WHERE run = ?", [(r.run,) for r in runs])
        for r in runs:
            self._runs.pop(r.run, None)

    @staticmethod
    def _size_class(n: int) -> int:
        c = 0
        while n >= SqliteIndex.FANOUT:
            n //= SqliteIndex.FANOUT
            c += 1
        return c

    def _compact(self) -> None:
        """Merge runs of one size class while there are ``FANOUT`` of them."""
        while True:
            by_class: dict[int, list[_Run]] = {}
            for r in self._runs.values():
                by_class.setdefault(self._size_class(r.n), []).append(r)
            full = sorted(c for c, rs in by_class.items() if len(rs) >= self.FANOUT)
            if not full:
                return
            group = sorted(by_class[full[0]], key=lambda r: r.run)
            bands = group[0].bands
            if any(r.bands != bands for r in group):
                raise ValueError("LSH runs with different band counts in one store")
            keys, items = [], []
            for b in range(bands):
                k, i = _sorted_band(
                    np.concatenate([r.keys[b] for r in group]),
                    np.concatenate([r.items[b] for r in group]),
                )
                keys.append(k)
                items.append(i)
            self._delete(group)
            self._write(keys, items)

    # -- the interface ------------------------------------------------------------------

    def add(self, items: Sequence[int], keys: np.ndarray) -> None:
        if not self._loaded:
            self.refresh()
        keys = np.asarray(keys)
        if len(items) == 0:
            return
        its = np.asarray(items, dtype=np.int64).astype(_U32)
        low = _low32(keys)
        cols = [_sorted_band(low[:, b], its) for b in range(low.shape[1])]
        self._write([k for k, _ in cols], [i for _, i in cols])
        self._compact()

    def candidates(self, keys: np.ndarray, cap: int) -> list[list[int]]:
        if not self._loaded:
            self.refresh()
        keys = np.asarray(keys)
        m = keys.shape[0]
        if m == 0:
            return []
        if cap <= 0:
            return [[] for _ in range(m)]
        low = _low32(keys)
        rows_parts: list[np.ndarray] = []
        item_parts: list[np.ndarray] = []
        for run in self._runs.values():
            for b in range(min(run.bands, low.shape[1])):
                rk = run.keys[b]
                q = low[:, b]
                lo = np.searchsorted(rk, q, "left")
                hi = np.searchsorted(rk, q, "right")
                cnt = np.minimum(hi - lo, cap)
                hit = np.flatnonzero(cnt)
                if hit.size == 0:
                    continue
                c = cnt[hit]
                total = int(c.sum())
                starts = np.repeat(lo[hit] - np.cumsum(c) + c, c)
                pos = starts + np.arange(total)
                rows_parts.append(np.repeat(hit, c).astype(np.int64))
                item_parts.append(run.items[b][pos].astype(np.int64))
        out: list[list[int]] = [[] for _ in range(m)]
        if not rows_parts:
            return out
        pairs = np.unique((np.concatenate(rows_parts) << 32) | np.concatenate(item_parts))
        rows = pairs >> 32
        items = pairs & _MASK
        first = np.searchsorted(rows, rows, "left")
        keep = (np.arange(len(rows)) - first) < cap
        rows, items = rows[keep], items[keep]
        bounds = np.flatnonzero(np.diff(rows)) + 1
        for r, its in zip(
            rows[np.r_[0, bounds]].tolist(), np.split(items, bounds), strict=True
        ):
            out[r] = its.tolist()
        return out

    def __len__(self) -> int:
        """Items indexed (counted once per run)."""
        if not self._loaded:
            self.refresh()
        return sum(r.n for r in self._runs.values())
