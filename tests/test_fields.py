"""Scraper records to articles: presets, overrides, validation, dates, URLs and outlets."""

from __future__ import annotations

import datetime as dt
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import xxhash

from dedupe import fields
from dedupe.fields import (
    PRESETS,
    Metadata,
    apply_metadata,
    article_from_record,
    field_names,
    normalize_url,
    outlet_from_url,
    parse_date,
    parse_metadata,
)
from dedupe.model import Article

UTC = dt.timezone.utc
BODY = "The city council approved the new budget on Tuesday after a long debate."


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- presets ---------------------------------------------------------------------------------


def trafilatura_record() -> dict:
    """What ``trafilatura --json --with-metadata`` writes for one page."""
    return {
        "title": "Council approves budget",
        "author": "Jane Doe",
        "hostname": "theguardian.com",
        "date": "2024-05-06",
        "fingerprint": "9c3b1e7f5a2d4c68",
        "id": None,
        "license": None,
        "comments": "",
        "raw_text": BODY,
        "text": BODY,
        "language": "en",
        "image": "https://i.guim.co.uk/img/x.jpg",
        "pagetype": "article",
        "filedate": "2024-05-07",
        "source": "https://www.theguardian.com/uk-news/2024/may/06/council-budget",
        "source-hostname": "The Guardian",
        "excerpt": "The council approved the budget.",
        "categories": "UK news",
        "tags": "budget;council",
    }


def newsplease_record(date_publish: str = "2024-05-06 14:30:00") -> dict:
    """What news-please stores for one article (``text`` is the legacy, now null, field)."""
    return {
        "authors": ["Jane Doe"],
        "date_download": "2024-05-07 08:00:01",
        "date_modify": "None",
        "date_publish": date_publish,
        "description": "The council approved the budget.",
        "filename": "https%3A%2F%2Fwww.reuters.com%2Fworld%2Fcouncil.json",
        "image_url": "https://www.reuters.com/resizer/x.jpg",
        "language": "en",
        "localpath": None,
        "maintext": BODY,
        "source_domain": "www.reuters.com",
        "text": None,
        "title": "Council approves budget",
        "title_page": None,
        "title_rss": None,
        "url": "https://www.reuters.com/world/council-approves-budget-2024-05-06/",
    }


def newspaper_record() -> dict:
    """What newspaper4k's ``Article.to_json()`` gives, decoded."""
    return {
        "url": "https://www.bbc.co.uk/news/articles/c1234?at_medium=RSS",
        "read_more_link": "",
        "language": "en",
        "title": "Council approves budget",
        "top_image": "https://ichef.bbci.co.uk/x.jpg",
        "meta_img": "https://ichef.bbci.co.uk/x.jpg",
        "images": ["https://ichef.bbci.co.uk/x.jpg"],
        "movies": [],
        "keywords": [],
        "keyword_scores": {},
        "meta_keywords": ["budget"],
        "tags": [],
        "authors": ["Jane Doe"],
        "publish_date": "2024-05-06T09:15:00+02:00",
        "summary": "",
        "meta_description": "The council approved the budget.",
        "meta_lang": "en",
        "meta_favicon": "https://www.bbc.co.uk/favicon.ico",
        "meta_site_name": "BBC News",
        "canonical_link": "https://www.bbc.co.uk/news/articles/c1234",
        "text": BODY,
    }


def scrapy_record() -> dict:
    """An item from a Scrapy feed export (field names are the spider's choice)."""
    return {
        "url": "https://www.example-news.com/politics/budget",
        "title": "Council approves budget",
        "body": BODY,
        "date": "May 6, 2024",
        "section": "Politics",
        "crawled_at": "2024-05-07T08:00:00Z",
    }


def test_presets_table_covers_every_concept() -> None:
    for preset, mapping in PRESETS.items():
        assert set(mapping) == set(fields.CONCEPTS), preset
    assert field_names("auto")["text"] == ("text", "maintext", "body", "content")
    assert field_names("auto")["url"][:2] == ("url", "source")


