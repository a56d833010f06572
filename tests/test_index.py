"""The on-disk LSH index: candidates share a band key, hot buckets are capped."""

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import index as index_mod
from dedupe.index import MAX_BANDS, MAX_ITEM, SqliteIndex, sorted_unique
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


def test_a_hot_bucket_spread_over_runs_is_read_cap_items_in_all_smallest_first(tmp_path):
    """Each run alone holds fewer than twice the cap, so only a budget shared by the runs
    stops the reading at ``cap`` items: the sketch test sees the first 25, nothing more."""
    store, idx = index(tmp_path)
    idx.FANOUT = 1000  # no merges: three runs of 40 items
    _fingerprints(store, range(1, 121))
    for first in (1, 41, 81):
        its = list(range(first, first + 40))
        idx.add(its, np.full((40, 1), 7, dtype=np.int64), np.array([[i] for i in its]))
    tested: list[int] = []

    def keep(query_sketches, candidate_sketches):
        tested.extend(candidate_sketches[:, 0].tolist())
        return np.ones(len(candidate_sketches), dtype=bool)

    rows, items = idx.candidate_pairs(np.array([[7]], dtype=np.int64), 25, np.ones((1, 1)), keep)
    assert sorted(tested) == list(range(1, 26))
    assert items.tolist() == list(range(1, 26))
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


def _fingerprints(store, ids):
    store.conn.executemany(
        "INSERT INTO fingerprints (id, key, text, words) VALUES (?, ?, 'x', 1)",
        [(i, i) for i in ids],
    )


def test_refresh_reads_the_table_only_when_it_may_have_changed(tmp_path):
    store, idx = index(tmp_path)
    _fingerprints(store, [1, 2, 3])
    with store.transaction():
        idx.refresh()
        idx.add([1], np.array([[10, 7]], dtype=np.int64))
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)

    def full_reads() -> int:
        return sum("GROUP BY run, token" in q for q in seen)

    idx.refresh()  # this connection's own committed add: nothing to read
    assert full_reads() == 0
    other = Store(tmp_path / "i.db")
    with other.transaction():
        other_idx = SqliteIndex(other.conn)
        other_idx.refresh()
        other_idx.add([2], np.array([[20, 7]], dtype=np.int64))
    idx.refresh()  # another connection committed: read again
    assert full_reads() == 1
    assert idx.candidates(np.array([[0, 7]], dtype=np.int64), cap=10) == [[1, 2]]
    with pytest.raises(RuntimeError), store.transaction():
        idx.refresh()
        idx.add([3], np.array([[30, 7]], dtype=np.int64))
        raise RuntimeError("the batch failed after its add")
    assert idx.candidates(np.array([[0, 7]], dtype=np.int64), cap=10) == [[1, 2, 3]]
    idx.refresh()  # the add was rolled back: read again, and forget it
    assert full_reads() == 2
    assert idx.candidates(np.array([[0, 7]], dtype=np.int64), cap=10) == [[1, 2]]
    store.conn.set_trace_callback(None)
    other.close()
    store.close()


def test_an_add_that_fails_outside_a_transaction_is_read_again(tmp_path, monkeypatch):
    """Without a transaction each statement commits: a merge that fails half way leaves the
    merged run and its inputs in the table, and only a full read knows that."""
    store, idx = index(tmp_path)
    n = SqliteIndex.FANOUT
    _fingerprints(store, range(1, n + 1))
    keys = np.array([[100 + i, 7] for i in range(1, n + 1)], dtype=np.int64)
    for i in range(1, n):
        idx.add([i], keys[i - 1 : i])

    def failing(runs):
        raise OSError("disk full")

    monkeypatch.setattr(idx, "_delete", failing)
    with pytest.raises(OSError):
        idx.add([n], keys[n - 1 : n])
    monkeypatch.undo()
    idx.refresh()
    assert idx.candidates(np.array([[0, 7]], dtype=np.int64), cap=10) == [list(range(1, n + 1))]
    store.close()


