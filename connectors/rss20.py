"""A fast reader for plain RSS 2.0 that returns what feedparser returns, or None.

feedparser drives its parser through xml.sax with several Python calls per
element and character run; on a ten-item feed that is about 2 ms, most of a
feed connector's CPU when thousands of feeds change. Plain RSS 2.0 -- the
shape most news feeds have -- does not need that machinery: the tree is built
in C by ElementTree and each field then goes through *feedparser's own*
functions in the order its strict parser applies them (``_FeedParserMixin.pop``):
strip, resolve the URI, guess HTML in a plain-text title, resolve relative
URIs inside markup, sanitise, repair UTF-8 read as Latin-1, map cp1252.
Encoding detection is feedparser's ``convert_to_utf8``, dates its
``_parse_date``.

:func:`read` answers only for documents it reads exactly as feedparser does
and returns None for anything else, which then goes to ``feedparser.parse``:
a DOCTYPE or entity declaration, an encoding feedparser had to guess, XML
that is not well-formed, a root other than ``<rss version="2.x">``, one
``xml:base``, items outside the one channel, an item child that is neither
in :data:`FIELDS` nor :data:`HARMLESS` (feedparser would store it where
newsmon reads), a repeated field, attributes or child elements on a field.
The feedparser internals it uses come from :mod:`newsmon.compat.feedparser`
(checked at start-up; pyproject pins feedparser to 6.0.x), and the
differential test would catch a change in their behaviour.
``tests/unit/test_rss20.py`` walks every feed under ``../shared/data/feeds``
(the real ones and feedparser's own test suite) and checks that whatever this
reader answers equals feedparser's result, field for field.
"""

from __future__ import annotations

import contextlib
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, Protocol

from newsmon.compat.feedparser import (
    StrictFeedParser,
    convert_to_utf8,
    make_safe_absolute_uri,
    resolve_relative_uris,
)
from newsmon.compat.feedparser import cp1252 as _cp1252
from newsmon.compat.feedparser import parse_date as _parse_date
from newsmon.compat.feedparser import sanitize_html as _sanitize_html
from newsmon.compat.feedparser import urljoin as _urljoin

_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
# Declaring one of these makes feedparser call the document RSS 1.0 or 0.90.
_VERSION_NAMESPACES = frozenset({"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"})
_TITLED = frozenset({"image", "textInput", "textinput"})

_PARSER = StrictFeedParser
_KNOWN_NS = {uri.lower(): prefix for uri, prefix in _PARSER.namespaces.items()}
#: Item children, by the name feedparser dispatches them under, that carry a
#: field newsmon keeps; this reader reads them itself.
FIELDS = frozenset({"title", "link", "description", "guid", "pubdate", "content_encoded",
                    "dc_date", "updated"})
#: Item children feedparser has a handler for that touch none of those fields
#: (tags, authors, enclosures, media and podcast metadata); skipped. A child
#: with another handler (``summary``, ``media_title``, ``itunes_summary``,
#: ``source``, an Atom ``updated`` ...) sends the document to feedparser.
HARMLESS = frozenset({
    "author", "category", "enclosure", "dc_creator", "dc_subject", "media_content",
    "media_thumbnail", "media_credit", "media_category", "media_keywords", "media_rating",
    "itunes_author", "itunes_category", "itunes_explicit", "itunes_image", "itunes_keywords",
    "itunes_subtitle", "itunes_block", "subtitle",
})
_MEDIA_INNER = HARMLESS | {"media_title"}
# Keys newsmon reads from an entry: a child feedparser has no handler for is
# stored under its own name, harmless unless it is one of these.
_READ_KEYS = frozenset({"title", "link", "id", "guid", "summary", "description", "content",
                        "published", "published_parsed", "updated", "updated_parsed"})
# Markup-free text that sanitising and URI resolution leave unchanged (checked
# against feedparser in tests/unit/test_rss20.py); anything else goes through them.
_MARKUP = re.compile(r"[<>&\r\x00]")
_NOT_PLAIN = re.compile(rb"<!(?!\[CDATA\[|--)")  # DOCTYPE, ENTITY and other declarations
_HTML_TYPES = _PARSER.html_types
_looks_like_html = _PARSER.looks_like_html
_SPACE = re.compile(r"\s")
_link_refs = re.compile("&([A-Za-z0-9_]+);")


class Caps(Protocol):
    """How much of a document to read (``connectors.parse.ParseBudget``)."""

    @property
    def max_entries(self) -> int: ...
    @property
    def title_chars(self) -> int: ...
    @property
    def summary_chars(self) -> int: ...
    @property
    def content_chars(self) -> int: ...


