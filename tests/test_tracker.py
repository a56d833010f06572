"""The library face: Tracker.add / add_many / result, against everything stored before."""

import datetime as dt
import itertools
import json
import sqlite3

import pytest
from conftest import FURNITURE, WIRE, corpus, day, dump
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dedupe import Article, InputError, Params, StoreError, Tracker


def verdict_of(result, needle):
    text = result.article.text
    for f in result.findings:
        if needle in text[f.start : f.end]:
            return f.verdict, f.rule
    raise AssertionError(f"{needle!r} not found")


def stored_is_fresh(t, r, label) -> None:
    """The verdict and rule stored for each segment of result ``r`` are those just judged, and
    so are the reason and the matched articles, but for furniture (its count of carriers is
    not kept up to date in every carrier)."""
    stored = t.store.conn.execute(
        "SELECT verdict, rule, reason, matched FROM segments WHERE article = ? ORDER BY idx",
        (r.article.id,),
    ).fetchall()
    assert [row[:2] for row in stored] == [(f.verdict, f.rule) for f in r.findings], label
    for (_v, rule, reason, matched), f in zip(stored, r.findings):
        if rule != "recurrence":
            ids = [m["article"] for m in json.loads(matched)]
            assert (reason, ids) == (f.reason, [m.article for m in f.matched]), (label, rule)


def test_boilerplate_recurring_in_an_outlet_is_stripped_from_every_article(articles):
    with Tracker(":memory:") as t:
        first = t.add(articles[0])
        assert verdict_of(first, "Ledger Media Group") == ("kept", "unique")
        t.add_many(articles[1:])
        for aid in ("a1", "a2", "a3"):
            r = t.result(aid)
            assert FURNITURE not in r.text
            assert verdict_of(r, "Ledger Media Group") == ("boilerplate", "recurrence")


def test_reuse_is_found_kept_and_ordered_by_publication_not_ingest():
    arts = corpus()
    with Tracker(":memory:") as t:
        t.add_many([arts[4], arts[3]])  # the copy arrives first
        copy, origin = t.result("c1"), t.result("b1")
        assert verdict_of(copy, "Officials in the border city") == ("reused", "reuse")
        assert verdict_of(origin, "Officials in the border city") == ("kept", "reuse-origin")
        assert WIRE in copy.text  # kept by default
        (f,) = copy.reused
        assert f.matched[0].article == "b1" and f.matched[0].similarity == 1.0
    with Tracker(":memory:", strip_reused=True) as t:
        t.add_many(arts)
        assert WIRE not in t.result("c1").text
        assert WIRE in t.result("b1").text


def test_repeats_inside_an_article_keep_the_first():
    text = (
        "Recent data shows the immigration crisis is shifting west to border states like Arizona.\n"
        "Mexican authorities have also beefed up security on their side of the border.\n"
        "Recent data shows the immigration crisis is shifting west toward border states like Arizona."
    )
    with Tracker(":memory:") as t:
        r = t.add(Article("x", text))
    assert [c.verdict for c in r.removed] == ["repeat"]
    assert r.text.count("Recent data shows") == 1
    assert r.removed[0].start > text.index("Mexican")


def test_same_article_twice_changes_nothing(articles, tmp_path):
    db = tmp_path / "s.db"
    with Tracker(db) as t:
        t.add_many(articles)
        before = dump(t.results())
        again = t.add_many(
            articles + [Article("other-id", articles[0].text, outlet=articles[0].outlet)]
        )
        assert {r.status for r in again} == {"known"}
        assert dump(t.results()) == before
        assert t.store.count_articles() == len(articles)


def test_unknown_outlet_and_date_never_win_or_crash():
    arts = [
        Article("undated", WIRE),
        Article(
            "dated",
            "Intro line of the dated story, written by staff.\n" + WIRE,
            outlet="d.example",
            published=day(9),
        ),
    ]
    with Tracker(":memory:") as t:
        t.add_many(arts)
        assert verdict_of(t.result("undated"), "Officials")[0] == "reused"
        assert verdict_of(t.result("dated"), "Officials")[1] == "reuse-origin"


@settings(max_examples=12, deadline=None)
@given(st.permutations(range(5)), st.integers(1, 3))
def test_ingest_order_does_not_change_the_output(order, batch):
    arts = corpus()
    with Tracker(":memory:") as ref:
        ref.add_many(arts)
        expected = dump(ref.results())
    with Tracker(":memory:") as t:
        t.add_many([arts[i] for i in order], batch_size=batch)
        assert dump(t.results()) == expected


def test_reopening_with_other_parameters_is_refused(tmp_path):
    db = tmp_path / "p.db"
    with Tracker(db) as t:
        t.add(corpus()[0])
    with pytest.raises(StoreError, match="other matching parameters.*threshold"):
        Tracker(db, params=Params(threshold=0.9))
    with Tracker(db) as t:  # no parameters given: the store's own are used
        assert t.params == Params()


def test_deterministic_across_runs(tmp_path):
    outs = []
    for i in range(2):
        with Tracker(tmp_path / f"{i}.db") as t:
            t.add_many(corpus())
            outs.append(dump(t.results()))
    assert outs[0] == outs[1]


def test_every_permutation_of_three_gives_the_same_boilerplate():
    arts = corpus()[:3]
    seen = set()
    for perm in itertools.permutations(arts):
        with Tracker(":memory:") as t:
            for a in perm:
                t.add(a)
            seen.add(dump(t.results()))
    assert len(seen) == 1


