"""The /websocket handshake (RFC 6455, addons/bus/websocket.py)."""

from __future__ import annotations

import socket

import pytest

from odooplane.sim import websocket
from odooplane.sim.exceptions import HttpError


def headers(**overrides: str) -> dict[str, str]:
    base = {"connection": "Upgrade", "host": "acme.localhost", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
            "sec-websocket-version": "13", "upgrade": "websocket", "origin": "http://acme.localhost"}
    base.update(overrides)
    return base


def test_accept_key_is_the_rfc_6455_example() -> None:
    assert websocket.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_valid_handshake_switches_protocols() -> None:
    response = websocket.handshake(headers())
    assert response.status == 101
    assert response.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert response.header("Upgrade") == "websocket"


def test_missing_origin_is_a_bad_request() -> None:
    bad = headers()
    del bad["origin"]
    with pytest.raises(HttpError) as info:
        websocket.handshake(bad)
    assert info.value.status == 400
    assert "origin" in info.value.description


@pytest.mark.parametrize(
    ("override", "status"),
    [({"sec-websocket-version": "8"}, 426), ({"sec-websocket-key": "short"}, 400),
     ({"sec-websocket-key": "c2hvcnQ="}, 400), ({"upgrade": "h2c"}, 400), ({"connection": "close"}, 400)],
)
def test_invalid_handshakes_are_refused(override: dict[str, str], status: int) -> None:
    with pytest.raises(HttpError) as info:
        websocket.handshake(headers(**override))
    assert info.value.status == status


def test_frames_round_trip_through_a_socket_pair() -> None:
    left, right = socket.socketpair()
    with left, right:
        payload = b"x" * 300
        left.sendall(websocket.frame(websocket.OP_TEXT, payload))
        assert websocket.read_frame(right) == (websocket.OP_TEXT, payload)
        mask = b"\x01\x02\x03\x04"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(b"ping"))
        left.sendall(bytes([0x89, 0x80 | 4]) + mask + masked)
        assert websocket.read_frame(right) == (websocket.OP_PING, b"ping")
