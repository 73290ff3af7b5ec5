"""The notify configuration file: sinks and routes, validated with one line per mistake.

Secrets never live in the file: a sink names an environment variable
(``secret_env``, ``password_env``) or a file (``secret_file``, ``password_file``)
that holds them, and :func:`load_config` reads them when it loads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SINK_TYPES = ("webhook", "slack", "teams", "email", "ntfy")
SEVERITIES = ("info", "warning", "critical")
LEVELS = ("low", "elevated", "high", "severe")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
MAX_TIMEOUT = 120.0  # seconds per attempt (see newsmon.notify.consumer.MAX_POLL_INTERVAL_MS)

_COMMON = {"type", "timeout_seconds", "retries", "backoff_seconds", "backoff_max_seconds",
           "rate_limit", "ca_file"}
_KEYS: dict[str, set[str]] = {
    "webhook": _COMMON | {"url", "secret_env", "secret_file"},
    "slack": _COMMON | {"url_env", "url_file", "url"},
    "teams": _COMMON | {"url_env", "url_file", "url"},
    "ntfy": _COMMON | {"url", "token_env", "token_file"},
    "email": _COMMON | {"host", "port", "tls", "username", "password_env", "password_file",
                        "sender", "recipients"},
}
_ROUTE_KEYS = {"name", "sinks", "rules", "severities", "levels", "countries", "digest_minutes"}
_TOP_KEYS = {"topics", "dedup_window_days", "sinks", "routes"}


class NotifyConfigError(ValueError):
    """A configuration mistake: one line naming the file, line and field."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    messages: int
    per_seconds: float


@dataclass(frozen=True, slots=True)
class SinkConfig:
    name: str
    type: str
    url: str = ""
    timeout_seconds: float = 10.0
    retries: int = 5
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    rate_limit: RateLimit | None = None
    ca_file: str | None = None  # CA bundle for TLS verification; default: the system's
    # The signing key (webhook) or bearer token (ntfy); the whole URL for slack and teams,
    # whose incoming-webhook URLs are themselves the secret. Never logged nor repr'd.
    secret: str = field(default="", repr=False)
    host: str = "127.0.0.1"
    port: int = 25
    tls: str = "starttls"  # none | starttls | tls
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    sinks: tuple[str, ...]
    rules: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    digest_minutes: float = 0.0


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    sinks: dict[str, SinkConfig]
    routes: tuple[Route, ...]
    topics: tuple[str, ...] = ()
    dedup_window_days: float = 7.0


class _LineMap(dict[str, Any]):
    """A YAML mapping that remembers the line of each key."""

    lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineMap:
    out = _LineMap()
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if str(key) in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {str(key)!r}", key_node.start_mark)
        out[str(key)] = loader.construct_object(value_node, deep=True)
        out.lines[str(key)] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Checker:
    def __init__(self, path: str, env: dict[str, str] | os._Environ[str]) -> None:
        self.path, self.env = path, env

    def fail(self, node: Any, key: str | None, where: str, message: str) -> NotifyConfigError:
        line = getattr(node, "lines", {}).get(key, None) if key else None
        loc = f"{self.path}:{line}" if line else self.path
        return NotifyConfigError(f"{loc}: {where.lstrip('.')}: {message}")

    def number(self, node: Any, key: str, where: str, default: float, minimum: float = 0,
               integer: bool = False) -> Any:
        value = node.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum
        if integer:
            ok = ok and isinstance(value, int)
        if not ok:
            kind = "an integer" if integer else "a number"
            raise self.fail(node, key, f"{where}.{key}", f"expected {kind} >= {minimum}")
        return value

    def string(self, node: Any, key: str, where: str, default: str | None = None) -> str:
        value = node.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(node, key, f"{where}.{key}", "expected a non-empty string")
        return value

    def strings(self, node: Any, key: str, where: str) -> tuple[str, ...]:
        value = node.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(node, key, f"{where}.{key}", "expected a list of non-empty strings")
        return tuple(value)

    def secret(self, node: Any, where: str, env_key: str, file_key: str,
               required: bool) -> str:
        """Read a secret from the variable or file the config names; never from the YAML."""
        if env_key in node and file_key in node:
            raise self.fail(node, file_key, f"{where}.{file_key}",
                            f"give {env_key} or {file_key}, not both")
        if env_key in node:
            var = self.string(node, env_key, where)
            value = self.env.get(var, "")
            if not value:
                raise self.fail(node, env_key, f"{where}.{env_key}",
                                f"environment variable {var} is not set or empty")
            return value
        if file_key in node:
            path = self.string(node, file_key, where)
            try:
                value = Path(path).read_text("utf-8").strip()
            except OSError as exc:
                raise self.fail(node, file_key, f"{where}.{file_key}",
                                f"cannot read {path}: {exc.strerror}") from None
            if not value:
                raise self.fail(node, file_key, f"{where}.{file_key}", f"{path} is empty")
            return value
        if required:
            raise self.fail(node, None, where, f"needs {env_key} or {file_key}")
        return ""

    def url(self, node: Any, key: str, where: str, value: str | None = None) -> str:
        url = value if value is not None else self.string(node, key, where)
        if not re.match(r"^https?://[^\s/]+", url):
            raise self.fail(node, key, f"{where}.{key}", "expected an http:// or https:// URL")
        return url


