"""Provenance: who carried a piece of text first, who took it from there, and how much.

Pure: the tracker gathers plain data from the store (the segments the classifier found shared
with another outlet, the verified near-duplicate edges between their fingerprints, and a few
facts per article) and :func:`analyze` turns it into

* **chains**: one per cluster of exact or near-duplicate texts carried by two or more
  publishers, its articles ordered in time, the first being the origin;
* **passages**: consecutive copied sentences of one target article taken from one source
  article, merged into one finding;
* the **reuse graph**: per ordered pair of outlets, how many passages and sentences flowed and
  with what median lag.

Rules that keep the answer honest:

* Time order is publication date, then article id. Unknown dates sort after every known date,
  and so do implausible ones (before 1900, the 1900-01-01 and 1970-01-01 placeholders):
  such an article never becomes an origin. The clock is never consulted, so the same
  corpus gives the same chains whenever it runs.
* Two articles of one publisher (same outlet, or same canonical URL; an article without a
  known outlet is a publisher of its own) are never linked. A later one is a ``version`` of an
  earlier one when they have the same canonical URL or share most of their text (a re-scrape,
  a republication with small edits); a later article of the origin's own publisher that is
  not a version is listed as ``same-outlet`` (the outlet reusing its own text). Only
  ``copy`` carriers, of another publisher than the origin and not versions, are linked.
* Chaining guard: near-duplicate edges are transitive in a union-find, so ``A ~ B ~ C`` can
  join ``A`` and ``C`` although they are not alike. Each connected group is therefore split
  into stars: texts are taken in time order and each joins the star whose centre (its origin
  text) it matches best by a verified edge at the threshold (ties: the earlier star); a text
  that matches no centre starts a star of its own. Every member of a chain is thus within the threshold of
  its origin text, and chains cut out of one larger group say so (``chained`` with a reason).
* Nothing depends on ingest order: fingerprint ids are used to group, never to order.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dedupe.model import implausible_date

Role = Literal["origin", "copy", "version", "same-outlet"]

#: How the earlier of two articles was told apart from the later one.
ORDER_PUBLISHED = "published"
ORDER_SAME_DATE = "id (same date)"
ORDER_DATE_UNKNOWN = "id (date unknown)"
ORDER_UNKNOWN_LAST = "date unknown last"

#: Share of the shorter article's content texts that two articles of one publisher must share
#: (exactly or nearly) to be versions of one story.
VERSION_OVERLAP = 0.5
#: Characters of an article's start read as its lead (where wires and releases are credited).
LEAD_CHARS = 400
#: Label of the outlet node that gathers articles without a known outlet.
UNKNOWN_OUTLET = "(unknown outlet)"


# -- input ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shared:
    """A segment the classifier found shared with another outlet's article (input)."""

    article: str
    idx: int
    start: int
    end: int
    fingerprint: int
    text: str  # the fingerprint's normalized text


@dataclass(frozen=True)
class ArticleFacts:
    """What provenance needs to know of one article (input).

    ``content`` lists, in order, the indexes of the article's segments that are content a
    passage cannot skip over (kept or reused text long enough to match); stripped furniture
    and very short sentences between two copied sentences do not break a passage.
    ``fingerprints`` are those of its content segments (to tell versions of one story).
    """

    id: str
    outlet: str | None
    published: str | None
    text: str
    title: str | None = None
    url_key: str | None = None
    content: tuple[int, ...] = ()
    fingerprints: frozenset[int] = frozenset()


# -- output -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Carrier:
    """One article of a chain and the segment of it that carries the text."""

    article: str
    outlet: str | None
    published: str | None
    start: int
    end: int
    similarity: float
    role: Role
    version_of: str | None = None
    date_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "article": self.article,
            "outlet": self.outlet,
            "published": self.published,
            "start": self.start,
            "end": self.end,
            "similarity": round(self.similarity, 4),
            "role": self.role,
            "version_of": self.version_of,
            "date_note": self.date_note,
        }


@dataclass(frozen=True)
class Link:
    """A copy: the target carries text first published by the source (another publisher)."""

    source: str
    target: str
    source_outlet: str | None
    target_outlet: str | None
    source_start: int
    source_end: int
    target_start: int
    target_end: int
    similarity: float
    lag_seconds: float | None
    order: str
    chain: str
    source_idx: int = field(default=0, compare=False)
    target_idx: int = field(default=0, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "source": self.source,
            "target": self.target,
            "source_outlet": self.source_outlet,
            "target_outlet": self.target_outlet,
            "source_start": self.source_start,
            "source_end": self.source_end,
            "target_start": self.target_start,
            "target_end": self.target_end,
            "similarity": round(self.similarity, 4),
            "lag_seconds": self.lag_seconds,
            "order": self.order,
        }


