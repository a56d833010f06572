"""The Scrapy item pipeline: settings, annotations, drops, stats, no deprecation warnings, and
real crawls of a local site (one crawl, then two crawl processes sharing one store)."""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sites import CREDIT, FURNITURE, STORIES, page

from dedupe import Tracker
from dedupe import tracker as tracker_mod

pytest.importorskip("scrapy", reason="the Scrapy pipeline needs the scrapy extra")
pytest.importorskip("itemadapter", reason="the Scrapy pipeline needs the scrapy extra")

import scrapy  # noqa: E402
from scrapy.exceptions import DropItem, NotConfigured  # noqa: E402
from scrapy.utils.test import get_crawler  # noqa: E402

from dedupe.contrib.scrapy import DedupePipeline  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = "dedupe.contrib.scrapy.DedupePipeline"


def item(slug: str, outlet: str = "a.example", **extra: Any) -> dict[str, Any]:
    """A spider's item for one of the synthetic stories."""
    title, paragraphs = STORIES[slug]
    return {
        "url": f"https://{outlet}/news/{slug}",
        "title": title,
        "published": extra.pop("published", "2024-05-01T08:00:00+00:00"),
        "text": "\n".join(paragraphs),
        **extra,
    }


@pytest.fixture
def crawler(tmp_path: Path) -> Any:
    return get_crawler(settings_dict={"DEDUPE_DB": str(tmp_path / "store.db")})


def opened(crawler: Any) -> DedupePipeline:
    pipe = DedupePipeline.from_crawler(crawler)
    pipe.open_spider()
    return pipe


# --- settings and lifecycle ---------------------------------------------------------------------


def test_disabled_is_not_configured_and_misconfigured_stops_the_crawl(tmp_path: Path) -> None:
    with pytest.raises(NotConfigured, match="DEDUPE_ENABLED is off"):
        DedupePipeline.from_crawler(get_crawler(settings_dict={"DEDUPE_ENABLED": False}))
    # Scrapy logs a NotConfigured and crawls on without the pipeline: a typo must not do that
    with pytest.raises(ValueError, match="mode must be one of annotate, drop, got 'keep'"):
        DedupePipeline.from_crawler(get_crawler(settings_dict={"DEDUPE_MODE": "keep"}))
    with pytest.raises(ValueError, match="unknown preset 'scrapyy'"):
        DedupePipeline.from_crawler(get_crawler(settings_dict={"DEDUPE_PRESET": "scrapyy"}))
    with pytest.raises(ValueError, match="threshold must be in"):
        DedupePipeline.from_crawler(get_crawler(settings_dict={"DEDUPE_THRESHOLD": 2}))
    from scrapy.pipelines import ItemPipelineManager

    settings = {"ITEM_PIPELINES": {PIPELINE: 300}, "DEDUPE_MODE": "dorp"}
    with pytest.raises(ValueError, match="DEDUPE_\\* settings: mode must be one of"):
        ItemPipelineManager.from_crawler(get_crawler(settings_dict=settings))


