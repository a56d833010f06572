"""The batched ingest and judging behind :class:`~dedupe.tracker.Tracker`.

A batch of articles costs a fixed number of statements, whatever its size: the known-article
check, the fingerprint lookup, the carrier counts, the evidence of every article to judge and
the offsets of what their findings point at are each read with one statement (the keys travel
as one JSON parameter), and rows are written with ``executemany``. Nothing is written and
then updated: new segments go in once, with their verdicts; a stored article that is judged
again only has the segments whose verdict changed rewritten.

The text work (segmenting, normalizing, hashing, MinHash band keys, rephrased repeats) is pure:
:func:`analyze` does it for a list of texts, and :class:`Workers` runs it in other processes
for large batches, so it overlaps with the store work of the previous batch. Results come back
in input order, so the output never depends on how the work was shared.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash

from dedupe import fingerprint, index, textwork
from dedupe.classify import (
    STORE_RULES,
    TEXT_RULES,
    Evidence,
    Peer,
    TextFacts,
    classify,
    refine,
    text_facts,
)
from dedupe.fields import normalize_url
from dedupe.fingerprint import Params
from dedupe.model import (
    Article,
    Finding,
    Match,
    Result,
    Segment,
    StoreError,
    order_key,
    outlet_key,
)
from dedupe.segment import normalize, segment
from dedupe.store import Store, iso

if TYPE_CHECKING:
    from dedupe.tracker import Tracker

#: Outlets whose earliest carrier of a changed text is re-judged at most: the earliest ones
#: (the origin always among them).
MAX_REJUDGE_OUTLETS = 20
#: Earlier segments of the same article named as evidence of a repeat at most (the earliest).
MAX_INTERNAL = 5
#: Smallest batch whose text work goes to the worker processes (smaller ones stay here).
POOL_MIN_BATCH = 200


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a batch builds many small objects that stay
    alive (none of them in cycles): its passes over them cost more than the batch itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Clock:
    """CPU seconds the ingesting thread spent per phase of the ingest, added up over batches
    (``Tracker.timings``; neither worker processes nor the store's checkpoint thread)."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.last = time.thread_time()

    def lap(self, phase: str) -> None:
        now = time.thread_time()
        self.into[phase] = self.into.get(phase, 0.0) + now - self.last
        self.last = now


# -- text work (pure; runs in worker processes for large batches) ---------------------------


@dataclass
class Analysis:
    """One article's segments and, per segment, its normalized text, word count, exact key
    (``None`` when it has no words) and the earlier segments it rephrases; ``work``: the
    rephrased repeats and text facts as the store keeps them."""

    segments: list[Segment]
    norms: list[str]
    words: list[int]
    keys: list[int | None]
    loose: dict[int, list[tuple[int, float]]]
    facts: TextFacts
    work: str


def _normalized(text: str, segs: Sequence[Segment]) -> tuple[list[str], list[list[str]]]:
    """Each segment's normalized text and its words (``tokens``: words are joined by spaces)."""
    norms = [normalize(g.text_of(text)) for g in segs]
    return norms, [norm.split(" ") if norm else [] for norm in norms]


def analyze_one(text: str, params: Params) -> tuple[Analysis, list[list[str]]]:
    """The text work for one article; also returns each segment's words."""
    segs = refine(text, segment(text))
    norms, words_of = _normalized(text, segs)
    counts = [len(words) for words in words_of]
    keys = [fingerprint.exact_key(n) if w else None for n, w in zip(norms, words_of)]
    loose = fingerprint.rephrased(words_of, params)
    facts = text_facts(text, segs)
    work = textwork.dumps(loose, facts, params)
    return Analysis(segs, norms, counts, keys, loose, facts, work), words_of


def analyze(
    texts: Sequence[str], params: Params, bands: bool = True
) -> tuple[list[Analysis], dict[str, int], np.ndarray, np.ndarray]:
    """:func:`analyze_one` for many texts; with ``bands``, also the LSH band keys and sketches
    of every distinct normalized text long enough to be matched (``norm -> row`` of both)."""
    out: list[Analysis] = []
    rows: dict[str, int] = {}
    words_rows: list[list[str]] = []
    for text in texts:
        an, words_of = analyze_one(text, params)
        out.append(an)
        if bands:
            for norm, words in zip(an.norms, words_of):
                if len(words) >= params.min_words and norm not in rows:
                    rows[norm] = len(words_rows)
                    words_rows.append(words)
    if bands and words_rows:
        keys, sketches = fingerprint.lsh_of(words_rows, params)
    else:
        keys, sketches = _no_lsh(params)
    return out, rows, keys, sketches


def _no_lsh(params: Params) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.zeros((0, params.bands), dtype=np.int64),
        np.zeros((0, fingerprint.SKETCH_WORDS + 1), dtype=np.uint32),
    )


def text_work(text: str, segments: Sequence[Segment], params: Params) -> tuple[Any, TextFacts]:
    """The rephrased repeats and text facts of a stored article (what judging it needs
    beyond the store), from its text and segments."""
    _norms, words = _normalized(text, segments)
    return fingerprint.rephrased(words, params), text_facts(text, segments)


def _text_task(items: list[tuple[str, list[Segment]]], params: dict[str, Any]) -> list[Any]:
    p = Params(**params)
    with gc_paused():
        return [text_work(text, segs, p) for text, segs in items]


def _analyze_task(texts: list[str], params: dict[str, Any]) -> tuple[Any, ...]:
    with gc_paused():
        return analyze(texts, Params(**params))


#: A worker process's read-only view of the store it judges for (see :func:`_rejudge_task`).
_reader: Reader | None = None


def _rejudge_task(
    path: str, ids: list[str], params: dict[str, Any]
) -> tuple[int, list[tuple[Any, ...]], list[tuple[str, str]]]:
    """In a worker: judge stored articles again on a read-only connection of its own; the
    articles judged, the verdict rows that changed and the text work the store lacked. The
    writer only writes them."""
    global _reader
    p = Params(**params)
    if _reader is None or _reader.store.path != path or _reader.params != p:
        if _reader is not None:
            _reader.close()
        _reader = Reader(path, p)
    with gc_paused():
        docs = load_docs(_reader, ids, noted=True)
        return len(docs), changed_rows(judge(_reader, docs)), unkept_work(docs, p)


