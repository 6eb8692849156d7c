"""``/websocket`` (bus, series >= 16): the RFC 6455 handshake and a minimal frame loop.

As in ``addons/bus/websocket.py``: the handshake requires Connection, Host,
Sec-WebSocket-Key (16 bytes, base64), Sec-WebSocket-Version 13, Upgrade and
Origin, and answers ``101 Switching Protocols`` with
``Sec-WebSocket-Accept = base64(sha1(key + GUID))``.  Only the evented process
(and a threaded server) hands the raw socket to the application; a prefork
HTTP worker cannot, so the route fails with a 500 there, which is why a proxy
must send ``/websocket`` to ``gevent_port``.  After the upgrade the connection
answers pings and closes cleanly; bus notifications are not simulated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import select
import socket
import struct
import threading

from odooplane.sim import httpio
from odooplane.sim.exceptions import HttpError

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
REQUIRED_HEADERS = ("connection", "host", "sec-websocket-key", "sec-websocket-version", "upgrade", "origin")
SUPPORTED_VERSIONS = ("13",)
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client key."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode(), usedforsecurity=False).digest()).decode()


def handshake(headers: dict[str, str]) -> httpio.Response:
    """Validate the opening handshake and return the 101 response.

    Raise HttpError(400) on a malformed handshake, HttpError(426) on an unsupported version.
    """
    missing = [name for name in REQUIRED_HEADERS if not headers.get(name)]
    if missing:
        raise HttpError(400, f"Empty or missing header(s): {', '.join(sorted(missing))}")
    if headers["upgrade"].lower() != "websocket":
        raise HttpError(400, "Invalid upgrade header")
    if "upgrade" not in headers["connection"].lower():
        raise HttpError(400, "Invalid connection header")
    if headers["sec-websocket-version"] not in SUPPORTED_VERSIONS:
        raise HttpError(426, "Wrong websocket version was given during the handshake")
    try:
        decoded = base64.b64decode(headers["sec-websocket-key"], validate=True)
    except (ValueError, binascii.Error):
        raise HttpError(400, "Sec-WebSocket-Key should be b64 encoded") from None
    if len(decoded) != 16:
        raise HttpError(400, "Sec-WebSocket-Key should be of length 16 once decoded")
    return httpio.Response(101, b"", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                      ("Sec-WebSocket-Accept", accept_key(headers["sec-websocket-key"]))])


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("websocket closed")
        data += chunk
    return data


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """Read one (possibly masked) frame; return (opcode, payload)."""
    first, second = _recv_exact(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack(">H", _recv_exact(sock, 2))[0]
    elif length == 127:
        length = struct.unpack(">Q", _recv_exact(sock, 8))[0]
    mask = _recv_exact(sock, 4) if second & 0x80 else b""
    payload = _recv_exact(sock, length)
    if mask:
        payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return first & 0x0F, payload


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """Build one unmasked server frame."""
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([len(payload)])
    elif len(payload) < 1 << 16:
        header += bytes([126]) + struct.pack(">H", len(payload))
    else:
        header += bytes([127]) + struct.pack(">Q", len(payload))
    return header + payload


def serve(sock: socket.socket, stopping: threading.Event) -> None:
    """Keep an upgraded connection open: answer pings, echo close, stop with the server."""
    sock.settimeout(None)
    try:
        while not stopping.is_set():
            ready, _, _ = select.select([sock], [], [], 0.5)
            if not ready:
                continue
            opcode, payload = read_frame(sock)
            if opcode == OP_PING:
                sock.sendall(frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                sock.sendall(frame(OP_CLOSE, payload[:2]))
                return
        sock.sendall(frame(OP_CLOSE, struct.pack(">H", 1001)))  # going away
    except (OSError, ConnectionError, ValueError):
        return
