"""Loading modules into a database: ``-i``, ``-u`` and first initialisation.

Follows ``odoo/modules/loading.py::load_modules``: initialise an empty
database (``init db``), load ``base``, refresh the module list, warn about
invalid names, mark what ``-i``/``-u`` ask for (``button_install`` /
``button_upgrade``), then process the marked modules in graph order.  Like
real Odoo, each processed module is committed on its own: a failure rolls back
the failing module only, earlier modules of the same run stay installed or
upgraded, and the transient ``to install``/``to upgrade`` states are reset.
A failure while processing the very first module (``base`` on a new database)
therefore leaves the database exactly as it was (empty, or unchanged).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping

from odooplane.sim import data, database, faults, logs, passwords, records, schema
from odooplane.sim.config import Config
from odooplane.sim.database import Connection, execute
from odooplane.sim.modules import Manifest, catalogue, load_order, mark_install, mark_upgrade

_loading = logging.getLogger("odoo.modules.loading")
_registry = logging.getLogger("odoo.modules.registry")


def _category_xml_name(path: list[str]) -> str:
    return "module_category_" + "_".join(p.lower() for p in path).replace("&", "and").replace(" ", "_")


ROWS_PER_STATEMENT = 1000  # PostgreSQL takes at most 65535 parameters per statement


def _rows(conn: Connection, head: str, row: str, rows: list[tuple[object, ...]], tail: str = "") -> None:
    """Run ``head VALUES row, row, ... tail`` for ``rows``, in order, 1000 rows per statement."""
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        execute(conn, f"{head} VALUES {', '.join([row] * len(chunk))}{tail}", [v for values in chunk for v in values])


def _next_ids(conn: Connection, sequences: list[tuple[str, int]]) -> list[list[int]]:
    """Draw ``count`` ids from each serial sequence in one query, ascending (as a serial default would)."""
    columns = ", ".join(f"array(SELECT nextval('{seq}') FROM generate_series(1, {int(count)}) ORDER BY 1)"
                        for seq, count in sequences)
    row = execute(conn, f"SELECT {columns}").fetchone()
    assert row is not None
    return [[int(i) for i in ids] for ids in row]


def _category_path(manifest: Manifest) -> list[str]:
    """The XML names of each level of the module's category ``A/B/C``, top first."""
    parts = manifest.category.split("/")
    return [_category_xml_name(parts[:depth]) for depth in range(1, len(parts) + 1)]


