"""The REST API (``/api/v1``, OpenAPI 3.1 at ``/api/v1/openapi.json``): the same actions as the CLI,
for a principal authenticated by an API token (``Authorization: Bearer odp_…``). Every route refuses
anonymous callers (401) and callers without the right (403); what lies outside a caller's scope is
not shown in lists and is answered 404 when named. Errors are problem details (api/problems.py)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Security
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from odooplane import __version__, access
from odooplane.access import Principal
from odooplane.actions import access as access_action
from odooplane.actions import cost as cost_action
from odooplane.actions import dashboard, fleet
from odooplane.actions import policy as policy_action
from odooplane.actions import requests as requests_action
from odooplane.actions import rollouts as rollouts_action
from odooplane.actions import sleeping as sleeping_action
from odooplane.actions.service import Service
from odooplane.api import problems
from odooplane.api.problems import TooManyAttempts, Unauthenticated
from odooplane.estate.models import Tenant as TenantModel
from odooplane.throttle import Throttle

_LOG = logging.getLogger("odooplane.api")
T = TypeVar("T")
PREFIX = "/api/v1"
_bearer = HTTPBearer(auto_error=False, scheme_name="token",
                     description="An API token: `odooplane tokens create NAME --role ROLE [--scope k=v]`.")


# -- models (the OpenAPI document describes every answer) -------------------------------------
class PageOf(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(description="Cursor of the next page (pass it as `after`/`before`); null on the last.")


class Whoami(BaseModel):
    name: str
    kind: str
    role: str
    scope: list[str]
    rights: list[str]


class TenantDetail(BaseModel):
    tenant: fleet.TenantSummary
    environments: list[fleet.EnvSummary]


class Operation(BaseModel):
    id: int
    kind: str
    target: str
    status: str
    actor: str
    host: str
    pid: int
    dry_run: bool
    started_at: str
    finished_at: str | None
    heartbeat_at: str | None
    error: str | None
    summary: dict[str, Any] | None


class Step(BaseModel):
    seq: int
    name: str
    target: str
    status: str
    attempts: int
    started_at: str
    finished_at: str | None
    duration_s: float | None
    detail: str | None
    error: str | None


class OperationDetail(Operation):
    steps: list[Step]


class HealthRow(BaseModel):
    target: str
    status: str
    checked_at: str | None
    checks: list[dict[str, Any]]


class EvidenceRow(BaseModel):
    id: int
    ts: str
    kind: str
    target: str
    ok: bool
    operation_id: int | None
    summary: str
    data: dict[str, Any]


class AuditRow(BaseModel):
    id: int
    ts: str
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any] | None
    hash: str


class AuditVerification(BaseModel):
    intact: bool
    bad_entries: list[int]
    head: str | None
    entries: int


class EstateSummary(BaseModel):
    name: str
    path: str
    driver: str
    tenants: int
    environments: int
    pools: list[str]
    clusters: list[str]
    valid: bool
    problems: list[str]
    loaded_at: str


class Validation(BaseModel):
    valid: bool
    problems: list[str]


class PlanDoc(BaseModel):
    changes: list[dict[str, Any]]
    notes: list[str]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _operation(op: Any) -> dict[str, Any]:
    return {"id": op.id, "kind": op.kind, "target": op.target, "status": op.status, "actor": op.actor,
            "host": op.host, "pid": op.pid, "dry_run": op.dry_run, "started_at": _iso(op.started_at),
            "finished_at": _iso(op.finished_at), "heartbeat_at": _iso(op.heartbeat_at), "error": op.error,
            "summary": op.summary}


def _step(s: Any) -> dict[str, Any]:
    return {"seq": s.seq, "name": s.name, "target": s.target, "status": s.status, "attempts": s.attempts,
            "started_at": _iso(s.started_at), "finished_at": _iso(s.finished_at), "duration_s": s.duration_s,
            "detail": s.detail, "error": s.error}


# -- who is calling ----------------------------------------------------------------------------
def service(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


def principal(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> Principal:
    """The caller: the API token's principal. Raise Unauthenticated (401) otherwise."""
    svc = service(request)
    if credentials is None:
        raise Unauthenticated("this route needs an API token: Authorization: Bearer odp_…")
    client = request.client.host if request.client else "?"
    throttle: Throttle = request.app.state.throttle
    wait = throttle.blocked_for(client)
    if wait > 0:
        raise TooManyAttempts(f"too many refused tokens from {client}: try again in {wait:.0f} s", retry_after_s=wait)
    found = access_action.token_principal(svc.context(), credentials.credentials)
    if found is None:
        if throttle.failed(client) <= throttle.failures:  # the rest of a burst is not written to the log
            access_action.refused_authentication(svc.context(), credentials.credentials, client=client)
        raise Unauthenticated("the token is unknown, expired or revoked")
    request.state.actor = found.actor
    return found


