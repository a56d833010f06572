"""BLOBs written and read a piece at a time hold the same bytes as BLOBs bound whole."""

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import blobs


def table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, a BLOB, b BLOB)")
    return conn


@pytest.fixture(params=["handles", "whole"])
def mode(request, monkeypatch):
    """Through blob handles, and as on Python 3.10 (no handles: bound and selected whole)."""
    if request.param == "handles" and not blobs.HANDLES:
        pytest.skip("this Python has no blob handles")
    monkeypatch.setattr(blobs, "HANDLES", request.param == "handles")
    return request.param


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
        rowid = blobs.insert(conn, "t", {"name": "x", "a": src, "b": values[: n // 2]})
        back = blobs.read(conn, "t", "a", rowid, dtype)
        parts = list(blobs.pieces(conn, "t", "b", rowid, dtype))
        (name, a, b) = conn.execute("SELECT name, a, b FROM t WHERE id = ?", (rowid,)).fetchone()
    finally:
        blobs.PIECE = saved
    assert name == "x"
    assert back.tolist() == values.tolist() and back.flags.writeable
    assert np.concatenate(parts or [np.zeros(0, dtype)]).tolist() == values[: n // 2].tolist()
    assert a == values.tobytes() and b == values[: n // 2].tobytes()


def test_both_ways_store_the_same_row(mode, monkeypatch):
    monkeypatch.setattr(blobs, "PIECE", 16)
    values = np.arange(100, dtype="<u4")
    conn = table()
    rowid = blobs.insert(
        conn, "t", {"a": values, "b": blobs.sliced(3, values.dtype, lambda i, j: values[i:j])}
    )
    assert conn.execute("SELECT a, b FROM t").fetchone() == (
        values.tobytes(),
        values[:3].tobytes(),
    )
    assert blobs.read(conn, "t", "a", rowid, "<u4").tolist() == list(range(100))


def test_a_blob_that_is_not_whole_values_is_refused_with_its_row(mode):
    conn = table()
    conn.execute("INSERT INTO t (id, a) VALUES (7, ?)", (b"12345",))
    with pytest.raises(ValueError, match=r"t\.a row 7: 5 bytes is not whole uint32"):
        blobs.read(conn, "t", "a", 7, "<u4")
    with pytest.raises(ValueError, match="row 7"):
        list(blobs.pieces(conn, "t", "a", 7, "<u4"))


def test_a_stream_shorter_than_announced_is_refused(mode, monkeypatch):
    monkeypatch.setattr(blobs, "PIECE", 16)
    values = np.arange(10, dtype="<u4")
    short = blobs.Stream(48, lambda: [values])
    conn = table()
    with pytest.raises(ValueError, match=r"t\.a: 40 bytes made, 48 announced"):
        blobs.insert(conn, "t", {"a": short})
