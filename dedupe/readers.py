"""Input files to articles: text and Markdown files, JSON, JSON Lines, CSV, HTML, WARC, gzip,
stdin.

:func:`read_inputs` yields an :class:`~dedupe.model.Article` per good record and a
:class:`BadRecord` per bad one, in a deterministic order, and never raises for bad input:
the caller decides whether a bad record stops the run. Web pages and WARC records that are
no article (images, redirects, copies of a payload already read) come out as
:class:`Skipped` notices, to be counted. JSON Lines, CSV and WARC are streamed, so memory
does not grow with the size of a file. HTML and WARC need the ``html`` / ``warc`` extras
(:mod:`dedupe.extract`); without them each such file is one BadRecord naming the pip line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from dedupe import extract
from dedupe.fields import (
    Metadata,
    apply_metadata,
    article_from_record,
    field_names,
    parse_metadata,
    type_name,
)
from dedupe.model import Article

STDIN_SOURCE = "<stdin>"
"""The ``source`` of articles and bad records read from standard input."""
STDIN_ID = "stdin"
"""The id of a plain-text article read from standard input."""

_HEAD = 8192
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"
_TEXT_EXTS = (".txt", ".md")
_KINDS = {
    ".txt": "text",
    ".md": "text",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
    ".warc": "warc",
}
_LINE_ENDINGS = b"\r\n"
#: Characters of a bad record kept in :attr:`BadRecord.raw`.
MAX_RAW_CHARS = 10_000
#: Nesting a JSON record may have. Deeper ones are refused before parsing, so the answer
#: never depends on how deep the caller's own stack is (Python's recursion limit would).
MAX_JSON_DEPTH = 512
_JSON_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _raw(value: Any) -> str | None:
    """A bad record as text for quarantine: bytes decoded (bad bytes escaped), other values as
    JSON; cut to MAX_RAW_CHARS, never failing."""
    try:
        if isinstance(value, (bytes, bytearray)):
            text = bytes(value[: MAX_RAW_CHARS * 4]).decode("utf-8", "backslashreplace")
        else:
            text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        text = repr(value)[:MAX_RAW_CHARS]
    return text[:MAX_RAW_CHARS].encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class BadRecord:
    """A record or file that could not be read: where it is and what is wrong with it.

    ``line`` counts lines (JSON Lines, CSV, a JSON syntax error) or, when ``unit`` is
    "record", the position of an element in a JSON array; both start at 1."""

    source: str
    line: int | None
    problem: str
    unit: str = "line"
    #: The record as read (a bad line's text, or the record as JSON), cut to
    #: :data:`MAX_RAW_CHARS`, so a caller can quarantine it; None for a whole-file problem.
    raw: str | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.source}: {self.problem}"
        return f"{self.source}, {self.unit} {self.line}: {self.problem}"


@dataclass(frozen=True)
class Skipped:
    """A record left out on purpose, not an error: a WARC record that is no article (an
    image, a redirect, a revisit), a byte-identical copy of a payload already read, or a page
    with no article text. ``reason`` is a short category to count by; ``detail`` says more."""

    source: str
    line: int | None
    reason: str
    detail: str
    unit: str = "record"

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}, {self.unit} {self.line}"
        return f"{where}: {self.reason}: {self.detail}"


_Item = Article | BadRecord | Skipped


class _Problem(Exception):
    """Raised inside a reader to end the current file with one BadRecord."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


@dataclass(frozen=True)
class _Doc:
    """What a plain-text article takes from its file: id, sidecar, names --meta may use."""

    id: str
    sidecar: str | None = None
    keys: tuple[str, ...] = ()


@dataclass
class _MetaIndex:
    """--meta records by article id and by file name."""

    by_id: dict[str, Metadata]
    by_file: dict[str, Metadata]

    def for_file(self, keys: Iterable[str]) -> Metadata | None:
        for k in keys:
            md = self.by_file.get(k)
            if md is not None:
                return md
        return None


@dataclass(frozen=True)
class _Context:
    preset: str
    fields: dict[str, str] | None
    max_bytes: int
    meta: _MetaIndex | None
    text_fields: tuple[str, ...]
    max_chars: int | None = None
    payloads: _SeenPayloads = field(default_factory=lambda: _SeenPayloads())