@dataclass(frozen=True)
class Chain:
    """One cluster of exact or near-duplicate text across publishers, origin first."""

    id: str
    origin: str
    text: str
    order: str
    articles: tuple[Carrier, ...]
    links: tuple[Link, ...]
    attributions: tuple[str, ...] = ()
    chained: bool = False
    reason: str = ""

    @property
    def outlets(self) -> tuple[str | None, ...]:
        """Outlets that carried the text, in time order, each once."""
        seen: list[str | None] = []
        for c in self.articles:
            if c.outlet not in seen or c.outlet is None:
                seen.append(c.outlet)
        return tuple(seen)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "id": self.id,
            "origin": self.origin,
            "text": self.text,
            "order": self.order,
            "attributions": list(self.attributions),
            "chained": self.chained,
            "reason": self.reason,
            "articles": [c.as_dict() for c in self.articles],
            "links": [k.as_dict() for k in self.links],
        }


@dataclass(frozen=True)
class Passage:
    """Consecutive sentences of one target article copied from one source article."""

    source: str
    target: str
    source_outlet: str | None
    target_outlet: str | None
    source_start: int
    source_end: int
    target_start: int
    target_end: int
    sentences: int
    min_similarity: float
    mean_similarity: float
    lag_seconds: float | None
    order: str
    chains: tuple[str, ...]
    attributions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON (and the benchmark's prediction format's fields)."""
        return {
            "source": self.source,
            "target": self.target,
            "source_outlet": self.source_outlet,
            "target_outlet": self.target_outlet,
            "source_start": self.source_start,
            "source_end": self.source_end,
            "target_start": self.target_start,
            "target_end": self.target_end,
            "sentences": self.sentences,
            "min_similarity": round(self.min_similarity, 4),
            "mean_similarity": round(self.mean_similarity, 4),
            "lag_seconds": self.lag_seconds,
            "order": self.order,
            "chains": list(self.chains),
            "attributions": list(self.attributions),
        }


@dataclass(frozen=True)
class Flow:
    """Text that went from one outlet to another: passages, sentences, articles, median lag."""

    source: str
    target: str
    passages: int
    sentences: int
    articles: int
    median_lag_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "source": self.source,
            "target": self.target,
            "passages": self.passages,
            "sentences": self.sentences,
            "articles": self.articles,
            "median_lag_seconds": self.median_lag_seconds,
        }


@dataclass(frozen=True)
class OutletNode:
    """An outlet of the reuse graph with its totals as a source and as a target."""

    outlet: str
    passages_out: int
    passages_in: int
    sentences_out: int
    sentences_in: int

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "outlet": self.outlet,
            "passages_out": self.passages_out,
            "passages_in": self.passages_in,
            "sentences_out": self.sentences_out,
            "sentences_in": self.sentences_in,
        }


@dataclass(frozen=True)
class ReuseGraph:
    """Outlets as nodes, reuse as weighted directed edges (source outlet -> target outlet)."""

    outlets: tuple[OutletNode, ...]
    flows: tuple[Flow, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "outlets": [o.as_dict() for o in self.outlets],
            "flows": [f.as_dict() for f in self.flows],
        }


@dataclass(frozen=True)
class Provenance:
    """Everything :func:`analyze` found: chains, passages and the reuse graph."""

    chains: tuple[Chain, ...]
    passages: tuple[Passage, ...]
    graph: ReuseGraph


# -- time -------------------------------------------------------------------------------------


def parse_date(value: str | None) -> dt.datetime | None:
    """An ISO date as an aware datetime (naive means UTC); ``None`` if absent or unreadable."""
    if not value:
        return None
    try:
        d = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def date_note(published: str | None, now: dt.datetime) -> str | None:
    """Why a date cannot order articles (unknown, unreadable, implausible), or ``None``."""
    if not published:
        return "date unknown"
    d = parse_date(published)
    if d is None:
        return "date unreadable"
    del now  # kept for callers; dates are never judged against the clock (determinism)
    return implausible_date(d.astimezone(dt.timezone.utc).isoformat(timespec="seconds"))


@dataclass(frozen=True)
class _When:
    """An article's place in time: its usable date (or none) and its id."""

    id: str
    date: dt.datetime | None
    note: str | None

    @property
    def key(self) -> tuple[bool, dt.datetime, str]:
        return (self.date is None, self.date or _EPOCH, self.id)


