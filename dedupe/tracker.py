"""Tracker: the one place that runs the flow segment -> fingerprint -> index -> classify -> store.

``Tracker(path)`` holds one store and its LSH index. ``add`` and ``add_many`` ingest articles
(one transaction per batch) and return what was found; ``result`` gives an article's verdicts
as the corpus stands now, because a later article can turn an earlier one's line into
boilerplate or make it the origin of a reused passage.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dedupe import clean, pipeline
from dedupe.classify import Evidence
from dedupe.fields import check_article, normalize_url, show
from dedupe.fingerprint import Params
from dedupe.index import SqliteIndex
from dedupe.lexicon import byline
from dedupe.model import Article, Finding, InputError, Result, Segment
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
from dedupe.store import Store, iso

#: Stale stored articles (see :meth:`Tracker.flush`) that make an ingest judge them again.
MAX_STALE = 100_000
#: Megabytes of LSH index a Tracker holds in memory by default (all of it up to about 3
#: million distinct sentences; the runs past it are read from disk).
INDEX_MEMORY_MB = 512
#: Stale articles judged again per transaction of a flush.
FLUSH_CHUNK = 2_000
#: Largest article accepted, in characters.
MAX_ARTICLE_CHARS = 5_000_000


def _version() -> str:
    from dedupe import __version__

    return __version__


def _dated(a: Article) -> Article:
    """The article with a naive date read as UTC, as the readers read one: converted with the
    machine's own time zone it would order articles differently from one machine to the next.
    (Placeholder and implausible dates are kept; they order nothing, see ``order_key``.)"""
    if a.published is None or a.published.utcoffset() is not None:
        return a
    return replace(a, published=a.published.replace(tzinfo=dt.timezone.utc))


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

    One Tracker may be shared by threads: its calls take turns on one lock (and one SQLite
    connection). Several processes may each open their own Tracker on one store file; their
    batches take turns on the store's write lock. Do not carry a Tracker across ``fork()``.

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
        workers: int | None = None,
        index_memory: float | None = INDEX_MEMORY_MB,
    ) -> None:
        """``workers``: processes doing the text work of large batches (``None``: one per
        core beyond the first, at most two; ``0``: none, everything in this process).
        ``index_memory``: megabytes of LSH index to hold in memory; the largest runs past it
        are copied to unnamed temporary files beside the store and read a block at a time
        (``None``: no limit). Results do not depend on it."""
        if index_memory is not None and not (
            isinstance(index_memory, (int, float)) and index_memory >= 0
        ):
            raise ValueError(
                f"index_memory must be a number of megabytes (0 or more), not {index_memory!r}"
            )
        self.store = Store(path)
        asked = params or self._stored_params() or Params()
        stored = self.store.check_params(asked.as_dict())
        self.params = Params(**stored)
        #: The store's file, absolute (``None`` in memory): worker processes open it to read.
        self.store_file = (
            None if self.store.path == ":memory:" else os.path.abspath(self.store.path)
        )
        spill_dir = None if self.store_file is None else os.path.dirname(self.store_file)
        budget = None if index_memory is None else int(index_memory * 2**20)
        self.index = SqliteIndex(self.store.conn, memory=budget, spill_dir=spill_dir)
        self.strip_reused = strip_reused
        self.workers = pipeline.default_workers() if workers is None else max(0, workers)
        self._workers: pipeline.Workers | None = None
        self._text_cache = pipeline.TextCache()
        self._dirty = False  # articles added since the last flush
        #: Seconds spent per ingest phase so far; also counts: ``stale``, stored articles
        #: noted for judging again because new ones changed their evidence, and
        #: ``rejudged``, those :meth:`flush` judged.
        self.timings: dict[str, float] = {}
        self._lock = threading.RLock()
        self._pool_lock = threading.Lock()
        self._run: int | None = None
        self._run_counts = [0, 0, 0]
        #: Input records an interrupted run had committed when :meth:`begin_run` resumed it.
        self.resumed = 0

    def _pool(self) -> pipeline.Workers | None:
        """The worker processes, started on first use (none when ``workers`` is 0)."""
        if self.workers and self._workers is None:
            with self._pool_lock:  # two threads streaming at once start one pool, not two
                if self._workers is None:
                    self._workers = pipeline.Workers(self.workers)
        return self._workers

    def _stored_params(self) -> Params | None:
        p = self.store.stored_params()
        return Params(**p) if p else None

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Bring the stored verdicts up to date (a writer's closing flush), finish the run,
        stop the workers and close the store; closing again does nothing."""
        # The steps run last to first, each one even if a later one failed: whatever the
        # closing flush meets, the run is marked finished (its batches are all committed;
        # stale verdicts stay noted for the next writer) and the store is closed.
        with self._lock, contextlib.ExitStack() as steps:
            steps.callback(self._closed)
            steps.callback(self.store.close)
            steps.callback(self.index.close)
            steps.callback(self._finish_run)
            steps.callback(self._close_workers)
            # A writer brings the stored verdicts up to date before it goes; a store in
            # memory goes with it, so nobody could read them.
            writer = self._dirty or self._run is not None
            if writer and self.store.path != ":memory:":
                self.flush()

    def _closed(self) -> None:
        """The index uses the store's connection: after closing, both say the store is closed."""
        self.index.conn = self.store.conn

    def _finish_run(self) -> None:
        if self._run is not None:
            run, self._run = self._run, None
            self.store.finish_run(run, *self._run_counts)

    def _close_workers(self) -> None:
        if self._workers is not None:
            workers, self._workers = self._workers, None
            workers.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            # Failed or interrupted: the run stays unfinished, so the same command resumes it
            # from the cursor its last committed batch wrote; stale verdicts wait for the
            # next writer (they are kept in the store).
            self._run = None
            self._dirty = False
        self.close()

    def flush(self) -> int:
        """Judge again, in bulk, the stored articles whose kept verdicts later articles
        changed (an earliest carrier replaced, a text become furniture...), and rewrite the
        verdicts that differ; returns how many articles. Ingest only notes them (the
        ``stale`` table, with the texts whose evidence changed: only the segments carrying
        those are judged), so an article many new ones touch is judged again once: this runs
        when the tracker closes, before :meth:`stats`, and after an ingested batch once
        ``MAX_STALE`` are waiting, ``FLUSH_CHUNK`` articles per transaction. Reading results
        never needs it: they are judged afresh."""
        done = 0
        with self._lock:
            ids = self.store.stale_ids(FLUSH_CHUNK)
            share = pipeline.share_out(self, ids)
            while ids:
                with self.store.transaction(), pipeline.gc_paused():
                    # The next chunk goes out first: the workers start on their share of it
                    # as soon as they are done with this one's.
                    nxt = self.store.stale_ids(FLUSH_CHUNK, after=ids[-1])
                    nxt_share = pipeline.share_out(self, nxt)
                    pipeline.rejudge_share(self, share)
                    self.store.clear_stale(ids)
                done += len(ids)
                if not nxt:  # from the start again: another writer may have noted more
                    nxt = self.store.stale_ids(FLUSH_CHUNK)
                    nxt_share = pipeline.share_out(self, nxt)
                ids, share = nxt, nxt_share
            self._dirty = False
        return done

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

    def end_run(self) -> None:
        """Mark the run :meth:`begin_run` recorded as finished (closing does it too): after
        its last batch, so a failure later on (writing its output) leaves nothing to resume."""
        with self._lock:
            # Still a writer: closing brings the stored verdicts up to date, those a killed
            # run left stale included (a resumed run may have nothing left to add).
            self._dirty = self._dirty or self._run is not None
            self._finish_run()

    def count_rejected(self, n: int = 1) -> None:
        """Count ``n`` input records the caller skipped on the current run."""
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
        """Ingest many articles, one transaction per ``batch_size``; results in input order.
        An input that is not a valid article raises :class:`InputError` naming it (its
        position from 1, and its id): the batches before its own are stored, its own is not."""
        return list(self.stream(articles, batch_size=batch_size))

    def stream(
        self, articles: Iterable[Article | dict[str, Any]], batch_size: int = 500
    ) -> Iterator[Result]:
        """Like :meth:`add_many`, but yields results batch by batch (for large inputs).

        With worker processes (batches of at least ``pipeline.POOL_MIN_BATCH`` articles), the
        text work of the next batch runs while this one is stored; input is read one batch
        ahead, and a bad record still stops the stream only after the batches before it."""
        if not self.workers or batch_size < pipeline.POOL_MIN_BATCH:
            batch: list[Article] = []
            for k, a in enumerate(articles, 1):
                batch.append(_as_article(a, k))
                if len(batch) >= batch_size:
                    yield from self._ingest(batch)
                    batch = []
            if batch:
                yield from self._ingest(batch)
            return
        it = enumerate(articles, 1)
        pending: deque[tuple[list[Article], pipeline.Pending | None]] = deque()
        done = False
        error: Exception | None = None
        while not done or pending:
            if not done:
                batch = []
                try:
                    for k, a in it:
                        batch.append(_as_article(a, k))
                        if len(batch) >= batch_size:
                            break
                    else:
                        done = True
                except Exception as e:  # ingest the batches before the bad record, then raise
                    error, done, batch = e, True, []
                if batch:
                    # Small inputs (a single article) never start the worker processes.
                    small = len(batch) < pipeline.POOL_MIN_BATCH or _oversized(batch)
                    workers = None if small else self._pool()
                    job = workers.submit([a.text for a in batch], self.params) if workers else None
                    pending.append((batch, job))
            if pending and (done or len(pending) > 1):
                b, job = pending.popleft()
                yield from self._ingest(b, analysis=job.result() if job else None)
        if error is not None:
            raise error

    def add_batch(
        self,
        articles: Sequence[Article | dict[str, Any]],
        *,
        on_commit: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Ingest ``articles`` in one transaction, even none. ``on_commit`` runs inside it just
        before COMMIT, so what it writes (a resume cursor, quarantined records) is committed
        or rolled back together with the batch."""
        batch = [_as_article(a, k) for k, a in enumerate(articles, 1)]
        return self._ingest(batch, on_commit)

    def _ingest(
        self,
        batch: list[Article],
        on_commit: Callable[[], None] | None = None,
        analysis: Any = None,
    ) -> list[Result]:
        for i, a in enumerate(batch):
            if len(a.text) > MAX_ARTICLE_CHARS:
                raise InputError(
                    f"article {show(a.id)}",
                    f"text is {len(a.text)} characters, over the limit of {MAX_ARTICLE_CHARS}",
                )
            if a.published is not None:
                batch[i] = _dated(a)
        if analysis is None and len(batch) >= pipeline.POOL_MIN_BATCH:
            workers = self._pool()
            if workers is not None:
                analysis = workers.submit([a.text for a in batch], self.params).result()
        with self._lock:
            with self.store.transaction(), pipeline.gc_paused():
                out, added, known_n = pipeline.ingest(self, batch, analysis)
                self._run_counts[0] += added
                self._run_counts[1] += known_n
                self._dirty = self._dirty or added > 0
                if on_commit is not None:
                    on_commit()
            # After the batch commits, in transactions of FLUSH_CHUNK articles each: inside
            # the batch's, a flush of MAX_STALE articles made one transaction (and a WAL of
            # gigabytes) that grew with the corpus. Stopped in between, the store is as it
            # is between any two batches: what is still stale stays noted in the store.
            if added and self.store.count_stale() >= MAX_STALE:
                self.flush()
        return out

    # -- judging -------------------------------------------------------------------------

    def evidence(self, article_id: str) -> tuple[Article, list[Segment], list[Evidence]]:
        """What the store knows about each segment of a stored article."""
        with self._lock:
            docs = pipeline.load_docs(self, [article_id])
            if not docs:
                raise KeyError(article_id)
            (ev,), group = pipeline.evidence_many(self, docs)
            d = docs[0]
            self._groups = {fp: sorted(group[fp]) for fp in {fp for fp in d.fps if fp is not None}}
            self._fps, self._short = d.fps, d.short
            return d.article, d.segments, ev

    def _findings(self, article_id: str) -> tuple[Article, list[Finding], list[Segment]]:
        """Judge a stored article against the store as it is now; leaves its fingerprints,
        short-segment flags and near groups in ``_fps``, ``_short`` and ``_groups``."""
        with self._lock:
            docs = pipeline.load_docs(self, [article_id])
            if not docs:
                raise KeyError(article_id)
            (j,) = pipeline.judge(self, docs)
            self._groups, self._fps, self._short = j.groups, j.doc.fps, j.doc.short
            return j.doc.article, j.findings, j.doc.segments

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
        """Every stored article, cleaned, in publication order then id; or those named in
        ``ids``, in that order, unknown ids left out (judged a few hundred at a time)."""
        chunk: list[str] = []
        for a in self.store.articles(ids):
            chunk.append(a.id)
            if len(chunk) >= 256:
                yield from self._results_of(chunk)
                chunk = []
        if chunk:
            yield from self._results_of(chunk)

    def _results_of(self, ids: Sequence[str]) -> list[Result]:
        with self._lock, pipeline.gc_paused():
            return [
                self._result(j.doc.article, j.doc.segments, j.findings, "added")
                for j in pipeline.judge(self, pipeline.load_docs(self, ids))
            ]

    def stats(self) -> dict[str, Any]:
        """Articles per outlet, segments and characters per verdict, runs and the most
        frequent boilerplate per outlet (the stored verdicts brought up to date first)."""
        with self._lock:
            if self._dirty:
                self.flush()
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
                if fp is not None
                and (
                    f.rule in ("reuse", "reuse-origin")
                    # an outlet's later copy of its own text that other outlets carry too
                    # (a byline shared by two outlets is no passage)
                    or (f.rule == "same-outlet-copy" and not byline(g.text_of(article.text)))
                )
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


def _as_article(a: Article | dict[str, Any], k: int) -> Article:
    """The ``k``-th input (from 1) as a checked Article: an InputError naming it (its id when
    it has one) and the problem if it cannot be one, before anything of its batch is stored."""
    try:
        if isinstance(a, Article):
            check_article(a)
            return a
        return Article.from_dict(a)
    except ValueError as e:
        aid = a.id if isinstance(a, Article) else a.get("id") if isinstance(a, dict) else None
        named = isinstance(aid, (str, int)) and not isinstance(aid, bool) and str(aid).strip()
        raise InputError(
            f"input {k} (id {show(str(aid))})" if named else f"input {k}", str(e)
        ) from None


def _oversized(batch: Sequence[Article]) -> bool:
    return any(len(a.text) > MAX_ARTICLE_CHARS for a in batch)
