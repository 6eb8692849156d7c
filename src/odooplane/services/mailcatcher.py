"""An SMTP sink for non-production environments: it accepts every message and relays none.

Neutralized copies send all their mail to it (see services/neutralize.py); each message is kept as
``DIR/<UTC timestamp>-<n>.eml`` (written to a hidden temporary file, then renamed, so a reader
never sees half a message), with the SMTP envelope recorded in two ``X-Odooplane-Envelope-*``
headers (Bcc recipients appear nowhere else). The oldest files are removed beyond ``--keep``.

Run it as ``python -m odooplane.services.mailcatcher --host 127.0.0.1 --port N --dir DIR``;
:func:`program_argv` builds that command for the supervisor. It stops cleanly on SIGTERM/SIGINT.
No authentication and no TLS are offered: it must listen on loopback or a private network only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import email.policy
import email.utils
import functools
import itertools
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

ENVELOPE_FROM = "X-Odooplane-Envelope-From"
ENVELOPE_TO = "X-Odooplane-Envelope-To"
DEFAULT_KEEP = 5000
SUFFIX = ".eml"


def listeners_text(listeners: Mapping[str, tuple[int, Path]]) -> str:
    """The listener file the worker's catcher follows: target -> its port and message directory."""
    import json

    return json.dumps({t: {"port": p, "dir": str(d)} for t, (p, d) in sorted(listeners.items())}, indent=1) + "\n"


def program_argv(python: str, host: str, port: int, directory: str | Path, *, keep: int = DEFAULT_KEEP) -> list[str]:
    """The command line a supervisor runs to keep a catcher listening on ``host:port``."""
    return [python, "-m", "odooplane.services.mailcatcher", "--host", host, "--port", str(port),
            "--dir", str(directory), "--keep", str(keep)]


@dataclass(frozen=True)
class Message:
    subject: str
    sender: str
    recipients: tuple[str, ...]
    date: dt.datetime  # the Date header, else when it was received
    path: Path


def _clean(value: str) -> str:
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def store(directory: Path, *, mail_from: str, rcpt_tos: Sequence[str], content: bytes, sequence: int,
          now: dt.datetime | None = None) -> Path:
    """Write one received message atomically; return its path."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}-{sequence:06d}{SUFFIX}"
    envelope = (f"{ENVELOPE_FROM}: {_clean(mail_from)}\r\n"
                f"{ENVELOPE_TO}: {_clean(', '.join(rcpt_tos))}\r\n").encode()
    temporary = directory / f".{name}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(envelope + content)
        handle.flush()
        os.fsync(handle.fileno())
    final = directory / name
    os.replace(temporary, final)
    return final


def prune(directory: Path, keep: int) -> int:
    """Remove the oldest messages beyond ``keep``; return how many were removed."""
    files = sorted(p for p in directory.glob(f"*{SUFFIX}") if not p.name.startswith("."))
    removed = 0
    for path in files[: max(len(files) - keep, 0)]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


class Sink:
    """The aiosmtpd handler: store, never relay."""

    def __init__(self, directory: Path, *, keep: int = DEFAULT_KEEP) -> None:
        self.directory = directory
        self.keep = keep
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = store(self.directory, mail_from=envelope.mail_from or "", rcpt_tos=envelope.rcpt_tos,
                     content=data, sequence=next(self._numbers))
        if self.keep > 0:
            prune(self.directory, self.keep)
        print(f"caught {path.name} from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}", flush=True)
        return "250 OK: message caught, not delivered"


def read_messages(directory: str | Path, *, limit: int = 50) -> list[Message]:
    """The newest ``limit`` caught messages, newest first (headers only are parsed)."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    files = sorted((p for p in folder.glob(f"*{SUFFIX}") if not p.name.startswith(".")), reverse=True)
    messages = []
    parser = BytesParser(policy=email.policy.default)
    for path in files[:limit]:
        try:
            with open(path, "rb") as handle:
                headers = parser.parse(handle, headersonly=True)
        except FileNotFoundError:  # pruned meanwhile
            continue
        sender = str(headers.get(ENVELOPE_FROM) or headers.get("From") or "")
        envelope_to = str(headers.get(ENVELOPE_TO) or "")
        if envelope_to:
            recipients = tuple(r.strip() for r in envelope_to.split(",") if r.strip())
        else:
            recipients = tuple(address for _, address in email.utils.getaddresses(
                [str(v) for v in (*headers.get_all("To", []), *headers.get_all("Cc", []))]))
        date: dt.datetime | None = None
        if headers.get("Date"):
            with contextlib.suppress(TypeError, ValueError):
                date = email.utils.parsedate_to_datetime(str(headers["Date"]))
        if date is None:
            with contextlib.suppress(OSError):
                date = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        if date is None:
            continue
        messages.append(Message(subject=str(headers.get("Subject") or ""), sender=sender, recipients=recipients,
                                date=date, path=path))
    return messages