LINE = st.sampled_from(
    [
        "Submit",
        "Share Selection",
        "The council approved the budget after a long debate on Tuesday night.",
        "A new bridge opened downtown, easing traffic for thousands of commuters.",
        "The council approved the budget after a lengthy debate on Tuesday night.",
        "By Jane Smith",
        "( – Convoys of migrants gathered in the south of the country.",
        "",
        "\t",
        "Officials in the border city said on Monday that shelters were full",
        "and asked the state for more buses to move people north.",
    ]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(LINE, min_size=1, max_size=8), min_size=1, max_size=4), st.booleans())
def test_cleaned_text_plus_cuts_rebuild_every_article(texts, strip):
    from dedupe.clean import restore

    arts = [
        Article(f"a{i}", "\n".join(t) or "x", outlet="o.example" if i % 2 else None)
        for i, t in enumerate(texts)
    ]
    arts = [a for a in arts if a.text.strip()]
    with Tracker(":memory:", strip_reused=strip) as t:
        t.add_many(arts)
        for a in arts:
            if t.store.article(a.id) is None:  # a copy of an earlier one: known, not stored
                continue
            r = t.result(a.id)
            pieces = [(c, a.text[c.start : c.end]) for c in r.removed]
            assert restore(r.text, pieces) == a.text
            assert "Submit" not in r.text.split("\n")


def test_identical_text_from_another_outlet_is_syndication_not_the_same_article():
    text = WIRE + "\n\nThe agency said more buses would arrive on Tuesday from the capital."
    wire = Article(
        "w1", text, url="https://wire.example/1", outlet="wire.example", published=day(1)
    )
    copy = Article(
        "p1", text, url="https://paper.example/9", outlet="paper.example", published=day(2)
    )
    rescrape = Article(
        "w1-again", text, url="https://wire.example/1?utm_source=x", outlet="wire.example"
    )
    same_text = Article("w2", text, outlet="wire.example")
    with Tracker(":memory:") as t:
        statuses = [r.status for r in t.add_many([copy, wire, rescrape, same_text])]
        assert statuses == ["added", "added", "known", "known"]
        assert {f.verdict for f in t.result("p1").findings} == {"reused"}
        assert {f.rule for f in t.result("w1").findings} == {"reuse-origin"}


def test_stored_verdicts_a_later_article_changes_are_judged_again_once_in_bulk(articles, tmp_path):
    db = tmp_path / "s.db"

    def stored(conn):
        return dict(
            conn.execute(
                "SELECT article, verdict || '/' || rule FROM segments WHERE idx = 1"
                " AND article LIKE 'a%'"
            )
        )

    with Tracker(db) as t:
        t.add_many(articles[:2])
        t.add(articles[2])  # the third carrier: the closing block becomes furniture
        conn = t.store.conn
        # a1 and a2 were judged before it: noted as stale, not judged again per article
        assert stored(conn) == {
            "a1": "kept/same-outlet",
            "a2": "reused/same-outlet-copy",
            "a3": "boilerplate/recurrence",
        }
        assert sorted(r[0] for r in conn.execute("SELECT article FROM stale")) == ["a1", "a2"]
        # reading never sees the stale verdicts: results are judged afresh
        assert {r.article.id: len(r.removed) for r in t.results(["a1", "a2"])} == {
            "a1": 1,
            "a2": 1,
        }
        assert t.flush() == 2
        assert stored(conn) == dict.fromkeys(["a1", "a2", "a3"], "boilerplate/recurrence")
        assert conn.execute("SELECT COUNT(*) FROM stale").fetchone()[0] == 0
        t.add(articles[3])
    with sqlite3.connect(db) as conn:  # closing a writer judges what is left
        assert conn.execute("SELECT COUNT(*) FROM stale").fetchone()[0] == 0
    conn.close()


@pytest.mark.parametrize("legacy", [False, True])
def test_a_text_reaching_the_boilerplate_count_names_its_earlier_carriers(
    articles, tmp_path, legacy
):
    """The carriers row keeps the other carriers until the count is reached, so they are
    known without a scan; a store without them (older) finds them in its segments."""
    with Tracker(tmp_path / "s.db") as t:
        t.add_many([articles[1], articles[0]])  # a2, then the earlier a1
        conn = t.store.conn
        fp_row = "SELECT others FROM carriers WHERE outlet = '=a.example' AND articles = ?"
        assert conn.execute(fp_row, (2,)).fetchall() == [('["a2"]',)]
        if legacy:
            conn.execute("UPDATE carriers SET others = NULL")
        t.add(articles[2])
        assert conn.execute(fp_row, (3,)).fetchall() == [(None,)]
        assert sorted(r[0] for r in conn.execute("SELECT article FROM stale")) == ["a1", "a2"]


def _stale_store(tmp_path, name="one.db"):
    """A store of 150 synthetic articles with stale articles waiting (no flush yet)."""
    import synth

    arts = [Article.from_dict(r) for r in synth.corpus(150, 3)]
    with Tracker(tmp_path / name, workers=0) as t:
        t.add_many(arts, batch_size=25)
        t._dirty = False  # closing leaves them waiting
        return arts, t.store.count_stale()


def _verdicts(conn):
    return conn.execute(
        "SELECT article, idx, verdict, rule, reason, matched FROM segments ORDER BY article, idx"
    ).fetchall()


