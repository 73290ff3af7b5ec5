"""Where feed state lives between restarts: one JSON file per connector shard.

Decision: a local file (written atomically, every few seconds and on stop)
rather than a compacted Kafka topic. It is simpler to inspect and repair, it
costs nothing on the broker, and the state is only a politeness and
efficiency cache: losing it means one round of unconditional GETs, and the
streams' exact-dedup table still drops any entry republished because of it.
Several connector replicas split the feed list with ``--shard I/N`` (by a hash
of the configured URL), each with its own state file, so no two replicas
poll the same feed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from connectors.config import FeedSpec
from connectors.schedule import FeedState

log = logging.getLogger(__name__)


def in_shard(url: str, shard: int, shards: int) -> bool:
    digest = hashlib.sha256(url.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards == shard


def shard_feeds(feeds: Iterable[FeedSpec], shard: int, shards: int) -> list[FeedSpec]:
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return [f for f in feeds if in_shard(f.url, shard, shards)]


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, FeedState]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("feed state %s unreadable (%s); starting fresh", self.path, exc)
            return {}
        out = {}
        for item in data.get("feeds", []) if isinstance(data, dict) else []:
            try:
                st = FeedState.from_dict(item)
            except TypeError:
                continue
            out[st.url] = st
        return out

    def save(self, states: Iterable[FeedState]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"version": 1, "feeds": [s.to_dict() for s in states]},
                             separators=(",", ":"))
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
