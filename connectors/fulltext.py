"""Full article text for entries that carry only a summary.

The article page is fetched with the same :class:`~connectors.fetch.Fetcher`
(same address policy, size cap and deadline), its main text extracted with
trafilatura in a worker thread, and the result cached by canonical URL. At
most ``concurrency`` pages are fetched at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from connectors.fetch import Fetcher
from newsmon import metrics
from newsmon.analysis.canonical import canonical_url

log = logging.getLogger(__name__)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


def extract_main_text(html: bytes | str, url: str | None = None) -> str | None:
    """The main text of an HTML page (trafilatura), or None when none is found."""
    import trafilatura

    try:
        text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False,
                                   favor_precision=False, deduplicate=True)
    except Exception as exc:  # noqa: BLE001 - a page that breaks the extractor is skipped
        log.debug("extraction failed for %s: %s", url, exc)
        return None
    return text or None


class FullTextFetcher:
    def __init__(self, fetcher: Fetcher, concurrency: int = 4, cache_size: int = 2000,
                 timeout: float = 20.0) -> None:
        self.fetcher = fetcher
        self.sem = asyncio.Semaphore(concurrency)
        self.cache: OrderedDict[str, str | None] = OrderedDict()
        self.cache_size = cache_size
        self.timeout = timeout

    async def text(self, url: str) -> str | None:
        key = canonical_url(url)
        if key in self.cache:
            self.cache.move_to_end(key)
            metrics.fulltext_fetches.labels("cached").inc()
            return self.cache[key]
        async with self.sem:
            result = await self.fetcher.fetch(url, accept=PAGE_ACCEPT)
        if not result.ok:
            metrics.fulltext_fetches.labels(result.outcome).inc()
            return None
        try:
            async with asyncio.timeout(self.timeout):
                text = await asyncio.to_thread(extract_main_text, result.body, url)
        except TimeoutError:
            metrics.fulltext_fetches.labels("timeout").inc()
            return None
        metrics.fulltext_fetches.labels("ok" if text else "empty").inc()
        self.cache[key] = text
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return text
