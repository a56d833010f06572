"""Provenance: chains, passages, the reuse graph, versions, attributions, the chaining guard."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from conftest import day
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import Article, Tracker
from dedupe.provenance import (
    ORDER_DATE_UNKNOWN,
    ORDER_PUBLISHED,
    ORDER_SAME_DATE,
    ORDER_UNKNOWN_LAST,
    ArticleFacts,
    Shared,
    analyze,
    date_note,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

STORY = [
    "The river authority opened all six floodgates of the northern dam early on Sunday morning.",
    "Engineers had warned for weeks that the reservoir was close to its highest level in decades.",
    "Farmers downstream moved cattle and machinery to higher ground before the water arrived.",
    "The regional governor said emergency crews would stay in the valley until the end of the month.",
    "Schools in three towns will remain closed while inspectors check bridges and roads for damage.",
]
OWN = {
    "a": "Our correspondent spent the weekend with volunteers filling sandbags along the banks.",
    "b": "Readers sent us photographs of flooded streets from the old town and the harbour district.",
    "c": "This newspaper asked the ministry how much the repairs will cost the regional budget.",
    "d": "Local shopkeepers told our reporter that business had stopped almost completely.",
    "e": "An opinion piece on page twelve argues that the dam should have been replaced long ago.",
    "f": "The weather service expects two more dry days before the next band of rain arrives.",
}


def art(aid: str, outlet: str | None, when: dt.datetime | None, *paras: str, **kw) -> Article:
    return Article(
        aid,
        "\n\n".join(paras),
        url=f"https://{outlet or 'nowhere.example'}/{aid}",
        outlet=outlet,
        published=when,
        **kw,
    )


def flood_corpus() -> list[Article]:
    """a.example breaks the story; b.example copies four paragraphs (an ad line between two of
    them); c.example takes one sentence; a.example's later update is a version of its story."""
    return [
        art("a1", "a.example", day(1), *STORY),
        art(
            "b1",
            "b.example",
            day(2),
            OWN["b"],
            STORY[0],
            STORY[1],
            "Advertisement",
            STORY[2],
            STORY[3],
        ),
        art("c1", "c.example", day(3), OWN["c"], STORY[4], OWN["d"]),
        art("a2", "a.example", day(4), *STORY[:4], OWN["a"]),
    ]


def chains_json(t: Tracker) -> str:
    return "\n".join(json.dumps(c.as_dict(), sort_keys=True) for c in t.chains())


def test_chain_order_follows_publication_not_ingest_order():
    arts = flood_corpus()
    with Tracker(":memory:") as t:
        t.add_many(list(reversed(arts)))  # the copies arrive first
        chains = t.chains()
        assert chains, "no chain found"
        for ch in chains:
            assert ch.origin == "a1"
            assert ch.articles[0].role == "origin"
            assert ch.order == ORDER_PUBLISHED
            times = [c.published for c in ch.articles]
            assert times == sorted(times)
        by_target = {k.target for ch in chains for k in ch.links}
        assert by_target == {"b1", "c1"}


@settings(max_examples=10, deadline=None)
@given(st.permutations(range(4)), st.integers(1, 3))
def test_any_ingest_order_gives_the_same_chains(order, batch):
    arts = flood_corpus()
    with Tracker(":memory:") as ref:
        ref.add_many(arts)
        expected = chains_json(ref)
    with Tracker(":memory:") as t:
        t.add_many([arts[i] for i in order], batch_size=batch)
        assert chains_json(t) == expected


def test_consecutive_copied_sentences_merge_into_one_passage():
    with Tracker(":memory:") as t:
        t.add_many(flood_corpus())
        (p,) = t.passages("b1")
        assert (p.source, p.target) == ("a1", "b1")
        assert p.sentences == 4  # the ad line between them does not break the passage
        a1, b1 = t.store.article("a1").text, t.store.article("b1").text
        assert b1[p.target_start : p.target_end].startswith(STORY[0])
        assert b1[p.target_start : p.target_end].endswith(STORY[3])
        assert a1[p.source_start : p.source_end] == "\n\n".join(STORY[:4])
        assert p.min_similarity == p.mean_similarity == 1.0
        assert p.lag_seconds == 86400
        (q,) = t.passages("c1")
        assert (q.source, q.sentences) == ("a1", 1)


def test_own_text_between_copied_sentences_splits_the_passage():
    arts = [
        art("a1", "a.example", day(1), *STORY),
        art("b1", "b.example", day(2), STORY[0], OWN["b"], STORY[1], STORY[2]),
    ]
    with Tracker(":memory:") as t:
        t.add_many(arts)
        assert [p.sentences for p in t.passages("b1")] == [1, 2]


