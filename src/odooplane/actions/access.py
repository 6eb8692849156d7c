"""Identity and access: who acts (a user, an API token, the CLI's local user), whether they may,
and managing users and tokens. Every refusal, and every grant of a right that changes something or
reveals data, is recorded in the audit log with the actor (docs/access.md)."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from odooplane import access
from odooplane.access import ESTATE, Principal, Scope, Subject
from odooplane.errors import Forbidden, NotFound, UsageError
from odooplane.estate import durations
from odooplane.estate.models import OidcProvider
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.estate.validate import ValidEstate
from odooplane.operations.context import Context
from odooplane.store import audit, identity
from odooplane.store.db import now

NAME = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
# Rights whose grants are audited too (a refusal of any right always is): what changes something
# or reveals data. Reads of the fleet are in the service's access log, with the actor.
AUDITED_GRANTS = frozenset(access.RIGHTS) - {"fleet.read", "operations.read", "backups.read", "evidence.read",
                                              "audit.read", "access.read", "estate.read"}


def _name(kind: str, name: str) -> str:
    if not NAME.match(name):
        raise UsageError(f"{kind} name {name!r}: 1-64 lowercase letters, digits, '.', '_' or '-', "
                         "starting with a letter")
    return name


def _role_and_scope(role: str, scopes: list[str]) -> tuple[str, Scope]:
    try:
        return access.check_role(role), Scope.parse(scopes)
    except access.AccessError as exc:
        raise UsageError(str(exc)) from None


# -- subjects ----------------------------------------------------------------------------------
def labels_of(env: DesiredEnvironment) -> dict[str, str]:
    return env.labels.as_dict()


def environment_subject(env: DesiredEnvironment) -> Subject:
    return Subject(tenant=env.ref.tenant, environment=str(env.ref), stage=env.stage, pool=env.pool,
                   labels=labels_of(env))


def tenant_subject(valid: ValidEstate, tenant: str) -> Subject:
    found = valid.estate.tenants.get(tenant)
    labels = found.labels.as_dict() if found else {}
    return Subject(tenant=tenant, labels=labels)


def target_subject(valid: ValidEstate, target: str) -> Subject:
    """The subject an operation's or audit entry's target names: an environment (``acme/prod``),
    a tenant, a pool (``pool:std``) or, for anything else, the estate as a whole."""
    tenant, sep, env = target.partition("/")
    if sep:
        for desired in valid.environments:
            if desired.ref.tenant == tenant and desired.ref.env == env:
                return environment_subject(desired)
        return Subject(tenant=tenant, environment=target)
    if tenant in valid.estate.tenants:
        return tenant_subject(valid, tenant)
    if target.startswith("pool:"):
        return Subject(pool=target.removeprefix("pool:"))
    return ESTATE


# -- deciding ----------------------------------------------------------------------------------
def authorize(ctx: Context, principal: Principal, right: str, subject: Subject = ESTATE) -> None:
    """Raise Forbidden unless ``principal`` may use ``right`` on ``subject``; audit as documented."""
    decision = access.decide(principal, right, subject)
    if not decision.allowed or right in AUDITED_GRANTS:
        audit.record(ctx.store, actor=principal.actor, action=f"authorize {right}", target=decision.subject,
                     outcome="allowed" if decision.allowed else "refused",
                     detail={"role": principal.role, "scope": principal.scope.texts(), "reason": decision.reason})
    if not decision.allowed:
        raise Forbidden(f"{principal.actor} may not {right} on {decision.subject}: {decision.reason}")


def hidden(ctx: Context, principal: Principal, right: str, subject: Subject, missing: str) -> NotFound:
    """Audit the refusal of ``right`` on ``subject`` and return the NotFound to raise: what lies
    outside a caller's scope is answered as if it did not exist (``missing``)."""
    decision = access.decide(principal, right, subject)
    audit.record(ctx.store, actor=principal.actor, action=f"authorize {right}", target=decision.subject,
                 outcome="refused", detail={"role": principal.role, "scope": principal.scope.texts(),
                                            "reason": decision.reason, "answered": "not found"})
    return NotFound(missing)


