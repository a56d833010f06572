"""kill -9 in the middle of `dedupe ingest`, again and again: the store stays whole and, once
the same command has been re-run to the end, equals the store of a run never interrupted.

The input is a generated corpus with furniture, repeats, cross-outlet copies, re-sent records
and a malformed line now and then (``--skip-bad`` quarantines it). For each seed a real
``python -m dedupe ingest`` subprocess is SIGKILLed at random moments (at least KILLS times),
then re-run until it finishes. After every kill the store must pass ``PRAGMA integrity_check``
and ``foreign_key_check`` and hold exactly the articles of the input records its resume cursor
says are done. At the end every table (fingerprint ids replaced by their keys, run ids left
out; quarantined records included, so none is kept twice) and the ``dedupe clean`` output,
byte for byte, must equal those of an uninterrupted run.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import synth
from click.testing import CliRunner
from harness import check_whole, command, dedupe, env, snapshot

from dedupe.cli import cli

ARTICLES = 2000
KILLS = 20
SEEDS = (1, 2, 3, 4, 5)
BATCH = 25


def ingest_args(db: Path, src: Path) -> list[str]:
    return [
        "ingest",
        "--db",
        str(db),
        "--batch-size",
        str(BATCH),
        "--silent",
        "--skip-bad",
        str(src),
    ]


def committed(db: Path) -> tuple[int, set[str]]:
    """(records the furthest run committed, article ids stored)."""
    conn = sqlite3.connect(db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "articles" not in tables:
            return 0, set()
        ids = {r[0] for r in conn.execute("SELECT id FROM articles")}
        cols = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
        if "cursor" not in cols:
            return 0, ids
        # every run of one store reads the same input: the furthest cursor, finished or not
        # (a kill can land after the last batch, even after the run is marked finished)
        (cursor,) = conn.execute("SELECT COALESCE(MAX(cursor), 0) FROM runs").fetchone()
        return int(cursor), ids
    finally:
        conn.close()


def startup_seconds() -> float:
    """How long the command takes to start (imports): early kills land inside it."""
    t = time.monotonic()
    dedupe("--version")
    return time.monotonic() - t


def cursor_now(db: Path) -> int:
    """The furthest committed cursor of an unfinished run, read while the writer runs (WAL
    readers never block it); -1 while the store or its tables do not exist yet."""
    if not db.exists():
        return -1
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT MAX(cursor) FROM runs WHERE finished_at IS NULL").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return -1
    return int(row[0]) if row and row[0] is not None else -1


def kill_point(proc: subprocess.Popen, db: Path, rng: random.Random, startup: float) -> bool:
    """Wait for a random point of the ingest and SIGKILL it there; False if it ended first.

    One kill in five lands at a random moment of start-up (imports, opening and migrating the
    store, starting the run); the others after 1-3 more batches committed, plus a random
    delay, so most land inside a batch's transaction."""
    if rng.random() < 0.2:
        try:
            proc.wait(timeout=rng.uniform(0.0, startup * 1.5))
            return False
        except subprocess.TimeoutExpired:
            pass
    else:
        base = cursor_now(db)
        target = max(base, 0) + rng.randint(1, 3) * BATCH
        while cursor_now(db) < target:
            if proc.poll() is not None:
                return False
            time.sleep(0.01)
        try:
            proc.wait(timeout=rng.uniform(0.0, 0.3))
            return False
        except subprocess.TimeoutExpired:
            pass
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return True


