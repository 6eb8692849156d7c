from __future__ import annotations

from pathlib import Path

from odooplane.services import logrotate


def test_rotates_only_above_the_size_and_keeps_n_backups(tmp_path: Path) -> None:
    log = tmp_path / "odoo.log"
    assert logrotate.rotate(log, max_bytes=10) is False  # missing: nothing to do
    log.write_text("small")
    assert logrotate.rotate(log, max_bytes=10) is False
    for round_ in range(4):
        log.write_text(f"round {round_} " + "x" * 20)
        assert logrotate.rotate(log, max_bytes=10, backups=2) is True
    assert not log.exists()
    assert (tmp_path / "odoo.log.1").read_text().startswith("round 3")
    assert (tmp_path / "odoo.log.2").read_text().startswith("round 2")
    assert not (tmp_path / "odoo.log.3").exists()