def test_a_flush_in_small_chunks_with_workers_equals_one_without(tmp_path, monkeypatch):
    """The workers judge a share of each chunk on read-only connections of their own, while
    this process judges the rest: the same stored verdicts as a flush without them."""
    from harness import snapshot

    from dedupe import pipeline, tracker

    arts, _ = _stale_store(tmp_path)
    with Tracker(tmp_path / "one.db", workers=0) as t:
        t.flush()
        assert "rejudged_by_workers" not in t.timings
    monkeypatch.setattr(tracker, "FLUSH_CHUNK", 7)
    monkeypatch.setattr(pipeline, "POOL_MIN_BATCH", 20)  # chunks of 5 or more are shared
    sent = []
    submit = pipeline.Workers.submit_rejudge

    def counted(self, path, ids, params):
        sent.append(len(ids))
        return submit(self, path, ids, params)

    monkeypatch.setattr(pipeline.Workers, "submit_rejudge", counted)
    with Tracker(tmp_path / "two.db", workers=2) as t:
        t.add_many(arts, batch_size=25)
        waiting = t.store.count_stale()
        assert waiting > 3 * 7  # several chunks
        assert t.flush() == waiting
        # of each full chunk, two processes judged 5 and this one 2; a last chunk under
        # POOL_MIN_BATCH // 4 stayed here
        assert sent == [5] * (waiting // 7) + ([waiting % 7 - 1] if waiting % 7 >= 5 else [])
        assert t.timings["rejudged_by_workers"] == sum(sent)
        assert t.timings["rejudged"] == waiting
    assert snapshot(tmp_path / "two.db") == snapshot(tmp_path / "one.db")


def test_a_store_in_memory_hands_the_workers_only_the_text_work(monkeypatch):
    """Worker processes cannot open a store in memory: they do the text work of the next chunk
    while this process judges one."""
    import synth

    from dedupe import pipeline, tracker

    arts = [Article.from_dict(r) for r in synth.corpus(150, 3)]
    monkeypatch.setattr(tracker, "FLUSH_CHUNK", 7)
    monkeypatch.setattr(pipeline, "POOL_MIN_BATCH", 20)
    monkeypatch.setattr(pipeline.TextCache, "get", lambda self, key: None)
    sent = []
    submit = pipeline.Workers.submit_text_work

    def counted(self, docs, params):
        sent.append(len(docs))
        return submit(self, docs, params)

    monkeypatch.setattr(pipeline.Workers, "submit_text_work", counted)
    found = []
    for workers in (0, 2):
        with Tracker(":memory:", workers=workers) as t:
            t.add_many(arts, batch_size=25)
            waiting = t.store.count_stale()
            assert t.flush() == waiting
            found.append(_verdicts(t.store.conn))
    # the store keeps every article's text work: there is none left to hand out
    assert sent == []
    # a store without it (made before it was kept): the workers make it, chunk by chunk
    with Tracker(":memory:", workers=2) as t:
        t.add_many(arts, batch_size=25)
        with t.store.transaction():
            t.store.conn.execute("DELETE FROM text_work")
        waiting = t.store.count_stale()
        assert t.flush() == waiting
        found.append(_verdicts(t.store.conn))
    assert sent == [7] * (waiting // 7) + ([waiting % 7] if waiting % 7 >= 5 else [])
    assert found[0] == found[1]
    # judged whole for want of text work: a furniture line's reason gives the count it was
    # judged with last, so only those may differ
    same = [r if r[3] != "recurrence" else r[:4] for r in found[1]]
    assert [r if r[3] != "recurrence" else r[:4] for r in found[2]] == same


def test_the_workers_share_is_judged_here_when_another_writer_committed_meanwhile(
    tmp_path, monkeypatch
):
    """What the workers judged from a store another writer has changed since is not used."""
    from dedupe import pipeline

    monkeypatch.setattr(pipeline, "POOL_MIN_BATCH", 20)
    _stale_store(tmp_path, "ref.db")
    with Tracker(tmp_path / "ref.db", workers=0) as t:
        t.flush()
        want = _verdicts(t.store.conn)
    _, waiting = _stale_store(tmp_path)
    path = tmp_path / "one.db"
    with Tracker(path, workers=1) as t:
        ids = t.store.stale_ids(waiting)
        share = pipeline.share_out(t, ids)
        assert share.handed is not None and share.mine
        with sqlite3.connect(path) as other:  # another writer commits
            other.execute("INSERT INTO settings VALUES ('note', 'x')")
        other.close()
        with t.store.transaction():
            pipeline.rejudge_share(t, share)
            t.store.clear_stale(ids)
        assert "rejudged_by_workers" not in t.timings
        assert t.timings["rejudged"] == waiting
        assert _verdicts(t.store.conn) == want


def test_a_share_the_workers_could_not_read_is_judged_here(tmp_path):
    from dedupe import pipeline

    _, waiting = _stale_store(tmp_path)

    class Unreadable:
        def result(self):
            raise sqlite3.OperationalError("unable to open database file")

    with Tracker(tmp_path / "one.db", workers=0) as t:
        ids = t.store.stale_ids(waiting)
        handed = pipeline.Handed(ids, Unreadable(), t.store.change_marker()[0])
        with t.store.transaction():
            pipeline.take_back(t, handed)
            t.store.clear_stale(ids)
        assert t.timings["rejudged"] == waiting
    with Tracker(tmp_path / "one.db", workers=0) as t:
        assert t.flush() == 0


def test_a_failing_closing_flush_still_finishes_the_run_and_closes_the_store(
    articles, tmp_path, monkeypatch
):
    db = tmp_path / "s.db"
    t = Tracker(db)
    t.begin_run("ingest", ["x.jsonl"])
    t.add_many(articles[:2])
    t.add(articles[2])  # a1 and a2 are stale now
    assert t.store.count_stale() == 2

    def broken():
        raise StoreError("locked by another writer")

    monkeypatch.setattr(t, "flush", broken)
    with pytest.raises(StoreError, match="locked"):
        t.close()
    with sqlite3.connect(db) as conn:  # the store is closed: another connection may write
        conn.execute("BEGIN IMMEDIATE")
        assert conn.execute("SELECT finished_at IS NOT NULL FROM runs").fetchall() == [(1,)]
        assert conn.execute("SELECT COUNT(*) FROM stale").fetchone()[0] > 0  # for the next
        conn.execute("ROLLBACK")
    conn.close()
    with Tracker(db) as t2:  # the next writer judges what was left
        t2.add(Article("z1", "A fresh article about the night ferry schedule changes today."))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM stale").fetchone()[0] == 0
    conn.close()


def _flushed_often(tmp_path, monkeypatch):
    """The same 240 articles ingested twice: plainly (one flush, at close), and with
    ``MAX_STALE`` 1, so the stale articles are judged again after every batch of 40."""
    from test_pipeline import _articles

    from dedupe import pipeline
    from dedupe import tracker as tracker_mod

    arts = _articles(240)
    with Tracker(tmp_path / "plain.db", workers=0) as t:
        t.add_many(arts, batch_size=40)
    monkeypatch.setattr(tracker_mod, "MAX_STALE", 1)
    monkeypatch.setattr(tracker_mod, "FLUSH_CHUNK", 7)
    path = tmp_path / "flushed.db"
    seen: list[tuple[int, int, int]] = []  # (stale ids judged, articles committed, added so far)
    rejudge = pipeline.rejudge

    def spy(t, ids, ahead=None, offload=True):
        with sqlite3.connect(path) as other:  # what another connection sees: committed rows
            committed = other.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        seen.append((len(ids), committed, t.store.count_articles()))
        return rejudge(t, ids, ahead, offload)

    monkeypatch.setattr(pipeline, "rejudge", spy)
    with Tracker(path, workers=0) as t:
        for k in range(0, len(arts), 40):
            t.add_many(arts[k : k + 40], batch_size=40)
            assert t.store.count_stale() == 0  # judged again after every batch
    return path, tmp_path / "plain.db", seen


def test_past_max_stale_the_batch_commits_first_then_chunks(tmp_path, monkeypatch):
    from harness import snapshot

    path, plain, seen = _flushed_often(tmp_path, monkeypatch)
    assert seen and all(n <= 7 for n, _, _ in seen)  # one transaction per chunk
    assert all(committed == added for _, committed, added in seen)  # the batch committed first
    got, want = snapshot(path), snapshot(plain)
    got.pop("segments"), want.pop("segments")
    assert got == want  # articles, fingerprints, carriers, near edges, the index...


def test_stored_verdicts_are_fresh_however_often_stale_ones_are_judged_again(tmp_path, monkeypatch):
    # A text that becomes furniture of one outlet changes its carriers in every outlet
    # (a copy of the earliest becomes boilerplate): all of them are noted stale.
    path, plain, _seen = _flushed_often(tmp_path, monkeypatch)
    for db in (plain, path):
        with Tracker(db, workers=0) as t:
            for r in t.results():
                stored_is_fresh(t, r, (db, r.article.id))


def test_a_text_already_furniture_is_not_judged_again_everywhere_for_a_new_outlet(tmp_path):
    line = "Subscribe to our newsletter for the latest news from the region every morning."

    def art(i: int, outlet: str) -> Article:
        body = f"Story number {i} from {outlet} tells its own news in words of its own {i}."
        return Article(f"{outlet}-{i}", f"{body}\n\n{line}", outlet=outlet, published=day(i))

    with Tracker(tmp_path / "f.db", workers=0) as t:
        t.add_many([art(i, "a.example") for i in range(1, 5)])  # furniture of a.example
        t.flush()
        t.add_many([art(i, "c.example") for i in range(5, 8)])  # and now of c.example
        stale = set(t.store.stale_ids(1000))
        # (the earliest carrier in each outlet is always looked at again; the others not)
        assert not stale & {f"a.example-{i}" for i in range(2, 5)}
        assert t.result("a.example-2").findings[1].verdict == "boilerplate"


STORIES = {
    1: "The mayor opened a new library branch in the northern district, with room for 40,000"
    " books and a children's wing. Volunteers spent the weekend shelving donated novels.",
    2: "A regional airline cancelled dozens of flights after a software fault grounded its"
    " fleet for most of the afternoon. Passengers queued for hours at the service desks.",
    3: "Farmers in the valley reported the earliest cherry harvest in two decades, blaming a"
    " warm spring. Prices at the wholesale market fell by a third within a week.",
}


def test_an_outlets_later_copy_of_its_own_text_stays_a_copy_when_another_outlet_carries_it(
    tmp_path,
):
    shared = (
        "The central bank raised its main interest rate by half a point on Tuesday,"
        " citing stubborn inflation in services."
    )
    own = [
        ("x1", "x.example", 1, "Markets fell sharply after the announcement in the morning."),
        ("x2", "x.example", 2, "Analysts had expected a smaller move from the committee."),
        ("y1", "y.example", 3, "Officials said further increases remain possible this year."),
    ]
    arts = [
        Article(
            id=i,
            url=f"https://{o}/{i}",
            outlet=o,
            published=day(d),
            text=f"{u}\n\n{shared}\n\n{STORIES[d]}",  # otherwise x2 is a version of x1
        )
        for i, o, d, u in own
    ]
    for n, perm in enumerate(itertools.permutations(arts)):
        with Tracker(tmp_path / f"{n}.db", workers=0) as t:
            for a in perm:
                t.add(a)
        with Tracker(tmp_path / f"{n}.db", workers=0) as t:
            got = {r.article.id: verdict_of(r, "central bank") for r in t.results()}
            stored = dict(
                t.store.conn.execute(
                    "SELECT article, verdict || '/' || rule FROM segments WHERE idx = 1"
                )
            )
            (chain,) = t.provenance().chains
            roles = {c.article: c.role for c in chain.articles}
        assert got == {
            "x1": ("kept", "reuse-origin"),
            "x2": ("reused", "same-outlet-copy"),  # not a second "earliest carrier"
            "y1": ("reused", "reuse"),
        }
        assert stored == {k: "/".join(v) for k, v in got.items()}
        assert roles == {"x1": "origin", "x2": "same-outlet", "y1": "copy"}


def test_a_near_group_reaching_the_boilerplate_count_notes_every_carrier_stale(tmp_path):
    """Two articles carry a line, a third a near copy of it: together they reach the count of
    three, so the line is furniture in all three, although no single text of it is."""
    line = (
        "The city council will meet again on Thursday evening to discuss the proposed"
        " transit budget for {} year."
    )
    lines = [line.format("next"), line.format("next"), line.format("the coming")]
    arts = [
        Article(
            id=f"x{i}",
            url=f"https://o.example/{i}",
            outlet="o.example",
            published=day(i),
            text=f"{STORIES[i + 1]}\n\n{lines[i]}",
        )
        for i in range(3)
    ]
    for n, perm in enumerate(itertools.permutations(arts)):
        with Tracker(tmp_path / f"{n}.db", workers=0) as t:
            for a in perm:
                t.add(a)
        with Tracker(tmp_path / f"{n}.db", workers=0) as t:
            assert t.store.conn.execute("SELECT COUNT(*) FROM near").fetchone()[0] == 1
            for r in t.results():
                assert verdict_of(r, "city council") == ("boilerplate", "recurrence")
                stored_is_fresh(t, r, (perm, r.article.id))


SHARED = [
    "The city council will meet again on Thursday evening to discuss the transit budget.",
    "The city council will meet again on Thursday night to discuss the transit budget.",
    "Officials said the shelters were full for a third day in a row on the border.",
    "Officials said the shelters had been full for a third day in a row on the border.",
    "Subscribe to our newsletter for the latest local news delivered every morning.",
    # a byline (never reuse: judged on its own outlet's count) and a near copy of it
    "By John Smith and Mary Jones",
    "By John Smith and Mary Jones, Staff",
    # near copies of the furniture line, and of SHARED[3] but not of SHARED[2]
    "Subscribe to our newsletter for the latest local news delivered every single morning.",
    "Officials said the shelters had been full for a third straight day in a row on the border.",
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sets(st.integers(0, len(SHARED) - 1), max_size=4),  # the shared lines it carries
            st.sampled_from(["o1.example", "o2.example", "o3.example", "o4.example", None]),
            st.one_of(st.none(), st.integers(0, 4)),  # its day, or undated
        ),
        min_size=2,
        max_size=10,
    ),
    st.lists(st.integers(1, 4), min_size=1, max_size=9),  # batch sizes, cycled
    st.sampled_from([3, 4]),  # the boilerplate count
)
# two carriers of a line in one outlet, then a near copy of it in that outlet, dated (so
# earlier): the second carrier's source is now the near copy, not the outlet's first
@example(
    [({8}, "o2.example", None), ({8}, "o2.example", None), ({0, 1, 3}, "o2.example", 0)], [1], 4
)
def test_stored_verdicts_equal_a_fresh_judgment_whatever_the_order_and_batches(arts, sizes, k):
    """Exact and near copies of a few lines (a byline among them) across outlets and days,
    undated ones too, at two boilerplate counts: after a writer closes, every stored verdict
    and rule is what a fresh judgment says."""
    import tempfile
    from pathlib import Path

    articles = [
        Article(
            id=f"x{i}",
            outlet=outlet,
            published=None if d is None else day(d),
            text="\n\n".join(
                [STORIES[1 + i % 3].split(". ")[0] + f" Item {i}."]
                + [SHARED[j] for j in sorted(lines)]
            ),
        )
        for i, (lines, outlet, d) in enumerate(arts)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "s.db"
        with Tracker(db, params=Params(min_outlet_articles=k), workers=0) as t:
            at = 0
            for n in itertools.cycle(sizes):
                if at >= len(articles):
                    break
                t.add_many(articles[at : at + n])
                at += n
        with Tracker(db, workers=0) as t:
            for r in t.results():
                stored_is_fresh(t, r, r.article.id)


def test_the_origin_of_a_text_in_many_outlets_is_judged_again_when_an_earlier_one_comes(
    tmp_path,
):
    """Of a text's carriers, the earliest ones are noted stale (at most
    ``MAX_REJUDGE_OUTLETS``), not those of the outlets that sort first by name."""
    from dedupe.pipeline import MAX_REJUDGE_OUTLETS

    wire = SHARED[2]
    outlets = [f"a{i:02}.example" for i in range(MAX_REJUDGE_OUTLETS + 5)]

    def art(aid: str, outlet: str, d: int) -> Article:
        return Article(id=aid, outlet=outlet, published=day(d), text=f"{aid} story.\n\n{wire}")

    db = tmp_path / "s.db"
    with Tracker(db, workers=0) as t:
        t.add_many([art("origin", "z.example", 1)] + [art(o, o, 2) for o in outlets])
    with Tracker(db, workers=0) as t:
        t.add(art("earlier", "b.example", 0))
    with Tracker(db, workers=0) as t:
        assert verdict_of(t.result("origin"), "shelters") == ("reused", "reuse")
        stored = t.store.conn.execute(
            "SELECT verdict, rule FROM segments WHERE article = 'origin' AND idx = 1"
        ).fetchone()
        assert stored == ("reused", "reuse")


def test_a_new_carrier_notes_only_the_carriers_whose_verdicts_it_can_change(tmp_path):
    """A later copy of a wire text notes its origin (its later copies change), not the
    earliest carriers of the other outlets (their source stays theirs); an earlier one notes
    them all; a line already furniture of an outlet notes nobody."""
    wire = SHARED[2]
    furniture = SHARED[4]

    def art(aid: str, outlet: str, d: int, *lines: str) -> Article:
        return Article(id=aid, outlet=outlet, published=day(d), text="\n\n".join([aid, *lines]))

    def stale(t: Tracker) -> set[str]:
        return {a for (a,) in t.store.conn.execute("SELECT article FROM stale")}

    with Tracker(tmp_path / "s.db", workers=0) as t:
        t.add_many(
            [art("origin", "z.example", 1, wire)]
            + [art(f"b{i}", f"b{i}.example", 2, wire) for i in range(3)]
            + [art(f"f{i}", "f.example", 3 + i, furniture) for i in range(3)]
        )
        t.flush()
        t.add(art("later", "c.example", 5, wire))
        assert stale(t) == {"origin"}
        t.flush()
        t.add(art("f3", "f.example", 9, furniture))
        assert stale(t) == set()
        t.add(art("earlier", "d.example", 0, wire))
        assert stale(t) == {"origin", "b0", "b1", "b2", "later"}
        t.flush()
        for r in t.results():
            stored_is_fresh(t, r, r.article.id)


def test_a_later_carrier_of_a_byline_notes_the_earliest_of_its_own_outlet(tmp_path):
    """A byline is never reuse: it is judged on its own outlet's count ("unique", then
    "earliest of 2 articles of this outlet"), which a later article of that outlet changes,
    although another outlet carried the line first."""
    by = "By John Smith and Mary Jones"

    def art(aid: str, outlet: str, d: int) -> Article:
        return Article(
            id=aid, outlet=outlet, published=day(d), text=f"Story {aid} opens here today.\n\n{by}"
        )

    with Tracker(tmp_path / "s.db", workers=0) as t:
        t.add_many([art("p1", "p.example", 1), art("x", "o.example", 2)])
        t.flush()
        t.add(art("n", "o.example", 3))
        assert {a for (a,) in t.store.conn.execute("SELECT article FROM stale")} == {"p1", "x"}
        t.flush()
        assert verdict_of(t.result("x"), "John Smith") == ("kept", "same-outlet")
        for r in t.results():
            stored_is_fresh(t, r, r.article.id)


def test_an_earlier_carrier_of_an_outlet_notes_the_copies_that_named_the_old_first(tmp_path):
    """Below the boilerplate count, the later carriers of a line in one outlet are copies of
    that outlet's earliest one: an earlier article of the outlet becomes their source, so the
    reasons and matched articles stored for them must name it."""
    line = "Our newsroom corrects errors promptly and notes every change at the end."

    def art(aid: str, d: int) -> Article:
        return Article(
            id=aid, outlet="o.example", published=day(d), text=f"Story {aid} opens here.\n\n{line}"
        )

    with Tracker(tmp_path / "s.db", params=Params(min_outlet_articles=4), workers=0) as t:
        t.add_many([art("o1", 2), art("o2", 3)])
        t.flush()
        t.add(art("o0", 1))
        assert {a for (a,) in t.store.conn.execute("SELECT article FROM stale")} == {"o1", "o2"}
        t.flush()
        (f,) = [f for f in t.result("o2").findings if f.rule == "same-outlet-copy"]
        assert [m.article for m in f.matched] == ["o0"]
        for r in t.results():
            stored_is_fresh(t, r, r.article.id)


def test_an_index_read_from_disk_changes_no_result(tmp_path):
    from synth import corpus as synth_corpus

    records = synth_corpus(60, seed=5)
    outs = []
    for memory in (None, 0):
        with Tracker(tmp_path / f"m{memory}.db", index_memory=memory, workers=0) as t:
            for r in records[:40]:  # one by one: many runs, merged as they grow
                t.add(r)
            t.add_many(records[40:])
            runs = list(t.index._runs.values())
            on_disk = [r for r in runs if r.entries is None]
            assert len(on_disk) == (len(runs) if memory == 0 else 0) and runs
            outs.append(dump(t.results()))
    assert outs[0] == outs[1]
    # the spill files are unnamed: nothing is left beside the stores
    assert (
        sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith((".db", "-wal", "-shm")))
        == []
    )


