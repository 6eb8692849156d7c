"""Who may do what: roles, rights and scopes (docs/access.md).

A *principal* (a user of the dashboard, an API token, the local user of the CLI) holds one role and
zero or more scope selectors. A role is a set of rights; a right that touches data in a production
stage (revealing a secret, exporting a database, a shell, a restore) needs its ``.production``
variant as well. Scope selectors (``key=value``) narrow the environments a principal acts on: the
selectors of one key are alternatives, those of different keys must all hold
(``business_unit=retail stage=staging stage=development``: retail's staging and development). An
unscoped principal acts on the whole estate; only an unscoped one reads the estate as a whole
(the estate file, its plan) or manages access.

Pure: no I/O. The actions decide, record the decision in the audit log and act.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Every right, with what it allows (shown by `odooplane users roles` and docs/access.md).
RIGHTS: dict[str, str] = {
    "fleet.read": "read tenants, environments, their health, backups and releases (within scope)",
    "operations.read": "read operations and their steps (within scope)",
    "estate.read": "read the estate as a whole: its file, validation and plan (unscoped principals only)",
    "estate.apply": "apply the estate, move environments, bring it down (unscoped principals only)",
    "tenants.create": "create tenants and environments",
    "tenants.change": "change an environment's placement or settings",
    "tenants.decommission": "decommission environments",
    "backups.read": "list backups and restore proofs",
    "backups.run": "back up now, verify a backup",
    "restore": "restore a backup into a non-production environment",
    "restore.production": "restore a backup into a production environment (with `restore`)",
    "clones.create": "clone an environment into a non-production one",
    "releases.request": "request a release or a promotion",
    "releases.approve": "approve or reject a request made by someone else",
    "releases.promote": "promote an approved release",
    "evidence.read": "read evidence (restore proofs, drills, gate decisions)",
    "audit.read": "read the audit log and verify its chain",
    "policy.read": "read guardrail findings and waivers (within scope)",
    "cost.read": "read cost allocation and usage (within scope)",
    "policy.waive": "ask for a guardrail waiver",
    "policy.approve": "approve or revoke a guardrail waiver someone else asked for",
    "secrets.reveal": "reveal an environment's credentials (non-production)",
    "secrets.reveal.production": "reveal a production environment's credentials (with `secrets.reveal`)",
    "data.export": "dump or export a database (non-production)",
    "data.export.production": "dump or export a production database (with `data.export`)",
    "shell": "shell-like access: psql, Odoo shell (non-production)",
    "shell.production": "shell-like access in production (with `shell`)",
    "access.read": "see who holds which role and the API tokens",
    "access.manage": "add and remove users, create and revoke API tokens (unscoped principals only)",
}

# The rights that need a ``.production`` companion when the environment is in a production stage.
PRODUCTION_GUARDED = frozenset({"restore", "secrets.reveal", "data.export", "shell"})
PRODUCTION_STAGES = frozenset({"production", "dr"})
# Rights over the estate as a whole: scoped principals never hold them.
ESTATE_WIDE = frozenset({"estate.read", "estate.apply", "access.manage"})

_READ = frozenset({"fleet.read", "operations.read", "policy.read"})

ROLES: dict[str, frozenset[str]] = {
    "platform-admin": frozenset(RIGHTS),
    "erp-admin": _READ | {
        "tenants.change", "backups.read", "backups.run", "restore", "restore.production", "clones.create",
        "releases.request", "evidence.read", "secrets.reveal", "secrets.reveal.production", "data.export",
        "data.export.production", "shell", "shell.production", "policy.waive", "cost.read",
    },
    "release-manager": _READ | {"releases.request", "releases.promote", "clones.create", "backups.read",
                                "evidence.read"},
    "approver": _READ | {"releases.approve", "backups.read", "evidence.read", "policy.approve"},
    "provisioner": _READ | {"tenants.create", "tenants.decommission"},
    "developer": _READ | {"clones.create", "restore", "backups.read", "secrets.reveal", "data.export", "shell"},
    "auditor": _READ | {"backups.read", "evidence.read", "audit.read", "access.read", "cost.read"},
    "partner-readonly": _READ,
}

ROLE_SUMMARY: dict[str, str] = {
    "platform-admin": "everything, including access management",
    "erp-admin": "runs environments: backups, restores, clones, credentials, shells, exports (production too)",
    "release-manager": "requests and promotes releases, clones for testing",
    "approver": "approves or rejects what others requested (never their own)",
    "provisioner": "creates and decommissions tenants (a sign-up system's token)",
    "developer": "non-production: clones, restores, credentials, shells, exports",
    "auditor": "reads everything recorded: audit log, evidence, backups, who holds which role",
    "partner-readonly": "reads the tenants in its scope",
}

SCOPE_KEYS = ("tenant", "environment", "stage", "pool", "business_unit", "brand", "site", "cost_centre", "tier",
              "compliance")
_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@ -]{0,127}$")


class AccessError(ValueError):
    """A role or scope that does not parse (the message names it and says what is allowed)."""


@dataclass(frozen=True)
class Subject:
    """What a decision is about: an environment (tenant, name, stage, pool, labels), a tenant (no
    environment, no stage), or the estate as a whole (nothing set)."""

    tenant: str | None = None
    environment: str | None = None  # "tenant/env"
    stage: str | None = None
    pool: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def facts(self) -> dict[str, str | None]:
        facts: dict[str, str | None] = {"tenant": self.tenant, "environment": self.environment, "stage": self.stage,
                                        "pool": self.pool}
        for key in SCOPE_KEYS:
            if key not in facts:
                facts[key] = self.labels.get(key)
        return facts

    def __str__(self) -> str:
        return self.environment or self.tenant or self.pool or "the estate"


ESTATE = Subject()


@dataclass(frozen=True)
class Scope:
    """Scope selectors: ``((key, value), …)``; empty means the whole estate."""

    selectors: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, texts: Iterable[str]) -> Scope:
        """Parse ``key=value`` selectors; raise AccessError naming the first bad one."""
        out: list[tuple[str, str]] = []
        for text in texts:
            key, sep, value = text.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or key not in SCOPE_KEYS:
                raise AccessError(f"scope {text!r}: expected key=value with key one of {', '.join(SCOPE_KEYS)}")
            if not _VALUE.match(value):
                raise AccessError(f"scope {text!r}: the value must be 1-128 letters, digits or _.:/@- ")
            if (key, value) not in out:
                out.append((key, value))
        return cls(tuple(sorted(out)))

    @property
    def unscoped(self) -> bool:
        return not self.selectors

    def texts(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.selectors]

    def __str__(self) -> str:
        return " ".join(self.texts()) or "the whole estate"

    def covers(self, subject: Subject) -> bool:
        """Whether ``subject`` lies inside the scope. A tenant (no environment) is inside when some of
        its environments may be (keys it cannot answer — stage, environment, pool — do not exclude it);
        the estate as a whole is inside an unscoped principal's only."""
        if self.unscoped:
            return True
        if subject == ESTATE:
            return False
        facts = subject.facts()
        by_key: dict[str, set[str]] = {}
        for key, value in self.selectors:
            by_key.setdefault(key, set()).add(value)
        for key, values in by_key.items():
            fact = facts.get(key)
            if fact is None and subject.environment is None and key in ("environment", "stage", "pool"):
                if (key == "environment" and subject.tenant is not None
                        and not any(v.partition("/")[0] == subject.tenant for v in values)):
                    return False
                continue
            if fact is None or fact not in values:
                return False
        return True


