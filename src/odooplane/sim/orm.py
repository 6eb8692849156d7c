"""Read-only model access for the ``object`` RPC service (``execute_kw``).

Supports ``search``, ``search_read``, ``search_count`` and ``read`` on
``res.partner``, ``res.users``, ``ir.module.module`` and ``ir.config_parameter``
(plus ``get_param``/``set_param`` on the latter), with Odoo domains (prefix
``&``/``|``/``!`` and leaves such as ``=``, ``in``, ``ilike``), ``active_test``,
many2one values as ``[id, display_name]``, translated fields in ``en_US`` and
``ir.config_parameter`` restricted to system users.  Writes are not simulated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from odooplane.sim.database import Connection, execute
from odooplane.sim.exceptions import AccessError, UserError


@dataclass(frozen=True)
class Model:
    """How one model maps onto SQL."""

    name: str
    description: str
    table: str  # FROM clause, aliased "t"
    fields: dict[str, str]  # field -> SQL expression
    many2one: dict[str, str]  # field -> SQL expression of the display name
    translated: frozenset[str] = frozenset()
    booleans: frozenset[str] = frozenset()
    has_active: bool = False
    system_only: bool = False


MODELS: dict[str, Model] = {
    "res.partner": Model(
        "res.partner", "Contact", "res_partner t LEFT JOIN res_company c ON c.id = t.company_id",
        {"id": "t.id", "name": "t.name", "display_name": "coalesce(t.complete_name, t.name)", "email": "t.email",
         "phone": "t.phone", "mobile": "t.mobile", "street": "t.street", "city": "t.city", "zip": "t.zip",
         "country_id": "t.country_id", "active": "t.active", "is_company": "t.is_company",
         "company_id": "t.company_id", "create_date": "t.create_date", "write_date": "t.write_date"},
        {"company_id": "c.name", "country_id": "NULL"}, booleans=frozenset({"active", "is_company"}), has_active=True),
    "res.users": Model(
        "res.users", "User", "res_users t LEFT JOIN res_partner p ON p.id = t.partner_id "
        "LEFT JOIN res_company c ON c.id = t.company_id",
        {"id": "t.id", "login": "t.login", "name": "p.name", "display_name": "p.name", "email": "p.email",
         "active": "t.active", "share": "t.share", "partner_id": "t.partner_id", "company_id": "t.company_id",
         "login_date": "t.login_date", "create_date": "t.create_date", "write_date": "t.write_date"},
        {"partner_id": "p.name", "company_id": "c.name"}, booleans=frozenset({"active", "share"}), has_active=True),
    "ir.module.module": Model(
        "ir.module.module", "Module", "ir_module_module t",
        {"id": "t.id", "name": "t.name", "state": "t.state", "latest_version": "t.latest_version",
         "shortdesc": "t.shortdesc", "display_name": "t.shortdesc", "summary": "t.summary", "author": "t.author",
         "license": "t.license", "application": "t.application", "demo": "t.demo", "auto_install": "t.auto_install",
         "create_date": "t.create_date", "write_date": "t.write_date"},
        {}, translated=frozenset({"shortdesc", "display_name", "summary"}),
        booleans=frozenset({"application", "demo", "auto_install"})),
    "ir.config_parameter": Model(
        "ir.config_parameter", "System Parameter", "ir_config_parameter t",
        {"id": "t.id", "key": "t.key", "value": "t.value", "display_name": "t.key",
         "create_date": "t.create_date", "write_date": "t.write_date"},
        {}, system_only=True),
}

_OPERATORS = {"=": "=", "!=": "<>", "<>": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "like": "LIKE",
              "ilike": "ILIKE", "not like": "NOT LIKE", "not ilike": "NOT ILIKE", "=like": "LIKE", "=ilike": "ILIKE"}


def _expr(model: Model, field: str) -> sql.Composable:
    if field not in model.fields:
        raise ValueError(f"Invalid field {field!r} on model {model.name!r}")
    column = sql.SQL(model.fields[field])
    return sql.SQL("({}->>'en_US')").format(column) if field in model.translated else column


def _leaf(model: Model, leaf: list[Any] | tuple[Any, ...]) -> tuple[sql.Composable, list[Any]]:
    field, operator, value = leaf
    if (field, operator, value) in ((1, "=", 1), (0, "=", 1)):
        return sql.SQL("TRUE" if field == 1 else "FALSE"), []
    column = _expr(model, str(field))
    operator = str(operator).lower()
    if operator in ("in", "not in"):
        values = list(value) if isinstance(value, list | tuple) else [value]
        clause = sql.SQL("{} = ANY(%s)" if operator == "in" else "NOT ({} = ANY(%s))").format(column)
        return clause, [values]
    if operator not in _OPERATORS:
        raise ValueError(f"Invalid operator {operator!r} in domain")
    if value is False and operator in ("=", "!=", "<>") and field in model.booleans:
        # Odoo: a boolean "= False" also matches NULL
        return sql.SQL("{} IS NOT TRUE" if operator == "=" else "{} IS TRUE").format(column), []
    if value is False and operator in ("=", "!=", "<>"):
        return sql.SQL("{} IS NULL" if operator == "=" else "{} IS NOT NULL").format(column), []
    if operator in ("like", "ilike", "not like", "not ilike"):
        value = f"%{value}%"
    return sql.SQL("{} {} %s").format(column, sql.SQL(_OPERATORS[operator])), [value]


def where(model: Model, domain: list[Any], *, active_test: bool = True) -> tuple[sql.Composable, list[Any]]:
    """Translate an Odoo domain (Polish notation, implicit ``&``) into a WHERE clause and parameters."""
    terms = list(domain or [])
    mentions_active = any(isinstance(t, list | tuple) and len(t) == 3 and t[0] == "active" for t in terms)
    if model.has_active and active_test and not mentions_active:
        terms = ["&", ("active", "=", True), *terms] if terms else [("active", "=", True)]
    stack: list[tuple[sql.Composable, list[Any]]] = []
    for term in reversed(terms):
        if (term in ("&", "|") and len(stack) < 2) or (term == "!" and not stack):
            raise ValueError(f"Invalid domain {domain!r}: missing operand for {term!r}")
        if term in ("&", "|"):
            (left, lp), (right, rp) = stack.pop(), stack.pop()
            joiner = sql.SQL(" AND " if term == "&" else " OR ")
            stack.append((sql.SQL("({})").format(joiner.join([left, right])), lp + rp))
        elif term == "!":
            inner, params = stack.pop()
            stack.append((sql.SQL("(NOT {})").format(inner), params))
        elif isinstance(term, list | tuple) and len(term) == 3:
            stack.append(_leaf(model, term))
        else:
            raise ValueError(f"Invalid domain term {term!r}")
    clauses, params = [c for c, _ in reversed(stack)], [p for _, ps in reversed(stack) for p in ps]
    return (sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("TRUE")), params


def _order(model: Model, order: str | None) -> sql.Composable:
    parts = []
    for item in (order or "id").split(","):
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ValueError(f"Invalid order {order!r}")
        direction = sql.SQL(" DESC" if len(words) == 2 and words[1].lower() == "desc" else "")
        parts.append(sql.SQL("{}{}").format(_expr(model, words[0]), direction))
    return sql.SQL(", ").join(parts)


def _convert(model: Model, field: str, value: Any, display: Any) -> Any:
    if field in model.many2one:
        return [value, display or ""] if value is not None else False
    if field in model.translated and value is not None:
        data = value if isinstance(value, dict) else json.loads(value)
        return data.get("en_US", next(iter(data.values()), ""))
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return False if value is None else value


class Env:
    """``execute_kw`` on one database for one authenticated user."""

    def __init__(self, conn: Connection, uid: int, *, is_system: bool) -> None:
        self.conn, self.uid, self.is_system = conn, uid, is_system

    def model(self, name: str) -> Model:
        model = MODELS.get(name)
        if model is None:
            raise UserError(f"Object {name} doesn't exist")
        if model.system_only and not self.is_system:
            raise AccessError(f"You are not allowed to access '{model.description}' ({model.name}) records.")
        return model

    def search(self, name: str, domain: list[Any], *, offset: int = 0, limit: int | None = None,
               order: str | None = None, active_test: bool = True) -> list[int]:
        model = self.model(name)
        clause, params = where(model, domain, active_test=active_test)
        query = sql.SQL("SELECT t.id FROM {} WHERE {} ORDER BY {} OFFSET %s LIMIT %s").format(
            sql.SQL(model.table), clause, _order(model, order))
        return [int(row[0]) for row in execute(self.conn, query, [*params, offset or 0, limit])]

    def search_count(self, name: str, domain: list[Any], *, active_test: bool = True) -> int:
        model = self.model(name)
        clause, params = where(model, domain, active_test=active_test)
        row = execute(self.conn, sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.SQL(model.table), clause),
                      params).fetchone()
        return int(row[0]) if row else 0

    def read(self, name: str, ids: list[int], fields: list[str] | None = None) -> list[dict[str, Any]]:
        model = self.model(name)
        wanted = [f for f in (fields or list(model.fields)) if f != "id"]
        columns: list[sql.Composable] = [sql.SQL("t.id")]
        for field in wanted:
            columns.append(_expr(model, field))
            columns.append(sql.SQL(model.many2one.get(field, "NULL")))
        query = sql.SQL("SELECT {} FROM {} WHERE t.id = ANY(%s)").format(sql.SQL(", ").join(columns),
                                                                         sql.SQL(model.table))
        rows = {int(row[0]): row for row in execute(self.conn, query, [list(ids)])}
        result = []
        for record_id in ids:
            row = rows.get(int(record_id))
            if row is None:
                continue
            record: dict[str, Any] = {"id": int(record_id)}
            for index, field in enumerate(wanted):
                record[field] = _convert(model, field, row[1 + 2 * index], row[2 + 2 * index])
            result.append(record)
        return result

    def search_read(self, name: str, domain: list[Any], fields: list[str] | None = None, *, offset: int = 0,
                    limit: int | None = None, order: str | None = None, active_test: bool = True) -> list[Any]:
        ids = self.search(name, domain, offset=offset, limit=limit, order=order, active_test=active_test)
        return self.read(name, ids, fields)
