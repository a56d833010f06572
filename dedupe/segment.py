"""Cut an article's text into blocks and sentences, each located by offsets into the text.

Blocks are the lines the scraper separated; sentences are found inside blocks by a splitter
that knows abbreviations, initials, decimals and quotes. A sentence that a page break cut in
two (a block ending mid-sentence, then a block starting in lower case, possibly with a short
interrupting line such as a repeated byline between them) stays one sentence with two parts.
Every pattern here is linear: no nested quantifiers, no backtracking on long inputs.
"""

from __future__ import annotations

import re
import unicodedata

from dedupe.model import Segment

#: Words that end with a period without ending a sentence (compared case-insensitively,
#: without the final period).
ABBREVIATIONS = frozenset(
    """
    mr mrs ms mx dr prof gov sen rep rev hon gen col lt sgt capt cmdr adm maj cpl pvt supt
    st mt ft jr sr inc co corp ltd llc plc bros dept univ assn est approx
    vs etc al cf ca fig figs vol vols pp ed eds ch sec art para no nos op
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    ave blvd rd hwy
    u.s u.k u.n u.s.a e.u d.c l.a n.y e.g i.e a.m p.m a.k.a ph.d m.d b.a m.a
    """.split()
)
#: Abbreviations that only hold when a number follows ("No. 5", "Art. 3", "pp. 12").
NUMERIC_ABBREVIATIONS = frozenset({"no", "nos", "art", "pp", "p", "vol", "ch", "sec", "op", "fig"})

_TERMINAL = ".!?…。！？"
_CLOSERS = "\"'”’»)]*_"
_OPENERS = "\"'“‘«([*_¿¡「『（【"
# A sentence end: terminal punctuation, optional closing quotes/brackets, then white space;
# or a full-width mark of Chinese and Japanese, whose sentences follow with no space (one
# inside quotes, 「本当ですか？」と言った, ends no sentence: the quote mark is no sentence start).
# It starts only where a run of marks starts: tried from inside a long run ("." * 10**6, no
# white space after it) it would rescan the rest of the run from every position. It opens
# with a plain character set, which the regex engine scans for fast, and looks back after.
_END = re.compile(
    r"[.!?…。！？](?<![.!?…。！？].)"
    r"(?:(?<=[.!?…])[.!?…]*[\"'”’»)\]*_]*[ \t\u00a0]+|(?<=[。！？])[。！？]*[ \t\u00a0]*)"
)
_WORD_BEFORE = re.compile(r"([^\s\"'“‘«(\[]+)$")
# Longest look-back for the abbreviation test; keeps the splitter linear on huge "words".
_LOOKBACK = 24
#: Longest interrupting block (in characters) skipped when a page break splits a sentence.
MAX_INTERRUPTION = 200
#: Shortest block (in characters) taken for the first half of a sentence split by a page break.
MIN_SPLIT_BLOCK = 60
#: Longest sentence or block segment, in characters: longer runs (text without punctuation)
#: are cut into chunks at white space, so the work per segment stays bounded.
MAX_SEGMENT_CHARS = 2000
_LIST_MARKS = ("- ", "* ", "• ", "#")


