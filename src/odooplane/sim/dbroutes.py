"""``/web/database/*``: the database manager pages and actions of the ``web`` module.

With ``list_db`` off (what production should run) the selector and manager
pages still answer 200 but show "The database manager has been disabled by
the administrator", ``/web/database/list`` returns an ``AccessDenied``
JSON-RPC error, and every action (backup, drop, duplicate, ...) answers an
HTTP 200 page saying ``Database <verb> error: Access Denied``, except when the
master password is still the default ``admin`` and one is submitted: Odoo
then tries to change it first and the request fails with 403.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable

from odooplane.sim import dbmanager, httpio, pages, passwords, rpc
from odooplane.sim.app import RequestContext, Route
from odooplane.sim.exceptions import AccessDenied, UserError

_logger = logging.getLogger("odoo.addons.web.controllers.database")


def _render(ctx: RequestContext, *, manage: bool, error: str = "") -> httpio.Response:
    try:
        databases = ctx.db_list()
    except AccessDenied:
        databases = [ctx.db] if ctx.db else []
    return httpio.html_response(pages.database_manager(databases=databases, list_db=bool(ctx.config["list_db"]),
                                                       manage=manage, error=error))


def selector(ctx: RequestContext) -> httpio.Response:
    return _render(ctx, manage=False)


def manager(ctx: RequestContext) -> httpio.Response:
    return _render(ctx, manage=True)


def list_databases(ctx: RequestContext) -> list[str]:
    return ctx.db_list()


Action = Callable[[RequestContext], httpio.Response]


def _action(label: str, run: Action) -> Action:
    def handler(ctx: RequestContext) -> httpio.Response:
        master_pwd = str(ctx.params.get("master_pwd", ""))
        stored = str(ctx.config["admin_passwd"] or "")
        if master_pwd and stored and passwords.verify("admin", stored) and not ctx.config["list_db"]:
            # change_admin_password is itself blocked: AccessDenied escapes the try block -> 403.
            raise AccessDenied()
        try:
            if not ctx.config["list_db"]:
                _logger.error("Database management functions blocked, admin disabled database listing")
                raise AccessDenied()
            rpc.check_super(ctx, master_pwd)
            return run(ctx)
        except Exception as exc:  # Odoo renders every failure in the page
            _logger.exception("Database.%s", label)
            return _render(ctx, manage=True, error=f"Database {label} error: {exc}")

    return handler


def _backup(ctx: RequestContext) -> httpio.Response:
    name, backup_format = str(ctx.params.get("name", "")), str(ctx.params.get("backup_format", "zip"))
    if name not in ctx.db_list():
        raise Exception(f"Database {name!r} is not known")  # Odoo's own message
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d_%H-%M-%S")
    body = dbmanager.dump(ctx, name, backup_format)
    return httpio.Response(200, body, [("Content-Type", "application/octet-stream; charset=binary"),
                                       ("Content-Disposition", f"attachment; filename*=UTF-8''{name}_{stamp}."
                                                               f"{backup_format}")])


def _drop(ctx: RequestContext) -> httpio.Response:
    name = str(ctx.params.get("name", ""))
    dbmanager.exp_drop(ctx, name)
    if ctx.session.db == name:
        ctx.session.logout()
    return httpio.redirect("/web/database/manager")


def _duplicate(ctx: RequestContext) -> httpio.Response:
    dbmanager.exp_duplicate_database(ctx, str(ctx.params.get("name", "")), str(ctx.params.get("new_name", "")),
                                     ctx.params.get("neutralize_database", False))
    return httpio.redirect("/web/database/manager")


def _unsupported(ctx: RequestContext) -> httpio.Response:
    raise UserError("not simulated: create databases with `-d DB -i base` and restore with pg_restore")


ROUTES = [
    Route("/web/database/selector", selector),
    Route("/web/database/manager", manager),
    Route("/web/database/list", list_databases, type="json"),
    Route("/web/database/backup", _action("backup", _backup), methods=("POST",), csrf=False),
    Route("/web/database/drop", _action("deletion", _drop), methods=("POST",), csrf=False),
    Route("/web/database/duplicate", _action("duplication", _duplicate), methods=("POST",), csrf=False),
    Route("/web/database/create", _action("creation", _unsupported), methods=("POST",), csrf=False),
    Route("/web/database/restore", _action("restore", _unsupported), methods=("POST",), csrf=False),
    Route("/web/database/change_password", _action("password update", _unsupported), methods=("POST",),
          csrf=False),
]
