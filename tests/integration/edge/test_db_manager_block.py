"""The real Traefik, configured by the renderers, in front of a loopback backend that records
every request reaching it: Odoo's database manager is refused at the edge in every spelling a
server or proxy could route — letter case, repeated or dotted separators, ';params', percent-
and double-encoding, encoded separators — while ordinary Odoo paths still get through."""

from __future__ import annotations

import http.server
import itertools
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from odooplane.clock import wait_until
from odooplane.render import traefik
from odooplane.services.traefik import TraefikApi, binary
from tests.support.services import free_port

pytestmark = pytest.mark.integration

HOST = "acme-prod.localhost"
SLUG = "acme__prod"


@dataclass
class Backend:
    """A stand-in for Odoo: answers 200 and records the probe id of each request it receives."""

    seen: dict[str, str] = field(default_factory=dict)  # probe id -> request target as received
    port: int = 0


@dataclass
class Edge:
    port: int
    backend: Backend


def _serve(backend: Backend) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            backend.seen[self.headers.get("X-Probe", "")] = self.path
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(200)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"backend")

        do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = _any

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    backend.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("edge")
    backend = Backend()
    server = _serve(backend)
    web, api = free_port(), free_port()
    dynamic = root / "dynamic"
    dynamic.mkdir()
    (root / "traefik.yml").write_text(traefik.render_static(traefik.StaticInputs(
        http_address=f"127.0.0.1:{web}", api_address=f"127.0.0.1:{api}", dynamic_dir=str(dynamic),
        access_log=None, log_file=str(root / "traefik.log"))))
    (dynamic / "common.yaml").write_text(traefik.render_common())
    (dynamic / f"env-{SLUG}.yaml").write_text(traefik.render_env(traefik.EnvRoute(
        name=SLUG, hostnames=(HOST,), http_port=backend.port, evented_port=None, series_major=18)))
    with (root / "traefik.out").open("wb") as out:
        proc = subprocess.Popen([binary(), f"--configFile={root / 'traefik.yml'}"], stdout=out, stderr=out)
    try:
        api_client = TraefikApi(api)

        def loaded() -> bool:
            routers = api_client.routers() or {}
            wanted = {SLUG, f"{SLUG}{traefik.SEPARATOR}dbmanager"}
            return wanted <= set(routers) and all(routers[r].status == "enabled" for r in wanted)

        assert wait_until(loaded, timeout=30, interval=0.1), (root / "traefik.out").read_text()[-2000:]
        yield Edge(web, backend)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.shutdown()


def send(edge: Edge, target: str, probe: str, method: str = "GET") -> int:
    """Send ``target`` byte for byte (no client normalises it); return the status code."""
    body = b"master_pwd=x&name=acme_prod" if method == "POST" else b""
    head = (f"{method} {target} HTTP/1.1\r\nHost: {HOST}\r\nX-Probe: {probe}\r\nConnection: close\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def _spellings(word: str) -> list[str]:
    """``word`` as case variants, with one letter percent-encoded (what Traefik decodes, since a
    letter is unreserved) and double-encoded (``%25`` + the code: decoded once by each layer)."""
    first = f"%{ord(word[0]):02X}"
    return [word, word.upper(), word.capitalize(), "".join(c.upper() if i % 2 else c for i, c in enumerate(word)),
            first + word[1:], first.lower() + word[1:], "%25" + first[1:] + word[1:]]


SEPARATORS = ["/", "//", "/./", "/x/../", "%2F", "%2f", "\\", "%5C", "/;x/", ";x/", "/%2e/", "%2F%2F"]
LEADS = ["/", "//", "/./", "/;a/", "/%2e/"]
TAILS = ["/manager", "/manager/", "/selector", "/backup", "/list", "", "/", ";x/manager", "%2Fmanager",
         "/manager?debug=1", "/./manager", "/%6Danager"]


def blocked_targets() -> list[tuple[str, str]]:
    """(method, request target) pairs that name the database manager, generated systematically."""
    out: list[tuple[str, str]] = []
    webs, databases = _spellings("web"), _spellings("database")
    # Every spelling of each segment with every separator between them.
    for web, sep, database in itertools.product(webs, SEPARATORS, databases[:4]):
        out.append(("GET", f"/{web}{sep}{database}/manager"))
    for lead, database, tail in itertools.product(LEADS, databases, TAILS[:6]):
        out.append(("GET", f"{lead}web/{database}{tail}"))
    out += [("GET", f"/web/database{tail}") for tail in TAILS]
    out += [("POST", f"/web/database/{action}") for action in ("create", "duplicate", "drop", "backup", "restore",
                                                             "change_password", "list")]
    out += [("POST", "/WEB/Database/drop"), ("POST", "//web//database//backup"), ("POST", "/web/%2564atabase/drop"),
            ("POST", "/web/database/..;/database/drop"), ("POST", "/web/database%00/drop")]
    # The 'db' RPC service.
    for xmlrpc, sep, db in itertools.product(["xmlrpc", "XMLRPC", "XmlRpc", "%78mlrpc"], ["/", "//", "/./", "%2F"],
                                             ["db", "DB", "Db", "%64b"]):
        out.append(("POST", f"/{xmlrpc}{sep}2{sep}{db}"))
    out += [("POST", target) for target in ("/xmlrpc/db", "/xmlrpc/db/", "/xmlrpc/2/db/", "/xmlrpc/2/db;x",
                                            "/xmlrpc;x/2/db", "/xmlrpc/2;x/db", "/xmlrpc/%32/db", "//xmlrpc//db")]
    # The absolute form of the request target (a proxy's form).
    out += [("GET", f"http://{HOST}/web/database/manager"), ("GET", f"http://{HOST}//WEB/./Database/manager")]
    return list(dict.fromkeys(out))


ALLOWED = [
    "/web/login", "/web/dataset/call_kw", "/web/dataset/call_kw/res.partner/read", "/web/webclient/version_info",
    "/xmlrpc/2/common", "/xmlrpc/2/object", "/xmlrpc/common", "/jsonrpc", "/web/static/src/views/database/x.js",
    "/web/content/42/report%20%231.pdf", "/web/image/res.partner/3/avatar_128", "/odoo/action-base.action_res_users",
    "/websocket", "/web/health",
]


def test_every_spelling_of_the_database_manager_is_refused_at_the_edge(edge: Edge) -> None:
    targets = blocked_targets()
    assert len(targets) >= 150
    reached = []
    statuses: dict[int, int] = {}
    for index, (method, target) in enumerate(targets):
        probe = f"b{index}"
        status = send(edge, target, probe, method)
        statuses[status] = statuses.get(status, 0) + 1
        if probe in edge.backend.seen or status not in (400, 403):
            reached.append(f"{method} {target} -> {status}")
    assert reached == [], f"{len(reached)} of {len(targets)} reached past the edge:\n" + "\n".join(reached)
    assert set(statuses) <= {400, 403} and statuses.get(403, 0) > 0


def test_ordinary_odoo_paths_still_reach_odoo(edge: Edge) -> None:
    for index, target in enumerate(ALLOWED):
        probe = f"a{index}"
        assert send(edge, target, probe, "POST" if target.endswith(("call_kw", "/read")) else "GET") == 200, target
        assert edge.backend.seen.get(probe) == target
