from pathlib import Path

import pytest

from connectors.config import FeedConfigError, FeedList, FeedSpec, load_feed_list
from connectors.opml import merge_into_yaml, parse_opml, to_opml

OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="World">
    <outline type="rss" text="BBC" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
    <outline type="rss" text="Bad" xmlUrl="file:///etc/passwd"/>
  </outline>
  <outline type="rss" title="DW" xmlUrl="https://rss.dw.com/rdf/rss-en-world" category="europe"/>
</body></opml>"""


def test_parse_opml_with_folders_as_tags() -> None:
    feeds = parse_opml(OPML)
    assert [(f.url, f.name, f.tags) for f in feeds] == [
        ("https://feeds.bbci.co.uk/news/world/rss.xml", "BBC", ("World",)),
        ("https://rss.dw.com/rdf/rss-en-world", "DW", ("europe",)),
    ]


def test_round_trip_through_opml() -> None:
    feeds = [FeedSpec("https://a.com/rss", "A", ("x", "y")), FeedSpec("https://b.com/atom")]
    back = parse_opml(to_opml(feeds))
    assert [(f.url, f.name or f.url, f.tags) for f in back] == [
        ("https://a.com/rss", "A", ("x", "y")), ("https://b.com/atom", "https://b.com/atom", ())]


def test_entities_and_garbage_refused() -> None:
    with pytest.raises(FeedConfigError, match="entity"):
        parse_opml(b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY a "b">]><opml/>')
    with pytest.raises(FeedConfigError, match="not valid OPML"):
        parse_opml(b"<opml><body>")


def test_merge_keeps_options_and_loads(tmp_path: Path) -> None:
    existing = FeedList([FeedSpec("https://a.com/rss", "A")], ("127.0.0.1/32",))
    text, added = merge_into_yaml(existing, [*parse_opml(OPML), FeedSpec("https://a.com/rss")])
    assert added == 2
    p = tmp_path / "feeds.yml"
    p.write_text(text)
    loaded = load_feed_list(p)
    assert len(loaded.feeds) == 3 and loaded.allow_private_addresses == ("127.0.0.1/32",)


def test_nested_folders_keep_document_order() -> None:
    doc = b"""<opml version="2.0"><body>
      <outline text="A"><outline text="B"><outline xmlUrl="https://x.com/1"/></outline>
        <outline xmlUrl="https://x.com/2"/></outline>
      <outline xmlUrl="https://x.com/3"/></body></opml>"""
    assert [(f.url, f.tags) for f in parse_opml(doc)] == [
        ("https://x.com/1", ("A", "B")), ("https://x.com/2", ("A",)), ("https://x.com/3", ())]


def test_outlines_nested_5000_deep_are_refused_in_one_line() -> None:
    doc = (b"<opml version='2.0'><body>" + b"<outline text='f'>" * 5000
           + b"<outline xmlUrl='https://x.com/deep'/>" + b"</outline>" * 5000 + b"</body></opml>")
    with pytest.raises(FeedConfigError) as info:
        parse_opml(doc, "deep.opml")
    assert str(info.value) == "deep.opml: outlines nested more than 100 deep"


def test_an_oversized_opml_file_is_refused() -> None:
    with pytest.raises(FeedConfigError, match="over"):
        parse_opml(b" " * (17 * 1024 * 1024))
