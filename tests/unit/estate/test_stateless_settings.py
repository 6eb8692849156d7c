"""``stateless`` (sessions in Redis, attachments in object storage): what the estate accepts and
refuses, with the path of the mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from odooplane.errors import EstateInvalid
from odooplane.estate.validate import validate


def _estate(tmp_path: Path, **changes: Any) -> Path:
    data: dict[str, Any] = {
        "stacks": {"odoo": {"series": "18.0", "simulator": True}},
        "clusters": {"main": {"kind": "managed"}},
        "platform": {"default_stack": "odoo", "default_cluster": "main"},
        "pools": {"shared": {}},
        "monitoring": {"redis": {"sessions": {"host": "127.0.0.1", "port": 6379, "password": "env:REDIS_PW"}}},
        "object_storage": {"files": {"endpoint_url": "http://127.0.0.1:9000", "bucket": "odoo-files",
                                     "access_key_id": "env:K", "secret_access_key": "env:S"}},
        "tenants": {"acme": {"environments": {"prod": {}, "staging": {"placement": {"shared": "shared"}}}}},
    }
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    target = tmp_path / "estate.yaml"
    target.write_text(yaml.safe_dump(data))
    return target


def _problems(path: Path) -> str:
    with pytest.raises(EstateInvalid) as caught:
        validate(path)
    return " ".join(f"{p.path}: {p.message}" for p in caught.value.problems)


def test_stack_pool_and_environment_settings_are_accepted(tmp_path: Path) -> None:
    both = {"sessions": "sessions", "attachments": "files"}
    path = _estate(tmp_path, stacks__odoo__stateless=both, pools__shared__stateless={"sessions": "sessions"})
    valid = validate(path)
    envs = {str(e.ref): e for e in valid.environments}
    assert envs["acme/prod"].stateless is not None and envs["acme/prod"].stateless.attachments == "files"
    # A pool tenant has its pool's setting (which wins over the stack's).
    staging = envs["acme/staging"].stateless
    assert staging is not None and staging.sessions == "sessions" and staging.attachments is None


@pytest.mark.parametrize(("changes", "message"), [
    ({"stacks__odoo__stateless": {"sessions": "nope"}},
     "stacks.odoo.stateless.sessions: unknown Redis server 'nope'"),
    ({"pools__shared__stateless": {"attachments": "nope"}},
     "pools.shared.stateless.attachments: unknown object storage 'nope'"),
    ({"tenants__acme__environments__staging__stateless": {"sessions": "sessions"}},
     "tenants.acme.environments.staging.stateless: a pool tenant runs in its pool's processes"),
    ({"object_storage__files__bucket": "Bad_Bucket"}, "a bucket name is 3 to 63 lowercase"),
    ({"monitoring__redis__sessions__password": None, "stacks__odoo__stateless": {"sessions": "sessions"}},
     "stacks.odoo.stateless.sessions: Redis server 'sessions' has no password"),
    ({"object_storage__files__endpoint_url": "ftp://x"}, "endpoint_url is an http(s) URL"),
])
def test_mistakes_are_named_with_their_path(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    assert message in " ".join(_problems(_estate(tmp_path, **changes)).split())
