"""The near-duplicate stages' bookkeeping: probes answered, answers collected into a
verdict, stories assigned, and the offline index ``newsmon analyze`` runs (no broker)."""

import random
from typing import Any

from newsmon.analysis.neardup import BANDS, BandIndex, band_keys, signature, syndicated_copies
from newsmon.stages.neardup import (
    NearDupIndex,
    add_answers,
    answer_probe,
    assign_story,
    no_hits,
    note_answered,
    rebuild,
    verdict,
)

TEXT = " ".join(f"word{i} of the wire story about troops near the border" for i in range(40))
OTHER = " ".join(f"term{i} in an unrelated piece on farm subsidies and rainfall" for i in range(40))


def probe(index: BandIndex, members: dict[str, Any], aid: str, t: float,
          text: str) -> dict[str, list[list[Any]]]:
    return answer_probe(index, members, aid, t, band_keys(signature(text)), 0, t)


def test_a_copy_collects_the_original_from_its_band_answers() -> None:
    index, members = BandIndex(3600, 64), {}
    assert all(a == [] for a in probe(index, members, "orig", 1.0, TEXT).values())
    answers = probe(index, members, "copy", 2.0, TEXT + " (Reuters)")
    hits = no_hits()
    bands = list(answers)
    assert not add_answers(hits, {b: answers[b] for b in bands[:5]})  # not all bands yet
    assert not add_answers(hits, {b: answers[b] for b in bands[:5]})  # redelivered: no count
    assert add_answers(hits, answers)
    assert len(hits["bands"]) == BANDS and hits["shared"]["orig"] <= BANDS
    match = verdict("copy", hits)
    assert match.duplicate_of == "orig" and match.story_id == "orig"
    assert set(members) == {"orig 0", "copy 0"}


def test_a_repeated_probe_writes_nothing_and_gets_the_same_answer() -> None:
    index, members = BandIndex(3600, 64), {}
    probe(index, members, "orig", 1.0, TEXT)
    first = probe(index, members, "copy", 2.0, TEXT)
    written = dict(members)
    assert probe(index, members, "copy", 2.0, TEXT) == first
    assert members == written


def test_assigned_stories_survive_a_rebuild() -> None:
    index, members = BandIndex(3600, 64), {}
    probe(index, members, "a", 1.0, TEXT)
    probe(index, members, "b", 2.0, TEXT)
    assign_story(index, members, "b", "a", band_keys(signature(TEXT)), 0, 3.0)
    assert members["b 0"]["story"] == "a"
    fresh = BandIndex(3600, 64)
    rebuild(fresh, members.items())
    hits = no_hits()
    add_answers(hits, probe(fresh, {}, "c", 4.0, TEXT))
    assert hits["stories"] == {"a": "a", "b": "a"}


def test_note_answered_keeps_the_latest_send_per_partition() -> None:
    upto: dict[int, float] = {}
    note_answered(upto, ["0:x", "1:y"], 5.0, lambda band: int(band[0]))
    note_answered(upto, ["0:x"], 3.0, lambda band: int(band[0]))
    assert upto == {0: 5.0, 1: 5.0}


def test_offline_index_finds_copies_in_input_order() -> None:
    index = NearDupIndex()
    assert index.add("orig", TEXT).story_id == "orig"
    assert index.add("other", OTHER).duplicate_of is None
    copies = list(syndicated_copies(TEXT, random.Random(1)))
    for n, (_, text) in enumerate(copies[:3]):
        m = index.add(f"copy{n}", text)
        assert (m.duplicate_of, m.story_id) == ("orig", "orig")
    # As in the worker, a record without text is a story of its own, never a copy.
    assert index.add("blank", "  ").story_id == "blank"
    assert index.add("blank2", "").duplicate_of is None
