"""Exact deduplication by article id. Pure logic.

``seen`` maps an article id (the Kafka key bytes) to the time it was let through; the
worker writes it only once what it let through is acknowledged, so a batch also keeps
the ids it let through but has not yet written (``passed``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping


def is_duplicate(seen: Mapping[bytes, float | None], passed: Collection[bytes], aid: bytes,
                 now: float, window: float) -> bool:
    """Was ``aid`` let through already, in this batch or less than ``window`` seconds ago?"""
    if aid in passed:
        return True
    first = seen.get(aid)
    return first is not None and now - first < window
