"""The checked-in JSON Schema, sample estate and reference are generated from the models; they
must be current (run `make schema` after changing estate/models.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel

from odooplane.estate import models, sample, validate

ROOT = Path(__file__).resolve().parents[3]


def test_checked_in_json_schema_is_current() -> None:
    checked_in = json.loads((ROOT / "src/odooplane/estate/estate.schema.json").read_text())
    assert checked_in == models.json_schema(), "estate.schema.json is stale: run `make schema`"


def test_checked_in_sample_is_current_and_valid(monkeypatch: object) -> None:
    text = (ROOT / "docs/estate.sample.yaml").read_text()
    assert text == sample.render(), "docs/estate.sample.yaml is stale: run `make schema`"
    os.environ.setdefault("ACME_PROD_MASTER_PASSWORD", "x")
    valid = validate.validate(ROOT / "docs/estate.sample.yaml")
    assert {str(e.ref) for e in valid.environments} == {"acme/prod", "acme/staging"}


def test_checked_in_reference_is_current() -> None:
    assert (ROOT / "docs/estate-reference.md").read_text() == sample.reference_markdown() + "\n"


def test_every_field_has_a_description_and_an_example() -> None:
    missing = []
    for model in sample._models():
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(f"{model.__name__}.{name}: description")
            nested = isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
            if not field.examples and not nested and name not in ("labels", "limits"):
                missing.append(f"{model.__name__}.{name}: examples")
    assert missing == []


def test_examples_validate() -> None:
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        validate.validate(path)
