import logging
import re
from pathlib import Path

import pytest

from connectors.config import FeedConfigError, load_feeds


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "feeds.yml"
    p.write_text(text)
    return p


def test_load_feeds(tmp_path: Path) -> None:
    feeds = load_feeds(write(tmp_path, "feeds:\n  - url: https://a.com/rss\n    name: A\n"
                                       "    tags: [world]\n    interval: 600\n"
                                       "  - https://b.com/atom\n"))
    assert [f.url for f in feeds] == ["https://a.com/rss", "https://b.com/atom"]
    assert feeds[0].tags == ("world",) and feeds[0].interval == 600


@pytest.mark.parametrize("text, where", [
    ("feeds:\n  - url: ftp://a.com/x\n", ":2: feeds[0].url"),
    ("feeds:\n  - url: https://a.com\n  - url: https://b.com\n    interval: -1\n",
     ":3: feeds[1].interval"),
    ("feeds:\n  - url: https://a.com\n    tags: world\n", "feeds[0].tags"),
    ("feeds: 3\n", "'feeds' list"),
    ("feeds: [\n", "not valid YAML"),
])
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FeedConfigError) as err:
        load_feeds(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_default_feed_list_is_valid() -> None:
    assert len(load_feeds(Path(__file__).parents[2] / "deploy/feeds.yml")) >= 5


def test_analysis_processes_default_to_usable_cpus() -> None:
    import os

    from newsmon.settings import Settings

    assert Settings.from_env({}).analysis_processes == len(os.sched_getaffinity(0))
    assert Settings.from_env({"NEWSMON_ANALYSIS_PROCESSES": "0"}).analysis_processes == 0


def test_analysis_processes_run_niced_and_log() -> None:
    """The pool's initializer lowers the analysis process's priority, not the worker's."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from newsmon.settings import Settings
    from streams import analysis_pool

    assert Settings.from_env({}).analysis_nice == 0
    assert Settings.from_env({"NEWSMON_ANALYSIS_NICE": "10"}).analysis_nice == 10
    here = os.nice(0)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=analysis_pool.init,
                             initargs=(None, None, 5, logging.INFO)) as ex:
        assert ex.submit(os.nice, 0).result(timeout=120) == min(here + 5, 19)
        # and logs (the model's reloads) at the worker's level, not Python's bare default
        assert ex.submit(logging.root.getEffectiveLevel).result(timeout=120) == logging.INFO
        assert ex.submit(analysis_pool.ready).result(timeout=120)
    assert os.nice(0) == here


@pytest.mark.parametrize("env, says", [
    ({"NEWSMON_ANALYSIS_NICE": "-5"}, "NEWSMON_ANALYSIS_NICE: analysis_nice must be 0-19"),
    ({"NEWSMON_PARTITIONS": "0"}, "NEWSMON_PARTITIONS: partitions must be at least 1"),
    ({"NEWSMON_PARTITIONS": "four"}, "NEWSMON_PARTITIONS='four' is not an integer"),
    ({"NEWSMON_DEDUP_WINDOW_HOURS": "1h"}, "NEWSMON_DEDUP_WINDOW_HOURS='1h' is not a number"),
    ({"NEWSMON_ALERT_THRESHOLD": "101"},
     "NEWSMON_ALERT_THRESHOLD: alert_threshold must be 0-100, not 101"),
    ({"NEWSMON_NER_LEAD_CHARS": "-1"},
     "NEWSMON_NER_LEAD_CHARS: ner_lead_chars must be 0 (the whole text) or more"),
])
def test_bad_settings_name_the_variable(env: dict[str, str], says: str) -> None:
    from newsmon.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="^" + re.escape(says)):
        Settings.from_env(env)


def test_bad_settings_from_the_command_line_too(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from newsmon.cli import main
    from newsmon.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="alert_threshold must be 0-100, not 150"):
        Settings().with_(alert_threshold=150)
    assert main(["--threshold", "150", "eval"]) == 2
    assert "newsmon: alert_threshold must be 0-100, not 150" in capsys.readouterr().err
    monkeypatch.setenv("NEWSMON_ANALYSIS_NICE", "-1")
    assert main(["worker"]) == 2
    assert "NEWSMON_ANALYSIS_NICE: analysis_nice must be 0-19, not -1" in capsys.readouterr().err
