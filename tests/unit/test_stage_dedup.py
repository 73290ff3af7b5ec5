"""The dedup stage's decision and the expiry shared by the stateful stages (no broker)."""

from newsmon.expiry import ExpiryQueue, drop_expired
from newsmon.stages.dedup import is_duplicate

WINDOW = 3600.0


def test_an_id_is_a_duplicate_within_the_window_or_the_batch() -> None:
    seen: dict[bytes, float] = {b"a": 1000.0}
    assert not is_duplicate(seen, set(), b"b", 1010.0, WINDOW)
    assert is_duplicate(seen, set(), b"a", 1000.0 + WINDOW - 1, WINDOW)
    assert not is_duplicate(seen, set(), b"a", 1000.0 + WINDOW, WINDOW)  # seen too long ago
    assert is_duplicate(seen, {b"b"}, b"b", 1010.0, WINDOW)  # let through, not yet written


def test_drop_expired_removes_only_what_is_still_old() -> None:
    state = {"old": {"t": 0.0}, "rewritten": {"t": 5000.0}, "young": {"t": 4000.0}}
    queue: ExpiryQueue[str] = ExpiryQueue()
    for key, t in (("old", 0.0), ("rewritten", 10.0), ("young", 4000.0)):
        queue.add(0, key, t)
    queue.add(1, "other", 0.0)
    gone = drop_expired(state, queue, 0, 5000.0, WINDOW, lambda v: v["t"])
    assert gone == ["old"]
    assert set(state) == {"rewritten", "young"}
    assert len(queue) == 2  # young waits; the other partition's key is not this sweep's
