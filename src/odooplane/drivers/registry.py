"""The driver registry: names in the estate (``platform.driver``) → driver factories."""

from __future__ import annotations

from collections.abc import Callable

from odooplane.drivers.base import Driver, EdgeSpec
from odooplane.drivers.local import LocalDriver
from odooplane.layout import Layout
from odooplane.services.service_users import ServiceUser

DRIVERS: dict[str, Callable[[Layout, EdgeSpec, ServiceUser | None], Driver]] = {
    "local": LocalDriver,
}


def create(name: str, layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None = None) -> Driver:
    try:
        factory = DRIVERS[name]
    except KeyError:
        raise ValueError(f"unknown driver {name!r} (known: {', '.join(sorted(DRIVERS))})") from None
    return factory(layout, edge, odoo_user)
