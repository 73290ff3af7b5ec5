"""A real HTTP server on 127.0.0.1 that misbehaves on purpose (aiohttp, in the test's loop)."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

GOOD_FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>
<item><title>Troops mass on the border</title><link>https://news.example.com/a</link>
<pubDate>Mon, 02 Nov 2026 09:00:00 GMT</pubDate></item>
<item><title>Talks resume</title><link>https://news.example.com/b</link>
<pubDate>Mon, 02 Nov 2026 08:00:00 GMT</pubDate></item></channel></rss>"""


def _gzip_zeros(prefix: bytes, zeros: int) -> bytes:
    """One gzip member of ``prefix`` then ``zeros`` zero bytes, built without holding them
    (run-length matches only: as small as deflate gets for zeros, and quick to make)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9, zlib.Z_RLE)
    block = b"\0" * (1 << 20)
    parts = [comp.compress(prefix)] + [comp.compress(block) for _ in range(zeros >> 20)]
    return b"".join(parts) + comp.flush()


def gzip_bomb(inflated: int, layers: int = 1) -> bytes:
    """``inflated`` zero bytes, gzipped ``layers`` times, built without holding them all."""
    data = _gzip_zeros(b"", inflated)
    for _ in range(layers - 1):
        data = gzip.compress(data, 9)
    return data


def zero_run_bomb(zeros: int = 1 << 30) -> bytes:
    """For ``Content-Encoding: gzip, gzip``: the inner stream is a tiny gzip member (the
    good feed) followed by ``zeros`` zero bytes, the outer gzip squeezes that run
    (1 GiB) into about 1 MiB on the wire."""
    return _gzip_zeros(gzip.compress(GOOD_FEED), zeros)


#: Three gzip members, as ``gzip a b c`` or ``cat a.gz b.gz c.gz`` make, and zero padding.
MEMBERS = [GOOD_FEED[:100], GOOD_FEED[100:250], GOOD_FEED[250:]]
MULTI_MEMBER = b"".join(gzip.compress(m) for m in MEMBERS) + b"\0" * 512
#: Forty members of 1 MiB of zeros each: 40 MiB in all, in about 40 KiB.
MANY_MEMBERS = gzip.compress(b"\0" * (1 << 20), 9) * 40


def many_items(n: int) -> bytes:
    items = b"".join(b"<item><title>i%d</title><link>https://m.example.com/%d</link></item>"
                     % (i, i) for i in range(n))
    return b'<?xml version="1.0"?><rss version="2.0"><channel><title>Many</title>' + items + \
        b"</channel></rss>"


@dataclass
class Server:
    base: str
    port: int
    hits: dict[str, int] = field(default_factory=dict)
    headers: dict[str, list[dict[str, str]]] = field(default_factory=dict)


@asynccontextmanager
async def misbehaving_server(bomb: bytes = b"", stacked_bomb: bytes = b"",
                             many: bytes = b"", zero_run: bytes = b"") -> AsyncIterator[Server]:
    srv = Server("", 0)

    def hit(request: web.Request) -> int:
        path = request.path
        srv.hits[path] = srv.hits.get(path, 0) + 1
        srv.headers.setdefault(path, []).append(dict(request.headers))
        return srv.hits[path]

    async def handler(request: web.Request) -> web.StreamResponse:
        n = hit(request)
        p = request.path
        if p == "/good":
            return web.Response(body=GOOD_FEED, content_type="application/rss+xml")
        if p == "/cond":
            if request.headers.get("If-None-Match") == '"v1"':
                return web.Response(status=304, headers={"ETag": '"v1"'})
            return web.Response(body=GOOD_FEED, content_type="application/rss+xml",
                                headers={"ETag": '"v1"',
                                         "Last-Modified": "Mon, 02 Nov 2026 09:00:00 GMT",
                                         "Cache-Control": "max-age=1200"})
        if p == "/429":
            return web.Response(status=429, headers={"Retry-After": "120"})
        if p == "/503-date":
            return web.Response(status=503,
                                headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
        if p == "/flaky":
            if n == 1:
                return web.Response(status=500, text="boom")
            return web.Response(body=GOOD_FEED, content_type="application/rss+xml")
        if p == "/gone":
            return web.Response(status=410)
        if p == "/loop":
            raise web.HTTPFound("/loop2")
        if p == "/loop2":
            raise web.HTTPFound("/loop")
        if p.startswith("/chain/"):
            k = int(p.rsplit("/", 1)[1])
            if k == 0:
                return web.Response(body=GOOD_FEED, content_type="application/rss+xml")
            raise web.HTTPFound(f"/chain/{k - 1}")
        if p == "/moved":
            raise web.HTTPPermanentRedirect("/good")
        if p == "/moved-temp":
            raise web.HTTPTemporaryRedirect("/good")
        if p.startswith("/to/"):
            raise web.HTTPFound(request.query["u"])
        if p == "/ftp":
            raise web.HTTPFound("ftp://example.com/feed")
        if p == "/slow":
            resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await resp.prepare(request)
            try:
                for ch in GOOD_FEED:
                    await resp.write(bytes([ch]))
                    await asyncio.sleep(0.5)
            except ConnectionError:  # the client gave up, as it should
                pass
            return resp
        if p == "/bomb":
            return web.Response(body=bomb, headers={"Content-Encoding": "gzip",
                                                    "Content-Type": "application/rss+xml"})
        if p == "/stacked":
            return web.Response(body=stacked_bomb, headers={
                "Content-Encoding": "gzip, gzip, gzip", "Content-Type": "application/rss+xml"})
        if p == "/gzip-gzip-zeros":
            return web.Response(body=zero_run, headers={
                "Content-Encoding": "gzip, gzip", "Content-Type": "application/rss+xml"})
        if p == "/members":
            return web.Response(body=MULTI_MEMBER, headers={
                "Content-Encoding": "gzip", "Content-Type": "application/rss+xml"})
        if p == "/many-members":
            return web.Response(body=MANY_MEMBERS, headers={
                "Content-Encoding": "gzip", "Content-Type": "application/rss+xml"})
        if p == "/huge":
            resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await resp.prepare(request)
            chunk = b"<!-- " + b"x" * (1 << 20) + b" -->"
            try:
                for _ in range(50):
                    await resp.write(chunk)
            except ConnectionError:
                pass
            return resp
        if p == "/many":
            return web.Response(body=many, content_type="application/rss+xml")
        if p == "/slowparse":
            return web.Response(body=slow_to_parse(), content_type="application/rss+xml")
        if p == "/late":  # answers after the other feeds of a poll have arrived
            await asyncio.sleep(0.5)
            return web.Response(body=GOOD_FEED, content_type="application/rss+xml")
        return web.Response(status=404)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    srv.base, srv.port = f"http://127.0.0.1:{port}", port
    try:
        yield srv
    finally:
        await runner.cleanup()


def slow_to_parse(items: int = 12, chars: int = 50_000) -> bytes:
    """RSS whose items each carry ``chars`` characters of unterminated comment openers
    in content:encoded: seconds of HTML sanitising per item even within the field caps."""
    content = "&lt;!--" * (chars // 4)
    item = (f"<item><title>s</title><link>https://slow.example.com/x</link>"
            f"<content:encoded>{content}</content:encoded></item>").encode()
    return (b'<?xml version="1.0"?><rss version="2.0" '
            b'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Slow'
            b"</title>" + item * items + b"</channel></rss>")
