"""Talk to an Odoo (real or simulated) the way a browser does: log in through the web form and
ask the session which database it is on — the honest proof of host → database routing."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def session_db(base_url: str, host: str, *, login: str = "admin", password: str = "admin") -> str:
    """Log in at ``base_url`` with Host ``host``; return the database of the session."""
    with httpx.Client(base_url=base_url, headers={"Host": host}, timeout=30, follow_redirects=False) as client:
        # Like a browser: Odoo answers 302 to the same URL when it has just put the database in the
        # session.
        page = client.get("/web/login", follow_redirects=True)
        assert page.status_code == 200 and page.url.path == "/web/login", \
            f"/web/login for {host}: {page.status_code} {page.url}"
        token = CSRF.search(page.text)
        assert token, "no csrf_token in the login page"
        response = client.post("/web/login", data={"login": login, "password": password, "csrf_token": token.group(1),
                                                    "type": "password", "redirect": ""})
        assert response.status_code in (302, 303), f"login for {host}: {response.status_code}"
        info = client.post("/web/session/get_session_info", json={"jsonrpc": "2.0", "method": "call", "params": {},
                                                                  "id": 1})
        result = info.json().get("result")
        assert result, f"no session info for {host}: {info.text[:200]}"
        return str(result["db"])
