"""newsmon's transport (httpx over aiohttp) against a raw TCP server on 127.0.0.1 that
answers from a script: framing, strict parsing, keep-alive, stale connections, caps,
header injection, TLS."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import trustme

from connectors.fetch import Fetcher, FetchLimits
from connectors.safety import AddressPolicy
from connectors.transport import SafeTransport

LOCAL = AddressPolicy.from_strings(["127.0.0.0/8"])
SHORT = FetchLimits(deadline=5.0)
FEED = b'<rss version="2.0"><channel><title>T</title></channel></rss>'


@dataclass
class Raw:
    port: int
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    active: int = 0
    most_active: int = 0


Answer = Callable[[bytes, int], bytes | None]  # (request head, request number) -> bytes, or
# None to close without answering


@asynccontextmanager
async def raw_server(answer: Answer, close_after: bool = False,
                     hold: float = 0.0) -> AsyncIterator[Raw]:
    raw = Raw(0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                raw.requests.append(head)
                raw.active += 1
                raw.most_active = max(raw.most_active, raw.active)
                if hold:
                    await asyncio.sleep(hold)
                raw.active -= 1
                out = answer(head, len(raw.requests))
                if out is None:
                    return
                writer.write(out)
                await writer.drain()
                if close_after:
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    raw.port = server.sockets[0].getsockname()[1]
    async with server:
        yield raw


@asynccontextmanager
async def local_fetcher(limits: FetchLimits = SHORT) -> AsyncIterator[Fetcher]:
    fetcher = Fetcher(limits, policy=LOCAL)
    try:
        yield fetcher
    finally:
        await fetcher.aclose()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def chunked(body: bytes) -> bytes:
    pieces = [body[i:i + 7] for i in range(0, len(body), 7)]
    wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces)
    return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + wire
            + b"0\r\nX-Trailer: 1\r\n\r\n")


async def test_keep_alive_reuses_one_connection() -> None:
    async with raw_server(lambda head, n: ok(FEED)) as raw, local_fetcher() as fetcher:
        for _ in range(20):
            r = await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")
            assert r.outcome == "ok" and r.body == FEED
    assert raw.connections == 1 and len(raw.requests) == 20


async def test_chunked_body_with_extensions_and_trailer_then_reuse() -> None:
    body = FEED * 30
    async with raw_server(lambda head, n: chunked(body)) as raw, local_fetcher() as fetcher:
        for _ in range(3):
            r = await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")
            assert r.outcome == "ok" and r.body == body
    assert raw.connections == 1


async def test_gzip_content_encoding_decoded() -> None:
    async with (
        raw_server(lambda head, n: ok(gzip.compress(FEED), b"Content-Encoding: gzip\r\n")) as raw,
        local_fetcher() as fetcher,
    ):
        r = await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")
    assert r.outcome == "ok" and r.body == FEED


async def test_body_until_close_and_connection_close_are_not_reused() -> None:
    def answer(head: bytes, n: int) -> bytes:
        if n % 2:
            return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
        return b"HTTP/1.0 200 OK\r\n\r\n" + FEED  # no length: the body ends with the connection

    async with raw_server(answer, close_after=True) as raw, local_fetcher() as fetcher:
        bodies = [(await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")).body
                  for _ in range(4)]
    assert bodies == [b"ok", FEED, b"ok", FEED]
    assert raw.connections == 4


async def test_a_kept_connection_the_server_drops_is_retried_once_on_a_new_one() -> None:
    # Every second request is dropped unanswered: the transport sees it only when
    # it reuses a kept-alive connection, and then retries on a new connection.
    async with (
        raw_server(lambda head, n: ok(FEED) if n % 2 else None) as raw,
        local_fetcher() as fetcher,
    ):
        outcomes = [(await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")).outcome
                    for _ in range(3)]
    assert outcomes == ["ok"] * 3
    assert raw.connections == 3 and len(raw.requests) == 5


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async with (
        raw_server(lambda head, n: ok(FEED), close_after=True) as raw,
        local_fetcher() as fetcher,
    ):
        outcomes = []
        for _ in range(5):
            outcomes.append((await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")).outcome)
            await asyncio.sleep(0.05)
    assert outcomes == ["ok"] * 5
    assert raw.connections == 5 and len(raw.requests) == 5


async def test_server_that_never_answers_on_a_new_connection_is_an_error() -> None:
    async with raw_server(lambda head, n: None) as raw, local_fetcher() as fetcher:
        r = await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")
    assert r.outcome == "network_error" and "Server disconnected" in (r.error or "")


CHUNK16 = b"0123456789abcdef\r\n0\r\n\r\n"


@pytest.mark.parametrize("reply, needle", [
    (b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n", "more than 8190 bytes"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 150 + b"\r\n", "Too many headers"),
    (b"HTTP/1.1 2OO OK\r\n\r\n", "Bad status line"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "Bad status line"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
    # chunk sizes are bare hex digits: not Python's int(x, 16), which takes all three
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x10\r\n" + CHUNK16, "chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+10\r\n" + CHUNK16, "chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n" + CHUNK16, "chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
     "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", "Content-Length"),
    # header names are tokens (RFC 9110 5.1)
    (b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok", "header token"),
    (b"HTTP/1.1 200 OK\r\nX(y): x\r\nContent-Length: 2\r\n\r\nok", "header token"),
    (b"HTTP/1.1 200 OK\r\nX-A : x\r\nContent-Length: 2\r\n\r\nok", "header token"),
    (b"HTTP/1.1 200 OK\r\nX\xe9: x\r\nContent-Length: 2\r\n\r\nok", "header token"),
], ids=["long-head", "many-headers", "status-2OO", "not-http", "chunk-zz", "chunk-0x10",
        "chunk-+10", "chunk-1_0", "te-gzip", "two-lengths", "length-+2", "name-space",
        "name-paren", "name-space-before-colon", "name-8bit"])
async def test_malformed_answers_are_network_errors(reply: bytes, needle: str) -> None:
    async with raw_server(lambda head, n: reply) as raw, local_fetcher() as fetcher:
        r = await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")
    assert r.outcome == "network_error" and needle in (r.error or ""), r.error


HELLO_CHUNKED = b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n"


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked" + HELLO_CHUNKED,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3" + HELLO_CHUNKED,
], ids=["length-first", "chunked-first"])
async def test_transfer_encoding_with_content_length_is_an_error_and_not_reused(
        reply: bytes) -> None:
    # RFC 9112 6.3: such a message may be smuggling and ought to be handled as an
    # error; the connection it came on must not carry another request.
    async with raw_server(lambda head, n: reply) as raw, local_fetcher() as fetcher:
        results = [await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f") for _ in range(2)]
    assert [r.outcome for r in results] == ["network_error"] * 2
    assert all("can't be present with" in (r.error or "") for r in results)
    assert raw.connections == 2


async def test_informational_answer_skipped() -> None:
    async with (
        raw_server(lambda head, n: b"HTTP/1.1 100 Continue\r\n\r\n" + ok(FEED)) as raw,
        local_fetcher() as fetcher,
    ):
        r = await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")
    assert r.outcome == "ok" and r.body == FEED


async def test_an_echoed_etag_cannot_inject_a_header() -> None:
    async with raw_server(lambda head, n: ok(FEED)) as raw, local_fetcher() as fetcher:
        r = await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f",
                                headers={"If-None-Match": '"x"\r\nX-Evil: 1'})
    assert r.outcome == "network_error"
    assert not any(b"X-Evil" in req for req in raw.requests)


async def test_per_origin_connection_cap() -> None:
    async with (
        raw_server(lambda head, n: ok(FEED), hold=0.05) as raw,
        local_fetcher(FetchLimits(max_connections=3)) as fetcher,
    ):
        results = await asyncio.gather(*(fetcher.fetch(f"http://127.0.0.1:{raw.port}/{i}")
                                         for i in range(12)))
    assert all(r.outcome == "ok" for r in results)
    assert raw.most_active == 3 and raw.connections == 3


async def test_no_cookies_are_kept_or_sent() -> None:
    async with (
        raw_server(lambda head, n: ok(FEED, b"Set-Cookie: track=1; Path=/\r\n")) as raw,
        local_fetcher() as fetcher,
    ):
        for _ in range(2):
            assert (await fetcher.fetch(f"http://127.0.0.1:{raw.port}/f")).outcome == "ok"
    assert len(raw.requests) == 2
    assert not any(b"cookie:" in req.lower() for req in raw.requests)
    assert all(b"\r\nHost: 127.0.0.1:" in req for req in raw.requests)


@asynccontextmanager
async def tls_client(names: list[str]) -> AsyncIterator[tuple[Raw, httpx.AsyncClient]]:
    """An HTTPS server on 127.0.0.1 whose certificate (from a throwaway CA) is for
    ``names``, and a client over the transport that trusts that CA."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    raw = Raw(0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw.connections += 1
        try:
            while True:
                raw.requests.append(await reader.readuntil(b"\r\n\r\n"))
                writer.write(ok(FEED))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
    raw.port = server.sockets[0].getsockname()[1]
    transport = SafeTransport(LOCAL, ssl_context=client_ctx)
    async with server, httpx.AsyncClient(transport=transport) as client:
        yield raw, client


