"""Fingerprints: exact keys, datasketch-equal signatures, band keys, similarity."""

import datasketch
import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.fingerprint import (
    Params,
    band_keys,
    exact_key,
    jaccard,
    shingle_hashes,
    shingles,
    signature_bytes,
    signature_from_bytes,
    signatures,
    similarity,
)

WORDS = "the anonymous agent said news nation that the us government has no control".split()


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7), (256, 42)])
def test_signatures_equal_datasketch(num_perm, seed):
    sets = [WORDS, WORDS[:5], ["one"], WORDS[3:]]
    sigs = signatures([shingle_hashes(w, 2) for w in sets], num_perm, seed)
    for w, sig in zip(sets, sigs):
        m = datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=xxhash.xxh32_intdigest)
        m.update_batch(shingles(w, 2))
        assert m.scheme == "affine32"
        assert np.array_equal(m.hashvalues, sig)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=30), max_size=8))
def test_batched_signatures_equal_one_by_one(word_lists):
    hashes = [shingle_hashes(w, 2) for w in word_lists]
    together = signatures(hashes, 64, 3)
    for h, sig in zip(hashes, together):
        assert np.array_equal(signatures([h], 64, 3)[0], sig)


def test_empty_set_signature_is_all_max():
    sig = signatures([np.array([], dtype=np.uint32)], 16, 1)[0]
    assert (sig == 0xFFFFFFFF).all()


def test_exact_key_is_a_signed_64_bit_int_and_stable():
    k = exact_key("hello world")
    assert -(1 << 63) <= k < (1 << 63)
    assert k == exact_key("hello world") != exact_key("hello worlds")


def test_band_keys_collide_only_on_equal_bands():
    a = signatures([shingle_hashes(WORDS, 2)], 128, 1)
    b = a.copy()
    b[0, 0] ^= 1  # differs in band 0 only
    ka, kb = band_keys(a, 32, 4), band_keys(b, 32, 4)
    assert ka.shape == (1, 32)
    assert ka[0, 0] != kb[0, 0]
    assert (ka[0, 1:] == kb[0, 1:]).all()
    assert len(set(ka[0].tolist())) == 32  # bands are mixed in


def test_signature_bytes_round_trip():
    s = signatures([shingle_hashes(WORDS, 2)], 128, 1)[0]
    assert np.array_equal(signature_from_bytes(signature_bytes(s)), s)
    assert len(signature_bytes(s)) == 512


def test_similarity_and_estimate_agree_roughly():
    other = WORDS[:-1] + ["power"]
    exact = similarity(WORDS, other, 2)
    sa, sb = signatures([shingle_hashes(WORDS, 2), shingle_hashes(other, 2)], 256, 1)
    assert exact == pytest.approx(11 / 13)
    assert abs(jaccard(sa, sb) - exact) < 0.15


def test_params_validate():
    with pytest.raises(ValueError, match="exceeds num_perm"):
        Params(num_perm=64, bands=32, rows=4)
    with pytest.raises(ValueError, match="threshold"):
        Params(threshold=0)