Caller = Annotated[Principal, Depends(principal)]
Svc = Annotated[Service, Depends(service)]
Limit = Annotated[int, Query(ge=1, le=fleet.MAX_LIMIT, description="Page size.")]
MAX_ID = 2**63 - 1  # ids are 64-bit integers in the state database
OpId = Annotated[int, Path(ge=1, le=MAX_ID, description="An operation's number.")]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID, description="The cursor: ids below it.")]
Label = Annotated[list[str] | None, Query(description="key=value (business_unit=retail), repeatable: all must hold.")]

router = APIRouter(prefix=PREFIX)


@router.get("/whoami", response_model=Whoami, tags=["access"])
def whoami(caller: Caller) -> dict[str, Any]:
    """The caller, its role, scope and rights."""
    return {"name": caller.name, "kind": caller.kind, "role": caller.role, "scope": caller.scope.texts(),
            "rights": sorted(caller.rights)}


@router.get("/estate", response_model=EstateSummary, tags=["estate"])
def estate(caller: Caller, svc: Svc) -> dict[str, Any]:
    """The estate served: its name, file, driver and size; whether the file's newest edit is valid."""
    return fleet.estate_summary(svc.context(), caller, svc.problems)


@router.get("/estate/validation", response_model=Validation, tags=["estate"])
def validation(caller: Caller, svc: Svc) -> dict[str, Any]:
    """Validate the estate file as it is now (the service keeps serving the last valid one)."""
    ctx = svc.context()
    access_action.authorize(ctx, caller, "estate.read")
    return {"valid": not svc.problems, "problems": [str(p) for p in svc.problems]}


@router.get("/estate/plan", response_model=PlanDoc, tags=["estate"])
def plan(caller: Caller, svc: Svc, prune: bool = False) -> dict[str, Any]:
    """What `apply` would change now (health from the worker's last sweep)."""
    from odooplane.actions import plan as plan_action

    ctx = svc.context()
    access_action.authorize(ctx, caller, "estate.read")
    result = plan_action.plan_in(ctx, prune=prune)
    return {"changes": [c.as_dict() for c in result.changes], "notes": list(result.notes)}


@router.get("/tenants", response_model=PageOf[fleet.TenantSummary], tags=["fleet"])
def tenants(caller: Caller, svc: Svc, label: Label = None, after: str | None = None, limit: Limit = 100) -> Any:
    """Tenants with at least one environment in the caller's scope, by name."""
    page = fleet.tenants(svc.context(), caller, labels=list(label or []), after=after, limit=limit)
    return {"items": [t.as_dict() for t in page.items], "next": page.next}


@router.get("/tenants/{name}", response_model=TenantDetail, tags=["fleet"])
def tenant(name: str, caller: Caller, svc: Svc) -> dict[str, Any]:
    """A tenant and its environments in the caller's scope."""
    found, envs = fleet.tenant(svc.context(), caller, name)
    return {"tenant": found.as_dict(), "environments": [e.as_dict() for e in envs]}


