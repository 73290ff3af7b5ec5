"""HTTP fetching of feeds with httpx: one client, keep-alive, capped bodies, one deadline.

Exceptions are not raised to the caller: :meth:`Fetcher.fetch` returns a
:class:`FetchResult` whose ``outcome`` is one of
:data:`newsmon.metrics.FETCH_OUTCOMES`, so one broken feed never stops the
others.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from newsmon import __version__

USER_AGENT = f"newsmon/{__version__} (+https://github.com/newsmon/newsmon; feed monitor)"
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
          "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_bytes: int = 10 * 1024 * 1024
    deadline: float = 30.0
    connect_timeout: float = 10.0
    max_redirects: int = 5


@dataclass(slots=True)
class FetchResult:
    url: str
    outcome: str
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    final_url: str | None = None
    elapsed: float = 0.0
    error: str | None = None


class Fetcher:
    def __init__(self, limits: FetchLimits | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.limits = limits or FetchLimits()
        self.client = httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=self.limits.max_redirects,
            timeout=httpx.Timeout(self.limits.deadline, connect=self.limits.connect_timeout),
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            transport=transport,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def fetch(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(self.limits.deadline):
                result = await self._fetch(url, headers or {})
        except TimeoutError:
            result = FetchResult(url, "timeout", error=f"no complete response in "
                                 f"{self.limits.deadline:.0f}s")
        except httpx.TooManyRedirects as exc:
            result = FetchResult(url, "http_error", error=f"too many redirects: {exc}")
        except (httpx.HTTPError, OSError) as exc:
            result = FetchResult(url, "network_error", error=f"{type(exc).__name__}: {exc}")
        result.elapsed = time.monotonic() - t0
        return result

    async def _fetch(self, url: str, headers: dict[str, str]) -> FetchResult:
        async with self.client.stream("GET", url, headers=headers) as resp:
            info = {k.lower(): v for k, v in resp.headers.items()}
            final = str(resp.url)
            if resp.status_code == 304:
                return FetchResult(url, "not_modified", 304, headers=info, final_url=final)
            if resp.status_code >= 400:
                return FetchResult(url, "http_error", resp.status_code, headers=info,
                                   final_url=final, error=f"HTTP {resp.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > self.limits.max_bytes:
                    return FetchResult(url, "too_large", resp.status_code, headers=info,
                                       final_url=final,
                                       error=f"body over {self.limits.max_bytes} bytes")
                chunks.append(chunk)
            return FetchResult(url, "ok", resp.status_code, b"".join(chunks), info, final)
