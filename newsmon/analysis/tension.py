"""Geopolitical tension score (0-100) with the evidence that produced it.

The lexicon (``newsmon/data/tension_lexicon.yml``, versioned) groups phrases
in CAMEO-grounded categories with weights: positive escalate, negative
de-escalate. Text is tokenised once; every token is stemmed once; all phrases
are matched in a single left-to-right pass over an index keyed by first stem
(longest match wins). A phrase preceded in its sentence by a negation ("denied
plans to invade", "no sign of") counts for nothing; one preceded by hedging
("could", "may", "fears of") counts for less. Repeats of the same phrase
count with diminishing weight, and a match in the title counts more.

    score = 100 * (1 - exp(-max(0, escalation - deescalation) / SCALE))

Levels: low < 30 <= elevated < 60 <= high < 85 <= severe. A phrase inside
quotation marks or after a reporting verb ("warned that", "said") is marked
``attributed`` in the evidence: it is someone's statement, which is how most
threats reach the news, so it counts in full but is shown as such.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from newsmon.analysis.text import sentence_spans, snippet

SCALE = 40.0
TITLE_FACTOR = 1.5
HEDGE_FACTOR = 0.6
REPEAT_DECAY = 0.5
LEVELS = ((85, "severe"), (60, "high"), (30, "elevated"), (0, "low"))

_TOKEN = re.compile(r"[A-Za-z0-9\u00C0-\u024F]+(?:[-'’][A-Za-z0-9\u00C0-\u024F]+)*")
_NEGATORS = frozenset({"no", "not", "never", "deny", "denied", "denies", "without", "nor",
                       "dismiss", "dismissed", "dismisses", "ruled", "rule", "rules",
                       "isn't", "wasn't", "aren't", "weren't", "don't", "doesn't", "didn't",
                       "won't", "wouldn't", "nothing", "unlikely", "rejected", "false"})
_HEDGES = frozenset({"may", "might", "could", "possible", "possibly", "potential", "risk",
                     "fear", "fears", "feared", "alleged", "allegedly", "reportedly", "rumour",
                     "rumor", "if", "would", "probability", "likely", "speculation"})
_NEG_WINDOW = 4
# A de-escalation that failed is no de-escalation: "ceasefire talks stall", "the truce
# collapsed", "violations of the ceasefire". Looked for a few words either side.
_FAILURES = frozenset({"stall", "stalled", "stalls", "stalling", "collapse", "collapsed",
                       "collapses", "collapsing", "fail", "failed", "fails", "failure",
                       "broke", "broken", "breaks", "breakdown", "violate", "violated",
                       "violates", "violating", "violation", "violations", "breach",
                       "breached", "breaches", "suspend", "suspended", "suspends",
                       "abandon", "abandoned", "abandons", "scrap", "scrapped", "scraps",
                       "derail", "derailed", "derails", "falter", "faltered", "falters",
                       "shattered", "undermine", "undermined", "undermines"})
_FAIL_WINDOW = 3
_REPORTING = re.compile(r"\b(?:said|says|say|warned|warns|warn|told|tells|claimed|claims|"
                        r"according to|stated|added|insisted|threatened|vowed|accused)\b",
                        re.IGNORECASE)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A small, fast suffix stripper used identically on lexicon and text."""
    w = word.lower().replace("’", "'").replace("-", "")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) <= 3:
        return w
    if (w.endswith("ies") and len(w) > 4) or (w.endswith("ied") and len(w) > 4):
        w = w[:-3] + "y"
    elif w.endswith("ing") and len(w) > 5:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) > 4:
        w = _undouble(w[:-2])
    elif w.endswith(("sses", "shes", "ches", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def _undouble(w: str) -> str:
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        return w[:-1]
    return w


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str
    category: str
    weight: float
    pattern: tuple[str, ...]
    # Only these exact (lower-cased) words match, not every form of their stems:
    # "talks" (negotiations) but not "talk", "talked", "talking".
    exact: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Lexicon:
    version: str
    categories: dict[str, str]
    index: dict[str, tuple[Phrase, ...]]
    # Fixed expressions in which a lexicon word is no event ("according to", "heart
    # attack"): lower-cased word sequences, indexed by their first word.
    not_phrases: dict[str, tuple[tuple[str, ...], ...]] = dataclass_field(default_factory=dict)

    @property
    def size(self) -> int:
        return len({p.text for group in self.index.values() for p in group})


class LexiconError(ValueError):
    pass


def load_lexicon(data: dict[str, Any] | None = None,
                 override: Path | str | None = None) -> Lexicon:
    """Build the matcher index from the bundled lexicon (or from ``data``).

    ``override`` names a YAML file in the same format whose categories are
    merged over the bundled ones: a category's ``label``/``goldstein`` replace
    the bundled values, its phrases are added, and a phrase given with
    ``w: 0`` is removed. Its ``version`` (a string is fine) is appended to the
    bundled version in every score, so alerts say which lexicon made them.
    """
    if data is None:
        text = resources.files("newsmon").joinpath("data/tension_lexicon.yml").read_text("utf-8")
        data = yaml.safe_load(text)
    if override is not None:
        data = _merge(data, Path(override))
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        raise LexiconError("lexicon needs a 'categories' mapping")
    index: dict[str, list[Phrase]] = {}
    labels: dict[str, str] = {}
    for name, cat in data["categories"].items():
        if not isinstance(cat, dict) or not isinstance(cat.get("phrases"), list):
            raise LexiconError(f"category {name!r}: needs a 'phrases' list")
        labels[name] = str(cat.get("label", name))
        default = -float(cat.get("goldstein", 0))
        for item in cat["phrases"]:
            if isinstance(item, str):
                text, weight = item, default
            elif isinstance(item, dict) and isinstance(item.get("p"), str):
                text, weight = item["p"], float(item.get("w", default))
            else:
                raise LexiconError(f"category {name!r}: bad phrase entry {item!r}")
            pattern = tuple("*" if t == "*" else stem(t) for t in _words(text))
            if not pattern or pattern[0] == "*":
                raise LexiconError(f"category {name!r}: phrase {text!r} is empty or starts with *")
            exact = None
            if isinstance(item, dict) and item.get("exact"):
                if "*" in pattern:
                    raise LexiconError(f"category {name!r}: exact phrase {text!r} has a *")
                exact = tuple(_lower(w) for w in _words(text))
            index.setdefault(pattern[0], []).append(Phrase(text, name, weight, pattern, exact))
    frozen = {k: tuple(v) for k, v in index.items()}
    blockers: dict[str, list[tuple[str, ...]]] = {}
    raw_not = data.get("not_phrases") or []
    if not isinstance(raw_not, list) or not all(isinstance(x, str) for x in raw_not):
        raise LexiconError("'not_phrases' must be a list of strings")
    for text in raw_not:
        words = tuple(_lower(w) for w in _words(text) if w != "*")
        if words:
            blockers.setdefault(words[0], []).append(words)
    return Lexicon(version=str(data.get("version", 0)), categories=labels, index=frozen,
                   not_phrases={k: tuple(v) for k, v in blockers.items()})


def _lower(word: str) -> str:
    return word.lower().replace("’", "'")


def _merge(base: dict[str, Any], path: Path) -> dict[str, Any]:
    try:
        extra = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"{path}: cannot load lexicon override: {exc}") from None
    if not isinstance(extra, dict) or not isinstance(extra.get("categories", {}), dict):
        raise LexiconError(f"{path}: expected a mapping with 'categories'")
    cats = {k: dict(v) for k, v in base["categories"].items()}
    for name, cat in (extra.get("categories") or {}).items():
        if not isinstance(cat, dict):
            raise LexiconError(f"{path}: category {name!r}: expected a mapping")
        merged = cats.setdefault(name, {"phrases": []})
        for key in ("label", "goldstein"):
            if key in cat:
                merged[key] = cat[key]
        phrases = list(merged.get("phrases", []))
        for item in cat.get("phrases", []):
            text = item if isinstance(item, str) else item.get("p") if isinstance(item, dict) \
                else None
            if not isinstance(text, str):
                raise LexiconError(f"{path}: category {name!r}: bad phrase entry {item!r}")
            phrases = [p for p in phrases if (p if isinstance(p, str) else p.get("p")) != text]
            if not (isinstance(item, dict) and float(item.get("w", 1)) == 0):
                phrases.append(item)
        merged["phrases"] = phrases
    extra_not = extra.get("not_phrases") or []
    if not isinstance(extra_not, list):
        raise LexiconError(f"{path}: 'not_phrases' must be a list")
    version = f"{base.get('version', 0)}+{extra.get('version', path.stem)}"
    return {"version": version, "categories": cats,
            "not_phrases": [*(base.get("not_phrases") or []), *extra_not]}


def _words(text: str) -> list[str]:
    return [m.group(0) for m in re.finditer(r"\*|" + _TOKEN.pattern, text)]


@dataclass(frozen=True, slots=True)
class Evidence:
    phrase: str
    matched: str
    category: str
    weight: float
    field: str
    start: int
    end: int
    sentence: str
    negated: bool = False
    hedged: bool = False
    attributed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "phrase": self.phrase, "matched": self.matched, "category": self.category,
            "weight": round(self.weight, 3), "field": self.field, "start": self.start,
            "end": self.end, "sentence": self.sentence, "negated": self.negated,
            "hedged": self.hedged, "attributed": self.attributed,
        }


