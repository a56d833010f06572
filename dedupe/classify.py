"""Verdicts on segments, each with the rule that decided it and the evidence it rests on.

Pure: the caller gathers what the corpus knows about each segment (an :class:`Evidence`) and
this module decides. Rules, first match wins:

1. ``dateline``: a broken, empty dateline cut off the start of a paragraph -> boilerplate.
2. ``lexicon``: a known widget, form, subscription, call-to-action, credit... string -> boilerplate.
3. ``pitch``: a trailing subscription pitch, from its opening line to the end -> boilerplate.
4. ``byline-repeat``: a byline or dateline line seen earlier in the article -> boilerplate.
5. ``repeat``: an exact or near copy of an earlier segment of the article -> repeat.
6. ``recurrence``: the text recurs in ``min_outlet_articles`` articles of one outlet (this
   article's or another's) -> boilerplate. Page furniture is never reuse.
7. ``reuse``: the text appears in an earlier article of another outlet -> reused;
   ``reuse-origin``: this article is the earliest to carry it -> kept, naming the later copies.
8. ``same-outlet-copy``: text of an earlier article of the same outlet (fewer than
   ``min_outlet_articles``: a follow-up or a version) -> reused, but never provenance;
   ``same-outlet``: the earliest of those -> kept. ``unique`` -> kept.

"Earlier" means by publication date, unknown dates last, ties broken by article id: never by
ingest order, so the verdicts do not depend on the order articles arrived in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dedupe import lexicon
from dedupe.model import Finding, Match, Segment, order_key

#: Rules that rest on the article's own text alone (its segments, lexicon hits, pitch and
#: repeats within it): a stored verdict by one of them stays whatever the store learns later.
TEXT_RULES = frozenset({"dateline", "lexicon", "pitch", "byline-repeat", "repeat"})
#: Rules that rest on the store's evidence of the segment's own text (its carriers and near
#: copies): the only verdicts later articles can change, and only by that text's evidence.
STORE_RULES = frozenset(
    {"recurrence", "reuse", "reuse-origin", "same-outlet-copy", "same-outlet", "unique"}
)

#: Later copies or earlier sources named in a finding at most.
MAX_MATCHES = 5
#: Words after a pitch opener that may still be part of the pitch (beyond that it is content).
MAX_PITCH_WORDS = 300


@dataclass(frozen=True)
class Peer:
    """The same or nearly the same text in another stored article."""

    article: str
    outlet: str | None
    published: str | None
    start: int
    end: int
    similarity: float

    def match(self) -> Match:
        return Match(
            self.article, self.start, self.end, self.similarity, self.outlet, self.published
        )


@dataclass(frozen=True)
class Evidence:
    """What the corpus says about one segment's text.

    ``counts``: for each known outlet carrying the text (exactly or nearly), how many of its
    articles do, this one included. ``peers``: the earliest other article of each outlet
    carrying it. ``internal``: earlier segments of this article with the same or a near text,
    as (segment index, similarity).
    """

    peers: tuple[Peer, ...] = ()
    counts: tuple[tuple[str, int], ...] = ()
    internal: tuple[tuple[int, float], ...] = ()
    #: A sentence too short to tell apart from others: it may be furniture by recurrence,
    #: but is never a repeat or reuse on its own.
    short: bool = False


def refine(text: str, segments: Sequence[Segment]) -> list[Segment]:
    """Split a broken dateline off the segment that starts a paragraph, so it can be cut alone."""
    out: list[Segment] = []
    first_of_block: set[int] = set()
    seen_blocks: set[int] = set()
    for g in segments:
        if g.block not in seen_blocks:
            seen_blocks.add(g.block)
            first_of_block.add(g.index)
    for g in segments:
        n = lexicon.dateline_prefix(text[g.start : g.end]) if g.index in first_of_block else 0
        if 0 < n < g.end - g.start and not g.parts:
            rest = g.start + n
            while rest < g.end and text[rest].isspace():
                rest += 1
            out.append(Segment(len(out), "fragment", g.start, g.start + n, g.block))
            out.append(Segment(len(out), g.kind, rest, g.end, g.block))
        else:
            out.append(Segment(len(out), g.kind, g.start, g.end, g.block, g.parts))
    return out


def _pitch_start(blocks: list[str], hits: list[bool]) -> int | None:
    """Index of the block opening a trailing subscription pitch, if the article ends in one."""
    # Suffix sums, so an article of many pitch openers costs n, not n squared: after block p,
    # does any block hit the lexicon, and how many words do the others hold?
    n = len(blocks)
    any_hit = [False] * (n + 1)
    other_words = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        any_hit[i] = any_hit[i + 1] or hits[i]
        other_words[i] = other_words[i + 1] + (0 if hits[i] else len(blocks[i].split()))
    for p, btext in enumerate(blocks):
        if not lexicon.pitch_opener(btext):
            continue
        if p + 1 >= n or not any_hit[p + 1]:
            continue
        if other_words[p + 1] <= MAX_PITCH_WORDS:
            return p
    return None


@dataclass(frozen=True)
class TextFacts:
    """What an article's text alone says about its segments, whatever the corpus holds: the
    lexicon hit of each segment, each block's position, and where a trailing pitch starts.
    Pure, so it can be computed ahead (in another process) and passed to :func:`classify`."""

    lex: tuple[lexicon.Hit | None, ...]
    block_pos: dict[int, int]
    pitch: int | None
    pitch_opener: str


def text_facts(text: str, segments: Sequence[Segment]) -> TextFacts:
    """The :class:`TextFacts` of an article's segments."""
    seg_texts = [g.text_of(text) for g in segments]
    # Blocks, for the pitch rule.
    block_ids = sorted({g.block for g in segments})
    block_pos = {b: i for i, b in enumerate(block_ids)}
    block_text = ["" for _ in block_ids]
    block_hit = [True for _ in block_ids]
    lex = [lexicon.match(t) if g.kind != "fragment" else None for g, t in zip(segments, seg_texts)]
    for g, t, h in zip(segments, seg_texts, lex):
        i = block_pos[g.block]
        block_text[i] = (block_text[i] + " " + t).strip()
        block_hit[i] = block_hit[i] and h is not None
    for i, bt in enumerate(block_text):
        if not block_hit[i]:
            h = lexicon.match(bt)
            block_hit[i] = h is not None
    pitch = _pitch_start(block_text, block_hit)
    pitch_opener = block_text[pitch] if pitch is not None else ""
    return TextFacts(tuple(lex), block_pos, pitch, pitch_opener)


