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


@dataclass(frozen=True, slots=True)
class FeedList:
    """The whole feed file: the feeds and the connector options set beside them."""

    feeds: list[FeedSpec]
    allow_private_addresses: tuple[str, ...] = ()
    per_feed_metrics: bool = False
    max_entries_per_feed: int = 500
    min_interval: float | None = None
    max_interval: float | None = None


def load_feeds(path: Path | str) -> list[FeedSpec]:
    return load_feed_list(path).feeds


def load_feed_list(path: Path | str) -> FeedList:
    """Load a feed file: ``feeds: [{url, name, tags, interval, full_text}, ...]`` and options.

    Options: ``allow_private_addresses`` (list of CIDRs the connector may reach
    although they are not public, e.g. ``[127.0.0.1/32]`` for a local test
    server), ``per_feed_metrics`` (bool), ``max_entries_per_feed`` (int),
    ``min_interval`` / ``max_interval`` (seconds).
    """
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
    feeds = parse_feeds(data, str(path), nodes)
    return _options(data, str(path), feeds)


def _options(data: dict[str, Any], source: str, feeds: list[FeedSpec]) -> FeedList:
    import ipaddress

    allow = data.get("allow_private_addresses", [])
    if not isinstance(allow, list):
        raise FeedConfigError(f"{source}: allow_private_addresses: expected a list of CIDRs")
    for n in allow:
        try:
            ipaddress.ip_network(str(n), strict=False)
        except ValueError as exc:
            raise FeedConfigError(f"{source}: allow_private_addresses: {exc}") from None
    per_feed = data.get("per_feed_metrics", False)
    if not isinstance(per_feed, bool):
        raise FeedConfigError(f"{source}: per_feed_metrics: expected true or false")
    max_entries = data.get("max_entries_per_feed", 500)
    if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1:
        raise FeedConfigError(f"{source}: max_entries_per_feed: expected a positive integer")
    bounds: dict[str, float | None] = {}
    for key in ("min_interval", "max_interval"):
        v = data.get(key)
        if v is not None and (not isinstance(v, int | float) or isinstance(v, bool) or v <= 0):
            raise FeedConfigError(f"{source}: {key}: expected a positive number of seconds")
        bounds[key] = float(v) if v is not None else None
    return FeedList(feeds, tuple(str(n) for n in allow), per_feed, max_entries,
                    bounds["min_interval"], bounds["max_interval"])


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