def test_runs_of_older_stores_keep_28_bits_of_each_key(tmp_path):
    store, idx = index(tmp_path)
    # a run as older versions wrote it: full 32-bit keys, sorted on them
    keys = np.array([0x1000_0005, 0x2000_0003], dtype="<u4")
    items = np.array([1, 2], dtype="<u4")
    with store.transaction():
        store.conn.execute(
            "INSERT INTO lsh_runs (run, band, token, n, keys, items) VALUES (1, 0, 7, 2, ?, ?)",
            (keys.tobytes(), items.tobytes()),
        )
        store.conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm010_lsh_keys28'")
    store.close()
    store = Store(tmp_path / "i.db")
    (k, i) = store.conn.execute("SELECT keys, items FROM lsh_runs").fetchone()
    assert np.frombuffer(k, dtype="<u4").tolist() == [3, 5]  # cut, and sorted again
    assert np.frombuffer(i, dtype="<u4").tolist() == [2, 1]
    idx = SqliteIndex(store.conn)
    query = np.array([[0x2000_0005], [0x7000_0003], [4]], dtype=np.int64)
    assert idx.candidates(query, cap=5) == [[1], [2], []]
    store.close()


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 20_000), min_size=1, max_size=300), st.randoms())
def test_a_run_finds_each_item_s_sketch_row_dense_ids_or_not(ids, rnd):
    items = np.array(sorted(ids), dtype=np.uint32)
    run = index_mod._Run(1, 1, 0, 0, np.zeros(0, dtype=np.uint64), items, items[:, None])
    assert (run.slot is not None) == (int(items[-1]) - int(items[0]) < 2 * len(items) + 4096)
    ask = np.array(rnd.choices(sorted(ids), k=50), dtype=np.int64)
    assert run.sketch_rows(ask).tolist() == np.searchsorted(items, ask).tolist()


def test_sketches_of_older_stores_get_the_count_of_their_map_bits(tmp_path):
    store, idx = index(tmp_path)
    sk = np.array([[0b1011, 0, 0, 1 << 31, 7], [0, 0, 0, 0, 2]], dtype=np.uint32)
    with store.transaction():
        idx.add([4, 5], np.zeros((2, 2), dtype=np.int64), sk)
        store.conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm013_sketch_popcounts'")
    store.close()
    store = Store(tmp_path / "i.db")
    blob = store.conn.execute("SELECT items FROM lsh_runs WHERE band < 0").fetchone()[0]
    assert np.frombuffer(blob, dtype="<u4").reshape(2, 5)[:, 4].tolist() == [7 | 4 << 16, 2]
    store.close()


def test_item_ids_and_bands_out_of_range_are_refused(tmp_path):
    store, idx = index(tmp_path)
    with pytest.raises(ValueError, match="item ids"):
        idx.add([MAX_ITEM + 1], np.zeros((1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="bands"):
        idx.add([1], np.zeros((1, MAX_BANDS + 1), dtype=np.int64))
    for bad in (np.zeros((1, 0)), np.zeros((2, 3)), np.zeros(1)):
        with pytest.raises(ValueError, match=r"sketches must be one row .* shape"):
            idx.add([1], np.zeros((1, 2), dtype=np.int64), bad)
    assert len(idx) == 0
    store.close()


@pytest.mark.parametrize("values", [[], [5], [3, 1, 3, 2, 1], list(range(50, 0, -1)) * 3])
def test_sorted_unique_is_numpy_unique(values):
    a = np.array(values, dtype=np.int64)
    assert sorted_unique(a).tolist() == np.unique(a).tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 300), min_size=1, max_size=900),
    st.lists(st.integers(0, 320), min_size=1, max_size=40),
    st.sampled_from([2, 8, 128]),
    st.sampled_from(["left", "right"]),
)
def test_a_search_through_the_fence_finds_what_searchsorted_finds(values, queries, block, side):
    entries = np.sort(np.array(values, dtype=np.uint64))
    q = np.sort(np.array(queries, dtype=np.uint64))
    fence = np.ascontiguousarray(entries[block - 1 :: block])  # what _fence keeps
    if not len(fence):
        return
    saved = index_mod._BLOCK, index_mod._FEW
    index_mod._BLOCK, index_mod._FEW = block, 0  # every search goes through the fence
    try:
        got = index_mod._bound(entries, fence, q, side)
    finally:
        index_mod._BLOCK, index_mod._FEW = saved
    assert got.tolist() == np.searchsorted(entries, q, side).tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 3), min_size=1, max_size=4),
    st.integers(0, 2**31),
    st.sampled_from([4, 1 << 10, 1 << 20]),
)
def test_key_maps_change_no_answer(sizes, seed, key_range):
    rng = np.random.default_rng(seed)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE lsh_runs (id INTEGER PRIMARY KEY, run, band, token, n, keys, items)")
    saved = index_mod._MAP_MIN
    index_mod._MAP_MIN = 1  # every run keeps a key map
    try:
        idx = SqliteIndex(conn)
        idx.FANOUT = 1000  # no merges: several runs
        first = 1
        for size in sizes:
            n = size * 50
            keys = rng.integers(0, key_range, size=(n, 3), dtype=np.int64)
            idx.add(list(range(first, first + n)), keys)
            first += n
        assert all(r.keymap is not None for r in idx._runs.values())
        for r in idx._runs.values():  # never "surely not" for a prefix the run holds
            assert r.may_hold(r.entries & ~index_mod._ITEM_MASK).all()
        query = rng.integers(0, key_range, size=(200, 3), dtype=np.int64)
        with_maps = idx.candidate_pairs(query, cap=7)
        for r in idx._runs.values():
            r.keymap = None
        without = idx.candidate_pairs(query, cap=7)
    finally:
        index_mod._MAP_MIN = saved
    assert [a.tolist() for a in with_maps] == [a.tolist() for a in without]


