"""A syndication set built from real article texts, and the near-duplicate evaluation on it.

A wire story reaches a feed in many shapes: a new dateline ("LONDON (Reuters) -" becomes
"MOSCOW, Dec 2 (AFP) -"), a headline line with an "UPDATE 1-" or "EXCLUSIVE-" prefix, a
footer ("Reporting by ...; Editing by ...", "(c) 2021 ...", "Sign up for our newsletter"),
its lead sentence cut or rewritten, a word changed here and there, or only its first one to
three sentences (a feed summary: contained in the story, not similar to it). Every original
here gets its own house style (dateline, headline, footer) and every copy a different one, so
no copy shares formatting with its original.

Distinct stories that must stay distinct (the false duplicates) are every pair of originals
plus hard negatives: pairs from the same site, each article's nearest other article by word
overlap (same topic), distinct articles wearing the same site furniture (headline style,
dateline, footer, a long boilerplate paragraph) and short market/sports/earnings items filled
from one template ("FTSE 100 closes up 0.3% ..." vs "FTSE 100 closes down 0.5% ...").

The benchmark texts are split once by key, ``sha256(key) % 100 < 35`` -> test, else dev;
the matching was tuned on dev only. The test part's copies and originals also draw
datelines, bylines, footers and headline slugs the dev part never shows (``unseen``), so
its figure includes formatting the normalisation was not written for. When the package
holds the project's written wire-style items (``newsmon/data/eval/<part>/tension_a.jsonl``),
their articles are copied the same way and paired with each other and with the feed items
of the same region. ``eval_syndication`` reports each part separately.

    .venv/bin/newsmon eval --only neardup
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsmon.analysis import neardup

AGENCIES = ("Reuters", "AFP", "AP", "Bloomberg", "dpa", "UPI", "Xinhua")
CITIES = ("LONDON", "MOSCOW", "WASHINGTON", "PARIS", "NEW YORK", "BEIJING", "KYIV", "TOKYO",
          "BERLIN", "NAIROBI", "SAO PAULO", "NEW DELHI", "SYDNEY", "CAIRO", "BRUSSELS")
MONTHS = ("Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct",
          "Nov", "Dec")
NAMES = ("Guy Faulconbridge", "Maria Tsvetkova", "Jonathan Landay", "Sarah Marsh",
         "Andrew Osborn", "Kate Holton", "Daniel Flynn", "Alexandra Hudson", "Tom Balmforth",
         "Polina Devitt", "Mark Heinrich", "Nick Macfie", "Jan Harvey", "Chizu Nomiyama")
PREFIXES = ("UPDATE 1-", "UPDATE 2-", "UPDATE 3-", "EXCLUSIVE-", "RPT-", "WRAPUP 1-",
            "CORRECTED-", "ANALYSIS-", "Breaking: ", "LIVE: ")
UNSEEN_PREFIXES = ("REFILE-UPDATE 1-", "UPDATE 4-", "BREAKING NEWS: ", "Exclusive: ",
                   "WATCH: ", "Opinion | ")
TAIL_WORDS = ("reportedly", "officials", "said", "new", "also", "further", "local",
              "according", "major", "recent", "several", "senior", "key", "latest")
BOILERPLATE = (
    "About the company: The Example Group is a leading provider of news, information and "
    "analysis to businesses, governments and professionals worldwide, with offices in more "
    "than forty countries and a network of reporters covering markets, politics and technology "
    "around the clock. For more information visit the company website or contact the press "
    "office.")


def _dateline(rng: random.Random, unseen: bool = False) -> str:
    city, agency = rng.choice(CITIES), rng.choice(AGENCIES)
    day = f"{rng.choice(MONTHS)} {rng.randint(1, 28)}"
    options: tuple[str, ...] = (
        f"{city} ({agency}) - ", f"{city}, {day} ({agency}) - ", f"{city} — ",
        f"{city}, {day} — ", f"{city.title()} ({agency}) — ", f"{city}: ",
        f"By {rng.choice(NAMES)}\n\n{city} ({agency}) - ",
        f"By {rng.choice(NAMES)} and {rng.choice(NAMES)}\n\n")
    if unseen:  # styles the test part adds (the normalisation was written without them)
        options += (
            f"{city}, {day} ({agency}) -- ", f"{city.title()}, {day}. ({agency}) – ",
            f"{city} ({agency}) ", f"{city.title()}, Ukraine — ",
            f"By {rng.choice(NAMES)}, {agency} correspondent\n\n{city} - ",
            f"{rng.choice(NAMES)} | {agency} | Updated {day}, 2021 10:42 GMT\n\n")
    return rng.choice(options)


def _footer(rng: random.Random, unseen: bool = False) -> str:
    year = rng.randint(2015, 2026)
    options: tuple[str, ...] = (
        f"Reporting by {rng.choice(NAMES)} in {rng.choice(CITIES).title()}; Additional "
        f"reporting by {rng.choice(NAMES)}; Editing by {rng.choice(NAMES)}",
        f"(c) {year} {rng.choice(AGENCIES)}. All rights reserved.",
        "Sign up for our newsletter to get the latest headlines delivered to your inbox "
        "every morning.",
        "Our Standards: The Thomson Reuters Trust Principles.",
        f"Copyright {year} The Associated Press. All rights reserved. This material may not be "
        "published, broadcast, rewritten or redistributed.",
        f"© {year} {rng.choice(AGENCIES)}",
        f"Follow us on Twitter @{rng.choice(CITIES).lower().replace(' ', '')}news and on "
        "Facebook for the latest updates.",
        f"Writing by {rng.choice(NAMES)}; editing by {rng.choice(NAMES)} and "
        f"{rng.choice(NAMES)}")
    if unseen:
        options += (
            "The Associated Press contributed to this report.",
            f"Contact {rng.choice(NAMES)} at newsroom@example.com",
            "Get our free daily newsletter: the day's top stories, straight to your inbox.",
            f"Editing by {rng.choice(NAMES)}",
            f"Copyright © {year} {rng.choice(AGENCIES)}. Redistribution prohibited.",
            "Want more news? Subscribe to our channel and turn on notifications.")
    return "\n\n".join(rng.sample(options, rng.randint(1, 3)))


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’']?\s+(?=[\"“‘']?[A-Z0-9])")


def sentences(text: str) -> list[str]:
    out: list[str] = []
    for para in text.split("\n"):
        out.extend(s for s in _SENTENCE_END.split(para.strip()) if s)
    return out


def _headline(body: str, rng: random.Random) -> str:
    words = body.split()[:rng.randint(6, 11)]
    return " ".join(w.strip(".,;:\"“”") for w in words).title()


def _edit_words(text: str, rng: random.Random, rate: float) -> str:
    """Change ``rate`` of the words (substitutions, deletions, insertions; paragraph breaks
    kept)."""
    paras = [p.split(" ") for p in text.split("\n")]
    spots = [(i, j) for i, p in enumerate(paras) for j in range(len(p)) if p[j]]
    for i, j in rng.sample(spots, max(1, round(len(spots) * rate))) if spots else ():
        op = rng.random()
        if op < 0.6:
            paras[i][j] = rng.choice(TAIL_WORDS)
        elif op < 0.8:
            paras[i][j] = ""
        else:
            paras[i][j] = f"{paras[i][j]} {rng.choice(TAIL_WORDS)}"
    return "\n".join(" ".join(w for w in p if w) for p in paras)


def _rewrite_lead(body: str, rng: random.Random) -> str:
    """The first sentence replaced by another one on the same subject: a few of its
    capitalised words kept, the rest new words."""
    sents = sentences(body)
    if len(sents) < 2:
        return body
    first = sents[0]
    names = [w for w in first.split() if w[:1].isupper()][:4]
    new = " ".join(["In", "a", "development", "on", "Tuesday,", *names, "was", "at", "the",
                    "centre", "of", "events", rng.choice(("again.", "once more.",
                                                          "as news spread."))])
    return body.replace(first, new, 1)


def _cut_lead(body: str) -> str:
    sents = sentences(body)
    if len(sents) < 2:
        return body
    rest = body[body.index(sents[0]) + len(sents[0]):].lstrip()
    return rest or body


def _summary(body: str, rng: random.Random) -> str:
    """A feed summary: the first paragraph or the first 1-3 sentences (at least 15 words)."""
    if rng.random() < 0.3:
        first = next((p for p in body.split("\n") if len(p.split()) >= 15), "")
        if first:
            return first.strip()
    sents = sentences(body)
    n = rng.randint(1, 3)
    out = sents[:n]
    while len(" ".join(out).split()) < 15 and len(out) < len(sents):
        out = sents[:len(out) + 1]
    return " ".join(out)


def _truncate(body: str, rng: random.Random) -> str:
    """The story with its last paragraphs cut (a site that keeps the top of the story)."""
    paras = [p for p in body.split("\n") if p.strip()]
    keep = max(1, round(len(paras) * rng.uniform(0.5, 0.7)))
    return "\n\n".join(paras[:keep])


def _drop_paragraphs(body: str, rng: random.Random) -> str:
    paras = [p for p in body.split("\n") if p.strip()]
    if len(paras) < 4:
        return body
    gone = set(rng.sample(range(1, len(paras)), max(1, len(paras) // 4)))
    return "\n\n".join(p for i, p in enumerate(paras) if i not in gone)


def dress(body: str, rng: random.Random, *, headline: str | None = None,
          dateline: bool = True, footer: bool = True, unseen: bool = False) -> str:
    """A body as a site serves it: maybe a headline line, a dateline or byline, a footer."""
    parts = []
    if headline is not None:
        parts.append(headline)
    parts.append((_dateline(rng, unseen) if dateline else "") + body)
    if footer:
        parts.append(_footer(rng, unseen))
    return "\n\n".join(parts)


Transform = Callable[[str, random.Random, bool], str]  # (body, rng, unseen styles) -> copy


def _copy(body: str, rng: random.Random, unseen: bool, *, lead: str = "", edit: float = 0.0,
          headline: bool = False, cut: str = "") -> str:
    if lead == "cut":
        body = _cut_lead(body)
    elif lead == "rewrite":
        body = _rewrite_lead(body, rng)
    if cut == "summary":
        body = _summary(body, rng)
    elif cut == "truncate":
        body = _truncate(body, rng)
    elif cut == "drop":
        body = _drop_paragraphs(body, rng)
    if edit:
        body = _edit_words(body, rng, edit)
    prefixes = PREFIXES + UNSEEN_PREFIXES if unseen else PREFIXES
    title = rng.choice(prefixes) + _headline(body, rng) if headline else None
    return dress(body, rng, headline=title, dateline=rng.random() < 0.85,
                 footer=cut != "summary" and rng.random() < 0.8, unseen=unseen)


# Each transform alone (with the copy's own dateline and footer) and in combinations.
TRANSFORMS: dict[str, Transform] = {
    "dateline+footer": lambda b, r, u: _copy(b, r, u),
    "headline prefix": lambda b, r, u: _copy(b, r, u, headline=True),
    "lead cut": lambda b, r, u: _copy(b, r, u, lead="cut"),
    "lead rewritten": lambda b, r, u: _copy(b, r, u, lead="rewrite"),
    "2% words edited": lambda b, r, u: _copy(b, r, u, edit=0.02),
    "summary (1-3 sentences)": lambda b, r, u: _copy(b, r, u, cut="summary"),
    "tail cut (50-70%)": lambda b, r, u: _copy(b, r, u, cut="truncate"),
    "paragraphs dropped": lambda b, r, u: _copy(b, r, u, cut="drop"),
    "wire: lead cut+2%+headline": lambda b, r, u: _copy(b, r, u, lead="cut", edit=0.02,
                                                     headline=True),
    "wire: lead rewritten+2%+headline": lambda b, r, u: _copy(b, r, u, lead="rewrite", edit=0.02,
                                                           headline=True),
    "summary+2%+headline": lambda b, r, u: _copy(b, r, u, cut="summary", edit=0.02, headline=True),
    "lead cut+tail cut+2%": lambda b, r, u: _copy(b, r, u, lead="cut", cut="truncate", edit=0.02),
}


def syndicated_copies(text: str, rng: random.Random,
                      unseen: bool = False) -> Iterator[tuple[str, str]]:
    """(kind, copy) pairs a syndication network makes of one article (``TRANSFORMS``);
    ``unseen`` adds the datelines, footers and slugs only the test part uses."""
    for kind, make in TRANSFORMS.items():
        yield kind, make(text, rng, unseen)


# -- hard negatives ---------------------------------------------------------------------------

_FTSE = ("FTSE 100", "DAX", "CAC 40", "Nikkei 225", "S&P 500", "Hang Seng", "Sensex")
_STOCKS = ("miners", "banks", "oil majors", "housebuilders", "tech stocks", "utilities",
           "airlines", "retailers", "drugmakers", "insurers")
_TEAMS = ("Arsenal", "Chelsea", "Liverpool", "Everton", "Leeds", "Fulham", "Brentford",
          "Wolves", "Burnley", "Spurs", "Villa", "Newcastle")
_FIRMS = ("Acme Corp", "Globex", "Initech", "Umbrella plc", "Stark Industries", "Wayne Group",
          "Hooli", "Vandelay Imports", "Soylent Co", "Cyberdyne")


def template_items(rng: random.Random, n: int = 30) -> dict[str, list[str]]:
    """Short items filled from one template per family: every two are distinct stories."""
    def pct() -> str:
        return f"{rng.uniform(0.1, 2.5):.1f}%"

    def market() -> str:
        idx, up = rng.choice(_FTSE), rng.random() < 0.5
        a, b = rng.sample(_STOCKS, 2)
        return (f"Markets: {idx} closes {'up' if up else 'down'} {pct()}\n\nThe {idx} index "
                f"closed {'up' if up else 'down'} {pct()} at {rng.randint(5000, 40000):,} "
                f"points on {rng.choice(('Monday', 'Tuesday', 'Wednesday', 'Thursday'))}, "
                f"{'led by gains in' if up else 'dragged down by'} {a}, while {b} "
                f"{'fell' if up else 'rose'} {pct()}. Trading volume was "
                f"{rng.randint(60, 140)}% of the 30-day average.")

    def football() -> str:
        h, a = rng.sample(_TEAMS, 2)
        g1, g2 = rng.randint(0, 4), rng.randint(0, 4)
        verb = "beat" if g1 > g2 else "drew with" if g1 == g2 else "lost to"
        return (f"{h} {g1}-{g2} {a}\n\n{h} {verb} {a} {g1}-{g2} at home on Saturday. "
                f"{rng.choice(NAMES)} scored in the "
                f"{rng.randint(2, 90)}th minute and {rng.choice(NAMES)} was booked. The result "
                f"leaves {h} {rng.randint(1, 20)}th in the table with {rng.randint(5, 80)} "
                f"points.")

    def earnings() -> str:
        firm = rng.choice(_FIRMS)
        return (f"{firm} quarterly profit {'rises' if rng.random() < 0.5 else 'falls'} "
                f"{pct()}\n\n{firm} said on {rng.choice(('Monday', 'Tuesday', 'Thursday'))} "
                f"its quarterly net profit was ${rng.randint(10, 900)} million, or "
                f"${rng.uniform(0.1, 3):.2f} a share, on revenue of "
                f"${rng.uniform(0.5, 20):.1f} billion. Analysts had expected "
                f"${rng.uniform(0.1, 3):.2f} a share. Its shares were {pct()} "
                f"{'higher' if rng.random() < 0.5 else 'lower'} in early trading.")

    return {"market close": [market() for _ in range(n)],
            "football result": [football() for _ in range(n)],
            "earnings": [earnings() for _ in range(n)]}


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower())}


def nearest_pairs(bodies: Sequence[str]) -> list[tuple[int, int]]:
    """Each body with the other body whose word set overlaps it most (same topic)."""
    sets = [_words(b) for b in bodies]
    df: dict[str, int] = {}
    for s in sets:
        for w in s:
            df[w] = df.get(w, 0) + 1
    rare = [{w for w in s if df[w] <= max(2, len(sets) // 10)} for s in sets]
    pairs = set()
    for i, a in enumerate(rare):
        best = max((j for j in range(len(rare)) if j != i),
                   key=lambda j: len(a & rare[j]) / (len(a | rare[j]) or 1))
        pairs.add((min(i, best), max(i, best)))
    return sorted(pairs)


# -- measuring ----------------------------------------------------------------------------

def shingle_set(text: str, k: int = 5) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i:i + k]) for i in range(max(1, len(words) - k + 1))}


def overlap(a: str, b: str) -> tuple[float, float]:
    """(Jaccard, containment of the smaller in the larger) of the raw 5-gram shingle sets."""
    sa, sb = shingle_set(a), shingle_set(b)
    inter = len(sa & sb)
    return inter / (len(sa | sb) or 1), inter / (min(len(sa), len(sb)) or 1)


OVERLAP_BANDS = ((0.9, 1.01, ">=0.9"), (0.7, 0.9, "0.7-0.9"), (0.5, 0.7, "0.5-0.7"),
                 (0.0, 0.5, "<0.5"))


def split_of(key: str) -> str:
    return "test" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 100 < 35 else "dev"


@functools.lru_cache(maxsize=4096)
def _keys(text: str) -> frozenset[str]:
    return frozenset(neardup.band_keys(neardup.signature(text)))


def is_duplicate(a: str, b: str) -> bool:
    """Would the index call ``b`` a near-duplicate of ``a`` seen before it? (What
    :meth:`~newsmon.analysis.neardup.LSHIndex.add` decides, from the bands they share.)"""
    shared = len(_keys(a) & _keys(b))
    return neardup.decide("b", {"a": shared} if shared else {}, {}).duplicate_of == "a"


@dataclass
class Result:
    recall: dict[str, list[bool]] = field(default_factory=dict)       # per transform
    by_band: dict[str, list[bool]] = field(default_factory=dict)      # per Jaccard band
    by_containment: dict[str, list[bool]] = field(default_factory=dict)  # Jaccard < 0.5
    negatives: dict[str, list[bool]] = field(default_factory=dict)    # per group: false dup?

    def rows(self, part: str) -> list[tuple[str, str, str]]:
        def rate(v: list[bool]) -> str:
            return f"{sum(v) / len(v):.3f} (n={len(v)})" if v else "-"

        copies = [x for v in self.recall.values() for x in v]
        negs = [x for v in self.negatives.values() for x in v]
        hard = [x for k, v in self.negatives.items()
                if k not in ("all pairs", "other article pairs") for x in v]
        fp = sum(negs)
        return [
            (f"near-duplicates [{part}]: copy recall", rate(copies),
             f"{len(copies)} syndicated copies of {len(next(iter(self.recall.values()), []))}"
             f" articles ({part} part)"),
            (f"near-duplicates [{part}]: recall by 5-gram Jaccard",
             "; ".join(f"{k} {rate(v)}" for k, v in self.by_band.items()), "same copies"),
            (f"near-duplicates [{part}]: recall at Jaccard <0.5 by containment",
             "; ".join(f"{k} {rate(v)}" for k, v in self.by_containment.items()),
             "same copies"),
            (f"near-duplicates [{part}]: recall by transform",
             "; ".join(f"{k} {rate(v)}" for k, v in self.recall.items()), "same copies"),
            (f"near-duplicates [{part}]: false-duplicate rate",
             f"{fp / max(1, len(negs)):.4f} ({fp}/{len(negs)} pairs); hard negatives "
             f"{sum(hard) / max(1, len(hard)):.4f} ({sum(hard)}/{len(hard)})",
             "pairs of distinct stories"),
            (f"near-duplicates [{part}]: false duplicates by group",
             "; ".join(f"{k} {rate(v)}" for k, v in self.negatives.items()), "same pairs"),
        ]


def _band(j: float) -> str:
    return next(name for lo, hi, name in OVERLAP_BANDS if lo <= j < hi)


@dataclass(frozen=True, slots=True)
class Pair:
    group: str     # the transform of a copy, the kind of negative
    first: str     # seen first
    second: str
    copy: bool     # a copy of ``first`` (else a distinct story)


def build_pairs(articles: Mapping[str, tuple[str, str]], seed: int = 7,
                unseen: bool = False) -> list[Pair]:
    """The copies and the distinct-story pairs made from ``articles`` (key -> (site, body))
    at least 40 words long; ``unseen``: with the test part's extra styles too."""
    rng = random.Random(seed)
    keys = sorted(k for k, (_, body) in articles.items() if len(body.split()) >= 40)
    bodies = [articles[k][1] for k in keys]
    originals = [dress(b, rng, headline=_headline(b, rng) if rng.random() < 0.5 else None,
                       dateline=rng.random() < 0.7, footer=rng.random() < 0.7, unseen=unseen)
                 for b in bodies]
    out = [Pair(kind, orig, copy, True)
           for body, orig in zip(bodies, originals, strict=True)
           for kind, copy in syndicated_copies(body, rng, unseen)]
    n = len(originals)
    out += [Pair("all pairs", originals[i], originals[j], False)
            for i in range(n) for j in range(i + 1, n)]
    sites: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        sites.setdefault(articles[k][0], []).append(i)
    out += [Pair("same site", originals[i], originals[j], False)
            for idx in sites.values() for a, i in enumerate(idx) for j in idx[a + 1:]]
    nearest = nearest_pairs(bodies)
    out += [Pair("same topic", originals[i], originals[j], False) for i, j in nearest]
    # Same site furniture: one headline style, dateline, preamble, footer and boilerplate.
    for i, j in nearest[:60]:
        house = random.Random(rng.random())
        footer = _footer(house, unseen)
        a, b = (f"LIVE: {_headline(x, rng)}\n\nAdvertisement\n\nListen to this article\n\n"
                f"LONDON (Reuters) - {x}\n\n{BOILERPLATE}\n\n"
                f"Reporting by Kate Holton; Editing by Nick Macfie\n\n{footer}"
                for x in (bodies[i], bodies[j]))
        out.append(Pair("shared boilerplate", a, b, False))
    for family, items in template_items(rng).items():
        out += [Pair(f"template: {family}", items[i], items[j], False)
                for i in range(len(items)) for j in range(i + 1, len(items))]
    return out


