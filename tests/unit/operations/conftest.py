"""Operations on the fake driver: an estate of the test PostgreSQL (an external cluster), its state
store in a temporary SQLite file, and ``FakeDriver`` as its runtime. What Odoo's one-shot commands
would leave in a database (the tables Odooplane reads and writes after an init) is made by
:func:`odoo_init_effect`; everything else the operations do to PostgreSQL is real."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from odooplane.drivers.base import OdooCommand
from odooplane.drivers.fake import FakeDriver
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.estate.validate import validate
from odooplane.layout import Layout
from odooplane.operations import observe
from odooplane.operations.context import Context, edge_spec
from odooplane.operations.runner import Operation
from odooplane.planner.observed import EnvObservation
from odooplane.store import journal
from odooplane.store.db import open_store
from odooplane.store.secrets import SecretBox, load_key
from tests.support.estate import TestEstate, make_estate, owned_objects, unique

TABLES = (
    "CREATE TABLE IF NOT EXISTS ir_module_module (name varchar PRIMARY KEY, state varchar NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ir_config_parameter (key varchar PRIMARY KEY, value text,"
    " create_date timestamp, write_date timestamp)",
    "CREATE TABLE IF NOT EXISTS res_users (login varchar PRIMARY KEY, password varchar)",
)


def odoo_init_effect(pg_url: str) -> Callable[[OdooCommand], None]:
    """What ``-d DB -i MODULES`` leaves in DB, as far as the operations read it: the modules
    installed, the parameters table and the admin user."""
    def effect(command: OdooCommand) -> None:
        args = list(command.args)
        if "-d" not in args or "-i" not in args:
            return
        database = args[args.index("-d") + 1]
        modules = args[args.index("-i") + 1].split(",")
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + f"/{database}", autocommit=True) as conn:
            for statement in TABLES:
                conn.execute(statement)  # type: ignore[arg-type]
            conn.execute("INSERT INTO res_users (login) VALUES ('admin') ON CONFLICT DO NOTHING")
            for module in modules:
                conn.execute("INSERT INTO ir_module_module VALUES (%s, 'installed') "
                             "ON CONFLICT (name) DO UPDATE SET state = 'installed'", (module,))
    return effect


@dataclass
class OnFake:
    """An estate whose operations run on the fake driver."""

    estate: TestEstate
    ctx: Context
    fake: FakeDriver

    def rewrite(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Change the estate file and take the new version (as the next command would)."""
        change(self.estate.data)
        self.estate.write()
        self.ctx.valid = validate(self.estate.path)

    def env(self, target: str) -> DesiredEnvironment:
        return next(e for e in self.ctx.valid.environments if str(e.ref) == target)

    def observed(self, target: str) -> EnvObservation:
        found, _ = observe.observe(self.ctx)
        return found.envs[self.env(target).ref]

    def operation(self, kind: str = "apply") -> Operation:
        return Operation(self.ctx.store, kind=kind, target="estate", actor="test")

    def steps(self, op: Operation) -> list[tuple[str, str, str]]:
        """(step, target, status) of every step ``op`` journaled, in order."""
        return [(s.name, s.target, s.status) for s in journal.steps(self.ctx.store, op.op_id)]


@pytest.fixture
def on_fake(tmp_path: Path, pg_url: str) -> Iterator[Callable[..., OnFake]]:
    """Make an estate of ``tenants`` (and ``pools``) running on the fake driver; its databases
    and roles are dropped afterwards."""
    made: list[OnFake] = []

    def make(tenants: dict[str, dict[str, Any]], *, pools: dict[str, Any] | None = None) -> OnFake:
        estate = make_estate(_dir(tmp_path), tenants)
        if pools:
            estate.data["pools"] = pools
            estate.write()
        valid = validate(estate.path)
        root = estate.data_dir
        root.mkdir(parents=True, exist_ok=True)
        store = open_store(f"sqlite:///{root / 'state.db'}")
        fake = FakeDriver(root, edge_spec(valid))
        fake.on_odoo = odoo_init_effect(pg_url)
        fake.prepare()
        fake.ensure_edge()  # as apply's first steps leave it
        ctx = Context(valid=valid, layout=Layout(root, runtime=root / "runtime"), store=store,
                      secrets=SecretBox(store, load_key(root / "secret.key")), driver=fake,
                      estate_id=store.estate_id(), actor="test")
        made.append(OnFake(estate, ctx, fake))
        return made[-1]

    try:
        yield make
    finally:
        for one in made:
            one.fake.shutdown()
            _drop_owned(pg_url, one.ctx.estate_id)
            one.ctx.close()


def _dir(tmp_path: Path) -> Path:
    path = tmp_path / unique("estate")
    path.mkdir()
    return path


def _drop_owned(pg_url: str, estate_id: str) -> None:
    databases, roles = owned_objects(estate_id, pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for database in databases:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        for role in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
