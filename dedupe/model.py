"""Plain data shared by every module: articles, segments, findings and results.

Nothing here does I/O or imports another dedupe module; every other module imports this one.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["boilerplate", "repeat", "reused", "kept"]
SegmentKind = Literal["block", "sentence", "fragment"]

VERDICTS: tuple[str, ...] = ("boilerplate", "repeat", "reused", "kept")


#: Dates scrapers write when they have none: they order nothing. The Unix epoch written in a
#: zone east of UTC ("1970-01-01T00:00:00+02:00", a timestamp of 0 or -1) is 1969-12-31 in UTC.
PLACEHOLDER_DAYS = ("1970-01-01", "1969-12-31", "1900-01-01")


def implausible_date(published: str | None) -> str | None:
    """Why a stored date (ISO UTC text) cannot order articles, or ``None`` if it can."""
    if not published:
        return "date unknown"
    if published[:10] in PLACEHOLDER_DAYS or published[:4] < "1900":
        return "implausible date (placeholder or before 1900)"
    return None


def order_key(published: str | None, article: str) -> str:
    """Text that sorts articles in time: dated first by date (ISO UTC text), unknown or
    placeholder dates last, then by id. Never by ingest order, nor by the clock, so every
    ordering is the same whatever arrived first and whenever it runs."""
    dated = published if implausible_date(published) is None else None
    return ("0" + dated if dated else "1") + "|" + article


def outlet_key(outlet: str | None, article: str) -> str:
    """The outlet an article counts for; an unknown outlet is the article's own."""
    return "=" + outlet if outlet is not None else "?" + article


class DedupeError(Exception):
    """Base class of the errors dedupe raises on purpose."""


class InputError(DedupeError, ValueError):
    """A record or file that cannot be read; the message names the input and the problem.
    Also a ValueError, as a bad record always was."""

    def __init__(self, source: str, problem: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {problem}")


class StoreError(DedupeError):
    """The store cannot be opened or written as asked (wrong parameters, newer schema...)."""


@dataclass(frozen=True)
class Article:
    """One scraped document, exactly as scraped.

    ``outlet`` and ``published`` may be unknown (``None``); nothing downstream invents them.
    ``extra`` carries the input record's unmapped fields, passed through unchanged.
    """

    id: str
    text: str
    url: str | None = None
    outlet: str | None = None
    published: _dt.datetime | None = None
    title: str | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_dict(cls, record: dict[str, Any], **options: Any) -> Article:
        """Build an article from a scraper's record (trafilatura, news-please, newspaper4k,
        Scrapy field names are recognized); ``options`` are those of
        :func:`dedupe.fields.article_from_record` (``source``, ``preset``, ``fields``,
        ``default_id``). ValueError naming the field and the problem if it cannot."""
        from dedupe.fields import article_from_record  # local: fields imports this module

        return article_from_record(record, **options)


@dataclass(frozen=True)
class Segment:
    """A block or a sentence of an article, located by ``[start, end)`` offsets into its text.

    ``parts`` lists the pieces when a page break split a sentence across blocks; the gap
    between pieces is not part of the sentence.
    """

    index: int
    kind: SegmentKind
    start: int
    end: int
    block: int
    parts: tuple[tuple[int, int], ...] = ()

    def text_of(self, text: str) -> str:
        """The segment's own text (pieces of a split sentence joined by one space)."""
        if self.parts:
            return " ".join(text[s:e] for s, e in self.parts)
        return text[self.start : self.end]


@dataclass(frozen=True)
class Match:
    """Evidence that a segment matched another one, in this article or another."""

    article: str
    start: int
    end: int
    similarity: float
    outlet: str | None = None
    published: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "article": self.article,
            "start": self.start,
            "end": self.end,
            "similarity": round(self.similarity, 4),
            "outlet": self.outlet,
            "published": self.published,
        }


@dataclass(frozen=True)
class Finding:
    """The verdict on one segment and why: the rule that decided it and what it matched."""

    start: int
    end: int
    kind: SegmentKind
    verdict: Verdict
    reason: str
    rule: str
    matched: tuple[Match, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "verdict": self.verdict,
            "rule": self.rule,
            "reason": self.reason,
            "matched": [m.as_dict() for m in self.matched],
        }


@dataclass(frozen=True)
class Removal:
    """A span cut from the original text; ``replacement`` (usually empty) stands in its place,
    e.g. one space where a byline split a sentence in two."""

    start: int
    end: int
    verdict: Verdict
    reason: str
    matched: tuple[Match, ...] = ()
    replacement: str = ""

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "verdict": self.verdict,
            "reason": self.reason,
            "matched": [m.as_dict() for m in self.matched],
        }
        if self.replacement:
            d["replacement"] = self.replacement
        return d


@dataclass(frozen=True)
class Result:
    """What dedupe made of one article: the cleaned text, every finding, every removal."""

    article: Article
    text: str
    findings: tuple[Finding, ...]
    removed: tuple[Removal, ...]
    status: Literal["added", "known"] = "added"

    @property
    def reused(self) -> tuple[Finding, ...]:
        """Findings of text shared with another outlet's article (either direction)."""
        return tuple(f for f in self.findings if f.rule.startswith("reuse"))

    def as_dict(self) -> dict[str, Any]:
        """The output record: the input's unmapped fields, then dedupe's own, ``reused``
        listing the text shared with other outlets' articles (kept unless ``strip_reused``).
        An input field named like one of dedupe's (``source``, ``removed``...) keeps its value
        under ``input_`` + its name, so nothing the input held is lost."""
        a = self.article
        own: dict[str, Any] = {
            "id": a.id,
            "source": a.source,
            "url": a.url,
            "outlet": a.outlet,
            "published": a.published.isoformat() if a.published else None,
            "title": a.title,
            "text": self.text,
            "removed": [r.as_dict() for r in self.removed],
            "reused": [f.as_dict() for f in self.reused],
        }
        taken = own.keys() | a.extra.keys()
        d: dict[str, Any] = {}
        for k, v in a.extra.items():
            if k in own:  # input_source (input_input_source if the input has that too)
                k = "input_" + k
                while k in taken or k in d:
                    k = "input_" + k
            d[k] = v
        d.update(own)
        return d