def test_a_negative_index_memory_is_refused(tmp_path):
    for bad in (-1, float("nan"), "512"):
        with pytest.raises(ValueError, match="index_memory"):
            Tracker(tmp_path / "n.db", index_memory=bad)


UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (
            Article("n", "Some text.", extra=None),
            r"input 1 \(id 'n'\): extra must be a dict, got null",
        ),
        (Article("l", "Some text.", extra=[1]), "extra must be a dict, got array"),
        (Article("e", " \n "), r"input 1 \(id 'e'\): empty text"),
        (Article(" ", "Some text."), "^input 1: empty id"),
        (Article(5, "Some text."), r"input 1 \(id '5'\): id must be a string, got integer"),
        (Article("t", None), "text must be a string, got null"),
        (Article("p", "Some text.", published="2024-05-01"), "published must be a datetime"),
        (Article("u", "Some text.", url=5), "url must be a string or None, got integer"),
        (Article("s", "Some \ud800 text."), "field 'text' is not valid Unicode"),
        (Article("k", "Some text.", extra={1: "one", "z": 2}), "field name 1 is not a string"),
        (
            Article(
                "d",
                "Some text.",
                published=dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            ),
            "out of range in UTC",
        ),
    ],
)
def test_an_article_built_in_code_is_checked_before_anything_is_stored(tmp_path, bad, problem):
    """What the dict path refuses, an Article built by hand is refused too, with the same
    kind of error, and the store keeps what it had and stays readable."""
    with Tracker(tmp_path / "c.db", workers=0) as t:
        t.add({"id": "good", "text": "A normal article about the port strike."})
        with pytest.raises(InputError, match=problem) as e:
            t.add_many([bad])
        assert isinstance(e.value, ValueError)
        assert t.store.count_articles() == 1
        assert [r.as_dict()["id"] for r in t.results()] == ["good"]


