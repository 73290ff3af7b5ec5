import json
import time
import tracemalloc
from pathlib import Path

import feedparser
import pytest

from connectors.parse import DEFAULT_BUDGET, FeedTooLarge, ParseBudget, cap_entries, parse_feed
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
        expected = min(expected, DEFAULT_BUDGET.max_entries)  # the rest is cut while parsing
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


# -- the parse budget ------------------------------------------------------------------------

def _comment_openers_rss(size: int = 700_000) -> bytes:
    desc = "&lt;!--" * (size // 7)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<item><title>a</title><link>https://e.example/a</link>"
            f"<description>{desc}</description></item></channel></rss>").encode()


def _tiny_atom_entries(size: int = 10 * 1024 * 1024) -> bytes:
    head = (b'<?xml version="1.0" encoding="utf-8"?>'
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>')
    entry = b"<entry><id>x</id><title>t</title></entry>"
    return head + entry * ((size - len(head)) // len(entry)) + b"</feed>"


def test_a_description_of_comment_openers_is_cut_before_it_is_sanitised() -> None:
    body = _comment_openers_rss()  # 700 KB: 41 s when the whole field was sanitised
    t0 = time.perf_counter()
    parsed = parse_feed(body, "https://e.example/f", "2026-01-01T00:00:00Z")
    assert time.perf_counter() - t0 < 15
    assert len(parsed.entries) == 1
    assert len(parsed.entries[0].summary) <= 2 * DEFAULT_BUDGET.summary_chars  # escaped '<'


def test_a_ten_mib_atom_of_tiny_entries_is_cut_while_parsing() -> None:
    body = _tiny_atom_entries()  # 35 s and 369 MB when every entry was built, then cut
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        parsed = parse_feed(body, "https://e.example/f", "2026-01-01T00:00:00Z")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 15
    assert peak < 120 * 1024 * 1024, peak
    assert len(parsed.entries) == DEFAULT_BUDGET.max_entries and parsed.capped


def test_feedparser_never_sees_more_entries_than_the_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    real = feedparser.parse

    def spy(source, *a, **kw):  # type: ignore[no-untyped-def]
        seen.append(source)
        return real(source, *a, **kw)

    monkeypatch.setattr(feedparser, "parse", spy)
    body = _tiny_atom_entries(200_000)
    parsed = parse_feed(body, "https://e.example/f", "t", budget=ParseBudget(max_entries=7))
    assert len(parsed.entries) == 7 and parsed.capped
    assert seen and seen[0].count(b"<entry>") == 7
    assert seen[0].endswith(b"</feed>")


def test_cap_entries_leaves_short_or_unreadable_documents_alone() -> None:
    body = _tiny_atom_entries(2_000)
    assert cap_entries(body, 1000) == (body, False)
    broken = b"<rss><channel><item>a</ite><item>b</item><item>c"
    assert cap_entries(broken, 1) == (broken, False)
    cut_before_the_break = b"<rss><channel><item>a</item><item>b</item><item>c"
    assert cap_entries(cut_before_the_break, 1) == (
        b"<rss><channel><item>a</item></channel></rss>", True)
    utf16 = '<?xml version="1.0" encoding="utf-16"?><rss><item/><item/></rss>'.encode("utf-16")
    assert cap_entries(utf16, 1) == (utf16, False)
    nested = b"<rss><channel><item><item/><item/></item><item/></channel></rss>"
    assert cap_entries(nested, 1) == (b"<rss><channel><item><item/><item/></item>"
                                      b"</channel></rss>", True)


@pytest.mark.parametrize("fast", [True, False], ids=["rss20", "feedparser"])
def test_fields_are_truncated_before_sanitising(monkeypatch: pytest.MonkeyPatch,
                                                fast: bool) -> None:
    import connectors.parse as parse_mod
    import connectors.rss20 as rss20_mod

    sizes: list[int] = []

    def measuring(real):  # type: ignore[no-untyped-def]
        def wrapper(text, *a, **kw):  # type: ignore[no-untyped-def]
            sizes.append(len(text))
            return real(text, *a, **kw)
        return wrapper

    monkeypatch.setattr(parse_mod, "sanitize_html", measuring(parse_mod.sanitize_html))
    monkeypatch.setattr(rss20_mod, "_sanitize_html", measuring(rss20_mod._sanitize_html))
    big = "<b>x</b> " * 20_000
    extra = "" if fast else "<source>s</source>"  # an item child the fast reader declines
    body = (f"<rss version='2.0'><channel><title>t</title><item><title>{'T' * 5000}</title>"
            f"<link>https://e.example/a</link>{extra}"
            f"<description><![CDATA[{big}<script>alert(1)</script>]]></description>"
            f"<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
            f"<![CDATA[{big}]]></content:encoded></item></channel></rss>").encode()
    budget = ParseBudget(title_chars=100, summary_chars=1000, content_chars=3000)
    parsed = parse_feed(body, "https://e.example/f", "t", budget=budget)
    e = parsed.entries[0]
    assert parsed.format == "rss20"
    assert len(e.title) <= 100 and len(e.summary) <= 1000 and len(e.content) <= 3000
    assert sizes and max(sizes) <= 3000
    assert "<b>" in e.summary and "<script>" not in e.summary


def test_atom_html_is_still_sanitised_and_text_is_not() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>a</id><title type="text">a &lt;b&gt; c</title>
        <link href="/a"/><summary type="html">&lt;p onclick="x()"&gt;hi&lt;script&gt;
        alert(1)&lt;/script&gt;&lt;a href="/rel"&gt;l&lt;/a&gt;&lt;/p&gt;</summary>
      </entry></feed>"""
    e = parse_feed(body, "https://e.example/f", "t").entries[0]
    assert e.title == "a <b> c"
    assert "script" not in e.summary and "onclick" not in e.summary
    assert 'href="https://e.example/rel"' in e.summary
    assert e.url == "https://e.example/a"


def test_a_body_over_the_byte_budget_is_refused() -> None:
    with pytest.raises(FeedTooLarge, match="over the parse budget of 100"):
        parse_feed(b"x" * 101, "https://e.example/f", "t", budget=ParseBudget(max_bytes=100))


# -- one bad item, not one bad feed ----------------------------------------------------------

def _json_feed(items: list[object]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J",
                       "items": items}).encode()


GOOD = {"id": "good", "url": "https://e.example/good", "title": "Good",
        "date_published": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize(("bad", "reason"), [
    ({"id": "1", "title": "edge", "date_published": "9999-12-31T23:59:59-14:00"}, "date"),
    ({"id": "2", "title": "edge", "date_published": "0001-01-01T00:00:00+14:00"}, "date"),
    ({"id": "3", "title": 42}, "type"),
    ({"id": "4", "title": "t", "summary": ["a"]}, "type"),
    ({"id": ["x"], "title": "t"}, "type"),
    ({"id": "5", "url": 7, "title": "t"}, "type"),
    ({"id": "6", "title": "t", "date_published": 1700000000}, "type"),
    ({"id": "7", "url": "https://e.example/" + "a" * 10_000, "title": "t"}, "size"),
    ({"id": "x" * 10_000, "title": "t"}, "size"),
    ("just a string", "type"),
])
def test_a_hostile_json_feed_item_is_skipped_and_the_rest_kept(bad: object, reason: str) -> None:
    parsed = parse_feed(_json_feed([bad, GOOD]), "https://e.example/f", "2026-01-02T00:00:00Z")
    assert [e.guid for e in parsed.entries] == ["good"]
    assert [r for r, _ in parsed.skipped] == [reason]
    assert all("\n" not in detail for _, detail in parsed.skipped)


def test_a_hostile_atom_item_is_skipped_and_the_rest_kept() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>bad</id><title>x</title><updated>9999-12-31T23:59:59-14:00</updated></entry>
      <entry><id>long</id><title>y</title><link href="https://e.example/""" + b"a" * 5000 + \
        b""""/></entry>
      <entry><id>good</id><title>z</title><updated>2026-01-01T00:00:00Z</updated></entry>
    </feed>"""
    parsed = parse_feed(body, "https://e.example/f", "t")
    assert [e.title for e in parsed.entries] == ["z"]
    assert sorted(r for r, _ in parsed.skipped) == ["date", "size"]


def test_a_hostile_rss_item_is_skipped_and_the_rest_kept() -> None:
    body = ("<rss version='2.0'><channel><title>t</title>"
            f"<item><title>x</title><guid isPermaLink='false'>{'g' * 5000}</guid></item>"
            "<item><title>y</title><link>https://e.example/y</link></item>"
            "</channel></rss>").encode()
    parsed = parse_feed(body, "https://e.example/f", "t")
    assert [e.url for e in parsed.entries] == ["https://e.example/y"]
    assert [r for r, _ in parsed.skipped] == ["size"]


def test_the_connector_counts_skipped_items_by_reason_and_logs_once(
        caplog: pytest.LogCaptureFixture) -> None:
    from connectors.runner import _report_skipped
    from newsmon import metrics

    bad_date = {"id": "1", "title": "edge", "date_published": "9999-12-31T23:59:59-14:00"}
    parsed = parse_feed(_json_feed([bad_date, GOOD, {"id": "2", "title": 3}]),
                        "https://e.example/f", "t")
    before = {r: metrics.feed_items_skipped.labels(r)._value.get() for r in ("date", "type")}
    with caplog.at_level("WARNING", logger="connectors.runner"):
        _report_skipped("https://e.example/f", parsed)
    assert metrics.feed_items_skipped.labels("date")._value.get() == before["date"] + 1
    assert metrics.feed_items_skipped.labels("type")._value.get() == before["type"] + 1
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "skipped 2 item(s), kept 1" in lines[0]
