"""Odoo's external API through the edge (a Host header picks the tenant)."""

from __future__ import annotations

import xmlrpc.client

import httpx


def xmlrpc_call(base: str, host_header: str, path: str, method: str, *params: object,
                headers: dict[str, str] | None = None) -> object:
    """An XML-RPC call through the edge with a Host header (and ``headers``); return the result, or the Fault."""
    body = xmlrpc.client.dumps(params, method)
    response = httpx.post(f"{base}{path}", content=body,
                          headers={**(headers or {}), "Host": host_header, "Content-Type": "text/xml"}, timeout=60)
    assert response.status_code == 200, response.status_code
    try:
        return xmlrpc.client.loads(response.content)[0][0]
    except xmlrpc.client.Fault as fault:
        return fault
