"""The dashboard: server-rendered pages (Jinja2) made live with htmx (served from here; no build,
no inline script or style, so the Content-Security-Policy allows only this origin). A person signs
in with a password or through OIDC (web/oidc.py); the session is a random cookie (HttpOnly,
SameSite=Lax, Secure over HTTPS) whose SHA-256 the state store keeps, and every form or htmx
request that changes something carries the session's CSRF token."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets as random
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from odooplane import __version__
from odooplane.access import ROLE_SUMMARY, Principal
from odooplane.actions import access as access_action
from odooplane.actions import cost as cost_action
from odooplane.actions import dashboard, fleet
from odooplane.actions import policy as policy_action
from odooplane.actions import requests as requests_action
from odooplane.actions import rollouts as rollouts_action
from odooplane.actions.service import Service
from odooplane.errors import Forbidden, NotFound, OdooplaneError
from odooplane.throttle import Throttle

COOKIE = "odooplane_session"
MAX_ID = 2**63 - 1  # ids are 64-bit integers in the state database
LOGIN_COOKIE = "odooplane_login"  # the sign-in form's CSRF token (double submit), before any session
_STATIC = __package__ or "odooplane.web"
_env = jinja2.Environment(loader=jinja2.PackageLoader("odooplane.web", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_env.filters["age"] = dashboard.age
_env.filters["when"] = lambda value: f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class SignInNeeded(OdooplaneError):
    """The page needs a signed-in person."""


class Page:
    """Who is looking (the session) and how to render for them."""

    def __init__(self, request: Request, svc: Service, principal: Principal, csrf: str, secret: str) -> None:
        self.request = request
        self.svc = svc
        self.principal = principal
        self.csrf = csrf
        self.secret = secret

    @property
    def ctx(self) -> Any:
        return self.svc.context()

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.request, template, status=status, me=self.principal, csrf=self.csrf,
                      role_summary=ROLE_SUMMARY.get(self.principal.role, ""), **values)

    def check_csrf(self, token: str | None) -> None:
        sent = token or self.request.headers.get("x-csrf-token") or ""
        if not hmac.compare_digest(sent, self.csrf):
            raise Forbidden("the form is stale or did not come from this dashboard (CSRF token): reload the page")


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    page = _env.get_template(template).render(request=request, version=__version__, path=request.url.path,
                                              now=dt.datetime.now(dt.UTC), **values)
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def page(request: Request) -> Page:
    """The signed-in person's page context; SignInNeeded otherwise (a redirect to the sign-in page)."""
    svc = _service(request)
    secret = request.cookies.get(COOKIE, "")
    session = access_action.session_of(svc.context(), secret) if secret else None
    if session is None:
        raise SignInNeeded("sign in")
    request.state.actor = session.principal.actor
    return Page(request, svc, session.principal, session.csrf, secret)


