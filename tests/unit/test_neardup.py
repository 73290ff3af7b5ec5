import hashlib
import json
import random

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from newsmon.analysis.neardup import (
    BANDS,
    DUP_BANDS,
    LATER_BY,
    PERMS,
    REPROBE_AFTER,
    STUCK_AFTER,
    BandIndex,
    LSHIndex,
    band_keys,
    decide,
    lost_bands,
    membership,
    normalise,
    parked_due,
    probe_band,
    signature,
    similarity,
    syndicated_copies,
)
from newsmon.analysis.syndication import eval_syndication, split_of
from newsmon.analysis.text import html_to_text
from tests.helpers import DATA, seed_items

TEXT = seed_items()[0].content
BODY = html_to_text(TEXT)
# The first four paragraphs (~90 words) and the first two (~50): short wire items, where a
# new dateline, footer or headline is a large part of the text.
SHORT = "\n\n".join(BODY.split("\n\n")[:4])
BRIEF = "\n\n".join(BODY.split("\n\n")[:2])


def found(original: str, copy: str) -> bool:
    index = LSHIndex()
    index.add("orig", original)
    m = index.add("copy", copy)
    return m.duplicate_of == "orig" and m.story_id == "orig"


def edit(text: str, changes: dict[str, str]) -> str:
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text


def test_a_rewritten_dateline_and_new_footers_are_the_same_story() -> None:
    original = f"LONDON (Reuters) - {BRIEF}\n\nReporting by Guy Faulconbridge; Editing by J Harvey"
    copy = (f"MOSCOW, Dec 2 (AFP) - {BRIEF}\n\n(c) 2021 Agence France-Presse\n\n"
            "Sign up for our newsletter to get the latest headlines every morning.")
    assert found(original, copy)


def test_a_headline_line_with_a_wire_slug_is_not_part_of_the_story() -> None:
    original = f"UK and US urge Russia to draw back\n\nBy Kate Holton\n\n{BRIEF}"
    copy = f"UPDATE 2-EXCLUSIVE-Britain joins US in warning to Moscow over Ukraine\n\n{BRIEF}"
    assert found(original, copy)


def test_a_dropped_lead_sentence_and_a_few_changed_words() -> None:
    paras = SHORT.split("\n\n")
    copy = edit("\n\n".join(paras[1:]), {"separately": "individually",
                                          "blunt": "stark", "he said": "he told reporters"})
    assert found(f"WASHINGTON (AP) — {SHORT}", copy)


def test_a_feed_summary_cut_short_is_found_both_ways() -> None:
    """A summary (the first sentence or two) shares few of the story's shingles
    (containment, not similarity): the lead bands find it, before or after the story."""
    summary = "KYIV (dpa) - " + " ".join(BODY.split("\n\n")[:2])
    assert found(BODY, summary)
    assert found(summary, BODY)
    one = BODY.split("\n\n")[0]
    assert found(f"LONDON (Reuters) - {BODY}", edit(one, {"high": "very high"}))


