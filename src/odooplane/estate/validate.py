"""Validation in stages — load → normalise → schema → cross-checks — reporting every problem at
once, each with the file, line and dotted path it concerns."""

from __future__ import annotations

import difflib
import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from odooplane.errors import EstateInvalid, Problem
from odooplane.estate import change, guardrails, models, names, policies, resolve
from odooplane.estate import load as loader
from odooplane.estate.models import (
    MAIL_CATCHER_OPTIONS,
    REAL_MAIL_STAGES,
    Estate,
    Limits,
    ManagedCluster,
    Resources,
    SharedPlacement,
    Stateless,
)

_SECRET_FIELDS = ("password", "secret", "token", "key")


@dataclass(frozen=True)
class ValidEstate:
    """An estate that passed every stage, with its environments resolved."""

    path: Path
    estate: Estate
    environments: tuple[resolve.DesiredEnvironment, ...]
    data_dir: Path
    pools: tuple[resolve.DesiredPool, ...] = ()
    files: tuple[Path, ...] = ()  # every file it was read from (the estate file and its includes)

    def scheduled(self) -> bool:
        """Whether the worker is needed: it sweeps health and exports metrics for any environment,
        and fires schedules (backups, clusters' base backups)."""
        if self.environments:
            return True
        policies = self.estate.backups.policies
        clusters_with_pitr = any(isinstance(c, ManagedCluster) and c.pitr is not None
                                 for c in self.estate.clusters.values())
        return clusters_with_pitr or any(e.backup_policy is not None and policies[e.backup_policy].schedule
                                         is not None for e in self.environments)

    def pool(self, name: str) -> resolve.DesiredPool | None:
        return next((p for p in self.pools if p.name == name), None)

    def pool_members(self, name: str) -> list[resolve.DesiredEnvironment]:
        return [e for e in self.environments if e.pool == name]

    @cached_property
    def _by_ref(self) -> dict[resolve.EnvRef, resolve.DesiredEnvironment]:
        return {env.ref: env for env in self.environments}

    def environment(self, ref: resolve.EnvRef) -> resolve.DesiredEnvironment | None:
        return self._by_ref.get(ref)


def validate(path: Path) -> ValidEstate:
    """Return the validated estate at ``path``. Raise :class:`EstateInvalid` with every problem."""
    valid, problems = check(path)
    if problems or valid is None:
        raise EstateInvalid(problems or [Problem(str(path), "", "invalid estate")])
    return valid


def check(path: Path) -> tuple[ValidEstate | None, list[Problem]]:
    """Run every stage; return the valid estate (or None) and the list of problems, each
    printable on one line (control characters in names or file names are escaped)."""
    with cyclic_gc_paused():
        valid, problems = _check(path)
    return valid, [Problem(names.printable(p.source), names.printable(p.path), names.printable(p.message))
                   for p in problems]


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while an estate is read (or observed whole): it makes hundreds
    of thousands of objects that all live on, and each full collection would walk them again (half
    the time of a 10,000-environment estate). Reference counting still frees what is dropped; the
    work is bounded (file sizes, alias budget, one pass per environment), and collection resumes
    after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check(path: Path) -> tuple[ValidEstate | None, list[Problem]]:
    loaded = loader.load(path)
    if loaded.problems:
        return None, loaded.problems
    try:
        estate = Estate.model_validate(loaded.data)
    except ValidationError as exc:
        return None, schema_problems(exc, loaded)
    problems = cross_check(estate, loaded)
    if problems:
        return None, problems
    envs = tuple(resolve.environments(estate))
    problems = [
        Problem(loaded.origin(path), loader.format_path(path), message)
        for path, message in [*policies.check(estate, list(envs)), *guardrails.compile_rules(estate)[1]]
    ]
    if problems:
        return None, problems
    return ValidEstate(loaded.root, estate, envs, resolve.data_dir(estate, loaded.root),
                       tuple(resolve.pools(estate)), tuple(dict.fromkeys([loaded.root, *loaded.files]))), []


# --- schema stage -------------------------------------------------------------------------


