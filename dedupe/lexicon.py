"""Known page furniture: widget labels, form confirmations, pitches, credits, bylines.

Pure and linear-time. The phrase lists live in ``dedupe/lexicon_data/<lang>.tsv`` (one
``category<TAB>mode<TAB>phrase`` line each, see the README there) and are read once, on first
use. Matching compares a *normalized* segment with the phrases by plain string operations:

- ``exact``: the whole normalized segment equals the phrase;
- ``prefix``: the segment starts with the phrase at a word boundary (phrases that cannot
  start real prose only), and is at most :data:`MAX_PHRASE_SEGMENT` characters long;
- ``contains``: the phrase occurs at word boundaries anywhere in a segment of at most
  :data:`MAX_PHRASE_SEGMENT` characters (unmistakable strings only).

Two categories carry an extra shape test so that prose is never taken for furniture:
``credit`` hits must be short credit-shaped lines (:func:`credit_shaped`) and ``obfuscated``
hits must be the bulk of their segment (:data:`MAX_OBFUSCATED_EXTRA` other words at most).
The regular expressions here have no nested quantifiers, so nothing backtracks on long input.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

#: Categories a data line may use.
CATEGORIES = frozenset(
    {
        "widget",
        "form",
        "subscribe",
        "donate",
        "cta",
        "credit",
        "opinion",
        "obfuscated",
        "copyright",
        "legal",
    }
)
#: Matching modes a data line may use.
MODES = frozenset({"exact", "prefix", "contains"})
#: Data files, in load order: when two languages list the same phrase, the first one wins.
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl")
#: Raw segments longer than this are prose, never furniture (also bounds the work per call).
MAX_RAW = 4000
#: Longest normalized segment a ``prefix`` or ``contains`` phrase may match.
MAX_PHRASE_SEGMENT = 400
#: Most words a photo/image credit line may have.
MAX_CREDIT_WORDS = 12
#: Most words besides the address in an ``obfuscated`` segment ("Tips: [email protected]").
MAX_OBFUSCATED_EXTRA = 6
#: Most words of a byline and of a pitch opener.
MAX_BYLINE_WORDS = 15
MAX_OPENER_WORDS = 20
#: Categories whose ``prefix`` phrases open a trailing pitch (see :func:`pitch_opener`).
PITCH_CATEGORIES = frozenset({"subscribe", "donate"})
#: Categories whose exact phrases may be chained with separators ("Share | Tweet | Email").
CHAIN_CATEGORIES = frozenset({"widget", "cta"})
_CHAIN_SEPARATORS = ("|", "·", "•")
_MAX_CHAIN_PARTS = 10

# Characters rewritten before matching: typographic quotes to ASCII, dashes and hyphens to a
# space (so "ad-free", "ad free" and "ad — free" compare equal), the increment sign to Delta,
# and invisible format characters dropped.
_TRANSLATE = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "″": '"',
        "-": " ",
        "‐": " ",
        "‑": " ",
        "‒": " ",
        "–": " ",
        "—": " ",
        "―": " ",
        "∆": "Δ",
        "*": None,
        "_": None,
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
        "\u00ad": None,
    }
)
# A markdown link or image: keep the text, drop the target. No nested quantifiers.
_MD_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()]*\)")
# Runs of digits (with inner separators) compare equal: "24 Issues" ~ "<n> issues".
_NUMBER = re.compile(r"\d[\d.,]*")
NUMBER = "<n>"
_LEAD_MARKS = "#>•+·▪◦»›→¿¡ "
_TRAIL_PUNCT = ".!?:;…,»›→| "
_SPACE_BEFORE = (" :", " ;", " !", " ?")


@dataclass(frozen=True)
class Hit:
    """A lexicon line that matched a segment: what kind of furniture, which line, which language."""

    category: str
    entry: str
    lang: str


@dataclass(frozen=True)
class Entry:
    """One parsed data line, with its phrase in matching form."""

    category: str
    mode: str
    phrase: str
    key: str
    lang: str
    line: int

    def hit(self) -> Hit:
        """The user-facing hit for this line."""
        return Hit(self.category, self.phrase, self.lang)


class LexiconDataError(ValueError):
    """A data file line is malformed (bad column count, category, mode or empty phrase)."""


def clean(text: str) -> str:
    """Case-preserving cleanup shared by all rules: NFKC, markdown and bullets gone, one space."""
    if text.isascii():  # the same, faster: NFKC keeps ASCII, and of _TRANSLATE only - * _ apply
        s = _MD_LINK.sub(r"\1", text) if "[" in text else text
        s = s.replace("-", " ").replace("*", "").replace("_", "")
    else:
        s = unicodedata.normalize("NFKC", text)
        s = _MD_LINK.sub(r"\1", s).translate(_TRANSLATE)
    s = " ".join(s.split())
    return s.lstrip(_LEAD_MARKS)


def normalize(text: str, strip_end: bool = True) -> str:
    """The matching form of a segment or phrase: cleaned, casefolded, numbers as ``<n>``,
    French spacing before ``:;!?`` removed, trailing punctuation stripped (unless
    ``strip_end`` is false: a ``prefix`` phrase keeps its colon, "read more:")."""
    return _key(clean(text), strip_end)


def _key(cleaned: str, strip_end: bool = True) -> str:
    """:func:`normalize` of an already :func:`clean` text."""
    s = _NUMBER.sub(NUMBER, cleaned.casefold())
    for sp in _SPACE_BEFORE:
        if sp in s:
            s = s.replace(sp, sp[1])
    s = s.lstrip(_LEAD_MARKS)
    return s.rstrip(_TRAIL_PUNCT) if strip_end else s.rstrip()


def parse(lines: Iterable[str], lang: str) -> Iterator[Entry]:
    """Entries of one data file; blank lines and ``#`` comments skipped, bad lines raise."""
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            raise LexiconDataError(f"{lang}.tsv:{n}: expected 3 tab-separated columns")
        category, mode, phrase = (c.strip() for c in cols)
        if category not in CATEGORIES:
            raise LexiconDataError(f"{lang}.tsv:{n}: unknown category {category!r}")
        if mode not in MODES:
            raise LexiconDataError(f"{lang}.tsv:{n}: unknown mode {mode!r}")
        key = normalize(phrase, strip_end=mode == "exact")
        if not key or not key.rstrip(_TRAIL_PUNCT):
            raise LexiconDataError(f"{lang}.tsv:{n}: empty phrase")
        yield Entry(category, mode, phrase, key, lang, n)