_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)


def order_label(a: _When, b: _When) -> str:
    """Which rule put ``a`` before ``b``."""
    if a.date is None and b.date is None:
        return ORDER_DATE_UNKNOWN
    if a.date is None or b.date is None:
        return ORDER_UNKNOWN_LAST
    return ORDER_PUBLISHED if a.date != b.date else ORDER_SAME_DATE


def _lag(a: _When, b: _When) -> float | None:
    if a.date is None or b.date is None:
        return None
    return (b.date - a.date).total_seconds()


# -- grouping ---------------------------------------------------------------------------------


class _Union:
    """Union-find over hashable items."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        p = self.parent.setdefault(x, x)
        while p != x:
            self.parent[x] = self.parent.setdefault(p, p)
            x, p = p, self.parent[p]
        return x

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def publishers(articles: Iterable[ArticleFacts]) -> dict[str, str]:
    """Article id -> publisher key: articles of one outlet or one canonical URL share a key."""
    arts = sorted(articles, key=lambda a: a.id)
    u = _Union()
    for a in arts:
        u.find(("article", a.id))
        if a.outlet is not None:
            u.union(("outlet", a.outlet), ("article", a.id))
        if a.url_key:
            u.union(("url", a.url_key), ("article", a.id))
    roots: dict[Any, str] = {}
    out: dict[str, str] = {}
    for a in arts:
        r = u.find(("article", a.id))
        out[a.id] = roots.setdefault(r, a.outlet if a.outlet is not None else "\0" + a.id)
    return out


def _stars(
    component: list[int],
    first_seen: Mapping[int, tuple[Any, ...]],
    edges: Mapping[int, Mapping[int, float]],
) -> list[tuple[int, list[tuple[int, float]]]]:
    """Split a connected group of fingerprints into stars (centre, [(member, similarity)]):
    in time order, each joins the best-matching earlier centre it has a verified edge to."""
    order = sorted(component, key=lambda f: first_seen[f])
    centre_rank: dict[int, int] = {}
    stars: list[tuple[int, list[tuple[int, float]]]] = []
    for f in order:
        best: tuple[float, int] | None = None
        for other, sim in edges.get(f, {}).items():
            r = centre_rank.get(other)
            if r is not None and (best is None or (-sim, r) < (-best[0], best[1])):
                best = (sim, r)
        if best is None:
            centre_rank[f] = len(stars)
            stars.append((f, [(f, 1.0)]))
        else:
            stars[best[1]][1].append((f, best[0]))
    return stars


# -- the analysis -----------------------------------------------------------------------------


def analyze(
    shared: Iterable[Shared],
    near: Iterable[tuple[int, int, float]],
    articles: Mapping[str, ArticleFacts],
    *,
    now: dt.datetime | None = None,
    attributions: Callable[[str], Sequence[str]] | None = None,
) -> Provenance:
    """Chains, passages and the reuse graph of the shared segments (see the module notes).

    ``near`` holds verified near-duplicate edges ``(fingerprint, fingerprint, similarity)``
    at the store's threshold; ``attributions`` finds wire/release credits in a text.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    credit = attributions or (lambda _t: ())
    by_fp: dict[int, list[Shared]] = {}
    text_of: dict[int, str] = {}
    for s in shared:
        if s.article in articles:
            by_fp.setdefault(s.fingerprint, []).append(s)
            text_of[s.fingerprint] = s.text
    when: dict[str, _When] = {}
    for a in articles.values():
        note = date_note(a.published, now)
        when[a.id] = _When(a.id, None if note else parse_date(a.published), note)
    publisher = publishers(articles.values())
    edges: dict[int, dict[int, float]] = {}
    everywhere: dict[int, set[int]] = {}
    u = _Union()
    for fp in by_fp:
        u.find(fp)
    for a, b, sim in near:
        everywhere.setdefault(a, set()).add(b)
        everywhere.setdefault(b, set()).add(a)
        if a in by_fp and b in by_fp and a != b:
            edges.setdefault(a, {})[b] = sim
            edges.setdefault(b, {})[a] = sim
            u.union(a, b)
    groups: dict[int, list[int]] = {}
    for fp in by_fp:
        groups.setdefault(u.find(fp), []).append(fp)
    first_seen = {
        fp: (min(when[s.article].key for s in segs), text_of[fp]) for fp, segs in by_fp.items()
    }
    chains: list[Chain] = []
    for comp in groups.values():
        stars = _stars(comp, first_seen, edges)
        for _centre, members in stars:
            ch = _chain(members, by_fp, articles, when, publisher, credit, everywhere)
            if ch is None:
                continue
            if len(stars) > 1:
                ch = Chain(
                    ch.id,
                    ch.origin,
                    ch.text,
                    ch.order,
                    ch.articles,
                    ch.links,
                    ch.attributions,
                    chained=True,
                    reason=(
                        f"one of {len(stars)} chains cut from a group of {len(comp)} texts"
                        " that near copies joined only through one another; every member here"
                        " matches this chain's origin text"
                    ),
                )
            chains.append(ch)
    chains.sort(key=lambda c: (when[c.origin].key, c.articles[0].start, c.id))
    passages = _passages(chains, articles, when, credit)
    return Provenance(tuple(chains), tuple(passages), _graph(passages))


