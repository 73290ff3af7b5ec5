"""The near-duplicate stages' bookkeeping: a bands partition answering probes, and the
collection of an article's band answers into its verdict. Pure logic around
:mod:`newsmon.analysis.neardup` (signatures, the band index, :func:`decide`).

In the worker (``streams.neardup``) ``memberships`` (``"<id> <bands partition>"`` ->
:class:`Membership`) and the collected :class:`Hits` (by article id) are Faust tables;
:class:`NearDupIndex` runs the same steps in one process for ``newsmon analyze``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, TypedDict

from newsmon.analysis.neardup import (
    BANDS,
    BandIndex,
    Match,
    Membership,
    band_keys,
    decide,
    membership,
    signature,
)

BAND_MEMBERS = 64  # most recent members kept per band (a hot band is not a story)


class Hits(TypedDict):
    """An article's band answers so far: the bands that answered, and per earlier
    candidate the bands shared, its story and its first probe time."""

    bands: list[str]
    shared: dict[str, int]
    stories: dict[str, str]
    order: dict[str, float]


def no_hits() -> Hits:
    return {"bands": [], "shared": {}, "stories": {}, "order": {}}


def add_answers(hits: Hits, answers: Mapping[str, Iterable[Sequence[Any]]]) -> bool:
    """Fold one bands partition's ``answers`` (band -> earlier members ``[id, story,
    first probe time]``) into ``hits``, skipping bands already answered (a redelivered
    answer); True once all ``BANDS`` bands have answered."""
    for band, members in answers.items():
        if band in hits["bands"]:
            continue
        hits["bands"].append(band)
        for cid, story, t in members:
            hits["shared"][cid] = hits["shared"].get(cid, 0) + 1
            hits["stories"][cid] = story
            hits["order"][cid] = t
    return len(hits["bands"]) >= BANDS


def verdict(article_id: str, hits: Hits) -> Match:
    return decide(article_id, hits["shared"], hits["stories"], hits["order"])


def note_answered(answered_upto: MutableMapping[int, float], bands: Iterable[str],
                  sent: float, partition: Callable[[str], int]) -> None:
    """Record that the partitions of ``bands`` answered a probe sent at ``sent``
    (``answered_upto``: bands partition -> latest send time it answered)."""
    for band in bands:
        p = partition(band)
        if sent > answered_upto.get(p, 0.0):
            answered_upto[p] = sent


def membership_key(article_id: str, partition: int) -> str:
    return f"{article_id} {partition}"


def answer_probe(index: BandIndex, memberships: MutableMapping[str, Any], article_id: str,
                 t: float, bands: Sequence[str], partition: int, now: float
                 ) -> dict[str, list[list[Any]]]:
    """A bands partition's answer to a probe of ``bands`` (each band's earlier members);
    the article joins them and its membership record is written if it changed."""
    answers = index.probe(article_id, t, bands, now, partition)
    key = membership_key(article_id, partition)
    rec = membership(memberships.get(key), article_id, t, bands)
    if rec is not None:
        memberships[key] = rec
    return answers


def assign_story(index: BandIndex, memberships: MutableMapping[str, Any], article_id: str,
                 story: str, bands: Sequence[str], partition: int, now: float) -> None:
    """The article's verdict put it in ``story``: later probes of its bands say so."""
    index.set_story(article_id, story, bands, now)
    key = membership_key(article_id, partition)
    old: Membership | None = memberships.get(key)
    if old is not None and old["story"] != story:
        memberships[key] = {**old, "story": story}


def rebuild(index: BandIndex, memberships: Iterable[tuple[str, Membership]]) -> None:
    """Derive the in-memory band index from the membership records."""
    index.rebuild((k.rsplit(" ", 1)[0], int(k.rsplit(" ", 1)[1]), rec)
                  for k, rec in memberships)


class NearDupIndex:
    """The worker's near-duplicate steps in one process, one bands partition: probe,
    collect the answers, decide, assign the story. Articles count in the order added."""

    def __init__(self, window: float = 72 * 3600.0, keep: int = BAND_MEMBERS) -> None:
        self.index = BandIndex(window, keep)
        self.memberships: dict[str, Membership] = {}
        self.stories: dict[str, str] = {}
        self._ticks = itertools.count(1)

    def add(self, article_id: str, text: str) -> Match:
        # A probe's time orders the candidates (earliest is the original): one tick per
        # article keeps the input order.
        t = next(self._ticks) * 1e-3
        if not text.strip():  # as in the worker: no text, no signature, a story of its own
            return Match(None, article_id, 0)
        keys = band_keys(signature(text))
        hits = no_hits()
        add_answers(hits, answer_probe(self.index, self.memberships, article_id, t, keys, 0, t))
        match = verdict(article_id, hits)
        if match.story_id != article_id:
            assign_story(self.index, self.memberships, article_id, match.story_id, keys, 0, t)
        self.stories.setdefault(article_id, match.story_id)
        return match
