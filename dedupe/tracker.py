"""Tracker: the one place that runs the flow segment -> fingerprint -> index -> classify -> store.

``Tracker(path)`` holds one store and its LSH index. ``add`` and ``add_many`` ingest articles
(one transaction per batch) and return what was found; ``result`` gives an article's verdicts
as the corpus stands now, because a later article can turn an earlier one's line into
boilerplate or make it the origin of a reused passage.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash

from dedupe import clean, fingerprint
from dedupe.classify import Evidence, Peer, classify, refine
from dedupe.fields import normalize_url
from dedupe.fingerprint import Params
from dedupe.index import SqliteIndex
from dedupe.model import Article, Finding, Match, Result, Segment, order_key, outlet_key
from dedupe.provenance import (
    ArticleFacts,
    Chain,
    Passage,
    Provenance,
    ReuseGraph,
    Shared,
    analyze,
    select,
)
from dedupe.segment import normalize, segment, tokens
from dedupe.store import Store, iso

#: Outlets whose earliest carrier of a changed text is re-judged at most.
MAX_REJUDGE_OUTLETS = 20
#: Largest article accepted, in characters.
MAX_ARTICLE_CHARS = 5_000_000


def _version() -> str:
    from dedupe import __version__

    return __version__


@dataclass
class Summary:
    """Counts of one ingest: articles added / already known / rejected, segments by verdict."""

    added: int = 0
    known: int = 0
    rejected: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        v = ", ".join(f"{k} {n}" for k, n in sorted(self.verdicts.items())) or "none"
        return (
            f"{self.added} articles added, {self.known} already known, {self.rejected} rejected;"
            f" segments stripped or flagged: {v}"
        )


class Tracker:
    """Clean and track articles against everything stored before.

    >>> with Tracker(":memory:") as t:
    ...     result = t.add({"id": "a1", "url": "https://example.org/a", "text": "Hello.\\nSubmit"})
    ...     result.text
    'Hello.'
    """

    def __init__(
        self,
        path: str | Path = "dedupe.db",
        *,
        params: Params | None = None,
        strip_reused: bool = False,
    ) -> None:
        self.store = Store(path)
        asked = params or self._stored_params() or Params()
        stored = self.store.check_params(asked.as_dict())
        self.params = Params(**stored)
        self.index = SqliteIndex(self.store.conn)
        self.strip_reused = strip_reused
        self._lock = threading.RLock()
        self._run: int | None = None
        self._run_counts = [0, 0, 0]
        #: Input records an interrupted run had committed when :meth:`begin_run` resumed it.
        self.resumed = 0

    def _stored_params(self) -> Params | None:
        p = self.store.stored_params()
        return Params(**p) if p else None

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._run is not None:
                self.store.finish_run(self._run, *self._run_counts)
                self._run = None
            self.store.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def begin_run(
        self, command: str, inputs: Sequence[str] = (), *, resume_key: str | None = None
    ) -> int:
        """Record a run (command, inputs, parameters, versions); ingests are counted on it.

        With ``resume_key`` (an identity of the inputs and options), an interrupted run over the
        same inputs is continued: :attr:`resumed` is then the number of input records it
        committed, which the caller may skip."""
        import datasketch

        with self._lock:
            point = self.store.resume_point(resume_key) if resume_key else None
            self.resumed = point[1] if point else 0
            self._run = self.store.start_run(
                command,
                inputs,
                {
                    "tool_version": _version(),
                    "datasketch_version": datasketch.__version__,
                    "params": json.dumps(self.params.as_dict(), sort_keys=True),
                },
                resume_key=resume_key,
                cursor=self.resumed,
            )
            self._run_counts = [0, 0, 0]
            return self._run

    def count_rejected(self, n: int = 1) -> None:
        self._run_counts[2] += n

    def record_progress(self, cursor: int) -> None:
        """Write the run's cursor (input records done) and counts; call it from ``on_commit``
        so they commit with the batch they describe, never ahead of it."""
        if self._run is not None:
            self.store.run_progress(self._run, cursor, *self._run_counts)

    def quarantine(self, source: str, line: int | None, problem: str, raw: str | None) -> None:
        """Keep a skipped input record in the ``rejected`` table, so nothing is dropped unseen;
        call it from ``on_commit`` so a resumed run does not keep it twice."""
        self.store.reject(self._run, source, line, problem, raw)
        self.count_rejected()

    # -- ingest --------------------------------------------------------------------------

    def add(self, article: Article | dict[str, Any]) -> Result:
        """Ingest one article and return its cleaned text and findings."""
        return self.add_many([article])[0]

    def add_many(
        self, articles: Iterable[Article | dict[str, Any]], batch_size: int = 500
    ) -> list[Result]:
        """Ingest many articles, one transaction per ``batch_size``; results in input order."""
        return list(self.stream(articles, batch_size=batch_size))

    def stream(
        self, articles: Iterable[Article | dict[str, Any]], batch_size: int = 500
    ) -> Iterator[Result]:
        """Like :meth:`add_many`, but yields results batch by batch (for large inputs)."""
        batch: list[Article] = []
        for a in articles:
            batch.append(a if isinstance(a, Article) else Article.from_dict(a))
            if len(batch) >= batch_size:
                yield from self._ingest(batch)
                batch = []
        if batch:
            yield from self._ingest(batch)

    def add_batch(
        self,
        articles: Sequence[Article | dict[str, Any]],
        *,
        on_commit: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Ingest ``articles`` in one transaction, even none. ``on_commit`` runs inside it just
        before COMMIT, so what it writes (a resume cursor, quarantined records) is committed
        or rolled back together with the batch."""
        batch = [a if isinstance(a, Article) else Article.from_dict(a) for a in articles]
        return self._ingest(batch, on_commit)

    def _ingest(
        self, batch: list[Article], on_commit: Callable[[], None] | None = None
    ) -> list[Result]:
        for a in batch:
            if len(a.text) > MAX_ARTICLE_CHARS:
                raise ValueError(
                    f"article {a.id}: text is {len(a.text)} characters, over the limit of"
                    f" {MAX_ARTICLE_CHARS}"
                )
        with self._lock, self.store.transaction():
            new: list[Article] = []
            known: dict[int, str] = {}
            seen: dict[tuple[str, Any], str] = {}
            for i, a in enumerate(batch):
                url_n = normalize_url(a.url) if a.url else None
                chash = _content_hash(a.text)
                dup = self.store.find_known(a.id, url_n, chash)
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
                self.store.insert_article(a, url_n, chash, self._run)
                new.append(a)
            segs = {a.id: refine(a.text, segment(a.text)) for a in new}
            fps, new_edges = self._fingerprint(new, segs)
            affected = self._count_carriers(new, fps, new_edges)
            for aid in sorted(affected - {a.id for a in new}):
                self._judge(aid)
            results: dict[str, Result] = {}
            for a in new:
                findings, segments = self._judge(a.id)
                results[a.id] = self._result(a, segments, findings, "added")
            out: list[Result] = []
            for i, a in enumerate(batch):
                if i in known:
                    stored = self.result(known[i])
                    out.append(
                        Result(
                            stored.article, stored.text, stored.findings, stored.removed, "known"
                        )
                    )
                else:
                    out.append(results[a.id])
            self._run_counts[0] += len(new)
            self._run_counts[1] += len(known)
            if on_commit is not None:
                on_commit()
        return out

    def _fingerprint(
        self, new: Sequence[Article], segs: dict[str, list[Segment]]
    ) -> tuple[dict[str, list[int | None]], list[tuple[int, int, float]]]:
        """Store each segment's fingerprint (new ones are indexed and matched) and the segments."""
        p = self.params
        norms: dict[str, list[tuple[int, str, list[str]]]] = {}
        all_keys: set[int] = set()
        for a in new:
            rows = []
            for g in segs[a.id]:
                norm = normalize(g.text_of(a.text))
                words = tokens(norm)
                key = fingerprint.exact_key(norm)
                rows.append((key, norm, words))
                if words:
                    all_keys.add(key)
            norms[a.id] = rows
        ids = self.store.fingerprint_ids(sorted(all_keys))
        fresh: list[tuple[int, list[str]]] = []
        pairs: list[tuple[int, int, float]] = []
        for a in new:
            for key, norm, words in norms[a.id]:
                if words and key not in ids:
                    ids[key] = self.store.insert_fingerprint(key, norm, len(words))
                    if len(words) >= p.min_words:
                        fresh.append((ids[key], words))
        if fresh:
            hashes = [fingerprint.shingle_hashes(w, p.ngram) for _, w in fresh]
            sigs = fingerprint.signatures(hashes, p.num_perm, p.seed)
            keys = fingerprint.band_keys(sigs, p.bands, p.rows)
            items = [i for i, _ in fresh]
            self.store.insert_signatures(
                (i, fingerprint.signature_bytes(s)) for i, s in zip(items, sigs)
            )
            self.index.add(items, keys)
            cands = self.index.candidates(keys, p.max_candidates)
            words_of = {i: w for i, w in fresh}
            need = sorted({c for cs in cands for c in cs if c not in words_of})
            for c, (text, _) in self.store.fingerprint_texts(need).items():
                words_of[c] = text.split(" ")
            for (i, w), cs in zip(fresh, cands):
                for c in cs:
                    if c == i:
                        continue
                    sim = fingerprint.near(w, words_of[c], p)
                    if sim is not None:
                        pairs.append((min(i, c), max(i, c), round(sim, 6)))
            pairs = sorted(set(pairs))
            self.store.insert_near(pairs)
        out: dict[str, list[int | None]] = {}
        for a in new:
            fp_list: list[int | None] = [
                ids[key] if words else None for key, _, words in norms[a.id]
            ]
            out[a.id] = fp_list
            self.store.insert_segments(
                (
                    a.id,
                    g.index,
                    g.kind,
                    g.start,
                    g.end,
                    g.block,
                    json.dumps(g.parts) if g.parts else None,
                    fp,
                )
                for g, fp in zip(segs[a.id], fp_list)
            )
        return out, pairs

    def _count_carriers(
        self,
        new: Sequence[Article],
        fps: dict[str, list[int | None]],
        edges: Sequence[tuple[int, int, float]],
    ) -> set[str]:
        """Count the new articles on their fingerprints; return the stored articles whose
        verdicts may have changed (a block crossing the boilerplate count, an earlier origin)."""
        k = self.params.min_outlet_articles
        rows = []
        for a in new:
            key = order_key(iso(a.published), a.id)
            okey = outlet_key(a.outlet, a.id)
            for fp in sorted({fp for fp in fps[a.id] if fp is not None}):
                rows.append((fp, okey, a.id, key))
        affected: set[str] = set()
        touched: set[int] = set()
        for fp, okey, n, prev_first in self.store.add_carriers(rows):
            touched.add(fp)
            if prev_first is not None:
                affected.add(prev_first)
            if n == k and okey.startswith("="):
                affected.update(self.store.articles_of(fp, okey[1:], k))
        for a_fp, b_fp, _ in edges:
            touched.update((a_fp, b_fp))
        # The earliest carrier in each outlet may stop being the origin, or become one.
        carriers = self.store.carriers(touched)
        per_fp: dict[int, int] = {}
        for fp, _okey, _n, first, _fk in carriers:
            per_fp[fp] = per_fp.get(fp, 0) + 1
            if per_fp[fp] <= MAX_REJUDGE_OUTLETS:
                affected.add(first)
        return affected

    # -- judging -------------------------------------------------------------------------

    def _load_segments(self, article_id: str) -> tuple[list[Segment], list[int | None]]:
        """An article's segments and their fingerprints; notes which are sentences too short
        to tell apart from others (they count for recurrence only, not repeats or reuse)."""
        rows = self.store.segments_of(article_id)
        short = self.params.min_words
        segs = [
            Segment(
                r["idx"],
                r["kind"],
                r["start"],
                r["end"],
                r["block"],
                tuple(tuple(p) for p in json.loads(r["parts"])) if r["parts"] else (),
            )
            for r in rows
        ]
        self._short = [r["kind"] != "block" and r["words"] < short for r in rows]
        return segs, [r["fingerprint"] for r in rows]

    def evidence(self, article_id: str) -> tuple[Article, list[Segment], list[Evidence]]:
        """What the store knows about each segment of a stored article."""
        article = self.store.article(article_id)
        if article is None:
            raise KeyError(article_id)
        segs, fps = self._load_segments(article_id)
        present = sorted({fp for fp in fps if fp is not None})
        nb = self.store.neighbors(present)
        group: dict[int, dict[int, float]] = {}
        for fp in present:
            g = {fp: 1.0}
            for other, sim in nb.get(fp, []):
                g[other] = max(g.get(other, 0.0), sim)
            group[fp] = g
        texts = self.store.fingerprint_texts(present)
        loose = fingerprint.rephrased(
            [texts[fp][0].split(" ") if fp is not None else [] for fp in fps], self.params
        )
        rows: dict[int, list[tuple[str, int, str, str]]] = {}
        for fp, okey, n, first, fkey in self.store.carriers({x for g in group.values() for x in g}):
            rows.setdefault(fp, []).append((okey, n, first, fkey))
        evidence: list[Evidence] = []
        for k, fp in enumerate(fps):
            if fp is None:
                evidence.append(Evidence())
                continue
            counts: dict[str, int] = {}
            earliest: dict[str, tuple[str, str, float, int]] = {}
            for other, sim in group[fp].items():
                for okey, n, first, fkey in rows.get(other, []):
                    counts[okey] = counts.get(okey, 0) + n
                    if first == article.id:
                        continue
                    cur = earliest.get(okey)
                    if cur is None or fkey < cur[0]:
                        earliest[okey] = (fkey, first, sim, other)
            peers = []
            for okey in sorted(earliest):
                fkey, first, sim, other = earliest[okey]
                published = fkey[1:].split("|", 1)[0] if fkey.startswith("0") else None
                outlet = okey[1:] if okey.startswith("=") else None
                peers.append(Peer(first, outlet, published, -1, -1, sim))
            same = {
                j: group[fp][fps[j]]  # type: ignore[index]
                for j in range(k)
                if fps[j] is not None and fps[j] in group[fp] and not self._short[j]
            }
            for j, ratio in loose.get(k, []):
                same.setdefault(j, ratio)
            internal = tuple(sorted(same.items()))
            known_counts = tuple((o[1:], n) for o, n in sorted(counts.items()) if o.startswith("="))
            evidence.append(Evidence(tuple(peers), known_counts, internal, self._short[k]))
        self._groups = {fp: sorted(g) for fp, g in group.items()}
        self._fps = fps
        return article, segs, evidence

    def _locate(self, findings: list[Finding], fps: list[int | None]) -> list[Finding]:
        """Fill in the offsets of matched segments in other articles (looked up lazily: only
        for the matches a finding names)."""
        out = []
        for f, fp in zip(findings, fps):
            if not f.matched or fp is None or all(m.start >= 0 for m in f.matched):
                out.append(f)
                continue
            group = self._groups.get(fp, [fp])
            matched = []
            for m in f.matched:
                if m.start < 0:
                    where = self.store.locate(m.article, group)
                    if where is not None:
                        m = Match(
                            m.article, where[0], where[1], m.similarity, m.outlet, m.published
                        )
                matched.append(m)
            out.append(Finding(f.start, f.end, f.kind, f.verdict, f.reason, f.rule, tuple(matched)))
        return out

    def _findings(self, article_id: str) -> tuple[Article, list[Finding], list[Segment]]:
        """Judge a stored article against the store as it is now."""
        with self._lock:  # evidence() leaves per-article state for _locate (and provenance)
            article, segs, ev = self.evidence(article_id)
            return self._judged(article, segs, ev)

    def _judged(
        self, article: Article, segs: list[Segment], ev: list[Evidence]
    ) -> tuple[Article, list[Finding], list[Segment]]:
        findings = classify(
            article.id,
            article.outlet,
            iso(article.published),
            article.text,
            segs,
            ev,
            self.params.min_outlet_articles,
        )
        return article, self._locate(findings, self._fps), segs

    def _judge(self, article_id: str) -> tuple[list[Finding], list[Segment]]:
        """Judge a stored article and keep the verdicts in the store (for stats and browsing)."""
        article, findings, segs = self._findings(article_id)
        self.store.update_findings(
            article.id,
            [
                (
                    f.verdict,
                    f.rule,
                    f.reason,
                    json.dumps([m.as_dict() for m in f.matched], ensure_ascii=False),
                    g.index,
                )
                for f, g in zip(findings, segs)
            ],
        )
        return findings, segs

    def _stripped(self) -> frozenset[str]:
        return clean.STRIPPED | ({"reused"} if self.strip_reused else set())

    def _result(
        self, article: Article, segs: list[Segment], findings: list[Finding], status: str
    ) -> Result:
        cuts = clean.removals(article.text, segs, findings, self._stripped())
        return Result(
            article, clean.apply(article.text, cuts), tuple(findings), tuple(cuts), status
        )  # type: ignore[arg-type]

    # -- reading -------------------------------------------------------------------------

    def result(self, article_id: str) -> Result:
        """A stored article's cleaned text and findings, judged against the store as it is now."""
        with self._lock:
            if self.store.article(article_id) is None:
                raise KeyError(f"no article with id {article_id!r} in {self.store.path}")
            article, findings, segs = self._findings(article_id)
            return self._result(article, segs, findings, "added")

    def results(self, ids: Sequence[str] | None = None) -> Iterator[Result]:
        """Every stored article (or those named), cleaned, in publication order then id."""
        for a in self.store.articles(ids):
            yield self.result(a.id)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            s = self.store.stats()
            s["params"] = self.params.as_dict()
            return s

    # -- provenance ------------------------------------------------------------------------

    def provenance(self) -> Provenance:
        """Chains, passages and the reuse graph of the whole store, from verdicts judged
        against the store as it is now (computed once per state of the store, then reused)."""
        import datetime as _dt

        from dedupe import lexicon  # the shipped lexicon finds wire and release credits

        with self._lock:
            marker = self.store.change_marker()
            cached = getattr(self, "_provenance_cache", None)
            if cached is not None and cached[0] == marker:
                return cached[1]
            shared, edges, facts = self._provenance_input()
            result = analyze(
                shared,
                edges,
                facts,
                now=_dt.datetime.now(_dt.timezone.utc),
                attributions=getattr(lexicon, "attributions", None),
            )
            self._provenance_cache = (marker, result)
            return result

    def _provenance_input(
        self,
    ) -> tuple[list[Shared], list[tuple[int, int, float]], dict[str, ArticleFacts]]:
        """The segments judged shared with another outlet, the near edges and article facts.

        Candidates come from the carrier counts (texts carried by two or more outlets, alone or
        with their near copies, and not furniture of any outlet); the articles holding them are
        then judged afresh, so stale stored verdicts never leak into provenance."""
        edges = self.store.near_edges()
        neighbours: dict[int, set[int]] = {}
        for a, b, _ in edges:
            neighbours.setdefault(a, set()).add(b)
            neighbours.setdefault(b, set()).add(a)
        candidates = set(self.store.shared_fingerprints()) | set(neighbours)
        carried = self.store.fingerprint_carriers(candidates)
        k = self.params.min_outlet_articles
        keep: set[int] = set()
        for fp in candidates:
            counts: dict[str, int] = {}
            for g in {fp} | neighbours.get(fp, set()):
                for okey, n in carried.get(g, []):
                    counts[okey] = counts.get(okey, 0) + n
            furniture = any(n >= k for o, n in counts.items() if o.startswith("="))
            if len(counts) >= 2 and not furniture:
                keep.add(fp)
        shared: list[Shared] = []
        facts: dict[str, ArticleFacts] = {}
        pending: list[tuple[str, int, int, int, int]] = []
        for aid in self.store.articles_carrying(keep):
            article, findings, segs = self._findings(aid)
            fps, short = self._fps, self._short
            content_fps = [
                (g.index, fp)
                for g, f, sh, fp in zip(segs, findings, short, fps, strict=True)
                if f.verdict in ("kept", "reused") and not sh
            ]
            members = [
                (aid, g.index, g.start, g.end, fp)
                for g, f, fp in zip(segs, findings, fps, strict=True)
                if fp is not None and f.rule in ("reuse", "reuse-origin")
            ]
            if not members:
                continue
            pending.extend(members)
            facts[aid] = ArticleFacts(
                aid,
                article.outlet,
                iso(article.published),
                article.text,
                article.title,
                normalize_url(article.url) if article.url else None,
                tuple(i for i, _ in content_fps),
                frozenset(fp for _, fp in content_fps if fp is not None),
            )
        texts = self.store.fingerprint_texts({m[4] for m in pending})
        for aid, idx, start, end, fp in pending:
            shared.append(Shared(aid, idx, start, end, fp, texts[fp][0]))
        return shared, edges, facts

    def chains(
        self, article_id: str | Iterable[str] | None = None, outlet: str | None = None
    ) -> list[Chain]:
        """Provenance chains (origin first), all or those touching the article(s) / outlet."""
        ids = [article_id] if isinstance(article_id, str) else article_id
        return select(self.provenance(), ids, outlet)[0]

    def passages(
        self, article_id: str | Iterable[str] | None = None, outlet: str | None = None
    ) -> list[Passage]:
        """Copied passages (consecutive sentences from one source), all or those whose source
        or target is the article(s) / outlet."""
        ids = [article_id] if isinstance(article_id, str) else article_id
        return select(self.provenance(), ids, outlet)[1]

    def graph(self) -> ReuseGraph:
        """The outlet reuse graph: passages, sentences and median lag per source -> target."""
        return self.provenance().graph


def _content_hash(text: str) -> int:
    return xxhash.xxh64_intdigest(text.encode("utf-8", "surrogatepass")) - (1 << 63)
