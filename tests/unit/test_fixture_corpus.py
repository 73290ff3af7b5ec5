"""The fixture feeds under tests/fixtures (written for the tests) through parsing and
analysis: runs in any clone, with or without the shared reference corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.parse import parse_feed
from newsmon.analysis.pipeline import Analyzer
from newsmon.records import RawArticle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def _entries(name: str) -> list[RawArticle]:
    body = (FIXTURES / name).read_bytes()
    return list(parse_feed(body, f"https://fixtures.example.org/{name}",
                           "2021-12-02T12:00:00Z").entries)


def test_every_fixture_format_parses() -> None:
    assert [e.title for e in _entries("world.rss")] == [
        "Artillery shelling kills 12 as troops mass near the border",
        "City council approves new cycle lanes"]
    assert len(_entries("science.atom")) == 2
    # The item dated at the edge of the calendar is skipped; its feed's other item stays.
    assert [e.title for e in _entries("markets.json")] == [
        "Supermarkets launch a price war on milk"]


def test_conflict_alerts_and_figurative_war_does_not(analyzer: Analyzer) -> None:
    scores = {}
    for name in ("world.rss", "science.atom", "markets.json"):
        for raw in _entries(name):
            scores[raw.title] = analyzer.enrich(raw)["tension"]["score"]
    assert scores["Artillery shelling kills 12 as troops mass near the border"] >= 60
    for title in ("City council approves new cycle lanes",
                  "Striker fires champions into the cup final",
                  "Supermarkets launch a price war on milk",
                  "Telescope finds water vapour on a distant planet"):
        assert scores[title] < 30, title
