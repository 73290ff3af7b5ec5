"""The obvious pipeline, for comparison: one Faust agent, spaCy's full small pipeline on every
article, and a loop of regular expressions (one per lexicon phrase) for the keywords.

    python -m bench.obvious worker      (env as for ``newsmon worker``)
"""

from __future__ import annotations

import re
import sys
from typing import Any

import faust

from newsmon.analysis.entities import MODEL_NAMES
from newsmon.analysis.tension import load_lexicon
from newsmon.records import decode_raw, dumps
from newsmon.settings import Settings


def build(settings: Settings) -> faust.App:
    import spacy

    nlp = None
    for name in MODEL_NAMES:
        try:
            nlp = spacy.load(name)  # every component: tagger, parser, lemmatizer, NER
            break
        except OSError:
            continue
    assert nlp is not None, "no spaCy English model"
    phrases = sorted({p.text for group in load_lexicon().index.values() for p in group})
    regexes = [(p, re.compile(r"\b" + re.escape(p).replace(r"\*", r"\w+") + r"\b", re.I))
               for p in phrases]
    assert settings.bootstrap_servers
    # Faust keeps a data directory; by default it is created in the current directory.
    datadir = (settings.data_dir / "faust-obvious").resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(f"{settings.app_id}-obvious", broker=f"kafka://{settings.bootstrap_servers}",
                    datadir=str(datadir), store="memory://", topic_replication_factor=1,
                    topic_partitions=settings.partitions, web_enabled=False,
                    consumer_auto_offset_reset="earliest")
    raw = app.topic(settings.topics.raw, key_serializer="raw", value_serializer="raw")
    out = app.topic(settings.topics.articles, key_serializer="raw", value_serializer="raw")

    @app.agent(raw)
    async def analyse(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            article = decode_raw(value)
            text = article.title + "\n\n" + (article.content or article.summary)
            doc = nlp(text)
            ents: list[dict[str, Any]] = [{"text": e.text, "label": e.label_} for e in doc.ents]
            hits = [p for p, rx in regexes if rx.search(text)]
            await out.send(key=article.id.encode(), value=dumps(
                {"id": article.id, "entities": ents, "keywords": hits}))

    return app


if __name__ == "__main__":
    from faust.worker import Worker

    app = build(Settings.from_env())
    sys.exit(Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline())
