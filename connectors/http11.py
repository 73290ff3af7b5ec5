"""newsmon's HTTP/1.1 transport for httpx: pinned, checked connections, kept alive.

httpx stays the HTTP library (its ``Request`` and ``Response``, URL parsing and
the transport interface); this replaces the transport underneath, httpcore's
connection pool and the pure-Python h11 state machine, which cost about
0.6 ms of CPU per request: two thirds of a feed check that answers 304. Here
one request is one write and one parse of the head with ``bytes`` methods,
and connections are kept per origin in a dict, so the cost does not grow
with the number of hosts.

What it does, and all it does:
- http and https; every new connection resolves the host itself, checks
  each address with the :class:`~connectors.safety.AddressPolicy` and connects
  to the checked address (TLS still verifies the host name);
- GET and other bodiless requests (a request body is written whole);
- responses framed by Content-Length, chunked Transfer-Encoding or the end of
  the connection; 1xx answers skipped; a head over ``max_head_bytes`` or
  with more than ``max_headers`` lines, a bad status line or a bad chunk is a
  :class:`httpx.RemoteProtocolError`;
- keep-alive per origin: at most ``max_connections`` at once (further
  requests wait), idle ones reused last-in-first-out for ``keepalive_expiry``
  seconds and at most ``max_idle`` over all origins; a reused connection that
  the server had closed is retried once on a new one;
- no proxies, no cookies, no HTTP/2. Header values with CR, LF or NUL are
  refused (an ETag echoed back must not inject headers).

Deadlines are the caller's: :class:`connectors.fetch.Fetcher` wraps each fetch
in one overall timeout; only the connect step has its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

from connectors.safety import AddressPolicy, AddressRefused, IPAddress, default_ssl_context

_DEFAULT_PORTS = {"http": 80, "https": 443}
_READ = 64 * 1024
_PAUSE_ABOVE = 1024 * 1024


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in out:
            out.append(ip)
    return out


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: a byte buffer the reader awaits."""

    def __init__(self, origin: tuple[str, str, int]) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.idle_since = 0.0
        self.reused = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > _PAUSE_ABOVE and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def _more(self) -> bool:
        """Wait for more bytes; False at the end of the stream."""
        if self.eof:
            return False
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        return True

    # reading
    async def read_until(self, delim: bytes, limit: int, what: str) -> bytes:
        start = 0
        while True:
            i = self.buf.find(delim, start)
            if i > limit or (i < 0 and len(self.buf) > limit):
                raise httpx.RemoteProtocolError(f"{what} over {limit} bytes")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + len(delim)]
                return out
            start = max(0, len(self.buf) - len(delim) + 1)
            if not await self._more():
                if self.buf or what != "response head":
                    raise httpx.RemoteProtocolError(f"connection closed inside the {what}")
                raise _ClosedBeforeAnswer()

    async def read_some(self, most: int) -> bytes:
        while not self.buf:
            if not await self._more():
                return b""
        out = bytes(self.buf[:most])
        del self.buf[:most]
        return out

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    @property
    def usable(self) -> bool:
        return (not self.eof and not self.buf and self.transport is not None
                and not self.transport.is_closing())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.eof = True


class _ClosedBeforeAnswer(httpx.RemoteProtocolError):
    def __init__(self) -> None:
        super().__init__("server closed the connection without answering")


@dataclass(slots=True)
class _Origin:
    active: int = 0
    idle: list[_Connection] = field(default_factory=list)
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


