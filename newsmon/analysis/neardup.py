"""Near-duplicates: MinHash signatures of normalised text, banded for LSH.

The same wire story on fifty sites differs by a headline line and its "UPDATE 1-" slug, a
byline and dateline ("LONDON (Reuters) -" / "MOSCOW, Dec 2 (AFP) -"), footers ("Reporting
by ...", "(c) 2021 ...", "Sign up for our newsletter"), a cut or rewritten lead sentence and
a few words; a feed may carry only its first one to three sentences. So:

* :func:`normalise` drops what syndication changes and no story is made of (the lines before
  the body, the slug, the dateline, credit/copyright/newsletter paragraphs, case and
  punctuation) before anything is hashed;
* the whole text's word 5-gram shingles get ``FULL_BANDS`` bands of ``ROWS`` = 2 MinHash
  rows (``P(band shared) = s**2``: a copy sharing half its shingles shares ~10 of 40 bands,
  two distinct stories at s = 0.1 share 0.4);
* the lead's (its first ``LEAD_WORDS`` normalised words) word pairs get ``LEAD_BANDS`` more
  bands of ``LEAD_ROWS`` = 4 rows. A feed summary is contained in its story, not similar to
  it (a 40-word summary of a 600-word story shares 6 % of its shingles), but it starts
  with the story's lead, so its lead bands match; word pairs, so one changed word costs 2
  of ~19 shingles, and 4 rows, so leads of distinct stories that share a few phrases
  (templates: "The FTSE 100 index closed up ...") rarely share a whole band.

Every band is a key (``band_keys``: ``BANDS`` of them); the number of keys two articles
share decides (``decide``): ``shared >= DUP_BANDS`` a near-duplicate (``duplicate_of``),
``shared >= STORY_BANDS`` the same story (``story_id``). Band keys are strings, so the
streams keep the band -> members lookup (:class:`BandIndex`) in the worker that holds the
band's partition, fed through a topic repartitioned by band key, and persist it as one
record per article and partition; :class:`LSHIndex` is the whole lookup in one place, for
``newsmon analyze`` and the evaluation.

Measured by ``newsmon eval --only neardup`` (:mod:`newsmon.analysis.syndication`: copies
of the benchmark texts made with each transform and combinations, recall per 5-gram
Jaccard band and transform, false duplicates among distinct stories with hard negatives).
The parameters were chosen on the dev part; its figures are development figures:
copy recall 0.973 of 1,488 copies (1.000 at 5-gram Jaccard >= 0.5; 0.899 below, where
the feed summaries and the copies cut short at both ends are), false duplicates 5 of 9,110
distinct pairs, all between short items filled from one template (earnings 4, football
1: 0.0034 of the 1,484 hard negatives); on copies of the project's 77 written dev articles
0.981, and none of 4,466 distinct pairs (1,540 of them a feed item on another event in the
same region). The held-out test part's figures are in docs/analysis.md.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from newsmon.expiry import ExpiryQueue

SHINGLE = 5
FULL_BANDS = 40    # bands over the whole text's shingles ...
ROWS = 2           # ... of ROWS MinHash values each: P(band shared) = s**2
LEAD_WORDS = 20    # the lead: the first words after the dateline (what a feed summary keeps)
LEAD_SHINGLE = 2   # the lead's shingles: word pairs (one changed word costs 2 of ~19)
LEAD_BANDS = 24    # bands over the lead's shingles ...
LEAD_ROWS = 4      # ... of LEAD_ROWS values each: P(band shared) = s_lead**4
BANDS = FULL_BANDS + LEAD_BANDS   # band keys per article (the streams wait for them all)
FULL_PERMS = FULL_BANDS * ROWS
PERMS = FULL_PERMS + LEAD_BANDS * LEAD_ROWS
DUP_BANDS = 6      # shared keys (either kind) for a near-duplicate, see ``decide``
STORY_BANDS = 3    # shared keys for the same story
_P = np.uint64((1 << 31) - 1)
_rng = np.random.default_rng(20211202)
_A = _rng.integers(1, int(_P), PERMS, dtype=np.uint64)
_B = _rng.integers(0, int(_P), PERMS, dtype=np.uint64)
_WORD = re.compile(r"\w+")


class Membership(TypedDict):
    """What is stored of an article in one partition's LSH bands (see :class:`BandIndex`)."""

    bands: list[str]
    story: str
    t: float