Me = Annotated[Page, Depends(page)]
router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only a path of this site (never another origin) to go back to after signing in."""
    if not value or not value.startswith("/") or value.startswith("//") or urlsplit(value).netloc:
        return "/"
    return value


def _secure(request: Request) -> bool:
    forced = getattr(request.app.state, "secure_cookies", None)
    return bool(forced) if forced is not None else request.url.scheme == "https"


def _guard(me: Page, draw: Callable[[], Response]) -> Response:
    """Render ``draw()``; an Odooplane error becomes the error page with its status."""
    try:
        return draw()
    except NotFound as exc:
        return me.render("error.html", status=404, title="Not found", message=exc.message)
    except Forbidden as exc:
        return me.render("error.html", status=403, title="Not allowed", message=exc.message)
    except OdooplaneError as exc:
        return me.render("error.html", status=400, title="Refused", message=exc.message)


# -- signing in and out ------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, error: str | None = None) -> HTMLResponse:
    token = random.token_urlsafe(24)
    oidc = getattr(request.app.state, "oidc", None)
    response = render(request, "login.html", next=_safe_next(next), error=error, login_csrf=token,
                      oidc=oidc.label if oidc else None, me=None, csrf="")
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=1024)], login_csrf: Annotated[str, Form(max_length=64)],
          next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    svc = _service(request)
    client = request.client.host if request.client else "?"
    throttle: Throttle = request.app.state.login_throttle
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, login_csrf):
        return RedirectResponse(f"/login?error=expired&next={quote(_safe_next(next))}", status_code=303)
    for key in (f"client:{client}", f"user:{username}"):
        wait = throttle.blocked_for(key)
        if wait > 0:
            return render(request, "login.html", status=429, next=_safe_next(next), login_csrf=login_csrf,
                          error=f"too many failed sign-ins: try again in {wait:.0f} s", oidc=None, me=None, csrf="")
    started = access_action.sign_in(svc.context(), username, password, client=client)
    if started is None:
        throttle.failed(f"client:{client}")
        throttle.failed(f"user:{username}")
        return render(request, "login.html", status=401, next=_safe_next(next), login_csrf=login_csrf,
                      error="wrong user name or password", oidc=None, me=None, csrf="")
    return signed_in(request, started[0], _safe_next(next))


def signed_in(request: Request, secret: str, to: str) -> Response:
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="lax", secure=_secure(request),
                        max_age=12 * 3600, path="/")
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(me: Me, csrf: Annotated[str, Form(max_length=64)] = "") -> Response:
    me.check_csrf(csrf)
    access_action.sign_out(me.ctx, me.secret, me.principal)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- pages -------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def fleet_page(me: Me, group: str = "business_unit", status: str | None = None, label: str | None = None,
               after: str | None = None) -> Response:
    def draw() -> Response:
        view = dashboard.fleet_view(me.ctx, me.principal, group_by=group, status=status or None,
                                    labels=[label] if label else [], after=after)
        template = "fleet_rows.html" if me.request.headers.get("hx-request") else "fleet.html"
        return me.render(template, view=view, group=group, wanted=status or "", label=label or "",
                         statuses=dashboard.STATUSES)
    return _guard(me, draw)


@router.get("/tenants/{name}", response_class=HTMLResponse)
def tenant_page(name: str, me: Me) -> Response:
    return _guard(me, lambda: me.render("tenant.html", page=dashboard.tenant_page(me.ctx, me.principal, name)))


@router.post("/environments/{tenant}/{env}/credentials", response_class=HTMLResponse)
def reveal(tenant: str, env: str, me: Me, csrf: Annotated[str, Form(max_length=64)] = "") -> Response:
    def draw() -> Response:
        me.check_csrf(csrf)
        found = dashboard.reveal(me.ctx, me.principal, f"{tenant}/{env}")
        response = me.render("credentials.html", creds=found)
        response.headers["Cache-Control"] = "no-store"
        return response
    return _guard(me, draw)


@router.post("/environments/{tenant}/{env}/backups")
def backup(tenant: str, env: str, me: Me, csrf: Annotated[str, Form(max_length=64)] = "") -> Response:
    def draw() -> Response:
        me.check_csrf(csrf)
        accepted = requests_action.backup_now(me.svc, me.principal, f"{tenant}/{env}")
        executor = getattr(me.request.app.state, "executor", None)
        if executor is not None:
            executor.wake()
        return RedirectResponse(f"/operations/{accepted.operation}", status_code=303)
    return _guard(me, draw)


@router.get("/operations", response_class=HTMLResponse)
def operations_page(me: Me, before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    status: str | None = None) -> Response:
    return _guard(me, lambda: me.render("operations.html", page=fleet.operations(
        me.ctx, me.principal, before=before, status=status or None, limit=50), wanted=status or ""))


@router.get("/operations/{op_id}", response_class=HTMLResponse)
def operation_page(op_id: Annotated[int, Path(ge=1, le=MAX_ID)], me: Me) -> Response:
    def draw() -> Response:
        op, steps = fleet.operation(me.ctx, me.principal, op_id)
        template = "operation_steps.html" if me.request.headers.get("hx-request") else "operation.html"
        return me.render(template, op=op, steps=steps, live=op.status in ("queued", "running"))
    return _guard(me, draw)


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(me: Me, done: str | None = None) -> Response:
    return _guard(me, lambda: me.render("approvals.html", pending=dashboard.approvals(me.ctx, me.principal),
                                        may_approve="releases.approve" in me.principal.rights, done=done or ""))


@router.post("/approvals/{change}", response_class=HTMLResponse)
def decide(change: Annotated[int, Path(ge=1, le=MAX_ID)], me: Me,
           decision: Annotated[str, Form(pattern="^(approve|reject)$")],
           csrf: Annotated[str, Form(max_length=64)] = "",
           reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    def draw() -> Response:
        me.check_csrf(csrf)
        dashboard.decide(me.ctx, me.principal, change, approve=decision == "approve", reason=reason)
        verb = "approved" if decision == "approve" else "rejected"
        return me.render("approvals.html", pending=dashboard.approvals(me.ctx, me.principal),
                         may_approve=True, done=f"change #{change} {verb}")
    return _guard(me, draw)


@router.get("/drills", response_class=HTMLResponse)
def drills_page(me: Me) -> Response:
    return _guard(me, lambda: me.render("drills.html", drills=dashboard.drills(me.ctx, me.principal)))


def _guardrails(me: Page, done: str = "") -> Response:
    at, block_at, findings = fleet.guardrail_findings(me.ctx, me.principal)
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    shown = sorted((f for f in findings if f.status not in ("pass", "not-checked")),
                   key=lambda f: (f.status in ("waived", "unknown"), order.get(f.severity, 9), f.rule, f.target))
    now, waivers = policy_action.waivers_for(me.ctx, me.principal)
    return me.render("guardrails.html", checked_at=at, block_at=block_at, shown=shown, done=done,
                     passed=sum(1 for f in findings if f.status == "pass"),
                     waivers=[(w, w.state(now)) for w in waivers], actor=me.principal.actor,
                     may_approve="policy.approve" in me.principal.rights,
                     may_waive="policy.waive" in me.principal.rights,
                     rules=policy_action.rule_ids(me.ctx), max_days=me.ctx.estate.guardrails.waivers.max_days)


@router.get("/guardrails", response_class=HTMLResponse)
def guardrails_page(me: Me) -> Response:
    return _guard(me, lambda: _guardrails(me))


@router.post("/guardrails/waivers", response_class=HTMLResponse)
def waiver_request(me: Me, *, rule: Annotated[str, Form(max_length=64)], target: Annotated[str, Form(max_length=128)],
                   reason: Annotated[str, Form(max_length=2000)], days: Annotated[int, Form(ge=1, le=366)] = 30,
                   csrf: Annotated[str, Form(max_length=64)] = "") -> Response:
    def draw() -> Response:
        me.check_csrf(csrf)
        w = policy_action.waive_in(me.ctx, me.principal, rule, target, reason=reason, days=days)
        return _guardrails(me, f"waiver #{w.id} asked for: in force once someone else approves it")
    return _guard(me, draw)


@router.post("/guardrails/waivers/{waiver_id}", response_class=HTMLResponse)
def waiver_decide(waiver_id: Annotated[int, Path(ge=1, le=MAX_ID)], me: Me,
                  decision: Annotated[str, Form(pattern="^(approve|revoke)$")],
                  csrf: Annotated[str, Form(max_length=64)] = "") -> Response:
    def draw() -> Response:
        me.check_csrf(csrf)
        if decision == "approve":
            policy_action.approve_in(me.ctx, me.principal, waiver_id)
        else:
            policy_action.revoke_in(me.ctx, me.principal, waiver_id)
        return _guardrails(me, f"waiver #{waiver_id} {'approved' if decision == 'approve' else 'revoked'}")
    return _guard(me, draw)


@router.get("/rollouts", response_class=HTMLResponse)
def rollouts_page(me: Me) -> Response:
    return _guard(me, lambda: me.render("rollouts.html", waves=rollouts_action.status_for(me.ctx, me.principal)))


@router.get("/cost", response_class=HTMLResponse)
def cost_page(me: Me, by: Annotated[str, Query(max_length=20)] = "business_unit",
              month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None) -> Response:
    def draw() -> Response:
        done = cost_action.report_for(me.ctx, me.principal, month=month, by=by)
        return me.render("cost.html", report=done, month=done.months[-1], dimensions=cost_action.DIMENSIONS)
    return _guard(me, draw)


def _to_login(request: Request, exc: Exception) -> Response:
    del exc
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": "/login"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def install(app: FastAPI, *, secure_cookies: bool | None = None, oidc: Any = None) -> None:
    """Add the dashboard to ``app`` (the API's): its pages, static files and sign-in."""
    app.state.login_throttle = Throttle(failures=5, window_s=300)
    app.state.secure_cookies = secure_cookies
    app.state.oidc = oidc
    app.add_exception_handler(SignInNeeded, _to_login)
    app.mount("/static", StaticFiles(packages=[(_STATIC, "static")]), name="static")
    app.include_router(router)
    if oidc is not None:
        from odooplane.web import oidc as oidc_routes

        app.include_router(oidc_routes.router)
