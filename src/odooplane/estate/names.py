"""Name and identifier rules: the one place that decides what may reach SQL, a shell or DNS.

Tenant, environment, stack, cluster and pool names are lowercase DNS labels that are also valid
PostgreSQL identifiers once joined (``<tenant>_<env>`` is at most 51 characters, below the
63-byte identifier limit). Only ASCII is accepted, so unicode look-alikes are refused. Every rule
matches the whole value (``fullmatch``): a trailing newline is not part of a name.

Generated PostgreSQL names never collide, by construction: labels hold no ``_``, so an
environment's ``<tenant>_<env>`` has exactly one; pools' roles ``pool_<pool>`` would be the
environment names of a tenant called ``pool``, which is therefore reserved (as is ``pg``:
PostgreSQL refuses roles named ``pg_*``); temporary copies add ``__<purpose>``, templates and
sandboxes use ``-`` (``tpl-…``, ``vfy-…``), and new databases start ``opl_new_`` + 12 hex digits.
"""

from __future__ import annotations

import re

TENANT_MAX = 30
ENV_MAX = 20
NAME_MAX = 30

_LABEL = r"[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*"
_LABEL_RE = re.compile(_LABEL)
_HOST_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MODULE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_OPTION_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ENV_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_SQL_IDENT_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")

POOL_ROLE_PREFIX = "pool_"
# Tenant names that would make ``<tenant>_<env>`` another kind of generated name, or one
# PostgreSQL refuses: why each is reserved.
RESERVED_TENANTS = {
    "pool": "the database roles of pools are named pool_<pool>",
    "pg": "PostgreSQL reserves role names starting with pg_",
}


def check_label(value: str, *, max_len: int, what: str) -> str:
    """Return ``value`` if it is a lowercase DNS label of at most ``max_len`` characters.

    Raise ValueError with a message naming the rule otherwise.
    """
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if not value.isascii():
        raise ValueError(f"{what} {value!r} contains non-ASCII characters (only a-z, 0-9 and '-')")
    if len(value) > max_len:
        raise ValueError(f"{what} {value[:40]!r}… is {len(value)} characters long (at most {max_len})")
    if not _LABEL_RE.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} is not a lowercase DNS label "
            "(a letter, then letters, digits or single '-', not ending with '-')"
        )
    return value


def check_hostname(value: str) -> str:
    """Return ``value`` if it is a lowercase ASCII hostname (punycode for IDNs); raise ValueError."""
    if not isinstance(value, str):
        raise ValueError("hostname must be a string")
    if not value.isascii():
        raise ValueError(f"{value!r} is not ASCII (write internationalised names in punycode: xn--…)")
    if value != value.lower():
        raise ValueError(f"{value!r} is not a lowercase hostname")
    if len(value) > 253 or not value:
        raise ValueError(f"{value[:40]!r} is not a hostname (1 to 253 characters)")
    labels = value.split(".")
    for label in labels:
        if not _HOST_LABEL_RE.fullmatch(label):
            raise ValueError(f"{value!r} is not a hostname (label {label!r} is invalid)")
    return value


def check_module(value: str) -> str:
    if not isinstance(value, str) or not _MODULE_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an Odoo module name (lowercase letters, digits, '_')")
    return value


def check_option_key(value: str) -> str:
    if not _OPTION_KEY_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an odoo.conf option name (lowercase letters, digits, '_')")
    return value


def check_env_var(value: str) -> str:
    if not _ENV_VAR_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def check_tenant(value: str) -> str:
    """Return ``value`` if it is a tenant name: a label that is not reserved; raise ValueError."""
    check_label(value, max_len=TENANT_MAX, what="tenant name")
    if value in RESERVED_TENANTS:
        raise ValueError(f"tenant name {value!r} is reserved: {RESERVED_TENANTS[value]}")
    return value


def pool_role(pool: str) -> str:
    """Return the PostgreSQL role owning the databases of ``pool`` (distinct from every
    environment's role because the tenant name ``pool`` is reserved)."""
    return sql_identifier(f"{POOL_ROLE_PREFIX}{pool}")


def printable(text: str) -> str:
    """Return ``text`` with every non-printable character escaped, so it prints on one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def database_name(tenant: str, env: str) -> str:
    """Return the PostgreSQL database (and role) name of ``tenant``/``env``.

    '_' cannot appear in tenant or environment names, so the mapping is one-to-one.
    """
    return sql_identifier(f"{tenant}_{env}")


def sql_identifier(value: str) -> str:
    """Return ``value`` if it is safe as a PostgreSQL identifier (still always passed quoted)."""
    if not _SQL_IDENT_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a safe PostgreSQL identifier")
    return value


def default_hostname(tenant: str, env: str, base_domain: str) -> str:
    return f"{tenant}-{env}.{base_domain}"