@pytest.mark.parametrize("preset", ["auto", "trafilatura"])
def test_trafilatura(preset: str) -> None:
    rec = trafilatura_record()
    a = article_from_record(rec, preset=preset, source="crawl.jsonl")
    assert a.text == BODY
    assert a.url == rec["source"]
    assert a.outlet == "theguardian.com"
    assert a.published == utc(2024, 5, 6)
    assert a.title == "Council approves budget"
    assert a.source == "crawl.jsonl"
    assert a.id == "u" + xxhash.xxh64(normalize_url(rec["source"]).encode()).hexdigest()
    for used in ("text", "title", "source", "hostname", "date", "id"):
        assert used not in a.extra
    assert a.extra["source-hostname"] == "The Guardian"
    assert a.extra["fingerprint"] == "9c3b1e7f5a2d4c68"
    assert a.extra["raw_text"] == BODY
    assert a.extra["tags"] == "budget;council"


@pytest.mark.parametrize("preset", ["auto", "news-please"])
def test_newsplease(preset: str) -> None:
    a = article_from_record(newsplease_record(), preset=preset)
    assert a.text == BODY
    assert a.url == "https://www.reuters.com/world/council-approves-budget-2024-05-06/"
    assert a.outlet == "reuters.com"  # source_domain reduced like a URL's host
    assert a.published == utc(2024, 5, 6, 14, 30)
    assert a.title == "Council approves budget"
    # the used fields and the null legacy "text" are gone; the rest is passed through
    for used in ("maintext", "text", "url", "title", "date_publish", "source_domain"):
        assert used not in a.extra
    assert a.extra["date_modify"] == "None"
    assert a.extra["authors"] == ["Jane Doe"]
    assert a.extra["title_rss"] is None


def test_newsplease_missing_date_is_the_string_none() -> None:
    a = article_from_record(newsplease_record(date_publish="None"))
    assert a.published is None
    assert "date_publish" not in a.extra


@pytest.mark.parametrize("preset", ["auto", "newspaper"])
def test_newspaper4k(preset: str) -> None:
    rec = newspaper_record()
    a = article_from_record(rec, preset=preset)
    assert a.url == rec["url"]
    assert a.outlet == "bbc.co.uk"  # the URL's domain wins over the display name
    assert a.published == utc(2024, 5, 6, 7, 15)
    assert a.extra["meta_site_name"] == "BBC News"
    assert a.extra["canonical_link"] == rec["canonical_link"]
    assert "publish_date" not in a.extra


def test_newspaper4k_site_name_when_there_is_no_url() -> None:
    rec = newspaper_record()
    del rec["url"], rec["canonical_link"]
    a = article_from_record(rec, preset="newspaper")
    assert a.url is None
    assert a.outlet == "BBC News"
    assert "meta_site_name" not in a.extra


def test_newspaper4k_canonical_link_when_url_is_missing() -> None:
    rec = newspaper_record()
    del rec["url"]
    a = article_from_record(rec)
    assert a.url == rec["canonical_link"]
    assert "canonical_link" not in a.extra


@pytest.mark.parametrize("preset", ["auto", "scrapy"])
def test_scrapy_feed(preset: str) -> None:
    a = article_from_record(scrapy_record(), preset=preset)
    assert a.text == BODY
    assert a.outlet == "example-news.com"
    assert a.published == utc(2024, 5, 6)
    assert a.extra == {"section": "Politics", "crawled_at": "2024-05-07T08:00:00Z"}


def test_native_record() -> None:
    rec = {
        "id": "a1",
        "url": "https://a.example/1",
        "outlet": " Ledger ",
        "published": "2024-05-06T10:00:00Z",
        "title": "T",
        "text": BODY,
        "section": "x",
    }
    a = article_from_record(rec, preset="native")
    assert (a.id, a.url, a.outlet, a.published, a.title) == (
        "a1",
        "https://a.example/1",
        "Ledger",  # stripped, not reduced: an explicit outlet is the caller's word
        utc(2024, 5, 6, 10),
        "T",
    )
    assert a.extra == {"section": "x"}


def test_auto_takes_source_as_url_only_when_it_is_one() -> None:
    a = article_from_record({"text": BODY, "source": "Reuters"})
    assert a.url is None
    assert a.extra == {"source": "Reuters"}
    b = article_from_record({"text": BODY, "source": "Reuters"}, preset="trafilatura")
    assert b.url == "Reuters"  # an explicit preset is trusted


