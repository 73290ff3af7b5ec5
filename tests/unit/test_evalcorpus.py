"""The tension evaluation corpus: well-formed, split by the hash rule, feed references resolve."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources

import pytest

from newsmon.analysis.evalcorpus import KINDS, LABELS, PARTS, load_items, part_of
from tests.helpers import DATA as SHARED


def _rows(part: str) -> list[dict[str, object]]:
    folder = resources.files("newsmon").joinpath("data", "eval", part)
    rows = []
    for f in folder.iterdir():
        if f.name.endswith(".jsonl"):
            rows += [json.loads(x) for x in f.read_text("utf-8").splitlines() if x.strip()]
    return rows


def test_written_items_load_without_data() -> None:
    for part in PARTS:
        items = load_items(part, None)
        assert items, part
        assert all(it.source == "written" for it in items)


def test_ids_unique_and_split_rule_holds() -> None:
    seen: dict[str, str] = {}
    for part in PARTS:
        for row in _rows(part):
            rid = str(row["id"])
            assert rid not in seen, f"{rid} in {seen[rid]} and {part}"
            seen[rid] = part
            assert part_of(rid) == part, f"{rid} is in {part}, rule says {part_of(rid)}"
    assert len(seen) > 1000


def test_labels_kinds_and_fields() -> None:
    listed = unlisted = 0
    for part in PARTS:
        for it in load_items(part, None):
            assert it.label in LABELS and it.kind in KINDS, it.id
            if it.kind == "headline":
                assert it.title and not it.text, it.id
            elif it.kind == "sentence":
                assert it.text and not it.title, it.id
            else:
                # short items and articles list their names (a rare one, such as an
                # item on the gold price, names nothing)
                assert it.title and it.text, it.id
                listed += bool(it.entities)
                unlisted += not it.entities
            for etype, name in it.entities:
                assert etype in ("PERSON", "ORG", "LOCATION"), it.id
                assert name in it.title + "\n" + it.text, (it.id, name)
    assert unlisted <= 0.01 * (listed + unlisted), (listed, unlisted)


def test_written_items_are_balanced_across_kinds() -> None:
    kinds = Counter(it.kind for part in PARTS for it in load_items(part, None))
    assert set(kinds) == set(KINDS)


@pytest.mark.skipif(not (SHARED / "feeds" / "real").is_dir(),
                    reason="shared data folder (feeds/real) absent: feed references not checked")
def test_feed_references_resolve() -> None:
    total = 0
    for part in PARTS:
        feeds = [it for it in load_items(part, SHARED) if it.source == "feed"]
        total += len(feeds)
        for it in feeds:
            assert it.title or it.text, it.id
            assert (it.kind == "short") == bool(it.text), it.id
    assert total >= 400