class _SeenPayloads:
    """WARC payload digests already read (across all inputs), each with the record that had
    it first. Bounded: past ``limit`` the oldest are forgotten, so memory stays flat on huge
    crawls; a copy found later is still caught by the store's content check."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._first: dict[str, str] = {}

    def first(self, digest: str) -> str | None:
        return self._first.get(digest)

    def add(self, digest: str, record: str) -> None:
        if len(self._first) >= self.limit:
            del self._first[next(iter(self._first))]  # dicts keep insertion order
        self._first[digest] = record


def read_inputs(
    inputs: Sequence[str],
    *,
    meta: str | None = None,
    preset: str = "auto",
    fields: dict[str, str] | None = None,
    stdin: BinaryIO | None = None,
    max_bytes: int = 20_000_000,
    max_chars: int | None = None,
) -> Iterator[Article | BadRecord | Skipped]:
    """Articles from files, folders and "-" in order, a BadRecord for each unreadable record
    (and for each article whose text is longer than ``max_chars``, if given), and a Skipped
    notice for each web page or WARC record left out on purpose (HTML and WARC input only)."""
    # Bad input never raises; an unknown preset or field concept raises ValueError right here.
    mapping = field_names(preset, fields)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    if isinstance(inputs, (str, bytes)):
        raise TypeError("inputs must be a sequence of paths, not one string")
    return _read_all(
        list(inputs), meta, preset, fields, stdin, max_bytes, mapping["text"], max_chars
    )


def _read_all(
    inputs: list[str],
    meta: str | None,
    preset: str,
    fields: dict[str, str] | None,
    stdin: BinaryIO | None,
    max_bytes: int,
    text_fields: tuple[str, ...],
    max_chars: int | None = None,
) -> Iterator[_Item]:
    index: _MetaIndex | None = None
    if meta is not None:
        index = _MetaIndex({}, {})
        yield from _guarded(meta, _load_meta(meta, index, max_bytes))
    ctx = _Context(
        preset, dict(fields) if fields else None, max_bytes, index, text_fields, max_chars
    )
    explicit_sidecars = {
        _sidecar_key(_sidecar_path(p))
        for p in inputs
        if p != "-" and _is_text_name(os.path.basename(p))
    }
    stdin_used = False
    for inp in inputs:
        if inp == "-":
            if stdin is None:
                yield BadRecord(STDIN_SOURCE, None, "standard input is not available")
            elif stdin_used:
                yield BadRecord(STDIN_SOURCE, None, "standard input given more than once")
            else:
                stdin_used = True
                yield from _guarded(STDIN_SOURCE, _read_stdin(stdin, ctx))
        elif os.path.isdir(inp):
            yield from _read_folder(inp, ctx)
        elif not os.path.exists(inp):
            yield BadRecord(inp, None, "no such file or directory")
        elif inp.lower().endswith(".json") and _sidecar_key(inp) in explicit_sidecars:
            continue  # the metadata of a text file that is also an input
        else:
            yield from _guarded(inp, _read_file(inp, inp, inp, ctx))


def _guarded(source: str, records: Iterator[_Item]) -> Iterator[_Item]:
    """Whatever ends a file early as one BadRecord naming it, so the caller's loop goes on."""
    try:
        yield from records
    except _Problem as e:
        yield BadRecord(source, e.line, e.problem)
    except RecursionError:
        yield BadRecord(source, None, "JSON nested too deeply")
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        yield BadRecord(source, None, f"not a valid gzip file: {e}")
    except OSError as e:
        yield BadRecord(source, None, f"cannot read: {e.strerror or e}")
    except Exception as e:  # a reader must not stop the caller's loop
        yield BadRecord(source, None, f"cannot read: {type(e).__name__}: {e}")


# --- folders --------------------------------------------------------------------------------


def _skipped_name(name: str) -> bool:
    low = name.lower()
    return (
        name.startswith(".")
        or low.startswith("readme")
        or low.startswith("license")
        or low.endswith(".gt.json")
    )


def _known_kind(name: str) -> bool:
    kind, _ = _kind_from_name(name)
    return kind is not None


