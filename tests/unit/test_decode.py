"""Content-Encoding decoding in the fetcher: every layer, every member, any split."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from connectors.fetch import _Decoder, _TooLarge

TEXT = b"".join(b"<item><title>story %d</title></item>" % i for i in range(5000))


def decode(body: bytes, encodings: list[str], limit: int = 10 << 20, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    decoder = _Decoder(encodings, limit)
    out, i = [], 0
    while i < len(body):
        n = rng.choice([1, 2, 7, 100, 4096, 70_000])
        out += decoder.feed(body[i:i + n])
        i += n
    return b"".join(out)


def raw_deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("body, encodings, expected", [
    (TEXT, [], TEXT),
    (TEXT, ["identity"], TEXT),
    (gzip.compress(TEXT), ["gzip"], TEXT),
    (gzip.compress(TEXT), ["x-gzip"], TEXT),
    (zlib.compress(TEXT), ["deflate"], TEXT),
    (raw_deflate(TEXT), ["deflate"], TEXT),
    (gzip.compress(zlib.compress(TEXT)), ["deflate", "gzip"], TEXT),
    (gzip.compress(gzip.compress(TEXT)), ["gzip", "gzip"], TEXT),
    (gzip.compress(TEXT[:10]) + gzip.compress(TEXT[10:]), ["gzip"], TEXT),
    (gzip.compress(TEXT[:10]) + b"\0" * 100 + gzip.compress(TEXT[10:]) + b"\0" * 9, ["gzip"],
     TEXT),
    (gzip.compress(gzip.compress(b"a")) + gzip.compress(gzip.compress(b"b") + gzip.compress(b"c")),
     ["gzip", "gzip"], b"abc"),
], ids=["none", "identity", "gzip", "x-gzip", "deflate", "raw-deflate", "deflate-gzip",
        "gzip-gzip", "two-members", "padded-members", "members-in-both-layers"])
def test_decoded_whole_whatever_the_split(body: bytes, encodings: list[str], expected: bytes,
                                          seed: int) -> None:
    assert decode(body, encodings, seed=seed) == expected


def test_every_layer_counts_against_the_limit() -> None:
    inner = gzip.compress(b"x") + b"\0" * (3 << 20)  # small output, large middle layer
    with pytest.raises(_TooLarge, match="layer 1 of 2"):
        decode(gzip.compress(inner), ["gzip", "gzip"], limit=1 << 20)
    assert decode(gzip.compress(inner), ["gzip", "gzip"], limit=4 << 20) == b"x"


def test_every_member_counts_against_the_limit() -> None:
    with pytest.raises(_TooLarge, match="after decompression"):
        decode(gzip.compress(b"\0" * (600 << 10)) * 2, ["gzip"], limit=1 << 20)


def test_each_step_makes_at_most_64_kib() -> None:
    decoder = _Decoder(["gzip"], 100 << 20)
    pieces = list(decoder.feed(gzip.compress(b"\0" * (8 << 20))))
    assert max(map(len, pieces)) <= 64 * 1024 and sum(map(len, pieces)) == 8 << 20


@pytest.mark.parametrize("body, encodings", [
    (gzip.compress(TEXT) + b"garbage", ["gzip"]),
    (zlib.compress(TEXT) + b"garbage", ["deflate"]),
    (b"not compressed at all", ["gzip"]),
])
def test_corrupt_bodies_raise(body: bytes, encodings: list[str]) -> None:
    with pytest.raises(zlib.error):
        decode(body, encodings)


def test_unknown_encoding_refused() -> None:
    with pytest.raises(_TooLarge, match="unsupported"):
        _Decoder(["br"], 1 << 20)
