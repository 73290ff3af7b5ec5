"""The docs against the code: the configuration tables list every variable newsmon
reads and nothing else, and no file carries a development diary."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

from newsmon.settings import Settings, Topics

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs" / "configuration.md"
SOURCES = ("newsmon", "connectors", "streams")

# Settings fields whose variable is not NEWSMON_<FIELD>.
VARIABLE_OF = {"bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS", "lexicon_file": "NEWSMON_LEXICON"}
NOT_ONE_VARIABLE = {"topics", "kafka_security"}  # checked field by field below

_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|([^|]*)\|([^|]*)\|\s*$")


def documented() -> dict[str, tuple[str, str, str]]:
    """variable -> (type, default, meaning), from every table row that starts with one."""
    rows: dict[str, tuple[str, str, str]] = {}
    for line in CONFIG.read_text("utf-8").splitlines():
        m = _ROW.match(line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} is listed twice"
            rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip(), m.group(4).strip())
    return rows


def settings_variables() -> dict[str, str]:
    """variable -> Settings field (or topics.<name>, kafka_security) it sets."""
    out: dict[str, str] = {}
    for f in dataclasses.fields(Settings):
        if f.name not in NOT_ONE_VARIABLE:
            out[VARIABLE_OF.get(f.name, f"NEWSMON_{f.name.upper()}")] = f.name
    for f in dataclasses.fields(Topics):
        out[f"NEWSMON_TOPIC_{f.name.upper()}"] = f"topics.{f.name}"
    for name in re.findall(r"\bKAFKA_[A-Z_]+\b", inspect.getsource(Settings.from_env)):
        out.setdefault(name, "kafka_security")
    return out


def read_in_source() -> dict[str, str]:
    """Every NEWSMON_* name the code mentions -> the first file:line mentioning it."""
    out: dict[str, str] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                for name in re.findall(r"\bNEWSMON_[A-Z0-9_]*[A-Z0-9]\b", line):
                    out.setdefault(name, f"{path.relative_to(ROOT)}:{n}")
    return out


def test_every_setting_and_every_variable_read_is_documented() -> None:
    rows = documented()
    missing = {v: where for v, where in {**read_in_source(), **settings_variables()}.items()
               if v not in rows}
    assert not missing, f"missing from docs/configuration.md: {missing}"


def test_every_documented_variable_is_read() -> None:
    read = set(read_in_source()) | set(settings_variables())
    unread = sorted(set(documented()) - read)
    assert not unread, f"docs/configuration.md lists variables nothing reads: {unread}"


def _sample(default: Any) -> str:
    if isinstance(default, bool):
        return "true"
    if isinstance(default, int):
        return str(default + 1)
    if isinstance(default, float):
        return str(default + 1.5)
    return "elsewhere"


def test_each_settings_variable_sets_its_field_and_its_default_is_the_documented_one() -> None:
    rows = documented()
    base = Settings()
    for var, field_name in settings_variables().items():
        if field_name == "kafka_security":
            got = Settings.from_env({var: "x"}).kafka_security
            assert got == {var.removeprefix("KAFKA_").lower(): "x"}, var
            continue
        obj, attr = (base.topics, field_name[7:]) if field_name.startswith("topics.") \
            else (base, field_name)
        default = getattr(obj, attr)
        new = Settings.from_env({var: _sample(default)})
        changed = getattr(new.topics, attr) if obj is base.topics else getattr(new, attr)
        assert changed != default, f"{var} does not set {field_name}"
        cell = rows[var][1]
        if field_name == "analysis_processes":
            assert cell == "usable CPUs"
        elif default is None:
            assert cell == "unset", f"{var}: default {cell}, Settings says unset"
        else:
            value = cell.strip("`")
            if isinstance(default, int | float):
                assert float(value) == default, f"{var}: default {cell}, Settings {default}"
            else:
                assert value == str(default), f"{var}: default {cell}, Settings {default}"


def test_every_metric_is_documented() -> None:
    """Every metric newsmon/metrics.py defines has its row in docs/operations.md."""
    source = (ROOT / "newsmon" / "metrics.py").read_text("utf-8")
    defined = set(re.findall(r'"(newsmon_[a-z0-9_]+)"', source))
    rows = set(re.findall(r"^\|\s*`(newsmon_[a-z0-9_]+)`",
                          (ROOT / "docs" / "operations.md").read_text("utf-8"), re.MULTILINE))
    assert defined, "no metric found in newsmon/metrics.py"
    assert not defined - rows, f"missing from docs/operations.md: {sorted(defined - rows)}"


# What reads as a development diary: an ordinal or a number with "session", a "not
# kept" list, numbered work periods. History belongs in commit messages.
ORDINALS = ("first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|"
            "twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|"
            "nineteenth|twentieth|\\d+(?:st|nd|rd|th)|last|previous|earlier")
CHRONOLOGY = re.compile(
    rf"\b(?:{ORDINALS})[\s-]+sessions?\b|\bsessions?\s+#?\d+\b|\bnot\s+kept\b|\bwork periods?\b",
    re.IGNORECASE)
SCANNED = ("newsmon", "connectors", "streams", "bench", "tests")


def chronology_hits() -> list[str]:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for folder in SCANNED:
        paths += sorted((ROOT / folder).rglob("*.py"))
    hits = []
    for path in paths:
        if path == Path(__file__).resolve():
            continue  # the patterns themselves
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if CHRONOLOGY.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    return hits


def test_the_pattern_finds_a_diary_and_spares_kafka_sessions() -> None:
    ordinals = ("ninth", "Twelfth", "3rd")
    diary = [f"the {o} {'session'}" for o in ordinals] + [
        f"{'session'} 12 measured", f"Tried and {'not'} kept:", f"a work {'period'}"]
    for line in diary:
        assert CHRONOLOGY.search(line), line
    for fine in ("NEWSMON_SESSION_TIMEOUT", "Kafka session timeout of 30 s",
                 "the session's heartbeat"):
        assert not CHRONOLOGY.search(fine), fine


def test_no_development_chronology() -> None:
    hits = chronology_hits()
    assert not hits, "history belongs in git, not in the files:\n" + "\n".join(hits)
