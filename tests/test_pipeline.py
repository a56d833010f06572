"""The batched ingest: its fast paths give what the plain definitions give, whatever the
batch size, the worker processes or the order articles arrive in."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import corpus, day, dump
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import Article, Tracker, pipeline
from dedupe import index as index_mod
from dedupe.fingerprint import (
    Params,
    Verifier,
    band_keys,
    lsh_of,
    may_be_near,
    near,
    shingle_hashes,
    shingles,
    signatures,
    similarity,
)
from dedupe.index import SqliteIndex
from dedupe.model import Finding, Match
from dedupe.store import Store

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron".split()
word_lists = st.lists(st.sampled_from(WORDS + ["12", "3.5"]), min_size=0, max_size=25)


@settings(max_examples=60, deadline=None)
@given(st.lists(word_lists, min_size=1, max_size=6))
def test_lsh_of_equals_signatures_then_bands(lists):
    p = Params()
    keys, _ = lsh_of(lists, p)
    ref = band_keys(
        signatures([shingle_hashes(w, p.ngram) for w in lists], p.num_perm, p.seed), p.bands, p.rows
    )
    assert np.array_equal(keys, ref)


@settings(max_examples=200, deadline=None)
@given(word_lists, word_lists, st.floats(0.05, 1.0))
def test_sketch_bound_never_rejects_a_pair_that_reaches_the_threshold(a, b, threshold):
    p = Params()
    _, sk = lsh_of([a, b], p)
    old = sk.copy()
    old[:, -1] &= 0xFFFF  # as older stores kept them: no count of the map's bits
    if similarity(a, b, p.ngram) >= threshold:
        assert may_be_near(sk[:1], sk[1:], threshold)[0]
        assert may_be_near(old[:1], old[1:], threshold)[0]


@settings(max_examples=100, deadline=None)
@given(st.lists(word_lists, min_size=1, max_size=6))
def test_a_sketch_ends_with_its_shingle_count_and_the_bits_its_map_sets(lists):
    p = Params()
    _, sk = lsh_of(lists, p)
    for words, row in zip(lists, sk):
        assert int(row[-1]) & 0xFFFF == len(set(shingles(words, p.ngram)))
        assert int(row[-1]) >> 16 == sum(bin(int(x)).count("1") for x in row[:-1])


@settings(max_examples=200, deadline=None)
@given(word_lists, word_lists)
def test_verifier_equals_near(a, b):
    p = Params()
    v = Verifier(p)
    v.add(1, a)
    v.add(2, b)
    assert v.near(1, 2) == near(a, b, p)


def test_matched_json_is_the_json_of_the_matches():
    rng = random.Random(3)
    for _ in range(200):
        ms = tuple(
            Match(
                rng.choice(["a1", "b\u00e9", 'q"x']),
                rng.randrange(0, 500),
                rng.randrange(0, 500),
                rng.choice([1.0, 0.7142857, 0.5, 1 / 3, 0.99995]),
                rng.choice([None, "outlet.example", "Zürich Post"]),
                rng.choice([None, "2024-05-01T10:00:00+00:00"]),
            )
            for _ in range(rng.randrange(0, 4))
        )
        f = Finding(0, 1, "sentence", "kept", "", "unique", ms)
        expected = json.dumps([m.as_dict() for m in ms], ensure_ascii=False)
        assert pipeline.matched_json(f) == expected
        assert pipeline.matched_json(f, {}) == expected


def _brute(entries, query, cap):
    """Items sharing a band key with the query, smallest first, at most cap."""
    found = sorted({i for i, keys in entries for b, k in enumerate(keys) if query[b] == k})
    return found[:cap]


@pytest.mark.parametrize("fenced", [False, True])
def test_index_runs_merge_and_answer_like_a_scan(tmp_path, monkeypatch, fenced):
    # fenced: every search of a run of 64 entries or more goes through its fence
    if fenced:
        monkeypatch.setattr(index_mod, "_BLOCK", 4)
        monkeypatch.setattr(index_mod, "_FEW", 0)
    rng = np.random.default_rng(5)
    store = Store(tmp_path / "i.db")
    idx = SqliteIndex(store.conn)
    entries = []
    next_id = 1
    for size in [1, 3, 2, 50, 1, 7, 200, 1, 1, 1, 1, 30, 4, 4, 4, 4, 4]:
        keys = rng.integers(0, 40, size=(size, 3), dtype=np.int64)
        items = list(range(next_id, next_id + size))
        next_id += size
        idx.add(items, keys)
        entries += list(zip(items, keys.tolist()))
    assert len(idx) == len(entries)
    queries = rng.integers(0, 40, size=(30, 3), dtype=np.int64)
    for cap in (1, 5, 1000):
        got = idx.candidates(queries, cap)
        assert got == [_brute(entries, q, cap) for q in queries.tolist()]
    # Read back by another connection: the same answers.
    store.conn.commit()
    again = SqliteIndex(store.conn)
    assert again.candidates(queries, 5) == idx.candidates(queries, 5)
    store.close()


def test_sketch_filter_drops_only_what_fails_the_test(tmp_path):
    store = Store(tmp_path / "i.db")
    idx = SqliteIndex(store.conn)
    keys = np.zeros((6, 2), dtype=np.int64)  # one hot bucket
    sketches = np.arange(6 * 5, dtype=np.uint32).reshape(6, 5)
    idx.add([1, 2, 3, 4, 5, 6], keys, sketches)

    def keep(q: np.ndarray, c: np.ndarray) -> np.ndarray:
        return c[:, 0] % 10 == 0  # items 1, 3, 5

    # a bucket is read up to the cap (1, 2, 3, 4), smallest ids first; the test drops 2 and 4
    rows, items = idx.candidate_pairs(keys[:1], cap=4, sketches=sketches[:1], keep=keep)
    assert rows.tolist() == [0, 0] and items.tolist() == [1, 3]
    assert idx.candidates(keys[:1], 4) == [[1, 2, 3, 4]]
    store.close()


def _articles(n: int, seed: int = 7) -> list[Article]:
    """Articles of a few outlets sharing furniture, copies and near copies of each other."""
    rng = random.Random(seed)
    words = (
        "council budget river bridge market school minister police court storm election"
        " hospital strike airport railway factory museum festival mayor village energy water"
    ).split()
    pool = [
        " ".join(rng.choice(words) for _ in range(rng.randrange(6, 14))).capitalize() + "."
        for _ in range(120)
    ]
    arts = []
    for i in range(n):
        outlet = f"o{i % 4}.example"
        sents = [rng.choice(pool) for _ in range(rng.randrange(3, 8))]
        if rng.random() < 0.3:
            s = rng.choice(pool).split()
            s[rng.randrange(len(s))] = "harbour"
            sents.append(" ".join(s))
        text = (
            " ".join(sents)
            + f"\n\nRead more from {outlet} every day of the week, in print and online."
        )
        arts.append(
            Article(
                f"x{i:03d}",
                text,
                url=f"https://{outlet}/{i}",
                outlet=outlet,
                published=day(rng.randrange(0, 30)),
            )
        )
    return arts


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_batches_and_order_do_not_change_the_output(batch):
    arts = _articles(64)
    with Tracker(":memory:", workers=0) as ref:
        ref.add_many(arts, batch_size=64)
        expected = dump(ref.results())
    shuffled = arts[:]
    random.Random(batch).shuffle(shuffled)
    with Tracker(":memory:", workers=0) as t:
        t.add_many(shuffled, batch_size=batch)
        assert dump(t.results()) == expected


def test_worker_processes_give_the_same_output(tmp_path, monkeypatch):
    arts = _articles(40) + corpus()
    with Tracker(tmp_path / "a.db", workers=0) as ref:
        first = [r.as_dict() for r in ref.add_many(arts, batch_size=20)]
        expected = dump(ref.results())
    monkeypatch.setattr(pipeline, "POOL_MIN_BATCH", 4)
    with Tracker(tmp_path / "b.db", workers=2) as t:
        got = [r.as_dict() for r in t.add_many(arts, batch_size=20)]
        assert got == first
        assert dump(t.results()) == expected
    # Stored articles judged again get their text work from the workers too.
    monkeypatch.setattr(pipeline.TextCache, "get", lambda self, key: None)
    with Tracker(tmp_path / "c.db", workers=2) as t:
        got = [r.as_dict() for r in t.add_many(arts, batch_size=20)]
        assert got == first
        assert dump(t.results()) == expected


def test_reopened_store_finds_what_it_held(tmp_path):
    arts = _articles(30)
    db = tmp_path / "r.db"
    with Tracker(db) as t:
        t.add_many(arts[:-1])
    with Tracker(db) as t:
        t.add(arts[-1])
        reopened = dump(t.results())
    with Tracker(tmp_path / "once.db") as t:
        t.add_many(arts)
        assert dump(t.results()) == reopened


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_normalization_equals_the_general_one(text):
    import unicodedata

    from dedupe import segment as seg

    t = seg._MD_LINK.sub(r"\1", text)
    general = " ".join(seg._TOKEN.findall(unicodedata.normalize("NFKC", t).casefold()))
    assert seg.normalize(text) == general
    assert seg.tokens(general) == (general.split(" ") if general else [])


def _rephrased_reference(words, params):
    """Rephrased repeats by their definition, every pair of long-enough segments tried."""
    from rapidfuzz.distance import Indel

    from dedupe.fingerprint import _numbers

    out: dict[int, list[tuple[int, float]]] = {}
    sets = [set(w) for w in words]
    long = [k for k, w in enumerate(words) if len(w) >= params.repeat_min_words]
    for k in long:
        for j in long:
            if j >= k:
                break
            inter = len(sets[j] & sets[k])
            if inter / (len(sets[j]) + len(sets[k]) - inter) < params.repeat_words:
                continue
            if _numbers(sets[j]) != _numbers(sets[k]):
                continue
            ratio = Indel.normalized_similarity(" ".join(words[j]), " ".join(words[k]))
            if ratio >= params.repeat_ratio:
                out.setdefault(k, []).append((j, round(ratio, 4)))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS[:8] + ["7"]), min_size=0, max_size=12), max_size=40))
def test_rephrased_equals_the_inverted_index(words):
    from dedupe.fingerprint import rephrased

    assert rephrased(words, Params()) == _rephrased_reference(words, Params())


def test_rephrased_finds_repeats_past_a_word_every_segment_has():
    from dedupe.fingerprint import rephrased

    rng = random.Random(4)
    words = [["common"] + rng.sample(WORDS, 6) for _ in range(70)]
    words += [w[:] for w in words[60:]]  # late repeats of segments 60-69
    out = rephrased(words, Params())
    assert out == _rephrased_reference(words, Params())
    assert all((k - 10, 1.0) in out[k] for k in range(70, 80))


def test_rephrased_examines_a_bounded_number_of_earlier_segments():
    from dedupe.fingerprint import MAX_REPHRASE_POSTINGS, rephrased

    same = ["the", "same", "sentence", "once", "more", "in", "this", "article"]
    out = rephrased([same] * 400, Params())
    # every copy pairs with earlier copies, but with no more than the cap of them
    assert len(out) == 399
    assert max(len(v) for v in out.values()) == MAX_REPHRASE_POSTINGS
    assert out[399][:3] == [(0, 1.0), (1, 1.0), (2, 1.0)]


@pytest.mark.parametrize("cores, workers", [(1, 0), (2, 1), (3, 2), (16, 2)])
def test_default_workers_leave_a_core_to_the_judging_process(monkeypatch, cores, workers):
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert pipeline.default_workers() == workers


def test_articles_loaded_ahead_are_read_again_after_another_writers_commit(tmp_path):
    import sqlite3

    db = tmp_path / "s.db"
    with Tracker(db, workers=0) as t:
        t.add_many(corpus())
    with Tracker(db, workers=0) as t:
        ids = ["a1", "b1"]
        want = t.store.conn.execute(
            "SELECT article, idx, verdict, rule FROM segments WHERE article IN ('a1', 'b1')"
            " ORDER BY article, idx"
        ).fetchall()
        for other_commits in (False, True):
            ahead = pipeline.start_text_work(t, ids)
            if other_commits:  # a verdict written meanwhile by another connection
                with sqlite3.connect(db) as other:
                    other.execute("UPDATE segments SET rule = 'other' WHERE article = 'a1'")
                other.close()
            with t.store.transaction():
                rewritten = pipeline.rejudge(t, ids, ahead)
            assert rewritten == (len([w for w in want if w[0] == "a1"]) if other_commits else 0)
            got = t.store.conn.execute(
                "SELECT article, idx, verdict, rule FROM segments WHERE article IN ('a1', 'b1')"
                " ORDER BY article, idx"
            ).fetchall()
            assert got == want
