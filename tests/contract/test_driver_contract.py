"""What every driver must do, asserted the same way on each (``fake``, ``local``, ``compose``): a
workload runs at its revision and answers on its endpoint; removed and ensured again, restarted,
or changed, it is observed as it is; one that gives up makes ``wait_ready`` raise; a route is
served and reaches the workload through the edge; a one-shot Odoo command that fails raises
PermanentError with Odoo's own reason; filestores survive a round trip; agent tasks run where the
data lives; removal leaves nothing listed. A new driver passes this module before operations may
use it (docs/drivers.md)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from odooplane.clock import wait_until
from odooplane.drivers.base import AgentTask, Driver, FilestoreRef, OdooWorkload
from odooplane.errors import CommandFailed, PermanentError
from odooplane.services import postgres
from tests.contract.conftest import Harness
from tests.support.estate import unique

pytestmark = pytest.mark.contract

READY_S = 60.0
SERVED_S = 30.0


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def run(driver: Driver, workload: OdooWorkload) -> None:
    """Ensure ``workload``, wait until it is ready and answers its health check."""
    driver.ensure_workload(workload)
    driver.wait_ready(workload.name, timeout=READY_S)
    url = driver.endpoint(workload) + "/web/health"
    assert wait_until(lambda: answers(url), timeout=READY_S, interval=0.1), f"{url} never answered 200"


@contextmanager
def running(harness: Harness) -> Iterator[tuple[Driver, OdooWorkload]]:
    """A workload of the suite, run and ready for the block, removed afterwards."""
    workload = harness.workload()
    try:
        run(harness.driver, workload)
        yield harness.driver, workload
    finally:
        harness.driver.remove_workload(workload.name)


def observed_at(driver: Driver, workload: OdooWorkload) -> None:
    state = driver.workloads().get(workload.name)
    assert state is not None, f"{workload.name} is not listed: {sorted(driver.workloads())}"
    assert (state.state, state.revision) == ("RUNNING", workload.revision)
    assert driver.workload_current(workload)


def test_a_workload_runs_at_its_revision_and_answers_on_its_endpoint(harness: Harness) -> None:
    driver = harness.driver
    workload = harness.workload()
    assert not driver.workload_current(workload)
    try:
        assert driver.ensure_workload(workload) is True
        ready = driver.wait_ready(workload.name, timeout=READY_S)
        assert ready.state == "RUNNING" and ready.revision == workload.revision
        observed_at(driver, workload)
        assert wait_until(lambda: answers(driver.endpoint(workload) + "/web/health"), timeout=READY_S, interval=0.1)
        assert driver.ensure_workload(workload) is False, "an unchanged running workload is left alone"
    finally:
        driver.remove_workload(workload.name)


def test_removed_then_ensured_it_runs_again(harness: Harness) -> None:
    with running(harness) as (driver, workload):
        assert driver.remove_workload(workload.name) is True
        assert workload.name not in driver.workloads()
        assert not driver.workload_current(workload)
        run(driver, workload)
        observed_at(driver, workload)


def test_restarted_it_is_observed_running_at_the_same_revision(harness: Harness) -> None:
    with running(harness) as (driver, workload):
        driver.restart_workload(workload.name)
        driver.wait_ready(workload.name, timeout=READY_S)
        observed_at(driver, workload)
        assert wait_until(lambda: answers(driver.endpoint(workload) + "/web/health"), timeout=READY_S, interval=0.1)
        assert driver.ensure_workload(workload, restart=True) is False, "restarted, but nothing changed"
        driver.wait_ready(workload.name, timeout=READY_S)
        observed_at(driver, workload)


def test_a_changed_workload_is_not_current_until_ensured(harness: Harness) -> None:
    with running(harness) as (driver, workload):
        changed = dataclasses.replace(workload, stop_grace_s=workload.stop_grace_s + 1)
        assert changed.revision != workload.revision
        assert not driver.workload_current(changed)
        assert driver.ensure_workload(changed) is True
        driver.wait_ready(changed.name, timeout=READY_S)
        assert wait_until(lambda: (s := driver.workloads().get(changed.name)) is not None
                          and s.revision == changed.revision and s.running, timeout=READY_S, interval=0.1)
        observed_at(driver, changed)
        assert not driver.workload_current(workload)


def test_a_workload_that_gives_up_makes_wait_ready_raise(harness: Harness) -> None:
    driver = harness.driver
    workload = harness.workload(boot_fail=True)
    if harness.fake is not None:
        harness.fake.fail_to_start(workload.name, "exited: Failed to start the server")
    try:
        driver.ensure_workload(workload)
        outcome: object
        try:
            outcome = driver.wait_ready(workload.name, timeout=READY_S)
        except PermanentError as exc:
            outcome = exc
        assert isinstance(outcome, PermanentError), f"wait_ready returned {outcome} for a workload that exits at start"
        assert workload.name in outcome.message
        state = driver.workloads().get(workload.name)
        assert state is None or not state.running
    finally:
        driver.remove_workload(workload.name)


def test_a_route_is_served_and_reaches_the_workload_through_the_edge(harness: Harness) -> None:
    with running(harness) as (driver, workload):
        route = harness.route(workload)
        assert driver.ensure_route(route) is True
        driver.wait_route_served(route.name, timeout=SERVED_S)
        state = driver.routes({route.name: route})[route.name]
        assert state.current and state.served, state
        host = route.hostnames[0]
        assert wait_until(lambda: harness.through_edge(host).status_code == 200, timeout=SERVED_S, interval=0.1)
        assert harness.through_edge("nobody.localhost").status_code == 404
        assert driver.ensure_route(route) is False
        assert driver.remove_route(route.name) is True
        assert route.name not in driver.routes({})
        assert wait_until(lambda: harness.through_edge(host).status_code == 404, timeout=SERVED_S, interval=0.1)


def test_a_route_that_is_not_there_is_not_served(harness: Harness) -> None:
    with pytest.raises(PermanentError, match="never-ensured"):
        harness.driver.wait_route_served("never-ensured", timeout=1)


def test_a_failing_odoo_command_raises_odoo_own_reason(harness: Harness) -> None:
    driver = harness.driver
    workload = harness.workload()
    command, reason = harness.failing_command(workload)
    try:
        with pytest.raises(PermanentError) as failed:
            driver.run_odoo(command)
        assert reason in failed.value.message
        assert failed.value.message.startswith("Odoo neutralize exited with "), failed.value.message
    finally:
        driver.remove_workload(workload.name)


def test_filestores_survive_a_round_trip(harness: Harness, tmp_path: Path) -> None:
    storage = harness.driver.storage
    name = f"env-{harness.workload().name.removeprefix('odoo-')}"
    live, copy, moved = FilestoreRef(name, "db"), FilestoreRef(name, "db", ".restore"), FilestoreRef(name, "db", ".old")
    files = {"ab/ab01": b"first attachment", "cd/cd02": b"second"}
    source = tmp_path / "backup"
    for relative, content in files.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_bytes(content)
    attachments = [(p, hashlib.sha1(c).hexdigest()) for p, c in files.items()]
    try:
        storage.ensure_storage(name)
        assert not storage.exists(live)
        assert storage.load(source, live) == 2
        assert storage.exists(live) and storage.size(live) == sum(len(c) for c in files.values())
        assert storage.copy(live, copy) == 2
        assert storage.check(copy, attachments).missing == ()
        assert storage.check(copy, attachments).corrupt == ()
        assert storage.check(copy, [("ef/ef03", "")]).missing == ("ef/ef03",)
        assert storage.check(copy, [("ab/ab01", "0" * 40)]).corrupt == ("ab/ab01",)
        storage.move(copy, moved)
        assert not storage.exists(copy) and storage.exists(moved)
        storage.move(copy, moved)  # done already: nothing to do
        with pytest.raises(PermanentError):
            storage.move(live, moved)  # never onto an existing filestore
        out = tmp_path / "export"
        assert storage.export(moved, out) == 2
        assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == files
        storage.remove(moved)
        assert not storage.exists(moved) and storage.exists(live)
    finally:
        storage.remove_storage(name)
    assert not storage.exists(live)


def test_removal_leaves_nothing_listed(harness: Harness) -> None:
    driver = harness.driver
    workload = harness.workload()
    route = harness.route(workload)
    run(driver, workload)
    driver.ensure_route(route)
    driver.storage.ensure_storage(workload.storage)
    assert driver.remove_workload(workload.name) is True
    assert driver.remove_route(route.name) is True
    driver.storage.remove_storage(workload.storage)
    assert workload.name not in driver.workloads()
    assert route.name not in driver.routes({})
    assert not driver.storage.exists(FilestoreRef(workload.storage, "db"))
    assert driver.remove_workload(workload.name) is False and driver.remove_route(route.name) is False
    assert not [n for n in harness.names if n in driver.workloads()], "every workload of the suite is gone"


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_an_agent_task_runs_where_the_data_lives(harness: Harness, tmp_path: Path) -> None:
    """Agent tasks through ``Driver.run_agent`` return the agent's JSON result on every driver: a
    filestore loaded from a tar stream is there, with its size, its attachments checked and
    exported back; a task that cannot be done raises PermanentError naming the agent's reason."""
    driver = harness.driver
    name = f"env-{harness.workload().name.removeprefix('odoo-')}-agent"
    ref = {"storage": name, "database": "db", "suffix": ""}
    files = {"ab/ab01": b"first attachment", "cd/cd02": b"second"}
    try:
        driver.run_agent(AgentTask("ensure-storage", {"storage": name}))
        assert driver.run_agent(AgentTask("exists", {"ref": ref})) == {"exists": False}
        assert driver.run_agent(AgentTask("load", {"ref": ref}), stdin=_tar(files)) == {"files": 2}
        assert driver.run_agent(AgentTask("size", {"ref": ref})) == {"bytes": sum(map(len, files.values()))}
        checked = driver.run_agent(AgentTask("check", {"ref": ref, "attachments": [
            ["ab/ab01", hashlib.sha1(files["ab/ab01"]).hexdigest()], ["cd/cd02", "0" * 40], ["ef/ef03", ""]]}))
        assert (checked["checked"], checked["missing"], checked["corrupt"]) == (3, ["ef/ef03"], ["cd/cd02"])
        out = tmp_path / "export.tar"
        assert driver.run_agent(AgentTask("export", {"ref": ref}), stdout=out)["files"] == 2
        with tarfile.open(out) as tar:
            exported = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
        assert exported == files
        with pytest.raises(PermanentError, match="agent move"):  # a move of nothing, onto nothing
            driver.run_agent(AgentTask("move", {"source": {**ref, "suffix": ".nothing"},
                                                "target": {**ref, "suffix": ".old"}}))
        with pytest.raises(PermanentError, match="agent load"):  # a member climbing out is refused
            driver.run_agent(AgentTask("load", {"ref": {**ref, "suffix": ".restore"}}), stdin=_tar({"../x": b"x"}))
        assert driver.run_agent(AgentTask("exists", {"ref": ref})) == {"exists": True}  # nothing lost
    finally:
        driver.run_agent(AgentTask("remove-storage", {"storage": name}))
    assert driver.run_agent(AgentTask("exists", {"ref": ref})) == {"exists": False}