def read_data(lang: str) -> str:
    """The text of one packaged data file."""
    return (resources.files("dedupe") / "lexicon_data" / f"{lang}.tsv").read_text("utf-8")


@dataclass(frozen=True)
class _Tables:
    """All languages' entries, indexed for matching."""

    exact: dict[str, Entry]
    prefix: dict[str, list[Entry]]  # by first character of the key, longest key first
    contains: list[Entry]  # longest key first
    credit_words: frozenset[str]  # words of the credit phrases, allowed in lower case


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Load every data file once and index it."""
    exact: dict[str, Entry] = {}
    prefix: dict[str, list[Entry]] = {}
    contains: list[Entry] = []
    seen: set[tuple[str, str]] = set()
    for lang in LANGUAGES:
        for e in parse(read_data(lang).splitlines(), lang):
            if (e.mode, e.key) in seen:  # an earlier language already has it
                continue
            seen.add((e.mode, e.key))
            if e.mode == "exact":
                exact[e.key] = e
            elif e.mode == "prefix":
                prefix.setdefault(e.key[0], []).append(e)
            else:
                contains.append(e)
    for bucket in prefix.values():
        bucket.sort(key=lambda e: -len(e.key))
    contains.sort(key=lambda e: -len(e.key))
    credit_words = frozenset(
        w.strip(_CREDIT_STRIP)
        for e in (*exact.values(), *(e for b in prefix.values() for e in b), *contains)
        if e.category == "credit"
        for w in _CREDIT_SPLIT.split(e.key)
    )
    return _Tables(exact, prefix, contains, credit_words)


def entries() -> list[Entry]:
    """Every loaded entry (after cross-language de-duplication), for inspection and tests."""
    t = _tables()
    out = list(t.exact.values()) + [e for b in t.prefix.values() for e in b] + t.contains
    return sorted(out, key=lambda e: (LANGUAGES.index(e.lang), e.line))


def _is_word_char(ch: str) -> bool:
    """Whether a character belongs to a word (``<n>`` counts as one, so "<n> day" is bounded)."""
    return ch.isalnum() or ch == "<" or ch == ">"


def _bounded(key: str, phrase: str, at: int) -> bool:
    """Whether ``phrase`` found at ``key[at:]`` starts and ends on word boundaries."""
    end = at + len(phrase)
    left_ok = at == 0 or not _is_word_char(phrase[0]) or not _is_word_char(key[at - 1])
    right_ok = end == len(key) or not _is_word_char(phrase[-1]) or not _is_word_char(key[end])
    return left_ok and right_ok


def _find_bounded(key: str, phrase: str) -> int:
    """First word-bounded occurrence of ``phrase`` in ``key``, or -1."""
    at = key.find(phrase)
    while at >= 0:
        if _bounded(key, phrase, at):
            return at
        at = key.find(phrase, at + 1)
    return -1


# Words that may be lower case in a credit line without making it prose.
_CREDIT_CONNECTORS = frozenset(
    "by for via and of the from with courtesy file handout photo photos image images "
    "foto fotos bild de del della des di da do du la le von van der den per pour para por "
    "e et y und en".split()
)
_CREDIT_SPLIT = re.compile(r"[\s/|]+")
_CREDIT_STRIP = "()[]{},;:.\"'"


def credit_shaped(cleaned: str) -> bool:
    """A short photo-credit line: at most 12 words, no final period, no URL, and at most one
    in four words a lower-case word that is neither a connector ("by", "via", "courtesy")
    nor a word of a credit phrase ("picture alliance", "credit")."""
    if not cleaned or cleaned.endswith(".") or "://" in cleaned:
        return False
    if len(cleaned.split()) > MAX_CREDIT_WORDS:
        return False
    words = [w.strip(_CREDIT_STRIP) for w in _CREDIT_SPLIT.split(cleaned)]
    words = [w for w in words if w]
    if not words:
        return False
    allowed = _CREDIT_CONNECTORS | _tables().credit_words
    prose = sum(1 for w in words if w[0].isalpha() and w.islower() and w not in allowed)
    return prose * 4 <= len(words)


def _accept(e: Entry, key: str, cleaned: str) -> bool:
    """Category-specific shape tests applied on top of the phrase match."""
    if e.category == "credit":
        return credit_shaped(cleaned)
    if e.category == "obfuscated":
        rest = key.replace(e.key, " ", 1)
        return len(rest.split()) <= MAX_OBFUSCATED_EXTRA
    return True


def _match_key(key: str, cleaned: str) -> Entry | None:
    """The entry matching a normalized segment: an exact one, else the longest matching
    prefix or contains phrase (the most specific: "alle rechte vorbehalten" over "©")."""
    t = _tables()
    e = t.exact.get(key)
    if e is not None and _accept(e, key, cleaned):
        return e
    if len(key) > MAX_PHRASE_SEGMENT:
        return None
    best: Entry | None = None
    for e in t.prefix.get(key[0], ()):
        if key.startswith(e.key) and _bounded(key, e.key, 0) and _accept(e, key, cleaned):
            best = e
            break
    for e in t.contains:
        if best is not None and len(e.key) <= len(best.key):
            break
        # ``in`` first: a C-level test that rules out almost every entry before the slower
        # word-boundary search.
        if e.key in key and _find_bounded(key, e.key) >= 0 and _accept(e, key, cleaned):
            best = e
            break
    return best


def _chain(key: str) -> Entry | None:
    """A line of separated widget labels ("share | tweet | email"): its first label's entry."""
    if len(key) > 200:
        return None
    t = _tables()
    for sep in _CHAIN_SEPARATORS:
        if sep not in key:
            continue
        parts = [p.strip() for p in key.split(sep)]
        parts = [p for p in parts if p]
        if not 2 <= len(parts) <= _MAX_CHAIN_PARTS:
            continue
        found = [t.exact.get(p) for p in parts]
        if all(f is not None and f.category in CHAIN_CATEGORIES for f in found):
            return found[0]
    return None


