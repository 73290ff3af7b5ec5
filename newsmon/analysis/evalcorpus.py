"""The labelled tension evaluation corpus (``newsmon/data/eval/<part>/*.jsonl``).

Two parts, fixed when each item was written: ``dev`` (for tuning) and ``test``
(held out: never tune on it). An item belongs to ``test`` when
``int(sha256(id).hexdigest(), 16) % 100 < 35`` (:func:`part_of`).

Written items carry their text. Feed items (``"source": "feed"``) are references
into the shared data folder (``file`` relative to it, ``entry`` an index into
feedparser's entries list); their title and summary are read from there at load
time and never copied into the project. Without the data folder they are skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

LABELS = ("conflict", "cooperation", "neutral")
KINDS = ("headline", "short", "article", "sentence")
PARTS = ("dev", "test")
TEST_PERCENT = 35

_html_to_text: Callable[[str], str] | None
try:
    from newsmon.analysis.text import html_to_text as _imported
    _html_to_text = _imported
except ImportError:  # pragma: no cover - text.py ships with newsmon
    _html_to_text = None


@dataclass(frozen=True, slots=True)
class EvalItem:
    id: str
    label: str
    kind: str
    topic: str
    title: str
    text: str
    entities: tuple[tuple[str, str], ...]
    source: str


def part_of(item_id: str) -> str:
    """The part an id belongs to: ``"test"`` for 35% of ids by hash, else ``"dev"``."""
    bucket = int(hashlib.sha256(item_id.encode("utf-8")).hexdigest(), 16) % 100
    return "test" if bucket < TEST_PERCENT else "dev"


def _strip_html(markup: str) -> str:
    if _html_to_text is not None:
        return _html_to_text(markup)
    return " ".join(re.sub(r"<[^>]*>", " ", markup).split())  # pragma: no cover


@cache
def _entries(path: Path) -> list[Any]:
    import feedparser

    parsed = feedparser.parse(path.read_bytes())
    return list(parsed.entries)


def _resolve_feed(row: dict[str, Any], data: Path) -> tuple[str, str]:
    """Title and plain-text summary of the referenced feed entry."""
    entry = _entries(data / row["file"])[row["entry"]]
    title = _strip_html(str(entry.get("title", "")))
    summary = _strip_html(str(entry.get("summary", "")))
    return title, summary


def _item(row: dict[str, Any], where: str) -> EvalItem:
    label, kind = row.get("label"), row.get("kind")
    if label not in LABELS or kind not in KINDS:
        raise ValueError(f"{where}: bad label/kind in {row.get('id')!r}")
    entities = tuple((str(t), str(n)) for t, n in row.get("entities", []))
    return EvalItem(id=row["id"], label=label, kind=kind, topic=row.get("topic", ""),
                    title=row.get("title", ""), text=row.get("text", ""),
                    entities=entities, source=row.get("source", "written"))


def load_items(part: str, data: Path | None = None) -> list[EvalItem]:
    """Every item of one part (``"dev"`` or ``"test"``), files in name order.

    ``data`` is the shared data folder (the one holding ``feeds/``); feed
    references are resolved from it, or skipped when it is None or missing.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    have_data = data is not None and data.is_dir()
    folder = resources.files("newsmon").joinpath("data", "eval", part)
    items: list[EvalItem] = []
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".jsonl")),
                   key=lambda f: f.name)
    for f in files:
        for n, line in enumerate(f.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            where = f"{part}/{f.name}:{n}"
            if row.get("source") == "feed":
                if not have_data:
                    continue
                assert data is not None
                row["title"], row["text"] = _resolve_feed(row, data)
            items.append(_item(row, where))
    return items
