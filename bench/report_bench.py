"""Build a synthetic corpus through the Tracker, render the report, print its size and time.

usage: python bench/report_bench.py [--articles 1000 10000] [--out DIR] [--seed 1]

Each article: a byline, six to ten body paragraphs of made-up sentences, and its outlet's
closing furniture; about one article in six copies one to three paragraphs of an earlier
article of another outlet. Prints one JSON line per size: ingest, provenance and render
seconds, files written and bytes (main page and total).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from dedupe import Article, Tracker
from dedupe.report import write_report

WORDS = (
    "council budget river bridge harbour market school minister police court farmers storm"
    " election hospital union strike airport railway factory museum festival mayor village"
    " energy water price tax report survey company bank shares profit loss export import"
    " season team coach league match record weather border shelter bus station city state"
    " night morning week month year plan project study data official agency office street"
).split()
VERBS = "said announced warned reported confirmed denied expected approved rejected delayed".split()


def sentence(rng: random.Random) -> str:
    """A made-up news sentence, unlikely to repeat by chance."""
    w = [rng.choice(WORDS) for _ in range(rng.randint(9, 18))]
    return (
        f"The {w[0]} {w[1]} {rng.choice(VERBS)} on {rng.choice(['Monday', 'Tuesday', 'Friday'])}"
        f" that {' '.join(w[2:])} would cost {rng.randint(2, 999)} million."
    )


def corpus(n: int, seed: int = 1) -> Iterator[Article]:
    """``n`` articles from ``max(8, n // 100)`` outlets, in publication order."""
    rng = random.Random(seed)
    outlets = [f"outlet{i:03d}.example" for i in range(max(8, min(60, n // 100)))]
    furniture = {
        o: [
            f"Subscribe to the {o} morning briefing for the day's top stories in your inbox.",
            f"Copyright {o} media group, all rights reserved, no reproduction without consent.",
        ]
        for o in outlets
    }
    bodies: list[list[str]] = []
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(n):
        outlet = outlets[rng.randrange(len(outlets))]
        paras = [
            " ".join(sentence(rng) for _ in range(rng.randint(1, 2)))
            for _ in range(rng.randint(6, 10))
        ]
        if bodies and rng.random() < 0.17:
            src = bodies[rng.randrange(max(0, len(bodies) - 500), len(bodies))]
            k = rng.randint(1, min(3, len(src)))
            at = rng.randrange(len(src) - k + 1)
            paras[1:1] = src[at : at + k]
        bodies.append(paras)
        text = "\n\n".join(
            [f"By Staff Writer {rng.randint(1, 40)} | {outlet}", *paras, *furniture[outlet]]
        )
        yield Article(
            f"art{i:06d}",
            text,
            url=f"https://{outlet}/news/{i}",
            outlet=outlet,
            published=start + dt.timedelta(minutes=37 * i),
            title=f"Story {i}: {paras[0][:60]}",
        )


def run(n: int, out_dir: Path, seed: int) -> dict[str, object]:
    """Ingest ``n`` articles into a fresh store, then write the report; the measurements."""
    out_dir.mkdir(parents=True, exist_ok=True)
    db = out_dir / f"bench_{n}.db"
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with Tracker(db) as tracker:
        for _ in tracker.stream(corpus(n, seed)):
            pass
        t1 = time.perf_counter()
        prov = tracker.provenance()
        t2 = time.perf_counter()
        info = write_report(tracker, out_dir / f"report_{n}.html")
        t3 = time.perf_counter()
    main = (out_dir / f"report_{n}.html").stat().st_size
    return {
        "articles": n,
        "chains": len(prov.chains),
        "passages": len(prov.passages),
        "ingest_s": round(t1 - t0, 1),
        "provenance_s": round(t2 - t1, 1),
        "render_s": round(t3 - t2, 1),
        "files": info.files,
        "main_bytes": main,
        "total_bytes": info.bytes,
        "split": info.split,
    }


def main(argv: list[str] | None = None) -> int:
    """Run each size and print one JSON line per size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--out", default="/tmp/dedupe-report-bench")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    for n in args.articles:
        print(json.dumps(run(n, Path(args.out), args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