def _same_adds(indexes, counts, seed, key_range, nb=3, drawn=None):
    """The same runs (of ``counts`` items) added to each index; returns the random generator
    for the queries. ``drawn``: a list to append each run's keys and sketches to."""
    rng = np.random.default_rng(seed)
    first = 1
    for n in counts:
        keys = rng.integers(0, key_range, size=(n, nb), dtype=np.int64)
        sketches = rng.integers(0, 2**32, size=(n, 2), dtype=np.uint32)
        for idx in indexes:
            idx.add(list(range(first, first + n)), keys, sketches)
        if drawn is not None:
            drawn.append((keys, sketches))
        first += n
    return rng


def _expected_pairs(drawn, query, cap, query_sketches=None, keep=None):
    """What :meth:`SqliteIndex.candidate_pairs` should answer, from every item added (ids
    from 1): each band's bucket read ``cap`` items, smallest ids first, then tested."""
    keys = np.concatenate([k for k, _ in drawn])
    sketches = np.concatenate([s for _, s in drawn])
    ids = np.arange(1, len(keys) + 1)
    rows, items = [], []
    for r, q in enumerate(query):
        found: set[int] = set()
        for b in range(query.shape[1]):
            read = ids[keys[:, b] == q[b]][:cap]
            if keep is not None and read.size:
                read = read[
                    keep(np.repeat(query_sketches[r : r + 1], read.size, 0), sketches[read - 1])
                ]
            found.update(read.tolist())
        got = sorted(found)[:cap]
        rows += [r] * len(got)
        items += got
    return [rows, items]