def _finish(text: str, base: str, *, relative: bool = False,
            markup: bool | None = False, limit: int | None = None) -> str:
    """feedparser's ``pop`` for one field. ``markup``: True for a field that holds
    HTML (resolved and sanitised), None for an RSS title (plain text unless it looks
    like HTML), False for a field that never holds markup (links, ids, dates).
    ``limit``: the text is cut to this many characters before anything else."""
    out = (text if limit is None else text[:limit]).strip()
    if relative and out:
        out = _urljoin(base, out)
    if markup is None:
        markup = _looks_like_html(out)
    if markup and _MARKUP.search(out):
        ctype = "text/html"
        out = resolve_relative_uris(out, base, "utf-8", ctype)
        out = _sanitize_html(out, "utf-8", ctype)
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        out = out.encode("iso-8859-1").decode("utf-8")
    return out.translate(_cp1252)


def _only_text(el: ET.Element) -> str | None:
    if len(el) or el.attrib:
        return None
    return el.text or ""


class NotPlain(Exception):
    """The document is not one this reader takes; the message says why."""


def read(body: bytes, headers: Mapping[str, str],
         caps: Caps | None = None) -> dict[str, Any] | None:
    """feedparser's result (``version``, ``encoding``, ``bozo``, ``feed`` with
    ``title``/``ttl``, ``entries`` with the fields newsmon reads) for a plain RSS
    2.0 document, or None when only feedparser itself should read it.

    ``headers`` are the response headers as given to ``feedparser.parse``
    (``content-location`` is the base for relative links). With ``caps``, only
    the first ``max_entries`` items are read and each title, description and
    content is cut to its cap before it is sanitised."""
    try:
        return _read(body, headers, caps)
    except NotPlain:
        return None


def explain(body: bytes, headers: Mapping[str, str]) -> str | None:
    """Why :func:`read` leaves ``body`` to feedparser, or None if it reads it."""
    try:
        _read(body, headers)
    except NotPlain as exc:
        return str(exc)
    return None


def _read(body: bytes, headers: Mapping[str, str], caps: Caps | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"bozo": False, "headers": dict(headers)}
    data = convert_to_utf8(result["headers"], body, result)
    if result.get("bozo") or not result.get("encoding"):
        raise NotPlain("encoding needed a guess")
    if _NOT_PLAIN.search(data):  # after decoding: a UTF-16 DOCTYPE hides from a byte search
        raise NotPlain("declaration (DOCTYPE/ENTITY)")
    try:
        events = ET.iterparse(io.BytesIO(data), events=("start-ns",))
        declared = [ns for _, ns in events]
        root = events.root  # type: ignore[attr-defined]
    except (ET.ParseError, ValueError, RecursionError) as exc:
        raise NotPlain("not well-formed XML") from exc
    if any(uri.lower() in _VERSION_NAMESPACES for _, uri in declared):
        raise NotPlain("declares an RSS 1.0/0.90 namespace")
    prefixes: dict[str, str] = {}  # namespace URI -> prefix, as feedparser names elements
    for prefix, uri in declared:
        if _SPACE.search(uri):
            # xml.sax splits namespaced names at a space: feedparser fails such a document
            raise NotPlain("white space in a namespace URI")
        known = _KNOWN_NS.get(uri.lower())
        name = known if known is not None else prefix
        if prefixes.setdefault(uri, name) != name:
            raise NotPlain("a namespace declared under two prefixes")
    if root.tag != "rss" or not root.attrib.get("version", "").startswith("2."):
        raise NotPlain("not <rss version=2.x>")
    if any(_XML_BASE in e.attrib for e in root.iter()):
        raise NotPlain("xml:base")
    channels = [c for c in root if c.tag == "channel"]
    if len(channels) != 1:
        raise NotPlain("not exactly one channel")
    channel = channels[0]
    stack = [root]  # every element outside the items; _item checks inside them
    while stack:
        parent = stack.pop()
        for e in parent:
            if not isinstance(e.tag, str):
                continue
            local = e.tag.rsplit("}", 1)[-1].lower()
            if e.tag == "item" and parent is channel:
                continue
            if local in ("item", "entry"):
                raise NotPlain("item or entry outside the channel")
            if local == "title" and not (e.tag == "title" and (
                    parent is channel or (parent.tag in _TITLED and parent in channel))):
                raise NotPlain("title outside channel, image or textInput")
            stack.append(e)
    contentloc = headers.get("content-location", "")
    base = make_safe_absolute_uri("", contentloc) or make_safe_absolute_uri(contentloc) or ""

    feed: dict[str, Any] = {}
    titles = [c for c in channel if c.tag == "title"]
    if titles:
        if len(titles) != 1:
            raise NotPlain("more than one channel title")
        text = _only_text(titles[0])
        if text is None:
            raise NotPlain("channel title with markup or attributes")
        feed["title"] = _finish(text, base, markup=None,
                                limit=caps.title_chars if caps else None)
    ttls = [c for c in channel if c.tag == "ttl"]
    if ttls:
        text = _only_text(ttls[0]) if len(ttls) == 1 else None
        if text is None:
            raise NotPlain("channel ttl repeated or with markup")
        feed["ttl"] = _finish(text, base)

    entries: list[dict[str, Any]] = []
    for n, item in enumerate(channel.iterfind("item")):
        if caps is not None and n >= caps.max_entries:
            break
        entries.append(_item(item, base, prefixes, caps))
    return {"version": "rss20", "encoding": result["encoding"], "bozo": False, "feed": feed,
            "entries": entries}


