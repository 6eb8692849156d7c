"""Who counts as alive: the liveness rule shared by leases, operations and schedule claims, and the
settings that tune it."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from odooplane.settings import Settings
from odooplane.store.liveness import Identity, boot_id, gone, this_process

NOW = dt.datetime(2031, 3, 2, 2, 0, tzinfo=dt.UTC)
FRESH = NOW - dt.timedelta(seconds=1)
STALE = NOW - dt.timedelta(seconds=16)


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def test_a_holder_of_this_host_whose_pid_is_gone_is_dead_at_once_despite_a_fresh_heartbeat() -> None:
    me = this_process()
    assert gone(Identity(me.host, me.boot_id, dead_pid()), beat=FRESH, now=NOW, ttl_s=15)
    assert not gone(me, beat=FRESH, now=NOW, ttl_s=15)


def test_a_holder_of_another_host_or_an_earlier_boot_is_judged_by_its_heartbeat_only() -> None:
    me, pid = this_process(), dead_pid()
    for other in (Identity("elsewhere", me.boot_id, pid), Identity(me.host, "an-earlier-boot", pid),
                  Identity(me.host, "", pid)):
        assert not gone(other, beat=FRESH, now=NOW, ttl_s=15), other
        assert gone(other, beat=STALE, now=NOW, ttl_s=15), other
        assert gone(other, beat=None, now=NOW, ttl_s=15), other


def test_a_live_local_holder_whose_heartbeat_stopped_is_dead_after_the_ttl() -> None:
    # a reused pid must not keep a dead holder alive forever
    assert gone(this_process(), beat=STALE, now=NOW, ttl_s=15)


def test_the_boot_id_names_this_boot_and_pid_namespace() -> None:
    with open("/proc/sys/kernel/random/boot_id") as f:
        assert boot_id().startswith(f.read().strip() + "/pid:[")


def test_heartbeat_and_ttl_come_from_the_environment_with_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings.from_env().heartbeat_s, Settings.from_env().lease_ttl_s) == (2.0, 15.0)
    monkeypatch.setenv("ODOOPLANE_HEARTBEAT_INTERVAL", "0.25")
    monkeypatch.setenv("ODOOPLANE_LEASE_TTL", "1.5")
    assert (Settings.from_env().heartbeat_s, Settings.from_env().lease_ttl_s) == (0.25, 1.5)


@pytest.mark.parametrize(("heartbeat", "ttl", "message"), [
    ("5", "5", r"ODOOPLANE_HEARTBEAT_INTERVAL \(5 s\) must be below ODOOPLANE_LEASE_TTL \(5 s\)"),
    ("0", "15", "ODOOPLANE_HEARTBEAT_INTERVAL must be above 0"),
    ("2", "-1", "ODOOPLANE_LEASE_TTL must be above 0"),
    ("2", "soon", "ODOOPLANE_LEASE_TTL='soon' is not a number"),
])
def test_a_heartbeat_that_could_miss_the_ttl_is_refused_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch, heartbeat: str, ttl: str, message: str) -> None:
    monkeypatch.setenv("ODOOPLANE_HEARTBEAT_INTERVAL", heartbeat)
    monkeypatch.setenv("ODOOPLANE_LEASE_TTL", ttl)
    with pytest.raises(ValueError, match=message):
        Settings.from_env()