class SafeTransport(httpx.AsyncBaseTransport):
    def __init__(self, policy: AddressPolicy, *, max_connections: int = 8,
                 keepalive_expiry: float = 30.0, max_idle: int = 256,
                 connect_timeout: float = 10.0, max_head_bytes: int = 64 * 1024,
                 max_headers: int = 100, ssl_context: ssl.SSLContext | None = None) -> None:
        self.policy = policy
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.max_idle = max_idle
        self.connect_timeout = connect_timeout
        self.max_head_bytes = max_head_bytes
        self.max_headers = max_headers
        self._ssl = ssl_context
        self._origins: dict[tuple[str, str, int], _Origin] = {}
        self._idle_order: OrderedDict[int, _Connection] = OrderedDict()
        self._closed = False
        self.connections_opened = 0

    # pool
    async def _acquire(self, key: tuple[str, str, int]) -> _Origin:
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin()
        while origin.active >= self.max_connections:
            fut = asyncio.get_running_loop().create_future()
            origin.waiters.append(fut)
            try:
                await fut
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._wake_next(origin)  # pass on the wake-up we were given
                with contextlib.suppress(ValueError):
                    origin.waiters.remove(fut)
                raise
        origin.active += 1
        return origin

    def _wake_next(self, origin: _Origin) -> None:
        while origin.waiters:
            fut = origin.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _release(self, key: tuple[str, str, int], origin: _Origin,
                 conn: _Connection | None, reusable: bool) -> None:
        origin.active -= 1
        if conn is not None:
            if reusable and conn.usable and not self._closed:
                conn.idle_since = time.monotonic()
                origin.idle.append(conn)
                self._idle_order[id(conn)] = conn
                while len(self._idle_order) > self.max_idle:
                    _, old = self._idle_order.popitem(last=False)
                    self._drop_idle(old)
            else:
                conn.close()
        self._wake_next(origin)
        if not origin.active and not origin.idle and not origin.waiters:
            self._origins.pop(key, None)

    def _drop_idle(self, conn: _Connection) -> None:
        origin = self._origins.get(conn.origin)
        if origin is not None:
            with contextlib.suppress(ValueError):
                origin.idle.remove(conn)
            if not origin.active and not origin.idle and not origin.waiters:
                self._origins.pop(conn.origin, None)
        conn.close()

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        now = time.monotonic()
        while origin.idle:
            conn = origin.idle.pop()
            self._idle_order.pop(id(conn), None)
            if conn.usable and now - conn.idle_since < self.keepalive_expiry:
                conn.reused = True
                return conn
            conn.close()
        return None

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        scheme, host, port = key
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from exc
        allowed = [ip for ip in addresses if self.policy.allowed(ip)]
        if not allowed:
            for ip in addresses:
                self.policy.check(ip, host)  # raises with the refused address
            raise AddressRefused(f"refused to connect to {host}: no usable address")
        loop = asyncio.get_running_loop()
        tls = (self._ssl or default_ssl_context()) if scheme == "https" else None
        last: Exception | None = None
        for ip in allowed:
            conn = _Connection(key)
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await loop.create_connection(
                        lambda c=conn: c, host=str(ip), port=port, ssl=tls,
                        server_hostname=host if tls else None)
                self.connections_opened += 1
                return conn
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                conn.close()
                last = exc
        raise httpx.ConnectError(f"cannot connect to {host}:{port}: {last}")

    # requests
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.TransportError("transport closed")
        url = request.url
        scheme = url.scheme
        if scheme not in _DEFAULT_PORTS or not url.host:
            raise httpx.UnsupportedProtocol(f"not an http(s) URL: {str(url)[:200]}")
        # The ASCII (punycode) form: what DNS and the TLS server name take.
        key = (scheme, url.raw_host.decode("ascii").lower(), url.port or _DEFAULT_PORTS[scheme])
        head = self._request_head(request)
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        origin = await self._acquire(key)
        conn: _Connection | None = None
        try:
            conn = self._take_idle(origin) or await self._connect(key)
            conn.write(head + body)
            try:
                answer = await self._read_head(conn)
            except _ClosedBeforeAnswer:
                if not conn.reused:
                    raise
                conn.close()  # the server had closed it while idle: once more, on a new one
                conn = await self._connect(key)
                conn.write(head + body)
                answer = await self._read_head(conn)
            return self._response(key, origin, conn, request, *answer)
        except BaseException:
            self._release(key, origin, conn, reusable=False)
            raise

    def _request_head(self, request: httpx.Request) -> bytes:
        parts = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            if any(c in name or c in value for c in (b"\r", b"\n", b"\x00")):
                raise httpx.LocalProtocolError("header with CR, LF or NUL")
            parts += [name, b": ", value, b"\r\n"]
        parts.append(b"\r\n")
        return b"".join(parts)

    async def _read_head(self, conn: _Connection
                         ) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
        while True:
            raw = await conn.read_until(b"\r\n\r\n", self.max_head_bytes, "response head")
            lines = raw.split(b"\r\n")
            version, _, rest = lines[0].partition(b" ")
            code, _, reason = rest.partition(b" ")
            if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
                raise httpx.RemoteProtocolError(f"bad status line {lines[0][:80]!r}")
            if len(lines) - 1 > self.max_headers:
                raise httpx.RemoteProtocolError(f"more than {self.max_headers} header lines")
            headers: list[tuple[bytes, bytes]] = []
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if not sep or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
                    raise httpx.RemoteProtocolError(f"bad header line {line[:80]!r}")
                headers.append((name, value.strip(b" \t")))
            status = int(code)
            if 100 <= status < 200 and status != 101:
                continue  # informational: the real answer follows
            return status, reason, version, headers

    def _response(self, key: tuple[str, str, int], origin: _Origin, conn: _Connection,
                  request: httpx.Request, status: int, reason: bytes, version: bytes,
                  headers: list[tuple[bytes, bytes]]) -> httpx.Response:
        lower = [(n.lower(), v) for n, v in headers]
        tokens = {t.strip().lower() for n, v in lower if n == b"connection" for t in v.split(b",")}
        keep = (version == b"HTTP/1.1" and b"close" not in tokens) or (
            version == b"HTTP/1.0" and b"keep-alive" in tokens)
        coding = [t.strip().lower() for n, v in lower if n == b"transfer-encoding"
                  for t in v.split(b",")]
        lengths = {v for n, v in lower if n == b"content-length"}
        length: int | None
        if request.method == "HEAD" or status in (204, 304) or status == 101:
            length, chunked = 0, False
        elif coding:
            if coding != [b"chunked"]:
                raise httpx.RemoteProtocolError(f"Transfer-Encoding {b', '.join(coding)[:40]!r}")
            length, chunked = None, True
        elif lengths:
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise httpx.RemoteProtocolError("bad Content-Length")
            length, chunked = int(next(iter(lengths))), False
        else:
            length, chunked, keep = None, False, False  # until the server closes
        stream = _Body(self, key, origin, conn, length, chunked, keep)
        return httpx.Response(status, headers=headers, stream=stream, request=request,
                              extensions={"http_version": version, "reason_phrase": reason})

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._idle_order.values()):
            self._drop_idle(conn)
        self._idle_order.clear()


