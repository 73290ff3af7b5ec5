"""End-to-end benchmark on the real local broker: newsmon vs the obvious pipeline vs a
passthrough, latency at half the sustained rate, per-stage costs, memory over time.

    .venv/bin/python -m bench.pipeline [--articles 600] [--small 50000]

Prints one table (markdown). Full-text articles are built from the real texts in
``../shared/data/pages/article-extraction-benchmark/ground-truth.json``: paragraphs of
different pages are combined so every article is distinct, and 15 % of them are followed
by a syndicated copy (dateline, footer, ...) that the pipeline must mark as a duplicate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from newsmon.analysis.canonical import article_id, canonical_url
from newsmon.analysis.evalcorpus import load_items
from newsmon.analysis.neardup import syndicated_copies
from newsmon.kafka_local import ensure_kafka, free_port
from newsmon.records import RawArticle, dumps
from newsmon.settings import Settings
from newsmon.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
def build_articles(n: int, seed: int = 11) -> list[RawArticle]:
    """``n`` articles of six paragraphs from the article-extraction benchmark's texts,
    about one in seven followed by a syndicated copy. Paragraphs recur across articles
    (about one article in five shares enough of them with an earlier one to be taken
    for its copy), which the throughput figures include."""
    truth = json.loads((DATA / "pages/article-extraction-benchmark/ground-truth.json")
                       .read_text("utf-8"))
    paras = [p for v in truth.values() for p in v["articleBody"].split("\n") if len(p) > 200]
    rng = random.Random(seed)
    out: list[RawArticle] = []
    i = 0
    while len(out) < n:
        body = "\n\n".join(rng.sample(paras, 6))
        url = f"https://bench.example/{seed}/{i}"
        a = RawArticle(id=article_id(url), title=f"Bench story {i}: {body[:60]}", url=url,
                       content=body)
        out.append(a)
        if rng.random() < 0.15 and len(out) < n:
            kind, copy = rng.choice(list(syndicated_copies(body, rng)))
            curl = f"https://copy.example/{seed}/{i}/{kind.replace(' ', '-')}"
            out.append(RawArticle(id=article_id(curl), title=a.title, url=curl, content=copy))
        i += 1
    return out


def feed_items(seed: int) -> list[RawArticle]:
    """The labelled corpus's development items as feed entries, in a seeded order: a
    feed-like mix of headlines, headline + summary items and full articles about
    conflict (about one in four, most of which alert), cooperation and everyday news,
    every one a distinct story."""
    items = [it for it in load_items("dev", None) if it.kind != "sentence"]
    random.Random(seed).shuffle(items)
    out = []
    for i, it in enumerate(items):
        url = f"https://feed.example/{seed}/{i}"
        text = {"content": it.text} if it.kind == "article" else {"summary": it.text}
        out.append(RawArticle(id=article_id(url), title=it.title, url=url, **text))
    return out


def env_for(bootstrap: str, tmp: Path, **extra: str) -> dict[str, str]:
    uid = uuid.uuid4().hex[:8]
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=bootstrap, NEWSMON_APP_ID=f"bench-{uid}",
               NEWSMON_DATA_DIR=str(tmp / uid), NEWSMON_WORKER_METRICS_PORT=str(free_port()),
               PYTHONUNBUFFERED="1")
    for name in ("raw", "unique", "bands", "bandhits", "analyze", "stories", "countries",
                 "articles", "alerts", "trend_alerts", "sweeps", "deadletter"):
        env[f"NEWSMON_TOPIC_{name.upper()}"] = f"b{uid}.{name}"
    env.update(extra)
    return env


async def produce(bootstrap: str, topic: str, raws: list[RawArticle],
                  rate: float | None = None) -> dict[str, float]:
    """Send ``raws`` (at ``rate`` per second if given); return id -> append time (s)."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    await p.start()
    appended: dict[str, float] = {}
    try:
        t0 = time.monotonic()
        futs = []
        for i, r in enumerate(raws):
            if rate:
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            fut = await p.send(topic, dumps(r.to_dict()), key=r.id.encode())
            futs.append((r.id, fut))
        for rid, fut in futs:
            md = await fut
            appended[rid] = md.timestamp / 1000
    finally:
        await p.stop()
    return appended


