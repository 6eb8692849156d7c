"""Generate the commented sample estate from the schema: every key carries its field's
description as a comment, so the sample, the schema and the docs never disagree."""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from odooplane.estate import change, models

SAMPLE: dict[str, Any] = {
    "version": 1,
    "platform": {
        "name": "default",
        "data_dir": ".odooplane",
        "default_stack": "odoo18",
        "default_cluster": "main",
        "edge": {"http_port": 8800, "api_port": 8801, "bind": "127.0.0.1", "base_domain": "localhost",
                 "access_log": True},
        "ports": {"start": 20000, "end": 29999},
    },
    "clusters": {
        "main": {"kind": "managed", "region": "eu", "settings": {"shared_buffers": "128MB"}},
        "shared": {"kind": "external", "url": "postgresql://odooplane_admin@127.0.0.1:5432/postgres",
                   "password": "env:PG_ADMIN_PASSWORD"},
    },
    "stacks": {
        "odoo18": {"series": "18.0", "simulator": True},
    },
    "pools": {
        "shared18": {"stack": "odoo18", "cluster": "main", "processes": 1, "workers": 2, "max_cron_threads": 1,
                     "db_maxconn": 64},
    },
    "tenants": {
        "acme": {
            "display_name": "Acme Distribution",
            "labels": {"business_unit": "distribution", "brand": "Acme", "site": "lyon", "cost_centre": "CC-1042",
                       "tier": "production", "compliance": "none"},
            "profile": {"customization": "light", "peak_users": 40, "rpo_minutes": 15, "rto_minutes": 60,
                        "data_residency": "eu"},
            "business_hours": {"timezone": "Europe/Paris", "days": ["mon", "tue", "wed", "thu", "fri"],
                               "start": "08:00", "end": "18:00"},
            "environments": {
                "prod": {
                    "placement": "dedicated",
                    "stage": "production",
                    "hostnames": ["acme-prod.localhost", "erp.acme.localhost"],
                    "modules": ["sale_management", "stock"],
                    "workers": 2,
                    "max_cron_threads": 1,
                    "limits": {"memory_soft_mib": 2048, "memory_hard_mib": 2560, "time_cpu_s": 60,
                               "time_real_s": 120, "request": 8192},
                    "admin_password": "env:ACME_PROD_MASTER_PASSWORD",
                    "options": {"log_level": "info"},
                    "connection_limit": 60,
                    "statement_timeout_s": 300,
                    "rate_limit": {"average": 50, "burst": 100},
                },
                "staging": {"placement": {"shared": "shared18"}, "modules": ["sale_management", "stock"]},
            },
        },
    },
    "monitoring": {
        "thresholds": {"connection_ratio": 0.9, "cron_lag": "1h", "certificate_days": 14},
        "receivers": {"page": "http://127.0.0.1:9095/page", "ticket": "http://127.0.0.1:9095/ticket"},
    },
    "change_management": {
        "windows": {"weekend": {"days": ["sat", "sun"], "start": "22:00", "end": "06:00",
                                "timezone": "Europe/Paris"}},
        "freezes": {"month-end": {"name": "month-end close", "month_end_days": 3, "month_start_days": 1,
                                  "timezone": "Europe/Paris"}},
        "policies": {"production": {"windows": ["weekend"], "previous_stage": "staging",
                                    "approvals": {"approvers": 1, "roles": ["release-manager"]},
                                    "emergency_roles": ["incident-manager"]}},
        "stage_policies": {"production": "production"},
        "people": {"alice": {"roles": ["release-manager"]}, "bob": {"roles": ["incident-manager"]}},
    },
    "policies": [
        {"name": "critical-dedicated", "when": {"tier": ["mission-critical"]}, "require": {"placement": "dedicated"},
         "reason": "24/7 operations must not share processes"},
        {"name": "regulated-own-cluster", "when": {"compliance": ["regulated"]},
         "require": {"dedicated_cluster": True}},
    ],
}

REAL_STACK_COMMENT = """\
  # A real Odoo source tree instead of the simulator:
  # odoo18-real:
  #   series: "18.0"
  #   source: /opt/odoo/18.0            # contains odoo-bin
  #   python: /opt/odoo/venv/bin/python # has Odoo's requirements installed
  #   addons_paths: [/opt/addons/oca-web]
  #   server_wide_modules: [base, web]
"""


