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


def test_analysis_processes_run_niced() -> None:
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
                             initializer=analysis_pool.init, initargs=(None, None, 5)) as ex:
        assert ex.submit(os.nice, 0).result(timeout=120) == min(here + 5, 19)
        assert ex.submit(analysis_pool.ready).result(timeout=120)
    assert os.nice(0) == here
