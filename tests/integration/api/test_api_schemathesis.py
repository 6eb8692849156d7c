"""The API against its own OpenAPI document (schemathesis): generated requests of every operation
never get a server error, every operation refuses an anonymous caller (401) and one outside its scope
(403 or 404, or a list with nothing in it — only `whoami` and `roles` answer anyone authenticated).
The SSE route is left out: it streams until its operation ends (test_api_changes.py covers it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from odooplane.actions import access as access_action
from odooplane.actions.service import Service
from odooplane.api.app import create_app
from odooplane.throttle import Throttle
from tests.integration.api.conftest import ADMIN
from tests.support.estate import make_estate, unique

schemathesis = pytest.importorskip("schemathesis")
pytestmark = pytest.mark.integration
OPEN_TO_ANY_CALLER = {"/api/v1/whoami", "/api/v1/roles"}


APP = create_app(None)  # type: ignore[arg-type]  # each test gives it the service of its own estate


class Site:
    def __init__(self, admin: str, outsider: str) -> None:
        self.admin = admin
        self.outsider = outsider


@pytest.fixture
def site(tmp_path: Any) -> Iterator[Site]:
    estate = make_estate(tmp_path, {unique("acme"): {"labels": {"business_unit": "retail"},
                                                    "environments": {"prod": {}, "staging": {}}}})
    service = Service.open(estate.path)
    try:
        ctx = service.context()
        _, admin = access_action.create_token(ctx, ADMIN, name="admin", role="platform-admin", scopes=[],
                                              expires="1d")
        _, outsider = access_action.create_token(ctx, ADMIN, name="outsider", role="erp-admin",
                                                 scopes=["tenant=nobody"], expires="1d")
        APP.state.service = service
        APP.state.throttle = Throttle()
        yield Site(admin, outsider)
    finally:
        service.close()


def call_as(case: Any, token: str | None) -> Any:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    case.headers = headers
    return case.call()


def header(response: Any, name: str) -> str:
    value = response.headers.get(name)
    return str(value[0] if isinstance(value, list) else value)


schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP).exclude(path_regex=r".*/events$")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_no_request_gets_a_server_error(case: Any, site: Site) -> None:
    response = call_as(case, site.admin)
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text)
    if response.status_code >= 400:
        assert header(response, "content-type") == "application/problem+json", response.text


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_every_operation_refuses_anonymous_and_out_of_scope_callers(case: Any, site: Site) -> None:
    anonymous = call_as(case, None)
    if case.method.upper() != case.operation.method.upper():  # a method the route does not have
        assert anonymous.status_code == 405, (case.method, case.formatted_path, anonymous.status_code)
        return
    assert anonymous.status_code in (400, 401, 422), (case.method, case.formatted_path, anonymous.status_code)
    if anonymous.status_code in (400, 422):  # a body that does not parse or validate: refused before the caller
        assert header(anonymous, "content-type") == "application/problem+json"
    else:
        assert header(anonymous, "www-authenticate").startswith("Bearer")
    outsider = call_as(case, site.outsider)
    if case.path in OPEN_TO_ANY_CALLER:
        assert outsider.status_code == 200
    elif outsider.status_code == 200:  # a list, filtered to the scope: nothing of the estate in it
        body = outsider.json()
        assert (body.get("items") if isinstance(body, dict) else body) == [], (case.formatted_path, body)
    else:
        assert outsider.status_code in (400, 403, 404, 422), (case.method, case.formatted_path,
                                                              outsider.status_code, outsider.text)
