"""odoo.conf parsing, the way ``odoo/tools/config.py`` does it.

Real Odoo reads the ``[options]`` section with ``RawConfigParser`` (so ``%d``
in ``dbfilter`` is not interpolated), turns ``True``/``true``/``False``/``false``
into booleans, keeps every other value as a string and accepts unknown keys
silently.  Integer options are cast afterwards; command-line values win over
the file.  Keys starting with ``sim_`` drive the simulator only (faults,
series, timings) and are listed in docs/simulator.md.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from odooplane.sim.release import DEFAULT_SERIES, Release, release_for

MIB = 1024 * 1024

# optparse dest -> default, as in configmanager.__init__ (posix).
DEFAULTS: dict[str, Any] = {
    "admin_passwd": "admin",
    "addons_path": "",
    "data_dir": os.path.join(os.path.expanduser("~"), ".local", "share", "Odoo"),
    "db_host": False,
    "db_maxconn": 64,
    "db_name": False,
    "db_password": False,
    "db_port": False,
    "db_sslmode": "prefer",
    "db_template": "template0",
    "db_user": False,
    "dbfilter": "",
    "gevent_port": 8072,
    "http_enable": True,
    "http_interface": "",
    "http_port": 8069,
    "limit_memory_hard": 2560 * MIB,
    "limit_memory_hard_gevent": False,
    "limit_memory_soft": 2048 * MIB,
    "limit_memory_soft_gevent": False,
    "limit_request": 2**16,
    "limit_time_cpu": 60,
    "limit_time_real": 120,
    "limit_time_real_cron": -1,
    "list_db": True,
    "log_level": "info",
    "logfile": False,
    "longpolling_port": 8072,
    "max_cron_threads": 2,
    "proxy_mode": False,
    "registry_lru_size": False,
    "server_wide_modules": "base,web",
    "without_demo": False,
    "workers": 0,
}

INT_OPTIONS = frozenset({
    "db_maxconn", "db_port", "gevent_port", "http_port", "limit_memory_hard", "limit_memory_hard_gevent",
    "limit_memory_soft", "limit_memory_soft_gevent", "limit_request", "limit_time_cpu", "limit_time_real",
    "limit_time_real_cron", "longpolling_port", "max_cron_threads", "registry_lru_size", "workers",
})


class ConfigError(Exception):
    """The configuration file or a value in it is unusable (odoo-bin exits 2)."""


@dataclass(frozen=True)
class SimOptions:
    """Simulator-only knobs, from the ``sim_*`` keys."""

    series: str = DEFAULT_SERIES
    fail_init: frozenset[str] | None = None  # None: off; {"*"}: first module; else module names
    fail_upgrade: frozenset[str] | None = None
    crash_after_requests: int | None = None
    boot_fail: bool = False
    startup_delay: float = 0.0
    init_seconds: float = 0.0
    password_rounds: int = 600_000
    cron_interval: float = 60.0
    longpolling_timeout: float = 50.0


@dataclass(frozen=True)
class Config:
    """The effective options of one simulated odoo-bin invocation."""

    options: Mapping[str, Any]
    rcfile: str | None = None
    init: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    stop_after_init: bool = False
    sim: SimOptions = field(default_factory=SimOptions)

    def __getitem__(self, key: str) -> Any:
        return self.options[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    @property
    def release(self) -> Release:
        return release_for(self.sim.series)

    @property
    def db_names(self) -> list[str]:
        """``db_name`` split on commas (``-d a,b`` serves several databases)."""
        return [name.strip() for name in str(self.options["db_name"] or "").split(",") if name.strip()]

    @property
    def addons_paths(self) -> list[str]:
        return [p for p in str(self.options["addons_path"] or "").split(",") if p]

    @property
    def server_wide_modules(self) -> list[str]:
        """``server_wide_modules`` (odoo.conf or ``--load``) split on commas."""
        return [name.strip() for name in str(self.options["server_wide_modules"] or "").split(",") if name.strip()]

    @property
    def evented_port(self) -> int:
        return int(self.options[self.release.evented_port_key])

    @property
    def demo(self) -> bool:
        """Whether modules installed now get demo data (any ``without_demo`` value disables it)."""
        return not self.options["without_demo"]

    @property
    def registry_lru_size(self) -> int:
        """As Registry.registries: explicit size, else limit_memory_soft / 15 MiB."""
        size = self.options["registry_lru_size"]
        if size:
            return int(size)
        return max(1, int(self.options["limit_memory_soft"] or 0) // (15 * MIB))

    def filestore(self, dbname: str) -> str:
        return os.path.join(str(self.options["data_dir"]), "filestore", dbname)

    @property
    def session_dir(self) -> str:
        return os.path.join(str(self.options["data_dir"]), "sessions")


def _coerce(value: str) -> Any:
    # odoo's configmanager.load(): only these four spellings become booleans.
    if value in ("True", "true"):
        return True
    if value in ("False", "false"):
        return False
    return value


def read_file(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Given an odoo.conf path, return (options, sim_options) as raw coerced values.

    Raise ConfigError if the file cannot be read or parsed.
    """
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error) as exc:
        raise ConfigError(f"cannot read configuration file {path!r}: {exc}") from exc
    options: dict[str, Any] = {}
    sim: dict[str, Any] = {}
    if parser.has_section("options"):
        for name, value in parser.items("options"):
            (sim if name.startswith("sim_") else options)[name] = _coerce(value)
    return options, sim