async def test_https_verifies_the_certificate_and_keeps_the_connection() -> None:
    async with tls_client(["127.0.0.1"]) as (raw, client):
        for _ in range(3):
            r = await client.get(f"https://127.0.0.1:{raw.port}/f")
            assert r.status_code == 200 and r.content == FEED
    assert raw.connections == 1 and len(raw.requests) == 3  # one TLS connection, kept alive


async def test_https_refuses_a_certificate_for_another_name() -> None:
    async with tls_client(["news.example"]) as (raw, client):
        with pytest.raises(httpx.ConnectError, match=r"certificate|match|hostname"):
            await client.get(f"https://127.0.0.1:{raw.port}/f")
    assert not raw.requests


async def test_a_name_is_resolved_once_and_only_checked_addresses_are_used() -> None:
    # "localhost" resolves to loopback: refused by the default policy before any
    # connection, allowed when the allow-list names 127.0.0.0/8.
    async with raw_server(lambda head, n: ok(FEED)) as raw:
        async with local_fetcher(SHORT) as allowed:
            r = await allowed.fetch(f"http://localhost:{raw.port}/f")
            assert r.outcome == "ok" and r.body == FEED
        default = Fetcher(SHORT)
        try:
            r = await default.fetch(f"http://localhost:{raw.port}/f")
        finally:
            await default.aclose()
        assert r.outcome == "refused" and "loopback" in (r.error or ""), r.error
    assert raw.connections == 1


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f.0.0.1", "[::127.0.0.1]",
                                  "[::ffff:7f00:1]", "[fe80::1%25lo]", "localhost"])
async def test_loopback_in_any_spelling_is_refused_before_connecting(host: str) -> None:
    async with raw_server(lambda head, n: ok(FEED)) as raw:
        fetcher = Fetcher(SHORT)
        try:
            r = await fetcher.fetch(f"http://{host}:{raw.port}/f")
        finally:
            await fetcher.aclose()
    assert r.outcome == "refused", (r.outcome, r.error)
    assert raw.connections == 0