@lru_cache(maxsize=1 << 15)  # furniture recurs in every article of an outlet
def match(text: str) -> Hit | None:
    """The lexicon line that makes this whole segment page furniture, or None if it is not."""
    if len(text) > MAX_RAW:
        return None
    cleaned = clean(text)
    key = _key(cleaned)
    if not key:
        return None
    e = _match_key(key, cleaned) or _chain(key)
    return e.hit() if e is not None else None


@lru_cache(maxsize=1 << 15)
def pitch_opener(text: str) -> bool:
    """Whether this block is the heading of a subscription, newsletter or donation pitch:
    short, and starting with a ``prefix`` phrase of the ``subscribe`` or ``donate`` lists."""
    if len(text) > MAX_RAW:
        return False
    key = normalize(text)
    if not key or len(key.split()) > MAX_OPENER_WORDS:
        return False
    for e in _tables().prefix.get(key[0], ()):
        if e.category in PITCH_CATEGORIES and key.startswith(e.key) and _bounded(key, e.key, 0):
            return True
    return False


# --- bylines -----------------------------------------------------------------------------

#: Words that open a byline, lower case, longest first ("written by" before "by").
BYLINE_MARKERS = (
    "written by",
    "reporting by",
    "reported by",
    "words by",
    "story by",
    "posted by",
    "a cura di",
    "texto de",
    "text von",
    "text:",
    "by",
    "von",
    "par",
    "por",
    "di",
    "door",
)
# Lower-case particles inside a name ("Ursula von der Leyen", "Luiz da Silva").
_NAME_PARTICLES = frozenset(
    "de da di do du del della dei dos das der den van von la le al el bin ibn ter zu st".split()
)
# Lower-case words that end the name part; what follows is free (agency, date, role).
_NAME_ENDERS = frozenset(
    "and und et y e en og on am le el em il op for für pour para per voor in at with "
    "| · • / & — –".split()
)
# Capitalised words after "By" that start a sentence rather than a name.
_NOT_NAMES = frozenset(
    """this that these those then now all most some many far contrast comparison law
    mid early late last next midday noon night nightfall dawn
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    montag dienstag mittwoch donnerstag freitag samstag sonntag
    ein eine un une una um uma een""".split()
)
# Capitalised articles that may open an outlet's name ("By The Associated Press", "Par Le
# Monde"): skipped, and the next word must then be capitalised.
_ARTICLES = frozenset("the le la les el los las il lo der die das het de o a os as".split())
_MAX_NAME_WORDS = 5