def classify(
    article_id: str,
    outlet: str | None,
    published: str | None,
    text: str,
    segments: Sequence[Segment],
    evidence: Sequence[Evidence],
    min_outlet_articles: int = 3,
    facts: TextFacts | None = None,
    only: Sequence[int] | None = None,
) -> list[Finding]:
    """One finding per segment, in segment order. ``facts``: :func:`text_facts` of the text
    and segments, if it was computed ahead; ``only``: the indexes (ascending) of the segments
    to judge, the others left out (each verdict rests on its own segment's evidence)."""
    me = order_key(published, article_id)
    if facts is None:
        facts = text_facts(text, segments)
    lex, block_pos, pitch, pitch_opener = (
        facts.lex,
        facts.block_pos,
        facts.pitch,
        facts.pitch_opener,
    )

    findings: list[Finding] = []
    n = min(len(segments), len(lex), len(evidence))
    for k in range(n) if only is None else [k for k in only if k < n]:
        g, hit, ev = segments[k], lex[k], evidence[k]
        t = g.text_of(text)

        def found(
            verdict: str, rule: str, reason: str, matched: Sequence[Match] = (), g: Segment = g
        ) -> None:
            findings.append(Finding(g.start, g.end, g.kind, verdict, reason, rule, tuple(matched)))  # type: ignore[arg-type]

        if g.kind == "fragment":
            found("boilerplate", "dateline", "broken dateline left by the scraper")
            continue
        if hit is not None:
            found("boilerplate", "lexicon", f'lexicon: {hit.category} "{hit.entry}" ({hit.lang})')
            continue
        if pitch is not None and block_pos[g.block] >= pitch:
            found(
                "boilerplate",
                "pitch",
                f'subscription pitch from "{_short(pitch_opener)}" to the end of the article',
            )
            continue
        if ev.internal and not ev.short:
            j, sim = ev.internal[0]
            first = segments[j]
            m = Match(article_id, first.start, first.end, sim, outlet, published)
            if lexicon.byline(t):
                found("boilerplate", "byline-repeat", "byline repeated inside the article", [m])
            else:
                how = "exact" if sim >= 1.0 else f"near ({sim:.2f})"
                found("repeat", "repeat", f"{how} repeat of segment {j} of this article", [m])
            continue
        # Recurrence: page furniture of this outlet or of any other is never reuse.
        counts = dict(ev.counts)
        furniture = sorted(
            (o for o, n in counts.items() if n >= min_outlet_articles),
            key=lambda o: (o != outlet, -counts[o], o),
        )
        if furniture:
            o = furniture[0]
            examples = [p.match() for p in ev.peers if p.outlet == o]
            whose = "this outlet" if o == outlet else f"outlet {o}"
            found(
                "boilerplate", "recurrence", f"recurs in {counts[o]} articles of {whose}", examples
            )
            continue
        others = [p for p in ev.peers if outlet is None or p.outlet != outlet]
        if ev.short:
            others = []
        if others and not lexicon.byline(t):
            others.sort(key=lambda p: order_key(p.published, p.article))
            earlier = [p for p in others if order_key(p.published, p.article) < me]
            # A later carrier in an outlet copies that outlet's earliest one, whatever other
            # outlets carry and when: so its verdict never waits on theirs.
            own = [
                p
                for p in ev.peers
                if outlet is not None
                and p.outlet == outlet
                and order_key(p.published, p.article) < me
            ]
            if own:
                src = own[0]
                found(
                    "reused",
                    "same-outlet-copy",
                    f"{'exact' if src.similarity >= 1.0 else 'near'} copy of {src.article}"
                    f" of the same outlet, {_order_reason(src.published, published)}",
                    [src.match()],
                )
            elif earlier:
                src = earlier[0]
                found(
                    "reused",
                    "reuse",
                    f"{'exact' if src.similarity >= 1.0 else 'near'} copy of {src.article}"
                    f" ({src.outlet or 'unknown outlet'}), {_order_reason(src.published, published)}",
                    [p.match() for p in earlier[:MAX_MATCHES]],
                )
            else:
                found(
                    "kept",
                    "reuse-origin",
                    f"earliest carrier of this text; {len(others)} other outlet(s) carry it later",
                    [p.match() for p in others[:MAX_MATCHES]],
                )
            continue
        mine = counts.get(outlet, 1) if outlet is not None else 1
        if mine > 1 and not ev.short:
            # The outlet's own text in another of its articles (a follow-up, a version):
            # not reuse between outlets, but a copy all the same; the earliest keeps it.
            first = [p for p in ev.peers if p.outlet == outlet]
            if first and order_key(first[0].published, first[0].article) < me:
                found(
                    "reused",
                    "same-outlet-copy",
                    f"{'exact' if first[0].similarity >= 1.0 else 'near'} copy of {first[0].article}"
                    f" of the same outlet, {_order_reason(first[0].published, published)}",
                    [first[0].match()],
                )
            else:
                found(
                    "kept",
                    "same-outlet",
                    f"earliest of {mine} articles of this outlet carrying this text",
                )
            continue
        found("kept", "unique", "")
    return findings


def _order_reason(source: str | None, mine: str | None) -> str:
    """Why the source counts as earlier: a date, or only the id tie-break."""
    if source is None and mine is None:
        return "order unknown (no dates): earlier by id"
    if source is not None and mine is None:
        return "published earlier (this article's date is unknown)"
    if source == mine:
        return "published at the same time: earlier by id"
    return "published earlier"


def _short(s: str, n: int = 60) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"
