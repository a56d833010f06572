"""Golden pairs kept as data (tests/golden/pairs.jsonl): pairs that must match and pairs that
must not, under the default parameters, for cross-article copies and for repeats inside one
article."""

import json
from pathlib import Path

import pytest

from dedupe.fingerprint import Params, near, rephrased
from dedupe.segment import normalize, tokens

PAIRS = [
    json.loads(line)
    for line in (Path(__file__).parent / "golden" / "pairs.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]


def words(s: str) -> list[str]:
    return tokens(normalize(s))


@pytest.mark.parametrize("pair", PAIRS, ids=[p["why"][:40] for p in PAIRS])
def test_cross_article_near_duplicates(pair):
    assert (near(words(pair["a"]), words(pair["b"]), Params()) is not None) == pair["near"]


@pytest.mark.parametrize("pair", PAIRS, ids=[p["why"][:40] for p in PAIRS])
def test_repeats_inside_an_article(pair):
    a, b = words(pair["a"]), words(pair["b"])
    found = 1 in rephrased([a, b], Params()) or near(a, b, Params()) is not None
    assert found == pair["rephrased"]
