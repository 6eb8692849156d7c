"""Version facts of the Odoo series the simulator impersonates.

Real Odoo derives everything from ``odoo/release.py``: ``version_info``
``(18, 0, 0, 'final', 0, '')`` gives ``version`` ``"18.0"``, the series
``"18.0"`` and the description ``"Odoo Server"``.  The simulator does the same
for every series it can stand in for, selected by the ``sim_series`` key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DESCRIPTION = "Odoo Server"
SUPPORTED_SERIES = ("14.0", "15.0", "16.0", "17.0", "18.0", "19.0")
DEFAULT_SERIES = "18.0"


@dataclass(frozen=True)
class Release:
    """What one Odoo series reports about itself and how it differs on the wire."""

    series: str

    @property
    def major(self) -> int:
        return int(self.series.split(".")[0])

    @property
    def version_info(self) -> tuple[int, int, int, str, int, str]:
        major, minor = (int(part) for part in self.series.split("."))
        return (major, minor, 0, "final", 0, "")

    @property
    def version(self) -> str:
        """``odoo.release.version``: ``"18.0"`` for a final release."""
        return self.series

    @property
    def base_version(self) -> str:
        """``latest_version`` of the ``base`` module (its manifest says ``1.3``)."""
        return f"{self.series}.1.3"

    @property
    def has_websocket(self) -> bool:
        """Series 16 replaced ``/longpolling/poll`` (bus) by ``/websocket``."""
        return self.major >= 16

    @property
    def evented_port_key(self) -> str:
        """The odoo.conf key of the evented port: ``gevent_port`` since 16."""
        return "gevent_port" if self.has_websocket else "longpolling_port"

    @property
    def webclient_path(self) -> str:
        """Where a logged-in user lands: ``/odoo`` since 18, ``/web`` before."""
        return "/odoo" if self.major >= 18 else "/web"

    def rpc_version(self) -> dict[str, Any]:
        """``odoo.service.common.exp_version()`` (``RPC_VERSION_1``)."""
        return {
            "server_version": self.version,
            "server_version_info": list(self.version_info),
            "server_serie": self.series,
            "protocol_version": 1,
        }

    def banner(self) -> str:
        """What ``odoo-bin --version`` prints."""
        return f"{DESCRIPTION} {self.version}"


def release_for(series: str) -> Release:
    """Given a series such as ``"18.0"``, return its Release.

    Raise ValueError for a series the simulator does not know.
    """
    if series not in SUPPORTED_SERIES:
        raise ValueError(f"unsupported sim_series {series!r}; expected one of {', '.join(SUPPORTED_SERIES)}")
    return Release(series)
