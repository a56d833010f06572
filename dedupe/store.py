"""The SQLite store: articles, segments, fingerprints, near-duplicate edges, the LSH bands and
the runs that wrote them.

Opened through sqlite-utils on a connection of our own (busy timeout, WAL), written in
``BEGIN IMMEDIATE`` transactions so several processes can share one file, versioned by
``sqlite_utils.Migrations``. Every value is bound; no SQL is built from data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils import Migrations

from dedupe.model import Article, StoreError, order_key, outlet_key  # noqa: F401

MIGRATIONS = Migrations("dedupe")
BUSY_TIMEOUT_S = 60.0
#: Characters of a rejected record kept in the ``rejected`` table.
MAX_REJECTED_RAW = 10_000
#: WAL pages the background checkpoint lets pile up before writing them back; a writer's own
#: (automatic) checkpoint, a fallback, waits for four times as many.
CHECKPOINT_PAGES = 4096
#: Segments of one level the full-text index merges into one (SQLite's default is 4).
FTS_AUTOMERGE = 16


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
    """The first schema."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            command TEXT NOT NULL,
            inputs TEXT,
            tool_version TEXT NOT NULL,
            datasketch_version TEXT NOT NULL,
            params TEXT NOT NULL,
            articles_added INTEGER NOT NULL DEFAULT 0,
            articles_known INTEGER NOT NULL DEFAULT 0,
            articles_rejected INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS articles (
            id TEXT PRIMARY KEY,
            title TEXT,
            url TEXT,
            url_normalized TEXT,
            outlet TEXT,
            published TEXT,
            source TEXT,
            text TEXT NOT NULL,
            extra TEXT NOT NULL DEFAULT '{}',
            content_hash INTEGER NOT NULL,
            run INTEGER REFERENCES runs(id),
            seq INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS articles_url ON articles(url_normalized)")
    db.execute("CREATE INDEX IF NOT EXISTS articles_content ON articles(content_hash)")
    db.execute("CREATE INDEX IF NOT EXISTS articles_outlet ON articles(outlet, published)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS fingerprints (
            id INTEGER PRIMARY KEY,
            key INTEGER NOT NULL UNIQUE,
            text TEXT NOT NULL,
            words INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS signatures (
            fingerprint INTEGER PRIMARY KEY REFERENCES fingerprints(id),
            minhash BLOB NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS lsh (
            key INTEGER NOT NULL,
            fingerprint INTEGER NOT NULL REFERENCES fingerprints(id),
            PRIMARY KEY (key, fingerprint)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS near (
            a INTEGER NOT NULL REFERENCES fingerprints(id),
            b INTEGER NOT NULL REFERENCES fingerprints(id),
            similarity REAL NOT NULL,
            PRIMARY KEY (a, b)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS near_b ON near(b, a)")
    db.execute(
        """CREATE TABLE IF NOT EXISTS segments (
            article TEXT NOT NULL REFERENCES articles(id),
            idx INTEGER NOT NULL,
            kind TEXT NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            block INTEGER NOT NULL,
            parts TEXT,
            fingerprint INTEGER REFERENCES fingerprints(id),
            verdict TEXT NOT NULL DEFAULT 'kept',
            rule TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            matched TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (article, idx)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS segments_fp ON segments(fingerprint, article)")
    db.execute("CREATE INDEX IF NOT EXISTS segments_verdict ON segments(verdict)")
    # Per fingerprint and outlet: how many articles carry it, and the earliest of them (by
    # publication date, unknown last, then id). Kept exact by each insert, whatever the order.
    db.execute(
        """CREATE TABLE IF NOT EXISTS carriers (
            fingerprint INTEGER NOT NULL REFERENCES fingerprints(id),
            outlet TEXT NOT NULL,
            articles INTEGER NOT NULL,
            first_article TEXT NOT NULL REFERENCES articles(id),
            first_key TEXT NOT NULL,
            PRIMARY KEY (fingerprint, outlet)
        ) WITHOUT ROWID"""
    )


@MIGRATIONS()
def m002_run_cursor(db: sqlite_utils.Database) -> None:
    """Resume cursor of a run: input records done, written with each batch, and the identity
    of the inputs and options it applies to (a changed input is never resumed)."""
    db.execute("ALTER TABLE runs ADD COLUMN cursor INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE runs ADD COLUMN resume_key TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS runs_resume ON runs(resume_key, finished_at)")


@MIGRATIONS()
def m003_rejected(db: sqlite_utils.Database) -> None:
    """Quarantine of the input records a run skipped (--skip-bad): where, why, and the record."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS rejected (
            id INTEGER PRIMARY KEY,
            run INTEGER REFERENCES runs(id),
            source TEXT NOT NULL,
            line INTEGER,
            problem TEXT NOT NULL,
            raw TEXT
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS rejected_run ON rejected(run)")


@MIGRATIONS()
def m004_views(db: sqlite_utils.Database) -> None:
    """What Datasette needs to make the store browsable with no plugin and no metadata file:
    a label for fingerprints, views answering the common questions, full-text search."""
    # Datasette labels foreign-key links with a column named "title" (articles have one):
    # a virtual generated column costs no space and shows a fingerprint by its text.
    db.execute("ALTER TABLE fingerprints ADD COLUMN title TEXT GENERATED ALWAYS AS (text) VIRTUAL")
    # The views read verdicts as last stored (kept current for every article a later one
    # affects). Cross-outlet reuse, by the outlet copied from (the earliest match) and to:
    db.execute(
        """CREATE VIEW IF NOT EXISTS reuse_by_outlet_pair AS
        SELECT json_extract(s.matched, '$[0].outlet') AS source_outlet,
               a.outlet AS target_outlet,
               COUNT(*) AS sentences,
               COUNT(DISTINCT s.article) AS articles
        FROM segments s JOIN articles a ON a.id = s.article
        WHERE s.verdict = 'reused' AND s.rule = 'reuse'
        GROUP BY source_outlet, target_outlet
        ORDER BY sentences DESC, source_outlet, target_outlet"""
    )
    # One row per outlet and boilerplate text, worded as in its first article.
    db.execute(
        """CREATE VIEW IF NOT EXISTS boilerplate_by_outlet AS
        SELECT a.outlet AS outlet,
               substr(a.text, s.start + 1, s."end" - s.start) AS text,
               COUNT(DISTINCT s.article) AS articles,
               MIN(s.article) AS first_article,
               s.rule AS rule,
               s.fingerprint AS fingerprint
        FROM segments s JOIN articles a ON a.id = s.article
        WHERE s.verdict = 'boilerplate' AND s.fingerprint IS NOT NULL
        GROUP BY a.outlet, s.fingerprint
        ORDER BY a.outlet IS NULL, a.outlet, articles DESC, text"""
    )
    db.execute(
        """CREATE VIEW IF NOT EXISTS segment_verdicts AS
        SELECT s.article AS article, a.title AS title, a.outlet AS outlet, s.idx AS segment,
               s.verdict AS verdict, s.rule AS rule, s.reason AS reason,
               substr(a.text, s.start + 1, MIN(s."end" - s.start, 200)) AS text,
               s.start AS start, s."end" AS "end"
        FROM segments s JOIN articles a ON a.id = s.article
        ORDER BY s.article, s.idx"""
    )
    # External-content FTS5 table kept current by triggers; sqlite-utils runs its statements
    # one by one inside our transaction (no implicit COMMIT). It follows articles by rowid:
    # after a VACUUM, rebuild it (db["articles"].rebuild_fts()).
    db.table("articles").enable_fts(["title", "text"], create_triggers=True)


@MIGRATIONS()
def m005_lsh_runs(db: sqlite_utils.Database) -> None:
    """The LSH index as sorted runs of band keys, one BLOB per run and band (see
    :mod:`dedupe.index`), read in bulk; it replaces the row-per-key ``lsh`` table."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS lsh_runs (
            id INTEGER PRIMARY KEY,
            run INTEGER NOT NULL,
            band INTEGER NOT NULL,
            token INTEGER NOT NULL,
            n INTEGER NOT NULL,
            keys BLOB NOT NULL,
            items BLOB NOT NULL,
            UNIQUE (run, band)
        )"""
    )


@MIGRATIONS()
def m006_articles_seq(db: sqlite_utils.Database) -> None:
    """An index on the ingest sequence: the next number is read once per batch, and without
    the index that read is a scan of every stored article, text included."""
    db.execute("CREATE INDEX IF NOT EXISTS articles_seq ON articles(seq)")


@MIGRATIONS()
def m007_rejected_once(db: sqlite_utils.Database) -> None:
    """A record is quarantined once, however often its input is read again (a finished run
    re-run, or a run killed after its last batch): drop the copies earlier runs kept and
    index what identifies a record, so :meth:`Store.reject` can look before it inserts."""
    db.execute(
        "DELETE FROM rejected WHERE id NOT IN (SELECT MIN(id) FROM rejected"
        " GROUP BY source, line, problem, raw)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS rejected_where ON rejected(source, line)")


@MIGRATIONS()
def m008_stale(db: sqlite_utils.Database) -> None:
    """Stored articles whose kept verdicts a later article may have changed: judged again in
    bulk (``Tracker.flush``), once, not with every batch that touches them."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS stale (
            article TEXT PRIMARY KEY REFERENCES articles(id)
        ) WITHOUT ROWID"""
    )


@MIGRATIONS()
def m009_carrier_others(db: sqlite_utils.Database) -> None:
    """The other stored carriers of a text in an outlet while they are fewer than the
    boilerplate count (a JSON list of ids, NULL once it is reached): when the count is
    reached, they are the articles to judge again, read from one row instead of from every
    segment holding the text (a line in every article makes that a scan of the corpus)."""
    db.execute("ALTER TABLE carriers ADD COLUMN others TEXT")


@MIGRATIONS()
def m010_lsh_keys28(db: sqlite_utils.Database) -> None:
    """Band keys are kept to 28 bits (see :mod:`dedupe.index`: the band, key and item of an
    entry then fit one 64-bit integer): older runs held 32, and are cut and sorted again."""
    import numpy as np

    ids = [r[0] for r in db.execute("SELECT id FROM lsh_runs WHERE band >= 0 ORDER BY id")]
    for rid in ids:
        keys, items = db.execute("SELECT keys, items FROM lsh_runs WHERE id = ?", [rid]).fetchone()
        k = np.frombuffer(keys, dtype="<u4") & np.uint32((1 << 28) - 1)
        i = np.frombuffer(items, dtype="<u4")
        order = np.lexsort((i, k))
        db.execute(
            "UPDATE lsh_runs SET keys = ?, items = ? WHERE id = ?",
            [k[order].astype("<u4").tobytes(), i[order].astype("<u4").tobytes(), rid],
        )


@MIGRATIONS()
def m011_fts_by_batch(db: sqlite_utils.Database) -> None:
    """New articles enter the full-text index a batch at a time (``Store.insert_articles``):
    the per-row insert trigger made an ingest's inserts about twice as slow. The update and
    delete triggers stay."""
    db.execute("DROP TRIGGER IF EXISTS articles_ai")


@MIGRATIONS()
def m012_no_schema_version(db: sqlite_utils.Database) -> None:
    """The schema's version is the list of migrations applied (``_sqlite_migrations``): the
    ``schema_version`` setting, never raised past 1, is dropped."""
    db.execute("DELETE FROM settings WHERE key = 'schema_version'")


@MIGRATIONS()
def m013_sketch_popcounts(db: sqlite_utils.Database) -> None:
    """A sketch's last word keeps, above the shingle count (low 16 bits), the number of bits
    set in its map (high 16 bits), so the near test counts them once. Older sketches had
    zero there (a looser bound, never a lost pair) and get it now."""
    import numpy as np

    ids = [r[0] for r in db.execute("SELECT id FROM lsh_runs WHERE band < 0 ORDER BY id")]
    for rid in ids:
        # a sketch row keeps the item ids in ``keys`` and the sketches in ``items``
        ids_, blob = db.execute("SELECT keys, items FROM lsh_runs WHERE id = ?", [rid]).fetchone()
        n = len(ids_) // 4
        if not n:
            continue
        rows = np.frombuffer(blob, dtype="<u4").reshape(n, -1).copy()
        for i in range(0, n, 1 << 20):  # unpacked bits take 32 bytes a word: a chunk at a time
            part = rows[i : i + (1 << 20)]
            bits = np.unpackbits(part[:, :-1].astype("<u4").view(np.uint8), axis=1).sum(axis=1)
            part[:, -1] = (part[:, -1] & np.uint32(0xFFFF)) | (bits.astype(np.uint32) << 16)
        db.execute("UPDATE lsh_runs SET items = ? WHERE id = ?", [rows.tobytes(), rid])


@MIGRATIONS()
def m014_text_work(db: sqlite_utils.Database) -> None:
    """Each article's text work (its rephrased repeats and text facts, see
    ``dedupe.textwork``), by the article's ingest number: judging it again reads them
    instead of making them from the text. Articles stored before have none (it is made)."""
    db.execute("CREATE TABLE IF NOT EXISTS text_work (seq INTEGER PRIMARY KEY, work TEXT NOT NULL)")


@MIGRATIONS()
def m015_stale_texts(db: sqlite_utils.Database) -> None:
    """The texts (fingerprints) whose evidence changed for each stale article: judging it
    again judges the segments carrying them, not the whole article. Articles noted before
    have every text of theirs noted (they are judged whole, as they were to be)."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS stale_texts (
            article TEXT NOT NULL REFERENCES articles(id),
            fingerprint INTEGER NOT NULL,
            PRIMARY KEY (article, fingerprint)
        ) WITHOUT ROWID"""
    )
    db.execute(
        "INSERT OR IGNORE INTO stale_texts (article, fingerprint)"
        " SELECT s.article, s.fingerprint FROM stale t JOIN segments s ON s.article = t.article"
        " WHERE s.fingerprint IS NOT NULL"
    )


@MIGRATIONS()
def m016_fts_merges_by_16(db: sqlite_utils.Database) -> None:
    """The full-text index merges its segments 16 at a time, not 4. An article added alone
    writes a segment of its own; merged 4 at a time, one add in 40 paid 10 ms or more for it
    (single adds into a 100,000-article store); 16 at a time, one in a few hundred pays a
    larger merge, and merging is less work in all (postings are rewritten fewer times). A
    store whose index was dropped is left without one."""
    if db["articles_fts"].exists():
        db.execute(
            "INSERT INTO articles_fts (articles_fts, rank) VALUES ('automerge', ?)",
            [FTS_AUTOMERGE],
        )


def utcnow() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def iso(value: dt.datetime | None) -> str | None:
    """Dates are stored as ISO 8601 UTC text to the second, so they sort as text."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def parse_iso(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _nul_stand_in(values: Iterable[str]) -> str:
    """A private-use character found in none of ``values``."""
    vals = list(values)
    for cp in range(0xE000, 0xF900):
        ch = chr(cp)
        if not any(ch in v for v in vals):
            return ch
    raise StoreError("no free character to stand for NUL")  # pragma: no cover


#: A segment row as judging reads it (see :meth:`Store.segments_many`), and from where.
_SEGMENT_ROW = (
    'SELECT s.article, s.idx, s.kind, s.start, s."end", s.block, s.parts, s.fingerprint,'
    " s.verdict, s.rule, s.reason, s.matched, COALESCE(f.words, 0) FROM "
)
_SEGMENTS_OF = (
    _SEGMENT_ROW + "segments s LEFT JOIN fingerprints f ON f.id = s.fingerprint"
    " WHERE s.article IN (SELECT replace(value, ?2, char(0)) FROM json_each(?1))"
    " ORDER BY s.article, s.idx"
)
_NOTED_SEGMENTS_OF = (
    _SEGMENT_ROW + "stale_texts t CROSS JOIN segments s"
    " ON s.fingerprint = t.fingerprint AND s.article = t.article"
    " LEFT JOIN fingerprints f ON f.id = s.fingerprint"
    " WHERE t.article IN (SELECT replace(value, ?2, char(0)) FROM json_each(?1))"
    " ORDER BY s.article, s.idx"
)


def _by_article(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    """Rows whose first column is an article id, grouped by it (the id left out)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(row[1:])
    return out


def _text_list(values: Iterable[str]) -> tuple[str, str]:
    """Strings as one JSON parameter for ``json_each`` (?1), with the character standing for
    NUL in them (?2): SQLite's JSON functions cut a string at NUL, so an id "x\\0y" would be
    read as "x"; the query puts NUL back with ``replace(value, ?2, char(0))``."""
    vals = sorted(set(values))
    nul = _nul_stand_in(vals)
    return json.dumps([v.replace("\0", nul) for v in vals]), nul


def _id_list(value: str | None) -> list[str] | None:
    """A JSON list of article ids as stored, or None."""
    if value is None:
        return None
    got = json.loads(value)
    return [str(x) for x in got] if isinstance(got, list) else None


def _storable(s: str) -> str:
    """Text SQLite can hold: a lone surrogate becomes its escape instead of failing the insert."""
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class Occurrence:
    """Where a fingerprint occurs: one segment of one stored article."""

    fingerprint: int
    article: str
    outlet: str | None
    published: str | None
    start: int
    end: int
    idx: int


class _Checkpointer:
    """Writes the WAL back into the store file from a thread and connection of its own, so
    no commit waits for it: left to the writer, one commit in every few dozen single-article
    adds would also copy thousands of pages back (a pause of tens of milliseconds). A passive
    checkpoint never blocks the writer or readers; if this thread cannot work, the writer's
    own checkpoint, at four times the size, still bounds the WAL."""

    def __init__(self, path: str, pages: int) -> None:
        self.path = path
        self.pages = pages
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="dedupe-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """A transaction committed: look at the WAL's size."""
        self._wake.set()

    def _loop(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            size = int(conn.execute("PRAGMA page_size").fetchone()[0]) + 24
            while not self._stopping:
                self._wake.wait(1.0)
                self._wake.clear()
                if self._stopping:
                    break
                try:
                    if os.path.getsize(self.path + "-wal") >= self.pages * size:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except (OSError, sqlite3.Error):
                    continue
        finally:
            conn.close()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()


class _Closed:
    """In place of a closed store's connection: any use says which store, and that it is
    closed (not SQLite's "Cannot operate on a closed database")."""

    def __init__(self, path: str) -> None:
        self._path = path

    def __getattr__(self, name: str) -> Any:
        raise StoreError(f"{self._path}: the store is closed")


class Store:
    """One SQLite file holding everything dedupe knows. Use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"a store is a file path or ':memory:', not {type(path).__name__}")
        self.path = os.fspath(path)
        if not isinstance(self.path, str):
            raise TypeError("a store path must be text, not bytes")
        if self.path != ":memory:":
            p = Path(self.path)
            if p.exists() and p.is_dir():
                raise StoreError(f"{self.path}: is a folder, not a store file")
            if p.exists() and p.stat().st_size > 0:
                with open(p, "rb") as fh:
                    if fh.read(16) != b"SQLite format 3\x00":
                        raise StoreError(
                            f"{self.path}: not a dedupe store (not an SQLite file); "
                            "choose another --db path"
                        )
            if not p.parent.exists():
                raise StoreError(f"{self.path}: folder {p.parent} does not exist")
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot open: {e}") from e
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._checkpointer: _Checkpointer | None = None
        # Another process may be creating the same store: switching a new file to WAL takes
        # a lock that SQLite does not wait for, so a "locked" answer here is waited out.
        delay = 0.05
        deadline = time.monotonic() + BUSY_TIMEOUT_S * 2
        while True:
            try:
                self._setup()
                break
            except sqlite3.OperationalError as e:
                busy = "locked" in str(e) or "busy" in str(e)
                if busy and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
                    continue
                conn.close()
                raise StoreError(f"{self.path}: cannot use this file as a store: {e}") from e
            except sqlite3.DatabaseError as e:
                conn.close()
                raise StoreError(f"{self.path}: cannot use this file as a store: {e}") from e

    def _setup(self) -> None:
        """Connection settings, then the migrations (in one transaction): safe to repeat."""
        conn = self.conn
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Batched ingest reads and writes indexes at random places (fingerprint keys,
        # carriers, segments by fingerprint): a larger page cache than the 2 MB default
        # keeps them off the disk, and fewer, larger checkpoints write the WAL back.
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA wal_autocheckpoint=16384")  # CHECKPOINT_PAGES x 4: a fallback
        with self.transaction():
            MIGRATIONS.apply(self.db)
        if self.path != ":memory:" and self._checkpointer is None:
            self._checkpointer = _Checkpointer(self.path, CHECKPOINT_PAGES)

    @classmethod
    def reader(cls, path: str | Path) -> Store:
        """A read-only connection to a store another connection keeps (a worker process
        judging articles for the writer): no migrations, no checkpoints, and SQLite refuses
        any write to the store through it (its own temporary tables excepted)."""
        self = cls.__new__(cls)
        self.path = str(path)
        uri = Path(self.path).resolve().as_uri() + "?mode=ro"
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA cache_size=-65536")
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot open to read: {e}") from e
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._checkpointer = None
        return self

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (again: nothing); any later use raises a StoreError."""
        if isinstance(self.conn, _Closed):
            return
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self.conn.close()
        self.conn = _Closed(self.path)  # type: ignore[assignment]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: takes the write lock up front so the busy
        timeout applies (a deferred ``BEGIN`` fails at once when another process writes)."""
        if self.conn.in_transaction:
            yield
            return
        delay = 0.05
        deadline = time.monotonic() + BUSY_TIMEOUT_S * 2
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                if time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: store stayed locked by another writer") from e
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
            if self._checkpointer is not None:
                self._checkpointer.poke()

    # -- settings and runs ---------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        return {k: v for k, v in self.conn.execute("SELECT key, value FROM settings")}

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Record the matching parameters of a new store, or check that they equal those of an
        existing one; returns the store's parameters."""
        wanted = json.dumps(params, sort_keys=True)
        with self.transaction():
            row = self.conn.execute("SELECT value FROM settings WHERE key = 'params'").fetchone()
            if row is None:
                self.conn.execute("INSERT INTO settings VALUES ('params', ?)", (wanted,))
                return params
        stored = json.loads(row[0])
        if stored != params:
            diff = ", ".join(
                f"{k}={stored.get(k)!r} (asked {params.get(k)!r})"
                for k in sorted(set(stored) | set(params))
                if stored.get(k) != params.get(k)
            )
            raise StoreError(
                f"{self.path} was built with other matching parameters: {diff}. "
                "Open it with its own parameters, or ingest into a new store (--db NEW.db)."
            )
        return stored

    def stored_params(self) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = 'params'").fetchone()
        return json.loads(row[0]) if row else None

    def start_run(
        self,
        command: str,
        inputs: Sequence[str],
        meta: dict[str, str],
        *,
        resume_key: str | None = None,
        cursor: int = 0,
    ) -> int:
        """Record a new run; ``cursor`` is where it starts in its input (a resumed run)."""
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (started_at, command, inputs, tool_version, datasketch_version,"
                " params, resume_key, cursor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    utcnow(),
                    command,
                    json.dumps(list(inputs)),
                    meta["tool_version"],
                    meta["datasketch_version"],
                    meta["params"],
                    resume_key,
                    cursor,
                ),
            )
            return int(cur.lastrowid or 0)

    def resume_point(self, resume_key: str) -> tuple[int, int] | None:
        """(run, records done) of the furthest unfinished run over the same inputs since the
        last one that finished, if any: every record before its cursor was committed, so a
        re-run may start there."""
        row = self.conn.execute(
            "SELECT id, cursor FROM runs WHERE resume_key = ? AND finished_at IS NULL"
            " AND cursor > 0 AND id > (SELECT COALESCE(MAX(id), 0) FROM runs"
            " WHERE resume_key = ? AND finished_at IS NOT NULL)"
            " ORDER BY cursor DESC, id DESC LIMIT 1",
            (resume_key, resume_key),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def run_progress(self, run: int, cursor: int, added: int, known: int, rejected: int) -> None:
        """Set a run's cursor and counts (absolute values, so a retried write cannot
        over-count); called inside the transaction of the batch they describe."""
        self.conn.execute(
            "UPDATE runs SET cursor = ?, articles_added = ?, articles_known = ?,"
            " articles_rejected = ? WHERE id = ?",
            (cursor, added, known, rejected, run),
        )

    def finish_run(self, run: int, added: int, known: int, rejected: int) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, articles_added = ?, articles_known = ?,"
                " articles_rejected = ? WHERE id = ?",
                (utcnow(), added, known, rejected, run),
            )

    def reject(
        self, run: int | None, source: str, line: int | None, problem: str, raw: str | None
    ) -> None:
        """Quarantine one skipped input record (``raw`` is cut to :data:`MAX_REJECTED_RAW`),
        unless the same record (source, line, problem and text) is kept already: reading an
        input again must not count its bad records twice."""
        if raw is not None:
            raw = raw[:MAX_REJECTED_RAW].encode("utf-8", "backslashreplace").decode("utf-8")
        self.conn.execute(
            "INSERT INTO rejected (run, source, line, problem, raw) SELECT ?1, ?2, ?3, ?4, ?5"
            " WHERE NOT EXISTS (SELECT 1 FROM rejected WHERE source = ?2 AND line IS ?3"
            " AND problem = ?4 AND raw IS ?5)",
            (run, _storable(source), line, _storable(problem), raw),
        )

    # -- articles ------------------------------------------------------------------------

    def find_known(
        self, article_id: str, url_normalized: str | None, content_hash: int
    ) -> str | None:
        """The id of a stored article that is this one (same id, same URL or same text)."""
        row = self.conn.execute("SELECT id FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row:
            return str(row[0])
        if url_normalized:
            row = self.conn.execute(
                "SELECT id FROM articles WHERE url_normalized = ? ORDER BY id LIMIT 1",
                (url_normalized,),
            ).fetchone()
            if row:
                return str(row[0])
        row = self.conn.execute(
            "SELECT id FROM articles WHERE content_hash = ? ORDER BY id LIMIT 1", (content_hash,)
        ).fetchone()
        return str(row[0]) if row else None

    def next_seq(self) -> int:
        row = self.conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM articles").fetchone()
        return int(row[0])

    def article(self, article_id: str) -> Article | None:
        row = self.conn.execute(
            "SELECT id, text, url, outlet, published, title, source, extra FROM articles"
            " WHERE id = ?",
            (article_id,),
        ).fetchone()
        return _article(row) if row else None

    def articles(self, ids: Sequence[str] | None = None) -> Iterator[Article]:
        """Stored articles in a stable order (publication date, unknown last, then id), or
        those of ``ids`` that are stored, in the order given."""
        sql = (
            "SELECT id, text, url, outlet, published, title, source, extra FROM articles"
            " ORDER BY published IS NULL, published, id"
        )
        if ids is None:
            for row in self.conn.execute(sql):
                yield _article(row)
            return
        for i in ids:
            a = self.article(i)
            if a is not None:
                yield a

    def article_meta(self, ids: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
        """``id -> (outlet, published)`` for the given articles."""
        out: dict[str, tuple[str | None, str | None]] = {}
        for chunk in _chunks(sorted(set(ids)), 500):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                "SELECT id, outlet, published FROM articles WHERE id IN (" + marks + ")", chunk
            ):
                out[row[0]] = (row[1], row[2])
        return out

    def count_articles(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    # -- fingerprints, LSH, edges ----------------------------------------------------------

    def fingerprint_ids(self, keys: Sequence[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk in _chunks(list(set(keys)), 500):
            marks = ",".join("?" * len(chunk))
            for k, i in self.conn.execute(
                "SELECT key, id FROM fingerprints WHERE key IN (" + marks + ")", chunk
            ):
                out[int(k)] = int(i)
        return out

    def insert_fingerprint(self, key: int, text: str, words: int) -> int:
        cur = self.conn.execute(
            "INSERT INTO fingerprints (key, text, words) VALUES (?, ?, ?)", (key, text, words)
        )
        return int(cur.lastrowid or 0)

    def insert_signatures(self, rows: Iterable[tuple[int, bytes]]) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO signatures VALUES (?, ?)", rows)

    def fingerprint_texts(self, ids: Iterable[int]) -> dict[int, tuple[str, int]]:
        out: dict[int, tuple[str, int]] = {}
        for chunk in _chunks(sorted(set(ids)), 500):
            marks = ",".join("?" * len(chunk))
            for i, text, words in self.conn.execute(
                "SELECT id, text, words FROM fingerprints WHERE id IN (" + marks + ")", chunk
            ):
                out[int(i)] = (text, int(words))
        return out

    def insert_near(self, pairs: Iterable[tuple[int, int, float]]) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO near VALUES (?, ?, ?)", pairs)

    def neighbors(self, ids: Iterable[int]) -> dict[int, list[tuple[int, float]]]:
        """Near-duplicate fingerprints of each given fingerprint, with their similarity."""
        out: dict[int, list[tuple[int, float]]] = {}
        for chunk in _chunks(sorted(set(ids)), 400):
            marks = ",".join("?" * len(chunk))
            for a, b, sim in self.conn.execute(
                "SELECT a, b, similarity FROM near WHERE a IN (" + marks + ")"
                " UNION ALL SELECT b, a, similarity FROM near WHERE b IN (" + marks + ")",
                chunk + chunk,
            ):
                out.setdefault(int(a), []).append((int(b), float(sim)))
        for v in out.values():
            v.sort()
        return out

    # -- segments ------------------------------------------------------------------------

    def insert_segments(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows of (article, idx, kind, start, end, block, parts, fingerprint)."""
        self.conn.executemany(
            'INSERT INTO segments (article, idx, kind, start, "end", block, parts, fingerprint)'
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def segments_of(self, article_id: str) -> list[sqlite3.Row]:
        cur = self.conn.execute(
            'SELECT s.idx, s.kind, s.start, s."end", s.block, s.parts, s.fingerprint, s.verdict,'
            " s.rule, s.reason, s.matched, COALESCE(f.words, 0) AS words FROM segments s"
            " LEFT JOIN fingerprints f ON f.id = s.fingerprint WHERE s.article = ? ORDER BY s.idx",
            (article_id,),
        )
        cur.row_factory = sqlite3.Row
        return list(cur)

    def occurrences(
        self, fingerprints: Iterable[int], exclude: str, limit: int
    ) -> list[Occurrence]:
        """Segments of other articles holding these fingerprints, at most ``limit`` per
        fingerprint, taken in article-id order so the sample never depends on ingest order."""
        out: list[Occurrence] = []
        for fp in sorted(set(fingerprints)):
            for row in self.conn.execute(
                'SELECT s.fingerprint, s.article, a.outlet, a.published, s.start, s."end", s.idx'
                " FROM segments s JOIN articles a ON a.id = s.article"
                " WHERE s.fingerprint = ? AND s.article != ?"
                " ORDER BY s.fingerprint, s.article LIMIT ?",
                (fp, exclude, limit),
            ):
                out.append(Occurrence(*row))
        return out

    def articles_sharing(
        self, fingerprints: Iterable[int], exclude: set[str], limit: int
    ) -> set[str]:
        """Other articles holding any of these fingerprints (at most ``limit`` per fingerprint)."""
        out: set[str] = set()
        for fp in sorted(set(fingerprints)):
            for (aid,) in self.conn.execute(
                "SELECT DISTINCT article FROM segments WHERE fingerprint = ?"
                " ORDER BY article LIMIT ?",
                (fp, limit + len(exclude)),
            ):
                if aid not in exclude:
                    out.add(aid)
        return out

    def fingerprint_article_count(self, fp: int, cap: int) -> int:
        row = self.conn.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT article FROM segments WHERE fingerprint = ?"
            " LIMIT ?)",
            (fp, cap),
        ).fetchone()
        return int(row[0])

    def carriers(self, fingerprints: Iterable[int]) -> list[tuple[int, str, int, str, str]]:
        """Rows (fingerprint, outlet key, articles, first article, first order key)."""
        out: list[tuple[int, str, int, str, str]] = []
        for chunk in _chunks(sorted(set(fingerprints)), 500):
            marks = ",".join("?" * len(chunk))
            out.extend(
                self.conn.execute(
                    "SELECT fingerprint, outlet, articles, first_article, first_key FROM carriers"
                    " WHERE fingerprint IN (" + marks + ") ORDER BY fingerprint, outlet",
                    chunk,
                )
            )
        return out

    def locate(self, article: str, fingerprints: Sequence[int]) -> tuple[int, int] | None:
        """Offsets of the first segment of ``article`` holding one of the fingerprints."""
        marks = ",".join("?" * len(fingerprints))
        row = self.conn.execute(
            'SELECT start, "end" FROM segments WHERE article = ? AND fingerprint IN ('
            + marks
            + ") ORDER BY idx LIMIT 1",
            [article, *fingerprints],
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def articles_of(self, fingerprint: int, outlet: str | None, limit: int) -> list[str]:
        """Articles of one outlet (``None``: any) carrying a fingerprint, by id."""
        if outlet is None:
            rows = self.conn.execute(
                "SELECT DISTINCT article FROM segments WHERE fingerprint = ? ORDER BY article LIMIT ?",
                (fingerprint, limit),
            )
        else:
            rows = self.conn.execute(
                "SELECT DISTINCT s.article FROM segments s JOIN articles a ON a.id = s.article"
                " WHERE s.fingerprint = ? AND a.outlet = ? ORDER BY s.article LIMIT ?",
                (fingerprint, outlet, limit),
            )
        return [r[0] for r in rows]

    def update_findings(self, article_id: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows of (verdict, rule, reason, matched_json, idx)."""
        self.conn.executemany(
            "UPDATE segments SET verdict = ?, rule = ?, reason = ?, matched = ?"
            " WHERE article = ? AND idx = ?",
            [(v, r, why, m, article_id, i) for v, r, why, m, i in rows],
        )

    # -- batched ingest and judging ---------------------------------------------------------
    # One statement per batch, not per article or segment: the lists travel as one JSON
    # parameter (``json_each``), rows go in with ``executemany`` inside the caller's transaction.

    def known_many(
        self, ids: Sequence[str], urls: Sequence[str], hashes: Sequence[int]
    ) -> tuple[set[str], dict[str, str], dict[int, str]]:
        """Stored ids among ``ids``; for each stored normalized URL and content hash among the
        given ones, the smallest id carrying it (as :meth:`find_known` picks)."""
        c = self.conn
        found = {
            str(r[0])
            for r in c.execute(
                "SELECT id FROM articles WHERE id IN"
                " (SELECT replace(value, ?2, char(0)) FROM json_each(?1))",
                _text_list(ids),
            )
        }
        by_url = {
            str(u): str(i)
            for u, i in c.execute(
                "SELECT url_normalized, MIN(id) FROM articles WHERE url_normalized IN"
                " (SELECT replace(value, ?2, char(0)) FROM json_each(?1)) GROUP BY url_normalized",
                _text_list(urls),
            )
        }
        by_hash = {
            int(h): str(i)
            for h, i in c.execute(
                "SELECT content_hash, MIN(id) FROM articles WHERE content_hash IN"
                " (SELECT value FROM json_each(?)) GROUP BY content_hash",
                (json.dumps(sorted(set(hashes))),),
            )
        }
        return found, by_url, by_hash

    def insert_articles(
        self, rows: Sequence[tuple[Article, str | None, int]], run: int | None
    ) -> int:
        """Insert new articles, each as (article, normalized URL, content hash), in order;
        returns the ingest number of the first (the others follow it), 0 when none."""
        if not rows:
            return 0
        seq = self.next_seq()
        (last,) = self.conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM articles").fetchone()
        self.conn.executemany(
            "INSERT INTO articles (id, title, url, url_normalized, outlet, published, source,"
            " text, extra, content_hash, run, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.id,
                    a.title,
                    a.url,
                    url_n,
                    a.outlet,
                    iso(a.published),
                    a.source,
                    a.text,
                    json.dumps(a.extra, ensure_ascii=False, sort_keys=True, default=str),
                    chash,
                    run,
                    seq + k,
                )
                for k, (a, url_n, chash) in enumerate(rows)
            ],
        )
        # The full-text index takes the batch in one statement (see m011_fts_by_batch); new
        # rows get rowids past the largest one.
        self.conn.execute(
            "INSERT INTO articles_fts (rowid, title, text)"
            " SELECT rowid, title, text FROM articles WHERE rowid > ?",
            (last,),
        )
        return seq

    def insert_text_work(self, rows: Iterable[tuple[int, str]]) -> None:
        """Store articles' text work, each as (ingest number, its JSON text)."""
        self.conn.executemany("INSERT OR REPLACE INTO text_work (seq, work) VALUES (?, ?)", rows)

    def keep_text_work(self, rows: Iterable[tuple[str, str]]) -> None:
        """Store stored articles' text work, each as (article id, its JSON text), in place of
        any they had."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO text_work (seq, work)"
            " SELECT seq, ?2 FROM articles WHERE id = ?1",
            rows,
        )

    def text_work_many(self, ids: Iterable[str]) -> dict[str, str]:
        """``article id -> its stored text work`` (for those that have one)."""
        return {
            str(aid): str(work)
            for aid, work in self.conn.execute(
                "SELECT a.id, w.work FROM articles a CROSS JOIN text_work w ON w.seq = a.seq"
                " WHERE a.id IN (SELECT replace(value, ?2, char(0)) FROM json_each(?1))",
                _text_list(ids),
            )
        }

    def text_work_made(self, ids: Iterable[str], tag: str) -> set[str]:
        """Those of these articles whose stored text work was made under ``tag`` (see
        :func:`dedupe.textwork.tag`), read without reading the work itself."""
        head = json.dumps([tag])[:-1] + ","
        arg, nul = _text_list(ids)
        return {
            str(aid)
            for (aid,) in self.conn.execute(
                "SELECT a.id FROM articles a CROSS JOIN text_work w ON w.seq = a.seq"
                " WHERE a.id IN (SELECT replace(value, ?2, char(0)) FROM json_each(?1))"
                " AND substr(w.work, 1, ?4) = ?3",
                (arg, nul, head, len(head)),
            )
        }

    def articles_many(self, ids: Iterable[str]) -> dict[str, Article]:
        """Stored articles by id (those that exist)."""
        return {
            row[0]: _article(row)
            for row in self.conn.execute(
                "SELECT id, text, url, outlet, published, title, source, extra FROM articles"
                " WHERE id IN (SELECT replace(value, ?2, char(0)) FROM json_each(?1))",
                _text_list(ids),
            )
        }

    def fingerprint_ids_many(self, keys: Iterable[int]) -> dict[int, int]:
        """``key -> id`` of the stored fingerprints among ``keys``."""
        return {
            int(k): int(i)
            for k, i in self.conn.execute(
                "SELECT key, id FROM fingerprints WHERE key IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(set(keys))),),
            )
        }

    def insert_fingerprints(self, rows: Sequence[tuple[int, str, int]]) -> int:
        """Insert new fingerprints (key, normalized text, words) with consecutive ids, in
        order; returns the id of the first one."""
        first = int(
            self.conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM fingerprints").fetchone()[0]
        )
        self.conn.executemany(
            "INSERT INTO fingerprints (id, key, text, words) VALUES (?, ?, ?, ?)",
            [(first + k, key, text, words) for k, (key, text, words) in enumerate(rows)],
        )
        return first

    def fingerprint_texts_many(self, ids: Iterable[int]) -> dict[int, tuple[str, int]]:
        """``id -> (normalized text, words)`` of the given fingerprints."""
        return {
            int(i): (text, int(words))
            for i, text, words in self.conn.execute(
                "SELECT id, text, words FROM fingerprints WHERE id IN"
                " (SELECT value FROM json_each(?))",
                (json.dumps(sorted(set(ids))),),
            )
        }

    def neighbors_many(self, ids: Iterable[int]) -> dict[int, list[tuple[int, float]]]:
        """Like :meth:`neighbors` (lists sorted), in two statements whatever the count."""
        arg = json.dumps(sorted(set(ids)))
        out: dict[int, list[tuple[int, float]]] = {}
        for a, b, sim in self.conn.execute(
            "SELECT a, b, similarity FROM near WHERE a IN (SELECT value FROM json_each(?1))"
            " UNION ALL SELECT b, a, similarity FROM near"
            " WHERE b IN (SELECT value FROM json_each(?1))",
            (arg,),
        ):
            out.setdefault(int(a), []).append((int(b), float(sim)))
        for v in out.values():
            v.sort()
        return out

    def carriers_many(
        self, fingerprints: Iterable[int]
    ) -> dict[int, list[tuple[str, int, str, str]]]:
        """Per fingerprint, its carrier rows (outlet key, articles, first article, first order
        key), in outlet-key order (as :meth:`carriers` lists them)."""
        out: dict[int, list[tuple[str, int, str, str]]] = {}
        for fp, okey, n, first, fkey in self.conn.execute(
            "SELECT fingerprint, outlet, articles, first_article, first_key FROM carriers"
            " WHERE fingerprint IN (SELECT value FROM json_each(?))"
            " ORDER BY fingerprint, outlet",
            (json.dumps(sorted(set(fingerprints))),),
        ):
            out.setdefault(int(fp), []).append((str(okey), int(n), str(first), str(fkey)))
        return out

    def carriers_counting(
        self, fingerprints: Iterable[int]
    ) -> dict[int, list[tuple[str, int, str, str, list[str] | None]]]:
        """:meth:`carriers_many` with each row's other carriers (ids) while the count is
        below the boilerplate count, None when not kept (reached, or a store older than
        the column)."""
        out: dict[int, list[tuple[str, int, str, str, list[str] | None]]] = {}
        for fp, okey, n, first, fkey, others in self.conn.execute(
            "SELECT fingerprint, outlet, articles, first_article, first_key, others"
            " FROM carriers WHERE fingerprint IN (SELECT value FROM json_each(?))"
            " ORDER BY fingerprint, outlet",
            (json.dumps(sorted(set(fingerprints))),),
        ):
            row = (str(okey), int(n), str(first), str(fkey), _id_list(others))
            out.setdefault(int(fp), []).append(row)
        return out

    def write_carriers(self, rows: Sequence[tuple[int, str, int, str, str, str | None]]) -> None:
        """Set carrier rows (fingerprint, outlet key, articles, first article, first key,
        other carriers as a JSON list or None)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO carriers"
            " (fingerprint, outlet, articles, first_article, first_key, others)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    def outlet_carriers(self, pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], list[str]]:
        """For each (fingerprint, outlet), the stored articles of that outlet carrying it."""
        pairs = sorted(set(pairs))
        nul = _nul_stand_in(o for _, o in pairs)
        arg = json.dumps([(fp, o.replace("\0", nul)) for fp, o in pairs])
        out: dict[tuple[int, str], list[str]] = {}
        for fp, outlet, aid in self.conn.execute(
            "SELECT DISTINCT s.fingerprint, a.outlet, s.article FROM json_each(?1) j"
            " JOIN segments s ON s.fingerprint = json_extract(j.value, '$[0]')"
            " JOIN articles a ON a.id = s.article"
            " AND a.outlet = replace(json_extract(j.value, '$[1]'), ?2, char(0))"
            " ORDER BY 1, 2, 3",
            (arg, nul),
        ):
            out.setdefault((int(fp), str(outlet)), []).append(str(aid))
        return out

    def segments_many(self, ids: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
        """Per article, its segment rows in order: (idx, kind, start, end, block, parts,
        fingerprint, verdict, rule, reason, matched, words)."""
        return _by_article(self.conn.execute(_SEGMENTS_OF, _text_list(ids)))

    def locate_many(
        self, pairs: Iterable[tuple[int, str]]
    ) -> dict[tuple[int, str], tuple[int, int, int]]:
        """For each (fingerprint, article), its first segment there as (idx, start, end)."""
        out: dict[tuple[int, str], tuple[int, int, int]] = {}
        c = self.conn
        c.execute("CREATE TEMP TABLE IF NOT EXISTS locate_q (fp INTEGER, article TEXT)")
        c.execute("DELETE FROM locate_q")
        c.executemany("INSERT INTO locate_q VALUES (?, ?)", sorted(set(pairs)))
        for fp, aid, idx, start, end in c.execute(
            # CROSS JOIN: the request list drives (unforced, the planner may walk the index).
            'SELECT s.fingerprint, s.article, MIN(s.idx), s.start, s."end" FROM locate_q q'
            " CROSS JOIN segments s ON s.fingerprint = q.fp AND s.article = q.article"
            " GROUP BY s.fingerprint, s.article"
        ):
            out[(int(fp), str(aid))] = (int(idx), int(start), int(end))
        c.execute("DELETE FROM locate_q")
        return out

    def mark_stale(self, ids: Iterable[str]) -> None:
        """Note stored articles whose kept verdicts need judging again, whole (every text
        of theirs noted)."""
        rows = [(i,) for i in ids]
        self.conn.executemany("INSERT OR IGNORE INTO stale VALUES (?)", rows)
        self.conn.executemany(
            "INSERT OR IGNORE INTO stale_texts (article, fingerprint)"
            " SELECT article, fingerprint FROM segments"
            " WHERE article = ? AND fingerprint IS NOT NULL",
            rows,
        )

    def note_stale(self, pairs: Iterable[tuple[str, int]]) -> None:
        """Note (article, fingerprint) pairs, sorted: the segments of stored articles
        carrying a text whose evidence changed, to judge again."""
        pairs = list(pairs)
        self.conn.executemany("INSERT OR IGNORE INTO stale VALUES (?)", [(a,) for a, _ in pairs])
        self.conn.executemany("INSERT OR IGNORE INTO stale_texts VALUES (?, ?)", pairs)

    def stale_texts_many(self, ids: Iterable[str]) -> dict[str, set[int]]:
        """The texts noted for each of these stale articles."""
        out: dict[str, set[int]] = {}
        for aid, fp in self.conn.execute(
            "SELECT article, fingerprint FROM stale_texts"
            " WHERE article IN (SELECT replace(value, ?2, char(0)) FROM json_each(?1))",
            _text_list(ids),
        ):
            out.setdefault(str(aid), set()).add(int(fp))
        return out

    def noted_segments_many(self, ids: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
        """Per stale article, the rows (as :meth:`segments_many` gives them) of its segments
        carrying the texts noted for it, in order."""
        return _by_article(self.conn.execute(_NOTED_SEGMENTS_OF, _text_list(ids)))

    def count_stale(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM stale").fetchone()[0])

    def stale_ids(self, limit: int, after: str | None = None) -> list[str]:
        """Up to ``limit`` stale articles in id order (after the id ``after``, if given)."""
        if after is None:
            rows = self.conn.execute("SELECT article FROM stale ORDER BY article LIMIT ?", (limit,))
        else:
            rows = self.conn.execute(
                "SELECT article FROM stale WHERE article > ? ORDER BY article LIMIT ?",
                (after, limit),
            )
        return [str(r[0]) for r in rows]

    def clear_stale(self, ids: Iterable[str]) -> None:
        rows = [(i,) for i in ids]
        self.conn.executemany("DELETE FROM stale WHERE article = ?", rows)
        self.conn.executemany("DELETE FROM stale_texts WHERE article = ?", rows)

    def insert_judged_segments(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows of (article, idx, kind, start, end, block, parts, fingerprint, verdict, rule,
        reason, matched)."""
        self.conn.executemany(
            'INSERT INTO segments (article, idx, kind, start, "end", block, parts, fingerprint,'
            " verdict, rule, reason, matched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def update_verdicts(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows of (verdict, rule, reason, matched, article, idx)."""
        self.conn.executemany(
            "UPDATE segments SET verdict = ?, rule = ?, reason = ?, matched = ?"
            " WHERE article = ? AND idx = ?",
            rows,
        )

    # -- summaries -----------------------------------------------------------------------

    def stats(self, top: int = 5) -> dict[str, Any]:
        c = self.conn
        verdicts = {
            v: {"segments": n, "chars": chars}
            for v, n, chars in c.execute(
                'SELECT verdict, COUNT(*), SUM("end" - start) FROM segments GROUP BY verdict'
                " ORDER BY verdict"
            )
        }
        outlets = [
            {"outlet": o, "articles": n}
            for o, n in c.execute(
                "SELECT outlet, COUNT(*) FROM articles GROUP BY outlet ORDER BY COUNT(*) DESC,"
                " outlet IS NULL, outlet"
            )
        ]
        top_blocks: dict[str, list[dict[str, Any]]] = {}
        rows = c.execute(
            "SELECT a.outlet, f.text, COUNT(DISTINCT s.article) AS n FROM segments s"
            " JOIN articles a ON a.id = s.article JOIN fingerprints f ON f.id = s.fingerprint"
            " WHERE s.verdict = 'boilerplate' GROUP BY a.outlet, s.fingerprint"
            " ORDER BY a.outlet IS NULL, a.outlet, n DESC, f.text"
        )
        for outlet, text, n in rows:
            lst = top_blocks.setdefault(outlet or "(unknown outlet)", [])
            if len(lst) < top:
                lst.append({"text": text, "articles": n})
        return {
            "articles": self.count_articles(),
            "outlets": outlets,
            "segments": verdicts,
            "fingerprints": int(c.execute("SELECT COUNT(*) FROM fingerprints").fetchone()[0]),
            "near_pairs": int(c.execute("SELECT COUNT(*) FROM near").fetchone()[0]),
            "runs": int(c.execute("SELECT COUNT(*) FROM runs").fetchone()[0]),
            "top_boilerplate": top_blocks,
        }

    # -- provenance queries ------------------------------------------------------------------

    def change_marker(self) -> tuple[int, int]:
        """Changes so far, by this connection and by others: equal markers mean equal data."""
        other = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        return (other, self.conn.total_changes)

    def shared_fingerprints(self) -> list[int]:
        """Fingerprints carried by two or more outlets (an unknown outlet counts per article)."""
        return [
            int(fp)
            for (fp,) in self.conn.execute(
                "SELECT fingerprint FROM carriers GROUP BY fingerprint HAVING COUNT(*) >= 2"
                " ORDER BY fingerprint"
            )
        ]

    def near_edges(self) -> list[tuple[int, int, float]]:
        """Every verified near-duplicate edge (a < b, similarity)."""
        return [
            (int(a), int(b), float(sim))
            for a, b, sim in self.conn.execute("SELECT a, b, similarity FROM near ORDER BY a, b")
        ]

    def fingerprint_carriers(self, fingerprints: Iterable[int]) -> dict[int, list[tuple[str, int]]]:
        """Per fingerprint, its (outlet key, articles) rows."""
        out: dict[int, list[tuple[str, int]]] = {}
        for fp, okey, n, _first, _key in self.carriers(fingerprints):
            out.setdefault(int(fp), []).append((str(okey), int(n)))
        return out

    def carrying(self, fingerprints: Iterable[int]) -> list[tuple[str, int]]:
        """(article, fingerprint) of every article holding any of the fingerprints, sorted."""
        ids = json.dumps(sorted(set(fingerprints)))
        return [
            (str(a), int(fp))
            for a, fp in self.conn.execute(
                "SELECT DISTINCT article, fingerprint FROM segments"
                " WHERE fingerprint IN (SELECT value FROM json_each(?)) ORDER BY 1, 2",
                (ids,),
            )
        ]

    def articles_carrying(self, fingerprints: Iterable[int]) -> list[str]:
        """Ids of the articles holding any of the fingerprints, sorted."""
        ids = json.dumps(sorted(set(fingerprints)))
        return [
            str(a)
            for (a,) in self.conn.execute(
                "SELECT DISTINCT article FROM segments"
                " WHERE fingerprint IN (SELECT value FROM json_each(?)) ORDER BY article",
                (ids,),
            )
        ]

    def article_index(
        self,
    ) -> list[tuple[str, str | None, str | None, str | None, str | None, int]]:
        """(id, outlet, published, title, url, text length) of every article, in time order."""
        return list(
            self.conn.execute(
                "SELECT id, outlet, published, title, url, LENGTH(text) FROM articles"
                " ORDER BY published IS NULL, published, id"
            )
        )


def _article(row: Sequence[Any]) -> Article:
    return Article(
        id=row[0],
        text=row[1],
        url=row[2],
        outlet=row[3],
        published=parse_iso(row[4]),
        title=row[5],
        source=row[6],
        extra=_extra(row[7]),
    )


def _extra(stored: str | None) -> dict[str, Any]:
    """An article's pass-through fields. Older versions stored whatever an Article built in
    code held (``null``, a list): those read as no fields, or as one field ``extra``."""
    value = json.loads(stored) if stored else None
    if value is None:
        return {}
    return value if isinstance(value, dict) else {"extra": value}


def _chunks(items: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
