"""Command line: the slice of ``odoo-bin`` a platform calls.

``python -m odooplane.sim [server] -c CONF [-d DB] [-i MODS] [-u MODS]
[--stop-after-init] [--without-demo=all] ...``, ``... neutralize -c CONF -d DB
[--stdout]`` and ``... gevent -c CONF`` (the evented process the prefork master
starts).  Option names and destinations are odoo-bin's; an unknown option is
an argparse error (exit 2, as optparse's), an unknown command exits 1.
``--version`` prints ``Odoo Server <series>``.  Exit codes: 0, 1 on a start-up
error, 255 when loading a database failed (``sys.exit(-1)`` in odoo-bin).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from odooplane.sim import config as configuration
from odooplane.sim import database, dbrouter, faults, logs
from odooplane.sim.config import Config, ConfigError
from odooplane.sim.exceptions import DatabaseExists
from odooplane.sim.release import DEFAULT_SERIES, release_for

_logger = logging.getLogger("odoo")
COMMANDS = ("server", "neutralize", "gevent", "help")

# (flags, dest, type) of the odoo-bin options the simulator understands; None type = string.
OPTIONS: tuple[tuple[tuple[str, ...], str, Any], ...] = (
    (("-d", "--database"), "db_name", None), (("-r", "--db_user"), "db_user", None),
    (("-w", "--db_password"), "db_password", None), (("--db_host",), "db_host", None),
    (("--db_port",), "db_port", int), (("--db_sslmode",), "db_sslmode", None), (("--db_maxconn",), "db_maxconn", int),
    (("--db-template",), "db_template", None), (("--db-filter",), "dbfilter", None),
    (("--addons-path",), "addons_path", None), (("-D", "--data-dir"), "data_dir", None),
    (("-p", "--http-port"), "http_port", int), (("--http-interface",), "http_interface", None),
    (("--gevent-port",), "gevent_port", int), (("--longpolling-port",), "longpolling_port", int),
    (("--workers",), "workers", int), (("--max-cron-threads",), "max_cron_threads", int),
    (("--limit-memory-soft",), "limit_memory_soft", int), (("--limit-memory-hard",), "limit_memory_hard", int),
    (("--limit-time-cpu",), "limit_time_cpu", int), (("--limit-time-real",), "limit_time_real", int),
    (("--limit-time-real-cron",), "limit_time_real_cron", int), (("--limit-request",), "limit_request", int),
    (("--logfile",), "logfile", None), (("--log-level",), "log_level", None),
    (("--load",), "server_wide_modules", None),
    (("--without-demo",), "without_demo", None), (("--pidfile",), "pidfile", None),
)


def _series_hint(argv: Sequence[str]) -> str:
    """The sim_series of the -c file, if any (``--version`` depends on it)."""
    for index, arg in enumerate(argv):
        path = None
        if arg in ("-c", "--config") and index + 1 < len(argv):
            path = argv[index + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
        if path:
            try:
                return str(configuration.read_file(path)[1].get("sim_series", DEFAULT_SERIES))
            except ConfigError:
                return DEFAULT_SERIES
    return DEFAULT_SERIES


def build_parser(command: str, series: str) -> argparse.ArgumentParser:
    """The option parser of ``command`` (odoo-bin's option names and destinations)."""
    prog = "odoo-bin" if command == "server" else f"odoo-bin {command}"
    parser = argparse.ArgumentParser(prog=prog, description="Odoo simulator (odooplane.sim)")
    try:
        banner = release_for(series).banner()
    except ValueError:
        banner = release_for(DEFAULT_SERIES).banner()
    parser.add_argument("--version", action="version", version=banner)
    parser.add_argument("-c", "--config", dest="config")
    parser.add_argument("-i", "--init", dest="init")
    parser.add_argument("-u", "--update", dest="update")
    parser.add_argument("--stop-after-init", dest="stop_after_init", action="store_true")
    parser.add_argument("--proxy-mode", dest="proxy_mode", action="store_const", const=True, default=None)
    parser.add_argument("--no-database-list", dest="list_db", action="store_const", const=False, default=None)
    parser.add_argument("--no-http", dest="http_enable", action="store_const", const=False, default=None)
    for flags, dest, kind in OPTIONS:
        parser.add_argument(*flags, dest=dest, type=kind, default=None)
    if command == "neutralize":
        parser.add_argument("--stdout", dest="to_stdout", action="store_true",
                            help="Output the neutralization SQL instead of applying it")
    return parser


def load(command: str, argv: list[str]) -> tuple[Config, argparse.Namespace]:
    """Parse ``argv`` for ``command``; exit 2 (argparse) on a bad option or configuration."""
    parser = build_parser(command, _series_hint(argv))
    namespace = parser.parse_args(argv)
    overrides = {dest: getattr(namespace, dest) for _, dest, _ in OPTIONS}
    overrides.update(proxy_mode=namespace.proxy_mode, list_db=namespace.list_db, http_enable=namespace.http_enable)
    try:
        config = configuration.build(rcfile=namespace.config, overrides=overrides, init=namespace.init,
                                     update=namespace.update, stop_after_init=namespace.stop_after_init)
    except ConfigError as exc:
        parser.error(str(exc))
    return config, namespace


def report_configuration(config: Config) -> None:
    _logger.info("Odoo version %s", config.release.version)
    if config.rcfile:
        _logger.info("Using configuration file at %s", config.rcfile)
    _logger.info("addons paths: %s", config.addons_paths)
    host = config["db_host"] or os.environ.get("PGHOST", "default")
    port = config["db_port"] or os.environ.get("PGPORT", "default")
    user = config["db_user"] or os.environ.get("PGUSER", "default")
    _logger.info("database: %s@%s:%s", user, host, port)


def create_databases(config: Config) -> Config:
    """odoo-bin creates each ``-d`` database that does not exist and then initialises it (``-i base``)."""
    for dbname in config.db_names:
        try:
            database.create_empty_database(config, dbname)
        except psycopg.errors.InsufficientPrivilege as exc:
            _logger.info("Could not determine if database %s exists, skipping auto-creation: %s", dbname, exc)
            continue
        except DatabaseExists:
            continue
        if "base" not in config.init:
            config = dataclasses.replace(config, init=(*config.init, "base"))
    return config


def serve(config: Config, argv: list[str], *, evented: bool) -> int:
    """Run the server (threaded or prefork) or the evented process; return the exit code."""
    if config.sim.boot_fail:
        try:
            faults.boot_failure()
        except ModuleNotFoundError:
            _logger.critical("Failed to start the server (sim_boot_fail)", exc_info=True)
            return 1
    if dbrouter.MODULE in config.server_wide_modules:
        dbrouter.log_loaded()  # load_server_wide_modules(): the addon is imported at start
    if evented:
        from odooplane.sim.evented import EventedServer

        return EventedServer(config).run()
    if config.sim.startup_delay > 0:
        time.sleep(config.sim.startup_delay)  # before anything listens (real Odoo: ~1.1 s of imports)
    config = create_databases(config)
    pidfile = config.get("pidfile")
    if pidfile:
        with open(str(pidfile), "w", encoding="ascii") as handle:
            handle.write(str(os.getpid()))
    try:
        if int(config["workers"] or 0) > 0:
            from odooplane.sim.prefork import PreforkServer

            return PreforkServer(config, argv).run()
        from odooplane.sim.server import ThreadedServer

        return ThreadedServer(config, argv).run()
    finally:
        if pidfile and os.path.exists(str(pidfile)):
            os.unlink(str(pidfile))


def run_neutralize(config: Config, *, to_stdout: bool) -> int:
    from odooplane.sim import neutralize

    dbname = config.db_names[0] if config.db_names else ""
    if not dbname:
        _logger.error('Neutralize command needs a database name. Use "-d" argument')
        return 1
    if not to_stdout:
        _logger.info("Starting %s database neutralization", dbname)
    try:
        if to_stdout:
            with database.connect(config, dbname) as conn:
                print(neutralize.script(conn, config))
        else:
            neutralize.neutralize_database(config, dbname)
    except Exception:
        _logger.critical("An error occurred during the neutralization. THE DATABASE IS NOT NEUTRALIZED!",
                         exc_info=True)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m odooplane.sim``; return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = "server"
    if args and not args[0].startswith("-"):
        command = args.pop(0)
    if command == "help":
        print("Available commands:\n    gevent      the evented process of a prefork server\n"
              "    neutralize  Neutralize a production database for testing: no emails sent, etc.\n"
              "    server      Start the odoo server (default command)")
        return 0
    if command not in COMMANDS:
        sys.stderr.write(f"Unknown command {command!r}\n")
        return 1
    config, namespace = load(command, args)
    logs.setup(config)
    if command == "neutralize":
        return run_neutralize(config, to_stdout=bool(namespace.to_stdout))
    if (config["db_user"] or os.environ.get("PGUSER")) == "postgres":
        sys.stderr.write("Using the database user 'postgres' is a security risk, aborting.")
        return 1
    report_configuration(config)
    try:
        rc = serve(config, args, evented=command == "gevent")
    except Exception:
        _logger.critical("Server failed", exc_info=True)
        return 1
    finally:
        logging.shutdown()
    return rc & 0xFF
