"""Scraper records (dicts) to :class:`~dedupe.model.Article`: field names, validation, dates, URLs.

Each scraper names the same things differently (trafilatura calls the URL ``source``,
news-please calls the text ``maintext``...). :data:`PRESETS` lists, per preset, the record
fields read for each concept; ``"auto"`` tries them all in :data:`AUTO_ORDER`. Every field
not used for a concept is passed through unchanged in ``Article.extra``.

Everything here is deterministic: generated ids use xxhash, dates never depend on "now", and
outlets are read off URLs with tldextract's bundled suffix list (no network).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import xxhash

from dedupe.model import Article

CONCEPTS: tuple[str, ...] = ("id", "url", "outlet", "published", "title", "text")
"""What an article is made of; the keys of a preset and of a ``fields`` override."""

PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "native": {
        "id": ("id",),
        "url": ("url",),
        "outlet": ("outlet",),
        "published": ("published",),
        "title": ("title",),
        "text": ("text",),
    },
    "trafilatura": {
        "id": ("id",),
        "url": ("source",),
        "outlet": ("hostname", "source-hostname"),
        "published": ("date",),
        "title": ("title",),
        "text": ("text",),
    },
    "news-please": {
        "id": ("id",),
        "url": ("url",),
        "outlet": ("source_domain",),
        "published": ("date_publish",),
        "title": ("title",),
        "text": ("maintext", "text"),
    },
    "newspaper": {
        "id": ("id",),
        "url": ("url", "canonical_link"),
        "outlet": ("meta_site_name",),
        "published": ("publish_date",),
        "title": ("title",),
        "text": ("text",),
    },
    "scrapy": {
        "id": ("id",),
        "url": ("url", "link"),
        "outlet": (),
        "published": ("date", "published_at", "pub_date"),
        "title": ("title", "headline"),
        "text": ("text", "body", "content"),
    },
}
"""Per preset and concept, the record fields tried in order; the first one holding a value wins."""

AUTO_ORDER: tuple[str, ...] = ("native", "trafilatura", "news-please", "newspaper", "scrapy")
"""The order in which ``preset="auto"`` tries the presets' field names, concept by concept."""

SITE_NAME_FIELDS: frozenset[str] = frozenset({"source-hostname", "meta_site_name"})
"""Outlet fields holding a display name ("The Guardian"): used only when there is no URL."""

HOSTNAME_FIELDS: frozenset[str] = frozenset({"hostname", "source_domain"})
"""Outlet fields holding a host name: reduced to the registrable domain, like a URL's."""

_NO_DATE = frozenset({"", "none", "null"})
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DIGITS = re.compile(r"[+-]?\d{9,}(?:\.\d+)?")
_URL_START = re.compile(r"(?i)\s*https?://")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HOSTNAME = re.compile(r"[A-Za-z0-9.-]+\.[A-Za-z0-9-]+\.?(?::\d+)?")
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?\b")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MIN_YEAR, _MAX_YEAR = 1800, 2200
_H = 3600
# Time-zone abbreviations with their usual US and European meanings; ambiguous ones such as
# IST are left out and rejected rather than guessed.
_TZ_ABBREVIATIONS: dict[str, float] = {
    "UTC": 0,
    "UT": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "WEST": 1,
    "BST": 1,
    "CET": 1,
    "CEST": 2,
    "MET": 1,
    "MEST": 2,
    "EET": 2,
    "EEST": 3,
    "MSK": 3,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "AKST": -9,
    "AKDT": -8,
    "HST": -10,
    "JST": 9,
    "KST": 9,
    "AWST": 8,
    "ACST": 9.5,
    "ACDT": 10.5,
    "AEST": 10,
    "AEDT": 11,
    "NZST": 12,
    "NZDT": 13,
}


def _auto_mapping() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for concept in CONCEPTS:
        names: list[str] = []
        for preset in AUTO_ORDER:
            for name in PRESETS[preset].get(concept, ()):
                if name not in names:
                    names.append(name)
        out[concept] = tuple(names)
    return out


_AUTO = _auto_mapping()


