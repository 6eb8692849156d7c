"""Test-wide fixtures: a real PostgreSQL (the machine's, or a throwaway one started here) whose
URL is exported as ODOOPLANE_TEST_PG for every tier and for subprocesses."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.support import services

_throwaway: services.ThrowawayPostgres | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _throwaway
    url = os.environ.get("ODOOPLANE_TEST_PG", services.DEFAULT_URL)
    if not services.pg_answers(url):
        _throwaway = services.start_throwaway_postgres()
        url = _throwaway.url
    os.environ["ODOOPLANE_TEST_PG"] = url


def pytest_unconfigure(config: pytest.Config) -> None:
    if _throwaway is not None:
        _throwaway.stop()


@pytest.fixture(scope="session")
def pg_url() -> str:
    return os.environ["ODOOPLANE_TEST_PG"]


@pytest.fixture
def scratch_db(pg_url: str) -> Iterator[str]:
    """A uniquely named empty database, dropped afterwards; yields its URL."""
    name = f"odooplane_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = pg_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
