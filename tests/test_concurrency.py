"""Several writers on one store at once: processes (the CLI) and threads (one shared Tracker).

Two and four ``dedupe ingest`` processes started together on overlapping inputs must end with
the same store as the same inputs ingested one after the other: no "database is locked" reaches
the user, no article is lost or stored twice, every article has its segments once, and the
carrier counts (how many articles of each outlet carry each text) are those of the sequential
run. Writers serialize on ``BEGIN IMMEDIATE``, so two processes storing the same article or
the same new fingerprint at the same moment cannot both insert it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
import synth
from conftest import corpus, dump
from harness import check_whole, command, dedupe, env, snapshot

from dedupe import Article, Tracker

BATCH = 20


def _records(n: int, seed: int) -> list[dict]:
    """A corpus without re-sends under another id: which of two equal texts is stored would
    depend on which process came first, a legitimate difference this test does not judge."""
    return [r for r in synth.corpus(n, seed) if "-again" not in r["id"] and "-copy" not in r["id"]]


def _inputs(tmp: Path, records: list[dict], writers: int) -> list[Path]:
    """One input per writer: overlapping windows of the records, so every writer stores some
    articles that another writer stores at the same time."""
    n = len(records)
    size = 2 * n // (writers + 1)
    step = (n - size) // (writers - 1)
    paths = []
    for k in range(writers):
        part = records[k * step : k * step + size] if k < writers - 1 else records[-size:]
        paths.append(synth.write_jsonl(tmp / f"part-{writers}-{k}.jsonl", part))
    return paths


def _ingest_at_once(db: Path, inputs: list[Path]) -> list[subprocess.CompletedProcess]:
    """Start one ingest process per input together and wait for all of them."""
    procs = [
        subprocess.Popen(
            command("ingest", "--db", str(db), "--batch-size", str(BATCH), "--silent", str(p)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env(),
        )
        for p in inputs
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def _content(db: Path) -> dict[str, list]:
    """What must not depend on who wrote first: articles, segments, fingerprints, near pairs
    (by fingerprint key) and carriers (stored verdicts may lag until an article is re-read)."""
    snap = snapshot(db, other_tables=False)
    return {
        # which input file an article came from, and its arrival number, depend on who won
        "articles": [a[:6] + a[7:10] for a in snap["articles"]],
        "segments": [s[:8] for s in snap["segments"]],
        "fingerprints": snap["fingerprints"],
        "signatures": snap["signatures"],
        "near": snap["near"],
        "carriers": snap["carriers"],
    }


def _cleaned(db: Path) -> list[dict]:
    """``dedupe clean`` output without ``source`` (the input file that won the race)."""
    out = [json.loads(x) for x in dedupe("clean", "--db", str(db)).stdout.splitlines()]
    for d in out:
        del d["source"]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("writers", [2, 4])
def test_processes_ingesting_overlapping_inputs_at_once(tmp_path: Path, writers: int) -> None:
    records = _records(900, 21 + writers)
    inputs = _inputs(tmp_path, records, writers)
    seq_db, db = tmp_path / "sequential.db", tmp_path / "together.db"
    for p in inputs:
        dedupe("ingest", "--db", str(seq_db), "--batch-size", str(BATCH), "--silent", str(p))
    runs = _ingest_at_once(db, inputs)
    errors = [r.stderr.decode("utf-8", "replace") for r in runs if r.returncode != 0]
    assert errors == []
    for r in runs:
        err = r.stderr.decode("utf-8", "replace")
        assert "locked" not in err and "Traceback" not in err, err
    check_whole(db)
    conn = sqlite3.connect(db)
    try:
        ids = [row[0] for row in conn.execute("SELECT id FROM articles")]
        per_article = dict(conn.execute("SELECT article, COUNT(*) FROM segments GROUP BY article"))
        dupe_keys = conn.execute(
            "SELECT COUNT(*) FROM (SELECT key FROM fingerprints GROUP BY key HAVING COUNT(*) > 1)"
        ).fetchone()[0]
    finally:
        conn.close()
    assert len(ids) == len(set(ids)) == len({r["id"] for r in records})
    assert dupe_keys == 0
    assert _content(db) == _content(seq_db)
    with sqlite3.connect(seq_db) as ref:
        assert per_article == dict(
            ref.execute("SELECT article, COUNT(*) FROM segments GROUP BY article")
        )
    ref.close()
    # Verdicts are judged from the store as it is now: the same whoever wrote first.
    assert _cleaned(db) == _cleaned(seq_db)
    print(
        f"\nconcurrency: {writers} processes, {sum(len(p.read_text().splitlines()) for p in inputs)}"
        f" records ({len(ids)} distinct articles): 0 'database is locked' errors surfaced,"
        " 0 lost or duplicate rows, integrity ok"
    )


@pytest.mark.slow
def test_the_same_articles_stored_by_two_processes_at_once(tmp_path: Path) -> None:
    records = _records(300, 5)
    src = synth.write_jsonl(tmp_path / "same.jsonl", records)
    db = tmp_path / "same.db"
    runs = _ingest_at_once(db, [src, src, src])
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr for r in runs]
    added = [int(r.stderr.split(b" articles added")[0].split()[-1]) for r in runs]
    distinct = len({r["id"] for r in records})
    assert sum(added) == distinct  # each article stored by exactly one of them
    check_whole(db)
    ref = tmp_path / "ref.db"
    dedupe("ingest", "--db", str(ref), "--batch-size", str(BATCH), "--silent", str(src))
    assert _content(db) == _content(ref)


def test_threads_sharing_one_tracker(tmp_path: Path) -> None:
    arts = [Article.from_dict(r) for r in _records(160, 8)]
    arts += corpus()
    with Tracker(tmp_path / "seq.db") as t:
        t.add_many(arts, batch_size=7)
        expected = dump(t.results())
    failures: list[BaseException] = []
    with Tracker(tmp_path / "threads.db") as t:

        def work(k: int) -> None:
            try:
                mine = arts[k::4] + arts[: len(arts) // 3]  # overlapping shares
                for a in mine:
                    t.add(a)
                    if k == 0:
                        t.stats()
                t.result(mine[0].id)
            except BaseException as e:  # report every failure, not only the first
                failures.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert failures == []
        assert t.store.count_articles() == len({a.id for a in arts})
        assert dump(t.results()) == expected