@router.get("/environments", response_model=PageOf[fleet.EnvSummary], tags=["fleet"])
def environments(caller: Caller, svc: Svc, tenant: str | None = None, label: Label = None,
                 stage: str | None = None,
                 status: Annotated[str | None, Query(description="ok, warning, critical or unknown")] = None,
                 after: str | None = None, limit: Limit = 100) -> Any:
    """Environments in the caller's scope, by tenant/env, filtered."""
    page = fleet.environments(svc.context(), caller, tenant=tenant, labels=list(label or []), stage=stage,
                              status=status, after=after, limit=limit)
    return {"items": [e.as_dict() for e in page.items], "next": page.next}


@router.get("/environments/{tenant}/{env}", response_model=fleet.EnvSummary, tags=["fleet"])
def environment(tenant: str, env: str, caller: Caller, svc: Svc) -> dict[str, Any]:
    """One environment."""
    return fleet.environment(svc.context(), caller, f"{tenant}/{env}").as_dict()


@router.get("/health", response_model=list[HealthRow], tags=["fleet"])
def health(caller: Caller, svc: Svc,
           status: Annotated[str | None, Query(description="ok, warning, critical or unknown")] = None) -> Any:
    """Every check of the worker's last sweep, per environment in scope."""
    return fleet.health(svc.context(), caller, status=status)


@router.get("/operations", response_model=PageOf[Operation], tags=["operations"])
def operations(caller: Caller, svc: Svc, status: str | None = None, kind: str | None = None,
               target: str | None = None, before: Before = None,
               limit: Limit = 50) -> Any:
    """Operations, newest first (`before`: the cursor of the previous page)."""
    page = fleet.operations(svc.context(), caller, status=status, kind=kind, target=target, before=before,
                            limit=limit)
    return {"items": [_operation(o) for o in page.items], "next": page.next}


@router.get("/operations/{op_id}", response_model=OperationDetail, tags=["operations"])
def operation(op_id: OpId, caller: Caller, svc: Svc) -> dict[str, Any]:
    """One operation with its steps."""
    op, steps = fleet.operation(svc.context(), caller, op_id)
    return {**_operation(op), "steps": [_step(s) for s in steps]}


@router.get("/evidence", response_model=list[EvidenceRow], tags=["evidence"])
def evidence(caller: Caller, svc: Svc, target: str | None = None, kind: str | None = None,
             limit: Limit = 50) -> Any:
    """Evidence records (restore proofs, backups, drills, gate decisions), newest first."""
    rows = fleet.evidence(svc.context(), caller, target=target, kind=kind, limit=limit)
    return [{**asdict(r), "ts": _iso(r.ts)} for r in rows]


@router.get("/audit", response_model=PageOf[AuditRow], tags=["audit"])
def audit(caller: Caller, svc: Svc, target: str | None = None, before: Before = None,
          limit: Limit = 100) -> Any:
    """The audit log, newest first."""
    page = fleet.audit_entries(svc.context(), caller, before=before, target=target, limit=limit)
    return {"items": [{"id": e.id, "ts": _iso(e.ts), "actor": e.actor, "action": e.action, "target": e.target,
                       "outcome": e.outcome, "detail": e.detail, "hash": e.hash} for e in page.items],
            "next": page.next}


@router.get("/audit/verification", response_model=AuditVerification, tags=["audit"])
def audit_verification(caller: Caller, svc: Svc) -> Any:
    """Verify the audit log's hash chain; its head hash."""
    return fleet.verify_audit(svc.context(), caller)


# -- changes: 202 with the queued operation ----------------------------------------------------
class TenantCreate(TenantModel):
    """A new tenant: its name and what the estate file says of a tenant (docs/estate-reference.md)."""

    name: str = Field(description="Lowercase letters, digits and single hyphens, starting with a letter.",
                      examples=["newco"])


class PlacementChange(BaseModel):
    placement: str = Field(description="`dedicated` or `shared:<pool>`.", examples=["shared:std"])


