"""Render odoo.conf for one Odoo process: a pure function of its inputs, per series.

The keys are optparse destinations of odoo-bin (an unknown key is accepted silently by Odoo, so
a typo here would be invisible — the golden-file tests pin every key). Every value is one line
of printable text and extra options never repeat a key written here: the estate is validated
for both already, and rendering refuses them again rather than write a second line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# Keys render() writes itself (the estate schema refuses them as extra options).
MANAGED_KEYS = frozenset({
    "admin_passwd", "db_host", "db_port", "db_user", "db_password", "db_name", "dbfilter", "db_maxconn", "list_db",
    "proxy_mode", "without_demo", "data_dir", "addons_path", "server_wide_modules", "http_interface", "http_port",
    "gevent_port", "longpolling_port", "workers", "max_cron_threads", "limit_memory_soft", "limit_memory_hard",
    "limit_time_cpu", "limit_time_real", "limit_request", "logfile", "pidfile",
})
_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class OdooConf:
    series_major: int
    db_host: str
    db_port: int
    db_user: str
    db_password: str
    dbfilter: str
    data_dir: str
    addons_path: tuple[str, ...]
    http_port: int
    evented_port: int
    admin_passwd_hash: str
    logfile: str
    pidfile: str = ""
    db_name: str = ""
    http_interface: str = "127.0.0.1"
    workers: int = 0
    max_cron_threads: int = 1
    limit_memory_soft_mib: int = 2048
    limit_memory_hard_mib: int = 2560
    limit_time_cpu: int = 60
    limit_time_real: int = 120
    limit_request: int = 65536
    db_maxconn: int = 64
    server_wide_modules: tuple[str, ...] = ("base", "web")
    extra: Mapping[str, str | int | float | bool] = field(default_factory=dict)


# The keys a runtime target owns: where the process reaches its database and keeps its files, the
# ports it listens on. Everything else is the workload's (OdooSettings), the same on every target.
PLACEMENT_KEYS = frozenset({"db_host", "db_port", "data_dir", "addons_path", "http_interface", "http_port",
                            "gevent_port", "longpolling_port", "logfile", "pidfile"})


@dataclass(frozen=True)
class OdooSettings:
    """What an Odoo process is, independently of where it runs (the operations' side of odoo.conf)."""

    series_major: int
    db_user: str
    db_password: str
    dbfilter: str
    admin_passwd_hash: str
    db_name: str = ""
    workers: int = 0
    max_cron_threads: int = 1
    limit_memory_soft_mib: int = 2048
    limit_memory_hard_mib: int = 2560
    limit_time_cpu: int = 60
    limit_time_real: int = 120
    limit_request: int = 65536
    db_maxconn: int = 64
    server_wide_modules: tuple[str, ...] = ("base", "web")
    extra: Mapping[str, str | int | float | bool] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A stable digest of every setting (secrets included: a changed password is a change)."""
        import hashlib
        import json

        data = {k: (dict(sorted(v.items())) if isinstance(v, Mapping) else v) for k, v in self.__dict__.items()}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Placement:
    """Where one Odoo process runs (the runtime target's side of odoo.conf)."""

    db_host: str
    db_port: int
    data_dir: str
    addons_path: tuple[str, ...]
    http_port: int
    evented_port: int
    logfile: str
    pidfile: str = ""
    http_interface: str = "127.0.0.1"


def render_placed(settings: OdooSettings, placement: Placement, *, secrets: bool = True) -> str:
    """odoo.conf of ``settings`` placed by a runtime target (without ``SECRET_KEYS`` when not
    ``secrets``: :func:`secret_lines` holds them)."""
    return render(OdooConf(**settings.__dict__, **placement.__dict__), secrets=secrets)


SECRET_KEYS = ("admin_passwd", "db_password")
# Extra options that hold secrets (Odooplane's own server-wide modules: the session store's Redis
# password, the attachment store's S3 keys).
SECRET_EXTRA = ("odooplane_sessions_password", "odooplane_s3_access_key", "odooplane_s3_secret_key")


def secret_lines(settings: OdooSettings) -> str:
    """The options of ``SECRET_KEYS`` and ``SECRET_EXTRA`` as lines to append to an odoo.conf
    rendered without them (its last section is [options])."""
    lines = [f"admin_passwd = {settings.admin_passwd_hash}", f"db_password = {settings.db_password}"]
    lines += [f"{key} = {_value(settings.extra[key])}" for key in SECRET_EXTRA if key in settings.extra]
    for line in lines:
        if not line.isprintable():
            raise ValueError(f"odoo.conf option {line.split(' ')[0]}: the value is not one line of printable text")
    return "\n".join(lines) + "\n"


def _value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def render(conf: OdooConf, *, secrets: bool = True) -> str:
    """Return the text of odoo.conf for ``conf``.

    Series ≤ 15 take ``longpolling_port``; 16 and later ``gevent_port``. ``admin_passwd`` is
    always a pbkdf2_sha512 hash, never the plain password.
    """
    mib = 1024 * 1024
    evented_key = "gevent_port" if conf.series_major >= 16 else "longpolling_port"
    options: list[tuple[str, str | int | float | bool]] = [
        ("admin_passwd", conf.admin_passwd_hash),
        ("db_host", conf.db_host),
        ("db_port", conf.db_port),
        ("db_user", conf.db_user),
        ("db_password", conf.db_password),
        ("db_name", conf.db_name),
        ("dbfilter", conf.dbfilter),
        ("db_maxconn", conf.db_maxconn),
        ("list_db", False),
        ("proxy_mode", True),
        ("without_demo", "all"),
        ("data_dir", conf.data_dir),
        ("addons_path", ",".join(conf.addons_path)),
        ("server_wide_modules", ",".join(conf.server_wide_modules)),
        ("http_interface", conf.http_interface),
        ("http_port", conf.http_port),
        (evented_key, conf.evented_port),
        ("workers", conf.workers),
        ("max_cron_threads", conf.max_cron_threads),
        ("limit_memory_soft", conf.limit_memory_soft_mib * mib),
        ("limit_memory_hard", conf.limit_memory_hard_mib * mib),
        ("limit_time_cpu", conf.limit_time_cpu),
        ("limit_time_real", conf.limit_time_real),
        ("limit_request", conf.limit_request),
        ("logfile", conf.logfile),
    ]
    if conf.pidfile:
        options.append(("pidfile", conf.pidfile))
    for key, value in sorted(conf.extra.items()):
        if not _KEY.fullmatch(key) or key in MANAGED_KEYS:
            raise ValueError(f"odoo.conf option {key!r} cannot be set as an extra option")
        options.append((key, value))
    lines = ["; Rendered by Odooplane: edits are overwritten by the next apply.", "[options]"]
    for key, value in options:
        if not secrets and (key in SECRET_KEYS or key in SECRET_EXTRA):
            continue
        text = _value(value)
        if not text.isprintable():  # a newline would start another option
            raise ValueError(f"odoo.conf option {key}: the value is not one line of printable text")
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def dbfilter_exact(database: str) -> str:
    """Return an anchored dbfilter that selects exactly ``database`` (no prefix matches)."""
    escaped = "".join("\\" + ch if not ch.isalnum() and ch != "_" else ch for ch in database)
    return f"^{escaped}$"