def _keep_some(query_sketches, candidate_sketches):
    return ((query_sketches[:, 0] ^ candidate_sketches[:, 1]) & 3) != 0


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=7),
    st.integers(0, 2**31),
    st.sampled_from([3, 40, 1 << 20]),
    st.sampled_from([1, 7, 100, 300]),
    st.sampled_from([2, 4, 1000]),
    st.booleans(),
    st.sampled_from([1, 7, 8192]),
    st.sampled_from([0, 2, 1000]),
    st.sampled_from([1, 5, 1 << 18]),
    st.sampled_from([(0, 1), (2, 5), (512, 1 << 16)]),
)
def test_runs_on_disk_answer_as_runs_in_memory(
    sizes, seed, key_range, cap, fanout, maps, slice_, gap, keep_at_once, sketch_reads
):
    """Whatever the budget, the key maps, the queries searched at a time on disk, the blocks
    read in between those needed and the pairs whose sketches are tested at a time."""
    conns, indexes = [], []
    saved = index_mod._MAP_MIN, index_mod._SLICE, index_mod._GAP, index_mod._KEEP_AT_ONCE
    saved_sketch = index_mod._SKETCH_GAP, index_mod._SKETCH_SPAN
    index_mod._MAP_MIN = 1 if maps else 1 << 14
    index_mod._SLICE, index_mod._GAP, index_mod._KEEP_AT_ONCE = slice_, gap, keep_at_once
    index_mod._SKETCH_GAP, index_mod._SKETCH_SPAN = sketch_reads
    try:
        # no budget; nothing in memory; room for about half of what is added
        for memory in (None, 0, 8 * 3 * 90 * sum(sizes) // 2):
            conn = sqlite3.connect(":memory:")
            conn.execute(
                "CREATE TABLE lsh_runs (id INTEGER PRIMARY KEY, run, band, token, n, keys, items)"
            )
            idx = SqliteIndex(conn, memory=memory)
            idx.FANOUT = fanout
            conns.append(conn)
            indexes.append(idx)
        rng = _same_adds(indexes, [90 * s for s in sizes], seed, key_range)
        assert all(r.entries is None for r in indexes[1]._runs.values())
        query = rng.integers(0, key_range, size=(150, 3), dtype=np.int64)
        query_sketches = rng.integers(0, 2**32, size=(150, 2), dtype=np.uint32)
        answers = [[a.tolist() for a in idx.candidate_pairs(query, cap)] for idx in indexes] + [
            [a.tolist() for a in idx.candidate_pairs(query, cap, query_sketches, _keep_some)]
            for idx in indexes
        ]
    finally:
        index_mod._MAP_MIN, index_mod._SLICE, index_mod._GAP, index_mod._KEEP_AT_ONCE = saved
        index_mod._SKETCH_GAP, index_mod._SKETCH_SPAN = saved_sketch
    assert answers[1] == answers[0] and answers[2] == answers[0]
    assert answers[4] == answers[3] and answers[5] == answers[3]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=7),
    st.booleans(),
    st.integers(0, 2**31),
    st.sampled_from([3, 40, 1 << 20]),
    st.sampled_from([1, 7, 100]),
    st.sampled_from([2, 4, 1000]),
    st.sampled_from([None, 0]),
)
def test_each_bucket_is_read_cap_items_smallest_first(
    sizes, steady, seed, key_range, cap, fanout, memory
):
    """Against a model of every item added, merged or not, in memory or on disk: without
    the sketch test, the ``cap`` smallest items sharing a band key whatever the runs; with
    it, the ``cap`` smallest of each bucket tested, when no run is larger than the one
    before (as a stream of steady batches makes them)."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE lsh_runs (id INTEGER PRIMARY KEY, run, band, token, n, keys, items)")
    idx = SqliteIndex(conn, memory=memory)
    idx.FANOUT = fanout
    drawn: list = []
    counts = [90 * s for s in (sorted(sizes, reverse=True) if steady else sizes)]
    rng = _same_adds([idx], counts, seed, key_range, drawn=drawn)
    query = rng.integers(0, key_range, size=(150, 3), dtype=np.int64)
    query_sketches = rng.integers(0, 2**32, size=(150, 2), dtype=np.uint32)
    got = [a.tolist() for a in idx.candidate_pairs(query, cap)]
    assert got == _expected_pairs(drawn, query, cap)
    if steady:
        kept = [a.tolist() for a in idx.candidate_pairs(query, cap, query_sketches, _keep_some)]
        assert kept == _expected_pairs(drawn, query, cap, query_sketches, _keep_some)


def test_a_run_reaching_back_among_earlier_ones_reads_its_own_cap(tmp_path):
    """A small batch, a larger one, then small ones merged with the first: the merged run
    spans the larger one's ids, and what it holds is still found."""
    store, idx = index(tmp_path)
    idx.FANOUT = 2
    _fingerprints(store, range(1, 40))
    key = np.full((1, 1), 7, dtype=np.int64)
    idx.add([1], key)  # class 0
    large = np.full((32, 1), 8, dtype=np.int64)
    large[:2] = 7  # items 2 and 3 share the key
    idx.add(list(range(2, 34)), large)  # class 5
    idx.add([34], key)  # class 0: merged with the first, its items span 2..33
    spans = sorted((r.low, r.high) for r in idx._runs.values())
    assert spans == [(1, 34), (2, 33)]
    # the merged run is read first (1, 34); the larger one still reads its own 2
    (found,) = idx.candidates(np.array([[7]], dtype=np.int64), cap=2)
    assert found == [1, 2]
    store.close()


