"""``ODOOPLANE_ENV_FILE``: how Odooplane in a container (the compose worker) gets the variables the
estate's ``env:`` references name from a 0600 secret file instead of its environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from odooplane.cli import main


def test_the_variables_of_the_file_are_set_unless_already_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "worker.env"
    path.write_text(json.dumps({"OPL_TEST_FROM_FILE": "a", "OPL_TEST_ALREADY": "from-file"}))
    monkeypatch.setenv("ODOOPLANE_ENV_FILE", str(path))
    monkeypatch.setenv("OPL_TEST_ALREADY", "mine")
    monkeypatch.delenv("OPL_TEST_FROM_FILE", raising=False)
    main.load_env_file()
    assert os.environ["OPL_TEST_FROM_FILE"] == "a"
    assert os.environ["OPL_TEST_ALREADY"] == "mine"
    assert "ODOOPLANE_ENV_FILE" not in os.environ  # not passed on to what it starts
    monkeypatch.delenv("OPL_TEST_FROM_FILE")


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"A": 1}'])
def test_a_file_that_is_not_an_object_of_strings_stops_with_its_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str) -> None:
    path = tmp_path / "worker.env"
    path.write_text(content)
    monkeypatch.setenv("ODOOPLANE_ENV_FILE", str(path))
    with pytest.raises(SystemExit, match=f"ODOOPLANE_ENV_FILE: {path} is not"):
        main.load_env_file()


def test_a_missing_file_stops_with_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODOOPLANE_ENV_FILE", str(tmp_path / "absent"))
    with pytest.raises(SystemExit, match="is not a readable JSON object"):
        main.load_env_file()