def _strip_word(w: str) -> str:
    """A word without surrounding brackets, quotes and punctuation, for the name test."""
    return w.strip("()[]\"'“”‘’*_,;:")


def _looks_like_name(words: list[str]) -> bool:
    """Whether ``words`` start with a name: capitalised words (particles allowed) up to a
    separator, a comma or the end, at most five of them."""
    count = 0
    for i, raw in enumerate(words):
        w = _strip_word(raw)
        low = w.casefold()
        if not w:
            if count:
                break  # a lone dash or bar: the name is over
            return False
        if count and (low in _NAME_ENDERS or raw in _NAME_ENDERS):
            break
        if i == 0 and w[0].isupper() and low in _ARTICLES:
            continue
        if w[0].isupper():
            if i == 0 and low in _NOT_NAMES:
                return False
            count += 1
        elif count and low in _NAME_PARTICLES:
            pass
        else:
            return False
        if count > _MAX_NAME_WORDS:
            return False
        if raw.endswith(",") or raw.endswith("|"):
            break
    return count > 0


def _ends_with_date(s: str) -> bool:
    """Whether a text ending in a period ends in a date or a year ("... September 25, 2023.")."""
    last = s.rstrip(".").rsplit(" ", 1)[-1]
    return any(ch.isdigit() for ch in last)


def _ends_with_abbreviation(s: str) -> bool:
    """Whether the final period belongs to an abbreviation ("Jr.", "Ph.D.")."""
    last = s.rsplit(" ", 1)[-1]
    core = last.rstrip(".")
    return len(last) <= 6 and ("." in core or core.casefold() in {"jr", "sr", "inc", "ltd"})


def byline(text: str) -> bool:
    """Whether this block is a byline ("By X", "By: X", "Written by X on DATE", "Von X"):
    a marker, then a name (capitalised words or a markdown link), short, no sentence end."""
    if len(text) > MAX_RAW:
        return False
    raw = " ".join(text.split()).lstrip("#>•-* ")
    s = clean(text)
    if not s or len(s.split()) > MAX_BYLINE_WORDS:
        return False
    if s.endswith((".", "!", "?")) and not _ends_with_date(s) and not _ends_with_abbreviation(s):
        return False
    low = s.casefold()
    for marker in BYLINE_MARKERS:
        if not low.startswith(marker):
            continue
        rest_at = len(marker)
        if rest_at < len(low) and low[rest_at] not in " :":
            continue  # "Bystander", "Paris"
        rest = s[rest_at:].lstrip(" :")
        if not rest:
            return False
        # A markdown link right after the marker is a linked author name.
        raw_low = raw.casefold()
        raw_rest = raw[len(marker) :].lstrip(" :") if raw_low.startswith(marker) else ""
        if raw_rest.startswith("[") and raw_rest[1:2].strip():
            return True
        return _looks_like_name(rest.split())
    return False


