"""The store in Datasette with no plugin: views, labels, full-text search, foreign keys; then a
real ``datasette`` server read through its JSON API."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FURNITURE, WIRE, corpus

from dedupe import Tracker
from dedupe.cli import cli
from dedupe.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def rows(db: str | Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with Tracker(path, workers=0) as t:
        t.add_many(corpus())
    return path


def test_views_answer_the_common_questions(db: Path) -> None:
    assert rows(db, "SELECT * FROM reuse_by_outlet_pair") == [("b.example", "c.example", 1, 1)]
    (furniture,) = rows(
        db, "SELECT outlet, text, articles, first_article, rule FROM boilerplate_by_outlet"
    )
    assert furniture == ("a.example", FURNITURE, 3, "a1", "recurrence")
    verdicts = rows(db, "SELECT article, title, outlet, verdict, rule, text FROM segment_verdicts")
    assert len(verdicts) == rows(db, "SELECT COUNT(*) FROM segments")[0][0]
    assert ("c1", None, "c.example", "reused", "reuse", WIRE) in verdicts


def test_fingerprints_are_labelled_by_their_text(db: Path) -> None:
    assert rows(db, "SELECT COUNT(*) FROM fingerprints WHERE title IS NOT text") == [(0,)]
    with sqlite3.connect(db) as conn:  # no storage: a virtual generated column
        xinfo = {r[1]: r[6] for r in conn.execute("PRAGMA table_xinfo(fingerprints)")}
    assert xinfo["title"] == 2


def test_full_text_search_follows_every_ingest(db: Path) -> None:
    def search(q: str) -> list[str]:
        return [
            r[0]
            for r in rows(
                db,
                "SELECT a.id FROM articles a JOIN articles_fts f ON f.rowid = a.rowid"
                " WHERE articles_fts MATCH ? ORDER BY a.id",
                q,
            )
        ]

    assert search("shelters") == ["b1", "c1"]
    with Tracker(db, workers=0) as t:  # later transactions keep the index current
        t.add({"id": "d1", "url": "https://d.example/1", "text": "Shelters reopened today."})
    assert search("shelters") == ["b1", "c1", "d1"]
    assert search("budget") == ["a1"]


def test_the_migration_indexes_articles_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Tracker(path, workers=0) as t:
        t.add_many(corpus())
    with sqlite3.connect(path) as conn:  # back to the schema before m004_views
        for view in ("reuse_by_outlet_pair", "boilerplate_by_outlet", "segment_verdicts"):
            conn.execute(f"DROP VIEW {view}")
        for (trigger,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'articles'"
        ).fetchall():
            conn.execute(f'DROP TRIGGER "{trigger}"')
        conn.execute("DROP TABLE articles_fts")
        conn.execute("ALTER TABLE fingerprints DROP COLUMN title")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm004_views'")
    Store(path).close()
    assert rows(path, "SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH 'bridge'") == [
        (1,)
    ]
    assert rows(path, "SELECT COUNT(*) FROM boilerplate_by_outlet") == [(1,)]


def test_a_store_from_before_batch_indexing_loses_its_insert_trigger_not_its_index(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with Tracker(path, workers=0) as t:
        t.add_many(corpus()[:2])
    with sqlite3.connect(path) as conn:  # as sqlite-utils' enable_fts left it
        conn.execute(
            "CREATE TRIGGER IF NOT EXISTS articles_ai AFTER INSERT ON articles BEGIN INSERT INTO"
            " articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text); END"
        )
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_fts_by_batch'")
    conn.close()
    with Tracker(path, workers=0) as t:
        t.add_many(corpus()[2:])
        t.add({"id": "d1", "url": "https://d.example/1", "text": "Shelters reopened today."})
    triggers = rows(path, "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
    assert triggers == [("articles_ad",), ("articles_au",)]
    # every article once: a row indexed twice would be found twice
    found = rows(
        path,
        "SELECT a.id FROM articles a JOIN articles_fts f ON f.rowid = a.rowid"
        " WHERE articles_fts MATCH 'shelters OR budget' ORDER BY a.id",
    )
    assert found == [("a1",), ("b1",), ("c1",), ("d1",)]
    assert rows(path, "SELECT COUNT(*) FROM articles_fts") == rows(
        path, "SELECT COUNT(*) FROM articles"
    )


def test_foreign_keys_link_segments_fingerprints_and_articles(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        fks = {
            (t, r[3], r[2])
            for t in ("segments", "carriers", "near", "signatures")
            for r in conn.execute(f"PRAGMA foreign_key_list({t})")
        }
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert ("segments", "article", "articles") in fks
    assert ("segments", "fingerprint", "fingerprints") in fks
    assert ("carriers", "first_article", "articles") in fks


# --- a real Datasette ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - a local test server
        return json.load(resp)


def test_datasette_serves_the_store(tmp_path: Path) -> None:
    pytest.importorskip("datasette", reason="datasette is not installed (pip install datasette)")
    store = tmp_path / "store.db"
    r = CliRunner().invoke(cli, ["ingest", "--db", str(store), str(SAMPLES)])
    assert r.exit_code == 0, r.output
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "datasette", str(store), "--host", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get_json(base + "/-/versions.json")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"datasette did not start: {out}")
                time.sleep(0.2)
        served = get_json(base + "/store/boilerplate_by_outlet.json?_shape=array&_size=max")
        expected = rows(store, "SELECT outlet, text, articles FROM boilerplate_by_outlet")
        assert [(x["outlet"], x["text"], x["articles"]) for x in served] == expected
        assert served, "the samples have boilerplate"
        found = get_json(base + "/store/articles.json?_search=cartels&_shape=array&_col=title")
        assert found and all("id" in x for x in found)
        (seg,) = get_json(
            base + "/store/segments.json?_shape=array&_labels=on&_size=1&fingerprint__notnull=1"
        )
        label = rows(
            store, "SELECT text FROM fingerprints WHERE id = ?", seg["fingerprint"]["value"]
        )
        assert seg["fingerprint"]["label"] == label[0][0]
        title = rows(store, "SELECT title FROM articles WHERE id = ?", seg["article"]["value"])
        assert seg["article"]["label"] == title[0][0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