class AcceptedDoc(BaseModel):
    operation: int
    kind: str
    targets: list[str]
    links: dict[str, str]


def _accepted(request: Request, accepted: requests_action.Accepted) -> JSONResponse:
    executor = getattr(request.app.state, "executor", None)
    if executor is not None:
        executor.wake()
    link = f"{PREFIX}/operations/{accepted.operation}"
    body = {"operation": accepted.operation, "kind": accepted.kind, "targets": accepted.targets,
            "links": {"operation": link, "events": f"{link}/events"}}
    return JSONResponse(body, status_code=202, headers={"Location": link})


_ACCEPTED: dict[int | str, dict[str, Any]] = {202: {"model": AcceptedDoc, "description": "Queued: the operation"}}


@router.post("/tenants", status_code=202, response_model=AcceptedDoc, responses=_ACCEPTED, tags=["changes"])
def create_tenant(body: TenantCreate, request: Request, caller: Caller, svc: Svc) -> JSONResponse:
    """Add a tenant to the estate file (comments and layout kept) and queue its provisioning; needs
    `tenants.create` on each of its environments. The answer names the operation to follow."""
    raw = body.model_dump(mode="json", exclude_unset=True, by_alias=True)
    name = raw.pop("name")
    return _accepted(request, requests_action.create_tenant(svc, caller, name, raw))


@router.patch("/environments/{tenant}/{env}", status_code=202, response_model=AcceptedDoc, responses=_ACCEPTED,
              tags=["changes"])
def change_environment(tenant: str, env: str, body: PlacementChange, request: Request, caller: Caller,
                       svc: Svc) -> JSONResponse:
    """Move an environment to another placement (queued: copy, switch, drop the old copy)."""
    return _accepted(request, requests_action.change_placement(svc, caller, f"{tenant}/{env}", body.placement))


@router.delete("/environments/{tenant}/{env}", status_code=202, response_model=AcceptedDoc, responses=_ACCEPTED,
               tags=["changes"])
def decommission(tenant: str, env: str, request: Request, caller: Caller, svc: Svc,
                 purge: Annotated[bool, Query(description="Also drop its database, role and files.")] = False,
                 ) -> JSONResponse:
    """Remove an environment from the estate (the tenant with its last one); queued: stop and
    unroute it (and drop its data with `purge`; its backups stay)."""
    return _accepted(request, requests_action.decommission(svc, caller, f"{tenant}/{env}", purge=purge))


@router.post("/environments/{tenant}/{env}/backups", status_code=202, response_model=AcceptedDoc,
             responses=_ACCEPTED, tags=["changes"])
def backup_now(tenant: str, env: str, request: Request, caller: Caller, svc: Svc) -> JSONResponse:
    """Queue a backup of the environment now."""
    return _accepted(request, requests_action.backup_now(svc, caller, f"{tenant}/{env}"))


class VerifyRequest(BaseModel):
    snapshot: str | None = Field(None, description="A snapshot id (default: the newest confirmed backup).",
                                 max_length=128)


class RestoreRequest(BaseModel):
    source: str | None = Field(None, description="Restore another environment's backup (tenant/env).",
                               max_length=64)
    snapshot: str | None = Field(None, description="A snapshot id (default: the newest confirmed).", max_length=128)
    at: str | None = Field(None, description="The newest backup at or before this time (ISO 8601).",
                           max_length=64)


class CloneRequest(BaseModel):
    source: str = Field(description="The environment copied (tenant/env).", max_length=64)
    target: str = Field(description="The non-production environment replaced by the copy (tenant/env).",
                        max_length=64)
    anonymize: bool = Field(False, description="Also anonymize personal data.")


class PromoteRequest(BaseModel):
    to: str = Field(description="The environments: tenant/env, a tenant, or stage=… / label=… selectors "
                                "(as `odooplane promote --to`).", max_length=200)


