"""Text quality of HTML input against hand-cleaned gold text: extraction alone, then extraction
followed by dedupe's cleaning (furniture that recurs across an outlet's pages stripped).

usage: python bench/html_quality.py [DATA_DIR] [--json]

DATA_DIR holds CleanPortalEval (default /work/shared/data/cleanportaleval): ``input/*.html.gz``
pages and ``GoldStandard/*.txt.gz`` gold text in CleanEval format (a ``URL:`` line, then
blocks opened by ``<p>``, ``<h>`` or ``<l>``). Pages are read by dedupe's own reader (the
``html`` extra), with each page's URL from its gold file given as ``--meta`` would, so that
pages of one portal count as one outlet.

Scores are bag-of-words precision, recall and F1 of lower-cased word tokens against the
gold text: per portal and over all pages (micro: summed over pages). Needs the html extra.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from dedupe import Article, Tracker
from dedupe.readers import BadRecord, Skipped, read_inputs

DEFAULT_DATA = Path("/work/shared/data/cleanportaleval")
_TOKEN = re.compile(r"\w+")
_MARKER = re.compile(r"^\s*<[phl]>\s*", re.M)


def tokens(text: str) -> Counter[str]:
    """Lower-cased word tokens of a text, with their counts."""
    return Counter(t.lower() for t in _TOKEN.findall(text))


def gold(path: Path) -> tuple[str | None, str]:
    """A gold file's URL and its text without the block markers."""
    raw = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
    url = None
    lines = raw.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("URL:"):
            url = line[4:].strip() or None
            lines = lines[:i] + lines[i + 1 :]
            break
    return url, html.unescape(_MARKER.sub("", "\n".join(lines)))


def portal(page_id: str) -> str:
    """The portal a page belongs to, from its file name ("bbc.co.uk_news_01" -> "bbc.co.uk")."""
    return page_id.split("_", 1)[0]


class Score:
    """Summed token overlap of predictions with gold text."""

    def __init__(self) -> None:
        self.common = self.predicted = self.gold = 0
        self.pages = 0

    def add(self, predicted: Counter[str], truth: Counter[str]) -> None:
        self.common += sum((predicted & truth).values())
        self.predicted += sum(predicted.values())
        self.gold += sum(truth.values())
        self.pages += 1

    def as_dict(self) -> dict[str, float | int]:
        p = self.common / self.predicted if self.predicted else 0.0
        r = self.common / self.gold if self.gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"pages": self.pages, "precision": p, "recall": r, "f1": f}


def read_pages(data: Path, urls: dict[str, str]) -> tuple[list[Article], list[str]]:
    """The pages as articles through dedupe's reader, and a note per page left out."""
    with tempfile.TemporaryDirectory() as tmp:
        meta = Path(tmp) / "urls.jsonl"
        meta.write_text(
            "".join(json.dumps({"id": i, "url": u}) + "\n" for i, u in sorted(urls.items())),
            encoding="utf-8",
        )
        out: list[Article] = []
        notes: list[str] = []
        for item in read_inputs([str(data / "input")], meta=str(meta)):
            if isinstance(item, Article):
                out.append(item)
            elif isinstance(item, (BadRecord, Skipped)):
                notes.append(str(item))
        return out, notes


def score(
    texts: dict[str, str], truth: dict[str, Counter[str]], ids: Iterable[str]
) -> dict[str, dict[str, float | int]]:
    """Scores per portal and over all pages ("all"); a page with no text scores as empty."""
    per: dict[str, Score] = {}
    total = Score()
    for i in sorted(ids):
        predicted = tokens(texts.get(i, ""))
        per.setdefault(portal(i), Score()).add(predicted, truth[i])
        total.add(predicted, truth[i])
    return {**{k: v.as_dict() for k, v in sorted(per.items())}, "all": total.as_dict()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = ap.parse_args(argv)

    urls: dict[str, str] = {}
    truth: dict[str, Counter[str]] = {}
    for path in sorted((args.data / "GoldStandard").glob("*.txt.gz")):
        page_id = path.name.removesuffix(".txt.gz")
        url, text = gold(path)
        truth[page_id] = tokens(text)
        if url:
            urls[page_id] = url

    t0 = time.perf_counter()
    articles, notes = read_pages(args.data, urls)
    t1 = time.perf_counter()
    extracted = {a.id: a.text for a in articles}
    with Tracker(":memory:") as tracker:
        tracker.add_many(articles)
        cleaned = {r.article.id: r.text for r in tracker.results()}
    t2 = time.perf_counter()

    results = {
        "extraction": score(extracted, truth, truth),
        "extraction+dedupe": score(cleaned, truth, truth),
    }
    for note in notes:
        print(f"left out: {note}", file=sys.stderr)
    print(
        f"{len(articles)} of {len(truth)} pages extracted in {t1 - t0:.1f}s, cleaned in"
        f" {t2 - t1:.1f}s",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
        return 0
    print(f"{'portal':<20} {'pages':>5}  {'condition':<18} {'P':>6} {'R':>6} {'F1':>6}")
    for name in results["extraction"]:
        for condition, table in results.items():
            s = table[name]
            print(
                f"{name:<20} {s['pages']:>5}  {condition:<18} {s['precision']:>6.3f}"
                f" {s['recall']:>6.3f} {s['f1']:>6.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