def insert_modules(conn: Connection, manifests: Iterable[Manifest]) -> None:
    """Add modules to ir_module_module as uninstalled (or uninstallable), with their dependencies, their
    ``module_<name>`` XML ids and the categories of ``create_categories`` (each level of ``A/B/C`` found or
    created by its XML id).

    The rows and ids are those inserting the modules one by one would give, in a handful of statements.
    """
    manifests = list(manifests)
    if not manifests:
        return
    # Every category level: xml name -> (label, parent xml name), in first-occurrence order.
    levels: dict[str, tuple[str, str | None]] = {}
    for manifest in manifests:
        parent: str | None = None
        for part, xml_name in zip(manifest.category.split("/"), _category_path(manifest), strict=True):
            levels.setdefault(xml_name, (part, parent))
            parent = xml_name
    existing = {str(name): int(res_id) for name, res_id in execute(
        conn, "SELECT name, res_id FROM ir_model_data WHERE module = 'base' AND model = 'ir.module.category'"
              " AND name = ANY(%s) ORDER BY id DESC", (list(levels),))}
    missing = [name for name in levels if name not in existing]
    category_ids, module_ids = _next_ids(conn, [("ir_module_category_id_seq", len(missing)),
                                                ("ir_module_module_id_seq", len(manifests))])
    ids = {**existing, **dict(zip(missing, category_ids, strict=True))}
    category_rows: list[tuple[object, ...]] = []
    for name in missing:
        label, parent_name = levels[name]
        category_rows.append((ids[name], json.dumps({"en_US": label}), ids[parent_name] if parent_name else None))
    _rows(conn, "INSERT INTO ir_module_category (id, name, parent_id)", "(%s, %s, %s)", category_rows)
    module_rows: list[tuple[object, ...]] = []
    xmlid_rows: list[tuple[object, ...]] = []
    dependency_rows: list[tuple[object, ...]] = []
    created = set(missing)
    for manifest, module_id in zip(manifests, module_ids, strict=True):
        path = _category_path(manifest)
        module_rows.append((
            module_id, manifest.author, manifest.name, json.dumps({"en_US": manifest.shortdesc}),
            json.dumps({"en_US": ""}), ids[path[-1]], manifest.auto_install is not False,
            "uninstalled" if manifest.installable else "uninstallable", manifest.license, manifest.application,
            f"/{manifest.name}/static/description/icon.png", manifest.sequence,
            json.dumps({"en_US": manifest.summary})))
        for xml_name in path:
            if xml_name in created:  # a category's XML id comes right after the category, as in Odoo
                created.discard(xml_name)
                xmlid_rows.append((xml_name, ids[xml_name], "ir.module.category"))
        xmlid_rows.append((f"module_{manifest.name}", module_id, "ir.module.module"))
        triggers = manifest.auto_install_triggers or frozenset()
        dependency_rows += [(module_id, dep, dep in triggers) for dep in manifest.depends]
    _rows(conn, "INSERT INTO ir_module_module (id, author, name, shortdesc, description, category_id,"
                " auto_install, state, web, license, application, icon, sequence, summary)",
          "(%s, %s, %s, %s, %s, %s, %s, %s, false, %s, %s, %s, %s, %s)", module_rows)
    _rows(conn, "INSERT INTO ir_model_data (module, name, res_id, model, noupdate)", "('base', %s, %s, %s, true)",
          xmlid_rows)
    _rows(conn, "INSERT INTO ir_module_module_dependency (module_id, name, auto_install_required)", "(%s, %s, %s)",
          dependency_rows)


def initialize(conn: Connection, config: Config, dbname: str, manifests: Mapping[str, Manifest]) -> None:
    """``odoo.modules.db.initialize``: core tables, every known module as uninstalled, base marked."""
    execute(conn, ";\n".join(schema.CORE))
    records.seed_core(records.SeedContext(conn=conn, config=config, dbname=dbname, demo=config.demo))
    insert_modules(conn, manifests.values())
    # base is auto_install without dependencies; so is any module with an empty trigger list.
    seeds = ["base"] + [m.name for m in manifests.values() if m.auto_install_triggers == frozenset() and
                        m.name != "base" and not m.countries]
    marked = mark_install(seeds, {name: "uninstalled" for name in manifests}, manifests)
    execute(conn, "UPDATE ir_module_module SET state = 'to install' WHERE name = ANY(%s)", (marked,))


def module_states(conn: Connection) -> dict[str, str]:
    """Return {module name: state} from ir_module_module."""
    return {str(name): str(state) for name, state in execute(conn, "SELECT name, state FROM ir_module_module")}


def update_list(conn: Connection, manifests: Mapping[str, Manifest]) -> None:
    """``ir.module.module.update_list``: add modules new on addons_path, refresh descriptions.

    Like Odoo, only the modules whose description changed are written.
    """
    known = {str(row[0]): row for row in execute(
        conn, "SELECT name, state, shortdesc, author, license, application, auto_install FROM ir_module_module")}
    insert_modules(conn, [manifest for manifest in manifests.values() if manifest.name not in known])
    changed: list[tuple[object, ...]] = []
    installable: list[str] = []
    for manifest in manifests.values():
        row = known.get(manifest.name)
        if row is None:
            continue
        values = ({"en_US": manifest.shortdesc}, manifest.author, manifest.license, manifest.application,
                  manifest.auto_install is not False)
        if tuple(row[2:]) != values:
            changed.append((manifest.name, json.dumps(values[0]), *values[1:]))
        if row[1] == "uninstallable" and manifest.installable:
            installable.append(manifest.name)
    _rows(conn, "UPDATE ir_module_module AS m SET shortdesc = v.shortdesc, author = v.author, license = v.license,"
                " application = v.application, auto_install = v.auto_install FROM (",
          "(%s::varchar, %s::jsonb, %s::varchar, %s::varchar, %s::boolean, %s::boolean)", changed,
          ") AS v (name, shortdesc, author, license, application, auto_install) WHERE m.name = v.name")
    if installable:
        execute(conn, "UPDATE ir_module_module SET state = 'uninstalled' WHERE name = ANY(%s)", (installable,))


