"""Web pages to article records: the main text and metadata of an HTML page (trafilatura), and
the records of a WARC file (warcio), read one at a time.

Both libraries are optional extras, imported on first use: :class:`MissingExtra` says which
``pip install`` line brings them. Nothing here decides what counts as an article or a bad
record; :mod:`dedupe.readers` does, so every input format follows one policy.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, BinaryIO

HTML_EXTRA = "pip install 'news-dedupe[html]'"
"""The install line for HTML input (trafilatura, with lxml_html_clean that it needs)."""
WARC_EXTRA = "pip install 'news-dedupe[warc]'"
"""The install line for WARC input (warcio, plus everything HTML input needs)."""

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
"""Media types read as HTML pages."""

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# The HTML standard's encoding prescan looks at the first 1024 bytes; some pages are sloppier.
_PRESCAN = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I
)
_HTML_MARKS = (b"<!doctype html", b"<html")
# htmldate options: the time of day when the page gives one (it orders copies within a day),
# and no guessing from free text, which reads "Copyright 2024" as a publication date.
_DATE_PARAMS = {
    "original_date": True,
    "extensive_search": False,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
# Labels the HTML standard reads as windows-1252 (pages say latin-1 and mean it).
_WINDOWS_1252 = frozenset({"ascii", "latin-1", "iso8859-1", "cp1252"})


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message gives the pip line that fixes it."""


def _trafilatura() -> ModuleType:
    """trafilatura, imported on first use (a fresh install also needs lxml_html_clean)."""
    try:
        import trafilatura
    except ImportError as e:  # trafilatura itself, or lxml.html.clean under justext
        raise MissingExtra(f"HTML input needs the html extra: {HTML_EXTRA}") from e
    return trafilatura


def _warcio() -> ModuleType:
    """warcio's archive iterator module, imported on first use."""
    try:
        import warcio.archiveiterator
    except ImportError as e:
        raise MissingExtra(f"WARC input needs the warc extra: {WARC_EXTRA}") from e
    return warcio.archiveiterator


def require_html() -> None:
    """Raise :class:`MissingExtra` now, rather than at the first page, if HTML cannot be read."""
    _trafilatura()


def require_warc() -> None:
    """Raise :class:`MissingExtra` now if WARC files cannot be read (they need both extras)."""
    _warcio()
    try:
        _trafilatura()
    except MissingExtra as e:
        raise MissingExtra(f"WARC input needs the warc extra: {WARC_EXTRA}") from e


def media_type(content_type: str | None) -> tuple[str | None, str | None]:
    """A Content-Type header split into its lower-case media type and its charset, if any."""
    if not content_type:
        return None, None
    parts = content_type.split(";")
    mime = parts[0].strip().lower() or None
    charset = None
    for p in parts[1:]:
        key, _, value = p.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return mime, charset


def looks_like_html(data: bytes) -> bool:
    """Whether bytes open like an HTML document (for payloads that name no media type)."""
    head = data[:_PRESCAN].lower()
    return any(mark in head for mark in _HTML_MARKS)


def decode_html(data: bytes, declared: str | None = None) -> str | bytes:
    """Page bytes as text, by BOM, then the declared charset (HTTP, then <meta>), then UTF-8.

    Returns the bytes unchanged when none of these fits, so that trafilatura guesses; a
    guess is the last resort because it is wrong on short pages (latin-1 read as big5)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                break
    names: list[str] = []
    if declared:
        names.append(declared)
    m = _META_CHARSET.search(data[:_PRESCAN])
    if m:
        names.append(m.group(1).decode("ascii"))
    names.append("utf-8")
    for name in names:
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        if codec in _WINDOWS_1252:
            codec = "cp1252"
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            if codec == "cp1252":
                return data.decode("latin-1")  # the five bytes cp1252 leaves undefined
    return data


def _clean(value: Any) -> Any:
    """A metadata value, or None when it is empty (so it is left out of the record)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, (list, tuple)):
        items = [v.strip() for v in value if isinstance(v, str) and v.strip()]
        return items or None
    return None


def page_record(
    html: bytes | str, *, url: str | None = None, charset: str | None = None
) -> dict[str, Any] | None:
    """The article in one HTML page as a record with dedupe's native field names, or None
    when the page holds no article text.

    ``text``, ``title``, ``published`` (the page's date, with the time when it gives one) and
    ``url`` (``url`` if given, else the page's canonical URL) map onto the article;
    ``site_name``, ``author``, ``description``, ``language``, ``categories``, ``tags`` and
    ``canonical_url`` (when it differs from ``url``) are kept beside it. Raises
    :class:`MissingExtra` without trafilatura.
    """
    trafilatura = _trafilatura()
    content = decode_html(html, charset) if isinstance(html, bytes) else html
    doc = trafilatura.bare_extraction(
        content,
        url=url,
        with_metadata=True,
        include_comments=False,  # reader comments are not the article
        include_tables=True,
        output_format="python",
        date_extraction_params=_DATE_PARAMS,
    )
    if doc is None:
        return None
    text = doc.text if isinstance(doc.text, str) else ""
    if not text.strip():
        return None
    record: dict[str, Any] = {"text": text}
    canonical = _clean(doc.url)
    page_url = url or canonical
    optional = {
        "title": _clean(doc.title),
        "published": _clean(doc.date),
        "url": page_url,
        "canonical_url": canonical if canonical and canonical != page_url else None,
        "site_name": _clean(doc.sitename),
        "author": _clean(doc.author),
        "description": _clean(doc.description),
        "language": _clean(doc.language),
        "categories": _clean(doc.categories),
        "tags": _clean(doc.tags),
    }
    record.update({k: v for k, v in optional.items() if v is not None})
    return record


