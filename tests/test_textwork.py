import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import Article, Tracker, textwork
from dedupe.fingerprint import Params
from dedupe.pipeline import analyze_one, load_docs, text_work

PARAMS = Params()

LINES = [
    "Share this article",
    "Subscribe to our newsletter for the latest news.",
    "By Jane Doe, Staff Writer",
    "The council approved the new budget on Tuesday after a long debate.",
    "After a long debate on Tuesday, the council approved the new budget.",
    "Officials said 42 people were evacuated from the flooded district.",
    "Click here to read more",
    "The mayor thanked the volunteers who worked through the night.",
    "Δ",
    "Photo: Reuters",
]

texts = st.lists(st.sampled_from(LINES), min_size=1, max_size=12).map("\n\n".join)


@settings(max_examples=60, deadline=None)
@given(texts)
def test_stored_text_work_reads_back_as_the_text_work_made_again(text):
    an, _words = analyze_one(text, PARAMS)
    got = textwork.loads(an.work, an.segments, PARAMS)
    assert got == text_work(text, an.segments, PARAMS)


def test_text_work_made_otherwise_is_not_read():
    text = "\n\n".join(LINES)
    an, _words = analyze_one(text, PARAMS)
    assert textwork.loads(an.work, an.segments, PARAMS) is not None
    other = dataclasses.replace(PARAMS, repeat_ratio=0.9)
    assert textwork.loads(an.work, an.segments, other) is None  # another tag
    assert textwork.loads(None, an.segments, PARAMS) is None
    assert textwork.loads("not json", an.segments, PARAMS) is None
    # hits for segments the article does not have: not its work
    assert textwork.loads(an.work, an.segments[:1], PARAMS) is None
    made, lex, *rest = json.loads(an.work)
    assert lex  # the lines above hold furniture
    assert textwork.loads(json.dumps(["0" * 12, lex, *rest]), an.segments, PARAMS) is None
    assert textwork.loads(json.dumps([made, [[0, "x"]], *rest]), an.segments, PARAMS) is None
    assert textwork.loads(json.dumps([made, lex]), an.segments, PARAMS) is None


def test_judging_a_stored_article_reads_its_text_work_from_the_store():
    arts = [
        Article(id=f"a{i}", text="\n\n".join(LINES[i:] + LINES[:i]), outlet="o") for i in range(4)
    ]
    with Tracker(":memory:") as t:
        t.add_many(arts)
        assert t.store.conn.execute("SELECT COUNT(*) FROM text_work").fetchone()[0] == 4
        t._text_cache = type(t._text_cache)()  # nothing cached: the store's work or none
        docs = load_docs(t, ["a2", "a0"])
        assert [d.article.id for d in docs] == ["a2", "a0"]
        for d in docs:
            assert (d.loose, d.facts) == text_work(d.article.text, d.segments, t.params)


def _work_of(conn):
    return conn.execute(
        "SELECT a.id, w.work FROM articles a JOIN text_work w ON w.seq = a.seq ORDER BY a.id"
    ).fetchall()


def _judge_all_again_without_kept_work(t, forget="DELETE FROM text_work"):
    """Forget the store's text work (as in a store made before it was kept, by default) and
    judge every article again."""
    ids = [r[0] for r in t.store.conn.execute("SELECT id FROM articles ORDER BY id")]
    with t.store.transaction():
        t.store.conn.execute(forget)
        t.store.mark_stale(ids)
    t._text_cache = type(t._text_cache)()
    return t.flush(), len(ids)


@pytest.mark.parametrize(
    "forget",
    [
        "DELETE FROM text_work",  # a store older than the table
        "UPDATE text_work SET work = json_set(work, '$[0]', 'made-elsewhere')",  # another tag
    ],
)
def test_judging_again_keeps_the_text_work_a_store_lacked(forget):
    import synth

    arts = [Article.from_dict(r) for r in synth.corpus(60, 5)]
    with Tracker(":memory:", workers=0) as t:
        t.add_many(arts, batch_size=20)
        t.flush()
        made = _work_of(t.store.conn)
        judged, stored = _judge_all_again_without_kept_work(t, forget)
        assert judged == stored == len(made) > 50
        assert _work_of(t.store.conn) == made  # the same JSON the ingest wrote
        docs = load_docs(t, [aid for aid, _work in made])
        assert len(docs) == stored and all(d.kept for d in docs)


def test_the_workers_hand_back_the_text_work_a_store_lacked(tmp_path, monkeypatch):
    import synth

    from dedupe import pipeline

    monkeypatch.setattr(pipeline, "POOL_MIN_BATCH", 20)
    arts = [Article.from_dict(r) for r in synth.corpus(60, 5)]
    with Tracker(tmp_path / "s.db", workers=2) as t:
        t.add_many(arts, batch_size=20)
        t.flush()
        made = _work_of(t.store.conn)
        before = t.timings.get("rejudged_by_workers", 0)
        judged, stored = _judge_all_again_without_kept_work(t)
        assert judged == stored == len(made) > 50
        assert t.timings["rejudged_by_workers"] > before  # a share was judged elsewhere
        assert _work_of(t.store.conn) == made