def _read_folder(folder: str, ctx: _Context) -> Iterator[_Item]:
    """Every readable file under ``folder``, sorted by relative path, so runs are repeatable."""
    # Skipped: hidden files and folders, README*, LICENSE*, *.gt.json, sidecars, unknown types.
    errors: list[OSError] = []
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=errors.append):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        names = set(filenames)
        for name in filenames:
            if _skipped_name(name) or not _known_kind(name):
                continue
            if name.lower().endswith(".json"):
                stem = name[: -len(".json")]
                if any(stem + ext in names for ext in _TEXT_EXTS):
                    continue  # a sidecar: read with its text file
            rel = os.path.relpath(os.path.join(dirpath, name), folder)
            found.append(rel.replace(os.sep, "/"))
    for e in errors:
        yield BadRecord(e.filename or folder, None, f"cannot read: {e.strerror or e}")
    for rel in sorted(found):
        path = os.path.join(folder, *rel.split("/"))
        yield from _guarded(path, _read_file(path, path, rel, ctx))


# --- files ----------------------------------------------------------------------------------


def _kind_from_name(name: str) -> tuple[str | None, bool]:
    """The format a file name says, and whether the name ends in ".gz"."""
    low = name.lower()
    gz = low.endswith(".gz")
    if gz:
        low = low[:-3]
    return _KINDS.get(os.path.splitext(low)[1]), gz


def _is_text_name(name: str) -> bool:
    low = name.lower()
    return low.endswith(_TEXT_EXTS)


def _text_stem(name: str) -> str:
    """A file name without its format and compression extensions."""
    base = name[:-3] if name.lower().endswith(".gz") else name
    stem, ext = os.path.splitext(base)
    return stem if ext else base


def _sidecar_path(path: str) -> str:
    return os.path.join(os.path.dirname(path), _text_stem(os.path.basename(path)) + ".json")


