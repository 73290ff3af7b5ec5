"""Feed bytes -> raw-article records. Pure: no network, no Kafka.

feedparser always gets the fetched bytes (with the HTTP headers that help it
pick the encoding), never a URL or a path, so it cannot be made to fetch
anything itself. Plain RSS 2.0 is first offered to :mod:`connectors.rss20`,
which gives feedparser's own result for it (a 10-item feed through this
parse step: 0.48 ms against 2.2 ms) and declines everything else.

Every parse works within a :class:`ParseBudget` (docs/security.md, "Parsing"):

* bytes: a body over ``max_bytes`` is refused (:class:`FeedTooLarge`);
* entries: an XML document is cut before its ``max_entries + 1``-th
  ``<item>``/``<entry>`` by expat (C) before feedparser sees it, and a JSON
  Feed's item list is sliced, so feedparser never builds more entries than
  are kept;
* field sizes: titles, summaries and content are truncated to their caps
  *before* HTML sanitising, whose cost grows faster than linearly on hostile
  markup (feedparser is called with ``sanitize_html=False`` and each kept
  field is sanitised afterwards, as feedparser itself would);
* time: :mod:`connectors.parsepool` runs the parse in a worker process and
  kills it at ``seconds``.

One item that cannot be converted (a date outside the calendar, a number where
a string belongs, an oversized link or id) is skipped and reported in
:attr:`ParsedFeed.skipped` with a reason from :data:`SKIP_REASONS`; the other
items are kept.
"""

from __future__ import annotations

import calendar
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.parsers import expat

import feedparser

from connectors import rss20
from newsmon.analysis.canonical import article_id
from newsmon.compat.feedparser import (
    StrictFeedParser,
    parse_date,
    resolve_relative_uris,
    sanitize_html,
)
from newsmon.metrics import ITEM_SKIP_REASONS
from newsmon.records import RawArticle

log = logging.getLogger(__name__)

#: Why an item was skipped (the ``reason`` label of newsmon_feed_items_skipped_total).
SKIP_REASONS = ITEM_SKIP_REASONS


@dataclass(frozen=True, slots=True)
class ParseBudget:
    """What one feed's parse may cost. Fields over a cap are truncated, not refused."""

    seconds: float = 10.0  # wall time of one parse in the worker process
    max_bytes: int = 10 * 1024 * 1024  # the body, as fetched (after decompression)
    max_entries: int = 500  # entries kept per feed, in feed order
    title_chars: int = 1_000
    summary_chars: int = 20_000
    content_chars: int = 50_000
    link_chars: int = 4_096  # a longer link or id makes its item skipped ("size")


DEFAULT_BUDGET = ParseBudget()


class FeedTooLarge(ValueError):
    """The body is over the budget's ``max_bytes``."""