async def consume_until(bootstrap: str, topic: str, n: int, timeout: float,
                        key: Callable[[dict[str, Any]], str] = lambda r: r["id"],
                        idle: float | None = None) -> dict[str, float]:
    """Read ``topic`` from the start until ``n`` distinct keys (or ``idle`` seconds without a
    new one, once some arrived); return key -> arrival time."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                         auto_offset_reset="earliest", enable_auto_commit=False)
    await c.start()
    seen: dict[str, float] = {}
    try:
        deadline = time.monotonic() + timeout
        parts: set[int] = set()
        while not parts and time.monotonic() < deadline:
            await c._client.force_metadata_update()
            parts = c.partitions_for_topic(topic) or set()
            await asyncio.sleep(0.2)
        c.assign([TopicPartition(topic, p) for p in parts])
        last_new = time.monotonic()
        while len(seen) < n and time.monotonic() < deadline:
            if idle and seen and time.monotonic() - last_new > idle:
                break
            batch = await c.getmany(timeout_ms=200)
            now = time.time()
            for msgs in batch.values():
                for m in msgs:
                    k = key(json.loads(m.value))
                    if k not in seen:
                        seen[k] = now
                        last_new = time.monotonic()
    finally:
        await c.stop()
    return seen


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM; return the peak RSS in MB (VmHWM) of the process and its descendants (the
    analysis processes), read just before."""
    hwm = 0
    with contextlib.suppress(OSError):
        for pid in [proc.pid, *_descendants(proc.pid)]:
            with contextlib.suppress(OSError, StopIteration):
                status = Path(f"/proc/{pid}/status").read_text()
                hwm += next(int(x.split()[1]) // 1024 for x in status.splitlines()
                            if x.startswith("VmHWM:"))
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return hwm


def throughput(bootstrap: str, tmp: Path, raws: list[RawArticle], cmd: list[str],
               out_topic_env: str = "NEWSMON_TOPIC_ARTICLES") -> tuple[float, int]:
    """Pre-load the raw topic, start the process, time first to last output record."""
    env = env_for(bootstrap, tmp)
    asyncio.run(ensure_topics(Settings.from_env(env)))
    asyncio.run(produce(bootstrap, env["NEWSMON_TOPIC_RAW"], raws))
    proc = start(cmd, env, tmp / f"{env['NEWSMON_APP_ID']}.log")
    try:
        arrivals = asyncio.run(consume_until(bootstrap, env[out_topic_env], len(raws), 1800))
    finally:
        rss = stop(proc)
    times = sorted(arrivals.values())
    if len(times) < 2:
        return 0.0, rss
    return (len(times) - 1) / (times[-1] - times[0]), rss


def passthrough(bootstrap: str, tmp: Path, raws: list[RawArticle]) -> float:
    env = env_for(bootstrap, tmp)
    asyncio.run(ensure_topics(Settings.from_env(env)))
    asyncio.run(produce(bootstrap, env["NEWSMON_TOPIC_RAW"], raws))

    async def run() -> float:
        c = AIOKafkaConsumer(env["NEWSMON_TOPIC_RAW"], bootstrap_servers=bootstrap,
                             group_id=f"pt-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest")
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        await c.start()
        await p.start()
        n, t0, t1 = 0, 0.0, 0.0
        try:
            while n < len(raws):
                batch = await c.getmany(timeout_ms=500)
                for msgs in batch.values():
                    for m in msgs:
                        if not n:
                            t0 = time.perf_counter()
                        await p.send(env["NEWSMON_TOPIC_ARTICLES"], m.value, key=m.key)
                        n += 1
            await p.flush()
            t1 = time.perf_counter()
        finally:
            await c.stop()
            await p.stop()
        return (n - 1) / (t1 - t0)

    return asyncio.run(run())


HOPS = ("raw", "unique", "bands", "bandhits", "analyze", "articles", "alerts")


async def hop_times(bootstrap: str, env: dict[str, str], ids: set[str],
                    settle: float = 3.0) -> dict[str, dict[str, float]]:
    """Article id -> hop -> append time (s) of its first record on each topic it crossed
    (the record timestamps the producers set), read back after a run."""
    names = {env[f"NEWSMON_TOPIC_{h.upper()}"]: h for h in HOPS}
    c = AIOKafkaConsumer(*names, bootstrap_servers=bootstrap, group_id=None,
                         auto_offset_reset="earliest", enable_auto_commit=False)
    await c.start()
    out: dict[str, dict[str, float]] = {}
    try:
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle:
            batch = await c.getmany(timeout_ms=500)
            if batch:
                quiet_since = time.monotonic()
            for tp, msgs in batch.items():
                hop = names[tp.topic]
                for m in msgs:
                    with contextlib.suppress(ValueError):
                        value = json.loads(m.value)
                        aid = value.get("article_id") or value.get("id") \
                            if isinstance(value, dict) else None
                        if aid in ids:
                            out.setdefault(aid, {}).setdefault(hop, m.timestamp / 1000)
    finally:
        await c.stop()
    return out


