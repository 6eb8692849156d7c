"""Name and identifier rules: the one place that decides what may reach SQL, a shell or DNS.

Tenant, environment, stack, cluster and pool names are lowercase DNS labels that are also valid
PostgreSQL identifiers once joined (``<tenant>_<env>`` is at most 51 characters, below the
63-byte identifier limit). Only ASCII is accepted, so unicode look-alikes are refused.
"""

from __future__ import annotations

import re

TENANT_MAX = 30
ENV_MAX = 20
NAME_MAX = 30

_LABEL = r"[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*"
_LABEL_RE = re.compile(rf"^{_LABEL}$")
_HOST_LABEL_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$")
_MODULE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_OPTION_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SQL_IDENT_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


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
    if not _LABEL_RE.match(value):
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
        if not _HOST_LABEL_RE.match(label):
            raise ValueError(f"{value!r} is not a hostname (label {label!r} is invalid)")
    return value


def check_module(value: str) -> str:
    if not isinstance(value, str) or not _MODULE_RE.match(value):
        raise ValueError(f"{value!r} is not an Odoo module name (lowercase letters, digits, '_')")
    return value


def check_option_key(value: str) -> str:
    if not _OPTION_KEY_RE.match(value):
        raise ValueError(f"{value!r} is not an odoo.conf option name (lowercase letters, digits, '_')")
    return value


def check_env_var(value: str) -> str:
    if not _ENV_VAR_RE.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def database_name(tenant: str, env: str) -> str:
    """Return the PostgreSQL database (and role) name of ``tenant``/``env``.

    '_' cannot appear in tenant or environment names, so the mapping is one-to-one.
    """
    return sql_identifier(f"{tenant}_{env}")


def sql_identifier(value: str) -> str:
    """Return ``value`` if it is safe as a PostgreSQL identifier (still always passed quoted)."""
    if not _SQL_IDENT_RE.match(value):
        raise ValueError(f"{value!r} is not a safe PostgreSQL identifier")
    return value


def default_hostname(tenant: str, env: str, base_domain: str) -> str:
    return f"{tenant}-{env}.{base_domain}"
