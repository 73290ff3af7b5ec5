"""The feed list and rules loaders on arbitrary input: a file loads or is refused with
the loader's own error, whose lines each name the file; nothing else escapes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.config import FeedConfigError, load_feed_list
from newsmon.rules import RulesError, load_rules

# YAML-shaped text: keys the loaders know, values of every kind, indentation and
# punctuation that make mappings, lists, anchors and tags.
_TOKENS = st.sampled_from([
    "feeds:", "rules:", "  - ", "url: ", "name: ", "interval: ", "min_score: ", "min_level: ",
    "keywords: ", "countries: ", "version: ", "cooldown_minutes: ", "allow_private_addresses: ",
    "http://example.com/rss", ".nan", ".inf", "true", "null", "-1", "1e999", "99999999999999999",
    "[", "]", "{", "}", ",", ":", "&a ", "*a", "!!python/object ", "high", "\n", "    ", "'",
    '"', "#", "\t", "é", "\x00",
])
_TEXT = st.lists(_TOKENS, max_size=40).map("".join)


@pytest.mark.parametrize(("name", "load", "error"), [
    ("feeds.yml", load_feed_list, FeedConfigError), ("rules.yml", load_rules, RulesError)])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(text=_TEXT, raw=st.binary(max_size=64))
def test_loader_loads_or_refuses_in_its_own_words(
        tmp_path: Path, name: str, load: Callable[[Path], object], error: type[Exception],
        text: str, raw: bytes) -> None:
    for body in (text.encode("utf-8", "surrogatepass"), raw):
        path = tmp_path / name
        path.write_bytes(body)
        try:
            load(path)
        except error as exc:
            assert all(line.startswith(str(path)) for line in str(exc).splitlines()), exc