def _chain(
    members: list[tuple[int, float]],
    by_fp: Mapping[int, list[Shared]],
    articles: Mapping[str, ArticleFacts],
    when: Mapping[str, _When],
    publisher: Mapping[str, str],
    credit: Callable[[str], Sequence[str]],
    near: Mapping[int, set[int]],
) -> Chain | None:
    """One chain from a star, or ``None`` when it does not span two publishers."""
    best: dict[str, tuple[float, int, Shared]] = {}
    for fp, sim in members:
        for s in by_fp[fp]:
            cur = best.get(s.article)
            if cur is None or (-sim, s.idx) < (-cur[0], cur[1]):
                best[s.article] = (sim, s.idx, s)
    if len({publisher[a] for a in best}) < 2:
        return None
    ordered = sorted(best, key=lambda a: when[a].key)
    origin = ordered[0]
    osim, _, oseg = best[origin]
    seen: dict[str, list[str]] = {}  # publisher -> its carriers so far
    carriers: list[Carrier] = []
    links: list[Link] = []
    chain_id = f"{origin}@{oseg.start}"
    for a in ordered:
        sim, _, seg = best[a]
        facts = articles[a]
        pub = publisher[a]
        role: Role
        version_of = next(
            (b for b in seen.get(pub, ()) if is_version(articles[b], facts, near)), None
        )
        if a == origin:
            role = "origin"
        elif version_of is not None:
            role = "version"
        elif pub == publisher[origin]:
            role = "same-outlet"
        else:
            role = "copy"
        seen.setdefault(pub, []).append(a)
        carriers.append(
            Carrier(
                a,
                facts.outlet,
                facts.published,
                seg.start,
                seg.end,
                sim,
                role,
                version_of,
                when[a].note,
            )
        )
        if role == "copy":
            links.append(
                Link(
                    origin,
                    a,
                    articles[origin].outlet,
                    facts.outlet,
                    oseg.start,
                    oseg.end,
                    seg.start,
                    seg.end,
                    sim if seg.fingerprint != oseg.fingerprint else 1.0,
                    _lag(when[origin], when[a]),
                    order_label(when[origin], when[a]),
                    chain_id,
                    oseg.idx,
                    seg.idx,
                )
            )
    ofacts = articles[origin]
    credits = set(credit(ofacts.text[oseg.start : oseg.end])) | set(credit(lead(ofacts)))
    return Chain(
        chain_id,
        origin,
        ofacts.text[oseg.start : oseg.end],
        order_label(when[ordered[0]], when[ordered[1]]),
        tuple(carriers),
        tuple(links),
        tuple(sorted(credits)),
    )


def is_version(earlier: ArticleFacts, later: ArticleFacts, near: Mapping[int, set[int]]) -> bool:
    """Are two articles of one publisher versions of one story: the same canonical URL, or
    most of the shorter one's content texts found (exactly or nearly) in the other?"""
    if earlier.url_key and earlier.url_key == later.url_key:
        return True
    small, big = sorted((earlier.fingerprints, later.fingerprints), key=len)
    if not small:
        return False
    found = sum(1 for f in small if f in big or not near.get(f, set()).isdisjoint(big))
    return found >= VERSION_OVERLAP * len(small)


def lead(article: ArticleFacts) -> str:
    """The title and first characters of an article: where wires and releases are credited."""
    return f"{article.title or ''}\n{article.text[:LEAD_CHARS]}"


