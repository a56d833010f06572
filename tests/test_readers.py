"""Input files to articles: formats, folders, sidecars, --meta, stdin and every kind of bad input."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import itertools
import json
import sys
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe.model import Article
from dedupe.readers import MAX_JSON_DEPTH, STDIN_SOURCE, BadRecord, read_inputs

UTC = dt.timezone.utc
BODY = "The city council approved the new budget on Tuesday after a long debate."


def read(*inputs: str | Path, **kw: object) -> list[Article | BadRecord]:
    return list(read_inputs([str(i) for i in inputs], **kw))  # type: ignore[arg-type]


def articles(items: list[Article | BadRecord]) -> list[Article]:
    assert all(isinstance(i, Article) for i in items), [
        str(i) for i in items if isinstance(i, BadRecord)
    ]
    return items  # type: ignore[return-value]


def bad(items: list[Article | BadRecord]) -> list[str]:
    return [str(i) for i in items if isinstance(i, BadRecord)]


def jsonl(path: Path, *records: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_bad_record_str() -> None:
    assert str(BadRecord("a.jsonl", 3, "invalid JSON")) == "a.jsonl, line 3: invalid JSON"
    assert str(BadRecord("a.txt", None, "empty file")) == "a.txt: empty file"
    assert str(BadRecord("a.json", 2, "missing text", "record")) == "a.json, record 2: missing text"


# --- plain text, sidecars, folders ---------------------------------------------------------------


def test_text_file(tmp_path: Path) -> None:
    p = tmp_path / "story-1.txt"
    p.write_bytes(b"\xef\xbb\xbfFirst line.\r\nSecond line.\r\n")
    (a,) = articles(read(p))
    assert a.id == "story-1"
    assert a.source == str(p)
    assert a.text == "First line.\nSecond line.\n"
    assert (a.title, a.url, a.outlet, a.published) == (None, None, None, None)


def test_sidecar(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Heading\n\n" + BODY, encoding="utf-8")
    (tmp_path / "a.json").write_text(
        json.dumps(
            {
                "url": "https://www.latimes.com/x",
                "published": "2024-05-06",
                "title": "T",
                "published_approx": "2024-05",
            }
        ),
        encoding="utf-8",
    )
    (a,) = articles(read(tmp_path))  # the sidecar is not read as an article
    assert a.id == "a"
    assert a.source == str(tmp_path / "a.md")
    assert (a.url, a.outlet, a.published, a.title) == (
        "https://www.latimes.com/x",
        "latimes.com",
        dt.datetime(2024, 5, 6, tzinfo=UTC),
        "T",
    )
    assert a.extra == {"published_approx": "2024-05"}


def test_sidecar_given_explicitly_with_its_text_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "a.json").write_text('{"outlet": "x.example"}', encoding="utf-8")
    (a,) = articles(read(tmp_path / "a.txt", tmp_path / "a.json"))
    assert a.outlet == "x.example"


def test_bad_sidecar(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "a.json").write_text('{"published": "someday"}', encoding="utf-8")
    (tmp_path / "b.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "b.json").write_text("[1]", encoding="utf-8")
    out = read(tmp_path)
    assert bad(out) == [
        f"{tmp_path / 'a.json'}: unparseable date 'someday' in field 'published'",
        f"{tmp_path / 'b.json'}: expected a JSON object, got array",
    ]


def test_folder_order_and_skipping(tmp_path: Path) -> None:
    files = {
        "b.txt": BODY,
        "a.txt": BODY + " a",
        "a.json": '{"title": "sidecar"}',
        "sub/z.txt": BODY + " z",
        "sub/index.txt": BODY + " sub index",
        "index.txt": BODY + " index",
        "c.jsonl": json.dumps({"id": "c1", "text": BODY}) + "\n",
        "README.md": "read me",
        "readme.txt": "read me",
        "LICENSE.txt": "license",
        "truth.gt.json": '{"text": "gold"}',
        ".hidden.txt": "hidden",
        ".git/config.txt": "hidden dir",
        "picture.png": "\x89PNG",
        "notes.docx": "x",
    }
    for name, content in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content, encoding="utf-8")
    out = articles(read(tmp_path))
    assert [a.id for a in out] == ["a", "b", "c1", "index", "sub/index", "sub/z"]
    assert out[0].title == "sidecar"
    assert out[4].source == str(tmp_path / "sub" / "index.txt")
    assert [a.id for a in articles(read(tmp_path))] == [a.id for a in out]  # same order every time


def test_inputs_keep_their_order(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text(BODY, encoding="utf-8")
    jsonl(tmp_path / "y.jsonl", {"id": "y", "text": BODY})
    assert [a.id for a in articles(read(tmp_path / "y.jsonl", tmp_path / "x.txt"))] == ["y", "x"]


@pytest.fixture
def no_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide trafilatura and warcio, as on an install without the html and warc extras."""
    for name in ("trafilatura", "warcio", "warcio.archiveiterator"):
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: ImportError


