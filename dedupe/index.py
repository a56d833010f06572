"""LSH candidate search over MinHash band keys, kept in the store and queried in bulk.

The interface is two calls, ``add`` and ``candidates``, so another backend (a shared server,
another storage layout) can replace this one without touching the rest.

Layout: the band keys live in *runs*, immutable sorted arrays, one row of the store's
``lsh_runs`` table per run and band (the low 28 bits of each band key, and the item under it, as
little-endian ``uint32`` BLOBs). ``add`` writes the new items as one run; runs of similar
size are merged (``FANOUT`` of them into one), so a store of ``n`` items holds about
``FANOUT * log(n)`` runs and each item is rewritten ``log(n)`` times over its life: adding
costs in proportion to what is added, not to the store. The runs are read once per process
(one BLOB per run and band, no per-row work) and queried with ``numpy.searchsorted``.

In memory an entry is one ``uint64``, ``band << 57 | key << 29 | item``, so all the bands of
a run sort as one array and one search answers every band of a batch of queries at once (what
a single added article costs is a few searches per run, not one per run and band). A merge
lets its input runs go first and reads them again from the table one band at a time, so it
needs the memory of its output and of one band, not of a second copy of its inputs.

Keys are kept to 28 bits: a query may then meet an unrelated item whose key agrees in those
bits (about ``items / 2**28`` per band). Such extra candidates are harmless, because every
candidate is verified on its text. Items (fingerprint ids) must be below ``2**29``, bands
at most 128.

Several processes may share a store: each one keeps the runs it has read and, before each
use inside a write transaction, compares its runs with the table (run id and a random token
per run, so a run id reused after a rollback is not mistaken for the old run). That
comparison reads a row per run and band, so it is skipped when nothing can have changed: no
other connection committed (SQLite's ``data_version``) and the run this one wrote last is in
the table (a rolled-back write is not).

Memory is bounded by a budget: the smallest runs are held in memory while they fit, and each
larger one is copied to a *spill file*, an unnamed temporary file private to the process (the
system deletes it when the process ends, however it ends). A spilled run keeps in memory only
its fence (1 entry in 128), its key map and its sorted items (and their rows, when the
ids are dense: up to 8 bytes an item in all); a search reads, for each query
the key map lets through, the 128-entry block the fence points to, and the sketches of the
candidates it finds (at a million articles the sketches alone took 300 MB of memory). The
BLOBs in the store are not read in place: SQLite reaches a byte of a BLOB by walking its
chain of overflow pages from the start, which a fresh read of a 30 MB BLOB pays in full.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from . import blobs


class Index(Protocol):
    """What the tracker needs from an LSH index."""

    def add(self, items: Sequence[int], keys: np.ndarray) -> None:
        """Register ``items[i]`` under the band keys ``keys[i]`` (one column per band)."""

    def candidates(self, keys: np.ndarray, cap: int) -> list[list[int]]:
        """Items sharing at least one band key with each row of ``keys``, at most ``cap`` each,
        smallest ids first (so the choice under the cap never depends on arrival order), and
        at most ``cap`` read from each bucket (a hot bucket is read no further)."""


_U32 = np.uint32
_U64 = np.uint64
_MASK = np.int64(0xFFFFFFFF)
#: Bits of an in-memory entry: band, then key, then item.
_BAND_SHIFT = np.uint64(57)
_KEY_SHIFT = np.uint64(29)
_KEY_MASK = np.uint64((1 << 28) - 1)
_ITEM_MASK = np.uint64((1 << 29) - 1)
#: Bands an index holds at most; the largest item id it holds.
MAX_BANDS = 128
MAX_ITEM = (1 << 29) - 1
#: Entries per block of a large array's fence (its last entry of every block): a search for
#: a few queries reads the fence, small enough to stay in the CPU cache, then one block per
#: query, instead of probing the whole array at random (each probe a cache miss). A power of 2.
_BLOCK = 128
#: The fence is used when the array holds this many entries per query or more.
_FEW = 256
#: The ``band`` of the row holding a run's sketches.
SKETCH_BAND = -1
#: Runs of at least this many items keep a key map (see :func:`_key_map`).
_MAP_MIN = 1 << 14
#: ``keep(query_sketches, candidate_sketches) -> bool mask`` of :meth:`SqliteIndex.candidate_pairs`.
Keep = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class _Run:
    """One immutable run of ``n`` items in ``nbands`` bands: its sorted entries (``n`` per
    band, band after band) and their fence; and, when the caller gave them, each item's
    sketch (``sketch_items`` sorted, rows aligned).

    A run *on disk* keeps its entries and its sketches in a spill file, read a block or a
    few rows at a time (see :meth:`SqliteIndex._disk_pairs`); in memory it keeps their
    fence, its key map and its sorted items."""

    run: int
    token: int
    n: int
    nbands: int
    entries: np.ndarray | None
    sketch_items: np.ndarray | None = None
    sketches: np.ndarray | None = None
    fence: np.ndarray | None = field(init=False)
    slot: np.ndarray | None = field(init=False)
    keymap: tuple[np.ndarray, int] | None = field(init=False)
    spill: _Spill | None = field(init=False, default=None)
    #: Its smallest and largest items (``-1`` while unknown).
    low: int = field(init=False, default=-1)
    high: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        self.slot = _slots(self.sketch_items)
        self.fence = self.keymap = None
        if self.sketch_items is not None and len(self.sketch_items):
            self.low, self.high = int(self.sketch_items[0]), int(self.sketch_items[-1])
        if self.entries is not None:
            self.fence = _fence(self.entries)
            self.keymap = _key_map(self.entries, self.n, self.nbands)
            if self.low < 0 and self.n:
                its = self.entries[: self.n] & _ITEM_MASK
                self.low, self.high = int(its.min()), int(its.max())

    @property
    def size(self) -> int:
        """Bytes its entries take in memory."""
        return self.n * self.nbands * 8

    def to_disk(self, directory: str | None) -> None:
        """Write the entries and the sketches to a spill file and keep only what a search
        on disk needs (the key map and the sorted items stay)."""
        assert self.entries is not None
        n = self.n
        spill = _Spill(n, self.nbands, directory)
        try:
            for b in range(self.nbands):
                spill.put(b, self.entries[b * n : (b + 1) * n])
            if self.sketches is not None:
                spill.put_sketches([self.sketches], len(self.sketches))
        except BaseException:
            spill.close()
            raise
        self.entries = self.sketches = None
        self.use(spill)

    @property
    def has_sketches(self) -> bool:
        return self.sketch_items is not None and (
            self.sketches is not None or (self.spill is not None and self.spill.sk_width > 0)
        )

    def sketches_of(self, items: np.ndarray) -> np.ndarray:
        """The sketch rows of these items (all in the run), from memory or from disk."""
        rows = self.sketch_rows(items)
        if self.sketches is not None:
            return self.sketches[rows]
        assert self.spill is not None
        order = np.argsort(rows)
        out = np.empty((rows.size, self.spill.sk_width), dtype=_U32)
        out[order] = self.spill.sketch_rows(rows[order])
        return out

    def use(self, spill: _Spill) -> None:
        """Search ``spill`` (all bands written) instead of entries in memory."""
        self.spill, self.fence, self.keymap = spill, spill.fence, spill.keymap
        if self.low < 0:
            self.low, self.high = spill.low, spill.high

    def may_hold(self, q: np.ndarray) -> np.ndarray:
        """For entry prefixes (band and key): ``False`` where the run surely holds none
        (``keymap`` must be set)."""
        bits, t = self.keymap  # type: ignore[misc]
        # band << t | the key's top t bits: the entry's top bits, as the band sits on the key
        at = (q >> (_KEY_SHIFT + _U64(28 - t))).astype(np.intp)
        return (bits[at >> 3] & (np.uint8(1) << (at & 7).astype(np.uint8))) != 0

    def let_go(self) -> None:
        """Drop the entries, in memory or spilled (a merge reads them again from the table)."""
        self.entries = self.fence = self.keymap = None
        if self.spill is not None:
            self.spill.close()
            self.spill = None

    def sketch_rows(self, items: np.ndarray) -> np.ndarray:
        """The rows of ``sketches`` holding these items (all in the run)."""
        if self.slot is not None:
            return self.slot[items - self.sketch_items[0]]  # type: ignore[index]
        return np.searchsorted(self.sketch_items, items)  # type: ignore[arg-type]

    def drop_sketches(self) -> None:
        self.sketch_items = self.sketches = self.slot = None


def _out_of_order(items: np.ndarray) -> bool:
    """Are the items of runs taken one after the other not rising (a merge must sort them)?"""
    return items.size > 1 and not bool((items[1:] > items[:-1]).all())


def _slots(items: np.ndarray | None) -> np.ndarray | None:
    """Each item's row, indexed by ``item - items[0]``: one load instead of a binary search
    per candidate. Only when the ids are dense (a run holds batches of consecutive new ids,
    so they nearly always are); ``None`` otherwise."""
    if items is None or not len(items):
        return None
    span = int(items[-1]) - int(items[0]) + 1
    if span > 2 * len(items) + 4096:
        return None
    slot = np.zeros(span, dtype=np.int32)
    slot[items.astype(np.int64) - int(items[0])] = np.arange(len(items), dtype=np.int32)
    return slot


def _key_map(entries: np.ndarray, n: int, nbands: int) -> tuple[np.ndarray, int] | None:
    """One bit per band and value of the top ``t`` key bits, set where the run holds an entry;
    ``2**t`` is 2 to 4 times the run's items. Most queries a large run does not hold (over
    nine in ten in a batch) then cost one load, not a binary search: a band key is a hash,
    so its top bits spread evenly. ``None`` for a small run."""
    if n < _MAP_MIN or len(entries) != n * nbands:
        return None
    t = _map_bits(n)
    width = (1 << t) // 8
    bits = np.empty(nbands * width, dtype=np.uint8)
    for b in range(nbands):
        keys = (entries[b * n : (b + 1) * n] >> _KEY_SHIFT) & _KEY_MASK
        bits[b * width : (b + 1) * width] = _map_band(keys, t)
    return bits, t


def _map_bits(n: int, on_disk: bool = False) -> int:
    """The key bits a run of ``n`` items maps: ``2**t`` is 2 to 4 times ``n``, twice that
    on disk, where a query the map lets through costs a read (measured on a million
    articles: 8 % less time for the candidate search, for 0.25 to 0.5 bytes per entry)."""
    return min(28, (n - 1).bit_length() + 1 + on_disk)


def _map_band(keys: np.ndarray, t: int) -> np.ndarray:
    """One band's part of a key map: a bit per value of the top ``t`` bits of its keys."""
    seen = np.zeros(1 << t, dtype=bool)
    seen[keys.astype(_U32) >> _U32(28 - t)] = True
    return np.packbits(seen, bitorder="little")


