"""Turn findings into cut spans and the cleaned text; put the original back from them.

A cut swallows the white space its text leaves behind (a whole line takes its line break, a
sentence the space after it), so the cleaned text reads as if the furniture was never there.
Where a removed line sat inside a sentence that a page break split, the cut covers the whole
gap and leaves one space: the sentence's two halves are rejoined.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from dedupe.model import Finding, Removal, Segment

STRIPPED = frozenset({"boilerplate", "repeat"})


#: Characters that end a line, as :func:`dedupe.segment.blocks` splits them (CR LF is two).
_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
#: White space inside a line.
_BLANK = " \t\u00a0"


def _line_bounds(text: str, s: int, e: int) -> tuple[bool, bool]:
    """Is ``text[s:e]`` the first / last non-blank thing on its line?"""
    i = s
    while i > 0 and text[i - 1] in _BLANK:
        i -= 1
    at_start = i == 0 or text[i - 1] in _BREAKS
    j = e
    while j < len(text) and text[j] in _BLANK:
        j += 1
    at_end = j == len(text) or text[j] in _BREAKS
    return at_start, at_end


def _widen(text: str, s: int, e: int, line_gone: bool = False) -> tuple[int, int]:
    """Extend a cut over the white space it would otherwise leave behind. ``line_gone``: every
    other piece of this line is cut too, so the cut may take the line break."""
    at_start, at_end = _line_bounds(text, s, e)
    n = len(text)
    if at_end and (at_start or line_gone):  # the line goes: take it and the blank lines after it
        if at_start:
            while s > 0 and text[s - 1] in _BLANK:
                s -= 1
        while e < n and text[e].isspace():
            e += 1
        if e == n or s == 0 or not text[:s].strip():
            while s > 0 and text[s - 1].isspace():
                s -= 1
        return s, e
    if at_start and line_gone:  # first of several pieces on a line that goes
        while s > 0 and text[s - 1] in _BLANK:
            s -= 1
        if s == 0 or not text[:s].strip():
            s = 0
    if at_end:  # last sentence on its line: take the space before it
        while s > 0 and text[s - 1] in _BLANK:
            s -= 1
        while e < n and text[e] in _BLANK:
            e += 1
        return s, e
    while e < n and text[e] in _BLANK:
        e += 1
    return s, e


def removals(
    text: str,
    segments: Sequence[Segment],
    findings: Sequence[Finding],
    strip: Iterable[str] = STRIPPED,
) -> list[Removal]:
    """The cuts for one article: every segment whose verdict is in ``strip``."""
    strip = frozenset(strip)
    pieces: list[tuple[int, int, Finding]] = []
    kept_blocks: set[int] = set()
    for g, f in zip(segments, findings):
        if f.verdict not in strip:
            kept_blocks.add(g.block)
            continue
        for s, e in g.parts or ((g.start, g.end),):
            pieces.append((s, e, f))
    block_of = {(g.start, g.end): g.block for g in segments if not g.parts}
    pieces.sort(key=lambda p: (p[0], p[1]))
    cuts: list[Removal] = []
    last_end = 0
    for s, e, f in pieces:
        b = block_of.get((s, e))
        s, e = _widen(text, s, e, line_gone=b is not None and b not in kept_blocks)
        s = max(s, last_end)
        if e <= s:
            continue
        cuts.append(Removal(s, e, f.verdict, f.reason, f.matched))
        last_end = e
    if cuts and cuts[-1].end == len(text):
        # The article ends in cuts: the white space before them goes too.
        i = len(cuts) - 1
        while i > 0 and cuts[i - 1].end == cuts[i].start:
            i -= 1
        head = cuts[i]
        s = head.start
        while s > 0 and text[s - 1].isspace() and (i == 0 or s > cuts[i - 1].end):
            s -= 1
        cuts[i] = Removal(s, head.end, head.verdict, head.reason, head.matched)
    return _rejoin(text, segments, findings, cuts, strip)


def _rejoin(
    text: str,
    segments: Sequence[Segment],
    findings: Sequence[Finding],
    cuts: list[Removal],
    strip: frozenset[str],
) -> list[Removal]:
    """Merge the cuts inside a kept split sentence's gap into one cut that leaves a space.

    The cuts are sorted and disjoint, and the gaps of kept sentences are too: each gap finds
    its cuts by bisection and the list is rebuilt once, so an article of many split sentences
    costs n log n, not n squared."""
    starts = [c.start for c in cuts]
    ends = [c.end for c in cuts]
    joins: dict[int, tuple[int, Removal]] = {}  # first index replaced -> (last index, the join)
    for g, f in zip(segments, findings):
        if not g.parts or f.verdict in strip:
            continue
        for (_, gap_s), (gap_e, _) in zip(g.parts, g.parts[1:]):
            i, k = bisect.bisect_right(ends, gap_s), bisect.bisect_left(starts, gap_e)
            inside = cuts[i:k]
            if not inside:
                continue
            covered = sorted((max(c.start, gap_s), min(c.end, gap_e)) for c in inside)
            pos = gap_s
            whole = True
            for cs, ce in covered:
                if text[pos:cs].strip():
                    whole = False
                    break
                pos = max(pos, ce)
            if not whole or text[pos:gap_e].strip():
                continue
            first = inside[0]
            lo = min(gap_s, min(c.start for c in inside))
            hi = max(gap_e, max(c.end for c in inside))
            joined = Removal(
                lo,
                hi,
                first.verdict,
                first.reason + "; the sentence around it is rejoined",
                first.matched,
                replacement=" ",
            )
            joins[i] = (k, joined)
    if not joins:
        return cuts
    out: list[Removal] = []
    i = 0
    while i < len(cuts):
        if i in joins:
            i, joined = joins[i]
            out.append(joined)
        else:
            out.append(cuts[i])
            i += 1
    return out


def apply(text: str, cuts: Sequence[Removal]) -> str:
    """The text with every cut taken out (and its replacement, if any, put in)."""
    out: list[str] = []
    pos = 0
    for c in cuts:
        out.append(text[pos : c.start])
        out.append(c.replacement)
        pos = c.end
    out.append(text[pos:])
    return "".join(out)


def restore(cleaned: str, cuts: Sequence[tuple[Removal, str]]) -> str:
    """The original text, from the cleaned text and each cut with the text it removed."""
    out: list[str] = []
    pos = 0  # in cleaned
    offset = 0  # original minus cleaned length so far
    for c, removed in cuts:
        keep_until = c.start - offset
        out.append(cleaned[pos:keep_until])
        out.append(removed)
        pos = keep_until + len(c.replacement)
        offset += (c.end - c.start) - len(c.replacement)
    out.append(cleaned[pos:])
    return "".join(out)