@pytest.mark.usefixtures("no_extras")
@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("page.html", "html"),
        ("page.htm", "html"),
        ("crawl.warc", "warc"),
        ("crawl.warc.gz", "warc"),
    ],
)
def test_html_and_warc_need_the_extra(tmp_path: Path, name: str, extra: str) -> None:
    p = tmp_path / name
    p.write_bytes(b"<html></html>")
    (r,) = read(p)
    assert isinstance(r, BadRecord)
    assert r.source == str(p)
    assert r.problem == (
        f"{extra.upper()} input needs the {extra} extra: pip install 'news-dedupe[{extra}]'"
    )


@pytest.mark.usefixtures("no_extras")
def test_html_content_without_an_extension(tmp_path: Path) -> None:
    p = tmp_path / "page"
    p.write_text("<!DOCTYPE html><html><body>x</body></html>", encoding="utf-8")
    assert bad(read(p)) == [
        f"{p}: HTML input needs the html extra: pip install 'news-dedupe[html]'"
    ]


# --- bad files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.txt", b"  \n\n", "empty file (whitespace only)"),
        ("empty.json", b"", "empty file"),
        ("blank.json", b"\n\n", "empty file"),
        ("empty.jsonl", b"", "empty file"),
        ("blank.jsonl", b"\n \r\n", "empty file"),
        ("empty.csv", b"", "empty file"),
        ("nul.txt", b"Some text\x00\x01\x02 and more", "binary file, not text"),
        ("image.txt", bytes(range(256)) * 4, "binary file, not text"),
        (
            "latin1.txt",
            "Caf\xe9 au lait, d\xe9j\xe0 vu.".encode("latin-1"),
            "not valid UTF-8 at byte 3",
        ),
        (
            "utf16.txt",
            "Hello".encode("utf-16"),
            "not valid UTF-8 (it looks like UTF-16: convert it to UTF-8)",
        ),
        ("latin1.json", b'{"text": "caf\xe9"}', "not valid UTF-8 at byte 13"),
        ("scalar.json", b'"just a string"', "expected a JSON object or array, got string"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: bytes, problem: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    assert bad(read(p)) == [f"{p}: {problem}"]


def test_missing_input_is_a_bad_record_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text(BODY, encoding="utf-8")
    out = read(tmp_path / "nope.jsonl", tmp_path / "x.txt")
    assert str(out[0]) == f"{tmp_path / 'nope.jsonl'}: no such file or directory"
    assert isinstance(out[1], Article)


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * 101, encoding="utf-8")
    (tmp_path / "large.json").write_text(json.dumps({"text": "y" * 100}), encoding="utf-8")
    (tmp_path / "ok.txt").write_text("x" * 100, encoding="utf-8")
    out = read(tmp_path, max_bytes=100)
    assert bad(out) == [
        f"{tmp_path / 'big.txt'}: file is 101 bytes, over the limit of 100; raise --max-bytes",
        f"{tmp_path / 'large.json'}: file is 112 bytes, over the limit of 100; raise --max-bytes",
    ]
    assert [a.id for a in out if isinstance(a, Article)] == ["ok"]


# --- JSON Lines --------------------------------------------------------------------------------


