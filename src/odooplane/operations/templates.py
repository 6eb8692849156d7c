"""Template provisioning: per (cluster, stack, module set) a template database initialised once,
warmed, sealed (a template nobody can connect to); a new environment is then a copy of it —
``CREATE DATABASE … TEMPLATE`` plus a hard-linked filestore — instead of an Odoo init."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

import odooplane
from odooplane import faults
from odooplane.drivers.base import FilestoreRef, OdooCommand, OdooWorkload
from odooplane.errors import PermanentError
from odooplane.estate.models import Stack
from odooplane.estate.resolve import DesiredEnvironment, stack_source
from odooplane.operations import temporaries
from odooplane.operations.context import Context
from odooplane.operations.desired import CREATING, EnvArtifacts, stack_ref
from odooplane.render import odoo_conf
from odooplane.services import odoo, odoo_db, passwords, postgres
from odooplane.services.postgres import ClusterConn
from odooplane.store.ports import port_is_free

logger = logging.getLogger(__name__)
PREFIX = "tpl-"
_ASSET = re.compile(r"""(?:src|href)="(/web/assets/[^"]+)\"""")


@dataclass(frozen=True)
class DesiredTemplate:
    key: str
    stack_name: str
    stack: Stack
    cluster_name: str
    modules: tuple[str, ...]

    @property
    def database(self) -> str:
        return f"{PREFIX}{self.key}"

    @property
    def role(self) -> str:
        return f"{PREFIX}{self.key}"

    @property
    def target(self) -> str:
        return f"template/{self.key}"


def stack_fingerprint(ctx: Context, stack: Stack) -> str:
    """What makes a template stale when it changes: the series, the runtime and its code."""
    parts = [stack.series, ",".join(stack.server_wide_modules), ",".join(stack.addons_paths)]
    if stack.simulator:
        parts.append(f"simulator {odooplane.__version__}")
    else:
        source = stack_source(stack, ctx.valid.path)
        assert source is not None
        parts.append(str(source))
        release = source / "odoo" / "release.py"
        parts.append(hashlib.sha256(release.read_bytes()).hexdigest() if release.exists() else "")
        head = source / ".git" / "HEAD"
        parts.append(head.read_text().strip() if head.exists() else "")
        parts.append(stack.python or "")
    return "|".join(parts)


def _key(estate_id: str, fingerprint: str, cluster: str, modules: tuple[str, ...]) -> str:
    """Templates belong to one estate (its id is in the key): two estates on one cluster never
    share — or drop — each other's."""
    text = f"{estate_id}|{fingerprint}|{cluster}|{','.join(modules)}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def desired(ctx: Context) -> list[DesiredTemplate]:
    """The templates worth keeping: each module set a stack declares, on each cluster where a
    shared pool of that stack runs — and nowhere else.

    A template costs an Odoo init and a warm-up (about a minute on real Odoo) and saves one per
    environment later created from it. Only a pool keeps getting new environments (small tenants,
    many, coming and going), so only a pool pays that back. An environment on a release is never
    created from one (it runs the release's addons, which a template of the stack's code lacks): its
    release is no reason to build one. A dedicated environment is created from one only where a
    pool's template is there anyway: a lone dedicated environment would pay a template to save an init.
    """
    wanted: dict[str, DesiredTemplate] = {}
    for pool in ctx.valid.pools:
        for module_set in pool.stack.templates:
            modules = tuple(sorted(set(module_set)))
            key = _key(ctx.estate_id, stack_fingerprint(ctx, pool.stack), pool.cluster_name, modules)
            wanted.setdefault(key, DesiredTemplate(key, pool.stack_name, pool.stack, pool.cluster_name, modules))
    return sorted(wanted.values(), key=lambda t: t.key)


def for_environment(ctx: Context, env: DesiredEnvironment) -> DesiredTemplate | None:
    """The template a new ``env`` is copied from, or None (Odoo init): one of :func:`desired` of its
    stack and cluster with exactly its module set, and never for an environment on a release."""
    if env.release is not None:
        return None
    modules = tuple(sorted(set(env.modules) - {"base"}))
    for template in desired(ctx):
        if (template.stack_name, template.cluster_name) == (env.stack_name, env.cluster_name) and tuple(
            m for m in template.modules if m != "base"
        ) == modules:
            return template
    return None


# -- building -----------------------------------------------------------------------------------


