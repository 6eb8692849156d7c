"""The state store on both backends: SQLite (default) and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from odooplane.errors import OdooplaneError, PermanentError
from odooplane.store import audit, db, evidence, journal, liveness, ports
from odooplane.store.secrets import SecretBox, load_key


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[db.Store]:
    url = f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else request.getfixturevalue("scratch_db")
    opened = db.open_store(url)
    try:
        yield opened
    finally:
        opened.close()


def test_migrations_create_every_table_and_are_idempotent(store: db.Store) -> None:
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"operations", "steps", "audit", "evidence", "secrets", "ports", "meta", "alembic_version", "leases",
            "claims"} <= names
    again = db.open_store(store.url)  # a second open must not fail or re-run migrations
    again.close()


def test_estate_id_is_stable(store: db.Store) -> None:
    first = store.estate_id()
    assert first == store.estate_id() and len(first) == 12


def test_journal_records_intent_then_done(store: db.Store) -> None:
    op = journal.start_operation(store, kind="apply", target="estate x", actor="tester")
    step = journal.step_intent(store, op, name="database", target="acme/prod")
    assert journal.steps(store, op)[0].status == "intent"
    journal.step_finish(store, step, status="done", duration_s=0.5)
    journal.finish_operation(store, op, status="succeeded", summary={"steps_done": 1})
    row = journal.operation(store, op)
    assert row is not None and row.status == "succeeded" and row.summary == {"steps_done": 1}
    assert journal.steps(store, op)[0].status == "done"


def test_a_dead_operation_is_marked_interrupted(store: db.Store) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    me = liveness.this_process()
    op = journal.start_operation(store, kind="apply", target="estate x", actor="tester",
                                 identity=liveness.Identity(me.host, me.boot_id, int(gone.stdout)))
    journal.step_intent(store, op, name="init", target="acme/prod")
    found = journal.mark_interrupted(store)
    assert [o.id for o in found] == [op]
    assert journal.operation(store, op).status == "interrupted"  # type: ignore[union-attr]
    assert journal.steps(store, op)[0].status == "interrupted"


def test_audit_chain_detects_tampering(store: db.Store) -> None:
    for i in range(3):
        audit.record(store, actor="a", action="apply", target=f"t{i}", outcome="succeeded", detail={"i": i})
    assert audit.verify_chain(store) == []
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE audit SET actor = 'mallory' WHERE target = 't1'"))
    bad = audit.verify_chain(store)
    assert len(bad) == 1


def test_secrets_are_encrypted_at_rest(store: db.Store, tmp_path: Path) -> None:
    box = SecretBox(store, load_key(tmp_path / "key"))
    box.put("env/acme/prod/db_password", "correct horse battery staple")
    with store.connect() as conn:
        raw = conn.execute(sa.text("SELECT ciphertext FROM secrets")).scalar()
    assert "correct horse" not in str(raw)
    assert box.get("env/acme/prod/db_password") == "correct horse battery staple"
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
    generated = box.get_or_create("env/acme/prod/admin_password")
    assert len(generated) >= 32 and box.get_or_create("env/acme/prod/admin_password") == generated
    assert box.delete_prefix("env/acme/prod/") == 2


def test_a_wrong_key_fails_clearly(store: db.Store, tmp_path: Path) -> None:
    SecretBox(store, load_key(tmp_path / "k1")).put("x", "value-1234")
    with pytest.raises(OdooplaneError, match="cannot be decrypted"):
        SecretBox(store, load_key(tmp_path / "k2")).get("x")


def test_ports_are_stable_and_never_collide(store: db.Store) -> None:
    a = ports.allocate(store, owner="env/a/prod", purpose="http", start=30000, end=30010, reserved={30000},
                       is_free=lambda p: True)
    b = ports.allocate(store, owner="env/b/prod", purpose="http", start=30000, end=30010, is_free=lambda p: True)
    assert a == 30001 and b == 30000  # 30000 is reserved only for the first call
    assert ports.allocate(store, owner="env/a/prod", purpose="http", start=30000, end=30010) == a
    ports.release(store, owner="env/a/prod")
    assert ("env/a/prod", "http") not in ports.allocated(store)
    with pytest.raises(PermanentError, match="no free port left"):
        ports.allocate(store, owner="env/c/prod", purpose="http", start=30000, end=30001, reserved={30001},
                       is_free=lambda p: True)


def test_evidence(store: db.Store) -> None:
    evidence.add(store, kind="restore-verification", target="acme/prod", ok=True, data={"rto_s": 3.2},
                 summary="restored and verified")
    rows = evidence.query(store, target="acme/prod")
    assert rows[0].ok and rows[0].data == {"rto_s": 3.2}


def test_unreachable_state_database_is_a_clear_error() -> None:
    with pytest.raises(OdooplaneError, match=r"state database postgresql\+psycopg://nobody@127.0.0.1:1/x"):
        db.open_store("postgresql://nobody@127.0.0.1:1/x")


def test_head_constant_matches_alembic() -> None:
    assert db.alembic_head() == db.HEAD, "update store.db.HEAD to the newest migration"
