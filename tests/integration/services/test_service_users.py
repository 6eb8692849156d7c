"""System users made on first use: two commands doing it at once on a fresh host both succeed."""

from __future__ import annotations

import os
import pwd
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from odooplane.errors import CommandFailed
from odooplane.services import service_users

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="creating system users needs root")]


def test_two_creations_at_once_both_succeed_and_make_one_user() -> None:
    name = f"opl-t-{uuid.uuid4().hex[:8]}"
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            done = list(pool.map(lambda _i: service_users.ensure_system_user(name, [], what="a test user"),
                                 range(4)))
        assert done == [None] * 4
        entry = pwd.getpwnam(name)
        assert entry.pw_shell == "/usr/sbin/nologin" and entry.pw_uid < 1000  # a system user
        service_users.ensure_system_user(name, [], what="a test user")  # already there: nothing to do
        assert pwd.getpwnam(name).pw_uid == entry.pw_uid
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def test_a_user_that_cannot_be_made_fails_with_the_reason() -> None:
    with pytest.raises(CommandFailed, match="create a bad user"):
        service_users.ensure_system_user("bad name!", [], what="a bad user", timeout=0.5)
