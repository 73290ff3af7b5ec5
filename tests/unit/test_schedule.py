import random

from connectors.config import FeedSpec
from connectors.schedule import (
    FeedState,
    SchedulePolicy,
    max_age,
    next_interval,
    publishing_interval,
)
from connectors.state import StateStore, in_shard, shard_feeds

P = SchedulePolicy(default_interval=900, min_interval=300, max_interval=21600, error_base=60)


def test_publishing_rate_drives_the_interval_within_bounds() -> None:
    hourly = [f"2026-11-02T{h:02d}:00:00Z" for h in range(10)]
    assert publishing_interval(hourly) == 1800
    st = FeedState("u")
    assert next_interval(P, FeedSpec("u"), st, "ok", published=hourly) == 1800
    every_minute = [f"2026-11-02T10:{m:02d}:00Z" for m in range(10)]
    assert next_interval(P, FeedSpec("u"), st, "ok", published=every_minute) == 300
    yearly = ["2020-01-01T00:00:00Z", "2026-01-01T00:00:00Z"]
    assert next_interval(P, FeedSpec("u"), st, "ok", published=yearly) == 21600
    assert next_interval(P, FeedSpec("u"), FeedState("u"), "ok", published=[]) == 900


def test_explicit_interval_ttl_and_max_age() -> None:
    st = FeedState("u")
    assert next_interval(P, FeedSpec("u", interval=600), st, "ok") == 600
    assert next_interval(P, FeedSpec("u", interval=600), st, "ok", ttl=3600) == 3600
    h = {"cache-control": "public, max-age=7200"}
    assert max_age(h) == 7200
    assert next_interval(P, FeedSpec("u", interval=600), st, "not_modified", headers=h) == 7200


def test_error_backoff_is_exponential_jittered_and_capped() -> None:
    rng = random.Random(1)
    waits = []
    for errors in range(1, 12):
        st = FeedState("u", errors=errors)
        waits.append(next_interval(P, FeedSpec("u"), st, "server_error", rng=rng))
    for e, w in enumerate(waits[:6], 1):
        assert 30 * 2 ** (e - 1) <= w <= 60 * 2 ** (e - 1)
    assert max(waits) <= 21600
    st = FeedState("u", errors=1)
    assert next_interval(P, FeedSpec("u"), st, "rate_limited", retry_after=5000, rng=rng) >= 5000


def test_seen_ids_bounded_and_fresh_in_order() -> None:
    st = FeedState("u")
    assert st.remember(["a", "b", "a"], keep=3) == ["a", "b"]
    assert st.remember(["b", "c", "d"], keep=3) == ["c", "d"]
    assert st.seen == ["b", "c", "d"]


def test_state_round_trip_and_corrupt_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = StateStore(tmp_path / "s.json")
    st = FeedState("u", etag='"x"', next_due=5.0, seen=["a"], current_url="v")
    store.save([st])
    assert store.load() == {"u": st}
    (tmp_path / "s.json").write_text("{garbage")
    assert store.load() == {}


def test_shards_split_without_overlap() -> None:
    feeds = [FeedSpec(f"https://f{i}.example.com/rss") for i in range(300)]
    parts = [shard_feeds(feeds, i, 3) for i in range(3)]
    urls = [f.url for p in parts for f in p]
    assert sorted(urls) == sorted(f.url for f in feeds)
    assert all(60 < len(p) < 140 for p in parts)
    assert in_shard("x", 0, 1)


def test_feed_silence_once_after_a_long_quiet() -> None:
    from connectors.schedule import silent

    p = SchedulePolicy(silence_factor=6, silence_min=3600)
    st = FeedState("u", last_new=1000.0, mean_gap=600.0)
    assert not silent(st, 1000.0 + 3000, p)  # quiet, but not for long
    assert silent(st, 1000.0 + 4000, p)
    st.silenced_at = 5000.0
    assert not silent(st, 9000.0, p)  # said once
    st.last_new = 9500.0  # it published again ... and went quiet again
    assert silent(st, 9500.0 + 4000, p)
    assert not silent(FeedState("v"), 1e9, p)  # never published: nothing usual to miss