def guard(ctx: Context, right: str, targets: Iterable[DesiredEnvironment] | None = None) -> None:
    """The CLI's check: the local user (:func:`local_principal`) may use ``right`` on every one of
    ``targets`` (the estate as a whole when None). Raise Forbidden (exit code 7) otherwise. A worker
    running an operation someone requested through the service skips it: that request was
    authorized when it was made (operations/context.py ACTING)."""
    from odooplane.operations.context import ACTING

    if ACTING.get() is not None:
        return
    principal = local_principal(ctx)
    if targets is None:
        authorize(ctx, principal, right)
        return
    envs = list(targets)
    if principal.scope.unscoped:  # the scope covers every one: one check per kind of stage will do
        by_stage: dict[bool, DesiredEnvironment] = {}
        for env in envs:
            by_stage.setdefault(env.stage in access.PRODUCTION_STAGES, env)
        envs = list(by_stage.values())
    for env in envs:
        authorize(ctx, principal, right, environment_subject(env))


def allowed(principal: Principal, right: str, subject: Subject) -> bool:
    """A silent check, to filter what a list shows (nothing is audited)."""
    return access.decide(principal, right, subject).allowed


def token_principal(ctx: Context, secret: str) -> Principal | None:
    """The principal of an API token's secret; None if it is unknown, expired or revoked."""
    row = identity.authenticate(ctx.store, secret)
    if row is None:
        return None
    return Principal(row.name, "token", row.role, Scope.parse(row.scopes))


def refused_authentication(ctx: Context, secret: str, *, client: str) -> None:
    """Record a refused token (by its first characters only, never the rest) and who offered it."""
    shown = secret[:12] if secret.startswith(identity.TOKEN_PREFIX) else "(not a token)"
    audit.record(ctx.store, actor=f"client:{client}", action="authenticate token", target=shown, outcome="refused",
                 detail={"reason": "unknown, expired or revoked"})


def user_principal(ctx: Context, name: str) -> Principal | None:
    row = identity.user(ctx.store, name)
    return None if row is None else Principal(row.name, "user", row.role, Scope.parse(row.scopes))


def password_principal(ctx: Context, name: str, password: str) -> Principal | None:
    row = identity.login(ctx.store, name, password)
    return None if row is None else Principal(row.name, "user", row.role, Scope.parse(row.scopes))


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    via: str


def sign_in(ctx: Context, name: str, password: str, *, client: str) -> tuple[str, Session] | None:
    """Check a user's password and start a dashboard session: its cookie value and the session;
    None (audited, with the client) when the name or password is wrong."""
    principal = password_principal(ctx, name, password)
    if principal is None:
        audit.record(ctx.store, actor=f"client:{client}", action="sign in", target=f"user:{name[:64]}",
                     outcome="refused", detail={"via": "password", "reason": "unknown user or wrong password"})
        return None
    return _start(ctx, principal, via="password", client=client)


def oidc_settings(ctx: Context) -> tuple[OidcProvider, str, bytes] | None:
    """The estate's OIDC provider, its client secret (resolved now) and a key for the sign-in flow's
    cookie (derived from the estate's secret key); None when the estate names no provider."""
    import base64
    import hashlib

    from odooplane.services import secret_refs
    from odooplane.store.secrets import load_key

    provider = ctx.estate.platform.identity.oidc
    if provider is None:
        return None
    secret = secret_refs.resolve(provider.client_secret, base_dir=ctx.base_dir,
                                 where="platform.identity.oidc.client_secret")
    key = base64.urlsafe_b64encode(hashlib.sha256(b"odooplane oidc flow\0" + load_key(ctx.layout.key_file)).digest())
    return provider, secret, key


def refused_sign_in(ctx: Context, *, client: str, via: str, reason: str) -> None:
    audit.record(ctx.store, actor=f"client:{client}", action="sign in", target=f"via:{via}", outcome="refused",
                 detail={"via": via, "reason": reason})


def oidc_user_name(value: object) -> str | None:
    """A user name from the provider's claim: lowercased, other characters as '-', at most 64."""
    if not isinstance(value, str) or not value.strip():
        return None
    name = re.sub(r"[^a-z0-9._-]", "-", value.strip().lower())[:64]
    if not name[0].isalpha():
        name = ("u" + name)[:64]
    return name if NAME.match(name) else None


