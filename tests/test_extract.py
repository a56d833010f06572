"""HTML pages and WARC files as input: extraction, metadata, skips and their counts, streaming,
and furniture the extractor keeps being removed by recurrence across an outlet's pages."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner
from sites import FURNITURE, STORIES, page, warc

from dedupe import Tracker
from dedupe.cli import cli
from dedupe.extract import decode_html, media_type, payload_digest
from dedupe.model import Article
from dedupe.readers import BadRecord, Skipped, read_inputs

pytest.importorskip("trafilatura", reason="HTML input needs the html extra (trafilatura)")

UTC = dt.timezone.utc


def read(*inputs: str | Path, **kw: object) -> list[Article | BadRecord | Skipped]:
    return list(read_inputs([str(i) for i in inputs], **kw))  # type: ignore[arg-type]


def only_articles(items: list[Article | BadRecord | Skipped]) -> list[Article]:
    assert all(isinstance(i, Article) for i in items), [str(i) for i in items]
    return items  # type: ignore[return-value]


# --- HTML pages ---------------------------------------------------------------------------------


def test_a_page_gives_its_text_and_metadata(tmp_path: Path) -> None:
    p = tmp_path / "river.html"
    p.write_text(page("www.a.example", "river", date="2024-05-03"), encoding="utf-8")
    (a,) = only_articles(read(p))
    assert a.id == "river"
    assert a.source == str(p)
    assert a.url == "https://www.a.example/news/river"  # the canonical link
    assert a.outlet == "a.example"
    assert a.title == "River floods the lower town"
    assert a.published == dt.datetime(2024, 5, 3, 8, tzinfo=UTC)
    assert a.extra["site_name"] == "Www News"
    for paragraph in STORIES["river"][1]:
        assert paragraph in a.text
    assert FURNITURE in a.text  # the extractor keeps it: recurrence must remove it
    assert "Sport" not in a.text and "All rights reserved" not in a.text


def test_gzipped_pages_and_htm(tmp_path: Path) -> None:
    (tmp_path / "a.html.gz").write_bytes(gzip.compress(page("a.example", "bridge").encode()))
    (tmp_path / "b.htm").write_text(page("a.example", "school"), encoding="utf-8")
    out = only_articles(read(tmp_path))
    assert [a.id for a in out] == ["a", "b"]
    assert out[0].title == "New bridge opens to traffic"


def test_a_page_without_url_takes_its_site_name_as_outlet(tmp_path: Path) -> None:
    p = tmp_path / "saved.html"
    p.write_text(page("a.example", "river", canonical=False, site_name="Valley Post"), "utf-8")
    (a,) = only_articles(read(p))
    assert a.url is None
    assert a.outlet == "Valley Post"


def test_meta_gives_a_page_its_url(tmp_path: Path) -> None:
    p = tmp_path / "saved.html"
    p.write_text(page("a.example", "river", canonical=False), "utf-8")
    meta = tmp_path / "meta.jsonl"
    meta.write_text('{"file": "saved.html", "url": "https://c.example/x"}\n', encoding="utf-8")
    (a,) = only_articles(read(p, meta=str(meta)))
    assert (a.url, a.outlet) == ("https://c.example/x", "c.example")


def test_a_page_without_article_text_is_skipped_not_bad(tmp_path: Path) -> None:
    p = tmp_path / "index.html"
    p.write_text('<!DOCTYPE html><html><body><img src="a.png"></body></html>', encoding="utf-8")
    (s,) = read(p)
    assert isinstance(s, Skipped)
    assert str(s) == f"{p}: no article text: the extractor found no article text"


def test_declared_charsets_win_over_guessing() -> None:
    body = "<html><head><meta charset='iso-8859-1'></head><body><p>Köln – €</p></body></html>"
    assert decode_html(body.encode("cp1252")) == body
    assert decode_html("Köln".encode("latin-1"), "ISO-8859-1") == "Köln"
    assert decode_html("Köln".encode()) == "Köln"
    assert decode_html(b"\xef\xbb\xbfK\xc3\xb6ln") == "Köln"
    assert decode_html(b"K\xf6ln \x81", "windows-1252") == "K\xf6ln \x81"  # cp1252 gap
    assert decode_html(b"K\xf6ln", "utf-8") == b"K\xf6ln"  # nothing fits: trafilatura guesses
    assert media_type('text/html; charset="UTF-8"') == ("text/html", "UTF-8")
    assert media_type(None) == (None, None)


def test_a_latin1_page_reads_right(tmp_path: Path) -> None:
    html = page("a.example", "river").replace('charset="utf-8"', 'charset="iso-8859-1"')
    html = html.replace("lower town.", "lower town of Köln.")
    p = tmp_path / "old.html"
    p.write_bytes(html.encode("latin-1"))
    (a,) = only_articles(read(p))
    assert "lower town of Köln." in a.text


def test_furniture_the_extractor_keeps_goes_by_recurrence(tmp_path: Path) -> None:
    slugs = ["river", "bridge", "school", "market"]
    for i, slug in enumerate(slugs):
        (tmp_path / f"{slug}.html").write_text(
            page("a.example", slug, date=f"2024-05-0{i + 1}"), encoding="utf-8"
        )
    pages = only_articles(read(tmp_path))
    with Tracker(":memory:") as t:
        t.add_many(pages)
        for r in t.results():
            assert FURNITURE not in r.text
            (cut,) = r.removed
            assert cut.verdict == "boilerplate"
            assert cut.reason == "recurs in 4 articles of this outlet"
            assert r.article.text[cut.start : cut.end].strip() == FURNITURE
            slug = r.article.id
            assert r.text == "\n".join([STORIES[slug][0], *STORIES[slug][1]])


# --- WARC ---------------------------------------------------------------------------------------

warcio = pytest.importorskip("warcio", reason="WARC input needs the warc extra (warcio)")
from warcio.archiveiterator import ArchiveIterator  # noqa: E402


def crawl() -> bytes:
    a_river = page("a.example", "river", date="2024-05-01").encode()
    return warc(
        [
            ("warcinfo", "", b"software: test\r\n", "application/warc-fields", ""),
            ("request", "https://a.example/news/river", b"", "", ""),
            (
                "response",
                "https://a.example/news/river",
                a_river,
                "text/html; charset=utf-8",
                "200 OK",
            ),
            ("response", "https://a.example/logo.png", b"\x89PNG\r\n\x1a\n", "image/png", "200 OK"),
            ("response", "https://a.example/news/river?ref=home", a_river, "text/html", "200 OK"),
            (
                "response",
                "https://a.example/gone",
                b"<html>404</html>",
                "text/html",
                "404 Not Found",
            ),
            (
                "response",
                "https://b.example/wire",
                page("b.example", "wire").encode(),
                "text/html",
                "200 OK",
            ),
            ("revisit", "https://a.example/news/river", b"", "application/http", ""),
        ]
    )


def test_warc_html_responses_become_articles(tmp_path: Path) -> None:
    p = tmp_path / "crawl.warc.gz"
    data = crawl()
    p.write_bytes(data)
    out = read(p)
    arts = [a for a in out if isinstance(a, Article)]
    skipped = [s for s in out if isinstance(s, Skipped)]
    assert [a.url for a in arts] == ["https://a.example/news/river", "https://b.example/wire"]
    assert [(s.line, s.reason) for s in skipped] == [
        (4, "not HTML"),
        (5, "duplicate payload"),
        (6, "HTTP status"),
        (8, "revisit"),
    ]
    assert "same payload as <urn:uuid:" in skipped[1].detail
    assert str(skipped[0]) == f"{p}, record 4: not HTML: image/png at https://a.example/logo.png"
    river = arts[0]
    assert river.outlet == "a.example"
    assert river.published == dt.datetime(2024, 5, 1, 8, tzinfo=UTC)  # from the page, not WARC-Date
    assert river.source == str(p)
    assert river.id.startswith("u")  # from the URL: a later capture of the page is "known"
    fetched = dt.datetime.fromisoformat(river.extra["fetched"].replace("Z", "+00:00"))
    assert abs(fetched - dt.datetime.now(UTC)) < dt.timedelta(minutes=10)
    # offset and length fetch the very record back, as a CDX index would
    off, length = river.extra["warc_offset"], river.extra["warc_length"]
    (rec,) = list(ArchiveIterator(io.BytesIO(data[off : off + length])))
    assert rec.rec_headers.get_header("WARC-Record-ID") == river.extra["warc_record_id"]
    assert rec.rec_headers.get_header("WARC-Target-URI") == river.url


def test_uncompressed_and_unnamed_warcs_are_recognized(tmp_path: Path) -> None:
    plain = tmp_path / "crawl.warc"
    wire = page("b.example", "wire").encode()
    plain.write_bytes(
        warc([("response", "https://b.example/w", wire, "text/html", "200 OK")], gzip=False)
    )
    unnamed = tmp_path / "download"
    unnamed.write_bytes(crawl())
    assert [a.url for a in read(plain) if isinstance(a, Article)] == ["https://b.example/w"]
    assert len([a for a in read(unnamed) if isinstance(a, Article)]) == 2


def test_warc_from_stdin() -> None:
    out = read("-", stdin=io.BytesIO(crawl()))
    assert len([a for a in out if isinstance(a, Article)]) == 2
    assert all(a.source == "<stdin>" for a in out if isinstance(a, Article))


def test_payload_digest_is_checked_even_when_the_header_is_missing() -> None:
    body = b"<html><body><p>x</p></body></html>"
    assert payload_digest(body).startswith("sha1:") and len(payload_digest(body)) == 37
    (rec,) = list(
        ArchiveIterator(
            io.BytesIO(warc([("response", "https://a.example/", body, "text/html", "200 OK")]))
        )
    )
    assert rec.rec_headers.get_header("WARC-Payload-Digest") == payload_digest(body)


def test_a_payload_seen_in_an_earlier_file_is_a_duplicate(tmp_path: Path) -> None:
    (tmp_path / "1.warc.gz").write_bytes(crawl())
    (tmp_path / "2.warc.gz").write_bytes(crawl())
    out = read(tmp_path)
    assert len([a for a in out if isinstance(a, Article)]) == 2
    assert sum(isinstance(s, Skipped) and s.reason == "duplicate payload" for s in out) == 4


def test_a_broken_warc_keeps_what_came_before(tmp_path: Path) -> None:
    data = crawl()
    p = tmp_path / "cut.warc.gz"
    p.write_bytes(data[: len(data) - 200])
    out = read(p)
    assert isinstance(out[0], Article)
    assert isinstance(out[-1], BadRecord) and out[-1].source == str(p)


def test_a_payload_over_the_limit_is_a_bad_record(tmp_path: Path) -> None:
    p = tmp_path / "big.warc"
    p.write_bytes(
        warc(
            [
                (
                    "response",
                    "https://a.example/big",
                    page("a.example", "river").encode(),
                    "text/html",
                    "200 OK",
                )
            ],
            gzip=False,
        )
    )
    (b,) = read(p, max_bytes=500)
    assert isinstance(b, BadRecord)
    assert b.problem.endswith("payload over the limit of 500 bytes; raise --max-bytes")


def test_memory_does_not_grow_with_the_warc(tmp_path: Path) -> None:
    filler = b"\x00" * 200_000
    records = []
    for i in range(60):
        records.append(
            (
                "response",
                f"https://a.example/img{i}.bin",
                filler + bytes([i]),
                "application/octet-stream",
                "200 OK",
            )
        )
        slug = list(STORIES)[i % len(STORIES)]
        body = page("a.example", slug).replace(
            "</article>", f"<p>Item number {i} of the day.</p></article>"
        )
        records.append(
            ("response", f"https://a.example/p{i}", body.encode(), "text/html", "200 OK")
        )
    p = tmp_path / "big.warc"
    p.write_bytes(warc(records, gzip=False))
    assert p.stat().st_size > 12_000_000
    tracemalloc.start()
    try:
        n = sum(isinstance(a, Article) for a in read_inputs([str(p)]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 60
    assert peak < 4_000_000, peak


def test_clean_reports_skipped_records_on_stderr(tmp_path: Path) -> None:
    p = tmp_path / "crawl.warc.gz"
    p.write_bytes(crawl())
    r = CliRunner().invoke(cli, ["clean", "--db", ":memory:", str(p)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 2
    assert "2 articles added" in r.stderr
    assert f"skipped 1 record(s), not HTML; first: {p}, record 4: not HTML: image/png" in r.stderr
    assert "skipped 1 record(s), duplicate payload" in r.stderr