def hop_rows(times: dict[str, dict[str, float]]) -> list[tuple[str, str]]:
    """p50/p99 of each hop's delay (ms), for the articles seen on both of its topics."""
    rows = []
    for a, b in itertools.pairwise(HOPS):
        d = [(t[b] - t[a]) * 1000 for t in times.values() if a in t and b in t]
        if len(d) >= 10:
            q = statistics.quantiles(d, n=100)
            rows.append((f"{a} -> {b}", f"p50 {q[49]:.0f} ms, p99 {q[98]:.0f} ms ({len(d)})"))
    return rows


def latency(bootstrap: str, tmp: Path, rate: float, n: int,
            hops: list[tuple[str, str]] | None = None) -> tuple[float, float, float, int]:
    """Raw append -> alert p50/p95/p99 (ms) at ``rate``; with ``hops``, also fill it with
    the delay of each hop on the way (which stage the time goes to)."""
    env = env_for(bootstrap, tmp)
    asyncio.run(ensure_topics(Settings.from_env(env)))
    proc = start([sys.executable, "-m", "newsmon.cli", "worker"], env, tmp / "lat.log")
    try:
        pool = feed_items(seed=5)
        warm, raws = pool[:40], pool[40:40 + n]
        asyncio.run(produce(bootstrap, env["NEWSMON_TOPIC_RAW"], warm))
        asyncio.run(consume_until(bootstrap, env["NEWSMON_TOPIC_ALERTS"], len(warm), 300,
                                  key=lambda r: r["article_id"], idle=30))

        async def both() -> tuple[dict[str, float], dict[str, float]]:
            consumer = asyncio.create_task(consume_until(
                bootstrap, env["NEWSMON_TOPIC_ALERTS"], len(warm) + len(raws), 600,
                key=lambda r: r["article_id"], idle=30))
            appended = await produce(bootstrap, env["NEWSMON_TOPIC_RAW"], raws, rate)
            return appended, await consumer

        appended, arrived = asyncio.run(both())
        if hops is not None:
            hops.extend(hop_rows(asyncio.run(hop_times(bootstrap, env, set(appended)))))
    finally:
        stop(proc)
    lat = sorted(arrived[k] - appended[k] for k in appended if k in arrived)
    if not lat:
        return 0.0, 0.0, 0.0, 0
    q = statistics.quantiles(lat, n=100)
    return q[49] * 1000, q[94] * 1000, q[98] * 1000, len(lat)


def stage_costs(raws: list[RawArticle]) -> list[tuple[str, float]]:
    from connectors.parse import parse_feed
    from newsmon.analysis.entities import EntityExtractor
    from newsmon.analysis.neardup import LSHIndex
    from newsmon.analysis.pipeline import article_text, near_dup_text
    from newsmon.analysis.tension import load_lexicon, score_tension

    def per(fn: Callable[[], object], n: int) -> float:
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) / n * 1000

    feed = (DATA / "feeds/real/rss-parser/guardian.rss").read_bytes()
    n_entries = len(parse_feed(feed, "https://x/", "t").entries)
    lex = load_lexicon()
    ext = EntityExtractor()
    texts = [article_text(r) for r in raws]
    ext.extract_many([t.full() for t in texts[:5]])
    idx = LSHIndex()
    rows = [
        ("canonical URL + id", per(lambda: [article_id(canonical_url(r.url or "")) for r in raws],
                                   len(raws))),
        ("feed parse (per entry, Guardian RSS)",
         per(lambda: [parse_feed(feed, "https://x/", "t") for _ in range(5)], 5 * n_entries)),
        ("MinHash + LSH lookup", per(lambda: [idx.add(r.id, near_dup_text(r)) for r in raws],
                                     len(raws))),
        ("entities", per(lambda: ext.extract_many([t.full() for t in texts]), len(raws))),
        ("tension", per(lambda: [score_tension(lex, t.fields()) for t in texts], len(raws))),
        ("serialisation (orjson, raw record)",
         per(lambda: [dumps(r.to_dict()) for r in raws], len(raws))),
    ]
    return rows