def sign_in_oidc(ctx: Context, provider: OidcProvider, claims: dict[str, object], *,
                 client: str) -> tuple[str, Session] | None:
    """Start a session for the person an ID token (already verified) names: their role from the first
    of ``provider.roles`` among their groups. The user is made (or its role and scope updated) as an
    OIDC user of this issuer; a local user of the same name is never taken over. None (audited) when
    no group maps or the name is taken."""
    name = oidc_user_name(claims.get(provider.username_claim))
    groups = claims.get(provider.groups_claim)
    held = {g for g in groups if isinstance(g, str)} if isinstance(groups, list) else set()
    group = next((g for g in provider.roles if g in held), None)
    if name is None or group is None:
        reason = (f"no {provider.username_claim} claim" if name is None
                  else f"none of the groups {sorted(held)[:10]} gives a role")
        refused_sign_in(ctx, client=client, via="oidc", reason=reason)
        return None
    role, scopes = provider.roles[group], list(provider.scopes.get(group, []))
    origin = f"oidc:{provider.issuer}"
    existing = identity.user(ctx.store, name)
    if existing is None:
        identity.add_user(ctx.store, name=name, role=role, scopes=scopes, os_user=None, password=None,
                          created_by=origin)
        audit.record(ctx.store, actor=origin, action="user add", target=f"user:{name}", outcome="ok",
                     detail={"role": role, "scope": scopes, "group": group})
    elif existing.created_by != origin:
        refused_sign_in(ctx, client=client, via="oidc", reason=f"user {name} is a local user, not this provider's")
        return None
    elif (existing.role, existing.scopes) != (role, scopes):
        identity.set_role(ctx.store, name, role=role, scopes=scopes)
        audit.record(ctx.store, actor=origin, action="user role", target=f"user:{name}", outcome="ok",
                     detail={"role": role, "scope": scopes, "group": group, "was": existing.role})
    identity.touch_login(ctx.store, name)
    return _start(ctx, Principal(name, "user", role, Scope.parse(scopes)), via="oidc", client=client)


def _start(ctx: Context, principal: Principal, *, via: str, client: str) -> tuple[str, Session]:
    secret, row = identity.start_session(ctx.store, principal.name, via=via)
    audit.record(ctx.store, actor=principal.actor, action="sign in", target=f"user:{principal.name}", outcome="ok",
                 detail={"via": via, "client": client})
    return secret, Session(principal, row.csrf, via)


def session_of(ctx: Context, secret: str) -> Session | None:
    """The live session of a cookie, with its user's current role and scope; None otherwise."""
    row = identity.session(ctx.store, secret)
    if row is None:
        return None
    principal = user_principal(ctx, row.user_name)
    if principal is None:  # the user was removed meanwhile
        identity.end_session(ctx.store, secret)
        return None
    return Session(principal, row.csrf, row.via)


def sign_out(ctx: Context, secret: str, principal: Principal) -> None:
    identity.end_session(ctx.store, secret)
    audit.record(ctx.store, actor=principal.actor, action="sign out", target=f"user:{principal.name}", outcome="ok")


def os_user_name() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def local_principal(ctx: Context, *, os_user: str | None = None, uid: int | None = None) -> Principal:
    """Who the CLI acts as: the user mapped to this OS user (``users add --os-user``), else — for
    the OS user who owns the estate's data directory (the one who set it up) — a platform admin.
    Raise Forbidden for any other OS user. (``os_user``/``uid``: another OS user than this process's.)"""
    me = os_user or os_user_name()
    my_uid = os.geteuid() if uid is None else uid
    mapped = identity.user_by_os_user(ctx.store, me)
    if mapped is not None:
        return Principal(mapped.name, "user", mapped.role, Scope.parse(mapped.scopes))
    if _owner_uid(ctx) == my_uid:
        return Principal(me, "user", "platform-admin")
    audit.record(ctx.store, actor=f"os:{me}", action="authenticate os user", target="the estate", outcome="refused",
                 detail={"reason": "not mapped to a user"})
    raise Forbidden(f"the OS user {me} is not mapped to an Odooplane user: the owner of {ctx.layout.root} maps it "
                    f"with `odooplane users add NAME --role ROLE --os-user {me}`")


def cli_actor(ctx: Context) -> str:
    """Who the CLI's decisions name (separation of duties, sign-offs): the Odooplane user this OS user
    is mapped to — whatever ODOOPLANE_ACTOR says — else, for the estate's owner (a platform admin who
    holds the state database anyway), ODOOPLANE_ACTOR or the login."""
    principal = local_principal(ctx)
    mapped = identity.user_by_os_user(ctx.store, os_user_name())
    return principal.actor if mapped is not None else ctx.actor


def _owner_uid(ctx: Context) -> int:
    try:
        return ctx.layout.root.stat().st_uid
    except OSError:
        return os.geteuid()


