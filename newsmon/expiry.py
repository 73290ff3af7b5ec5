"""Keys of a state table in the order they were written, per partition, so that expiring
old state costs what expires rather than a scan of everything kept.

A sweep of a Faust table used to list every entry of the table, once for each of the
worker's partitions: with a 72-hour window that is every article of three days, each
sweep. :class:`ExpiryQueue` keeps ``(time, key)`` per partition in write order; a sweep
pops the entries older than the window and the caller checks each against the table
(the key may have been written again since, or removed). Pure bookkeeping: nothing here
knows Kafka.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, MutableMapping
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class ExpiryQueue(Generic[K]):
    def __init__(self) -> None:
        self._queues: dict[int, deque[tuple[float, K]]] = {}

    def add(self, partition: int, key: K, t: float) -> None:
        """``key`` of ``partition`` was written at ``t`` (times of one partition are
        expected to be written in order; a late one waits behind later ones)."""
        self._queues.setdefault(partition, deque()).append((t, key))

    def due(self, partition: int, before: float) -> list[K]:
        """Remove and return ``partition``'s keys written before ``before``, oldest first.
        A key written again later is also queued under its later time."""
        queue = self._queues.get(partition)
        out: list[K] = []
        while queue and queue[0][0] < before:
            out.append(queue.popleft()[1])
        return out

    def rebuild(self, entries: Iterable[tuple[int, K, float]]) -> None:
        """The queues of these ``(partition, key, time)`` entries alone (after a recovery)."""
        self._queues = {}
        for partition, key, t in sorted(entries, key=lambda e: e[2]):
            self.add(partition, key, t)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())


def drop_expired(state: MutableMapping[K, Any], queue: ExpiryQueue[K], partition: int,
                 now: float, window: float, written_at: Callable[[Any], float]) -> list[K]:
    """Remove from ``state`` the keys of ``partition`` last written (``written_at`` of the
    value) more than ``window`` seconds before ``now``; return them."""
    gone: list[K] = []
    for key in queue.due(partition, now - window):
        value = state.get(key)
        if value is not None and now - written_at(value) > window:
            state.pop(key, None)
            gone.append(key)
    return gone