class ItemError(ValueError):
    """One item cannot be converted; ``reason`` is one of :data:`SKIP_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    entries: list[RawArticle]
    format: str
    encoding: str
    title: str
    bozo: bool
    bozo_reason: str | None
    ttl_seconds: int | None
    #: (reason, one-line detail) for each item skipped.
    skipped: tuple[tuple[str, str], ...] = ()
    #: True when the document had more entries than the budget keeps.
    capped: bool = False


def _iso(struct: Any) -> str | None:
    if not struct:
        return None
    try:
        ts = calendar.timegm(struct)
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise ItemError("date", f"date outside the calendar ({type(exc).__name__})") from None


def _safe_link(link: Any, base: str, budget: ParseBudget) -> str | None:
    if link is None:
        return None
    if not isinstance(link, str):
        raise ItemError("type", f"link is a {_kind(link)}, not a string")
    if len(link) > budget.link_chars:
        raise ItemError("size", f"link of {len(link)} characters (cap {budget.link_chars})")
    if not link.strip():
        return None
    try:
        absolute = urljoin(base, link.strip())
        parts = urlsplit(absolute)
        hostname = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not hostname:
        return None
    return absolute


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", bool: "boolean", int: "number", float: "number",
            str: "string"}.get(type(value), type(value).__name__)


def _text(value: Any, cap: int) -> str:
    return value[:cap] if isinstance(value, str) else ""


def _markup(value: Any, detail: Any, cap: int, base: str) -> str:
    """A feedparser field read with ``sanitize_html=False``: truncated, then sanitised
    (and its relative URIs resolved) if its content type is HTML, as feedparser would."""
    text = _text(value, cap)
    if not text:
        return text
    ctype = "text/html"
    if isinstance(detail, Mapping):
        ctype = str(detail.get("type") or "text/html")
        base = str(detail.get("base") or base)
    if StrictFeedParser.map_content_type(ctype) in StrictFeedParser.html_types:
        text = sanitize_html(resolve_relative_uris(text, base, "utf-8", ctype), "utf-8", ctype)
    return text


def cap_entries(body: bytes, limit: int) -> tuple[bytes, bool]:
    """``body`` cut before its ``limit + 1``-th top-level ``<item>``/``<entry>`` with the
    elements still open closed again, and whether it was cut.

    expat reads the document in C and stops at the cut, so a feed of a million
    tiny entries costs what ``limit`` entries cost. A document expat cannot read
    as given (not well-formed, UTF-16, an encoding it does not know) is returned
    unchanged; the parse deadline bounds that case."""
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or body[:2] in (b"<\x00", b"\x00<"):
        return body, False
    parser = expat.ParserCreate()
    stack: list[str] = []
    entries = 0
    inside = 0  # depth of open item/entry elements

    class Cut(Exception):
        def __init__(self, at: int) -> None:
            self.at = at

    def start(name: str, _attrs: Any) -> None:
        nonlocal entries, inside
        if name.rsplit(":", 1)[-1].lower() in ("item", "entry"):
            if not inside:
                entries += 1
                if entries > limit:
                    raise Cut(parser.CurrentByteIndex)
            inside += 1
        stack.append(name)

    def end(name: str) -> None:
        nonlocal inside
        stack.pop()
        if inside and name.rsplit(":", 1)[-1].lower() in ("item", "entry"):
            inside -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except Cut as cut:
        at = cut.at
        if at <= 0 or body[at:at + 1] != b"<":
            return body, False
        closing = "".join(f"</{name}>" for name in reversed(stack))
        if not closing.isascii():  # the document's own encoding would be needed
            return body, False
        return body[:at] + closing.encode("ascii"), True
    except (expat.ExpatError, ValueError, LookupError, RecursionError, MemoryError):
        return body, False
    return body, False


def parse_feed(body: bytes, feed_url: str, fetched_at: str,
               headers: Mapping[str, str] | None = None, source: str | None = None,
               budget: ParseBudget = DEFAULT_BUDGET) -> ParsedFeed:
    """Parse a fetched feed body into raw articles (entries in feed order) within ``budget``
    (its ``seconds`` are enforced by :mod:`connectors.parsepool`, not here)."""
    if len(body) > budget.max_bytes:
        raise FeedTooLarge(f"{len(body)} bytes, over the parse budget of {budget.max_bytes}")
    response_headers = {"content-location": feed_url}
    if headers:
        for k in ("content-type", "content-language"):
            if k in headers:
                response_headers[k] = headers[k]
    json_feed = _json_feed(body)
    if json_feed is not None:
        return _parse_json_feed(json_feed, feed_url, fetched_at, source, budget)
    body, capped = cap_entries(body, budget.max_entries)
    try:
        parsed = rss20.read(body, response_headers, budget)
        if parsed is None:
            parsed = feedparser.parse(body, response_headers=response_headers,
                                      sanitize_html=False, resolve_relative_uris=True)
            sanitised = False
        else:
            sanitised = True
    except Exception as exc:  # noqa: BLE001 - feedparser has crash bugs on hostile input
        return ParsedFeed(entries=[], format="unknown", encoding="unknown", title="", bozo=True,
                          bozo_reason=f"parser crashed: {type(exc).__name__}: {exc}",
                          ttl_seconds=None)
    feed = parsed.get("feed", {})
    if sanitised:
        feed_title = _text(feed.get("title"), budget.title_chars).strip()
    else:
        feed_title = _markup(feed.get("title"), feed.get("title_detail"), budget.title_chars,
                             feed_url).strip()
    entries: list[RawArticle] = []
    skipped: list[tuple[str, str]] = []
    raw_entries = parsed.get("entries") or []
    capped |= len(raw_entries) > budget.max_entries
    for entry in raw_entries[:budget.max_entries]:
        try:
            entries.append(_entry(entry, feed_url, fetched_at, source, feed_title, budget,
                                  sanitised))
        except ItemError as exc:
            skipped.append((exc.reason, exc.detail))
        except Exception as exc:  # noqa: BLE001 - one malformed entry never sinks the feed
            skipped.append(("malformed", f"{type(exc).__name__}: {exc}"[:300]))
    ttl = feed.get("ttl")
    try:
        ttl_seconds = int(ttl) * 60 if ttl is not None else None
    except (TypeError, ValueError, OverflowError):
        ttl_seconds = None
    reason = parsed.get("bozo_exception")
    return ParsedFeed(
        entries=entries,
        format=str(parsed.get("version") or "unknown"),
        encoding=str(parsed.get("encoding") or "unknown"),
        title=feed_title,
        bozo=bool(parsed.get("bozo")),
        bozo_reason=f"{type(reason).__name__}: {reason}" if reason else None,
        ttl_seconds=ttl_seconds,
        skipped=tuple(skipped),
        capped=capped,
    )


def _json_feed(body: bytes) -> dict[str, Any] | None:
    """The decoded object if ``body`` is a JSON Feed (1.0 or 1.1), else None."""
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return None
    try:
        obj = json.loads(body.decode("utf-8-sig", "replace"))
    except (ValueError, RecursionError):
        return None
    if isinstance(obj, dict) and "jsonfeed.org/version" in str(obj.get("version", "")):
        return obj
    return None


def _json_str(item: Mapping[str, Any], key: str, cap: int) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ItemError("type", f"{key} is a {_kind(value)}, not a string")
    return value[:cap]


def _parse_json_feed(obj: dict[str, Any], feed_url: str, fetched_at: str,
                     source: str | None, budget: ParseBudget) -> ParsedFeed:
    version = str(obj.get("version", ""))
    title = _text(obj.get("title"), budget.title_chars).strip()
    raw_items = obj.get("items")
    items: list[Any] = raw_items if isinstance(raw_items, list) else []
    entries: list[RawArticle] = []
    skipped: list[tuple[str, str]] = []
    for item in items[:budget.max_entries]:
        try:
            entries.append(_json_item(item, feed_url, fetched_at, source, title, budget))
        except ItemError as exc:
            skipped.append((exc.reason, exc.detail))
        except Exception as exc:  # noqa: BLE001 - one malformed item never sinks the feed
            skipped.append(("malformed", f"{type(exc).__name__}: {exc}"[:300]))
    fmt = "json11" if version.rstrip("/").endswith("1.1") else "json1"
    return ParsedFeed(entries=entries, format=fmt, encoding="utf-8", title=title, bozo=False,
                      bozo_reason=None, ttl_seconds=None, skipped=tuple(skipped),
                      capped=len(items) > budget.max_entries)


def _json_item(item: Any, feed_url: str, fetched_at: str, source: str | None,
               feed_title: str, budget: ParseBudget) -> RawArticle:
    if not isinstance(item, dict):
        raise ItemError("type", f"item is a {_kind(item)}, not a mapping")
    link = _safe_link(item.get("url") or item.get("external_url"), feed_url, budget)
    guid: Any = item.get("id")
    if isinstance(guid, bool) or not isinstance(guid, str | int | None):
        raise ItemError("type", f"id is a {_kind(guid)}, not a string")
    if guid is not None:
        guid = str(guid)
        if len(guid) > budget.link_chars:
            raise ItemError("size", f"id of {len(guid)} characters (cap {budget.link_chars})")
    entry_title = _json_str(item, "title", budget.title_chars).strip()
    published = _json_date(item.get("date_published") or item.get("date_modified"))
    content = (_json_str(item, "content_html", budget.content_chars)
               or _json_str(item, "content_text", budget.content_chars))
    summary = _json_str(item, "summary", budget.summary_chars)
    return RawArticle(
        id=article_id(link, guid, entry_title or (summary or content)[:200]),
        url=link, title=entry_title, summary=summary, content=content,
        published=published or fetched_at, published_is_fetch_time=published is None,
        fetched_at=fetched_at, feed_url=feed_url,
        source=source or feed_title or urlsplit(feed_url).hostname, guid=guid,
    )


def _json_date(value: Any) -> str | None:
    """ISO 8601 UTC, or None for no date or one that is not a date at all (the item then
    takes its fetch time); :class:`ItemError` for a date that is not a representable one."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ItemError("type", f"date is a {_kind(value)}, not a string")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return _iso(parse_date(value[:200]))
    try:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (OverflowError, ValueError) as exc:
        raise ItemError("date", f"date {value[:40]!r} outside the calendar "
                                f"({type(exc).__name__})") from None