def _sidecar_key(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _text_doc(path: str, rel: str) -> _Doc:
    """Id and --meta keys of a text file; in a subfolder the id keeps its path (ids stay unique)."""
    name = os.path.basename(path)
    stem = _text_stem(name)
    rel = _file_key(rel)
    rel_stem = rel[: len(rel) - len(name)] + stem if rel.endswith(name) else stem
    doc_id = rel_stem if "/" in rel_stem and rel != _file_key(path) else stem
    given = _file_key(path)
    given_stem = given[: len(given) - len(name)] + stem
    keys = tuple(dict.fromkeys((given, given_stem, rel, rel_stem, name, stem)))
    sidecar = _sidecar_path(path) if _is_text_name(name) else None
    return _Doc(doc_id, sidecar, keys)


def _page_article(
    record: dict[str, Any], source: str, line: int | None, doc: _Doc | None, ctx: _Context
) -> Article | BadRecord:
    """An extracted page as an article, with --meta applied (by file for a page file, else
    by id), or a BadRecord (unreadable date, text over --max-chars). A page with no URL at
    all still names its publisher: its site name is the outlet."""
    try:
        article = article_from_record(
            record, source=source, preset="native", default_id=doc.id if doc else None
        )
    except ValueError as e:
        return BadRecord(source, line, str(e), "record")
    if ctx.meta is not None:
        md = (ctx.meta.for_file(doc.keys) if doc else None) or ctx.meta.by_id.get(article.id)
        if md is not None:
            article = apply_metadata(article, md)
    site = article.extra.get("site_name")
    if article.url is None and article.outlet is None and isinstance(site, str):
        article = replace(article, outlet=site)
    if ctx.max_chars is not None and len(article.text) > ctx.max_chars:
        return BadRecord(source, line, _too_long(article.text, ctx.max_chars), "record")
    return article


def _read_page(
    stream: BinaryIO, source: str, size: int | None, doc: _Doc, ctx: _Context
) -> Iterator[_Item]:
    """One HTML page: its main text and metadata (trafilatura), or a Skipped notice when the
    page holds no article text (an index page, a login wall)."""
    try:
        extract.require_html()
    except extract.MissingExtra as e:
        yield BadRecord(source, None, str(e))
        return
    data = _read_limited(stream, size, ctx.max_bytes)
    record = extract.page_record(data)
    if record is None:
        yield Skipped(source, None, "no article text", "the extractor found no article text")
        return
    yield _page_article(record, source, None, doc, ctx)


def _read_warc(stream: BinaryIO, source: str, ctx: _Context) -> Iterator[_Item]:
    """The HTML responses of a WARC file as articles, one record in memory at a time.

    The URL is WARC-Target-URI; ``fetched`` (WARC-Date), ``warc_record_id``, ``warc_offset``
    and ``warc_length`` go to extra, so any WARC tool can fetch the record back. Responses
    whose WARC-Payload-Digest was seen before are skipped before extraction; so are
    revisits, non-2xx responses, and payloads that are not HTML. Request, metadata and
    warcinfo records describe the crawl, not documents, and are passed over silently."""
    try:
        extract.require_warc()
    except extract.MissingExtra as e:
        yield BadRecord(source, None, str(e))
        return
    try:
        for rec in extract.warc_records(stream):
            yield from _warc_record(rec, source, ctx)
    except extract.WarcError as e:  # the rest of the file cannot be read
        yield BadRecord(source, e.number, str(e), "record")


_WARC_SILENT = frozenset({"warcinfo", "request", "metadata"})


def _warc_record(rec: extract.WarcRecord, source: str, ctx: _Context) -> Iterator[_Item]:
    """What one WARC record gives: an article, a Skipped notice, a BadRecord, or nothing."""
    n, uri = rec.number, rec.uri or "(no target URI)"
    if rec.rec_type in _WARC_SILENT:
        return
    if rec.rec_type == "revisit":
        yield Skipped(source, n, "revisit", f"{uri} was archived before (revisit record)")
        return
    if rec.rec_type not in ("response", "resource"):
        yield Skipped(source, n, "not a response", f"{rec.rec_type} record for {uri}")
        return
    if rec.status is not None and not rec.status.startswith("2"):
        yield Skipped(source, n, "HTTP status", f"status {rec.status} for {uri}")
        return
    payload: bytes | None = None
    if rec.content_type is None:
        payload = rec.payload(ctx.max_bytes)
        if payload is not None and not extract.looks_like_html(payload):
            yield Skipped(source, n, "not HTML", f"no media type, not HTML: {uri}")
            return
    elif rec.content_type not in extract.HTML_TYPES:
        yield Skipped(source, n, "not HTML", f"{rec.content_type} at {uri}")
        return
    first = rec.digest and ctx.payloads.first(rec.digest)
    if first:
        yield Skipped(source, n, "duplicate payload", f"{uri}: same payload as {first}")
        return
    if payload is None:
        payload = rec.payload(ctx.max_bytes)
    if payload is None:
        problem = f"payload over the limit of {ctx.max_bytes} bytes; raise --max-bytes"
        yield BadRecord(source, n, f"{uri}: {problem}", "record")
        return
    digest = rec.digest or extract.payload_digest(payload)
    first = ctx.payloads.first(digest)
    if first:
        yield Skipped(source, n, "duplicate payload", f"{uri}: same payload as {first}")
        return
    ctx.payloads.add(digest, rec.record_id or f"{source}, record {n}")
    try:
        record = extract.page_record(payload, url=rec.uri, charset=rec.charset)
    except Exception as e:  # one page the extractor chokes on must not end the file
        yield BadRecord(source, n, f"{uri}: cannot extract: {type(e).__name__}: {e}", "record")
        return
    if record is None:
        yield Skipped(source, n, "no article text", f"the extractor found no article at {uri}")
        return
    offset, length = rec.location()
    record.update(
        {
            "fetched": rec.date,
            "warc_record_id": rec.record_id,
            "warc_offset": offset,
            "warc_length": length,
        }
    )
    yield _page_article(record, source, n, None, ctx)


def _read_file(path: str, source: str, rel: str, ctx: _Context) -> Iterator[_Item]:
    kind, gz_named = _kind_from_name(os.path.basename(path))
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
        yield from _read_stream(
            f,
            source,
            kind,
            sniff_gzip=gz_named or kind is None,
            size=size,
            doc=_text_doc(path, rel),
            ctx=ctx,
        )


def _read_stdin(stdin: BinaryIO, ctx: _Context) -> Iterator[_Item]:
    yield from _read_stream(
        stdin, STDIN_SOURCE, None, sniff_gzip=True, size=None, doc=_Doc(STDIN_ID), ctx=ctx
    )


class _Replay(io.RawIOBase):
    """A stream that gives back bytes already read from it, then the rest."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        n = len(data)
        view[:n] = data
        return n


def _read_up_to(stream: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes, fewer only at the end of the stream (pipes return short reads)."""
    chunks: list[bytes] = []
    left = n
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _peek(stream: BinaryIO) -> tuple[bytes, BinaryIO]:
    head = _read_up_to(stream, _HEAD)
    replay = io.BufferedReader(_Replay(head, stream), buffer_size=1 << 16)
    return head, replay  # type: ignore[return-value]


def _sniff(head: bytes) -> str:
    """The format of content whose file name does not tell: JSON, JSON Lines, HTML or text."""
    s = head.removeprefix(_BOM).lstrip()
    if s.startswith(b"["):
        return "json"
    if s.startswith(b"{"):
        # One object per line, unless the first line is a lone "{" (a pretty-printed object).
        return "json" if s.split(b"\n", 1)[0].strip() == b"{" else "jsonl"
    low = s[:64].lower()
    if low.startswith((b"<!doctype html", b"<html")):
        return "html"
    if low.startswith(b"warc/"):
        return "warc"
    return "text"


def _is_warc(head: bytes) -> bool:
    """Whether content starts like a WARC file, plain or gzipped record by record."""
    if head.startswith(_GZIP_MAGIC):
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 16)
        except zlib.error:
            return False
    return head.startswith(b"WARC/")


