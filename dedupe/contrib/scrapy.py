"""A Scrapy item pipeline that cleans every scraped article and tracks it in a dedupe store.

Enable it in the project's settings, before the pipelines that store items::

    ITEM_PIPELINES = {"dedupe.contrib.scrapy.DedupePipeline": 300}
    DEDUPE_DB = "dedupe.db"

Settings (all optional):

- ``DEDUPE_ENABLED`` (default True): False turns the pipeline off (``NotConfigured``).
- ``DEDUPE_DB`` (default ``dedupe.db``): the store. Several spiders and crawl processes on one
  machine may share it; each item is one transaction, taken with a busy timeout.
- ``DEDUPE_MODE``: ``annotate`` (default) adds the findings under the item's ``_dedupe`` key and
  drops nothing; ``drop`` also drops (``DropItem``) an item whose whole body is a copy of an
  earlier article: one already stored (same id, URL or text), or one whose own text, furniture
  and repeats aside, is all reused from earlier articles (up to :data:`COPY_SLACK` of its
  words may be its own).
- ``DEDUPE_PRESET`` (default ``auto``) and ``DEDUPE_TEXT_FIELD``, ``DEDUPE_URL_FIELD``,
  ``DEDUPE_TITLE_FIELD``, ``DEDUPE_PUBLISHED_FIELD``, ``DEDUPE_OUTLET_FIELD``,
  ``DEDUPE_ID_FIELD``: which item fields hold the article, as for ``dedupe clean``.
- ``DEDUPE_THRESHOLD``: the near-duplicate threshold of a new store (an existing store keeps
  the parameters it was built with; asking for others is an error).
- ``DEDUPE_STRIP_REUSED`` (default False): also cut reused text from ``_dedupe["text"]``.

The annotation, under ``_dedupe``: ``status`` (``new``, ``known`` or ``copy``; ``invalid``
when the item holds no article text), ``article`` (its id in the store), ``copy_of``, ``text``
(the cleaned text), ``removed`` (the cuts, with offsets into the item's text) and ``reused``
(text shared with other outlets, either direction). Items are read through ItemAdapter, so
dicts, ``scrapy.Item`` (declare a ``_dedupe`` field), dataclass and attrs items all work.

Stats: ``dedupe/items``, ``dedupe/new``, ``dedupe/known``, ``dedupe/copies``,
``dedupe/dropped``, ``dedupe/invalid``, ``dedupe/boilerplate_segments``,
``dedupe/repeat_segments``, ``dedupe/reused_segments``, ``dedupe/chars_removed``,
``dedupe/unannotated``.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from dedupe.fields import CONCEPTS, article_from_record, field_names
from dedupe.fingerprint import Params
from dedupe.model import InputError, Result
from dedupe.tracker import Tracker

try:
    from itemadapter import ItemAdapter
    from scrapy.exceptions import DropItem, NotConfigured
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the Scrapy pipeline needs the scrapy extra: pip install 'news-dedupe[scrapy]'"
    ) from e

logger = logging.getLogger(__name__)

MODES = ("annotate", "drop")
"""Values of ``DEDUPE_MODE``."""
ANNOTATION_KEY = "_dedupe"
"""The item key the findings go under (prefixed, so it never clashes with a spider's fields)."""
FIELD_SETTINGS = {concept: f"DEDUPE_{concept.upper()}_FIELD" for concept in CONCEPTS}
"""Setting name per article concept, e.g. ``DEDUPE_TEXT_FIELD``."""
COPY_SLACK = 0.10
"""Share of an item's content words that may be its own while it still counts as a copy (a
retitled line, a credit): beyond that the item adds something and is kept."""
_CONTENT = ("kept", "reused")


class DedupePipeline:
    """Clean each item's text, store it, and annotate or drop copies of earlier articles."""

    def __init__(
        self,
        db: str = "dedupe.db",
        *,
        mode: str = "annotate",
        preset: str = "auto",
        fields: dict[str, str] | None = None,
        params: Params | None = None,
        strip_reused: bool = False,
        crawler: Any = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        field_names(preset, fields)  # ValueError now for an unknown preset or concept
        self.db = db
        self.mode = mode
        self.preset = preset
        self.fields = dict(fields or {})
        self.params = params
        self.strip_reused = strip_reused
        self.crawler = crawler
        self.tracker: Tracker | None = None
        self._warned_unannotated = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupePipeline:
        """Build from the crawler's ``DEDUPE_*`` settings: NotConfigured when switched off; a
        wrong setting is a ValueError that stops the crawl at its start (Scrapy would only log
        a NotConfigured and crawl on without dedupe)."""
        s = crawler.settings
        if not s.getbool("DEDUPE_ENABLED", True):
            raise NotConfigured("DEDUPE_ENABLED is off")
        fields = {c: s.get(name) for c, name in FIELD_SETTINGS.items() if s.get(name)}
        threshold = s.get("DEDUPE_THRESHOLD")
        try:
            params = Params(threshold=float(threshold)) if threshold is not None else None
            return cls(
                s.get("DEDUPE_DB", "dedupe.db"),
                mode=s.get("DEDUPE_MODE", "annotate"),
                preset=s.get("DEDUPE_PRESET", "auto"),
                fields=fields,
                params=params,
                strip_reused=s.getbool("DEDUPE_STRIP_REUSED", False),
                crawler=crawler,
            )
        except ValueError as e:
            raise ValueError(f"dedupe pipeline, DEDUPE_* settings: {e}") from None

    # -- lifecycle: ``spider`` is optional, so current Scrapy passes nothing and old Scrapy
    # -- passes it positionally, without a deprecation warning either way.

    def open_spider(self, spider: Any = None) -> None:
        """Open the store and record this crawl as a run in it."""
        # Items come one at a time: no worker processes inside the crawler's process.
        self.tracker = Tracker(
            self.db, params=self.params, strip_reused=self.strip_reused, workers=0
        )
        self.tracker.begin_run(f"scrapy {self._spider_name(spider)}")

    def close_spider(self, spider: Any = None) -> None:
        """Finish the run and close the store."""
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None

    def _invalid(self, item: Any, adapter: Any, e: ValueError) -> Any:
        """Count an item dedupe cannot check, say why, and pass it on marked ``invalid``."""
        self._inc("invalid")
        logger.warning("dedupe: item not checked: %s", e)
        self._annotate(adapter, {"status": "invalid", "problem": str(e)})
        return item

    def process_item(self, item: Any, spider: Any = None) -> Any:
        """Clean and store one item; annotate it, or drop it if it is a copy in drop mode."""
        if self.tracker is None:
            raise RuntimeError("DedupePipeline.process_item called before open_spider")
        self._inc("items")
        adapter = ItemAdapter(item)
        try:
            article = article_from_record(
                adapter.asdict(),
                source=f"scrapy:{self._spider_name(spider)}",
                preset=self.preset,
                fields=self.fields or None,
            )
        except ValueError as e:
            return self._invalid(item, adapter, e)
        try:
            result = self.tracker.add(article)
        except InputError as e:  # an article the store refuses (its text is too long)
            return self._invalid(item, adapter, e)
        copy_of = self.copy_of(result)
        status = "known" if result.status == "known" else "copy" if copy_of else "new"
        self._count(result, status)
        if self.mode == "drop" and copy_of is not None:
            self._inc("dropped")
            raise self._drop(result, status, copy_of)
        self._annotate(
            adapter,
            {
                "status": status,
                "article": result.article.id,
                "copy_of": copy_of,
                "text": result.text,
                "removed": [r.as_dict() for r in result.removed],
                "reused": [f.as_dict() for f in result.reused],
            },
        )
        return item

    # -- decisions ---------------------------------------------------------------------------

    @staticmethod
    def copy_of(result: Result) -> str | None:
        """The earlier article this one's whole body copies, or None when it adds its own text.

        An article already stored is a copy of the stored one. Otherwise, with furniture and
        repeats set aside, its text must be reused from earlier articles, up to COPY_SLACK of
        its words; the source named is the one most of the reused text matched first."""
        if result.status == "known":
            return result.article.id
        text = result.article.text
        own = reused = 0
        sources: Counter[str] = Counter()
        for f in result.findings:
            if f.verdict not in _CONTENT:
                continue
            words = len(text[f.start : f.end].split())
            if f.verdict == "reused" and f.matched:
                reused += words
                sources[f.matched[0].article] += words
            else:
                own += words
        if not reused or own > COPY_SLACK * (own + reused):
            return None
        best = max(sources.values())
        return min(a for a, n in sources.items() if n == best)

    def _drop(self, result: Result, status: str, copy_of: str) -> DropItem:
        url = result.article.url or result.article.id
        why = (
            f"already stored as article {copy_of} (same id, URL or text)"
            if status == "known"
            else f"copy of article {copy_of}"
        )
        message = f"dedupe: {url}: {why}"
        try:
            return DropItem(message, log_level="INFO")
        except TypeError:  # Scrapy before 2.13 has no log_level
            return DropItem(message)

    # -- helpers -----------------------------------------------------------------------------

    def _spider_name(self, spider: Any) -> str:
        spider = spider or getattr(self.crawler, "spider", None)
        return str(getattr(spider, "name", None) or "spider")

    def _annotate(self, adapter: Any, value: dict[str, Any]) -> None:
        try:
            adapter[ANNOTATION_KEY] = value
        except KeyError:  # a scrapy.Item or dataclass without the field
            self._inc("unannotated")
            if not self._warned_unannotated:
                self._warned_unannotated = True
                logger.warning(
                    "dedupe: %s items have no %r field; declare one to receive the findings",
                    type(adapter.item).__name__,
                    ANNOTATION_KEY,
                )

    def _count(self, result: Result, status: str) -> None:
        self._inc({"new": "new", "known": "known", "copy": "copies"}[status])
        if status == "known":
            return
        verdicts = Counter(f.verdict for f in result.findings if f.verdict != "kept")
        for verdict, n in sorted(verdicts.items()):
            self._inc(f"{verdict}_segments", n)
        removed = sum(r.end - r.start for r in result.removed)
        if removed:
            self._inc("chars_removed", removed)

    def _inc(self, name: str, n: int = 1) -> None:
        stats = getattr(self.crawler, "stats", None)
        if stats is not None:
            stats.inc_value(f"dedupe/{name}", n)
