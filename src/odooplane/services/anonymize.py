"""Deterministic replacement of personal data in a copy of an Odoo database.

Every value is derived from HMAC-SHA256(salt, "<model>:<id>"): the same salt on two copies of the
same database gives the same output, a different salt gives unrelated output, and nothing of the
original value survives (the generated values are fixed words plus hex digits). No mapping from
old to new values is stored anywhere: without the salt the originals cannot be told from the
copy, and with it they still cannot (the HMAC is of the record id, not of the value).

What is replaced (only where a value was present; empty fields stay empty):

- ``res_partner``: name, email, phone, mobile, street, street2, city, zip, vat, website,
  company_name; comment is emptied; the stored derivatives of those (complete_name,
  display_name before 17, commercial_company_name, email_normalized, phone_sanitized) follow.
- ``res_users``: login becomes ``user-<tag>@example.invalid``; signatures are emptied (admin's
  too). Passwords are untouched, so every user can still log in with the new login.

What is kept: the partners of the companies (``res_company.partner_id``: the company's identity
on every document, and ``res_company`` stores copies of their email/phone) and of Odoo's
technical users (``__system__``/OdooBot, public, the user templates), the login ``admin``, and
everything outside the two tables (see docs/neutralization.md).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from odooplane.errors import PermanentError, TemporaryError
from odooplane.services.postgres import ClusterConn, connect

Conn = psycopg.Connection[tuple[object, ...]]

TAG_LENGTH = 6
DOMAIN = "example.invalid"  # RFC 2606: can never be delivered
KEPT_LOGINS = ("admin", "__system__")
# res.users records that are Odoo's own, not people (base module xml ids)
TECHNICAL_USERS = ("user_root", "public_user", "default_user", "template_portal_user_id")

PARTNER_FIELDS = ("name", "email", "phone", "mobile", "street", "street2", "city", "zip", "vat", "website",
                  "comment", "company_name")


# -- pure value generation ----------------------------------------------------------------------

def digest(salt: str, model: str, record_id: int) -> str:
    """The full hex HMAC-SHA256 of ``model:id`` keyed by ``salt``."""
    if not salt:
        raise ValueError("anonymization needs a non-empty salt")
    return hmac.new(salt.encode(), f"{model}:{record_id}".encode(), hashlib.sha256).hexdigest()


def tags(salt: str, model: str, ids: Iterable[int], *, length: int = TAG_LENGTH) -> dict[int, str]:
    """A short tag per id, unique within ``ids``: the first ``length`` hex digits of the digest,
    lengthened (two digits at a time) for the ids whose prefixes collide. Deterministic for a
    given salt and set of ids."""
    digests = {record_id: digest(salt, model, record_id) for record_id in set(ids)}
    result: dict[int, str] = {}
    pending = set(digests)
    size = length
    while pending:
        if size > len(next(iter(digests.values()))):
            raise ValueError("identical digests for different ids")  # pragma: no cover - SHA-256
        groups: dict[str, list[int]] = {}
        for record_id in pending:
            groups.setdefault(digests[record_id][:size], []).append(record_id)
        pending = set()
        for prefix, members in groups.items():
            if len(members) == 1:
                result[members[0]] = prefix
            else:
                pending.update(members)
        size += 2
    return result


def partner_values(tag: str) -> dict[str, str | None]:
    """The replacement of each personal field of a partner whose tag is ``tag``."""
    return {
        "name": f"Partner {tag}",
        "email": f"partner-{tag}@{DOMAIN}",
        "phone": f"+00 000 {tag}",
        "mobile": f"+00 001 {tag}",
        "street": f"{tag} Anonymous Street",
        "street2": f"Unit {tag}",
        "city": f"City {tag}",
        "zip": f"{int(tag, 16) % 100000:05d}",
        "vat": f"XX{tag.upper()}",
        "website": f"https://partner-{tag}.{DOMAIN}",
        "comment": None,
        "company_name": f"Company {tag}",
    }


def user_login(tag: str) -> str:
    return f"user-{tag}@{DOMAIN}"


# -- the database -------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnonymizeReport:
    database: str
    partners: int  # partners whose personal fields were replaced
    partners_kept: int  # company and technical partners left as they were
    users: int  # users whose login was replaced
    users_kept: tuple[str, ...]  # logins left as they were


def _columns(conn: Conn, table: str) -> set[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                        "AND table_name = %s", (table,)).fetchall()
    return {str(name) for (name,) in rows}


def _ids(conn: Conn, query: str, params: tuple[object, ...] = ()) -> set[int]:
    return {int(str(row[0])) for row in conn.execute(query, params).fetchall() if row[0] is not None}


def anonymize(cluster: ClusterConn, database: str, *, salt: str) -> AnonymizeReport:
    """Replace the personal data of ``database``'s partners and users, in one transaction.

    Raise PermanentError if it is not an Odoo database, TemporaryError if a lock is held too long.
    """
    if not salt:
        raise PermanentError("anonymization needs a non-empty salt")
    try:
        with connect(cluster, database) as conn, conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '15s'")
            partner_cols = _columns(conn, "res_partner")
            user_cols = _columns(conn, "res_users")
            if not partner_cols or not user_cols or not _columns(conn, "res_company"):
                raise PermanentError(f"{database} is not an Odoo database (no res_partner/res_users/res_company)")
            technical_users = _ids(
                conn, "SELECT res_id FROM ir_model_data WHERE module = 'base' AND model = 'res.users' "
                      "AND name = ANY(%s) UNION SELECT id FROM res_users WHERE login = '__system__'",
                (list(TECHNICAL_USERS),))
            kept_partners = _ids(conn, "SELECT partner_id FROM res_company") | _ids(
                conn, "SELECT partner_id FROM res_users WHERE id = ANY(%s)", (sorted(technical_users),))
            partners = _ids(conn, "SELECT id FROM res_partner") - kept_partners
            _replace_partners(conn, partner_cols, tags(salt, "res.partner", partners))
            kept_users = technical_users | _ids(conn, "SELECT id FROM res_users WHERE login = ANY(%s)",
                                                (list(KEPT_LOGINS),))
            users = _ids(conn, "SELECT id FROM res_users") - kept_users
            _replace_users(conn, tags(salt, "res.users", users))
            if "signature" in user_cols:  # "<p>Firstname Lastname</p>" by default; admin's too
                conn.execute("UPDATE res_users SET signature = NULL WHERE signature IS NOT NULL "
                             "AND NOT id = ANY(%s)", (sorted(technical_users),))
            kept_logins = tuple(sorted(str(login) for (login,) in conn.execute(
                "SELECT login FROM res_users WHERE id = ANY(%s)", (sorted(kept_users),)).fetchall()))
    except psycopg.errors.LockNotAvailable as exc:
        raise TemporaryError(f"anonymizing {database}: a lock is held by another session", delay=10.0) from exc
    except psycopg.Error as exc:
        raise PermanentError(f"anonymizing {database} failed: {str(exc).strip().splitlines()[0]}") from exc
    return AnonymizeReport(database=database, partners=len(partners), partners_kept=len(kept_partners),
                           users=len(users), users_kept=kept_logins)


def _replace_partners(conn: Conn, columns: set[str], partner_tags: dict[int, str]) -> None:
    fields = [f for f in PARTNER_FIELDS if f in columns]
    if not partner_tags or not fields:
        return
    conn.execute(sql.SQL("CREATE TEMP TABLE odooplane_anon_partner (id integer PRIMARY KEY, {}) ON COMMIT DROP")
                 .format(sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f)) for f in fields)))
    copy_sql = sql.SQL("COPY odooplane_anon_partner (id, {}) FROM STDIN").format(
        sql.SQL(", ").join(sql.Identifier(f) for f in fields))
    with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for partner_id, tag in partner_tags.items():
            values = partner_values(tag)
            copy.write_row((partner_id, *(values[f] for f in fields)))
    assignments: list[sql.Composable] = []
    for f in fields:
        target = sql.Identifier(f)
        if f == "name":  # every partner gets a name (a contact without one shows its parent's)
            assignments.append(sql.SQL("name = a.name"))
        elif f == "comment":
            assignments.append(sql.SQL("comment = NULL"))
        else:
            assignments.append(sql.SQL("{} = CASE WHEN coalesce(p.{}::text, '') = '' THEN p.{} ELSE a.{} END")
                               .format(target, target, target, target))
    if "email_normalized" in columns and "email" in fields:
        assignments.append(sql.SQL("email_normalized = CASE WHEN p.email_normalized IS NULL THEN NULL "
                                   "ELSE lower(a.email) END"))
    if "phone_sanitized" in columns and {"phone", "mobile"} <= set(fields):
        assignments.append(sql.SQL(
            "phone_sanitized = CASE WHEN p.phone_sanitized IS NULL THEN NULL ELSE replace(CASE WHEN "
            "coalesce(p.mobile, '') <> '' THEN a.mobile ELSE a.phone END, ' ', '') END"))
    conn.execute(sql.SQL("UPDATE res_partner p SET {} FROM odooplane_anon_partner a WHERE a.id = p.id")
                 .format(sql.SQL(", ").join(assignments)))
    _recompute_names(conn, columns, sorted(partner_tags))


def _recompute_names(conn: Conn, columns: set[str], ids: list[int]) -> None:
    """The stored names Odoo derives from ``name`` (res.partner._compute_complete_name, …)."""
    if {"commercial_company_name", "commercial_partner_id", "is_company"} <= columns:
        company_name = "p.company_name" if "company_name" in columns else "NULL"
        conn.execute(
            "UPDATE res_partner p SET commercial_company_name = CASE WHEN c.is_company THEN c.name "
            f"ELSE {company_name} END FROM res_partner c WHERE c.id = p.commercial_partner_id "
            "AND p.commercial_company_name IS NOT NULL AND p.id = ANY(%s)", (ids,))
    if "parent_id" not in columns:
        full: sql.Composable = sql.SQL("p.name")
    else:
        company = (sql.SQL("coalesce(nullif(p.commercial_company_name, ''), parent.name)")
                   if "commercial_company_name" in columns else sql.SQL("parent.name"))
        individual = sql.SQL("NOT coalesce(p.is_company, false)") if "is_company" in columns else sql.SQL("TRUE")
        full = sql.SQL("CASE WHEN p.parent_id IS NOT NULL AND {} AND {} IS NOT NULL "
                       "THEN {} || ', ' || coalesce(p.name, '') ELSE p.name END").format(individual, company, company)
    parent_join = (sql.SQL("LEFT JOIN res_partner parent ON parent.id = p.parent_id") if "parent_id" in columns
                   else sql.SQL(""))
    for target in ("complete_name", "display_name"):  # display_name was stored until 16
        if target in columns:
            conn.execute(sql.SQL(
                "UPDATE res_partner t SET {} = x.full FROM (SELECT p.id, {} AS full FROM res_partner p {} "
                "WHERE p.id = ANY(%s)) x WHERE x.id = t.id").format(sql.Identifier(target), full, parent_join),
                (ids,))


def _replace_users(conn: Conn, user_tags: dict[int, str]) -> None:
    if not user_tags:
        return
    ids = sorted(user_tags)
    # Two steps, so that no intermediate state breaks the unique index on login.
    conn.execute("UPDATE res_users SET login = 'odooplane-anonymizing-' || id WHERE id = ANY(%s)", (ids,))
    with conn.cursor() as cursor:
        cursor.executemany("UPDATE res_users SET login = %s WHERE id = %s",
                           [(user_login(tag), user_id) for user_id, tag in user_tags.items()])
