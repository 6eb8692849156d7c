"""The web routes of the ``web`` and ``bus`` modules the platform relies on.

``/web/health``, ``/web/login`` (with ``ensure_db``: explicit ``?db=``, the
session's database, the only database left by the dbfilter, else a 303 to
``/web/database/selector``), ``/odoo`` (``/web`` before 18), the JSON-RPC
session endpoints, ``/web/webclient/version_info``, the RPC endpoints and
``/websocket`` (``/longpolling/poll`` before 16).  The table is assembled per
series by ``build``; database manager routes live in ``dbroutes``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from odooplane.sim import auth, dbroutes, httpio, pages, rpc, sessions, stateless, websocket
from odooplane.sim.app import RequestContext, Route
from odooplane.sim.exceptions import Abort, AccessDenied, AccessError
from odooplane.sim.release import Release


def ensure_db(ctx: RequestContext, redirect: str = "/web/database/selector") -> str:
    """``web.controllers.utils.ensure_db``: return the database, or abort with a redirect."""
    request, session = ctx.request, ctx.session
    db = (ctx.params.get("db") or "").strip() or None
    if db and db not in ctx.db_filter([db]):
        db = None
    if db and not session.db:
        session["db"] = db
        location = request.path + (f"?{request.query_string}" if request.query_string else "")
        raise Abort(httpio.redirect(location, 302))
    if not db and session.db and ctx.db_filter([session.db]):
        db = session.db
    if not db:
        all_dbs = ctx.db_list(force=True)
        if len(all_dbs) == 1:
            db = all_dbs[0]
    if not db:
        raise Abort(httpio.redirect(redirect, 303))
    if db != session.db:
        ctx.session = ctx.services.store.new()
        ctx.session["db"] = db
        raise Abort(httpio.redirect(request.path + (f"?{request.query_string}" if request.query_string else ""), 302))
    return db


def finalize_login(ctx: RequestContext, db: str, uid: int, login: str) -> None:
    """``Session.finalize`` + rotation: a fresh session id carrying the user and its session token."""
    store, session = ctx.services.store, ctx.session
    store.delete(session)
    session.sid = store.generate_key()
    session.should_rotate = False
    with ctx.cursor(db, readonly=True) as conn:
        token = auth.compute_session_token(conn, uid, session.sid)
    for key, value in (("db", db), ("login", login), ("uid", uid), ("session_token", token),
                       ("context", {"lang": "en_US", "tz": False, "uid": uid})):
        session[key] = value


def health(ctx: RequestContext) -> httpio.Response:
    return httpio.Response(200, json.dumps({"status": "pass"}).encode(),
                           [("Content-Type", "application/json"), ("Cache-Control", "no-store")])


def index(ctx: RequestContext) -> httpio.Response:
    query = f"?{ctx.request.query_string}" if ctx.request.query_string else ""
    return httpio.redirect(ctx.config.release.webclient_path + query, 303)


def web_client(ctx: RequestContext) -> httpio.Response:
    db = ensure_db(ctx)
    session = ctx.session
    if session.uid is None:
        return httpio.redirect(f"/web/login?redirect={ctx.request.full_path}", 303)
    if ctx.params.get("redirect"):
        return httpio.redirect(str(ctx.params["redirect"]), 303)
    with ctx.cursor(db, readonly=True) as conn:
        info = auth.user_info(conn, session.uid)
    return httpio.html_response(pages.webclient(db=db, uid=session.uid, name=str(info.get("name") or "")),
                                headers=[("X-Frame-Options", "DENY")])


def web_login(ctx: RequestContext) -> httpio.Response:
    db = ensure_db(ctx)
    request, session, params = ctx.request, ctx.session, ctx.params
    redirect = params.get("redirect") or ""
    if request.method == "GET" and redirect and session.uid:
        return httpio.redirect(redirect, 303)
    error = ""
    if request.method == "POST":
        login, password = str(params.get("login", "")), str(params.get("password", ""))
        try:
            with ctx.cursor(db) as conn:
                uid = auth.authenticate(conn, db=db, login=login, password=password, interactive=True,
                                        rounds=ctx.config.sim.password_rounds, remote_addr=request.remote_addr,
                                        base_location=request.url_root)
            finalize_login(ctx, db, uid, login)
            return httpio.redirect(redirect or ctx.config.release.webclient_path, 303)
        except AccessDenied as exc:
            error = "Wrong login/password" if exc.message == "Access Denied" else exc.message
    try:
        databases: list[str] | None = ctx.db_list()
    except AccessDenied:
        databases = None
    with ctx.cursor(db, readonly=True) as conn:
        secret = auth.get_param(conn, "database.secret", "") or ""
    body = pages.login_page(csrf_token=sessions.csrf_token(session.sid, secret), login=str(params.get("login", "")),
                            redirect=redirect, error=error, databases=databases, db=db,
                            list_db=bool(ctx.config["list_db"]))
    return httpio.html_response(body, headers=[("X-Frame-Options", "SAMEORIGIN"),
                                               ("Content-Security-Policy", "frame-ancestors 'self'")])


def logout(ctx: RequestContext) -> httpio.Response:
    ctx.session.logout(keep_db=True)
    return httpio.redirect(str(ctx.params.get("redirect") or ctx.config.release.webclient_path), 303)


def session_info(ctx: RequestContext, db: str, uid: int) -> dict[str, Any]:
    """``ir.http.session_info`` (the keys clients read)."""
    release = ctx.config.release
    with ctx.cursor(db, readonly=True) as conn:
        info = auth.user_info(conn, uid)
        system = auth.is_system(conn, uid)
        base_url = auth.get_param(conn, "web.base.url", "") or ""
    return {
        "uid": uid, "is_system": system, "is_admin": system, "is_public": False,
        "is_internal_user": not info.get("share", False),
        "user_context": {"lang": "en_US", "tz": False, "uid": uid}, "db": db,
        "server_version": release.version, "server_version_info": list(release.version_info),
        "support_url": "https://www.odoo.com/buy", "name": info.get("name"), "username": info.get("login"),
        "partner_display_name": info.get("name"), "partner_id": info.get("partner_id"), "web.base.url": base_url,
        "active_ids_limit": 20000, "max_file_upload_size": 128 * 1024 * 1024, "home_action_id": False,
        "cache_hashes": {"translations": None}, "bundle_params": {"lang": "en_US"}, "test_mode": False,
        "user_companies": {"current_company": info.get("company_id"), "allowed_companies": {}},
    }


def get_session_info(ctx: RequestContext) -> dict[str, Any]:
    # auth="user" guarantees both
    assert ctx.db is not None
    assert ctx.session.uid is not None
    ctx.session.is_dirty = True  # session.touch()
    return session_info(ctx, ctx.db, ctx.session.uid)


def authenticate(ctx: RequestContext) -> dict[str, Any]:
    db, login, password = (str(ctx.params.get(key, "")) for key in ("db", "login", "password"))
    if not ctx.db_filter([db]):
        raise AccessError("Database not found.")
    ctx.services.registries.get(db)
    with ctx.cursor(db) as conn:
        uid = auth.authenticate(conn, db=db, login=login, password=password, interactive=True,
                                rounds=ctx.config.sim.password_rounds, remote_addr=ctx.request.remote_addr,
                                base_location=ctx.request.url_root)
    finalize_login(ctx, db, uid, login)
    return session_info(ctx, db, uid)


def destroy(ctx: RequestContext) -> None:
    ctx.session.logout()


def version_info(ctx: RequestContext) -> dict[str, Any]:
    return ctx.config.release.rpc_version()


def content(ctx: RequestContext) -> httpio.Response:
    """``/web/content/<id>``: a binary attachment's content, read where it is stored (the filestore, or
    the bucket of odooplane_attachments); 404 when there is no such attachment."""
    db = ensure_db(ctx)
    ident = ctx.request.path.removeprefix("/web/content/").split("/", 1)[0].split("?", 1)[0]
    if not ident.isdigit():
        return httpio.error_page(404)
    with ctx.cursor(db, readonly=True) as conn:
        found = stateless.read(conn, ctx.config, db, [int(ident)], ["name", "mimetype", "datas"])
    if not found or found[0]["datas"] is False:
        return httpio.error_page(404)
    record = found[0]
    headers = [("Content-Type", str(record["mimetype"] or "application/octet-stream")),
               ("Cache-Control", "no-cache")]
    if ctx.request.args.get("download") == "true":
        headers.append(("Content-Disposition", f'attachment; filename="{record["name"]}"'))
    return httpio.Response(200, base64.b64decode(str(record["datas"])), headers)


def websocket_route(ctx: RequestContext) -> httpio.Response:
    response = websocket.handshake(ctx.request.headers)
    if ctx.services.kind == "prefork":
        # A prefork HTTP worker's WSGI environ has no 'socket' to hand over (KeyError in real Odoo).
        raise RuntimeError(f"Couldn't bind the websocket. Is the connection opened on the evented port "
                           f"({ctx.config.evented_port})?")
    stopping = ctx.services.stopping
    response.upgrade = lambda sock: websocket.serve(sock, stopping)
    ctx.session.is_dirty = True  # the session must be persisted for websocket authentication
    return response


def longpolling_poll(ctx: RequestContext) -> list[Any]:
    if ctx.services.kind == "prefork":
        raise Exception("bus.Bus unavailable")  # the message real Odoo <= 15 gives
    ctx.services.stopping.wait(ctx.config.sim.longpolling_timeout)
    return []


def build(release: Release) -> list[Route]:
    """Return the route table of ``release``."""
    client_paths = ["/web", "/odoo"] if release.major >= 18 else ["/web"]
    routes = [
        Route("/web/health", health, save_session=False),
        Route("/", index),
        *(Route(path, web_client) for path in client_paths),
        Route("/web/login", web_login),
        Route("/web/session/logout", logout),
        Route("/web/session/get_session_info", get_session_info, type="json", auth="user"),
        Route("/web/session/authenticate", authenticate, type="json"),
        Route("/web/session/destroy", destroy, type="json", auth="user"),
        Route("/web/webclient/version_info", version_info, type="json"),
        Route("/xmlrpc/2/", lambda ctx: rpc.xmlrpc_handler(ctx, numeric=True), methods=("POST",), csrf=False,
              save_session=False, prefix=True),
        Route("/xmlrpc/", lambda ctx: rpc.xmlrpc_handler(ctx, numeric=False), methods=("POST",), csrf=False,
              save_session=False, prefix=True),
        Route("/jsonrpc", rpc.jsonrpc_handler, type="json", save_session=False),
        Route("/web/content/", content, auth="user", prefix=True),
        *dbroutes.ROUTES,
    ]
    if release.major >= 18:
        routes.append(Route("/odoo/", web_client, prefix=True))
    if release.has_websocket:
        routes += [Route("/websocket", websocket_route, auth="public", websocket=True),
                   Route("/websocket/health", health, save_session=False)]
    else:
        routes.append(Route("/longpolling/poll", longpolling_poll, type="json", auth="public"))
    return routes