def _walk(loc: tuple[str | int, ...], data: Any, kind: str) -> tuple[tuple[str | int, ...], int | None]:
    """Return ``loc`` without the names pydantic gives union members (a tag like ``managed``,
    a type like ``SharedPlacement``, ``literal['dedicated']`` or ``function-after[…]``), and
    where the first union is (an index into the returned location), if any.

    A part is a union member's name when the data has no such key there: every real key of
    the location exists in the data, except the last one of a missing-key error.
    """
    out: list[str | int] = []
    union_at: int | None = None
    value = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]" or (last and kind == "missing"):
            out.append(part)
        elif (isinstance(value, dict) and part in value) or (
                isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)):
            value = value[part]  # type: ignore[index]
            out.append(part)
        elif union_at is None:
            union_at = len(out)
    return tuple(out), union_at


def _schema_node(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    return node


def _allowed_keys(loc: tuple[str | int, ...], data: Any) -> list[str]:
    """Return the keys allowed at the mapping ``loc`` by walking the JSON Schema along it."""
    schema = models.json_schema()
    node = _schema_node(schema, schema)
    value = data
    for part in loc:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        node = _schema_node(schema, node)
        if "properties" in node and part in node["properties"]:
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        elif "items" in node:
            node = node["items"]
        else:
            return []
        node = _schema_node(schema, node)
        for key in ("oneOf", "anyOf"):
            if key in node:
                options = [_schema_node(schema, o) for o in node[key]]
                kind = value.get("kind") if isinstance(value, dict) else None
                chosen = [o for o in options if o.get("properties", {}).get("kind", {}).get("const") == kind]
                non_null = [o for o in options if o.get("type") != "null"]
                node = (chosen or non_null or options)[0]
    return sorted(_schema_node(schema, node).get("properties", {}))


def _is_secret_field(loc: tuple[str | int, ...]) -> bool:
    return any(isinstance(p, str) and any(s in p for s in _SECRET_FIELDS) for p in loc)


def _message(err: dict[str, Any], loc: tuple[str | int, ...], data: Any) -> tuple[tuple[str | int, ...], str]:
    kind = err["type"]
    msg: str = err["msg"]
    got = "" if _is_secret_field(loc) else f" (got {_short(err.get('input'))})"
    if loc and loc[-1] == "[key]":
        return loc[:-1], msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(loc[:-1], data)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else (f"; allowed: {', '.join(allowed)}" if allowed else "")
        return loc[:-1], f"unknown key {key!r}{hint}"
    if kind == "missing":
        return loc[:-1], f"missing required key {loc[-1]!r}"
    if kind in ("model_type", "model_attributes_type"):
        return loc, "should be a mapping (key: value)" + got
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return loc, "needs 'kind: external' (a URL) or 'kind: managed' (run by Odooplane)"
    if kind == "value_error":
        return loc, msg.removeprefix("Value error, ")
    if msg.startswith("Input should be "):
        return loc, "should be " + msg.removeprefix("Input should be ") + got
    if msg.startswith("String should "):
        return loc, "should " + msg.removeprefix("String should ") + got
    return loc, msg + got


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class _SchemaError:
    where: tuple[str | int, ...]
    message: str
    union_at: int | None  # the error is about one member of the union at where[:union_at]
    kind: str
    got: str
    reached: bool = False  # the value fit the member's shape, and the error is inside it


def _one_per_union(errors: list[_SchemaError]) -> list[_SchemaError]:
    """Pydantic reports a value that fits no member of a union once per member. Keep what
    helps: the errors of members the value reached into (a mapping for a model), else of
    members whose own rule ran (a name for a name), else one combined 'should be A or B'."""
    groups: dict[tuple[str | int, ...], list[_SchemaError]] = {}
    for err in errors:
        if err.union_at is not None:
            groups.setdefault(err.where[:err.union_at], []).append(err)
    out: list[_SchemaError] = []
    for err in errors:
        if err.union_at is None:
            out.append(err)
            continue
        group = groups.get(err.where[:err.union_at])
        if group is None:
            continue  # already reported with its group
        del groups[err.where[:err.union_at]]
        deeper = [e for e in group if e.reached]
        ran = [e for e in group if e.kind == "value_error"]
        if deeper or ran or len(group) == 1:
            out.extend(deeper or ran or group)
            continue
        wanted = list(dict.fromkeys(e.message.removeprefix("should be ").removesuffix(e.got) for e in group))
        shown = ", ".join(wanted[:-1]) + " or " + wanted[-1]
        out.append(_SchemaError(group[0].where[:group[0].union_at], f"should be {shown}{group[0].got}", None,
                                group[0].kind, group[0].got))
    return out


def schema_problems(exc: ValidationError, loaded: loader.Loaded) -> list[Problem]:
    errors: list[_SchemaError] = []
    for err in exc.errors():
        loc, union_at = _walk(tuple(err["loc"]), loaded.data, err["type"])
        where, message = _message(dict(err), loc, loaded.data)
        got = "" if _is_secret_field(loc) else f" (got {_short(err.get('input'))})"
        reached = union_at is not None and len(loc) > union_at and loc[union_at] != "[key]"
        if union_at is not None and len(where) < union_at:
            union_at = len(where)
        errors.append(_SchemaError(where, message, union_at, err["type"], got, reached))
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for found in _one_per_union(errors):
        key = (loader.format_path(found.where), found.message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(Problem(loaded.origin(found.where), loader.format_path(found.where), found.message))
    return problems


# --- cross-check stage ----------------------------------------------------------------------


def cross_check(estate: Estate, loaded: loader.Loaded) -> list[Problem]:
    """Check what one field cannot know alone: references, duplicates, ports, source trees."""
    problems: list[Problem] = []

    def add(path: tuple[str | int, ...], message: str) -> None:
        problems.append(Problem(loaded.origin(path), loader.format_path(path), message))

    platform = estate.platform
    if platform.default_stack and platform.default_stack not in estate.stacks:
        add(("platform", "default_stack"), f"unknown stack {platform.default_stack!r}{_known(estate.stacks)}")
    if platform.default_cluster and platform.default_cluster not in estate.clusters:
        add(("platform", "default_cluster"), f"unknown cluster {platform.default_cluster!r}{_known(estate.clusters)}")
    if platform.service is not None and platform.service.enabled and platform.driver != "local":
        add(("platform", "service"), f"apply keeps the service running on the local driver only: on {platform.driver}, "
                                     "run `odooplane serve` where it should run and remove platform.service")
    if platform.service is not None:
        listen_port = int(platform.service.listen.rsplit(":", 1)[1])
        taken = {"platform.metrics_port": platform.metrics_port, "platform.edge.http_port": platform.edge.http_port,
                 "platform.edge.api_port": platform.edge.api_port}
        for used_by, port in taken.items():
            if port == listen_port:
                add(("platform", "service", "listen"), f"port {listen_port} is {used_by} already")

    for name, stack in estate.stacks.items():
        source = resolve.stack_source(stack, loaded.root)
        if source is not None and not (source / "odoo-bin").is_file():
            add(("stacks", name, "source"), f"{source} has no odoo-bin (point it at an Odoo source tree)")
        if stack.python and not Path(stack.python).expanduser().exists():
            add(("stacks", name, "python"), f"interpreter {stack.python} does not exist")
        if stack.source and platform.driver == "compose" and not platform.compose.wheelhouse:
            add(("stacks", name, "source"), "on compose a source stack is built into an image with the wheels of its "
                                            "requirements: set platform.compose.wheelhouse (pip wheel -r "
                                            "requirements.txt -w DIR), or name an image instead")
        if stack.image and platform.driver == "local":
            add(("stacks", name, "image"), "the local driver runs Odoo from a source tree or the simulator: an "
                                           "image needs platform.driver: compose or kubernetes")
        if platform.driver == "kubernetes" and stack.source and not stack.image:
            add(("stacks", name, "source"), "on kubernetes a stack runs an image (a source tree of this host cannot "
                                            "run in a cluster): name it in stacks.<name>.image")
        if platform.driver == "kubernetes" and stack.addons_paths:
            add(("stacks", name, "addons_paths"), "on kubernetes addons are part of the stack's image (build one "
                                                  "with them and name it in image)")
    def stateless(path: tuple[str | int, ...], value: Stateless | None) -> None:
        if value is None:
            return
        if value.sessions and value.sessions not in estate.monitoring.redis:
            add((*path, "stateless", "sessions"),
                f"unknown Redis server {value.sessions!r} (under monitoring.redis){_known(estate.monitoring.redis)}")
        elif value.sessions and not estate.monitoring.redis[value.sessions].password:
            add((*path, "stateless", "sessions"),
                f"Redis server {value.sessions!r} has no password: its default user would let any tenant's Odoo "
                "read every other tenant's sessions (set monitoring.redis.<name>.password, the admin that creates "
                "one ACL user per environment)")
        if value.attachments and value.attachments not in estate.object_storage:
            add((*path, "stateless", "attachments"),
                f"unknown object storage {value.attachments!r} (under object_storage){_known(estate.object_storage)}")

    for name, stack in estate.stacks.items():
        stateless(("stacks", name), stack.stateless)
    for name, pool in estate.pools.items():
        stateless(("pools", name), pool.stateless)
    for tname, tenant in estate.tenants.items():
        for ename, env in tenant.environments.items():
            env_path = ("tenants", tname, "environments", ename)
            if env.stateless is not None and isinstance(env.placement, SharedPlacement):
                add((*env_path, "stateless"), "a pool tenant runs in its pool's processes: set stateless on the pool")
            stateless(env_path, env.stateless)
    if platform.driver == "kubernetes" and platform.kubernetes.object_store is None:
        for name, cluster in estate.clusters.items():
            if getattr(cluster, "pitr", None) is not None:
                add(("clusters", name, "pitr"), "on kubernetes CloudNativePG archives WAL and base backups to object "
                                                "storage: set platform.kubernetes.object_store")

    for tname, tenant in estate.tenants.items():
        for ename, env in tenant.environments.items():
            if env.resources is not None and isinstance(env.placement, SharedPlacement):
                add(("tenants", tname, "environments", ename, "resources"),
                    "a pool tenant runs in its pool's processes: set resources on the pool")
    if platform.compose.wheelhouse is not None:
        wheels = resolve.estate_path(platform.compose.wheelhouse, loaded.root)
        if not wheels.is_dir():
            add(("platform", "compose", "wheelhouse"), f"{wheels} is not a directory")
    for place, limits, resources in _limited(estate):
        if resources and resources.memory_mib is not None and resources.memory_mib < limits.memory_hard_mib:
            add((*place, "resources", "memory_mib"),
                f"{resources.memory_mib} MiB is below limits.memory_hard_mib ({limits.memory_hard_mib}): the engine "
                "would kill Odoo before Odoo recycles a worker (raise it, or lower the limits)")

    for rid, release in estate.releases.items():
        if release.stack not in estate.stacks:
            add(("releases", rid, "stack"), f"unknown stack {release.stack!r}{_known(estate.stacks)}")
        for index, directory in enumerate(release.addons):
            where = resolve.estate_path(directory, loaded.root)
            if not where.is_dir():
                add(("releases", rid, "addons", index), f"{where} is not a directory")

    for pname, pool in estate.pools.items():
        ppath: tuple[str | int, ...] = ("pools", pname)
        pstack = resolve.stack_name_of(estate, pool)
        if pstack is None:
            add(ppath, "no stack: set 'stack' here or platform.default_stack")
        elif pstack not in estate.stacks and pool.stack:
            add((*ppath, "stack"), f"unknown stack {pstack!r}{_known(estate.stacks)}")
        pcluster = resolve.cluster_name_of(estate, pool)
        if pcluster is None:
            add(ppath, "no cluster: set 'cluster' here or platform.default_cluster")
        elif pcluster not in estate.clusters and pool.cluster:
            add((*ppath, "cluster"), f"unknown cluster {pcluster!r}{_known(estate.clusters)}")

    backups = estate.backups
    for pname, policy in backups.policies.items():
        for index, repo in enumerate(policy.targets):
            if repo not in backups.repositories:
                add(("backups", "policies", pname, "targets", index),
                    f"unknown repository {repo!r}{_known(backups.repositories)}")
    for tier, pname in backups.tier_policies.items():
        if pname not in backups.policies:
            add(("backups", "tier_policies", tier), f"unknown backup policy {pname!r}{_known(backups.policies)}")
    if backups.default_policy and backups.default_policy not in backups.policies:
        add(("backups", "default_policy"),
            f"unknown backup policy {backups.default_policy!r}{_known(backups.policies)}")

    for cm_path, cm_message in change.cross_check(estate.change_management):
        add(cm_path, cm_message)

    for id_path, id_message in _identifier_collisions(estate):
        add(id_path, id_message)

    hostnames: dict[str, tuple[str | int, ...]] = {}
    ports: dict[int, list[tuple[str | int, ...]]] = defaultdict(list)
    ports[platform.edge.http_port].append(("platform", "edge", "http_port"))
    ports[platform.edge.api_port].append(("platform", "edge", "api_port"))
    ports[platform.metrics_port].append(("platform", "metrics_port"))
    tls = platform.edge.tls
    if tls is not None:
        ports[tls.https_port].append(("platform", "edge", "tls", "https_port"))
        for index, cert in enumerate(tls.certificates):
            for key in ("cert_file", "key_file"):
                file = resolve.estate_path(getattr(cert, key), loaded.root)
                if not file.is_file():
                    add(("platform", "edge", "tls", "certificates", index, key), f"{file} does not exist")
    for cname, cluster in estate.clusters.items():
        if isinstance(cluster, ManagedCluster) and cluster.port:
            ports[cluster.port].append(("clusters", cname, "port"))

    for tname, tenant in estate.tenants.items():
        if not tenant.environments:
            add(("tenants", tname, "environments"), "a tenant needs at least one environment")
        if tenant.redis and tenant.redis not in estate.monitoring.redis:
            add(("tenants", tname, "redis"), f"unknown Redis server {tenant.redis!r}{_known(estate.monitoring.redis)}")
        for ename, env in tenant.environments.items():
            base: tuple[str | int, ...] = ("tenants", tname, "environments", ename)
            if env.backup and env.backup not in backups.policies:
                add((*base, "backup"), f"unknown backup policy {env.backup!r}{_known(backups.policies)}")
            if env.schedule and env.schedule not in estate.schedules:
                add((*base, "schedule"), f"unknown schedule {env.schedule!r}{_known(estate.schedules)}")
            if env.schedule and isinstance(env.placement, SharedPlacement):
                add((*base, "schedule"), "a pooled environment shares its pool's processes: it cannot sleep alone "
                                         "(schedules put dedicated environments to sleep)")
            if isinstance(env.placement, SharedPlacement):
                env_pool = estate.pools.get(env.placement.shared)
                if env_pool is None:
                    add((*base, "placement", "shared"),
                        f"unknown pool {env.placement.shared!r}{_known(estate.pools)}")
                    continue
                for key in ("workers", "max_cron_threads", "limits", "http_port", "options"):
                    if key in env.model_fields_set:
                        verb = "are" if key in ("limits", "options") else "is"
                        add((*base, key), f"{key} of a shared environment {verb} set on its pool "
                                          f"(pools.{env.placement.shared}.{key})")
                for key, pool_value in (("stack", env_pool.stack or estate.platform.default_stack),
                                        ("cluster", resolve.cluster_name_of(estate, env_pool))):
                    value = getattr(env, key)
                    if value is not None and value != pool_value:
                        add((*base, key), f"{key} {value!r} differs from the pool's ({pool_value!r}); "
                                          "a shared environment runs on its pool's")
            if env.release is not None:
                chosen = estate.releases.get(env.release)
                if chosen is None:
                    add((*base, "release"), f"unknown release {env.release!r}{_known(estate.releases)}")
                elif env.placement != "dedicated":
                    add((*base, "release"), "releases run on dedicated environments: a shared pool runs its "
                                            "stack's code for every tenant (upgrade the pool's stack instead)")
                elif env.stack is not None and env.stack != chosen.stack:
                    add((*base, "stack"), f"stack {env.stack!r} differs from release {env.release!r}'s "
                                          f"({chosen.stack!r}); the release decides the code")
            stack_ref = resolve.stack_name_of(estate, env)
            if stack_ref is None:
                add(base, "no stack: set 'stack' here or platform.default_stack")
            elif stack_ref not in estate.stacks and env.stack:  # a bad default_stack is reported once
                add((*base, "stack"), f"unknown stack {stack_ref!r}{_known(estate.stacks)}")
            cluster_ref = resolve.cluster_name_of(estate, env)
            if cluster_ref is None:
                add(
                    base,
                    "no cluster: set 'cluster' here or platform.default_cluster"
                    + ("" if estate.clusters else " (and define one under clusters)"),
                )
            elif cluster_ref not in estate.clusters and env.cluster:
                add((*base, "cluster"), f"unknown cluster {cluster_ref!r}{_known(estate.clusters)}")
            if env.placement == "dedicated" and env.resolved_stage(ename) not in REAL_MAIL_STAGES:
                for key in sorted(set(env.options) & set(MAIL_CATCHER_OPTIONS)):
                    add((*base, "options", key),
                        f"option {key} is set by Odooplane: a {env.resolved_stage(ename)} environment's mail goes "
                        "to the platform's mail catcher (stage production or dr sends real mail)")
            for index, host in enumerate(resolve.hostnames_of(estate, tname, ename, env)):
                hpath = (*base, "hostnames", index) if env.hostnames else base
                bare = host.removeprefix("www.")
                for candidate in {host, bare}:
                    if candidate in hostnames and hostnames[candidate] != hpath:
                        add(hpath, f"hostname {host!r} is already used at {loader.format_path(hostnames[candidate])}")
                        break
                else:
                    hostnames[host] = hpath
                    hostnames.setdefault(bare, hpath)
            if env.http_port:
                ports[env.http_port].append((*base, "http_port"))

    for port, users in sorted(ports.items()):
        if len(users) > 1:
            first = loader.format_path(users[0])
            for other in users[1:]:
                add(other, f"port {port} is also used by {first}")
    return problems


def _limited(estate: Estate) -> list[tuple[tuple[str | int, ...], Limits, Resources | None]]:
    """Every place that declares Odoo process limits and engine resources (pools, dedicated environments)."""
    out: list[tuple[tuple[str | int, ...], Limits, Resources | None]] = [
        (("pools", name), pool.limits, pool.resources) for name, pool in estate.pools.items()]
    for tname, tenant in estate.tenants.items():
        for ename, env in tenant.environments.items():
            out.append((("tenants", tname, "environments", ename), env.limits, env.resources))
    return out


def _identifier_collisions(estate: Estate) -> list[tuple[tuple[str | int, ...], str]]:
    """Every PostgreSQL database and role name the estate makes, checked for one used twice.

    Names are collision-free by construction (estate/names.py); this is the safety net that
    keeps a future naming change from giving one tenant's credentials to another's data.
    """
    out: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[tuple[str, str], tuple[tuple[str | int, ...], str]] = {}

    def claim(kind: str, name: str, path: tuple[str | int, ...], owner: str) -> None:
        first = seen.setdefault((kind, name), (path, owner))
        if first[0] != path:
            out.append((path, f"PostgreSQL {kind} {name!r} of {owner} is also the {kind} of {first[1]} "
                              f"({loader.format_path(first[0])})"))

    for pname in estate.pools:
        claim("role", names.pool_role(pname), ("pools", pname), f"pool {pname}")
    for tname, tenant in estate.tenants.items():
        for ename, env in tenant.environments.items():
            path: tuple[str | int, ...] = ("tenants", tname, "environments", ename)
            database = names.database_name(tname, ename)
            claim("database", database, path, f"environment {tname}/{ename}")
            if env.placement == "dedicated":
                claim("role", database, path, f"environment {tname}/{ename}")
    return out


def _known(mapping: dict[str, Any]) -> str:
    if not mapping:
        return " (none defined)"
    return f" (known: {', '.join(sorted(mapping))})"
