"""Fingerprints of segments: an xxhash key for exact matches, MinHash signatures for near ones.

Signatures follow datasketch 2.x's ``affine32`` scheme exactly (the same permutations for the
same ``num_perm`` and ``seed``, the same MurmurHash3 pre-mix), computed for a whole batch of
segments at once with numpy instead of one Python call per shingle.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import chain

import numpy as np
import xxhash

from dedupe.index import MAX_BANDS

SCHEME = "affine32"
_U32 = np.uint32
_EMPTY = np.uint32(0xFFFFFFFF)


@dataclass(frozen=True)
class Params:
    """Everything that decides fingerprints and matches; stored with the store and checked
    on reopen, because signatures made with other parameters cannot be compared."""

    num_perm: int = 128
    seed: int = 1
    scheme: str = SCHEME
    shingle: str = "word"
    ngram: int = 2
    #: LSH bands of ``rows`` MinHash values each. 20 x 4 keeps candidate recall >= 0.99 on
    #: the benchmark's near copies (0.997 generated, 0.999 Reuters) with 5/8 of the index
    #: of 32 x 4 (README, Benchmarks).
    bands: int = 20
    rows: int = 4
    #: Two segments are near duplicates when the Jaccard similarity of their word n-gram
    #: sets (:func:`similarity`) reaches ``threshold`` and that of their word sets reaches
    #: ``word_threshold``. Calibrated on labelled pairs: recall 0.985 with no false match.
    threshold: float = 0.63
    word_threshold: float = 0.77
    #: Inside one article a looser test finds rephrased repeats (a verb swapped, a negation
    #: reworded): word-set Jaccard >= ``repeat_words`` and edit similarity >= ``repeat_ratio``
    #: on the normalized text, for segments of at least ``repeat_min_words`` words.
    repeat_words: float = 0.7
    repeat_ratio: float = 0.85
    repeat_min_words: int = 6
    #: Segments with fewer words than this only ever match exactly.
    min_words: int = 4
    #: Articles of one outlet that must carry a block before it counts as boilerplate.
    min_outlet_articles: int = 3
    #: Candidates verified per segment at most (hot LSH buckets are capped, not scanned).
    max_candidates: int = 100

    def __post_init__(self) -> None:
        if self.scheme != SCHEME:
            raise ValueError(f"unsupported MinHash scheme {self.scheme!r}; only {SCHEME!r}")
        if not 1 <= self.bands <= MAX_BANDS:  # the LSH index keeps the band in 7 bits
            raise ValueError(f"bands must be in 1..{MAX_BANDS}, not {self.bands}")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}"
            )
        for name in ("threshold", "word_threshold", "repeat_words", "repeat_ratio"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        if self.shingle != "word" or self.ngram < 1:
            raise ValueError("shingle must be 'word' with ngram >= 1")
        if self.min_outlet_articles < 2:
            raise ValueError("min_outlet_articles must be at least 2")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def exact_key(normalized: str) -> int:
    """64-bit key of a normalized segment, as a signed integer that SQLite stores natively."""
    return xxhash.xxh64_intdigest(normalized.encode("utf-8")) - (1 << 63)


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` affine32 permutation parameters datasketch draws for ``num_perm``/``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, the pre-mix datasketch applies before permuting."""
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> _U32(16))


def shingles(words: Sequence[str], ngram: int) -> list[bytes]:
    """Word n-grams of a segment as UTF-8 bytes; a segment shorter than ``ngram`` is one shingle."""
    if not words:
        return []
    if len(words) <= ngram:
        return [" ".join(words).encode("utf-8")]
    return [" ".join(words[i : i + ngram]).encode("utf-8") for i in range(len(words) - ngram + 1)]


def shingle_hashes(words: Sequence[str], ngram: int) -> np.ndarray:
    """xxh32 of each shingle, the values datasketch's ``hashfunc`` would return."""
    return np.fromiter(
        (xxhash.xxh32_intdigest(s) for s in set(shingles(words, ngram))), dtype=np.uint32
    )