def rss_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(x.split()[1]) // 1024 for x in status.splitlines()
                if x.startswith("VmRSS:"))


def _descendants(pid: int) -> list[int]:
    children: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").iterdir():
            kids = [int(k) for k in (task / "children").read_text().split()]
            children.extend(kids)
            todo.extend(kids)
    return children


def tree_rss_mb(pid: int) -> tuple[int, int]:
    """RSS of a process and, separately, of all its descendants (the analysis
    processes, where spaCy lives), in MB."""
    total = 0
    for c in _descendants(pid):
        with contextlib.suppress(OSError, StopIteration):
            total += rss_mb(c)
    return rss_mb(pid), total


def small_articles(seed: int = 5) -> Iterator[RawArticle]:
    """Endless titles-and-summaries articles from the benchmark's real sentences: a title
    cut from one sentence and a summary from another of a different page, so the words
    vary as news does (names, numbers, typos the extractor has not seen) and a pair of
    articles rarely shares more than one sentence; 5 % repeat an earlier article's
    sentences under a new URL (a near-duplicate, so the LSH state keeps stories too)."""
    truth = json.loads((DATA / "pages/article-extraction-benchmark/ground-truth.json")
                       .read_text("utf-8"))
    sentences = [s.strip() for v in truth.values()
                 for s in v["articleBody"].replace("\n", " ").split(". ") if len(s) > 40]
    rng = random.Random(seed)
    recent: list[tuple[str, str]] = []
    for i in itertools.count():
        if recent and rng.random() < 0.05:
            title, summary = rng.choice(recent)
        else:
            title = " ".join(rng.choice(sentences).split()[:rng.randint(6, 14)])
            summary = f"{rng.choice(sentences)}. Update {i}."
            recent = [*recent[-999:], (title, summary)]
        yield RawArticle(id=article_id(f"https://small.example/{seed}/{i}"), title=title,
                         summary=summary)


def memory_over_time(bootstrap: str, tmp: Path, n: int, samples: int = 10) -> list[int]:
    """Worker RSS (main + analysis processes) after each ``n / samples`` small articles,
    with the dedup window cut to 60 s so state expires throughout. One producer and one
    consumer for the whole run: each step waits until the step's articles are all on the
    articles topic, counting as they arrive (re-reading the topic per step would cost the
    benchmark more than the worker at a million)."""
    env = env_for(bootstrap, tmp, NEWSMON_DEDUP_WINDOW_HOURS=str(60 / 3600),
                  NEWSMON_SWEEP_SECONDS="5", NEWSMON_NER_LEAD_CHARS="300")
    asyncio.run(ensure_topics(Settings.from_env(env)))
    proc = start([sys.executable, "-m", "newsmon.cli", "worker"], env, tmp / "mem.log")
    step = n // samples

    async def run() -> list[int]:
        rss: list[int] = []
        source = small_articles()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
        consumer = AIOKafkaConsumer(
            env["NEWSMON_TOPIC_ARTICLES"], bootstrap_servers=bootstrap, group_id=None,
            auto_offset_reset="earliest", enable_auto_commit=False)
        await producer.start()
        await consumer.start()
        seen: set[bytes] = set()
        try:
            t0 = time.monotonic()
            for s in range(samples):
                t_step = time.monotonic()
                for r in itertools.islice(source, step):
                    await producer.send(env["NEWSMON_TOPIC_RAW"], dumps(r.to_dict()),
                                        key=r.id.encode())
                await producer.flush()
                deadline = time.monotonic() + 3600
                while len(seen) < (s + 1) * step and time.monotonic() < deadline:
                    for msgs in (await consumer.getmany(timeout_ms=500)).values():
                        seen.update(m.key for m in msgs if m.key is not None)
                main_mb, children_mb = tree_rss_mb(proc.pid)
                rss.append(main_mb + children_mb)
                now = time.monotonic()
                print(f"  memory: {len(seen)} small articles, worker RSS {rss[-1]} MB "
                      f"(main process {main_mb}, analysis processes {children_mb}); "
                      f"{step / (now - t_step):.0f}/s this step, {now - t0:.0f} s in",
                      file=sys.stderr, flush=True)
        finally:
            await producer.stop()
            await consumer.stop()
        return rss

    try:
        return asyncio.run(run())
    finally:
        stop(proc)