def _sink(c: _Checker, name: str, node: Any) -> SinkConfig:
    where = f"sinks.{name}"
    if not _NAME.match(name):
        raise c.fail(node, None, where, "sink names are lower-case letters, digits, '.', '_', '-'")
    if not isinstance(node, dict):
        raise c.fail(node, None, where, "expected a mapping")
    kind = node.get("type")
    if kind not in SINK_TYPES:
        raise c.fail(node, "type", f"{where}.type", f"expected one of {', '.join(SINK_TYPES)}")
    for key in node:
        if key not in _KEYS[kind]:
            raise c.fail(node, key, f"{where}.{key}", f"unknown field for a sink of type {kind}")
    kw: dict[str, Any] = {
        "name": name, "type": kind,
        "timeout_seconds": float(c.number(node, "timeout_seconds", where, 10.0, 0.001)),
    }
    if kw["timeout_seconds"] > MAX_TIMEOUT:
        raise c.fail(node, "timeout_seconds", f"{where}.timeout_seconds",
                     f"expected at most {MAX_TIMEOUT:g} seconds")
    kw |= {
        "retries": c.number(node, "retries", where, 5, 0, integer=True),
        "backoff_seconds": float(c.number(node, "backoff_seconds", where, 1.0, 0)),
        "backoff_max_seconds": float(c.number(node, "backoff_max_seconds", where, 300.0, 0)),
    }
    if "ca_file" in node:
        ca = c.string(node, "ca_file", where)
        if not Path(ca).is_file():
            raise c.fail(node, "ca_file", f"{where}.ca_file", f"{ca} is not a readable file")
        kw["ca_file"] = ca
    if "rate_limit" in node:
        rl = node["rate_limit"]
        if not isinstance(rl, dict) or set(rl) - {"messages", "per_seconds"}:
            raise c.fail(node, "rate_limit", f"{where}.rate_limit",
                         "expected {messages: N, per_seconds: S}")
        kw["rate_limit"] = RateLimit(
            c.number(rl, "messages", f"{where}.rate_limit", None, 1, integer=True),  # type: ignore[arg-type]
            float(c.number(rl, "per_seconds", f"{where}.rate_limit", None, 0.001)))  # type: ignore[arg-type]
    if kind == "webhook":
        kw["url"] = c.url(node, "url", where)
        kw["secret"] = c.secret(node, where, "secret_env", "secret_file", required=True)
    elif kind in ("slack", "teams"):
        if "url" in node:
            raise c.fail(node, "url", f"{where}.url",
                         "an incoming-webhook URL is a secret: use url_env or url_file")
        secret_url = c.secret(node, where, "url_env", "url_file", required=True)
        kw["secret"] = c.url(node, "url_env" if "url_env" in node else "url_file", where,
                             secret_url)
    elif kind == "ntfy":
        kw["url"] = c.url(node, "url", where)
        kw["secret"] = c.secret(node, where, "token_env", "token_file", required=False)
    else:
        kw["host"] = c.string(node, "host", where)
        kw["port"] = c.number(node, "port", where, 25, 1, integer=True)
        tls = node.get("tls", "starttls")
        if tls not in ("none", "starttls", "tls"):
            raise c.fail(node, "tls", f"{where}.tls", "expected none, starttls or tls")
        kw["tls"] = tls
        if "username" in node:
            kw["username"] = c.string(node, "username", where)
            kw["password"] = c.secret(node, where, "password_env", "password_file",
                                      required=True)
        elif "password_env" in node or "password_file" in node:
            raise c.fail(node, None, where, "a password needs a username")
        kw["sender"] = c.string(node, "sender", where)
        kw["recipients"] = c.strings(node, "recipients", where)
        if not kw["recipients"]:
            raise c.fail(node, "recipients", f"{where}.recipients", "expected at least one")
    return SinkConfig(**kw)