def test_versions_of_one_outlet_are_never_linked():
    with Tracker(":memory:") as t:
        t.add_many(flood_corpus())
        for ch in t.chains("a2"):
            roles = {c.article: (c.role, c.version_of) for c in ch.articles}
            assert roles["a2"] == ("version", "a1")
            assert all({k.source, k.target} != {"a1", "a2"} for k in ch.links)
        assert not t.passages("a2")
        # a copier's own later version is not a second copy either
        t.add(art("b2", "b.example", day(5), OWN["b"], *STORY[:4]))
        for ch in t.chains("b2"):
            assert {c.article: c.role for c in ch.articles}["b2"] == "version"
        assert not [p for p in t.passages() if p.target == "b2"]


def test_same_outlet_reusing_its_own_sentence_is_not_a_link():
    arts = [
        art("a1", "a.example", day(1), *STORY),
        art("a2", "a.example", day(2), STORY[0], OWN["a"], OWN["c"], OWN["d"]),
        art("b1", "b.example", day(3), OWN["b"], STORY[0]),
    ]
    with Tracker(":memory:") as t:
        t.add_many(arts)
        (ch,) = t.chains()
        assert {c.article: c.role for c in ch.articles} == {
            "a1": "origin",
            "a2": "same-outlet",
            "b1": "copy",
        }
        assert [(k.source, k.target) for k in ch.links] == [("a1", "b1")]


def test_boilerplate_is_not_reported_as_reuse():
    footer = "Copyright the Valley Gazette group, all rights reserved, reproduction forbidden."
    arts = [
        art(f"v{i}", "valley.example", day(i), OWN["abcd"[i]] + " " + STORY[i], footer)
        for i in range(4)
    ] + [art("w1", "w.example", day(9), OWN["e"], footer)]
    with Tracker(":memory:") as t:
        t.add_many(arts)
        for ch in t.chains():
            assert footer not in ch.text
        assert not t.chains("w1")


def test_attribution_of_the_origin_is_recorded():
    lead = "WASHINGTON (AP) — " + STORY[0]
    arts = [
        art("a1", "a.example", day(1), lead, *STORY[1:]),
        art("b1", "b.example", day(2), OWN["b"], STORY[1], STORY[2]),
    ]
    with Tracker(":memory:") as t:
        t.add_many(arts)
        (p,) = t.passages()
        assert "Associated Press" in p.attributions
        assert all("Associated Press" in ch.attributions for ch in t.chains())


def test_unknown_and_implausible_dates_never_make_the_origin():
    arts = [
        art("x0", "x.example", None, OWN["a"], STORY[0]),
        art("y0", "y.example", dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), OWN["b"], STORY[0]),
        art("z9", "z.example", day(5), OWN["c"], STORY[0]),
    ]
    with Tracker(":memory:") as t:
        t.add_many(arts)
        (ch,) = t.chains()
        assert [c.article for c in ch.articles] == ["z9", "x0", "y0"]
        assert ch.order == ORDER_UNKNOWN_LAST
        notes = {c.article: c.date_note for c in ch.articles}
        assert notes["x0"] == "date unknown"
        assert notes["y0"].startswith("implausible")
        assert all(k.lag_seconds is None for k in ch.links)
        assert {k.order for k in ch.links} == {ORDER_UNKNOWN_LAST}


def test_tie_breaks_are_named():
    same = [
        art("m2", "m.example", day(1), OWN["a"], STORY[0]),
        art("m1", "n.example", day(1), OWN["b"], STORY[0]),
    ]
    undated = [
        art("u2", "u.example", None, OWN["e"], STORY[1]),
        art("u1", "v.example", None, OWN["f"], STORY[1]),
    ]
    with Tracker(":memory:") as t:
        t.add_many(same + undated)
        by_origin = {ch.origin: ch.order for ch in t.chains()}
        assert by_origin == {"m1": ORDER_SAME_DATE, "u1": ORDER_DATE_UNKNOWN}


def test_graph_counts_passages_sentences_and_lag():
    with Tracker(":memory:") as t:
        t.add_many(flood_corpus())
        g = t.graph()
        flows = {(f.source, f.target): f for f in g.flows}
        assert set(flows) == {("a.example", "b.example"), ("a.example", "c.example")}
        ab = flows["a.example", "b.example"]
        assert (ab.passages, ab.sentences, ab.articles) == (1, 4, 1)
        assert ab.median_lag_seconds == 86400
        ac = flows["a.example", "c.example"]
        assert (ac.passages, ac.sentences, ac.median_lag_seconds) == (1, 1, 2 * 86400)
        nodes = {n.outlet: n for n in g.outlets}
        assert (nodes["a.example"].passages_out, nodes["a.example"].sentences_out) == (2, 5)
        assert nodes["b.example"].passages_in == 1
        assert [f.source for f in g.flows] == ["a.example", "a.example"]
        assert t.chains(outlet="c.example")[0].origin == "a1"
        assert t.passages(outlet="zzz") == []