def test_jsonl_records_and_errors_with_line_numbers(tmp_path: Path) -> None:
    p = tmp_path / "crawl.jsonl"
    lines = [
        json.dumps({"id": "r1", "text": BODY, "lang": "en"}),  # 1
        "",  # 2: blank, skipped
        '{"id": "r3", "text": ',  # 3
        "[1, 2]",  # 4
        json.dumps({"id": "r5", "title": "no text"}),  # 5
        json.dumps({"id": "r6", "text": 42}),  # 6
        json.dumps({"id": "r7", "text": BODY, "published": "xyz"}),  # 7
        '{"id": "r8", "text": NaN}',  # 8
        '{"id": "r9", "text": "ok", "date": NaN}',  # 9
        "[" * 100_000 + "]" * 100_000,  # 10
        '{"id": "r11", "text": "\\ud800 lone"}',  # 11
        json.dumps({"id": "r12", "text": BODY}),  # 12
    ]
    data = "\r\n".join(lines).encode("utf-8")
    data += b'\n{"id": "r13", "text": "caf\xe9"}\n'  # 13: Latin-1 byte
    p.write_bytes(data)
    out = read(p)
    assert [a.id for a in out if isinstance(a, Article)] == ["r1", "r12"]
    assert out[0].extra == {"lang": "en"}  # type: ignore[union-attr]
    offset = data.index(b"\xe9")
    assert bad(out) == [
        f"{p}, line 3: invalid JSON: Expecting value at column 22",
        f"{p}, line 4: expected a JSON object, got array",
        f"{p}, line 5: missing text field (looked for: text, maintext, body, content)",
        f"{p}, line 6: field 'text' must be a string, got integer",
        f"{p}, line 7: unparseable date 'xyz' in field 'published'",
        f"{p}, line 8: field 'text' must be a string, got number",
        f"{p}, line 9: not a date: nan in field 'date'",
        f"{p}, line 10: JSON nested too deeply (over {MAX_JSON_DEPTH} levels)",
        f"{p}, line 11: field 'text' is not valid Unicode (lone surrogate at offset 0)",
        f"{p}, line 13: not valid UTF-8 at byte {offset}",
    ]


def test_json_nesting_has_a_fixed_limit(tmp_path: Path) -> None:
    def nested(depth: int) -> str:
        inner = "[" * (depth - 1) + "]" * (depth - 1)  # the record itself is one level
        return f'{{"id": "{depth}", "text": "t", "x": {inner}, "s": "[[[[{{{{"}}'

    p = tmp_path / "x.jsonl"
    p.write_text("\n".join(nested(d) for d in (MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1)) + "\n")
    out = read(p)
    # json.loads alone would read both: the limit is ours, and the same at any stack depth
    assert [a.id for a in out if isinstance(a, Article)] == [str(MAX_JSON_DEPTH)]
    assert bad(out) == [f"{p}, line 2: JSON nested too deeply (over {MAX_JSON_DEPTH} levels)"]
    # brackets inside strings are text, not nesting
    many = "[" * (MAX_JSON_DEPTH + 1)
    p.write_text(json.dumps({"id": "s", "text": many, "x": [[many]]}) + "\n")
    assert [a.text for a in read(p) if isinstance(a, Article)] == [many]


def test_jsonl_record_over_the_size_limit(tmp_path: Path) -> None:
    p = jsonl(tmp_path / "x.ndjson", {"id": "a", "text": "x" * 200}, {"id": "b", "text": "short"})
    out = read(p, max_bytes=100)
    assert bad(out) == [
        f"{p}, line 1: record is 223 bytes, over the limit of 100; raise --max-bytes"
    ]
    assert [a.id for a in out if isinstance(a, Article)] == ["b"]


def test_jsonl_generated_ids_are_deterministic(tmp_path: Path) -> None:
    p = jsonl(tmp_path / "x.jsonl", {"text": BODY}, {"text": BODY, "url": "https://a.example/1"})
    first = [a.id for a in articles(read(p))]
    assert first == [a.id for a in articles(read(p))]
    assert first[0].startswith("t") and first[1].startswith("u")
    assert first[0] != first[1]


def test_gzip_jsonl(tmp_path: Path) -> None:
    payload = "".join(json.dumps({"id": f"g{i}", "text": BODY}) + "\n" for i in range(3)).encode()
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(payload))
    (tmp_path / "b.gz").write_bytes(gzip.compress(payload.replace(b'"g', b'"h')))  # format sniffed
    (tmp_path / "c.jsonl.gz").write_bytes(payload.replace(b'"g', b'"k'))  # not compressed after all
    assert [
        a.id
        for a in articles(read(tmp_path / "a.jsonl.gz", tmp_path / "b.gz", tmp_path / "c.jsonl.gz"))
    ] == [
        "g0",
        "g1",
        "g2",
        "h0",
        "h1",
        "h2",
        "k0",
        "k1",
        "k2",
    ]


