"""OPML 2.0 import and export of the feed list (the format every feed reader speaks)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import yaml

from connectors.config import FeedConfigError, FeedList, FeedSpec

#: Folders (nested outlines) deeper than this make the file refused; feed readers nest a few.
MAX_DEPTH = 100
#: An OPML file larger than this is refused before it is parsed.
MAX_BYTES = 16 * 1024 * 1024


def parse_opml(data: bytes, source: str = "<opml>") -> list[FeedSpec]:
    """Feeds from an OPML document: every outline with an http(s) ``xmlUrl``.

    Nested outlines become tags (the folder names). Python's expat expands no
    external entities, and its amplification limits stop "billion laughs". A file
    over :data:`MAX_BYTES` or with folders nested over :data:`MAX_DEPTH` deep is
    refused with a one-line :class:`FeedConfigError`.
    """
    if len(data) > MAX_BYTES:
        raise FeedConfigError(f"{source}: OPML file of {len(data)} bytes, over {MAX_BYTES}")
    if b"<!ENTITY" in data[:4096]:
        raise FeedConfigError(f"{source}: OPML with entity declarations is refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise FeedConfigError(f"{source}: not valid OPML: {exc}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise FeedConfigError(f"{source}: not an OPML document (no <opml><body>)")
    out: list[FeedSpec] = []
    seen: set[str] = set()
    # Depth-first in document order, with an explicit stack: no recursion to exhaust.
    stack: list[tuple[Iterator[ET.Element], tuple[str, ...]]] = [
        (iter(body.findall("outline")), ())]
    while stack:
        children, folders = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
        name = child.get("title") or child.get("text") or ""
        if not url:
            if len(stack) >= MAX_DEPTH:
                raise FeedConfigError(f"{source}: outlines nested more than {MAX_DEPTH} deep")
            stack.append((iter(child.findall("outline")),
                          (*folders, name.strip()) if name.strip() else folders))
            continue
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname and url not in seen:
            seen.add(url)
            cats = tuple(c.strip().strip("/") for c in
                         (child.get("category") or "").split(",") if c.strip())
            out.append(FeedSpec(url=url, name=name.strip(),
                                tags=tuple(dict.fromkeys(folders + cats))))
    return out


def to_opml(feeds: Sequence[FeedSpec], title: str = "newsmon feeds") -> bytes:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = formatdate(usegmt=True)
    body = ET.SubElement(root, "body")
    for f in feeds:
        attrs = {"type": "rss", "text": f.name or f.url, "title": f.name or f.url,
                 "xmlUrl": f.url}
        if f.tags:
            attrs["category"] = ",".join(f.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + xml


def merge_into_yaml(existing: FeedList, new: Sequence[FeedSpec]) -> tuple[str, int]:
    """The feed file text with ``new`` feeds appended (existing URLs kept as they are)."""
    have = {f.url for f in existing.feeds}
    added = [f for f in new if f.url not in have]
    feeds: list[dict[str, Any]] = []
    for f in [*existing.feeds, *added]:
        item: dict[str, Any] = {"url": f.url}
        if f.name:
            item["name"] = f.name
        if f.tags:
            item["tags"] = list(f.tags)
        if f.interval is not None:
            item["interval"] = f.interval
        if f.full_text:
            item["full_text"] = True
        item.update(f.extra)
        feeds.append(item)
    doc: dict[str, Any] = {}
    if existing.allow_private_addresses:
        doc["allow_private_addresses"] = list(existing.allow_private_addresses)
    if existing.per_feed_metrics:
        doc["per_feed_metrics"] = True
    if existing.max_entries_per_feed != 500:
        doc["max_entries_per_feed"] = existing.max_entries_per_feed
    for key in ("min_interval", "max_interval"):
        if getattr(existing, key) is not None:
            doc[key] = getattr(existing, key)
    doc["feeds"] = feeds
    text = "# newsmon feed list (rewritten by `newsmon feeds import`)\n"
    return text + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), len(added)
