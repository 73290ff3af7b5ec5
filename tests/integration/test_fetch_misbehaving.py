"""The fetcher against a real, misbehaving HTTP server on 127.0.0.1 (no Kafka needed)."""

from __future__ import annotations

import functools
import time
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from connectors.config import FeedSpec
from connectors.fetch import Fetcher, FetchLimits
from connectors.parse import DEFAULT_BUDGET, parse_feed
from connectors.safety import AddressPolicy
from connectors.schedule import FeedState, SchedulePolicy, next_interval
from tests.integration.misbehaving import (
    GOOD_FEED,
    Server,
    gzip_bomb,
    many_items,
    misbehaving_server,
    zero_run_bomb,
)

LOCAL = AddressPolicy.from_strings(["127.0.0.1/32"])


@functools.cache
def payloads() -> tuple[bytes, bytes, bytes, bytes]:
    return gzip_bomb(1 << 30), gzip_bomb(64 << 20, 3), many_items(100_000), zero_run_bomb()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    bomb, stacked, many, zero_run = payloads()
    async with misbehaving_server(bomb=bomb, stacked_bomb=stacked, many=many,
                                  zero_run=zero_run) as s:
        yield s


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    f = Fetcher(FetchLimits(deadline=3.0), policy=LOCAL)
    yield f
    await f.aclose()


async def test_the_default_policy_refuses_loopback(server: Server) -> None:
    f = Fetcher()
    try:
        r = await f.fetch(server.base + "/good")
    finally:
        await f.aclose()
    assert r.outcome == "refused" and "127.0.0.1" in (r.error or "")
    assert server.hits.get("/good") is None  # refused before connecting


async def test_conditional_get(server: Server, fetcher: Fetcher) -> None:
    first = await fetcher.fetch(server.base + "/cond")
    assert first.outcome == "ok" and first.headers["etag"] == '"v1"'
    state = FeedState(server.base + "/cond", etag='"v1"',
                      last_modified=first.headers["last-modified"])
    second = await fetcher.fetch(server.base + "/cond", headers=state.conditional_headers())
    assert second.outcome == "not_modified" and second.body == b""
    sent = server.headers["/cond"][1]
    assert sent["If-None-Match"] == '"v1"' and "If-Modified-Since" in sent
    wait = next_interval(SchedulePolicy(min_interval=60), FeedSpec(state.url), state,
                         "not_modified", headers=second.headers | first.headers)
    assert wait >= 1200  # Cache-Control: max-age honoured


async def test_retry_after_honoured(server: Server, fetcher: Fetcher) -> None:
    r = await fetcher.fetch(server.base + "/429")
    assert r.outcome == "rate_limited" and r.retry_after == 120
    st = FeedState("x", errors=1)
    assert next_interval(SchedulePolicy(), FeedSpec("x"), st, r.outcome,
                         retry_after=r.retry_after) >= 120
    r = await fetcher.fetch(server.base + "/503-date")
    assert r.outcome == "server_error" and r.retry_after is not None and r.retry_after > 1e6


async def test_500_then_recover(server: Server, fetcher: Fetcher) -> None:
    assert (await fetcher.fetch(server.base + "/flaky")).outcome == "server_error"
    assert (await fetcher.fetch(server.base + "/flaky")).outcome == "ok"


async def test_redirects(server: Server, fetcher: Fetcher) -> None:
    assert (await fetcher.fetch(server.base + "/loop")).outcome == "redirect_error"
    assert (await fetcher.fetch(server.base + "/chain/5")).outcome == "ok"
    too_many = await fetcher.fetch(server.base + "/chain/6")
    assert too_many.outcome == "redirect_error" and "more than 5" in (too_many.error or "")
    assert (await fetcher.fetch(server.base + "/ftp")).outcome == "redirect_error"
    moved = await fetcher.fetch(server.base + "/moved")
    assert moved.outcome == "ok" and moved.permanent_url == server.base + "/good"
    temp = await fetcher.fetch(server.base + "/moved-temp")
    assert temp.outcome == "ok" and temp.permanent_url is None