def blocks(text: str) -> list[tuple[int, int]]:
    """The non-blank lines of ``text`` as ``(start, end)``, surrounding white space excluded.
    A line ends at every break ``str.splitlines`` knows: LF, CR LF, a lone CR from old Mac
    text, the Unicode line and paragraph separators of JavaScript-built pages, NEL..."""
    out: list[tuple[int, int]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip()
        lead = len(body) - len(body.lstrip())
        if len(body) > lead:
            out.append((pos + lead, pos + len(body)))
        pos += len(line)
    return out


def _is_boundary(text: str, dot: int, nxt: int, block_start: int) -> bool:
    """Decide whether the terminal mark at ``dot`` ends a sentence, given the next char at ``nxt``."""
    follower = text[nxt]
    if not (
        follower.isupper() or follower.isdigit() or follower in _OPENERS or _is_caseless(follower)
    ):
        return False
    if text[dot] != ".":
        return True
    lo = max(block_start, dot - _LOOKBACK)
    m = _WORD_BEFORE.search(text, lo, dot)
    if not m:
        return True
    word = m.group(1).rstrip(".").lower()
    if not word:
        return True
    if word in ABBREVIATIONS:
        return False
    if word in NUMERIC_ABBREVIATIONS:
        return not follower.isdigit()
    # An initial ("J. Smith", "George W. Bush"): one letter before the period.
    if len(word) == 1 and word.isalpha():
        return False
    # Dotted acronyms not in the list ("N.Y.P.D.").
    if "." in word and all(len(p) <= 2 for p in word.split(".")):
        return False
    return True


def _is_caseless(ch: str) -> bool:
    """Letters of scripts without case (CJK, Arabic, Hebrew, Thai...) may start a sentence."""
    return ch.isalpha() and not ch.isupper() and not ch.islower()


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` (one block) into sentences, as offsets into ``text``."""
    out: list[tuple[int, int]] = []
    s = start
    for m in _END.finditer(text, start, end):
        nxt = m.end()
        if nxt >= end:
            break
        dot = m.start()
        # Move ``dot`` to the last terminal mark of the run ("?!" or "...").
        run_end = dot
        while run_end + 1 < m.end() and text[run_end + 1] in _TERMINAL:
            run_end += 1
        if run_end - dot >= 2 and text[dot] == ".":
            # An ellipsis mid-sentence ("we have come to ... a breaking point").
            if text[nxt].islower():
                continue
        if not _is_boundary(text, run_end, nxt, start):
            continue
        e = m.end()
        while e > s and text[e - 1] in " \t\u00a0":
            e -= 1
        if text[run_end] == "." and _few_words(text, s, e):
            # "Vaughan, Jessica. "Title..."": a name or label, not a sentence of its own.
            continue
        if e > s:
            out.append((s, e))
        s = nxt
    if end > s:
        out.append((s, end))
    return _capped(text, out)


def _capped(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans longer than MAX_SEGMENT_CHARS cut into chunks at most that long, each ending at
    white space where the window holds any (else cut hard), so text without punctuation
    still gives segments of bounded size."""
    if all(e - s <= MAX_SEGMENT_CHARS for s, e in spans):
        return spans
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while e - s > MAX_SEGMENT_CHARS:
            cut = s + MAX_SEGMENT_CHARS
            i = cut
            while i > s and not text[i].isspace():
                i -= 1
            if i > s:  # end the chunk before the white space, start the next after it
                j = i
                while j > s and text[j - 1].isspace():
                    j -= 1
                nxt = i
                while nxt < e and text[nxt].isspace():
                    nxt += 1
                out.append((s, j))
                s = nxt
            else:
                out.append((s, cut))
                s = cut
        if e > s:
            out.append((s, e))
    return out


def _few_words(text: str, s: int, e: int, n: int = 3) -> bool:
    """Fewer than ``n`` words in ``text[s:e]`` (looked at no further than needed)."""
    return len(text[s:e].split(None, n)) < n


def _ends_open(text: str, s: int, e: int) -> bool:
    """Does the block ``text[s:e]`` stop mid-sentence (no terminal punctuation at its end)?"""
    i = e
    while i > s and text[i - 1] in _CLOSERS:
        i -= 1
    if i <= s:
        return False
    last = text[i - 1]
    if last in _TERMINAL or last in ":;":
        return False
    # Headings and list items are whole lines, not halves of a sentence.
    head = text[s]
    if head in "#|>" or text.startswith(_LIST_MARKS, s):
        return False
    return last.isalnum() or last in ",)–—-"


def _starts_continuation(text: str, s: int) -> bool:
    """Does a block start like the second half of a sentence (a lower-case word)?"""
    return text[s].islower()


def segment(text: str) -> list[Segment]:
    """Blocks and sentences of ``text``, in order, covering all of its non-blank text once.

    A block holding one sentence is a ``block`` segment; a block holding several yields
    ``sentence`` segments. A sentence split by a page break is one segment whose ``parts``
    name its pieces; the interrupting lines between them stay segments of their own.
    """
    blks = blocks(text)
    per_block = [sentences(text, s, e) for s, e in blks]
    # Page-break joins: block i ends open and block j (i+1, or i+2 after a short
    # interrupting line) starts lower case.
    join_to: dict[int, int] = {}
    targets: set[int] = set()  # the values of join_to, for constant-time membership tests
    interruptions: set[int] = set()
    for i, (s, e) in enumerate(blks):
        if i in interruptions or i in targets and i - 1 in interruptions:
            continue
        if e - s < MIN_SPLIT_BLOCK or not _ends_open(text, s, e):
            continue
        for j in (i + 1, i + 2):
            if j >= len(blks):
                break
            js, _ = blks[j]
            if _starts_continuation(text, js):
                if j == i + 2:
                    ms, me = blks[i + 1]
                    if (
                        me - ms > MAX_INTERRUPTION
                        or (i + 1) in targets
                        or text.startswith(_LIST_MARKS, ms)
                    ):
                        break
                    interruptions.add(i + 1)
                join_to[i] = j
                targets.add(j)
                break
    joined_targets = targets
    out: list[Segment] = []
    pending: list[tuple[int, int]] = []  # parts of a split sentence, waiting for its end
    pending_block = -1
    for b in range(len(blks)):
        sents = list(per_block[b])
        if b in joined_targets and pending:
            pending.append(sents[0])
            sents = sents[1:]
            if not sents and b in join_to:
                continue  # the whole block is the middle of a sentence spanning three blocks
            out.append(
                Segment(
                    index=len(out),
                    kind="sentence",
                    start=pending[0][0],
                    end=pending[-1][1],
                    block=pending_block,
                    parts=tuple(pending),
                )
            )
            pending = []
        carry = b in join_to
        last = len(sents) - 1
        for k, (ss, se) in enumerate(sents):
            if carry and k == last:
                pending = [(ss, se)]
                pending_block = b
                continue
            whole = len(per_block[b]) == 1 and b not in joined_targets and not carry
            out.append(Segment(len(out), "block" if whole else "sentence", ss, se, b))
    if pending:  # the continuation never came (defensive; joins are checked above)
        out.append(
            Segment(
                len(out),
                "sentence",
                pending[0][0],
                pending[-1][1],
                pending_block,
                tuple(pending) if len(pending) > 1 else (),
            )
        )
    # Interrupting lines sit inside a split sentence's span; keep the list in start order.
    out.sort(key=lambda g: (g.start, g.end))
    return [
        Segment(i, g.kind, g.start, g.end, g.block, g.parts) if g.index != i else g
        for i, g in enumerate(out)
    ]


# --- normalization -----------------------------------------------------------------------

_MD_LINK = re.compile(r"\[([^\[\]\n]{0,500})\]\([^()\s]{0,2000}\)")
_CJK = (
    r"\u0e00-\u0e7f"  # Thai
    r"\u3040-\u30ff"  # kana
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    r"\uac00-\ud7af"  # Hangul
)
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


def strip_format_chars(text: str) -> str:
    """Drop invisible format characters (zero-width, bidi controls) that dodge matching."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


# ASCII without markdown links, the common case: NFKC and case folding are plain lower-casing
# there, and the words are the runs of letters and digits.
_ASCII_NON_WORD = bytes.maketrans(
    bytes(c for c in range(128) if not chr(c).isalnum()),
    b" " * sum(not chr(c).isalnum() for c in range(128)),
)


def normalize(text: str) -> str:
    """The matching form of a segment: NFKC, case-folded, markdown links reduced to their
    text, invisible characters and punctuation dropped, white space collapsed."""
    if text.isascii() and "[" not in text:
        return b" ".join(text.lower().encode().translate(_ASCII_NON_WORD).split()).decode()
    t = _MD_LINK.sub(r"\1", text)
    t = unicodedata.normalize("NFKC", strip_format_chars(t)).casefold()
    return " ".join(_TOKEN.findall(t))


def tokens(normalized: str) -> list[str]:
    """Words of a normalized segment; each CJK/Thai character counts as a word."""
    return _TOKEN.findall(normalized)
