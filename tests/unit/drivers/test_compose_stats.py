"""The engine's `docker stats` lines: cores from CPUPerc, memory from the used half of MemUsage."""

from __future__ import annotations

from odooplane.drivers.compose.engine import parse_stats


def test_parse_stats() -> None:
    text = "\n".join([
        '{"ID":"3f2a9c","CPUPerc":"12.50%","MemUsage":"256MiB / 3GiB"}',
        '{"ID":"aa11","CPUPerc":"150.00%","MemUsage":"1.5GiB / 3GiB"}',
        '{"ID":"bb22","CPUPerc":"0.00%","MemUsage":"0B / 0B"}',
        '{"ID":"cc33","CPUPerc":"--","MemUsage":"-- / --"}',
        "not json",
    ])
    assert parse_stats(text) == {"3f2a9c": (0.125, 256 * 1024**2), "aa11": (1.5, int(1.5 * 1024**3)), "bb22": (0.0, 0)}