async def serve(host: str, port: int, directory: Path, *, keep: int = DEFAULT_KEEP) -> None:
    """Listen until SIGTERM or SIGINT."""
    await serve_many(host, [(port, directory)], keep=keep)


async def serve_many(host: str, listeners: Sequence[tuple[int, Path]], *, keep: int = DEFAULT_KEEP) -> None:
    """One catcher process for many environments: each port stores into its own directory, so the
    mail of one environment is never shown as another's. Listen until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # before listening: ready means stoppable
        loop.add_signal_handler(signum, stop.set)
    servers = []
    try:
        for port, directory in listeners:
            servers.append(await listen(host, port, directory, keep=keep))
            print(f"mailcatcher listening on {host}:{port}, storing into {directory}", flush=True)
        await stop.wait()
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
    print("mailcatcher stopped", flush=True)


async def listen(host: str, port: int, directory: Path, *, keep: int = DEFAULT_KEEP) -> asyncio.Server:
    """One SMTP listener storing what it receives into ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    return await loop.create_server(functools.partial(
        SMTP, Sink(directory, keep=keep), hostname="odooplane-mailcatcher", enable_SMTPUTF8=True, loop=loop),
        host, port)


def parse_listen(value: str) -> tuple[int, Path]:
    """``PORT=DIR`` of ``--listen``."""
    port, sep, directory = value.partition("=")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not directory:
        raise argparse.ArgumentTypeError(f"{value!r}: use PORT=DIRECTORY")
    return int(port), Path(directory)


def listeners_argv(python: str, host: str, listeners: Sequence[tuple[int, Path]], *,
                   keep: int = DEFAULT_KEEP) -> list[str]:
    """The command line of one supervised catcher serving several environments."""
    argv = [python, "-m", "odooplane.services.mailcatcher", "--host", host, "--keep", str(keep)]
    for port, directory in listeners:
        argv += ["--listen", f"{port}={directory}"]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m odooplane.services.mailcatcher",
                                     description="Accept every SMTP message into DIR; relay nothing.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="one listener: its port (with --dir)")
    parser.add_argument("--dir", type=Path, help="one listener: where its messages go (with --port)")
    parser.add_argument("--listen", type=parse_listen, action="append", default=[], metavar="PORT=DIR",
                        help="a listener and its directory (repeatable)")
    parser.add_argument("--keep", type=int, default=DEFAULT_KEEP, help="messages kept per directory (0: all)")
    args = parser.parse_args(argv)
    listeners: list[tuple[int, Path]] = list(args.listen)
    if (args.port is None) != (args.dir is None):
        parser.error("--port and --dir go together")
    if args.port is not None:
        listeners.insert(0, (args.port, args.dir))
    if not listeners:
        parser.error("give --listen PORT=DIR (or --port and --dir)")
    # As a container's PID 1 nothing stops on SIGTERM unless asked to: stop at once (a message
    # being received is lost either way; the sender retries).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve_many(args.host, listeners, keep=args.keep))
    except OSError as exc:
        print(f"mailcatcher: cannot listen on {args.host}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