def field_names(
    preset: str = "auto", fields: Mapping[str, str] | None = None
) -> dict[str, tuple[str, ...]]:
    """Record fields read per concept, so options can be checked (ValueError) before any reading."""
    if preset == "auto":
        mapping = dict(_AUTO)
    elif preset in PRESETS:
        mapping = {c: PRESETS[preset].get(c, ()) for c in CONCEPTS}
    else:
        known = ", ".join(("auto", *PRESETS))
        raise ValueError(f"unknown preset {preset!r} (expected one of: {known})")
    for concept, name in (fields or {}).items():
        if concept not in CONCEPTS:
            raise ValueError(
                f"unknown field concept {concept!r} (expected one of: {', '.join(CONCEPTS)})"
            )
        if not isinstance(name, str) or not name:
            raise ValueError(f"the field name for {concept} must be a non-empty string")
        mapping[concept] = (name,)
    return mapping


def type_name(value: Any) -> str:
    """How a value's type is named in messages: JSON's words for JSON's types."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def show(value: Any, limit: int = 60) -> str:
    """A value quoted for a message, cut short so one bad record cannot flood the terminal."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + "…"
    return repr(value)


# --- dates ----------------------------------------------------------------------------------


def parse_date(value: Any) -> dt.datetime | None:
    """A date as aware UTC, None for "no date"; ValueError if unreadable (bad dates mislead)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, dt.datetime):
        d = value
    elif isinstance(value, dt.date):
        d = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)):
        d = _from_epoch(value)
    elif isinstance(value, str):
        s = value.strip()
        if s.lower() in _NO_DATE:
            return None
        if _EPOCH_DIGITS.fullmatch(s):
            d = _from_epoch(int(s) if s.lstrip("+-").isdigit() else float(s))
        else:
            d = _parse_text(s, value)
    else:
        raise ValueError(f"not a date: {type_name(value)}")
    try:
        if d.tzinfo is None or d.utcoffset() is None:
            d = d.replace(tzinfo=dt.timezone.utc)
        else:
            d = d.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError(
            f"absurd date {show(value)} (before {_MIN_YEAR} or after {_MAX_YEAR})"
        ) from None
    if not _MIN_YEAR <= d.year <= _MAX_YEAR:
        raise ValueError(f"absurd date {show(value)} (before {_MIN_YEAR} or after {_MAX_YEAR})")
    return d


def _from_epoch(x: float) -> dt.datetime:
    """Epoch seconds, or milliseconds when the number is too large to be seconds."""
    if not math.isfinite(x):
        raise ValueError(f"not a date: {x!r}")
    try:
        if abs(x) > 1e11:
            return _EPOCH + dt.timedelta(milliseconds=x)
        return _EPOCH + dt.timedelta(seconds=x)
    except OverflowError:
        raise ValueError(f"absurd date {x!r} (before {_MIN_YEAR} or after {_MAX_YEAR})") from None


def _tz(name: str | None, offset: int | None) -> dt.tzinfo | None:
    """dateutil's time-zone hook: explicit offsets win, known abbreviations next, others fail."""
    if offset is not None:
        return dt.timezone(dt.timedelta(seconds=offset))
    if name is None:
        return None
    hours = _TZ_ABBREVIATIONS.get(name.upper())
    if hours is None:
        raise ValueError(f"unknown time zone {name!r}")
    return dt.timezone(dt.timedelta(hours=hours))


def _gmt_offset(m: re.Match[str]) -> str:
    sign, hours, minutes = m.group(1), int(m.group(2)), int(m.group(3) or 0)
    return f"{sign}{hours:02d}{minutes:02d}"


#: "6.5.2024", "06.05.24 10:00": written day first wherever dates take dots (German,
#: Russian, Polish, Czech, Scandinavian and Turkish news), unlike "05/06/2024".
_DOTTED_DAY_FIRST = re.compile(r"\d{1,2}\.\d{1,2}\.\d{2,4}(?!\d)")


