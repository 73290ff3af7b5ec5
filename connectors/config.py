"""The feed list: a YAML file of feeds, validated with errors that name file and field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsmon import configfile
from newsmon.configfile import ConfigDoc, ConfigError


class FeedConfigError(ValueError):
    """The feed list is unusable; the message (one line) names the file, line and field."""


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


MAX_FEEDS = 100_000
MAX_INTERVAL = 30 * 86400.0  # a month: a feed polled less often than that is not monitored
_SECONDS = f"a number of seconds from 1 to {MAX_INTERVAL:.0f}"
_FEED_KEYS = ("url", "name", "tags", "interval", "full_text")

#: The shape of a feed file (JSON Schema). Semantic checks (URLs, CIDRs, repeats) follow it.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a mapping with a 'feeds' list",
    "additionalProperties": False,
    "required": ["feeds"],
    "properties": {
        "feeds": {"type": "array", "maxItems": MAX_FEEDS, "description": "a list of feeds",
                  "items": {
                      "type": "object",
                      "description": "a mapping or a URL string",
                      "additionalProperties": False,
                      "required": ["url"],
                      "properties": {
                          "url": {"type": "string", "maxLength": 2048,
                                  "description": "an http(s) URL"},
                          "name": {"type": "string", "maxLength": 200,
                                   "description": "a string"},
                          "tags": {"type": "array", "maxItems": 50,
                                   "description": "a list of strings",
                                   "items": {"type": "string", "maxLength": 100,
                                             "description": "a string"}},
                          "interval": {"type": "number", "minimum": 1,
                                       "maximum": MAX_INTERVAL, "description": _SECONDS},
                          "full_text": {"type": "boolean", "description": "true or false"},
                      }}},
        "allow_private_addresses": {"type": "array", "maxItems": 1000,
                                    "description": "a list of CIDRs",
                                    "items": {"type": "string", "maxLength": 64,
                                              "description": "a CIDR such as 127.0.0.1/32"}},
        "per_feed_metrics": {"type": "boolean", "description": "true or false"},
        "max_entries_per_feed": {"type": "integer", "minimum": 1, "maximum": 10_000,
                                 "description": "an integer from 1 to 10000"},
        "min_interval": {"type": "number", "minimum": 1, "maximum": MAX_INTERVAL,
                         "description": _SECONDS},
        "max_interval": {"type": "number", "minimum": 1, "maximum": MAX_INTERVAL,
                         "description": _SECONDS},
    },
}


def load_feeds(path: Path | str) -> list[FeedSpec]:
    return load_feed_list(path).feeds


def load_feed_list(path: Path | str) -> FeedList:
    """Load a feed file: ``feeds: [{url, name, tags, interval, full_text}, ...]`` and options.

    Options: ``allow_private_addresses`` (list of CIDRs the connector may reach
    although they are not public, e.g. ``[127.0.0.1/32]`` for a local test
    server), ``per_feed_metrics`` (bool), ``max_entries_per_feed`` (int),
    ``min_interval`` / ``max_interval`` (seconds).

    Any mistake raises :class:`FeedConfigError` whose message is one line,
    ``file:line: field: what is wrong`` (see :mod:`newsmon.configfile` for the
    checks every configuration file gets).
    """
    try:
        doc = configfile.load(path, what="feed list")
        return _feed_list(doc)
    except ConfigError as exc:
        raise FeedConfigError(str(exc)) from None


def _feed_list(doc: ConfigDoc) -> FeedList:
    data = doc.data
    if isinstance(data, dict) and isinstance(data.get("feeds"), list):
        # A bare URL string is short for {url: ...}.
        data = {**data, "feeds": [{"url": f} if isinstance(f, str) else f
                                  for f in data["feeds"]]}
    errors = configfile.validate(ConfigDoc(doc.file, data, doc.root), SCHEMA)
    if errors:
        raise errors[0]
    feeds = _specs(doc, data["feeds"])
    import ipaddress

    allow = data.get("allow_private_addresses", [])
    for i, n in enumerate(allow):
        try:
            ipaddress.ip_network(n, strict=False)
        except ValueError as exc:
            raise doc.error(("allow_private_addresses", i), str(exc)) from None
    bounds = {k: float(data[k]) if k in data else None for k in ("min_interval", "max_interval")}
    if bounds["min_interval"] and bounds["max_interval"] \
            and bounds["min_interval"] > bounds["max_interval"]:
        raise doc.error(("min_interval",), "greater than max_interval")
    return FeedList(feeds, tuple(allow), data.get("per_feed_metrics", False),
                    data.get("max_entries_per_feed", 500), bounds["min_interval"],
                    bounds["max_interval"])


def _specs(doc: ConfigDoc, items: list[dict[str, Any]]) -> list[FeedSpec]:
    out: list[FeedSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        url = item["url"].strip()
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            ok = False
        if not ok:
            raise doc.error(("feeds", i, "url"), f"expected an http(s) URL, got {url!r}")
        if url in seen:
            raise doc.error(("feeds", i, "url"), f"duplicate feed {url}")
        seen.add(url)
        interval = item.get("interval")
        out.append(FeedSpec(url=url, name=item.get("name", ""), tags=tuple(item.get("tags", [])),
                            interval=float(interval) if interval is not None else None,
                            full_text=item.get("full_text", False)))
    return out


def parse_feeds(data: Any, source: str = "<feeds>") -> list[FeedSpec]:
    """The feeds of an already-parsed feed file (no line numbers)."""
    try:
        return _feed_list(ConfigDoc(source, data, None)).feeds
    except ConfigError as exc:
        raise FeedConfigError(str(exc)) from None
