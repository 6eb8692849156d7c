"""Every error of the API, in one place, as an RFC 9457 problem details document
(``application/problem+json``): ``type``, ``title``, ``status``, ``detail`` and ``instance``, plus
``problems`` for an invalid estate and ``errors`` for a request that does not validate."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from odooplane import log
from odooplane.errors import (
    EstateInvalid,
    Forbidden,
    KubernetesEstate,
    LockedError,
    NotFound,
    OdooplaneError,
    SecretError,
    UsageError,
)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://odooplane.dev/problems/"
_LOG = logging.getLogger("odooplane.api")

# error class -> (HTTP status, problem type slug, title); the first match (most specific first) wins
_MAPPING: tuple[tuple[type[OdooplaneError], int, str, str], ...] = (
    (EstateInvalid, 422, "estate-invalid", "The estate is invalid"),
    (NotFound, 404, "not-found", "Not found"),
    (Forbidden, 403, "forbidden", "Refused by access control"),
    (LockedError, 409, "locked", "Locked by another operation"),
    (SecretError, 422, "secret-unresolved", "A secret reference cannot be resolved"),
    (UsageError, 400, "bad-request", "Bad request"),
    (KubernetesEstate, 501, "not-on-kubernetes", "Not done by the API on a kubernetes estate"),
)


class Unauthenticated(OdooplaneError):
    """No credentials, or credentials that are unknown, expired or revoked."""


class TooManyAttempts(OdooplaneError):
    """Too many failed sign-ins or refused tokens from one client (api/throttle.py)."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def problem(status: int, slug: str, title: str, detail: str, instance: str, *,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": log.mask(detail),
            "instance": instance, **extra}
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="odooplane"'}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _odooplane(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OdooplaneError)
    path = request.url.path
    if isinstance(exc, Unauthenticated):
        return problem(401, "unauthenticated", "Authentication required", exc.message, path)
    if isinstance(exc, TooManyAttempts):
        return problem(429, "too-many-attempts", "Too many failed attempts", exc.message, path,
                       headers={"Retry-After": str(max(1, round(exc.retry_after_s)))})
    for cls, status, slug, title in _MAPPING:
        if isinstance(exc, cls):
            if isinstance(exc, EstateInvalid):
                return problem(status, slug, title, exc.message, path, problems=[str(p) for p in exc.problems])
            return problem(status, slug, title, exc.message, path)
    return problem(500, "operation-failed", "The operation failed", exc.message, path)


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated"}.get(exc.status_code, "http-error")
    return problem(exc.status_code, slug, str(exc.detail) or "HTTP error", str(exc.detail), request.url.path)


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
              for e in exc.errors()]
    detail = "; ".join(f"{e['where']}: {e['message']}" for e in errors) or "the request does not validate"
    return problem(422, "invalid-request", "The request does not validate", detail, request.url.path, errors=errors)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _LOG.error("unexpected error on %s %s: %s", request.method, request.url.path, log.mask(repr(exc)),
               exc_info=exc)
    return problem(500, "internal", "Internal error", "an unexpected error happened; it is in the service's log",
                   request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(OdooplaneError, _odooplane)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
