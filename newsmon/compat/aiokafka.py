"""Private internals of aiokafka that newsmon uses, and their start-up check."""

from __future__ import annotations


def check() -> None:
    """Verify every private name this module relies on; raise CompatError if one is gone."""