def reset_modules_state(config: Config, dbname: str) -> None:
    """Reset modules flagged ``to ...`` to their original state after a failure."""
    with database.connect(config, dbname) as conn:
        if not database.is_initialized(conn):
            _loading.info("skipping reset_modules_state, ir_module_module table does not exists")
            return
        execute(conn, "UPDATE ir_module_module SET state='installed' WHERE state IN ('to remove', 'to upgrade')")
        execute(conn, "UPDATE ir_module_module SET state='uninstalled' WHERE state='to install'")
        conn.commit()
    _loading.warning("Transient module states were reset")


class Loader:
    """One ``load_modules`` run on one database."""

    def __init__(self, config: Config, dbname: str, conn: Connection) -> None:
        self.config = config
        self.dbname = dbname
        self.conn = conn
        self.manifests = catalogue(config.release.series, config.addons_paths)
        self.processed: list[str] = []
        self.installed_now: list[str] = []
        self.demo = config.demo

    def process(self, name: str, state: str, index: int, total: int, forced: set[str]) -> None:
        """Install or upgrade one module and commit, or just load it when nothing is asked."""
        needs_update = state in ("to install", "to upgrade") or name in forced
        _loading.log(logging.INFO if needs_update else logging.DEBUG, "Loading module %s (%d/%d)", name, index, total)
        if not needs_update:
            return
        mode = "install" if state == "to install" else "upgrade"
        # An installed module named by -i is reloaded in Odoo's "init" mode: it counts as an install for faults.
        fault_mode = "install" if mode == "install" or name in self.config.init else "upgrade"
        faults.check_module(self.config, module=name, mode=fault_mode, processed=self.processed)
        manifest = self.manifests.get(name)
        if manifest is None:
            # Its code left the addons path: Odoo logs it and leaves the state as is, which then
            # blocks the database's crons ("modules to install/upgrade/remove").
            _loading.error("Some modules are not loaded, some dependencies or manifest may be missing: %s", [name])
            return
        _registry.info("module %s: creating or updating database tables", name)
        statements = schema.statements_for(name)
        if statements:
            execute(self.conn, ";\n".join(statements))  # one round trip (simple query protocol)
        if manifest.path and manifest.data:
            data.load_data(self.conn, name, manifest.path, manifest.data)
        if mode == "install":
            records.seed(records.SeedContext(self.conn, self.config, self.dbname, self.demo), name)
            self.installed_now.append(name)
        if name == "base":
            self._hash_plaintext_passwords()
        # The demo flag is only set when installing.
        execute(self.conn, "UPDATE ir_module_module SET state = 'installed', latest_version = %s,"
                           " write_date = now() at time zone 'UTC', demo = CASE WHEN %s THEN %s ELSE demo END"
                           " WHERE name = %s", (manifest.version, mode == "install", self.demo, name))
        self.conn.commit()
        self.processed.append(name)

    def _hash_plaintext_passwords(self) -> None:
        # res.users.init(): passwords written in clear through SQL get hashed when base loads.
        rows = execute(self.conn, "SELECT id, password FROM res_users WHERE password IS NOT NULL"
                                  " AND password !~ '^\\$[^$]+\\$[^$]+\\$.'").fetchall()
        for user_id, password in rows:
            hashed = passwords.hash_password(str(password), rounds=self.config.sim.password_rounds)
            execute(self.conn, "UPDATE res_users SET password = %s WHERE id = %s", (hashed, user_id))

    def load_graph(self, names: Iterable[str], forced: set[str]) -> None:
        states = module_states(self.conn)
        order = load_order(names, self.manifests)
        _loading.info("loading %d modules...", len(order))
        start = time.monotonic()
        for index, name in enumerate(order, 1):
            if name not in self.processed:
                self.process(name, states.get(name, "installed"), index, len(order), forced)
        _loading.info("%d modules loaded in %.2fs", len(order), time.monotonic() - start)

    def run(self, *, update_module: bool) -> bool:
        """Load (and install/upgrade) the modules. Return False if the database is not initialised."""
        conn, config = self.conn, self.config
        execute(conn, "SET SESSION lock_timeout = '15s'")
        init, update = set(config.init), set(config.update)
        if not database.is_initialized(conn):
            if not update_module:
                _loading.error("Database %s not initialized, you can force it with `-i base`", self.dbname)
                return False
            _loading.info("init db")
            initialize(conn, config, self.dbname, self.manifests)
            update_module = True
        else:
            row = execute(conn, "SELECT demo FROM ir_module_module WHERE name = 'base'").fetchone()
            self.demo = bool(row and row[0]) and config.demo
        if "base" in update or "all" in update:
            execute(conn, "UPDATE ir_module_module SET state = 'to upgrade'"
                          " WHERE name = 'base' AND state = 'installed'")
        forced = {n for n in init | update if n != "all"}
        if "all" in update:
            forced |= {n for n, s in module_states(conn).items() if s == "installed"}
        self.load_graph(["base"], forced)
        if update_module:
            _loading.info("updating modules list")
            update_list(conn, self.manifests)
            states = module_states(conn)
            invalid = sorted((init | update) - set(states) - {"all"})
            if invalid:
                _loading.warning("invalid module names, ignored: %s", ", ".join(invalid))
            to_install = mark_install([n for n in config.init if n in states], states, self.manifests)
            execute(conn, "UPDATE ir_module_module SET state = 'to install' WHERE name = ANY(%s)", (to_install,))
            to_upgrade = mark_upgrade([n for n in config.update if n in states], module_states(conn), self.manifests)
            execute(conn, "UPDATE ir_module_module SET state = 'to upgrade' WHERE name = ANY(%s)", (to_upgrade,))
            execute(conn, "UPDATE ir_module_module SET state = 'installed' WHERE name = 'base'")
        states = module_states(conn)
        self.load_graph([n for n, s in states.items() if s in ("installed", "to upgrade", "to remove")], forced)
        if update_module:
            self.load_graph([n for n, s in module_states(conn).items() if s in ("installed", "to install")], forced)
        if self.installed_now and config.sim.init_seconds > 0:
            time.sleep(config.sim.init_seconds)  # sim_init_seconds: real -i takes 18 s and more
        conn.commit()
        _loading.info("Modules loaded.")
        return True