@dataclass(frozen=True, slots=True)
class TensionResult:
    score: int
    level: str
    escalation: float
    deescalation: float
    by_category: dict[str, float]
    evidence: tuple[Evidence, ...]
    lexicon_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "level": self.level,
            "escalation": round(self.escalation, 3),
            "deescalation": round(self.deescalation, 3),
            "by_category": {k: round(v, 3) for k, v in sorted(self.by_category.items())},
            "evidence": [e.to_dict() for e in self.evidence],
            "lexicon_version": self.lexicon_version,
        }


def level_for(score: int) -> str:
    for bound, name in LEVELS:
        if score >= bound:
            return name
    return "low"


def _match_at(stems: list[str], i: int, pattern: tuple[str, ...]) -> int:
    """Return the end index (exclusive) if ``pattern`` matches at ``i``, else -1."""

    def rec(ti: int, pi: int) -> int:
        if pi == len(pattern):
            return ti
        p = pattern[pi]
        if p == "*":
            end = rec(ti, pi + 1)  # zero words
            if end < 0 and ti < len(stems):
                end = rec(ti + 1, pi + 1)  # one word
            return end
        if ti < len(stems) and stems[ti] == p:
            return rec(ti + 1, pi + 1)
        return -1

    return rec(i, 0)


def _blocked(lexicon: Lexicon, lowers: list[str]) -> bytearray | None:
    """1 for each token inside one of the lexicon's ``not_phrases`` (None: no such token)."""
    if not lexicon.not_phrases:
        return None
    out: bytearray | None = None
    for k, word in enumerate(lowers):
        for words in lexicon.not_phrases.get(word, ()):
            if tuple(lowers[k:k + len(words)]) == words:
                if out is None:
                    out = bytearray(len(lowers))
                out[k:k + len(words)] = b"\1" * len(words)
    return out


