"""Blocks, sentences, page-break joins and normalization."""

from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.segment import MAX_SEGMENT_CHARS, blocks, normalize, segment, sentences, tokens


def sents(text: str) -> list[str]:
    return [text[s:e] for s, e in sentences(text, 0, len(text))]


def test_blocks_are_trimmed_lines():
    text = "\nSubmit \n\n\t\tThanks.\t\nLast"
    assert [text[s:e] for s, e in blocks(text)] == ["Submit", "Thanks.", "Last"]
    text = "One\rTwo\r\nThree\u2028Four\u2029Five\x85Six\fSeven\vEight"
    assert [text[s:e] for s, e in blocks(text)] == "One Two Three Four Five Six Seven Eight".split()


def test_abbreviations_initials_and_decimals_do_not_end_sentences():
    text = (
        "Gov. Greg Abbott met Dr. Smith in the U.S. on Monday. Sales rose 3.5 percent to No. 1. "
        "George W. Bush spoke at 5 p.m. on Friday. It ended."
    )
    assert sents(text) == [
        "Gov. Greg Abbott met Dr. Smith in the U.S. on Monday.",
        "Sales rose 3.5 percent to No. 1.",
        "George W. Bush spoke at 5 p.m. on Friday.",
        "It ended.",
    ]


def test_quotes_close_and_open_sentences():
    text = "“We are done,” the agent said. “Everything is a reaction.” He left? Yes, he did."
    assert sents(text) == [
        "“We are done,” the agent said.",
        "“Everything is a reaction.”",
        "He left?",
        "Yes, he did.",
    ]


def test_lower_case_after_a_period_is_not_a_boundary():
    assert len(sents("We have come to ... a breaking point. Then it ended.")) == 2
    assert len(sents("The U.S. officials said so.")) == 1


def test_a_name_before_a_title_is_not_a_sentence():
    text = 'Vaughan, Jessica. "Map: Sanctuary Cities," Center for Immigration Studies, 2021.'
    assert sents(text) == [text]


def test_page_break_with_byline_keeps_one_sentence_in_two_parts():
    text = (
        "During a news conference on Saturday, the mayor said that about 6,500 migrants\n\n\n\n"
        "Written by [David Kelly](#) on September 25, 2023\n\n"
        "are in custody in El Paso alone. Next sentence."
    )
    segs = segment(text)
    joined = [g for g in segs if g.parts]
    assert len(joined) == 1
    g = joined[0]
    assert g.text_of(text) == (
        "During a news conference on Saturday, the mayor said that about 6,500 migrants"
        " are in custody in El Paso alone."
    )
    byline = [g for g in segs if text[g.start : g.end].startswith("Written by")]
    assert len(byline) == 1 and byline[0].kind == "block"
    assert [g.index for g in segs] == list(range(len(segs)))
    assert [g.start for g in segs] == sorted(g.start for g in segs)


def test_page_break_without_interruption():
    text = "and on the same day the Department of Homeland Security (DHS)\n\nended the partnership."
    (g,) = segment(text)
    assert (
        g.text_of(text)
        == "and on the same day the Department of Homeland Security (DHS) ended the partnership."
    )


def test_headings_and_list_items_are_not_joined():
    text = "## 145 Journalists Killed\n\nbetween 1992 and 2022\n\n- item one\n\nand more"
    assert not any(g.parts for g in segment(text))


def test_normalize_folds_case_links_punctuation_and_invisible_characters():
    assert normalize("[Click here](#) to   LEARN—more!") == "click here to learn more"
    assert normalize("news\u200bpaper ｎｅｗｓ") == "newspaper news"
    assert normalize("Crème brûlée") == "crème brûlée"


def test_cjk_characters_are_tokens():
    assert tokens(normalize("東京都 news")) == ["東", "京", "都", "news"]


def test_linear_inputs_finish():
    big = "a" * 1_000_000
    chunks = segment(big)  # no white space: cut hard at the segment cap
    assert chunks[-1].end == 1_000_000
    assert {g.end - g.start for g in chunks} == {MAX_SEGMENT_CHARS}
    dots = ". " * 100_000
    assert len(segment(dots)) >= 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .?!\n\t“”\"'Ú,-#")), max_size=200))
def test_segments_are_ordered_disjoint_and_inside_the_text(text):
    segs = segment(text)
    pos = 0
    for g in segs:
        pieces = g.parts or ((g.start, g.end),)
        for s, e in pieces:
            assert 0 <= s < e <= len(text)
            assert text[s:e].strip() == text[s:e]
        assert g.start >= pos or any(h.parts for h in segs)
        pos = max(pos, g.start)
    covered = sorted(p for g in segs for p in (g.parts or ((g.start, g.end),)))
    for (_, e1), (s2, _) in zip(covered, covered[1:]):
        assert e1 <= s2
    # every non-blank character belongs to some segment
    inside = set()
    for s, e in covered:
        inside.update(range(s, e))
    assert all(i in inside for i, ch in enumerate(text) if not ch.isspace())


def test_chinese_and_japanese_sentences_end_at_full_width_marks_with_no_space():
    text = "今日は晴れです。明日は雨が降るでしょう！「本当ですか？」と彼は言った。"
    got = [text[g.start : g.end] for g in segment(text)]
    assert got == ["今日は晴れです。", "明日は雨が降るでしょう！", "「本当ですか？」と彼は言った。"]
    zh = "港口管理局批准了新的渡轮码头。它将于明年春天开始施工。"
    assert [zh[s:e] for s, e in sentences(zh, 0, len(zh))] == [
        "港口管理局批准了新的渡轮码头。",
        "它将于明年春天开始施工。",
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab .\t\n\r\u2028\u2029\x85\f\v\x1c\u00a0\u3000", max_size=40))
def test_blocks_are_the_stripped_non_blank_lines(text):
    assert [text[s:e] for s, e in blocks(text)] == [
        line.strip() for line in text.splitlines() if line.strip()
    ]