# --- datelines ---------------------------------------------------------------------------

# "( – ", "() — ", "( ) - ", "(--": an empty dateline the scraper left. The dash must be
# followed by white space or the end, so "(-5 degrees)" is not one.
_BROKEN_DATELINE = re.compile(
    r"[ \t\u00a0]*\([ \t\u00a0]*\)?[ \t\u00a0]*[-–—]{1,2}(?:[ \t\u00a0]+|$)"
)


def dateline_prefix(text: str) -> int:
    """Length of a broken, empty dateline at the start of a paragraph ("( – Convoys" -> 4),
    including the white space after it; 0 when there is none (a real dateline is content)."""
    m = _BROKEN_DATELINE.match(text)
    return m.end() if m else 0


# --- attributions ------------------------------------------------------------------------

# Fixed-name sources: (pattern, normalized name). Case-sensitive where case tells the agency
# apart from a common word ("AFP", "dpa"); word-bounded everywhere.
_SOURCES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\(AP\)|\bAssociated Press\b|\bAP News\b"), "Associated Press"),
    (re.compile(r"\bReuters\b"), "Reuters"),
    (re.compile(r"\bAFP\b|\bAgence France[- ]Presse\b"), "AFP"),
    (re.compile(r"\bdpa\b|\bDeutsche Presse-Agentur\b"), "dpa"),
    (re.compile(r"\bUPI\b|\bUnited Press International\b"), "UPI"),
    (
        re.compile(
            r"\bBloomberg News\b|\(Bloomberg\)|\baccording to Bloomberg\b|\bBloomberg reported\b"
        ),
        "Bloomberg",
    ),
    (
        re.compile(
            r"\b(?:according to|in|said in|announced in|stated in) (?:a|an|the|its|their) "
            r"(?:press|news) release\b|\bsaid in a (?:written )?statement\b|"
            r"\baccording to a (?:written )?statement\b",
            re.IGNORECASE,
        ),
        "press release",
    ),
)
_TOLD = re.compile(r"\btold ")
# Capitalised words after "told" that name a person, not an outlet.
_TOLD_NOT_OUTLET = frozenset(
    """president sen. senator rep. representative gov. governor mr. mrs. ms. dr. judge
    congress lawmakers police officers i he she they we you him her them us me""".split()
)
_MAX_TOLD_WORDS = 4
_TOLD_INNER = frozenset({"of", "&", "and"})
_WORD_TRAIL = ",.;:!?)\"'”’"


def _told_outlet(after: str) -> str | None:
    """The outlet named right after "told " (at most four capitalised words), if any."""
    words = after.split(" ")[: _MAX_TOLD_WORDS + 3]
    if words and words[0] == "the" and len(words) > 1 and words[1][:1].isupper():
        words[0] = "The"
    out: list[str] = []
    for i, raw in enumerate(words):
        w = raw.rstrip(_WORD_TRAIL)
        if not w:
            break
        if w in _TOLD_INNER and out and i + 1 < len(words) and words[i + 1][:1].isupper():
            out.append(w)
            continue
        if not w[0].isupper():
            break
        if not out and w.casefold() in _TOLD_NOT_OUTLET:
            return None
        out.append(w)
        if len([x for x in out if x not in _TOLD_INNER]) >= _MAX_TOLD_WORDS or w != raw:
            break
    while out and out[-1] in _TOLD_INNER:
        out.pop()
    if not out or out == ["The"]:
        return None
    return " ".join(out)


def attributions(text: str) -> tuple[str, ...]:
    """Wire and source attributions in a sentence, normalized ("(AP)" -> "Associated Press",
    "told The Post" -> "The Post", "in a press release" -> "press release"), sorted, unique."""
    found: set[str] = set()
    for pattern, name in _SOURCES:
        if pattern.search(text):
            found.add(name)
    for m in _TOLD.finditer(text):
        outlet = _told_outlet(text[m.end() : m.end() + 160])
        if outlet:
            found.add(outlet)
    return tuple(sorted(found))