def test_an_implausible_date_built_in_code_is_kept_and_orders_nothing(tmp_path):
    with Tracker(tmp_path / "y.db", workers=0) as t:
        r = t.add(Article("ancient", "Year one.", published=dt.datetime(1, 1, 1, tzinfo=UTC)))
        assert r.status == "added"


def test_a_bad_input_in_a_stream_is_named_by_position_and_id(tmp_path):
    recs = [{"id": f"r{i}", "text": f"Record number {i} has some words."} for i in range(5)]
    recs[3] = {"id": "r3", "body": None}
    recs.append({"text": None})
    with Tracker(tmp_path / "p.db", workers=0) as t:
        with pytest.raises(
            InputError, match=r"^input 4 \(id 'r3'\): missing text \(field 'body' is null\)"
        ):
            t.add_many(recs, batch_size=2)
        # the batches before the bad record's are stored, its own is not
        assert sorted(r.article.id for r in t.results()) == ["r0", "r1"]
        with pytest.raises(InputError, match=r"^input 2: missing text \(field 'text' is null\)"):
            t.add_many(recs[4:])


def test_a_store_holding_a_null_or_list_extra_still_reads(tmp_path):
    """Older versions stored what an Article built in code held as its extra fields."""
    with Tracker(tmp_path / "o.db", workers=0) as t:
        t.add_many([{"id": "a", "text": "First text here."}, {"id": "b", "text": "Second one."}])
        t.store.conn.execute("UPDATE articles SET extra = 'null' WHERE id = 'a'")
        t.store.conn.execute("UPDATE articles SET extra = '[1, 2]' WHERE id = 'b'")
        out = {r.article.id: r.as_dict() for r in t.results()}
    assert "extra" not in out["a"]
    assert out["b"]["extra"] == [1, 2]


