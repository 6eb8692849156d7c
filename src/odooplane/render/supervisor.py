"""Render supervisord's main configuration and one ``[program:…]`` file per supervised process.

supervisord (PyPI ``supervisor``) gives the restart policy (with back-off on failed starts), log
files with rotation, a clean stop of the whole process group and status over XML-RPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SupervisorMain:
    socket: str
    pidfile: str
    logfile: str
    programs_glob: str
    childlogdir: str


def render_main(main: SupervisorMain) -> str:
    return f"""; Rendered by Odooplane: edits are overwritten by the next apply.
[unix_http_server]
file = {main.socket}
chmod = 0700

[supervisord]
logfile = {main.logfile}
logfile_maxbytes = 10MB
logfile_backups = 5
loglevel = info
pidfile = {main.pidfile}
childlogdir = {main.childlogdir}
nodaemon = false
minfds = 4096
identifier = odooplane
umask = 077

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl = unix://{main.socket}

[include]
files = {main.programs_glob}
"""


@dataclass(frozen=True)
class Program:
    """One supervised process. ``name`` must be a safe program name ([a-z0-9_-])."""

    name: str
    command: tuple[str, ...]
    directory: str
    log_file: str
    environment: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: str = "TERM"
    stop_wait_s: int = 20
    start_s: int = 1
    start_retries: int = 5
    log_max_bytes: str = "10MB"
    log_backups: int = 5
    priority: int = 500


def _quote(arg: str) -> str:
    # supervisord splits `command` with shlex; quote anything with spaces or quotes.
    if arg and all(ch.isalnum() or ch in "/._-=:,@+%^$" for ch in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def _env_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'


def render_program(program: Program) -> str:
    """Return the ``[program:name]`` section; stop and kill act on the whole process group."""
    command = " ".join(_quote(a) for a in program.command).replace("%", "%%")
    lines = [
        "; Rendered by Odooplane: edits are overwritten by the next apply.",
        f"[program:{program.name}]",
        f"command = {command}",
        f"directory = {program.directory}",
        "autostart = true",
        "autorestart = true",
        f"startsecs = {program.start_s}",
        f"startretries = {program.start_retries}",
        f"stopsignal = {program.stop_signal}",
        f"stopwaitsecs = {program.stop_wait_s}",
        "stopasgroup = true",
        "killasgroup = true",
        f"priority = {program.priority}",
        "redirect_stderr = true",
        f"stdout_logfile = {program.log_file}",
        f"stdout_logfile_maxbytes = {program.log_max_bytes}",
        f"stdout_logfile_backups = {program.log_backups}",
    ]
    if program.user:
        lines.append(f"user = {program.user}")
    if program.environment:
        env = ",".join(f"{k}={_env_value(v)}" for k, v in sorted(program.environment.items()))
        lines.append(f"environment = {env}")
    return "\n".join(lines) + "\n"