def _entry(entry: Any, feed_url: str, fetched_at: str, source: str | None,
           feed_title: str, budget: ParseBudget, sanitised: bool) -> RawArticle:
    link = _safe_link(entry.get("link"), feed_url, budget)
    guid = entry.get("id") if isinstance(entry.get("id"), str) else None
    if guid is not None and len(guid) > budget.link_chars:
        raise ItemError("size", f"id of {len(guid)} characters (cap {budget.link_chars})")
    if sanitised:  # the fast reader truncated and sanitised each field already
        title = _text(entry.get("title"), budget.title_chars)
        summary = _text(entry.get("summary"), budget.summary_chars)
        content = _text(_content(entry), budget.content_chars)
    else:
        title = _markup(entry.get("title"), entry.get("title_detail"), budget.title_chars,
                        feed_url)
        summary = _markup(entry.get("summary"), entry.get("summary_detail"),
                          budget.summary_chars, feed_url)
        best = _best_content(entry)
        content = _markup(best.get("value"), best, budget.content_chars, feed_url) if best else ""
    title = title.strip()
    published = _iso(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"))
    return RawArticle(
        id=article_id(link, guid, title or summary[:200]),
        url=link,
        title=title,
        summary=summary,
        content=content,
        published=published or fetched_at,
        published_is_fetch_time=published is None,
        fetched_at=fetched_at,
        feed_url=feed_url,
        source=source or feed_title or urlsplit(feed_url).hostname,
        guid=guid,
    )


def _best_content(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    best: Mapping[str, Any] | None = None
    for c in entry.get("content") or []:
        value = c.get("value") if isinstance(c, Mapping) else None
        if isinstance(value, str) and (best is None or len(value) > len(best["value"])):
            best = c
    return best


def _content(entry: Mapping[str, Any]) -> str:
    best = _best_content(entry)
    return str(best["value"]) if best else ""
