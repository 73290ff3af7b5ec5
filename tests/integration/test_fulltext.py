"""Full text from real article pages served over HTTP, checked against their ground truth."""

from __future__ import annotations

import json
import re
from collections import Counter

from connectors.fetch import Fetcher
from connectors.fulltext import FullTextFetcher
from connectors.safety import AddressPolicy
from tests.helpers import DATA, http_server

BENCH = DATA / "pages/article-extraction-benchmark"
_WORD = re.compile(r"\w+")


def overlap_f1(got: str, want: str) -> float:
    g, w = Counter(_WORD.findall(got.lower())), Counter(_WORD.findall(want.lower()))
    common = sum((g & w).values())
    if not common:
        return 0.0
    p, r = common / sum(g.values()), common / sum(w.values())
    return 2 * p * r / (p + r)


def test_overlap_metric() -> None:
    assert overlap_f1("a b c", "a b c") == 1.0
    assert overlap_f1("", "a") == 0.0
    assert 0.5 < overlap_f1("a b c d", "a b c") < 1.0


async def test_full_text_matches_ground_truth() -> None:
    truth = json.loads((BENCH / "ground-truth.json").read_text("utf-8"))
    routes = {f"/{key}": (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"},
                          (BENCH / "html" / f"{key}.html.gz").read_bytes())
              for key in truth}
    with http_server(routes) as base:
        fetcher = Fetcher(policy=AddressPolicy.from_strings(["127.0.0.1/32"]))
        ft = FullTextFetcher(fetcher, concurrency=4)
        try:
            scores = []
            for key, item in truth.items():
                text = await ft.text(f"{base}/{key}")
                scores.append(overlap_f1(text or "", item["articleBody"]))
            again = await ft.text(f"{base}/{next(iter(truth))}")  # served from the cache
        finally:
            await fetcher.aclose()
    mean = sum(scores) / len(scores)
    print(f"\nfull text: {len(scores)} pages, mean word-overlap F1 {mean:.3f}, "
          f"{sum(s >= 0.8 for s in scores)} pages >= 0.8")
    assert len(scores) == 181
    assert again is not None
    assert mean >= 0.85