def load_modules(config: Config, dbname: str, *, update_module: bool) -> list[str]:
    """Load the modules of ``dbname``, installing/upgrading what ``config.init``/``update`` ask.

    Return the modules processed.  Re-raise any failure after resetting the
    transient module states, as ``Registry.new`` does.
    """
    start = time.monotonic()
    conn = database.connect(config, dbname)
    try:
        loader = Loader(config, dbname, conn)
        loader.run(update_module=update_module)
    except Exception:
        conn.rollback()
        conn.close()
        reset_modules_state(config, dbname)
        _registry.error("Failed to load registry")
        raise
    conn.close()
    _registry.info("Registry loaded in %.3fs", time.monotonic() - start)
    return loader.processed


def preload_registries(config: Config, dbnames: Iterable[str]) -> int:
    """``odoo.service.server.preload_registries``: load each database, install/upgrade as asked.

    Return 0, or -1 (odoo-bin then exits 255) after logging the failure.
    """
    update_module = bool(config.init or config.update)
    for dbname in dbnames:
        logs.set_dbname(dbname)
        try:
            load_modules(config, dbname, update_module=update_module)
        except Exception:
            logging.getLogger("odoo.service.server").critical(
                "Failed to initialize database `%s`.", dbname, exc_info=True)
            return -1
        finally:
            logs.set_dbname(None)
    return 0
