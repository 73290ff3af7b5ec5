"""Analysis in worker processes: the CPU-heavy part runs beside the event loop, not behind
its GIL. Each process loads the analyzer once (``init``) and then enriches batches."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from newsmon.analysis.neardup import Match
from newsmon.analysis.pipeline import Analyzer
from newsmon.records import RawArticle

_analyzer: Analyzer | None = None


def init(lexicon_file: Path | None, ner_lead_chars: int | None, nice: int = 0,
         log_level: int = logging.WARNING) -> None:
    """Load the analyzer in this process, first lowering its priority by ``nice``. A
    spawned process starts without the worker's logging: its records (the model's
    reloads among them) go to the inherited stderr at ``log_level``."""
    global _analyzer
    logging.basicConfig(level=log_level, stream=sys.stderr,
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    if nice > 0:
        os.nice(nice)
    _analyzer = Analyzer.configured(lexicon_file, ner_lead_chars)


def ready() -> bool:
    return _analyzer is not None


def enrich_many(raws: Sequence[RawArticle], near: Sequence[Match | None]) -> list[dict[str, Any]]:
    assert _analyzer is not None, "init() first"
    return _analyzer.enrich_many(raws, near)


def enrich_one(raw: RawArticle, near: Match | None) -> dict[str, Any]:
    assert _analyzer is not None, "init() first"
    return _analyzer.enrich(raw, near)