def _parse_text(s: str, original: str) -> dt.datetime:
    """ISO 8601 first (exact), then the common forms dateutil reads: month before day, except
    in dotted numeric dates (day first)."""
    from dateutil import parser as dateutil_parser

    if len(s) > 100:
        raise ValueError(f"unparseable date {show(original)}")
    try:
        return dt.datetime.fromisoformat(s)
    except ValueError:
        pass
    # "GMT+2" means two hours ahead of UTC in news copy; dateutil reads it the POSIX way round.
    s = _GMT_OFFSET.sub(_gmt_offset, s)
    results = []
    dayfirst = _DOTTED_DAY_FIRST.match(s) is not None
    # Parsed twice with different defaults: a part that changes was missing from the input.
    for default in (dt.datetime(2000, 1, 1), dt.datetime(2004, 3, 2)):
        try:
            results.append(
                dateutil_parser.parse(s, default=default, dayfirst=dayfirst, tzinfos=_tz)
            )
        except (ValueError, OverflowError, TypeError):
            raise ValueError(f"unparseable date {show(original)}") from None
    a, b = results
    if (a.year, a.month, a.day) != (b.year, b.month, b.day):
        raise ValueError(f"incomplete date {show(original)} (needs a year, a month and a day)")
    return a


# --- URLs and outlets -----------------------------------------------------------------------


def _is_tracking(param: str) -> bool:
    key = unquote_plus(param.split("=", 1)[0]).lower()
    return key.startswith("utm_") or key in ("fbclid", "gclid")


def normalize_url(url: str) -> str:
    """An http(s) URL in canonical form so two spellings of one page compare equal; others as is."""
    # lowercase scheme and host; no default port, fragment, utm_*/fbclid/gclid or trailing
    # slash (except the root); query pairs sorted; percent-encoding left untouched
    s = url.strip()
    try:
        parts = urlsplit(s)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return s
        host = parts.hostname
        port = parts.port
    except ValueError:
        return s
    if not host:
        return s
    host = host.rstrip(".")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    path = parts.path.rstrip("/") or "/"
    query = "&".join(sorted(p for p in parts.query.split("&") if p and not _is_tracking(p)))
    return urlunsplit((scheme, netloc, path, query, ""))


@functools.lru_cache(maxsize=1)
def _extractor() -> Any:
    """tldextract on its bundled suffix list: no download, no cache files, so runs stay offline."""
    # Private suffixes count: x.blogspot.com is its own outlet, not blogspot.com.
    import tldextract

    return tldextract.TLDExtract(
        cache_dir=None,
        suffix_list_urls=(),
        fallback_to_snapshot=True,
        include_psl_private_domains=True,
    )


def _registrable(host: str) -> str | None:
    """A host's registrable domain ("www.bbc.co.uk" -> "bbc.co.uk"); IPs and bare hosts kept."""
    host = host.strip().lower().rstrip(".")
    if not host:
        return None
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        pass
    ext = _extractor()(host)
    if ext.domain and ext.suffix:
        return f"{ext.domain}.{ext.suffix}".lower()
    return host.removeprefix("www.") or None


def outlet_from_url(url: str) -> str | None:
    """A URL's publisher: its registrable domain ("dailymail.co.uk"); None without a host."""
    s = url.strip()
    if not s:
        return None
    if not _SCHEME.match(s):
        s = "//" + s.lstrip("/")
    try:
        host = urlsplit(s).hostname
    except ValueError:
        return None
    return _registrable(host) if host else None


def _outlet_from_hostname(value: str) -> str:
    """A scraper's host-name field reduced like a URL's host; anything else only stripped."""
    v = value.strip()
    if _HOSTNAME.fullmatch(v):
        return _registrable(v.rsplit(":", 1)[0] if ":" in v else v) or v
    return v


# --- validation -----------------------------------------------------------------------------


def _check_unicode(record: Mapping[Any, Any]) -> None:
    """Reject lone surrogates anywhere in the record (UTF-8 cannot hold them, so no output
    could), keys that are not strings (JSON has none) and a record that contains itself."""
    for top, value in record.items():
        if not isinstance(top, str):
            raise ValueError(f"field name {show(top)} is not a string but {type_name(top)}")
        _check_str(top, f"field name {show(top)}")
        # depth first; a container met again inside itself is a cycle, which JSON cannot
        # write either (the same container twice side by side is fine)
        inside = {id(record)}
        stack: list[tuple[Any, bool]] = [(value, False)]
        while stack:
            v, leaving = stack.pop()
            if leaving:
                inside.discard(id(v))
            elif isinstance(v, str):
                _check_str(v, f"field {show(top)}")
            elif isinstance(v, (dict, list, tuple)):
                if id(v) in inside:
                    raise ValueError(f"field {show(top)} contains itself")
                inside.add(id(v))
                stack.append((v, True))
                if isinstance(v, dict):
                    for k, item in v.items():
                        if not isinstance(k, str):
                            raise ValueError(
                                f"field {show(top)} has a key that is not a string"
                                f" ({type_name(k)} {show(k)})"
                            )
                        _check_str(k, f"field {show(top)}")
                        stack.append((item, False))
                else:
                    stack.extend((item, False) for item in v)