def signatures(hash_sets: Sequence[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures (``len(hash_sets)`` x ``num_perm``, uint32) of many shingle-hash sets.

    Equal to ``datasketch.MinHash(num_perm, seed, scheme="affine32")`` updated with the same
    hash values. Works in chunks so memory stays bounded for large batches.
    """
    lengths = np.fromiter((len(h) for h in hash_sets), dtype=np.int64, count=len(hash_sets))
    parts = [np.asarray(h, dtype=np.uint32) for h in hash_sets if len(h)]
    values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
    return _signatures_flat(values, lengths, num_perm, seed)


def _signatures_flat(
    values: np.ndarray, lengths: np.ndarray, num_perm: int, seed: int
) -> np.ndarray:
    """:func:`signatures` of sets given as one flat array of hash values and their lengths.

    Laid out permutation-major (``num_perm`` x values), so the per-set minimum is a
    ``minimum.reduceat`` over contiguous runs; the work buffer is reused across chunks."""
    a, b = permutations(num_perm, seed)
    n = len(lengths)
    out = np.full((n, num_perm), _EMPTY, dtype=np.uint32)
    if n == 0 or not len(values):
        return out
    ends = np.cumsum(lengths)
    starts = ends - lengths
    budget = 1 << 15  # hash values per chunk: 128 x 32k x 4 bytes = 16 MB of work space
    work = np.empty((num_perm, min(budget, len(values))), dtype=np.uint32)
    col_a, col_b = a[:, None], b[:, None]
    r = 0
    with np.errstate(over="ignore"):
        while r < n:
            stop = max(int(np.searchsorted(ends, starts[r] + budget, "right")), r + 1)
            rows = np.arange(r, stop)
            rows = rows[lengths[r:stop] > 0]
            if rows.size:
                lo, hi = int(starts[rows[0]]), int(ends[rows[-1]])
                hv = _fmix32(values[lo:hi].astype(np.uint32, copy=False))
                buf = (
                    work[:, : hi - lo]
                    if hi - lo <= work.shape[1]
                    else np.empty((num_perm, hi - lo), dtype=np.uint32)
                )
                np.multiply(col_a, hv[None, :], out=buf)
                np.add(buf, col_b, out=buf)
                out[rows] = np.minimum.reduceat(buf, starts[rows] - lo, axis=1).T
            r = stop
    return out


#: xxh32 of shingles seen lately (common n-grams recur in every batch).
_SHINGLE_CACHE: dict[str, int] = {}
_SHINGLE_CACHE_MAX = 1 << 18


def band_keys_of(word_lists: Sequence[Sequence[str]], params: Params) -> np.ndarray:
    """LSH band keys (``len(word_lists)`` x ``params.bands``) of many segments' words: equal to
    ``band_keys(signatures([shingle_hashes(w, ngram) for w in word_lists], ...), ...)``, with
    the shingle hashes cached and the permutations applied to the whole batch at once."""
    return lsh_of(word_lists, params)[0]


#: Bits of a shingle sketch (see :func:`lsh_of`), in 32-bit words, then the set size.
SKETCH_WORDS = 4
_LOW16 = 0xFFFF


def lsh_of(word_lists: Sequence[Sequence[str]], params: Params) -> tuple[np.ndarray, np.ndarray]:
    """Band keys (see :func:`band_keys_of`) and shingle sketches of many segments.

    A sketch (``SKETCH_WORDS + 1`` uint32 per segment) is a 128-bit map of the segment's
    shingle hashes, then one word holding the number of distinct shingles (low 16 bits) and
    the bits set in the map (high 16 bits, counted once here rather than per candidate pair);
    :func:`may_be_near` bounds the Jaccard similarity of two segments from their sketches,
    never below the true value."""
    cache = _SHINGLE_CACHE
    if len(cache) > _SHINGLE_CACHE_MAX:
        cache.clear()
    h32 = xxhash.xxh32_intdigest
    n = params.ngram
    flat: list[int] = []
    lengths = np.zeros(len(word_lists), dtype=np.int64)
    sizes = np.zeros(len(word_lists), dtype=np.uint32)
    for r, words in enumerate(word_lists):
        if not words:
            continue
        if len(words) <= n:
            grams: list[str] = [" ".join(words)]
        elif n == 2:
            grams = [x + " " + y for x, y in zip(words, words[1:])]
        else:
            grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        start = len(flat)
        for g in grams:
            v = cache.get(g)
            if v is None:
                v = cache[g] = h32(g.encode("utf-8"))
            flat.append(v)
        lengths[r] = len(flat) - start
        sizes[r] = len(set(grams))
    values = np.array(flat, dtype=np.uint32)
    sigs = _signatures_flat(values, lengths, params.num_perm, params.seed)
    sketch = np.zeros((len(word_lists), SKETCH_WORDS + 1), dtype=np.uint32)
    if values.size:
        rows = np.repeat(np.arange(len(word_lists)), lengths)
        bit = values & np.uint32(SKETCH_WORDS * 32 - 1)
        np.bitwise_or.at(
            sketch,
            (rows, (bit >> np.uint32(5)).astype(np.intp)),
            np.uint32(1) << (bit & np.uint32(31)),
        )
    # A segment is at most MAX_SEGMENT_CHARS long, so far fewer than 2**16 shingles.
    sketch[:, SKETCH_WORDS] = np.minimum(sizes, _LOW16) | (
        _popcount(sketch[:, :SKETCH_WORDS]).astype(np.uint32) << np.uint32(16)
    )
    return band_keys(sigs, params.bands, params.rows), sketch


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint32, summed over the last axis."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).sum(axis=-1, dtype=np.int64)
    b = np.ascontiguousarray(x).view(np.uint8)  # pragma: no cover - numpy < 2
    return np.unpackbits(b, axis=-1).sum(axis=-1, dtype=np.int64)


def may_be_near(a: np.ndarray, b: np.ndarray, threshold: float) -> np.ndarray:
    """For rows of two sketch arrays: can the two segments' shingle Jaccard reach
    ``threshold``? Exact in one direction: ``False`` only when it cannot (the bound counts
    every hash collision inside a set as a possible shared shingle)."""
    w = SKETCH_WORDS
    ca = a[:, w].astype(np.int64)
    cb = b[:, w].astype(np.int64)
    na, nb = ca & _LOW16, cb & _LOW16
    both = _popcount(a[:, :w] & b[:, :w])
    slack = np.minimum(na - (ca >> 16), nb - (cb >> 16))
    inter = np.minimum(both + slack, np.minimum(na, nb))
    union = na + nb - inter
    ok = union > 0
    bound = np.zeros(len(a), dtype=np.float64)
    bound[ok] = inter[ok] / union[ok]
    return ok & (bound >= threshold)


_BAND_MUL = np.uint64(0x9E3779B97F4A7C15)


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One signed 64-bit key per band of each signature (``n`` x ``bands``); equal keys in the
    same band mean an LSH collision. The band number is mixed in, so keys of all bands can
    share one table."""
    n = sigs.shape[0]
    if n == 0:
        return np.zeros((0, bands), dtype=np.int64)
    s = sigs[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    with np.errstate(over="ignore"):
        h = np.arange(1, bands + 1, dtype=np.uint64)[None, :] * _BAND_MUL
        for r in range(rows):
            h = (h ^ s[:, :, r]) * np.uint64(0xFF51AFD7ED558CCD)
            h ^= h >> np.uint64(29)
    return h.view(np.int64)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Share of equal positions of two signatures: the MinHash estimate of Jaccard similarity."""
    return float(np.count_nonzero(a == b)) / len(a)


def similarity(words_a: Sequence[str], words_b: Sequence[str], ngram: int) -> float:
    """Exact Jaccard similarity of two segments' word-shingle sets (used to verify candidates)."""
    sa = set(shingles(words_a, ngram))
    sb = set(shingles(words_b, ngram))
    if not sa or not sb:
        return 0.0
    inter = len(sa & sb)
    return inter / (len(sa) + len(sb) - inter)


def word_similarity(words_a: Sequence[str], words_b: Sequence[str]) -> float:
    """Jaccard similarity of two segments' word sets."""
    sa, sb = set(words_a), set(words_b)
    if not sa or not sb:
        return 0.0
    inter = len(sa & sb)
    return inter / (len(sa) + len(sb) - inter)


def near(words_a: Sequence[str], words_b: Sequence[str], params: Params) -> float | None:
    """The n-gram similarity of two segments if they are near duplicates under ``params``.

    (:class:`Verifier` applies the two Jaccard tests first on cached sets, then calls this.)"""
    sim = similarity(words_a, words_b, params.ngram)
    if sim < params.threshold or word_similarity(words_a, words_b) < params.word_threshold:
        return None
    na, nb = _numbers(words_a), _numbers(words_b)
    if not (na <= nb or nb <= na):
        return None  # other figures ("March 20" / "March 23"): another fact, not a copy
    return sim


def _numbers(words: Iterable[str]) -> set[str]:
    # A letter is never a digit: most words are all letters and are passed over at once.
    return {w for w in words if not w.isalpha() and any(map(str.isdigit, w))}


class Verifier:
    """:func:`near` for many pairs of segments, each segment's shingle and word sets built
    once (n-grams as tuples of words: the same sets as :func:`shingles` makes, cheaper)."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self._sets: dict[int, tuple[frozenset[tuple[str, ...]], frozenset[str]]] = {}
        self._words: dict[int, Sequence[str]] = {}

    def add(self, item: int, words: Sequence[str]) -> None:
        if item in self._sets:
            return
        n = self.params.ngram
        if not words:
            grams: frozenset[tuple[str, ...]] = frozenset()
        elif len(words) <= n:
            grams = frozenset((tuple(words),))
        elif n == 2:
            grams = frozenset(zip(words, words[1:]))
        else:
            grams = frozenset(zip(*(words[i:] for i in range(n))))
        self._sets[item] = (grams, frozenset(words))
        self._words[item] = words

    def __contains__(self, item: int) -> bool:
        return item in self._sets

    def near(self, a: int, b: int) -> float | None:
        """:func:`near` of two added segments: its two Jaccard tests on the cached sets first
        (most candidates fail them), then :func:`near` itself on the few that pass."""
        ga, wa = self._sets[a]
        gb, wb = self._sets[b]
        if not ga or not gb:
            return None
        inter = len(ga & gb)
        if inter / (len(ga) + len(gb) - inter) < self.params.threshold:
            return None
        inter = len(wa & wb)
        if inter / (len(wa) + len(wb) - inter) < self.params.word_threshold:
            return None
        return near(self._words[a], self._words[b], self.params)


#: Segments of one article compared for rephrased repeats at most (beyond, exact and near
#: duplicates are still found; only the looser in-article test is skipped).
MAX_REPHRASE_SEGMENTS = 3000


#: Earlier segments examined per word of a segment's prefix in :func:`rephrased`: a word
#: that opens more segments than that is furniture of the article, not a clue.
MAX_REPHRASE_POSTINGS = 50


def rephrased(words: Sequence[Sequence[str]], params: Params) -> dict[int, list[tuple[int, float]]]:
    """Pairs of segments of one article that repeat each other in other words: for each
    segment, the earlier ones it rephrases, with their edit similarity (0..1).

    Candidates come from a prefix filter: a pair whose Jaccard reaches ``repeat_words``
    shares at least ``need = ceil(repeat_words * n)`` words of each side, so with the words
    that occur in more than one segment ordered rarest first, the two share one among the
    first ``m - need + 1`` of each (``m`` such words); only those are indexed. Each candidate is
    confirmed by word-set Jaccard, equal figures and edit similarity of the normalized texts
    (rapidfuzz), which respects word order.
    """
    from rapidfuzz.distance import Indel

    out: dict[int, list[tuple[int, float]]] = {}
    if len(words) > MAX_REPHRASE_SEGMENTS:
        return out
    t = params.repeat_words
    sets = [set(w) for w in words]
    eligible = [k for k, w in enumerate(words) if len(w) >= params.repeat_min_words]
    df = Counter(chain.from_iterable(sets[k] for k in eligible))
    # Words of one segment only can join no pair: they are left out of every prefix.
    multi = {tok for tok, n in df.items() if n > 1}
    rank = {tok: r for r, tok in enumerate(sorted(multi, key=lambda tok: (df[tok], tok)))}
    by_rank = rank.__getitem__
    postings: dict[str, list[int]] = {}
    texts: dict[int, str] = {}
    numbers: dict[int, set[str]] = {}
    for k in eligible:
        s_k = sets[k]
        n_k = len(s_k)
        # the fewest common words a set of n_k words needs (a hair low: rounding must never
        # shorten the prefix and lose a pair)
        need = math.ceil(t * n_k - 1e-9)
        common = s_k & multi
        if len(common) < need:
            continue  # shares too few words with the rest of the article for any pair
        prefix = sorted(common, key=by_rank)[: len(common) - need + 1]
        seen: set[int] = set()
        for tok in prefix:
            lst = postings.setdefault(tok, [])
            for j in lst[:MAX_REPHRASE_POSTINGS]:
                seen.add(j)
            lst.append(k)
        if not seen:
            continue
        texts[k] = text_k = " ".join(words[k])
        numbers_k = numbers[k] = _numbers(s_k)
        for j in sorted(seen):
            s_j = sets[j]
            if len(s_j) < t * n_k - 1e-9 or n_k < t * len(s_j) - 1e-9:
                continue  # sizes too far apart for the Jaccard to reach t
            inter = len(s_j & s_k)
            if inter / (len(s_j) + n_k - inter) < t:
                continue
            if numbers.setdefault(j, _numbers(s_j)) != numbers_k:
                continue  # other figures: another fact, not the same sentence reworded
            text_j = texts.get(j)
            if text_j is None:
                text_j = texts[j] = " ".join(words[j])
            ratio = Indel.normalized_similarity(text_j, text_k)
            if ratio >= params.repeat_ratio:
                out.setdefault(k, []).append((j, round(ratio, 4)))
    return out


def signature_bytes(sig: np.ndarray) -> bytes:
    """A signature as stored: little-endian uint32 values."""
    return sig.astype("<u4").tobytes()


def signature_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)