def stored_keys(keys: np.ndarray) -> np.ndarray:
    """Band keys (signed 64-bit) as the 28-bit values the index keeps (``uint32``)."""
    return (np.asarray(keys, dtype=np.int64) & np.int64(_KEY_MASK)).astype(_U32)


def _entries(band: int, keys: np.ndarray, items: np.ndarray) -> np.ndarray:
    return (_U64(band) << _BAND_SHIFT) | (keys.astype(_U64) << _KEY_SHIFT) | items.astype(_U64)


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D array, sorted: ``numpy.unique(a)``, by a sort and a
    comparison of neighbours (numpy 2.4's ``unique`` measured 40 times slower on a million
    64-bit integers)."""
    s = np.sort(a)
    if s.size < 2:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _fence(entries: np.ndarray) -> np.ndarray | None:
    """The last entry of every full block of a large sorted array (``None`` when small)."""
    if len(entries) < _BLOCK * 16:
        return None
    return np.ascontiguousarray(entries[_BLOCK - 1 :: _BLOCK])


def _bound(
    entries: np.ndarray,
    fence: np.ndarray | None,
    q: np.ndarray,
    side: Literal["left", "right"] = "left",
) -> np.ndarray:
    """``numpy.searchsorted(entries, q, side)``; for a few queries into a large array,
    through its fence."""
    if fence is None or len(q) * _FEW > len(entries):
        return np.searchsorted(entries, q, side)
    below = np.less if side == "left" else np.less_equal  # entries before the answer
    nfull = len(fence)
    blk = np.searchsorted(fence, q, side)  # the block holding the answer
    out = np.empty(len(q), dtype=np.intp)
    inner = np.flatnonzero(blk < nfull)
    if inner.size:
        # A binary search inside each query's block, all queries a step at a time: the
        # block's last entry is not before the answer, so the answer is within it.
        lo = blk[inner] * _BLOCK
        qq = q[inner]
        step = _BLOCK // 2
        while step:
            lo += step * below(entries[lo + (step - 1)], qq)
            step //= 2
        out[inner] = lo
    tail = np.flatnonzero(blk >= nfull)  # past the last full block
    if tail.size:
        rest = entries[nfull * _BLOCK :]
        out[tail] = nfull * _BLOCK + np.searchsorted(rest, q[tail], side)
    return out


#: Queries a search of a run on disk reads blocks for at a time: its buffers stay small
#: (a block per query at most) however large the batch, and in the CPU's caches.
_SLICE = 2048
#: Candidate pairs whose sketches are tested at a time.
_KEEP_AT_ONCE = 1 << 18
#: Blocks a read of a spill file may take in between two it needs rather than stop and
#: start another read: a read is a system call, and a block costs little more than its copy.
_GAP = 3
#: A block of entries above any other, ending a spill file's entries.
_PAD = b"\xff" * (8 * _BLOCK)
#: Reading the sketches of a run on disk: a system call reads rows no more than
#: ``_SKETCH_GAP`` apart (copying 10 KB costs about what a call costs), within one window
#: of ``_SKETCH_SPAN`` rows, which is also the most a read buffers (1.3 MB at 20 bytes a row).
_SKETCH_GAP = 512
_SKETCH_SPAN = 1 << 16
#: Merges of at most this many bytes of entries, all of them held in memory, are done
#: there (the runs a few single adds make); larger ones read their inputs from the table.
_HELD_MERGE = 1 << 23
#: Reads go straight into their buffers (not on every system).
_PREADV = hasattr(os, "preadv")


class _Spill:
    """A run's sorted entries (``<u8``) in an unnamed temporary file, gone when closed or when
    the process ends, followed by ``_BLOCK`` entries above any other, so that reading a block
    never comes back short. A copy of what the store holds, private to this process. It
    builds the fence and the key map of the entries as they are written."""

    def __init__(self, n: int, nbands: int, directory: str | None) -> None:
        self.n = n
        self.total = total = n * nbands
        try:
            self.file = tempfile.TemporaryFile(dir=directory)
        except OSError:  # a folder we may not write to: the system's temporary folder
            self.file = tempfile.TemporaryFile()
        self.fd = self.file.fileno()
        self.fence = np.empty(total // _BLOCK, dtype=_U64)
        t = _map_bits(n, on_disk=True) if n >= _MAP_MIN else 0
        self.keymap = (np.empty(nbands * ((1 << t) // 8), dtype=np.uint8), t) if t else None
        self._write(_PAD, 8 * total)
        #: Where the sketches start (after the entries and the pad), and their row width
        #: (``0``: none written).
        self.sk_at, self.sk_width = 8 * total + len(_PAD), 0
        #: The smallest and largest items of the first band written (``-1``: none yet).
        self.low = self.high = -1

    def _write(self, data: bytes | np.ndarray, at: int) -> None:
        view = memoryview(data).cast("B")  # an array is written as it lies, without a copy
        while view:
            done = os.pwrite(self.fd, view, at)
            view, at = view[done:], at + done

    def put(self, band: int, entries: np.ndarray) -> None:
        """Write one band's sorted entries (the bands in any order)."""
        at = band * self.n
        self._write(np.ascontiguousarray(entries, dtype="<u8"), 8 * at)
        if self.low < 0 and len(entries):
            its = entries & _ITEM_MASK
            self.low, self.high = int(its.min()), int(its.max())
        # fence entry k is the entry at k * _BLOCK + _BLOCK - 1
        k0, k1 = at // _BLOCK, (at + len(entries)) // _BLOCK
        self.fence[k0:k1] = entries[k0 * _BLOCK + _BLOCK - 1 - at :: _BLOCK][: k1 - k0]
        if self.keymap is not None:
            bits, t = self.keymap
            width = (1 << t) // 8
            keys = (entries >> _KEY_SHIFT) & _KEY_MASK
            bits[band * width : (band + 1) * width] = _map_band(keys, t)

    def put_sketches(self, parts: Iterable[np.ndarray], rows: int) -> None:
        """Write the run's ``rows`` sketch rows (``<u4``, in item order), given in pieces of
        any size, after the entries."""
        at, done = self.sk_at, 0
        for part in parts:
            part = np.ascontiguousarray(part, dtype="<u4")
            self._write(part, at)
            at += part.nbytes
            done += part.size
        if rows and done % rows:
            raise ValueError(f"LSH index: {done} sketch values do not make {rows} rows")
        self.sk_width = done // rows if rows else 0

    def sketch_rows(self, rows: np.ndarray) -> np.ndarray:
        """Sketch rows ``rows`` (sorted). One system call reads a stretch of rows no
        more than ``_SKETCH_GAP`` apart, inside one window of ``_SKETCH_SPAN`` rows; the
        stretches are read into a buffer of at most ``_SKETCH_SPAN`` rows at a time (a
        stretch fits, being inside a window)."""
        width = self.sk_width
        size = 4 * width
        out = np.empty((rows.size, width), dtype="<u4")
        if not rows.size:
            return out
        opens = np.r_[
            True,
            (rows[1:] > rows[:-1] + _SKETCH_GAP)
            | (rows[1:] // _SKETCH_SPAN != rows[:-1] // _SKETCH_SPAN),
        ]
        firsts = np.flatnonzero(opens)
        starts = rows[firsts]
        length = np.r_[rows[firsts[1:] - 1], rows[-1]] - starts + 1
        stretch = np.cumsum(opens) - 1  # each wanted row's stretch
        begins, lengths = starts.tolist(), length.tolist()
        i = 0
        while i < len(begins):
            j, total = i, 0
            while j < len(begins) and total + lengths[j] <= _SKETCH_SPAN:
                total += lengths[j]
                j += 1
            buf = np.empty((total, width), dtype="<u4")
            view, pos = memoryview(buf).cast("B"), 0
            for first, m in zip(begins[i:j], lengths[i:j]):
                _read_into(self.fd, view[pos : pos + size * m], self.sk_at + size * first)
                pos += size * m
            a = int(firsts[i])
            b = int(firsts[j]) if j < len(begins) else rows.size
            offset = np.cumsum(length[i:j]) - length[i:j]  # each stretch's first row in buf
            st = stretch[a:b]
            out[a:b] = buf[offset[st - i] + rows[a:b] - starts[st]]
            i = j
        return out

    def sketch_stream(self, rows: int) -> blobs.Stream:
        """The ``rows`` sketch rows written, as a :class:`blobs.Stream` read a piece at a
        time from this file."""
        size = 4 * self.sk_width * rows

        def parts() -> Iterator[np.ndarray]:
            for at in range(0, size, blobs.PIECE):
                buf = np.empty(min(blobs.PIECE, size - at), dtype=np.uint8)
                _read_into(self.fd, memoryview(buf), self.sk_at + at)
                yield buf

        return blobs.Stream(size, parts)

    def close(self) -> None:
        self.file.close()


def _read_into(fd: int, view: memoryview, at: int) -> None:
    """Fill ``view`` from offset ``at`` of a spill file, straight into it where the system
    can (``os.preadv``)."""
    while view:
        if _PREADV:
            got = os.preadv(fd, [view], at)
        else:
            data = os.pread(fd, len(view), at)
            got = len(data)
            view[:got] = data
        if got <= 0:
            raise OSError(f"LSH index: a spill file ended {len(view)} bytes early")
        view, at = view[got:], at + got


def _read_blocks(fd: int, firsts: list[int], lengths: list[int], nblocks: int) -> np.ndarray:
    """Stretches of ``lengths[i]`` blocks from block ``firsts[i]`` of a spill file, one after
    the other."""
    width = 8 * _BLOCK
    out = np.empty(nblocks * _BLOCK, dtype="<u8")
    view, at = memoryview(out).cast("B"), 0
    for k, m in zip(firsts, lengths):
        _read_into(fd, view[at : at + width * m], width * k)
        at += width * m
    return out


class SqliteIndex:
    """Band-key runs in the store's ``lsh_runs`` table, held in memory once read; past the
    memory budget, the largest runs are spilled to disk and searched a block at a time."""

    #: Runs of one size class merged into one when there are this many.
    FANOUT = 4

    def __init__(
        self, conn: sqlite3.Connection, memory: int | None = None, spill_dir: str | None = None
    ) -> None:
        """``memory``: bytes of entries to hold in memory (8 per item and band), the
        smallest runs first; the others are copied to unnamed temporary files in
        ``spill_dir`` (``None``: the system's temporary folder) and read a block at a time
        as a search needs them. ``None``: no limit. Either way the answers are the same."""
        if memory is not None and memory < 0:
            raise ValueError(f"LSH index: the memory budget must be 0 or more, not {memory}")
        self.conn = conn
        # a run on disk is read with os.pread (not on Windows)
        self.memory = memory if hasattr(os, "pread") else None
        self.spill_dir = spill_dir
        self._runs: dict[int, _Run] = {}
        self._loaded = False
        # What refresh needs to know that the table has not changed since it last read it:
        # the data_version it saw then, the run this connection wrote last (id, token), and
        # whether an add is under way or failed (then only a full read is sure).
        self._version: int | None = None
        self._last: tuple[int, int] | None = None
        self._pending = False

    # -- persistence ---------------------------------------------------------------------

    def _in_memory(self, sizes: dict[int, int]) -> set[int]:
        """The runs (id: bytes) to hold in memory: the smallest first, while they fit."""
        if self.memory is None:
            return set(sizes)
        used, out = 0, set()
        for size, r in sorted((size, r) for r, size in sizes.items()):
            if used + size > self.memory:
                break
            used += size
            out.add(r)
        return out

    def _settle(self) -> None:
        """Move runs between memory and disk as the budget says (after the runs changed)."""
        keep = self._in_memory({r: run.size for r, run in self._runs.items()})
        for r, run in sorted(self._runs.items()):
            if r not in keep and run.entries is not None:
                run.to_disk(self.spill_dir)
        for r, run in sorted(self._runs.items()):
            if r in keep and run.entries is None:
                run.let_go()
                self._runs[r] = self._read(r, run.token, True)

    def close(self) -> None:
        """Let every run go (the spill files are deleted)."""
        for run in self._runs.values():
            run.let_go()
        self._runs.clear()
        self._loaded = False

    def refresh(self) -> None:
        """Read the runs other connections (or a rolled-back transaction) changed; call it at
        the start of every write transaction."""
        (version,) = self.conn.execute("PRAGMA data_version").fetchone()
        if self._loaded and not self._pending and version == self._version and self._has_last():
            return
        self._loaded = True
        self._version, self._last, self._pending = int(version), None, False
        rows = self.conn.execute(
            "SELECT run, token, COALESCE(MAX(CASE WHEN band >= 0 THEN n END), 0),"
            " SUM(band >= 0) FROM lsh_runs GROUP BY run, token"
        ).fetchall()
        want = {int(r): int(t) for r, t, _, _ in rows}
        for r in [r for r, run in self._runs.items() if want.get(r) != run.token]:
            self._runs.pop(r).let_go()
        keep = self._in_memory({int(r): int(n) * int(nb) * 8 for r, _, n, nb in rows})
        for r, token in sorted(want.items()):
            if r not in self._runs:
                self._runs[r] = self._read(r, token, r in keep)
        self._settle()

    def _has_last(self) -> bool:
        """Is the run this connection wrote last still in the table (not rolled back)?"""
        if self._last is None:
            return True
        row = self.conn.execute(
            "SELECT 1 FROM lsh_runs WHERE run = ? AND token = ? LIMIT 1", self._last
        ).fetchone()
        return row is not None

    def _read(self, run: int, token: int, in_memory: bool = True) -> _Run:
        """A run from the table: its entries, or (on disk) its spill file, fence and key map,
        built a band at a time."""
        nb, n = self.conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(n), 0) FROM lsh_runs WHERE run = ? AND band >= 0",
            (run,),
        ).fetchone()
        entries = np.empty(nb * n, dtype=_U64) if in_memory else None
        spill = None if in_memory else _Spill(n, nb, self.spill_dir)
        sketch_items = sketches = None
        rows = self.conn.execute(
            "SELECT id, band FROM lsh_runs WHERE run = ? ORDER BY band", (run,)
        ).fetchall()
        try:
            for rowid, band in rows:
                if band == SKETCH_BAND:
                    sketch_items = self._blob(rowid, "keys")
                    if spill is not None:
                        spill.put_sketches(self._pieces(rowid, "items"), len(sketch_items))
                    else:
                        sketches = self._blob(rowid, "items").reshape(len(sketch_items), -1)
                elif entries is not None:
                    self._fill(rowid, band, entries[band * n : (band + 1) * n])
                else:
                    one = np.empty(n, dtype=_U64)
                    self._fill(rowid, band, one)
                    spill.put(band, one)  # type: ignore[union-attr]
                    del one
        except BaseException:
            if spill is not None:
                spill.close()
            raise
        out = _Run(run, token, n, nb, entries, sketch_items, sketches)
        if spill is not None:
            out.use(spill)
        return out

    def _fill(self, rowid: int, band: int, out: np.ndarray) -> None:
        """Fill ``out`` with the entries of the band stored in row ``rowid``, a piece of its
        BLOBs at a time."""
        at, whole = 0, True
        with (
            contextlib.closing(self._pieces(rowid, "keys")) as keys,
            contextlib.closing(self._pieces(rowid, "items")) as items,
        ):
            for k, i in zip(keys, items):
                if at + len(k) > len(out) or len(i) != len(k):
                    whole = False
                    break
                out[at : at + len(k)] = _entries(band, k, i)
                at += len(k)
            whole = whole and next(keys, None) is None and next(items, None) is None
        if at != len(out) or not whole:
            raise sqlite3.DatabaseError(
                f"lsh_runs row {rowid}: band {band} does not hold {len(out)} entries"
            )

    def _row_of(self, run: int, band: int) -> int:
        (rowid,) = self.conn.execute(
            "SELECT id FROM lsh_runs WHERE run = ? AND band = ?", (run, band)
        ).fetchone()
        return int(rowid)

    def _fill_band(self, run: int, band: int, out: np.ndarray) -> None:
        self._fill(self._row_of(run, band), band, out)

    def _new_run(self) -> tuple[int, int]:
        """A run id and a random token for a run about to be written."""
        row = self.conn.execute("SELECT COALESCE(MAX(run), 0) + 1 FROM lsh_runs").fetchone()
        return int(row[0]), int.from_bytes(os.urandom(8), "little") >> 1

    def _insert(self, row: dict[str, Any]) -> None:
        """Write one row of ``lsh_runs``: its BLOBs (the table's last columns) a piece at a
        time through handles when one is large, else bound."""
        keys, items = row["keys"], row["items"]
        head = (row["run"], row["band"], row["token"], row["n"])
        if blobs.large(keys) or blobs.large(items):
            cur = self.conn.execute(
                "INSERT INTO lsh_runs (run, band, token, n, keys, items)"
                " VALUES (?, ?, ?, ?, zeroblob(?), zeroblob(?))",
                (*head, blobs.size(keys), blobs.size(items)),
            )
            rowid = int(cur.lastrowid or 0)
            blobs.write(self.conn, "lsh_runs", "keys", rowid, keys)
            blobs.write(self.conn, "lsh_runs", "items", rowid, items)
            self._last = (row["run"], row["token"])
        else:
            self._insert_bound([row])

    def _insert_bound(self, rows: list[dict[str, Any]]) -> None:
        """Write rows of ``lsh_runs`` none of whose BLOBs is large, in one statement."""
        self.conn.executemany(
            "INSERT INTO lsh_runs (run, band, token, n, keys, items) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    r["run"],
                    r["band"],
                    r["token"],
                    r["n"],
                    blobs.bound(r["keys"], "lsh_runs.keys"),
                    blobs.bound(r["items"], "lsh_runs.items"),
                )
                for r in rows
            ],
        )
        if rows:
            self._last = (rows[-1]["run"], rows[-1]["token"])

    def _insert_all(self, rows: Iterable[dict[str, Any]], small: bool) -> None:
        """Write a run's rows: in one statement when they are ``small`` (at most
        ``_HELD_MERGE`` bytes of entries: they are all made before the first is written),
        else one at a time as :meth:`_insert` does (a large BLOB a piece at a time)."""
        if small:
            made = list(rows)
            if not any(blobs.large(r["keys"]) or blobs.large(r["items"]) for r in made):
                self._insert_bound(made)
                return
            rows = made
        for row in rows:
            self._insert(row)

    def _pieces(self, rowid: int, column: str) -> Iterator[np.ndarray]:
        """The ``keys`` or ``items`` BLOB of row ``rowid`` as ``<u4`` arrays, a piece at a
        time (whole without blob handles)."""
        if blobs.HANDLES:
            yield from blobs.pieces(self.conn, "lsh_runs", column, rowid, "<u4")
        else:
            yield self._blob(rowid, column)

    def _blob(self, rowid: int, column: str) -> np.ndarray:
        """The ``keys`` or ``items`` BLOB of row ``rowid`` as one ``<u4`` array."""
        if blobs.HANDLES:
            return blobs.read(self.conn, "lsh_runs", column, rowid, "<u4")
        (value,) = self.conn.execute(
            "SELECT keys FROM lsh_runs WHERE id = ?"
            if column == "keys"
            else "SELECT items FROM lsh_runs WHERE id = ?",
            (rowid,),
        ).fetchone()
        return blobs.as_array(value, "<u4", "lsh_runs", column, rowid)

    @staticmethod
    def _band_row(run: int, band: int, token: int, e: np.ndarray) -> dict[str, Any]:
        """A band's table row: its keys and items are made from ``e`` a piece at a time as
        they are written (a merged band of a large store is tens of megabytes)."""
        u4 = np.dtype("<u4")

        def keys(i: int, j: int) -> np.ndarray:
            return ((e[i:j] >> _KEY_SHIFT) & _KEY_MASK).astype(u4)

        def items(i: int, j: int) -> np.ndarray:
            return (e[i:j] & _ITEM_MASK).astype(u4)

        n = len(e)
        small = n * u4.itemsize < blobs.PIECE  # bound whole: no pieces to make
        return {
            "run": run,
            "band": band,
            "token": token,
            "n": n,
            "keys": keys(0, n) if small else blobs.sliced(n, u4, keys),
            "items": items(0, n) if small else blobs.sliced(n, u4, items),
        }

    @staticmethod
    def _sketch_row(
        run: int, token: int, items: np.ndarray, sketches: np.ndarray | None
    ) -> dict[str, Any]:
        """The row of a run's sketches (``None``: given by the caller before it is written)."""
        return {
            "run": run,
            "band": SKETCH_BAND,
            "token": token,
            "n": len(items),
            "keys": np.ascontiguousarray(items, dtype="<u4"),
            "items": None if sketches is None else np.ascontiguousarray(sketches, dtype="<u4"),
        }

    def _write(
        self,
        bands: list[np.ndarray],
        sketch_items: np.ndarray | None = None,
        sketches: np.ndarray | None = None,
    ) -> _Run:
        run, token = self._new_run()
        n = len(bands[0]) if bands else 0
        rows = (self._band_row(run, b, token, e) for b, e in enumerate(bands))
        if sketch_items is not None and sketches is not None:
            rows = itertools.chain(rows, [self._sketch_row(run, token, sketch_items, sketches)])
        self._insert_all(rows, n * len(bands) * 8 <= _HELD_MERGE)
        entries = np.concatenate(bands) if bands else np.zeros(0, dtype=_U64)
        out = _Run(run, token, n, len(bands), entries, sketch_items, sketches)
        self._runs[run] = out
        return out

    def _delete(self, runs: Sequence[_Run]) -> None:
        self.conn.executemany("DELETE FROM lsh_runs WHERE run = ?", [(r.run,) for r in runs])
        for r in runs:
            r.let_go()
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
            nb = group[0].nbands
            if any(r.nbands != nb for r in group):
                raise ValueError("LSH runs with different band counts in one store")
            try:
                self._merge(group, nb)
            except BaseException:
                # The old runs are emptied in memory but still in the table (the transaction
                # rolls back): forget them, so the next refresh reads them again.
                for r in group:
                    self._runs.pop(r.run, None)
                raise

    def _merge(self, group: list[_Run], nb: int) -> None:
        """Write ``group`` as one run and drop it. Its entries and sketches are let go
        first and read again from the table, a band or a piece at a time (the runs are
        there until dropped); small runs held in memory are merged there instead."""
        n = sum(r.n for r in group)
        with_sketches = all(r.sketch_items is not None for r in group)
        run, token = self._new_run()
        merged = {r.run for r in group}
        sizes = {r.run: r.size for r in self._runs.values() if r.run not in merged}
        sizes[run] = n * nb * 8
        in_memory = run in self._in_memory(sizes)
        if (
            in_memory
            and n * nb * 8 <= _HELD_MERGE
            and all(r.entries is not None for r in group)
            and (not with_sketches or all(r.sketches is not None for r in group))
        ):
            self._merge_held(group, nb, n, run, token, with_sketches)
            return
        its = np.concatenate([r.sketch_items for r in group]) if with_sketches else None  # type: ignore[misc]
        for r in group:
            r.let_go()
            r.drop_sketches()
        entries = np.empty(nb * n, dtype=_U64) if in_memory else None
        spill = None if in_memory else _Spill(n, nb, self.spill_dir)
        sk_items = sk = None
        try:
            for b in range(nb):
                # Each run is sorted: the stable sort (a merge sort) mostly merges them, in
                # place (a sorted copy would double the band's memory).
                band = np.empty(n, dtype=_U64)
                at = 0
                for r in group:
                    self._fill_band(r.run, b, band[at : at + r.n])
                    at += r.n
                band.sort(kind="stable")
                self._insert(self._band_row(run, b, token, band))
                if entries is not None:
                    entries[b * n : (b + 1) * n] = band
                if spill is not None:
                    spill.put(b, band)
                del band
            if its is not None:
                sk_items, sk = self._merge_sketches(group, run, token, its, spill)
        except BaseException:
            if spill is not None:
                spill.close()
            raise
        self._delete(group)
        out = _Run(run, token, n, nb, entries, sk_items, sk)
        if spill is not None:
            out.use(spill)
        self._runs[run] = out

    def _merge_held(
        self, group: list[_Run], nb: int, n: int, run: int, token: int, with_sketches: bool
    ) -> None:
        """:meth:`_merge` of small runs from the entries and sketches they hold, with no
        reads from the table: what each single added article costs is mostly such merges.
        A run's entries, its bands one after the other, are one sorted array (the band is
        their top bits), so the merged run is one sort of them all."""
        entries = np.sort(np.concatenate([r.entries for r in group]))  # type: ignore[misc]
        its = sk = None
        if with_sketches:
            its = np.concatenate([r.sketch_items for r in group])  # type: ignore[misc]
            sk = np.concatenate([r.sketches for r in group])  # type: ignore[misc]
            if _out_of_order(its):
                order = np.argsort(its, kind="stable")
                its, sk = its[order], sk[order]
        rows = [self._band_row(run, b, token, entries[b * n : (b + 1) * n]) for b in range(nb)]
        if its is not None:
            rows.append(self._sketch_row(run, token, its, sk))
        self._insert_all(rows, True)
        self._delete(group)
        self._runs[run] = _Run(run, token, n, nb, entries, its, sk)

    def _merge_sketches(
        self, group: list[_Run], run: int, token: int, its: np.ndarray, spill: _Spill | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Write the group's sketches (read from the table) as run ``run``'s, in item order
        (``its``: the group's items, run after run); return its items and, unless it goes to
        ``spill``, its sketches. Runs merged oldest first hold increasing ids (a new segment
        gets the next id), so the sketches in run order are nearly always sorted already and
        are copied a piece at a time: at a million articles a merged run holds millions of
        sketches, 20 bytes each."""
        rowids = [self._row_of(r.run, SKETCH_BAND) for r in group]

        def parts() -> Iterator[np.ndarray]:
            for rowid in rowids:
                yield from self._pieces(rowid, "items")

        # The inputs are read whole before the new row is written: a blob handle that reads
        # while another row of the table is written walks its BLOB again from the start at
        # every piece (measured: 4 times slower for each doubling of the BLOB).
        if _out_of_order(its):
            order = np.argsort(its, kind="stable")
            sk = np.concatenate(list(parts())).reshape(its.size, -1)[order]
            its = its[order]
        elif spill is not None:
            spill.put_sketches(parts(), its.size)
            row = self._sketch_row(run, token, its, None)
            row["items"] = spill.sketch_stream(its.size)
            self._insert(row)
            return its, None
        else:
            size = sum(
                self.conn.execute(
                    "SELECT length(items) FROM lsh_runs WHERE id = ?", (r,)
                ).fetchone()[0]
                for r in rowids
            )
            flat = np.empty(size // 4, dtype=_U32)
            at = 0
            for part in parts():
                flat[at : at + part.size] = part
                at += part.size
            sk = flat.reshape(its.size, -1) if its.size else flat.reshape(0, 0)
        self._insert(self._sketch_row(run, token, its, sk))
        if spill is not None:
            spill.put_sketches([sk], its.size)
            return its, None
        return its, sk

    # -- the interface ------------------------------------------------------------------

    def add(
        self, items: Sequence[int], keys: np.ndarray, sketches: np.ndarray | None = None
    ) -> None:
        """Also keeps ``sketches[i]`` (uint32 rows of any fixed width but 0) for the ``keep``
        test of :meth:`candidate_pairs`."""
        if not self._loaded:
            self.refresh()
        keys = np.asarray(keys)
        if len(items) == 0:
            return
        its = np.asarray(items, dtype=np.int64)
        if its.min() < 0 or its.max() > MAX_ITEM:
            raise ValueError(f"LSH index: item ids must be in 0..{MAX_ITEM}")
        if keys.shape[1] > MAX_BANDS:
            raise ValueError(f"LSH index: at most {MAX_BANDS} bands, not {keys.shape[1]}")
        if sketches is not None:
            sketches = np.asarray(sketches)
            if sketches.ndim != 2 or len(sketches) != len(its) or sketches.shape[1] == 0:
                raise ValueError(
                    "LSH index: sketches must be one row of at least one value per item,"
                    f" not an array of shape {sketches.shape} for {len(its)} items"
                )
        its = its.astype(_U32)
        low = stored_keys(keys)
        bands = [np.sort(_entries(b, low[:, b], its)) for b in range(low.shape[1])]
        sk_items = sk = None
        if sketches is not None:
            order = np.argsort(its, kind="stable")
            sk_items, sk = its[order], np.asarray(sketches, dtype=_U32)[order]
        self._pending = True  # until the whole add is done: a failure leaves memory unsure
        self._write(bands, sk_items, sk)
        self._compact()
        self._settle()
        self._pending = False

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
        fails ``keep(query_sketches, candidate_sketches)`` are dropped before the cap.

        Each query reads at most ``cap`` items of its bucket in each band, smallest ids
        first: a hot bucket (a line every article shares, or the first words of a template)
        grows with the corpus, and reading more of it found almost no more near copies (a
        near copy shares several bands, most of them not hot). The runs are read in the
        order of their smallest items, and the ``cap`` is for all of them while each run's
        items all come after those of the runs read before it (as batches of steady size
        make them); a run whose items reach back among theirs (its merge took a small batch
        made before a larger one, say) reads up to ``cap`` items of its own. Either way,
        without ``keep`` the answer is the ``cap`` smallest items sharing a band key,
        whatever the runs."""
        if not self._loaded:
            self.refresh()
        keys = np.asarray(keys)
        empty = np.zeros(0, dtype=np.int64)
        if keys.shape[0] == 0 or cap <= 0:
            return empty, empty
        filtering = sketches is not None and keep is not None
        nb = min(keys.shape[1], MAX_BANDS)
        low = stored_keys(keys[:, :nb])
        # Every (query, band) as one entry prefix, sorted: sorted queries walk each sorted
        # run forward (far fewer cache misses), and each band's queries are one slice.
        flat = (
            (np.arange(nb, dtype=_U64) << _BAND_SHIFT)[None, :] | (low.astype(_U64) << _KEY_SHIFT)
        ).ravel()
        order = np.argsort(flat)  # equal queries in any order: the answer is a sorted set
        sorted_q = flat[order]
        sorted_hi = sorted_q | _ITEM_MASK
        band_at = np.append(
            np.searchsorted(sorted_q, np.arange(nb, dtype=_U64) << _BAND_SHIFT), len(sorted_q)
        )
        # what each (query, band) may still read of its bucket, and the largest item read
        # from so far
        left = np.full(len(sorted_q), cap, dtype=np.int64)
        seen = -1
        pair_parts: list[np.ndarray] = []
        for run in sorted(self._runs.values(), key=lambda r: (r.low, r.run)):
            if not run.n:
                continue
            after = 0 <= seen < run.low or (seen < 0 and run.low >= 0)
            budget = left if after else np.full(len(sorted_q), cap, dtype=np.int64)
            if run.entries is not None:
                pairs = self._memory_pairs(run, sorted_q, sorted_hi, band_at, order, nb, budget)
            else:
                pairs = self._disk_pairs(run, sorted_q, sorted_hi, band_at, order, nb, budget)
            if budget is not left:  # what it read counts for the runs after it
                np.maximum(left - (cap - budget), 0, out=left)
            seen = max(seen, run.high) if run.high >= 0 and run.low >= 0 else MAX_ITEM
            if pairs is None:
                continue
            if filtering and run.has_sketches:
                pairs = self._kept(run, pairs, sketches, keep)  # type: ignore[arg-type]
            pair_parts.append(pairs)
        if not pair_parts:
            return empty, empty
        pairs = sorted_unique(np.concatenate(pair_parts))
        rows = pairs >> 32
        items = pairs & _MASK
        first = np.searchsorted(rows, rows, "left")
        keep_ = (np.arange(len(rows)) - first) < cap
        return rows[keep_], items[keep_]

    @staticmethod
    def _kept(run: _Run, pairs: np.ndarray, sketches: np.ndarray, keep: Keep) -> np.ndarray:
        """The pairs whose two sketches pass ``keep``, tested ``_KEEP_AT_ONCE`` at a time: the
        sketches of every pair of a large batch would take hundreds of megabytes."""
        parts = []
        for at in range(0, pairs.size, _KEEP_AT_ONCE):
            p = pairs[at : at + _KEEP_AT_ONCE]
            parts.append(p[keep(sketches[p >> 32], run.sketches_of(p & _MASK))])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    @staticmethod
    def _memory_pairs(
        run: _Run,
        sorted_q: np.ndarray,
        sorted_hi: np.ndarray,
        band_at: np.ndarray,
        order: np.ndarray,
        nb: int,
        left: np.ndarray,
    ) -> np.ndarray | None:
        """The (query row << 32 | item) pairs of a run held in memory, sorted, or ``None``;
        each (query, band) at position ``k`` of ``sorted_q`` reads at most ``left[k]`` items
        of its bucket, and ``left`` is lowered by what it read."""
        entries = run.entries
        assert entries is not None
        n = len(entries)
        first = min(int(entries[0] >> _BAND_SHIFT), nb)
        last = min(int(entries[-1] >> _BAND_SHIFT) + 1, nb)
        qs, qe = int(band_at[first]), int(band_at[last])
        if qs >= qe:
            return None
        q, q_hi, sel = sorted_q[qs:qe], sorted_hi[qs:qe], None
        live = left[qs:qe] > 0  # only the queries with reads left that the run may hold
        if run.keymap is not None:
            live &= run.may_hold(q)
        if not live.all():
            sel = np.flatnonzero(live)
            q, q_hi = q[sel], q_hi[sel]
        lo = _bound(entries, run.fence, q)
        # a query hits when the entry at its lower bound has its band and key
        at = np.minimum(lo, n - 1)
        hit = np.flatnonzero((lo < n) & (entries[at] <= q_hi))
        if hit.size == 0:
            return None
        lo = lo[hit]
        pos = qs + (hit if sel is None else sel[hit])  # positions in sorted_q
        hi = _bound(entries, run.fence, sorted_hi[pos], "right")
        c = np.minimum(hi - lo, left[pos])
        left[pos] -= c
        starts = np.repeat(lo - np.cumsum(c) + c, c)
        rows_ = np.repeat(order[pos] // nb, c).astype(np.int64)
        items_ = (entries[starts + np.arange(int(c.sum()))] & _ITEM_MASK).astype(np.int64)
        return sorted_unique((rows_ << 32) | items_)

    @staticmethod
    def _disk_pairs(
        run: _Run,
        sorted_q: np.ndarray,
        sorted_hi: np.ndarray,
        band_at: np.ndarray,
        order: np.ndarray,
        nb: int,
        left: np.ndarray,
    ) -> np.ndarray | None:
        """:meth:`_memory_pairs` of a run on disk. The fence gives each query its block of
        ``_BLOCK`` entries; one read of the block finds the query's bucket and its items (a
        second read only when the bucket runs past the block). Queries sharing a block share
        its read; ``_SLICE`` queries at a time."""
        assert run.spill is not None and run.fence is not None
        qs, qe = int(band_at[0]), int(band_at[min(run.nbands, nb)])
        if qs >= qe:
            return None
        live = left[qs:qe] > 0
        if run.keymap is not None:
            live &= run.may_hold(sorted_q[qs:qe])
        pos = qs + np.flatnonzero(live)
        parts = []
        for at in range(0, pos.size, _SLICE):
            got = SqliteIndex._disk_slice(
                run, sorted_q, sorted_hi, pos[at : at + _SLICE], order, nb, left
            )
            if got is not None:
                parts.append(got)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else sorted_unique(np.concatenate(parts))

    @staticmethod
    def _disk_slice(
        run: _Run,
        sorted_q: np.ndarray,
        sorted_hi: np.ndarray,
        pos: np.ndarray,
        order: np.ndarray,
        nb: int,
        left: np.ndarray,
    ) -> np.ndarray | None:
        """The pairs of the queries at ``pos`` (sorted positions in ``sorted_q``), each
        reading at most ``left`` items (lowered by what it read)."""
        spill = run.spill
        assert spill is not None and run.fence is not None
        fd, total, pread = spill.fd, spill.total, os.pread
        q, q_hi = sorted_q[pos], sorted_hi[pos]
        # The block holding each query's lower bound: its last entry is not below the query
        # (or it is the partial last block, padded above every entry).
        blk = np.searchsorted(run.fence, q, "left")
        new = np.empty(q.size, dtype=bool)  # sorted queries: each new block is read once
        new[0] = True
        np.not_equal(blk[1:], blk[:-1], out=new[1:])
        # One read per stretch of blocks no more than _GAP apart, gaps included.
        ks = blk[new]
        opens = np.r_[True, ks[1:] > ks[:-1] + 1 + _GAP]  # a block that starts a read
        first = np.flatnonzero(opens)
        length = np.r_[ks[first[1:] - 1], ks[-1]] - ks[first] + 1
        flat = _read_blocks(fd, ks[first].tolist(), length.tolist(), int(length.sum()))
        # where each needed block sits in what was read
        stretch = np.cumsum(opens) - 1
        at_read = (np.cumsum(length) - length)[stretch] + ks - ks[first][stretch]
        base = at_read[np.cumsum(new) - 1] * _BLOCK
        lo = np.zeros(q.size, dtype=np.int64)
        step = _BLOCK // 2
        while step:
            lo += step * (flat[base + lo + (step - 1)] < q)
            step //= 2
        at = blk * _BLOCK + lo  # the lower bound, in the run
        hit = np.flatnonzero((at < total) & (flat[base + lo] <= q_hi))
        if not hit.size:
            return None
        base, lo, at, q_hi, pos = base[hit], lo[hit], at[hit], q_hi[hit], pos[hit]
        last = lo.copy()  # the bucket's last entry in the block
        step = _BLOCK // 2
        while step:
            nxt = last + step
            ok = nxt < _BLOCK
            ok[ok] = flat[base[ok] + nxt[ok]] <= q_hi[ok]
            last += step * ok
            step //= 2
        room = left[pos]
        count = np.minimum(np.minimum(last - lo + 1, total - at), room)
        rows = order[pos] // nb
        longer = (lo + count == _BLOCK) & (count < room)  # the bucket may go on past the block
        short = np.flatnonzero(~longer)
        c = count[short]
        left[pos[short]] -= c
        starts = np.repeat(base[short] + lo[short] - np.cumsum(c) + c, c)
        items = [flat[starts + np.arange(int(c.sum()))] & _ITEM_MASK]
        rows_ = [np.repeat(rows[short], c)]
        for j in np.flatnonzero(longer).tolist():
            e = np.frombuffer(pread(fd, 8 * int(room[j]), 8 * int(at[j])), dtype="<u8")
            e = e[: min(int(np.searchsorted(e, q_hi[j], "right")), total - int(at[j]))]
            left[pos[j]] -= len(e)
            items.append(e & _ITEM_MASK)
            rows_.append(np.full(len(e), rows[j]))
        items_ = np.concatenate(items).astype(np.int64)
        return sorted_unique((np.concatenate(rows_).astype(np.int64) << 32) | items_)

    def __len__(self) -> int:
        """Items indexed (counted once per run)."""
        if not self._loaded:
            self.refresh()
        return sum(r.n for r in self._runs.values())
