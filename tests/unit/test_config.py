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
     ":4: feeds[1].interval"),
    ("feeds:\n  - url: https://a.com\n    tags: world\n", "feeds[0].tags"),
    ("feeds: 3\n", ":1: feeds: expected a list of feeds"),
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


FEED = "feeds:\n  - url: https://a.com/rss\n"


@pytest.mark.parametrize(("text", "error"), [
    (FEED + "    intervall: 60\n",
     ":3: feeds[0].intervall: unknown key (did you mean 'interval'?)"),
    ("feed:\n  - https://a.com\n", ":1: feed: unknown key (did you mean 'feeds'?)"),
    (FEED + "    interval: 60\n    interval: 70\n",
     ":4: feeds[0].interval: key repeated in the same mapping"),
    ("feeds: []\nfeeds: [https://a.com]\n", ":2: feeds: key repeated in the same mapping"),
    (FEED + "    interval: .nan\n", ":3: feeds[0].interval: .nan is not a usable number"),
    (FEED + "    interval: -.inf\n", ":3: feeds[0].interval: -.inf is not a usable number"),
    (FEED + "    interval: true\n",
     ":3: feeds[0].interval: expected a number of seconds from 1 to 2592000, "
     "got true (a boolean)"),
    (FEED + "    interval: 1e300\n", ":3: feeds[0].interval: expected a number of seconds"),
    (FEED + "    interval: 0\n", ":3: feeds[0].interval: expected a number of seconds"),
    (FEED + "    interval: " + "9" * 5000 + "\n",
     ":3: feeds[0].interval: integer of 5000 digits is too large"),
    ("max_entries_per_feed: 1000000000000\n" + FEED,
     ":1: max_entries_per_feed: expected an integer from 1 to 10000, got 1000000000000"),
    ("per_feed_metrics: 1\n" + FEED, ":1: per_feed_metrics: expected true or false, got 1"),
    (FEED + "    full_text: 'yes'\n", ":3: feeds[0].full_text: expected true or false"),
    (FEED + "    tags: [1]\n", ":3: feeds[0].tags[0]: expected a string, got 1 (a number)"),
    (FEED + "    name: " + "n" * 300 + "\n", ":3: feeds[0].name: longer than 200 characters"),
    ("feeds: " + "[" * 5000 + "]" * 5000 + "\n", ":1: nested more than 16 levels deep"),
    ("a: &a [1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: [" + ", ".join(["*b"] * 200) + "]\n" + FEED, ":3: more than 100 aliases"),
    (FEED + "---\n" + FEED, ":3: more than one YAML document"),
    ("min_interval: 600\nmax_interval: 60\n" + FEED, ":1: min_interval: greater than"),
    ("allow_private_addresses: [10.0.0.0/33]\n" + FEED, ":1: allow_private_addresses[0]: "),
    ("- https://a.com\n", ":1: expected a mapping with a 'feeds' list, got a list"),
])
def test_nonsense_is_refused_in_one_line_naming_file_line_and_field(
        tmp_path: Path, text: str, error: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FeedConfigError) as err:
        load_feeds(path)
    message = str(err.value)
    assert message.startswith(str(path) + error), message
    assert "\n" not in message


def test_invalid_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yml"
    path.write_bytes(b"feeds:\n  - url: https://a.com/rss\n    name: caf\xe9\n")
    with pytest.raises(FeedConfigError, match=r"feeds\.yml:3: not valid UTF-8 \(byte 0xe9\)$"):
        load_feeds(path)


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yml"
    path.write_text(FEED + "#" * (5 * 1024 * 1024) + "\n")
    with pytest.raises(FeedConfigError, match=r"feeds\.yml: feed list file over 4194304 bytes"):
        load_feeds(path)


@pytest.mark.parametrize("text", [
    FEED + "    intervall: 60\n",
    FEED + "    interval: .nan\n",
    "feeds: " + "[" * 5000 + "]" * 5000 + "\n",
    FEED + "    interval: " + "9" * 5000 + "\n",
])
def test_the_cli_exits_2_with_one_line_and_no_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    from newsmon.cli import main

    path = write(tmp_path, text)
    assert main(["feeds", "--feeds", str(path), "export"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"newsmon: {path}:") and "\n" not in err and "Traceback" not in err
