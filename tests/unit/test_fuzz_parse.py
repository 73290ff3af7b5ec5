"""Mutation fuzzing of the feed parse step, seeded with feedparser's own test suite:
no exception escapes, and memory stays bounded."""

from __future__ import annotations

import random
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.parse import parse_feed
from tests.helpers import DATA, require_shared

SEEDS = sorted(p for p in (DATA / "feeds/feedparser-suite").rglob("*") if p.is_file()
               and p.suffix in (".xml", ".json"))


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(5)
        pos = rng.randrange(len(b) + 1)
        if op == 0 and b:  # flip a byte
            b[min(pos, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert markup or an entity
            b[pos:pos] = rng.choice([b"<", b"&", b"]]>", b"<![CDATA[", b"&#0;", b"\xff\xfe",
                                     b"<item>", b"</channel>", b"&amp;amp;", b"\x00"])
        elif op == 2 and b:  # delete a span
            del b[pos:pos + rng.randrange(1, 40)]
        elif op == 3 and b:  # duplicate a span
            span = bytes(b[pos:pos + rng.randrange(1, 200)])
            b[pos:pos] = span * rng.randint(1, 20)
        else:  # truncate
            del b[pos:]
    return bytes(b)


def test_seed_corpus_present() -> None:
    require_shared()
    assert len(SEEDS) > 1500


def test_mutated_feeds_never_raise_and_stay_bounded() -> None:
    require_shared()
    rng = random.Random(20211202)
    tracemalloc.start()
    try:
        for i in range(1500):
            seed = SEEDS[rng.randrange(len(SEEDS))].read_bytes()
            data = mutate(seed, rng)
            tracemalloc.reset_peak()
            parsed = parse_feed(data, "https://fuzz.example/feed", "2026-01-01T00:00:00Z",
                                {"content-type": rng.choice(["application/xml",
                                                             "text/html; charset=koi8-r",
                                                             "application/feed+json"])})
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < 64 * 1024 * 1024, (i, peak)
            for e in parsed.entries:
                assert isinstance(e.title, str) and isinstance(e.id, str)
    finally:
        tracemalloc.stop()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parse_feed(data, "https://fuzz.example/feed", "2026-01-01T00:00:00Z")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=2000))
def test_arbitrary_text_in_an_item_never_raises(s: str) -> None:
    body = ("<rss version='2.0'><channel><title>t</title><item><title>" + s +
            "</title><description>" + s + "</description></item></channel></rss>")
    parse_feed(body.encode("utf-8", "surrogatepass"), "https://fuzz.example/feed", "t")