@pytest.mark.parametrize("target", [
    "http://127.0.0.2:{port}/good",          # loopback, not in the allow-list
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.1.2.3/feed",                  # private
    "http://100.64.0.1/feed",                # CGNAT
    "http://[::ffff:127.0.0.2]:{port}/good",  # IPv4-mapped loopback
    "http://[64:ff9b::a01:203]/feed",        # NAT64 form of 10.1.2.3
    "http://0.0.0.0:{port}/good",            # unspecified
    "http://224.0.0.1/feed",                 # multicast
])
async def test_redirect_to_forbidden_addresses_refused(server: Server, fetcher: Fetcher,
                                                       target: str) -> None:
    from urllib.parse import quote

    url = target.format(port=server.port)
    r = await fetcher.fetch(f"{server.base}/to/x?u={quote(url, safe='')}")
    assert r.outcome == "refused", (r.outcome, r.error)
    direct = await fetcher.fetch(url)
    assert direct.outcome == "refused"


async def test_slowloris_cut_off_by_one_deadline(server: Server, fetcher: Fetcher) -> None:
    t0 = time.monotonic()
    r = await fetcher.fetch(server.base + "/slow")
    assert r.outcome == "timeout"
    assert time.monotonic() - t0 < 4.5


async def test_gzip_bomb_bounded(server: Server, fetcher: Fetcher) -> None:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        r = await fetcher.fetch(server.base + "/bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.outcome == "too_large"
    assert peak < 40 * 1024 * 1024, peak
    stacked = await fetcher.fetch(server.base + "/stacked")
    assert stacked.outcome == "too_large" and "Content-Encoding" in (stacked.error or "")


async def test_stacked_gzip_over_a_zero_run_is_cut_at_the_cap_quickly(
        server: Server, fetcher: Fetcher) -> None:
    # gzip, gzip: the inner stream is a small gzip member then 1 GiB of zeros, about
    # 1 MiB on the wire. The outer layer's output counts against the cap, so the
    # fetch stops after max_bytes (10 MiB) of it: in well under a second, in memory
    # bounded by the cap (the fixture's deadline is 3 s; 10 s leaves room for a
    # busy machine and tracemalloc's own cost).
    assert len(payloads()[3]) < 2 << 20
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        t0 = time.monotonic()
        r = await fetcher.fetch(server.base + "/gzip-gzip-zeros")
        elapsed = time.monotonic() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.outcome == "too_large", (r.outcome, r.error)
    assert "layer 1 of 2" in (r.error or "")
    assert elapsed < 10, elapsed
    assert peak < 40 * 1024 * 1024, peak


async def test_every_gzip_member_is_returned(server: Server, fetcher: Fetcher) -> None:
    t0 = time.monotonic()
    r = await fetcher.fetch(server.base + "/members")
    assert time.monotonic() - t0 < 10
    assert r.outcome == "ok" and r.body == GOOD_FEED, r.body[-80:]


async def test_every_gzip_member_counts_against_the_cap(server: Server,
                                                        fetcher: Fetcher) -> None:
    t0 = time.monotonic()
    r = await fetcher.fetch(server.base + "/many-members")
    assert time.monotonic() - t0 < 10
    assert r.outcome == "too_large" and "after decompression" in (r.error or ""), r.error


async def test_huge_body_cut_at_the_cap(server: Server, fetcher: Fetcher) -> None:
    r = await fetcher.fetch(server.base + "/huge")
    assert r.outcome == "too_large" and r.body == b""


async def test_many_items_feed(server: Server) -> None:
    f = Fetcher(FetchLimits(deadline=30.0), policy=LOCAL)
    try:
        r = await f.fetch(server.base + "/many")
    finally:
        await f.aclose()
    assert r.outcome == "ok"
    parsed = parse_feed(r.body, server.base + "/many", "t")
    # 100,000 items fetched; the parse stops at the budget's entries, in feed order.
    assert len(parsed.entries) == DEFAULT_BUDGET.max_entries and parsed.capped
    assert parsed.entries[-1].title == f"i{DEFAULT_BUDGET.max_entries - 1}"
