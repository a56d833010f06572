"""Pathological input: the caps are enforced with a clear message, and work stays bounded.

* An article over ``tracker.MAX_ARTICLE_CHARS`` is refused (by the Tracker, and by the reader
  with the file and line), and an input line over ``--max-bytes`` is refused before it is
  parsed.
* A sentence repeated many times is fingerprinted once, and each repeat names a bounded
  number of earlier copies (not every earlier one).
* Text without punctuation is cut into segments of at most ``segment.MAX_SEGMENT_CHARS``.
* A furniture line in every article (a hot LSH bucket) yields at most
  ``Params.max_candidates`` candidates per query, and the store stays right.
* Inputs that make backtracking regular expressions explode finish at once.

Timings and memory are measured by ``bench/pathological.py``; here only behaviour is asserted
(the few time limits are loose bounds that the quadratic versions missed by far).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from harness import check_whole

from dedupe import Article, Tracker
from dedupe.cli import cli
from dedupe.readers import MAX_RAW_CHARS
from dedupe.segment import MAX_SEGMENT_CHARS, normalize, segment
from dedupe.tracker import MAX_ARTICLE_CHARS

WORDS = (
    "council budget harbour ferry bridge school district mayor governor police station river "
    "flood storm power market price wage union strike hospital nurse doctor court judge vote"
).split()
SENTENCE = "The committee met again on Tuesday to discuss the harbour budget. "


def words(n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def furniture(i: int) -> str:
    """A furniture line that varies in one made-up word (no figure, no lexicon entry): each
    one is a new near duplicate of all the others, so they share one LSH bucket."""
    name = "".join(chr(97 + (i // 26**k) % 26) for k in range(3))
    return f"The Harbour Gazette newsroom takes your calls at the city desk, ask for {name}."


def test_an_article_over_the_cap_is_refused_and_nothing_is_stored() -> None:
    text = "x" * (MAX_ARTICLE_CHARS + 1)
    with Tracker(":memory:") as t:
        with pytest.raises(ValueError, match=f"over the limit of {MAX_ARTICLE_CHARS}"):
            t.add_many([Article("fine", SENTENCE), Article("big", text)])
        assert t.store.count_articles() == 0  # the batch holding it is not stored


@pytest.mark.slow
def test_a_50_mb_article_through_the_command_line(tmp_path: Path) -> None:
    text = words(10_000_000)[:50_000_000]
    src = tmp_path / "big.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "ok", "text": SENTENCE}) + "\n")
        fh.write(json.dumps({"id": "big", "text": text}) + "\n")
    size = src.stat().st_size - len(json.dumps({"id": "ok", "text": SENTENCE})) - 2
    del text
    r = CliRunner().invoke(cli, ["ingest", "--db", str(tmp_path / "a.db"), str(src)])
    assert r.exit_code == 1
    assert f"{src}, line 2: record is {size} bytes, over the limit of 20000000" in r.stderr
    args = ["ingest", "--db", str(tmp_path / "b.db"), "--max-bytes", "60000000", "--skip-bad"]
    r = CliRunner().invoke(cli, [*args, str(src)])
    assert r.exit_code == 0
    assert f"{src}, line 2: text is 50000000 characters, over the limit of" in r.stderr
    with sqlite3.connect(tmp_path / "b.db") as conn:
        (raw,) = conn.execute("SELECT raw FROM rejected").fetchone()
        assert conn.execute("SELECT id FROM articles").fetchall() == [("ok",)]
    conn.close()
    assert len(raw) == MAX_RAW_CHARS


@pytest.mark.slow
def test_a_sentence_repeated_a_million_times_collapses_to_one_key() -> None:
    from dedupe.fingerprint import exact_key

    text = SENTENCE * 1_000_000
    segs = segment(text)
    assert len(segs) == 1_000_000
    assert len({exact_key(normalize(g.text_of(text))) for g in segs[::1000]}) == 1


def test_repeats_are_fingerprinted_once_and_name_few_earlier_copies() -> None:
    for unit in (SENTENCE, "a\n"):
        with Tracker(":memory:") as t:
            r = t.add(Article("x", unit * 20_000))
            assert t.store.conn.execute("SELECT COUNT(*) FROM fingerprints").fetchone() == (1,)
            assert [f.verdict for f in r.findings].count("repeat") == 19_999
            assert r.text == unit.strip()
            _, _, evidence = t.evidence("x")
            assert max(len(e.internal) for e in evidence) <= 10


def test_text_without_punctuation_is_cut_at_the_segment_cap() -> None:
    text = words(200_000)  # about 1.3 MB, one block, no punctuation
    with Tracker(":memory:") as t:
        r = t.add(Article("x", text))
        rows = t.store.conn.execute('SELECT start, "end" FROM segments ORDER BY idx').fetchall()
    assert len(rows) > len(text) // MAX_SEGMENT_CHARS
    assert all(0 < e - s <= MAX_SEGMENT_CHARS for s, e in rows)
    assert "".join(text[s:e] for s, e in rows).replace(" ", "") == text.replace(" ", "")
    assert r.text == text


def test_a_long_unpunctuated_passage_shared_by_two_outlets_is_still_found() -> None:
    shared = words(1500, seed=7)  # about 10,000 characters: five chunks
    d1 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    with Tracker(":memory:") as t:
        t.add_many(
            [
                Article(
                    "a", "Our own opening line here.\n" + shared, outlet="a.example", published=d1
                ),
                Article(
                    "b",
                    "A different first line entirely.\n" + shared,
                    outlet="b.example",
                    published=d1 + dt.timedelta(days=1),
                ),
            ]
        )
        verdicts = [f.verdict for f in t.result("b").findings]
    assert verdicts[0] == "kept" and set(verdicts[1:]) == {"reused"} and len(verdicts) > 5


@pytest.mark.parametrize(
    "text",
    [
        "." * 1_000_000,
        "?!" * 500_000,
        ". " * 500_000,
        '"' * 500_000 + ". A" + "'" * 500_000,
        "[" * 1_000_000,
        "[a](" * 250_000,
        "Dr. " * 250_000,
        "... a " * 160_000,
        ("." + '"' * 1000 + "x") * 1000,
    ],
    ids=[
        "dots",
        "marks",
        "dot-space",
        "quotes",
        "brackets",
        "md-links",
        "abbrev",
        "ellipsis",
        "closers",
    ],
)
def test_the_splitter_and_normalizer_stay_linear(text: str) -> None:
    t0 = time.perf_counter()
    segs = segment(text)
    for g in segs:
        normalize(g.text_of(text))
    assert time.perf_counter() - t0 < 10  # under a second here; the backtracking took minutes
    assert all(g.end - g.start <= MAX_SEGMENT_CHARS for g in segs)


@pytest.mark.parametrize(
    "unit",
    [
        "Subscribe now to read more.\n{w}.\n",  # pitch openers, each followed by content
        "{w} and the first half of the sentence runs on {i}\nthen ends in lower case. Submit\n",
    ],
    ids=["pitch-openers", "split-sentences"],
)
def test_many_pitch_openers_or_split_sentences_stay_linear(unit: str) -> None:
    rng = random.Random(5)
    text = "".join(
        unit.format(w=" ".join(rng.choice(WORDS) for _ in range(10)), i=i) for i in range(2000)
    )
    t0 = time.perf_counter()
    with Tracker(":memory:", workers=0) as t:
        r = t.add(Article("x", text))
    assert time.perf_counter() - t0 < 60  # a few seconds here; quadratic, minutes
    assert r.findings


@pytest.mark.slow
def test_a_hot_bucket_is_capped_and_the_store_stays_right(tmp_path: Path) -> None:
    n = 2000
    rng = random.Random(3)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    arts = [
        Article(
            f"a{i:04d}",
            " ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + f" {i}.\n{furniture(i)}",
            outlet="gazette.example",
            published=base + dt.timedelta(hours=i),
        )
        for i in range(n)
    ]
    sizes: list[int] = []
    db = tmp_path / "hot.db"
    with Tracker(db) as t:
        cap = t.params.max_candidates
        query = t.index.candidate_pairs

        def counted(keys, limit, *args, **kw):  # type: ignore[no-untyped-def]
            rows, items = query(keys, limit, *args, **kw)
            if len(rows):
                sizes.append(int(np.bincount(rows).max()))  # candidates of the busiest query
            return rows, items

        t.index.candidate_pairs = counted  # type: ignore[method-assign]
        t.add_many(arts, batch_size=100)
        assert t.store.count_articles() == n
        for i in (0, 1, n // 2, n - 1):
            r = t.result(arts[i].id)
            assert "newsroom" not in r.text, i  # furniture of the outlet, in every article
            assert r.text.startswith(arts[i].text.split("\n")[0])
    assert sizes and max(sizes) <= cap
    check_whole(db)