def test_a_database_is_dumped_and_loaded_where_its_cluster_lives(harness: Harness, tmp_path: Path) -> None:
    """A directory dump, a load of it as the database's own role (objects become the role's), a
    plain dump without owners, and a load that fails stopping at the first error with its reason."""
    admin, databases = harness.admin, harness.driver.databases
    source, target, role, password = unique("cdb"), unique("cdb"), unique("crole"), unique("pw")
    as_role = dataclasses.replace(admin, user=role, password=password)
    with postgres.connect(admin) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        for name in (source, target):
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(role)))
    try:
        with postgres.connect(as_role, source) as conn:
            conn.execute("CREATE TABLE partner (id int PRIMARY KEY, name text)")
            conn.execute("INSERT INTO partner SELECT n, 'partner ' || n FROM generate_series(1, 500) n")
        # Dumped as a transaction that exported its snapshot sees it: rows committed after are not in.
        with psycopg.connect(**admin.kwargs(source)) as held:  # type: ignore[arg-type]
            held.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            snapshot = str(held.execute("SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
            with postgres.connect(as_role, source) as conn:
                conn.execute("INSERT INTO partner SELECT n, 'late ' || n FROM generate_series(501, 600) n")
            databases.dump(admin, source, tmp_path / "dump", snapshot=snapshot)
            held.rollback()
        with postgres.connect(as_role, source) as conn:
            conn.execute("DELETE FROM partner WHERE id > 500")
        assert (tmp_path / "dump" / "toc.dat").is_file()
        databases.restore(as_role, target, tmp_path / "dump")
        digest = "SELECT count(*), md5(string_agg(name, ',' ORDER BY id)), " \
                 "(SELECT tableowner FROM pg_tables WHERE tablename = 'partner') FROM partner"
        with postgres.connect(admin, source) as a, postgres.connect(admin, target) as b:
            assert a.execute(digest).fetchall() == b.execute(digest).fetchall() == [
                (500, a.execute("SELECT md5(string_agg(name, ',' ORDER BY id)) FROM partner").fetchone()[0], role)]
        databases.dump_sql(admin, source, tmp_path / "dump.sql")
        text = (tmp_path / "dump.sql").read_text()
        assert "CREATE TABLE public.partner" in text and "OWNER TO" not in text
        with pytest.raises(CommandFailed) as failed:  # the table exists now: the first error stops it
            databases.restore(as_role, target, tmp_path / "dump")
        assert "already exists" in failed.value.stderr_tail
    finally:
        with postgres.connect(admin) as conn:
            for name in (source, target):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