@dataclass(frozen=True)
class Principal:
    """Someone acting: ``kind`` is user (dashboard, CLI) or token (API)."""

    name: str
    kind: str
    role: str
    scope: Scope = Scope()

    @property
    def rights(self) -> frozenset[str]:
        return ROLES.get(self.role, frozenset())

    @property
    def actor(self) -> str:
        """How it is named in the audit log and the journal."""
        return self.name if self.kind == "user" else f"token:{self.name}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    right: str
    subject: str
    reason: str


def decide(principal: Principal, right: str, subject: Subject = ESTATE) -> Decision:
    """Whether ``principal`` may use ``right`` on ``subject``, with the reason either way."""
    if right not in RIGHTS:
        raise AccessError(f"unknown right {right!r}")
    rights = principal.rights
    where = str(subject)
    if right not in rights:
        return Decision(False, right, where, f"role {principal.role} does not grant {right}")
    if right in ESTATE_WIDE and not principal.scope.unscoped:
        return Decision(False, right, where, f"{right} needs an unscoped principal (scope: {principal.scope})")
    if right in PRODUCTION_GUARDED and subject.stage in PRODUCTION_STAGES and f"{right}.production" not in rights:
        return Decision(False, right, where, f"role {principal.role} does not grant {right}.production")
    if not principal.scope.covers(subject):
        return Decision(False, right, where, f"{where} is outside the scope {principal.scope}")
    return Decision(True, right, where, f"role {principal.role}" + (
        "" if principal.scope.unscoped else f", scope {principal.scope}"))


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccessError(f"role {role!r} does not exist: one of {', '.join(ROLES)}")
    return role
