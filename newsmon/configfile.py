"""Safe loading of YAML configuration files (the feed list, the rules file).

A configuration file is written by the operator, but a mistake in it must
never crash a running process (hot reload) nor pass silently. :func:`load`
refuses, each with one :class:`ConfigError` line naming file, line and field:

* a file over :data:`MAX_BYTES`, or not valid UTF-8 (the line of the bad byte);
* nesting deeper than :data:`MAX_DEPTH` (checked on the parser's event stream,
  before PyYAML's recursive composer could overflow the stack), more than
  :data:`MAX_ALIASES` aliases (alias expansion bombs), more than one document;
* a key repeated in one mapping (plain YAML keeps the last one silently);
* ``.nan`` / ``.inf`` anywhere, and integers of more than
  :data:`MAX_INT_DIGITS` digits.

:func:`validate` then checks the data against a JSON Schema (``jsonschema``):
an unknown key is reported with the nearest known one (:mod:`difflib`); types
are strict (``true`` is not a number); each number field has a range and each
list and string a size in its schema. Errors come in document order.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 16
MAX_ALIASES = 100
MAX_INT_DIGITS = 15

PathPart = str | int


class ConfigError(ValueError):
    """One mistake in a configuration file: ``file:line: field: message`` on one line."""

    def __init__(self, file: str, line: int | None, field: str | None, message: str) -> None:
        self.file, self.line, self.field = file, line, field
        self.message = " ".join(message.split())  # one line, whatever the input held
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {field}: {self.message}" if field else
                         f"{where}: {self.message}")


def format_path(path: Sequence[PathPart]) -> str:
    """``("feeds", 3, "interval")`` -> ``feeds[3].interval``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True, slots=True)
class ConfigDoc:
    """A loaded file: its data and its YAML nodes (for line numbers)."""

    file: str
    data: Any
    root: yaml.Node | None

    def line(self, path: Sequence[PathPart]) -> int | None:
        """The 1-based line of the value at ``path`` (or of the deepest part that exists)."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            key_node, node = child
            line = (key_node or node).start_mark.line + 1
        return line

    def error(self, path: Sequence[PathPart], message: str,
              field: str | None = None) -> ConfigError:
        return ConfigError(self.file, self.line(path), field or format_path(path) or None,
                           message)


def _child(node: yaml.Node, part: PathPart) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                return k, v
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
            and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return None, item
    return None


class _Loader(yaml.SafeLoader):
    pass


def load(path: Path | str, *, what: str = "configuration",
         max_bytes: int = MAX_BYTES) -> ConfigDoc:
    """Read and parse a YAML file with every check above; raise :class:`ConfigError`."""
    path = Path(path)
    file = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(file, None, None, f"cannot read {what}: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise ConfigError(file, None, None, f"{what} file over {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(file, line, None,
                          f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})") from None
    return loads(text, file)


def loads(text: str, file: str = "<config>") -> ConfigDoc:
    """:func:`load` for text already read."""
    if "\x00" in text:
        raise ConfigError(file, text[:text.index("\x00")].count("\n") + 1, None,
                          "NUL character in the file")
    try:
        _check_events(text, file)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return ConfigDoc(file, None, None)
            _check_nodes(root, file)
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(file, mark.line + 1 if mark else None, None,
                          f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, None, f"not valid YAML: {exc}") from None
    except (RecursionError, ValueError, OverflowError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(file, None, None,
                          f"not valid YAML: {type(exc).__name__}: {exc}") from None
    return ConfigDoc(file, data, root)


def _line(event: Any) -> int | None:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _check_events(text: str, file: str) -> None:
    """Depth, aliases and document count, from the (non-recursive) event parser."""
    depth = aliases = documents = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(file, _line(event), None,
                                  f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise ConfigError(file, _line(event), None,
                                  f"more than {MAX_ALIASES} aliases")
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise ConfigError(file, _line(event), None,
                                  "more than one YAML document")


_FLOAT_TAG = "tag:yaml.org,2002:float"
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _walk(root: yaml.Node) -> Iterator[tuple[yaml.Node, tuple[PathPart, ...]]]:
    stack: list[tuple[yaml.Node, tuple[PathPart, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen:  # an alias: checked where its anchor is
            continue
        seen.add(id(node))
        yield node, path
        if isinstance(node, yaml.MappingNode):
            for k, v in reversed(node.value):
                key = k.value if isinstance(k, yaml.ScalarNode) else "?"
                stack.append((v, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in reversed(list(enumerate(node.value))):
                stack.append((v, (*path, i)))


def _check_nodes(root: yaml.Node, file: str) -> None:
    """Repeated keys, NaN and infinities, and integers too long to be meant."""
    for node, path in _walk(root):
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for k, _v in node.value:
                if not isinstance(k, yaml.ScalarNode) or k.tag == _MERGE_TAG:
                    continue
                if k.value in keys:
                    raise ConfigError(file, k.start_mark.line + 1,
                                      format_path((*path, k.value)),
                                      "key repeated in the same mapping")
                keys.add(k.value)
        elif isinstance(node, yaml.ScalarNode):
            where = format_path(path) or None
            if node.tag == _FLOAT_TAG:
                text = node.value.lower().lstrip("+-")
                if text in (".nan", ".inf"):
                    raise ConfigError(file, node.start_mark.line + 1, where,
                                      f"{node.value} is not a usable number")
            elif node.tag == _INT_TAG:
                digits = sum(c.isdigit() for c in node.value)
                if digits > MAX_INT_DIGITS:
                    raise ConfigError(file, node.start_mark.line + 1, where,
                                      f"integer of {digits} digits is too large")


def validate(doc: ConfigDoc, schema: Mapping[str, Any],
             field: Any = None) -> list[ConfigError]:
    """Every schema violation in ``doc.data``, in document order.

    ``field(path)`` names a path in messages (default: :func:`format_path`). A
    property's ``description`` in the schema says what is expected."""
    name = field or format_path
    out: list[tuple[int, str, ConfigError]] = []
    validator = Draft202012Validator(schema)
    for err in validator.iter_errors(doc.data):
        for path, message in _explain(err):
            line = doc.line(path) or 0
            out.append((line, name(path), ConfigError(doc.file, line or None,
                                                      name(path) or None, message)))
    out.sort(key=lambda t: t[0])  # stable: within a line, the schema's order
    return [e for _, _, e in out]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"{shown!r} (a string)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else type(value).__name__