# -- normalisation: what a syndication network changes is not part of the story ------------

# A wire headline's slug ("UPDATE 2-", "EXCLUSIVE-", "RPT-", "Breaking: ").
_PREFIX = re.compile(r"^\s*(?:(?:UPDATE|WRAPUP|REFILE|CORRECTED|RPT|EXCLUSIVE|ANALYSIS|"
                     r"FACTBOX|INSIGHT|BREAKING|LIVE|UPDATED)(?:\s+\d+)?\s*[-:—–]\s*)+", re.I)
# A footer or furniture paragraph: credits, copyright, newsletter and social prompts.
_FOOTER = re.compile(
    r"^\s*(?:(?:additional\s+)?(?:reporting|writing|editing|edited|written|compiled|"
    r"produced|translated)\s+by\b|\(c\)|©|copyright\b|our standards\b|sign up\b|"
    r"subscribe\b|follow us\b|read more\b|related(?: coverage| articles)?\s*:|"
    r"click here\b|continue reading\b|download (?:our|the) app|advertisement\s*$|"
    r"listen to this article|"
    r"this article is more than .{1,20} old)|all rights reserved", re.I)
_BYLINE = re.compile(r"^\s*By\s+[A-Z][\w.'’-]*(?:\s+[\w.'’-]+){0,6}\s*$")
# "LONDON (Reuters) - ", "MOSCOW, Dec 2 (AFP) - ", "PARIS — ", "(Reuters) — ", "Kyiv (AP) -".
_DATELINE = re.compile(r"\s*(?P<place>[^\n()]{0,60}?)\s*(?P<agency>\([^()\n]{1,30}\))?"
                       r"\s*(?:--?|—|–|:)\s+")
_CAPS_PLACE = re.compile(r"[A-Z][A-Z .'’/-]*(?:,\s*[A-Za-z]+\.?(?:\s+\d{1,2})?"
                         r"(?:,\s*\d{4})?)?")
_DATELINE_START = re.compile(r"[A-Z][A-Z .'’/-]*(?:,[^\n()]{0,20})?\s*(?:\([^()\n]{1,30}\))?\s*"
                             r"(?:--?|—|–)\s")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)]*\s*$")


def _strip_dateline(para: str) -> str:
    m = _DATELINE.match(para)
    if m is None:
        return para
    place, agency = m.group("place").strip(), m.group("agency")
    if (agency is not None and len(place.split()) <= 5) or (
            place and _CAPS_PLACE.fullmatch(place)):
        return para[m.end():]
    return para


#: Fewer words than this after the lines taken for a headline: those lines were the text.
MIN_BODY_WORDS = 12


def normalise(text: str) -> list[str]:
    """The words that identify a story, lower-cased: without the headline and byline lines
    before the body, the wire slug, the dateline, footers and furniture paragraphs (credits,
    copyright, newsletter prompts), and punctuation: where a wire copy and its original
    differ most, and where two distinct stories seldom differ. Never raises; the same
    text gives the same words on every machine."""
    paras = [p.strip() for p in text.split("\n") if p.strip()]
    paras = [p for p in paras if not (len(p) < 400 and _FOOTER.search(p))]
    # Lines before the body (a headline: short, no sentence end; a byline), when the body
    # starts within the first four paragraphs: a list of short lines is left alone.
    body = next((i for i, p in enumerate(paras[:4])
                 if not _BYLINE.match(p) and (len(p.split()) > 20 or _SENTENCE_END.search(p)
                                              or _DATELINE_START.match(p))), 0)
    # A feed summary is often one short paragraph and a link line: what would be left
    # after "the headline" must be the larger part, or the lines were the text itself.
    if body and sum(len(p.split()) for p in paras[body:]) < MIN_BODY_WORDS:
        body = 0
    del paras[:body]
    if paras:
        first = _PREFIX.sub("", paras[0])
        for _ in range(2):  # a copy's dateline before the original's
            first = _strip_dateline(first)
        paras[0] = first
    return _WORD.findall(" ".join(paras).lower())


_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it mod 2**64 loses nothing