def test_a_closed_tracker_says_its_store_is_closed(tmp_path):
    t = Tracker(tmp_path / "c.db", workers=0)
    t.add({"id": "a", "text": "Some words here."})
    t.close()
    t.close()  # again: nothing
    for use in (
        lambda: t.add({"id": "b", "text": "More words."}),
        lambda: t.result("a"),
        lambda: list(t.results()),
        t.stats,
        t.provenance,
    ):
        with pytest.raises(StoreError, match=r"c\.db: the store is closed"):
            use()


def test_two_threads_starting_the_workers_at_once_start_one_pool(tmp_path, monkeypatch):
    import threading
    import time

    from dedupe import pipeline

    started = []

    class SlowPool:
        def __init__(self, n):
            time.sleep(0.2)  # both threads get here before either is done, without the lock
            started.append(n)

        def close(self):
            pass

    monkeypatch.setattr(pipeline, "Workers", SlowPool)
    with Tracker(tmp_path / "w.db", workers=1) as t:
        got = []
        threads = [threading.Thread(target=lambda: got.append(t._pool())) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(started) == 1 and got[0] is got[1]


def test_a_run_ended_before_closing_still_flushes_what_a_killed_run_left_stale(tmp_path):
    """A resumed run may have nothing left to add; ending it early (before the command's
    output) must not stop the closing flush of the stale articles the killed run noted."""
    db = tmp_path / "r.db"
    with Tracker(db, workers=0) as t:
        t.add_many([{"id": "a", "text": "Some words here."}, {"id": "b", "text": "Other words."}])
    with Tracker(db, workers=0) as t:
        t.store.mark_stale(["a", "b"])  # as a killed run leaves them
    t = Tracker(db, workers=0)
    t.begin_run("clean", ["in.jsonl"])
    t.end_run()
    t.close()
    with Tracker(db, workers=0) as t:
        assert t.store.count_stale() == 0


def test_judging_again_rewrites_the_segments_of_the_noted_texts_only(tmp_path):
    """A stale article is judged again on the segments carrying the texts noted for it (the
    others' evidence did not change); noted whole, on every segment."""
    arts = corpus()
    db = tmp_path / "n.db"
    with Tracker(db, workers=0) as t:
        t.add_many(arts)
        t.flush()
        aid = arts[0].id
        rows = t.store.conn.execute(
            "SELECT idx, fingerprint, verdict FROM segments WHERE article = ?"
            " AND fingerprint IS NOT NULL ORDER BY idx",
            (aid,),
        ).fetchall()
        assert len({fp for _, fp, _ in rows}) >= 2
        (i, fp, verdict), (j, _, _) = rows[0], next(r for r in rows if r[1] != rows[0][1])

        def tamper() -> None:
            with t.store.transaction():
                t.store.conn.execute(
                    "UPDATE segments SET verdict = 'x' WHERE article = ? AND idx IN (?, ?)",
                    (aid, i, j),
                )

        def verdicts() -> tuple[str, str]:
            got = dict(
                t.store.conn.execute(
                    "SELECT idx, verdict FROM segments WHERE article = ? AND idx IN (?, ?)",
                    (aid, i, j),
                ).fetchall()
            )
            return got[i], got[j]

        tamper()
        with t.store.transaction():
            t.store.note_stale([(aid, fp)])
        assert t.flush() == 1
        assert verdicts() == (verdict, "x")
        assert t.store.count_stale() == 0
        assert t.store.stale_texts_many([aid]) == {}
        tamper()
        with t.store.transaction():
            t.store.mark_stale([aid])
        t.flush()
        assert verdicts()[1] != "x" and verdicts()[0] == verdict


def test_stale_notes_of_an_older_store_are_judged_whole(tmp_path):
    """Articles noted stale before the texts were noted get every text of theirs noted."""
    db = tmp_path / "o.db"
    arts = corpus()
    with Tracker(db, workers=0) as t:
        t.add_many(arts[:3])
        t.flush()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE stale_texts")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm015_stale_texts'")
        conn.execute("INSERT INTO stale VALUES (?)", (arts[1].id,))
        fps = {
            r[0]
            for r in conn.execute(
                "SELECT fingerprint FROM segments WHERE article = ? AND fingerprint IS NOT NULL",
                (arts[1].id,),
            )
        }
    assert fps
    with Tracker(db, workers=0) as t:
        assert t.store.stale_texts_many([arts[1].id]) == {arts[1].id: fps}
        assert t.flush() == 1
        assert t.store.count_stale() == 0 and t.store.stale_texts_many([arts[1].id]) == {}