def test_corrupt_gzip(tmp_path: Path) -> None:
    payload = "".join(
        json.dumps({"id": f"g{i}", "text": BODY * 50}) + "\n" for i in range(500)
    ).encode()
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(gzip.compress(payload)[:4000])
    out = read(p)
    assert all(isinstance(a, Article) for a in out[:-1])
    last = out[-1]
    assert isinstance(last, BadRecord) and last.source == str(p)
    assert last.line == len(out)  # the line being read when the data ran out
    assert "Compressed file ended" in last.problem
    (tmp_path / "junk.gz").write_bytes(b"\x1f\x8bnot gzip at all")
    assert bad(read(tmp_path / "junk.gz"))[0].startswith(
        f"{tmp_path / 'junk.gz'}: not a valid gzip file"
    )


def test_jsonl_is_streamed(tmp_path: Path) -> None:
    p = tmp_path / "big.jsonl"
    with p.open("w", encoding="utf-8") as f:
        for i in range(20_000):
            f.write(json.dumps({"id": f"r{i}", "text": BODY * 5}) + "\n")
    assert p.stat().st_size > 7_000_000
    tracemalloc.start()
    try:
        n = sum(1 for _ in read_inputs([str(p)]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 20_000
    assert peak < 2_000_000


class EndlessJsonl(io.RawIOBase):
    """A stream that never ends: reading it whole would hang."""

    def __init__(self) -> None:
        self.n = 0
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while len(self.pending) < len(buffer):
            self.n += 1
            self.pending += (json.dumps({"id": f"s{self.n}", "text": BODY}) + "\n").encode()
        n = len(buffer)
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def test_stdin_jsonl_is_streamed() -> None:
    stream = io.BufferedReader(EndlessJsonl())
    first = list(itertools.islice(read_inputs(["-"], stdin=stream), 3))  # type: ignore[arg-type]
    assert [a.id for a in first] == ["s1", "s2", "s3"]  # type: ignore[union-attr]


# --- JSON --------------------------------------------------------------------------------------


def test_json_object_and_array(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"id": "o", "text": BODY}, indent=2), encoding="utf-8")
    many = tmp_path / "many.json"
    many.write_text(
        json.dumps([{"id": "m1", "text": BODY}, "oops", {"id": "m3"}, {"id": "m4", "text": BODY}]),
        encoding="utf-8",
    )
    out = read(one, many)
    assert [a.id for a in out if isinstance(a, Article)] == ["o", "m1", "m4"]
    assert bad(out) == [
        f"{many}, record 2: expected a JSON object, got string",
        f"{many}, record 3: missing text field (looked for: text, maintext, body, content)",
    ]


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('[\n  {"text": "a"},\n  {"text": "b",}\n]\n', encoding="utf-8")
    assert bad(read(p)) == [
        f"{p}, line 3: invalid JSON: Expecting property name enclosed in double quotes at column 16"
    ]


def test_json_lines_under_a_json_name(tmp_path: Path) -> None:
    p = jsonl(tmp_path / "x.json", {"id": "a", "text": BODY}, {"id": "b", "text": BODY})
    assert [a.id for a in articles(read(p))] == ["a", "b"]


# --- CSV ---------------------------------------------------------------------------------------


def test_csv(tmp_path: Path) -> None:
    p = tmp_path / "feed.csv"
    p.write_text(
        "id,url,title,body,section\r\n"
        f"c1,https://www.example.com/a,Title one,{BODY},metro\r\n"
        'c2,,,"A quoted body,\nwith a line break",\r\n'
        "c3,https://www.example.com/c,T,only four fields\r\n"
        "c4,,,,\r\n"
        f"c5,,,{BODY},\r\n",
        encoding="utf-8",
    )
    out = read(p)
    good = [a for a in out if isinstance(a, Article)]
    assert [a.id for a in good] == ["c1", "c2", "c5"]
    assert good[0].extra == {"section": "metro"}
    assert good[0].outlet == "example.com"
    assert good[1].text == "A quoted body,\nwith a line break"
    assert good[1].url is None and good[1].extra == {}
    assert bad(out) == [
        f"{p}, line 5: row has 4 fields, the header has 5",
        f"{p}, line 6: missing text field (looked for: text, maintext, body, content)",
    ]