def test_the_pipeline_raises_no_deprecation_warning(tmp_path: Path) -> None:
    from scrapy.pipelines import ItemPipelineManager

    settings = {"ITEM_PIPELINES": {PIPELINE: 300}, "DEDUPE_DB": str(tmp_path / "s.db")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        manager = ItemPipelineManager.from_crawler(get_crawler(settings_dict=settings))
    (pipe,) = manager.middlewares
    assert isinstance(pipe, DedupePipeline)


def test_settings_name_the_fields(tmp_path: Path) -> None:
    crawler = get_crawler(
        settings_dict={
            "DEDUPE_DB": str(tmp_path / "s.db"),
            "DEDUPE_TEXT_FIELD": "body",
            "DEDUPE_URL_FIELD": "link",
        }
    )
    pipe = opened(crawler)
    out = pipe.process_item({"link": "https://a.example/x", "body": STORIES["river"][1][0]})
    assert out["_dedupe"]["status"] == "new"
    pipe.close_spider()
    with Tracker(str(tmp_path / "s.db")) as t:
        (a,) = list(t.store.articles())
        assert (a.url, a.outlet) == ("https://a.example/x", "a.example")


# --- annotate and drop ------------------------------------------------------------------------


def test_annotate_marks_copies_and_strips_furniture(crawler: Any) -> None:
    pipe = opened(crawler)
    for i, slug in enumerate(["river", "bridge", "school"]):
        it = item(slug)
        it["text"] += "\n" + FURNITURE
        out = pipe.process_item(it)
        assert out is it
        assert out["_dedupe"]["status"] == "new"
        assert (FURNITURE in out["_dedupe"]["text"]) == (i < 2)  # third one: it recurs
    wire = pipe.process_item(item("wire", published="2024-05-01T08:00:00+00:00"))
    copy = item("wire", "b.example", published="2024-05-01T12:00:00+00:00")
    copy["text"] += "\n" + CREDIT  # a credit line adds nothing of its own
    copy = pipe.process_item(copy)
    same = pipe.process_item(item("wire", "c.example", published="2024-05-01T13:00:00+00:00"))
    again = pipe.process_item(item("river"))
    pipe.close_spider()
    assert copy["_dedupe"]["status"] == "copy"
    assert copy["_dedupe"]["copy_of"] == wire["_dedupe"]["article"]
    assert copy["_dedupe"]["text"] == item("wire")["text"] + "\n" + CREDIT  # reuse is kept
    assert {f["rule"] for f in copy["_dedupe"]["reused"]} == {"reuse"}
    # the very same text from another outlet is syndication: stored, and a copy of the wire
    assert same["_dedupe"]["status"] == "copy"
    assert same["_dedupe"]["copy_of"] == wire["_dedupe"]["article"]
    assert again["_dedupe"]["status"] == "known"
    assert again["_dedupe"]["copy_of"] == again["_dedupe"]["article"]
    stats = crawler.stats.get_stats()
    assert stats["dedupe/items"] == 7
    assert stats["dedupe/new"] == 4
    assert (stats["dedupe/copies"], stats["dedupe/known"]) == (2, 1)
    assert stats["dedupe/boilerplate_segments"] == 1
    # the two copies' three sentences each, and the furniture on the outlet's second page (a
    # copy of its own first page's, until the third page makes it furniture)
    assert stats["dedupe/reused_segments"] == 7
    assert "dedupe/dropped" not in stats


def test_drop_mode_drops_whole_copies_only(tmp_path: Path) -> None:
    crawler = get_crawler(
        settings_dict={"DEDUPE_DB": str(tmp_path / "s.db"), "DEDUPE_MODE": "drop"}
    )
    pipe = opened(crawler)
    wire = pipe.process_item(item("wire"))
    copy = item("wire", "b.example", published="2024-05-02")
    copy["text"] += "\n" + CREDIT
    with pytest.raises(DropItem, match=r"https://b.example/news/wire: copy of article u") as e:
        pipe.process_item(copy)
    assert wire["_dedupe"]["article"] in str(e.value)
    assert e.value.log_level == "INFO"
    with pytest.raises(DropItem, match="already stored as article"):
        pipe.process_item(item("wire"))
    # its own lede makes it more than a copy: kept, and annotated
    own = item("wire", "c.example", published="2024-05-03")
    own["text"] = STORIES["library"][1][0] + "\n" + STORIES["river"][1][1] + "\n" + own["text"]
    assert pipe.process_item(own)["_dedupe"]["status"] == "new"
    pipe.close_spider()
    assert crawler.stats.get_value("dedupe/dropped") == 2
    with Tracker(str(tmp_path / "s.db")) as t:  # a dropped copy is still on record
        assert t.store.count_articles() == 3


def test_items_of_every_kind(crawler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    class Declared(scrapy.Item):
        url = scrapy.Field()
        text = scrapy.Field()
        _dedupe = scrapy.Field()

    class Undeclared(scrapy.Item):
        url = scrapy.Field()
        text = scrapy.Field()

    @dataclasses.dataclass
    class Story:
        url: str
        text: str
        _dedupe: dict[str, Any] | None = None

    pipe = opened(crawler)
    text = "\n".join(STORIES["bridge"][1])
    declared = pipe.process_item(Declared(url="https://a.example/1", text=text))
    assert declared["_dedupe"]["status"] == "new"
    undeclared = pipe.process_item(Undeclared(url="https://a.example/1", text=text))
    assert "_dedupe" not in undeclared
    story = pipe.process_item(Story("https://a.example/2", "\n".join(STORIES["school"][1])))
    assert story._dedupe["status"] == "new"
    bad = pipe.process_item({"url": "https://a.example/3", "title": "no text"})
    assert bad["_dedupe"] == {
        "status": "invalid",
        "problem": "missing text field (looked for: text, maintext, body, content)",
    }
    monkeypatch.setattr(tracker_mod, "MAX_ARTICLE_CHARS", 20)  # the store refuses this one
    long = pipe.process_item({"url": "https://a.example/4", "text": "A text over twenty chars."})
    assert long["_dedupe"]["status"] == "invalid"
    assert re.fullmatch(
        r"article 'u[0-9a-f]{16}': text is 25 characters, over the limit of 20",
        long["_dedupe"]["problem"],
    )
    pipe.close_spider()
    assert crawler.stats.get_value("dedupe/unannotated") == 1
    assert crawler.stats.get_value("dedupe/invalid") == 2


# --- real crawls of a local site --------------------------------------------------------------

A_PAGES = {
    "/a/river": page("a.example", "river", date="2024-05-01"),
    "/a/bridge": page("a.example", "bridge", date="2024-05-02"),
    "/a/school": page("a.example", "school", date="2024-05-03"),
    "/a/market": page("a.example", "market", date="2024-05-04", pull_quote=True),
    "/a/wire": page("a.example", "wire", date="2024-05-05"),
    "/a/river?ref=home": page("a.example", "river", date="2024-05-01"),
}
B_PAGES = {
    "/b/wire": page("b.example", "wire", date="2024-05-06", furniture=False, credit=CREDIT),
    "/b/library": page("b.example", "library", date="2024-05-06", furniture=False),
}


def numbered(outlet: str, n: int) -> str:
    """A short page of its own for the concurrency test."""
    body = (
        f"Notice {n} from {outlet}: the committee for district {n} met on day {n} and"
        f" approved plan {n} with {n + 3} votes in favour."
    )
    return (
        f'<html><head><link rel="canonical" href="https://{outlet}/n/{n}"></head>'
        f"<body><h1>Notice {n}</h1><article><p>{body}</p></article></body></html>"
    )


SPIDER = textwrap.dedent(
    """
    import json, sys
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class News(scrapy.Spider):
        name = "news"

        def __init__(self, urls, **kw):
            super().__init__(**kw)
            self.urls = urls

        async def start(self):
            for request in self.start_requests():
                yield request

        def start_requests(self):
            for i, url in enumerate(self.urls):  # in this order, one at a time
                yield scrapy.Request(url, priority=-i, dont_filter=True)

        def parse(self, response):
            yield {
                "url": response.css("link[rel=canonical]::attr(href)").get() or response.url,
                "title": response.css("h1::text").get(),
                "published": response.css(
                    "meta[property='article:published_time']::attr(content)"
                ).get(),
                "text": "\\n".join(response.css("article p::text").getall()),
            }

    config = json.load(open(sys.argv[1]))
    process = CrawlerProcess(
        {
            "ITEM_PIPELINES": {"dedupe.contrib.scrapy.DedupePipeline": 300},
            "DEDUPE_DB": config["db"],
            "DEDUPE_MODE": config["mode"],
            "FEEDS": {config["feed"]: {"format": "jsonlines", "encoding": "utf-8"}},
            "CONCURRENT_REQUESTS": 1,
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
            "ROBOTSTXT_OBEY": False,
        }
    )
    crawler = process.create_crawler(News)
    process.crawl(crawler, urls=config["urls"])
    process.start()
    stats = {k: v for k, v in crawler.stats.get_stats().items() if k.startswith("dedupe/")}
    json.dump(stats, open(config["stats"], "w"))
    """
)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A local web server on 127.0.0.1 serving both outlets' pages; yields its base URL."""
    pages = {**A_PAGES, **B_PAGES}
    for n in range(40):
        pages[f"/n/a{n}"] = numbered("a.example", n)
        pages[f"/n/b{n}"] = numbered("b.example", n + 100)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "<html>not found</html>").encode("utf-8"))

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def start_crawl(tmp_path: Path, name: str, urls: list[str], db: Path, mode: str) -> Any:
    """A crawl in its own process (the Twisted reactor runs once per process)."""
    script = tmp_path / "crawl.py"
    script.write_text(SPIDER, encoding="utf-8")
    config = {
        "urls": urls,
        "db": str(db),
        "mode": mode,
        "feed": str(tmp_path / f"{name}.jsonl"),
        "stats": str(tmp_path / f"{name}.stats.json"),
    }
    config_file = tmp_path / f"{name}.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    # Deprecations are errors: the pipeline must work with current Scrapy without warnings.
    return subprocess.Popen(
        [sys.executable, "-W", "error::DeprecationWarning", str(script), str(config_file)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: Any, tmp_path: Path, name: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Warning" not in err, err
    feed = tmp_path / f"{name}.jsonl"
    items = [json.loads(x) for x in feed.read_text(encoding="utf-8").splitlines() if x.strip()]
    stats = json.loads((tmp_path / f"{name}.stats.json").read_text(encoding="utf-8"))
    return items, stats


def crawl(tmp_path: Path, name: str, urls: list[str], db: Path, mode: str = "annotate") -> Any:
    return finish(start_crawl(tmp_path, name, urls, db, mode), tmp_path, name)


def test_a_real_crawl_annotates_and_stores(site: str, tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    urls = [site + p for p in [*A_PAGES, *B_PAGES]]
    items, stats = crawl(tmp_path, "annotate", urls, db)
    by_url = {}
    for it in items:
        by_url.setdefault(it["url"], []).append(it["_dedupe"])
    assert len(items) == 8 and len(by_url) == 7
    river, river_again = by_url["https://a.example/news/river"]
    assert [river["status"], river_again["status"]] == ["new", "known"]
    assert river_again["copy_of"] == river["article"]
    # furniture: kept on the first two pages of the outlet, cut from the third on
    assert FURNITURE in river["text"]
    assert FURNITURE not in by_url["https://a.example/news/school"][0]["text"]
    market = by_url["https://a.example/news/market"][0]
    assert [r["verdict"] for r in market["removed"]] == ["repeat", "boilerplate"]
    wire_b = by_url["https://b.example/news/wire"][0]
    assert wire_b["status"] == "copy"
    assert wire_b["copy_of"] == by_url["https://a.example/news/wire"][0]["article"]
    assert by_url["https://b.example/news/library"][0]["status"] == "new"
    assert stats["dedupe/items"] == 8 and stats["dedupe/copies"] == 1
    # the store has every article once, judged as the corpus stands now
    with Tracker(str(db)) as t:
        results = {r.article.url: r for r in t.results()}
        assert len(results) == 7
        assert all(
            FURNITURE not in r.text for u, r in results.items() if u.startswith("https://a.")
        )
        assert t.chains()  # the wire story's provenance: a.example first, b.example copied
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT command FROM runs").fetchall() == [("scrapy news",)]


def test_a_real_crawl_in_drop_mode(site: str, tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    urls = [site + p for p in [*A_PAGES, *B_PAGES]]
    items, stats = crawl(tmp_path, "drop", urls, db, mode="drop")
    assert len(items) == 6
    assert {it["_dedupe"]["status"] for it in items} == {"new"}
    assert "https://b.example/news/wire" not in {it["url"] for it in items}
    assert stats["dedupe/dropped"] == 2


def test_two_crawls_in_parallel_share_one_store(site: str, tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    first = [f"{site}/n/a{n}" for n in range(40)]
    second = [f"{site}/n/b{n}" for n in range(40)] + [f"{site}/n/a{n}" for n in range(0, 40, 4)]
    d1, d2 = tmp_path / "one", tmp_path / "two"
    d1.mkdir()
    d2.mkdir()
    p1 = start_crawl(d1, "one", first, db, "annotate")
    p2 = start_crawl(d2, "two", second, db, "annotate")
    items1, _ = finish(p1, d1, "one")
    items2, _ = finish(p2, d2, "two")
    statuses = [it["_dedupe"]["status"] for it in items1 + items2]
    assert len(statuses) == 90
    assert statuses.count("known") == 10  # the overlap, whichever crawl came second
    assert statuses.count("new") == 80
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM articles").fetchone() == (80,)
        assert conn.execute(
            "SELECT COUNT(*) FROM runs WHERE finished_at IS NOT NULL"
        ).fetchone() == (2,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
