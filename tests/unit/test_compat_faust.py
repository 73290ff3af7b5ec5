"""The faust-streaming fence: its check passes on the installed library and fails loudly,
naming the installed version, when a private name it relies on is gone."""

from importlib import metadata

import faust
import pytest
from faust.sensors.prometheus import PrometheusMonitor
from faust.transport import consumer as base
from faust.transport.drivers import aiokafka as driver

from newsmon.compat import CompatError, check_all
from newsmon.compat import faust as fence

VERSION = metadata.version("faust-streaming")


def test_check_passes_on_the_installed_library() -> None:
    fence.check()
    check_all()


@pytest.mark.parametrize(("cls", "name"), [
    (faust.App, "_new_consumer"),
    (faust.App, "_new_producer"),
    (base.Consumer, "_is_changelog_tp"),
    (base.Consumer, "_add_gap"),
    (driver.AIOKafkaConsumerThread, "_create_consumer"),
    (driver.Producer, "_producer"),
    (PrometheusMonitor, "_stream_label"),
    (PrometheusMonitor, "_clear_partition_related_metrics"),
])
def test_check_fails_when_a_private_name_is_removed(monkeypatch: pytest.MonkeyPatch,
                                                    cls: type, name: str) -> None:
    monkeypatch.delattr(cls, name)
    with pytest.raises(CompatError) as err:
        fence.check()
    assert f"faust-streaming {VERSION}" in str(err.value) and name in str(err.value)
    assert err.value.version == VERSION
    with pytest.raises(CompatError):
        check_all()


@pytest.mark.parametrize(("cls", "name"), [
    (base.Consumer, "_committed_offset"),
    (base.ThreadDelegateConsumer, "_thread"),
    (PrometheusMonitor, "_metrics"),
])
def test_check_fails_when_an_instance_attribute_is_no_longer_set(
        monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> None:
    def __init__(self: object, *args: object, **kwargs: object) -> None:
        pass
    monkeypatch.setattr(cls, "__init__", __init__)
    with pytest.raises(CompatError, match=f"faust-streaming {VERSION}.*self.{name}"):
        fence.check()


def test_check_fails_when_a_signature_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    async def _add_gap(self: object, tp: object, start: int, stop: int) -> None:
        pass
    monkeypatch.setattr(base.Consumer, "_add_gap", _add_gap)
    with pytest.raises(CompatError, match="offset_from"):
        fence.check()
