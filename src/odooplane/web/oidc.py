"""Signing in through an OpenID Connect provider (``platform.identity.oidc``): the authorization code
flow with PKCE (authlib's OAuth 2 client), the ID token checked with the provider's keys (joserfc:
signature, issuer, audience, expiry, nonce), the person's groups mapped to a role. What the flow must
remember between the redirect and the callback (state, nonce, PKCE verifier, where to go back) rides
in a cookie encrypted with the estate's secret key, so any process of the service can finish it."""

from __future__ import annotations

import json
import secrets as random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from cryptography.fernet import Fernet, InvalidToken
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from odooplane.actions import access as access_action
from odooplane.estate.models import OidcProvider
from odooplane.web import app as web

FLOW_COOKIE = "odooplane_oidc"
FLOW_MAX_AGE_S = 600
router = APIRouter(include_in_schema=False)


@dataclass
class Oidc:
    """The provider, its client secret and its discovery document (fetched once, then every hour)."""

    provider: OidcProvider
    client_secret: str
    fernet: Fernet
    _metadata: dict[str, Any] | None = None
    _fetched_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def label(self) -> str:
        return self.provider.label

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched_at > 3600:
                url = self.provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
                answer = httpx.get(url, timeout=10)
                answer.raise_for_status()
                self._metadata = answer.json()
                self._fetched_at = time.monotonic()
            return self._metadata

    def client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(client_id=self.provider.client_id, client_secret=self.client_secret,
                            scope="openid profile email", redirect_uri=redirect_uri,
                            code_challenge_method="S256", timeout=10)


def _redirect_uri(request: Request, oidc: Oidc) -> str:
    base = oidc.provider.public_url or f"{request.url.scheme}://{request.url.netloc}"
    return f"{base}/login/oidc/callback"


def _fail(request: Request, why: str) -> Response:
    svc = web._service(request)
    client = request.client.host if request.client else "?"
    access_action.refused_sign_in(svc.context(), client=client, via="oidc", reason=why)
    return RedirectResponse(f"/login?error={why.replace(' ', '+')}", status_code=303)


@router.get("/login/oidc")
def start(request: Request, next: str | None = None) -> Response:
    oidc: Oidc = request.app.state.oidc
    meta = oidc.metadata()
    state, nonce, verifier = random.token_urlsafe(24), random.token_urlsafe(24), random.token_urlsafe(48)
    client = oidc.client(_redirect_uri(request, oidc))
    url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=state, nonce=nonce,
                                             code_verifier=verifier)
    flow = json.dumps({"state": state, "nonce": nonce, "verifier": verifier, "next": web._safe_next(next)})
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(FLOW_COOKIE, oidc.fernet.encrypt(flow.encode()).decode(), httponly=True, samesite="lax",
                        secure=web._secure(request), max_age=FLOW_MAX_AGE_S, path="/login/oidc")
    return response


@router.get("/login/oidc/callback")
def callback(request: Request, code: str | None = None, state: str | None = None,
             error: str | None = None) -> Response:
    oidc: Oidc = request.app.state.oidc
    try:
        flow = json.loads(oidc.fernet.decrypt(request.cookies.get(FLOW_COOKIE, "").encode(), ttl=FLOW_MAX_AGE_S))
    except (InvalidToken, ValueError):
        return _fail(request, "the sign-in took too long or did not start here")
    if error or not code:
        return _fail(request, f"the provider refused: {(error or 'no code')[:60]}")
    if not state or not random.compare_digest(state, flow["state"]):
        return _fail(request, "the sign-in state does not match")
    meta = oidc.metadata()
    client = oidc.client(_redirect_uri(request, oidc))
    try:
        token = client.fetch_token(meta["token_endpoint"], code=code, code_verifier=flow["verifier"])
        keys = KeySet.import_key_set(httpx.get(meta["jwks_uri"], timeout=10).json())
        decoded = jwt.decode(token["id_token"], keys)
        jwt.JWTClaimsRegistry(iss={"essential": True, "value": meta.get("issuer", oidc.provider.issuer)},
                              aud={"essential": True, "value": oidc.provider.client_id},
                              nonce={"essential": True, "value": flow["nonce"]},
                              exp={"essential": True}).validate(decoded.claims)
    except (JoseError, httpx.HTTPError, KeyError, ValueError) as exc:
        return _fail(request, f"the ID token was not accepted ({type(exc).__name__})")
    claims = dict(decoded.claims)
    svc = web._service(request)
    client_host = request.client.host if request.client else "?"
    started = access_action.sign_in_oidc(svc.context(), oidc.provider, claims, client=client_host)
    if started is None:
        return _fail(request, "no group of yours gives a role here")
    response = web.signed_in(request, started[0], flow["next"])
    response.delete_cookie(FLOW_COOKIE, path="/login/oidc")
    return response


def load(provider: OidcProvider, client_secret: str, key: bytes) -> Oidc:
    return Oidc(provider, client_secret, Fernet(key))