def main() -> None:
    # SIGTERM unwinds like Ctrl-C, so the worker and the local broker this run started
    # are stopped (they run in sessions of their own and would outlive a plain kill).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=600)
    ap.add_argument("--small", type=int, default=50_000,
                    help="small articles for the memory-over-time run (0 skips it)")
    ap.add_argument("--samples", type=int, default=10,
                    help="RSS samples over the memory run (one per small/samples articles)")
    ap.add_argument("--sections", default="throughput,latency,stages,memory",
                    help="comma-separated: throughput, latency, stages, memory")
    ap.add_argument("--rate", type=float, help="latency run rate (default: half the sustained)")
    # Enough alerts for a stable p99: 1,000 items gave 183 alerts (docs/performance.md).
    ap.add_argument("--latency-articles", type=int, default=1500,
                    help="labelled dev items replayed for the latency run (1 in 6 alert)")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    raws = build_articles(args.articles)
    rows: list[tuple[str, str]] = []
    with ensure_kafka() as bootstrap, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def note(name: str, value: str) -> None:
            rows.append((name, value))
            print(f"  {name}: {value}", file=sys.stderr, flush=True)

        # The model's speed depends on the spaCy build: the 3.8.8-3.8.18 wheels run
        # the NER at half the speed of 3.8.7's (docs/performance.md).
        import spacy
        import thinc

        note("spaCy, thinc", f"{spacy.__version__}, {thinc.__version__}")
        ours = args.rate * 2 if args.rate else 0.0
        if "throughput" in sections:
            # The passthrough first: it also warms the freshly started broker up, which
            # otherwise slows whichever run comes first (by ~10-20 %).
            ceiling = passthrough(bootstrap, tmp, raws)
            note("passthrough ceiling (aiokafka consume->produce)", f"{ceiling:.0f} records/s")
            # The passthrough does not warm what a Faust worker uses (group coordination,
            # changelogs, dozens of partitions): the first worker run on a fresh broker is
            # the slowest, with 2-3x the broker CPU of later ones. So one worker run on
            # other articles goes first.
            warm, _ = throughput(bootstrap, tmp, build_articles(300, seed=3),
                                 [sys.executable, "-m", "newsmon.cli", "worker"])
            note("warm-up worker run, 300 other articles (not counted)", f"{warm:.1f} articles/s")
            ours, rss = throughput(bootstrap, tmp, raws,
                                   [sys.executable, "-m", "newsmon.cli", "worker"])
            note(f"newsmon end to end, {len(raws)} full-text articles", f"{ours:.1f} articles/s")
            note("newsmon worker peak RSS (main + analysis processes)", f"{rss} MB")
            obvious, _ = throughput(bootstrap, tmp, raws, [sys.executable, "-m", "bench.obvious"])
            note("obvious pipeline (spaCy full + regex loop)", f"{obvious:.1f} articles/s")
            note("newsmon / obvious", f"{ours / obvious:.2f}x" if obvious else "-")
            note("newsmon / passthrough", f"{ours / ceiling:.3f}")
            off, _ = throughput(bootstrap, tmp, [RawArticle(id=r.id, title=r.title, url=r.url)
                                                  for r in raws],
                                [sys.executable, "-m", "newsmon.cli", "worker"])
            note("newsmon, titles only (analysis nearly off)", f"{off:.1f} articles/s")
            note("framework overhead: titles-only / passthrough", f"{off / ceiling:.3f}")
        if "latency" in sections:
            rate = max(1.0, ours / 2)
            hops: list[tuple[str, str]] = []
            p50, p95, p99, n = latency(bootstrap, tmp, rate, args.latency_articles, hops)
            note(f"raw append -> alert latency at {rate:.0f}/s ({n} alerts)",
                 f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms")
            for name, value in hops:
                note(f"  hop {name} at {rate:.0f}/s (articles)", value)
        if "stages" in sections:
            for name, ms in stage_costs(raws[:150]):
                note(f"stage: {name}", f"{ms:.3f} ms/article")
        if "memory" in sections and args.small:
            rss_series = memory_over_time(bootstrap, tmp, args.small, args.samples)
            note(f"worker RSS over {args.small} small articles ({args.samples} samples)",
                 " ".join(f"{x}" for x in rss_series) + " MB")
    print("| measure | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