class _Body(httpx.AsyncByteStream):
    """A response body read straight off the connection; closing it hands the
    connection back (reusable only if the body was read to its end)."""

    def __init__(self, owner: SafeTransport, key: tuple[str, str, int], origin: _Origin,
                 conn: _Connection, length: int | None, chunked: bool, keep: bool) -> None:
        self._owner, self._key, self._origin, self._conn = owner, key, origin, conn
        self._left = length
        self._chunked = chunked
        self._keep = keep
        self._done = length == 0
        self._released = False
        if self._done:
            self._release()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._chunked:
                async for piece in self._chunks():
                    yield piece
            elif self._left is not None:
                while self._left > 0:
                    data = await self._conn.read_some(min(self._left, _READ))
                    if not data:
                        raise httpx.RemoteProtocolError("connection closed inside the body")
                    self._left -= len(data)
                    yield data
            else:
                while data := await self._conn.read_some(_READ):
                    yield data
            self._done = True
        finally:
            self._release()

    async def _chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            line = await conn.read_until(b"\r\n", 1024, "chunk size")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            if size < 0:
                raise httpx.RemoteProtocolError("bad chunk size")
            if size == 0:
                while await conn.read_until(b"\r\n", 8 * 1024, "trailer"):
                    pass
                return
            while size > 0:
                data = await conn.read_some(min(size, _READ))
                if not data:
                    raise httpx.RemoteProtocolError("connection closed inside a chunk")
                size -= len(data)
                yield data
            if await conn.read_until(b"\r\n", 2, "chunk end"):
                raise httpx.RemoteProtocolError("chunk longer than its size")

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._owner._release(self._key, self._origin, self._conn,
                                 reusable=self._done and self._keep)

    async def aclose(self) -> None:
        self._release()

