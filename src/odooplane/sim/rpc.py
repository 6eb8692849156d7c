"""The external API: ``/xmlrpc/2/<service>``, ``/xmlrpc/<service>`` and ``/jsonrpc``.

Services ``common`` (version, login, authenticate, about), ``db`` (list,
server_version, db_exist, list_lang, and the master-password operations) and
``object`` (execute, execute_kw) behave as ``odoo/service/*.py``.  Like real
Odoo these routes ignore dbfilter: the database is an argument, so an edge
proxy must restrict them per tenant (``odooplane_dbrouter``, see ``dbrouter``,
refuses calls naming another database than the request's header).  XML-RPC faults use the codes of
``odoo/addons/base/controllers/rpc.py`` (3 access denied, 4 access error,
2 user error, 1 anything else with the traceback as faultString).
"""

from __future__ import annotations

import logging
import traceback
import xmlrpc.client
from typing import Any

from odooplane.sim import auth, database, dbmanager, dbrouter, httpio, logs, mail, orm, passwords, stateless
from odooplane.sim.app import RequestContext
from odooplane.sim.database import Connection
from odooplane.sim.exceptions import AccessDenied, AccessError, OdooError, UserError

_logger = logging.getLogger("odoo.service.db")


def _open(ctx: RequestContext, db: str) -> None:
    # Registry(db): an RPC call loads the database's registry in this process, as in real Odoo.
    ctx.services.registries.get(str(db))
    logs.set_dbname(str(db))


def common(ctx: RequestContext, method: str, params: list[Any]) -> Any:
    """``odoo.service.common.dispatch``."""
    release = ctx.config.release
    if method == "version":
        return release.rpc_version()
    if method == "about":
        return ["See http://openerp.com", release.version] if params and params[0] else "See http://openerp.com"
    if method == "set_loglevel":
        return True
    if method in ("login", "authenticate"):
        db, login, password = (str(p) for p in params[:3])
        _open(ctx, db)
        try:
            with ctx.cursor(db) as conn:
                return auth.authenticate(conn, db=db, login=login, password=password, interactive=False,
                                         rounds=ctx.config.sim.password_rounds, remote_addr=ctx.request.remote_addr)
        except AccessDenied:
            return False
    raise Exception(f"Method not found: {method}")  # Odoo raises a bare Exception here


def check_super(ctx: RequestContext, password: str) -> None:
    """``odoo.service.db.check_super``: raise AccessDenied unless ``password`` is the master password."""
    stored = ctx.config["admin_passwd"]
    if password and stored and passwords.verify(str(password), str(stored)):
        return
    raise AccessDenied()


def db_service(ctx: RequestContext, method: str, params: list[Any]) -> Any:
    """``odoo.service.db.dispatch``."""
    config = ctx.config
    if method == "list":
        if not config["list_db"]:
            raise AccessDenied()
        return database.list_dbs(config)
    if method == "server_version":
        return config.release.version
    if method == "db_exist":
        return database.db_exists(config, str(params[0]))
    if method == "list_lang":
        return [["en_US", "English (US)"]]
    if not hasattr(dbmanager, f"exp_{method}"):
        raise KeyError(f"Method not found: {method}")
    if not config["list_db"]:
        _logger.error("Database management functions blocked, admin disabled database listing")
        raise AccessDenied()
    check_super(ctx, str(params[0]) if params else "")
    return getattr(dbmanager, f"exp_{method}")(ctx, *params[1:])


def object_service(ctx: RequestContext, method: str, params: list[Any]) -> Any:
    """``odoo.service.model.dispatch``: execute / execute_kw after checking the credentials."""
    db, uid, password = str(params[0]), int(params[1]), str(params[2])
    _open(ctx, db)
    with ctx.cursor(db) as conn:
        auth.check(conn, uid, password, rounds=ctx.config.sim.password_rounds)
    if method == "execute_kw":
        model, name, args = params[3], params[4], list(params[5]) if len(params) > 5 else []
        kwargs = dict(params[6]) if len(params) > 6 and params[6] else {}
    elif method == "execute":
        model, name, args, kwargs = params[3], params[4], list(params[5:]), {}
    else:
        raise NameError(f"Method not available {method}")
    if str(name).startswith("_"):
        raise AccessError(f"Private methods (such as '{name}') cannot be called remotely.")
    with ctx.cursor(db) as conn:
        if model == "mail.mail" and name in ("create", "send") and mail.table_exists(conn):
            return _mail(conn, ctx, uid, str(name), args=args, kwargs=kwargs)
        if model == "ir.attachment" and name in ("create", "read"):
            return _attachment(conn, ctx, db, uid, str(name), args=args, kwargs=kwargs)
        env = orm.Env(conn, uid, is_system=auth.is_system(conn, uid))
        return call(env, str(model), str(name), args, kwargs)


def _mail(conn: Connection, ctx: RequestContext, uid: int, name: str, *, args: list[Any],
          kwargs: dict[str, Any]) -> Any:
    """``mail.mail.create`` (one dict or a list of them) and ``mail.mail.send`` (ids)."""
    first = args[0] if args else kwargs.get("vals_list" if name == "create" else "ids", [])
    if name == "create":
        if isinstance(first, dict):
            return mail.create(conn, uid, first)
        return [mail.create(conn, uid, dict(v)) for v in first]
    return mail.send(conn, ctx.config, [first] if isinstance(first, int) else [int(i) for i in first])


