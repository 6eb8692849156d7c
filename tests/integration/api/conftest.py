"""The API on a real state store through FastAPI's test client: an estate of three tenants (two
business units, a pool), and tokens made for the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from odooplane.access import Principal
from odooplane.actions import access as access_action
from odooplane.actions.service import Service
from odooplane.api.app import create_app
from tests.support.estate import TestEstate, make_estate, unique

ADMIN = Principal("owner", "user", "platform-admin")


class Api:
    def __init__(self, service: Service, client: TestClient, names: dict[str, str], estate: TestEstate) -> None:
        self.estate = estate
        self.service = service
        self.client = client
        self.names = names  # acme, globex, initech, pool → their unique names

    @property
    def ctx(self) -> Any:
        return self.service.context()

    def token(self, role: str, scopes: list[str] = (), expires: str | None = "1d") -> str:  # type: ignore[assignment]
        _, secret = access_action.create_token(self.ctx, ADMIN, name=unique("tok").lower(), role=role,
                                               scopes=list(scopes), expires=expires)
        return secret

    def send(self, method: str, path: str, secret: str, body: Any = None, **params: Any) -> Any:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {secret}"}, json=body,
                                   params=params)

    def get(self, path: str, secret: str | None = None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return self.client.get(path, headers=headers, params=params)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    acme, globex, initech, pool = unique("acme"), unique("globex"), unique("initech"), unique("std")
    estate = make_estate(tmp_path, {
        acme: {"labels": {"business_unit": "retail"},
               "environments": {"prod": {}, "staging": {}}},
        globex: {"labels": {"business_unit": "wholesale"},
                 "environments": {"prod": {}, "dev": {"placement": {"shared": pool}}}},
        initech: {"labels": {"business_unit": "retail", "site": "lyon"},
                  "environments": {"prod": {"placement": {"shared": pool}}}},
    })
    estate.data["pools"] = {pool: {"processes": 1, "workers": 0}}
    estate.write()
    service = Service.open(estate.path)
    try:
        with TestClient(create_app(service)) as client:
            yield Api(service, client, {"acme": acme, "globex": globex, "initech": initech, "pool": pool},
                      estate)
    finally:
        service.close()


