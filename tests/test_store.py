"""The SQLite store: schema, migrations, parameters, runs, refusal of foreign files."""

import json
import sqlite3
import time

import pytest

from dedupe import Params, StoreError, Tracker
from dedupe import store as store_mod
from dedupe.store import Store


def test_new_store_has_schema_wal_and_migrations(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as s:
        tables = {
            r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert {
            "articles",
            "segments",
            "fingerprints",
            "near",
            "lsh",
            "carriers",
            "runs",
            "settings",
            "_sqlite_migrations",
        } <= tables
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        applied = [
            r[0] for r in s.conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")
        ]
        assert applied[0] == "m001_initial"
    with Store(path) as s:  # reopening applies nothing twice
        assert s.conn.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0] == len(
            applied
        )


def test_a_reader_reads_a_store_another_connection_writes_and_writes_nothing(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as s:
        reader = Store.reader(path)
        with s.transaction():
            s.conn.execute("INSERT INTO settings VALUES ('note', 'one')")
        assert reader.settings() == {"note": "one"}
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.conn.execute("INSERT INTO settings VALUES ('other', 'two')")
        assert reader.locate_many([(1, "a")]) == {}  # its own temporary table is allowed
        reader.close()
        assert s.settings() == {"note": "one"}


def test_a_reader_of_a_missing_store_names_it(tmp_path):
    with pytest.raises(StoreError, match="nothing.db: cannot open to read"):
        Store.reader(tmp_path / "nothing.db")
    assert not (tmp_path / "nothing.db").exists()


def test_the_schema_version_is_the_migrations_not_a_setting(tmp_path):
    path = tmp_path / "s.db"
    with Tracker(path, workers=0):
        pass
    with sqlite3.connect(path) as conn:  # as older stores hold it
        conn.execute("INSERT INTO settings VALUES ('schema_version', '1')")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm012_no_schema_version'")
    conn.close()
    with Tracker(path, workers=0) as t:
        assert set(t.store.settings()) == {"params"}


def test_runs_record_parameters_and_versions(tmp_path):
    path = tmp_path / "r.db"
    with Tracker(path) as t:
        t.begin_run("ingest", ["x.jsonl"])
        t.add({"id": "a", "text": "A short story about the harbour and its new cranes."})
    with sqlite3.connect(path) as conn:
        run = conn.execute(
            "SELECT command, inputs, params, tool_version, datasketch_version, articles_added, finished_at FROM runs"
        ).fetchone()
    assert run[0] == "ingest" and json.loads(run[1]) == ["x.jsonl"]
    params = json.loads(run[2])
    assert params["scheme"] == "affine32" and params["num_perm"] == 128 and params["seed"] == 1
    assert run[4].startswith("2.") and run[5] == 1 and run[6]


def test_other_parameters_are_refused_with_advice(tmp_path):
    path = tmp_path / "p.db"
    Tracker(path).close()
    with pytest.raises(StoreError) as e:
        Tracker(path, params=Params(num_perm=64, bands=16))
    assert "num_perm=128 (asked 64)" in str(e.value) and "--db NEW.db" in str(e.value)


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database", encoding="utf-8")
    with pytest.raises(StoreError, match="not a dedupe store"):
        Store(text)
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing" / "x.db")


def test_hostile_values_are_bound_not_executed(tmp_path):
    path = tmp_path / "h.db"
    outlet = "Le Monde' OR '1'='1\"; DROP TABLE articles; --"
    with Tracker(path) as t:
        t.add(
            {
                "id": "x]; DROP TABLE segments; --",
                "outlet": outlet,
                "text": "A text about the weather in the mountains this week.",
            }
        )
        (a,) = list(t.store.articles())
    assert a.outlet == outlet and a.id == "x]; DROP TABLE segments; --"


def test_a_failed_batch_leaves_nothing(tmp_path):
    path = tmp_path / "f.db"
    with Tracker(path) as t:
        t.add({"id": "first", "text": "The first article about the river flood is stored."})
        good = {"id": "second", "text": "The second article about a new library opening downtown."}
        with pytest.raises(ValueError):
            t.add_many([good, {"id": "third", "text": "x" * 6_000_000}])
        assert [a.id for a in t.store.articles()] == ["first"]


def test_opening_waits_out_a_lock_another_process_holds_while_it_sets_up(tmp_path, monkeypatch):
    from dedupe import store as store_module

    setup = Store._setup
    answers = ["database is locked", "database is locked"]

    def contended(self):
        if answers:
            raise sqlite3.OperationalError(answers.pop(0))
        return setup(self)

    monkeypatch.setattr(Store, "_setup", contended)
    with Store(tmp_path / "s.db") as s:  # two refusals, then it opens
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert answers == []
    # A lock that outlasts the wait, or another error, is reported with the path.
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    answers.extend(["database is locked"] * 100)
    with pytest.raises(StoreError, match=r"s2\.db: cannot use this file as a store: .*locked"):
        Store(tmp_path / "s2.db")
    answers[:] = ["disk I/O error"]
    with pytest.raises(StoreError, match="disk I/O error"):
        Store(tmp_path / "s3.db")
    assert answers == []


def test_a_thread_writes_the_wal_back_while_the_store_is_open(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "CHECKPOINT_PAGES", 4)
    path = tmp_path / "c.db"
    store = Store(path)
    thread = store._checkpointer._thread
    assert thread.is_alive()
    before = path.stat().st_size
    store.conn.execute("CREATE TABLE t (x BLOB)")
    for _ in range(20):  # about 20 pages, far below the writer's own checkpoint
        with store.transaction():
            store.conn.execute("INSERT INTO t VALUES (zeroblob(4000))")
    deadline = time.monotonic() + 10
    while path.stat().st_size <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size > before  # pages copied back from the WAL, by the thread
    store.close()
    assert not thread.is_alive()
    assert Store(":memory:")._checkpointer is None


def test_a_store_path_must_be_a_path():
    for bad in (123, None, b"x.db"):
        with pytest.raises(TypeError, match="store"):
            Store(bad)


def test_noted_segments_and_text_work_tags_of_stale_articles(tmp_path):
    """The rows of the segments carrying the texts noted for an article, and which articles'
    text work a tag made, for ids holding NUL too."""
    from dedupe import textwork

    ids = ["a\0b", "plain"]
    texts = [
        "The council approved the budget after a long debate on Tuesday night. "
        "A new bridge opened downtown, easing traffic for thousands of commuters.",
        "Officials said the river crossing would close for repairs during the summer.",
    ]
    with Tracker(tmp_path / "s.db", workers=0) as t:
        t.add_many([{"id": i, "text": x} for i, x in zip(ids, texts)])
        t.flush()
        s = t.store
        rows = s.conn.execute(
            "SELECT idx, fingerprint FROM segments WHERE article = ? ORDER BY idx", (ids[0],)
        ).fetchall()
        assert len(rows) == 2
        idx, fp = rows[1]
        with s.transaction():
            s.note_stale([(ids[0], fp)])
        assert s.stale_texts_many(ids) == {ids[0]: {fp}}
        got = s.noted_segments_many(ids)
        assert list(got) == [ids[0]]
        assert [(r[0], r[6]) for r in got[ids[0]]] == [(idx, fp)]
        assert got[ids[0]][0] == s.segments_many([ids[0]])[ids[0]][1]
        tag = textwork.tag(t.params)
        assert s.text_work_made(ids, tag) == set(ids)
        assert s.text_work_made(ids, "0" * len(tag)) == set()


def test_the_full_text_index_merges_its_segments_by_16(tmp_path):
    """A store made now, and one made before the setting (its migration run again), merge
    the full-text index's segments ``FTS_AUTOMERGE`` at a time; the index finds every article."""
    path = tmp_path / "f.db"

    def setting() -> list[tuple[int]]:
        with sqlite3.connect(path) as conn:
            return conn.execute(
                "SELECT v FROM articles_fts_config WHERE k = 'automerge'"
            ).fetchall()

    with Tracker(path, workers=0) as t:
        for k in range(40):
            t.add({"id": f"a{k}", "text": f"Shelter number {k} reopened downtown today."})
    assert setting() == [(store_mod.FTS_AUTOMERGE,)] == [(16,)]
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM articles_fts_config WHERE k = 'automerge'")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm016_fts_merges_by_16'")
    assert setting() == []
    Store(path).close()
    assert setting() == [(16,)]
    with sqlite3.connect(path) as conn:
        (n,) = conn.execute(
            "SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH 'shelter'"
        ).fetchone()
        assert n == 40
        conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
        conn.execute("DROP TABLE articles_fts")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm016_fts_merges_by_16'")
    Store(path).close()  # an index dropped is not made again by the setting
    with sqlite3.connect(path) as conn:
        assert not conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'articles_fts%'"
        ).fetchall()
