"""The mail catcher as the supervisor runs it: a real process on a free port, real SMTP."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import pytest

from odooplane.services import mailcatcher
from tests.support.services import free_port

pytestmark = pytest.mark.integration

T = TypeVar("T")


def poll(predicate: Callable[[], T], *, what: str, timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Catcher:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, directory: Path, log: Path) -> None:
        self.proc, self.port, self.directory, self.log = proc, port, directory, log


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[Catcher]:
    port = free_port()
    directory = tmp_path / "mail"
    log = tmp_path / "catcher.log"
    argv = mailcatcher.program_argv(sys.executable, "127.0.0.1", port, directory, keep=3)
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        poll(lambda: proc.poll() is not None or accepts(port), what=f"the catcher on port {port}")
        assert proc.poll() is None, log.read_text()
        yield Catcher(proc, port, directory, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def send(port: int, *, subject: str, to: list[str], bcc: tuple[str, ...] = ()) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "Odoo <odoo@acme.example.com>"
    message["To"] = ", ".join(to)
    message["Date"] = "Mon, 03 Feb 2025 10:00:00 +0000"
    message.set_content("Hello from a neutralized copy.\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message, to_addrs=[*to, *bcc])


def test_program_argv() -> None:
    assert mailcatcher.program_argv("/venv/bin/python", "127.0.0.1", 2525, Path("/srv/mail")) == [
        "/venv/bin/python", "-m", "odooplane.services.mailcatcher", "--host", "127.0.0.1", "--port", "2525",
        "--dir", "/srv/mail", "--keep", str(mailcatcher.DEFAULT_KEEP)]


def test_every_message_is_caught_readable_and_never_relayed(catcher: Catcher) -> None:
    send(catcher.port, subject="Invoice INV/2025/0001", to=["customer@real-company.com"], bcc=("boss@real.com",))
    messages = poll(lambda: mailcatcher.read_messages(catcher.directory), what="the first message")
    assert len(messages) == 1
    caught = messages[0]
    assert caught.subject == "Invoice INV/2025/0001"
    assert caught.sender == "odoo@acme.example.com"  # the envelope sender
    assert caught.recipients == ("customer@real-company.com", "boss@real.com")  # Bcc included
    assert caught.date.isoformat() == "2025-02-03T10:00:00+00:00"
    assert caught.path.parent == catcher.directory
    assert caught.path.name.endswith("-000001.eml")
    assert b"Hello from a neutralized copy." in caught.path.read_bytes()
    # the file is complete and alone: no temporary file left behind
    assert [p.name for p in catcher.directory.iterdir()] == [caught.path.name]
    assert "caught" in catcher.log.read_text()


def test_newest_first_limit_and_pruning(catcher: Catcher) -> None:
    for number in range(1, 6):
        send(catcher.port, subject=f"message {number}", to=["a@example.com"])
    poll(lambda: any(m.subject == "message 5" for m in mailcatcher.read_messages(catcher.directory)),
         what="the fifth message")
    messages = mailcatcher.read_messages(catcher.directory)
    assert [m.subject for m in messages] == ["message 5", "message 4", "message 3"]  # --keep 3
    assert [m.subject for m in mailcatcher.read_messages(catcher.directory, limit=2)] == ["message 5", "message 4"]
    assert mailcatcher.read_messages(catcher.directory / "missing") == []


def test_stops_on_sigterm(catcher: Catcher) -> None:
    catcher.proc.send_signal(signal.SIGTERM)
    assert catcher.proc.wait(10) == 0
    assert not accepts(catcher.port)
    assert "mailcatcher stopped" in catcher.log.read_text()


def test_refuses_a_busy_port(tmp_path: Path, catcher: Catcher) -> None:
    result = subprocess.run(mailcatcher.program_argv(sys.executable, "127.0.0.1", catcher.port, tmp_path / "x"),
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
