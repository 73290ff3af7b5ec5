"""HTTP fetching for feeds and article pages: safe, bounded, conditional.

:meth:`Fetcher.fetch` never raises for network trouble; it returns a
:class:`FetchResult` whose ``outcome`` is one of :data:`newsmon.metrics.FETCH_OUTCOMES`:

    ok              200 with a body (possibly empty)
    not_modified    304 to a conditional GET
    client_error    4xx other than 410/429     gone          410
    rate_limited    429                        server_error  5xx
    redirect_error  more than ``max_redirects`` hops, a loop, a non-http(s) or
                    missing Location
    refused         the address policy refused a hop's host or every address it
                    resolved to (see ``connectors.safety``), before connecting
    too_large       more than ``max_bytes`` on the wire, or out of any
                    Content-Encoding layer or gzip member (counted layer by
                    layer), more than ``max_encodings`` stacked encodings, or
                    an encoding other than gzip/deflate/identity
    timeout         no complete response within ``deadline``: one deadline per
                    fetch, covering every hop, connect, read and decompression
    network_error   DNS, connect, TLS or protocol failure (a response the HTTP
                    parser refuses), or a corrupt compressed body

The bounds, with :class:`FetchLimits`' defaults: 30 s per fetch, 10 MiB on the
wire and 10 MiB out of each decompression layer, 5 redirect hops, 2 stacked
Content-Encodings. Redirects are followed by hand so that every hop is checked
and a permanent redirect (301/308 all the way) can update the stored feed URL.
Bodies are decompressed here in steps of at most 64 KiB of output, with the
event loop running between steps, so a gzip bomb costs at most ``max_bytes``
per layer of memory and work proportional to that, inside the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from connectors.safety import AddressPolicy, AddressRefused
from connectors.transport import SafeTransport
from newsmon import __version__

USER_AGENT = f"newsmon/{__version__} (feed monitor; +https://pypi.org/project/newsmon/)"
FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
               "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")
_BASE_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_CHUNK = 64 * 1024
_STEPS_PER_TURN = 4  # decompression steps between turns of the event loop


async def _drain(resp: httpx.Response, limit: int = 64 * 1024, within: float = 0.5) -> None:
    """Read and drop up to ``limit`` bytes of a body nobody needs, for at most ``within``
    seconds; a longer, slower or broken one is left, and httpx closes that connection
    instead of reusing it."""
    seen = 0
    with contextlib.suppress(httpx.HTTPError, TimeoutError):
        async with asyncio.timeout(within):
            async for chunk in resp.aiter_raw(_CHUNK):
                seen += len(chunk)
                if seen > limit:
                    return


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_bytes: int = 10 * 1024 * 1024
    deadline: float = 30.0
    connect_timeout: float = 10.0
    max_redirects: int = 5
    max_encodings: int = 2
    max_connections: int = 8      # per origin


@dataclass(slots=True)
class FetchResult:
    url: str
    outcome: str
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    final_url: str | None = None
    permanent_url: str | None = None
    retry_after: float | None = None
    elapsed: float = 0.0
    wire_bytes: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class _TooLarge(Exception):
    pass


_STEP = 64 * 1024    # most output one decompression step produces
_STEP_IN = 16 * 1024  # most input one step takes (bounds what zlib copies per step)


class _Layer:
    """One Content-Encoding layer, undone in bounded steps.

    gzip: every member in turn (RFC 1952 allows several; zero bytes between or after
    them are padding). deflate: the zlib-wrapped form, or raw deflate if the body
    does not start with a zlib header. Input is kept as a view and advanced by what zlib
    consumed, so no byte is copied more than once per step.
    """

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self._wbits = 16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(self._wbits)
        self._sniff: bytes | None = None if self.gzip else b""  # deflate: first bytes, until 2
        self._input = memoryview(b"")
        self._pending = False  # the last step filled its output: zlib may hold more

    def push(self, data: bytes) -> None:
        if self._sniff is not None:
            data = self._sniff + data
            if len(data) < 2:
                self._sniff, self._input = data, memoryview(b"")
                return
            # A zlib header (RFC 1950: method 8, header a multiple of 31), else raw deflate.
            if not (data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0):
                self._wbits = -zlib.MAX_WBITS
                self._zlib = zlib.decompressobj(self._wbits)
            self._sniff = None
        self._input = memoryview(data)

    def pull(self) -> bytes | None:
        """The next piece of output (at most ``_STEP`` bytes, possibly empty), or None
        once everything pushed has been consumed."""
        while True:
            if self._zlib.eof:
                if not self._next_member():
                    return None
                continue
            if not self._input and not self._pending:
                return None
            piece = self._input[:_STEP_IN]
            out = self._zlib.decompress(piece, _STEP)
            left = self._zlib.unused_data if self._zlib.eof else self._zlib.unconsumed_tail
            self._input = self._input[len(piece) - len(left):]
            self._pending = len(out) == _STEP
            return out

    def _next_member(self) -> bool:
        """After the end of a stream: skip zero padding, start the next gzip member."""
        while self._input:
            head = bytes(self._input[:_STEP_IN])
            rest = head.lstrip(b"\0")
            self._input = self._input[len(head) - len(rest):]
            if rest:
                if not self.gzip:
                    raise zlib.error("data after the end of the deflate stream")
                self._zlib = zlib.decompressobj(self._wbits)
                self._pending = False
                return True
        return False


class _Decoder:
    """Content-Encoding decoding (gzip, deflate, identity) with bounded output and work.

    Every layer's output counts against ``limit``, not only the last one's, and
    every gzip member counts, so a stack of encodings or a run of members cannot
    make more than ``limit`` bytes at any layer. :meth:`feed` yields after each
    step (at most ``_STEP`` bytes of output at one layer), so the caller can let
    the event loop run, and the fetch's deadline fire, between steps.
    """

    def __init__(self, encodings: list[str], limit: int) -> None:
        self.limit = limit
        self.layers: list[_Layer] = []
        for enc in reversed(encodings):  # the last applied encoding is undone first
            if enc in ("gzip", "x-gzip", "deflate"):
                self.layers.append(_Layer(enc))
            elif enc not in ("identity", ""):
                raise _TooLarge(f"unsupported Content-Encoding {enc!r}")
        self.made = [0] * max(1, len(self.layers))

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of ``data`` (some empty: a step that made nothing final yet)."""
        if not self.layers:
            self._count(0, len(data))
            yield data
            return
        yield from self._run(0, data)

    def _run(self, depth: int, data: bytes) -> Iterator[bytes]:
        layer = self.layers[depth]
        layer.push(data)
        while (out := layer.pull()) is not None:
            self._count(depth, len(out))
            if depth + 1 < len(self.layers):
                yield b""
                if out:
                    yield from self._run(depth + 1, out)
            else:
                yield out

    def _count(self, depth: int, n: int) -> None:
        self.made[depth] += n
        if self.made[depth] > self.limit:
            where = (f" at Content-Encoding layer {depth + 1} of {len(self.layers)}"
                     if depth < len(self.layers) - 1 else "")
            raise _TooLarge(f"body over {self.limit} bytes after decompression{where}")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _outcome_for(status: int) -> str:
    if status == 410:
        return "gone"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "client_error"