def _passages(
    chains: Sequence[Chain],
    articles: Mapping[str, ArticleFacts],
    when: Mapping[str, _When],
    credit: Callable[[str], Sequence[str]],
) -> list[Passage]:
    """Merge each target's links from one source into runs of consecutive sentences."""
    per_pair: dict[tuple[str, str], list[Link]] = {}
    for ch in chains:
        for k in ch.links:
            per_pair.setdefault((k.target, k.source), []).append(k)
    out: list[Passage] = []
    for (target, _source), links in per_pair.items():
        content = set(articles[target].content)
        links.sort(key=lambda k: (k.target_idx, k.source_idx, k.chain))
        run: list[Link] = []
        for k in links:
            if run:
                prev = run[-1]
                adjacent = all(i not in content for i in range(prev.target_idx + 1, k.target_idx))
                if not (adjacent and k.source_idx >= prev.source_idx):
                    out.append(_passage(run, articles, when, credit))
                    run = []
            run.append(k)
        if run:
            out.append(_passage(run, articles, when, credit))
    out.sort(key=lambda p: (when[p.target].key, p.target_start, when[p.source].key))
    return out


def _passage(
    run: list[Link],
    articles: Mapping[str, ArticleFacts],
    when: Mapping[str, _When],
    credit: Callable[[str], Sequence[str]],
) -> Passage:
    first, last = run[0], run[-1]
    src, tgt = articles[first.source], articles[first.target]
    s_start = min(k.source_start for k in run)
    s_end = max(k.source_end for k in run)
    t_start, t_end = first.target_start, max(k.target_end for k in run)
    sims = [k.similarity for k in run]
    credits = (
        set(credit(tgt.text[t_start:t_end]))
        | set(credit(src.text[s_start:s_end]))
        | set(credit(lead(src)))
    )
    return Passage(
        first.source,
        first.target,
        src.outlet,
        tgt.outlet,
        s_start,
        s_end,
        t_start,
        t_end,
        len({k.target_idx for k in run}),
        min(sims),
        sum(sims) / len(sims),
        last.lag_seconds,
        first.order,
        tuple(sorted({k.chain for k in run})),
        tuple(sorted(credits)),
    )


def outlet_label(outlet: str | None) -> str:
    """An outlet's name in the graph; articles without one share one node."""
    return outlet if outlet is not None else UNKNOWN_OUTLET


def _graph(passages: Sequence[Passage]) -> ReuseGraph:
    """Outlet-level totals of the passages."""
    flows: dict[tuple[str, str], list[Passage]] = {}
    for p in passages:
        flows.setdefault((outlet_label(p.source_outlet), outlet_label(p.target_outlet)), []).append(
            p
        )
    edges: list[Flow] = []
    for (s, t), ps in flows.items():
        lags = [p.lag_seconds for p in ps if p.lag_seconds is not None]
        edges.append(
            Flow(
                s,
                t,
                len(ps),
                sum(p.sentences for p in ps),
                len({p.target for p in ps}),
                float(statistics.median(lags)) if lags else None,
            )
        )
    edges.sort(key=lambda f: (-f.passages, -f.sentences, f.source, f.target))
    totals: dict[str, list[int]] = {}
    for f in edges:
        totals.setdefault(f.source, [0, 0, 0, 0])
        totals.setdefault(f.target, [0, 0, 0, 0])
        totals[f.source][0] += f.passages
        totals[f.source][2] += f.sentences
        totals[f.target][1] += f.passages
        totals[f.target][3] += f.sentences
    nodes = sorted(
        (OutletNode(o, *v) for o, v in totals.items()),
        key=lambda n: (-(n.passages_out + n.passages_in), n.outlet),
    )
    return ReuseGraph(tuple(nodes), tuple(edges))


def select(
    prov: Provenance, article_ids: Iterable[str] | None = None, outlet: str | None = None
) -> tuple[list[Chain], list[Passage]]:
    """The chains and passages that involve any of the given articles and/or the outlet."""
    ids = set(article_ids) if article_ids is not None else None

    def keep_chain(c: Chain) -> bool:
        if ids is not None and not any(x.article in ids for x in c.articles):
            return False
        return outlet is None or any(x.outlet == outlet for x in c.articles)

    def keep_passage(p: Passage) -> bool:
        if ids is not None and p.source not in ids and p.target not in ids:
            return False
        return outlet is None or outlet in (p.source_outlet, p.target_outlet)

    return [c for c in prov.chains if keep_chain(c)], [p for p in prov.passages if keep_passage(p)]
