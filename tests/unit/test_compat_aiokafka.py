"""The aiokafka fence: its check passes on the installed library and fails loudly, naming
the installed version, when a private name it relies on is gone or changed."""

from importlib import metadata

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.consumer.fetcher import Fetcher

from newsmon.compat import CompatError
from newsmon.compat import aiokafka as fence

VERSION = metadata.version("aiokafka")


def test_check_passes_on_the_installed_library() -> None:
    fence.check()


def test_check_fails_when_a_private_method_is_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(AIOKafkaClient, "add_topic")
    with pytest.raises(CompatError, match=f"aiokafka {VERSION}: .*add_topic") as err:
        fence.check()
    assert err.value.version == VERSION


@pytest.mark.parametrize(("cls", "method", "name"), [
    (AIOKafkaConsumer, "start", "_fetcher"),
    (Fetcher, "__init__", "_prefetch_backoff"),
    (AIOKafkaProducer, "__init__", "client"),
])
def test_check_fails_when_an_attribute_is_no_longer_set(monkeypatch: pytest.MonkeyPatch,
                                                        cls: type, method: str,
                                                        name: str) -> None:
    def replaced(self: object, *args: object, prefetch_backoff: float = 0.1,
                 **kwargs: object) -> None:
        pass
    monkeypatch.setattr(cls, method, replaced)
    with pytest.raises(CompatError, match=f"aiokafka {VERSION}: .*self.{name}"):
        fence.check()


def test_check_fails_when_the_backoff_default_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Fetcher.__init__

    def __init__(self: Fetcher, *args: object, prefetch_backoff: float = 0.5,
                 **kwargs: object) -> None:
        self._prefetch_backoff = prefetch_backoff
        original(self, *args, **kwargs)
    monkeypatch.setattr(Fetcher, "__init__", __init__)
    with pytest.raises(CompatError, match=r"prefetch_backoff=...\) defaults to 0.5"):
        fence.check()