def _word_hashes(words: Sequence[str]) -> np.ndarray:
    """CRC32 of each word's UTF-8 (one encode and a C-level map: words hold no spaces)."""
    return np.fromiter(map(zlib.crc32, " ".join(words).encode().split()), dtype=np.uint64,
                       count=len(words))


def _hashes(w: np.ndarray, k: int = SHINGLE) -> np.ndarray:
    """The distinct hashes (< 2**31 - 1) of the ``k``-word shingles of words hashed ``w``:
    a polynomial of their word hashes mod 2**64 (numpy's uint64 wraps), then mod ``_P``;
    one CRC32 per word, not one string join and CRC32 per shingle. A text shorter than
    ``k`` words is one shingle."""
    if w.size == 0:
        return w
    k = min(k, w.size)
    n = w.size - k + 1
    h = w[:n].copy()
    for j in range(1, k):
        h *= _MIX
        h += w[j:j + n]
    return np.unique(h % _P)


def shingle_hashes(text: str, k: int = SHINGLE) -> np.ndarray:
    """Hashes of the ``k``-word shingles of the normalised text (:func:`normalise`)."""
    return _hashes(_word_hashes(normalise(text)), k)


def _minhash(h: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sig = np.full(a.size, int(_P), dtype=np.uint64)
    for chunk in range(0, h.size, 2048):  # bounded temporary (perms x 2048)
        part = h[chunk:chunk + 2048]
        vals = (a[:, None] * part[None, :] + b[:, None]) % _P
        np.minimum(sig, vals.min(axis=1), out=sig)
    return sig


def signature(text: str) -> np.ndarray:
    """``PERMS`` MinHash values (uint32): ``FULL_PERMS`` over the normalised text's shingles,
    then the rest over its lead's (the first ``LEAD_WORDS`` words). All 0x7FFFFFFF for text
    without words."""
    # Text that is all furniture (a lone footer line) keeps its words: else every such
    # text would have the same, empty, signature.
    words = _word_hashes(normalise(text) or _WORD.findall(text.lower()))
    h = _hashes(words)
    if h.size == 0:
        return np.full(PERMS, 0x7FFFFFFF, dtype=np.uint32)
    full = _minhash(h, _A[:FULL_PERMS], _B[:FULL_PERMS])
    lead = _minhash(_hashes(words[:LEAD_WORDS], LEAD_SHINGLE), _A[FULL_PERMS:], _B[FULL_PERMS:])
    return np.concatenate([full, lead]).astype(np.uint32)


def band_keys(sig: np.ndarray) -> list[str]:
    """One key per band: the band's name (its number; ``L`` and a number for the lead's) and
    a hash of its rows. ``BANDS`` keys."""
    full = sig[:FULL_PERMS].reshape(FULL_BANDS, ROWS)
    lead = sig[FULL_PERMS:].reshape(LEAD_BANDS, LEAD_ROWS)
    return ([f"{i}:{hashlib.blake2b(full[i].tobytes(), digest_size=8).hexdigest()}"
             for i in range(FULL_BANDS)]
            + [f"L{i}:{hashlib.blake2b(lead[i].tobytes(), digest_size=8).hexdigest()}"
               for i in range(LEAD_BANDS)])


def probe_band(members: list[list[Any]], article_id: str, t: float,
               keep: int) -> tuple[list[list[Any]], list[list[Any]]]:
    """One LSH band's answer to a probe, and its members afterwards.

    ``members`` are ``[article id, story id, first probe time]``. The answer is the
    members probed before this article (by first probe time, then id), so a probe
    asked again or redelivered gets the answer it got the first time, and two copies
    are never each the other's earlier candidate. The article joins the band once,
    with its first probe time; the ``keep`` most recent members are kept.
    """
    first = next((m[2] for m in members if m[0] == article_id), t)
    answer = [m for m in members if (m[2], m[0]) < (first, article_id)]
    if not any(m[0] == article_id for m in members):
        members = [*members, [article_id, article_id, t]]
    return answer, members[-keep:]


class BandIndex:
    """Band -> members (``[article id, story id, first probe time]``) for the bands of one
    worker's partitions: the streams' LSH lookup, in memory.

    It is derived state. What is persisted is one :class:`Membership` record per article
    and partition (its bands there, its story, its first probe time): one changelog write
    per probe instead of one per band. :meth:`rebuild` derives the index from those
    records after a restart or a rebalance. Members older than ``window`` seconds are
    neither answered nor kept; a band keeps its ``keep`` most recent members.

    Expiry walks a queue of probes per partition, oldest first (:class:`ExpiryQueue`), so a
    sweep costs what expires, not what is kept (a 72-hour window holds millions of band
    keys).
    """

    def __init__(self, window: float, keep: int) -> None:
        self.window = window
        self.keep = keep
        self.bands: dict[str, list[list[Any]]] = {}
        self._joined: ExpiryQueue[tuple[str, tuple[str, ...]]] = ExpiryQueue()  # (id, bands)

    def _alive(self, band: str, now: float) -> list[list[Any]]:
        return [m for m in self.bands.get(band, ()) if now - m[2] < self.window]

    def probe(self, article_id: str, t: float, bands: Sequence[str], now: float,
              partition: int = 0) -> dict[str, list[list[Any]]]:
        """Each band's earlier members (:func:`probe_band`); the article joins them."""
        answers = {}
        for band in bands:
            answers[band], self.bands[band] = probe_band(self._alive(band, now), article_id,
                                                         t, self.keep)
        self._joined.add(partition, (article_id, tuple(bands)), t)
        return answers

    def set_story(self, article_id: str, story_id: str, bands: Sequence[str],
                  now: float) -> None:
        for band in bands:
            members = self.bands[band] = self._alive(band, now)
            for m in members:
                if m[0] == article_id:
                    m[1] = story_id

    def expire(self, now: float, partition: int = 0) -> list[str]:
        """Drop the members of ``partition``'s bands that joined more than ``window``
        seconds ago (and bands left empty); return the ids whose membership there ended."""
        gone: list[str] = []
        for article_id, bands in self._joined.due(partition, now - self.window):
            gone.append(article_id)
            for band in bands:
                alive = self._alive(band, now)
                if alive:
                    self.bands[band] = alive
                else:
                    self.bands.pop(band, None)
        return gone

    def rebuild(self, records: Iterable[tuple[str, int, Membership]]) -> None:
        """The index of these ``(article id, partition, membership)`` records alone."""
        self.bands = {}
        self._joined = ExpiryQueue()
        for article_id, partition, rec in sorted(records, key=lambda r: r[2]["t"]):
            self._joined.add(partition, (article_id, tuple(rec["bands"])), rec["t"])
            for band in rec["bands"]:
                self.bands.setdefault(band, []).append([article_id, rec["story"], rec["t"]])
        for members in self.bands.values():
            members.sort(key=lambda m: (m[2], m[0]))
            del members[:-self.keep]


def membership(old: Membership | None, article_id: str, t: float,
               bands: Sequence[str]) -> Membership | None:
    """An article's record after a probe of ``bands``, or None when ``old`` already says it
    all (a redelivered or repeated probe writes nothing)."""
    if old is None:
        return {"bands": list(bands), "story": article_id, "t": t}
    new = [b for b in bands if b not in old["bands"]]
    return {**old, "bands": [*old["bands"], *new]} if new else None


REPROBE_AFTER = 60.0  # ask again for band answers that have not all come by then
LATER_BY = 30.0       # ... once their partition answered a probe sent this much later
STUCK_AFTER = 600.0   # release a record whose band answers never all came


def parked_due(parked_at: float, probed: float, now: float, latest_answer: float) -> str | None:
    """What a sweep owes a record parked at ``parked_at`` and last probed at ``probed``:
    ``"release"`` once it has waited ``STUCK_AFTER`` (released as a story of its own
    rather than held for ever), ``"check"`` when some of its band answers may have been
    lost (for :func:`lost_bands`), else None. It may have lost some only once it was probed
    ``REPROBE_AFTER`` ago and a bands partition has answered a probe sent ``LATER_BY``
    after it (``latest_answer``: the latest send time any partition answered; "later" by
    ``LATER_BY`` because answers of one bands partition reach collect through several
    bandhits partitions, so slightly out of order). Pure arithmetic, so a sweep can put it
    before anything that hashes: a backlog parks tens of thousands of records."""
    if now - parked_at > STUCK_AFTER:
        return "release"
    if now - probed > REPROBE_AFTER and latest_answer > probed + LATER_BY:
        return "check"
    return None


def lost_bands(keys: Sequence[str], answered: Collection[str], probed: float,
               answered_upto: Mapping[int, float],
               partition: Callable[[str], int]) -> list[str]:
    """The bands of a parked article to ask again: unanswered, in a partition that has
    since answered a probe sent after this article's (``answered_upto``: partition ->
    latest send time it answered). There the answer was lost; elsewhere the probe may
    only be queued behind a backlog, and asking again would add to the backlog."""
    return [k for k in keys
            if k not in answered and answered_upto.get(partition(k), 0.0) > probed]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated shingle Jaccard of two signatures' texts (the whole-text MinHash values)."""
    return float(np.mean(a[:FULL_PERMS] == b[:FULL_PERMS]))


@dataclass(frozen=True, slots=True)
class Match:
    duplicate_of: str | None
    story_id: str
    shared_bands: int


def decide(article_id: str, shared: dict[str, int], stories: dict[str, str],
           order: dict[str, float] | None = None) -> Match:
    """Turn band-sharing counts per earlier candidate into duplicate and story ids.

    ``duplicate_of`` is the earliest (by ``order``, e.g. first-seen time; ties
    and unknowns: the smallest id, so every worker decides alike) of the
    candidates sharing at least ``DUP_BANDS`` bands: the copy points at the
    original, not at another copy.
    """
    if not shared:
        return Match(None, article_id, 0)
    order = order or {}
    n = max(shared.values())
    close = [c for c, k in shared.items() if k >= DUP_BANDS]
    if close:
        first = min(close, key=lambda c: (order.get(c, float("inf")), c))
        return Match(first, stories.get(first, first), shared[first])
    if n >= STORY_BANDS:
        best = min((c for c, k in shared.items() if k >= STORY_BANDS),
                   key=lambda c: (order.get(c, float("inf")), c))
        return Match(None, stories.get(best, best), n)
    return Match(None, article_id, n)


class LSHIndex:
    """In-memory band index with a bounded number of remembered articles (oldest dropped)."""

    def __init__(self, max_articles: int = 200_000) -> None:
        self.bands: dict[str, list[str]] = {}
        self.stories: dict[str, str] = {}
        self.keys: OrderedDict[str, list[str]] = OrderedDict()
        self.order: dict[str, float] = {}
        self._counter = itertools.count()
        self.max_articles = max_articles

    def add(self, article_id: str, text: str) -> Match:
        keys = band_keys(signature(text))
        shared: dict[str, int] = {}
        for key in keys:
            for other in self.bands.get(key, ()):
                if other != article_id:
                    shared[other] = shared.get(other, 0) + 1
        match = decide(article_id, shared, self.stories, self.order)
        if article_id not in self.keys:
            for key in keys:
                self.bands.setdefault(key, []).append(article_id)
            self.keys[article_id] = keys
            self.stories[article_id] = match.story_id
            self.order[article_id] = float(next(self._counter))
            while len(self.keys) > self.max_articles:
                self._forget()
        return match

    def _forget(self) -> None:
        old, keys = self.keys.popitem(last=False)
        self.stories.pop(old, None)
        self.order.pop(old, None)
        for key in keys:
            members = self.bands.get(key)
            if members and old in members:
                members.remove(old)
                if not members:
                    del self.bands[key]


# -- evaluation: :mod:`newsmon.analysis.syndication` (imported on use: it imports this module)

def syndicated_copies(text: str, rng: random.Random) -> Iterator[tuple[str, str]]:
    """(kind, copy) pairs a syndication network makes of one article (see
    :func:`newsmon.analysis.syndication.syndicated_copies`)."""
    from newsmon.analysis.syndication import syndicated_copies as copies

    return copies(text, rng)


def eval_syndication(articles: Mapping[str, tuple[str, str]] | Sequence[str],
                     seed: int = 7) -> list[tuple[str, str, str]]:
    """``newsmon eval``'s near-duplicate rows (:func:`newsmon.analysis.syndication.
    eval_syndication`): dev and test parts of the benchmark, key -> (site, body)."""
    from newsmon.analysis.syndication import eval_syndication as run

    return run(articles, seed)