def find_phrases(lexicon: Lexicon, text: str, field: str) -> list[Evidence]:
    """All lexicon matches in ``text``, longest first at each position, one pass."""
    if not text:
        return []
    toks = list(_TOKEN.finditer(text))
    stems = [stem(t.group(0)) for t in toks]
    lowers = [_lower(t.group(0)) for t in toks]
    blocked = _blocked(lexicon, lowers)
    sents = sentence_spans(text)
    out: list[Evidence] = []
    si = 0
    i = 0
    while i < len(toks):
        cands = lexicon.index.get(stems[i])
        if not cands or (blocked and blocked[i]):
            i += 1
            continue
        best: tuple[int, int] = (-1, 0)
        phrase = cands[0]
        for cand in cands:
            end = _match_at(stems, i, cand.pattern)
            if end <= i or (cand.exact is not None and tuple(lowers[i:end]) != cand.exact):
                continue
            rank = (end, -cand.pattern.count("*"))
            if rank > best:
                best, phrase = rank, cand
        end = best[0]
        if end <= i:
            i += 1
            continue
        start_c, end_c = toks[i].start(), toks[end - 1].end()
        while si < len(sents) - 1 and sents[si][1] <= start_c:
            si += 1
        s0, s1 = sents[si] if sents else (0, len(text))
        negated = hedged = False
        j = i - 1
        while j >= 0 and j >= i - _NEG_WINDOW and toks[j].start() >= s0:
            if lowers[j] in _NEGATORS:
                negated = True
            if lowers[j] in _HEDGES:
                hedged = True
            j -= 1
        if phrase.weight < 0:
            lo = max(i - _FAIL_WINDOW, 0)
            near = [k for k in range(lo, min(end + _FAIL_WINDOW, len(toks)))
                    if not i <= k < end and s0 <= toks[k].start() < s1]
            if any(lowers[k] in _FAILURES for k in near):
                negated = True
        before = text[s0:start_c]
        attributed = (before.count("“") > before.count("”") or before.count('"') % 2 == 1
                      or bool(_REPORTING.search(before)))
        out.append(Evidence(
            phrase=phrase.text, matched=text[start_c:end_c], category=phrase.category,
            weight=phrase.weight, field=field, start=start_c, end=end_c,
            sentence=snippet(text, (s0, s1), (start_c, end_c)), negated=negated, hedged=hedged,
            attributed=attributed,
        ))
        i = end
    return out