def _model_for(annotation: Any, value: Any) -> type[BaseModel] | None:
    """Return the model class describing ``value`` under a field annotated ``annotation``."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _model_for(get_args(annotation)[0], value)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_for(arg, value)
            if found is None:
                continue
            kind = found.model_fields.get("kind")
            if kind is None or (isinstance(value, dict) and value.get("kind") in get_args(kind.annotation)):
                return found
    return None


def _dict_value_model(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _dict_value_model(get_args(annotation)[0])
    if origin is dict:
        return get_args(annotation)[1]
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _dict_value_model(arg)
            if found is not None:
                return found
    return None


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    origin = get_origin(annotation)
    if origin is list:
        item = get_args(annotation)[0]
        return item if isinstance(item, type) and issubclass(item, BaseModel) else None
    return None


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value) if (not value or value[0] in "*&!%@`{[" or ":" in value or value[0].isdigit()) \
            else value
    return json.dumps(value)


def _emit(model: type[BaseModel] | None, data: dict[str, Any], indent: int, out: list[str]) -> None:
    pad = "  " * indent
    for key, value in data.items():
        field = model.model_fields.get(key) if model else None
        if field is not None and field.description:
            out.append(f"{pad}# {field.description}")
        if isinstance(value, dict) and value:
            out.append(f"{pad}{key}:")
            sub = _model_for(field.annotation, value) if field is not None else None
            if sub is not None:
                _emit(sub, value, indent + 1, out)
            else:
                item_type = _dict_value_model(field.annotation) if field is not None else None
                for name, item in value.items():
                    item_model = _model_for(item_type, item) if item_type is not None else None
                    if isinstance(item, dict):
                        out.append(f"{pad}  {name}:")
                        _emit(item_model, item, indent + 2, out)
                    else:
                        out.append(f"{pad}  {name}: {_scalar(item)}")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out.append(f"{pad}{key}:")
            item_model = _list_item_model(field.annotation) if field is not None else None
            for item in value:
                lines: list[str] = []
                _emit(item_model, item, indent + 2, lines)
                first = next(i for i, line in enumerate(lines) if not line.lstrip().startswith("#"))
                lines[first] = f"{pad}  - " + lines[first].lstrip()
                out.extend(lines)
        elif isinstance(value, list):
            out.append(f"{pad}{key}: [" + ", ".join(_scalar(v) for v in value) + "]")
        else:
            out.append(f"{pad}{key}: {_scalar(value)}")
        if key == "stacks" and indent == 0:
            out.append(REAL_STACK_COMMENT.rstrip("\n"))


def render() -> str:
    """Return the sample estate as commented YAML."""
    out = [
        "# A sample Odooplane estate, generated from the schema (`odooplane schema --sample`).",
        "# Every key is documented by the comment above it. Validate with `odooplane validate FILE`.",
    ]
    _emit(models.Estate, SAMPLE, 0, out)
    return "\n".join(out) + "\n"


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(annotation))
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in get_args(annotation))
    if origin is dict:
        return f"map of {_type_name(get_args(annotation)[1])}"
    if origin is list:
        return f"list of {_type_name(get_args(annotation)[0])}"
    if isinstance(annotation, type):
        return {"str": "string", "int": "integer", "bool": "boolean", "float": "number", "NoneType": "null"}.get(
            annotation.__name__, annotation.__name__)
    return str(annotation)


def _models() -> list[type[BaseModel]]:
    return [models.Estate, models.Platform, models.ComposeSettings, models.EdgeSettings, models.Tls,
            models.Certificate, models.Acme, models.PortRange, models.Includes, models.ExternalCluster,
            models.ManagedCluster, models.Pitr, models.Stack, models.Pool,
            models.Tenant, models.Labels, models.Profile, models.BusinessHours, models.Environment,
            models.SharedPlacement, models.RateLimit, models.Limits, models.Objectives, models.Objective,
            models.Backups, models.BackupRepository, models.BackupPolicy, models.Retention, models.Monitoring,
            models.RedisServer, models.AlertThresholds, models.AlertReceivers, models.Policy, models.PolicyMatch,
            models.PolicyRequire, change.ChangeManagement, change.MaintenanceWindow, change.Freeze,
            change.YearlyRange, change.FreezeScope, change.ChangePolicy, change.ApprovalRule, change.PersonRoles]


def reference_markdown() -> str:
    """Return the estate file reference (Markdown), one table per model, from the schema."""
    out = ["# Estate file reference", "",
           "Generated from the schema (`make schema`); the JSON Schema is `src/odooplane/estate/estate.schema.json`,",
           "a commented sample is `docs/estate.sample.yaml`. Unknown keys are errors everywhere.", ""]
    for model in _models():
        out += [f"## {model.__name__}", "", (model.__doc__ or "").strip(), "",
                "| key | type | default | description |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            if field.is_required():
                default = "required"
            elif field.default_factory is not None:
                default = "(see model)"
            else:
                default = f"`{json.dumps(field.default)}`"
            kind = _type_name(field.annotation).replace(" | ", " or ")
            out.append(f"| `{field.alias or name}` | {kind} | {default} | {field.description or ''} |")
        out.append("")
    return "\n".join(out)
