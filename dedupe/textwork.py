"""What judging an article needs from its text alone, kept beside it in the store.

Judging a stored article again needs, besides the store's counts, its rephrased repeats and
its text facts (lexicon hits, blocks, where a trailing pitch starts). Both are pure functions
of the text and its segments, and made once at ingest; done again at every later judgment
they took about two fifths of it. So they are stored as a short JSON text, tagged with what
made them (the parameters, the lexicon's data and the package version): a tag that differs
means they are made again from the text, never read, and the work made again replaces it
(so does the work of an article stored before it was kept, when it is judged again).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache

import xxhash

from dedupe.classify import TextFacts
from dedupe.fingerprint import Params
from dedupe.lexicon import LANGUAGES, Hit, read_data
from dedupe.model import Segment

Loose = dict[int, list[tuple[int, float]]]


@lru_cache(maxsize=8)
def tag(params: Params) -> str:
    """What made a stored text work: the package version, parameters and lexicon data."""
    from dedupe import __version__

    h = xxhash.xxh64()
    h.update(__version__.encode())
    h.update(json.dumps(params.as_dict(), sort_keys=True).encode())
    for lang in LANGUAGES:
        h.update(read_data(lang).encode("utf-8"))
    return h.hexdigest()[:12]


def dumps(loose: Loose, facts: TextFacts, params: Params) -> str:
    """The text work of one article as stored: ``[tag, lexicon hits, pitch, opener, loose]``
    (hits and repeats only where there are some: most segments have neither)."""
    lex = [[i, h.category, h.entry, h.lang] for i, h in enumerate(facts.lex) if h is not None]
    pairs = [[k, [[j, s] for j, s in v]] for k, v in sorted(loose.items())]
    return json.dumps(
        [tag(params), lex, facts.pitch, facts.pitch_opener, pairs],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def loads(
    text: str | None, segments: Sequence[Segment], params: Params
) -> tuple[Loose, TextFacts] | None:
    """The stored text work of an article with these segments, or ``None`` when there is none
    or it was made otherwise (another tag, or not for this many segments)."""
    if not text:
        return None
    try:
        made, lex_rows, pitch, opener, pairs = json.loads(text)
        if made != tag(params):
            return None
        lex: list[Hit | None] = [None] * len(segments)
        for i, category, entry, lang in lex_rows:
            if not 0 <= i < len(lex):
                return None
            lex[i] = Hit(category, entry, lang)
        loose: Loose = {int(k): [(int(j), float(s)) for j, s in v] for k, v in pairs}
    except (ValueError, TypeError):  # not what dumps writes: made again from the text
        return None
    blocks = sorted({g.block for g in segments})
    facts = TextFacts(tuple(lex), {b: i for i, b in enumerate(blocks)}, pitch, opener)
    return loose, facts
