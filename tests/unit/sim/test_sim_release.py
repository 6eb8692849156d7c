"""What each simulated series reports."""

from __future__ import annotations

import pytest

from odooplane.sim.release import release_for


def test_odoo_18_reports_itself_like_odoo_release() -> None:
    release = release_for("18.0")
    assert release.banner() == "Odoo Server 18.0"
    assert release.rpc_version() == {"server_version": "18.0", "server_version_info": [18, 0, 0, "final", 0, ""],
                                      "server_serie": "18.0", "protocol_version": 1}
    assert release.base_version == "18.0.1.3"
    assert release.webclient_path == "/odoo"
    assert release.evented_port_key == "gevent_port"


@pytest.mark.parametrize(("series", "websocket", "path"), [("15.0", False, "/web"), ("16.0", True, "/web"),
                                                          ("17.0", True, "/web"), ("19.0", True, "/odoo")])
def test_series_differences(series: str, websocket: bool, path: str) -> None:
    release = release_for(series)
    assert release.has_websocket is websocket
    assert release.webclient_path == path


def test_unknown_series_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        release_for("13.0")
