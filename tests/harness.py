"""Helpers of the crash and concurrency harnesses: run the real command, read a store back."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: Tables a snapshot leaves out: bookkeeping that differs between equivalent stores.
_NOT_CONTENT = {"runs", "_sqlite_migrations", "sqlite_sequence", "sqlite_stat1"}


def env() -> dict[str, str]:
    """The environment for a subprocess that imports this source tree."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), e.get("PYTHONPATH")]))
    return e


def command(*args: str) -> list[str]:
    """``python -m dedupe ARGS`` as an argument list."""
    return [sys.executable, "-m", "dedupe", *args]


def dedupe(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m dedupe ARGS`` to the end; with ``check``, it must succeed."""
    p = subprocess.run(command(*args), capture_output=True, env=env(), timeout=timeout)
    if check:
        assert p.returncode == 0, p.stderr.decode("utf-8", "replace")
    return p


def snapshot(db: Path, *, other_tables: bool = True) -> dict[str, list[Any]]:
    """Every table's content in a canonical order, fingerprint ids replaced by their keys (ids
    follow insertion order) and run ids left out (an interrupted ingest makes more runs).
    ``other_tables``: also tables this function does not know, compared row for row."""
    conn = sqlite3.connect(db)
    try:
        key = dict(conn.execute("SELECT id, key FROM fingerprints"))
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        out: dict[str, list[Any]] = {}
        out["settings"] = sorted(conn.execute("SELECT key, value FROM settings"))
        out["articles"] = sorted(
            conn.execute(
                "SELECT id, title, url, url_normalized, outlet, published, source, text, extra,"
                " content_hash, seq FROM articles"
            )
        )
        out["fingerprints"] = sorted(conn.execute("SELECT key, text, words FROM fingerprints"))
        out["signatures"] = sorted(
            (key[f], m) for f, m in conn.execute("SELECT fingerprint, minhash FROM signatures")
        )
        out["near"] = sorted(
            (*sorted((key[a], key[b])), s)
            for a, b, s in conn.execute("SELECT a, b, similarity FROM near")
        )
        out["segments"] = sorted(
            (*row[:7], key.get(row[7]), *row[8:])
            for row in conn.execute(
                'SELECT article, idx, kind, start, "end", block, parts, fingerprint, verdict,'
                " rule, reason, matched FROM segments"
            )
        )
        out["carriers"] = sorted(
            (key[f], *rest)
            for f, *rest in conn.execute(
                "SELECT fingerprint, outlet, articles, first_article, first_key, others"
                " FROM carriers"
            )
        )
        if "rejected" in tables:
            out["rejected"] = sorted(
                conn.execute("SELECT source, line, problem, raw FROM rejected")
            )
        if "lsh" in tables:
            out["lsh"] = sorted(
                (k, key[f]) for k, f in conn.execute("SELECT key, fingerprint FROM lsh")
            )
        if "lsh_runs" in tables:
            # Runs are merged as the index grows and carry random tokens: compare what they
            # hold, (band, key, fingerprint), not how it is laid out.
            held: list[tuple[Any, ...]] = []
            for band, keys, items in conn.execute("SELECT band, keys, items FROM lsh_runs"):
                ks = np.frombuffer(keys, dtype="<u4").tolist()
                if band < 0:  # a run's sketches: its items, then one uint32 row per item
                    rows = np.frombuffer(items, dtype="<u4").reshape(len(ks), -1).tolist()
                    held.extend((band, key[i], tuple(r)) for i, r in zip(ks, rows))
                    continue
                its = np.frombuffer(items, dtype="<u4").tolist()
                held.extend((band, k, key[i]) for k, i in zip(ks, its))
            out["lsh_runs"] = sorted(held)
        if other_tables:
            fts = {t for t in tables if t.endswith("_fts") and "CREATE VIRTUAL" in _sql(conn, t)}
            shadow = {t for t in tables if any(t.startswith(f + "_") for f in fts)}
            for f in sorted(fts):  # full-text indexes: what a search finds, not their pages
                out[f] = sorted(conn.execute("SELECT rowid, * FROM " + _quote(f)))
            for t in sorted(tables - set(out) - _NOT_CONTENT - shadow):
                rows = conn.execute("SELECT * FROM " + _quote(t)).fetchall()
                out[t] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def _sql(conn: sqlite3.Connection, table: str) -> str:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    return str(row[0] or "") if row else ""


def _quote(name: str) -> str:
    """An SQL identifier, quoted (table names here come from sqlite_master)."""
    return '"' + name.replace('"', '""') + '"'


def check_whole(db: Path) -> None:
    """The store file passes SQLite's own checks."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