# --- WARC ---------------------------------------------------------------------------------


def payload_digest(payload: bytes) -> str:
    """A payload's digest written the way WARC-Payload-Digest writes it (sha1, base32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode("ascii")  # noqa: S324


@dataclass
class WarcRecord:
    """One WARC record, valid until the next one is read: its headers, and its payload on
    demand (records nobody asks about are skipped without being held in memory)."""

    number: int
    rec_type: str
    uri: str | None
    date: str | None
    record_id: str | None
    digest: str | None
    status: str | None
    content_type: str | None
    charset: str | None
    _record: Any
    _iterator: Any

    def payload(self, limit: int) -> bytes | None:
        """The decoded payload (transfer and content encodings undone), None if over ``limit``.

        Raises :class:`WarcError` when the file ends inside the record: a cut-off page would
        pass for a short article."""
        stream = self._record.content_stream()
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = stream.read(min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None
        if getattr(self._record.raw_stream, "limit", 0) > 0:  # bytes promised, never read
            raise WarcError(_CUT_SHORT, self.number)
        return b"".join(chunks)

    def location(self) -> tuple[int, int]:
        """Offset and length of the record in the file (compressed, for .warc.gz): what a CDX
        index holds to fetch it back. Reads past the payload, so ask after :meth:`payload`."""
        self._iterator.read_to_end(self._record)
        return int(self._iterator.get_record_offset()), int(self._iterator.get_record_length())


_CUT_SHORT = "the file ends inside this record (cut short)"


class _Counting:
    """A read-only stream that counts the bytes read through it and keeps the last few."""

    TAIL = 8

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.read_bytes = 0
        self.tail = b""

    def _seen(self, data: bytes) -> bytes:
        self.read_bytes += len(data)
        self.tail = (self.tail + data[-self.TAIL :])[-self.TAIL :]
        return data

    def read(self, n: int = -1) -> bytes:
        return self._seen(self._stream.read(n))

    def readline(self, n: int = -1) -> bytes:
        return self._seen(self._stream.readline(n))

    def ends_cleanly_after(self, end: int) -> bool:
        """Whether nothing but the blank lines that close a record follows offset ``end``."""
        extra = self.read_bytes - end
        return extra <= 0 or (extra <= self.TAIL and not self.tail[-extra:].strip())


class WarcError(ValueError):
    """The file stops being a readable WARC; ``number`` is the record where it happened."""

    def __init__(self, message: str, number: int) -> None:
        super().__init__(message)
        self.number = number


def warc_records(stream: BinaryIO) -> Iterator[WarcRecord]:
    """The records of a WARC file (gzipped per record or not), one at a time: memory does not
    grow with the size of the file. Raises :class:`WarcError` where the file goes bad."""
    archive = _warcio()
    from warcio.exceptions import ArchiveLoadFailed

    counted = _Counting(stream)
    iterator = archive.ArchiveIterator(counted)
    number = 0
    records = iter(iterator)
    previous: Any = None
    while True:
        try:
            rec = next(records)
        except StopIteration:
            rec = None
        except ArchiveLoadFailed as e:
            raise WarcError(f"not a valid WARC file: {e.msg}", number + 1) from None
        except (OSError, EOFError, ValueError) as e:
            raise WarcError(f"cannot read WARC record: {e}", number + 1) from None
        # warcio ends quietly when the file stops inside a record; say so instead.
        if previous is not None and getattr(previous.raw_stream, "limit", 0) > 0:
            raise WarcError(_CUT_SHORT, number)
        if rec is None:
            end = iterator.get_record_offset() + iterator.get_record_length() if number else 0
            if not counted.ends_cleanly_after(end):  # part of a record after the last one
                raise WarcError(_CUT_SHORT, number + 1)
            return
        previous = rec
        number += 1
        h = rec.rec_headers
        http = rec.http_headers
        content_type = (
            http.get_header("Content-Type") if http is not None else h.get_header("Content-Type")
        )
        mime, charset = media_type(content_type)
        yield WarcRecord(
            number=number,
            rec_type=str(rec.rec_type),
            uri=h.get_header("WARC-Target-URI"),
            date=h.get_header("WARC-Date"),
            record_id=h.get_header("WARC-Record-ID"),
            digest=h.get_header("WARC-Payload-Digest"),
            status=http.get_statuscode()
            if http is not None and rec.rec_type == "response"
            else None,
            content_type=mime,
            charset=charset,
            _record=rec,
            _iterator=iterator,
        )
