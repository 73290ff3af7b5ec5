from newsmon.trends import TrendPolicy, add, keys_for, silence, spike

P = TrendPolicy(window_seconds=3600, baseline=6, z=3.0, min_volume=3, min_std=0.5)


def test_keys_for_countries_and_pairs() -> None:
    assert keys_for(["UA", "RU", "RU", "x1"]) == ["RU", "UA", "RU|UA"]


def test_spike_after_a_steady_baseline_and_only_once() -> None:
    state: dict = {}
    for h in range(6):  # 3 mildly tense articles an hour
        for _ in range(3):
            add(state, h * 3600 + 60, 20, P)
    w = 0
    for _ in range(10):  # then 10 very tense ones
        w = add(state, 6 * 3600 + 60, 90, P)
    rec = spike("UA", state, w, P)
    assert rec and rec["kind"] == "spike" and rec["z"] >= 3 and rec["articles"] == 10
    assert spike("UA", state, w, P) is None  # reported once per window


def test_no_spike_for_steady_or_thin_traffic() -> None:
    state: dict = {}
    for h in range(7):
        for _ in range(3):
            w = add(state, h * 3600 + 60, 20, P)
    assert spike("FR", state, w, P) is None
    thin: dict = {}
    w = add(thin, 10, 100, P)
    assert spike("XX", thin, w, P) is None  # below the minimum volume


def test_silence_when_a_usual_producer_goes_quiet() -> None:
    state: dict = {}
    for h in range(6):
        for _ in range(4):
            add(state, h * 3600 + 60, 10, P)
    assert silence("UA", state, 6 * 3600 + 700, P) is None  # hour 5 was not empty
    assert silence("UA", state, 7 * 3600 + 10, P) is None  # hour 6 may still get late items
    rec = silence("UA", state, 7 * 3600 + P.grace + 10, P)  # hour 6 had nothing
    assert rec and rec["kind"] == "silence" and rec["window_start"] == 6 * 3600
    assert silence("UA", state, 7 * 3600 + P.grace + 20, P) is None
    assert silence("ZZ", {}, 7 * 3600, P) is None


def test_event_time_is_published_but_never_far_past_the_fetch() -> None:
    from datetime import UTC, datetime

    from newsmon.trends import CLOCK_SKEW, event_time

    def ts(s: str) -> float:
        return datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()

    now = ts("2026-11-30T12:00:00")
    fetched = "2026-11-30T11:00:00Z"
    assert event_time("2026-11-30T09:30:00Z", fetched, now) == ts("2026-11-30T09:30:00")
    assert event_time("2026-11-30T09:30:00", fetched, now) == ts("2026-11-30T09:30:00")
    # a feed's clock a few minutes ahead is believed; next week is the fetch time + skew
    assert event_time("2026-11-30T11:05:00Z", fetched, now) == ts("2026-11-30T11:05:00")
    assert event_time("2026-12-07T11:00:00Z", fetched, now) == ts(fetched[:-1]) + CLOCK_SKEW
    # a fetch time in the future is no better: now bounds it
    assert event_time("2031-01-01T00:00:00Z", "2031-01-01T00:00:00Z", now) == now + CLOCK_SKEW
    # no usable published time: the fetch time, else now
    assert event_time(None, fetched, now) == ts(fetched[:-1])
    assert event_time("next tuesday", None, now) == now
    assert event_time(12345, "garbage", now) == now


def test_a_future_dated_article_cannot_wipe_a_key_or_silence_it() -> None:
    from newsmon.trends import event_time

    state: dict = {}
    now = 7 * 3600 + 30.0
    for h in range(7):
        for _ in range(4):
            add(state, h * 3600 + 60, 10, P)
    # "published" a year ahead, fetched a minute ago
    ts = event_time("1971-01-01T00:00:00Z", "1970-01-01T07:00:00Z", now)
    add(state, ts, 10, P)
    assert sorted(int(w) for w in state["w"]) == [h * 3600 for h in range(8)]  # kept
    assert silence("UA", state, max(now, ts), P) is None


def test_no_spike_for_a_window_long_past() -> None:
    state: dict = {}
    for h in range(6):
        for _ in range(3):
            add(state, h * 3600 + 60, 20, P)
    for _ in range(10):
        w = add(state, 6 * 3600 + 60, 90, P)
    assert spike("UA", dict(state), w, P, now=9 * 3600) is None  # two windows on: late news
    assert spike("UA", dict(state), w, P, now=7 * 3600 + 5) is not None  # the previous one
    assert spike("UA", state, w, P, now=6 * 3600 + 61) is not None
