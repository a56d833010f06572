"""Shared fixtures: small corpora that exercise every verdict."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dedupe.model import Article


def day(n: int) -> dt.datetime:
    return dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=n)


FURNITURE = "The Ledger Media Group newsroom can be reached at the city desk on weekdays."
WIRE = (
    "Officials in the border city said on Monday that shelters were full for the third day in a"
    " row and asked the state for more buses."
)


def corpus() -> list[Article]:
    """Three articles of one outlet sharing a closing block, and a wire sentence that outlet
    b.example published first and c.example reused."""
    return [
        Article(
            "a1",
            "The council approved the budget after a long debate on Tuesday night.\n\n" + FURNITURE,
            url="https://a.example/1",
            outlet="a.example",
            published=day(1),
        ),
        Article(
            "a2",
            "A new bridge opened downtown, easing traffic for thousands of commuters.\n\n"
            + FURNITURE,
            url="https://a.example/2",
            outlet="a.example",
            published=day(2),
        ),
        Article(
            "a3",
            "Local schools will start an hour later next year, the district announced.\n\n"
            + FURNITURE,
            url="https://a.example/3",
            outlet="a.example",
            published=day(3),
        ),
        Article(
            "b1",
            WIRE + "\n\nThe governor did not respond to a request for comment by our reporters.",
            url="https://b.example/x",
            outlet="b.example",
            published=day(1),
        ),
        Article(
            "c1",
            "Our own reporting begins with a visit to the crowded bus station downtown.\n\n" + WIRE,
            url="https://c.example/y",
            outlet="c.example",
            published=day(4),
        ),
    ]


def dump(results) -> str:
    return "\n".join(json.dumps(r.as_dict(), sort_keys=True) for r in results)


@pytest.fixture
def articles() -> list[Article]:
    return corpus()
