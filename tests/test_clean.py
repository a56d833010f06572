"""Cuts and the cleaned text: white space is swallowed, split sentences are rejoined, and the
original can always be rebuilt from the cleaned text and the cuts."""

from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.clean import apply, removals, restore
from dedupe.model import Finding
from dedupe.segment import segment


def judge(text, bad):
    """Findings that strip every segment whose text is in ``bad``."""
    segs = segment(text)
    findings = [
        Finding(
            g.start, g.end, g.kind, "boilerplate" if g.text_of(text) in bad else "kept", "", "t"
        )
        for g in segs
    ]
    return segs, findings


def cleaned(text, bad):
    segs, findings = judge(text, bad)
    return apply(text, removals(text, segs, findings))


def test_whole_lines_take_their_blank_lines():
    text = "\nSubmit \n\n\n\nΔ\n\n\t\tReal news starts here.\nShare Selection"
    assert cleaned(text, {"Submit", "Δ", "Share Selection"}) == "Real news starts here."


def test_every_kind_of_line_break_ends_a_line_and_goes_with_it():
    for sep in ("\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\f"):
        text = f"First para here.{sep}Submit{sep}Second para here."
        assert cleaned(text, {"Submit"}) == f"First para here.{sep}Second para here.", repr(sep)
    text = "One is kept. Two must go. Three is kept.\r\nFour is kept. Five must go.\r\nSix."
    assert (
        cleaned(text, {"Two must go.", "Five must go."})
        == "One is kept. Three is kept.\r\nFour is kept.\r\nSix."
    )


def test_sentences_take_their_spaces():
    text = "One is kept. Two must go. Three is kept.\nFour is kept. Five must go."
    assert (
        cleaned(text, {"Two must go.", "Five must go."})
        == "One is kept. Three is kept.\nFour is kept."
    )


def test_byline_inside_a_split_sentence_is_cut_and_the_sentence_rejoined():
    text = (
        "During a news conference on Saturday, the mayor said that about 6,500 migrants\n\n\n\n"
        "Written by David Kelly on September 25, 2023\n\n"
        "are in custody in El Paso alone.\n\nNext paragraph."
    )
    segs, findings = judge(text, {"Written by David Kelly on September 25, 2023"})
    cuts = removals(text, segs, findings)
    assert [c.replacement for c in cuts] == [" "]
    assert apply(text, cuts) == (
        "During a news conference on Saturday, the mayor said that about 6,500 migrants are in"
        " custody in El Paso alone.\n\nNext paragraph."
    )


def test_reused_text_is_kept_unless_asked():
    text = "A copied sentence is here.\nAn own sentence is here."
    segs = segment(text)
    findings = [
        Finding(segs[0].start, segs[0].end, "block", "reused", "copy", "reuse"),
        Finding(segs[1].start, segs[1].end, "block", "kept", "", "unique"),
    ]
    assert apply(text, removals(text, segs, findings)) == text
    stripped = removals(text, segs, findings, {"boilerplate", "repeat", "reused"})
    assert apply(text, stripped) == "An own sentence is here."


LINES = st.lists(
    st.sampled_from(
        [
            "Submit",
            "Share",
            "A kept sentence.",
            "Two sentences here. The second one goes.",
            "",
            "  ",
            "\t\tindented line",
            "an open sentence continues",
            "The second one goes.",
        ]
    ),
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(LINES, st.sampled_from(["\n", "\n\n", " \n", "\r\n", "\r", "\u2028"]))
def test_cleaned_text_plus_cuts_rebuild_the_original(lines, sep):
    text = sep.join(lines)
    segs, findings = judge(text, {"Submit", "Share", "The second one goes."})
    cuts = removals(text, segs, findings)
    out = apply(text, cuts)
    assert restore(out, [(c, text[c.start : c.end]) for c in cuts]) == text
    prev = 0
    for c in cuts:
        assert prev <= c.start < c.end <= len(text)
        prev = c.end
    assert "Submit" not in out.replace("\r\n", "\n").replace("\r", "\n").replace(
        "\u2028", "\n"
    ).split("\n")
