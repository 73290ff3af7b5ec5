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
    assert silence("UA", state, 6 * 3600 + 10, P) is None  # hour 5 was not empty
    rec = silence("UA", state, 7 * 3600 + 10, P)  # hour 6 had nothing
    assert rec and rec["kind"] == "silence" and rec["window_start"] == 6 * 3600
    assert silence("UA", state, 7 * 3600 + 20, P) is None
    assert silence("ZZ", {}, 7 * 3600, P) is None