class Fetcher:
    """GET with redirects followed by hand, over newsmon's transport
    (:mod:`connectors.transport`, httpx over aiohttp): every connection to a
    checked address, kept alive per origin.

    Requests are ``httpx.Request`` objects handed straight to the transport, not
    sent through ``httpx.AsyncClient``: the client's cookie jar, header merging
    and second URL parse cost about 0.2 ms of CPU per request, and a feed
    monitor keeps no cookies.
    """

    def __init__(self, limits: FetchLimits | None = None,
                 policy: AddressPolicy | None = None) -> None:
        self.limits = limits or FetchLimits()
        self.policy = policy or AddressPolicy()
        self._transport = SafeTransport(self.policy, max_connections=self.limits.max_connections,
                                        connect_timeout=self.limits.connect_timeout)

    async def aclose(self) -> None:
        await self._transport.aclose()

    @contextlib.asynccontextmanager
    async def _stream(self, url: str, headers: Mapping[str, str]
                      ) -> AsyncIterator[httpx.Response]:
        request = httpx.Request("GET", url, headers={**_BASE_HEADERS, **headers})
        response = await self._transport.handle_async_request(request)
        try:
            yield response
        finally:
            await response.aclose()

    async def fetch(self, url: str, headers: Mapping[str, str] | None = None,
                    accept: str = FEED_ACCEPT) -> FetchResult:
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(self.limits.deadline):
                result = await self._follow(url, {"Accept": accept, **(headers or {})})
        except TimeoutError:
            result = FetchResult(url, "timeout",
                                 error=f"no complete response in {self.limits.deadline:g}s")
        except AddressRefused as exc:
            result = FetchResult(url, "refused", error=str(exc))
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
            result = FetchResult(url, "network_error", error=f"{type(exc).__name__}: {exc}")
        result.elapsed = time.monotonic() - t0
        return result

    async def _follow(self, url: str, headers: dict[str, str]) -> FetchResult:
        current = url
        permanent = True
        visited = {url}
        for _hop in range(self.limits.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return FetchResult(url, "redirect_error", final_url=current,
                                   error=f"not an http(s) URL: {current[:200]}")
            result = await self._get(url, current, headers)
            if result.status not in _REDIRECTS:
                if current != url and permanent:
                    result.permanent_url = current
                return result
            location = result.headers.get("location")
            if not location:
                return FetchResult(url, "redirect_error", result.status, final_url=current,
                                   error="redirect without Location")
            permanent = permanent and result.status in _PERMANENT
            current = urljoin(current, location.strip())
            if current in visited:
                return FetchResult(url, "redirect_error", result.status, final_url=current,
                                   error="redirect loop")
            visited.add(current)
        return FetchResult(url, "redirect_error", final_url=current,
                           error=f"more than {self.limits.max_redirects} redirects")

    async def _get(self, url: str, current: str, headers: dict[str, str]) -> FetchResult:
        async with self._stream(current, headers) as resp:
            info = {k.lower(): v for k, v in resp.headers.items()}
            status = resp.status_code
            if status in _REDIRECTS or status == 304 or status >= 400:
                # Read the (small) body of a bodiless answer so the connection goes back
                # to the pool: closing it unread costs a new TCP connection per 304.
                await _drain(resp)
            if status in _REDIRECTS:
                return FetchResult(url, "redirect", status, headers=info, final_url=current)
            if status == 304:
                return FetchResult(url, "not_modified", 304, headers=info, final_url=current)
            if status >= 400:
                return FetchResult(url, _outcome_for(status), status, headers=info,
                                   final_url=current, error=f"HTTP {status}",
                                   retry_after=_retry_after(info.get("retry-after")))
            encodings = [e.strip().lower() for e in info.get("content-encoding", "").split(",")
                         if e.strip()]
            if len(encodings) > self.limits.max_encodings:
                return FetchResult(url, "too_large", status, headers=info, final_url=current,
                                   error=f"{len(encodings)} stacked Content-Encodings")
            declared = info.get("content-length", "")
            if declared.isdigit() and not encodings and int(declared) > self.limits.max_bytes:
                return FetchResult(url, "too_large", status, headers=info, final_url=current,
                                   error=f"Content-Length {declared} over {self.limits.max_bytes}")
            out: list[bytes] = []
            wire = 0
            try:
                decoder = _Decoder(encodings, self.limits.max_bytes)
                async for chunk in resp.aiter_raw(_CHUNK):
                    wire += len(chunk)
                    if wire > self.limits.max_bytes:
                        raise _TooLarge(f"body over {self.limits.max_bytes} bytes on the wire")
                    for steps, piece in enumerate(decoder.feed(chunk), 1):
                        if piece:
                            out.append(piece)
                        if steps % _STEPS_PER_TURN == 0:
                            await asyncio.sleep(0)  # other fetches run; the deadline can fire
            except _TooLarge as exc:
                return FetchResult(url, "too_large", status, headers=info, final_url=current,
                                   wire_bytes=wire, error=str(exc))
            except zlib.error as exc:
                return FetchResult(url, "network_error", status, headers=info,
                                   final_url=current, wire_bytes=wire,
                                   error=f"bad compressed body: {exc}")
            return FetchResult(url, "ok", status, b"".join(out), info, current, wire_bytes=wire)