class Decision(BaseModel):
    decision: str = Field(pattern="^(approve|reject)$", description="approve or reject")
    reason: str = Field("", max_length=500, description="Why (recorded; expected with a rejection).")


class PendingChange(BaseModel):
    change: int
    target: str
    release: str | None
    from_release: str | None
    requester: str
    requested_at: str
    approvals: list[str]
    own: bool


@router.post("/environments/{tenant}/{env}/verifications", status_code=202, response_model=AcceptedDoc,
             responses=_ACCEPTED, tags=["changes"])
def verify_backup(tenant: str, env: str, body: VerifyRequest, request: Request, caller: Caller,
                  svc: Svc) -> JSONResponse:
    """Prove a backup restores (restored into a sandbox, checked, Odoo booted on it): queued."""
    return _accepted(request, requests_action.verify_now(svc, caller, f"{tenant}/{env}", snapshot=body.snapshot))


@router.post("/environments/{tenant}/{env}/restores", status_code=202, response_model=AcceptedDoc,
             responses=_ACCEPTED, tags=["changes"])
def restore_backup(tenant: str, env: str, body: RestoreRequest, request: Request, caller: Caller,
                   svc: Svc) -> JSONResponse:
    """Restore a backup into the environment (queued); `restore.production` in production."""
    return _accepted(request, requests_action.restore_now(svc, caller, f"{tenant}/{env}", source=body.source,
                                                          snapshot=body.snapshot, at=body.at))


@router.post("/clones", status_code=202, response_model=AcceptedDoc, responses=_ACCEPTED, tags=["changes"])
def clone(body: CloneRequest, request: Request, caller: Caller, svc: Svc) -> JSONResponse:
    """Copy an environment into a non-production one, neutralized (queued)."""
    return _accepted(request, requests_action.clone_now(svc, caller, body.source, body.target,
                                                        anonymize=body.anonymize))


@router.post("/releases/{release}/promotions", status_code=202, response_model=AcceptedDoc, responses=_ACCEPTED,
             tags=["changes"])
def promote(release: str, body: PromoteRequest, request: Request, caller: Caller, svc: Svc) -> JSONResponse:
    """Promote a release through its gates (queued): the operation says what each gate decided."""
    return _accepted(request, requests_action.promote_now(svc, caller, release, body.to))


@router.get("/approvals", response_model=list[PendingChange], tags=["changes"])
def approvals(caller: Caller, svc: Svc) -> Any:
    """Open promotion requests on environments in scope, oldest first (`own`: the caller requested it)."""
    return [{**asdict(p), "requested_at": _iso(p.requested_at)} for p in dashboard.approvals(svc.context(), caller)]


@router.post("/approvals/{change}", tags=["changes"])
def decide(change: Annotated[int, Path(ge=1, le=MAX_ID)], body: Decision, caller: Caller, svc: Svc) -> Any:
    """Approve or reject a promotion request: `releases.approve`, never one's own (separation of duties)."""
    event = dashboard.decide(svc.context(), caller, change, approve=body.decision == "approve", reason=body.reason)
    return {"change": change, "decision": body.decision, "by": event.actor, "at": _iso(event.ts)}


# -- rollouts (docs/rollouts.md) ----------------------------------------------------------------
@router.get("/rollouts", tags=["governance"])
def rollout_status(caller: Caller, svc: Svc) -> Any:
    """Each rollout wave with an environment in scope: its phase and its checklist, verified now."""
    return [{**asdict(s), "since": _iso(s.since), "go": s.go}
            for s in rollouts_action.status_for(svc.context(), caller)]


# -- sleeping non-production (docs/cost.md#sleeping-non-production) ----------------------------
@router.get("/schedules", tags=["governance"])
def schedule_status(caller: Caller, svc: Svc) -> Any:
    """Each scheduled environment in scope: asleep or awake, since, what its schedule wants, next change."""
    return [{**asdict(r), **{k: _iso(getattr(r, k)) for k in ("since", "next_change", "awake_until")}}
            for r in sleeping_action.status_for(svc.context(), caller)]