def test_explicit_preset_ignores_other_presets_names() -> None:
    a = article_from_record({"maintext": BODY, "body": "other"}, preset="news-please")
    assert a.text == BODY
    assert a.extra == {"body": "other"}
    with pytest.raises(ValueError, match=r"missing text field \(looked for: text\)"):
        article_from_record({"maintext": BODY}, preset="native")


def test_overrides() -> None:
    rec = {
        "story": BODY,
        "link": "https://www.ft.com/content/x",
        "when": "2024-05-06",
        "site": "FT",
        "headline": "H",
        "key": 42,
        "text": "a teaser",
    }
    a = article_from_record(
        rec,
        fields={
            "text": "story",
            "url": "link",
            "published": "when",
            "outlet": "site",
            "title": "headline",
            "id": "key",
        },
    )
    assert (a.id, a.text, a.url, a.outlet, a.published, a.title) == (
        "42",
        BODY,
        "https://www.ft.com/content/x",
        "FT",
        utc(2024, 5, 6),
        "H",
    )
    assert a.extra == {"text": "a teaser"}  # not the text any more: passed through


def test_override_missing_text_field() -> None:
    with pytest.raises(ValueError, match=r"missing text field \(looked for: story\)"):
        article_from_record({"text": BODY}, fields={"text": "story"})


def test_unknown_preset_and_concept() -> None:
    with pytest.raises(ValueError, match="unknown preset 'goose'"):
        article_from_record({"text": BODY}, preset="goose")
    with pytest.raises(ValueError, match="unknown field concept 'body'"):
        article_from_record({"text": BODY}, fields={"body": "x"})


def test_article_from_dict_uses_the_mapping() -> None:
    a = Article.from_dict(newsplease_record(), source="s")
    assert a.text == BODY and a.source == "s"


# --- ids ---------------------------------------------------------------------------------------


def test_ids() -> None:
    assert article_from_record({"id": 7, "text": BODY}).id == "7"
    assert article_from_record({"text": BODY}, default_id="file-stem").id == "file-stem"
    assert article_from_record({"id": "x", "text": BODY}, default_id="file-stem").id == "x"
    by_text = article_from_record({"text": BODY}).id
    assert by_text == "t" + xxhash.xxh64(BODY.encode("utf-8")).hexdigest()
    assert len(by_text) == 17
    # the same page under two spellings of its URL gets one id
    a = article_from_record({"text": BODY, "url": "https://EX.com/a/?utm_source=x#top"})
    b = article_from_record({"text": "other", "url": "https://ex.com/a"})
    assert a.id == b.id and a.id.startswith("u")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty id in field 'id'"),
        ("  ", "empty id in field 'id'"),
        (1.5, "field 'id' must be a string or an integer, got number"),
        (True, "field 'id' must be a string or an integer, got boolean"),
        ([1], "field 'id' must be a string or an integer, got array"),
    ],
)
def test_bad_ids(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        article_from_record({"id": value, "text": BODY})


def test_generated_ids_do_not_depend_on_the_process(tmp_path: Path) -> None:
    code = (
        "from dedupe.fields import article_from_record as f;"
        "print(f({'text': 'Some text'}).id, f({'text': 'x', 'url': 'https://a.example/p'}).id)"
    )
    outs = set()
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).parents[1])}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outs.add(out.stdout)
    assert len(outs) == 1
    here = f"{article_from_record({'text': 'Some text'}).id} {article_from_record({'text': 'x', 'url': 'https://a.example/p'}).id}\n"
    assert outs == {here}