def _handler_name(tag: str, prefixes: Mapping[str, str]) -> str:
    """The name feedparser dispatches an element under (``_start_<name>``)."""
    if tag.startswith("{"):
        uri, local = tag[1:].split("}", 1)
        prefix = prefixes.get(uri, "")
        return f"{prefix.lower()}_{local.lower()}" if prefix else local.lower()
    return tag.lower()


def _item(item: ET.Element, base: str, prefixes: Mapping[str, str],
          caps: Caps | None = None) -> dict[str, Any]:
    if item.attrib:
        raise NotPlain("item attributes")
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    nested_title = False
    for child in item:
        if not isinstance(child.tag, str):
            continue
        tag = _handler_name(child.tag, prefixes)
        if tag == "media_title" and not len(child):
            nested_title = True
            continue
        if tag == "link" and child.attrib:
            _attribute_link(child, entry, base)
            continue
        if tag not in FIELDS:
            if len(child):
                nested_title |= _media_container(child, tag, prefixes)
            handled = hasattr(_PARSER, f"_start_{tag}") or hasattr(_PARSER, f"_end_{tag}")
            if (tag not in HARMLESS) if handled else (tag in _READ_KEYS):
                raise NotPlain(f"item child {tag}")
            continue
        if tag in seen:
            raise NotPlain("repeated item field")
        seen.add(tag)
        if tag == "guid":
            attrs = {k.lower(): v for k, v in child.attrib.items()}
            if len(child) or set(attrs) - {"ispermalink"}:
                raise NotPlain("guid with children or other attributes")
            is_link = attrs.get("ispermalink", "true") == "true"
            value = _finish(child.text or "", base, relative=is_link)
            entry["id"] = value
            if is_link:
                entry.setdefault("link", value)
            continue
        text = _only_text(child)
        if text is None:
            raise NotPlain("item field with attributes or children")
        if tag == "title":
            entry["title"] = _finish(text, base, markup=None,
                                     limit=caps.title_chars if caps else None)
        elif tag == "link":
            value = _finish(text, base, relative=True)
            entry["link"] = _link_refs.sub(r"&\g<1>", value.replace("&amp;", "&"))
        elif tag == "description":
            entry["summary"] = _finish(text, base, markup=True,
                                       limit=caps.summary_chars if caps else None)
        elif tag == "pubdate":
            value = _finish(text, base)
            entry["published_parsed"] = _parse_date(value)
        elif tag in ("dc_date", "updated"):
            if "updated_parsed" in entry:
                raise NotPlain("repeated item field")
            value = _finish(text, base)
            entry["updated_parsed"] = _parse_date(value)
        else:  # content:encoded
            value = _finish(text, base, markup=True, limit=caps.content_chars if caps else None)
            entry["content"] = [{"value": value}]
            entry.setdefault("summary", value[:caps.summary_chars] if caps else value)
    if nested_title and not entry.get("title"):
        # feedparser keeps the item's own non-empty title over a media:title
        # wherever it stands; without one, which title wins depends on order.
        raise NotPlain("media:title without an item title")
    return entry


def _attribute_link(el: ET.Element, entry: dict[str, Any], base: str) -> None:
    """An Atom-style ``<link href=.. rel=..>`` in an item, as feedparser's ``_start_link``."""
    attrs = {k.lower(): v for k, v in el.attrib.items()}
    if len(el) or "href" not in attrs or "url" in attrs or "uri" in attrs:
        raise NotPlain("item link with attributes but no href")
    rel = attrs.get("rel", "alternate")
    ctype = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
    if rel == "alternate" and _PARSER.map_content_type(ctype) in _HTML_TYPES:
        entry["link"] = _urljoin(base, attrs["href"])


def _media_container(el: ET.Element, name: str, prefixes: Mapping[str, str]) -> bool:
    """Check a media:content or media:group with children; True if it holds a media:title."""
    if name not in ("media_content", "media_group"):
        raise NotPlain(f"item child {name} with children")
    titled = False
    for child in el:
        if not isinstance(child.tag, str):
            continue
        inner = _handler_name(child.tag, prefixes)
        if inner == "media_content" and name == "media_group" and len(child):
            titled |= _media_container(child, inner, prefixes)
        elif len(child) or inner not in _MEDIA_INNER:
            raise NotPlain(f"{name} holds {inner}")
        titled |= inner == "media_title"
    return titled