def test_judging_again_in_part_keeps_the_verdicts_resting_on_the_text_alone(tmp_path, monkeypatch):
    """A stale article is read in part: its noted segments whose verdicts rest on the store's
    evidence are judged again, one decided by its own text (a lexicon line) keeps its stored
    row, and the rest of the article is not read. With text work made otherwise (another
    version, say: its stored verdicts may be that version's) the article is read and judged
    whole, whatever texts were noted; with a stored rule it does not know, read whole."""
    from dedupe import textwork
    from dedupe.store import Store

    text = (
        "Subscribe to our newsletter.\n\n"
        "The council approved the budget after a long debate on Tuesday night."
    )
    read: list[str] = []
    segments_many = Store.segments_many

    def spy(self, ids):
        ids = list(ids)
        read.extend(ids)
        return segments_many(self, ids)

    with Tracker(tmp_path / "p.db", workers=0) as t:
        t.add_many([Article("a", text, outlet="x.example", published=day(1))])
        t.flush()
        conn = t.store.conn
        rows = conn.execute("SELECT idx, verdict, rule FROM segments WHERE article = 'a'")
        assert [r[1:] for r in rows] == [("boilerplate", "lexicon"), ("kept", "unique")]

        def stale(sql: str = "", *args: object, whole: bool = True) -> None:
            with t.store.transaction():
                conn.execute("UPDATE segments SET verdict = 'x' WHERE article = 'a'")
                if sql:
                    conn.execute(sql, args)
                if whole:
                    t.store.mark_stale(["a"])
                else:  # the second text only
                    (fp,) = conn.execute(
                        "SELECT fingerprint FROM segments WHERE article = 'a' AND idx = 1"
                    ).fetchone()
                    t.store.note_stale([("a", fp)])

        def stored() -> list[tuple[str, str]]:
            return conn.execute(
                "SELECT verdict, rule FROM segments WHERE article = 'a' ORDER BY idx"
            ).fetchall()

        monkeypatch.setattr(Store, "segments_many", spy)
        stale()
        assert t.flush() == 1
        assert stored() == [("x", "lexicon"), ("kept", "unique")] and read == []

        tag = textwork.tag(t.params)
        stale("UPDATE text_work SET work = replace(work, ?, ?)", tag, "0" * len(tag), whole=False)
        assert t.flush() == 1
        assert stored() == [("boilerplate", "lexicon"), ("kept", "unique")] and read == ["a"]
        assert t.store.text_work_made(["a"], tag) == {"a"}  # made again under this tag

        stale("UPDATE segments SET rule = '' WHERE article = 'a' AND idx = 0")
        assert t.flush() == 1
        assert stored() == [("boilerplate", "lexicon"), ("kept", "unique")] and read == ["a", "a"]
