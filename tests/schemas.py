"""Validate records against the published JSON Schemas in ``schemas/``."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator

from tests.helpers import ROOT

KINDS = ("raw-article", "enriched-article", "alert", "trend-alert", "dead-letter")


@functools.cache
def validator(kind: str) -> Draft202012Validator:
    schema = json.loads((ROOT / "schemas" / f"{kind}.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_valid(kind: str, records: list[dict[str, Any]]) -> None:
    assert records, f"no {kind} records to validate"
    for rec in records:
        rec = {k: v for k, v in rec.items() if k != "_key"}
        errors = sorted(validator(kind).iter_errors(rec), key=str)
        assert not errors, f"{kind} {rec.get('id') or rec.get('alert_id')}: {errors[0].message}"
