"""Validation of rendered Kubernetes objects without an API server.

Core kinds: ``kubernetes-validate --strict`` (the API's OpenAPI schemas, unknown fields refused) for
each Kubernetes version the driver supports. Custom resources: the ``openAPIV3Schema`` of their
upstream CRD (``../shared/crds`` beside the repository, or ``$ODOOPLANE_CRDS``), made strict the
way the API server's ``fieldValidation=Strict`` is: an object with ``properties`` and no
``additionalProperties`` / ``x-kubernetes-preserve-unknown-fields`` refuses other fields (the
server would prune them silently — a typo would vanish)."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES_VERSIONS = ("1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0")
NO_SCHEMA = {"cert-manager.io/v1"}  # no CRD of it is stored here: checked by hand in the tests
NOT_OBJECTS = {"Kustomization"}


def crds_dir() -> Path:
    return Path(os.environ.get("ODOOPLANE_CRDS") or Path(__file__).resolve().parents[3] / "shared" / "crds")


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict schema, for every CRD version stored."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(crds_dir().glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for version in doc["spec"]["versions"]:
                found[(f"{group}/{version['name']}", kind)] = _strict(version["schema"]["openAPIV3Schema"])
    return found


@functools.cache
def _validator(key: tuple[str, str]) -> Any:
    schema = crd_schemas()[key]
    return jsonschema.validators.validator_for(schema)(schema)


def objects(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every object of every YAML file under ``root`` (kustomizations left out)."""
    for path in sorted(root.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None and doc.get("kind") not in NOT_OBJECTS:
                yield path, doc


def is_core(doc: dict[str, Any]) -> bool:
    """Whether ``doc`` is of a kind of Kubernetes itself (v1, apps, policy, networking.k8s.io…)."""
    group = doc["apiVersion"].partition("/")[0] if "/" in doc["apiVersion"] else ""
    return "." not in group or group.endswith(".k8s.io")


def validate(doc: dict[str, Any]) -> str:
    """Validate one object; return how ('core', 'crd' or 'unchecked'); raise on an invalid one."""
    key = (doc["apiVersion"], doc["kind"])
    if not is_core(doc) and doc["apiVersion"] not in NO_SCHEMA:
        schemas = crd_schemas()
        if key not in schemas:
            raise AssertionError(f"{key}: no CRD stored for this custom resource")
        _validator(key).validate(doc)
        return "crd"
    if doc["apiVersion"] in NO_SCHEMA:
        return "unchecked"
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)
    return "core"
