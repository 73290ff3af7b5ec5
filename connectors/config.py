"""The feed list: a YAML file of feeds, validated with errors that name file and field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


class FeedConfigError(ValueError):
    """The feed list is unusable; the message names the file, entry and field."""


@dataclass(frozen=True, slots=True)
class FeedSpec:
    url: str
    name: str = ""
    tags: tuple[str, ...] = ()
    interval: float | None = None
    full_text: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def load_feeds(path: Path | str) -> list[FeedSpec]:
    """Load ``feeds: [{url, name, tags, interval, full_text}, ...]`` from a YAML file."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise FeedConfigError(f"{path}: cannot read feed list: {exc.strerror}") from None
    try:
        nodes = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FeedConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_feeds(data, str(path), nodes)


def _line(nodes: Any, index: int) -> str:
    try:
        for key, value in nodes.value:
            if key.value == "feeds":
                return f":{value.value[index].start_mark.line + 1}"
    except (AttributeError, IndexError, TypeError):
        pass
    return ""


def parse_feeds(data: Any, source: str = "<feeds>", nodes: Any = None) -> list[FeedSpec]:
    if not isinstance(data, dict) or not isinstance(data.get("feeds"), list):
        raise FeedConfigError(f"{source}: expected a mapping with a 'feeds' list")
    out: list[FeedSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(data["feeds"]):
        where = f"{source}{_line(nodes, i)}: feeds[{i}]"
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict):
            raise FeedConfigError(f"{where}: expected a mapping or a URL string")
        url = item.get("url")
        if not isinstance(url, str) or urlsplit(url.strip()).scheme not in ("http", "https") \
                or not urlsplit(url.strip()).hostname:
            raise FeedConfigError(f"{where}.url: expected an http(s) URL, got {url!r}")
        url = url.strip()
        if url in seen:
            raise FeedConfigError(f"{where}.url: duplicate feed {url}")
        seen.add(url)
        tags = item.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise FeedConfigError(f"{where}.tags: expected a list of strings")
        interval = item.get("interval")
        if interval is not None and (not isinstance(interval, int | float) or interval <= 0):
            raise FeedConfigError(f"{where}.interval: expected a positive number of seconds")
        name = item.get("name", "")
        if not isinstance(name, str):
            raise FeedConfigError(f"{where}.name: expected a string")
        full_text = item.get("full_text", False)
        if not isinstance(full_text, bool):
            raise FeedConfigError(f"{where}.full_text: expected true or false")
        known = {"url", "name", "tags", "interval", "full_text"}
        out.append(FeedSpec(url=url, name=name, tags=tuple(tags),
                            interval=float(interval) if interval is not None else None,
                            full_text=full_text,
                            extra={k: v for k, v in item.items() if k not in known}))
    return out
