"""pg_dump and pg_restore command lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.services import pg_tools
from odooplane.services.postgres import ClusterConn

CONN = ClusterConn(name="main", host="127.0.0.1", port=5432, user="postgres", password="", dbname="postgres")


def test_a_dump_reads_an_exported_snapshot_when_given_one() -> None:
    argv = pg_tools.dump_argv("pg_dump", CONN, database="acme_prod", out_dir=Path("out"), jobs=2,
                              snapshot="00000003-0000001B-1")
    assert "--snapshot=00000003-0000001B-1" in argv and argv[-1] == "acme_prod"
    assert not any(a.startswith("--snapshot") for a in pg_tools.dump_argv("pg_dump", CONN, database="acme_prod",
                                                                         out_dir=Path("out")))


@pytest.mark.parametrize("bad", ["", "x", "00000003-0000001B-1 --help", "--file=/etc/passwd"])
def test_a_snapshot_id_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an exported snapshot id"):
        pg_tools.dump_argv("pg_dump", CONN, database="acme_prod", out_dir=Path("out"), snapshot=bad or "-")
