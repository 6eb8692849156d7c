"""What the local driver writes, as pure functions of the desired state: supervisord programs,
odoo.conf files, Traefik's static and dynamic configuration, the mail catcher's listener file. The
driver writes these texts; ``odooplane render`` shows them without applying anything."""

from __future__ import annotations

from pathlib import Path

from odooplane.drivers.base import Artifacts, DesiredRuntime, EdgeSpec, ProcessSpec
from odooplane.drivers.local.odoo import LocalOdoo, paths, render_conf
from odooplane.layout import Layout
from odooplane.render import supervisor as render_supervisor
from odooplane.render import traefik as render_traefik
from odooplane.services import mailcatcher
from odooplane.services.service_users import ServiceUser

EDGE_PROGRAM = "edge"


def program(spec: ProcessSpec) -> render_supervisor.Program:
    return render_supervisor.Program(
        name=spec.name,
        command=spec.argv,
        directory=str(spec.cwd),
        log_file=str(spec.log_file),
        environment=dict(spec.env),
        user=spec.user,
        stop_signal=spec.stop_signal,
        stop_wait_s=spec.stop_wait_s,
        start_s=spec.start_s,
        priority=spec.priority,
    )


def program_file(layout: Layout, name: str) -> Path:
    """Where supervisord reads the program ``name`` (drivers/local/supervisor.py keeps them there)."""
    return layout.supervisor / "programs" / f"{name}.conf"


def edge_static(layout: Layout, edge: EdgeSpec) -> str:
    """Traefik's static configuration: entry points, the file provider on the dynamic directory."""
    return render_traefik.render_static(
        render_traefik.StaticInputs(
            http_address=edge.http_address,
            api_address=f"127.0.0.1:{edge.api_port}",
            dynamic_dir=str(layout.edge_dynamic),
            access_log=str(layout.access_log) if edge.access_log else None,
            log_file=str(layout.edge_log),
            trusted_proxies=edge.trusted_proxies,
            trace_endpoint=edge.trace_endpoint,
            https_address=edge.https_address,
            redirect_http=edge.redirect_http,
            acme_email=edge.acme_email,
            acme_ca=edge.acme_ca,
            acme_storage=str(layout.edge / "acme.json") if edge.acme_email else None,
        )
    )


def edge_process(layout: Layout, binary: str) -> ProcessSpec:
    """The supervised Traefik (``binary``: the traefik executable)."""
    return ProcessSpec(
        name=EDGE_PROGRAM,
        kind="edge",
        argv=(binary, f"--configFile={layout.edge / 'traefik.yml'}"),
        cwd=layout.edge,
        log_file=layout.process_log(EDGE_PROGRAM),
        stop_wait_s=10,
        priority=200,
    )


def render_artifacts(desired: DesiredRuntime, *, layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None,
                     traefik_binary: str) -> Artifacts:
    """Every file the local driver would write for ``desired``, by its path relative to the data
    directory (``layout.root``). Managed clusters are initdb'd and configured when they start: they
    have no file here."""
    out: dict[Path, str] = {}
    local = LocalOdoo(layout, odoo_user)
    for w in desired.workloads:
        out[paths(layout, w).conf] = render_conf(layout, w)
        out[program_file(layout, w.name)] = render_supervisor.render_program(program(local.spec(w)))
    out[layout.edge / "traefik.yml"] = edge_static(layout, edge)
    out[layout.edge_dynamic / "common.yaml"] = render_traefik.render_common(edge.certificates)
    out[program_file(layout, EDGE_PROGRAM)] = render_supervisor.render_program(
        program(edge_process(layout, traefik_binary)))
    for route in desired.routes:
        out[layout.route_file(route.name)] = render_traefik.render_env(route)
    for service in desired.pool_services:
        out[layout.pool_route_file(service.name.removeprefix("pool-"))] = render_traefik.render_pool(service)
    for spec in desired.processes:  # the worker, supervised like the rest
        out[program_file(layout, spec.name)] = render_supervisor.render_program(program(spec))
    if desired.mail_listeners:
        out[layout.mail_listeners] = mailcatcher.listeners_text(
            {m.target: (m.port, m.directory) for m in desired.mail_listeners})
    return {relative(layout, path): text for path, text in sorted(out.items())}


RUNTIME = "runtime"  # where files of Odoo's directories kept outside the data directory are listed


def relative(layout: Layout, path: Path) -> str:
    """``path`` relative to the data directory; a file of Odoo's runtime directory kept elsewhere
    (Odooplane run as root) as ``runtime/…``."""
    if path.is_relative_to(layout.root):
        return str(path.relative_to(layout.root))
    return str(Path(RUNTIME) / path.relative_to(layout.run_root))
