"""The driver registry: names in the estate (``platform.driver``) → driver factories. ``fake`` (the
in-memory driver of the tests) is here for tests to create by name; the estate's schema does not
offer it."""

from __future__ import annotations

from collections.abc import Callable

from odooplane.drivers.base import Driver, EdgeSpec
from odooplane.drivers.compose.driver import ComposeDriver
from odooplane.drivers.fake import FakeDriver
from odooplane.drivers.local import LocalDriver
from odooplane.estate.models import Platform
from odooplane.layout import Layout
from odooplane.services.service_users import ServiceUser

Factory = Callable[[Layout, EdgeSpec, ServiceUser | None, str, Platform], Driver]


def _local(layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None, estate_id: str,
           platform: Platform) -> Driver:
    return LocalDriver(layout, edge, odoo_user, estate_id=estate_id)


def _compose(layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None, estate_id: str,
             platform: Platform) -> Driver:
    return ComposeDriver(layout, edge, odoo_user, estate_id=estate_id, platform_name=platform.name,
                         settings=platform.compose)


def _fake(layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None, estate_id: str,
          platform: Platform) -> Driver:
    return FakeDriver(layout.root, edge)


DRIVERS: dict[str, Factory] = {
    "local": _local,
    "compose": _compose,
    "fake": _fake,
}


def create(name: str, layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None = None, *,
           estate_id: str = "", platform: Platform | None = None) -> Driver:
    try:
        factory = DRIVERS[name]
    except KeyError:
        raise ValueError(f"unknown driver {name!r} (known: {', '.join(sorted(DRIVERS))})") from None
    return factory(layout, edge, odoo_user, estate_id, platform or Platform())
