"""A generated news corpus for the crash and concurrency harnesses.

Small articles from a handful of outlets, with what real crawls carry: page furniture shared by
every article of an outlet, wire stories copied across outlets (exact and lightly edited),
pull quotes repeated inside an article, records seen twice (same id, same URL or same text
under another id) and articles without a date. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

OUTLETS = (
    "alpha.example",
    "bravo.example",
    "charlie.example",
    "delta.example",
    "echo.example",
    "foxtrot.example",
)

_WORDS = """
council budget harbour ferry bridge school district mayor governor police station river
flood storm power grid market price wage union strike hospital nurse doctor patient vaccine
court judge jury verdict appeal senator minister election ballot vote turnout campaign poll
airport runway flight delay train track station platform bus route driver commuter traffic
museum gallery artist exhibit concert stage festival crowd ticket season team coach player
match goal league title record drought farmer harvest wheat corn cattle export import tariff
factory worker shift contract pension retirement housing rent tenant landlord permit zoning
library reader author novel poem editor reporter camera studio broadcast signal network
company profit loss quarter share investor bank loan rate inflation budget deficit surplus
village town city county state border coast island mountain valley forest park trail
""".split()


def _sentence(rng: random.Random, n: int | None = None) -> str:
    words = [rng.choice(_WORDS) for _ in range(n or rng.randint(8, 16))]
    return " ".join(words).capitalize() + "."


def furniture(outlet: str) -> tuple[str, str]:
    """Two lines that every article of ``outlet`` carries (page furniture)."""
    name = outlet.split(".")[0].capitalize()
    return (
        f"Read more stories from the {name} Daily newsroom on our website every single morning.",
        f"Copyright {name} Daily Media Group, all rights reserved, reproduction needs permission.",
    )


def corpus(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` JSON records (some of them re-sends of earlier ones), deterministic in ``seed``."""
    rng = random.Random(seed)
    wires = [
        [_sentence(rng, rng.randint(12, 18)) for _ in range(3)] for _ in range(max(4, n // 12))
    ]
    base = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    out: list[dict[str, Any]] = []
    for i in range(n):
        if out and rng.random() < 0.04:  # a re-send: same id, same URL or same text
            prev = dict(rng.choice(out))
            how = rng.randrange(3)
            if how == 1:
                prev["id"] = f"{prev['id']}-again{i}"
            elif how == 2:
                prev["id"] = f"{prev['id']}-copy{i}"
                prev["url"] = f"https://{prev['outlet']}/copy/{i}"
            out.append(prev)
            continue
        outlet = rng.choice(OUTLETS)
        paras = [" ".join(_sentence(rng) for _ in range(rng.randint(1, 3))) for _ in range(2)]
        if rng.random() < 0.3:  # a wire story, copied exactly or with one word changed
            wire = list(rng.choice(wires))
            if rng.random() < 0.3:
                words = wire[1].split(" ")
                words[rng.randrange(1, len(words) - 1)] = rng.choice(_WORDS)
                wire[1] = " ".join(words)
            paras.insert(1, " ".join(wire))
        if rng.random() < 0.15:  # a pull quote repeated further down
            paras.append(paras[0].split(". ")[0].rstrip(".") + ".")
        paras.extend(furniture(outlet))
        published = base + dt.timedelta(minutes=rng.randrange(60 * 24 * 60))
        out.append(
            {
                "id": f"{outlet.split('.')[0]}-{i:05d}",
                "url": f"https://{outlet}/news/{i}",
                "outlet": outlet,
                "published": None if rng.random() < 0.1 else published.isoformat(),
                "title": _sentence(rng, 6).rstrip("."),
                "text": "\n".join(paras),
            }
        )
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` as JSON Lines (UTF-8) and return ``path``."""
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path
