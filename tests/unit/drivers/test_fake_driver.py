"""The fake driver is for tests only: the registry creates it by name, the estate's schema never
offers it to users; and what it adds to the protocol for tests (fault hooks, records) behaves."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.drivers import registry
from odooplane.drivers.base import EdgeSpec, FilestoreRef
from odooplane.drivers.fake import FakeDriver
from odooplane.errors import EstateInvalid
from odooplane.estate.validate import validate
from odooplane.layout import Layout
from tests.support.estate import make_estate

EDGE = EdgeSpec(http_address="127.0.0.1:1", api_port=2, trusted_proxies=(), access_log=False)


def test_the_registry_creates_the_fake_by_name(tmp_path: Path) -> None:
    driver = registry.create("fake", Layout(tmp_path), EDGE)
    assert isinstance(driver, FakeDriver) and driver.name == "fake"
    assert driver.data_dir("env-a__prod").is_relative_to(tmp_path)


def test_an_estate_cannot_name_the_fake_driver(tmp_path: Path) -> None:
    estate = make_estate(tmp_path, {"acme": {"environments": {"prod": {}}}})
    estate.data["platform"]["driver"] = "fake"
    estate.write()
    with pytest.raises(EstateInvalid, match="driver"):
        validate(estate.path)


def test_copies_are_recorded_and_independent_of_their_source(tmp_path: Path) -> None:
    storage = FakeDriver(tmp_path).fake_storage
    live, staged = FilestoreRef("env-a__prod", "a_prod"), FilestoreRef("env-a__prod", "a_prod", ".restore")
    storage.put(live, "ab/ab01", b"one")
    assert storage.copy(live, staged) == 1
    storage.put(live, "cd/cd02", b"two")
    assert storage.files(staged) == {"ab/ab01": b"one"}
    assert storage.copies == [(live, staged)]