def _route(c: _Checker, i: int, node: Any, sinks: dict[str, SinkConfig]) -> Route:
    where = f"routes[{i}]"
    if not isinstance(node, dict):
        raise c.fail(node, None, where, "expected a mapping")
    for key in node:
        if key not in _ROUTE_KEYS:
            raise c.fail(node, key, f"{where}.{key}", "unknown field")
    name = c.string(node, "name", where, f"route-{i}")
    targets = c.strings(node, "sinks", where)
    if not targets:
        raise c.fail(node, "sinks", f"{where}.sinks", "expected at least one sink")
    for s in targets:
        if s not in sinks:
            raise c.fail(node, "sinks", f"{where}.sinks", f"no sink named {s!r}")
    for key, allowed in (("severities", SEVERITIES), ("levels", LEVELS)):
        for v in c.strings(node, key, where):
            if v not in allowed:
                raise c.fail(node, key, f"{where}.{key}", f"expected any of {', '.join(allowed)}")
    return Route(
        name=name, sinks=targets, rules=frozenset(c.strings(node, "rules", where)),
        severities=frozenset(c.strings(node, "severities", where)),
        levels=frozenset(c.strings(node, "levels", where)),
        countries=frozenset(x.upper() for x in c.strings(node, "countries", where)),
        digest_minutes=float(c.number(node, "digest_minutes", where, 0.0, 0)))


def parse_config(data: Any, path: str,
                 env: dict[str, str] | os._Environ[str] | None = None) -> NotifyConfig:
    c = _Checker(path, os.environ if env is None else env)
    if not isinstance(data, dict):
        raise NotifyConfigError(f"{path}: expected a mapping with 'sinks' and 'routes'")
    for key in data:
        if key not in _TOP_KEYS:
            raise c.fail(data, key, key, "unknown field")
    raw_sinks = data.get("sinks")
    if not isinstance(raw_sinks, dict) or not raw_sinks:
        raise c.fail(data, "sinks", "sinks", "expected a mapping of sink names to sinks")
    sinks = {str(n): _sink(c, str(n), s) for n, s in raw_sinks.items()}
    raw_routes = data.get("routes")
    if not isinstance(raw_routes, list) or not raw_routes:
        raise c.fail(data, "routes", "routes", "expected a list of routes")
    routes = tuple(_route(c, i, r, sinks) for i, r in enumerate(raw_routes))
    if len({r.name for r in routes}) != len(routes):
        raise c.fail(data, "routes", "routes", "route names must be unique")
    topics = c.strings(data, "topics", "")
    for t in topics:
        if not _TOPIC.match(t):
            raise c.fail(data, "topics", "topics", f"{t!r} is not a Kafka topic name")
    return NotifyConfig(sinks=sinks, routes=routes, topics=topics,
                        dedup_window_days=float(c.number(data, "dedup_window_days", "", 7.0,
                                                         0.001)))


def load_config(path: Path, env: dict[str, str] | None = None) -> NotifyConfig:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise NotifyConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise NotifyConfigError(f"{path}{line}: not valid YAML: {problem}") from None
    return parse_config(data, str(path), env)
