import random

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from newsmon.analysis.neardup import (
    BANDS,
    DUP_BANDS,
    LSHIndex,
    band_keys,
    decide,
    probe_band,
    signature,
    similarity,
    syndicated_copies,
)
from tests.helpers import seed_items

TEXT = seed_items()[0].content


def test_signature_is_deterministic_and_sensitive() -> None:
    a, b = signature(TEXT), signature(TEXT)
    assert np.array_equal(a, b)
    assert similarity(a, signature("An entirely different article about football scores.")) < 0.1
    assert len(band_keys(a)) == BANDS and len(set(band_keys(a))) == BANDS


def test_copies_found_distinct_not() -> None:
    index = LSHIndex()
    assert index.add("orig", TEXT).duplicate_of is None
    rng = random.Random(1)
    for kind, copy in syndicated_copies(TEXT, rng):
        m = index.add(f"copy-{kind}", copy)
        assert m.duplicate_of == "orig", kind
        assert m.story_id == "orig"
    teaser = seed_items()[1][0]
    assert index.add("other", teaser.summary).duplicate_of is None


def test_decide_prefers_the_earliest_close_candidate() -> None:
    shared = {"b": BANDS, "a": DUP_BANDS, "c": 1}
    order = {"a": 1.0, "b": 2.0, "c": 0.5}
    m = decide("x", shared, {"a": "s-a"}, order)
    assert m.duplicate_of == "a" and m.story_id == "s-a"
    assert decide("x", {"c": 1}, {}).story_id == "x"
    assert decide("x", {}, {}).duplicate_of is None


def test_index_forgets_oldest() -> None:
    index = LSHIndex(max_articles=2)
    for i in range(3):
        index.add(f"a{i}", TEXT + f" variant {i}")
    assert list(index.keys) == ["a1", "a2"]
    assert all("a0" not in members for members in index.bands.values())


@given(st.text())
def test_signature_never_raises(s: str) -> None:
    assert signature(s).shape == (BANDS * 5,)


def test_probe_band_answers_with_earlier_members_only_and_joins_once() -> None:
    answer, members = probe_band([["a", "a", 1.0]], "b", 2.0, keep=64)
    assert answer == [["a", "a", 1.0]] and [m[0] for m in members] == ["a", "b"]
    members = [*members, ["c", "c", 3.0]]
    # "b" asked again later (a lost answer, a redelivered probe): same answer, no rejoin.
    again, after = probe_band(members, "b", 9.0, keep=64)
    assert again == answer and [m[0] for m in after] == ["a", "b", "c"]
    # Two probes at the same time: the order is by id, so only one sees the other.
    assert probe_band([["x", "x", 5.0]], "y", 5.0, keep=64)[0] == [["x", "x", 5.0]]
    assert probe_band([["y", "y", 5.0]], "x", 5.0, keep=64)[0] == []
    assert [m[0] for m in probe_band(members, "d", 4.0, keep=2)[1]] == ["c", "d"]
