"""newsmon's httpx transport: httpx ``Request``s carried by aiohttp to checked addresses only.

httpx stays the HTTP API (``Request``, ``Response``, URL handling, the transport
interface); the wire is aiohttp's: its HTTP/1.1 parser (llhttp, strict: chunk
sizes, header names, framing), its connection pool with keep-alive and
per-host limits, and its retry of an idempotent request once on a new
connection when a kept one turns out closed by the server.

What the adapter adds, and all it adds:

- every host name goes through :class:`CheckedResolver`: resolved once by
  aiohttp's resolver, each address checked by the
  :class:`~connectors.safety.AddressPolicy`, and only the checked addresses
  handed back to aiohttp's connector, which connects to exactly those (no
  second lookup, so no DNS rebinding); an IP-literal host, which aiohttp does
  not send to a resolver, is checked here before the request;
- TLS verifies the URL's host name (aiohttp sends it as SNI and checks the
  certificate against it while connecting to the checked address);
- bodies are handed over as they arrive, still encoded (``auto_decompress``
  off): :mod:`connectors.fetch` decodes them within its own bounds;
- no cookies, no proxies from the environment, no redirects (the caller
  follows them, checking every hop); header values with CR, LF or NUL are
  refused (an ETag echoed back must not inject a header);
- aiohttp's errors become httpx's (:class:`httpx.ConnectError`,
  :class:`httpx.RemoteProtocolError`, ...), except an address refused by the
  policy, which stays :class:`~connectors.safety.AddressRefused`.

Deadlines are the caller's (:class:`connectors.fetch.Fetcher` wraps each
fetch in one overall timeout); only the TCP/TLS connect step has its own.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from connectors.safety import AddressPolicy, AddressRefused, default_ssl_context


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        first_refused = ""
        for answer in answers:
            ip = ipaddress.ip_address(answer["host"])
            why = self._policy.refused(ip)
            if why is None:
                allowed.append(answer)
            elif not first_refused:
                first_refused = f" ({ip}): {why}"
        if not allowed:
            raise AddressRefused(f"refused to connect to {host}{first_refused}, "
                                 "not a public address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def _check_literal(host: str, policy: AddressPolicy) -> bool:
    """Check a host that aiohttp treats as an IP literal (it bypasses the resolver);
    True if it was one, and allowed."""
    if ":" not in host and not host.replace(".", "").isdigit():
        return False  # a name: the resolver checks it
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise AddressRefused(f"refused to connect to {host[:100]}: not an IP address "
                             "in canonical form") from None
    policy.check(ip, host)
    return True


_LITERALS_KEPT = 4096  # IP-literal hosts remembered as allowed (the policy never changes)


class SafeTransport(httpx.AsyncBaseTransport):
    """httpx transport over one aiohttp session whose connections go to checked addresses.

    ``max_connections`` caps connections per origin (further requests wait),
    ``max_total`` over all origins; idle connections are kept
    ``keepalive_expiry`` seconds.
    """

    def __init__(self, policy: AddressPolicy, *, max_connections: int = 8,
                 max_total: int = 256, keepalive_expiry: float = 15.0,
                 connect_timeout: float = 10.0, max_headers: int = 100,
                 max_field_size: int = 8190, ssl_context: ssl.SSLContext | None = None) -> None:
        self.policy = policy
        self._max_connections = max_connections
        self._max_total = max_total
        self._keepalive = keepalive_expiry
        self._connect_timeout = connect_timeout
        self._max_headers = max_headers
        self._max_field_size = max_field_size
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._allowed_literals: set[str] = set()

    def _open(self) -> aiohttp.ClientSession:
        # Built on first use, inside the running event loop, as aiohttp expects.
        connector = aiohttp.TCPConnector(
            resolver=CheckedResolver(self.policy),
            ssl=self._ssl or default_ssl_context(),
            limit=self._max_total, limit_per_host=self._max_connections,
            keepalive_timeout=self._keepalive)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            max_headers=self._max_headers,
            max_field_size=self._max_field_size,
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.TransportError("transport closed")
        url = request.url
        if url.scheme not in ("http", "https") or not url.host:
            raise httpx.UnsupportedProtocol(f"not an http(s) URL: {str(url)[:200]}")
        headers: list[tuple[str, str]] = []
        for name, value in request.headers.raw:
            if b"\r" in value or b"\n" in value or b"\0" in value or b"\r" in name \
                    or b"\n" in name or b"\0" in name:
                raise httpx.LocalProtocolError("header with CR, LF or NUL")
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        # The ASCII (punycode) form: what DNS, the policy and TLS's server name take.
        target = URL(f"{url.scheme}://{url.netloc.decode('ascii')}"
                     f"{url.raw_path.decode('ascii')}", encoded=True)
        host = (target.raw_host or "").lower()  # the very host aiohttp will connect to
        if (host not in self._allowed_literals and _check_literal(host, self.policy)
                and len(self._allowed_literals) < _LITERALS_KEPT):
            self._allowed_literals.add(host)
        session = self._session or self._open()
        try:
            response = await session.request(request.method, target, headers=headers,
                                             data=body or None, allow_redirects=False)
        except aiohttp.ClientError as exc:
            raise _translate(exc) from exc
        codings = response.headers.getall("Transfer-Encoding", ())
        if codings and [c.strip().lower() for v in codings for c in v.split(",")] != ["chunked"]:
            # RFC 9112 would read such a body until the connection closes, still
            # encoded; nothing a feed server needs to send.
            response.close()
            raise httpx.RemoteProtocolError(f"Transfer-Encoding {', '.join(codings)[:60]!r}")
        return httpx.Response(
            response.status, headers=response.raw_headers, stream=_Body(response),
            request=request,
            extensions={"http_version": b"HTTP/%d.%d" % tuple(response.version or (1, 1)),
                        "reason_phrase": (response.reason or "").encode("latin-1", "replace")})

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientResponseError):
        text = exc.message  # the parser's own words, without the URL and status repeated
    else:
        text = str(exc) or type(exc).__name__
        cause = exc.__cause__
        if cause is not None and str(cause) and str(cause) not in text:
            text = f"{text}: {cause}"
    return " ".join(text.split())[:300]


def _translate(exc: aiohttp.ClientError) -> Exception:
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, AddressRefused):
            return exc.os_error
        return httpx.ConnectError(_describe(exc))
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ConnectTimeout(_describe(exc))
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(_describe(exc))
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError
                  | aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(_describe(exc))
    return httpx.NetworkError(_describe(exc))


class _Body(httpx.AsyncByteStream):
    """The response body as aiohttp hands it over; closing it releases the connection
    (back to the pool only if the body was read to its end and the server keeps it)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for data in self._response.content.iter_any():
                yield data
        except aiohttp.ClientError as exc:
            raise _translate(exc) from exc

    async def aclose(self) -> None:
        self._response.release()