# -- managing users ----------------------------------------------------------------------------
def add_user(ctx: Context, actor: Principal, *, name: str, role: str, scopes: list[str], os_user: str | None,
             password: str | None) -> identity.UserRow:
    _name("user", name)
    role, scope = _role_and_scope(role, scopes)
    if os_user is not None:
        try:
            uid = pwd.getpwnam(os_user).pw_uid
        except KeyError:
            raise UsageError(f"--os-user {os_user!r}: no such user on this host") from None
        if uid == _owner_uid(ctx):
            raise UsageError(f"--os-user {os_user!r} owns the data directory {ctx.layout.root}: it is the estate's "
                             "platform admin and cannot be mapped to another role (map the other people's OS users)")
    authorize(ctx, actor, "access.manage")
    if not identity.add_user(ctx.store, name=name, role=role, scopes=scope.texts(), os_user=os_user,
                             password=password, created_by=actor.actor):
        raise UsageError(f"user {name!r} exists already" + (f" (or OS user {os_user!r} is mapped)" if os_user else ""))
    audit.record(ctx.store, actor=actor.actor, action="user add", target=f"user:{name}", outcome="ok",
                 detail={"role": role, "scope": scope.texts(), "os_user": os_user, "password": password is not None})
    found = identity.user(ctx.store, name)
    assert found is not None
    return found


def set_password(ctx: Context, actor: Principal, name: str, password: str) -> None:
    authorize(ctx, actor, "access.manage")
    if not identity.set_password(ctx.store, name, password):
        raise NotFound(f"user {name!r} does not exist")
    audit.record(ctx.store, actor=actor.actor, action="user password", target=f"user:{name}", outcome="ok")


def remove_user(ctx: Context, actor: Principal, name: str) -> None:
    authorize(ctx, actor, "access.manage")
    if not identity.remove_user(ctx.store, name):
        raise NotFound(f"user {name!r} does not exist")
    identity.end_sessions_of(ctx.store, name)
    audit.record(ctx.store, actor=actor.actor, action="user remove", target=f"user:{name}", outcome="ok")


def list_users(ctx: Context, actor: Principal) -> list[identity.UserRow]:
    authorize(ctx, actor, "access.read")
    return identity.users(ctx.store)


# -- managing tokens ---------------------------------------------------------------------------
def expiry(text: str | None, *, at: dt.datetime) -> dt.datetime | None:
    """``--expires 90d`` → the time it expires; ``never`` or None → no expiry."""
    if text is None or text.strip().lower() == "never":
        return None
    try:
        return at + durations.parse(text)
    except ValueError as exc:
        raise UsageError(f"--expires: {exc}") from None


def create_token(ctx: Context, actor: Principal, *, name: str, role: str, scopes: list[str],
                 expires: str | None) -> tuple[identity.TokenRow, str]:
    _name("token", name)
    role, scope = _role_and_scope(role, scopes)
    expires_at = expiry(expires, at=now())
    authorize(ctx, actor, "access.manage")
    made = identity.create_token(ctx.store, name=name, role=role, scopes=scope.texts(), expires_at=expires_at,
                                 created_by=actor.actor)
    if made is None:
        raise UsageError(f"token {name!r} exists already (revoked tokens keep their name, for the record)")
    audit.record(ctx.store, actor=actor.actor, action="token create", target=f"token:{name}", outcome="ok",
                 detail={"role": role, "scope": scope.texts(), "prefix": made[0].prefix,
                         "expires_at": expires_at.isoformat() if expires_at else None})
    return made


def revoke_token(ctx: Context, actor: Principal, name: str) -> None:
    authorize(ctx, actor, "access.manage")
    if not identity.revoke_token(ctx.store, name):
        raise NotFound(f"no active token {name!r}")
    audit.record(ctx.store, actor=actor.actor, action="token revoke", target=f"token:{name}", outcome="ok")


def list_tokens(ctx: Context, actor: Principal) -> list[identity.TokenRow]:
    authorize(ctx, actor, "access.read")
    return identity.tokens(ctx.store)


# -- the CLI's entry points (one context per command) ------------------------------------------
def cli_context(path: Path | None) -> tuple[Context, Principal]:
    from odooplane.actions import estate_file

    ctx = estate_file.context(path)
    try:
        return ctx, local_principal(ctx)
    except BaseException:
        ctx.close()
        raise
