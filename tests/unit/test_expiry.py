import random

from hypothesis import given
from hypothesis import strategies as st

from newsmon.expiry import ExpiryQueue


def test_due_pops_what_is_older_per_partition() -> None:
    q: ExpiryQueue[str] = ExpiryQueue()
    q.add(0, "a", 1.0)
    q.add(1, "b", 2.0)
    q.add(0, "c", 3.0)
    q.add(0, "a", 4.0)  # written again: queued under its later time too
    assert q.due(0, 3.5) == ["a", "c"]
    assert q.due(0, 3.5) == []  # popped
    assert q.due(1, 1.0) == []
    assert q.due(1, 2.5) == ["b"]
    assert q.due(0, 10.0) == ["a"]
    assert q.due(7, 10.0) == [] and len(q) == 0


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from("abcdefg"),
                          st.floats(0, 100, allow_nan=False)), max_size=60),
       st.floats(0, 100, allow_nan=False))
def test_sweeping_the_queue_expires_what_a_scan_would(writes: list[tuple[int, str, float]],
                                                      cutoff: float) -> None:
    """A table written in time order: popping the queue and checking each key's current
    time removes exactly the keys a full scan of the table would, and rebuilding the queue
    from the table (a recovery) gives the same answer."""
    writes = sorted(writes, key=lambda w: w[2])
    table: dict[str, tuple[int, float]] = {}
    q: ExpiryQueue[str] = ExpiryQueue()
    for part, key, t in writes:
        part = table.get(key, (part, 0.0))[0]  # a key lives in one partition
        table[key] = (part, t)
        q.add(part, key, t)
    scan = {k for k, (_, t) in table.items() if t < cutoff}
    rebuilt: ExpiryQueue[str] = ExpiryQueue()
    items = list(table.items())
    random.Random(0).shuffle(items)
    rebuilt.rebuild((p, k, t) for k, (p, t) in items)
    for queue in (q, rebuilt):
        swept = {k for p in range(4) for k in queue.due(p, cutoff) if table[k][1] < cutoff}
        assert swept == scan
