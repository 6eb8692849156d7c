"""A small Redis client (RESP2 over one socket): what a session store needs, with no dependency
Odoo's images lack. Used by the odooplane_sessions addon and, loaded from this file, by the
simulator."""

import socket
import threading


class RedisError(Exception):
    pass


class Redis:
    """One connection, re-opened after an error; calls are serialised (a threaded Odoo shares it)."""

    def __init__(self, host, port, *, username=None, password=None, db=0, timeout=5.0):
        self.address = (host, int(port))
        self.username = username
        self.password = password
        self.db = int(db)
        self.timeout = timeout
        self._sock = None
        self._file = None
        self._lock = threading.Lock()

    def _connect(self):
        sock = socket.create_connection(self.address, timeout=self.timeout)
        self._sock, self._file = sock, sock.makefile("rb")
        if self.password is not None:
            auth = ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
            self._call(auth)
        if self.db:
            self._call(("SELECT", str(self.db)))

    def close(self):
        for thing in (self._file, self._sock):
            if thing is not None:
                try:
                    thing.close()
                except OSError:
                    pass
        self._sock = self._file = None

    def _call(self, args):
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._sock.sendall(b"".join(out))
        return self._reply()

    def _reply(self):
        line = self._file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed by Redis")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._file.read(size + 2)
            return data[:-2]
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._reply() for _ in range(size)]
        raise RedisError(f"unexpected reply {line[:20]!r}")

    def execute(self, *args):
        """Run one command; reconnect once if the connection was lost."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._sock is None:
                        self._connect()
                    return self._call(args)
                except (OSError, ConnectionError):
                    self.close()
                    if attempt == 2:
                        raise
                except RedisError:
                    raise
        return None

    def get(self, key):
        return self.execute("GET", key)

    def set(self, key, value, *, ex=None):
        args = ["SET", key, value] + (["EX", str(int(ex))] if ex else [])
        return self.execute(*args)

    def delete(self, *keys):
        return self.execute("DEL", *keys) if keys else 0
