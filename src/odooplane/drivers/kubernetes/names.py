"""Kubernetes names of an estate's things — one injective mapping, so no two things share an object.

Tenant, environment and pool names are DNS labels without ``--`` and ``_`` (estate/names.py): an
environment's objects are ``<tenant>--<env>`` (at most 30 + 2 + 20 = 52 characters, so a
``-evented`` suffix still fits a Service name's 63), a pool's ``pool--<pool>`` (``pool`` is a
reserved tenant name), a database role's ``_`` becomes ``--`` (``acme_prod`` → ``acme--prod``).
"""

from __future__ import annotations

import re

from odooplane.estate.models import KubernetesSettings

_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_WORKLOAD_RE = re.compile(r"odoo-(?P<tenant>[a-z0-9-]+)__(?P<env>[a-z0-9-]+)|pool-(?P<pool>[a-z0-9-]+?)-(?P<index>\d+)")


def check(name: str, what: str) -> str:
    """``name`` if it is a DNS label (63 at most); ValueError naming ``what`` otherwise."""
    if not _LABEL_RE.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a Kubernetes name (a DNS label of at most 63 characters)")
    return name


def env_base(tenant: str, env: str) -> str:
    return check(f"{tenant}--{env}", "environment object name")


def pool_base(pool: str) -> str:
    return check(f"pool--{pool}", "pool object name")


def role_name(db_user: str) -> str:
    """A PostgreSQL role (``acme_prod``, ``pool_shared18``) as a name part (``acme--prod``)."""
    return check(db_user.replace("_", "--"), "role object name")


def database_object(database: str) -> str:
    """The CloudNativePG Database object of an environment's database (``acme_prod`` → ``acme--prod``)."""
    return check(database.replace("_", "--"), "database object name")


def tenant_namespace(settings: KubernetesSettings, tenant: str) -> str:
    if settings.namespaces == "single":
        return settings.namespace
    return check(f"{settings.namespace_prefix}{tenant}", "tenant namespace")


def pool_namespace(settings: KubernetesSettings, pool: str) -> str:
    if settings.namespaces == "single":
        return settings.namespace
    return check(f"{settings.namespace_prefix}pool-{pool}", "pool namespace")


def placement(settings: KubernetesSettings, *, tenant: str, env: str, pool: str | None) -> tuple[str, str]:
    """(namespace, object base) of what serves an environment: its own objects, or its pool's."""
    if pool is not None:
        return pool_namespace(settings, pool), pool_base(pool)
    return tenant_namespace(settings, tenant), env_base(tenant, env)


def parse_workload(name: str) -> tuple[str, str] | tuple[str, int]:
    """``odoo-<tenant>__<env>`` → (tenant, env); ``pool-<pool>-<i>`` → (pool, i); ValueError otherwise."""
    found = _WORKLOAD_RE.fullmatch(name)
    if found is None:
        raise ValueError(f"workload {name!r} is neither an environment's nor a pool process's")
    if found["pool"] is not None:
        return found["pool"], int(found["index"])
    return found["tenant"], found["env"]
