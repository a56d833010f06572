"""Ingest a benchmark corpus (JSON Lines) in file order and export the found provenance.

usage: python bench/provenance_bench.py CORPUS.jsonl PRED.jsonl [--db PATH] [--batch-size N]

Each input line holds ``id``, ``url``, ``outlet``, ``published`` (ISO 8601; without a time zone
it is read as UTC), ``title`` and ``text``. Lines are ingested in file order (the order a
scraper would deliver them), then every passage is written as one prediction line:
``{"source_id", "target_id", "source_start", "source_end", "target_start", "target_end"}``,
the format the benchmark kit's ``score_provenance.py`` reads. Timings go to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from dedupe import Article, Tracker


def read_corpus(path: str | Path) -> Iterator[Article]:
    """The corpus's articles in file order."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            rec = json.loads(line)
            published = None
            if rec.get("published"):
                published = dt.datetime.fromisoformat(rec["published"])
                if published.tzinfo is None:
                    published = published.replace(tzinfo=dt.timezone.utc)
            yield Article(
                id=str(rec["id"]),
                text=rec["text"],
                url=rec.get("url"),
                outlet=rec.get("outlet"),
                published=published,
                title=rec.get("title"),
            )


def predictions(tracker: Tracker) -> Iterator[dict[str, object]]:
    """One prediction per passage, in the benchmark's link format."""
    for p in tracker.passages():
        yield {
            "source_id": p.source,
            "target_id": p.target,
            "source_start": p.source_start,
            "source_end": p.source_end,
            "target_start": p.target_start,
            "target_end": p.target_end,
        }


def main(argv: list[str] | None = None) -> int:
    """Run the ingest and the export; print timings on stderr."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("pred")
    ap.add_argument("--db", default=":memory:")
    ap.add_argument("--batch-size", type=int, default=500)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with Tracker(args.db) as tracker:
        n = sum(1 for _ in tracker.stream(read_corpus(args.corpus), batch_size=args.batch_size))
        t1 = time.perf_counter()
        prov = tracker.provenance()
        t2 = time.perf_counter()
        with open(args.pred, "w", encoding="utf-8") as out:
            for row in predictions(tracker):
                out.write(json.dumps(row) + "\n")
    print(
        json.dumps(
            {
                "articles": n,
                "chains": len(prov.chains),
                "passages": len(prov.passages),
                "ingest_s": round(t1 - t0, 2),
                "provenance_s": round(t2 - t1, 2),
            }
        ),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