def test_a_store_reopened_on_a_small_budget_reads_its_largest_runs_from_disk(tmp_path):
    store = Store(tmp_path / "i.db")
    big = SqliteIndex(store.conn)
    big.FANOUT = 1000  # no merges: runs of 300, 600 and 900 items
    rng = _same_adds([big], [300, 600, 900], 7, 5000)
    query = rng.integers(0, 5000, size=(400, 3), dtype=np.int64)
    expected = [a.tolist() for a in big.candidate_pairs(query, 100)]
    store.conn.commit()
    # room for the two smaller runs (8 bytes per item and band)
    small = SqliteIndex(store.conn, memory=8 * 3 * 900)
    small.FANOUT = 1000
    got = [a.tolist() for a in small.candidate_pairs(query, 100)]
    in_memory = sorted(r.n for r in small._runs.values() if r.entries is not None)
    store.close()
    assert in_memory == [300, 600]
    assert got == expected


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match="memory budget"):
        SqliteIndex(sqlite3.connect(":memory:"), memory=-1)


@pytest.mark.parametrize("order", ["oldest first", "newest first", "shuffled"])
def test_merged_runs_keep_each_item_s_own_sketch(tmp_path, order):
    """A merge copies the sketches in run order when the ids rise from run to run (the usual
    case) and sorts them when they do not; either way each item keeps its own sketch, in
    memory and when read back from the table."""
    store, idx = index(tmp_path)
    n = SqliteIndex.FANOUT
    batches = [list(range(10 * k + 1, 10 * k + 4)) for k in range(n)]
    if order == "newest first":
        batches.reverse()
    elif order == "shuffled":
        batches = [batches[2], batches[0], batches[3], batches[1]]
    _fingerprints(store, [i for b in batches for i in b])
    for b in batches:
        keys = np.array([[i, 7] for i in b], dtype=np.int64)
        sketches = np.array([[i, 2 * i, 3 * i] for i in b], dtype=np.uint32)
        idx.add(b, keys, sketches)
    (run,) = idx._runs.values()  # all merged into one
    items = np.array(sorted(i for b in batches for i in b), dtype=np.uint32)
    assert run.sketch_items.tolist() == items.tolist()
    for held in (run, SqliteIndex(store.conn)._read(run.run, run.token)):
        got = held.sketches_of(items)
        assert got.tolist() == [[i, 2 * i, 3 * i] for i in items.tolist()]
    store.close()


@pytest.mark.parametrize("handles", [True, False])
@pytest.mark.parametrize("budget", [None, 0])
def test_runs_written_and_read_in_pieces_are_the_runs_written_whole(monkeypatch, handles, budget):
    """Merged runs written and read back through blob handles, a few bytes at a time, leave
    the same table and give the same answers, sketch tests included, in memory and on disk
    (``budget``: the writer's)."""
    from dedupe import blobs

    if handles and not blobs.HANDLES:
        pytest.skip("this Python has no blob handles")
    tables, answers = [], []
    monkeypatch.setattr(index_mod, "_HELD_MERGE", 0)  # every merge reads the table
    for piece in (1 << 22, 12):
        monkeypatch.setattr(blobs, "PIECE", piece)
        monkeypatch.setattr(blobs, "HANDLES", handles and piece == 12)
        conn = sqlite3.connect(":memory:")
        conn.execute(
            "CREATE TABLE lsh_runs (id INTEGER PRIMARY KEY, run, band, token, n, keys, items)"
        )
        idx = SqliteIndex(conn, memory=budget)
        idx.FANOUT = 2
        rng = _same_adds([idx], [40, 30, 50, 20, 60], 3, 500)
        query = rng.integers(0, 500, size=(80, 3), dtype=np.int64)
        query_sketches = rng.integers(0, 2**32, size=(80, 2), dtype=np.uint32)
        tables.append(
            conn.execute(
                "SELECT run, band, n, keys, items FROM lsh_runs ORDER BY run, band"
            ).fetchall()
        )
        for again in (idx, SqliteIndex(conn), SqliteIndex(conn, memory=0)):
            answers.append([a.tolist() for a in again.candidate_pairs(query, 100)])
            kept = again.candidate_pairs(query, 100, query_sketches, _keep_some)
            answers.append([a.tolist() for a in kept])
            held = {
                i: row
                for r in again._runs.values()
                for i, row in zip(r.sketch_items.tolist(), r.sketches_of(r.sketch_items).tolist())
            }
            answers.append(sorted(held.items()))
    assert tables[0] == tables[1] and len({r[0] for r in tables[0]}) < 5  # merged
    assert answers == answers[:3] * 6 and answers[0][0] and answers[1][0] != answers[0][0]
    assert [i for i, _ in answers[2]] == list(range(1, 201))


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 300),
    st.integers(1, 4),
    st.lists(st.integers(0, 10_000), max_size=120),
    st.integers(0, 6),
    st.integers(1, 40),
    st.integers(1, 64),
)
def test_sketch_rows_read_from_disk_are_the_rows_written(n, width, picks, gap, span, piece):
    """Any rows (sorted, repeats too), however they fall in stretches and buffers, and
    sketches written in pieces of any size."""
    rows_written = (np.arange(n * width, dtype=np.uint32) * 2654435761).reshape(n, width)
    spill = index_mod._Spill(n, 2, None)
    saved = index_mod._SKETCH_GAP, index_mod._SKETCH_SPAN
    index_mod._SKETCH_GAP, index_mod._SKETCH_SPAN = gap, span
    try:
        flat = rows_written.ravel()
        spill.put_sketches([flat[i : i + piece] for i in range(0, flat.size, piece)], n)
        want = np.sort(np.array([p % n for p in picks], dtype=np.int64))
        got = spill.sketch_rows(want)
        streamed = np.concatenate([p for p in spill.sketch_stream(n).parts()])
    finally:
        index_mod._SKETCH_GAP, index_mod._SKETCH_SPAN = saved
        spill.close()
    assert got.tolist() == rows_written[want].tolist()
    assert streamed.tobytes() == rows_written.astype("<u4").tobytes()


