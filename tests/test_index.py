"""The on-disk LSH index: candidates share a band key, hot buckets are capped."""

import sqlite3

import numpy as np

from dedupe.index import SqliteIndex
from dedupe.store import Store


def index(tmp_path):
    store = Store(tmp_path / "i.db")
    return store, SqliteIndex(store.conn)


def test_candidates_share_a_band(tmp_path):
    store, idx = index(tmp_path)
    for i in (1, 2, 3):
        store.conn.execute(
            "INSERT INTO fingerprints (id, key, text, words) VALUES (?, ?, 'x', 1)", (i, i)
        )
    idx.add([1, 2, 3], np.array([[10, 11], [12, 11], [13, 14]], dtype=np.int64))
    assert idx.candidates(np.array([[99, 11], [13, 98], [0, 0]], dtype=np.int64), cap=10) == [
        [1, 2],
        [3],
        [],
    ]
    store.close()


def test_hot_bucket_is_capped_in_id_order(tmp_path):
    store, idx = index(tmp_path)
    n = 500
    store.conn.executemany(
        "INSERT INTO fingerprints (id, key, text, words) VALUES (?, ?, 'x', 1)",
        [(i, i) for i in range(1, n + 1)],
    )
    idx.add(list(range(1, n + 1)), np.full((n, 1), 7, dtype=np.int64))
    (found,) = idx.candidates(np.array([[7]], dtype=np.int64), cap=25)
    assert found == list(range(1, 26))
    store.close()


def test_rows_survive_reopen(tmp_path):
    store, idx = index(tmp_path)
    store.conn.execute("INSERT INTO fingerprints (id, key, text, words) VALUES (1, 1, 'x', 1)")
    idx.add([1], np.array([[5, 6]], dtype=np.int64))
    store.close()
    with sqlite3.connect(tmp_path / "i.db") as conn:
        assert SqliteIndex(conn).candidates(np.array([[0, 6]], dtype=np.int64), 5) == [[1]]


def test_a_merge_that_fails_leaves_the_index_as_the_store_has_it(tmp_path, monkeypatch):
    store, idx = index(tmp_path)
    n = SqliteIndex.FANOUT
    store.conn.executemany(
        "INSERT INTO fingerprints (id, key, text, words) VALUES (?, ?, 'x', 1)",
        [(i, i) for i in range(1, n + 1)],
    )
    keys = np.array([[100 + i, 7] for i in range(1, n + 1)], dtype=np.int64)
    for i in range(1, n):  # runs of one item each, one short of a merge
        with store.transaction():
            idx.add([i], keys[i - 1 : i])
    calls = []

    def failing(runs):  # the merge is done in memory; storing it fails
        calls.append(len(runs))
        raise OSError("disk full")

    monkeypatch.setattr(idx, "_delete", failing)
    try:
        with store.transaction():
            idx.add([n], keys[n - 1 : n])
    except OSError:
        pass
    assert calls == [n]
    monkeypatch.undo()
    idx.refresh()  # as every write transaction starts
    assert idx.candidates(np.array([[0, 7], [102, 0]], dtype=np.int64), cap=10) == [
        list(range(1, n)),
        [2],
    ]
    store.close()
