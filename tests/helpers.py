"""Shared test helpers: the shared data folder, the seed article, local HTTP servers."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from xml.sax.saxutils import escape

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
SEED_FILE = SHARED / "seed" / "000_7039b8a7c821e0e9.txt"
SEED_TITLE = "UK and US urge Russia to draw back from conflict in Ukraine"
SEED_URL = "https://www.independent.co.uk/news/world/europe/russia-ukraine-blinken-truss-b1968611.html"
#: Why a test that reads the shared reference corpus is skipped in a clone without it.
SHARED_MISSING = (f"needs the shared reference corpus at {SHARED} (real feeds, pages, NER "
                  "data and the seed page, kept beside the repository, not in it)")


def require_shared() -> None:
    """Skip the calling test (or, at import, its module) when ../shared is absent."""
    if not SHARED.is_dir():
        pytest.skip(SHARED_MISSING, allow_module_level=True)


@dataclass(frozen=True)
class Item:
    title: str
    url: str
    summary: str
    content: str = ""
    guid: str | None = None


def seed_items() -> tuple[Item, list[Item]]:
    """The seed page's main article and its "Related" teasers, as feed items."""
    require_shared()
    text = SEED_FILE.read_text("utf-8")
    start = text.index(SEED_TITLE) + len(SEED_TITLE)
    body = text[start:text.index("Comments / 0")]
    paras = [p.strip() for p in body.split("\n\n") if p.strip()]
    paras = [p for p in paras if not p.startswith(("By ", "http")) and p not in
             ("The Independent", "2 days ago") and "\n" not in p]
    main = Item(SEED_TITLE, SEED_URL, paras[0],
                "".join(f"<p>{escape(p)}</p>" for p in paras))
    related = text[text.index("\nRelated\n"):]
    teasers = []
    pattern = re.compile(r"^([^\n]+)\n\n([^\n]+)\n\n([^\n]{60,})\n([A-Z][A-Z. ]+)$", re.M)
    for n, m in enumerate(pattern.finditer(related)):
        slug = re.sub(r"[^a-z0-9]+", "-", m.group(2).lower()).strip("-")
        teasers.append(Item(m.group(2), f"https://related.example.com/{n}/{slug}", m.group(3)))
    return main, teasers


def rss(items: list[Item], title: str = "Test feed") -> bytes:
    now = datetime(2021, 12, 2, 12, 0, tzinfo=UTC)
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
           f"<channel><title>{escape(title)}</title><link>https://example.com/</link>"
           "<description>test</description>"]
    for i, it in enumerate(items):
        out.append("<item>")
        out.append(f"<title>{escape(it.title)}</title><link>{escape(it.url)}</link>")
        out.append(f"<guid isPermaLink=\"false\">{escape(it.guid or it.url)}</guid>")
        out.append(f"<pubDate>{format_datetime(now - timedelta(minutes=i))}</pubDate>")
        out.append(f"<description>{escape(it.summary)}</description>")
        if it.content:
            out.append(f"<content:encoded><![CDATA[{it.content}]]></content:encoded>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def http_server(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``routes``; yields its base URL."""
    handler = type("H", (_Handler,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def feed_file_routes(paths: list[Path]) -> dict[str, tuple[int, dict[str, str], bytes]]:
    routes = {}
    for p in paths:
        ctype = "application/feed+json" if p.suffix == ".json" else "application/xml"
        routes["/real/" + p.name] = (200, {"Content-Type": ctype}, p.read_bytes())
    return routes