@router.post("/environments/{tenant}/{env}/wake", tags=["changes"])
def wake_environment(tenant: str, env: str, caller: Caller, svc: Svc) -> Any:
    """Wake a sleeping environment now, for its schedule's wake_minutes (`tenants.change`); 200 once it serves."""
    r = sleeping_action.wake_for(svc.context(), caller, f"{tenant}/{env}")
    return {**asdict(r), **{k: _iso(getattr(r, k)) for k in ("since", "next_change", "awake_until")}}


# -- cost allocation (docs/cost.md) --------------------------------------------------------------
@router.get("/cost", tags=["governance"])
def cost_report(caller: Caller, svc: Svc,
                month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="2026-11")] = None,
                months: Annotated[int, Query(ge=1, le=24, description="A trend of this many months.")] = 1,
                by: Annotated[str, Query(description="tenant, business_unit, brand, site, cost_centre, stage or "
                                                     "environment")] = "tenant") -> Any:
    """Usage and cost of the environments in scope, grouped, for a month (and the months before it)."""
    done = cost_action.report_for(svc.context(), caller, month=month, months=months, by=by)
    return {"currency": done.currency, "by": done.by, "months": [
        {"month": m.month, "total": m.total, "lines": [asdict(line) for line in m.lines],
         "environments": [{**asdict(c), "total": c.total} for c in m.environments]} for m in done.months]}


# -- guardrails and their waivers (docs/governance.md) -----------------------------------------
class FindingRow(BaseModel):
    rule: str
    severity: str
    target: str
    status: str = Field(description="pass, fail, error, unknown, waived or not-checked.")
    message: str
    fix: str
    waiver: int | None


class GuardrailsDoc(BaseModel):
    checked_at: str
    block_at: str
    blocking: int = Field(description="Unwaived violations at or above block_at.")
    findings: list[FindingRow]


class WaiverRow(BaseModel):
    id: int
    rule: str
    target: str
    reason: str
    state: str = Field(description="requested, active, expired or revoked.")
    requested_by: str
    requested_at: str
    expires_at: str
    approved_by: str | None
    approved_at: str | None
    revoked_by: str | None
    revoked_at: str | None


class WaiverRequest(BaseModel):
    rule: str = Field(max_length=64, examples=["restore-proven"])
    target: str = Field(max_length=128, description="tenant/env, tenant/* or *.", examples=["acme/prod"])
    reason: str = Field(min_length=1, max_length=2000, examples=["restore proof scheduled after the migration"])
    days: int = Field(30, ge=1, le=366, description="How long (at most guardrails.waivers.max_days).")


def _waiver_row(w: Any, at: Any) -> dict[str, Any]:
    return {**{k: (_iso(v) if k.endswith("_at") else v) for k, v in asdict(w).items()}, "state": w.state(at)}


@router.get("/guardrails", response_model=GuardrailsDoc, tags=["governance"])
def guardrail_findings(caller: Caller, svc: Svc, target: str | None = None,
                       status: Annotated[str | None, Query(description="Only findings of this status.")] = None,
                       ) -> Any:
    """Every guardrail finding of the environments in scope (observed state, waivers applied)."""
    from odooplane.estate.guardrails import at_or_above

    at, block_at, findings = fleet.guardrail_findings(svc.context(), caller, target=target, status=status)
    blocking = [f for f in findings if f.violated and at_or_above(f.severity, block_at)]  # type: ignore[arg-type]
    return {"checked_at": _iso(at), "block_at": block_at, "blocking": len(blocking),
            "findings": [{k: getattr(f, k) for k in FindingRow.model_fields} for f in findings]}


@router.get("/waivers", response_model=list[WaiverRow], tags=["governance"])
def waiver_list(caller: Caller, svc: Svc) -> Any:
    """Every guardrail waiver asked for, newest first (those on targets in scope)."""
    at, items = policy_action.waivers_for(svc.context(), caller)
    return [_waiver_row(w, at) for w in items]


