"""The request pipeline of ``odoo.http.Application``.

For each request: apply ProxyFix when ``proxy_mode`` is on and
``X-Forwarded-Host`` is present; load the session from its cookie and pick the
database (the session's one if the dbfilter still allows it, else the only
database the dbfilter leaves for this host, else none); load the database's
registry (falling back to database-less serving if it cannot be loaded);
match a route (without a database only ``auth='none'`` routes exist);
authenticate; check CSRF on unsafe ``type='http'`` requests; call the handler;
turn errors into responses the way the http/JSON-RPC dispatchers do; save the
session and set its cookie.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from odooplane.sim import auth, database, dbfilter, dbrouter, httpio, logs, stateless
from odooplane.sim.config import Config
from odooplane.sim.database import Connection, Pool
from odooplane.sim.exceptions import (
    Abort,
    AccessDenied,
    AccessError,
    HttpError,
    OdooError,
    RegistryError,
    SessionExpired,
)
from odooplane.sim.faults import RequestCounter
from odooplane.sim.registry import Registries, Registry
from odooplane.sim.sessions import SESSION_LIFETIME, Session, SessionStore, validate_csrf

_logger = logging.getLogger("odoo.http")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


@dataclass
class Services:
    """What one serving process shares between its requests."""

    config: Config
    pool: Pool
    registries: Registries
    store: SessionStore
    kind: str  # "threaded", "prefork" (HTTP worker) or "evented"
    counter: RequestCounter
    stopping: threading.Event = field(default_factory=threading.Event)
    dbrouter: bool = False  # the odooplane_dbrouter server-wide module is loaded

    @classmethod
    def create(cls, config: Config, kind: str) -> Services:
        pool = Pool(config)
        return cls(config=config, pool=pool, registries=Registries(config, pool),
                   store=stateless.session_store(config), kind=kind, counter=RequestCounter(config),
                   dbrouter=dbrouter.MODULE in config.server_wide_modules)


@dataclass
class RequestContext:
    """What a route handler gets."""

    services: Services
    request: httpio.Request
    session: Session
    db: str | None
    registry: Registry | None
    params: dict[str, Any] = field(default_factory=dict)
    rpc_id: Any = None  # the JSON-RPC request id, echoed in the response

    @property
    def config(self) -> Config:
        return self.services.config

    @contextmanager
    def cursor(self, db: str | None = None, *, readonly: bool = False) -> Iterator[Connection]:
        """A transaction on ``db`` (default: the request's database); ``readonly`` when it only reads."""
        name = db or self.db
        if not name:
            raise HttpError(404)
        with self.services.pool.cursor(name, readonly=readonly) as conn:
            yield conn

    def db_filter(self, dbs: list[str]) -> list[str]:
        """``http.db_filter`` with this request's host (then the ``odooplane_dbrouter`` header, if loaded)."""
        kept = dbfilter.db_filter(dbs, host=self.request.host, dbfilter=str(self.config["dbfilter"] or ""),
                                  db_name=str(self.config["db_name"] or ""))
        if self.services.dbrouter:
            return dbrouter.route(kept, dbrouter.routed_database(self.request.headers))
        return kept

    def db_list(self, *, force: bool = False) -> list[str]:
        """``http.db_list``: list_dbs filtered for this host ([] if PostgreSQL is unreachable)."""
        return self.db_filter(database.list_dbs(self.config, force=force))


Handler = Callable[[RequestContext], Any]


@dataclass(frozen=True)
class Route:
    """One ``@http.route``."""

    path: str
    handler: Handler
    type: str = "http"  # or "json"
    auth: str = "none"  # "none", "public" or "user"
    methods: tuple[str, ...] | None = None
    csrf: bool = True
    save_session: bool = True
    websocket: bool = False
    prefix: bool = False  # path is a prefix ("/odoo/<path:subpath>")

    def matches(self, path: str) -> bool:
        return path.startswith(self.path) if self.prefix else path == self.path


def apply_proxy_fix(request: httpio.Request, proxy_mode: bool) -> None:
    """werkzeug ProxyFix(x_for=1, x_proto=1, x_host=1), only when X-Forwarded-Host is present."""
    host = dbfilter.forwarded_host(request.headers, proxy_mode=proxy_mode)
    if host is None:
        return
    request.headers["host"] = host
    proto = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip()
    if proto:
        request.scheme = proto
    forwarded_for = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
    if forwarded_for:
        request.remote_addr = forwarded_for


class Application:
    """Dispatches requests to routes, like ``odoo.http.root``."""

    def __init__(self, services: Services, routes: list[Route]) -> None:
        self.services = services
        self.routes = routes

    def _session_and_db(self, request: httpio.Request) -> tuple[Session, str | None]:
        services = self.services
        session = services.store.get(request.cookies.get("session_id"))
        ctx = RequestContext(services, request, session, None, None)
        dbname = None
        if session.db and ctx.db_filter([session.db]):
            dbname = session.db
        else:
            all_dbs = ctx.db_list(force=True)
            if len(all_dbs) == 1:
                dbname = all_dbs[0]  # monodb
        if session.db != dbname:
            if session.db:
                _logger.warning("Logged into database %r, but dbfilter rejects it; logging session out.", session.db)
                session.logout(keep_db=False)
            session["db"] = dbname
        session.is_dirty = False
        return session, dbname

    def __call__(self, request: httpio.Request) -> httpio.Response:
        apply_proxy_fix(request, bool(self.services.config["proxy_mode"]))
        session, db = self._session_and_db(request)
        registry = None
        if db:
            logs.set_dbname(db)
            try:
                registry = self.services.registries.get(db)
                # Registry.check_signaling: every request opens a cursor, so a database that vanished
                # (dropped, renamed, server down) makes the request fall back to database-less serving.
                with self.services.pool.cursor(db, readonly=True) as conn:
                    database.execute(conn, "SELECT 1")
            except psycopg.OperationalError as exc:
                self.services.registries.delete(db)
                _logger.warning("Database or registry unusable, trying without", exc_info=exc)
                registry, db = None, None
                session.logout()
                logs.set_dbname(None)
            except RegistryError as exc:
                _logger.warning("Database or registry unusable, trying without", exc_info=exc.__cause__)
                db = None
                session.logout()
                logs.set_dbname(None)
        ctx = RequestContext(self.services, request, session, db, registry)
        route = next((r for r in self.routes if r.matches(request.path) and (db or r.auth == "none")), None)
        is_json = request.mimetype in httpio.JSON_MIMETYPES
        if route is None:
            return self._finish(ctx, None, self._error(ctx, HttpError(404), json_=is_json))
        try:
            response = self._dispatch(ctx, route)
        except Abort as abort:
            response = abort.response
        except Exception as exc:  # every error becomes a response, as in Odoo
            response = self._error(ctx, exc, json_=route.type == "json")
        return self._finish(ctx, route, response)

    def _dispatch(self, ctx: RequestContext, route: Route) -> httpio.Response:
        request = ctx.request
        if route.type == "json" and request.mimetype not in httpio.JSON_MIMETYPES:
            raise HttpError(400, f"Request inferred type is compatible with ['http'] but {route.path!r} is "
                                 f"type='jsonrpc'.")
        if route.methods and request.method not in (*route.methods, "OPTIONS"):
            raise HttpError(405)
        if route.websocket and request.headers.get("upgrade", "").lower() != "websocket":
            raise HttpError(400, "Expected a WebSocket request.")
        if ctx.db:
            self._authenticate(ctx, route.auth)
        if route.type == "json":
            try:
                payload = request.json()
            except ValueError:
                return httpio.Response(400, b"Invalid JSON data", [("Content-Type", "text/html; charset=utf-8")])
            if not isinstance(payload, dict) or not isinstance(payload.get("params", {}), dict):
                return httpio.Response(400, b"Invalid JSON-RPC data", [("Content-Type", "text/html; charset=utf-8")])
            ctx.params, ctx.rpc_id = dict(payload.get("params") or {}), payload.get("id")
            result = route.handler(ctx)
            return httpio.json_response({"jsonrpc": "2.0", "id": ctx.rpc_id, "result": result})
        ctx.params = {**request.args, **request.form}
        if request.method not in SAFE_METHODS and route.csrf:
            if not ctx.db:
                return httpio.redirect("/web/database/selector")
            token = ctx.params.pop("csrf_token", None)
            with ctx.cursor(readonly=True) as conn:
                secret = auth.get_param(conn, "database.secret", "") or ""
            if not validate_csrf(token, ctx.session.sid, secret):
                _logger.warning("CSRF validation failed on path '%s'", request.path)
                raise HttpError(400, "Session expired (invalid CSRF token)")
        result = route.handler(ctx)
        return result if isinstance(result, httpio.Response) else httpio.html_response(str(result))

    def _authenticate(self, ctx: RequestContext, mode: str) -> None:
        session = ctx.session
        if session.uid is not None:
            with ctx.cursor(readonly=True) as conn:
                expected = auth.compute_session_token(conn, session.uid, session.sid)
            if not expected or expected != session.get("session_token"):
                session.logout(keep_db=True)
        if mode == "user" and session.uid is None:
            raise SessionExpired("Session expired")

    def _error(self, ctx: RequestContext, exc: Exception, *, json_: bool) -> httpio.Response:
        if json_:
            error: dict[str, Any] = {"code": 200, "message": "Odoo Server Error", "data": {
                "name": getattr(exc, "odoo_name", f"{type(exc).__module__}.{type(exc).__name__}"),
                "debug": "".join(traceback.format_exception(exc)), "message": str(exc),
                "arguments": list(exc.args), "context": {}}}
            if isinstance(exc, HttpError) and exc.status == 404:
                error.update(code=404, message="404: Not Found")
                error["data"]["name"] = "werkzeug.exceptions.NotFound"
            elif isinstance(exc, SessionExpired):
                error.update(code=100, message="Odoo Session Expired")
            elif not isinstance(exc, OdooError | HttpError):
                _logger.error("Exception during request handling.", exc_info=exc)
            if isinstance(exc, HttpError) and exc.status == 400:
                return httpio.Response(400, exc.description.encode(), [("Content-Type", "text/html; charset=utf-8")])
            return httpio.json_response({"jsonrpc": "2.0", "id": ctx.rpc_id, "error": error})
        if isinstance(exc, HttpError):
            return httpio.error_page(exc.status, exc.description or None)
        if isinstance(exc, SessionExpired):
            ctx.session.logout(keep_db=True)
            return httpio.redirect(f"/web/login?redirect={ctx.request.full_path}")
        if isinstance(exc, AccessDenied | AccessError):
            _logger.warning("%s", exc)
            return httpio.error_page(403, str(exc))
        if isinstance(exc, OdooError):
            _logger.warning("%s", exc)
            return httpio.error_page(400, str(exc))
        _logger.error("Exception during request handling.", exc_info=exc)
        return httpio.error_page(500)

    def _finish(self, ctx: RequestContext, route: Route | None, response: httpio.Response) -> httpio.Response:
        session, store = ctx.session, self.services.store
        if route is not None and route.save_session:
            dirty = session.is_dirty or session.should_rotate
            if session.should_rotate:
                store.rotate(session)
            elif session.is_dirty:
                store.save(session)
            if dirty or ctx.request.cookies.get("session_id") != session.sid:
                response.set_cookie("session_id", session.sid, max_age=self._max_inactivity(ctx))
        response.set_header("X-Content-Type-Options", "nosniff")
        return response

    def _max_inactivity(self, ctx: RequestContext) -> int:
        if not ctx.db:
            return SESSION_LIFETIME
        try:
            with ctx.cursor(readonly=True) as conn:
                return int(auth.get_param(conn, "sessions.max_inactivity_seconds", str(SESSION_LIFETIME)) or 0)
        except ValueError:
            return SESSION_LIFETIME
