from pathlib import Path

import feedparser
import pytest

from connectors.parse import parse_feed
from newsmon.analysis.canonical import article_id
from tests.helpers import DATA, Item, require_shared, rss

FEEDS = sorted(p for p in (DATA / "feeds").rglob("*") if p.is_file()
               and p.name not in ("LICENSE",) and not p.name.startswith("."))


def test_the_shared_feed_folder_is_there() -> None:
    require_shared()
    assert len(FEEDS) > 2000


def test_every_shared_feed_parses_with_the_same_entry_count() -> None:
    failures = []
    for path in FEEDS:
        body = path.read_bytes()
        url = "https://feeds.example.com/" + path.name
        try:
            parsed = parse_feed(body, url, "2026-01-01T00:00:00Z")
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append(f"{path}: {exc!r}")
            continue
        if parsed.format.startswith("json"):
            # feedparser 6.0 has no JSON Feed support; count the items ourselves.
            import json

            expected = len([i for i in json.loads(body.decode("utf-8-sig"))["items"]
                            if isinstance(i, dict)])
        else:
            expected = len(feedparser.parse(body, response_headers={"content-location": url})
                           .entries)
        if len(parsed.entries) != expected:
            failures.append(f"{path}: {len(parsed.entries)} entries, feedparser {expected}")
    assert not failures, "\n".join(failures[:20])


def test_real_feed_fields() -> None:
    body = (DATA / "feeds/real/rss-parser/guardian.rss").read_bytes()
    parsed = parse_feed(body, "https://www.theguardian.com/rss", "2026-01-01T00:00:00Z")
    assert parsed.format.startswith("rss")
    e = parsed.entries[0]
    assert e.url and e.url.startswith("http")
    assert e.id == article_id(e.url)
    assert e.title and e.feed_url == "https://www.theguardian.com/rss"
    assert not e.published_is_fetch_time


def test_relative_links_resolved_and_unsafe_links_dropped() -> None:
    body = rss([Item("A", "/world/a", "s"), Item("B", "javascript:alert(1)", "s", guid="g-b")])
    parsed = parse_feed(body, "https://news.example.com/feed.xml", "2026-01-01T00:00:00Z")
    assert parsed.entries[0].url == "https://news.example.com/world/a"
    assert parsed.entries[1].url is None
    assert parsed.entries[1].id == article_id(None, "g-b")


def test_missing_or_garbage_date_falls_back_to_fetch_time() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
      <item><title>x</title><link>https://a.com/x</link><pubDate>not a date</pubDate></item>
      <item><title>y</title><link>https://a.com/y</link></item></channel></rss>"""
    parsed = parse_feed(body, "https://a.com/feed", "2026-01-01T00:00:00Z")
    assert [e.published for e in parsed.entries] == ["2026-01-01T00:00:00Z"] * 2
    assert all(e.published_is_fetch_time for e in parsed.entries)


@pytest.mark.parametrize("name", ["json_feed.json", "google_alerts_atom.xml"])
def test_json_feed_and_atom(name: str) -> None:
    body = (DATA / "feeds/real/feedjira" / name).read_bytes()
    parsed = parse_feed(body, "https://x.example/feed", "2026-01-01T00:00:00Z")
    assert parsed.entries and all(e.title or e.summary for e in parsed.entries)


def test_garbage_is_not_an_exception() -> None:
    parsed = parse_feed(b"\x00\xff<<<not a feed", "https://a.com/f", "2026-01-01T00:00:00Z")
    assert parsed.entries == [] and parsed.bozo


def test_feedparser_never_gets_a_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []
    real = feedparser.parse

    def spy(source, *a, **kw):  # type: ignore[no-untyped-def]
        calls.append(source)
        return real(source, *a, **kw)

    monkeypatch.setattr(feedparser, "parse", spy)
    parse_feed(b"http://127.0.0.1:1/should-not-be-fetched", "https://a.com/f", "t")
    assert all(isinstance(c, bytes) for c in calls)