def _attachment(conn: Connection, ctx: RequestContext, db: str, uid: int, name: str, *, args: list[Any],
                kwargs: dict[str, Any]) -> Any:
    """``ir.attachment.create`` (one dict or a list) and ``read`` (contents where they are stored)."""
    first = args[0] if args else kwargs.get("vals_list" if name == "create" else "ids", [])
    if name == "create":
        if isinstance(first, dict):
            return stateless.create(conn, ctx.config, db, uid, first)
        return [stateless.create(conn, ctx.config, db, uid, dict(v)) for v in first]
    fields = args[1] if len(args) > 1 else kwargs.get("fields")
    return stateless.read(conn, ctx.config, db, [first] if isinstance(first, int) else [int(i) for i in first], fields)


def call(env: orm.Env, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call one model method with Odoo's positional/keyword conventions."""
    context = kwargs.pop("context", None) or {}
    active_test = bool(context.get("active_test", True))

    def arg(index: int, name: str, default: Any) -> Any:
        return args[index] if len(args) > index else kwargs.get(name, default)

    if method == "search":
        return env.search(model, arg(0, "domain", []), offset=arg(1, "offset", 0), limit=arg(2, "limit", None),
                          order=arg(3, "order", None), active_test=active_test)
    if method == "search_count":
        return env.search_count(model, arg(0, "domain", []), active_test=active_test)
    if method == "search_read":
        return env.search_read(model, arg(0, "domain", []), arg(1, "fields", None), offset=arg(2, "offset", 0),
                               limit=arg(3, "limit", None), order=arg(4, "order", None), active_test=active_test)
    if method == "read":
        ids = arg(0, "ids", [])
        return env.read(model, [ids] if isinstance(ids, int) else list(ids), arg(1, "fields", None))
    if model == "ir.config_parameter" and method in ("get_param", "set_param"):
        env.model(model)  # access check
        if method == "get_param":
            return auth.get_param(env.conn, str(arg(0, "key", "")), arg(1, "default", False))
        auth.set_param(env.conn, str(arg(0, "key", "")), str(arg(1, "value", "")))
        return True
    env.model(model)
    raise AttributeError(f"The method '{method}' does not exist on the model '{model}'")


SERVICES = {"common": common, "db": db_service, "object": object_service}


def dispatch(ctx: RequestContext, service: str, method: str, params: list[Any]) -> Any:
    """``http.dispatch_rpc`` (guarded by ``odooplane_dbrouter`` when it is loaded)."""
    if ctx.services.dbrouter:
        routed = dbrouter.routed_database(ctx.request.headers)
        if not dbrouter.rpc_allowed(service, method, params, routed):
            dbrouter.log_refused(service, method, params, routed)
            raise AccessDenied()
    if service not in SERVICES:
        raise KeyError(service)
    return SERVICES[service](ctx, method, params)


def _fault(exc: Exception, *, numeric: bool) -> xmlrpc.client.Fault:
    if isinstance(exc, OdooError):
        if numeric:
            return xmlrpc.client.Fault(exc.xmlrpc_fault_code, str(exc))
        if isinstance(exc, AccessDenied):
            return xmlrpc.client.Fault("AccessDenied", str(exc))  # type: ignore[arg-type]
        kind = "AccessError" if isinstance(exc, AccessError) else "UserError"
        return xmlrpc.client.Fault(f"warning -- {kind}\n\n{exc}", "")  # type: ignore[arg-type]
    formatted = "".join(traceback.format_exception(exc))
    return xmlrpc.client.Fault(1 if numeric else str(exc), formatted)  # type: ignore[arg-type]


def xmlrpc_handler(ctx: RequestContext, *, numeric: bool) -> httpio.Response:
    """Handle ``POST /xmlrpc[/2]/<service>``."""
    service = ctx.request.path.rstrip("/").rsplit("/", 1)[-1]
    try:
        params, method = xmlrpc.client.loads(ctx.request.body, use_datetime=True)
        result = dispatch(ctx, service, str(method), list(params))
        body = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
    except Exception as exc:  # every error becomes a fault, as in Odoo
        if not isinstance(exc, OdooError):
            logging.getLogger("odoo.http").error("Exception during RPC %s", service, exc_info=exc)
        body = xmlrpc.client.dumps(_fault(exc, numeric=numeric), methodresponse=True)
    return httpio.Response(200, body.encode("utf-8"), [("Content-Type", "text/xml; charset=utf-8")])


def jsonrpc_handler(ctx: RequestContext) -> Any:
    """Handle ``POST /jsonrpc`` (``type='jsonrpc'`` route: params service, method, args)."""
    params = ctx.params
    if not {"service", "method", "args"} <= set(params):
        raise UserError("jsonrpc() missing required arguments: service, method, args")
    return dispatch(ctx, str(params["service"]), str(params["method"]), list(params["args"]))
