"""Mail of non-production environments: each gets a port of the mail catcher (run by the worker),
its Odoo is pointed there (odoo.conf for dedicated processes; an ``ir_mail_server`` record for
neutralized copies), and what it sent is readable with ``odooplane mail``."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from odooplane.errors import PermanentError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.files import atomic_write
from odooplane.operations.context import Context
from odooplane.operations.desired import mail_port
from odooplane.services import mailcatcher

CATCHER_HOST = "127.0.0.1"


def listeners(ctx: Context, *, create: bool) -> dict[str, tuple[int, Path]]:
    """target → (port, directory) of every non-production environment with a port."""
    out = {}
    for env in ctx.valid.environments:
        port = mail_port(ctx, env, create=create)
        if port is not None:
            out[str(env.ref)] = (port, ctx.layout.mail_dir(env.ref.slug))
    return out


def publish(ctx: Context) -> dict[str, tuple[int, Path]]:
    """Allocate the ports and write the listener file the worker's catcher follows."""
    wanted = listeners(ctx, create=True)
    ctx.layout.mail.mkdir(parents=True, exist_ok=True)
    atomic_write(ctx.layout.mail_listeners, mailcatcher.listeners_text(wanted))
    ctx.driver.ensure_mail_sink({port: directory for port, directory in wanted.values()})
    return wanted


def read_listeners(path: Path) -> list[tuple[int, Path]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [(int(v["port"]), Path(v["dir"])) for v in data.values()]


def answers(port: int) -> bool:
    """Whether an SMTP server greets on ``port``."""
    try:
        with socket.create_connection((CATCHER_HOST, port), timeout=2) as sock:
            return sock.recv(64).startswith(b"220")
    except OSError:
        return False


def wait_listening(ctx: Context, env: DesiredEnvironment, *, timeout: float = 20) -> int:
    """The catcher port of ``env`` once the worker's catcher answers on it; fail closed otherwise."""
    wanted = publish(ctx)
    if str(env.ref) not in wanted:
        raise PermanentError(f"{env.ref} is a {env.stage} environment: its mail is not caught")
    port = wanted[str(env.ref)][0]
    deadline = time.monotonic() + timeout
    while not answers(port):
        if time.monotonic() > deadline:
            raise PermanentError(f"the mail catcher does not answer on port {port} for {env.ref} (is the worker "
                                 f"running? `odooplane status`); nothing was made reachable")
        time.sleep(0.2)
    return port


def messages(ctx: Context, env: DesiredEnvironment, *, limit: int = 50) -> list[mailcatcher.Message]:
    return mailcatcher.read_messages(ctx.layout.mail_dir(env.ref.slug), limit=limit)
