"""LSH candidate search over MinHash band keys, kept on disk in the store's ``lsh`` table.

The interface is two calls, ``add`` and ``candidates``, so another backend (a shared server,
an in-memory array index) can replace this one without touching the rest. Nothing is loaded
at open: a query reads the rows of its band keys through the table's primary key, so opening
a large store costs nothing and adding an article costs in proportion to its segments.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Index(Protocol):
    """What the tracker needs from an LSH index."""

    def add(self, items: Sequence[int], keys: np.ndarray) -> None:
        """Register ``items[i]`` under the band keys ``keys[i]``."""

    def candidates(self, keys: np.ndarray, cap: int) -> list[list[int]]:
        """Items sharing at least one band key with each row of ``keys``, at most ``cap`` each,
        smallest ids first (so the choice under the cap never depends on arrival order)."""


class SqliteIndex:
    """Band keys in an SQLite table ``lsh(key, fingerprint)``, primary key on both."""

    #: Rows read per band key at most: a hot bucket (a line in every article) is capped.
    BUCKET_CAP = 200

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, items: Sequence[int], keys: np.ndarray) -> None:
        rows = [(int(k), int(item)) for item, row in zip(items, keys.tolist()) for k in set(row)]
        self.conn.executemany("INSERT OR IGNORE INTO lsh (key, fingerprint) VALUES (?, ?)", rows)

    def candidates(self, keys: np.ndarray, cap: int) -> list[list[int]]:
        out: list[list[int]] = []
        for row in keys.tolist():
            found: set[int] = set()
            uniq = sorted(set(row))
            marks = ",".join("?" * len(uniq))
            # One statement per segment: each band key is a primary-key range scan.
            for (fp,) in self.conn.execute(
                "SELECT DISTINCT fingerprint FROM lsh WHERE key IN (" + marks + ")"
                " ORDER BY fingerprint LIMIT ?",
                [*uniq, cap],
            ):
                found.add(int(fp))
            out.append(sorted(found))
        return out
