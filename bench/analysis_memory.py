"""Memory of one analysis process over many small articles, without Kafka: what the
worker's analysis processes hold, and what the model reload (``reload_growth``) does.

    .venv/bin/python -m bench.analysis_memory [--articles 600000] [--step 25000]
                                              [--reload-growth 4]

Runs the analyzer as the memory run's worker has it (NER lead 300) on the memory run's
small articles (``bench.pipeline.small_articles``), in chunks of 4, in this process, and
prints after every ``--step`` articles: RSS, the bytes glibc's malloc has handed out
(mmapped ones included; Linux/glibc only, else blank), the cells of spaCy's string table
and the reloads so far. ``--reload-growth 0`` switches the reload off. About 5 ms per
article on the 2-core machine.
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import os
import time

from bench.pipeline import rss_mb, small_articles
from newsmon.analysis.entities import SpacyMentionFinder, string_table_capacity
from newsmon.analysis.pipeline import Analyzer


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def malloc_in_use_mb() -> float | None:
    """Bytes malloc has handed out and not had back (heap and mmapped), in MB."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None
    info = libc.mallinfo2()
    return round(float(info.uordblks + info.hblkhd) / 2**20, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=600_000)
    ap.add_argument("--step", type=int, default=25_000)
    ap.add_argument("--reload-growth", type=int, default=4,
                    help="reload the model when its string table has grown this many "
                         "times (0: never)")
    args = ap.parse_args()
    analyzer = Analyzer.configured(None, 300)
    finder = analyzer.extractor.finder
    assert isinstance(finder, SpacyMentionFinder)
    finder.reload_growth = args.reload_growth
    source = small_articles()
    print(f"one analysis process, reload_growth={args.reload_growth}")
    print("| articles | RSS (MB) | malloc in use (MB) | string table (cells) | reloads | s |")
    print("|---|---|---|---|---|---|")
    t0 = time.monotonic()
    done = 0
    while done < args.articles:
        for _ in range(args.step // 4):
            chunk = list(itertools.islice(source, 4))
            analyzer.enrich_many(chunk, [None] * len(chunk))
        done += args.step
        in_use = malloc_in_use_mb()
        print(f"| {done} | {rss_mb(os.getpid())} | {'' if in_use is None else in_use} | "
              f"{string_table_capacity(finder.nlp)} | {finder.reloads} | "
              f"{time.monotonic() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
