"""BLOBs written and read a piece at a time hold the same bytes as BLOBs bound whole."""

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import blobs

needs_handles = pytest.mark.skipif(not blobs.HANDLES, reason="this Python has no blob handles")


def table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, a BLOB, b BLOB)")
    return conn


def reserve(conn: sqlite3.Connection, a: int, b: int) -> int:
    cur = conn.execute("INSERT INTO t (name, a, b) VALUES ('x', zeroblob(?), zeroblob(?))", (a, b))
    return int(cur.lastrowid)


@needs_handles
@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 700),
    st.sampled_from([1, 4, 12, 64, 1 << 22]),
    st.sampled_from(["<u4", "<u8", "u1"]),
    st.booleans(),
)
def test_what_is_written_in_pieces_is_read_back_and_stored_as_its_bytes(n, piece, dtype, lazy):
    saved = blobs.PIECE
    blobs.PIECE = piece
    try:
        values = (np.arange(n, dtype=np.uint64) * 2654435761 % 2**31).astype(dtype)
        conn = table()
        src = blobs.sliced(n, dtype, lambda i, j: values[i:j]) if lazy else values
        half = values[: n // 2]
        rowid = reserve(conn, blobs.size(src), half.nbytes)
        blobs.write(conn, "t", "a", rowid, src)
        blobs.write(conn, "t", "b", rowid, half)
        back = blobs.read(conn, "t", "a", rowid, dtype)
        parts = list(blobs.pieces(conn, "t", "b", rowid, dtype))
        (name, a, b) = conn.execute("SELECT name, a, b FROM t WHERE id = ?", (rowid,)).fetchone()
    finally:
        blobs.PIECE = saved
    assert name == "x"
    assert back.tolist() == values.tolist() and back.flags.writeable
    assert np.concatenate(parts or [np.zeros(0, dtype)]).tolist() == half.tolist()
    assert a == values.tobytes() and b == half.tobytes()
    assert all(p.nbytes <= max(piece, np.dtype(dtype).itemsize) for p in parts)


def test_a_stream_bound_whole_holds_the_bytes_it_makes(monkeypatch):
    monkeypatch.setattr(blobs, "PIECE", 16)
    values = np.arange(100, dtype="<u4")
    stream = blobs.sliced(100, "<u4", lambda i, j: values[i:j])
    assert bytes(blobs.bound(stream, "t.a")) == values.tobytes()
    assert bytes(blobs.bound(values[:3], "t.a")) == values[:3].tobytes()
    monkeypatch.setattr(blobs, "HANDLES", False)
    assert not blobs.large(values)


@needs_handles
def test_a_stream_shorter_than_announced_is_refused(monkeypatch):
    monkeypatch.setattr(blobs, "PIECE", 16)
    short = blobs.Stream(48, lambda: [np.arange(10, dtype="<u4")])
    conn = table()
    rowid = reserve(conn, 48, 0)
    with pytest.raises(ValueError, match=r"t\.a: 40 bytes made, 48 announced"):
        blobs.write(conn, "t", "a", rowid, short)
    with pytest.raises(ValueError, match=r"t\.a: 40 bytes made, 48 announced"):
        blobs.bound(short, "t.a")


def test_a_blob_that_is_not_whole_values_is_refused_with_its_row():
    conn = table()
    conn.execute("INSERT INTO t (id, a) VALUES (7, ?)", (b"12345",))
    with pytest.raises(ValueError, match=r"t\.a row 7: 5 bytes is not whole uint32"):
        blobs.as_array(b"12345", "<u4", "t", "a", 7)
    if blobs.HANDLES:
        with pytest.raises(ValueError, match=r"t\.a row 7: 5 bytes is not whole uint32"):
            blobs.read(conn, "t", "a", 7, "<u4")
        with pytest.raises(ValueError, match="row 7"):
            list(blobs.pieces(conn, "t", "a", 7, "<u4"))