def test_samples_share_topics_but_no_reuse():
    articles = []
    for txt in sorted(SAMPLES.glob("*.txt")):
        meta = json.loads(txt.with_suffix(".json").read_text(encoding="utf-8"))
        published = meta.get("published")
        articles.append(
            Article(
                txt.stem,
                txt.read_text(encoding="utf-8"),
                url=meta.get("url"),
                outlet=meta.get("outlet"),
                title=meta.get("title"),
                published=dt.datetime.fromisoformat(published).replace(tzinfo=dt.timezone.utc)
                if published
                else None,
            )
        )
    assert len(articles) == 5
    with Tracker(":memory:") as t:
        t.add_many(articles)
        assert t.chains() == []
        assert t.passages() == []
        assert t.graph().flows == ()


# -- the pure function --------------------------------------------------------------------


def facts(aid: str, outlet: str | None, published: str | None) -> ArticleFacts:
    return ArticleFacts(aid, outlet, published, "x" * 200, content=(0,), fingerprints=frozenset())


NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def test_chaining_guard_splits_a_group_joined_only_through_a_middle_text():
    # A ~ B and B ~ C at the threshold, A and C not alike: never one chain A -> B -> C.
    arts = {
        "a": facts("a", "a.example", "2024-01-01T00:00:00+00:00"),
        "b": facts("b", "b.example", "2024-01-02T00:00:00+00:00"),
        "c": facts("c", "c.example", "2024-01-03T00:00:00+00:00"),
        "d": facts("d", "d.example", "2024-01-04T00:00:00+00:00"),
    }
    shared = [
        Shared("a", 0, 0, 10, 1, "alpha text"),
        Shared("b", 0, 0, 10, 2, "beta text"),
        Shared("c", 0, 0, 10, 3, "gamma text"),
        Shared("d", 0, 0, 10, 3, "gamma text"),
    ]
    near = [(1, 2, 0.8), (2, 3, 0.75)]
    prov = analyze(shared, near, arts, now=NOW)
    got = [[c.article for c in ch.articles] for ch in prov.chains]
    assert got == [["a", "b"], ["c", "d"]]
    assert all(ch.chained and "cut from a group of 3 texts" in ch.reason for ch in prov.chains)
    assert [(k.source, k.target, k.similarity) for ch in prov.chains for k in ch.links] == [
        ("a", "b", 0.8),
        ("c", "d", 1.0),
    ]


def test_a_text_near_two_centres_joins_the_closer_one():
    arts = {
        x: facts(x, f"{x}.example", f"2024-01-0{i + 1}T00:00:00+00:00") for i, x in enumerate("abc")
    }
    shared = [
        Shared("a", 0, 0, 10, 1, "one"),
        Shared("b", 0, 0, 10, 2, "two"),
        Shared("c", 0, 0, 10, 3, "three"),
    ]
    prov = analyze(shared, [(1, 3, 0.72), (2, 3, 0.9)], arts, now=NOW)
    (ch,) = prov.chains  # a alone is no chain; c joins b's star
    assert [c.article for c in ch.articles] == ["b", "c"]
    assert ch.chained


def test_a_single_publisher_is_no_chain_and_unknown_outlets_are_their_own():
    arts = {
        "a": facts("a", "a.example", "2024-01-01T00:00:00+00:00"),
        "a2": facts("a2", "a.example", "2024-01-02T00:00:00+00:00"),
        "n1": facts("n1", None, "2024-01-03T00:00:00+00:00"),
        "n2": facts("n2", None, "2024-01-04T00:00:00+00:00"),
    }
    one = [Shared("a", 0, 0, 5, 1, "t"), Shared("a2", 0, 0, 5, 1, "t")]
    assert analyze(one, [], arts, now=NOW).chains == ()
    two = [Shared("n1", 0, 0, 5, 2, "u"), Shared("n2", 0, 0, 5, 2, "u")]
    (ch,) = analyze(two, [], arts, now=NOW).chains
    assert [(k.source, k.target) for k in ch.links] == [("n1", "n2")]
    assert [f.source for f in analyze(two, [], arts, now=NOW).graph.flows] == ["(unknown outlet)"]


def test_dates_that_cannot_order_articles():
    assert date_note(None, NOW) == "date unknown"
    assert date_note("not a date", NOW) == "date unreadable"
    assert date_note("1970-01-01T00:00:00+00:00", NOW).startswith("implausible")
    assert date_note("0999-01-01T00:00:00+00:00", NOW).startswith("implausible")
    # the clock is never consulted: a future date orders like any other (determinism)
    assert date_note("2031-01-01T00:00:00+00:00", NOW) is None
    assert date_note("2024-06-01T12:00:00", NOW) is None  # naive means UTC