# --- text and other strings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": "t"}, r"missing text field \(looked for: text, maintext, body, content\)"),
        ({"text": None}, r"missing text \(field 'text' is null\)"),
        ({"text": ""}, "empty text in field 'text'"),
        ({"text": " \n\t "}, "empty text in field 'text'"),
        ({"text": 12}, "field 'text' must be a string, got integer"),
        ({"text": ["a", "b"]}, "field 'text' must be a string, got array"),
        ({"text": {"a": 1}}, "field 'text' must be a string, got object"),
        ({"text": math.nan}, "field 'text' must be a string, got number"),
        ({"text": BODY, "title": 3}, "field 'title' must be a string, got integer"),
        ({"text": BODY, "url": ["x"]}, "field 'url' must be a string, got array"),
        ({"text": BODY, "outlet": 5}, "field 'outlet' must be a string, got integer"),
        (
            {"text": "ab\ud800cd"},
            r"field 'text' is not valid Unicode \(lone surrogate at offset 2\)",
        ),
        (
            {"text": BODY, "title": "\udc80"},
            r"field 'title' is not valid Unicode \(lone surrogate at offset 0\)",
        ),
        ({"text": BODY, "url": "https://x.example/\ud83d"}, "field 'url' is not valid Unicode"),
        ({"text": BODY, "outlet": "\ud800"}, "field 'outlet' is not valid Unicode"),
        ({"text": BODY, "tags": ["ok", "\ud800"]}, "field 'tags' is not valid Unicode"),
    ],
)
def test_bad_records(record: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        article_from_record(record)


def test_text_is_kept_exactly() -> None:
    text = "  Line one\x00 with a NUL\r\n\nLine two  "
    a = article_from_record({"text": text, "title": "  Title  "})
    assert a.text == text
    assert a.title == "  Title  "
    assert article_from_record({"text": BODY}).title is None
    assert article_from_record({"text": BODY, "title": " "}).title is None


def test_empty_text_falls_back_to_the_next_field() -> None:
    a = article_from_record({"text": "", "maintext": BODY})
    assert a.text == BODY
    assert "text" not in a.extra


def test_non_record() -> None:
    with pytest.raises(ValueError, match="expected a JSON object, got array"):
        article_from_record([1, 2])  # type: ignore[arg-type]


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("None", None),
        ("null", None),
        ("2024-05-06", utc(2024, 5, 6)),
        ("2024-05-06T10:00:00Z", utc(2024, 5, 6, 10)),
        ("2024-05-06T10:00:00+02:00", utc(2024, 5, 6, 8)),
        ("2024-05-06 10:00:00", utc(2024, 5, 6, 10)),
        ("2017-02-17 10:40:35", utc(2017, 2, 17, 10, 40, 35)),
        ("20240506", utc(2024, 5, 6)),
        ("Mon, 06 May 2024 14:03:00 GMT", utc(2024, 5, 6, 14, 3)),
        ("Mon, 06 May 2024 14:03:00 +0200 (CEST)", utc(2024, 5, 6, 12, 3)),
        ("May 6, 2024", utc(2024, 5, 6)),
        ("6 May 2024 3pm EST", utc(2024, 5, 6, 20)),
        ("2024-05-06 10:00 GMT+2", utc(2024, 5, 6, 8)),
        ("05/06/2024", utc(2024, 5, 6)),  # month first
        ("06.05.2024", utc(2024, 5, 6)),  # day first where dates take dots
        ("6.5.24 10:00", utc(2024, 5, 6, 10)),
        ("13.05.2024", utc(2024, 5, 13)),
        ("2024.05.06", utc(2024, 5, 6)),
        (1714989600, utc(2024, 5, 6, 10)),
        (1714989600.5, utc(2024, 5, 6, 10, 0, 0, 500000)),
        (1714989600000, utc(2024, 5, 6, 10)),  # milliseconds
        ("1714989600", utc(2024, 5, 6, 10)),
        (dt.datetime(2024, 5, 6, 10), utc(2024, 5, 6, 10)),
        (dt.date(2024, 5, 6), utc(2024, 5, 6)),
    ],
)
def test_parse_date(value: object, expected: dt.datetime | None) -> None:
    got = parse_date(value)
    assert got == expected
    if got is not None:
        assert got.tzinfo is UTC or got.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("xyz", "unparseable date 'xyz'"),
        ("2024-02-30", "unparseable date '2024-02-30'"),
        ("2024-13-01", "unparseable date"),
        ("yesterday", "unparseable date"),
        ("2024-05", "incomplete date '2024-05'"),
        ("March 5", "incomplete date"),
        ("6 May 2024 10:00 XYZT", "unparseable date"),
        ("6 May 2024 10:00 IST", "unparseable date"),  # ambiguous: not guessed
        ("1700-01-01", "absurd date '1700-01-01'"),
        ("2300-01-01", "absurd date"),
        (1e20, "absurd date"),
        (-1e13, "absurd date"),
        (math.nan, "not a date: nan"),
        (math.inf, "not a date: inf"),
        (True, "not a date: True"),
        ([2024, 5, 6], "not a date: array"),
        ("x" * 500, "unparseable date"),
    ],
)
def test_parse_date_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_date(value)


