"""Connector benchmark: a local farm of N feeds, about two thirds answering 304.

    .venv/bin/python -m bench.feedfarm [--feeds 10000] [--hosts 50] [--declined 0.5]

A separate process serves the feeds with aiohttp on 127.0.0.1..127.0.0.H (one
"host" per loopback address, so the per-host cap behaves as on the web). The
connector (with the real local Kafka unless KAFKA_BOOTSTRAP_SERVERS is set)
polls every feed once to learn validators, then polls them all again, timed.
Prints feed checks per second, CPU seconds and peak RSS of the connector.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import signal
import sys
import time
from pathlib import Path

FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>farm %d</title>%s'
        b"</channel></rss>")
ITEM = (b"<item><title>Story %d-%d</title><link>https://farm.example/%d/%d</link>"
        b"<pubDate>Mon, 02 Nov 2026 09:%02d:00 GMT</pubDate><description>Summary of story"
        b" %d.</description></item>")
# The same item with a <source> element, which sends the feed to feedparser itself
# (connectors/rss20.py declines it): the cost of feeds the fast reader does not take.
DECLINED_ITEM = ITEM.replace(b"</item>", b'<source url="https://farm.example/src">Wire</source>'
                                         b"</item>")


def serve(hosts: int, port: int, ready: multiprocessing.synchronize.Event,
          declined: float = 0.0) -> None:
    from aiohttp import web

    counter = {"n": 0}

    async def handler(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        changing = i % 3 == 0  # one feed in three has something new every time
        if changing:
            counter["n"] += 1
            gen = counter["n"]
        else:
            gen = 0
        etag = f'"{i}-{gen}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        shape = DECLINED_ITEM if (i // 3) % 100 < declined * 100 else ITEM
        items = b"".join(shape % (i, gen * 10 + k, i, gen * 10 + k, k, k) for k in range(10))
        return web.Response(body=FEED % (i, items), content_type="application/rss+xml",
                            headers={"ETag": etag})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for h in range(1, hosts + 1):
            await web.TCPSite(runner, f"127.0.0.{h}", port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def children_cpu(exclude: int | None = None) -> float:
    """CPU seconds of this process's live children but ``exclude`` (the farm's server):
    the connector's parse workers, from /proc (``time.process_time`` counts the
    connector's own process only)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and int(stat.parent.name) != exclude:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


async def bench(feeds: int, hosts: int, port: int, bootstrap: str, tmp: Path,
                server_pid: int | None = None) -> dict[str, float]:
    from connectors.config import FeedList, FeedSpec
    from connectors.fetch import Fetcher, FetchLimits
    from connectors.runner import FeedConnector
    from connectors.safety import AddressPolicy
    from newsmon.settings import Settings, Topics
    from newsmon.topics import ensure_topics

    settings = Settings(bootstrap_servers=bootstrap, data_dir=tmp,
                        topics=Topics(raw=f"bench-farm-{os.getpid()}.raw"))
    await ensure_topics(settings)
    specs = [FeedSpec(f"http://127.0.0.{i % hosts + 1}:{port}/feed/{i}") for i in range(feeds)]
    fetcher = Fetcher(FetchLimits(),
                      policy=AddressPolicy.from_strings(["127.0.0.0/8"]))
    c = FeedConnector(settings, FeedList(specs), fetcher=fetcher, state_path=tmp / "state.json",
                      concurrency=128, per_host=4)
    await c.start()
    try:
        print(f"feed farm: {feeds} feeds on {hosts} loopback hosts; first poll (learns the "
              "validators)...", file=sys.stderr, flush=True)
        await c.poll_once()
        print("feed farm: timed poll...", file=sys.stderr, flush=True)
        cpu0 = time.process_time() + children_cpu(server_pid)
        t0 = time.perf_counter()
        stats = await c.poll_once()
        wall = time.perf_counter() - t0
        cpu = time.process_time() + children_cpu(server_pid) - cpu0
    finally:
        await c.stop()
    return {"feeds": feeds, "checks_per_s": feeds / wall, "wall_s": wall, "cpu_s": cpu,
            "checks_per_cpu_s": feeds / cpu, "published": stats.published,
            "failed": stats.failed}


def main() -> None:
    # SIGTERM unwinds like Ctrl-C, so the local broker this run started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--declined", type=float, default=0.0,
                    help="share of the changing feeds shaped so that the fast RSS reader "
                         "declines them (feedparser parses them)")
    args = ap.parse_args()
    import tempfile

    from newsmon.kafka_local import ensure_kafka, free_port

    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.hosts, port, ready, args.declined),
                                     daemon=True)
    server.start()
    ready.wait(30)
    try:
        with ensure_kafka() as bootstrap, tempfile.TemporaryDirectory() as tmp:
            r = asyncio.run(bench(args.feeds, args.hosts, port, bootstrap, Path(tmp), server.pid))
    finally:
        server.terminate()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("| feeds | 304 share | declined by the fast reader | checks/s (wall) | CPU s |"
          " checks per CPU s | peak RSS MB | published | failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {r['feeds']:.0f} | 2/3 | {args.declined:.0%} of the rest | "
          f"{r['checks_per_s']:.0f} | {r['cpu_s']:.2f} | "
          f"{r['checks_per_cpu_s']:.0f} | {rss_mb:.0f} | {r['published']:.0f} | "
          f"{r['failed']:.0f} |")


if __name__ == "__main__":
    main()
