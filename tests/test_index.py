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