def test_date_error_names_the_field() -> None:
    with pytest.raises(ValueError, match="unparseable date 'xyz' in field 'published'"):
        article_from_record({"text": BODY, "published": "xyz"})
    with pytest.raises(ValueError, match="not a date: nan in field 'date'"):
        article_from_record({"text": BODY, "date": math.nan})


# --- URLs and outlets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.COM/a/b/", "https://www.example.com/a/b"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/", "http://example.com/"),
        ("http://example.com:80/x", "http://example.com/x"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/x#comments", "https://example.com/x"),
        (
            "https://example.com/x?utm_source=tw&b=2&UTM_Medium=s&a=1&fbclid=9&gclid=8",
            "https://example.com/x?a=1&b=2",
        ),
        ("https://example.com/x?utm_source=tw", "https://example.com/x"),
        ("https://example.com/Path/Case", "https://example.com/Path/Case"),
        ("  https://example.com/x  ", "https://example.com/x"),
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        ("ftp://Example.com/x/", "ftp://Example.com/x/"),
        ("mailto:news@example.com", "mailto:news@example.com"),
        ("not a url", "not a url"),
        ("http://example.com:99999/", "http://example.com:99999/"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.dailymail.co.uk/news/x", "dailymail.co.uk"),
        ("https://news.bbc.co.uk/2/hi/x.stm", "bbc.co.uk"),
        ("https://EDITION.CNN.com/x", "cnn.com"),
        ("www.nytimes.com/2024/x", "nytimes.com"),
        ("https://someblog.blogspot.com/p", "someblog.blogspot.com"),
        ("http://127.0.0.1:8000/x", "127.0.0.1"),
        ("http://localhost/x", "localhost"),
        ("", None),
        ("https:///nohost", None),
    ],
)
def test_outlet_from_url(url: str, expected: str | None) -> None:
    assert outlet_from_url(url) == expected


def test_outlets_need_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    fields._extractor.cache_clear()
    try:
        assert outlet_from_url("https://www.lemonde.fr/x") == "lemonde.fr"
    finally:
        fields._extractor.cache_clear()


# --- metadata ----------------------------------------------------------------------------------


def test_metadata() -> None:
    md = parse_metadata(
        {
            "url": "https://www.cnn.com/x",
            "published": "2024-05-06",
            "text": "ignored",
            "desk": "metro",
            "title": "",
        }
    )
    assert md == Metadata(
        {"url": "https://www.cnn.com/x", "published": utc(2024, 5, 6)}, {"desk": "metro"}
    )
    a = Article("a", BODY, url="https://old.example/x", outlet="old.example", extra={"k": 1})
    b = apply_metadata(a, md)
    assert (b.id, b.url, b.outlet, b.published, b.title) == (
        "a",
        "https://www.cnn.com/x",
        "cnn.com",
        utc(2024, 5, 6),
        None,
    )
    assert b.extra == {"k": 1, "desk": "metro"}
    # an outlet given explicitly survives a new URL
    c = apply_metadata(Article("a", BODY, url="https://old.example/x", outlet="Old Paper"), md)
    assert c.outlet == "Old Paper"
    with pytest.raises(ValueError, match="unparseable date 'soon' in field 'published'"):
        parse_metadata({"published": "soon"})


def test_a_record_that_contains_itself_is_refused_and_a_shared_value_is_not() -> None:
    record: dict[str, object] = {"id": "c", "text": "Circular."}
    record["meta"] = {"parent": record}
    with pytest.raises(ValueError, match="field 'meta' contains itself"):
        article_from_record(record)
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="field 'tags' contains itself"):
        article_from_record({"text": "A list inside itself.", "tags": loop})
    shared = ["x", "y"]
    a = article_from_record({"text": "Shared.", "a": shared, "b": {"c": shared, "d": shared}})
    assert a.extra == {"a": ["x", "y"], "b": {"c": ["x", "y"], "d": ["x", "y"]}}


def test_keys_that_are_not_strings_are_refused() -> None:
    with pytest.raises(ValueError, match="field name 1 is not a string but integer"):
        article_from_record({"text": "Mixed keys.", 1: "one"})
    with pytest.raises(
        ValueError, match=r"field 'meta' has a key that is not a string \(integer 2\)"
    ):
        article_from_record({"text": "Nested.", "meta": {2: "two"}})