def _cast_int(name: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"option {name}: invalid integer value: {value!r}") from None


def _module_set(value: Any) -> frozenset[str] | None:
    if value is False or value in (None, "", "0", "None"):
        return None
    if value is True or str(value).strip().lower() in ("1", "yes", "all", "*"):
        return frozenset({"*"})
    return frozenset(part.strip() for part in str(value).split(",") if part.strip())


def _sim_options(raw: Mapping[str, Any]) -> SimOptions:
    def number(key: str, default: float) -> float:
        value = raw.get(key, default)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"option {key}: invalid number: {value!r}") from None

    crash: int | None = None
    if raw.get("sim_crash_after_requests") not in (None, False):
        crash = int(number("sim_crash_after_requests", 0)) or None
    series = str(raw.get("sim_series", DEFAULT_SERIES))
    try:
        release_for(series)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return SimOptions(
        series=series,
        fail_init=_module_set(raw.get("sim_fail_init")),
        fail_upgrade=_module_set(raw.get("sim_fail_upgrade")),
        crash_after_requests=crash,
        boot_fail=str(raw.get("sim_boot_fail", False)).lower() in ("true", "1", "yes"),
        startup_delay=number("sim_startup_delay", 0.0),
        init_seconds=number("sim_init_seconds", 0.0),
        password_rounds=int(number("sim_password_rounds", 600_000)),
        cron_interval=number("sim_cron_interval", 60.0),
        longpolling_timeout=number("sim_longpolling_timeout", 50.0),
    )


def _normalize_path(path: str) -> str:
    return os.path.normcase(os.path.realpath(os.path.abspath(os.path.expanduser(os.path.expandvars(path.strip())))))


def build(
    *,
    rcfile: str | None,
    overrides: Mapping[str, Any] | None = None,
    init: str | None = None,
    update: str | None = None,
    stop_after_init: bool = False,
) -> Config:
    """Given an odoo.conf path (or None) and command-line values, return the Config.

    ``overrides`` maps optparse dests to values given on the command line; a
    ``None`` value means "not given".  Raise ConfigError on an unreadable file
    or a value that cannot be cast.
    """
    options: dict[str, Any] = dict(DEFAULTS)
    sim_raw: dict[str, Any] = {}
    if rcfile is None:
        candidate = os.environ.get("ODOO_RC") or os.path.expanduser("~/.odoorc")
        rcfile = candidate if os.path.isfile(candidate) else None
    if rcfile is not None:
        if not os.access(rcfile, os.R_OK):
            raise ConfigError(
                f"The config file '{rcfile}' selected with -c/--config doesn't exist or is not readable, "
                "use -s/--save if you want to generate it"
            )
        file_options, sim_raw = read_file(rcfile)
        options.update(file_options)
    for key, value in (overrides or {}).items():
        if value is not None:
            options[key] = value
    if options["logfile"] in ("None", "False"):
        options["logfile"] = False
    if options["server_wide_modules"] in ("", "None", "False", False):
        options["server_wide_modules"] = "base,web"
    for key in INT_OPTIONS:
        options[key] = _cast_int(key, options.get(key))
        if options[key] is False and isinstance(DEFAULTS.get(key), int) and not isinstance(DEFAULTS[key], bool):
            options[key] = DEFAULTS[key]
    if options["addons_path"]:
        options["addons_path"] = ",".join(_normalize_path(p) for p in str(options["addons_path"]).split(",") if p)
    for key in ("data_dir", "logfile"):
        if options[key]:
            options[key] = _normalize_path(str(options[key]))
    if "," in str(options["db_name"] or "") and (init or update):
        raise ConfigError("Cannot use -i/--init or -u/--update with multiple databases in the -d/--database/db_name")
    return Config(
        options=options,
        rcfile=os.path.abspath(rcfile) if rcfile else None,
        init=tuple(m for m in (init or "").split(",") if m),
        update=tuple(m for m in (update or "").split(",") if m),
        stop_after_init=stop_after_init,
        sim=_sim_options(sim_raw),
    )