def score(pairs: Sequence[Pair],
          decide_pair: Callable[[str, str], bool] = is_duplicate) -> Result:
    """Recall per transform and overlap band, false duplicates per group of negatives (a
    negative counts as false when either order is called a duplicate)."""
    res = Result()
    for p in pairs:
        if p.copy:
            hit = decide_pair(p.first, p.second)
            j, c = overlap(p.first, p.second)
            res.recall.setdefault(p.group, []).append(hit)
            res.by_band.setdefault(_band(j), []).append(hit)
            if j < 0.5:
                cband = ">=0.9" if c >= 0.9 else "0.7-0.9" if c >= 0.7 else "<0.7"
                res.by_containment.setdefault(cband, []).append(hit)
        else:
            res.negatives.setdefault(p.group, []).append(
                decide_pair(p.first, p.second) or decide_pair(p.second, p.first))
    res.by_band = {name: res.by_band.get(name, []) for _, _, name in OVERLAP_BANDS}
    res.by_containment = {name: res.by_containment.get(name, [])
                          for name in (">=0.9", "0.7-0.9", "<0.7")}
    return res


def evaluate(articles: Mapping[str, tuple[str, str]], seed: int = 7,
             decide_pair: Callable[[str, str], bool] = is_duplicate,
             unseen: bool = False) -> Result:
    return score(build_pairs(articles, seed, unseen), decide_pair)


