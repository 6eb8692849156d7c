"""The mail catcher inside the worker: one SMTP listener per non-production environment, following
the listener file that ``apply`` and ``clone`` write (checked every second). Mail sent to a listener
is stored in that environment's directory and relayed nowhere."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from odooplane.operations.mail import CATCHER_HOST, read_listeners
from odooplane.services.mailcatcher import listen

logger = logging.getLogger(__name__)


async def _follow(listeners_file: Path, stop: threading.Event, *, poll: float = 1.0) -> None:
    servers: dict[tuple[int, Path], asyncio.Server] = {}
    seen: float | None = None
    try:
        while not stop.is_set():
            try:
                mtime = listeners_file.stat().st_mtime
            except OSError:
                mtime = 0.0
            if mtime != seen or any(not s.is_serving() for s in servers.values()):
                seen = mtime
                wanted = set(read_listeners(listeners_file))
                for key in [k for k in servers if k not in wanted]:
                    servers.pop(key).close()
                for port, directory in sorted(wanted - set(servers)):
                    try:
                        servers[(port, directory)] = await listen(CATCHER_HOST, port, directory)
                    except OSError as exc:  # retried at the next change or poll
                        logger.error("mail catcher cannot listen on %s:%s: %s", CATCHER_HOST, port, exc)
                        seen = None
                    else:
                        logger.info("catching mail on %s:%s into %s", CATCHER_HOST, port, directory)
            await asyncio.sleep(poll)
    finally:
        for server in servers.values():
            server.close()


def start(listeners_file: Path, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        try:
            asyncio.run(_follow(listeners_file, stop))
        except Exception:  # the catcher must never take the worker down
            logger.exception("mail catcher stopped")

    thread = threading.Thread(target=run, name="mail-catcher", daemon=True)
    thread.start()
    return thread