def _check_str(s: str, what: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"{what} is not valid Unicode (lone surrogate at offset {e.start})"
        ) from None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _no_date(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _NO_DATE)


def _pick(
    record: Mapping[str, Any],
    names: tuple[str, ...],
    consumed: set[str],
    *,
    empty: Callable[[Any], bool] = _blank,
    accept: Callable[[str, Any], bool] | None = None,
) -> tuple[str | None, Any]:
    """The first of ``names`` holding a value, else the first empty one (to say "empty text")."""
    # Candidates holding no value are consumed too, so a null legacy field leaves no trace in extra.
    found: tuple[str | None, Any] = (None, None)
    fallback: tuple[str | None, Any] = (None, None)
    for name in names:
        if name not in record:
            continue
        value = record[name]
        if accept is not None and not accept(name, value):
            continue
        if empty(value):
            consumed.add(name)
            if fallback[0] is None or (fallback[1] is None and value is not None):
                fallback = (name, value)
        elif found[0] is None:
            consumed.add(name)
            found = (name, value)
    return found if found[0] is not None else fallback


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string, got {type_name(value)}")
    return value


def _id(name: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string or an integer, got {type_name(value)}")
    if not value.strip():
        raise ValueError(f"empty id in field {name!r}")
    return value


def _date(name: str, value: Any) -> dt.datetime | None:
    try:
        return parse_date(value)
    except ValueError as e:
        raise ValueError(f"{e} in field {name!r}") from None


def generated_id(url: str | None, text: str) -> str:
    """A run-independent id for a record without one: "u"+xxh64(URL) or "t"+xxh64(text)."""
    if url and url.strip():
        return "u" + xxhash.xxh64(normalize_url(url).encode("utf-8")).hexdigest()
    return "t" + xxhash.xxh64(text.encode("utf-8")).hexdigest()


def article_from_record(
    record: dict[str, Any],
    *,
    source: str | None = None,
    preset: str = "auto",
    fields: dict[str, str] | None = None,
    default_id: str | None = None,
) -> Article:
    """One scraper record as an Article; ValueError naming the field and the problem if not."""
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a JSON object, got {type_name(record)}")
    mapping = field_names(preset, fields)
    _check_unicode(record)
    consumed: set[str] = set()
    overridden = set(fields or ())

    # text
    name, value = _pick(record, mapping["text"], consumed)
    if name is None:
        raise ValueError(f"missing text field (looked for: {', '.join(mapping['text'])})")
    if value is None:
        raise ValueError(f"missing text (field {name!r} is null)")
    text = _string(name, value)
    if not text.strip():
        raise ValueError(f"empty text in field {name!r}")

    # url; in "auto", trafilatura's "source" counts only when it holds a URL
    def url_like(n: str, v: Any) -> bool:
        return (
            n != "source"
            or "url" in overridden
            or preset != "auto"
            or (isinstance(v, str) and bool(_URL_START.match(v)))
        )

    name, value = _pick(record, mapping["url"], consumed, accept=url_like)
    url = _string(name, value) if name is not None and not _blank(value) else None

    # title
    name, value = _pick(record, mapping["title"], consumed)
    title = _string(name, value) if name is not None and not _blank(value) else None

    # published
    name, value = _pick(record, mapping["published"], consumed, empty=_no_date)
    published = _date(name, value) if name is not None else None

    # outlet: an explicit outlet field, else the URL's domain, else a display site name
    names = mapping["outlet"]
    if "outlet" in overridden:
        explicit, site_names = names, ()
    else:
        explicit = tuple(n for n in names if n not in SITE_NAME_FIELDS)
        site_names = tuple(n for n in names if n in SITE_NAME_FIELDS)
    outlet: str | None = None
    name, value = _pick(record, explicit, consumed)
    if name is not None and not _blank(value):
        v = _string(name, value)
        outlet = (
            _outlet_from_hostname(v)
            if name in HOSTNAME_FIELDS and "outlet" not in overridden
            else v.strip()
        )
    if outlet is None and url is not None:
        outlet = outlet_from_url(url)
    if outlet is None:
        name, value = _pick(record, site_names, consumed)
        if name is not None and not _blank(value):
            outlet = _string(name, value).strip() or None

    # id
    name, value = _pick(record, mapping["id"], consumed, empty=lambda v: v is None)
    if name is not None and value is not None:
        article_id = _id(name, value)
    elif default_id is not None:
        article_id = _id("default id", default_id)
    else:
        article_id = generated_id(url, text)

    extra = {k: v for k, v in record.items() if k not in consumed}
    return Article(
        id=article_id,
        text=text,
        url=url,
        outlet=outlet,
        published=published,
        title=title,
        source=source,
        extra=extra,
    )


def check_article(a: Article) -> None:
    """An Article built in code holds what one read from a record holds (strings where the
    store keeps text, a date UTC can hold, an ``extra`` JSON can write): ValueError naming
    the field and the problem if not, before anything is stored."""
    if not isinstance(a.id, str):
        raise ValueError(f"id must be a string, got {type_name(a.id)}")
    if not a.id.strip():
        raise ValueError("empty id")
    if not isinstance(a.text, str):
        raise ValueError(f"text must be a string, got {type_name(a.text)}")
    if not a.text.strip():
        raise ValueError("empty text")
    for name in ("url", "outlet", "title", "source"):
        value = getattr(a, name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string or None, got {type_name(value)}")
    d = a.published
    # A date is kept even when implausible (it then orders nothing), unless UTC cannot hold it.
    if d is not None:
        if not isinstance(d, dt.datetime):
            raise ValueError(f"published must be a datetime or None, got {type_name(d)}")
        try:
            if d.tzinfo is not None and d.utcoffset() is not None:
                d.astimezone(dt.timezone.utc)
        except OverflowError:
            raise ValueError(f"published {d.isoformat()} is out of range in UTC") from None
    if not isinstance(a.extra, dict):
        raise ValueError(f"extra must be a dict, got {type_name(a.extra)}")
    texts = {"id": a.id, "text": a.text, "url": a.url, "outlet": a.outlet, "title": a.title}
    _check_unicode(texts | {"source": a.source})
    _check_unicode(a.extra)


# --- metadata (sidecar files and --meta records) ---------------------------------------------

METADATA_FIELDS: tuple[str, ...] = ("id", "url", "outlet", "published", "title")
"""The fields a sidecar or ``--meta`` record may set, always under these native names."""


@dataclass(frozen=True)
class Metadata:
    """Validated metadata for one article: the concepts it sets, and fields to add to extra."""

    values: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def parse_metadata(record: Mapping[str, Any]) -> Metadata:
    """A sidecar or --meta record (native names) validated; empty values and "text" set nothing."""
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a JSON object, got {type_name(record)}")
    _check_unicode(record)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in record.items():
        if key == "text":
            continue
        if key not in METADATA_FIELDS:
            extra[key] = value
        elif key == "published":
            d = _date(key, value)
            if d is not None:
                values[key] = d
        elif _blank(value):
            continue
        elif key == "id":
            values[key] = _id(key, value)
        elif key == "outlet":
            values[key] = _string(key, value).strip()
        else:
            values[key] = _string(key, value)
    return Metadata(values, extra)


def apply_metadata(article: Article, meta: Metadata) -> Article:
    """The article with the metadata's values in place of its own; a URL-based outlet follows."""
    values = dict(meta.values)
    if "url" in values and "outlet" not in values:
        derived = outlet_from_url(article.url) if article.url else None
        if article.outlet is None or article.outlet == derived:
            new = outlet_from_url(values["url"])
            if new is not None:
                values["outlet"] = new
    extra = {**article.extra, **meta.extra} if meta.extra else article.extra
    return replace(article, extra=extra, **values)