class Workers:
    """A pool of processes doing :func:`analyze` on chunks of a batch.

    The processes are started fresh (``spawn``: nothing of this process, its threads or its
    open store is inherited) and never import the caller's main script: the task lives in
    this module, so a script that starts a :class:`~dedupe.tracker.Tracker` at top level,
    without an ``if __name__ == "__main__"`` guard, works as it does without workers."""

    def __init__(self, processes: int) -> None:
        import multiprocessing
        import sys
        import types

        self.processes = processes
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            self._pool = multiprocessing.get_context("spawn").Pool(processes)
        finally:
            if main is not None:
                sys.modules["__main__"] = main

    def submit(self, texts: Sequence[str], params: Params) -> Pending:
        chunks = max(1, min(self.processes * 2, len(texts) // 50))
        size = -(-len(texts) // chunks)
        p = params.as_dict()
        jobs = [
            self._pool.apply_async(_analyze_task, (list(texts[i : i + size]), p))
            for i in range(0, len(texts), size)
        ]
        return Pending(jobs, params)

    def submit_text_work(self, docs: Sequence[Doc], params: Params) -> TextJob:
        """:func:`text_work` of stored articles, in chunks across the processes."""
        items = [(d.article.text, d.segments) for d in docs]
        chunks = max(1, min(self.processes * 2, len(items) // 20))
        size = -(-len(items) // chunks)
        p = params.as_dict()
        return TextJob(
            [d.article.id for d in docs],
            [
                self._pool.apply_async(_text_task, (items[i : i + size], p))
                for i in range(0, len(items), size)
            ],
        )

    def submit_rejudge(self, path: str, ids: Sequence[str], params: Params) -> RejudgeJob:
        """:func:`_rejudge_task` of stored articles, one share per process."""
        size = -(-len(ids) // self.processes)
        p = params.as_dict()
        return RejudgeJob(
            [
                self._pool.apply_async(_rejudge_task, (path, list(ids[i : i + size]), p))
                for i in range(0, len(ids), size)
            ]
        )

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()


class RejudgeJob:
    """Stored articles judged again by the workers, on their way back."""

    def __init__(self, jobs: list[Any]) -> None:
        self.jobs = jobs

    def result(self) -> tuple[int, list[tuple[Any, ...]], list[tuple[str, str]]]:
        """The articles judged, the verdict rows that changed (as
        :meth:`~dedupe.store.Store.update_verdicts` takes them) and the text work the store
        lacked (as :meth:`~dedupe.store.Store.keep_text_work` takes it)."""
        judged, rows, works = 0, [], []
        for job in self.jobs:
            n, r, w = job.get()
            judged += n
            rows.extend(r)
            works.extend(w)
        return judged, rows, works


class TextJob:
    """Text work of stored articles, on its way from the workers."""

    def __init__(self, ids: list[str], jobs: list[Any]) -> None:
        self.ids = ids
        self.jobs = jobs

    def result(self) -> dict[str, Any]:
        """``article id -> (loose, facts)``."""
        return dict(zip(self.ids, (r for job in self.jobs for r in job.get())))


class Pending:
    """The analysis of one batch, on its way from the workers."""

    def __init__(self, jobs: list[Any], params: Params) -> None:
        self.jobs = jobs
        self.params = params

    def result(self) -> tuple[list[Analysis], dict[str, int], np.ndarray, np.ndarray]:
        analyses: list[Analysis] = []
        rows: dict[str, int] = {}
        mats: list[np.ndarray] = []
        sks: list[np.ndarray] = []
        base = 0
        for job in self.jobs:
            an, r, keys, sk = job.get()
            analyses.extend(an)
            for norm, k in r.items():
                rows.setdefault(norm, base + k)
            mats.append(keys)
            sks.append(sk)
            base += len(keys)
        if not mats:
            return analyses, rows, *_no_lsh(self.params)
        return analyses, rows, np.concatenate(mats), np.concatenate(sks)


def default_workers() -> int:
    """Worker processes for large batches: one per core beyond the first (the judging process
    keeps one busy), at most two. On two cores a second worker made an ingest no faster and
    added its memory (about 200 MB at 100k articles)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(0, min(2, n - 1))


class TextCache:
    """The text work of recently judged articles (their text never changes), by article id:
    an article that new ones keep touching (the first carrier of a line) is judged again
    without reading or redoing it. Least recently used entries go first."""

    def __init__(self, size: int = 5_000) -> None:
        from collections import OrderedDict

        self.size = size
        self._d: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str) -> Any:
        v = self._d.get(key)
        if v is not None:
            self._d.move_to_end(key)
        return v

    def put(self, key: str, value: Any) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.size:
            self._d.popitem(last=False)


# -- evidence (pure) ------------------------------------------------------------------------


def groups_of(
    present: Iterable[int], nb: dict[int, list[tuple[int, float]]]
) -> dict[int, dict[int, float]]:
    """Each fingerprint with its near duplicates and their similarity (itself first, at 1.0)."""
    group: dict[int, dict[int, float]] = {}
    for fp in present:
        g = {fp: 1.0}
        for other, sim in nb.get(fp, []):
            g[other] = max(g.get(other, 0.0), sim)
        group[fp] = g
    return group


_NO_EVIDENCE = Evidence()


def _peer(okey: str, entry: tuple[str, str, float]) -> Peer:
    fkey, first, sim = entry
    published = fkey[1:].split("|", 1)[0] if fkey.startswith("0") else None
    outlet = okey[1:] if okey.startswith("=") else None
    return Peer(first, outlet, published, -1, -1, sim)


class _Shared:
    """What the evidence of a text (and its near copies) holds for any article asking: the
    carrier counts per known outlet and, per outlet, its earliest carrier and the earliest
    other one (for the article that is itself the earliest)."""

    __slots__ = ("counts", "best", "_peers", "_plain")

    def __init__(self, g: dict[int, float], rows: dict[int, list[tuple[str, int, str, str]]]):
        self._peers: tuple[Peer, ...] | None = None
        self._plain: dict[bool, Evidence] = {}
        if len(g) == 1:
            (other,) = g
            mine = rows.get(other, ())
            if len(mine) == 1:  # one text in one outlet: the common case, said quickly
                okey, n, first, fkey = mine[0]
                self.counts = ((okey[1:], n),) if okey.startswith("=") else ()
                self.best = [(okey, (fkey, first, g[other]), None)]
                return
        counts: dict[str, int] = {}
        entries: dict[str, list[tuple[str, str, float]]] = {}
        for other, sim in g.items():
            for okey, n, first, fkey in rows.get(other, ()):
                counts[okey] = counts.get(okey, 0) + n
                entries.setdefault(okey, []).append((fkey, first, sim))
        self.counts = tuple((o[1:], n) for o, n in sorted(counts.items()) if o.startswith("="))
        # Per outlet: the earliest entry (the first met among equal keys), and the earliest
        # whose article is another one.
        best: list[tuple[str, tuple[str, str, float], tuple[str, str, float] | None]] = []
        for okey in sorted(entries):
            es = entries[okey]
            top = min(es, key=lambda e: e[0])
            rest = [e for e in es if e[1] != top[1]]
            best.append((okey, top, min(rest, key=lambda e: e[0]) if rest else None))
        self.best = best

    @property
    def peers(self) -> tuple[Peer, ...]:
        if self._peers is None:
            self._peers = tuple(_peer(okey, top) for okey, top, _ in self.best)
        return self._peers

    def peers_for(self, article_id: str) -> tuple[Peer, ...]:
        """The earliest carrier in each outlet, the asking article left out."""
        if not any(top[1] == article_id for _, top, _ in self.best):
            return self.peers
        out = []
        for okey, top, second in self.best:
            if top[1] != article_id:
                out.append(_peer(okey, top))
            elif second is not None:
                out.append(_peer(okey, second))
        return tuple(out)

    def plain(self, article_id: str, short: bool) -> Evidence | None:
        """The evidence of a segment with nothing earlier in its own article, if it is the
        same for this article as for any other (it is not itself an earliest carrier)."""
        if any(top[1] == article_id for _, top, _ in self.best):
            return None
        ev = self._plain.get(short)
        if ev is None:
            ev = self._plain[short] = Evidence(self.peers, self.counts, (), short)
        return ev


def evidence_of(
    article_id: str,
    fps: Sequence[int | None],
    short: Sequence[bool],
    loose: dict[int, list[tuple[int, float]]],
    group: dict[int, dict[int, float]],
    rows: dict[int, list[tuple[str, int, str, str]]],
    memo: dict[int, Any] | None = None,
    only: set[int] | None = None,
) -> list[Evidence]:
    """What the store knows about each segment of an article: its fingerprints (``fps``), the
    near groups of the store, and the carrier rows of every group member. ``memo``: shared
    by the articles judged together (what does not depend on the article is computed once);
    ``only``: the fingerprints whose segments are wanted (the others get no evidence)."""
    if memo is None:
        memo = {}
    # The earliest few segments holding each fingerprint (MAX_INTERNAL): an article of one
    # line repeated 100,000 times must not pair every segment with every earlier one.
    occurs: dict[int, list[int]] = {}
    for j, fp in enumerate(fps):
        if fp is not None and not short[j]:
            at = occurs.setdefault(fp, [])
            if len(at) < MAX_INTERNAL:
                at.append(j)
    evidence: list[Evidence] = []
    for k, fp in enumerate(fps):
        if fp is None or (only is not None and fp not in only):
            evidence.append(_NO_EVIDENCE)
            continue
        g = group[fp]
        shared = memo.get(fp)
        if shared is None:
            shared = memo[fp] = _Shared(g, rows)
        # Earlier segments of this article with the same or a near text, then rephrasings.
        same: dict[int, float] = {}
        for other, sim in g.items():
            for j in occurs.get(other, ()):
                if j < k:
                    same[j] = sim
        for j, ratio in loose.get(k, ()):
            same.setdefault(j, ratio)
        if not same:
            ev = shared.plain(article_id, short[k])
            if ev is not None:
                evidence.append(ev)
                continue
        internal = tuple(sorted(same.items())[:MAX_INTERNAL])
        evidence.append(Evidence(shared.peers_for(article_id), shared.counts, internal, short[k]))
    return evidence


# -- judging many articles at once -----------------------------------------------------------


@dataclass
class Doc:
    """An article to judge: its segments and fingerprints, and (for a stored article) the
    stored verdict columns of each segment, to rewrite only those that change."""

    article: Article
    segments: list[Segment]
    fps: list[int | None]
    short: list[bool]
    loose: dict[int, list[tuple[int, float]]] | None = None
    facts: TextFacts | None = None
    stored: list[tuple[str, str, str, str]] | None = None
    kept: bool = False  # its text work was read from the store
    #: A stored article judged again for some of its texts: their fingerprints (``None``:
    #: every segment). The others' evidence did not change, nor did their stored verdicts.
    only: set[int] | None = None
    #: Only some of its segments were read (see :func:`load_docs`): ``segments`` and the lists
    #: beside them hold those, and its text work stands empty (none of it bears on them).
    part: bool = False


@dataclass
class Judged:
    doc: Doc
    findings: list[Finding]
    sorted_groups: dict[int, list[int]]  # shared by the articles judged together
    #: The indexes of the segments ``findings`` are of (``None``: every segment, in order).
    at: list[int] | None = None

    @property
    def groups(self) -> dict[int, list[int]]:
        """Each fingerprint of the article with its near duplicates, ids in order."""
        return {fp: self.sorted_groups[fp] for fp in self.doc.fps if fp is not None}


def load_docs(t: Tracker | Reader, ids: Sequence[str], noted: bool = False) -> list[Doc]:
    """Stored articles (those that exist, in the order given), ready to judge; ``noted``:
    only their segments carrying the texts noted stale for them (all, when none is).

    With ``noted``, an article whose stored verdicts were all made as this version judges
    (its text work carries the same tag) is read in part: only its noted segments whose
    verdicts rest on the store's evidence (:data:`~dedupe.classify.STORE_RULES`). A verdict by
    one of the :data:`~dedupe.classify.TEXT_RULES` rests on the article's own text, which
    never changes, and no such rule applies to the others (else it would have decided them):
    so they are judged on their texts' evidence alone, without the rest of the article. An
    article without text work of this version's tag is judged whole, noted texts or not."""
    arts = t.store.articles_many(ids)
    texts = t.store.stale_texts_many(arts) if noted else {}
    partial: dict[str, list[tuple[Any, ...]]] = {}
    if texts:
        made = t.store.text_work_made(texts, textwork.tag(t.params))
        noted_rows = t.store.noted_segments_many(made)
        for aid in made:
            rows_ = noted_rows.get(aid, [])
            if all(r[8] in STORE_RULES or r[8] in TEXT_RULES for r in rows_):
                partial[aid] = [r for r in rows_ if r[8] in STORE_RULES]
    whole = [aid for aid in arts if aid not in partial]
    rows = t.store.segments_many(whole) if whole else {}
    works = t.store.text_work_many(whole) if whole else {}
    short_words = t.params.min_words
    docs: list[Doc] = []
    for aid in ids:
        a = arts.get(aid)
        if a is None:
            continue
        part = partial.get(aid)
        segs, fps, short, stored = _doc_rows(
            rows.get(aid, []) if part is None else part, short_words
        )
        d = Doc(a, segs, fps, short, stored=stored, only=texts.get(aid))
        if part is not None:
            # no lexicon hit and no pitch: block positions are only read for a pitch
            d.loose, d.kept, d.part = {}, True, True
            d.facts = TextFacts((None,) * len(segs), {}, None, "")
        else:
            got = textwork.loads(works.get(aid), segs, t.params)
            if got is not None:
                d.loose, d.facts = got
                d.kept = True
            else:
                # Its stored verdicts may be another version's: judged whole, all of them are
                # this version's, as the text work made again and stored with them says.
                d.only = None
        docs.append(d)
    return docs


def _doc_rows(
    rows: Iterable[tuple[Any, ...]], short_words: int
) -> tuple[list[Segment], list[int | None], list[bool], list[tuple[str, str, str, str]]]:
    """Segments, fingerprints, short flags and stored verdict columns of segment rows."""
    segs: list[Segment] = []
    fps: list[int | None] = []
    short: list[bool] = []
    stored: list[tuple[str, str, str, str]] = []
    for idx, kind, start, end, block, parts, fp, verdict, rule, reason, matched, words in rows:
        segs.append(
            Segment(
                idx,
                kind,
                start,
                end,
                block,
                tuple(tuple(p) for p in json.loads(parts)) if parts else (),
            )
        )
        fps.append(fp)
        short.append(kind != "block" and words < short_words)
        stored.append((verdict, rule, reason, matched))
    return segs, fps, short, stored


def evidence_many(
    t: Tracker | Reader,
    docs: Sequence[Doc],
    linked: dict[int, list[tuple[int, float]]] | None = None,
) -> tuple[list[list[Evidence]], dict[int, dict[int, float]]]:
    """The evidence of many articles, read with a few statements for all of them; also the
    near groups of their fingerprints. ``linked``: the near copies of every fingerprint of the
    articles, if they were read already."""
    store = t.store
    present = sorted(
        {fp for d in docs for fp in d.fps if fp is not None and (d.only is None or fp in d.only)}
    )
    group = groups_of(present, store.neighbors_many(present) if linked is None else linked)
    rows = store.carriers_many({x for g in group.values() for x in g})
    # The text work of stored articles: read from the store with them (load_docs), else from
    # the cache, else done again (an article stored before it was kept; the rephrased-repeat
    # test needs the words of each segment).
    cache = t._text_cache
    for d in docs:
        if d.loose is None or d.facts is None:
            hit = cache.get(d.article.id)
            if hit is not None:
                d.loose, d.facts = hit
    need = {fp for d in docs if d.loose is None for fp in d.fps if fp is not None}
    texts = store.fingerprint_texts_many(need) if need else {}
    out: list[list[Evidence]] = []
    memo: dict[int, Any] = {}
    for d in docs:
        if d.loose is None:
            words = [texts[fp][0].split(" ") if fp is not None else [] for fp in d.fps]
            d.loose = fingerprint.rephrased(words, t.params)
        if d.facts is None:
            d.facts = text_facts(d.article.text, d.segments)
        if not d.part:
            cache.put(d.article.id, (d.loose, d.facts))
        out.append(evidence_of(d.article.id, d.fps, d.short, d.loose, group, rows, memo, d.only))
    return out, group


def judge(
    t: Tracker | Reader,
    docs: Sequence[Doc],
    memory: dict[str, Doc] | None = None,
    linked: dict[int, list[tuple[int, float]]] | None = None,
) -> list[Judged]:
    """Verdicts of many articles against the store as it is now. ``memory``: articles of the
    batch being ingested whose segments are not stored yet (matches may point into them);
    ``linked``: as :func:`evidence_many` takes it."""
    clock = Clock(t.timings)
    evs, group = evidence_many(t, docs, linked)
    clock.lap("evidence")
    out: list[Judged] = []
    sorted_groups = _SortedGroups(group)
    for d, ev in zip(docs, evs):
        at = None if d.only is None else [k for k, fp in enumerate(d.fps) if fp in d.only]
        found = verdicts(t.params, d.article, d.segments, ev, d.facts, at)
        out.append(Judged(d, found, sorted_groups, at))
    clock.lap("classify")
    _locate_all(t, out, memory or {})
    clock.lap("locate")
    return out


def verdicts(
    params: Params,
    article: Article,
    segs: list[Segment],
    ev: list[Evidence],
    facts: TextFacts | None = None,
    at: Sequence[int] | None = None,
) -> list[Finding]:
    """The verdicts of one article's segments (those at ``at`` only, if given), given their
    evidence."""
    return classify(
        article.id,
        article.outlet,
        iso(article.published),
        article.text,
        segs,
        ev,
        params.min_outlet_articles,
        facts=facts,
        only=at,
    )


class Reader:
    """What judging needs of a :class:`~dedupe.tracker.Tracker`, on a read-only connection:
    a worker process judges stored articles for the writer with it."""

    def __init__(self, path: str, params: Params) -> None:
        self.store = Store.reader(path)
        self.params = params
        self.timings: dict[str, float] = {}
        self._text_cache = TextCache()

    def close(self) -> None:
        self.store.close()


class _SortedGroups(dict):  # type: ignore[type-arg]
    """fingerprint -> its near group's ids in order, sorted once on first use."""

    def __init__(self, group: dict[int, dict[int, float]]) -> None:
        super().__init__()
        self.group = group

    def __missing__(self, fp: int) -> list[int]:
        out = self[fp] = sorted(self.group[fp]) if fp in self.group else [fp]
        return out


def _locate_all(t: Tracker | Reader, judged: list[Judged], memory: dict[str, Doc]) -> None:
    """Fill in the offsets of matched segments in other articles, for every finding at once."""
    todo: list[tuple[Judged, int, Finding, int]] = []
    wanted: set[tuple[int, str]] = set()
    for j in judged:
        fps = j.doc.fps if j.at is None else [j.doc.fps[k] for k in j.at]
        for k, (f, fp) in enumerate(zip(j.findings, fps)):
            if not f.matched or fp is None:
                continue
            if all(m.start >= 0 for m in f.matched):
                continue
            todo.append((j, k, f, fp))
            group = j.sorted_groups[fp]
            for m in f.matched:
                if m.start < 0 and m.article not in memory:
                    wanted.update((g, m.article) for g in group)
    found = t.store.locate_many(wanted) if wanted else {}
    where_of: dict[tuple[str, int], tuple[int, int] | None] = {}
    for j, k, f, fp in todo:
        matched = []
        for m in f.matched:
            if m.start < 0:
                where = where_of.get((m.article, fp), _UNSET)
                if where is _UNSET:
                    where = where_of[(m.article, fp)] = _where(
                        m.article, j.sorted_groups[fp], memory, found
                    )
                if where is not None:
                    m = Match(m.article, where[0], where[1], m.similarity, m.outlet, m.published)
            matched.append(m)
        j.findings[k] = Finding(f.start, f.end, f.kind, f.verdict, f.reason, f.rule, tuple(matched))


_UNSET: Any = object()


def _where(
    article: str,
    group: list[int],
    memory: dict[str, Doc],
    found: dict[tuple[int, str], tuple[int, int, int]],
) -> tuple[int, int] | None:
    d = memory.get(article)
    if d is not None:
        members = set(group)
        for g, fp in zip(d.segments, d.fps):
            if fp in members:
                return g.start, g.end
        return None
    best: tuple[int, int, int] | None = None
    for fp in group:
        hit = found.get((fp, article))
        if hit is not None and (best is None or hit[0] < best[0]):
            best = hit
    return (best[1], best[2]) if best is not None else None


def matched_json(f: Finding, memo: dict[Any, str] | None = None) -> str:
    """A finding's matches as stored: ``json.dumps([m.as_dict() for m in f.matched])``, the
    same text, written directly (``memo`` keeps the JSON of strings that recur)."""
    if not f.matched:
        return "[]"
    if memo is None:
        memo = {}
    parts = []
    for m in f.matched:
        sim = round(m.similarity, 4)
        num = repr(sim) if type(sim) is float and math.isfinite(sim) else json.dumps(sim)
        parts.append(
            f'{{"article": {_js(m.article, memo)}, "start": {int(m.start)}, "end": {int(m.end)},'
            f' "similarity": {num}, "outlet": {_js(m.outlet, memo)},'
            f' "published": {_js(m.published, memo)}}}'
        )
    return "[" + ", ".join(parts) + "]"


def _js(value: str | None, memo: dict[Any, str]) -> str:
    if value is None:
        return "null"
    out = memo.get(value)
    if out is None:
        out = memo[value] = json.dumps(value, ensure_ascii=False)
    return out


# -- ingest ------------------------------------------------------------------------------------


def content_hash(text: str, outlet: str | None = None) -> int:
    """Key of "the same article": the same text from the same outlet (or both unknown). The
    same text from another outlet is syndication, which provenance must see, so it counts."""
    data = (
        (outlet or "").encode("utf-8", "surrogatepass")
        + b"\0"
        + text.encode("utf-8", "surrogatepass")
    )
    return xxhash.xxh64_intdigest(data) - (1 << 63)


def ingest(
    t: Tracker,
    batch: list[Article],
    analysis: tuple[list[Analysis], dict[str, int], np.ndarray, np.ndarray] | None = None,
) -> tuple[list[Result], int, int]:
    """Ingest one batch inside the caller's transaction; ``analysis`` is :func:`analyze` of
    the batch's texts if it was done ahead. Returns the results in input order and the counts
    of articles added and already known."""
    p = t.params
    store = t.store
    clock = Clock(t.timings)
    t.index.refresh()

    # Articles: which are already stored (same id, URL or text), which are new.
    url_ns = [normalize_url(a.url) if a.url else None for a in batch]
    chashes = [content_hash(a.text, a.outlet) for a in batch]
    found, by_url, by_hash = store.known_many(
        [a.id for a in batch], [u for u in url_ns if u], chashes
    )
    new: list[int] = []
    known: dict[int, str] = {}
    seen: dict[tuple[str, Any], str] = {}
    for i, a in enumerate(batch):
        url_n, chash = url_ns[i], chashes[i]
        dup: str | None = None
        if a.id in found:
            dup = a.id
        elif url_n and url_n in by_url:
            dup = by_url[url_n]
        elif chash in by_hash:
            dup = by_hash[chash]
        if dup is None:
            for key in (("id", a.id), ("url", url_n), ("text", chash)):
                if key[1] is not None and key in seen:
                    dup = seen[key]
                    break
        if dup is not None:
            known[i] = dup
            continue
        for key in (("id", a.id), ("url", url_n), ("text", chash)):
            if key[1] is not None:
                seen[key] = a.id
        new.append(i)
    seq = store.insert_articles([(batch[i], url_ns[i], chashes[i]) for i in new], t._run)
    arts = [batch[i] for i in new]

    clock.lap("articles")
    if analysis is None:
        analyses = [analyze_one(a.text, p)[0] for a in arts]
        band_rows: dict[str, int] = {}
        band_mat, sketch_mat = _no_lsh(p)
    else:
        analyses = [analysis[0][i] for i in new]
        band_rows, band_mat, sketch_mat = analysis[1], analysis[2], analysis[3]
    store.insert_text_work((seq + k, an.work) for k, an in enumerate(analyses))

    clock.lap("analyze")
    # Fingerprints: look up every key once; new ones get ids in order of appearance.
    ids = store.fingerprint_ids_many({k for an in analyses for k in an.keys if k is not None})
    fresh_rows: list[tuple[int, str, int]] = []
    for an in analyses:
        for key, norm, n in zip(an.keys, an.norms, an.words):
            if key is not None and key not in ids:
                ids[key] = -1 - len(fresh_rows)
                fresh_rows.append((key, norm, n))
    first_id = store.insert_fingerprints(fresh_rows) if fresh_rows else 0
    for key, _norm, _n in fresh_rows:
        ids[key] = first_id - 1 - ids[key]
    fps_of = [[ids[k] if k is not None else None for k in an.keys] for an in analyses]

    clock.lap("fingerprints")
    # Near duplicates of the new fingerprints: index them, query, verify on the words.
    fresh = [
        (first_id + k, norm) for k, (_key, norm, n) in enumerate(fresh_rows) if n >= p.min_words
    ]
    edges: list[tuple[int, int, float]] = []
    if fresh:
        edges = _match(t, fresh, band_rows, band_mat, sketch_mat, clock)
        store.insert_near(edges)

    clock.lap("match")
    # Carrier counts; the stored articles whose verdicts may change.
    affected, linked = _count_carriers(t, arts, fps_of, edges)
    new_ids = {a.id for a in arts}
    noted = sorted(x for x in affected if x[0] not in new_ids)

    # Judge the new articles (from memory); the affected stored ones are noted as stale and
    # judged again in bulk later (Tracker.flush), once however many batches touch them.
    t.store.note_stale(noted)
    t.timings["stale"] = t.timings.get("stale", 0) + len({a for a, _ in noted})
    docs = [
        Doc(
            a,
            an.segments,
            fps,
            [g.kind != "block" and n < p.min_words for g, n in zip(an.segments, an.words)],
            loose=an.loose,
            facts=an.facts,
        )
        for a, an, fps in zip(arts, analyses, fps_of)
    ]
    memory = {d.article.id: d for d in docs}
    clock.lap("carriers")
    judged = judge(t, docs, memory, linked)
    clock.last = time.thread_time()
    seg_rows: list[tuple[Any, ...]] = []
    jmemo: dict[Any, str] = {}
    results: dict[str, Result] = {}
    for j in judged:
        d = j.doc
        aid = d.article.id
        for g, fp, f in zip(d.segments, d.fps, j.findings):
            seg_rows.append(
                (
                    aid,
                    g.index,
                    g.kind,
                    g.start,
                    g.end,
                    g.block,
                    json.dumps(g.parts) if g.parts else None,
                    fp,
                    f.verdict,
                    f.rule,
                    f.reason,
                    matched_json(f, jmemo),
                )
            )
        results[aid] = t._result(d.article, d.segments, j.findings, "added")
    clock.lap("results")
    store.insert_judged_segments(seg_rows)
    clock.lap("write")

    # Articles already stored: their verdicts as the store stands now.
    if known:
        known_ids = sorted(set(known.values()))
        again = {j.doc.article.id: j for j in judge(t, load_docs(t, known_ids))}
    out: list[Result] = []
    for i, a in enumerate(batch):
        if i in known:
            j = again[known[i]]
            r = t._result(j.doc.article, j.doc.segments, j.findings, "known")
            out.append(r)
        else:
            out.append(results[a.id])
    clock.lap("known")
    return out, len(arts), len(known)


@dataclass
class Ahead:
    """Stored articles loaded, and their text work started, before they are judged."""

    docs: list[Doc]
    job: TextJob | None
    version: int  # other connections' commits when loaded (``PRAGMA data_version``)


def start_text_work(t: Tracker, ids: Sequence[str]) -> Ahead:
    """Load stored articles and hand their text work to the workers when there are enough of
    them (their text and segments never change, so it may be done ahead of the judging)."""
    version = t.store.change_marker()[0]  # before the reading: a commit after it shows
    docs = load_docs(t, ids, noted=True)
    return Ahead(docs, _start_text_work(t, docs), version)


def _start_text_work(t: Tracker, docs: Sequence[Doc]) -> TextJob | None:
    todo = [d for d in docs if d.facts is None and t._text_cache.get(d.article.id) is None]
    if len(todo) >= POOL_MIN_BATCH // 4 and t.workers:
        workers = t._pool()
        if workers is not None:
            return workers.submit_text_work(todo, t.params)
    return None


def rejudge(
    t: Tracker, ids: Sequence[str], ahead: Ahead | None = None, offload: bool = True
) -> int:
    """Judge stored articles again (their segments carrying the texts noted stale) and
    rewrite the stored verdicts that changed (inside the caller's transaction); ``ahead``:
    the same articles as :func:`start_text_work` left them; ``offload``: the workers may do
    their text work (not when they are busy judging others). Returns the segments
    rewritten."""
    clock = Clock(t.timings)
    if ahead is not None and ahead.version == t.store.change_marker()[0]:
        docs = ahead.docs  # nobody else committed since: the stored verdicts read are current
    else:
        docs = load_docs(t, ids, noted=True)
    job = ahead.job if ahead is not None else _start_text_work(t, docs) if offload else None
    # The workers' share; the rest is cached or done here while judging.
    work = job.result() if job is not None else {}
    for d in docs:
        got = work.get(d.article.id)
        if got is not None:
            d.loose, d.facts = got
    clock.lap("load")
    t.timings["rejudged"] = t.timings.get("rejudged", 0) + len(docs)
    changed = changed_rows(judge(t, docs))
    clock.last = time.thread_time()
    t.store.update_verdicts(changed)
    t.store.keep_text_work(unkept_work(docs, t.params))
    clock.lap("write")
    return len(changed)


def unkept_work(docs: Iterable[Doc], params: Params) -> list[tuple[str, str]]:
    """``(article id, text work)`` of judged stored articles whose text work the store did
    not hold (stored before it was kept, or made under other parameters): kept, the next
    judgment reads it instead of making it again."""
    return [
        (d.article.id, textwork.dumps(d.loose, d.facts, params))
        for d in docs
        if not d.kept and d.loose is not None and d.facts is not None
    ]


def changed_rows(judged: Iterable[Judged]) -> list[tuple[Any, ...]]:
    """The verdict rows of judged stored articles that differ from the stored ones."""
    changed: list[tuple[Any, ...]] = []
    jmemo: dict[Any, str] = {}
    for j in judged:
        d = j.doc
        stored = d.stored or []
        for k, f in zip(range(len(j.findings)) if j.at is None else j.at, j.findings):
            row = (f.verdict, f.rule, f.reason, matched_json(f, jmemo))
            if k < len(stored) and row != stored[k]:
                changed.append((*row, d.article.id, d.segments[k].index))
    return changed


@dataclass
class Handed:
    """Stored articles the workers judge again while this process judges others."""

    ids: list[str]
    job: RejudgeJob
    version: int  # other connections' commits when handed out (``PRAGMA data_version``)


@dataclass
class Share:
    """Stored articles about to be judged again: those this process judges (their text work
    perhaps started ahead), and those handed to the workers."""

    mine: list[str]
    ahead: Ahead | None
    handed: Handed | None


def share_out(t: Tracker, ids: Sequence[str]) -> Share:
    """Start judging stored articles again: the workers (when the store is a file) take a
    share proportional to their number, each judging on a read-only connection of its own
    (judging only reads the store); this process, which also writes the verdicts, keeps the
    rest. Without them, the workers do the text work of all of them ahead."""
    path = t.store_file
    workers = t._pool() if path is not None and len(ids) >= POOL_MIN_BATCH // 4 else None
    if workers is None:
        return Share(list(ids), start_text_work(t, ids) if ids else None, None)
    mine = len(ids) // (workers.processes + 1)
    version = t.store.change_marker()[0]  # before the workers read: a commit after it shows
    theirs = list(ids[mine:])
    handed = Handed(theirs, workers.submit_rejudge(path, theirs, t.params), version)
    return Share(list(ids[:mine]), None, handed)


def rejudge_share(t: Tracker, share: Share) -> None:
    """Judge a share again and rewrite the verdicts that changed (inside the caller's
    transaction)."""
    if share.mine:
        rejudge(t, share.mine, share.ahead, offload=share.handed is None)
    if share.handed is not None:
        take_back(t, share.handed)


def take_back(t: Tracker, handed: Handed) -> None:
    """Write the verdicts the workers found changed (inside the caller's transaction). If
    another connection committed since they were handed out, or a worker could not read the
    store, the articles are judged again here."""
    try:
        n, rows, works = handed.job.result()
    except (sqlite3.Error, StoreError):
        rejudge(t, handed.ids, offload=False)
        return
    if handed.version != t.store.change_marker()[0]:
        rejudge(t, handed.ids, offload=False)
        return
    t.timings["rejudged"] = t.timings.get("rejudged", 0) + n
    t.timings["rejudged_by_workers"] = t.timings.get("rejudged_by_workers", 0) + n
    t.store.update_verdicts(rows)
    t.store.keep_text_work(works)


def _match(
    t: Tracker,
    fresh: list[tuple[int, str]],
    band_rows: dict[str, int],
    band_mat: np.ndarray,
    sketch_mat: np.ndarray,
    clock: Clock,
) -> list[tuple[int, int, float]]:
    """Index the new fingerprints and return the verified near-duplicate edges they make
    (CPU laps: ``index`` to add them, ``query`` for candidates, ``verify`` on the words)."""
    p = t.params
    norm_of = dict(fresh)
    rows = [band_rows.get(norm, -1) for _, norm in fresh]
    if all(r >= 0 for r in rows):
        keys, sketches = band_mat[rows], sketch_mat[rows]
    else:
        keys = np.zeros((len(fresh), p.bands), dtype=np.int64)
        sketches = np.zeros((len(fresh), fingerprint.SKETCH_WORDS + 1), dtype=np.uint32)
        have = [k for k, r in enumerate(rows) if r >= 0]
        if have:
            keys[have] = band_mat[[rows[k] for k in have]]
            sketches[have] = sketch_mat[[rows[k] for k in have]]
        todo = [k for k, r in enumerate(rows) if r < 0]
        keys[todo], sketches[todo] = fingerprint.lsh_of([fresh[k][1].split(" ") for k in todo], p)
    items = np.array([i for i, _ in fresh], dtype=np.int64)
    clock.lap("match")
    t.index.add(items.tolist(), keys, sketches)
    clock.lap("index")
    threshold = p.threshold

    def keep(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return fingerprint.may_be_near(a, b, threshold)

    rows, cands = t.index.candidate_pairs(keys, p.max_candidates, sketches, keep)
    clock.lap("query")
    mine = items[rows]
    other = cands != mine
    lo = np.minimum(mine[other], cands[other])
    hi = np.maximum(mine[other], cands[other])
    pairs = index.sorted_unique((lo << 32) | hi)
    if not pairs.size:
        return []
    a_ids = (pairs >> 32).tolist()
    b_ids = (pairs & 0xFFFFFFFF).tolist()
    verifier = fingerprint.Verifier(p)
    involved = set(a_ids) | set(b_ids)
    for i in involved:
        norm = norm_of.get(i)
        if norm is not None:  # only the words of segments with candidates are needed
            verifier.add(i, norm.split(" "))
    need = sorted(i for i in involved if i not in norm_of)
    if need:
        for c, (text, _) in t.store.fingerprint_texts_many(need).items():
            verifier.add(c, text.split(" "))
    edges = []
    for a, b in zip(a_ids, b_ids):
        if a in verifier and b in verifier:
            sim = verifier.near(a, b)
            if sim is not None:
                edges.append((a, b, round(sim, 6)))
    clock.lap("verify")
    return edges


def _count_carriers(
    t: Tracker,
    arts: Sequence[Article],
    fps_of: Sequence[Sequence[int | None]],
    edges: Sequence[tuple[int, int, float]],
) -> tuple[set[tuple[str, int]], dict[int, list[tuple[int, float]]]]:
    """Count the new articles on their fingerprints (per outlet: how many, and the earliest);
    return the stored articles whose verdicts may have changed (a text or its near group
    crossing the boilerplate count, an earliest carrier replaced, the earliest carriers of
    every text the batch touched), each with the text (fingerprint) whose evidence changed
    for it, and the near copies of the batch's texts. A segment's verdict rests on the
    evidence of its own text only (its carriers and near copies, and the article's own
    segments), so the other segments of such an article keep theirs."""
    store = t.store
    k = t.params.min_outlet_articles
    # (fingerprint, outlet key) -> [articles of the batch, earliest key, its article, the
    # batch's carriers (the first k: more are never needed)]
    agg: dict[tuple[int, str], list[Any]] = {}
    for a, fps in zip(arts, fps_of):
        key = order_key(iso(a.published), a.id)
        okey = outlet_key(a.outlet, a.id)
        for fp in {fp for fp in fps if fp is not None}:
            cur = agg.get((fp, okey))
            if cur is None:
                agg[(fp, okey)] = [1, key, a.id, [a.id]]
            else:
                cur[0] += 1
                if len(cur[3]) < k:
                    cur[3].append(a.id)
                if key < cur[1]:
                    cur[1], cur[2] = key, a.id
    batch_fps = {fp for fp, _ in agg}
    existing = store.carriers_counting(batch_fps)
    affected: set[tuple[str, int]] = set()
    crossing: list[tuple[int, str]] = []
    tipped: set[int] = set()  # texts that became furniture of an outlet in this batch
    updates: list[tuple[int, str, int, str, str, str | None]] = []
    merged: dict[int, dict[str, tuple[int, str, str]]] = {
        fp: {okey: (n, first, fkey) for okey, n, first, fkey, _ in existing.get(fp, ())}
        for fp in batch_fps
    }
    others_of = {
        (fp, okey): others for fp, rows in existing.items() for okey, _, _, _, others in rows
    }
    for (fp, okey), (cnt, fkey, first, ids) in agg.items():
        old = merged[fp].get(okey)
        if old is None:
            n = cnt
            held: list[str] | None = ids
            if okey.startswith("=") and n >= k:
                tipped.add(fp)
        else:
            n_old, first_old, fkey_old = old
            n = n_old + cnt
            # the stored carriers: the first and the others kept with it (a store older
            # than that column keeps none: they are looked up)
            kept = others_of.get((fp, okey))
            stored = [first_old] + (kept or [])
            known = n_old == 1 or kept is not None
            held = stored + ids if known else None
            if fkey < fkey_old:
                # an earlier first: the outlet's later carriers (copies of its first, below
                # the count) now name it as their source
                affected.add((first_old, fp))
                if n_old < k:
                    if known:
                        affected.update((x, fp) for x in stored)
                    elif okey.startswith("="):
                        crossing.append((fp, okey[1:]))
            else:
                first, fkey = first_old, fkey_old
            if okey.startswith("=") and n_old < k <= n:
                tipped.add(fp)
                if known:
                    affected.update((x, fp) for x in stored)
                else:
                    crossing.append((fp, okey[1:]))
        merged[fp][okey] = (n, first, fkey)
        others = (
            json.dumps(sorted(x for x in held if x != first))
            if held is not None and n < k and n > 1
            else None
        )
        updates.append((fp, okey, n, first, fkey, others))
    updates.sort()
    store.write_carriers(updates)
    if crossing:
        for (fp, _), aids in store.outlet_carriers(crossing).items():
            affected.update((x, fp) for x in aids)
    # Furniture of one outlet is furniture wherever it appears: when a text first becomes
    # furniture anywhere, its carriers in every other outlet (say, judged a copy of the
    # earliest) change too. Once it is, another outlet's count changes none of them.
    tipped -= {
        fp
        for fp, rows in existing.items()
        if any(okey.startswith("=") and n >= k for okey, n, *_ in rows)
    }
    # A text with near copies is judged on the counts of its group (itself and its near
    # copies): the group may reach the count although none of its texts does.
    linked = store.neighbors_many(batch_fps | {x for a, b, _ in edges for x in (a, b)})
    if linked:
        tipped -= set(linked)
        tipped |= _groups_tipped(store, linked, edges, existing, merged, k)
    if tipped:
        affected.update(store.carrying(tipped))
    # The earliest carrier in each outlet may stop being the origin, or become one (or a
    # copy of its own outlet's earlier text): of the batch's texts and of their near copies,
    # whose groups hold the batch's texts. The earliest ones first: the origin among them.
    # (every new edge has an end among the batch's texts: its other end is a near copy)
    # Of those, a later arrival changes the earliest (its count of later outlets, its later
    # copies, or it becomes an origin) and the earliest of its own outlet (a count of that
    # outlet's carriers judges a byline, or a text no other outlet carries): the others
    # have an earlier source already, which stays theirs. So past those, only the ones later
    # than the batch's earliest carrier of the text (or of a near copy) are noted. A text
    # that was furniture already stays furniture in every article carrying it: none is
    # noted (the count its reason gives is the one it was judged with).
    extra = {o for near in linked.values() for o, _ in near} - batch_fps
    rows_extra = store.carriers_counting(extra) if extra else {}
    since, grown = _batch_reach(agg, linked)
    floor = min(since.values(), default="")
    lookup: list[tuple[int, str]] = []
    for fp in sorted(batch_fps | extra):
        before = existing.get(fp, ()) if fp in merged else rows_extra.get(fp, ())
        if any(row[0].startswith("=") and row[1] >= k for row in before):
            continue
        if fp in merged:
            firsts = sorted((fkey, first, o) for o, (_n, first, fkey) in merged[fp].items())
        else:
            firsts = sorted((fkey, first, o) for o, _n, first, fkey, _ in before)
        after, outs = since.get(fp, floor), grown.get(fp, ())
        affected.update(
            (first, fp)
            for i, (key, first, okey) in enumerate(firsts[:MAX_REJUDGE_OUTLETS])
            if i == 0 or key > after or okey in outs
        )
        # A carrier of the text or a near copy, in an outlet whose stored first it precedes:
        # that outlet's other carriers (below the count) named the old first as their source.
        for okey, n, _first, fkey, others in before:
            if okey in outs and fkey > after and 1 < n < k:
                if others is not None:
                    affected.update((x, fp) for x in others)
                elif okey.startswith("="):
                    lookup.append((fp, okey[1:]))
    if lookup:
        for (fp, _), aids in store.outlet_carriers(lookup).items():
            affected.update((x, fp) for x in aids)
    return affected, linked


def _batch_reach(
    agg: dict[tuple[int, str], list[Any]], linked: dict[int, list[tuple[int, float]]]
) -> tuple[dict[int, str], dict[int, set[str]]]:
    """Per text the batch carries, or a near copy of one: the order key of the batch's
    earliest article carrying it or a near copy, and the outlets of the batch's carriers
    (``agg`` as :func:`_count_carriers` builds it)."""
    own: dict[int, str] = {}
    outs: dict[int, set[str]] = {}
    for (fp, okey), cur in agg.items():
        if fp not in own or cur[1] < own[fp]:
            own[fp] = cur[1]
        outs.setdefault(fp, set()).add(okey)
    since = dict(own)
    grown = {fp: set(o) for fp, o in outs.items()}
    for x, key in own.items():  # ``linked`` lists the near copies of each of the batch's texts
        for y, _sim in linked.get(x, ()):
            if y not in since or key < since[y]:
                since[y] = key
            grown.setdefault(y, set()).update(outs[x])
    return since, grown


def _groups_tipped(
    store: Store,
    linked: dict[int, list[tuple[int, float]]],
    edges: Sequence[tuple[int, int, float]],
    existing: dict[int, list[tuple[str, int, str, str, list[str] | None]]],
    merged: dict[int, dict[str, tuple[int, str, str]]],
    k: int,
) -> set[int]:
    """The texts whose near group first reaches ``k`` carriers in one outlet with this batch:
    the batch's texts that have near copies (``linked``: their near copies, this batch's
    ``edges`` included) and those copies. Carrier counts per outlet: ``existing`` before the
    batch, ``merged`` after it, for the batch's texts; the others' are read."""
    new_edges = {(a, b) for a, b, _ in edges} | {(b, a) for a, b, _ in edges}
    texts = set(linked) | {o for near in linked.values() for o, _ in near}
    near_of = dict(linked)
    rest = texts - set(near_of)
    if rest:
        near_of.update(store.neighbors_many(rest))
    members = texts | {o for x in texts for o, _ in near_of.get(x, ())}
    before: dict[int, dict[str, int]] = {}
    after: dict[int, dict[str, int]] = {}
    for fp in members & set(merged):
        before[fp] = {o: n for o, n, *_ in existing.get(fp, ())}  # none: new with the batch
        after[fp] = {o: row[0] for o, row in merged[fp].items()}
    unread = members - set(before)
    if unread:
        for fp, rows in store.carriers_many(unread).items():
            before[fp] = after[fp] = {o: n for o, n, *_ in rows}

    def furniture(group: Iterable[int], counts_of: dict[int, dict[str, int]]) -> bool:
        counts: dict[str, int] = {}
        for m in group:
            for okey, n in counts_of.get(m, {}).items():
                counts[okey] = counts.get(okey, 0) + n
        return any(n >= k for okey, n in counts.items() if okey.startswith("="))

    out: set[int] = set()
    for x in sorted(texts):
        near = [o for o, _ in near_of.get(x, ())]
        old = [x, *(o for o in near if (x, o) not in new_edges)]
        if furniture([x, *near], after) and not furniture(old, before):
            out.add(x)
    return out