def test_a_band_whose_blobs_disagree_is_refused(tmp_path):
    store, idx = index(tmp_path)
    _fingerprints(store, [1, 2])
    idx.add([1, 2], np.array([[10, 7], [11, 8]], dtype=np.int64))
    (run,) = idx._runs.values()
    store.conn.execute(
        "UPDATE lsh_runs SET items = items || x'01000000' WHERE run = ? AND band = 0", (run.run,)
    )
    with pytest.raises(sqlite3.DatabaseError, match="band 0 does not hold 2 entries"):
        idx._fill_band(run.run, 0, np.empty(2, dtype=np.uint64))
    store.close()


@pytest.mark.parametrize("order", ["oldest first", "shuffled"])
def test_small_runs_merged_in_memory_are_the_runs_merged_from_the_table(monkeypatch, order):
    """Merges of small runs held in memory read nothing from the table: they write the same
    rows, and hold the same entries and sketches, as merges that read their inputs back."""
    tables, held = [], []
    for limit in (0, index_mod._HELD_MERGE):
        monkeypatch.setattr(index_mod, "_HELD_MERGE", limit)
        conn = sqlite3.connect(":memory:")
        conn.execute(
            "CREATE TABLE lsh_runs (id INTEGER PRIMARY KEY, run, band, token, n, keys, items)"
        )
        idx = SqliteIndex(conn)
        idx.FANOUT = 2
        reads = []
        fill = idx._fill_band
        monkeypatch.setattr(idx, "_fill_band", lambda *a, f=fill, r=reads: r.append(a) or f(*a))
        rng = np.random.default_rng(5)
        batches = [list(range(10 * k + 1, 10 * k + 1 + rng.integers(1, 9))) for k in range(11)]
        if order == "shuffled":
            rng.shuffle(batches)
        for b in batches:
            keys = rng.integers(0, 50, size=(len(b), 3), dtype=np.int64)
            idx.add(b, keys, rng.integers(0, 2**32, size=(len(b), 2), dtype=np.uint32))
        assert bool(reads) == (limit == 0)
        tables.append(
            conn.execute(
                "SELECT run, band, n, keys, items FROM lsh_runs ORDER BY run, band"
            ).fetchall()
        )
        held.append(
            [
                (r.run, r.entries.tolist(), r.sketch_items.tolist(), r.sketches.tolist())
                for r in sorted(idx._runs.values(), key=lambda r: r.run)
            ]
        )
    assert tables[0] == tables[1] and len({row[0] for row in tables[0]}) < 11  # merged
    assert held[0] == held[1]