def _binary_problem(head: bytes) -> str | None:
    """Why content is not text at all (as opposed to text with a bad byte), or None."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "not valid UTF-8 (it looks like UTF-16: convert it to UTF-8)"
    if b"\x00" in head:
        return "binary file, not text"
    sample = head.decode("utf-8", errors="replace")
    if not sample:
        return None
    bad = sum(1 for ch in sample if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f\v"))
    if bad > max(1, len(sample) * 3 // 10):
        return "binary file, not text"
    return None


def _read_stream(
    raw: BinaryIO,
    source: str,
    kind: str | None,
    *,
    sniff_gzip: bool,
    size: int | None,
    doc: _Doc,
    ctx: _Context,
) -> Iterator[_Item]:
    """Read one input stream of the given (or sniffed) kind."""
    head, stream = _peek(raw)
    if head and (kind == "warc" or (kind is None and _is_warc(head))):
        # warcio reads gzip members itself, so that offsets point into the file as stored.
        yield from _read_warc(stream, source, ctx)
        return
    if sniff_gzip and head.startswith(_GZIP_MAGIC):
        gz = gzip.GzipFile(fileobj=stream, mode="rb")
        try:
            head, stream = _peek(gz)  # type: ignore[arg-type]
        except (OSError, EOFError, zlib.error) as e:
            raise _Problem(f"not a valid gzip file: {e}") from None
        size = None
    if not head:
        raise _Problem("empty file" if source != STDIN_SOURCE else "empty input")
    if kind is None:
        kind = _sniff(head)
    if kind == "html":
        yield from _read_page(stream, source, size, doc, ctx)
        return
    if kind == "warc":  # a WARC gzipped as one whole, found only once unpacked
        yield from _read_warc(stream, source, ctx)
        return
    if kind == "text":
        yield _text_article(stream, head, source, size, doc, ctx)
        return
    if kind != "jsonl":  # JSON Lines is judged line by line: one bad line must not sink the file
        problem = _binary_problem(head)
        if problem:
            raise _Problem(problem)
    for item in _records(stream, source, kind, size, ctx.max_bytes, _require_text(ctx)):
        if isinstance(item, BadRecord):
            yield item
        else:
            line, unit, record = item
            yield _article(record, source, line, unit, ctx)


def _read_limited(stream: BinaryIO, size: int | None, max_bytes: int) -> bytes:
    """A whole file, or a _Problem when it is over ``max_bytes``."""
    if size is not None and size > max_bytes:
        raise _Problem(f"file is {size} bytes, over the limit of {max_bytes}; raise --max-bytes")
    data = _read_up_to(stream, max_bytes + 1)
    if len(data) > max_bytes:
        raise _Problem(f"file is over the limit of {max_bytes} bytes; raise --max-bytes")
    return data


def _decode(data: bytes, offset: int = 0) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _Problem(f"not valid UTF-8 at byte {offset + e.start}") from None


def _text_article(
    stream: BinaryIO, head: bytes, source: str, size: int | None, doc: _Doc, ctx: _Context
) -> Article | BadRecord:
    """One plain-text (or Markdown) article, with its sidecar and --meta metadata applied."""
    problem = _binary_problem(head)
    if problem:
        raise _Problem(problem)
    data = _read_limited(stream, size, ctx.max_bytes)
    text = _decode(data).removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise _Problem("empty file (whitespace only)")
    if ctx.max_chars is not None and len(text) > ctx.max_chars:
        raise _Problem(_too_long(text, ctx.max_chars))
    try:
        article = article_from_record(
            {"text": text}, source=source, preset="native", default_id=doc.id
        )
    except ValueError as e:
        raise _Problem(str(e)) from None
    if doc.sidecar and os.path.isfile(doc.sidecar):
        md = _load_sidecar(doc.sidecar, ctx.max_bytes)
        if isinstance(md, BadRecord):
            return md
        article = apply_metadata(article, md)
    if ctx.meta is not None:
        md = ctx.meta.for_file(doc.keys) or ctx.meta.by_id.get(article.id)
        if md is not None:
            article = apply_metadata(article, md)
    return article


def _load_sidecar(path: str, max_bytes: int) -> Metadata | BadRecord:
    """The metadata JSON object beside a text file."""
    try:
        with open(path, "rb") as f:
            data = _read_limited(f, os.fstat(f.fileno()).st_size, max_bytes)
        if not data.strip():
            return BadRecord(path, None, "empty file")
        text = _decode(data).removeprefix("\ufeff")
        record = _loads(text)
        if not isinstance(record, dict):
            return BadRecord(path, None, f"expected a JSON object, got {type_name(record)}")
        return parse_metadata(record)
    except _Problem as e:
        return BadRecord(path, e.line, e.problem)
    except ValueError as e:
        return BadRecord(path, None, str(e))
    except OSError as e:
        return BadRecord(path, None, f"cannot read: {e.strerror or e}")


def _too_deep(text: str) -> bool:
    """Does ``text`` open more than MAX_JSON_DEPTH arrays or objects at once (brackets inside
    strings aside)? Counting the brackets settles almost every text without a scan."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for m in _JSON_NESTING.finditer(text):
        c = text[m.start()]
        if c == '"':
            continue
        depth += 1 if c in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def _loads(text: str) -> Any:
    """json.loads, with its failures as _Problem messages (line numbers from the decoder)."""
    if _too_deep(text):
        raise _Problem(f"JSON nested too deeply (over {MAX_JSON_DEPTH} levels)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise _Problem(f"invalid JSON: {e.msg} at column {e.colno}", e.lineno) from None
    except RecursionError:
        raise _Problem("JSON nested too deeply") from None
    except ValueError as e:  # e.g. an integer too long to convert
        raise _Problem(f"invalid JSON: {e}") from None


def _article(
    record: Any, source: str, line: int | None, unit: str, ctx: _Context
) -> Article | BadRecord:
    """One JSON or CSV record as an article, with --meta applied by id, or a BadRecord."""
    if not isinstance(record, dict):
        return BadRecord(
            source, line, f"expected a JSON object, got {type_name(record)}", unit, _raw(record)
        )
    try:
        article = article_from_record(record, source=source, preset=ctx.preset, fields=ctx.fields)
        if ctx.meta is not None:
            md = ctx.meta.by_id.get(article.id)
            if md is not None:
                article = apply_metadata(article, md)
        if ctx.max_chars is not None and len(article.text) > ctx.max_chars:
            return BadRecord(
                source, line, _too_long(article.text, ctx.max_chars), unit, _raw(record)
            )
        return article
    except ValueError as e:
        return BadRecord(source, line, str(e), unit, _raw(record))
    except RecursionError:
        return BadRecord(source, line, "JSON nested too deeply", unit)


def _too_long(text: str, max_chars: int) -> str:
    return f"text is {len(text)} characters, over the limit of {max_chars}"


# --- records: JSON, JSON Lines, CSV ---------------------------------------------------------

_Record = tuple[int | None, str, Any]


def _require_text(ctx: _Context) -> Callable[[list[str]], str | None]:
    def check(header: list[str]) -> str | None:
        if any(name in header for name in ctx.text_fields):
            return None
        return f"no text column (looked for: {', '.join(ctx.text_fields)})"

    return check


def _records(
    stream: BinaryIO,
    source: str,
    kind: str,
    size: int | None,
    max_bytes: int,
    check_header: Callable[[list[str]], str | None] | None,
) -> Iterator[_Record | BadRecord]:
    """The records of a JSON, JSON Lines or CSV stream, each with its line (or record) number."""
    if kind == "jsonl":
        yield from _jsonl_records(stream, source, max_bytes)
    elif kind == "csv":
        yield from _csv_records(stream, source, max_bytes, check_header)
    elif kind == "json":
        yield from _json_records(stream, source, size, max_bytes)
    else:
        raise _Problem(f"expected JSON, JSON Lines or CSV, got {kind}")


def _json_records(
    stream: BinaryIO, source: str, size: int | None, max_bytes: int
) -> Iterator[_Record | BadRecord]:
    data = _read_limited(stream, size, max_bytes).removeprefix(_BOM)
    text = _decode(data)
    if not text.strip():
        raise _Problem("empty file")
    try:
        value = _loads(text)
    except _Problem as e:
        if e.problem.startswith("invalid JSON: Extra data") and text.lstrip().startswith("{"):
            # Several objects: JSON Lines under a .json name.
            yield from _jsonl_records(io.BytesIO(data), source, max_bytes)
            return
        raise
    if isinstance(value, list):
        for i, item in enumerate(value, 1):
            yield (i, "record", item)
    elif isinstance(value, dict):
        yield (None, "line", value)
    else:
        raise _Problem(f"expected a JSON object or array, got {type_name(value)}")


def _jsonl_records(stream: BinaryIO, source: str, max_bytes: int) -> Iterator[_Record | BadRecord]:
    """JSON Lines, one line in memory at a time; blank lines skipped, \\r\\n tolerated."""
    lineno = 0
    offset = 0
    seen = False
    while True:
        try:
            line = stream.readline(max_bytes + 1)
        except (OSError, EOFError, zlib.error) as e:
            raise _Problem(f"cannot read: {e}", lineno + 1) from None
        if not line:
            break
        lineno += 1
        start = offset
        offset += len(line)
        if len(line) > max_bytes and not line.endswith(b"\n"):
            length = len(line)
            chunk = line
            while not chunk.endswith(b"\n"):  # skip the rest of the line without keeping it
                try:
                    chunk = stream.readline(1 << 20)
                except (OSError, EOFError, zlib.error) as e:
                    raise _Problem(f"cannot read: {e}", lineno) from None
                if not chunk:
                    break
                offset += len(chunk)
                length += len(chunk)
            if chunk.endswith(b"\n"):
                length -= 2 if chunk.endswith(b"\r\n") else 1
            seen = True
            yield BadRecord(
                source,
                lineno,
                f"record is {length} bytes, over the limit of {max_bytes}; raise --max-bytes",
                raw=_raw(line),
            )
            continue
        body = line.rstrip(_LINE_ENDINGS) if line.endswith(b"\n") else line
        if lineno == 1 and body.startswith(_BOM):
            body = body[len(_BOM) :]
            start += len(_BOM)
        if not body.strip():
            continue
        seen = True
        try:
            text = _decode(body, start)
            yield (lineno, "line", _loads(text))
        except _Problem as e:
            yield BadRecord(source, lineno, e.problem, raw=_raw(body))
    if not seen:
        raise _Problem("empty file" if source != STDIN_SOURCE else "empty input")


def _csv_lines(stream: BinaryIO, max_bytes: int, where: list[int]) -> Iterator[str]:
    """A binary stream as decoded lines for the csv module; ``where[0]`` is the line number."""
    offset = 0
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        where[0] += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            raise _Problem(
                f"line is over the limit of {max_bytes} bytes; raise --max-bytes", where[0]
            )
        start = offset
        offset += len(line)
        if where[0] == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
            start += len(_BOM)
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _Problem(f"not valid UTF-8 at byte {start + e.start}", where[0]) from None


def _csv_records(
    stream: BinaryIO,
    source: str,
    max_bytes: int,
    check_header: Callable[[list[str]], str | None] | None,
) -> Iterator[_Record | BadRecord]:
    """CSV with a header row; empty cells are left out of the record (an empty cell is no value)."""
    if csv.field_size_limit() < max_bytes:
        csv.field_size_limit(max_bytes)
    where = [0]
    reader = csv.reader(_csv_lines(stream, max_bytes, where))
    header: list[str] | None = None
    while True:
        start = where[0] + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise _Problem(f"malformed CSV: {e}", where[0]) from None
        if not row or not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [h.strip() for h in row]
            dupes = sorted({h for h in header if header.count(h) > 1})
            if dupes:
                raise _Problem(f"duplicate column {dupes[0]!r} in the header", start)
            if check_header is not None:
                problem = check_header(header)
                if problem:
                    raise _Problem(problem, start)
            continue
        if len(row) != len(header):
            yield BadRecord(
                source,
                start,
                f"row has {len(row)} fields, the header has {len(header)}",
                raw=_raw(row),
            )
            continue
        yield (start, "line", {h: v for h, v in zip(header, row, strict=True) if v != ""})
    if header is None:
        raise _Problem("empty file")


# --- --meta ---------------------------------------------------------------------------------


def _load_meta(path: str, index: _MetaIndex, max_bytes: int) -> Iterator[BadRecord]:
    """Fill ``index`` from a JSON Lines or CSV file of metadata keyed by "id" or "file"."""
    if not os.path.isfile(path):
        raise _Problem("no such file" if not os.path.exists(path) else "not a file")
    kind, gz_named = _kind_from_name(os.path.basename(path))
    with open(path, "rb") as f:
        head, stream = _peek(f)
        size: int | None = os.fstat(f.fileno()).st_size
        if (gz_named or kind is None) and head.startswith(_GZIP_MAGIC):
            head, stream = _peek(gzip.GzipFile(fileobj=stream, mode="rb"))  # type: ignore[arg-type]
            size = None
        if not head.strip():
            raise _Problem("empty file")
        if kind not in ("json", "jsonl", "csv"):
            s = head.removeprefix(_BOM).lstrip()
            kind = "jsonl" if s.startswith(b"{") else "json" if s.startswith(b"[") else "csv"
        if kind != "jsonl":
            problem = _binary_problem(head)
            if problem:
                raise _Problem(problem)
        first_line: dict[tuple[str, str], int | None] = {}
        for item in _records(stream, path, kind, size, max_bytes, _meta_header):
            if isinstance(item, BadRecord):
                yield item
                continue
            line, unit, record = item
            problem = _add_meta(index, record, line, first_line)
            if problem:
                yield BadRecord(path, line, problem, unit)


def _meta_header(header: list[str]) -> str | None:
    if "id" in header or "file" in header:
        return None
    return "metadata needs an 'id' or a 'file' column"


def _file_key(name: str) -> str:
    """A file name as --meta and the readers compare them: "/" separators, no leading "./"."""
    return name.strip().replace(os.sep, "/").replace("\\", "/").removeprefix("./")


def _add_meta(
    index: _MetaIndex, record: Any, line: int | None, first_line: dict[tuple[str, str], int | None]
) -> str | None:
    """Index one metadata record; the problem with it, if any."""
    if not isinstance(record, Mapping):
        return f"expected a JSON object, got {type_name(record)}"
    rec = dict(record)
    file_name = rec.pop("file", None)
    if file_name is not None and not isinstance(file_name, str):
        return f"field 'file' must be a string, got {type_name(file_name)}"
    try:
        md = parse_metadata(rec)
    except ValueError as e:
        return str(e)
    if file_name is not None and file_name.strip():
        key = ("file", _file_key(file_name))
    elif "id" in md.values:
        key = ("id", md.values["id"])
    else:
        return "metadata record needs an 'id' or a 'file' field"
    if key in first_line:
        seen = first_line[key]
        where = f" (also on line {seen})" if seen is not None else ""
        return f"duplicate {key[0]} {key[1]!r}{where}"
    first_line[key] = line
    (index.by_file if key[0] == "file" else index.by_id)[key[1]] = md
    return None
