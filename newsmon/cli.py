"""``newsmon`` command line. It only parses arguments and configures; the work is elsewhere.

    newsmon run [--sample] [--feeds FILE]   local Kafka (unless configured) + connector + worker
    newsmon connector [--feeds FILE] [--once] [--shard I/N]
    newsmon feeds import FILE.opml | export | check [URL|--all]
    newsmon worker
    newsmon analyze [FILE]                  offline: JSON Lines in, enriched JSON Lines out
    newsmon rules check RULES.yml | test RULES.yml ARTICLES.jsonl
    newsmon eval [--data DIR] [--only ...]   quality and speed figures of the analysis
    newsmon kafka                           just the local broker, until Ctrl-C
    newsmon notify --config FILE            deliver alerts to webhooks, chat, e-mail, push
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from newsmon.settings import Settings, SettingsError

log = logging.getLogger("newsmon")


def _setup_logging(level: str) -> None:
    from newsmon import metrics

    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        stream=sys.stderr)
    metrics.count_kafka_client_warnings()


#: The longest input line ``newsmon analyze`` reads (bytes); a longer one gets an error
#: line in its place and the input goes on after its newline.
MAX_LINE_BYTES = 4 * 1024 * 1024


def _read_jsonl(stream: IO[bytes]) -> Iterator[dict[str, Any] | Exception]:
    """One item per input line, blank and undecodable lines included, so that output
    line N always answers input line N."""
    from newsmon.records import loads

    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while True:  # skip the rest of the over-long line
                rest = stream.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
            yield ValueError(f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if not line.strip():
            yield ValueError("empty line")
            continue
        try:
            yield loads(line)
        except ValueError as exc:  # orjson also refuses invalid UTF-8 here
            yield ValueError(f"invalid JSON: {exc}")


def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.analysis.pipeline import Analyzer, analyze_records
    from newsmon.records import dumps

    analyzer = Analyzer.configured(settings.lexicon_file, settings.ner_lead_chars)
    try:
        stream: IO[bytes] = open(args.file, "rb") if args.file else sys.stdin.buffer  # noqa: SIM115
    except OSError as exc:
        print(f"newsmon analyze: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    errors = 0
    try:
        for out in analyze_records(analyzer, _read_jsonl(stream)):
            errors += "error" in out
            sys.stdout.buffer.write(dumps(out) + b"\n")
            sys.stdout.flush()
    finally:
        if args.file:
            stream.close()
    return 1 if errors else 0


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _shard(value: str | None) -> tuple[int, int]:
    if not value:
        return 0, 1
    try:
        i, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard expects I/N, got {value!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard {value}: I must be in 0..N-1")
    return i, n


def cmd_connector(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from connectors.config import load_feed_list
    from connectors.runner import FeedConnector
    from connectors.state import shard_feeds
    from newsmon import metrics
    from newsmon.compat import check_all
    from newsmon.kafka_local import ensure_kafka
    from newsmon.topics import ensure_topics

    check_all()  # a missing library internal stops the connector here, with its version
    shard, shards = _shard(args.shard)
    feed_list = load_feed_list(settings.feeds_file)
    feed_list = replace(feed_list, feeds=shard_feeds(feed_list.feeds, shard, shards))
    suffix = f"-{shard}-of-{shards}" if shards > 1 else ""
    state_path = settings.data_dir / f"connector-state{suffix}.json"
    if settings.connector_metrics_port:
        metrics.serve(settings.metrics_host, settings.connector_metrics_port)

    async def main(bootstrap: str) -> None:
        s = settings.with_(bootstrap_servers=bootstrap)
        await ensure_topics(s)
        stop = asyncio.Event()
        _install_stop(stop)
        await FeedConnector(s, feed_list, state_path=state_path).run(stop, once=args.once)

    log.info("connector: %d feeds (shard %d/%d), state in %s", len(feed_list.feeds), shard,
             shards, state_path)
    with ensure_kafka(settings.bootstrap_servers) as bootstrap:
        asyncio.run(main(bootstrap))
    return 0


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.config import FeedList, FeedSpec, load_feed_list
    from connectors.opml import merge_into_yaml, parse_opml, to_opml

    path = settings.feeds_file
    if args.feeds_command == "export":
        sys.stdout.buffer.write(to_opml(load_feed_list(path).feeds))
        return 0
    if args.feeds_command == "import":
        new = parse_opml(Path(args.opml).read_bytes(), args.opml)
        existing = load_feed_list(path) if path.exists() else FeedList([])
        text, added = merge_into_yaml(existing, new)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        load_feed_list(path)  # what we wrote must load
        print(f"imported {added} new feeds ({len(new) - added} already listed) into {path}")
        return 0
    # check
    from connectors.fetch import Fetcher
    from connectors.runner import check_feed
    from connectors.safety import AddressPolicy
    from newsmon.records import dumps

    feed_list = load_feed_list(path) if path.exists() else FeedList([])
    if args.url:
        specs = [FeedSpec(url=args.url)]
    elif args.all:
        specs = feed_list.feeds
    else:
        print("newsmon feeds check: give a URL or --all", file=sys.stderr)
        return 2

    async def run() -> list[dict[str, Any]]:
        from tqdm import tqdm

        fetcher = Fetcher(policy=AddressPolicy.from_strings(feed_list.allow_private_addresses))
        # A progress bar on a terminal (stderr) only: tqdm's disable=None turns it off
        # when stderr is not a TTY, so piped and --json output stay clean.
        with tqdm(total=len(specs), desc="checking feeds", unit="feed", disable=None,
                  leave=False) as bar:
            async def one(spec: FeedSpec) -> dict[str, Any]:
                report = await check_feed(fetcher, spec)
                bar.update()
                return report

            try:
                return list(await asyncio.gather(*(one(s) for s in specs)))
            finally:
                await fetcher.aclose()

    reports = asyncio.run(run())
    for r in reports:
        if args.json:
            sys.stdout.buffer.write(dumps(r) + b"\n")
        else:
            print(f"{r['outcome']:<14} {r.get('status') or '-':>3} {r.get('items', '-'):>5} items "
                  f"{r.get('format', '-'):<8} {r.get('encoding', '-'):<12} {r['seconds']:>7.3f}s "
                  f"{r['url']}" + (f"  ({r['error']})" if r.get("error") else ""))
    return 0 if all(r["outcome"] in ("ok", "not_modified") for r in reports) else 1


def cmd_notify(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon import metrics
    from newsmon.notify.config import NotifyConfigError, load_config
    from newsmon.notify.consumer import Notifier

    try:
        config = load_config(args.config)
    except NotifyConfigError as exc:
        print(f"newsmon notify: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.config}: {len(config.sinks)} sinks, {len(config.routes)} routes")
        return 0
    if not settings.bootstrap_servers:
        print("newsmon notify: set KAFKA_BOOTSTRAP_SERVERS (or --bootstrap-servers)",
              file=sys.stderr)
        return 2
    if settings.notify_metrics_port:
        metrics.serve(settings.metrics_host, settings.notify_metrics_port)
    if args.log_level.lower() != "debug":  # quiet: the client's group chatter only on debug
        logging.getLogger("aiokafka").setLevel(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        _install_stop(stop)
        await Notifier(settings, config).run(stop)

    from aiokafka.errors import KafkaConnectionError

    try:
        asyncio.run(main())
    except KafkaConnectionError as exc:
        print(f"newsmon notify: cannot reach Kafka at {settings.bootstrap_servers} ({exc}); "
              "check KAFKA_BOOTSTRAP_SERVERS and that the brokers are up", file=sys.stderr)
        return 1
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from faust.worker import Worker

    from newsmon.compat import check_all
    from newsmon.topics import ensure_topics
    from streams.app import create_app

    check_all()  # before anything else: a missing library internal stops the worker here

    if not settings.bootstrap_servers:
        print("newsmon worker: set KAFKA_BOOTSTRAP_SERVERS (or use 'newsmon run')",
              file=sys.stderr)
        return 2
    band_partitions = asyncio.run(ensure_topics(settings))
    settings = settings.with_(band_partitions=band_partitions)
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = create_app(settings)
    worker = Worker(app, loglevel=args.log_level.upper(), quiet=True,
                    redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def cmd_kafka(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.kafka_local import LocalKafka

    data_dir = Path(args.data_dir) if args.data_dir else None
    with LocalKafka(data_dir=data_dir, port=args.port) as kafka:
        print(f"KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap_servers}", flush=True)
        stop = asyncio.Event()

        async def wait() -> None:
            _install_stop(stop)
            await stop.wait()

        asyncio.run(wait())
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.evaluation import iter_rows, render

    data = Path(args.data)
    if not (data / "ner").is_dir():
        print(f"newsmon eval: {data} has no reference data (give --data)", file=sys.stderr)
        return 2
    sections = [s.strip() for s in args.only.split(",")] if args.only else \
        ["entities", "neardup", "tension"]
    from tqdm import tqdm

    rows = []
    # Progress on a terminal only (tqdm's disable=None: off when stderr is not a TTY).
    with tqdm(total=len(sections), desc="eval", unit="section", disable=None,
              leave=False) as bar:
        for section in sections:
            bar.set_postfix_str(section)
            for row in iter_rows(data, [section]):
                rows.append(row)
                log.info("%s: %s", row[0], row[1])
            bar.update()
    print(render(rows))
    return 0


def cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    """``newsmon rules test RULES.yml ARTICLES.jsonl``: which alerts would fire, and why."""
    import time

    from newsmon.analysis.pipeline import Analyzer, analyze_records
    from newsmon.records import dumps
    from newsmon.rules import RulesError, load_rules
    from newsmon.stages import alerting
    from newsmon.supervisor import format_alert

    try:
        rules = load_rules(Path(args.rules))
    except RulesError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.rules_command == "check":
        print(f"{args.rules}: {len(rules)} rules OK")
        return 0
    with open(args.articles, "rb") as f:
        objs = list(_read_jsonl(f))
    enriched = [o for o in objs if isinstance(o, dict) and "tension" in o]
    raw = [o for o in objs if not (isinstance(o, dict) and "tension" in o)]
    if raw:
        analyzer = Analyzer.configured(settings.lexicon_file, settings.ner_lead_chars)
        enriched += [a for a in analyze_records(analyzer, raw) if "error" not in a]
    story_members: dict[str, Any] = {}
    cooldowns: dict[str, Any] = {}
    fired = 0
    for article in enriched:
        outcome = alerting.alert(rules, article, story_members, cooldowns, time.time())
        cooldowns.update(outcome.cooldowns)
        for rule, alert in outcome.alerts:
            fired += 1
            if args.json:
                sys.stdout.buffer.write(dumps(alert) + b"\n")
            else:
                print(f"{rule.name} v{rule.version} [{rule.severity}] {alert['kind']}: "
                      f"{format_alert(alert)}\n    because " + "; ".join(alert["reasons"]))
    print(f"{fired} alerts from {len(enriched)} articles and {len(rules)} rules",
          file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """``newsmon replay --since 6h [--rules R] [--lexicon L]``: the alerts a rules or lexicon
    change would have added, removed or changed over a past period."""
    from newsmon import replay
    from newsmon.records import dumps
    from newsmon.rules import RulesError, default_rules, load_rules

    try:
        since = replay.parse_when(args.since)
        until = replay.parse_when(args.until) if args.until else time.time()
        rules_file = Path(args.rules) if args.rules else settings.rules_file
        rules = (load_rules(rules_file) if rules_file
                 else default_rules(settings.alert_threshold))
    except (replay.ReplayError, RulesError) as exc:
        print(f"newsmon replay: {exc}", file=sys.stderr)
        return 2
    if until <= since:
        print("newsmon replay: --until must be after --since", file=sys.stderr)
        return 2
    if not settings.bootstrap_servers:
        print("newsmon replay: give the Kafka to read (--bootstrap-servers or "
              "KAFKA_BOOTSTRAP_SERVERS)", file=sys.stderr)
        return 2
    warmup = args.warmup * 3600 if args.warmup is not None else None
    try:
        result = asyncio.run(replay.run(settings, rules, since, until, warmup,
                                        Path(args.lexicon) if args.lexicon else None,
                                        args.reanalyze))
    except replay.ReplayError as exc:
        print(f"newsmon replay: {exc}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.buffer.write(dumps(result.to_dict()) + b"\n")
    else:
        print(replay.render(result))
    return 1 if args.fail_on_diff and result.changes else 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.supervisor import run_all


    return asyncio.run(run_all(settings, sample=args.sample, log_level=args.log_level,
                               verbose=args.verbose))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsmon", description="Streaming news monitor")
    p.add_argument("--log-level", default=os.environ.get("NEWSMON_LOG_LEVEL", "info"))
    p.add_argument("--bootstrap-servers", help="Kafka bootstrap (env KAFKA_BOOTSTRAP_SERVERS); "
                   "when unset, run/connector start a local broker")
    p.add_argument("--threshold", type=int, help="alert threshold, 0-100 (default 60)")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="offline: JSON Lines articles -> enriched JSON Lines")
    a.add_argument("file", nargs="?", help="input file (default: stdin)")
    a.set_defaults(func=cmd_analyze)

    c = sub.add_parser("connector", help="poll feeds and publish raw articles")
    c.add_argument("--feeds", type=Path, help="feed list YAML (default deploy/feeds.yml)")
    c.add_argument("--once", action="store_true", help="poll every feed once, then exit")
    c.add_argument("--metrics-port", type=int, help="0 disables /metrics")
    c.add_argument("--shard", help="I/N: poll only this replica's share of the feeds")
    c.set_defaults(func=cmd_connector)

    f = sub.add_parser("feeds", help="manage the feed list: import, export, check")
    f.add_argument("--feeds", type=Path, help="feed list YAML (default deploy/feeds.yml)")
    fsub = f.add_subparsers(dest="feeds_command", required=True)
    fi = fsub.add_parser("import", help="add the feeds of an OPML file to the feed list")
    fi.add_argument("opml")
    fsub.add_parser("export", help="print the feed list as OPML 2.0")
    fc = fsub.add_parser("check", help="fetch once and report, publishing nothing")
    fc.add_argument("url", nargs="?")
    fc.add_argument("--all", action="store_true", help="check every feed in the list")
    fc.add_argument("--json", action="store_true", help="one JSON object per feed")
    f.set_defaults(func=cmd_feeds)

    w = sub.add_parser("worker", help="run the Faust stream worker")
    w.add_argument("--metrics-port", type=int, help="port of /metrics (Faust web)")
    w.set_defaults(func=cmd_worker)

    r = sub.add_parser("run", help="local Kafka + connector + worker; prints alerts")
    r.add_argument("--feeds", type=Path, help="feed list YAML (default deploy/feeds.yml)")
    r.add_argument("--sample", action="store_true",
                   help="poll the bundled offline sample feed instead of the internet")
    r.add_argument("--verbose", action="store_true",
                   help="show the connector's, worker's and broker's logs on the console "
                        "(default: in <data dir>/logs/newsmon.log)")
    r.set_defaults(func=cmd_run)

    ru = sub.add_parser("rules", help="check watchlist rules or test them offline")
    rsub = ru.add_subparsers(dest="rules_command", required=True)
    rc = rsub.add_parser("check", help="validate a rules file")
    rc.add_argument("rules")
    rt = rsub.add_parser("test", help="which alerts would fire on these articles, and why")
    rt.add_argument("rules")
    rt.add_argument("articles", help="JSON Lines: raw articles (analysed first) or enriched ones")
    rt.add_argument("--json", action="store_true", help="print the alert records")
    ru.set_defaults(func=cmd_rules)

    rp = sub.add_parser("replay", help="what a rules or lexicon change would have done to "
                        "the alerts of a past period (reads Kafka, writes nothing)")
    rp.add_argument("--since", required=True,
                    help="start: ISO 8601 time (UTC if no offset) or a span ago: 90m, 6h, 7d")
    rp.add_argument("--until", help="end, the same way (default: now)")
    rp.add_argument("--rules", help="candidate rules file (default: NEWSMON_RULES_FILE, "
                    "else the default rule at --threshold)")
    rp.add_argument("--lexicon", help="candidate tension lexicon: re-analyses news.raw")
    rp.add_argument("--reanalyze", action="store_true",
                    help="re-analyse news.raw even with the current lexicon")
    rp.add_argument("--warmup", type=float, metavar="HOURS",
                    help="articles this long before --since only warm the state up "
                         "(default: the longest cooldown of the rules)")
    rp.add_argument("--json", action="store_true", help="one JSON object for scripts")
    rp.add_argument("--fail-on-diff", action="store_true",
                    help="exit 1 when anything was added, removed or changed")
    rp.set_defaults(func=cmd_replay)

    e = sub.add_parser("eval", help="print the analysis quality and speed figures")
    e.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent
                                         / "shared" / "data"),
                   help="the shared reference data folder (default ../shared/data)")
    e.add_argument("--only", help="comma-separated sections: entities, neardup, tension")
    e.set_defaults(func=cmd_eval)

    n = sub.add_parser("notify", help="deliver alerts to webhooks, Slack, Teams, e-mail, ntfy")
    n.add_argument("--config", type=Path, required=True,
                   help="sinks and routes YAML (example: deploy/notify.yml)")
    n.add_argument("--metrics-port", type=int, help="0 disables /metrics")
    n.add_argument("--check", action="store_true",
                   help="validate the file (and read its secrets), then exit")
    n.set_defaults(func=cmd_notify)

    k = sub.add_parser("kafka", help="run only the local single-node Kafka until Ctrl-C")
    k.add_argument("--port", type=int)
    k.add_argument("--data-dir", help="keep the broker's data here between runs")
    k.set_defaults(func=cmd_kafka)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level)
    try:
        settings = Settings.from_env().with_(
            bootstrap_servers=args.bootstrap_servers,
            alert_threshold=args.threshold,
            feeds_file=getattr(args, "feeds", None),
        )
        if getattr(args, "metrics_port", None) is not None:
            key = {"worker": "worker_metrics_port", "notify": "notify_metrics_port"}.get(
                args.command, "connector_metrics_port")
            settings = settings.with_(**{key: args.metrics_port})
    except SettingsError as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return 2
    if args.command in ("worker", "connector"):
        from newsmon.supervisor import follow_parent

        follow_parent()  # started by `newsmon run`: stop when it is gone
    try:
        return int(args.func(args, settings))
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        from connectors.config import FeedConfigError
        from newsmon.compat import CompatError
        from newsmon.kafka_local import KafkaStartError

        if isinstance(exc, FeedConfigError | KafkaStartError | FileNotFoundError | CompatError):
            print(f"newsmon: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