@router.post("/waivers", status_code=201, response_model=WaiverRow, tags=["governance"])
def waiver_request(body: WaiverRequest, caller: Caller, svc: Svc) -> Any:
    """Ask for a waiver (`policy.waive`): in force once someone else approves it."""
    ctx = svc.context()
    w = policy_action.waive_in(ctx, caller, body.rule, body.target, reason=body.reason, days=body.days)
    return _waiver_row(w, w.requested_at)


@router.post("/waivers/{waiver_id}/approval", response_model=WaiverRow, tags=["governance"])
def waiver_approval(waiver_id: Annotated[int, Path(ge=1, le=MAX_ID)], caller: Caller, svc: Svc) -> Any:
    """Approve a waiver someone else asked for (`policy.approve`; never one's own)."""
    w = policy_action.approve_in(svc.context(), caller, waiver_id)
    return _waiver_row(w, w.approved_at)


@router.post("/waivers/{waiver_id}/revocation", response_model=WaiverRow, tags=["governance"])
def waiver_revocation(waiver_id: Annotated[int, Path(ge=1, le=MAX_ID)], caller: Caller, svc: Svc) -> Any:
    """End a waiver now (its requester, or `policy.approve`)."""
    w = policy_action.revoke_in(svc.context(), caller, waiver_id)
    return _waiver_row(w, w.revoked_at)


@router.get("/operations/{op_id}/events", tags=["operations"],
            responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}})
def operation_events(op_id: OpId, caller: Caller, svc: Svc) -> StreamingResponse:
    """The operation's progress as server-sent events: `step` for each step as it starts and ends,
    `operation` when its status changes; the stream ends with the operation."""
    ctx = svc.context()
    fleet.operation(ctx, caller, op_id)  # 404 when unknown or out of scope

    def stream() -> Iterator[str]:
        seen: dict[int, tuple[str, int]] = {}
        status = None
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            op, steps = fleet.operation(svc.context(), caller, op_id)
            for step in steps:
                key = (step.status, step.attempts)
                if seen.get(step.seq) != key:
                    seen[step.seq] = key
                    yield f"event: step\ndata: {json.dumps(_step(step))}\n\n"
            if op.status != status:
                status = op.status
                yield f"event: operation\ndata: {json.dumps(_operation(op))}\n\n"
            if op.status not in ("queued", "running"):
                return
            yield ": waiting\n\n"
            time.sleep(0.25)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/roles", response_model=dict[str, list[str]], tags=["access"])
def roles(caller: Caller) -> Any:
    """Every role and the rights it grants."""
    del caller
    return {role: sorted(rights) for role, rights in access.ROLES.items()}


ACCESS_LOG = logging.getLogger("odooplane.api.access")


async def _access_log(request: Request, call_next: Any) -> Any:
    """One line per request: client, method, path, status, milliseconds and the actor (once known)."""
    started = time.perf_counter()
    response = await call_next(request)
    if ACCESS_LOG.isEnabledFor(logging.INFO):
        actor = getattr(request.state, "actor", "-")
        client = request.client.host if request.client else "-"
        ACCESS_LOG.info("%s %s %s %d %.1fms actor=%s", client, request.method, request.url.path,
                        response.status_code, (time.perf_counter() - started) * 1000, actor)
    return response


def create_app(svc: Service, *, executor: Any = None) -> FastAPI:
    app = FastAPI(
        title="Odooplane", version=__version__,
        summary="The control plane of an estate of Odoo instances.",
        openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs", redoc_url=None,
    )
    app.state.service = svc
    app.state.throttle = Throttle()
    app.state.executor = executor  # woken when a request is queued (actions/executor.py)
    problems.install(app)
    app.middleware("http")(_access_log)
    app.include_router(router)
    return app