def test_a_story_cut_short_to_its_top_half() -> None:
    paras = BODY.split("\n\n")
    assert found(BODY, "\n\n".join(paras[:len(paras) // 2]))


REPORT_A = """KHARKIV, Ukraine (Reuters) - Russian forces shelled the outskirts of Kharkiv
overnight, killing three civilians and damaging a power station, the regional governor said on
Tuesday. Oleh Synyehubov said on Telegram that a school and several apartment blocks were also
hit in the attack, which began shortly after midnight. Emergency crews worked through the morning to
restore electricity to about 20,000 homes. Ukraine's military said its air defences shot down
four drones over the region. Moscow did not comment on the strike. Kharkiv, Ukraine's second
largest city, lies about 30 km from the Russian border and has been hit repeatedly."""

REPORT_B = """KYIV, Dec 2 (AFP) - Three people were killed when Russian artillery struck the edge of
Kharkiv in the early hours of Tuesday, local officials said, as the city's residents woke to
blackouts. "The enemy again targeted civilian infrastructure," governor Oleh Synyehubov wrote,
adding that the power plant hit in the shelling would take days to repair. A school was
damaged. The Kremlin has denied targeting civilians. Ukrainian air defence units reported
destroying drones over the Kharkiv region overnight, while fighting continued near Kupiansk
to the east, where Russian troops have been trying to advance for weeks."""


def test_two_reports_of_the_same_event_stay_distinct() -> None:
    """Same battle, same day, same actors, different reporting: not a copy."""
    assert not found(REPORT_A, REPORT_B) and not found(REPORT_B, REPORT_A)
    assert found(REPORT_A, edit(REPORT_A, {"KHARKIV, Ukraine (Reuters) -": "PARIS —",
                                           "overnight,": "on Monday night,"}))


def test_template_items_and_shared_furniture_stay_distinct() -> None:
    a = ("Markets: FTSE 100 closes up 0.3%\n\nLONDON (Reuters) - The FTSE 100 index closed "
         "up 0.3% at 7,234 points on Tuesday, led by gains in miners, while banks fell 0.8%. "
         "Trading volume was 92% of the 30-day average.\n\nReporting by Kate Holton")
    b = ("Markets: FTSE 100 closes down 1.1%\n\nLONDON (Reuters) - The FTSE 100 index closed "
         "down 1.1% at 7,152 points on Wednesday, dragged down by oil majors, while utilities "
         "rose 0.4%. Trading volume was 118% of the 30-day average.\n\nReporting by Kate Holton")
    assert not found(a, b)
    furniture = ("\n\nAbout us: The Example Group is a leading provider of news, information and "
                 "analysis to businesses, governments and professionals, with offices in more "
                 "than forty countries.\n\nSign up for our newsletter.")
    assert not found(REPORT_A + furniture, SHORT + furniture)


def test_normalise_strips_what_syndication_changes() -> None:
    text = ("UPDATE 1-Russia warned\n\nBy Jane Doe\n\nMOSCOW, Dec 2 (AFP) - Russia said it "
            "would respond.\n\nIt gave no details.\n\nReporting by A; Editing by B\n\n"
            "(c) 2021 AFP. All rights reserved.")
    assert " ".join(normalise(text)) == "russia said it would respond it gave no details"
    assert " ".join(normalise("(Reuters) — The New York State attorney")) == \
        "the new york state attorney"
    # A list of short lines keeps its first line (no headline is dropped from it).
    assert normalise("Stage 1\nStage 2\nStage 3") == ["stage", "1", "stage", "2", "stage", "3"]


def test_texts_that_are_all_furniture_are_not_all_one_text() -> None:
    a, b = "Sign up for our newsletter", "(c) 2021 Reuters. All rights reserved."
    assert normalise(a) == normalise(b) == []
    assert not found(a, b)


@given(st.text())
def test_normalise_never_raises(s: str) -> None:
    assert all(w == w.lower() for w in normalise(s))


def test_signature_is_deterministic_and_sensitive() -> None:
    a, b = signature(TEXT), signature(TEXT)
    assert np.array_equal(a, b)
    assert similarity(a, signature("An entirely different article about football scores.")) < 0.1
    assert len(band_keys(a)) == BANDS and len(set(band_keys(a))) == BANDS


def test_copies_found_distinct_not() -> None:
    index = LSHIndex()
    assert index.add("orig", TEXT).duplicate_of is None
    rng = random.Random(1)
    for kind, copy in syndicated_copies(TEXT, rng):
        m = index.add(f"copy-{kind}", copy)
        assert m.duplicate_of == "orig", kind
        assert m.story_id == "orig"
    teaser = seed_items()[1][0]
    assert index.add("other", teaser.summary).duplicate_of is None


def test_decide_prefers_the_earliest_close_candidate() -> None:
    shared = {"b": BANDS, "a": DUP_BANDS, "c": 1}
    order = {"a": 1.0, "b": 2.0, "c": 0.5}
    m = decide("x", shared, {"a": "s-a"}, order)
    assert m.duplicate_of == "a" and m.story_id == "s-a"
    assert decide("x", {"c": 1}, {}).story_id == "x"
    assert decide("x", {}, {}).duplicate_of is None


def test_index_forgets_oldest() -> None:
    index = LSHIndex(max_articles=2)
    for i in range(3):
        index.add(f"a{i}", TEXT + f" variant {i}")
    assert list(index.keys) == ["a1", "a2"]
    assert all("a0" not in members for members in index.bands.values())


@given(st.text())
def test_signature_never_raises(s: str) -> None:
    assert signature(s).shape == (PERMS,) and len(band_keys(signature(s))) == BANDS


def test_probe_band_answers_with_earlier_members_only_and_joins_once() -> None:
    answer, members = probe_band([["a", "a", 1.0]], "b", 2.0, keep=64)
    assert answer == [["a", "a", 1.0]] and [m[0] for m in members] == ["a", "b"]
    members = [*members, ["c", "c", 3.0]]
    # "b" asked again later (a lost answer, a redelivered probe): same answer, no rejoin.
    again, after = probe_band(members, "b", 9.0, keep=64)
    assert again == answer and [m[0] for m in after] == ["a", "b", "c"]
    # Two probes at the same time: the order is by id, so only one sees the other.
    assert probe_band([["x", "x", 5.0]], "y", 5.0, keep=64)[0] == [["x", "x", 5.0]]
    assert probe_band([["y", "y", 5.0]], "x", 5.0, keep=64)[0] == []
    assert [m[0] for m in probe_band(members, "d", 4.0, keep=2)[1]] == ["c", "d"]


def test_band_index_rebuilt_from_memberships_answers_like_the_live_one() -> None:
    """The streams persist one membership record per article (not the band lists): an
    index rebuilt from the records after a restart answers every later probe as the
    index that saw the probes did, stories and the ``keep`` cut included."""
    live = BandIndex(window=100.0, keep=3)
    records: dict[str, dict[str, object]] = {}
    probes = [("a", 1.0, ["x", "y"]), ("b", 2.0, ["x"]), ("c", 3.0, ["y", "z"]),
              ("d", 4.0, ["x", "z"]), ("e", 5.0, ["x"])]
    for aid, t, bands in probes:
        live.probe(aid, t, bands, now=t)
        rec = membership(records.get(aid), aid, t, bands)  # type: ignore[arg-type]
        assert rec is not None
        records[aid] = dict(rec)
    live.set_story("d", "a", ["x", "z"], now=5.0)
    records["d"]["story"] = "a"
    rebuilt = BandIndex(window=100.0, keep=3)
    rebuilt.rebuild((aid, 0, rec) for aid, rec in records.items())  # type: ignore[misc]
    assert rebuilt.bands == live.bands
    assert rebuilt.probe("f", 6.0, ["x", "z"], now=6.0) == live.probe("f", 6.0, ["x", "z"],
                                                                     now=6.0)
    assert [m[0] for m in rebuilt.bands["x"]] == ["d", "e", "f"]  # keep=3: "a", "b" cut
    assert ["d", "a", 4.0] in rebuilt.bands["z"]
    assert rebuilt.expire(now=104.5) == live.expire(now=104.5) == ["a", "b", "c", "d"]


def test_a_repeated_probe_writes_no_membership_and_expired_members_go() -> None:
    first = membership(None, "a", 1.0, ["x", "y"])
    assert first == {"bands": ["x", "y"], "story": "a", "t": 1.0}
    assert membership(first, "a", 1.0, ["y"]) is None  # redelivered: nothing to write
    assert membership(first, "a", 1.0, ["z"]) == {"bands": ["x", "y", "z"], "story": "a",
                                                  "t": 1.0}  # re-asked for a lost band
    index = BandIndex(window=10.0, keep=64)
    index.probe("a", 1.0, ["x", "y"], now=1.0)
    index.probe("b", 8.0, ["x"], now=8.0)
    index.probe("q", 8.5, ["w"], now=8.5, partition=1)
    # "a" (t=1) is out of the window at 12: neither answered nor kept.
    assert index.probe("c", 12.0, ["x", "y"], now=12.0) == {"x": [["b", "b", 8.0]], "y": []}
    assert [m[0] for m in index.bands["y"]] == ["c"]
    assert index.expire(now=19.0) == ["a", "b"]  # partition 0 only; "c" is young
    assert [m[0] for m in index.bands["x"]] == ["c"] and "w" in index.bands
    assert index.expire(now=30.0) == ["c"] and index.expire(now=30.0, partition=1) == ["q"]
    assert index.bands == {}


def test_only_bands_whose_partition_answered_a_later_probe_are_asked_again() -> None:
    partition = {"a": 0, "b": 0, "c": 1, "d": 2}.__getitem__
    # Probed at 10: partition 0 has answered a probe sent at 12 (ours was lost there),
    # partition 1 only up to 9 (a backlog: ours is still queued), 2 answered ours.
    assert lost_bands(["a", "b", "c", "d"], {"b", "d"}, 10.0, {0: 12.0, 1: 9.0, 2: 11.0},
                      partition) == ["a"]
    assert lost_bands(["a", "c"], set(), 10.0, {}, partition) == []  # no news: wait


def test_parked_due() -> None:
    assert parked_due(0.0, 0.0, STUCK_AFTER + 1, 0.0) == "release"
    late = REPROBE_AFTER + 1
    assert parked_due(0.0, 0.0, late, LATER_BY + 1) == "check"
    assert parked_due(0.0, 0.0, late, LATER_BY) is None  # nothing answered later: queued
    assert parked_due(0.0, 0.0, REPROBE_AFTER, 1e9) is None  # probed too lately
    assert parked_due(0.0, 100.0, 100.0 + late, 100.0 + LATER_BY + 1) == "check"  # re-probed


@given(st.floats(0, 1000), st.floats(0, 1000), st.floats(0, 2000),
       st.dictionaries(st.integers(0, 3), st.floats(0, 2000), max_size=4),
       st.lists(st.sampled_from("abcdefgh"), unique=True), st.sets(st.sampled_from("abcdefgh")))
def test_parked_due_skips_only_what_lost_bands_would(parked: float, probed: float, now: float,
                                                     upto: dict[int, float], keys: list[str],
                                                     answered: set[str]) -> None:
    """The sweep skips a record parked_due says nothing of: then lost_bands (which hashes
    every band key) would ask for nothing either, whatever the partitions answered."""
    def partition(k: str) -> int:
        return ord(k) % 4

    due = parked_due(parked, probed, now, max(upto.values(), default=0.0))
    if due is None and now - probed > REPROBE_AFTER:
        assert lost_bands(keys, answered, probed + LATER_BY, upto, partition) == []
    if due == "check":
        assert any(t > probed + LATER_BY for t in upto.values())


def test_eval_reports_dev_and_test_parts_separately() -> None:
    truth = json.loads((DATA / "pages/article-extraction-benchmark/ground-truth.json")
                       .read_text("utf-8"))
    keys = sorted(truth)
    pick = [k for k in keys if split_of(k) == "dev"][:4] + \
        [k for k in keys if split_of(k) == "test"][:4]
    assert all((split_of(k) == "test") == (int(hashlib.sha256(k.encode()).hexdigest(), 16)
                                            % 100 < 35) for k in keys)
    rows = eval_syndication({k: ("site", truth[k]["articleBody"]) for k in pick},
                            written=lambda part: [])
    names = [r[0] for r in rows]
    for part in ("dev", "test"):
        assert f"near-duplicates [{part}]: copy recall" in names
        assert f"near-duplicates [{part}]: recall by 5-gram Jaccard" in names
        assert f"near-duplicates [{part}]: false-duplicate rate" in names
    recall = dict((r[0], r[1]) for r in rows)["near-duplicates [dev]: recall by transform"]
    assert "summary (1-3 sentences)" in recall and "lead cut" in recall


def test_distinct_feed_summaries_with_a_link_line_stay_distinct() -> None:
    """Real feed summaries: one short paragraph and a "Continue reading..." link. The
    paragraph is the text, not a headline to strip, and two such items are not copies."""
    from newsmon.analysis.neardup import LSHIndex, normalise
    from newsmon.analysis.pipeline import near_dup_text
    from newsmon.records import RawArticle

    a = RawArticle(id="a", title="Trump-Russia investigation: the key questions answered",
                   summary="<p>Everything you need to know about the inquiry into Russian "
                           "hacking, alleged collusion and Donald Trump, plus the latest "
                           "news</p> <a href='https://x.example/a'>Continue reading...</a>")
    b = RawArticle(id="b", title="Snake school and May in China: Wednesday's top photos",
                   summary="<p>The picture editors bring you a selection of photo highlights "
                           "from around the world</p> <a href='https://x.example/b'>"
                           "Continue reading...</a>")
    assert "collusion" in normalise(near_dup_text(a))
    index = LSHIndex()
    index.add("a", near_dup_text(a))
    assert index.add("b", near_dup_text(b)).duplicate_of is None