def _explain(err: ValidationError) -> list[tuple[list[PathPart], str]]:
    path: list[PathPart] = list(err.absolute_path)
    v = err.validator
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    expected = schema.get("description")
    if v == "additionalProperties" and isinstance(err.instance, dict):
        known = [str(k) for k in schema.get("properties", {})]
        out = []
        for key in err.instance:
            if key in known:
                continue
            near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            out.append(([*path, str(key)], f"unknown key{hint}"))
        return out
    if v == "required":
        missing = [k for k in err.validator_value if k not in (err.instance or {})]
        return [(path, f"missing required key {missing[0]!r}" if missing else err.message)]
    if v in ("type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum",
             "pattern", "minLength", "const", "format"):
        if expected:
            return [(path, f"expected {expected}, got {_kind(err.instance)}")]
        if v == "type":
            return [(path, f"expected {_TYPES.get(str(err.validator_value), err.validator_value)}"
                           f", got {_kind(err.instance)}")]
        if v == "enum":
            return [(path, "expected one of " + ", ".join(map(str, err.validator_value)))]
        if v == "minLength":
            return [(path, "must not be empty")]
    if v == "maxLength":
        return [(path, f"longer than {err.validator_value} characters")]
    if v == "maxItems":
        return [(path, f"more than {err.validator_value} items")]
    if v == "minItems":
        return [(path, f"fewer than {err.validator_value} items")]
    if v == "uniqueItems":
        return [(path, "repeated items")]
    return [(path, err.message)]


_TYPES = {"string": "a string", "number": "a number", "integer": "an integer",
          "boolean": "true or false", "array": "a list", "object": "a mapping"}


def finite(value: Any) -> bool:
    """True for an int, or a float that is neither NaN nor infinite (not a bool)."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))
