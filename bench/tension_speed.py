"""Time the tension score on the article-extraction benchmark's full texts.

Prints milliseconds per article and per 600 words (median of 3 runs), single
process. The issue's budget: about 2 ms for a 600-word article.

    PYTHONPATH=. python bench/tension_speed.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from newsmon.analysis.tension import load_lexicon, score_tension
from newsmon.evaluation import benchmark_texts

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args(argv)
    texts = benchmark_texts(args.data)
    lex = load_lexicon()
    words = sum(len(t.split()) for t in texts)
    for t in texts[:5]:
        score_tension(lex, {"title": "", "content": t})
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for t in texts:
            score_tension(lex, {"title": "", "content": t})
        runs.append(time.perf_counter() - t0)
    dt = statistics.median(runs)
    print(f"{len(texts)} articles, {words / len(texts):.0f} words on average: "
          f"{1000 * dt / len(texts):.2f} ms/article, "
          f"{1000 * dt / words * 600:.2f} ms per 600 words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
