"""Database manager operations (``/web/database/*`` and the ``db`` RPC service).

Reachable only with ``list_db`` on and the master password (checked by the
callers).  ``drop``, ``rename``, ``duplicate_database`` (new ``database.uuid``
and ``database.secret``, filestore copied, optional neutralization) and
``dump`` (Odoo's zip: ``dump.sql`` from ``pg_dump --no-owner``, ``filestore/``
and ``manifest.json``; or ``pg_dump -Fc``) behave as ``odoo/service/db.py``.
Create and restore are not simulated: use ``-d DB -i base`` and pg_restore.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import tempfile
import uuid
import zipfile
from glob import glob
from typing import TYPE_CHECKING, Any

from psycopg import sql

from odooplane.sim import database, neutralize
from odooplane.sim.database import execute
from odooplane.sim.exceptions import UserError

if TYPE_CHECKING:
    from odooplane.sim.app import RequestContext


def _drop_connections(conn: database.Connection, name: str) -> None:
    execute(conn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                  " AND pid != pg_backend_pid()", (name,))


def exp_drop(ctx: RequestContext, name: str) -> bool:
    """Drop ``name`` and its filestore. Return False if this server does not list it."""
    config = ctx.config
    if name not in database.list_dbs(config, force=True):
        return False
    ctx.services.registries.delete(name)
    ctx.services.pool.close_db(name)
    with database.connect(config, "postgres", autocommit=True) as conn:
        _drop_connections(conn, name)
        execute(conn, sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
    database.forget_db_list()
    shutil.rmtree(config.filestore(name), ignore_errors=True)
    return True


def exp_rename(ctx: RequestContext, old_name: str, new_name: str) -> bool:
    """Rename a database and move its filestore."""
    config = ctx.config
    ctx.services.registries.delete(old_name)
    ctx.services.pool.close_db(old_name)
    with database.connect(config, "postgres", autocommit=True) as conn:
        _drop_connections(conn, old_name)
        execute(conn, sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old_name),
                                                                       sql.Identifier(new_name)))
    database.forget_db_list()
    if os.path.exists(config.filestore(old_name)) and not os.path.exists(config.filestore(new_name)):
        shutil.move(config.filestore(old_name), config.filestore(new_name))
    return True


def exp_duplicate_database(ctx: RequestContext, original: str, name: str, neutralize_database: Any = False) -> bool:
    """CREATE DATABASE ... TEMPLATE, force a new uuid/secret, copy the filestore."""
    config = ctx.config
    ctx.services.pool.close_db(original)
    with database.connect(config, "postgres", autocommit=True) as conn:
        _drop_connections(conn, original)
        execute(conn, sql.SQL("CREATE DATABASE {} ENCODING 'unicode' TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(original)))
    database.forget_db_list()
    with database.connect(config, name) as conn:
        # ir.config_parameter.init(force=True) on a copy: new identity, new secret.
        for key, value in (("database.secret", str(uuid.uuid4())), ("database.uuid", str(uuid.uuid1()))):
            execute(conn, "UPDATE ir_config_parameter SET value = %s WHERE key = %s", (value, key))
        execute(conn, "UPDATE ir_config_parameter SET value = to_char(now() at time zone 'UTC',"
                      " 'YYYY-MM-DD HH24:MI:SS') WHERE key = 'database.create_date'")
        conn.commit()
    if neutralize_database and str(neutralize_database).lower() not in ("0", "false"):
        neutralize.neutralize_database(config, name)
    if os.path.exists(config.filestore(original)) and not os.path.exists(config.filestore(name)):
        shutil.copytree(config.filestore(original), config.filestore(name))
    return True


def find_pg_tool(name: str) -> str:
    """Return the path of a PostgreSQL client tool. Raise UserError when it is not installed."""
    found = shutil.which(name) or next(iter(sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise UserError(f"Command `{name}` not found.")
    return found


def _pg_env(ctx: RequestContext) -> dict[str, str]:
    env = dict(os.environ)
    for key, option in (("PGHOST", "db_host"), ("PGPORT", "db_port"), ("PGUSER", "db_user"),
                        ("PGPASSWORD", "db_password")):
        if ctx.config[option]:
            env[key] = str(ctx.config[option])
    return env


def dump(ctx: RequestContext, name: str, backup_format: str = "zip") -> bytes:
    """``dump_db``: the zip backup (filestore copied before the dump, as Odoo does) or ``pg_dump -Fc``."""
    if backup_format != "zip":
        return subprocess.run([find_pg_tool("pg_dump"), "--no-owner", "--format=c", name], env=_pg_env(ctx),
                              check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as dump_dir:
        if os.path.exists(ctx.config.filestore(name)):
            shutil.copytree(ctx.config.filestore(name), os.path.join(dump_dir, "filestore"))
        with database.connect(ctx.config, name) as conn:
            modules = dict(execute(conn, "SELECT name, latest_version FROM ir_module_module"
                                         " WHERE state = 'installed'").fetchall())
            major, minor = divmod(conn.info.server_version // 100, 100)
        release = ctx.config.release
        manifest = {"odoo_dump": "1", "db_name": name, "version": release.version,
                    "version_info": list(release.version_info), "major_version": release.series,
                    "pg_version": f"{major}.{minor}", "modules": modules}
        with open(os.path.join(dump_dir, "manifest.json"), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=4)
        subprocess.run([find_pg_tool("pg_dump"), "--no-owner", f"--file={os.path.join(dump_dir, 'dump.sql')}", name],
                       env=_pg_env(ctx), check=True, capture_output=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            # dump.sql first, like odoo.tools.osutil.zip_dir with fnct_sort
            for root, _dirs, files in sorted(os.walk(dump_dir), key=lambda item: item[0]):
                for fname in sorted(files, key=lambda f: f != "dump.sql"):
                    path = os.path.join(root, fname)
                    archive.write(path, os.path.relpath(path, dump_dir))
        return buffer.getvalue()


def exp_dump(ctx: RequestContext, name: str, backup_format: str = "zip") -> str:
    """``exp_dump``: the backup, base64-encoded."""
    return base64.b64encode(dump(ctx, name, backup_format)).decode("ascii")
