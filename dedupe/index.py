"""LSH candidate search over MinHash band keys, kept in the store and queried in bulk.

The interface is two calls, ``add`` and ``candidates``, so another backend (a shared server,
another storage layout) can replace this one without touching the rest.

Layout: the band keys live in *runs*, immutable sorted arrays, one row of the store's
``lsh_runs`` table per run and band (the low 32 bits of each band key, and the item under it,
as little-endian ``uint32`` BLOBs). In memory a run is one sorted ``uint64`` array of
``band << 59 | key << 27 | item`` (items up to 2**27), so one ``searchsorted`` answers all
bands of a batch of queries. ``add`` writes the new items as one run; runs of similar
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
from collections.abc import Callable, Sequence
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
_U64 = np.uint64
_BAND_SHIFT = np.uint64(59)
_KEY_SHIFT = np.uint64(27)
_ITEM = np.uint64((1 << 27) - 1)
_KEY = np.uint64(0xFFFFFFFF)
_MASK = np.int64(0xFFFFFFFF)
#: Items (fingerprint ids) the index can hold: they share 64 bits with a band and a key.
MAX_ITEM = (1 << 27) - 1
#: Bands the index can hold.
MAX_BANDS = 32
#: The ``band`` of the row holding a run's sketches.
SKETCH_BAND = -1
#: ``keep(query_sketches, candidate_sketches) -> bool mask`` of :meth:`SqliteIndex.candidate_pairs`.
Keep = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class _Run:
    """One immutable run: the sorted entries ``band << 59 | key << 27 | item`` of its items,
    and whether they came with sketches (held in the index's array by item, not here)."""

    run: int
    token: int
    n: int
    bands: int
    entries: np.ndarray
    sketched: bool = False


def _low32(keys: np.ndarray) -> np.ndarray:
    """Band keys (signed 64-bit) as the unsigned 32-bit values the index keeps."""
    return (np.asarray(keys, dtype=np.int64) & _MASK).astype(_U32)


def _entries(band: int, keys: np.ndarray, items: np.ndarray) -> np.ndarray:
    return (_U64(band) << _BAND_SHIFT) | (keys.astype(_U64) << _KEY_SHIFT) | items.astype(_U64)


class SqliteIndex:
    """Band-key runs in the store's ``lsh_runs`` table, held in memory once read."""

    #: Runs of one size class merged into one when there are this many.
    FANOUT = 4
    #: With a ``keep`` test, items read per hot bucket, as a multiple of the cap.
    SCAN = 5

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._runs: dict[int, _Run] = {}
        self._loaded = False
        # Sketches by item (row = item id; ``_sketched`` marks the rows that hold one).
        self._sk = np.zeros((0, 0), dtype=_U32)
        self._sketched = np.zeros(0, dtype=bool)

    def _keep_sketches(self, items: np.ndarray, sketches: np.ndarray) -> None:
        if not len(items):
            return
        top = int(items.max()) + 1
        width = sketches.shape[1]
        if self._sk.shape[1] != width:
            if self._sketched.any():
                raise ValueError("LSH sketches of different widths in one store")
            self._sk = np.zeros((0, width), dtype=_U32)
        if top > len(self._sk):
            size = max(top, 2 * len(self._sk), 1024)
            grown = np.zeros((size, width), dtype=_U32)
            grown[: len(self._sk)] = self._sk
            flags = np.zeros(size, dtype=bool)
            flags[: len(self._sketched)] = self._sketched
            self._sk, self._sketched = grown, flags
        self._sk[items] = sketches
        self._sketched[items] = True

    # -- persistence ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the runs other connections (or a rolled-back transaction) changed; call it at
        the start of every write transaction."""
        self._loaded = True
        rows = self.conn.execute("SELECT DISTINCT run, token FROM lsh_runs").fetchall()
        want = {int(r): int(t) for r, t in rows}
        for r in [r for r, run in self._runs.items() if want.get(r) != run.token]:
            del self._runs[r]  # (its sketches stay: an item's sketch never changes)
        for r, token in sorted(want.items()):
            if r not in self._runs:
                self._runs[r] = self._read(r, token)

    def _read(self, run: int, token: int) -> _Run:
        parts: list[np.ndarray] = []
        sketched = False
        n = 0
        for band, k, i in self.conn.execute(
            "SELECT band, keys, items FROM lsh_runs WHERE run = ? ORDER BY band", (run,)
        ):
            if band == SKETCH_BAND:
                its = np.frombuffer(k, dtype="<u4")
                self._keep_sketches(its, np.frombuffer(i, dtype="<u4").reshape(len(its), -1))
                sketched = True
                continue
            keys = np.frombuffer(k, dtype="<u4")
            n = len(keys)
            parts.append(_entries(band, keys, np.frombuffer(i, dtype="<u4")))
        entries = np.concatenate(parts) if parts else np.zeros(0, dtype=_U64)
        return _Run(run, token, n, len(parts), entries, sketched)

    def _write(
        self,
        entries: np.ndarray,
        bands: int,
        sketch_items: np.ndarray | None = None,
        sketches: np.ndarray | None = None,
    ) -> _Run:
        row = self.conn.execute("SELECT COALESCE(MAX(run), 0) + 1 FROM lsh_runs").fetchone()
        run = int(row[0])
        token = int.from_bytes(os.urandom(8), "little") >> 1
        n = len(entries) // bands if bands else 0
        cuts = np.searchsorted(entries, np.arange(bands + 1, dtype=_U64) << _BAND_SHIFT)
        rows = []
        for b in range(bands):
            e = entries[cuts[b] : cuts[b + 1]]
            rows.append(
                (
                    run,
                    b,
                    token,
                    n,
                    ((e >> _KEY_SHIFT) & _KEY).astype("<u4").tobytes(),
                    (e & _ITEM).astype("<u4").tobytes(),
                )
            )
        if sketch_items is not None and sketches is not None:
            rows.append(
                (
                    run,
                    SKETCH_BAND,
                    token,
                    n,
                    sketch_items.astype("<u4").tobytes(),
                    np.ascontiguousarray(sketches, dtype="<u4").tobytes(),
                )
            )
        self.conn.executemany(
            "INSERT INTO lsh_runs (run, band, token, n, keys, items) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        sketched = sketch_items is not None and sketches is not None
        out = _Run(run, token, n, bands, entries, sketched)
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
            # Each run is sorted: the stable sort (a merge sort) mostly merges them.
            entries = np.sort(np.concatenate([r.entries for r in group]), kind="stable")
            sk_items = sk = None
            if all(r.sketched for r in group):
                first_band = entries[: np.searchsorted(entries, _U64(1) << _BAND_SHIFT)]
                sk_items = np.unique((first_band & _ITEM).astype(_U32))
                sk = self._sk[sk_items]
            self._delete(group)
            self._write(entries, bands, sk_items, sk)

    # -- the interface ------------------------------------------------------------------

    def add(
        self, items: Sequence[int], keys: np.ndarray, sketches: np.ndarray | None = None
    ) -> None:
        """Also keeps ``sketches[i]`` (any fixed-width uint32 rows) for the ``keep`` test of
        :meth:`candidate_pairs`."""
        if not self._loaded:
            self.refresh()
        keys = np.asarray(keys)
        if len(items) == 0:
            return
        its = np.asarray(items, dtype=np.int64)
        if its.min() < 0 or its.max() > MAX_ITEM:
            raise ValueError(f"LSH items must be in 0..{MAX_ITEM}")
        if keys.shape[1] > MAX_BANDS:
            raise ValueError(f"at most {MAX_BANDS} LSH bands")
        its32 = its.astype(_U32)
        low = _low32(keys)
        entries = np.sort(
            np.concatenate([_entries(b, low[:, b], its32) for b in range(low.shape[1])])
        )
        sk_items = sk = None
        if sketches is not None:
            order = np.argsort(its32, kind="stable")
            sk_items, sk = its32[order], np.asarray(sketches, dtype=_U32)[order]
            self._keep_sketches(sk_items, sk)
        self._write(entries, low.shape[1], sk_items, sk)
        self._compact()

    def candidates(self, keys: np.ndarray, cap: int) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(np.asarray(keys).shape[0])]
        rows, items = self.candidate_pairs(keys, cap)
        if rows.size:
            bounds = np.flatnonzero(np.diff(rows)) + 1
            for r, its in zip(rows[np.r_[0, bounds]].tolist(), np.split(items, bounds)):
                out[r] = its.tolist()
        return out

    def candidate_pairs(
        self,
        keys: np.ndarray,
        cap: int,
        sketches: np.ndarray | None = None,
        keep: Keep | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`candidates` as two arrays, query row and item, sorted by row then item.

        With ``sketches`` (one row per query) and ``keep``, candidates whose stored sketch
        fails ``keep(query_sketches, candidate_sketches)`` are dropped before the cap, and a
        hot bucket is read up to ``SCAN`` times ``cap`` items instead of ``cap``."""
        if not self._loaded:
            self.refresh()
        keys = np.asarray(keys)
        empty = np.zeros(0, dtype=np.int64)
        if keys.shape[0] == 0 or cap <= 0 or not self._runs:
            return empty, empty
        filtering = sketches is not None and keep is not None
        scan = cap * self.SCAN if filtering else cap
        m, nb = keys.shape[0], min(keys.shape[1], MAX_BANDS)
        low = _low32(keys[:, :nb])
        q = np.concatenate([_entries(b, low[:, b], np.zeros(m, dtype=_U32)) for b in range(nb)])
        qrow = np.tile(np.arange(m, dtype=np.int64), nb)
        # Sorted queries walk each sorted run forward: far fewer cache misses.
        order = np.argsort(q, kind="stable")
        q, qrow = q[order], qrow[order]
        q_hi = q | _ITEM
        pair_parts: list[np.ndarray] = []
        for run in self._runs.values():
            entries = run.entries
            lo = np.searchsorted(entries, q, "left")
            hi = np.searchsorted(entries, q_hi, "right")
            cnt = np.minimum(hi - lo, scan)
            hit = np.flatnonzero(cnt)
            if hit.size == 0:
                continue
            c = cnt[hit]
            starts = np.repeat(lo[hit] - np.cumsum(c) + c, c)
            rows = np.repeat(qrow[hit], c)
            items = (entries[starts + np.arange(int(c.sum()))] & _ITEM).astype(np.int64)
            if filtering:
                # Tested as met (cheaper than sorting every meeting first); items without a
                # sketch are kept.
                ok = self._passes(rows, items, sketches, keep)  # type: ignore[arg-type]
                rows, items = rows[ok], items[ok]
            pair_parts.append((rows << 32) | items)
        if not pair_parts:
            return empty, empty
        pairs = np.unique(np.concatenate(pair_parts))
        rows = pairs >> 32
        items = pairs & _MASK
        first = np.searchsorted(rows, rows, "left")
        keep_ = (np.arange(len(rows)) - first) < cap
        return rows[keep_], items[keep_]

    def _passes(
        self, rows: np.ndarray, items: np.ndarray, sketches: np.ndarray, keep: Keep
    ) -> np.ndarray:
        has = np.zeros(len(items), dtype=bool)
        inside = items < len(self._sketched)
        has[inside] = self._sketched[items[inside]]
        ok = ~has
        if has.any():
            ok[has] = keep(sketches[rows[has]], self._sk[items[has]])
        return ok

    def __len__(self) -> int:
        """Items indexed (counted once per run)."""
        if not self._loaded:
            self.refresh()
        return sum(r.n for r in self._runs.values())