def written_pairs(items: Sequence[Mapping[str, Any]], seed: int = 7,
                  unseen: bool = False) -> list[Pair]:
    """Copies of the written wire-style articles (``kind`` "article": a title and a 200-600
    word story) and distinct pairs among them and the feed items (``kind`` "short"): every
    two articles, and each article with every short item of the same region (a summary of
    another event there: the pair the lead bands could mistake)."""
    rng = random.Random(seed)
    arts = [it for it in items if it.get("kind") == "article" and it.get("text")]
    shorts = [it for it in items if it.get("kind") == "short" and it.get("text")]
    originals = [dress(it["text"], rng, headline=it.get("title") or None,
                       dateline=rng.random() < 0.7, footer=rng.random() < 0.7, unseen=unseen)
                 for it in arts]
    out = [Pair(kind, orig, copy, True)
           for it, orig in zip(arts, originals, strict=True)
           for kind, copy in syndicated_copies(it["text"], rng, unseen)]
    n = len(arts)
    for i in range(n):
        for j in range(i + 1, n):
            same = (arts[i].get("region"), arts[i].get("topic")) == \
                (arts[j].get("region"), arts[j].get("topic"))
            out.append(Pair("same region and topic" if same else "other article pairs",
                            originals[i], originals[j], False))
    out += [Pair("short item, same region", originals[i],
                 f"{sh.get('title', '')}\n\n{sh['text']}", False)
            for i, it in enumerate(arts) for sh in shorts if sh.get("region") == it.get("region")]
    return out


