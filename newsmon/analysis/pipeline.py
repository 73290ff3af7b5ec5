"""The analysis pipeline the agents and ``newsmon analyze`` share.

``Analyzer.enrich`` turns a :class:`~newsmon.records.RawArticle` into the
enriched-article record; :mod:`newsmon.rules` decides whether it alerts. The
near-duplicate decision is passed in (made by Faust agents in the worker, by
the worker's own steps run in one process offline,
:class:`~newsmon.stages.neardup.NearDupIndex`), so this module stays free of Kafka.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsmon.analysis.canonical import article_id, canonical_url
from newsmon.analysis.entities import DEFAULT_LEAD_CHARS, EntityExtractor
from newsmon.analysis.neardup import MIN_BODY_WORDS, Match, normalise
from newsmon.analysis.tension import Lexicon, TensionResult, load_lexicon, score_tension
from newsmon.analysis.text import html_to_text
from newsmon.records import SCHEMA_VERSION, RawArticle, fit_enriched, utcnow_iso
from newsmon.stages.neardup import NearDupIndex

#: What analysis reads of one article, in characters of text after HTML stripping: the
#: rest is left out of entities, tension, shingles and the record. Together with the
#: bounded evidence snippets and list sizes (``newsmon.records.fit_enriched``) this keeps
#: the work and the record size per article bounded whatever a feed sends.
MAX_TITLE_CHARS = 1_000
MAX_SUMMARY_CHARS = 20_000
MAX_CONTENT_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class ArticleText:
    title: str
    summary: str
    content: str

    def fields(self) -> dict[str, str]:
        out = {"title": self.title}
        if self.content:
            out["content"] = self.content
        if self.summary and not _contained(self.summary, self.content):
            out["summary"] = self.summary
        return out

    def full(self) -> str:
        return "\n\n".join(v for v in self.fields().values() if v)


def _contained(summary: str, content: str) -> bool:
    if not content:
        return False
    head = " ".join(summary.split()[:30])
    return head[:200] in " ".join(content.split())


def article_text(raw: RawArticle) -> ArticleText:
    return ArticleText(
        title=html_to_text(raw.title).replace("\n", " ")[:MAX_TITLE_CHARS],
        summary=html_to_text(raw.summary)[:MAX_SUMMARY_CHARS],
        content=html_to_text(raw.content)[:MAX_CONTENT_CHARS],
    )


class Analyzer:
    """Entities + tension for articles. Heavy state (the NER model) is loaded once."""

    def __init__(self, extractor: EntityExtractor | None = None,
                 lexicon: Lexicon | None = None) -> None:
        self.extractor = extractor if extractor is not None else EntityExtractor()
        self.lexicon = lexicon if lexicon is not None else load_lexicon()

    @classmethod
    def configured(cls, lexicon_file: Path | None = None,
                   ner_lead_chars: int | None = DEFAULT_LEAD_CHARS) -> Analyzer:
        """The analyzer as settings describe it (lexicon override, NER lead; 0 = full text)."""
        return cls(EntityExtractor(lead_chars=ner_lead_chars or None),
                   load_lexicon(override=lexicon_file))

    def enrich(self, raw: RawArticle, near: Match | None = None) -> dict[str, Any]:
        return self.enrich_many([raw], [near])[0]

    def enrich_many(self, raws: Sequence[RawArticle],
                    near: Sequence[Match | None] | None = None) -> list[dict[str, Any]]:
        texts = [article_text(r) for r in raws]
        entity_lists = self.extractor.extract_many([t.full() for t in texts])
        out = []
        for i, (raw, text, ents) in enumerate(zip(raws, texts, entity_lists, strict=True)):
            tension = score_tension(self.lexicon, text.fields())
            match = near[i] if near is not None else None
            out.append(_enriched(raw, text, ents, tension, match))
        return out


def near_dup_text(raw: RawArticle) -> str:
    """The text whose shingles identify a story: the body (content, else summary), with
    the title before it when the body alone is too short to tell stories apart (feed
    summaries of a few words, or only "Continue reading...")."""
    t = article_text(raw)
    body = t.content or t.summary
    if len(normalise(body)) >= MIN_BODY_WORDS:
        return body
    return f"{t.title}\n\n{body}" if body else t.title


def _enriched(raw: RawArticle, text: ArticleText, ents: list[Any], tension: TensionResult,
              match: Match | None) -> dict[str, Any]:
    duplicate_of = match.duplicate_of if match else None
    return fit_enriched({
        "schema_version": SCHEMA_VERSION,
        "id": raw.id,
        "url": raw.url,
        "canonical_url": canonical_url(raw.url) if raw.url else None,
        "title": text.title,
        "summary": text.summary,
        "published": raw.published,
        "published_is_fetch_time": raw.published_is_fetch_time,
        "fetched_at": raw.fetched_at,
        "feed_url": raw.feed_url,
        "source": raw.source,
        "duplicate_of": duplicate_of,
        "story_id": match.story_id if match else raw.id,
        "entities": [e.to_dict() for e in ents],
        "countries": sorted({e.country for e in ents if e.country}),
        "tension": tension.to_dict(),
        "text_chars": len(text.full()),
        "analyzed_at": utcnow_iso(),
    })


def raw_from_input(obj: dict[str, Any]) -> RawArticle:
    """A raw article from a loosely shaped JSON object (``newsmon analyze`` input)."""
    from newsmon.records import RecordError, raw_from_dict

    if not isinstance(obj, dict):
        raise RecordError("each line must be a JSON object")
    if not isinstance(obj.get("title"), str):
        raise RecordError("field 'title' is required and must be a string")
    data = dict(obj)
    if not isinstance(data.get("id"), str) or not data["id"]:
        url = data.get("url") if isinstance(data.get("url"), str) else None
        guid = data.get("guid") if isinstance(data.get("guid"), str) else None
        data["id"] = article_id(url, guid, data["title"])
    return raw_from_dict(data)


def analyze_records(analyzer: Analyzer, objs: Iterable[dict[str, Any] | Exception],
                    batch: int = 16) -> Iterator[dict[str, Any]]:
    """Offline analysis in input order, with exact and near-duplicate marking.

    An input that cannot be used yields ``{"error": ..., "line": n}`` in its place.
    """
    index = NearDupIndex()
    seen: set[str] = set()
    pending: list[tuple[int, RawArticle | str]] = []

    def flush() -> Iterator[dict[str, Any]]:
        raws = [r for _, r in pending if isinstance(r, RawArticle)]
        matches: list[Match | None] = []
        for r in raws:
            if r.id in seen:
                matches.append(Match(r.id, index.stories.get(r.id, r.id), -1))
            else:
                seen.add(r.id)
                matches.append(index.add(r.id, near_dup_text(r)))
        done = iter(analyzer.enrich_many(raws, matches) if raws else [])
        for n, item in pending:
            yield next(done) if isinstance(item, RawArticle) else {"error": item, "line": n}
        pending.clear()

    for n, obj in enumerate(objs, 1):
        try:
            if isinstance(obj, Exception):
                raise obj
            pending.append((n, raw_from_input(obj)))
        except (ValueError, TypeError) as exc:
            pending.append((n, str(exc)))
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()
