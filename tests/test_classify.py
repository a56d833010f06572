"""Verdict rules, one by one, on hand-made evidence (classify is pure)."""

import re

from dedupe import classify as classify_mod
from dedupe.classify import STORE_RULES, TEXT_RULES, Evidence, Peer, classify, refine
from dedupe.segment import segment

D1, D2, D3 = "2024-05-01T00:00:00+00:00", "2024-05-02T00:00:00+00:00", "2024-05-03T00:00:00+00:00"


def judge(text, evidence=None, outlet="a.example", published=D2, article="me"):
    segs = refine(text, segment(text))
    ev = evidence or {}
    return segs, classify(
        article, outlet, published, text, segs, [ev.get(i, Evidence()) for i in range(len(segs))]
    )


def test_lexicon_furniture():
    _, f = judge("Submit\nA city council voted on the new budget.")
    assert (f[0].verdict, f[0].rule) == ("boilerplate", "lexicon")
    assert f[0].reason == 'lexicon: widget "submit" (en)'
    assert (f[1].verdict, f[1].rule) == ("kept", "unique")


def test_broken_dateline_is_cut_alone():
    segs, f = judge("( – Convoys of migrants gathered in southern Mexico this week.")
    assert segs[0].kind == "fragment" and (f[0].verdict, f[0].rule) == ("boilerplate", "dateline")
    assert f[1].verdict == "kept"


def test_trailing_pitch_from_its_opener_to_the_end():
    text = (
        "The story itself ends here with a last sentence about the border.\n"
        "Subscribe to the Daily Ledger\n"
        "From politics to culture, we bring you an unparalleled array of topics.\n"
        "- 24 Issues Per Year\n"
        "- Cancel anytime."
    )
    _, f = judge(text)
    assert f[0].verdict == "kept"
    assert all(x.verdict == "boilerplate" for x in f[1:])
    assert f[2].rule == "pitch"


def test_repeated_byline_is_boilerplate_and_other_repeats_are_repeats():
    text = "By Jane Smith\nA sentence that is long enough to count here.\nBy Jane Smith\nA sentence that is long enough to count here."
    ev = {2: Evidence(internal=((0, 1.0),)), 3: Evidence(internal=((1, 1.0),))}
    _, f = judge(text, ev)
    assert (f[2].verdict, f[2].rule) == ("boilerplate", "byline-repeat")
    assert (f[3].verdict, f[3].rule) == ("repeat", "repeat")
    assert f[3].matched[0].article == "me"


def test_recurrence_in_this_or_another_outlet():
    peer = Peer("x1", "a.example", D1, -1, -1, 1.0)
    _, f = judge(
        "Our newsroom can be reached at the city desk.", {0: Evidence((peer,), (("a.example", 3),))}
    )
    assert (f[0].verdict, f[0].rule) == ("boilerplate", "recurrence")
    assert "3 articles of this outlet" in f[0].reason
    _, f = judge(
        "Our newsroom can be reached at the city desk.", {0: Evidence((), (("a.example", 2),))}
    )
    assert (f[0].verdict, f[0].rule) == ("kept", "same-outlet")
    _, f = judge(
        "Our newsroom can be reached at the city desk.", {0: Evidence((peer,), (("a.example", 2),))}
    )
    assert (f[0].verdict, f[0].rule) == ("reused", "same-outlet-copy")
    other = Peer("y1", "b.example", D1, -1, -1, 1.0)
    _, f = judge(
        "A wire block carried by every page of another site.",
        {0: Evidence((other,), (("b.example", 7), ("a.example", 1)))},
    )
    assert (f[0].verdict, f[0].rule) == ("boilerplate", "recurrence")
    assert "outlet b.example" in f[0].reason


def test_reuse_direction_follows_publication_date():
    text = "Officials said the shelters were full for a third day in a row."
    earlier = Peer("src", "b.example", D1, 0, 10, 0.9)
    later = Peer("dst", "c.example", D3, 0, 10, 1.0)
    _, f = judge(
        text,
        {0: Evidence((earlier, later), (("b.example", 1), ("c.example", 1), ("a.example", 1)))},
    )
    assert (f[0].verdict, f[0].rule) == ("reused", "reuse")
    assert [m.article for m in f[0].matched] == ["src"]
    _, f = judge(text, {0: Evidence((later,), (("c.example", 1), ("a.example", 1)))})
    assert (f[0].verdict, f[0].rule) == ("kept", "reuse-origin")
    assert [m.article for m in f[0].matched] == ["dst"]


def test_unknown_date_never_precedes_a_known_one():
    text = "Officials said the shelters were full for a third day in a row."
    dated = Peer("dated", "b.example", D3, 0, 10, 1.0)
    _, f = judge(text, {0: Evidence((dated,), ())}, published=None)
    assert f[0].verdict == "reused"
    undated = Peer("undated", None, None, 0, 10, 1.0)
    _, f = judge(text, {0: Evidence((undated,), ())}, published=D3)
    assert f[0].rule == "reuse-origin"


def test_same_date_ties_break_by_id_not_arrival():
    text = "Officials said the shelters were full for a third day in a row."
    twin = Peer("aaa", "b.example", D2, 0, 10, 1.0)
    _, f = judge(text, {0: Evidence((twin,), ())}, article="zzz")
    assert f[0].verdict == "reused"
    _, f = judge(
        text, {0: Evidence((Peer("zzz", "b.example", D2, 0, 10, 1.0),), ())}, article="aaa"
    )
    assert f[0].rule == "reuse-origin"


def test_bylines_and_short_sentences_are_never_reuse():
    other = Peer("y", "b.example", D1, 0, 5, 1.0)
    _, f = judge("By Jane Smith", {0: Evidence((other,), ())})
    assert f[0].verdict == "kept"
    _, f = judge(
        "It rained. Then it stopped raining entirely.", {0: Evidence((other,), (), (), True)}
    )
    assert f[0].verdict == "kept"


def test_a_later_carrier_in_an_outlet_copies_its_own_outlet_whatever_others_carry():
    text = "Officials said the shelters were full for a third day in a row."
    own = Peer("x1", "a.example", D1, 0, 10, 1.0)
    for other in (Peer("y1", "b.example", D3, 0, 10, 1.0), Peer("y0", "b.example", D1, 0, 10, 1.0)):
        counts = (("a.example", 2), ("b.example", 1))
        _, f = judge(text, {0: Evidence((own, other), counts)})
        assert (f[0].verdict, f[0].rule) == ("reused", "same-outlet-copy")
        assert [m.article for m in f[0].matched] == ["x1"]
        assert "copy of x1 of the same outlet" in f[0].reason
    # the outlet's earliest carrier is judged against the other outlets
    _, f = judge(text, {0: Evidence((Peer("y1", "b.example", D3, 0, 10, 1.0),), counts)})
    assert (f[0].verdict, f[0].rule) == ("kept", "reuse-origin")


def test_every_rule_rests_either_on_the_text_or_on_the_store():
    """Judging again reads a stored article in part on this split: each rule the module lists
    is in exactly one of the two sets, and no set names a rule it does not list."""
    listed = set(re.findall(r"``([a-z-]+)``", classify_mod.__doc__ or ""))
    assert listed and not TEXT_RULES & STORE_RULES
    assert TEXT_RULES | STORE_RULES == listed