# The lexicon is English. Function words of English, and of the other languages news
# feeds commonly carry (none that is also an English word: no "die", "do", "per"): a
# text with more of theirs is not English, and its "war" (German: was) is no evidence.
_ENGLISH_MARKERS = frozenset("the and of to is that with for this are was were have has "  # noqa: SIM905
                             "which from they their been would".split())
_OTHER_MARKERS = frozenset(  # German, Portuguese, Spanish, French, Italian
    "der und das ist nicht mit dem ein eine einer zu von für auf sich auch wird "  # noqa: SIM905
    "que não uma os para com em da dos das é são pelo pela "
    "el la los las y en por con es del una lo como más pero "
    "le les et des est une du dans pour qui pas sur au avec sont "
    "il che di della sono gli"
    .split())
_WORD = re.compile(r"[^\W\d_]+")


def is_english(text: str) -> bool:
    """False for a text clearly in another Latin-script language (more of the other
    languages' function words than of English's, and at least three); short or unclear
    texts count as English, and so do texts in other scripts (Cyrillic, CJK: the
    lexicon's tokens are Latin, so nothing in them matches anyway). Not a language
    detector: ``newsmon.evaluation`` picks its English texts by its own, stricter test."""
    english = other = 0
    for m in _WORD.finditer(text):
        w = m.group(0).lower()
        if w in _ENGLISH_MARKERS:
            english += 1
        elif w in _OTHER_MARKERS:
            other += 1
    return not (other >= 3 and other > english)


def score_tension(lexicon: Lexicon, fields: dict[str, str]) -> TensionResult:
    """Score the named text fields (e.g. title, summary, content). A text that is clearly
    not English (``is_english``) scores 0 with no evidence: the lexicon is English."""
    evidence: list[Evidence] = []
    if is_english(" ".join(fields.values())):
        for name, text in fields.items():
            evidence.extend(find_phrases(lexicon, text, name))
    seen: dict[str, int] = {}
    esc = deesc = 0.0
    by_cat: dict[str, float] = {}
    for ev in evidence:
        if ev.negated:
            continue
        n = seen.get(ev.phrase, 0)
        seen[ev.phrase] = n + 1
        w = ev.weight * (REPEAT_DECAY ** n)
        if ev.hedged:
            w *= HEDGE_FACTOR
        if ev.field == "title":
            w *= TITLE_FACTOR
        by_cat[ev.category] = by_cat.get(ev.category, 0.0) + w
        if w > 0:
            esc += w
        else:
            deesc -= w
    net = max(0.0, esc - deesc)
    score = round(100 * (1 - math.exp(-net / SCALE)))
    return TensionResult(score=score, level=level_for(score), escalation=esc, deescalation=deesc,
                         by_category=by_cat, evidence=tuple(evidence),
                         lexicon_version=lexicon.version)