def workload(ctx: Context, template: DesiredTemplate, cluster: ClusterConn, password: str) -> OdooWorkload:
    """The Odoo that builds and warms ``template`` (never supervised)."""
    http_port = _free_port()
    return OdooWorkload(
        name=f"tpl-{template.key}", role="template", target=template.target, stack=stack_ref(ctx, template.stack),
        # No dbfilter and a db_name: Odoo then serves db_name without requiring that the role owns
        # it (the template database belongs to the administrator).
        settings=odoo_conf.OdooSettings(
            series_major=template.stack.major, db_user=template.role, db_password=password,
            db_name=template.database, dbfilter="",
            admin_passwd_hash=passwords.hash_password(secrets.token_urlsafe(24), rounds=1000),
            workers=0, max_cron_threads=0, server_wide_modules=tuple(template.stack.server_wide_modules)),
        cluster=template.cluster_name, cluster_address=(cluster.host, cluster.port), storage=f"tpl-{template.key}",
        http_port=http_port, evented_port=http_port + 1, evented=False)


def build(ctx: Context, template: DesiredTemplate, cluster: ClusterConn, *, operation_id: int | None = None) -> None:
    """Initialise, warm and seal ``template`` on ``cluster``. A half-built one is started again."""
    comment = postgres.marker(ctx.estate_id, template.target)
    state = postgres.template_state(cluster, template.database)
    owned = postgres.owned_databases(cluster, ctx.estate_id).get(template.database)
    if state is not None and owned is None:
        raise PermanentError(f"database {template.database} exists on cluster {cluster.name} and is not "
                             "managed by this estate")
    if state is not None and state == (True, False):
        return  # built and sealed
    if state is not None:
        postgres.drop_database(cluster, template.database)
    ctx.driver.storage.remove_storage(f"tpl-{template.key}")  # what a half-built one left in its data_dir
    password = ctx.secrets.get_or_create(f"template/{template.key}/db_password")
    postgres.ensure_role(cluster, role=template.role, password=password, comment=comment)
    # The database belongs to the administrator, its objects to the template role: a copy then
    # hands the objects over with REASSIGN OWNED without touching the template itself.
    temporaries.create_database(ctx, cluster, database=template.database, owner=cluster.user, comment=comment,
                                target=template.target, operation_id=operation_id)
    postgres.grant_schema_create(cluster, database=template.database, role=template.role)
    postgres.grant_connect(cluster, database=template.database, role=template.role)
    w = workload(ctx, template, cluster, password)
    ctx.driver.run_odoo(OdooCommand(
        workload=w, args=tuple(odoo.init_args(database=template.database, modules=list(template.modules))),
        what="Odoo init of a template", log_name="init", secrets=(password,)))
    _warm(ctx, w)
    postgres.seal_template(cluster, template.database)


def _free_port() -> int:
    import socket

    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port_is_free(port + 1):
            return port
    raise RuntimeError("no free port pair for warming a template")


def _warm(ctx: Context, w: OdooWorkload) -> None:
    """Serve the template once and load its login page and web client, so that the asset
    bundles Odoo generates lazily are in the template, not compiled again by every tenant."""
    import httpx  # a session with cookies and forms; only needed here

    try:
        with ctx.driver.scratch_odoo(w) as base, httpx.Client(base_url=base, timeout=120) as client:
            page = client.get("/web/login")
            token = re.search(r'name="csrf_token"\s+value="([^"]+)"', page.text)
            if token:
                client.post(
                    "/web/login",
                    data={"login": "admin", "password": "admin", "csrf_token": token.group(1), "redirect": ""},
                )
            for path in ("/web/login", "/odoo" if w.stack.series_major >= 18 else "/web"):
                body = client.get(path).text
                for asset in sorted(set(_ASSET.findall(body)))[:20]:
                    client.get(asset)
    except PermanentError as exc:
        logger.warning("template warm-up: %s; the template is not warmed", exc.message)
    except httpx.HTTPError as exc:
        logger.warning("template warm-up incomplete: %s", exc)


def copy_into(ctx: Context, template: DesiredTemplate, art: EnvArtifacts, *, operation_id: int | None = None) -> None:
    """Create the environment's database as a copy of ``template`` (marked "creating" until the
    caller gives it its identity) and give it its filestore."""
    env = art.env
    temporaries.create_database(ctx, art.cluster, database=env.database, template=template.database, owner=env.role,
                                comment=postgres.marker(ctx.estate_id, str(env.ref), state=CREATING),
                                target=str(env.ref), operation_id=operation_id)
    faults.point("from-template:copied")
    odoo_db.take_ownership(art.cluster, env.database, from_role=template.role, to_role=env.role)
    ctx.driver.storage.copy(FilestoreRef(f"tpl-{template.key}", template.database), art.filestore_ref)


def remove(ctx: Context, cluster: ClusterConn, database: str, key: str) -> None:
    """Drop a template no longer wanted (it holds no tenant data), its role and files."""
    postgres.drop_database(cluster, database)
    postgres.drop_role(cluster, database)
    ctx.driver.storage.remove_storage(f"tpl-{key}")  # with its one-shot workload's home (odoo.conf, logs)
    ctx.secrets.delete_prefix(f"template/{key}/")
