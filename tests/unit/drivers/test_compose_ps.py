"""``docker compose ps --format json``: a container's health is the ``Health`` field, or — where
Compose leaves it empty — what the engine's status text says, so that a container still in its
first health check (or crash-looping through restarts) is never taken for a ready one."""

from __future__ import annotations

import json

import pytest

from odooplane.drivers.compose.engine import parse_ps


@pytest.mark.parametrize(("health", "status", "expected"), [
    ("", "Up Less than a second (health: starting)", "starting"),
    ("", "Up 2 minutes (healthy)", "healthy"),
    ("", "Up 1 minute (unhealthy)", "unhealthy"),
    ("", "Up 3 seconds", ""),
    ("", "Restarting (1) 2 seconds ago", ""),
    ("healthy", "Up 4 seconds (health: starting)", "healthy"),
])
def test_health_is_the_field_or_the_status_text(health: str, status: str, expected: str) -> None:
    line = json.dumps({"Service": "odoo-acme__prod", "State": "running", "Health": health, "Status": status})
    [container] = parse_ps(line)
    assert container.health == expected