def test_csv_without_a_text_column(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("id,title\n1,x\n", encoding="utf-8")
    assert bad(read(p)) == [
        f"{p}, line 1: no text column (looked for: text, maintext, body, content)"
    ]
    assert [a.text for a in articles(read(p, fields={"text": "title"}))] == ["x"]


def test_csv_invalid_utf8(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    data = b"id,text\n1,fine\n2,caf\xe9\n"
    p.write_bytes(data)
    out = read(p)
    assert [a.id for a in out if isinstance(a, Article)] == ["1"]
    offset = data.index(b"\xe9")
    assert bad(out) == [f"{p}, line 3: not valid UTF-8 at byte {offset}"]


def test_csv_long_fields(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("id,text\n1," + "w " * 200_000 + "\n", encoding="utf-8")
    (a,) = articles(read(p))
    assert len(a.text) == 400_000


# --- stdin -------------------------------------------------------------------------------------


def test_stdin_sniffing() -> None:
    arr = io.BytesIO(json.dumps([{"id": "a", "text": BODY}, {"id": "b", "text": BODY}]).encode())
    assert [a.id for a in articles(read("-", stdin=arr))] == ["a", "b"]
    lines = io.BytesIO(b'{"id": "c", "text": "x"}\n{"id": "d", "text": "y"}\n')
    assert [a.id for a in articles(read("-", stdin=lines))] == ["c", "d"]
    pretty = io.BytesIO(json.dumps({"id": "e", "text": BODY}, indent=2).encode())
    assert [a.id for a in articles(read("-", stdin=pretty))] == ["e"]
    (t,) = articles(read("-", stdin=io.BytesIO(b"Just some text.\n")))
    assert (t.id, t.text, t.source) == ("stdin", "Just some text.\n", STDIN_SOURCE)
    gz = io.BytesIO(gzip.compress(b'{"id": "f", "text": "z"}\n'))
    assert [a.id for a in articles(read("-", stdin=gz))] == ["f"]


def test_stdin_problems() -> None:
    assert bad(read("-", stdin=io.BytesIO(b""))) == ["<stdin>: empty input"]
    assert bad(read("-")) == ["<stdin>: standard input is not available"]
    out = read("-", "-", stdin=io.BytesIO(b"text"))
    assert bad(out) == ["<stdin>: standard input given more than once"]
    assert bad(read("-", stdin=io.BytesIO(b'{"id": 1, "text": "x"}\n{"id": 2}\n'))) == [
        "<stdin>, line 2: missing text field (looked for: text, maintext, body, content)"
    ]


# --- --meta ------------------------------------------------------------------------------------


def test_meta_jsonl_by_file_and_by_id(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(BODY, encoding="utf-8")
    (docs / "b.txt").write_text(BODY + " b", encoding="utf-8")
    (docs / "c.txt").write_text(BODY + " c", encoding="utf-8")
    records = jsonl(tmp_path / "records.jsonl", {"id": "r1", "text": BODY})
    meta = jsonl(
        tmp_path / "meta.jsonl",
        {"file": "a.txt", "url": "https://www.wsj.com/a", "desk": "metro"},
        {"file": "b", "outlet": "B Paper", "published": "2024-05-06T10:00:00-04:00"},
        {"id": "r1", "title": "From meta"},
    )
    out = articles(read(docs, records, meta=str(meta)))
    a, b, c, r1 = out
    assert (a.id, a.url, a.outlet, a.extra) == (
        "a",
        "https://www.wsj.com/a",
        "wsj.com",
        {"desk": "metro"},
    )
    assert (b.outlet, b.published) == ("B Paper", dt.datetime(2024, 5, 6, 14, tzinfo=UTC))
    assert (c.outlet, c.url) == (None, None)
    assert r1.title == "From meta"


def test_meta_overrides_the_sidecar(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "a.json").write_text(
        '{"title": "sidecar", "outlet": "side.example"}', encoding="utf-8"
    )
    meta = tmp_path / "meta.csv"
    meta.write_text("file,title,outlet\na.txt,from meta,\n", encoding="utf-8")
    (a,) = articles(read(tmp_path / "a.txt", meta=str(meta)))
    assert (a.title, a.outlet) == ("from meta", "side.example")


def test_meta_csv(tmp_path: Path) -> None:
    (tmp_path / "x1.md").write_text(BODY, encoding="utf-8")
    meta = tmp_path / "meta.csv"
    meta.write_text(
        "id,url,published\nx1,https://apnews.com/article/x,2024-05-06\n", encoding="utf-8"
    )
    (a,) = articles(read(tmp_path / "x1.md", meta=str(meta)))
    assert (a.url, a.outlet, a.published) == (
        "https://apnews.com/article/x",
        "apnews.com",
        dt.datetime(2024, 5, 6, tzinfo=UTC),
    )


def test_bad_meta(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(BODY, encoding="utf-8")
    meta = tmp_path / "meta.jsonl"
    meta.write_text(
        '{"file": "a.txt", "title": "ok"}\n'
        "not json\n"
        '{"title": "no key"}\n'
        '{"id": "z", "published": "nope"}\n'
        '{"file": "a.txt", "title": "again"}\n',
        encoding="utf-8",
    )
    out = read(tmp_path / "a.txt", meta=str(meta))
    assert bad(out) == [
        f"{meta}, line 2: invalid JSON: Expecting value at column 1",
        f"{meta}, line 3: metadata record needs an 'id' or a 'file' field",
        f"{meta}, line 4: unparseable date 'nope' in field 'published'",
        f"{meta}, line 5: duplicate file 'a.txt' (also on line 1)",
    ]
    assert out[-1].title == "ok"  # type: ignore[union-attr]
    csv_meta = tmp_path / "m.csv"
    csv_meta.write_text("name,title\na,b\n", encoding="utf-8")
    assert bad(read(tmp_path / "a.txt", meta=str(csv_meta))) == [
        f"{csv_meta}, line 1: metadata needs an 'id' or a 'file' column"
    ]


# --- options -----------------------------------------------------------------------------------


def test_options_are_checked_before_reading() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        read_inputs(["x"], preset="nope")
    with pytest.raises(ValueError, match="unknown field concept"):
        read_inputs(["x"], fields={"body": "x"})


def test_preset_and_fields_apply(tmp_path: Path) -> None:
    p = jsonl(
        tmp_path / "x.jsonl", {"story": BODY, "link": "https://www.ft.com/x", "maintext": "other"}
    )
    (a,) = articles(read(p, fields={"text": "story", "url": "link"}))
    assert (a.text, a.outlet, a.extra) == (BODY, "ft.com", {"maintext": "other"})
    assert bad(read(p, preset="native")) == [f"{p}, line 1: missing text field (looked for: text)"]


# --- property: nothing raises, no valid record is lost -------------------------------------------

extra_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
valid_records = st.fixed_dictionaries(
    {"text": st.text(min_size=1).filter(lambda s: s.strip())},
    optional={
        "title": st.text(),
        "id": st.text(min_size=1).filter(lambda s: s.strip()),
        "x_extra": extra_values,
    },
)
junk_lines = st.one_of(
    st.binary(max_size=60), st.text(max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass"))
)
# a valid record is written with or without ASCII escapes; junk is anything at all
valid_lines = st.tuples(valid_records, st.booleans())
lines = st.lists(st.one_of(valid_lines, junk_lines), max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines, st.sampled_from([b"\n", b"\r\n"]))
def test_jsonl_never_raises_and_keeps_every_valid_record(
    items: list[tuple[dict, bool] | bytes], newline: bytes
) -> None:
    data = newline.join(
        json.dumps(i[0], ensure_ascii=i[1]).encode("utf-8") if isinstance(i, tuple) else i
        for i in items
    )
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "fuzz.jsonl"
        p.write_bytes(data)
        out = list(read_inputs([str(p)]))
    assert all(isinstance(o, (Article, BadRecord)) for o in out)
    got = iter([(o.text, o.extra.get("x_extra")) for o in out if isinstance(o, Article)])
    for rec, _ in (i for i in items if isinstance(i, tuple)):
        want = (rec["text"], rec.get("x_extra"))
        assert any(g == want for g in got), f"lost {rec!r}"  # in order: a subsequence
