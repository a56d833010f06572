"""Text quality of HTML input against hand-cleaned gold text, with and without dedupe's cleaning
(furniture that recurs across an outlet's pages, repeats and known widgets stripped).

Four conditions: ``extraction`` (trafilatura through dedupe's HTML reader), the same cleaned
by dedupe, and, to show what cross-page recurrence alone does, ``page text`` (every text block
of the page, navigation and footers included, no extractor) and the same cleaned by dedupe.

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
import dataclasses
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
_BLOCKS = frozenset(
    "address article aside blockquote br dd div dl dt footer form h1 h2 h3 h4 h5 h6 header"
    " li main nav ol p pre section table td th title tr ul".split()
)


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


def page_text(raw: bytes) -> str:
    """Every text block of a page, one per line: what a scraper without an extractor gets."""
    import lxml.html  # comes with the html extra

    from dedupe.extract import decode_html

    tree = lxml.html.fromstring(decode_html(raw))
    for el in tree.xpath("//script|//style|//noscript"):
        el.drop_tree()
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            lines.append(" ".join(" ".join(current).split()))
            current.clear()

    def walk(el: lxml.html.HtmlElement) -> None:
        block = isinstance(el.tag, str) and el.tag.lower() in _BLOCKS
        if block:
            flush()
        if isinstance(el.tag, str) and el.text and el.text.strip():
            current.append(el.text)
        for child in el:
            walk(child)
            if child.tail and child.tail.strip():
                current.append(child.tail)
        if block:
            flush()

    walk(tree)
    flush()
    return "\n".join(line for line in lines if line)


def cleaned(articles: list[Article]) -> dict[str, str]:
    """Each article's text after dedupe, judged against all the others."""
    with Tracker(":memory:") as tracker:
        tracker.add_many(articles)
        return {r.article.id: r.text for r in tracker.results()}


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
    raw = [
        dataclasses.replace(
            a,
            text=page_text(gzip.decompress((args.data / "input" / f"{a.id}.html.gz").read_bytes())),
        )
        for a in articles
    ]
    t2 = time.perf_counter()
    results = {
        "page text": score({a.id: a.text for a in raw}, truth, truth),
        "page text+dedupe": score(cleaned(raw), truth, truth),
        "extraction": score({a.id: a.text for a in articles}, truth, truth),
        "extraction+dedupe": score(cleaned(articles), truth, truth),
    }
    t3 = time.perf_counter()
    for note in notes:
        print(f"left out: {note}", file=sys.stderr)
    print(
        f"{len(articles)} of {len(truth)} pages extracted in {t1 - t0:.1f}s; both kinds of text"
        f" cleaned and scored in {t3 - t2:.1f}s",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
        return 0
    print(f"{'portal':<20} {'pages':>5}  {'condition':<18} {'P':>6} {'R':>6} {'F1':>6}")
    for name in results["page text"]:
        for condition, table in results.items():
            s = table[name]
            print(
                f"{name:<20} {s['pages']:>5}  {condition:<18} {s['precision']:>6.3f}"
                f" {s['recall']:>6.3f} {s['f1']:>6.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