def write_input(path: Path, records: list[dict[str, Any]]) -> list[str | None]:
    """The records as JSON Lines with a malformed line every 97 (quarantined by --skip-bad);
    returns the id of each input record in order, None for the bad ones."""
    bad = [b'{"id": "cut-short", "text": ', b"\xff\xfe not UTF-8", b'{"id": "no-text"}']
    ids: list[str | None] = []
    with open(path, "wb") as fh:
        for i, r in enumerate(records):
            if i % 97 == 50:
                fh.write(bad[i % len(bad)] + b"\n")
                ids.append(None)
            fh.write(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n")
            ids.append(r["id"])
    return ids


def assert_same(got: dict[str, list[Any]], want: dict[str, list[Any]], where: str) -> None:
    """The two snapshots are equal; if not, name the tables that differ and a few rows of
    each side (a whole-store diff is too long to read)."""
    if got == want:
        return
    lines = [f"{where}: resumed store differs from the reference"]
    for table in sorted(set(got) | set(want)):
        g, w = got.get(table, []), want.get(table, [])
        if g == w:
            continue
        only_g = [r for r in g if r not in w][:3]
        only_w = [r for r in w if r not in g][:3]
        lines.append(f"  {table}: {len(g)} rows resumed, {len(w)} in the reference")
        lines.extend(f"    resumed only: {r!r:.300}" for r in only_g)
        lines.extend(f"    reference only: {r!r:.300}" for r in only_w)
    raise AssertionError("\n".join(lines))


def kill_series(
    seed: int, tmp: Path, startup: float, src: Path, ids: list[str | None], ref_db: Path
) -> dict[str, Any]:
    """Kill an ingest of ``src`` at random points (``seed``) and resume it to the end, on a
    new store each pass until KILLS kills are done; after each pass compare the store with
    the uninterrupted one. Returns the figures."""
    reference = snapshot(ref_db)
    ref_out = dedupe("clean", "--db", str(ref_db)).stdout
    ref_ids = {a[0] for a in reference["articles"]}
    rng = random.Random(seed)
    kills = advanced = passes = 0
    started = time.monotonic()
    while kills < KILLS:
        passes += 1
        db = tmp / f"killed-{seed}-{passes}.db"
        last_cursor = 0
        while True:
            proc = subprocess.Popen(
                command(*ingest_args(db, src)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env(),
            )
            if kills < KILLS and kill_point(proc, db, rng, startup):
                kills += 1
                if db.exists():
                    check_whole(db)
                    cursor, stored = committed(db)
                    # The cursor commits with its batch: exactly the articles of the
                    # records before it are stored, none after it.
                    want = set(ids[:cursor]) & ref_ids
                    assert stored == want, f"seed {seed}: cursor {cursor} and store disagree"
                    advanced += cursor > last_cursor
                    last_cursor = cursor
                continue
            _, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err.decode("utf-8", "replace")
            break
        check_whole(db)
        assert_same(snapshot(db), reference, f"seed {seed}, pass {passes}")
        out = dedupe("clean", "--db", str(db)).stdout
        assert out == ref_out, f"seed {seed}: clean output differs"
    return {
        "seed": seed,
        "kills": kills,
        "kills_after_progress": advanced,
        "passes": passes,
        "seconds": round(time.monotonic() - started, 1),
    }


@pytest.mark.slow
def test_kill_9_mid_ingest_then_resume_gives_the_uninterrupted_store(tmp_path: Path) -> None:
    startup = startup_seconds()
    src = tmp_path / "input.jsonl"
    ids = write_input(src, synth.corpus(ARTICLES, 0))
    ref_db = tmp_path / "reference.db"
    dedupe(*ingest_args(ref_db, src))
    with sqlite3.connect(ref_db) as conn:
        rejected = conn.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
        stored = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    conn.close()
    assert rejected == ids.count(None) > 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        figures = list(
            pool.map(lambda s: kill_series(s, tmp_path, startup, src, ids, ref_db), SEEDS)
        )
    for f in figures:
        assert f["kills"] >= KILLS
    total = sum(f["kills"] for f in figures)
    # Most kills must land while the store fills, or the test proves little.
    assert sum(f["kills_after_progress"] for f in figures) >= len(figures) * KILLS // 2
    print(
        f"\ncrash: {len(ids)} input records ({stored} articles stored, {rejected} quarantined):"
        f" {total} kills over {len(SEEDS)} seeds, 0 failed integrity/foreign-key checks,"
        " 0 cursor/article mismatches, every table and the clean output equal to an"
        f" uninterrupted run in {sum(f['passes'] for f in figures)}/"
        f"{sum(f['passes'] for f in figures)} resumed runs ({len(SEEDS)}/{len(SEEDS)} seeds)"
    )
    print(json.dumps(figures))


def test_an_interrupted_run_is_resumed_after_its_cursor(tmp_path: Path) -> None:
    src = synth.write_jsonl(tmp_path / "in.jsonl", synth.corpus(60, 4))
    db = tmp_path / "s.db"
    args = ["ingest", "--db", str(db), "--batch-size", "10", str(src)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    with sqlite3.connect(db) as conn:
        (run, cursor, added) = conn.execute(
            "SELECT id, cursor, articles_added FROM runs"
        ).fetchone()
        assert cursor == 60
        conn.execute("UPDATE runs SET finished_at = NULL, cursor = 30")  # as if killed there
    conn.close()
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "resumed after 30 records" in r.stderr
    assert "0 articles added, 30 already known" in r.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT cursor, finished_at IS NOT NULL FROM runs ORDER BY id"
        ).fetchall()
    conn.close()
    assert rows == [(30, 0), (60, 1)]
    # Finished now: the next run reads everything again, and finds it all known.
    r = CliRunner().invoke(cli, args)
    assert "resumed" not in r.stderr and "0 articles added" in r.stderr


def test_a_changed_input_is_never_resumed(tmp_path: Path) -> None:
    src = synth.write_jsonl(tmp_path / "in.jsonl", synth.corpus(60, 9))
    db = tmp_path / "s.db"
    args = ["ingest", "--db", str(db), "--batch-size", "10", str(src)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET finished_at = NULL, cursor = 50")
    conn.close()
    more = synth.corpus(70, 9)  # the same 60 records first, then 10 more
    synth.write_jsonl(src, more)
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0 and "resumed" not in r.stderr
    with sqlite3.connect(db) as conn:
        ids = {row[0] for row in conn.execute("SELECT id FROM articles")}
    conn.close()
    assert {x["id"] for x in more if "-again" not in x["id"] and "-copy" not in x["id"]} == ids


def test_a_failed_run_stays_resumable_at_its_last_committed_batch(tmp_path: Path) -> None:
    recs = synth.corpus(40, 6)
    src = tmp_path / "in.jsonl"
    lines = [json.dumps(r) for r in recs]
    lines.insert(34, '{"id": "broken", "text": ')  # line 35
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "s.db"
    args = ["ingest", "--db", str(db), "--batch-size", "10", str(src)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1 and f"{src}, line 35: invalid JSON" in r.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT cursor, finished_at FROM runs").fetchall() == [(30, None)]
    conn.close()
    r = CliRunner().invoke(cli, args)
    assert "resumed after 30 records" in r.stderr
    assert r.exit_code == 1 and f"{src}, line 35: invalid JSON" in r.stderr