def load_written(part: str) -> list[dict[str, Any]]:
    """The project's written wire-style items of ``part`` (``newsmon/data/eval/<part>/
    tension_a.jsonl``), or none when the package has no such file."""
    from importlib import resources

    path = resources.files("newsmon").joinpath(f"data/eval/{part}/tension_a.jsonl")
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def eval_syndication(articles: Mapping[str, tuple[str, str]] | Sequence[str], seed: int = 7,
                     parts: Sequence[str] = ("dev", "test"),
                     written: Callable[[str], Sequence[Mapping[str, Any]]] = load_written,
                     ) -> list[tuple[str, str, str]]:
    """``newsmon eval``'s near-duplicate rows: recall per overlap band and per transform and
    false duplicates, for the dev part (the matching was tuned on it) and the test part of
    the benchmark texts (key -> (site, body)) and of the written items (``written(part)``,
    when there are any), and the signature speed."""
    if not isinstance(articles, Mapping):
        articles = {hashlib.sha256(t.encode()).hexdigest(): ("", t) for t in articles}
    rows: list[tuple[str, str, str]] = []
    for part in parts:
        mine = {k: v for k, v in articles.items() if split_of(k) == part}
        rows += evaluate(mine, seed, unseen=part == "test").rows(part)
        items = written(part)
        if items:
            rows += score(written_pairs(items, seed, part == "test")).rows(f"{part}, written")
    bodies = [b for _, b in articles.values() if len(b.split()) >= 40]
    t0 = time.perf_counter()
    index = neardup.LSHIndex()
    for i, b in enumerate(bodies):
        index.add(str(i), b)
    rate = len(bodies) / (time.perf_counter() - t0)
    rows.append(("near-duplicates: signature + LSH speed", f"{rate:.0f} articles/s",
                 f"{len(bodies)} benchmark texts, 1 process"))
    return rows
