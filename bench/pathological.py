"""Time and peak memory of dedupe on pathological inputs, one fresh process per case.

usage: python bench/pathological.py [CASE ...] [--json]

Cases (all by default):

  reject-50mb        a 50 MB article: Tracker.add refuses it at MAX_ARTICLE_CHARS, and the
                     reader reports it (file, line) before any of it is parsed
  under-cap-prose    prose just under MAX_ARTICLE_CHARS (sentences of 8-16 words), stored
  under-cap-nopunct  just under the cap without punctuation (cut at MAX_SEGMENT_CHARS), stored
  under-cap-repeat   one sentence repeated up to the cap, stored: one fingerprint
  million-repeats    one sentence repeated 1,000,000 times (49 MB, over the article cap):
                     segmenting and exact keys only; the repeats collapse to one key
  nopunct-1mb        1 MB without punctuation, stored: every segment within the cap
  hot-bucket         2,000 articles of one outlet sharing a furniture line that varies in one
                     made-up word (a near duplicate each time): candidates per LSH query stay within
                     Params.max_candidates; seconds per article early and late
  regex              1 MB inputs that hurt backtracking regexes, through segment + normalize

Figures are printed, not asserted (tests/test_pathological.py asserts the behaviour).
Peak RSS is the child's ``ru_maxrss``; "base" is the RSS after imports.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORDS = (
    "council budget harbour ferry bridge school district mayor governor police station river "
    "flood storm power market price wage union strike hospital nurse doctor court judge vote"
).split()
SENTENCE = "The committee met again on Tuesday to discuss the harbour budget. "


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prose(chars: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    n = 0
    while True:
        s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + ". "
        if n + len(s) > chars:
            return "".join(parts)
        parts.append(s)
        n += len(s)


def _words(chars: int, seed: int = 2) -> str:
    rng = random.Random(seed)
    out = " ".join(rng.choice(WORDS) for _ in range(chars // 5 + 10))
    return out[:chars].rstrip()


def _store(text: str) -> dict[str, Any]:
    """Ingest one article into a fresh store file; what was stored and how long it took."""
    import sqlite3
    import tempfile

    from dedupe import Article, Tracker

    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "s.db"
        t0 = time.perf_counter()
        with Tracker(db, workers=0) as t:
            r = t.add(Article("big", text))
        secs = time.perf_counter() - t0
        conn = sqlite3.connect(db)
        segs, longest = conn.execute('SELECT COUNT(*), MAX("end" - start) FROM segments').fetchone()
        fps = conn.execute("SELECT COUNT(*) FROM fingerprints").fetchone()[0]
        conn.close()
    return {
        "chars": len(text),
        "seconds": round(secs, 2),
        "segments": segs,
        "longest_segment": longest,
        "fingerprints": fps,
        "cut": sum(1 for c in r.removed),
    }


def case_reject_50mb() -> dict[str, Any]:
    import tempfile

    from dedupe import Article, Tracker
    from dedupe.readers import BadRecord, read_inputs
    from dedupe.tracker import MAX_ARTICLE_CHARS

    text = _words(50_000_000)
    t0 = time.perf_counter()
    with Tracker(":memory:", workers=0) as t:
        try:
            t.add(Article("huge", text))
            refused = None
        except ValueError as e:
            refused = str(e)
    tracker_secs = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "huge.jsonl"
        p.write_text(json.dumps({"id": "huge", "text": text}) + "\n", encoding="utf-8")
        del text
        t0 = time.perf_counter()
        out = list(read_inputs([str(p)], max_chars=MAX_ARTICLE_CHARS))
        reader_secs = time.perf_counter() - t0
        t0 = time.perf_counter()
        lifted = list(read_inputs([str(p)], max_bytes=60_000_000, max_chars=MAX_ARTICLE_CHARS))
        lifted_secs = time.perf_counter() - t0
    return {
        "cap_chars": MAX_ARTICLE_CHARS,
        "tracker": refused,
        "tracker_seconds": round(tracker_secs, 2),
        "reader": [str(o) for o in out if isinstance(o, BadRecord)],
        "reader_seconds": round(reader_secs, 2),
        "reader_max_bytes_lifted": [str(o)[-70:] for o in lifted if isinstance(o, BadRecord)],
        "reader_max_bytes_lifted_seconds": round(lifted_secs, 2),
    }


def case_under_cap_prose() -> dict[str, Any]:
    from dedupe.tracker import MAX_ARTICLE_CHARS

    return _store(_prose(MAX_ARTICLE_CHARS - 100))


def case_under_cap_nopunct() -> dict[str, Any]:
    from dedupe.tracker import MAX_ARTICLE_CHARS

    return _store(_words(MAX_ARTICLE_CHARS - 100))


def case_under_cap_repeat() -> dict[str, Any]:
    from dedupe.tracker import MAX_ARTICLE_CHARS

    return _store(SENTENCE * ((MAX_ARTICLE_CHARS - 100) // len(SENTENCE)))


def case_million_repeats() -> dict[str, Any]:
    from dedupe import fingerprint
    from dedupe.segment import normalize, segment

    text = SENTENCE * 1_000_000
    t0 = time.perf_counter()
    segs = segment(text)
    t1 = time.perf_counter()
    keys = {fingerprint.exact_key(normalize(g.text_of(text))) for g in segs}
    t2 = time.perf_counter()
    return {
        "chars": len(text),
        "segments": len(segs),
        "distinct_keys": len(keys),
        "segment_seconds": round(t1 - t0, 2),
        "keys_seconds": round(t2 - t1, 2),
    }


def case_nopunct_1mb() -> dict[str, Any]:
    return _store(_words(1_000_000))


def case_hot_bucket() -> dict[str, Any]:
    import datetime as dt

    import numpy as np

    from dedupe import Article, Tracker

    n = 2000
    rng = random.Random(3)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    seen: list[int] = []
    times: list[float] = []
    with Tracker(":memory:", workers=0) as t:
        cap = t.params.max_candidates
        query = t.index.candidate_pairs

        def counted(keys: Any, limit: int, *args: Any, **kw: Any) -> Any:
            rows, items = query(keys, limit, *args, **kw)
            if len(rows):
                seen.append(int(np.bincount(rows).max()))  # candidates of the busiest query
            return rows, items

        t.index.candidate_pairs = counted  # type: ignore[method-assign]
        for i in range(n):
            own = " ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "."
            name = "".join(chr(97 + (i // 26**k) % 26) for k in range(3))
            line = (
                f"The Harbour Gazette newsroom takes your calls at the city desk, ask for {name}."
            )
            t0 = time.perf_counter()
            t.add(
                Article(
                    f"a{i}",
                    own + "\n" + line,
                    outlet="gazette.example",
                    published=base + dt.timedelta(hours=i),
                )
            )
            times.append(time.perf_counter() - t0)
        stats = t.stats()
    return {
        "articles": n,
        "max_candidates_param": cap,
        "largest_candidate_list": max(seen),
        "index_calls": len(seen),
        "near_pairs": stats["near_pairs"],
        "boilerplate_segments": stats["segments"].get("boilerplate", {}).get("segments", 0),
        "ms_per_article_first_200": round(1000 * sum(times[:200]) / 200, 1),
        "ms_per_article_last_200": round(1000 * sum(times[-200:]) / 200, 1),
    }


def case_regex() -> dict[str, Any]:
    from dedupe.segment import normalize, segment

    inputs = {
        "a*1M": "a" * 1_000_000,
        "dots": ". " * 500_000,
        "dots-run": "." * 1_000_000,
        "quotes": '"' * 500_000 + ". A" + "'" * 500_000,
        "brackets": "[" * 1_000_000,
        "md-links": "[a](" * 250_000,
        "abbrev": "Dr. " * 250_000,
        "ellipsis": "... a " * 160_000,
    }
    out: dict[str, Any] = {}
    for name, text in inputs.items():
        t0 = time.perf_counter()
        segs = segment(text)
        for g in segs:
            normalize(g.text_of(text))
        out[name] = round(time.perf_counter() - t0, 2)
    return {"seconds": out}


CASES = {
    "reject-50mb": case_reject_50mb,
    "under-cap-prose": case_under_cap_prose,
    "under-cap-nopunct": case_under_cap_nopunct,
    "under-cap-repeat": case_under_cap_repeat,
    "million-repeats": case_million_repeats,
    "nopunct-1mb": case_nopunct_1mb,
    "hot-bucket": case_hot_bucket,
    "regex": case_regex,
}


def _child(name: str) -> None:
    import dedupe  # noqa: F401  (imports are not part of the figures)

    base = _rss_mb()
    t0 = time.perf_counter()
    c0 = time.process_time()
    figures = CASES[name]()
    figures.update(
        wall_seconds=round(time.perf_counter() - t0, 2),
        cpu_seconds=round(time.process_time() - c0, 2),
        peak_rss_mb=round(_rss_mb()),
        base_rss_mb=round(base),
    )
    print(json.dumps(figures))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        _child(argv[1])
        return 0
    as_json = "--json" in argv
    names = [a for a in argv if not a.startswith("--")] or list(CASES)
    for name in names:
        if name not in CASES:
            print(f"unknown case {name!r}; cases: {', '.join(CASES)}", file=sys.stderr)
            return 2
    results: dict[str, Any] = {}
    for name in names:
        p = subprocess.run(
            [sys.executable, __file__, "--child", name],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        if p.returncode != 0:
            results[name] = {"error": p.stderr.strip().splitlines()[-1:]}
        else:
            results[name] = json.loads(p.stdout.strip().splitlines()[-1])
        if not as_json:
            print(f"{name}: {json.dumps(results[name])}", flush=True)
    if as_json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
